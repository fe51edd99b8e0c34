//! rein-stats' experiment analysis against scipy and statsmodels, on the committed cases
//! that `reference/make_experiments.py` wrote (`reference/experiments.json`).
//!
//! Tolerances, relative (with an absolute floor for values near 0, given per check):
//!
//! | what | tolerance | against |
//! |---|---|---|
//! | two rates: difference, Wald interval (unpooled) | 1e-12 | statsmodels `confint_proportions_2indep(method='wald')` |
//! | two rates: pooled z | 1e-12 | `test_proportions_2indep(method='score', correction=False)` = `proportions_ztest` |
//! | two rates: p-value | 1e-12 | the same (statrs's erfc against scipy's `norm.sf`) |
//! | Welch: summaries (mean, variance) | 1e-12 | numpy `mean`, `var(ddof=1)` |
//! | Welch: t, degrees of freedom | 1e-12 | scipy `ttest_ind(equal_var=False)`, `ttest_ind_from_stats` |
//! | Welch: p-value | 1e-9 | the same (statrs's incomplete beta against scipy's) |
//! | Welch: interval | 1e-9 of its width | `confidence_interval()` (scipy's `t.ppf` is itself ~1e-11 off) |
//! | relative lift and its delta-method interval | 1e-12 (rates), 1e-9 of the width (means) | statsmodels `NonlinearDeltaCov` |
//! | CUPED θ, adjusted means | 1e-10 | statsmodels `OLS(y ~ C(arm) + x)` (a least-squares solve, not sums) |
//! | CUPED adjusted variances | 1e-10 | numpy on the adjusted values |
//! | CUPED Welch on adjusted arms: t, df, p, interval | 1e-9 (interval: of its width) | scipy `ttest_ind` on the adjusted values |
//! | SRM: expected counts, statistic | 1e-12 | scipy `chisquare(f_obs, f_exp)` |
//! | SRM: p-value | 1e-9 | the same (statrs's incomplete gamma against scipy's) |
//! | mSPRT: ln Λ, p-value | 1e-12 | the closed form transcribed in Python |
//! | mSPRT: ln Λ | 1e-9 | the likelihood ratio integrated over the mixing distribution (scipy `quad`) |
//! | mSPRT: confidence-sequence ends | 1e-12 of the width | brentq where Λ reaches 1/α |
//! | mSPRT over windows: ln Λ, running p-value and intersection | 1e-10 | the transcription, window by window, on prefixes of LCG samples |
//! | mixing variance for a horizon | 1e-14 | brentq on the optimum's condition (checked in Python against minimize_scalar) |
//!
//! Everything here meets the 1e-6 the experiment analysis is held to by three orders of
//! magnitude at least.

mod common;

use common::{SampleSpec, check};
use rein_stats::*;
use serde::Deserialize;
use serde_json::Value;

const CASES: &str = include_str!("reference/experiments.json");

fn cases() -> Value {
    serde_json::from_str(CASES).expect("experiments.json parses")
}

fn list<T: for<'de> Deserialize<'de>>(section: &str) -> Vec<T> {
    serde_json::from_value(cases()[section].clone()).unwrap_or_else(|e| panic!("section {section}: {e}"))
}

/// An interval's ends, to `rel` of its width (an end near 0 is a difference of two numbers).
#[track_caller]
fn check_interval(what: &str, case: &str, got: &Interval, lower: f64, upper: f64, rel: f64) {
    let scale = (upper - lower).abs().max(1e-300);
    check(&format!("{what} lower"), case, got.lower, lower, rel, rel * scale);
    check(&format!("{what} upper"), case, got.upper, upper, rel, rel * scale);
}

#[test]
fn the_cases_cover_what_experiments_meet() {
    let all = cases();
    let made_by = all["made_by"].as_str().unwrap();
    assert!(made_by.starts_with("scipy") && made_by.contains("statsmodels"));
    let proportions: Vec<ProportionCase> = list("proportions");
    let p: Vec<f64> = proportions.iter().map(|c| c.p_value).collect();
    assert!(p.contains(&1.0) && p.iter().any(|&p| p < 1e-100), "{p:?}");
    let srm: Vec<SrmCase> = list("srm");
    let alarms = srm.iter().filter(|c| c.p_value < SRM_ALPHA).count();
    assert!(alarms >= 2 && alarms < srm.len(), "both verdicts: {alarms} of {}", srm.len());
    let sequences: Vec<SequenceCase> = list("msprt_sequences");
    let windows = sequences.iter().flat_map(|s| &s.windows);
    assert!(windows.clone().any(|w| !w.counted) && windows.clone().any(|w| w.p_value < 0.01));
}

