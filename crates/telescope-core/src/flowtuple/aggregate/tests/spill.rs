//! Spilling to temporary files: the same series as in memory, merged
//! intervals bounded together, large intervals across threads.

use super::*;

/// Under a limit small enough to spill every few blocks, every mode,
/// counting method, geo source and rule set gives the same series as in
/// memory, over several intervals, on one and two threads.
#[test]
fn spilled_intervals_equal_unspilled_ones() {
    use crate::flowtuple::options::SpillOptions;
    let mut seed = Rng(17);
    let mut records = random_records(9_000, &mut seed);
    // Three intervals.
    for (i, r) in records.iter_mut().enumerate() {
        r.time = 60 * (i / 3_000) as i64;
    }
    let blocks: Vec<DecodedBlock> = records.chunks(100).map(|c| block(c.to_vec())).collect();
    let dir = tempfile::tempdir().unwrap();
    let cases = option_grid(24)
        .into_iter()
        .flat_map(|case| [Compat::Script, Compat::Report].map(|compat| (case.clone(), compat)));
    for ((mode, geo, counting, mut options), compat) in cases {
        options.compat = compat;
        let want = run_opts(&options, &blocks, 1).unwrap();
        assert_eq!(want.len(), 3);
        options.spill = Some(SpillOptions {
            // About 8 blocks of items per run: the items of an interval
            // are spilled 4 to 5 times, and some are still in memory.
            limit: 100 * 8 * 60,
            temp_dir: dir.path().to_path_buf(),
        });
        for threads in [1, 2] {
            let mut agg = Aggregator::new(&options, threads);
            let mut got = Vec::new();
            let pos = Position {
                offset: 0,
                block: Some(0),
            };
            for b in &blocks {
                agg.push_block(b, pos, &mut |iv| {
                    got.push(iv);
                    Ok::<(), FlowtupleError>(())
                })
                .unwrap();
            }
            agg.finish(&mut |iv| {
                got.push(iv);
                Ok::<(), FlowtupleError>(())
            })
            .unwrap();
            let what = format!("{mode:?} {geo:?} {counting:?} {compat:?} -j{threads}");
            assert!(agg.spilled() > 0, "{what}: nothing spilled");
            assert!(got == want, "{what}: spilled series differ");
        }
    }
    assert!(list(dir.path()).is_empty(), "temporary files are unlinked");
}

/// Merging keeps every interval open: the limit bounds their items all
/// together. No interval alone comes near it here, so only the bound on
/// the open intervals spills; the series equal an unlimited run.
#[test]
fn merged_intervals_are_bounded_together() {
    use crate::flowtuple::options::SpillOptions;
    let mut seed = Rng(23);
    let mut records = random_records(6_000, &mut seed);
    // Runs of 10 records cycling through 30 times: 200 records each.
    for (i, r) in records.iter_mut().enumerate() {
        r.time = 60 * ((i / 10) % 30) as i64;
    }
    let blocks: Vec<DecodedBlock> = records.chunks(100).map(|c| block(c.to_vec())).collect();
    let dir = tempfile::tempdir().unwrap();
    let run = |options: &SeriesOptions, threads| {
        let mut agg = Aggregator::merging(options, threads);
        let mut got = Vec::new();
        let pos = Position {
            offset: 0,
            block: Some(0),
        };
        for b in &blocks {
            agg.push_block(b, pos, &mut |_| -> Result<(), FlowtupleError> {
                unreachable!("merging prints at the end")
            })
            .unwrap();
        }
        agg.finish_merged(&mut |iv| {
            got.push(iv);
            Ok::<(), FlowtupleError>(())
        })
        .unwrap();
        (got, agg.spilled())
    };
    for (mode, counting, compat) in SOURCE_RULES {
        let mut options = SeriesOptions::new(mode);
        options.src_counting = counting;
        options.compat = compat;
        let (want, _) = run(&options, 1);
        assert_eq!(want.len(), 30);
        // An interval's 200 records take under 20 KB of items; all 6,000
        // take several times the limit.
        options.spill = Some(SpillOptions {
            limit: 40_000,
            temp_dir: dir.path().to_path_buf(),
        });
        for threads in [1, 2] {
            let (got, spilled) = run(&options, threads);
            assert!(spilled > 0, "{mode:?}: nothing spilled");
            assert!(got == want, "{mode:?} -j{threads}: spilled series differ");
        }
    }
    assert!(list(dir.path()).is_empty());
}

/// Intervals above the size counted on several threads (2^16 records) and
/// buckets past the small-sort path: the series are the same on 1 and 4
/// threads, and spilled (several runs per bucket) on 1 and 3 threads.
#[test]
fn large_intervals_agree_across_threads_and_spills() {
    use crate::flowtuple::options::SpillOptions;
    let mut seed = Rng(5);
    let mut records = random_records(140_000, &mut seed);
    for (i, r) in records.iter_mut().enumerate() {
        r.time = 60 * (i / 70_000) as i64;
        // Many distinct sources, many sharing a /24.
        r.src_ip = r.src_ip.wrapping_mul(2_654_435_761) ^ (i as u32 % 50_000);
    }
    let blocks: Vec<DecodedBlock> = records.chunks(1000).map(|c| block(c.to_vec())).collect();
    let dir = tempfile::tempdir().unwrap();
    for (mode, counting, compat) in SOURCE_RULES {
        let mut options = SeriesOptions::new(mode);
        options.src_counting = counting;
        options.compat = compat;
        let want = run_opts(&options, &blocks, 1).unwrap();
        let what = format!("{mode:?} {counting:?} {compat:?}");
        assert!(
            run_opts(&options, &blocks, 4).unwrap() == want,
            "{what}: -j4"
        );
        options.spill = Some(SpillOptions {
            limit: 200_000,
            temp_dir: dir.path().to_path_buf(),
        });
        for threads in [1, 3] {
            let got = run_opts(&options, &blocks, threads).unwrap();
            assert!(got == want, "{what}: spilled -j{threads}");
        }
    }
    assert!(list(dir.path()).is_empty());
}
