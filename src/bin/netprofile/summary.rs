//! `--summary-json`: one JSON document per run for monitoring.
//!
//! The schema is documented in README.md ("Summary for monitoring"); field
//! order is the order of the structs below. `schema` changes when a field
//! is renamed or removed (adding a field does not change it).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use telescope_core::forecast::ModelName;
use telescope_core::netprofile::time::format_timestamp;
use telescope_core::netprofile::{
    self as np, DataStats, Metric, ProfileOptions, Protocol, Warning,
};

use crate::cli::{Cli, RunMode};
use crate::clock::Clock;
use crate::wording;

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
    pub mode: RunMode,
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

/// How a tag ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TagStatus {
    /// It succeeded.
    Done,
    /// It failed (or could not be processed).
    Failed,
    /// Not selected by `--tag`.
    Skipped,
}

/// How a series of a processed tag ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesStatus {
    /// Forecast, in the profile.
    Fitted,
    /// Scored by `--evaluate`.
    Scored,
    /// Left out (the reason is given).
    LeftOut,
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
    pub status: TagStatus,
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
    pub check: Option<CheckSummary>,
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
    pub status: SeriesStatus,
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
            seasonality_mode: spelling(cli.seasonality_mode),
            model: spelling(cli.model),
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
fn spelling(v: impl clap::ValueEnum) -> String {
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
    pub fn bare(tag: &str, status: TagStatus, error: Option<String>) -> Self {
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
        fitted: &[(Protocol, Metric, Option<ModelName>)],
        ok: SeriesStatus,
    ) -> Self {
        let mut series = Vec::new();
        for &protocol in &opts.protocols {
            for metric in Metric::ALL {
                let model = fitted
                    .iter()
                    .find(|(p, m, _)| (*p, *m) == (protocol, metric))
                    .map(|(_, _, model)| model.map_or("-", ModelName::as_str));
                let done = error.is_none() && model.is_some();
                let reason = (!done).then(|| {
                    warnings
                        .iter()
                        .find_map(|w| wording::left_out_reason(w, protocol, metric))
                        .or_else(|| error.clone())
                        .unwrap_or_else(|| "not reached".to_string())
                });
                series.push(SeriesSummary {
                    protocol: protocol.key(),
                    metric: metric.key(),
                    status: if done { ok } else { SeriesStatus::LeftOut },
                    model: if done { model } else { None },
                    reason,
                });
            }
        }
        TagSummary {
            series,
            ..TagSummary::without_series(tag, data, warnings, error)
        }
    }

    /// A tag processed without series (a check forecasts none): its data,
    /// warnings and error (failed with one, done without).
    pub fn without_series(
        tag: &str,
        data: Option<&DataStats>,
        warnings: &[Warning],
        error: Option<String>,
    ) -> Self {
        TagSummary {
            tag: tag.to_string(),
            status: if error.is_none() {
                TagStatus::Done
            } else {
                TagStatus::Failed
            },
            rows: data.map(Rows::of),
            last_data_utc: data
                .and_then(|d| d.last_time)
                .map(|t| format!("{}Z", format_timestamp(t))),
            series: Vec::new(),
            profile: None,
            plot: None,
            pruned: 0,
            warnings: warnings.iter().map(wording::warning).collect(),
            error,
            check: None,
        }
    }
}

impl Summary {
    /// The document of a run of `cli` (options `opts`) at `clock`, before
    /// any tag.
    pub fn new(cli: &Cli, opts: &ProfileOptions, clock: &Clock) -> Self {
        Summary {
            schema: SCHEMA,
            tool: "netprofile",
            version: env!("CARGO_PKG_VERSION"),
            run_time: format_timestamp(clock.local),
            run_time_utc: format!("{}Z", format_timestamp(clock.utc)),
            mode: cli.mode(),
            data_root: cli.root().display().to_string(),
            options: Options::new(cli, opts),
            exit_code: 0,
            error: None,
            counts: Counts::default(),
            ignored_entries: Vec::new(),
            tags: Vec::new(),
        }
    }

    /// Writes the document to `--summary-json`, if asked for.
    pub fn write_if_asked(&self, cli: &Cli) -> anyhow::Result<()> {
        if let Some(path) = &cli.summary_json {
            let json = self
                .to_json()
                .context("--summary-json: cannot encode the summary")?;
            write_to(path, &json).context("--summary-json")?;
        }
        Ok(())
    }

    /// The document as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut out = serde_json::to_vec_pretty(self)?;
        out.push(b'\n');
        Ok(out)
    }
}

/// Writes `bytes` to `path` (see `netprofile::write_summary`: a regular file is
/// replaced atomically, a symlink's target likewise, a FIFO or character
/// device written through, anything else refused), or to stdout when
/// `path` is `-`.
fn write_to(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if path == Path::new("-") {
        let mut out = io::stdout().lock();
        return match out.write_all(bytes).and_then(|()| out.flush()) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        };
    }
    np::write_summary(path, bytes)?;
    Ok(())
}

/// A tag's check figures in the summary JSON.
#[derive(Debug, Default, Serialize)]
pub struct CheckSummary {
    /// Rows compared with a profile.
    pub checked_rows: usize,
    /// Episodes open after the check.
    pub open_episodes: usize,
    /// Episodes that started in this check.
    pub alerts_started: usize,
    /// Rows with no profile in force (counted, not compared).
    pub rows_without_profile: usize,
    /// Rows within 30 minutes after the previous one of their protocol.
    pub repeated_rows: usize,
}
