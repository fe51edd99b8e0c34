//! A goal's metric: its kind and the keys it takes, the predictions it counts (a
//! component, a mode, a guardrail that acted, a CEL filter over the recorded prediction),
//! and every name it uses checked against what the system declares.

use std::cell::Cell;
use std::ops::Range;

use toml::Spanned;

use super::conditions::filter;
use super::fields::{given, mode, one_of, typed};
use super::goals::{Declared, OUTCOME_NAME_HINT, Outcomes, is_outcome_name};
use crate::cel_check::{Reads, Refused, unknown_feature, unknown_output_field};
use crate::cel_types::ConditionScope;
use crate::diagnostic::{Reporter, closest};
use crate::raw::{RawGoal, Typed};
use crate::types::{
    Component, FeedbackKind, FeedbackSource, Metric, MetricKind, Mode, Population, QualityMeasure, RatePer, Task,
    TelemetryPolicy,
};

const METRICS: [&str; 19] = [
    "outcome_rate",
    "outcome_mean",
    "outcome_sum",
    "active_units",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "auc",
    "brier",
    "ece",
    "mae",
    "rmse",
    "bias",
    "latency",
    "guardrail_rate",
    "mode_share",
    "feedback_rate",
    "fallback_rate",
];

/// What a filter may read beside `features` and `output`: the rest of a recorded prediction.
const EVENT_VARIABLES: [&str; 7] = ["features", "output", "mode", "fallback", "rules", "variant", "model"];
const MODEL_FIELDS: [&str; 2] = ["name", "version"];

