//! NEMEA hourly aggregates to per-tag traffic profiles (`netprofile`).
//!
//! For each tag directory (see [`discover()`]) the library parses `data.csv`
//! ([`nemea`]), builds one series per protocol and metric, drops values above
//! the outlier quantile, forecasts the horizon ([`profile::build`]) and
//! writes `profile-<TS>.json` and the `latest.json` symlink atomically
//! ([`mod@write`]). [`mod@evaluate`] backtests instead of writing.
//!
//! The caller passes the options and the run's time in; nothing here reads
//! the clock, the environment or the command line.

pub mod check;
pub mod discover;
pub mod error;
pub mod evaluate;
pub mod lock;
pub mod nemea;
pub mod notices;
pub mod output;
pub mod plot;
pub mod profile;
pub mod protocol;
pub mod quantile;
pub mod series;
pub mod time;
pub mod write;

use std::path::PathBuf;

pub use discover::{discover, Conflict, Discovery, Tag};
pub use error::{Error, Warning};
pub use evaluate::SeriesScore;
pub use nemea::TimeWindow;
pub use profile::Profile;
pub use protocol::Protocol;
pub use series::Metric;

use crate::forecast::{ForecastConfig, SeasonalityMode};

/// What to forecast and how.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// Protocols, in profile key order.
    pub protocols: Vec<Protocol>,
    /// Forecast hours.
    pub horizon: u32,
    /// Band probability in (0, 1).
    pub interval_width: f64,
    /// Rows above this quantile of their series are dropped (1 keeps all).
    pub outlier_quantile: f64,
    /// The forecaster.
    pub forecast: ForecastConfig,
    /// Rows dated outside this window are malformed (see [`TimeWindow::until`]).
    pub window: TimeWindow,
}

impl Default for ProfileOptions {
    /// The original tool's settings: ICMP, TCP, UDP; 24 h; 0.8; 0.95.
    fn default() -> Self {
        ProfileOptions {
            protocols: vec![Protocol::ICMP, Protocol::TCP, Protocol::UDP],
            horizon: 24,
            interval_width: 0.8,
            outlier_quantile: 0.95,
            forecast: ForecastConfig::default(),
            window: TimeWindow::default(),
        }
    }
}

impl ProfileOptions {
    /// These options with the forecaster's seasonality mode set.
    pub fn with_seasonality_mode(mut self, mode: SeasonalityMode) -> Self {
        self.forecast.seasonality_mode = mode;
        self
    }
}

/// A tag's result with the warnings gathered on the way (also on failure).
#[derive(Debug)]
pub struct TagOutcome<T> {
    /// Things left out.
    pub warnings: Vec<Warning>,
    /// The result.
    pub result: Result<T, Error>,
    /// What `data.csv` held, when it could be parsed.
    pub data: Option<DataStats>,
}

/// What a tag's `data.csv` held (for monitoring).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataStats {
    /// Valid rows kept (duplicates counted once).
    pub rows: usize,
    /// Malformed rows skipped.
    pub malformed: usize,
    /// Exact duplicate rows dropped.
    pub duplicates: usize,
    /// Repeated header lines skipped.
    pub repeated_headers: usize,
    /// The last line had no line end and was not counted.
    pub unterminated: bool,
    /// The newest TIME_LAST of any valid row (µs since the epoch, UTC).
    pub last_time: Option<i64>,
}

impl DataStats {
    /// The statistics of a parsed file.
    pub fn of(parsed: &nemea::Parsed) -> Self {
        DataStats {
            rows: parsed.rows.len(),
            malformed: parsed.malformed,
            duplicates: parsed.duplicates,
            repeated_headers: parsed.repeated_headers,
            unterminated: parsed.unterminated,
            last_time: parsed.rows.iter().map(|r| r.last).max(),
        }
    }
}

/// A profile written for a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The new `profile-<TS>.json`.
    pub path: PathBuf,
    /// Series forecast.
    pub series: usize,
    /// Old profiles removed by `keep`.
    pub pruned: usize,
    /// The forecast series with the model that fitted each, in profile
    /// order.
    pub fitted: Vec<(Protocol, Metric, &'static str)>,
    /// The new `profile-<TS>.svg` (with `RunOptions::plot`).
    pub plot: Option<PathBuf>,
}

