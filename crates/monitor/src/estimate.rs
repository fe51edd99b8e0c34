//! Quality estimated before the labels arrive: confidence-based performance estimation
//! (CBPE, as NannyML does it). A classifier's probabilities, once calibrated on a
//! **reference** whose truth is known, say how often each prediction is expected to be
//! right; summed over an unlabeled window they give its expected confusion matrix, and
//! from it estimated accuracy, precision, recall, F1 and ROC AUC.
//!
//! **Calibration** ([`Calibration::fit`]) on the reference's rows that have a truth and
//! probabilities: a binary classifier's positive label's probability `p` is mapped through
//! an isotonic regression of `[truth = positive]` on `p` (scikit-learn's
//! `IsotonicRegression(out_of_bounds="clip")`, [`Isotonic`]), the other label's being
//! `1 − q`; a multiclass one's each label's probability through its own isotonic regression
//! (one label against the rest), then divided by their sum so a row's add to 1 (a row whose
//! calibrated probabilities are all 0 keeps its own). With fewer than
//! [`QualityOptions::min_labeled`] reference rows, or `recalibrate = false`, the
//! probabilities are taken as they are.
//!
//! **The estimate** ([`estimate`]) over a window's rows that carry probabilities (a
//! fallback's answer has none and is left out), `q_i` the calibrated probabilities of row
//! `i` and `ŷ_i` the label it answered:
//!
//! | figure | value | standard deviation σ |
//! |---|---|---|
//! | expected confusion | `C[t][p] = Σ_{ŷ_i = p} q_i[t]` | |
//! | accuracy | `Σ_i a_i / n`, `a_i = q_i[ŷ_i]` | `√(Σ a_i(1 − a_i)) / n` |
//! | precision of `l` | `A / P`: `A = Σ_{ŷ_i = l} q_i[l]`, `P` the rows answered `l` | `√v_A / P` |
//! | recall of `l` | `A / (A + B)`: `B = Σ_{ŷ_i ≠ l} q_i[l]` | `√(B²v_A + A²v_B) / (A + B)²` |
//! | F1 of `l` | `2A / (P + A + B)` | `2√((P + B)²v_A + A²v_B) / (P + A + B)²` |
//! | ROC AUC of `l` | every row a positive of weight `q_i[l]` and a negative of weight `1 − q_i[l]`, ranked by its own probability `p_i[l]`: scikit-learn's `roc_auc_score` with those weights | Hanley and McNeil's, with `n₁ = A + B` positives and `n₀ = n − n₁` negatives |
//! | macro (multiclass) | the mean over the labels | the mean of their σ |
//!
//! `v_A = Σ_{ŷ_i = l} q_i[l](1 − q_i[l])` and `v_B` the same over the other rows.
//!
//! **The interval** is `value ± z·σ`, clipped to [0, 1] ([`IntervalMethod::Normal`]). It is
//! the spread the *realized* figure would have once the labels arrive, were the calibrated
//! probabilities exact: each truth then is an independent draw with those probabilities, so
//! a count is Poisson-binomial (the variances above), a ratio of counts is read by the
//! delta method, and an AUC by Hanley and McNeil's formula at the expected class counts.
//! This is NannyML's "sampling error" in spirit (how much the figure moves at that many
//! rows), derived for the window's own probabilities rather than from the reference's
//! spread. It does not count the calibration's own error: that is what the trust flag
//! bounds. A macro figure's σ is the mean of its labels', which bounds the σ of a mean
//! however the labels' figures are correlated.
//!
//! **Trust** ([`CalibrationSummary::trusted`]): the estimate assumes that the calibration
//! learned on the reference holds in the window (what changes is which inputs arrive, not
//! what an input means). It is not to be trusted when
//!
//! - the reference has fewer than [`MIN_REFERENCE`] (200) labeled rows with probabilities:
//!   the ECE of ten bins reads about `1/√n` even for perfectly calibrated scores (0.07 at
//!   200 rows), so fewer cannot show that the calibration is good;
//! - the calibration is poor: its ECE on the reference is above [`MAX_ECE`] (0.1, an error
//!   of that size in every estimated share). When recalibrated, the ECE is **cross-validated**:
//!   the reference's rows are dealt into [`FOLDS`] folds (row `i` into fold `i mod 5`), each
//!   fold's probabilities are calibrated by the isotonic regressions fitted on the other
//!   folds, and the ECE is that of the pooled out-of-fold probabilities, so a fit cannot
//!   vouch for itself. Without recalibration, it is the ECE of the scores as they are;
//! - a label never is the truth on the reference: its calibration has nothing to learn from.
//!
//! An estimate that is not trusted is still computed, and says why not.
//!
//! **What it cannot see.** The estimate follows what covariate shift (data drift) does to
//! quality, days before the feedback does. It cannot see concept drift, the same inputs
//! now meaning something else: only labels reveal that, and a realized quality falling
//! while the estimate holds is its signature ([`crate::quality_windows`]).
//!
//! **Too few rows to judge** ([`Figure::Insufficient`]): every figure needs
//! [`QualityOptions::min_labeled`] rows with probabilities ([`Lacking::Rows`]); precision of
//! a label [`QualityOptions::min_per_class`] rows answered as it; recall, F1 and AUC that
//! many rows expected to be of the label ([`Lacking::ExpectedTruth`]), AUC that many
//! expected of another ([`Lacking::ExpectedOtherTruth`]); with
//! [`QualityOptions::max_width`], an interval no wider. Pure: no I/O.

