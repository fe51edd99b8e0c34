//! Quality of a component's predictions against the truth that feedback gave them: for a
//! classifier accuracy, precision, recall, F1, ROC AUC, Brier score, expected calibration
//! error and the confusion matrix; for a regression MAE, RMSE and bias; for both the
//! feedback rate. Every figure carries the number of labeled rows it counts and a
//! confidence interval, or says that too few labels exist to judge it
//! ([`Figure::Insufficient`]).
//!
//! **What each figure is** (scikit-learn's function on the labeled rows, `labels` the
//! component's labels in order):
//!
//! | figure | value | interval | its count |
//! |---|---|---|---|
//! | accuracy | `accuracy_score` | Wilson | labeled rows |
//! | precision of a label | `precision_score(labels=[l], average=None)` | Wilson | labeled rows predicted `l` |
//! | recall of a label | `recall_score(…)` | Wilson | labeled rows whose truth is `l` |
//! | F1 of a label | `f1_score(…)`: `2·TP / (2·TP + FP + FN)` | bootstrap | labeled rows |
//! | ROC AUC of a label | `roc_auc_score(truth == l, p_l)` | bootstrap | labeled rows with probabilities |
//! | Brier of a label | `mean((p_l − [truth == l])²)` | bootstrap | labeled rows with probabilities |
//! | precision, recall, F1 (multiclass) | `average="macro"` over every declared label | bootstrap | labeled rows |
//! | ROC AUC (multiclass) | `roc_auc_score(multi_class="ovr", average="macro")` | bootstrap | labeled rows with probabilities |
//! | Brier (multiclass) | `brier_score_loss(labels=…, scale_by_half=False)`: `mean(Σ_l (p_l − y_l)²)`, in [0, 2] | bootstrap | labeled rows with probabilities |
//! | ECE | [`crate::calibration`]: 10 equal-width bins on the positive label's probability (binary) or the top probability (multiclass) | bootstrap | labeled rows with probabilities |
//! | MAE, RMSE | `mean_absolute_error`, `root_mean_squared_error` | bootstrap | labeled rows |
//! | bias | `mean(predicted − true)` | Student's t | labeled rows |
//! | feedback rate | labeled rows / predictions | Wilson | predictions |
//!
//! A binary classifier's headline precision, recall, F1, AUC and Brier are its positive
//! label's; a multiclass one's are the macro averages above. Every interval is at
//! [`QualityOptions::bootstrap`]'s confidence.
//!
//! **The bootstrap.** Seeded and stratified by the truth: each resample draws, for each
//! label in turn (a binary classifier's positive label first, then the others in their
//! declared order), as many labeled rows with replacement from those of that truth as
//! there are, so every resample keeps the class counts (as `rein_stats::Bootstrap` does for
//! ROC AUC, whose interval this one equals on the same rows and seed). A regression's rows
//! are one stratum. A statistic undefined on a resample (a 0/0: no prediction of a label
//! for a macro precision, one class only among the rows with probabilities for an AUC) is
//! left out of that statistic's percentiles, and the interval says how many resamples it
//! kept. The interval is the percentile one: the `(1−c)/2` and `1−(1−c)/2` quantiles of
//! the resampled values. Rows are resampled as weights (how often each was drawn), so a
//! resample costs O(labeled rows · labels): the report costs O(resamples · labeled rows ·
//! labels).
//!
//! **Too few labels to judge** ([`Figure::Insufficient`]; the counts are
//! [`QualityOptions`]'s, [`MIN_LABELED`] and [`MIN_PER_CLASS`] by default):
//!
//! - every figure needs at least 30 labeled rows (a figure of probabilities: 30 labeled
//!   rows with probabilities);
//! - precision of a label needs 5 labeled rows predicted as it; recall and F1 of a label,
//!   5 labeled rows whose truth is it; ROC AUC of a label, 5 rows of that truth and 5 of
//!   another among those with probabilities;
//! - a macro average needs what each of its labels' figures needs (a label absent from the
//!   truth leaves macro recall, F1 and AUC insufficient, not pulled to 0 as scikit-learn's
//!   `zero_division` would);
//! - with [`QualityOptions::max_width`], a classifier's figure whose interval is wider is
//!   insufficient too, and says about how many rows it needs (the count · (width / max)²:
//!   an interval narrows as 1/√n);
//! - a regression's figures need 30 labeled rows (their width is in the target's units, so
//!   no width rule applies to them);
//! - the feedback rate needs one prediction.
//!
//! The labeled rows are those feedback reached, rarely a random sample of the predictions:
//! these figures describe them, and the feedback rate says how many they are.

use crate::calibration::{ReliabilityBin, bin_of, reliability_table, weighted_ece};
use crate::resample::{bootstrap, percentiles};
use rein_stats::{Bootstrap, StatsError, t_interval, wilson_interval};
use rein_system::{Component, QualityMeasure, Task};
use serde::Serialize;
use std::collections::HashMap;

