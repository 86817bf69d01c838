//! A v3 -> flowtuple4 converter following stardust-tools' `ftconvert`
//! (`flowtuple-convert/ftconvert.c`, `convert_ft3`, `write_tuples`,
//! `encode_flowtuple4_avro`) rule for rule, for tests and the benchmark: the
//! integration tests and `examples/ftconvert.rs` share this file. No code of
//! ftconvert is copied; its rules, as read at the commits named below:
//! - key per protocol group (ICMP, TCP, UDP, other), ascending within a
//!   group as Judy arrays iterate: `src_ip << 32 | (dst_ip & mask) << 8 |`
//!   `dst_port` (TCP, UDP), `src_port << 8 | dst_port` (ICMP: type, code),
//!   `protocol` (other); mask `0x00FF0000` (/16) or `0x00FFFF00` (/24);
//! - per key: `packet_cnt` the sum of the (32-bit) `packet_cnt`; distinct
//!   low 16 bits of `dst_ip` (`uniq_dst_ips`); per-value packet sums of
//!   `ip_len`, `ttl`, source ports (TCP, UDP) and TCP flags (TCP), giving the
//!   `uniq_*` counts and the `common_*` arrays (at most five values, in
//!   ascending order, whose packets reach `QUALITY_RATIO * packets`);
//!   `first_syn_length`, `first_tcp_rwin`, geo tags and `prefix2asn` of the
//!   key's first record; version 2: packets of records with `is_spoofed`
//!   (`is_masscan`) set;
//! - written: `dst_net = 0x2c000000 | (dst & mask)`; `dst_port` the key's
//!   low 16 bits for TCP, UDP and ICMP, else 0; groups in the order ICMP,
//!   TCP, UDP, other;
//! - intervals: the first record sets `interval = ts - ts % (I * 60)` and
//!   `next = ts + I * 60` (not aligned: ftconvert's own arithmetic); a record
//!   with `ts >= next` writes the interval (if any record was added) and
//!   steps `interval = next; next += I * 60` until it fits; state carries
//!   over from one input file to the next; the last interval is written at
//!   the end. One output file per interval.
//!
//! Geo tags: libcorsaro packs a v3 tag into two bytes and ftconvert writes
//! two; this converter takes tags of exactly two bytes and refuses others.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

