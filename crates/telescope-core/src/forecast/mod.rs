//! A native additive seasonal-trend forecaster (Prophet-like, deterministic).
//!
//! [`Model::Auto`] (the default) fits, per series, the seasonal-trend model
//! below on the values and on their logarithm, and the same with the
//! weekend's own level and daily shape (on the logarithm), each corrected by
//! recent residuals (the residual of the same time a day earlier, a local
//! level when the last hours sit clearly off the fit, and the trend
//! continued with its mean slope over the history), and averages their
//! forecasts and bands with weights set by their errors on held-out
//! trailing days (see `select.rs`). With two weeks of history, MSTL-class
//! candidates join them (daily and weekly shapes by loess, which may drift
//! over the weeks, plus a smoothed level; see `decompose.rs` and
//! `stl.rs`), and with eight days where weeks repeat, the same hour last
//! week. [`Model::SeasonalTrend`] is the seasonal-trend model alone.
//!
//! Seasonal-trend model: `y(t) = g(t) + s(t) + noise` (or `g(t) (1 + s(t))` in
//! [`SeasonalityMode::Multiplicative`]), with `g` piecewise linear through
//! candidate changepoints under a sparsity (L1) penalty on slope changes and
//! `s` Fourier terms of a daily and a weekly period on the real timestamps.
//! The fit is a robust (Huber), penalised, recency-weighted least squares
//! solved by deterministic reweighting. The band combines a noise scale
//! calibrated on hold-out days of the history with trend uncertainty growing
//! with the horizon.
//!
//! A history spanning less than an hour (last minus first timestamp, e.g.
//! rows logged within one second) is fitted as a flat level: no trend slope,
//! no changepoints and no seasonal terms, since a slope estimated over so
//! short a span would extrapolate to absurd values. Seasonal terms need two
//! of their periods of history (two days, two weeks).
//!
//! An unfitted [`ForecastConfig`] has [`ForecastConfig::fit`] returning a
//! [`FittedModel`], whose [`FittedModel::predict`] returns a plain
//! [`Forecast`]. Timestamps are microseconds since the Unix epoch (UTC).
//!
//! # Example
//!
//! Three days of an hourly series with a daily cycle, forecast six hours
//! ahead with an 80% band:
//!
//! ```
//! use telescope_core::forecast::{ForecastConfig, ModelName};
//!
//! const HOUR: i64 = 3_600_000_000;
//! let start = 1_704_067_200_000_000; // 2024-01-01T00:00:00Z
//! let timestamps: Vec<i64> = (0..72).map(|h| start + h * HOUR).collect();
//! let values: Vec<f64> = (0..72)
//!     .map(|h| 100.0 + 20.0 * (std::f64::consts::TAU * h as f64 / 24.0).sin())
//!     .collect();
//!
//! let model = ForecastConfig::default().fit(&timestamps, &values)?;
//! let ahead: Vec<i64> = (72..78).map(|h| start + h * HOUR).collect();
//! let forecast = model.predict(&ahead, 0.8)?;
//!
//! assert_eq!(forecast.yhat.len(), 6);
//! for i in 0..6 {
//!     assert!(forecast.lower[i] <= forecast.yhat[i] && forecast.yhat[i] <= forecast.upper[i]);
//! }
//! // Hour 72 is midnight again: the cycle is at its mean.
//! assert!((forecast.yhat[0] - 100.0).abs() < 5.0, "{}", forecast.yhat[0]);
//! println!("fitted as {}", model.model_name());
//! assert!(ModelName::ALL.contains(&model.model_name()));
//! # Ok::<(), telescope_core::forecast::ForecastError>(())
//! ```

mod band;
mod decompose;
mod design;
mod irls;
mod model_name;
mod select;
mod solver;
mod space;
mod stl;
#[cfg(test)]
mod tests;

use design::{Layout, Seasonality, DAY_US, HOUR_US, WEEK_US};
use irls::{components, Estimate};
use space::Space;
use thiserror::Error;

pub use model_name::{ModelName, UnknownModelName};

/// How seasonality combines with the trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeasonalityMode {
    /// y = trend + seasonality.
    #[default]
    Additive,
    /// y = trend * (1 + seasonality).
    Multiplicative,
}

