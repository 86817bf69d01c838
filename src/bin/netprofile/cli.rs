//! The command line: clap definition and conversion to typed options.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, ValueEnum};
use serde::Serialize;
use telescope_core::forecast::{Model, SeasonalityMode};
use telescope_core::netprofile::{tag_number, ProfileOptions, Protocol};

const AFTER_HELP: &str = "\
Input:
  DATA_ROOT/<tag>/data.csv for every subdirectory <tag> named by a positive
  integer (other entries are ignored; 7/ and 007/ together are an error for
  tag 7; no tag directory at all is an error): NEMEA logger CSV with a typed header, e.g.
  'uint64 BYTES,time TIME_FIRST,time TIME_LAST,uint32 COUNT,uint32 PACKETS,uint8 PROTOCOL'.

Output (per tag; nothing is written with --evaluate):
  DATA_ROOT/<tag>/profile-<TS>.json   TS = the run's local time, e.g. 2026-11-22T17:25:23.123456
  DATA_ROOT/<tag>/latest.json         relative symlink to the newest profile
  DATA_ROOT/<tag>/profile-<TS>.svg    with --plot: its picture; latest.svg
  JSON: protocol -> metric (bytes, packets, flow_count) -> timestamp ->
  {\"yhat\", \"yhat_lower\", \"yhat_upper\"}, values >= 0. Protocols in --protocols
  order, timestamps ascending (last kept row + 1 h ... + horizon h, UTC).
  Files are written atomically; a failed tag keeps its previous files.
  Something other than a regular file (a FIFO, socket, symlink, directory)
  where a profile or picture goes, or at latest.json/latest.svg (other than
  a symlink), is left alone: the tag fails and the run exits 2.
  --summary-json FILE: a regular file is replaced atomically, a symlink's
  target likewise; a FIFO or character device is written through (a FIFO
  with no reader: exit 2 at once); a directory or socket: exit 2.

Concurrent runs:
  A run that writes locks DATA_ROOT/.netprofile.lock (flock) for its whole
  duration; a second one waits up to --lock-timeout (default 3000 s) or, with
  --no-wait, fails at once (exit 1, naming the holder's pid). --evaluate takes
  no lock. The run holding the lock first removes what killed runs left in its
  tag directories (.profile-*.<pid>.tmp, latest.json.new, latest.svg.new).

Cron (-q):
  A warning is printed when it first appears or changes, and again once a day
  (23.5 h after it was last printed) while it lasts; the summary JSON lists
  all. State: DATA_ROOT/.netprofile-warnings.json. A clean run prints nothing.

Exit status:
  0  every tag succeeded
  1  at least one tag failed (all other tags were still processed), DATA_ROOT
     holds no tag directory (nothing is created in it), the lock was busy, or
     writing stdout failed
  2  usage error, unreadable DATA_ROOT, a lock or state file that is not a
     regular file, a tag refused because a path it writes is not a regular
     file (the other tags were still processed), or --summary-json failed

Environment:
  NETPROFILE_NOW=YYYY-MM-DDTHH:MM:SS[.ffffff]  use this as the run's local
                                              time (for tests; names the profiles)
  TZ                                          the local time zone; rows dated
              after the run's time (in UTC) + 1 h, or before 1970, are malformed";

/// Hourly traffic profiles (next hours of bytes, packets and flows per
/// protocol, with a band) from NEMEA aggregates, one per tag directory.
#[derive(Debug, Parser)]
#[command(name = "netprofile", version, after_long_help = AFTER_HELP)]
#[command(after_help = "Use --help for input, output layout and exit codes.")]
#[command(
    override_usage = "netprofile [OPTIONS] <DATA_ROOT>\n       netprofile --completions <SHELL> | --man"
)]
pub struct Cli {
    /// Directory holding one subdirectory per tag, each with data.csv.
    // Required: clap skips the check when the exclusive --completions or
    // --man is given.
    #[arg(value_name = "DATA_ROOT", required = true)]
    pub data_root: Option<PathBuf>,

    /// Report each tag, ignored entries and a last line still being written.
    #[arg(short, long)]
    pub verbose: bool,

