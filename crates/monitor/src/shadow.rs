//! A shadow against what was answered: each shadow prediction joined to the prediction it
//! copies (by `shadow_of`: the same request, unit, time and features), and per shadow
//! version, against each version that answered, how often the two agree and how far their
//! outputs lie apart. For a classifier: label agreement (Wilson), the disagreements by
//! answered × shadow label, and the score's differences; for a regressor, the value's. Then
//! the drift of the shadow's output against the answered output on the same requests, by
//! the measures and the policy of [`crate::report`] (the answered outputs are the reference).
//!
//! [`compare`] reads a time range of the store; [`Comparison`] takes the pairs from anywhere
//! and is pure. Memory: O(pairs) (each side's output kept for the drift's bins and samples,
//! as a reference profile keeps its numbers).
//!
//! Copies the shadow failed on, or that were dropped past `max_in_flight`, were never
//! recorded: they are not here, only counted on `/metrics` ([`NOT_RECORDED`]).

use std::collections::BTreeMap;

use rein_stats::{t_interval, wilson_interval};
use rein_system::{Component, Task};
use rein_telemetry::{ShadowQuery, Store, StoreError};
use serde::Serialize;
use serde_json::Value;

use crate::columns::{Cell, Column, Role, Sink, columns};
use crate::current::CurrentColumn;
use crate::files::Options;
use crate::profile::{ColumnProfile, ReferenceColumn, Source, build};
use crate::quality::{Interval, IntervalMethod};
use crate::report::{ColumnReport, Gathered, Policy, Side, compare as compare_drift};

/// The confidence of every interval.
pub const CONFIDENCE: f64 = 0.95;
/// A score that moves by more than this between the answer and the shadow is counted apart:
/// a tenth of the probability scale, where a threshold policy's decision can flip.
pub const SCORE_GAP: f64 = 0.1;
/// What the store cannot show of a shadow.
pub const NOT_RECORDED: &str = "copies the shadow failed on, and those dropped past its max_in_flight, were \
                                never recorded and are not compared here: /metrics counts them \
                                (rein_shadow_predictions_total{result=\"failed\"}, rein_shadow_dropped_total)";

/// A component's shadows against what was answered, over a time range.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowReport {
    pub system: String,
    pub component: String,
    /// `binary`, `multiclass` or `regression`.
    pub task: &'static str,
    /// The range read (unix ms, the end excluded); null: unbounded.
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// The experiment asked for; null: every one.
    pub experiment: Option<String>,
    pub confidence: f64,
    /// Shadow predictions read, of every shadow version.
    pub shadow_predictions: u64,
    /// [`NOT_RECORDED`].
    pub not_recorded: &'static str,
    /// One per shadow version, by version.
    pub shadows: Vec<ShadowVersion>,
}

/// One shadow version's predictions.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowVersion {
    pub version: String,
    /// The experiments its predictions were recorded under, sorted.
    pub experiments: Vec<String>,
    pub shadow_predictions: u64,
    /// Those whose original the store no longer holds (pruned): compared with nothing.
    pub original_missing: u64,
    /// Against each version that answered the requests it copied, by version.
    pub against: Vec<Against>,
}

