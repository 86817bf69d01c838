//! Counting a complete interval: every bucket sorted (on several threads)
//! and scanned, each distinct value counted once per series slot.

use std::sync::Mutex;

use super::config::Rules;
use super::cpu::{on_threads, prefetch};
use super::items::{
    bucket_of, spread, stamp, AsnSlot, Bucket, FirstItem, Item, Pass, SumItem, Sums, Valued,
};
use super::keys::{KeyTable, Table, ICMP, ID_BITS, ID_MASK, TABLES, TCP, UDP};
use super::pairs::{FirstAsns, PairFile, Pairs, SUMMARY};
use super::sort::sort_bucket;
use super::spill::Spill;
use crate::flowtuple::error::FlowtupleError;
use crate::flowtuple::report::rules;

/// Where series keys count: the tables' slots one after the other, then a
/// spare slot for unused keys.
pub(super) struct Slots {
    /// The first slot of each table, and the spare slot.
    pub(super) offsets: [usize; TABLES + 1],
    /// By the table of an item's first key: the slot of the protocol that
    /// key implies, or the spare slot.
    pub(super) implied: [usize; TABLES + 1],
    /// The slots of each geo tuple's keys (see [`super::keys::GeoTuples`]),
    /// the first `tuple_width` of them used.
    pub(super) tuples: Vec<[u32; 4]>,
    pub(super) tuple_width: usize,
}

impl Slots {
    /// The slots of `tables`, which imply protocols if the rules count
    /// them: a port or ICMP key's records are TCP, UDP or ICMP. Only an
    /// item's first key implies one, so that a record counts in it once.
    pub(super) fn new(rules: &Rules, tables: &[KeyTable], tuples: &[[u32; 4]]) -> Slots {
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
        let mut slots = Slots {
            offsets,
            implied,
            tuples: Vec::new(),
            tuple_width: 2 * rules.geo.len(),
        };
        slots.tuples = tuples
            .iter()
            .map(|keys| keys.map(|k| slots.slot(k) as u32))
            .collect();
        slots
    }

    pub(super) fn len(&self) -> usize {
        self.offsets[TABLES] + 1
    }

    /// The slot of a key other than a geo tuple's.
    #[inline]
    pub(super) fn slot(&self, key: u32) -> usize {
        self.offsets[(key >> ID_BITS) as usize] + (key & ID_MASK) as usize
    }

    /// Hands `count` the slot of `key`, or those of a geo tuple's keys.
    #[inline(always)]
    pub(super) fn each_slot(&self, key: u32, mut count: impl FnMut(usize)) {
        if key >> ID_BITS == Table::GeoTuple as u32 {
            let slots = &self.tuples[(key & ID_MASK) as usize];
            for &slot in &slots[..self.tuple_width] {
                count(slot as usize);
            }
        } else {
            count(self.slot(key));
        }
    }
}

/// What the passes found: per pass the number of distinct values and the
/// distinct count of every series slot, and the sums.
pub(super) struct Counts {
    pub(super) groups: [u64; 3],
    pub(super) slots: [Vec<u64>; 3],
    pub(super) sums: Vec<Sums>,
    /// Report rules: per slot, 1 when [`rules::NO_ASN`] was counted in it
    /// (empty otherwise), and whether it was counted at all.
    pub(super) no_asn: Vec<u64>,
    pub(super) any_no_asn: bool,
    /// Report rules, `prefixagg` sources: the distinct counted ASNs of the
    /// source aggregates' first records.
    pub(super) first_asns: FirstAsns,
    /// Bytes of first-ASN pairs written to disk.
    pub(super) pair_bytes: u64,
}

/// One bucket of one pass, and its index among the pass's buckets.
pub(super) enum Work<const K: usize> {
    /// A bucket of the source or the destination pass.
    Values {
        pass: Pass,
        index: usize,
        items: Bucket<Item<K>>,
    },
    /// A bucket of the ASN pass.
    Asns {
        /// True for the bucket [`rules::NO_ASN`] falls in, when report
        /// rules need its slots.
        no_asn: bool,
        index: usize,
        items: Bucket<SumItem<K>>,
    },
    /// A bucket of source items with ASNs (report rules, `prefixagg`).
    Firsts {
        index: usize,
        items: Bucket<FirstItem<K>>,
    },
}

