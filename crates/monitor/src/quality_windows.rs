//! A component's quality over the store's windows: for each closed window the quality
//! measured on its predictions that feedback labeled ([`crate::quality`]), the feedback
//! rate, and the quality estimated from its probabilities ([`crate::estimate`]) beside it,
//! with the sign of concept drift where the two part (`docs/monitoring.md`).
//!
//! **Windows** are the goals' ([`crate::window`]): tumbling, by event time, aligned to the
//! epoch, closed once the instant judged at reaches their end; that instant is the one
//! asked for, else just after the newest recorded prediction, else now.
//!
//! **A row** is a recorded prediction of the component: the label (or value) its output
//! answered, what the product acted on, and its probabilities (`output.probabilities`; a
//! declared output, a fallback's or an override's, has none and counts for the measures
//! of labels only). **Its truth** is given by its newest feedback that gives one: a
//! `label` feedback's label (a regression's value), `correct` the answered label (value),
//! `incorrect` the label (value) it names, which the server fills in for a binary
//! component. A label the component does not declare (its labels changed since) is no
//! truth; a prediction whose answered label it does not declare is left out and counted
//! in `unreadable`.
//!
//! **The reference** the estimate is calibrated on ([`Reference`]): by default the earliest
//! of the windows looked at, taken oldest first until they hold
//! [`EstimateOptions::min_reference`] labeled rows with probabilities (all of them when they
//! never do, and the estimate then says it is not trusted); or a time range given. A
//! window of the reference is estimated in-sample (`in_reference`).
//!
//! **Concept drift?** ([`ConceptDrift`]): the estimate follows what a change of inputs
//! does to quality; a change of what inputs mean only labels reveal. A window outside the
//! reference is marked when its realized accuracy fell below the reference's (Newcombe's
//! interval of the difference lies wholly below 0) while its estimated accuracy held (its
//! interval reaches the reference's realized accuracy): "realized falling while the
//! estimate holds: concept drift?".
//!
//! **Cost**: one visit of each window's predictions (with their feedback), the rows kept
//! in memory (each figure's bootstrap resamples them): O(predictions of the windows).

use std::time::{SystemTime, UNIX_EPOCH};

use rein_stats::newcombe_interval;
use rein_system::{Component, Metric, MetricKind, QualityMeasure, System, Task, format_duration};
use rein_telemetry::{FeedbackKind, PredictionRecord, Store, StoreError, WindowQuery};
use serde::Serialize;
use serde_json::Value as Json;

use crate::estimate::{Calibration, CalibrationSummary, EstimateOptions, Estimated, estimate};
use crate::goals::AsOf;
use crate::population::{Admitted, FilterScope, Population, RecordRules};
use crate::quality::{
    Classes, ClassifierQuality, ClassifierRow, FeedbackRate, Figure, Interval, IntervalMethod, Lacking, QualityError,
    RegressionQuality, RegressionRow, Scores, classifier_quality, regression_quality,
};
use crate::slices::{SliceField, Slices, slices};
use crate::window::{Bounds, IntervalMethod as WindowMethod, Measurement, Window, closed_windows};

/// The signature's words.
pub const CONCEPT_DRIFT: &str = "realized falling while the estimate holds: concept drift?";

/// Windows looked at when none is asked for.
pub const DEFAULT_WINDOWS: usize = 8;

/// What the estimate is calibrated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reference {
    /// The earliest windows looked at, until they hold enough labeled rows.
    #[default]
    Earliest,
    /// The component's predictions in `[since_ms, until_ms)`.
    Range { since_ms: i64, until_ms: i64 },
}

/// What to measure a component's quality over.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityQuery {
    pub component: String,
    /// The windows' length.
    pub window_ms: i64,
    /// How many closed windows back, oldest first in the answer.
    pub windows: usize,
    /// The instant to judge at (unix ms); `None`: just after the newest recorded prediction.
    pub at_ms: Option<i64>,
    pub reference: Reference,
    /// The fields to slice each window by, each apart (none: no slices).
    pub slices: Vec<SliceField>,
    /// The estimate's options, the quality's among them.
    pub options: EstimateOptions,
}

/// Why a component's quality cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum QualityReadError {
    #[error("no component is named `{0}`")]
    UnknownComponent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Quality(#[from] QualityError),
}