use serde::Serialize;

use crate::calibration::{Isotonic, reliability};
use crate::quality::{
    Averaging, Classes, ClassifierRow, Figure, Interval, IntervalMethod, LabelRole, Lacking, QualityError,
    QualityOptions, argmax, lacking, measured, read_scores,
};
use rein_system::QualityMeasure;

/// Reference rows (labeled, with probabilities) a trusted estimate needs, by default.
pub const MIN_REFERENCE: usize = 200;
/// The highest ECE of the reference's calibration a trusted estimate allows, by default.
pub const MAX_ECE: f64 = 0.1;
/// Folds of the cross-validated ECE, by default.
pub const FOLDS: usize = 5;

/// How the estimate is made and when it is trusted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimateOptions {
    /// Its confidence, the rows a figure needs and the widest interval, as for quality.
    pub quality: QualityOptions,
    /// Reference rows a trusted estimate needs ([`MIN_REFERENCE`]).
    pub min_reference: usize,
    /// The highest ECE a trusted estimate allows ([`MAX_ECE`]).
    pub max_ece: f64,
    /// Folds of the cross-validated ECE ([`FOLDS`]); at least 2.
    pub folds: usize,
    /// Whether to calibrate the probabilities on the reference (else take them as they are).
    pub recalibrate: bool,
}

impl Default for EstimateOptions {
    fn default() -> EstimateOptions {
        EstimateOptions {
            quality: QualityOptions::default(),
            min_reference: MIN_REFERENCE,
            max_ece: MAX_ECE,
            folds: FOLDS,
            recalibrate: true,
        }
    }
}

impl EstimateOptions {
    fn check(&self) -> Result<(), QualityError> {
        self.quality.check()?;
        let invalid = |name, value, expected| Err(QualityError::InvalidOption { name, value, expected });
        if !(self.max_ece > 0.0 && self.max_ece <= 1.0) {
            return invalid("max_ece", self.max_ece, "in (0, 1]");
        }
        if self.folds < 2 {
            return invalid("folds", self.folds as f64, "at least 2");
        }
        Ok(())
    }
}

/// Why an estimate is not to be trusted.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Distrust {
    /// The reference has `rows` labeled rows with probabilities, fewer than `needed`.
    TooFewReference { rows: u64, needed: u64 },
    /// The calibration's ECE on the reference (cross-validated when recalibrated) is above
    /// `max_ece`.
    PoorCalibration { ece: f64, max_ece: f64, cross_validated: bool },
    /// No reference row's truth is `label`.
    MissingClass { label: String },
}

