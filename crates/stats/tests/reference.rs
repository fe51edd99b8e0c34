//! rein-stats against scipy, statsmodels and scikit-learn, on the committed cases that
//! `reference/make_reference.py` wrote (`reference/cases.json`).
//!
//! Tolerances, relative (with an absolute floor for values near 0, given per check):
//!
//! | measure | tolerance | why |
//! |---|---|---|
//! | KS statistic, Wasserstein, normalized Wasserstein, PSI, JS, chi-squared statistic, ROC AUC, Spearman ρ, quantiles, bin edges | 1e-12 | the same arithmetic on the same values, summed in another order |
//! | KS p-value, exact and asymptotic (`kstwo.sf`) | 1e-9 | scipy's algorithms, ported branch for branch |
//! | chi-squared p-value | 1e-9 | statrs's incomplete gamma against scipy's |
//! | Spearman p-value | 1e-9 | statrs's incomplete beta against scipy's |
//! | Wilson interval | 1e-12 | closed form; the normal quantile is scipy's to the last bit |
//! | Clopper–Pearson interval | 1e-9 | statrs's inverse incomplete beta against Boost's |
//! | t interval | 1e-9 | Newton's method on statrs's incomplete beta (scipy's own t quantile is 1e-11 off) |
//! | Fisher-z interval of Spearman's ρ | 1e-12 | closed form on ρ |
//! | bootstrap intervals | 1e-12 | the same resamples (rein's generator, ported to Python), the same percentiles |
//!
//! All of these references are exact computations (no Monte Carlo, no approximation that
//! rein computes differently), so every tolerance is 1e-9 or tighter.

mod common;

use common::{SampleSpec, check};
use rein_stats::*;
use serde::Deserialize;
use serde_json::Value;

const CASES: &str = include_str!("reference/cases.json");

fn cases() -> Value {
    serde_json::from_str(CASES).expect("cases.json parses")
}

fn list<T: for<'de> Deserialize<'de>>(section: &str) -> Vec<T> {
    serde_json::from_value(cases()[section].clone()).unwrap_or_else(|e| panic!("section {section}: {e}"))
}

#[test]
fn the_cases_cover_what_monitoring_meets() {
    let all = cases();
    let made_by = all["made_by"].as_str().unwrap();
    assert!(made_by.starts_with("scipy") && made_by.contains("statsmodels") && made_by.contains("scikit-learn"));
    let numeric: Vec<Numeric> = list("numeric");
    let p: Vec<f64> = numeric.iter().map(|c| c.ks_p_value).collect();
    // both sides of each verdict: a test that always said "drift" or never would fail here
    assert!(p.iter().any(|&p| p > 0.9) && p.iter().any(|&p| p < 1e-50), "{p:?}");
    for method in ["exact", "asymptotic"] {
        let ps: Vec<f64> = numeric.iter().filter(|c| c.ks_method == method).map(|c| c.ks_p_value).collect();
        assert!(ps.iter().any(|&p| p > 0.9) && ps.iter().any(|&p| p < 1e-3), "{method}: {ps:?}");
    }
    let categorical: Vec<Categorical> = list("categorical");
    assert!(
        categorical.iter().any(|c| c.chi_square_dof == 0) && categorical.iter().any(|c| c.chi_square_p_value > 0.99)
    );
    let proportions: Vec<Proportion> = list("proportions");
    assert!(proportions.iter().any(|c| c.successes == 0) && proportions.iter().any(|c| c.successes == c.trials));
    assert!(proportions.iter().any(|c| c.trials == 1));
}

#[derive(Deserialize)]
struct Numeric {
    name: String,
    reference: SampleSpec,
    current: SampleSpec,
    ks_statistic: f64,
    ks_p_value: f64,
    ks_method: String,
    wasserstein: f64,
    wasserstein_normalized: f64,
}

#[test]
fn kolmogorov_smirnov_agrees_with_scipys_auto_method() {
    for case in list::<Numeric>("numeric") {
        let (reference, current) = (case.reference.values(), case.current.values());
        let ks = ks_two_sample(&reference, &current).unwrap();
        let method = match ks.method {
            KsMethod::Exact => "exact",
            KsMethod::Asymptotic => "asymptotic",
        };
        assert_eq!(method, case.ks_method, "method of `{}`", case.name);
        check("KS statistic", &case.name, ks.statistic, case.ks_statistic, 1e-12, 1e-15);
        check("KS p-value", &case.name, ks.p_value, case.ks_p_value, 1e-9, 1e-300);
    }
}

