//! Spilling an interval's items to a temporary file under a memory limit.
//!
//! When the items of the interval being read would pass the limit, every
//! bucket is sorted by value on all threads, identical items collapsed
//! (source and destination items count once; ASN items of one value and
//! keys are summed, see [`super::wire`]), and appended to the interval's
//! temporary file as one compact sorted run per bucket. When the interval
//! closes, each bucket's runs and its items still in memory are merged by
//! value and counted by the same scan as an unspilled bucket, so the
//! counts are the same.
//!
//! The file is created unlinked ([`tempfile::tempfile_in`]): it has no
//! name, and goes when the process does, however it ends.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::cpu::on_threads;
use super::items::{Bucket, Pass, Valued, BUCKETS};
use super::sort::sort_bucket;
use super::wire::{Spillable, Wire};
use crate::flowtuple::error::FlowtupleError;

/// What a merge hands its items to: a chunk of them, and the value of the
/// item before the chunk (`None` for the first).
pub(super) type Scan<'a, D> = dyn FnMut(&[D], Option<u32>) + 'a;

/// A sorted run in the file: its offset, bytes and items.
#[derive(Debug, Clone, Copy)]
pub(super) struct Run {
    pub(super) offset: u64,
    pub(super) bytes: u64,
    pub(super) items: u64,
}

/// An interval's temporary file and the runs in it.
pub(super) struct Spill {
    file: File,
    dir: PathBuf,
    /// Bytes written (runs are placed one after the other).
    len: AtomicU64,
    /// Per pass (sources, destinations, ASNs, sources with ASNs), per
    /// bucket, in the order written.
    runs: [Vec<Vec<Run>>; Pass::ALL.len()],
}

/// The errno values that mean the disk (or the file) is full.
const ENOSPC: i32 = 28;
const EFBIG: i32 = 27;

impl Spill {
    /// A new temporary file in `dir`.
    pub(super) fn new(dir: &Path) -> Result<Spill, FlowtupleError> {
        let file = tempfile::tempfile_in(dir).map_err(|error| FlowtupleError::Spill {
            dir: dir.to_path_buf(),
            what: "cannot create a temporary file",
            error,
        })?;
        Ok(Spill {
            file,
            dir: dir.to_path_buf(),
            len: AtomicU64::new(0),
            runs: std::array::from_fn(|_| (0..BUCKETS).map(|_| Vec::new()).collect()),
        })
    }

    /// Bytes written so far.
    pub(super) fn bytes(&self) -> u64 {
        self.len.load(Ordering::Relaxed)
    }

    /// Sorts the buckets of `pass` on `threads` threads and appends each as
    /// a run, leaving them empty, with their chunks kept for the next
    /// items if `recycle` (see [`Bucket::recycle`]), else freed; `needed`
    /// is the most bytes the whole spill writes (for the message when the
    /// disk is full).
    pub(super) fn write<T: Spillable>(
        &mut self,
        pass: Pass,
        buckets: &mut [Bucket<T>],
        needed: u64,
        threads: usize,
        recycle: bool,
    ) -> Result<(), FlowtupleError> {
        let mut work: Vec<(usize, Bucket<T>)> = buckets
            .iter_mut()
            .enumerate()
            .filter(|(_, b)| b.bytes() > 0)
            .map(|(b, bucket)| (b, std::mem::take(bucket)))
            .collect();
        // Popped from the end: the biggest first.
        work.sort_by_key(|(_, b)| b.bytes());
        let queue = Mutex::new(work);
        let this = &*self;
        let parts = on_threads(threads, || this.write_buckets(&queue, needed, recycle));
        let mut runs = Vec::new();
        for part in parts {
            runs.extend(part?);
        }
        for (b, run, emptied) in runs {
            self.runs[pass.index()][b].push(run);
            if let Some(emptied) = emptied {
                buckets[b] = emptied;
            }
        }
        Ok(())
    }

    /// One thread's share of [`Spill::write`]: the runs it wrote, by
    /// bucket, and the buckets emptied if `recycle`.
    #[allow(clippy::type_complexity)]
    fn write_buckets<T: Spillable>(
        &self,
        queue: &Mutex<Vec<(usize, Bucket<T>)>>,
        needed: u64,
        recycle: bool,
    ) -> Result<Vec<(usize, Run, Option<Bucket<T>>)>, FlowtupleError> {
        let (mut out, mut work, mut kept, mut buf) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut scratch = T::Scratch::default();
        let mut runs = Vec::new();
        loop {
            let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some((b, mut bucket)) = next else {
                return Ok(runs);
            };
            let len = sort_bucket(&bucket, &mut out, &mut work).len();
            // Sorted: the chunks are free (before the run is encoded).
            let emptied = if recycle {
                bucket.recycle();
                Some(bucket)
            } else {
                drop(bucket);
                None
            };
            let items = &mut out[..len];
            buf.clear();
            let (mut at, mut prev, mut n) = (0, 0, 0u64);
            while at < items.len() {
                let value = items[at].value();
                let mut end = at + 1;
                while end < items.len() && items[end].value() == value {
                    end += 1;
                }
                kept.clear();
                T::collapse(&mut items[at..end], &mut kept, &mut scratch);
                // Room for the group at once: the varints push a byte at a
                // time (see `wire::varint`).
                buf.reserve(kept.len() * T::Disk::MAX_BYTES);
                for item in &kept {
                    item.encode(prev, &mut buf);
                    prev = value;
                }
                n += kept.len() as u64;
                at = end;
            }
            let bytes = buf.len() as u64;
            let offset = self.append(&buf, needed)?;
            runs.push((
                b,
                Run {
                    offset,
                    bytes,
                    items: n,
                },
                emptied,
            ));
        }
    }

