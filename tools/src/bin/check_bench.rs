//! Scores `netprofile --check`'s episode rule on injected anomalies (see
//! docs/check.md): `cargo run --release -p telescope-tools --bin check_bench --
//! ROOT...` (or `bench/check.sh`, which builds it as `target/release/check_bench`).
//!
//! For every tag of every data root: replays the last 5 days hour by hour
//! (profile, then check, as cron would; the first day only warms up),
//! counts the episodes started on the last 4 days (noise), then injects,
//! one at a time, surges (one protocol's bytes, packets and flows x3 for
//! 2-4 rows) and drops (to 20 % for 3-6 rows) every `--every` rows of each
//! protocol on the last 4 days, and replays from the hour before each:
//! a surge is found when the run that first sees its 2nd row (a drop: 3rd)
//! or an earlier one printed a start line for that protocol. The naive
//! baseline of the issue is scored on the same injections and days. Knob
//! lists (`--severity 1.5,2`) score every combination on the same
//! profiles.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use telescope_core::netprofile::nemea::Row;
use telescope_core::netprofile::time::HOUR_US;
use telescope_core::netprofile::{
    check_rows, replay_profile_at as profile_at, replay_visible as visible, CheckOptions,
    EventKind, MemoryProfiles, ReadProfile, TagState,
};
use telescope_core::netprofile::{discover, nemea, ProfileOptions, Protocol};

#[derive(Parser)]
struct Args {
    /// Data roots (each: <tag>/data.csv).
    roots: Vec<PathBuf>,
    /// Inject at every Nth row of each protocol on the last 4 days.
    #[arg(long, default_value_t = 4)]
    every: usize,
    /// Grace values to score.
    #[arg(long, value_delimiter = ',', default_value = "2")]
    grace: Vec<u32>,
    /// Severity values to score.
    #[arg(long, value_delimiter = ',', default_value = "2")]
    severity: Vec<f64>,
    /// Close-after values to score.
    #[arg(long, value_delimiter = ',', default_value = "2")]
    close: Vec<u32>,
    /// Rise values to score.
    #[arg(long, value_delimiter = ',', default_value = "1.5")]
    rise: Vec<f64>,
    /// Fall values to score.
    #[arg(long, value_delimiter = ',', default_value = "2")]
    fall: Vec<f64>,
    /// Min-metrics values to score.
    #[arg(long, value_delimiter = ',', default_value = "2")]
    metrics: Vec<usize>,
}

const DAY: i64 = 24 * HOUR_US;
type Profiles = Vec<(i64, Arc<ReadProfile>)>;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Surge,
    Drop,
}

/// One injection, with what its replay needs besides the tag's noise run.
struct Injection {
    tag: usize,
    protocol: Protocol,
    kind: Kind,
    rows: Vec<Row>,
    /// Index of the replay clock before the first anomalous row is seen.
    c0: usize,
    /// The runs after it, up to the deadline run, and their profiles.
    runs: Vec<i64>,
    profiles: Profiles,
    /// The baseline found it (a new baseline episode by the deadline row).
    baseline: bool,
}

struct TagData {
    rows: Vec<Row>,
    clocks: Vec<i64>,
    profiles: Profiles,
    /// Index of the first clock of the last 4 days.
    scored_from: usize,
}

fn protocols() -> Vec<Protocol> {
    vec![Protocol::ICMP, Protocol::TCP, Protocol::UDP]
}

