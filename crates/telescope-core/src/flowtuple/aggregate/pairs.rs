//! First-ASN pairs, under report rules with `prefixagg` sources: the
//! (series slot, ASN) of each source aggregate's first record in a series,
//! counted distinct per slot.
//!
//! Each counting thread collects its pairs in a vector of bounded size,
//! deduplicated as it fills ([`Pairs`]). Under a memory limit, a vector
//! still three quarters full after that goes to a temporary file as a
//! sorted run ([`PairFile`]), so pairs take at most their share of the
//! limit however many distinct ones there are. At the end the threads'
//! vectors and runs are merged and each distinct pair counted once
//! ([`FirstAsns::count`]).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::sync::Mutex;

use super::spill::{Run, RunReader, Spill};
use super::wire::{read_varint, varint};
use crate::flowtuple::error::FlowtupleError;

/// The slot of the summary among (slot, ASN) pairs.
pub(super) const SUMMARY: u32 = u32::MAX;

/// Pairs a thread holds before they are first deduplicated.
#[cfg(not(test))]
const FIRST_CAPACITY: usize = 1 << 20;
#[cfg(test)]
const FIRST_CAPACITY: usize = 16;

/// The fewest pairs a thread may hold, whatever its budget.
const LEAST_CAPACITY: usize = 64;

/// Bytes of a run read from disk at once.
#[cfg(not(test))]
const READ_BYTES: usize = 1 << 15;
#[cfg(test)]
const READ_BYTES: usize = 7;

/// The most bytes of one pair on disk (a varint of 64 bits).
const PAIR_BYTES: usize = 10;

/// Bytes of a run encoded before they are written.
#[cfg(not(test))]
const WRITE_BYTES: usize = 1 << 16;
#[cfg(test)]
const WRITE_BYTES: usize = 5;

/// Pairs of a run decoded at once.
#[cfg(not(test))]
const DECODE_PAIRS: usize = 4096;
#[cfg(test)]
const DECODE_PAIRS: usize = 3;

/// Per series slot and for the summary, the number of distinct ASNs that
/// count ([`crate::flowtuple::report::rules::counts_asn`]) among the ASNs of the
/// first record of each source aggregate.
#[derive(Default)]
pub(super) struct FirstAsns {
    pub(super) slots: Vec<u64>,
    pub(super) summary: u64,
}

/// Where the threads' full pair vectors go: a temporary file, created when
/// the first run is written, and the bytes all threads' pairs may take in
/// memory. Without a memory limit there is no file, and vectors grow
/// instead.
pub(super) struct PairFile {
    dir: Option<PathBuf>,
    budget: u64,
    file: Mutex<Option<Spill>>,
}

impl PairFile {
    /// Runs go to a file in `dir`, past `budget` bytes of pairs in memory;
    /// none when `dir` is `None`.
    pub(super) fn new(dir: Option<PathBuf>, budget: u64) -> PairFile {
        PairFile {
            dir,
            budget,
            file: Mutex::new(None),
        }
    }

    /// Appends sorted, distinct `pairs` as a run, creating the file if need
    /// be; they are encoded a piece at a time, under the lock so that the
    /// run's pieces follow each other.
    fn write_run(&self, pairs: &[u64]) -> Result<Run, FlowtupleError> {
        let Some(dir) = &self.dir else {
            return Err(FlowtupleError::Internal(
                "first-ASN pairs written without a memory limit".into(),
            ));
        };
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let spill = match &mut *file {
            Some(spill) => spill,
            None => file.insert(Spill::new(dir)?),
        };
        let mut buf = Vec::with_capacity(WRITE_BYTES + PAIR_BYTES);
        let (mut prev, mut offset, mut bytes) = (0, None, 0u64);
        for (i, &pair) in pairs.iter().enumerate() {
            varint(pair - prev, &mut buf);
            prev = pair;
            if buf.len() >= WRITE_BYTES || i + 1 == pairs.len() {
                let at = spill.append(&buf, buf.len() as u64)?;
                offset.get_or_insert(at);
                bytes += buf.len() as u64;
                buf.clear();
            }
        }
        Ok(Run {
            offset: offset.unwrap_or(spill.bytes()),
            bytes,
            items: pairs.len() as u64,
        })
    }

    /// Bytes written to the file.
    pub(super) fn bytes(&self) -> u64 {
        let file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.as_ref().map_or(0, Spill::bytes)
    }
}

/// One thread's pairs: those in memory (at most `cap`), and its runs in
/// `file`. A pair is `slot << 32 | asn`, so that pairs sort by slot.
pub(super) struct Pairs<'a> {
    pairs: Vec<u64>,
    cap: usize,
    file: &'a PairFile,
    runs: Vec<Run>,
    error: Option<FlowtupleError>,
}

