//! The inputs of a printing run, in the order given: one file on all
//! threads; many files one per thread, each printed whole and in order;
//! or, with `--merge-repeated`, all into one merging aggregator.
//!
//! Every input ends in [`Report::end`]: its `--stats` line, its error, and
//! its place in the tally. Where the bytes of an input come from is
//! [`crate::input`]'s business only.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use telescope_core::flowtuple::{
    self, Aggregator, FlowtupleError, IntervalSeries, RunError, RunStats,
};

use crate::flags;
use crate::input;
use crate::messages;
use crate::options::{Options, Source};
use crate::output::{Delivery, HeaderFirst, Printer, Repeats};
use crate::progress;

/// What became of one input.
pub struct Outcome {
    /// The error of a bad input.
    pub error: Option<anyhow::Error>,
    /// The error was found by a check covering data already decoded (a
    /// wrapper's checksum): what was output before it is unverified.
    pub unverified: bool,
    /// What was read.
    pub stats: RunStats,
    /// How long it took.
    pub elapsed: Duration,
}

impl Outcome {
    /// The outcome of an input read from `started` on.
    pub fn of(result: anyhow::Result<()>, stats: RunStats, started: Instant) -> Outcome {
        let error = result.err();
        let unverified = error.as_ref().is_some_and(|e| {
            e.downcast_ref::<FlowtupleError>()
                .is_some_and(FlowtupleError::is_unverified)
        });
        Outcome {
            error,
            unverified,
            stats,
            elapsed: started.elapsed(),
        }
    }
}

/// The end of every input of a run: `--stats` lines, errors, the tally.
pub struct Report<'a> {
    opts: &'a Options,
    /// What the output does with an interval.
    done: Delivery,
    ok: usize,
    failed: usize,
}

