//! Fuzzes netprofile's NEMEA CSV parser on stable Rust (no C toolchain, no
//! nightly): a seeded mutation loop over a small corpus of the fixtures.
//!
//! ```sh
//! cargo run -p telescope-tools --bin fuzz_nemea -- --seconds 20            # as .ci/run does (debug: overflow checks on)
//! nice cargo run --release -p telescope-tools --bin fuzz_nemea -- --seconds 3600 --seed 7
//! cargo run -p telescope-tools --bin fuzz_nemea -- --replay target/fuzz-nemea/panic-1a2b3c4d.csv
//! ```
//!
//! Each input is parsed with [`nemea::parse_within`] twice (whole, and
//! through a reader returning 1 to 7 bytes at a time) under a random time
//! window, and the result is checked: the two parses agree; rows are sorted,
//! unique and inside the window, and their times format as 4-digit-year ISO
//! text that parses back to the same instant; the counts fit the number of
//! lines; malformed line numbers ascend. A failure is a panic (an internal
//! one or a broken check), an input running past `--timeout-ms` (a watchdog
//! thread), or the live heap growing past `--max-alloc-mb` during one input
//! (a counting allocator; a single request over 1 GiB aborts the process).
//! Failing inputs are written to `--crashes` (default `target/fuzz-nemea/`);
//! the exit status is 1 when anything was found, 3 on a timeout.
//!
//! Mutated inputs that show a new behaviour (error kind, row and malformed
//! counts by power of two, repeated headers, duplicates, rows out of the
//! window) join the corpus. Same seed and corpus, same inputs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use telescope_core::netprofile::nemea::{self, ParseError, Parsed, MAX_LINE_NUMBERS};
use telescope_core::netprofile::time::{format_timestamp, parse_timestamp};
use telescope_core::netprofile::TimeWindow;
use telescope_test_support::rng::{Random, SplitMix64 as Rng};

mod inputs;

use inputs::{corpus, mutate, window_for};

/// Live heap bytes, and the peak since the last reset.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// A single request above this fails (the process aborts, seed printed).
const HARD_LIMIT: usize = 1 << 30;

struct Counting;

// SAFETY: every request goes to the system allocator with the caller's
// layout, unchanged; a refused request returns null, which GlobalAlloc
// allows. The counters are atomics and never allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.size() > HARD_LIMIT {
            return std::ptr::null_mut();
        }
        let p = System.alloc(l);
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > HARD_LIMIT {
            return std::ptr::null_mut();
        }
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            if new >= l.size() {
                let now = LIVE.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

struct Args {
    seconds: f64,
    seed: u64,
    max_len: usize,
    timeout_ms: u64,
    max_alloc_mb: usize,
    crashes: PathBuf,
    replay: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        seconds: 20.0,
        seed: 1,
        max_len: 16 * 1024,
        timeout_ms: 2000,
        max_alloc_mb: 64,
        crashes: telescope_test_support::workspace_root().join("target/fuzz-nemea"),
        replay: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--seconds" => a.seconds = parsed(&flag, value()?)?,
            "--seed" => a.seed = parsed(&flag, value()?)?,
            "--max-len" => a.max_len = parsed(&flag, value()?)?,
            "--timeout-ms" => a.timeout_ms = parsed(&flag, value()?)?,
            "--max-alloc-mb" => a.max_alloc_mb = parsed(&flag, value()?)?,
            "--crashes" => a.crashes = PathBuf::from(value()?),
            "--replay" => a.replay = Some(PathBuf::from(value()?)),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; use --seconds N --seed S --max-len BYTES \
                     --timeout-ms MS --max-alloc-mb MB --crashes DIR --replay FILE"
                ))
            }
        }
    }
    Ok(a)
}

/// `v`, the value of `flag`, parsed; the error names both.
fn parsed<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
    v.parse().map_err(|_| format!("{flag}: bad value {v:?}"))
}

