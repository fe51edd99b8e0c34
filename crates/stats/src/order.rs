//! A distribution-free interval for a quantile, between two order statistics.

use statrs::distribution::{Binomial, DiscreteCDF};

use crate::interval::Interval;
use crate::rank::check_quantile;
use crate::{Sample, StatsError, check_confidence, quantile_sorted, sorted_finite};

/// The `q` quantile of `values` (numpy's `linear`, as [`crate::quantile`]) with a
/// distribution-free confidence interval between two of the sorted values: scipy's
/// `stats.quantile_test(values, p=q).confidence_interval(confidence)`.
///
/// How many values lie below the population's `q` quantile is Binomial(n, q), whatever the
/// distribution; with `α = (1 − confidence)/2`, the lower end is the value of (0-based)
/// index `ppf(α) − 1` of the sorted sample and the upper end the value of index `isf(α)`,
/// `ppf` and `isf` the binomial's quantile and inverse survival function. It covers at least
/// `confidence` of the time, for any continuous distribution.
///
/// An end the sample cannot bound is infinite (scipy answers NaN there): with too few
/// values beyond the quantile (the 0.99 quantile of 50 values has none above it) nothing in
/// the sample lies surely above it. `q = 1`, the maximum, has no upper end.
///
/// Cost: one sort of a copy of `values`, then O(log n) binomial tails; no resampling, so it
/// is cheap on the large samples (a window's latencies) where a bootstrap is not.
pub fn quantile_order_interval(values: &[f64], q: f64, confidence: f64) -> Result<Interval, StatsError> {
    check_quantile(q)?;
    check_confidence(confidence)?;
    let sorted = sorted_finite(values, Sample::Values)?;
    let n = sorted.len() as u64;
    let estimate = quantile_sorted(&sorted, q);
    let binomial = Binomial::new(q, n).map_err(|_| StatsError::InvalidParameter {
        name: "q",
        value: q,
        expected: "a quantile in [0, 1] (0.5 for the median)",
    })?;
    let alpha = (1.0 - confidence) / 2.0;
    // the smallest k with P(B ≤ k) ≥ α, and the smallest with P(B > k) ≤ α
    let ppf = smallest(n, |k| binomial.cdf(k) >= alpha);
    let isf = smallest(n, |k| binomial.sf(k) <= alpha);
    let lower = match ppf.checked_sub(1) {
        Some(index) => sorted[index as usize],
        None => f64::NEG_INFINITY,
    };
    let upper = if isf < n { sorted[isf as usize] } else { f64::INFINITY };
    Ok(Interval { estimate, lower, upper, confidence })
}

/// The smallest `k` in `0..=n` where `holds` (monotone: false, then true), `n` when it
/// holds nowhere below.
fn smallest(n: u64, holds: impl Fn(u64) -> bool) -> u64 {
    let (mut low, mut high) = (0, n);
    while low < high {
        let middle = low + (high - low) / 2;
        if holds(middle) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    low
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scipy 1.17.1: `stats.quantile_test(x, p=q).confidence_interval(c)` on
    /// `x = [(i * 0.6180339887498949) % 1 * 100 for i in range(1, n + 1)]`, NaN written as
    /// infinite.
    #[test]
    fn the_ends_are_scipys_order_statistics() {
        let sample =
            |n: usize| -> Vec<f64> { (1..=n).map(|i| (i as f64 * 0.6180339887498949) % 1.0 * 100.0).collect() };
        let cases: [(usize, f64, f64, f64, f64); 6] = [
            (20, 0.5, 0.95, 27.050983124842354, 70.82039324993694),
            (20, 0.9, 0.95, 70.82039324993694, f64::INFINITY),
            (100, 0.99, 0.95, 95.74275274955859, f64::INFINITY),
            (1000, 0.99, 0.95, 98.25525211988406, 99.6894379984866),
            (5, 0.5, 0.95, f64::NEG_INFINITY, f64::INFINITY),
            (1000, 0.1, 0.9, 8.469184115506323, 11.64811787423261),
        ];
        for (n, q, c, lower, upper) in cases {
            let got = quantile_order_interval(&sample(n), q, c).unwrap();
            assert_eq!((got.lower, got.upper), (lower, upper), "n = {n}, q = {q}, c = {c}");
            assert_eq!(got.estimate, crate::quantile(&sample(n), q).unwrap());
        }
    }

    #[test]
    fn the_maximum_has_no_upper_end() {
        let got = quantile_order_interval(&[3.0, 1.0, 2.0, 5.0, 4.0, 6.0, 7.0], 1.0, 0.95).unwrap();
        assert_eq!((got.estimate, got.lower, got.upper), (7.0, 7.0, f64::INFINITY));
        let one = quantile_order_interval(&[3.0], 0.5, 0.95).unwrap();
        assert_eq!((one.estimate, one.lower, one.upper), (3.0, f64::NEG_INFINITY, f64::INFINITY));
        assert!(matches!(quantile_order_interval(&[], 0.5, 0.95), Err(StatsError::Empty { .. })));
        assert!(quantile_order_interval(&[1.0], 1.5, 0.95).is_err());
    }
}
