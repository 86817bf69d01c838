//! Evaluation ([`super::evaluate_tag`]): a rolling-origin backtest per
//! protocol and metric.
//!
//! Origins are at `L - d` days for `d = days..1`, where `L` is the last
//! TIME_FIRST common to the tag's protocols. Each origin trains on every row
//! with `ds <= origin` (after the outlier drop of that window), forecasts the
//! horizon, and pairs each forecast instant with the nearest later row within
//! 30 minutes (as `shared/bench/backtest.py` does). Origins with less than
//! [`MIN_HISTORY_US`] of history are skipped. Each series also reports the
//! model its final fit (on all rows, as a profile would) used.

use std::fmt::{self, Write};

use super::nemea::Row;
use super::options::ProfileOptions;
use super::protocol::Protocol;
use super::series::{forecast, forecast_with_model, protocol_rows, series, Metric, Point, Series};
use super::time::HOUR_US;
use crate::forecast::ModelName;

/// Least history before an origin: 2 days (enough for a daily term).
pub(crate) const MIN_HISTORY_US: i64 = 48 * HOUR_US;
const MATCH_TOLERANCE_US: i64 = 30 * 60 * 1_000_000;

/// Scores of one forecast origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Symmetric MAPE in percent (0-200).
    pub smape: f64,
    /// MAE over the in-sample 24 h seasonal-naive MAE (NaN when undefined).
    pub mase: f64,
    /// Share of actuals inside the band.
    pub coverage: f64,
    /// Forecast instants matched to an actual row.
    pub points: usize,
}

/// Backtest result of one protocol and metric.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesScore {
    /// The protocol.
    pub protocol: Protocol,
    /// The metric.
    pub metric: Metric,
    /// One score per origin that could be evaluated.
    pub origins: Vec<Score>,
    /// The model of the final fit on all rows (`None` when it failed).
    pub model: Option<ModelName>,
    /// Why the other origins asked for gave no score.
    pub missed: Missed,
}

/// Origins of one series that gave no score, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Missed {
    /// Fewer than 2 rows, or less than 48 hours of them, up to
    /// the origin.
    pub short: usize,
    /// No actual row within 30 minutes of any forecast instant after it.
    pub no_actuals: usize,
    /// The fit failed.
    pub failed: usize,
}

impl Missed {
    fn of(misses: &[Miss], failed: usize) -> Self {
        let short = misses
            .iter()
            .filter(|m| matches!(m, Miss::FewRows | Miss::Short(_)))
            .count();
        Missed {
            short,
            no_actuals: misses.len() - short,
            failed,
        }
    }
}

fn nan_mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v
        .filter(|x| x.is_finite())
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

impl SeriesScore {
    /// Mean over origins of `(sMAPE, MASE, coverage)`, and matched points.
    pub fn mean(&self) -> (f64, f64, f64, usize) {
        mean(self.origins.iter())
    }
}

fn mean<'a>(s: impl Iterator<Item = &'a Score> + Clone) -> (f64, f64, f64, usize) {
    (
        nan_mean(s.clone().map(|o| o.smape)),
        nan_mean(s.clone().map(|o| o.mase)),
        nan_mean(s.clone().map(|o| o.coverage)),
        s.map(|o| o.points).sum(),
    )
}

/// Index of the row nearest to `t` (ties to the earlier row).
fn nearest(ts: &[i64], t: i64) -> Option<usize> {
    let j = ts.partition_point(|&x| x < t);
    match (j.checked_sub(1), ts.get(j)) {
        (Some(i), Some(&b)) => Some(if t - ts[i] <= b - t { i } else { j }),
        (Some(i), None) => Some(i),
        (None, Some(_)) => Some(j),
        (None, None) => None,
    }
}

