//! Output formats: each a pure function from one interval's rows to bytes.
//! A [`Formatter`] is a [`Format`] with its settings (the timeseries
//! label, flowtuple4's counters); [`tsk`] is libtimeseries' TSK encoding
//! of the same data points, for Kafka. Report rules' dense keys are added
//! before formatting, by a [`super::Renderer`].
//!
//! ```
//! use telescope_core::flowtuple::{
//!     Class, Counters, Format, Formatter, IntervalSeries, Key, SeriesRow,
//! };
//!
//! let counters = Counters {
//!     packets: 3,
//!     bytes: 120,
//!     uniq_src_ips: 2,
//!     uniq_dst_ips: 1,
//!     uniq_src_asns: 1,
//! };
//! let row = SeriesRow { class: Class::Summary, key: Key::Overall, continent: None, counters };
//! let interval = IntervalSeries { time: 60, rows: vec![row] };
//!
//! let mut seed = Vec::new();
//! Formatter::new(Format::Seed, "flowtuple")?.serialize(&interval, &mut seed);
//! assert_eq!(
//!     String::from_utf8(seed)?,
//!     "60 summary overall packets 3\n\
//!      60 summary overall bytes 120\n\
//!      60 summary overall uniq_src_ips 2\n\
//!      60 summary overall uniq_dst_ips 1\n\
//!      60 summary overall uniq_src_asns 1\n"
//! );
//!
//! let mut graphite = Vec::new();
//! Formatter::new(Format::Timeseries, "darknet")?.serialize(&interval, &mut graphite);
//! assert!(String::from_utf8(graphite)?.starts_with("darknet.overall.uniq_src_ip 2 60\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod csv;
pub(crate) mod jsonl;
pub(crate) mod seed;
pub(crate) mod timeseries;
pub mod tsk;

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use super::error::ParseError;
use super::options::Class;
use super::series::{Counters, IntervalSeries, Key};

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
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Format, ParseError> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| ParseError::UnknownFormat(s.to_string()))
    }
}

/// A counter printed, in print order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    /// `packets`.
    Packets,
    /// `bytes`.
    Bytes,
    /// `uniq_src_ips`.
    SrcIps,
    /// `uniq_dst_ips` (flowtuple4: distinct destination networks).
    DstIps,
    /// `uniq_src_asns`.
    SrcAsns,
}

impl Column {
    /// The counter's value in `c`.
    #[inline]
    pub(crate) fn value(self, c: &Counters) -> i128 {
        match self {
            Column::Packets => c.packets,
            Column::Bytes => c.bytes,
            Column::SrcIps => i128::from(c.uniq_src_ips),
            Column::DstIps => i128::from(c.uniq_dst_ips),
            Column::SrcAsns => i128::from(c.uniq_src_asns),
        }
    }
}

/// The counters printed and their names in the seed, jsonl and csv formats
/// (`names`) and in the timeseries format (`graphite`), in print order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    /// Counter and name, seed/jsonl/csv order.
    pub names: Vec<(Column, String)>,
    /// Counter and name, timeseries order.
    pub graphite: Vec<(Column, String)>,
}

impl Columns {
    /// All five counters (flowtuple v3), or for flowtuple4 counting
    /// destination networks of prefix length `dst_net`: no `bytes`, and the
    /// destination counter named `uniq_dst_net<N>s` (`uniq_dst_net<N>`).
    pub(crate) fn new(dst_net: Option<u8>) -> Columns {
        let pick = |all: [(Column, String); 5]| -> Vec<(Column, String)> {
            all.into_iter()
                .filter(|(c, _)| dst_net.is_none() || *c != Column::Bytes)
                .collect()
        };
        let dst = |v3: &str, v4: &str| match dst_net {
            None => v3.to_string(),
            Some(n) => v4.replace('N', &n.to_string()),
        };
        Columns {
            names: pick([
                (Column::Packets, "packets".into()),
                (Column::Bytes, "bytes".into()),
                (Column::SrcIps, "uniq_src_ips".into()),
                (Column::DstIps, dst("uniq_dst_ips", "uniq_dst_netNs")),
                (Column::SrcAsns, "uniq_src_asns".into()),
            ]),
            graphite: pick([
                (Column::SrcIps, "uniq_src_ip".into()),
                (Column::DstIps, dst("uniq_dst_ip", "uniq_dst_netN")),
                (Column::SrcAsns, "uniq_src_asn".into()),
                (Column::Packets, "pkt_cnt".into()),
                (Column::Bytes, "ip_len".into()),
            ]),
        }
    }
}

