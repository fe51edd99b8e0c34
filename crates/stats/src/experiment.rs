//! What to do with an experiment's variant at this window: ship it, keep running, or stop.
//!
//! Pure: the caller hands over the window's results (the primary metric's and each
//! guardrail's [`SequentialResult`], and the [`SampleRatioCheck`]) and gets a
//! [`Decision`] with the findings that decided it. Every figure a reason gives is an
//! always-valid one, since the decision is taken at every window; the fixed-horizon
//! figures are shown beside them.

use crate::interval::Interval;
use crate::sequential::SequentialResult;
use crate::srm::{SampleRatio, SampleRatioCheck};

/// Which way a metric should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// More is better: conversion, revenue, accuracy.
    Higher,
    /// Less is better: latency, errors, complaints.
    Lower,
}

impl Better {
    /// +1 or −1: the sign that turns a difference into a gain.
    fn sign(self) -> f64 {
        match self {
            Better::Higher => 1.0,
            Better::Lower => -1.0,
        }
    }
}

/// The metric the experiment is run to move.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrimaryMetric<'a> {
    pub name: &'a str,
    pub better: Better,
    pub result: &'a SequentialResult,
}

/// A metric that must not get worse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guardrail<'a> {
    pub name: &'a str,
    pub better: Better,
    pub result: &'a SequentialResult,
    /// The loss tolerated, in the metric's units (its magnitude: the side is `better`'s), or
    /// `None`.
    ///
    /// - `None`: harm is a confidence sequence lying wholly on the worse side of 0; the
    ///   guardrail holds unless harm is shown.
    /// - `Some(m)`: a non-inferiority margin. Harm is a sequence wholly worse than `m`; the
    ///   guardrail holds only once the sequence rules out a loss of `m` or more; in between
    ///   the experiment keeps running.
    pub margin: Option<f64>,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The primary metric improved, and every guardrail holds.
    Ship,
    /// Not yet known: too little data, no significant change yet, or a guardrail not yet
    /// settled.
    KeepRunning,
    /// Stop the variant, for the reason given.
    Stop(StopReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The primary metric, or a guardrail, got worse.
    Harm,
    /// The arms' counts do not fit the configured weights: assignment or logging is broken,
    /// and no metric's result can be trusted.
    SampleRatioMismatch,
}

/// A metric's figures at this window, as its [`SequentialResult`] gives them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// variant − control, in the metric's units.
    pub difference: f64,
    /// The always-valid confidence sequence of the difference.
    pub sequence: Interval,
    /// The always-valid p-value.
    pub p_value: f64,
    /// The fixed-horizon interval and p-value of the same data (valid at one planned look).
    pub fixed: Interval,
    pub fixed_p_value: f64,
}

impl Figures {
    fn of(result: &SequentialResult) -> Figures {
        Figures {
            difference: result.confidence_sequence.estimate,
            sequence: result.confidence_sequence,
            p_value: result.p_value,
            fixed: result.fixed.difference,
            fixed_p_value: result.fixed.p_value,
        }
    }
}

/// What one metric (or the sample ratio) showed.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// The sequence lies wholly on the better side of 0.
    Improved(Figures),
    /// The sequence lies wholly on the worse side of 0 (of the margin, for a guardrail
    /// with one, given here).
    Harmed { figures: Figures, margin: f64 },
    /// The primary metric's sequence still holds 0.
    NotSignificant(Figures),
    /// No window has counted yet: an arm is below the test's minimum, or the difference
    /// has no variance yet.
    TooLittleData { control: u64, variant: u64, needed: u64 },
    /// A guardrail holds: no harm shown, or (with a margin) a loss of the margin ruled out.
    Holds { figures: Figures, margin: Option<f64> },
    /// A guardrail with a margin whose sequence still reaches a loss of the margin.
    HarmNotRuledOut { figures: Figures, margin: f64 },
    /// The sample-ratio check failed.
    SampleRatioMismatch { p_value: f64, observed: Vec<u64>, expected: Vec<f64> },
}

/// A finding about a named metric ("sample ratio" for the sample-ratio check).
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub metric: String,
    pub finding: Finding,
}

/// A decision and the findings that made it: for `Ship`, the primary's improvement and every
/// guardrail's hold; for `Stop`, every harm (and the sample-ratio mismatch); for
/// `KeepRunning`, whatever is not yet settled.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentDecision {
    pub decision: Decision,
    pub reasons: Vec<Reason>,
}

