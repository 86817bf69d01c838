//! Remote inputs (`s3://`, `swift://`, `http(s)://`): their options, the
//! expansion of prefixes into objects, and opening an object as a `Read`
//! with the next objects fetched ahead. The stores themselves live in the
//! `telescope-remote` crate.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use telescope_core::flowtuple::SeriesOptions;
use telescope_remote::{Location, ObjectReader, Patience, Remote, RemoteError, Settings};

use crate::options::Source;

const HEADING: &str = "Remote input (s3://, swift://, http(s)://)";

/// The options of remote inputs.
#[derive(Debug, Clone, clap::Args)]
pub struct RemoteArgs {
    /// Read s3:// objects without signing (public buckets).
    #[arg(long, help_heading = HEADING)]
    no_sign_request: bool,

    /// How long to retry a remote object that fails (reset, 5xx, stall),
    /// resuming where it stopped, counted from its last byte received; then
    /// that object fails.
    #[arg(long, value_name = "SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=86400), help_heading = HEADING)]
    remote_retry_secs: u64,

    /// A remote read that gets no byte for this long is stalled (then
    /// retried).
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600), help_heading = HEADING)]
    remote_stall_secs: u64,

    /// Remote objects fetched ahead of the ones being processed (their
    /// buffers count against --memory-limit).
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u64).range(0..=256), help_heading = HEADING)]
    read_ahead: u64,
}

/// The largest buffer of one object fetched ahead (bytes); less when
/// --memory-limit is small.
const MAX_BUFFER: u64 = 4 << 20;
const MIN_BUFFER: u64 = 64 << 10;

struct State {
    remote: Remote,
    /// Buffer of one object being read or fetched ahead.
    buffer: AtomicUsize,
    depth: usize,
    ahead: Mutex<Ahead>,
}

/// Objects fetched ahead of the reader, in command-line order.
#[derive(Default)]
struct Ahead {
    order: Vec<Location>,
    /// Position in `order` of the object opened last.
    at: usize,
    /// Next position to start fetching.
    next: usize,
    ready: HashMap<Location, VecDeque<ObjectReader>>,
}

static STATE: OnceLock<State> = OnceLock::new();

/// The inputs named on the command line: local paths and `-` as they are,
/// remote names parsed, prefixes listed. A bad name or an empty prefix is
/// `Err(Usage)`; a listing that fails is another error (exit 1).
pub fn sources(files: Vec<String>, args: &RemoteArgs) -> Result<Vec<Source>, RemoteError> {
    if !files.iter().any(|f| Location::is_remote(f)) {
        return Ok(files.into_iter().map(local).collect());
    }
    let remote = Remote::new(Settings {
        vars: std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| ["AWS_", "OS_", "ST_"].iter().any(|p| k.starts_with(p)))
            .collect(),
        unsigned_s3: args.no_sign_request,
        patience: Patience {
            retry_for: Duration::from_secs(args.remote_retry_secs),
            stall: Duration::from_secs(args.remote_stall_secs),
        },
    })?;
    // Every name is checked before any prefix is listed.
    let parsed: Vec<Result<Location, String>> = files
        .into_iter()
        .map(|f| match Location::is_remote(&f) {
            true => Location::parse(&f).map(Ok),
            false => Ok(Err(f)),
        })
        .collect::<Result<_, _>>()?;
    let mut sources = Vec::new();
    for p in parsed {
        match p {
            Err(f) => sources.push(local(f)),
            Ok(l) if l.is_prefix() => {
                sources.extend(remote.list(&l)?.into_iter().map(Source::Remote))
            }
            Ok(l) => sources.push(Source::Remote(l)),
        }
    }
    let order = sources
        .iter()
        .filter_map(|s| match s {
            Source::Remote(l) => Some(l.clone()),
            _ => None,
        })
        .collect();
    let state = State {
        remote,
        buffer: AtomicUsize::new(MAX_BUFFER as usize),
        depth: args.read_ahead as usize,
        ahead: Mutex::new(Ahead {
            order,
            ..Ahead::default()
        }),
    };
    let _ = STATE.set(state);
    Ok(sources)
}

