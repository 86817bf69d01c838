//! Aggregation of filtered records into per-interval series.

use std::hash::Hash;

use rustc_hash::{FxHashMap, FxHashSet};

use super::decode::DecodedBlock;
use super::error::{FlowtupleError, Position};
use super::filter::{is_popular_port, Transport};
use super::options::{Class, IpCounting, PortSet, SeriesOptions};
use super::record::{FlowRecord, GeoTag};
use super::series::{Counters, IntervalSeries, Key, SeriesRow};

/// The running counters of one series.
#[derive(Default)]
struct KeyAgg {
    packets: i128,
    bytes: i128,
    src: FxHashSet<u32>,
    dst: FxHashSet<u32>,
    asns: FxHashSet<i64>,
}

/// What one record contributes, computed once and added to every series the
/// record touches.
struct Contribution {
    packets: i128,
    bytes: i128,
    src: Option<u32>,
    dst: Option<u32>,
    asn: i64,
}

impl KeyAgg {
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
            uniq_src_ips: self.src.len() as u64,
            uniq_dst_ips: self.dst.len() as u64,
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

/// The series of the interval being read.
#[derive(Default)]
struct IntervalAgg {
    summary: KeyAgg,
    protocols: ClassMap<i32>,
    tcp_src: ClassMap<i32>,
    tcp_dst: ClassMap<i32>,
    udp_src: ClassMap<i32>,
    udp_dst: ClassMap<i32>,
    icmp: ClassMap<(i32, i32)>,
    netacq_continents: ClassMap<GeoTag>,
    netacq_countries: CountryMap,
    maxmind_continents: ClassMap<GeoTag>,
    maxmind_countries: CountryMap,
    asns: ClassMap<i64>,
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
    on: Enabled,
    popular_only: bool,
    ports: [Option<PortSet>; 4],
    src_counting: IpCounting,
    dst_counting: IpCounting,
    current: Option<(i64, IntervalAgg)>,
    done: FxHashSet<i64>,
    ordinal: u64,
}

impl Aggregator {
    /// An aggregator for `options`.
    pub fn new(options: &SeriesOptions) -> Aggregator {
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
        Aggregator {
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
            classes,
            current: None,
            done: FxHashSet::default(),
            ordinal: 0,
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
                for rec in records {
                    add_record(
                        &self.on,
                        self.popular_only,
                        &self.ports,
                        self.src_counting,
                        self.dst_counting,
                        ordinal,
                        agg,
                        rec,
                    );
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
                rows: rows(&self.classes, &agg),
            })?;
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn add_record(
    on: &Enabled,
    popular_only: bool,
    ports: &[Option<PortSet>; 4],
    src_counting: IpCounting,
    dst_counting: IpCounting,
    ordinal: u64,
    agg: &mut IntervalAgg,
    rec: &FlowRecord,
) {
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
                touch(src_map, rec.src_port, &c);
            }
            if wanted(rec.dst_port, dst_set) {
                touch(dst_map, rec.dst_port, &c);
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
        touch(&mut agg.asns, rec.prefix2asn, &c);
    }
}

/// The interval's rows: classes in order, keys ascending.
fn rows(classes: &[Class], agg: &IntervalAgg) -> Vec<SeriesRow> {
    let mut out = Vec::new();
    for &class in classes {
        let start = out.len();
        let mut push = |key: Key, continent: Option<GeoTag>, a: &KeyAgg| {
            out.push(SeriesRow {
                class,
                key,
                continent,
                counters: a.counters(),
            })
        };
        match class {
            Class::Summary => push(Key::Overall, None, &agg.summary),
            Class::IpProtocol => agg
                .protocols
                .iter()
                .for_each(|(k, a)| push(Key::Number(i64::from(*k)), None, a)),
            Class::TcpSrcPorts => agg
                .tcp_src
                .iter()
                .for_each(|(k, a)| push(Key::Number(i64::from(*k)), None, a)),
            Class::TcpDstPorts => agg
                .tcp_dst
                .iter()
                .for_each(|(k, a)| push(Key::Number(i64::from(*k)), None, a)),
            Class::UdpSrcPorts => agg
                .udp_src
                .iter()
                .for_each(|(k, a)| push(Key::Number(i64::from(*k)), None, a)),
            Class::UdpDstPorts => agg
                .udp_dst
                .iter()
                .for_each(|(k, a)| push(Key::Number(i64::from(*k)), None, a)),
            Class::Icmp => agg
                .icmp
                .iter()
                .for_each(|(&(t, c), a)| push(Key::Icmp(t, c), None, a)),
            Class::NetacqContinents => agg
                .netacq_continents
                .iter()
                .for_each(|(k, a)| push(Key::Geo(*k), None, a)),
            Class::NetacqCountries => agg
                .netacq_countries
                .iter()
                .for_each(|(k, (cont, a))| push(Key::Geo(*k), Some(*cont), a)),
            Class::MaxmindContinents => agg
                .maxmind_continents
                .iter()
                .for_each(|(k, a)| push(Key::Geo(*k), None, a)),
            Class::MaxmindCountries => agg
                .maxmind_countries
                .iter()
                .for_each(|(k, (cont, a))| push(Key::Geo(*k), Some(*cont), a)),
            Class::Asn => agg
                .asns
                .iter()
                .for_each(|(k, a)| push(Key::Number(*k), None, a)),
        }
        out[start..].sort_unstable_by_key(|r| r.key);
    }
    out
}
