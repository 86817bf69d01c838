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
    /// Subdirectories ignored because their name is not a positive integer.
    pub ignored: Vec<String>,
    /// Tags asked for that have no directory.
    pub missing: Vec<Tag>,
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

fn numeric_order(a: &str, b: &str) -> Ordering {
    let (x, y) = (tag_number(a).unwrap_or(a), tag_number(b).unwrap_or(b));
    x.len().cmp(&y.len()).then(x.cmp(y)).then(a.cmp(b))
}

/// Lists the tags of `root`; with a non-empty `only`, just those (matched by
/// number), and the ones that are absent are reported in `missing`.
pub fn discover(root: &Path, only: &[String]) -> Result<Discovery, Error> {
    let rerr = |source| Error::Root {
        path: root.to_path_buf(),
        source,
    };
    let mut out = Discovery::default();
    for entry in fs::read_dir(root).map_err(rerr)? {
        let entry = entry.map_err(rerr)?;
        let path = entry.path();
        // The lock file is never a tag, nor an ignored directory.
        if !path.is_dir() || entry.file_name() == super::lock::LOCK_FILE {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
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
    for o in only {
        let n = tag_number(o);
        let found = out.tags.iter().any(|t| tag_number(&t.name) == n);
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
}
