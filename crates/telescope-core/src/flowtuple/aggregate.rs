//! Aggregation of filtered records into per-interval series.
//!
//! While an interval is read, each counted record is reduced to the ids of
//! the series it touches and becomes one small item per counted value (its
//! source, its destination and its ASN), filed in buckets by a hash of the
//! value. When the interval is complete, each bucket is sorted by value and
//! every series is counted once per distinct value (a stamp per series);
//! the ASN items also carry the record's packets and bytes, so the sums come
//! out of the same pass. Buckets are independent, so all threads share the
//! work, and memory is touched in order rather than at random as hash sets
//! per series would.

use std::collections::BTreeMap;
use std::sync::Mutex;

use rustc_hash::FxHashMap;

use super::decode::DecodedBlock;
use super::error::{FlowtupleError, Position};
use super::filter::{is_popular_port, Transport};
use super::options::{sample_index, Class, Compat, IpCounting, PortSet, SeriesOptions};
use super::record::{FlowRecord, GeoTag};
use super::rules::{self, FirstAsns};
use super::sequence::{Sequencer, Step};
use super::series::{Counters, IntervalSeries, Key, SeriesRow};

/// The protocols with port or ICMP series.
const TCP: i32 = 6;
const UDP: i32 = 17;
const ICMP: i32 = 1;

/// Marks a missing id or key.
const NONE: u32 = u32::MAX;

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

/// The keys of one class as dense ids: keys below `dense` are their own
/// id (ports, protocols: nearly all of them occur); other keys get the next
/// free id, found in a direct table for keys below `direct` (ASNs) and in
/// a map above.
#[derive(Debug)]
struct KeyTable {
    dense: u64,
    direct: u64,
    /// Above every id handed out.
    len: usize,
    /// Ids of keys from `dense` to `direct`, [`NONE`] if none yet.
    direct_ids: Vec<u32>,
    ids: FxHashMap<u64, u32>,
    /// Keys of the ids from `dense` on.
    sparse: Vec<u64>,
}

impl KeyTable {
    fn new(dense: u64, direct: u64) -> KeyTable {
        KeyTable {
            dense,
            direct,
            len: 0,
            direct_ids: Vec::new(),
            ids: FxHashMap::default(),
            sparse: Vec::new(),
        }
    }

    /// The id of `key`, new if needed.
    #[inline]
    fn id(&mut self, key: u64) -> u32 {
        if key < self.dense {
            self.len = self.len.max(key as usize + 1);
            return key as u32;
        }
        if key < self.direct {
            let i = (key - self.dense) as usize;
            if self.direct_ids.is_empty() {
                self.direct_ids = vec![NONE; (self.direct - self.dense) as usize];
            }
            if self.direct_ids[i] == NONE {
                self.direct_ids[i] = self.next_id(key);
            }
            return self.direct_ids[i];
        }
        self.sparse_id(key)
    }

    /// Asks for the direct table's entry of `key` to be cached.
    #[inline]
    fn prefetch(&self, key: u64) {
        if key >= self.dense && key < self.direct {
            prefetch(&self.direct_ids, (key - self.dense) as usize);
        }
    }

    /// The id of `key` from the ids above the dense ones, whatever `key` is.
    #[inline]
    fn sparse_id(&mut self, key: u64) -> u32 {
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.next_id(key);
        self.ids.insert(key, id);
        id
    }

    fn next_id(&mut self, key: u64) -> u32 {
        let id = self.dense + self.sparse.len() as u64;
        self.sparse.push(key);
        self.len = self.len.max(id as usize + 1);
        id as u32
    }

    fn key(&self, id: u32) -> u64 {
        let id = u64::from(id);
        if id < self.dense {
            id
        } else {
            self.sparse[(id - self.dense) as usize]
        }
    }
}

/// Series keys in items: the table in the top bits, the id below.
const ID_BITS: u32 = 28;
const ID_MASK: u32 = (1 << ID_BITS) - 1;

/// The key of an unused place in an item: a spare slot after every
/// table's, counted into and never read (so counting needs no branch).
const UNUSED: u32 = (TABLES as u32) << ID_BITS;

/// A source or destination value and up to `K` series keys it counts in
/// (unused keys are [`UNUSED`]). `K` is the most keys a record of the mode
/// needs ([`Rules::keys_per_record`]), so a record makes one item per value.
#[derive(Debug, Clone, Copy)]
struct Item<const K: usize> {
    value: u32,
    keys: [u32; K],
}

/// An ASN item: the ASN value and its series keys, and the record's
/// packets and length for the sums.
#[derive(Debug, Clone, Copy)]
struct SumItem<const K: usize> {
    item: Item<K>,
    /// `packet_cnt` in two halves (low first), so the item needs no 8-byte
    /// alignment.
    packets: [u32; 2],
    ip_len: i32,
}

/// An item of a pass: sorted by its value, counted in its series.
trait Valued: Copy {
    /// What a series slot holds while the pass counts.
    type Slot: Copy + Default;
    fn value(&self) -> u32;
    fn keys(&self) -> &[u32];
    /// Counts the item in `slot`, the slot at `index`, once per `group`
    /// (see [`scan`]); sums that would overflow the slot go to `spill`.
    fn tally(
        &self,
        slot: &mut Self::Slot,
        index: usize,
        group: u64,
        spill: &mut Vec<(usize, Sums)>,
    );
    /// A placeholder to fill working space with.
    fn blank() -> Self;
}

/// Counts a value once per `group` in `slot`: the stamp of the last value
/// that counted it (high half) and its count (low half). Branch-free:
/// whether a slot already counted a value is unpredictable.
#[inline]
fn stamp(slot: &mut u64, group: u64) {
    let counted = u64::from(*slot >> 32 != group);
    *slot = group << 32 | ((*slot & 0xffff_ffff) + counted);
}

