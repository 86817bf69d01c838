//! Why a tag's check failed.

use std::io;
use std::path::PathBuf;

/// Why a tag's check failed (nothing is marked checked for it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The tag directory could not be listed.
    #[error("cannot list {}: {source}", .path.display())]
    List {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A profile file could not be read.
    #[error("cannot read profile {}: {source}", .path.display())]
    ProfileRead {
        /// The profile.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A profile file is not a profile.
    #[error("profile {}: {reason}", .path.display())]
    ProfileFormat {
        /// The profile.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The check state cannot be used.
    #[error("check state {}: {reason} (move it away to start over: the next check looks at the last 24 hours)", .path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
