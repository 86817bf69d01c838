//! Timestamps: NEMEA times in, Python `isoformat()` text out.
//!
//! Timestamps are `i64` microseconds since 1970-01-01T00:00:00 (UTC for data,
//! local wall-clock for the run's `now`).

/// Microseconds in one hour.
pub const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;
/// 9999-12-31T23:59:59.999999, the last instant with a 4-digit year (the
/// last one Python's `datetime.fromisoformat` reads).
pub const MAX_TIMESTAMP: i64 = 253_402_300_800_000_000 - 1;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Date `(year, month, day)` of a day number since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() {
        return None;
    }
    b.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.f]` (separator `T` or a space, 0 to 9
/// fractional digits, optional trailing `Z`) into microseconds since the
/// epoch. Digits past the microsecond are truncated. Returns `None` when the
/// text is not such a time or names an impossible date.
pub fn parse_timestamp(s: &[u8]) -> Option<i64> {
    let s = s.strip_suffix(b"Z").unwrap_or(s);
    if s.len() < 19 {
        return None;
    }
    let (head, frac) = s.split_at(19);
    if head[4] != b'-'
        || head[7] != b'-'
        || !matches!(head[10], b'T' | b't' | b' ')
        || head[13] != b':'
        || head[16] != b':'
    {
        return None;
    }
    let y = digits(&head[0..4])?;
    let mo = digits(&head[5..7])?;
    let d = digits(&head[8..10])?;
    let h = digits(&head[11..13])?;
    let mi = digits(&head[14..16])?;
    let sec = digits(&head[17..19])?;
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59
    {
        return None;
    }
    let mut us = 0i64;
    if !frac.is_empty() {
        let f = frac.strip_prefix(b".")?;
        if f.is_empty() || f.len() > 9 {
            return None;
        }
        let v = digits(f)?;
        us = if f.len() <= 6 {
            v * 10i64.pow(6 - f.len() as u32)
        } else {
            v / 10i64.pow(f.len() as u32 - 6)
        };
    }
    Some(days_from_civil(y, mo, d) * DAY_US + ((h * 60 + mi) * 60 + sec) * 1_000_000 + us)
}

/// Formats microseconds since the epoch like Python's `isoformat()`:
/// `YYYY-MM-DDTHH:MM:SS.ffffff`, the fraction left out when zero.
pub fn format_timestamp(us: i64) -> String {
    let days = us.div_euclid(DAY_US);
    let rem = us.rem_euclid(DAY_US);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / 1_000_000;
    let frac = rem % 1_000_000;
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:06}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<i64> {
        parse_timestamp(s.as_bytes())
    }

    #[test]
    fn epoch_and_known_values() {
        assert_eq!(p("1970-01-01T00:00:00"), Some(0));
        // date -u -d 2018-08-19T18:48:34 +%s = 1534704514
        assert_eq!(p("2018-08-19T18:48:34.098"), Some(1_534_704_514_098_000));
        assert_eq!(p("2000-02-29 00:00:00"), Some(951_782_400_000_000));
        assert_eq!(p("1969-12-31T23:59:59.5"), Some(-500_000));
    }

    #[test]
    fn fraction_digits_space_and_z() {
        let base = p("2018-08-19T18:48:34").unwrap();
        for (frac, add) in [
            ("", 0),
            (".1", 100_000),
            (".12", 120_000),
            (".123", 123_000),
            (".1234", 123_400),
            (".12345", 123_450),
            (".123456", 123_456),
            (".1234567", 123_456),
            (".12345678", 123_456),
            (".123456789", 123_456),
        ] {
            for sep in ["T", " "] {
                for z in ["", "Z"] {
                    let s = format!("2018-08-19{sep}18:48:34{frac}{z}");
                    assert_eq!(p(&s), Some(base + add), "{s}");
                }
            }
        }
    }

    #[test]
    fn rejects_bad_times() {
        for s in [
            "",
            "2018-08-19",
            "2018-08-19T18:48",
            "2018-13-01T00:00:00",
            "2018-02-29T00:00:00",
            "2018-08-19T24:00:00",
            "2018-08-19T18:48:34.",
            "2018-08-19T18:48:34.1234567890",
            "2018-08-19T18:48:34+01:00",
            "2018-08-19X18:48:34",
            "20a8-08-19T18:48:34",
            "2018-08-19T18:48:34ZZ",
        ] {
            assert_eq!(p(s), None, "{s}");
        }
    }

    #[test]
    fn isoformat_with_and_without_fraction() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00");
        assert_eq!(
            format_timestamp(1_534_704_514_098_000),
            "2018-08-19T18:48:34.098000"
        );
        assert_eq!(format_timestamp(-500_000), "1969-12-31T23:59:59.500000");
        assert_eq!(
            format_timestamp(951_782_400_000_001),
            "2000-02-29T00:00:00.000001"
        );
    }

    #[test]
    fn round_trips() {
        for s in [
            "2026-11-22T17:25:23.123456",
            "2026-11-22T17:25:23",
            "1999-12-31T23:59:59.999999",
            "2024-02-29T12:00:00.000010",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59.999999",
        ] {
            assert_eq!(format_timestamp(p(s).unwrap()), s);
        }
        // date -u -d 10000-01-01 +%s = 253402300800
        assert_eq!(p("9999-12-31T23:59:59.999999"), Some(MAX_TIMESTAMP));
        let mut us = -3 * DAY_US;
        while us < 400 * DAY_US * 60 {
            assert_eq!(p(&format_timestamp(us)), Some(us));
            us += 7_777_777_777_777 / 1000 + 13;
        }
    }
}
