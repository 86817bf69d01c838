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
mod config;
mod decompose;
mod design;
mod error;
mod holdout;
mod irls;
mod model_name;
mod residuals;
mod select;
mod solver;
mod space;
mod stl;
#[cfg(test)]
mod tests;

use design::{Layout, DAY_US};
use holdout::holdout_scales;
use irls::{components, Estimate};
use space::Space;

pub use config::{ForecastConfig, Model, SeasonalityMode};
pub use error::ForecastError;
pub use model_name::{ModelName, UnknownModelName};

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
    /// `snaive168` (the same hour a week earlier) or `snaive-daytype` (the
    /// same hour of the previous weekday, or a week earlier on a weekend
    /// day).
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
            let mean = mean + self.level + self.lag_weight * residuals::lagged(&self.lag, ts);
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
