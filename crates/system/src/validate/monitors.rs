//! The `[[monitors]]` tables and the `[alerts]` table: what each monitor watches (a
//! feature's or the output's drift, a quality measure, a goal, latency, a guardrail's or the
//! fallback's rate) of which component, every name it uses checked against what the system
//! declares; its threshold, of the kind and direction the figure it watches can take; its
//! window, severity and the runs of windows that open and close an alert; and where alerts
//! are sent.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::experience::parse_duration;
use super::fields::{describe, given, identifier, one_of, typed};
use super::goals::Declared;
use crate::diagnostic::{Reporter, closest};
use crate::raw::{RawAlerts, RawMonitor, RawThreshold, Typed};
use crate::types::{
    AlertSettings, Component, DriftMeasure, FeatureKind, Goal, Measure, Monitor, QualityMeasure, Severity, Task,
    TelemetryPolicy, Threshold, Watch, Webhook,
};

/// The most windows in a row `open_after` and `close_after` may ask for.
const MAX_RUN: i64 = 100;

/// What the monitors may name beside the components: the goals.
pub(super) struct Goals<'a> {
    /// The goals validated without a mistake.
    pub valid: &'a [Goal],
    /// Every goal id as written, valid or not; `None` when they are not all known.
    pub written: Option<Vec<&'a str>>,
}

/// The `[[monitors]]` tables, each checked; ids unique.
pub(super) fn monitors(
    raw: Option<&Typed<Vec<Typed<RawMonitor>>>>,
    declared: &Declared,
    goals: &Goals,
    r: &mut Reporter,
) -> Vec<Monitor> {
    let Some(raw) = raw else { return Vec::new() };
    if let Some(written) = raw.wrong()
        && let toml::Value::Table(_) = written.get_ref()
    {
        r.at(
            written.span(),
            "monitors are a list of `[[monitors]]` tables, one a monitor",
            Some("write each as `[[monitors]]` with `id`, `watch`, `threshold`, `window` and `severity` (docs/monitoring.md)".into()),
        );
        return Vec::new();
    }
    let listed = super::fields::list(r, "monitors", raw).unwrap_or_default();
    let mut seen: Vec<String> = Vec::new();
    let mut monitors = Vec::new();
    for m in listed {
        if let Some(id) = m.get_ref().id.as_ref().and_then(Typed::ok) {
            let id_text = id.get_ref();
            if seen.contains(id_text) {
                r.at(
                    id.span(),
                    format!("monitor `{id_text}` is declared twice"),
                    Some("monitor ids must be unique".into()),
                );
            }
            seen.push(id_text.clone());
        }
        if let Some(monitor) = monitor(m, declared, goals, r) {
            monitors.push(monitor);
        }
    }
    monitors
}

/// The component a monitor watches, as far as it is known.
enum Of<'a> {
    Component(&'a Component),
    /// Named wrongly or declared with a mistake (reported), or several and none named
    /// (reported): nothing that needs it is checked.
    Unknown,
    /// A goal monitor: the goal decides where it applies.
    Goal(Option<String>),
}

fn monitor(m: &Spanned<RawMonitor>, declared: &Declared, goals: &Goals, r: &mut Reporter) -> Option<Monitor> {
    let raw = m.get_ref();
    let errors_before = r.found.len();
    let id = identifier(
        r,
        "id",
        "monitor id",
        raw.id.as_ref(),
        m.span(),
        "this monitor has no `id`",
        Some("add `id = \"...\"`: alerts, metrics and the API name the monitor by it"),
    );
    let name = id.as_deref().unwrap_or("?");
    let description = given(r, "description", &raw.description).map(|d| d.get_ref().clone());
    let watch_name = match &raw.watch {
        Some(w) => one_of(r, "watch", w, "watch", &Watch::NAMES),
        None => {
            r.at(
                m.span(),
                format!("monitor `{name}` has no `watch`"),
                Some(format!("say what it watches: `watch = \"...\"`, one of: {}", Watch::NAMES.join(", "))),
            );
            None
        }
    };
    if let Some(w) = watch_name {
        inapplicable(raw, w, name, r);
    }
    let (watch, of) = match watch_name {
        Some("goal") => {
            let goal = goal(m, name, goals, r);
            let of =
                Of::Goal(goal.and_then(|g| g.measured()).and_then(|(metric, ..)| metric.population.component.clone()));
            (goal.map(|g| Watch::Goal { goal: g.id.clone() }), of)
        }
        Some(w) => {
            let of = component(raw, name, declared, r);
            (watch(m, w, name, &of, r), of)
        }
        None => (None, component(raw, name, declared, r)),
    };
    let target = match &watch {
        Some(Watch::Goal { goal }) => {
            goals.valid.iter().find(|g| g.id == *goal).and_then(Goal::measured).map(|(_, t, w)| (*t, w))
        }
        _ => None,
    };
    let threshold = threshold(m, name, watch.as_ref(), target.map(|(t, _)| Threshold::from(t)), r);
    let window = window(m, name, watch_name, watch.as_ref(), target.map(|(_, w)| w), declared, r);
    let severity = match &raw.severity {
        Some(s) => one_of(r, "severity", s, "severity", &Severity::ALL.map(Severity::as_str)).and_then(Severity::parse),
        None => Some(Severity::Warning),
    };
    let open_after = run(r, "open_after", &raw.open_after, 1);
    let close_after = run(r, "close_after", &raw.close_after, 2);
    let hysteresis = hysteresis(m, name, watch.as_ref(), threshold.flatten(), r);
    if r.found.len() > errors_before {
        return None;
    }
    let component = match of {
        Of::Component(c) => Some(c.name.clone()),
        Of::Goal(component) => component,
        Of::Unknown => return None,
    };
    Some(Monitor {
        id: id?,
        description,
        component,
        watch: watch?,
        threshold: threshold?,
        window: window?,
        severity: severity?,
        open_after: open_after?,
        close_after: close_after?,
        hysteresis: hysteresis?,
        location: r.location(m.span().start),
    })
}

