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

    /// Adds the rows of the row-major `xs` (`ws.len()` rows) with weights
    /// `ws` and targets `ys`: the same sums as [`NormalEquations::add`] per
    /// row, four rows at a time so each Gram entry is loaded and stored once
    /// per four rows.
    pub fn add_rows(&mut self, xs: &[f64], ws: &[f64], ys: &[f64]) {
        let p = self.p;
        debug_assert_eq!(xs.len(), ws.len() * p);
        let mut chunks = xs.chunks_exact(4 * p);
        let mut r = 0;
        for block in &mut chunks {
            let (x0, rest) = block.split_at(p);
            let (x1, rest) = rest.split_at(p);
            let (x2, x3) = rest.split_at(p);
            let (w, y) = (&ws[r..r + 4], &ys[r..r + 4]);
            r += 4;
            for i in 0..p {
                let a = [w[0] * x0[i], w[1] * x1[i], w[2] * x2[i], w[3] * x3[i]];
                if a == [0.0; 4] {
                    continue;
                }
                self.rhs[i] += a[0] * y[0] + a[1] * y[1] + a[2] * y[2] + a[3] * y[3];
                let g = &mut self.gram[i * p + i..(i + 1) * p];
                for ((((g, v0), v1), v2), v3) in g
                    .iter_mut()
                    .zip(&x0[i..])
                    .zip(&x1[i..])
                    .zip(&x2[i..])
                    .zip(&x3[i..])
                {
                    *g += a[0] * v0 + a[1] * v1 + a[2] * v2 + a[3] * v3;
                }
            }
        }
        for (x, (w, y)) in chunks
            .remainder()
            .chunks_exact(p)
            .zip(ws[r..].iter().zip(&ys[r..]))
        {
            self.add(x, *w, *y);
        }
    }

    /// The same `X'WX` with `X'Wy` recomputed for targets `ys` (rows of the
    /// row-major `xs` weighted by `ws`): the system of other targets on the
    /// same design at the cost of one pass over the rows.
    pub fn with_targets(&self, xs: &[f64], ws: &[f64], ys: &[f64]) -> Self {
        let mut rhs = vec![0.0; self.p];
        for ((x, w), y) in xs.chunks_exact(self.p).zip(ws).zip(ys) {
            let wy = w * y;
            for (r, v) in rhs.iter_mut().zip(x) {
                *r += wy * v;
            }
        }
        NormalEquations {
            p: self.p,
            gram: self.gram.clone(),
            rhs,
        }
    }

    /// Entry `(i, j)` of `X'WX` (either triangle).
    pub fn gram(&self, i: usize, j: usize) -> f64 {
        let (a, b) = if i <= j { (i, j) } else { (j, i) };
        self.gram[a * self.p + b]
    }

    /// Row `i` of the upper triangle of `X'WX`, from the diagonal on.
    pub fn gram_row(&self, i: usize) -> &[f64] {
        &self.gram[i * self.p + i..(i + 1) * self.p]
    }

    /// Entry `i` of `X'Wy`.
    pub fn rhs(&self, i: usize) -> f64 {
        self.rhs[i]
    }

    /// Solves the system restricted to the columns `cols` (the others held
    /// at 0): `(X'WX + diag(ridge))[cols, cols] b = X'Wy[cols] - shift[cols]`.
    /// `out` receives one value per entry of `cols`; `scratch` is reused.
    /// Returns false when not positive definite even after a small jitter.
    pub fn solve_subset(
        &self,
        cols: &[usize],
        ridge: &[f64],
        shift: &[f64],
        scratch: &mut Vec<f64>,
        out: &mut Vec<f64>,
    ) -> bool {
        let m = cols.len();
        let scale = cols
            .iter()
            .map(|&c| self.gram[c * self.p + c])
            .fold(0.0_f64, f64::max)
            .max(1.0);
        for jitter in [0.0, 1e-12, 1e-8] {
            scratch.clear();
            scratch.resize(m * m, 0.0);
            for (a, &ca) in cols.iter().enumerate() {
                for (b, &cb) in cols.iter().enumerate().skip(a) {
                    scratch[a * m + b] = self.gram(ca, cb);
                }
                scratch[a * m + a] += ridge[ca] + jitter * scale;
            }
            out.clear();
            out.extend(cols.iter().map(|&c| self.rhs[c] - shift[c]));
            if cholesky_solve(scratch, m, out) {
                return true;
            }
        }
        false
    }
}

/// Solves `A b = rhs` in place (`b` overwrites `rhs`) for a symmetric
/// positive definite `m x m` matrix given by its upper triangle in `a`
/// (destroyed). False when `A` is not positive definite.
fn cholesky_solve(a: &mut [f64], m: usize, rhs: &mut [f64]) -> bool {
    // A = U'U, U upper triangular, computed row by row.
    for i in 0..m {
        let (done, rest) = a.split_at_mut(i * m);
        let row = &mut rest[..m];
        for k in 0..i {
            let uk = &done[k * m..(k + 1) * m];
            let f = uk[i];
            if f != 0.0 {
                for (r, u) in row[i..].iter_mut().zip(&uk[i..]) {
                    *r -= f * u;
                }
            }
        }
        let d = row[i];
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        let d = d.sqrt();
        let inv = 1.0 / d;
        row[i] = d;
        for r in &mut row[i + 1..] {
            *r *= inv;
        }
    }
    for i in 0..m {
        let mut s = rhs[i];
        for k in 0..i {
            s -= a[k * m + i] * rhs[k];
        }
        rhs[i] = s / a[i * m + i];
    }
    for i in (0..m).rev() {
        let row = &a[i * m..(i + 1) * m];
        let s = rhs[i] - dot(&row[i + 1..], &rhs[i + 1..]);
        rhs[i] = s / row[i];
    }
    rhs.iter().all(|v| v.is_finite())
}

/// Dot product.
pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
