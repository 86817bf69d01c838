//! Tests of the MSTL-class candidate: STL against statsmodels' `STL`,
//! the hourly grid, the level smoother, the decomposition's forecast, and
//! its place in `auto`. Expected values are computed independently (by
//! hand or by statsmodels 0.14 in a one-off script, quoted in comments).

use super::{mean_error, next_day};
use crate::forecast::decompose::{hourly_grid, smooth_level, Decomposition, Kind};
use crate::forecast::design::{DAY_US, HOUR_US, WEEK_US};
use crate::forecast::stl::{stl, StlParams};
use crate::forecast::ForecastConfig;
use std::f64::consts::TAU;

/// 2018-08-20 00:00 UTC, a Monday.
const START: i64 = 1_534_723_200_000_000;

fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol
}

/// `((i * 7919) mod 23) + 10 sin(2 pi i / period) + slope i`.
fn reference_series(n: usize, period: f64, slope: f64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            ((i * 7919) % 23) as f64 + 10.0 * (TAU * i as f64 / period).sin() + slope * i as f64
        })
        .collect()
}

#[test]
fn stl_matches_statsmodels_on_a_small_case() {
    // statsmodels.tsa.seasonal.STL(y, period=4, seasonal=7, robust=False)
    // .fit(inner_iter=2, outer_iter=0): trend 9, low_pass 5, all jumps 1
    // (ours are ceil(window / 10) = 1).
    let y = reference_series(20, 4.0, 0.5);
    let p = StlParams::new(4, 7);
    assert_eq!((p.trend, p.low_pass, p.inner, p.seasonal_deg), (9, 5, 2, 1));
    let (season, trend) = stl(&y, &p, None);
    let want_season = [
        -10.225918247038388,
        7.9592834064425535,
        5.333363778567299,
        -6.983880380690526,
        -5.779959143590075,
        10.975606907079603,
        1.011684233450966,
        -9.577812814361767,
        -1.5071332615746433,
        13.182319230254286,
        -2.495603317101585,
        -11.532092539512014,
        3.062485569573286,
        10.76775148165659,
        -4.726080180877657,
        -9.95304279496173,
        7.076331987782803,
        7.370418588613956,
        -6.886414745742272,
        -7.870813824121206,
    ];
    let want_trend = [
        9.584221357187783,
        10.912715349288806,
        12.154238556971764,
        13.31474099084241,
        14.635154781963093,
        14.614351614759553,
        14.22967059407073,
        14.314152085924217,
        13.821018464705865,
        13.568451794063913,
        14.942737169965712,
        16.727825543517188,
        18.08078822865088,
        19.682105404542373,
        20.619272842430366,
        20.4347020737824,
        21.174385701085416,
        22.029186385209186,
        22.950085337118793,
        24.070011577369876,
    ];
    for i in 0..20 {
        assert!(
            close(season[i], want_season[i], 1e-9),
            "season[{i}] {}",
            season[i]
        );
        assert!(
            close(trend[i], want_trend[i], 1e-9),
            "trend[{i}] {}",
            trend[i]
        );
    }
}

/// `(index, seasonal, trend)` of a reference decomposition.
type Point = (usize, f64, f64);

#[test]
fn stl_with_jumps_and_both_seasonal_degrees_matches_statsmodels() {
    // STL(y, period=12, seasonal=11, trend=21, low_pass=13, seasonal_deg=d,
    // seasonal_jump=2, trend_jump=3, low_pass_jump=2, robust=False)
    // .fit(inner_iter=2, outer_iter=0): our default jumps.
    let y = reference_series(60, 12.0, 0.3);
    let want: [(usize, [Point; 6]); 2] = [
        (
            1,
            [
                (0, -5.125598938395809, 7.354813690202405),
                (1, 7.5845155071503605, 8.117364804304804),
                (17, 5.081796068788566, 16.250560616623083),
                (30, 0.9628580324365129, 20.075767720113323),
                (58, -11.23539489052817, 31.577492014891863),
                (59, 0.11139254966070056, 32.34522777065646),
            ],
        ),
        (
            0,
            [
                (0, 0.5053327937100585, 7.133188099009371),
                (1, 8.177351958888952, 7.946232940993959),
                (17, 4.274276463534472, 16.24219648610107),
                (30, 0.9418237364884213, 20.111542145672818),
                (58, -11.837028675385728, 31.74196246358221),
                (59, -5.500092063611215, 32.565349681487525),
            ],
        ),
    ];
    for (degree, points) in want {
        let p = StlParams {
            seasonal_deg: degree,
            ..StlParams::new(12, 11)
        };
        assert_eq!((p.trend, p.low_pass), (21, 13));
        let (season, trend) = stl(&y, &p, None);
        for (i, s, t) in points {
            assert!(
                close(season[i], s, 1e-9),
                "deg {degree} season[{i}] {}",
                season[i]
            );
            assert!(
                close(trend[i], t, 1e-9),
                "deg {degree} trend[{i}] {}",
                trend[i]
            );
        }
    }
}

