//! Which layout the inputs hold (flowtuple v3 or flowtuple4), told from each
//! file's writer schema before anything is processed: one run reads one.

use std::fs::File;
use std::io::{self, Read};

use telescope_core::flowtuple::{self, Kind};

use crate::cli::Source;

/// The most of stdin read ahead to tell its layout (its header, through any
/// gzip/bzip2/zstd wrapper; a bzip2 block is at most ~900 KB).
const STDIN_PEEK: u64 = 2 << 20;

/// What the inputs hold.
pub struct Detected {
    /// The layout of the first input whose header reads (`None`: none reads;
    /// their errors come when they are processed).
    pub kind: Option<Kind>,
    /// The bytes of stdin read to tell its layout, to be read again first.
    pub stdin_prefix: Option<Vec<u8>>,
}

/// Tells the layout of every regular file and of stdin; a usage error names
/// the first input of another layout than the first one's.
pub fn detect(sources: &[Source]) -> Result<Detected, String> {
    let mut first: Option<(Kind, &Source)> = None;
    let mut stdin_prefix = None;
    for source in sources {
        let kind = match source {
            // Only regular files are read ahead: a named pipe or
            // `<(...)` would lose the bytes read here. Those are checked
            // when they are processed (a file of the other layout fails).
            Source::Path(p) if !std::fs::metadata(p).is_ok_and(|m| m.is_file()) => None,
            Source::Path(p) => File::open(p).ok().and_then(|f| flowtuple::sniff(f).ok()),
            Source::Stdin => {
                let mut prefix = Vec::new();
                io::stdin()
                    .take(STDIN_PEEK)
                    .read_to_end(&mut prefix)
                    .map_err(|e| format!("<stdin>: cannot read: {e}"))?;
                let kind = flowtuple::sniff(io::Cursor::new(prefix.clone())).ok();
                stdin_prefix = Some(prefix);
                kind
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
        stdin_prefix,
    })
}
