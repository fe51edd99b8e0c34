//! From the file as written (`raw`) to a validated [`System`], reporting every mistake found.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use crate::cel_check;
use crate::diagnostic::{Reporter, closest};
use crate::raw::*;
use crate::types::*;

const TASKS: [&str; 3] = ["binary", "multiclass", "regression"];
const FEATURE_TYPES: [&str; 5] = ["number", "integer", "boolean", "category", "text"];
const STAGES: [&str; 2] = ["input", "output"];
const ACTIONS: [&str; 5] = ["reject", "clamp", "override", "escalate", "flag"];
const POLICIES: [&str; 3] = ["thresholds", "expected_value", "fixed"];
const DEFAULT_TIMEOUT_MS: i64 = 100;
const DEFAULT_MAX_CONCURRENCY: i64 = 256;
const ENGINES: &[&str] = &["auto", "onnxruntime"];
const DEFAULT_TEXT_MAX_LENGTH: i64 = 10_000;

pub(crate) fn validate(raw: RawFile, file: &Path, r: &mut Reporter) -> Option<System> {
    let base = file.parent().unwrap_or(Path::new("."));
    let (name, description) = match &raw.system {
        None => {
            r.at(
                0..0,
                "the `[system]` table is missing",
                Some("start the file with `[system]` and `name = \"my-system\"`".into()),
            );
            (String::new(), String::new())
        }
        Some(sys) => {
            let name = match &sys.get_ref().name {
                Some(n) if is_identifier(n.get_ref()) => n.get_ref().clone(),
                Some(n) => {
                    r.at(
                        n.span(),
                        format!("system name `{}` is not a valid name", n.get_ref()),
                        Some(IDENT_HINT.into()),
                    );
                    String::new()
                }
                None => {
                    r.at(sys.span(), "`[system]` has no `name`", Some("add `name = \"my-system\"`".into()));
                    String::new()
                }
            };
            (name, sys.get_ref().description.clone())
        }
    };

    let runtime = RuntimeSettings { onnxruntime: raw.runtime.onnxruntime.as_ref().map(|p| base.join(p.get_ref())) };
    let server = server_settings(&raw.server, r);
    let telemetry = telemetry_settings(&raw.telemetry, r);

    if raw.components.is_empty() {
        r.at(
            0..0,
            "the system declares no component",
            Some("add a `[[components]]` table with name, task, model and features".into()),
        );
    }
    let mut names = HashSet::new();
    let mut components = Vec::new();
    for c in &raw.components {
        if let Some(component) = component(c, base, r) {
            if !names.insert(component.name.clone()) {
                let span = c.get_ref().name.as_ref().map(|n| n.span()).unwrap_or(c.span());
                r.at(
                    span,
                    format!("component `{}` is declared twice", component.name),
                    Some("component names must be unique".into()),
                );
            }
            components.push(component);
        }
    }
    check_timeouts(&raw, &server, &telemetry, &components, r);
    Some(System {
        name,
        description,
        file: file.to_path_buf(),
        runtime,
        server,
        telemetry,
        components,
        goals: raw.goals,
    })
}

/// A request must outlive its model call and its telemetry commit, or a slow model gets a
/// 408 instead of its fallback, and a stalled store a 408 instead of a clear 503.
fn check_timeouts(
    raw: &RawFile,
    server: &ServerSettings,
    telemetry: &TelemetrySettings,
    components: &[Component],
    r: &mut Reporter,
) {
    let commit = if telemetry.enabled { telemetry.commit_timeout } else { Duration::ZERO };
    for c in components {
        let needed = c.model.timeout + commit;
        if server.request_timeout > needed {
            continue;
        }
        let raw_c = raw.components.iter().find(|rc| rc.get_ref().name.as_ref().is_some_and(|n| *n.get_ref() == c.name));
        let model_timeout =
            raw_c.and_then(|rc| rc.get_ref().model.as_ref()).and_then(|m| m.get_ref().timeout_ms.as_ref());
        let span = match (&raw.server.request_timeout_ms, model_timeout, raw_c) {
            (Some(t), _, _) => t.span(),
            (None, Some(t), _) => t.span(),
            (None, None, Some(rc)) => rc.span(),
            (None, None, None) => 0..0,
        };
        r.at(
            span,
            format!(
                "`server.request_timeout_ms` ({} ms) must exceed component `{}`'s model `timeout_ms` ({} ms) \
                 plus `telemetry.commit_timeout_ms` ({} ms)",
                server.request_timeout.as_millis(),
                c.name,
                c.model.timeout.as_millis(),
                commit.as_millis()
            ),
            Some(format!(
                "set `request_timeout_ms = {}` or more in `[server]`",
                (needed + Duration::from_secs(1)).as_millis()
            )),
        );
    }
}

