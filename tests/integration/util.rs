//! Small helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Path of a file under the repository's `testdata/`.
pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

/// A command for one of this package's binaries.
pub fn bin(name: &str) -> Command {
    match name {
        "flowtuple-series" => Command::new(env!("CARGO_BIN_EXE_flowtuple-series")),
        "netprofile" => Command::new(env!("CARGO_BIN_EXE_netprofile")),
        other => panic!("unknown binary {other}"),
    }
}

/// Stdout and stderr of a finished command as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