/// the early layout written under the name `flowtuple3` (Net Acuity geo only; /16 only at this commit): `NEW_FLOWTUPLE_RESULT_SCHEMA` of `flowtuple-convert/ftconvert.c`,
/// CAIDA/stardust-tools commit 0ba45d7f1f5cebcc83e91d2e9100a5d1b920f2cd, verbatim (the C literal's
/// escapes and line splices resolved).
pub const SCHEMA_EARLY: &str = r#"{"type": "record",  "namespace":"org.caida.corsaro",  "name":"flowtuple3",  "doc":"A Corsaro FlowTuple record. All byte fields are in network byte order.",  "fields":[      {"name": "time", "type": "long"},       {"name": "src_ip", "type": "long"},       {"name": "dst_net", "type": "long"},       {"name": "dst_port", "type": "int"},       {"name": "protocol", "type": "int"},       {"name": "packet_cnt", "type": "long"},       {"name": "uniq_dst_ips", "type": "int"},       {"name": "uniq_pkt_sizes", "type": "int"},       {"name": "uniq_ttls", "type": "int"},       {"name": "uniq_src_ports", "type": "int"},       {"name": "uniq_tcp_flags", "type": "int"},       {"name": "first_syn_length", "type": "int"},       {"name": "first_tcp_rwin", "type": "int"},       {"name": "common_pktsizes", "type": { "type": "array", "items": "long"}},       {"name": "common_pktsize_freqs", "type": { "type": "array", "items": "long"}},       {"name": "common_ttls", "type": { "type": "array", "items": "long"}},       {"name": "common_ttl_freqs", "type": { "type": "array", "items": "long"}},       {"name": "common_srcports", "type": { "type": "array", "items": "long"}},       {"name": "common_srcport_freqs", "type": { "type": "array", "items": "long"}},       {"name": "common_tcpflags", "type": { "type": "array", "items": "long"}},       {"name": "common_tcpflag_freqs", "type": { "type": "array", "items": "long"}},       {"name": "netacq_continent", "type": "string"},       {"name": "netacq_country", "type": "string"},       {"name": "prefix2asn", "type": "long"}       ]}"#;
/// The stardust-tools commit of [`SCHEMA_EARLY`].
pub const COMMIT_EARLY: &str = "0ba45d7f1f5cebcc83e91d2e9100a5d1b920f2cd";
/// `flowtuple4` "version 1": all four geo fields: `NEW_FLOWTUPLE_RESULT_SCHEMA` of `flowtuple-convert/ftconvert.c`,
/// CAIDA/stardust-tools commit 15870fc698fb3a0df106002f98ca8dc7706a21bd, verbatim (the C literal's
/// escapes and line splices resolved).
pub const SCHEMA_V1: &str = r#"{"type": "record",  "namespace":"org.caida.corsaro",  "name":"flowtuple4",  "doc":"A Corsaro FlowTuple4 record.",  "fields":[      {"name": "time", "type": "long"},       {"name": "src_ip", "type": "long"},       {"name": "dst_net", "type": "long"},       {"name": "dst_port", "type": "int"},       {"name": "protocol", "type": "int"},       {"name": "packet_cnt", "type": "long"},       {"name": "uniq_dst_ips", "type": "int"},       {"name": "uniq_pkt_sizes", "type": "int"},       {"name": "uniq_ttls", "type": "int"},       {"name": "uniq_src_ports", "type": "int"},       {"name": "uniq_tcp_flags", "type": "int"},       {"name": "first_syn_length", "type": "int"},       {"name": "first_tcp_rwin", "type": "int"},       {"name": "common_pktsizes", "type": { "type": "array", "items": "long"}},       {"name": "common_pktsize_freqs", "type": { "type": "array", "items": "long"}},       {"name": "common_ttls", "type": { "type": "array", "items": "long"}},       {"name": "common_ttl_freqs", "type": { "type": "array", "items": "long"}},       {"name": "common_srcports", "type": { "type": "array", "items": "long"}},       {"name": "common_srcport_freqs", "type": { "type": "array", "items": "long"}},       {"name": "common_tcpflags", "type": { "type": "array", "items": "long"}},       {"name": "common_tcpflag_freqs", "type": { "type": "array", "items": "long"}},       {"name": "maxmind_continent", "type": "string"},       {"name": "maxmind_country", "type": "string"},       {"name": "netacq_continent", "type": "string"},       {"name": "netacq_country", "type": "string"},       {"name": "prefix2asn", "type": "long"}       ]}"#;
/// The stardust-tools commit of [`SCHEMA_V1`].
pub const COMMIT_V1: &str = "15870fc698fb3a0df106002f98ca8dc7706a21bd";
/// `flowtuple4` version 2: `spoofed_packet_cnt`, `masscan_packet_cnt` added: `NEW_FLOWTUPLE_RESULT_SCHEMA` of `flowtuple-convert/ftconvert.c`,
/// CAIDA/stardust-tools commit 19d2d06b5e2bd030945e7908c399b598f0913978, verbatim (the C literal's
/// escapes and line splices resolved).
pub const SCHEMA_V2: &str = r#"{"type": "record",  "namespace":"org.caida.corsaro",  "name":"flowtuple4",  "doc":"A Corsaro FlowTuple4 record.",  "fields":[      {"name": "time", "type": "long"},       {"name": "src_ip", "type": "long"},       {"name": "dst_net", "type": "long"},       {"name": "dst_port", "type": "int"},       {"name": "protocol", "type": "int"},       {"name": "packet_cnt", "type": "long"},       {"name": "uniq_dst_ips", "type": "int"},       {"name": "uniq_pkt_sizes", "type": "int"},       {"name": "uniq_ttls", "type": "int"},       {"name": "uniq_src_ports", "type": "int"},       {"name": "uniq_tcp_flags", "type": "int"},       {"name": "first_syn_length", "type": "int"},       {"name": "first_tcp_rwin", "type": "int"},       {"name": "common_pktsizes", "type": { "type": "array", "items": "long"}},       {"name": "common_pktsize_freqs", "type": { "type": "array", "items": "long"}},       {"name": "common_ttls", "type": { "type": "array", "items": "long"}},       {"name": "common_ttl_freqs", "type": { "type": "array", "items": "long"}},       {"name": "common_srcports", "type": { "type": "array", "items": "long"}},       {"name": "common_srcport_freqs", "type": { "type": "array", "items": "long"}},       {"name": "common_tcpflags", "type": { "type": "array", "items": "long"}},       {"name": "common_tcpflag_freqs", "type": { "type": "array", "items": "long"}},       {"name": "maxmind_continent", "type": "string"},       {"name": "maxmind_country", "type": "string"},       {"name": "netacq_continent", "type": "string"},       {"name": "netacq_country", "type": "string"},       {"name": "prefix2asn", "type": "long"},       {"name": "spoofed_packet_cnt", "type": "long"},       {"name": "masscan_packet_cnt", "type": "long"}       ]}"#;
/// The stardust-tools commit of [`SCHEMA_V2`].
pub const COMMIT_V2: &str = "19d2d06b5e2bd030945e7908c399b598f0913978";

