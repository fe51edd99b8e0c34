//! A variant against its control: the difference of two rates or two means, its interval
//! and p-value, and the relative lift.
//!
//! Every comparison is **variant − control** (statsmodels and scipy compute their first
//! argument minus their second: the references pass the variant first). Each arm is given
//! by its summary statistics only ([`Proportion`]: successes and trials; [`Summary`]: n,
//! mean and variance), so a window of an experiment is kept as a few numbers an arm and
//! never needs its rows; [`Summary::merge`] joins two windows' summaries exactly.

use crate::interval::{Interval, normal_quantile, t_quantile_upper};
use crate::{Sample, StatsError, check_confidence, check_finite};
use statrs::function::beta::beta_reg;
use statrs::function::gamma::gamma_ur;

/// A rate: `successes` of `trials` (conversions of exposed units, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proportion {
    pub successes: u64,
    pub trials: u64,
}

impl Proportion {
    pub fn new(successes: u64, trials: u64) -> Proportion {
        Proportion { successes, trials }
    }

    /// `successes / trials`.
    pub fn rate(&self) -> f64 {
        self.successes as f64 / self.trials as f64
    }

    fn check(&self, sample: Sample) -> Result<(), StatsError> {
        if self.trials == 0 || self.successes > self.trials {
            return Err(StatsError::NotARate { sample, successes: self.successes, trials: self.trials });
        }
        Ok(())
    }
}

/// A sample of a numeric metric kept as its size, mean and variance (n − 1 in its
/// denominator, numpy's `var(ddof=1)`), which is all Welch's test needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: u64,
    pub mean: f64,
    /// The sample variance, with n − 1 in its denominator (0 for a single value).
    pub variance: f64,
}

impl Summary {
    /// A summary of `values`: their mean, and the variance about it computed in a second
    /// pass (as numpy computes `var(ddof=1)`, without the cancellation of a sum of squares).
    pub fn from_values(values: &[f64]) -> Result<Summary, StatsError> {
        check_finite(values, Sample::Values)?;
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let variance =
            if values.len() < 2 { 0.0 } else { values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) };
        Ok(Summary { n: values.len() as u64, mean, variance })
    }

    /// The summary of two samples together, from their summaries alone (Chan, Golub and
    /// LeVeque's pairwise update): exactly what [`Summary::from_values`] gives on the joined
    /// values, to rounding. An empty summary (n = 0) is the identity.
    pub fn merge(&self, other: &Summary) -> Summary {
        if self.n == 0 {
            return *other;
        }
        if other.n == 0 {
            return *self;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        let mean = self.mean + delta * nb / n;
        let squares = self.variance * (na - 1.0) + other.variance * (nb - 1.0) + delta * delta * na * nb / n;
        Summary { n: self.n + other.n, mean, variance: squares / (n - 1.0) }
    }

    /// The standard error of the mean, `√(variance / n)`.
    pub fn standard_error(&self) -> f64 {
        (self.variance / self.n as f64).sqrt()
    }

    pub(crate) fn check(&self, sample: Sample, needed: u64) -> Result<(), StatsError> {
        if self.n < needed {
            return Err(StatsError::TooFew { sample, got: self.n as usize, needed: needed as usize });
        }
        if !self.mean.is_finite() {
            return Err(StatsError::BadSummary { sample, field: "mean", value: self.mean, expected: "finite" });
        }
        if !(self.variance.is_finite() && self.variance >= 0.0) {
            return Err(StatsError::BadSummary {
                sample,
                field: "variance",
                value: self.variance,
                expected: "finite and not negative",
            });
        }
        Ok(())
    }
}

/// One arm as a comparison saw it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arm {
    pub n: u64,
    /// The arm's rate or mean.
    pub mean: f64,
    /// The standard error of that mean: `√(p(1−p)/n)` for a rate, `√(s²/n)` for a mean.
    pub standard_error: f64,
}

/// Which test a [`Comparison`] made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ComparisonTest {
    /// Two rates: the z test with the **pooled** standard error under the null (one rate
    /// for both arms), the interval with the **unpooled** one (each arm its own rate).
    TwoProportionZ,
    /// Two means: Welch's t, unequal variances, with the Welch–Satterthwaite degrees of
    /// freedom for both the p-value and the interval.
    Welch { degrees_of_freedom: f64 },
}