/// A shadow version against one answering version, on the requests both saw.
#[derive(Debug, Clone, Serialize)]
pub struct Against {
    /// The version that answered.
    pub answered_version: String,
    /// Shadow predictions joined to an answer of this version.
    pub pairs: u64,
    /// Pairs where either side recorded no model output (the answer fell back): left out.
    pub without_output: u64,
    /// Classifiers: how often the shadow's label is the answered one.
    pub labels: Option<LabelAgreement>,
    /// The score (classifiers: the positive label's probability, or the top one's for more
    /// than two labels, as the drift's `score`) or the value (regressors), shadow − answered.
    pub differences: Option<Differences>,
    /// The shadow's output against the answered output, as a drift report's output columns.
    pub drift: OutputDrift,
    /// The comparison in one sentence.
    pub verdict: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabelAgreement {
    /// Pairs with a label on both sides.
    pub pairs: u64,
    pub agreeing: u64,
    /// agreeing / pairs, Wilson; null without a pair.
    pub agreement: Option<Interval>,
    /// The share of requests whose label the shadow would change: 1 − agreement, Wilson.
    pub changed: Option<Interval>,
    /// Each (answered, shadow) pair of labels that differ, the most frequent first.
    pub disagreements: Vec<Disagreement>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disagreement {
    pub answered: String,
    pub shadow: String,
    pub count: u64,
}

/// Differences of one number, shadow − answered, over the pairs holding it on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct Differences {
    /// `score` or `value`.
    pub field: &'static str,
    pub pairs: u64,
    /// The mean difference, Student's t; null below two pairs.
    pub mean: Option<Interval>,
    /// The mean absolute difference (for a value: the MAE between the two), Student's t.
    pub mean_absolute: Option<Interval>,
    /// Scores: the share of pairs differing by more than [`SCORE_GAP`], Wilson.
    pub beyond_gap: Option<GapShare>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GapShare {
    pub gap: f64,
    pub count: u64,
    pub share: Option<Interval>,
}

/// The output's drift, shadow against answered on the same requests.
#[derive(Debug, Clone, Serialize)]
pub struct OutputDrift {
    /// The rules that decided (as a drift report's).
    pub policy: Policy,
    /// The output columns that drifted (`score`, `label`, `value`).
    pub drifted: Vec<String>,
    /// Each output column compared: every measure (PSI, Jensen–Shannon, Wasserstein, KS or
    /// chi-squared), and the one the policy says decides in `decision.method`.
    pub columns: Vec<ColumnReport>,
}

/// One recorded side of a pair: the version and its raw output (`label`, `score`, `value`).
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    pub version: &'a str,
    pub output: &'a Value,
}

/// The comparison of `component`'s shadow predictions of the query with what they copy.
pub fn compare(
    system: &str,
    component: &Component,
    store: &dyn Store,
    query: &ShadowQuery,
    options: &Options,
) -> Result<ShadowReport, StoreError> {
    let mut comparison = Comparison::new(component, options);
    store.visit_shadow_pairs(query, &mut |pair| {
        let output = |p: &rein_telemetry::PredictionEvent| -> Value {
            serde_json::from_str(p.raw_output.as_str()).unwrap_or(Value::Null)
        };
        let shadow_output = output(&pair.shadow);
        let answered_output = pair.answered.as_ref().map(output);
        let shadow = Recorded { version: &pair.shadow.model_version, output: &shadow_output };
        let answered = pair
            .answered
            .as_ref()
            .zip(answered_output.as_ref())
            .map(|(a, output)| Recorded { version: &a.model_version, output });
        comparison.push(pair.shadow.experiment.as_deref(), shadow, answered);
        Ok(())
    })?;
    Ok(comparison.finish(system, query))
}

/// Pairs gathered one at a time.
pub struct Comparison {
    task: Task,
    outputs: Vec<Column>,
    options: Options,
    shadows: BTreeMap<String, Gathering>,
    read: u64,
}

#[derive(Default)]
struct Gathering {
    experiments: std::collections::BTreeSet<String>,
    predictions: u64,
    original_missing: u64,
    against: BTreeMap<String, Pairs>,
}

/// The pairs of one shadow version and one answering version.
struct Pairs {
    pairs: u64,
    without_output: u64,
    labeled: u64,
    agreeing: u64,
    disagreements: BTreeMap<(String, String), u64>,
    differences: Vec<f64>,
    /// The answered outputs, a reference column each; the shadow's cells, kept for the
    /// reference's bins (known once every answer is in).
    reference: Vec<ReferenceColumn>,
    current: Vec<Vec<Owned>>,
}

/// A cell kept past its row.
enum Owned {
    Missing,
    Number(f64),
    Text(String),
}

impl Owned {
    fn of(value: Option<&Value>) -> Owned {
        match value {
            Some(Value::Number(n)) => n.as_f64().map_or(Owned::Missing, Owned::Number),
            Some(Value::String(s)) => Owned::Text(s.clone()),
            _ => Owned::Missing,
        }
    }

    fn cell(&self) -> Cell<'_> {
        match self {
            Owned::Missing => Cell::Missing,
            Owned::Number(x) => Cell::Number(*x),
            Owned::Text(s) => Cell::Text(s),
        }
    }
}

impl Comparison {
    pub fn new(component: &Component, options: &Options) -> Comparison {
        let outputs = columns(component).into_iter().filter(|c| c.role == Role::Output).collect();
        Comparison { task: component.task, outputs, options: *options, shadows: BTreeMap::new(), read: 0 }
    }

