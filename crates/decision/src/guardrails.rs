//! Guardrails: non-ML rules that hold whatever the model says. Conditions are CEL,
//! compiled once when the system file is read; here they are only evaluated.

use std::collections::HashMap;
use std::sync::Arc;

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
    /// the rule did not fire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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
        }
    }
}

/// The values a condition sees. Built once per request and shared by both stages.
pub(crate) struct Variables {
    features: cel::Value,
    context: cel::Value,
}

impl Variables {
    pub(crate) fn new(component: &Component, values: &[FeatureValue], context: &serde_json::Value) -> Self {
        let features: HashMap<cel::objects::Key, cel::Value> = component
            .features
            .iter()
            .zip(values)
            .map(|(f, v)| (cel::objects::Key::String(Arc::new(f.name.clone())), feature_value(v)))
            .collect();
        let context = match context {
            serde_json::Value::Null => cel::Value::Map(HashMap::<cel::objects::Key, cel::Value>::new().into()),
            other => cel::to_value(other).unwrap_or(cel::Value::Null),
        };
        Self { features: cel::Value::Map(features.into()), context }
    }
}

fn feature_value(v: &FeatureValue) -> cel::Value {
    match v {
        FeatureValue::Number(x) => cel::Value::Float(*x),
        FeatureValue::Integer(x) => cel::Value::Int(*x),
        FeatureValue::Boolean(x) => cel::Value::Bool(*x),
        FeatureValue::Text(x) => cel::Value::String(Arc::new(x.clone())),
    }
}

/// Evaluates `rule`'s condition. `Err` carries why it could not be evaluated.
pub(crate) fn fires(rule: &Guardrail, vars: &Variables, output: Option<&Output>) -> Result<bool, String> {
    ROOT.with(|root| {
        let mut scope = root.new_inner_scope();
        scope.add_variable_from_value("features", vars.features.clone());
        scope.add_variable_from_value("context", vars.context.clone());
        if let Some(output) = output {
            scope.add_variable_from_value("output", output.to_cel());
        }
        match rule.condition.program.execute(&scope) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("the condition gave {other:?}, not true or false")),
            Err(e) => Err(e.to_string()),
        }
    })
}

thread_local! {
    // Building a root context registers every built-in function (~30 µs): once per thread.
    static ROOT: cel::Context<'static, 'static> = cel::Context::default();
}
