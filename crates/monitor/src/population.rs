//! Which recorded predictions a goal's metric counts: a component's, those decided in a
//! mode, those where a guardrail acted, and those whose record makes the goal's CEL
//! `filter` true (`docs/goals.md`).
//!
//! The filter was compiled once, when the system file was read; here it is evaluated on
//! each prediction's record, as the decision path evaluates a guardrail's condition, with
//! the variables typed as `rein check` typed them: `features.<name>` by the feature's
//! declared type (`number` a double, `integer` an int, `boolean` a bool, `category` and
//! `text` a string), `output` as the decision path builds it (`label`, `score`, `value`,
//! `probabilities`; what an output lacks is null, or an empty map), `mode` and `variant`
//! strings, `fallback` a bool, `rules` the list of the guardrails that acted, `model` a map
//! of `name` and `version`. A record the filter fails on (a feature an older record lacks)
//! is not counted, and the failure is reported with the figure.

use std::collections::HashMap;
use std::sync::Arc;

use rein_system::{Component, Condition, FeatureKind, Mode, System};
use rein_telemetry::PredictionRecord;
use serde_json::Value as Json;

/// A metric's population, ready to decide on records.
pub(crate) struct Population<'s> {
    component: Option<&'s str>,
    mode: Option<Mode>,
    guardrail: Option<&'s str>,
    filter: Option<&'s Condition>,
}

/// Whether a population holds a prediction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Admitted {
    Yes,
    No,
    /// The filter could not be evaluated on the record: why.
    FilterFailed(String),
}

impl<'s> Population<'s> {
    pub(crate) fn new(p: &'s rein_system::Population) -> Population<'s> {
        Population {
            component: p.component.as_deref(),
            mode: p.mode,
            guardrail: p.guardrail.as_deref(),
            filter: p.filter.as_ref(),
        }
    }

    pub(crate) fn component(&self) -> Option<&'s str> {
        self.component
    }

    pub(crate) fn filters(&self) -> bool {
        self.filter.is_some()
    }

    /// Whether `record` is one of the population's predictions; `scope` holds its CEL
    /// variables when the population filters.
    pub(crate) fn admits(
        &self,
        record: &PredictionRecord,
        rules: &RecordRules,
        scope: Option<&FilterScope<'_, '_>>,
    ) -> Admitted {
        let p = &record.prediction;
        if self.component.is_some_and(|c| c != p.component)
            || self.mode.is_some_and(|m| m.as_str() != p.mode)
            || self.guardrail.is_some_and(|g| !rules.contains(g))
        {
            return Admitted::No;
        }
        let (Some(filter), Some(scope)) = (self.filter, scope) else {
            return if self.filter.is_some() {
                Admitted::FilterFailed("the record's variables were not bound".into())
            } else {
                Admitted::Yes
            };
        };
        match scope.evaluate(&filter.program) {
            Ok(true) => Admitted::Yes,
            Ok(false) => Admitted::No,
            Err(error) => Admitted::FilterFailed(error),
        }
    }
}

/// The guardrails that acted on a prediction (its record's `guardrails`, each entry's
/// `rule`), read once for every goal.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RecordRules(Vec<String>);

impl RecordRules {
    pub(crate) fn of(record: &PredictionRecord) -> RecordRules {
        #[derive(serde::Deserialize)]
        struct Acted {
            rule: String,
        }
        // an entry without a rule name (a record of another shape) names none
        let acted: Vec<Json> = serde_json::from_str(record.prediction.guardrails.as_str()).unwrap_or_default();
        RecordRules(acted.into_iter().filter_map(|a| serde_json::from_value::<Acted>(a).ok()).map(|a| a.rule).collect())
    }

