//! How `auto`'s candidates are blended: which join (not an untested
//! repeat of another), their weights from their hold-out scores, and how
//! far the blend's band is narrowed below its members' (measured on the
//! hold-out days they all forecast). Functions of the hold-out errors
//! alone; `select.rs` fits the candidates and applies them.

use super::holdout::abs_quantile_scale;

/// Sharpness of the blend weights `(best / score) ^ BLEND_POWER`: 0 would
/// average the candidates equally, infinity choose the best.
const BLEND_POWER: f64 = 16.0;
/// The blend's band is never narrowed below this share of its members'
/// (see [`blend_band_factor`]; on the backtests it lowers the coverage by
/// 0.007-0.012).
const MIN_BLEND_BAND_FACTOR: f64 = 0.5;
/// Blend weights below this are dropped (and the rest renormalised).
const MIN_BLEND_WEIGHT: f64 = 1e-3;
/// A hold-out day a candidate forecast: its cut's `train_end` (which names
/// the day) and its rows.
pub(super) type HeldDay = (usize, usize);

/// For each candidate's hold-out errors `errors`, whether they repeat an
/// earlier candidate's exactly (as many errors, equal bit for bit; the
/// caller's candidates forecast the same hold-out rows in order). Such a
/// candidate forecast every hold-out row as the earlier one did, so the
/// hold-out days cannot say whether its different rule for other days
/// (the day-type naive's Friday for a Monday, say, against the weekly
/// naive's Monday a week earlier) is better: it is left out, and the
/// earlier, simpler candidate stands for both. Candidates without errors
/// are never repeats.
pub(super) fn untested_repeats(errors: &[&[f64]]) -> Vec<bool> {
    let same = |a: &[f64], b: &[f64]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    };
    (0..errors.len())
        .map(|j| !errors[j].is_empty() && (0..j).any(|i| same(errors[i], errors[j])))
        .collect()
}

/// Each member's hold-out errors `(errors, days)` (`days`: each forecast
/// day's `train_end`, which names it, and its rows, in the order of the
/// errors) on the days every member forecast. A hold-out fit that fails
/// loses its day (the weekly naives ask their gate again on each shorter
/// history, and older days fail it more often), and the blend's errors are
/// only known on the days all its members forecast.
pub(super) fn common_day_errors(members: &[(&[f64], &[HeldDay])]) -> Vec<Vec<f64>> {
    let forecast_by_all = |day: usize| {
        members
            .iter()
            .all(|(_, days)| days.iter().any(|&(d, _)| d == day))
    };
    members
        .iter()
        .map(|&(errors, days)| {
            let mut start = 0;
            let mut kept = Vec::new();
            for &(day, rows) in days {
                if forecast_by_all(day) {
                    kept.extend_from_slice(&errors[start..start + rows]);
                }
                start += rows;
            }
            kept
        })
        .collect()
}

/// Blend weights of candidates with hold-out scores `scores` (mean absolute
/// errors): `(best / score) ^ BLEND_POWER`, those below
/// [`MIN_BLEND_WEIGHT`] dropped, normalised to sum 1; and the index of the
/// best (the first on ties), the heaviest. Without a finite positive best
/// score, all weight goes to the best.
pub(super) fn blend_weights(scores: &[f64]) -> (usize, Vec<f64>) {
    let mut best = 0;
    for (i, s) in scores.iter().enumerate() {
        if *s < scores[best] {
            best = i;
        }
    }
    let Some(&low) = scores.get(best) else {
        return (0, Vec::new());
    };
    let mut w: Vec<f64> = if low > 0.0 && low.is_finite() {
        scores.iter().map(|s| (low / s).powf(BLEND_POWER)).collect()
    } else {
        (0..scores.len()).map(|i| f64::from(i == best)).collect()
    };
    let total: f64 = w.iter().sum();
    for v in &mut w {
        *v /= total;
    }
    for v in &mut w {
        if *v < MIN_BLEND_WEIGHT {
            *v = 0.0;
        }
    }
    let total: f64 = w.iter().sum();
    (best, w.into_iter().map(|v| v / total).collect())
}

/// Factor on the members' bands so that the blended band fits the blended
/// forecast's errors: the scale of the weighted mean of the candidates'
/// hold-out errors `errors` (on the values, row by row) over the weighted
/// mean of their scales, at least [`MIN_BLEND_BAND_FACTOR`]. The blend's
/// bounds are the weighted means of the members' bounds, as wide as their
/// weighted mean scale, but the blend errs less than that when its members
/// err differently. 1 when the errors do not pair up (different hold-out
/// rows) or are all 0.
pub(super) fn blend_band_factor(errors: &[&[f64]], weights: &[f64]) -> f64 {
    let n = errors.first().map_or(0, |e| e.len());
    if n == 0 || errors.iter().any(|e| e.len() != n) {
        return 1.0;
    }
    let blended = (0..n).map(|j| {
        errors
            .iter()
            .zip(weights)
            .map(|(e, w)| w * e[j])
            .sum::<f64>()
    });
    let own: f64 = errors
        .iter()
        .zip(weights)
        .map(|(e, w)| w * abs_quantile_scale(e.iter().copied()))
        .sum();
    if own > 0.0 {
        (abs_quantile_scale(blended) / own).max(MIN_BLEND_BAND_FACTOR)
    } else {
        1.0
    }
}
