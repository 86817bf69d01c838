//! Aggregation of filtered records into per-interval series.

use std::hash::Hash;

use rustc_hash::{FxHashMap, FxHashSet};

use super::decode::DecodedBlock;
use super::distinct::IpSet;
use super::error::{FlowtupleError, Position};
use super::filter::{is_popular_port, Transport};
use super::options::{Class, IpCounting, PortSet, SeriesOptions};
use super::record::{FlowRecord, GeoTag};
use super::series::{Counters, IntervalSeries, Key, SeriesRow};
use super::wide::WideClass;

/// The running counters of one series.
#[derive(Default)]
struct KeyAgg {
    packets: i128,
    bytes: i128,
    src: IpSet,
    dst: IpSet,
    asns: FxHashSet<u32>,
}

/// What one record contributes, computed once and added to every series the
/// record touches.
struct Contribution {
    packets: i128,
    bytes: i128,
    src: Option<u32>,
    dst: Option<u32>,
    asn: u32,
}

impl KeyAgg {
    /// Loads the set memory `rec` will touch (see [`IpSet::warm`]).
    #[inline]
    fn warm(&self, (src, dst, ordinal): (IpCounting, IpCounting, u64), rec: &FlowRecord) {
        if let Some(v) = src.count_key(rec.src_ip, ordinal) {
            self.src.warm(v);
        }
        if let Some(v) = dst.count_key(rec.dst_ip, ordinal) {
            self.dst.warm(v);
        }
    }

    #[inline]
    fn add(&mut self, c: &Contribution) {
        self.packets += c.packets;
        self.bytes += c.bytes;
        if let Some(s) = c.src {
            self.src.insert(s);
        }
        if let Some(d) = c.dst {
            self.dst.insert(d);
        }
        self.asns.insert(c.asn);
    }

    fn counters(&self) -> Counters {
        Counters {
            packets: self.packets,
            bytes: self.bytes,
            uniq_src_ips: self.src.len(),
            uniq_dst_ips: self.dst.len(),
            uniq_src_asns: self.asns.len() as u64,
        }
    }
}

type ClassMap<K> = FxHashMap<K, KeyAgg>;

#[inline]
fn touch<K: Hash + Eq>(map: &mut ClassMap<K>, key: K, c: &Contribution) {
    map.entry(key).or_default().add(c);
}

/// A country series also remembers the continent it was first seen with.
type CountryMap = FxHashMap<GeoTag, (GeoTag, KeyAgg)>;

#[inline]
fn touch_country(map: &mut CountryMap, [continent, country]: [GeoTag; 2], c: &Contribution) {
    map.entry(country)
        .or_insert_with(|| (continent, KeyAgg::default()))
        .1
        .add(c);
}

/// A class with many numeric keys: the fast [`WideClass`] for keys that fit
/// in 32 bits, ordinary per-key sets for the rest (negative ports). The
/// choice depends on the key alone, so a key is never split.
#[derive(Default)]
struct Wide {
    fast: WideClass,
    rest: ClassMap<i64>,
}

impl Wide {
    #[inline]
    fn add(&mut self, key: i64, c: &Contribution) {
        match u32::try_from(key) {
            Ok(k) => self.fast.add(k, c.packets, c.bytes, c.src, c.dst, c.asn),
            Err(_) => touch(&mut self.rest, key, c),
        }
    }

    /// Counters of every key, ascending.
    fn finish(self) -> Vec<(i64, Counters)> {
        let mut rows: Vec<(i64, Counters)> = self
            .fast
            .finish()
            .into_iter()
            .map(|(k, c)| (i64::from(k), c))
            .chain(self.rest.iter().map(|(&k, a)| (k, a.counters())))
            .collect();
        if !self.rest.is_empty() {
            rows.sort_unstable_by_key(|r| r.0);
        }
        rows
    }
}

/// The series of the interval being read.
#[derive(Default)]
struct IntervalAgg {
    summary: KeyAgg,
    protocols: ClassMap<i32>,
    tcp_src: Wide,
    tcp_dst: Wide,
    udp_src: Wide,
    udp_dst: Wide,
    icmp: ClassMap<(i32, i32)>,
    netacq_continents: ClassMap<GeoTag>,
    netacq_countries: CountryMap,
    maxmind_continents: ClassMap<GeoTag>,
    maxmind_countries: CountryMap,
    asns: Wide,
}

