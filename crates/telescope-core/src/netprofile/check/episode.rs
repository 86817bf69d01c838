//! The episode rule: one tag × protocol's rows in time order, each compared
//! with the profile in force, open and close episodes.
//!
//! A row is *out of profile* on one side when at least
//! [`CheckOptions::min_metrics`] of its protocol's metrics (bytes, packets,
//! flow_count; all of them when fewer are forecast) are outside the band on
//! that side and beyond [`CheckOptions::rise`] times `yhat` (above) or
//! `yhat` / [`CheckOptions::fall`] (below), and the most severe of them has
//! a [`Reading::severity`] of at least [`CheckOptions::severity`]. An
//! episode opens after [`CheckOptions::grace`] consecutive such rows on one
//! side; it stays open while rows have as many metrics outside the band on
//! that side (any severity or size), and closes after
//! [`CheckOptions::close_after`] rows that do not, or at once when a row is
//! out of profile on the other side. So a flood that moves all three
//! metrics of a protocol is one episode, not three, and not one per row.

use serde::{Deserialize, Serialize};

use crate::netprofile::protocol::Protocol;

/// The knobs of the rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckOptions {
    /// Consecutive out-of-profile rows before an episode opens.
    pub grace: u32,
    /// How far outside the band a metric must be, in multiples of the band's
    /// distance from `yhat` on a log scale (1: the band's edge).
    pub severity: f64,
    /// Rows back inside the band after which an open episode closes.
    pub close_after: u32,
    /// Metrics of one protocol that must agree (capped at those forecast).
    pub min_metrics: usize,
    /// Above the band, a metric opens an episode only at this many times
    /// `yhat` or more.
    pub rise: f64,
    /// Below the band, only at `yhat` divided by this or less.
    pub fall: f64,
}

impl Default for CheckOptions {
    /// Grace 2 rows, severity 2, close after 2 rows, 2 metrics of 3,
    /// rise 1.5, fall 2 (see docs/check.md for how they were chosen).
    fn default() -> Self {
        CheckOptions {
            grace: 2,
            severity: 2.0,
            close_after: 2,
            min_metrics: 2,
            rise: 1.5,
            fall: 2.0,
        }
    }
}

/// Above or below the band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// More traffic than the band allows.
    Above,
    /// Less.
    Below,
}

impl Direction {
    /// `above` or `below`.
    pub fn key(self) -> &'static str {
        match self {
            Direction::Above => "above",
            Direction::Below => "below",
        }
    }
}

/// One metric of one row against the profile's point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// `bytes`, `packets` or `flow_count`.
    pub metric: String,
    /// The row's value.
    pub value: f64,
    /// The profile's point.
    pub yhat: f64,
    /// Its band.
    pub yhat_lower: f64,
    /// Its band.
    pub yhat_upper: f64,
}

/// Severity when the band's edge is at `yhat` (or the value is 0 below it).
const SEVERITY_CAP: f64 = 99.0;

impl Reading {
    /// The side of the band the value is on, if outside.
    pub fn direction(&self) -> Option<Direction> {
        if self.value > self.yhat_upper {
            Some(Direction::Above)
        } else if self.value < self.yhat_lower {
            Some(Direction::Below)
        } else {
            None
        }
    }

    /// True when the value is at least `rise` times `yhat` (above) or at
    /// most `yhat / fall` (below).
    pub fn beyond(&self, d: Direction, rise: f64, fall: f64) -> bool {
        match d {
            Direction::Above => self.value >= rise * self.yhat,
            Direction::Below => self.value * fall <= self.yhat,
        }
    }

    /// How far outside the band, on a log scale relative to the band's
    /// distance from `yhat`: `ln(value / yhat) / ln(upper / yhat)` above,
    /// `ln(yhat / value) / ln(yhat / lower)` below; more than 1 outside the
    /// band, 0 inside it; at most 99.
    pub fn severity(&self) -> f64 {
        let ratio = |num: f64, den: f64| {
            // Values are counts: 1 stands in for 0 in a logarithm.
            let (n, d) = (num.max(1.0), den.max(1.0));
            (n / d).ln()
        };
        let s = match self.direction() {
            None => return 0.0,
            Some(Direction::Above) => {
                ratio(self.value, self.yhat) / ratio(self.yhat_upper, self.yhat)
            }
            Some(Direction::Below) => {
                ratio(self.yhat, self.value) / ratio(self.yhat, self.yhat_lower)
            }
        };
        if s.is_finite() {
            s.clamp(1.0, SEVERITY_CAP)
        } else {
            SEVERITY_CAP
        }
    }
}

/// The metrics of one row that were outside the band on one side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The row's TIME_FIRST (µs, UTC).
    pub time: i64,
    /// The largest severity among `readings`.
    pub severity: f64,
    /// The metrics outside the band on the episode's side.
    pub readings: Vec<Reading>,
}