#[test]
fn hourly_grid_interpolates_back_from_the_last_row() {
    // Rows at 0, 50 and 170 minutes (values 0, 10, 34): the grid ends at
    // 170 min and steps back by hours to 110 and 50 min (floor(170/60) + 1
    // = 3 points): 50 min is a row (10); 110 min is halfway from 50 to 170
    // (22).
    let m = 60_000_000;
    let ts = [START, START + 50 * m, START + 170 * m];
    assert_eq!(hourly_grid(&ts, &[0.0, 10.0, 34.0]), vec![10.0, 22.0, 34.0]);
    // An exact hourly grid is returned as it is.
    let ts: Vec<i64> = (0..5).map(|i| START + i * HOUR_US).collect();
    let y = [3.0, 1.0, 4.0, 1.0, 5.0];
    assert_eq!(hourly_grid(&ts, &y), y.to_vec());
}

#[test]
fn level_smoother_follows_a_step_fully_and_a_constant_exactly() {
    // A constant: every weight gives it with no error.
    assert_eq!(smooth_level(&[7.0; 50]), (7.0, 0.0));
    // A single step from 0 to 1 after 10 points: the squared errors fall
    // as the weight rises (1 + (1-a)^2 + (1-a)^4 + ...), so the search
    // ends at the top of its range, 0.9999, and the level is within 1e-3
    // of 1; one error of 1 over 29 steps (plus ~1e-8): rms sqrt(1/29).
    let mut x = vec![0.0; 10];
    x.extend([1.0; 20]);
    let (level, rms) = smooth_level(&x);
    assert!(close(level, 1.0, 1e-3), "level {level}");
    assert!(close(rms, (1.0f64 / 29.0).sqrt(), 1e-6), "rms {rms}");
}

/// A daily shape with two harmonics (zero mean over a day).
fn daily_shape(t: i64) -> f64 {
    let phase = TAU * t.rem_euclid(DAY_US) as f64 / DAY_US as f64;
    30.0 * phase.sin() + 12.0 * (2.0 * phase).cos()
}

/// A weekly shape (zero mean over a week).
fn weekly_shape(t: i64) -> f64 {
    let phase = TAU * t.rem_euclid(WEEK_US) as f64 / WEEK_US as f64;
    20.0 * phase.cos()
}

#[test]
fn decomposition_recovers_a_constant_level_and_daily_shape_exactly() {
    // Ten days on an exact hourly grid (only the daily period qualifies):
    // level 500 plus a fixed daily shape. STL reproduces a level plus a
    // periodic, zero-mean component exactly (each cycle-subseries is
    // constant, the low-pass filter removes the cycle), and the smoothed
    // level of a constant is the constant, so the next 30 hours are the
    // truth.
    let ts: Vec<i64> = (0..240).map(|i| START + i * HOUR_US).collect();
    let y: Vec<f64> = ts.iter().map(|&t| 500.0 + daily_shape(t)).collect();
    let d = Decomposition::fit(&ts, &y, Kind::Mstl(0)).unwrap();
    assert_eq!(d.cycles.len(), 1);
    for k in 1..=30 {
        let t = ts[239] + k * HOUR_US;
        let want = 500.0 + daily_shape(t);
        assert!(
            close(d.mean_at(t), want, 1e-9),
            "+{k} h: {} vs {want}",
            d.mean_at(t)
        );
    }
    // Half an hour ahead: halfway between the hours' values.
    let t = ts[239] + HOUR_US / 2;
    let want = 500.0 + (daily_shape(ts[239]) + daily_shape(ts[239] + HOUR_US)) / 2.0;
    assert!(close(d.mean_at(t), want, 1e-9));
}

