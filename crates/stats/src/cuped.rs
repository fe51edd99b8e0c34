//! CUPED (Deng, Xu, Kohavi and Walker, 2013): a metric's variance reduced by what a
//! covariate measured before the experiment already explains.
//!
//! Each unit's metric `y` is replaced by `y − θ(x − x̄)`, with `x` the same unit's value of
//! the covariate in the pre-period (usually the metric itself, before assignment), `x̄` its
//! mean over every arm, and `θ` one slope for all arms. Assignment is random and `x` was
//! measured before it, so `x` has the same mean in every arm: the adjustment moves each
//! arm's mean by `θ(x̄_arm − x̄)`, whose expectation is 0, and leaves the expected difference
//! unbiased, while the adjusted values vary less by the share of `y`'s variance that `x`
//! explains (`1 − ρ²` of it at the best θ). The adjusted arms are then compared by Welch's
//! test ([`crate::compare_means`]), as any other means.

use crate::compare::Summary;
use crate::{Sample, StatsError, check_finite};

/// An arm's metric and pre-period covariate kept as summary statistics: enough for CUPED,
/// without the rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CovariateSummary {
    pub n: u64,
    pub metric_mean: f64,
    /// Sample variance of the metric (n − 1 in the denominator).
    pub metric_variance: f64,
    pub covariate_mean: f64,
    /// Sample variance of the covariate (n − 1 in the denominator).
    pub covariate_variance: f64,
    /// Sample covariance of metric and covariate (n − 1 in the denominator).
    pub covariance: f64,
}

impl CovariateSummary {
    /// The summary of paired values: `metric[i]` and `covariate[i]` are one unit's. Means,
    /// then (co)variances about them in a second pass, as numpy's `var(ddof=1)` and
    /// `cov(ddof=1)`.
    pub fn from_values(metric: &[f64], covariate: &[f64]) -> Result<CovariateSummary, StatsError> {
        crate::rank::check_pairs(Sample::Y, metric.len(), Sample::X, covariate.len())?;
        check_finite(metric, Sample::Y)?;
        check_finite(covariate, Sample::X)?;
        let n = metric.len() as f64;
        let my = metric.iter().sum::<f64>() / n;
        let mx = covariate.iter().sum::<f64>() / n;
        let (mut syy, mut sxx, mut sxy) = (0.0, 0.0, 0.0);
        for (y, x) in metric.iter().zip(covariate) {
            let (dy, dx) = (y - my, x - mx);
            syy += dy * dy;
            sxx += dx * dx;
            sxy += dx * dy;
        }
        let d = if metric.len() < 2 { f64::INFINITY } else { n - 1.0 };
        Ok(CovariateSummary {
            n: metric.len() as u64,
            metric_mean: my,
            metric_variance: syy / d,
            covariate_mean: mx,
            covariate_variance: sxx / d,
            covariance: sxy / d,
        })
    }

    /// Two windows' summaries joined, exactly (the pairwise update of [`Summary::merge`],
    /// with the cross products updated alike). An empty summary (n = 0) is the identity.
    pub fn merge(&self, other: &CovariateSummary) -> CovariateSummary {
        if self.n == 0 {
            return *other;
        }
        if other.n == 0 {
            return *self;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let (dy, dx) = (other.metric_mean - self.metric_mean, other.covariate_mean - self.covariate_mean);
        let weight = na * nb / n;
        let joined = |a: f64, b: f64, cross: f64| (a * (na - 1.0) + b * (nb - 1.0) + cross * weight) / (n - 1.0);
        CovariateSummary {
            n: self.n + other.n,
            metric_mean: self.metric_mean + dy * nb / n,
            metric_variance: joined(self.metric_variance, other.metric_variance, dy * dy),
            covariate_mean: self.covariate_mean + dx * nb / n,
            covariate_variance: joined(self.covariate_variance, other.covariate_variance, dx * dx),
            covariance: joined(self.covariance, other.covariance, dx * dy),
        }
    }

    /// The metric alone, unadjusted.
    pub fn metric(&self) -> Summary {
        Summary { n: self.n, mean: self.metric_mean, variance: self.metric_variance }
    }

    fn check(&self, arm: usize) -> Result<(), StatsError> {
        let sample = Sample::Arm(arm);
        if self.n < 2 {
            return Err(StatsError::TooFew { sample, got: self.n as usize, needed: 2 });
        }
        for (field, value, variance) in [
            ("metric_mean", self.metric_mean, false),
            ("covariate_mean", self.covariate_mean, false),
            ("covariance", self.covariance, false),
            ("metric_variance", self.metric_variance, true),
            ("covariate_variance", self.covariate_variance, true),
        ] {
            if !value.is_finite() || (variance && value < 0.0) {
                let expected = if variance { "finite and not negative" } else { "finite" };
                return Err(StatsError::BadSummary { sample, field, value, expected });
            }
        }
        Ok(())
    }
}

/// CUPED's slope and every arm's adjusted metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Cuped {
    /// θ: the within-arm pooled regression slope of the metric on the covariate.
    pub theta: f64,
    /// x̄: the covariate's mean over all arms' units.
    pub covariate_mean: f64,
    /// Each arm's adjusted metric `y − θ(x − x̄)`, in the order the arms were given; compare
    /// them with [`crate::compare_means`].
    pub adjusted: Vec<Summary>,
    /// Each arm's adjusted variance over its unadjusted one (1 − the share removed).
    pub variance_ratio: Vec<f64>,
}