/// A variant against its control: the difference variant − control with its interval, the
/// test statistic and its two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub test: ComparisonTest,
    pub control: Arm,
    pub variant: Arm,
    /// variant − control, and its interval at the confidence asked for.
    pub difference: Interval,
    /// The unpooled standard error of the difference, `√(se_variant² + se_control²)`: the
    /// interval's, and the one the sequential test ([`crate::Msprt`]) takes.
    pub standard_error: f64,
    /// z (pooled) or Welch's t.
    pub statistic: f64,
    /// Two-sided.
    pub p_value: f64,
}

/// The difference of two rates, `variant − control`.
///
/// - **Interval**: the Wald interval with the unpooled standard error
///   `√(p_v(1−p_v)/n_v + p_c(1−p_c)/n_c)` and the normal quantile: statsmodels'
///   `confint_proportions_2indep(x_v, n_v, x_c, n_c, method='wald', compare='diff',
///   alpha=1−confidence)`.
/// - **Test**: the two-proportion z test with the pooled standard error
///   `√(p(1−p)(1/n_v + 1/n_c))`, `p = (x_v + x_c)/(n_v + n_c)`, two-sided: statsmodels'
///   `test_proportions_2indep(x_v, n_v, x_c, n_c, method='score', compare='diff',
///   correction=False)`, which is also `proportions_ztest([x_v, x_c], [n_v, n_c])`.
///   (statsmodels' `method='wald'` test uses the unpooled error instead; the pooled one is
///   the error the null hypothesis itself implies, and the usual two-proportion z test.)
/// - Where both arms have no success, or both only successes, the pooled error is 0 and the
///   difference 0: the answer is z = 0 and p = 1 (statsmodels answers NaN).
pub fn compare_proportions(
    control: Proportion,
    variant: Proportion,
    confidence: f64,
) -> Result<Comparison, StatsError> {
    control.check(Sample::Control)?;
    variant.check(Sample::Variant)?;
    check_confidence(confidence)?;
    let arm = |p: Proportion| {
        let rate = p.rate();
        Arm { n: p.trials, mean: rate, standard_error: (rate * (1.0 - rate) / p.trials as f64).sqrt() }
    };
    let (c, v) = (arm(control), arm(variant));
    let difference = v.mean - c.mean;
    let standard_error = (v.standard_error.powi(2) + c.standard_error.powi(2)).sqrt();
    let critical = -normal_quantile((1.0 - confidence) / 2.0);
    let pooled = (control.successes + variant.successes) as f64 / (control.trials + variant.trials) as f64;
    let pooled_error = (pooled * (1.0 - pooled) * (1.0 / c.n as f64 + 1.0 / v.n as f64)).sqrt();
    let statistic = if pooled_error > 0.0 { difference / pooled_error } else { 0.0 };
    Ok(Comparison {
        test: ComparisonTest::TwoProportionZ,
        control: c,
        variant: v,
        difference: Interval {
            estimate: difference,
            lower: difference - critical * standard_error,
            upper: difference + critical * standard_error,
            confidence,
        },
        standard_error,
        statistic,
        p_value: normal_two_sided(statistic),
    })
}