/// A component's quality over its windows.
#[derive(Debug, Clone, Serialize)]
pub struct QualityReport {
    pub system: String,
    pub component: String,
    pub task: &'static str,
    /// The windows' length, as written (`1d`) and in milliseconds.
    pub window: String,
    pub window_ms: i64,
    pub as_of_ms: i64,
    pub as_of: AsOf,
    pub confidence: f64,
    /// What the estimate is calibrated on (classifiers).
    pub reference: Option<ReferenceSummary>,
    /// Oldest first; the last is the latest closed window.
    pub windows: Vec<WindowQuality>,
    /// What the estimate cannot see, and what to read from it.
    pub notes: Vec<String>,
}

/// The reference the estimate is calibrated on.
#[derive(Debug, Clone, Serialize)]
pub struct ReferenceSummary {
    pub from_ms: i64,
    pub until_ms: i64,
    /// `earliest` windows, or a `range` given.
    pub chosen: &'static str,
    /// Its realized accuracy, what [`ConceptDrift`] compares a window's with.
    pub accuracy: Figure,
    pub calibration: CalibrationSummary,
}

/// What labels measured: a classifier's or a regression's quality.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Measured {
    Classifier(Box<ClassifierQuality>),
    Regression(Box<RegressionQuality>),
}

impl Measured {
    pub fn feedback(&self) -> &FeedbackRate {
        match self {
            Measured::Classifier(q) => &q.feedback,
            Measured::Regression(q) => &q.feedback,
        }
    }

    /// The figure a quality measure names (`label`: one label's, else the headline).
    pub fn figure(&self, measure: QualityMeasure, label: Option<&str>) -> Option<&Figure> {
        match self {
            Measured::Classifier(q) => q.figure(measure, label),
            Measured::Regression(q) => q.figure(measure),
        }
    }
}

/// One window's quality.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowQuality {
    pub from_ms: i64,
    pub until_ms: i64,
    /// The component's predictions in the window that were read.
    pub predictions: u64,
    /// Predictions left out: their answer is not a declared label (or, for a regression,
    /// not a number).
    pub unreadable: u64,
    /// Labeled predictions over all.
    pub feedback: FeedbackRate,
    /// Measured over the labeled predictions.
    pub measured: Measured,
    /// Estimated over every prediction with probabilities (classifiers).
    pub estimated: Option<Estimated>,
    /// Whether the window is part of the reference (its estimate is then in-sample).
    pub in_reference: bool,
    /// The headline figures, realized and estimated, side by side (classifiers).
    pub beside: Vec<Beside>,
    /// Set when the realized accuracy fell while the estimate held.
    pub concept_drift: Option<ConceptDrift>,
    /// The same figures per value of each slicing field, and the largest gaps.
    pub slices: Vec<Slices>,
}

/// A figure realized and estimated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Beside {
    pub metric: &'static str,
    pub realized: Option<Interval>,
    pub estimated: Option<Interval>,
}

/// The signature of concept drift in a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConceptDrift {
    pub metric: &'static str,
    /// The window's realized accuracy, the reference's, and the estimate.
    pub realized: f64,
    pub reference: f64,
    pub estimated: Interval,
    /// Realized minus the reference's (Newcombe).
    pub difference: Interval,
    pub text: &'static str,
}

/// One prediction, read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub label: Option<String>,
    pub value: Option<f64>,
    pub probabilities: Option<Vec<f64>>,
    pub truth_label: Option<String>,
    pub truth_value: Option<f64>,
    /// Its value of each slicing field, in order.
    pub slices: Vec<String>,
}

/// The rows of one window, and how many were unreadable.
pub(crate) struct Read {
    pub rows: Vec<Row>,
    pub unreadable: u64,
}

impl Read {
    pub(crate) fn classifier_rows(&self) -> Vec<ClassifierRow<'_>> {
        classifier_rows(&self.rows)
    }
}

pub(crate) fn classifier_rows(rows: &[Row]) -> Vec<ClassifierRow<'_>> {
    rows.iter()
        .filter_map(|r| {
            Some(ClassifierRow {
                predicted: r.label.as_deref()?,
                scores: r.probabilities.as_deref().map_or(Scores::Absent, Scores::ByLabel),
                truth: r.truth_label.as_deref(),
            })
        })
        .collect()
}

pub(crate) fn regression_rows(rows: &[Row]) -> Vec<RegressionRow> {
    rows.iter().filter_map(|r| Some(RegressionRow { predicted: r.value?, truth: r.truth_value })).collect()
}

