//! `--check`: each tag's new rows against the profile in force for them,
//! and alerts as episodes.
//!
//! For every protocol asked for, the rows of `data.csv` not yet checked
//! (the first time: those of the last 24 hours) are compared, oldest first,
//! with the newest profile written before the row's TIME_FIRST that holds a
//! point within 30 minutes of it ([`profiles`]); the episode rule
//! ([`episode`]) turns the comparisons into start and end events. What was
//! checked, and the rule's state, is kept per tag ([`state`]); the caller
//! prints the events, then saves the state with [`save_check_states`]. [`replay`]
//! walks a history hour by hour as cron would.
//!
//! Rows of one protocol are checked in time order and once: a row dated at
//! or before the newest row already checked (a late row, or one of an hour
//! already checked) is never checked again; a row within 30 minutes after
//! the previous one of its protocol (a repeated hour) is counted and not
//! compared. The caller passes the clock in.

mod episode;
pub(crate) mod error;
mod html;
mod idea;
mod profiles;
mod replay;
mod state;

pub use episode::{CheckOptions, Direction, Event, EventKind, Reading, Snapshot};
pub use error::CheckError;
pub use html::write_overview;
pub use idea::deliver as write_idea;
pub use profiles::{MemoryProfiles, ProfileSource, ReadProfile};
pub use replay::{
    profile_at as replay_profile_at, replay_tag, visible as replay_visible, ReplayRun,
};
pub(crate) use state::out_rows;
pub use state::{save_all as save_check_states, TagState};

use profiles::ProfileFiles;

use super::discover::Tag;
use super::nemea::Row;
use super::protocol::Protocol;
use super::series::{protocol_rows, Metric};
use super::time::{format_timestamp, HOUR_US};
use super::{read_data, DataStats, Error, ProfileOptions, TagOutcome};

/// How far back the first check of a tag looks.
pub const FIRST_LOOKBACK: i64 = 24 * HOUR_US;

/// Counts of one tag's check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckCounts {
    /// Rows compared with a profile.
    pub checked_rows: usize,
    /// Rows with no profile in force (counted, not compared).
    pub rows_without_profile: usize,
    /// Rows within 30 minutes after the previous one of their protocol.
    pub repeated_rows: usize,
}

/// One tag's check: its events, the state to save and what it counted.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// Start and end events, by the time of the row that caused them.
    pub events: Vec<Event>,
    /// The state to save once the events are out ([`save_check_states`]).
    pub state: TagState,
    /// Counts.
    pub counts: CheckCounts,
    /// Rows checked now that are part of an episode (protocol,
    /// TIME_FIRST).
    pub out_rows: Vec<(Protocol, i64)>,
    /// The clock of the previous check, when it was later than this one's.
    pub clock_went_back: Option<i64>,
}

impl Checked {
    /// Episodes open after this check.
    pub fn open_episodes(&self) -> usize {
        let trackers = self.state.protocols.values();
        trackers.filter(|p| p.tracker.open.is_some()).count()
    }

    /// Episodes that started in this check.
    pub fn alerts_started(&self) -> usize {
        self.events
            .iter()
            .filter(|e| e.kind == EventKind::Start)
            .count()
    }
}

/// The readings of `row` against `points` (metrics without a point left
/// out).
fn readings(row: &Row, points: &profiles::InForce) -> Vec<Reading> {
    Metric::ALL
        .iter()
        .zip(points)
        .filter_map(|(m, p)| {
            p.map(|p| Reading {
                metric: m.key().to_string(),
                value: m.value(row) as f64,
                yhat: p.yhat,
                yhat_lower: p.lower,
                yhat_upper: p.upper,
            })
        })
        .collect()
}