/// How a normal (writing) run treats each tag, besides [`ProfileOptions`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// The run's local wall-clock time, µs since the epoch (names profiles).
    pub now: i64,
    /// The run's time in UTC, µs since the epoch (for `max_age`).
    pub now_utc: i64,
    /// Keep only the newest this many profiles per tag.
    pub keep: Option<usize>,
    /// Fail a tag whose newest row (TIME_LAST) is older than this (µs)
    /// before `now_utc`.
    pub max_age: Option<i64>,
    /// Fail a tag unless every protocol and metric could be forecast.
    pub complete_only: bool,
    /// Also draw the profile as `profile-<TS>.svg` and point `latest.svg`
    /// at it.
    pub plot: bool,
}

/// Reads and parses a tag's `data.csv` (rows dated outside `window` are
/// malformed), adding a warning for malformed rows.
pub fn read_data(
    tag: &Tag,
    window: TimeWindow,
    warnings: &mut Vec<Warning>,
) -> Result<nemea::Parsed, Error> {
    let path = tag.data_path();
    let file = output::open_regular(&path).map_err(|source| Error::ReadData {
        path: path.clone(),
        source,
    })?;
    let parsed = nemea::parse_within(file, window).map_err(|source| match source {
        nemea::ParseError::Io(source) => Error::ReadData {
            path: path.clone(),
            source,
        },
        source => Error::Parse {
            path: path.clone(),
            source,
        },
    })?;
    if parsed.malformed > 0 {
        warnings.push(Warning::MalformedRows {
            path,
            count: parsed.malformed,
            lines: parsed.malformed_lines.clone(),
            out_of_window: parsed.out_of_window,
        });
    }
    Ok(parsed)
}

/// Fails when the newest row is older than `run.max_age` before
/// `run.now_utc` (a stopped logger); rows from the future are not stale.
fn check_age(stats: &DataStats, run: &RunOptions) -> Result<(), Error> {
    let Some(max_age) = run.max_age else {
        return Ok(());
    };
    match stats.last_time {
        Some(last) if run.now_utc - last <= max_age => Ok(()),
        last => Err(Error::Stale {
            last,
            now_utc: run.now_utc,
            max_age,
        }),
    }
}

/// The series of `opts` missing from `profile`, as `"ICMP bytes"` names.
fn missing_series(profile: &Profile, opts: &ProfileOptions) -> Vec<String> {
    let mut missing = Vec::new();
    for &protocol in &opts.protocols {
        let have = profile.protocols.iter().find(|p| p.protocol == protocol);
        for metric in Metric::ALL {
            if !have.is_some_and(|p| p.metrics.iter().any(|(m, _)| *m == metric)) {
                missing.push(format!("{protocol} {metric}"));
            }
        }
    }
    missing
}

