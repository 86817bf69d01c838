//! Unit tests on synthetic series with known structure and irregular
//! (~55 min) spacing, using a fixed-seed generator (test-support's xorshift64).

use super::design::{self, DAY_US, HOUR_US, WEEK_US};
use super::irls::components;
use super::*;

mod auto;
mod holdout;
mod model_name;
mod mstl;
mod weekend;
use std::f64::consts::TAU;
use telescope_test_support::rng::{Random, XorShift64 as Rng};

/// 2018-08-19T18:48:34Z, the start of the CESNET file.
const START: i64 = 1_534_704_514_000_000;

/// `days` of timestamps about 55 minutes apart (jitter of +-90 s).
fn irregular_timestamps(days: f64, rng: &mut Rng) -> Vec<i64> {
    let step = 55 * 60 * 1_000_000;
    let n = (days * DAY_US as f64 / step as f64) as i64;
    (0..n)
        .map(|i| START + i * step + ((rng.uniform() - 0.5) * 180e6) as i64)
        .collect()
}

fn phase(ts: i64, period: i64) -> f64 {
    TAU * ts.rem_euclid(period) as f64 / period as f64
}

fn days_since_start(ts: i64) -> f64 {
    (ts - START) as f64 / DAY_US as f64
}

/// The 24 hours after the last of `ts` (sorted), an hour apart.
fn next_day(ts: &[i64]) -> Vec<i64> {
    let last = ts[ts.len() - 1];
    (1..=24).map(|k| last + k * HOUR_US).collect()
}

/// The mean over the instants `future` of `error(t, forecast at t)`.
fn mean_error(future: &[i64], yhat: &[f64], error: impl Fn(i64, f64) -> f64) -> f64 {
    let total: f64 = future.iter().zip(yhat).map(|(&t, &f)| error(t, f)).sum();
    total / future.len() as f64
}

/// Trend value (data units) of a fitted model at `ts`.
fn trend_at(model: &FittedModel, ts: i64) -> f64 {
    let mut row = vec![0.0; model.layout.width()];
    model.layout.fill_row(ts, &mut row);
    components(&row, &model.theta, model.layout.n_trend()).0 * model.y_scale
}

/// Amplitude (scaled units) of the first harmonic of the seasonality with
/// `period_us`.
fn first_harmonic(model: &FittedModel, period_us: i64) -> f64 {
    let mut col = model.layout.n_trend();
    for s in &model.layout.seasonalities {
        if s.period_us == period_us {
            return model.theta[col].hypot(model.theta[col + 1]);
        }
        col += s.width();
    }
    panic!("no seasonality of period {period_us}");
}

/// The names of a blend's members: the heaviest, then the others in
/// candidate order.
fn member_names(model: &FittedModel) -> Vec<&'static str> {
    std::iter::once(model.model_name().as_str())
        .chain(model.blend.iter().map(|(m, _)| m.model_name().as_str()))
        .collect()
}

/// The seasonal-trend model (whose coefficients the tests read) with equal
/// weights.
fn equal_weights() -> ForecastConfig {
    ForecastConfig {
        model: Model::SeasonalTrend,
        recency_half_life_days: None,
        ..ForecastConfig::default()
    }
}