/// Errors of fitting or predicting, checked on input.
#[derive(Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum ForecastError {
    /// Fewer points than the model needs.
    #[error("too few points: {got} (need at least {need})")]
    TooFewPoints {
        /// Points given.
        got: usize,
        /// Points needed.
        need: usize,
    },
    /// A value or timestamp is NaN or infinite.
    #[error("non-finite value at index {index}")]
    NonFinite {
        /// Index of the first offending value.
        index: usize,
    },
    /// Timestamps and values differ in length.
    #[error("{timestamps} timestamps but {values} values")]
    LengthMismatch {
        /// Number of timestamps.
        timestamps: usize,
        /// Number of values.
        values: usize,
    },
    /// The interval level is not in (0, 1).
    #[error("interval level {0} is not in (0, 1)")]
    BadLevel(f64),
    /// A configuration field is out of its range.
    #[error("invalid configuration: {0}")]
    BadConfig(&'static str),
    /// The penalised least-squares system could not be solved.
    #[error("the model could not be fitted (numerically singular system)")]
    Singular,
}

/// Which model [`ForecastConfig::fit`] fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Model {
    /// Per series, a blend of candidates weighted by their errors on the
    /// held-out trailing days: the seasonal-trend model on the values and
    /// on their logarithm, and with the weekend's own level and daily shape
    /// on the logarithm, all corrected by recent residuals; MSTL-class
    /// decompositions with two weeks of history, and the same hour last
    /// week where weeks repeat (see [`FittedModel::model_name`]).
    #[default]
    Auto,
    /// The seasonal-trend model alone (daily and weekly Fourier terms on
    /// every day, no local level): the forecaster before `Auto`.
    SeasonalTrend,
}

/// Unfitted model configuration. `Default` gives the tuned defaults.
#[derive(Debug, Clone)]
pub struct ForecastConfig {
    /// The model: automatic choice per series (default) or the plain
    /// seasonal-trend model.
    pub model: Model,
    /// Harmonics of the weekend's own daily shape (added to the daily terms
    /// on Saturdays and Sundays) in the `Auto` candidate that has one.
    pub weekend_daily_order: usize,
    /// Trailing days held out one at a time under `Auto` (they score the
    /// candidates and calibrate the band); `holdout_days` is the
    /// seasonal-trend model's.
    pub auto_holdout_days: usize,
    /// `changepoint_range` under `Auto`: changepoints reach closer to the
    /// end, so that the trend can settle after a recent level shift.
    pub auto_changepoint_range: f64,
    /// Additive (default) or multiplicative seasonality.
    pub seasonality_mode: SeasonalityMode,
    /// Number of candidate changepoints (Prophet: 25).
    pub n_changepoints: usize,
    /// Share of the history (by rows) holding changepoints (Prophet: 0.8).
    pub changepoint_range: f64,
    /// Laplace scale of slope changes in history units; smaller is
    /// straighter (Prophet default 0.05, the original tool 0.01).
    pub changepoint_prior_scale: f64,
    /// Gaussian prior scale of the Fourier coefficients (Prophet: 10).
    pub seasonality_prior_scale: f64,
    /// Harmonics of the daily period, used when history spans two days.
    pub daily_order: usize,
    /// Harmonics of the weekly period, used when history spans two weeks.
    pub weekly_order: usize,
    /// Huber loss against spikes instead of plain least squares.
    pub robust: bool,
    /// Half-life of exponential recency weights in days; `None` weighs all
    /// points equally.
    pub recency_half_life_days: Option<f64>,
    /// Trailing days held out, one at a time, to calibrate the band on
    /// out-of-sample errors; 0 uses in-sample residuals only.
    pub holdout_days: usize,
    /// Growth of the noise variance per day of horizon, as a share of the
    /// calibrated variance (a level random walk the history cannot show).
    pub noise_growth_per_day: f64,
}

impl Default for ForecastConfig {
    fn default() -> Self {
        ForecastConfig {
            model: Model::Auto,
            weekend_daily_order: 4,
            auto_holdout_days: 4,
            auto_changepoint_range: 0.9,
            seasonality_mode: SeasonalityMode::Additive,
            n_changepoints: 25,
            changepoint_range: 0.8,
            changepoint_prior_scale: 0.05,
            seasonality_prior_scale: 10.0,
            daily_order: 4,
            weekly_order: 3,
            robust: true,
            recency_half_life_days: Some(7.0),
            holdout_days: 2,
            noise_growth_per_day: 1.0,
        }
    }
}

