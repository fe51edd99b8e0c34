//! Which measure decides drift at a given sample size.
//!
//! A p-value test answers "could these two samples come from one distribution?". At a few
//! hundred rows it takes a real shift to say no; at a hundred thousand it says no to any
//! shift at all, however small, so a p-value test on a large window flags every feature
//! (Evidently and alibi-detect's users meet this: evidently#50, alibi-detect#646). Above a
//! size, an effect size decides instead: how far the distribution moved, whatever the
//! size. [`DriftPolicy::EVIDENTLY`] is Evidently's data-drift preset.

use crate::{
    StatsError, chi_square_homogeneity, jensen_shannon_distance, ks_two_sample, normalized_wasserstein_distance,
};

/// What kind of values a feature (or a model output) has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    Numeric,
    Categorical,
}

/// The measure that decides whether a feature drifted, and its threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DriftMethod {
    /// [`ks_two_sample`]: drifted when the p-value is at most `alpha`.
    KolmogorovSmirnov { alpha: f64 },
    /// [`chi_square_homogeneity`]: drifted when the p-value is at most `alpha`.
    ChiSquare { alpha: f64 },
    /// [`normalized_wasserstein_distance`]: drifted at `threshold` or more.
    NormalizedWasserstein { threshold: f64 },
    /// [`jensen_shannon_distance`] in natural-log units (as Evidently computes it, with
    /// scipy's default base: the base-2 distance times √ln 2): drifted at `threshold` or more.
    JensenShannon { threshold: f64 },
}

impl DriftMethod {
    /// Whether `value`, the method's p-value or distance, says drift.
    pub fn drifted(&self, value: f64) -> bool {
        match *self {
            DriftMethod::KolmogorovSmirnov { alpha } | DriftMethod::ChiSquare { alpha } => value <= alpha,
            DriftMethod::NormalizedWasserstein { threshold } | DriftMethod::JensenShannon { threshold } => {
                value >= threshold
            }
        }
    }

    /// Whether the method is a p-value test (else an effect size).
    pub fn is_test(&self) -> bool {
        matches!(self, DriftMethod::KolmogorovSmirnov { .. } | DriftMethod::ChiSquare { .. })
    }
}

impl std::fmt::Display for DriftMethod {
    /// What a report says: "KS p-value ≤ 0.05", "normalized Wasserstein distance ≥ 0.1".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriftMethod::KolmogorovSmirnov { alpha } => write!(f, "Kolmogorov-Smirnov p-value ≤ {alpha}"),
            DriftMethod::ChiSquare { alpha } => write!(f, "chi-squared p-value ≤ {alpha}"),
            DriftMethod::NormalizedWasserstein { threshold } => {
                write!(f, "Wasserstein distance / reference std ≥ {threshold}")
            }
            DriftMethod::JensenShannon { threshold } => write!(f, "Jensen-Shannon distance ≥ {threshold}"),
        }
    }
}

/// Which method decides drift for a sample of a given size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftPolicy {
    /// Up to this many rows, a p-value test decides; above, an effect size.
    pub max_rows_for_tests: usize,
    /// The tests' significance level.
    pub alpha: f64,
    /// The normalized Wasserstein distance that is drift, for numbers.
    pub numeric_threshold: f64,
    /// The Jensen–Shannon distance that is drift, for categories.
    pub categorical_threshold: f64,
}

impl Default for DriftPolicy {
    fn default() -> DriftPolicy {
        DriftPolicy::EVIDENTLY
    }
}

/// A drift decision: the method used, the value it gave, and whether that is drift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftVerdict {
    pub method: DriftMethod,
    /// The p-value or the distance.
    pub value: f64,
    pub drifted: bool,
}

impl DriftPolicy {
    /// Evidently's data-drift preset: tests at α = 0.05 up to 1,000 rows (KS for numbers,
    /// chi-squared for categories), above that the normalized Wasserstein distance for
    /// numbers and the Jensen–Shannon distance for categories, each drifted at 0.1.
    pub const EVIDENTLY: DriftPolicy =
        DriftPolicy { max_rows_for_tests: 1000, alpha: 0.05, numeric_threshold: 0.1, categorical_threshold: 0.1 };

    /// The method for a feature of `kind` compared on `rows` rows. Pass the smaller of the
    /// two samples' sizes: a two-sample test's power grows with `n·m/(n+m)`, which lies
    /// between half of it and it. (Evidently passes the reference's size.) Evidently also
    /// treats a numeric feature with at most five distinct values as categorical; that is
    /// the caller's choice of `kind` here.
    pub fn method(&self, kind: FeatureKind, rows: usize) -> DriftMethod {
        let small = rows <= self.max_rows_for_tests;
        match (kind, small) {
            (FeatureKind::Numeric, true) => DriftMethod::KolmogorovSmirnov { alpha: self.alpha },
            (FeatureKind::Categorical, true) => DriftMethod::ChiSquare { alpha: self.alpha },
            (FeatureKind::Numeric, false) => DriftMethod::NormalizedWasserstein { threshold: self.numeric_threshold },
            (FeatureKind::Categorical, false) => DriftMethod::JensenShannon { threshold: self.categorical_threshold },
        }
    }

