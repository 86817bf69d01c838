//! The profiles a check compares rows with: `profile-<TS>.json` files of a
//! tag directory (or profiles held in memory by the replay), and the one in
//! force for a row.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::CheckError;
use crate::netprofile::output::open_regular;
use crate::netprofile::profile::Profile;
use crate::netprofile::series::{Metric, Point};
use crate::netprofile::time::{parse_timestamp, HOUR_US};

/// How far a profile's point may be from a row's TIME_FIRST.
pub const POINT_TOLERANCE: i64 = HOUR_US / 2;

/// The points of one metric of one protocol, ascending in time.
type Points = Vec<Point>;

/// A profile as read back: protocol key -> the points of each metric (in
/// [`Metric::ALL`] order, empty when the metric is absent).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadProfile {
    protocols: Vec<(String, [Points; 3])>,
}

/// The points of one row's metrics in a profile (None: no point within
/// [`POINT_TOLERANCE`]).
pub type InForce = [Option<Point>; 3];

fn metric_index(key: &str) -> Option<usize> {
    Metric::ALL.iter().position(|m| m.key() == key)
}

fn number(v: &serde_json::Value, what: &str) -> Result<f64, String> {
    v.as_f64()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("{what} is not a number"))
}

impl ReadProfile {
    /// Parses profile JSON (protocol -> metric -> timestamp -> `yhat`,
    /// `yhat_lower`, `yhat_upper`); anything else is an error saying what.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            if e.is_eof() {
                format!("truncated: {e}")
            } else {
                format!("not JSON: {e}")
            }
        })?;
        let top = v
            .as_object()
            .ok_or("not a netprofile profile (another version?): the top level is not an object")?;
        let mut protocols = Vec::with_capacity(top.len());
        for (proto, metrics) in top {
            let metrics = metrics.as_object().ok_or_else(|| {
                format!("not a netprofile profile (another version?): {proto} is not an object")
            })?;
            let mut by_metric: [Points; 3] = Default::default();
            for (m, points) in metrics {
                let i = metric_index(m).ok_or_else(|| {
                    format!(
                        "not a netprofile profile (another version?): unknown metric {proto}.{m}"
                    )
                })?;
                let points = points.as_object().ok_or_else(|| {
                    format!(
                        "not a netprofile profile (another version?): {proto}.{m} is not an object"
                    )
                })?;
                for (ts, p) in points {
                    let timestamp = parse_timestamp(ts.as_bytes())
                        .ok_or_else(|| format!("{proto}.{m}: {ts:?} is not a timestamp"))?;
                    let field = |k: &str| {
                        p.get(k).map_or_else(
                            || Err(format!("{proto}.{m}.{ts}: no {k} (another version?)")),
                            |x| number(x, &format!("{proto}.{m}.{ts}.{k}")),
                        )
                    };
                    by_metric[i].push(Point {
                        timestamp,
                        yhat: field("yhat")?,
                        lower: field("yhat_lower")?,
                        upper: field("yhat_upper")?,
                    });
                }
                by_metric[i].sort_by_key(|p| p.timestamp);
            }
            protocols.push((proto.clone(), by_metric));
        }
        Ok(ReadProfile { protocols })
    }

    /// A profile built in memory, as it would read back from its file.
    pub fn of(profile: &Profile) -> Self {
        let protocols = profile
            .protocols
            .iter()
            .map(|p| {
                let mut by_metric: [Points; 3] = Default::default();
                for (m, points) in &p.metrics {
                    if let Some(i) = metric_index(m.key()) {
                        by_metric[i] = points.clone();
                    }
                }
                (p.protocol.key(), by_metric)
            })
            .collect();
        ReadProfile { protocols }
    }

    /// The points of `protocol` nearest to `t`, each within
    /// `POINT_TOLERANCE` (30 minutes); None when no metric has one.
    pub fn points_near(&self, protocol: &str, t: i64) -> Option<InForce> {
        let (_, metrics) = self.protocols.iter().find(|(p, _)| p == protocol)?;
        let mut out: InForce = [None; 3];
        for (slot, points) in out.iter_mut().zip(metrics) {
            let i = points.partition_point(|p| p.timestamp < t);
            let near = [i.checked_sub(1), Some(i)]
                .into_iter()
                .flatten()
                .filter_map(|j| points.get(j))
                .filter(|p| (p.timestamp - t).abs() <= POINT_TOLERANCE)
                .min_by_key(|p| (p.timestamp - t).abs());
            *slot = near.copied();
        }
        out.iter().any(Option::is_some).then_some(out)
    }
}

/// Where the profile in force for a row comes from.
pub trait ProfileSource {
    /// The points of the newest profile written before `first` (a row's
    /// TIME_FIRST) that holds a point of `protocol` within
    /// `POINT_TOLERANCE` (30 minutes) of it; None when no profile does.
    fn in_force(&mut self, protocol: &str, first: i64) -> Result<Option<InForce>, CheckError>;
}

