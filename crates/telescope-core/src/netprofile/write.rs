//! Atomic profile writing, the `latest.json` symlink and pruning old
//! profiles ([`super::RunOptions::keep`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::{Error, Warning};
use super::output::{self, check_replaceable, sync_dir, Symlink};
use super::time::{format_timestamp, parse_timestamp};

/// Name of the symlink to the newest profile.
pub(crate) const LATEST: &str = "latest.json";
const LATEST_NEW: &str = "latest.json.new";
const LATEST_SVG_NEW: &str = "latest.svg.new";
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

fn werr(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// The file name `latest.json` in `dir` points to, if it is a symlink.
pub(crate) fn latest_target(dir: &Path) -> Option<String> {
    let t = fs::read_link(dir.join(LATEST)).ok()?;
    Some(t.file_name()?.to_string_lossy().into_owned())
}

/// Writes `contents` to `dir/name` atomically (temporary file in `dir`,
/// fsync, rename), then points `dir/latest.json` at it with a relative
/// symlink made as `latest.json.new` and renamed over. On error the new
/// profile is removed and `latest.json` is unchanged. A `name` or a
/// `latest.json` that is neither absent nor a regular file (nor, for
/// `latest.json`, a symlink) is refused ([`Error::NotRegular`]) before
/// anything is written.
pub fn write_profile(dir: &Path, name: &str, contents: &[u8]) -> Result<PathBuf, Error> {
    check_replaceable(&dir.join(LATEST), Symlink::Replaced)?;
    let dest = write_file(dir, name, contents)?;
    let new_link = dir.join(LATEST_NEW);
    if let Err((path, e)) = point_latest(dir, name, &new_link) {
        let _ = fs::remove_file(&new_link);
        if latest_target(dir).as_deref() != Some(name) {
            let _ = fs::remove_file(&dest);
        }
        return Err(werr(&path)(e));
    }
    sync_dir(dir);
    Ok(dest)
}

/// Makes `new_link` point to `name` and renames it over `latest.json`; the
/// error names the path it is about (`latest.json.new` or `latest.json`).
fn point_latest(dir: &Path, name: &str, new_link: &Path) -> Result<(), (PathBuf, io::Error)> {
    let at_new = |e| (new_link.to_path_buf(), e);
    match fs::remove_file(new_link) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(at_new(e)),
        _ => {}
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink(name, new_link).map_err(at_new)?;
    // No portable symlinks: an atomically replaced copy instead.
    #[cfg(not(unix))]
    fs::copy(dir.join(name), new_link).map_err(at_new)?;
    let latest = dir.join(LATEST);
    fs::rename(new_link, &latest).map_err(|e| (latest, e))
}

/// Removes all but the newest `keep` `profile-<TS>.json` files of `dir`
/// (ordered by TS), never the one `latest.json` points to. Returns how many
/// were removed, and a warning per file that could not be.
pub(crate) fn prune(dir: &Path, keep: usize) -> (usize, Vec<Warning>) {
    let mut warnings = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return (0, warnings);
    };
    // Only regular files: whatever else has a profile's name is not ours.
    let mut profiles: Vec<(i64, String)> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            if !e.file_type().ok()?.is_file() {
                return None;
            }
            let name = e.file_name().into_string().ok()?;
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
                // The profile's picture ([`super::RunOptions::plot`]) goes with it.
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

/// True for the names [`output::temp_path`] makes for profiles and pictures: `.profile-<TS>.json.<pid>.tmp`.
fn is_temp_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.').and_then(|r| r.strip_suffix(".tmp")) else {
        return false;
    };
    let Some((profile, pid)) = rest.rsplit_once('.') else {
        return false;
    };
    let picture_of_profile = || {
        let stem = profile.strip_suffix(".svg")?;
        profile_time(&format!("{stem}{SUFFIX}"))
    };
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && (profile_time(profile).is_some() || picture_of_profile().is_some())
}

/// Removes what a killed run leaves in the tag directory `dir`: temporary
/// profiles and pictures (`.profile-<TS>.json.<pid>.tmp`,
/// `.profile-<TS>.svg.<pid>.tmp`), `latest.json.new` and `latest.svg.new`, when
/// they are not directories; nothing else. Call it only while holding the
/// data root's lock: a running writer's files look the same. Returns how
/// many were removed, and a warning per file that could not be.
pub fn remove_leftovers(dir: &Path) -> (usize, Vec<Warning>) {
    let mut warnings = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return (0, warnings);
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir || !(name == LATEST_NEW || name == LATEST_SVG_NEW || is_temp_name(name)) {
            continue;
        }
        let path = entry.path();
        match fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => warnings.push(Warning::Leftover { path, source }),
        }
    }
    (removed, warnings)
}

/// Name of the symlink to the newest profile's picture.
pub(crate) const LATEST_SVG: &str = "latest.svg";

/// `profile-<TS>.svg`: the picture of `profile-<TS>.json`.
pub(crate) fn plot_file_name(profile_name: &str) -> String {
    let stem = profile_name.strip_suffix(SUFFIX).unwrap_or(profile_name);
    format!("{stem}.svg")
}

/// Writes `dir/name` atomically (temporary file in `dir`, fsync, rename);
/// see [`output::replace_atomically`] (a `name` that is not a regular file
/// is refused).
pub(crate) fn write_file(dir: &Path, name: &str, contents: &[u8]) -> Result<PathBuf, Error> {
    let dest = dir.join(name);
    output::replace_atomically(&dest, contents)?;
    Ok(dest)
}

/// Points `dir/latest.svg` at `name` (a relative symlink made as
/// `latest.svg.new` and renamed over); a `latest.svg` that is neither
/// absent, a regular file nor a symlink is refused.
pub(crate) fn point_latest_svg(dir: &Path, name: &str) -> Result<(), Error> {
    check_replaceable(&dir.join(LATEST_SVG), Symlink::Replaced)?;
    let new_link = dir.join(LATEST_SVG_NEW);
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

    #[test]
    fn only_the_tools_own_temporary_names_are_leftovers() {
        let name = profile_file_name(profile_time("profile-2026-01-02T03:04:05.5.json").unwrap());
        let tmp = output::temp_path(Path::new(&name), 4242);
        assert!(is_temp_name(&tmp.to_string_lossy()));
        for other in [
            "profile-2026-01-02T03:04:05.json.4242.tmp",
            ".profile-2026-01-02T03:04:05.json.tmp",
            ".profile-2026-01-02T03:04:05.json.42a.tmp",
            ".profile-x.json.4242.tmp",
            ".data.csv.4242.tmp",
            ".profile-2026-01-02T03:04:05.json.4242.tmp~",
        ] {
            assert!(!is_temp_name(other), "{other}");
        }
    }
}
