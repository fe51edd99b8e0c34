//! The seeded, stratified bootstrap behind the quality intervals: rein-stats' generator
//! (xoshiro256++ seeded through SplitMix64, Lemire's bounded integers), drawn in the same
//! order as `rein_stats::Bootstrap`, so that a seed gives the same resamples on every
//! machine and `tests/reference/make_quality.py` can draw exactly the same ones.
//!
//! A resample is a vector of **weights**, one a row: how many times the row was drawn.
//! Every statistic of the quality report is computed on weighted rows, so the data's own
//! figure is the same code with every weight 1, and a resample costs O(rows), never a
//! copy or a sort.

use rein_stats::Rng;

/// Draws `resamples` stratified resamples of `rows` rows: for each stratum in order, as
/// many draws with replacement from it as it holds (its rows in the order given), so every
/// resample keeps each stratum's size. `statistics` is called with each resample's weights
/// and writes its `count` statistics (NaN where one is undefined on that resample).
/// Returns, per statistic, its value on every resample where it was defined.
pub(crate) fn bootstrap(
    strata: &[Vec<usize>],
    rows: usize,
    resamples: usize,
    seed: u64,
    count: usize,
    mut statistics: impl FnMut(&[f64], &mut [f64]),
) -> Vec<Vec<f64>> {
    let mut rng = Rng::new(seed);
    let mut weights = vec![0.0; rows];
    let mut values = vec![f64::NAN; count];
    let mut out = vec![Vec::with_capacity(resamples); count];
    for _ in 0..resamples {
        weights.iter_mut().for_each(|w| *w = 0.0);
        for stratum in strata {
            let n = stratum.len() as u64;
            for _ in 0..stratum.len() {
                weights[stratum[rng.below(n) as usize]] += 1.0;
            }
        }
        values.iter_mut().for_each(|v| *v = f64::NAN);
        statistics(&weights, &mut values);
        for (kept, value) in out.iter_mut().zip(&values) {
            if value.is_finite() {
                kept.push(*value);
            }
        }
    }
    out
}

/// The `(1−c)/2` and `1 − (1−c)/2` quantiles (numpy's `linear`, as rein-stats' bootstrap
/// takes them) of a statistic's resampled values; `None` when no resample defined it.
pub(crate) fn percentiles(values: &[f64], confidence: f64) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let tail = (1.0 - confidence) / 2.0;
    let lower = rein_stats::quantile(values, tail).ok()?;
    let upper = rein_stats::quantile(values, 1.0 - tail).ok()?;
    Some((lower, upper))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rein_stats::Bootstrap;

    #[test]
    fn stratified_draws_are_rein_stats_auc_bootstrap() {
        // positives first, then negatives, each in the data's order: the AUC interval of
        // these weights is rein_stats::Bootstrap::roc_auc_interval's, to the last bit
        let labels: Vec<bool> = (0..60).map(|i| i % 3 == 0 || i % 7 == 0).collect();
        let scores: Vec<f64> = (0..60).map(|i| (f64::from(i) * 0.618_034).fract()).collect();
        let positives: Vec<usize> = (0..60).filter(|&i| labels[i]).collect();
        let negatives: Vec<usize> = (0..60).filter(|&i| !labels[i]).collect();
        let resampled = bootstrap(&[positives, negatives], 60, 300, 9, 1, |w, out| {
            out[0] = weighted_auc(&labels, &scores, w);
        });
        let (lower, upper) = percentiles(&resampled[0], 0.9).unwrap();
        let reference =
            Bootstrap { resamples: 300, confidence: 0.9, seed: 9 }.roc_auc_interval(&labels, &scores).unwrap();
        assert_eq!((lower, upper), (reference.lower, reference.upper));
    }

    /// AUC with integer weights, pairs by brute force.
    fn weighted_auc(labels: &[bool], scores: &[f64], w: &[f64]) -> f64 {
        let (mut num, mut pos, mut neg) = (0.0, 0.0, 0.0);
        for i in 0..labels.len() {
            if labels[i] {
                pos += w[i];
            } else {
                neg += w[i];
            }
            for j in 0..labels.len() {
                if labels[i] && !labels[j] {
                    let h = if scores[i] > scores[j] {
                        1.0
                    } else if scores[i] == scores[j] {
                        0.5
                    } else {
                        0.0
                    };
                    num += w[i] * w[j] * h;
                }
            }
        }
        num / (pos * neg)
    }
}