impl std::fmt::Display for Distrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Distrust::TooFewReference { rows, needed } => {
                write!(f, "the reference has {rows} labeled rows with probabilities; a trusted estimate needs {needed}")
            }
            Distrust::PoorCalibration { ece, max_ece, cross_validated } => write!(
                f,
                "the calibration on the reference is too poor: its {}ECE is {ece:.3}, above {max_ece}",
                if *cross_validated { "cross-validated " } else { "" }
            ),
            Distrust::MissingClass { label } => write!(f, "no reference row's truth is `{label}`"),
        }
    }
}

/// What the calibration learned on the reference, and whether an estimate from it is
/// trusted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationSummary {
    /// The reference's labeled rows with probabilities: what it is fitted on.
    pub reference_rows: u64,
    /// Whether the probabilities are recalibrated (else taken as they are).
    pub recalibrated: bool,
    /// The ECE of the probabilities as they are, on the reference.
    pub ece: Option<f64>,
    /// The ECE of the recalibrated probabilities, cross-validated over `folds` folds.
    pub ece_cross_validated: Option<f64>,
    pub folds: usize,
    pub min_reference: u64,
    pub max_ece: f64,
    pub trusted: bool,
    /// Why it is not trusted (empty when it is).
    pub distrust: Vec<Distrust>,
}

/// A classifier's probabilities calibrated on a reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    classes: Classes,
    /// Binary: one fit, of the positive label; multiclass: one a label. None: as they are.
    fits: Option<Vec<Isotonic>>,
    pub summary: CalibrationSummary,
}

/// Rows with a truth and probabilities.
struct Reference {
    k: usize,
    truth: Vec<usize>,
    probabilities: Vec<f64>,
}

impl Reference {
    fn row(&self, i: usize) -> &[f64] {
        &self.probabilities[i * self.k..(i + 1) * self.k]
    }
}

/// The isotonic regressions of `classes` fitted on reference rows `rows`.
fn fit_all(classes: &Classes, reference: &Reference, rows: &[usize]) -> Result<Vec<Isotonic>, QualityError> {
    let fit = |l: usize| {
        let scores: Vec<f64> = rows.iter().map(|&i| reference.row(i)[l]).collect();
        let outcomes: Vec<f64> = rows.iter().map(|&i| f64::from(u8::from(reference.truth[i] == l))).collect();
        Isotonic::fit(&scores, &outcomes)
    };
    match classes.positive() {
        Some(p) => Ok(vec![fit(p)?]),
        None => (0..reference.k).map(fit).collect(),
    }
}

/// Calibrated probabilities of one row into `out`.
fn calibrate(classes: &Classes, fits: Option<&[Isotonic]>, p: &[f64], out: &mut [f64]) {
    let Some(fits) = fits else {
        out.copy_from_slice(p);
        return;
    };
    match classes.positive() {
        Some(positive) => {
            let q = fits[0].predict(p[positive]);
            out[positive] = q;
            out[1 - positive] = 1.0 - q;
        }
        None => {
            for (l, fit) in fits.iter().enumerate() {
                out[l] = fit.predict(p[l]);
            }
            let sum: f64 = out.iter().sum();
            if sum > 0.0 {
                out.iter_mut().for_each(|q| *q /= sum);
            } else {
                out.copy_from_slice(p);
            }
        }
    }
}

/// The ECE of probabilities against their truths, as [`crate::calibration`] defines it:
/// the positive label's probability (binary) or the top one against being right.
fn ece_of(classes: &Classes, k: usize, truth: &[usize], probabilities: &[f64]) -> Result<f64, QualityError> {
    let (mut confidence, mut outcome) = (Vec::with_capacity(truth.len()), Vec::with_capacity(truth.len()));
    for (i, &t) in truth.iter().enumerate() {
        let p = &probabilities[i * k..(i + 1) * k];
        let label = classes.positive().unwrap_or_else(|| argmax(p));
        confidence.push(p[label]);
        outcome.push(t == label);
    }
    Ok(reliability(&confidence, &outcome)?.1)
}

