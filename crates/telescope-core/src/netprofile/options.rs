//! What a run forecasts and how ([`ProfileOptions`]), and how a writing
//! run treats each tag ([`RunOptions`]).

use super::nemea::TimeWindow;
use super::protocol::Protocol;
use crate::forecast::{ForecastConfig, SeasonalityMode};

/// What to forecast and how.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// Protocols, in profile key order.
    pub protocols: Vec<Protocol>,
    /// Forecast hours.
    pub horizon: u32,
    /// Band probability in (0, 1).
    pub interval_width: f64,
    /// Rows above this quantile of their series are dropped (1 keeps all).
    pub outlier_quantile: f64,
    /// The forecaster.
    pub forecast: ForecastConfig,
    /// Rows dated outside this window are malformed (see [`TimeWindow::until`]).
    pub window: TimeWindow,
}

impl Default for ProfileOptions {
    /// The original tool's settings: ICMP, TCP, UDP; 24 h; 0.8; 0.95.
    fn default() -> Self {
        ProfileOptions {
            protocols: vec![Protocol::ICMP, Protocol::TCP, Protocol::UDP],
            horizon: 24,
            interval_width: 0.8,
            outlier_quantile: 0.95,
            forecast: ForecastConfig::default(),
            window: TimeWindow::default(),
        }
    }
}

impl ProfileOptions {
    /// These options with the forecaster's seasonality mode set.
    pub fn with_seasonality_mode(mut self, mode: SeasonalityMode) -> Self {
        self.forecast.seasonality_mode = mode;
        self
    }
}

/// How a normal (writing) run treats each tag, besides [`ProfileOptions`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// The run's local wall-clock time, µs since the epoch (names profiles).
    pub now: i64,
    /// The run's time in UTC, µs since the epoch (for `max_age`).
    pub now_utc: i64,
    /// Keep only the newest this many profiles per tag.
    pub keep: Option<usize>,
    /// Fail a tag whose newest row (TIME_LAST) is older than this (µs)
    /// before `now_utc`.
    pub max_age: Option<i64>,
    /// Fail a tag unless every protocol and metric could be forecast.
    pub complete_only: bool,
    /// Also draw the profile as `profile-<TS>.svg` and point `latest.svg`
    /// at it.
    pub plot: bool,
}
