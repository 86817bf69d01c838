//! The weekend candidates of `auto`: Sunday's own shape beside Saturday's,
//! and when it is (not) fitted.

use super::super::decompose::weeks_repeat;
use super::super::weekend::{saturday_sunday_gap, sunday_seasonalities, weekend_seasonalities};
use super::*;

/// Hourly rows from [`START`]: the last at 2018-09-02T08:48:34Z, a Sunday
/// morning.
const HOURS: i64 = 327;

/// A half sine over `[from, to)` hours of the UTC day, 0 elsewhere.
fn bump(t: i64, from: f64, to: f64) -> f64 {
    let h = t.rem_euclid(DAY_US) as f64 / HOUR_US as f64;
    if (from..to).contains(&h) {
        (std::f64::consts::PI * (h - from) / (to - from)).sin()
    } else {
        0.0
    }
}

/// Level 100 rising by 1 a day; weekdays peak by 80 from 8 to 18 h,
/// Saturdays by 60 from 8 to 13 h, Sundays stay flat.
fn week_truth(t: i64) -> f64 {
    let level = 100.0 + days_since_start(t);
    let sunday = design::is_sunday(t);
    level
        + if sunday {
            0.0
        } else if design::is_weekend(t) {
            60.0 * bump(t, 8.0, 13.0)
        } else {
            80.0 * bump(t, 8.0, 18.0)
        }
}

fn hourly_history(noise: &mut Rng, shift: f64) -> (Vec<i64>, Vec<f64>) {
    let ts: Vec<i64> = (0..HOURS).map(|i| START + i * HOUR_US).collect();
    let last = ts[ts.len() - 1];
    let y = ts
        .iter()
        .map(|&t| {
            let moved = if t > last - 7 * HOUR_US { shift } else { 0.0 };
            week_truth(t) + moved + 2.0 * noise.gauss()
        })
        .collect();
    (ts, y)
}

#[test]
fn sunday_gets_its_own_shape_when_saturday_differs() {
    let (ts, y) = hourly_history(&mut Rng(41), 0.0);
    let last = *ts.last().unwrap();
    assert!(design::is_sunday(last));
    let model = ForecastConfig::default().fit(&ts, &y).unwrap();
    assert!(
        member_names(&model).contains(&"log-weekend-sunday+lag24"),
        "{:?}",
        member_names(&model)
    );
    // The rest of the Sunday (09:48 to 22:48): flat at the level. One
    // weekend shape would forecast part of Saturday's morning peak (up to
    // 60) at 09:48-12:48; the truth there has none. The mean absolute
    // error stays within 4 (twice the noise), and within 6 at each hour.
    let future: Vec<i64> = (1..=14).map(|k| last + k * HOUR_US).collect();
    let fc = model.predict(&future, 0.8).unwrap();
    let mut total = 0.0;
    for (&t, &f) in future.iter().zip(&fc.yhat) {
        let e = (f - week_truth(t)).abs();
        assert!(e < 6.0, "error {e} at {t}");
        total += e;
    }
    assert!(total / 14.0 < 4.0, "mean error {}", total / 14.0);
}

#[test]
fn a_level_moved_on_a_sunday_is_not_taken_for_sundays_shape() {
    // The same weeks, but the last 7 hours (a Sunday morning) 40 higher:
    // the Sunday candidate would read that as Sunday's own level.
    let (ts, y) = hourly_history(&mut Rng(41), 40.0);
    let model = ForecastConfig::default().fit(&ts, &y).unwrap();
    let names = member_names(&model);
    assert!(names.contains(&"log-weekend-daily+lag24"), "{names:?}");
    assert!(!names.contains(&"log-weekend-sunday+lag24"), "{names:?}");
}