#[test]
fn recovers_slope_and_daily_and_weekly_amplitudes() {
    let mut rng = Rng(7);
    let ts = irregular_timestamps(21.0, &mut rng);
    let y: Vec<f64> = ts
        .iter()
        .map(|&t| {
            500.0
                + 3.0 * days_since_start(t)
                + 40.0 * phase(t, DAY_US).sin()
                + 20.0 * phase(t, WEEK_US).cos()
                + 4.0 * rng.gauss()
        })
        .collect();
    let model = equal_weights().fit(&ts, &y).unwrap();
    let (first, last) = (ts[0], *ts.last().unwrap());
    // Mean slope over the history: 3 +- 0.15 per day.
    let slope = (trend_at(&model, last) - trend_at(&model, first)) / days_since_start(last);
    assert!((slope - 3.0).abs() < 0.15, "mean slope {slope}");
    // The extrapolated slope rests on the last fifth only: 3 +- 0.6 per day.
    let ahead = trend_at(&model, last + DAY_US) - trend_at(&model, last);
    assert!((ahead - 3.0).abs() < 0.6, "future slope {ahead}");
    // Amplitudes within 5% (daily) and 10% (weekly).
    let daily = first_harmonic(&model, DAY_US) * model.y_scale;
    assert!((daily - 40.0).abs() < 2.0, "daily amplitude {daily}");
    let weekly = first_harmonic(&model, WEEK_US) * model.y_scale;
    assert!((weekly - 20.0).abs() < 2.0, "weekly amplitude {weekly}");
}

#[test]
fn seasonal_terms_need_two_periods_of_history() {
    let mut rng = Rng(3);
    let periods = |days: f64, rng: &mut Rng| {
        let ts = irregular_timestamps(days, rng);
        let y: Vec<f64> = ts.iter().map(|&t| 10.0 + phase(t, DAY_US).sin()).collect();
        let config = ForecastConfig {
            model: Model::SeasonalTrend,
            ..ForecastConfig::default()
        };
        let model = config.fit(&ts, &y).unwrap();
        let periods: Vec<i64> = model
            .layout
            .seasonalities
            .iter()
            .map(|s| s.period_us)
            .collect();
        periods
    };
    assert_eq!(periods(1.5, &mut rng), Vec::<i64>::new());
    assert_eq!(periods(5.0, &mut rng), vec![DAY_US]);
    assert_eq!(periods(15.0, &mut rng), vec![WEEK_US, DAY_US]);
}

/// Coverage of the next 24 hourly points over 40 Gaussian series.
fn gaussian_coverage(config: &ForecastConfig) -> f64 {
    let (mut inside, mut total) = (0usize, 0usize);
    for seed in 1..=40u64 {
        let mut rng = Rng(seed * 0x9e37_79b9);
        let truth = |t: i64| 100.0 + 0.5 * days_since_start(t) + 20.0 * phase(t, DAY_US).sin();
        let ts = irregular_timestamps(12.0, &mut rng);
        let y: Vec<f64> = ts.iter().map(|&t| truth(t) + 5.0 * rng.gauss()).collect();
        let future = next_day(&ts);
        let fc = config.fit(&ts, &y).unwrap().predict(&future, 0.8).unwrap();
        for (k, &t) in future.iter().enumerate() {
            let actual = truth(t) + 5.0 * rng.gauss();
            inside += usize::from(fc.lower[k] <= actual && actual <= fc.upper[k]);
            total += 1;
        }
    }
    inside as f64 / total as f64
}

#[test]
fn band_covers_about_80_percent_on_gaussian_noise() {
    // The calibrated noise band alone: 0.80 +- 0.05 over 960 points.
    let calibrated = ForecastConfig {
        noise_growth_per_day: 0.0,
        ..ForecastConfig::default()
    };
    let coverage = gaussian_coverage(&calibrated);
    assert!((0.75..=0.85).contains(&coverage), "coverage {coverage}");
    // The default widens with the horizon for day-to-day level changes the
    // history cannot show: conservative on white noise, but bounded.
    let coverage = gaussian_coverage(&ForecastConfig::default());
    assert!(
        (0.80..=0.92).contains(&coverage),
        "default coverage {coverage}"
    );
}

