//! The typed options of a run: what the command line (`cli.rs`) sets,
//! and the rest of the program reads.

use std::path::PathBuf;
use std::time::Duration;

use telescope_core::flowtuple::{Formatter, SeriesOptions};

use crate::progress::When;

/// Where to read input from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input.
    Stdin,
    /// A file.
    Path(PathBuf),
    /// An object of a remote store (`s3://`, `swift://`, `http(s)://`).
    Remote(telescope_remote::Location),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Stdin => f.write_str("<stdin>"),
            Source::Path(p) => write!(f, "{}", p.display()),
            Source::Remote(l) => write!(f, "{l}"),
        }
    }
}

/// The typed options of a run.
#[derive(Debug)]
pub struct Options {
    /// Inputs, in output order.
    pub sources: Vec<Source>,
    /// What to compute.
    pub series: SeriesOptions,
    /// How to print it.
    pub formatter: Formatter,
    /// Worker threads.
    pub threads: usize,
    /// Merge repeated timestamps across all inputs.
    pub merge_repeated: bool,
    /// Publish to Kafka instead of printing.
    pub kafka: Option<KafkaSettings>,
    /// Per-file statistics on stderr.
    pub stats: bool,
    /// When to show progress.
    pub progress: When,
    /// Only errors on stderr.
    pub quiet: bool,
}

/// How messages are compressed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Snappy, libtimeseries' default.
    Snappy,
    /// None.
    None,
}

/// Where and how to publish.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// Bootstrap brokers, `HOST:PORT`.
    pub brokers: Vec<String>,
    /// The topic, `<prefix>.<channel>`.
    pub topic: String,
    /// The channel named in every message.
    pub channel: String,
    /// Wire compression.
    pub compression: Compression,
    /// How long to keep retrying an unreachable broker.
    pub retry_for: Duration,
}
