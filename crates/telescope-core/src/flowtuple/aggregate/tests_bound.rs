//! Key tables against the memory limit (see `bound`): hostile inputs with
//! a new key on every record fail at the key budget, whatever their
//! length; the accounting is not below what the tables take.

use super::bound::{key_budget, KeyBytes};
use super::config::Rules;
use super::interval::IntervalAgg;
use super::keys::GeoIds;
use super::tests::block;
use super::*;
use crate::flowtuple::error::RunError;
use crate::flowtuple::options::{Mode, SeriesOptions, SpillOptions};
use crate::flowtuple::record::GeoTag;

/// Record `i` of a hostile file: a new country tag (so a new geo tag and
/// geo tag combination) and a new ASN above the direct range on each, in
/// `intervals` intervals taken in turn, runs of `run`.
fn hostile(i: u32, run: u32, intervals: u32) -> FlowRecord {
    hostile_asn(i, run, intervals, true)
}

/// [`hostile`], with the same country on every record unless `tags`.
fn hostile_asn(i: u32, run: u32, intervals: u32, tags: bool) -> FlowRecord {
    let country = if tags { format!("c{i}") } else { "FR".into() };
    let country = GeoTag::from_bytes(country.as_bytes()).unwrap();
    FlowRecord {
        time: 60 * i64::from(i / run % intervals),
        packet_cnt: 1,
        prefix2asn: (1 << 21) + i,
        src_ip: i,
        dst_ip: i,
        protocol: 6,
        ip_len: 40,
        netacq: [GeoTag::from_bytes(b"EU").unwrap(), country],
        ..FlowRecord::default()
    }
}

/// Blocks of 1,000 of `n` hostile records.
fn blocks(n: u32, run: u32, intervals: u32) -> Vec<DecodedBlock> {
    in_blocks((0..n).map(|i| hostile(i, run, intervals)).collect())
}

/// `records` in blocks of 1,000.
fn in_blocks(records: Vec<FlowRecord>) -> Vec<DecodedBlock> {
    records.chunks(1_000).map(|c| block(c.to_vec())).collect()
}

fn options(mode: Mode, limit: Option<u64>, dir: &std::path::Path) -> SeriesOptions {
    let mut options = SeriesOptions::new(mode);
    options.spill = limit.map(|limit| SpillOptions {
        limit,
        temp_dir: dir.to_path_buf(),
    });
    options
}

/// Feeds `blocks` (block `b` at offset `1000 * b`) to `agg` and finishes.
fn feed(
    agg: &mut Aggregator,
    blocks: &[DecodedBlock],
    merging: bool,
) -> Result<(), FlowtupleError> {
    let mut emit = |_| Ok::<(), FlowtupleError>(());
    for (b, block) in blocks.iter().enumerate() {
        let pos = Position {
            offset: 1_000 * b as u64,
            block: Some(b as u64),
        };
        agg.push_block(block, pos, &mut emit)
            .map_err(RunError::flatten)?;
    }
    if merging {
        agg.finish_merged(&mut emit).map_err(RunError::flatten)
    } else {
        agg.finish(&mut emit).map_err(RunError::flatten)
    }
}

/// The block at which the key tables failed, the table named, its keys.
fn failure(result: Result<(), FlowtupleError>) -> (u64, &'static str, u64) {
    match result {
        Err(FlowtupleError::KeyTablesTooLarge {
            table,
            keys,
            bytes,
            budget,
            limit,
            at,
        }) => {
            assert!(bytes > budget && budget == key_budget(limit));
            (at.block.unwrap(), table, keys)
        }
        other => panic!("expected the key tables to fail, got {other:?}"),
    }
}

#[test]
fn a_new_geo_tag_on_every_record_fails_at_the_budget_whatever_the_length() {
    let dir = tempfile::tempdir().unwrap();
    // 1 KiB: the budget is its floor, 4 MiB.
    let opts = options(Mode::Nonspoofed, Some(1024), dir.path());
    let mut seen = Vec::new();
    for n in [60_000, 120_000] {
        for threads in [1, 2] {
            let mut agg = Aggregator::new(&opts, threads);
            seen.push(failure(feed(&mut agg, &blocks(n, n, 1), false)));
        }
    }
    // A geo tag and a combination per record, each well over 60 bytes
    // and under 200 (measured below): 4 MiB holds 10,000 to 35,000
    // records, the same in the short file and the long one.
    let (block, table, keys) = seen[0];
    assert_eq!(table, "geo tag combination");
    assert!((10..35).contains(&block), "failed at block {block}");
    assert!(
        keys > 1_000 * block && keys <= 1_000 * (block + 1),
        "{keys}"
    );
    assert_eq!(seen[2], seen[0], "the longer file read further");
    assert!(seen[1].0 <= seen[0].0 && seen[1] == seen[3], "{seen:?}");
    // Without the geo series, the same records count.
    let mut agg = Aggregator::new(&options(Mode::Unfiltered, Some(1024), dir.path()), 1);
    feed(&mut agg, &blocks(60_000, 60_000, 1), false).unwrap();
    // Without a limit, nothing bounds them.
    let mut agg = Aggregator::new(&options(Mode::Nonspoofed, None, dir.path()), 1);
    feed(&mut agg, &blocks(60_000, 60_000, 1), false).unwrap();
}

