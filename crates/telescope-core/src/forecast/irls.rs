//! Penalised, robust (Huber) iteratively reweighted least squares.
//!
//! Objective in scaled units (Prophet's MAP objective times `2 sigma^2`,
//! Gaussian likelihood replaced by Huber's loss):
//!
//! `sum w_i rho(r_i) + sigma^2 (k^2 + m^2) / 25 + (2 sigma^2 / tau) sum |delta_j| + sigma^2 / sigma_beta^2 sum beta_c^2`
//!
//! The L1 term is solved exactly for each weighted system by an active-set
//! (feature-sign) search, the Huber loss by reweighting rows (updating the
//! normal equations of the rows whose weight changed); multiplicative
//! seasonality by Gauss-Newton.
//! Everything is deterministic: a fixed start and a fixed iteration cap.

use super::config::SeasonalityMode;
use super::design::Layout;
use super::solver::{dot, NormalEquations};

/// Huber tuning constant (95% efficiency under Gaussian noise).
const HUBER_K: f64 = 1.345;
/// Consistency factor of the median absolute deviation.
const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;
/// Iteration cap of the robustness (and Gauss-Newton) loop.
const MAX_OUTER: usize = 12;
/// Step cap of the L1 (feature-sign) solver.
const MAX_LASSO_STEPS: usize = 200;
/// Outer loop stops when no fitted value moves more than this share of the
/// robust residual scale (changes far below the noise cannot matter); see
/// [`Settings::outer_tolerance`].
pub(super) const OUTER_TOLERANCE: f64 = 1e-3;
/// Diagonal of X'WX, relative to the largest, below which a slope-change
/// column counts as holding no data.
const DEAD_COLUMN: f64 = 1e-12;
/// Relative slack of the L1 optimality check `|gradient| <= mu`.
const LASSO_TOLERANCE: f64 = 1e-9;
/// Prior variance of the intercept and base slope (Prophet: N(0, 5)).
const TREND_PRIOR_VAR: f64 = 25.0;

/// Penalties and options of one fit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    /// Laplace scale of slope changes (Prophet's changepoint_prior_scale).
    pub changepoint_prior_scale: f64,
    /// Gaussian prior scale of Fourier coefficients.
    pub seasonality_prior_scale: f64,
    /// Down-weight large residuals (Huber) instead of plain least squares.
    pub robust: bool,
    /// How seasonality combines with the trend.
    pub mode: SeasonalityMode,
    /// The robustness loop stops when no fitted value moved more than this
    /// share of the robust residual scale ([`OUTER_TOLERANCE`] by default).
    pub outer_tolerance: f64,
}

/// Design rows and scaled targets of the (time-sorted) history.
#[derive(Debug)]
pub(super) struct Problem<'a> {
    /// Column layout.
    pub layout: &'a Layout,
    /// Row-major design matrix, `y.len()` rows.
    pub x: &'a [f64],
    /// Targets divided by the value scale.
    pub y: &'a [f64],
    /// Base (recency) weights, mean 1.
    pub w: &'a [f64],
}

/// Coefficients and residual scale of a fit, with the final weighted
/// system so that hold-out refits only take rows out of it.
#[derive(Debug, Clone)]
pub(super) struct Estimate {
    /// Coefficients in column order.
    pub theta: Vec<f64>,
    /// Robust residual scale (scaled units).
    pub sigma: f64,
    /// Robustness weights of the rows (1 = full weight).
    huber: Vec<f64>,
    /// Coefficients the final system was linearised at (multiplicative).
    lin_theta: Vec<f64>,
    /// Final weighted normal equations.
    system: NormalEquations,
}