// --- comparing a variant with control ---------------------------------------------------------

#[derive(Deserialize)]
struct ProportionCase {
    control: [u64; 2],
    variant: [u64; 2],
    confidence: f64,
    difference: f64,
    lower: f64,
    upper: f64,
    statistic: f64,
    p_value: f64,
    lift: Option<[f64; 3]>,
}

#[test]
fn two_rates_agree_with_statsmodels() {
    for case in list::<ProportionCase>("proportions") {
        let name = format!("{:?} against {:?} at {}", case.variant, case.control, case.confidence);
        let control = Proportion::new(case.control[0], case.control[1]);
        let variant = Proportion::new(case.variant[0], case.variant[1]);
        let c = compare_proportions(control, variant, case.confidence).unwrap();
        assert_eq!(c.test, ComparisonTest::TwoProportionZ);
        check("difference", &name, c.difference.estimate, case.difference, 1e-12, 1e-16);
        check_interval("Wald interval", &name, &c.difference, case.lower, case.upper, 1e-12);
        check("pooled z", &name, c.statistic, case.statistic, 1e-12, 1e-15);
        check("p-value", &name, c.p_value, case.p_value, 1e-12, 1e-300);
        match case.lift {
            Some([lift, lower, upper]) => {
                let got = c.relative_lift().unwrap();
                check("lift", &name, got.estimate, lift, 1e-12, 1e-15);
                check_interval("lift", &name, &got, lower, upper, 1e-12);
            }
            None => assert!(c.relative_lift().is_err(), "{name}: a control rate of 0 has no lift"),
        }
    }
}

#[derive(Deserialize)]
struct MeanCase {
    name: String,
    control: SampleSpec,
    variant: SampleSpec,
    confidence: f64,
    summaries: [[f64; 3]; 2],
    statistic: f64,
    p_value: f64,
    df: f64,
    lower: f64,
    upper: f64,
    lift: [f64; 3],
}

#[track_caller]
fn check_summary(case: &str, got: &Summary, want: &[f64; 3]) {
    assert_eq!(got.n as f64, want[0], "n of `{case}`");
    check("mean", case, got.mean, want[1], 1e-12, 1e-15);
    check("variance", case, got.variance, want[2], 1e-12, 1e-300);
}

#[test]
fn welch_agrees_with_scipy() {
    for case in list::<MeanCase>("means") {
        let name = format!("{} at {}", case.name, case.confidence);
        let control = Summary::from_values(&case.control.values()).unwrap();
        let variant = Summary::from_values(&case.variant.values()).unwrap();
        check_summary(&name, &control, &case.summaries[0]);
        check_summary(&name, &variant, &case.summaries[1]);
        let c = compare_means(&control, &variant, case.confidence).unwrap();
        let ComparisonTest::Welch { degrees_of_freedom } = c.test else { panic!("{name}: {:?}", c.test) };
        check("t", &name, c.statistic, case.statistic, 1e-12, 1e-15);
        check("degrees of freedom", &name, degrees_of_freedom, case.df, 1e-12, 0.0);
        check("p-value", &name, c.p_value, case.p_value, 1e-9, 1e-300);
        check_interval("Welch interval", &name, &c.difference, case.lower, case.upper, 1e-9);
        let lift = c.relative_lift().unwrap();
        check("lift", &name, lift.estimate, case.lift[0], 1e-12, 1e-15);
        check_interval("lift", &name, &lift, case.lift[1], case.lift[2], 1e-9);
    }
}

#[derive(Deserialize)]
struct MeanSummaryCase {
    control: [f64; 3],
    variant: [f64; 3],
    confidence: f64,
    statistic: f64,
    p_value: f64,
    df: f64,
    lower: f64,
    upper: f64,
}

#[test]
fn welch_from_summaries_agrees_with_scipy() {
    let summary = |s: [f64; 3]| Summary { n: s[0] as u64, mean: s[1], variance: s[2] };
    for case in list::<MeanSummaryCase>("mean_summaries") {
        let name = format!("{:?} against {:?}", case.variant, case.control);
        let c = compare_means(&summary(case.control), &summary(case.variant), case.confidence).unwrap();
        let ComparisonTest::Welch { degrees_of_freedom } = c.test else { panic!() };
        check("t", &name, c.statistic, case.statistic, 1e-12, 1e-15);
        check("degrees of freedom", &name, degrees_of_freedom, case.df, 1e-12, 0.0);
        check("p-value", &name, c.p_value, case.p_value, 1e-9, 1e-300);
        check_interval("Welch interval", &name, &c.difference, case.lower, case.upper, 1e-9);
    }
}

// --- CUPED ------------------------------------------------------------------------------------