/// The difference of two means, `variant − control`, by Welch's t test from each arm's
/// summary: scipy's `stats.ttest_ind(variant, control, equal_var=False)` (statistic,
/// p-value, `df`) and its `confidence_interval(confidence)`, or
/// `ttest_ind_from_stats(m_v, s_v, n_v, m_c, s_c, n_c, equal_var=False)`.
///
/// - Standard error `√(s_v²/n_v + s_c²/n_c)`; degrees of freedom (Welch–Satterthwaite)
///   `se⁴ / ((s_v²/n_v)²/(n_v−1) + (s_c²/n_c)²/(n_c−1))`; the interval is the difference ±
///   the t quantile at those degrees of freedom times the error.
/// - Each arm needs two values at least. Where both arms are constant the error is 0: the
///   interval is the difference itself, t is 0 (equal means, p = 1) or infinite (p = 0),
///   and the degrees of freedom are `n_v + n_c − 2` (scipy answers NaN).
pub fn compare_means(control: &Summary, variant: &Summary, confidence: f64) -> Result<Comparison, StatsError> {
    control.check(Sample::Control, 2)?;
    variant.check(Sample::Variant, 2)?;
    check_confidence(confidence)?;
    let arm = |s: &Summary| Arm { n: s.n, mean: s.mean, standard_error: s.standard_error() };
    let (c, v) = (arm(control), arm(variant));
    let (vc, vv) = (control.variance / control.n as f64, variant.variance / variant.n as f64);
    let variance = vc + vv;
    let standard_error = variance.sqrt();
    let difference = v.mean - c.mean;
    let (statistic, p_value, dof) = if variance > 0.0 {
        let dof = variance * variance / (vv * vv / (variant.n - 1) as f64 + vc * vc / (control.n - 1) as f64);
        let t = difference / standard_error;
        (t, t_two_sided(t, dof), dof)
    } else {
        let dof = (control.n + variant.n - 2) as f64;
        if difference == 0.0 { (0.0, 1.0, dof) } else { (difference.signum() * f64::INFINITY, 0.0, dof) }
    };
    let half_width =
        if variance > 0.0 { t_quantile_upper((1.0 - confidence) / 2.0, dof) * standard_error } else { 0.0 };
    Ok(Comparison {
        test: ComparisonTest::Welch { degrees_of_freedom: dof },
        control: c,
        variant: v,
        difference: Interval {
            estimate: difference,
            lower: difference - half_width,
            upper: difference + half_width,
            confidence,
        },
        standard_error,
        statistic,
        p_value,
    })
}

impl Comparison {
    /// The critical value of the comparison's interval: the normal quantile for rates, the
    /// t quantile at Welch's degrees of freedom for means.
    fn critical(&self, confidence: f64) -> f64 {
        let tail = (1.0 - confidence) / 2.0;
        match self.test {
            ComparisonTest::TwoProportionZ => -normal_quantile(tail),
            ComparisonTest::Welch { degrees_of_freedom } => t_quantile_upper(tail, degrees_of_freedom),
        }
    }

    /// The relative lift `variant / control − 1` and its interval by the delta method, at
    /// the comparison's confidence.
    ///
    /// The two arms are independent, so the variance of `m_v / m_c` to first order is
    /// `se_v² / m_c² + m_v² se_c² / m_c⁴` (each arm's standard error as in [`Arm`]); the
    /// interval is the lift ± the comparison's critical value (normal for rates, Welch's t
    /// for means, as GrowthBook's frequentist engine does) times its square root. It is
    /// statsmodels' `NonlinearDeltaCov(lambda m: m[1]/m[0] − 1, [m_c, m_v],
    /// diag(se_c², se_v²)).conf_int(alpha, use_t, df)`. Symmetric, so it can reach below
    /// −100% where the control's mean is uncertain; a lift is only as good as the control's
    /// mean is far from 0, and is refused at 0.
    pub fn relative_lift(&self) -> Result<Interval, StatsError> {
        let (c, v) = (self.control, self.variant);
        if c.mean == 0.0 {
            return Err(StatsError::BadSummary {
                sample: Sample::Control,
                field: "mean",
                value: 0.0,
                expected: "not 0: a relative lift divides by the control's mean",
            });
        }
        let lift = v.mean / c.mean - 1.0;
        let variance = (v.standard_error / c.mean).powi(2) + (v.mean * c.standard_error / (c.mean * c.mean)).powi(2);
        let half_width = self.critical(self.difference.confidence) * variance.sqrt();
        Ok(Interval {
            estimate: lift,
            lower: lift - half_width,
            upper: lift + half_width,
            confidence: self.difference.confidence,
        })
    }
}

/// `P(|Z| ≥ |z|)` for a standard normal Z (scipy: `2·norm.sf(|z|)`), as `P(χ²₁ ≥ z²)`,
/// the regularized upper incomplete gamma function `Q(1/2, z²/2)`: statrs's agrees with
/// scipy to 1e-13 relative down to p = 1e-151, where statrs's `erfc` is 5e-11 off already
/// at p = 0.05.
pub(crate) fn normal_two_sided(z: f64) -> f64 {
    if z.is_nan() {
        f64::NAN
    } else if z == 0.0 {
        1.0
    } else {
        gamma_ur(0.5, z * z / 2.0)
    }
}

