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

use super::filter::Filter;
use super::record::{FlowRecord, GeoTag, MAX_TAG_BYTES};
use super::schema::{Field, Plan, Skip, Step};

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

/// The high bit of every byte of a word: the varint continuation bits.
const CONTINUATION: u64 = 0x8080_8080_8080_8080;

/// Reads Avro binary values from a byte slice.
///
/// Small and `Copy`, so that the decoding loop can keep it in registers: the
/// out-of-line paths take the position by value and return the new one.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// The next eight bytes as a little-endian word, when there are eight.
    #[inline(always)]
    fn word(&self) -> Option<u64> {
        let chunk = self.data.get(self.pos..self.pos.wrapping_add(8))?;
        let bytes: [u8; 8] = chunk.try_into().ok()?;
        Some(u64::from_le_bytes(bytes))
    }

    /// Reads a zigzag varint.
    #[inline(always)]
    fn long(&mut self) -> Result<i64, String> {
        // Fast paths, when eight bytes are there and the varint ends within
        // them (values below 2^56). Lengths up to five bytes are tested one
        // by one: the processor predicts these branches per field (most
        // fields keep their length from record to record), so the next
        // read's position does not wait for this one's data. Longer varints
        // find their end and gather their 7-bit groups without a loop.
        if let Some(w) = self.word() {
            if w & 0x80 == 0 {
                self.pos += 1;
                return Ok(unzigzag(w & 0x7f));
            }
            if w & 0x8000 == 0 {
                self.pos += 2;
                return Ok(unzigzag((w & 0x7f) | ((w >> 1) & 0x3f80)));
            }
            if w & 0x80_0000 == 0 {
                self.pos += 3;
                return Ok(unzigzag(gather(w & 0xff_ffff)));
            }
            if w & 0x8000_0000 == 0 {
                self.pos += 4;
                return Ok(unzigzag(gather(w & 0xffff_ffff)));
            }
            if w & 0x80_0000_0000 == 0 {
                self.pos += 5;
                return Ok(unzigzag(gather(w & 0xff_ffff_ffff)));
            }
            let stops = !w & CONTINUATION;
            if stops != 0 {
                // Every bit up to the high bit of the varint's last byte.
                let keep = stops ^ (stops - 1);
                let mut x = w & keep & !CONTINUATION;
                x = (x & 0x007f_007f_007f_007f) | ((x & 0x7f00_7f00_7f00_7f00) >> 1);
                x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x3fff_0000_3fff_0000) >> 2);
                x = (x & 0x0000_0000_0fff_ffff) | ((x & 0x0fff_ffff_0000_0000) >> 4);
                self.pos += (stops.trailing_zeros() as usize + 1) / 8;
                return Ok(unzigzag(x));
            }
        }
        let (v, pos) = long_slow(self.data, self.pos)?;
        self.pos = pos;
        Ok(v)
    }

    /// Passes over `n` varints.
    #[inline(always)]
    fn skip_varints(&mut self, n: u32) -> Result<(), String> {
        for _ in 0..n {
            match self.word() {
                Some(w) if w & 0x80 == 0 => self.pos += 1,
                Some(w) if w & 0x8000 == 0 => self.pos += 2,
                Some(w) if !w & CONTINUATION != 0 => {
                    let stops = !w & CONTINUATION;
                    self.pos += (stops.trailing_zeros() as usize + 1) / 8;
                }
                _ => self.pos = long_slow(self.data, self.pos)?.1,
            }
        }
        Ok(())
    }

    #[inline]
    fn bytes(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(len).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(eof());
        };
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    #[inline(always)]
    fn length(&mut self) -> Result<usize, String> {
        let len = self.long()?;
        usize::try_from(len).map_err(|_| negative_length(len))
    }

    /// Reads a string as a geo tag. Printable ASCII tags with 16 bytes of
    /// data from their start are checked and copied in one piece; the rest
    /// go through [`GeoTag::from_bytes`]. Out of line (it keeps the number
    /// reading loop tighter), so it takes and returns the cursor by value.
    #[inline(never)]
    fn tag(mut self, field: Field) -> Result<(GeoTag, Self), String> {
        let n = self.length()?;
        if n.wrapping_sub(1) < MAX_TAG_BYTES {
            let window = self
                .data
                .get(self.pos..self.pos.wrapping_add(MAX_TAG_BYTES))
                .and_then(|w| <[u8; MAX_TAG_BYTES]>::try_from(w).ok());
            if let Some(window) = window {
                let keep = u128::MAX >> (8 * (MAX_TAG_BYTES - n));
                let x = u128::from_le_bytes(window) & keep;
                if all_printable(x, keep) {
                    self.pos += n;
                    return Ok((GeoTag::from_printable_padded(x.to_le_bytes()), self));
                }
            }
        }
        let raw = self.bytes(n)?;
        let tag = GeoTag::from_bytes(raw).ok_or_else(|| tag_too_long(field, n))?;
        Ok((tag, self))
    }

    fn skip(&mut self, skip: &Skip) -> Result<(), String> {
        match skip {
            Skip::Nothing => {}
            Skip::Varint => {
                self.long()?;
            }
            Skip::Bytes(n) => {
                self.bytes(*n)?;
            }
            Skip::LengthPrefixed => {
                let n = self.length()?;
                self.bytes(n)?;
            }
            Skip::Array(item) => self.skip_blocks(|c| c.skip(item))?,
            Skip::Map(value) => self.skip_blocks(|c| {
                let n = c.length()?;
                c.bytes(n)?;
                c.skip(value)
            })?,
            Skip::Union(branches) => {
                let i = self.long()?;
                let branch = usize::try_from(i)
                    .ok()
                    .and_then(|i| branches.get(i))
                    .ok_or_else(|| format!("union branch {i} does not exist"))?;
                self.skip(branch)?;
            }
            Skip::Record(fields) => {
                for f in fields {
                    self.skip(f)?;
                }
            }
        }
        Ok(())
    }

    fn skip_blocks(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        loop {
            let mut n = self.long()?;
            if n == 0 {
                return Ok(());
            }
            if n < 0 {
                n = n.checked_neg().ok_or("bad item count")?;
                self.long()?;
            }
            for _ in 0..n {
                item(self)?;
            }
        }
    }
}