impl<const K: usize> Valued for Item<K> {
    type Slot = u64;
    #[inline]
    fn value(&self) -> u32 {
        self.value
    }
    #[inline]
    fn keys(&self) -> &[u32] {
        &self.keys
    }
    #[inline]
    fn tally(&self, slot: &mut u64, _: usize, group: u64, _: &mut Vec<(usize, Sums)>) {
        stamp(slot, group);
    }
    fn blank() -> Self {
        Item {
            value: 0,
            keys: [UNUSED; K],
        }
    }
}

/// A series slot of the ASN pass: its stamp and count (see [`stamp`]) and
/// its sums, 32 bytes aligned to 32, so that counting an item touches one
/// cache line per series. Sums that would overflow 64 bits are spilled.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(32))]
struct AsnSlot {
    stamp: u64,
    packets: i64,
    bytes: i64,
}

impl<const K: usize> SumItem<K> {
    #[inline]
    fn packets(&self) -> i64 {
        (u64::from(self.packets[1]) << 32 | u64::from(self.packets[0])) as i64
    }
}

impl<const K: usize> Valued for SumItem<K> {
    type Slot = AsnSlot;
    #[inline]
    fn value(&self) -> u32 {
        self.item.value
    }
    #[inline]
    fn keys(&self) -> &[u32] {
        &self.item.keys
    }
    #[inline]
    fn tally(&self, slot: &mut AsnSlot, index: usize, group: u64, spill: &mut Vec<(usize, Sums)>) {
        stamp(&mut slot.stamp, group);
        let packets = self.packets();
        let bytes = i128::from(packets) * i128::from(self.ip_len);
        let sums = i64::try_from(bytes).ok().and_then(|bytes| {
            Some((
                slot.packets.checked_add(packets)?,
                slot.bytes.checked_add(bytes)?,
            ))
        });
        match sums {
            Some((packets, bytes)) => {
                slot.packets = packets;
                slot.bytes = bytes;
            }
            None => {
                let mut sums = Sums::default();
                sums.add(packets, self.ip_len);
                spill.push((index, sums));
            }
        }
    }
    fn blank() -> Self {
        SumItem {
            item: Item::blank(),
            packets: [0; 2],
            ip_len: 0,
        }
    }
}

/// Buckets per pass (the top bits of a value pick its bucket).
const BUCKET_BITS: u32 = 6;
const BUCKETS: usize = 1 << BUCKET_BITS;

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

/// Items in chunks of fixed capacity: growing never copies.
struct Bucket<T> {
    full: Vec<Vec<T>>,
    last: Vec<T>,
}

impl<T> Default for Bucket<T> {
    fn default() -> Self {
        Bucket {
            full: Vec::new(),
            last: Vec::new(),
        }
    }
}

const CHUNK_BYTES: usize = 1 << 16;

impl<T: Copy> Bucket<T> {
    #[inline]
    fn push(&mut self, item: T) {
        if self.last.len() == self.last.capacity() {
            let chunk = CHUNK_BYTES / std::mem::size_of::<T>();
            let full = std::mem::replace(&mut self.last, Vec::with_capacity(chunk));
            if !full.is_empty() {
                self.full.push(full);
            }
        }
        self.last.push(item);
    }

    /// The size of the bucket's items.
    fn bytes(&self) -> usize {
        let items = self.full.iter().map(Vec::len).sum::<usize>() + self.last.len();
        items * std::mem::size_of::<T>()
    }
}

fn buckets<T>() -> Vec<Bucket<T>> {
    (0..BUCKETS).map(|_| Bucket::default()).collect()
}

/// Packet and byte sums of one series.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    packets: i128,
    bytes: i128,
}

impl Sums {
    #[inline]
    fn add(&mut self, packets: i64, ip_len: i32) {
        let packets = i128::from(packets);
        self.packets += packets;
        self.bytes += packets * i128::from(ip_len);
    }

    fn merge(&mut self, other: &Sums) {
        self.packets += other.packets;
        self.bytes += other.bytes;
    }
}

/// How records update series, resolved once from the options.
#[derive(Debug, Clone)]
struct Rules {
    classes: Vec<Class>,
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
    /// The report plugin's rules ([`rules`]) rather than the script's.
    report: bool,
    /// Under report rules with `prefixagg` sources: ASNs by [`FirstAsns`].
    first_asns: bool,
    interval_length: u32,
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
            report: options.compat == Compat::Report,
            first_asns: options.compat == Compat::Report
                && matches!(options.src_counting, IpCounting::PrefixAgg(_)),
            interval_length: options.interval_length,
            classes,
        }
    }

    /// The most series keys one record's items hold (besides the summary):
    /// a port or ICMP key implies the protocol key, which takes a place of
    /// its own only in records without one.
    fn keys_per_record(&self) -> usize {
        let transport = if self.ports {
            2
        } else {
            usize::from(self.icmp)
        };
        let protocol = if self.protocols {
            transport.max(1)
        } else {
            transport
        };
        protocol + usize::from(self.asns) + 2 * self.geo.len()
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
    /// Ids of tags of at most two bytes (most are), by those bytes.
    short: Vec<u32>,
    tags: Vec<GeoTag>,
}