const IDENT_HINT: &str = "use letters, digits, `-` and `_`, starting with a letter (it appears in URLs and metrics)";

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && s.len() <= 64
}

fn one_of<'v>(r: &mut Reporter, value: &Spanned<String>, what: &str, allowed: &[&'v str]) -> Option<&'v str> {
    let given = value.get_ref().as_str();
    if let Some(found) = allowed.iter().find(|a| **a == given) {
        return Some(found);
    }
    let hint = match closest(given, allowed.iter().copied()) {
        Some(near) => format!("did you mean `{near}`? {what} is one of: {}", allowed.join(", ")),
        None => format!("{what} is one of: {}", allowed.join(", ")),
    };
    r.at(value.span(), format!("unknown {what} `{given}`"), Some(hint));
    None
}

fn positive(r: &mut Reporter, value: &Spanned<i64>, what: &str, max: i64) -> Option<i64> {
    let v = *value.get_ref();
    if v < 1 || v > max {
        r.at(value.span(), format!("{what} must be between 1 and {max}, not {v}"), None);
        return None;
    }
    Some(v)
}

fn server_settings(raw: &RawServer, r: &mut Reporter) -> ServerSettings {
    let mut s = ServerSettings::default();
    if let Some(v) = &raw.max_body_bytes
        && let Some(v) = positive(r, v, "`max_body_bytes`", 1 << 30)
    {
        s.max_body_bytes = v as usize;
    }
    if let Some(v) = &raw.max_batch
        && let Some(v) = positive(r, v, "`max_batch`", 100_000)
    {
        s.max_batch = v as usize;
    }
    if let Some(v) = &raw.unknown_features {
        match one_of(r, v, "unknown_features policy", &["reject", "ignore"]) {
            Some("ignore") => s.unknown_features = UnknownFeatures::Ignore,
            Some(_) => s.unknown_features = UnknownFeatures::Reject,
            None => {}
        }
    }
    if let Some(v) = &raw.request_timeout_ms
        && let Some(v) = positive(r, v, "`request_timeout_ms`", 3_600_000)
    {
        s.request_timeout = Duration::from_millis(v as u64);
    }
    if let Some(v) = &raw.shutdown_timeout_ms
        && let Some(v) = positive(r, v, "`shutdown_timeout_ms`", 3_600_000)
    {
        s.shutdown_timeout = Duration::from_millis(v as u64);
    }
    s
}

fn telemetry_settings(raw: &RawTelemetry, r: &mut Reporter) -> TelemetrySettings {
    let mut t = TelemetrySettings::default();
    if let Some(enabled) = raw.enabled {
        t.enabled = enabled;
    }
    if let Some(spill) = raw.spill {
        t.spill = spill;
    }
    if let Some(fsync) = raw.fsync {
        t.fsync = fsync;
    }
    if let Some(d) = &raw.durability {
        match one_of(r, d, "durability", &["durable", "buffered"]) {
            Some("buffered") => t.durability = Durability::Buffered,
            Some(_) => t.durability = Durability::Durable,
            None => {}
        }
    }
    if let Some(c) = &raw.queue_capacity
        && let Some(c) = positive(r, c, "`queue_capacity`", 10_000_000)
    {
        t.queue_capacity = c as usize;
    }
    if let Some(c) = &raw.commit_timeout_ms
        && let Some(c) = positive(r, c, "`commit_timeout_ms`", 600_000)
    {
        t.commit_timeout = Duration::from_millis(c as u64);
    }
    let days = |r: &mut Reporter, v: &Option<Spanned<i64>>, what: &str| {
        v.as_ref().and_then(|d| positive(r, d, what, 365_000)).map(|d| d as u32)
    };
    t.retention = RetentionDays {
        predictions: days(r, &raw.retention_days.predictions, "`retention_days.predictions`"),
        feedback: days(r, &raw.retention_days.feedback, "`retention_days.feedback`"),
        outcomes: days(r, &raw.retention_days.outcomes, "`retention_days.outcomes`"),
    };
    // at most a petabyte: past it the setting is almost certainly bytes written as megabytes
    t.max_store_bytes = raw
        .max_store_mb
        .as_ref()
        .and_then(|mb| positive(r, mb, "`max_store_mb`", 1_000_000_000))
        .map(|mb| mb as u64 * 1024 * 1024);
    t
}

