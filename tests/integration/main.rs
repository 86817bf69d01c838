//! Integration tests of the `flowtuple-series` and `netprofile` binaries.

mod broker;
mod flowtuple;
mod kafka;
mod netprofile;
mod util;
