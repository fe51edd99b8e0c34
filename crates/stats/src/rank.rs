//! Statistics of order: quantiles, ranks, ROC AUC and Spearman's rank correlation.

use crate::interval::{Interval, normal_quantile, t_sf};
use crate::{Sample, StatsError, check_confidence, check_finite, quantile_sorted, sorted_finite};

/// The `q` quantile of `values` (q in [0, 1]): numpy's `np.quantile(values, q)` with its
/// default method, `linear` (Hyndman and Fan's type 7), interpolating between the two
/// values nearest position `q·(n−1)` of the sorted sample.
pub fn quantile(values: &[f64], q: f64) -> Result<f64, StatsError> {
    check_quantile(q)?;
    Ok(quantile_sorted(&sorted_finite(values, Sample::Values)?, q))
}

pub(crate) fn check_quantile(q: f64) -> Result<(), StatsError> {
    if (0.0..=1.0).contains(&q) {
        Ok(())
    } else {
        Err(StatsError::InvalidParameter { name: "q", value: q, expected: "a quantile in [0, 1] (0.5 for the median)" })
    }
}

/// The ranks of `values`, 1 for the smallest, ties given the mean of the ranks they span
/// (scipy's `rankdata(method='average')`).
pub(crate) fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_unstable_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // ranks start+1 ..= end share their mean
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// The area under the ROC curve of `scores` for the true `labels` (true: positive):
/// scikit-learn's `metrics.roc_auc_score(labels, scores)`. Tied scores count half, as the
/// trapezoids of scikit-learn's curve do; computed by ranks (Mann–Whitney): the mean rank
/// of the positives among all scores, rescaled. Needs both classes.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> Result<f64, StatsError> {
    check_pairs(Sample::Labels, labels.len(), Sample::Scores, scores.len())?;
    check_finite(scores, Sample::Scores)?;
    auc_checked(labels, scores)
}

pub(crate) fn check_pairs(
    first: Sample,
    first_len: usize,
    second: Sample,
    second_len: usize,
) -> Result<(), StatsError> {
    if first_len != second_len {
        return Err(StatsError::Unpaired { first, first_len, second, second_len });
    }
    if first_len == 0 {
        return Err(StatsError::Empty { sample: first });
    }
    Ok(())
}

/// AUC of checked, paired inputs.
pub(crate) fn auc_checked(labels: &[bool], scores: &[f64]) -> Result<f64, StatsError> {
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(StatsError::OneClass { positives, negatives });
    }
    let ranks = average_ranks(scores);
    let rank_sum: f64 = ranks.iter().zip(labels).filter(|(_, l)| **l).map(|(r, _)| r).sum();
    let (p, n) = (positives as f64, negatives as f64);
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Spearman's rank correlation of paired samples, with its two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spearman {
    /// The correlation of the two samples' ranks, ties given their mean rank, in [−1, 1].
    pub rho: f64,
    /// Against no correlation, from Student's t with n − 2 degrees of freedom:
    /// `t = ρ·√((n−2)/((1+ρ)(1−ρ)))` (scipy's).
    pub p_value: f64,
    /// How many pairs.
    pub n: usize,
}

/// Spearman's rank correlation of `x` and `y` and its p-value: scipy's
/// `stats.spearmanr(x, y)`. Needs three pairs at least, and neither sample constant (scipy
/// answers NaN there; rein says why).
pub fn spearman(x: &[f64], y: &[f64]) -> Result<Spearman, StatsError> {
    check_pairs(Sample::X, x.len(), Sample::Y, y.len())?;
    check_finite(x, Sample::X)?;
    check_finite(y, Sample::Y)?;
    if x.len() < 3 {
        return Err(StatsError::TooFew { sample: Sample::X, got: x.len(), needed: 3 });
    }
    for (sample, values) in [(Sample::X, x), (Sample::Y, y)] {
        if values.iter().all(|v| *v == values[0]) {
            return Err(StatsError::Constant { sample });
        }
    }
    let (rx, ry) = (average_ranks(x), average_ranks(y));
    let n = x.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    let rho = (sxy / sxx.sqrt() / syy.sqrt()).clamp(-1.0, 1.0);
    let dof = n - 2.0;
    let t = rho * (dof / ((rho + 1.0) * (1.0 - rho))).max(0.0).sqrt();
    let p_value = (2.0 * t_sf(t.abs(), dof)).min(1.0);
    Ok(Spearman { rho, p_value, n: x.len() })
}