fn component(c: &Spanned<RawComponent>, base: &Path, r: &mut Reporter) -> Option<Component> {
    let raw = c.get_ref();
    let mut locations = ComponentLocations { component: r.location(c.span().start), ..Default::default() };
    let errors_before = r.found.len();

    let name = match &raw.name {
        Some(n) if is_identifier(n.get_ref()) => n.get_ref().clone(),
        Some(n) => {
            r.at(n.span(), format!("component name `{}` is not a valid name", n.get_ref()), Some(IDENT_HINT.into()));
            String::new()
        }
        None => {
            r.at(c.span(), "this component has no `name`", Some("add `name = \"...\"`".into()));
            String::new()
        }
    };
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

    let fallback = raw.fallback.as_ref().and_then(|f| {
        let f_raw = f.get_ref();
        let output = match &f_raw.output {
            Some(o) => output_check.output(o, r),
            None => {
                r.at(f.span(), "the fallback has no `output`", Some(output_check.expected()));
                None
            }
        };
        let mode = match &f_raw.mode {
            Some(m) => mode(r, m),
            None => Some(Mode::None),
        };
        Some(Fallback { output: output?, mode: mode? })
    });

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

fn features(raw: &[Spanned<RawFeature>], r: &mut Reporter) -> Vec<Feature> {
    let mut out: Vec<Feature> = Vec::new();
    if raw.is_empty() {
        r.at(0..0, "a component needs at least one feature", None);
    }
    for f in raw {
        let errors_before = r.found.len();
        let feature = feature(f, r);
        if let Some(feature) = feature {
            if out.iter().any(|o| o.name == feature.name) {
                let span = f.get_ref().name.as_ref().map(|n| n.span()).unwrap_or(f.span());
                r.at(
                    span,
                    format!("feature `{}` is declared twice", feature.name),
                    Some("feature names must be unique".into()),
                );
            } else if r.found.len() == errors_before {
                out.push(feature);
            }
        }
    }
    out
}

fn feature(f: &Spanned<RawFeature>, r: &mut Reporter) -> Option<Feature> {
    let raw = f.get_ref();
    let name = match &raw.name {
        Some(n) if is_identifier(n.get_ref()) => n.get_ref().clone(),
        Some(n) => {
            r.at(n.span(), format!("feature name `{}` is not a valid name", n.get_ref()), Some(IDENT_HINT.into()));
            return None;
        }
        None => {
            r.at(f.span(), "this feature has no `name`", None);
            return None;
        }
    };
    let Some(kind_name) = &raw.kind else {
        r.at(
            f.span(),
            format!("feature `{name}` has no `type`"),
            Some(format!("`type` is one of: {}", FEATURE_TYPES.join(", "))),
        );
        return None;
    };
    let kind_name = one_of(r, kind_name, "feature type", &FEATURE_TYPES)?;

    let not_for = |r: &mut Reporter, field: Option<Range<usize>>, key: &str| {
        if let Some(span) = field {
            r.at(span, format!("`{key}` does not apply to a {kind_name} feature (`{name}`)"), None);
        }
    };
    let kind = match kind_name {
        "number" => {
            let min = bound_f64(r, raw.min.as_ref(), &name);
            let max = bound_f64(r, raw.max.as_ref(), &name);
            bounds_ordered(r, raw, min, max, &name);
            FeatureKind::Number { min, max }
        }
        "integer" => {
            let min = bound_i64(r, raw.min.as_ref(), &name);
            let max = bound_i64(r, raw.max.as_ref(), &name);
            bounds_ordered(r, raw, min.map(|v| v as f64), max.map(|v| v as f64), &name);
            FeatureKind::Integer { min, max }
        }
        "boolean" => FeatureKind::Boolean,
        "category" => match &raw.categories {
            Some(cs) if !cs.get_ref().is_empty() => {
                let mut categories: Vec<String> = Vec::new();
                for c in cs.get_ref() {
                    if categories.contains(c.get_ref()) {
                        r.at(c.span(), format!("category `{}` is listed twice", c.get_ref()), None);
                    }
                    categories.push(c.get_ref().clone());
                }
                FeatureKind::Category { categories }
            }
            Some(cs) => {
                r.at(cs.span(), format!("category feature `{name}` lists no categories"), None);
                return None;
            }
            None => {
                r.at(
                    f.span(),
                    format!("category feature `{name}` needs `categories`"),
                    Some("e.g. `categories = [\"com\", \"org\"]`".into()),
                );
                return None;
            }
        },
        _ => {
            let max_length = match &raw.max_length {
                Some(m) => positive(r, m, "`max_length`", 10_000_000)?,
                None => DEFAULT_TEXT_MAX_LENGTH,
            };
            FeatureKind::Text { max_length: max_length as usize }
        }
    };
    if !matches!(kind, FeatureKind::Number { .. } | FeatureKind::Integer { .. }) {
        not_for(r, raw.min.as_ref().map(|s| s.span()), "min");
        not_for(r, raw.max.as_ref().map(|s| s.span()), "max");
    }
    if !matches!(kind, FeatureKind::Category { .. }) {
        not_for(r, raw.categories.as_ref().map(|s| s.span()), "categories");
    }
    if !matches!(kind, FeatureKind::Text { .. }) {
        not_for(r, raw.max_length.as_ref().map(|s| s.span()), "max_length");
        not_for(r, raw.telemetry_truncate.as_ref().map(|s| s.span()), "telemetry_truncate");
    }

    let default = raw.default.as_ref().and_then(|d| default_value(r, d, &kind, &name));
    let required = match (&raw.required, &default) {
        (Some(req), Some(_)) if *req.get_ref() => {
            r.at(
                req.span(),
                format!("feature `{name}` is required but has a default"),
                Some(
                    "a default is used only when the feature is missing; drop `required = true` or the default".into(),
                ),
            );
            true
        }
        (Some(req), None) => *req.get_ref(),
        (None, None) => true,
        (_, Some(_)) => false,
    };

    let telemetry = match (&raw.telemetry, &raw.telemetry_truncate) {
        (Some(t), None) => match one_of(r, t, "telemetry policy", &["raw", "hash", "drop"])? {
            "hash" => TelemetryPolicy::Hash,
            "drop" => TelemetryPolicy::Drop,
            _ => TelemetryPolicy::Raw,
        },
        (None, Some(n)) => TelemetryPolicy::Truncate(positive(r, n, "`telemetry_truncate`", 1_000_000)? as usize),
        (Some(t), Some(_)) => {
            r.at(
                t.span(),
                format!("feature `{name}` has both `telemetry` and `telemetry_truncate`"),
                Some("truncation implies raw text; keep one of them".into()),
            );
            return None;
        }
        (None, None) => TelemetryPolicy::Raw,
    };
    Some(Feature { name, kind, required, default, telemetry, location: r.location(f.span().start) })
}

fn bound_f64(r: &mut Reporter, v: Option<&Spanned<toml::Value>>, name: &str) -> Option<f64> {
    let v = v?;
    match v.get_ref() {
        toml::Value::Float(f) if f.is_finite() => Some(*f),
        toml::Value::Integer(i) => Some(*i as f64),
        other => {
            r.at(v.span(), format!("bound of feature `{name}` must be a finite number, not {}", describe(other)), None);
            None
        }
    }
}

fn bound_i64(r: &mut Reporter, v: Option<&Spanned<toml::Value>>, name: &str) -> Option<i64> {
    let v = v?;
    match v.get_ref() {
        toml::Value::Integer(i) => Some(*i),
        other => {
            r.at(
                v.span(),
                format!("bound of integer feature `{name}` must be an integer, not {}", describe(other)),
                None,
            );
            None
        }
    }
}

fn bounds_ordered(r: &mut Reporter, raw: &RawFeature, min: Option<f64>, max: Option<f64>, name: &str) {
    if let (Some(lo), Some(hi), Some(span)) = (min, max, raw.min.as_ref().map(|m| m.span()))
        && lo > hi
    {
        r.at(span, format!("feature `{name}` has min {lo} above max {hi}"), Some("min must be at most max".into()));
    }
}

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string \"{s}\""),
        toml::Value::Integer(i) => format!("the integer {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(_) => "a date".into(),
        toml::Value::Array(_) => "an array".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

fn default_value(r: &mut Reporter, d: &Spanned<toml::Value>, kind: &FeatureKind, name: &str) -> Option<FeatureValue> {
    let wrong = |r: &mut Reporter| {
        r.at(
            d.span(),
            format!(
                "default of feature `{name}` is {}, but the feature is {}",
                describe(d.get_ref()),
                kind.type_name()
            ),
            None,
        );
        None
    };
    let value = match (kind, d.get_ref()) {
        (FeatureKind::Number { .. }, toml::Value::Float(f)) if f.is_finite() => FeatureValue::Number(*f),
        (FeatureKind::Number { .. }, toml::Value::Integer(i)) => FeatureValue::Number(*i as f64),
        (FeatureKind::Integer { .. }, toml::Value::Integer(i)) => FeatureValue::Integer(*i),
        (FeatureKind::Boolean, toml::Value::Boolean(b)) => FeatureValue::Boolean(*b),
        (FeatureKind::Category { .. } | FeatureKind::Text { .. }, toml::Value::String(s)) => {
            FeatureValue::Text(s.clone())
        }
        _ => return wrong(r),
    };
    if let Err(problem) = crate::check_value(kind, &value) {
        r.at(d.span(), format!("default of feature `{name}` {problem}"), None);
        return None;
    }
    Some(value)
}

fn mode(r: &mut Reporter, m: &Spanned<String>) -> Option<Mode> {
    let names: Vec<&str> = Mode::ALL.iter().map(|m| m.as_str()).collect();
    one_of(r, m, "mode", &names).and_then(Mode::parse)
}

struct OutputCheck<'a> {
    task: Option<Task>,
    labels: &'a [String],
}

