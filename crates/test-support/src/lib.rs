//! Helpers shared by the workspace's tests and development tools, and by
//! nothing that ships: seeded generators ([`rng`]), Avro's binary encoding
//! ([`avro`]), corsaro3 flowtuple records ([`v3`]) and stardust-tools'
//! v3 -> flowtuple4 conversion ([`ftconvert`]).
//!
//! `publish = false`. The shipped crates use it only as a dev-dependency;
//! the unpublished `telescope-tools` (fuzzers, generators, benchmarks)
//! depends on it directly. It does not depend on `telescope-core`, whose
//! unit tests use it.

pub mod avro;
pub mod ftconvert;
pub mod rng;
pub mod v3;

use std::path::{Path, PathBuf};

/// The workspace's root directory (where `testdata/` and `target/` are),
/// as built: this crate lives in `crates/test-support`.
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.join("../..")
        .canonicalize()
        .unwrap_or_else(|_| here.join("../.."))
}
