//! The `[[goals]]` tables and the top-level `outcomes` list: each goal's layer, its metric
//! (or why it has none), target and window; the names a metric uses, checked against what
//! the system declares; and the graph the `supports` links make: links to goals that exist,
//! of a higher layer, without a cycle, every model goal serving one above it.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::conditions::filter;
use super::experience::parse_duration;
use super::fields::{given, identifier, is_identifier, list, mode, one_of, typed};
use crate::cel_check::{Reads, Refused, unknown_feature, unknown_output_field};
use crate::cel_types::ConditionScope;
use crate::diagnostic::{Reporter, closest};
use crate::raw::{RawGoal, RawTarget, Typed, entries};
use crate::types::{
    Component, FeedbackKind, FeedbackSource, Goal, Layer, Measure, Metric, MetricKind, Mode, Population,
    QualityMeasure, RatePer, RetentionDays, Target, Task, TelemetryPolicy,
};

const LAYERS: [&str; 5] = ["organizational", "leading_indicator", "system", "user_outcome", "model"];
const LAYER_ORDER: &str = "model < user_outcome < system < leading_indicator < organizational";

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

/// The top-level `outcomes` list, as far as it is known.
pub(super) enum Outcomes {
    /// Not written: outcome names cannot be checked.
    Undeclared,
    /// Written with a value of the wrong type (reported): nothing is checked against it.
    Unknown,
    Declared(Vec<String>),
}

impl Outcomes {
    /// What `System::outcomes` keeps.
    pub(super) fn declared(&self) -> Option<Vec<String>> {
        match self {
            Outcomes::Declared(names) => Some(names.clone()),
            _ => None,
        }
    }
}

/// What the goals' metrics may name: the system's components, outcomes and retention.
pub(super) struct Declared<'a> {
    /// Every component's name as written, valid or not; `None` when they are not all known.
    pub names: Option<Vec<&'a str>>,
    /// The components validated without a mistake.
    pub components: &'a [Component],
    pub outcomes: &'a Outcomes,
    pub retention: RetentionDays,
}

/// `outcomes = [...]`: each name one the outcome API accepts, none twice.
pub(super) fn outcomes(raw: Option<&Typed<Vec<Typed<String>>>>, r: &mut Reporter) -> Outcomes {
    let Some(raw) = raw else { return Outcomes::Undeclared };
    let Some(listed) = list(r, "outcomes", raw) else { return Outcomes::Unknown };
    let mut names: Vec<String> = Vec::new();
    for o in listed {
        let name = o.get_ref();
        if !is_outcome_name(name) {
            r.at(o.span(), format!("outcome name `{name}` is not valid"), Some(OUTCOME_NAME_HINT.into()));
        } else if names.contains(name) {
            r.at(o.span(), format!("outcome `{name}` is listed twice"), None);
        }
        names.push(name.clone());
    }
    Outcomes::Declared(names)
}

const OUTCOME_NAME_HINT: &str = "use 1 to 64 lower-case letters, digits and `_`, starting with a letter, as the outcome API accepts (e.g. `left_page`)";

