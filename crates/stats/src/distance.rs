//! Distances between two distributions: how far the current one has moved, whatever the
//! sample sizes (a test's p-value shrinks with size; a distance does not).

use crate::{Sample, StatsError, check_counts, quantile_sorted, sorted_finite, walk_cdfs};

/// The first Wasserstein (earth mover's) distance between two samples of numbers, in
/// their unit: scipy's `stats.wasserstein_distance(reference, current)`, the integral of
/// the gap between the two empirical CDFs.
pub fn wasserstein_distance(reference: &[f64], current: &[f64]) -> Result<f64, StatsError> {
    let reference = sorted_finite(reference, Sample::Reference)?;
    let current = sorted_finite(current, Sample::Current)?;
    Ok(wasserstein_sorted(&reference, &current))
}

fn wasserstein_sorted(reference: &[f64], current: &[f64]) -> f64 {
    // ∫ |F_ref − F_cur| dx: the CDFs are steps, constant between consecutive values
    let mut distance = 0.0;
    let mut last: Option<(f64, f64)> = None; // (value, |F_ref − F_cur| just after it)
    walk_cdfs(reference, current, |value, a, b| {
        if let Some((previous, gap)) = last {
            distance += gap * (value - previous);
        }
        last = Some((value, (a - b).abs()));
    });
    distance
}

/// The smallest standard deviation [`normalized_wasserstein_distance`] divides by, as
/// Evidently's: a reference whose values are all equal (or nearly) is not a unit.
pub const WASSERSTEIN_MIN_SCALE: f64 = 0.001;

/// The Wasserstein distance in units of the reference's standard deviation: Evidently's
/// `wasserstein` drift measure, `wasserstein_distance(reference, current) /
/// max(np.std(reference), 0.001)` (population standard deviation, `ddof=0`). Evidently
/// calls a feature drifted at 0.1 or more (see [`crate::DriftPolicy`]).
pub fn normalized_wasserstein_distance(reference: &[f64], current: &[f64]) -> Result<f64, StatsError> {
    let reference = sorted_finite(reference, Sample::Reference)?;
    let current = sorted_finite(current, Sample::Current)?;
    let n = reference.len() as f64;
    let mean = reference.iter().sum::<f64>() / n;
    let std = (reference.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    Ok(wasserstein_sorted(&reference, &current) / std.max(WASSERSTEIN_MIN_SCALE))
}

/// The Jensen–Shannon distance between two distributions given as counts (or weights) of
/// the same categories or bins, base 2, so in [0, 1]: scipy's
/// `spatial.distance.jensenshannon(reference, current, base=2)`. Each is normalized first;
/// a category one sample never saw is fine (the mixture has it). Evidently's drift measure
/// for categories on large samples, drifted at 0.1 or more (see [`crate::DriftPolicy`]).
///
/// Near 0 the distance is the square root of a divergence that is a sum of rounded terms,
/// so two identical distributions given by different counts can give about 1e-8, not 0.
pub fn jensen_shannon_distance(reference: &[f64], current: &[f64]) -> Result<f64, StatsError> {
    check_counts(reference, current)?;
    let (p, q) = (proportions(reference), proportions(current));
    // x·ln(x/y), 0 where x is 0 (scipy's rel_entr); m is never 0 where p or q is not
    let relative_entropy = |x: f64, y: f64| if x > 0.0 { x * (x / y).ln() } else { 0.0 };
    let (mut left, mut right) = (0.0, 0.0);
    for (&a, &b) in p.iter().zip(&q) {
        let m = (a + b) / 2.0;
        left += relative_entropy(a, m);
        right += relative_entropy(b, m);
    }
    let divergence = (left + right) / std::f64::consts::LN_2;
    Ok((divergence / 2.0).max(0.0).sqrt())
}

/// What [`population_stability_index`] puts in place of an empty bin's proportion, as
/// Evidently does.
pub const PSI_EMPTY_BIN: f64 = 1e-4;

/// The population stability index between counts of the same bins or categories:
/// `Σ (p − q)·ln(p/q)` over the two samples' proportions `p` (reference) and `q`
/// (current). Commonly read as: under 0.1 stable, 0.1–0.25 a shift worth watching, above
/// 0.25 a shift.
///
/// - **Bins**: the caller's. For numbers, cut both samples at the reference's quantiles
///   ([`Bins::from_reference_quantiles`], then [`Bins::count`]); for categories, count
///   each category (the same ones, in the same order, in both).
/// - **Empty bins**: a proportion that is exactly 0 is replaced by `empty_bin`
///   ([`PSI_EMPTY_BIN`], 0.0001, is Evidently's `np.place(p, p == 0, 0.0001)`); the others
///   are kept as they are and nothing is renormalized. Without it a bin one sample never
///   filled would make the index infinite. A bin empty in both samples adds 0.
pub fn population_stability_index(reference: &[f64], current: &[f64], empty_bin: f64) -> Result<f64, StatsError> {
    check_counts(reference, current)?;
    if !(empty_bin.is_finite() && empty_bin > 0.0 && empty_bin < 1.0) {
        return Err(StatsError::InvalidParameter {
            name: "empty_bin",
            value: empty_bin,
            expected: "a proportion strictly between 0 and 1",
        });
    }
    let smooth = |x: f64| if x == 0.0 { empty_bin } else { x };
    let (p, q) = (proportions(reference), proportions(current));
    Ok(p.iter()
        .zip(&q)
        .map(|(&a, &b)| {
            let (a, b) = (smooth(a), smooth(b));
            (a - b) * (a / b).ln()
        })
        .sum())
}

fn proportions(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    counts.iter().map(|c| c / total).collect()
}

/// Bins for numbers, cut at edges: bin 0 holds values up to and including the first edge,
/// bin `i` those above edge `i−1` up to and including edge `i`, the last bin those above
/// the last edge. So `edges.len() + 1` bins, every finite number in exactly one.
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    edges: Vec<f64>,
}

