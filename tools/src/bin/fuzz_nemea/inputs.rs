//! The fuzz driver's inputs: the seed corpus, mutations, time windows.

use std::fs;

use telescope_core::netprofile::time::{parse_timestamp, MAX_TIMESTAMP};
use telescope_core::netprofile::TimeWindow;
use telescope_test_support::rng::{Random, SplitMix64 as Rng};

/// The seed corpus: the first lines of the fixtures' data.csv files and of
/// the year-10000 reproducer, and small hand-made inputs.
pub fn corpus() -> Vec<Vec<u8>> {
    const HEADER: &str =
        "uint64 BYTES,time TIME_FIRST,time TIME_LAST,uint32 COUNT,uint32 PACKETS,uint8 PROTOCOL\n";
    let mut out: Vec<Vec<u8>> = vec![
        HEADER.into(),
        format!("{HEADER}10,2018-08-19T19:00:00,2018-08-19T20:00:00,1,2,17\n").into(),
        format!(
            "\u{feff}{}6,2018-08-19 18:00:00Z,2018-08-19 19:00:00.5Z,3,4,6\r\n\"7\",2018-08-19T18:00:00.123456789,2018-08-19T19:00:00,1,1,1\r\n",
            HEADER.replace('\n', "\r\n")
        )
        .into(),
        format!(
            "{HEADER}1,2018-08-19T18:00:00,2018-08-19T19:00:00,1,1,6\n\
             uint8 PROTOCOL,string NOTE,uint64 BYTES,time TIME_FIRST,time TIME_LAST,uint32 COUNT,uint32 PACKETS\n\
             17,x,5,2018-08-19T19:00:00,2018-08-19T20:00:00,1,1\n\
             1,2018-08-19T18:00:00,2018-08-19T19:00:00,1,1,6"
        )
        .into(),
    ];
    let root = telescope_test_support::workspace_root().join("testdata/netprofile");
    let mut files = Vec::new();
    for sub in ["root", "broken"] {
        if let Ok(dir) = fs::read_dir(root.join(sub)) {
            files.extend(dir.flatten().map(|e| e.path().join("data.csv")));
        }
    }
    files.push(root.join("year10000.csv"));
    files.sort();
    for f in files {
        if let Ok(bytes) = fs::read(&f) {
            // The first 12 and 60 lines: small inputs run fast.
            for lines in [12, 60] {
                let cut = bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, &b)| b == b'\n')
                    .nth(lines)
                    .map_or(bytes.len(), |(i, _)| i + 1);
                out.push(bytes[..cut].to_vec());
            }
        }
    }
    out
}

const TOKENS: &[&str] = &[
    ",",
    "\n",
    "\r\n",
    "\r",
    "\"",
    ",,",
    "\u{feff}",
    "uint8 PROTOCOL",
    "time TIME_FIRST",
    "time TIME_LAST",
    "uint64 BYTES",
    "uint32 PACKETS",
    "uint32 COUNT",
    "9999-12-31T23:59:59.999999",
    "9999-12-31T23:30:00",
    "1969-12-31T23:59:59",
    "1970-01-01T00:00:00",
    "0000-01-01T00:00:00",
    "2018-02-29T00:00:00",
    "2016-02-29 23:59:59Z",
    "2026-01-02T03:04:05",
    ".123456789",
    ".1234567890",
    "Z",
    "ZZ",
    "18446744073709551615",
    "18446744073709551616",
    "255",
    "256",
    "-1",
    "0",
    " ",
    "\t",
    "\0",
    "\u{ff}",
];

/// Byte offsets where lines start.
fn line_starts(d: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            d.iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .filter(|&i| i <= d.len())
        .collect()
}

pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>], max_len: usize) {
    for _ in 0..1 + rng.index(6) {
        let len = data.len();
        match rng.index(11) {
            0 if len > 0 => {
                let i = rng.index(len);
                data[i] ^= 1 << rng.index(8);
            }
            1 if len > 0 => {
                let i = rng.index(len);
                data[i] = b",\n\r\"-T:. Z0123456789\xEF\xBB\xBF\x00\xFFx"[rng.index(23)];
            }
            2 | 3 => {
                let t = TOKENS[rng.index(TOKENS.len())].as_bytes();
                let i = rng.index(len + 1);
                data.splice(i..i, t.iter().copied());
            }
            4 if len > 0 => {
                let i = rng.index(len);
                let n = 1 + rng.index((len - i).min(64));
                data.drain(i..i + n);
            }
            5 if len > 0 => {
                let i = rng.index(len);
                let n = 1 + rng.index((len - i).min(256));
                let chunk = data[i..i + n].to_vec();
                let at = rng.index(len + 1);
                data.splice(at..at, chunk);
            }
            6 => {
                // A line of another input at a line start here.
                let other = &corpus[rng.index(corpus.len())];
                let starts = line_starts(other);
                let s = starts[rng.index(starts.len())];
                let e = other[s..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(other.len(), |p| s + p + 1);
                let here = line_starts(data);
                let at = here[rng.index(here.len())];
                data.splice(at..at, other[s..e].iter().copied());
            }
            7 if len > 0 => data.truncate(rng.index(len)),
            8 => {
                // Swap two lines.
                let starts = line_starts(data);
                if starts.len() > 2 {
                    let a = rng.index(starts.len() - 1);
                    let b = rng.index(starts.len() - 1);
                    let (a, b) = (a.min(b), a.max(b));
                    if a != b {
                        let la = data[starts[a]..starts[a + 1]].to_vec();
                        let lb = data[starts[b]..starts[b + 1]].to_vec();
                        data.splice(starts[b]..starts[b + 1], la);
                        data.splice(starts[a]..starts[a + 1], lb);
                    }
                }
            }
            9 => {
                // Replace a run of digits with another number.
                if len > 0 {
                    let i = rng.index(len);
                    if let Some(p) = data[i..].iter().position(u8::is_ascii_digit) {
                        let s = i + p;
                        let e = data[s..]
                            .iter()
                            .position(|b| !b.is_ascii_digit())
                            .map_or(len, |q| s + q);
                        let n = match rng.index(3) {
                            0 => rng.index(10).to_string(),
                            1 => rng.next_u64().to_string(),
                            _ => format!("{}{}", rng.next_u64(), rng.next_u64()),
                        };
                        data.splice(s..e, n.bytes());
                    }
                }
            }
            _ => {
                let i = rng.index(len + 1);
                data.insert(i, rng.next_u64() as u8);
            }
        }
    }
    data.truncate(max_len);
}

/// A random window: none, or up to one of three times.
pub fn window_for(rng: &mut Rng) -> TimeWindow {
    let t = |s: &str| parse_timestamp(s.as_bytes()).unwrap();
    match rng.index(4) {
        0 => TimeWindow::default(),
        1 => TimeWindow::until(t("2018-08-20T00:00:00")),
        2 => TimeWindow::until(t("2026-01-02T03:04:05")),
        _ => TimeWindow::until(MAX_TIMESTAMP),
    }
}