impl OutputCheck<'_> {
    fn expected(&self) -> String {
        match self.task {
            Some(Task::Regression) => "give `output = <number>`".into(),
            _ => format!("give `output = \"<label>\"`, one of: {}", self.labels.join(", ")),
        }
    }

    fn output(&self, o: &Spanned<toml::Value>, r: &mut Reporter) -> Option<OutputValue> {
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

fn guardrail(
    g: &Spanned<RawGuardrail>,
    features: &[&str],
    outputs: &OutputCheck,
    r: &mut Reporter,
) -> Option<Guardrail> {
    let raw = g.get_ref();
    let errors_before = r.found.len();
    let name = match &raw.name {
        Some(n) if is_identifier(n.get_ref()) => n.get_ref().clone(),
        Some(n) => {
            r.at(n.span(), format!("guardrail name `{}` is not a valid name", n.get_ref()), Some(IDENT_HINT.into()));
            String::new()
        }
        None => {
            r.at(
                g.span(),
                "this guardrail has no `name`",
                Some("name each rule: it is reported when the rule fires".into()),
            );
            String::new()
        }
    };
    let stage = match &raw.stage {
        Some(s) => match one_of(r, s, "stage", &STAGES) {
            Some("input") => Some(Stage::Input),
            Some(_) => Some(Stage::Output),
            None => None,
        },
        None => {
            r.at(
                g.span(),
                format!("guardrail `{name}` has no `stage`"),
                Some("add `stage = \"input\"` (before the model) or `\"output\"` (after it)".into()),
            );
            None
        }
    };
    let condition = match (&raw.when, stage) {
        (Some(w), Some(stage)) => condition(w, stage, features, r),
        (Some(_), None) => None,
        (None, _) => {
            r.at(
                g.span(),
                format!("guardrail `{name}` has no `when` condition"),
                Some("add a CEL condition, e.g. `when = \"features.age > 120\"`".into()),
            );
            None
        }
    };
    let action = match &raw.action {
        Some(a) => one_of(r, a, "action", &ACTIONS),
        None => {
            r.at(
                g.span(),
                format!("guardrail `{name}` has no `action`"),
                Some(format!("`action` is one of: {}", ACTIONS.join(", "))),
            );
            None
        }
    };
    // Each action takes only its own fields; any other one is a mistake worth naming.
    if let Some(action) = action {
        let takes: &[&str] = match action {
            "reject" => &["message"],
            "clamp" => &["min", "max"],
            "override" => &["output", "mode"],
            "escalate" => &["to"],
            _ => &[],
        };
        let given = [
            (raw.min.as_ref().map(|s| s.span()), "min"),
            (raw.max.as_ref().map(|s| s.span()), "max"),
            (raw.output.as_ref().map(|s| s.span()), "output"),
            (raw.mode.as_ref().map(|s| s.span()), "mode"),
            (raw.to.as_ref().map(|s| s.span()), "to"),
            (raw.message.as_ref().map(|s| s.span()), "message"),
        ];
        for (span, key) in given {
            if let Some(span) = span.filter(|_| !takes.contains(&key)) {
                r.at(span, format!("`{key}` does not apply to a `{action}` guardrail (`{name}`)"), None);
            }
        }
    }
    let action = match action {
        Some("reject") => Some(Action::Reject {
            message: raw
                .message
                .as_ref()
                .map(|m| m.get_ref().clone())
                .unwrap_or_else(|| format!("refused by guardrail `{name}`")),
        }),
        Some("clamp") => {
            let action_span = raw.action.as_ref().map(|a| a.span()).unwrap_or(g.span());
            if stage == Some(Stage::Input) {
                r.at(
                    action_span.clone(),
                    format!("guardrail `{name}` clamps at the input stage, where there is no output yet"),
                    Some("use `stage = \"output\"`".into()),
                );
            }
            if outputs.task.is_some_and(|t| t != Task::Regression) {
                r.at(
                    action_span.clone(),
                    format!("guardrail `{name}` clamps, but only a regression output is numeric"),
                    Some("for a classifier, use `override` with a label".into()),
                );
            }
            let (min, max) = (raw.min.as_ref().map(|m| *m.get_ref()), raw.max.as_ref().map(|m| *m.get_ref()));
            match (min, max) {
                (None, None) => r.at(
                    action_span.clone(),
                    format!("clamp guardrail `{name}` gives neither `min` nor `max`"),
                    Some("add `max = 300.0`, `min = 0.0` or both".into()),
                ),
                (Some(lo), Some(hi)) if lo > hi => r.at(
                    raw.min.as_ref().map(|m| m.span()).unwrap_or(action_span),
                    format!("clamp guardrail `{name}` has min {lo} above max {hi}"),
                    None,
                ),
                _ => {}
            }
            Some(Action::Clamp { min, max })
        }
        Some("override") => {
            let output = match &raw.output {
                Some(o) => outputs.output(o, r),
                None => {
                    r.at(g.span(), format!("override guardrail `{name}` has no `output`"), Some(outputs.expected()));
                    None
                }
            };
            let mode = match &raw.mode {
                Some(m) => Some(mode(r, m)),
                None => Some(None),
            };
            output.zip(mode).map(|(output, mode)| Action::Override { output, mode })
        }
        Some("escalate") => Some(Action::Escalate {
            to: raw.to.as_ref().map(|t| t.get_ref().clone()).unwrap_or_else(|| "human".into()),
        }),
        Some(_) => Some(Action::Flag),
        None => None,
    };
    let on_error = raw.on_error.as_ref().map(|o| one_of(r, o, "on_error", &OnError::NAMES).and_then(OnError::parse));
    if r.found.len() > errors_before {
        return None;
    }
    let action = action?;
    Some(Guardrail {
        name,
        stage: stage?,
        condition: condition?,
        on_error: on_error.flatten().unwrap_or_else(|| OnError::default_for(&action)),
        action,
        location: r.location(g.span().start),
    })
}

/// Compiles a CEL condition; parse errors and bad references point into the file.
fn condition(w: &Spanned<String>, stage: Stage, features: &[&str], r: &mut Reporter) -> Option<Condition> {
    let source = w.get_ref();
    let file_offset = string_content_offset(r.text(), w.span(), source);
    match cel::Program::compile(source) {
        Err(errors) => {
            for e in errors.errors {
                // cel reports 1-based lines and columns
                let cel_offset = line_col_to_offset(source, e.pos.0, e.pos.1 - 1);
                r.at(
                    file_offset(cel_offset)..file_offset(cel_offset),
                    format!("condition is not valid CEL: {}", e.msg),
                    Some(
                        "see https://cel.dev for the syntax; e.g. `features.age > 18 && context.country == \"NL\"`"
                            .into(),
                    ),
                );
            }
            None
        }
        Ok(program) => {
            let bad = cel_check::check_references(&program, stage, features);
            let ok = bad.is_empty();
            for b in bad {
                let at = file_offset(b.offset);
                r.at(at..at, b.message, b.hint);
            }
            ok.then(|| Condition { source: source.clone(), program: Arc::new(program) })
        }
    }
}

/// Maps an offset inside a string's value to an offset in the file. Exact for strings
/// written without escapes; otherwise points at the string itself.
fn string_content_offset<'t>(text: &'t str, span: Range<usize>, value: &str) -> impl Fn(usize) -> usize + 't {
    let literal = text.get(span.clone()).unwrap_or("");
    let delimiter = if literal.starts_with("\"\"\"") || literal.starts_with("'''") { 3 } else { 1 };
    let mut start = span.start + delimiter;
    if delimiter == 3 && text.get(start..).is_some_and(|t| t.starts_with('\n')) {
        start += 1;
    }
    let exact = text.get(start..start + value.len()) == Some(value);
    move |offset| if exact { start + offset } else { span.start }
}

