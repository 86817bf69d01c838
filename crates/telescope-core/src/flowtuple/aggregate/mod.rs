//! Aggregation of filtered records into per-interval series.
//!
//! While an interval is read, each counted record is reduced to the ids of
//! the series it touches and becomes one small item per counted value (its
//! source, its destination and its ASN), filed in buckets by a hash of the
//! value. When the interval is complete, each bucket is sorted by value and
//! every series is counted once per distinct value (a stamp per series);
//! the ASN items also carry the record's packets and bytes, so the sums come
//! out of the same pass. Buckets are independent, so all threads share the
//! work, and memory is touched in order rather than at random as hash sets
//! per series would.
//!
//! [`keys`] holds series keys as dense ids, [`items`] what a record leaves
//! per value, [`config`] how records update series, [`interval`] the
//! interval being read, [`sort`] and [`count`] how a complete interval is
//! counted.

mod bound;
mod compact;
mod config;
mod count;
mod cpu;
mod interval;
mod items;
mod keys;
mod pairs;
mod sequence;
mod sort;
mod spill;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bound;
#[cfg(test)]
mod tests_buckets;
mod wire;

use std::collections::BTreeMap;

use bound::KeyBytes;
use config::Rules;
use interval::IntervalAgg;
use keys::GeoIds;

use super::decode::DecodedBlock;
use super::error::{FlowtupleError, Position, RunError};
use super::options::{sample_index, SeriesOptions};
use super::record::FlowRecord;
use super::series::{IntervalSeries, SeriesRow};
use sequence::{Repeated, Sequencer, Step};

/// Turns the filtered records of a file, block by block, into complete
/// interval series, handed to a callback as each interval ends.
///
/// A merging aggregator ([`Aggregator::merging`]) instead keeps every
/// interval open, adds runs of a time seen before (in any input it is
/// given) to that time's interval, and hands out every interval, in
/// ascending time, when [`Aggregator::finish`] is called.
pub struct Aggregator {
    sequencer: Sequencer,
    intervals: Intervals,
}

/// The interval being read, and what every interval shares.
struct Intervals {
    rules: Rules,
    current: Option<Box<dyn Interval>>,
    /// Merging: every interval read, by time.
    open: Option<BTreeMap<i64, Box<dyn Interval>>>,
    geo_ids: GeoIds,
    threads: usize,
    /// Bytes spilled by the intervals finished so far.
    spilled: u64,
    /// Merging: the bytes of the items in memory of every open interval.
    open_memory: u64,
}

/// An [`IntervalAgg`] of any item width.
trait Interval {
    fn ordinal(&self) -> u64;
    fn add(
        &mut self,
        rules: &Rules,
        geo_ids: &mut GeoIds,
        records: &[FlowRecord],
        at: Position,
        threads: usize,
    ) -> Result<(), FlowtupleError>;
    fn spilled(&self) -> u64;
    fn key_bytes(&self, threads: usize) -> KeyBytes;
    fn memory(&self, rules: &Rules) -> u64;
    fn spill_now(&mut self, rules: &Rules, threads: usize) -> Result<(), FlowtupleError>;
    fn finish(
        self: Box<Self>,
        rules: &Rules,
        geo_ids: &GeoIds,
        threads: usize,
    ) -> Result<(Vec<SeriesRow>, u64), FlowtupleError>;
}

impl<const K: usize> Interval for IntervalAgg<K> {
    fn ordinal(&self) -> u64 {
        self.ordinal
    }

    fn add(
        &mut self,
        rules: &Rules,
        geo_ids: &mut GeoIds,
        records: &[FlowRecord],
        at: Position,
        threads: usize,
    ) -> Result<(), FlowtupleError> {
        IntervalAgg::add(self, rules, geo_ids, records, at, threads)
    }

    fn spilled(&self) -> u64 {
        IntervalAgg::spilled(self)
    }

    fn key_bytes(&self, threads: usize) -> KeyBytes {
        IntervalAgg::key_bytes(self, None, threads)
    }

    fn memory(&self, rules: &Rules) -> u64 {
        IntervalAgg::memory(self, rules)
    }

    fn spill_now(&mut self, rules: &Rules, threads: usize) -> Result<(), FlowtupleError> {
        IntervalAgg::spill_now(self, rules, threads)
    }

