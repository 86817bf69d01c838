//! Which layout the inputs hold (flowtuple v3 or flowtuple4), told from each
//! file's writer schema before anything is processed: one run reads one.

use std::fs::File;

use telescope_core::flowtuple::{self, Kind};

use crate::options::Source;

/// What the inputs hold.
pub struct Detected {
    /// The layout of the first input whose header reads (`None`: none reads;
    /// their errors come when they are processed).
    pub kind: Option<Kind>,
}

/// Tells the layout of every regular file; a usage error names the first
/// file of another layout than the first one's. Stdin, named pipes and
/// other streams are not read ahead (their bytes would be lost, and a slow
/// producer would hold up the other files): they are checked when they are
/// processed, and one of the other layout fails then (exit status 1).
pub fn detect(sources: &[Source]) -> Result<Detected, String> {
    let mut first: Option<(Kind, &Source)> = None;
    let mut remote_seen = false;
    for source in sources {
        let kind = match source {
            // Only regular files are read ahead: a named pipe or
            // `<(...)` would lose the bytes read here. Those are checked
            // when they are processed (a file of the other layout fails).
            Source::Path(p) if !std::fs::metadata(p).is_ok_and(|m| m.is_file()) => None,
            Source::Path(p) => File::open(p).ok().and_then(|f| flowtuple::sniff(f).ok()),
            Source::Stdin => None,
            // One remote object's header (one request) tells the layout
            // of a run; the others are checked when they are processed.
            Source::Remote(_) if remote_seen => None,
            Source::Remote(l) => {
                remote_seen = true;
                crate::remote::peek(l).and_then(|r| flowtuple::sniff(r).ok())
            }
        };
        let Some(kind) = kind else { continue };
        match first {
            None => first = Some((kind, source)),
            Some((k, s)) if k != kind => {
                return Err(format!(
                    "`{source}` is a {} file, but `{s}` is {}: one run reads one format \
                     (flowtuple4 has other series and counters); process them in separate runs",
                    kind.name(),
                    k.name()
                ))
            }
            Some(_) => {}
        }
    }
    Ok(Detected {
        kind: first.map(|(k, _)| k),
    })
}
