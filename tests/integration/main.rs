//! Integration tests of the `flowtuple-series` and `netprofile` binaries.

mod cli_extras;
mod flowtuple;
mod netprofile;
mod netprofile_ops;
mod netprofile_plot;
mod util;
