//! A `[[components]]` table: its name, task and labels, its model, its fallback; its
//! features, guardrails and experience are checked in their own files.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::experience::experience;
use super::features::features;
use super::fields::{describe, mode, one_of, positive};
use super::guardrails::guardrail;
use crate::diagnostic::Reporter;
use crate::raw::{RawComponent, RawFallback, RawModel};
use crate::types::{
    Component, ComponentLocations, Experience, Fallback, Mode, ModelEngine, ModelSpec, OutputValue, Policy, Task,
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
        Some(t) => match one_of(r, t, "task", &TASKS) {
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
            model_spec(m, base, r)
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
            features(fs.get_ref(), r)
        }
    };
    // Every declared name, valid or not, so that a broken feature does not also
    // make each condition that reads it look wrong.
    let feature_names: Vec<&str> = raw
        .features
        .iter()
        .flat_map(|fs| fs.get_ref().iter())
        .filter_map(|f| f.get_ref().name.as_ref().map(|n| n.get_ref().as_str()))
        .collect();

    let output_check = OutputCheck { task, labels: &labels };
    let mut guardrails = Vec::new();
    let mut rule_names = HashSet::new();
    for g in &raw.guardrails {
        if let Some(g) = guardrail(g, &feature_names, &output_check, r) {
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

    let fallback = raw.fallback.as_ref().and_then(|f| fallback(f, &output_check, r));

    let experience = match &raw.experience {
        Some(e) => experience(e, task, r),
        None => Some(Experience { policy: Policy::Fixed(Mode::Annotate), caps: Vec::new() }),
    };

    if r.found.len() > errors_before {
        return None;
    }
    Some(Component {
        name,
        task: task?,
        labels,
        positive,
        model: model?,
        features,
        guardrails,
        fallback,
        experience: experience?,
        locations,
    })
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

fn labels(
    raw: &RawComponent,
    task: Option<Task>,
    locations: &mut ComponentLocations,
    r: &mut Reporter,
) -> (Vec<String>, Option<usize>) {
    let mut labels = Vec::new();
    if let Some(ls) = &raw.labels {
        locations.labels = r.location(ls.span().start);
        let mut seen = HashSet::new();
        for l in ls.get_ref() {
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
    match (&raw.positive_label, task) {
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
    (labels, positive)
}

fn model_spec(m: &Spanned<RawModel>, base: &Path, r: &mut Reporter) -> Option<ModelSpec> {
    let raw = m.get_ref();
    let path = match &raw.path {
        Some(p) if !p.get_ref().is_empty() => Some(base.join(p.get_ref())),
        Some(p) => {
            r.at(p.span(), "the model path is empty", Some("give the ONNX file, relative to this system file".into()));
            None
        }
        None => {
            r.at(
                m.span(),
                "the model has no `path`",
                Some("add `path = \"model.onnx\"` (relative to this system file)".into()),
            );
            None
        }
    };
    let timeout_ms = match &raw.timeout_ms {
        Some(t) => positive(r, t, "`timeout_ms`", 60_000),
        None => Some(DEFAULT_TIMEOUT_MS),
    };
    let max_concurrency = match &raw.max_concurrency {
        Some(t) => positive(r, t, "`max_concurrency`", 65_536),
        None => Some(DEFAULT_MAX_CONCURRENCY),
    };
    let engine = match &raw.engine {
        Some(e) => match one_of(r, e, "`engine`", ENGINES)? {
            "onnxruntime" => ModelEngine::OnnxRuntime,
            _ => ModelEngine::Auto,
        },
        None => ModelEngine::Auto,
    };
    Some(ModelSpec {
        path: path?,
        version: raw.version.as_ref().map(|v| v.get_ref().clone()),
        timeout: Duration::from_millis(timeout_ms? as u64),
        max_concurrency: max_concurrency? as usize,
        engine,
    })
}

/// What a component can output, for the outputs its fallback and override rules declare.
pub(super) struct OutputCheck<'a> {
    pub(super) task: Option<Task>,
    pub(super) labels: &'a [String],
}

impl OutputCheck<'_> {
    pub(super) fn expected(&self) -> String {
        match self.task {
            Some(Task::Regression) => "give `output = <number>`".into(),
            _ => format!("give `output = \"<label>\"`, one of: {}", self.labels.join(", ")),
        }
    }

    pub(super) fn output(&self, o: &Spanned<toml::Value>, r: &mut Reporter) -> Option<OutputValue> {
        match (self.task?, o.get_ref()) {
            (Task::Regression, toml::Value::Float(f)) if f.is_finite() => Some(OutputValue::Value(*f)),
            (Task::Regression, toml::Value::Integer(i)) => Some(OutputValue::Value(*i as f64)),
            (Task::Binary | Task::Multiclass, toml::Value::String(s)) if self.labels.contains(s) => {
                Some(OutputValue::Label(s.clone()))
            }
            (Task::Binary | Task::Multiclass, toml::Value::String(s)) => {
                r.at(o.span(), format!("output `{s}` is not one of the component's labels"), Some(self.expected()));
                None
            }
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
