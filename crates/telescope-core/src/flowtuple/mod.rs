//! corsaro3 flowtuple Avro files to report-plugin style time series.
//!
//! Data flows one way: [`read`] (unwrap gzip/bzip2/zstd, Avro blocks,
//! decompress; bounded and checked) → [`decode`] (records, by a
//! [`schema::Plan`]) → [`filter`] → [`aggregate`] (cut into intervals,
//! then per interval, by the script's or the report plugin's rules) →
//! [`report`] (report rules' dense keys) → [`format`] (bytes).
//! [`pipeline`] decodes on several threads and
//! aggregates in file order; a complete interval's distinct counts are
//! computed on several threads too.

pub mod aggregate;
pub mod decode;
pub mod error;
pub mod filter;
pub mod flowtuple4;
pub mod format;
pub mod options;
pub mod pipeline;
pub mod read;
pub mod record;
pub mod render;
pub mod report;
pub mod schema;
pub mod series;
#[cfg(test)]
mod test_avro;
#[cfg(test)]
mod test_rng;

pub use aggregate::Aggregator;
pub use error::{FlowtupleError, Position, RunError};
pub use format::{Format, Formatter};
pub use options::{
    sample_index, Compat, GeoSource, Input, IpCounting, Mode, PortFilters, PortSet, SeriesOptions,
    SpillOptions,
};
pub use pipeline::{check, decode_only, feed, series, series_counted, sniff, RunStats};
pub use render::Renderer;
pub use report::dense::Densifier;
pub use schema::Kind;
pub use series::{Counters, IntervalSeries, Key, SeriesRow};
