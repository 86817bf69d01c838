//! The library's errors and warnings in the command line's words: where
//! the library says "every series was required" or counts "daily origins",
//! the binary names `--complete-only` and `--evaluate-days`. Everything
//! printed or put in the summary about a tag goes through here.

use telescope_core::netprofile::time::HOUR_US;
use telescope_core::netprofile::{self as np, Metric, NoScoreReason, Protocol};

/// A tag's (or the run's) error as printed.
pub fn error(e: &np::Error) -> String {
    match e {
        np::Error::Incomplete { missing } => {
            let missing: Vec<String> = missing.iter().map(ToString::to_string).collect();
            format!(
                "incomplete profile not written (--complete-only): no forecast for {}",
                missing.join(", ")
            )
        }
        e => e.to_string(),
    }
}

/// A tag's warning as printed.
pub fn warning(w: &np::Warning) -> String {
    match w {
        np::Warning::FewOrigins { asked, .. } => format!("--evaluate-days {asked}: {w}"),
        np::Warning::NoScore {
            protocol,
            metric,
            reason,
        } => format!("{protocol} {metric}: no score: {}", no_score(reason)),
        w => w.to_string(),
    }
}

/// Why `protocol` `metric` has no forecast (or no score), if `w` says so
/// (see `Warning::left_out_reason`).
pub fn left_out_reason(w: &np::Warning, protocol: Protocol, metric: Metric) -> Option<String> {
    match w {
        np::Warning::NoScore {
            protocol: p,
            metric: m,
            reason,
        } if (*p, *m) == (protocol, metric) => Some(format!("no score: {}", no_score(reason))),
        w => w.left_out_reason(protocol, metric),
    }
}

/// Why a series got no score with `--evaluate`.
fn no_score(reason: &NoScoreReason) -> String {
    match reason {
        NoScoreReason::ShortHistory { needed, .. } => format!(
            "{reason} (data must span {:.0} h + --evaluate-days)",
            *needed as f64 / HOUR_US as f64
        ),
        reason => reason.to_string(),
    }
}