    fn finish(
        self: Box<Self>,
        rules: &Rules,
        geo_ids: &GeoIds,
        threads: usize,
    ) -> Result<(Vec<SeriesRow>, u64), FlowtupleError> {
        IntervalAgg::finish(*self, rules, geo_ids, threads)
    }
}

/// A new interval at `time` with items as wide as the mode needs;
/// `merging`: one of several open intervals (whose spills free their
/// chunks, see [`IntervalAgg::recycle`]).
fn new_interval(rules: &Rules, ordinal: u64, time: i64, merging: bool) -> Box<dyn Interval> {
    let index = sample_index(time, rules.interval_length);
    let recycle = !merging;
    match rules.keys_per_record() {
        0..=2 => Box::new(IntervalAgg::<2>::new(ordinal, index, recycle)),
        3 => Box::new(IntervalAgg::<3>::new(ordinal, index, recycle)),
        // At most: two ports, an ASN and the geo keys.
        _ => Box::new(IntervalAgg::<4>::new(ordinal, index, recycle)),
    }
}

impl Aggregator {
    /// Bytes of temporary files written by the intervals finished so far.
    pub fn spilled(&self) -> u64 {
        self.intervals.spilled
    }

    /// An aggregator for `options`; `threads` > 1 counts distinct values of
    /// a complete interval on several threads.
    pub fn new(options: &SeriesOptions, threads: usize) -> Aggregator {
        Aggregator {
            sequencer: Sequencer::new(Repeated::Refused),
            intervals: Intervals {
                rules: Rules::new(options),
                current: None,
                open: None,
                geo_ids: GeoIds::default(),
                threads,
                spilled: 0,
                open_memory: 0,
            },
        }
    }

    /// A merging aggregator (see [`Aggregator`]): memory holds every
    /// interval until [`Aggregator::finish`].
    pub fn merging(options: &SeriesOptions, threads: usize) -> Aggregator {
        let mut agg = Aggregator::new(options, threads);
        agg.sequencer = Sequencer::new(Repeated::Merged);
        agg.intervals.open = Some(BTreeMap::new());
        agg
    }

    /// Ends one input of a merging aggregator: its last run is complete,
    /// nothing is handed out. (The next input starts a new run.)
    pub fn end_input(&mut self) -> Result<(), FlowtupleError> {
        self.finish(&mut |_| {
            Err(FlowtupleError::Internal(
                "end_input on an aggregator that does not merge".into(),
            ))
        })
        .map_err(RunError::flatten)
    }

    /// Adds a decoded block; every interval it completes is passed to `emit`.
    pub fn push_block<F, E>(
        &mut self,
        block: &DecodedBlock,
        pos: Position,
        emit: &mut F,
    ) -> Result<(), RunError<E>>
    where
        F: FnMut(IntervalSeries) -> Result<(), E>,
    {
        let Aggregator {
            sequencer,
            intervals,
        } = self;
        sequencer.block(block, pos, &mut |step| {
            intervals.apply(step, &block.records, pos, emit)
        })
    }

    /// Ends the input: the last interval is complete.
    pub fn finish<F, E>(&mut self, emit: &mut F) -> Result<(), RunError<E>>
    where
        F: FnMut(IntervalSeries) -> Result<(), E>,
    {
        let Aggregator {
            sequencer,
            intervals,
        } = self;
        // Closing needs no records, so no position either.
        let nowhere = Position {
            offset: 0,
            block: None,
        };
        sequencer.finish(&mut |step| intervals.apply(step, &[], nowhere, emit))
    }

    /// Ends every input of a merging aggregator: every interval, in
    /// ascending time, is passed to `emit`.
    pub fn finish_merged<F, E>(&mut self, emit: &mut F) -> Result<(), RunError<E>>
    where
        F: FnMut(IntervalSeries) -> Result<(), E>,
    {
        self.end_input()?;
        let Intervals {
            rules,
            open,
            geo_ids,
            threads,
            spilled,
            ..
        } = &mut self.intervals;
        for (time, agg) in std::mem::take(open).unwrap_or_default() {
            *spilled += agg.spilled();
            let (rows, pair_bytes) = agg.finish(rules, geo_ids, *threads)?;
            *spilled += pair_bytes;
            emit(IntervalSeries { time, rows }).map_err(RunError::Emit)?;
        }
        Ok(())
    }
}

