//! A native additive seasonal-trend forecaster (Prophet-like, deterministic).
//!
//! API sketch (a stub until the real model lands): an unfitted
//! [`ForecastConfig`] whose [`ForecastConfig::fit`] returns a [`FittedModel`],
//! whose [`FittedModel::predict`] returns a plain [`Forecast`].
//! Timestamps are microseconds since the Unix epoch (UTC).

use thiserror::Error;

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
}

/// Unfitted model configuration.
#[derive(Debug, Clone, Default)]
pub struct ForecastConfig {
    /// Additive (default) or multiplicative seasonality.
    pub seasonality_mode: SeasonalityMode,
}

/// A fitted model, ready to predict.
#[derive(Debug, Clone)]
pub struct FittedModel {
    mean: f64,
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

impl ForecastConfig {
    /// Fits the model to `(timestamps, values)` (microseconds since the epoch,
    /// any order).
    pub fn fit(&self, timestamps: &[i64], values: &[f64]) -> Result<FittedModel, ForecastError> {
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
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Ok(FittedModel { mean })
    }
}

impl FittedModel {
    /// Predicts at `timestamps` with a central band of probability `level`.
    pub fn predict(&self, timestamps: &[i64], level: f64) -> Result<Forecast, ForecastError> {
        if !(level > 0.0 && level < 1.0) {
            return Err(ForecastError::BadLevel(level));
        }
        let n = timestamps.len();
        Ok(Forecast {
            yhat: vec![self.mean; n],
            lower: vec![self.mean; n],
            upper: vec![self.mean; n],
        })
    }
}
