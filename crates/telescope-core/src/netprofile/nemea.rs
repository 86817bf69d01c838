//! Parsing of NEMEA logger CSV (`data.csv`).
//!
//! The first line is a typed header such as
//! `uint64 BYTES,time TIME_FIRST,time TIME_LAST,uint32 COUNT,uint32 PACKETS,uint8 PROTOCOL`;
//! columns are found by field name in any order and extra columns are
//! ignored. Repeated header lines (the logger rewrites one on restart) are
//! skipped and may reorder the columns. Malformed rows are counted and
//! skipped; exact duplicate rows count once. A row dated outside the
//! [`TimeWindow`] (before 1970, or after the run's clock) is malformed.

use std::io::Read;

use super::time::{parse_timestamp, HOUR_US, MAX_TIMESTAMP};

/// The field names read from the header, in [`Row`] order.
pub const FIELDS: [&str; 6] = [
    "PROTOCOL",
    "TIME_FIRST",
    "TIME_LAST",
    "BYTES",
    "PACKETS",
    "COUNT",
];

/// How many malformed line numbers [`Parsed`] keeps.
pub const MAX_LINE_NUMBERS: usize = 5;

/// The row times accepted: TIME_FIRST and TIME_LAST both within
/// `not_before..=not_after` (µs since the epoch, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// Earliest accepted time.
    pub not_before: i64,
    /// Latest accepted time.
    pub not_after: i64,
}

impl TimeWindow {
    /// How far past the run's clock a row may be dated (clock skew between
    /// the logger and this host, a row of the hour still being written).
    pub const FUTURE_TOLERANCE: i64 = HOUR_US;

    /// From 1970 up to `now_utc` (the run's clock in UTC) plus
    /// [`Self::FUTURE_TOLERANCE`].
    pub fn until(now_utc: i64) -> Self {
        TimeWindow {
            not_before: 0,
            not_after: now_utc
                .saturating_add(Self::FUTURE_TOLERANCE)
                .min(MAX_TIMESTAMP),
        }
    }

    /// True when `t` is inside the window.
    pub fn contains(&self, t: i64) -> bool {
        (self.not_before..=self.not_after).contains(&t)
    }
}

impl Default for TimeWindow {
    /// 1970-01-01T00:00:00 to 9999-12-31T23:59:59.999999 (no clock).
    fn default() -> Self {
        TimeWindow {
            not_before: 0,
            not_after: MAX_TIMESTAMP,
        }
    }
}

/// One aggregate row. Field order defines the sort order (protocol, then
/// time), so sorted rows group by protocol in time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    /// IP protocol number.
    pub protocol: u8,
    /// TIME_FIRST, µs since the epoch (UTC).
    pub first: i64,
    /// TIME_LAST, µs since the epoch (UTC).
    pub last: i64,
    /// BYTES.
    pub bytes: u64,
    /// PACKETS.
    pub packets: u64,
    /// COUNT (flows).
    pub count: u64,
}

/// The rows of one file, sorted and deduplicated, with what was skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// Valid rows, sorted by protocol then time, duplicates removed.
    pub rows: Vec<Row>,
    /// Number of malformed rows skipped.
    pub malformed: usize,
    /// Line numbers (1-based, ascending, each once) of the first malformed
    /// rows.
    pub malformed_lines: Vec<u64>,
    /// How many of the malformed rows were well formed but dated outside
    /// the [`TimeWindow`].
    pub out_of_window: usize,
    /// Exact duplicate rows dropped.
    pub duplicates: usize,
    /// Repeated header lines skipped.
    pub repeated_headers: usize,
    /// The last line had no line end and was not counted (the logger may
    /// still be writing it; its normal state between rows).
    pub unterminated: bool,
}

impl Parsed {
    /// Counts a malformed row at `line` (a stray `\r` can make two records
    /// of one line: the line is named once).
    /// Returns whether `line` was added to the listed line numbers.
    fn skip(&mut self, line: u64) -> bool {
        self.malformed += 1;
        let listed = self.malformed_lines.len() < MAX_LINE_NUMBERS
            && self.malformed_lines.last() != Some(&line);
        if listed {
            self.malformed_lines.push(line);
        }
        listed
    }
}

/// Why a file could not be parsed at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The file has no lines.
    #[error("empty file (no header line)")]
    Empty,
    /// The header lacks required fields.
    #[error("header lacks field(s) {}", .0.join(", "))]
    MissingFields(Vec<&'static str>),
    /// Reading failed.
    #[error("{0}")]
    Io(std::io::Error),
    /// Any other CSV reader error.
    #[error("{0}")]
    Csv(String),
}

