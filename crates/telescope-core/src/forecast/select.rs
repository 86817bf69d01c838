//! [`super::Model::Auto`]: candidates fitted per series, blended by their
//! errors on held-out trailing days; the residual corrections.
//!
//! Candidates, in order of preference on ties: the seasonal-trend model on
//! the values; the same on their logarithm (`ln(y / max|y| + c)`, so that
//! the daily shape scales with the level and errors count relative to it,
//! as sMAPE counts them); the weekend's own daily shape (a weekend level
//! and daily Fourier terms active only on Saturdays and Sundays, only when
//! the history holds at least
//! [`MIN_WEEKEND_ROWS`](super::weekend::MIN_WEEKEND_ROWS) weekend and
//! weekday rows), on the logarithm too; and beside it Sunday's own level and shape
//! (`weekend-sunday`, where weeks repeat and the weekend candidate saw no
//! level move in the last hours; see `weekend.rs`). Values below 0 (not traffic) keep every
//! candidate on the values. Each candidate adds [`LAG_WEIGHT`] times the
//! residual of the same time a day earlier (an AR term at the daily lag,
//! which carries yesterday's departures from the regression into today),
//! a local level when the last hours sit clearly off the fit, and continues
//! its trend with the mean slope of the history. Each candidate is scored
//! by the mean absolute error (on the values) of its hold-out fits of the
//! last days, which calibrate its band too (with older days where the
//! history is long: [`ForecastConfig::auto_calibration_days`]); the
//! forecast, lower and upper bounds are the candidates' own, averaged with
//! weights `(best score / score) ^`
//! [`BLEND_POWER`](super::blend::BLEND_POWER) (a candidate 10 % worse than
//! the best weighs 0.22 of it, one twice as bad nothing), the bands
//! narrowed to the blend's own hold-out errors (see [`blend_band_factor`],
//! `blend.rs`). A
//! candidate that forecast every hold-out row exactly as an earlier one did
//! is left out ([`untested_repeats`]).
//!
//! With two weeks of history, two MSTL-class candidates (`decompose.rs`)
//! join on the logarithm (on the values for series with negative values):
//! seasonal loess locally constant (`log-mstl`) and locally linear
//! (`log-mstl-drift`, whose shapes follow a drift); with eight days, the
//! same hour a week earlier (`snaive168`) and the same hour of the latest
//! earlier day of the same type (`snaive-daytype`: the previous weekday
//! for a weekday, a week earlier for a weekend day), each where it beats a
//! day earlier in the history. They forecast the same hold-out days, are scored and
//! their bands calibrated the same way, without the residual corrections
//! (their level already follows the last hours).

use super::blend::{
    blend_band_factor, blend_weights, common_day_errors, untested_repeats, HeldDay,
};
use super::config::{ForecastConfig, Model};
use super::decompose::{Decomposition, Kind, WEEK_HOURS};
use super::design::{self, Layout, Seasonality, DAY_US, HOUR_US, WEEK_US};
use super::error::ForecastError;
use super::fitted::FittedModel;
use super::holdout::HoldoutCut;
use super::irls::{predict_row, Estimate, Problem, Settings, OUTER_TOLERANCE};
use super::model_name::ModelName;
use super::residuals::Recent;
use super::solver::NormalEquations;
use super::space::Space;
use super::weekend::{
    saturday_sunday_gap, sunday_seasonalities, weekend_seasonalities, MIN_SATURDAY_SUNDAY_GAP,
};

/// Weight of yesterday's residual in the forecast (error correction at the
/// daily lag); the CESNET, hourly and 55-minute backtests are best near 0.4
/// (0.3 and 0.5 within 0.1 sMAPE, none better on all three).
const LAG_WEIGHT: f64 = 0.4;
/// History (last minus first timestamp) the MSTL candidates need: two
/// weeks less an hour (an hourly grid of 336 points, two weekly cycles).
const MIN_MSTL_SPAN_US: i64 = 2 * WEEK_US - HOUR_US;
/// History the MSTL candidate with locally constant shapes needs (three
/// weeks: with less, the drifting one alone does as well, at half the
/// cost).
const MIN_CONSTANT_MSTL_SPAN_US: i64 = 3 * WEEK_US;
/// History the weekly seasonal naive candidate needs (eight days: a week
/// and a day, so that its hold-out days have a week before them).
const MIN_WEEKLY_NAIVE_SPAN_US: i64 = 8 * DAY_US;
/// [`Settings::outer_tolerance`] of the candidates: their robustness loop
/// stops when no fitted value moves more than 3 % of the noise scale (the
/// backtests are unchanged against 0.1 %, the fits 1.25x faster).
const AUTO_OUTER_TOLERANCE: f64 = 0.03;