/// Labeled rows every figure needs, by default.
pub const MIN_LABELED: usize = 30;
/// Rows of a class a figure of that class needs (see the module's rules), by default.
pub const MIN_PER_CLASS: usize = 5;

/// How quality is computed and when it is judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityOptions {
    /// Resamples and seed of every bootstrap interval, and the confidence of every interval.
    pub bootstrap: Bootstrap,
    /// Labeled rows a figure needs ([`MIN_LABELED`]); at least 2.
    pub min_labeled: usize,
    /// Rows of a class a figure of that class needs ([`MIN_PER_CLASS`]); at least 1.
    pub min_per_class: usize,
    /// A classifier's figure whose interval is wider than this is insufficient (none by
    /// default).
    pub max_width: Option<f64>,
}

impl Default for QualityOptions {
    /// 2,000 resamples, 95%, seed 0; 30 labeled rows, 5 of a class; no width rule.
    fn default() -> QualityOptions {
        QualityOptions {
            bootstrap: Bootstrap::default(),
            min_labeled: MIN_LABELED,
            min_per_class: MIN_PER_CLASS,
            max_width: None,
        }
    }
}

impl QualityOptions {
    pub(crate) fn check(&self) -> Result<(), QualityError> {
        let b = &self.bootstrap;
        let invalid = |name, value, expected| Err(QualityError::InvalidOption { name, value, expected });
        if !(b.confidence > 0.0 && b.confidence < 1.0) {
            return invalid("confidence", b.confidence, "strictly between 0 and 1 (0.95 for 95%)");
        }
        if b.resamples == 0 {
            return invalid("resamples", 0.0, "at least 1 (a thousand or more for a 95% interval)");
        }
        if self.min_labeled < 2 {
            return invalid("min_labeled", self.min_labeled as f64, "at least 2");
        }
        if self.min_per_class < 1 {
            return invalid("min_per_class", 0.0, "at least 1");
        }
        if let Some(w) = self.max_width
            && !(w > 0.0 && w.is_finite())
        {
            return invalid("max_width", w, "a positive width");
        }
        Ok(())
    }
}

/// An input quality cannot be computed on; the message says which and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QualityError {
    #[error("a classifier needs at least two labels; got {got}")]
    TooFewLabels { got: usize },
    #[error("label `{label}` is declared twice")]
    DuplicateLabel { label: String },
    #[error("a binary classifier has two labels, not {got}")]
    BinaryLabels { got: usize },
    #[error("the positive label `{label}` is not one of the labels ({labels})")]
    UnknownPositive { label: String, labels: String },
    #[error("component `{component}` is a regression: classifier quality needs labels")]
    NotAClassifier { component: String },
    #[error("row {row}: the {role} label `{label}` is not one of the component's labels ({labels})")]
    UnknownLabel { row: usize, role: LabelRole, label: String, labels: String },
    #[error("row {row}: {got} probabilities for {expected} labels: one a label, in the labels' order")]
    ProbabilityCount { row: usize, got: usize, expected: usize },
    #[error("row {row}: probability {index} is {value}: a probability is a number in [0, 1]")]
    NotAProbability { row: usize, index: usize, value: f64 },
    #[error(
        "row {row}: a single score is the positive label's probability, which only a binary classifier has: give one probability a label"
    )]
    ScoreNeedsBinary { row: usize },
    #[error("row {row}: the {what} value is {value}: only finite numbers can be compared")]
    NotFinite { row: usize, what: &'static str, value: f64 },
    #[error("{scores} scores and {outcomes} outcomes: they must be paired, one for one, and not empty")]
    Unpaired { scores: usize, outcomes: usize },
    #[error("{rows} rows and {values} slice values: the slicing column needs one value a row")]
    SliceValues { rows: usize, values: usize },
    #[error("{name} is {value}: it must be {expected}")]
    InvalidOption { name: &'static str, value: f64, expected: &'static str },
    #[error(transparent)]
    Stats(#[from] StatsError),
}

/// Which label of a row an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelRole {
    Predicted,
    Truth,
}

impl std::fmt::Display for LabelRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LabelRole::Predicted => "predicted",
            LabelRole::Truth => "true",
        })
    }
}

/// A classifier's labels, in the order its probabilities come, and its positive label.
#[derive(Debug, Clone, PartialEq)]
pub struct Classes {
    labels: Vec<String>,
    positive: Option<usize>,
    index: HashMap<String, usize>,
}

impl Classes {
    /// A binary classifier: two labels, one of them positive.
    pub fn binary<S: Into<String>>(
        labels: impl IntoIterator<Item = S>,
        positive: &str,
    ) -> Result<Classes, QualityError> {
        let mut classes = Classes::multiclass(labels)?;
        if classes.labels.len() != 2 {
            return Err(QualityError::BinaryLabels { got: classes.labels.len() });
        }
        let Some(&p) = classes.index.get(positive) else {
            return Err(QualityError::UnknownPositive { label: positive.into(), labels: classes.labels.join(", ") });
        };
        classes.positive = Some(p);
        Ok(classes)
    }

