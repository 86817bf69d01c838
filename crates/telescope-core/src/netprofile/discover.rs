//! Tag discovery: the subdirectories of DATA_ROOT named by a positive integer.

use std::cmp::Ordering;
use std::fs;
use std::path::{Path, PathBuf};

use super::error::Error;

/// One tag (a network prefix's directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The directory name, e.g. `12`.
    pub name: String,
    /// The directory.
    pub dir: PathBuf,
}

impl Tag {
    /// The tag's `data.csv`.
    pub fn data_path(&self) -> PathBuf {
        self.dir.join("data.csv")
    }
}

/// What [`discover`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Tags to process, in ascending numeric order.
    pub tags: Vec<Tag>,
    /// Entries of the root that are not tags: directories whose name is not
    /// a positive integer, and every other kind of entry (plain files, ...).
    pub ignored: Vec<String>,
    /// Tags asked for that have no directory.
    pub missing: Vec<Tag>,
    /// Tags named by several directories (`7/` and `007/`): an error for
    /// that tag; none of its directories is processed.
    pub conflicts: Vec<Conflict>,
}

/// Several directories naming one tag number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The tag number, canonical (`7`).
    pub number: String,
    /// The directories, in name order (`007`, `7`).
    pub names: Vec<String>,
    /// The first directory (for reporting).
    pub dir: PathBuf,
}

/// The canonical form of a positive integer name (no leading zeros), or
/// `None` when `name` is not one.
pub fn tag_number(name: &str) -> Option<&str> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = name.trim_start_matches('0');
    (!t.is_empty()).then_some(t)
}

/// Tag names in numeric order (`9` before `10`, `09` before `9`).
pub fn numeric_order(a: &str, b: &str) -> Ordering {
    let (x, y) = (tag_number(a).unwrap_or(a), tag_number(b).unwrap_or(b));
    x.len().cmp(&y.len()).then(x.cmp(y)).then(a.cmp(b))
}

/// True for the files netprofile keeps in DATA_ROOT.
fn is_own_file(name: &str) -> bool {
    let state = super::notices::STATE_FILE;
    name == super::lock::LOCK_FILE
        || name == state
        || name
            .strip_prefix('.')
            .and_then(|n| n.strip_prefix(state))
            .is_some_and(|rest| rest.starts_with('.') && rest.ends_with(".tmp"))
}

/// Lists the tags of `root`; with a non-empty `only`, just those (matched by
/// number), and the ones that are absent are reported in `missing`. A
/// number named by several directories goes to `conflicts` instead of
/// `tags`.
pub fn discover(root: &Path, only: &[String]) -> Result<Discovery, Error> {
    let rerr = |source| Error::Root {
        path: root.to_path_buf(),
        source,
    };
    let mut out = Discovery::default();
    for entry in fs::read_dir(root).map_err(rerr)? {
        let entry = entry.map_err(rerr)?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // The lock and warnings state files (and the latter's temporary
        // file) are never tags, nor ignored entries.
        if is_own_file(&name) {
            continue;
        }
        if !path.is_dir() {
            out.ignored.push(name);
            continue;
        }
        match tag_number(&name) {
            None => out.ignored.push(name),
            Some(n) => {
                if only.is_empty() || only.iter().any(|o| tag_number(o) == Some(n)) {
                    out.tags.push(Tag { name, dir: path });
                }
            }
        }
    }
    out.tags.sort_by(|a, b| numeric_order(&a.name, &b.name));
    out.ignored.sort();
    let mut tags = Vec::with_capacity(out.tags.len());
    for group in out
        .tags
        .chunk_by(|a, b| tag_number(&a.name) == tag_number(&b.name))
    {
        if let [one] = group {
            tags.push(one.clone());
        } else {
            out.conflicts.push(Conflict {
                number: tag_number(&group[0].name).unwrap_or_default().to_string(),
                names: group.iter().map(|t| t.name.clone()).collect(),
                dir: group[0].dir.clone(),
            });
        }
    }
    out.tags = tags;
    for o in only {
        let n = tag_number(o);
        let found = out.tags.iter().any(|t| tag_number(&t.name) == n)
            || out.conflicts.iter().any(|c| Some(c.number.as_str()) == n);
        if !found && !out.missing.iter().any(|m| tag_number(&m.name) == n) {
            out.missing.push(Tag {
                name: o.clone(),
                dir: root.join(o),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_integers_only() {
        assert_eq!(tag_number("12"), Some("12"));
        assert_eq!(tag_number("007"), Some("7"));
        assert_eq!(tag_number("0"), None);
        assert_eq!(tag_number("-1"), None);
        assert_eq!(tag_number("1a"), None);
        assert_eq!(tag_number(""), None);
        let mut v = vec!["10", "9", "100", "09"];
        v.sort_by(|a, b| numeric_order(a, b));
        assert_eq!(v, ["09", "9", "10", "100"]);
    }

    #[test]
    fn same_number_twice_is_a_conflict_and_files_are_ignored() {
        let root = tempfile_dir();
        for d in ["7", "007", "8", "x"] {
            fs::create_dir(root.join(d)).unwrap();
        }
        fs::write(root.join("9"), "").unwrap();
        let found = discover(&root, &[]).unwrap();
        let names: Vec<_> = found.tags.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["8"]);
        assert_eq!(found.conflicts.len(), 1);
        assert_eq!(found.conflicts[0].number, "7");
        assert_eq!(found.conflicts[0].names, ["007", "7"]);
        assert_eq!(found.ignored, ["9", "x"]);
        let only = discover(&root, &["07".to_string()]).unwrap();
        assert!(only.tags.is_empty() && only.missing.is_empty());
        assert_eq!(only.conflicts.len(), 1);
        fs::remove_dir_all(&root).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("np-discover-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }
}