impl GeoIds {
    #[inline]
    fn id(&mut self, tag: GeoTag) -> u32 {
        let bytes = tag.padded();
        let short = bytes[2..].iter().all(|&b| b == 0);
        let index = usize::from(bytes[0]) << 8 | usize::from(bytes[1]);
        if short {
            if self.short.is_empty() {
                self.short = vec![NONE; 1 << 16];
            }
            if self.short[index] != NONE {
                return self.short[index];
            }
        }
        let id = match self.ids.get(&tag) {
            Some(&id) => id,
            None => {
                let id = self.tags.len() as u32;
                self.ids.insert(tag, id);
                self.tags.push(tag);
                id
            }
        };
        if short {
            self.short[index] = id;
        }
        id
    }
}

/// The series of the interval being read; `K` series keys per item.
struct IntervalAgg<const K: usize> {
    ordinal: u64,
    /// The sample index of the interval's time.
    index: u64,
    tables: Vec<KeyTable>,
    src: Vec<Bucket<Item<K>>>,
    dst: Vec<Bucket<Item<K>>>,
    asn: Vec<Bucket<SumItem<K>>>,
    /// Packets and bytes of every counted record.
    summary: Sums,
    /// Continent geo id of each country geo id's first record, per source.
    first_continent: [Vec<u32>; 2],
    /// Counted records so far.
    records: u64,
    /// Report rules, `prefixagg` sources: the first ASN per series and
    /// source aggregate.
    first_asns: FirstAsns,
}

/// The series id of the summary in [`FirstAsns`] (item keys are below).
const SUMMARY_SERIES: u32 = u32::MAX;

impl<const K: usize> IntervalAgg<K> {
    fn new(ordinal: u64, index: u64) -> IntervalAgg<K> {
        // (dense, direct): protocols and ports are their own ids; ASNs
        // below 2^20 (nearly all assigned ones) are found directly; geo
        // keys are the run's small tag ids.
        let limits = |t: usize| -> (u64, u64) {
            match t {
                0 => (256, 256),
                1..=5 => (1 << 16, 1 << 16),
                6 => (0, 1 << 20),
                _ => (1 << 16, 1 << 16),
            }
        };
        IntervalAgg {
            ordinal,
            index,
            tables: (0..TABLES)
                .map(|t| {
                    let (dense, direct) = limits(t);
                    KeyTable::new(dense, direct)
                })
                .collect(),
            src: buckets(),
            dst: buckets(),
            asn: buckets(),
            summary: Sums::default(),
            first_continent: [Vec::new(), Vec::new()],
            records: 0,
            first_asns: FirstAsns::default(),
        }
    }

    fn id(&mut self, table: Table, key: u64) -> u32 {
        self.tables[table as usize].id(key)
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
        for (i, rec) in records.iter().enumerate() {
            // The ASN table is too big for the caches: its entry for a
            // record a few places on is fetched while this one is filed.
            if let (true, Some(next)) = (rules.asns, records.get(i + ADD_AHEAD)) {
                self.tables[Table::Asn as usize].prefetch(u64::from(next.prefix2asn));
            }
            self.add_one(rules, geo_ids, rec);
        }
        // Item keys hold ids below 2^ID_BITS.
        if self.tables.iter().any(|t| t.len > ID_MASK as usize + 1) {
            return Err(FlowtupleError::IntervalTooLarge { at });
        }
        Ok(())
    }

    #[inline]
    fn add_one(&mut self, rules: &Rules, geo_ids: &mut GeoIds, rec: &FlowRecord) {
        let mut keys = [UNUSED; 8];
        let mut n = 0;
        let mut key = |table: Table, id: u32| {
            keys[n] = (table as u32) << ID_BITS | (id & ID_MASK);
            n += 1;
        };
        // Looked up even when a transport key implies it, so that the
        // protocol table covers it.
        let protocol = rules
            .protocols
            .then(|| self.id(Table::Proto, u64::from(rec.protocol as u32)));
        let port = |p: i32| u64::from(p as u32);
        let mut transport_key = false;
        if rules.ports && (rec.protocol == TCP || rec.protocol == UDP) {
            let (transport, first, tables) = if rec.protocol == TCP {
                (Transport::Tcp, 0, [Table::TcpSrc, Table::TcpDst])
            } else {
                (Transport::Udp, 2, [Table::UdpSrc, Table::UdpDst])
            };
            if rules.wants_port(transport, first, rec.src_port) {
                let id = self.id(tables[0], port(rec.src_port));
                key(tables[0], id);
                transport_key = true;
            }
            if rules.wants_port(transport, first + 1, rec.dst_port) {
                let id = self.id(tables[1], port(rec.dst_port));
                key(tables[1], id);
                transport_key = true;
            }
        } else if rules.icmp && rec.protocol == ICMP {
            let (ty, code) = (rec.src_port as u32, rec.dst_port as u32);
            let table = &mut self.tables[Table::Icmp as usize];
            // Dense ids for types and codes below 256, the full pair else.
            let id = if ty < 256 && code < 256 {
                table.id(u64::from(ty << 8 | code))
            } else {
                table.sparse_id(u64::from(ty) << 32 | u64::from(code))
            };
            key(Table::Icmp, id);
            transport_key = true;
        }
        // The first key, a port or ICMP key if the record has one, also
        // counts in its protocol's series (see `Slots::new`); without
        // one, the protocol takes a key of its own.
        if let (Some(id), false) = (protocol, transport_key) {
            key(Table::Proto, id);
        }
        if rules.asns && rec.prefix2asn != 0 {
            let id = self.id(Table::Asn, u64::from(rec.prefix2asn));
            key(Table::Asn, id);
        }
        for (source, field) in rules.geo.iter().enumerate() {
            let [continent, country] = match field {
                GeoField::Netacq => rec.netacq,
                GeoField::Maxmind => rec.maxmind,
            };
            // Under report rules a `??` tag makes no key, and a country
            // is keyed under the table's continent (none: no key).
            let (continent, country, country_continent) = if rules.report {
                let keyed = rules::country_continent(country);
                (
                    rules::continent_key(continent),
                    keyed.map(|_| country),
                    keyed,
                )
            } else {
                (Some(continent), Some(country), None)
            };
            let mut cont = NONE;
            if let Some(continent) = continent {
                cont = geo_ids.id(continent);
                let cont_id = self.id(GEO_TABLES[source * 2], u64::from(cont));
                key(GEO_TABLES[source * 2], cont_id);
            }
            let Some(country) = country else {
                continue;
            };
            // The country's continent: the record's (script, `cont`), or
            // the table's (report).
            if let Some(table) = country_continent {
                cont = geo_ids.id(table);
            }
            let coun = geo_ids.id(country);
            let coun_id = self.id(GEO_TABLES[source * 2 + 1], u64::from(coun));
            key(GEO_TABLES[source * 2 + 1], coun_id);
            let first = &mut self.first_continent[source];
            if first.len() <= coun as usize {
                first.resize(coun as usize + 1, NONE);
            }
            if first[coun as usize] == NONE {
                first[coun as usize] = cont;
            }
        }
        self.summary.add(rec.packet_cnt, rec.ip_len);
        debug_assert!(n <= K, "{n} series keys, items hold {K}");
        // `K` is at least the number of keys: one item per value, even
        // with no keys (so that the value counts in the summary).
        let keys: [u32; K] = std::array::from_fn(|i| keys[i]);
        let src = rules.src_counting.count_key(rec.src_ip, self.index);
        if let Some(src) = src {
            let value = spread(src);
            self.src[bucket_of(value)].push(Item { value, keys });
        }
        if let Some(dst) = rules.dst_counting.count_key(rec.dst_ip, self.index) {
            let value = spread(dst);
            self.dst[bucket_of(value)].push(Item { value, keys });
        }
        let asn = if !rules.report {
            rec.prefix2asn
        } else if rules.first_asns {
            let aggregate = src.unwrap_or_default();
            let implied = protocol.filter(|_| transport_key);
            let implied = implied.map(|id| (Table::Proto as u32) << ID_BITS | id);
            for &series in keys[..n].iter().chain(&implied).chain(&[SUMMARY_SERIES]) {
                self.first_asns.note(series, aggregate, rec.prefix2asn);
            }
            rules::NO_ASN
        } else {
            rules::asn_value(rec.prefix2asn, src.is_some())
        };
        let value = spread(asn);
        self.asn[bucket_of(value)].push(SumItem {
            item: Item { value, keys },
            packets: [rec.packet_cnt as u32, (rec.packet_cnt >> 32) as u32],
            ip_len: rec.ip_len,
        });
    }

