//! corsaro3 flowtuple (v3) records: the record, its schema, and reading
//! and writing v3 Avro files with the apache-avro crate (not the project's
//! reader), for tests and tools that build inputs.

/// One v3 record, as libcorsaro's `corsaro_flowtuple_data` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3 {
    pub time: u32,
    pub src_ip: u32,
    pub dst_ip: u32,
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: u8,
    pub ttl: u8,
    pub tcp_flags: u8,
    pub ip_len: u16,
    pub tcp_synlen: u16,
    pub tcp_synwinlen: u16,
    pub packet_cnt: u32,
    pub is_spoofed: u8,
    pub is_masscan: u8,
    /// maxmind continent, maxmind country, netacq continent, netacq country.
    pub geo: [String; 4],
    pub prefix2asn: u32,
}

/// The v3 field names, in corsaro3's schema order.
pub const V3_FIELDS: [&str; 19] = [
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
];

/// corsaro3's flowtuple v3 schema (as in the fixtures).
pub fn v3_schema() -> String {
    let fields: Vec<String> = V3_FIELDS
        .iter()
        .map(|&n| {
            let t = match n {
                "time" | "src_ip" | "dst_ip" | "packet_cnt" | "prefix2asn" => "long",
                n if n.contains("continent") || n.contains("country") => "string",
                _ => "int",
            };
            format!("{{\"name\": \"{n}\", \"type\": \"{t}\"}}")
        })
        .collect();
    format!(
        "{{\"type\": \"record\", \"namespace\": \"org.caida.corsaro\", \"name\": \"flowtuple\", \"fields\": [{}]}}",
        fields.join(", ")
    )
}

/// Reads a v3 Avro file with the apache-avro crate (not this project's
/// reader). Fields missing from older files read as 0.
pub fn read_v3(bytes: &[u8]) -> Vec<V3> {
    let mut out = Vec::new();
    for_each_v3(bytes, |r| out.push(r));
    out
}

/// Hands each record of a v3 Avro stream to `f`, in order.
pub fn for_each_v3(input: impl std::io::Read, mut f: impl FnMut(V3)) {
    let reader = apache_avro::Reader::new(input).expect("v3 header");
    reader
        .map(|v| {
            let apache_avro::types::Value::Record(fields) = v.expect("v3 record") else {
                panic!("not a record")
            };
            let num = |name: &str| -> i64 {
                match fields.iter().find(|(n, _)| n == name).map(|(_, v)| v) {
                    Some(apache_avro::types::Value::Long(x)) => *x,
                    Some(apache_avro::types::Value::Int(x)) => i64::from(*x),
                    None => 0,
                    other => panic!("{name}: {other:?}"),
                }
            };
            let text = |name: &str| -> String {
                match fields.iter().find(|(n, _)| n == name).map(|(_, v)| v) {
                    Some(apache_avro::types::Value::String(s)) => s.clone(),
                    other => panic!("{name}: {other:?}"),
                }
            };
            V3 {
                time: num("time") as u32,
                src_ip: num("src_ip") as u32,
                dst_ip: num("dst_ip") as u32,
                src_port: num("src_port") as u16,
                dst_port: num("dst_port") as u16,
                protocol: num("protocol") as u8,
                ttl: num("ttl") as u8,
                tcp_flags: num("tcp_flags") as u8,
                ip_len: num("ip_len") as u16,
                tcp_synlen: num("tcp_synlen") as u16,
                tcp_synwinlen: num("tcp_synwinlen") as u16,
                packet_cnt: num("packet_cnt") as u32,
                is_spoofed: num("is_spoofed") as u8,
                is_masscan: num("is_masscan") as u8,
                geo: [
                    text("maxmind_continent"),
                    text("maxmind_country"),
                    text("netacq_continent"),
                    text("netacq_country"),
                ],
                prefix2asn: num("prefix2asn") as u32,
            }
        })
        .for_each(&mut f)
}

/// Writes v3 records as a v3 Avro file with the apache-avro crate.
pub fn write_v3(records: &[V3]) -> Vec<u8> {
    use apache_avro::types::Value;
    let schema = apache_avro::Schema::parse_str(&v3_schema()).expect("v3 schema");
    let mut w = apache_avro::Writer::with_codec(
        &schema,
        Vec::new(),
        apache_avro::Codec::Deflate(apache_avro::DeflateSettings::default()),
    )
    .expect("writer");
    for r in records {
        let nums = [
            i64::from(r.time),
            i64::from(r.src_ip),
            i64::from(r.dst_ip),
            i64::from(r.src_port),
            i64::from(r.dst_port),
            i64::from(r.protocol),
            i64::from(r.ttl),
            i64::from(r.tcp_flags),
            i64::from(r.ip_len),
            i64::from(r.tcp_synlen),
            i64::from(r.tcp_synwinlen),
            i64::from(r.packet_cnt),
            i64::from(r.is_spoofed),
            i64::from(r.is_masscan),
        ];
        let mut fields: Vec<(String, Value)> = Vec::new();
        for (i, name) in V3_FIELDS.iter().enumerate() {
            let v = match i {
                0..=2 | 11 => Value::Long(nums[i]),
                3..=10 | 12 | 13 => Value::Int(nums[i] as i32),
                14..=17 => Value::String(r.geo[i - 14].clone()),
                _ => Value::Long(i64::from(r.prefix2asn)),
            };
            fields.push((name.to_string(), v));
        }
        w.append_value(Value::Record(fields)).expect("append");
    }
    w.into_inner().expect("flush")
}

impl V3 {
    /// A one-packet TCP SYN of 40 bytes (TTL 64, destination port 80, no
    /// SYN options, neither spoofed nor masscan) from `src_ip` to `dst_ip`
    /// at `time`, geo-tagged `EU FR EU FR`, AS 0. Tests set the fields they
    /// care about with `V3 { field, ..V3::syn(..) }`.
    pub fn syn(time: u32, src_ip: u32, dst_ip: u32) -> V3 {
        V3 {
            time,
            src_ip,
            dst_ip,
            src_port: 1024,
            dst_port: 80,
            protocol: 6,
            ttl: 64,
            tcp_flags: 2,
            ip_len: 40,
            tcp_synlen: 0,
            tcp_synwinlen: 0,
            packet_cnt: 1,
            is_spoofed: 0,
            is_masscan: 0,
            geo: ["EU", "FR", "EU", "FR"].map(String::from),
            prefix2asn: 0,
        }
    }
}