/// A reader handing out at most 1 to 7 bytes per call.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.step = self.step % 7 + 1;
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Parses `data` and checks the result; panics on a broken check.
fn check(data: &[u8], window: TimeWindow) -> Result<Parsed, String> {
    let whole = nemea::parse_within(data, window);
    let trickled = nemea::parse_within(Trickle { data, step: 0 }, window);
    let p = match (whole, trickled) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "whole and trickled parses differ");
            a
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "errors differ");
            assert!(!matches!(a, ParseError::Io(_)), "I/O error from memory");
            return Err(a.to_string());
        }
        (a, b) => panic!("whole {:?} but trickled {:?}", a.is_ok(), b.is_ok()),
    };
    let terminators = data.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
    let records = p.rows.len() + p.duplicates + p.malformed + p.repeated_headers + 1;
    assert!(
        records <= terminators + 1,
        "{records} records in {terminators} lines"
    );
    assert!(p.out_of_window <= p.malformed);
    assert!(p.malformed_lines.len() <= p.malformed.min(MAX_LINE_NUMBERS));
    assert_eq!(p.malformed > 0, !p.malformed_lines.is_empty());
    assert!(p.malformed_lines.windows(2).all(|w| w[0] < w[1]));
    assert!(
        p.rows.windows(2).all(|w| w[0] < w[1]),
        "rows not sorted/unique"
    );
    for r in &p.rows {
        for t in [r.first, r.last] {
            assert!(window.contains(t), "row time {t} outside {window:?}");
            let s = format_timestamp(t);
            assert_eq!(s.find('-'), Some(4), "not a 4-digit year: {s}");
            assert_eq!(parse_timestamp(s.as_bytes()), Some(t), "{s}");
        }
    }
    Ok(p)
}

/// What the input made the parser do, coarsely.
fn signature(r: &Result<Parsed, String>) -> u64 {
    let bucket = |n: usize| u64::from(usize::BITS - n.leading_zeros());
    match r {
        Err(e) => fnv(&e.as_bytes()[..e.len().min(24)]) | 1 << 63,
        Ok(p) => {
            bucket(p.rows.len())
                | bucket(p.malformed) << 8
                | bucket(p.out_of_window) << 16
                | bucket(p.repeated_headers) << 24
                | bucket(p.duplicates) << 32
                | u64::from(p.rows.iter().any(|r| r.first > r.last)) << 40
        }
    }
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn save(dir: &Path, kind: &str, data: &[u8]) -> PathBuf {
    let _ = fs::create_dir_all(dir);
    let path = dir.join(format!("{kind}-{:016x}.csv", fnv(data)));
    let _ = fs::write(&path, data);
    path
}

/// The running input, for the watchdog, and when it started (ms since
/// `EPOCH`, 0 when idle).
static STARTED_MS: AtomicU64 = AtomicU64::new(0);
/// True while [`check`] runs (its panics are findings, reported quietly).
static IN_CHECK: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fuzz_nemea: {e}");
            return ExitCode::from(2);
        }
    };
    let last_panic = quiet_check_panics();
    if let Some(path) = &a.replay {
        return replay(path, a.seed, &last_panic);
    }
    let epoch = Instant::now();
    let current: Arc<Mutex<Vec<u8>>> = Arc::default();
    watchdog(epoch, Arc::clone(&current), a.crashes.clone(), a.timeout_ms);
    fuzz(&a, epoch, &current, &last_panic)
}

/// Keeps the message of the last panic inside [`check`] (a finding,
/// reported by the loop) instead of printing it; other panics print.
fn quiet_check_panics() -> Arc<Mutex<String>> {
    let last_panic: Arc<Mutex<String>> = Arc::default();
    let lp = Arc::clone(&last_panic);
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !IN_CHECK.load(Ordering::Relaxed) {
            return default_hook(info);
        }
        if let Ok(mut s) = lp.lock() {
            *s = info.to_string();
        }
    }));
    last_panic
}

/// `--replay`: checks a saved input under the seed's first four windows.
fn replay(path: &Path, seed: u64, last_panic: &Mutex<String>) -> ExitCode {
    let data = fs::read(path).unwrap_or_default();
    let mut rng = Rng(seed);
    let failed = (0..4).any(|_| {
        let w = window_for(&mut rng);
        IN_CHECK.store(true, Ordering::Relaxed);
        let r = panic::catch_unwind(|| check(&data, w));
        IN_CHECK.store(false, Ordering::Relaxed);
        r.is_err()
    });
    let msg = last_panic.lock().map(|s| s.clone()).unwrap_or_default();
    eprintln!(
        "fuzz_nemea: replay {}: {}",
        path.display(),
        if failed { msg.as_str() } else { "ok" }
    );
    ExitCode::from(u8::from(failed))
}

