//! Exact distinct counting of IPv4 addresses (or prefixes): a hash set while
//! small or sparse, a bitmap of 8 KiB chunks (one per /16) once dense enough
//! that the bitmap is no larger. Telescope destinations fill one /8, so the
//! big destination sets become cache-friendly bitmaps.

use rustc_hash::FxHashSet;

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
    Hash(FxHashSet<u32>),
    Bitmap(Vec<Option<Box<Chunk>>>),
}

impl Default for IpSet {
    fn default() -> Self {
        IpSet {
            repr: Repr::Hash(FxHashSet::default()),
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
        for &v in set {
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
        for &v in set {
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
