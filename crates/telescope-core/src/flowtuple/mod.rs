//! corsaro3 flowtuple Avro files to report-plugin style time series.
//!
//! Data flows one way: [`read`] (unwrap gzip/bzip2/zstd, Avro blocks,
//! decompress; bounded and checked) → [`decode`] (records, by a
//! [`schema::Plan`]) → [`filter`] → [`sequence`] (cut into intervals) →
//! [`aggregate`] (per interval) → [`format`] (bytes). [`pipeline`] decodes on several threads and
//! aggregates in file order; a complete interval's distinct counts are
//! computed on several threads too.

pub mod aggregate;
pub mod decode;
pub mod error;
pub mod filter;
pub mod format;
pub mod options;
pub mod pipeline;
pub mod read;
pub mod record;
pub mod schema;
pub mod sequence;
pub mod series;
#[cfg(test)]
mod test_rng;

pub use error::{FlowtupleError, Position};
pub use format::{Format, Formatter};
pub use options::{GeoSource, IpCounting, Mode, PortFilters, PortSet, SeriesOptions};
pub use pipeline::{decode_only, series, RunStats};
pub use series::{Counters, IntervalSeries, Key, SeriesRow};
