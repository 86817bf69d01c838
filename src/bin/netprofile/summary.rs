//! `--summary-json`: one JSON document per run for monitoring.
//!
//! The schema is documented in README.md ("Summary for monitoring"); field
//! order is the order of the structs below. `schema` changes when a field
//! is renamed or removed (adding a field does not change it).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use telescope_core::netprofile::output;
use telescope_core::netprofile::time::format_timestamp;
use telescope_core::netprofile::{DataStats, Metric, ProfileOptions, Protocol, Warning};

use crate::cli::Cli;

/// Version of the document's layout.
pub const SCHEMA: u32 = 1;

/// The whole document.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Layout version ([`SCHEMA`]).
    pub schema: u32,
    /// `netprofile`.
    pub tool: &'static str,
    /// The tool's version.
    pub version: &'static str,
    /// The run's local time (as in the profile names).
    pub run_time: String,
    /// The run's time in UTC, with a trailing `Z`.
    pub run_time_utc: String,
    /// `profile` (writing) or `evaluate`.
    pub mode: &'static str,
    /// DATA_ROOT as given.
    pub data_root: String,
    /// The options in force.
    pub options: Options,
    /// The process's exit status.
    pub exit_code: u8,
    /// A failure of the whole run (unreadable or empty DATA_ROOT), else null.
    pub error: Option<String>,
    /// Tag counts.
    pub counts: Counts,
    /// Entries of DATA_ROOT that are not tag directories.
    pub ignored_entries: Vec<String>,
    /// One entry per tag, in numeric order.
    pub tags: Vec<TagSummary>,
}

/// The options of the run.
#[derive(Debug, Serialize)]
pub struct Options {
    /// `--horizon`.
    pub horizon: u32,
    /// `--interval-width`.
    #[serde(serialize_with = "number")]
    pub interval_width: f64,
    /// `--protocols`, as profile keys.
    pub protocols: Vec<String>,
    /// `--outlier-quantile`.
    #[serde(serialize_with = "number")]
    pub outlier_quantile: f64,
    /// `--seasonality-mode`.
    pub seasonality_mode: String,
    /// `--model` (`auto` or `seasonal-trend`; the model that fitted each
    /// series is in `tags[].series[].model`).
    pub model: String,
    /// `--keep` (null: all).
    pub keep: Option<usize>,
    /// `--tag` (empty: all).
    pub tags: Vec<String>,
    /// `--max-age` in hours (null: not checked).
    #[serde(serialize_with = "optional_number")]
    pub max_age_hours: Option<f64>,
    /// `--complete-only`.
    pub complete_only: bool,
    /// `--plot`.
    pub plot: bool,
    /// `--evaluate-days` (null unless `--evaluate`).
    pub evaluate_days: Option<u32>,
}

/// How many tags ended how.
#[derive(Debug, Default, Serialize)]
pub struct Counts {
    /// Tags that succeeded.
    pub done: usize,
    /// Tags that failed.
    pub failed: usize,
    /// Tag directories not selected by `--tag`.
    pub skipped: usize,
    /// Entries of DATA_ROOT that are not tags.
    pub ignored_entries: usize,
    /// Series fitted (written) or, with `--evaluate`, scored.
    pub series: usize,
}

/// One tag.
#[derive(Debug, Serialize)]
pub struct TagSummary {
    /// The directory name.
    pub tag: String,
    /// `done`, `failed` or `skipped` (not selected by `--tag`).
    pub status: &'static str,
    /// What `data.csv` held (null when it could not be read).
    pub rows: Option<Rows>,
    /// The newest TIME_LAST of any row, UTC (null: no rows).
    pub last_data_utc: Option<String>,
    /// Every protocol and metric asked for.
    pub series: Vec<SeriesSummary>,
    /// The profile written (null when none).
    pub profile: Option<PathBuf>,
    /// Its picture with `--plot` (null when none).
    pub plot: Option<PathBuf>,
    /// Old profiles removed by `--keep`.
    pub pruned: usize,
    /// Warnings, as printed on stderr.
    pub warnings: Vec<String>,
    /// Why the tag failed, as printed on stderr (null when it did not).
    pub error: Option<String>,
    /// `--check`, `--evaluate-check`: the check's figures (absent otherwise).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub check: Option<crate::check::CheckSummary>,
}

/// Row counts of `data.csv`.
#[derive(Debug, Serialize)]
pub struct Rows {
    /// Valid rows read (duplicates counted once).
    pub read: usize,
    /// Malformed rows skipped.
    pub malformed: usize,
    /// Exact duplicate rows dropped.
    pub duplicates: usize,
    /// Repeated header lines skipped.
    pub repeated_headers: usize,
    /// The last line had no line end and was not counted (normal while the
    /// logger writes).
    pub unterminated_last_line: bool,
}

