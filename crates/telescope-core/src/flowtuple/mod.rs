//! corsaro3 flowtuple Avro files to report-plugin style time series.
//!
//! Data flows one way: [`read`] (unwrap gzip/bzip2/zstd, Avro blocks,
//! decompress; bounded and checked) → [`decode`] (records, by a
//! [`schema::Plan`]) → [`filter`] → [`sequence`] (cut into intervals) →
//! [`aggregate`] (per interval, by the script's or the report plugin's
//! [`rules`]) → [`dense`] (report rules' zero keys) → [`format`] (bytes).
//! [`pipeline`] decodes on several threads and
//! aggregates in file order; a complete interval's distinct counts are
//! computed on several threads too.

pub mod aggregate;
pub mod decode;
pub mod dense;
pub mod error;
pub mod filter;
pub mod format;
pub mod ft4;
pub mod options;
pub mod pipeline;
pub mod read;
pub mod record;
pub mod rules;
pub mod schema;
pub mod sequence;
pub mod series;

pub use aggregate::Aggregator;
pub use dense::Densifier;
pub use error::{FlowtupleError, Position};
pub use format::{Format, Formatter};
pub use options::{
    sample_index, Compat, GeoSource, Input, IpCounting, Mode, PortFilters, PortSet, SeriesOptions,
    SpillOptions,
};
pub use pipeline::{check, decode_only, feed, series, series_counted, sniff, RunStats};
pub use schema::Kind;
pub use series::{Counters, IntervalSeries, Key, SeriesRow};