fn line_col_to_offset(source: &str, line: isize, col: isize) -> usize {
    let line = line.max(1) as usize;
    let start: usize = source.split_inclusive('\n').take(line - 1).map(str::len).sum();
    (start + col.max(0) as usize).min(source.len())
}

fn experience(e: &Spanned<RawExperience>, task: Option<Task>, r: &mut Reporter) -> Option<Experience> {
    let raw = e.get_ref();
    let errors_before = r.found.len();
    let policy_name = match &raw.policy {
        Some(p) => one_of(r, p, "experience policy", &POLICIES),
        None => match (&raw.thresholds, &raw.values, &raw.mode) {
            (Some(_), None, None) => Some("thresholds"),
            (None, Some(_), None) => Some("expected_value"),
            (None, None, _) => Some("fixed"),
            _ => {
                r.at(
                    e.span(),
                    "the experience declares more than one policy",
                    Some(format!("set `policy` to one of: {}", POLICIES.join(", "))),
                );
                None
            }
        },
    };
    let unused = |r: &mut Reporter, span: Option<Range<usize>>, key: &str, policy: &str| {
        if let Some(span) = span {
            r.at(
                span,
                format!("`{key}` is not used by the {policy} policy"),
                Some(format!("remove it, or set `policy` to the one that uses `{key}`")),
            );
        }
    };
    match policy_name {
        Some("fixed") => {
            unused(r, raw.thresholds.as_ref().map(|t| t.span()), "thresholds", "fixed");
            unused(r, raw.values.as_ref().map(|t| t.span()), "values", "fixed");
        }
        Some("thresholds") => {
            unused(r, raw.mode.as_ref().map(|t| t.span()), "mode", "thresholds");
            unused(r, raw.values.as_ref().map(|t| t.span()), "values", "thresholds");
        }
        Some(_) => {
            unused(r, raw.mode.as_ref().map(|t| t.span()), "mode", "expected_value");
            unused(r, raw.thresholds.as_ref().map(|t| t.span()), "thresholds", "expected_value");
        }
        None => {}
    }
    let policy = match policy_name {
        Some("fixed") => {
            let m = match &raw.mode {
                Some(m) => mode(r, m),
                None => Some(Mode::Annotate),
            };
            m.map(Policy::Fixed)
        }
        Some("thresholds") => match &raw.thresholds {
            None => {
                r.at(
                    e.span(),
                    "the thresholds policy needs `[components.experience.thresholds]`",
                    Some("e.g. `thresholds = { automate = 0.95, prompt = 0.8, annotate = 0.5 }`".into()),
                );
                None
            }
            Some(t) => thresholds(t, task, r),
        },
        Some(_) => match &raw.values {
            None => {
                r.at(
                    e.span(),
                    "the expected_value policy needs `[components.experience.values]`",
                    Some("e.g. `values.automate = { right = 10, wrong = -100 }`, one line per mode".into()),
                );
                None
            }
            Some(v) => {
                if task == Some(Task::Regression) {
                    r.at(
                        v.span(),
                        "the expected_value policy needs probabilities, which a regression model does not give",
                        Some("use `policy = \"thresholds\"` on the predicted value".into()),
                    );
                }
                mode_values(v, r)
            }
        },
        None => None,
    };
    let mut caps = Vec::new();
    for c in &raw.caps {
        let cr = c.get_ref();
        let cap_mode = match &cr.mode {
            Some(m) => match mode(r, m) {
                Some(Mode::None | Mode::Escalate) => {
                    r.at(
                        m.span(),
                        "a frequency cap limits `automate`, `prompt` or `annotate`",
                        Some("`none` and `escalate` are not capped".into()),
                    );
                    None
                }
                other => other,
            },
            None => {
                r.at(c.span(), "this cap has no `mode`", None);
                None
            }
        };
        let max = match &cr.max {
            Some(m) => positive(r, m, "cap `max`", 1_000_000),
            None => {
                r.at(c.span(), "this cap has no `max`", Some("e.g. `max = 3`".into()));
                None
            }
        };
        let per = match &cr.per {
            Some(p) => match parse_duration(p.get_ref()) {
                Some(d) => Some(d),
                None => {
                    r.at(
                        p.span(),
                        format!("`{}` is not a duration", p.get_ref()),
                        Some("write a number and a unit: `30s`, `15m`, `12h`, `1d`".into()),
                    );
                    None
                }
            },
            None => {
                r.at(c.span(), "this cap has no `per`", Some("e.g. `per = \"1d\"`".into()));
                None
            }
        };
        if let (Some(mode), Some(max), Some(per)) = (cap_mode, max, per) {
            caps.push(FrequencyCap { mode, max: max as u32, per });
        }
    }
    if r.found.len() > errors_before {
        return None;
    }
    Some(Experience { policy: policy?, caps })
}

