//! netprofile as its tests run it: a fixed clock ([`NOW`], through
//! `NETPROFILE_NOW`), UTC, the data root last.

use std::path::Path;
use std::process::{Command, Output};

use crate::util::{bin, output};

/// The clock of the netprofile tests.
pub const NOW: &str = "2026-01-02T03:04:05.123456";
/// The profile a run at [`NOW`] writes into each tag.
pub const PROFILE: &str = "profile-2026-01-02T03:04:05.123456.json";
/// An hour in microseconds.
pub const HOUR_US: i64 = 3_600_000_000;

/// `netprofile ARGS ROOT` at `now` (`NETPROFILE_NOW`), `TZ=UTC`.
pub fn command(root: &Path, now: &str, args: &[&str]) -> Command {
    let mut c = bin("netprofile");
    c.env("NETPROFILE_NOW", now)
        .env("TZ", "UTC")
        .args(args)
        .arg(root);
    c
}

/// [`command`] run to its end, its stderr checked with
/// [`crate::util::assert_plain_stderr`].
pub fn run(root: &Path, now: &str, args: &[&str]) -> Output {
    output(&mut command(root, now, args))
}
