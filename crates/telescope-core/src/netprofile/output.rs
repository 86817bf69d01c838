//! What may stand at a path netprofile writes, and how it is written.
//!
//! netprofile never turns something that is not a regular file into one:
//!
//! * its own files (profiles, pictures, the `latest.*` links, the lock and
//!   the warnings state) are replaced only when they are regular files (or,
//!   for the `latest.*` links, symlinks); any other kind is refused
//!   ([`Error::NotRegular`]);
//! * a run summary's path ([`write_summary`]) follows a symlink (its target
//!   is replaced atomically), writes through a FIFO or a character device
//!   (opened without blocking: a FIFO with no reader is an error, never a
//!   hang) and refuses a directory, a socket or a block device;
//! * temporary files are created exclusively without following symlinks
//!   ([`create_temp`]), so nothing at a temporary name is ever written
//!   through.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::Error;

/// The kind of a file, as a phrase (`a FIFO`, `a socket`, ...).
pub(crate) fn kind_of(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    if t.is_symlink() {
        "a symlink"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// What [`check_replaceable`] does with a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Symlink {
    /// Accepted: the symlink itself is replaced, not followed (the
    /// `latest.*` pointers).
    Replaced,
    /// Refused like any other file that is not regular.
    Refused,
}

/// Refuses `path` unless it is absent, a regular file or (with
/// [`Symlink::Replaced`]) a symlink, which is then replaced itself, not
/// followed.
pub(crate) fn check_replaceable(path: &Path, symlink: Symlink) -> Result<(), Error> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => Ok(()),
        Ok(m) if symlink == Symlink::Replaced && m.file_type().is_symlink() => Ok(()),
        Ok(m) => Err(Error::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(&m),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Write {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Creates the temporary file `path` for writing: exclusively and without
/// following a symlink, so whatever stands there (a file a killed process
/// with this pid left, a FIFO, a symlink) is removed and never written
/// through or waited on.
pub(crate) fn create_temp(path: &Path) -> io::Result<File> {
    let open = || {
        let mut o = OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
        }
        o.open(path)
    };
    match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Our pid is in the name: no live process is writing it.
            if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                return Err(e);
            }
            fs::remove_file(path)?;
            open()
        }
        other => other,
    }
}

/// The temporary file beside `dest` for process `pid`: `.<name>.<pid>.tmp`.
pub(crate) fn temp_path(dest: &Path, pid: u32) -> PathBuf {
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    dest.with_file_name(format!(".{name}.{pid}.tmp"))
}

/// Writes `contents` to `dest` atomically: a temporary file beside it
/// ([`create_temp`]), fsync, rename. `dest` must be absent or a regular
/// file ([`check_replaceable`]).
pub(crate) fn replace_atomically(dest: &Path, contents: &[u8]) -> Result<(), Error> {
    check_replaceable(dest, Symlink::Refused)?;
    let tmp = temp_path(dest, std::process::id());
    let written = (|| {
        let mut f = create_temp(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, dest)
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(Error::Write {
            path: dest.to_path_buf(),
            source,
        });
    }
    if let Some(dir) = dest.parent() {
        sync_dir(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        });
    }
    Ok(())
}

/// Best effort: some file systems refuse to fsync a directory.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Opens `path` for reading (following symlinks) without waiting on a FIFO;
/// anything but a regular file is an error saying what it is.
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = o.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other(format!(
            "it is {}, not a regular file",
            kind_of(&meta)
        )));
    }
    Ok(file)
}

/// Where a chain of symlinks starting at `path` ends (the path itself when
/// it is not a symlink; the missing target of a dangling one). At most 40
/// links are followed, as the kernel does.
pub(crate) fn resolve_symlinks(path: &Path) -> Result<PathBuf, Error> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&p).map_err(|source| Error::Write {
                    path: p.clone(),
                    source,
                })?;
                p = match p.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Error::Write {
        path: path.to_path_buf(),
        source: io::Error::other("too many levels of symbolic links"),
    })
}

/// Writes the run summary to `path`: a regular file (or none) is replaced
/// atomically, a symlink is followed and its target replaced atomically
/// (the link stays), a FIFO or a character device is written through
/// (a FIFO without a reader is an error at once), and a directory, a socket
/// or a block device is refused. Stale temporary files of killed runs
/// beside the target are removed first.
pub fn write_summary(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let werr = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    match fs::metadata(path) {
        Ok(m) if m.file_type().is_file() => {}
        Ok(m) if is_stream(&m) => return write_through(path, contents),
        Ok(m) => {
            return Err(Error::NotRegular {
                path: path.to_path_buf(),
                kind: kind_of(&m),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(werr(e)),
    }
    let target = resolve_symlinks(path)?;
    remove_stale_temps(&target);
    replace_atomically(&target, contents)
}

/// True for the kinds [`write_summary`] writes through.
fn is_stream(meta: &Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        t.is_fifo() || t.is_char_device()
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        false
    }
}

/// Opens `path` (a FIFO or a character device) for writing without
/// blocking, then writes `contents` with blocking writes.
#[cfg(unix)]
fn write_through(path: &Path, contents: &[u8]) -> Result<(), Error> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    use std::os::unix::fs::OpenOptionsExt;
    let werr = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(code) if code == rustix::io::Errno::NXIO.raw_os_error() => Error::NoReader {
                path: path.to_path_buf(),
            },
            _ => werr(e),
        })?;
    let flags = fcntl_getfl(&f).map_err(|e| werr(e.into()))?;
    fcntl_setfl(&f, flags - OFlags::NONBLOCK).map_err(|e| werr(e.into()))?;
    f.write_all(contents).and_then(|()| f.flush()).map_err(werr)
}

#[cfg(not(unix))]
fn write_through(path: &Path, _contents: &[u8]) -> Result<(), Error> {
    Err(Error::NotRegular {
        path: path.to_path_buf(),
        kind: "not a regular file",
    })
}

/// Removes the temporary files (`.<name>.<pid>.tmp`, see [`temp_path`])
/// that killed processes left beside `dest`: only those whose pid is no
/// longer a running process, and never a directory. Best effort.
pub(crate) fn remove_stale_temps(dest: &Path) -> usize {
    let Some(name) = dest.file_name().and_then(|n| n.to_str()) else {
        return 0;
    };
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let prefix = format!(".{name}.");
    let mut removed = 0;
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(pid) = file
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix)?.strip_suffix(".tmp"))
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir && !process_alive(pid) && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// True when `pid` is a running process (or cannot be told: then its files
/// are kept).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        if pid == std::process::id() {
            return false;
        }
        let Some(pid) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return true;
        };
        !matches!(
            rustix::process::test_kill_process(pid),
            Err(rustix::io::Errno::SRCH)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_name_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let tmp = dir.path().join(".x.1.tmp");
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        create_temp(&tmp).unwrap().write_all(b"new").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert!(fs::symlink_metadata(&tmp).unwrap().is_file());
    }

    #[test]
    fn only_dead_processes_temporaries_are_stale() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("s.json");
        // Our parent is alive; pid 4194304 is above Linux's pid_max.
        let alive = std::os::unix::process::parent_id();
        for name in [
            format!(".s.json.{alive}.tmp"),
            ".s.json.4194304.tmp".to_string(),
            ".t.json.4194304.tmp".to_string(),
            ".s.json.x.tmp".to_string(),
        ] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        assert_eq!(remove_stale_temps(&dest), 1);
        let mut left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                format!(".s.json.{alive}.tmp"),
                ".s.json.x.tmp".to_string(),
                ".t.json.4194304.tmp".to_string()
            ]
        );
    }
}
