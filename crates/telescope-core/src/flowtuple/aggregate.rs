//! Aggregation of filtered records into per-interval series.
//!
//! While an interval is read, each counted record adds its packets and
//! bytes to the sums of the series it touches, and leaves a compact
//! [`Tuple`]: its source and destination (as counted), its ASN, and the ids
//! of its series. When the interval is complete, distinct values are
//! counted exactly by sorting: the tuples are grouped by source address, by
//! destination address and by ASN (three independent passes, run in
//! parallel), and within a group each series is counted once (a stamp per
//! series). This touches memory in order, where hash sets per series would
//! miss the cache on almost every record.

use rustc_hash::FxHashMap;

use super::decode::DecodedBlock;
use super::error::{FlowtupleError, Position};
use super::filter::{is_popular_port, Transport};
use super::options::{Class, IpCounting, PortSet, SeriesOptions};
use super::prefetch::prefetch;
use super::record::{FlowRecord, GeoTag};
use super::sequence::{Sequencer, Step};
use super::series::{Counters, IntervalSeries, Key, SeriesRow};

/// Marks a missing series id in a [`Tuple`].
const NONE: u32 = u32::MAX;

/// What a record leaves for the distinct counts of its interval.
#[derive(Debug, Clone, Copy)]
struct Tuple {
    /// Source as counted (address, prefix, or [`NONE`] if not sampled).
    src: u32,
    /// Destination as counted.
    dst: u32,
    /// Source ASN (0 included).
    asn: u32,
    /// Protocol series id, or [`NONE`].
    proto: u32,
    /// Series ids in the tables named by `kind`, or [`NONE`].
    a: u32,
    b: u32,
    kind: Kind,
    /// `src` and `dst` are counted (not left out by sampling).
    has_src: bool,
    has_dst: bool,
}

/// Which tables a tuple's `a` and `b` ids belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    None,
    /// `a` in TCP source ports, `b` in TCP destination ports.
    Tcp,
    /// `a` in UDP source ports, `b` in UDP destination ports.
    Udp,
    /// `a` in ICMP.
    Icmp,
    /// `a` in ASNs.
    Asn,
}

/// The tables of series keyed by something other than `overall`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Proto = 0,
    TcpSrc,
    TcpDst,
    UdpSrc,
    UdpDst,
    Icmp,
    Asn,
    /// Geo tables: continents and countries of the first geo source, then
    /// of the second.
    Geo0,
    Geo1,
    Geo2,
    Geo3,
}

const TABLES: usize = 11;
const GEO_TABLES: [Table; 4] = [Table::Geo0, Table::Geo1, Table::Geo2, Table::Geo3];

/// Packet and byte sums of one series.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    packets: i128,
    bytes: i128,
}

/// The series of one class: keys turned into dense ids (keys below
/// `dense` are their own id), and the sums of each id.
#[derive(Debug)]
struct KeyTable {
    dense: u64,
    sums: Vec<Sums>,
    touched: Vec<bool>,
    ids: FxHashMap<u64, u32>,
    /// Keys of the ids from `dense` on.
    sparse: Vec<u64>,
}

impl KeyTable {
    fn new(dense: u64) -> KeyTable {
        KeyTable {
            dense,
            sums: Vec::new(),
            touched: Vec::new(),
            ids: FxHashMap::default(),
            sparse: Vec::new(),
        }
    }

    /// The id of `key`, new if needed.
    #[inline]
    fn id(&mut self, key: u64) -> u32 {
        if key < self.dense {
            return key as u32;
        }
        self.sparse_id(key)
    }

    /// The id of `key` from the ids above the dense ones, whatever `key` is.
    #[inline]
    fn sparse_id(&mut self, key: u64) -> u32 {
        let next = self.dense + self.sparse.len() as u64;
        match self.ids.get(&key) {
            Some(&id) => id,
            None => {
                self.ids.insert(key, next as u32);
                self.sparse.push(key);
                next as u32
            }
        }
    }