impl From<csv::Error> for ParseError {
    fn from(e: csv::Error) -> Self {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => ParseError::Io(io),
            other => ParseError::Csv(format!("{other:?}")),
        }
    }
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Column index of each of [`FIELDS`], from a header record.
fn header_columns(rec: &csv::ByteRecord) -> Result<[usize; 6], ParseError> {
    let mut cols = [usize::MAX; 6];
    for (i, field) in rec.iter().enumerate() {
        let field = trim(field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field));
        let name = field.rsplit(|&c| c == b' ').next().unwrap_or(field);
        if let Some(k) = FIELDS.iter().position(|f| f.as_bytes() == name) {
            if cols[k] == usize::MAX {
                cols[k] = i;
            }
        }
    }
    let missing: Vec<_> = FIELDS
        .iter()
        .zip(cols)
        .filter(|(_, c)| *c == usize::MAX)
        .map(|(f, _)| *f)
        .collect();
    if missing.is_empty() {
        Ok(cols)
    } else {
        Err(ParseError::MissingFields(missing))
    }
}

fn uint(b: &[u8]) -> Option<u64> {
    let b = trim(b);
    if b.is_empty() {
        return None;
    }
    b.iter().try_fold(0u64, |acc, &c| {
        if c.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
        } else {
            None
        }
    })
}

fn row(rec: &csv::ByteRecord, cols: &[usize; 6], width: usize) -> Option<Row> {
    if rec.len() != width {
        return None;
    }
    Some(Row {
        protocol: u8::try_from(uint(&rec[cols[0]])?).ok()?,
        first: parse_timestamp(trim(&rec[cols[1]]))?,
        last: parse_timestamp(trim(&rec[cols[2]]))?,
        bytes: uint(&rec[cols[3]])?,
        packets: uint(&rec[cols[4]])?,
        count: uint(&rec[cols[5]])?,
    })
}

/// A reader that remembers the last byte it passed on.
struct LastByte<R> {
    inner: R,
    last: Option<u8>,
}

impl<R: Read> Read for LastByte<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.last = Some(buf[n - 1]);
        }
        Ok(n)
    }
}

/// `input` without its leading UTF-8 byte order marks, however its reads
/// are cut. csv strips one BOM only when its first read holds all three
/// bytes, and reads a file as empty when that first read is exactly the BOM;
/// so csv never sees one here (both found by `tools/src/bin/fuzz_nemea/main.rs`).
fn without_bom<R: Read>(mut input: R) -> std::io::Result<impl Read> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    loop {
        let mut head = [0u8; 3];
        let mut n = 0;
        while n < head.len() {
            match input.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if head[..n] != *BOM {
            return Ok(std::io::Cursor::new(head[..n].to_vec()).chain(input));
        }
    }
}

/// Parses NEMEA CSV from `input`, accepting rows of any time from 1970 to
/// the year 9999 ([`TimeWindow::default`]).
pub fn parse<R: Read>(input: R) -> Result<Parsed, ParseError> {
    parse_within(input, TimeWindow::default())
}

