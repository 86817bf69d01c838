//! The writer schema, turned into a decoding plan: one step per field of the
//! file's record, reading the fields a mode needs and skipping the rest.

use apache_avro::schema::{InnerDecimalSchema, UuidSchema};
use apache_avro::Schema;

use super::error::FlowtupleError;

/// A flowtuple field the tool can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// Interval start, Unix seconds.
    Time,
    /// Source IPv4 address.
    SrcIp,
    /// Destination IPv4 address.
    DstIp,
    /// Source port (ICMP type for protocol 1).
    SrcPort,
    /// Destination port (ICMP code for protocol 1).
    DstPort,
    /// IP protocol number.
    Protocol,
    /// IP packet length.
    IpLen,
    /// Number of packets of this flowtuple.
    PacketCnt,
    /// Spoofing heuristic (0 = not spoofed).
    IsSpoofed,
    /// Masscan heuristic (1 = masscan).
    IsMasscan,
    /// Origin ASN of the source prefix (0 = unknown).
    Prefix2Asn,
    /// Net Acuity continent tag.
    NetacqContinent,
    /// Net Acuity country tag.
    NetacqCountry,
    /// MaxMind continent tag.
    MaxmindContinent,
    /// MaxMind country tag.
    MaxmindCountry,
    /// flowtuple4's destination network (`0x2c000000 | (dst & mask)`); not
    /// in [`Field::ALL`], which lists flowtuple (v3) fields.
    DstNet,
}

impl Field {
    /// Every field: the eleven numbers, then the four geo tags.
    #[cfg(test)]
    pub(crate) const ALL: [Field; 15] = [
        Field::Time,
        Field::SrcIp,
        Field::DstIp,
        Field::SrcPort,
        Field::DstPort,
        Field::Protocol,
        Field::IpLen,
        Field::PacketCnt,
        Field::IsSpoofed,
        Field::IsMasscan,
        Field::Prefix2Asn,
        Field::NetacqContinent,
        Field::NetacqCountry,
        Field::MaxmindContinent,
        Field::MaxmindCountry,
    ];

    /// The field's name in the schema.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Time => "time",
            Field::SrcIp => "src_ip",
            Field::DstIp => "dst_ip",
            Field::SrcPort => "src_port",
            Field::DstPort => "dst_port",
            Field::Protocol => "protocol",
            Field::IpLen => "ip_len",
            Field::PacketCnt => "packet_cnt",
            Field::IsSpoofed => "is_spoofed",
            Field::IsMasscan => "is_masscan",
            Field::Prefix2Asn => "prefix2asn",
            Field::NetacqContinent => "netacq_continent",
            Field::NetacqCountry => "netacq_country",
            Field::MaxmindContinent => "maxmind_continent",
            Field::MaxmindCountry => "maxmind_country",
            Field::DstNet => "dst_net",
        }
    }

    fn is_string(self) -> bool {
        matches!(
            self,
            Field::NetacqContinent
                | Field::NetacqCountry
                | Field::MaxmindContinent
                | Field::MaxmindCountry
        )
    }
}

/// Which flowtuple layout a file holds, told by the fields of its writer
/// schema (not its name: ftconvert's early flowtuple4 files are named
/// `flowtuple3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// corsaro3's flowtuple (v3): one record per flow, `dst_ip`.
    Flowtuple,
    /// stardust-tools ftconvert's flowtuple4: one record per (source,
    /// destination network, port) per protocol, `dst_net`.
    Flowtuple4,
}

impl Kind {
    /// The layout of `schema_json`: flowtuple4 when its record has a
    /// `dst_net` field.
    pub(crate) fn of_schema(schema_json: &str) -> Result<Kind, FlowtupleError> {
        let schema = Schema::parse_str(schema_json).map_err(|e| {
            FlowtupleError::Schema(format!("the writer schema does not parse: {e}"))
        })?;
        Ok(match &schema {
            Schema::Record(r) if r.fields.iter().any(|f| f.name == "dst_net") => Kind::Flowtuple4,
            _ => Kind::Flowtuple,
        })
    }

    /// `flowtuple` or `flowtuple4`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Flowtuple => "flowtuple (v3)",
            Kind::Flowtuple4 => "flowtuple4",
        }
    }
}

/// How to pass over a value the tool does not use.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Skip {
    /// `null`: nothing to read.
    Nothing,
    /// int, long, enum and their logical types: one varint.
    Varint,
    /// A fixed number of bytes (boolean, float, double, fixed).
    Bytes(usize),
    /// bytes, string: a length, then that many bytes.
    LengthPrefixed,
    /// array: blocks of items.
    Array(Box<Skip>),
    /// map: blocks of (string key, value).
    Map(Box<Skip>),
    /// union: a branch index, then that branch.
    Union(Vec<Skip>),
    /// record: its fields in order.
    Record(Vec<Skip>),
}