impl Bins {
    /// Bins holding about equal shares of the reference: edges at its quantiles
    /// `1/bins, 2/bins, …, (bins−1)/bins` (numpy's default `linear` quantiles, as
    /// [`crate::quantile`]), a repeated edge kept once, so a reference with many ties gets
    /// fewer bins (all-equal values get one edge, two bins: at the value and above).
    pub fn from_reference_quantiles(reference: &[f64], bins: usize) -> Result<Bins, StatsError> {
        if bins < 2 {
            return Err(StatsError::InvalidParameter { name: "bins", value: bins as f64, expected: "at least 2" });
        }
        let sorted = sorted_finite(reference, Sample::Reference)?;
        let mut edges: Vec<f64> = (1..bins).map(|i| quantile_sorted(&sorted, i as f64 / bins as f64)).collect();
        edges.dedup();
        Ok(Bins { edges })
    }

    /// Bins with the given edges, which must be finite and strictly increasing.
    pub fn from_edges(edges: Vec<f64>) -> Result<Bins, StatsError> {
        if edges.is_empty() {
            return Err(StatsError::InvalidParameter { name: "edges", value: 0.0, expected: "at least one edge" });
        }
        if let Some(index) = edges.iter().position(|e| !e.is_finite()) {
            return Err(StatsError::InvalidParameter { name: "edges", value: edges[index], expected: "finite edges" });
        }
        if let Some(index) = edges.windows(2).position(|w| w[0] >= w[1]) {
            return Err(StatsError::InvalidParameter {
                name: "edges",
                value: edges[index + 1],
                expected: "strictly increasing edges",
            });
        }
        Ok(Bins { edges })
    }

    pub fn edges(&self) -> &[f64] {
        &self.edges
    }

    /// How many bins: one more than edges.
    pub fn len(&self) -> usize {
        self.edges.len() + 1
    }