/// A fitted candidate and its hold-out score (infinite without one).
struct Candidate {
    score: f64,
    model: FittedModel,
    /// Hold-out errors on the scaled values, the calibration days' rows
    /// too (rows in cut order).
    value_errors: Vec<f64>,
    /// The same on the scored days only (which score the candidate).
    scored_errors: Vec<f64>,
    /// The days of `value_errors`, in order.
    days: Vec<HeldDay>,
}

impl Candidate {
    /// The candidate with hold-out errors `held` whose model `model` builds
    /// from the errors in the fitted space; scored on the scored days.
    fn new(held: HoldoutErrors, model: impl FnOnce(&[f64]) -> FittedModel) -> Self {
        let HoldoutErrors {
            errors,
            value_errors,
            scored_errors,
            days,
        } = held;
        Candidate {
            score: holdout_score(&scored_errors),
            model: model(&errors),
            value_errors,
            scored_errors,
            days,
        }
    }
}

/// A candidate's errors on its hold-out days, row by row in cut order.
#[derive(Default)]
struct HoldoutErrors {
    /// In the fitted space (they calibrate the band).
    errors: Vec<f64>,
    /// On the scaled values.
    value_errors: Vec<f64>,
    /// On the scaled values, the scored days' rows only.
    scored_errors: Vec<f64>,
    /// The days forecast, in order.
    days: Vec<HeldDay>,
}

impl HoldoutErrors {
    /// Records the error `e` in the fitted space of a row of `cut` whose
    /// value is `y` (`z` in `space`).
    fn push(&mut self, cut: &HoldoutCut, e: f64, y: f64, z: f64, space: Space) {
        let value_error = y - space.inverse(z - e);
        self.errors.push(e);
        self.value_errors.push(value_error);
        if cut.scored {
            self.scored_errors.push(value_error);
        }
        match self.days.last_mut() {
            Some((day, rows)) if *day == cut.train_end => *rows += 1,
            _ => self.days.push((cut.train_end, 1)),
        }
    }
}

/// A series to fit: sorted timestamps and values divided by `y_scale`.
#[derive(Debug, Clone, Copy)]
struct Scaled<'a> {
    ts: &'a [i64],
    y: &'a [f64],
    y_scale: f64,
}

/// Whether a seasonal-trend candidate adds the residual corrections (the
/// residual a day earlier, a local level, the trend continued with its
/// mean slope) to its forecast and to its hold-out errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Corrections {
    /// The regression alone ([`Model::SeasonalTrend`]).
    Without,
    /// The regression corrected by recent residuals (the `+lag24`
    /// candidates of [`Model::Auto`]).
    RecentResiduals,
}

/// Fits the configured model (every candidate under `Auto`) to sorted
/// timestamps `ts` and scaled values `y`.
pub(super) fn fit_best(
    config: &ForecastConfig,
    ts: &[i64],
    y: &[f64],
    y_scale: f64,
) -> Result<FittedModel, ForecastError> {
    let series = Scaled { ts, y, y_scale };
    let base = config.seasonalities(design::span_us(ts));
    if config.model == Model::SeasonalTrend {
        let only = [(Space::Linear, ModelName::SeasonalTrend)];
        let mut fits = fit_structure(config, series, base, &only, Corrections::Without);
        return fits.swap_remove(0).map(|c| c.model);
    }
    let config = ForecastConfig {
        holdout_days: config.auto_holdout_days,
        changepoint_range: config.auto_changepoint_range,
        ..config.clone()
    };
    let config = &config;
    let log = y.iter().all(|v| *v >= 0.0);
    // The hold-out days of the plain structure, which every candidate
    // forecasts (so that their errors pair up row by row).
    let plain_width = Layout::new(
        ts,
        config.n_changepoints,
        config.changepoint_range,
        base.clone(),
    )
    .width();
    let cuts = config.holdout_cuts(ts, plain_width);
    let mut candidates = seasonal_trend_candidates(config, series, base, log)?;
    for candidate in decomposition_candidates(design::span_us(ts), log) {
        candidates.extend(fit_decomposition(config, series, &cuts, candidate));
    }
    let errors: Vec<&[f64]> = candidates.iter().map(|c| &c.scored_errors[..]).collect();
    let repeats = untested_repeats(&errors);
    let tested = candidates
        .into_iter()
        .zip(repeats)
        .filter_map(|(candidate, repeat)| (!repeat).then_some(candidate))
        .collect();
    Ok(blend(tested))
}

