//! `netprofile`: hourly traffic profiles from NEMEA aggregates.
//!
//! A thin binary: it parses the command line, reads the clock and the
//! environment, runs tags on threads and prints; the work is in
//! `telescope_core::netprofile`.

mod cli;
#[path = "../common/docs.rs"]
mod docs;
mod lock;
#[path = "../common/messages.rs"]
mod messages;
mod summary;
#[path = "../common/usage.rs"]
mod usage;

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{LocalResult, Offset, TimeZone};
use clap::{CommandFactory, Parser};
use telescope_core::netprofile::evaluate::format_table;
use telescope_core::netprofile::time::{format_timestamp, parse_timestamp};
use telescope_core::netprofile::{self as np, Tag, TagOutcome, TimeWindow};

use cli::Cli;

/// Environment variable overriding the run's time (for tests).
const NOW_ENV: &str = "NETPROFILE_NOW";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(io::stderr(), "netprofile: error: {}", messages::chain(&e));
            ExitCode::from(2)
        }
    }
}

/// The run's clock, read once, in µs since the epoch.
struct Clock {
    /// Local wall-clock time (names the profiles).
    local: i64,
    /// The same instant in UTC (bounds the rows' times, which are UTC).
    utc: i64,
}

/// The run's clock: `NETPROFILE_NOW` (local time) or the system clock.
fn now() -> anyhow::Result<Clock> {
    match std::env::var(NOW_ENV) {
        Ok(s) => match parse_timestamp(s.as_bytes()) {
            Some(local) => Ok(Clock {
                local,
                utc: local_to_utc(local),
            }),
            None => bail!("{NOW_ENV}={s:?}: expected YYYY-MM-DDTHH:MM:SS[.ffffff]"),
        },
        Err(_) => {
            let t = chrono::Local::now();
            Ok(Clock {
                local: t.naive_local().and_utc().timestamp_micros(),
                utc: t.timestamp_micros(),
            })
        }
    }
}

/// The UTC instant of a local wall-clock time (µs). A repeated local time
/// (clocks going back) is its later instant; a skipped one (clocks going
/// forward) uses the offset from before the jump.
fn local_to_utc(local: i64) -> i64 {
    let Some(naive) = chrono::DateTime::from_timestamp_micros(local).map(|t| t.naive_utc()) else {
        return local;
    };
    let seconds = |o: chrono::FixedOffset| i64::from(o.local_minus_utc());
    let offset = match chrono::Local.from_local_datetime(&naive) {
        LocalResult::Single(t) => seconds(t.offset().fix()),
        LocalResult::Ambiguous(a, b) => seconds(a.offset().fix()).min(seconds(b.offset().fix())),
        LocalResult::None => {
            let before = naive - chrono::TimeDelta::days(1);
            seconds(chrono::Local.offset_from_utc_datetime(&before).fix())
        }
    };
    local - offset * 1_000_000
}