fn thresholds(t: &Spanned<BTreeMap<String, Spanned<f64>>>, task: Option<Task>, r: &mut Reporter) -> Option<Policy> {
    let mut out = Vec::new();
    let mut ok = true;
    for (key, value) in t.get_ref() {
        let Some(mode) = Mode::parse(key).filter(|m| matches!(m, Mode::Automate | Mode::Prompt | Mode::Annotate))
        else {
            r.at(
                value.span(),
                format!("`{key}` cannot have a threshold"),
                Some(
                    "thresholds are set for automate, prompt and annotate; below the lowest, the mode is `none`".into(),
                ),
            );
            ok = false;
            continue;
        };
        let v = *value.get_ref();
        if task != Some(Task::Regression) && !(0.0..=1.0).contains(&v) {
            r.at(
                value.span(),
                format!("threshold {v} for `{key}` is outside [0, 1]"),
                Some("a classifier's score is a probability between 0 and 1".into()),
            );
            ok = false;
        } else if !v.is_finite() {
            r.at(value.span(), format!("threshold for `{key}` must be a finite number"), None);
            ok = false;
        }
        out.push((mode, v, value.span()));
    }
    if out.is_empty() {
        r.at(
            t.span(),
            "no thresholds are given",
            Some("e.g. `thresholds = { automate = 0.95, prompt = 0.8, annotate = 0.5 }`".into()),
        );
        return None;
    }
    out.sort_by_key(|(m, _, _)| *m);
    for pair in out.windows(2) {
        let ((m1, v1, _), (m2, v2, span)) = (&pair[0], &pair[1]);
        if v2 > v1 {
            r.at(
                span.clone(),
                format!("threshold for `{}` ({v2}) is above the one for `{}` ({v1})", m2.as_str(), m1.as_str()),
                Some("a more forceful mode needs a score at least as high".into()),
            );
            ok = false;
        }
    }
    ok.then(|| Policy::Thresholds(out.into_iter().map(|(m, v, _)| (m, v)).collect()))
}