/// The seasonal-trend candidates of `Auto`, corrected by recent residuals:
/// on the values, on their logarithm (`log`: no value below 0), with the
/// weekend's own daily shape (see [`weekend_seasonalities`]), and with
/// Sunday's beside Saturday's ([`sunday_seasonalities`]) unless the weekend
/// candidate has a local level. The one on the values must fit; another
/// that cannot be solved is only left out.
fn seasonal_trend_candidates(
    config: &ForecastConfig,
    series: Scaled<'_>,
    base: Vec<Seasonality>,
    log: bool,
) -> Result<Vec<Candidate>, ForecastError> {
    let plain: &[(Space, ModelName)] = if log {
        &[
            (Space::Linear, ModelName::SeasonalTrendLag24),
            (Space::Log, ModelName::LogSeasonalTrendLag24),
        ]
    } else {
        &[(Space::Linear, ModelName::SeasonalTrendLag24)]
    };
    let corrected = Corrections::RecentResiduals;
    let mut fits = fit_structure(config, series, base.clone(), plain, corrected);
    let first = fits.remove(0)?;
    let mut candidates = vec![first];
    candidates.extend(fits.into_iter().flatten());
    let Some(weekend) = weekend_seasonalities(config, series.ts, base) else {
        return Ok(candidates);
    };
    let (space, daily, sunday) = if log {
        (
            Space::Log,
            ModelName::LogWeekendDailyLag24,
            ModelName::LogWeekendSundayLag24,
        )
    } else {
        (
            Space::Linear,
            ModelName::WeekendDailyLag24,
            ModelName::WeekendSundayLag24,
        )
    };
    let fits = fit_structure(
        config,
        series,
        weekend.clone(),
        &[(space, daily)],
        corrected,
    );
    let Some(fit) = fits.into_iter().flatten().next() else {
        return Ok(candidates);
    };
    // Whenever the weekend candidate found a level that moved in the last
    // hours (its local level), the Sunday candidate is skipped, whatever
    // the day: where those hours fall on a Sunday, it would read the move
    // as Sunday's own level. It is skipped too where the weekend
    // candidate's residuals do not set Saturday apart from Sunday.
    let sunday_apart = !fit.model.has_local_level()
        && saturday_sunday_gap(&fit.model, series.ts, series.y) >= MIN_SATURDAY_SUNDAY_GAP;
    candidates.push(fit);
    if !sunday_apart {
        return Ok(candidates);
    }
    if let Some(seasonalities) = sunday_seasonalities(series.ts, series.y, &weekend) {
        let fits = fit_structure(config, series, seasonalities, &[(space, sunday)], corrected);
        candidates.extend(fits.into_iter().flatten());
    }
    Ok(candidates)
}

/// The decomposition candidates for a history spanning `span` µs: MSTL
/// with locally linear (drifting) seasonal loess with two weeks of
/// history, and with locally constant loess too with three, on the
/// logarithm (`log`; on the values for series with negative values); the
/// same hour last week, and the same hour of the latest day of the same
/// type (weekday or weekend day), with eight days.
fn decomposition_candidates(span: i64, log: bool) -> Vec<(Space, Kind, ModelName)> {
    let mut decomposed = Vec::new();
    if span >= MIN_MSTL_SPAN_US {
        let (space, constant, drift) = if log {
            (Space::Log, ModelName::LogMstl, ModelName::LogMstlDrift)
        } else {
            (Space::Linear, ModelName::Mstl, ModelName::MstlDrift)
        };
        if span >= MIN_CONSTANT_MSTL_SPAN_US {
            decomposed.push((space, Kind::Mstl(0), constant));
        }
        decomposed.push((space, Kind::Mstl(1), drift));
    }
    if span >= MIN_WEEKLY_NAIVE_SPAN_US {
        decomposed.push((
            Space::Linear,
            Kind::SeasonalNaive(WEEK_HOURS),
            ModelName::SeasonalNaive168,
        ));
        decomposed.push((
            Space::Linear,
            Kind::DayTypeNaive,
            ModelName::SeasonalNaiveDayType,
        ));
    }
    decomposed
}

