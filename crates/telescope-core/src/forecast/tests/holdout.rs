//! The hold-out days of `auto`: the extra day with the forecast's Saturday
//! and Sunday hours, and the older days that only calibrate the band.
//! Expected cuts worked out by hand from the calendar (1970-01-01 was a
//! Thursday; Saturdays and Sundays are weekend days).

use super::*;

/// Hourly timestamps from `first` to `last` (both whole hours).
fn hourly(first: i64, last: i64) -> Vec<i64> {
    (first..=last).step_by(HOUR_US as usize).collect()
}

/// `(train_end, test_end)` of each cut, without calibration-only days.
fn cuts(model: Model, ts: &[i64]) -> Vec<(usize, usize)> {
    scored_cuts(model, 0, ts)
        .into_iter()
        .map(|(train_end, test_end, scored)| {
            assert!(scored);
            (train_end, test_end)
        })
        .collect()
}

/// `(train_end, test_end, scored)` of each cut, with
/// `auto_calibration_days` `calibration_days`.
fn scored_cuts(model: Model, calibration_days: usize, ts: &[i64]) -> Vec<(usize, usize, bool)> {
    let config = ForecastConfig {
        model,
        holdout_days: 4,
        auto_calibration_days: calibration_days,
        ..ForecastConfig::default()
    };
    config
        .holdout_cuts(ts, 1)
        .iter()
        .map(|c| (c.train_end, c.test_end, c.scored))
        .collect()
}

#[test]
fn auto_adds_the_nearest_day_with_the_forecasts_weekend_hours() {
    let monday_jan_5 = 4 * DAY_US;
    let saturday_jan_10 = 9 * DAY_US;
    // Friday 1970-01-23 12:00: the forecast runs from Friday 13:00 to
    // Saturday 12:00 (its last 13 hours are weekend). The four days before
    // (Monday to Friday noon) have no weekend hour; 5 days back starts on
    // Sunday 13:00 (11 weekend hours first), 6 on Saturday 13:00 (all 24):
    // only the day a week back (Friday 16th 13:00 to Saturday 17th 12:00)
    // matches. Rows are hourly from Monday 5th 00:00, so the cut at
    // 11.5 days is row 276: training rows 0..=276, test rows 277..=300.
    let friday_noon = 22 * DAY_US + 12 * HOUR_US;
    let ts = hourly(monday_jan_5, friday_noon);
    assert_eq!(ts.len(), 445);
    let four = [(349, 373), (373, 397), (397, 421), (421, 445)];
    let mut expected = vec![(277, 301)];
    expected.extend(four);
    assert_eq!(cuts(Model::Auto, &ts), expected);
    // Not for the seasonal-trend model.
    assert_eq!(cuts(Model::SeasonalTrend, &ts), four);
    // From Saturday 10th the week back has 6.5 days of history before it,
    // less than a week and an hour: no extra day (the same four days, 120
    // rows fewer before them).
    let short = hourly(saturday_jan_10, friday_noon);
    let shifted: Vec<(usize, usize)> = four.iter().map(|&(a, b)| (a - 120, b - 120)).collect();
    assert_eq!(cuts(Model::Auto, &short), shifted);

    // Friday 23:00: the forecast is Saturday 00:00 to 23:00, all
    // Saturday. 6 days back is Sunday 18th, a weekend day but not a
    // Saturday; 7 days back is Saturday 17th, the match (the cut at Friday
    // 16th 23:00, 11 days and 23 hours after Monday 5th 00:00, is row 287).
    let friday_late = 22 * DAY_US + 23 * HOUR_US;
    let ts = hourly(monday_jan_5, friday_late);
    assert_eq!(ts.len(), 456);
    assert_eq!(
        cuts(Model::Auto, &ts),
        [(288, 312), (360, 384), (384, 408), (408, 432), (432, 456)]
    );
    // Saturday 23:00: the forecast is Sunday 00:00 to 23:00. The day
    // before is a Saturday, all weekend but no Sunday; 7 days back is
    // Sunday 18th (the cut at Saturday 17th 23:00, 12 days and 23 hours
    // after Monday 5th 00:00, is row 311), with a week of history before.
    let saturday_late = 23 * DAY_US + 23 * HOUR_US;
    let ts = hourly(monday_jan_5, saturday_late);
    assert_eq!(ts.len(), 480);
    assert_eq!(
        cuts(Model::Auto, &ts),
        [(312, 336), (384, 408), (408, 432), (432, 456), (456, 480)]
    );

    // Wednesday 21st 12:00: no weekend hour ahead, none on the day before:
    // the four days only.
    let wednesday_noon = 20 * DAY_US + 12 * HOUR_US;
    let ts = hourly(monday_jan_5, wednesday_noon);
    assert_eq!(
        cuts(Model::Auto, &ts),
        [(301, 325), (325, 349), (349, 373), (373, 397)]
    );
}