impl Calibration {
    /// Fits the calibration on the reference's rows that have a truth and probabilities.
    pub fn fit(
        classes: &Classes,
        reference: &[ClassifierRow<'_>],
        options: &EstimateOptions,
    ) -> Result<Calibration, QualityError> {
        options.check()?;
        let k = classes.labels().len();
        let mut data = Reference { k, truth: Vec::new(), probabilities: Vec::new() };
        let mut p = vec![0.0; k];
        for (row, r) in reference.iter().enumerate() {
            classes.label(row, LabelRole::Predicted, r.predicted)?;
            let scored = read_scores(classes, row, &r.scores, &mut p)?;
            let Some(truth) = r.truth else { continue };
            let truth = classes.label(row, LabelRole::Truth, truth)?;
            if scored {
                data.truth.push(truth);
                data.probabilities.extend_from_slice(&p);
            }
        }
        let m = data.truth.len();
        let ece = if m > 0 { Some(ece_of(classes, k, &data.truth, &data.probabilities)?) } else { None };
        let all: Vec<usize> = (0..m).collect();
        let fits = if options.recalibrate && m >= options.quality.min_labeled {
            Some(fit_all(classes, &data, &all)?)
        } else {
            None
        };
        // out of fold: each fold calibrated by the fits of the others
        let ece_cross_validated = match &fits {
            Some(_) if m >= options.folds => {
                let mut calibrated = vec![0.0; m * k];
                for fold in 0..options.folds {
                    let training: Vec<usize> = all.iter().copied().filter(|i| i % options.folds != fold).collect();
                    let fits = fit_all(classes, &data, &training)?;
                    for i in (fold..m).step_by(options.folds) {
                        calibrate(classes, Some(&fits), data.row(i), &mut calibrated[i * k..(i + 1) * k]);
                    }
                }
                Some(ece_of(classes, k, &data.truth, &calibrated)?)
            }
            _ => None,
        };
        let mut distrust = Vec::new();
        if m < options.min_reference {
            distrust.push(Distrust::TooFewReference { rows: m as u64, needed: options.min_reference as u64 });
        }
        let judged = if fits.is_some() { ece_cross_validated } else { ece };
        if let Some(e) = judged
            && e > options.max_ece
        {
            distrust.push(Distrust::PoorCalibration {
                ece: e,
                max_ece: options.max_ece,
                cross_validated: fits.is_some(),
            });
        }
        if m > 0 {
            for (l, label) in classes.labels().iter().enumerate() {
                if !data.truth.contains(&l) {
                    distrust.push(Distrust::MissingClass { label: label.clone() });
                }
            }
        }
        let summary = CalibrationSummary {
            reference_rows: m as u64,
            recalibrated: fits.is_some(),
            ece,
            ece_cross_validated,
            folds: options.folds,
            min_reference: options.min_reference as u64,
            max_ece: options.max_ece,
            trusted: distrust.is_empty(),
            distrust,
        };
        Ok(Calibration { classes: classes.clone(), fits, summary })
    }

    pub fn classes(&self) -> &Classes {
        &self.classes
    }

    /// The isotonic regressions (binary: the positive label's; multiclass: one a label), if
    /// the probabilities are recalibrated.
    pub fn fits(&self) -> Option<&[Isotonic]> {
        self.fits.as_deref()
    }

    /// A row's calibrated probabilities, one a label in the labels' order.
    pub fn calibrated(&self, probabilities: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; probabilities.len()];
        calibrate(&self.classes, self.fits.as_deref(), probabilities, &mut out);
        out
    }
}

/// Expected counts by truth (rows) and answer (columns), in the labels' order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedConfusion {
    pub labels: Vec<String>,
    pub counts: Vec<Vec<f64>>,
}

/// The estimated figures of one label, one against the rest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimatedLabel {
    pub label: String,
    /// Rows answered as this label.
    pub predicted: u64,
    /// Rows expected to be of this label: the sum of its calibrated probabilities.
    pub expected_truth: f64,
    pub precision: Figure,
    pub recall: Figure,
    pub f1: Figure,
    pub auc: Figure,
}

/// A window's quality estimated from its calibrated probabilities. A figure's `labeled` is
/// the rows it is over, labeled or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimated {
    pub predictions: u64,
    /// The rows it is over: those with probabilities.
    pub with_probabilities: u64,
    pub averaging: Averaging,
    pub accuracy: Figure,
    pub precision: Figure,
    pub recall: Figure,
    pub f1: Figure,
    pub auc: Figure,
    pub per_label: Vec<EstimatedLabel>,
    pub confusion: ExpectedConfusion,
    /// Whether the calibration it rests on is trusted ([`CalibrationSummary`] says why not).
    pub trusted: bool,
}