fn mode_values(v: &Spanned<BTreeMap<String, Spanned<RawModeValue>>>, r: &mut Reporter) -> Option<Policy> {
    let mut out = Vec::new();
    for (key, value) in v.get_ref() {
        let Some(mode) = Mode::parse(key).filter(|m| *m != Mode::Escalate) else {
            r.at(
                value.span(),
                format!("unknown mode `{key}` in values"),
                Some("values are given for automate, prompt, annotate and none".into()),
            );
            continue;
        };
        let (right, wrong) = (&value.get_ref().right, &value.get_ref().wrong);
        match (right, wrong) {
            (Some(right), Some(wrong)) if right.get_ref().is_finite() && wrong.get_ref().is_finite() => {
                out.push(ModeValue { mode, right: *right.get_ref(), wrong: *wrong.get_ref() });
            }
            _ => r.at(value.span(), format!("the value of `{key}` needs finite `right` and `wrong`"), Some("`right`: value when the prediction acted on is true; `wrong`: when it is false, e.g. `{ right = 10, wrong = -100 }`".into())),
        }
    }
    if out.len() < 2 {
        r.at(
            v.span(),
            "the expected_value policy needs values for at least two modes",
            Some("give at least `none` and one of automate, prompt, annotate".into()),
        );
        return None;
    }
    out.sort_by_key(|m| m.mode);
    Some(Policy::ExpectedValue(out))
}

/// `30s`, `15m`, `12h`, `1d`, `2w`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let secs = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    Some(Duration::from_secs(n.checked_mul(secs)?))
}
