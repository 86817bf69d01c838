//! Integration tests of the `flowtuple-series` and `netprofile` binaries.

mod backfill;
mod broker;
mod cli_extras;
mod flowtuple;
mod flowtuple4;
mod flowtuple_input;
mod ftconvert;
mod kafka;
mod netprofile;
mod netprofile_hardening;
mod netprofile_ops;
mod netprofile_plot;
mod remote;
mod spill;
mod util;