#[test]
fn decomposition_follows_a_daily_shape_that_drifts() {
    // Five weeks hourly, no noise: level 1000, a weekly cosine (20) and a
    // daily shape (amplitude about 42) growing 1 % a day, 35 % over the
    // history. A fixed shape (the history's mean, 1.175 times the first
    // day's) would miss the next day's peak (1.355 times) by 0.18 x 42 =
    // 7.6. Repeating the last day's shape lags by one day (0.4 at the
    // peak); the loess windows (11 days, 15 weeks) lag more where they
    // average over the past: the drifting (locally linear) loess must stay
    // within 2.5, the locally constant one within 4, both under half the
    // fixed shape's miss.
    let n = 5 * 168;
    let ts: Vec<i64> = (0..n).map(|i| START + i * HOUR_US).collect();
    let truth = |t: i64| {
        let days = (t - START) as f64 / DAY_US as f64;
        1000.0 + weekly_shape(t) + (1.0 + 0.01 * days) * daily_shape(t)
    };
    let y: Vec<f64> = ts.iter().map(|&t| truth(t)).collect();
    let last = ts[n as usize - 1];
    for (degree, bound) in [(1, 2.5), (0, 4.0)] {
        let d = Decomposition::fit(&ts, &y, Kind::Mstl(degree)).unwrap();
        assert_eq!(d.cycles.len(), 2);
        let worst = (1..=24)
            .map(|k| (d.mean_at(last + k * HOUR_US) - truth(last + k * HOUR_US)).abs())
            .fold(0.0, f64::max);
        assert!(worst < bound, "degree {degree}: worst error {worst}");
    }
}

#[test]
fn weekly_naive_repeats_last_week_where_weeks_repeat() {
    // Three weeks hourly of a shape that differs by weekday (so the same
    // hour a day earlier is a poor guess) plus a small daily wiggle: the
    // forecast h hours ahead is the value 168 - h hours before the end
    // (by hand: the grid is the rows), and half an hour ahead is halfway
    // between the last value and the next hour's.
    let n = 3 * 168;
    let ts: Vec<i64> = (0..n).map(|i| START + i * HOUR_US).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| 100.0 + 50.0 * ((i / 24) % 7) as f64 + (i % 5) as f64)
        .collect();
    let d = Decomposition::fit(&ts, &y, Kind::SeasonalNaive(168)).unwrap();
    let end = n as usize - 1;
    for h in 1..=30_usize {
        let want = y[end + h - 168];
        assert_eq!(d.mean_at(ts[end] + h as i64 * HOUR_US), want, "+{h} h");
    }
    let half = d.mean_at(ts[end] + HOUR_US / 2);
    assert!(close(half, (y[end] + y[end - 167]) / 2.0, 1e-12));
    // A series whose days repeat but whose weeks do not (a level that
    // alternates week by week) gets no weekly naive: a day earlier is
    // closer than a week earlier.
    let y: Vec<f64> = (0..n)
        .map(|i| 100.0 + 10.0 * ((i / 168) % 2) as f64 + (i % 24) as f64)
        .collect();
    assert!(Decomposition::fit(&ts, &y, Kind::SeasonalNaive(168)).is_none());
}

#[test]
fn decomposition_ignores_a_burst_of_spikes() {
    // Ten days hourly (the daily period only), a daily shape on level 500
    // with 1 % noise, and the last day's every fourth hour ten times
    // higher: the robust passes must keep the next day within 5 % of the
    // truth (a plain decomposition follows the spikes: its level moves
    // towards their mean, 500 x 10 / 4 = 1250 over the last day). With
    // only two or three weeks a weekly cycle-subseries has two or three
    // points, too few for robustness weights: a burst there enters the
    // weekly shape (netprofile's 0.95 quantile drop removes such rows
    // first).
    let mut state = 7_u64;
    let mut noise = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let n = 240;
    let ts: Vec<i64> = (0..n).map(|i| START + i * HOUR_US).collect();
    let truth = |t: i64| 500.0 + daily_shape(t);
    let y: Vec<f64> = ts
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let v = truth(t) * (1.0 + 0.02 * noise());
            if i + 24 >= n as usize && i % 4 == 0 {
                10.0 * v
            } else {
                v
            }
        })
        .collect();
    let d = Decomposition::fit(&ts, &y, Kind::Mstl(0)).unwrap();
    let last = ts[n as usize - 1];
    for k in 1..=24 {
        let t = last + k * HOUR_US;
        let rel = (d.mean_at(t) / truth(t) - 1.0).abs();
        assert!(rel < 0.05, "+{k} h: {} vs {}", d.mean_at(t), truth(t));
    }
}

