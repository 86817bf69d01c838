//! Errors (a tag failed) and warnings (something was left out).

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::evaluate::{Missed, NoScoreReason};
use super::nemea::ParseError;
use super::protocol::Protocol;
use super::series::{join, Metric, SeriesError, SeriesId};
use super::time::format_timestamp;

/// Why a tag (or the whole run) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// DATA_ROOT could not be listed.
    #[error("cannot read data root {}: {source}", .path.display())]
    Root {
        /// The data root.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A tag asked for by name has no directory.
    #[error("no tag directory {}", .path.display())]
    NoSuchTag {
        /// The expected directory.
        path: PathBuf,
    },
    /// `data.csv` is missing or unreadable.
    #[error("cannot read {}: {source}", .path.display())]
    ReadData {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// `data.csv` is not NEMEA CSV.
    #[error("{}: {source}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: ParseError,
    },
    /// No protocol and metric could be forecast; nothing was written.
    #[error("nothing could be forecast, nothing written")]
    NothingForecast,
    /// The newest row is older than [`super::RunOptions::max_age`] (the logger may have
    /// stopped); nothing written.
    #[error("{}, more than {} h before the run ({} UTC): is the logger running? nothing written",
        match .last { Some(t) => format!("newest row ends {} UTC", format_timestamp(*t)), None => "no rows".to_string() },
        *.max_age as f64 / 3.6e9, format_timestamp(*.now_utc))]
    Stale {
        /// The newest TIME_LAST, µs since the epoch (None: no rows).
        last: Option<i64>,
        /// The run's time, UTC µs since the epoch.
        now_utc: i64,
        /// The limit, µs.
        max_age: i64,
    },
    /// Every series was required ([`super::RunOptions::complete_only`])
    /// and some could not be forecast; nothing written.
    #[error("incomplete profile not written (every series was required): no forecast for {}", join(.missing))]
    Incomplete {
        /// The missing series.
        missing: Vec<SeriesId>,
    },
    /// Several directories name this tag (`7/` and `007/`).
    #[error("directories {} all name tag {number}: rename or remove all but one", .names.join(", "))]
    Conflict {
        /// The tag number.
        number: String,
        /// The directory names.
        names: Vec<String>,
    },
    /// DATA_ROOT holds no tag directory.
    #[error("no tags under {} (is it mounted?): no tag directory (a positive integer name) in it, nothing done", .path.display())]
    NoTags {
        /// The data root.
        path: PathBuf,
    },
    /// A bug: processing the tag panicked (message given); nothing written.
    #[error("internal error: {0}")]
    Internal(String),
    /// Something other than a regular file stands where netprofile would
    /// replace a file (a profile, a picture, `latest.*`, a summary); it is left
    /// alone.
    #[error("{} is {kind}, not a regular file: refused, nothing written there (remove it or choose another path)", .path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is (`a FIFO`, `a socket`, ...).
        kind: &'static str,
    },
    /// A run summary's path names a FIFO that no process is reading.
    #[error("{} is a FIFO with no reader: nothing written (start its reader first)", .path.display())]
    NoReader {
        /// The FIFO.
        path: PathBuf,
    },
    /// A check could not read a profile or its state (see
    /// [`super::CheckError`]); nothing was marked checked.
    #[error(transparent)]
    Check(#[from] super::check::error::CheckError),
    /// Writing the profile or `latest.json` failed; existing files are kept.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// Something left out of a tag's result; the tag still succeeds.
#[derive(Debug)]
#[non_exhaustive]
pub enum Warning {
    /// Malformed rows of `data.csv` were skipped.
    MalformedRows {
        /// The file.
        path: PathBuf,
        /// Rows skipped.
        count: usize,
        /// Line numbers of the first ones.
        lines: Vec<u64>,
        /// How many of them are dated before 1970 or after the run's clock.
        out_of_window: usize,
    },
    /// A protocol has no rows.
    NoRows {
        /// The protocol.
        protocol: Protocol,
    },
    /// One series could not be forecast.
    SeriesLeftOut {
        /// The protocol.
        protocol: Protocol,
        /// The metric.
        metric: Metric,
        /// Why.
        reason: SeriesError,
    },
    /// Evaluation: a series that could be forecast got no score.
    NoScore {
        /// The protocol.
        protocol: Protocol,
        /// The metric.
        metric: Metric,
        /// Why.
        reason: NoScoreReason,
    },
    /// Evaluation: series scored at fewer origins than asked for.
    FewOrigins {
        /// The series; empty: every scored series.
        series: Vec<SeriesId>,
        /// Origins scored.
        used: usize,
        /// Origins (days) asked for.
        asked: u32,
        /// Why the others were not.
        missed: Missed,
        /// From the first row's TIME_FIRST to the last row's (µs).
        span: i64,
    },
    /// `latest.svg` could not be pointed at the new picture (the profile
    /// and `latest.json` were written).
    LatestPlot(String),
    /// An old profile could not be removed by [`super::RunOptions::keep`].
    Prune {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A killed run's temporary file could not be removed.
    Leftover {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

impl Warning {
    /// Why `protocol` `metric` has no forecast (or, when evaluating, no
    /// score), if this warning says so: `no rows`, the fit's reason, or
    /// `no score: ...`.
    pub fn left_out_reason(&self, protocol: Protocol, metric: Metric) -> Option<String> {
        match self {
            Warning::NoRows { protocol: p } if *p == protocol => Some("no rows".to_string()),
            Warning::SeriesLeftOut {
                protocol: p,
                metric: m,
                reason,
            } if *p == protocol && *m == metric => Some(reason.to_string()),
            Warning::NoScore {
                protocol: p,
                metric: m,
                reason,
            } if *p == protocol && *m == metric => Some(format!("no score: {reason}")),
            _ => None,
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::MalformedRows {
                path,
                count,
                lines,
                out_of_window,
            } => {
                let lines: Vec<String> = lines.iter().map(u64::to_string).collect();
                let more = if *count > lines.len() { ", ..." } else { "" };
                let word = if lines.len() == 1 { "line" } else { "lines" };
                write!(
                    f,
                    "{}: skipped {count} malformed row(s) ({word} {}{more})",
                    path.display(),
                    lines.join(", ")
                )?;
                if *out_of_window > 0 {
                    write!(
                        f,
                        ", {out_of_window} of them dated before 1970 or after the run's clock"
                    )?;
                }
                Ok(())
            }
            Warning::NoRows { protocol } => {
                write!(f, "{protocol}: no rows, left out of the profile")
            }
            Warning::SeriesLeftOut {
                protocol,
                metric,
                reason,
            } => write!(f, "{protocol} {metric}: {reason}, left out of the profile"),
            Warning::NoScore {
                protocol,
                metric,
                reason,
            } => write!(f, "{protocol} {metric}: no score: {reason}"),
            Warning::FewOrigins {
                series,
                used,
                asked,
                missed,
                span,
            } => {
                let who = match series.as_slice() {
                    [] => "every scored series".to_string(),
                    s => join(s),
                };
                let mut why = Vec::new();
                for (n, reason) in [
                    (missed.short, "had less than 48 h of rows before them"),
                    (missed.no_actuals, "had no actual row to compare with"),
                    (missed.failed, "failed to fit"),
                ] {
                    if n > 0 {
                        why.push(format!("{n} {reason}"));
                    }
                }
                write!(
                    f,
                    "{who} scored at {used} of {asked} daily origins ({}); the rows span {:.1} days",
                    why.join(", "),
                    *span as f64 / 86_400e6
                )
            }
            Warning::LatestPlot(e) => write!(f, "{e} (latest.svg not updated)"),
            Warning::Prune { path, source } => {
                write!(f, "cannot remove old profile {}: {source}", path.display())
            }
            Warning::Leftover { path, source } => write!(
                f,
                "cannot remove a killed run's temporary file {}: {source}",
                path.display()
            ),
        }
    }
}