impl<'a> Pairs<'a> {
    /// One of `threads` threads' pairs: at most its share of the file's
    /// budget in memory when the file can take runs (unbounded otherwise).
    pub(super) fn new(file: &'a PairFile, threads: usize) -> Pairs<'a> {
        let cap = if file.dir.is_some() {
            usize::try_from(file.budget / threads.max(1) as u64 / 8)
                .unwrap_or(usize::MAX)
                .max(LEAST_CAPACITY)
        } else {
            usize::MAX
        };
        Pairs {
            pairs: Vec::new(),
            cap,
            file,
            runs: Vec::new(),
            error: None,
        }
    }

    /// Makes room for `n` more pairs.
    #[inline]
    pub(super) fn room(&mut self, n: usize) {
        if self.pairs.capacity() - self.pairs.len() < n {
            self.make_room(n);
        }
    }

    /// Notes a pair; [`Pairs::room`] made room for it.
    #[inline]
    pub(super) fn push(&mut self, slot: u32, asn: u32) {
        debug_assert!(self.pairs.len() < self.pairs.capacity());
        self.pairs.push(u64::from(slot) << 32 | u64::from(asn));
    }

    /// Deduplicates the pairs, then, if they still take over three
    /// quarters of the vector, grows it by half up to `cap`, or past
    /// `cap` writes them as a run.
    #[cold]
    fn make_room(&mut self, n: usize) {
        let capacity = self.pairs.capacity();
        if capacity == 0 {
            self.pairs
                .reserve_exact(FIRST_CAPACITY.min(self.cap).max(n));
            return;
        }
        self.pairs.sort_unstable();
        self.pairs.dedup();
        let len = self.pairs.len();
        if len <= capacity / 4 * 3 && capacity - len >= n {
            return;
        }
        if capacity < self.cap {
            let grown = capacity.saturating_add(capacity / 2).min(self.cap);
            self.pairs.reserve_exact((grown - len).max(n));
            return;
        }
        if self.error.is_none() {
            match self.file.write_run(&self.pairs) {
                Ok(run) => self.runs.push(run),
                Err(e) => self.error = Some(e),
            }
        }
        // Written, or lost to an error that ends the count.
        self.pairs.clear();
    }

    /// The first error writing a run, if any.
    pub(super) fn check(&mut self) -> Result<(), FlowtupleError> {
        self.error.take().map_or(Ok(()), Err)
    }
}

impl FirstAsns {
    /// Counts the distinct pairs of the threads' `parts` (in memory and in
    /// `file`) per slot, merging them rather than copying them into one.
    pub(super) fn count(
        slots: usize,
        parts: Vec<Pairs<'_>>,
        file: &PairFile,
    ) -> Result<FirstAsns, FlowtupleError> {
        let spill = file.file.lock().unwrap_or_else(|p| p.into_inner());
        let mut cursors = Vec::new();
        for mut part in parts {
            part.check()?;
            part.pairs.sort_unstable();
            part.pairs.dedup();
            if !part.runs.is_empty() {
                let Some(spill) = &*spill else {
                    return Err(FlowtupleError::Internal(
                        "first-ASN pair runs without their file".into(),
                    ));
                };
                cursors.extend(part.runs.iter().map(|&run| Cursor::disk(spill, run)));
            }
            cursors.push(Cursor::memory(part.pairs));
        }
        for c in &mut cursors {
            c.fill()?;
        }
        let mut out = FirstAsns {
            slots: vec![0; slots],
            summary: 0,
        };
        let mut last = None;
        let mut tally = |pair: u64| {
            if last != Some(pair) {
                last = Some(pair);
                match (pair >> 32) as u32 {
                    SUMMARY => out.summary += 1,
                    s => out.slots[s as usize] += 1,
                }
            }
        };
        // The cursors by their next pair: take from the least up to the
        // next one's, then put it back (log of the cursors per step, however
        // many runs there are).
        let mut heap: BinaryHeap<Reverse<(u64, usize)>> = cursors
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.peek().map(|p| Reverse((p, i))))
            .collect();
        while let Some(Reverse((_, i))) = heap.pop() {
            let bound = heap.peek().map_or(u64::MAX, |Reverse((p, _))| *p);
            let cursor = &mut cursors[i];
            while let Some(p) = cursor.peek().filter(|&p| p <= bound) {
                tally(p);
                cursor.at += 1;
                cursor.fill()?;
            }
            if let Some(p) = cursor.peek() {
                heap.push(Reverse((p, i)));
            }
        }
        Ok(out)
    }
}