    /// For cron: nothing on stderr but errors and warnings that are new,
    /// changed or a day old (see --help).
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Write one JSON document about the run (per tag status, rows, series,
    /// warnings, errors) to FILE, atomically; `-` is stdout (not with --evaluate).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// Fail a tag whose newest row ends more than HOURS before the run (UTC);
    /// for cron, to notice a stopped logger. Not with --evaluate.
    #[arg(long, value_name = "HOURS", value_parser = max_age, conflicts_with = "evaluate")]
    pub max_age: Option<f64>,

    /// Write a tag's profile only when every protocol and metric could be
    /// forecast; otherwise the tag fails and keeps its previous files.
    #[arg(long, conflicts_with = "evaluate")]
    pub complete_only: bool,

    /// Also draw each profile as profile-<TS>.svg (history, outliers,
    /// forecast and band per protocol and metric) and point latest.svg at it.
    #[arg(long, conflicts_with = "evaluate")]
    pub plot: bool,

    /// Hours to forecast (1-8760).
    #[arg(long, value_name = "HOURS", default_value_t = 24, value_parser = horizon)]
    pub horizon: u32,

    /// Probability of the band, strictly between 0 and 1.
    #[arg(long, value_name = "P", default_value_t = 0.8, value_parser = open_unit)]
    pub interval_width: f64,

    /// Comma-separated protocols, by name (ICMP, TCP, UDP, GRE, ...) or number 0-255.
    #[arg(long, value_name = "LIST", default_value = "ICMP,TCP,UDP", value_parser = protocols)]
    pub protocols: Protocols,

    /// Drop rows above this quantile of their series before fitting (0 < Q <= 1; 1 keeps all).
    #[arg(long, value_name = "Q", default_value_t = 0.95, value_parser = quantile)]
    pub outlier_quantile: f64,

    /// How seasonality combines with the trend (in every candidate of
    /// --model auto: the local level is always added).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = SeasonalityArg::Additive)]
    pub seasonality_mode: SeasonalityArg,

    /// The forecasting model.
    #[arg(long, value_enum, value_name = "MODEL", default_value_t = ModelArg::Auto)]
    pub model: ModelArg,

    /// Keep only the newest N profile-*.json per tag (default: all).
    #[arg(long, value_name = "N", value_parser = positive, conflicts_with = "evaluate")]
    pub keep: Option<usize>,

    /// Only this tag (repeatable).
    #[arg(long = "tag", value_name = "TAG", value_parser = tag)]
    pub tags: Vec<String>,

    /// Tags processed in parallel (default: all cores).
    #[arg(short, long, value_name = "N", value_parser = positive)]
    pub jobs: Option<usize>,

    /// Backtest instead: print sMAPE, MASE and band coverage per tag,
    /// protocol and metric on stdout; write nothing.
    #[arg(long)]
    pub evaluate: bool,

    /// Daily forecast origins of --evaluate, the last N days (1-365).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = days, requires = "evaluate")]
    pub evaluate_days: u32,

    /// Wait up to SECS for another run holding DATA_ROOT's lock, then fail
    /// (exit 1). Only runs that write take the lock.
    #[arg(long, value_name = "SECS", default_value_t = 3000, value_parser = lock_seconds)]
    pub lock_timeout: u64,

    /// Fail at once when another run holds DATA_ROOT's lock.
    #[arg(long, conflicts_with = "lock_timeout")]
    pub no_wait: bool,

    /// `--check`, `--evaluate-check` and their knobs.
    #[command(flatten)]
    pub check_args: crate::check_args::CheckArgs,

    /// Print a completion script for SHELL (bash, zsh, fish, ...) and exit.
    #[arg(long, value_name = "SHELL", exclusive = true)]
    pub completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) and exit.
    #[arg(long, exclusive = true)]
    pub man: bool,
}

/// What a run does: write profiles, backtest (`--evaluate`), check new
/// rows against the profiles (`--check`) or replay checks
/// (`--evaluate-check`); one function per mode (`tags`, `check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// Write every tag's profile.
    Profile,
    /// Backtest every tag, print the table, write nothing.
    Evaluate,
    /// Check every tag's new rows, print the alerts, save the check state.
    Check,
    /// Replay every tag's checks hour by hour, print the episodes, write
    /// nothing.
    #[serde(rename = "evaluate-check")]
    EvaluateCheck,
}

impl RunMode {
    /// Whether the run writes into the tags (and so takes DATA_ROOT's
    /// lock).
    pub fn writes(self) -> bool {
        matches!(self, RunMode::Profile | RunMode::Check)
    }

    /// Whether stdout holds the run's output (so `--summary-json -` is
    /// refused).
    pub fn uses_stdout(self) -> bool {
        self != RunMode::Profile
    }
}

/// How much the run says on stderr (`-q`, `-v`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: errors, and warnings that are new, changed or a day old.
    Quiet,
    /// Warnings, errors and the final line.
    Normal,
    /// `-v`: each tag, ignored entries, a last line still being written.
    Verbose,
}

/// `--seasonality-mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeasonalityArg {
    /// y = trend + seasonality.
    Additive,
    /// y = trend * (1 + seasonality).
    Multiplicative,
}

/// `--model` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// Per series, a blend of candidates weighted by their errors on
    /// held-out days: the seasonal-trend model (on the values, on their
    /// logarithm, with the weekend's and Sunday's own shapes; corrected by
    /// recent residuals), MSTL decompositions from two weeks of history and
    /// seasonal naives where weeks repeat; with 19 days of history or more,
    /// older held-out days also calibrate the band.
    Auto,
    /// The seasonal-trend model alone (daily and weekly terms on every day,
    /// no local level).
    SeasonalTrend,
}