/// Every key that qualifies a watch, with where it is written.
fn watch_keys(raw: &RawMonitor) -> [(Option<Range<usize>>, &'static str); 9] {
    let s = |v: &Option<Typed<String>>| v.as_ref().map(Typed::span);
    [
        (s(&raw.feature), "feature"),
        (s(&raw.output), "output"),
        (s(&raw.measure), "measure"),
        (s(&raw.metric), "metric"),
        (s(&raw.label), "label"),
        (raw.estimated.as_ref().map(Typed::span), "estimated"),
        (s(&raw.goal), "goal"),
        (raw.quantile.as_ref().map(Typed::span), "quantile"),
        (s(&raw.guardrail), "guardrail"),
    ]
}

/// Keys written that the watch does not take.
fn inapplicable(raw: &RawMonitor, watch: &str, name: &str, r: &mut Reporter) {
    let takes: &[&str] = match watch {
        "feature_drift" => &["feature", "measure"],
        "output_drift" => &["output", "measure"],
        "quality" => &["metric", "label", "estimated"],
        "goal" => &["goal"],
        "latency" => &["quantile"],
        "guardrail_rate" => &["guardrail"],
        _ => &[],
    };
    for (span, key) in watch_keys(raw) {
        let Some(span) = span else { continue };
        if !takes.contains(&key) {
            let hint = if takes.is_empty() {
                format!(
                    "remove it: `{watch}` takes none of feature, output, measure, metric, label, goal, quantile, guardrail"
                )
            } else {
                format!(
                    "remove it: `{watch}` takes {}",
                    takes.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                )
            };
            r.at(span, format!("`{key}` does not apply to a `{watch}` monitor (monitor `{name}`)"), Some(hint));
        }
    }
    if watch == "goal"
        && let Some(c) = &raw.component
    {
        r.at(
            c.span(),
            format!("`component` does not apply to a goal monitor (monitor `{name}`): the goal says what it counts"),
            Some("remove it; a goal's metric names its component in the goal".into()),
        );
    }
}

/// The component `component` names, or the only one.
fn component<'a>(raw: &RawMonitor, name: &str, declared: &Declared<'a>, r: &mut Reporter) -> Of<'a> {
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
                    format!("monitor `{name}` names component `{}`, which is not declared", c.get_ref()),
                    Some(hint),
                );
                Of::Unknown
            }
            _ => find(c.get_ref()),
        },
        None => match &declared.names {
            Some(names) if names.len() == 1 => find(names[0]),
            Some(names) if names.len() > 1 => {
                let at = raw.watch.as_ref().map_or(0..0, Typed::span);
                r.at(
                    at,
                    format!("monitor `{name}` watches one component, and the system has several"),
                    Some(format!("name it with `component = \"...\"`: {}", names.join(", "))),
                );
                Of::Unknown
            }
            _ => Of::Unknown,
        },
    }
}

