//! Generates a synthetic NEMEA data root for netprofile benchmarks and tests.
//!
//! `cargo run --release -p telescope-tools --bin gen_nemea -- OUT_DIR --tags 1000 --hours 400`
//! writes `OUT_DIR/<tag>/data.csv` for tags 1..=N: one row per protocol per
//! step (55 minutes by default, like the CESNET aggregator), with a per-tag
//! level, a daily cycle peaking in the afternoon, quieter weekends, a slow
//! trend, log-normal noise and rare spikes. Seeded: the same arguments give
//! the same bytes.
//!
//! `--shapes` draws each protocol's series from a catalogue of nine known
//! shapes instead (weekday-only office hours, a level shift, per-weekday
//! daily shapes, a steep trend, many spikes, heavy noise, a weekday night
//! backup, a step down with a trend, a plain daily + weekly cycle): shape
//! `((tag - 1) * protocols + index) mod 9`, so tags 1-3 with three
//! protocols hold each shape once. `--step-minutes 60 --jitter-seconds 0`
//! gives an exact hourly grid.
//!
//! `--regular` draws strongly regular, electricity-load-like series instead
//! (protocol index mod 3: a residential load with morning and evening
//! peaks, a commercial load on weekdays, a smooth daily and weekly swell),
//! whose daily and weekly shapes drift slowly over the weeks (peak heights,
//! times and widths, weekend levels), under a slowly wandering level
//! (AR(1) on the logarithm, coefficient 0.98, innovations a fifth of the
//! noise) and 3 % log-normal noise (`--regular-noise`), without spikes;
//! the seed varies the drifts.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use telescope_core::netprofile::time::{format_timestamp, parse_timestamp};
use telescope_test_support::rng::{Random, SplitMix64 as Rng};

#[derive(Parser)]
#[command(about = "Generate a synthetic NEMEA data root")]
struct Args {
    /// Output directory (created; existing tags are overwritten).
    out: PathBuf,
    /// Number of tags (directories 1..=N).
    #[arg(long, default_value_t = 10)]
    tags: u32,
    /// Rows per protocol.
    #[arg(long, default_value_t = 400)]
    hours: u32,
    /// Comma-separated protocol numbers.
    #[arg(long, default_value = "1,6,17", value_delimiter = ',')]
    protocols: Vec<u8>,
    /// Minutes between consecutive rows of a protocol.
    #[arg(long, default_value_t = 55.0)]
    step_minutes: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Largest random delay of a row after its step, in seconds.
    #[arg(long, default_value_t = 30.0)]
    jitter_seconds: f64,
    /// Use the catalogue of nine known shapes (see the module docs).
    #[arg(long, conflicts_with = "regular")]
    shapes: bool,
    /// Strongly regular load-like series with drifting shapes (see the
    /// module docs).
    #[arg(long)]
    regular: bool,
    /// Log-normal noise of the --regular series (standard deviation of
    /// the logarithm).
    #[arg(long, default_value_t = 0.03)]
    regular_noise: f64,
}

/// NEMEA-style time: milliseconds (always three digits), `T` separator.
fn nemea_time(us: i64) -> String {
    let mut s = format_timestamp(us);
    if s.len() == 19 {
        s.push_str(".000");
    }
    s.truncate(23);
    s
}

struct Profile {
    bytes: f64,
    packet_size: f64,
    packets_per_flow: f64,
    daily: f64,
    peak_hour: f64,
    weekend: f64,
    trend_per_day: f64,
    noise: f64,
    spike_rate: f64,
    shape: usize,
}

/// Hour-of-day bump: 1 at `peak`, falling to 0 `width` hours either side.
fn bump(hour: f64, peak: f64, width: f64) -> f64 {
    let d = (hour - peak + 12.0).rem_euclid(24.0) - 12.0;
    if d.abs() >= width {
        0.0
    } else {
        0.5 * (1.0 + (std::f64::consts::PI * d / width).cos())
    }
}

