//! `--check` (compare new rows with the profile in force, print alerts)
//! and `--evaluate-check` (replay the history hour by hour as cron would).

use std::io::{self, Write};

use serde::Serialize;
use telescope_core::netprofile::check::{self as ck, replay, CheckOptions, Checked};
use telescope_core::netprofile::time::{format_timestamp, HOUR_US};
use telescope_core::netprofile::{self as np, Tag, TagOutcome};

use crate::cli::Cli;
use crate::report::Reporter;
use crate::summary::{self, TagSummary};
use crate::tags::{or_internal, run_tags, Tally};
use crate::Clock;

/// The options of `--check` and `--evaluate-check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Compare every tag's rows not yet checked with the profile in force
    /// for them and print one JSON line on stdout when an episode out of
    /// profile starts or ends (see --help); writes only the check state.
    #[arg(long, conflicts_with_all = ["evaluate", "keep", "complete_only", "plot", "max_age"])]
    pub check: bool,

    /// Replay the last DAYS days (default 4) hour by hour as cron would
    /// (profile, then check) and print the episodes; writes nothing.
    #[arg(long, value_name = "DAYS", num_args = 0..=1, default_missing_value = "4",
          value_parser = clap::value_parser!(u32).range(1..=365),
          conflicts_with_all = ["evaluate", "check", "keep", "complete_only", "plot", "max_age"])]
    pub evaluate_check: Option<u32>,

    /// With --check: also write each episode's start as an IDEA message
    /// into DIR/tmp/, renamed into DIR/incoming/ (warden_filer's directory).
    #[arg(long, value_name = "DIR", requires = "check")]
    pub idea: Option<std::path::PathBuf>,

    /// The IDEA messages' Node.Name (the reporting system, reverse-domain).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "local.netprofile",
        requires = "idea"
    )]
    pub idea_node: String,

    /// With --check: also write an overview page of every tag (open
    /// episodes first, with their pictures), one static HTML file replaced
    /// atomically.
    #[arg(long, value_name = "FILE", requires = "check")]
    pub html: Option<std::path::PathBuf>,

    /// Consecutive out-of-profile rows before an episode opens.
    #[arg(long, value_name = "ROWS", default_value_t = CheckOptions::default().grace,
          value_parser = clap::value_parser!(u32).range(1..=48))]
    pub check_grace: u32,

    /// How far outside the band a metric must be to count, in multiples of
    /// the band's distance from yhat on a log scale (1: the band's edge).
    #[arg(long, value_name = "S", default_value_t = CheckOptions::default().severity,
          value_parser = severity)]
    pub check_severity: f64,

    /// Rows back inside the band after which an episode ends.
    #[arg(long, value_name = "ROWS", default_value_t = CheckOptions::default().close_after,
          value_parser = clap::value_parser!(u32).range(1..=48))]
    pub check_close: u32,

    /// Above the band, a metric opens an episode only at F times yhat or
    /// more.
    #[arg(long, value_name = "F", default_value_t = CheckOptions::default().rise,
          value_parser = factor)]
    pub check_rise: f64,

    /// Below the band, a metric opens an episode only at yhat / F or less.
    #[arg(long, value_name = "F", default_value_t = CheckOptions::default().fall,
          value_parser = factor)]
    pub check_fall: f64,
}

fn factor(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (1.0..=100.0).contains(&x) => Ok(x),
        _ => Err("expected a number from 1 (any change) to 100, e.g. 2".into()),
    }
}

fn severity(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (1.0..=50.0).contains(&x) => Ok(x),
        _ => Err("expected a number from 1 (the band's edge) to 50, e.g. 1.5".into()),
    }
}

impl CheckArgs {
    /// The library's knobs.
    pub fn options(&self) -> CheckOptions {
        CheckOptions {
            grace: self.check_grace,
            severity: self.check_severity,
            close_after: self.check_close,
            rise: self.check_rise,
            fall: self.check_fall,
            ..CheckOptions::default()
        }
    }

    /// True for `--check` or `--evaluate-check`.
    pub fn any(&self) -> bool {
        self.check || self.evaluate_check.is_some()
    }

    /// The summary's `mode`, if a check mode.
    pub fn mode(&self) -> Option<&'static str> {
        if self.check {
            Some("check")
        } else if self.evaluate_check.is_some() {
            Some("evaluate-check")
        } else {
            None
        }
    }
}

/// A tag's check figures in the summary JSON.
#[derive(Debug, Default, Serialize)]
pub struct CheckSummary {
    /// Rows compared with a profile.
    pub checked_rows: usize,
    /// Episodes open after the check.
    pub open_episodes: usize,
    /// Episodes that started in this check.
    pub alerts_started: usize,
    /// Rows with no profile in force (counted, not compared).
    pub rows_without_profile: usize,
    /// Rows within 30 minutes after the previous one of their protocol.
    pub repeated_rows: usize,
}

