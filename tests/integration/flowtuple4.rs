//! flowtuple4 (issue 14): series from `convert(v3)` equal the series of the
//! v3 records themselves, for every class and counter flowtuple4 supports;
//! and the errors of flowtuple4 files are those of v3 files.
//!
//! The conversion is `ftconvert.rs` (ftconvert's rules, see there). Its
//! inputs have every destination in 44/8 (ftconvert keeps only the second
//! and third octets) and tag every record of a source alike (geo, ASN; real
//! v3 files tag by source address): the generator draws a source's tags
//! once, and the golden fixtures are made so by giving every record its
//! source's first record's tags, on both sides of the comparison.

use std::path::{Path, PathBuf};

use telescope_test_support::ftconvert::{Conv, Converter, Version};
use telescope_test_support::rng::{Random, SplitMix64 as Rng};
use telescope_test_support::v3::{self, V3};

use crate::util::{bin, testdata, text};

const GEO: [(&str, &str); 7] = [
    ("NA", "US"),
    ("EU", "DE"),
    ("AS", "CN"),
    ("SA", "BR"),
    ("EU", "FR"),
    ("AF", "EG"),
    ("??", "??"),
];

/// `minutes` one-minute intervals from `start` of telescope-like v3
/// records: destinations in 44.0-3.x.y, sources from a pool (some sharing
/// a /24 and an ASN, a few with ASN 0), each source's tags drawn once.
pub(crate) fn generate(seed: u64, start: u32, minutes: u32, per_minute: u32) -> Vec<V3> {
    // One pool of sources for every seed, so that files generated with
    // different seeds still tag each source alike.
    let mut rng = Rng(99);
    let mut pool: Vec<(u32, [String; 4], u32)> = Vec::new();
    for i in 0..240u32 {
        let src = if i < 60 {
            0x0a00_0000 | (i % 3) << 8 | rng.below(256) as u32
        } else {
            rng.next_u64() as u32
        };
        if pool.iter().any(|p| p.0 == src) {
            continue;
        }
        let (mc, mk) = GEO[rng.below(GEO.len() as u64) as usize];
        let (nc, nk) = GEO[rng.below(GEO.len() as u64) as usize];
        let asn = if rng.below(10) == 0 {
            0
        } else {
            1 + rng.below(40) as u32
        };
        pool.push((src, [mc, mk, nc, nk].map(String::from), asn));
    }
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for m in 0..minutes {
        for _ in 0..per_minute {
            let u = rng.below(1000) as f64 / 1000.0;
            let (src, geo, asn) = &pool[(u * u * pool.len() as f64) as usize];
            let p = rng.below(100);
            let (protocol, sport, dport) = if p < 60 {
                let d = [23, 445, 22, 80, 8080][rng.below(5) as usize];
                (
                    6,
                    1024 + rng.below(60000) as u16,
                    if rng.below(4) == 0 {
                        rng.below(65536) as u16
                    } else {
                        d
                    },
                )
            } else if p < 80 {
                (
                    17,
                    rng.below(65536) as u16,
                    [53, 123, 5060][rng.below(3) as usize],
                )
            } else if p < 92 {
                let (t, c) = [(8, 0), (0, 0), (3, 3), (11, 0), (3, 1)][rng.below(5) as usize];
                (1, t, c)
            } else {
                ([47, 41, 0, 50][rng.below(4) as usize], 0, 0)
            };
            let dst = 0x2c00_0000
                | (rng.below(4) as u32) << 16
                | (rng.below(12) as u32) << 8
                | rng.below(256) as u32;
            out.push(V3 {
                time: start + 60 * m,
                src_ip: *src,
                dst_ip: dst,
                src_port: sport,
                dst_port: dport,
                protocol,
                ttl: 30 + rng.below(200) as u8,
                tcp_flags: [2, 18, 4][rng.below(3) as usize],
                ip_len: [40, 44, 60, 1500][rng.below(4) as usize],
                tcp_synlen: 20,
                tcp_synwinlen: 1024,
                packet_cnt: 1 + (rng.below(1000) * rng.below(1000) / 997) as u32,
                is_spoofed: (rng.below(10) == 0) as u8,
                is_masscan: (rng.below(20) == 0) as u8,
                geo: geo.clone(),
                prefix2asn: *asn,
            });
        }
    }
    out
}

/// Runs flowtuple-series; (stdout, stderr, exit code).
pub(crate) fn run(args: &[String]) -> (String, String, i32) {
    let out = crate::util::output(bin("flowtuple-series").args(args));
    let (o, e) = text(&out);
    (o, e, out.status.code().unwrap_or(-1))
}

