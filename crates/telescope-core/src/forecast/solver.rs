//! Weighted ridge least squares through the normal equations and Cholesky.

/// Accumulated normal equations `X'WX` (upper triangle) and `X'Wy`.
#[derive(Debug, Clone)]
pub(super) struct NormalEquations {
    p: usize,
    gram: Vec<f64>,
    rhs: Vec<f64>,
}

impl NormalEquations {
    /// Empty system with `p` unknowns.
    pub fn new(p: usize) -> Self {
        NormalEquations {
            p,
            gram: vec![0.0; p * p],
            rhs: vec![0.0; p],
        }
    }

    /// Number of unknowns.
    pub fn len(&self) -> usize {
        self.p
    }

    /// Adds observation `y` with design row `x` and weight `w` (may be
    /// negative to take a share of a row out again).
    pub fn add(&mut self, x: &[f64], w: f64, y: f64) {
        let p = self.p;
        for i in 0..p {
            let wx = w * x[i];
            if wx == 0.0 {
                continue;
            }
            self.rhs[i] += wx * y;
            let row = &mut self.gram[i * p + i..(i + 1) * p];
            for (g, xj) in row.iter_mut().zip(&x[i..]) {
                *g += wx * xj;
            }
        }
    }

    /// Solves `(X'WX + diag(ridge)) b = X'Wy`; `None` when not positive
    /// definite even after a small jitter.
    pub fn solve(&self, ridge: &[f64]) -> Option<Vec<f64>> {
        let scale = (0..self.p)
            .map(|i| self.gram[i * self.p + i])
            .fold(0.0_f64, f64::max)
            .max(1.0);
        [0.0, 1e-12, 1e-8]
            .iter()
            .find_map(|jitter| self.solve_with(ridge, jitter * scale))
    }

    fn solve_with(&self, ridge: &[f64], jitter: f64) -> Option<Vec<f64>> {
        let p = self.p;
        let mut l = self.gram.clone();
        for i in 0..p {
            l[i * p + i] += ridge[i] + jitter;
        }
        // In-place Cholesky on the upper triangle: A = U'U.
        for i in 0..p {
            let mut d = l[i * p + i];
            for k in 0..i {
                d -= l[k * p + i] * l[k * p + i];
            }
            if !(d > 0.0 && d.is_finite()) {
                return None;
            }
            let d = d.sqrt();
            l[i * p + i] = d;
            for j in i + 1..p {
                let mut s = l[i * p + j];
                for k in 0..i {
                    s -= l[k * p + i] * l[k * p + j];
                }
                l[i * p + j] = s / d;
            }
        }
        // U'z = rhs, then U b = z.
        let mut b = self.rhs.clone();
        for i in 0..p {
            let mut s = b[i];
            for k in 0..i {
                s -= l[k * p + i] * b[k];
            }
            b[i] = s / l[i * p + i];
        }
        for i in (0..p).rev() {
            let mut s = b[i];
            for k in i + 1..p {
                s -= l[i * p + k] * b[k];
            }
            b[i] = s / l[i * p + i];
        }
        b.iter().all(|v| v.is_finite()).then_some(b)
    }
}

/// Dot product.
pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
