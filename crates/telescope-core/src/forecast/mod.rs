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
mod blend;
mod config;
mod decompose;
mod design;
mod error;
mod fitted;
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
mod weekend;

pub use config::{ForecastConfig, Model, SeasonalityMode};
pub use error::ForecastError;
pub use fitted::{FittedModel, Forecast};
pub use model_name::{ModelName, UnknownModelName};

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
