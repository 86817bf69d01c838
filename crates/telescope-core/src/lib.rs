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
//!
//! For example, merging the runs of repeated timestamps of several
//! flowtuple files, given in any order, and printing every interval in
//! ascending time as CSV:
//!
//! ```
//! use std::convert::Infallible;
//! use telescope_core::flowtuple::{self, Aggregator, Format, Formatter, Mode, Renderer};
//! use telescope_core::flowtuple::SeriesOptions;
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/flowtuple");
//! let options = SeriesOptions::new(Mode::Unfiltered);
//! let mut merging = Aggregator::merging(&options, 2);
//! for name in ["minute1.avro", "minute0.avro"] {
//!     let file = std::fs::File::open(format!("{dir}/{name}"))?;
//!     // A merging aggregator hands out nothing before it is finished.
//!     flowtuple::feed(file, &options, 2, &mut merging, |_| Ok::<_, Infallible>(()))?;
//!     merging.end_input()?;
//! }
//! let formatter = Formatter::new(Format::Csv, "flowtuple")?;
//! let mut csv = formatter.header().to_vec();
//! let mut renderer = Renderer::new(formatter, &options);
//! let mut times = Vec::new();
//! merging.finish_merged(&mut |interval| {
//!     times.push(interval.time);
//!     renderer.render(interval, &mut csv);
//!     Ok::<_, Infallible>(())
//! })?;
//! assert_eq!(times, [15375180, 15375247]);
//! assert!(csv.starts_with(b"time,class,key,"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod flowtuple;
pub mod forecast;
pub mod netprofile;