    /// Never: there are always at least two bins.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Which bin `value` falls in (numpy's `searchsorted(edges, value, side='left')`).
    pub fn bin_of(&self, value: f64) -> usize {
        self.edges.partition_point(|&edge| edge < value)
    }

    /// How many of `values` fall in each bin; `sample` names them in an error.
    pub fn count(&self, values: &[f64], sample: Sample) -> Result<Vec<f64>, StatsError> {
        let mut counts = vec![0.0; self.len()];
        for (index, &value) in values.iter().enumerate() {
            if !value.is_finite() {
                return Err(StatsError::NotFinite { sample, index, value });
            }
            counts[self.bin_of(value)] += 1.0;
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_sample_is_as_far_as_its_shift() {
        let x = [0.0, 1.0, 3.0];
        let shifted: Vec<f64> = x.iter().map(|v| v + 2.5).collect();
        assert!((wasserstein_distance(&x, &shifted).unwrap() - 2.5).abs() < 1e-12);
        assert_eq!(wasserstein_distance(&x, &x).unwrap(), 0.0);
        // std of [0, 1, 3] is √(14/9)
        let normalized = normalized_wasserstein_distance(&x, &shifted).unwrap();
        assert!((normalized - 2.5 / (14.0_f64 / 9.0).sqrt()).abs() < 1e-12);
        // an all-equal reference is measured in thousandths
        assert!((normalized_wasserstein_distance(&[2.0, 2.0], &[2.5]).unwrap() - 500.0).abs() < 1e-9);
    }

    #[test]
    fn disjoint_categories_are_as_far_apart_as_can_be() {
        assert!((jensen_shannon_distance(&[5.0, 0.0], &[0.0, 7.0]).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(jensen_shannon_distance(&[1.0, 3.0], &[2.0, 6.0]).unwrap(), 0.0);
        assert_eq!(population_stability_index(&[1.0, 3.0], &[2.0, 6.0], PSI_EMPTY_BIN).unwrap(), 0.0);
    }

    #[test]
    fn an_empty_bin_counts_as_rare_not_infinite() {
        let psi = population_stability_index(&[10.0, 0.0], &[5.0, 5.0], PSI_EMPTY_BIN).unwrap();
        assert!(psi.is_finite() && psi > 0.25, "{psi}");
        // only an empty bin is smoothed: a rare one keeps its proportion
        let rare = population_stability_index(&[99_999.0, 1.0], &[1.0, 1.0], PSI_EMPTY_BIN).unwrap();
        let p = [0.99999, 0.00001];
        let want = (p[0] - 0.5) * (p[0] / 0.5_f64).ln() + (p[1] - 0.5) * (p[1] / 0.5_f64).ln();
        assert!((rare - want).abs() < 1e-12, "{rare} vs {want}");
        assert!(matches!(
            population_stability_index(&[1.0], &[1.0], 0.0),
            Err(StatsError::InvalidParameter { name: "empty_bin", .. })
        ));
    }

    #[test]
    fn quantile_bins_share_the_reference_equally() {
        let reference: Vec<f64> = (1..=100).map(f64::from).collect();
        let bins = Bins::from_reference_quantiles(&reference, 4).unwrap();
        assert_eq!(bins.edges(), &[25.75, 50.5, 75.25]);
        assert_eq!(bins.count(&reference, Sample::Reference).unwrap(), vec![25.0, 25.0, 25.0, 25.0]);
        assert_eq!(bins.bin_of(25.75), 0);
        assert_eq!(bins.bin_of(-1e300), 0);
        assert_eq!(bins.bin_of(1e300), 3);
        let ties = Bins::from_reference_quantiles(&[3.0; 10], 10).unwrap();
        assert_eq!((ties.edges(), ties.len()), (&[3.0][..], 2));
        assert!(Bins::from_edges(vec![1.0, 1.0]).is_err());
        assert!(matches!(
            bins.count(&[1.0, f64::INFINITY], Sample::Current),
            Err(StatsError::NotFinite { sample: Sample::Current, index: 1, .. })
        ));
    }
}
