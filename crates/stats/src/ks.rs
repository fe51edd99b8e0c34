//! The two-sample Kolmogorov–Smirnov test, two-sided, as scipy's
//! `stats.ks_2samp(reference, current)` computes it (`method='auto'`).

use crate::kstwo::kstwo_sf;
use crate::{Sample, StatsError, sorted_finite, walk_cdfs};

/// Up to this many values in the larger sample, scipy's `method='auto'` computes the exact
/// p-value; above, the asymptotic one.
pub const KS_EXACT_MAX_N: usize = 10_000;

/// How a KS p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KsMethod {
    /// The exact distribution of the two-sample statistic under the null hypothesis: the
    /// share of lattice paths that leave the band (Hodges 1958, in Viehmann's stable
    /// recursion for unequal sizes), when the larger sample has at most
    /// [`KS_EXACT_MAX_N`] values.
    Exact,
    /// The distribution of the one-sample statistic `D_N` with
    /// `N = round(n·m/(n+m))`: scipy's `kstwo.sf(D, N)`. Used above [`KS_EXACT_MAX_N`],
    /// or where the exact computation fails (never seen below it). Not the plain
    /// Kolmogorov limit (`kstwobign`, statrs's `TwoSidedAsymptotic`), which scipy does not
    /// use for two samples.
    Asymptotic,
}

/// The two-sample Kolmogorov–Smirnov test, two-sided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsTest {
    /// The largest distance between the two empirical CDFs, in [0, 1].
    pub statistic: f64,
    pub p_value: f64,
    /// How `p_value` was computed.
    pub method: KsMethod,
}

/// The two-sample KS test of numeric values (a feature's or a score's): scipy's
/// `stats.ks_2samp(reference, current)`, statistic and p-value, with scipy's choice of
/// method (`method='auto'`): exact when the larger sample has at most 10,000 values
/// ([`KS_EXACT_MAX_N`]), otherwise asymptotic, both as scipy computes them ([`KsMethod`]).
/// Ties are fine (the empirical CDFs are compared just after each distinct value).
///
/// Cost, beyond sorting (release build, this project's machines): the exact p-value takes
/// time of order `max(n,m)·D·min(n,m)`, at worst 0.4 s (10,000 × 9,999, D = 0.5); the
/// asymptotic one is microseconds except where scipy sums Smirnov's series term by term
/// (`N·D² ≥ 2.2`, a small p-value), which grows with `N`: 0.6 s at `N = 10⁶` (above 10⁶
/// scipy, and rein, use a closed-form approximation).
pub fn ks_two_sample(reference: &[f64], current: &[f64]) -> Result<KsTest, StatsError> {
    let reference = sorted_finite(reference, Sample::Reference)?;
    let current = sorted_finite(current, Sample::Current)?;
    let mut statistic: f64 = 0.0;
    walk_cdfs(&reference, &current, |_, a, b| statistic = statistic.max((a - b).abs()));
    let (n1, n2) = (reference.len() as u64, current.len() as u64);
    if reference.len().max(current.len()) <= KS_EXACT_MAX_N
        && let Some((statistic, p_value)) = exact(n1, n2, statistic)
    {
        return Ok(KsTest { statistic, p_value: p_value.clamp(0.0, 1.0), method: KsMethod::Exact });
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = m * n / (m + n);
    let p_value = kstwo_sf(en.round_ties_even() as u64, statistic);
    Ok(KsTest { statistic, p_value: p_value.clamp(0.0, 1.0), method: KsMethod::Asymptotic })
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The exact two-sided p-value, with the statistic rounded to the lattice it lives on
/// (`h / lcm(n1, n2)`), as scipy returns it; `None` when the computation fails.
fn exact(n1: u64, n2: u64, d: f64) -> Option<(f64, f64)> {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let d = h as f64 / lcm as f64;
    if h == 0 {
        return Some((d, 1.0));
    }
    let p = if n1 == n2 { outside_square(n1, h) } else { outside_band(n1, n2, g, h) };
    (0.0..=1.0).contains(&p).then_some((d, p))
}

/// `P(D ≥ h/n)` for two samples of `n`: `2·Σ_k (−1)^(k−1) C(2n, n−kh) / C(2n, n)`, each term
/// divided by the central coefficient and summed in Horner's form (scipy's
/// `_compute_prob_outside_square`).
fn outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as f64, h as f64);
    let mut p = 0.0;
    let mut k = (n / h).floor();
    while k >= 0.0 {
        let mut p1 = 1.0;
        let mut j = 0.0;
        while j < h {
            p1 = (n - k * h - j) * p1 / (n + k * h + j + 1.0);
            j += 1.0;
        }
        p = p1 * (1.0 - p);
        k -= 1.0;
    }
    2.0 * p
}