/// A metric correlated with its covariate: `slope * x + e + shift`.
#[derive(Deserialize)]
struct CorrelatedSpec {
    covariate: SampleSpec,
    noise: SampleSpec,
    slope: f64,
    shift: f64,
}

impl CorrelatedSpec {
    fn values(&self) -> (Vec<f64>, Vec<f64>) {
        let x = self.covariate.values();
        let y = x.iter().zip(self.noise.values()).map(|(x, e)| self.slope * x + e + self.shift).collect();
        (y, x)
    }
}

#[derive(Deserialize)]
struct CupedCase {
    name: String,
    arms: Vec<CorrelatedSpec>,
    theta: f64,
    covariate_mean: f64,
    adjusted: Vec<[f64; 3]>,
    comparisons: Vec<CupedComparison>,
}

#[derive(Deserialize)]
struct CupedComparison {
    difference: f64,
    statistic: f64,
    p_value: f64,
    df: f64,
    lower: f64,
    upper: f64,
    unadjusted_width: f64,
}

#[test]
fn cuped_agrees_with_statsmodels_ancova_and_scipy() {
    for case in list::<CupedCase>("cuped") {
        let name = &case.name;
        let arms: Vec<CovariateSummary> = case
            .arms
            .iter()
            .map(|spec| {
                let (y, x) = spec.values();
                CovariateSummary::from_values(&y, &x).unwrap()
            })
            .collect();
        let fit = cuped(&arms).unwrap();
        check("theta", name, fit.theta, case.theta, 1e-10, 1e-15);
        check("covariate mean", name, fit.covariate_mean, case.covariate_mean, 1e-12, 1e-15);
        for (got, want) in fit.adjusted.iter().zip(&case.adjusted) {
            assert_eq!(got.n as f64, want[0]);
            check("adjusted mean", name, got.mean, want[1], 1e-10, 1e-15);
            check("adjusted variance", name, got.variance, want[2], 1e-10, 1e-300);
        }
        for (i, want) in case.comparisons.iter().enumerate() {
            let arm = format!("{name}, arm {} against 0", i + 1);
            let c = compare_means(&fit.adjusted[0], &fit.adjusted[i + 1], 0.95).unwrap();
            let ComparisonTest::Welch { degrees_of_freedom } = c.test else { panic!() };
            // the adjusted difference is the ANCOVA coefficient of the arm
            check("adjusted difference", &arm, c.difference.estimate, want.difference, 1e-10, 1e-12);
            check("t", &arm, c.statistic, want.statistic, 1e-9, 1e-12);
            check("degrees of freedom", &arm, degrees_of_freedom, want.df, 1e-9, 0.0);
            check("p-value", &arm, c.p_value, want.p_value, 1e-9, 1e-300);
            check_interval("adjusted Welch interval", &arm, &c.difference, want.lower, want.upper, 1e-9);
            assert!(c.difference.width() < want.unadjusted_width, "{arm}: CUPED did not narrow the interval");
        }
    }
}

// --- sample-ratio mismatch --------------------------------------------------------------------

#[derive(Deserialize)]
struct SrmCase {
    observed: Vec<u64>,
    weights: Vec<f64>,
    expected: Vec<f64>,
    statistic: f64,
    dof: usize,
    p_value: f64,
}

#[test]
fn the_sample_ratio_check_agrees_with_scipys_chisquare() {
    for case in list::<SrmCase>("srm") {
        let name = format!("{:?} against {:?}", case.observed, case.weights);
        let srm = sample_ratio_mismatch(&case.observed, &case.weights).unwrap();
        for (got, want) in srm.expected.iter().zip(&case.expected) {
            check("expected count", &name, *got, *want, 1e-12, 0.0);
        }
        check("chi-squared statistic", &name, srm.statistic, case.statistic, 1e-12, 1e-15);
        assert_eq!(srm.degrees_of_freedom, case.dof, "degrees of freedom of {name}");
        check("p-value", &name, srm.p_value, case.p_value, 1e-9, 1e-300);
        let verdict = if case.p_value < 0.001 { SampleRatio::Mismatch } else { SampleRatio::Consistent };
        assert_eq!(srm.verdict, verdict, "{name}");
    }
}

// --- the mSPRT --------------------------------------------------------------------------------

#[derive(Deserialize)]
struct MsprtPoint {
    estimate: f64,
    variance: f64,
    mixing_variance: f64,
    alpha: f64,
    log_likelihood_ratio: f64,
    log_likelihood_ratio_quad: f64,
    p_value: f64,
    lower: f64,
    upper: f64,
}

