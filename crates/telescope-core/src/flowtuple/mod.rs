//! corsaro3 flowtuple Avro files to report-plugin style time series.
//!
//! The public face: [`series`] reads one file (plain, or gzip/bzip2/zstd
//! wrapped; flowtuple v3 or ftconvert's flowtuple4) into complete
//! intervals, handed to a callback of yours in file order, as
//! [`SeriesOptions`] say; a [`Renderer`] turns them into the bytes of a
//! [`Format`] (with the report rules' dense keys) or into TSK messages
//! ([`format::tsk`]). [`Aggregator::merging`] with [`feed`] merges the
//! runs of repeated timestamps across files; [`sniff`] tells a file's
//! layout from its header, [`check`] reads a file through without
//! counting. What flowtuple4 files can give exactly is in [`flowtuple4`].
//!
//! Inside, data flows one way: `read` (unwrap gzip/bzip2/zstd, Avro
//! blocks, decompress; bounded and checked) → `decode` (records, by a plan
//! of the writer schema) → `filter` → `aggregate` (cut into intervals,
//! then per interval, by the script's or the report plugin's rules) →
//! `report` (report rules' dense keys) → [`mod@format`] (bytes). `pipeline`
//! decodes on several threads and aggregates in file order; a complete
//! interval's distinct counts are computed on several threads too.
//!
//! ```
//! use telescope_core::flowtuple::{self, Format, Formatter, Mode, Renderer, SeriesOptions};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/flowtuple/minute0.avro");
//! let options = SeriesOptions::new(Mode::Unfiltered);
//! let mut renderer = Renderer::new(Formatter::new(Format::Seed, "flowtuple")?, &options);
//! let mut out = Vec::new();
//! let stats = flowtuple::series(std::fs::File::open(path)?, &options, 2, |interval| {
//!     renderer.render(interval, &mut out);
//!     Ok::<_, std::convert::Infallible>(())
//! })?;
//! assert_eq!(stats.records, 12);
//! let text = String::from_utf8(out)?;
//! assert!(text.starts_with("15375180 summary overall packets 12\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod aggregate;
pub(crate) mod decode;
pub(crate) mod error;
pub(crate) mod filter;
pub mod flowtuple4;
pub mod format;
pub(crate) mod options;
pub(crate) mod pipeline;
pub(crate) mod read;
pub(crate) mod record;
pub(crate) mod render;
pub(crate) mod report;
pub(crate) mod schema;
pub(crate) mod series;

pub use aggregate::Aggregator;
pub use error::{BadRecord, FlowtupleError, ParseError, Position, RunError, TempDirError};
pub use format::{Format, Formatter};
pub use options::{
    sample_index, Class, Compat, GeoSource, Input, IpCounting, Mode, PortFilters, PortSet,
    SeriesOptions, SpillOptions,
};
pub use pipeline::{check, decode_only, feed, series, series_counted, sniff, RunStats};
pub use record::GeoTag;
pub use render::Renderer;
pub use schema::Kind;
pub use series::{Counters, IntervalSeries, Key, SeriesRow};
