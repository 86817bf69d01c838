//! Small intervals: series ids renumbered before counting, so that the
//! counters of a pass are as many as the series touched, not one per
//! possible port (ports and ICMP pairs are their own ids while an interval
//! is read). Counting allocates and clears those counters for every
//! interval, which dominated the time of one-minute files of a few hundred
//! records.

use super::items::{Bucket, Item, SumItem};
use super::keys::{KeyTable, Table, ID_BITS, ID_MASK, TABLES};

/// Intervals of at most this many counted records are renumbered.
pub(super) const SMALL: u64 = 1 << 16;

/// Renumbers the ids of every table but the protocols' (a port or ICMP
/// key implies its protocol's id) to 0, 1, ... in the order of the ids,
/// in `tables` and in the items' keys. Every id handed out is in an ASN
/// item (each record files one, with all its keys), so every key keeps
/// its series. ICMP keys are rewritten to their (type, code) pair form,
/// which needs no dense range.
pub(super) fn compact<const K: usize>(
    tables: &mut [KeyTable],
    tuples: &mut [[u32; 4]],
    src: &mut [Bucket<Item<K>>],
    dst: &mut [Bucket<Item<K>>],
    asn: &mut [Bucket<SumItem<K>>],
) {
    let proto = Table::Proto as u32;
    // Geo tuples are numbered from 0 already; the geo keys they stand for
    // are renumbered in them.
    let tuple = Table::GeoTuple as usize;
    let renumbered = |key: u32| {
        let t = (key >> ID_BITS) as usize;
        t != proto as usize && t != tuple && t < TABLES
    };
    let mut used: Vec<u32> = Vec::new();
    for item in asn.iter().flat_map(Bucket::chunks).flatten() {
        used.extend(item.item.keys.iter().copied().filter(|&k| renumbered(k)));
    }
    // Every tuple is a record's, so each of its keys is in use.
    used.extend(tuples.iter().flatten().copied().filter(|&k| renumbered(k)));
    used.sort_unstable();
    used.dedup();
    // The new id of a key: its rank among its table's keys.
    let mut first = [0usize; TABLES + 1];
    for t in 0..TABLES {
        first[t + 1] =
            first[t] + used[first[t]..].partition_point(|&k| (k >> ID_BITS) as usize == t);
    }
    for (t, table) in tables.iter_mut().enumerate() {
        if t == proto as usize || t == tuple {
            continue;
        }
        let mut new = KeyTable::new(0, 0);
        for &key in &used[first[t]..first[t + 1]] {
            let id = key & ID_MASK;
            let mut raw = table.key(id);
            if t == Table::Icmp as usize && u64::from(id) < table.dense {
                raw = (raw >> 8) << 32 | (raw & 0xff);
            }
            new.sparse.push(raw);
        }
        new.len = new.sparse.len();
        *table = new;
    }
    let rename = |key: &mut u32| {
        if renumbered(*key) {
            let t = (*key >> ID_BITS) as usize;
            let rank = used[first[t]..first[t + 1]].partition_point(|&k| k < *key);
            *key = (t as u32) << ID_BITS | rank as u32;
        }
    };
    for item in src.iter_mut().chain(dst).flat_map(Bucket::items_mut) {
        item.keys.iter_mut().for_each(rename);
    }
    for item in asn.iter_mut().flat_map(Bucket::items_mut) {
        item.item.keys.iter_mut().for_each(rename);
    }
    tuples.iter_mut().flatten().for_each(rename);
}