    /// A multiclass classifier: two labels or more, averaged over (macro).
    pub fn multiclass<S: Into<String>>(labels: impl IntoIterator<Item = S>) -> Result<Classes, QualityError> {
        let labels: Vec<String> = labels.into_iter().map(Into::into).collect();
        if labels.len() < 2 {
            return Err(QualityError::TooFewLabels { got: labels.len() });
        }
        let mut index = HashMap::with_capacity(labels.len());
        for (i, label) in labels.iter().enumerate() {
            if index.insert(label.clone(), i).is_some() {
                return Err(QualityError::DuplicateLabel { label: label.clone() });
            }
        }
        Ok(Classes { labels, positive: None, index })
    }

    /// A component's labels: binary with its positive label, or multiclass.
    pub fn of(component: &Component) -> Result<Classes, QualityError> {
        match (component.task, component.positive) {
            (Task::Regression, _) => Err(QualityError::NotAClassifier { component: component.name.clone() }),
            (Task::Binary, Some(p)) if p < component.labels.len() => {
                Classes::binary(component.labels.iter().cloned(), &component.labels[p])
            }
            _ => Classes::multiclass(component.labels.iter().cloned()),
        }
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The positive label's index (binary only).
    pub fn positive(&self) -> Option<usize> {
        self.positive
    }

    pub fn index_of(&self, label: &str) -> Option<usize> {
        self.index.get(label).copied()
    }

    pub(crate) fn label(&self, row: usize, role: LabelRole, label: &str) -> Result<usize, QualityError> {
        self.index_of(label).ok_or_else(|| QualityError::UnknownLabel {
            row,
            role,
            label: label.into(),
            labels: self.labels.join(", "),
        })
    }

    /// Strata of the bootstrap: the positive label first, then the others in order.
    fn stratum_order(&self) -> Vec<usize> {
        let k = self.labels.len();
        match self.positive {
            Some(p) => std::iter::once(p).chain((0..k).filter(|&l| l != p)).collect(),
            None => (0..k).collect(),
        }
    }
}

/// A classifier's probabilities on one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scores<'a> {
    /// None recorded (a fallback's answer): the row counts for the measures of labels only.
    Absent,
    /// A binary classifier's positive label's probability (the record's `score`); the other
    /// label's is 1 − it.
    Positive(f64),
    /// One probability a label, in the labels' order.
    ByLabel(&'a [f64]),
}

/// One prediction of a classifier and, once feedback gave it, its truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassifierRow<'a> {
    /// The label answered.
    pub predicted: &'a str,
    pub scores: Scores<'a>,
    /// The true label; `None` until feedback gives it.
    pub truth: Option<&'a str>,
}

/// One prediction of a regression and, once feedback gave it, its truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionRow {
    pub predicted: f64,
    pub truth: Option<f64>,
}

/// How an interval was made.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum IntervalMethod {
    /// Wilson's score interval of a proportion (`rein_stats::wilson_interval`).
    Wilson,
    /// The seeded, stratified percentile bootstrap; `resamples` that defined the statistic.
    Bootstrap { resamples: usize, seed: u64 },
    /// Student's t interval of a mean (`rein_stats::t_interval`).
    T,
    /// The normal approximation `value ± z·σ` (the label-free estimate, clipped to [0, 1];
    /// a gap between slices).
    Normal { std_dev: f64 },
    /// Newcombe's hybrid score interval of a difference of two proportions
    /// (`rein_stats::newcombe_interval`).
    Newcombe,
    /// Welch's t interval of a difference of two means (`rein_stats::compare_means`).
    Welch { degrees_of_freedom: f64 },
}

/// A figure's value and its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
    pub confidence: f64,
    #[serde(flatten)]
    pub method: IntervalMethod,
}

impl Interval {
    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }

    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }

    pub(crate) fn of(interval: rein_stats::Interval, method: IntervalMethod) -> Interval {
        Interval {
            value: interval.estimate,
            lower: interval.lower,
            upper: interval.upper,
            confidence: interval.confidence,
            method,
        }
    }
}

/// What a figure lacked to be judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Lacking {
    /// Labeled rows (with probabilities, for a figure of probabilities).
    Labeled,
    /// Labeled rows whose truth is `label`.
    Truth { label: String },
    /// Labeled rows whose truth is another label than `label` (ROC AUC).
    OtherTruth { label: String },
    /// Labeled rows predicted as `label` (precision).
    Predicted { label: String },
    /// A narrower interval: it is `width` wide, and at most `max_width` was asked.
    Width { width: f64, max_width: f64 },
    /// Rows of the window with probabilities (an estimate).
    Rows,
    /// Rows whose truth is expected to be `label`: the sum of its calibrated probabilities
    /// over the window (an estimated recall, F1 or AUC).
    ExpectedTruth { label: String, expected: f64 },
    /// Rows whose truth is expected to be another label than `label` (an estimated AUC).
    ExpectedOtherTruth { label: String, expected: f64 },
}