#[test]
fn calibration_days_reach_back_where_two_weeks_precede_them() {
    // Hourly rows from Monday 1970-01-05 00:00 to Wednesday 28th 12:00
    // (23.5 days, 565 rows). The forecast (Wednesday 13:00 to Thursday
    // 12:00) has no weekend hour, nor has the day before: no extra day.
    // The cut d days back is at hour 564 - 24 d: training rows
    // ..565 - 24 d, held-out rows ..589 - 24 d. Days 1-4 are scored; days
    // 5-9 have 18.5-14.5 days of history before them and only calibrate;
    // day 10 has 13.5, less than two weeks, and is left out.
    let monday_jan_5 = 4 * DAY_US;
    let wednesday_noon = 27 * DAY_US + 12 * HOUR_US;
    let ts = hourly(monday_jan_5, wednesday_noon);
    assert_eq!(ts.len(), 565);
    let expected: Vec<(usize, usize, bool)> = (1..=9)
        .rev()
        .map(|d| (565 - 24 * d, 589 - 24 * d, d <= 4))
        .collect();
    assert_eq!(expected[0], (349, 373, false));
    assert_eq!(scored_cuts(Model::Auto, 10, &ts), expected);
    // Up to 6 days back only, then none beyond the scored four.
    assert_eq!(scored_cuts(Model::Auto, 6, &ts), expected[3..]);
    assert_eq!(scored_cuts(Model::Auto, 4, &ts), expected[5..]);
    // Not for the seasonal-trend model.
    assert_eq!(scored_cuts(Model::SeasonalTrend, 10, &ts), expected[5..]);
    // Thirteen hours fewer at the start: day 9 has 14.5 days less 13
    // hours before it, under two weeks; day 8 still 15.5 less 13.
    let later = hourly(monday_jan_5 + 13 * HOUR_US, wednesday_noon);
    let shifted: Vec<(usize, usize, bool)> = expected[1..]
        .iter()
        .map(|&(a, b, s)| (a - 13, b - 13, s))
        .collect();
    assert_eq!(scored_cuts(Model::Auto, 10, &later), shifted);
}

#[test]
fn the_same_weekend_day_among_the_calibration_days_is_scored_once() {
    // Hourly rows from Monday 1970-01-05 00:00 to Friday 30th 12:00 (25.5
    // days, 613 rows). The forecast (Friday 13:00 to Saturday 12:00) ends
    // in 13 Saturday hours; none of the last four days has them, 5 and 6
    // days back start on Sunday and Saturday noon: 7 days back (Friday
    // 23rd 13:00 to Saturday 24th 12:00) is the extra scored day. Days 5,
    // 6 and 8-10 (15.5-20.5 days of history before them) only calibrate.
    // The cut d days back: training rows ..613 - 24 d, held out ..637 - 24 d.
    let ts = hourly(4 * DAY_US, 29 * DAY_US + 12 * HOUR_US);
    assert_eq!(ts.len(), 613);
    let expected: Vec<(usize, usize, bool)> = (1..=10)
        .rev()
        .map(|d| (613 - 24 * d, 637 - 24 * d, d <= 4 || d == 7))
        .collect();
    assert_eq!(scored_cuts(Model::Auto, 10, &ts), expected);
    // Without calibration days, the four and the extra day.
    let scored: Vec<(usize, usize, bool)> = expected.into_iter().filter(|c| c.2).collect();
    assert_eq!(scored.len(), 5);
    assert_eq!(scored_cuts(Model::Auto, 4, &ts), scored);
}

#[test]
fn calibration_days_widen_the_band_not_the_forecast() {
    // Four weeks of a daily cycle whose days sit apart by a random level
    // (sd 8, which no fit of the past can foresee), except the last four
    // days, which keep one level: scored on them alone, the band knows
    // only the hourly noise (sd 1) and is far too narrow for the series.
    // The calibration days widen it, and leave the forecast itself (the
    // blend's choice) bit for bit.
    let mut rng = Rng(7);
    let ts = hourly(4 * DAY_US, 32 * DAY_US);
    let last = *ts.last().unwrap();
    let calm_from = last - 4 * DAY_US;
    let day_levels: Vec<f64> = (0..33).map(|_| 8.0 * rng.gauss()).collect();
    let y: Vec<f64> = ts
        .iter()
        .map(|&t| {
            let day = if t > calm_from { calm_from } else { t };
            let level = day_levels[(day / DAY_US) as usize];
            100.0 + level + 30.0 * phase(t, DAY_US).sin() + rng.gauss()
        })
        .collect();
    let fit = |calibration_days| {
        let config = ForecastConfig {
            auto_calibration_days: calibration_days,
            ..ForecastConfig::default()
        };
        config
            .fit(&ts, &y)
            .unwrap()
            .predict(&next_day(&ts), 0.8)
            .unwrap()
    };
    let (scored_only, calibrated) = (fit(4), fit(10));
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&scored_only.yhat), bits(&calibrated.yhat));
    let width = |f: &Forecast| {
        f.upper
            .iter()
            .zip(&f.lower)
            .map(|(u, l)| u - l)
            .sum::<f64>()
            / f.yhat.len() as f64
    };
    let (narrow, wide) = (width(&scored_only), width(&calibrated));
    // About 6 without the calibration days, 31 with them.
    assert!(wide > 2.0 * narrow, "band {narrow} -> {wide}");
}