/// Consecutive out-of-profile rows not yet an episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// Their side.
    pub direction: Direction,
    /// The first one's TIME_FIRST.
    pub start: i64,
    /// How many.
    pub rows: u32,
    /// The most severe of them.
    pub peak: Snapshot,
}

/// An open episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Open {
    /// Its side.
    pub direction: Direction,
    /// The first out-of-profile row's TIME_FIRST.
    pub start: i64,
    /// Rows from the first to the last outside the band.
    pub hours: u32,
    /// Rows since the first (the last ones may be back inside the band).
    pub rows: u32,
    /// Rows back inside the band since the last outside.
    pub calm: u32,
    /// TIME_FIRST of the last row outside the band.
    pub last_out: i64,
    /// The most severe row.
    pub peak: Snapshot,
}

/// Start or end of an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The episode opened.
    Start,
    /// It closed.
    End,
}

/// An alert: an episode of one protocol opened or closed.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Start or end.
    pub kind: EventKind,
    /// The protocol (its profile key, `TCP`, in the alert line).
    pub protocol: Protocol,
    /// Above or below the band.
    pub direction: Direction,
    /// The first out-of-profile row's TIME_FIRST (µs, UTC).
    pub start: i64,
    /// Rows from the first to the last out of profile.
    pub hours: u32,
    /// Start: the row that opened it; end: the most severe row.
    pub figures: Snapshot,
    /// End: the last out-of-profile row's TIME_FIRST.
    pub last: Option<i64>,
}

/// One tag × protocol's rule state (kept between runs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tracker {
    /// Out-of-profile rows not yet an episode.
    pub pending: Option<Pending>,
    /// The open episode.
    pub open: Option<Open>,
}

/// The side on which at least `need` readings are outside the band with a
/// severity of at least `min`, and their snapshot (the more severe side
/// when both qualify).
fn outside(
    time: i64,
    readings: &[Reading],
    need: usize,
    min: f64,
    (rise, fall): (f64, f64),
) -> Option<(Direction, Snapshot)> {
    let mut best: Option<(Direction, Snapshot)> = None;
    for d in [Direction::Above, Direction::Below] {
        let out: Vec<Reading> = readings
            .iter()
            .filter(|r| r.direction() == Some(d) && r.beyond(d, rise, fall))
            .cloned()
            .collect();
        if out.len() < need {
            continue;
        }
        let severity = out.iter().map(Reading::severity).fold(0.0, f64::max);
        if severity < min {
            continue;
        }
        if best.as_ref().is_none_or(|(_, s)| severity > s.severity) {
            best = Some((
                d,
                Snapshot {
                    time,
                    severity,
                    readings: out,
                },
            ));
        }
    }
    best
}