/// A quality figure: measured, with its interval, or not judged for want of labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Figure {
    /// `labeled`: the rows it counts (see the module's table).
    Measured { labeled: u64, interval: Interval },
    /// `labeled` rows of what it lacked (see `lacking`), fewer than the `needed`.
    Insufficient { labeled: u64, needed: u64, lacking: Lacking },
}

impl Figure {
    pub fn value(&self) -> Option<f64> {
        self.interval().map(|i| i.value)
    }

    pub fn interval(&self) -> Option<&Interval> {
        match self {
            Figure::Measured { interval, .. } => Some(interval),
            Figure::Insufficient { .. } => None,
        }
    }

    pub fn is_measured(&self) -> bool {
        matches!(self, Figure::Measured { .. })
    }
}

/// The share of predictions that feedback labeled, with its Wilson interval (absent
/// without predictions).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackRate {
    pub predictions: u64,
    pub labeled: u64,
    pub rate: Option<Interval>,
}

impl FeedbackRate {
    fn of(predictions: u64, labeled: u64, confidence: f64) -> Result<FeedbackRate, QualityError> {
        let rate = if predictions == 0 {
            None
        } else {
            Some(Interval::of(wilson_interval(labeled, predictions, confidence)?, IntervalMethod::Wilson))
        };
        Ok(FeedbackRate { predictions, labeled, rate })
    }
}

/// What a classifier's headline precision, recall, F1, AUC and Brier are.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Averaging {
    /// A binary classifier's positive label's.
    Positive { label: String },
    /// The mean over every declared label (Brier: the sum over labels, averaged over rows).
    Macro,
}

/// The figures of one label, one against the rest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelQuality {
    pub label: String,
    /// Labeled rows whose truth is this label (scikit-learn's `support`).
    pub truth: u64,
    /// Labeled rows predicted as this label.
    pub predicted: u64,
    pub precision: Figure,
    pub recall: Figure,
    pub f1: Figure,
    pub auc: Figure,
    pub brier: Figure,
}

/// Counts of labeled rows by truth (rows) and prediction (columns), in the labels' order:
/// scikit-learn's `confusion_matrix(truth, predicted, labels=labels)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfusionMatrix {
    pub labels: Vec<String>,
    pub counts: Vec<Vec<u64>>,
}

/// A classifier's quality over its labeled rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassifierQuality {
    pub labels: Vec<String>,
    pub feedback: FeedbackRate,
    /// Labeled rows that carry probabilities (the count of AUC, Brier and ECE).
    pub with_probabilities: u64,
    pub averaging: Averaging,
    pub accuracy: Figure,
    pub precision: Figure,
    pub recall: Figure,
    pub f1: Figure,
    pub auc: Figure,
    pub brier: Figure,
    pub ece: Figure,
    /// The bins the ECE sums over.
    pub reliability: Vec<ReliabilityBin>,
    pub per_label: Vec<LabelQuality>,
    pub confusion: ConfusionMatrix,
}

impl ClassifierQuality {
    /// The figure a goal's `metric` (and `label`) names: a label's own figure when `label`
    /// is given, the headline one otherwise; `None` for a regression's measure or an
    /// unknown label.
    pub fn figure(&self, measure: QualityMeasure, label: Option<&str>) -> Option<&Figure> {
        let per_label = |label: &str| self.per_label.iter().find(|l| l.label == label);
        Some(match (measure, label) {
            (QualityMeasure::Accuracy, _) => &self.accuracy,
            (QualityMeasure::Ece, _) => &self.ece,
            (QualityMeasure::Precision, Some(l)) => &per_label(l)?.precision,
            (QualityMeasure::Recall, Some(l)) => &per_label(l)?.recall,
            (QualityMeasure::F1, Some(l)) => &per_label(l)?.f1,
            (QualityMeasure::Auc, Some(l)) => &per_label(l)?.auc,
            (QualityMeasure::Brier, Some(l)) => &per_label(l)?.brier,
            (QualityMeasure::Precision, None) => &self.precision,
            (QualityMeasure::Recall, None) => &self.recall,
            (QualityMeasure::F1, None) => &self.f1,
            (QualityMeasure::Auc, None) => &self.auc,
            (QualityMeasure::Brier, None) => &self.brier,
            (QualityMeasure::Mae | QualityMeasure::Rmse | QualityMeasure::Bias, _) => return None,
        })
    }
}

/// A regression's quality over its labeled rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressionQuality {
    pub feedback: FeedbackRate,
    pub mae: Figure,
    pub rmse: Figure,
    pub bias: Figure,
}

impl RegressionQuality {
    /// The figure a goal's `metric` names; `None` for a classifier's measure.
    pub fn figure(&self, measure: QualityMeasure) -> Option<&Figure> {
        match measure {
            QualityMeasure::Mae => Some(&self.mae),
            QualityMeasure::Rmse => Some(&self.rmse),
            QualityMeasure::Bias => Some(&self.bias),
            _ => None,
        }
    }
}