impl Problem<'_> {
    fn row(&self, i: usize) -> &[f64] {
        let p = self.layout.width();
        &self.x[i * p..(i + 1) * p]
    }

    fn n(&self) -> usize {
        self.y.len()
    }

    /// Normal equations of all rows with base weights (additive design).
    pub fn base_system(&self) -> NormalEquations {
        let mut system = NormalEquations::new(self.layout.width());
        system.add_rows(self.x, self.w, self.y);
        system
    }

    /// Regression row and target of row `i`, linearised at `theta` in
    /// multiplicative mode (Gauss-Newton): `y = g (1 + s)` around `(g0, s0)`
    /// is `y + g0 s0 = (1 + s0) g + g0 s`.
    fn linear_row(&self, i: usize, theta: &[f64], mode: SeasonalityMode, out: &mut [f64]) -> f64 {
        let x = self.row(i);
        match mode {
            SeasonalityMode::Additive => {
                out.copy_from_slice(x);
                self.y[i]
            }
            SeasonalityMode::Multiplicative => {
                let n_trend = self.layout.n_trend();
                let (trend, season) = components(x, theta, n_trend);
                for (l, v) in out[..n_trend].iter_mut().zip(&x[..n_trend]) {
                    *l = v * (1.0 + season);
                }
                for (l, v) in out[n_trend..].iter_mut().zip(&x[n_trend..]) {
                    *l = v * trend;
                }
                self.y[i] + trend * season
            }
        }
    }

    /// Fits on all rows; `base` must be [`Problem::base_system`].
    pub fn fit(&self, base: &NormalEquations, settings: &Settings) -> Option<Estimate> {
        let n = self.n();
        let p = self.layout.width();
        let n_trend = self.layout.n_trend();
        let (mut theta, mut sigma2, mut huber, warm) = match settings.mode {
            SeasonalityMode::Additive => (
                vec![0.0; p],
                variance(self.y).max(1e-12),
                vec![1.0; n],
                false,
            ),
            SeasonalityMode::Multiplicative => {
                let start = self.multiplicative_start(base, settings)?;
                (start.theta, start.sigma * start.sigma, start.huber, true)
            }
        };
        let mut residuals = vec![0.0; n];
        let mut scratch = Vec::with_capacity(n);
        let mut batch = RowBatch::default();
        let mut system = base.clone();
        let mut lin_theta = theta.clone();
        for outer in 0..MAX_OUTER {
            if settings.mode == SeasonalityMode::Multiplicative {
                lin_theta.clone_from(&theta);
                system = NormalEquations::new(p);
                batch.clear();
                for (i, h) in huber.iter().enumerate() {
                    batch.push_linear(self, i, &lin_theta, settings.mode, self.w[i] * h);
                }
                batch.flush_into(&mut system);
            }
            let start = (warm || outer > 0).then_some(theta.as_slice());
            theta = solve_sparse(&system, n_trend, sigma2, start, settings)?;
            // Largest change of a fitted value since the last iteration.
            let mut moved = 0.0_f64;
            for (i, r) in residuals.iter_mut().enumerate() {
                let new = self.y[i] - predict_row(self.row(i), &theta, n_trend, settings.mode);
                moved = moved.max((new - *r).abs());
                *r = new;
            }
            let scale = robust_scale(&residuals, &mut scratch).max(1e-9);
            sigma2 = scale * scale;
            if outer > 0 && moved < settings.outer_tolerance * scale {
                break;
            }
            // Keep the final system built with the final weights (hold-out
            // refits take rows out of it with those weights).
            if settings.robust && outer + 1 < MAX_OUTER {
                batch.clear();
                for (i, (h, r)) in huber.iter_mut().zip(&residuals).enumerate() {
                    let new = (HUBER_K * scale / r.abs()).min(1.0);
                    if new != *h && settings.mode == SeasonalityMode::Additive {
                        batch.push(self.row(i), self.w[i] * (new - *h), self.y[i]);
                    }
                    *h = new;
                }
                batch.flush_into(&mut system);
            }
        }
        Some(Estimate {
            theta,
            sigma: sigma2.sqrt(),
            huber,
            lin_theta,
            system,
        })
    }

    /// Start of the multiplicative fit: the additive fit, its seasonal terms
    /// divided by the mean trend to make them relative.
    fn multiplicative_start(
        &self,
        base: &NormalEquations,
        settings: &Settings,
    ) -> Option<Estimate> {
        let additive = Settings {
            mode: SeasonalityMode::Additive,
            ..*settings
        };
        let mut start = self.fit(base, &additive)?;
        let n_trend = self.layout.n_trend();
        let mean_trend = (0..self.n())
            .map(|i| dot(&self.row(i)[..n_trend], &start.theta[..n_trend]))
            .sum::<f64>()
            / self.n() as f64;
        for beta in &mut start.theta[n_trend..] {
            *beta = if mean_trend.abs() > 1e-9 {
                *beta / mean_trend
            } else {
                0.0
            };
        }
        Some(start)
    }

    /// Refits `estimate` without the rows from `end` on (same robustness
    /// weights and penalty scale): a hold-out fit at the cost of one solve.
    pub fn refit_prefix(
        &self,
        estimate: &Estimate,
        end: usize,
        settings: &Settings,
    ) -> Option<Vec<f64>> {
        let mut system = estimate.system.clone();
        let mut batch = RowBatch::default();
        for i in end..self.n() {
            let weight = -self.w[i] * estimate.huber[i];
            batch.push_linear(self, i, &estimate.lin_theta, settings.mode, weight);
        }
        batch.flush_into(&mut system);
        let sigma2 = estimate.sigma * estimate.sigma;
        solve_sparse(
            &system,
            self.layout.n_trend(),
            sigma2,
            Some(&estimate.theta),
            settings,
        )
    }
}