#[test]
fn wasserstein_agrees_with_scipy_and_evidently() {
    for case in list::<Numeric>("numeric") {
        let (reference, current) = (case.reference.values(), case.current.values());
        let w = wasserstein_distance(&reference, &current).unwrap();
        check("Wasserstein distance", &case.name, w, case.wasserstein, 1e-12, 1e-15);
        let normalized = normalized_wasserstein_distance(&reference, &current).unwrap();
        check("normalized Wasserstein distance", &case.name, normalized, case.wasserstein_normalized, 1e-12, 1e-15);
    }
}

#[derive(Deserialize)]
struct KsTwo {
    n: u64,
    d: f64,
    sf: f64,
}

#[test]
fn the_one_sample_ks_distribution_agrees_with_scipy_in_every_branch() {
    for case in list::<KsTwo>("kstwo") {
        let name = format!("n={}, d={}", case.n, case.d);
        check("kstwo.sf", &name, kstwo_sf(case.n, case.d), case.sf, 1e-9, 1e-300);
    }
}

#[derive(Deserialize)]
struct Categorical {
    name: String,
    reference: Vec<f64>,
    current: Vec<f64>,
    chi_square_statistic: f64,
    chi_square_dof: usize,
    chi_square_p_value: f64,
    jensen_shannon: f64,
    psi: f64,
}

#[test]
fn chi_square_agrees_with_scipy() {
    for case in list::<Categorical>("categorical") {
        let chi = chi_square_homogeneity(&case.reference, &case.current).unwrap();
        check("chi-squared statistic", &case.name, chi.statistic, case.chi_square_statistic, 1e-12, 1e-12);
        assert_eq!(chi.degrees_of_freedom, case.chi_square_dof, "degrees of freedom of `{}`", case.name);
        check("chi-squared p-value", &case.name, chi.p_value, case.chi_square_p_value, 1e-9, 1e-300);
    }
}

#[test]
fn jensen_shannon_and_psi_agree_with_scipy_and_evidently() {
    for case in list::<Categorical>("categorical") {
        let js = jensen_shannon_distance(&case.reference, &case.current).unwrap();
        // near 0 the distance is the square root of rounding noise: 1e-7 absolute
        check("Jensen-Shannon distance", &case.name, js, case.jensen_shannon, 1e-12, 1e-7);
        let psi = population_stability_index(&case.reference, &case.current, PSI_EMPTY_BIN).unwrap();
        check("PSI", &case.name, psi, case.psi, 1e-12, 1e-15);
    }
}

#[derive(Deserialize)]
struct BinnedPsi {
    name: String,
    reference: SampleSpec,
    current: SampleSpec,
    bins: usize,
    edges: Vec<f64>,
    reference_counts: Vec<f64>,
    current_counts: Vec<f64>,
    psi: f64,
}

#[test]
fn psi_over_reference_quantile_bins_agrees_with_numpy() {
    for case in list::<BinnedPsi>("binned_psi") {
        let (reference, current) = (case.reference.values(), case.current.values());
        let bins = Bins::from_reference_quantiles(&reference, case.bins).unwrap();
        assert_eq!(bins.edges().len(), case.edges.len(), "edges of `{}`", case.name);
        for (got, want) in bins.edges().iter().zip(&case.edges) {
            check("bin edge", &case.name, *got, *want, 1e-12, 1e-15);
        }
        let reference_counts = bins.count(&reference, Sample::Reference).unwrap();
        let current_counts = bins.count(&current, Sample::Current).unwrap();
        assert_eq!(reference_counts, case.reference_counts, "reference counts of `{}`", case.name);
        assert_eq!(current_counts, case.current_counts, "current counts of `{}`", case.name);
        let psi = population_stability_index(&reference_counts, &current_counts, PSI_EMPTY_BIN).unwrap();
        check("PSI", &case.name, psi, case.psi, 1e-12, 1e-15);
    }
}

#[derive(Deserialize)]
struct Proportion {
    successes: u64,
    trials: u64,
    confidence: f64,
    wilson: [f64; 2],
    clopper_pearson: [f64; 2],
}

#[test]
fn proportion_intervals_agree_with_statsmodels() {
    for case in list::<Proportion>("proportions") {
        let name = format!("{} of {} at {}", case.successes, case.trials, case.confidence);
        let wilson = wilson_interval(case.successes, case.trials, case.confidence).unwrap();
        // statsmodels leaves ~1e-17 where the end is exactly 0 or 1
        check("Wilson lower", &name, wilson.lower, case.wilson[0], 1e-12, 1e-16);
        check("Wilson upper", &name, wilson.upper, case.wilson[1], 1e-12, 1e-16);
        let cp = clopper_pearson_interval(case.successes, case.trials, case.confidence).unwrap();
        check("Clopper-Pearson lower", &name, cp.lower, case.clopper_pearson[0], 1e-9, 1e-300);
        check("Clopper-Pearson upper", &name, cp.upper, case.clopper_pearson[1], 1e-9, 1e-300);
    }
}