/// In-sample MAE of the 24 h seasonal naive on a window, pairing each row
/// with the row nearest to `ds - 24 h` (within 30 minutes).
fn seasonal_scale(train: &Series) -> f64 {
    let ts = &train.timestamps;
    let Some(&first) = ts.first() else {
        return f64::NAN;
    };
    let (mut sum, mut n) = (0.0, 0usize);
    for (i, &t) in ts.iter().enumerate() {
        let target = t - 24 * HOUR_US;
        if target < first {
            continue;
        }
        if let Some(j) = nearest(ts, target) {
            if (ts[j] - target).abs() <= MATCH_TOLERANCE_US {
                sum += (train.values[i] - train.values[j]).abs();
                n += 1;
            }
        }
    }
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

/// Scores forecast `points` against the actual rows of `test`.
fn score(points: &[Point], test: &Series, scale: f64) -> Option<Score> {
    // (test row, distance, point); a row matched twice keeps the closest.
    let mut pairs: Vec<(usize, i64, &Point)> = points
        .iter()
        .filter_map(|p| {
            let j = nearest(&test.timestamps, p.timestamp)?;
            let d = (test.timestamps[j] - p.timestamp).abs();
            (d <= MATCH_TOLERANCE_US).then_some((j, d, p))
        })
        .collect();
    pairs.sort_by_key(|&(j, d, p)| (j, d, p.timestamp));
    pairs.dedup_by_key(|(j, _, _)| *j);
    if pairs.is_empty() {
        return None;
    }
    let (mut smape, mut abs_err, mut inside) = (0.0, 0.0, 0usize);
    for &(j, _, p) in &pairs {
        let y = test.values[j];
        let den = y.abs() + p.yhat.abs();
        if den > 0.0 {
            smape += 200.0 * (y - p.yhat).abs() / den;
        }
        abs_err += (y - p.yhat).abs();
        inside += usize::from(p.lower <= y && y <= p.upper);
    }
    let n = pairs.len() as f64;
    Some(Score {
        smape: smape / n,
        mase: if scale > 0.0 {
            abs_err / n / scale
        } else {
            f64::NAN
        },
        coverage: inside as f64 / n,
        points: pairs.len(),
    })
}

/// Backtests every asked-for protocol and metric of a tag at `days` daily
/// origins. Series without rows or without any usable origin are omitted.
pub fn evaluate(rows: &[Row], opts: &ProfileOptions, days: u32) -> Vec<SeriesScore> {
    evaluate_explained(rows, opts, days).0
}

/// Why one origin gave no score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Miss {
    /// Fewer than 2 rows up to the origin.
    FewRows,
    /// Less than [`MIN_HISTORY_US`] of history up to the origin (the span).
    Short(i64),
    /// No actual row near any forecast instant.
    NoActuals,
}

/// [`evaluate`], and for every series with rows but no score, why:
/// `(protocol, metric, reason)`.
pub(crate) fn evaluate_explained(
    rows: &[Row],
    opts: &ProfileOptions,
    days: u32,
) -> (Vec<SeriesScore>, Vec<(Protocol, Metric, NoScoreReason)>) {
    let groups: Vec<(Protocol, &[Row])> = opts
        .protocols
        .iter()
        .map(|&p| (p, protocol_rows(rows, p)))
        .filter(|(_, r)| !r.is_empty())
        .collect();
    let Some(last) = groups
        .iter()
        .filter_map(|(_, r)| r.last())
        .map(|r| r.first)
        .min()
    else {
        return (Vec::new(), Vec::new());
    };
    let origins: Vec<i64> = (1..=i64::from(days))
        .rev()
        .map(|d| last - d * 24 * HOUR_US)
        .collect();
    let mut out = Vec::new();
    let mut unscored = Vec::new();
    for (protocol, prows) in groups {
        for metric in Metric::ALL {
            let all = series(prows, metric);
            let mut scores = Vec::new();
            let mut misses = Vec::new();
            let mut fit_error = None;
            let mut fit_failures = 0;
            for &origin in &origins {
                let train = all.until(origin);
                let n = train.len();
                if n < 2 {
                    misses.push(Miss::FewRows);
                    continue;
                }
                let span = train.timestamps[n - 1] - train.timestamps[0];
                if span < MIN_HISTORY_US {
                    misses.push(Miss::Short(span));
                    continue;
                }
                let test = Series {
                    timestamps: all.timestamps[n..].to_vec(),
                    values: all.values[n..].to_vec(),
                };
                let kept = train.drop_above_quantile(opts.outlier_quantile);
                let points =
                    match forecast(&kept, &opts.forecast, opts.horizon, opts.interval_width) {
                        Ok(points) => points,
                        Err(e) => {
                            fit_error = Some(e.to_string());
                            fit_failures += 1;
                            continue;
                        }
                    };
                match score(&points, &test, seasonal_scale(&train)) {
                    Some(s) => scores.push(s),
                    None => misses.push(Miss::NoActuals),
                }
            }
            if !scores.is_empty() {
                let kept = all.drop_above_quantile(opts.outlier_quantile);
                let model = forecast_with_model(&kept, &opts.forecast, 1, opts.interval_width)
                    .ok()
                    .map(|(_, name)| name);
                out.push(SeriesScore {
                    protocol,
                    metric,
                    origins: scores,
                    model,
                    missed: Missed::of(&misses, fit_failures),
                });
                continue;
            }
            let reason = match fit_error {
                Some(e) => NoScoreReason::FitFailed(e),
                None => NoScoreReason::of(&misses, days),
            };
            unscored.push((protocol, metric, reason));
        }
    }
    (out, unscored)
}