/// `P(|T| ≥ |t|)` for Student's t with `dof` degrees of freedom, from the regularized
/// incomplete beta function: `I(dof/(dof+t²); dof/2, 1/2)`.
fn t_two_sided(t: f64, dof: f64) -> f64 {
    if t.is_infinite() {
        return 0.0;
    }
    beta_reg(dof / 2.0, 0.5, dof / (dof + t * t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_merge_as_if_the_values_were_joined() {
        let a = [1.0, 4.0, 2.5, 7.0];
        let b = [3.0, -1.0, 2.0];
        let joined: Vec<f64> = a.iter().chain(&b).copied().collect();
        let merged = Summary::from_values(&a).unwrap().merge(&Summary::from_values(&b).unwrap());
        let direct = Summary::from_values(&joined).unwrap();
        assert_eq!(merged.n, direct.n);
        assert!((merged.mean - direct.mean).abs() < 1e-15 && (merged.variance - direct.variance).abs() < 1e-14);
        let empty = Summary { n: 0, mean: 0.0, variance: 0.0 };
        assert_eq!(empty.merge(&direct), direct);
        assert_eq!(Summary::from_values(&[3.0]).unwrap(), Summary { n: 1, mean: 3.0, variance: 0.0 });
    }

    #[test]
    fn constant_arms_and_empty_rates_have_answers() {
        let c = Summary { n: 5, mean: 2.0, variance: 0.0 };
        let same = compare_means(&c, &c, 0.95).unwrap();
        assert_eq!((same.statistic, same.p_value, same.difference.width()), (0.0, 1.0, 0.0));
        let higher = compare_means(&c, &Summary { mean: 3.0, ..c }, 0.95).unwrap();
        assert_eq!((higher.statistic, higher.p_value), (f64::INFINITY, 0.0));
        assert_eq!(higher.test, ComparisonTest::Welch { degrees_of_freedom: 8.0 });
        let none = compare_proportions(Proportion::new(0, 100), Proportion::new(0, 80), 0.95).unwrap();
        assert_eq!((none.statistic, none.p_value, none.difference.width()), (0.0, 1.0, 0.0));
    }

    #[test]
    fn bad_arms_are_named() {
        assert_eq!(
            compare_proportions(Proportion::new(3, 2), Proportion::new(1, 2), 0.95),
            Err(StatsError::NotARate { sample: Sample::Control, successes: 3, trials: 2 })
        );
        assert_eq!(
            compare_proportions(Proportion::new(1, 2), Proportion::new(0, 0), 0.95),
            Err(StatsError::NotARate { sample: Sample::Variant, successes: 0, trials: 0 })
        );
        let good = Summary { n: 10, mean: 1.0, variance: 1.0 };
        assert_eq!(
            compare_means(&good, &Summary { n: 1, ..good }, 0.95),
            Err(StatsError::TooFew { sample: Sample::Variant, got: 1, needed: 2 })
        );
        assert!(matches!(
            compare_means(&Summary { variance: -1.0, ..good }, &good, 0.95),
            Err(StatsError::BadSummary { sample: Sample::Control, field: "variance", .. })
        ));
        let zero = compare_means(&Summary { mean: 0.0, ..good }, &good, 0.95).unwrap();
        assert!(matches!(zero.relative_lift(), Err(StatsError::BadSummary { field: "mean", .. })));
    }

    #[test]
    fn a_lift_is_the_difference_over_the_control() {
        // with an exactly known control the lift's interval is the difference's, scaled
        let control = Summary { n: 1_000_000_000, mean: 2.0, variance: 0.0 };
        let variant = Summary { n: 400, mean: 2.5, variance: 4.0 };
        let comparison = compare_means(&control, &variant, 0.9).unwrap();
        let lift = comparison.relative_lift().unwrap();
        assert!((lift.estimate - 0.25).abs() < 1e-15);
        assert!((lift.lower - comparison.difference.lower / 2.0).abs() < 1e-12, "{lift:?} {comparison:?}");
        assert!((lift.upper - comparison.difference.upper / 2.0).abs() < 1e-12);
    }
}