#[test]
fn band_is_ordered_and_widens_with_the_horizon() {
    let mut rng = Rng(11);
    let ts = irregular_timestamps(10.0, &mut rng);
    let y: Vec<f64> = ts
        .iter()
        .map(|&t| 50.0 + 10.0 * phase(t, DAY_US).cos() + rng.gauss())
        .collect();
    let future = next_day(&ts);
    let fc = ForecastConfig::default()
        .fit(&ts, &y)
        .unwrap()
        .predict(&future, 0.8)
        .unwrap();
    for k in 0..24 {
        assert!(fc.lower[k] < fc.yhat[k] && fc.yhat[k] < fc.upper[k]);
    }
    let width = |k: usize| fc.upper[k] - fc.lower[k];
    assert!(width(23) > width(0));
    let narrow = ForecastConfig::default()
        .fit(&ts, &y)
        .unwrap()
        .predict(&future, 0.5)
        .unwrap();
    assert!(narrow.upper[0] - narrow.lower[0] < width(0));
}

#[test]
fn fits_are_bit_identical_and_independent_of_input_order() {
    let mut rng = Rng(5);
    let ts = irregular_timestamps(9.0, &mut rng);
    let y: Vec<f64> = ts
        .iter()
        .map(|&t| 1e9 * (2.0 + phase(t, DAY_US).sin()) + 1e8 * rng.gauss())
        .collect();
    let future: Vec<i64> = (1..=24).map(|k| ts[ts.len() - 1] + k * HOUR_US).collect();
    let bits = |fc: &Forecast| -> Vec<u64> {
        fc.yhat
            .iter()
            .chain(&fc.lower)
            .chain(&fc.upper)
            .map(|v| v.to_bits())
            .collect()
    };
    let config = ForecastConfig::default();
    let a = config.fit(&ts, &y).unwrap();
    let b = config.fit(&ts, &y).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        bits(&a.predict(&future, 0.8).unwrap()),
        bits(&b.predict(&future, 0.8).unwrap())
    );
    let (rts, ry): (Vec<i64>, Vec<f64>) = ts
        .iter()
        .rev()
        .zip(y.iter().rev())
        .map(|(t, v)| (*t, *v))
        .unzip();
    let reversed = config.fit(&rts, &ry).unwrap();
    assert_eq!(
        bits(&a.predict(&future, 0.8).unwrap()),
        bits(&reversed.predict(&future, 0.8).unwrap())
    );
}

#[test]
fn bad_input_gives_typed_errors() {
    let config = ForecastConfig::default();
    assert_eq!(
        config.fit(&[], &[]).unwrap_err(),
        ForecastError::TooFewPoints { got: 0, need: 2 }
    );
    assert_eq!(
        config.fit(&[1], &[1.0]).unwrap_err(),
        ForecastError::TooFewPoints { got: 1, need: 2 }
    );
    assert_eq!(
        config.fit(&[1, 2, 3], &[1.0, 2.0]).unwrap_err(),
        ForecastError::LengthMismatch {
            timestamps: 3,
            values: 2
        }
    );
    assert_eq!(
        config.fit(&[1, 2, 3], &[1.0, f64::NAN, 2.0]).unwrap_err(),
        ForecastError::NonFinite { index: 1 }
    );
    assert_eq!(
        config
            .fit(&[1, 2, 3], &[1.0, 2.0, f64::INFINITY])
            .unwrap_err(),
        ForecastError::NonFinite { index: 2 }
    );
    let model = config.fit(&[0, HOUR_US], &[1.0, 2.0]).unwrap();
    for level in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
        assert!(matches!(
            model.predict(&[0], level),
            Err(ForecastError::BadLevel(_))
        ));
    }
    let bad = ForecastConfig {
        changepoint_prior_scale: 0.0,
        ..ForecastConfig::default()
    };
    assert!(matches!(
        bad.fit(&[0, 1], &[1.0, 2.0]),
        Err(ForecastError::BadConfig(_))
    ));
    let bad = ForecastConfig {
        recency_half_life_days: Some(f64::NAN),
        ..ForecastConfig::default()
    };
    assert!(matches!(
        bad.fit(&[0, 1], &[1.0, 2.0]),
        Err(ForecastError::BadConfig(_))
    ));
}

