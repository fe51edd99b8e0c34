//! Quality per slice: a window's headline figures per value of one field of its
//! predictions' records (a feature such as a region or a device, or the decision's `mode`,
//! the `variant`, the `model.version`), and the largest gap between slices with its
//! interval. A first fairness view: a model that is accurate on average and poor for one
//! group shows it here.
//!
//! **Which fields** ([`SliceField::parse`]): a feature of the component of type
//! `category`, `boolean` or `integer` (a `number` or a `text` takes too many values to
//! group by), as recorded (a feature telemetry keeps as a keyed hash slices by its hashes;
//! one it drops is not recorded); `mode`, `variant`, `model.version`. The request's
//! `context` is not recorded, so it cannot be sliced by: send what to slice by as a feature.
//! A record without the field is in the slice `(missing)`. At most [`MAX_SLICES`] slices, the
//! largest; the rest are pooled as `(other)`.
//!
//! **Figures** per slice: a classifier's accuracy, precision, recall and F1, a
//! regression's MAE, RMSE and bias, each as [`crate::quality`] measures it over the slice's
//! rows (with its own rules for too few labels), and the slice's feedback rate.
//!
//! **The largest gap** of a figure: between the slice where it is highest and the one
//! where it is lowest, among the slices where it is measured (two at least), `highest −
//! lowest`, with an interval for that difference of two independent groups:
//!
//! | figure | interval |
//! |---|---|
//! | accuracy; a binary classifier's precision and recall (proportions) | Newcombe's hybrid score interval (statsmodels' `confint_proportions_2indep(method="newcomb")`) |
//! | MAE, bias (means of errors) | Welch's t interval of the difference of the slices' mean absolute (or signed) errors |
//! | F1, a multiclass classifier's macro precision and recall, RMSE | normal: `gap ± z·√(s₁² + s₂²)`, each slice's `s` its interval's width / 2z |
//!
//! The interval is that of the pair's difference; having picked the pair as the most
//! apart among many, a gap between slices that do not truly differ still tends to look
//! large: read a gap whose interval holds 0 as no evidence of one.

use std::collections::{BTreeMap, HashMap};

use rein_stats::{Summary, compare_means, newcombe_interval, normal_critical};
use rein_system::{Component, Task, slice_problem};
use rein_telemetry::PredictionRecord;
use serde::Serialize;
use serde_json::Value as Json;

use crate::quality::{
    Classes, ClassifierQuality, FeedbackRate, Figure, Interval, IntervalMethod, QualityError, QualityOptions,
    classifier_quality, regression_quality,
};
use crate::quality_windows::{Row, classifier_rows, regression_rows};

/// The most slices a window is cut into; the smaller rest are pooled.
pub const MAX_SLICES: usize = 50;
/// The slice of records without the field.
pub const MISSING: &str = "(missing)";
/// The slice the smallest are pooled into past [`MAX_SLICES`].
pub const OTHER: &str = "(other)";

/// A field of a prediction's record to slice by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SliceField {
    /// A feature, as recorded.
    Feature(String),
    /// The decision's mode.
    Mode,
    /// The traffic variant.
    Variant,
    /// The version of the model that answered.
    ModelVersion,
}

/// A field that cannot be sliced by.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct SliceError {
    pub given: String,
    pub message: String,
    /// The fields the component can be sliced by.
    pub fields: Vec<String>,
}

impl SliceField {
    /// As written: the feature's name, `mode`, `variant`, `model.version`.
    pub fn name(&self) -> &str {
        match self {
            SliceField::Feature(name) => name,
            SliceField::Mode => "mode",
            SliceField::Variant => "variant",
            SliceField::ModelVersion => "model.version",
        }
    }

    /// The fields `component` can be sliced by.
    pub fn fields(component: &Component) -> Vec<String> {
        component.slice_fields().into_iter().map(String::from).collect()
    }

