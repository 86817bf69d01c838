//! Taking DATA_ROOT's lock for a run that writes, waiting for a bounded time.

use std::io::Write;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::bail;
use telescope_core::netprofile::{lock_path, RootLock, TryLock};

use crate::cli::Verbosity;

/// Takes `root`'s lock for a run that writes. `Ok(None)`: another run held
/// it for the whole `wait`, reported on `err` with its pid (exit 1). `Err`:
/// the lock file cannot be used (exit 2). [`Verbosity::Quiet`]: no
/// "waiting" line.
pub fn for_writing(
    root: &Path,
    wait: Duration,
    verbosity: Verbosity,
    err: &mut impl Write,
) -> anyhow::Result<Option<RootLock>> {
    match acquire(root, wait, verbosity, err) {
        Ok(lock) => Ok(Some(lock)),
        Err(LockError::Io(msg)) => bail!("{msg}"),
        Err(LockError::Busy { pid }) => {
            let how = if wait.is_zero() {
                "--no-wait".to_string()
            } else {
                format!("gave up after {} s", wait.as_secs())
            };
            let _ = writeln!(
                err,
                "netprofile: error: {} is being written by another netprofile run ({}); {how}, nothing done",
                root.display(),
                pid_text(pid)
            );
            Ok(None)
        }
    }
}

/// Why the lock was not taken.
enum LockError {
    /// Another run held it for the whole wait (its pid if known).
    Busy {
        /// The holder's pid.
        pid: Option<u32>,
    },
    /// The lock file could not be opened, locked or written (a message
    /// naming the file and the cause).
    Io(String),
}

/// Takes `root`'s lock, retrying until `wait` has passed (a zero `wait`
/// tries once). Says on `err` when it has to wait, and for whom (unless
/// [`Verbosity::Quiet`]).
fn acquire(
    root: &Path,
    wait: Duration,
    verbosity: Verbosity,
    err: &mut impl Write,
) -> Result<RootLock, LockError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(10);
    let mut told = verbosity == Verbosity::Quiet;
    loop {
        match RootLock::try_acquire(root) {
            Ok(TryLock::Acquired(lock)) => return Ok(lock),
            Ok(TryLock::Held { pid }) => {
                let left = wait.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Err(LockError::Busy { pid });
                }
                if !told {
                    let _ = writeln!(
                        err,
                        "netprofile: waiting up to {} s for {} (another run, {})",
                        wait.as_secs(),
                        lock_path(root).display(),
                        pid_text(pid)
                    );
                    told = true;
                }
                thread::sleep(pause.min(left));
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            Err(e) => {
                return Err(LockError::Io(format!(
                    "cannot lock {}: {e}",
                    lock_path(root).display()
                )))
            }
        }
    }
}

/// `pid 1234`, or `pid unknown`.
fn pid_text(pid: Option<u32>) -> String {
    pid.map_or_else(|| "pid unknown".to_string(), |p| format!("pid {p}"))
}
