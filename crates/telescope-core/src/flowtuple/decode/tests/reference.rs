//! The reference decoder the compiled one is checked against: a plain
//! reading of the Avro 1.11 specification ("Binary Encoding") over a type
//! model of its own, [`Ty`], with none of the compiled decoder's shortcuts
//! and no code shared with it. A value the plan passes over is read here
//! from the [`Ty`] its schema was written from, while the compiled decoder
//! gets its `Skip` from the production schema compiler ([`Plan::new`] on
//! [`Ty::json`]), so a wrong `Skip` or a wrong skip shows as a difference.
//!
//! Where the specification lets a reader be strict, this one is as lenient
//! as the production reader is meant to be: a boolean's byte is not
//! checked to be 0 or 1, an int is read as a long, an enum index and a
//! block's byte size are read and not checked.

use super::{DecodedBlock, Field, Filter, Run};
use crate::flowtuple::record::{FlowRecord, GeoTag, MAX_TAG_BYTES};

/// An Avro schema, by the specification's list of types (named types
/// carry only what their encoding needs).
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    /// `fixed` of this many bytes.
    Fixed(usize),
    /// `enum` of this many symbols.
    Enum(usize),
    Array(Box<Ty>),
    Map(Box<Ty>),
    Union(Vec<Ty>),
    /// `record` of these field types.
    Record(Vec<Ty>),
}

