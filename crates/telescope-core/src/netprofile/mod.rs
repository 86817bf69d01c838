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

pub mod discover;
pub mod error;
pub mod evaluate;
pub mod lock;
pub mod nemea;
pub mod profile;
pub mod protocol;
pub mod quantile;
pub mod series;
pub mod time;
pub mod write;

use std::fs::File;
use std::path::PathBuf;

pub use discover::{discover, Discovery, Tag};
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
}

/// Reads and parses a tag's `data.csv` (rows dated outside `window` are
/// malformed), adding a warning for malformed rows.
pub fn read_data(
    tag: &Tag,
    window: TimeWindow,
    warnings: &mut Vec<Warning>,
) -> Result<nemea::Parsed, Error> {
    let path = tag.data_path();
    let file = File::open(&path).map_err(|source| Error::ReadData {
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

/// Builds and writes the profile of `tag` as `profile-<TS>.json` (TS from
/// `now`, local wall-clock µs since the epoch), points `latest.json` at it,
/// then keeps only the newest `keep` profiles if asked. A tag where nothing
/// could be forecast fails and nothing is written.
pub fn profile_tag(
    tag: &Tag,
    opts: &ProfileOptions,
    now: i64,
    keep: Option<usize>,
) -> TagOutcome<Written> {
    let mut warnings = Vec::new();
    let result = (|| {
        let parsed = read_data(tag, opts.window, &mut warnings)?;
        let (profile, w) = profile::build(&parsed.rows, opts);
        warnings.extend(w);
        if profile.is_empty() {
            return Err(Error::NothingForecast);
        }
        let name = write::profile_file_name(now);
        let path = write::write_profile(&tag.dir, &name, &profile.to_json())?;
        let pruned = match keep {
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
        })
    })();
    TagOutcome { warnings, result }
}

/// Backtests `tag` at `days` daily origins; writes nothing.
pub fn evaluate_tag(tag: &Tag, opts: &ProfileOptions, days: u32) -> TagOutcome<Vec<SeriesScore>> {
    let mut warnings = Vec::new();
    let result = read_data(tag, opts.window, &mut warnings)
        .map(|parsed| evaluate::evaluate(&parsed.rows, opts, days));
    TagOutcome { warnings, result }
}