    /// Adds a counted record's sums to series `id`.
    #[inline]
    fn add(&mut self, id: u32, sums: Sums) {
        let i = id as usize;
        if i >= self.sums.len() {
            let len = (i + 1).next_power_of_two().max(256);
            self.sums.resize(len, Sums::default());
            self.touched.resize(len, false);
        }
        let s = &mut self.sums[i];
        s.packets += sums.packets;
        s.bytes += sums.bytes;
        self.touched[i] = true;
    }

    #[inline]
    fn prefetch(&self, id: u32) {
        prefetch(&self.sums, id as usize);
    }

    /// Above every id added to so far.
    fn id_space(&self) -> usize {
        self.sums.len()
    }

    fn key(&self, id: u32) -> u64 {
        let id = u64::from(id);
        if id < self.dense {
            id
        } else {
            self.sparse[(id - self.dense) as usize]
        }
    }

    /// Every touched id with its key and sums.
    fn touched(&self) -> impl Iterator<Item = (u32, u64, Sums)> + '_ {
        self.touched
            .iter()
            .enumerate()
            .filter(|(_, &t)| t)
            .map(|(i, _)| (i as u32, self.key(i as u32), self.sums[i]))
    }
}

/// How records update series, resolved once from the options.
#[derive(Debug, Clone)]
struct Rules {
    classes: Vec<Class>,
    summary: bool,
    protocols: bool,
    ports: bool,
    icmp: bool,
    asns: bool,
    /// Geo sources in table order: Net Acuity and/or MaxMind.
    geo: Vec<GeoField>,
    popular_only: bool,
    port_sets: [Option<PortSet>; 4],
    src_counting: IpCounting,
    dst_counting: IpCounting,
}

/// Which tags of a record a geo table pair reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GeoField {
    Netacq,
    Maxmind,
}

impl Rules {
    fn new(options: &SeriesOptions) -> Rules {
        let classes = options.mode.classes(options.geo);
        let has = |c: Class| classes.contains(&c);
        let mut geo = Vec::new();
        if has(Class::NetacqContinents) {
            geo.push(GeoField::Netacq);
        }
        if has(Class::MaxmindContinents) {
            geo.push(GeoField::Maxmind);
        }
        let p = &options.ports;
        Rules {
            summary: has(Class::Summary),
            protocols: has(Class::IpProtocol),
            ports: has(Class::TcpSrcPorts),
            icmp: has(Class::Icmp),
            asns: has(Class::Asn),
            geo,
            popular_only: options.mode.popular_ports_only(),
            port_sets: [
                p.tcp_src.clone(),
                p.tcp_dst.clone(),
                p.udp_src.clone(),
                p.udp_dst.clone(),
            ],
            src_counting: options.src_counting,
            dst_counting: options.dst_counting,
            classes,
        }
    }

    #[inline]
    fn wants_port(&self, transport: Transport, set: usize, port: i32) -> bool {
        (!self.popular_only || is_popular_port(transport, port))
            && self.port_sets[set]
                .as_ref()
                .is_none_or(|s| s.contains(port))
    }
}

/// Geo tags seen in the run, as small ids.
#[derive(Debug, Default)]
struct GeoIds {
    ids: FxHashMap<GeoTag, u32>,
    tags: Vec<GeoTag>,
}

impl GeoIds {
    #[inline]
    fn id(&mut self, tag: GeoTag) -> u32 {
        if let Some(&id) = self.ids.get(&tag) {
            return id;
        }
        let id = self.tags.len() as u32;
        self.ids.insert(tag, id);
        self.tags.push(tag);
        id
    }
}

/// Distinct counts per series id of one grouping pass.
struct PassCounts {
    summary: u64,
    tables: Vec<Vec<u64>>,
}

/// The series of the interval being read.
struct IntervalAgg {
    ordinal: u64,
    summary: Sums,
    tables: Vec<KeyTable>,
    tuples: Vec<Tuple>,
    /// Geo ids per tuple (continent, country per geo source), when on.
    geo: Vec<[u32; 4]>,
    /// Continent geo id of each country id's first record, per source.
    first_continent: [Vec<u32>; 2],
}

/// Records are prepared and their memory loaded this many at a time.
const BATCH: usize = 16;