/// Builds and writes the profile of `tag` as `profile-<TS>.json` (TS from
/// `run.now`), points `latest.json` at it, then keeps only the newest
/// `run.keep` profiles if asked. A tag where nothing could be forecast (or,
/// with `run.complete_only`, something could not), or whose data is older
/// than `run.max_age`, fails and nothing is written.
pub fn profile_tag(tag: &Tag, opts: &ProfileOptions, run: &RunOptions) -> TagOutcome<Written> {
    let mut warnings = Vec::new();
    let mut data = None;
    let result = (|| {
        let parsed = read_data(tag, opts.window, &mut warnings)?;
        let stats = DataStats::of(&parsed);
        data = Some(stats);
        check_age(&stats, run)?;
        let (profile, w) = profile::build(&parsed.rows, opts);
        warnings.extend(w);
        if profile.is_empty() {
            return Err(Error::NothingForecast);
        }
        if run.complete_only {
            let missing = missing_series(&profile, opts);
            if !missing.is_empty() {
                return Err(Error::Incomplete { missing });
            }
        }
        let name = write::profile_file_name(run.now);
        if run.plot {
            // Refused before anything is written, like `latest.json`.
            output::check_replaceable(&tag.dir.join(write::LATEST_SVG), true)?;
        }
        // The picture is written first and `latest.svg` switched right after
        // `latest.json`, so both point at one run's files.
        let plot = match run.plot {
            true => {
                let svg = plot::render_svg_marked(
                    &format!("tag {}", tag.name),
                    &parsed.rows,
                    &profile,
                    opts,
                    &warnings,
                    &check::state::out_rows(&tag.dir),
                )
                .map_err(Error::Internal)?;
                Some(write::write_file(
                    &tag.dir,
                    &write::plot_file_name(&name),
                    svg.as_bytes(),
                )?)
            }
            false => None,
        };
        let path = match write::write_profile(&tag.dir, &name, &profile.to_json()) {
            Ok(path) => path,
            Err(e) => {
                if let Some(svg) = &plot {
                    let _ = std::fs::remove_file(svg);
                }
                return Err(e);
            }
        };
        if plot.is_some() {
            if let Err(e) = write::point_latest_svg(&tag.dir, &write::plot_file_name(&name)) {
                warnings.push(Warning::LatestPlot(e.to_string()));
            }
        }
        let fitted = profile
            .protocols
            .iter()
            .flat_map(|p| {
                p.metrics
                    .iter()
                    .zip(&p.models)
                    .map(|((m, _), model)| (p.protocol, *m, *model))
            })
            .collect();
        let pruned = match run.keep {
            Some(k) => {
                let (n, w) = write::prune(&tag.dir, k);
                warnings.extend(w);
                n
            }
            None => 0,
        };
        Ok(Written {
            path,
            series: profile.series_count(),
            pruned,
            fitted,
            plot,
        })
    })();
    TagOutcome {
        warnings,
        result,
        data,
    }
}

/// Backtests `tag` at `days` daily origins; writes nothing. The tag gets
/// the warnings of a normal run (and fails where a normal run would fail:
/// nothing could be forecast), plus one warning per series without a score
/// saying why.
pub fn evaluate_tag(tag: &Tag, opts: &ProfileOptions, days: u32) -> TagOutcome<Vec<SeriesScore>> {
    let mut warnings = Vec::new();
    let mut data = None;
    let result = read_data(tag, opts.window, &mut warnings).and_then(|parsed| {
        data = Some(DataStats::of(&parsed));
        let (profile, w) = profile::build(&parsed.rows, opts);
        warnings.extend(w);
        if profile.is_empty() {
            return Err(Error::NothingForecast);
        }
        let (scores, unscored) = evaluate::evaluate_explained(&parsed.rows, opts, days);
        warnings.extend(few_origins(&parsed.rows, opts, &scores, days));
        for (protocol, metric, reason) in unscored {
            let in_profile = profile
                .protocols
                .iter()
                .any(|p| p.protocol == protocol && p.metrics.iter().any(|(m, _)| *m == metric));
            // Series a normal run leaves out already have their warning.
            if in_profile {
                warnings.push(Warning::NoScore {
                    protocol,
                    metric,
                    reason,
                });
            }
        }
        Ok(scores)
    });
    TagOutcome {
        warnings,
        result,
        data,
    }
}

/// Warnings for the series of `scores` scored at fewer than `days` origins:
/// one per distinct (origins used, reasons), naming the series unless it
/// is every scored series.
fn few_origins(
    rows: &[nemea::Row],
    opts: &ProfileOptions,
    scores: &[SeriesScore],
    days: u32,
) -> Vec<Warning> {
    let asked = days as usize;
    let mut groups: Vec<((usize, evaluate::Missed), Vec<String>)> = Vec::new();
    for s in scores.iter().filter(|s| s.origins.len() < asked) {
        let key = (s.origins.len(), s.missed);
        let name = format!("{} {}", s.protocol, s.metric);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, names)) => names.push(name),
            None => groups.push((key, vec![name])),
        }
    }
    let asked_rows = rows
        .iter()
        .filter(|r| opts.protocols.contains(&Protocol(r.protocol)));
    let first = asked_rows.clone().map(|r| r.first).min().unwrap_or(0);
    let last = asked_rows.map(|r| r.first).max().unwrap_or(0);
    let every = groups.len() == 1 && groups[0].1.len() == scores.len();
    groups
        .into_iter()
        .map(|((used, missed), names)| Warning::FewOrigins {
            series: if every { Vec::new() } else { names },
            used,
            asked: days,
            missed,
            span: last - first,
        })
        .collect()
}
