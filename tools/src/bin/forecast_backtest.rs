//! Rolling-origin backtest of the native forecaster, reproducing the protocol
//! of `shared/bench/backtest.py` on the CESNET file and on synthetic series.
//!
//! `cargo run --release -p telescope-tools --bin forecast_backtest -- [CSV] [key=value ..]`
//! with keys `cps`, `daily`, `weekly`, `robust`, `halflife`, `holdout`,
//! `mode` (additive|multiplicative), `level`, `grow`, `q` (outlier
//! quantile). With `SNAIVE24` set in the environment it scores backtest.py's
//! 24 h seasonal naive instead.

use chrono::NaiveDateTime;
use telescope_core::forecast::{Forecast, ForecastConfig, SeasonalityMode};

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

struct Series {
    name: String,
    ts: Vec<i64>,
    y: Vec<f64>,
}

#[derive(Default, Clone, Copy)]
struct Score {
    smape: f64,
    mase: f64,
    cov: f64,
    width: f64,
    above: f64,
    n: usize,
}

fn main() {
    let mut csv = telescope_test_support::workspace_root()
        .join("testdata/netprofile/cesnet/1/data.csv")
        .to_string_lossy()
        .into_owned();
    let mut cfg = ForecastConfig::default();
    let mut level = 0.8;
    let mut per_series = false;
    let mut q95 = 0.95;
    for arg in std::env::args().skip(1) {
        let Some((k, v)) = arg.split_once('=') else {
            if arg == "-v" {
                per_series = true;
            } else {
                csv = arg;
            }
            continue;
        };
        match k {
            "cps" => cfg.changepoint_prior_scale = v.parse().unwrap(),
            "sps" => cfg.seasonality_prior_scale = v.parse().unwrap(),
            "ncp" => cfg.n_changepoints = v.parse().unwrap(),
            "daily" => cfg.daily_order = v.parse().unwrap(),
            "weekly" => cfg.weekly_order = v.parse().unwrap(),
            "robust" => cfg.robust = v == "1",
            "halflife" => cfg.recency_half_life_days = v.parse().ok().filter(|h: &f64| *h > 0.0),
            "holdout" => cfg.holdout_days = v.parse().unwrap(),
            "q" => q95 = v.parse().unwrap(),
            "grow" => cfg.noise_growth_per_day = v.parse().unwrap(),
            "level" => level = v.parse().unwrap(),
            "mode" => {
                cfg.seasonality_mode = if v.starts_with('m') {
                    SeasonalityMode::Multiplicative
                } else {
                    SeasonalityMode::Additive
                }
            }
            _ => panic!("unknown key {k}"),
        }
    }
    let cesnet = load_cesnet(&csv);
    report("cesnet", &cesnet, &cfg, level, per_series, q95);
    report("synthetic", &synthetic(), &cfg, level, per_series, q95);
}

fn report(
    label: &str,
    series: &[Series],
    cfg: &ForecastConfig,
    level: f64,
    per_series: bool,
    q95: f64,
) {
    let last = series.iter().map(|s| *s.ts.last().unwrap()).min().unwrap();
    let first = series.iter().map(|s| s.ts[0]).max().unwrap();
    let cuts: Vec<i64> = (1..=5)
        .rev()
        .map(|i| last - i * DAY)
        .filter(|c| c - first >= 7 * DAY)
        .collect();
    let mut all = Vec::new();
    for s in series {
        let mut mine = Vec::new();
        for &cut in &cuts {
            mine.push(backtest_one(s, cut, cfg, level, q95));
        }
        if per_series {
            println!("  {:24} {}", s.name, fmt(&mean(&mine)));
        }
        all.extend(mine);
    }
    println!("{label:10} {}", fmt(&mean(&all)));
}

fn fmt(s: &Score) -> String {
    format!(
        "sMAPE {:6.2}  MASE {:5.3}  cov {:5.3}  above {:5.3}  relwid {:5.3}  fits {}",
        s.smape, s.mase, s.cov, s.above, s.width, s.n
    )
}