/// A fitted model, ready to predict.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedModel {
    layout: Layout,
    mode: SeasonalityMode,
    theta: Vec<f64>,
    y_scale: f64,
    /// Standard deviation of one-step-ahead noise below and above the
    /// forecast, scaled units.
    noise_sd: [f64; 2],
    /// Mean |slope change| (Laplace scale of future changes), scaled units.
    change_scale: f64,
    /// See [`ForecastConfig::noise_growth_per_day`].
    noise_growth_per_day: f64,
    /// Local level added to the mean (scaled units; 0 without one).
    level: f64,
    /// `(trend at the last point, mean slope over the history)`, scaled
    /// units: the future trend continues from there with that slope instead
    /// of the last segment's (which a recent level shift makes steep).
    mean_slope_trend: Option<(f64, f64)>,
    /// Last day's `(timestamp, residual)` (scaled), for the lag-24 h term.
    lag: Vec<(i64, f64)>,
    /// Weight of the residual a day earlier in the forecast (0 without).
    lag_weight: f64,
    /// See [`FittedModel::model_name`].
    name: ModelName,
    /// Values the model was fitted on (its mean and band are transformed
    /// back).
    space: Space,
    /// This model's weight in the blend (1 alone).
    weight: f64,
    /// The other blended models and their weights.
    blend: Vec<(FittedModel, f64)>,
    /// The MSTL-class candidate's decomposition: when present, it alone
    /// gives the mean (`layout`, `theta` and the corrections are unused)
    /// and `noise_sd` the band.
    decomposition: Option<Box<decompose::Decomposition>>,
}

/// Point forecast and band at each requested timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// Point forecast.
    pub yhat: Vec<f64>,
    /// Lower bound of the band.
    pub lower: Vec<f64>,
    /// Upper bound of the band.
    pub upper: Vec<f64>,
}

impl Forecast {
    /// An empty forecast with room for `n` points.
    fn with_capacity(n: usize) -> Self {
        Forecast {
            yhat: Vec::with_capacity(n),
            lower: Vec::with_capacity(n),
            upper: Vec::with_capacity(n),
        }
    }

    /// The same forecast with every value raised to at least 0 (for counts).
    pub fn clamped_at_zero(mut self) -> Self {
        for v in self
            .yhat
            .iter_mut()
            .chain(&mut self.lower)
            .chain(&mut self.upper)
        {
            *v = v.max(0.0);
        }
        self
    }
}

impl ForecastConfig {
    /// Fits the model to `(timestamps, values)` (microseconds since the epoch,
    /// any order).
    pub fn fit(&self, timestamps: &[i64], values: &[f64]) -> Result<FittedModel, ForecastError> {
        self.validate()?;
        if timestamps.len() != values.len() {
            return Err(ForecastError::LengthMismatch {
                timestamps: timestamps.len(),
                values: values.len(),
            });
        }
        if values.len() < 2 {
            return Err(ForecastError::TooFewPoints {
                got: values.len(),
                need: 2,
            });
        }
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(ForecastError::NonFinite { index });
        }
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by_key(|&i| timestamps[i]);
        let ts: Vec<i64> = order.iter().map(|&i| timestamps[i]).collect();
        let y_scale = match values.iter().fold(0.0_f64, |m, v| m.max(v.abs())) {
            0.0 => 1.0,
            m => m,
        };
        let y: Vec<f64> = order.iter().map(|&i| values[i] / y_scale).collect();
        select::fit_best(self, &ts, &y, y_scale)
    }

    fn validate(&self) -> Result<(), ForecastError> {
        if !(self.changepoint_prior_scale > 0.0 && self.changepoint_prior_scale.is_finite()) {
            return Err(ForecastError::BadConfig(
                "changepoint_prior_scale must be > 0",
            ));
        }
        if !(self.seasonality_prior_scale > 0.0 && self.seasonality_prior_scale.is_finite()) {
            return Err(ForecastError::BadConfig(
                "seasonality_prior_scale must be > 0",
            ));
        }
        if !(0.0..=1.0).contains(&self.changepoint_range)
            || !(0.0..=1.0).contains(&self.auto_changepoint_range)
        {
            return Err(ForecastError::BadConfig(
                "changepoint_range must be in [0, 1]",
            ));
        }
        if !(self.noise_growth_per_day >= 0.0 && self.noise_growth_per_day.is_finite()) {
            return Err(ForecastError::BadConfig(
                "noise_growth_per_day must be >= 0",
            ));
        }
        if self
            .recency_half_life_days
            .is_some_and(|h| h.is_nan() || h <= 0.0)
        {
            return Err(ForecastError::BadConfig(
                "recency_half_life_days must be > 0",
            ));
        }
        Ok(())
    }

    /// Seasonal components enabled for a history spanning `span_us`.
    fn seasonalities(&self, span_us: i64) -> Vec<Seasonality> {
        [(WEEK_US, self.weekly_order), (DAY_US, self.daily_order)]
            .into_iter()
            .filter(|&(period_us, order)| order > 0 && span_us >= 2 * period_us)
            .map(|(period_us, order)| Seasonality::every_day(period_us, order))
            .collect()
    }

    /// Exponential recency weights with mean 1 (all 1 without a half-life).
    fn recency_weights(&self, sorted_ts: &[i64]) -> Vec<f64> {
        let Some(half_life) = self.recency_half_life_days else {
            return vec![1.0; sorted_ts.len()];
        };
        let last = sorted_ts[sorted_ts.len() - 1];
        let rate = std::f64::consts::LN_2 / (half_life * DAY_US as f64);
        let w: Vec<f64> = sorted_ts
            .iter()
            .map(|&t| (-(last.saturating_sub(t) as f64) * rate).exp())
            .collect();
        let mean = w.iter().sum::<f64>() / w.len() as f64;
        w.into_iter().map(|v| v / mean).collect()
    }

    /// Hold-out splits (oldest first): train on rows before `train_end`,
    /// score the following day. A split needs two days of training history
    /// and at least as many training rows as columns.
    fn holdout_cuts(&self, sorted_ts: &[i64], width: usize) -> Vec<HoldoutCut> {
        let first = sorted_ts[0];
        let last = sorted_ts[sorted_ts.len() - 1];
        let mut days: Vec<i64> = (1..=self.holdout_days as i64).rev().collect();
        if self.model == Model::Auto {
            days.extend(same_weekend_day(first, last, self.holdout_days as i64));
            days.sort_unstable_by(|a, b| b.cmp(a));
        }
        days.into_iter()
            .filter_map(|d| {
                let cut = last.checked_sub(d.checked_mul(DAY_US)?)?;
                let train_end = sorted_ts.partition_point(|&t| t <= cut);
                let test_end = sorted_ts.partition_point(|&t| t <= cut.saturating_add(DAY_US));
                let long_enough = cut.saturating_sub(first) >= 2 * DAY_US;
                (long_enough && train_end >= width && test_end > train_end).then_some(HoldoutCut {
                    train_end,
                    test_end,
                })
            })
            .collect()
    }
}

