//! Hold-out days: the trailing days each candidate forecasts from the
//! history before them, which score the candidates and calibrate the band.

use super::band;
use super::config::{ForecastConfig, Model};
use super::design::{self, DAY_US, HOUR_US, WEEK_US};

impl ForecastConfig {
    /// Hold-out splits (oldest first): train on rows before `train_end`,
    /// forecast the following day. A split needs two days of training
    /// history (a calibration-only one two weeks) and at least as many
    /// training rows as columns.
    pub(super) fn holdout_cuts(&self, sorted_ts: &[i64], width: usize) -> Vec<HoldoutCut> {
        let first = sorted_ts[0];
        let last = sorted_ts[sorted_ts.len() - 1];
        let scored_days = self.holdout_days as i64;
        // (days back, whether the day scores the candidates)
        let mut days: Vec<(i64, bool)> = (1..=scored_days).map(|d| (d, true)).collect();
        if self.model == Model::Auto {
            let extra = same_weekend_day(first, last, scored_days);
            days.extend(extra.map(|d| (d, true)));
            days.extend(
                (scored_days + 1..=self.auto_calibration_days as i64)
                    .filter(|&d| Some(d) != extra)
                    .map(|d| (d, false)),
            );
        }
        days.sort_unstable_by_key(|&(d, _)| std::cmp::Reverse(d));
        days.into_iter()
            .filter_map(|(d, scored)| {
                let cut = last.checked_sub(d.checked_mul(DAY_US)?)?;
                let train_end = sorted_ts.partition_point(|&t| t <= cut);
                let test_end = sorted_ts.partition_point(|&t| t <= cut.saturating_add(DAY_US));
                let trained = sorted_ts[..train_end].last().map_or(0, |t| t - first);
                let long_enough = cut.saturating_sub(first) >= 2 * DAY_US
                    && (scored || trained >= MIN_CALIBRATION_HISTORY_US);
                (long_enough && train_end >= width && test_end > train_end).then_some(HoldoutCut {
                    train_end,
                    test_end,
                    scored,
                })
            })
            .collect()
    }
}

/// The kinds of day of the 24 hours after `start`: its weekend hours and
/// its Sunday hours (bit `h - 1` for the hour `h` hours after `start`).
/// Saturday and Sunday are told apart because `auto`'s Sunday candidate
/// forecasts them apart.
fn day_kinds(start: i64) -> (u32, u32) {
    (1..=24).fold((0, 0), |(weekend, sunday), h| {
        let t = start.saturating_add(h * HOUR_US);
        (
            weekend | (u32::from(design::is_weekend(t)) << (h - 1)),
            sunday | (u32::from(design::is_sunday(t)) << (h - 1)),
        )
    })
}

/// The extra hold-out day of [`Model::Auto`], in days before the last
/// timestamp `last` (`first` the first): when none of the last
/// `holdout_days` days has the Saturday and Sunday hours of the forecast's
/// first day (the day after `last`; [`day_kinds`]), the nearest earlier
/// day that has them (a week before at the latest), if a week of history
/// precedes it (so that every candidate, the weekly naive too, forecasts
/// it); else none. Without it, a forecast landing on a weekend is blended
/// by weekday errors only, and one landing on a Sunday by a Saturday's.
fn same_weekend_day(first: i64, last: i64, holdout_days: i64) -> Option<i64> {
    let ahead = day_kinds(last);
    let day_mask = |d: i64| day_kinds(last.saturating_sub(d * DAY_US));
    if (1..=holdout_days).any(|d| day_mask(d) == ahead) {
        return None;
    }
    (holdout_days + 1..=7)
        .find(|&d| day_mask(d) == ahead)
        .filter(|&d| last.saturating_sub(d * DAY_US).saturating_sub(first) >= WEEK_US + HOUR_US)
}

/// History an `Auto` calibration-only hold-out day needs before it: two
/// weeks (336 hours, from the first row to the last before the day; the
/// MSTL candidates start an hour earlier), so that every candidate of a
/// long history forecasts it much as it forecasts the day ahead (with
/// fewer weeks the band would be calibrated on errors the forecast does
/// not make).
const MIN_CALIBRATION_HISTORY_US: i64 = 2 * WEEK_US;

/// Normal-consistent scales of the hold-out errors below and above the
/// forecast (negative and positive errors), each from the 80% quantile of
/// the absolute errors of its side (robust to a spike in a held-out day,
/// exact for Gaussian errors); traffic errors are skewed (bursts upward), so
/// the band is asymmetric. A side with fewer than [`MIN_SIDE_ERRORS`] errors
/// uses the scale of all errors; 0 without errors.
pub(super) fn holdout_scales(errors: &[f64]) -> [f64; 2] {
    let both = abs_quantile_scale(errors.iter().copied());
    let side = |positive: bool| {
        let side = errors.iter().filter(|e| (**e > 0.0) == positive);
        if side.clone().count() < MIN_SIDE_ERRORS {
            both
        } else {
            abs_quantile_scale(side.copied())
        }
    };
    [side(false), side(true)]
}

/// Hold-out errors a side of the band needs for its own scale.
const MIN_SIDE_ERRORS: usize = 8;

/// 80% quantile of `|e|` over the normal 90% quantile; 0 when empty.
pub(super) fn abs_quantile_scale(errors: impl Iterator<Item = f64>) -> f64 {
    let mut abs: Vec<f64> = errors.map(f64::abs).collect();
    if abs.is_empty() {
        return 0.0;
    }
    abs.sort_by(f64::total_cmp);
    let pos = 0.8 * (abs.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let q = abs[lo] + (abs[hi] - abs[lo]) * (pos - lo as f64);
    q / band::normal_quantile(0.9)
}

/// Rows `..train_end` train a hold-out fit scored on `train_end..test_end`.
#[derive(Debug, Clone, Copy)]
pub(super) struct HoldoutCut {
    /// End (exclusive) of the training rows.
    pub train_end: usize,
    /// End (exclusive) of the held-out rows.
    pub test_end: usize,
    /// Whether the day scores the candidates (else it only calibrates
    /// the band; see [`ForecastConfig::auto_calibration_days`]).
    pub scored: bool,
}