impl IntervalAgg {
    fn new(ordinal: u64) -> IntervalAgg {
        let dense_for = |t: usize| -> u64 {
            match t {
                0 => 256,
                1..=4 => 1 << 16,
                5 => 1 << 16,
                6 => 0,
                _ => 1 << 20,
            }
        };
        IntervalAgg {
            ordinal,
            summary: Sums::default(),
            tables: (0..TABLES).map(|t| KeyTable::new(dense_for(t))).collect(),
            tuples: Vec::new(),
            geo: Vec::new(),
            first_continent: [Vec::new(), Vec::new()],
        }
    }

    fn table(&mut self, t: Table) -> &mut KeyTable {
        &mut self.tables[t as usize]
    }

    /// Adds counted records, in file order.
    fn add(
        &mut self,
        rules: &Rules,
        geo_ids: &mut GeoIds,
        records: &[FlowRecord],
        at: Position,
    ) -> Result<(), FlowtupleError> {
        // Tuple indices are 32-bit (u32::MAX marks nothing).
        if records.len() as u64 + self.tuples.len() as u64 >= u64::from(u32::MAX) {
            return Err(FlowtupleError::IntervalTooLarge { at });
        }
        self.tuples.reserve(records.len());
        let mut prepared = [(Tuple::EMPTY, Sums::default()); BATCH];
        for batch in records.chunks(BATCH) {
            for (rec, p) in batch.iter().zip(prepared.iter_mut()) {
                *p = self.prepare(rules, rec);
            }
            for (rec, &(tuple, sums)) in batch.iter().zip(prepared.iter()) {
                self.add_one(rules, geo_ids, rec, tuple, sums);
            }
        }
        Ok(())
    }

    /// A record's tuple (series ids resolved) and sums; loads the sums the
    /// record will add to.
    #[inline]
    fn prepare(&mut self, rules: &Rules, rec: &FlowRecord) -> (Tuple, Sums) {
        let packets = i128::from(rec.packet_cnt);
        let sums = Sums {
            packets,
            bytes: packets * i128::from(rec.ip_len),
        };
        let src = rules.src_counting.count_key(rec.src_ip, self.ordinal);
        let dst = rules.dst_counting.count_key(rec.dst_ip, self.ordinal);
        let mut t = Tuple {
            src: src.unwrap_or(0),
            dst: dst.unwrap_or(0),
            asn: rec.prefix2asn,
            proto: NONE,
            a: NONE,
            b: NONE,
            kind: Kind::None,
            has_src: src.is_some(),
            has_dst: dst.is_some(),
        };
        if rules.protocols {
            t.proto = self.table(Table::Proto).id(u64::from(rec.protocol as u32));
            self.tables[Table::Proto as usize].prefetch(t.proto);
        }
        let port_key = |p: i32| u64::from(p as u32);
        if rules.ports && (rec.protocol == 6 || rec.protocol == 17) {
            let (transport, kind, first, tables) = if rec.protocol == 6 {
                (Transport::Tcp, Kind::Tcp, 0, [Table::TcpSrc, Table::TcpDst])
            } else {
                (Transport::Udp, Kind::Udp, 2, [Table::UdpSrc, Table::UdpDst])
            };
            t.kind = kind;
            if rules.wants_port(transport, first, rec.src_port) {
                t.a = self.table(tables[0]).id(port_key(rec.src_port));
                self.tables[tables[0] as usize].prefetch(t.a);
            }
            if rules.wants_port(transport, first + 1, rec.dst_port) {
                t.b = self.table(tables[1]).id(port_key(rec.dst_port));
                self.tables[tables[1] as usize].prefetch(t.b);
            }
        } else if rules.icmp && rec.protocol == 1 {
            let (ty, code) = (rec.src_port as u32, rec.dst_port as u32);
            let table = self.table(Table::Icmp);
            // Dense ids for types and codes below 256, the full pair else.
            t.a = if ty < 256 && code < 256 {
                table.id(u64::from(ty << 8 | code))
            } else {
                table.sparse_id(u64::from(ty) << 32 | u64::from(code))
            };
            t.kind = Kind::Icmp;
        } else if rules.asns && rec.prefix2asn != 0 {
            t.kind = Kind::Asn;
            t.a = self.table(Table::Asn).id(u64::from(rec.prefix2asn));
            self.tables[Table::Asn as usize].prefetch(t.a);
        }
        (t, sums)
    }

