//! Design matrix: scaled time, piecewise-linear trend columns and Fourier
//! columns on absolute (real) timestamps.

use std::f64::consts::TAU;

/// Microseconds in one hour.
pub(super) const HOUR_US: i64 = 3_600_000_000;
/// Microseconds in one day.
pub(super) const DAY_US: i64 = 24 * HOUR_US;
/// Microseconds in one week.
pub(super) const WEEK_US: i64 = 7 * DAY_US;
/// Shortest history (last minus first timestamp) that gets a trend slope
/// and changepoints. A shorter history is fitted as a flat level: a slope
/// estimated over seconds or microseconds (e.g. rows logged in one burst)
/// would be extrapolated over hours to absurd values. Seasonal terms need
/// two periods anyway, so such a history has none either.
pub(super) const MIN_TREND_SPAN_US: i64 = HOUR_US;

/// One periodic component: `order` sine/cosine pairs of period `period_us`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Seasonality {
    /// Period in microseconds.
    pub period_us: i64,
    /// Number of harmonics.
    pub order: usize,
    /// The days the component is active on.
    pub days: Days,
}

/// The days a [`Seasonality`] is active on (UTC days of the timestamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Days {
    /// Every day: the common shape.
    Every,
    /// Saturdays and Sundays only: the weekend's deviation from the common
    /// shape, led by a level column (1 on those days).
    Weekend,
    /// Sundays only: Sunday's deviation from the weekend's shape, led by a
    /// level column.
    Sunday,
}

impl Days {
    /// True when the component is active at `ts`.
    fn active(self, ts: i64) -> bool {
        match self {
            Days::Every => true,
            Days::Weekend => is_weekend(ts),
            Days::Sunday => is_sunday(ts),
        }
    }
}

impl Seasonality {
    /// Number of design columns.
    pub fn width(&self) -> usize {
        2 * self.order + usize::from(self.days != Days::Every)
    }

    /// A component active on every day.
    pub fn every_day(period_us: i64, order: usize) -> Self {
        Seasonality {
            period_us,
            order,
            days: Days::Every,
        }
    }
}

/// True when `ts` falls on a Saturday or Sunday (1970-01-01 was a Thursday).
pub(super) fn is_weekend(ts: i64) -> bool {
    matches!(ts.div_euclid(DAY_US).rem_euclid(7), 2 | 3)
}

/// True when `ts` falls on a Sunday.
pub(super) fn is_sunday(ts: i64) -> bool {
    ts.div_euclid(DAY_US).rem_euclid(7) == 3
}

/// Column layout of the design matrix: `[1, t, (t - s_j)+ .., sin/cos ..]`
/// (a component not active every day, [`Days::Weekend`] or
/// [`Days::Sunday`], leads its sin/cos with a level column, 1 on its days).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Layout {
    /// Timestamp mapped to t = 0 (earliest history point, or a day before
    /// the last one when [`Layout::flat`]).
    pub t_start: i64,
    /// Microseconds mapped to one unit of t (history span, a day when flat).
    pub t_span: f64,
    /// Candidate changepoints in scaled time.
    pub changepoints: Vec<f64>,
    /// Periodic components, in column order.
    pub seasonalities: Vec<Seasonality>,
    /// History shorter than [`MIN_TREND_SPAN_US`]: the slope column is
    /// zero (the fit is a flat level) and there are no changepoints.
    pub flat: bool,
}

