//! read → decompress/decode/filter (in parallel, in groups of blocks) →
//! aggregate (in file order). Groups in flight are bounded in number and in
//! the bytes they may hold ([`IN_FLIGHT_BYTES`]), so memory is too.
//!
//! With several threads: a reader thread reads groups of blocks; worker
//! threads decode groups; the calling thread takes the decoded groups in
//! file order and aggregates them ([`Aggregator`]), which counts distinct
//! values of a complete interval on several threads.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::aggregate::Aggregator;
use super::decode::{decode_block, min_record_bytes, DecodedBlock, Run};
use super::error::{FlowtupleError, Position};
use super::filter::Filter;
use super::ft4;
use super::options::{GeoSource, Input, Mode, SeriesOptions};
use super::read::codec::{decompress, Codec, MAX_BLOCK_BYTES};
use super::read::container::{read_error, BlockReader, RawBlock};
use super::read::input::unwrap_stream;
use super::record::FlowRecord;
use super::schema::{Kind, Plan};
use super::series::IntervalSeries;

mod spares;
use spares::Spares;

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
pub fn series<R, E>(
    input: R,
    options: &SeriesOptions,
    threads: usize,
    emit: E,
) -> Result<RunStats, FlowtupleError>
where
    R: Read + Send + 'static,
    E: FnMut(IntervalSeries) -> Result<(), FlowtupleError>,
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
pub fn series_counted<R, E>(
    input: R,
    options: &SeriesOptions,
    threads: usize,
    stats: &mut RunStats,
    seen: &AtomicU64,
    mut emit: E,
) -> Result<(), FlowtupleError>
where
    R: Read + Send + 'static,
    E: FnMut(IntervalSeries) -> Result<(), FlowtupleError>,
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
pub fn feed<R, E>(
    input: R,
    options: &SeriesOptions,
    threads: usize,
    aggregator: &mut Aggregator,
    mut emit: E,
) -> Result<RunStats, FlowtupleError>
where
    R: Read + Send + 'static,
    E: FnMut(IntervalSeries) -> Result<(), FlowtupleError>,
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
    drive(input, pass, threads, &mut stats, &mut |_, _| Ok(()))?;
    Ok(stats)
}

/// Blocks read, decoded and handed on together (fewer thread hand-offs).
const GROUP_BLOCKS: usize = 32;
/// A group also ends once its weight (see [`Decoder::weight`]) reaches this.
const GROUP_BYTES: usize = 2 << 20;
/// Groups read and not yet aggregated may weigh this much together; a
/// group heavier than that alone is let through when nothing else is in
/// flight. With the reader's next group and one decompression buffer per
/// worker, the blocks in flight hold at most ~80 MB at `-j2` whatever the
/// file (decode-only peaks at 20 MB RSS with 16 KiB blocks, 33 MB with
/// ~4 MB ones, 43 MB on 4 MiB blocks of minimal records).
const IN_FLIGHT_BYTES: usize = 32 << 20;
/// Decoded blocks kept for reuse (see [`spares`]) may hold this much
/// together: what the budget lets be in flight. It comes on top of the
/// above only when the spares are too large for the blocks in flight (a
/// spare serves blocks needing half its room or more).
const SPARE_BYTES: usize = IN_FLIGHT_BYTES;

/// Receives each decoded block, in file order.
type OnBlock<'a> = dyn FnMut(&DecodedBlock, Position) -> Result<(), FlowtupleError> + 'a;

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
fn drive<R>(
    input: R,
    pass: Pass<'_>,
    threads: usize,
    stats: &mut RunStats,
    on_block: &mut OnBlock<'_>,
) -> Result<(), FlowtupleError>
where
    R: Read + Send + 'static,
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
    let flowtuple4 = match (kind, expected) {
        (Kind::Flowtuple, None | Some(Input::Flowtuple)) => None,
        (Kind::Flowtuple4, None) => Some(None),
        (Kind::Flowtuple4, Some(Input::Flowtuple4 { dst_net })) => Some(Some(dst_net)),
        (found, Some(_)) => {
            let expected = match found {
                Kind::Flowtuple => Kind::Flowtuple4,
                Kind::Flowtuple4 => Kind::Flowtuple,
            };
            return Err(FlowtupleError::WrongFormat {
                found: found.name(),
                expected: expected.name(),
            });
        }
    };
    if let Some(why) = options.and_then(ft4::unsupported) {
        return Err(FlowtupleError::Unsupported(why));
    }
    let fields = match flowtuple4 {
        None => mode.needed_fields(geo),
        Some(_) => ft4::needed_fields(mode, geo),
    };
    let plan = Plan::new(&header.schema_json, &fields, &why)?;
    let decoder = Decoder::new(header.codec, &plan, flowtuple4, filter);
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
        let spares = Spares::new(SPARE_BYTES);
        parallel(reader, &decoder, threads, &spares, &mut counted)
    }
}

