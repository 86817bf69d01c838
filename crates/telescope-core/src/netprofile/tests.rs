//! The library's messages name no command-line flag (the binary maps the
//! ones about an option to its flags).

use std::io;
use std::path::PathBuf;

use super::*;

/// Every error and warning that concerns an option or a mode of a run,
/// with the text the library gives (worked out by hand from the messages'
/// formats).
fn messages() -> Vec<(String, &'static str)> {
    let tcp_bytes = SeriesId {
        protocol: Protocol::TCP,
        metric: Metric::Bytes,
    };
    let udp_flows = SeriesId {
        protocol: Protocol::UDP,
        metric: Metric::FlowCount,
    };
    let short = NoScoreReason::ShortHistory {
        span: 46 * 3_600_000_000 + 1_080_000_000,
        needed: 48 * 3_600_000_000,
        origins: 20,
    };
    vec![
        (
            Error::Incomplete {
                missing: vec![tcp_bytes, udp_flows],
            }
            .to_string(),
            "incomplete profile not written (every series was required): \
             no forecast for TCP bytes, UDP flow_count",
        ),
        (
            Warning::FewOrigins {
                series: vec![tcp_bytes],
                used: 2,
                asked: 20,
                missed: Missed {
                    short: 18,
                    no_actuals: 0,
                    failed: 0,
                },
                span: 3 * 86_400_000_000,
            }
            .to_string(),
            "TCP bytes scored at 2 of 20 daily origins (18 had less than 48 h of rows \
             before them); the rows span 3.0 days",
        ),
        (
            Warning::NoScore {
                protocol: Protocol::TCP,
                metric: Metric::Bytes,
                reason: short.clone(),
            }
            .to_string(),
            "TCP bytes: no score: history shorter than an origin needs: at most 46.3 h \
             of rows before the last of the 20 origin(s), at least 48 h needed",
        ),
        (
            Error::Stale {
                last: None,
                now_utc: 0,
                max_age: 3 * 3_600_000_000,
            }
            .to_string(),
            "no rows, more than 3 h before the run (1970-01-01T00:00:00 UTC): \
             is the logger running? nothing written",
        ),
        (
            Warning::Prune {
                path: PathBuf::from("t/profile-x.json"),
                source: io::Error::other("busy"),
            }
            .to_string(),
            "cannot remove old profile t/profile-x.json: busy",
        ),
    ]
}

#[test]
fn messages_about_options_name_no_flag() {
    for (text, expected) in messages() {
        assert_eq!(text, expected);
        assert!(!text.contains("--"), "a flag in {text:?}");
    }
}
