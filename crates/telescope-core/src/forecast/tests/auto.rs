//! `auto`'s candidates and blend: the weekend's own shape, a level that
//! moved, blend weights and bands, the log candidates.

use super::*;

#[test]
fn weekday_only_daily_shape_is_recovered() {
    // 21 days, ~55-minute rows: a daily swing of amplitude 40 on weekdays
    // only, flat weekends, noise sd 2.
    let mut rng = Rng(23);
    let truth = |t: i64| {
        100.0
            + if design::is_weekend(t) {
                0.0
            } else {
                40.0 * phase(t, DAY_US).sin()
            }
    };
    let ts = irregular_timestamps(21.0, &mut rng);
    let y: Vec<f64> = ts.iter().map(|&t| truth(t) + 2.0 * rng.gauss()).collect();
    let model = ForecastConfig::default().fit(&ts, &y).unwrap();
    // The weekend candidate (on the logarithm: the values are positive)
    // carries the largest weight.
    assert_eq!(model.model_name().as_str(), "log-weekend-daily+lag24");
    // The next 7 days, hourly: on weekdays the swing has amplitude 40 +- 4
    // (first harmonic of the forecast), on weekends it stays within 6 of
    // the flat level.
    let last = *ts.last().unwrap();
    let future: Vec<i64> = (1..=168).map(|k| last + k * HOUR_US).collect();
    let fc = model.predict(&future, 0.8).unwrap();
    let (mut s, mut c, mut n) = (0.0, 0.0, 0.0);
    for (&t, &f) in future.iter().zip(&fc.yhat) {
        if design::is_weekend(t) {
            assert!((f - 100.0).abs() < 6.0, "weekend {f}");
        } else {
            s += (f - 100.0) * phase(t, DAY_US).sin();
            c += (f - 100.0) * phase(t, DAY_US).cos();
            n += 1.0;
        }
    }
    let amplitude = 2.0 * (s / n).hypot(c / n);
    assert!(
        (amplitude - 40.0).abs() < 4.0,
        "weekday amplitude {amplitude}"
    );
}

#[test]
fn forecast_follows_a_level_shift_two_days_before_the_origin() {
    // 12 days with a daily swing; the level jumps from 100 to 150 two days
    // before the end. The next day's forecast is within 7.5 (15% of the
    // shift) of the new level on average.
    let mut rng = Rng(29);
    let ts = irregular_timestamps(12.0, &mut rng);
    let last = *ts.last().unwrap();
    let truth = |t: i64| {
        let level = if t > last - 2 * DAY_US { 150.0 } else { 100.0 };
        level + 20.0 * phase(t, DAY_US).sin()
    };
    let y: Vec<f64> = ts.iter().map(|&t| truth(t) + 2.0 * rng.gauss()).collect();
    let future = next_day(&ts);
    let next_day_error = |config: &ForecastConfig| {
        let fc = config.fit(&ts, &y).unwrap().predict(&future, 0.8).unwrap();
        mean_error(&future, &fc.yhat, |t, f| (f - truth(t)).abs())
    };
    let error = next_day_error(&ForecastConfig::default());
    assert!(error < 7.5, "mean error after the shift {error}");
    // The seasonal-trend model alone overshoots (its last trend segment
    // ramps through the shift): more than twice that.
    let old = next_day_error(&ForecastConfig {
        model: Model::SeasonalTrend,
        ..ForecastConfig::default()
    });
    assert!(old > 15.0, "seasonal-trend error {old}");
}

#[test]
fn blend_weights_follow_the_hold_out_scores() {
    // (best / score)^16: 1 and 1.1^-16 = 0.217629135790..., normalised by
    // their sum 1.217629135790...; 2^-16 / 1.2176 = 1.25e-5 is below the
    // 1e-3 floor and dropped, an infinite score weighs nothing.
    let (best, w) = blend::blend_weights(&[1.0, 1.1, 2.0, f64::INFINITY]);
    assert_eq!(best, 0);
    let expected = [0.821_268_127_220_917_8, 0.178_731_872_779_082_2, 0.0, 0.0];
    for (got, want) in w.iter().zip(expected) {
        assert!((got - want).abs() < 1e-12, "{w:?}");
    }
    // Without a positive finite best score, the best takes all.
    assert_eq!(
        blend::blend_weights(&[0.5, 0.0, 0.0]),
        (1, vec![0.0, 1.0, 0.0])
    );
    let none = [f64::INFINITY, f64::INFINITY];
    assert_eq!(blend::blend_weights(&none), (0, vec![1.0, 0.0]));
    assert!(blend::blend_weights(&[]).1.is_empty());
}

