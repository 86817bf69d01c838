//! Spilling an interval's items to a temporary file under a memory limit.
//!
//! When the items of the interval being read would pass the limit, every
//! bucket is sorted by value (identical source and destination items, which
//! count once, collapsed) and appended to the interval's temporary file as
//! one sorted run per bucket. When the interval closes, each bucket's runs
//! and its items still in memory are merged by value and counted by the
//! same scan as an unspilled bucket, so the counts are the same.
//!
//! The file is created unlinked ([`tempfile::tempfile_in`]): it has no
//! name, and goes when the process does, however it ends.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::items::{Bucket, Valued, BUCKETS};
use super::sort::sort_bucket;
use crate::flowtuple::error::FlowtupleError;

/// Where a bucket's sorted runs lie in the file: (offset, items).
type Runs = Vec<(u64, u64)>;

/// An interval's temporary file and the runs in it.
pub(super) struct Spill {
    file: File,
    dir: PathBuf,
    /// Bytes written.
    len: u64,
    /// Per pass (sources, destinations, ASNs), per bucket.
    runs: [Vec<Runs>; 3],
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
            len: 0,
            runs: std::array::from_fn(|_| (0..BUCKETS).map(|_| Vec::new()).collect()),
        })
    }

    /// Bytes written so far.
    pub(super) fn bytes(&self) -> u64 {
        self.len
    }

    /// Sorts the buckets of `pass` and appends them as runs, leaving them
    /// empty; `needed` is the most bytes the whole spill writes (for the
    /// message when the disk is full).
    pub(super) fn write<T: Valued>(
        &mut self,
        pass: usize,
        buckets: &mut [Bucket<T>],
        needed: u64,
    ) -> Result<(), FlowtupleError> {
        let (mut out, mut work, mut buf) = (Vec::new(), Vec::new(), Vec::new());
        for (b, bucket) in buckets.iter_mut().enumerate() {
            let bucket = std::mem::take(bucket);
            if bucket.bytes() == 0 {
                continue;
            }
            let len = sort_bucket(bucket, &mut out, &mut work).len();
            let items = &mut out[..len];
            buf.clear();
            let mut n = 0u64;
            let mut at = 0;
            while at < items.len() {
                let value = items[at].value();
                let end = at + items[at..].partition_point(|i| i.value() == value);
                let group = &mut items[at..end];
                if T::COLLAPSES && group.len() > 1 {
                    group.sort_unstable_by(|a, b| a.keys().cmp(b.keys()));
                }
                for (i, item) in group.iter().enumerate() {
                    if T::COLLAPSES && i > 0 && group[i - 1].keys() == item.keys() {
                        continue;
                    }
                    item.encode(&mut buf);
                    n += 1;
                }
                at = end;
            }
            self.file
                .write_all(&buf)
                .map_err(|error| self.failed(error, needed))?;
            self.runs[pass][b].push((self.len, n));
            self.len += buf.len() as u64;
        }
        Ok(())
    }

    fn failed(&self, error: std::io::Error, needed: u64) -> FlowtupleError {
        let dir = self.dir.clone();
        match error.raw_os_error() {
            Some(ENOSPC) | Some(EFBIG) => FlowtupleError::SpillFull {
                dir,
                needed,
                written: self.len,
            },
            _ => FlowtupleError::Spill {
                dir,
                what: "cannot write a temporary file",
                error,
            },
        }
    }

    /// Whether bucket `b` of `pass` has runs on disk.
    pub(super) fn has_runs(&self, pass: usize, b: usize) -> bool {
        !self.runs[pass][b].is_empty()
    }

    /// Merges bucket `b` of `pass`'s runs with `memory` (sorted) by value,
    /// handing the items to `scan` in chunks, each with the value before it
    /// (`None` for the first).
    pub(super) fn merge<T: Valued>(
        &self,
        pass: usize,
        b: usize,
        memory: &[T],
        scan: &mut dyn FnMut(&[T], Option<u32>),
    ) -> Result<(), FlowtupleError> {
        let mut sources: Vec<Source<'_, T>> = self.runs[pass][b]
            .iter()
            .map(|&(offset, items)| Source::disk(&self.file, offset, items))
            .collect();
        sources.push(Source::memory(memory));
        let mut heap = BinaryHeap::new();
        for (i, s) in sources.iter_mut().enumerate() {
            if let Some(v) = s.peek(&self.dir)? {
                heap.push(Reverse((v, i)));
            }
        }
        let mut chunk: Vec<T> = Vec::with_capacity(CHUNK);
        let mut prev = None;
        while let Some(Reverse((_, i))) = heap.pop() {
            let source = &mut sources[i];
            chunk.push(source.take());
            if let Some(v) = source.peek(&self.dir)? {
                heap.push(Reverse((v, i)));
            }
            if chunk.len() == CHUNK {
                scan(&chunk, prev);
                prev = chunk.last().map(T::value);
                chunk.clear();
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

/// Items of a run read from disk at once.
#[cfg(not(test))]
const READ_ITEMS: u64 = 8192;
#[cfg(test)]
const READ_ITEMS: u64 = 3;

/// One sorted input of a merge.
struct Source<'a, T> {
    file: Option<&'a File>,
    /// Disk: the next unread byte and items left to read.
    offset: u64,
    left: u64,
    items: Vec<T>,
    memory: &'a [T],
    at: usize,
    buf: Vec<u8>,
}

impl<'a, T: Valued> Source<'a, T> {
    fn disk(file: &'a File, offset: u64, items: u64) -> Self {
        Source {
            file: Some(file),
            offset,
            left: items,
            items: Vec::new(),
            memory: &[],
            at: 0,
            buf: Vec::new(),
        }
    }

    fn memory(memory: &'a [T]) -> Self {
        Source {
            file: None,
            offset: 0,
            left: 0,
            items: Vec::new(),
            memory,
            at: 0,
            buf: Vec::new(),
        }
    }

    fn current(&self) -> &[T] {
        if self.file.is_some() {
            &self.items
        } else {
            self.memory
        }
    }

    /// The value of the next item, reading more of the run if needed.
    fn peek(&mut self, dir: &Path) -> Result<Option<u32>, FlowtupleError> {
        if self.at == self.current().len() {
            let Some(file) = self.file.filter(|_| self.left > 0) else {
                return Ok(None);
            };
            let n = self.left.min(READ_ITEMS);
            self.buf.resize(n as usize * T::BYTES, 0);
            file.read_exact_at(&mut self.buf, self.offset)
                .map_err(|error| FlowtupleError::Spill {
                    dir: dir.to_path_buf(),
                    what: "cannot read back a temporary file",
                    error,
                })?;
            self.items.clear();
            self.items
                .extend(self.buf.chunks_exact(T::BYTES).map(T::decode));
            self.offset += self.buf.len() as u64;
            self.left -= n;
            self.at = 0;
        }
        Ok(Some(self.current()[self.at].value()))
    }

    /// The next item (after [`Source::peek`] found one).
    fn take(&mut self) -> T {
        let item = self.current()[self.at];
        self.at += 1;
        item
    }
}