fn load(root: &std::path::Path, opts: &ProfileOptions) -> anyhow::Result<Vec<TagData>> {
    let found = discover(root, &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = Vec::new();
    for tag in found.tags {
        let f = std::fs::File::open(tag.data_path()).context("data.csv")?;
        let rows = nemea::parse(f).map_err(|e| anyhow::anyhow!("{e}"))?.rows;
        let end = rows.iter().map(|r| r.last).max().unwrap_or(0);
        let to = end.div_euclid(HOUR_US) * HOUR_US + HOUR_US;
        let clocks: Vec<i64> = (0..=5 * 24).map(|h| to - 5 * DAY + h * HOUR_US).collect();
        let mut profiles = Vec::new();
        let mut seen = 0;
        for &c in &clocks {
            let v = visible(&rows, c);
            if v.len() != seen {
                seen = v.len();
                if let Some(p) = profile_at(&v, opts) {
                    profiles.push((c, p));
                }
            }
        }
        let scored_from = clocks.iter().position(|&c| c >= to - 4 * DAY).unwrap_or(0);
        out.push(TagData {
            rows,
            clocks,
            profiles,
            scored_from,
        });
    }
    Ok(out)
}

/// The naive baseline: per row, any metric above 3x or below 1/3 of the
/// median of the same UTC hour of day over the previous 7 days.
fn baseline_alerts(rows: &[Row]) -> Vec<bool> {
    rows.iter()
        .map(|r| {
            let hour = r.first.div_euclid(HOUR_US).rem_euclid(24);
            let prev: Vec<&Row> = rows
                .iter()
                .filter(|p| {
                    p.first < r.first
                        && p.first >= r.first - 7 * DAY
                        && p.first.div_euclid(HOUR_US).rem_euclid(24) == hour
                })
                .collect();
            if prev.is_empty() {
                return false;
            }
            let vals: [fn(&Row) -> u64; 3] = [|x| x.bytes, |x| x.packets, |x| x.count];
            vals.iter().any(|f| {
                let mut v: Vec<f64> = prev.iter().map(|p| f(p) as f64).collect();
                v.sort_by(f64::total_cmp);
                let n = v.len();
                let med = if n % 2 == 1 {
                    v[n / 2]
                } else {
                    (v[n / 2 - 1] + v[n / 2]) / 2.0
                };
                let x = f(r) as f64;
                x > 3.0 * med || x < med / 3.0
            })
        })
        .collect()
}

fn scale(r: &mut Row, f: f64) {
    r.bytes = (r.bytes as f64 * f).round() as u64;
    r.packets = (r.packets as f64 * f).round() as u64;
    r.count = (r.count as f64 * f).round() as u64;
}

fn injections(tags: &[TagData], every: usize, opts: &ProfileOptions) -> Vec<Injection> {
    let mut out = Vec::new();
    let mut n = 0usize;
    for (ti, t) in tags.iter().enumerate() {
        let start = t.clocks[t.scored_from];
        let end = *t.clocks.last().unwrap_or(&0);
        for p in protocols() {
            let idx: Vec<usize> = (0..t.rows.len())
                .filter(|&i| t.rows[i].protocol == p.0)
                .collect();
            let cand: Vec<usize> = (0..idx.len())
                .filter(|&k| t.rows[idx[k]].first >= start && k + 6 < idx.len())
                .filter(|&k| t.rows[idx[k + 6]].last <= end)
                .step_by(every.max(1))
                .collect();
            for k in cand {
                for kind in [Kind::Surge, Kind::Drop] {
                    n += 1;
                    let (len, factor, deadline) = match kind {
                        Kind::Surge => (2 + n % 3, 3.0, 2),
                        Kind::Drop => (3 + n % 4, 0.2, 3),
                    };
                    let mut rows = t.rows.clone();
                    for j in 0..len {
                        scale(&mut rows[idx[k + j]], factor);
                    }
                    let first_seen = rows[idx[k]].last;
                    let due = rows[idx[k + deadline - 1]].last;
                    let c0 = t.clocks.iter().rposition(|&c| c < first_seen).unwrap_or(0);
                    let runs: Vec<i64> = t.clocks[c0 + 1..]
                        .iter()
                        .copied()
                        .take_while(|&c| c < due + HOUR_US)
                        .filter(|&c| c <= due || c - HOUR_US < due)
                        .collect();
                    let profiles = runs
                        .iter()
                        .filter_map(|&c| profile_at(&visible(&rows, c), opts).map(|p| (c, p)))
                        .collect();
                    let prows: Vec<Row> =
                        rows.iter().filter(|r| r.protocol == p.0).copied().collect();
                    let alerts = baseline_alerts(&prows);
                    let baseline =
                        (0..deadline).any(|j| alerts[k + j] && (k + j == 0 || !alerts[k + j - 1]));
                    out.push(Injection {
                        tag: ti,
                        protocol: p,
                        kind,
                        rows,
                        c0,
                        runs,
                        profiles,
                        baseline,
                    });
                }
            }
        }
    }
    out
}

/// The noise run: episodes started on the last 4 days, and the state after
/// every clock.
fn noise(t: &TagData, opts: &CheckOptions) -> (usize, Vec<Option<TagState>>) {
    let mut mem = MemoryProfiles {
        profiles: t.profiles.clone(),
    };
    let mut state: Option<TagState> = None;
    let mut states = Vec::with_capacity(t.clocks.len());
    let mut started = 0;
    for (i, &c) in t.clocks.iter().enumerate() {
        let v = visible(&t.rows, c);
        let checked = check_rows(&v, &protocols(), state.take(), &mut mem, opts, c).unwrap();
        if i >= t.scored_from {
            started += checked.alerts_started();
        }
        state = Some(checked.state);
        states.push(state.clone());
    }
    (started, states)
}

fn found(inj: &Injection, t: &TagData, state: Option<TagState>, opts: &CheckOptions) -> bool {
    let before = t.clocks[inj.c0];
    let mut profiles: Profiles = t
        .profiles
        .iter()
        .filter(|(c, _)| *c <= before)
        .cloned()
        .collect();
    profiles.extend(inj.profiles.iter().cloned());
    let mut mem = MemoryProfiles { profiles };
    let mut state = state;
    for &c in &inj.runs {
        let v = visible(&inj.rows, c);
        let checked = check_rows(&v, &protocols(), state.take(), &mut mem, opts, c).unwrap();
        if checked
            .events
            .iter()
            .any(|e| e.kind == EventKind::Start && e.protocol == inj.protocol)
        {
            return true;
        }
        state = Some(checked.state);
    }
    false
}

/// Noise episodes of the baseline on the last 4 days.
fn baseline_noise(t: &TagData) -> usize {
    let from = t.clocks[t.scored_from];
    let mut n = 0;
    for p in protocols() {
        let prows: Vec<Row> = t
            .rows
            .iter()
            .filter(|r| r.protocol == p.0)
            .copied()
            .collect();
        let a = baseline_alerts(&prows);
        n += (0..prows.len())
            .filter(|&i| a[i] && (i == 0 || !a[i - 1]) && prows[i].last > from)
            .count();
    }
    n
}

fn f1(tp: usize, fp: usize, fnn: usize) -> f64 {
    let (tp, fp, fnn) = (tp as f64, fp as f64, fnn as f64);
    if tp == 0.0 {
        0.0
    } else {
        2.0 * tp / (2.0 * tp + fp + fnn)
    }
}

/// Every combination of the knobs given, in the order printed.
fn grid(args: &Args) -> Vec<CheckOptions> {
    let mut all = Vec::new();
    for &grace in &args.grace {
        for &severity in &args.severity {
            for &close_after in &args.close {
                for &min_metrics in &args.metrics {
                    for &rise in &args.rise {
                        for &fall in &args.fall {
                            all.push(CheckOptions {
                                grace,
                                severity,
                                close_after,
                                min_metrics,
                                rise,
                                fall,
                            });
                        }
                    }
                }
            }
        }
    }
    all
}

/// What one rule found on one data root.
struct Score {
    surges: usize,
    drops: usize,
    noise: usize,
}

/// One line of the table: `label`, then the share of `surges` and `drops`
/// injected that `score` found, its noise per tag per day and its F1.
fn print_row(label: &str, score: &Score, (surges, drops): (usize, usize), days: f64) {
    let found = score.surges + score.drops;
    println!(
        "  {label} | {:5.1}% {:5.1}% | {:5.2} | {:.3}",
        100.0 * score.surges as f64 / surges.max(1) as f64,
        100.0 * score.drops as f64 / drops.max(1) as f64,
        score.noise as f64 / days,
        f1(found, score.noise, surges + drops - found)
    );
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let opts = ProfileOptions::default();
    for root in &args.roots {
        let t0 = std::time::Instant::now();
        let tags = load(root, &opts)?;
        let inj = injections(&tags, args.every, &opts);
        let surges = inj.iter().filter(|i| i.kind == Kind::Surge).count();
        let injected = (surges, inj.len() - surges);
        let days = 4.0 * tags.len() as f64;
        let baseline_found = |k: Kind| inj.iter().filter(|i| i.kind == k && i.baseline).count();
        let baseline = Score {
            surges: baseline_found(Kind::Surge),
            drops: baseline_found(Kind::Drop),
            noise: tags.iter().map(baseline_noise).sum(),
        };
        println!(
            "{}: {} tag(s), {surges} surges, {} drops ({:.1} s to profile)",
            root.display(),
            tags.len(),
            injected.1,
            t0.elapsed().as_secs_f64()
        );
        println!("  grace severity close metrics rise fall | surges drops | noise/tag/day | F1");
        print_row(
            "baseline (3x / 1/3 of the 7-day same-hour median)",
            &baseline,
            injected,
            days,
        );
        for o in grid(&args) {
            let runs: Vec<_> = tags.iter().map(|t| noise(t, &o)).collect();
            let hit = |k: Kind| {
                inj.iter()
                    .filter(|i| i.kind == k)
                    .filter(|i| found(i, &tags[i.tag], runs[i.tag].1[i.c0].clone(), &o))
                    .count()
            };
            let score = Score {
                surges: hit(Kind::Surge),
                drops: hit(Kind::Drop),
                noise: runs.iter().map(|r| r.0).sum(),
            };
            let label = format!(
                "{} {} {} {} {} {}",
                o.grace, o.severity, o.close_after, o.min_metrics, o.rise, o.fall
            );
            print_row(&label, &score, injected, days);
        }
    }
    Ok(())
}