/// Decompresses and decodes raw blocks.
struct Decoder<'a> {
    codec: Codec,
    plan: &'a Plan,
    /// flowtuple4 input, with the stated `dst_net` prefix length if any.
    flowtuple4: Option<Option<u8>>,
    filter: Filter,
    /// The fewest bytes a record takes.
    min_record_bytes: usize,
}

impl<'a> Decoder<'a> {
    fn new(
        codec: Codec,
        plan: &'a Plan,
        flowtuple4: Option<Option<u8>>,
        filter: Filter,
    ) -> Decoder<'a> {
        Decoder {
            codec,
            plan,
            flowtuple4,
            filter,
            min_record_bytes: min_record_bytes(plan),
        }
    }

    /// The most records a block of `bytes` uncompressed bytes can hold.
    fn fit(&self, bytes: usize) -> u64 {
        (bytes / self.min_record_bytes) as u64
    }

    /// The most records `raw` may decode to: as many as it claims and a
    /// block can hold.
    fn records(&self, raw: &RawBlock) -> usize {
        raw.count.min(self.fit(MAX_BLOCK_BYTES)) as usize
    }

    /// An upper bound on the bytes `raw` holds until it is aggregated: its
    /// data, and its records once decoded (a run each at most).
    fn weight(&self, raw: &RawBlock) -> usize {
        let record = std::mem::size_of::<FlowRecord>() + std::mem::size_of::<Run>();
        raw.data.len() + self.records(raw) * record
    }

    /// Decompresses and decodes `raw` into `block` (its buffers reused),
    /// with `buf` as the decompression buffer.
    fn block(
        &self,
        raw: &RawBlock,
        buf: &mut Vec<u8>,
        block: &mut DecodedBlock,
    ) -> Result<(), FlowtupleError> {
        let corrupt = |what: String| FlowtupleError::Corrupt { at: raw.pos, what };
        let cannot_fit = |bytes: usize| {
            corrupt(format!(
                "the block claims {} records, but {bytes} bytes hold at most {} (a record takes at least {} bytes)",
                raw.count,
                self.fit(bytes),
                self.min_record_bytes
            ))
        };
        // Checked before decompressing, against the most a block may hold,
        // then against what it holds.
        if raw.count > self.fit(MAX_BLOCK_BYTES) {
            return Err(cannot_fit(MAX_BLOCK_BYTES));
        }
        let data = decompress(self.codec, &raw.data, buf).map_err(corrupt)?;
        if raw.count > self.fit(data.len()) {
            return Err(cannot_fit(data.len()));
        }
        decode_block(self.plan, self.filter, data, raw.count, block).map_err(corrupt)?;
        if let Some(dst_net) = self.flowtuple4 {
            ft4::finish_block(block, dst_net)
                .map_err(|what| FlowtupleError::DstNet { at: raw.pos, what })?;
        }
        Ok(())
    }
}

fn sequential<R: Read>(
    mut reader: BlockReader<R>,
    decoder: &Decoder<'_>,
    on_block: &mut OnBlock<'_>,
) -> Result<(), FlowtupleError> {
    let mut buf = Vec::new();
    let mut block = DecodedBlock::default();
    while let Some(raw) = reader.next_block()? {
        decoder.block(&raw, &mut buf, &mut block)?;
        on_block(&block, raw.pos)?;
    }
    Ok(())
}