/// The 7-bit groups of the varint bytes in `w` (bytes after the varint
/// cleared), gathered into the value.
#[inline(always)]
fn gather(w: u64) -> u64 {
    let mut x = w & !CONTINUATION;
    x = (x & 0x007f_007f_007f_007f) | ((x & 0x7f00_7f00_7f00_7f00) >> 1);
    x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x3fff_0000_3fff_0000) >> 2);
    (x & 0x0000_0000_0fff_ffff) | ((x & 0x0fff_ffff_0000_0000) >> 4)
}

/// Reads a zigzag varint at `pos` byte by byte, checking every byte; the
/// value and the position after it.
#[cold]
#[inline(never)]
fn long_slow(data: &[u8], mut pos: usize) -> Result<(i64, usize), String> {
    let mut value: u64 = 0;
    let mut shift = 0;
    loop {
        let Some(&b) = data.get(pos) else {
            return Err(eof());
        };
        pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok((unzigzag(value), pos));
        }
        shift += 7;
        if shift > 63 {
            return Err(format!("varint longer than 10 bytes at data offset {pos}"));
        }
    }
}

#[cold]
#[inline(never)]
fn eof() -> String {
    "record data ends early (corrupt block or wrong record count)".to_string()
}

/// True when every byte of `x` under `keep` (0xff or 0x00 bytes) is
/// printable ASCII, `!` (0x21) to `~` (0x7e).
#[inline(always)]
fn all_printable(x: u128, keep: u128) -> bool {
    const ONES: u128 = u128::MAX / 0xff;
    const HIGH: u128 = ONES * 0x80;
    // Per byte, with the high bit cleared, neither sum carries out.
    let low = x & !HIGH;
    let below_bang = !(low + ONES * (0x80 - 0x21));
    let del = low + ONES;
    (x | below_bang | del) & HIGH & keep == 0
}

#[inline(always)]
fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cold]
#[inline(never)]
fn negative_length(len: i64) -> String {
    format!("negative length {len}")
}

#[cold]
#[inline(never)]
fn not_int(field: Field, v: i64) -> String {
    format!("{} value {v} is outside the int range", field.name())
}

#[cold]
#[inline(never)]
fn not_ipv4(field: Field, v: i64) -> String {
    format!("{} value {v} is not an IPv4 address", field.name())
}

