//! `--check` (compare new rows with the profile in force, print alerts)
//! and `--evaluate-check` (replay the history hour by hour as cron would).

use std::io::{self, Write};

use telescope_core::netprofile::time::format_timestamp;
use telescope_core::netprofile::{self as np, Checked, EventKind, Tag, TagOutcome};

use crate::cli::{Cli, Verbosity};
use crate::clock::Clock;
use crate::report::Reporter;
use crate::summary::{self, CheckSummary, TagSummary};
use crate::tags::{or_internal, run_tags, Tally};
use crate::wording;

/// Writes `lines` to stdout and flushes; false when they could not all be
/// delivered.
fn write_lines(lines: &[String]) -> bool {
    if lines.is_empty() {
        return true;
    }
    let mut stdout = io::stdout().lock();
    lines
        .iter()
        .try_for_each(|l| writeln!(stdout, "{l}"))
        .and_then(|()| stdout.flush())
        .is_ok()
}

/// `--check`: every tag's events on stdout (in tag order, each tag's lines
/// delivered before its state is saved, so a crash repeats a tag's lines
/// rather than losing them).
pub fn check<W: Write>(
    cli: &Cli,
    opts: &np::ProfileOptions,
    clock: &Clock,
    tags: &[Tag],
    jobs: usize,
    out: &mut Reporter<W>,
    doc: &mut summary::Summary,
) -> Tally {
    let mut tally = Tally::default();
    let knobs = cli.check_args.options();
    let outcomes = run_tags(tags, jobs, |t| np::check_tag(t, opts, &knobs, clock.utc));
    // Every tag's lines first (in tag order), then every state at once.
    let mut outcomes: Vec<TagOutcome<Checked>> = tags
        .iter()
        .zip(outcomes.into_iter().map(or_internal))
        .map(|(tag, o)| deliver(cli, clock, tag, o, &mut tally))
        .collect();
    commit_all(tags, &mut outcomes);
    let mut totals = CheckSummary::default();
    let mut errors = Vec::with_capacity(tags.len());
    for (tag, mut outcome) in tags.iter().zip(outcomes) {
        let went_back = outcome.result.as_ref().ok().and_then(|c| c.clock_went_back);
        let went_back = went_back.map(|prev| {
            format!(
                "the clock ({} UTC) is earlier than the last check ({} UTC): rows already checked are not checked again",
                format_timestamp(clock.utc),
                format_timestamp(prev)
            )
        });
        if let Some(w) = &went_back {
            out.warn(&tag.name, w);
        }
        out.outcome(tag, &outcome);
        tally.count(&outcome);
        let mut entry = tag_entry(tag, &outcome);
        entry.warnings.extend(went_back);
        if let Ok(c) = outcome.result.as_mut() {
            let s = summary_of(c);
            totals.checked_rows += s.checked_rows;
            totals.rows_without_profile += s.rows_without_profile;
            totals.alerts_started += s.alerts_started;
            totals.open_episodes += s.open_episodes;
            tally.series += s.checked_rows;
            entry.check = Some(s);
        }
        errors.push(entry.error.clone());
        doc.tags.push(entry);
    }
    if let Some(page) = &cli.check_args.html {
        if let Err(e) = write_html(cli, page, tags, errors, clock.utc) {
            let _ = writeln!(out.err, "netprofile: error: --html: {}", wording::error(&e));
            tally.refused = true;
        }
    }
    if cli.verbosity() != Verbosity::Quiet || totals.rows_without_profile > 0 {
        let _ = writeln!(
            out.err,
            "netprofile: check: {} row(s) checked, {} without a profile in force (not compared), {} episode(s) started, {} open",
            totals.checked_rows, totals.rows_without_profile, totals.alerts_started, totals.open_episodes
        );
    }
    tally
}

/// Saves the state of every tag whose lines were delivered; a tag whose
/// state cannot be saved fails (its lines are printed again next run).
fn commit_all(tags: &[Tag], outcomes: &mut [TagOutcome<Checked>]) {
    let ready: Vec<usize> = (0..tags.len())
        .filter(|&i| outcomes[i].result.is_ok())
        .collect();
    let items: Vec<(&std::path::Path, &np::TagState)> = ready
        .iter()
        .filter_map(|&i| {
            let c = outcomes[i].result.as_ref().ok()?;
            Some((tags[i].dir.as_path(), &c.state))
        })
        .collect();
    let results = np::save_check_states(&items);
    for (i, r) in ready.into_iter().zip(results) {
        if let Err(e) = r {
            outcomes[i].result = Err(e);
        }
    }
}

