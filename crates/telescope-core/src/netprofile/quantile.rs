//! The `q`-quantile with linear interpolation between order statistics, as
//! numpy's `quantile` (method `linear`) and pandas' `Series.quantile`.

/// numpy's `_lerp`: `a + (b - a) t`, computed from `b` when `t >= 0.5`.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// The `q`-quantile (`0 <= q <= 1`) of values already sorted ascending;
/// `None` when empty. Position `q (n - 1)`, linear between neighbours.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let pos = ((n - 1) as f64 * q).clamp(0.0, (n - 1) as f64);
    let lo = pos.floor();
    let i = lo as usize;
    let j = (i + 1).min(n - 1);
    Some(lerp(sorted[i], sorted[j], pos - lo))
}

/// The `q`-quantile of `values` in any order (sorts a copy).
pub(crate) fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    quantile_sorted(&v, q)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed by hand from numpy's definition
    // (virtual index (n-1) q, linear interpolation); e.g.
    // np.quantile([1, 2, 3, 4], 0.95) = 3 + 0.85 * 1 = 3.85.
    #[test]
    fn matches_numpy_linear() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[7.0], 0.95), Some(7.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert!((quantile(&[4.0, 1.0, 3.0, 2.0], 0.95).unwrap() - 3.85).abs() < 1e-12);
        // n = 21: position 19 exactly -> the 20th smallest value.
        let v: Vec<f64> = (0..21).map(|i| (i * i) as f64).collect();
        assert_eq!(quantile(&v, 0.95), Some(361.0));
        // [10, 20, 30, 40, 50, 60], q = 0.95: pos 4.75 -> 50 + 0.75 * 10.
        assert_eq!(
            quantile(&[60.0, 10.0, 50.0, 20.0, 40.0, 30.0], 0.95),
            Some(57.5)
        );
        // q = 0.1 over [3, 1, 2]: pos 0.2 -> 1 + 0.2 * 1.
        assert!((quantile(&[3.0, 1.0, 2.0], 0.1).unwrap() - 1.2).abs() < 1e-12);
        assert_eq!(quantile(&[5.0, 1.0, 9.0], 1.0), Some(9.0));
        assert_eq!(quantile(&[5.0, 1.0, 9.0], 0.0), Some(1.0));
        // Ties: keep `y <= q` then keeps every copy of the maximum.
        assert_eq!(quantile(&[2.0, 2.0, 2.0], 0.95), Some(2.0));
    }
}