/// Parses NEMEA CSV from `input`; rows dated outside `window` are malformed.
///
/// A last line without a line end is left out and flagged in
/// [`Parsed::unterminated`] (not counted as malformed): the logger may still
/// be writing it, and a cut row (`17` read as `1`) must not count.
pub fn parse_within<R: Read>(input: R, window: TimeWindow) -> Result<Parsed, ParseError> {
    let input = without_bom(input).map_err(ParseError::Io)?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(LastByte {
            inner: input,
            last: None,
        });
    let mut rec = csv::ByteRecord::new();
    if !rdr.read_byte_record(&mut rec)? {
        return Err(ParseError::Empty);
    }
    let mut cols = header_columns(&rec)?;
    let mut width = rec.len();
    let mut out = Parsed::default();
    let mut last_was_row = false;
    let mut last_was_malformed = false;
    // Whether that last malformed record added its line to the list.
    let mut last_listed = false;
    while rdr.read_byte_record(&mut rec)? {
        let line = rec.position().map_or(0, |p| p.line());
        last_was_row = false;
        last_was_malformed = false;
        if let Some(r) = row(&rec, &cols, width) {
            if window.contains(r.first) && window.contains(r.last) {
                out.rows.push(r);
                last_was_row = true;
            } else {
                out.out_of_window += 1;
                out.skip(line);
            }
            continue;
        }
        let looks_like_header = rec
            .get(0)
            .and_then(|f| trim(f).first())
            .is_some_and(|c| c.is_ascii_alphabetic());
        if looks_like_header {
            if let Ok(c) = header_columns(&rec) {
                cols = c;
                width = rec.len();
                out.repeated_headers += 1;
                continue;
            }
        }
        last_listed = out.skip(line);
        last_was_malformed = true;
    }
    let unterminated = !matches!(rdr.get_ref().last, Some(b'\n' | b'\r'));
    if unterminated && last_was_row {
        out.rows.pop();
        out.unterminated = true;
    } else if unterminated && last_was_malformed {
        // A cut row that does not parse yet is the same normal state.
        out.malformed -= 1;
        if last_listed {
            out.malformed_lines.pop();
        }
        out.unterminated = true;
    }
    out.rows.sort_unstable();
    let before = out.rows.len();
    out.rows.dedup();
    out.duplicates = before - out.rows.len();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "uint64 BYTES,time TIME_FIRST,time TIME_LAST,uint32 COUNT,uint32 PACKETS,uint8 PROTOCOL\n";

    fn p(s: &str) -> Result<Parsed, ParseError> {
        parse(s.as_bytes())
    }

    #[test]
    fn an_unterminated_last_line_is_not_counted() {
        let s = format!(
            "{HEADER}10,2018-08-19T19:00:00,2018-08-19T20:00:00,1,2,17\n\
             20,2018-08-19T20:00:00,2018-08-19T21:00:00,3,4,1"
        );
        let d = p(&s).unwrap();
        assert_eq!(d.rows.len(), 1);
        assert_eq!(d.rows[0].protocol, 17);
        assert_eq!((d.malformed, d.unterminated), (0, true));
        // A cut row that does not parse yet (`2018-08-19T2`) is not malformed either.
        let cut = &s[..s.len() - 30];
        let d = p(cut).unwrap();
        assert_eq!((d.rows.len(), d.malformed, d.unterminated), (1, 0, true));
        // The same row with its line end counts.
        let d = p(&format!("{s}\n")).unwrap();
        assert_eq!((d.rows.len(), d.malformed, d.unterminated), (2, 0, false));
        // A stray `\r` ends a malformed record inside the last line (line 4):
        // that record counts, the cut rest after it does not, and line 4
        // stays listed (found by tools/src/bin/fuzz_nemea/main.rs).
        let d = p(&format!("{s}\nbad,1\rbad,2")).unwrap();
        assert_eq!((d.rows.len(), d.malformed, d.unterminated), (2, 1, true));
        assert_eq!(d.malformed_lines, [4]);
    }

    #[test]
    fn basic_rows_sorted_by_protocol_and_time() {
        let s = format!(
            "{HEADER}10,2018-08-19T19:00:00,2018-08-19T20:00:00,1,2,17\n\
             20,2018-08-19T18:00:00.5,2018-08-19T19:00:00,3,4,6\n\
             30,2018-08-19T17:00:00,2018-08-19T18:00:00,5,6,17\n"
        );
        let d = p(&s).unwrap();
        assert_eq!(d.rows.len(), 3);
        assert_eq!(d.malformed, 0);
        assert_eq!(d.rows[0].protocol, 6);
        assert_eq!(d.rows[0].bytes, 20);
        assert_eq!((d.rows[0].count, d.rows[0].packets), (3, 4));
        assert_eq!(d.rows[1].bytes, 30);
        assert_eq!(d.rows[2].bytes, 10);
    }

    #[test]
    fn columns_in_any_order_with_extras() {
        let s = "uint8 PROTOCOL,string NOTE,uint32 PACKETS,uint32 COUNT,time TIME_LAST,time TIME_FIRST,uint64 BYTES\n\
                 6,hello,4,3,2018-08-19 19:00:00Z,2018-08-19 18:00:00Z,99\n";
        let d = p(s).unwrap();
        assert_eq!(
            d.rows,
            vec![Row {
                protocol: 6,
                first: parse_timestamp(b"2018-08-19T18:00:00").unwrap(),
                last: parse_timestamp(b"2018-08-19T19:00:00").unwrap(),
                bytes: 99,
                packets: 4,
                count: 3,
            }]
        );
    }

    #[test]
    fn malformed_rows_counted_with_line_numbers() {
        let s = format!(
            "{HEADER}1,2018-08-19T18:00:00,2018-08-19T19:00:00,1,1,6\n\
             -5,2018-08-19T18:00:00,2018-08-19T19:00:00,1,1,6\n\
             1,2018-08-19T18:00:00,2018-08-19T19:00:00,1,1\n\
             1,yesterday,2018-08-19T19:00:00,1,1,6\n\
             1,2018-08-19T18:00:00,2018-08-19T19:00:00,1,1,300\n\
             x1,2018-08-19T18:00:00,2018-08-19T19:00:00,1,1,6\n\
             99999999999999999999999,2018-08-19T18:00:00,2018-08-19T19:00:00,1,1,6\n"
        );
        let d = p(&s).unwrap();
        assert_eq!(d.rows.len(), 1);
        assert_eq!(d.malformed, 6);
        assert_eq!(d.malformed_lines, vec![3, 4, 5, 6, 7]);
    }

    #[test]
    fn repeated_header_and_duplicates() {
        let r = "1,2018-08-19T18:00:00,2018-08-19T19:00:00,1,1,6\n";
        let reordered = "uint8 PROTOCOL,uint64 BYTES,time TIME_FIRST,time TIME_LAST,uint32 COUNT,uint32 PACKETS\n\
                         6,2,2018-08-19T20:00:00,2018-08-19T21:00:00,1,1\n";
        let s = format!("{HEADER}{r}{HEADER}{r}{reordered}");
        let d = p(&s).unwrap();
        assert_eq!(d.repeated_headers, 2);
        assert_eq!(d.duplicates, 1);
        assert_eq!(d.malformed, 0);
        assert_eq!(d.rows.len(), 2);
        assert_eq!(d.rows[1].bytes, 2);
    }

    #[test]
    fn empty_and_headerless_files() {
        assert!(matches!(p(""), Err(ParseError::Empty)));
        assert!(matches!(
            p("1,2,3\n"),
            Err(ParseError::MissingFields(f)) if f.len() == 6
        ));
        assert!(matches!(
            p("uint64 BYTES,time TIME_FIRST\n"),
            Err(ParseError::MissingFields(f)) if f == ["PROTOCOL", "TIME_LAST", "PACKETS", "COUNT"]
        ));
        assert_eq!(p(HEADER).unwrap().rows.len(), 0);
    }

    #[test]
    fn rows_outside_the_window_are_malformed() {
        let t = |s: &str| parse_timestamp(s.as_bytes()).unwrap();
        let s = format!(
            "{HEADER}1,2026-01-02T02:00:00,2026-01-02T03:00:00,1,1,6\n\
             2,9999-12-31T23:30:00,9999-12-31T23:59:00,1,1,6\n\
             3,1969-12-31T23:00:00,1970-01-01T00:00:00,1,1,6\n\
             4,2026-01-02T04:00:00,2026-01-02T04:00:00,1,1,6\n\
             5,2026-01-02T04:00:00,2026-01-02T04:00:00.000001,1,1,6\n"
        );
        // now = 03:00 UTC: up to 04:00 accepted (TIME_FIRST and TIME_LAST).
        let w = TimeWindow::until(t("2026-01-02T03:00:00"));
        assert_eq!(w.not_after, t("2026-01-02T04:00:00"));
        let d = parse_within(s.as_bytes(), w).unwrap();
        let bytes: Vec<u64> = d.rows.iter().map(|r| r.bytes).collect();
        assert_eq!(bytes, [1, 4]);
        assert_eq!((d.malformed, d.out_of_window), (3, 3));
        assert_eq!(d.malformed_lines, [3, 4, 6]);
        // Without a clock only the year-9999 row stays in, pre-1970 is out.
        let d = parse(s.as_bytes()).unwrap();
        assert_eq!((d.rows.len(), d.out_of_window), (4, 1));
        assert_eq!(d.malformed_lines, [4]);
    }

    #[test]
    fn a_stray_carriage_return_names_its_line_once() {
        let s = format!("{HEADER}1,2018-08-19T18:00:00,2018-08-19T19:00:00,1\r1,6\n");
        let d = p(&s).unwrap();
        assert_eq!((d.malformed, d.malformed_lines.clone()), (2, vec![2]));
    }

    /// Hands out at most `.1` bytes per read.
    struct Chunked<'a>(&'a [u8], usize);

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn byte_order_marks_are_dropped_however_the_reads_are_cut() {
        let bom = "\u{feff}";
        for size in 1..=4 {
            let chunked = |s: &str| parse(Chunked(s.as_bytes(), size));
            assert!(matches!(p(bom), Err(ParseError::Empty)));
            assert!(matches!(chunked(bom), Err(ParseError::Empty)), "{size}");
            for boms in [bom.to_string(), bom.repeat(2)] {
                let s = format!("{boms}{HEADER}1,2018-08-19T18:00:00,2018-08-19T19:00:00,1,1,6\n");
                let whole = p(&s).unwrap();
                assert_eq!((whole.rows.len(), whole.malformed), (1, 0));
                assert_eq!(chunked(&s).unwrap(), whole, "{size}");
            }
        }
        // Short inputs are kept whole.
        assert!(matches!(p("ab"), Err(ParseError::MissingFields(_))));
    }

    #[test]
    fn crlf_and_blank_lines() {
        let s = HEADER.replace('\n', "\r\n")
            + "\r\n1,2018-08-19T18:00:00,2018-08-19T19:00:00,1,1,6\r\n\r\n";
        let d = p(&s).unwrap();
        assert_eq!((d.rows.len(), d.malformed), (1, 0));
    }
}