/// A record as a row of `component`; `None` when its answer cannot be read.
pub(crate) fn row_of(component: &Component, record: &PredictionRecord, slices: &[SliceField]) -> Option<Row> {
    let output = record.prediction.output.to_value();
    let slices = slices.iter().map(|s| s.value_of(record)).collect();
    let mut row = Row { label: None, value: None, probabilities: None, truth_label: None, truth_value: None, slices };
    if component.task == Task::Regression {
        row.value = Some(output.get("value").and_then(Json::as_f64).filter(|v| v.is_finite())?);
        row.truth_value = record.feedback.iter().rev().find_map(|f| match f.kind {
            FeedbackKind::Correct => row.value,
            FeedbackKind::Label | FeedbackKind::Incorrect => f.value.filter(|v| v.is_finite()),
        });
        return Some(row);
    }
    let label = output.get("label").and_then(Json::as_str).filter(|l| component.label_index(l).is_some())?;
    row.label = Some(label.to_string());
    if let Some(Json::Object(ps)) = output.get("probabilities") {
        let probabilities: Option<Vec<f64>> = component
            .labels
            .iter()
            .map(|l| ps.get(l).and_then(Json::as_f64).filter(|p| (0.0..=1.0).contains(p)))
            .collect();
        row.probabilities = probabilities;
    }
    row.truth_label = record.feedback.iter().rev().find_map(|f| {
        let named = f.label.as_deref().filter(|l| component.label_index(l).is_some());
        match f.kind {
            FeedbackKind::Correct => Some(named.unwrap_or(label).to_string()),
            FeedbackKind::Label | FeedbackKind::Incorrect => named.map(str::to_string),
        }
    });
    Some(row)
}

/// The component's predictions in `[since_ms, until_ms)`, read.
pub(crate) fn read(
    store: &dyn Store,
    component: &Component,
    since_ms: i64,
    until_ms: i64,
    slices: &[SliceField],
) -> Result<Read, StoreError> {
    let query = WindowQuery {
        component: Some(component.name.clone()),
        since_ms: Some(since_ms),
        until_ms: Some(until_ms),
        with_feedback: false,
    };
    let mut read = Read { rows: Vec::new(), unreadable: 0 };
    store.visit_predictions(&query, &mut |record| {
        match row_of(component, &record, slices) {
            Some(row) => read.rows.push(row),
            None => read.unreadable += 1,
        }
        Ok(())
    })?;
    Ok(read)
}

/// The labeled rows with probabilities among `rows`.
fn labeled_scored(rows: &[Row]) -> usize {
    rows.iter().filter(|r| r.truth_label.is_some() && r.probabilities.is_some()).count()
}

/// The instant windows are judged at, as the goals choose it.
pub fn as_of(store: &dyn Store, at_ms: Option<i64>) -> Result<(i64, AsOf), StoreError> {
    Ok(match at_ms {
        Some(at) => (at, AsOf::Given),
        None => match store.newest_prediction_ms()? {
            Some(newest) => (newest.saturating_add(1), AsOf::NewestPrediction),
            None => (SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64), AsOf::Clock),
        },
    })
}

