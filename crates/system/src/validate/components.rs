//! A `[[components]]` table: its name, task and labels, its model, its fallback; its
//! features, guardrails and experience are checked in their own files.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::experience::{experience, mode_locations};
use super::features::features;
use super::fields::{count, describe, given, list, mode, one_of, typed};
use super::guardrails::guardrail;
use crate::cel_types::ConditionScope;
use crate::diagnostic::{Reporter, closest};
use crate::raw::{RawComponent, RawFallback, RawModel, Typed};
use crate::types::{
    Component, ComponentLocations, Experience, Fallback, Feature, Mode, ModelEngine, ModelSpec, OutputValue, Policy,
    Task, slice_problem,
};

const TASKS: [&str; 3] = ["binary", "multiclass", "regression"];
const DEFAULT_TIMEOUT_MS: i64 = 100;
const DEFAULT_MAX_CONCURRENCY: i64 = 256;
const ENGINES: &[&str] = &["auto", "onnxruntime"];

pub(super) fn component(c: &Spanned<RawComponent>, base: &Path, r: &mut Reporter) -> Option<Component> {
    let raw = c.get_ref();
    let mut locations = ComponentLocations { component: r.location(c.span().start), ..Default::default() };
    let errors_before = r.found.len();

    let name = super::fields::name(
        r,
        "component",
        raw.name.as_ref(),
        c.span(),
        "this component has no `name`",
        Some("add `name = \"...\"`"),
    )
    .unwrap_or_default();
    let task = match &raw.task {
        Some(t) => match one_of(r, "task", t, "task", &TASKS) {
            Some("binary") => Some(Task::Binary),
            Some("multiclass") => Some(Task::Multiclass),
            Some(_) => Some(Task::Regression),
            None => None,
        },
        None => {
            r.at(
                c.span(),
                format!("component `{name}` has no `task`"),
                Some(format!("add `task = ` one of: {}", TASKS.join(", "))),
            );
            None
        }
    };

    let (labels, positive) = labels(raw, task, &mut locations, r);
    let label_names = label_names(raw, task, labels.as_deref(), r);

    let model = match &raw.model {
        None => {
            r.at(
                c.span(),
                format!("component `{name}` has no `model`"),
                Some("add `model = { path = \"model.onnx\" }`".into()),
            );
            None
        }
        Some(m) => {
            locations.model = r.location(m.span().start);
            typed(r, "model", m).and_then(|m| model_spec(m, base, &name, r))
        }
    };

    let features = match &raw.features {
        None => {
            r.at(
                c.span(),
                format!("component `{name}` declares no features"),
                Some("add `[[components.features]]` tables in the order the model takes them".into()),
            );
            Vec::new()
        }
        Some(fs) => {
            locations.features = r.location(fs.span().start);
            list(r, "features", fs).map(|fs| features(&fs, r)).unwrap_or_default()
        }
    };
    let feature_names = feature_names(raw);
    // each name with its type, when it was declared validly (the first, if twice)
    let scope = ConditionScope {
        features: feature_names
            .as_ref()
            .map(|names| names.iter().map(|&n| (n, features.iter().find(|f| f.name == n).map(|f| &f.kind))).collect()),
        task,
        labels: labels.as_deref(),
    };

    let output_check = OutputCheck { task, labels: labels.as_deref() };
    let mut guardrails = Vec::new();
    let mut rule_names = HashSet::new();
    let listed = raw.guardrails.as_ref().and_then(|gs| list(r, "guardrails", gs));
    for g in listed.unwrap_or_default() {
        if let Some(g) = guardrail(g, &scope, &output_check, r) {
            if !rule_names.insert(g.name.clone()) {
                r.at_location(
                    g.location,
                    format!("guardrail `{}` is declared twice in component `{name}`", g.name),
                    Some("guardrail names must be unique".into()),
                );
            }
            guardrails.push(g);
        }
    }

    let fallback = raw.fallback.as_ref().and_then(|f| fallback(typed(r, "fallback", f)?, &output_check, r));

    locations.experience = locations.component;
    let experience = match &raw.experience {
        Some(e) => typed(r, "experience", e).and_then(|e| {
            locations.experience = r.location(e.span().start);
            locations.modes = mode_locations(e, r);
            experience(e, task, r)
        }),
        None => Some(Experience { policy: Policy::Fixed(Mode::Annotate), caps: Vec::new() }),
    };

    let slices = raw.slices.as_ref().map(|s| slices(s, &name, &features, r)).unwrap_or_default();

    if r.found.len() > errors_before {
        return None;
    }
    Some(Component {
        name,
        task: task?,
        labels: labels.unwrap_or_default(),
        positive,
        label_names,
        model: model?,
        features,
        guardrails,
        fallback,
        experience: experience?,
        slices,
        locations,
    })
}

