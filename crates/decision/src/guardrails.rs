//! Guardrails: non-ML rules that hold whatever the model says. Conditions are CEL,
//! compiled once when the system file is read; here they are only evaluated.

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::types::{CelBool, CelDouble, CelInt, CelMap, CelMapKey, CelString};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use rein_system::{Component, FeatureValue, Guardrail, Stage};
use serde::Serialize;

use crate::output::Output;

/// What a guardrail did to one request; serialised into the response and telemetry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionTaken {
    pub rule: String,
    pub stage: &'static str,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The condition could not be evaluated (e.g. a context key the request did not send);
    /// `on_error` says what the rule did instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_error: Option<&'static str>,
}

impl ActionTaken {
    pub(crate) fn new(rule: &Guardrail) -> Self {
        Self {
            rule: rule.name.clone(),
            stage: match rule.stage {
                Stage::Input => "input",
                Stage::Output => "output",
            },
            action: rule.action.kind(),
            before: None,
            after: None,
            to: None,
            error: None,
            on_error: None,
        }
    }
}

/// The values a condition sees, converted to CEL once per request and shared by both
/// stages through a resolver (converting a map costs more than evaluating a simple rule).
/// Built straight into CEL's own map, with the feature names borrowed from the component.
pub(crate) struct Variables<'a> {
    features: Box<dyn Val + 'a>,
    context: Box<dyn Val + 'a>,
}

impl<'a> Variables<'a> {
    /// `values` are the component's features in schema order.
    pub(crate) fn new(component: &'a Component, values: &[FeatureValue], context: &serde_json::Value) -> Self {
        let features: HashMap<CelMapKey<'a>, Box<dyn Val + 'a>> = component
            .features
            .iter()
            .zip(values)
            .map(|(f, v)| (CelMapKey::String(CelString::from(f.name.as_str())), feature_val(v)))
            .collect();
        let context: Box<dyn Val + 'a> = match context {
            serde_json::Value::Null => Box::new(CelMap::from(HashMap::new())),
            other => to_val(json_to_cel(other)),
        };
        Self { features: Box::new(CelMap::from(features)), context }
    }
}

impl VariableResolver for Variables<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        match variable {
            "features" => Some(CowVal::Borrowed(&*self.features)),
            "context" => Some(CowVal::Borrowed(&*self.context)),
            _ => None,
        }
    }
}

fn feature_val<'a>(v: &FeatureValue) -> Box<dyn Val + 'a> {
    match v {
        FeatureValue::Number(x) => Box::new(CelDouble::from(*x)),
        FeatureValue::Integer(x) => Box::new(CelInt::from(*x)),
        FeatureValue::Boolean(x) => Box::new(CelBool::from(*x)),
        FeatureValue::Text(x) => Box::new(CelString::from(x.clone())),
    }
}

/// Every `cel::Value` built here (no structs or opaque values) converts.
fn to_val(value: cel::Value) -> Box<dyn Val> {
    let converted: Result<Box<dyn Val>, _> = value.try_into();
    converted.unwrap_or_else(|_| Box::new(cel::common::types::CelNull))
}

/// JSON to CEL directly: integers stay integers, everything else as CEL reads JSON.
fn json_to_cel(v: &serde_json::Value) -> cel::Value {
    match v {
        serde_json::Value::Null => cel::Value::Null,
        serde_json::Value::Bool(b) => cel::Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => cel::Value::Int(i),
            None => match n.as_u64() {
                Some(u) => cel::Value::UInt(u),
                None => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
        },
        serde_json::Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(json_to_cel).collect())),
        serde_json::Value::Object(map) => {
            let m: HashMap<cel::objects::Key, cel::Value> =
                map.iter().map(|(k, v)| (cel::objects::Key::String(Arc::new(k.clone())), json_to_cel(v))).collect();
            cel::Value::Map(m.into())
        }
    }
}

/// The variables of one stage, bound once and shared by every rule of the stage that
/// the interpreter evaluates (binding converts the maps, which costs more than a rule).
pub(crate) struct Scope<'a, 'b> {
    context: cel::Context<'a, 'b>,
}

impl<'a, 'b> Scope<'a, 'b> {
    /// Binds `features`, `context` and (if given) `output` in a child of `root`.
    pub(crate) fn new(root: &'a cel::Context<'static, 'static>, vars: &'b Variables, output: Option<&Output>) -> Self {
        let mut context = root.new_inner_scope();
        context.set_variable_resolver(vars);
        let mut scope = Scope { context };
        if let Some(output) = output {
            scope.set_output(output);
        }
        scope
    }

    /// Rebinds `output` after a rule changed it, so later rules see the change.
    pub(crate) fn set_output(&mut self, output: &Output) {
        self.context.add_variable_as_val("output", output.to_cel());
    }

    /// Evaluates `rule`'s condition. `Err` carries why it could not be evaluated.
    pub(crate) fn fires(&self, rule: &Guardrail) -> Result<bool, String> {
        self.evaluate(&rule.condition.program)
    }

    /// Evaluates one part of a condition, for tests that compare it with what `rein check`
    /// claims about it.
    #[cfg(test)]
    pub(crate) fn evaluate_part(&self, part: &cel::IdedExpr) -> Result<cel::Value, String> {
        cel::Value::resolve(part, &self.context).map_err(|e| e.to_string())
    }

    pub(crate) fn evaluate(&self, program: &cel::Program) -> Result<bool, String> {
        match program.execute(&self.context) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("the condition gave {other:?}, not true or false")),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Runs `f` with this thread's root context, from which every [`Scope`] descends.
pub(crate) fn with_root<R>(f: impl FnOnce(&cel::Context<'static, 'static>) -> R) -> R {
    ROOT.with(f)
}

thread_local! {
    // Building a root context registers every built-in function (~30 µs): once per thread.
    static ROOT: cel::Context<'static, 'static> = cel::Context::default();
}