fn mean(v: &[Score]) -> Score {
    let n = v.len() as f64;
    Score {
        smape: v.iter().map(|s| s.smape).sum::<f64>() / n,
        mase: v.iter().map(|s| s.mase).sum::<f64>() / n,
        cov: v.iter().map(|s| s.cov).sum::<f64>() / n,
        width: v.iter().map(|s| s.width).sum::<f64>() / n,
        above: v.iter().map(|s| s.above).sum::<f64>() / n,
        n: v.len(),
    }
}

fn backtest_one(s: &Series, cut: i64, cfg: &ForecastConfig, level: f64, q95: f64) -> Score {
    let end = s.ts.partition_point(|&t| t <= cut);
    let (raw_ts, raw_y) = (&s.ts[..end], &s.y[..end]);
    let q = quantile(raw_y, q95);
    let (ts, y): (Vec<i64>, Vec<f64>) = raw_ts
        .iter()
        .zip(raw_y)
        .filter(|(_, v)| **v <= q)
        .map(|(t, v)| (*t, *v))
        .unzip();
    let last = *ts.iter().max().unwrap();
    let future: Vec<i64> = (1..=24).map(|k| last + k * HOUR).collect();
    let fc = if std::env::var_os("SNAIVE24").is_some() {
        seasonal_naive(&ts, &y)
    } else {
        let model = cfg.fit(&ts, &y).expect("fit");
        model.predict(&future, level).expect("predict")
    };
    let test_ts = &s.ts[end..];
    let test_y = &s.y[end..];
    // nearest test row within 30 min; a row matched twice keeps the closest
    let mut best: Vec<Option<(i64, usize)>> = vec![None; test_ts.len()];
    for (k, &f) in future.iter().enumerate() {
        let Some((i, d)) = test_ts
            .iter()
            .enumerate()
            .map(|(i, &t)| (i, (t - f).abs()))
            .min_by_key(|&(_, d)| d)
        else {
            continue;
        };
        if d <= 30 * 60 * 1_000_000 && best[i].is_none_or(|(bd, _)| d < bd) {
            best[i] = Some((d, k));
        }
    }
    let (mut smape, mut abs_err, mut cov, mut width, mut level_sum, mut n) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let mut above = 0.0;
    for (i, m) in best.iter().enumerate() {
        let Some((_, k)) = m else { continue };
        let (a, f) = (test_y[i], fc.yhat[*k].max(0.0));
        let lo = fc.lower[*k].max(0.0);
        let hi = fc.upper[*k].max(0.0);
        let den = a.abs() + f.abs();
        smape += if den > 0.0 {
            200.0 * (a - f).abs() / den
        } else {
            0.0
        };
        abs_err += (a - f).abs();
        cov += f64::from(u8::from(lo <= a && a <= hi));
        width += hi - lo;
        above += f64::from(u8::from(a > hi));
        level_sum += a.abs();
        n += 1.0;
    }
    Score {
        smape: smape / n,
        mase: abs_err / n / seasonal_scale(raw_ts, raw_y),
        cov: cov / n,
        width: width / level_sum,
        above: above / n,
        n: 1,
    }
}

/// backtest.py's snaive24: hourly grid ending at the last point, linear
/// interpolation, 80% normal band from in-sample seasonal differences.
fn seasonal_naive(ts: &[i64], y: &[f64]) -> Forecast {
    let last = ts[ts.len() - 1];
    let n = ((last - ts[0]) / HOUR + 1) as usize;
    let grid: Vec<f64> = (0..n)
        .map(|i| {
            let t = last - (n - 1 - i) as i64 * HOUR;
            let j = ts.partition_point(|&x| x < t).clamp(1, ts.len() - 1);
            let (t0, t1) = (ts[j - 1] as f64, ts[j] as f64);
            let w = ((t as f64 - t0) / (t1 - t0)).clamp(0.0, 1.0);
            y[j - 1] + w * (y[j] - y[j - 1])
        })
        .collect();
    let resid: Vec<f64> = (24..n).map(|i| grid[i] - grid[i - 24]).collect();
    let sd = (resid.iter().map(|r| r * r).sum::<f64>() / resid.len() as f64).sqrt();
    let yhat: Vec<f64> = (0..24).map(|k| grid[n - 24 + k]).collect();
    let half = 1.281_551_565_544_600_4 * sd;
    Forecast {
        lower: yhat.iter().map(|v| v - half).collect(),
        upper: yhat.iter().map(|v| v + half).collect(),
        yhat,
    }
}

