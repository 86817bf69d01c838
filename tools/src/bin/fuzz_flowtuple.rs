//! Fuzz driver for the flowtuple reader: the Avro container, every block
//! codec (null, deflate, snappy, zstandard, bzip2) and every wrapper (gzip,
//! bzip2, zstd), down to decoded records. Stable Rust, no C toolchain: a
//! seeded mutation loop over the fixtures in `testdata/flowtuple/`.
//!
//! ```sh
//! cargo run --release -p telescope-tools --bin fuzz_flowtuple -- --seconds 600 --seed 7
//! cargo run --release -p telescope-tools --bin fuzz_flowtuple -- --seed 7 --replay 12345 --out bad.avro
//! ```
//!
//! `--messages` lists the kinds of errors met (numbers taken out), most
//! frequent first.
//!
//! Each execution mutates a fixture and reads it with
//! [`decode_only`] (the same reading path as a real run: wrappers,
//! checksums, bounds, decoding), on one thread and now and then on two.
//! It fails (exit 1) on a panic, on an execution running longer than
//! `--timeout-ms` (10 s: generous, for busy CI machines; a watchdog thread), when the live heap passes
//! `--max-heap-mb` (a counting global allocator), or when an error message
//! says the same thing twice in a row (`x: y: x: y`); the input is written to
//! `target/fuzz_flowtuple-failure.bin`. Inputs follow from the seed and the
//! execution number, so `--replay N` rebuilds input N.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::io::Cursor;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use telescope_core::flowtuple::{decode_only, Mode};
use telescope_test_support::rng::{Random, XorShift64Star as Rng};

/// Counts live heap bytes and the peak since the last reset; refuses any
/// allocation that would take the live heap past [`HARD_LIMIT`].
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Far above the checked bound: what a bomb would reach before the check
/// after the execution could see it.
const HARD_LIMIT: usize = 1 << 30;

// SAFETY: every request goes to the system allocator with the caller's
// layout, unchanged; a refused request returns null, which GlobalAlloc
// allows. The counters are atomics and never allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !charge(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = System.alloc(layout);
        if p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() && !charge(new_size - layout.size()) {
            return std::ptr::null_mut();
        }
        let p = System.realloc(ptr, layout, new_size);
        if p.is_null() {
            if new_size > layout.size() {
                LIVE.fetch_sub(new_size - layout.size(), Ordering::Relaxed);
            }
        } else if new_size < layout.size() {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        p
    }
}

/// Adds `bytes` to the live heap unless that passes the hard limit.
fn charge(bytes: usize) -> bool {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    if live > HARD_LIMIT {
        LIVE.fetch_sub(bytes, Ordering::Relaxed);
        return false;
    }
    PEAK.fetch_max(live, Ordering::Relaxed);
    true
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes that matter in Avro and in compressed streams: varint edges,
/// lengths, magic numbers.
const INTERESTING: [u8; 10] = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0xfe, 0x28, 0xb5, 0x1f];