/// Warms the sets of a record's continent and country series.
#[inline]
fn warm_geo(
    continents: &ClassMap<GeoTag>,
    countries: &CountryMap,
    [continent, country]: [GeoTag; 2],
    counting: (IpCounting, IpCounting, u64),
    rec: &FlowRecord,
) {
    if let Some(a) = continents.get(&continent) {
        a.warm(counting, rec);
    }
    if let Some((_, a)) = countries.get(&country) {
        a.warm(counting, rec);
    }
}

/// Which classes are on, resolved once from the options.
#[derive(Default)]
struct Enabled {
    summary: bool,
    protocols: bool,
    ports: bool,
    icmp: bool,
    netacq: bool,
    maxmind: bool,
    asns: bool,
}

/// Turns the filtered records of a file, block by block, into complete
/// interval series, handed to a callback as each interval ends.
pub struct Aggregator {
    classes: Vec<Class>,
    rules: Rules,
    current: Option<(i64, IntervalAgg)>,
    done: FxHashSet<i64>,
    ordinal: u64,
    parallel: bool,
}

impl Aggregator {
    /// An aggregator for `options`; `threads` > 1 finishes intervals on
    /// several threads.
    pub fn new(options: &SeriesOptions, threads: usize) -> Aggregator {
        let classes = options.mode.classes(options.geo);
        let has = |c: Class| classes.contains(&c);
        let on = Enabled {
            summary: has(Class::Summary),
            protocols: has(Class::IpProtocol),
            ports: has(Class::TcpSrcPorts),
            icmp: has(Class::Icmp),
            netacq: has(Class::NetacqContinents),
            maxmind: has(Class::MaxmindContinents),
            asns: has(Class::Asn),
        };
        let p = &options.ports;
        let rules = Rules {
            on,
            popular_only: options.mode.popular_ports_only(),
            ports: [
                p.tcp_src.clone(),
                p.tcp_dst.clone(),
                p.udp_src.clone(),
                p.udp_dst.clone(),
            ],
            src_counting: options.src_counting,
            dst_counting: options.dst_counting,
        };
        Aggregator {
            rules,
            classes,
            current: None,
            done: FxHashSet::default(),
            ordinal: 0,
            parallel: threads > 1,
        }
    }

    /// Adds a decoded block; every interval it completes is passed to `emit`.
    pub fn push_block<E>(
        &mut self,
        block: &DecodedBlock,
        pos: Position,
        emit: &mut E,
    ) -> Result<(), FlowtupleError>
    where
        E: FnMut(IntervalSeries) -> Result<(), FlowtupleError>,
    {
        let mut start = 0;
        for run in &block.runs {
            if self.current.as_ref().map(|(t, _)| *t) != Some(run.time) {
                self.close(emit)?;
                if self.done.contains(&run.time) {
                    return Err(FlowtupleError::IntervalReappears {
                        time: run.time,
                        at: pos,
                    });
                }
                self.current = Some((run.time, IntervalAgg::default()));
            }
            let records = &block.records[start..start + run.kept];
            start += run.kept;
            let ordinal = self.ordinal;
            if let Some((_, agg)) = self.current.as_mut() {
                // Warm the big sets for a batch, then add the batch: the
                // cache misses of the batch overlap.
                for batch in records.chunks(16) {
                    batch
                        .iter()
                        .for_each(|rec| self.rules.warm(agg, ordinal, rec));
                    batch
                        .iter()
                        .for_each(|rec| self.rules.add(agg, ordinal, rec));
                }
            }
        }
        Ok(())
    }

    /// Ends the input: the last interval is complete.
    pub fn finish<E>(&mut self, emit: &mut E) -> Result<(), FlowtupleError>
    where
        E: FnMut(IntervalSeries) -> Result<(), FlowtupleError>,
    {
        self.close(emit)
    }

    fn close<E>(&mut self, emit: &mut E) -> Result<(), FlowtupleError>
    where
        E: FnMut(IntervalSeries) -> Result<(), FlowtupleError>,
    {
        if let Some((time, agg)) = self.current.take() {
            self.done.insert(time);
            self.ordinal += 1;
            emit(IntervalSeries {
                time,
                rows: rows(&self.classes, agg, self.parallel),
            })?;
        }
        Ok(())
    }
}

