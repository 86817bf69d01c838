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
//! only when the last hours sit on the weekend candidate's fit: a level
//! that moved on a Sunday would otherwise be taken for Sunday's own level.

use super::config::ForecastConfig;
use super::decompose::weeks_repeat;
use super::design::{self, Days, Seasonality, DAY_US};

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