/// Applies one to eight random mutations to `data`.
fn mutate(data: &mut Vec<u8>, corpus: &[Vec<u8>], rng: &mut Rng) {
    for _ in 0..1 + rng.index(8) {
        let len = data.len();
        match rng.index(9) {
            0 if len > 0 => {
                let i = rng.index(len);
                data[i] ^= 1 << rng.index(8);
            }
            1 if len > 0 => {
                let i = rng.index(len);
                data[i] = rng.next_u64() as u8;
            }
            2 if len > 0 => {
                let i = rng.index(len);
                data[i] = INTERESTING[rng.index(INTERESTING.len())];
            }
            3 => {
                let i = rng.index(len + 1);
                let n = 1 + rng.index(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                data.splice(i..i, bytes);
            }
            4 if len > 0 => {
                let i = rng.index(len);
                let n = (1 + rng.index(64)).min(len - i);
                data.drain(i..i + n);
            }
            5 if len > 0 => data.truncate(rng.index(len)),
            6 if len > 0 => {
                // Repeat a chunk: more blocks, longer strings.
                let i = rng.index(len);
                let n = (1 + rng.index(256)).min(len - i);
                let chunk = data[i..i + n].to_vec();
                let at = rng.index(len + 1);
                data.splice(at..at, chunk);
            }
            7 => {
                // Splice in part of another fixture.
                let other = &corpus[rng.index(corpus.len())];
                if !other.is_empty() {
                    let i = rng.index(other.len());
                    let n = (1 + rng.index(512)).min(other.len() - i);
                    let at = rng.index(len + 1);
                    let end = (at + n).min(len);
                    data.splice(at..end, other[i..i + n].iter().copied());
                }
            }
            _ if len > 0 => {
                // A varint-sized field rewritten: counts and lengths.
                let i = rng.index(len);
                let n = (1 + rng.index(10)).min(len - i);
                for (k, b) in data[i..i + n].iter_mut().enumerate() {
                    *b = if k + 1 < n {
                        0x80 | rng.next_u64() as u8
                    } else {
                        0x7f & rng.next_u64() as u8
                    };
                }
            }
            _ => {}
        }
    }
}

/// The input of execution `n`, and how it is read.
fn input(seed: u64, n: u64, corpus: &[Vec<u8>]) -> (Vec<u8>, Mode, usize) {
    let mut rng = Rng((seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
    for _ in 0..4 {
        rng.next_u64();
    }
    let mut data = corpus[rng.index(corpus.len())].clone();
    // One execution in 32 reads a fixture unchanged.
    if rng.index(32) != 0 {
        mutate(&mut data, corpus, &mut rng);
    }
    let mode = Mode::ALL[rng.index(Mode::ALL.len())];
    let threads = if rng.index(16) == 0 { 2 } else { 1 };
    (data, mode, threads)
}

/// The message as the binary prints it: the error and its sources.
fn message(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A part of `text` (split at `: `) said twice in a row, if any.
fn repeated(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split(": ").collect();
    for k in 1..=parts.len() / 2 {
        for i in 0..=parts.len() - 2 * k {
            if parts[i..i + k] == parts[i + k..i + 2 * k] {
                return Some(parts[i..i + k].join(": "));
            }
        }
    }
    None
}

/// A message with its numbers taken out, to count kinds of errors.
fn shape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out.chars().take(110).collect()
}

struct Args {
    messages: bool,
    seconds: f64,
    seed: u64,
    timeout: Duration,
    max_heap: usize,
    replay: Option<u64>,
    out: PathBuf,
    corpus: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let root = telescope_test_support::workspace_root();
    let mut args = Args {
        messages: false,
        seconds: 30.0,
        seed: 1,
        timeout: Duration::from_millis(10_000),
        max_heap: 128 << 20,
        replay: None,
        out: root.join("target/fuzz_flowtuple-failure.bin"),
        corpus: root.join("testdata/flowtuple"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let bad = |e: &dyn std::fmt::Display| format!("{flag}: {e}");
        match flag.as_str() {
            "--seconds" => args.seconds = value()?.parse().map_err(|e| bad(&e))?,
            "--seed" => args.seed = value()?.parse().map_err(|e| bad(&e))?,
            "--timeout-ms" => {
                args.timeout = Duration::from_millis(value()?.parse().map_err(|e| bad(&e))?)
            }
            "--max-heap-mb" => {
                args.max_heap = value()?.parse::<usize>().map_err(|e| bad(&e))? << 20
            }
            "--messages" => args.messages = true,
            "--replay" => args.replay = Some(value()?.parse().map_err(|e| bad(&e))?),
            "--out" => args.out = value()?.into(),
            "--corpus" => args.corpus = value()?.into(),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// The fixtures: every Avro file and wrapped Avro file in the corpus folder.
fn load_corpus(dir: &PathBuf) -> Result<Vec<Vec<u8>>, String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.to_string_lossy();
            [".avro", ".gz", ".bz2", ".zst", ".bin"]
                .iter()
                .any(|ext| name.ends_with(ext))
        })
        .collect();
    names.sort();
    let corpus: Vec<Vec<u8>> = names.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    if corpus.is_empty() {
        return Err(format!("no fixtures in {}", dir.display()));
    }
    Ok(corpus)
}

/// Execution number in progress and when it started (ms since `epoch`),
/// for the watchdog; `u64::MAX` between executions.
static CURRENT: AtomicU64 = AtomicU64::new(u64::MAX);
static STARTED_MS: AtomicU64 = AtomicU64::new(0);

fn fail(args: &Args, n: u64, data: &[u8], why: &str) -> ! {
    let _ = std::fs::write(&args.out, data);
    eprintln!(
        "fuzz_flowtuple: FAILED at execution {n} (seed {}): {why}; input written to {} (rebuild with --seed {} --replay {n})",
        args.seed,
        args.out.display(),
        args.seed
    );
    std::process::exit(1);
}

/// What the executions so far gave.
#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    max_peak: usize,
    shapes: BTreeMap<String, u64>,
    slowest: (Duration, u64),
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("fuzz_flowtuple: {e}");
        std::process::exit(2);
    });
    let corpus = load_corpus(&args.corpus).unwrap_or_else(|e| {
        eprintln!("fuzz_flowtuple: {e}");
        std::process::exit(2);
    });
    if let Some(n) = args.replay {
        let (data, mode, threads) = input(args.seed, n, &corpus);
        let _ = std::fs::write(&args.out, &data);
        let result = decode_only(Cursor::new(data), mode, threads);
        println!(
            "execution {n}: mode {mode}, -j{threads}, written to {}: {result:?}",
            args.out.display()
        );
        return;
    }
    let epoch = Instant::now();
    watchdog(epoch, args.timeout, args.seed);
    let deadline = Duration::from_secs_f64(args.seconds);
    let mut tally = Tally::default();
    let mut n = 0u64;
    while epoch.elapsed() < deadline {
        execute(&args, &corpus, n, epoch, &mut tally);
        n += 1;
    }
    report(&args, corpus.len(), n, epoch.elapsed().as_secs_f64(), tally);
}

/// Ends the process (exit 1) when an execution runs past `timeout`.
fn watchdog(epoch: Instant, timeout: Duration, seed: u64) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(100));
        let n = CURRENT.load(Ordering::Relaxed);
        let started = STARTED_MS.load(Ordering::Relaxed);
        let now = epoch.elapsed().as_millis() as u64;
        if n != u64::MAX && now.saturating_sub(started) > timeout.as_millis() as u64 {
            eprintln!(
                "fuzz_flowtuple: FAILED: execution {n} (seed {seed}) has run for more than {} ms; rebuild it with --seed {seed} --replay {n}",
                timeout.as_millis()
            );
            std::process::exit(1);
        }
    });
}

