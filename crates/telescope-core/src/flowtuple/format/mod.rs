//! Output formats: each a pure function from one interval's rows to bytes.

pub mod csv;
pub mod jsonl;
pub mod seed;
pub mod timeseries;

use std::fmt;
use std::str::FromStr;

use super::series::{IntervalSeries, Key};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `<time> <class> <key> <counter> <value>` lines (the default).
    #[default]
    Seed,
    /// Graphite plaintext (libtimeseries ASCII): `<key> <value> <time>`.
    Timeseries,
    /// One JSON object per (interval, class, key).
    Jsonl,
    /// A header, then one row per (interval, class, key).
    Csv,
}

impl Format {
    /// Every format, in documentation order.
    pub const ALL: [Format; 4] = [Format::Seed, Format::Timeseries, Format::Jsonl, Format::Csv];

    /// The format's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Seed => "seed",
            Format::Timeseries => "timeseries",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown format `{s}`"))
    }
}

/// A format plus its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formatter {
    format: Format,
    label: String,
}

impl Formatter {
    /// A formatter; `label` prefixes timeseries keys and must be a
    /// non-empty run of letters, digits, `_`, `-` and `.` (not at either end).
    pub fn new(format: Format, label: &str) -> Result<Formatter, String> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if label.is_empty()
            || !label.chars().all(ok_char)
            || label.starts_with('.')
            || label.ends_with('.')
        {
            return Err(format!(
                "bad label `{label}`: use letters, digits, `_`, `-` and inner `.` only"
            ));
        }
        Ok(Formatter {
            format,
            label: label.to_string(),
        })
    }

    /// Bytes written once before all output (the CSV header), if any.
    pub fn header(&self) -> &'static [u8] {
        match self.format {
            Format::Csv => csv::HEADER,
            _ => b"",
        }
    }

    /// Appends one interval's rows to `out`.
    pub fn serialize(&self, interval: &IntervalSeries, out: &mut Vec<u8>) {
        match self.format {
            Format::Seed => seed::serialize(interval, out),
            Format::Timeseries => timeseries::serialize(interval, &self.label, out),
            Format::Jsonl => jsonl::serialize(interval, out),
            Format::Csv => csv::serialize(interval, out),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Overall => f.write_str("overall"),
            Key::Number(n) => write!(f, "{n}"),
            Key::Icmp(t, c) => write!(f, "{t}:{c}"),
            Key::Geo(tag) => f.write_str(tag.as_str()),
        }
    }
}
