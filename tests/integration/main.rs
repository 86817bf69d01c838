//! Integration tests of the `flowtuple-series` and `netprofile` binaries.

mod flowtuple;
mod netprofile;
mod netprofile_ops;
mod util;
