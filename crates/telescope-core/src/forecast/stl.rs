//! STL (Cleveland, Cleveland, McRae and Terpenning 1990): a seasonal-trend
//! decomposition by loess, as the reference Fortran (`stl.f`, netlib) and
//! statsmodels' `STL` compute it without robustness iterations, and MSTL
//! (Bandara, Hyndman and Bergmeir 2021) for several periods.
//!
//! Positions are 1-based in the loess arithmetic as in the Fortran, so that
//! the windows and weights are the reference's exactly.

/// Window lengths and jumps of one STL decomposition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct StlParams {
    /// Period in samples (at least 2).
    pub period: usize,
    /// Seasonal (cycle-subseries) loess window, odd, at least 3.
    pub seasonal: usize,
    /// Degree of the seasonal loess: 0 (locally constant, statsforecast's
    /// MSTL) or 1.
    pub seasonal_deg: usize,
    /// Trend loess window, odd.
    pub trend: usize,
    /// Low-pass loess window, odd.
    pub low_pass: usize,
    /// Inner iterations.
    pub inner: usize,
}

impl StlParams {
    /// statsmodels' defaults for `period` and seasonal window `seasonal`:
    /// trend window the next odd integer at least
    /// `1.5 period / (1 - 1.5 / seasonal)`, low-pass window the next odd
    /// integer above `period`, seasonal degree 1; two inner iterations
    /// (the reference's; statsmodels runs 5 without robustness).
    pub fn new(period: usize, seasonal: usize) -> Self {
        let trend = (1.5 * period as f64 / (1.0 - 1.5 / seasonal as f64)).ceil() as usize;
        StlParams {
            period,
            seasonal,
            seasonal_deg: 1,
            trend: trend + usize::from(trend % 2 == 0),
            low_pass: period + 1 + usize::from((period + 1) % 2 == 0),
            inner: 2,
        }
    }

    /// Loess evaluated every `ceil(window / 10)` points and interpolated
    /// between (the reference's default jumps; statsmodels' default is 1).
    fn jump(window: usize) -> usize {
        window.div_ceil(10).max(1)
    }
}

/// Seasonal and trend components of `y` (the remainder is `y - s - t`),
/// with robustness weights `rw` (one per value) in the seasonal and trend
/// loess when given, as the reference's outer loop applies them.
pub(super) fn stl(y: &[f64], p: &StlParams, rw: Option<&[f64]>) -> (Vec<f64>, Vec<f64>) {
    let n = y.len();
    let np = p.period;
    let mut trend = vec![0.0; n];
    let mut season = vec![0.0; n];
    let mut work = vec![0.0; n];
    let mut cycle = vec![0.0; n + 2 * np];
    for _ in 0..p.inner {
        for i in 0..n {
            work[i] = y[i] - trend[i];
        }
        let seasonal = Loess::new(p.seasonal, p.seasonal_deg);
        subseries_smooth(&work, np, seasonal, rw, &mut cycle);
        let low = low_pass(&cycle, np);
        let low = smooth(&low, Loess::new(p.low_pass, 1), None);
        for i in 0..n {
            season[i] = cycle[np + i] - low[i];
            work[i] = y[i] - season[i];
        }
        trend = smooth(&work, Loess::new(p.trend, 1), rw);
    }
    (season, trend)
}

/// MSTL's components: one seasonal component per period, the trend of the
/// last STL run and the deseasonalised series (trend plus remainder).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Mstl {
    /// Seasonal components, in the order of the periods.
    pub seasons: Vec<Vec<f64>>,
    /// Trend (zeros without periods).
    pub trend: Vec<f64>,
    /// The series less its seasonal components.
    pub deseason: Vec<f64>,
}

/// MSTL: the seasonal components of `periods` (ascending, each with its
/// seasonal window), estimated in turn for `iterate` rounds (one with a
/// single period, as statsforecast does), each STL run on the series less
/// the other components (with robustness weights `rw` when given).
pub(super) fn mstl(y: &[f64], periods: &[StlParams], iterate: usize, rw: Option<&[f64]>) -> Mstl {
    let mut deseason = y.to_vec();
    let mut seasons = vec![vec![0.0; y.len()]; periods.len()];
    let mut trend = vec![0.0; y.len()];
    let rounds = if periods.len() == 1 { 1 } else { iterate };
    for _ in 0..rounds {
        for (p, s) in periods.iter().zip(&mut seasons) {
            for (d, v) in deseason.iter_mut().zip(s.iter()) {
                *d += v;
            }
            (*s, trend) = stl(&deseason, p, rw);
            for (d, v) in deseason.iter_mut().zip(s.iter()) {
                *d -= v;
            }
        }
    }
    Mstl {
        seasons,
        trend,
        deseason,
    }
}