    /// The interval's rows: classes in order, keys ascending.
    fn finish(self, rules: &Rules, geo_ids: &GeoIds, threads: usize) -> Vec<SeriesRow> {
        let IntervalAgg {
            tables,
            src,
            dst,
            asn,
            summary,
            first_continent,
            records,
            first_asns,
            ..
        } = self;
        let layout = Slots::new(rules, &tables);
        let threads = if records > 1 << 16 { threads.max(1) } else { 1 };
        let counts = count(src, dst, asn, &layout, threads, rules.report);
        let first_asns = rules.first_asns.then(|| first_asns.counts());
        // `series` is the item key of the slot (see `FirstAsns` notes).
        let asns = |slot: Option<usize>, series: u32| match (&first_asns, slot) {
            (Some(first), _) => first.get(&series).copied().unwrap_or(0),
            (None, None) => counts.groups[2] - u64::from(counts.any_no_asn),
            (None, Some(s)) => counts.slots[2][s] - counts.no_asn.get(s).copied().unwrap_or(0),
        };
        let counters = |slot: Option<usize>, series: u32| match slot {
            None => Counters {
                packets: summary.packets,
                bytes: summary.bytes,
                uniq_src_ips: counts.groups[0],
                uniq_dst_ips: counts.groups[1],
                uniq_src_asns: asns(slot, series),
            },
            Some(s) => Counters {
                packets: counts.sums[s].packets,
                bytes: counts.sums[s].bytes,
                uniq_src_ips: counts.slots[0][s],
                uniq_dst_ips: counts.slots[1][s],
                uniq_src_asns: asns(slot, series),
            },
        };
        let mut out = Vec::new();
        for &class in &rules.classes {
            let start = out.len();
            let table = match class {
                Class::Summary => {
                    out.push(SeriesRow {
                        class,
                        key: Key::Overall,
                        continent: None,
                        counters: counters(None, SUMMARY_SERIES),
                    });
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
            let keys = &tables[t];
            for id in 0..keys.len {
                let slot = layout.offsets[t] + id;
                // Every record files an ASN item, so a series with records
                // has an ASN count (before report rules take out
                // `NO_ASN`).
                if counts.slots[2][slot] == 0 {
                    continue;
                }
                let raw = keys.key(id as u32);
                let (key, continent) = match table {
                    Table::Proto
                    | Table::TcpSrc
                    | Table::TcpDst
                    | Table::UdpSrc
                    | Table::UdpDst => (Key::Number(i64::from(raw as u32 as i32)), None),
                    Table::Asn => (Key::Number(raw as i64), None),
                    Table::Icmp => {
                        let (ty, code) = if (id as u64) < keys.dense {
                            ((raw >> 8) as i32, (raw & 0xff) as i32)
                        } else {
                            ((raw >> 32) as u32 as i32, raw as u32 as i32)
                        };
                        (Key::Icmp(ty, code), None)
                    }
                    Table::Geo0 | Table::Geo2 => (Key::Geo(geo_ids.tags[raw as usize]), None),
                    Table::Geo1 | Table::Geo3 => {
                        let source = (t - Table::Geo0 as usize) / 2;
                        let cont = first_continent[source][raw as usize];
                        (
                            Key::Geo(geo_ids.tags[raw as usize]),
                            Some(geo_ids.tags[cont as usize]),
                        )
                    }
                };
                out.push(SeriesRow {
                    class,
                    key,
                    continent,
                    counters: counters(Some(slot), (t as u32) << ID_BITS | id as u32),
                });
            }
            out[start..].sort_by_key(|r| r.key);
        }
        out
    }
}

/// Where series keys count: the tables' slots one after the other, then a
/// spare slot for unused keys.
struct Slots {
    /// The first slot of each table, and the spare slot.
    offsets: [usize; TABLES + 1],
    /// By the table of an item's first key: the slot of the protocol that
    /// key implies, or the spare slot.
    implied: [usize; TABLES + 1],
}

impl Slots {
    /// The slots of `tables`, which imply protocols if the rules count
    /// them: a port or ICMP key's records are TCP, UDP or ICMP. Only an
    /// item's first key implies one, so that a record counts in it once.
    fn new(rules: &Rules, tables: &[KeyTable]) -> Slots {
        let mut offsets = [0usize; TABLES + 1];
        for (t, table) in tables.iter().enumerate() {
            offsets[t + 1] = offsets[t] + table.len;
        }
        let mut implied = [offsets[TABLES]; TABLES + 1];
        if rules.protocols {
            let protocol = |p: i32| offsets[Table::Proto as usize] + p as usize;
            implied[Table::TcpSrc as usize] = protocol(TCP);
            implied[Table::TcpDst as usize] = protocol(TCP);
            implied[Table::UdpSrc as usize] = protocol(UDP);
            implied[Table::UdpDst as usize] = protocol(UDP);
            implied[Table::Icmp as usize] = protocol(ICMP);
        }
        Slots { offsets, implied }
    }

    fn len(&self) -> usize {
        self.offsets[TABLES] + 1
    }

    #[inline]
    fn slot(&self, key: u32) -> usize {
        self.offsets[(key >> ID_BITS) as usize] + (key & ID_MASK) as usize
    }
}

/// What the passes found: per pass the number of distinct values and the
/// distinct count of every series slot, and the sums.
struct Counts {
    groups: [u64; 3],
    slots: [Vec<u64>; 3],
    sums: Vec<Sums>,
    /// Report rules: per slot, 1 when [`rules::NO_ASN`] was counted in it
    /// (empty otherwise), and whether it was counted at all.
    no_asn: Vec<u64>,
    any_no_asn: bool,
}

/// One bucket of one pass.
enum Work<const K: usize> {
    Values(usize, Bucket<Item<K>>),
    /// An ASN bucket; `true` for the one [`rules::NO_ASN`] falls in, when
    /// report rules need its slots.
    Asns(bool, Bucket<SumItem<K>>),
}

/// Counts every bucket of the three passes on `threads` threads; with
/// `report`, also which slots counted [`rules::NO_ASN`].
fn count<const K: usize>(
    src: Vec<Bucket<Item<K>>>,
    dst: Vec<Bucket<Item<K>>>,
    asn: Vec<Bucket<SumItem<K>>>,
    layout: &Slots,
    threads: usize,
    report: bool,
) -> Counts {
    let mut work: Vec<Work<K>> = Vec::new();
    work.extend(src.into_iter().map(|b| Work::Values(0, b)));
    work.extend(dst.into_iter().map(|b| Work::Values(1, b)));
    let no_asn_bucket = bucket_of(spread(rules::NO_ASN));
    work.extend(
        asn.into_iter()
            .enumerate()
            .map(|(i, b)| Work::Asns(report && i == no_asn_bucket, b)),
    );
    // Popped from the end: the biggest buckets go first, so that the
    // threads finish close together.
    let bytes = |w: &Work<K>| match w {
        Work::Values(_, b) => b.bytes(),
        Work::Asns(_, b) => b.bytes(),
    };
    work.retain(|w| bytes(w) > 0);
    work.sort_by_key(bytes);
    let queue = Mutex::new(work);
    let run = || count_buckets(&queue, layout);
    let parts: Vec<Tally> = if threads > 1 {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(run)).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    } else {
        vec![run()]
    };
    let slots = layout.len();
    let mut total = Counts {
        groups: [0; 3],
        slots: std::array::from_fn(|_| vec![0; slots]),
        sums: vec![Sums::default(); slots],
        no_asn: if report { vec![0; slots] } else { Vec::new() },
        any_no_asn: false,
    };
    let count_of = |slot: u64| slot & 0xffff_ffff;
    for part in parts {
        for p in 0..3 {
            total.groups[p] += part.groups[p];
        }
        for p in 0..2 {
            for (t, &s) in total.slots[p].iter_mut().zip(&part.slots[p]) {
                *t += count_of(s);
            }
        }
        for ((t, sums), a) in total.slots[2]
            .iter_mut()
            .zip(&mut total.sums)
            .zip(&part.asn)
        {
            *t += count_of(a.stamp);
            sums.packets += i128::from(a.packets);
            sums.bytes += i128::from(a.bytes);
        }
        for (slot, spilled) in &part.spill {
            total.sums[*slot].merge(spilled);
        }
        if let Some((any, no_asn)) = part.no_asn {
            total.any_no_asn |= any;
            for (t, &s) in total.no_asn.iter_mut().zip(&no_asn) {
                *t += count_of(s);
            }
        }
    }
    total
}

/// One thread's counts: per pass the number of distinct values, the
/// slots of the source and destination passes, and those of the ASN pass
/// with sums that overflowed them.
struct Tally {
    groups: [u64; 3],
    slots: [Vec<u64>; 2],
    asn: Vec<AsnSlot>,
    spill: Vec<(usize, Sums)>,
    /// Whether [`rules::NO_ASN`] was counted, and in which slots (only the
    /// thread that took its bucket).
    no_asn: Option<(bool, Vec<u64>)>,
}

/// One thread's share of [`count`].
fn count_buckets<const K: usize>(queue: &Mutex<Vec<Work<K>>>, layout: &Slots) -> Tally {
    let slots = layout.len();
    let mut out = Tally {
        groups: [0; 3],
        slots: [vec![0; slots], vec![0; slots]],
        asn: vec![AsnSlot::default(); slots],
        spill: Vec::new(),
        no_asn: None,
    };
    let (mut values, mut values_work): (Vec<Item<K>>, Vec<Item<K>>) = Default::default();
    let (mut asns, mut asns_work): (Vec<SumItem<K>>, Vec<SumItem<K>>) = Default::default();
    let mut group = 0u64;
    loop {
        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match next {
            None => return out,
            Some(Work::Values(pass, bucket)) => {
                let items = sort_bucket(bucket, &mut values, &mut values_work);
                let slots = &mut out.slots[pass];
                out.groups[pass] += scan(items, layout, slots, &mut out.spill, &mut group);
            }
            Some(Work::Asns(no_asn, bucket)) => {
                let items = sort_bucket(bucket, &mut asns, &mut asns_work);
                if no_asn {
                    // Sorted by spread value: NO_ASN's items come first.
                    let none = spread(rules::NO_ASN);
                    let end = items.partition_point(|i| i.value() == none);
                    let plain: Vec<Item<K>> = items[..end].iter().map(|i| i.item).collect();
                    let mut slots = vec![0u64; layout.len()];
                    scan(&plain, layout, &mut slots, &mut out.spill, &mut group);
                    out.no_asn = Some((end > 0, slots));
                }
                let slots = &mut out.asn;
                out.groups[2] += scan(items, layout, slots, &mut out.spill, &mut group);
            }
        }
    }
}

/// Counts sorted items: each distinct value once, and once in each series
/// slot it has keys for (`group`, which numbers values across calls, is the
/// slot's stamp). Returns the number of distinct values.
///
/// Branch-free: whether a value is new, or a slot already counted it, is
/// unpredictable, and a mispredicted branch after a cache miss would stop
/// the next items' loads from overlapping.
fn scan<T: Valued>(
    items: &[T],
    layout: &Slots,
    slots: &mut [T::Slot],
    spill: &mut Vec<(usize, Sums)>,
    group: &mut u64,
) -> u64 {
    let mut values = 0;
    let mut prev = items.first().map_or(0, |i| !i.value());
    for (i, item) in items.iter().enumerate() {
        // The slots of an item a few places on, so that their cache misses
        // overlap with this item's work.
        if let Some(next) = items.get(i + SCAN_AHEAD) {
            for &key in next.keys() {
                prefetch(slots, layout.slot(key));
            }
        }
        let new = u64::from(item.value() != prev);
        prev = item.value();
        *group += new;
        values += new;
        let keys = item.keys();
        let implied = layout.implied[(keys[0] >> ID_BITS) as usize];
        item.tally(&mut slots[implied], implied, *group, spill);
        for &key in keys {
            let slot = layout.slot(key);
            item.tally(&mut slots[slot], slot, *group, spill);
        }
    }
    values
}

/// How many records ahead [`IntervalAgg::add`] prefetches table entries.
const ADD_AHEAD: usize = 8;

/// How many items ahead [`scan`] prefetches series slots.
const SCAN_AHEAD: usize = 16;

/// Asks the CPU to bring `slots[index]` into its caches. Only a hint: it
/// changes no result, and is a no-op where there is no such instruction.
#[inline(always)]
fn prefetch<T>(slots: &[T], index: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(slot) = slots.get(index) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch reads nothing into the program and never
        // faults; SSE, which provides it, is part of every x86-64 target.
        #[allow(unsafe_code)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>((slot as *const T).cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slots, index);
}

/// The bucket's items sorted by value, left at the start of `out` (`work`
/// is working space; both are reused between buckets and only grow, so
/// that they are not cleared for every bucket). LSD radix with 13-bit
/// digits, the first pass reading the bucket's chunks.
fn sort_bucket<'a, T: Valued>(
    bucket: Bucket<T>,
    out: &'a mut Vec<T>,
    work: &mut Vec<T>,
) -> &'a [T] {
    let chunks: Vec<&[T]> = bucket
        .full
        .iter()
        .map(Vec::as_slice)
        .chain(std::iter::once(bucket.last.as_slice()))
        .collect();
    let n: usize = chunks.iter().map(|c| c.len()).sum();
    if out.len() < n {
        out.resize(n, T::blank());
    }
    let copy = |out: &mut [T]| {
        let mut at = 0;
        for c in &chunks {
            out[at..at + c.len()].copy_from_slice(c);
            at += c.len();
        }
    };
    if n < 512 {
        copy(&mut out[..n]);
        out[..n].sort_unstable_by_key(|i| i.value());
        return &out[..n];
    }
    let mut counts = vec![[0u32; 1 << DIGIT]; 3];
    for chunk in &chunks {
        for item in chunk.iter() {
            let v = item.value();
            for (d, c) in counts.iter_mut().enumerate() {
                c[((v >> (DIGIT * d as u32)) & DIGIT_MASK) as usize] += 1;
            }
        }
    }
    let digits: Vec<usize> = (0..3)
        .filter(|&d| !counts[d].contains(&(n as u32)))
        .collect();
    let Some((&first, rest)) = digits.split_first() else {
        copy(&mut out[..n]);
        return &out[..n];
    };
    let mut offsets = starts(&counts[first]);
    for chunk in &chunks {
        scatter(chunk, &mut offsets, first, &mut out[..n]);
    }
    if !rest.is_empty() && work.len() < n {
        work.resize(n, T::blank());
    }
    for &d in rest {
        scatter(&out[..n], &mut starts(&counts[d]), d, &mut work[..n]);
        std::mem::swap(out, work);
    }
    &out[..n]
}