/// The goal a goal monitor watches: declared and measured.
fn goal<'g>(m: &Spanned<RawMonitor>, name: &str, goals: &Goals<'g>, r: &mut Reporter) -> Option<&'g Goal> {
    let Some(g) = &m.get_ref().goal else {
        let ids: Vec<&str> = goals.valid.iter().filter(|g| g.measured().is_some()).map(|g| g.id.as_str()).collect();
        r.at(
            m.span(),
            format!("goal monitor `{name}` has no `goal`"),
            Some(if ids.is_empty() {
                "add `goal = \"...\"`, the id of a measured goal".into()
            } else {
                format!("add `goal = \"...\"`, one of the measured goals: {}", ids.join(", "))
            }),
        );
        return None;
    };
    let g = typed(r, "goal", g)?;
    let id = g.get_ref();
    if let Some(goal) = goals.valid.iter().find(|goal| goal.id == *id) {
        if let Measure::NotMeasured { .. } = goal.measure {
            r.at(
                g.span(),
                format!("goal `{id}` is not measured (`measured = false`): monitor `{name}` has nothing to watch"),
                Some("watch a goal with a `metric`, or remove the monitor".into()),
            );
            return None;
        }
        return Some(goal);
    }
    match &goals.written {
        // declared, with a mistake of its own (reported there)
        Some(written) if written.contains(&id.as_str()) => None,
        None => None,
        Some(written) => {
            let hint = match closest(id, written.iter().copied()) {
                Some(near) => format!("did you mean `{near}`? goals: {}", written.join(", ")),
                None if written.is_empty() => "the system declares no `[[goals]]`".into(),
                None => format!("goals: {}", written.join(", ")),
            };
            r.at(g.span(), format!("monitor `{name}` watches goal `{id}`, which is not declared"), Some(hint));
            None
        }
    }
}