    pub(crate) fn contains(&self, rule: &str) -> bool {
        self.0.iter().any(|r| r == rule)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One record's variables, bound in a child of the root context: made once a prediction,
/// shared by every goal's filter.
pub(crate) struct FilterScope<'p, 'v> {
    context: cel::Context<'p, 'v>,
}

impl<'p, 'v> FilterScope<'p, 'v> {
    pub(crate) fn new(
        root: &'p cel::Context<'p, 'v>,
        system: &System,
        record: &PredictionRecord,
        rules: &RecordRules,
    ) -> FilterScope<'p, 'v> {
        let mut context = root.new_inner_scope();
        for (name, value) in variables(system.component(&record.prediction.component), record, rules) {
            context.add_variable_from_value(name, value);
        }
        FilterScope { context }
    }

    /// Evaluates a filter; `Err` says why it could not be.
    pub(crate) fn evaluate(&self, program: &cel::Program) -> Result<bool, String> {
        match program.execute(&self.context) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("the filter gave {other:?}, not true or false")),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// What a filter reads of a record, by variable name. `component` types the features and
/// the output; a record of a component the system no longer declares is read as JSON.
fn variables(
    component: Option<&Component>,
    record: &PredictionRecord,
    rules: &RecordRules,
) -> [(&'static str, cel::Value); 7] {
    let p = &record.prediction;
    let string = |s: &str| cel::Value::String(Arc::new(s.to_string()));
    let features = match p.features.to_value() {
        Json::Object(values) => map(values.iter().map(|(name, v)| {
            let kind = component.and_then(|c| c.features.iter().find(|f| f.name == *name)).map(|f| &f.kind);
            (name.as_str(), feature(kind, v))
        })),
        _ => map(std::iter::empty()),
    };
    let output = p.output.to_value();
    let number = |key: &str| output.get(key).and_then(Json::as_f64).map_or(cel::Value::Null, cel::Value::Float);
    let probabilities = match output.get("probabilities") {
        Some(Json::Object(ps)) => {
            map(ps.iter().filter_map(|(label, p)| Some((label.as_str(), cel::Value::Float(p.as_f64()?)))))
        }
        _ => map(std::iter::empty()),
    };
    let output = map([
        ("label", output.get("label").and_then(Json::as_str).map_or(cel::Value::Null, string)),
        ("score", number("score")),
        ("value", number("value")),
        ("probabilities", probabilities),
    ]);
    [
        ("features", features),
        ("output", output),
        ("mode", string(&p.mode)),
        ("fallback", cel::Value::Bool(p.fallback.is_some())),
        ("rules", cel::Value::List(Arc::new(rules.0.iter().map(|r| string(r)).collect()))),
        ("variant", string(&p.variant)),
        ("model", map([("name", string(&p.model_name)), ("version", string(&p.model_version))])),
    ]
}

fn map<'a>(entries: impl IntoIterator<Item = (&'a str, cel::Value)>) -> cel::Value {
    let m: HashMap<cel::objects::Key, cel::Value> =
        entries.into_iter().map(|(k, v)| (cel::objects::Key::String(Arc::new(k.to_string())), v)).collect();
    cel::Value::Map(m.into())
}

/// A recorded feature value as the decision path gave it to conditions: by its declared
/// type, whatever digits JSON wrote it with (a `number` recorded as `3` is the double 3).
fn feature(kind: Option<&FeatureKind>, v: &Json) -> cel::Value {
    match (kind, v) {
        (_, Json::Null) => cel::Value::Null,
        (Some(FeatureKind::Number { .. }), Json::Number(n)) => n.as_f64().map_or(cel::Value::Null, cel::Value::Float),
        (Some(FeatureKind::Integer { .. }), Json::Number(n)) => match n.as_i64() {
            Some(i) => cel::Value::Int(i),
            None => n.as_f64().map_or(cel::Value::Null, cel::Value::Float),
        },
        (Some(FeatureKind::Boolean), Json::Bool(b)) => cel::Value::Bool(*b),
        (Some(FeatureKind::Category { .. } | FeatureKind::Text { .. }), Json::String(s)) => {
            cel::Value::String(Arc::new(s.clone()))
        }
        // undeclared, or of another type than declared (the schema changed since): as JSON reads
        (_, other) => json(other),
    }
}

/// JSON as CEL reads it: integers stay integers.
fn json(v: &Json) -> cel::Value {
    match v {
        Json::Null => cel::Value::Null,
        Json::Bool(b) => cel::Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => n.as_f64().map_or(cel::Value::Null, cel::Value::Float),
        },
        Json::String(s) => cel::Value::String(Arc::new(s.clone())),
        Json::Array(items) => cel::Value::List(Arc::new(items.iter().map(json).collect())),
        Json::Object(entries) => map(entries.iter().map(|(k, v)| (k.as_str(), json(v)))),
    }
}
