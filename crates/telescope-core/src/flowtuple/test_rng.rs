//! A seeded generator for test data.

/// splitmix64, for reproducible test data.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A value of a random bit length, either sign.
    pub(crate) fn long(&mut self) -> i64 {
        let bits = self.below(65) as u32;
        let v = self.next().checked_shr(64 - bits).unwrap_or(0) as i64;
        if self.below(2) == 0 {
            v
        } else {
            v.wrapping_neg()
        }
    }
}
