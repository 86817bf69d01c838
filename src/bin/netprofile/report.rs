//! Printing tags' warnings and errors on stderr; under `-q`, only warnings
//! that are new, changed or due for their daily reminder
//! (`telescope_core::netprofile::Notices`).

use std::io::Write;
use std::path::Path;

use telescope_core::netprofile::{self as np, Notices, Tag, TagOutcome};

use crate::cli::Verbosity;
use crate::wording;

/// Where warnings go, and which are printed.
pub struct Reporter<W: Write> {
    /// stderr.
    pub err: W,
    /// Under `-q` in a run that writes: the previous quiet runs' warnings.
    notices: Option<Notices>,
    /// The run's time, UTC µs.
    now_utc: i64,
}

impl<W: Write> Reporter<W> {
    /// Prints every warning (no state).
    pub fn new(err: W, now_utc: i64) -> Self {
        Reporter {
            err,
            notices: None,
            now_utc,
        }
    }

    /// From now on prints only warnings `notices` lets through.
    pub fn filter_with(&mut self, notices: Notices) {
        self.notices = Some(notices);
    }

    /// Prints `text`, a warning of tag `tag`, unless filtered out.
    pub fn warn(&mut self, tag: &str, text: &str) {
        let print = match &mut self.notices {
            Some(n) => n.should_print(tag, text, self.now_utc),
            None => true,
        };
        if print {
            let _ = writeln!(self.err, "netprofile: tag {tag}: warning: {text}");
        }
    }

    /// Prints a tag's warnings and error (errors always).
    pub fn outcome<T>(&mut self, tag: &Tag, outcome: &TagOutcome<T>) {
        if let Some(n) = &mut self.notices {
            n.processed(&tag.name);
        }
        for w in &outcome.warnings {
            self.warn(&tag.name, &wording::warning(w));
        }
        if let Err(e) = &outcome.result {
            let e = wording::error(e);
            let _ = writeln!(self.err, "netprofile: tag {}: error: {e}", tag.name);
        }
    }

    /// Removes killed runs' temporary files from the tags' directories (the
    /// caller holds DATA_ROOT's lock) and reports them.
    pub fn remove_leftovers(&mut self, tags: &[Tag], verbosity: Verbosity) {
        for tag in tags {
            let (removed, warnings) = np::remove_leftovers(&tag.dir);
            if let Some(n) = &mut self.notices {
                n.processed(&tag.name);
            }
            for w in warnings {
                self.warn(&tag.name, &wording::warning(&w));
            }
            if verbosity == Verbosity::Verbose && removed > 0 {
                let _ = writeln!(
                    self.err,
                    "netprofile: tag {}: removed {removed} temporary file(s) left by a killed run",
                    tag.name
                );
            }
        }
    }

    /// Saves the quiet runs' state in `root` (keeping the tags in `keep`
    /// this run did not process); a failure is a warning.
    pub fn save_notices(&mut self, root: &Path, keep: &[&str]) {
        if let Some(n) = self.notices.take() {
            if let Err(e) = n.save(root, keep) {
                let _ = writeln!(
                    self.err,
                    "netprofile: warning: {e} (the same warnings will be printed next run)"
                );
            }
        }
    }

    /// `-v`: says that a last line without a line end was not counted.
    pub fn unterminated_note<T>(&mut self, tag: &Tag, outcome: &TagOutcome<T>) {
        if outcome.data.is_some_and(|d| d.unterminated) {
            let _ = writeln!(
                self.err,
                "netprofile: tag {}: last line of data.csv has no line end yet: not counted",
                tag.name
            );
        }
    }
}
