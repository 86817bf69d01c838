//! Per protocol and metric series, the outlier drop and one forecast.

use std::fmt;

use super::nemea::Row;
use super::protocol::Protocol;
use super::quantile::quantile;
use super::time::{HOUR_US, MAX_TIMESTAMP};
use crate::forecast::{ForecastConfig, ForecastError, ModelName};

/// One series of a tag: a protocol and a metric, shown as `TCP bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeriesId {
    /// The protocol.
    pub protocol: Protocol,
    /// The metric.
    pub metric: Metric,
}

impl fmt::Display for SeriesId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.protocol, self.metric)
    }
}

/// `ids` as `ICMP bytes, TCP packets`.
pub(crate) fn join(ids: &[SeriesId]) -> String {
    let names: Vec<String> = ids.iter().map(ToString::to_string).collect();
    names.join(", ")
}

/// A forecast metric and its profile key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// `bytes` (NEMEA BYTES).
    Bytes,
    /// `packets` (NEMEA PACKETS).
    Packets,
    /// `flow_count` (NEMEA COUNT).
    FlowCount,
}

impl Metric {
    /// All metrics in profile order.
    pub const ALL: [Metric; 3] = [Metric::Bytes, Metric::Packets, Metric::FlowCount];

    /// The profile key (`bytes`, `packets`, `flow_count`).
    pub fn key(self) -> &'static str {
        match self {
            Metric::Bytes => "bytes",
            Metric::Packets => "packets",
            Metric::FlowCount => "flow_count",
        }
    }

    /// This metric's value in a row.
    pub fn value(self, row: &Row) -> u64 {
        match self {
            Metric::Bytes => row.bytes,
            Metric::Packets => row.packets,
            Metric::FlowCount => row.count,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Observations `(ds, y)` in ascending `ds` (µs since the epoch).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// ds: TIME_FIRST in µs since the epoch.
    pub timestamps: Vec<i64>,
    /// y: the metric.
    pub values: Vec<f64>,
}

impl Series {
    /// Number of observations.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no observations.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The observations with `ds <= cut`.
    pub fn until(&self, cut: i64) -> Series {
        let n = self.timestamps.partition_point(|&t| t <= cut);
        Series {
            timestamps: self.timestamps[..n].to_vec(),
            values: self.values[..n].to_vec(),
        }
    }

    /// The observations with `y` at most the `q`-quantile of `y`
    /// (numpy's linear definition); `q >= 1` keeps everything.
    pub fn drop_above_quantile(&self, q: f64) -> Series {
        if q >= 1.0 {
            return self.clone();
        }
        let Some(limit) = quantile(&self.values, q) else {
            return Series::default();
        };
        let mut out = Series::default();
        for (&t, &y) in self.timestamps.iter().zip(&self.values) {
            if y <= limit {
                out.timestamps.push(t);
                out.values.push(y);
            }
        }
        out
    }
}

/// The rows of `protocol` in rows sorted as [`super::nemea::Parsed::rows`].
pub fn protocol_rows(rows: &[Row], protocol: Protocol) -> &[Row] {
    let start = rows.partition_point(|r| r.protocol < protocol.0);
    let end = rows.partition_point(|r| r.protocol <= protocol.0);
    &rows[start..end]
}

/// The series of `metric` over rows of one protocol sorted by time.
pub fn series(rows: &[Row], metric: Metric) -> Series {
    Series {
        timestamps: rows.iter().map(|r| r.first).collect(),
        values: rows.iter().map(|r| metric.value(r) as f64).collect(),
    }
}

/// One forecast instant, clamped at 0 with `lower <= yhat <= upper`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Instant, µs since the epoch.
    pub timestamp: i64,
    /// Point forecast.
    pub yhat: f64,
    /// Lower band bound.
    pub lower: f64,
    /// Upper band bound.
    pub upper: f64,
}

/// Why one series could not be forecast.
#[derive(Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SeriesError {
    /// Fewer than two rows left after the outlier drop.
    #[error("only {kept} row(s) left after the outlier drop (need 2)")]
    TooFewRows {
        /// Rows kept.
        kept: usize,
    },
    /// The forecaster refused the data.
    #[error("forecaster: {0}")]
    Forecast(#[from] ForecastError),
    /// The forecaster returned NaN or an infinite value.
    #[error("forecaster returned a non-finite value")]
    NonFinite,
    /// The last row plus the horizon passes 9999-12-31 (no 4-digit year).
    #[error("the horizon would pass the year 9999")]
    PastYear9999,
}

fn at_least_zero(v: f64) -> f64 {
    if v > 0.0 {
        v
    } else {
        0.0
    }
}

/// Fits `kept` and forecasts at its last `ds` + 1 h, ..., + `horizon` h with
/// a central band of probability `level`; values clamped at 0.
pub fn forecast(
    kept: &Series,
    config: &ForecastConfig,
    horizon: u32,
    level: f64,
) -> Result<Vec<Point>, SeriesError> {
    forecast_with_model(kept, config, horizon, level).map(|(points, _)| points)
}