#[test]
fn degenerate_histories_give_finite_forecasts() {
    let config = ForecastConfig::default();
    let cases: [(&[i64], &[f64]); 4] = [
        (&[0, HOUR_US], &[3.0, 5.0]),
        (&[7, 7, 7], &[1.0, 2.0, 3.0]),
        (&[0, HOUR_US, 2 * HOUR_US], &[0.0, 0.0, 0.0]),
        (&[i64::MIN, i64::MAX], &[1e300, -1e300]),
    ];
    for (ts, y) in cases {
        for mode in [SeasonalityMode::Additive, SeasonalityMode::Multiplicative] {
            let config = ForecastConfig {
                seasonality_mode: mode,
                ..config.clone()
            };
            let fc = config
                .fit(ts, y)
                .unwrap()
                .predict(&[ts[1].saturating_add(HOUR_US)], 0.8)
                .unwrap();
            assert!(
                fc.yhat[0].is_finite() && fc.lower[0].is_finite() && fc.upper[0].is_finite(),
                "{ts:?} {y:?} {fc:?}"
            );
        }
    }
    let fc = config
        .fit(&[0, HOUR_US], &[3.0, 5.0])
        .unwrap()
        .predict(&[2 * HOUR_US], 0.8)
        .unwrap();
    assert!(
        (fc.yhat[0] - 7.0).abs() < 0.1,
        "two points extrapolate linearly: {}",
        fc.yhat[0]
    );
}

#[test]
fn histories_spanning_less_than_an_hour_forecast_a_flat_level() {
    // 40 rows logged within 49 µs, with a steep apparent slope.
    let ts: Vec<i64> = (0..40).map(|i| START + (i * 49) / 39).collect();
    let y: Vec<f64> = (0..40).map(|i| 1e6 + 1e4 * f64::from(i)).collect();
    let (lo, hi) = (1e6, 1e6 + 39e4);
    let last = ts[ts.len() - 1];
    let future: Vec<i64> = (1..=24).map(|k| last + k * HOUR_US).collect();
    for mode in [SeasonalityMode::Additive, SeasonalityMode::Multiplicative] {
        let config = ForecastConfig {
            seasonality_mode: mode,
            ..ForecastConfig::default()
        };
        // Also shuffled and with a repeated timestamp.
        let mut ts2 = ts.clone();
        ts2.reverse();
        ts2[0] = ts2[1];
        for ts in [&ts, &ts2] {
            let fc = config.fit(ts, &y).unwrap().predict(&future, 0.8).unwrap();
            for k in 0..24 {
                assert!(
                    (lo..=hi).contains(&fc.yhat[k]),
                    "{mode:?} step {k}: {} outside [{lo}, {hi}]",
                    fc.yhat[k]
                );
                assert!(fc.lower[k] <= fc.yhat[k] && fc.yhat[k] <= fc.upper[k]);
                assert!(fc.upper[k] - fc.lower[k] < 10.0 * (hi - lo), "{fc:?}");
            }
            assert!(fc.upper[23] - fc.lower[23] >= fc.upper[0] - fc.lower[0]);
        }
    }
    // Just under an hour: still flat. An hour or more: a slope.
    let config = ForecastConfig::default();
    let flat = config
        .fit(&[0, HOUR_US - 1], &[3.0, 5.0])
        .unwrap()
        .predict(&[2 * HOUR_US], 0.8)
        .unwrap();
    assert!((3.0..=5.0).contains(&flat.yhat[0]), "{flat:?}");
    let sloped = config
        .fit(&[0, HOUR_US], &[3.0, 5.0])
        .unwrap()
        .predict(&[2 * HOUR_US, 3 * HOUR_US], 0.8)
        .unwrap();
    assert!((sloped.yhat[0] - 7.0).abs() < 0.1, "{sloped:?}");
    assert!((sloped.yhat[1] - 9.0).abs() < 0.2, "{sloped:?}");
}

