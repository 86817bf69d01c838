//! A fitted model and its prediction: the seasonal-trend fit with its
//! corrections, the MSTL-class decomposition, or the blend of candidates.

use super::band;
use super::config::{ForecastConfig, SeasonalityMode};
use super::decompose::Decomposition;
use super::design::{Layout, DAY_US};
use super::error::ForecastError;
use super::holdout::holdout_scales;
use super::irls::{components, Estimate};
use super::model_name::ModelName;
use super::residuals;
use super::space::Space;

/// A fitted model, ready to predict.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedModel {
    pub(super) layout: Layout,
    pub(super) mode: SeasonalityMode,
    pub(super) theta: Vec<f64>,
    pub(super) y_scale: f64,
    /// Standard deviation of one-step-ahead noise below and above the
    /// forecast, scaled units.
    pub(super) noise_sd: [f64; 2],
    /// Mean |slope change| (Laplace scale of future changes), scaled units.
    pub(super) change_scale: f64,
    /// See [`ForecastConfig::noise_growth_per_day`].
    pub(super) noise_growth_per_day: f64,
    /// Local level added to the mean (scaled units; 0 without one).
    pub(super) level: f64,
    /// `(trend at the last point, mean slope over the history)`, scaled
    /// units: the future trend continues from there with that slope instead
    /// of the last segment's (which a recent level shift makes steep).
    pub(super) mean_slope_trend: Option<(f64, f64)>,
    /// Last day's `(timestamp, residual)` (scaled), for the lag-24 h term.
    pub(super) lag: Vec<(i64, f64)>,
    /// Weight of the residual a day earlier in the forecast (0 without).
    pub(super) lag_weight: f64,
    /// See [`FittedModel::model_name`].
    pub(super) name: ModelName,
    /// Values the model was fitted on (its mean and band are transformed
    /// back).
    pub(super) space: Space,
    /// This model's weight in the blend (1 alone).
    pub(super) weight: f64,
    /// The other blended models and their weights.
    pub(super) blend: Vec<(FittedModel, f64)>,
    /// The MSTL-class candidate's decomposition: when present, it alone
    /// gives the mean (`layout`, `theta` and the corrections are unused)
    /// and `noise_sd` the band.
    pub(super) decomposition: Option<Box<Decomposition>>,
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
    pub(super) fn with_capacity(n: usize) -> Self {
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

impl FittedModel {
    pub(super) fn new(
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
    /// terms; [`Model::SeasonalTrend`](super::Model::SeasonalTrend)), or
    /// under [`Model::Auto`](super::Model::Auto) the candidate with the
    /// largest weight in the blend: `seasonal-trend+lag24`, `log-seasonal-trend+lag24` (fitted on the
    /// logarithm) or `log-weekend-daily+lag24` (plus the weekend's own level
    /// and daily shape; `weekend-daily+lag24` for series with negative
    /// values, fitted on the values), `log-weekend-sunday+lag24` (and
    /// `weekend-sunday+lag24`: Sunday's own level and shape beside
    /// Saturday's), all with the residual corrections;
    /// `log-mstl` and `log-mstl-drift` (MSTL on the logarithm, the daily
    /// and weekly shapes by locally constant or locally linear loess;
    /// `mstl`, `mstl-drift` on the values for series with negative values)
    /// `snaive168` (the same hour a week earlier) or `snaive-daytype` (the
    /// same hour of the previous weekday, or a week earlier on a weekend
    /// day).
    pub fn model_name(&self) -> ModelName {
        self.name
    }

    /// True when the fit found a level that moved in its last hours: its
    /// local level is not 0 (a level under the gate of `residuals.rs` is
    /// exactly 0).
    pub(super) fn has_local_level(&self) -> bool {
        self.level != 0.0
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
    pub(super) fn predict_one(&self, timestamps: &[i64], z: f64) -> Forecast {
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

/// The MSTL-class candidate as a [`FittedModel`]: its constructor and its
/// prediction ([`FittedModel::predict_one`] hands a decomposed model to
/// [`FittedModel::predict_decomposed`]).
impl FittedModel {
    /// The MSTL-class candidate `decomposition` fitted in `space` to a
    /// history `sorted_ts` with hold-out errors `holdout_errors` (in that
    /// space).
    pub(super) fn decomposed(
        decomposition: Decomposition,
        sorted_ts: &[i64],
        holdout_errors: &[f64],
        y_scale: f64,
        config: &ForecastConfig,
        name: ModelName,
        space: Space,
    ) -> Self {
        let layout = Layout::new(sorted_ts, 0, 0.0, Vec::new());
        let theta = vec![0.0; layout.width()];
        let noise_sd = if holdout_errors.is_empty() {
            [decomposition.sigma; 2]
        } else {
            holdout_scales(holdout_errors)
        };
        FittedModel {
            theta,
            layout,
            mode: SeasonalityMode::Additive,
            y_scale,
            noise_sd,
            change_scale: 0.0,
            noise_growth_per_day: config.noise_growth_per_day,
            level: 0.0,
            mean_slope_trend: None,
            lag: Vec::new(),
            lag_weight: 0.0,
            name,
            space,
            weight: 1.0,
            blend: Vec::new(),
            decomposition: Some(Box::new(decomposition)),
        }
    }

    /// [`FittedModel::predict_one`] of the MSTL-class candidate: its mean,
    /// and a band of its hold-out noise scale whose variance grows by
    /// [`ForecastConfig::noise_growth_per_day`] a day ahead.
    pub(super) fn predict_decomposed(
        &self,
        d: &Decomposition,
        timestamps: &[i64],
        z: f64,
    ) -> Forecast {
        let n = timestamps.len();
        let mut out = Forecast::with_capacity(n);
        for &ts in timestamps {
            let mean = d.mean_at(ts);
            let days_ahead = (d.hours_ahead(ts) / 24.0).max(0.0);
            let growth = 1.0 + self.noise_growth_per_day * days_ahead;
            let [below, above] = self
                .noise_sd
                .map(|sd| self.space.cap_half_width(z * sd * growth.sqrt()));
            let value = |v: f64| self.space.inverse(v) * self.y_scale;
            out.yhat.push(value(mean));
            out.lower.push(value(mean - below));
            out.upper.push(value(mean + above));
        }
        out
    }
}