/// What is in flight: groups read and not yet dropped, and their weight.
#[derive(Default)]
struct InFlight {
    groups: usize,
    bytes: usize,
    stop: bool,
}

/// The in-flight budget the reader waits on.
#[derive(Default)]
struct Budget {
    state: Mutex<InFlight>,
    freed: Condvar,
}

impl Budget {
    fn lock(&self) -> MutexGuard<'_, InFlight> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a group of `bytes` fits (at most `groups` groups and
    /// [`IN_FLIGHT_BYTES`], or nothing else in flight) and takes its share;
    /// `None` once the run stops.
    fn take(self: &Arc<Self>, groups: usize, bytes: usize) -> Option<Permit> {
        let mut s = self.lock();
        loop {
            if s.stop {
                return None;
            }
            if s.groups == 0 || (s.groups < groups && s.bytes + bytes <= IN_FLIGHT_BYTES) {
                s.groups += 1;
                s.bytes += bytes;
                return Some(Permit {
                    budget: Arc::clone(self),
                    bytes,
                });
            }
            s = self.freed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.freed.notify_all();
    }
}

/// A group's share of the in-flight budget, given back when the group is
/// dropped (once aggregated, or when the run stops).
struct Permit {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut s = self.budget.lock();
        s.groups -= 1;
        s.bytes -= self.bytes;
        drop(s);
        self.budget.freed.notify_all();
    }
}

/// Consecutive raw blocks, and how the stream went on after them.
struct RawGroup {
    seq: u64,
    blocks: Vec<RawBlock>,
    /// A block to decode each raw block into, taken by the reader thread.
    into: Vec<DecodedBlock>,
    /// `Some` when the stream ended after these blocks: cleanly, or with
    /// this read error.
    end: Option<Result<(), FlowtupleError>>,
    permit: Permit,
}

/// The decoded blocks of a group, up to the first that failed.
struct Group {
    blocks: Vec<(DecodedBlock, Position)>,
    permit: Permit,
}

/// A decoded group and what came after its blocks.
struct Decoded {
    group: Group,
    /// A bad block or a read error that ended the group early.
    failure: Option<FlowtupleError>,
    /// The stream ends (or fails) after this group.
    last: bool,
}

/// What the workers report to the calling thread.
enum Event {
    Decoded(u64, Decoded),
    WorkerStopped,
}

/// The work queue, under one lock.
#[derive(Default)]
struct Queues {
    raw: VecDeque<RawGroup>,
    stop: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    wake: Condvar,
    budget: Arc<Budget>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops the reader and the workers and drops queued work.
    fn stop(&self) {
        let mut q = self.lock();
        q.stop = true;
        q.raw.clear();
        drop(q);
        self.wake.notify_all();
        self.budget.stop();
    }
}

/// Stops everything when the calling thread leaves, by any path.
struct StopOnDrop<'a>(&'a Shared);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Tells the calling thread when a worker unwinds.
struct ReportPanic(Sender<Event>);

impl Drop for ReportPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.0.send(Event::WorkerStopped);
        }
    }
}

/// Decodes on `workers` threads into blocks taken from `spares`, given back
/// to it once `on_block` has had them.
fn parallel<R: Read + Send>(
    reader: BlockReader<R>,
    decoder: &Decoder<'_>,
    workers: usize,
    spares: &Spares,
    on_block: &mut OnBlock<'_>,
) -> Result<(), FlowtupleError> {
    let shared = Shared {
        queues: Mutex::new(Queues::default()),
        wake: Condvar::new(),
        budget: Arc::default(),
    };
    std::thread::scope(|scope| {
        let _stop = StopOnDrop(&shared);
        let (event_tx, event_rx) = channel::<Event>();
        let shared = &shared;
        scope.spawn(move || read_groups(reader, decoder, shared, spares, workers * 4));
        for _ in 0..workers {
            let events = event_tx.clone();
            scope.spawn(move || work(decoder, shared, events));
        }
        drop(event_tx);
        in_order(&event_rx, spares, on_block)
    })
}

