//! The interval being read: each counted record becomes items in buckets;
//! when the interval is complete, its buckets are counted into rows.

use super::config::{GeoField, Rules};
use std::path::Path;

use super::bound::KeyBytes;
use super::compact::{compact, SMALL};
use super::count::{count, Slots};
use super::items::{bucket_of, buckets, spread, Bucket, FirstItem, Item, Pass, SumItem, Sums};
use super::keys::{
    GeoIds, GeoTuples, KeyTable, Table, GEO_TABLES, ICMP, ID_BITS, ID_MASK, NONE, TABLES, TCP, UDP,
    UNUSED,
};
use super::pairs::PairFile;
use super::spill::Spill;
use crate::flowtuple::error::{FlowtupleError, Position};
use crate::flowtuple::filter::Transport;
use crate::flowtuple::options::Class;
use crate::flowtuple::record::{FlowRecord, GeoTag};
use crate::flowtuple::report::rules;
use crate::flowtuple::series::{Counters, Key, SeriesRow};

/// The series of the interval being read; `K` series keys per item.
pub(super) struct IntervalAgg<const K: usize> {
    pub(super) ordinal: u64,
    /// The sample index of the interval's time.
    pub(super) index: u64,
    pub(super) tables: Vec<KeyTable>,
    pub(super) src: Vec<Bucket<Item<K>>>,
    pub(super) dst: Vec<Bucket<Item<K>>>,
    pub(super) asn: Vec<Bucket<SumItem<K>>>,
    /// Report rules, `prefixagg` sources: the source items, with ASNs
    /// (`src` is then empty).
    pub(super) first: Vec<Bucket<FirstItem<K>>>,
    /// Packets and bytes of every counted record.
    pub(super) summary: Sums,
    /// Continent geo id of each country geo id's first record, per source.
    pub(super) first_continent: [Vec<u32>; 2],
    /// The records' geo keys, as one key each.
    pub(super) tuples: GeoTuples,
    /// Counted records so far.
    pub(super) records: u64,
    /// Counted records whose items are in memory.
    pub(super) in_memory: u64,
    /// Runs spilled to disk, if any.
    pub(super) spill: Option<Spill>,
    /// Whether a spill keeps the buckets' chunks for the next items (see
    /// [`Bucket::recycle`]): not when several intervals are open, where
    /// another one may need the memory.
    recycle: bool,
}