/// Minimises `theta' A theta / 2 - b' theta + penalties` for a fixed system
/// exactly: Gaussian priors on intercept, slope and Fourier terms (a ridge),
/// the Laplace (L1) prior on slope changes by feature-sign search (Lee et
/// al. 2007), an active-set method: solve the smooth problem on the nonzero
/// slope changes with their signs fixed, line-search to the best sign
/// crossing, and add the slope change whose optimality condition is most
/// violated, until the optimality conditions hold. `start` warm-starts the
/// active set and signs; each step is one small Cholesky solve and the
/// objective decreases strictly, so a handful of steps suffice.
// One feature-sign search: its loop state (active set, signs, scratch
// buffers, best objective) is shared by every step, so it stays one body.
#[allow(clippy::too_many_lines)]
fn solve_sparse(
    system: &NormalEquations,
    n_trend: usize,
    sigma2: f64,
    start: Option<&[f64]>,
    settings: &Settings,
) -> Option<Vec<f64>> {
    let p = system.len();
    let tau = settings.changepoint_prior_scale;
    let beta_var = settings.seasonality_prior_scale.powi(2);
    // Slope changes whose column has (next to) no data left, e.g. after a
    // hold-out refit took out the rows past a late changepoint, stay at 0.
    let max_diag = (0..p).map(|c| system.gram(c, c)).fold(0.0_f64, f64::max);
    let dead: Vec<bool> = (0..p)
        .map(|c| system.gram(c, c) <= DEAD_COLUMN * max_diag)
        .collect();
    let penalised = |c: usize| (2..n_trend).contains(&c);
    let ridge: Vec<f64> = (0..p)
        .map(|c| match c {
            0 | 1 => sigma2 / TREND_PRIOR_VAR,
            c if c < n_trend => 0.0,
            _ => sigma2 / beta_var,
        })
        .collect();
    // L1 weight in the halved objective: (sigma^2 / tau) sum |delta_j|.
    let mu = sigma2 / tau;
    let lasso = Lasso {
        system,
        ridge: &ridge,
        mu,
        n_trend,
    };
    let mut theta: Vec<f64> = match start {
        Some(t) => t.to_vec(),
        None => vec![0.0; p],
    };
    for c in (0..p).filter(|&c| penalised(c) && dead[c]) {
        theta[c] = 0.0;
    }
    let mut sign: Vec<f64> = (0..p)
        .map(|c| if penalised(c) { signum0(theta[c]) } else { 0.0 })
        .collect();
    let mut cols: Vec<usize> = Vec::with_capacity(p);
    let mut scratch = Vec::new();
    let mut sub = Vec::new();
    let mut target = vec![0.0; p];
    let mut shift = vec![0.0; p];
    let mut grad = vec![0.0; p];
    let mut best_f = lasso.objective(&theta);
    let mut solved = false;
    for _ in 0..MAX_LASSO_STEPS {
        // Smooth optimum on the active columns with the signs fixed.
        cols.clear();
        cols.extend((0..p).filter(|&c| !penalised(c) || sign[c] != 0.0));
        for c in 0..p {
            shift[c] = mu * sign[c];
        }
        if !system.solve_subset(&cols, &ridge, &shift, &mut scratch, &mut sub) {
            // A later active set that is numerically singular: keep the
            // last (valid, lower-objective) point.
            if solved {
                break;
            }
            return None;
        }
        target.fill(0.0);
        for (&c, &v) in cols.iter().zip(&sub) {
            target[c] = v;
        }
        solved = true;
        // Discrete line search over the target and the sign crossings.
        let mut next = target.clone();
        let mut next_f = lasso.objective(&target);
        let mut consistent = true;
        for &c in cols.iter().filter(|&&c| penalised(c)) {
            if signum0(target[c]) == sign[c] {
                continue;
            }
            consistent = false;
            let denom = theta[c] - target[c];
            if denom == 0.0 {
                continue;
            }
            let alpha = theta[c] / denom;
            if !(0.0..1.0).contains(&alpha) {
                continue;
            }
            let mut point: Vec<f64> = theta
                .iter()
                .zip(&target)
                .map(|(a, b)| a + alpha * (b - a))
                .collect();
            point[c] = 0.0;
            let f = lasso.objective(&point);
            if f < next_f {
                next_f = f;
                next = point;
            }
        }
        if next_f > best_f && !consistent {
            // No decrease along the segment (rounding): keep the current point.
            break;
        }
        theta = next;
        best_f = next_f.min(best_f);
        for c in (0..p).filter(|&c| penalised(c)) {
            sign[c] = signum0(theta[c]);
        }
        if !consistent {
            continue;
        }
        // Inactive slope changes: add the worst violator of |grad| <= mu.
        lasso.smooth_gradient(&theta, &mut grad);
        let worst = (0..p)
            .filter(|&c| penalised(c) && sign[c] == 0.0 && !dead[c])
            .map(|c| (c, grad[c].abs()))
            .filter(|&(_, g)| g > mu * (1.0 + LASSO_TOLERANCE))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match worst {
            Some((c, _)) => sign[c] = -signum0(grad[c]),
            None => break,
        }
    }
    (solved && theta.iter().all(|v| v.is_finite())).then_some(theta)
}

