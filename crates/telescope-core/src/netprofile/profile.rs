//! A tag's profile: building it from parsed rows and its JSON form.

use std::io::Write;

use super::error::Warning;
use super::nemea::Row;
use super::options::ProfileOptions;
use super::protocol::Protocol;
use super::series::{forecast_with_model, protocol_rows, series, Metric, Point};
use crate::forecast::ModelName;
use crate::netprofile::time::format_timestamp;

/// The forecasts of one protocol, metrics in [`Metric::ALL`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolProfile {
    /// The protocol.
    pub protocol: Protocol,
    /// Each forecast metric with its points (ascending time).
    pub metrics: Vec<(Metric, Vec<Point>)>,
    /// The model that fitted each metric, in the order of `metrics`
    /// ([`crate::forecast::FittedModel::model_name`]).
    pub models: Vec<ModelName>,
}

/// A whole profile: protocols in the order asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// Protocols with at least one forecast metric.
    pub protocols: Vec<ProtocolProfile>,
}

impl Profile {
    /// Number of forecast series.
    pub fn series_count(&self) -> usize {
        self.protocols.iter().map(|p| p.metrics.len()).sum()
    }

    /// True when nothing could be forecast.
    pub fn is_empty(&self) -> bool {
        self.protocols.is_empty()
    }

    /// The profile as JSON, formatted like Python's `json.dumps`
    /// (`", "` and `": "` separators), with a trailing newline:
    /// protocol -> metric -> ISO timestamp -> `{"yhat", "yhat_lower", "yhat_upper"}`.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.series_count() * 24 * 100);
        out.push(b'{');
        for (i, p) in self.protocols.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            let _ = write!(out, "\"{}\": {{", p.protocol.key());
            for (j, (metric, points)) in p.metrics.iter().enumerate() {
                if j > 0 {
                    out.extend_from_slice(b", ");
                }
                let _ = write!(out, "\"{}\": {{", metric.key());
                for (k, pt) in points.iter().enumerate() {
                    if k > 0 {
                        out.extend_from_slice(b", ");
                    }
                    let _ = write!(out, "\"{}\": {{\"yhat\": ", format_timestamp(pt.timestamp));
                    number(&mut out, pt.yhat);
                    out.extend_from_slice(b", \"yhat_lower\": ");
                    number(&mut out, pt.lower);
                    out.extend_from_slice(b", \"yhat_upper\": ");
                    number(&mut out, pt.upper);
                    out.push(b'}');
                }
                out.push(b'}');
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"}\n");
        out
    }
}

/// Shortest round-trip decimal form of a finite number (as `repr` in Python).
fn number(out: &mut Vec<u8>, v: f64) {
    if serde_json::to_writer(&mut *out, &v).is_err() {
        out.push(b'0');
    }
}

/// Builds the profile of one tag from its parsed rows (sorted as
/// [`super::nemea::Parsed::rows`]). Protocols without rows, and series with
/// fewer than 2 rows after the outlier drop or a failed fit, are left out
/// with a warning.
pub fn build(rows: &[Row], opts: &ProfileOptions) -> (Profile, Vec<Warning>) {
    let mut profile = Profile::default();
    let mut warnings = Vec::new();
    for &protocol in &opts.protocols {
        let prows = protocol_rows(rows, protocol);
        if prows.is_empty() {
            warnings.push(Warning::NoRows { protocol });
            continue;
        }
        let mut metrics = Vec::with_capacity(Metric::ALL.len());
        let mut models = Vec::with_capacity(Metric::ALL.len());
        for metric in Metric::ALL {
            let kept = series(prows, metric).drop_above_quantile(opts.outlier_quantile);
            match forecast_with_model(&kept, &opts.forecast, opts.horizon, opts.interval_width) {
                Ok((points, model)) => {
                    metrics.push((metric, points));
                    models.push(model);
                }
                Err(reason) => warnings.push(Warning::SeriesLeftOut {
                    protocol,
                    metric,
                    reason,
                }),
            }
        }
        if !metrics.is_empty() {
            profile.protocols.push(ProtocolProfile {
                protocol,
                metrics,
                models,
            });
        }
    }
    (profile, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netprofile::time::HOUR_US;

    fn row(protocol: u8, hour: i64, v: u64) -> Row {
        Row {
            protocol,
            first: hour * HOUR_US,
            last: (hour + 1) * HOUR_US,
            bytes: v,
            packets: v,
            count: v,
        }
    }

    #[test]
    fn build_leaves_out_what_cannot_be_forecast() {
        let mut rows = vec![row(6, 0, 5)];
        rows.extend((0..30).map(|h| row(17, h, 100 + h as u64)));
        rows.sort_unstable();
        let (p, w) = build(&rows, &ProfileOptions::default());
        assert_eq!(p.protocols.len(), 1);
        assert_eq!(p.protocols[0].protocol, Protocol::UDP);
        assert_eq!(p.series_count(), 3);
        let last_kept = 27 * HOUR_US; // rows 28, 29 are above the 0.95 quantile
        assert_eq!(
            p.protocols[0].metrics[0].1[0].timestamp,
            last_kept + HOUR_US
        );
        assert!(matches!(
            w[0],
            Warning::NoRows {
                protocol: Protocol::ICMP
            }
        ));
        assert_eq!(w.len(), 4, "ICMP no rows, 3 TCP series with 1 row: {w:?}");
        let (p, _) = build(&rows[..1], &ProfileOptions::default());
        assert!(p.is_empty());
    }

    #[test]
    fn json_layout_and_number_format() {
        let p = Profile {
            protocols: vec![ProtocolProfile {
                protocol: Protocol::TCP,
                metrics: vec![(
                    Metric::Bytes,
                    vec![
                        Point {
                            timestamp: 1_535_963_968_705_000,
                            yhat: 143_619_009_181.5,
                            lower: 0.0,
                            upper: 2.0,
                        },
                        Point {
                            timestamp: 1_535_967_568_000_000,
                            yhat: 1.25,
                            lower: 1.0,
                            upper: 1.5,
                        },
                    ],
                )],
                models: vec![ModelName::SeasonalTrend],
            }],
        };
        let s = String::from_utf8(p.to_json()).unwrap();
        assert_eq!(
            s,
            "{\"TCP\": {\"bytes\": {\"2018-09-03T08:39:28.705000\": {\"yhat\": 143619009181.5, \
             \"yhat_lower\": 0.0, \"yhat_upper\": 2.0}, \"2018-09-03T09:39:28\": \
             {\"yhat\": 1.25, \"yhat_lower\": 1.0, \"yhat_upper\": 1.5}}}}\n"
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert!(v["TCP"]["bytes"].is_object());
        assert_eq!(
            String::from_utf8(Profile::default().to_json()).unwrap(),
            "{}\n"
        );
    }
}