const DIGIT: u32 = 13;
const DIGIT_MASK: u32 = (1 << DIGIT) - 1;

/// Where each digit value's items start, from the digit's histogram.
fn starts(count: &[u32; 1 << DIGIT]) -> Vec<u32> {
    let mut sum = 0;
    count
        .iter()
        .map(|&x| {
            let start = sum;
            sum += x;
            start
        })
        .collect()
}

/// One LSD radix pass on digit `d` over `items`, placing each at the next
/// free place of its digit value (`offsets`, advanced).
fn scatter<T: Valued>(items: &[T], offsets: &mut [u32], d: usize, into: &mut [T]) {
    let shift = DIGIT * d as u32;
    for item in items {
        let b = ((item.value() >> shift) & DIGIT_MASK) as usize;
        into[offsets[b] as usize] = *item;
        offsets[b] += 1;
    }
}

/// The source index (0 or 1) of a geo class among the rules' sources.
fn geo_source(rules: &Rules, class: Class) -> usize {
    let field = match class {
        Class::NetacqContinents | Class::NetacqCountries => GeoField::Netacq,
        _ => GeoField::Maxmind,
    };
    rules.geo.iter().position(|&f| f == field).unwrap_or(0)
}

/// Turns the filtered records of a file, block by block, into complete
/// interval series, handed to a callback as each interval ends.
///
/// A merging aggregator ([`Aggregator::merging`]) instead keeps every
/// interval open, adds runs of a time seen before (in any input it is
/// given) to that time's interval, and hands out every interval, in
/// ascending time, when [`Aggregator::finish`] is called.
pub struct Aggregator {
    sequencer: Sequencer,
    intervals: Intervals,
}