/// The gain's sequence: the difference turned so that above 0 is better.
fn gain_bounds(sequence: &Interval, better: Better) -> (f64, f64) {
    let (a, b) = (sequence.lower * better.sign(), sequence.upper * better.sign());
    (a.min(b), a.max(b))
}

fn too_little(result: &SequentialResult) -> Finding {
    Finding::TooLittleData {
        control: result.fixed.control.n,
        variant: result.fixed.variant.n,
        needed: result.min_samples,
    }
}

/// The primary metric's finding: too little data, improved, harmed, or not significant.
fn primary_finding(metric: &PrimaryMetric) -> Finding {
    let result = metric.result;
    if result.too_little_data() {
        return too_little(result);
    }
    let figures = Figures::of(result);
    let (low, high) = gain_bounds(&result.confidence_sequence, metric.better);
    if low > 0.0 {
        Finding::Improved(figures)
    } else if high < 0.0 {
        Finding::Harmed { figures, margin: 0.0 }
    } else {
        Finding::NotSignificant(figures)
    }
}

/// A guardrail's finding: the harmful side of its sequence against its margin (0 without
/// one). A two-sided sequence at 1 − α read on one side is a one-sided check at α/2.
fn guardrail_finding(guardrail: &Guardrail) -> Finding {
    let result = guardrail.result;
    if result.too_little_data() {
        return too_little(result);
    }
    let figures = Figures::of(result);
    let margin = guardrail.margin.unwrap_or(0.0).abs();
    let (low, high) = gain_bounds(&result.confidence_sequence, guardrail.better);
    if high < -margin {
        Finding::Harmed { figures, margin }
    } else if guardrail.margin.is_none() || low > -margin {
        Finding::Holds { figures, margin: guardrail.margin }
    } else {
        Finding::HarmNotRuledOut { figures, margin }
    }
}

/// Ship, keep running, or stop a variant, from its primary metric's sequential result, its
/// guardrails' and the sample-ratio check (`None` where none was made), in this order:
///
/// 1. a sample-ratio mismatch stops it: nothing else can be trusted;
/// 2. harm stops it: the primary metric's sequence wholly on its worse side, or a
///    guardrail's beyond its margin;
/// 3. the primary metric improved (its sequence wholly on the better side) and every
///    guardrail holds: ship;
/// 4. anything else keeps it running, with what is unsettled: too little data (never a
///    pass), a primary change not yet significant, a guardrail with too little data or
///    whose margin is not yet ruled out.
///
/// There is no futility stop: an experiment that never settles runs until its owner ends
/// it.
pub fn decide(
    primary: &PrimaryMetric,
    guardrails: &[Guardrail],
    sample_ratio: Option<&SampleRatioCheck>,
) -> ExperimentDecision {
    let reason = |metric: &str, finding: Finding| Reason { metric: metric.to_string(), finding };
    let primary_reason = reason(primary.name, primary_finding(primary));
    let guardrail_reasons: Vec<Reason> = guardrails.iter().map(|g| reason(g.name, guardrail_finding(g))).collect();
    let harms: Vec<Reason> = std::iter::once(&primary_reason)
        .chain(&guardrail_reasons)
        .filter(|r| matches!(r.finding, Finding::Harmed { .. }))
        .cloned()
        .collect();

    if let Some(check) = sample_ratio.filter(|c| c.verdict == SampleRatio::Mismatch) {
        let mismatch = reason(
            "sample ratio",
            Finding::SampleRatioMismatch {
                p_value: check.p_value,
                observed: check.observed.clone(),
                expected: check.expected.clone(),
            },
        );
        let reasons = std::iter::once(mismatch).chain(harms).collect();
        return ExperimentDecision { decision: Decision::Stop(StopReason::SampleRatioMismatch), reasons };
    }
    if !harms.is_empty() {
        return ExperimentDecision { decision: Decision::Stop(StopReason::Harm), reasons: harms };
    }
    let unsettled: Vec<Reason> = guardrail_reasons
        .iter()
        .filter(|r| matches!(r.finding, Finding::TooLittleData { .. } | Finding::HarmNotRuledOut { .. }))
        .cloned()
        .collect();
    if matches!(primary_reason.finding, Finding::Improved(_)) && unsettled.is_empty() {
        let reasons = std::iter::once(primary_reason).chain(guardrail_reasons).collect();
        return ExperimentDecision { decision: Decision::Ship, reasons };
    }
    let primary_unsettled = (!matches!(primary_reason.finding, Finding::Improved(_))).then_some(primary_reason);
    ExperimentDecision {
        decision: Decision::KeepRunning,
        reasons: primary_unsettled.into_iter().chain(unsettled).collect(),
    }
}