// --- the labeled rows, prepared ----------------------------------------------------------

/// A classifier's labeled rows as indices and probabilities, ready for weighted statistics.
pub(crate) struct Labeled {
    pub k: usize,
    pub truth: Vec<usize>,
    pub predicted: Vec<usize>,
    /// The labeled rows with probabilities (indices into the above).
    pub scored: Vec<usize>,
    /// `scored.len() × k` probabilities.
    pub probabilities: Vec<f64>,
    /// Per scored row: the ECE's bin, confidence and outcome (0 or 1).
    pub bin: Vec<usize>,
    pub confidence: Vec<f64>,
    pub outcome: Vec<f64>,
    /// Per label: the scored rows (positions in `scored`) by that label's probability.
    pub by_probability: Vec<Vec<usize>>,
    /// Strata of the bootstrap: labeled rows by truth.
    pub strata: Vec<Vec<usize>>,
}

/// Checks every row, and keeps the labeled ones. Returns them and how many rows there were.
pub(crate) fn prepare(classes: &Classes, rows: &[ClassifierRow<'_>]) -> Result<Labeled, QualityError> {
    let k = classes.labels.len();
    let mut labeled = Labeled {
        k,
        truth: Vec::new(),
        predicted: Vec::new(),
        scored: Vec::new(),
        probabilities: Vec::new(),
        bin: Vec::new(),
        confidence: Vec::new(),
        outcome: Vec::new(),
        by_probability: vec![Vec::new(); k],
        strata: Vec::new(),
    };
    let mut row_probabilities = vec![0.0; k];
    for (row, r) in rows.iter().enumerate() {
        let predicted = classes.label(row, LabelRole::Predicted, r.predicted)?;
        let scored = read_scores(classes, row, &r.scores, &mut row_probabilities)?;
        let Some(truth) = r.truth else { continue };
        let truth = classes.label(row, LabelRole::Truth, truth)?;
        let at = labeled.truth.len();
        labeled.truth.push(truth);
        labeled.predicted.push(predicted);
        if scored {
            labeled.scored.push(at);
            labeled.probabilities.extend_from_slice(&row_probabilities);
            let (confidence, outcome) = match classes.positive {
                Some(p) => (row_probabilities[p], truth == p),
                None => {
                    let top = argmax(&row_probabilities);
                    (row_probabilities[top], truth == top)
                }
            };
            labeled.bin.push(bin_of(confidence));
            labeled.confidence.push(confidence);
            labeled.outcome.push(f64::from(u8::from(outcome)));
        }
    }
    for (l, order) in labeled.by_probability.iter_mut().enumerate() {
        *order = (0..labeled.scored.len()).collect();
        let p = &labeled.probabilities;
        order.sort_unstable_by(|&a, &b| p[a * k + l].total_cmp(&p[b * k + l]));
    }
    labeled.strata = classes
        .stratum_order()
        .into_iter()
        .map(|l| (0..labeled.truth.len()).filter(|&i| labeled.truth[i] == l).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    Ok(labeled)
}

/// The first label of the highest probability (numpy's `argmax`).
pub(crate) fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = i;
        }
    }
    best
}

/// A row's probabilities into `out` (one a label); false when the row has none.
pub(crate) fn read_scores(
    classes: &Classes,
    row: usize,
    scores: &Scores<'_>,
    out: &mut [f64],
) -> Result<bool, QualityError> {
    let check = |index: usize, value: f64| {
        if (0.0..=1.0).contains(&value) { Ok(()) } else { Err(QualityError::NotAProbability { row, index, value }) }
    };
    match scores {
        Scores::Absent => Ok(false),
        Scores::Positive(s) => {
            let Some(p) = classes.positive else {
                return Err(QualityError::ScoreNeedsBinary { row });
            };
            check(p, *s)?;
            out[p] = *s;
            out[1 - p] = 1.0 - s;
            Ok(true)
        }
        Scores::ByLabel(values) => {
            if values.len() != out.len() {
                return Err(QualityError::ProbabilityCount { row, got: values.len(), expected: out.len() });
            }
            for (i, v) in values.iter().enumerate() {
                check(i, *v)?;
            }
            out.copy_from_slice(values);
            Ok(true)
        }
    }
}

/// Where each statistic sits in [`Labeled::statistics`]' output: per label precision,
/// recall, F1, AUC, Brier (5 a label), then accuracy, macro precision, recall, F1, AUC,
/// the summed Brier, and the ECE.
pub(crate) mod at {
    pub const PRECISION: usize = 0;
    pub const RECALL: usize = 1;
    pub const F1: usize = 2;
    pub const AUC: usize = 3;
    pub const BRIER: usize = 4;
    pub const PER_LABEL: usize = 5;
    pub fn label(l: usize, what: usize) -> usize {
        l * PER_LABEL + what
    }
    pub fn accuracy(k: usize) -> usize {
        k * PER_LABEL
    }
    pub fn macro_of(k: usize, what: usize) -> usize {
        k * PER_LABEL + 1 + what
    }
    pub fn brier_sum(k: usize) -> usize {
        k * PER_LABEL + 5
    }
    pub fn ece(k: usize) -> usize {
        k * PER_LABEL + 6
    }
    pub fn count(k: usize) -> usize {
        k * PER_LABEL + 7
    }
}