/// How records update series, resolved once from the options.
struct Rules {
    on: Enabled,
    popular_only: bool,
    ports: [Option<PortSet>; 4],
    src_counting: IpCounting,
    dst_counting: IpCounting,
}

impl Rules {
    /// Loads the big sets `rec` will touch (see [`IpSet::warm`]).
    #[inline]
    fn warm(&self, agg: &IntervalAgg, ordinal: u64, rec: &FlowRecord) {
        let counting = (self.src_counting, self.dst_counting, ordinal);
        if self.on.summary {
            agg.summary.warm(counting, rec);
        }
        if self.on.protocols {
            if let Some(a) = agg.protocols.get(&rec.protocol) {
                a.warm(counting, rec);
            }
        }
        if self.on.netacq {
            warm_geo(
                &agg.netacq_continents,
                &agg.netacq_countries,
                rec.netacq,
                counting,
                rec,
            );
        }
        if self.on.maxmind {
            warm_geo(
                &agg.maxmind_continents,
                &agg.maxmind_countries,
                rec.maxmind,
                counting,
                rec,
            );
        }
    }

    /// Adds `rec` to every series it touches.
    #[inline]
    fn add(&self, agg: &mut IntervalAgg, ordinal: u64, rec: &FlowRecord) {
        let Rules {
            on,
            popular_only,
            ports,
            src_counting,
            dst_counting,
        } = self;
        let popular_only = *popular_only;
        let c = Contribution {
            packets: i128::from(rec.packet_cnt),
            bytes: i128::from(rec.packet_cnt) * i128::from(rec.ip_len),
            src: src_counting.count_key(rec.src_ip, ordinal),
            dst: dst_counting.count_key(rec.dst_ip, ordinal),
            asn: rec.prefix2asn,
        };
        if on.summary {
            agg.summary.add(&c);
        }
        if on.protocols {
            touch(&mut agg.protocols, rec.protocol, &c);
        }
        if on.ports {
            let port_maps = match rec.protocol {
                6 => Some((
                    Transport::Tcp,
                    &ports[0],
                    &ports[1],
                    &mut agg.tcp_src,
                    &mut agg.tcp_dst,
                )),
                17 => Some((
                    Transport::Udp,
                    &ports[2],
                    &ports[3],
                    &mut agg.udp_src,
                    &mut agg.udp_dst,
                )),
                _ => None,
            };
            if let Some((transport, src_set, dst_set, src_map, dst_map)) = port_maps {
                let wanted = |port: i32, set: &Option<PortSet>| {
                    (!popular_only || is_popular_port(transport, port))
                        && set.as_ref().is_none_or(|s| s.contains(port))
                };
                if wanted(rec.src_port, src_set) {
                    src_map.add(i64::from(rec.src_port), &c);
                }
                if wanted(rec.dst_port, dst_set) {
                    dst_map.add(i64::from(rec.dst_port), &c);
                }
            }
        }
        if on.icmp && rec.protocol == 1 {
            touch(&mut agg.icmp, (rec.src_port, rec.dst_port), &c);
        }
        if on.netacq {
            touch(&mut agg.netacq_continents, rec.netacq[0], &c);
            touch_country(&mut agg.netacq_countries, rec.netacq, &c);
        }
        if on.maxmind {
            touch(&mut agg.maxmind_continents, rec.maxmind[0], &c);
            touch_country(&mut agg.maxmind_countries, rec.maxmind, &c);
        }
        if on.asns && rec.prefix2asn != 0 {
            agg.asns.add(i64::from(rec.prefix2asn), &c);
        }
    }
}

