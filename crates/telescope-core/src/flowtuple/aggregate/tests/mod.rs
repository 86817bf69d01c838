//! Unit tests of the aggregation, with their shared helpers: records,
//! blocks, runs, and a naive aggregation to check against.

use super::*;
use crate::flowtuple::decode::Run;
use crate::flowtuple::error::RunError;
use crate::flowtuple::filter::{is_popular_port, Transport};
use crate::flowtuple::options::{Class, Compat, IpCounting, PortSet};
use crate::flowtuple::options::{GeoSource, Mode, PortFilters, SeriesOptions};
use crate::flowtuple::record::GeoTag;
use crate::flowtuple::series::{Counters, Key};
use std::collections::{BTreeMap, BTreeSet};
use telescope_test_support::rng::{Random, SplitMix64 as Rng};

mod agreement;
mod intervals;
mod spill;

fn rec(time: i64, src: u32, dst: u32, sport: i32, dport: i32, asn: u32) -> FlowRecord {
    FlowRecord {
        time,
        packet_cnt: 2,
        prefix2asn: asn,
        src_ip: src,
        dst_ip: dst,
        src_port: sport,
        dst_port: dport,
        protocol: 6,
        ip_len: 40,
        ..FlowRecord::default()
    }
}

/// One block holding `records` (all kept), runs derived from `time`.
pub(super) fn block(records: Vec<FlowRecord>) -> DecodedBlock {
    let mut runs: Vec<Run> = Vec::new();
    for r in &records {
        match runs.last_mut() {
            Some(run) if run.time == r.time => run.kept += 1,
            _ => runs.push(Run {
                time: r.time,
                kept: 1,
            }),
        }
    }
    DecodedBlock {
        total: records.len() as u64,
        runs,
        records,
    }
}

fn run_opts(
    options: &SeriesOptions,
    blocks: &[DecodedBlock],
    threads: usize,
) -> Result<Vec<IntervalSeries>, FlowtupleError> {
    let mut agg = Aggregator::new(options, threads);
    let mut out = Vec::new();
    let mut emit = |iv| {
        out.push(iv);
        Ok::<(), FlowtupleError>(())
    };
    let pos = Position {
        offset: 0,
        block: Some(0),
    };
    for b in blocks {
        agg.push_block(b, pos, &mut emit)
            .map_err(RunError::flatten)?;
    }
    agg.finish(&mut emit).map_err(RunError::flatten)?;
    Ok(out)
}

fn run_all(
    mode: Mode,
    blocks: Vec<DecodedBlock>,
    threads: usize,
) -> Result<Vec<IntervalSeries>, FlowtupleError> {
    run_opts(&SeriesOptions::new(mode), &blocks, threads)
}

fn find(iv: &IntervalSeries, class: Class, key: Key) -> Counters {
    iv.rows
        .iter()
        .find(|r| r.class == class && r.key == key)
        .map(|r| r.counters)
        .unwrap_or_else(|| panic!("no {class:?} {key:?}"))
}

/// Every mode, geo source and counting method (distinct addresses, /`bits`
/// prefixes, a /30 sample), nested in that order, with the options that
/// count sources and destinations alike that way.
fn option_grid(bits: u8) -> Vec<(Mode, GeoSource, IpCounting, SeriesOptions)> {
    let mut grid = Vec::new();
    for mode in Mode::ALL {
        for geo in [GeoSource::Netacq, GeoSource::Maxmind, GeoSource::Both] {
            for counting in [
                IpCounting::All,
                IpCounting::PrefixAgg(bits),
                IpCounting::Sample(30),
            ] {
                let mut options = SeriesOptions::new(mode);
                options.geo = geo;
                options.src_counting = counting;
                options.dst_counting = counting;
                grid.push((mode, geo, counting, options));
            }
        }
    }
    grid
}

