//! Which warnings a quiet (`-q`, cron) run prints: those that are new or
//! changed since the previous quiet run, and once a day those still there.
//!
//! The state is a small JSON file in DATA_ROOT ([`STATE_FILE`]): per tag,
//! the text of every current warning and when it was last printed (UTC).
//! It is read and replaced (atomically) only by a run holding DATA_ROOT's
//! lock. A warning is identified by its text, so a warning whose numbers
//! change (more malformed rows) counts as new.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::output::{self, kind_of};
use super::time::{format_timestamp, parse_timestamp, HOUR_US};

/// Name of the state file in DATA_ROOT (hidden, never a tag).
pub(crate) const STATE_FILE: &str = ".netprofile-warnings.json";

/// A warning still present is printed again when it was last printed this
/// long ago or longer: 23.5 h, so an hourly cron job repeats it once a day,
/// at about the same hour (30 minutes of slack for the cron's jitter).
pub(crate) const REMINDER_US: i64 = 23 * HOUR_US + HOUR_US / 2;

/// Largest state file read (a larger one is ignored).
const MAX_BYTES: u64 = 64 << 20;

/// Version of the file's layout.
const SCHEMA: u32 = 1;

/// The file: tag -> warning text -> when last printed (`YYYY-MM-DDTHH:MM:SSZ`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    schema: u32,
    tags: BTreeMap<String, BTreeMap<String, String>>,
}

/// The previous quiet run's warnings and this run's, as they are decided.
#[derive(Debug, Default)]
pub struct Notices {
    old: BTreeMap<String, BTreeMap<String, i64>>,
    new: BTreeMap<String, BTreeMap<String, i64>>,
}

/// `root`'s state file.
pub fn state_path(root: &Path) -> PathBuf {
    root.join(STATE_FILE)
}

impl Notices {
    /// Reads `root`'s state. Absent: nothing was printed before. A state
    /// file that is not a regular file is refused ([`Error::NotRegular`]);
    /// one that cannot be read or parsed gives an empty state and the
    /// reason (every warning is then printed once more).
    pub fn load(root: &Path) -> Result<(Notices, Option<String>), Error> {
        let path = state_path(root);
        match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Notices::default(), None)),
            Ok(m) if !m.is_file() => {
                return Err(Error::NotRegular {
                    path,
                    kind: kind_of(&m),
                })
            }
            _ => {}
        }
        match read(&path) {
            Ok(n) => Ok((n, None)),
            Err(why) => Ok((Notices::default(), Some(why))),
        }
    }

    /// Whether a quiet run at `now_utc` prints `text`, a warning of `tag`:
    /// yes when the previous state does not hold it or printed it
    /// 23.5 hours or more ago. Records it for [`Notices::save`].
    pub fn should_print(&mut self, tag: &str, text: &str, now_utc: i64) -> bool {
        let last = self.old.get(tag).and_then(|w| w.get(text)).copied();
        let print = last.is_none_or(|t| now_utc - t >= REMINDER_US || t > now_utc);
        let when = if print {
            now_utc
        } else {
            last.unwrap_or(now_utc)
        };
        self.new
            .entry(tag.to_string())
            .or_default()
            .insert(text.to_string(), when);
        print
    }

    /// Marks `tag` as processed in this run without warnings (its old
    /// warnings are forgotten: printed again if they come back).
    pub fn processed(&mut self, tag: &str) {
        self.new.entry(tag.to_string()).or_default();
    }

    /// Writes the state to `root` atomically: this run's tags as decided,
    /// and the previous state of the tags in `keep` that this run did not
    /// process (not selected); other tags are dropped.
    pub fn save(mut self, root: &Path, keep: &[&str]) -> Result<(), Error> {
        for (tag, warnings) in self.old {
            if keep.contains(&tag.as_str()) && !self.new.contains_key(&tag) {
                self.new.insert(tag, warnings);
            }
        }
        let file = File {
            schema: SCHEMA,
            tags: self
                .new
                .into_iter()
                .filter(|(_, w)| !w.is_empty())
                .map(|(tag, w)| {
                    let w = w
                        .into_iter()
                        .map(|(text, t)| (text, format!("{}Z", format_timestamp(t))))
                        .collect();
                    (tag, w)
                })
                .collect(),
        };
        let mut json =
            serde_json::to_vec_pretty(&file).map_err(|e| Error::Internal(e.to_string()))?;
        json.push(b'\n');
        let path = state_path(root);
        output::remove_stale_temps(&path);
        output::replace_atomically(&path, &json)
    }
}

