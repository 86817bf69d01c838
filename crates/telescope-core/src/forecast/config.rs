//! The forecaster's configuration: which model, how seasonality combines
//! with the trend, the tuning of the seasonal-trend model; its validation.

use super::design::{Seasonality, DAY_US, WEEK_US};
use super::error::ForecastError;

/// How seasonality combines with the trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeasonalityMode {
    /// y = trend + seasonality.
    #[default]
    Additive,
    /// y = trend * (1 + seasonality).
    Multiplicative,
}

/// Which model [`ForecastConfig::fit`] fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Model {
    /// Per series, a blend of candidates weighted by their errors on the
    /// held-out trailing days: the seasonal-trend model on the values and
    /// on their logarithm, and with the weekend's (and where Saturday
    /// differs, Sunday's) own level and daily shape on the logarithm, all
    /// corrected by recent residuals; MSTL-class decompositions with two
    /// weeks of history, and the same hour last week and of the latest
    /// day of the same type where weeks repeat (see
    /// [`super::FittedModel::model_name`]).
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
    /// Trailing days under `Auto` whose hold-out errors calibrate the band:
    /// beyond the `auto_holdout_days` (which also score the candidates),
    /// the older days up to this many back that have two weeks of history
    /// before them. They widen the sample the band is calibrated on (a few
    /// calm days make too narrow a band) without changing the blend. At
    /// most `auto_holdout_days`, there are none.
    pub auto_calibration_days: usize,
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
            auto_calibration_days: 10,
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

impl ForecastConfig {
    pub(super) fn validate(&self) -> Result<(), ForecastError> {
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
    pub(super) fn seasonalities(&self, span_us: i64) -> Vec<Seasonality> {
        [(WEEK_US, self.weekly_order), (DAY_US, self.daily_order)]
            .into_iter()
            .filter(|&(period_us, order)| order > 0 && span_us >= 2 * period_us)
            .map(|(period_us, order)| Seasonality::every_day(period_us, order))
            .collect()
    }

    /// Exponential recency weights with mean 1 (all 1 without a half-life).
    pub(super) fn recency_weights(&self, sorted_ts: &[i64]) -> Vec<f64> {
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
}