    #[inline]
    fn add_one(
        &mut self,
        rules: &Rules,
        geo_ids: &mut GeoIds,
        rec: &FlowRecord,
        t: Tuple,
        sums: Sums,
    ) {
        if rules.summary {
            self.summary.packets += sums.packets;
            self.summary.bytes += sums.bytes;
        }
        if t.proto != NONE {
            self.table(Table::Proto).add(t.proto, sums);
        }
        let (ta, tb) = match t.kind {
            Kind::None => (None, None),
            Kind::Tcp => (Some(Table::TcpSrc), Some(Table::TcpDst)),
            Kind::Udp => (Some(Table::UdpSrc), Some(Table::UdpDst)),
            Kind::Icmp => (Some(Table::Icmp), None),
            Kind::Asn => (Some(Table::Asn), None),
        };
        if let (Some(table), true) = (ta, t.a != NONE) {
            self.table(table).add(t.a, sums);
        }
        if let (Some(table), true) = (tb, t.b != NONE) {
            self.table(table).add(t.b, sums);
        }
        if !rules.geo.is_empty() {
            let mut ids = [NONE; 4];
            for (source, field) in rules.geo.iter().enumerate() {
                let [continent, country] = match field {
                    GeoField::Netacq => rec.netacq,
                    GeoField::Maxmind => rec.maxmind,
                };
                let (cont, coun) = (geo_ids.id(continent), geo_ids.id(country));
                let cont_id = self.table(GEO_TABLES[source * 2]).id(u64::from(cont));
                let coun_id = self.table(GEO_TABLES[source * 2 + 1]).id(u64::from(coun));
                ids[source * 2] = cont_id;
                ids[source * 2 + 1] = coun_id;
                self.table(GEO_TABLES[source * 2]).add(cont_id, sums);
                self.table(GEO_TABLES[source * 2 + 1]).add(coun_id, sums);
                let first = &mut self.first_continent[source];
                if first.len() <= coun as usize {
                    first.resize(coun as usize + 1, NONE);
                }
                if first[coun as usize] == NONE {
                    first[coun as usize] = cont;
                }
            }
            self.geo.push(ids);
        }
        self.tuples.push(t);
    }

    /// The interval's rows: classes in order, keys ascending.
    fn finish(self, rules: &Rules, geo_ids: &GeoIds, threads: usize) -> Vec<SeriesRow> {
        let passes = [Pass::Src, Pass::Dst, Pass::Asn];
        let [src, dst, asn] = if threads > 1 && self.tuples.len() > 1 << 16 {
            std::thread::scope(|s| {
                let handles = passes.map(|p| {
                    let this = &self;
                    s.spawn(move || this.count(p))
                });
                handles.map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            })
        } else {
            passes.map(|p| self.count(p))
        };
        let counters = |table: Option<usize>, id: usize, sums: Sums| Counters {
            packets: sums.packets,
            bytes: sums.bytes,
            uniq_src_ips: pick(&src, table, id),
            uniq_dst_ips: pick(&dst, table, id),
            uniq_src_asns: pick(&asn, table, id),
        };
        let mut out = Vec::new();
        for &class in &rules.classes {
            let start = out.len();
            let mut push = |key: Key, continent: Option<GeoTag>, counters: Counters| {
                out.push(SeriesRow {
                    class,
                    key,
                    continent,
                    counters,
                })
            };
            let table = match class {
                Class::Summary => {
                    push(Key::Overall, None, counters(None, 0, self.summary));
                    continue;
                }
                Class::IpProtocol => Table::Proto,
                Class::TcpSrcPorts => Table::TcpSrc,
                Class::TcpDstPorts => Table::TcpDst,
                Class::UdpSrcPorts => Table::UdpSrc,
                Class::UdpDstPorts => Table::UdpDst,
                Class::Icmp => Table::Icmp,
                Class::Asn => Table::Asn,
                Class::NetacqContinents | Class::MaxmindContinents => {
                    GEO_TABLES[geo_source(rules, class) * 2]
                }
                Class::NetacqCountries | Class::MaxmindCountries => {
                    GEO_TABLES[geo_source(rules, class) * 2 + 1]
                }
            };
            let t = table as usize;
            for (id, raw, sums) in self.tables[t].touched() {
                let c = counters(Some(t), id as usize, sums);
                let (key, continent) = match table {
                    Table::Proto
                    | Table::TcpSrc
                    | Table::TcpDst
                    | Table::UdpSrc
                    | Table::UdpDst => (Key::Number(i64::from(raw as u32 as i32)), None),
                    Table::Asn => (Key::Number(raw as i64), None),
                    Table::Icmp => {
                        let (ty, code) = if u64::from(id) < self.tables[t].dense {
                            ((raw >> 8) as i32, (raw & 0xff) as i32)
                        } else {
                            ((raw >> 32) as u32 as i32, raw as u32 as i32)
                        };
                        (Key::Icmp(ty, code), None)
                    }
                    Table::Geo0 | Table::Geo2 => (Key::Geo(geo_ids.tags[raw as usize]), None),
                    Table::Geo1 | Table::Geo3 => {
                        let source = (t - Table::Geo0 as usize) / 2;
                        let cont = self.first_continent[source][raw as usize];
                        (
                            Key::Geo(geo_ids.tags[raw as usize]),
                            Some(geo_ids.tags[cont as usize]),
                        )
                    }
                };
                push(key, continent, c);
            }
            out[start..].sort_by_key(|r| r.key);
        }
        out
    }