#[test]
fn the_msprt_closed_form_agrees_with_its_transcription_and_its_integral() {
    for case in list::<MsprtPoint>("msprt_points") {
        let name = format!("d = {}, V = {}, tau2 = {}", case.estimate, case.variance, case.mixing_variance);
        let test = Msprt::new(case.alpha, case.mixing_variance).unwrap();
        let llr = test.log_likelihood_ratio(case.estimate, case.variance);
        check("ln Λ", &name, llr, case.log_likelihood_ratio, 1e-12, 1e-15);
        check("ln Λ by quadrature", &name, llr, case.log_likelihood_ratio_quad, 1e-9, 1e-12);
        check("p-value", &name, (-llr).exp().min(1.0), case.p_value, 1e-12, 1e-300);
        let half = test.half_width(case.variance);
        let sequence = Interval {
            estimate: case.estimate,
            lower: case.estimate - half,
            upper: case.estimate + half,
            confidence: 1.0 - case.alpha,
        };
        check_interval("confidence sequence", &name, &sequence, case.lower, case.upper, 1e-12);
    }
}

#[derive(Deserialize)]
struct SequenceCase {
    name: String,
    kind: String,
    control: Option<SampleSpec>,
    variant: Option<SampleSpec>,
    mixing_variance: f64,
    alpha: f64,
    min_samples: u64,
    windows: Vec<Window>,
}

#[derive(Deserialize)]
struct Window {
    n: Option<usize>,
    control: Option<[u64; 2]>,
    variant: Option<[u64; 2]>,
    counted: bool,
    log_likelihood_ratio: Option<f64>,
    p_value: f64,
    lower: Option<f64>,
    upper: Option<f64>,
}

#[test]
fn the_msprt_over_windows_agrees_with_its_transcription() {
    for case in list::<SequenceCase>("msprt_sequences") {
        let test = Msprt { min_samples: case.min_samples, ..Msprt::new(case.alpha, case.mixing_variance).unwrap() };
        let samples = case.control.as_ref().map(|c| (c.values(), case.variant.as_ref().unwrap().values()));
        let mut state = test.start();
        for (i, window) in case.windows.iter().enumerate() {
            let name = format!("{}, window {i}", case.name);
            let comparison = match case.kind.as_str() {
                "means" => {
                    let (c, v) = samples.as_ref().unwrap();
                    let n = window.n.unwrap();
                    let arm = |values: &[f64]| Summary::from_values(&values[..n]).unwrap();
                    compare_means(&arm(c), &arm(v), 0.95).unwrap()
                }
                "rates" => {
                    let [xc, nc] = window.control.unwrap();
                    let [xv, nv] = window.variant.unwrap();
                    compare_proportions(Proportion::new(xc, nc), Proportion::new(xv, nv), 0.95).unwrap()
                }
                other => panic!("unknown kind {other}"),
            };
            let result = test.update(&state, &comparison).unwrap();
            assert_eq!(result.counted, window.counted, "{name}");
            match (result.log_likelihood_ratio, window.log_likelihood_ratio) {
                (Some(got), Some(want)) => check("ln Λ", &name, got, want, 1e-10, 1e-12),
                (got, want) => assert_eq!(got, want, "{name}"),
            }
            check("always-valid p-value", &name, result.p_value, window.p_value, 1e-10, 1e-300);
            let sequence = result.confidence_sequence;
            let (lower, upper) = (window.lower.unwrap_or(f64::NEG_INFINITY), window.upper.unwrap_or(f64::INFINITY));
            if lower.is_finite() {
                let scale = (upper - lower).abs().max(1e-3 * upper.abs());
                check("sequence lower", &name, sequence.lower, lower, 1e-10, 1e-10 * scale);
                check("sequence upper", &name, sequence.upper, upper, 1e-10, 1e-10 * scale);
            } else {
                assert_eq!((sequence.lower, sequence.upper), (lower, upper), "{name}");
            }
            assert_eq!(result.significant(), window.p_value <= case.alpha, "{name}");
            state = result.state;
        }
    }
}

#[derive(Deserialize)]
struct MixingCase {
    alpha: f64,
    variance_at_horizon: f64,
    ratio: f64,
    mixing_variance: f64,
}

#[test]
fn the_mixing_variance_for_a_horizon_is_the_narrowest() {
    for case in list::<MixingCase>("mixing") {
        let name = format!("alpha {} at V {}", case.alpha, case.variance_at_horizon);
        check("ratio", &name, Msprt::mixing_ratio(case.alpha), case.ratio, 1e-14, 0.0);
        let test = Msprt::for_horizon(case.alpha, case.variance_at_horizon).unwrap();
        check("mixing variance", &name, test.mixing_variance, case.mixing_variance, 1e-14, 0.0);
    }
}
