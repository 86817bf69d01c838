//! The MSTL-class candidate of [`super::Model::Auto`]: the history
//! interpolated onto an hourly grid ending at its last timestamp, its daily
//! and weekly components estimated by MSTL (loess, so that the shapes may
//! drift over the weeks), the deseasonalised series forecast by simple
//! exponential smoothing (ETS(A,N,N), its smoothing weight chosen by least
//! squares), and the last cycle of each component repeated ahead. Also
//! the seasonal naive forecasts that `auto` weighs beside it: the same hour
//! a week earlier, and the same hour of the latest earlier day of the same
//! type (weekday or weekend day).

use super::design::{is_weekend, DAY_US, HOUR_US, WEEK_US};
use super::irls::median;
use super::stl::{mstl, robustness_weights, Mstl, StlParams};

/// Periods in hours of the components, each used when the grid holds two
/// of them, with its seasonal loess window (statsforecast's MSTL: 7 + 4 i
/// for the i-th period, 1-based).
const PERIODS: [(usize, usize); 2] = [(24, 11), (168, 15)];
/// Hours of history decomposed at most (12 weeks): older shapes hardly
/// weigh in the loess windows, and the cost stays bounded.
const MAX_GRID_HOURS: i64 = 12 * 168;
/// Remainders beyond this many robust scales are clipped before the level
/// is smoothed (see [`Decomposition::fit`]).
const OUTLIER_SCALES: f64 = 4.0;
/// Remainders beyond this many robust scales are spikes: the decomposition
/// is redone with robustness weights (three times the cost; after
/// netprofile's 0.95 quantile drop hardly any history has them).
const SPIKE_SCALES: f64 = 10.0;
/// A seasonal naive longer than a day is fitted only when its in-sample
/// squared errors are below this share of the daily naive's (on the
/// backtests: 1.0 let it into CESNET, 23.30 -> 23.56 sMAPE; 0.7 keeps
/// CESNET at 23.29 and gains the same on the generated series).
const WEEKLY_NAIVE_GATE: f64 = 0.7;
/// Robust MSTL passes when the history has spikes.
const ROBUST_PASSES: usize = 2;
/// STL inner iterations in each MSTL round (the reference's 2 cost twice
/// as much for the same backtest figures).
const STL_INNER: usize = 1;
/// MSTL rounds (statsforecast's default) with at least
/// [`FULL_ROUNDS_HOURS`] of history; one with less (the backtests of
/// two-week histories are the same, the fits 1.2x faster; with eight weeks
/// one round loses 0.1-1.1 sMAPE).
const MSTL_ROUNDS: usize = 2;
/// History (grid hours) from which MSTL runs [`MSTL_ROUNDS`] rounds.
const FULL_ROUNDS_HOURS: usize = 3 * 168;
/// Bounds of the smoothing weight of the level.
const ALPHA_RANGE: (f64, f64) = (1e-4, 0.9999);
/// Golden-section steps on the smoothing weight (the bracket shrinks to
/// 0.618^40, far below any effect on the forecast).
const ALPHA_STEPS: usize = 20;

/// A fitted decomposition: what the forecast needs.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Decomposition {
    /// The last grid instant (the last timestamp of the history).
    pub end_us: i64,
    /// Last cycle of each seasonal component: `cycle[p - 1]` is its value at
    /// `end_us`, `cycle[p - 1 - k]` at `k` hours before.
    pub cycles: Vec<Vec<f64>>,
    /// Level of the deseasonalised series at `end_us`.
    pub level: f64,
    /// Root mean square of the level's one-step errors in the history.
    pub sigma: f64,
    /// How the forecast continues the history.
    pub ahead: Ahead,
}

/// How a [`Decomposition`] forecasts past the end of its history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Ahead {
    /// The level plus each component's last cycle, repeated.
    Cycles,
    /// `cycles[0]` is the last week and an hour of the history as it is,
    /// read at the same hour of the latest earlier day of the same type
    /// (see [`same_day_type_source`]).
    SameDayType,
}