/// One step of the decoding plan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// An int or long read into this field.
    Number(Field),
    /// A string read into this field.
    Text(Field),
    /// A value passed over.
    Skip(Skip),
}

/// The decoding plan for the file's records.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// One step per field of the writer schema, in order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Plans the decoding of `schema_json` for the `needed` fields; `why`
    /// says what needs them, for the error when one is missing.
    pub(crate) fn new(
        schema_json: &str,
        needed: &[Field],
        why: &str,
    ) -> Result<Plan, FlowtupleError> {
        let schema = Schema::parse_str(schema_json).map_err(|e| {
            FlowtupleError::Schema(format!("the writer schema does not parse: {e}"))
        })?;
        let record = match &schema {
            Schema::Record(r) => r,
            other => {
                return Err(FlowtupleError::Schema(format!(
                    "the writer schema is {}, not a flowtuple record",
                    type_name(other)
                )))
            }
        };
        for &field in needed {
            if !record.fields.iter().any(|f| f.name == field.name()) {
                return Err(FlowtupleError::MissingField {
                    field: field.name(),
                    why: why.to_string(),
                });
            }
        }
        let mut steps = Vec::with_capacity(record.fields.len());
        for f in &record.fields {
            let wanted = needed.iter().copied().find(|n| n.name() == f.name);
            let step = match wanted {
                None => Step::Skip(skip_plan(&f.schema, &f.name)?),
                Some(field) if field.is_string() => match f.schema {
                    Schema::String => Step::Text(field),
                    ref other => return Err(field_type(&f.name, other, "string")),
                },
                Some(field) => match f.schema {
                    Schema::Int | Schema::Long => Step::Number(field),
                    ref other => return Err(field_type(&f.name, other, "int or long")),
                },
            };
            steps.push(step);
        }
        Ok(Plan { steps })
    }
}

fn field_type(name: &str, found: &Schema, expected: &'static str) -> FlowtupleError {
    FlowtupleError::FieldType {
        field: name.to_string(),
        found: type_name(found),
        expected,
    }
}

fn type_name(schema: &Schema) -> String {
    match schema {
        Schema::Record(r) => format!("record `{}`", r.name.name()),
        Schema::Union(_) => "a union".into(),
        Schema::Ref { name } => format!("a reference to `{}`", name.name()),
        other => {
            let canonical = other.canonical_form();
            canonical.trim_matches('"').to_string()
        }
    }
}

fn skip_plan(schema: &Schema, field: &str) -> Result<Skip, FlowtupleError> {
    Ok(match schema {
        Schema::Null => Skip::Nothing,
        Schema::Boolean => Skip::Bytes(1),
        Schema::Int
        | Schema::Long
        | Schema::Enum(_)
        | Schema::Date
        | Schema::TimeMillis
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Skip::Varint,
        Schema::Float => Skip::Bytes(4),
        Schema::Double => Skip::Bytes(8),
        Schema::Bytes | Schema::String | Schema::BigDecimal => Skip::LengthPrefixed,
        Schema::Fixed(f) | Schema::Duration(f) => Skip::Bytes(f.size),
        Schema::Decimal(d) => match &d.inner {
            InnerDecimalSchema::Bytes => Skip::LengthPrefixed,
            InnerDecimalSchema::Fixed(f) => Skip::Bytes(f.size),
        },
        Schema::Uuid(UuidSchema::Fixed(f)) => Skip::Bytes(f.size),
        Schema::Uuid(_) => Skip::LengthPrefixed,
        Schema::Array(a) => Skip::Array(Box::new(skip_plan(&a.items, field)?)),
        Schema::Map(m) => Skip::Map(Box::new(skip_plan(&m.types, field)?)),
        Schema::Union(u) => Skip::Union(
            u.variants()
                .iter()
                .map(|v| skip_plan(v, field))
                .collect::<Result<_, _>>()?,
        ),
        Schema::Record(r) => Skip::Record(
            r.fields
                .iter()
                .map(|f| skip_plan(&f.schema, field))
                .collect::<Result<_, _>>()?,
        ),
        Schema::Ref { name } => {
            return Err(FlowtupleError::Schema(format!(
                "field `{field}` refers to named type `{}`, which this reader does not follow",
                name.name()
            )))
        }
    })
}
