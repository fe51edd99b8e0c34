//! Seeded bootstrap percentile intervals.

use crate::interval::Interval;
use crate::rank::{auc_checked, check_pairs, check_quantile};
use crate::rng::Rng;
use crate::{Sample, StatsError, check_confidence, check_finite, quantile_sorted, sorted_finite};

/// A seeded bootstrap: `resamples` samples drawn with replacement from the data, the
/// statistic computed on each, and the percentile interval of those values.
///
/// **Resampling.** Indices are drawn uniformly with replacement by rein's own generator
/// (xoshiro256++ seeded through SplitMix64 from `seed`, bounded by Lemire's method), so a
/// seed gives the same interval on every machine and in every version; the reference test
/// draws the same indices in Python. For a quantile, each resample is `n` draws from the
/// `n` values. For ROC AUC the resampling is stratified (as pROC's default): each resample
/// draws as many positives from the positives, then as many negatives from the
/// negatives, so every resample has both classes and the class balance of the data.
///
/// **Interval.** The `(1−c)/2` and `1 − (1−c)/2` quantiles (numpy's `linear`) of the
/// resampled statistics; the estimate is the statistic of the data itself. A percentile
/// interval is only as good as the statistic's sampling distribution is smooth: for a
/// quantile of few distinct values it is coarse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    pub resamples: usize,
    pub confidence: f64,
    pub seed: u64,
}

impl Default for Bootstrap {
    /// 2,000 resamples, 95%, seed 0.
    fn default() -> Bootstrap {
        Bootstrap { resamples: 2000, confidence: 0.95, seed: 0 }
    }
}

impl Bootstrap {
    fn check(&self) -> Result<(), StatsError> {
        check_confidence(self.confidence)?;
        if self.resamples == 0 {
            return Err(StatsError::InvalidParameter {
                name: "resamples",
                value: 0.0,
                expected: "at least 1 (a thousand or more for a 95% interval)",
            });
        }
        Ok(())
    }

    fn percentile_interval(&self, estimate: f64, mut statistics: Vec<f64>) -> Interval {
        statistics.sort_unstable_by(f64::total_cmp);
        let tail = (1.0 - self.confidence) / 2.0;
        Interval {
            estimate,
            lower: quantile_sorted(&statistics, tail),
            upper: quantile_sorted(&statistics, 1.0 - tail),
            confidence: self.confidence,
        }
    }

    /// A percentile interval for the `q` quantile of `values` ([`crate::quantile`]).
    pub fn quantile_interval(&self, values: &[f64], q: f64) -> Result<Interval, StatsError> {
        self.check()?;
        check_quantile(q)?;
        let sorted = sorted_finite(values, Sample::Values)?;
        let estimate = quantile_sorted(&sorted, q);
        let n = values.len();
        let mut rng = Rng::new(self.seed);
        let mut resample = vec![0.0; n];
        let statistics = (0..self.resamples)
            .map(|_| {
                for x in &mut resample {
                    *x = values[rng.below(n as u64) as usize];
                }
                resample.sort_unstable_by(f64::total_cmp);
                quantile_sorted(&resample, q)
            })
            .collect();
        Ok(self.percentile_interval(estimate, statistics))
    }

    /// A percentile interval for the ROC AUC of `scores` against `labels`
    /// ([`crate::roc_auc`]), resampled within each class.
    pub fn roc_auc_interval(&self, labels: &[bool], scores: &[f64]) -> Result<Interval, StatsError> {
        self.check()?;
        check_pairs(Sample::Labels, labels.len(), Sample::Scores, scores.len())?;
        check_finite(scores, Sample::Scores)?;
        let estimate = auc_checked(labels, scores)?;
        let positives: Vec<f64> = scores.iter().zip(labels).filter(|(_, l)| **l).map(|(s, _)| *s).collect();
        let negatives: Vec<f64> = scores.iter().zip(labels).filter(|(_, l)| !**l).map(|(s, _)| *s).collect();
        let resampled_labels: Vec<bool> =
            std::iter::repeat_n(true, positives.len()).chain(std::iter::repeat_n(false, negatives.len())).collect();
        let mut rng = Rng::new(self.seed);
        let mut resample = Vec::with_capacity(scores.len());
        let mut statistics = Vec::with_capacity(self.resamples);
        for _ in 0..self.resamples {
            resample.clear();
            for class in [&positives, &negatives] {
                for _ in 0..class.len() {
                    resample.push(class[rng.below(class.len() as u64) as usize]);
                }
            }
            statistics.push(auc_checked(&resampled_labels, &resample)?);
        }
        Ok(self.percentile_interval(estimate, statistics))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// How often the interval covers the truth, over `trials` samples drawn from a known
    /// distribution with a fixed seed.
    fn coverage(trials: usize, mut interval: impl FnMut(&mut Rng, u64) -> Interval, truth: f64) -> f64 {
        let mut rng = Rng::new(7);
        let covered = (0..trials).filter(|&t| interval(&mut rng, t as u64).contains(truth)).count();
        covered as f64 / trials as f64
    }

    fn uniform(rng: &mut Rng) -> f64 {
        (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn the_median_interval_covers_about_as_often_as_it_says() {
        // the median of uniform(0, 1) is 0.5; 200 samples of 101, 400 resamples each
        let rate = coverage(
            200,
            |rng, seed| {
                let values: Vec<f64> = (0..101).map(|_| uniform(rng)).collect();
                Bootstrap { resamples: 400, confidence: 0.9, seed }.quantile_interval(&values, 0.5).unwrap()
            },
            0.5,
        );
        // binomial(200, 0.9) has a standard deviation of 0.021: allow about 3 of them
        assert!((0.83..=0.97).contains(&rate), "{rate}");
    }

    #[test]
    fn the_auc_interval_covers_about_as_often_as_it_says() {
        // positives uniform(0.2, 1.2) against negatives uniform(0, 1): AUC = 1 − 0.8²/2 = 0.68
        let rate = coverage(
            200,
            |rng, seed| {
                let mut labels = Vec::new();
                let mut scores = Vec::new();
                for i in 0..120 {
                    let positive = i % 3 == 0;
                    labels.push(positive);
                    scores.push(uniform(rng) + if positive { 0.2 } else { 0.0 });
                }
                Bootstrap { resamples: 400, confidence: 0.9, seed }.roc_auc_interval(&labels, &scores).unwrap()
            },
            0.68,
        );
        assert!((0.83..=0.97).contains(&rate), "{rate}");
    }

    #[test]
    fn a_seed_gives_the_same_interval() {
        let values: Vec<f64> = (0..50).map(|i| (f64::from(i) * 0.618_034).fract()).collect();
        let b = Bootstrap { resamples: 300, confidence: 0.95, seed: 11 };
        assert_eq!(b.quantile_interval(&values, 0.9).unwrap(), b.quantile_interval(&values, 0.9).unwrap());
        let other = Bootstrap { seed: 12, ..b }.quantile_interval(&values, 0.3).unwrap();
        assert_ne!(b.quantile_interval(&values, 0.3).unwrap(), other);
        assert!(matches!(
            Bootstrap { resamples: 0, ..b }.quantile_interval(&values, 0.5),
            Err(StatsError::InvalidParameter { name: "resamples", .. })
        ));
    }
}
