//! Running the tags (on threads) and recording each in the summary.

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use telescope_core::netprofile::{self as np, format_table, Discovery, Tag, TagOutcome};

use crate::cli::{Cli, Verbosity};
use crate::clock::Clock;
use crate::report::Reporter;
use crate::summary::{self, SeriesStatus, TagStatus, TagSummary};
use crate::wording;

/// How the processed tags ended.
#[derive(Debug, Default)]
pub struct Tally {
    /// Tags that succeeded.
    pub done: usize,
    /// Tags that failed.
    pub failed: usize,
    /// Series fitted or scored.
    pub series: usize,
    /// A tag was refused because a path it writes is not a regular file.
    pub refused: bool,
    /// `--evaluate`'s table (or a check's lines) could not be written to
    /// stdout.
    pub stdout_failed: bool,
}

impl Tally {
    pub(crate) fn count<T>(&mut self, outcome: &TagOutcome<T>) {
        if outcome.result.is_ok() {
            self.done += 1;
        } else {
            self.failed += 1;
        }
        if matches!(outcome.result, Err(np::Error::NotRegular { .. })) {
            self.refused = true;
        }
    }
}

/// Runs `f` on every tag with `jobs` threads; results in tag order. A panic
/// in one tag (a bug) becomes that tag's `Err` with the panic message.
pub(crate) fn run_tags<T: Send>(
    tags: &[Tag],
    jobs: usize,
    f: impl Fn(&Tag) -> T + Sync,
) -> Vec<Result<T, String>> {
    let guarded = |tag: &Tag| {
        panic::catch_unwind(AssertUnwindSafe(|| f(tag))).map_err(|p| {
            p.downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string())
        })
    };
    let jobs = jobs.clamp(1, tags.len().max(1));
    if jobs == 1 {
        return tags.iter().map(guarded).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Result<T, String>)> = thread::scope(|s| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                s.spawn(|| {
                    let mut local = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(tag) = tags.get(i) else { break };
                        local.push((i, guarded(tag)));
                    }
                    local
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| panic::resume_unwind(p)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// A tag's outcome, or the internal error that replaced it.
pub(crate) fn or_internal<T>(r: Result<TagOutcome<T>, String>) -> TagOutcome<T> {
    r.unwrap_or_else(|msg| TagOutcome {
        warnings: Vec::new(),
        result: Err(np::Error::Internal(msg)),
        data: None,
    })
}

/// Records the tags not processed: not selected by `--tag` (skipped),
/// named by several directories or asked for and absent (failed, printed).
/// Returns how many failed.
pub fn not_processed(
    cli: &Cli,
    found: &Discovery,
    err: &mut impl Write,
    doc: &mut summary::Summary,
) -> usize {
    let mut failed = 0;
    if !cli.tags.is_empty() {
        // Tag directories present but not selected.
        if let Ok(all) = np::discover(cli.root(), &[]) {
            let selected = |name: &str| {
                let n = np::tag_number(name);
                found.tags.iter().any(|t| np::tag_number(&t.name) == n)
                    || found.conflicts.iter().any(|c| Some(c.number.as_str()) == n)
            };
            for t in all.tags.iter().filter(|t| !selected(&t.name)) {
                doc.tags
                    .push(TagSummary::bare(&t.name, TagStatus::Skipped, None));
                doc.counts.skipped += 1;
            }
        }
    }
    for c in &found.conflicts {
        let e = np::Error::Conflict {
            number: c.number.clone(),
            names: c.names.clone(),
        };
        let e = wording::error(&e);
        let _ = writeln!(err, "netprofile: tag {}: error: {e}", c.number);
        doc.tags
            .push(TagSummary::bare(&c.number, TagStatus::Failed, Some(e)));
        failed += 1;
    }
    for tag in &found.missing {
        let e = np::Error::NoSuchTag {
            path: tag.dir.clone(),
        };
        let e = wording::error(&e);
        let _ = writeln!(err, "netprofile: tag {}: error: {e}", tag.name);
        doc.tags
            .push(TagSummary::bare(&tag.name, TagStatus::Failed, Some(e)));
        failed += 1;
    }
    failed
}

/// `--evaluate`: backtests every tag and prints the table on stdout.
pub fn evaluate<W: Write>(
    cli: &Cli,
    opts: &np::ProfileOptions,
    tags: &[Tag],
    jobs: usize,
    out: &mut Reporter<W>,
    doc: &mut summary::Summary,
) -> Tally {
    let mut tally = Tally::default();
    let outcomes = run_tags(tags, jobs, |t| np::evaluate_tag(t, opts, cli.evaluate_days));
    let mut table = Vec::new();
    for (tag, outcome) in tags.iter().zip(outcomes.into_iter().map(or_internal)) {
        out.outcome(tag, &outcome);
        tally.count(&outcome);
        let scored: Vec<_> = match &outcome.result {
            Ok(scores) => scores
                .iter()
                .map(|s| (s.protocol, s.metric, s.model))
                .collect(),
            Err(_) => Vec::new(),
        };
        doc.tags.push(TagSummary::processed(
            &tag.name,
            opts,
            outcome.data.as_ref(),
            &outcome.warnings,
            outcome.result.as_ref().err().map(wording::error),
            &scored,
            SeriesStatus::Scored,
        ));
        if cli.verbosity() == Verbosity::Verbose {
            out.unterminated_note(tag, &outcome);
        }
        if let Ok(scores) = outcome.result {
            tally.series += scores.len();
            table.push((tag.name.clone(), scores));
        }
    }
    let text = format_table(&table, opts.interval_width);
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        // Not a usage error: the table is lost, exit 1.
        Err(e) => {
            let _ = writeln!(out.err, "netprofile: error: cannot write to stdout: {e}");
            tally.stdout_failed = true;
        }
        Ok(()) => {}
    }
    tally
}

/// A normal run: writes every tag's profile.
pub fn profile<W: Write>(
    cli: &Cli,
    opts: &np::ProfileOptions,
    clock: &Clock,
    tags: &[Tag],
    jobs: usize,
    out: &mut Reporter<W>,
    doc: &mut summary::Summary,
) -> Tally {
    let mut tally = Tally::default();
    let run = np::RunOptions {
        now: clock.local,
        now_utc: clock.utc,
        keep: cli.keep,
        max_age: cli.max_age.map(|h| (h * 3.6e9).round() as i64),
        complete_only: cli.complete_only,
        plot: cli.plot,
    };
    let outcomes = run_tags(tags, jobs, |t| np::profile_tag(t, opts, &run));
    for (tag, outcome) in tags.iter().zip(outcomes.into_iter().map(or_internal)) {
        out.outcome(tag, &outcome);
        tally.count(&outcome);
        let fitted: Vec<_> = match &outcome.result {
            Ok(w) => w
                .fitted
                .iter()
                .map(|&(p, m, name)| (p, m, Some(name)))
                .collect(),
            Err(_) => Vec::new(),
        };
        let mut entry = TagSummary::processed(
            &tag.name,
            opts,
            outcome.data.as_ref(),
            &outcome.warnings,
            outcome.result.as_ref().err().map(wording::error),
            &fitted,
            SeriesStatus::Fitted,
        );
        if cli.verbosity() == Verbosity::Verbose {
            out.unterminated_note(tag, &outcome);
        }
        if let Ok(w) = &outcome.result {
            tally.series += w.series;
            entry.profile = Some(w.path.clone());
            entry.plot = w.plot.clone();
            entry.pruned = w.pruned;
            if cli.verbosity() == Verbosity::Verbose {
                wrote(&mut out.err, tag, w);
            }
        }
        doc.tags.push(entry);
    }
    tally
}

/// `-v`: what a tag wrote.
fn wrote(err: &mut impl Write, tag: &Tag, w: &np::Written) {
    let name = w.path.file_name().unwrap_or_default().to_string_lossy();
    let pruned = match w.pruned {
        0 => String::new(),
        n => format!(", {n} old profile(s) removed"),
    };
    let plot = match &w.plot {
        Some(p) => format!(
            " and {}",
            p.file_name().unwrap_or_default().to_string_lossy()
        ),
        None => String::new(),
    };
    let _ = writeln!(
        err,
        "netprofile: tag {}: wrote {name}{plot} ({} series{pruned})",
        tag.name, w.series
    );
}