/// As `POST /v1/outcomes` accepts it.
fn is_outcome_name(s: &str) -> bool {
    s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The `[[goals]]` tables, each checked, then the graph they make.
pub(super) fn goals(raw: Option<&Typed<Vec<Typed<RawGoal>>>>, declared: &Declared, r: &mut Reporter) -> Vec<Goal> {
    let Some(raw) = raw else { return Vec::new() };
    if let Some(written) = raw.wrong()
        && let toml::Value::Table(_) = written.get_ref()
    {
        r.at(
            written.span(),
            "`[goals]` is now a list of `[[goals]]` tables, one a goal",
            Some(
                "write each goal as `[[goals]]` with `id`, `layer`, `description`, a `metric` (or `measured = false` \
                 and a `note`), `target`, `window` and `supports` (docs/goals.md)"
                    .into(),
            ),
        );
        return Vec::new();
    }
    let listed = list(r, "goals", raw).unwrap_or_default();
    let mut goals = Vec::new();
    for g in &listed {
        if let Some(goal) = goal(g, declared, r) {
            goals.push(goal);
        }
    }
    graph(&listed, r);
    goals
}

fn goal(g: &Spanned<RawGoal>, declared: &Declared, r: &mut Reporter) -> Option<Goal> {
    let raw = g.get_ref();
    let errors_before = r.found.len();
    let id = identifier(
        r,
        "id",
        "goal id",
        raw.id.as_ref(),
        g.span(),
        "this goal has no `id`",
        Some("add `id = \"...\"`: other goals name it in `supports`"),
    );
    let name = id.as_deref().unwrap_or("?");
    let layer = match &raw.layer {
        Some(l) => one_of(r, "layer", l, "layer", &LAYERS).and_then(Layer::parse),
        None => {
            r.at(
                g.span(),
                format!("goal `{name}` has no `layer`"),
                Some(format!("`layer` is one of: {}", LAYERS.join(", "))),
            );
            None
        }
    };
    let description = match &raw.description {
        Some(d) => match typed(r, "description", d) {
            Some(d) if d.get_ref().trim().is_empty() => {
                r.at(d.span(), format!("the description of goal `{name}` is empty"), None);
                None
            }
            d => d.map(|d| d.get_ref().clone()),
        },
        None => {
            r.at(
                g.span(),
                format!("goal `{name}` has no `description`"),
                Some("say in words what success is, e.g. `description = \"users heed the warnings they see\"`".into()),
            );
            None
        }
    };
    let supports: Vec<String> = match &raw.supports {
        Some(s) => list(r, "supports", s).unwrap_or_default().into_iter().map(|s| s.get_ref().clone()).collect(),
        None => Vec::new(),
    };
    let measure = measure(g, name, declared, r);
    if r.found.len() > errors_before {
        return None;
    }
    Some(Goal {
        id: id?,
        layer: layer?,
        description: description?,
        measure: measure?,
        supports,
        location: r.location(g.span().start),
    })
}

/// Every key that is about measuring, with where it is written.
fn measuring_keys(raw: &RawGoal) -> Vec<(Range<usize>, &'static str)> {
    let spans = [
        (raw.metric.as_ref().map(Typed::span), "metric"),
        (raw.target.as_ref().map(Typed::span), "target"),
        (raw.window.as_ref().map(Typed::span), "window"),
    ];
    spans.into_iter().chain(metric_keys(raw)).filter_map(|(span, key)| Some((span?, key))).collect()
}

/// The keys that qualify a metric, with where each is written.
fn metric_keys(raw: &RawGoal) -> [(Option<Range<usize>>, &'static str); 13] {
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

/// A metric with its target and window, or `measured = false` with a note.
fn measure(g: &Spanned<RawGoal>, name: &str, declared: &Declared, r: &mut Reporter) -> Option<Measure> {
    let raw = g.get_ref();
    let measured = given(r, "measured", &raw.measured).map(|m| *m.get_ref());
    if raw.measured.is_some() && measured.is_none() {
        // of the wrong type (reported): whether the goal is measured is not known
        return None;
    }
    if measured == Some(false) {
        for (span, key) in measuring_keys(raw) {
            r.at(
                span,
                format!("`{key}` does not apply to goal `{name}`, which has `measured = false`"),
                Some("remove it, or measure the goal: remove `measured = false`".into()),
            );
        }
        return match raw.note.as_ref().map(|n| typed(r, "note", n)) {
            Some(Some(n)) if !n.get_ref().trim().is_empty() => Some(Measure::NotMeasured { note: n.get_ref().clone() }),
            Some(Some(n)) => {
                r.at(n.span(), format!("the note of goal `{name}` is empty"), Some(NOTE_HINT.into()));
                None
            }
            Some(None) => None,
            None => {
                r.at(g.span(), format!("goal `{name}` is not measured and has no `note`"), Some(NOTE_HINT.into()));
                None
            }
        };
    }
    if let Some(note) = &raw.note {
        r.at(
            note.span(),
            format!("`note` is for goals with `measured = false`, and goal `{name}` is measured"),
            Some("say what a measured goal means in its `description`".into()),
        );
    }
    let Some(kind) = &raw.metric else {
        {
            r.at(
                g.span(),
                format!("goal `{name}` has no `metric`"),
                Some(
                    "add a `metric` (e.g. `metric = \"outcome_rate\"` with `outcome = \"...\"`); for an objective no \
                     telemetry shows, write `measured = false` and a `note` saying how it is judged"
                        .into(),
                ),
            );
        }
        return None;
    };
    let metric = metric(g, kind, name, declared, r);
    let target = target(g, name, metric.as_ref().map(|m| &m.kind), r);
    let window = window(g, name, metric.as_ref().map(|m| &m.kind), declared.retention, r);
    Some(Measure::Metric { metric: metric?, target: target?, window: window? })
}

const NOTE_HINT: &str =
    "say how the goal is judged without telemetry, e.g. `note = \"from the quarterly finance report\"`";

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

fn metric(
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
                _ => format!("remove it; docs/goals.md lists the keys each metric takes"),
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

/// `target = { at_least = x }`, `{ at_most = x }` or both, within what the metric can be.
fn target(g: &Spanned<RawGoal>, name: &str, kind: Option<&MetricKind>, r: &mut Reporter) -> Option<Target> {
    let Some(t) = &g.get_ref().target else {
        r.at(
            g.span(),
            format!("goal `{name}` has no `target`"),
            Some("e.g. `target = { at_least = 0.9 }` or `target = { at_most = 0.05 }`".into()),
        );
        return None;
    };
    let t = typed(r, "target", t)?;
    let RawTarget { at_least, at_most } = t.get_ref();
    let bound = |r: &mut Reporter, key: &str, v: &Option<Typed<f64>>| -> Option<Option<(f64, Range<usize>)>> {
        let Some(v) = v else { return Some(None) };
        let v = typed(r, &format!("target.{key}"), v)?;
        if !v.get_ref().is_finite() {
            r.at(v.span(), format!("`{key}` must be a finite number"), None);
            return None;
        }
        Some(Some((*v.get_ref(), v.span())))
    };
    let (lo, hi) = (bound(r, "at_least", at_least), bound(r, "at_most", at_most));
    let (lo, hi) = (lo?, hi?);
    let range = kind.and_then(|k| match k {
        k if k.is_share() => Some((0.0, Some(1.0), "a share")),
        MetricKind::Quality { measure, .. } if measure.is_bounded() => Some((0.0, Some(1.0), measure.as_str())),
        MetricKind::Quality { measure, .. } if *measure != QualityMeasure::Bias => Some((0.0, None, measure.as_str())),
        MetricKind::Latency { .. } => Some((0.0, None, "a latency")),
        MetricKind::ActiveUnits => Some((0.0, None, "a count of units")),
        _ => None,
    });
    let mut ok = true;
    for (v, span) in [&lo, &hi].into_iter().flatten() {
        if let Some((min, max, what)) = range
            && (*v < min || max.is_some_and(|max| *v > max))
        {
            let within = match max {
                Some(max) => format!("between {min} and {max}"),
                None => format!("at least {min}"),
            };
            r.at(span.clone(), format!("target {v} is outside what {what} can be: it is {within}"), None);
            ok = false;
        }
    }
    let target = match (lo, hi) {
        (None, None) => {
            r.at(
                t.span(),
                "a target needs `at_least`, `at_most` or both",
                Some("e.g. `target = { at_least = 0.9 }`".into()),
            );
            return None;
        }
        (Some((lo, _)), None) => Target::AtLeast(lo),
        (None, Some((hi, _))) => Target::AtMost(hi),
        (Some((lo, span)), Some((hi, _))) => {
            if lo > hi {
                r.at(span, format!("the target's `at_least` ({lo}) is above its `at_most` ({hi})"), None);
                return None;
            }
            Target::Between(lo, hi)
        }
    };
    ok.then_some(target)
}

/// `window = "1d"`: a duration, within what telemetry keeps of the events the metric reads.
fn window(
    g: &Spanned<RawGoal>,
    name: &str,
    kind: Option<&MetricKind>,
    retention: RetentionDays,
    r: &mut Reporter,
) -> Option<Duration> {
    let Some(w) = &g.get_ref().window else {
        r.at(
            g.span(),
            format!("goal `{name}` has no `window`"),
            Some("say over how long the metric is computed, e.g. `window = \"1d\"` or `\"7d\"`".into()),
        );
        return None;
    };
    let w = typed(r, "window", w)?;
    let Some(d) = parse_duration(w.get_ref()) else {
        r.at(
            w.span(),
            format!("`{}` is not a duration", w.get_ref()),
            Some("write a number and a unit: `30s`, `15m`, `12h`, `1d`, `2w`".into()),
        );
        return None;
    };
    // the events it reads, and how long each is kept
    let mut kept = vec![("predictions", retention.predictions)];
    match kind {
        Some(MetricKind::Quality { estimated: false, .. } | MetricKind::FeedbackRate { .. }) => {
            kept.push(("feedback", retention.feedback));
        }
        Some(k) if k.outcome().is_some() => kept.push(("outcomes", retention.outcomes)),
        _ => {}
    }
    for (events, days) in kept {
        if let Some(days) = days
            && d > Duration::from_secs(u64::from(days) * 86_400)
        {
            r.at(
                w.span(),
                format!(
                    "window `{}` is longer than telemetry keeps {events} (`retention_days.{events} = {days}`)",
                    w.get_ref()
                ),
                Some(format!("shorten the window to `{days}d` or less, or keep {events} longer")),
            );
            return None;
        }
    }
    Some(d)
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

/// A goal as the graph sees it, read without reporting (its own checks report).
struct Node<'a> {
    id: &'a Spanned<String>,
    layer: Option<Layer>,
    /// `supports` was written with an entry, valid or not.
    links_written: bool,
    supports: Vec<&'a Spanned<String>>,
}

/// The `supports` links: each to a declared goal other than itself, of a higher layer,
/// once; no cycle; every model goal supporting one. Ids declared twice are reported here.
fn graph(goals: &[&Spanned<RawGoal>], r: &mut Reporter) {
    let nodes: Vec<Node> = goals
        .iter()
        .filter_map(|g| {
            let raw = g.get_ref();
            let id = raw.id.as_ref()?.ok().filter(|id| is_identifier(id.get_ref()))?;
            let layer = raw.layer.as_ref().and_then(Typed::ok).and_then(|l| Layer::parse(l.get_ref()));
            let links_written = raw.supports.as_ref().is_some_and(|s| s.ok().is_none_or(|l| !l.get_ref().is_empty()));
            Some(Node { id, layer, links_written, supports: entries(raw.supports.as_ref()).collect() })
        })
        .collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        if index.contains_key(n.id.get_ref().as_str()) {
            r.at(
                n.id.span(),
                format!("goal `{}` is declared twice", n.id.get_ref()),
                Some("goal ids must be unique".into()),
            );
        } else {
            index.insert(n.id.get_ref(), i);
        }
    }
    let ids: Vec<&str> = nodes.iter().map(|n| n.id.get_ref().as_str()).collect();

    let mut edges: Vec<Vec<(usize, Range<usize>)>> = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        let id = n.id.get_ref();
        let mut seen = HashSet::new();
        for s in &n.supports {
            let target = s.get_ref().as_str();
            if target == id {
                r.at(
                    s.span(),
                    format!("goal `{id}` supports itself"),
                    Some("`supports` names the goals this one serves".into()),
                );
                continue;
            }
            if !seen.insert(target) {
                r.at(s.span(), format!("goal `{id}` lists `{target}` twice in `supports`"), None);
                continue;
            }
            let Some(&j) = index.get(target) else {
                let hint = match closest(target, ids.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`? goals: {}", ids.join(", ")),
                    None => format!("goals: {}", ids.join(", ")),
                };
                r.at(s.span(), format!("goal `{id}` supports `{target}`, which is not a declared goal"), Some(hint));
                continue;
            };
            if let (Some(from), Some(to)) = (n.layer, nodes[j].layer)
                && to <= from
            {
                r.at(
                    s.span(),
                    format!(
                        "goal `{id}` ({}) supports `{target}` ({}), which is not of a higher layer",
                        from.as_str(),
                        to.as_str()
                    ),
                    Some(format!("a goal supports goals of higher layers only: {LAYER_ORDER}")),
                );
            }
            if index.get(id.as_str()) == Some(&i) {
                edges[i].push((j, s.span()));
            }
        }
        if n.layer == Some(Layer::Model) && !n.links_written {
            r.at(
                n.id.span(),
                format!("model goal `{id}` supports no goal"),
                Some(
                    "a model's properties matter for what they serve: add `supports = [\"...\"]` naming the \
                     user_outcome, system, leading_indicator or organizational goal it serves"
                        .into(),
                ),
            );
        }
    }
    cycles(&nodes, &edges, r);
}

/// Every cycle of `supports` links, named from the link that does not point up (at least
/// one does not), and placed there.
fn cycles(nodes: &[Node], edges: &[Vec<(usize, Range<usize>)>], r: &mut Reporter) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    struct Search<'a, 'n> {
        nodes: &'a [Node<'n>],
        edges: &'a [Vec<(usize, Range<usize>)>],
        state: Vec<State>,
        path: Vec<usize>,
    }
    impl Search<'_, '_> {
        fn visit(&mut self, i: usize, r: &mut Reporter) {
            self.state[i] = State::OnPath;
            self.path.push(i);
            for (j, _) in &self.edges[i] {
                match self.state[*j] {
                    State::New => self.visit(*j, r),
                    State::OnPath => self.report(*j, r),
                    State::Done => {}
                }
            }
            self.path.pop();
            self.state[i] = State::Done;
        }

        /// The cycle from `j`, on the path, to its end and back to `j`.
        fn report(&self, j: usize, r: &mut Reporter) {
            let from = self.path.iter().position(|p| *p == j).unwrap_or(0);
            let cycle: Vec<usize> = self.path[from..].to_vec();
            let link = |k: usize| {
                let (a, b) = (cycle[k], cycle[(k + 1) % cycle.len()]);
                let span = self.edges[a].iter().find(|(t, _)| *t == b).map(|(_, s)| s.clone()).unwrap_or(0..0);
                (a, b, span)
            };
            let down = (0..cycle.len())
                .find(|&k| {
                    let (a, b, _) = link(k);
                    match (self.nodes[a].layer, self.nodes[b].layer) {
                        (Some(la), Some(lb)) => lb <= la,
                        _ => false,
                    }
                })
                .unwrap_or(cycle.len() - 1);
            let (_, _, span) = link(down);
            let names: Vec<String> = (0..=cycle.len())
                .map(|k| format!("`{}`", self.nodes[cycle[(down + k) % cycle.len()]].id.get_ref()))
                .collect();
            r.at(
                span,
                format!("goals {} support one another in a cycle", names.join(" → ")),
                Some("`supports` points up, to the goals a goal serves: remove the link that points back down".into()),
            );
        }
    }
    let mut search = Search { nodes, edges, state: vec![State::New; nodes.len()], path: Vec::new() };
    for i in 0..nodes.len() {
        if search.state[i] == State::New {
            search.visit(i, r);
        }
    }
}
