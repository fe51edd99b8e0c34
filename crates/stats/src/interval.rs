//! Confidence intervals for a proportion and a mean.

use crate::{Sample, StatsError, check_confidence, check_finite};
use statrs::distribution::{Beta, Continuous, ContinuousCDF, Normal, StudentsT};
use statrs::function::beta::beta_reg;

/// An estimate and a confidence interval around it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
    /// The confidence level asked for, such as 0.95.
    pub confidence: f64,
}

impl Interval {
    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }

    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }
}

fn check_proportion(successes: u64, trials: u64) -> Result<(), StatsError> {
    if trials == 0 || successes > trials {
        return Err(StatsError::NotAProportion { count: successes, total: trials });
    }
    Ok(())
}

/// The Wilson score interval for a proportion: statsmodels'
/// `proportion_confint(successes, trials, alpha=1−confidence, method='wilson')`, clipped to
/// [0, 1] as statsmodels clips it, and exactly 0 (1) with no (all) successes, where
/// statsmodels leaves a rounding error of about 1e-17. Good coverage at every n; the
/// default for a rate.
pub fn wilson_interval(successes: u64, trials: u64, confidence: f64) -> Result<Interval, StatsError> {
    check_proportion(successes, trials)?;
    check_confidence(confidence)?;
    let (count, n) = (successes as f64, trials as f64);
    let q = count / n;
    let critical = -normal_quantile((1.0 - confidence) / 2.0);
    let critical2 = critical * critical;
    let denominator = 1.0 + critical2 / n;
    let center = (q + critical2 / (2.0 * n)) / denominator;
    let distance = critical * (q * (1.0 - q) / n + critical2 / (4.0 * n * n)).sqrt() / denominator;
    // at 0 and n successes the end is exactly 0 or 1 (the formula leaves a rounding error)
    let lower = if successes == 0 { 0.0 } else { (center - distance).clamp(0.0, 1.0) };
    let upper = if successes == trials { 1.0 } else { (center + distance).clamp(0.0, 1.0) };
    Ok(Interval { estimate: q, lower, upper, confidence })
}

/// Newcombe's hybrid score interval for the difference of two proportions
/// `successes1/trials1 − successes2/trials2` (his method 10): statsmodels'
/// `confint_proportions_2indep(count1, nobs1, count2, nobs2, method='newcomb',
/// compare='diff', alpha=1−confidence)`. From each proportion's Wilson interval `(l, u)`:
/// `d − √((p₁−l₁)² + (u₂−p₂)²)` below and `d + √((u₁−p₁)² + (p₂−l₂)²)` above. Good
/// coverage at small counts and at 0 or all successes, where the Wald interval has none.
pub fn newcombe_interval(
    successes1: u64,
    trials1: u64,
    successes2: u64,
    trials2: u64,
    confidence: f64,
) -> Result<Interval, StatsError> {
    let a = wilson_interval(successes1, trials1, confidence)?;
    let b = wilson_interval(successes2, trials2, confidence)?;
    let d = a.estimate - b.estimate;
    let lower = d - ((a.estimate - a.lower).powi(2) + (b.upper - b.estimate).powi(2)).sqrt();
    let upper = d + ((a.upper - a.estimate).powi(2) + (b.estimate - b.lower).powi(2)).sqrt();
    Ok(Interval { estimate: d, lower, upper, confidence })
}

/// The two-sided critical value of the standard normal at `confidence`: the `z` with
/// `P(|Z| ≤ z) = confidence` (scipy's `norm.ppf(0.975)` at 0.95, to an ulp).
pub fn normal_critical(confidence: f64) -> Result<f64, StatsError> {
    check_confidence(confidence)?;
    Ok(-normal_quantile((1.0 - confidence) / 2.0))
}

/// The Clopper–Pearson ("exact") interval for a proportion, from beta quantiles: statsmodels'
/// `proportion_confint(successes, trials, alpha=1−confidence, method='beta')`; 0 below when
/// there is no success, 1 above when all are. Never covers less than asked, often more.
pub fn clopper_pearson_interval(successes: u64, trials: u64, confidence: f64) -> Result<Interval, StatsError> {
    check_proportion(successes, trials)?;
    check_confidence(confidence)?;
    let (count, n) = (successes as f64, trials as f64);
    let alpha = (1.0 - confidence) / 2.0;
    let lower = if successes == 0 { 0.0 } else { beta_quantile(count, n - count + 1.0, alpha) };
    let upper = if successes == trials { 1.0 } else { beta_quantile(count + 1.0, n - count, 1.0 - alpha) };
    Ok(Interval { estimate: count / n, lower, upper, confidence })
}

