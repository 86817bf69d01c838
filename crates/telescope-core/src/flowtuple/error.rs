//! The typed error of reading and aggregating flowtuple files.

use thiserror::Error;

/// Where in the Avro stream something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Byte offset of the block (or header) in the Avro stream (after any
    /// gzip/bzip2/zstd wrapper is removed).
    pub offset: u64,
    /// Zero-based data block index, `None` for the file header.
    pub block: Option<u64>,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.block {
            Some(b) => write!(f, "block {b} at byte offset {}", self.offset),
            None => write!(f, "header at byte offset {}", self.offset),
        }
    }
}

/// Everything that can go wrong while turning a flowtuple file into series.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FlowtupleError {
    /// Reading the input failed.
    #[error("read error at byte offset {offset}: {error}")]
    Io {
        /// Byte offset reached in the Avro stream.
        offset: u64,
        /// The underlying error (in the message, so not also a `source`).
        error: std::io::Error,
    },
    /// The gzip, bzip2 or zstd wrapper around the Avro stream is corrupt or
    /// fails its checksum. Intervals already printed came from unverified
    /// data (see [`FlowtupleError::is_unverified`]).
    #[error("{what} (found at byte offset {offset} of the Avro stream)")]
    Wrapper {
        /// Byte offset reached in the Avro stream.
        offset: u64,
        /// What was wrong, starting with the wrapper's name.
        what: String,
    },
    /// The input is not an Avro object container file.
    #[error("not an Avro object container file: {0}")]
    NotAvro(String),
    /// The file header is malformed.
    #[error("bad Avro header: {0}")]
    BadHeader(String),
    /// The writer schema cannot be used.
    #[error("schema: {0}")]
    Schema(String),
    /// The file lacks a field that the chosen mode needs.
    #[error("not a usable flowtuple file: field `{field}` is missing from the writer schema{why}")]
    MissingField {
        /// Name of the missing field.
        field: &'static str,
        /// Why it is needed, e.g. " (needed by mode nonspoofed)".
        why: String,
    },
    /// A field has a type the reader cannot use.
    #[error("field `{field}` has type {found}, expected {expected}")]
    FieldType {
        /// Field name.
        field: String,
        /// Type found in the writer schema.
        found: String,
        /// Type expected.
        expected: &'static str,
    },
    /// The file uses a compression codec this build cannot read.
    #[error("unsupported Avro codec `{0}` (supported: null, deflate, snappy, zstandard, bzip2)")]
    UnsupportedCodec(String),
    /// The file ends in the middle of a block or header.
    #[error("truncated file: {at}: {what}")]
    Truncated {
        /// Where the cut was found.
        at: Position,
        /// What was being read.
        what: String,
    },
    /// A block's trailing sync marker differs from the header's.
    #[error("corrupt file: {at}: sync marker does not match the header's")]
    BadSync {
        /// The block whose marker is wrong.
        at: Position,
    },
    /// A block could not be decompressed or decoded.
    #[error("corrupt file: {at}: {what}")]
    Corrupt {
        /// The bad block.
        at: Position,
        /// What was wrong.
        what: String,
    },
    /// An interval's timestamp started a second run after it was printed.
    #[error("timestamp {time} reappears ({at}) after its interval was complete; refusing to print a second block for it (a merging aggregator merges repeated runs, e.g. of concatenated per-thread interim files)")]
    IntervalReappears {
        /// The repeated interval timestamp.
        time: i64,
        /// Where the repeated run starts.
        at: Position,
    },
    /// An interval holds more counted records than the aggregator indexes.
    #[error("the interval being read at {at} has more than 4294967294 counted records, the most one interval can hold")]
    IntervalTooLarge {
        /// The block that went over.
        at: Position,
    },
    /// The key tables of the interval being read (distinct ASNs, ports,
    /// geo tags, geo tag combinations) take more than their share of the
    /// memory limit: they cannot spill, so the file fails rather than
    /// growing without bound.
    #[error(
        "{at}: the interval's {table} table holds {keys} distinct keys; the key tables \
         take about {bytes} bytes, more than the {budget} they may take (half of this \
         file's {limit}-byte share of the memory limit, at least 4 MiB; key tables do not \
         spill: raise the memory limit)"
    )]
    KeyTablesTooLarge {
        /// The table taking most.
        table: &'static str,
        /// Its distinct keys (beyond its dense range).
        keys: u64,
        /// The bytes of all key tables.
        bytes: u64,
        /// The bytes they may take.
        budget: u64,
        /// The file's share of the memory limit (see
        /// [`crate::flowtuple::options::SpillOptions::limit`]).
        limit: u64,
        /// The block that went over.
        at: Position,
    },
    /// The file's layout is not the run's (one run reads one layout).
    #[error(
        "the file is {found}, but this run reads {expected} files (one run reads one \
         format; flowtuple4 files need their dst_net prefix length, 24 or 16, stated)"
    )]
    WrongFormat {
        /// The file's layout.
        found: &'static str,
        /// The run's.
        expected: &'static str,
    },
    /// The options ask for series a flowtuple4 file cannot give exactly
    /// (see [`super::flowtuple4::unsupported`]).
    #[error("{0}")]
    Unsupported(String),
    /// A flowtuple4 record's `dst_net` or `dst_port` is not what ftconvert
    /// writes, or contradicts the stated aggregation.
    #[error("{at}: {what}")]
    DstNet {
        /// The block holding the record.
        at: Position,
        /// What was wrong, naming the record.
        what: BadRecord,
    },
    /// A bug: a worker thread ended without its result.
    #[error("internal error: {0}")]
    Internal(String),
    /// The temporary directory filled up while an interval was spilled
    /// (`ENOSPC` or `EFBIG`); the interval is not printed.
    #[error("temporary directory {}: disk full while spilling the interval being read (this spill needed up to {needed} bytes; {written} bytes were already spilled); free space there, choose another temporary directory or raise the memory limit", dir.display())]
    SpillFull {
        /// The temporary directory.
        dir: std::path::PathBuf,
        /// The most bytes the spill being written needed.
        needed: u64,
        /// Bytes of the interval already on disk before it.
        written: u64,
    },
    /// A temporary file for spilling could not be created, written or read.
    #[error("temporary directory {}: {what}: {error}", dir.display())]
    Spill {
        /// The temporary directory.
        dir: std::path::PathBuf,
        /// What failed.
        what: &'static str,
        /// The underlying error.
        error: std::io::Error,
    },
}

