//! Exact distinct counting of IPv4 addresses (or prefixes): a hash set while
//! small or sparse, a bitmap of 8 KiB chunks (one per /16) once dense enough
//! that the bitmap is no larger. Telescope destinations fill one /8, so the
//! big destination sets become cache-friendly bitmaps.

/// An open-addressing (linear probing) set of `u32`, 0 kept aside, whose
/// probe slot can be loaded ahead of the insert so that cache misses of a
/// batch of records overlap.
#[derive(Debug, Clone)]
struct U32Set {
    slots: Vec<u32>,
    shift: u32,
    len: usize,
    has_zero: bool,
}

impl U32Set {
    fn new() -> U32Set {
        U32Set {
            slots: vec![0; 16],
            shift: 64 - 4,
            len: 0,
            has_zero: false,
        }
    }

    #[inline]
    fn slot(&self, v: u32) -> usize {
        (u64::from(v).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    /// Loads the slot `v` hashes to, so that a later insert finds it cached.
    #[inline]
    fn warm(&self, v: u32) {
        std::hint::black_box(self.slots[self.slot(v)]);
    }

    /// Adds `v`; true when it was new.
    #[inline]
    fn insert(&mut self, v: u32) -> bool {
        if v == 0 {
            let new = !self.has_zero;
            self.has_zero = true;
            return new;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.slot(v);
        loop {
            let s = self.slots[i];
            if s == v {
                return false;
            }
            if s == 0 {
                self.slots[i] = v;
                self.len += 1;
                if self.len * 10 > self.slots.len() * 7 {
                    self.grow();
                }
                return true;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let doubled = vec![0; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        self.shift -= 1;
        let mask = self.slots.len() - 1;
        for v in old.into_iter().filter(|&v| v != 0) {
            let mut i = self.slot(v);
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = v;
        }
    }

    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .copied()
            .filter(|&v| v != 0)
            .chain(self.has_zero.then_some(0))
    }
}

const CHUNK_WORDS: usize = 1024; // 65,536 bits: one /16
const CHUNKS: usize = 1 << 16;
/// First size at which promotion is considered; then at every doubling.
const FIRST_CHECK: u64 = 1 << 16;

type Chunk = [u64; CHUNK_WORDS];

/// A set of `u32` values that counts its distinct members.
#[derive(Debug)]
pub struct IpSet {
    repr: Repr,
    len: u64,
    next_check: u64,
}

#[derive(Debug)]
enum Repr {
    Hash(U32Set),
    Bitmap(Vec<Option<Box<Chunk>>>),
}

impl Default for IpSet {
    fn default() -> Self {
        IpSet {
            repr: Repr::Hash(U32Set::new()),
            len: 0,
            next_check: FIRST_CHECK,
        }
    }
}

impl IpSet {
    /// Adds `v`.
    #[inline]
    pub fn insert(&mut self, v: u32) {
        match &mut self.repr {
            Repr::Hash(set) => {
                if set.insert(v) {
                    self.len += 1;
                    if self.len >= self.next_check {
                        self.next_check *= 2;
                        self.maybe_promote();
                    }
                }
            }
            Repr::Bitmap(chunks) => {
                let chunk =
                    chunks[(v >> 16) as usize].get_or_insert_with(|| Box::new([0; CHUNK_WORDS]));
                let word = &mut chunk[((v & 0xffff) >> 6) as usize];
                let bit = 1u64 << (v & 63);
                if *word & bit == 0 {
                    *word |= bit;
                    self.len += 1;
                }
            }
        }
    }

    /// Loads the memory `v` will touch, ahead of [`IpSet::insert`].
    #[inline]
    pub fn warm(&self, v: u32) {
        match &self.repr {
            Repr::Hash(set) => set.warm(v),
            Repr::Bitmap(chunks) => {
                if let Some(chunk) = &chunks[(v >> 16) as usize] {
                    std::hint::black_box(chunk[((v & 0xffff) >> 6) as usize]);
                }
            }
        }
    }

    /// Number of distinct values added.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True once the set is a bitmap (for tests).
    pub fn is_bitmap(&self) -> bool {
        matches!(self.repr, Repr::Bitmap(_))
    }

    /// Switches to a bitmap when its chunks and index take no more memory
    /// than the hash set (about 8 bytes a member).
    fn maybe_promote(&mut self) {
        let Repr::Hash(set) = &self.repr else { return };
        let mut seen = vec![0u64; CHUNKS / 64];
        let mut chunks_used = 0u64;
        for v in set.iter() {
            let c = (v >> 16) as usize;
            if seen[c / 64] & (1 << (c % 64)) == 0 {
                seen[c / 64] |= 1 << (c % 64);
                chunks_used += 1;
            }
        }
        let bitmap_bytes = chunks_used * (CHUNK_WORDS as u64 * 8) + CHUNKS as u64 * 8;
        if bitmap_bytes > self.len * 8 {
            return;
        }
        let mut chunks: Vec<Option<Box<Chunk>>> =
            std::iter::repeat_with(|| None).take(CHUNKS).collect();
        for v in set.iter() {
            let chunk =
                chunks[(v >> 16) as usize].get_or_insert_with(|| Box::new([0; CHUNK_WORDS]));
            chunk[((v & 0xffff) >> 6) as usize] |= 1u64 << (v & 63);
        }
        self.repr = Repr::Bitmap(chunks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustc_hash::FxHashSet;

    /// A simple deterministic generator for the test.
    fn lcg(seed: &mut u64) -> u32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 32) as u32
    }

    #[test]
    fn dense_sets_promote_and_count_exactly() {
        let mut set = IpSet::default();
        let mut exact = FxHashSet::default();
        let mut seed = 7;
        for _ in 0..600_000 {
            let v = 0x2c00_0000 | (lcg(&mut seed) & 0x00ff_ffff);
            set.insert(v);
            exact.insert(v);
            assert_eq!(set.len(), exact.len() as u64);
        }
        assert!(set.is_bitmap(), "a /8 of 600k addresses is dense");
        for &v in exact.iter().take(1000) {
            set.insert(v);
        }
        assert_eq!(set.len(), exact.len() as u64);
    }

    #[test]
    fn sparse_sets_stay_hashed() {
        let mut set = IpSet::default();
        let mut exact = FxHashSet::default();
        let mut seed = 3;
        for _ in 0..300_000 {
            let v = lcg(&mut seed);
            set.insert(v);
            exact.insert(v);
        }
        assert!(!set.is_bitmap());
        assert_eq!(set.len(), exact.len() as u64);
    }
}
