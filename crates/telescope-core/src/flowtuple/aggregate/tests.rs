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

#[test]
fn negative_and_wide_ports_are_exact_and_ordered() {
    let big = u32::MAX;
    let records = vec![
        rec(10, 1, 100, -5, 80, 7),
        rec(10, 2, 100, -5, 80, big),
        rec(10, 1, 101, 70_000, 80, big),
        rec(10, 3, 102, 0, 80, 7),
    ];
    for threads in [1, 2] {
        let out = run_all(Mode::Unfiltered, vec![block(records.clone())], threads).unwrap();
        assert_eq!(out.len(), 1);
        let iv = &out[0];
        let src_keys: Vec<Key> = iv
            .rows
            .iter()
            .filter(|r| r.class == Class::TcpSrcPorts)
            .map(|r| r.key)
            .collect();
        assert_eq!(
            src_keys,
            vec![Key::Number(-5), Key::Number(0), Key::Number(70_000)]
        );
        let c = find(iv, Class::TcpSrcPorts, Key::Number(-5));
        assert_eq!(c.tuple(), (4, 160, 2, 1, 2));
        let c = find(iv, Class::TcpDstPorts, Key::Number(80));
        assert_eq!(c.tuple(), (8, 320, 3, 3, 2));
        let c = find(iv, Class::Summary, Key::Overall);
        assert_eq!(c.tuple(), (8, 320, 3, 3, 2));
    }
}

#[test]
fn asn_class_keys_span_32_bits_and_skip_zero() {
    let records = vec![
        rec(10, 1, 100, 1, 2, 0),
        rec(10, 1, 100, 1, 2, u32::MAX),
        rec(10, 2, 100, 1, 2, 64_512),
    ];
    let out = run_all(Mode::UnfilteredIpmeta, vec![block(records)], 1).unwrap();
    let keys: Vec<Key> = out[0]
        .rows
        .iter()
        .filter(|r| r.class == Class::Asn)
        .map(|r| r.key)
        .collect();
    assert_eq!(
        keys,
        vec![Key::Number(64_512), Key::Number(i64::from(u32::MAX))]
    );
}