/// The blend of `candidates` (at least one): weights from their scores
/// ([`blend_weights`]), bands narrowed by [`blend_band_factor`]; the
/// best-scored candidate, the heaviest (the first on ties), carries the
/// others.
fn blend(mut candidates: Vec<Candidate>) -> FittedModel {
    let scores: Vec<f64> = candidates.iter().map(|c| c.score).collect();
    let (best, weights) = blend_weights(&scores);
    // The band is narrowed on the members' (positive weights) errors.
    let (members, member_weights): (Vec<_>, Vec<f64>) = candidates
        .iter()
        .zip(&weights)
        .filter(|&(_, &w)| w > 0.0)
        .map(|(c, &w)| ((&c.value_errors[..], &c.days[..]), w))
        .unzip();
    let errors = common_day_errors(&members);
    let errors: Vec<&[f64]> = errors.iter().map(|e| &e[..]).collect();
    let narrowing = blend_band_factor(&errors, &member_weights);
    for c in &mut candidates {
        c.model.noise_sd = c.model.noise_sd.map(|sd| sd * narrowing);
    }
    let mut members: Vec<(FittedModel, f64)> = candidates
        .into_iter()
        .zip(weights)
        .map(|(c, w)| (c.model, w))
        .collect();
    let (mut model, weight) = members.remove(best);
    members.retain(|&(_, w)| w > 0.0);
    model.weight = weight;
    model.blend = members;
    model
}

/// Fits one structure in each of `spaces` (with its model name): the same
/// design and base system, targets transformed per space. Returns one
/// candidate per space, scored by the mean absolute hold-out error on the
/// scaled values (infinite without hold-out errors); with
/// [`Corrections::RecentResiduals`], the residual corrections are part of
/// the forecast and of its errors.
fn fit_structure(
    config: &ForecastConfig,
    series: Scaled<'_>,
    seasonalities: Vec<Seasonality>,
    spaces: &[(Space, ModelName)],
    corrections: Corrections,
) -> Vec<Result<Candidate, ForecastError>> {
    let layout = Layout::new(
        series.ts,
        config.n_changepoints,
        config.changepoint_range,
        seasonalities,
    );
    let x = layout.matrix(series.ts);
    let w = config.recency_weights(series.ts);
    let settings = Settings {
        changepoint_prior_scale: config.changepoint_prior_scale,
        seasonality_prior_scale: config.seasonality_prior_scale,
        robust: config.robust,
        mode: config.seasonality_mode,
        outer_tolerance: match corrections {
            Corrections::RecentResiduals => AUTO_OUTER_TOLERANCE,
            Corrections::Without => OUTER_TOLERANCE,
        },
    };
    let p = layout.width();
    let structure = Structure {
        config,
        series,
        cuts: config.holdout_cuts(series.ts, p),
        n_trend: layout.n_trend(),
        p,
        layout: &layout,
        x: &x,
        w: &w,
        settings,
        corrections,
    };
    let mut base: Option<NormalEquations> = None;
    spaces
        .iter()
        .map(|&(space, name)| structure.fit_space(space, name, &mut base))
        .collect()
}

/// One seasonal-trend structure over a series: its design, weights,
/// settings and hold-out days, shared by the spaces it is fitted in.
struct Structure<'a> {
    config: &'a ForecastConfig,
    series: Scaled<'a>,
    cuts: Vec<HoldoutCut>,
    layout: &'a Layout,
    /// Row-major design matrix, `p` columns.
    x: &'a [f64],
    /// Recency weights.
    w: &'a [f64],
    settings: Settings,
    corrections: Corrections,
    /// Trend columns of the layout.
    n_trend: usize,
    /// Columns of the layout.
    p: usize,
}

