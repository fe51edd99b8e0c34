//! Calibration: whether a classifier's probabilities mean what they say. The reliability
//! table and the expected calibration error (ECE) over ten equal-width bins, and isotonic
//! regression (scikit-learn's `IsotonicRegression`), which the label-free estimate
//! ([`crate::estimate`]) may fit on a reference to recalibrate scores, and the review of an
//! expected-value policy ([`crate::review`]) fits on labeled predictions, again on each
//! resample ([`IsotonicRows`]: sorted once, fitted with weights).
//!
//! **Binning.** The confidence of a row is the positive label's probability for a binary
//! classifier, the top probability for a multiclass one; its outcome is the truth being
//! the positive label (binary) or the top probability's label being the truth
//! (multiclass). The bins are those of scikit-learn's
//! `calibration_curve(strategy="uniform", n_bins=10)`: edges `numpy.linspace(0, 1, 11)`
//! (`i·0.1`), bin `b` holding confidences in `(edge_b, edge_{b+1}]`, the first also 0
//! (`numpy.searchsorted(edges[1:-1], c)`). Then
//!
//! ```text
//! ECE = Σ_b (n_b / n) · |observed_b − mean confidence_b|  =  Σ_b |Σ_{i∈b} (outcome_i − c_i)| / n
//! ```
//!
//! Pure: no I/O.

use crate::quality::QualityError;
use serde::Serialize;

/// Bins of the reliability table and the ECE.
pub const CALIBRATION_BINS: usize = 10;

/// The bins' edges: `numpy.linspace(0, 1, 11)`, which is `i·0.1` to the last bit.
pub fn bin_edges() -> [f64; CALIBRATION_BINS + 1] {
    std::array::from_fn(|i| i as f64 * 0.1)
}

/// The bin of a confidence in [0, 1]: how many inner edges lie below it (numpy's
/// `searchsorted(edges[1:-1], c, side="left")`).
pub fn bin_of(confidence: f64) -> usize {
    let edges = bin_edges();
    edges[1..CALIBRATION_BINS].partition_point(|e| *e < confidence)
}

/// One bin of a reliability table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    /// Rows whose confidence fell in the bin.
    pub count: u64,
    /// Their mean confidence (absent in an empty bin).
    pub mean_confidence: Option<f64>,
    /// The share of them whose outcome happened: the truth was the positive label (binary),
    /// or the top label was right (multiclass).
    pub observed: Option<f64>,
}

impl ReliabilityBin {
    /// The Wilson interval of the bin's observed share at `confidence` (none in an empty
    /// bin). A table's rows count once each, so `observed · count` is how many of them the
    /// outcome happened to.
    pub fn wilson(&self, confidence: f64) -> Option<rein_stats::Interval> {
        let happened = (self.observed? * self.count as f64).round() as u64;
        rein_stats::wilson_interval(happened, self.count, confidence).ok()
    }
}

/// Per bin: the weights, the weighted outcomes, the weighted confidences.
pub(crate) fn bin_sums(
    bins: &[usize],
    confidence: &[f64],
    outcome: &[f64],
    weights: &[f64],
) -> [[f64; 3]; CALIBRATION_BINS] {
    let mut sums = [[0.0; 3]; CALIBRATION_BINS];
    for i in 0..bins.len() {
        let w = weights[i];
        if w != 0.0 {
            let s = &mut sums[bins[i]];
            s[0] += w;
            s[1] += w * outcome[i];
            s[2] += w * confidence[i];
        }
    }
    sums
}

/// The ECE of weighted rows (NaN without weight): `Σ_b |Σ w·(outcome − c)| / Σ w`.
pub(crate) fn weighted_ece(bins: &[usize], confidence: &[f64], outcome: &[f64], weights: &[f64]) -> f64 {
    let sums = bin_sums(bins, confidence, outcome, weights);
    let total: f64 = sums.iter().map(|s| s[0]).sum();
    if total == 0.0 {
        return f64::NAN;
    }
    sums.iter().map(|s| (s[1] - s[2]).abs()).sum::<f64>() / total
}

/// The reliability table of rows (unit weights).
pub(crate) fn reliability_table(bins: &[usize], confidence: &[f64], outcome: &[f64]) -> Vec<ReliabilityBin> {
    let ones = vec![1.0; bins.len()];
    let sums = bin_sums(bins, confidence, outcome, &ones);
    let edges = bin_edges();
    sums.iter()
        .enumerate()
        .map(|(b, s)| ReliabilityBin {
            lower: edges[b],
            upper: edges[b + 1],
            count: s[0] as u64,
            mean_confidence: (s[0] > 0.0).then(|| s[2] / s[0]),
            observed: (s[0] > 0.0).then(|| s[1] / s[0]),
        })
        .collect()
}