/// Dispatches `--check` or `--evaluate-check`.
pub fn run<W: Write>(
    cli: &Cli,
    opts: &np::ProfileOptions,
    clock: &Clock,
    tags: &[Tag],
    jobs: usize,
    out: &mut Reporter<W>,
    doc: &mut summary::Summary,
) -> Tally {
    match cli.check_args.evaluate_check {
        Some(days) => evaluate(cli, opts, days, tags, jobs, out, doc),
        None => check(cli, opts, clock, tags, jobs, out, doc),
    }
}

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

fn count<T>(tally: &mut Tally, outcome: &TagOutcome<T>, ok: bool) {
    if ok {
        tally.done += 1;
    } else {
        tally.failed += 1;
    }
    if matches!(outcome.result, Err(np::Error::NotRegular { .. })) {
        tally.refused = true;
    }
}

/// `--check`: every tag's events on stdout (in tag order, each tag's lines
/// delivered before its state is saved, so a crash repeats a tag's lines
/// rather than losing them).
fn check<W: Write>(
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
    let outcomes = run_tags(tags, jobs, |t| ck::check_tag(t, opts, &knobs, clock.utc));
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
        let ok = out.outcome(tag, &outcome);
        count(&mut tally, &outcome, ok);
        let mut entry = TagSummary::processed(
            &tag.name,
            opts,
            outcome.data.as_ref(),
            &outcome.warnings,
            outcome.result.as_ref().err().map(ToString::to_string),
            &[],
            "checked",
        );
        entry.series.clear();
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
            let _ = writeln!(out.err, "netprofile: error: --html: {e}");
            tally.refused = true;
        }
    }
    if !cli.quiet || totals.rows_without_profile > 0 {
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
    let items: Vec<(&std::path::Path, &ck::TagState)> = ready
        .iter()
        .filter_map(|&i| {
            let c = outcomes[i].result.as_ref().ok()?;
            Some((tags[i].dir.as_path(), &c.state))
        })
        .collect();
    let results = ck::state::save_all(&items);
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
        if let Err(e) = ck::idea::deliver(dir, &tag.name, &c.events, node, clock.utc) {
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
    let views: Vec<_> = tags
        .iter()
        .zip(errors)
        .map(|(t, e)| ck::html::tag_view(t, e))
        .collect();
    let link = |tag: &str| ck::html::svg_link(cli.root(), page, tag);
    let text = ck::html::render(&views, now_utc, &link);
    np::output::replace_atomically(page, text.as_bytes())
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

/// A tag's replay: its runs, or why it failed.
type Replayed = Vec<replay::ReplayRun>;

/// Replays one tag over the last `days` days of its data.
fn replay_tag(
    tag: &Tag,
    opts: &np::ProfileOptions,
    knobs: CheckOptions,
    days: u32,
) -> TagOutcome<Replayed> {
    let mut warnings = Vec::new();
    let mut data = None;
    let result = np::read_data(tag, opts.window, &mut warnings).and_then(|parsed| {
        data = Some(np::DataStats::of(&parsed));
        let Some(end) = parsed.rows.iter().map(|r| r.last).max() else {
            return Err(np::Error::NothingForecast);
        };
        let to = end.div_euclid(HOUR_US) * HOUR_US + HOUR_US;
        let from = to - i64::from(days) * 24 * HOUR_US;
        Ok(replay::replay(&parsed.rows, opts, knobs, from, to)?)
    });
    TagOutcome {
        warnings,
        result,
        data,
    }
}

/// `--evaluate-check DAYS`: every tag's replayed events on stdout, each
/// line with the `run` (the replayed clock) that would have printed it.
fn evaluate<W: Write>(
    cli: &Cli,
    opts: &np::ProfileOptions,
    days: u32,
    tags: &[Tag],
    jobs: usize,
    out: &mut Reporter<W>,
    doc: &mut summary::Summary,
) -> Tally {
    let mut tally = Tally::default();
    let knobs = cli.check_args.options();
    let outcomes = run_tags(tags, jobs, |t| replay_tag(t, opts, knobs, days));
    for (tag, outcome) in tags.iter().zip(outcomes.into_iter().map(or_internal)) {
        let ok = out.outcome(tag, &outcome);
        count(&mut tally, &outcome, ok);
        let mut entry = TagSummary::processed(
            &tag.name,
            opts,
            outcome.data.as_ref(),
            &outcome.warnings,
            outcome.result.as_ref().err().map(ToString::to_string),
            &[],
            "checked",
        );
        entry.series.clear();
        if let Ok(runs) = &outcome.result {
            let mut lines = Vec::new();
            let mut s = CheckSummary::default();
            for run in runs {
                s.checked_rows += run.counts.checked_rows;
                s.rows_without_profile += run.counts.rows_without_profile;
                s.repeated_rows += run.counts.repeated_rows;
                for e in &run.events {
                    if e.kind == ck::EventKind::Start {
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
            if !cli.quiet {
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