impl Structure<'_> {
    /// The fit's value at row `i` with coefficients `theta`.
    fn pred(&self, i: usize, theta: &[f64]) -> f64 {
        let row = &self.x[i * self.p..(i + 1) * self.p];
        predict_row(row, theta, self.n_trend, self.settings.mode)
    }

    /// The candidate in `space` named `name`. `base` is the first space's
    /// system (built here when `None`); the others reuse its Gram matrix.
    fn fit_space(
        &self,
        space: Space,
        name: ModelName,
        base: &mut Option<NormalEquations>,
    ) -> Result<Candidate, ForecastError> {
        let Scaled { ts, y, y_scale } = self.series;
        let z: Vec<f64> = y.iter().map(|&v| space.forward(v)).collect();
        let problem = Problem {
            layout: self.layout,
            x: self.x,
            y: &z,
            w: self.w,
        };
        let targeted;
        let system = match base {
            Some(b) => {
                targeted = b.with_targets(self.x, self.w, &z);
                &targeted
            }
            None => &*base.insert(problem.base_system()),
        };
        let estimate = problem
            .fit(system, &self.settings)
            .ok_or(ForecastError::Singular)?;
        let held = self.holdout_errors(&problem, &estimate, space);
        Ok(Candidate::new(held, |errors| {
            let layout = self.layout.clone();
            let mut model = FittedModel::new(layout, &estimate, errors, y_scale, self.config, name);
            model.space = space;
            if self.corrections == Corrections::RecentResiduals {
                let recent = Recent::new(ts, &z, ts.len(), estimate.sigma, |i| {
                    self.pred(i, &estimate.theta)
                });
                let trend = self.layout.trend_end_and_mean_slope(&estimate.theta);
                model.mean_slope_trend = Some(trend);
                model.level = recent.level;
                model.lag_weight = LAG_WEIGHT;
                model.lag = recent.day;
            }
            model
        }))
    }

    /// Errors of the hold-out fits of `problem` (targets in `space`).
    fn holdout_errors(
        &self,
        problem: &Problem<'_>,
        estimate: &Estimate,
        space: Space,
    ) -> HoldoutErrors {
        let Scaled { ts, y, .. } = self.series;
        let z = problem.y;
        let mut held_out = HoldoutErrors::default();
        for cut in &self.cuts {
            // A hold-out fit that cannot be solved only loses its errors.
            let Some(held) = problem.refit_prefix(estimate, cut.train_end, &self.settings) else {
                continue;
            };
            let recent = (self.corrections == Corrections::RecentResiduals).then(|| {
                Recent::new(ts, z, cut.train_end, estimate.sigma, |i| {
                    self.pred(i, &held)
                })
            });
            for i in cut.train_end..cut.test_end {
                let mut e = z[i] - self.pred(i, &held);
                if let Some(recent) = &recent {
                    e -= recent.correction(LAG_WEIGHT, ts[i]);
                }
                held_out.push(cut, e, y[i], z[i], space);
            }
        }
        held_out
    }
}

/// A candidate's score: the mean absolute error of its hold-out forecasts
/// on the values (infinite when no hold-out day could be forecast).
fn holdout_score(value_errors: &[f64]) -> f64 {
    if value_errors.is_empty() {
        f64::INFINITY
    } else {
        value_errors.iter().map(|e| e.abs()).sum::<f64>() / value_errors.len() as f64
    }
}

/// The MSTL-class candidate in `space` (named `name`), scored and its band
/// calibrated on the hold-out days `cuts` like the others; `None` when the
/// history is too sparse for it.
fn fit_decomposition(
    config: &ForecastConfig,
    series: Scaled<'_>,
    cuts: &[HoldoutCut],
    (space, kind, name): (Space, Kind, ModelName),
) -> Option<Candidate> {
    let Scaled { ts, y, y_scale } = series;
    let z: Vec<f64> = y.iter().map(|&v| space.forward(v)).collect();
    let fit = Decomposition::fit(ts, &z, kind)?;
    let mut held = HoldoutErrors::default();
    for cut in cuts {
        let Some(prefix) = Decomposition::fit(&ts[..cut.train_end], &z[..cut.train_end], kind)
        else {
            continue;
        };
        for i in cut.train_end..cut.test_end {
            held.push(cut, z[i] - prefix.mean_at(ts[i]), y[i], z[i], space);
        }
    }
    Some(Candidate::new(held, |errors| {
        FittedModel::decomposed(fit, ts, errors, y_scale, config, name, space)
    }))
}
