//! Classes with many numeric keys (ports, ASNs): per record, sums go to a
//! small map and `(key << 32 | value)` pairs are appended to one vector per
//! distinct counter; when the interval closes the vectors are radix sorted
//! and distinct values counted per key in one pass. Exact, sequential memory
//! access, no per-key sets.

use rustc_hash::FxHashMap;

use super::series::Counters;

/// Sums of one key.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    packets: i128,
    bytes: i128,
}

/// Pairs of one distinct counter, compacted (sorted and deduplicated)
/// whenever they double, so memory follows the distinct pairs, not the
/// records.
#[derive(Debug)]
struct Pairs {
    items: Vec<u64>,
    compact_at: usize,
}

/// Smallest size at which pairs are compacted.
const MIN_COMPACT: usize = 1 << 22;

impl Default for Pairs {
    fn default() -> Self {
        Pairs {
            items: Vec::new(),
            compact_at: MIN_COMPACT,
        }
    }
}

impl Pairs {
    #[inline]
    fn push(&mut self, pair: u64) {
        self.items.push(pair);
        if self.items.len() >= self.compact_at {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let mut scratch = Vec::new();
        radix_sort(&mut self.items, &mut scratch);
        self.items.dedup();
        self.items.shrink_to(self.items.len() * 2);
        self.compact_at = (self.items.len() * 2).max(MIN_COMPACT);
    }
}

/// The running state of one class with 32-bit keys.
#[derive(Debug, Default)]
pub struct WideClass {
    sums: FxHashMap<u32, Sums>,
    src: Pairs,
    dst: Pairs,
    asns: Pairs,
}

impl WideClass {
    /// Adds one record's contribution under `key`.
    #[inline]
    pub fn add(
        &mut self,
        key: u32,
        packets: i128,
        bytes: i128,
        src: Option<u32>,
        dst: Option<u32>,
        asn: u32,
    ) {
        let s = self.sums.entry(key).or_default();
        s.packets += packets;
        s.bytes += bytes;
        let hi = u64::from(key) << 32;
        if let Some(v) = src {
            self.src.push(hi | u64::from(v));
        }
        if let Some(v) = dst {
            self.dst.push(hi | u64::from(v));
        }
        self.asns.push(hi | u64::from(asn));
    }

    /// The counters of every key, ascending by key.
    pub fn finish(self) -> Vec<(u32, Counters)> {
        let mut rows: Vec<(u32, Counters)> = self
            .sums
            .iter()
            .map(|(&k, s)| {
                (
                    k,
                    Counters {
                        packets: s.packets,
                        bytes: s.bytes,
                        ..Counters::default()
                    },
                )
            })
            .collect();
        rows.sort_unstable_by_key(|r| r.0);
        let mut scratch = Vec::new();
        for (pairs, field) in [(self.src, 0), (self.dst, 1), (self.asns, 2)] {
            let mut pairs = pairs.items;
            radix_sort(&mut pairs, &mut scratch);
            count_distinct(&pairs, &mut rows, |c| match field {
                0 => &mut c.uniq_src_ips,
                1 => &mut c.uniq_dst_ips,
                _ => &mut c.uniq_src_asns,
            });
        }
        rows
    }
}

/// Adds the number of distinct values per key of sorted `pairs` into the
/// counter `field` of the matching row (rows sorted by key).
fn count_distinct(
    pairs: &[u64],
    rows: &mut [(u32, Counters)],
    field: impl Fn(&mut Counters) -> &mut u64,
) {
    let mut row = 0;
    let mut prev = None;
    for &p in pairs {
        if prev == Some(p) {
            continue;
        }
        prev = Some(p);
        let key = (p >> 32) as u32;
        while rows[row].0 != key {
            row += 1;
        }
        *field(&mut rows[row].1) += 1;
    }
}

/// LSD radix sort, 8 bits a pass; passes where every key has the same digit
/// are skipped.
pub fn radix_sort(keys: &mut Vec<u64>, scratch: &mut Vec<u64>) {
    let n = keys.len();
    if n < 256 {
        keys.sort_unstable();
        return;
    }
    scratch.clear();
    scratch.resize(n, 0);
    let mut counts = [[0usize; 256]; 8];
    for &k in keys.iter() {
        for (d, c) in counts.iter_mut().enumerate() {
            c[((k >> (8 * d)) & 0xff) as usize] += 1;
        }
    }
    for (d, c) in counts.iter().enumerate() {
        if c.contains(&n) {
            continue;
        }
        let mut offsets = [0usize; 256];
        let mut sum = 0;
        for (o, &x) in offsets.iter_mut().zip(c.iter()) {
            *o = sum;
            sum += x;
        }
        let shift = 8 * d;
        for &k in keys.iter() {
            let b = ((k >> shift) & 0xff) as usize;
            scratch[offsets[b]] = k;
            offsets[b] += 1;
        }
        std::mem::swap(keys, scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_matches_std() {
        let mut seed = 11u64;
        let mut keys: Vec<u64> = (0..100_000)
            .map(|i| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if i % 3 == 0 {
                    seed
                } else {
                    (seed >> 40) << 32 | (seed & 0xffff)
                }
            })
            .collect();
        let mut want = keys.clone();
        want.sort_unstable();
        radix_sort(&mut keys, &mut Vec::new());
        assert_eq!(keys, want);
    }

    #[test]
    fn counts_distinct_per_key() {
        let mut w = WideClass::default();
        // key 80: src {1, 2}, dst {9}, asn {5, 6}; key 22: src {1}, dst none sampled.
        w.add(80, 1, 40, Some(1), Some(9), 5);
        w.add(80, 2, 80, Some(2), Some(9), 6);
        w.add(80, 3, 120, Some(1), Some(9), 5);
        w.add(22, 4, 160, Some(1), None, 5);
        let rows = w.finish();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, 22);
        let c = rows[0].1;
        assert_eq!(c.tuple(), (4, 160, 1, 0, 1));
        let c = rows[1].1;
        assert_eq!(c.tuple(), (6, 240, 2, 1, 2));
    }
}