impl FlowtupleError {
    /// True when the fault was found by a check that covers data already
    /// decoded (a gzip, bzip2 or zstd wrapper's checksum or framing):
    /// intervals already printed from this input came from unverified
    /// data. The caller, which knows whether it printed any, says so.
    pub fn is_unverified(&self) -> bool {
        matches!(self, FlowtupleError::Wrapper { .. })
    }
}

/// The error of a run that hands its intervals to a callback of the
/// caller's (see [`super::series`]): the input's, or the callback's own
/// error `E`, as the callback returned it.
///
/// Not `#[non_exhaustive]`, unlike the other error enums: an error comes
/// from the input or from the callback, and callers match the two sides.
#[derive(Debug)]
pub enum RunError<E> {
    /// Reading, decoding or aggregating the input failed.
    Input(FlowtupleError),
    /// The callback failed (for example, writing its output); the run
    /// stopped there.
    Emit(E),
}

impl<E> From<FlowtupleError> for RunError<E> {
    fn from(e: FlowtupleError) -> Self {
        RunError::Input(e)
    }
}

impl<E: std::fmt::Display> std::fmt::Display for RunError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Input(e) => e.fmt(f),
            RunError::Emit(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RunError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Input(e) => e.source(),
            RunError::Emit(e) => e.source(),
        }
    }
}

impl RunError<FlowtupleError> {
    /// The error, whichever side it came from.
    pub(crate) fn flatten(self) -> FlowtupleError {
        match self {
            RunError::Input(e) | RunError::Emit(e) => e,
        }
    }
}

/// A flowtuple4 record that is not as ftconvert writes it, or that
/// contradicts the stated `dst_net` aggregation (see
/// [`super::Input::Flowtuple4`]); `record` is its index within the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BadRecord {
    /// `dst_net`'s last octet is not 0.
    #[error("record {record}: dst_net {net} has a nonzero last octet: it is not a /24 or /16 network as ftconvert writes")]
    NotANetwork {
        /// The record's index in its block.
        record: usize,
        /// Its `dst_net`.
        net: std::net::Ipv4Addr,
    },
    /// `dst_net`'s third octet is not 0, while /16 networks were stated.
    #[error("record {record}: dst_net {net} has a nonzero third octet, so the file is not aggregated to /16 as stated (is it /24? ftconvert -n 24)")]
    NotSlash16 {
        /// The record's index in its block.
        record: usize,
        /// Its `dst_net`.
        net: std::net::Ipv4Addr,
    },
    /// `dst_port` does not fit in 16 bits.
    #[error("record {record}: dst_port {port} is not a 16-bit value as ftconvert writes")]
    PortNot16Bit {
        /// The record's index in its block.
        record: usize,
        /// Its `dst_port`.
        port: i32,
    },
}

/// A value that does not parse as a [`super::Mode`], an
/// [`super::IpCounting`], a [`super::PortSet`] or a [`super::Format`], or
/// a label a [`super::Formatter`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not the name of a mode.
    #[error("unknown mode `{given}` (valid modes: {valid})")]
    UnknownMode {
        /// What was given.
        given: String,
        /// The valid names, comma-separated.
        valid: String,
    },
    /// Not `all`, `prefixagg:N` or `sample:N`.
    #[error(
        "unknown counting method `{0}` (valid: all, prefixagg:N, sample:N with N from 1 to 32)"
    )]
    UnknownCounting(String),
    /// The `N` of `prefixagg:N` or `sample:N` is not from 1 to 32.
    #[error("`{0}` is not a prefix length from 1 to 32")]
    PrefixLength(String),
    /// A port is not a number from 0 to 65535.
    #[error("`{0}` is not a port from 0 to 65535")]
    Port(String),
    /// A port list has an empty item.
    #[error("empty item in port list `{0}`")]
    EmptyPortItem(String),
    /// A port range's start is above its end.
    #[error("port range `{0}` is backwards")]
    BackwardsRange(String),
    /// Not the name of a format.
    #[error("unknown format `{0}`")]
    UnknownFormat(String),
    /// A label with characters a timeseries key cannot hold.
    #[error("bad label `{0}`: use letters, digits, `_`, `-` and inner `.` only")]
    BadLabel(String),
}

/// Why spills could not be written to a temporary directory (see
/// [`super::SpillOptions::check_temp_dir`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TempDirError {
    /// It does not exist.
    #[error("temporary directory {} does not exist", .0.display())]
    Missing(std::path::PathBuf),
    /// It cannot be looked at.
    #[error("temporary directory {}: {error}", dir.display())]
    Unreadable {
        /// The directory.
        dir: std::path::PathBuf,
        /// The I/O error's text.
        error: String,
    },
    /// It is not a directory.
    #[error("temporary directory {} is not a directory", .0.display())]
    NotADirectory(std::path::PathBuf),
    /// No file can be created in it.
    #[error("temporary directory {} is not writable (cannot create a file in it: {error})", dir.display())]
    NotWritable {
        /// The directory.
        dir: std::path::PathBuf,
        /// The I/O error's text.
        error: String,
    },
}