#[derive(Deserialize)]
struct TCase {
    name: String,
    values: SampleSpec,
    confidence: f64,
    mean: f64,
    lower: f64,
    upper: f64,
}

#[derive(Deserialize)]
struct TSummary {
    mean: f64,
    std_dev: f64,
    n: u64,
    confidence: f64,
    lower: f64,
    upper: f64,
}

#[test]
fn t_intervals_agree_with_scipy() {
    for case in list::<TCase>("t_intervals") {
        let name = format!("{} at {}", case.name, case.confidence);
        let interval = t_interval(&case.values.values(), case.confidence).unwrap();
        check("mean", &name, interval.estimate, case.mean, 1e-12, 1e-15);
        // relative to the half-width too: an end near 0 is a difference of two numbers
        let scale = (case.upper - case.lower).abs();
        check("t lower", &name, interval.lower, case.lower, 1e-9, 1e-9 * scale);
        check("t upper", &name, interval.upper, case.upper, 1e-9, 1e-9 * scale);
    }
    for case in list::<TSummary>("t_summaries") {
        let name = format!("mean {} sd {} n {} at {}", case.mean, case.std_dev, case.n, case.confidence);
        let interval = t_interval_from_summary(case.mean, case.std_dev, case.n, case.confidence).unwrap();
        let scale = (case.upper - case.lower).abs();
        check("t lower", &name, interval.lower, case.lower, 1e-9, 1e-9 * scale);
        check("t upper", &name, interval.upper, case.upper, 1e-9, 1e-9 * scale);
    }
}

#[derive(Deserialize)]
struct Auc {
    name: String,
    labels: Vec<bool>,
    scores: Vec<f64>,
    auc: f64,
}

#[test]
fn roc_auc_agrees_with_scikit_learn() {
    for case in list::<Auc>("auc") {
        check("ROC AUC", &case.name, roc_auc(&case.labels, &case.scores).unwrap(), case.auc, 1e-12, 1e-15);
    }
}

#[derive(Deserialize)]
struct SpearmanCase {
    name: String,
    x: Vec<f64>,
    y: Vec<f64>,
    rho: f64,
    p_value: f64,
    #[serde(default)]
    fisher: std::collections::BTreeMap<String, [f64; 2]>,
}

#[test]
fn spearman_agrees_with_scipy() {
    for case in list::<SpearmanCase>("spearman") {
        let s = spearman(&case.x, &case.y).unwrap();
        check("Spearman rho", &case.name, s.rho, case.rho, 1e-12, 1e-15);
        check("Spearman p-value", &case.name, s.p_value, case.p_value, 1e-9, 1e-300);
        for (confidence, [lower, upper]) in &case.fisher {
            let interval = s.fisher_interval(confidence.parse().unwrap()).unwrap();
            check("Fisher lower", &case.name, interval.lower, *lower, 1e-12, 1e-15);
            check("Fisher upper", &case.name, interval.upper, *upper, 1e-12, 1e-15);
        }
    }
}

#[derive(Deserialize)]
struct BootstrapQuantile {
    name: String,
    values: SampleSpec,
    q: f64,
    resamples: usize,
    confidence: f64,
    seed: u64,
    estimate: f64,
    lower: f64,
    upper: f64,
}

#[derive(Deserialize)]
struct BootstrapAuc {
    name: String,
    labels: Vec<bool>,
    scores: Vec<f64>,
    resamples: usize,
    confidence: f64,
    seed: u64,
    estimate: f64,
    lower: f64,
    upper: f64,
}

#[test]
fn bootstrap_intervals_equal_pythons_with_the_same_draws() {
    for case in list::<BootstrapQuantile>("bootstrap_quantile") {
        let bootstrap = Bootstrap { resamples: case.resamples, confidence: case.confidence, seed: case.seed };
        let interval = bootstrap.quantile_interval(&case.values.values(), case.q).unwrap();
        check("quantile", &case.name, interval.estimate, case.estimate, 1e-12, 1e-15);
        check("bootstrap lower", &case.name, interval.lower, case.lower, 1e-12, 1e-15);
        check("bootstrap upper", &case.name, interval.upper, case.upper, 1e-12, 1e-15);
    }
    for case in list::<BootstrapAuc>("bootstrap_auc") {
        let bootstrap = Bootstrap { resamples: case.resamples, confidence: case.confidence, seed: case.seed };
        let interval = bootstrap.roc_auc_interval(&case.labels, &case.scores).unwrap();
        check("ROC AUC", &case.name, interval.estimate, case.estimate, 1e-12, 1e-15);
        check("bootstrap lower", &case.name, interval.lower, case.lower, 1e-12, 1e-15);
        check("bootstrap upper", &case.name, interval.upper, case.upper, 1e-12, 1e-15);
    }
}
