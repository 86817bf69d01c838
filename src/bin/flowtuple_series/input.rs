//! Opening the inputs of a run, wherever their bytes come from (a file,
//! stdin, a remote object), counting what is read for `--progress`.

use std::fs::File;
use std::io::{self, Read};

use anyhow::Context;

use crate::options::Source;
use crate::progress;

/// The bytes of all inputs together, when every one is a file.
pub fn total_bytes(sources: &[Source]) -> Option<u64> {
    sources
        .iter()
        .map(|s| match s {
            Source::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Source::Stdin | Source::Remote(_) => None,
        })
        .sum()
}

/// Opens an input for reading (counting its bytes for `--progress`).
pub fn open(source: &Source) -> anyhow::Result<Box<dyn Read + Send>> {
    Ok(match source {
        Source::Stdin => Box::new(progress::Counted(io::stdin())),
        Source::Path(p) => Box::new(progress::Counted(
            File::open(p).with_context(|| format!("{source}: cannot open"))?,
        )),
        Source::Remote(l) => Box::new(progress::Counted(crate::remote::open(l)?)),
    })
}