/// The `profile-<TS>.json` files of a tag directory, TS read as UTC; each
/// is read at most once, and only when a row needs it.
#[derive(Debug)]
pub struct ProfileFiles {
    dir: PathBuf,
    /// (time, file name), ascending.
    files: Vec<(i64, String)>,
    read: HashMap<String, ReadProfile>,
}

impl ProfileFiles {
    /// Lists the profiles of `dir` (regular files and symlinks named
    /// `profile-<TS>.json`).
    pub fn list(dir: &Path) -> Result<Self, CheckError> {
        let entries = fs::read_dir(dir).map_err(|source| CheckError::List {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut files: Vec<(i64, String)> = entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                let ts = name.strip_prefix("profile-")?.strip_suffix(".json")?;
                Some((parse_timestamp(ts.as_bytes())?, name))
            })
            .collect();
        files.sort_unstable();
        Ok(ProfileFiles {
            dir: dir.to_path_buf(),
            files,
            read: HashMap::new(),
        })
    }

    /// The time of the newest profile, if any.
    pub fn newest(&self) -> Option<i64> {
        self.files.last().map(|(t, _)| *t)
    }

    fn load(&mut self, name: &str) -> Result<&ReadProfile, CheckError> {
        if !self.read.contains_key(name) {
            let path = self.dir.join(name);
            let mut bytes = Vec::new();
            open_regular(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|source| CheckError::ProfileRead {
                    path: path.clone(),
                    source,
                })?;
            let p = ReadProfile::parse(&bytes)
                .map_err(|reason| CheckError::ProfileFormat { path, reason })?;
            self.read.insert(name.to_string(), p);
        }
        Ok(&self.read[name])
    }
}

impl ProfileSource for ProfileFiles {
    fn in_force(&mut self, protocol: &str, first: i64) -> Result<Option<InForce>, CheckError> {
        let before = self.files.partition_point(|(t, _)| *t < first);
        for i in (0..before).rev() {
            let name = self.files[i].1.clone();
            if let Some(points) = self.load(&name)?.points_near(protocol, first) {
                return Ok(Some(points));
            }
        }
        Ok(None)
    }
}

/// Profiles held in memory (the replay), ascending in time.
#[derive(Debug, Clone, Default)]
pub struct MemoryProfiles {
    /// (time written, profile), ascending.
    pub profiles: Vec<(i64, std::sync::Arc<ReadProfile>)>,
}

impl ProfileSource for MemoryProfiles {
    fn in_force(&mut self, protocol: &str, first: i64) -> Result<Option<InForce>, CheckError> {
        let before = self.profiles.partition_point(|(t, _)| *t < first);
        Ok(self.profiles[..before]
            .iter()
            .rev()
            .find_map(|(_, p)| p.points_near(protocol, first)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_what_is_not_a_profile() {
        let ok = br#"{"TCP": {"bytes": {"2018-08-24T20:19:20.737000": {"yhat": 2.0, "yhat_lower": 1.0, "yhat_upper": 3.0}, "2018-08-24T19:19:20": {"yhat": 5, "yhat_lower": 4, "yhat_upper": 6}}}}"#;
        let p = ReadProfile::parse(ok).unwrap();
        let t = parse_timestamp(b"2018-08-24T19:40:00").unwrap();
        let f = p.points_near("TCP", t).unwrap();
        assert_eq!(f[0].map(|p| p.yhat), Some(5.0));
        assert!(f[1].is_none() && f[2].is_none());
        // 30 min 0.737 s after 19:19:20.737 -> nearest is 20:19:20.737 (29:59.263 away).
        let t = parse_timestamp(b"2018-08-24T19:49:21").unwrap();
        assert_eq!(
            p.points_near("TCP", t).unwrap()[0].map(|p| p.yhat),
            Some(2.0)
        );
        let far = parse_timestamp(b"2018-08-24T21:00:00").unwrap();
        assert!(p.points_near("TCP", far).is_none());
        assert!(p.points_near("UDP", t).is_none());
        assert!(ReadProfile::parse(&ok[..40])
            .unwrap_err()
            .starts_with("truncated"));
        assert!(ReadProfile::parse(b"hello")
            .unwrap_err()
            .starts_with("not JSON"));
        assert!(ReadProfile::parse(b"[1]")
            .unwrap_err()
            .contains("another version"));
        assert!(ReadProfile::parse(br#"{"TCP": {"octets": {}}}"#)
            .unwrap_err()
            .contains("unknown metric TCP.octets"));
        assert!(
            ReadProfile::parse(br#"{"TCP": {"bytes": {"2018-08-24T19:19:20": {"mean": 1}}}}"#)
                .unwrap_err()
                .contains("no yhat")
        );
    }
}
