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

use std::sync::Mutex;

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
    /// Per pass (source, destination, ASN), buckets of items by a hash of
    /// the value, so that equal values share a bucket.
    items: [Vec<Bucket>; 3],
    /// Counted records so far.
    records: u64,
    /// A series id too large for an [`Item`] was seen.
    too_many_series: bool,
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
            items: std::array::from_fn(|_| (0..BUCKETS).map(|_| Bucket::default()).collect()),
            records: 0,
            too_many_series: false,
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
        // Group stamps are 32-bit.
        self.records += records.len() as u64;
        if self.records >= u64::from(u32::MAX) {
            return Err(FlowtupleError::IntervalTooLarge { at });
        }
        let mut prepared = [(Tuple::EMPTY, Sums::default()); BATCH];
        for batch in records.chunks(BATCH) {
            for (rec, p) in batch.iter().zip(prepared.iter_mut()) {
                *p = self.prepare(rules, rec);
            }
            for (rec, &(tuple, sums)) in batch.iter().zip(prepared.iter()) {
                self.add_one(rules, geo_ids, rec, tuple, sums);
            }
        }
        if self.too_many_series {
            return Err(FlowtupleError::IntervalTooLarge { at });
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
        let mut keys = [NONE; SLOTS_PER_TUPLE];
        let mut n = 0;
        let mut slot = |table: Table, id: u32, too_many: &mut bool| {
            if id != NONE {
                *too_many |= id >= 1 << ID_BITS;
                keys[n] = (table as u32) << ID_BITS | (id & ID_MASK);
                n += 1;
            }
        };
        slot(Table::Proto, t.proto, &mut self.too_many_series);
        if let Some(table) = ta {
            slot(table, t.a, &mut self.too_many_series);
        }
        if let Some(table) = tb {
            slot(table, t.b, &mut self.too_many_series);
        }
        for (source, field) in rules.geo.iter().enumerate() {
            let [continent, country] = match field {
                GeoField::Netacq => rec.netacq,
                GeoField::Maxmind => rec.maxmind,
            };
            let (cont, coun) = (geo_ids.id(continent), geo_ids.id(country));
            let cont_id = self.table(GEO_TABLES[source * 2]).id(u64::from(cont));
            let coun_id = self.table(GEO_TABLES[source * 2 + 1]).id(u64::from(coun));
            self.table(GEO_TABLES[source * 2]).add(cont_id, sums);
            self.table(GEO_TABLES[source * 2 + 1]).add(coun_id, sums);
            slot(GEO_TABLES[source * 2], cont_id, &mut self.too_many_series);
            slot(
                GEO_TABLES[source * 2 + 1],
                coun_id,
                &mut self.too_many_series,
            );
            let first = &mut self.first_continent[source];
            if first.len() <= coun as usize {
                first.resize(coun as usize + 1, NONE);
            }
            if first[coun as usize] == NONE {
                first[coun as usize] = cont;
            }
        }
        let values = [
            t.has_src.then_some(t.src),
            t.has_dst.then_some(t.dst),
            Some(t.asn),
        ];
        for (pass, value) in values.into_iter().enumerate() {
            let Some(value) = value else { continue };
            let value = spread(value);
            let bucket = &mut self.items[pass][bucket_of(value)];
            // At least one item, so that the value counts in the summary.
            let mut chunks = keys[..n].chunks(3);
            let first = chunks.next().unwrap_or(&[]);
            bucket.push(item(value, first));
            for more in chunks {
                bucket.push(item(value, more));
            }
        }
    }

    /// The interval's rows: classes in order, keys ascending.
    fn finish(mut self, rules: &Rules, geo_ids: &GeoIds, threads: usize) -> Vec<SeriesRow> {
        let [src, dst, asn] = self.count(threads);
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

    /// Counts, per series, the distinct values of each pass: every bucket
    /// sorted by value, each series counted once per value (a stamp per
    /// series). Buckets are shared out among `threads` threads.
    fn count(&mut self, threads: usize) -> [PassCounts; 3] {
        let mut offsets = [0usize; TABLES + 1];
        for (t, table) in self.tables.iter().enumerate() {
            offsets[t + 1] = offsets[t] + table.id_space();
        }
        let work: Vec<(usize, Bucket)> = self
            .items
            .iter_mut()
            .enumerate()
            .flat_map(|(pass, buckets)| buckets.drain(..).map(move |b| (pass, b)))
            .filter(|(_, b)| !b.is_empty())
            .collect();
        let queue = Mutex::new(work);
        let counter = || count_buckets(&queue, &offsets);
        let threads = if self.records > 1 << 16 {
            threads.max(1)
        } else {
            1
        };
        let parts: Vec<[(u64, Vec<u64>); 3]> = if threads > 1 {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads).map(|_| s.spawn(counter)).collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            })
        } else {
            vec![counter()]
        };
        std::array::from_fn(|pass| {
            let mut summary = 0;
            let mut flat = vec![0u64; offsets[TABLES]];
            for part in &parts {
                let (groups, slots) = &part[pass];
                summary += groups;
                for (f, s) in flat.iter_mut().zip(slots) {
                    *f += s & 0xffff_ffff;
                }
            }
            let tables = (0..TABLES)
                .map(|t| flat[offsets[t]..offsets[t + 1]].to_vec())
                .collect();
            PassCounts { summary, tables }
        })
    }
}