/// Runs execution `n` and checks it: [`fail`]s on a panic, a message
/// that repeats itself, or a heap over the limit.
fn execute(args: &Args, corpus: &[Vec<u8>], n: u64, epoch: Instant, tally: &mut Tally) {
    let (data, mode, threads) = input(args.seed, n, corpus);
    let copy = data.clone();
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    STARTED_MS.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    CURRENT.store(n, Ordering::Relaxed);
    let started = Instant::now();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        decode_only(Cursor::new(data), mode, threads)
    }));
    CURRENT.store(u64::MAX, Ordering::Relaxed);
    tally.slowest = tally.slowest.max((started.elapsed(), n));
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    tally.max_peak = tally.max_peak.max(peak);
    match result {
        Err(_) => fail(args, n, &copy, "panic"),
        Ok(Ok(_)) => tally.ok += 1,
        Ok(Err(e)) => {
            tally.errors += 1;
            let text = message(&e);
            if let Some(part) = repeated(&text) {
                fail(args, n, &copy, &format!("`{part}` said twice in {text:?}"));
            }
            if args.messages {
                *tally.shapes.entry(shape(&text)).or_default() += 1;
            }
        }
    }
    if peak > args.max_heap {
        fail(
            args,
            n,
            &copy,
            &format!(
                "{peak} bytes of heap, more than the {} allowed",
                args.max_heap
            ),
        );
    }
}

/// Prints the run's summary and, with `--messages`, the kinds of errors.
fn report(args: &Args, fixtures: usize, n: u64, secs: f64, tally: Tally) {
    let Tally {
        ok,
        errors,
        max_peak,
        shapes,
        slowest,
    } = tally;
    println!(
        "fuzz_flowtuple: seed {}, {} fixtures, {n} executions in {secs:.1} s ({:.0}/s): {ok} read, {errors} rejected with an error, 0 panics, 0 timeouts; largest heap of one execution {:.1} MB; slowest execution {:.0} ms (number {})",
        args.seed,
        fixtures,
        n as f64 / secs,
        max_peak as f64 / 1e6,
        slowest.0.as_secs_f64() * 1e3,
        slowest.1
    );
    let mut shapes: Vec<(u64, String)> = shapes.into_iter().map(|(s, n)| (n, s)).collect();
    shapes.sort_by(|a, b| b.cmp(a));
    for (n, s) in shapes {
        println!("{n:>9}  {s}");
    }
}