    /// Counts, per series, the distinct values of one pass: the tuples
    /// sorted by the pass's value, each series counted once per value.
    fn count(&self, pass: Pass) -> PassCounts {
        let mut items: Vec<u64> = Vec::with_capacity(self.tuples.len());
        for (i, t) in self.tuples.iter().enumerate() {
            let value = match pass {
                Pass::Src if t.has_src => t.src,
                Pass::Dst if t.has_dst => t.dst,
                Pass::Asn => t.asn,
                _ => continue,
            };
            items.push(u64::from(value) << 32 | i as u64);
        }
        sort_by_high_half(&mut items);
        // One slot per series of every table, side by side: the stamp of
        // the last value that counted it (high half) and its count.
        let mut offsets = [0usize; TABLES + 1];
        for (t, table) in self.tables.iter().enumerate() {
            offsets[t + 1] = offsets[t] + table.id_space();
        }
        let mut slots = vec![0u64; offsets[TABLES]];
        // Slot indices of upcoming items, computed AHEAD items early so that
        // their cache lines are loaded by the time they are bumped.
        const AHEAD: usize = 8;
        const RING: usize = 2 * AHEAD;
        let mut ring = [[usize::MAX; SLOTS_PER_TUPLE]; RING];
        let mut value_of = [0u32; RING];
        let fill = |k: usize,
                    ring: &mut [[usize; SLOTS_PER_TUPLE]; RING],
                    value_of: &mut [u32; RING],
                    slots: &[u64]| {
            if let Some(&item) = items.get(k) {
                let i = item as u32 as usize;
                let r = &mut ring[k % RING];
                self.slots_of(i, &offsets, r);
                for &slot in r.iter().filter(|&&s| s != usize::MAX) {
                    prefetch(slots, slot);
                }
                value_of[k % RING] = (item >> 32) as u32;
            }
        };
        for k in 0..AHEAD {
            fill(k, &mut ring, &mut value_of, &slots);
        }
        let mut group = 0u64;
        let mut summary = 0u64;
        let mut prev = None;
        for k in 0..items.len() {
            if let Some(&far) = items.get(k + 2 * AHEAD) {
                prefetch(&self.tuples, far as u32 as usize);
            }
            fill(k + AHEAD, &mut ring, &mut value_of, &slots);
            let value = value_of[k % RING];
            if prev != Some(value) {
                prev = Some(value);
                group += 1;
                summary += 1;
            }
            for &slot in ring[k % RING].iter().filter(|&&s| s != usize::MAX) {
                let s = &mut slots[slot];
                if *s >> 32 != group {
                    *s = group << 32 | ((*s & 0xffff_ffff) + 1);
                }
            }
        }
        let tables = (0..TABLES)
            .map(|t| {
                slots[offsets[t]..offsets[t + 1]]
                    .iter()
                    .map(|s| s & 0xffff_ffff)
                    .collect()
            })
            .collect();
        PassCounts { summary, tables }
    }