fn local(f: String) -> Source {
    if f == "-" {
        Source::Stdin
    } else {
        Source::Path(f.into())
    }
}

/// With remote inputs: sizes the buffer of one object, and lowers the
/// spill limits by what the buffers of the objects read and fetched ahead
/// may hold together (they count against --memory-limit).
pub fn reserve(args: &RemoteArgs, series: &mut SeriesOptions, concurrent_files: usize) {
    let Some(state) = STATE.get() else { return };
    let objects = args.read_ahead + concurrent_files as u64;
    let Some(spill) = &mut series.spill else {
        return;
    };
    // The spill limit is 7/8 of --memory-limit shared by the files read
    // at once.
    let (buffer, left) = split(spill.limit * concurrent_files as u64, objects);
    spill.limit = left / concurrent_files as u64;
    state.buffer.store(buffer as usize, Ordering::Relaxed);
}

/// Of `total` bytes, the buffer of each of `objects` remote objects (a
/// quarter of the total at most, 64 KiB to 4 MiB each) and what is left
/// for the aggregates (at least half).
fn split(total: u64, objects: u64) -> (u64, u64) {
    let buffer = (total / 4 / objects.max(1)).clamp(MIN_BUFFER, MAX_BUFFER);
    (
        buffer,
        total.saturating_sub(buffer * objects).max(total / 2),
    )
}

/// Opens a remote object (fetched ahead already, or now) and starts
/// fetching the objects after it. Waits for the first bytes, so that a
/// missing object or refused credentials are reported as the object's
/// open error.
pub fn open(location: &Location) -> anyhow::Result<Box<dyn Read + Send>> {
    let state = STATE
        .get()
        .ok_or_else(|| anyhow::anyhow!("{location}: remote input was not set up"))?;
    let mut reader = {
        let mut ahead = state.ahead.lock().unwrap_or_else(|p| p.into_inner());
        let ready = ahead.ready.get_mut(location).and_then(VecDeque::pop_front);
        if let Some(pos) = ahead.order[ahead.at..].iter().position(|l| l == location) {
            ahead.at += pos;
        }
        let until = (ahead.at + state.depth + 1).min(ahead.order.len());
        while ahead.next < until {
            let next = ahead.next;
            ahead.next += 1;
            if next <= ahead.at {
                continue;
            }
            let l = ahead.order[next].clone();
            if let Ok(r) = state.remote.open(&l, state.buffer.load(Ordering::Relaxed)) {
                ahead.ready.entry(l).or_default().push_back(r);
            }
        }
        match ready {
            Some(r) => r,
            None => state
                .remote
                .open(location, state.buffer.load(Ordering::Relaxed))?,
        }
    };
    reader.wait_start()?;
    Ok(Box::new(reader))
}

/// Opens a remote object for a look at its header (not counted as read
/// ahead, so the look does not take another reader's place).
pub fn peek(location: &Location) -> Option<ObjectReader> {
    let state = STATE.get()?;
    state.remote.open(location, MIN_BUFFER as usize).ok()
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn buffers_count_against_the_memory_limit() {
        const MIB: u64 = 1 << 20;
        // 1G (7/8 of it, 896 MiB), 32 ahead + 2 read: 4 MiB each.
        assert_eq!(split(896 * MIB, 34), (4 * MIB, 896 * MIB - 136 * MIB));
        // 128M: a quarter of 112 MiB over 34 objects, 863,533 bytes each.
        assert_eq!(split(112 * MIB, 34), (863_533, 112 * MIB - 863_533 * 34));
        // Tiny: 64 KiB each, but half is kept for the aggregates.
        assert_eq!(split(2 * MIB, 34), (64 << 10, MIB));
    }
}