/// The keys that qualify a metric, with where each is written.
pub(super) fn metric_keys(raw: &RawGoal) -> [(Option<Range<usize>>, &'static str); 13] {
    let s = |v: &Option<Typed<String>>| v.as_ref().map(Typed::span);
    [
        (s(&raw.outcome), "outcome"),
        (s(&raw.per), "per"),
        (s(&raw.label), "label"),
        (raw.estimated.as_ref().map(Typed::span), "estimated"),
        (raw.quantile.as_ref().map(Typed::span), "quantile"),
        (s(&raw.guardrail), "guardrail"),
        (s(&raw.mode), "mode"),
        (s(&raw.feedback), "feedback"),
        (s(&raw.source), "source"),
        (s(&raw.component), "component"),
        (s(&raw.by_mode), "by_mode"),
        (s(&raw.by_guardrail), "by_guardrail"),
        (s(&raw.filter), "filter"),
    ]
}

/// The component a metric's predictions are of, as far as it is known.
enum Of<'a> {
    /// Named, or the only one, and validated.
    Component(&'a Component),
    /// Named, or the only one, but not known: declared with a mistake, or named wrongly
    /// (reported). Nothing that needs it is checked.
    Unknown,
    /// None named, and the system has several (listed): the metric is over all of them.
    Every(Vec<&'a str>),
}

impl Of<'_> {
    fn named(&self) -> Option<&str> {
        match self {
            Of::Component(c) => Some(&c.name),
            _ => None,
        }
    }
}

/// The metric of goal `name`, whose `metric = ` is `kind`.
pub(super) fn metric(
    g: &Spanned<RawGoal>,
    kind: &Typed<String>,
    name: &str,
    declared: &Declared,
    r: &mut Reporter,
) -> Option<Metric> {
    let raw = g.get_ref();
    let errors_before = r.found.len();
    let kind_name = one_of(r, "metric", kind, "metric", &METRICS)?;
    let quality = QualityMeasure::parse(kind_name);

    // each metric takes its own keys; the population's apply to all, but two
    let takes: &[&str] = match (kind_name, quality) {
        ("outcome_rate", _) => &["outcome", "per"],
        ("outcome_mean" | "outcome_sum", _) => &["outcome"],
        ("latency", _) => &["quantile"],
        ("guardrail_rate", _) => &["guardrail"],
        ("mode_share", _) => &["mode"],
        ("feedback_rate", _) => &["feedback", "source"],
        (_, Some(q)) if q.takes_label() => &["label", "estimated"],
        (_, Some(_)) => &["estimated"],
        _ => &[],
    };
    let population_keys = ["component", "by_mode", "by_guardrail", "filter"];
    for (span, key) in metric_keys(raw) {
        let Some(span) = span else { continue };
        let applies = match (key, kind_name) {
            ("by_mode", "mode_share") | ("by_guardrail", "guardrail_rate") => false,
            (key, _) => takes.contains(&key) || population_keys.contains(&key),
        };
        if !applies {
            let hint = match (key, kind_name) {
                ("by_mode", _) => "the share of a mode among the predictions of that mode is always 1".to_string(),
                ("by_guardrail", _) => "name the rule with `guardrail = \"...\"`".to_string(),
                ("label", _) => {
                    format!("`{kind_name}` counts every label; `label` applies to precision, recall, f1, auc and brier")
                }
                _ => "remove it; docs/goals.md lists the keys each metric takes".to_string(),
            };
            r.at(span, format!("`{key}` does not apply to a `{kind_name}` metric (goal `{name}`)"), Some(hint));
        }
    }

    let of = component(raw, name, declared, r);
    // a metric that is per component needs one named when there are several
    let per_component = |r: &mut Reporter, at: Range<usize>, what: &str| {
        if let Of::Every(names) = &of {
            r.at(
                at,
                format!("goal `{name}`: {what} is per component, and the system has several"),
                Some(format!("name one with `component = \"...\"`: {}", names.join(", "))),
            );
        }
    };
    let kind_span = kind.span();

    let outcome = |r: &mut Reporter| -> Option<String> {
        let Some(o) = &raw.outcome else {
            r.at(
                g.span(),
                format!("goal `{name}`'s `{kind_name}` metric has no `outcome`"),
                Some(match &declared.outcomes {
                    Outcomes::Declared(names) if !names.is_empty() => {
                        format!("add `outcome = \"...\"`, one of: {}", names.join(", "))
                    }
                    _ => "add `outcome = \"...\"`, an outcome the system records (e.g. `left_page`)".into(),
                }),
            );
            return None;
        };
        let o = typed(r, "outcome", o)?;
        let outcome = o.get_ref();
        match &declared.outcomes {
            Outcomes::Declared(names) if !names.contains(outcome) => {
                let hint = match closest(outcome, names.iter().map(String::as_str)) {
                    Some(near) => format!("did you mean `{near}`? declared outcomes: {}", names.join(", ")),
                    None if names.is_empty() => "`outcomes` declares none: add it there".into(),
                    None => format!("declared outcomes: {}; add it there if the system records it", names.join(", ")),
                };
                r.at(o.span(), format!("outcome `{outcome}` is not one the system declares in `outcomes`"), Some(hint));
                None
            }
            _ if !is_outcome_name(outcome) => {
                r.at(o.span(), format!("outcome name `{outcome}` is not valid"), Some(OUTCOME_NAME_HINT.into()));
                None
            }
            _ => Some(outcome.clone()),
        }
    };

    let kind = match (kind_name, quality) {
        ("outcome_rate", _) => {
            let per = match &raw.per {
                Some(p) => match one_of(r, "per", p, "`per`", &["prediction", "unit"]) {
                    Some("unit") => Some(RatePer::Unit),
                    Some(_) => Some(RatePer::Prediction),
                    None => None,
                },
                None => Some(RatePer::Prediction),
            };
            outcome(r).zip(per).map(|(outcome, per)| MetricKind::OutcomeRate { outcome, per })
        }
        ("outcome_mean", _) => outcome(r).map(|outcome| MetricKind::OutcomeMean { outcome }),
        ("outcome_sum", _) => outcome(r).map(|outcome| MetricKind::OutcomeSum { outcome }),
        ("active_units", _) => Some(MetricKind::ActiveUnits),
        ("latency", _) => match &raw.quantile {
            Some(q) => typed(r, "quantile", q).and_then(|q| {
                let v = *q.get_ref();
                if v > 0.0 && v <= 1.0 {
                    Some(MetricKind::Latency { quantile: v })
                } else {
                    r.at(
                        q.span(),
                        format!("`quantile` must be above 0 and at most 1, not {v}"),
                        Some("e.g. `quantile = 0.99` for the 99th percentile".into()),
                    );
                    None
                }
            }),
            None => {
                r.at(
                    g.span(),
                    format!("goal `{name}`'s latency metric has no `quantile`"),
                    Some("e.g. `quantile = 0.99`, with the target in milliseconds".into()),
                );
                None
            }
        },
        ("guardrail_rate", _) => {
            let rule = raw.guardrail.as_ref().and_then(|rule| typed(r, "guardrail", rule));
            match rule {
                Some(rule) => {
                    per_component(r, rule.span(), "a guardrail rate of one rule");
                    rule_of(&of, rule, r).map(|g| MetricKind::GuardrailRate { guardrail: Some(g) })
                }
                None if raw.guardrail.is_some() => None,
                None => Some(MetricKind::GuardrailRate { guardrail: None }),
            }
        }
        ("mode_share", _) => match &raw.mode {
            Some(m) => mode(r, m).map(|mode| MetricKind::ModeShare { mode }),
            None => {
                r.at(
                    g.span(),
                    format!("goal `{name}`'s mode_share metric has no `mode`"),
                    Some(format!("add `mode = \"...\"`, one of: {}", mode_names().join(", "))),
                );
                None
            }
        },
        ("feedback_rate", _) => {
            let kinds: Vec<&str> = FeedbackKind::ALL.iter().map(|k| k.as_str()).collect();
            let sources: Vec<&str> = FeedbackSource::ALL.iter().map(|s| s.as_str()).collect();
            let kind = raw
                .feedback
                .as_ref()
                .map(|k| one_of(r, "feedback", k, "feedback kind", &kinds).and_then(FeedbackKind::parse));
            let source = raw
                .source
                .as_ref()
                .map(|s| one_of(r, "source", s, "feedback source", &sources).and_then(FeedbackSource::parse));
            match (kind, source) {
                (Some(None), _) | (_, Some(None)) => None,
                (kind, source) => Some(MetricKind::FeedbackRate { kind: kind.flatten(), source: source.flatten() }),
            }
        }
        ("fallback_rate", _) => Some(MetricKind::FallbackRate),
        (_, Some(measure)) => {
            per_component(r, kind_span.clone(), &format!("`{kind_name}`, a quality metric,"));
            quality_metric(raw, measure, &of, name, kind_span.clone(), r)
        }
        _ => None,
    };

    let by_mode = raw.by_mode.as_ref().map(|m| mode(r, m));
    let by_guardrail = raw.by_guardrail.as_ref().and_then(|g| typed(r, "by_guardrail", g)).map(|rule| {
        per_component(r, rule.span(), "`by_guardrail`");
        rule_of(&of, rule, r)
    });

    let reads_component = Cell::new(false);
    let condition = match raw.filter.as_ref().and_then(|f| typed(r, "filter", f)) {
        Some(f) => {
            let reads = EventReads { of: &of, declared, reads_component: &reads_component };
            let scope = recorded_scope(&of);
            filter(f, &reads, &scope, r)
        }
        None => None,
    };

    if r.found.len() > errors_before {
        return None;
    }
    let kind = kind?;
    let per_component = matches!(kind, MetricKind::Quality { .. } | MetricKind::GuardrailRate { guardrail: Some(_) })
        || raw.by_guardrail.is_some()
        || reads_component.get();
    let component = match (&raw.component, &of) {
        (Some(_), of) => of.named().map(str::to_string),
        (None, of) if per_component => of.named().map(str::to_string),
        (None, _) => None,
    };
    Some(Metric {
        kind,
        population: Population {
            component,
            mode: by_mode.flatten(),
            guardrail: by_guardrail.flatten(),
            filter: condition,
        },
    })
}

fn mode_names() -> Vec<&'static str> {
    Mode::ALL.iter().map(|m| m.as_str()).collect()
}