/// `slices = ["region", "mode"]`: each a field its quality can be cut by, once.
fn slices(listed: &Typed<Vec<Typed<String>>>, name: &str, features: &[Feature], r: &mut Reporter) -> Vec<String> {
    let Some(listed) = list(r, "slices", listed) else { return Vec::new() };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for s in listed {
        let given = s.get_ref().trim();
        if let Some((message, hint)) = slice_problem(name, features, given) {
            r.at(s.span(), message, Some(hint));
            continue;
        }
        let field = given.strip_prefix("features.").unwrap_or(given).to_string();
        if !seen.insert(field.clone()) {
            r.at(s.span(), format!("`{field}` is listed twice in `slices`"), None);
            continue;
        }
        out.push(field);
    }
    out
}

/// Every declared feature name, valid or not, so that a broken feature does not also make
/// each condition that reads it look wrong; `None` when a name, a feature or their list is
/// written as a value of the wrong type, and the names are not known.
fn feature_names(raw: &RawComponent) -> Option<Vec<&str>> {
    let mut names = Vec::new();
    let Some(features) = &raw.features else {
        return Some(names);
    };
    for f in features.ok()?.get_ref() {
        if let Some(name) = &f.ok()?.get_ref().name {
            names.push(name.ok()?.get_ref().as_str());
        }
    }
    Some(names)
}

fn fallback(f: &Spanned<RawFallback>, outputs: &OutputCheck, r: &mut Reporter) -> Option<Fallback> {
    let raw = f.get_ref();
    let output = match &raw.output {
        Some(o) => outputs.output(o, r),
        None => {
            r.at(f.span(), "the fallback has no `output`", Some(outputs.expected()));
            None
        }
    };
    let mode = match &raw.mode {
        Some(m) => mode(r, m),
        None => Some(Mode::None),
    };
    Some(Fallback { output: output?, mode: mode? })
}

/// The labels and the index of the positive one; no labels when they are given as a value
/// of the wrong type.
fn labels(
    raw: &RawComponent,
    task: Option<Task>,
    locations: &mut ComponentLocations,
    r: &mut Reporter,
) -> (Option<Vec<String>>, Option<usize>) {
    let positive_label = given(r, "positive_label", &raw.positive_label);
    let mut labels = Vec::new();
    if let Some(ls) = &raw.labels {
        locations.labels = r.location(ls.span().start);
        // a list with a value of another type is reported; what follows needs its labels
        let Some(listed) = list(r, "labels", ls) else {
            return (None, None);
        };
        let mut seen = HashSet::new();
        for l in listed {
            if !seen.insert(l.get_ref().clone()) {
                r.at(l.span(), format!("label `{}` is listed twice", l.get_ref()), None);
            }
            if l.get_ref().is_empty() {
                r.at(l.span(), "a label may not be empty", None);
            }
            labels.push(l.get_ref().clone());
        }
    }
    let span_labels = raw.labels.as_ref().map(|l| l.span()).unwrap_or(0..0);
    match task {
        Some(Task::Binary) if raw.labels.is_some() && labels.len() != 2 => {
            r.at(
                span_labels,
                format!("a binary component has exactly 2 labels, this one lists {}", labels.len()),
                Some("e.g. `labels = [\"legit\", \"phishing\"]`".into()),
            );
        }
        Some(Task::Multiclass) if raw.labels.is_some() && labels.len() < 2 => {
            r.at(
                span_labels,
                format!("a multiclass component needs at least 2 labels, this one lists {}", labels.len()),
                None,
            );
        }
        Some(Task::Binary | Task::Multiclass) if raw.labels.is_none() => {
            let at = raw.task.as_ref().map(|t| t.span()).unwrap_or(0..0);
            r.at(
                at,
                "a classifier needs its `labels`, in the order of the model's classes",
                Some("e.g. `labels = [\"legit\", \"phishing\"]`".into()),
            );
        }
        Some(Task::Regression) if raw.labels.is_some() => {
            r.at(
                span_labels,
                "a regression component has no labels",
                Some("remove `labels`, or use `task = \"binary\"` or `\"multiclass\"`".into()),
            );
        }
        _ => {}
    }
    let mut positive = None;
    match (positive_label, task) {
        (Some(p), Some(Task::Binary)) => match labels.iter().position(|l| l == p.get_ref()) {
            Some(i) => positive = Some(i),
            None => r.at(
                p.span(),
                format!("positive label `{}` is not one of the labels", p.get_ref()),
                Some(format!("labels: {}", labels.join(", "))),
            ),
        },
        (Some(p), Some(_)) => r.at(p.span(), "`positive_label` applies to binary components only", None),
        (None, Some(Task::Binary)) if labels.len() == 2 => positive = Some(1),
        _ => {}
    }
    (Some(labels), positive)
}