/// The interval being read, and what every interval shares.
struct Intervals {
    rules: Rules,
    current: Option<Box<dyn Interval>>,
    /// Merging: every interval read, by time.
    open: Option<BTreeMap<i64, Box<dyn Interval>>>,
    geo_ids: GeoIds,
    threads: usize,
}

/// An [`IntervalAgg`] of any item width.
trait Interval {
    fn ordinal(&self) -> u64;
    fn add(
        &mut self,
        rules: &Rules,
        geo_ids: &mut GeoIds,
        records: &[FlowRecord],
        at: Position,
    ) -> Result<(), FlowtupleError>;
    fn finish(self: Box<Self>, rules: &Rules, geo_ids: &GeoIds, threads: usize) -> Vec<SeriesRow>;
}

impl<const K: usize> Interval for IntervalAgg<K> {
    fn ordinal(&self) -> u64 {
        self.ordinal
    }

    fn add(
        &mut self,
        rules: &Rules,
        geo_ids: &mut GeoIds,
        records: &[FlowRecord],
        at: Position,
    ) -> Result<(), FlowtupleError> {
        IntervalAgg::add(self, rules, geo_ids, records, at)
    }

    fn finish(self: Box<Self>, rules: &Rules, geo_ids: &GeoIds, threads: usize) -> Vec<SeriesRow> {
        IntervalAgg::finish(*self, rules, geo_ids, threads)
    }
}

