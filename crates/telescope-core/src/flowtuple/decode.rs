//! Decoding a block's records with a [`Plan`], filtering them as they come.

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

/// Reads Avro binary values from a byte slice.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn long(&mut self) -> Result<i64, String> {
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

    #[inline]
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
    i32::try_from(v).map_err(|_| format!("{} value {v} is outside the int range", field.name()))
}

fn ipv4(field: Field, v: i64) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| format!("{} value {v} is not an IPv4 address", field.name()))
}

/// Decodes one record into `rec`.
#[inline]
fn decode_record(plan: &Plan, cur: &mut Cursor<'_>, rec: &mut FlowRecord) -> Result<(), String> {
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