impl Tracker {
    /// Feeds one row (its TIME_FIRST and the readings of the metrics the
    /// profile in force has); returns the events it causes (an end, a start,
    /// or an end then a start when the traffic crosses to the other side).
    pub fn step(
        &mut self,
        protocol: Protocol,
        time: i64,
        readings: &[Reading],
        opts: &CheckOptions,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        if readings.is_empty() {
            return events;
        }
        let need = opts.min_metrics.clamp(1, readings.len());
        let strong = outside(time, readings, need, opts.severity, (opts.rise, opts.fall));
        let weak = outside(time, readings, need, 1.0, (1.0, 1.0));
        if let Some(open) = &mut self.open {
            let same = weak.as_ref().filter(|(d, _)| *d == open.direction);
            open.rows += 1;
            if let Some((_, snap)) = same {
                open.hours = open.rows;
                open.calm = 0;
                open.last_out = time;
                if snap.severity > open.peak.severity {
                    open.peak = snap.clone();
                }
                return events;
            }
            open.calm += 1;
            let flipped = strong.as_ref().is_some_and(|(d, _)| *d != open.direction);
            if open.calm < opts.close_after.max(1) && !flipped {
                return events;
            }
            events.push(Event {
                kind: EventKind::End,
                protocol,
                direction: open.direction,
                start: open.start,
                hours: open.hours,
                figures: open.peak.clone(),
                last: Some(open.last_out),
            });
            self.open = None;
        }
        let Some((direction, snap)) = strong else {
            self.pending = None;
            return events;
        };
        let mut run = match self.pending.take() {
            Some(p) if p.direction == direction => p,
            _ => Pending {
                direction,
                start: time,
                rows: 0,
                peak: snap.clone(),
            },
        };
        run.rows += 1;
        if snap.severity > run.peak.severity {
            run.peak = snap.clone();
        }
        if run.rows < opts.grace.max(1) {
            self.pending = Some(run);
            return events;
        }
        events.push(Event {
            kind: EventKind::Start,
            protocol,
            direction,
            start: run.start,
            hours: run.rows,
            figures: snap,
            last: None,
        });
        self.open = Some(Open {
            direction,
            start: run.start,
            hours: run.rows,
            rows: run.rows,
            calm: 0,
            last_out: time,
            peak: run.peak,
        });
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(metric: &str, value: f64) -> Reading {
        Reading {
            metric: metric.into(),
            value,
            yhat: 100.0,
            yhat_lower: 50.0,
            yhat_upper: 200.0,
        }
    }

    fn row(values: [f64; 3]) -> Vec<Reading> {
        ["bytes", "packets", "flow_count"]
            .iter()
            .zip(values)
            .map(|(m, v)| reading(m, v))
            .collect()
    }

    #[test]
    fn severity_is_log_distance_relative_to_the_band() {
        // ln(400/100) / ln(200/100) = 2; ln(100/12.5) / ln(100/50) = 3.
        assert!((reading("bytes", 400.0).severity() - 2.0).abs() < 1e-12);
        assert!((reading("bytes", 12.5).severity() - 3.0).abs() < 1e-12);
        assert_eq!(reading("bytes", 150.0).severity(), 0.0);
        assert_eq!(
            reading("bytes", 0.0).severity(),
            99.0_f64.min(100f64.ln() / 2f64.ln())
        );
    }

    #[test]
    fn a_flood_of_three_metrics_is_one_episode() {
        let opts = CheckOptions::default();
        let mut t = Tracker::default();
        // Two rows of 3 metrics at severity 2 (400 vs band 50..200).
        assert!(t.step(Protocol::TCP, 0, &row([400.0; 3]), &opts).is_empty());
        let e = t.step(Protocol::TCP, 1, &row([400.0; 3]), &opts);
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].kind, e[0].start, e[0].hours),
            (EventKind::Start, 0, 2)
        );
        assert_eq!(e[0].figures.readings.len(), 3);
        // Still above the band (severity 1.1 < 1.5 keeps it open).
        assert!(t.step(Protocol::TCP, 2, &row([215.0; 3]), &opts).is_empty());
        assert!(t.step(Protocol::TCP, 3, &row([100.0; 3]), &opts).is_empty());
        let e = t.step(Protocol::TCP, 4, &row([100.0; 3]), &opts);
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].kind, e[0].start, e[0].hours, e[0].last),
            (EventKind::End, 0, 3, Some(2))
        );
    }

    #[test]
    fn one_metric_or_one_row_alone_opens_nothing() {
        let opts = CheckOptions::default();
        let mut t = Tracker::default();
        for i in 0..5 {
            assert!(t
                .step(Protocol::TCP, i, &row([1e6, 100.0, 100.0]), &opts)
                .is_empty());
        }
        assert!(t.step(Protocol::TCP, 5, &row([1e6; 3]), &opts).is_empty());
        assert!(t.step(Protocol::TCP, 6, &row([100.0; 3]), &opts).is_empty());
        assert!(t.step(Protocol::TCP, 7, &row([1e6; 3]), &opts).is_empty());
        assert_eq!(t.pending.as_ref().map(|p| p.start), Some(7));
    }

    #[test]
    fn small_changes_outside_a_narrow_band_open_nothing() {
        let opts = CheckOptions::default();
        let narrow = |metric: &str, value: f64| Reading {
            yhat_lower: 90.0,
            yhat_upper: 110.0,
            ..reading(metric, value)
        };
        let rows = |v: f64| -> Vec<Reading> {
            ["bytes", "packets", "flow_count"]
                .iter()
                .map(|m| narrow(m, v))
                .collect()
        };
        // 140: severity ln(1.4)/ln(1.1) = 3.5 but only 1.4x yhat (rise 1.5);
        // 60: severity 4.8 but only yhat / 1.67 (fall 2).
        let mut t = Tracker::default();
        for (i, v) in [140.0, 140.0, 60.0, 60.0, 140.0].into_iter().enumerate() {
            assert!(
                t.step(Protocol::TCP, i as i64, &rows(v), &opts).is_empty(),
                "{v}"
            );
        }
        // 150 and 50 are enough.
        assert!(t.step(Protocol::TCP, 5, &rows(150.0), &opts).is_empty());
        assert_eq!(t.step(Protocol::TCP, 6, &rows(150.0), &opts).len(), 1);
        let mut t = Tracker::default();
        t.step(Protocol::TCP, 0, &rows(50.0), &opts);
        assert_eq!(
            t.step(Protocol::TCP, 1, &rows(50.0), &opts)[0].direction,
            Direction::Below
        );
    }

    #[test]
    fn crossing_to_the_other_side_ends_and_starts_over() {
        let opts = CheckOptions::default();
        let mut t = Tracker::default();
        t.step(Protocol::TCP, 0, &row([400.0; 3]), &opts);
        assert_eq!(t.step(Protocol::TCP, 1, &row([400.0; 3]), &opts).len(), 1);
        let e = t.step(Protocol::TCP, 2, &row([10.0; 3]), &opts);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].kind, e[0].hours), (EventKind::End, 2));
        let e = t.step(Protocol::TCP, 3, &row([10.0; 3]), &opts);
        assert_eq!(
            (e[0].kind, e[0].direction, e[0].start),
            (EventKind::Start, Direction::Below, 2)
        );
    }
}