    /// The field `given` names (`region`, `features.region`, `mode`, `variant`,
    /// `model.version`), or why it cannot be sliced by (`rein_system::slice_problem`).
    pub fn parse(component: &Component, given: &str) -> Result<SliceField, SliceError> {
        let name = given.trim();
        if let Some((message, hint)) = slice_problem(&component.name, &component.features, name) {
            return Err(SliceError {
                given: given.to_string(),
                message: format!("{message}: {hint}"),
                fields: SliceField::fields(component),
            });
        }
        Ok(match name {
            "mode" if component.feature_index("mode").is_none() => SliceField::Mode,
            "variant" if component.feature_index("variant").is_none() => SliceField::Variant,
            "model.version" => SliceField::ModelVersion,
            _ => SliceField::Feature(name.strip_prefix("features.").unwrap_or(name).to_string()),
        })
    }

    /// The slice a record is in.
    pub fn value_of(&self, record: &PredictionRecord) -> String {
        let p = &record.prediction;
        match self {
            SliceField::Mode => p.mode.clone(),
            SliceField::Variant => p.variant.clone(),
            SliceField::ModelVersion => p.model_version.clone(),
            SliceField::Feature(name) => match p.features.to_value().get(name) {
                Some(Json::String(s)) => s.clone(),
                Some(Json::Bool(b)) => b.to_string(),
                Some(Json::Number(n)) => n.to_string(),
                _ => MISSING.to_string(),
            },
        }
    }
}

/// One slice's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SliceQuality {
    pub value: String,
    pub predictions: u64,
    pub feedback: FeedbackRate,
    /// The headline figures by name: accuracy, precision, recall, f1 (classifiers); mae,
    /// rmse, bias (regressions).
    pub figures: BTreeMap<&'static str, Figure>,
}

/// The largest gap of one figure between slices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    pub metric: &'static str,
    /// The slices it is highest and lowest in.
    pub highest: String,
    pub lowest: String,
    /// `highest − lowest`, and its interval.
    pub gap: Interval,
    /// Slices in which the figure is measured.
    pub measured_in: usize,
}

/// A window's quality per slice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slices {
    pub field: String,
    /// Largest first (by predictions).
    pub slices: Vec<SliceQuality>,
    /// One a figure measured in two slices or more.
    pub gaps: Vec<Gap>,
}

/// What a slice's gap needs beside its figures.
struct Group {
    classifier: Option<ClassifierQuality>,
    /// A regression's errors (predicted − true) of labeled rows.
    errors: Vec<f64>,
}