/// [`forecast`], with the name of the model the fit used
/// ([`crate::forecast::FittedModel::model_name`]).
pub fn forecast_with_model(
    kept: &Series,
    config: &ForecastConfig,
    horizon: u32,
    level: f64,
) -> Result<(Vec<Point>, ModelName), SeriesError> {
    if kept.len() < 2 {
        return Err(SeriesError::TooFewRows { kept: kept.len() });
    }
    let last = *kept.timestamps.last().unwrap_or(&0);
    if last > MAX_TIMESTAMP - i64::from(horizon) * HOUR_US {
        return Err(SeriesError::PastYear9999);
    }
    let future: Vec<i64> = (1..=i64::from(horizon))
        .map(|k| last + k * HOUR_US)
        .collect();
    let model = config.fit(&kept.timestamps, &kept.values)?;
    let fc = model.predict(&future, level)?;
    if fc.yhat.len() != future.len()
        || fc.lower.len() != future.len()
        || fc.upper.len() != future.len()
    {
        return Err(SeriesError::NonFinite);
    }
    let mut out = Vec::with_capacity(future.len());
    for (i, &timestamp) in future.iter().enumerate() {
        let (y, lo, hi) = (fc.yhat[i], fc.lower[i], fc.upper[i]);
        if !(y.is_finite() && lo.is_finite() && hi.is_finite()) {
            return Err(SeriesError::NonFinite);
        }
        let yhat = at_least_zero(y);
        out.push(Point {
            timestamp,
            yhat,
            lower: at_least_zero(lo).min(yhat),
            upper: at_least_zero(hi).max(yhat),
        });
    }
    Ok((out, model.model_name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[f64]) -> Series {
        Series {
            timestamps: (0..v.len() as i64).map(|i| i * HOUR_US).collect(),
            values: v.to_vec(),
        }
    }

    #[test]
    fn drop_keeps_values_at_most_the_quantile() {
        // q95 of 1..=20 is 19.05: 20 is dropped, 19 kept.
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        let kept = s(&v).drop_above_quantile(0.95);
        assert_eq!(kept.len(), 19);
        assert_eq!(kept.values.last(), Some(&19.0));
        assert_eq!(s(&v).drop_above_quantile(1.0).len(), 20);
        // Equal values are all kept.
        assert_eq!(s(&[3.0; 5]).drop_above_quantile(0.95).len(), 5);
    }

    #[test]
    fn forecast_starts_one_hour_after_last_kept() {
        let kept = s(&[1.0, 2.0, 3.0]);
        let pts = forecast(&kept, &ForecastConfig::default(), 24, 0.8).unwrap();
        assert_eq!(pts.len(), 24);
        assert_eq!(pts[0].timestamp, 3 * HOUR_US);
        assert_eq!(pts[23].timestamp, 26 * HOUR_US);
        for p in pts {
            assert!(0.0 <= p.lower && p.lower <= p.yhat && p.yhat <= p.upper);
        }
        assert_eq!(
            forecast(&s(&[1.0]), &ForecastConfig::default(), 24, 0.8),
            Err(SeriesError::TooFewRows { kept: 1 })
        );
    }

    #[test]
    fn the_horizon_may_not_pass_the_year_9999() {
        let at = |last: i64| Series {
            timestamps: vec![last - HOUR_US, last],
            values: vec![1.0, 2.0],
        };
        let cfg = ForecastConfig::default();
        // The last forecast instant exactly 9999-12-31T23:00 is fine, an
        // hour later (10000-01-01T00:00) is not.
        let last_ok = MAX_TIMESTAMP + 1 - HOUR_US - 24 * HOUR_US;
        let pts = forecast(&at(last_ok), &cfg, 24, 0.8).unwrap();
        assert_eq!(pts[23].timestamp, MAX_TIMESTAMP + 1 - HOUR_US);
        assert_eq!(
            forecast(&at(last_ok + HOUR_US), &cfg, 24, 0.8),
            Err(SeriesError::PastYear9999)
        );
        assert_eq!(
            forecast(&at(MAX_TIMESTAMP), &cfg, 1, 0.8),
            Err(SeriesError::PastYear9999)
        );
    }

    #[test]
    fn protocol_rows_selects_a_contiguous_range() {
        let row = |protocol, first| Row {
            protocol,
            first,
            last: first,
            bytes: 1,
            packets: 1,
            count: 1,
        };
        let rows = [row(1, 0), row(6, 0), row(6, 1), row(17, 0)];
        assert_eq!(protocol_rows(&rows, Protocol::TCP).len(), 2);
        assert_eq!(protocol_rows(&rows, Protocol(50)).len(), 0);
    }
}
