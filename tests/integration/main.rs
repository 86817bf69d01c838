//! Integration tests of the `flowtuple-series` and `netprofile` binaries.

mod flowtuple;
mod flowtuple_input;
mod netprofile;
mod netprofile_hardening;
mod util;