    /// One shadow prediction (of `experiment`) and, when the store still holds it, the
    /// prediction it copies.
    pub fn push(&mut self, experiment: Option<&str>, shadow: Recorded<'_>, answered: Option<Recorded<'_>>) {
        self.read += 1;
        let gathering = self.shadows.entry(shadow.version.to_owned()).or_default();
        gathering.predictions += 1;
        if let Some(e) = experiment {
            gathering.experiments.insert(e.to_owned());
        }
        let Some(answered) = answered else {
            gathering.original_missing += 1;
            return;
        };
        let (outputs, options) = (&self.outputs, &self.options);
        let pairs = gathering.against.entry(answered.version.to_owned()).or_insert_with(|| Pairs {
            pairs: 0,
            without_output: 0,
            labeled: 0,
            agreeing: 0,
            disagreements: BTreeMap::new(),
            differences: Vec::new(),
            reference: outputs
                .iter()
                .map(|c| ReferenceColumn::new(c.clone(), options.sample_size, options.seed))
                .collect(),
            current: outputs.iter().map(|_| Vec::new()).collect(),
        });
        pairs.pairs += 1;
        let (a, s) = (answered.output, shadow.output);
        if !a.is_object() || !s.is_object() {
            pairs.without_output += 1;
            return;
        }
        if self.task != Task::Regression
            && let (Some(Value::String(al)), Some(Value::String(sl))) = (a.get("label"), s.get("label"))
        {
            pairs.labeled += 1;
            if al == sl {
                pairs.agreeing += 1;
            } else {
                *pairs.disagreements.entry((al.clone(), sl.clone())).or_default() += 1;
            }
        }
        let field = number_field(self.task);
        if let (Some(x), Some(y)) = (number(a, field), number(s, field)) {
            pairs.differences.push(y - x);
        }
        for (i, column) in self.outputs.iter().enumerate() {
            pairs.reference[i].push(Owned::of(a.get(&column.name)).cell());
            pairs.current[i].push(Owned::of(s.get(&column.name)));
        }
    }

    /// The report; `query` says what was read.
    pub fn finish(self, system: &str, query: &ShadowQuery) -> ShadowReport {
        let Comparison { task, outputs, options, shadows, read } = self;
        let shadows = shadows
            .into_iter()
            .map(|(version, g)| {
                let against = g
                    .against
                    .into_iter()
                    .map(|(answered_version, pairs)| {
                        against(system, &query.component, task, &outputs, &options, &version, answered_version, pairs)
                    })
                    .collect();
                ShadowVersion {
                    version,
                    experiments: g.experiments.into_iter().collect(),
                    shadow_predictions: g.predictions,
                    original_missing: g.original_missing,
                    against,
                }
            })
            .collect();
        ShadowReport {
            system: system.to_owned(),
            component: query.component.clone(),
            task: task.as_str(),
            since_ms: query.since_ms,
            until_ms: query.until_ms,
            experiment: query.experiment.clone(),
            confidence: CONFIDENCE,
            shadow_predictions: read,
            not_recorded: NOT_RECORDED,
            shadows,
        }
    }
}

/// The number compared: a classifier's score, a regressor's value.
fn number_field(task: Task) -> &'static str {
    if task == Task::Regression { "value" } else { "score" }
}

fn number(output: &Value, field: &str) -> Option<f64> {
    output.get(field)?.as_f64().filter(|x| x.is_finite())
}

fn wilson(count: u64, total: u64) -> Option<Interval> {
    let i = wilson_interval(count, total, CONFIDENCE).ok()?;
    Some(Interval::of(i, IntervalMethod::Wilson))
}

fn t(values: &[f64]) -> Option<Interval> {
    let i = t_interval(values, CONFIDENCE).ok()?;
    Some(Interval::of(i, IntervalMethod::T))
}

#[allow(clippy::too_many_arguments)]
fn against(
    system: &str,
    component: &str,
    task: Task,
    outputs: &[Column],
    options: &Options,
    shadow_version: &str,
    answered_version: String,
    p: Pairs,
) -> Against {
    let labels = (task != Task::Regression).then(|| {
        let mut disagreements: Vec<Disagreement> = p
            .disagreements
            .into_iter()
            .map(|((answered, shadow), count)| Disagreement { answered, shadow, count })
            .collect();
        // the most frequent first; a stable sort keeps ties in the labels' order
        disagreements.sort_by_key(|d| std::cmp::Reverse(d.count));
        LabelAgreement {
            pairs: p.labeled,
            agreeing: p.agreeing,
            agreement: wilson(p.agreeing, p.labeled),
            changed: wilson(p.labeled - p.agreeing, p.labeled),
            disagreements,
        }
    });
    let field = number_field(task);
    let absolute: Vec<f64> = p.differences.iter().map(|d| d.abs()).collect();
    let differences = (!p.differences.is_empty()).then(|| {
        let beyond_gap = (task != Task::Regression).then(|| {
            // a little slack for rounding: 0.1 apart exactly is not beyond it
            let count = absolute.iter().filter(|d| **d > SCORE_GAP + 1e-12).count() as u64;
            GapShare { gap: SCORE_GAP, count, share: wilson(count, absolute.len() as u64) }
        });
        Differences {
            field,
            pairs: p.differences.len() as u64,
            mean: t(&p.differences),
            mean_absolute: t(&absolute),
            beyond_gap,
        }
    });
    let drift = drift(system, component, outputs, options, &answered_version, shadow_version, p.reference, p.current);
    let verdict = verdict(shadow_version, &answered_version, p.pairs, labels.as_ref(), differences.as_ref(), &drift);
    Against { answered_version, pairs: p.pairs, without_output: p.without_output, labels, differences, drift, verdict }
}