fn seasonal_scale(ts: &[i64], y: &[f64]) -> f64 {
    let (mut sum, mut n) = (0.0, 0.0);
    for (i, &t) in ts.iter().enumerate() {
        let tgt = t - DAY;
        if tgt < ts[0] {
            continue;
        }
        let j = ts.partition_point(|&x| x < tgt).clamp(1, ts.len() - 1);
        let jl = if (ts[j - 1] - tgt).abs() <= (ts[j] - tgt).abs() {
            j - 1
        } else {
            j
        };
        if (ts[jl] - tgt).abs() <= 30 * 60 * 1_000_000 {
            sum += (y[i] - y[jl]).abs();
            n += 1.0;
        }
    }
    sum / n
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let pos = q * (s.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

fn load_cesnet(path: &str) -> Vec<Series> {
    let text = std::fs::read_to_string(path).expect("read csv");
    let mut rows: Vec<(u8, i64, [f64; 3])> = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let ts = NaiveDateTime::parse_from_str(f[1], "%Y-%m-%dT%H:%M:%S%.f")
            .unwrap()
            .and_utc()
            .timestamp_micros();
        let num = |s: &str| s.parse::<f64>().unwrap();
        rows.push((f[5].parse().unwrap(), ts, [num(f[0]), num(f[4]), num(f[3])]));
    }
    let mut out = Vec::new();
    for (proto, pname) in [(1u8, "ICMP"), (6, "TCP"), (17, "UDP")] {
        for (m, mname) in ["bytes", "packets", "flow_count"].iter().enumerate() {
            let mut r: Vec<(i64, f64)> = rows
                .iter()
                .filter(|x| x.0 == proto)
                .map(|x| (x.1, x.2[m]))
                .collect();
            r.sort_by_key(|x| x.0);
            out.push(Series {
                name: format!("{pname}/{mname}"),
                ts: r.iter().map(|x| x.0).collect(),
                y: r.iter().map(|x| x.1).collect(),
            });
        }
    }
    out
}

/// Synthetic series, 15 days at ~55-min spacing: level + trend + daily +
/// weekly + noise, some with spikes and a level of ~10% of the amplitude.
fn synthetic() -> Vec<Series> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut gauss = move || {
        let (u1, u2) = (uniform().max(1e-300), uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let start = 1_534_704_514_000_000_i64; // 2018-08-19T18:48:34Z
    let step = 55 * 60 * 1_000_000 + 17_000_000;
    let specs: [(&str, f64, f64, f64, f64, f64, f64); 6] = [
        // name, level, slope/day, daily amp, weekly amp, noise sd, spike prob
        ("flat+daily", 100.0, 0.0, 40.0, 0.0, 8.0, 0.0),
        ("trend+daily", 100.0, 2.0, 30.0, 0.0, 6.0, 0.0),
        ("daily+weekly", 200.0, -1.0, 60.0, 30.0, 10.0, 0.0),
        ("spiky", 100.0, 0.5, 40.0, 10.0, 8.0, 0.03),
        ("low-level", 50.0, 0.0, 45.0, 0.0, 6.0, 0.0),
        ("noisy", 100.0, 1.0, 20.0, 10.0, 25.0, 0.01),
    ];
    specs
        .iter()
        .map(|&(name, level, slope, daily, weekly, sd, spike)| {
            let (mut ts, mut y) = (Vec::new(), Vec::new());
            for i in 0..390 {
                let t = start + i * step;
                let days = (t - start) as f64 / DAY as f64;
                let dphase = std::f64::consts::TAU * (t.rem_euclid(DAY) as f64 / DAY as f64);
                let wphase =
                    std::f64::consts::TAU * (t.rem_euclid(7 * DAY) as f64 / (7 * DAY) as f64);
                let mut v = level
                    + slope * days
                    + daily * dphase.sin()
                    + 0.3 * daily * (2.0 * dphase).cos()
                    + weekly * wphase.sin()
                    + sd * gauss();
                if uniform() < spike {
                    v += 8.0 * level;
                }
                ts.push(t);
                y.push(v.max(0.0));
            }
            Series {
                name: name.to_string(),
                ts,
                y,
            }
        })
        .collect()
}