/// Runs `f` on every tag with `jobs` threads; results in tag order. A panic
/// in one tag (a bug) becomes that tag's `Err` with the panic message.
fn run_tags<T: Send>(
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
fn or_internal<T>(r: Result<TagOutcome<T>, String>) -> TagOutcome<T> {
    r.unwrap_or_else(|msg| TagOutcome {
        warnings: Vec::new(),
        result: Err(np::Error::Internal(msg)),
        data: None,
    })
}

/// Prints a tag's warnings and error; true when it succeeded.
fn report<T>(err: &mut impl Write, tag: &Tag, outcome: &TagOutcome<T>) -> bool {
    for w in &outcome.warnings {
        let _ = writeln!(err, "netprofile: tag {}: warning: {w}", tag.name);
    }
    if let Err(e) = &outcome.result {
        let _ = writeln!(err, "netprofile: tag {}: error: {e}", tag.name);
        return false;
    }
    true
}

/// Removes killed runs' temporary files from the tags' directories (the
/// caller holds DATA_ROOT's lock) and reports them.
fn remove_leftovers(err: &mut impl Write, tags: &[Tag], verbose: bool) {
    for tag in tags {
        let (removed, warnings) = np::write::remove_leftovers(&tag.dir);
        for w in warnings {
            let _ = writeln!(err, "netprofile: tag {}: warning: {w}", tag.name);
        }
        if verbose && removed > 0 {
            let _ = writeln!(
                err,
                "netprofile: tag {}: removed {removed} temporary file(s) left by a killed run",
                tag.name
            );
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::try_parse().unwrap_or_else(|e| usage::exit_without_misleading_tips(e));
    if docs::print_if_asked(Cli::command(), cli.completions, cli.man)
        .context("writing to stdout")?
    {
        return Ok(ExitCode::SUCCESS);
    }
    if cli.evaluate && cli.summary_json.as_deref() == Some(std::path::Path::new("-")) {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--summary-json - (stdout) cannot be used with --evaluate: stdout holds the table",
            )
            .exit();
    }
    let start = Instant::now();
    let clock = now()?;
    let mut opts = cli.profile_options();
    opts.window = TimeWindow::until(clock.utc);
    let mut doc = summary::Summary {
        schema: summary::SCHEMA,
        tool: "netprofile",
        version: env!("CARGO_PKG_VERSION"),
        run_time: format_timestamp(clock.local),
        run_time_utc: format!("{}Z", format_timestamp(clock.utc)),
        mode: if cli.evaluate { "evaluate" } else { "profile" },
        data_root: cli.root().display().to_string(),
        options: summary::Options::new(&cli, &opts),
        exit_code: 0,
        error: None,
        counts: summary::Counts::default(),
        ignored_entries: Vec::new(),
        tags: Vec::new(),
    };
    let code = match process(&cli, &opts, &clock, &mut doc, start) {
        Ok(code) => code,
        Err(e) => {
            // The whole run failed (unreadable DATA_ROOT): still tell monitoring.
            doc.exit_code = 2;
            doc.error = Some(messages::chain(&e));
            write_summary(&cli, &doc)?;
            return Err(e);
        }
    };
    doc.exit_code = code;
    write_summary(&cli, &doc)?;
    Ok(ExitCode::from(code))
}

/// Writes `--summary-json`, if asked for.
fn write_summary(cli: &Cli, doc: &summary::Summary) -> anyhow::Result<()> {
    if let Some(path) = &cli.summary_json {
        let json = doc
            .to_json()
            .context("--summary-json: cannot encode the summary")?;
        summary::write_atomically(path, &json).context("--summary-json")?;
    }
    Ok(())
}

/// Processes every tag; returns the exit status and fills `doc`.
fn process(
    cli: &Cli,
    opts: &np::ProfileOptions,
    clock: &Clock,
    doc: &mut summary::Summary,
    start: Instant,
) -> anyhow::Result<u8> {
    let jobs = cli
        .jobs
        .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()));
    // The library's message names the root and its cause: no second chain.
    let found = np::discover(cli.root(), &cli.tags).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut err = io::stderr().lock();
    let info = !cli.quiet;
    if cli.verbose {
        for name in &found.ignored {
            let _ = writeln!(err, "netprofile: ignored {name}: not a tag directory");
        }
    }
    doc.ignored_entries = found.ignored.clone();
    doc.counts.ignored_entries = found.ignored.len();
    // Runs that write hold DATA_ROOT's lock to the end (dropped on return).
    let _lock = if cli.evaluate {
        None
    } else {
        match lock::for_writing(cli.root(), cli.lock_wait(), &mut err)? {
            Some(l) => Some(l),
            None => {
                doc.error = Some("DATA_ROOT is locked by another netprofile run".into());
                return Ok(1);
            }
        }
    };
    if !cli.evaluate {
        remove_leftovers(&mut err, &found.tags, cli.verbose);
    }
    let mut failed = 0usize;
    if found.tags.is_empty() && found.missing.is_empty() && found.conflicts.is_empty() {
        // A cron run must alert on an unmounted root or a dead logger.
        let e = np::Error::NoTags {
            path: cli.root().to_path_buf(),
        };
        let _ = writeln!(err, "netprofile: error: {e}");
        doc.error = Some(e.to_string());
        failed += 1;
    }
    if !cli.tags.is_empty() {
        // Tag directories present but not selected.
        if let Ok(all) = np::discover(cli.root(), &[]) {
            let selected = |name: &str| {
                let n = np::discover::tag_number(name);
                found
                    .tags
                    .iter()
                    .any(|t| np::discover::tag_number(&t.name) == n)
                    || found.conflicts.iter().any(|c| Some(c.number.as_str()) == n)
            };
            for t in all.tags.iter().filter(|t| !selected(&t.name)) {
                doc.tags
                    .push(summary::TagSummary::bare(&t.name, "skipped", None));
                doc.counts.skipped += 1;
            }
        }
    }
    for c in &found.conflicts {
        let e = np::Error::Conflict {
            number: c.number.clone(),
            names: c.names.clone(),
        };
        let _ = writeln!(err, "netprofile: tag {}: error: {e}", c.number);
        doc.tags.push(summary::TagSummary::bare(
            &c.number,
            "failed",
            Some(e.to_string()),
        ));
        failed += 1;
    }
    for tag in &found.missing {
        let e = np::Error::NoSuchTag {
            path: tag.dir.clone(),
        };
        let _ = writeln!(err, "netprofile: tag {}: error: {e}", tag.name);
        doc.tags.push(summary::TagSummary::bare(
            &tag.name,
            "failed",
            Some(e.to_string()),
        ));
        failed += 1;
    }
    let (mut done, mut series) = (0usize, 0usize);
    let mut stdout_failed = false;
    if cli.evaluate {
        let outcomes = run_tags(&found.tags, jobs, |t| {
            np::evaluate_tag(t, opts, cli.evaluate_days)
        });
        let mut table = Vec::new();
        for (tag, outcome) in found.tags.iter().zip(outcomes.into_iter().map(or_internal)) {
            if report(&mut err, tag, &outcome) {
                done += 1;
            } else {
                failed += 1;
            }
            let scored: Vec<_> = match &outcome.result {
                Ok(scores) => scores
                    .iter()
                    .map(|s| (s.protocol, s.metric, s.model))
                    .collect(),
                Err(_) => Vec::new(),
            };
            doc.tags.push(summary::TagSummary::processed(
                &tag.name,
                opts,
                outcome.data.as_ref(),
                &outcome.warnings,
                outcome.result.as_ref().err().map(ToString::to_string),
                &scored,
                "scored",
            ));
            if cli.verbose {
                unterminated_note(&mut err, tag, &outcome);
            }
            if let Ok(scores) = outcome.result {
                series += scores.len();
                table.push((tag.name.clone(), scores));
            }
        }
        let text = format_table(&table, opts.interval_width);
        let mut out = io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            // Not a usage error: the table is lost, exit 1.
            Err(e) => {
                let _ = writeln!(err, "netprofile: error: cannot write to stdout: {e}");
                stdout_failed = true;
            }
            Ok(()) => {}
        }
    } else {
        let run = np::RunOptions {
            now: clock.local,
            now_utc: clock.utc,
            keep: cli.keep,
            max_age: cli.max_age.map(|h| (h * 3.6e9).round() as i64),
            complete_only: cli.complete_only,
            plot: cli.plot,
        };
        let outcomes = run_tags(&found.tags, jobs, |t| np::profile_tag(t, opts, &run));
        for (tag, outcome) in found.tags.iter().zip(outcomes.into_iter().map(or_internal)) {
            let ok = report(&mut err, tag, &outcome);
            let fitted = outcome.result.as_ref().map_or(&[][..], |w| &w.fitted[..]);
            let mut entry = summary::TagSummary::processed(
                &tag.name,
                opts,
                outcome.data.as_ref(),
                &outcome.warnings,
                outcome.result.as_ref().err().map(ToString::to_string),
                fitted,
                "fitted",
            );
            if cli.verbose {
                unterminated_note(&mut err, tag, &outcome);
            }
            if !ok {
                failed += 1;
                doc.tags.push(entry);
                continue;
            }
            done += 1;
            if let Ok(w) = &outcome.result {
                series += w.series;
                entry.profile = Some(w.path.clone());
                entry.plot = w.plot.clone();
                entry.pruned = w.pruned;
                if cli.verbose {
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
            }
            doc.tags.push(entry);
        }
    }
    doc.tags
        .sort_by(|a, b| np::discover::numeric_order(&a.tag, &b.tag));
    doc.counts.done = done;
    doc.counts.failed = failed;
    doc.counts.series = series;
    if info {
        let _ = writeln!(
            err,
            "netprofile: {done} tag(s) done, {failed} failed, {} other entries ignored; {series} series {}; {:.2} s",
            found.ignored.len(),
            if cli.evaluate { "evaluated" } else { "fitted" },
            start.elapsed().as_secs_f64()
        );
    }
    Ok(if failed > 0 || stdout_failed { 1 } else { 0 })
}

/// `-v`: says that a last line without a line end was not counted.
fn unterminated_note<T>(err: &mut impl Write, tag: &Tag, outcome: &TagOutcome<T>) {
    if outcome.data.is_some_and(|d| d.unterminated) {
        let _ = writeln!(
            err,
            "netprofile: tag {}: last line of data.csv has no line end yet: not counted",
            tag.name
        );
    }
}
