//! The weekend's own terms of `Auto`'s weekend candidates: the weekend's
//! level and daily shape beside the weekdays' (`weekend-daily`), and
//! Sunday's beside Saturday's (`weekend-sunday`).
//!
//! Saturday and Sunday often differ where weeks repeat: shops and offices
//! open on Saturday mornings, an electricity load is lower on Sundays. One
//! weekend shape then forecasts Saturday's morning peak on a Sunday, which
//! no hold-out day catches when the history ends on a weekend (the
//! hold-out days before it are weekdays and a Saturday). The Sunday terms
//! are fitted only where the history shows that weeks repeat (the weekly
//! naive's gate, [`super::decompose::weeks_repeat`]) and, by the caller,
//! only when the weekend candidate's residuals set Saturday apart from
//! Sunday ([`saturday_sunday_gap`]) and its last hours sit on its fit: a
//! level that moved on a Sunday would otherwise be taken for Sunday's own
//! level.

use super::config::ForecastConfig;
use super::decompose::weeks_repeat;
use super::design::{self, Days, Seasonality, DAY_US, HOUR_US};
use super::fitted::FittedModel;
use super::irls::predict_row;

/// Weekend (and Sunday, and Saturday) rows a history needs before they get
/// their own shape (about a day of hourly rows).
pub(super) const MIN_WEEKEND_ROWS: usize = 20;

/// `base` plus the weekend's own level and daily shape, when `base` has a
/// daily term and the history `ts` at least [`MIN_WEEKEND_ROWS`] weekend
/// and weekday rows; else `None`.
pub(super) fn weekend_seasonalities(
    config: &ForecastConfig,
    ts: &[i64],
    mut base: Vec<Seasonality>,
) -> Option<Vec<Seasonality>> {
    let has_daily = base.iter().any(|s| s.period_us == DAY_US);
    let weekend_rows = ts.iter().filter(|&&t| design::is_weekend(t)).count();
    let enough = has_daily
        && config.weekend_daily_order > 0
        && weekend_rows >= MIN_WEEKEND_ROWS
        && ts.len() - weekend_rows >= MIN_WEEKEND_ROWS;
    enough.then(|| {
        base.push(Seasonality {
            period_us: DAY_US,
            order: config.weekend_daily_order,
            days: Days::Weekend,
        });
        base
    })
}

/// `weekend` (from [`weekend_seasonalities`]) plus Sunday's own level and
/// daily shape, of the same order, when the history (`ts`, values `y`)
/// has at least [`MIN_WEEKEND_ROWS`] Sunday and Saturday rows and its
/// weeks repeat; else `None`.
pub(super) fn sunday_seasonalities(
    ts: &[i64],
    y: &[f64],
    weekend: &[Seasonality],
) -> Option<Vec<Seasonality>> {
    let order = weekend.iter().find(|s| s.days == Days::Weekend)?.order;
    let sundays = ts.iter().filter(|&&t| design::is_sunday(t)).count();
    let saturdays = ts.iter().filter(|&&t| design::is_weekend(t)).count() - sundays;
    let enough = sundays >= MIN_WEEKEND_ROWS && saturdays >= MIN_WEEKEND_ROWS;
    (enough && weeks_repeat(ts, y)).then(|| {
        let mut with_sunday = weekend.to_vec();
        with_sunday.push(Seasonality {
            period_us: DAY_US,
            order,
            days: Days::Sunday,
        });
        with_sunday
    })
}

/// [`saturday_sunday_gap`] from which Sunday gets its own terms: the gap
/// is about 1 (sd 0.3) where one weekend shape fits both days, and 2 is a
/// clear gap. On the backtests this keeps the Sunday candidate's gains
/// and skips its fit on most traffic-like series, whose generated weekend
/// days look alike: 1,000 such tags take 1.04x the CPU they took before
/// the candidate, against 1.17-1.23x without the gate.
pub(super) const MIN_SATURDAY_SUNDAY_GAP: f64 = 2.0;

/// How far Sunday's mean residuals under the weekend candidate `model`
/// (fitted to `ts`, scaled values `y`) stand from Saturday's, hour by hour
/// of the UTC day: the mean, over the hours with rows on both days, of
/// `(sunday mean - saturday mean)^2 / (s^2 (1/n_sunday + 1/n_saturday))`,
/// with `s` the robust scale of the weekday residuals (a chi-square per
/// degree of freedom). 0 without weekday residuals; infinite when they
/// are all 0.
pub(super) fn saturday_sunday_gap(model: &FittedModel, ts: &[i64], y: &[f64]) -> f64 {
    let mut row = vec![0.0; model.layout.width()];
    let n_trend = model.layout.n_trend();
    // Per hour of the day: [Sunday, Saturday] residual sums and counts.
    let mut sums = [[0.0f64; 2]; 24];
    let mut counts = [[0usize; 2]; 24];
    let mut weekday = Vec::new();
    for (&t, &v) in ts.iter().zip(y) {
        model.layout.fill_row(t, &mut row);
        let r = model.space.forward(v) - predict_row(&row, &model.theta, n_trend, model.mode);
        let hour = usize::try_from(t.rem_euclid(DAY_US) / HOUR_US).unwrap_or(0);
        let day = match (design::is_sunday(t), design::is_weekend(t)) {
            (true, _) => 0,
            (false, true) => 1,
            (false, false) => {
                weekday.push(r.abs());
                continue;
            }
        };
        sums[hour][day] += r;
        counts[hour][day] += 1;
    }
    if weekday.is_empty() {
        return 0.0;
    }
    weekday.sort_by(f64::total_cmp);
    let s = 1.4826 * weekday[weekday.len() / 2];
    if s <= 0.0 {
        return f64::INFINITY;
    }
    let gaps: Vec<f64> = (0..24)
        .filter(|&h| counts[h][0] > 0 && counts[h][1] > 0)
        .map(|h| {
            let [n_sun, n_sat] = counts[h].map(|n| n as f64);
            let d = sums[h][0] / n_sun - sums[h][1] / n_sat;
            d * d / (s * s * (1.0 / n_sun + 1.0 / n_sat))
        })
        .collect();
    if gaps.is_empty() {
        0.0
    } else {
        gaps.iter().sum::<f64>() / gaps.len() as f64
    }
}