pub(crate) fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// What the v3 output says that flowtuple4 can say: no `bytes`, no
/// source-port classes, destinations counted as networks (`uniq_dst_ips`
/// under `prefixagg:N` renamed), in every format.
fn v4_view(format: &str, v3: &str, n: u8) -> String {
    let src_ports = |l: &str| l.contains("tcp_src_ports") || l.contains("udp_src_ports");
    let mut out = String::new();
    for (i, line) in v3.lines().enumerate() {
        let kept = match format {
            "seed" => {
                let f: Vec<&str> = line.split(' ').collect();
                if f[3] == "bytes" || src_ports(line) {
                    continue;
                }
                line.replace(" uniq_dst_ips ", &format!(" uniq_dst_net{n}s "))
            }
            "timeseries" => {
                if line.contains(".ip_len ") || line.contains(".src_port.") {
                    continue;
                }
                line.replace(".uniq_dst_ip ", &format!(".uniq_dst_net{n} "))
            }
            "jsonl" => {
                if src_ports(line) {
                    continue;
                }
                let at = line.find(",\"bytes\":").unwrap();
                let end = at + 1 + line[at + 1..].find(',').unwrap();
                format!("{}{}", &line[..at], &line[end..])
                    .replace("\"uniq_dst_ips\"", &format!("\"uniq_dst_net{n}s\""))
            }
            "csv" => {
                if i > 0 && src_ports(line) {
                    continue;
                }
                let mut f: Vec<String> = line.split(',').map(String::from).collect();
                f.remove(4);
                f.join(",")
                    .replace("uniq_dst_ips", &format!("uniq_dst_net{n}s"))
            }
            _ => unreachable!(),
        };
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Converts `records` (one v3 file) and writes the flowtuple4 files into
/// `dir`, in time order.
fn convert(records: &[V3], conv: Conv, dir: &Path) -> Vec<PathBuf> {
    let mut c = Converter::new(conv);
    c.add(records);
    c.finish()
        .into_iter()
        .map(|(t, bytes)| {
            let p = dir.join(format!("ucsd-nt.{t}.ft4.avro"));
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect()
}

/// The v3 records with the times of the flowtuple4 intervals ftconvert
/// `-I minutes` writes them in: the first record's `ts - ts % step` up to
/// (not including) `ts + step`, then steps of `step` (so unaligned after an
/// unaligned start); records are written with the interval current when
/// they are written, and a record while the interval is 0 (`time` 0) starts
/// it afresh (ftconvert tests `interval == 0` for "not started"), so
/// time-0 records join the next interval.
fn regroup(records: &[V3], minutes: u32) -> Vec<V3> {
    let step = minutes * 60;
    let (mut interval, mut next) = (0, 0);
    let mut out: Vec<V3> = Vec::new();
    let mut pending = 0;
    for r in records {
        if interval == 0 {
            interval = r.time - r.time % step;
            next = r.time + step;
        }
        while r.time >= next {
            for w in &mut out[pending..] {
                w.time = interval;
            }
            pending = out.len();
            interval = next;
            next += step;
        }
        out.push(r.clone());
    }
    for w in &mut out[pending..] {
        w.time = interval;
    }
    out
}

/// The cross-check of one conversion: for each (mode, options) case and
/// format, flowtuple-series on the flowtuple4 files equals its v3 output
/// seen through [`v4_view`]. Returns how many comparisons were made.
fn cross_check(records: &[V3], conv: Conv, cases: &[(&str, Vec<&str>)], formats: &[&str]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let v3 = dir.path().join("v3.avro");
    std::fs::write(&v3, v3::write_v3(&regroup(records, conv.minutes))).unwrap();
    let files = convert(records, conv, dir.path());
    assert!(!files.is_empty());
    let length = (conv.minutes * 60).to_string();
    let mut compared = 0;
    for (mode, extra) in cases {
        for format in formats {
            // `--dst-ip-counting prefixagg:16` on a /24 file: coarser networks.
            let dst = extra
                .iter()
                .position(|a| *a == "--dst-ip-counting")
                .map(|i| {
                    extra[i + 1]
                        .trim_start_matches("prefixagg:")
                        .parse::<u8>()
                        .unwrap()
                })
                .unwrap_or(conv.dst_net);
            let mut common = strings(&[
                "--mode",
                mode,
                "--format",
                format,
                "--interval-length",
                &length,
            ]);
            common.extend(extra.iter().map(|s| s.to_string()));
            let mut a3 = common.clone();
            if !extra.contains(&"--dst-ip-counting") {
                a3.extend(strings(&["--dst-ip-counting", &format!("prefixagg:{dst}")]));
            }
            a3.push(v3.display().to_string());
            let mut a4 = common.clone();
            a4.extend(strings(&["--dst-net", &conv.dst_net.to_string()]));
            a4.extend(files.iter().map(|f| f.display().to_string()));
            let ((o3, e3, c3), (o4, e4, c4)) = std::thread::scope(|s| {
                let v3 = s.spawn(|| run(&a3));
                (v3.join().unwrap(), run(&a4))
            });
            assert_eq!((c3, c4), (0, 0), "{a3:?}: {e3}\n{a4:?}: {e4}");
            assert!(o4.lines().count() > 10, "{a4:?}: {o4}");
            let want = v4_view(format, &o3, dst);
            if want != o4 {
                let diff = want
                    .lines()
                    .zip(o4.lines())
                    .find(|(a, b)| a != b)
                    .map(|(a, b)| format!("v3 says {a}\nv4 says {b}"))
                    .unwrap_or_else(|| {
                        format!("{} vs {} lines", want.lines().count(), o4.lines().count())
                    });
                panic!("{conv:?} {mode} {extra:?} {format}: first difference:\n{diff}");
            }
            compared += 1;
        }
    }
    compared
}

pub(crate) fn conv(version: Version, dst_net: u8, minutes: u32) -> Conv {
    Conv {
        version,
        dst_net,
        minutes,
        deflate: true,
        block_records: 50,
    }
}

fn cases(version: Version) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut c = vec![
        ("unfiltered", vec![]),
        ("unfiltered", vec!["--src-ip-counting", "prefixagg:24"]),
        ("unfiltered", vec!["--src-ip-counting", "sample:28"]),
        (
            "unfiltered",
            vec![
                "--compat",
                "report",
                "--tcp-dst-ports",
                "0-100",
                "--udp-dst-ports",
                "50-130",
            ],
        ),
        ("unfiltered", vec!["--dst-ip-counting", "prefixagg:16"]),
        ("unfiltered-ipmeta", vec![]),
        ("unfiltered-ipmeta", vec!["--compat", "report"]),
        (
            "unfiltered-ipmeta",
            vec!["--compat", "report", "--src-ip-counting", "sample:28"],
        ),
        (
            "unfiltered-ipmeta",
            vec!["--src-ip-counting", "prefixagg:20"],
        ),
    ];
    match version {
        // Every case on the current layout; the older ones differ only in
        // their fields (Early: no MaxMind tags).
        Version::V2 => {
            c.push(("unfiltered-ipmeta", vec!["--geo", "both"]));
            c
        }
        Version::V1 => vec![
            c.swap_remove(2),
            ("unfiltered-ipmeta", vec!["--geo", "maxmind"]),
        ],
        Version::Early => vec![c.swap_remove(0), c.swap_remove(5)],
    }
}

#[test]
fn converted_series_equal_the_v3_series_generated() {
    // 1700000160 is not a multiple of 300: ftconvert's -I 5 intervals are
    // 1700000100 to 1700000460, then 300 s from there (see `regroup`).
    let mut records = generate(14, 1_700_000_160, 6, 300);
    records.extend(generate(15, 1_700_000_700, 6, 200));
    let mut compared = 0;
    for version in [Version::Early, Version::V1, Version::V2] {
        for dst_net in [24, 16] {
            for minutes in [1, 5] {
                compared += cross_check(
                    &records,
                    conv(version, dst_net, minutes),
                    &cases(version),
                    &["seed"],
                );
            }
        }
    }
    assert_eq!(compared, 2 * 2 * (2 + 2 + 10));
}

#[test]
fn converted_series_equal_the_v3_series_in_every_format() {
    let records = generate(7, 1_700_000_100, 6, 300);
    let cases = vec![
        ("unfiltered", vec![]),
        ("unfiltered-ipmeta", vec!["--geo", "both"]),
    ];
    let n = cross_check(
        &records,
        conv(Version::V2, 24, 1),
        &cases,
        &["timeseries", "jsonl", "csv"],
    );
    assert_eq!(n, 6);
}

/// The golden v3 fixtures, made convertible: destinations moved into 44/8
/// (first octet replaced), every record given its source's first record's
/// geo tags and ASN, tags of other than two bytes as `??`, ICMP records with
/// a type or code over 255 left out (libcorsaro's key holds a byte each).
fn golden(name: &str) -> Vec<V3> {
    let records = v3::read_v3(&std::fs::read(testdata(&format!("flowtuple/{name}"))).unwrap());
    let mut first: std::collections::HashMap<u32, ([String; 4], u32)> = Default::default();
    records
        .into_iter()
        .filter(|r| r.protocol != 1 || (r.src_port < 256 && r.dst_port < 256))
        .map(|mut r| {
            r.dst_ip = 0x2c00_0000 | (r.dst_ip & 0x00ff_ffff);
            for g in &mut r.geo {
                if g.len() != 2 {
                    *g = "??".into();
                }
            }
            let (geo, asn) = first
                .entry(r.src_ip)
                .or_insert((r.geo.clone(), r.prefix2asn))
                .clone();
            r.geo = geo;
            r.prefix2asn = asn;
            r
        })
        .collect()
}

#[test]
fn converted_series_equal_the_v3_series_golden_fixtures() {
    let mut compared = 0;
    for name in ["small-deflate.avro", "minutes.avro", "report.avro"] {
        let records = golden(name);
        assert!(records.len() > 10, "{name}");
        for dst_net in [24, 16] {
            for version in [Version::V1, Version::V2] {
                let cases = vec![
                    ("unfiltered", vec![]),
                    ("unfiltered", vec!["--src-ip-counting", "sample:24"]),
                    ("unfiltered-ipmeta", vec!["--geo", "both"]),
                    ("unfiltered-ipmeta", vec!["--compat", "report"]),
                ];
                compared += cross_check(&records, conv(version, dst_net, 1), &cases, &["seed"]);
            }
        }
    }
    assert_eq!(compared, 3 * 2 * 2 * 4);
}
