//! Taking DATA_ROOT's lock for a run that writes, waiting for a bounded time.

use std::io::Write;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use telescope_core::netprofile::lock::{lock_path, RootLock, TryLock};

/// Why the lock was not taken.
pub enum LockError {
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
/// tries once). Says on `err` when it has to wait, and for whom.
pub fn acquire(root: &Path, wait: Duration, err: &mut impl Write) -> Result<RootLock, LockError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(10);
    let mut told = false;
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
pub fn pid_text(pid: Option<u32>) -> String {
    pid.map_or_else(|| "pid unknown".to_string(), |p| format!("pid {p}"))
}
