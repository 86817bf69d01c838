//! `flowtuple-series`: corsaro3 flowtuple Avro files to report-style time
//! series on stdout.

mod allocator;
mod checks;
mod cli;
#[path = "../common/docs.rs"]
mod docs;
mod formats;
mod kafka;
mod progress;
mod remote;
mod signals;

use std::fs::File;
use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use cli::{Options, Source};
use telescope_core::flowtuple::{
    self, Aggregator, Compat, Densifier, FlowtupleError, IntervalSeries, RunStats,
};

fn main() -> ExitCode {
    allocator::tune();
    match run() {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            progress::say(&format!("flowtuple-series: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let io =
            c.downcast_ref::<io::Error>()
                .or_else(|| match c.downcast_ref::<FlowtupleError>() {
                    Some(FlowtupleError::Output(io)) => Some(io),
                    _ => None,
                });
        io.is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run() -> anyhow::Result<ExitCode> {
    let opts = cli::parse();
    signals::install();
    if let Some(settings) = &opts.kafka {
        return kafka::run(&opts, settings);
    }
    let stdout = io::stdout();
    let buffered = io::BufWriter::with_capacity(1 << 18, stdout.lock());
    let mut out = HeaderFirst::new(opts.formatter.header(), buffered);
    let mut printer = Printer::new(&opts);
    let sizes: Option<u64> = opts
        .sources
        .iter()
        .map(|s| match s {
            Source::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Source::Stdin | Source::Remote(_) => None,
        })
        .sum();
    let display = progress::Display::start(opts.progress, opts.sources.len(), sizes);
    let ok = if opts.merge_repeated {
        merged(&opts, &mut printer, &mut out)
    } else if opts.sources.len() == 1 {
        one_file(&opts, &opts.sources[0], &mut printer, &mut out)
    } else {
        many_files(&opts, &mut printer, &mut out)
    };
    display.finish();
    let ok = ok?;
    out.flush().context("writing output")?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Output that starts with the format's header (csv) once: before the
/// first byte of output, or when a file succeeded without any (so a run
/// where every file fails prints no header).
struct HeaderFirst<'h, W> {
    header: &'h [u8],
    inner: W,
}

impl<'h, W: Write> HeaderFirst<'h, W> {
    fn new(header: &'h [u8], inner: W) -> Self {
        HeaderFirst { header, inner }
    }

    /// A file succeeded: the header is due even if it printed nothing.
    fn succeeded(&mut self) -> io::Result<()> {
        self.write_all(&[])
    }
}

impl<W: Write> Write for HeaderFirst<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        signals::whole(|| {
            if !self.header.is_empty() {
                self.inner.write_all(self.header)?;
                self.header = &[];
            }
            self.inner.write_all(buf)
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        signals::whole(|| self.inner.flush())
    }
}

fn open(source: &Source) -> anyhow::Result<Box<dyn Read + Send>> {
    Ok(match source {
        Source::Stdin => Box::new(progress::Counted(io::stdin())),
        Source::Path(p) => Box::new(progress::Counted(
            File::open(p).with_context(|| format!("{source}: cannot open"))?,
        )),
        Source::Remote(l) => Box::new(progress::Counted(remote::open(l)?)),
    })
}

/// Prints complete intervals in order: report rules' dense keys (which
/// carry keys from one printed interval to the next), then the format.
struct Printer<'a> {
    opts: &'a Options,
    dense: Option<Densifier>,
    buf: Vec<u8>,
}

impl<'a> Printer<'a> {
    fn new(opts: &'a Options) -> Printer<'a> {
        Printer {
            opts,
            dense: (opts.series.compat == Compat::Report).then(|| Densifier::new(&opts.series)),
            buf: Vec::new(),
        }
    }

    fn print(&mut self, mut interval: IntervalSeries, out: &mut dyn Write) -> std::io::Result<()> {
        if let Some(dense) = &mut self.dense {
            dense.apply(&mut interval);
        }
        self.buf.clear();
        self.opts.formatter.serialize(&interval, &mut self.buf);
        if self.buf.is_empty() {
            // Nothing to print: not even the header is due yet.
            return Ok(());
        }
        out.write_all(&self.buf)
    }
}

/// What became of one input: the error of a bad input, and its `--stats`
/// line (empty without `--stats`).
struct Outcome {
    error: Option<anyhow::Error>,
    stats: String,
}

impl Outcome {
    /// Prints the stats line, if any, on stderr.
    fn print_stats(&self) {
        if !self.stats.is_empty() {
            progress::say(&self.stats);
        }
    }
}

/// Processes one input, handing each interval to `emit` as it completes.
/// Returns the error of a bad input (output errors are returned as `Err`).
fn process(
    opts: &Options,
    source: &Source,
    threads: usize,
    mut emit: impl FnMut(IntervalSeries) -> std::io::Result<()>,
) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    let mut stats = RunStats::default();
    let mut intervals = 0u64;
    let result = open(source).and_then(|input| {
        let seen = &progress::COUNTERS.records;
        flowtuple::series_counted(input, &opts.series, threads, &mut stats, seen, |interval| {
            intervals += 1;
            emit(interval).map_err(FlowtupleError::Output)
        })
        .map_err(|e| match e.is_output() {
            true => anyhow::Error::new(e).context("writing output"),
            false => anyhow::Error::new(e).context(source.to_string()),
        })
    });
    progress::COUNTERS.files.fetch_add(1, Ordering::Relaxed);
    let error = match result {
        Ok(()) => None,
        Err(e)
            if e.downcast_ref::<FlowtupleError>()
                .is_some_and(|e| e.is_output()) =>
        {
            return Err(e)
        }
        Err(e) => Some(e),
    };
    let stats = match opts.stats {
        false => String::new(),
        true => format!(
            "flowtuple-series: stats: {source}: {}records read {}, counted {}, intervals {intervals}, spilled {} bytes, {:.3} s",
            if error.is_some() { "FAILED after " } else { "" },
            stats.records,
            stats.kept,
            stats.spilled,
            started.elapsed().as_secs_f64()
        ),
    };
    Ok(Outcome { error, stats })
}

fn one_file<W: Write>(
    opts: &Options,
    source: &Source,
    printer: &mut Printer<'_>,
    out: &mut HeaderFirst<'_, W>,
) -> anyhow::Result<bool> {
    let outcome = process(opts, source, opts.threads, |iv| {
        printer.print(iv, &mut *out)
    })?;
    outcome.print_stats();
    match outcome.error {
        None => {
            out.succeeded().context("writing output")?;
            Ok(true)
        }
        Some(e) => {
            out.flush().context("writing output")?;
            progress::say(&format!("flowtuple-series: {e:#}"));
            Ok(false)
        }
    }
}

/// `--merge-repeated`: every file, in the order given, into one merging
/// aggregator; every interval printed in ascending time at the end. A file
/// is read once to check it and once to count it, so that a bad file
/// leaves no record behind (stdin is held in memory for the second read).
fn merged<W: Write>(
    opts: &Options,
    printer: &mut Printer<'_>,
    out: &mut HeaderFirst<'_, W>,
) -> anyhow::Result<bool> {
    let mut agg = Aggregator::merging(&opts.series, opts.threads);
    let mut ok = true;
    let mut any_ok = false;
    for source in &opts.sources {
        let stdin: Option<Arc<[u8]>> = match source {
            Source::Stdin => {
                let mut data = Vec::new();
                open(source)?
                    .read_to_end(&mut data)
                    .context("<stdin>: cannot read")?;
                Some(data.into())
            }
            Source::Path(_) | Source::Remote(_) => None,
        };
        let reopen = || -> anyhow::Result<Box<dyn Read + Send>> {
            match &stdin {
                Some(data) => Ok(Box::new(io::Cursor::new(Arc::clone(data)))),
                None => open(source),
            }
        };
        let checked = reopen().and_then(|input| {
            flowtuple::check(input, &opts.series, opts.threads)
                .map_err(|e| anyhow::Error::new(e).context(source.to_string()))
        });
        if let Err(e) = checked {
            out.flush().context("writing output")?;
            progress::say(&format!("flowtuple-series: {e:#}"));
            ok = false;
            continue;
        }
        // Checked: an error now (the file changed under us) would leave
        // part of it counted, so nothing is printed.
        let input = reopen()?;
        flowtuple::feed(input, &opts.series, opts.threads, &mut agg, |_| {
            Err(FlowtupleError::Internal(
                "a merging aggregator printed early".into(),
            ))
        })
        .and_then(|_| agg.end_input())
        .with_context(|| {
            format!("{source}: failed on the second read after a good first read; nothing printed")
        })?;
        any_ok = true;
    }
    agg.finish_merged(&mut |iv| printer.print(iv, &mut *out).map_err(FlowtupleError::Output))
        .context("writing output")?;
    if any_ok {
        out.succeeded().context("writing output")?;
    }
    Ok(ok)
}

/// What a worker hands back for one file: formatted bytes, or with dense
/// keys (which depend on the files before) the intervals themselves.
enum FileOutput {
    Bytes(Vec<u8>),
    Intervals(Vec<IntervalSeries>),
}

/// Processes files on all threads, one file per thread, printing each
/// file's output whole and in the order given. At most `2 * workers` files
/// are taken and not yet printed, so memory stays bounded.
fn many_files<W: Write>(
    opts: &Options,
    printer: &mut Printer<'_>,
    out: &mut HeaderFirst<'_, W>,
) -> anyhow::Result<bool> {
    let dense = printer.dense.is_some();
    let n = opts.sources.len();
    let workers = opts.threads.min(n).max(1);
    let next = Mutex::new(0usize);
    let (token_tx, token_rx) = sync_channel::<()>(2 * workers);
    for _ in 0..2 * workers {
        let _ = token_tx.send(());
    }
    let token_rx = Mutex::new(token_rx);
    let mut ok = true;
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (tx, rx) = sync_channel::<(usize, FileOutput, Outcome)>(workers);
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, token_rx) = (&next, &token_rx);
            scope.spawn(move || loop {
                let got_token = token_rx.lock().map(|rx| rx.recv().is_ok()).unwrap_or(false);
                if !got_token {
                    return;
                }
                let i = match next.lock() {
                    Ok(mut next) => {
                        *next += 1;
                        *next - 1
                    }
                    Err(_) => return,
                };
                let Some(source) = opts.sources.get(i) else {
                    return;
                };
                let (output, err) = if dense {
                    let mut intervals = Vec::new();
                    let err = process(opts, source, 1, |iv| {
                        intervals.push(iv);
                        Ok(())
                    });
                    (FileOutput::Intervals(intervals), err)
                } else {
                    let mut buf = Vec::new();
                    let err = process(opts, source, 1, |iv| {
                        opts.formatter.serialize(&iv, &mut buf);
                        Ok(())
                    });
                    (FileOutput::Bytes(buf), err)
                };
                let outcome = err.unwrap_or_else(|e| Outcome {
                    error: Some(e),
                    stats: String::new(),
                });
                if tx.send((i, output, outcome)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut printed = 0;
        while printed < n {
            let Ok((i, buf, outcome)) = rx.recv() else {
                break;
            };
            pending.insert(i, (buf, outcome));
            while let Some((output, outcome)) = pending.remove(&printed) {
                outcome.print_stats();
                let err = outcome.error;
                match output {
                    // An empty write would still print the header.
                    FileOutput::Bytes(buf) if buf.is_empty() => Ok(()),
                    FileOutput::Bytes(buf) => out.write_all(&buf),
                    FileOutput::Intervals(intervals) => intervals
                        .into_iter()
                        .try_for_each(|iv| printer.print(iv, &mut *out)),
                }
                .context("writing output")?;
                if err.is_none() {
                    out.succeeded().context("writing output")?;
                }
                if let Some(e) = err {
                    out.flush().context("writing output")?;
                    progress::say(&format!("flowtuple-series: {e:#}"));
                    ok = false;
                }
                printed += 1;
                let _ = token_tx.send(());
            }
        }
        // Release workers still waiting for a token.
        drop(token_tx);
        Ok(())
    })?;
    Ok(ok)
}