/// The `--protocols` list (deduplicated, in the order given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocols(pub Vec<Protocol>);

fn horizon(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(h @ 1..=8760) => Ok(h),
        _ => Err("expected whole hours from 1 to 8760".into()),
    }
}

fn open_unit(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if p > 0.0 && p < 1.0 => Ok(p),
        _ => Err("expected a number strictly between 0 and 1, e.g. 0.8".into()),
    }
}

fn quantile(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(q) if q > 0.0 && q <= 1.0 => Ok(q),
        _ => Err("expected a number in (0, 1], e.g. 0.95 (1 keeps all rows)".into()),
    }
}

fn positive(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a whole number >= 1".into()),
    }
}

fn max_age(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(h) if h > 0.0 && h <= 1e6 => Ok(h),
        _ => Err("expected a number of hours > 0, e.g. 3 or 1.5".into()),
    }
}

fn days(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(d @ 1..=365) => Ok(d),
        _ => Err("expected whole days from 1 to 365".into()),
    }
}

fn lock_seconds(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(t @ 0..=604_800) => Ok(t),
        _ => Err("expected whole seconds from 0 to 604800 (a week)".into()),
    }
}

fn tag(s: &str) -> Result<String, String> {
    tag_number(s)
        .map(|_| s.to_string())
        .ok_or_else(|| "expected a positive integer (a tag directory name)".into())
}

fn protocols(s: &str) -> Result<Protocols, String> {
    let mut out: Vec<Protocol> = Vec::new();
    for item in s.split(',') {
        let p: Protocol = item.parse().map_err(|_| {
            let names: Vec<_> = Protocol::known_names().collect();
            format!(
                "unknown protocol {:?}: use numbers 0-255 or names ({})",
                item.trim(),
                names.join(", ")
            )
        })?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(Protocols(out))
}

impl Cli {
    /// What the run does.
    pub fn mode(&self) -> RunMode {
        if self.check_args.check {
            RunMode::Check
        } else if self.check_args.evaluate_check.is_some() {
            RunMode::EvaluateCheck
        } else if self.evaluate {
            RunMode::Evaluate
        } else {
            RunMode::Profile
        }
    }

    /// Exits with a usage error (2) on combinations clap cannot express:
    /// `--summary-json -` with `--evaluate`, `--check` or
    /// `--evaluate-check` (both want stdout).
    pub fn check_combinations(&self) {
        if self.mode().uses_stdout()
            && self.summary_json.as_deref() == Some(std::path::Path::new("-"))
        {
            Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "--summary-json - (stdout) cannot be used with --evaluate, --check or --evaluate-check: stdout holds their output",
                )
                .exit();
        }
    }

    /// `-q`, `-v` or neither (clap refuses both).
    pub fn verbosity(&self) -> Verbosity {
        match (self.quiet, self.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, true) => Verbosity::Verbose,
            (false, false) => Verbosity::Normal,
        }
    }

    /// How long to wait for DATA_ROOT's lock.
    pub fn lock_wait(&self) -> std::time::Duration {
        std::time::Duration::from_secs(if self.no_wait { 0 } else { self.lock_timeout })
    }

    /// DATA_ROOT (clap requires it unless --completions or --man).
    pub fn root(&self) -> &std::path::Path {
        self.data_root
            .as_deref()
            .unwrap_or(std::path::Path::new("."))
    }

    /// The library's options.
    pub fn profile_options(&self) -> ProfileOptions {
        let mode = match self.seasonality_mode {
            SeasonalityArg::Additive => SeasonalityMode::Additive,
            SeasonalityArg::Multiplicative => SeasonalityMode::Multiplicative,
        };
        let mut opts = ProfileOptions {
            protocols: self.protocols.0.clone(),
            horizon: self.horizon,
            interval_width: self.interval_width,
            outlier_quantile: self.outlier_quantile,
            ..ProfileOptions::default()
        }
        .with_seasonality_mode(mode);
        opts.forecast.model = match self.model {
            ModelArg::Auto => Model::Auto,
            ModelArg::SeasonalTrend => Model::SeasonalTrend,
        };
        opts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn values_are_validated() {
        assert!(horizon("0").is_err());
        assert_eq!(horizon("48"), Ok(48));
        assert!(open_unit("1").is_err());
        assert!(quantile("0").is_err());
        assert_eq!(quantile("1"), Ok(1.0));
        assert!(tag("0").is_err());
        assert_eq!(lock_seconds("0"), Ok(0));
        assert!(lock_seconds("-1").is_err());
        assert!(lock_seconds("604801").is_err());
        assert!(tag("abc").is_err());
        assert_eq!(
            protocols("tcp,6,udp,47").unwrap().0,
            vec![Protocol::TCP, Protocol::UDP, Protocol(47)]
        );
        assert!(protocols("TCP,,UDP").is_err());
        assert!(protocols("XYZ").is_err());
    }
}