/// Which of ftconvert's output schemas to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// [`SCHEMA_EARLY`]: record name `flowtuple3`, Net Acuity geo only.
    Early,
    /// [`SCHEMA_V1`]: `flowtuple4`, four geo fields.
    V1,
    /// [`SCHEMA_V2`]: `flowtuple4` with spoofed/masscan packet counts.
    V2,
}

impl Version {
    /// The pinned schema text.
    pub fn schema(self) -> &'static str {
        match self {
            Version::Early => SCHEMA_EARLY,
            Version::V1 => SCHEMA_V1,
            Version::V2 => SCHEMA_V2,
        }
    }
}

/// How to convert: ftconvert's `-n`, `-I` and schema version.
#[derive(Debug, Clone, Copy)]
pub struct Conv {
    /// Output schema.
    pub version: Version,
    /// Destination prefix length, 16 or 24 (`-n`).
    pub dst_net: u8,
    /// Interval length in minutes (`-I`).
    pub minutes: u32,
    /// Deflate blocks (else codec null).
    pub deflate: bool,
    /// Records per Avro block.
    pub block_records: usize,
}

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

/// One v3 record as the converter keeps it until its interval is written
/// (compact: a 10M-record interval fits in memory).
struct Rec {
    group: u8,
    key: u64,
    dst_low: u16,
    src_port: u16,
    ttl: u8,
    tcp_flags: u8,
    ip_len: u16,
    protocol: u8,
    packets: u32,
    spoofed: bool,
    masscan: bool,
    synlen: u16,
    synwinlen: u16,
    asn: u32,
    geo: [[u8; 2]; 4],
}

/// The state of one key (`flowtupleState`), folded from its records.
#[derive(Default)]
struct State {
    destips: BTreeSet<u32>,
    srcports: BTreeMap<u32, u64>,
    ttls: BTreeMap<u32, u64>,
    tcpflags: BTreeMap<u32, u64>,
    pktsizes: BTreeMap<u32, u64>,
    total: u64,
    synlen: u16,
    synwinlen: u16,
    asn: u32,
    geo: [[u8; 2]; 4],
    spoofed: u64,
    masscan: u64,
}

impl State {
    /// The state of a key's records, in input order: the first one's tags.
    fn of(records: &[Rec]) -> State {
        let first = &records[0];
        let mut s = State {
            synlen: first.synlen,
            synwinlen: first.synwinlen,
            asn: first.asn,
            geo: first.geo,
            ..State::default()
        };
        for r in records {
            let packets = u64::from(r.packets);
            s.destips.insert(u32::from(r.dst_low));
            if r.protocol == 6 {
                *s.srcports.entry(u32::from(r.src_port)).or_default() += packets;
                *s.tcpflags.entry(u32::from(r.tcp_flags)).or_default() += packets;
            } else if r.protocol == 17 {
                *s.srcports.entry(u32::from(r.src_port)).or_default() += packets;
            }
            *s.ttls.entry(u32::from(r.ttl)).or_default() += packets;
            *s.pktsizes.entry(u32::from(r.ip_len)).or_default() += packets;
            s.total += packets;
            if r.spoofed {
                s.spoofed += packets;
            }
            if r.masscan {
                s.masscan += packets;
            }
        }
        s
    }
}

