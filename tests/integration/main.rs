//! Integration tests of the `flowtuple-series` and `netprofile` binaries.

// A test reads best as one scenario from setup to the last assertion.
#![allow(clippy::too_many_lines)]

mod backfill;
mod backfill_script;
mod backfill_slurm;
mod broker;
mod cli_extras;
mod docs;
mod flowtuple;
mod flowtuple4;
mod flowtuple4_files;
mod flowtuple_input;
mod kafka;
mod key_tables;
mod netprofile;
mod netprofile_check;
mod netprofile_cron;
mod netprofile_hardening;
mod netprofile_html;
mod netprofile_ops;
mod netprofile_outputs;
mod netprofile_plot;
mod remote;
mod slurm;
mod spill;
mod support;
mod trust;
mod util;
