//! The data root's advisory lock: one writing run per DATA_ROOT at a time.
//!
//! A run that writes takes an exclusive `flock(2)` on `DATA_ROOT/`[`LOCK_FILE`]
//! and records its pid in it, so a second run can name the holder. The
//! kernel drops the lock when the holder's process ends, however it ends
//! (`kill -9` included): a stale lock file is harmless. The file itself is
//! never removed (removing it would let two runs lock two different files).
//! On platforms without `flock` no lock is taken.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::output::kind_of;

/// Name of the lock file in DATA_ROOT (a hidden regular file, never a tag).
pub const LOCK_FILE: &str = ".netprofile.lock";

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct RootLock {
    _file: File,
    path: PathBuf,
}

/// How the lock file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Read-write, created if absent (the pid is recorded).
    ReadWrite,
    /// Read-only, when DATA_ROOT is not writable but the file exists.
    ReadOnly,
}

/// The result of one attempt to take the lock.
#[derive(Debug)]
pub enum TryLock {
    /// The lock is ours.
    Acquired(RootLock),
    /// Another process holds it; its pid if it could be read.
    Held {
        /// The holder's pid.
        pid: Option<u32>,
    },
}

impl RootLock {
    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One attempt, without blocking, to lock `root`'s [`LOCK_FILE`]
    /// (created if absent). The error is the file's open, lock or write
    /// failure; its path is [`lock_path`].
    ///
    /// When DATA_ROOT is not writable but the lock file exists, it is locked
    /// read-only and the pid is not recorded. A lock file that is not a
    /// regular file (a symlink, a FIFO, ...) is an error: it is never
    /// followed, waited on or written through.
    pub fn try_acquire(root: &Path) -> io::Result<TryLock> {
        let path = lock_path(root);
        let writable = sys::open_options(Access::ReadWrite).open(&path);
        let (file, can_write) = match writable {
            Ok(f) => (f, true),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => (
                sys::open_options(Access::ReadOnly)
                    .open(&path)
                    .map_err(|_| e)?,
                false,
            ),
            Err(e) => return Err(not_regular(&path).unwrap_or(e)),
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::other(format!(
                "it is {}, not a regular file: refused",
                kind_of(&meta)
            )));
        }
        if !sys::try_lock(&file)? {
            return Ok(TryLock::Held {
                pid: holder_pid(root),
            });
        }
        if can_write {
            sys::write_pid(&file, std::process::id())?;
        }
        Ok(TryLock::Acquired(RootLock { _file: file, path }))
    }
}

/// The error for a lock file that is not a regular file, if it is not.
fn not_regular(path: &Path) -> Option<io::Error> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    (!meta.is_file()).then(|| {
        io::Error::other(format!(
            "it is {}, not a regular file: refused",
            kind_of(&meta)
        ))
    })
}

/// `root`'s lock file.
pub fn lock_path(root: &Path) -> PathBuf {
    root.join(LOCK_FILE)
}

/// The pid recorded in `root`'s lock file (the holder's, or the last
/// holder's when the lock is free).
pub(crate) fn holder_pid(root: &Path) -> Option<u32> {
    let mut text = String::new();
    File::open(lock_path(root))
        .ok()?
        .take(64)
        .read_to_string(&mut text)
        .ok()?;
    text.trim().parse().ok()
}

#[cfg(unix)]
mod sys {
    use std::fs::{File, OpenOptions};
    use std::io;

    use super::Access;
    use std::os::unix::fs::{FileExt, OpenOptionsExt};

    use rustix::fs::{flock, FlockOperation, OFlags};

    /// Opening the lock file: never through a symlink, never waiting on a
    /// FIFO; created (read-write) if absent.
    pub fn open_options(access: Access) -> OpenOptions {
        let write = access == Access::ReadWrite;
        let mut o = OpenOptions::new();
        o.read(true).write(write).create(write).truncate(false);
        o.custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32);
        o
    }

    /// True when the exclusive lock was taken, false when someone holds it.
    pub fn try_lock(file: &File) -> io::Result<bool> {
        loop {
            match flock(file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(true),
                Err(rustix::io::Errno::WOULDBLOCK) => return Ok(false),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Overwrites the file with `pid`, padded to a fixed width so a reader
    /// never sees it empty or mixed with a longer old pid.
    pub fn write_pid(file: &File, pid: u32) -> io::Result<()> {
        file.write_all_at(format!("{pid:>10}\n").as_bytes(), 0)?;
        file.set_len(11)
    }
}

#[cfg(not(unix))]
mod sys {
    use std::fs::{File, OpenOptions};
    use std::io;

    use super::Access;

    pub fn open_options(access: Access) -> OpenOptions {
        let write = access == Access::ReadWrite;
        let mut o = OpenOptions::new();
        o.read(true).write(write).create(write).truncate(false);
        o
    }

    pub fn try_lock(_file: &File) -> io::Result<bool> {
        Ok(true)
    }

    pub fn write_pid(_file: &File, _pid: u32) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn second_attempt_sees_the_holder_until_release() {
        let root = tempfile::tempdir().unwrap();
        let TryLock::Acquired(lock) = RootLock::try_acquire(root.path()).unwrap() else {
            panic!("a fresh root is free");
        };
        assert_eq!(lock.path(), root.path().join(LOCK_FILE));
        // flock locks belong to the open file description: a second open in
        // the same process conflicts like another process would.
        match RootLock::try_acquire(root.path()).unwrap() {
            TryLock::Held { pid } => assert_eq!(pid, Some(std::process::id())),
            TryLock::Acquired(_) => panic!("lock taken twice"),
        }
        drop(lock);
        assert!(matches!(
            RootLock::try_acquire(root.path()).unwrap(),
            TryLock::Acquired(_)
        ));
        assert_eq!(
            std::fs::read_to_string(root.path().join(LOCK_FILE)).unwrap(),
            format!("{:>10}\n", std::process::id())
        );
    }

    #[test]
    fn a_lock_file_that_is_not_a_regular_file_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let victim = root.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, root.path().join(LOCK_FILE)).unwrap();
        let e = RootLock::try_acquire(root.path()).unwrap_err();
        assert!(
            e.to_string().contains("a symlink, not a regular file"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        std::fs::remove_file(root.path().join(LOCK_FILE)).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.path().join(LOCK_FILE),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let e = RootLock::try_acquire(root.path()).unwrap_err();
        assert!(e.to_string().contains("a FIFO, not a regular file"), "{e}");
    }

    #[test]
    fn an_unwritable_place_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        assert!(RootLock::try_acquire(&root.path().join("missing")).is_err());
    }
}
