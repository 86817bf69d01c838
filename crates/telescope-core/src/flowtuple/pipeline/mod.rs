//! read → decompress/decode/filter (in parallel, in groups of blocks) →
//! aggregate (in file order). Groups in flight are bounded in number and in
//! the bytes they may hold ([`IN_FLIGHT_BYTES`]), so memory is too.
//!
//! With several threads: a reader thread reads groups of blocks; worker
//! threads decode groups; the calling thread takes the decoded groups in
//! file order and aggregates them ([`Aggregator`]), which counts distinct
//! values of a complete interval on several threads.

use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};

use super::aggregate::Aggregator;
use super::decode::DecodedBlock;
use super::error::{FlowtupleError, Position, RunError};
use super::filter::Filter;
use super::flowtuple4;
use super::options::{GeoSource, Input, Mode, SeriesOptions};
use super::read::container::{read_error, BlockReader};
use super::read::input::unwrap_stream;
use super::schema::{Kind, Plan};
use super::series::IntervalSeries;

mod block_pool;
mod decoder;
mod parallel;

use block_pool::BlockPool;
use decoder::{Decoder, Layout, OnBlock};
use parallel::{parallel, SPARE_BYTES};

/// Counts of what a run read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Data blocks read.
    pub blocks: u64,
    /// Records decoded.
    pub records: u64,
    /// Records that passed the mode's filter.
    pub kept: u64,
    /// Bytes of temporary files written (see [`super::SpillOptions`]).
    pub spilled: u64,
}

/// Streams `input` (an Avro flowtuple file, possibly gzip/bzip2/zstd
/// wrapped) and hands each complete interval to `emit`, in file order.
///
/// `threads` is the number of worker threads (1 does everything on the
/// calling thread); the output does not depend on it. On error, intervals
/// already emitted were complete; the interval being read is dropped.
pub fn series<R, F, E>(
    input: R,
    options: &SeriesOptions,
    threads: usize,
    emit: F,
) -> Result<RunStats, RunError<E>>
where
    R: Read + Send + 'static,
    F: FnMut(IntervalSeries) -> Result<(), E>,
{
    let mut stats = RunStats::default();
    series_counted(
        input,
        options,
        threads,
        &mut stats,
        &AtomicU64::new(0),
        emit,
    )?;
    Ok(stats)
}

/// [`series`], keeping `stats` up to date as it goes, so that after an
/// error they say how far the input was read and aggregated, and adding
/// the records of each block read to `seen` (for a progress display).
pub fn series_counted<R, F, E>(
    input: R,
    options: &SeriesOptions,
    threads: usize,
    stats: &mut RunStats,
    seen: &AtomicU64,
    mut emit: F,
) -> Result<(), RunError<E>>
where
    R: Read + Send + 'static,
    F: FnMut(IntervalSeries) -> Result<(), E>,
{
    let mut aggregator = Aggregator::new(options, threads);
    let result = drive(
        input,
        Pass::Series(options),
        threads,
        stats,
        &mut |block, pos| {
            aggregator.push_block(block, pos, &mut emit)?;
            seen.fetch_add(block.total, Ordering::Relaxed);
            Ok(())
        },
    )
    .and_then(|_| aggregator.finish(&mut emit));
    stats.spilled = aggregator.spilled();
    result
}

/// Streams `input` into `aggregator` (built for `options`), passing any
/// interval it completes to `emit`, without ending the input: the caller
/// calls [`Aggregator::finish`] or, merging, [`Aggregator::end_input`].
pub fn feed<R, F, E>(
    input: R,
    options: &SeriesOptions,
    threads: usize,
    aggregator: &mut Aggregator,
    mut emit: F,
) -> Result<RunStats, RunError<E>>
where
    R: Read + Send + 'static,
    F: FnMut(IntervalSeries) -> Result<(), E>,
{
    let mut stats = RunStats::default();
    drive(
        input,
        Pass::Series(options),
        threads,
        &mut stats,
        &mut |block, pos| aggregator.push_block(block, pos, &mut emit),
    )?;
    Ok(stats)
}

/// Reads and decodes all of `input` as [`series`] would, counting nothing:
/// `Ok` when every block reads and decodes (for merging, where a bad file
/// must leave no record behind, so it is checked before it is counted).
pub fn check<R: Read + Send + 'static>(
    input: R,
    options: &SeriesOptions,
    threads: usize,
) -> Result<RunStats, FlowtupleError> {
    read_through(input, Pass::Series(options), threads)
}

/// Reads, decompresses and decodes `input` with the field plan of `mode`,
/// and cuts it into intervals, doing nothing with the records: the
/// decode-only baseline of the benchmark.
pub fn decode_only<R: Read + Send + 'static>(
    input: R,
    mode: Mode,
    threads: usize,
) -> Result<RunStats, FlowtupleError> {
    read_through(input, Pass::DecodeOnly(mode), threads)
}

