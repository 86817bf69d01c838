//! One run over DATA_ROOT, step by step: find the tags, take DATA_ROOT's
//! lock when the run writes, run the mode's tags, count them and say how
//! the run ended.

use std::io::{self, Write};
use std::thread;
use std::time::Instant;

use telescope_core::netprofile::{self as np, Discovery, RootLock, Tag};

use crate::check;
use crate::cli::{Cli, RunMode, Verbosity};
use crate::clock::Clock;
use crate::lock;
use crate::report::Reporter;
use crate::summary::Summary;
use crate::tags::{self, Tally};
use crate::wording;

/// How a run ends: the process's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: every tag succeeded.
    Success,
    /// 1: a tag failed (the others were processed), DATA_ROOT holds no tag
    /// directory, the lock was busy, or stdout could not be written.
    Failed,
    /// 2: the operator is needed: a usage error, an unreadable DATA_ROOT, a
    /// lock or state file that cannot be used, a path refused because it is
    /// not a regular file, or `--summary-json` failed.
    Operator,
}

impl Exit {
    /// The exit status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Operator => 2,
        }
    }
}

/// DATA_ROOT's lock as a run needs it.
enum WritingLock {
    /// The run writes nothing (`--evaluate`, `--evaluate-check`, or no tag
    /// directory to write in): no lock.
    NotNeeded,
    /// Held until the run ends (dropping it releases the lock).
    Held {
        /// Never read: it is held by being kept.
        _lock: RootLock,
    },
    /// Another run held it for the whole wait (reported).
    Busy,
}

/// Processes every tag; returns how the run ends and fills `doc`. `Err`:
/// DATA_ROOT, the lock or the warnings' state cannot be used (exit 2).
pub fn process(
    cli: &Cli,
    opts: &np::ProfileOptions,
    clock: &Clock,
    doc: &mut Summary,
    start: Instant,
) -> anyhow::Result<Exit> {
    // The library's message names the root and its cause: no second chain.
    let found = np::discover(cli.root(), &cli.tags)
        .map_err(|e| anyhow::anyhow!("{}", wording::error(&e)))?;
    let mut out = Reporter::new(io::stderr().lock(), clock.utc);
    record_ignored(cli, &found, &mut out, doc);
    if found.tags.is_empty() && found.missing.is_empty() && found.conflicts.is_empty() {
        return Ok(no_tags(cli, &mut out, doc));
    }
    // Runs that write hold DATA_ROOT's lock to the end (dropped on return).
    let lock = writing_lock(cli, &found.tags, &mut out)?;
    if let WritingLock::Busy = lock {
        doc.error = Some("DATA_ROOT is locked by another netprofile run".into());
        return Ok(Exit::Failed);
    }
    let not_processed = tags::not_processed(cli, &found, &mut out.err, doc);
    let tally = run_mode(cli, opts, clock, &found.tags, &mut out, doc);
    if let WritingLock::Held { .. } = lock {
        let all = np::discover(cli.root(), &[])
            .map(|d| d.tags)
            .unwrap_or_default();
        let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
        out.save_notices(cli.root(), &names);
    }
    let failed = not_processed + tally.failed;
    record_counts(&tally, failed, doc);
    if cli.verbosity() != Verbosity::Quiet {
        let _ = writeln!(
            out.err,
            "netprofile: {} tag(s) done, {failed} failed, {} other entries ignored; {} series {}; {:.2} s",
            tally.done,
            found.ignored.len(),
            tally.series,
            match cli.mode() {
                RunMode::Evaluate => "evaluated",
                RunMode::Profile => "fitted",
                RunMode::Check | RunMode::EvaluateCheck => "(rows) checked",
            },
            start.elapsed().as_secs_f64()
        );
    }
    Ok(exit_status(&tally, failed))
}

/// `-v` names the entries of DATA_ROOT that are not tags; the summary
/// lists them.
fn record_ignored<W: Write>(
    cli: &Cli,
    found: &Discovery,
    out: &mut Reporter<W>,
    doc: &mut Summary,
) {
    if cli.verbosity() == Verbosity::Verbose {
        for name in &found.ignored {
            let _ = writeln!(out.err, "netprofile: ignored {name}: not a tag directory");
        }
    }
    doc.ignored_entries = found.ignored.clone();
    doc.counts.ignored_entries = found.ignored.len();
}

/// DATA_ROOT holds no tag directory: a cron run must alert on an unmounted
/// root or a dead logger; it creates nothing there (not even the lock
/// file).
fn no_tags<W: Write>(cli: &Cli, out: &mut Reporter<W>, doc: &mut Summary) -> Exit {
    let e = np::Error::NoTags {
        path: cli.root().to_path_buf(),
    };
    let e = wording::error(&e);
    let _ = writeln!(out.err, "netprofile: error: {e}");
    doc.error = Some(e);
    Exit::Failed
}

/// For a run that writes `tags`: takes DATA_ROOT's lock, loads the `-q`
/// warnings state and removes killed runs' leftovers. `Err`: the lock or
/// state file cannot be used (exit 2).
fn writing_lock<W: Write>(
    cli: &Cli,
    tags: &[Tag],
    out: &mut Reporter<W>,
) -> anyhow::Result<WritingLock> {
    if !cli.mode().writes() || tags.is_empty() {
        return Ok(WritingLock::NotNeeded);
    }
    let Some(lock) = lock::for_writing(cli.root(), cli.lock_wait(), cli.verbosity(), &mut out.err)?
    else {
        return Ok(WritingLock::Busy);
    };
    if cli.verbosity() == Verbosity::Quiet {
        let (notices, ignored) =
            np::Notices::load(cli.root()).map_err(|e| anyhow::anyhow!("{}", wording::error(&e)))?;
        if let Some(why) = ignored {
            let _ = writeln!(
                out.err,
                "netprofile: warning: ignoring {} ({why}): every warning is printed this time",
                np::notices_path(cli.root()).display()
            );
        }
        out.filter_with(notices);
    }
    out.remove_leftovers(tags, cli.verbosity());
    Ok(WritingLock::Held { _lock: lock })
}

/// Runs the tags in the way of the run's mode: the dispatch point of every
/// mode (profile and evaluate in `tags`, the checks in `check`).
fn run_mode<W: Write>(
    cli: &Cli,
    opts: &np::ProfileOptions,
    clock: &Clock,
    tags: &[Tag],
    out: &mut Reporter<W>,
    doc: &mut Summary,
) -> Tally {
    let jobs = cli
        .jobs
        .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()));
    match cli.mode() {
        RunMode::Evaluate => tags::evaluate(cli, opts, tags, jobs, out, doc),
        RunMode::Profile => tags::profile(cli, opts, clock, tags, jobs, out, doc),
        RunMode::Check => check::check(cli, opts, clock, tags, jobs, out, doc),
        RunMode::EvaluateCheck => check::evaluate(cli, opts, tags, jobs, out, doc),
    }
}

/// The summary's tags in numeric order and its counts.
fn record_counts(tally: &Tally, failed: usize, doc: &mut Summary) {
    doc.tags.sort_by(|a, b| np::numeric_order(&a.tag, &b.tag));
    doc.counts.done = tally.done;
    doc.counts.failed = failed;
    doc.counts.series = tally.series;
}

/// A tag refused because a path is not a regular file needs the operator
/// (exit 2; the other tags were still processed); any other failure is 1.
fn exit_status(tally: &Tally, failed: usize) -> Exit {
    if tally.refused {
        Exit::Operator
    } else if failed > 0 || tally.stdout_failed {
        Exit::Failed
    } else {
        Exit::Success
    }
}