#[test]
fn intervals_close_in_order_and_a_reappearing_time_is_an_error() {
    let a = block(vec![
        rec(20, 1, 1, 1, 1, 1),
        rec(20, 2, 1, 1, 1, 1),
        rec(0, 3, 1, 1, 1, 1),
    ]);
    let b = block(vec![rec(0, 4, 1, 1, 1, 1), rec(30, 5, 1, 1, 1, 1)]);
    let out = run_all(Mode::Unfiltered, vec![a, b], 1).unwrap();
    let times: Vec<i64> = out.iter().map(|iv| iv.time).collect();
    assert_eq!(
        times,
        vec![20, 0, 30],
        "file order, 0 is ordinary, a run may span blocks"
    );
    assert_eq!(find(&out[1], Class::Summary, Key::Overall).uniq_src_ips, 2);
    let c = block(vec![
        rec(20, 1, 1, 1, 1, 1),
        rec(30, 1, 1, 1, 1, 1),
        rec(20, 1, 1, 1, 1, 1),
    ]);
    match run_all(Mode::Unfiltered, vec![c], 1) {
        Err(FlowtupleError::IntervalReappears { time: 20, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_interval_with_nothing_counted_prints_a_zero_summary() {
    let mut b = block(vec![rec(10, 1, 1, 1, 1, 1)]);
    b.records.clear();
    b.runs[0].kept = 0;
    let out = run_all(Mode::Nonspoofed, vec![b], 1).unwrap();
    assert_eq!(out[0].rows.len(), 1);
    assert_eq!(out[0].rows[0].class, Class::Summary);
    assert_eq!(out[0].rows[0].counters, Counters::default());
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

#[test]
fn report_asn_rules_agree_with_the_obvious_computation() {
    let mut seed = Rng(5);
    for counting in [
        IpCounting::All,
        IpCounting::Sample(30),
        IpCounting::PrefixAgg(20),
    ] {
        let mut options = SeriesOptions::new(Mode::Unfiltered);
        options.compat = Compat::Report;
        options.src_counting = counting;
        // Enough records that the passes run on several threads.
        let records = random_records(80_000, &mut seed);
        let want = naive(&options, &records);
        let blocks: Vec<DecodedBlock> = records.chunks(333).map(|c| block(c.to_vec())).collect();
        for threads in [1, 2] {
            let got = run_opts(&options, &blocks, threads).unwrap();
            assert_eq!(got[0].rows, want, "{counting:?} threads {threads}");
        }
    }
}

#[test]
fn random_records_agree_with_the_obvious_computation() {
    let mut seed = Rng(99);
    let set = |s: &str| Some(s.parse::<PortSet>().unwrap());
    // Port sets that keep a record's source port, its destination port,
    // both or neither. The configurations cover items of 2 to 6 keys.
    let some_ports = PortFilters {
        tcp_src: set("0-1024,8080"),
        tcp_dst: None,
        udp_src: set("53"),
        udp_dst: set("0-600,40000-65535"),
    };
    for (mode, geo, counting, ports) in [
        (Mode::Unfiltered, GeoSource::Netacq, IpCounting::All, None),
        (Mode::Nonspoofed, GeoSource::Netacq, IpCounting::All, None),
        (
            Mode::UnfilteredIpmeta,
            GeoSource::Both,
            IpCounting::All,
            None,
        ),
        (
            Mode::Unfiltered,
            GeoSource::Netacq,
            IpCounting::PrefixAgg(20),
            None,
        ),
        (
            Mode::Nonspoofed,
            GeoSource::Maxmind,
            IpCounting::Sample(31),
            None,
        ),
        (
            Mode::Unfiltered,
            GeoSource::Netacq,
            IpCounting::All,
            Some(&some_ports),
        ),
        (
            Mode::Nonspoofed,
            GeoSource::Both,
            IpCounting::All,
            Some(&some_ports),
        ),
        (
            Mode::UnroutedNonspoofed,
            GeoSource::Netacq,
            IpCounting::All,
            None,
        ),
        (
            Mode::UnfilteredIpmeta,
            GeoSource::Maxmind,
            IpCounting::Sample(30),
            None,
        ),
    ] {
        let mut options = SeriesOptions::new(mode);
        options.geo = geo;
        options.src_counting = counting;
        options.dst_counting = counting;
        if let Some(ports) = ports {
            options.ports = ports.clone();
        }
        // Enough records that the passes run on several threads.
        let records = random_records(80_000, &mut seed);
        let want = naive(&options, &records);
        let blocks: Vec<DecodedBlock> = records.chunks(333).map(|c| block(c.to_vec())).collect();
        for threads in [1, 2] {
            let got = run_opts(&options, &blocks, threads).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].rows.len(), want.len(), "{mode:?}");
            for (g, w) in got[0].rows.iter().zip(&want) {
                assert_eq!(g, w, "{mode:?} {geo:?} {counting:?} threads {threads}");
            }
        }
    }
}

/// Under a limit small enough to spill every few blocks, every mode,
/// counting method, geo source and rule set gives the same series as in
/// memory, over several intervals, on one and two threads.
#[test]
fn spilled_intervals_equal_unspilled_ones() {
    use crate::flowtuple::options::SpillOptions;
    let mut seed = Rng(17);
    let mut records = random_records(9_000, &mut seed);
    // Three intervals.
    for (i, r) in records.iter_mut().enumerate() {
        r.time = 60 * (i / 3_000) as i64;
    }
    let blocks: Vec<DecodedBlock> = records.chunks(100).map(|c| block(c.to_vec())).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    for mode in Mode::ALL {
        for geo in [GeoSource::Netacq, GeoSource::Maxmind, GeoSource::Both] {
            for counting in [
                IpCounting::All,
                IpCounting::PrefixAgg(24),
                IpCounting::Sample(30),
            ] {
                for compat in [Compat::Script, Compat::Report] {
                    cases.push((mode, geo, counting, compat));
                }
            }
        }
    }
    for (mode, geo, counting, compat) in cases {
        let mut options = SeriesOptions::new(mode);
        options.geo = geo;
        options.src_counting = counting;
        options.dst_counting = counting;
        options.compat = compat;
        let want = run_opts(&options, &blocks, 1).unwrap();
        assert_eq!(want.len(), 3);
        options.spill = Some(SpillOptions {
            // About 8 blocks of items per run: the items of an interval
            // are spilled 4 to 5 times, and some are still in memory.
            limit: 100 * 8 * 60,
            temp_dir: dir.path().to_path_buf(),
        });
        for threads in [1, 2] {
            let mut agg = Aggregator::new(&options, threads);
            let mut got = Vec::new();
            let pos = Position {
                offset: 0,
                block: Some(0),
            };
            for b in &blocks {
                agg.push_block(b, pos, &mut |iv| {
                    got.push(iv);
                    Ok::<(), FlowtupleError>(())
                })
                .unwrap();
            }
            agg.finish(&mut |iv| {
                got.push(iv);
                Ok::<(), FlowtupleError>(())
            })
            .unwrap();
            let what = format!("{mode:?} {geo:?} {counting:?} {compat:?} -j{threads}");
            assert!(agg.spilled() > 0, "{what}: nothing spilled");
            assert!(got == want, "{what}: spilled series differ");
        }
    }
    assert!(list(dir.path()).is_empty(), "temporary files are unlinked");
}

fn list(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// The items written to a run come back the same.
/// Direct ASN tables are reused by the next interval (and run) on a
/// thread: ids of the interval before must not leak into it.
#[test]
fn reused_key_tables_start_empty() {
    let asn_rows = |iv: &IntervalSeries| -> Vec<(Key, u64)> {
        iv.rows
            .iter()
            .filter(|r| r.class == Class::Asn)
            .map(|r| (r.key, r.counters.uniq_src_ips))
            .collect()
    };
    for _ in 0..3 {
        let records = vec![
            rec(0, 1, 9, 1, 2, 5),
            rec(0, 2, 9, 1, 2, 6),
            rec(60, 3, 9, 1, 2, 7),
            rec(60, 4, 9, 1, 2, 6),
            rec(60, 5, 9, 1, 2, 7),
        ];
        let out = run_all(Mode::UnfilteredIpmeta, vec![block(records)], 1).unwrap();
        assert_eq!(
            asn_rows(&out[0]),
            vec![(Key::Number(5), 1), (Key::Number(6), 1)]
        );
        assert_eq!(
            asn_rows(&out[1]),
            vec![(Key::Number(6), 1), (Key::Number(7), 2)]
        );
    }
}

/// Small intervals are counted with renumbered ids ([`super::compact`]):
/// every mode, geo source and counting method agrees with the obvious
/// computation there too.
#[test]
fn small_intervals_agree_with_the_obvious_computation() {
    let mut seed = Rng(23);
    for mode in Mode::ALL {
        for geo in [GeoSource::Netacq, GeoSource::Maxmind, GeoSource::Both] {
            for counting in [
                IpCounting::All,
                IpCounting::PrefixAgg(20),
                IpCounting::Sample(30),
            ] {
                let mut options = SeriesOptions::new(mode);
                options.geo = geo;
                options.src_counting = counting;
                options.dst_counting = counting;
                let records = random_records(3_000, &mut seed);
                let want = naive(&options, &records);
                let blocks: Vec<DecodedBlock> =
                    records.chunks(333).map(|c| block(c.to_vec())).collect();
                let got = run_opts(&options, &blocks, 1).unwrap();
                assert!(got[0].rows == want, "{mode:?} {geo:?} {counting:?}");
            }
        }
    }
    let mut options = SeriesOptions::new(Mode::Unfiltered);
    options.compat = Compat::Report;
    for counting in [IpCounting::All, IpCounting::Sample(30)] {
        options.src_counting = counting;
        let records = random_records(3_000, &mut seed);
        let want = naive(&options, &records);
        let got = run_opts(&options, &[block(records)], 2).unwrap();
        assert!(got[0].rows == want, "report {counting:?}");
    }
}

/// Script rules counting every source, and report rules counting
/// `prefixagg:24` sources (whose items carry first ASNs): the two ways
/// source items are filed.
const SOURCE_RULES: [(Mode, IpCounting, Compat); 2] = [
    (Mode::Unfiltered, IpCounting::All, Compat::Script),
    (Mode::Nonspoofed, IpCounting::PrefixAgg(24), Compat::Report),
];

/// Merging keeps every interval open: the limit bounds their items all
/// together. No interval alone comes near it here, so only the bound on
/// the open intervals spills; the series equal an unlimited run.
#[test]
fn merged_intervals_are_bounded_together() {
    use crate::flowtuple::options::SpillOptions;
    let mut seed = Rng(23);
    let mut records = random_records(6_000, &mut seed);
    // Runs of 10 records cycling through 30 times: 200 records each.
    for (i, r) in records.iter_mut().enumerate() {
        r.time = 60 * ((i / 10) % 30) as i64;
    }
    let blocks: Vec<DecodedBlock> = records.chunks(100).map(|c| block(c.to_vec())).collect();
    let dir = tempfile::tempdir().unwrap();
    let run = |options: &SeriesOptions, threads| {
        let mut agg = Aggregator::merging(options, threads);
        let mut got = Vec::new();
        let pos = Position {
            offset: 0,
            block: Some(0),
        };
        for b in &blocks {
            agg.push_block(b, pos, &mut |_| -> Result<(), FlowtupleError> {
                unreachable!("merging prints at the end")
            })
            .unwrap();
        }
        agg.finish_merged(&mut |iv| {
            got.push(iv);
            Ok::<(), FlowtupleError>(())
        })
        .unwrap();
        (got, agg.spilled())
    };
    for (mode, counting, compat) in SOURCE_RULES {
        let mut options = SeriesOptions::new(mode);
        options.src_counting = counting;
        options.compat = compat;
        let (want, _) = run(&options, 1);
        assert_eq!(want.len(), 30);
        // An interval's 200 records take under 20 KB of items; all 6,000
        // take several times the limit.
        options.spill = Some(SpillOptions {
            limit: 40_000,
            temp_dir: dir.path().to_path_buf(),
        });
        for threads in [1, 2] {
            let (got, spilled) = run(&options, threads);
            assert!(spilled > 0, "{mode:?}: nothing spilled");
            assert!(got == want, "{mode:?} -j{threads}: spilled series differ");
        }
    }
    assert!(list(dir.path()).is_empty());
}

/// Intervals above the size counted on several threads (2^16 records) and
/// buckets past the small-sort path: the series are the same on 1 and 4
/// threads, and spilled (several runs per bucket) on 1 and 3 threads.
#[test]
fn large_intervals_agree_across_threads_and_spills() {
    use crate::flowtuple::options::SpillOptions;
    let mut seed = Rng(5);
    let mut records = random_records(140_000, &mut seed);
    for (i, r) in records.iter_mut().enumerate() {
        r.time = 60 * (i / 70_000) as i64;
        // Many distinct sources, many sharing a /24.
        r.src_ip = r.src_ip.wrapping_mul(2_654_435_761) ^ (i as u32 % 50_000);
    }
    let blocks: Vec<DecodedBlock> = records.chunks(1000).map(|c| block(c.to_vec())).collect();
    let dir = tempfile::tempdir().unwrap();
    for (mode, counting, compat) in SOURCE_RULES {
        let mut options = SeriesOptions::new(mode);
        options.src_counting = counting;
        options.compat = compat;
        let want = run_opts(&options, &blocks, 1).unwrap();
        let what = format!("{mode:?} {counting:?} {compat:?}");
        assert!(
            run_opts(&options, &blocks, 4).unwrap() == want,
            "{what}: -j4"
        );
        options.spill = Some(SpillOptions {
            limit: 200_000,
            temp_dir: dir.path().to_path_buf(),
        });
        for threads in [1, 3] {
            let got = run_opts(&options, &blocks, threads).unwrap();
            assert!(got == want, "{what}: spilled -j{threads}");
        }
    }
    assert!(list(dir.path()).is_empty());
}
