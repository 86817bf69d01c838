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

use super::spill::Spill;
use super::wire::{read_varint, varint};
use crate::flowtuple::error::FlowtupleError;

/// The slot of the summary among (slot, ASN) pairs.
pub(super) const SUMMARY: u32 = u32::MAX;

/// Pairs a thread holds before they are first deduplicated.
#[cfg(not(test))]
const FIRST_CAPACITY: usize = 1 << 20;
#[cfg(test)]
const FIRST_CAPACITY: usize = 16;

/// The fewest pairs a thread may hold, whatever the limit.
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
/// count ([`crate::flowtuple::rules::counts_asn`]) among the ASNs of the
/// first record of each source aggregate.
#[derive(Default)]
pub(super) struct FirstAsns {
    pub(super) slots: Vec<u64>,
    pub(super) summary: u64,
}

/// Where the threads' full pair vectors go: a temporary file, created when
/// the first run is written. Without a memory limit there is none, and
/// vectors grow instead.
pub(super) struct PairFile {
    dir: Option<PathBuf>,
    file: Mutex<Option<Spill>>,
}

impl PairFile {
    /// Runs go to a file in `dir`; none when `dir` is `None`.
    pub(super) fn new(dir: Option<PathBuf>) -> PairFile {
        PairFile {
            dir,
            file: Mutex::new(None),
        }
    }

    /// Appends sorted, distinct `pairs` as a run, creating the file if need
    /// be; they are encoded a piece at a time, under the lock so that the
    /// run's pieces follow each other.
    fn write_run(&self, pairs: &[u64]) -> Result<PairRun, FlowtupleError> {
        let Some(dir) = &self.dir else {
            unreachable!("pairs are only written under a memory limit")
        };
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if file.is_none() {
            *file = Some(Spill::new(dir)?);
        }
        let spill = file.as_ref().expect("created above");
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
        Ok(PairRun {
            offset: offset.unwrap_or(spill.bytes()),
            bytes,
            pairs: pairs.len() as u64,
        })
    }

    /// Bytes written to the file.
    pub(super) fn bytes(&self) -> u64 {
        let file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.as_ref().map_or(0, Spill::bytes)
    }
}

/// A sorted run of distinct pairs on disk.
#[derive(Debug, Clone, Copy)]
struct PairRun {
    offset: u64,
    bytes: u64,
    pairs: u64,
}

/// One thread's pairs: those in memory (at most `cap`), and its runs on
/// disk. A pair is `slot << 32 | asn`, so that pairs sort by slot.
pub(super) struct Pairs {
    pairs: Vec<u64>,
    cap: usize,
    runs: Vec<PairRun>,
    error: Option<FlowtupleError>,
}

impl Pairs {
    /// Pairs that hold at most `budget` bytes in memory when `file` can
    /// take runs (unbounded otherwise).
    pub(super) fn new(budget: u64, file: &PairFile) -> Pairs {
        let cap = if file.dir.is_some() {
            usize::try_from(budget / 8)
                .unwrap_or(usize::MAX)
                .max(LEAST_CAPACITY)
        } else {
            usize::MAX
        };
        Pairs {
            pairs: Vec::new(),
            cap,
            runs: Vec::new(),
            error: None,
        }
    }