/// Reads and parses a state file (never following a symlink or waiting on
/// a FIFO); the error says why it is ignored.
fn read(path: &Path) -> Result<Notices, String> {
    let mut o = OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
        o.custom_flags(flags.bits() as i32);
    }
    let mut text = Vec::new();
    o.open(path)
        .and_then(|f| f.take(MAX_BYTES).read_to_end(&mut text))
        .map_err(|e| e.to_string())?;
    let file: File = serde_json::from_slice(&text).map_err(|e| format!("not valid JSON: {e}"))?;
    if file.schema != SCHEMA {
        return Err(format!("schema {} (expected {SCHEMA})", file.schema));
    }
    let mut old = BTreeMap::new();
    for (tag, warnings) in file.tags {
        let mut w = BTreeMap::new();
        for (text, when) in warnings {
            let t = when
                .strip_suffix('Z')
                .and_then(|s| parse_timestamp(s.as_bytes()))
                .ok_or_else(|| format!("bad time {when:?}"))?;
            w.insert(text, t);
        }
        old.insert(tag, w);
    }
    Ok(Notices {
        old,
        new: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000_000;

    #[test]
    fn new_changed_and_daily_warnings_are_printed() {
        let root = tempfile::tempdir().unwrap();
        let (mut n, why) = Notices::load(root.path()).unwrap();
        assert_eq!(why, None);
        assert!(n.should_print("1", "a", T0));
        assert!(n.should_print("2", "b", T0));
        n.save(root.path(), &["1", "2"]).unwrap();
        // An hour later: same warnings are quiet, a changed one is not.
        let (mut n, _) = Notices::load(root.path()).unwrap();
        assert!(!n.should_print("1", "a", T0 + HOUR_US));
        assert!(n.should_print("2", "b2", T0 + HOUR_US));
        n.save(root.path(), &["1", "2"]).unwrap();
        // 23.5 h after it was printed, "a" is printed again; "b2" not yet.
        let (mut n, _) = Notices::load(root.path()).unwrap();
        assert!(n.should_print("1", "a", T0 + REMINDER_US));
        assert!(!n.should_print("2", "b2", T0 + REMINDER_US));
        n.save(root.path(), &["1", "2"]).unwrap();
        // A tag without warnings forgets them; an unprocessed tag keeps its own.
        let (mut n, _) = Notices::load(root.path()).unwrap();
        n.processed("1");
        n.save(root.path(), &["1", "2"]).unwrap();
        let (mut n, _) = Notices::load(root.path()).unwrap();
        let later = T0 + REMINDER_US + HOUR_US / 2;
        assert!(n.should_print("1", "a", later));
        // "b2" was printed at T0 + 1 h: its reminder is not due before T0 + 24.5 h.
        assert!(!n.should_print("2", "b2", later));
        // A tag whose directory is gone is dropped.
        n.save(root.path(), &[]).unwrap();
        let text = fs::read_to_string(state_path(root.path())).unwrap();
        assert!(text.contains("\"b2\"") && text.contains("\"a\""), "{text}");
        let (n, _) = Notices::load(root.path()).unwrap();
        n.save(root.path(), &["1"]).unwrap();
        let (n, _) = Notices::load(root.path()).unwrap();
        assert_eq!(n.old.keys().collect::<Vec<_>>(), ["1"]);
    }

    #[test]
    fn a_bad_state_is_ignored_and_a_fifo_refused() {
        let root = tempfile::tempdir().unwrap();
        fs::write(state_path(root.path()), "{").unwrap();
        let (mut n, why) = Notices::load(root.path()).unwrap();
        assert!(why.unwrap().starts_with("not valid JSON"));
        assert!(n.should_print("1", "a", T0));
        fs::remove_file(state_path(root.path())).unwrap();
        #[cfg(unix)]
        {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                state_path(root.path()),
                rustix::fs::FileType::Fifo,
                rustix::fs::Mode::from_raw_mode(0o600),
                0,
            )
            .unwrap();
            let e = Notices::load(root.path()).unwrap_err();
            assert!(e.to_string().contains("is a FIFO"), "{e}");
        }
    }
}
