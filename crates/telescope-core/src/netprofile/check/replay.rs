//! Replaying a history as an hourly cron would: at each hour the rows
//! complete by then (TIME_LAST at or before it) are profiled, then checked,
//! with the clock set to that hour. Profiles are kept in memory; nothing is
//! written.

use std::sync::Arc;

use super::error::CheckError;
use super::profiles::{MemoryProfiles, ReadProfile};
use super::{check_rows, CheckCounts, CheckOptions, Event, TagState};
use crate::netprofile::discover::Tag;
use crate::netprofile::error::Error;
use crate::netprofile::nemea::Row;
use crate::netprofile::profile;
use crate::netprofile::time::HOUR_US;
use crate::netprofile::{read_data, DataStats, ProfileOptions, TagOutcome};

/// One hour of a replay.
#[derive(Debug, Clone)]
pub struct ReplayRun {
    /// The run's clock (UTC µs).
    pub clock: i64,
    /// What its check printed.
    pub events: Vec<Event>,
    /// Its counts.
    pub counts: CheckCounts,
}

/// A tag's replay in progress: its rows, the profiles written so far and
/// the check state.
#[derive(Debug, Clone)]
pub struct Replayer<'a> {
    /// All rows, sorted as [`crate::netprofile::nemea::Parsed::rows`].
    pub rows: &'a [Row],
    /// Profile options.
    pub opts: &'a ProfileOptions,
    /// The rule's knobs.
    pub check: CheckOptions,
    /// Profiles written so far.
    pub profiles: MemoryProfiles,
    /// The check state (None before the first check).
    pub state: Option<TagState>,
    /// Rows seen by the last profile built (a new one only when it grows).
    seen: usize,
}

/// The rows of `rows` complete at `clock` (TIME_LAST at or before it).
pub fn visible(rows: &[Row], clock: i64) -> Vec<Row> {
    rows.iter().filter(|r| r.last <= clock).copied().collect()
}

/// The profile a run at `clock` writes from `rows` (None: nothing forecast).
pub fn profile_at(rows: &[Row], opts: &ProfileOptions) -> Option<Arc<ReadProfile>> {
    let (p, _) = profile::build(rows, opts);
    (!p.is_empty()).then(|| Arc::new(ReadProfile::of(&p)))
}

impl<'a> Replayer<'a> {
    /// A replay of `rows` with no profile and no check yet.
    pub fn new(rows: &'a [Row], opts: &'a ProfileOptions, check: CheckOptions) -> Self {
        Replayer {
            rows,
            opts,
            check,
            profiles: MemoryProfiles::default(),
            state: None,
            seen: 0,
        }
    }

    /// The profile run at `clock`: writes a profile when rows were added
    /// since the last one.
    pub fn profile(&mut self, clock: i64) {
        let rows = visible(self.rows, clock);
        if rows.len() == self.seen {
            return;
        }
        self.seen = rows.len();
        if let Some(p) = profile_at(&rows, self.opts) {
            self.profiles.profiles.push((clock, p));
        }
    }

    /// The check run at `clock`.
    pub fn check(&mut self, clock: i64) -> Result<ReplayRun, CheckError> {
        let rows = visible(self.rows, clock);
        let checked = check_rows(
            &rows,
            &self.opts.protocols,
            self.state.take(),
            &mut self.profiles,
            &self.check,
            clock,
        )?;
        self.state = Some(checked.state);
        Ok(ReplayRun {
            clock,
            events: checked.events,
            counts: checked.counts,
        })
    }
}

/// Replays every whole hour from `from` to `to` (UTC µs; `from` rounded up
/// to the hour): profile, then check. The day before `from` is replayed
/// too, so that the first runs returned have a day of profiles behind
/// them, but its runs are not returned.
pub fn replay(
    rows: &[Row],
    opts: &ProfileOptions,
    check: CheckOptions,
    from: i64,
    to: i64,
) -> Result<Vec<ReplayRun>, CheckError> {
    let mut r = Replayer::new(rows, opts, check);
    let mut clock = from.div_euclid(HOUR_US) * HOUR_US;
    if clock < from {
        clock += HOUR_US;
    }
    let first = clock;
    clock -= 24 * HOUR_US;
    let mut runs = Vec::new();
    while clock <= to {
        r.profile(clock);
        let run = r.check(clock)?;
        if clock >= first {
            runs.push(run);
        }
        clock += HOUR_US;
    }
    Ok(runs)
}

/// Replays one tag over the last `days` days of its `data.csv` (up to the
/// hour after its newest row), hour by hour as cron would; writes nothing.
/// A tag without rows fails with [`Error::NothingForecast`].
pub fn replay_tag(
    tag: &Tag,
    opts: &ProfileOptions,
    check: CheckOptions,
    days: u32,
) -> TagOutcome<Vec<ReplayRun>> {
    let mut warnings = Vec::new();
    let mut data = None;
    let result = read_data(tag, opts.window, &mut warnings).and_then(|parsed| {
        data = Some(DataStats::of(&parsed));
        let Some(end) = parsed.rows.iter().map(|r| r.last).max() else {
            return Err(Error::NothingForecast);
        };
        let to = end.div_euclid(HOUR_US) * HOUR_US + HOUR_US;
        let from = to - i64::from(days) * 24 * HOUR_US;
        Ok(replay(&parsed.rows, opts, check, from, to)?)
    });
    TagOutcome {
        warnings,
        result,
        data,
    }
}
