//! The residual corrections of the `+lag24` candidates: the residual of
//! the same time a day earlier and a local level when the last hours sit
//! clearly off the fit.

use super::design::DAY_US;
use super::irls::median;

/// The last day's residuals of a fit and its local level.
pub(super) struct Recent {
    /// Median residual of the last [`LEVEL_WINDOW_US`] when it exceeds
    /// [`LEVEL_GATE`] robust scales (a level that moved), else 0.
    pub level: f64,
    /// `(timestamp, residual - level)` of the rows in the last day and three
    /// hours, clipped to [`LAG_CLIP`] robust scales.
    pub day: Vec<(i64, f64)>,
}

impl Recent {
    /// Of the rows `..end`, `fitted(i)` being the fit's value at row `i` and
    /// `sigma` its robust residual scale.
    pub(super) fn new(
        ts: &[i64],
        y: &[f64],
        end: usize,
        sigma: f64,
        fitted: impl Fn(usize) -> f64,
    ) -> Self {
        let Some(&last) = ts[..end].last() else {
            return Recent {
                level: 0.0,
                day: Vec::new(),
            };
        };
        let from =
            ts[..end].partition_point(|&t| t < last.saturating_sub(DAY_US + 2 * LAG_WINDOW_US));
        let residuals: Vec<(i64, f64)> = (from..end).map(|i| (ts[i], y[i] - fitted(i))).collect();
        let mut recent: Vec<f64> = residuals
            .iter()
            .filter(|&&(t, _)| t > last.saturating_sub(LEVEL_WINDOW_US))
            .map(|&(_, r)| r)
            .collect();
        let recent_median = median(&mut recent);
        let level = if recent_median.abs() > LEVEL_GATE * sigma {
            recent_median
        } else {
            0.0
        };
        let bound = LAG_CLIP * sigma;
        let day: Vec<(i64, f64)> = residuals
            .into_iter()
            .map(|(t, r)| (t, (r - level).clamp(-bound, bound)))
            .collect();
        Recent { level, day }
    }

    /// The local level plus `weight` times the residual a day before `t`.
    pub(super) fn correction(&self, weight: f64, t: i64) -> f64 {
        self.level + weight * lagged(&self.day, t)
    }
}

/// History whose median residual is the local level (6 h; 12 h was worse
/// on all three backtests, by 0.05-0.35 sMAPE).
const LEVEL_WINDOW_US: i64 = 6 * 60 * 60 * 1_000_000;
/// A local level is used when the median residual of the last
/// [`LEVEL_WINDOW_US`] exceeds this many robust residual scales.
const LEVEL_GATE: f64 = 2.0;
/// Residuals entering the daily-lag term are clipped to this many robust
/// residual scales (spikes the median below could let through).
const LAG_CLIP: f64 = 4.0;
/// Half-width of the window around a day-earlier instant whose median
/// residual is the lagged residual (about three rows: a single spike does
/// not pass, a level that moved does).
const LAG_WINDOW_US: i64 = 90 * 60 * 1_000_000;

/// The residual in `day` (sorted `(timestamp, residual)` pairs) whole days
/// before `t`, at the latest `t - k days` not after the last pair: the
/// median of the residuals within [`LAG_WINDOW_US`] of it; 0 when there are
/// none.
pub(super) fn lagged(day: &[(i64, f64)], t: i64) -> f64 {
    let Some(&(last, _)) = day.last() else {
        return 0.0;
    };
    let behind = t.saturating_sub(last).max(0);
    let days = (behind / DAY_US + i64::from(behind % DAY_US != 0)).max(1);
    let target = t.saturating_sub(days.saturating_mul(DAY_US));
    let lo = day.partition_point(|&(s, _)| s < target.saturating_sub(LAG_WINDOW_US));
    let hi = day.partition_point(|&(s, _)| s <= target.saturating_add(LAG_WINDOW_US));
    let mut near: Vec<f64> = day[lo..hi].iter().map(|&(_, r)| r).collect();
    median(&mut near)
}
