//! `netprofile`: hourly traffic profiles from NEMEA aggregates.
//!
//! A thin binary: it parses the command line, reads the clock and the
//! environment, runs tags on threads and prints; the work is in
//! `telescope_core::netprofile`.

mod check;
mod cli;
#[path = "../common/docs.rs"]
mod docs;
mod lock;
#[path = "../common/messages.rs"]
mod messages;
mod report;
mod summary;
mod tags;
#[path = "../common/usage.rs"]
mod usage;

use std::io::{self, Write};
use std::process::ExitCode;
use std::thread;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{LocalResult, Offset, TimeZone};
use clap::{CommandFactory, Parser};
use telescope_core::netprofile::time::{format_timestamp, parse_timestamp};
use telescope_core::netprofile::{self as np, TimeWindow};

use cli::Cli;
use report::Reporter;

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
pub(crate) struct Clock {
    /// Local wall-clock time (names the profiles).
    pub(crate) local: i64,
    /// The same instant in UTC (bounds the rows' times, which are UTC).
    pub(crate) utc: i64,
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

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::try_parse().unwrap_or_else(|e| usage::exit_without_misleading_tips(e));
    if docs::print_if_asked(Cli::command(), cli.completions, cli.man)
        .context("writing to stdout")?
    {
        return Ok(ExitCode::SUCCESS);
    }
    if (cli.evaluate || cli.check_args.any())
        && cli.summary_json.as_deref() == Some(std::path::Path::new("-"))
    {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--summary-json - (stdout) cannot be used with --evaluate, --check or --evaluate-check: stdout holds their output",
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
        mode: match cli.check_args.mode() {
            Some(mode) => mode,
            None if cli.evaluate => "evaluate",
            None => "profile",
        },
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
        summary::write_to(path, &json).context("--summary-json")?;
    }
    Ok(())
}

/// For a run that writes `tags`: takes DATA_ROOT's lock, loads the `-q`
/// warnings state and removes killed runs' leftovers. `Ok(None)`: another
/// run held the lock (reported); `Err`: the lock or state file cannot be
/// used (exit 2).
fn prepare_writing<W: Write>(
    cli: &Cli,
    tags: &[np::Tag],
    out: &mut Reporter<W>,
) -> anyhow::Result<Option<np::lock::RootLock>> {
    let Some(lock) = lock::for_writing(cli.root(), cli.lock_wait(), cli.quiet, &mut out.err)?
    else {
        return Ok(None);
    };
    if cli.quiet {
        let (notices, ignored) =
            np::notices::Notices::load(cli.root()).map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(why) = ignored {
            let _ = writeln!(
                out.err,
                "netprofile: warning: ignoring {} ({why}): every warning is printed this time",
                np::notices::state_path(cli.root()).display()
            );
        }
        out.filter_with(notices);
    }
    out.remove_leftovers(tags, cli.verbose);
    Ok(Some(lock))
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
    let mut out = Reporter::new(io::stderr().lock(), clock.utc);
    if cli.verbose {
        for name in &found.ignored {
            let _ = writeln!(out.err, "netprofile: ignored {name}: not a tag directory");
        }
    }
    doc.ignored_entries = found.ignored.clone();
    doc.counts.ignored_entries = found.ignored.len();
    if found.tags.is_empty() && found.missing.is_empty() && found.conflicts.is_empty() {
        // A cron run must alert on an unmounted root or a dead logger; it
        // creates nothing there (not even the lock file).
        let e = np::Error::NoTags {
            path: cli.root().to_path_buf(),
        };
        let _ = writeln!(out.err, "netprofile: error: {e}");
        doc.error = Some(e.to_string());
        return Ok(1);
    }
    // Runs that write hold DATA_ROOT's lock to the end (dropped on return);
    // without a tag directory to write in, none is taken.
    let no_lock = cli.evaluate || cli.check_args.evaluate_check.is_some();
    let _lock = if no_lock || found.tags.is_empty() {
        None
    } else {
        match prepare_writing(cli, &found.tags, &mut out)? {
            Some(l) => Some(l),
            None => {
                doc.error = Some("DATA_ROOT is locked by another netprofile run".into());
                return Ok(1);
            }
        }
    };
    let not_processed = tags::not_processed(cli, &found, &mut out.err, doc);
    let tally = if cli.check_args.any() {
        check::run(cli, opts, clock, &found.tags, jobs, &mut out, doc)
    } else if cli.evaluate {
        tags::evaluate(cli, opts, &found.tags, jobs, &mut out, doc)
    } else {
        tags::profile(cli, opts, clock, &found.tags, jobs, &mut out, doc)
    };
    let (done, series) = (tally.done, tally.series);
    let failed = not_processed + tally.failed;
    if _lock.is_some() {
        let all = np::discover(cli.root(), &[])
            .map(|d| d.tags)
            .unwrap_or_default();
        let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
        out.save_notices(cli.root(), &names);
    }
    doc.tags
        .sort_by(|a, b| np::discover::numeric_order(&a.tag, &b.tag));
    doc.counts.done = done;
    doc.counts.failed = failed;
    doc.counts.series = series;
    if !cli.quiet {
        let _ = writeln!(
            out.err,
            "netprofile: {done} tag(s) done, {failed} failed, {} other entries ignored; {series} series {}; {:.2} s",
            found.ignored.len(),
            match (cli.check_args.any(), cli.evaluate) {
                (true, _) => "(rows) checked",
                (false, true) => "evaluated",
                (false, false) => "fitted",
            },
            start.elapsed().as_secs_f64()
        );
    }
    // A tag refused because a path is not a regular file needs the
    // operator: exit 2 (the other tags were still processed).
    Ok(if tally.refused {
        2
    } else if failed > 0 || tally.stdout_failed {
        1
    } else {
        0
    })
}