/// The reliability table and the ECE of confidences in [0, 1] against their outcomes
/// (NaN without rows).
pub fn reliability(confidence: &[f64], outcome: &[bool]) -> Result<(Vec<ReliabilityBin>, f64), QualityError> {
    check_pairs(confidence, outcome.len())?;
    if let Some(row) = confidence.iter().position(|c| !(0.0..=1.0).contains(c)) {
        return Err(QualityError::NotAProbability { row, index: 0, value: confidence[row] });
    }
    let bins: Vec<usize> = confidence.iter().map(|c| bin_of(*c)).collect();
    let outcome: Vec<f64> = outcome.iter().map(|o| f64::from(u8::from(*o))).collect();
    let ones = vec![1.0; bins.len()];
    Ok((reliability_table(&bins, confidence, &outcome), weighted_ece(&bins, confidence, &outcome, &ones)))
}

/// As many finite scores as outcomes.
fn check_pairs(scores: &[f64], outcomes: usize) -> Result<(), QualityError> {
    if scores.len() != outcomes {
        return Err(QualityError::Unpaired { scores: scores.len(), outcomes });
    }
    if let Some(row) = scores.iter().position(|s| !s.is_finite()) {
        return Err(QualityError::NotFinite { row, what: "score", value: scores[row] });
    }
    Ok(())
}

/// An isotonic (non-decreasing) regression of outcomes on scores, fitted as scikit-learn's
/// `IsotonicRegression(increasing=True, out_of_bounds="clip")` fits it: the rows sorted by
/// score, rows of one score (within 1e-15, numpy's float64 `resolution`) pooled into their
/// mean, the pool-adjacent-violators algorithm (scikit-learn's, step for step), and a
/// prediction that interpolates linearly between the fitted points as scipy's `interp1d`
/// does, clipped to the fitted scores' range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Isotonic {
    /// The distinct scores, increasing.
    pub scores: Vec<f64>,
    /// The fitted value at each.
    pub fitted: Vec<f64>,
}

impl Isotonic {
    /// Fits on paired, finite `scores` and `outcomes` (1 or 0 for a calibration, any finite
    /// numbers otherwise), at least one pair.
    pub fn fit(scores: &[f64], outcomes: &[f64]) -> Result<Isotonic, QualityError> {
        Ok(IsotonicRows::new(scores, outcomes)?.fit(None).expect("at least one row, of weight 1"))
    }

    /// The calibrated value of a score.
    pub fn predict(&self, score: f64) -> f64 {
        let (x, y) = (&self.scores, &self.fitted);
        if x.len() == 1 {
            return y[0];
        }
        let t = score.clamp(x[0], x[x.len() - 1]);
        // scipy's interp1d._call_linear
        let hi = x.partition_point(|v| *v < t).clamp(1, x.len() - 1);
        let lo = hi - 1;
        let slope = (y[hi] - y[lo]) / (x[hi] - x[lo]);
        slope * (t - x[lo]) + y[lo]
    }

    /// The same function on fewer points: inside a run of equal fitted values only its ends
    /// (scikit-learn's `X_thresholds_` and `y_thresholds_`).
    pub fn trimmed(&self) -> Isotonic {
        let (x, y) = (&self.scores, &self.fitted);
        let keep = |i: usize| i == 0 || i + 1 == y.len() || y[i - 1] != y[i] || y[i] != y[i + 1];
        let kept: Vec<usize> = (0..y.len()).filter(|&i| keep(i)).collect();
        Isotonic { scores: kept.iter().map(|&i| x[i]).collect(), fitted: kept.iter().map(|&i| y[i]).collect() }
    }

    /// The score above which [`Self::predict`] exceeds `level`: every score above it is
    /// predicted above `level`, none at or below it. `-∞` when every score is (the lowest
    /// fitted value exceeds it), `None` when none is (the highest does not).
    pub fn exceeds_above(&self, level: f64) -> Option<f64> {
        let (x, y) = (&self.scores, &self.fitted);
        // the fitted values do not decrease: the first above `level` is where the line crosses
        let j = y.iter().position(|v| *v > level)?;
        if j == 0 {
            return Some(f64::NEG_INFINITY);
        }
        Some(x[j - 1] + (level - y[j - 1]) / (y[j] - y[j - 1]) * (x[j] - x[j - 1]))
    }
}