/// `label_names`: how labels are shown to people, each key a declared label.
fn label_names(
    raw: &RawComponent,
    task: Option<Task>,
    labels: Option<&[String]>,
    r: &mut Reporter,
) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    let Some(written) = raw.label_names.as_ref().and_then(|n| typed(r, "label_names", n)) else {
        return names;
    };
    if task == Some(Task::Regression) {
        r.at(
            written.span(),
            "a regression component has no labels to name",
            Some("remove `label_names`, or use `task = \"binary\"` or `\"multiclass\"`".into()),
        );
        return names;
    }
    // display name → label, to find a name given to two labels
    let mut shown: BTreeMap<&str, &str> = BTreeMap::new();
    for (label, name) in written.get_ref() {
        let key = format!("label_names.{}", label.get_ref());
        let Some(name) = typed(r, &key, name) else { continue };
        let (label_text, name_text) = (label.get_ref().as_str(), name.get_ref().as_str());
        // a key's place, or its value's when the key has none
        let at = if label.span().is_empty() { name.span() } else { label.span() };
        if let Some(labels) = labels
            && !labels.iter().any(|l| l == label_text)
        {
            let hint = match closest(label_text, labels.iter().map(String::as_str)) {
                Some(near) => format!("did you mean `{near}`? labels: {}", labels.join(", ")),
                None => format!("labels: {}", labels.join(", ")),
            };
            r.at(at, format!("`label_names` names `{label_text}`, which is not one of the labels"), Some(hint));
            continue;
        }
        if name_text.trim().is_empty() {
            r.at(name.span(), format!("the name of label `{label_text}` is empty"), None);
            continue;
        }
        if let Some(other) = shown.insert(name_text, label_text) {
            r.at(
                name.span(),
                format!("labels `{other}` and `{label_text}` are both named \"{name_text}\""),
                Some("give each label a name of its own, so people can tell them apart".into()),
            );
        }
        names.insert(label_text.to_string(), name_text.to_string());
    }
    names
}

fn model_spec(m: &Spanned<RawModel>, base: &Path, component: &str, r: &mut Reporter) -> Option<ModelSpec> {
    let raw = m.get_ref();
    let path = match raw.path.as_ref().map(|p| typed(r, "path", p)) {
        Some(Some(p)) if !p.get_ref().is_empty() => Some(base.join(p.get_ref())),
        Some(Some(p)) => {
            r.at(p.span(), "the model path is empty", Some("give the ONNX file, relative to this system file".into()));
            None
        }
        Some(None) => None,
        None => {
            r.at(
                m.span(),
                "the model has no `path`",
                Some("add `path = \"model.onnx\"` (relative to this system file)".into()),
            );
            None
        }
    };
    // `Some(None)`: given, and not a valid name (reported)
    let name = raw.name.as_ref().map(|n| super::fields::name(r, "model", Some(n), m.span(), "", None));
    let version = given(r, "version", &raw.version).map(|v| v.get_ref().clone());
    let timeout_ms = match &raw.timeout_ms {
        Some(_) => count(r, "timeout_ms", &raw.timeout_ms, 60_000),
        None => Some(DEFAULT_TIMEOUT_MS),
    };
    let max_concurrency = match &raw.max_concurrency {
        Some(_) => count(r, "max_concurrency", &raw.max_concurrency, 65_536),
        None => Some(DEFAULT_MAX_CONCURRENCY),
    };
    let engine = match &raw.engine {
        Some(e) => match one_of(r, "engine", e, "`engine`", ENGINES)? {
            "onnxruntime" => ModelEngine::OnnxRuntime,
            _ => ModelEngine::Auto,
        },
        None => ModelEngine::Auto,
    };
    let path = path?;
    let name = match name {
        Some(name) => name?,
        None => path.file_stem().map_or_else(|| component.to_string(), |s| s.to_string_lossy().into_owned()),
    };
    Some(ModelSpec {
        name,
        path,
        version,
        timeout: Duration::from_millis(timeout_ms? as u64),
        max_concurrency: max_concurrency? as usize,
        engine,
    })
}

/// What a component can output, for the outputs its fallback and override rules declare.
pub(super) struct OutputCheck<'a> {
    pub(super) task: Option<Task>,
    /// `None` when they are given as a value of the wrong type (reported): none can be checked.
    pub(super) labels: Option<&'a [String]>,
}

impl OutputCheck<'_> {
    pub(super) fn expected(&self) -> String {
        match self.task {
            Some(Task::Regression) => "give `output = <number>`".into(),
            _ => format!("give `output = \"<label>\"`, one of: {}", self.labels.unwrap_or_default().join(", ")),
        }
    }

    pub(super) fn output(&self, o: &Spanned<toml::Value>, r: &mut Reporter) -> Option<OutputValue> {
        match (self.task?, o.get_ref()) {
            (Task::Regression, toml::Value::Float(f)) if f.is_finite() => Some(OutputValue::Value(*f)),
            (Task::Regression, toml::Value::Integer(i)) => Some(OutputValue::Value(*i as f64)),
            (Task::Binary | Task::Multiclass, toml::Value::String(s)) => match self.labels {
                Some(labels) if labels.contains(s) => Some(OutputValue::Label(s.clone())),
                Some(_) => {
                    r.at(o.span(), format!("output `{s}` is not one of the component's labels"), Some(self.expected()));
                    None
                }
                None => None,
            },
            (_, other) => {
                r.at(
                    o.span(),
                    format!("output is {}, which this component cannot produce", describe(other)),
                    Some(self.expected()),
                );
                None
            }
        }
    }
}