/// Why a series with rows got no score at any origin.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoScoreReason {
    /// The fit failed at every usable origin (the last fit's error).
    FitFailed(String),
    /// No actual row within 30 minutes of any forecast instant after the
    /// origins.
    NoActuals,
    /// Less history before the origins than an origin needs.
    ShortHistory {
        /// The longest history (µs of rows) before the last origin.
        span: i64,
        /// History an origin needs (µs, 48 hours).
        needed: i64,
        /// Origins asked for.
        origins: u32,
    },
    /// Fewer than 2 rows before each origin.
    FewRows {
        /// Origins asked for.
        origins: u32,
    },
}

impl NoScoreReason {
    /// The most informative of an unscored series' misses at `days`
    /// origins.
    fn of(misses: &[Miss], days: u32) -> Self {
        match misses.iter().max() {
            Some(Miss::NoActuals) => NoScoreReason::NoActuals,
            Some(Miss::Short(span)) => NoScoreReason::ShortHistory {
                span: *span,
                needed: MIN_HISTORY_US,
                origins: days,
            },
            Some(Miss::FewRows) | None => NoScoreReason::FewRows { origins: days },
        }
    }
}

impl fmt::Display for NoScoreReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hours = |us: i64| us as f64 / HOUR_US as f64;
        match self {
            NoScoreReason::FitFailed(e) => {
                write!(f, "the fit failed at every usable origin ({e})")
            }
            NoScoreReason::NoActuals => {
                f.write_str("no actual row within 30 min of any forecast instant after the origins")
            }
            NoScoreReason::ShortHistory {
                span,
                needed,
                origins,
            } => write!(
                f,
                "history shorter than an origin needs: at most {:.1} h of rows before the last of \
                 the {origins} origin(s), at least {:.0} h needed",
                hours(*span),
                hours(*needed)
            ),
            NoScoreReason::FewRows { origins } => write!(
                f,
                "too few rows: fewer than 2 before each of the {origins} origin(s)"
            ),
        }
    }
}

fn cell(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "-".to_string()
    }
}

/// The backtest table: one line per tag, protocol and metric (means over
/// origins, and the model of the final fit), then `all`: the mean over every
/// series and origin. `level` is the band probability, shown in the
/// coverage header (`cov80`).
pub fn format_table(results: &[(String, Vec<SeriesScore>)], level: f64) -> String {
    let cov = format!("cov{}", (level * 100.0).round());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<8} {:<10} {:<10} {:>7} {:>6} {:>8} {:>7} {:>6}  model",
        "tag", "protocol", "metric", "origins", "points", "sMAPE%", "MASE", cov
    );
    let mut all = Vec::new();
    for (tag, scores) in results {
        for sc in scores {
            let (smape, mase, coverage, points) = sc.mean();
            let _ = writeln!(
                s,
                "{:<8} {:<10} {:<10} {:>7} {:>6} {:>8} {:>7} {:>6}  {}",
                tag,
                sc.protocol.key(),
                sc.metric.key(),
                sc.origins.len(),
                points,
                cell(smape, 2),
                cell(mase, 3),
                cell(coverage, 3),
                sc.model.map_or("-", ModelName::as_str)
            );
            all.extend(sc.origins.iter().copied());
        }
    }
    let (smape, mase, coverage, points) = mean(all.iter());
    let _ = writeln!(
        s,
        "{:<8} {:<10} {:<10} {:>7} {:>6} {:>8} {:>7} {:>6}  -",
        "all",
        "-",
        "-",
        all.len(),
        points,
        cell(smape, 2),
        cell(mase, 3),
        cell(coverage, 3)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_prefers_earlier_on_ties() {
        assert_eq!(nearest(&[], 5), None);
        assert_eq!(nearest(&[0, 10], 5), Some(0));
        assert_eq!(nearest(&[0, 10], 6), Some(1));
        assert_eq!(nearest(&[0, 10], 50), Some(1));
        assert_eq!(nearest(&[0, 10], -5), Some(0));
    }

    #[test]
    fn perfect_forecast_scores_zero() {
        let test = Series {
            timestamps: vec![HOUR_US, 2 * HOUR_US],
            values: vec![10.0, 20.0],
        };
        let pts: Vec<Point> = test
            .timestamps
            .iter()
            .zip(&test.values)
            .map(|(&t, &y)| Point {
                timestamp: t + 60_000_000,
                yhat: y,
                lower: y,
                upper: y,
            })
            .collect();
        let s = score(&pts, &test, 5.0).unwrap();
        assert_eq!((s.smape, s.mase, s.coverage, s.points), (0.0, 0.0, 1.0, 2));
        // yhat 0 vs actual 10: sMAPE 200 %.
        let bad = [Point {
            timestamp: HOUR_US,
            yhat: 0.0,
            lower: 0.0,
            upper: 0.0,
        }];
        let s = score(&bad, &test, 5.0).unwrap();
        assert_eq!((s.smape, s.mase, s.coverage), (200.0, 2.0, 0.0));
    }
}