impl Labeled {
    /// Counts by truth and prediction, weighted.
    fn confusion(&self, w: &[f64]) -> Vec<f64> {
        let k = self.k;
        let mut counts = vec![0.0; k * k];
        for i in 0..self.truth.len() {
            counts[self.truth[i] * k + self.predicted[i]] += w[i];
        }
        counts
    }

    /// ROC AUC of label `l`'s probability against the truth being `l`, on weighted scored
    /// rows: the weighted Mann–Whitney statistic, ties counted half. NaN with one class.
    fn auc(&self, l: usize, w: &[f64]) -> f64 {
        let (k, p, order) = (self.k, &self.probabilities, &self.by_probability[l]);
        let (mut area, mut negatives_below, mut positives) = (0.0, 0.0, 0.0);
        let mut start = 0;
        while start < order.len() {
            let value = p[order[start] * k + l];
            let (mut group_positive, mut group_negative) = (0.0, 0.0);
            let mut end = start;
            while end < order.len() && p[order[end] * k + l] == value {
                let j = order[end];
                let row = self.scored[j];
                if self.truth[row] == l {
                    group_positive += w[row];
                } else {
                    group_negative += w[row];
                }
                end += 1;
            }
            area += group_positive * (negatives_below + 0.5 * group_negative);
            negatives_below += group_negative;
            positives += group_positive;
            start = end;
        }
        if positives == 0.0 || negatives_below == 0.0 {
            return f64::NAN;
        }
        area / (positives * negatives_below)
    }

    /// Every statistic of the report on weighted rows, into `out` ([`at`]'s layout). With
    /// every weight 1, the data's own figures.
    pub fn statistics(&self, w: &[f64], out: &mut [f64]) {
        let k = self.k;
        let counts = self.confusion(w);
        let mut total = 0.0;
        let mut correct = 0.0;
        let mut macro_sums = [0.0; 4];
        for l in 0..k {
            let tp = counts[l * k + l];
            let predicted: f64 = (0..k).map(|t| counts[t * k + l]).sum();
            let truth: f64 = (0..k).map(|p| counts[l * k + p]).sum();
            total += truth;
            correct += tp;
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, truth);
            let f1 = ratio(2.0 * tp, predicted + truth);
            let auc = self.auc(l, w);
            out[at::label(l, at::PRECISION)] = precision;
            out[at::label(l, at::RECALL)] = recall;
            out[at::label(l, at::F1)] = f1;
            out[at::label(l, at::AUC)] = auc;
            for (sum, v) in macro_sums.iter_mut().zip([precision, recall, f1, auc]) {
                *sum += v;
            }
        }
        out[at::accuracy(k)] = ratio(correct, total);
        for (what, sum) in macro_sums.iter().enumerate() {
            // NaN when any label's is
            out[at::macro_of(k, what)] = sum / k as f64;
        }
        // Brier per label and summed, over the scored rows
        let mut squares = vec![0.0; k];
        let (mut summed, mut weight) = (0.0, 0.0);
        for (j, &row) in self.scored.iter().enumerate() {
            let wi = w[row];
            if wi == 0.0 {
                continue;
            }
            let p = &self.probabilities[j * k..(j + 1) * k];
            let mut row_sum = 0.0;
            for l in 0..k {
                let d = p[l] - f64::from(u8::from(self.truth[row] == l));
                squares[l] += wi * d * d;
                row_sum += d * d;
            }
            summed += wi * row_sum;
            weight += wi;
        }
        for (l, square) in squares.iter().enumerate() {
            out[at::label(l, at::BRIER)] = ratio(*square, weight);
        }
        out[at::brier_sum(k)] = ratio(summed, weight);
        let scored_weights: Vec<f64> = self.scored.iter().map(|&row| w[row]).collect();
        out[at::ece(k)] = weighted_ece(&self.bin, &self.confidence, &self.outcome, &scored_weights);
    }
}

/// `a / b`, NaN when `b` is 0.
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { f64::NAN } else { a / b }
}

// --- judging -------------------------------------------------------------------------------

/// The first rule a figure fails: a count below what it needs.
pub(crate) fn lacking(rules: impl IntoIterator<Item = (u64, usize, Lacking)>) -> Option<Figure> {
    rules
        .into_iter()
        .find(|(count, needed, _)| *count < *needed as u64)
        .map(|(labeled, needed, lacking)| Figure::Insufficient { labeled, needed: needed as u64, lacking })
}