/// One thread's share of [`IntervalAgg::count`]: per pass, the number of
/// distinct values and a slot per series (stamp of the last value that
/// counted it in the high half, count in the low half).
fn count_buckets(
    queue: &Mutex<Vec<(usize, Bucket)>>,
    offsets: &[usize; TABLES + 1],
) -> [(u64, Vec<u64>); 3] {
    let mut out: [(u64, Vec<u64>); 3] = std::array::from_fn(|_| (0, vec![0; offsets[TABLES]]));
    let mut scratch = Vec::new();
    let mut group = 0u64;
    loop {
        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let Some((pass, bucket)) = next else {
            return out;
        };
        let mut items = bucket.into_vec();
        sort_items(&mut items, &mut scratch);
        let (groups, slots) = &mut out[pass];
        let mut prev = None;
        for item in &items {
            if prev != Some(item[0]) {
                prev = Some(item[0]);
                group += 1;
                *groups += 1;
            }
            for &key in &item[1..] {
                if key != NONE {
                    let slot = offsets[(key >> ID_BITS) as usize] + (key & ID_MASK) as usize;
                    let s = &mut slots[slot];
                    if *s >> 32 != group {
                        *s = group << 32 | ((*s & 0xffff_ffff) + 1);
                    }
                }
            }
        }
    }
}

/// A value of a pass and up to three series keys (table and id, see
/// [`ID_BITS`]) it counts in; unused keys are [`NONE`].
type Item = [u32; 4];

/// Series keys in an [`Item`]: the table in the top bits, the id below.
const ID_BITS: u32 = 28;
const ID_MASK: u32 = (1 << ID_BITS) - 1;

/// Buckets per pass.
const BUCKET_BITS: u32 = 8;
const BUCKETS: usize = 1 << BUCKET_BITS;

/// Items in chunks of fixed capacity: growing never copies.
#[derive(Default)]
struct Bucket {
    full: Vec<Vec<Item>>,
    last: Vec<Item>,
}

const CHUNK_ITEMS: usize = 4096;

impl Bucket {
    #[inline]
    fn push(&mut self, item: Item) {
        if self.last.len() == self.last.capacity() {
            let full = std::mem::replace(&mut self.last, Vec::with_capacity(CHUNK_ITEMS));
            if !full.is_empty() {
                self.full.push(full);
            }
        }
        self.last.push(item);
    }

    fn is_empty(&self) -> bool {
        self.last.is_empty() && self.full.is_empty()
    }

    /// All items in one vector.
    fn into_vec(self) -> Vec<Item> {
        if self.full.is_empty() {
            return self.last;
        }
        let len = self.full.len() * CHUNK_ITEMS + self.last.len();
        let mut all = Vec::with_capacity(len);
        self.full.iter().for_each(|c| all.extend_from_slice(c));
        all.extend_from_slice(&self.last);
        all
    }
}

/// A bijection of `u32` that spreads values: its top bits pick the
/// bucket, the rest order the bucket, and equal results mean equal values.
#[inline]
fn spread(value: u32) -> u32 {
    value.wrapping_mul(0x9e37_79b1)
}

#[inline]
fn bucket_of(spread: u32) -> usize {
    (spread >> (32 - BUCKET_BITS)) as usize
}

#[inline]
fn item(value: u32, keys: &[u32]) -> Item {
    let key = |i: usize| keys.get(i).copied().unwrap_or(NONE);
    [value, key(0), key(1), key(2)]
}

/// Sorts the items of one bucket by value; values of a bucket share their
/// top [`BUCKET_BITS`] bits (LSD radix on the rest, 12-bit digits; a digit
/// equal in every item is skipped).
fn sort_items(items: &mut Vec<Item>, scratch: &mut Vec<Item>) {
    let n = items.len();
    if n < 512 {
        items.sort_unstable_by_key(|i| i[0]);
        return;
    }
    let mut counts = [[0u32; 4096]; 3];
    for i in items.iter() {
        let v = i[0];
        counts[0][(v & 0xfff) as usize] += 1;
        counts[1][((v >> 12) & 0xfff) as usize] += 1;
        counts[2][(v >> 24) as usize] += 1;
    }
    scratch.clear();
    scratch.resize(n, [0; 4]);
    for (d, c) in counts.iter().enumerate() {
        if c.contains(&(n as u32)) {
            continue;
        }
        let mut offsets = [0u32; 4096];
        let mut sum = 0;
        for (o, &x) in offsets.iter_mut().zip(c.iter()) {
            *o = sum;
            sum += x;
        }
        let shift = 12 * d as u32;
        for i in items.iter() {
            let b = ((i[0] >> shift) & 0xfff) as usize;
            scratch[offsets[b] as usize] = *i;
            offsets[b] += 1;
        }
        std::mem::swap(items, scratch);
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
    fn sort_items_matches_std() {
        let mut seed = 11u64;
        for n in [0, 5, 511, 512, 100_000] {
            let mut items: Vec<Item> = (0..n)
                .map(|i| {
                    let v = lcg(&mut seed) as u32;
                    let v = if i % 3 == 0 { v } else { v >> 20 };
                    [v, i as u32, 0, 0]
                })
                .collect();
            let mut want = items.clone();
            want.sort_unstable();
            sort_items(&mut items, &mut Vec::new());
            assert!(items.windows(2).all(|w| w[0][0] <= w[1][0]), "n = {n}");
            items.sort_unstable();
            assert!(items == want, "n = {n}: the same items");
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