/// The `p` quantile of Beta(a, b). statrs's inverse of the regularized incomplete beta
/// function is off by 3e-6 relative at Beta(1, 10⁵), so its answer is only the start of
/// Newton's method on statrs's incomplete beta itself (accurate there), kept inside a
/// shrinking bracket.
fn beta_quantile(a: f64, b: f64, p: f64) -> f64 {
    let Ok(distribution) = Beta::new(a, b) else {
        return f64::NAN;
    };
    let (mut low, mut high) = (0.0_f64, 1.0_f64);
    let mut x = distribution.inverse_cdf(p);
    if !(x > 0.0 && x < 1.0) {
        x = 0.5;
    }
    for _ in 0..100 {
        let error = beta_reg(a, b, x) - p;
        if error == 0.0 {
            break;
        }
        if error < 0.0 {
            low = x;
        } else {
            high = x;
        }
        let mut next = x - error / distribution.pdf(x);
        if !(next > low && next < high) {
            next = (low + high) / 2.0;
        }
        let step = (next - x).abs();
        x = next;
        if step <= 2.0 * f64::EPSILON * x {
            break;
        }
    }
    x
}

/// The Student's t interval for the mean of `values`: scipy's
/// `stats.t.interval(confidence, n−1, loc=mean, scale=sem)` with `sem` the standard error
/// `s/√n` (`s` with n − 1 in its denominator). Needs two values at least; values all equal
/// give the interval [mean, mean] (scipy answers NaN there). The t quantile is solved to
/// about 1e-15 (scipy's `t.ppf` itself is about 1e-11 off).
pub fn t_interval(values: &[f64], confidence: f64) -> Result<Interval, StatsError> {
    check_finite(values, Sample::Values)?;
    if values.len() < 2 {
        return Err(StatsError::TooFew { sample: Sample::Values, got: values.len(), needed: 2 });
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    t_interval_from_summary(mean, variance.sqrt(), values.len() as u64, confidence)
}

/// [`t_interval`] from a sample's mean, standard deviation (n − 1 in its denominator) and
/// size, for a mean kept as running sums.
pub fn t_interval_from_summary(mean: f64, std_dev: f64, n: u64, confidence: f64) -> Result<Interval, StatsError> {
    check_confidence(confidence)?;
    if n < 2 {
        return Err(StatsError::TooFew { sample: Sample::Values, got: n as usize, needed: 2 });
    }
    for (name, value) in [("mean", mean), ("std_dev", std_dev)] {
        if !value.is_finite() || (name == "std_dev" && value < 0.0) {
            return Err(StatsError::InvalidParameter {
                name,
                value,
                expected: "finite (and not negative for std_dev)",
            });
        }
    }
    let sem = std_dev / (n as f64).sqrt();
    let critical = t_quantile_upper((1.0 - confidence) / 2.0, (n - 1) as f64);
    Ok(Interval { estimate: mean, lower: mean - critical * sem, upper: mean + critical * sem, confidence })
}

/// The standard normal's `p` quantile (statrs, which agrees with scipy's `norm.ppf` to an
/// ulp or two).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}

/// `P(T > t)` for Student's t with `dof` degrees of freedom, from the regularized incomplete
/// beta function directly, so that a small tail keeps its relative precision.
pub(crate) fn t_sf(t: f64, dof: f64) -> f64 {
    let tail = 0.5 * beta_reg(dof / 2.0, 0.5, dof / (dof + t * t));
    if t >= 0.0 { tail } else { 1.0 - tail }
}

/// The `t` with `P(T > t) = tail` (tail < 0.5). statrs's inverse is off by 1e-11 relative,
/// and by 1e-6 at 10⁵ degrees of freedom (it subtracts from 1), so its answer is only the
/// start of Newton's method on [`t_sf`].
pub(crate) fn t_quantile_upper(tail: f64, dof: f64) -> f64 {
    let Ok(distribution) = StudentsT::new(0.0, 1.0, dof) else {
        return f64::NAN;
    };
    let mut t = distribution.inverse_cdf(1.0 - tail);
    if !t.is_finite() || t <= 0.0 {
        t = -normal_quantile(tail);
    }
    for _ in 0..20 {
        let step = (t_sf(t, dof) - tail) / distribution.pdf(t);
        t += step;
        if step.abs() <= 1e-15 * t.abs() {
            break;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_success_and_all_successes_reach_the_ends() {
        let none = clopper_pearson_interval(0, 10, 0.95).unwrap();
        assert_eq!(none.lower, 0.0);
        // P(no success | p) = 0.025 at the upper end
        assert!(((1.0 - none.upper).powi(10) - 0.025).abs() < 1e-14, "{none:?}");
        let all = clopper_pearson_interval(10, 10, 0.95).unwrap();
        assert_eq!(all.upper, 1.0);
        let wilson = wilson_interval(0, 10, 0.95).unwrap();
        assert_eq!(wilson.lower, 0.0);
        assert!(wilson.upper > 0.2 && wilson.upper < 0.35, "{wilson:?}");
    }

    #[test]
    fn newcombe_is_statsmodels_newcomb() {
        // confint_proportions_2indep(c1, n1, c2, n2, method="newcomb", alpha=1-conf),
        // statsmodels 0.15.0
        let cases = [
            (56, 70, 48, 80, 0.95, 0.05243147240236498, 0.333872654036906),
            (9, 10, 3, 10, 0.9, 0.24211240088494457, 0.7896235073721287),
            (0, 12, 5, 40, 0.95, -0.261121198388511, 0.12750783539398491),
            (30, 30, 10, 20, 0.95, 0.2694212066492825, 0.7007019918017877),
            (123, 400, 98, 410, 0.99, -0.012167368208722246, 0.14814703070871607),
        ];
        for (c1, n1, c2, n2, confidence, lower, upper) in cases {
            let i = newcombe_interval(c1, n1, c2, n2, confidence).unwrap();
            assert!((i.lower - lower).abs() < 1e-12, "{i:?} against {lower}");
            assert!((i.upper - upper).abs() < 1e-12, "{i:?} against {upper}");
            assert_eq!(i.estimate, c1 as f64 / n1 as f64 - c2 as f64 / n2 as f64);
        }
        assert!(newcombe_interval(1, 0, 1, 2, 0.95).is_err());
        assert!((normal_critical(0.95).unwrap() - 1.959963984540054).abs() < 1e-15);
        assert!((normal_critical(0.9).unwrap() - 1.6448536269514722).abs() < 1e-15);
        assert!(normal_critical(1.0).is_err());
    }

    #[test]
    fn a_proportion_needs_trials() {
        assert_eq!(wilson_interval(3, 0, 0.95), Err(StatsError::NotAProportion { count: 3, total: 0 }));
        assert_eq!(clopper_pearson_interval(4, 3, 0.95), Err(StatsError::NotAProportion { count: 4, total: 3 }));
        assert!(matches!(wilson_interval(1, 3, 1.0), Err(StatsError::InvalidParameter { name: "confidence", .. })));
    }

    #[test]
    fn the_t_quantile_is_exact_where_it_is_known() {
        // one degree of freedom: Cauchy, tan(π(0.5 − tail)); two: closed form
        let cauchy = t_quantile_upper(0.025, 1.0);
        assert!((cauchy - (std::f64::consts::PI * 0.475).tan()).abs() < 1e-12 * cauchy, "{cauchy}");
        let p: f64 = 0.025;
        let two = (2.0 * (1.0 - 2.0 * p).powi(2) / (1.0 - (1.0 - 2.0 * p).powi(2))).sqrt();
        assert!((t_quantile_upper(p, 2.0) - two).abs() < 1e-13 * two);
        // scipy's t.ppf(0.975, 2) is 4.302652729696142, 1.2e-11 below the closed form
        let interval = t_interval(&[1.0, 2.0, 3.0], 0.95).unwrap();
        assert_eq!(interval.estimate, 2.0);
        assert!((interval.upper - 2.0 - two / 3.0_f64.sqrt()).abs() < 1e-13, "{interval:?}");
        assert!(matches!(t_interval(&[1.0], 0.95), Err(StatsError::TooFew { needed: 2, .. })));
    }
}