#[test]
fn blended_forecast_is_the_weighted_mean_of_its_members() {
    // A series where no candidate is clearly best, so several are blended.
    let mut rng = Rng(31);
    let ts = irregular_timestamps(21.0, &mut rng);
    let y: Vec<f64> = ts
        .iter()
        .map(|&t| 200.0 + 30.0 * phase(t, DAY_US).sin() + 15.0 * rng.gauss())
        .collect();
    let model = ForecastConfig::default().fit(&ts, &y).unwrap();
    assert!(!model.blend.is_empty(), "expected a blend");
    let total = model.weight + model.blend.iter().map(|(_, w)| w).sum::<f64>();
    assert!((total - 1.0).abs() < 1e-12, "weights sum to {total}");
    assert!(model.blend.iter().all(|(_, w)| *w <= model.weight));
    let future = next_day(&ts);
    let fc = model.predict(&future, 0.8).unwrap();
    let z = band::normal_quantile(0.9);
    let own = model.predict_one(&future, z);
    let members: Vec<(Forecast, f64)> = model
        .blend
        .iter()
        .map(|(m, w)| (m.predict_one(&future, z), *w))
        .collect();
    for k in 0..future.len() {
        let mix = |f: fn(&Forecast) -> &Vec<f64>| {
            model.weight * f(&own)[k] + members.iter().map(|(m, w)| w * f(m)[k]).sum::<f64>()
        };
        for (got, want) in [
            (fc.yhat[k], mix(|f| &f.yhat)),
            (fc.lower[k], mix(|f| &f.lower)),
            (fc.upper[k], mix(|f| &f.upper)),
        ] {
            assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} vs {want}");
        }
        assert!(fc.lower[k] < fc.yhat[k] && fc.yhat[k] < fc.upper[k]);
    }
}

#[test]
fn log_candidate_follows_a_daily_shape_that_scales_with_the_level() {
    // 21 days, ~55-minute rows: y = L(t) exp(0.8 sin(daily phase)) with a
    // level L growing 3 % a day and 5 % multiplicative noise. On the
    // logarithm this is a line plus one harmonic, exactly the model; on the
    // values the swing grows with the level, which an additive model cannot
    // draw. The log candidate must carry the blend, and the next day's
    // forecast must be within 3 % of the truth on average (the noise alone
    // is 5 % per row).
    let mut rng = Rng(37);
    let truth =
        |t: i64| 1000.0 * (0.03 * days_since_start(t)).exp() * (0.8 * phase(t, DAY_US).sin()).exp();
    let ts = irregular_timestamps(21.0, &mut rng);
    let y: Vec<f64> = ts
        .iter()
        .map(|&t| truth(t) * (0.05 * rng.gauss()).exp())
        .collect();
    let model = ForecastConfig::default().fit(&ts, &y).unwrap();
    assert!(
        model.model_name().as_str().starts_with("log-"),
        "{}",
        model.model_name()
    );
    let future = next_day(&ts);
    let fc = model.predict(&future, 0.8).unwrap();
    let error = mean_error(&future, &fc.yhat, |t, f| (f / truth(t) - 1.0).abs());
    assert!(error < 0.03, "mean relative error {error}");
}

#[test]
fn blend_band_narrows_to_the_blended_errors() {
    let a: Vec<f64> = (1..=10).map(f64::from).collect();
    // Scales are homogeneous: errors 3x another's blend to 2.5x, as wide as
    // the weighted mean of the scales; identical errors change nothing.
    let b: Vec<f64> = a.iter().map(|e| 3.0 * e).collect();
    let same = blend::blend_band_factor(&[&a, &b], &[0.25, 0.75]);
    assert!((same - 1.0).abs() < 1e-12, "{same}");
    assert_eq!(blend::blend_band_factor(&[&a, &a], &[0.5, 0.5]), 1.0);
    // Errors agreeing on odd rows and cancelling on even ones: the blend's
    // |errors| are 1, 0, 3, 0, ..., 9, 0, whose 80 % quantile (linear
    // interpolation at position 7.2 of 10 sorted) is 5 + 0.2 x 2 = 5.4,
    // against 8 + 0.2 x 1 = 8.2 for either candidate: 5.4 / 8.2.
    let c: Vec<f64> = a
        .iter()
        .enumerate()
        .map(|(j, e)| if j % 2 == 0 { *e } else { -e })
        .collect();
    let mixed = blend::blend_band_factor(&[&a, &c], &[0.5, 0.5]);
    assert!((mixed - 5.4 / 8.2).abs() < 1e-12, "{mixed}");
    // Errors cancelling everywhere never narrow it below half; unpaired
    // errors leave it alone.
    let d: Vec<f64> = a.iter().map(|e| -e).collect();
    assert_eq!(blend::blend_band_factor(&[&a, &d], &[0.5, 0.5]), 0.5);
    assert_eq!(blend::blend_band_factor(&[&a, &a[1..]], &[0.5, 0.5]), 1.0);
}

