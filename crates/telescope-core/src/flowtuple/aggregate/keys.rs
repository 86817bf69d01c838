//! Series keys as dense ids: the tables of series, the ids of keys within
//! them, and geo tags as small ids shared by a run.

use std::cell::RefCell;

use rustc_hash::FxHashMap;

use super::cpu::prefetch;
use crate::flowtuple::record::GeoTag;

/// The protocols with port or ICMP series.
pub(super) const TCP: i32 = 6;
pub(super) const UDP: i32 = 17;
pub(super) const ICMP: i32 = 1;

/// Marks a missing id or key.
pub(super) const NONE: u32 = u32::MAX;

/// The tables of series keyed by something other than `overall`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
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
    /// A record's geo keys, all sources, as one key ([`GeoTuples`]); it
    /// has no series of its own.
    GeoTuple,
}

pub(super) const TABLES: usize = 12;
pub(super) const GEO_TABLES: [Table; 4] = [Table::Geo0, Table::Geo1, Table::Geo2, Table::Geo3];

/// The keys of one class as dense ids: keys below `dense` are their own
/// id (ports, protocols: nearly all of them occur); other keys get the next
/// free id, found in a direct table for keys below `direct` (ASNs) and in
/// a map above.
#[derive(Debug)]
pub(super) struct KeyTable {
    pub(super) dense: u64,
    pub(super) direct: u64,
    /// Above every id handed out.
    pub(super) len: usize,
    /// Ids of keys from `dense` to `direct`, [`NONE`] if none yet.
    pub(super) direct_ids: Vec<u32>,
    pub(super) ids: FxHashMap<u64, u32>,
    /// Keys of the ids from `dense` on.
    pub(super) sparse: Vec<u64>,
}

thread_local! {
    /// Direct tables of finished intervals, reset, for the next interval
    /// read on this thread: filling 4 MiB of ASN ids anew for every interval
    /// dominated the time of small files.
    static SPARE: RefCell<Vec<Vec<u32>>> = const { RefCell::new(Vec::new()) };
}

/// A direct table of `len` entries, all [`NONE`].
fn direct_table(len: usize) -> Vec<u32> {
    let spare = SPARE.try_with(|spare| {
        let mut spare = spare.borrow_mut();
        let i = spare.iter().position(|t| t.len() == len)?;
        Some(spare.swap_remove(i))
    });
    spare.ok().flatten().unwrap_or_else(|| vec![NONE; len])
}

impl Drop for KeyTable {
    /// Resets the direct table's entries in use and keeps it for the next
    /// interval on this thread.
    fn drop(&mut self) {
        let mut table = std::mem::take(&mut self.direct_ids);
        if table.is_empty() {
            return;
        }
        for &key in &self.sparse {
            if (self.dense..self.direct).contains(&key) {
                table[(key - self.dense) as usize] = NONE;
            }
        }
        let _ = SPARE.try_with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < 2 {
                spare.push(table);
            }
        });
    }
}

impl KeyTable {
    pub(super) fn new(dense: u64, direct: u64) -> KeyTable {
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
    pub(super) fn id(&mut self, key: u64) -> u32 {
        if key < self.dense {
            self.len = self.len.max(key as usize + 1);
            return key as u32;
        }
        if key < self.direct {
            let i = (key - self.dense) as usize;
            if self.direct_ids.is_empty() {
                self.direct_ids = direct_table((self.direct - self.dense) as usize);
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
    pub(super) fn prefetch(&self, key: u64) {
        if key >= self.dense && key < self.direct {
            prefetch(&self.direct_ids, (key - self.dense) as usize);
        }
    }

    /// The id of `key` from the ids above the dense ones, whatever `key` is.
    #[inline]
    pub(super) fn sparse_id(&mut self, key: u64) -> u32 {
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.next_id(key);
        self.ids.insert(key, id);
        id
    }

    pub(super) fn next_id(&mut self, key: u64) -> u32 {
        let id = self.dense + self.sparse.len() as u64;
        self.sparse.push(key);
        self.len = self.len.max(id as usize + 1);
        id as u32
    }

    pub(super) fn key(&self, id: u32) -> u64 {
        let id = u64::from(id);
        if id < self.dense {
            id
        } else {
            self.sparse[(id - self.dense) as usize]
        }
    }
}

/// Series keys in items: the table in the top bits, the id below.
pub(super) const ID_BITS: u32 = 28;
pub(super) const ID_MASK: u32 = (1 << ID_BITS) - 1;

/// The key of an unused place in an item: a spare slot after every
/// table's, counted into and never read (so counting needs no branch).
pub(super) const UNUSED: u32 = (TABLES as u32) << ID_BITS;

/// The distinct geo keys of the interval's records, each as one id: an
/// item holds one key for its up to four geo keys (continent and country
/// of each source), which makes items of geo modes narrower, and counting
/// finds the four series through it.
#[derive(Debug, Default)]
pub(super) struct GeoTuples {
    /// By the records' geo tag ids (per source continent and country,
    /// [`NONE`] where a tag makes no key).
    pub(super) ids: FxHashMap<[u32; 4], u32>,
    /// The series keys of each tuple ([`UNUSED`] where none).
    pub(super) keys: Vec<[u32; 4]>,
}

/// Geo tags seen in the run, as small ids.
#[derive(Debug, Default)]
pub(super) struct GeoIds {
    pub(super) ids: FxHashMap<GeoTag, u32>,
    /// Ids of tags of at most two bytes (most are), by those bytes.
    pub(super) short: Vec<u32>,
    pub(super) tags: Vec<GeoTag>,
}

impl GeoIds {
    /// The id of `tag`, read where it lies (a record's tag is not copied
    /// first: a copy's read straddles its writes and stalls).
    #[inline(always)]
    pub(super) fn id(&mut self, tag: &GeoTag) -> u32 {
        let bytes = tag.padded();
        let short = u128::from_le_bytes(*bytes) >> 16 == 0;
        if short {
            let index = usize::from(bytes[0]) << 8 | usize::from(bytes[1]);
            if let Some(&id) = self.short.get(index).filter(|&&id| id != NONE) {
                return id;
            }
        }
        self.id_slow(tag, short)
    }

    /// [`GeoIds::id`] of a tag not seen yet, or longer than two bytes.
    #[cold]
    fn id_slow(&mut self, tag: &GeoTag, short: bool) -> u32 {
        let id = match self.ids.get(tag) {
            Some(&id) => id,
            None => {
                let id = self.tags.len() as u32;
                self.ids.insert(*tag, id);
                self.tags.push(*tag);
                id
            }
        };
        if short {
            if self.short.is_empty() {
                self.short = vec![NONE; 1 << 16];
            }
            let bytes = tag.padded();
            self.short[usize::from(bytes[0]) << 8 | usize::from(bytes[1])] = id;
        }
        id
    }
}
