//! Sample-ratio mismatch: whether units reached the arms in the shares configured.
//!
//! A mismatch means assignment or logging is broken (a variant that crashes before it
//! logs, a bot filter that hits one arm, sticky assignment that leaks): the arms are then
//! no longer comparable, and every other result of the experiment is suspect.

use crate::{Sample, StatsError};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// The p-value under which GrowthBook and Statsig call a sample ratio mismatched.
pub const SRM_ALPHA: f64 = 0.001;

/// What a sample-ratio check says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleRatio {
    /// The counts are as likely as [`SRM_ALPHA`] or more under the configured weights.
    Consistent,
    /// p < [`SRM_ALPHA`]: the counts do not fit the configured weights; the experiment's
    /// results cannot be trusted until the cause is found.
    Mismatch,
}

/// The chi-squared goodness-of-fit test of the arms' counts against the configured weights.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRatioCheck {
    pub observed: Vec<u64>,
    /// The counts the weights expect: `total · weight / Σ weights`.
    pub expected: Vec<f64>,
    pub statistic: f64,
    /// Arms in the test, less one.
    pub degrees_of_freedom: usize,
    pub p_value: f64,
    pub verdict: SampleRatio,
}

/// Whether the units counted in each arm (`observed`) fit the arms' **configured** traffic
/// `weights` (in the same order; any positive scale: `[9, 1]` is `[0.9, 0.1]`), never an
/// assumed even split: scipy's `stats.chisquare(observed, total · weights / Σ weights)`,
/// and [`SampleRatio::Mismatch`] at p < [`SRM_ALPHA`].
///
/// - An arm configured at weight 0 and with no unit is left out of the test (scipy would
///   divide by its zero expectation); one at weight 0 that did receive units is a mismatch
///   outright (statistic ∞, p = 0).
/// - No unit at all cannot mismatch: statistic 0, p = 1.
/// - Peeked every window, the check is a repeated test: over many windows its false-alarm
///   rate adds up beyond [`SRM_ALPHA`] per window (which is why the threshold is so low).
pub fn sample_ratio_mismatch(observed: &[u64], weights: &[f64]) -> Result<SampleRatioCheck, StatsError> {
    if observed.len() != weights.len() {
        return Err(StatsError::WeightsMismatch { counts: observed.len(), weights: weights.len() });
    }
    if observed.is_empty() {
        return Err(StatsError::Empty { sample: Sample::Assignments });
    }
    if let Some(index) = weights.iter().position(|w| !w.is_finite() || *w < 0.0) {
        return Err(StatsError::NegativeCount { sample: Sample::Weights, index, value: weights[index] });
    }
    let weight_sum: f64 = weights.iter().sum();
    if weight_sum <= 0.0 {
        return Err(StatsError::AllZero { sample: Sample::Weights });
    }
    let total = observed.iter().sum::<u64>() as f64;
    let expected: Vec<f64> = weights.iter().map(|w| total * w / weight_sum).collect();
    let check = |statistic: f64, degrees_of_freedom: usize, p_value: f64| {
        let verdict = if p_value < SRM_ALPHA { SampleRatio::Mismatch } else { SampleRatio::Consistent };
        Ok(SampleRatioCheck {
            observed: observed.to_vec(),
            expected: expected.clone(),
            statistic,
            degrees_of_freedom,
            p_value,
            verdict,
        })
    };
    let arms: Vec<(f64, f64)> = observed
        .iter()
        .zip(weights)
        .zip(&expected)
        .filter(|((o, w), _)| **w > 0.0 || **o > 0)
        .map(|((o, _), e)| (*o as f64, *e))
        .collect();
    let degrees_of_freedom = arms.len().saturating_sub(1);
    if total == 0.0 || degrees_of_freedom == 0 {
        return check(0.0, degrees_of_freedom, 1.0);
    }
    if arms.iter().any(|(o, e)| *e == 0.0 && *o > 0.0) {
        return check(f64::INFINITY, degrees_of_freedom, 0.0);
    }
    let statistic: f64 = arms.iter().map(|(o, e)| (o - e).powi(2) / e).sum();
    let p_value = ChiSquared::new(degrees_of_freedom as f64).map(|d| d.sf(statistic)).unwrap_or(f64::NAN);
    check(statistic, degrees_of_freedom, p_value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clopper_pearson_interval;
    use crate::rng::Rng;

    /// `units` units assigned by the weights (given as cumulative thresholds over u64), one
    /// draw each, as a sticky hash would assign them.
    fn assign(rng: &mut Rng, units: usize, thresholds: &[u64]) -> Vec<u64> {
        let mut counts = vec![0; thresholds.len() + 1];
        for _ in 0..units {
            let draw = rng.next_u64();
            counts[thresholds.iter().take_while(|&&t| draw >= t).count()] += 1;
        }
        counts
    }

    fn thresholds(weights: &[f64]) -> Vec<u64> {
        let total: f64 = weights.iter().sum();
        let mut cumulative = 0.0;
        weights[..weights.len() - 1]
            .iter()
            .map(|w| {
                cumulative += w / total;
                (cumulative * 2f64.powi(64)) as u64
            })
            .collect()
    }

    /// 40,000 seeded experiments of 500 units each, assigned 50/30/20 (an A/B/n split with
    /// a holdout) and checked against those weights: the alarm rate must be the test's 0.1%,
    /// within the binomial bounds of 40,000 trials (a 99.99% Clopper–Pearson interval of
    /// the observed rate contains 0.001). The chi-squared test is asymptotic; with at least
    /// 100 units expected in an arm it is close to exact at this level (4·10⁶ draws in numpy:
    /// 0.00102 at these weights and size).
    #[test]
    fn with_the_configured_weights_the_alarm_rate_is_a_tenth_of_a_percent() {
        let (experiments, units, weights) = (40_000, 500, [0.5, 0.3, 0.2]);
        let cuts = thresholds(&weights);
        let mut rng = Rng::new(1001);
        let alarms = (0..experiments)
            .filter(|_| {
                let counts = assign(&mut rng, units, &cuts);
                sample_ratio_mismatch(&counts, &weights).unwrap().verdict == SampleRatio::Mismatch
            })
            .count();
        let bounds = clopper_pearson_interval(alarms as u64, experiments, 0.9999).unwrap();
        eprintln!(
            "SRM false alarms: {alarms} of {experiments} ({:.4}%), 99.99% interval [{:.5}, {:.5}]",
            100.0 * alarms as f64 / experiments as f64,
            bounds.lower,
            bounds.upper
        );
        assert!(bounds.contains(SRM_ALPHA), "{alarms} alarms of {experiments}: {bounds:?}");
    }

    #[test]
    fn a_skewed_assignment_fires() {
        let mut rng = Rng::new(7);
        // configured 50/50, assigned 51/49: 100,000 units are enough to see it
        let counts = assign(&mut rng, 100_000, &thresholds(&[0.51, 0.49]));
        let check = sample_ratio_mismatch(&counts, &[1.0, 1.0]).unwrap();
        assert_eq!(check.verdict, SampleRatio::Mismatch, "{check:?}");
        // a 90/10 split checked against 90/10 is fine, against an assumed 50/50 it is not
        let counts = assign(&mut rng, 10_000, &thresholds(&[0.9, 0.1]));
        assert_eq!(sample_ratio_mismatch(&counts, &[0.9, 0.1]).unwrap().verdict, SampleRatio::Consistent);
        assert_eq!(sample_ratio_mismatch(&counts, &[0.5, 0.5]).unwrap().verdict, SampleRatio::Mismatch);
    }

    #[test]
    fn arms_switched_off_and_empty_windows() {
        let off = sample_ratio_mismatch(&[700, 0, 300], &[0.7, 0.0, 0.3]).unwrap();
        assert_eq!((off.degrees_of_freedom, off.p_value, off.verdict), (1, 1.0, SampleRatio::Consistent));
        let leaked = sample_ratio_mismatch(&[700, 5, 300], &[0.7, 0.0, 0.3]).unwrap();
        assert_eq!((leaked.statistic, leaked.p_value, leaked.verdict), (f64::INFINITY, 0.0, SampleRatio::Mismatch));
        let empty = sample_ratio_mismatch(&[0, 0], &[1.0, 1.0]).unwrap();
        assert_eq!((empty.p_value, empty.verdict), (1.0, SampleRatio::Consistent));
        assert_eq!(sample_ratio_mismatch(&[1, 2], &[1.0]), Err(StatsError::WeightsMismatch { counts: 2, weights: 1 }));
        assert_eq!(sample_ratio_mismatch(&[1, 2], &[0.0, 0.0]), Err(StatsError::AllZero { sample: Sample::Weights }));
        assert!(matches!(
            sample_ratio_mismatch(&[1, 2], &[0.5, f64::NAN]),
            Err(StatsError::NegativeCount { sample: Sample::Weights, index: 1, .. })
        ));
    }
}
