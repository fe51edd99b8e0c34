//! The chi-squared test of homogeneity of two samples' category counts.

use crate::{StatsError, check_counts};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// The chi-squared test of homogeneity of a categorical feature's counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquareTest {
    pub statistic: f64,
    /// Categories observed in either sample, less one.
    pub degrees_of_freedom: usize,
    pub p_value: f64,
}

/// Whether the current counts of each category come from the reference's proportions: the
/// 2×k contingency table of the two samples' counts, scipy's
/// `stats.chi2_contingency([reference, current], correction=False)`.
///
/// - Categories seen in neither sample are left out (scipy refuses a table with a zero
///   column); they say nothing about a difference.
/// - No Yates correction, also for two categories (scipy applies it by default only to a
///   2×2 table): monitoring counts are large, and the same test then holds at every number
///   of categories.
/// - One category seen in all: no difference can show, and the answer is scipy's, a
///   statistic of 0 with 0 degrees of freedom and a p-value of 1.
/// - The p-value is the chi-squared survival function (statrs's regularized upper
///   incomplete gamma function).
pub fn chi_square_homogeneity(reference: &[f64], current: &[f64]) -> Result<ChiSquareTest, StatsError> {
    check_counts(reference, current)?;
    let seen: Vec<(f64, f64)> =
        reference.iter().zip(current).map(|(&r, &c)| (r, c)).filter(|(r, c)| r + c > 0.0).collect();
    if seen.len() < 2 {
        return Ok(ChiSquareTest { statistic: 0.0, degrees_of_freedom: 0, p_value: 1.0 });
    }
    let total_reference: f64 = seen.iter().map(|(r, _)| r).sum();
    let total_current: f64 = seen.iter().map(|(_, c)| c).sum();
    let total = total_reference + total_current;
    let statistic: f64 = seen
        .iter()
        .flat_map(|&(r, c)| {
            let column = r + c;
            [(r, total_reference * column / total), (c, total_current * column / total)]
        })
        .map(|(observed, expected)| (observed - expected).powi(2) / expected)
        .sum();
    let degrees_of_freedom = seen.len() - 1;
    let p_value = ChiSquared::new(degrees_of_freedom as f64).map(|d| d.sf(statistic)).unwrap_or(f64::NAN);
    Ok(ChiSquareTest { statistic, degrees_of_freedom, p_value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sample;

    #[test]
    fn equal_proportions_show_no_difference() {
        let chi = chi_square_homogeneity(&[10.0, 20.0, 30.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!(chi.statistic.abs() < 1e-12);
        assert!((chi.p_value - 1.0).abs() < 1e-12);
    }

    #[test]
    fn one_category_cannot_differ() {
        let chi = chi_square_homogeneity(&[5.0, 0.0], &[3.0, 0.0]).unwrap();
        assert_eq!(chi, ChiSquareTest { statistic: 0.0, degrees_of_freedom: 0, p_value: 1.0 });
    }

    #[test]
    fn bad_inputs_are_named() {
        assert_eq!(
            chi_square_homogeneity(&[1.0, 2.0], &[1.0]),
            Err(StatsError::LengthMismatch { reference: 2, current: 1 })
        );
        assert!(matches!(
            chi_square_homogeneity(&[1.0, -2.0], &[1.0, 1.0]),
            Err(StatsError::NegativeCount { sample: Sample::Reference, index: 1, .. })
        ));
        assert_eq!(
            chi_square_homogeneity(&[0.0, 0.0], &[1.0, 1.0]),
            Err(StatsError::AllZero { sample: Sample::Reference })
        );
    }
}
