//! NEMEA hourly aggregates to per-tag traffic profiles (`netprofile`).
//!
//! For each tag directory (see [`discover()`]) the library parses `data.csv`
//! ([`nemea::parse_within`]), builds one series per protocol and metric
//! ([`series`]), drops values above the outlier quantile, forecasts the
//! horizon ([`build_profile`]) and writes `profile-<TS>.json` and the
//! `latest.json` symlink atomically ([`write_profile`]); [`profile_tag`]
//! does all of it for one tag. [`evaluate_tag`] backtests instead of
//! writing ([`format_table`] prints the scores).
//!
//! The caller passes the options and the run's time in; nothing here reads
//! the clock, the environment or the command line.
//!
//! # Example
//!
//! Parse NEMEA CSV, build the profile of the next three hours and write it
//! atomically:
//!
//! ```
//! use telescope_core::netprofile::{build_profile, nemea, write_profile, ProfileOptions};
//!
//! // Three days of hourly TCP rows (protocol 6), 2024-01-01 onwards.
//! let mut csv = String::from(
//!     "uint64 BYTES,time TIME_FIRST,time TIME_LAST,uint32 COUNT,uint32 PACKETS,uint8 PROTOCOL\n",
//! );
//! for h in 0..72 {
//!     let (day, hour) = (1 + h / 24, h % 24);
//!     let t = format!("2024-01-{day:02}T{hour:02}:00:00");
//!     csv += &format!("{},{t},{t},{},{},6\n", 1000 + 10 * h, 5 + h % 3, 20 + h % 7);
//! }
//! let parsed = nemea::parse(csv.as_bytes())?;
//! assert_eq!(parsed.rows.len(), 72);
//!
//! let opts = ProfileOptions { horizon: 3, ..ProfileOptions::default() };
//! let (profile, warnings) = build_profile(&parsed.rows, &opts);
//! // ICMP and UDP have no rows: each is left out with a warning.
//! assert_eq!(warnings.len(), 2);
//! assert_eq!(profile.series_count(), 3); // TCP bytes, packets, flow_count
//!
//! let dir = std::env::temp_dir().join(format!("netprofile-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = write_profile(&dir, "profile-2024-01-04T00:00:00.000000.json", &profile.to_json())?;
//! assert!(dir.join("latest.json").exists());
//! assert!(std::fs::read_to_string(&path)?.starts_with("{\"TCP\": {\"bytes\": {"));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod check;
mod discover;
mod error;
mod evaluate;
mod lock;
pub mod nemea;
mod notices;
mod options;
mod output;
mod plot;
mod profile;
mod protocol;
mod quantile;
pub mod series;
#[cfg(test)]
mod tests;
pub mod time;
mod write;

use std::path::PathBuf;

/// Checking rows against the profiles in force and alerting by episode
/// (what `netprofile --check` and `--evaluate-check` do): [`check_tag`]
/// reads a tag and returns its events and the state to save with
/// [`save_check_states`] once the events are delivered (printed, or
/// written as IDEA messages with [`write_idea`]); [`write_overview`] writes
/// the overview page; [`replay_tag`] walks a tag's history hour by hour as
/// cron would. [`check_rows`], [`replay_visible`] and
/// [`replay_profile_at`] are the pieces a replay of its own (a benchmark
/// injecting anomalies) is built from.
pub use check::{
    check_rows, check_tag, replay_profile_at, replay_tag, replay_visible, save_check_states,
    write_idea, write_overview, CheckCounts, CheckError, CheckOptions, Checked, Direction, Event,
    EventKind, MemoryProfiles, ProfileSource, ReadProfile, Reading, ReplayRun, Snapshot, TagState,
};
pub use discover::{discover, numeric_order, tag_number, Conflict, Discovery, Tag};
pub use error::{Error, Warning};
pub use evaluate::{
    evaluate as evaluate_rows, format_table, Missed, NoScoreReason, Score, SeriesScore,
};
pub use lock::{lock_path, RootLock, TryLock, LOCK_FILE};
pub use nemea::TimeWindow;
pub use notices::{state_path as notices_path, Notices};
pub use options::{ProfileOptions, RunOptions};
pub use output::write_summary;
pub use profile::{build as build_profile, Profile, ProtocolProfile};
pub use protocol::{Protocol, UnknownProtocol};
pub use series::{Metric, SeriesId};
pub use write::{profile_file_name, remove_leftovers, write_profile};

use crate::forecast::ModelName;

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
    pub fitted: Vec<(Protocol, Metric, ModelName)>,
    /// The new `profile-<TS>.svg` (with `RunOptions::plot`).
    pub plot: Option<PathBuf>,
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

/// The series of `opts` missing from `profile`.
fn missing_series(profile: &Profile, opts: &ProfileOptions) -> Vec<SeriesId> {
    let mut missing = Vec::new();
    for &protocol in &opts.protocols {
        let have = profile.protocols.iter().find(|p| p.protocol == protocol);
        for metric in Metric::ALL {
            if !have.is_some_and(|p| p.metrics.iter().any(|(m, _)| *m == metric)) {
                missing.push(SeriesId { protocol, metric });
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
        let profile = checked_profile(&parsed.rows, opts, run, &mut warnings)?;
        write_tag(tag, &parsed.rows, &profile, opts, run, &mut warnings)
    })();
    TagOutcome {
        warnings,
        result,
        data,
    }
}

/// The profile of `rows`, its warnings added to `warnings`; an error when
/// nothing could be forecast or, with `run.complete_only`, something could
/// not.
fn checked_profile(
    rows: &[nemea::Row],
    opts: &ProfileOptions,
    run: &RunOptions,
    warnings: &mut Vec<Warning>,
) -> Result<Profile, Error> {
    let (profile, w) = profile::build(rows, opts);
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
    Ok(profile)
}

/// Writes `profile` (and with `run.plot` its picture) into `tag`'s
/// directory, points `latest.json` (and `latest.svg`) at them and prunes
/// old profiles with `run.keep`.
fn write_tag(
    tag: &Tag,
    rows: &[nemea::Row],
    profile: &Profile,
    opts: &ProfileOptions,
    run: &RunOptions,
    warnings: &mut Vec<Warning>,
) -> Result<Written, Error> {
    let name = write::profile_file_name(run.now);
    // The picture is written first and `latest.svg` switched right after
    // `latest.json`, so both point at one run's files.
    let plot = match run.plot {
        true => Some(write_plot(tag, &name, rows, profile, opts, warnings)?),
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
}

/// Draws `profile` over `rows` and writes it as the picture of the profile
/// named `name`; refused (before anything is written, like `latest.json`)
/// when `latest.svg` is not a symlink or regular file.
fn write_plot(
    tag: &Tag,
    name: &str,
    rows: &[nemea::Row],
    profile: &Profile,
    opts: &ProfileOptions,
    warnings: &[Warning],
) -> Result<PathBuf, Error> {
    output::check_replaceable(&tag.dir.join(write::LATEST_SVG), output::Symlink::Replaced)?;
    let title = format!("tag {}", tag.name);
    let marks = check::out_rows(&tag.dir);
    let svg =
        plot::render_svg(&title, rows, profile, opts, warnings, &marks).map_err(Error::Internal)?;
    write::write_file(&tag.dir, &write::plot_file_name(name), svg.as_bytes())
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
    let mut groups: Vec<((usize, evaluate::Missed), Vec<SeriesId>)> = Vec::new();
    for s in scores.iter().filter(|s| s.origins.len() < asked) {
        let key = (s.origins.len(), s.missed);
        let name = SeriesId {
            protocol: s.protocol,
            metric: s.metric,
        };
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