/// A new interval at `time` with items as wide as the mode needs.
fn new_interval(rules: &Rules, ordinal: u64, time: i64) -> Box<dyn Interval> {
    let index = sample_index(time, rules.interval_length);
    match rules.keys_per_record() {
        0..=2 => Box::new(IntervalAgg::<2>::new(ordinal, index)),
        3 => Box::new(IntervalAgg::<3>::new(ordinal, index)),
        4 => Box::new(IntervalAgg::<4>::new(ordinal, index)),
        5 => Box::new(IntervalAgg::<5>::new(ordinal, index)),
        6 => Box::new(IntervalAgg::<6>::new(ordinal, index)),
        // At most: two ports, an ASN and two geo sources.
        _ => Box::new(IntervalAgg::<7>::new(ordinal, index)),
    }
}

impl Aggregator {
    /// An aggregator for `options`; `threads` > 1 counts distinct values of
    /// a complete interval on several threads.
    pub fn new(options: &SeriesOptions, threads: usize) -> Aggregator {
        Aggregator {
            sequencer: Sequencer::new(false),
            intervals: Intervals {
                rules: Rules::new(options),
                current: None,
                open: None,
                geo_ids: GeoIds::default(),
                threads,
            },
        }
    }

    /// A merging aggregator (see [`Aggregator`]): memory holds every
    /// interval until [`Aggregator::finish`].
    pub fn merging(options: &SeriesOptions, threads: usize) -> Aggregator {
        let mut agg = Aggregator::new(options, threads);
        agg.sequencer = Sequencer::new(true);
        agg.intervals.open = Some(BTreeMap::new());
        agg
    }