impl Estimated {
    /// The figure a goal's `metric` (and `label`) names; `None` for a measure that cannot
    /// be estimated (Brier, ECE, a regression's) or an unknown label.
    pub fn figure(&self, measure: QualityMeasure, label: Option<&str>) -> Option<&Figure> {
        let per_label = |label: &str| self.per_label.iter().find(|l| l.label == label);
        Some(match (measure, label) {
            (QualityMeasure::Accuracy, _) => &self.accuracy,
            (QualityMeasure::Precision, Some(l)) => &per_label(l)?.precision,
            (QualityMeasure::Recall, Some(l)) => &per_label(l)?.recall,
            (QualityMeasure::F1, Some(l)) => &per_label(l)?.f1,
            (QualityMeasure::Auc, Some(l)) => &per_label(l)?.auc,
            (QualityMeasure::Precision, None) => &self.precision,
            (QualityMeasure::Recall, None) => &self.recall,
            (QualityMeasure::F1, None) => &self.f1,
            (QualityMeasure::Auc, None) => &self.auc,
            _ => return None,
        })
    }
}

/// The weighted ROC AUC of `scores` with every row a positive of weight `q` and a negative
/// of weight `1 − q`, ties counted half (the weighted Mann–Whitney statistic).
fn weighted_auc(scores: &[f64], q: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut area, mut negatives_below, mut positives) = (0.0, 0.0, 0.0);
    let mut start = 0;
    while start < order.len() {
        let value = scores[order[start]];
        let (mut group_positive, mut group_negative) = (0.0, 0.0);
        let mut end = start;
        while end < order.len() && scores[order[end]] == value {
            group_positive += q[order[end]];
            group_negative += 1.0 - q[order[end]];
            end += 1;
        }
        area += group_positive * (negatives_below + 0.5 * group_negative);
        negatives_below += group_negative;
        positives += group_positive;
        start = end;
    }
    area / (positives * negatives_below)
}

/// Hanley and McNeil's (1982) standard error of an AUC `a` over `n1` positives and `n0`
/// negatives, squared.
fn hanley_mcneil_variance(a: f64, n1: f64, n0: f64) -> f64 {
    let q1 = a / (2.0 - a);
    let q2 = 2.0 * a * a / (1.0 + a);
    ((a * (1.0 - a) + (n1 - 1.0) * (q1 - a * a) + (n0 - 1.0) * (q2 - a * a)) / (n1 * n0)).max(0.0)
}