#[test]
fn multiplicative_mode_recovers_relative_seasonality() {
    let mut rng = Rng(13);
    let truth =
        |t: i64| (100.0 + 10.0 * days_since_start(t)) * (1.0 + 0.4 * phase(t, DAY_US).sin());
    let ts = irregular_timestamps(10.0, &mut rng);
    let y: Vec<f64> = ts
        .iter()
        .map(|&t| truth(t) * (1.0 + 0.02 * rng.gauss()))
        .collect();
    let config = ForecastConfig {
        seasonality_mode: SeasonalityMode::Multiplicative,
        ..equal_weights()
    };
    let model = config.fit(&ts, &y).unwrap();
    // Relative amplitude 0.4 +- 0.03 (dimensionless in this mode).
    let amplitude = first_harmonic(&model, DAY_US);
    assert!(
        (amplitude - 0.4).abs() < 0.03,
        "relative amplitude {amplitude}"
    );
    // Next day within 4% of the truth at every hour; additive mode cannot
    // follow the growing swing as well.
    let future = next_day(&ts);
    let max_rel_error = |fc: &Forecast| {
        future
            .iter()
            .zip(&fc.yhat)
            .map(|(&t, f)| (f - truth(t)).abs() / truth(t).abs().max(50.0))
            .fold(0.0, f64::max)
    };
    let mult = max_rel_error(&model.predict(&future, 0.8).unwrap());
    assert!(mult < 0.04, "multiplicative max relative error {mult}");
    let add = max_rel_error(
        &equal_weights()
            .fit(&ts, &y)
            .unwrap()
            .predict(&future, 0.8)
            .unwrap(),
    );
    assert!(mult < add, "multiplicative {mult} vs additive {add}");
}

#[test]
fn spikes_do_not_drag_the_fit() {
    let mut rng = Rng(17);
    let truth = |t: i64| 200.0 + 2.0 * days_since_start(t) + 50.0 * phase(t, DAY_US).sin();
    let ts = irregular_timestamps(10.0, &mut rng);
    let mut y: Vec<f64> = ts.iter().map(|&t| truth(t) + 5.0 * rng.gauss()).collect();
    // Every 25th point, and the last ten hours' every 4th, spike to 10x.
    for (i, v) in y.iter_mut().enumerate() {
        if i % 25 == 0 || (i + 10 > ts.len() && i % 4 == 0) {
            *v *= 10.0;
        }
    }
    let future = next_day(&ts);
    let mean_abs_error = |config: &ForecastConfig| {
        let fc = config.fit(&ts, &y).unwrap().predict(&future, 0.8).unwrap();
        mean_error(&future, &fc.yhat, |t, f| (f - truth(t)).abs())
    };
    let robust = mean_abs_error(&ForecastConfig::default());
    let plain = mean_abs_error(&ForecastConfig {
        robust: false,
        ..ForecastConfig::default()
    });
    // Within 5 (the noise sd) of the truth on average, far better than
    // plain least squares, which the spikes pull up by their mean.
    assert!(robust < 5.0, "robust error {robust}");
    assert!(plain > 4.0 * robust, "plain {plain} vs robust {robust}");
}

#[test]
fn normal_quantile_matches_reference_values() {
    for (p, z) in [
        (0.5, 0.0),
        (0.9, 1.281_551_565_544_600_4),
        (0.975, 1.959_963_984_540_054),
        (0.1, -1.281_551_565_544_600_4),
        (1e-10, -6.361_340_902_404_056),
    ] {
        assert!((band::normal_quantile(p) - z).abs() < 1e-12, "{p}");
    }
}

#[test]
fn clamping_raises_negatives_to_zero() {
    let fc = Forecast {
        yhat: vec![-1.0, 2.0],
        lower: vec![-3.0, 1.0],
        upper: vec![0.5, 3.0],
    };
    let clamped = fc.clamped_at_zero();
    assert_eq!(clamped.yhat, vec![0.0, 2.0]);
    assert_eq!(clamped.lower, vec![0.0, 1.0]);
    assert_eq!(clamped.upper, vec![0.5, 3.0]);
}