/// Relative level of catalogue shape `kind` (0-8) at an hour of the day, a
/// weekday (0 = Thursday, 2 and 3 = Saturday and Sunday) and `days` into a
/// history of `span` days.
fn shape(kind: usize, hour: f64, weekday: i64, days: f64, span: f64) -> f64 {
    let weekend = weekday == 2 || weekday == 3;
    let office = if weekend { 0.0 } else { bump(hour, 13.0, 7.0) };
    match kind {
        // Office hours on weekdays only, flat weekends.
        0 => 1.0 + 1.5 * office,
        // Office hours, then the level jumps by 60% at 80% of the history.
        1 => (1.0 + office) * if days > 0.8 * span { 1.6 } else { 1.0 },
        // A different daily shape per weekday, an evening peak on weekends.
        2 => {
            let amp = [0.8, 1.0, 0.0, 0.0, 1.4, 1.2, 0.9][weekday as usize];
            let peak = [15.0, 11.0, 20.0, 20.0, 10.0, 12.0, 14.0][weekday as usize];
            let evening = if weekend {
                0.6 * bump(hour, 20.0, 4.0)
            } else {
                0.0
            };
            1.0 + amp * bump(hour, peak, 6.0) + evening
        }
        // A steep trend (+3% a day) under a daily cycle and quieter weekends.
        3 => {
            let daily = 1.0 + 0.4 * (std::f64::consts::TAU * (hour - 15.0) / 24.0).cos();
            (1.0 + 0.03 * days) * daily * if weekend { 0.7 } else { 1.0 }
        }
        // Office hours with many spikes (see the spike rate).
        4 => 1.0 + 0.8 * office,
        // Heavy noise over a mild daily cycle.
        5 => 1.0 + 0.2 * (std::f64::consts::TAU * (hour - 14.0) / 24.0).cos(),
        // A weekday night backup at 02:00, quiet otherwise.
        6 => {
            1.0 + if weekend {
                0.0
            } else {
                3.0 * bump(hour, 2.0, 2.5)
            }
        }
        // A slow downward trend, then a step down to 65% at 85% of history.
        7 => {
            let daily = 1.0 + 0.5 * bump(hour, 16.0, 8.0);
            (1.0 - 0.01 * days) * daily * if days > 0.85 * span { 0.65 } else { 1.0 }
        }
        // A plain daily cycle with a weekly swell.
        _ => {
            let week = std::f64::consts::TAU * (weekday as f64 + hour / 24.0) / 7.0;
            (1.0 + 0.5 * (std::f64::consts::TAU * (hour - 14.0) / 24.0).cos())
                * (1.0 + 0.2 * week.cos())
        }
    }
}

/// Drift rates of one `--regular` series (per week, relative).
struct Drift {
    /// Growth of the first peak per week.
    first: f64,
    /// Growth of the second peak per week.
    second: f64,
    /// Hours the peaks move per week.
    shift: f64,
    /// Growth of the weekend level per week.
    weekend: f64,
}

/// Relative level of `--regular` variant `kind` (0-2) at an hour of the
/// day, a weekday (0 = Thursday, 2 and 3 = Saturday and Sunday), `days`
/// into the history, with drift rates `d`.
fn regular(kind: usize, hour: f64, weekday: i64, days: f64, d: &Drift) -> f64 {
    let weeks = days / 7.0;
    let (sat, sun) = (weekday == 2, weekday == 3);
    let first = 1.0 + d.first * weeks;
    let second = 1.0 + d.second * weeks;
    let shift = d.shift * weeks;
    let weekend = 1.0 + d.weekend * weeks;
    match kind {
        // Residential: morning and evening peaks, later and lower mornings
        // at weekends, a midday plateau.
        0 => {
            let late = if sat || sun { 1.5 } else { 0.0 };
            let morning = if sun { 0.5 } else { 0.8 };
            1.0 + morning * first * bump(hour, 7.5 + late + shift, 3.5)
                + 1.1 * second * bump(hour, 19.0 + shift, 4.5)
                + 0.4 * bump(hour, 13.0, 6.0) * if sat || sun { 1.3 * weekend } else { 1.0 }
        }
        // Commercial: an office plateau on weekdays (its width drifts), a
        // small Saturday morning, a flat Sunday.
        1 => {
            let width = 6.0 + 2.0 * shift;
            let day = if sun {
                0.0
            } else if sat {
                0.35 * weekend * bump(hour, 11.0, 4.0)
            } else {
                first * (0.6 * bump(hour, 10.0 + shift, width) + 0.6 * bump(hour, 15.0, width))
            };
            1.0 + 1.8 * day
        }
        // Utility-like swell: daily harmonics and a weekly cosine whose
        // amplitudes and phases drift.
        _ => {
            let tau = std::f64::consts::TAU;
            let daily = 0.35 * first * (tau * (hour - 15.0 - shift) / 24.0).cos()
                + 0.12 * second * (2.0 * tau * (hour - 9.0) / 24.0).cos();
            let week = tau * (weekday as f64 + hour / 24.0) / 7.0;
            (1.0 + daily) * (1.0 + 0.18 * weekend * (week + 0.3 * shift).cos())
        }
    }
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let start = parse_timestamp(b"2018-08-19T18:48:34.098").context("start time")?;
    let step = (a.step_minutes * 60e6) as i64;
    fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let mut rng = Rng(a.seed);
    for tag in 1..=a.tags {
        write_tag(&a, tag, start, step, &mut rng)?;
    }
    Ok(())
}