fn quality_ratio(portcnt: usize, pkts: u64) -> f64 {
    if pkts < 10 {
        if portcnt < 4 {
            return 1.0;
        }
        if portcnt < 7 {
            return 0.5;
        }
        return 0.33;
    }
    if portcnt < 15 {
        return 0.33;
    }
    0.2
}

/// `find_quality`: at most five (value, packets) pairs, ascending.
fn find_quality(map: &BTreeMap<u32, u64>, total: u64) -> (Vec<i64>, Vec<i64>) {
    let threshold = quality_ratio(map.len(), total) * total as f64;
    let mut keys = Vec::new();
    let mut freqs = Vec::new();
    for (&k, &v) in map {
        if v as f64 >= threshold {
            keys.push(i64::from(k));
            freqs.push(i64::from(v as u32));
            if keys.len() >= 5 {
                break;
            }
        }
    }
    (keys, freqs)
}

fn zigzag(v: i64, out: &mut Vec<u8>) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn string(s: &[u8], out: &mut Vec<u8>) {
    zigzag(s.len() as i64, out);
    out.extend_from_slice(s);
}

fn array(items: &[i64], out: &mut Vec<u8>) {
    if !items.is_empty() {
        zigzag(items.len() as i64, out);
        for &i in items {
            zigzag(i, out);
        }
    }
    zigzag(0, out);
}

/// The converter's state across input files.
pub struct Converter {
    conv: Conv,
    mask: u64,
    interval: u32,
    next: u32,
    writereq: bool,
    /// The interval's records.
    pending: Vec<Rec>,
    /// Finished files: (interval, records, Avro bytes).
    out: Vec<(u32, usize, Vec<u8>)>,
}

