//! Atomic profile writing, the `latest.json` symlink and `--keep` pruning.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::{Error, Warning};
use super::time::{format_timestamp, parse_timestamp};

/// Name of the symlink to the newest profile.
pub const LATEST: &str = "latest.json";
const LATEST_NEW: &str = "latest.json.new";
const PREFIX: &str = "profile-";
const SUFFIX: &str = ".json";

/// `profile-<TS>.json` for a run started at `now` (local wall-clock µs since
/// the epoch), TS as Python's `datetime.now().isoformat()`.
pub fn profile_file_name(now: i64) -> String {
    format!("{PREFIX}{}{SUFFIX}", format_timestamp(now))
}

/// The time in a `profile-<TS>.json` name, if it is one.
fn profile_time(name: &str) -> Option<i64> {
    let ts = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    parse_timestamp(ts.as_bytes())
}

fn sync_dir(dir: &Path) {
    // Best effort: some file systems refuse to fsync a directory.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn werr(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// The file name `latest.json` in `dir` points to, if it is a symlink.
pub fn latest_target(dir: &Path) -> Option<String> {
    let t = fs::read_link(dir.join(LATEST)).ok()?;
    Some(t.file_name()?.to_string_lossy().into_owned())
}

/// Writes `contents` to `dir/name` atomically (temporary file in `dir`,
/// fsync, rename), then points `dir/latest.json` at it with a relative
/// symlink made as `latest.json.new` and renamed over. On error the new
/// profile is removed and `latest.json` is unchanged.
pub fn write_profile(dir: &Path, name: &str, contents: &[u8]) -> Result<PathBuf, Error> {
    let dest = write_file(dir, name, contents)?;
    let new_link = dir.join(LATEST_NEW);
    if let Err(e) = point_latest(dir, name, &new_link) {
        let _ = fs::remove_file(&new_link);
        if latest_target(dir).as_deref() != Some(name) {
            let _ = fs::remove_file(&dest);
        }
        return Err(werr(&dir.join(LATEST))(e));
    }
    sync_dir(dir);
    Ok(dest)
}

#[cfg(unix)]
fn point_latest(dir: &Path, name: &str, new_link: &Path) -> io::Result<()> {
    match fs::remove_file(new_link) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::os::unix::fs::symlink(name, new_link)?;
    fs::rename(new_link, dir.join(LATEST))
}

#[cfg(not(unix))]
fn point_latest(dir: &Path, name: &str, new_link: &Path) -> io::Result<()> {
    // No portable symlinks: an atomically replaced copy instead.
    fs::copy(dir.join(name), new_link)?;
    fs::rename(new_link, dir.join(LATEST))
}

/// Removes all but the newest `keep` `profile-<TS>.json` files of `dir`
/// (ordered by TS), never the one `latest.json` points to. Returns how many
/// were removed, and a warning per file that could not be.
pub fn prune(dir: &Path, keep: usize) -> (usize, Vec<Warning>) {
    let mut warnings = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return (0, warnings);
    };
    let mut profiles: Vec<(i64, String)> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            Some((profile_time(&name)?, name))
        })
        .collect();
    profiles.sort_unstable_by(|a, b| b.cmp(a));
    let latest = latest_target(dir);
    let mut removed = 0;
    for (_, name) in profiles.iter().skip(keep) {
        if latest.as_deref() == Some(name.as_str()) {
            continue;
        }
        let path = dir.join(name);
        match fs::remove_file(&path) {
            Ok(()) => {
                removed += 1;
                // The profile's picture (`--plot`) goes with it.
                let svg = path.with_extension("svg");
                match fs::remove_file(&svg) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        warnings.push(Warning::Prune {
                            path: svg,
                            source: e,
                        })
                    }
                    _ => {}
                }
            }
            Err(source) => warnings.push(Warning::Prune { path, source }),
        }
    }
    (removed, warnings)
}

/// Name of the symlink to the newest profile's picture.
pub const LATEST_SVG: &str = "latest.svg";

/// `profile-<TS>.svg`: the picture of `profile-<TS>.json`.
pub fn plot_file_name(profile_name: &str) -> String {
    let stem = profile_name.strip_suffix(SUFFIX).unwrap_or(profile_name);
    format!("{stem}.svg")
}

/// Writes `dir/name` atomically (temporary file in `dir`, fsync, rename).
pub fn write_file(dir: &Path, name: &str, contents: &[u8]) -> Result<PathBuf, Error> {
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let dest = dir.join(name);
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, &dest)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(werr(&dest)(e));
    }
    sync_dir(dir);
    Ok(dest)
}

/// Points `dir/latest.svg` at `name` (a relative symlink made as
/// `latest.svg.new` and renamed over).
pub fn point_latest_svg(dir: &Path, name: &str) -> Result<(), Error> {
    let new_link = dir.join("latest.svg.new");
    let result = (|| {
        match fs::remove_file(&new_link) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(name, &new_link)?;
        #[cfg(not(unix))]
        fs::copy(dir.join(name), &new_link)?;
        fs::rename(&new_link, dir.join(LATEST_SVG))
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&new_link);
        return Err(werr(&dir.join(LATEST_SVG))(e));
    }
    sync_dir(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_not_text() {
        let a = profile_time("profile-2026-01-02T03:04:05.json").unwrap();
        let b = profile_time("profile-2026-01-02T03:04:05.000001.json").unwrap();
        assert!(a < b);
        assert_eq!(profile_time("profile-x.json"), None);
        assert_eq!(profile_time("latest.json"), None);
        assert_eq!(
            profile_file_name(a),
            "profile-2026-01-02T03:04:05.json".to_string()
        );
    }
}
