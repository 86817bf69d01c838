//! Parsing of NEMEA logger CSV (`data.csv`).
//!
//! The first line is a typed header such as
//! `uint64 BYTES,time TIME_FIRST,time TIME_LAST,uint32 COUNT,uint32 PACKETS,uint8 PROTOCOL`;
//! columns are found by field name in any order and extra columns are
//! ignored. Repeated header lines (the logger rewrites one on restart) are
//! skipped and may reorder the columns. Malformed rows are counted and
//! skipped; exact duplicate rows count once.

use std::io::Read;

use super::time::parse_timestamp;

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
    /// Line numbers (1-based) of the first malformed rows.
    pub malformed_lines: Vec<u64>,
    /// Exact duplicate rows dropped.
    pub duplicates: usize,
    /// Repeated header lines skipped.
    pub repeated_headers: usize,
    /// The last line had no line end and was not counted (the logger may
    /// still be writing it; its normal state between rows).
    pub unterminated: bool,
}

/// Why a file could not be parsed at all.
#[derive(Debug, thiserror::Error)]
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

/// Parses NEMEA CSV from `input`.
///
/// A last line without a line end is left out and flagged in
/// [`Parsed::unterminated`] (not counted as malformed): the logger may still
/// be writing it, and a cut row (`17` read as `1`) must not count.
pub fn parse<R: Read>(input: R) -> Result<Parsed, ParseError> {
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
    let mut last_line = 0;
    let mut last_was_row = false;
    let mut last_was_malformed = false;
    while rdr.read_byte_record(&mut rec)? {
        let line = rec.position().map_or(0, |p| p.line());
        last_line = line;
        last_was_row = false;
        last_was_malformed = false;
        if let Some(r) = row(&rec, &cols, width) {
            out.rows.push(r);
            last_was_row = true;
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
        out.malformed += 1;
        last_was_malformed = true;
        if out.malformed_lines.len() < MAX_LINE_NUMBERS {
            out.malformed_lines.push(line);
        }
    }
    let unterminated = !matches!(rdr.get_ref().last, Some(b'\n' | b'\r'));
    if unterminated && last_was_row {
        out.rows.pop();
        out.unterminated = true;
    } else if unterminated && last_was_malformed {
        // A cut row that does not parse yet is the same normal state.
        out.malformed -= 1;
        if out.malformed_lines.last() == Some(&last_line) {
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
    fn crlf_and_blank_lines() {
        let s = HEADER.replace('\n', "\r\n")
            + "\r\n1,2018-08-19T18:00:00,2018-08-19T19:00:00,1,1,6\r\n\r\n";
        let d = p(&s).unwrap();
        assert_eq!((d.rows.len(), d.malformed), (1, 0));
    }
}