#[test]
fn blend_band_pairs_errors_by_day() {
    // Days named by their train_end: the first member forecast days 10, 34
    // and 58 (2, 3 and 1 rows), the second only 34 and 58 (its fit for day
    // 10 failed), the third 10 and 34. Only day 34 was forecast by all
    // three: the first's rows 2..5, the second's 0..3, the third's 2..5.
    let first = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let second = [13.0, 14.0, 15.0, 16.0];
    let third = [21.0, 22.0, 23.0, 24.0, 25.0];
    let paired = blend::common_day_errors(&[
        (&first, &[(10, 2), (34, 3), (58, 1)]),
        (&second, &[(34, 3), (58, 1)]),
        (&third, &[(10, 2), (34, 3)]),
    ]);
    assert_eq!(
        paired,
        [
            vec![3.0, 4.0, 5.0],
            vec![13.0, 14.0, 15.0],
            vec![23.0, 24.0, 25.0]
        ]
    );
    // Without a day in common, nothing pairs (and the band is left alone).
    let apart = blend::common_day_errors(&[(&first[..2], &[(10, 2)]), (&second[3..], &[(58, 1)])]);
    assert_eq!(apart, [Vec::<f64>::new(), Vec::new()]);
}

#[test]
fn log_bands_stay_bounded_far_ahead() {
    // A sparse series: 0 in 80 % of the rows, bursts up to 5,000 otherwise.
    // A year ahead the band's variance has grown 366-fold; on the logarithm
    // that would be an exponential blow-up. The upper bound stays within 10
    // times the largest value seen (a log member's bounds stay within a
    // factor of 10 of its mean, itself below that largest value).
    let mut rng = Rng(41);
    let ts = irregular_timestamps(15.0, &mut rng);
    let y: Vec<f64> = ts
        .iter()
        .map(|_| {
            if rng.uniform() < 0.8 {
                0.0
            } else {
                (5000.0 * rng.uniform()).ceil()
            }
        })
        .collect();
    let model = ForecastConfig::default().fit(&ts, &y).unwrap();
    let last = *ts.last().unwrap();
    let future: Vec<i64> = (1..=8760).step_by(73).map(|k| last + k * HOUR_US).collect();
    let fc = model.predict(&future, 0.8).unwrap();
    for (u, f) in fc.upper.iter().zip(&fc.yhat) {
        assert!(u.is_finite() && *u < 50_000.0, "upper {u}, forecast {f}");
    }
}

#[test]
fn candidates_with_the_same_hold_out_errors_as_an_earlier_one_are_left_out() {
    let (a, b) = ([1.0, -2.0, 0.5], [1.0, -2.0, 0.25]);
    let repeat_of_a = [1.0, -2.0, 0.5];
    let errors: [&[f64]; 6] = [&a, &b, &repeat_of_a, &[], &[], &a[..2]];
    assert_eq!(
        blend::untested_repeats(&errors),
        [false, false, true, false, false, false]
    );
    // 0.0 and -0.0 are different forecasts' errors, bit for bit.
    assert_eq!(blend::untested_repeats(&[&[0.0], &[-0.0]]), [false, false]);
}

#[test]
fn the_day_type_naive_is_left_out_where_the_hold_out_days_cannot_test_it() {
    // Nine and a half days of hourly rows ending on a Sunday at 23:00
    // UTC; the weeks repeat (noise sd 1): a daily swing of 20, weekends 40
    // lower, and on Mondays only a morning peak of 60 from 6 to 10 h. The
    // two naive candidates can only be held out on the last day (a week
    // of history must precede it), a Sunday, where both read a week
    // earlier: the hold-out cannot tell Friday (the day-type naive's
    // source for a Monday) from last Monday (the weekly naive's), and the
    // weekly naive stands for both.
    let monday_peak = |t: i64| {
        let h = t.rem_euclid(DAY_US) as f64 / HOUR_US as f64;
        let monday = t.div_euclid(DAY_US).rem_euclid(7) == 4;
        if monday && (6.0..10.0).contains(&h) {
            60.0 * (std::f64::consts::PI * (h - 6.0) / 4.0).sin()
        } else {
            0.0
        }
    };
    let weekend = |t: i64| if design::is_weekend(t) { -40.0 } else { 0.0 };
    let truth = |t: i64| 200.0 + 20.0 * phase(t, DAY_US).sin() + weekend(t) + monday_peak(t);
    // START is a Sunday; end on the second Sunday after, at 23:00.
    let end = START.div_euclid(DAY_US) * DAY_US + 2 * WEEK_US + 23 * HOUR_US;
    let ts: Vec<i64> = (0..=228).rev().map(|k| end - k * HOUR_US).collect();
    let mut rng = Rng(53);
    let y: Vec<f64> = ts.iter().map(|&t| truth(t) + rng.gauss()).collect();
    assert!(design::is_sunday(end) && !design::is_sunday(end + HOUR_US));
    let model = ForecastConfig::default().fit(&ts, &y).unwrap();
    let names = member_names(&model);
    assert!(names.contains(&"snaive168"), "{names:?}");
    assert!(!names.contains(&"snaive-daytype"), "{names:?}");
}