/// The keys of `class`'s rows in `iv`, in the order printed.
fn class_keys(iv: &IntervalSeries, class: Class) -> Vec<Key> {
    iv.rows
        .iter()
        .filter(|r| r.class == class)
        .map(|r| r.key)
        .collect()
}

fn tag(s: &str) -> GeoTag {
    GeoTag::from_bytes(s.as_bytes()).unwrap()
}

/// Random records over small value ranges, so that values repeat
/// within and across series.
fn random_records(n: usize, seed: &mut Rng) -> Vec<FlowRecord> {
    // Tags of one, two, three and sixteen bytes: ids of short tags come
    // from a table by their bytes, longer ones from a map.
    let conts = ["EU", "NA", "AS", "??", "E", "Europe-sixteen-b"];
    let countries = [
        "FR",
        "US",
        "CN",
        "DE",
        "??",
        "BR",
        "FRA",
        "U",
        "ZZZZZZZZZZZZZZZZ",
    ];
    (0..n)
        .map(|_| {
            let proto = [6, 17, 1, 47, 6, 6, 17][seed.below(7) as usize];
            let port = |seed: &mut Rng| match seed.below(10) {
                0 => -(seed.below(3) as i32) - 1,
                1 => 65_536 + seed.below(3) as i32,
                2..=5 => seed.below(1100) as i32,
                _ => seed.below(65_536) as i32,
            };
            FlowRecord {
                time: 7,
                packet_cnt: match seed.below(50) {
                    0 => i64::MAX,
                    1 => i64::MIN,
                    _ => seed.below(1000) as i64 - 10,
                },
                prefix2asn: [0, 1, 2, 70_000, u32::MAX][seed.below(5) as usize],
                src_ip: seed.below(300) as u32 * 7919,
                dst_ip: 0x2c00_0000 | (seed.below(500) as u32),
                src_port: port(seed),
                dst_port: port(seed),
                protocol: proto,
                ip_len: match seed.below(50) {
                    0 => i32::MAX,
                    1 => i32::MIN,
                    _ => seed.below(1500) as i32,
                },
                is_spoofed: 0,
                is_masscan: 0,
                netacq: [
                    tag(conts[seed.below(conts.len() as u64) as usize]),
                    tag(countries[seed.below(countries.len() as u64) as usize]),
                ],
                maxmind: [
                    tag(conts[seed.below(conts.len() as u64) as usize]),
                    tag(countries[seed.below(countries.len() as u64) as usize]),
                ],
            }
        })
        .collect()
}

