//! Penalised, robust (Huber) iteratively reweighted least squares.
//!
//! Objective in scaled units (Prophet's MAP objective times `2 sigma^2`,
//! Gaussian likelihood replaced by Huber's loss):
//! `sum w_i rho(r_i) + sigma^2 (k^2 + m^2) / 25 + (2 sigma^2 / tau) sum |delta_j|
//!  + sigma^2 / sigma_beta^2 sum beta_c^2`.
//! The L1 term is handled by majorisation (a reweighted ridge), the Huber
//! loss by reweighting rows; multiplicative seasonality by Gauss-Newton.
//! Everything is deterministic: a fixed start and a fixed iteration cap.

use super::design::Layout;
use super::solver::{dot, NormalEquations};
use super::SeasonalityMode;

/// Huber tuning constant (95% efficiency under Gaussian noise).
const HUBER_K: f64 = 1.345;
/// Consistency factor of the median absolute deviation.
const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;
/// Iteration cap of the reweighting loop.
const MAX_ITER: usize = 60;
/// Stop when no coefficient moves more than this (scaled units).
const TOLERANCE: f64 = 1e-9;
/// Smallest |delta| used in the L1 majoriser.
const L1_FLOOR: f64 = 1e-7;
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

/// Coefficients and residual scale of a fit.
#[derive(Debug, Clone)]
pub(super) struct Estimate {
    /// Coefficients in column order.
    pub theta: Vec<f64>,
    /// Robust residual scale (scaled units).
    pub sigma: f64,
}

impl Problem<'_> {
    fn row(&self, i: usize) -> &[f64] {
        let p = self.layout.width();
        &self.x[i * p..(i + 1) * p]
    }

    /// Normal equations of the first `rows[k]` rows for each `k` (ascending).
    pub fn prefix_systems(&self, rows: &[usize]) -> Vec<NormalEquations> {
        let mut system = NormalEquations::new(self.layout.width());
        let mut out = Vec::with_capacity(rows.len());
        let mut next = 0;
        for &end in rows {
            for i in next..end {
                system.add(self.row(i), self.w[i], self.y[i]);
            }
            next = end;
            out.push(system.clone());
        }
        out
    }

    /// Fits on the first `rows` rows; `base` must be their additive normal
    /// equations (from [`Problem::prefix_systems`]).
    pub fn fit(
        &self,
        rows: usize,
        base: &NormalEquations,
        settings: &Settings,
    ) -> Option<Estimate> {
        let p = self.layout.width();
        let n_trend = self.layout.n_trend();
        let mut theta = vec![0.0; p];
        let mut sigma2 = variance(&self.y[..rows]).max(1e-12);
        let mut huber = vec![1.0; rows];
        let mut residuals = vec![0.0; rows];
        for iter in 0..MAX_ITER {
            let ridge = self.ridge(&theta, sigma2, iter == 0, settings);
            let next = match settings.mode {
                SeasonalityMode::Additive => {
                    let mut system = base.clone();
                    for (i, h) in huber.iter().enumerate() {
                        if *h < 1.0 {
                            system.add(self.row(i), -self.w[i] * (1.0 - h), self.y[i]);
                        }
                    }
                    system.solve(&ridge)?
                }
                SeasonalityMode::Multiplicative => {
                    self.gauss_newton_step(rows, &theta, &huber, &ridge)?
                }
            };
            let moved = theta
                .iter()
                .zip(&next)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            theta = next;
            for (i, r) in residuals.iter_mut().enumerate() {
                *r = self.y[i] - predict_row(self.row(i), &theta, n_trend, settings.mode);
            }
            let scale = robust_scale(&residuals).max(1e-9);
            sigma2 = scale * scale;
            if settings.robust {
                for (h, r) in huber.iter_mut().zip(&residuals) {
                    *h = (HUBER_K * scale / r.abs()).min(1.0);
                }
            }
            if iter > 1 && moved < TOLERANCE {
                break;
            }
        }
        Some(Estimate {
            theta,
            sigma: sigma2.sqrt(),
        })
    }

    /// Diagonal penalty for the current iterate.
    fn ridge(&self, theta: &[f64], sigma2: f64, first: bool, settings: &Settings) -> Vec<f64> {
        let n_trend = self.layout.n_trend();
        let tau = settings.changepoint_prior_scale;
        let beta_var = settings.seasonality_prior_scale.powi(2);
        (0..theta.len())
            .map(|c| match c {
                0 | 1 => sigma2 / TREND_PRIOR_VAR,
                c if c < n_trend => {
                    let delta = if first { tau } else { theta[c].abs() };
                    sigma2 / (tau * delta.max(L1_FLOOR))
                }
                _ => sigma2 / beta_var,
            })
            .collect()
    }

    /// One Gauss-Newton step of `y = g(t) (1 + s(t))` around `theta`.
    fn gauss_newton_step(
        &self,
        rows: usize,
        theta: &[f64],
        huber: &[f64],
        ridge: &[f64],
    ) -> Option<Vec<f64>> {
        let p = self.layout.width();
        let n_trend = self.layout.n_trend();
        let mut system = NormalEquations::new(p);
        let mut lin = vec![0.0; p];
        for i in 0..rows {
            let x = self.row(i);
            let trend = dot(&x[..n_trend], &theta[..n_trend]);
            let season = dot(&x[n_trend..], &theta[n_trend..]);
            for (l, v) in lin[..n_trend].iter_mut().zip(&x[..n_trend]) {
                *l = v * (1.0 + season);
            }
            for (l, v) in lin[n_trend..].iter_mut().zip(&x[n_trend..]) {
                *l = v * trend;
            }
            system.add(&lin, self.w[i] * huber[i], self.y[i] + trend * season);
        }
        system.solve(ridge)
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
pub(super) fn robust_scale(residuals: &[f64]) -> f64 {
    let mut abs: Vec<f64> = residuals.iter().map(|r| r.abs()).collect();
    median(&mut abs) * MAD_TO_SIGMA
}

/// Median (mean of the two middle values for even lengths; 0 when empty).
fn median(v: &mut [f64]) -> f64 {
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