impl Layout {
    /// Places Prophet-style changepoints: `count` history rows evenly spread
    /// over the first `range` fraction of the sorted rows. A history spanning
    /// less than [`MIN_TREND_SPAN_US`] gets a flat level only.
    pub fn new(
        sorted_ts: &[i64],
        count: usize,
        range: f64,
        seasonalities: Vec<Seasonality>,
    ) -> Self {
        let span = span_us(sorted_ts);
        let flat = span < MIN_TREND_SPAN_US;
        // A flat history is scaled as if it spanned the day before its last
        // point, so that t = 1 is still the end of the history.
        let (t_start, t_span) = if flat {
            let last = sorted_ts[sorted_ts.len() - 1];
            (last.saturating_sub(DAY_US), DAY_US as f64)
        } else {
            (sorted_ts[0], span as f64)
        };
        let mut layout = Layout {
            t_start,
            t_span,
            changepoints: Vec::new(),
            seasonalities: if flat { Vec::new() } else { seasonalities },
            flat,
        };
        if flat {
            return layout;
        }
        let hist = (sorted_ts.len() as f64 * range.clamp(0.0, 1.0)).floor() as usize;
        let count = count.min(hist.saturating_sub(1));
        if count > 0 {
            let last = (hist - 1) as f64;
            layout.changepoints = (1..=count)
                .map(|j| {
                    let row = (j as f64 * last / count as f64).round() as usize;
                    layout.scaled_time(sorted_ts[row])
                })
                .collect();
        }
        layout
    }

    /// Number of trend columns (intercept, slope, changepoints).
    pub fn n_trend(&self) -> usize {
        2 + self.changepoints.len()
    }

    /// Total number of columns.
    pub fn width(&self) -> usize {
        self.n_trend()
            + self
                .seasonalities
                .iter()
                .map(Seasonality::width)
                .sum::<usize>()
    }

    /// Time in history units: 0 at the first point, 1 at the last.
    pub fn scaled_time(&self, ts: i64) -> f64 {
        (i128::from(ts) - i128::from(self.t_start)) as f64 / self.t_span
    }

    /// Writes the design row of `ts` into `row` (length [`Layout::width`]).
    pub fn fill_row(&self, ts: i64, row: &mut [f64]) {
        let t = self.scaled_time(ts);
        row[0] = 1.0;
        row[1] = if self.flat { 0.0 } else { t };
        for (cell, s) in row[2..].iter_mut().zip(&self.changepoints) {
            *cell = (t - s).max(0.0);
        }
        let mut col = self.n_trend();
        for season in &self.seasonalities {
            if season.days != Days::Every {
                if !season.days.active(ts) {
                    row[col..col + season.width()].fill(0.0);
                    col += season.width();
                    continue;
                }
                row[col] = 1.0;
                col += 1;
            }
            let phase = ts.rem_euclid(season.period_us) as f64 / season.period_us as f64 * TAU;
            let (s1, c1) = phase.sin_cos();
            let (mut s, mut c) = (s1, c1);
            for _ in 0..season.order {
                row[col] = s;
                row[col + 1] = c;
                col += 2;
                (s, c) = (s * c1 + c * s1, c * c1 - s * s1);
            }
        }
    }

    /// Row-major design matrix of `ts` (`ts.len()` x [`Layout::width`]).
    pub fn matrix(&self, ts: &[i64]) -> Vec<f64> {
        let p = self.width();
        let mut x = vec![0.0; ts.len() * p];
        for (row, &t) in x.chunks_exact_mut(p).zip(ts) {
            self.fill_row(t, row);
        }
        x
    }

    /// `(trend at t = 1, trend(1) - trend(0))` of a fit `theta`, scaled
    /// units (the history spans t = 0..1): where the trend ends and its
    /// mean slope over the history.
    pub fn trend_end_and_mean_slope(&self, theta: &[f64]) -> (f64, f64) {
        let n_trend = self.n_trend();
        let trend_at = |t: f64| {
            let mut g = theta[0] + theta[1] * if self.flat { 0.0 } else { t };
            for (s, d) in self.changepoints.iter().zip(&theta[2..n_trend]) {
                g += d * (t - s).max(0.0);
            }
            g
        };
        let end = trend_at(1.0);
        (end, end - trend_at(0.0))
    }
}

/// Last minus first of sorted timestamps, in microseconds (saturating).
pub(super) fn span_us(sorted_ts: &[i64]) -> i64 {
    match (sorted_ts.first(), sorted_ts.last()) {
        (Some(a), Some(b)) => b.saturating_sub(*a),
        _ => 0,
    }
}