impl<'a> Report<'a> {
    /// A report of a run whose output `done` intervals.
    pub fn new(opts: &'a Options, done: Delivery) -> Report<'a> {
        Report {
            opts,
            done,
            ok: 0,
            failed: 0,
        }
    }

    /// Reports the end of input `i`, of which `output` intervals were
    /// printed (or published) and `repeats` were not.
    pub fn end(&mut self, i: usize, outcome: Outcome, output: u64, repeats: &Repeats) {
        let opts = self.opts;
        let source = &opts.sources[i];
        let error = match outcome.error {
            Some(e) => Some(self.with_trust(e, outcome.unverified, output)),
            None => repeats.error(&opts.sources, source, self.done),
        };
        if opts.stats {
            let s = &outcome.stats;
            progress::say(&format!(
                "flowtuple-series: stats: {source}: {}records read {}, counted {}, intervals {output}, spilled {} bytes, {:.3} s",
                if error.is_some() { "FAILED after " } else { "" },
                s.records,
                s.kept,
                s.spilled,
                outcome.elapsed.as_secs_f64()
            ));
        }
        self.count(error);
    }

    /// Counts an input as ok (no error) or failed (its error printed).
    pub fn count(&mut self, error: Option<anyhow::Error>) {
        match error {
            None => self.ok += 1,
            Some(e) => {
                progress::say(&format!("flowtuple-series: {}", messages::chain(&e)));
                self.failed += 1;
            }
        }
    }

    /// Counts the input the run stopped at as failed (the error that
    /// stopped the run is printed by the caller).
    pub fn count_stopped(&mut self) {
        self.failed += 1;
    }

    /// `e`, saying that the intervals output before it came from data its
    /// check did not cover, when there were any.
    fn with_trust(&self, e: anyhow::Error, unverified: bool, output: u64) -> anyhow::Error {
        if !unverified || output == 0 {
            return e;
        }
        let done = self.done;
        anyhow::anyhow!(
            "{}; {output} interval(s) of this file were already {done} before the fault \
             was found: they came from unverified data and must not be trusted",
            messages::chain(&e)
        )
    }

    /// Ends a run of several inputs with the tally on stderr (unless
    /// `--quiet`); true when every input was ok.
    pub fn finish(&self) -> bool {
        let n = self.opts.sources.len();
        if n > 1 && !self.opts.quiet {
            let mut line = format!(
                "flowtuple-series: {n} files: {} ok, {} failed",
                self.ok, self.failed
            );
            let left = n - self.ok - self.failed;
            if left > 0 {
                line += &format!(", {left} not read (the run stopped)");
            }
            progress::say(&line);
        }
        self.failed == 0
    }
}

/// A failure to write output, as the run reports it.
fn output_error(e: io::Error) -> anyhow::Error {
    anyhow::Error::new(e)
        .context("write error")
        .context("writing output")
}

/// Prints the series of every input on stdout; the exit status says
/// whether every input was ok.
pub fn print(opts: &Options) -> anyhow::Result<ExitCode> {
    let stdout = io::stdout();
    let buffered = io::BufWriter::with_capacity(1 << 18, stdout.lock());
    let mut out = HeaderFirst::new(opts.formatter.header(), buffered);
    let mut printer = Printer::new(opts);
    let mut report = Report::new(opts, Delivery::Printed);
    let display = progress::Display::start(
        opts.progress,
        opts.sources.len(),
        input::total_bytes(&opts.sources),
    );
    let result = if opts.merge_repeated {
        merged(opts, &mut printer, &mut out, &mut report)
    } else if opts.sources.len() == 1 {
        one_file(opts, &mut printer, &mut out, &mut report)
    } else {
        many_files(opts, &mut printer, &mut out, &mut report)
    };
    display.finish();
    result?;
    out.flush().context("writing output")?;
    Ok(match report.finish() {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

/// Reads input `i` on `threads` threads, handing each interval to `emit`
/// as it completes. A bad input is in the outcome; output errors are `Err`.
fn process(
    opts: &Options,
    i: usize,
    threads: usize,
    emit: impl FnMut(IntervalSeries) -> io::Result<()>,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let source = &opts.sources[i];
    let mut stats = RunStats::default();
    let seen = &progress::COUNTERS.records;
    let result = input::open(source).map(|input| {
        flowtuple::series_counted(input, &opts.series, threads, &mut stats, seen, emit)
    });
    progress::COUNTERS.files.fetch_add(1, Ordering::Relaxed);
    let result = match result {
        Err(e) => Err(e),
        Ok(Ok(())) => Ok(()),
        Ok(Err(RunError::Input(e))) => Err(flags::input_error(e).context(source.to_string())),
        Ok(Err(RunError::Emit(e))) => return Err(output_error(e)),
    };
    Ok(Outcome::of(result, stats, started))
}

/// The single-file form: the file on all threads, each interval printed as
/// it completes.
pub fn one_file<W: Write>(
    opts: &Options,
    printer: &mut Printer,
    out: &mut HeaderFirst<'_, W>,
    report: &mut Report<'_>,
) -> anyhow::Result<()> {
    let mut repeats = Repeats::default();
    let mut printed = 0;
    let outcome = process(opts, 0, opts.threads, |iv| {
        printed += u64::from(printer.print(0, iv, &mut repeats, &mut *out)?);
        Ok(())
    })?;
    if outcome.error.is_none() {
        out.succeeded().context("writing output")?;
    }
    out.flush().context("writing output")?;
    report.end(0, outcome, printed, &repeats);
    Ok(())
}

/// `--merge-repeated`: every file, in the order given, into one merging
/// aggregator; every interval printed in ascending time at the end. A file
/// is read once to check it and once to count it, so that a bad file
/// leaves no record behind (stdin is held in memory for the second read).
pub fn merged<W: Write>(
    opts: &Options,
    printer: &mut Printer,
    out: &mut HeaderFirst<'_, W>,
    report: &mut Report<'_>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut agg = Aggregator::merging(&opts.series, opts.threads);
    let (mut any_ok, mut spilled) = (false, 0);
    for source in &opts.sources {
        if let Some(bytes) = add_merged(opts, source, &mut agg, report)? {
            spilled += bytes;
            any_ok = true;
        }
    }
    let mut intervals = 0u64;
    let mut repeats = Repeats::default();
    agg.finish_merged(&mut |iv| {
        intervals += 1;
        // Merged intervals are all distinct: the ledger lets each through.
        printer.print(0, iv, &mut repeats, &mut *out).map(|_| ())
    })
    .map_err(|e| match e {
        RunError::Input(e) => flags::input_error(e).context("writing output"),
        RunError::Emit(e) => output_error(e),
    })?;
    if any_ok {
        out.succeeded().context("writing output")?;
    }
    if opts.stats {
        progress::say(&format!(
            "flowtuple-series: stats: merged: intervals {intervals}, spilled {spilled} bytes, {:.3} s in all",
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}

/// Adds `source` to the merging aggregator, once checked whole (a bad
/// input is reported and adds nothing); the bytes it spilled, `None` when
/// it failed. `Err`: it failed on the second read (the run stops).
fn add_merged(
    opts: &Options,
    source: &Source,
    agg: &mut Aggregator,
    report: &mut Report<'_>,
) -> anyhow::Result<Option<u64>> {
    let started = Instant::now();
    let stdin: Option<Arc<[u8]>> = match source {
        Source::Stdin => {
            let mut data = Vec::new();
            input::open(source)?
                .read_to_end(&mut data)
                .context("<stdin>: cannot read")?;
            Some(data.into())
        }
        Source::Path(_) | Source::Remote(_) => None,
    };
    let reopen = || -> anyhow::Result<Box<dyn Read + Send>> {
        match &stdin {
            Some(data) => Ok(Box::new(io::Cursor::new(Arc::clone(data)))),
            None => input::open(source),
        }
    };
    let checked = reopen().and_then(|input| {
        flowtuple::check(input, &opts.series, opts.threads)
            .map_err(|e| flags::input_error(e).context(source.to_string()))
    });
    if let Err(e) = checked {
        if opts.stats {
            progress::say(&format!(
                "flowtuple-series: stats: {source}: FAILED on its check read, nothing counted, spilled 0 bytes, {:.3} s",
                started.elapsed().as_secs_f64()
            ));
        }
        report.count(Some(e));
        return Ok(None);
    }
    // Checked: an error now (the file changed under us) would leave part
    // of it counted, so nothing is printed.
    let input = reopen()?;
    let stats = flowtuple::feed(input, &opts.series, opts.threads, agg, |_| {
        Err(FlowtupleError::Internal(
            "a merging aggregator printed early".into(),
        ))
    })
    .map_err(|e| match e {
        RunError::Input(e) | RunError::Emit(e) => e,
    })
    .and_then(|stats| agg.end_input().map(|()| stats))
    .map_err(flags::input_error)
    .with_context(|| {
        format!("{source}: failed on the second read after a good first read; nothing printed")
    })?;
    progress::COUNTERS.files.fetch_add(1, Ordering::Relaxed);
    if opts.stats {
        progress::say(&format!(
            "flowtuple-series: stats: {source}: records read {}, counted {}, spilled {} bytes, {:.3} s (merged: its intervals are printed at the end)",
            stats.records,
            stats.kept,
            stats.spilled,
            started.elapsed().as_secs_f64()
        ));
    }
    report.count(None);
    Ok(Some(stats.spilled))
}

/// What a worker hands back for one file: formatted bytes (each interval's
/// time and end in them), or with dense keys (which depend on the files
/// before) the intervals themselves.
enum FileOutput {
    Bytes(Vec<u8>, Vec<(i64, usize)>),
    Intervals(Vec<IntervalSeries>),
}

/// Reads input `i` on one thread, keeping its output for the printer.
fn read_whole(opts: &Options, i: usize, intervals: bool) -> (FileOutput, Outcome) {
    let (output, outcome) = if intervals {
        let mut kept = Vec::new();
        let outcome = process(opts, i, 1, |iv| {
            kept.push(iv);
            Ok(())
        });
        (FileOutput::Intervals(kept), outcome)
    } else {
        let (mut buf, mut pieces) = (Vec::new(), Vec::new());
        let outcome = process(opts, i, 1, |iv| {
            opts.formatter.serialize(&iv, &mut buf);
            pieces.push((iv.time, buf.len()));
            Ok(())
        });
        (FileOutput::Bytes(buf, pieces), outcome)
    };
    // Nothing is written while reading: every error is the input's.
    let outcome =
        outcome.unwrap_or_else(|e| Outcome::of(Err(e), RunStats::default(), Instant::now()));
    (output, outcome)
}

/// Processes files on all threads, one file per thread, printing each
/// file's output whole and in the order given. At most `2 * workers` files
/// are taken and not yet printed, so memory stays bounded.
pub fn many_files<W: Write>(
    opts: &Options,
    printer: &mut Printer,
    out: &mut HeaderFirst<'_, W>,
    report: &mut Report<'_>,
) -> anyhow::Result<()> {
    let intervals = printer.needs_intervals();
    let n = opts.sources.len();
    let workers = opts.threads.min(n).max(1);
    let next = Mutex::new(0usize);
    let (token_tx, token_rx) = sync_channel::<()>(2 * workers);
    for _ in 0..2 * workers {
        let _ = token_tx.send(());
    }
    let token_rx = Mutex::new(token_rx);
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
                if i >= n {
                    return;
                }
                let (output, outcome) = read_whole(opts, i, intervals);
                if tx.send((i, output, outcome)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut printed = 0;
        while printed < n {
            let Ok((i, output, outcome)) = rx.recv() else {
                break;
            };
            pending.insert(i, (output, outcome));
            while let Some((output, outcome)) = pending.remove(&printed) {
                print_file(printed, output, outcome, printer, out, report)?;
                printed += 1;
                let _ = token_tx.send(());
            }
        }
        // Release workers still waiting for a token.
        drop(token_tx);
        Ok(())
    })
}

/// Prints what a worker read of input `i`, then reports its end.
fn print_file<W: Write>(
    i: usize,
    output: FileOutput,
    outcome: Outcome,
    printer: &mut Printer,
    out: &mut HeaderFirst<'_, W>,
    report: &mut Report<'_>,
) -> anyhow::Result<()> {
    let mut repeats = Repeats::default();
    let printed = match output {
        FileOutput::Bytes(buf, pieces) => {
            printer.print_formatted(i, &buf, &pieces, &mut repeats, &mut *out)
        }
        FileOutput::Intervals(intervals) => intervals.into_iter().try_fold(0, |n, iv| {
            Ok(n + u64::from(printer.print(i, iv, &mut repeats, &mut *out)?))
        }),
    }
    .context("writing output")?;
    if outcome.error.is_none() {
        out.succeeded().context("writing output")?;
    }
    out.flush().context("writing output")?;
    report.end(i, outcome, printed, &repeats);
    Ok(())
}
