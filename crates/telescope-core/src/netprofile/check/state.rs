//! What a tag's checks have seen, kept in `<tag>/.netprofile-check.json`
//! and replaced atomically (temporary file, fsync, rename) by the run
//! holding DATA_ROOT's lock.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::episode::Tracker;
use super::error::CheckError;
use crate::netprofile::error::Error;
use crate::netprofile::output::{
    check_replaceable, create_temp, open_regular, remove_stale_temps, sync_dir, temp_path, Symlink,
};
use crate::netprofile::protocol::Protocol;

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

/// The rows that were out of profile (protocol, TIME_FIRST) from `dir`'s
/// state (empty when there is none or it cannot be read: pictures are
/// drawn without marks then; a protocol key that is not one is skipped).
pub fn out_rows(dir: &Path) -> Vec<(Protocol, i64)> {
    let Ok(Some(state)) = load(dir) else {
        return Vec::new();
    };
    state
        .protocols
        .into_iter()
        .filter_map(|(k, p)| Some((k.parse::<Protocol>().ok()?, p.out)))
        .flat_map(|(protocol, out)| out.into_iter().map(move |t| (protocol, t)))
        .collect()
}

/// A tag's check state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TagState {
    /// The state file's format version (1).
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

/// Saves the states of many tags at once (`items`: tag directory, state),
/// each replaced atomically (temporary file, rename; stale temporary files
/// that killed runs left beside it removed), but flushed to disk with two
/// `syncfs(2)` calls for all of them (after the temporary files are
/// written, after they are renamed) instead of two `fsync(2)` per tag:
/// 1,000 tags in milliseconds rather than seconds. Where `syncfs` is not
/// available (or the second fails), every file and directory is fsynced.
/// One result per item: a failed write keeps its own error.
pub fn save_all(items: &[(&Path, &TagState)]) -> Vec<Result<(), Error>> {
    let pid = std::process::id();
    let werr = |path: &Path, source: io::Error| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let written: Vec<Result<File, Error>> = par_map(items, |(dir, state)| {
        let dest = state_path(dir);
        check_replaceable(&dest, Symlink::Refused)?;
        remove_stale_temps(&dest);
        let mut bytes = serde_json::to_vec(state).map_err(|e| Error::Internal(e.to_string()))?;
        bytes.push(b'\n');
        let tmp = temp_path(&dest, pid);
        create_temp(&tmp)
            .and_then(|mut f| f.write_all(&bytes).map(|()| f))
            .map_err(|e| {
                let _ = fs::remove_file(&tmp);
                werr(&dest, e)
            })
    });
    let files: Vec<Option<&File>> = written.iter().map(|w| w.as_ref().ok()).collect();
    let synced = flush_all(&files);
    // Renamed where written (`None` where the write failed: that error is
    // the item's result below).
    let renamed: Vec<Option<Result<(), Error>>> = par_map(
        &items.iter().zip(&written).collect::<Vec<_>>(),
        |((dir, _), w)| {
            let f = w.as_ref().ok()?;
            let dest = state_path(dir);
            let tmp = temp_path(&dest, pid);
            let done = match &synced {
                Ok(()) => Ok(()),
                Err(_) => f.sync_all(),
            }
            .and_then(|()| fs::rename(&tmp, &dest));
            Some(match done {
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    Err(werr(&dest, e))
                }
                Ok(()) => Ok(()),
            })
        },
    );
    // The renames on disk: one more syncfs, or each directory where that
    // is not available or fails.
    if synced.is_err() || flush_all(&files).is_err() {
        for ((dir, _), r) in items.iter().zip(&renamed) {
            if matches!(r, Some(Ok(()))) {
                sync_dir(dir);
            }
        }
    }
    written
        .into_iter()
        .zip(renamed)
        .map(|(w, r)| match (w, r) {
            (Err(e), _) => Err(e),
            (Ok(_), r) => r.unwrap_or(Ok(())),
        })
        .collect()
}

/// Threads for the file operations of [`save_all`]: they mostly wait for
/// the file system, so more than the cores.
const IO_THREADS: usize = 8;

/// `f` over `items` on up to [`IO_THREADS`] threads; results in order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let chunk = items.len().div_ceil(IO_THREADS).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// One `syncfs(2)` per file system of `files` (Linux); an error elsewhere.
fn flush_all(files: &[Option<&File>]) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let mut seen: Vec<u64> = Vec::new();
        for f in files.iter().flatten() {
            let dev = f.metadata()?.dev();
            if !seen.contains(&dev) {
                seen.push(dev);
                rustix::fs::syncfs(f)?;
            }
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = files;
        Err(io::Error::other("no syncfs"))
    }
}
