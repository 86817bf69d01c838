//! Cutting the stream of decoded blocks into intervals, in file order.

use std::ops::Range;

use rustc_hash::FxHashSet;

use crate::flowtuple::decode::DecodedBlock;
use crate::flowtuple::error::{FlowtupleError, Position};

/// What a block means for the intervals, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// These kept records of the block belong to interval `ordinal`.
    Records {
        /// The interval's `time`.
        time: i64,
        /// The interval's position in the file (0 for the first).
        ordinal: u64,
        /// Indices into the block's kept records.
        range: Range<usize>,
    },
    /// Interval `ordinal` is complete: every record of it has been passed.
    Close {
        /// The interval's `time`.
        time: i64,
        /// The interval's position in the file.
        ordinal: u64,
    },
}

/// What a run whose time was seen before (its interval complete) means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Repeated {
    /// An error ([`FlowtupleError::IntervalReappears`]).
    #[default]
    Refused,
    /// More records of that time's interval (see [`super::Aggregator`]).
    Merged,
}

/// Tracks the interval being read and the intervals already complete.
#[derive(Debug, Default)]
pub(super) struct Sequencer {
    current: Option<(i64, u64)>,
    done: FxHashSet<i64>,
    next: u64,
    repeated: Repeated,
}

impl Sequencer {
    /// A sequencer taking runs of a time seen before as `repeated` says.
    pub(super) fn new(repeated: Repeated) -> Sequencer {
        Sequencer {
            repeated,
            ..Sequencer::default()
        }
    }

    /// Passes the steps of one block, in order, to `step`. Without merging,
    /// a `time` whose interval is already complete is an error.
    pub(super) fn block<E: From<FlowtupleError>>(
        &mut self,
        block: &DecodedBlock,
        pos: Position,
        step: &mut dyn FnMut(Step) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut start = 0;
        for run in &block.runs {
            let ordinal = match self.current {
                Some((time, ordinal)) if time == run.time => ordinal,
                _ => {
                    self.close(step)?;
                    if self.repeated == Repeated::Refused && self.done.contains(&run.time) {
                        return Err(FlowtupleError::IntervalReappears {
                            time: run.time,
                            at: pos,
                        }
                        .into());
                    }
                    let ordinal = self.next;
                    self.next += 1;
                    self.current = Some((run.time, ordinal));
                    ordinal
                }
            };
            let range = start..start + run.kept;
            start += run.kept;
            if !range.is_empty() {
                step(Step::Records {
                    time: run.time,
                    ordinal,
                    range,
                })?;
            }
        }
        Ok(())
    }

    /// Ends the input: the interval being read is complete.
    pub(super) fn finish<E>(
        &mut self,
        step: &mut dyn FnMut(Step) -> Result<(), E>,
    ) -> Result<(), E> {
        self.close(step)
    }

    fn close<E>(&mut self, step: &mut dyn FnMut(Step) -> Result<(), E>) -> Result<(), E> {
        if let Some((time, ordinal)) = self.current.take() {
            self.done.insert(time);
            step(Step::Close { time, ordinal })?;
        }
        Ok(())
    }
}
