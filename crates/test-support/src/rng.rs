//! Seeded pseudo-random generators for test data, fuzzing and synthetic
//! inputs: same seed, same numbers, on every machine. Not for anything
//! that needs unpredictability.
//!
//! Three generators, because existing golden values and generated files
//! were made with each: [`SplitMix64`] (most data), [`XorShift64Star`]
//! (the flowtuple fuzzer's mutations) and [`XorShift64`] (the forecast unit
//! tests' noise). The derived draws ([`Random`]'s provided methods) are the
//! same formulas for all three, except [`XorShift64`]'s `uniform`.

use std::f64::consts::TAU;

/// Draws built on a generator's next 64 bits.
pub trait Random {
    /// The next 64 bits.
    fn next_u64(&mut self) -> u64;

    /// Uniform in `0..n` by remainder (`n > 0`; slightly biased, as the
    /// data was made).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// [`Random::below`] for an index into something of length `n`; 0 when
    /// `n` is 0.
    fn index(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `[0, 1)`: the top 53 bits over 2^53.
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// A standard normal (Box-Muller, one of the pair; two draws).
    fn gauss(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        (-2.0 * u.ln()).sqrt() * (TAU * self.uniform()).cos()
    }

    /// A value of a random bit length (0 to 64), either sign.
    fn long(&mut self) -> i64 {
        let bits = self.below(65) as u32;
        let v = self.next_u64().checked_shr(64 - bits).unwrap_or(0) as i64;
        if self.below(2) == 0 {
            v
        } else {
            v.wrapping_neg()
        }
    }

    /// A Zipf-like rank in `0..n` (log-uniform; `n > 0`).
    fn zipf(&mut self, n: u64) -> u64 {
        ((n as f64).powf(self.uniform()) as u64)
            .saturating_sub(1)
            .min(n - 1)
    }
}

/// splitmix64 (Steele, Lea and Flood, 2014), the state its seed.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl Random for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// xorshift64* (Vigna, 2016; shifts 12, 25, 27), the state its seed
/// (nonzero).
#[derive(Debug, Clone)]
pub struct XorShift64Star(pub u64);

impl Random for XorShift64Star {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// xorshift64 (Marsaglia, 2003; shifts 13, 7, 17), the state its seed
/// (nonzero). Its `uniform` is centred, `(top 53 bits + 0.5) / 2^53`, never 0.
#[derive(Debug, Clone)]
pub struct XorShift64(pub u64);

impl Random for XorShift64 {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first outputs, from a one-off script of each published
    /// algorithm (splitmix64 from 0 starts 0xe220a8397b1dcdaf, as in
    /// Vigna's reference `splitmix64.c`).
    #[test]
    fn generators_give_their_published_sequences() {
        let first3 = |r: &mut dyn Random| [r.next_u64(), r.next_u64(), r.next_u64()];
        let cases: [(&mut dyn Random, [u64; 3]); 6] = [
            (
                &mut SplitMix64(0),
                [
                    0xe220_a839_7b1d_cdaf,
                    0x6e78_9e6a_a1b9_65f4,
                    0x06c4_5d18_8009_454f,
                ],
            ),
            (
                &mut SplitMix64(1),
                [
                    0x910a_2dec_8902_5cc1,
                    0xbeeb_8da1_658e_ec67,
                    0xf893_a2ee_fb32_555e,
                ],
            ),
            (
                &mut XorShift64Star(1),
                [
                    0x47e4_ce4b_896c_dd1d,
                    0xabcf_a6a8_e079_651d,
                    0xb9d1_0d8f_eb73_1f57,
                ],
            ),
            (
                &mut XorShift64Star(7),
                [
                    0xd1fb_af7f_728d_2eae,
                    0xeda4_6c77_629d_a6ae,
                    0x16df_9d6a_c76b_d322,
                ],
            ),
            (
                &mut XorShift64(1),
                [0x4082_2041, 0x1000_4106_0c01_1441, 0x9b1e_842f_6e86_2629],
            ),
            (
                &mut XorShift64(42),
                [
                    0x000a_9551_4aaa,
                    0xa00a_aafd_f802_02bf,
                    0x8b13_399c_d1d1_497a,
                ],
            ),
        ];
        for (rng, want) in cases {
            assert_eq!(first3(rng), want);
        }
    }

    /// The derived draws, worked out from the first outputs above.
    #[test]
    fn draws_follow_from_the_bits() {
        // 0xe220a8397b1dcdaf >> 11 = 0x1c4415072f63b9, over 2^53.
        let want = 0x1c_4415_072f_63b9u64 as f64 / 9_007_199_254_740_992.0;
        assert_eq!(SplitMix64(0).uniform(), want);
        assert_eq!(SplitMix64(0).range(2.0, 4.0), 2.0 + 2.0 * want);
        assert_eq!(SplitMix64(0).below(10), 0xe220_a839_7b1d_cdaf % 10);
        assert_eq!(SplitMix64(0).index(0), 0);
        // xorshift64 from 1: 0x40822041 >> 11 = 0x81044, plus a half.
        assert_eq!(
            XorShift64(1).uniform(),
            (0x81044 as f64 + 0.5) / 9_007_199_254_740_992.0
        );
        // 2^uniform - 1 with uniform ~0.883: rank 0 of 2.
        assert_eq!(SplitMix64(0).zipf(2), 0);
    }
}