/// One protocol and metric.
#[derive(Debug, Serialize)]
pub struct SeriesSummary {
    /// Profile key of the protocol (`TCP`).
    pub protocol: String,
    /// `bytes`, `packets` or `flow_count`.
    pub metric: &'static str,
    /// `fitted` (in the profile), `scored` (`--evaluate`) or `left_out`.
    pub status: &'static str,
    /// The model that fitted it (null when left out).
    pub model: Option<&'static str>,
    /// Why it was left out (null otherwise).
    pub reason: Option<String>,
}

impl Options {
    /// The options of `cli` and their library form `opts`.
    pub fn new(cli: &Cli, opts: &ProfileOptions) -> Self {
        Options {
            horizon: opts.horizon,
            interval_width: opts.interval_width,
            protocols: opts.protocols.iter().map(|p| p.key()).collect(),
            outlier_quantile: opts.outlier_quantile,
            seasonality_mode: value_name(cli.seasonality_mode),
            model: value_name(cli.model),
            keep: cli.keep,
            tags: cli.tags.clone(),
            max_age_hours: cli.max_age,
            complete_only: cli.complete_only,
            plot: cli.plot,
            evaluate_days: cli.evaluate.then_some(cli.evaluate_days),
        }
    }
}

/// The command-line spelling of an option's value.
fn value_name(v: impl clap::ValueEnum) -> String {
    v.to_possible_value()
        .map_or_else(String::new, |p| p.get_name().to_string())
}

/// A number in its shortest form, as written on the command line: `3`, not
/// `3.0`; `1.5`, `0.8`.
fn number<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    // Whole numbers below 2^53 are exact as integers.
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
        s.serialize_i64(*x as i64)
    } else {
        s.serialize_f64(*x)
    }
}

/// [`number`], or null.
fn optional_number<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) => number(x, s),
        None => s.serialize_none(),
    }
}

impl Rows {
    fn of(d: &DataStats) -> Self {
        Rows {
            read: d.rows,
            malformed: d.malformed,
            duplicates: d.duplicates,
            repeated_headers: d.repeated_headers,
            unterminated_last_line: d.unterminated,
        }
    }
}

impl TagSummary {
    /// A tag that was not processed (`skipped`) or failed before reading.
    pub fn bare(tag: &str, status: &'static str, error: Option<String>) -> Self {
        TagSummary {
            tag: tag.to_string(),
            status,
            rows: None,
            last_data_utc: None,
            series: Vec::new(),
            profile: None,
            plot: None,
            pruned: 0,
            warnings: Vec::new(),
            error,
            check: None,
        }
    }

    /// A processed tag: `fitted` lists the series in its result (fitted or
    /// scored, named by `ok`); the others are left out with the reason
    /// found in `warnings`, or `reason` (the tag's error) when none.
    #[allow(clippy::too_many_arguments)]
    pub fn processed(
        tag: &str,
        opts: &ProfileOptions,
        data: Option<&DataStats>,
        warnings: &[Warning],
        error: Option<String>,
        fitted: &[(Protocol, Metric, &'static str)],
        ok: &'static str,
    ) -> Self {
        let mut series = Vec::new();
        for &protocol in &opts.protocols {
            for metric in Metric::ALL {
                let model = fitted
                    .iter()
                    .find(|(p, m, _)| (*p, *m) == (protocol, metric))
                    .map(|(_, _, model)| *model);
                let done = error.is_none() && model.is_some();
                let reason = (!done).then(|| {
                    warnings
                        .iter()
                        .find_map(|w| w.left_out_reason(protocol, metric))
                        .or_else(|| error.clone())
                        .unwrap_or_else(|| "not reached".to_string())
                });
                series.push(SeriesSummary {
                    protocol: protocol.key(),
                    metric: metric.key(),
                    status: if done { ok } else { "left_out" },
                    model: if done { model } else { None },
                    reason,
                });
            }
        }
        TagSummary {
            tag: tag.to_string(),
            status: if error.is_none() { "done" } else { "failed" },
            rows: data.map(Rows::of),
            last_data_utc: data
                .and_then(|d| d.last_time)
                .map(|t| format!("{}Z", format_timestamp(t))),
            series,
            profile: None,
            plot: None,
            pruned: 0,
            warnings: warnings.iter().map(ToString::to_string).collect(),
            error,
            check: None,
        }
    }
}

impl Summary {
    /// The document as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut out = serde_json::to_vec_pretty(self)?;
        out.push(b'\n');
        Ok(out)
    }
}

/// Writes `bytes` to `path` (see `output::write_summary`: a regular file is
/// replaced atomically, a symlink's target likewise, a FIFO or character
/// device written through, anything else refused), or to stdout when
/// `path` is `-`.
pub fn write_to(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if path == Path::new("-") {
        let mut out = io::stdout().lock();
        return match out.write_all(bytes).and_then(|()| out.flush()) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        };
    }
    output::write_summary(path, bytes)?;
    Ok(())
}