impl Converter {
    /// A converter writing `conv`'s layout.
    pub fn new(conv: Conv) -> Converter {
        assert!((conv.dst_net == 16 || conv.dst_net == 24) && conv.minutes > 0);
        Converter {
            conv,
            mask: if conv.dst_net == 16 {
                0x00FF_0000
            } else {
                0x00FF_FF00
            },
            interval: 0,
            next: 0,
            writereq: false,
            pending: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Adds the records of one v3 file, in order (`convert_ft3`).
    pub fn add(&mut self, records: &[V3]) {
        let step = self.conv.minutes * 60;
        for r in records {
            if self.interval == 0 {
                self.interval = r.time - r.time % step;
                self.next = r.time + step;
            }
            while r.time >= self.next {
                if self.writereq {
                    self.write();
                    self.writereq = false;
                }
                self.interval = self.next;
                self.next += step;
            }
            self.writereq = true;
            let src = u64::from(r.src_ip) << 32;
            let dst = (u64::from(r.dst_ip) & self.mask) << 8;
            let (group, key) = match r.protocol {
                6 => (1, src | dst | u64::from(r.dst_port)),
                17 => (2, src | dst | u64::from(r.dst_port)),
                1 => {
                    assert!(
                        r.src_port < 256 && r.dst_port < 256,
                        "ICMP type/code over 255"
                    );
                    (
                        0,
                        src | dst | u64::from(r.src_port) << 8 | u64::from(r.dst_port),
                    )
                }
                p => (3, src | dst | u64::from(p)),
            };
            let group: u8 = group;
            let geo = r
                .geo
                .clone()
                .map(|g| <[u8; 2]>::try_from(g.as_bytes()).expect("geo tags of two bytes only"));
            self.pending.push(Rec {
                group,
                key,
                dst_low: r.dst_ip as u16,
                src_port: r.src_port,
                ttl: r.ttl,
                tcp_flags: r.tcp_flags,
                ip_len: r.ip_len,
                protocol: r.protocol,
                packets: r.packet_cnt,
                spoofed: r.is_spoofed != 0,
                masscan: r.is_masscan != 0,
                synlen: r.tcp_synlen,
                synwinlen: r.tcp_synwinlen,
                asn: r.prefix2asn,
                geo,
            });
        }
    }

    /// Writes the last interval (ftconvert's end of `main`) and returns the
    /// files.
    pub fn finish(self) -> Vec<(u32, Vec<u8>)> {
        self.finish_counted()
            .into_iter()
            .map(|(t, _, f)| (t, f))
            .collect()
    }

    /// [`Converter::finish`], with each file's number of records.
    pub fn finish_counted(mut self) -> Vec<(u32, usize, Vec<u8>)> {
        if self.writereq {
            self.write();
        }
        self.out
    }

    /// `write_tuples` of the four groups into one file.
    fn write(&mut self) {
        let records = self.encoded();
        let c = self.conv;
        let file = container(c.version.schema(), c.deflate, c.block_records, &records);
        self.out.push((self.interval, records.len(), file));
    }

    /// The records of the interval's keys, encoded, the state emptied:
    /// groups in order, keys ascending (Judy's order), each key's v3
    /// records in input order (a stable sort).
    pub fn encoded(&mut self) -> Vec<Vec<u8>> {
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_by_key(|r| (r.group, r.key));
        let mut records = Vec::new();
        for run in pending.chunk_by(|a, b| (a.group, a.key) == (b.group, b.key)) {
            let (group, key) = (run[0].group, run[0].key);
            let proto = match group {
                0 => 1,
                1 => 6,
                2 => 17,
                _ => key & 0xFF,
            };
            let mut rec = Vec::new();
            self.encode(key, proto as i64, &State::of(run), &mut rec);
            records.push(rec);
        }
        records
    }

    fn encode(&self, key: u64, proto: i64, s: &State, out: &mut Vec<u8>) {
        zigzag(i64::from(self.interval), out);
        zigzag((key >> 32) as i64, out);
        zigzag((0x2c00_0000 | ((key & (self.mask << 8)) >> 8)) as i64, out);
        let port = if matches!(proto, 1 | 6 | 17) {
            (key & 0xFFFF) as i64
        } else {
            0
        };
        zigzag(port, out);
        zigzag(proto, out);
        zigzag(s.total as i64, out);
        for n in [
            s.destips.len(),
            s.pktsizes.len(),
            s.ttls.len(),
            s.srcports.len(),
            s.tcpflags.len(),
        ] {
            zigzag(n as i64, out);
        }
        zigzag(i64::from(s.synlen), out);
        zigzag(i64::from(s.synwinlen), out);
        for map in [&s.pktsizes, &s.ttls, &s.srcports, &s.tcpflags] {
            let (keys, freqs) = find_quality(map, s.total);
            array(&keys, out);
            array(&freqs, out);
        }
        let geo = match self.conv.version {
            Version::Early => &s.geo[2..],
            Version::V1 | Version::V2 => &s.geo[..],
        };
        for g in geo {
            string(g, out);
        }
        zigzag(i64::from(s.asn), out);
        if self.conv.version == Version::V2 {
            zigzag(s.spoofed as i64, out);
            zigzag(s.masscan as i64, out);
        }
    }
}

/// An Avro object container of encoded `records` with `schema` as its
/// schema text, `block_records` records a block.
pub fn container(
    schema: &str,
    deflate: bool,
    block_records: usize,
    records: &[Vec<u8>],
) -> Vec<u8> {
    let mut out = b"Obj\x01".to_vec();
    zigzag(2, &mut out);
    string(b"avro.schema", &mut out);
    string(schema.as_bytes(), &mut out);
    string(b"avro.codec", &mut out);
    string(if deflate { b"deflate" } else { b"null" }, &mut out);
    zigzag(0, &mut out);
    let sync: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    out.extend_from_slice(&sync);
    for chunk in records.chunks(block_records.max(1)) {
        let data: Vec<u8> = chunk.concat();
        let data = if deflate {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&data).expect("in-memory write");
            e.finish().expect("in-memory write")
        } else {
            data
        };
        zigzag(chunk.len() as i64, &mut out);
        zigzag(data.len() as i64, &mut out);
        out.extend_from_slice(&data);
        out.extend_from_slice(&sync);
    }
    out
}