/// One loess smoother: window length (odd), local polynomial degree (0 or
/// 1) and jump.
#[derive(Debug, Clone, Copy)]
struct Loess {
    len: usize,
    degree: usize,
    jump: usize,
}

impl Loess {
    fn new(len: usize, degree: usize) -> Self {
        Loess {
            len,
            degree,
            jump: StlParams::jump(len),
        }
    }
}

/// Smooths each cycle-subseries of `x` (period `np`) by `loess`, extended
/// by one cycle at both ends: `out[m np + j]` is the subseries `j` smoothed
/// at its position `m - 1` (`m = 0` and the last one extrapolated). `out`
/// has `x.len() + 2 np` entries.
fn subseries_smooth(x: &[f64], np: usize, loess: Loess, rw: Option<&[f64]>, out: &mut [f64]) {
    let ns = loess.len;
    let n = x.len();
    let mut sub = Vec::with_capacity(n / np + 1);
    let mut sub_rw = Vec::with_capacity(n / np + 1);
    let mut inner = Vec::with_capacity(n / np + 1);
    for j in 0..np.min(n) {
        sub.clear();
        sub.extend(x[j..].iter().step_by(np));
        let sub_rw = rw.map(|rw| {
            sub_rw.clear();
            sub_rw.extend(rw[j..].iter().step_by(np));
            &sub_rw[..]
        });
        let k = sub.len();
        inner.clear();
        inner.resize(k, 0.0);
        smooth_into(&sub, loess, sub_rw, &mut inner);
        let right = ns.min(k);
        let first = estimate(&sub, loess, sub_rw, 0.0, (1, right)).unwrap_or(inner[0]);
        let left = (k + 1).saturating_sub(ns).max(1);
        let last = estimate(&sub, loess, sub_rw, (k + 1) as f64, (left, k)).unwrap_or(inner[k - 1]);
        out[j] = first;
        for (m, v) in inner.iter().enumerate() {
            out[(m + 1) * np + j] = *v;
        }
        out[(k + 1) * np + j] = last;
    }
}

/// The low-pass filter of STL: moving averages of lengths `np`, `np` and 3
/// of `x` (length `n + 2 np`), giving `n` values.
fn low_pass(x: &[f64], np: usize) -> Vec<f64> {
    moving_average(&moving_average(&moving_average(x, np), np), 3)
}

/// Means of each `len` consecutive values (`x.len() - len + 1` of them),
/// by a running sum as the reference computes them.
fn moving_average(x: &[f64], len: usize) -> Vec<f64> {
    let n_out = x.len() + 1 - len;
    let mut out = Vec::with_capacity(n_out);
    let mut sum: f64 = x[..len].iter().sum();
    out.push(sum / len as f64);
    for i in 1..n_out {
        sum += x[i + len - 1] - x[i - 1];
        out.push(sum / len as f64);
    }
    out
}

/// `loess` (tricube weights) of `y` at every position, evaluated every
/// `jump` positions and linearly interpolated between (the reference's
/// `stless`; the last position uses the window of the last one evaluated
/// before it, as there), with robustness weights `rw` when given.
fn smooth(y: &[f64], loess: Loess, rw: Option<&[f64]>) -> Vec<f64> {
    let mut ys = vec![0.0; y.len()];
    smooth_into(y, loess, rw, &mut ys);
    ys
}

/// [`smooth`] into `ys` (as long as `y`).
fn smooth_into(y: &[f64], loess: Loess, rw: Option<&[f64]>, ys: &mut [f64]) {
    let len = loess.len;
    let n = y.len();
    if n < 2 {
        ys.copy_from_slice(y);
        return;
    }
    let jump = loess.jump.min(n - 1).max(1);
    let half = len.div_ceil(2);
    // The window of 1-based position i.
    let window = |i: usize| -> (usize, usize) {
        if len >= n {
            (1, n)
        } else if i < half {
            (1, len)
        } else if i > n - half {
            (n - len + 1, n)
        } else {
            (i - half + 1, len + i - half)
        }
    };
    // Inside the series the window is symmetric about the evaluated
    // position, so the local line's slope term vanishes and the estimate
    // is a fixed weighted mean: its weights are computed once.
    let kernel = (len < n && rw.is_none()).then(|| interior_kernel(len));
    let at = |i: usize, (l, r): (usize, usize)| match &kernel {
        Some(k) if i >= half && i + half <= n + 1 => {
            k.iter().zip(&y[l - 1..r]).map(|(w, v)| w * v).sum()
        }
        _ => estimate(y, loess, rw, i as f64, (l, r)).unwrap_or(y[i - 1]),
    };
    let mut prev = 1;
    ys[0] = at(1, window(1));
    let mut i = 1 + jump;
    while i <= n {
        ys[i - 1] = at(i, window(i));
        interpolate(ys, prev, i);
        prev = i;
        i += jump;
    }
    if prev != n {
        ys[n - 1] = at(n, window(prev));
        interpolate(ys, prev, n);
    }
}