impl std::fmt::Display for Figures {
    /// "+0.0123 (always-valid 95% [0.0040, 0.0210], p = 0.003; fixed-horizon 95% [0.0061,
    /// 0.0185], p = 1.2e-4)"
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let percent = |i: &Interval| 100.0 * i.confidence;
        write!(
            f,
            "{:+.4} (always-valid {}% [{:.4}, {:.4}], p = {:.3e}; fixed-horizon {}% [{:.4}, {:.4}], p = {:.3e})",
            self.difference,
            percent(&self.sequence),
            self.sequence.lower,
            self.sequence.upper,
            self.p_value,
            percent(&self.fixed),
            self.fixed.lower,
            self.fixed.upper,
            self.fixed_p_value
        )
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let metric = &self.metric;
        match &self.finding {
            Finding::Improved(figures) => write!(f, "{metric} improved: {figures}"),
            Finding::Harmed { figures, margin } if *margin == 0.0 => write!(f, "{metric} got worse: {figures}"),
            Finding::Harmed { figures, margin } => {
                write!(f, "{metric} got worse by more than its margin {margin}: {figures}")
            }
            Finding::NotSignificant(figures) => write!(f, "{metric} has not changed significantly yet: {figures}"),
            Finding::TooLittleData { control, variant, needed } => write!(
                f,
                "{metric} has too little data: {control} units in the control and {variant} in the variant, \
                 {needed} needed in each (or no variance yet)"
            ),
            Finding::Holds { figures, margin: None } => write!(f, "{metric} shows no harm: {figures}"),
            Finding::Holds { figures, margin: Some(margin) } => {
                write!(f, "{metric} is ruled out to lose {margin} or more: {figures}")
            }
            Finding::HarmNotRuledOut { figures, margin } => {
                write!(f, "{metric} cannot yet rule out a loss of {margin} or more: {figures}")
            }
            Finding::SampleRatioMismatch { p_value, observed, expected } => write!(
                f,
                "the arms' counts {observed:?} do not fit the configured weights (expected {:?}): \
                 p = {p_value:.3e} < 0.001",
                expected.iter().map(|e| e.round() as u64).collect::<Vec<_>>()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{Proportion, Summary, compare_means, compare_proportions};
    use crate::sequential::Msprt;
    use crate::srm::sample_ratio_mismatch;

    const TEST: Msprt = Msprt { alpha: 0.05, mixing_variance: 0.01, min_samples: 100 };

    /// One window of means, from the start: n an arm, σ = 1, the variant's mean `shift`.
    fn means(n: u64, shift: f64) -> SequentialResult {
        let control = Summary { n, mean: 10.0, variance: 1.0 };
        let variant = Summary { n, mean: 10.0 + shift, variance: 1.0 };
        TEST.update(&TEST.start(), &compare_means(&control, &variant, 0.95).unwrap()).unwrap()
    }

    fn primary(result: &SequentialResult) -> PrimaryMetric<'_> {
        PrimaryMetric { name: "conversion value", better: Better::Higher, result }
    }

    fn guardrail<'a>(name: &'a str, result: &'a SequentialResult, margin: Option<f64>) -> Guardrail<'a> {
        Guardrail { name, better: Better::Lower, result, margin }
    }

    #[test]
    fn an_improvement_with_guardrails_holding_ships() {
        let (better, same) = (means(5000, 0.2), means(5000, 0.0));
        let latency = guardrail("latency", &same, None);
        let decision = decide(&primary(&better), &[latency], None);
        assert_eq!(decision.decision, Decision::Ship, "{decision:?}");
        assert_eq!(decision.reasons.len(), 2);
        assert!(matches!(decision.reasons[0].finding, Finding::Improved(_)));
        assert!(matches!(decision.reasons[1].finding, Finding::Holds { margin: None, .. }));
        let text = decision.reasons[0].to_string();
        assert!(text.starts_with("conversion value improved: +0.2000 (always-valid 95% ["), "{text}");
        assert!(text.contains("fixed-horizon 95%"), "{text}");
    }

    #[test]
    fn too_little_data_keeps_running_and_never_passes() {
        // a huge difference on 50 units an arm is not a result yet
        let early = means(50, 3.0);
        assert!(early.fixed.p_value < 1e-10);
        let decision = decide(&primary(&early), &[], None);
        assert_eq!(decision.decision, Decision::KeepRunning);
        assert_eq!(
            decision.reasons,
            vec![Reason {
                metric: "conversion value".into(),
                finding: Finding::TooLittleData { control: 50, variant: 50, needed: 100 }
            }]
        );
        // a guardrail with too little data holds a significant primary back
        let (better, few) = (means(5000, 0.2), means(60, 0.0));
        let decision = decide(&primary(&better), &[guardrail("refunds", &few, None)], None);
        assert_eq!(decision.decision, Decision::KeepRunning);
        assert_eq!(decision.reasons.len(), 1);
        assert_eq!(decision.reasons[0].metric, "refunds");
        assert!(decision.reasons[0].to_string().contains("too little data: 60 units in the control"));
    }

    #[test]
    fn no_significant_change_keeps_running() {
        let decision = decide(&primary(&means(5000, 0.01)), &[], None);
        assert_eq!(decision.decision, Decision::KeepRunning);
        assert!(matches!(decision.reasons[0].finding, Finding::NotSignificant(_)));
    }

    #[test]
    fn harm_stops_whether_primary_or_guardrail() {
        let worse = means(5000, -0.2);
        let decision = decide(&primary(&worse), &[], None);
        assert_eq!(decision.decision, Decision::Stop(StopReason::Harm));
        assert!(decision.reasons[0].to_string().starts_with("conversion value got worse: -0.2000"));
        // latency (lower is better) up by 0.2: harm, even with the primary improving
        let (better, slower) = (means(5000, 0.2), means(5000, 0.2));
        let decision = decide(&primary(&better), &[guardrail("latency", &slower, None)], None);
        assert_eq!(decision.decision, Decision::Stop(StopReason::Harm));
        assert_eq!(decision.reasons.len(), 1);
        assert_eq!(decision.reasons[0].metric, "latency");
        // a latency *drop* is no harm: the check is one-sided
        let faster = means(5000, -0.2);
        assert_eq!(decide(&primary(&better), &[guardrail("latency", &faster, None)], None).decision, Decision::Ship);
    }

    #[test]
    fn a_margin_tolerates_small_losses_and_must_be_ruled_out() {
        let better = means(5000, 0.2);
        // latency up 0.1, well measured: within a margin of 0.3, beyond one of 0.01
        let small_loss = means(20000, 0.1);
        let within = decide(&primary(&better), &[guardrail("latency", &small_loss, Some(0.3))], None);
        assert_eq!(within.decision, Decision::Ship, "{within:?}");
        assert!(within.reasons[1].to_string().contains("is ruled out to lose 0.3 or more"));
        let beyond = decide(&primary(&better), &[guardrail("latency", &small_loss, Some(0.01))], None);
        assert_eq!(beyond.decision, Decision::Stop(StopReason::Harm));
        assert!(beyond.reasons[0].to_string().contains("got worse by more than its margin 0.01"));
        // measured too loosely to rule out a loss of 0.05: keep running
        let unsure = means(1000, 0.0);
        let loose = decide(&primary(&better), &[guardrail("latency", &unsure, Some(0.05))], None);
        assert_eq!(loose.decision, Decision::KeepRunning);
        assert!(matches!(loose.reasons[0].finding, Finding::HarmNotRuledOut { margin: 0.05, .. }));
    }

    #[test]
    fn a_sample_ratio_mismatch_stops_before_anything_else() {
        let better = means(5000, 0.2);
        let check = sample_ratio_mismatch(&[5000, 4600], &[0.5, 0.5]).unwrap();
        let decision = decide(&primary(&better), &[], Some(&check));
        assert_eq!(decision.decision, Decision::Stop(StopReason::SampleRatioMismatch));
        assert!(decision.reasons[0].to_string().contains("[5000, 4600] do not fit the configured weights"));
        let fine = sample_ratio_mismatch(&[5000, 4990], &[0.5, 0.5]).unwrap();
        assert_eq!(decide(&primary(&better), &[], Some(&fine)).decision, Decision::Ship);
    }

    #[test]
    fn lower_is_better_for_rates_too() {
        // error rate: 5% in the control, 4% in the variant, 20,000 an arm
        let comparison = compare_proportions(Proportion::new(1000, 20000), Proportion::new(800, 20000), 0.95).unwrap();
        let test = Msprt::for_horizon(0.05, 2.0 * 0.05 * 0.95 / 20000.0).unwrap();
        let result = test.update(&test.start(), &comparison).unwrap();
        let errors = PrimaryMetric { name: "error rate", better: Better::Lower, result: &result };
        assert_eq!(decide(&errors, &[], None).decision, Decision::Ship);
        let higher_is_better = PrimaryMetric { better: Better::Higher, ..errors };
        assert_eq!(decide(&higher_is_better, &[], None).decision, Decision::Stop(StopReason::Harm));
    }
}