/// Writes a checked tag's IDEA messages (`--idea`) and prints its lines; a
/// failure of either fails the tag (nothing saved: the next run checks the
/// same rows; an IDEA message written again keeps its ID and file name).
fn deliver(
    cli: &Cli,
    clock: &Clock,
    tag: &Tag,
    mut outcome: TagOutcome<Checked>,
    tally: &mut Tally,
) -> TagOutcome<Checked> {
    let Ok(c) = &outcome.result else {
        return outcome;
    };
    if tally.stdout_failed {
        outcome.result = Err(np::Error::Internal(
            "not checked: stdout failed for an earlier tag".into(),
        ));
        return outcome;
    }
    if let Some(dir) = &cli.check_args.idea {
        let node = &cli.check_args.idea_node;
        if let Err(e) = np::write_idea(dir, &tag.name, &c.events, node, clock.utc) {
            outcome.result = Err(e);
            return outcome;
        }
    }
    let lines: Vec<String> = c.events.iter().map(|e| e.to_json_line(&tag.name)).collect();
    if !write_lines(&lines) {
        tally.stdout_failed = true;
        outcome.result = Err(np::Error::Internal(
            "cannot write the alerts to stdout: nothing marked checked".into(),
        ));
        return outcome;
    }
    outcome
}

/// `--html PAGE`: the overview of `tags` (`errors`: each one's failure).
fn write_html(
    cli: &Cli,
    page: &std::path::Path,
    tags: &[Tag],
    errors: Vec<Option<String>>,
    now_utc: i64,
) -> Result<(), np::Error> {
    let views: Vec<(&Tag, Option<String>)> = tags.iter().zip(errors).collect();
    np::write_overview(cli.root(), page, &views, now_utc)
}

/// A tag's summary entry in the check modes: its data, warnings and error;
/// no series (a check forecasts none).
fn tag_entry<T>(tag: &Tag, outcome: &TagOutcome<T>) -> TagSummary {
    TagSummary::without_series(
        &tag.name,
        outcome.data.as_ref(),
        &outcome.warnings,
        outcome.result.as_ref().err().map(wording::error),
    )
}

fn summary_of(c: &Checked) -> CheckSummary {
    CheckSummary {
        checked_rows: c.counts.checked_rows,
        open_episodes: c.open_episodes(),
        alerts_started: c.alerts_started(),
        rows_without_profile: c.counts.rows_without_profile,
        repeated_rows: c.counts.repeated_rows,
    }
}

/// `--evaluate-check DAYS`: every tag's replayed events on stdout, each
/// line with the `run` (the replayed clock) that would have printed it.
pub fn evaluate<W: Write>(
    cli: &Cli,
    opts: &np::ProfileOptions,
    tags: &[Tag],
    jobs: usize,
    out: &mut Reporter<W>,
    doc: &mut summary::Summary,
) -> Tally {
    let mut tally = Tally::default();
    let days = cli.check_args.evaluate_check.unwrap_or(1);
    let knobs = cli.check_args.options();
    let outcomes = run_tags(tags, jobs, |t| np::replay_tag(t, opts, knobs, days));
    for (tag, outcome) in tags.iter().zip(outcomes.into_iter().map(or_internal)) {
        out.outcome(tag, &outcome);
        tally.count(&outcome);
        let mut entry = tag_entry(tag, &outcome);
        if let Ok(runs) = &outcome.result {
            let mut lines = Vec::new();
            let mut s = CheckSummary::default();
            for run in runs {
                s.checked_rows += run.counts.checked_rows;
                s.rows_without_profile += run.counts.rows_without_profile;
                s.repeated_rows += run.counts.repeated_rows;
                for e in &run.events {
                    if e.kind == EventKind::Start {
                        s.alerts_started += 1;
                    }
                    let line = e.to_json_line(&tag.name);
                    lines.push(format!(
                        "{{\"run\":\"{}\",{}",
                        format_timestamp(run.clock),
                        &line[1..]
                    ));
                }
            }
            tally.series += s.checked_rows;
            if !write_lines(&lines) {
                tally.stdout_failed = true;
            }
            if cli.verbosity() != Verbosity::Quiet {
                let _ = writeln!(
                    out.err,
                    "netprofile: tag {}: replay of {days} day(s): {} episode(s) started ({:.2} a day), {} row(s) checked, {} without a profile in force",
                    tag.name,
                    s.alerts_started,
                    s.alerts_started as f64 / f64::from(days),
                    s.checked_rows,
                    s.rows_without_profile
                );
            }
            entry.check = Some(s);
        }
        doc.tags.push(entry);
    }
    tally
}