    /// Drift of a numeric feature, by the method for the smaller sample's size.
    pub fn numeric_drift(&self, reference: &[f64], current: &[f64]) -> Result<DriftVerdict, StatsError> {
        let method = self.method(FeatureKind::Numeric, reference.len().min(current.len()));
        let value = match method {
            DriftMethod::KolmogorovSmirnov { .. } => ks_two_sample(reference, current)?.p_value,
            _ => normalized_wasserstein_distance(reference, current)?,
        };
        Ok(DriftVerdict { method, value, drifted: method.drifted(value) })
    }

    /// Drift of a categorical feature given its counts per category (the same categories,
    /// in the same order), by the method for the smaller sample's total count.
    pub fn categorical_drift(&self, reference: &[f64], current: &[f64]) -> Result<DriftVerdict, StatsError> {
        let rows = reference.iter().sum::<f64>().min(current.iter().sum::<f64>());
        let rows = if rows.is_finite() && rows > 0.0 { rows as usize } else { 0 };
        let method = self.method(FeatureKind::Categorical, rows);
        let value = match method {
            DriftMethod::ChiSquare { .. } => chi_square_homogeneity(reference, current)?.p_value,
            _ => jensen_shannon_distance(reference, current)? * std::f64::consts::LN_2.sqrt(),
        };
        Ok(DriftVerdict { method, value, drifted: method.drifted(value) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_samples_are_tested_large_ones_measured() {
        let policy = DriftPolicy::EVIDENTLY;
        assert_eq!(policy.method(FeatureKind::Numeric, 1000), DriftMethod::KolmogorovSmirnov { alpha: 0.05 });
        assert_eq!(policy.method(FeatureKind::Numeric, 1001), DriftMethod::NormalizedWasserstein { threshold: 0.1 });
        assert_eq!(policy.method(FeatureKind::Categorical, 10), DriftMethod::ChiSquare { alpha: 0.05 });
        assert_eq!(policy.method(FeatureKind::Categorical, 5000), DriftMethod::JensenShannon { threshold: 0.1 });
        assert!(DriftMethod::ChiSquare { alpha: 0.05 }.drifted(0.05));
        assert!(!DriftMethod::JensenShannon { threshold: 0.1 }.drifted(0.099));
        assert_eq!(
            DriftMethod::NormalizedWasserstein { threshold: 0.1 }.to_string(),
            "Wasserstein distance / reference std ≥ 0.1"
        );
    }

    #[test]
    fn a_tiny_shift_in_a_large_sample_is_not_drift() {
        // 200,000 evenly spread values against the same shifted by 2% of their standard
        // deviation: KS calls that a difference (p ≈ 0.002), the effect size does not
        let reference: Vec<f64> = (0..200_000).map(|i| f64::from(i) / 200_000.0).collect();
        let current: Vec<f64> = reference.iter().map(|x| x + 0.02 * 0.2887).collect();
        let verdict = DriftPolicy::EVIDENTLY.numeric_drift(&reference, &current).unwrap();
        assert_eq!(verdict.method, DriftMethod::NormalizedWasserstein { threshold: 0.1 });
        assert!(!verdict.drifted && (verdict.value - 0.02).abs() < 1e-3, "{verdict:?}");
        assert!(ks_two_sample(&reference, &current).unwrap().p_value < 0.01);
        let small = DriftPolicy::EVIDENTLY.numeric_drift(&reference[..500], &current[..500]).unwrap();
        assert!(small.method.is_test());
    }

    #[test]
    fn categories_are_decided_by_their_counts() {
        let verdict = DriftPolicy::EVIDENTLY.categorical_drift(&[500.0, 300.0, 200.0], &[100.0, 300.0, 600.0]).unwrap();
        assert_eq!(verdict.method, DriftMethod::ChiSquare { alpha: 0.05 });
        assert!(verdict.drifted);
        let verdict =
            DriftPolicy::EVIDENTLY.categorical_drift(&[5000.0, 3000.0, 2000.0], &[5050.0, 2990.0, 1960.0]).unwrap();
        assert_eq!(verdict.method, DriftMethod::JensenShannon { threshold: 0.1 });
        assert!(!verdict.drifted);
    }

    /// Evidently's threshold is on the distance in natural-log units (scipy's default base):
    /// `jensenshannon([5000, 5000], [6200, 3800])` is 0.0855812286097025 there, and
    /// 0.1027935314545897 in base 2. Not drift, as Evidently says.
    #[test]
    fn the_jensen_shannon_threshold_is_in_evidently_s_units() {
        let verdict = DriftPolicy::EVIDENTLY.categorical_drift(&[5000.0, 5000.0], &[6200.0, 3800.0]).unwrap();
        assert!((verdict.value - 0.0855812286097025).abs() < 1e-12, "{verdict:?}");
        assert!(!verdict.drifted);
    }
}