#[allow(clippy::too_many_arguments)]
fn drift(
    system: &str,
    component: &str,
    outputs: &[Column],
    options: &Options,
    answered_version: &str,
    shadow_version: &str,
    reference: Vec<ReferenceColumn>,
    current: Vec<Vec<Owned>>,
) -> OutputDrift {
    let rows = current.first().map_or(0, |c| c.len() as u64);
    let profiles: Vec<ColumnProfile> = reference.into_iter().map(ReferenceColumn::finish).collect();
    let gathered: Vec<Gathered> = outputs
        .iter()
        .zip(&profiles)
        .zip(current)
        .map(|((column, profile), cells)| {
            let mut c = CurrentColumn::new(column.clone(), profile, options.sample_size, options.seed);
            for cell in &cells {
                c.push(cell.cell());
            }
            Gathered::Current(Box::new(c))
        })
        .collect();
    let source = format!("the outputs {answered_version} answered");
    let profile = build(
        system,
        component,
        Source { file: source.clone(), rows, scored_by: None },
        options.seed,
        options.sample_size,
        profiles,
    );
    let reference = Side { source, kind: "telemetry", rows };
    let current =
        Side { source: format!("{shadow_version}'s shadow outputs on the same requests"), kind: "telemetry", rows };
    let report = compare_drift(system, &profile, reference, current, &gathered, &options.policy);
    OutputDrift { policy: report.policy, drifted: report.summary.drifted_outputs, columns: report.columns }
}

/// A p-value or a distance: four decimals, or two significant digits below 0.001.
fn short(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 { format!("{v:.1e}") } else { format!("{v:.4}") }
}

fn percent(i: &Interval) -> String {
    format!("{:.1}% [{:.1}, {:.1}]", 100.0 * i.value, 100.0 * i.lower, 100.0 * i.upper)
}

fn signed(i: &Interval) -> String {
    format!("{:+.4} [{:+.4}, {:+.4}]", i.value, i.lower, i.upper)
}

fn verdict(
    shadow: &str,
    answered: &str,
    pairs: u64,
    labels: Option<&LabelAgreement>,
    differences: Option<&Differences>,
    drift: &OutputDrift,
) -> String {
    if pairs == 0 {
        return format!("{shadow} has no request in common with {answered} to compare");
    }
    let mut parts = Vec::new();
    match labels.and_then(|l| l.changed.as_ref().map(|c| (l, c))) {
        Some((l, changed)) => parts.push(format!(
            "would change the label on {} of {} requests {answered} answered",
            percent(changed),
            l.pairs
        )),
        None => parts.push(format!("shadowed {pairs} requests {answered} answered")),
    }
    if let Some(d) = differences {
        match (&d.mean, &d.mean_absolute) {
            (Some(mean), Some(abs)) => {
                parts.push(format!(
                    "its {} differs by {} on average, {:.4} apart in absolute terms",
                    d.field,
                    signed(mean),
                    abs.value
                ));
                if let Some(share) = d.beyond_gap.as_ref().and_then(|g| g.share.as_ref()) {
                    parts.push(format!("by more than {SCORE_GAP} on {}", percent(share)));
                }
            }
            _ => parts.push(format!("too few pairs ({}) for an interval of its {}", d.pairs, d.field)),
        }
    }
    let decided: Vec<String> = drift
        .columns
        .iter()
        .filter_map(|c| c.decision.as_ref().map(|d| (c, d)))
        .map(|(c, d)| {
            format!(
                "{} {} ({} = {})",
                c.name,
                if d.drifted { "drifted" } else { "did not drift" },
                d.method,
                short(d.value)
            )
        })
        .collect();
    if !decided.is_empty() {
        parts.push(format!("against the answers' distribution, {}", decided.join(", ")));
    }
    format!("{shadow} {}", parts.join("; "))
}
