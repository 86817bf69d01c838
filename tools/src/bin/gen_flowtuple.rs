//! Generates a synthetic, telescope-like corsaro3 flowtuple Avro file.
//!
//! ```sh
//! cargo run --release -p telescope-tools --bin gen_flowtuple -- /tmp/ft.avro --records 10000000 --intervals 1 --codec deflate
//! ```
//!
//! Destinations inside one /8 (44.0.0.0/8), heavy-tailed sources (a few
//! percent from reserved, unrouted ranges), a TCP/UDP/ICMP/other mix,
//! Zipf-like ports, heavy-tailed packet counts, spoofed/masscan flags, geo
//! tags and ASNs. Same arguments, same bytes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use telescope_test_support::avro::{bytes, zigzag};
use telescope_test_support::rng::{Random, SplitMix64 as Rng};

#[derive(Parser)]
struct Args {
    /// Output file.
    out: PathBuf,
    /// Number of records.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Number of intervals (60 s apart), records spread evenly.
    #[arg(long, default_value_t = 1)]
    intervals: u64,
    /// Block codec.
    #[arg(long, value_enum, default_value_t = Codec::Deflate)]
    codec: Codec,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the old schema (no tcp_synlen, tcp_synwinlen, is_spoofed, is_masscan).
    #[arg(long)]
    old_schema: bool,
    /// Uncompressed bytes per block (corsaro writes 16 KiB).
    #[arg(long, default_value_t = 16 * 1024)]
    block_bytes: usize,
    /// Time of the first interval.
    #[arg(long, default_value_t = 1_600_000_020)]
    start: i64,
}

#[derive(Clone, Copy, ValueEnum)]
enum Codec {
    Null,
    Deflate,
    Snappy,
}

fn mix(x: u64) -> u64 {
    Rng(x).next_u64()
}

const RESERVED: [(u32, u32); 13] = [
    (0x0000_0000, 8),
    (0x0a00_0000, 8),
    (0x7f00_0000, 8),
    (0xa9fe_0000, 16),
    (0xac10_0000, 12),
    (0xc000_0000, 24),
    (0xc000_0200, 24),
    (0xc058_6300, 24),
    (0xc0a8_0000, 16),
    (0xc612_0000, 15),
    (0xc633_6400, 24),
    (0xcb00_7100, 24),
    (0xe000_0000, 3),
];
const GEO: [(&str, &str); 12] = [
    ("AS", "CN"),
    ("NA", "US"),
    ("EU", "RU"),
    ("SA", "BR"),
    ("AS", "IN"),
    ("EU", "NL"),
    ("AS", "KR"),
    ("EU", "DE"),
    ("AS", "VN"),
    ("AF", "EG"),
    ("OC", "AU"),
    ("??", "??"),
];
const TCP_PORTS: [i64; 12] = [23, 445, 22, 80, 8080, 3389, 443, 2323, 5555, 1433, 81, 6379];
const UDP_PORTS: [i64; 8] = [53, 123, 1900, 5060, 137, 161, 19, 389];

fn schema(old: bool) -> String {
    let mut fields = vec![
        ("time", "long"),
        ("src_ip", "long"),
        ("dst_ip", "long"),
        ("src_port", "int"),
        ("dst_port", "int"),
        ("protocol", "int"),
        ("ttl", "int"),
        ("tcp_flags", "int"),
        ("ip_len", "int"),
        ("tcp_synlen", "int"),
        ("tcp_synwinlen", "int"),
        ("packet_cnt", "long"),
        ("is_spoofed", "int"),
        ("is_masscan", "int"),
        ("maxmind_continent", "string"),
        ("maxmind_country", "string"),
        ("netacq_continent", "string"),
        ("netacq_country", "string"),
        ("prefix2asn", "long"),
    ];
    if old {
        fields.retain(|(n, _)| {
            !matches!(
                *n,
                "tcp_synlen" | "tcp_synwinlen" | "is_spoofed" | "is_masscan"
            )
        });
    }
    let f: Vec<String> = fields
        .iter()
        .map(|(n, t)| format!("{{\"name\":\"{n}\",\"type\":\"{t}\"}}"))
        .collect();
    format!(
        "{{\"type\":\"record\",\"name\":\"flowtuple\",\"namespace\":\"org.caida.corsaro\",\"fields\":[{}]}}",
        f.join(",")
    )
}

