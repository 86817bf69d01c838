//! read → decompress/decode/filter (in parallel, per block) → aggregate (in
//! block order). Blocks in flight are bounded, so memory is too.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

use super::aggregate::Aggregator;
use super::container::{decompress, BlockReader, Codec, RawBlock};
use super::decode::{decode_block, DecodedBlock};
use super::error::{FlowtupleError, Position};
use super::filter::Filter;
use super::input::unwrap_stream;
use super::options::{GeoSource, Mode, SeriesOptions};
use super::schema::Plan;
use super::series::IntervalSeries;

/// Counts of what a run read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Data blocks read.
    pub blocks: u64,
    /// Records decoded.
    pub records: u64,
    /// Records that passed the mode's filter.
    pub kept: u64,
}

/// Streams `input` (an Avro flowtuple file, possibly gzip/bzip2/zstd
/// wrapped) and hands each complete interval to `emit`, in file order.
///
/// `threads` is the number of decoding threads (1 decodes on the calling
/// thread). On error, intervals already emitted were complete; the interval
/// being read is dropped.
pub fn series<R, E>(
    input: R,
    options: &SeriesOptions,
    threads: usize,
    mut emit: E,
) -> Result<RunStats, FlowtupleError>
where
    R: Read + Send + 'static,
    E: FnMut(IntervalSeries) -> Result<(), FlowtupleError>,
{
    let mut aggregator = Aggregator::new(options, threads);
    let stats = drive(
        input,
        options.mode,
        options.geo,
        options.mode.filter(),
        threads,
        |block, pos| aggregator.push_block(block, pos, &mut emit),
    )?;
    aggregator.finish(&mut emit)?;
    Ok(stats)
}

/// Reads, decompresses and decodes `input` with the field plan of `mode`,
/// doing nothing with the records: the decode-only baseline of the benchmark.
pub fn decode_only<R: Read + Send + 'static>(
    input: R,
    mode: Mode,
    threads: usize,
) -> Result<RunStats, FlowtupleError> {
    drive(
        input,
        mode,
        GeoSource::default(),
        Filter::All,
        threads,
        |_, _| Ok(()),
    )
}

fn drive<R, F>(
    input: R,
    mode: Mode,
    geo: GeoSource,
    filter: Filter,
    threads: usize,
    mut on_block: F,
) -> Result<RunStats, FlowtupleError>
where
    R: Read + Send + 'static,
    F: FnMut(&DecodedBlock, Position) -> Result<(), FlowtupleError>,
{
    let stream = unwrap_stream(input).map_err(|source| FlowtupleError::Io { offset: 0, source })?;
    let (header, reader) = BlockReader::open(BufReader::with_capacity(1 << 20, stream))?;
    let why = format!(" (needed by mode {mode})");
    let plan = Plan::new(&header.schema_json, &mode.needed_fields(geo), &why)?;
    let mut stats = RunStats::default();
    let mut count = |block: &DecodedBlock, pos: Position| {
        stats.blocks += 1;
        stats.records += block.total;
        stats.kept += block.records.len() as u64;
        on_block(block, pos)
    };
    if threads <= 1 {
        sequential(reader, header.codec, &plan, filter, &mut count)?;
    } else {
        parallel(reader, header.codec, &plan, filter, threads, &mut count)?;
    }
    Ok(stats)
}

/// Decompresses and decodes one raw block.
fn decode_raw(
    codec: Codec,
    plan: &Plan,
    filter: Filter,
    raw: &RawBlock,
    buf: &mut Vec<u8>,
) -> Result<DecodedBlock, FlowtupleError> {
    let corrupt = |what: String| FlowtupleError::Corrupt { at: raw.pos, what };
    let data: &[u8] = if codec == Codec::Null {
        &raw.data
    } else {
        decompress(codec, &raw.data, buf).map_err(corrupt)?;
        buf
    };
    let mut block = DecodedBlock::default();
    decode_block(plan, filter, data, raw.count, &mut block).map_err(corrupt)?;
    Ok(block)
}

fn sequential<R: Read>(
    mut reader: BlockReader<R>,
    codec: Codec,
    plan: &Plan,
    filter: Filter,
    on_block: &mut dyn FnMut(&DecodedBlock, Position) -> Result<(), FlowtupleError>,
) -> Result<(), FlowtupleError> {
    let mut buf = Vec::new();
    while let Some(raw) = reader.next_block()? {
        let block = decode_raw(codec, plan, filter, &raw, &mut buf)?;
        on_block(&block, raw.pos)?;
    }
    Ok(())
}

/// What a block becomes, in sequence order.
enum Item {
    Block(DecodedBlock, Position),
    End,
    Failed(FlowtupleError),
}

fn parallel<R: Read + Send>(
    mut reader: BlockReader<R>,
    codec: Codec,
    plan: &Plan,
    filter: Filter,
    workers: usize,
    on_block: &mut dyn FnMut(&DecodedBlock, Position) -> Result<(), FlowtupleError>,
) -> Result<(), FlowtupleError> {
    let in_flight = workers * 8;
    std::thread::scope(|scope| {
        let (raw_tx, raw_rx) = sync_channel::<(u64, RawBlock)>(in_flight);
        let raw_rx: Arc<Mutex<Receiver<(u64, RawBlock)>>> = Arc::new(Mutex::new(raw_rx));
        let (done_tx, done_rx) = sync_channel::<(u64, Item)>(in_flight);
        // Tokens bound the blocks between the reader and the aggregator.
        let (token_tx, token_rx) = sync_channel::<()>(in_flight);
        for _ in 0..in_flight {
            let _ = token_tx.send(());
        }
        let reader_done = done_tx.clone();
        scope.spawn(move || {
            let mut seq = 0;
            while token_rx.recv().is_ok() {
                let sent = match reader.next_block() {
                    Ok(Some(raw)) => raw_tx.send((seq, raw)).is_ok(),
                    Ok(None) => {
                        let _ = reader_done.send((seq, Item::End));
                        return;
                    }
                    Err(e) => {
                        let _ = reader_done.send((seq, Item::Failed(e)));
                        return;
                    }
                };
                if !sent {
                    return;
                }
                seq += 1;
            }
        });
        for _ in 0..workers {
            let raw_rx = Arc::clone(&raw_rx);
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                let mut buf = Vec::new();
                loop {
                    let next = match raw_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, raw)) = next else { return };
                    let item = match decode_raw(codec, plan, filter, &raw, &mut buf) {
                        Ok(block) => Item::Block(block, raw.pos),
                        Err(e) => Item::Failed(e),
                    };
                    if done_tx.send((seq, item)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(raw_rx);
        drop(done_tx);
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        loop {
            while let Some(item) = pending.remove(&next) {
                next += 1;
                match item {
                    Item::Block(block, pos) => {
                        on_block(&block, pos)?;
                        let _ = token_tx.send(());
                    }
                    Item::End => return Ok(()),
                    Item::Failed(e) => return Err(e),
                }
            }
            match done_rx.recv() {
                Ok((seq, item)) => {
                    pending.insert(seq, item);
                }
                Err(_) => {
                    return Err(FlowtupleError::Internal(
                        "a decoding thread stopped unexpectedly".into(),
                    ))
                }
            }
        }
    })
}