/// CUPED over an experiment's arms (control first, by convention), from their summaries.
///
/// - **θ** is pooled across the arms *within* each arm:
///   `θ = Σ (n_a − 1) cov_a(y, x) / Σ (n_a − 1) var_a(x)`, the coefficient of `x` in the
///   least-squares fit `y ~ C(arm) + x` (statsmodels' `OLS`, which the reference test
///   checks). A difference between the arms' metric means (the effect itself) does not
///   enter θ. (GrowthBook computes θ on the arms' rows pooled together, which adds the
///   arms' mean differences to both sums; under random assignment the two differ by O(1/n).)
///   A constant covariate explains nothing: θ is then 0 and the metric is left as it is.
/// - **Adjusted arm**: mean `ȳ_a − θ(x̄_a − x̄)` and variance
///   `var_a(y) − 2θ cov_a(y, x) + θ² var_a(x)` (clamped at 0 against rounding): exactly
///   the mean and `var(ddof=1)` of the adjusted values `y − θ(x − x̄)`. The difference of two
///   adjusted means is the ANCOVA estimate of the effect (statsmodels' coefficient of the
///   arm in the same fit).
/// - θ is estimated from the same data and then treated as known, as CUPED, GrowthBook and
///   Statsig do; what that leaves out of the variance is O(1/n).
pub fn cuped(arms: &[CovariateSummary]) -> Result<Cuped, StatsError> {
    if arms.len() < 2 {
        return Err(StatsError::TooFew { sample: Sample::Arm(arms.len()), got: arms.len(), needed: 2 });
    }
    for (i, arm) in arms.iter().enumerate() {
        arm.check(i)?;
    }
    let cross: f64 = arms.iter().map(|a| (a.n - 1) as f64 * a.covariance).sum();
    let squares: f64 = arms.iter().map(|a| (a.n - 1) as f64 * a.covariate_variance).sum();
    let theta = if squares > 0.0 { cross / squares } else { 0.0 };
    let total: f64 = arms.iter().map(|a| a.n as f64).sum();
    let covariate_mean = arms.iter().map(|a| a.n as f64 * a.covariate_mean).sum::<f64>() / total;
    let adjusted: Vec<Summary> = arms
        .iter()
        .map(|a| Summary {
            n: a.n,
            mean: a.metric_mean - theta * (a.covariate_mean - covariate_mean),
            variance: (a.metric_variance - 2.0 * theta * a.covariance + theta * theta * a.covariate_variance).max(0.0),
        })
        .collect();
    let variance_ratio = arms
        .iter()
        .zip(&adjusted)
        .map(|(a, adj)| if a.metric_variance > 0.0 { adj.variance / a.metric_variance } else { 1.0 })
        .collect();
    Ok(Cuped { theta, covariate_mean, adjusted, variance_ratio })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare_means;
    use crate::rng::Rng;

    #[test]
    fn summaries_merge_as_if_the_rows_were_joined() {
        let (y, x) = ([1.0, 4.0, 2.5, 7.0, 3.0, -1.0, 2.0], [0.5, 3.0, 2.0, 6.0, 2.0, 0.0, 1.0]);
        let merged = CovariateSummary::from_values(&y[..4], &x[..4])
            .unwrap()
            .merge(&CovariateSummary::from_values(&y[4..], &x[4..]).unwrap());
        let direct = CovariateSummary::from_values(&y, &x).unwrap();
        for (a, b) in [
            (merged.metric_mean, direct.metric_mean),
            (merged.metric_variance, direct.metric_variance),
            (merged.covariate_mean, direct.covariate_mean),
            (merged.covariate_variance, direct.covariate_variance),
            (merged.covariance, direct.covariance),
        ] {
            assert!((a - b).abs() < 1e-14, "{merged:?} {direct:?}");
        }
    }

    #[test]
    fn a_constant_covariate_changes_nothing() {
        let arm = |shift: f64| {
            let y: Vec<f64> = (0..10).map(|i| f64::from(i) + shift).collect();
            CovariateSummary::from_values(&y, &[1.0; 10]).unwrap()
        };
        let fit = cuped(&[arm(0.0), arm(0.5)]).unwrap();
        assert_eq!(fit.theta, 0.0);
        assert_eq!(fit.adjusted, vec![arm(0.0).metric(), arm(0.5).metric()]);
        assert!(matches!(cuped(&[arm(0.0)]), Err(StatsError::TooFew { needed: 2, .. })));
        let mut bad = arm(0.0);
        bad.covariate_variance = f64::NAN;
        assert!(matches!(
            cuped(&[arm(0.0), bad]),
            Err(StatsError::BadSummary { sample: Sample::Arm(1), field: "covariate_variance", .. })
        ));
    }

    /// A seeded case: 400 experiments of 2 × 300 units with a true effect of 0.1; the
    /// metric is 0.8·x + noise (ρ = 0.8), so CUPED should keep `1 − ρ² = 0.36` of the
    /// variance (the interval 0.6 as wide) and stay unbiased, its intervals covering the
    /// effect as often as they say.
    #[test]
    fn cuped_narrows_the_interval_and_stays_unbiased() {
        let (experiments, units, effect) = (400, 300, 0.1);
        let mut rng = Rng::new(2013);
        let (mut plain, mut adjusted) = (Vec::new(), Vec::new());
        let (mut plain_width, mut adjusted_width, mut covered) = (0.0, 0.0, 0);
        for _ in 0..experiments {
            let arms: Vec<CovariateSummary> = [0.0, effect]
                .iter()
                .map(|shift| {
                    let x: Vec<f64> = (0..units).map(|_| rng.normal()).collect();
                    let y: Vec<f64> = x.iter().map(|x| 5.0 + 0.8 * x + 0.6 * rng.normal() + shift).collect();
                    CovariateSummary::from_values(&y, &x).unwrap()
                })
                .collect();
            let unadjusted = compare_means(&arms[0].metric(), &arms[1].metric(), 0.95).unwrap();
            let fit = cuped(&arms).unwrap();
            let with_cuped = compare_means(&fit.adjusted[0], &fit.adjusted[1], 0.95).unwrap();
            plain.push(unadjusted.difference.estimate);
            adjusted.push(with_cuped.difference.estimate);
            plain_width += unadjusted.difference.width() / experiments as f64;
            adjusted_width += with_cuped.difference.width() / experiments as f64;
            covered += usize::from(with_cuped.difference.contains(effect));
        }
        let mean_and_error = |estimates: &[f64]| {
            let s = Summary::from_values(estimates).unwrap();
            (s.mean, s.standard_error())
        };
        let (plain_mean, plain_error) = mean_and_error(&plain);
        let (cuped_mean, cuped_error) = mean_and_error(&adjusted);
        // unbiased: the mean estimate within 3 standard errors of the effect
        assert!((cuped_mean - effect).abs() < 3.0 * cuped_error, "CUPED {cuped_mean} ± {cuped_error}");
        assert!((plain_mean - effect).abs() < 3.0 * plain_error, "plain {plain_mean} ± {plain_error}");
        // narrower, by about √(1 − ρ²) = 0.6, and the spread of the estimates agrees
        let ratio = adjusted_width / plain_width;
        eprintln!(
            "CUPED: mean estimate {cuped_mean:.4} ± {cuped_error:.4} (plain {plain_mean:.4} ± {plain_error:.4}), \
             width ratio {ratio:.3}, coverage {covered}/{experiments}"
        );
        assert!((ratio - 0.6).abs() < 0.03, "width ratio {ratio}");
        assert!((cuped_error / plain_error - 0.6).abs() < 0.06, "{cuped_error} / {plain_error}");
        // 95% intervals: between 92% and 98% of 400 cover (binomial bounds at about 3σ)
        assert!((368..=392).contains(&covered), "{covered} of {experiments} covered");
    }
}
