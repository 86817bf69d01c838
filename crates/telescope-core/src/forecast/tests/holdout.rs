//! The hold-out days of `auto`: the extra day with the forecast's Saturday
//! and Sunday hours. Expected cuts worked out by hand from the calendar
//! (1970-01-01 was a Thursday; Saturdays and Sundays are weekend days).

use crate::forecast::design::{DAY_US, HOUR_US};
use crate::forecast::*;

/// Hourly timestamps from `first` to `last` (both whole hours).
fn hourly(first: i64, last: i64) -> Vec<i64> {
    (first..=last).step_by(HOUR_US as usize).collect()
}

/// `(train_end, test_end)` of each cut.
fn cuts(model: Model, ts: &[i64]) -> Vec<(usize, usize)> {
    let config = ForecastConfig {
        model,
        holdout_days: 4,
        ..ForecastConfig::default()
    };
    config
        .holdout_cuts(ts, 1)
        .iter()
        .map(|c| (c.train_end, c.test_end))
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
