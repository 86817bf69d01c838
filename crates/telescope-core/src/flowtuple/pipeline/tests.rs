//! The parallel pipeline's reuse of decoded blocks.

use std::io::Cursor;

use super::parallel::GROUP_BLOCKS;
use super::*;
use crate::flowtuple::decode::Run;
use crate::flowtuple::read::codec::MAX_BLOCK_BYTES;
use telescope_test_support::avro::{bytes, zigzag};

/// The v3 flowtuple schema, from a fixture's header.
fn schema() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/flowtuple/small-null.avro"
    );
    let file = std::fs::File::open(path).unwrap();
    BlockReader::open(BufReader::new(file))
        .unwrap()
        .0
        .schema_json
}

/// A null-codec container of `blocks` blocks, block `k` holding `records`
/// records whose `time` is `k` and every other field zero (an empty string
/// for the tags).
fn container(schema: &str, blocks: usize, records: usize) -> Vec<u8> {
    let sync = *b"0123456789abcdef";
    let mut out = b"Obj\x01".to_vec();
    zigzag(2, &mut out);
    bytes(b"avro.schema", &mut out);
    bytes(schema.as_bytes(), &mut out);
    bytes(b"avro.codec", &mut out);
    bytes(b"null", &mut out);
    zigzag(0, &mut out);
    out.extend_from_slice(&sync);
    for k in 0..blocks {
        let mut data = Vec::new();
        for _ in 0..records {
            zigzag(k as i64, &mut data);
            data.extend_from_slice(&[0; 18]);
        }
        zigzag(records as i64, &mut out);
        bytes(&data, &mut out);
        out.extend_from_slice(&sync);
    }
    out
}

/// Runs `parallel` over `file` in unfiltered mode, checking each block's
/// records as they come in order, and returns the spares it used.
fn run(file: Vec<u8>, blocks: usize, records: usize, workers: usize) -> BlockPool {
    let (header, reader) = BlockReader::open(Cursor::new(file)).unwrap();
    let fields = Mode::Unfiltered.needed_fields(GeoSource::default());
    let plan = Plan::new(&header.schema_json, &fields, "").unwrap();
    let decoder = Decoder::new(header.codec, &plan, Layout::Flowtuple, Filter::All);
    let spares = BlockPool::new(SPARE_BYTES);
    let mut seen = 0;
    parallel(reader, &decoder, workers, &spares, &mut |block, pos| {
        assert_eq!(pos.block, Some(seen as u64));
        assert_eq!(block.total, records as u64);
        assert_eq!(
            block.runs,
            [Run {
                time: seen as i64,
                kept: records
            }]
        );
        assert_eq!(block.records.len(), records);
        assert!(block.records.iter().all(|r| r.time == seen as i64));
        seen += 1;
        Ok::<(), FlowtupleError>(())
    })
    .unwrap();
    assert_eq!(seen, blocks);
    spares
}

#[test]
fn decoded_blocks_are_reused_once_aggregated() {
    let schema = schema();
    for workers in [1, 2, 3] {
        // Groups of 32 small blocks, at most 4 groups per worker in flight:
        // no more blocks than that are ever decoded into at once.
        let (blocks, records) = (2000, 40);
        let spares = run(
            container(&schema, blocks, records),
            blocks,
            records,
            workers,
        );
        let in_flight = (4 * workers * GROUP_BLOCKS) as u64;
        assert!(
            spares.fresh() <= in_flight,
            "{workers} workers: {} blocks allocated for {blocks} blocks",
            spares.fresh()
        );
        assert!(spares.bytes() <= SPARE_BYTES);
        // All of them by the reader thread, so from one malloc arena.
        assert_eq!(spares.takers(), 1);
    }
}

#[test]
fn blocks_heavier_than_the_budget_are_decoded_into_one_block() {
    // The most minimal records a block may hold: each such block weighs
    // more than the in-flight budget, so one is in flight at a time and
    // one decoded block serves them all.
    let schema = schema();
    let records = MAX_BLOCK_BYTES / 19;
    let blocks = 6;
    let file = container(&schema, blocks, records);
    let spares = run(file, blocks, records, 2);
    assert_eq!(spares.fresh(), 1);
}

/// The emit callback's own error, as a caller would define it.
#[derive(Debug, PartialEq, Eq)]
struct Refused(i64);

#[test]
fn an_emit_error_comes_back_as_itself_and_stops_the_run() {
    // Blocks of times 0, 1, 2, 3: the callback refuses the interval of
    // time 1, so time 2 completes but is never handed out.
    let file = container(&schema(), 4, 3);
    for threads in [1, 2] {
        let mut seen = Vec::new();
        let result = series(
            Cursor::new(file.clone()),
            &SeriesOptions::new(Mode::Unfiltered),
            threads,
            |iv| {
                seen.push(iv.time);
                match iv.time {
                    1 => Err(Refused(1)),
                    _ => Ok(()),
                }
            },
        );
        match result {
            Err(RunError::Emit(e)) => assert_eq!(e, Refused(1)),
            other => panic!("{other:?}"),
        }
        assert_eq!(seen, [0, 1], "threads {threads}");
    }
    // The input's own error is the other side.
    let mut broken = container(&schema(), 4, 3);
    broken.truncate(broken.len() - 5);
    let result = series(
        Cursor::new(broken),
        &SeriesOptions::new(Mode::Unfiltered),
        1,
        |_| Ok::<(), Refused>(()),
    );
    assert!(
        matches!(
            result,
            Err(RunError::Input(FlowtupleError::Truncated { .. }))
        ),
        "{result:?}"
    );
}