    /// The slots (see [`IntervalAgg::count`]) of the series tuple `i`
    /// counts in; unused entries are `usize::MAX`.
    #[inline]
    fn slots_of(
        &self,
        i: usize,
        offsets: &[usize; TABLES + 1],
        out: &mut [usize; SLOTS_PER_TUPLE],
    ) {
        *out = [usize::MAX; SLOTS_PER_TUPLE];
        let t = &self.tuples[i];
        let slot = |table: Table, id: u32| {
            if id == NONE {
                usize::MAX
            } else {
                offsets[table as usize] + id as usize
            }
        };
        out[0] = slot(Table::Proto, t.proto);
        let (ta, tb) = match t.kind {
            Kind::None => (None, None),
            Kind::Tcp => (Some(Table::TcpSrc), Some(Table::TcpDst)),
            Kind::Udp => (Some(Table::UdpSrc), Some(Table::UdpDst)),
            Kind::Icmp => (Some(Table::Icmp), None),
            Kind::Asn => (Some(Table::Asn), None),
        };
        if let Some(ta) = ta {
            out[1] = slot(ta, t.a);
        }
        if let Some(tb) = tb {
            out[2] = slot(tb, t.b);
        }
        if let Some(geo) = self.geo.get(i) {
            for (j, &id) in geo.iter().enumerate() {
                out[3 + j] = slot(GEO_TABLES[j], id);
            }
        }
    }
}

/// At most: a protocol, two port (or ICMP, or ASN) series, four geo series.
const SLOTS_PER_TUPLE: usize = 7;

/// The source index (0 or 1) of a geo class among the rules' sources.
fn geo_source(rules: &Rules, class: Class) -> usize {
    let field = match class {
        Class::NetacqContinents | Class::NetacqCountries => GeoField::Netacq,
        _ => GeoField::Maxmind,
    };
    rules.geo.iter().position(|&f| f == field).unwrap_or(0)
}

fn pick(counts: &PassCounts, table: Option<usize>, id: usize) -> u64 {
    match table {
        None => counts.summary,
        Some(t) => counts.tables[t].get(id).copied().unwrap_or(0),
    }
}

/// The three distinct-count passes.
#[derive(Debug, Clone, Copy)]
enum Pass {
    Src,
    Dst,
    Asn,
}

impl Tuple {
    const EMPTY: Tuple = Tuple {
        src: 0,
        dst: 0,
        asn: 0,
        proto: NONE,
        a: NONE,
        b: NONE,
        kind: Kind::None,
        has_src: false,
        has_dst: false,
    };
}

/// Sorts by the upper 32 bits (LSD radix, 11-bit digits; digits that are
/// the same for every item are skipped).
pub fn sort_by_high_half(items: &mut Vec<u64>) {
    let n = items.len();
    if n < 1024 {
        items.sort_unstable();
        return;
    }
    const BITS: [u32; 3] = [11, 11, 10];
    let mut counts = [[0usize; 2048]; 3];
    for &x in items.iter() {
        let hi = x >> 32;
        counts[0][(hi & 0x7ff) as usize] += 1;
        counts[1][((hi >> 11) & 0x7ff) as usize] += 1;
        counts[2][(hi >> 22) as usize] += 1;
    }
    let mut scratch = vec![0u64; n];
    let mut shift = 32;
    for (d, c) in counts.iter().enumerate() {
        let bits = BITS[d];
        let this_shift = shift;
        shift += bits;
        if c.contains(&n) {
            continue;
        }
        let mut offsets = [0usize; 2048];
        let mut sum = 0;
        for (o, &x) in offsets.iter_mut().zip(c.iter()) {
            *o = sum;
            sum += x;
        }
        let mask = (1u64 << bits) - 1;
        for &x in items.iter() {
            let b = ((x >> this_shift) & mask) as usize;
            scratch[offsets[b]] = x;
            offsets[b] += 1;
        }
        std::mem::swap(items, &mut scratch);
    }
}