impl<const K: usize> Work<K> {
    /// The bytes of the bucket's items.
    fn bytes(&self) -> usize {
        match self {
            Work::Values { items, .. } => items.bytes(),
            Work::Asns { items, .. } => items.bytes(),
            Work::Firsts { items, .. } => items.bytes(),
        }
    }

    /// The pass, and the bucket's index in it.
    fn place(&self) -> (Pass, usize) {
        match *self {
            Work::Values { pass, index, .. } => (pass, index),
            Work::Asns { index, .. } => (Pass::Asns, index),
            Work::Firsts { index, .. } => (Pass::Firsts, index),
        }
    }
}

/// Counts every bucket of the passes on `threads` threads: sources and
/// destinations (`values`), ASNs, and sources with ASNs (`firsts`, which
/// count in the source pass); with `report`, also which slots counted
/// [`rules::NO_ASN`]. Buckets with runs in `spill` are merged with them.
/// The first-ASN pairs of `firsts` take at most the budget of `pair_file`
/// in memory, the rest going to it (see [`super::pairs`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn count<const K: usize>(
    values: [Vec<Bucket<Item<K>>>; 2],
    asn: Vec<Bucket<SumItem<K>>>,
    firsts: Vec<Bucket<FirstItem<K>>>,
    layout: &Slots,
    threads: usize,
    report: bool,
    spill: Option<&Spill>,
    pair_file: &PairFile,
) -> Result<Counts, FlowtupleError> {
    let mut work: Vec<Work<K>> = Vec::new();
    for (pass, buckets) in [Pass::Sources, Pass::Destinations].into_iter().zip(values) {
        work.extend(
            buckets
                .into_iter()
                .enumerate()
                .map(|(index, items)| Work::Values { pass, index, items }),
        );
    }
    work.extend(
        firsts
            .into_iter()
            .enumerate()
            .map(|(index, items)| Work::Firsts { index, items }),
    );
    let no_asn_bucket = bucket_of(spread(rules::NO_ASN));
    work.extend(
        asn.into_iter()
            .enumerate()
            .map(|(index, items)| Work::Asns {
                no_asn: report && index == no_asn_bucket,
                index,
                items,
            }),
    );
    // Popped from the end: the biggest buckets go first, so that the
    // threads finish close together.
    let on_disk = |w: &Work<K>| {
        let (pass, index) = w.place();
        spill.is_some_and(|s| s.has_runs(pass, index))
    };
    work.retain(|w| w.bytes() > 0 || on_disk(w));
    work.sort_by_key(Work::bytes);
    let queue = Mutex::new(work);
    let parts = on_threads(threads, || {
        count_buckets(&queue, layout, spill, Pairs::new(pair_file, threads))
    });
    let slots = layout.len();
    let mut total = Counts {
        groups: [0; 3],
        slots: std::array::from_fn(|_| vec![0; slots]),
        sums: vec![Sums::default(); slots],
        no_asn: if report { vec![0; slots] } else { Vec::new() },
        any_no_asn: false,
        first_asns: FirstAsns::default(),
        pair_bytes: 0,
    };
    let mut pairs = Vec::new();
    let count_of = |slot: u64| slot & 0xffff_ffff;
    for part in parts {
        let part = part?;
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
        pairs.push(part.firsts);
        if let Some((any, no_asn)) = part.no_asn {
            total.any_no_asn |= any;
            for (t, &s) in total.no_asn.iter_mut().zip(&no_asn) {
                *t += count_of(s);
            }
        }
    }
    total.pair_bytes = pair_file.bytes();
    total.first_asns = FirstAsns::count(slots, pairs, pair_file)?;
    Ok(total)
}

/// One thread's counts: per pass the number of distinct values, the
/// slots of the source and destination passes, and those of the ASN pass
/// with sums that overflowed them.
pub(super) struct Tally<'a> {
    pub(super) groups: [u64; 3],
    pub(super) slots: [Vec<u64>; 2],
    pub(super) asn: Vec<AsnSlot>,
    pub(super) spill: Vec<(usize, Sums)>,
    /// Whether [`rules::NO_ASN`] was counted, and in which slots (only the
    /// thread that took its bucket).
    pub(super) no_asn: Option<(bool, Vec<u64>)>,
    /// (slot, ASN) of the first record of a source aggregate in a series
    /// ([`SUMMARY`] for the summary), ASNs that count only.
    pub(super) firsts: Pairs<'a>,
}