    /// Appends `bytes` to the file (from any thread) and returns their
    /// offset; `needed` is for the message when the disk is full.
    pub(super) fn append(&self, bytes: &[u8], needed: u64) -> Result<u64, FlowtupleError> {
        let offset = self.len.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.file
            .write_all_at(bytes, offset)
            .map_err(|error| self.failed(error, needed))?;
        Ok(offset)
    }

    /// Reads `buf.len()` bytes written at `offset` back.
    pub(super) fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<(), FlowtupleError> {
        self.file
            .read_exact_at(buf, offset)
            .map_err(|error| FlowtupleError::Spill {
                dir: self.dir.clone(),
                what: "cannot read back a temporary file",
                error,
            })
    }

    /// The error of a temporary file that does not read back as written.
    pub(super) fn corrupt(&self) -> FlowtupleError {
        FlowtupleError::Spill {
            dir: self.dir.clone(),
            what: "a temporary file does not read back as written",
            error: std::io::Error::from(std::io::ErrorKind::InvalidData),
        }
    }

    fn failed(&self, error: std::io::Error, needed: u64) -> FlowtupleError {
        let dir = self.dir.clone();
        match error.raw_os_error() {
            Some(ENOSPC) | Some(EFBIG) => FlowtupleError::SpillFull {
                dir,
                needed,
                written: self.bytes(),
            },
            _ => FlowtupleError::Spill {
                dir,
                what: "cannot write a temporary file",
                error,
            },
        }
    }

    /// Whether bucket `b` of `pass` has runs on disk.
    pub(super) fn has_runs(&self, pass: Pass, b: usize) -> bool {
        !self.runs[pass.index()][b].is_empty()
    }

    /// Merges bucket `b` of `pass`'s runs with `memory` (sorted) by value,
    /// handing the items to `scan` in chunks, each with the value before it
    /// (`None` for the first). Items of one value come in the order their
    /// runs were written, those in memory last.
    pub(super) fn merge<T: Spillable>(
        &self,
        pass: Pass,
        b: usize,
        memory: &[T],
        scan: &mut Scan<'_, T::Disk>,
    ) -> Result<(), FlowtupleError> {
        let mut sources: Vec<Source<'_, T>> = self.runs[pass.index()][b]
            .iter()
            .map(|&run| Source::disk(self, run))
            .collect();
        sources.push(Source::memory(memory));
        for s in &mut sources {
            s.fill()?;
        }
        let mut chunk: Vec<T::Disk> = Vec::with_capacity(CHUNK);
        let mut prev = None;
        loop {
            // The source with the least next value (the first on a tie),
            // and the least next value of the others: take from the first
            // while it is below that.
            let mut best: Option<(u32, usize)> = None;
            let mut next: Option<(u32, usize)> = None;
            for (i, s) in sources.iter().enumerate() {
                let Some(v) = s.peek() else { continue };
                if best.is_none_or(|(bv, _)| v < bv) {
                    next = best;
                    best = Some((v, i));
                } else if next.is_none_or(|(nv, _)| v < nv) {
                    next = Some((v, i));
                }
            }
            let Some((_, i)) = best else { break };
            // Values up to `bound` are taken (on a tie, an earlier source
            // goes first).
            let bound = match next {
                None => u64::MAX,
                Some((nv, ni)) if ni > i => u64::from(nv),
                Some((nv, _)) => u64::from(nv).saturating_sub(1),
            };
            let source = &mut sources[i];
            loop {
                let ready = &source.items[source.at..];
                let n = ready
                    .iter()
                    .position(|item| u64::from(item.value()) > bound)
                    .unwrap_or(ready.len())
                    .min(CHUNK - chunk.len());
                chunk.extend_from_slice(&ready[..n]);
                source.at += n;
                if chunk.len() == CHUNK {
                    scan(&chunk, prev);
                    prev = chunk.last().map(Valued::value);
                    chunk.clear();
                }
                source.fill()?;
                if source.peek().is_none_or(|v| u64::from(v) > bound) {
                    break;
                }
            }
        }
        if !chunk.is_empty() {
            scan(&chunk, prev);
        }
        Ok(())
    }
}