/// Fills `ys` strictly between 1-based positions `a` and `b` linearly.
fn interpolate(ys: &mut [f64], a: usize, b: usize) {
    let delta = (ys[b - 1] - ys[a - 1]) / (b - a) as f64;
    for j in a + 1..b {
        ys[j - 1] = ys[a - 1] + delta * (j - a) as f64;
    }
}

/// Normalised tricube weights of a window of odd length `len` centred on
/// the evaluated position (half-width `(len - 1) / 2`, as [`estimate`]
/// computes them there).
fn interior_kernel(len: usize) -> Vec<f64> {
    let h = ((len - 1) / 2) as f64;
    let (h9, h1) = (0.999 * h, 0.001 * h);
    let w: Vec<f64> = (0..len)
        .map(|j| {
            let r = (j as f64 - h).abs();
            if r > h9 {
                0.0
            } else if r <= h1 {
                1.0
            } else {
                (1.0 - (r / h).powi(3)).powi(3)
            }
        })
        .collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|v| v / total).collect()
}

/// Local constant or linear fit with tricube weights (times the
/// robustness weights `rw` when given) of `y` (positions `1..=n`) at
/// position `xs` over the window `left..=right` (the reference's
/// `stlest`); `None` when every weight is 0.
fn estimate(
    y: &[f64],
    loess: Loess,
    rw: Option<&[f64]>,
    xs: f64,
    (left, right): (usize, usize),
) -> Option<f64> {
    let len = loess.len;
    let n = y.len();
    let range = n as f64 - 1.0;
    let mut h = (xs - left as f64).max(right as f64 - xs);
    if len > n {
        h += ((len - n) / 2) as f64;
    }
    let (h9, h1) = (0.999 * h, 0.001 * h);
    // One pass: the weights' sum, first and second moments of the
    // positions, and their sums with the values.
    let inv_h = if h > 0.0 { 1.0 / h } else { 0.0 };
    let tricube = |x: f64| {
        let r = (x - xs).abs();
        if r > h9 {
            0.0
        } else if r <= h1 {
            1.0
        } else {
            let u = r * inv_h;
            let t = 1.0 - u * u * u;
            t * t * t
        }
    };
    let (mut s0, mut s1, mut s2, mut y0, mut y1) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut add = |w: f64, x: f64, v: f64| {
        s0 += w;
        s1 += w * x;
        s2 += w * x * x;
        y0 += w * v;
        y1 += w * x * v;
    };
    let values = &y[left - 1..right];
    match rw {
        None => {
            for (j, &v) in (left..=right).zip(values) {
                let x = j as f64;
                add(tricube(x), x, v);
            }
        }
        Some(rw) => {
            for ((j, &v), &r) in (left..=right).zip(values).zip(&rw[left - 1..right]) {
                let x = j as f64;
                add(tricube(x) * r, x, v);
            }
        }
    }
    if s0 <= 0.0 {
        return None;
    }
    let (mean_y, mean_xy) = (y0 / s0, y1 / s0);
    if h > 0.0 && loess.degree > 0 {
        let a = s1 / s0;
        let c = (s2 / s0 - a * a).max(0.0);
        if c.sqrt() > 0.001 * range {
            // sum of w (b (j - a) + 1) y / sum w, with b = (xs - a) / c.
            let b = (xs - a) / c;
            return Some(mean_y + b * (mean_xy - a * mean_y));
        }
    }
    Some(mean_y)
}

/// The reference's robustness weights: bisquare of the remainders over six
/// times their median absolute value (`rwts`).
pub(super) fn robustness_weights(remainder: &[f64]) -> Vec<f64> {
    let mut abs: Vec<f64> = remainder.iter().map(|r| r.abs()).collect();
    let h = 6.0 * super::irls::median(&mut abs);
    let (c9, c1) = (0.999 * h, 0.001 * h);
    remainder
        .iter()
        .map(|r| {
            let r = r.abs();
            if r <= c1 {
                1.0
            } else if r <= c9 {
                (1.0 - (r / h).powi(2)).powi(2)
            } else {
                0.0
            }
        })
        .collect()
}
