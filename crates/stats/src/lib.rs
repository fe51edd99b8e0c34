//! Statistics for monitoring and experiments: how far a current sample has moved from a
//! reference one, how sure a measured quality or goal is, and what an experiment's variant
//! did against its control.
//!
//! Pure: no I/O, no async. Each function computes what the scipy, statsmodels or
//! scikit-learn function named in its documentation computes, and `tests/reference.rs` and
//! `tests/experiments.rs` check it on cases whose expected values those libraries wrote
//! (`tests/reference/make_reference.py`, `tests/reference/make_experiments.py`), so the
//! Rust tests need no Python.
//!
//! - **Drift** of a feature or a score: [`population_stability_index`] (over [`Bins`] or
//!   categories), [`jensen_shannon_distance`], [`wasserstein_distance`] and
//!   [`normalized_wasserstein_distance`], [`ks_two_sample`] (exact or asymptotic as scipy
//!   chooses), [`chi_square_homogeneity`], and the shares of missing, defaulted and
//!   out-of-range values ([`ValueCounts`]). [`DriftPolicy`] says which of them decides at a
//!   given sample size: at large sizes every p-value test flags every difference, however
//!   small, so an effect size decides there.
//! - **Quality and goals**: intervals for a proportion ([`wilson_interval`],
//!   [`clopper_pearson_interval`]) and a mean ([`t_interval`]), a seeded bootstrap for a
//!   quantile and for ROC AUC ([`Bootstrap`]), a distribution-free interval for a quantile
//!   between two order statistics ([`quantile_order_interval`]), [`roc_auc`], and
//!   [`spearman`] with its p-value and a Fisher-z interval.
//! - **Experiments** (shadow, canary, A/B/n, holdout), from each arm's summary statistics
//!   so that a window never needs its rows: a variant against its control
//!   ([`compare_proportions`]: two-proportion z; [`compare_means`]: Welch's t; each with
//!   [`Comparison::relative_lift`] by the delta method), CUPED's variance reduction
//!   ([`cuped`]), the sample-ratio check against the configured weights
//!   ([`sample_ratio_mismatch`]), the always-valid mSPRT for decisions taken every window
//!   ([`Msprt`]), and the decision itself ([`decide`]: ship, keep running, or stop, with its
//!   reasons).
//!
//! Inputs are checked, never trusted: an empty sample, a value that is not finite, counts
//! of unequal lengths or a confidence outside (0, 1) get a [`StatsError`] that says which
//! input and where.

mod bootstrap;
mod chi_square;
mod compare;
mod cuped;
mod dd;
mod decision;
mod distance;
mod error;
mod experiment;
mod interval;
mod ks;
mod kstwo;
mod order;
mod rank;
mod rng;
mod sequential;
mod shares;
mod srm;

pub use bootstrap::Bootstrap;
pub use chi_square::{ChiSquareTest, chi_square_homogeneity};
pub use compare::{Arm, Comparison, ComparisonTest, Proportion, Summary, compare_means, compare_proportions};
pub use cuped::{CovariateSummary, Cuped, cuped};
pub use decision::{DriftMethod, DriftPolicy, DriftVerdict, FeatureKind};
pub use distance::{
    Bins, PSI_EMPTY_BIN, WASSERSTEIN_MIN_SCALE, jensen_shannon_distance, normalized_wasserstein_distance,
    population_stability_index, wasserstein_distance,
};
pub use error::StatsError;
pub use experiment::{
    Better, Decision, ExperimentDecision, Figures, Finding, Guardrail, PrimaryMetric, Reason, StopReason, decide,
};
pub use interval::{
    Interval, clopper_pearson_interval, newcombe_interval, normal_critical, t_interval, t_interval_from_summary,
    wilson_interval,
};
pub use ks::{KS_EXACT_MAX_N, KsMethod, KsTest, ks_two_sample};
pub use kstwo::kstwo_sf;
pub use order::quantile_order_interval;
pub use rank::{Spearman, quantile, roc_auc, spearman};
pub use rng::Rng;
pub use sequential::{Msprt, SequentialResult, SequentialState};
pub use shares::{Share, ValueCounts, ValueKind, ValueShares};
pub use srm::{SRM_ALPHA, SampleRatio, SampleRatioCheck, sample_ratio_mismatch};