/// Items handed to a scan at once while merging (few in tests, so that
/// values straddle chunks and reads).
#[cfg(not(test))]
const CHUNK: usize = 4096;
#[cfg(test)]
const CHUNK: usize = 5;

/// Bytes of a run read from disk at once.
#[cfg(not(test))]
const READ_BYTES: usize = 1 << 16;
#[cfg(test)]
const READ_BYTES: usize = 7;

/// Items in memory converted at once.
#[cfg(not(test))]
const CONVERT: usize = 4096;
#[cfg(test)]
const CONVERT: usize = 3;

/// The unread part of a run in a [`Spill`], read a piece at a time and
/// decoded by the caller.
pub(super) struct RunReader<'a> {
    spill: &'a Spill,
    /// The next unread byte, bytes and items left to read.
    offset: u64,
    bytes_left: u64,
    items_left: u64,
    /// Bytes read and not yet decoded, from `used` on.
    buf: Vec<u8>,
    used: usize,
}

impl<'a> RunReader<'a> {
    pub(super) fn new(spill: &'a Spill, run: Run) -> RunReader<'a> {
        RunReader {
            spill,
            offset: run.offset,
            bytes_left: run.bytes,
            items_left: run.items,
            buf: Vec::new(),
            used: 0,
        }
    }

    /// Appends to `out` up to `max` more items (at least one, unless the
    /// run is done), decoded by `decode` from at most `item_bytes` bytes
    /// each; reads `read_bytes` at a time.
    pub(super) fn read<T>(
        &mut self,
        out: &mut Vec<T>,
        max: usize,
        (item_bytes, read_bytes): (usize, usize),
        mut decode: impl FnMut(&[u8], &mut usize) -> Option<T>,
    ) -> Result<(), FlowtupleError> {
        let start = out.len();
        while out.len() == start && self.items_left > 0 {
            // Bytes enough for a whole item, unless the run ends first.
            if self.buf.len() - self.used < item_bytes && self.bytes_left > 0 {
                self.buf.drain(..self.used);
                self.used = 0;
                let want = (read_bytes.max(item_bytes) as u64).min(self.bytes_left);
                let have = self.buf.len();
                self.buf.resize(have + want as usize, 0);
                self.spill.read_at(&mut self.buf[have..], self.offset)?;
                self.offset += want;
                self.bytes_left -= want;
            }
            while self.items_left > 0
                && out.len() - start < max
                && (self.buf.len() - self.used >= item_bytes || self.bytes_left == 0)
            {
                let item = decode(&self.buf, &mut self.used).ok_or_else(|| self.spill.corrupt())?;
                out.push(item);
                self.items_left -= 1;
            }
            if out.len() == start && self.bytes_left == 0 && self.items_left > 0 {
                return Err(self.spill.corrupt());
            }
        }
        Ok(())
    }
}

/// One sorted input of a merge: a run on disk, read a piece at a time, or
/// the bucket's items in memory; either way its next items are ready in
/// `items`, from `at` on.
struct Source<'a, T: Spillable> {
    items: Vec<T::Disk>,
    at: usize,
    from: Origin<'a, T>,
}

/// Where a [`Source`]'s items come from.
enum Origin<'a, T: Spillable> {
    /// A run, and the value of the last item decoded.
    Disk(RunReader<'a>, u32),
    Memory(&'a [T]),
}

impl<'a, T: Spillable> Source<'a, T> {
    fn disk(spill: &'a Spill, run: Run) -> Self {
        Source {
            items: Vec::new(),
            at: 0,
            from: Origin::Disk(RunReader::new(spill, run), 0),
        }
    }

    fn memory(memory: &'a [T]) -> Self {
        Source {
            items: Vec::new(),
            at: 0,
            from: Origin::Memory(memory),
        }
    }

    /// The value of the next item, if any (after [`Source::fill`]).
    #[inline]
    fn peek(&self) -> Option<u32> {
        self.items.get(self.at).map(Valued::value)
    }

    /// Makes more items ready when every ready one was taken.
    #[inline]
    fn fill(&mut self) -> Result<(), FlowtupleError> {
        if self.at < self.items.len() {
            return Ok(());
        }
        self.items.clear();
        self.at = 0;
        match &mut self.from {
            Origin::Memory(memory) => {
                let n = memory.len().min(CONVERT);
                self.items
                    .extend(memory[..n].iter().map(|&i| T::Disk::from(i)));
                *memory = &memory[n..];
                Ok(())
            }
            Origin::Disk(run, last) => {
                let sizes = (T::Disk::MAX_BYTES, READ_BYTES);
                run.read(&mut self.items, usize::MAX, sizes, |buf, at| {
                    let item = T::Disk::decode(buf, at, *last)?;
                    *last = item.value();
                    Some(item)
                })
            }
        }
    }
}