/// Rows sorted and pooled once, to fit an isotonic regression on them many times with
/// other weights (a bootstrap's resamples, the folds of a cross-fit) in O(rows) a fit.
#[derive(Debug, Clone)]
pub struct IsotonicRows {
    /// The distinct scores, increasing (scikit-learn's `_make_unique`: a score within 1e-15
    /// of the first of a run joins it).
    scores: Vec<f64>,
    /// For each distinct score, its rows in `numpy.lexsort((y, X))` order.
    rows: Vec<Vec<usize>>,
    outcomes: Vec<f64>,
}

impl IsotonicRows {
    /// Paired, finite `scores` and `outcomes`, at least one pair.
    pub fn new(scores: &[f64], outcomes: &[f64]) -> Result<IsotonicRows, QualityError> {
        check_pairs(scores, outcomes.len())?;
        if let Some(row) = outcomes.iter().position(|s| !s.is_finite()) {
            return Err(QualityError::NotFinite { row, what: "outcome", value: outcomes[row] });
        }
        if scores.is_empty() {
            return Err(QualityError::Unpaired { scores: 0, outcomes: 0 });
        }
        // numpy.lexsort((y, X)): by score, then by outcome
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(outcomes[a].total_cmp(&outcomes[b])));
        // scikit-learn's _make_unique
        let eps = 1e-15;
        let (mut distinct, mut rows): (Vec<f64>, Vec<Vec<usize>>) = (Vec::new(), Vec::new());
        for i in order {
            match (distinct.last(), rows.last_mut()) {
                (Some(current), Some(run)) if scores[i] - current < eps => run.push(i),
                _ => {
                    distinct.push(scores[i]);
                    rows.push(vec![i]);
                }
            }
        }
        Ok(IsotonicRows { scores: distinct, rows, outcomes: outcomes.to_vec() })
    }

    /// The regression of the rows, each weighted as `weights` says (one a row: how many
    /// times it is drawn; 0 leaves it out, as scikit-learn drops a row of weight 0), or 1
    /// each. `None` when every weight is 0.
    pub fn fit(&self, weights: Option<&[f64]>) -> Option<Isotonic> {
        let (mut x, mut y, mut w) = (Vec::new(), Vec::new(), Vec::new());
        for (score, rows) in self.scores.iter().zip(&self.rows) {
            let (mut sum_w, mut sum_wy) = (0.0, 0.0);
            for &i in rows {
                let wi = weights.map_or(1.0, |w| w[i]);
                sum_w += wi;
                sum_wy += wi * self.outcomes[i];
            }
            if sum_w > 0.0 {
                x.push(*score);
                y.push(sum_wy / sum_w);
                w.push(sum_w);
            }
        }
        if x.is_empty() {
            return None;
        }
        pool_adjacent_violators(&mut y, &mut w);
        Some(Isotonic { scores: x, fitted: y })
    }
}