/// Tag `tag`'s profiles: one per protocol.
fn profiles(a: &Args, tag: u32, rng: &mut Rng) -> Vec<Profile> {
    a.protocols
        .iter()
        .enumerate()
        .map(|(index, _)| Profile {
            bytes: 10f64.powf(rng.range(6.0, 11.0)),
            packet_size: rng.range(300.0, 1200.0),
            packets_per_flow: rng.range(5.0, 200.0),
            daily: rng.range(0.15, 0.6),
            peak_hour: rng.range(11.0, 17.0),
            weekend: rng.range(0.65, 0.95),
            trend_per_day: rng.range(-0.005, 0.005),
            noise: rng.range(0.05, 0.2),
            spike_rate: 0.01,
            shape: ((tag as usize - 1) * a.protocols.len() + index) % 9,
        })
        .map(|mut p| {
            if a.regular {
                (p.noise, p.spike_rate) = (a.regular_noise, 0.0);
            }
            if a.shapes {
                (p.noise, p.spike_rate) = match p.shape {
                    4 => (0.08, 0.06),
                    5 => (0.35, 0.01),
                    _ => (0.08, 0.01),
                };
            }
            p
        })
        .collect()
}

/// Writes tag `tag`'s `data.csv`.
fn write_tag(a: &Args, tag: u32, start: i64, step: i64, rng: &mut Rng) -> anyhow::Result<()> {
    let span_days = f64::from(a.hours) * a.step_minutes / 1440.0;
    let dir = a.out.join(tag.to_string());
    fs::create_dir_all(&dir)?;
    let path = dir.join("data.csv");
    let mut w = BufWriter::new(File::create(&path)?);
    writeln!(
        w,
        "uint64 BYTES,time TIME_FIRST,time TIME_LAST,uint32 COUNT,uint32 PACKETS,uint8 PROTOCOL"
    )?;
    let profiles = profiles(a, tag, rng);
    // Drawn only for --regular: the other modes' bytes stay as they were.
    let drifts: Vec<Drift> = profiles
        .iter()
        .filter(|_| a.regular)
        .map(|_| Drift {
            first: rng.range(-0.08, 0.08),
            second: rng.range(-0.08, 0.08),
            shift: rng.range(-0.3, 0.3),
            weekend: rng.range(-0.1, 0.1),
        })
        .collect();
    let mut wander = vec![0.0_f64; profiles.len()];
    for i in 0..i64::from(a.hours) {
        for (index, (&proto, p)) in a.protocols.iter().zip(&profiles).enumerate() {
            let jitter = (rng.range(0.0, a.jitter_seconds * 1e6) as i64 / 1000) * 1000;
            let first = start + i * step + jitter;
            let hours = (first as f64) / 3.6e9;
            let hour_of_day = hours.rem_euclid(24.0);
            // 1970-01-01 was a Thursday: day 2 and 3 of the week are Sat/Sun.
            let weekday = (hours / 24.0).floor().rem_euclid(7.0) as i64;
            let days = (first - start) as f64 / 8.64e10;
            let mut level = if a.regular {
                wander[index] = 0.98 * wander[index] + 0.2 * a.regular_noise * rng.gauss();
                let kind = index % 3;
                p.bytes
                    * wander[index].exp()
                    * regular(kind, hour_of_day, weekday, days, &drifts[index])
            } else if a.shapes {
                p.bytes * shape(p.shape, hour_of_day, weekday, days, span_days)
            } else {
                p.bytes
                    * (1.0 + p.trend_per_day * days)
                    * (1.0
                        + p.daily
                            * (std::f64::consts::TAU * (hour_of_day - p.peak_hour) / 24.0).cos())
                    * if weekday == 2 || weekday == 3 {
                        p.weekend
                    } else {
                        1.0
                    }
            } * (p.noise * rng.gauss()).exp();
            if rng.uniform() < p.spike_rate {
                level *= rng.range(3.0, 10.0);
            }
            let bytes = level.max(0.0).round() as u64;
            let packets = (level / p.packet_size).max(1.0).round() as u64;
            let flows = (packets as f64 / p.packets_per_flow).max(1.0).round() as u64;
            writeln!(
                w,
                "{bytes},{},{},{flows},{packets},{proto}",
                nemea_time(first),
                nemea_time(first + 3_600_000_000)
            )?;
        }
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))
}