/// What a [`Decomposition`] holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kind {
    /// MSTL components (seasonal loess of this degree) and a smoothed
    /// level.
    Mstl(usize),
    /// The last cycle of this many hours as it is (seasonal naive).
    SeasonalNaive(usize),
    /// The same hour of the previous weekday for a weekday, of the same
    /// day a week earlier for a weekend day (seasonal naive by day type).
    DayTypeNaive,
}

impl Decomposition {
    /// Decomposes `(ts, y)` (sorted timestamps, at least one row) over at
    /// most the last [`MAX_GRID_HOURS`]; `None` when the rows are too sparse
    /// for an hourly grid (more than two grid points a row, plus two days)
    /// or a seasonal naive's history is shorter than its period (or, longer
    /// than a day, it does not beat the daily naive, see
    /// [`WEEKLY_NAIVE_GATE`]).
    pub fn fit(ts: &[i64], y: &[f64], kind: Kind) -> Option<Self> {
        let last = *ts.last()?;
        let from = ts.partition_point(|&t| t < last.saturating_sub(MAX_GRID_HOURS * HOUR_US));
        let (ts, y) = (&ts[from..], &y[from..]);
        let grid = hourly_grid(ts, y);
        if grid.len() > 2 * ts.len() + 48 {
            return None;
        }
        match kind {
            Kind::Mstl(degree) => Some(Self::mstl(&grid, last, degree)),
            Kind::DayTypeNaive => Self::day_type_naive(&grid, last),
            Kind::SeasonalNaive(period) => {
                if grid.len() <= period {
                    return None;
                }
                let cycle = grid[grid.len() - period..].to_vec();
                let steps = grid.len() - period;
                let sse_at = |lag: usize| -> f64 {
                    (period..grid.len())
                        .map(|i| (grid[i] - grid[i - lag]).powi(2))
                        .sum()
                };
                let sse = sse_at(period);
                // A weekly naive only where the same hour a week earlier is
                // clearly closer than a day earlier (not on traffic whose
                // weeks differ, such as CESNET's).
                if period > 24 && sse >= WEEKLY_NAIVE_GATE * sse_at(24) {
                    return None;
                }
                Some(Decomposition {
                    end_us: last,
                    cycles: vec![cycle],
                    level: 0.0,
                    sigma: (sse / steps as f64).sqrt(),
                    ahead: Ahead::Cycles,
                })
            }
        }
    }

    /// MSTL of `grid` (hourly, ending at `last`) and the smoothed level of
    /// its deseasonalised values.
    fn mstl(grid: &[f64], last: i64, degree: usize) -> Self {
        let periods: Vec<StlParams> = PERIODS
            .iter()
            .filter(|&&(p, _)| grid.len() >= 2 * p)
            .map(|&(p, window)| StlParams {
                seasonal_deg: degree,
                inner: STL_INNER,
                ..StlParams::new(p, window)
            })
            .collect();
        let rounds = if grid.len() >= FULL_ROUNDS_HOURS {
            MSTL_ROUNDS
        } else {
            1
        };
        let mut parts = mstl(grid, &periods, rounds, None);
        // Remainders beyond OUTLIER_SCALES robust scales are clipped before
        // the level is smoothed; with gross outliers (beyond SPIKE_SCALES)
        // the decomposition is first redone with STL's robustness weights,
        // so that a spike bends neither a seasonal shape nor the trend.
        let remainder = |parts: &Mstl| -> Vec<f64> {
            parts
                .deseason
                .iter()
                .zip(&parts.trend)
                .map(|(d, t)| d - t)
                .collect()
        };
        let mut rem = remainder(&parts);
        let scale = mad_scale(&rem);
        if !periods.is_empty() && scale > 0.0 && rem.iter().any(|r| r.abs() > SPIKE_SCALES * scale)
        {
            for _ in 0..ROBUST_PASSES {
                let rw = robustness_weights(&rem);
                parts = mstl(grid, &periods, rounds, Some(&rw));
                rem = remainder(&parts);
            }
        }
        let bound = OUTLIER_SCALES * mad_scale(&rem);
        let level_input: Vec<f64> = parts
            .trend
            .iter()
            .zip(&rem)
            .map(|(t, r)| t + r.clamp(-bound, bound))
            .collect();
        let cycles = parts
            .seasons
            .iter()
            .zip(&periods)
            .map(|(s, p)| s[s.len() - p.period..].to_vec())
            .collect();
        let (level, sigma) = smooth_level(&level_input);
        Decomposition {
            end_us: last,
            cycles,
            level,
            sigma,
            ahead: Ahead::Cycles,
        }
    }