/// A component's quality over its closed windows, as of `query.at_ms`.
pub fn quality(store: &dyn Store, system: &System, query: &QualityQuery) -> Result<QualityReport, QualityReadError> {
    let component = system
        .component(&query.component)
        .ok_or_else(|| QualityReadError::UnknownComponent(query.component.clone()))?;
    let (as_of_ms, as_of) = as_of(store, query.at_ms)?;
    let windows = closed_windows(query.window_ms, as_of_ms, query.windows);
    let slices = &query.slices;
    let reads: Vec<Read> =
        windows.iter().map(|w| read(store, component, w.start_ms, w.end_ms, slices)).collect::<Result<_, _>>()?;

    // the reference: the earliest windows until they hold enough, or the range given
    let (calibration, reference, in_reference) = if component.task == Task::Regression {
        (None, None, 0)
    } else {
        let classes = Classes::of(component)?;
        let (rows, from_ms, until_ms, chosen, taken): (Vec<Row>, i64, i64, &'static str, usize) = match query.reference
        {
            Reference::Range { since_ms, until_ms } => {
                (read(store, component, since_ms, until_ms, &[])?.rows, since_ms, until_ms, "range", 0)
            }
            Reference::Earliest => {
                let mut taken = 0;
                let mut held = 0;
                for r in &reads {
                    if held >= query.options.min_reference {
                        break;
                    }
                    held += labeled_scored(&r.rows);
                    taken += 1;
                }
                let rows = reads[..taken].iter().flat_map(|r| r.rows.iter().cloned()).collect();
                let from = windows.first().map_or(as_of_ms, |w| w.start_ms);
                let until = windows.get(taken.max(1) - 1).map_or(as_of_ms, |w| w.end_ms);
                (rows, from, until, "earliest", taken)
            }
        };
        let reference_rows = classifier_rows(&rows);
        let calibration = Calibration::fit(&classes, &reference_rows, &query.options)?;
        let realized = classifier_quality(&classes, &reference_rows, &query.options.quality)?;
        let summary = ReferenceSummary {
            from_ms,
            until_ms,
            chosen,
            accuracy: realized.accuracy.clone(),
            calibration: calibration.summary.clone(),
        };
        (Some((calibration, realized)), Some(summary), taken)
    };

    let mut out = Vec::with_capacity(windows.len());
    for (i, (w, r)) in windows.iter().zip(&reads).enumerate() {
        let reference = calibration.as_ref().map(|(c, q)| (c, q));
        out.push(window_quality(component, *w, r, reference, i < in_reference, slices, &query.options)?);
    }
    let mut notes = Vec::new();
    if component.task != Task::Regression {
        notes.push(
            "the estimate follows what a change of inputs (data drift) does to quality before the labels arrive; it \
             cannot see concept drift, the same inputs now meaning something else: only labels reveal that, and a \
             realized quality falling while the estimate holds is its signature"
                .to_string(),
        );
        if let Some(r) = &reference
            && !r.calibration.trusted
        {
            let why: Vec<String> = r.calibration.distrust.iter().map(|d| d.to_string()).collect();
            notes.push(format!("the estimate is not to be trusted: {}", why.join("; ")));
        }
    }
    Ok(QualityReport {
        system: system.name.clone(),
        component: component.name.clone(),
        task: component.task.as_str(),
        window: format_duration(std::time::Duration::from_millis(query.window_ms.max(0) as u64)),
        window_ms: query.window_ms,
        as_of_ms,
        as_of,
        confidence: query.options.quality.bootstrap.confidence,
        reference,
        windows: out,
        notes,
    })
}

/// The quality of `component`'s latest window of `window_ms` closed at `at_ms` (unix ms),
/// its estimate calibrated on the earliest of the [`DEFAULT_WINDOWS`] windows up to it:
/// what a monitor checks (component, window, as-of → figures). `None` when no window is
/// closed then. Reads [`DEFAULT_WINDOWS`] windows of the component's predictions.
pub fn latest(
    store: &dyn Store,
    system: &System,
    component: &str,
    window_ms: i64,
    at_ms: i64,
) -> Result<Option<WindowQuality>, QualityReadError> {
    let query = QualityQuery {
        component: component.to_string(),
        window_ms,
        windows: DEFAULT_WINDOWS,
        at_ms: Some(at_ms),
        reference: Reference::Earliest,
        slices: Vec::new(),
        options: EstimateOptions::default(),
    };
    Ok(quality(store, system, &query)?.windows.pop())
}

/// What a classifier's estimate is compared with: its calibration and the reference's
/// realized quality.
pub type ReferenceQuality<'a> = (&'a Calibration, &'a ClassifierQuality);

/// The quality of one window of `component` whose predictions `read` holds.
pub(crate) fn window_quality(
    component: &Component,
    window: Window,
    read: &Read,
    reference: Option<ReferenceQuality<'_>>,
    in_reference: bool,
    slices_by: &[SliceField],
    options: &EstimateOptions,
) -> Result<WindowQuality, QualityError> {
    let (measured, estimated) = if component.task == Task::Regression {
        (Measured::Regression(Box::new(regression_quality(&regression_rows(&read.rows), &options.quality)?)), None)
    } else {
        let classes = Classes::of(component)?;
        let rows = read.classifier_rows();
        let measured = classifier_quality(&classes, &rows, &options.quality)?;
        let estimated = reference.map(|(c, _)| estimate(c, &rows, options)).transpose()?;
        (Measured::Classifier(Box::new(measured)), estimated)
    };
    let beside = match (&measured, &estimated) {
        (Measured::Classifier(q), Some(e)) => [
            ("accuracy", &q.accuracy, &e.accuracy),
            ("precision", &q.precision, &e.precision),
            ("recall", &q.recall, &e.recall),
            ("f1", &q.f1, &e.f1),
            ("auc", &q.auc, &e.auc),
        ]
        .into_iter()
        .map(|(metric, r, e)| Beside { metric, realized: r.interval().copied(), estimated: e.interval().copied() })
        .collect(),
        _ => Vec::new(),
    };
    let concept_drift = match (&measured, &estimated, reference) {
        (Measured::Classifier(q), Some(e), Some((_, reference))) if !in_reference => {
            concept_drift(q, e, reference, options.quality.bootstrap.confidence)
        }
        _ => None,
    };
    let slices = slices_by
        .iter()
        .enumerate()
        .map(|(at, field)| slices(component, field, at, &read.rows, &options.quality))
        .collect::<Result<_, _>>()?;
    Ok(WindowQuality {
        from_ms: window.start_ms,
        until_ms: window.end_ms,
        predictions: read.rows.len() as u64,
        unreadable: read.unreadable,
        feedback: measured.feedback().clone(),
        measured,
        estimated,
        in_reference,
        beside,
        concept_drift,
        slices,
    })
}

/// Correct and labeled rows of a classifier's quality.
fn correct_of(q: &ClassifierQuality) -> (u64, u64) {
    let k = q.labels.len();
    let correct = (0..k).map(|l| q.confusion.counts[l][l]).sum();
    (correct, q.feedback.labeled)
}

/// The concept-drift signature, when the realized accuracy fell below the reference's while
/// the estimated accuracy held.
pub fn concept_drift(
    window: &ClassifierQuality,
    estimated: &Estimated,
    reference: &ClassifierQuality,
    confidence: f64,
) -> Option<ConceptDrift> {
    let (Some(realized), Some(before), Some(estimate)) =
        (window.accuracy.value(), reference.accuracy.value(), estimated.accuracy.interval())
    else {
        return None;
    };
    let (c1, n1) = correct_of(window);
    let (c2, n2) = correct_of(reference);
    let d = newcombe_interval(c1, n1, c2, n2, confidence).ok()?;
    let fell = d.upper < 0.0;
    let held = estimate.upper >= before;
    (fell && held).then_some(ConceptDrift {
        metric: "accuracy",
        realized,
        reference: before,
        estimated: *estimate,
        difference: Interval {
            value: d.estimate,
            lower: d.lower,
            upper: d.upper,
            confidence,
            method: IntervalMethod::Newcombe,
        },
        text: CONCEPT_DRIFT,
    })
}

// --- a quality metric of the goals -----------------------------------------------------

/// What a figure lacked, in words.
fn lacking_text(lacking: &Lacking) -> String {
    match lacking {
        Lacking::Labeled => "labeled predictions".into(),
        Lacking::Truth { label } => format!("labeled predictions whose truth is `{label}`"),
        Lacking::OtherTruth { label } => format!("labeled predictions whose truth is not `{label}`"),
        Lacking::Predicted { label } => format!("labeled predictions answered `{label}`"),
        Lacking::Width { width, max_width } => format!("a narrower interval ({width:.3} wide, at most {max_width})"),
        Lacking::Rows => "predictions with probabilities".into(),
        Lacking::ExpectedTruth { label, .. } => format!("predictions expected to be `{label}`"),
        Lacking::ExpectedOtherTruth { label, .. } => format!("predictions expected not to be `{label}`"),
    }
}

/// A quality figure as a goal's measurement of `window`.
fn measurement(
    window: Window,
    figure: Option<&Figure>,
    filter_errors: u64,
    filter_error: Option<String>,
) -> Measurement {
    let mut m = Measurement {
        window,
        value: None,
        count: 0,
        matching: None,
        interval: None,
        filter_errors,
        filter_error,
        too_few_labels: false,
        note: None,
    };
    match figure {
        Some(Figure::Measured { labeled, interval }) => {
            let method = match interval.method {
                IntervalMethod::Wilson => WindowMethod::Wilson,
                IntervalMethod::T => WindowMethod::T,
                IntervalMethod::Bootstrap { .. } => WindowMethod::Bootstrap,
                IntervalMethod::Normal { .. } | IntervalMethod::Newcombe | IntervalMethod::Welch { .. } => {
                    WindowMethod::Normal
                }
            };
            m.value = Some(interval.value);
            m.count = *labeled;
            m.interval = Some(Bounds { lower: Some(interval.lower), upper: Some(interval.upper), method });
        }
        Some(Figure::Insufficient { labeled, needed, lacking }) => {
            m.count = *labeled;
            m.too_few_labels = true;
            m.note = Some(format!("too few to judge: {labeled} {}, {needed} needed", lacking_text(lacking)));
        }
        None => m.note = Some("the component's task has no such figure".into()),
    }
    m
}

/// A goal's quality metric (measured from labels, or estimated) over `windows`, oldest
/// first, each over the predictions of the metric's population (its component, mode,
/// guardrail and filter). An estimate is calibrated on the earliest of `windows`, until
/// they hold [`EstimateOptions::min_reference`] labeled rows with probabilities; when the
/// calibration is not trusted, each figure's note says why.
pub(crate) fn metric_series(
    store: &dyn Store,
    system: &System,
    metric: &Metric,
    windows: &[Window],
    root: &cel::Context<'_, '_>,
    options: &EstimateOptions,
) -> Result<Vec<Measurement>, StoreError> {
    let MetricKind::Quality { measure, label, estimated } = &metric.kind else { return Ok(Vec::new()) };
    let Some(component) = metric.population.component.as_deref().and_then(|c| system.component(c)) else {
        return Ok(windows.iter().map(|w| measurement(*w, None, 0, None)).collect());
    };
    let population = Population::new(&metric.population);
    let mut reads = Vec::with_capacity(windows.len());
    for w in windows {
        let query = WindowQuery {
            component: Some(component.name.clone()),
            since_ms: Some(w.start_ms),
            until_ms: Some(w.end_ms),
            with_feedback: false,
        };
        let (mut rows, mut errors, mut first_error) = (Vec::new(), 0u64, None);
        store.visit_predictions(&query, &mut |record| {
            let rules = RecordRules::of(&record);
            let scope = population.filters().then(|| FilterScope::new(root, system, &record, &rules));
            match population.admits(&record, &rules, scope.as_ref()) {
                Admitted::Yes => rows.extend(row_of(component, &record, &[])),
                Admitted::No => {}
                Admitted::FilterFailed(error) => {
                    errors += 1;
                    first_error.get_or_insert(error);
                }
            }
            Ok(())
        })?;
        reads.push((rows, errors, first_error));
    }
    let label = label.as_deref();
    let failed = |w: Window, e: QualityError| {
        let mut m = measurement(w, None, 0, None);
        m.note = Some(format!("cannot be computed: {e}"));
        m
    };
    if component.task == Task::Regression {
        return Ok(windows
            .iter()
            .zip(reads)
            .map(|(w, (rows, errors, error))| match regression_quality(&regression_rows(&rows), &options.quality) {
                Ok(q) => measurement(*w, q.figure(*measure), errors, error),
                Err(e) => failed(*w, e),
            })
            .collect());
    }
    let classes = match Classes::of(component) {
        Ok(classes) => classes,
        Err(e) => return Ok(windows.iter().map(|w| failed(*w, e.clone())).collect()),
    };
    let calibration = if *estimated {
        let mut reference = Vec::new();
        for (rows, ..) in &reads {
            if labeled_scored(&reference) >= options.min_reference {
                break;
            }
            reference.extend(rows.iter().cloned());
        }
        match Calibration::fit(&classes, &classifier_rows(&reference), options) {
            Ok(c) => Some(c),
            Err(e) => return Ok(windows.iter().map(|w| failed(*w, e.clone())).collect()),
        }
    } else {
        None
    };
    let mut out = Vec::with_capacity(windows.len());
    for (w, (rows, errors, error)) in windows.iter().zip(reads) {
        let rows = classifier_rows(&rows);
        let m = match &calibration {
            None => classifier_quality(&classes, &rows, &options.quality)
                .map(|q| measurement(*w, q.figure(*measure, label), errors, error)),
            Some(c) => estimate(c, &rows, options).map(|e| {
                let mut m = measurement(*w, e.figure(*measure, label), errors, error);
                if !c.summary.trusted && m.note.is_none() {
                    let why: Vec<String> = c.summary.distrust.iter().map(|d| d.to_string()).collect();
                    m.note = Some(format!("estimated, not to be trusted: {}", why.join("; ")));
                }
                m
            }),
        };
        out.push(m.unwrap_or_else(|e| failed(*w, e)));
    }
    Ok(out)
}
