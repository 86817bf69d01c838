//! `--progress`: files done, records read and records/s, and where the
//! input sizes are known (not stdin) the share read and an ETA. On a
//! terminal, one line on stderr redrawn twice a second; messages go
//! through [`say`], which clears the line first, so they never mix with
//! it. Into a file or pipe (`--progress always`), plain lines: one every
//! [`PLAIN_EVERY`] and one at the end, with no terminal control codes.

use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// When to show progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum When {
    /// Never.
    Never,
    /// When stderr is a terminal.
    Auto,
    /// Always (also into a file or pipe).
    Always,
}

/// What the line shows, updated by the workers.
pub static COUNTERS: Counters = Counters {
    files: AtomicU64::new(0),
    records: AtomicU64::new(0),
    bytes: AtomicU64::new(0),
};

/// Counts of a run so far.
#[derive(Debug)]
pub struct Counters {
    /// Files finished.
    pub files: AtomicU64,
    /// Records read.
    pub records: AtomicU64,
    /// Input bytes read.
    pub bytes: AtomicU64,
}

/// How often a plain progress line is written (into a file or pipe).
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Whether a line is on screen (then messages clear it first).
static SHOWN: AtomicBool = AtomicBool::new(false);
static STDERR: Mutex<()> = Mutex::new(());

/// Prints a message line on stderr, clearing the progress line first.
pub fn say(line: &str) {
    let _guard = STDERR.lock();
    let clear = if SHOWN.load(Ordering::SeqCst) {
        "\r\x1b[K"
    } else {
        ""
    };
    eprintln!("{clear}{line}");
}

/// The running display; [`Display::finish`] clears it (on a terminal) or
/// writes the last plain line.
pub struct Display {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    plain: bool,
    files: usize,
    bytes: Option<u64>,
    started: Instant,
}

impl Display {
    /// Starts the display of [`COUNTERS`] for `files` inputs of `bytes`
    /// bytes together (`None`: unknown), if `when` says so.
    pub fn start(when: When, files: usize, bytes: Option<u64>) -> Display {
        let terminal = std::io::stderr().is_terminal();
        let on = match when {
            When::Never => false,
            When::Auto => terminal,
            When::Always => true,
        };
        let plain = on && !terminal;
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = on.then(|| {
            let stop = stop.clone();
            std::thread::spawn(move || match plain {
                true => plain_lines(&stop, files, bytes, started),
                false => redrawn_line(&stop, files, bytes, started),
            })
        });
        Display {
            stop,
            thread,
            plain,
            files,
            bytes,
            started,
        }
    }

    /// Stops; clears the line on a terminal, writes a last plain line
    /// into a file or pipe.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
            if self.plain {
                let line = describe(&COUNTERS, self.files, self.bytes, self.started.elapsed());
                say(&line);
                return;
            }
            let _guard = STDERR.lock();
            if SHOWN.swap(false, Ordering::SeqCst) {
                eprint!("\r\x1b[K");
            }
        }
    }
}

/// On a terminal: the line redrawn twice a second until `stop`.
fn redrawn_line(stop: &AtomicBool, files: usize, bytes: Option<u64>, started: Instant) {
    loop {
        std::thread::park_timeout(Duration::from_millis(500));
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let line = describe(&COUNTERS, files, bytes, started.elapsed());
        let _guard = STDERR.lock();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{line}");
        let _ = err.flush();
        SHOWN.store(true, Ordering::SeqCst);
    }
}

/// Into a file or pipe: a plain line every [`PLAIN_EVERY`] until `stop`.
fn plain_lines(stop: &AtomicBool, files: usize, bytes: Option<u64>, started: Instant) {
    let mut next = started + PLAIN_EVERY;
    loop {
        std::thread::park_timeout(next.saturating_duration_since(Instant::now()));
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if Instant::now() >= next {
            say(&describe(&COUNTERS, files, bytes, started.elapsed()));
            next += PLAIN_EVERY;
        }
    }
}

fn describe(c: &Counters, files: usize, bytes: Option<u64>, elapsed: Duration) -> String {
    let records = c.records.load(Ordering::Relaxed);
    let read = c.bytes.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64().max(1e-3);
    let mut line = format!(
        "flowtuple-series: {}/{files} files, {:.1} M records, {:.2} M records/s",
        c.files.load(Ordering::Relaxed),
        records as f64 / 1e6,
        records as f64 / secs / 1e6
    );
    if let Some(total) = bytes.filter(|&t| t > 0 && read > 0) {
        let left = secs * (total.saturating_sub(read)) as f64 / read as f64;
        let left = left as u64;
        line += &format!(
            ", {:.0}% read, ETA {}:{:02}:{:02}",
            100.0 * read.min(total) as f64 / total as f64,
            left / 3600,
            left / 60 % 60,
            left % 60
        );
    }
    line
}

/// Counts the bytes read through it in [`COUNTERS`].
pub struct Counted<R>(pub R);

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        COUNTERS.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