impl Ty {
    /// The schema as JSON; named types get the names `n0`, `n1`, ...
    /// counted in `names`.
    pub fn json(&self, names: &mut u32) -> String {
        let mut name = || {
            *names += 1;
            format!("n{}", *names - 1)
        };
        match self {
            Ty::Null => r#""null""#.into(),
            Ty::Boolean => r#""boolean""#.into(),
            Ty::Int => r#""int""#.into(),
            Ty::Long => r#""long""#.into(),
            Ty::Float => r#""float""#.into(),
            Ty::Double => r#""double""#.into(),
            Ty::Bytes => r#""bytes""#.into(),
            Ty::String => r#""string""#.into(),
            Ty::Fixed(size) => format!(
                r#"{{"type": "fixed", "name": "{}", "size": {size}}}"#,
                name()
            ),
            Ty::Enum(n) => {
                let symbols: Vec<String> = (0..*n).map(|i| format!(r#""S{i}""#)).collect();
                format!(
                    r#"{{"type": "enum", "name": "{}", "symbols": [{}]}}"#,
                    name(),
                    symbols.join(", ")
                )
            }
            Ty::Array(items) => format!(r#"{{"type": "array", "items": {}}}"#, items.json(names)),
            Ty::Map(values) => format!(r#"{{"type": "map", "values": {}}}"#, values.json(names)),
            Ty::Union(branches) => {
                let branches: Vec<String> = branches.iter().map(|b| b.json(names)).collect();
                format!("[{}]", branches.join(", "))
            }
            Ty::Record(fields) => {
                let record = name();
                let fields: Vec<String> = fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| format!(r#"{{"name": "f{i}", "type": {}}}"#, f.json(names)))
                    .collect();
                format!(
                    r#"{{"type": "record", "name": "{record}", "fields": [{}]}}"#,
                    fields.join(", ")
                )
            }
        }
    }
}

/// One field of the reference's plan.
#[derive(Debug, Clone)]
pub enum Step {
    /// An int or long read into this field.
    Number(Field),
    /// A string read into this field.
    Text(Field),
    /// A value of this type, passed over.
    Value(Ty),
}

pub struct Cursor<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    /// A long: zigzag-coded, 7 bits a byte, low group first, the high bit
    /// set on every byte but the last; at most 10 bytes (bits past the
    /// 64th are dropped).
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

    /// The length of a bytes or string value: a long, not negative.
    fn length(&mut self) -> Result<usize, String> {
        let len = self.long()?;
        usize::try_from(len).map_err(|_| format!("negative length {len}"))
    }

    fn eof(&self) -> String {
        "record data ends early (corrupt block or wrong record count)".to_string()
    }

    /// Reads past one value of type `ty`.
    pub fn value(&mut self, ty: &Ty) -> Result<(), String> {
        match ty {
            // "null is written as zero bytes."
            Ty::Null => Ok(()),
            // "a boolean is written as a single byte"
            Ty::Boolean => self.bytes(1).map(drop),
            // "int and long values are written using variable-length
            // zig-zag coding"; "an enum is encoded by an int"
            Ty::Int | Ty::Long | Ty::Enum(_) => self.long().map(drop),
            // "a float is written as 4 bytes", "a double ... as 8 bytes"
            Ty::Float => self.bytes(4).map(drop),
            Ty::Double => self.bytes(8).map(drop),
            // "bytes are encoded as a long followed by that many bytes";
            // a string likewise, its bytes UTF-8.
            Ty::Bytes | Ty::String => {
                let n = self.length()?;
                self.bytes(n).map(drop)
            }
            // "Fixed instances are encoded using the number of bytes
            // declared in the schema."
            Ty::Fixed(size) => self.bytes(*size).map(drop),
            Ty::Array(items) => self.blocks(|c| c.value(items)),
            // Map items are a string key, then the value.
            Ty::Map(values) => self.blocks(|c| {
                c.value(&Ty::String)?;
                c.value(values)
            }),
            // "first a long value indicating the zero-based position
            // within the union of the schema of its value. The value is
            // then encoded per the indicated schema"
            Ty::Union(branches) => {
                let i = self.long()?;
                match usize::try_from(i).ok().and_then(|i| branches.get(i)) {
                    Some(branch) => self.value(branch),
                    None => Err(format!("union branch {i} does not exist")),
                }
            }
            // "encoded by encoding the values of its fields in the order
            // that they are declared"
            Ty::Record(fields) => fields.iter().try_for_each(|f| self.value(f)),
        }
    }

    /// Arrays and maps: "a series of blocks. Each block consists of a long
    /// count value, followed by that many items. A block with count zero
    /// indicates the end. If a block's count is negative, its absolute
    /// value is used, and the count is followed immediately by a long
    /// block size". A count of `i64::MIN` has no absolute value.
    fn blocks(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut count = self.long()?;
        while count != 0 {
            let items = count.checked_abs().ok_or("bad item count")?;
            if count < 0 {
                let _block_bytes = self.long()?;
            }
            (0..items).try_for_each(|_| item(self))?;
            count = self.long()?;
        }
        Ok(())
    }
}

fn int32(field: Field, v: i64) -> Result<i32, String> {
    i32::try_from(v).map_err(|_| format!("{} value {v} is outside the int range", field.name()))
}

fn ipv4(field: Field, v: i64) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| format!("{} value {v} is not an IPv4 address", field.name()))
}

fn number(rec: &mut FlowRecord, field: Field, v: i64) -> Result<(), String> {
    match field {
        Field::Time => rec.time = v,
        Field::PacketCnt => rec.packet_cnt = v,
        Field::Prefix2Asn => {
            rec.prefix2asn = u32::try_from(v)
                .map_err(|_| format!("prefix2asn value {v} is not a 32-bit AS number"))?
        }
        Field::SrcIp => rec.src_ip = ipv4(field, v)?,
        Field::DstIp => rec.dst_ip = ipv4(field, v)?,
        Field::SrcPort => rec.src_port = int32(field, v)?,
        Field::DstPort => rec.dst_port = int32(field, v)?,
        Field::Protocol => rec.protocol = int32(field, v)?,
        Field::IpLen => rec.ip_len = int32(field, v)?,
        Field::IsSpoofed => rec.is_spoofed = int32(field, v)?,
        Field::IsMasscan => rec.is_masscan = int32(field, v)?,
        _ => {}
    }
    Ok(())
}

fn text(rec: &mut FlowRecord, field: Field, cur: &mut Cursor<'_>) -> Result<(), String> {
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
    Ok(())
}

fn decode_record(steps: &[Step], cur: &mut Cursor<'_>, rec: &mut FlowRecord) -> Result<(), String> {
    for step in steps {
        match step {
            Step::Number(field) => {
                let v = cur.long()?;
                number(rec, *field, v)?;
            }
            Step::Text(field) => text(rec, *field, cur)?,
            Step::Value(ty) => cur.value(ty)?,
        }
    }
    Ok(())
}

pub fn decode_block(
    steps: &[Step],
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
        decode_record(steps, &mut cur, &mut rec)
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