/// `rows` cut into slices by their value of `field` (the `at`-th of their slice values),
/// each measured, and the largest gaps.
pub(crate) fn slices(
    component: &Component,
    field: &SliceField,
    at: usize,
    rows: &[Row],
    options: &QualityOptions,
) -> Result<Slices, QualityError> {
    let mut by_value: HashMap<&str, Vec<Row>> = HashMap::new();
    for r in rows {
        by_value.entry(r.slices.get(at).map_or(MISSING, String::as_str)).or_default().push(r.clone());
    }
    let mut groups: Vec<(String, Vec<Row>)> = by_value.into_iter().map(|(v, rows)| (v.to_string(), rows)).collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    if groups.len() > MAX_SLICES {
        let rest: Vec<Row> = groups.drain(MAX_SLICES - 1..).flat_map(|(_, rows)| rows).collect();
        groups.push((OTHER.to_string(), rest));
    }
    let classes = component.task.is_classification().then(|| Classes::of(component)).transpose()?;
    let mut measured = Vec::with_capacity(groups.len());
    let mut out = Vec::with_capacity(groups.len());
    for (value, rows) in groups {
        let (feedback, figures, classifier, errors) = match &classes {
            Some(classes) => {
                let q = classifier_quality(classes, &classifier_rows(&rows), options)?;
                let figures = BTreeMap::from([
                    ("accuracy", q.accuracy.clone()),
                    ("precision", q.precision.clone()),
                    ("recall", q.recall.clone()),
                    ("f1", q.f1.clone()),
                ]);
                (q.feedback.clone(), figures, Some(q), Vec::new())
            }
            None => {
                let regression = regression_rows(&rows);
                let q = regression_quality(&regression, options)?;
                let errors = regression.iter().filter_map(|r| Some(r.predicted - r.truth?)).collect();
                let figures =
                    BTreeMap::from([("mae", q.mae.clone()), ("rmse", q.rmse.clone()), ("bias", q.bias.clone())]);
                (q.feedback.clone(), figures, None, errors)
            }
        };
        out.push(SliceQuality { value, predictions: rows.len() as u64, feedback, figures });
        measured.push(Group { classifier, errors });
    }
    let metrics: &[&'static str] =
        if classes.is_some() { &["accuracy", "precision", "recall", "f1"] } else { &["mae", "rmse", "bias"] };
    let confidence = options.bootstrap.confidence;
    let mut gaps = Vec::new();
    for &metric in metrics {
        let judged: Vec<(usize, &Interval)> =
            out.iter().enumerate().filter_map(|(i, s)| Some((i, s.figures[metric].interval()?))).collect();
        if judged.len() < 2 {
            continue;
        }
        let hi = judged.iter().max_by(|a, b| a.1.value.total_cmp(&b.1.value)).copied().unwrap();
        let lo = judged.iter().min_by(|a, b| a.1.value.total_cmp(&b.1.value)).copied().unwrap();
        if hi.0 == lo.0 {
            continue;
        }
        let gap = gap_interval(metric, component.task, &measured[hi.0], &measured[lo.0], hi.1, lo.1, confidence)?;
        gaps.push(Gap {
            metric,
            highest: out[hi.0].value.clone(),
            lowest: out[lo.0].value.clone(),
            gap,
            measured_in: judged.len(),
        });
    }
    Ok(Slices { field: field.name().to_string(), slices: out, gaps })
}

/// Counts of a binary proportion of a classifier's quality: (successes, trials).
fn proportion(metric: &str, q: &ClassifierQuality, positive: usize) -> (u64, u64) {
    let k = q.labels.len();
    let tp = q.confusion.counts[positive][positive];
    match metric {
        "accuracy" => ((0..k).map(|l| q.confusion.counts[l][l]).sum(), q.feedback.labeled),
        "precision" => (tp, q.per_label[positive].predicted),
        _ => (tp, q.per_label[positive].truth),
    }
}

/// The interval of `highest − lowest` (see the module's table).
fn gap_interval(
    metric: &'static str,
    task: Task,
    hi: &Group,
    lo: &Group,
    hi_figure: &Interval,
    lo_figure: &Interval,
    confidence: f64,
) -> Result<Interval, QualityError> {
    let of = |i: rein_stats::Interval, method| Interval {
        value: i.estimate,
        lower: i.lower,
        upper: i.upper,
        confidence,
        method,
    };
    let binary = task == Task::Binary;
    match (metric, &hi.classifier, &lo.classifier) {
        ("accuracy", Some(a), Some(b)) | ("precision" | "recall", Some(a), Some(b))
            if metric == "accuracy" || binary =>
        {
            let positive = a.per_label.iter().position(|l| Some(&l.label) == averaged_label(a)).unwrap_or(0);
            let (c1, n1) = proportion(metric, a, positive);
            let (c2, n2) = proportion(metric, b, positive);
            Ok(of(newcombe_interval(c1, n1, c2, n2, confidence)?, IntervalMethod::Newcombe))
        }
        ("mae" | "bias", None, None) => {
            let values = |g: &Group| -> Vec<f64> {
                if metric == "mae" { g.errors.iter().map(|e| e.abs()).collect() } else { g.errors.clone() }
            };
            let (a, b) = (Summary::from_values(&values(hi))?, Summary::from_values(&values(lo))?);
            let c = compare_means(&b, &a, confidence)?;
            let dof = match c.test {
                rein_stats::ComparisonTest::Welch { degrees_of_freedom } => degrees_of_freedom,
                _ => f64::NAN,
            };
            Ok(of(c.difference, IntervalMethod::Welch { degrees_of_freedom: dof }))
        }
        _ => {
            let z = normal_critical(confidence)?;
            let s = |i: &Interval| i.width() / (2.0 * z);
            let std_dev = (s(hi_figure).powi(2) + s(lo_figure).powi(2)).sqrt();
            let value = hi_figure.value - lo_figure.value;
            Ok(Interval {
                value,
                lower: value - z * std_dev,
                upper: value + z * std_dev,
                confidence,
                method: IntervalMethod::Normal { std_dev },
            })
        }
    }
}

/// A binary classifier's positive label.
fn averaged_label(q: &ClassifierQuality) -> Option<&String> {
    match &q.averaging {
        crate::quality::Averaging::Positive { label } => Some(label),
        crate::quality::Averaging::Macro => None,
    }
}
