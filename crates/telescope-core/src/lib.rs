//! telescope-core: the logic behind the `telescope` command-line tools.
//!
//! - [`flowtuple`]: streams corsaro3 flowtuple Avro files into report-style
//!   time series (`flowtuple-series`).
//! - [`forecast`]: a native additive seasonal-trend forecaster.
//! - [`netprofile`]: hourly NEMEA aggregates to 24-hour traffic profiles
//!   (`netprofile`).
//!
//! The library knows nothing of command lines, stdout or the clock: callers
//! pass those in.
#![deny(missing_docs)]

pub mod flowtuple;
pub mod forecast;
pub mod netprofile;
