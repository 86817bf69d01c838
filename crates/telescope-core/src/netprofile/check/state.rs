//! What a tag's checks have seen, kept in `<tag>/.netprofile-check.json`
//! and replaced atomically (temporary file, fsync, rename) by the run
//! holding DATA_ROOT's lock.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::episode::Tracker;
use super::CheckError;
use crate::netprofile::error::Error;
use crate::netprofile::output::{open_regular, remove_stale_temps, replace_atomically};

/// The state file's name in a tag directory.
pub const STATE_FILE: &str = ".netprofile-check.json";
/// Layout version of the state file.
pub const STATE_VERSION: u32 = 1;

/// One protocol's checked rows and rule state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProtocolState {
    /// TIME_FIRST (µs, UTC) of the newest row checked: rows at or before it
    /// are never checked again.
    pub mark: Option<i64>,
    /// The episode rule's state.
    pub tracker: Tracker,
    /// TIME_FIRST of the rows of the last [`OUT_KEPT`] that were part of
    /// an episode (for `--plot`), ascending.
    #[serde(default)]
    pub out: Vec<i64>,
}

/// How long rows that were out of profile are remembered (µs): the
/// pictures show 7 days.
pub const OUT_KEPT: i64 = 8 * 24 * crate::netprofile::time::HOUR_US;

/// The rows that were out of profile, per protocol key, from `dir`'s state
/// (empty when there is none or it cannot be read: pictures are drawn
/// without marks then).
pub fn out_rows(dir: &Path) -> Vec<(String, i64)> {
    let Ok(Some(state)) = load(dir) else {
        return Vec::new();
    };
    state
        .protocols
        .into_iter()
        .flat_map(|(k, p)| p.out.into_iter().map(move |t| (k.clone(), t)))
        .collect()
}

/// A tag's check state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TagState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The clock (UTC µs) of the last check that saved this state.
    pub last_check: Option<i64>,
    /// Per protocol key (`TCP`).
    pub protocols: BTreeMap<String, ProtocolState>,
}

/// The state file of tag directory `dir`.
pub fn state_path(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// Reads `dir`'s state; None when there is none yet (the first check).
pub fn load(dir: &Path) -> Result<Option<TagState>, CheckError> {
    let path = state_path(dir);
    let mut bytes = Vec::new();
    match open_regular(&path).and_then(|mut f| f.read_to_end(&mut bytes)) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CheckError::State {
                path,
                reason: e.to_string(),
            })
        }
    }
    let state: TagState = serde_json::from_slice(&bytes).map_err(|e| CheckError::State {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if state.version != STATE_VERSION {
        return Err(CheckError::State {
            path,
            reason: format!(
                "version {} (this netprofile reads {STATE_VERSION})",
                state.version
            ),
        });
    }
    Ok(Some(state))
}

/// Replaces `dir`'s state atomically (and removes temporary files that
/// killed runs left beside it).
pub fn save(dir: &Path, state: &TagState) -> Result<(), Error> {
    let path = state_path(dir);
    remove_stale_temps(&path);
    let mut bytes = serde_json::to_vec(state).map_err(|e| Error::Internal(e.to_string()))?;
    bytes.push(b'\n');
    replace_atomically(&path, &bytes)
}