/// scikit-learn's `_inplace_contiguous_isotonic_regression`, line for line.
fn pool_adjacent_violators(y: &mut [f64], w: &mut [f64]) {
    let n = y.len();
    let mut target: Vec<usize> = (0..n).collect();
    let mut i = 0;
    while i < n {
        let mut k = target[i] + 1;
        if k == n {
            break;
        }
        if y[i] < y[k] {
            i = k;
            continue;
        }
        let mut sum_wy = w[i] * y[i];
        let mut sum_w = w[i];
        loop {
            let prev_y = y[k];
            sum_wy += w[k] * y[k];
            sum_w += w[k];
            k = target[k] + 1;
            if k == n || prev_y < y[k] {
                y[i] = sum_wy / sum_w;
                w[i] = sum_w;
                target[i] = k - 1;
                target[k - 1] = i;
                if i > 0 {
                    i = target[i - 1];
                }
                break;
            }
        }
    }
    let mut i = 0;
    while i < n {
        let k = target[i] + 1;
        let value = y[i];
        y[i + 1..k].iter_mut().for_each(|v| *v = value);
        i = k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_right_closed_as_scikit_learn_cuts_them() {
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(0.1), 0);
        assert_eq!(bin_of(f64::from_bits(0.1_f64.to_bits() + 1)), 1);
        assert_eq!(bin_of(0.11), 1);
        // 0.3 lies below numpy's third edge, 0.30000000000000004
        assert_eq!(bin_of(0.3), 2);
        assert_eq!(bin_of(0.95), 9);
        assert_eq!(bin_of(1.0), 9);
    }

    #[test]
    fn a_calibrated_bin_has_no_error_and_a_wrong_one_its_gap() {
        let (table, ece) = reliability(&[0.25, 0.25, 0.25, 0.25], &[true, false, false, false]).unwrap();
        assert_eq!(ece, 0.0);
        assert_eq!(table[2].count, 4);
        let (_, ece) = reliability(&[0.9, 0.9], &[false, false]).unwrap();
        assert!((ece - 0.9).abs() < 1e-15);
    }

    #[test]
    fn isotonic_pools_violators_and_interpolates() {
        let fit = Isotonic::fit(&[0.1, 0.2, 0.3, 0.4], &[0.0, 1.0, 0.0, 1.0]).unwrap();
        assert_eq!(fit.fitted, vec![0.0, 0.5, 0.5, 1.0]);
        assert_eq!(fit.predict(0.0), 0.0);
        assert_eq!(fit.predict(0.25), 0.5);
        assert!((fit.predict(0.35) - 0.75).abs() < 1e-15);
        assert_eq!(fit.predict(2.0), 1.0);
        let one = Isotonic::fit(&[0.5, 0.5], &[1.0, 0.0]).unwrap();
        assert!(Isotonic::fit(&[], &[]).is_err());
        assert!(Isotonic::fit(&[0.1, f64::NAN], &[0.0, 1.0]).is_err());
        assert_eq!(one.predict(0.9), 0.5);
    }

    #[test]
    fn a_weighted_fit_is_the_fit_of_the_rows_repeated() {
        let scores = [0.1, 0.4, 0.2, 0.4, 0.3, 0.9, 0.7, 0.1];
        let outcomes = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0];
        let weights = [2.0, 0.0, 1.0, 3.0, 0.0, 1.0, 2.0, 1.0];
        let rows = IsotonicRows::new(&scores, &outcomes).unwrap();
        let (mut s, mut o) = (Vec::new(), Vec::new());
        for i in 0..scores.len() {
            for _ in 0..weights[i] as usize {
                s.push(scores[i]);
                o.push(outcomes[i]);
            }
        }
        assert_eq!(rows.fit(Some(&weights)), Some(Isotonic::fit(&s, &o).unwrap()));
        assert_eq!(rows.fit(None), Some(Isotonic::fit(&scores, &outcomes).unwrap()));
        assert_eq!(rows.fit(Some(&[0.0; 8])), None);
    }

    #[test]
    fn a_level_is_exceeded_above_where_the_fit_crosses_it() {
        // fitted 0, 0.5, 0.5, 1 at 0.1, 0.2, 0.3, 0.4
        let fit = Isotonic::fit(&[0.1, 0.2, 0.3, 0.4], &[0.0, 1.0, 0.0, 1.0]).unwrap();
        assert!((fit.exceeds_above(0.25).unwrap() - 0.15).abs() < 1e-15);
        // on a flat stretch at the level itself, only past its end
        assert!((fit.exceeds_above(0.5).unwrap() - 0.3).abs() < 1e-15);
        assert!((fit.exceeds_above(0.75).unwrap() - 0.35).abs() < 1e-15);
        assert_eq!(fit.exceeds_above(1.0), None);
        assert_eq!(fit.exceeds_above(-0.1), Some(f64::NEG_INFINITY));
        // a run of two equal values is its own two ends: nothing goes
        assert_eq!(fit.trimmed(), fit);
        let flat = Isotonic::fit(&[0.1, 0.2, 0.3, 0.4, 0.5], &[0.0, 1.0, 0.0, 1.0, 0.0]).unwrap();
        assert_eq!(flat.fitted, [0.0, 0.5, 0.5, 0.5, 0.5]);
        let trimmed = flat.trimmed();
        assert_eq!((trimmed.scores, trimmed.fitted), (vec![0.1, 0.2, 0.5], vec![0.0, 0.5, 0.5]));
        for level in [0.1, 0.25, 0.5, 0.6, 0.99] {
            let t = fit.exceeds_above(level).unwrap();
            assert!(fit.predict(t) <= level + 1e-15 && fit.predict(t + 1e-9) > level, "{level}");
        }
    }

    #[test]
    fn a_bin_s_wilson_interval_counts_its_rows() {
        let (table, _) = reliability(&[0.25, 0.25, 0.25, 0.25, 0.95], &[true, false, false, false, true]).unwrap();
        let wilson = table[2].wilson(0.95).unwrap();
        assert_eq!(wilson, rein_stats::wilson_interval(1, 4, 0.95).unwrap());
        assert_eq!(table[9].wilson(0.95).unwrap().upper, 1.0);
        assert_eq!(table[0].wilson(0.95), None);
    }
}
