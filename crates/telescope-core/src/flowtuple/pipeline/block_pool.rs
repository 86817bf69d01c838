//! Decoded blocks given back once aggregated, to decode the next blocks
//! into.
//!
//! Each block's records used to be allocated by the worker thread that
//! decoded it and freed by the aggregating thread. glibc serves each thread
//! from its own malloc arena and keeps freed memory in the arena it came
//! from, for that arena's thread only: on large blocks every worker's arena
//! kept a block's worth of records resident (116 MB RSS at `-j2`, 194 MB at
//! `-j4`, for ~40 MB live, on 4 MiB blocks of minimal records). Now the
//! reader thread takes the blocks from here (new ones are allocated there,
//! with room for the block's records, so a worker never grows them), so
//! they all come from one arena whichever thread frees them, and a block
//! reused keeps its pages (no fresh zeroed pages per block).
//!
//! Bounds: the spares together hold at most the bytes given to
//! [`BlockPool::new`]; a spare is only handed out for a block that needs at
//! least half of its room (or it is small), so a block never holds much more
//! than its share of the in-flight budget charged for it.

use std::mem::size_of;
use std::sync::{Mutex, MutexGuard};

use super::super::decode::{DecodedBlock, Run};
use super::super::record::FlowRecord;

/// Room below which a spare is handed out for any block: a few pages.
const SMALL_BYTES: usize = 64 << 10;

/// The spare blocks, with a bound on the bytes they hold.
pub(super) struct BlockPool {
    state: Mutex<State>,
    limit: usize,
}

#[derive(Default)]
struct State {
    blocks: Vec<DecodedBlock>,
    /// The bytes `blocks` hold (see [`room`]).
    bytes: usize,
    /// Blocks handed out that were not spares.
    #[cfg(test)]
    fresh: u64,
    /// The threads that took blocks.
    #[cfg(test)]
    takers: std::collections::BTreeSet<String>,
}

/// The bytes a block's buffers hold.
fn room(block: &DecodedBlock) -> usize {
    block.records.capacity() * size_of::<FlowRecord>() + block.runs.capacity() * size_of::<Run>()
}

impl BlockPool {
    /// BlockPool holding at most `limit` bytes together.
    pub(super) fn new(limit: usize) -> BlockPool {
        BlockPool {
            state: Mutex::default(),
            limit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A block to decode up to `records` records into: the spare with the
    /// least room for them, else the largest spare with too little (it
    /// grows), else a new one with room for them. A spare with more than twice the room needed
    /// (and more than a small room) is left for a larger block.
    pub(super) fn take(&self, records: usize) -> DecodedBlock {
        let need = records.saturating_mul(size_of::<FlowRecord>());
        let usable = |block: &DecodedBlock| {
            block.records.capacity() * size_of::<FlowRecord>()
                <= need.saturating_mul(2).max(SMALL_BYTES)
        };
        let mut s = self.lock();
        #[cfg(test)]
        s.takers
            .insert(format!("{:?}", std::thread::current().id()));
        let mut best: Option<(usize, usize)> = None;
        for (i, block) in s.blocks.iter().enumerate() {
            if !usable(block) {
                continue;
            }
            let cap = block.records.capacity();
            // Fitting beats too small; among fitting, smaller is better;
            // among too small, larger is better.
            let better = match best {
                None => true,
                Some((_, b)) if b >= records => cap >= records && cap < b,
                Some((_, b)) => cap >= records || cap > b,
            };
            if better {
                best = Some((i, cap));
            }
        }
        match best {
            Some((i, _)) => {
                let block = s.blocks.swap_remove(i);
                s.bytes -= room(&block);
                block
            }
            None => {
                #[cfg(test)]
                {
                    s.fresh += 1;
                }
                drop(s);
                DecodedBlock {
                    records: Vec::with_capacity(records),
                    runs: Vec::with_capacity(1),
                    total: 0,
                }
            }
        }
    }

    /// Keeps `blocks` for reuse, as far as the bound allows; the others are
    /// freed.
    pub(super) fn give(&self, blocks: impl IntoIterator<Item = DecodedBlock>) {
        let mut s = self.lock();
        for block in blocks {
            let r = room(&block);
            if r > 0 && s.bytes + r <= self.limit {
                s.bytes += r;
                s.blocks.push(block);
            }
        }
    }

    /// Blocks handed out that were not spares.
    #[cfg(test)]
    pub(super) fn fresh(&self) -> u64 {
        self.lock().fresh
    }

    /// How many threads took blocks.
    #[cfg(test)]
    pub(super) fn takers(&self) -> usize {
        self.lock().takers.len()
    }

    /// The bytes the spares hold.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block holding room for `records` records and one run.
    fn filled(records: usize) -> DecodedBlock {
        let mut b = DecodedBlock::default();
        b.records.reserve_exact(records);
        b.records.resize(records, FlowRecord::default());
        b.runs.push(Run { time: 7, kept: 1 });
        b.total = 9;
        b
    }

    #[test]
    fn a_block_given_back_is_handed_out_again() {
        let spares = BlockPool::new(1 << 30);
        let b = spares.take(1000);
        assert_eq!(spares.fresh(), 1);
        let mut b = b;
        b.records.reserve_exact(1000);
        let ptr = b.records.as_ptr();
        spares.give([b]);
        let again = spares.take(1000);
        assert_eq!(again.records.as_ptr(), ptr, "the same buffer");
        assert_eq!(spares.fresh(), 1, "no new block");
        assert_eq!(spares.bytes(), 0);
    }

    #[test]
    fn the_tightest_fit_is_chosen_and_too_large_ones_are_kept_for_larger_blocks() {
        let spares = BlockPool::new(1 << 30);
        // Rooms of 1k, 10k and 100k records; records of a few hundred bytes
        // at most, so 1k records pass the "small" room.
        spares.give([filled(1_000), filled(100_000), filled(10_000)]);
        let b = spares.take(9_000);
        assert!(b.records.capacity() >= 10_000 && b.records.capacity() < 100_000);
        // 100k records is too much room for 20k: the 1k one (too small, it
        // will grow) is taken instead.
        let c = spares.take(20_000);
        assert!(c.records.capacity() < 10_000, "{}", c.records.capacity());
        // Nothing usable left for 10 records: a new block.
        let before = spares.fresh();
        let d = spares.take(10);
        assert!((10..1_000).contains(&d.records.capacity()));
        assert_eq!(spares.fresh(), before + 1);
        // The large one serves a large block.
        let e = spares.take(90_000);
        assert!(e.records.capacity() >= 100_000);
        assert_eq!(spares.bytes(), 0);
    }

    #[test]
    fn the_spares_hold_at_most_their_bound() {
        let one = room(&filled(1_000));
        let spares = BlockPool::new(3 * one);
        spares.give((0..10).map(|_| filled(1_000)));
        assert_eq!(spares.bytes(), 3 * one);
        // Blocks without room are not kept.
        spares.give([DecodedBlock::default()]);
        assert_eq!(spares.bytes(), 3 * one);
        for _ in 0..3 {
            spares.take(1_000);
        }
        assert_eq!(spares.fresh(), 0);
        spares.take(1_000);
        assert_eq!(spares.fresh(), 1);
    }
}