/// Hands the decoded groups' blocks to `on_block` in file order, then to
/// `spares`.
fn in_order(
    events: &Receiver<Event>,
    spares: &Spares,
    on_block: &mut OnBlock<'_>,
) -> Result<(), FlowtupleError> {
    let mut early: BTreeMap<u64, Decoded> = BTreeMap::new();
    for seq in 0.. {
        let decoded = loop {
            if let Some(d) = early.remove(&seq) {
                break d;
            }
            match events.recv() {
                Ok(Event::Decoded(s, d)) => {
                    early.insert(s, d);
                }
                Ok(Event::WorkerStopped) | Err(_) => {
                    return Err(FlowtupleError::Internal(
                        "a decoding thread stopped unexpectedly".into(),
                    ))
                }
            }
        };
        let Group { blocks, permit } = decoded.group;
        for (block, pos) in &blocks {
            on_block(block, *pos)?;
        }
        // Given back before the budget lets the next group in.
        spares.give(blocks.into_iter().map(|(block, _)| block));
        drop(permit);
        if let Some(failure) = decoded.failure {
            return Err(failure);
        }
        if decoded.last {
            break;
        }
    }
    Ok(())
}

/// The reader thread: groups of raw blocks, each let through once the
/// in-flight budget has room for it (at most `groups` groups), with the
/// blocks to decode them into taken from `spares`. Taken (and allocated
/// when new) on this one thread, the decoded blocks all come from its malloc
/// arena, which then serves them again however many workers decode.
fn read_groups<R: Read>(
    mut reader: BlockReader<R>,
    decoder: &Decoder<'_>,
    shared: &Shared,
    spares: &Spares,
    groups: usize,
) {
    let mut seq = 0;
    loop {
        let mut blocks = Vec::new();
        let mut bytes = 0;
        let mut end = None;
        while blocks.len() < GROUP_BLOCKS && bytes < GROUP_BYTES {
            match reader.next_block() {
                Ok(Some(raw)) => {
                    bytes += decoder.weight(&raw);
                    blocks.push(raw);
                }
                Ok(None) => {
                    end = Some(Ok(()));
                    break;
                }
                Err(e) => {
                    end = Some(Err(e));
                    break;
                }
            }
        }
        let last = end.is_some();
        let Some(permit) = shared.budget.take(groups, bytes) else {
            return;
        };
        let into = blocks
            .iter()
            .map(|raw| spares.take(decoder.records(raw)))
            .collect();
        let group = RawGroup {
            seq,
            blocks,
            into,
            end,
            permit,
        };
        let mut q = shared.lock();
        if q.stop {
            return;
        }
        q.raw.push_back(group);
        drop(q);
        shared.wake.notify_all();
        if last {
            return;
        }
        seq += 1;
    }
}

/// A worker thread: decodes groups until told to stop.
fn work(decoder: &Decoder<'_>, shared: &Shared, events: Sender<Event>) {
    let _report = ReportPanic(events.clone());
    let mut buf = Vec::new();
    loop {
        let raw = {
            let mut q = shared.lock();
            loop {
                if q.stop {
                    return;
                }
                if let Some(raw) = q.raw.pop_front() {
                    break raw;
                }
                q = shared.wake.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        let seq = raw.seq;
        if events
            .send(Event::Decoded(seq, decode_group(decoder, raw, &mut buf)))
            .is_err()
        {
            return;
        }
    }
}

fn decode_group(decoder: &Decoder<'_>, raw: RawGroup, buf: &mut Vec<u8>) -> Decoded {
    let mut blocks = Vec::with_capacity(raw.blocks.len());
    let mut failure = None;
    for (block, mut decoded) in raw.blocks.iter().zip(raw.into) {
        match decoder.block(block, buf, &mut decoded) {
            Ok(()) => blocks.push((decoded, block.pos)),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let last = raw.end.is_some() || failure.is_some();
    if failure.is_none() {
        failure = raw.end.and_then(Result::err);
    }
    Decoded {
        group: Group {
            blocks,
            permit: raw.permit,
        },
        failure,
        last,
    }
}

#[cfg(test)]
mod tests;
