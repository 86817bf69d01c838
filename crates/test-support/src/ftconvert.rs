//! A v3 -> flowtuple4 converter following stardust-tools' `ftconvert`
//! (`flowtuple-convert/ftconvert.c`, `convert_ft3`, `write_tuples`,
//! `encode_flowtuple4_avro`) rule for rule, for tests and the benchmark: the
//! integration tests and the `ftconvert` tool (`tools/src/bin/ftconvert.rs`)
//! share it. No code of
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

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use crate::avro::{bytes, zigzag};
use crate::v3::V3;

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
            bytes(g, out);
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
    bytes(b"avro.schema", &mut out);
    bytes(schema.as_bytes(), &mut out);
    bytes(b"avro.codec", &mut out);
    bytes(if deflate { "deflate" } else { "null" }, &mut out);
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
