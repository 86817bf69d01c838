//! Output formats: each a pure function from one interval's rows to bytes.

pub mod csv;
pub mod jsonl;
pub mod seed;
pub mod timeseries;
pub mod tsk;

use std::fmt;
use std::io::Write;
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

    /// The key prefix of the timeseries (and TSK) format.
    pub fn label(&self) -> &str {
        &self.label
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

/// Appends `value` in decimal, as `Display` writes it (without its cost
/// for the usual values, those that fit in 64 bits).
pub fn push_decimal(out: &mut Vec<u8>, value: i128) {
    if value < 0 {
        out.push(b'-');
    }
    let Ok(mut rest) = u64::try_from(value.unsigned_abs()) else {
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{}", value.unsigned_abs());
        return;
    };
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
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

#[cfg(test)]
mod tests {
    use super::push_decimal;

    #[test]
    fn push_decimal_writes_what_display_writes() {
        let mut values = vec![
            0,
            1,
            -1,
            9,
            10,
            -10,
            i128::from(i64::MIN),
            i128::from(i64::MAX),
            i128::from(u64::MAX),
            i128::from(u64::MAX) + 1,
            -i128::from(u64::MAX),
            -i128::from(u64::MAX) - 1,
            i128::MIN,
            i128::MAX,
        ];
        // Every power of ten and its neighbours, both signs.
        let mut p: i128 = 1;
        while let Some(next) = p.checked_mul(10) {
            for v in [p - 1, p, p + 1] {
                values.extend([v, -v]);
            }
            p = next;
        }
        for v in values {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, v);
            assert_eq!(out, format!("x{v}").into_bytes(), "{v}");
        }
    }
}