    /// The day-type naive of `grid` (hourly, ending at `last`): `None`
    /// with a week of grid or less, or where it is not clearly closer than
    /// the same hour a day earlier in the history (its squared one-step
    /// errors at least [`WEEKLY_NAIVE_GATE`] times the daily naive's).
    fn day_type_naive(grid: &[f64], last: i64) -> Option<Self> {
        let n = grid.len();
        if n <= WEEK_HOURS {
            return None;
        }
        let at = |i: usize| last - (n - 1 - i) as i64 * HOUR_US;
        let sse: f64 = (WEEK_HOURS..n)
            .map(|i| (grid[i] - grid[i - day_type_lag_hours(at(i))]).powi(2))
            .sum();
        let daily: f64 = (WEEK_HOURS..n)
            .map(|i| (grid[i] - grid[i - 24]).powi(2))
            .sum();
        if sse >= WEEKLY_NAIVE_GATE * daily {
            return None;
        }
        Some(Decomposition {
            end_us: last,
            cycles: vec![grid[n - WEEK_HOURS - 1..].to_vec()],
            level: 0.0,
            sigma: (sse / (n - WEEK_HOURS) as f64).sqrt(),
            ahead: Ahead::SameDayType,
        })
    }

    /// Point forecast at `t`: the level plus each component's last cycle
    /// continued periodically (linearly interpolated between the hours).
    /// Instants before the end get the same: the last cycles and level.
    /// The day-type naive reads the history at the same hour of the latest
    /// earlier day of the same type instead.
    pub fn mean_at(&self, t: i64) -> f64 {
        match self.ahead {
            Ahead::Cycles => {
                let hours = self.hours_ahead(t);
                self.level + self.cycles.iter().map(|c| cycle_at(c, hours)).sum::<f64>()
            }
            Ahead::SameDayType => {
                let source = same_day_type_source(t, self.end_us);
                recent_at(&self.cycles[0], self.hours_ahead(source))
            }
        }
    }

    /// Hours from the end of the history to `t`.
    pub fn hours_ahead(&self, t: i64) -> f64 {
        (i128::from(t) - i128::from(self.end_us)) as f64 / HOUR_US as f64
    }
}

/// Hours in a week: the weekly naive's period, the day-type naive's reach.
pub(super) const WEEK_HOURS: usize = 168;

/// Hours back from an hourly grid instant `t` to the same hour of the
/// latest earlier day of its type: a week for a weekend day, three days
/// for a Monday (back to Friday), else a day.
fn day_type_lag_hours(t: i64) -> usize {
    if is_weekend(t) {
        WEEK_HOURS
    } else if is_weekend(t.saturating_sub(DAY_US)) {
        72
    } else {
        24
    }
}

/// The instant whose value the day-type naive forecasts for `t`, the
/// history ending at `end`: for a weekend day the same instant whole weeks
/// earlier, the latest not after `end`; for a weekday the same instant
/// whole days earlier, the latest not after `end` that is on a weekday.
/// Always within the week before `end` (after `end - 1 week`).
pub(super) fn same_day_type_source(t: i64, end: i64) -> i64 {
    let behind = t.saturating_sub(end).max(0);
    let whole = |unit: i64| (behind / unit + i64::from(behind % unit != 0)).max(1);
    if is_weekend(t) {
        t.saturating_sub(whole(WEEK_US).saturating_mul(WEEK_US))
    } else {
        let mut source = t.saturating_sub(whole(DAY_US).saturating_mul(DAY_US));
        while is_weekend(source) {
            source -= DAY_US;
        }
        source
    }
}