/// A measured figure, unless its interval is wider than `max_width`.
pub(crate) fn measured(labeled: u64, interval: Interval, max_width: Option<f64>) -> Figure {
    match max_width {
        Some(max_width) if interval.width() > max_width => {
            let width = interval.width();
            let needed = (labeled as f64 * (width / max_width).powi(2)).ceil() as u64;
            Figure::Insufficient {
                labeled,
                needed: needed.max(labeled + 1),
                lacking: Lacking::Width { width, max_width },
            }
        }
        _ => Figure::Measured { labeled, interval },
    }
}

/// The bootstrap interval of statistic `s`.
fn bootstrapped(value: f64, resampled: &[f64], options: &QualityOptions) -> Interval {
    let confidence = options.bootstrap.confidence;
    let (lower, upper) = percentiles(resampled, confidence).unwrap_or((value, value));
    Interval {
        value,
        lower,
        upper,
        confidence,
        method: IntervalMethod::Bootstrap { resamples: resampled.len(), seed: options.bootstrap.seed },
    }
}

/// The quality of a classifier's predictions over those that have a truth.
pub fn classifier_quality(
    classes: &Classes,
    rows: &[ClassifierRow<'_>],
    options: &QualityOptions,
) -> Result<ClassifierQuality, QualityError> {
    options.check()?;
    let data = prepare(classes, rows)?;
    let k = data.k;
    let n = data.truth.len();
    let confidence = options.bootstrap.confidence;
    let label = |l: usize| classes.labels[l].clone();

    let ones = vec![1.0; n];
    let mut point = vec![f64::NAN; at::count(k)];
    data.statistics(&ones, &mut point);
    let counts = data.confusion(&ones);
    let count = |t: usize, p: usize| counts[t * k + p] as u64;
    let truth_of = |l: usize| (0..k).map(|p| count(l, p)).sum::<u64>();
    let predicted_as = |l: usize| (0..k).map(|t| count(t, l)).sum::<u64>();
    let scored_truth: Vec<u64> =
        (0..k).map(|l| data.scored.iter().filter(|&&row| data.truth[row] == l).count() as u64).collect();
    let (labeled, scored) = (n as u64, data.scored.len() as u64);
    let (min_n, min_class) = (options.min_labeled, options.min_per_class);

    // the bootstrap, only when some figure can be judged
    let resampled = if n >= min_n {
        let b = &options.bootstrap;
        bootstrap(&data.strata, n, b.resamples, b.seed, at::count(k), |w, out| data.statistics(w, out))
    } else {
        vec![Vec::new(); at::count(k)]
    };
    let boot = |s: usize| bootstrapped(point[s], &resampled[s], options);
    let max_width = options.max_width;

    // the rules of each label's figures
    let labeled_rule = || (labeled, min_n, Lacking::Labeled);
    let scored_rule = || (scored, min_n, Lacking::Labeled);
    let precision_rules =
        |l: usize| [labeled_rule(), (predicted_as(l), min_class, Lacking::Predicted { label: label(l) })];
    let truth_rules = |l: usize| [labeled_rule(), (truth_of(l), min_class, Lacking::Truth { label: label(l) })];
    let auc_rules = |l: usize| {
        [
            scored_rule(),
            (scored_truth[l], min_class, Lacking::Truth { label: label(l) }),
            (scored - scored_truth[l], min_class, Lacking::OtherTruth { label: label(l) }),
        ]
    };

    let mut per_label = Vec::with_capacity(k);
    for l in 0..k {
        let tp = count(l, l);
        let precision = lacking(precision_rules(l)).map_or_else(
            || -> Result<Figure, QualityError> {
                let w = wilson_interval(tp, predicted_as(l), confidence)?;
                Ok(measured(predicted_as(l), Interval::of(w, IntervalMethod::Wilson), max_width))
            },
            Ok,
        )?;
        let recall = lacking(truth_rules(l)).map_or_else(
            || -> Result<Figure, QualityError> {
                let w = wilson_interval(tp, truth_of(l), confidence)?;
                Ok(measured(truth_of(l), Interval::of(w, IntervalMethod::Wilson), max_width))
            },
            Ok,
        )?;
        let f1 = lacking(truth_rules(l)).unwrap_or_else(|| measured(labeled, boot(at::label(l, at::F1)), max_width));
        let auc = lacking(auc_rules(l)).unwrap_or_else(|| measured(scored, boot(at::label(l, at::AUC)), max_width));
        let brier =
            lacking([scored_rule()]).unwrap_or_else(|| measured(scored, boot(at::label(l, at::BRIER)), max_width));
        per_label.push(LabelQuality {
            label: label(l),
            truth: truth_of(l),
            predicted: predicted_as(l),
            precision,
            recall,
            f1,
            auc,
            brier,
        });
    }

    let accuracy = lacking([labeled_rule()]).map_or_else(
        || -> Result<Figure, QualityError> {
            let correct = (0..k).map(|l| count(l, l)).sum();
            let w = wilson_interval(correct, labeled, confidence)?;
            Ok(measured(labeled, Interval::of(w, IntervalMethod::Wilson), max_width))
        },
        Ok,
    )?;
    let ece = lacking([scored_rule()]).unwrap_or_else(|| measured(scored, boot(at::ece(k)), max_width));

    let (averaging, precision, recall, f1, auc, brier) = match classes.positive {
        Some(p) => {
            let own = &per_label[p];
            (
                Averaging::Positive { label: label(p) },
                own.precision.clone(),
                own.recall.clone(),
                own.f1.clone(),
                own.auc.clone(),
                own.brier.clone(),
            )
        }
        None => {
            // a macro average needs every label's figure judged: the first lacking says why
            let macro_figure = |rules: &dyn Fn(usize) -> Vec<(u64, usize, Lacking)>, what: usize, count: u64| {
                lacking((0..k).flat_map(rules))
                    .unwrap_or_else(|| measured(count, boot(at::macro_of(k, what)), max_width))
            };
            (
                Averaging::Macro,
                macro_figure(&|l| precision_rules(l).to_vec(), at::PRECISION, labeled),
                macro_figure(&|l| truth_rules(l).to_vec(), at::RECALL, labeled),
                macro_figure(&|l| truth_rules(l).to_vec(), at::F1, labeled),
                macro_figure(&|l| auc_rules(l).to_vec(), at::AUC, scored),
                lacking([scored_rule()]).unwrap_or_else(|| measured(scored, boot(at::brier_sum(k)), max_width)),
            )
        }
    };

    let predictions = rows.len() as u64;
    Ok(ClassifierQuality {
        labels: classes.labels.clone(),
        feedback: FeedbackRate::of(predictions, labeled, confidence)?,
        with_probabilities: scored,
        averaging,
        accuracy,
        precision,
        recall,
        f1,
        auc,
        brier,
        ece,
        reliability: reliability_table(&data.bin, &data.confidence, &data.outcome),
        per_label,
        confusion: ConfusionMatrix {
            labels: classes.labels.clone(),
            counts: (0..k).map(|t| (0..k).map(|p| count(t, p)).collect()).collect(),
        },
    })
}

/// A regression's labeled rows as errors (predicted − true).
pub(crate) struct Errors {
    pub errors: Vec<f64>,
}

pub(crate) fn prepare_regression(rows: &[RegressionRow]) -> Result<Errors, QualityError> {
    let mut errors = Vec::new();
    for (row, r) in rows.iter().enumerate() {
        if !r.predicted.is_finite() {
            return Err(QualityError::NotFinite { row, what: "predicted", value: r.predicted });
        }
        if let Some(truth) = r.truth {
            if !truth.is_finite() {
                return Err(QualityError::NotFinite { row, what: "true", value: truth });
            }
            errors.push(r.predicted - truth);
        }
    }
    Ok(Errors { errors })
}

/// Where each statistic of a regression sits: MAE, RMSE, bias.
pub(crate) const REGRESSION_STATISTICS: usize = 3;

impl Errors {
    /// MAE, RMSE and bias of weighted errors.
    pub fn statistics(&self, w: &[f64], out: &mut [f64]) {
        let (mut absolute, mut squared, mut sum, mut weight) = (0.0, 0.0, 0.0, 0.0);
        for (e, wi) in self.errors.iter().zip(w) {
            absolute += wi * e.abs();
            squared += wi * e * e;
            sum += wi * e;
            weight += wi;
        }
        out[0] = ratio(absolute, weight);
        out[1] = ratio(squared, weight).sqrt();
        out[2] = ratio(sum, weight);
    }
}

/// The quality of a regression's predictions over those that have a truth.
pub fn regression_quality(rows: &[RegressionRow], options: &QualityOptions) -> Result<RegressionQuality, QualityError> {
    options.check()?;
    let data = prepare_regression(rows)?;
    let n = data.errors.len();
    let labeled = n as u64;
    let confidence = options.bootstrap.confidence;
    let feedback = FeedbackRate::of(rows.len() as u64, labeled, confidence)?;
    if n < options.min_labeled {
        let insufficient =
            || Figure::Insufficient { labeled, needed: options.min_labeled as u64, lacking: Lacking::Labeled };
        return Ok(RegressionQuality { feedback, mae: insufficient(), rmse: insufficient(), bias: insufficient() });
    }
    let mut point = [0.0; REGRESSION_STATISTICS];
    data.statistics(&vec![1.0; n], &mut point);
    let b = &options.bootstrap;
    let strata = [(0..n).collect::<Vec<_>>()];
    let resampled = bootstrap(&strata, n, b.resamples, b.seed, REGRESSION_STATISTICS, |w, out| data.statistics(w, out));
    let bias = Interval::of(t_interval(&data.errors, confidence)?, IntervalMethod::T);
    Ok(RegressionQuality {
        feedback,
        mae: Figure::Measured { labeled, interval: bootstrapped(point[0], &resampled[0], options) },
        rmse: Figure::Measured { labeled, interval: bootstrapped(point[1], &resampled[1], options) },
        bias: Figure::Measured { labeled, interval: bias },
    })
}
