//! Decoding on several threads: a reader thread reads groups of blocks,
//! worker threads decode them, and the calling thread takes the decoded
//! groups in file order. Groups in flight are bounded in number and in the
//! bytes they may hold ([`IN_FLIGHT_BYTES`]).

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::block_pool::BlockPool;
use super::decoder::{Decoder, OnBlock};
use crate::flowtuple::decode::DecodedBlock;
use crate::flowtuple::error::{FlowtupleError, Position};
use crate::flowtuple::read::container::{BlockReader, RawBlock};

/// Blocks read, decoded and handed on together (fewer thread hand-offs).
pub(super) const GROUP_BLOCKS: usize = 32;
/// A group also ends once its weight (see [`Decoder::weight`]) reaches this.
const GROUP_BYTES: usize = 2 << 20;
/// Groups read and not yet aggregated may weigh this much together; a
/// group heavier than that alone is let through when nothing else is in
/// flight. With the reader's next group and one decompression buffer per
/// worker, the blocks in flight hold at most ~80 MB at `-j2` whatever the
/// file (decode-only peaks at 20 MB RSS with 16 KiB blocks, 33 MB with
/// ~4 MB ones, 43 MB on 4 MiB blocks of minimal records).
const IN_FLIGHT_BYTES: usize = 32 << 20;
/// Decoded blocks kept for reuse (see [`block_pool`]) may hold this much
/// together: what the budget lets be in flight. It comes on top of the
/// above only when the spares are too large for the blocks in flight (a
/// spare serves blocks needing half its room or more).
pub(super) const SPARE_BYTES: usize = IN_FLIGHT_BYTES;

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
    /// Group `seq` (in file order) is decoded.
    Decoded { seq: u64, decoded: Decoded },
    /// A worker unwound.
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
pub(super) fn parallel<R: Read + Send, E: From<FlowtupleError>>(
    reader: BlockReader<R>,
    decoder: &Decoder<'_>,
    workers: usize,
    spares: &BlockPool,
    on_block: &mut OnBlock<'_, E>,
) -> Result<(), E> {
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
fn in_order<E: From<FlowtupleError>>(
    events: &Receiver<Event>,
    spares: &BlockPool,
    on_block: &mut OnBlock<'_, E>,
) -> Result<(), E> {
    let mut early: BTreeMap<u64, Decoded> = BTreeMap::new();
    for seq in 0.. {
        let decoded = loop {
            if let Some(d) = early.remove(&seq) {
                break d;
            }
            match events.recv() {
                Ok(Event::Decoded { seq: s, decoded: d }) => {
                    early.insert(s, d);
                }
                Ok(Event::WorkerStopped) | Err(_) => {
                    return Err(FlowtupleError::Internal(
                        "a decoding thread stopped unexpectedly".into(),
                    )
                    .into())
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
            return Err(failure.into());
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
    spares: &BlockPool,
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
        let decoded = decode_group(decoder, raw, &mut buf);
        if events.send(Event::Decoded { seq, decoded }).is_err() {
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