impl Spearman {
    /// A confidence interval for the population's rank correlation, by Fisher's z:
    /// `tanh(atanh(ρ) ± z_{(1+c)/2}·σ)` with Bonett and Wright's (2000) variance for
    /// Spearman's ρ, `σ² = (1 + ρ²/2)/(n − 3)` (Pearson's `1/(n−3)` is too narrow for ranks).
    /// Needs four pairs at least; `ρ = ±1` gives the interval [ρ, ρ].
    pub fn fisher_interval(&self, confidence: f64) -> Result<Interval, StatsError> {
        check_confidence(confidence)?;
        if self.n < 4 {
            return Err(StatsError::TooFew { sample: Sample::X, got: self.n, needed: 4 });
        }
        let z = self.rho.atanh();
        let sigma = ((1.0 + self.rho * self.rho / 2.0) / (self.n as f64 - 3.0)).sqrt();
        let critical = normal_quantile((1.0 + confidence) / 2.0);
        Ok(Interval {
            estimate: self.rho,
            lower: (z - critical * sigma).tanh(),
            upper: (z + critical * sigma).tanh(),
            confidence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_their_mean_rank() {
        assert_eq!(average_ranks(&[3.0, 1.0, 3.0, 2.0, 3.0]), vec![4.0, 1.0, 4.0, 2.0, 4.0]);
    }

    #[test]
    fn auc_counts_ties_half() {
        assert_eq!(roc_auc(&[false, true], &[0.1, 0.9]).unwrap(), 1.0);
        assert_eq!(roc_auc(&[false, true], &[0.9, 0.1]).unwrap(), 0.0);
        assert_eq!(roc_auc(&[false, true, false, true], &[0.5; 4]).unwrap(), 0.5);
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), Err(StatsError::OneClass { positives: 2, negatives: 0 }));
        assert!(matches!(roc_auc(&[true], &[0.1, 0.2]), Err(StatsError::Unpaired { .. })));
    }

    #[test]
    fn a_monotone_relation_has_rank_correlation_one() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [1.0, 4.0, 9.0, 16.0, 100.0];
        // scipy too gives 0.9999999999999999 and 1.4e-24 here (ranks' rounding)
        let s = spearman(&x, &y).unwrap();
        assert!(1.0 - s.rho < 1e-15 && s.p_value < 1e-20, "{s:?}");
        let interval = s.fisher_interval(0.95).unwrap();
        assert!(interval.lower > 0.999_999 && interval.upper == 1.0, "{interval:?}");
        let exact = Spearman { rho: 1.0, p_value: 0.0, n: 5 }.fisher_interval(0.95).unwrap();
        assert_eq!((exact.lower, exact.upper), (1.0, 1.0));
        assert_eq!(spearman(&x, &[2.0; 5]), Err(StatsError::Constant { sample: Sample::Y }));
        assert!(matches!(spearman(&x[..2], &y[..2]), Err(StatsError::TooFew { needed: 3, .. })));
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[4.0, 1.0, 2.0, 3.0], 0.5).unwrap(), 2.5);
        assert_eq!(quantile(&[4.0, 1.0, 2.0, 3.0], 1.0).unwrap(), 4.0);
        assert_eq!(quantile(&[7.0], 0.3).unwrap(), 7.0);
        assert!(quantile(&[1.0], 1.5).is_err());
    }
}