#[cold]
#[inline(never)]
fn not_asn(v: i64) -> String {
    format!("prefix2asn value {v} is not a 32-bit AS number")
}

#[cold]
#[inline(never)]
fn tag_too_long(field: Field, n: usize) -> String {
    format!(
        "{} is {n} bytes long; geo tags are at most {MAX_TAG_BYTES}",
        field.name()
    )
}

#[inline(always)]
fn int32(field: Field, v: i64) -> Result<i32, String> {
    i32::try_from(v).map_err(|_| not_int(field, v))
}

#[inline(always)]
fn ipv4(field: Field, v: i64) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| not_ipv4(field, v))
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
pub fn min_record_bytes(plan: &Plan) -> usize {
    let mut ops = Vec::with_capacity(plan.steps.len());
    compile(plan, &mut ops);
    ops.iter()
        .map(Op::min_bytes)
        .fold(0, usize::saturating_add)
        .max(1)
}

/// Decodes the `count` records of an uncompressed block, keeping those that
/// pass `filter`. The error says which record was bad.
pub fn decode_block(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowtuple::test_rng::Rng;

    /// The straightforward decoder the compiled one replaced, kept as the
    /// reference the fast paths are checked against.
    mod reference {
        use super::super::{FlowRecord, GeoTag, MAX_TAG_BYTES};
        use super::{DecodedBlock, Field, Filter, Plan, Run, Skip, Step};

        pub struct Cursor<'a> {
            pub data: &'a [u8],
            pub pos: usize,
        }

        impl<'a> Cursor<'a> {
            pub fn long(&mut self) -> Result<i64, String> {
                let mut value: u64 = 0;
                let mut shift = 0;
                loop {
                    let Some(&b) = self.data.get(self.pos) else {
                        return Err(self.eof());
                    };
                    self.pos += 1;
                    value |= u64::from(b & 0x7f) << shift;
                    if b & 0x80 == 0 {
                        return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
                    }
                    shift += 7;
                    if shift > 63 {
                        return Err(format!(
                            "varint longer than 10 bytes at data offset {}",
                            self.pos
                        ));
                    }
                }
            }

            fn bytes(&mut self, len: usize) -> Result<&'a [u8], String> {
                let end = self.pos.checked_add(len).filter(|&e| e <= self.data.len());
                let Some(end) = end else {
                    return Err(self.eof());
                };
                let out = &self.data[self.pos..end];
                self.pos = end;
                Ok(out)
            }

            fn length(&mut self) -> Result<usize, String> {
                let len = self.long()?;
                usize::try_from(len).map_err(|_| format!("negative length {len}"))
            }

            fn eof(&self) -> String {
                "record data ends early (corrupt block or wrong record count)".to_string()
            }

            fn skip(&mut self, skip: &Skip) -> Result<(), String> {
                match skip {
                    Skip::Nothing => {}
                    Skip::Varint => {
                        self.long()?;
                    }
                    Skip::Bytes(n) => {
                        self.bytes(*n)?;
                    }
                    Skip::LengthPrefixed => {
                        let n = self.length()?;
                        self.bytes(n)?;
                    }
                    Skip::Array(item) => self.skip_blocks(|c| c.skip(item))?,
                    Skip::Map(value) => self.skip_blocks(|c| {
                        let n = c.length()?;
                        c.bytes(n)?;
                        c.skip(value)
                    })?,
                    Skip::Union(branches) => {
                        let i = self.long()?;
                        let branch = usize::try_from(i)
                            .ok()
                            .and_then(|i| branches.get(i))
                            .ok_or_else(|| format!("union branch {i} does not exist"))?;
                        self.skip(branch)?;
                    }
                    Skip::Record(fields) => {
                        for f in fields {
                            self.skip(f)?;
                        }
                    }
                }
                Ok(())
            }

            fn skip_blocks(
                &mut self,
                mut item: impl FnMut(&mut Self) -> Result<(), String>,
            ) -> Result<(), String> {
                loop {
                    let mut n = self.long()?;
                    if n == 0 {
                        return Ok(());
                    }
                    if n < 0 {
                        n = n.checked_neg().ok_or("bad item count")?;
                        self.long()?;
                    }
                    for _ in 0..n {
                        item(self)?;
                    }
                }
            }
        }

        fn int32(field: Field, v: i64) -> Result<i32, String> {
            i32::try_from(v)
                .map_err(|_| format!("{} value {v} is outside the int range", field.name()))
        }

        fn ipv4(field: Field, v: i64) -> Result<u32, String> {
            u32::try_from(v)
                .map_err(|_| format!("{} value {v} is not an IPv4 address", field.name()))
        }

        fn decode_record(
            plan: &Plan,
            cur: &mut Cursor<'_>,
            rec: &mut FlowRecord,
        ) -> Result<(), String> {
            for step in &plan.steps {
                match step {
                    Step::Number(field) => {
                        let v = cur.long()?;
                        match field {
                            Field::Time => rec.time = v,
                            Field::PacketCnt => rec.packet_cnt = v,
                            Field::Prefix2Asn => {
                                rec.prefix2asn = u32::try_from(v).map_err(|_| {
                                    format!("prefix2asn value {v} is not a 32-bit AS number")
                                })?
                            }
                            Field::SrcIp => rec.src_ip = ipv4(*field, v)?,
                            Field::DstIp => rec.dst_ip = ipv4(*field, v)?,
                            Field::SrcPort => rec.src_port = int32(*field, v)?,
                            Field::DstPort => rec.dst_port = int32(*field, v)?,
                            Field::Protocol => rec.protocol = int32(*field, v)?,
                            Field::IpLen => rec.ip_len = int32(*field, v)?,
                            Field::IsSpoofed => rec.is_spoofed = int32(*field, v)?,
                            Field::IsMasscan => rec.is_masscan = int32(*field, v)?,
                            _ => {}
                        }
                    }
                    Step::Text(field) => {
                        let n = cur.length()?;
                        let raw = cur.bytes(n)?;
                        let tag = GeoTag::from_bytes(raw).ok_or_else(|| {
                            format!(
                                "{} is {n} bytes long; geo tags are at most {MAX_TAG_BYTES}",
                                field.name()
                            )
                        })?;
                        match field {
                            Field::NetacqContinent => rec.netacq[0] = tag,
                            Field::NetacqCountry => rec.netacq[1] = tag,
                            Field::MaxmindContinent => rec.maxmind[0] = tag,
                            Field::MaxmindCountry => rec.maxmind[1] = tag,
                            _ => {}
                        }
                    }
                    Step::Skip(skip) => cur.skip(skip)?,
                }
            }
            Ok(())
        }

        pub fn decode_block(
            plan: &Plan,
            filter: Filter,
            data: &[u8],
            count: u64,
            out: &mut DecodedBlock,
        ) -> Result<(), String> {
            out.runs.clear();
            out.records.clear();
            out.total = count;
            let mut cur = Cursor { data, pos: 0 };
            let mut rec = FlowRecord::default();
            for i in 0..count {
                decode_record(plan, &mut cur, &mut rec)
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
    }

    /// The raw varint bytes of `v` (7 bits at a time, low group first).
    fn raw_varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn zigzag(v: i64, out: &mut Vec<u8>) {
        raw_varint(((v << 1) ^ (v >> 63)) as u64, out);
    }

    /// Reads one varint at `pos` with both decoders: same value or error,
    /// same position after.
    fn check_long_at(data: &[u8], pos: usize) -> Result<i64, String> {
        let mut fast = Cursor { data, pos };
        let mut slow = reference::Cursor { data, pos };
        let got = fast.long();
        let want = slow.long();
        assert_eq!(got, want, "{data:02x?} at {pos}");
        if want.is_ok() {
            assert_eq!(fast.pos, slow.pos, "{data:02x?} at {pos}");
        }
        let mut skipper = Cursor { data, pos };
        let skipped = skipper.skip_varints(1);
        assert_eq!(skipped, want.as_ref().map(|_| ()).map_err(Clone::clone));
        if want.is_ok() {
            assert_eq!(skipper.pos, slow.pos, "skip {data:02x?} at {pos}");
        }
        want
    }

    /// Interesting values: 0, ±1, the extremes and both sides of every
    /// power of two.
    fn edge_values() -> Vec<i64> {
        let mut values = vec![0, 1, -1, i64::MAX, i64::MIN, i64::MIN + 1];
        for k in 0..63 {
            let p = 1i64 << k;
            values.extend([p, p - 1, p + 1, -p, -p + 1, -p - 1]);
        }
        values
    }

    #[test]
    fn varints_of_every_length_at_the_end_and_in_the_middle() {
        let mut lengths = [0usize; 11];
        for v in edge_values() {
            let mut enc = Vec::new();
            zigzag(v, &mut enc);
            lengths[enc.len()] += 1;
            // Alone, ending the data: the checked path.
            assert_eq!(check_long_at(&enc, 0), Ok(v));
            for lead in 0..10 {
                // Preceded by `lead` bytes and ending the data.
                let mut data = vec![0x55u8; lead];
                data.extend(&enc);
                assert_eq!(check_long_at(&data, lead), Ok(v));
                // Followed by 0..=10 bytes of anything: the fast path as soon
                // as eight bytes remain.
                for tail in 0..=10 {
                    for fill in [0x00u8, 0x80, 0xff, 0x01] {
                        let mut data = data.clone();
                        data.extend(std::iter::repeat_n(fill, tail));
                        assert_eq!(check_long_at(&data, lead), Ok(v));
                    }
                }
                // Cut short: data ends early.
                for cut in 0..enc.len() {
                    let data = &data[..lead + cut];
                    assert!(check_long_at(data, lead).is_err());
                }
            }
        }
        assert!(lengths[1..=10].iter().all(|&n| n > 0), "{lengths:?}");
    }

    #[test]
    fn ten_byte_varints_drop_bits_beyond_64_like_the_reference() {
        // Only the lowest bit of a tenth byte counts.
        for last in [0x00u8, 0x01, 0x02, 0x7e, 0x7f] {
            for tail in [0usize, 1, 12] {
                let mut data = vec![0xffu8; 9];
                data.push(last);
                data.extend(std::iter::repeat_n(0, tail));
                let v = check_long_at(&data, 0).unwrap();
                let want = if last & 1 == 1 { i64::MIN } else { -(1 << 62) };
                assert_eq!(v, want, "last byte {last:#x}");
            }
        }
    }

    #[test]
    fn varints_longer_than_ten_bytes_are_errors() {
        for lead in [0usize, 3] {
            for tail in [0usize, 1, 5, 20] {
                for len in 11..=13 {
                    let mut data = vec![0u8; lead];
                    data.extend(std::iter::repeat_n(0x80, len - 1));
                    data.push(0x00);
                    data.extend(std::iter::repeat_n(0x01, tail));
                    let err = check_long_at(&data, lead).unwrap_err();
                    assert_eq!(
                        err,
                        format!("varint longer than 10 bytes at data offset {}", lead + 10)
                    );
                }
            }
        }
        // Ten continuation bytes are too many even when the data ends there;
        // nine are data ending early.
        let err = check_long_at(&[0x80; 10], 0).unwrap_err();
        assert_eq!(err, "varint longer than 10 bytes at data offset 10");
        let err = check_long_at(&[0x80; 9], 0).unwrap_err();
        assert!(err.starts_with("record data ends early"), "{err}");
    }

    #[test]
    fn random_varint_streams_match_the_reference() {
        let mut rng = Rng(7);
        for _ in 0..2000 {
            let mut data = Vec::new();
            let n = rng.below(6) as usize;
            for _ in 0..n {
                zigzag(rng.long(), &mut data);
            }
            // Sometimes garbage at the end.
            for _ in 0..rng.below(3) {
                data.push(rng.next() as u8);
            }
            let mut fast = Cursor {
                data: &data,
                pos: 0,
            };
            let mut slow = reference::Cursor {
                data: &data,
                pos: 0,
            };
            let mut skipper = Cursor {
                data: &data,
                pos: 0,
            };
            loop {
                let want = slow.long();
                assert_eq!(fast.long(), want, "{data:02x?}");
                assert_eq!(
                    skipper.skip_varints(1),
                    want.as_ref().map(|_| ()).map_err(Clone::clone)
                );
                if want.is_err() {
                    break;
                }
                assert_eq!(fast.pos, slow.pos);
                assert_eq!(skipper.pos, slow.pos);
            }
        }
    }

    /// A value of `skip`'s type, encoded.
    fn encode_skip(skip: &Skip, rng: &mut Rng, out: &mut Vec<u8>) {
        match skip {
            Skip::Nothing => {}
            Skip::Varint => zigzag(rng.long(), out),
            Skip::Bytes(n) => out.extend((0..*n).map(|_| rng.next() as u8)),
            Skip::LengthPrefixed => {
                let n = rng.below(20) as usize;
                zigzag(n as i64, out);
                out.extend((0..n).map(|_| rng.next() as u8));
            }
            Skip::Array(item) | Skip::Map(item) => {
                for _ in 0..rng.below(3) {
                    let n = rng.below(3) as i64 + 1;
                    let mut body = Vec::new();
                    for _ in 0..n {
                        if matches!(skip, Skip::Map(_)) {
                            encode_skip(&Skip::LengthPrefixed, rng, &mut body);
                        }
                        encode_skip(item, rng, &mut body);
                    }
                    if rng.below(2) == 0 {
                        zigzag(n, out);
                    } else {
                        zigzag(-n, out);
                        zigzag(body.len() as i64, out);
                    }
                    out.extend(body);
                }
                out.push(0);
            }
            Skip::Union(branches) => {
                let i = rng.below(branches.len() as u64) as usize;
                zigzag(i as i64, out);
                encode_skip(&branches[i], rng, out);
            }
            Skip::Record(fields) => {
                for f in fields {
                    encode_skip(f, rng, out);
                }
            }
        }
    }

    fn reads_a_byte(skip: &Skip) -> bool {
        match skip {
            Skip::Nothing => false,
            Skip::Bytes(n) => *n > 0,
            Skip::Record(fields) => fields.iter().any(reads_a_byte),
            _ => true,
        }
    }

    fn random_skip(rng: &mut Rng, depth: u32) -> Skip {
        let simple = [
            Skip::Nothing,
            Skip::Varint,
            Skip::Varint,
            Skip::Bytes(0),
            Skip::Bytes(1),
            Skip::Bytes(4),
            Skip::Bytes(8),
            Skip::LengthPrefixed,
            Skip::LengthPrefixed,
        ];
        let pick = rng.below(if depth >= 2 { 9 } else { 13 });
        match pick {
            9 => {
                // Items read at least a byte, so that a damaged count fails
                // instead of looping for ever.
                let item = loop {
                    let item = random_skip(rng, depth + 1);
                    if reads_a_byte(&item) {
                        break item;
                    }
                };
                Skip::Array(Box::new(item))
            }
            10 => Skip::Map(Box::new(random_skip(rng, depth + 1))),
            11 => Skip::Union(
                (0..1 + rng.below(3))
                    .map(|_| random_skip(rng, depth + 1))
                    .collect(),
            ),
            12 => Skip::Record(
                (0..rng.below(4))
                    .map(|_| random_skip(rng, depth + 1))
                    .collect(),
            ),
            i => simple[i as usize].clone(),
        }
    }

    fn random_plan(rng: &mut Rng) -> Plan {
        let n = rng.below(24) as usize;
        let steps = (0..n)
            .map(|_| match rng.below(4) {
                0 | 1 => Step::Number(Field::ALL[rng.below(15) as usize]),
                2 => Step::Text(Field::ALL[rng.below(15) as usize]),
                _ => Step::Skip(random_skip(rng, 0)),
            })
            .collect();
        Plan { steps }
    }

    /// Records for `plan`, mostly valid: numbers small or in range, tags
    /// short; now and then a value out of range or a long tag.
    fn random_records(plan: &Plan, count: u64, rng: &mut Rng, out: &mut Vec<u8>) {
        let time = 1_600_000_000 + rng.below(3) as i64 * 60;
        for _ in 0..count {
            for step in &plan.steps {
                match step {
                    Step::Number(Field::Time) => {
                        zigzag(time + rng.below(2) as i64 * 60, out);
                    }
                    Step::Number(_) => {
                        let v = match rng.below(40) {
                            0 => rng.long(),
                            1..=9 => rng.below(1 << 32) as i64,
                            10..=19 => rng.below(70_000) as i64,
                            _ => rng.below(20) as i64,
                        };
                        zigzag(v, out);
                    }
                    Step::Text(_) => {
                        let n = if rng.below(50) == 0 { 17 } else { rng.below(4) };
                        zigzag(n as i64, out);
                        out.extend((0..n).map(|_| b"EU?? \x01\xc3\xa9AF"[rng.below(10) as usize]));
                    }
                    Step::Skip(skip) => encode_skip(skip, rng, out),
                }
            }
        }
    }

    /// Decodes with both decoders and asserts the same outcome.
    fn same_outcome(plan: &Plan, filter: Filter, data: &[u8], count: u64) -> Result<(), String> {
        let mut got = DecodedBlock::default();
        let mut want = DecodedBlock::default();
        let got_res = decode_block(plan, filter, data, count, &mut got);
        let want_res = reference::decode_block(plan, filter, data, count, &mut want);
        assert_eq!(got_res, want_res, "{plan:?} {filter:?} {count} {data:02x?}");
        assert_eq!(got.runs, want.runs);
        assert_eq!(got.records, want.records);
        assert_eq!(got.total, want.total);
        want_res
    }

    #[test]
    fn random_plans_and_blocks_match_the_reference() {
        let mut rng = Rng(11);
        let (mut ok, mut failed) = (0, 0);
        for _ in 0..3000 {
            let plan = random_plan(&mut rng);
            let count = rng.below(6);
            let mut data = Vec::new();
            random_records(&plan, count, &mut rng, &mut data);
            let filter = [Filter::All, Filter::NonSpoofed, Filter::UnroutedNonSpoofed]
                [rng.below(3) as usize];
            let outcome = |data: &[u8], count: u64| match same_outcome(&plan, filter, data, count) {
                Ok(()) => 1,
                Err(_) => 0,
            };
            let r = outcome(&data, count);
            ok += r;
            failed += 1 - r;
            // Damaged: a wrong count, cut short, a byte changed, bytes added.
            outcome(&data, count + 1);
            outcome(&data, count.saturating_sub(1));
            if !data.is_empty() {
                let cut = rng.below(data.len() as u64) as usize;
                outcome(&data[..cut], count);
                let mut changed = data.clone();
                let at = rng.below(data.len() as u64) as usize;
                changed[at] = rng.next() as u8;
                outcome(&changed, count);
            }
            let mut longer = data.clone();
            longer.extend([0x80; 3]);
            outcome(&longer, count);
        }
        assert!(ok > 500 && failed > 100, "{ok} ok, {failed} failed");
    }

    /// Reads a tag encoded at `lead` with `tail` after it with
    /// [`Cursor::tag`], and checks it against [`GeoTag::from_bytes`].
    fn check_tag(raw: &[u8], lead: usize, tail: &[u8]) {
        let mut data = vec![b'x'; lead];
        zigzag(raw.len() as i64, &mut data);
        let start = data.len();
        data.extend(raw);
        data.extend(tail);
        let cur = Cursor {
            data: &data,
            pos: lead,
        };
        let want = GeoTag::from_bytes(raw).ok_or_else(|| {
            format!(
                "netacq_country is {} bytes long; geo tags are at most 16",
                raw.len()
            )
        });
        match cur.tag(Field::NetacqCountry) {
            Ok((tag, after)) => {
                assert_eq!(Ok(tag), want, "{raw:02x?} + {tail:02x?}");
                assert_eq!(after.pos, start + raw.len());
            }
            Err(e) => assert_eq!(Err(e), want, "{raw:02x?} + {tail:02x?}"),
        }
    }

    #[test]
    fn tags_match_from_bytes() {
        let tails: [&[u8]; 4] = [&[], &[b'A'; 3], &[0xff; 20], &[b'Z'; 40]];
        for lead in [0, 5] {
            for tail in tails {
                check_tag(b"", lead, tail);
                for b0 in 0..=255u8 {
                    check_tag(&[b0], lead, tail);
                    for b1 in 0..=255u8 {
                        check_tag(&[b0, b1], lead, tail);
                    }
                }
            }
        }
        let alphabet = b"AZaz09!~?.- \x00\x01\x7f\x80\xc3\xa9\xe2\x82\xac\xff";
        let mut rng = Rng(5);
        for _ in 0..20_000 {
            let n = rng.below(19) as usize;
            let raw: Vec<u8> = if rng.below(3) == 0 {
                (0..n).map(|_| b'!' + rng.below(94) as u8).collect()
            } else {
                (0..n)
                    .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                    .collect()
            };
            let tail = tails[rng.below(4) as usize];
            check_tag(&raw, rng.below(3) as usize, tail);
        }
        // Data ending inside the tag.
        let cur = Cursor {
            data: &[4, b'E'],
            pos: 0,
        };
        assert_eq!(cur.tag(Field::NetacqCountry).err(), Some(eof()));
    }

    #[test]
    fn printable_check_of_every_byte_at_every_place() {
        for n in 1..=16 {
            let keep = u128::MAX >> (8 * (16 - n));
            for at in 0..16 {
                for b in 0..=255u8 {
                    let mut bytes = [b'A'; 16];
                    bytes[at] = b;
                    let x = u128::from_le_bytes(bytes) & keep;
                    let want = at >= n || (0x21..=0x7e).contains(&b);
                    assert_eq!(all_printable(x, keep), want, "{n} {at} {b:#x}");
                }
            }
        }
    }

    #[test]
    fn compiled_plans_merge_skips() {
        let plan = Plan {
            steps: vec![
                Step::Skip(Skip::Varint),
                Step::Skip(Skip::Nothing),
                Step::Skip(Skip::Record(vec![Skip::Varint, Skip::Bytes(0)])),
                Step::Number(Field::Time),
                Step::Skip(Skip::Bytes(4)),
                Step::Skip(Skip::Record(vec![Skip::Bytes(8), Skip::Nothing])),
                Step::Skip(Skip::LengthPrefixed),
                Step::Skip(Skip::LengthPrefixed),
                Step::Text(Field::NetacqCountry),
                Step::Number(Field::NetacqCountry),
                Step::Skip(Skip::Union(vec![Skip::Nothing])),
            ],
        };
        let mut ops = Vec::new();
        compile(&plan, &mut ops);
        assert_eq!(
            ops,
            [
                Op::SkipVarints(2),
                Op::Time,
                Op::SkipBytes(12),
                Op::SkipPrefixed(2),
                Op::Tag(Field::NetacqCountry, 1),
                Op::SkipVarints(1),
                Op::Skip(&Skip::Union(vec![Skip::Nothing])),
            ]
        );
    }

    #[test]
    fn flowtuple_records_match_the_reference() {
        // The generator's schema with every field read, and with none.
        let numbers = &Field::ALL[..11];
        let names = [
            "time",
            "src_ip",
            "dst_ip",
            "src_port",
            "dst_port",
            "protocol",
            "ttl",
            "tcp_flags",
            "ip_len",
            "tcp_synlen",
            "tcp_synwinlen",
            "packet_cnt",
            "is_spoofed",
            "is_masscan",
            "maxmind_continent",
            "maxmind_country",
            "netacq_continent",
            "netacq_country",
            "prefix2asn",
        ]
        .map(|name| (name, Field::ALL.into_iter().find(|f| f.name() == name)));
        let mut rng = Rng(3);
        for needed in [&Field::ALL[..], numbers, &[Field::Time][..], &[][..]] {
            let steps = names
                .iter()
                .map(|(_, f)| match f {
                    Some(f) if needed.contains(f) => {
                        if numbers.contains(f) {
                            Step::Number(*f)
                        } else {
                            Step::Text(*f)
                        }
                    }
                    Some(f) if !numbers.contains(f) => Step::Skip(Skip::LengthPrefixed),
                    _ => Step::Skip(Skip::Varint),
                })
                .collect();
            let plan = Plan { steps };
            // A block of well-formed records: every value in range.
            let mut data = Vec::new();
            let count = 500;
            for i in 0..count {
                for (name, _) in names {
                    match name {
                        "time" => zigzag(1_600_000_020 + (i / 200) * 60, &mut data),
                        n if n.contains("continent") || n.contains("country") => {
                            zigzag(2, &mut data);
                            data.extend(b"EU");
                        }
                        "src_ip" | "dst_ip" | "prefix2asn" => {
                            zigzag(rng.below(1 << 32) as i64, &mut data)
                        }
                        _ => zigzag(rng.below(70_000) as i64, &mut data),
                    }
                }
            }
            for filter in [Filter::All, Filter::NonSpoofed, Filter::UnroutedNonSpoofed] {
                assert_eq!(same_outcome(&plan, filter, &data, count as u64), Ok(()));
                for cut in [1, 2, 5, 9, 10, 11, 17, 40] {
                    let err = same_outcome(&plan, filter, &data[..data.len() - cut], count as u64)
                        .unwrap_err();
                    assert!(err.contains("ends early"), "{err}");
                }
            }
        }
    }
}