    /// Ends one input of a merging aggregator: its last run is complete,
    /// nothing is handed out. (The next input starts a new run.)
    pub fn end_input(&mut self) -> Result<(), FlowtupleError> {
        self.finish(&mut |_| {
            Err(FlowtupleError::Internal(
                "end_input on an aggregator that does not merge".into(),
            ))
        })
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
            sequencer,
            intervals,
        } = self;
        sequencer.block(block, pos, &mut |step| {
            intervals.apply(step, &block.records, pos, emit)
        })
    }

    /// Ends the input: the last interval is complete.
    pub fn finish<E>(&mut self, emit: &mut E) -> Result<(), FlowtupleError>
    where
        E: FnMut(IntervalSeries) -> Result<(), FlowtupleError>,
    {
        let Aggregator {
            sequencer,
            intervals,
        } = self;
        // Closing needs no records, so no position either.
        let nowhere = Position {
            offset: 0,
            block: None,
        };
        sequencer.finish(&mut |step| intervals.apply(step, &[], nowhere, emit))
    }

    /// Ends every input of a merging aggregator: every interval, in
    /// ascending time, is passed to `emit`.
    pub fn finish_merged<E>(&mut self, emit: &mut E) -> Result<(), FlowtupleError>
    where
        E: FnMut(IntervalSeries) -> Result<(), FlowtupleError>,
    {
        self.end_input()?;
        let Intervals {
            rules,
            open,
            geo_ids,
            threads,
            ..
        } = &mut self.intervals;
        for (time, agg) in std::mem::take(open).unwrap_or_default() {
            let rows = agg.finish(rules, geo_ids, *threads);
            emit(IntervalSeries { time, rows })?;
        }
        Ok(())
    }
}

impl Intervals {
    /// Carries out one step of the sequencer; `records` are the block's
    /// kept records, read at `at`.
    fn apply<E>(
        &mut self,
        step: Step,
        records: &[FlowRecord],
        at: Position,
        emit: &mut E,
    ) -> Result<(), FlowtupleError>
    where
        E: FnMut(IntervalSeries) -> Result<(), FlowtupleError>,
    {
        let Intervals {
            rules,
            current,
            open,
            geo_ids,
            threads,
        } = self;
        match (step, open) {
            (Step::Records { time, range, .. }, Some(open)) => {
                let agg = open
                    .entry(time)
                    .or_insert_with(|| new_interval(rules, 0, time));
                agg.add(rules, geo_ids, &records[range], at)
            }
            (Step::Close { time, .. }, Some(open)) => {
                // An interval none of whose records counted still prints.
                open.entry(time)
                    .or_insert_with(|| new_interval(rules, 0, time));
                Ok(())
            }
            (
                Step::Records {
                    time,
                    ordinal,
                    range,
                },
                None,
            ) => {
                let agg = match current {
                    Some(agg) if agg.ordinal() == ordinal => agg,
                    _ => current.insert(new_interval(rules, ordinal, time)),
                };
                agg.add(rules, geo_ids, &records[range], at)
            }
            (Step::Close { time, ordinal }, None) => {
                let agg = match current.take() {
                    Some(agg) if agg.ordinal() == ordinal => agg,
                    _ => new_interval(rules, ordinal, time),
                };
                let rows = agg.finish(rules, geo_ids, *threads);
                emit(IntervalSeries { time, rows })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowtuple::decode::Run;
    use crate::flowtuple::options::{GeoSource, Mode, PortFilters, SeriesOptions};
    use crate::flowtuple::test_rng::Rng;
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
    fn sort_bucket_orders_by_value() {
        let mut seed = Rng(11);
        // The working buffers are reused, as between buckets: they only grow
        // and hold the previous bucket's items beyond `n`.
        let (mut out, mut work) = (Vec::new(), Vec::new());
        for n in [0, 5, 511, 512, 100_000, 3, 70_000, 600, 100_001] {
            let items: Vec<Item<3>> = (0..n)
                .map(|i| {
                    let v = seed.next() as u32;
                    let value = if i % 3 == 0 { v } else { v >> 20 };
                    Item {
                        value,
                        keys: [i as u32, 0, 0],
                    }
                })
                .collect();
            let pairs = |items: &[Item<3>]| {
                let mut p: Vec<(u32, u32)> = items.iter().map(|i| (i.value, i.keys[0])).collect();
                p.sort_unstable();
                p
            };
            let want = pairs(&items);
            let mut bucket = Bucket::default();
            items.iter().for_each(|&i| bucket.push(i));
            let got = sort_bucket(bucket, &mut out, &mut work).to_vec();
            assert!(got.windows(2).all(|w| w[0].value <= w[1].value), "n = {n}");
            assert!(pairs(&got) == want, "n = {n}: the same items");
        }
    }

    fn tag(s: &str) -> GeoTag {
        GeoTag::from_bytes(s.as_bytes()).unwrap()
    }

    /// Random records over small value ranges, so that values repeat
    /// within and across series.
    fn random_records(n: usize, seed: &mut Rng) -> Vec<FlowRecord> {
        let conts = ["EU", "NA", "AS", "??"];
        let countries = ["FR", "US", "CN", "DE", "??", "BR"];
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
                        tag(conts[seed.below(4) as usize]),
                        tag(countries[seed.below(6) as usize]),
                    ],
                    maxmind: [
                        tag(conts[seed.below(4) as usize]),
                        tag(countries[seed.below(6) as usize]),
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
                if options.compat == Compat::Script || (src.is_some() && r.prefix2asn != 0) {
                    acc.4.insert(r.prefix2asn);
                }
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
    fn report_asn_rules_agree_with_the_obvious_computation() {
        let mut seed = Rng(5);
        for counting in [IpCounting::All, IpCounting::Sample(30)] {
            let mut options = SeriesOptions::new(Mode::Unfiltered);
            options.compat = Compat::Report;
            options.src_counting = counting;
            // Enough records that the passes run on several threads.
            let records = random_records(80_000, &mut seed);
            let want = naive(&options, &records);
            let blocks: Vec<DecodedBlock> =
                records.chunks(333).map(|c| block(c.to_vec())).collect();
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