/// One sorted input of the merge: pairs in memory, or a run on disk read a
/// piece at a time (with the last pair decoded); its next pairs are in
/// `ready`, from `at` on.
struct Cursor<'a> {
    ready: Vec<u64>,
    at: usize,
    disk: Option<(RunReader<'a>, u64)>,
}

impl<'a> Cursor<'a> {
    fn memory(pairs: Vec<u64>) -> Cursor<'a> {
        Cursor {
            ready: pairs,
            at: 0,
            disk: None,
        }
    }

    fn disk(spill: &'a Spill, run: Run) -> Cursor<'a> {
        Cursor {
            ready: Vec::new(),
            at: 0,
            disk: Some((RunReader::new(spill, run), 0)),
        }
    }

    #[inline]
    fn peek(&self) -> Option<u64> {
        self.ready.get(self.at).copied()
    }

    /// Decodes more of a disk run when every ready pair was taken.
    #[inline]
    fn fill(&mut self) -> Result<(), FlowtupleError> {
        if self.at < self.ready.len() {
            return Ok(());
        }
        let Some((run, last)) = &mut self.disk else {
            return Ok(());
        };
        self.ready.clear();
        self.at = 0;
        let sizes = (PAIR_BYTES, READ_BYTES);
        run.read(&mut self.ready, DECODE_PAIRS, sizes, |buf, at| {
            *last = last.checked_add(read_varint(buf, at)?)?;
            Some(*last)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use telescope_test_support::rng::{Random, SplitMix64 as Rng};

    /// Pushes `threads` lists of pairs through [`Pairs`] of `budget`
    /// bytes each, and counts them; also the bytes written to disk.
    fn counted(
        lists: &[Vec<(u32, u32)>],
        budget: u64,
        dir: Option<PathBuf>,
        slots: usize,
    ) -> (FirstAsns, u64) {
        let file = PairFile::new(dir, budget * lists.len() as u64);
        let mut parts = Vec::new();
        for list in lists {
            let mut pairs = Pairs::new(&file, lists.len());
            for &(slot, asn) in list {
                pairs.room(1);
                pairs.push(slot, asn);
            }
            pairs.check().unwrap();
            parts.push(pairs);
        }
        let bytes = file.bytes();
        (FirstAsns::count(slots, parts, &file).unwrap(), bytes)
    }

    #[test]
    fn pairs_count_the_same_in_memory_and_in_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng(7);
        for round in 0..20 {
            let slots = 1 + rng.below(40) as usize;
            let asns = 1 + rng.below(3000) as u32;
            let lists: Vec<Vec<(u32, u32)>> = (0..1 + rng.below(3))
                .map(|_| {
                    (0..rng.below(5000))
                        .map(|_| {
                            let slot = match rng.below(slots as u64 + 1) {
                                s if s == slots as u64 => SUMMARY,
                                s => s as u32,
                            };
                            // Large ASNs too: deltas of many bytes.
                            let asn = match rng.below(4) {
                                0 => u32::MAX - rng.below(u64::from(asns)) as u32,
                                _ => 1 + rng.below(u64::from(asns)) as u32,
                            };
                            (slot, asn)
                        })
                        .collect()
                })
                .collect();
            // Independent: a set of every pair.
            let set: BTreeSet<(u32, u32)> = lists.iter().flatten().copied().collect();
            let mut want = vec![0u64; slots];
            let mut summary = 0;
            for &(slot, _) in &set {
                match slot {
                    SUMMARY => summary += 1,
                    s => want[s as usize] += 1,
                }
            }
            let (unbounded, none) = counted(&lists, 0, None, slots);
            assert_eq!(none, 0);
            let (bounded, bytes) = counted(&lists, 8 * 64, Some(dir.path().into()), slots);
            for (what, got) in [("unbounded", &unbounded), ("bounded", &bounded)] {
                assert_eq!(got.slots, want, "round {round}, {what}");
                assert_eq!(got.summary, summary, "round {round}, {what}");
            }
            // Anything past 64 distinct pairs a thread went to disk.
            if lists
                .iter()
                .any(|l| l.iter().collect::<BTreeSet<_>>().len() > 64)
            {
                assert!(bytes > 0, "round {round}: nothing written");
            }
        }
    }

    #[test]
    fn a_bounded_vector_stays_within_its_budget() {
        let dir = tempfile::tempdir().unwrap();
        let file = PairFile::new(Some(dir.path().into()), 8 * 1000);
        let mut pairs = Pairs::new(&file, 1);
        let mut rng = Rng(3);
        for _ in 0..100_000 {
            pairs.room(10);
            pairs.push(rng.below(50) as u32, rng.below(1 << 20) as u32);
            assert!(pairs.pairs.capacity() <= 1000);
        }
        assert!(!pairs.runs.is_empty());
    }
}
