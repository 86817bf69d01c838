//! Buckets: sorting one by value, and recycling its chunks.

use super::items::{Bucket, Item, CHUNK_BYTES};
use super::sort::sort_bucket;
use std::collections::BTreeSet;
use telescope_test_support::rng::{Random, SplitMix64 as Rng};

#[test]
fn sort_bucket_orders_by_value() {
    let mut seed = Rng(11);
    // The working buffers are reused, as between buckets: they only grow
    // and hold the previous bucket's items beyond `n`.
    let (mut out, mut work) = (Vec::new(), Vec::new());
    // Values of one bucket (the same top bits, as filed), or any values.
    let sizes = [0, 5, 511, 512, 100_000, 3, 70_000, 600, 100_001, 5_000];
    for (n, one_bucket) in sizes.into_iter().flat_map(|n| [(n, true), (n, false)]) {
        let items: Vec<Item<3>> = (0..n)
            .map(|i| {
                let v = seed.next_u64() as u32;
                // Many repeats, and groups of one upper digit with many
                // items.
                let value = match i % 3 {
                    0 => v,
                    1 => 5 << 13 | (v & 0x7f),
                    _ => v >> 20,
                };
                let value = if one_bucket {
                    0xa400_0000 | (value & 0x03ff_ffff)
                } else {
                    value
                };
                Item {
                    value,
                    keys: [i as u32, 0, 0],
                }
            })
            .collect();
        let pairs = |items: &[Item<3>]| {
            let mut p: Vec<(u32, u32)> = items.iter().map(|i| (i.value, i.keys[0])).collect();
            p.sort_unstable();
            p
        };
        let want = pairs(&items);
        let mut bucket = Bucket::default();
        items.iter().for_each(|&i| bucket.push(i));
        let got = sort_bucket(&bucket, &mut out, &mut work).to_vec();
        assert!(got.windows(2).all(|w| w[0].value <= w[1].value), "n = {n}");
        assert!(pairs(&got) == want, "n = {n}: the same items");
        // Stable: items of one value stay in the order filed.
        assert!(
            got.windows(2)
                .all(|w| w[0].value < w[1].value || w[0].keys[0] < w[1].keys[0]),
            "n = {n}: stable"
        );
    }
}

/// A recycled bucket holds only what is filed after, in chunks it had.
#[test]
fn recycled_buckets_reuse_their_chunks() {
    let item = |i: u32| Item {
        value: i,
        keys: [i, 0],
    };
    let mut bucket: Bucket<Item<2>> = Bucket::default();
    // Two full chunks and a part of a third.
    let per_chunk = (CHUNK_BYTES / std::mem::size_of::<Item<2>>()) as u32;
    (0..2 * per_chunk + 7).for_each(|i| bucket.push(item(i)));
    let before: BTreeSet<*const Item<2>> = bucket.chunks().map(<[_]>::as_ptr).collect();
    bucket.recycle();
    assert_eq!(bucket.bytes(), 0);
    assert_eq!(bucket.chunks().map(<[_]>::len).sum::<usize>(), 0);
    (0..per_chunk + 3).for_each(|i| bucket.push(item(1_000_000 + i)));
    let got: Vec<u32> = bucket.chunks().flatten().map(|i| i.value).collect();
    let want: Vec<u32> = (0..per_chunk + 3).map(|i| 1_000_000 + i).collect();
    assert!(
        got == want,
        "only the items filed after recycling, in order"
    );
    let after: BTreeSet<*const Item<2>> = bucket.chunks().map(<[_]>::as_ptr).collect();
    assert!(after.is_subset(&before), "the chunks are the old ones");
    bucket.release();
    (0..2 * per_chunk).for_each(|i| bucket.push(item(i)));
    assert_eq!(
        bucket.chunks().flatten().count(),
        (3 * per_chunk + 3) as usize
    );
}