/// What a watch other than a goal watches, each name checked against the component.
fn watch(m: &Spanned<RawMonitor>, watch: &str, name: &str, of: &Of, r: &mut Reporter) -> Option<Watch> {
    let raw = m.get_ref();
    let c = match of {
        Of::Component(c) => Some(*c),
        _ => None,
    };
    match watch {
        "feature_drift" => {
            let Some(f) = &raw.feature else {
                r.at(
                    m.span(),
                    format!("feature drift monitor `{name}` has no `feature`"),
                    Some(match c {
                        Some(c) => format!(
                            "add `feature = \"...\"`, one of: {}",
                            c.features.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                        None => "add `feature = \"...\"`, a feature of the component".into(),
                    }),
                );
                return None;
            };
            let f = typed(r, "feature", f)?;
            let c = c?;
            let Some(feature) = c.features.iter().find(|x| x.name == *f.get_ref()) else {
                let names: Vec<&str> = c.features.iter().map(|f| f.name.as_str()).collect();
                let hint = match closest(f.get_ref(), names.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`? features: {}", names.join(", ")),
                    None => format!("features: {}", names.join(", ")),
                };
                r.at(f.span(), format!("component `{}` has no feature `{}`", c.name, f.get_ref()), Some(hint));
                return None;
            };
            let recorded = match feature.telemetry {
                TelemetryPolicy::Hash => Some("as a keyed hash (`telemetry = \"hash\"`)"),
                TelemetryPolicy::Drop => Some("not at all (`telemetry = \"drop\"`)"),
                _ => None,
            };
            if let Some(how) = recorded {
                r.at(
                    f.span(),
                    format!(
                        "feature `{}` is recorded {how}: its values cannot be compared with the reference profile's",
                        feature.name
                    ),
                    Some("watch a feature telemetry records as sent (`telemetry = \"raw\"`)".into()),
                );
                return None;
            }
            let numbers = !matches!(feature.kind, FeatureKind::Boolean | FeatureKind::Category { .. });
            let what = format!("feature `{}` ({})", feature.name, feature.kind.type_name());
            let measure = drift_measure(raw, numbers, &what, r)?;
            Some(Watch::FeatureDrift { feature: feature.name.clone(), measure })
        }
        "output_drift" => {
            let outputs: &[&str] = match c.map(|c| c.task) {
                Some(Task::Regression) => &["value"],
                Some(_) => &["score", "label"],
                None => &["score", "label", "value"],
            };
            let output = match &raw.output {
                Some(o) => one_of(r, "output", o, "the output's part", outputs)?,
                None => outputs[0],
            };
            c?;
            let what = format!("the output's `{output}`");
            let measure = drift_measure(raw, output != "label", &what, r)?;
            Some(Watch::OutputDrift { output: output.to_string(), measure })
        }
        "quality" => quality(m, name, c, r),
        "latency" => match &raw.quantile {
            Some(q) => {
                let q = typed(r, "quantile", q)?;
                let v = *q.get_ref();
                if v > 0.0 && v <= 1.0 {
                    Some(Watch::Latency { quantile: v })
                } else {
                    r.at(
                        q.span(),
                        format!("quantile {v} is not in (0, 1]"),
                        Some("e.g. `quantile = 0.99` for the 99th percentile".into()),
                    );
                    None
                }
            }
            None => {
                r.at(
                    m.span(),
                    format!("latency monitor `{name}` has no `quantile`"),
                    Some("e.g. `quantile = 0.99`, with the threshold in milliseconds".into()),
                );
                None
            }
        },
        "guardrail_rate" => match &raw.guardrail {
            None => Some(Watch::GuardrailRate { guardrail: None }),
            Some(g) => {
                let g = typed(r, "guardrail", g)?;
                let c = c?;
                let given = g.get_ref();
                if c.guardrails.iter().any(|rule| rule.name == *given) {
                    return Some(Watch::GuardrailRate { guardrail: Some(given.clone()) });
                }
                let names: Vec<&str> = c.guardrails.iter().map(|g| g.name.as_str()).collect();
                let hint = match closest(given, names.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`? its guardrails: {}", names.join(", ")),
                    None if names.is_empty() => format!("component `{}` declares no guardrails", c.name),
                    None => format!("its guardrails: {}", names.join(", ")),
                };
                r.at(g.span(), format!("component `{}` has no guardrail `{given}`", c.name), Some(hint));
                None
            }
        },
        "fallback_rate" => Some(Watch::FallbackRate),
        _ => None,
    }
}

/// `measure = "..."` of a drift monitor, one that compares what the column holds.
/// `Some(None)`: none given (the drift policy chooses); `None`: a mistake, reported.
fn drift_measure(raw: &RawMonitor, numbers: bool, what: &str, r: &mut Reporter) -> Option<Option<DriftMeasure>> {
    let Some(m) = &raw.measure else { return Some(None) };
    let names = DriftMeasure::ALL.map(DriftMeasure::as_str);
    let measure = one_of(r, "measure", m, "drift measure", &names).and_then(DriftMeasure::parse)?;
    let fits = if numbers { measure.for_numbers() } else { measure.for_categories() };
    if !fits {
        let (kind, fitting) = if numbers {
            ("numbers", "psi, jensen_shannon, wasserstein or ks")
        } else {
            ("categories", "psi, jensen_shannon or chi_squared")
        };
        r.at(
            m.span(),
            format!("`{}` does not compare {kind}, and {what} holds {kind}", measure.as_str()),
            Some(format!("for {kind}, use {fitting}; or leave `measure` out for the drift policy's verdict")),
        );
        return None;
    }
    Some(Some(measure))
}

/// accuracy, precision, ..., bias: for the component's task, of a label of it, estimated
/// only where probabilities can stand in for the truth.
fn quality(m: &Spanned<RawMonitor>, name: &str, c: Option<&Component>, r: &mut Reporter) -> Option<Watch> {
    let raw = m.get_ref();
    let names = QualityMeasure::ALL.map(QualityMeasure::as_str);
    let Some(metric) = &raw.metric else {
        r.at(
            m.span(),
            format!("quality monitor `{name}` has no `metric`"),
            Some(format!("add `metric = \"...\"`, one of: {}", names.join(", "))),
        );
        return None;
    };
    let measure = one_of(r, "metric", metric, "quality metric", &names).and_then(QualityMeasure::parse);
    let estimated = given(r, "estimated", &raw.estimated).map(|e| (*e.get_ref(), e.span()));
    let label = raw.label.as_ref().and_then(|l| typed(r, "label", l));
    let (measure, c) = (measure?, c?);
    let mut ok = true;
    if c.task == Task::Regression && !measure.for_regression() {
        r.at(
            metric.span(),
            format!("`{}` measures a classifier, and component `{}` is a regression", measure.as_str(), c.name),
            Some("a regression's quality is `mae`, `rmse` or `bias`".into()),
        );
        ok = false;
    } else if c.task != Task::Regression && measure.for_regression() {
        r.at(
            metric.span(),
            format!("`{}` measures a regression, and component `{}` is a classifier", measure.as_str(), c.name),
            Some("a classifier's quality is `accuracy`, `precision`, `recall`, `f1`, `auc`, `brier` or `ece`".into()),
        );
        ok = false;
    }
    if let Some((true, span)) = &estimated
        && !measure.estimable()
    {
        r.at(
            span.clone(),
            format!("`{}` cannot be estimated without labels (monitor `{name}`)", measure.as_str()),
            Some("measure it from feedback: remove `estimated = true`; accuracy, precision, recall, f1 and auc can be estimated".into()),
        );
        ok = false;
    }
    let label = match label {
        Some(l) if !measure.takes_label() => {
            r.at(
                l.span(),
                format!("`label` does not apply to `{}` (monitor `{name}`)", measure.as_str()),
                Some("`label` applies to precision, recall, f1, auc and brier".into()),
            );
            ok = false;
            None
        }
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
        None if measure.takes_label() && c.task == Task::Binary => c.positive.map(|i| c.labels[i].clone()),
        None => None,
    };
    ok.then_some(Watch::Quality { measure, label, estimated: estimated.is_some_and(|(e, _)| e) })
}

/// What a watched figure can be: its least and greatest values, in words.
struct Bounds {
    min: Option<f64>,
    max: Option<f64>,
    what: &'static str,
}

fn bounds(watch: &Watch) -> Bounds {
    let share = Bounds { min: Some(0.0), max: Some(1.0), what: "a share" };
    match watch {
        Watch::GuardrailRate { .. } | Watch::FallbackRate => share,
        Watch::Latency { .. } => Bounds { min: Some(0.0), max: None, what: "a latency" },
        Watch::Quality { measure, .. } if measure.is_bounded() => {
            Bounds { min: Some(0.0), max: Some(1.0), what: "a quality measure between 0 and 1" }
        }
        Watch::Quality { measure: QualityMeasure::Bias, .. } => Bounds { min: None, max: None, what: "a bias" },
        Watch::Quality { .. } => Bounds { min: Some(0.0), max: None, what: "an error" },
        Watch::FeatureDrift { measure: Some(m), .. } | Watch::OutputDrift { measure: Some(m), .. } => match m {
            DriftMeasure::Ks | DriftMeasure::ChiSquared => Bounds { min: Some(0.0), max: Some(1.0), what: "a p-value" },
            // natural log: at most √ln 2
            DriftMeasure::JensenShannon => {
                Bounds { min: Some(0.0), max: Some(std::f64::consts::LN_2.sqrt()), what: "a Jensen–Shannon distance" }
            }
            DriftMeasure::Psi => Bounds { min: Some(0.0), max: None, what: "a PSI" },
            DriftMeasure::Wasserstein => {
                Bounds { min: Some(0.0), max: None, what: "a normalized Wasserstein distance" }
            }
        },
        Watch::FeatureDrift { measure: None, .. } | Watch::OutputDrift { measure: None, .. } | Watch::Goal { .. } => {
            Bounds { min: None, max: None, what: "the figure" }
        }
    }
}

/// Which way a bare number is a breach, when the watch implies it.
fn implied(watch: &Watch) -> Option<bool> {
    // Some(true): above; Some(false): below
    match watch {
        Watch::GuardrailRate { .. } | Watch::FallbackRate | Watch::Latency { .. } => Some(true),
        Watch::FeatureDrift { measure: Some(m), .. } | Watch::OutputDrift { measure: Some(m), .. } => {
            Some(!m.is_p_value())
        }
        Watch::Quality { measure, .. } => match measure {
            QualityMeasure::Bias => None,
            QualityMeasure::Brier | QualityMeasure::Ece | QualityMeasure::Mae | QualityMeasure::Rmse => Some(true),
            _ => Some(false),
        },
        _ => None,
    }
}

const THRESHOLD_HINT: &str = "write a number (`threshold = 0.05`) where the direction is implied, or \
                              `threshold = { above = 0.05 }`, `{ below = 0.8 }`, or both";

/// `Some(Some(t))`: the threshold; `Some(None)`: the drift policy decides; `None`: a mistake.
fn threshold(
    m: &Spanned<RawMonitor>,
    name: &str,
    watch: Option<&Watch>,
    goal_target: Option<Threshold>,
    r: &mut Reporter,
) -> Option<Option<Threshold>> {
    let written = &m.get_ref().threshold;
    let Some(watch) = watch else {
        // the watch is wrong (reported): the threshold's form is still checked
        if let Some(t) = written {
            read_threshold(t, r)?;
        }
        return None;
    };
    if let Watch::Goal { goal } = watch {
        if let Some(t) = written {
            r.at(
                t.span(),
                format!("`threshold` does not apply to goal monitor `{name}`: it alerts when goal `{goal}` misses its own target"),
                Some("remove it; change the goal's `target` to change when it alerts".into()),
            );
            return None;
        }
        return Some(goal_target);
    }
    let Some(t) = written else {
        return match watch {
            w if w.is_drift() => Some(None),
            _ => {
                let example = match implied(watch) {
                    Some(true) => format!("`threshold = {}`: an alert when the figure is above it", example(watch)),
                    Some(false) => format!("`threshold = {}`: an alert when the figure is below it", example(watch)),
                    None => "`threshold = { below = -0.5, above = 0.5 }`".into(),
                };
                r.at(m.span(), format!("monitor `{name}` has no `threshold`"), Some(format!("e.g. {example}")));
                None
            }
        };
    };
    let (number, above, below) = read_threshold(t, r)?;
    if watch.is_drift()
        && let Watch::FeatureDrift { measure: None, .. } | Watch::OutputDrift { measure: None, .. } = watch
    {
        r.at(
            t.span(),
            format!("a threshold of drift monitor `{name}` is on a measure, and it names none"),
            Some(
                "add `measure = \"...\"` (psi, jensen_shannon, wasserstein, ks, chi_squared), or remove the threshold \
                 for the drift policy's verdict"
                    .into(),
            ),
        );
        return None;
    }
    let threshold = match (number, above, below) {
        (Some((v, span)), ..) => match implied(watch) {
            Some(true) => (Threshold::Above(v), vec![(v, span)]),
            Some(false) => (Threshold::Below(v), vec![(v, span)]),
            None => {
                r.at(
                    span,
                    format!("which way is a breach of monitor `{name}`? {watch} can go wrong either way"),
                    Some("write `threshold = { above = ... }`, `{ below = ... }`, or both".into()),
                );
                return None;
            }
        },
        (None, Some((hi, hs)), None) => (Threshold::Above(hi), vec![(hi, hs)]),
        (None, None, Some((lo, ls))) => (Threshold::Below(lo), vec![(lo, ls)]),
        (None, Some((hi, hs)), Some((lo, ls))) => {
            if lo >= hi {
                r.at(
                    ls,
                    format!(
                        "the threshold's `below` ({lo}) is not under its `above` ({hi}): every figure would breach"
                    ),
                    Some("a breach is a figure below `below` or above `above`".into()),
                );
                return None;
            }
            (Threshold::Outside { below: lo, above: hi }, vec![(lo, ls), (hi, hs)])
        }
        (None, None, None) => {
            r.at(t.span(), "a threshold needs `above`, `below` or both", Some(THRESHOLD_HINT.into()));
            return None;
        }
    };
    let b = bounds(watch);
    let mut ok = true;
    for (v, span) in threshold.1 {
        if b.min.is_some_and(|min| v < min) || b.max.is_some_and(|max| v > max) {
            let within = match (b.min, b.max) {
                (Some(min), Some(max)) => format!("between {min} and {max:.4}"),
                (Some(min), None) => format!("at least {min}"),
                (None, Some(max)) => format!("at most {max}"),
                (None, None) => "any number".into(),
            };
            r.at(
                span,
                format!("threshold {v} is outside what {} can be: it is {within}", b.what),
                Some(THRESHOLD_HINT.into()),
            );
            ok = false;
        }
    }
    ok.then_some(Some(threshold.0))
}

fn example(watch: &Watch) -> &'static str {
    match watch {
        Watch::Latency { .. } => "250",
        Watch::Quality { .. } => "0.8",
        _ => "0.05",
    }
}