/// Reads and decodes all of `input` for `pass`, handing the blocks to no
/// one: what was read, or the first error.
fn read_through<R: Read + Send + 'static>(
    input: R,
    pass: Pass<'_>,
    threads: usize,
) -> Result<RunStats, FlowtupleError> {
    let mut stats = RunStats::default();
    drive::<_, FlowtupleError>(input, pass, threads, &mut stats, &mut |_, _| Ok(()))?;
    Ok(stats)
}

/// Reads the header of `input` (possibly gzip/bzip2/zstd wrapped) and
/// tells its layout, reading no further than the header.
pub fn sniff<R: Read + Send + 'static>(input: R) -> Result<Kind, FlowtupleError> {
    let stream = unwrap_stream(input).map_err(|e| read_error(0, e))?;
    let (header, _) = BlockReader::open(BufReader::with_capacity(8 << 10, stream))?;
    Kind::of_schema(&header.schema_json)
}

/// What a pass reads `input` for.
#[derive(Clone, Copy)]
enum Pass<'a> {
    /// A run's series: the file must be of its input layout, and the
    /// options possible on it; the plan, geo source and filter are its.
    Series(&'a SeriesOptions),
    /// The decode-only baseline of a mode: the file as it is, every record.
    DecodeOnly(Mode),
}

/// Reads `input` for `pass`, handing each decoded block to `on_block` in
/// file order and counting the blocks handed on in `stats`.
fn drive<R, E>(
    input: R,
    pass: Pass<'_>,
    threads: usize,
    stats: &mut RunStats,
    on_block: &mut OnBlock<'_, E>,
) -> Result<(), E>
where
    R: Read + Send + 'static,
    E: From<FlowtupleError>,
{
    let (options, mode, geo, filter) = match pass {
        Pass::Series(o) => (Some(o), o.mode, o.geo, o.mode.filter()),
        Pass::DecodeOnly(mode) => (None, mode, GeoSource::default(), Filter::All),
    };
    let stream = unwrap_stream(input).map_err(|e| read_error(0, e))?;
    let (header, reader) = BlockReader::open(BufReader::with_capacity(1 << 20, stream))?;
    let why = format!(" (needed by mode {mode})");
    let kind = Kind::of_schema(&header.schema_json)?;
    let expected = options.map(|o| o.input);
    let layout = layout(kind, expected)?;
    if let Some(why) = options.and_then(flowtuple4::unsupported) {
        return Err(FlowtupleError::Unsupported(why.to_string()).into());
    }
    let fields = match layout {
        Layout::Flowtuple => mode.needed_fields(geo),
        Layout::Flowtuple4 { .. } => flowtuple4::needed_fields(mode, geo),
    };
    let plan = Plan::new(&header.schema_json, &fields, &why)?;
    let decoder = Decoder::new(header.codec, &plan, layout, filter);
    // Counted once handed on, so after an error they say how far it got.
    let mut counted = |block: &DecodedBlock, pos: Position| {
        on_block(block, pos)?;
        stats.blocks += 1;
        stats.records += block.total;
        stats.kept += block.records.len() as u64;
        Ok(())
    };
    if threads <= 1 {
        sequential(reader, &decoder, &mut counted)
    } else {
        let spares = BlockPool::new(SPARE_BYTES);
        parallel(reader, &decoder, threads, &spares, &mut counted)
    }
}

/// How a file of layout `kind` is decoded for a run expecting `expected`
/// (`None`: any, as the decode-only baseline).
fn layout(kind: Kind, expected: Option<Input>) -> Result<Layout, FlowtupleError> {
    match (kind, expected) {
        (Kind::Flowtuple, None | Some(Input::Flowtuple)) => Ok(Layout::Flowtuple),
        (Kind::Flowtuple4, None) => Ok(Layout::Flowtuple4 { dst_net: None }),
        (Kind::Flowtuple4, Some(Input::Flowtuple4 { dst_net })) => Ok(Layout::Flowtuple4 {
            dst_net: Some(dst_net),
        }),
        (found, Some(_)) => {
            let expected = match found {
                Kind::Flowtuple => Kind::Flowtuple4,
                Kind::Flowtuple4 => Kind::Flowtuple,
            };
            Err(FlowtupleError::WrongFormat {
                found: found.name(),
                expected: expected.name(),
            })
        }
    }
}

fn sequential<R: Read, E: From<FlowtupleError>>(
    mut reader: BlockReader<R>,
    decoder: &Decoder<'_>,
    on_block: &mut OnBlock<'_, E>,
) -> Result<(), E> {
    let mut buf = Vec::new();
    let mut block = DecodedBlock::default();
    while let Some(raw) = reader.next_block()? {
        decoder.block(&raw, &mut buf, &mut block)?;
        on_block(&block, raw.pos)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
