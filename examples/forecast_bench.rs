//! Speed of the native forecaster: median microseconds per fit + 24-step
//! predict for synthetic hourly-ish series of 400 and 8,760 points.
//!
//! `cargo run --release --example forecast_bench`

use std::hint::black_box;
use std::time::Instant;
use telescope_core::forecast::{ForecastConfig, SeasonalityMode};

const HOUR_US: i64 = 3_600_000_000;

fn series(n: usize) -> (Vec<i64>, Vec<f64>) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let start = 1_534_704_514_000_000_i64;
    let step = 55 * 60 * 1_000_000;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let t = start + i as i64 * step;
            let day = (t % (24 * HOUR_US)) as f64 / (24 * HOUR_US) as f64;
            let y = 1e9 * (2.0 + 0.001 * i as f64 + (std::f64::consts::TAU * day).sin() + noise);
            (t, y)
        })
        .unzip()
}

fn median_us(cfg: &ForecastConfig, n: usize, reps: usize) -> f64 {
    let (ts, y) = series(n);
    let last = ts[n - 1];
    let future: Vec<i64> = (1..=24).map(|k| last + k * HOUR_US).collect();
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            let model = cfg.fit(black_box(&ts), black_box(&y)).expect("fit");
            black_box(model.predict(&future, 0.8).expect("predict"));
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

fn main() {
    for (label, mode) in [
        ("additive", SeasonalityMode::Additive),
        ("multiplicative", SeasonalityMode::Multiplicative),
    ] {
        let cfg = ForecastConfig {
            seasonality_mode: mode,
            ..ForecastConfig::default()
        };
        for (n, reps) in [(400, 301), (8_760, 31)] {
            println!(
                "{label:>14} {n:>6} points: median {:>9.1} us per fit+predict",
                median_us(&cfg, n, reps)
            );
        }
    }
}