/// A threshold as written: a number, or `{ above, below }`; each with where it is written.
#[allow(clippy::type_complexity)]
fn read_threshold(
    t: &Typed<RawThreshold>,
    r: &mut Reporter,
) -> Option<(Option<(f64, Range<usize>)>, Option<(f64, Range<usize>)>, Option<(f64, Range<usize>)>)> {
    if let Some(table) = t.ok() {
        let RawThreshold { above, below } = table.get_ref();
        let mut ok = true;
        let mut bound = |r: &mut Reporter, key: &str, v: &Option<Typed<f64>>| -> Option<(f64, Range<usize>)> {
            let v = given(r, &format!("threshold.{key}"), v)?;
            if !v.get_ref().is_finite() {
                r.at(v.span(), format!("`{key}` must be a finite number"), None);
                ok = false;
                return None;
            }
            Some((*v.get_ref(), v.span()))
        };
        let (above_v, below_v) = (bound(r, "above", above), bound(r, "below", below));
        let typed_ok =
            above.as_ref().is_none_or(|a| a.ok().is_some()) && below.as_ref().is_none_or(|b| b.ok().is_some());
        return (ok && typed_ok).then_some((None, above_v, below_v));
    }
    let written = t.wrong()?;
    match written.get_ref() {
        toml::Value::Integer(i) => Some((Some((*i as f64, written.span())), None, None)),
        toml::Value::Float(f) if f.is_finite() => Some((Some((*f, written.span())), None, None)),
        toml::Value::Float(_) => {
            r.at(written.span(), "`threshold` must be a finite number", None);
            None
        }
        toml::Value::String(s) => {
            let hint = match s.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => format!("write it without quotes: `threshold = {}`", s.trim()),
                _ => THRESHOLD_HINT.into(),
            };
            r.at(
                written.span(),
                format!("`threshold` must be a number or a table, not {}", describe(written.get_ref())),
                Some(hint),
            );
            None
        }
        other => {
            r.at(
                written.span(),
                format!("`threshold` must be a number or a table, not {}", describe(other)),
                Some(THRESHOLD_HINT.into()),
            );
            None
        }
    }
}

