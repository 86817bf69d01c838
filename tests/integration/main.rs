//! Integration tests of the `flowtuple-series` and `netprofile` binaries.

mod broker;
mod cli_extras;
mod flowtuple;
mod flowtuple_input;
mod kafka;
mod netprofile;
mod netprofile_hardening;
mod netprofile_ops;
mod netprofile_plot;
mod util;