/// Checks the `rows` (sorted as [`super::nemea::Parsed::rows`]) of
/// `protocols` not yet checked in `state` (None: the first check, which
/// looks back `FIRST_LOOKBACK` (24 hours) from `now_utc`) against `source`.
pub fn check_rows(
    rows: &[Row],
    protocols: &[Protocol],
    state: Option<TagState>,
    source: &mut dyn ProfileSource,
    opts: &CheckOptions,
    now_utc: i64,
) -> Result<Checked, CheckError> {
    let mut state = state.unwrap_or_default();
    state.version = state::STATE_VERSION;
    let mut out = Checked {
        clock_went_back: state.last_check.filter(|&t| t > now_utc),
        ..Checked::default()
    };
    let mut timed: Vec<(i64, Event)> = Vec::new();
    for &protocol in protocols {
        let key = protocol.key();
        let ps = state.protocols.entry(key.clone()).or_default();
        for row in protocol_rows(rows, protocol) {
            match ps.mark {
                Some(m) if row.first <= m => continue,
                Some(m) if row.first - m < HOUR_US / 2 => {
                    out.counts.repeated_rows += 1;
                    ps.mark = Some(row.first);
                    continue;
                }
                None if row.first < now_utc - FIRST_LOOKBACK => continue,
                _ => {}
            }
            ps.mark = Some(row.first);
            let Some(points) = source.in_force(&key, row.first)? else {
                out.counts.rows_without_profile += 1;
                continue;
            };
            out.counts.checked_rows += 1;
            let r = readings(row, &points);
            let events = ps.tracker.step(protocol, row.first, &r, opts);
            let started = events.iter().find(|e| e.kind == EventKind::Start);
            let marked_from = match (started, &ps.tracker.open) {
                (Some(e), _) => Some(e.start),
                (None, Some(o)) if o.last_out == row.first => Some(row.first),
                _ => None,
            };
            if let Some(from) = marked_from {
                let last = ps.out.last().copied();
                let span = protocol_rows(rows, protocol)
                    .iter()
                    .map(|x| x.first)
                    .filter(|&t| t >= from && t <= row.first && last < Some(t));
                ps.out.extend(span);
                out.out_rows.push((protocol, row.first));
            }
            timed.extend(events.into_iter().map(|e| (row.first, e)));
        }
    }
    for ps in state.protocols.values_mut() {
        let keep_from = ps.out.last().map_or(0, |t| t - state::OUT_KEPT);
        ps.out.retain(|&t| t >= keep_from);
    }
    // Stable: within one row time, protocols in the order asked for.
    timed.sort_by_key(|(t, _)| *t);
    out.events = timed.into_iter().map(|(_, e)| e).collect();
    state.last_check = Some(state.last_check.map_or(now_utc, |t| t.max(now_utc)));
    out.state = state;
    Ok(out)
}

/// Checks one tag: reads `data.csv` (rows dated outside `opts.window` are
/// malformed, as in a profile run), its state and its profiles. Writes
/// nothing: the caller delivers the events, then calls [`save_check_states`].
pub fn check_tag(
    tag: &Tag,
    opts: &ProfileOptions,
    check: &CheckOptions,
    now_utc: i64,
) -> TagOutcome<Checked> {
    let mut warnings = Vec::new();
    let mut data = None;
    let result = (|| {
        let parsed = read_data(tag, opts.window, &mut warnings)?;
        data = Some(DataStats::of(&parsed));
        let state = state::load(&tag.dir).map_err(Error::from)?;
        let mut files = ProfileFiles::list(&tag.dir).map_err(Error::from)?;
        check_rows(
            &parsed.rows,
            &opts.protocols,
            state,
            &mut files,
            check,
            now_utc,
        )
        .map_err(Error::from)
    })();
    TagOutcome {
        warnings,
        result,
        data,
    }
}

/// ISO 8601 as in profiles (`2018-08-24T19:19:20.737000`, UTC).
fn iso(t: i64) -> String {
    format_timestamp(t)
}

/// Rounds to 3 decimals (severity) for a stable, readable line.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The figures of an event's metrics, as a JSON object by metric.
struct ByMetric<'a>(&'a [Reading], fn(&Reading) -> f64);

impl serde::Serialize for ByMetric<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for r in self.0 {
            m.serialize_entry(&r.metric, &(self.1)(r))?;
        }
        m.end()
    }
}

/// An event's line, fields in this order.
#[derive(serde::Serialize)]
struct Line<'a> {
    event: &'static str,
    tag: &'a str,
    protocol: String,
    metric: Vec<&'a str>,
    start: String,
    hours: u32,
    value: ByMetric<'a>,
    yhat: ByMetric<'a>,
    yhat_lower: ByMetric<'a>,
    yhat_upper: ByMetric<'a>,
    direction: &'static str,
    severity: f64,
    time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last: Option<String>,
}

impl Event {
    /// The event as one line of JSON (no line end): `event`, `tag`,
    /// `protocol`, `metric` (the metrics out of profile), `start`, `hours`,
    /// `value`, `yhat`, `yhat_lower`, `yhat_upper` (objects by metric),
    /// `direction`, `severity`, `time` (the row the figures are from) and,
    /// for an end, `last` (the last out-of-profile row).
    pub fn to_json_line(&self, tag: &str) -> String {
        let r = &self.figures.readings[..];
        let line = Line {
            event: match self.kind {
                EventKind::Start => "start",
                EventKind::End => "end",
            },
            tag,
            protocol: self.protocol.key(),
            metric: r.iter().map(|x| x.metric.as_str()).collect(),
            start: iso(self.start),
            hours: self.hours,
            value: ByMetric(r, |x| x.value),
            yhat: ByMetric(r, |x| x.yhat),
            yhat_lower: ByMetric(r, |x| x.yhat_lower),
            yhat_upper: ByMetric(r, |x| x.yhat_upper),
            direction: self.direction.key(),
            severity: round3(self.figures.severity),
            time: iso(self.figures.time),
            last: self.last.map(iso),
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}
