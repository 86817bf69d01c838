//! Speed of the native forecaster: median microseconds per fit + 24-step
//! predict, one core, per model (`auto`, `seasonal-trend`) and seasonality
//! mode, on three kinds of series:
//!
//! - `smooth`: a clean synthetic series (sine + slope + uniform noise);
//! - `nemea`: series of the shape `gen_nemea` writes (per-series level,
//!   daily cycle, quieter weekends, slow trend, log-normal noise, 1% spikes,
//!   55-minute steps), after netprofile's 0.95 outlier drop;
//! - `cesnet`: the 9 series of `testdata/netprofile/cesnet/1/data.csv`
//!   (~360 points each), also after the outlier drop.
//!
//! `cargo run --release -p telescope-tools --bin forecast_bench -- [CSV]`

use std::hint::black_box;
use std::time::Instant;
use telescope_core::forecast::{ForecastConfig, Model, SeasonalityMode};
use telescope_core::netprofile::nemea;
use telescope_core::netprofile::series::{self, Metric};
use telescope_core::netprofile::Protocol;
use telescope_test_support::rng::{Random, SplitMix64 as Rng};

const HOUR_US: i64 = 3_600_000_000;
const START_US: i64 = 1_534_704_514_098_000;
const STEP_US: i64 = 55 * 60 * 1_000_000;

type Series = (Vec<i64>, Vec<f64>);

fn smooth(n: usize) -> Series {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let t = START_US + i as i64 * STEP_US;
            let day = (t % (24 * HOUR_US)) as f64 / (24 * HOUR_US) as f64;
            let y = 1e9 * (2.0 + 0.001 * i as f64 + (std::f64::consts::TAU * day).sin() + noise);
            (t, y)
        })
        .unzip()
}

/// `count` series of `n` points shaped like `gen_nemea`'s bytes.
fn nemea(n: usize, count: usize) -> Vec<Series> {
    let mut rng = Rng(7);
    (0..count)
        .map(|_| {
            let bytes = 10f64.powf(rng.range(6.0, 11.0));
            let daily = rng.range(0.15, 0.6);
            let peak_hour = rng.range(11.0, 17.0);
            let weekend = rng.range(0.65, 0.95);
            let trend_per_day = rng.range(-0.005, 0.005);
            let noise = rng.range(0.05, 0.2);
            let (ts, y): Series = (0..n as i64)
                .map(|i| {
                    let t = START_US + i * STEP_US + (rng.range(0.0, 30e6) as i64 / 1000) * 1000;
                    let hours = t as f64 / 3.6e9;
                    let weekday = (hours / 24.0).floor().rem_euclid(7.0) as i64;
                    let days = (t - START_US) as f64 / 8.64e10;
                    let mut level = bytes
                        * (1.0 + trend_per_day * days)
                        * (1.0
                            + daily
                                * (std::f64::consts::TAU * (hours.rem_euclid(24.0) - peak_hour)
                                    / 24.0)
                                    .cos())
                        * if weekday == 2 || weekday == 3 {
                            weekend
                        } else {
                            1.0
                        }
                        * (noise * rng.gauss()).exp();
                    if rng.uniform() < 0.01 {
                        level *= rng.range(3.0, 10.0);
                    }
                    (t, level.max(0.0).round())
                })
                .unzip();
            drop_outliers(ts, y)
        })
        .collect()
}

/// netprofile's outlier drop: keep `y <= ` its 0.95 quantile.
fn drop_outliers(timestamps: Vec<i64>, values: Vec<f64>) -> Series {
    let kept = series::Series { timestamps, values }.drop_above_quantile(0.95);
    (kept.timestamps, kept.values)
}

/// The 9 CESNET series (protocol x bytes/packets/flows), read as netprofile
/// reads them, after the outlier drop.
fn cesnet(path: &str) -> Vec<Series> {
    let parsed = match std::fs::File::open(path).map(nemea::parse) {
        Ok(Ok(parsed)) => parsed,
        _ => {
            eprintln!("{path}: unreadable, skipping the CESNET series");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for protocol in [1, 6, 17] {
        let rows = series::protocol_rows(&parsed.rows, Protocol(protocol));
        for metric in Metric::ALL {
            let kept = series::series(rows, metric).drop_above_quantile(0.95);
            out.push((kept.timestamps, kept.values));
        }
    }
    out
}

/// Median over `reps` rounds of the mean time per series of one round.
fn median_us(cfg: &ForecastConfig, set: &[Series], reps: usize) -> f64 {
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            for (ts, y) in set {
                let last = ts[ts.len() - 1];
                let future: Vec<i64> = (1..=24).map(|k| last + k * HOUR_US).collect();
                let model = cfg.fit(black_box(ts), black_box(y)).expect("fit");
                black_box(model.predict(&future, 0.8).expect("predict"));
            }
            start.elapsed().as_secs_f64() * 1e6 / set.len() as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

fn main() {
    let csv = std::env::args().nth(1).unwrap_or_else(|| {
        telescope_test_support::workspace_root()
            .join("testdata/netprofile/cesnet/1/data.csv")
            .to_string_lossy()
            .into_owned()
    });
    let cesnet_all = cesnet(&csv);
    let mut sets: Vec<(String, Vec<Series>, usize)> = vec![
        ("smooth 400".into(), vec![smooth(400)], 301),
        ("smooth 8760".into(), vec![smooth(8_760)], 31),
        ("nemea 400".into(), nemea(400, 30), 31),
        ("nemea 8760".into(), nemea(8_760, 5), 7),
    ];
    if !cesnet_all.is_empty() {
        let n = cesnet_all.iter().map(|s| s.0.len()).max().unwrap_or(0);
        sets.push((format!("cesnet {n}"), cesnet_all, 51));
    }
    for (label, mode, model) in [
        ("auto", SeasonalityMode::Additive, Model::Auto),
        (
            "seasonal-trend",
            SeasonalityMode::Additive,
            Model::SeasonalTrend,
        ),
        ("auto mult.", SeasonalityMode::Multiplicative, Model::Auto),
        (
            "s.-t. mult.",
            SeasonalityMode::Multiplicative,
            Model::SeasonalTrend,
        ),
    ] {
        let cfg = ForecastConfig {
            seasonality_mode: mode,
            model,
            ..ForecastConfig::default()
        };
        for (name, set, reps) in &sets {
            println!(
                "{label:>14} {name:>12} ({} series): median {:>9.1} us per fit+predict",
                set.len(),
                median_us(&cfg, set, *reps)
            );
        }
    }
}