fn record(rng: &mut Rng, time: i64, old: bool, out: &mut Vec<u8>) {
    let rank = rng.zipf(2_000_000);
    let h = mix(rank);
    let src: u32 = if h % 100 < 3 {
        let (net, len) = RESERVED[(h >> 8) as usize % RESERVED.len()];
        net | ((mix(h) as u32) & (u32::MAX >> len))
    } else {
        (h >> 16) as u32
    };
    let dst = 0x2c00_0000 | (rng.next_u64() as u32 & 0x00ff_ffff);
    let p = rng.below(100);
    let (protocol, sport, dport): (i64, i64, i64) = if p < 75 {
        let d = if rng.below(4) == 0 {
            rng.below(65536) as i64
        } else {
            TCP_PORTS[rng.zipf(TCP_PORTS.len() as u64) as usize]
        };
        (6, 1024 + (mix(h ^ 7) % 64512) as i64, d)
    } else if p < 90 {
        let d = if rng.below(3) == 0 {
            rng.below(65536) as i64
        } else {
            UDP_PORTS[rng.zipf(UDP_PORTS.len() as u64) as usize]
        };
        let s = if rng.below(10) == 0 {
            53
        } else {
            1024 + rng.below(64512) as i64
        };
        (17, s, d)
    } else if p < 98 {
        let (t, c) = [(8, 0), (0, 0), (3, 3), (11, 0), (3, 1)][rng.zipf(5) as usize];
        (1, t, c)
    } else {
        ([47, 41, 50, 0][rng.below(4) as usize], 0, 0)
    };
    let packets = (1.0 / (1.0 - rng.uniform()).max(1e-9)).powf(1.3) as i64;
    let ip_len = [40, 44, 52, 60, 1500][rng.zipf(5) as usize] + rng.below(20) as i64;
    let spoofed = (rng.below(100) < 10) as i64;
    let masscan = (rng.below(100) < 5) as i64;
    let (cont, country) = GEO[(h >> 40) as usize % GEO.len()];
    let asn = if h % 33 == 0 {
        0
    } else {
        1 + ((mix(h >> 16) % 64_000) as i64)
    };
    zigzag(time, out);
    zigzag(i64::from(src), out);
    zigzag(i64::from(dst), out);
    zigzag(sport, out);
    zigzag(dport, out);
    zigzag(protocol, out);
    zigzag(30 + rng.below(220) as i64, out);
    zigzag(if protocol == 6 { 2 } else { 0 }, out);
    zigzag(ip_len, out);
    if !old {
        zigzag(if protocol == 6 { 20 } else { 0 }, out);
        zigzag(if protocol == 6 { 1024 } else { 0 }, out);
    }
    zigzag(packets.max(1), out);
    if !old {
        zigzag(spoofed, out);
        zigzag(masscan, out);
    }
    bytes(cont, out);
    bytes(country, out);
    bytes(cont, out);
    bytes(country, out);
    zigzag(asn, out);
}

fn compress(codec: Codec, data: &[u8]) -> Vec<u8> {
    match codec {
        Codec::Null => data.to_vec(),
        Codec::Deflate => {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).expect("in-memory write");
            e.finish().expect("in-memory write")
        }
        Codec::Snappy => {
            let mut out = snap::raw::Encoder::new()
                .compress_vec(data)
                .expect("snappy");
            out.extend_from_slice(&crc32fast::hash(data).to_be_bytes());
            out
        }
    }
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut rng = Rng(args.seed);
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&args.out)?);
    let sync: Vec<u8> = (0..16).map(|_| rng.next_u64() as u8).collect();
    let codec_name = match args.codec {
        Codec::Null => "null",
        Codec::Deflate => "deflate",
        Codec::Snappy => "snappy",
    };
    let mut head = b"Obj\x01".to_vec();
    zigzag(2, &mut head);
    bytes("avro.schema", &mut head);
    bytes(schema(args.old_schema), &mut head);
    bytes("avro.codec", &mut head);
    bytes(codec_name, &mut head);
    zigzag(0, &mut head);
    head.extend_from_slice(&sync);
    out.write_all(&head)?;
    let intervals = args.intervals.max(1);
    let mut block = Vec::with_capacity(args.block_bytes + 256);
    let mut count = 0i64;
    let flush =
        |block: &mut Vec<u8>, count: &mut i64, out: &mut BufWriter<File>| -> std::io::Result<()> {
            if *count == 0 {
                return Ok(());
            }
            let data = compress(args.codec, block);
            let mut h = Vec::new();
            zigzag(*count, &mut h);
            zigzag(data.len() as i64, &mut h);
            out.write_all(&h)?;
            out.write_all(&data)?;
            out.write_all(&sync)?;
            block.clear();
            *count = 0;
            Ok(())
        };
    for i in 0..args.records {
        let k = i * intervals / args.records.max(1);
        record(
            &mut rng,
            args.start + 60 * k as i64,
            args.old_schema,
            &mut block,
        );
        count += 1;
        if block.len() >= args.block_bytes {
            flush(&mut block, &mut count, &mut out)?;
        }
    }
    flush(&mut block, &mut count, &mut out)?;
    out.flush()
}