/// `window = "1h"`, within what telemetry keeps of the events the figure reads; a goal
/// monitor's defaults to its goal's.
fn window(
    m: &Spanned<RawMonitor>,
    name: &str,
    watch_name: Option<&str>,
    watch: Option<&Watch>,
    goal_window: Option<Duration>,
    declared: &Declared,
    r: &mut Reporter,
) -> Option<Duration> {
    let Some(w) = &m.get_ref().window else {
        if watch_name == Some("goal") {
            // the goal's, when it is known (an unknown one is reported)
            return goal_window;
        }
        r.at(
            m.span(),
            format!("monitor `{name}` has no `window`"),
            Some("say over how long each figure is taken, e.g. `window = \"1h\"` or `\"1d\"`".into()),
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
    let retention = declared.retention;
    let mut kept = vec![("predictions", retention.predictions)];
    if let Some(Watch::Quality { estimated: false, .. }) = watch {
        kept.push(("feedback", retention.feedback));
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

/// `open_after` or `close_after`: windows in a row, 1 to [`MAX_RUN`]; `default` when left out.
fn run(r: &mut Reporter, key: &str, value: &Option<Typed<i64>>, default: u32) -> Option<u32> {
    let Some(value) = value else { return Some(default) };
    let v = typed(r, key, value)?;
    let n = *v.get_ref();
    if !(1..=MAX_RUN).contains(&n) {
        r.at(
            v.span(),
            format!("`{key}` must be between 1 and {MAX_RUN} windows in a row, not {n}"),
            Some(format!("`{key} = {default}` is the default")),
        );
        return None;
    }
    Some(n as u32)
}

/// `hysteresis = x`: at least 0, and leaving a figure the watch can take that clears.
fn hysteresis(
    m: &Spanned<RawMonitor>,
    name: &str,
    watch: Option<&Watch>,
    threshold: Option<Threshold>,
    r: &mut Reporter,
) -> Option<f64> {
    let Some(h) = &m.get_ref().hysteresis else { return Some(0.0) };
    let h = typed(r, "hysteresis", h)?;
    let v = *h.get_ref();
    if !v.is_finite() || v < 0.0 {
        r.at(h.span(), format!("`hysteresis` must be a number of at least 0, not {v}"), None);
        return None;
    }
    let Some(watch) = watch else { return Some(v) };
    if let (Watch::FeatureDrift { measure: None, .. } | Watch::OutputDrift { measure: None, .. }, None) =
        (watch, threshold)
    {
        r.at(
            h.span(),
            format!(
                "monitor `{name}` takes the drift policy's verdict, which has no threshold to keep a distance from"
            ),
            Some("watch a measure with `measure = \"...\"` to use hysteresis, or use `close_after`".into()),
        );
        return None;
    }
    let Some(threshold) = threshold else { return Some(v) };
    let b = bounds(watch);
    let never = match threshold {
        Threshold::Above(t) => b.min.is_some_and(|min| t - v < min).then(|| format!("fall to {}", t - v)),
        Threshold::Below(t) => b.max.is_some_and(|max| t + v > max).then(|| format!("rise to {}", t + v)),
        Threshold::Outside { below, above } => {
            (below + v > above - v).then(|| format!("lie between {} and {}", below + v, above - v))
        }
    };
    if let Some(never) = never {
        r.at(
            h.span(),
            format!(
                "with hysteresis {v}, {} must {never} to clear, which it never can: an alert would never close",
                b.what
            ),
            Some("make the hysteresis smaller than the threshold's distance from what the figure can be".into()),
        );
        return None;
    }
    Some(v)
}

/// The `[alerts]` table: a webhook, and how it is sent to.
pub(super) fn alerts(raw: Option<&Typed<RawAlerts>>, r: &mut Reporter) -> AlertSettings {
    let Some(raw) = raw else { return AlertSettings::default() };
    let Some(a) = typed(r, "alerts", raw) else { return AlertSettings::default() };
    let RawAlerts { webhook, timeout_ms, retries, backoff_ms, queue, lateness } = a.get_ref();
    let lateness = match lateness.as_ref().map(|l| typed(r, "lateness", l)) {
        None => Some(AlertSettings::DEFAULT_LATENESS),
        Some(None) => None,
        Some(Some(l)) => {
            let text = l.get_ref().trim();
            let zero = text.trim_end_matches(['s', 'm', 'h', 'd', 'w']).trim();
            if !zero.is_empty() && zero.chars().all(|c| c == '0') {
                Some(Duration::ZERO)
            } else {
                let d = parse_duration(text);
                if d.is_none() {
                    r.at(
                        l.span(),
                        format!("`{}` is not a duration", l.get_ref()),
                        Some("write a number and a unit: `0s`, `30s`, `15m`, `2h`".into()),
                    );
                }
                d
            }
        }
    };
    let lateness = lateness.unwrap_or(AlertSettings::DEFAULT_LATENESS);
    let number =
        |r: &mut Reporter, key: &str, v: &Option<Typed<i64>>, min: i64, max: i64, default: u64| -> Option<u64> {
            let Some(v) = v else { return Some(default) };
            let v = typed(r, key, v)?;
            let n = *v.get_ref();
            if !(min..=max).contains(&n) {
                r.at(v.span(), format!("`{key}` must be between {min} and {max}, not {n}"), None);
                return None;
            }
            Some(n as u64)
        };
    let timeout_v = number(r, "timeout_ms", timeout_ms, 1, 600_000, Webhook::DEFAULT_TIMEOUT.as_millis() as u64);
    let retries_v = number(r, "retries", retries, 0, 100, u64::from(Webhook::DEFAULT_RETRIES));
    let backoff_v = number(r, "backoff_ms", backoff_ms, 1, 3_600_000, Webhook::DEFAULT_BACKOFF.as_millis() as u64);
    let queue_v = number(r, "queue", queue, 1, 1_000_000, Webhook::DEFAULT_QUEUE as u64);
    let Some(url) = webhook else {
        for (span, key) in [
            (timeout_ms.as_ref().map(Typed::span), "timeout_ms"),
            (retries.as_ref().map(Typed::span), "retries"),
            (backoff_ms.as_ref().map(Typed::span), "backoff_ms"),
            (queue.as_ref().map(Typed::span), "queue"),
        ] {
            if let Some(span) = span {
                r.at(
                    span,
                    format!("`{key}` says how alerts are sent to the webhook, and `[alerts]` has no `webhook`"),
                    Some("add `webhook = \"https://...\"`, or remove it".into()),
                );
            }
        }
        return AlertSettings { webhook: None, lateness };
    };
    let url = typed(r, "webhook", url).and_then(|u| match url_problem(u.get_ref()) {
        None => Some(u.get_ref().trim().to_string()),
        Some(problem) => {
            r.at(
                u.span(),
                format!("webhook `{}` {problem}", u.get_ref()),
                Some("give the URL alerts are POSTed to, e.g. `webhook = \"https://hooks.example.com/rein\"`".into()),
            );
            None
        }
    });
    match (url, timeout_v, retries_v, backoff_v, queue_v) {
        (Some(url), Some(timeout), Some(retries), Some(backoff), Some(queue)) => AlertSettings {
            webhook: Some(Webhook {
                url,
                timeout: Duration::from_millis(timeout),
                retries: retries as u32,
                backoff: Duration::from_millis(backoff),
                queue: queue as usize,
            }),
            lateness,
        },
        _ => AlertSettings { webhook: None, lateness },
    }
}

/// What is wrong with a webhook URL, if anything rein can tell without sending to it.
fn url_problem(url: &str) -> Option<&'static str> {
    let url = url.trim();
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else {
        return Some("is not an http:// or https:// URL");
    };
    if url.chars().any(char::is_whitespace) {
        return Some("holds a space");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') || host.starts_with('[') => {
            if !port.is_empty() && port.parse::<u16>().is_err() {
                return Some("has a port that is not a number from 0 to 65535");
            }
            h
        }
        _ => host,
    };
    if host.is_empty() {
        return Some("has no host");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::url_problem;

    #[test]
    fn webhook_urls_are_checked_for_what_can_be_told() {
        for good in [
            "http://localhost:8080/hook",
            "https://hooks.example.com/rein?x=1",
            "http://127.0.0.1:9/a",
            "http://[::1]:80/",
        ] {
            assert_eq!(url_problem(good), None, "{good}");
        }
        assert!(url_problem("ftp://x").is_some());
        assert!(url_problem("hooks.example.com").is_some());
        assert!(url_problem("http://").is_some());
        assert!(url_problem("http://:80/x").is_some());
        assert!(url_problem("http://host:port/").is_some());
        assert!(url_problem("http://a b/").is_some());
    }
}