#[test]
fn sunday_terms_need_repeating_weeks_and_a_saturday_and_a_sunday() {
    let config = ForecastConfig::default();
    let base = config.seasonalities(WEEK_US);
    let (ts, y) = hourly_history(&mut Rng(43), 0.0);
    let weekend = weekend_seasonalities(&config, &ts, base.clone()).unwrap();
    let with_sunday = sunday_seasonalities(&ts, &y, &weekend).unwrap();
    assert_eq!(with_sunday.len(), weekend.len() + 1);
    let sunday = with_sunday.last().unwrap();
    assert_eq!((sunday.days, sunday.order), (design::Days::Sunday, 4));
    // Every day alike (a daily cycle and noise): weeks do not repeat more
    // than days do, so no Sunday terms.
    let mut noise = Rng(47);
    let daily: Vec<f64> = ts
        .iter()
        .map(|&t| 100.0 + 30.0 * phase(t, DAY_US).sin() + 2.0 * noise.gauss())
        .collect();
    assert!(sunday_seasonalities(&ts, &daily, &weekend).is_none());
    // The same repeating weeks with fewer than 20 rows of one weekend day
    // (Sunday's or Saturday's after 06:00 left out: 12 and 12 rows left):
    // no Sunday terms, though the weeks still repeat.
    for day in [design::is_sunday as fn(i64) -> bool, |t| {
        design::is_weekend(t) && !design::is_sunday(t)
    }] {
        let kept: Vec<usize> = (0..ts.len())
            .filter(|&i| !day(ts[i]) || ts[i].rem_euclid(DAY_US) < 6 * HOUR_US)
            .collect();
        let few_ts: Vec<i64> = kept.iter().map(|&i| ts[i]).collect();
        let few_y: Vec<f64> = kept.iter().map(|&i| y[i]).collect();
        assert_eq!(few_ts.iter().filter(|&&t| day(t)).count(), 12);
        assert!(weeks_repeat(&few_ts, &few_y));
        let weekend = weekend_seasonalities(&config, &few_ts, base.clone()).unwrap();
        assert!(sunday_seasonalities(&few_ts, &few_y, &weekend).is_none());
    }
}

#[test]
fn sunday_columns_are_zero_off_sundays() {
    let layout = design::Layout::new(
        &[START, START + WEEK_US],
        0,
        0.8,
        vec![design::Seasonality {
            period_us: DAY_US,
            order: 2,
            days: design::Days::Sunday,
        }],
    );
    let mut row = vec![9.0; layout.width()];
    let n = layout.n_trend();
    assert_eq!(layout.width(), n + 5);
    // START is a Sunday: level 1, then sin/cos of the daily phase.
    layout.fill_row(START, &mut row);
    assert_eq!(row[n], 1.0);
    assert!((row[n + 1] - phase(START, DAY_US).sin()).abs() < 1e-12);
    // A Saturday and a Monday: all five columns 0.
    for t in [START - DAY_US, START + DAY_US] {
        layout.fill_row(t, &mut row);
        assert!(row[n..].iter().all(|v| *v == 0.0), "{row:?}");
    }
}

#[test]
fn sunday_terms_need_a_saturday_unlike_the_sunday() {
    // The same weeks with Saturday as flat as Sunday: one weekend shape
    // fits both, the weekend candidate's residuals do not set them apart
    // (gap under 2), and no Sunday candidate is fitted.
    let alike = |t: i64| {
        let level = 100.0 + days_since_start(t);
        level
            + if design::is_weekend(t) {
                0.0
            } else {
                80.0 * bump(t, 8.0, 18.0)
            }
    };
    let ts: Vec<i64> = (0..HOURS).map(|i| START + i * HOUR_US).collect();
    let mut noise = Rng(59);
    let y: Vec<f64> = ts.iter().map(|&t| alike(t) + 2.0 * noise.gauss()).collect();
    let model = ForecastConfig::default().fit(&ts, &y).unwrap();
    let names = member_names(&model);
    assert!(names.contains(&"log-weekend-daily+lag24"), "{names:?}");
    assert!(!names.contains(&"log-weekend-sunday+lag24"), "{names:?}");
    // Where Saturday peaks and Sunday does not, the gap is far above 2.
    let (ts, y) = hourly_history(&mut Rng(41), 0.0);
    let model = ForecastConfig::default().fit(&ts, &y).unwrap();
    let weekend = std::iter::once(&model)
        .chain(model.blend.iter().map(|(m, _)| m))
        .find(|m| m.model_name().as_str() == "log-weekend-daily+lag24")
        .unwrap();
    let scaled: Vec<f64> = y.iter().map(|v| v / weekend.y_scale).collect();
    let gap = saturday_sunday_gap(weekend, &ts, &scaled);
    assert!(gap > 10.0, "gap {gap}");
}