/// `P(D ≥ h/lcm)` for samples of `m ≠ n`: one minus the share of lattice paths from (0,0)
/// to (m,n) that stay strictly inside `|x/m − y/n| < h/lcm`, computed directly as the
/// share that leaves (Viehmann 2021; scipy's `_compute_outer_prob_inside_method`), one
/// column and a sliding window of it at a time.
fn outside_band(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (m, n, g, h) = (m as i64, n as i64, g as i64, h as i64);
    let (mg, ng) = (m / g, n / g);
    let mut min_j: i64 = 0;
    let mut max_j: i64 = ((h as f64 / mg as f64).ceil() as i64).min(n + 1);
    let mut current_len = max_j - min_j;
    let len_a = (2 * max_j + 2).min(n + 1) as usize;
    let mut a = vec![1.0; len_a];
    for x in &mut a[min_j as usize..max_j as usize] {
        *x = 0.0;
    }
    for i in 1..=m {
        let (last_min_j, last_len) = (min_j, current_len);
        min_j = ((((ng * i - h) as f64 / mg as f64).floor() as i64) + 1).max(0).min(n);
        max_j = (((ng * i + h) as f64 / mg as f64).ceil() as i64).min(n + 1);
        if max_j <= min_j {
            return 1.0;
        }
        let mut value = if min_j == 0 { 0.0 } else { 1.0 };
        let fi = i as f64;
        for jj in 0..(max_j - min_j) {
            let j = (jj + min_j) as f64;
            value = (a[(jj + min_j - last_min_j) as usize] * fi + value * j) / (fi + j);
            a[jj as usize] = value;
        }
        current_len = max_j - min_j;
        if last_len > current_len {
            let from = (max_j - min_j) as usize;
            for x in &mut a[from..from + (last_len - current_len) as usize] {
                *x = 1.0;
            }
        }
    }
    a[(max_j - min_j - 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_show_no_difference() {
        let x = [1.0, 2.0, 2.0, 3.5, 7.0];
        let ks = ks_two_sample(&x, &x).unwrap();
        assert_eq!((ks.statistic, ks.p_value, ks.method), (0.0, 1.0, KsMethod::Exact));
    }

    #[test]
    fn samples_apart_differ_fully() {
        // every ordering of 3 + 2 values is equally likely: 2 of the C(5,2) = 10 are apart
        let ks = ks_two_sample(&[1.0, 2.0, 3.0], &[10.0, 11.0]).unwrap();
        assert_eq!(ks.statistic, 1.0);
        assert!((ks.p_value - 0.2).abs() < 1e-15, "{}", ks.p_value);
        let ks = ks_two_sample(&[1.0, 2.0], &[10.0, 11.0]).unwrap();
        assert!((ks.p_value - 2.0 / 6.0).abs() < 1e-15, "{}", ks.p_value);
    }

    #[test]
    fn large_samples_are_asymptotic() {
        let a: Vec<f64> = (0..10_001).map(|i| f64::from(i) / 10_001.0).collect();
        let b: Vec<f64> = (0..500).map(|i| f64::from(i) / 500.0 + 0.01).collect();
        assert_eq!(ks_two_sample(&a, &b).unwrap().method, KsMethod::Asymptotic);
        assert_eq!(ks_two_sample(&a[..10_000], &b).unwrap().method, KsMethod::Exact);
    }

    #[test]
    fn bad_inputs_are_named() {
        assert_eq!(ks_two_sample(&[], &[1.0]), Err(StatsError::Empty { sample: Sample::Reference }));
        let err = ks_two_sample(&[1.0], &[2.0, f64::NAN]).unwrap_err();
        assert!(matches!(err, StatsError::NotFinite { sample: Sample::Current, index: 1, .. }));
        assert!(err.to_string().contains("value 1 of the current sample is NaN"), "{err}");
    }
}