/// A format plus its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formatter {
    format: Format,
    label: String,
    columns: Columns,
    /// Classes never printed (flowtuple4: the source-port classes).
    hidden: Vec<Class>,
    header: Vec<u8>,
}

impl Formatter {
    /// A formatter; `label` prefixes timeseries keys and must be a
    /// non-empty run of letters, digits, `_`, `-` and `.` (not at either end).
    pub fn new(format: Format, label: &str) -> Result<Formatter, ParseError> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if label.is_empty()
            || !label.chars().all(ok_char)
            || label.starts_with('.')
            || label.ends_with('.')
        {
            return Err(ParseError::BadLabel(label.to_string()));
        }
        let columns = Columns::new(None);
        Ok(Formatter {
            format,
            label: label.to_string(),
            header: header(format, &columns),
            columns,
            hidden: Vec::new(),
        })
    }

    /// The key prefix of the timeseries (and TSK) format.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The formatter for flowtuple4 series counting destination networks of
    /// prefix length `dst_net`: no `bytes`, the destination counter named
    /// for the networks, no source-port classes.
    pub fn for_flowtuple4(mut self, dst_net: u8) -> Formatter {
        self.columns = Columns::new(Some(dst_net));
        self.header = header(self.format, &self.columns);
        self.hidden = vec![Class::TcpSrcPorts, Class::UdpSrcPorts];
        self
    }

    /// One interval's TSK messages on `channel`: the data points that
    /// `--format timeseries` prints with this formatter's label, counters
    /// and classes.
    pub fn tsk(
        &self,
        interval: &IntervalSeries,
        channel: &str,
    ) -> Result<Vec<Vec<u8>>, tsk::TskError> {
        let graphite = &self.columns.graphite;
        if !self.hidden.is_empty() && interval.rows.iter().any(|r| self.hidden.contains(&r.class)) {
            let mut shown = interval.clone();
            shown.rows.retain(|r| !self.hidden.contains(&r.class));
            return tsk::serialize(&shown, &self.label, graphite, channel);
        }
        tsk::serialize(interval, &self.label, graphite, channel)
    }

    /// Bytes written once before all output (the CSV header), if any.
    pub fn header(&self) -> &[u8] {
        &self.header
    }

    /// Appends one interval's rows to `out`.
    pub fn serialize(&self, interval: &IntervalSeries, out: &mut Vec<u8>) {
        if !self.hidden.is_empty() && interval.rows.iter().any(|r| self.hidden.contains(&r.class)) {
            let mut shown = interval.clone();
            shown.rows.retain(|r| !self.hidden.contains(&r.class));
            return self.serialize_all(&shown, out);
        }
        self.serialize_all(interval, out)
    }

    fn serialize_all(&self, interval: &IntervalSeries, out: &mut Vec<u8>) {
        let c = &self.columns;
        match self.format {
            Format::Seed => seed::serialize(interval, &c.names, out),
            Format::Timeseries => timeseries::serialize(interval, &self.label, &c.graphite, out),
            Format::Jsonl => jsonl::serialize(interval, &c.names, out),
            Format::Csv => csv::serialize(interval, &c.names, out),
        }
    }
}

fn header(format: Format, columns: &Columns) -> Vec<u8> {
    match format {
        Format::Csv => csv::header(&columns.names),
        _ => Vec::new(),
    }
}

/// Appends `value` in decimal, as `Display` writes it (without its cost
/// for the usual values, those that fit in 64 bits).
pub(crate) fn push_decimal(out: &mut Vec<u8>, value: i128) {
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
