//! Decoding a block's records with a [`Plan`], filtering them as they come.
//!
//! The plan's steps are first compiled into a flat list of [`Op`]s: one op
//! per field read, runs of skipped varints, strings or fixed-size values
//! merged, skipped records flattened. Varints are read from an eight-byte
//! word when eight bytes remain, with the byte-by-byte reader as the
//! fallback near the end of the data and for nine- and ten-byte varints;
//! printable ASCII geo tags are checked and copied as one 16-byte word. The
//! straightforward decoder these replace is kept in the tests, which compare
//! the two.

mod cursor;
#[cfg(test)]
mod tests;

use super::filter::Filter;
use super::record::FlowRecord;
use super::schema::{Field, Plan, Skip, Step};
use cursor::*;

/// A run of consecutive records with the same `time` inside one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// The records' `time`.
    pub time: i64,
    /// How many of the block's kept records belong to this run.
    pub kept: usize,
}

/// A block's records: the runs of `time` (counted or not) and the records
/// that passed the filter, in order.
#[derive(Debug, Default)]
pub struct DecodedBlock {
    /// Runs of equal `time`, in order.
    pub runs: Vec<Run>,
    /// Records that passed the filter, run after run.
    pub records: Vec<FlowRecord>,
    /// Records in the block, kept or not.
    pub total: u64,
}

/// One operation of a compiled plan.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op<'p> {
    /// Pass over this many varints.
    SkipVarints(u32),
    /// Pass over this many bytes.
    SkipBytes(usize),
    /// Pass over this many (length, that many bytes) values.
    SkipPrefixed(u32),
    /// Pass over any other value.
    Skip(&'p Skip),
    /// `time`, a long.
    Time,
    /// `packet_cnt`, a long.
    PacketCnt,
    /// `prefix2asn`, a 32-bit AS number.
    Prefix2Asn,
    /// `src_ip`, an IPv4 address.
    SrcIp,
    /// `dst_ip`, an IPv4 address.
    DstIp,
    /// flowtuple4's `dst_net`, an IPv4 address, into `dst_ip`.
    DstNet,
    /// `src_port`, an int.
    SrcPort,
    /// `dst_port`, an int.
    DstPort,
    /// `protocol`, an int.
    Protocol,
    /// `ip_len`, an int.
    IpLen,
    /// `is_spoofed`, an int.
    IsSpoofed,
    /// `is_masscan`, an int.
    IsMasscan,
    /// A geo tag, into `netacq` (0, 1) or `maxmind` (2, 3), or read and
    /// dropped (4); the field names it in errors.
    Tag(Field, u8),
}

impl Op<'_> {
    /// The fewest bytes the op reads.
    fn min_bytes(&self) -> usize {
        match *self {
            Op::SkipVarints(n) | Op::SkipPrefixed(n) => n as usize,
            Op::SkipBytes(n) => n,
            // A number, a tag's length; for other skips a union's branch or
            // an array's or map's first block count: at least a varint.
            _ => 1,
        }
    }
}

/// Where a text field's tag goes in [`Op::Tag`]; 4 for nowhere.
fn tag_slot(field: Field) -> u8 {
    match field {
        Field::NetacqContinent => 0,
        Field::NetacqCountry => 1,
        Field::MaxmindContinent => 2,
        Field::MaxmindCountry => 3,
        _ => 4,
    }
}

/// Compiles `plan` into `ops`.
fn compile<'p>(plan: &'p Plan, ops: &mut Vec<Op<'p>>) {
    ops.clear();
    for step in &plan.steps {
        let op = match step {
            Step::Number(field) => match field {
                Field::Time => Op::Time,
                Field::PacketCnt => Op::PacketCnt,
                Field::Prefix2Asn => Op::Prefix2Asn,
                Field::SrcIp => Op::SrcIp,
                Field::DstIp => Op::DstIp,
                Field::DstNet => Op::DstNet,
                Field::SrcPort => Op::SrcPort,
                Field::DstPort => Op::DstPort,
                Field::Protocol => Op::Protocol,
                Field::IpLen => Op::IpLen,
                Field::IsSpoofed => Op::IsSpoofed,
                Field::IsMasscan => Op::IsMasscan,
                // Read and dropped.
                _ => Op::SkipVarints(1),
            },
            Step::Text(field) => Op::Tag(*field, tag_slot(*field)),
            Step::Skip(skip) => {
                compile_skip(skip, ops);
                continue;
            }
        };
        push_op(ops, op);
    }
}

/// Compiles a skipped value, flattening records.
fn compile_skip<'p>(skip: &'p Skip, ops: &mut Vec<Op<'p>>) {
    match skip {
        Skip::Nothing => {}
        Skip::Varint => push_op(ops, Op::SkipVarints(1)),
        Skip::Bytes(n) => push_op(ops, Op::SkipBytes(*n)),
        Skip::LengthPrefixed => push_op(ops, Op::SkipPrefixed(1)),
        Skip::Record(fields) => {
            for f in fields {
                compile_skip(f, ops);
            }
        }
        Skip::Array(_) | Skip::Map(_) | Skip::Union(_) => push_op(ops, Op::Skip(skip)),
    }
}