/// Estimates the quality of `rows` (their truths, if any, are not read) from their
/// probabilities, calibrated by `calibration`.
pub fn estimate(
    calibration: &Calibration,
    rows: &[ClassifierRow<'_>],
    options: &EstimateOptions,
) -> Result<Estimated, QualityError> {
    options.check()?;
    let classes = &calibration.classes;
    let k = classes.labels().len();
    let (mut predicted, mut raw, mut q) = (Vec::new(), Vec::new(), Vec::new());
    let (mut p, mut c) = (vec![0.0; k], vec![0.0; k]);
    for (row, r) in rows.iter().enumerate() {
        let answered = classes.label(row, LabelRole::Predicted, r.predicted)?;
        if !read_scores(classes, row, &r.scores, &mut p)? {
            continue;
        }
        calibrate(classes, calibration.fits.as_deref(), &p, &mut c);
        predicted.push(answered);
        raw.extend_from_slice(&p);
        q.extend_from_slice(&c);
    }
    let n = predicted.len();
    let nf = n as f64;
    let confidence = options.quality.bootstrap.confidence;
    let z = rein_stats::normal_critical(confidence)?;
    let (min_n, min_class, max_width) =
        (options.quality.min_labeled, options.quality.min_per_class, options.quality.max_width);
    let normal = |value: f64, std_dev: f64| Interval {
        value,
        lower: (value - z * std_dev).clamp(0.0, 1.0),
        upper: (value + z * std_dev).clamp(0.0, 1.0),
        confidence,
        method: IntervalMethod::Normal { std_dev },
    };
    let label = |l: usize| classes.labels()[l].clone();

    let mut counts = vec![vec![0.0; k]; k];
    let (mut correct, mut correct_variance) = (0.0, 0.0);
    for i in 0..n {
        for (t, row) in counts.iter_mut().enumerate() {
            row[predicted[i]] += q[i * k + t];
        }
        let a = q[i * k + predicted[i]];
        correct += a;
        correct_variance += a * (1.0 - a);
    }
    let rows_rule = || (n as u64, min_n, Lacking::Rows);

    // per label: value and σ of precision, recall, F1, AUC, and their rules
    struct Own {
        values: [f64; 4],
        sigmas: [f64; 4],
        rules: [Vec<(u64, usize, Lacking)>; 4],
        predicted: u64,
        expected: f64,
    }
    let mut own = Vec::with_capacity(k);
    for l in 0..k {
        let (mut a, mut b, mut va, mut vb, mut answered) = (0.0, 0.0, 0.0, 0.0, 0u64);
        for i in 0..n {
            let ql = q[i * k + l];
            if predicted[i] == l {
                a += ql;
                va += ql * (1.0 - ql);
                answered += 1;
            } else {
                b += ql;
                vb += ql * (1.0 - ql);
            }
        }
        let pl = answered as f64;
        let t = a + b;
        let d = pl + t;
        let scores: Vec<f64> = (0..n).map(|i| raw[i * k + l]).collect();
        let weights: Vec<f64> = (0..n).map(|i| q[i * k + l]).collect();
        let (n1, n0) = (t, nf - t);
        let auc = weighted_auc(&scores, &weights);
        let expected_truth =
            |e: f64| (e.max(0.0).floor() as u64, min_class, Lacking::ExpectedTruth { label: label(l), expected: e });
        let truth_rules = vec![rows_rule(), expected_truth(t)];
        own.push(Own {
            values: [a / pl, a / t, 2.0 * a / d, auc],
            sigmas: [
                va.sqrt() / pl,
                (b * b * va + a * a * vb).sqrt() / (t * t),
                2.0 * ((pl + b).powi(2) * va + a * a * vb).sqrt() / (d * d),
                hanley_mcneil_variance(auc, n1, n0).sqrt(),
            ],
            rules: [
                vec![rows_rule(), (answered, min_class, Lacking::Predicted { label: label(l) })],
                truth_rules.clone(),
                truth_rules,
                vec![
                    rows_rule(),
                    expected_truth(n1),
                    (
                        n0.max(0.0).floor() as u64,
                        min_class,
                        Lacking::ExpectedOtherTruth { label: label(l), expected: n0 },
                    ),
                ],
            ],
            predicted: answered,
            expected: t,
        });
    }
    // the rows each figure is over: precision the rows answered as the label, the rest all
    let count_of = |what: usize, o: &Own| if what == 0 { o.predicted } else { n as u64 };
    let figure_of = |o: &Own, what: usize| {
        lacking(o.rules[what].clone())
            .unwrap_or_else(|| measured(count_of(what, o), normal(o.values[what], o.sigmas[what]), max_width))
    };
    let per_label: Vec<EstimatedLabel> = own
        .iter()
        .enumerate()
        .map(|(l, o)| EstimatedLabel {
            label: label(l),
            predicted: o.predicted,
            expected_truth: o.expected,
            precision: figure_of(o, 0),
            recall: figure_of(o, 1),
            f1: figure_of(o, 2),
            auc: figure_of(o, 3),
        })
        .collect();
    let accuracy = lacking([rows_rule()])
        .unwrap_or_else(|| measured(n as u64, normal(correct / nf, correct_variance.sqrt() / nf), max_width));
    let (averaging, precision, recall, f1, auc) = match classes.positive() {
        Some(positive) => {
            let o = &per_label[positive];
            (
                Averaging::Positive { label: label(positive) },
                o.precision.clone(),
                o.recall.clone(),
                o.f1.clone(),
                o.auc.clone(),
            )
        }
        None => {
            let macro_figure = |what: usize| {
                lacking(own.iter().flat_map(|o| o.rules[what].clone())).unwrap_or_else(|| {
                    let value = own.iter().map(|o| o.values[what]).sum::<f64>() / k as f64;
                    let sigma = own.iter().map(|o| o.sigmas[what]).sum::<f64>() / k as f64;
                    measured(n as u64, normal(value, sigma), max_width)
                })
            };
            (Averaging::Macro, macro_figure(0), macro_figure(1), macro_figure(2), macro_figure(3))
        }
    };
    Ok(Estimated {
        predictions: rows.len() as u64,
        with_probabilities: n as u64,
        averaging,
        accuracy,
        precision,
        recall,
        f1,
        auc,
        per_label,
        confusion: ExpectedConfusion { labels: classes.labels().to_vec(), counts },
        trusted: calibration.summary.trusted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::Scores;

    #[test]
    fn a_calibrated_window_estimates_its_expected_counts() {
        let classes = Classes::binary(["no", "yes"], "yes").unwrap();
        // as they are: no reference rows, so nothing is recalibrated
        let calibration = Calibration::fit(&classes, &[], &EstimateOptions::default()).unwrap();
        assert!(!calibration.summary.recalibrated && !calibration.summary.trusted);
        assert_eq!(
            calibration.summary.distrust,
            vec![Distrust::TooFewReference { rows: 0, needed: MIN_REFERENCE as u64 }]
        );
        let rows: Vec<ClassifierRow> = (0..40)
            .map(|i| {
                let p = if i % 2 == 0 { 0.9 } else { 0.2 };
                ClassifierRow {
                    predicted: if p > 0.5 { "yes" } else { "no" },
                    scores: Scores::Positive(p),
                    truth: None,
                }
            })
            .collect();
        let e = estimate(&calibration, &rows, &EstimateOptions::default()).unwrap();
        // 20 rows answered yes at 0.9, 20 answered no at 0.2
        let want = [[16.0, 2.0], [4.0, 18.0]];
        for (got, want) in e.confusion.counts.iter().flatten().zip(want.iter().flatten()) {
            assert!((got - want).abs() < 1e-12, "{:?}", e.confusion);
        }
        let close = |f: &Figure, v: f64| assert!((f.value().unwrap() - v).abs() < 1e-12, "{f:?} against {v}");
        close(&e.accuracy, 34.0 / 40.0);
        close(&e.precision, 0.9);
        close(&e.recall, 18.0 / 22.0);
        close(&e.f1, 36.0 / 42.0);
        // the 0.2 group: 4 positives over its 16 negatives' half; the 0.9 group: 18 over 16 + 1
        let auc = (18.0 * (16.0 + 0.5 * 2.0) + 4.0 * 0.5 * 16.0) / (22.0 * 18.0);
        close(&e.auc, auc);
        let acc = e.accuracy.interval().unwrap();
        let sigma = (20.0f64 * 0.09 + 20.0 * 0.16).sqrt() / 40.0;
        assert!(matches!(acc.method, IntervalMethod::Normal { std_dev } if (std_dev - sigma).abs() < 1e-15));
    }

    #[test]
    fn too_few_rows_are_not_estimated() {
        let classes = Classes::binary(["no", "yes"], "yes").unwrap();
        let calibration = Calibration::fit(&classes, &[], &EstimateOptions::default()).unwrap();
        let rows = vec![ClassifierRow { predicted: "no", scores: Scores::Positive(0.1), truth: None }; 10];
        let e = estimate(&calibration, &rows, &EstimateOptions::default()).unwrap();
        assert!(matches!(e.accuracy, Figure::Insufficient { labeled: 10, needed: 30, lacking: Lacking::Rows }));
        let rows = vec![ClassifierRow { predicted: "no", scores: Scores::Positive(0.01), truth: None }; 100];
        let e = estimate(&calibration, &rows, &EstimateOptions::default()).unwrap();
        assert!(e.accuracy.is_measured());
        assert!(matches!(e.recall, Figure::Insufficient { labeled: 1, lacking: Lacking::ExpectedTruth { .. }, .. }));
        assert!(matches!(e.precision, Figure::Insufficient { labeled: 0, lacking: Lacking::Predicted { .. }, .. }));
    }
}
