//! Errors of fitting or predicting.

use thiserror::Error;

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