/// Weekend hours (bit `h - 1` for the hour `h` hours after `start`) of the
/// day after `start`.
fn weekend_mask(start: i64) -> u32 {
    (1..=24).fold(0, |m, h| {
        m | (u32::from(design::is_weekend(start.saturating_add(h * HOUR_US))) << (h - 1))
    })
}

/// The extra hold-out day of [`Model::Auto`], in days before the last
/// timestamp `last` (`first` the first): when none of the last
/// `holdout_days` days has the weekend hours of the forecast's first day
/// (the day after `last`), the nearest earlier day that has them (a week
/// before at the latest), if a week of history precedes it (so that every
/// candidate, the weekly naive too, forecasts it); else none. Without it,
/// a forecast landing on a weekend is blended by weekday errors only.
fn same_weekend_day(first: i64, last: i64, holdout_days: i64) -> Option<i64> {
    let ahead = weekend_mask(last);
    let day_mask = |d: i64| weekend_mask(last.saturating_sub(d * DAY_US));
    if (1..=holdout_days).any(|d| day_mask(d) == ahead) {
        return None;
    }
    (holdout_days + 1..=7)
        .find(|&d| day_mask(d) == ahead)
        .filter(|&d| last.saturating_sub(d * DAY_US).saturating_sub(first) >= WEEK_US + HOUR_US)
}