#[test]
fn a_new_asn_on_every_record_fails_alone_and_across_merged_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(Mode::UnfilteredIpmeta, Some(1024), dir.path());
    let mut agg = Aggregator::new(&opts, 2);
    let (block, table, _) = failure(feed(&mut agg, &blocks(200_000, 200_000, 1), false));
    assert_eq!(table, "ASN", "at block {block}");
    // New ASNs only, spread over 100 intervals (runs of 100 in turn): each
    // interval's tables are small; merged, they are all open at once, and
    // fail together.
    let asns = |run| {
        in_blocks(
            (0..200_000)
                .map(|i| hostile_asn(i, run, 100, false))
                .collect(),
        )
    };
    let mut agg = Aggregator::merging(&opts, 1);
    let (merged, table, keys) = failure(feed(&mut agg, &asns(100), true));
    assert_eq!(table, "ASN", "at block {merged}");
    assert!(merged < 199 && keys < 1_000, "{merged} {keys}");
    // Not merged, 100 intervals one after the other: each closes before
    // the next, and none fails.
    let mut agg = Aggregator::new(&opts, 1);
    feed(&mut agg, &asns(2_000), false).unwrap();
}

/// What the geo tags and combinations of an interval take, by the
/// tables' own capacities (hashbrown: a bucket per 7/8 of capacity, each
/// an entry and a control byte).
fn measured(agg: &IntervalAgg<4>, geo_ids: &GeoIds) -> u64 {
    let map = |capacity: usize, entry: usize| (capacity * 8).div_ceil(7) * (entry + 1);
    let geo = map(geo_ids.ids.capacity(), 20) + geo_ids.tags.capacity() * 16;
    let tuples = map(agg.tuples.ids.capacity(), 20) + agg.tuples.keys.capacity() * 16;
    let first: usize = agg.first_continent.iter().map(|f| f.capacity() * 4).sum();
    (geo + tuples + first) as u64
}

#[test]
fn the_accounting_is_not_below_what_the_tables_take() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(Mode::Nonspoofed, None, dir.path());
    let rules = Rules::new(&opts);
    let mut agg = IntervalAgg::<4>::new(0, 0, true);
    let mut geo_ids = GeoIds::default();
    let at = Position {
        offset: 0,
        block: Some(0),
    };
    let mut i = 0;
    // Just past each growth of the maps (at 7/8 of a power of two) and of
    // the vectors (at a power of two), where tables take most per key;
    // from 100 keys on: the smallest maps have a few buckets more than the
    // per-key figures, which are for tables that grow.
    let mut sizes: Vec<u32> = (4..18).flat_map(|k| [7 << (k - 3), 1 << k]).collect();
    sizes.sort_unstable();
    for n in sizes.into_iter().map(|n| n + 1) {
        let records: Vec<FlowRecord> = (i..n).map(|i| hostile(i, n, 1)).collect();
        i = n;
        agg.add(&rules, &mut geo_ids, &records, at, 1).unwrap();
        let counted = KeyBytes::of(&agg.tables, &agg.tuples, Some(&geo_ids), 1);
        let real = measured(&agg, &geo_ids);
        if n < 100 {
            continue;
        }
        assert!(
            counted.bytes >= real,
            "{n}: counted {} < {real}",
            counted.bytes
        );
        // Not wildly above: at most 4 times.
        assert!(
            counted.bytes <= 4 * real,
            "{n}: counted {} > 4 * {real}",
            counted.bytes
        );
    }
}

/// `n` records of one source and one ASN, each to its own destination.
fn one_source(n: u32) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| FlowRecord {
            packet_cnt: 1,
            prefix2asn: 5,
            src_ip: 7,
            dst_ip: 0x2c00_0000 + i,
            protocol: 6,
            ip_len: 40,
            ..FlowRecord::default()
        })
        .collect()
}

#[test]
fn sorting_space_counts_the_biggest_buckets_and_spills_a_skewed_interval() {
    let dir = tempfile::tempdir().unwrap();
    let at = Position {
        offset: 0,
        block: Some(0),
    };
    let n = 20_000u32;
    let (item, sum_item) = (20, 32); // value + 4 keys; + packets + length
    let opts = options(Mode::Unfiltered, None, dir.path());
    let rules = Rules::new(&opts);
    let mut agg = IntervalAgg::<4>::new(0, 0, true);
    agg.add(&rules, &mut GeoIds::default(), &one_source(n), at, 1)
        .unwrap();
    // One thread: the source's bucket (all n source items) and the ASN's
    // (all n ASN items), twice each (sorted into one vector through
    // another).
    let n = u64::from(n);
    assert_eq!(agg.sort_scratch(1), 2 * (n * item + n * sum_item));
    // Two threads: also the biggest destination bucket (the destinations
    // spread over all 64) and the second ASN bucket (empty).
    let two = agg.sort_scratch(2);
    let dst_bucket = two - agg.sort_scratch(1);
    assert!(
        dst_bucket > 2 * item * n / 64 && dst_bucket < 2 * item * n / 32,
        "{dst_bucket}"
    );
    // A limit twice the items: without the sorting space they fit; with
    // it they do not, and the interval spills.
    let items = n * (2 * item + sum_item);
    let limit = 2 * items;
    let opts = options(Mode::Unfiltered, Some(limit), dir.path());
    let rules = Rules::new(&opts);
    let mut agg = IntervalAgg::<4>::new(0, 0, true);
    agg.add(&rules, &mut GeoIds::default(), &one_source(20_000), at, 1)
        .unwrap();
    assert!(agg.spilled() > 0, "the skewed interval did not spill");
    // Spread sources (as many buckets as destinations) fit.
    let spread: Vec<FlowRecord> = one_source(20_000)
        .into_iter()
        .map(|r| FlowRecord {
            src_ip: r.dst_ip,
            prefix2asn: 1 + r.dst_ip % 1_000,
            ..r
        })
        .collect();
    let mut agg = IntervalAgg::<4>::new(0, 0, true);
    agg.add(&rules, &mut GeoIds::default(), &spread, at, 1)
        .unwrap();
    assert_eq!(agg.spilled(), 0, "spread items spilled");
}