    /// Makes room for `n` more pairs.
    #[inline]
    pub(super) fn room(&mut self, n: usize, file: &PairFile) {
        if self.pairs.capacity() - self.pairs.len() < n {
            self.make_room(n, file);
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
    fn make_room(&mut self, n: usize, file: &PairFile) {
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
            if let Err(e) = self.write(file) {
                self.error = Some(e);
            }
        }
        // Written, or lost to an error that ends the count.
        self.pairs.clear();
    }

    /// Writes the (sorted, distinct) pairs in memory as a run.
    fn write(&mut self, file: &PairFile) -> Result<(), FlowtupleError> {
        let run = file.write_run(&self.pairs)?;
        self.runs.push(run);
        Ok(())
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
        parts: Vec<Pairs>,
        file: PairFile,
    ) -> Result<FirstAsns, FlowtupleError> {
        let spill = file.file.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut cursors = Vec::new();
        for mut part in parts {
            part.check()?;
            part.pairs.sort_unstable();
            part.pairs.dedup();
            for run in part.runs {
                let Some(spill) = &spill else {
                    unreachable!("runs are written to the file")
                };
                cursors.push(Cursor::disk(spill, run));
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
/// piece at a time; its next pairs are in `ready`, from `at` on.
struct Cursor<'a> {
    ready: Vec<u64>,
    at: usize,
    disk: Option<DiskRun<'a>>,
}

/// The unread part of a run.
struct DiskRun<'a> {
    spill: &'a Spill,
    offset: u64,
    bytes_left: u64,
    pairs_left: u64,
    /// Bytes read and not yet decoded, from `used` on.
    buf: Vec<u8>,
    used: usize,
    last: u64,
}

impl<'a> Cursor<'a> {
    fn memory(pairs: Vec<u64>) -> Cursor<'a> {
        Cursor {
            ready: pairs,
            at: 0,
            disk: None,
        }
    }

    fn disk(spill: &'a Spill, run: PairRun) -> Cursor<'a> {
        Cursor {
            ready: Vec::new(),
            at: 0,
            disk: Some(DiskRun {
                spill,
                offset: run.offset,
                bytes_left: run.bytes,
                pairs_left: run.pairs,
                buf: Vec::new(),
                used: 0,
                last: 0,
            }),
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
        let Some(run) = &mut self.disk else {
            return Ok(());
        };
        self.ready.clear();
        self.at = 0;
        while self.ready.is_empty() && run.pairs_left > 0 {
            // Bytes enough for a whole pair, unless the run ends first.
            if run.buf.len() - run.used < PAIR_BYTES && run.bytes_left > 0 {
                run.buf.drain(..run.used);
                run.used = 0;
                let want = (READ_BYTES.max(PAIR_BYTES) as u64).min(run.bytes_left);
                let have = run.buf.len();
                run.buf.resize(have + want as usize, 0);
                run.spill.read_at(&mut run.buf[have..], run.offset)?;
                run.offset += want;
                run.bytes_left -= want;
            }
            while run.pairs_left > 0
                && self.ready.len() < DECODE_PAIRS
                && (run.buf.len() - run.used >= PAIR_BYTES || run.bytes_left == 0)
            {
                let delta =
                    read_varint(&run.buf, &mut run.used).ok_or_else(|| run.spill.corrupt())?;
                run.last = run
                    .last
                    .checked_add(delta)
                    .ok_or_else(|| run.spill.corrupt())?;
                self.ready.push(run.last);
                run.pairs_left -= 1;
            }
            if self.ready.is_empty() && run.bytes_left == 0 && run.pairs_left > 0 {
                return Err(run.spill.corrupt());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::flowtuple::test_rng::Rng;

    /// Pushes `threads` lists of pairs through [`Pairs`] of `budget`
    /// bytes, and counts them; also the bytes written to disk.
    fn counted(
        lists: &[Vec<(u32, u32)>],
        budget: u64,
        dir: Option<PathBuf>,
        slots: usize,
    ) -> (FirstAsns, u64) {
        let file = PairFile::new(dir);
        let mut parts = Vec::new();
        for list in lists {
            let mut pairs = Pairs::new(budget, &file);
            for &(slot, asn) in list {
                pairs.room(1, &file);
                pairs.push(slot, asn);
            }
            pairs.check().unwrap();
            parts.push(pairs);
        }
        let bytes = file.bytes();
        (FirstAsns::count(slots, parts, file).unwrap(), bytes)
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
        let file = PairFile::new(Some(dir.path().into()));
        let mut pairs = Pairs::new(8 * 1000, &file);
        let mut rng = Rng(3);
        for _ in 0..100_000 {
            pairs.room(10, &file);
            pairs.push(rng.below(50) as u32, rng.below(1 << 20) as u32);
            assert!(pairs.pairs.capacity() <= 1000);
        }
        assert!(!pairs.runs.is_empty());
    }
}