#[test]
fn auto_carries_the_decomposition_on_a_regular_drifting_series() {
    // Four weeks at ~55-minute rows of a series like the one above with 2 %
    // noise: a weekday/weekend shape the Fourier terms cannot draw in a few
    // harmonics (a sharp 2-hour morning peak) that drifts. The MSTL-class
    // candidates must carry the blend, and the next day's sMAPE must stay
    // under 3 % (the noise alone is ~1.6 %).
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut gauss = move || {
        let mut u = [0.0; 2];
        for v in &mut u {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *v = ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        }
        (-2.0 * u[0].ln()).sqrt() * (TAU * u[1]).cos()
    };
    let truth = |t: i64| {
        let days = (t - START) as f64 / DAY_US as f64;
        let hour = t.rem_euclid(DAY_US) as f64 / HOUR_US as f64;
        let weekend = (t - START).rem_euclid(WEEK_US) >= 5 * DAY_US;
        let peak = if weekend { 0.3 } else { 1.0 + 0.01 * days };
        let d = (hour - 8.0).abs();
        1000.0 + weekly_shape(t) + 600.0 * peak * (1.0 - d / 2.0).max(0.0) + daily_shape(t)
    };
    let step = 55 * 60_000_000;
    let ts: Vec<i64> = (0..4 * WEEK_US / step).map(|i| START + i * step).collect();
    let y: Vec<f64> = ts
        .iter()
        .map(|&t| truth(t) * (1.0 + 0.02 * gauss()))
        .collect();
    let model = ForecastConfig::default().fit(&ts, &y).unwrap();
    assert!(
        model.model_name().as_str().ends_with("mstl"),
        "{}",
        model.model_name()
    );
    let future = next_day(&ts);
    let fc = model.predict(&future, 0.8).unwrap();
    let smape = mean_error(&future, &fc.yhat, |t, f| {
        200.0 * (truth(t) - f).abs() / (truth(t) + f.abs())
    });
    assert!(smape < 3.0, "sMAPE {smape}");
}

#[test]
fn day_type_naive_reads_the_previous_weekday_and_last_weeks_weekend() {
    // Two weeks hourly from Monday 2018-08-20 00:00 UTC (row i is day
    // i / 24, Monday = day 0, Saturday = day 5): value = 100 * day + hour
    // of day, plus 5000 on Saturdays and Sundays, so every source row is
    // told apart by its value and the weekend differs from the weekdays.
    let n = 14 * 24;
    let ts: Vec<i64> = (0..n).map(|i| START + i * HOUR_US).collect();
    let value = |row: i64| {
        let day = row / 24;
        let weekend = matches!(day % 7, 5 | 6);
        (100 * day + row % 24) as f64 + if weekend { 5000.0 } else { 0.0 }
    };
    let y: Vec<f64> = (0..n).map(value).collect();
    // History of nine days, ending Tuesday 2018-08-28 23:00 (row 215). By
    // hand, (hours ahead, source row): Wednesday 03:00 -> Tuesday 03:00
    // (row 195); Thursday 10:00 -> Tuesday 10:00, the latest weekday at
    // that hour in the history (row 202); Saturday 2018-09-01 05:00 ->
    // Saturday 2018-08-25 05:00 (row 125); Monday 2018-09-03 07:00 ->
    // Tuesday 07:00 (row 199).
    let m = 9 * 24;
    let d = Decomposition::fit(&ts[..m], &y[..m], Kind::DayTypeNaive).unwrap();
    let end = ts[m - 1];
    for (ahead, row) in [(4, 195), (35, 202), (78, 125), (128, 199)] {
        assert_eq!(d.mean_at(end + ahead * HOUR_US), value(row), "{ahead} h");
    }
    // All two weeks, ending Sunday 2018-09-02 23:00 (row 335): Monday
    // 06:00 (7 h ahead) -> Friday 2018-08-31 06:00 (row 270), over the
    // weekend; Tuesday 10:00 (35 h) -> Friday 10:00 (row 274); Saturday
    // 2018-09-08 05:00 (126 h) -> Saturday 2018-09-01 05:00 (row 293).
    let d = Decomposition::fit(&ts, &y, Kind::DayTypeNaive).unwrap();
    let end = ts[n as usize - 1];
    for (ahead, row) in [(7, 270), (35, 274), (126, 293)] {
        assert_eq!(d.mean_at(end + ahead * HOUR_US), value(row), "{ahead} h");
    }
    // Half an hour after Monday 06:00: halfway between Friday 06:00 and
    // 07:00.
    let half = d.mean_at(end + 7 * HOUR_US + HOUR_US / 2);
    assert!(close(half, (value(270) + value(271)) / 2.0, 1e-9));
    // Where every day looks alike, the day-type naive is no closer than a
    // day earlier: gated out. With a week of history or less: none.
    let daily: Vec<f64> = (0..n).map(|i| (i % 24) as f64).collect();
    assert!(Decomposition::fit(&ts, &daily, Kind::DayTypeNaive).is_none());
    assert!(Decomposition::fit(&ts[..168], &y[..168], Kind::DayTypeNaive).is_none());
}