/// The interval's rows: classes in order, keys ascending. The wide classes
/// are finished on separate threads when `parallel`.
fn rows(classes: &[Class], agg: IntervalAgg, parallel: bool) -> Vec<SeriesRow> {
    let IntervalAgg {
        summary,
        protocols,
        tcp_src,
        tcp_dst,
        udp_src,
        udp_dst,
        icmp,
        netacq_continents,
        netacq_countries,
        maxmind_continents,
        maxmind_countries,
        asns,
    } = agg;
    let wide = [tcp_src, tcp_dst, udp_src, udp_dst, asns];
    let [tcp_src, tcp_dst, udp_src, udp_dst, asns]: [Vec<(i64, Counters)>; 5] = if parallel {
        std::thread::scope(|s| {
            let handles: Vec<_> = wide
                .into_iter()
                .map(|w| s.spawn(move || w.finish()))
                .collect();
            let done: Vec<_> = handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect();
            done.try_into()
                .unwrap_or_else(|_| unreachable!("five classes in, five out"))
        })
    } else {
        wide.map(Wide::finish)
    };
    let mut out = Vec::new();
    for &class in classes {
        let start = out.len();
        let mut push = |key: Key, continent: Option<GeoTag>, counters: Counters| {
            out.push(SeriesRow {
                class,
                key,
                continent,
                counters,
            })
        };
        let numbered =
            |rows: &[(i64, Counters)], push: &mut dyn FnMut(Key, Option<GeoTag>, Counters)| {
                rows.iter()
                    .for_each(|&(k, c)| push(Key::Number(k), None, c))
            };
        match class {
            Class::Summary => push(Key::Overall, None, summary.counters()),
            Class::IpProtocol => protocols
                .iter()
                .for_each(|(k, a)| push(Key::Number(i64::from(*k)), None, a.counters())),
            Class::TcpSrcPorts => numbered(&tcp_src, &mut push),
            Class::TcpDstPorts => numbered(&tcp_dst, &mut push),
            Class::UdpSrcPorts => numbered(&udp_src, &mut push),
            Class::UdpDstPorts => numbered(&udp_dst, &mut push),
            Class::Asn => numbered(&asns, &mut push),
            Class::Icmp => icmp
                .iter()
                .for_each(|(&(t, c), a)| push(Key::Icmp(t, c), None, a.counters())),
            Class::NetacqContinents => netacq_continents
                .iter()
                .for_each(|(k, a)| push(Key::Geo(*k), None, a.counters())),
            Class::NetacqCountries => netacq_countries
                .iter()
                .for_each(|(k, (cont, a))| push(Key::Geo(*k), Some(*cont), a.counters())),
            Class::MaxmindContinents => maxmind_continents
                .iter()
                .for_each(|(k, a)| push(Key::Geo(*k), None, a.counters())),
            Class::MaxmindCountries => maxmind_countries
                .iter()
                .for_each(|(k, (cont, a))| push(Key::Geo(*k), Some(*cont), a.counters())),
        }
        out[start..].sort_by_key(|r| r.key);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowtuple::decode::Run;
    use crate::flowtuple::options::{Mode, SeriesOptions};

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
    fn block(records: Vec<FlowRecord>) -> DecodedBlock {
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

    fn run_all(
        mode: Mode,
        blocks: Vec<DecodedBlock>,
        threads: usize,
    ) -> Result<Vec<IntervalSeries>, FlowtupleError> {
        let mut agg = Aggregator::new(&SeriesOptions::new(mode), threads);
        let mut out = Vec::new();
        let mut emit = |iv| {
            out.push(iv);
            Ok(())
        };
        let pos = Position {
            offset: 0,
            block: Some(0),
        };
        for b in &blocks {
            agg.push_block(b, pos, &mut emit)?;
        }
        agg.finish(&mut emit)?;
        Ok(out)
    }

    fn find(iv: &IntervalSeries, class: Class, key: Key) -> Counters {
        iv.rows
            .iter()
            .find(|r| r.class == class && r.key == key)
            .map(|r| r.counters)
            .unwrap_or_else(|| panic!("no {class:?} {key:?}"))
    }

    #[test]
    fn negative_ports_take_the_exact_fallback_in_key_order() {
        // Port -5 does not fit the 32-bit fast path; its records' destination
        // port 80 does, so key 80 gets records whose other key took the
        // fallback.
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
            // One row for port 80, counted once across all its records.
            let dst_keys = iv
                .rows
                .iter()
                .filter(|r| r.class == Class::TcpDstPorts)
                .count();
            assert_eq!(dst_keys, 1);
            let c = find(iv, Class::TcpDstPorts, Key::Number(80));
            assert_eq!(c.tuple(), (8, 320, 3, 3, 2));
            let c = find(iv, Class::Summary, Key::Overall);
            assert_eq!(
                (c.packets, c.uniq_src_ips, c.uniq_dst_ips, c.uniq_src_asns),
                (8, 3, 3, 2)
            );
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
}