impl<const K: usize> IntervalAgg<K> {
    /// An empty interval; `recycle`: see [`IntervalAgg::recycle`].
    pub(super) fn new(ordinal: u64, index: u64, recycle: bool) -> IntervalAgg<K> {
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
            first: buckets(),
            summary: Sums::default(),
            first_continent: [Vec::new(), Vec::new()],
            tuples: GeoTuples::default(),
            records: 0,
            in_memory: 0,
            spill: None,
            recycle,
        }
    }

    pub(super) fn id(&mut self, table: Table, key: u64) -> u32 {
        self.tables[table as usize].id(key)
    }

    /// Adds counted records, in file order.
    pub(super) fn add(
        &mut self,
        rules: &Rules,
        geo_ids: &mut GeoIds,
        records: &[FlowRecord],
        at: Position,
        threads: usize,
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
        self.in_memory += records.len() as u64;
        if let Some(options) = &rules.spill {
            // Key tables count against the limit; they cannot spill (see
            // `bound`), the items can.
            let keys = self.key_bytes(Some(geo_ids), threads);
            keys.check(options.limit, at)?;
            let memory = self.memory(rules);
            // Sorting needs working space on top of the items (see
            // `sort_scratch`), at most twice the items: looked at only
            // when it could matter.
            if memory + keys.bytes > options.limit
                || (3 * memory + keys.bytes > options.limit
                    && memory + keys.bytes + self.sort_scratch(threads) > options.limit)
            {
                self.spill_now(rules, threads)?;
            }
        }
        // Item keys hold ids below 2^ID_BITS.
        if self.tables.iter().any(|t| t.len > ID_MASK as usize + 1)
            || self.tuples.keys.len() > ID_MASK as usize + 1
        {
            return Err(FlowtupleError::IntervalTooLarge { at });
        }
        Ok(())
    }

    // The per-record hot path, kept whole: inlined into `add`'s loop.
    #[allow(clippy::too_many_lines)]
    #[inline]
    pub(super) fn add_one(&mut self, rules: &Rules, geo_ids: &mut GeoIds, rec: &FlowRecord) {
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
        if !rules.geo.is_empty() {
            // Per source the continent's and the country's tag ids, NONE
            // where the tag makes no key: under report rules a `??` tag
            // makes none, and a country none unless the table knows its
            // continent.
            let mut tags = [NONE; 4];
            for (source, field) in rules.geo.iter().enumerate() {
                let [continent, country] = match field {
                    GeoField::Netacq => &rec.netacq,
                    GeoField::Maxmind => &rec.maxmind,
                };
                if !rules.report || rules::continent_key(*continent).is_some() {
                    tags[source * 2] = geo_ids.id(continent);
                }
                if !rules.report || rules::country_continent(*country).is_some() {
                    tags[source * 2 + 1] = geo_ids.id(country);
                }
            }
            if tags != [NONE; 4] {
                let tuple = match self.tuples.ids.get(&tags) {
                    Some(&tuple) => tuple,
                    None => self.new_tuple(rules, geo_ids, tags),
                };
                key(Table::GeoTuple, tuple);
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
            if rules.first_asns {
                self.first[bucket_of(value)].push(FirstItem {
                    item: Item { value, keys },
                    asn: rec.prefix2asn,
                });
            } else {
                self.src[bucket_of(value)].push(Item { value, keys });
            }
        }
        if let Some(dst) = rules.dst_counting.count_key(rec.dst_ip, self.index) {
            let value = spread(dst);
            self.dst[bucket_of(value)].push(Item { value, keys });
        }
        let asn = if !rules.report {
            rec.prefix2asn
        } else if rules.first_asns {
            // ASNs are counted from the source items (see `FirstItem`):
            // this pass only sums, and finds which series have records, so
            // any value does; the source's spreads the items over buckets
            // (one value would put them all in one bucket, sorted by one
            // thread with twice their size in working space).
            src.unwrap_or(rules::NO_ASN)
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

    /// The id of a new geo tuple of tag ids `tags`: its series keys, and
    /// for each country the continent it is printed under, if it is the
    /// country's first record (the record's continent under script rules,
    /// the table's under report rules).
    #[cold]
    fn new_tuple(&mut self, rules: &Rules, geo_ids: &mut GeoIds, tags: [u32; 4]) -> u32 {
        let mut keys = [UNUSED; 4];
        for (i, &tag) in tags.iter().enumerate().filter(|&(_, &tag)| tag != NONE) {
            let id = self.id(GEO_TABLES[i], u64::from(tag));
            keys[i] = (GEO_TABLES[i] as u32) << ID_BITS | (id & ID_MASK);
        }
        for source in 0..rules.geo.len() {
            let (cont, coun) = (tags[source * 2], tags[source * 2 + 1]);
            if coun == NONE {
                continue;
            }
            let first = &mut self.first_continent[source];
            if first.len() <= coun as usize {
                first.resize(coun as usize + 1, NONE);
            }
            if first[coun as usize] == NONE {
                first[coun as usize] = if rules.report {
                    // Known to the table: the country has a key.
                    match rules::country_continent(geo_ids.tags[coun as usize]) {
                        Some(table) => geo_ids.id(&table),
                        None => NONE,
                    }
                } else {
                    cont
                };
            }
        }
        let tuple = self.tuples.keys.len() as u32;
        self.tuples.ids.insert(tags, tuple);
        self.tuples.keys.push(keys);
        tuple
    }

    /// What the key tables take (with the run's geo tags `geo_ids`, if
    /// given) when counted on `threads` threads.
    pub(super) fn key_bytes(&self, geo_ids: Option<&GeoIds>, threads: usize) -> KeyBytes {
        KeyBytes::of(&self.tables, &self.tuples, geo_ids, threads)
    }

    /// The most bytes of items one record files.
    const RECORD_BYTES: u64 =
        (2 * std::mem::size_of::<Item<K>>() + std::mem::size_of::<SumItem<K>>()) as u64;
    /// The same when source items carry ASNs.
    const FIRST_RECORD_BYTES: u64 = Self::RECORD_BYTES
        + (std::mem::size_of::<FirstItem<K>>() - std::mem::size_of::<Item<K>>()) as u64;

    /// The most bytes the items in memory take: every record files an ASN
    /// item, and at most a source and a destination item.
    pub(super) fn memory(&self, rules: &Rules) -> u64 {
        let per_record = if rules.first_asns {
            Self::FIRST_RECORD_BYTES
        } else {
            Self::RECORD_BYTES
        };
        self.in_memory * per_record
    }

    /// The most working space sorting the items in memory takes on
    /// `threads` threads, spilling or counting: each thread keeps two
    /// vectors the size of the largest bucket it sorted, per kind of item
    /// (source and destination items, sources with ASNs, ASN items), and
    /// the threads take the biggest buckets first; so at most twice the
    /// `threads` biggest buckets of each kind. A skewed interval makes a
    /// bucket many times the average one (a busy source and its ASN).
    pub(super) fn sort_scratch(&self, threads: usize) -> u64 {
        fn biggest<T: Copy>(buckets: &[&[Bucket<T>]], threads: usize) -> u64 {
            let mut sizes: Vec<usize> = buckets
                .iter()
                .flat_map(|b| b.iter().map(Bucket::bytes))
                .collect();
            let threads = threads.max(1).min(sizes.len());
            if threads == 0 {
                return 0;
            }
            sizes.select_nth_unstable_by(threads - 1, |a, b| b.cmp(a));
            sizes[..threads].iter().sum::<usize>() as u64
        }
        let values = biggest(&[&self.src, &self.dst], threads);
        let firsts = biggest(&[&self.first], threads);
        let asns = biggest(&[&self.asn], threads);
        2 * (values + firsts + asns)
    }

    /// Spills the items in memory, if the rules spill and there are any.
    pub(super) fn spill_now(
        &mut self,
        rules: &Rules,
        threads: usize,
    ) -> Result<(), FlowtupleError> {
        match &rules.spill {
            Some(options) if self.in_memory > 0 => {
                let bytes = self.memory(rules);
                self.spill_items(&options.temp_dir, bytes, threads)
            }
            _ => Ok(()),
        }
    }

    /// Sorts the items in memory into runs on disk (in `dir`) on `threads`
    /// threads; `needed` bounds the bytes written.
    fn spill_items(
        &mut self,
        dir: &Path,
        needed: u64,
        threads: usize,
    ) -> Result<(), FlowtupleError> {
        if self.spill.is_none() {
            self.spill = Some(Spill::new(dir)?);
        }
        if let Some(spill) = &mut self.spill {
            let threads = threads.max(1);
            let keep = self.recycle;
            spill.write(Pass::Sources, &mut self.src, needed, threads, keep)?;
            spill.write(Pass::Destinations, &mut self.dst, needed, threads, keep)?;
            spill.write(Pass::Asns, &mut self.asn, needed, threads, keep)?;
            spill.write(Pass::Firsts, &mut self.first, needed, threads, keep)?;
        }
        self.in_memory = 0;
        Ok(())
    }

    /// Bytes spilled to disk so far.
    pub(super) fn spilled(&self) -> u64 {
        self.spill.as_ref().map_or(0, Spill::bytes)
    }

    /// The interval's series rows, and the bytes counting them spilled
    /// (first-ASN pairs).
    // Counts, then rows from them: the row loop's closures share seven of
    // the interval's parts, which a split would pass along one by one.
    #[allow(clippy::too_many_lines)]
    pub(super) fn finish(
        self,
        rules: &Rules,
        geo_ids: &GeoIds,
        threads: usize,
    ) -> Result<(Vec<SeriesRow>, u64), FlowtupleError> {
        let IntervalAgg {
            mut tables,
            mut src,
            mut dst,
            mut asn,
            mut first,
            summary,
            first_continent,
            mut tuples,
            records,
            spill,
            ..
        } = self;
        // Spare chunks would sit beside the sorting space.
        src.iter_mut().chain(&mut dst).for_each(Bucket::release);
        asn.iter_mut().for_each(Bucket::release);
        first.iter_mut().for_each(Bucket::release);
        // Not with runs on disk (their keys are written) nor with source
        // items that carry ASNs.
        if records <= SMALL && spill.is_none() && !rules.first_asns {
            compact(&mut tables, &mut tuples.keys, &mut src, &mut dst, &mut asn);
        }
        let layout = Slots::new(rules, &tables, &tuples.keys);
        let threads = if records > 1 << 16 { threads.max(1) } else { 1 };
        let pair_dir = rules.spill.as_ref().map(|s| s.temp_dir.clone());
        let counts = count(
            [src, dst],
            asn,
            first,
            &layout,
            threads,
            rules.report,
            spill.as_ref(),
            &PairFile::new(pair_dir, rules.pair_budget),
        )?;
        let (src, dst, asn) = (
            Pass::Sources.index(),
            Pass::Destinations.index(),
            Pass::Asns.index(),
        );
        let asns = |slot: Option<usize>| match (rules.first_asns, slot) {
            (true, None) => counts.first_asns.summary,
            (true, Some(s)) => counts.first_asns.slots[s],
            (false, None) => counts.groups[asn] - u64::from(counts.any_no_asn),
            (false, Some(s)) => counts.slots[asn][s] - counts.no_asn.get(s).copied().unwrap_or(0),
        };
        let counters = |slot: Option<usize>| match slot {
            None => Counters {
                packets: summary.packets,
                bytes: summary.bytes,
                uniq_src_ips: counts.groups[src],
                uniq_dst_ips: counts.groups[dst],
                uniq_src_asns: asns(slot),
            },
            Some(s) => Counters {
                packets: counts.sums[s].packets,
                bytes: counts.sums[s].bytes,
                uniq_src_ips: counts.slots[src][s],
                uniq_dst_ips: counts.slots[dst][s],
                uniq_src_asns: asns(slot),
            },
        };
        let mut out = Vec::new();
        for &class in &rules.classes {
            let start = out.len();
            let Some(table) = class_table(rules, class) else {
                out.push(SeriesRow {
                    class,
                    key: Key::Overall,
                    continent: None,
                    counters: counters(None),
                });
                continue;
            };
            let t = table as usize;
            let keys = &tables[t];
            for id in 0..keys.len {
                let slot = layout.offsets[t] + id;
                // Every record files an ASN item, so a series with records
                // has an ASN count (before report rules take out
                // `NO_ASN`).
                if counts.slots[asn][slot] == 0 {
                    continue;
                }
                let Some((key, continent)) = row_key(table, keys, id, geo_ids, &first_continent)
                else {
                    continue;
                };
                out.push(SeriesRow {
                    class,
                    key,
                    continent,
                    counters: counters(Some(slot)),
                });
            }
            out[start..].sort_by_key(|r| r.key);
        }
        Ok((out, counts.pair_bytes))
    }
}

/// The table of `class`'s keys (`None`: the summary, whose one key is
/// `overall`).
fn class_table(rules: &Rules, class: Class) -> Option<Table> {
    Some(match class {
        Class::Summary => return None,
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
    })
}

/// The series key of id `id` of `table` (`keys`), with a country's
/// continent (that of the interval's first counted record of it); `None`
/// for a table with no series of its own.
fn row_key(
    table: Table,
    keys: &KeyTable,
    id: usize,
    geo_ids: &GeoIds,
    first_continent: &[Vec<u32>; 2],
) -> Option<(Key, Option<GeoTag>)> {
    let raw = keys.key(id as u32);
    Some(match table {
        Table::Proto | Table::TcpSrc | Table::TcpDst | Table::UdpSrc | Table::UdpDst => {
            (Key::Number(i64::from(raw as u32 as i32)), None)
        }
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
            let source = (table as usize - Table::Geo0 as usize) / 2;
            let cont = first_continent[source][raw as usize];
            (
                Key::Geo(geo_ids.tags[raw as usize]),
                Some(geo_ids.tags[cont as usize]),
            )
        }
        // No class has series of its own (its ids are not handed out by
        // its table).
        Table::GeoTuple => return None,
    })
}

/// How many records ahead [`IntervalAgg::add`] prefetches table entries.
pub(super) const ADD_AHEAD: usize = 8;

/// The source index (0 or 1) of a geo class among the rules' sources.
pub(super) fn geo_source(rules: &Rules, class: Class) -> usize {
    let field = match class {
        Class::NetacqContinents | Class::NetacqCountries => GeoField::Netacq,
        _ => GeoField::Maxmind,
    };
    rules.geo.iter().position(|&f| f == field).unwrap_or(0)
}