/// The series computed the obvious way: sets per (class, key).
// A test oracle, kept in one piece to be read against the rules.
#[allow(clippy::too_many_lines)]
fn naive(options: &SeriesOptions, records: &[FlowRecord]) -> Vec<SeriesRow> {
    type Acc = (i128, i128, BTreeSet<u32>, BTreeSet<u32>, BTreeSet<u32>);
    let mut series: BTreeMap<(usize, Key), (Acc, Option<GeoTag>)> = BTreeMap::new();
    // Report rules with `prefixagg`: per series, the ASN of each source
    // aggregate's first record.
    let first_asns = options.compat == Compat::Report
        && matches!(options.src_counting, IpCounting::PrefixAgg(_));
    let mut firsts: BTreeMap<(usize, Key), BTreeMap<u32, u32>> = BTreeMap::new();
    let classes = options.mode.classes(options.geo);
    for r in records {
        let mut keys: Vec<(Class, Key, Option<GeoTag>)> = Vec::new();
        for &class in &classes {
            let transport = match r.protocol {
                6 => Some(Transport::Tcp),
                17 => Some(Transport::Udp),
                _ => None,
            };
            let popular = |p: i32| {
                !options.mode.popular_ports_only()
                    || transport.is_some_and(|t| is_popular_port(t, p))
            };
            let kept = |set: &Option<PortSet>, p: i32| {
                popular(p) && set.as_ref().is_none_or(|s| s.contains(p))
            };
            let ports = &options.ports;
            let key = match class {
                Class::Summary => Some(Key::Overall),
                Class::IpProtocol => Some(Key::Number(i64::from(r.protocol))),
                Class::TcpSrcPorts if r.protocol == 6 && kept(&ports.tcp_src, r.src_port) => {
                    Some(Key::Number(i64::from(r.src_port)))
                }
                Class::TcpDstPorts if r.protocol == 6 && kept(&ports.tcp_dst, r.dst_port) => {
                    Some(Key::Number(i64::from(r.dst_port)))
                }
                Class::UdpSrcPorts if r.protocol == 17 && kept(&ports.udp_src, r.src_port) => {
                    Some(Key::Number(i64::from(r.src_port)))
                }
                Class::UdpDstPorts if r.protocol == 17 && kept(&ports.udp_dst, r.dst_port) => {
                    Some(Key::Number(i64::from(r.dst_port)))
                }
                Class::Icmp if r.protocol == 1 => Some(Key::Icmp(r.src_port, r.dst_port)),
                Class::Asn if r.prefix2asn != 0 => Some(Key::Number(i64::from(r.prefix2asn))),
                Class::NetacqContinents => Some(Key::Geo(r.netacq[0])),
                Class::NetacqCountries => {
                    keys.push((class, Key::Geo(r.netacq[1]), Some(r.netacq[0])));
                    None
                }
                Class::MaxmindContinents => Some(Key::Geo(r.maxmind[0])),
                Class::MaxmindCountries => {
                    keys.push((class, Key::Geo(r.maxmind[1]), Some(r.maxmind[0])));
                    None
                }
                _ => None,
            };
            if let Some(key) = key {
                keys.push((class, key, None));
            }
        }
        for (class, key, continent) in keys {
            let rank = classes.iter().position(|&c| c == class).unwrap();
            let (acc, cont) = series.entry((rank, key)).or_default();
            if cont.is_none() {
                *cont = continent;
            }
            acc.0 += i128::from(r.packet_cnt);
            acc.1 += i128::from(r.packet_cnt) * i128::from(r.ip_len);
            let src = options.src_counting.count_key(r.src_ip, 0);
            if let Some(s) = src {
                acc.2.insert(s);
            }
            if let Some(d) = options.dst_counting.count_key(r.dst_ip, 0) {
                acc.3.insert(d);
            }
            // Report rules (no geo, `all` or `sample`): non-zero ASNs
            // of records whose source counts.
            if first_asns {
                if let Some(s) = src {
                    let first = firsts.entry((rank, key)).or_default();
                    first.entry(s).or_insert(r.prefix2asn);
                }
            } else if options.compat == Compat::Script || (src.is_some() && r.prefix2asn != 0) {
                acc.4.insert(r.prefix2asn);
            }
        }
    }
    if classes.contains(&Class::Summary) {
        series.entry((0, Key::Overall)).or_default();
    }
    for (series_key, first) in firsts {
        let acc = &mut series.get_mut(&series_key).unwrap().0;
        acc.4 = first.into_values().filter(|&asn| asn != 0).collect();
    }
    series
        .into_iter()
        .map(|((rank, key), (acc, continent))| SeriesRow {
            class: classes[rank],
            key,
            continent,
            counters: Counters {
                packets: acc.0,
                bytes: acc.1,
                uniq_src_ips: acc.2.len() as u64,
                uniq_dst_ips: acc.3.len() as u64,
                uniq_src_asns: acc.4.len() as u64,
            },
        })
        .collect()
}

fn list(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// Script rules counting every source, and report rules counting
/// `prefixagg:24` sources (whose items carry first ASNs): the two ways
/// source items are filed.
const SOURCE_RULES: [(Mode, IpCounting, Compat); 2] = [
    (Mode::Unfiltered, IpCounting::All, Compat::Script),
    (Mode::Nonspoofed, IpCounting::PrefixAgg(24), Compat::Report),
];