/// Appends `op`, merging it into the previous op when both pass over
/// varints, both over length-prefixed values or both over bytes. Merging
/// changes no outcome: a merged skip fails, always with the same message,
/// exactly when one of its parts would.
fn push_op<'p>(ops: &mut Vec<Op<'p>>, op: Op<'p>) {
    match (ops.last_mut(), op) {
        (_, Op::SkipBytes(0)) => {}
        (Some(Op::SkipVarints(a)), Op::SkipVarints(b)) if a.checked_add(b).is_some() => {
            *a += b;
        }
        (Some(Op::SkipPrefixed(a)), Op::SkipPrefixed(b)) if a.checked_add(b).is_some() => {
            *a += b;
        }
        (Some(Op::SkipBytes(a)), Op::SkipBytes(b)) => *a = a.saturating_add(b),
        _ => ops.push(op),
    }
}

/// Decodes one record into `rec`.
#[inline(always)]
fn decode_record(ops: &[Op<'_>], cur: &mut Cursor<'_>, rec: &mut FlowRecord) -> Result<(), String> {
    for op in ops {
        match *op {
            Op::SkipVarints(n) => cur.skip_varints(n)?,
            Op::SkipBytes(n) => {
                cur.bytes(n)?;
            }
            Op::SkipPrefixed(n) => {
                for _ in 0..n {
                    let len = cur.length()?;
                    cur.bytes(len)?;
                }
            }
            Op::Skip(skip) => {
                let mut c = *cur;
                c.skip(skip)?;
                *cur = c;
            }
            Op::Time => rec.time = cur.long()?,
            Op::PacketCnt => rec.packet_cnt = cur.long()?,
            Op::Prefix2Asn => {
                let v = cur.long()?;
                rec.prefix2asn = u32::try_from(v).map_err(|_| not_asn(v))?;
            }
            Op::SrcIp => rec.src_ip = ipv4(Field::SrcIp, cur.long()?)?,
            Op::DstIp => rec.dst_ip = ipv4(Field::DstIp, cur.long()?)?,
            Op::DstNet => rec.dst_ip = ipv4(Field::DstNet, cur.long()?)?,
            Op::SrcPort => rec.src_port = int32(Field::SrcPort, cur.long()?)?,
            Op::DstPort => rec.dst_port = int32(Field::DstPort, cur.long()?)?,
            Op::Protocol => rec.protocol = int32(Field::Protocol, cur.long()?)?,
            Op::IpLen => rec.ip_len = int32(Field::IpLen, cur.long()?)?,
            Op::IsSpoofed => rec.is_spoofed = int32(Field::IsSpoofed, cur.long()?)?,
            Op::IsMasscan => rec.is_masscan = int32(Field::IsMasscan, cur.long()?)?,
            Op::Tag(field, slot) => {
                let (tag, after) = cur.tag(field)?;
                *cur = after;
                match slot {
                    0 => rec.netacq[0] = tag,
                    1 => rec.netacq[1] = tag,
                    2 => rec.maxmind[0] = tag,
                    3 => rec.maxmind[1] = tag,
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// The fewest bytes a record of `plan` takes, at least 1: a block of `n`
/// bytes holds at most `n / min_record_bytes(plan)` records.
pub(crate) fn min_record_bytes(plan: &Plan) -> usize {
    let mut ops = Vec::with_capacity(plan.steps.len());
    compile(plan, &mut ops);
    ops.iter()
        .map(Op::min_bytes)
        .fold(0, usize::saturating_add)
        .max(1)
}

/// Decodes the `count` records of an uncompressed block, keeping those that
/// pass `filter`. The error says which record was bad.
pub(crate) fn decode_block(
    plan: &Plan,
    filter: Filter,
    data: &[u8],
    count: u64,
    out: &mut DecodedBlock,
) -> Result<(), String> {
    out.runs.clear();
    out.records.clear();
    out.total = count;
    let mut ops = Vec::with_capacity(plan.steps.len());
    compile(plan, &mut ops);
    // Room for every record the data can hold, up to `count`: one
    // allocation instead of a series of copies as the block's records come.
    let min_bytes: usize = ops.iter().map(Op::min_bytes).fold(0, usize::saturating_add);
    if let Some(fit) = data.len().checked_div(min_bytes) {
        out.records
            .reserve(usize::try_from(count).unwrap_or(usize::MAX).min(fit));
    }
    let mut cur = Cursor { data, pos: 0 };
    let mut rec = FlowRecord::default();
    for i in 0..count {
        decode_record(&ops, &mut cur, &mut rec)
            .map_err(|e| format!("record {i} of the block: {e}"))?;
        match out.runs.last_mut() {
            Some(run) if run.time == rec.time => {}
            _ => out.runs.push(Run {
                time: rec.time,
                kept: 0,
            }),
        }
        if filter.keeps(&rec) {
            out.records.push(rec);
            if let Some(run) = out.runs.last_mut() {
                run.kept += 1;
            }
        }
    }
    if cur.pos != data.len() {
        return Err(format!(
            "{} bytes left over after the block's {count} records",
            data.len() - cur.pos
        ));
    }
    Ok(())
}