/// Saves the running input and ends the process (exit 3) when it runs
/// over `limit` ms.
fn watchdog(epoch: Instant, current: Arc<Mutex<Vec<u8>>>, crashes: PathBuf, limit: u64) {
    thread::spawn(move || loop {
        thread::sleep(Duration::from_millis(100));
        let start = STARTED_MS.load(Ordering::Relaxed);
        let now = epoch.elapsed().as_millis() as u64;
        if start > 0 && now.saturating_sub(start) > limit {
            let data = current.lock().map(|d| d.clone()).unwrap_or_default();
            let path = save(&crashes, "timeout", &data);
            eprintln!(
                "fuzz_nemea: an input ran over {limit} ms, saved as {}",
                path.display()
            );
            std::process::exit(3);
        }
    });
}

/// [`check`] of one input, watched: its outcome and how far the heap grew.
fn execute(
    data: &[u8],
    window: TimeWindow,
    epoch: Instant,
    current: &Mutex<Vec<u8>>,
) -> (thread::Result<Result<Parsed, String>>, usize) {
    if let Ok(mut c) = current.lock() {
        c.clear();
        c.extend_from_slice(data);
    }
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    STARTED_MS.store(epoch.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
    IN_CHECK.store(true, Ordering::Relaxed);
    let result = panic::catch_unwind(AssertUnwindSafe(|| check(data, window)));
    IN_CHECK.store(false, Ordering::Relaxed);
    STARTED_MS.store(0, Ordering::Relaxed);
    (result, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

/// The mutation loop, for `--seconds`; exit 1 when anything was found.
fn fuzz(
    a: &Args,
    epoch: Instant,
    current: &Mutex<Vec<u8>>,
    last_panic: &Mutex<String>,
) -> ExitCode {
    let mut corpus = corpus();
    let seeds = corpus.len();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut rng = Rng(a.seed);
    let mut found: HashSet<String> = HashSet::new();
    let mut findings = 0usize;
    let (mut execs, mut peak_input) = (0u64, 0usize);
    let max_alloc = a.max_alloc_mb << 20;
    eprintln!(
        "fuzz_nemea: seed {}, {} s, {} seed inputs, inputs up to {} bytes, {} ms and {} MiB each",
        a.seed, a.seconds, seeds, a.max_len, a.timeout_ms, a.max_alloc_mb
    );
    let deadline = Duration::from_secs_f64(a.seconds);
    let mut next_report = Duration::from_secs(60);
    let mut data = Vec::new();
    while epoch.elapsed() < deadline {
        data.clear();
        data.extend_from_slice(&corpus[rng.index(corpus.len())]);
        if execs >= seeds as u64 {
            mutate(&mut rng, &mut data, &corpus, a.max_len);
        }
        let window = window_for(&mut rng);
        let (result, grew) = execute(&data, window, epoch, current);
        peak_input = peak_input.max(grew);
        execs += 1;
        let failure = match &result {
            Err(_) => Some(last_panic.lock().map(|s| s.clone()).unwrap_or_default()),
            Ok(_) if grew > max_alloc => Some(format!("heap grew by {grew} bytes")),
            Ok(_) => None,
        };
        if let Some(msg) = failure {
            findings += 1;
            let key: String = msg.lines().next().unwrap_or("").chars().take(200).collect();
            if found.insert(key) {
                let path = save(&a.crashes, "panic", &data);
                eprintln!(
                    "fuzz_nemea: FOUND {msg}\n  input saved as {}",
                    path.display()
                );
            }
            continue;
        }
        if let Ok(r) = result {
            if seen.insert(signature(&r)) && corpus.len() < 10_000 {
                corpus.push(data.clone());
            }
        }
        if epoch.elapsed() >= next_report {
            eprintln!(
                "fuzz_nemea: {execs} execs, {:.0}/s, corpus {}, findings {findings}",
                execs as f64 / epoch.elapsed().as_secs_f64(),
                corpus.len()
            );
            next_report += Duration::from_secs(60);
        }
    }
    let secs = epoch.elapsed().as_secs_f64();
    println!(
        "fuzz_nemea: {execs} execs in {secs:.1} s ({:.0}/s), seed {}, corpus {} ({} seeds), \
         {findings} finding(s) ({} distinct), largest heap growth {} KiB",
        execs as f64 / secs,
        a.seed,
        corpus.len(),
        seeds,
        found.len(),
        peak_input / 1024
    );
    if findings > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