/// The value of `recent` (hourly values ending at the end of the history)
/// at `hours` (at most 0) after the end, linearly interpolated; clamped to
/// its first value before it.
fn recent_at(recent: &[f64], hours: f64) -> f64 {
    let last = recent.len() - 1;
    let pos = (last as f64 + hours).clamp(0.0, last as f64);
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(last);
    recent[lo] + (pos - lo as f64) * (recent[hi] - recent[lo])
}

/// The value of a component whose last cycle is `cycle` at `hours` after
/// the end, periodically continued, linearly interpolated.
fn cycle_at(cycle: &[f64], hours: f64) -> f64 {
    let p = cycle.len() as f64;
    let pos = (p - 1.0 + hours).rem_euclid(p);
    let lo = pos.floor();
    let frac = pos - lo;
    let lo = (lo as usize).min(cycle.len() - 1);
    let hi = (lo + 1) % cycle.len();
    cycle[lo] + frac * (cycle[hi] - cycle[lo])
}

/// `y` at hourly instants ending at the last timestamp and reaching back to
/// the first, linearly interpolated in time between the rows (the first of
/// equal timestamps counts).
pub(super) fn hourly_grid(ts: &[i64], y: &[f64]) -> Vec<f64> {
    let (first, last) = (ts[0], ts[ts.len() - 1]);
    let n = (last.saturating_sub(first) / HOUR_US) as usize + 1;
    let mut grid = Vec::with_capacity(n);
    let mut j = 0;
    for i in 0..n {
        let g = last - (n - 1 - i) as i64 * HOUR_US;
        while j + 1 < ts.len() && ts[j] < g {
            j += 1;
        }
        // ts[j] >= g (or j is the last row); interpolate from j - 1.
        let v = if ts[j] <= g || j == 0 {
            y[j]
        } else {
            let (t0, t1) = (ts[j - 1] as f64, ts[j] as f64);
            let share = (g as f64 - t0) / (t1 - t0);
            y[j - 1] + share * (y[j] - y[j - 1])
        };
        grid.push(v);
    }
    grid
}

/// Simple exponential smoothing of `x` started at its first value, the
/// smoothing weight minimising the sum of squared one-step errors
/// (golden-section search): the final level and the errors' root mean
/// square.
pub(super) fn smooth_level(x: &[f64]) -> (f64, f64) {
    let run = |alpha: f64| {
        let mut level = x[0];
        let mut sse = 0.0;
        for &v in &x[1..] {
            let e = v - level;
            sse += e * e;
            level += alpha * e;
        }
        (level, sse)
    };
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = ALPHA_RANGE;
    let mut c = b - phi * (b - a);
    let mut d = a + phi * (b - a);
    let (mut fc, mut fd) = (run(c).1, run(d).1);
    for _ in 0..ALPHA_STEPS {
        if fc <= fd {
            b = d;
            d = c;
            fd = fc;
            c = b - phi * (b - a);
            fc = run(c).1;
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + phi * (b - a);
            fd = run(d).1;
        }
    }
    let (level, sse) = run((a + b) / 2.0);
    let steps = (x.len() - 1).max(1) as f64;
    (level, (sse / steps).sqrt())
}

/// Normal-consistent median absolute deviation from the median.
fn mad_scale(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    let mid = median(&mut v);
    let mut dev: Vec<f64> = x.iter().map(|r| (r - mid).abs()).collect();
    1.4826 * median(&mut dev)
}

/// True when the history (`ts`, values `y`) repeats from week to week:
/// the same hour a week earlier is clearly closer than a day earlier (the
/// gate of the weekly naive, [`WEEKLY_NAIVE_GATE`]). False for a week of
/// history or less, or one too sparse for the hourly grid.
pub(super) fn weeks_repeat(ts: &[i64], y: &[f64]) -> bool {
    Decomposition::fit(ts, y, Kind::SeasonalNaive(WEEK_HOURS)).is_some()
}
