//! Key tables against the memory limit.
//!
//! Item memory spills; the key tables (ASN ids, ICMP pairs and geo ids
//! above the dense ranges, geo tags, and the records' geo tag
//! combinations) cannot: an interval's output has a row per distinct key,
//! and counting needs each key's slots in memory. So they count against
//! the limit (items spill earlier as they grow), and past their share of
//! it, [`key_budget`], the file fails with an error naming the table,
//! rather than printing anything inexact.
//!
//! The dense ranges (protocols, ports, ICMP types and codes below 256,
//! the first 2^16 geo ids) are not counted: they are bounded whatever the
//! input, and part of the fixed overhead.

use std::mem::size_of;

use super::items::{AsnSlot, Sums};
use super::keys::{GeoIds, GeoTuples, KeyTable, Table, GEO_TABLES};
use crate::flowtuple::error::{FlowtupleError, Position};
use crate::flowtuple::record::GeoTag;
use crate::flowtuple::series::SeriesRow;

/// The least bytes key tables may take, whatever the limit: small limits
/// (which tests use to spill every block) still read ordinary files.
pub(super) const MIN_KEY_BUDGET: u64 = 4 << 20;

/// The bytes the key tables may take under a memory limit of `limit`:
/// half of it (the other half for items), at least [`MIN_KEY_BUDGET`].
pub(super) fn key_budget(limit: u64) -> u64 {
    (limit / 2).max(MIN_KEY_BUDGET)
}

/// A hash map entry of `entry` bytes, with its control byte, at the
/// lowest load a map reaches after it grows (7/16: it doubles when 7/8
/// full), and a vector element of `element` bytes at half its capacity.
const fn map_bytes(entry: usize) -> u64 {
    (entry as u64 + 1) * 16 / 7 + 1
}

const fn vec_bytes(element: usize) -> u64 {
    2 * element as u64
}

/// The bytes one series slot takes while counting on `threads` threads:
/// the totals (three stamps, the sums, report rules' `NO_ASN` mark), each
/// thread's tally (two stamps and an ASN slot) and its output row.
pub(super) fn slot_bytes(threads: usize) -> u64 {
    let totals = 3 * 8 + size_of::<Sums>() + 8;
    let tally = 2 * 8 + size_of::<AsnSlot>();
    (totals + threads.max(1) * tally + size_of::<SeriesRow>()) as u64
}

/// The bytes of a key above the dense range: its id (map entry, key by
/// id) and its slot.
pub(super) fn sparse_key_bytes(threads: usize) -> u64 {
    map_bytes(size_of::<(u64, u32)>()) + vec_bytes(size_of::<u64>()) + slot_bytes(threads)
}

/// The bytes of a geo tag combination: its id, its keys, its slots.
pub(super) const TUPLE_BYTES: u64 = map_bytes(size_of::<([u32; 4], u32)>())
    + vec_bytes(size_of::<[u32; 4]>())
    + size_of::<[u32; 4]>() as u64;

/// The bytes of a geo tag: its id, the tag by id, and the first continent
/// of each of two sources.
pub(super) const GEO_TAG_BYTES: u64 =
    map_bytes(size_of::<(GeoTag, u32)>()) + vec_bytes(size_of::<GeoTag>()) + 2 * 4;

/// What the key tables of an interval (and the run's geo tags) take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeyBytes {
    /// All of them.
    pub(super) bytes: u64,
    /// The table taking most, its distinct keys (above the dense range).
    pub(super) table: &'static str,
    pub(super) keys: u64,
}

impl KeyBytes {
    /// The key tables `tables` and `tuples` of an interval, and the
    /// run's geo tags `geo_ids` if given, when counted on `threads`
    /// threads.
    pub(super) fn of(
        tables: &[KeyTable],
        tuples: &GeoTuples,
        geo_ids: Option<&GeoIds>,
        threads: usize,
    ) -> KeyBytes {
        let per_key = sparse_key_bytes(threads);
        let sparse = |ts: &[Table]| -> u64 {
            ts.iter()
                .map(|&t| tables.get(t as usize).map_or(0, |k| k.sparse.len() as u64))
                .sum()
        };
        use Table::*;
        let parts = [
            ("ASN", sparse(&[Asn]), per_key),
            (
                "protocol and port",
                sparse(&[Proto, TcpSrc, TcpDst, UdpSrc, UdpDst]),
                per_key,
            ),
            ("ICMP type and code", sparse(&[Icmp]), per_key),
            (
                "geo tag",
                geo_ids.map_or(0, |g| g.tags.len() as u64),
                GEO_TAG_BYTES,
            ),
            ("geo series", sparse(&GEO_TABLES), per_key),
            ("geo tag combination", tuples.keys.len() as u64, TUPLE_BYTES),
        ];
        let (table, keys, _) = parts
            .iter()
            .map(|&(name, keys, each)| (name, keys, keys * each))
            .max_by_key(|&(_, _, bytes)| bytes)
            .unwrap_or(("ASN", 0, 0));
        let bytes = parts.iter().map(|&(_, keys, each)| keys * each).sum();
        KeyBytes { bytes, table, keys }
    }

    /// `Ok` if these bytes are within the key tables' share of `limit`,
    /// else the error naming the biggest table, found at `at`.
    pub(super) fn check(&self, limit: u64, at: Position) -> Result<(), FlowtupleError> {
        let budget = key_budget(limit);
        if self.bytes <= budget {
            return Ok(());
        }
        Err(FlowtupleError::KeyTablesTooLarge {
            table: self.table,
            keys: self.keys,
            bytes: self.bytes,
            budget,
            limit,
            at,
        })
    }
}