/// Which input an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// The reference sample of a comparison (training data, or an earlier window).
    Reference,
    /// The current sample of a comparison (the window being monitored).
    Current,
    /// The one sample a statistic of one sample is computed on.
    Values,
    /// The first of two paired samples (a correlation's x).
    X,
    /// The second of two paired samples (a correlation's y).
    Y,
    /// A classifier's scores.
    Scores,
    /// The true labels paired with the scores.
    Labels,
    /// The control arm of an experiment (the current model, or the no-ML holdout).
    Control,
    /// The variant arm compared with the control.
    Variant,
    /// Arm `i` of an experiment, in the order the arms were given.
    Arm(usize),
    /// The units counted in each arm of an experiment (a sample-ratio check's observations).
    Assignments,
    /// The configured traffic weights of an experiment's arms.
    Weights,
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sample::Reference => "reference sample",
            Sample::Current => "current sample",
            Sample::Values => "sample",
            Sample::X => "x sample",
            Sample::Y => "y sample",
            Sample::Scores => "score sample",
            Sample::Labels => "label sample",
            Sample::Control => "control arm",
            Sample::Variant => "variant arm",
            Sample::Arm(i) => return write!(f, "arm {i}"),
            Sample::Assignments => "counts of assigned units",
            Sample::Weights => "configured weights",
        })
    }
}

/// `values`, sorted, once each is known to be finite.
fn sorted_finite(values: &[f64], sample: Sample) -> Result<Vec<f64>, StatsError> {
    check_finite(values, sample)?;
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    Ok(sorted)
}

/// Not empty, and every value finite.
fn check_finite(values: &[f64], sample: Sample) -> Result<(), StatsError> {
    if values.is_empty() {
        return Err(StatsError::Empty { sample });
    }
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(StatsError::NotFinite { sample, index, value: values[index] });
    }
    Ok(())
}

/// A confidence level strictly between 0 and 1.
fn check_confidence(confidence: f64) -> Result<(), StatsError> {
    if confidence > 0.0 && confidence < 1.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidParameter {
            name: "confidence",
            value: confidence,
            expected: "strictly between 0 and 1 (0.95 for 95%)",
        })
    }
}

/// Counts (or weights) of the same categories or bins, checked: equal lengths, each finite
/// and not negative, neither all zero.
fn check_counts(reference: &[f64], current: &[f64]) -> Result<(), StatsError> {
    if reference.len() != current.len() {
        return Err(StatsError::LengthMismatch { reference: reference.len(), current: current.len() });
    }
    for (sample, counts) in [(Sample::Reference, reference), (Sample::Current, current)] {
        if counts.is_empty() {
            return Err(StatsError::Empty { sample });
        }
        if let Some(index) = counts.iter().position(|c| !c.is_finite() || *c < 0.0) {
            return Err(StatsError::NegativeCount { sample, index, value: counts[index] });
        }
        if counts.iter().all(|c| *c == 0.0) {
            return Err(StatsError::AllZero { sample });
        }
    }
    Ok(())
}

/// The `q` quantile of sorted, finite, non-empty values, numpy's default (`linear`,
/// Hyndman and Fan's type 7): the values interpolated at position `q·(n−1)`, computed as
/// numpy computes it.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let virtual_index = (sorted.len() - 1) as f64 * q;
    let below = (virtual_index.floor() as usize).min(sorted.len() - 1);
    let above = (below + 1).min(sorted.len() - 1);
    let gamma = virtual_index - below as f64;
    let (a, b) = (sorted[below], sorted[above]);
    // numpy's _lerp: from the nearer end, so that gamma = 1 gives b exactly
    let difference = b - a;
    if gamma >= 0.5 { b - difference * (1.0 - gamma) } else { a + difference * gamma }
}

/// Walks the values of two sorted samples in order, each distinct value once, and calls
/// `at(value, reference_cdf, current_cdf)` with both empirical CDFs just after it (numpy's
/// `searchsorted(side="right") / n`, as scipy's KS and Wasserstein use).
fn walk_cdfs(reference: &[f64], current: &[f64], mut at: impl FnMut(f64, f64, f64)) {
    let (n, m) = (reference.len() as f64, current.len() as f64);
    let (mut i, mut j) = (0, 0);
    while i < reference.len() || j < current.len() {
        let value = match (reference.get(i), current.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        while i < reference.len() && reference[i] <= value {
            i += 1;
        }
        while j < current.len() && current[j] <= value {
            j += 1;
        }
        at(value, i as f64 / n, j as f64 / m);
    }
}