/// Signum with `signum0(0) == 0`.
fn signum0(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// The halved penalised objective of [`solve_sparse`].
struct Lasso<'a> {
    system: &'a NormalEquations,
    ridge: &'a [f64],
    mu: f64,
    n_trend: usize,
}

impl Lasso<'_> {
    /// `(A + diag(ridge)) theta - b`.
    fn smooth_gradient(&self, theta: &[f64], out: &mut [f64]) {
        let p = self.system.len();
        for (i, o) in out.iter_mut().enumerate().take(p) {
            let mut s = self.ridge[i] * theta[i] - self.system.rhs(i);
            for (j, t) in theta.iter().enumerate() {
                if *t != 0.0 {
                    s += self.system.gram(i, j) * t;
                }
            }
            *o = s;
        }
    }

    /// `theta' (A + diag(ridge)) theta / 2 - b' theta + mu sum |delta|`.
    fn objective(&self, theta: &[f64]) -> f64 {
        let mut f = 0.0;
        for (i, &t) in theta.iter().enumerate() {
            if t == 0.0 {
                continue;
            }
            let g = self.system.gram_row(i);
            let q = 0.5 * (g[0] + self.ridge[i]) * t + dot(&g[1..], &theta[i + 1..]);
            f += t * (q - self.system.rhs(i));
        }
        f + self.mu * theta[2..self.n_trend].iter().map(|d| d.abs()).sum::<f64>()
    }
}

/// Rows waiting to be added to normal equations in one blocked update.
#[derive(Debug, Default)]
struct RowBatch {
    xs: Vec<f64>,
    ws: Vec<f64>,
    ys: Vec<f64>,
}

impl RowBatch {
    fn clear(&mut self) {
        self.xs.clear();
        self.ws.clear();
        self.ys.clear();
    }

    fn push(&mut self, x: &[f64], w: f64, y: f64) {
        self.xs.extend_from_slice(x);
        self.ws.push(w);
        self.ys.push(y);
    }

    /// Pushes row `i` of `problem`, linearised at `theta` (see
    /// [`Problem::linear_row`]).
    fn push_linear(
        &mut self,
        problem: &Problem<'_>,
        i: usize,
        theta: &[f64],
        mode: SeasonalityMode,
        w: f64,
    ) {
        let p = problem.layout.width();
        let at = self.xs.len();
        self.xs.resize(at + p, 0.0);
        let y = problem.linear_row(i, theta, mode, &mut self.xs[at..]);
        self.ws.push(w);
        self.ys.push(y);
    }

    fn flush_into(&mut self, system: &mut NormalEquations) {
        system.add_rows(&self.xs, &self.ws, &self.ys);
        self.clear();
    }
}

/// Trend and seasonal parts of one design row.
pub(super) fn components(x: &[f64], theta: &[f64], n_trend: usize) -> (f64, f64) {
    (
        dot(&x[..n_trend], &theta[..n_trend]),
        dot(&x[n_trend..], &theta[n_trend..]),
    )
}

/// Model mean of one design row.
pub(super) fn predict_row(x: &[f64], theta: &[f64], n_trend: usize, mode: SeasonalityMode) -> f64 {
    let (trend, season) = components(x, theta, n_trend);
    match mode {
        SeasonalityMode::Additive => trend + season,
        SeasonalityMode::Multiplicative => trend * (1.0 + season),
    }
}

/// Sample variance around the mean (0 for fewer than two values).
fn variance(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64
}

/// Normal-consistent median absolute deviation from zero.
pub(super) fn robust_scale(residuals: &[f64], scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend(residuals.iter().map(|r| r.abs()));
    median(scratch) * MAD_TO_SIGMA
}

/// Median (mean of the two middle values for even lengths; 0 when empty).
pub(super) fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let (_, hi, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let hi = *hi;
    if n % 2 == 1 {
        return hi;
    }
    let lo = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    0.5 * (lo + hi)
}