/// The component a metric's `component` names, or the only one.
fn component<'a>(raw: &RawGoal, name: &str, declared: &Declared<'a>, r: &mut Reporter) -> Of<'a> {
    let find = |n: &str| declared.components.iter().find(|c| c.name == n).map_or(Of::Unknown, Of::Component);
    match raw.component.as_ref().map(|c| typed(r, "component", c)) {
        Some(None) => Of::Unknown,
        Some(Some(c)) => match &declared.names {
            Some(names) if !names.contains(&c.get_ref().as_str()) => {
                let hint = match closest(c.get_ref(), names.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`? components: {}", names.join(", ")),
                    None => format!("components: {}", names.join(", ")),
                };
                r.at(
                    c.span(),
                    format!("goal `{name}` names component `{}`, which is not declared", c.get_ref()),
                    Some(hint),
                );
                Of::Unknown
            }
            _ => find(c.get_ref()),
        },
        None => match &declared.names {
            Some(names) if names.len() == 1 => find(names[0]),
            Some(names) if names.len() > 1 => Of::Every(names.clone()),
            _ => Of::Unknown,
        },
    }
}

/// A guardrail of the component, by name.
fn rule_of(of: &Of, rule: &Spanned<String>, r: &mut Reporter) -> Option<String> {
    let Of::Component(c) = of else { return None };
    let given = rule.get_ref();
    if c.guardrails.iter().any(|g| g.name == *given) {
        return Some(given.clone());
    }
    let names: Vec<&str> = c.guardrails.iter().map(|g| g.name.as_str()).collect();
    let hint = match closest(given, names.iter().copied()) {
        Some(near) => format!("did you mean `{near}`? its guardrails: {}", names.join(", ")),
        None if names.is_empty() => format!("component `{}` declares no guardrails", c.name),
        None => format!("its guardrails: {}", names.join(", ")),
    };
    r.at(rule.span(), format!("component `{}` has no guardrail `{given}`", c.name), Some(hint));
    None
}

/// accuracy, precision, ..., bias: for the component's task, of a label of it, estimated
/// only where probabilities can stand in for the truth.
fn quality_metric(
    raw: &RawGoal,
    measure: QualityMeasure,
    of: &Of,
    name: &str,
    kind_span: Range<usize>,
    r: &mut Reporter,
) -> Option<MetricKind> {
    let estimated = given(r, "estimated", &raw.estimated).map(|e| (*e.get_ref(), e.span()));
    let label = raw.label.as_ref().and_then(|l| typed(r, "label", l));
    let Of::Component(c) = of else {
        return Some(MetricKind::Quality {
            measure,
            label: label.map(|l| l.get_ref().clone()),
            estimated: estimated.is_some_and(|(e, _)| e),
        });
    };
    let m = measure.as_str();
    let mut ok = true;
    match (c.task, measure.for_regression()) {
        (Task::Regression, false) => {
            r.at(
                kind_span.clone(),
                format!("`{m}` measures a classifier, and component `{}` is a regression", c.name),
                Some("a regression's quality is `mae`, `rmse` or `bias`".into()),
            );
            ok = false;
        }
        (Task::Binary | Task::Multiclass, true) => {
            r.at(
                kind_span.clone(),
                format!("`{m}` measures a regression, and component `{}` is a classifier", c.name),
                Some(
                    "a classifier's quality is `accuracy`, `precision`, `recall`, `f1`, `auc`, `brier` or `ece`".into(),
                ),
            );
            ok = false;
        }
        _ => {}
    }
    if let Some((true, span)) = &estimated
        && !measure.estimable()
    {
        let why = if measure.for_regression() {
            "a regression gives no probability to estimate it from"
        } else {
            "the estimate takes the probabilities as calibrated, which is what it measures: it would always find them perfect"
        };
        r.at(
            span.clone(),
            format!("`{m}` cannot be estimated without labels (goal `{name}`): {why}"),
            Some("measure it from feedback: remove `estimated = true`; accuracy, precision, recall, f1 and auc can be estimated".into()),
        );
        ok = false;
    }
    let label = match label {
        Some(_) if c.task == Task::Regression => None, // the task mismatch is reported
        Some(l) => match c.label_index(l.get_ref()) {
            Some(_) => Some(l.get_ref().clone()),
            None => {
                let hint = match closest(l.get_ref(), c.labels.iter().map(String::as_str)) {
                    Some(near) => format!("did you mean `{near}`? labels: {}", c.labels.join(", ")),
                    None => format!("labels: {}", c.labels.join(", ")),
                };
                r.at(l.span(), format!("`{}` is not a label of component `{}`", l.get_ref(), c.name), Some(hint));
                ok = false;
                None
            }
        },
        // a binary component's positive label; a multiclass one's average over labels
        None if measure.takes_label() && c.task == Task::Binary => c.positive.map(|i| c.labels[i].clone()),
        None => None,
    };
    ok.then_some(MetricKind::Quality { measure, label, estimated: estimated.is_some_and(|(e, _)| e) })
}

/// What a goal's filter may read: a recorded prediction of the metric's component.
struct EventReads<'a> {
    of: &'a Of<'a>,
    declared: &'a Declared<'a>,
    /// Set when the filter reads `features` or `output`, which are per component.
    reads_component: &'a Cell<bool>,
}

impl Reads for EventReads<'_> {
    fn variable(&self, name: &str) -> Option<Refused> {
        match name {
            "features" | "output" => {
                self.reads_component.set(true);
                match self.of {
                    Of::Every(names) => Some((
                        format!("a filter that reads `{name}` is per component, and the system has several"),
                        Some(format!("name one with `component = \"...\"`: {}", names.join(", "))),
                    )),
                    _ => None,
                }
            }
            "mode" | "fallback" | "rules" | "variant" | "model" => None,
            "context" => Some((
                "a goal's filter cannot read `context`: a prediction's record does not keep it".into(),
                Some(format!("a filter reads what a prediction records: {}", EVENT_VARIABLES.join(", "))),
            )),
            other => Some((
                format!("unknown variable `{other}` in filter"),
                Some(match closest(other, EVENT_VARIABLES) {
                    Some(near) => format!("did you mean `{near}`? a filter reads: {}", EVENT_VARIABLES.join(", ")),
                    None => format!("a filter reads what a prediction records: {}", EVENT_VARIABLES.join(", ")),
                }),
            )),
        }
    }

    fn field(&self, root: &str, field: &str) -> Option<Refused> {
        match root {
            "features" => {
                let Of::Component(c) = self.of else { return None };
                let names: Vec<&str> = c.features.iter().map(|f| f.name.as_str()).collect();
                if let Some(unknown) = unknown_feature(field, &names) {
                    return Some(unknown);
                }
                let f = c.features.iter().find(|f| f.name == field)?;
                match f.telemetry {
                    TelemetryPolicy::Hash => Some((
                        format!(
                            "feature `{field}` is recorded as a keyed hash (`telemetry = \"hash\"`): a filter sees `h:…`, never its value"
                        ),
                        Some("record it as it is sent (`telemetry = \"raw\"`) to filter on it".into()),
                    )),
                    TelemetryPolicy::Drop => Some((
                        format!(
                            "feature `{field}` is not recorded (`telemetry = \"drop\"`), so no prediction a filter sees has it"
                        ),
                        Some("filter on a feature telemetry keeps".into()),
                    )),
                    TelemetryPolicy::Raw | TelemetryPolicy::Truncate(_) => None,
                }
            }
            "output" => unknown_output_field(field),
            "model" if !MODEL_FIELDS.contains(&field) => Some((
                format!("unknown field `{field}` of `model` in filter"),
                Some(format!("`model` has: {}", MODEL_FIELDS.join(", "))),
            )),
            _ => None,
        }
    }

    fn literal(&self, variable: &str, literal: &str) -> Option<Refused> {
        match variable {
            "mode" if Mode::parse(literal).is_none() => {
                let modes = mode_names();
                Some((
                    format!("`{literal}` is not a mode, so `mode` is never it"),
                    Some(match closest(literal, modes.iter().copied()) {
                        Some(near) => format!("did you mean `{near}`? mode is one of: {}", modes.join(", ")),
                        None => format!("mode is one of: {}", modes.join(", ")),
                    }),
                ))
            }
            "rules" => {
                let components: Vec<&Component> = match self.of {
                    Of::Component(c) => vec![c],
                    Of::Every(_) => self.declared.components.iter().collect(),
                    Of::Unknown => return None,
                };
                let names: Vec<&str> =
                    components.iter().flat_map(|c| c.guardrails.iter().map(|g| g.name.as_str())).collect();
                (!names.contains(&literal)).then(|| {
                    (
                        format!("no guardrail is named `{literal}`, so `rules` never holds it"),
                        Some(match closest(literal, names.iter().copied()) {
                            Some(near) => format!("did you mean `{near}`? guardrails: {}", names.join(", ")),
                            None => format!("guardrails: {}", names.join(", ")),
                        }),
                    )
                })
            }
            _ => None,
        }
    }
}

/// What a filter's `features` and `output` are typed as: the component's features as
/// recorded (a hashed or dropped one is refused where it is read, and typed as unknown).
fn recorded_scope<'a>(of: &Of<'a>) -> ConditionScope<'a> {
    let Of::Component(c) = of else { return ConditionScope::default() };
    let features = c
        .features
        .iter()
        .map(|f| {
            let kind = match f.telemetry {
                TelemetryPolicy::Raw | TelemetryPolicy::Truncate(_) => Some(&f.kind),
                TelemetryPolicy::Hash | TelemetryPolicy::Drop => None,
            };
            (f.name.as_str(), kind)
        })
        .collect();
    ConditionScope {
        features: Some(features),
        task: Some(c.task),
        labels: c.task.is_classification().then_some(c.labels.as_slice()),
    }
}
