//! Sorting a bucket's items by value (LSD radix).

use super::items::{Bucket, Valued};

/// The bucket's items sorted by value, stably, left at the start of `out` (`work`
/// is working space; both are reused between buckets and only grow, so
/// that they are not cleared for every bucket). LSD radix with 13-bit
/// digits, the first pass reading the bucket's chunks.
pub(super) fn sort_bucket<'a, T: Valued>(
    bucket: &Bucket<T>,
    out: &'a mut Vec<T>,
    work: &mut Vec<T>,
) -> &'a [T] {
    let chunks: Vec<&[T]> = bucket.chunks().collect();
    let n: usize = chunks.iter().map(|c| c.len()).sum();
    if out.len() < n {
        out.resize(n, T::blank());
    }
    let copy = |out: &mut [T]| {
        let mut at = 0;
        for c in &chunks {
            out[at..at + c.len()].copy_from_slice(c);
            at += c.len();
        }
    };
    if n < 512 {
        copy(&mut out[..n]);
        // Stable, as the radix sort: items of one value stay in input
        // order (see `FirstItem`).
        out[..n].sort_by_key(|i| i.value());
        return &out[..n];
    }
    let mut counts = vec![[0u32; 1 << DIGIT]; 3];
    for chunk in &chunks {
        for item in chunk.iter() {
            let v = item.value();
            for (d, c) in counts.iter_mut().enumerate() {
                c[((v >> (DIGIT * d as u32)) & DIGIT_MASK) as usize] += 1;
            }
        }
    }
    let digits: Vec<usize> = (0..3)
        .filter(|&d| !counts[d].contains(&(n as u32)))
        .collect();
    let Some((&first, rest)) = digits.split_first() else {
        copy(&mut out[..n]);
        return &out[..n];
    };
    let mut offsets = starts(&counts[first]);
    for chunk in &chunks {
        scatter(chunk, &mut offsets, first, &mut out[..n]);
    }
    if !rest.is_empty() && work.len() < n {
        work.resize(n, T::blank());
    }
    for &d in rest {
        scatter(&out[..n], &mut starts(&counts[d]), d, &mut work[..n]);
        std::mem::swap(out, work);
    }
    &out[..n]
}

pub(super) const DIGIT: u32 = 13;
pub(super) const DIGIT_MASK: u32 = (1 << DIGIT) - 1;

/// Where each digit value's items start, from the digit's histogram.
pub(super) fn starts(count: &[u32; 1 << DIGIT]) -> Vec<u32> {
    let mut sum = 0;
    count
        .iter()
        .map(|&x| {
            let start = sum;
            sum += x;
            start
        })
        .collect()
}

/// One LSD radix pass on digit `d` over `items`, placing each at the next
/// free place of its digit value (`offsets`, advanced).
pub(super) fn scatter<T: Valued>(items: &[T], offsets: &mut [u32], d: usize, into: &mut [T]) {
    let shift = DIGIT * d as u32;
    for item in items {
        let b = ((item.value() >> shift) & DIGIT_MASK) as usize;
        into[offsets[b] as usize] = *item;
        offsets[b] += 1;
    }
}