/// Merging: while the open intervals' items in memory pass the limit
/// (all together, as for one interval), spills the biggest of them, down
/// to half the limit so that the next blocks do not spill again at once.
fn bound_open(
    open: &mut BTreeMap<i64, Box<dyn Interval>>,
    open_memory: &mut u64,
    rules: &Rules,
    threads: usize,
) -> Result<(), FlowtupleError> {
    let Some(limit) = rules.spill.as_ref().map(|s| s.limit) else {
        return Ok(());
    };
    if *open_memory <= limit {
        return Ok(());
    }
    let mut sizes: Vec<(u64, i64)> = open.iter().map(|(&t, a)| (a.memory(rules), t)).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    for (bytes, time) in sizes {
        if *open_memory <= limit / 2 || bytes == 0 {
            break;
        }
        if let Some(agg) = open.get_mut(&time) {
            agg.spill_now(rules, threads)?;
        }
        *open_memory -= bytes;
    }
    Ok(())
}

/// Merging: `Ok` if the key tables of all open intervals together, and
/// the run's geo tags, are within their share of the limit (see
/// [`bound`]); else the error naming the biggest table of the interval
/// whose tables take most, found at `at`.
fn open_keys(
    open: &BTreeMap<i64, Box<dyn Interval>>,
    geo_ids: &GeoIds,
    rules: &Rules,
    threads: usize,
    at: Position,
) -> Result<(), FlowtupleError> {
    let Some(limit) = rules.spill.as_ref().map(|s| s.limit) else {
        return Ok(());
    };
    let geo = KeyBytes::of(&[], &Default::default(), Some(geo_ids), threads);
    let mut total = geo.bytes;
    let mut biggest = geo;
    for agg in open.values() {
        let keys = agg.key_bytes(threads);
        total += keys.bytes;
        if keys.bytes > biggest.bytes {
            biggest = keys;
        }
    }
    biggest.bytes = total;
    biggest.check(limit, at)
}

impl Intervals {
    /// Carries out one step of the sequencer; `records` are the block's
    /// kept records, read at `at`.
    fn apply<F, E>(
        &mut self,
        step: Step,
        records: &[FlowRecord],
        at: Position,
        emit: &mut F,
    ) -> Result<(), RunError<E>>
    where
        F: FnMut(IntervalSeries) -> Result<(), E>,
    {
        let Intervals {
            rules,
            current,
            open,
            geo_ids,
            threads,
            spilled,
            open_memory,
        } = self;
        match (step, open) {
            (Step::Records { time, range, .. }, Some(open)) => {
                let agg = open
                    .entry(time)
                    .or_insert_with(|| new_interval(rules, 0, time, true));
                let before = agg.memory(rules);
                agg.add(rules, geo_ids, &records[range], at, *threads)?;
                *open_memory = *open_memory - before + agg.memory(rules);
                open_keys(open, geo_ids, rules, *threads, at)?;
                Ok(bound_open(open, open_memory, rules, *threads)?)
            }
            (Step::Close { time, .. }, Some(open)) => {
                // An interval none of whose records counted still prints.
                open.entry(time)
                    .or_insert_with(|| new_interval(rules, 0, time, true));
                Ok(())
            }
            (
                Step::Records {
                    time,
                    ordinal,
                    range,
                },
                None,
            ) => {
                let agg = match current {
                    Some(agg) if agg.ordinal() == ordinal => agg,
                    _ => current.insert(new_interval(rules, ordinal, time, false)),
                };
                Ok(agg.add(rules, geo_ids, &records[range], at, *threads)?)
            }
            (Step::Close { time, ordinal }, None) => {
                let agg = match current.take() {
                    Some(agg) if agg.ordinal() == ordinal => agg,
                    _ => new_interval(rules, ordinal, time, false),
                };
                *spilled += agg.spilled();
                let (rows, pair_bytes) = agg.finish(rules, geo_ids, *threads)?;
                *spilled += pair_bytes;
                emit(IntervalSeries { time, rows }).map_err(RunError::Emit)
            }
        }
    }
}
