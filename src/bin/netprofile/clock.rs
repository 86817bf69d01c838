//! The run's clock: read once, from `NETPROFILE_NOW` (tests) or the system.

use anyhow::bail;
use chrono::{LocalResult, Offset, TimeZone};
use telescope_core::netprofile::time::parse_timestamp;

/// Environment variable overriding the run's time (for tests).
const NOW_ENV: &str = "NETPROFILE_NOW";

/// The run's clock, read once, in µs since the epoch.
pub struct Clock {
    /// Local wall-clock time (names the profiles).
    pub local: i64,
    /// The same instant in UTC (bounds the rows' times, which are UTC).
    pub utc: i64,
}

/// The run's clock: `NETPROFILE_NOW` (local time) or the system clock.
pub fn now() -> anyhow::Result<Clock> {
    match std::env::var(NOW_ENV) {
        Ok(s) => match parse_timestamp(s.as_bytes()) {
            Some(local) => Ok(Clock {
                local,
                utc: local_to_utc(local),
            }),
            None => bail!("{NOW_ENV}={s:?}: expected YYYY-MM-DDTHH:MM:SS[.ffffff]"),
        },
        Err(_) => {
            let t = chrono::Local::now();
            Ok(Clock {
                local: t.naive_local().and_utc().timestamp_micros(),
                utc: t.timestamp_micros(),
            })
        }
    }
}

/// The UTC instant of a local wall-clock time (µs). A repeated local time
/// (clocks going back) is its later instant; a skipped one (clocks going
/// forward) uses the offset from before the jump.
fn local_to_utc(local: i64) -> i64 {
    let Some(naive) = chrono::DateTime::from_timestamp_micros(local).map(|t| t.naive_utc()) else {
        return local;
    };
    let seconds = |o: chrono::FixedOffset| i64::from(o.local_minus_utc());
    let offset = match chrono::Local.from_local_datetime(&naive) {
        LocalResult::Single(t) => seconds(t.offset().fix()),
        LocalResult::Ambiguous(a, b) => seconds(a.offset().fix()).min(seconds(b.offset().fix())),
        LocalResult::None => {
            let before = naive - chrono::TimeDelta::days(1);
            seconds(chrono::Local.offset_from_utc_datetime(&before).fix())
        }
    };
    local - offset * 1_000_000
}