/// Normal-consistent scales of the hold-out errors below and above the
/// forecast (negative and positive errors), each from the 80% quantile of
/// the absolute errors of its side (robust to a spike in a held-out day,
/// exact for Gaussian errors); traffic errors are skewed (bursts upward), so
/// the band is asymmetric. A side with fewer than [`MIN_SIDE_ERRORS`] errors
/// uses the scale of all errors; 0 without errors.
fn holdout_scales(errors: &[f64]) -> [f64; 2] {
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
struct HoldoutCut {
    train_end: usize,
    test_end: usize,
}

impl FittedModel {
    fn new(
        layout: Layout,
        estimate: &Estimate,
        holdout_errors: &[f64],
        y_scale: f64,
        config: &ForecastConfig,
        name: ModelName,
    ) -> Self {
        let deltas = &estimate.theta[2..layout.n_trend()];
        let change_scale = if deltas.is_empty() {
            0.0
        } else {
            deltas.iter().map(|d| d.abs()).sum::<f64>() / deltas.len() as f64 + 1e-8
        };
        let noise_sd = holdout_scales(holdout_errors).map(|s| s.max(estimate.sigma));
        FittedModel {
            layout,
            mode: config.seasonality_mode,
            theta: estimate.theta.clone(),
            y_scale,
            noise_sd,
            change_scale,
            noise_growth_per_day: config.noise_growth_per_day,
            level: 0.0,
            mean_slope_trend: None,
            lag: Vec::new(),
            lag_weight: 0.0,
            name,
            space: Space::Linear,
            weight: 1.0,
            blend: Vec::new(),
            decomposition: None,
        }
    }

    /// The model this fit ended up as: `seasonal-trend` (daily and weekly
    /// terms; [`Model::SeasonalTrend`]), or under [`Model::Auto`] the
    /// candidate with the largest weight in the blend:
    /// `seasonal-trend+lag24`, `log-seasonal-trend+lag24` (fitted on the
    /// logarithm) or `log-weekend-daily+lag24` (plus the weekend's own level
    /// and daily shape; `weekend-daily+lag24` for series with negative
    /// values, fitted on the values), all with the residual corrections;
    /// `log-mstl` and `log-mstl-drift` (MSTL on the logarithm, the daily
    /// and weekly shapes by locally constant or locally linear loess;
    /// `mstl`, `mstl-drift` on the values for series with negative values)
    /// or `snaive168` (the same hour a week earlier).
    pub fn model_name(&self) -> ModelName {
        self.name
    }

    /// Predicts at `timestamps` with a central band of probability `level`.
    pub fn predict(&self, timestamps: &[i64], level: f64) -> Result<Forecast, ForecastError> {
        if !(level > 0.0 && level < 1.0) {
            return Err(ForecastError::BadLevel(level));
        }
        let z = band::normal_quantile(0.5 + level / 2.0);
        let mut out = self.predict_one(timestamps, z);
        if self.blend.is_empty() {
            return Ok(out);
        }
        let scale = |v: &mut Vec<f64>, w: f64| v.iter_mut().for_each(|x| *x *= w);
        scale(&mut out.yhat, self.weight);
        scale(&mut out.lower, self.weight);
        scale(&mut out.upper, self.weight);
        for (member, w) in &self.blend {
            let other = member.predict_one(timestamps, z);
            let add = |v: &mut Vec<f64>, o: &[f64]| {
                v.iter_mut().zip(o).for_each(|(x, y)| *x += w * y);
            };
            add(&mut out.yhat, &other.yhat);
            add(&mut out.lower, &other.lower);
            add(&mut out.upper, &other.upper);
        }
        Ok(out)
    }

    /// This model's own forecast (without its blend) with a band of
    /// `z` normal quantiles.
    fn predict_one(&self, timestamps: &[i64], z: f64) -> Forecast {
        if let Some(d) = &self.decomposition {
            return self.predict_decomposed(d, timestamps, z);
        }
        let n_trend = self.layout.n_trend();
        let rate = self.layout.changepoints.len() as f64;
        let mut row = vec![0.0; self.layout.width()];
        let n = timestamps.len();
        let mut out = Forecast::with_capacity(n);
        for &ts in timestamps {
            self.layout.fill_row(ts, &mut row);
            let (trend, season) = components(&row, &self.theta, n_trend);
            let trend = match self.mean_slope_trend {
                Some((end, slope)) => {
                    let t = self.layout.scaled_time(ts);
                    if t > 1.0 {
                        end + slope * (t - 1.0)
                    } else {
                        trend
                    }
                }
                None => trend,
            };
            let (mean, trend_gain) = match self.mode {
                SeasonalityMode::Additive => (trend + season, 1.0),
                SeasonalityMode::Multiplicative => (trend * (1.0 + season), 1.0 + season),
            };
            let mean = mean + self.level + self.lag_weight * select::lagged(&self.lag, ts);
            let ahead = self.layout.scaled_time(ts) - 1.0;
            let trend_var =
                band::trend_variance(rate, self.change_scale, ahead) * trend_gain.powi(2);
            let days_ahead = (ahead * self.layout.t_span / DAY_US as f64).max(0.0);
            let growth = 1.0 + self.noise_growth_per_day * days_ahead;
            let [below, above] = self.noise_sd.map(|sd| {
                self.space
                    .cap_half_width(z * (sd * sd * growth + trend_var).sqrt())
            });
            let value = |v: f64| self.space.inverse(v) * self.y_scale;
            out.yhat.push(value(mean));
            out.lower.push(value(mean - below));
            out.upper.push(value(mean + above));
        }
        out
    }
}