/// Turns the filtered records of a file, block by block, into complete
/// interval series, handed to a callback as each interval ends.
pub struct Aggregator {
    rules: Rules,
    sequencer: Sequencer,
    current: Option<IntervalAgg>,
    geo_ids: GeoIds,
    threads: usize,
}

impl Aggregator {
    /// An aggregator for `options`; `threads` > 1 counts distinct values of
    /// a complete interval on several threads.
    pub fn new(options: &SeriesOptions, threads: usize) -> Aggregator {
        Aggregator {
            rules: Rules::new(options),
            sequencer: Sequencer::default(),
            current: None,
            geo_ids: GeoIds::default(),
            threads,
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
        let Aggregator {
            rules,
            sequencer,
            current,
            geo_ids,
            threads,
        } = self;
        sequencer.block(block, pos, &mut |step| {
            apply(
                step,
                rules,
                current,
                geo_ids,
                *threads,
                (&block.records, pos),
                emit,
            )
        })
    }

    /// Ends the input: the last interval is complete.
    pub fn finish<E>(&mut self, emit: &mut E) -> Result<(), FlowtupleError>
    where
        E: FnMut(IntervalSeries) -> Result<(), FlowtupleError>,
    {
        let Aggregator {
            rules,
            sequencer,
            current,
            geo_ids,
            threads,
        } = self;
        let nowhere = Position {
            offset: 0,
            block: None,
        };
        sequencer.finish(&mut |step| {
            apply(
                step,
                rules,
                current,
                geo_ids,
                *threads,
                (&[], nowhere),
                emit,
            )
        })
    }
}

fn apply<E>(
    step: Step,
    rules: &Rules,
    current: &mut Option<IntervalAgg>,
    geo_ids: &mut GeoIds,
    threads: usize,
    (records, at): (&[FlowRecord], Position),
    emit: &mut E,
) -> Result<(), FlowtupleError>
where
    E: FnMut(IntervalSeries) -> Result<(), FlowtupleError>,
{
    match step {
        Step::Records { ordinal, range } => {
            if current.as_ref().map(|c| c.ordinal) != Some(ordinal) {
                *current = Some(IntervalAgg::new(ordinal));
            }
            match current.as_mut() {
                Some(agg) => agg.add(rules, geo_ids, &records[range], at),
                None => Ok(()),
            }
        }
        Step::Close { time, ordinal } => {
            let agg = match current.take() {
                Some(agg) if agg.ordinal == ordinal => agg,
                _ => IntervalAgg::new(ordinal),
            };
            let rows = agg.finish(rules, geo_ids, threads);
            emit(IntervalSeries { time, rows })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowtuple::decode::Run;
    use crate::flowtuple::options::{GeoSource, Mode, SeriesOptions};
    use std::collections::{BTreeMap, BTreeSet};

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

    fn run_opts(
        options: &SeriesOptions,
        blocks: &[DecodedBlock],
        threads: usize,
    ) -> Result<Vec<IntervalSeries>, FlowtupleError> {
        let mut agg = Aggregator::new(options, threads);
        let mut out = Vec::new();
        let mut emit = |iv| {
            out.push(iv);
            Ok(())
        };
        let pos = Position {
            offset: 0,
            block: Some(0),
        };
        for b in blocks {
            agg.push_block(b, pos, &mut emit)?;
        }
        agg.finish(&mut emit)?;
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

    #[test]
    fn sort_by_high_half_matches_std() {
        let mut seed = 11u64;
        for n in [0, 5, 1023, 1024, 100_000] {
            let mut items: Vec<u64> = (0..n)
                .map(|i| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let hi = if i % 3 == 0 { seed >> 32 } else { seed >> 50 };
                    hi << 32 | i as u64
                })
                .collect();
            let mut want = items.clone();
            want.sort_unstable();
            sort_by_high_half(&mut items);
            // Stable within a key: indices (low halves) stay ascending.
            assert!(items == want, "n = {n}");
        }
    }

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    fn tag(s: &str) -> GeoTag {
        GeoTag::from_bytes(s.as_bytes()).unwrap()
    }

    /// Random records over small value ranges, so that values repeat
    /// within and across series.
    fn random_records(n: usize, seed: &mut u64) -> Vec<FlowRecord> {
        let conts = ["EU", "NA", "AS", "??"];
        let countries = ["FR", "US", "CN", "DE", "??", "BR"];
        (0..n)
            .map(|_| {
                let proto = [6, 17, 1, 47, 6, 6, 17][lcg(seed) as usize % 7];
                let port = |seed: &mut u64| match lcg(seed) % 10 {
                    0 => -(lcg(seed) as i32 % 3) - 1,
                    1 => 65_536 + lcg(seed) as i32 % 3,
                    2..=5 => lcg(seed) as i32 % 1100,
                    _ => lcg(seed) as i32 % 65_536,
                };
                FlowRecord {
                    time: 7,
                    packet_cnt: lcg(seed) as i64 % 1000 - 10,
                    prefix2asn: [0, 1, 2, 70_000, u32::MAX][lcg(seed) as usize % 5],
                    src_ip: lcg(seed) as u32 % 300 * 7919,
                    dst_ip: 0x2c00_0000 | (lcg(seed) as u32 % 500),
                    src_port: port(seed),
                    dst_port: port(seed),
                    protocol: proto,
                    ip_len: lcg(seed) as i32 % 1500,
                    is_spoofed: 0,
                    is_masscan: 0,
                    netacq: [
                        tag(conts[lcg(seed) as usize % 4]),
                        tag(countries[lcg(seed) as usize % 6]),
                    ],
                    maxmind: [
                        tag(conts[lcg(seed) as usize % 4]),
                        tag(countries[lcg(seed) as usize % 6]),
                    ],
                }
            })
            .collect()
    }

    /// The series computed the obvious way: sets per (class, key).
    fn naive(options: &SeriesOptions, records: &[FlowRecord]) -> Vec<SeriesRow> {
        type Acc = (i128, i128, BTreeSet<u32>, BTreeSet<u32>, BTreeSet<u32>);
        let mut series: BTreeMap<(usize, Key), (Acc, Option<GeoTag>)> = BTreeMap::new();
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
                let key = match class {
                    Class::Summary => Some(Key::Overall),
                    Class::IpProtocol => Some(Key::Number(i64::from(r.protocol))),
                    Class::TcpSrcPorts if r.protocol == 6 && popular(r.src_port) => {
                        Some(Key::Number(i64::from(r.src_port)))
                    }
                    Class::TcpDstPorts if r.protocol == 6 && popular(r.dst_port) => {
                        Some(Key::Number(i64::from(r.dst_port)))
                    }
                    Class::UdpSrcPorts if r.protocol == 17 && popular(r.src_port) => {
                        Some(Key::Number(i64::from(r.src_port)))
                    }
                    Class::UdpDstPorts if r.protocol == 17 && popular(r.dst_port) => {
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
                if let Some(s) = options.src_counting.count_key(r.src_ip, 0) {
                    acc.2.insert(s);
                }
                if let Some(d) = options.dst_counting.count_key(r.dst_ip, 0) {
                    acc.3.insert(d);
                }
                acc.4.insert(r.prefix2asn);
            }
        }
        if classes.contains(&Class::Summary) {
            series.entry((0, Key::Overall)).or_default();
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
    fn random_records_agree_with_the_obvious_computation() {
        let mut seed = 99;
        for (mode, geo, counting) in [
            (Mode::Unfiltered, GeoSource::Netacq, IpCounting::All),
            (Mode::Nonspoofed, GeoSource::Netacq, IpCounting::All),
            (Mode::UnfilteredIpmeta, GeoSource::Both, IpCounting::All),
            (
                Mode::Unfiltered,
                GeoSource::Netacq,
                IpCounting::PrefixAgg(20),
            ),
            (Mode::Nonspoofed, GeoSource::Maxmind, IpCounting::Sample(31)),
        ] {
            let mut options = SeriesOptions::new(mode);
            options.geo = geo;
            options.src_counting = counting;
            options.dst_counting = counting;
            // Enough records that the passes run on several threads.
            let records = random_records(80_000, &mut seed);
            let want = naive(&options, &records);
            let blocks: Vec<DecodedBlock> =
                records.chunks(333).map(|c| block(c.to_vec())).collect();
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
}