/// One thread's share of [`count`].
// One loop over the three kinds of bucket, which share its scratch buffers.
#[allow(clippy::too_many_lines)]
pub(super) fn count_buckets<'a, const K: usize>(
    queue: &Mutex<Vec<Work<K>>>,
    layout: &Slots,
    spill: Option<&Spill>,
    firsts: Pairs<'a>,
) -> Result<Tally<'a>, FlowtupleError> {
    let slots = layout.len();
    let mut out = Tally {
        groups: [0; 3],
        slots: [vec![0; slots], vec![0; slots]],
        asn: vec![AsnSlot::default(); slots],
        spill: Vec::new(),
        no_asn: None,
        firsts,
    };
    let (mut sources, mut sources_work): (Vec<FirstItem<K>>, Vec<FirstItem<K>>) =
        Default::default();
    let (mut values, mut values_work): (Vec<Item<K>>, Vec<Item<K>>) = Default::default();
    let (mut asns, mut asns_work): (Vec<SumItem<K>>, Vec<SumItem<K>>) = Default::default();
    // Stamps per pass (sources, destinations, ASNs): a pass's slots see
    // only its own values, fewer than 2^32 in an interval (see
    // `IntervalAgg::add`), so its stamps never wrap.
    let mut groups = [0u64; 3];
    loop {
        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match next {
            None => return Ok(out),
            Some(Work::Values {
                pass,
                index: b,
                items: bucket,
            }) => {
                let items = sort_bucket(&bucket, &mut values, &mut values_work);
                drop(bucket);
                let p = pass.index();
                let slots = &mut out.slots[p];
                match spill.filter(|s| s.has_runs(pass, b)) {
                    None => {
                        out.groups[p] += scan(items, layout, slots, &mut out.spill, &mut groups[p])
                    }
                    Some(spill) => spill.merge(pass, b, items, &mut |chunk, prev| {
                        out.groups[p] +=
                            scan_from(chunk, prev, layout, slots, &mut out.spill, &mut groups[p]);
                    })?,
                }
            }
            Some(Work::Firsts {
                index: b,
                items: bucket,
            }) => {
                let items = sort_bucket(&bucket, &mut sources, &mut sources_work);
                drop(bucket);
                // Counted in the source pass's slots and groups.
                let p = Pass::Sources.index();
                let (slots, firsts) = (&mut out.slots[p], &mut out.firsts);
                match spill.filter(|s| s.has_runs(Pass::Firsts, b)) {
                    None => {
                        out.groups[p] +=
                            scan_first(items, None, layout, slots, firsts, &mut groups[p])
                    }
                    Some(spill) => spill.merge(Pass::Firsts, b, items, &mut |chunk, prev| {
                        out.groups[p] +=
                            scan_first(chunk, prev, layout, slots, firsts, &mut groups[p]);
                    })?,
                }
                out.firsts.check()?;
            }
            Some(Work::Asns {
                no_asn,
                index: b,
                items: bucket,
            }) => {
                let items = sort_bucket(&bucket, &mut asns, &mut asns_work);
                drop(bucket);
                let none = spread(rules::NO_ASN);
                if let Some(spill) = spill.filter(|s| s.has_runs(Pass::Asns, b)) {
                    // NO_ASN's items come first here too: counted in their
                    // own slots (with their own stamps) as they pass.
                    let mut no_slots = no_asn.then(|| vec![0u64; layout.len()]);
                    let (mut any, mut plain_group) = (false, 0u64);
                    spill.merge(Pass::Asns, b, items, &mut |chunk, prev| {
                        if let Some(no_slots) = &mut no_slots {
                            let end = chunk.partition_point(|i| i.value() == none);
                            let plain: Vec<Item<K>> = chunk[..end].iter().map(|i| i.item).collect();
                            let prev = prev.filter(|_| any);
                            any |= end > 0;
                            scan_from(
                                &plain,
                                prev,
                                layout,
                                no_slots,
                                &mut out.spill,
                                &mut plain_group,
                            );
                        }
                        out.groups[Pass::Asns.index()] += scan_from(
                            chunk,
                            prev,
                            layout,
                            &mut out.asn,
                            &mut out.spill,
                            &mut groups[Pass::Asns.index()],
                        );
                    })?;
                    if let Some(no_slots) = no_slots {
                        out.no_asn = Some((any, no_slots));
                    }
                    continue;
                }
                if no_asn {
                    // Sorted by spread value: NO_ASN's items come first.
                    let end = items.partition_point(|i| i.value() == none);
                    let plain: Vec<Item<K>> = items[..end].iter().map(|i| i.item).collect();
                    let mut slots = vec![0u64; layout.len()];
                    scan(&plain, layout, &mut slots, &mut out.spill, &mut 0);
                    out.no_asn = Some((end > 0, slots));
                }
                let slots = &mut out.asn;
                out.groups[Pass::Asns.index()] += scan(
                    items,
                    layout,
                    slots,
                    &mut out.spill,
                    &mut groups[Pass::Asns.index()],
                );
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
pub(super) fn scan<T: Valued>(
    items: &[T],
    layout: &Slots,
    slots: &mut [T::Slot],
    spill: &mut Vec<(usize, Sums)>,
    group: &mut u64,
) -> u64 {
    scan_from(items, None, layout, slots, spill, group)
}

/// [`scan`] of items that continue others whose last value was `prev`
/// (`None`: the first items of a bucket).
#[inline]
pub(super) fn scan_from<T: Valued>(
    items: &[T],
    prev: Option<u32>,
    layout: &Slots,
    slots: &mut [T::Slot],
    spill: &mut Vec<(usize, Sums)>,
    group: &mut u64,
) -> u64 {
    let mut values = 0;
    let mut prev = prev.unwrap_or_else(|| items.first().map_or(0, |i| !i.value()));
    for (i, item) in items.iter().enumerate() {
        // The slots of an item a few places on, so that their cache misses
        // overlap with this item's work.
        if let Some(next) = items.get(i + SCAN_AHEAD) {
            for &key in next.keys() {
                layout.each_slot(key, |slot| prefetch(slots, slot));
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
            layout.each_slot(key, |slot| {
                item.tally(&mut slots[slot], slot, *group, spill);
            });
        }
    }
    values
}

/// [`scan_from`] of source items with ASNs, in input order within a value:
/// also notes, where an item is the first of its value in a slot (or in
/// the interval, for the summary), the pair (slot, ASN) in `firsts` when
/// its ASN counts. Pairs are deduplicated as they pile up, so they take
/// memory by distinct (series, ASN), not by source aggregate, and at most
/// their budget (see [`Pairs`]).
pub(super) fn scan_first<const K: usize>(
    items: &[FirstItem<K>],
    prev: Option<u32>,
    layout: &Slots,
    slots: &mut [u64],
    firsts: &mut Pairs<'_>,
    group: &mut u64,
) -> u64 {
    let mut values = 0;
    let mut prev = prev.unwrap_or_else(|| items.first().map_or(0, |i| !i.value()));
    for item in items {
        let new = item.value() != prev;
        prev = item.value();
        *group += u64::from(new);
        values += u64::from(new);
        // Room for this item's pairs: the summary, the implied protocol
        // and each key (a geo tuple's four).
        firsts.room(K + 5);
        let counts = rules::counts_asn(item.asn);
        if new && counts {
            firsts.push(SUMMARY, item.asn);
        }
        let keys = &item.item.keys;
        let implied = layout.implied[(keys[0] >> ID_BITS) as usize];
        let mut note = |slot: usize| {
            let first = slots[slot] >> 32 != *group;
            stamp(&mut slots[slot], *group);
            if first && counts {
                firsts.push(slot as u32, item.asn);
            }
        };
        note(implied);
        for &key in keys {
            layout.each_slot(key, &mut note);
        }
    }
    values
}

/// How many items ahead [`scan`] prefetches series slots.
pub(super) const SCAN_AHEAD: usize = 16;
