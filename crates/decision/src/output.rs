//! The output of a component after guardrails: what the product acts on.

use cel::common::types::{CelDouble, CelMap, CelMapKey, CelNull, CelString};
use cel::common::value::Val;
use std::collections::HashMap;

use rein_system::{Component, OutputValue, Task};
use serde::Serialize;

use crate::model::{ModelError, ModelOutput};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// How `label` is shown to people, when the system file names it (`label_names`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_name: Option<String>,
    /// Positive-class probability (binary), top probability (multiclass), value (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// One probability per label, in the component's label order.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ordered_map")]
    pub probabilities: Option<Vec<(String, f64)>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

impl Output {
    /// The model's output as the decision path sees it. A non-finite number is a model
    /// error: NaN compares false everywhere, so it would slip through policies and clamps.
    pub fn from_model(component: &Component, raw: &ModelOutput) -> Result<Self, ModelError> {
        let not_finite = |what: String, v: f64| ModelError::Output(format!("{what} is {v}, not a finite number"));
        Ok(match raw {
            ModelOutput::Class { label, probabilities } => {
                if let Some((i, p)) = probabilities.iter().enumerate().find(|(_, p)| !p.is_finite()) {
                    let name = component.labels.get(i).map_or_else(|| format!("#{i}"), |l| format!("`{l}`"));
                    return Err(not_finite(format!("the probability of label {name}"), *p));
                }
                let score = match component.task {
                    Task::Binary => component.positive.and_then(|i| probabilities.get(i).copied()),
                    _ => probabilities.iter().copied().reduce(f64::max),
                };
                Output {
                    label: Some(label.clone()),
                    label_name: component.label_names.get(label).cloned(),
                    score,
                    probabilities: Some(component.labels.iter().cloned().zip(probabilities.iter().copied()).collect()),
                    value: None,
                }
            }
            ModelOutput::Value(v) if !v.is_finite() => return Err(not_finite("the regression value".into(), *v)),
            ModelOutput::Value(v) => {
                Output { label: None, label_name: None, score: Some(*v), probabilities: None, value: Some(*v) }
            }
        })
    }

    /// A declared output (override, fallback): certain, so its score is 1 for the
    /// label it names (binary: 1 if it is the positive label, else 0).
    pub fn declared(component: &Component, declared: &OutputValue) -> Self {
        match declared {
            OutputValue::Label(label) => {
                let score = match component.task {
                    Task::Binary => Some(if component.positive.and_then(|i| component.labels.get(i)) == Some(label) {
                        1.0
                    } else {
                        0.0
                    }),
                    _ => Some(1.0),
                };
                Output {
                    label: Some(label.clone()),
                    label_name: component.label_names.get(label).cloned(),
                    score,
                    probabilities: None,
                    value: None,
                }
            }
            OutputValue::Value(v) => {
                Output { label: None, label_name: None, score: Some(*v), probabilities: None, value: Some(*v) }
            }
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// `output` as CEL sees it, built straight into CEL's own map (no intermediate `Value`).
    pub(crate) fn to_cel(&self) -> Box<dyn Val + 'static> {
        fn opt<T: Val + 'static>(v: Option<T>) -> Box<dyn Val> {
            match v {
                Some(v) => Box::new(v),
                None => Box::new(CelNull),
            }
        }
        let key = |k: &'static str| CelMapKey::String(CelString::from(k));
        let probabilities: HashMap<CelMapKey<'static>, Box<dyn Val>> = self
            .probabilities
            .iter()
            .flatten()
            .map(|(l, p)| {
                (CelMapKey::String(CelString::from(l.clone())), Box::new(CelDouble::from(*p)) as Box<dyn Val>)
            })
            .collect();
        let fields: HashMap<CelMapKey<'static>, Box<dyn Val>> = HashMap::from([
            (key("label"), opt(self.label.clone().map(CelString::from))),
            (key("score"), opt(self.score.map(CelDouble::from))),
            (key("value"), opt(self.value.map(CelDouble::from))),
            (key("probabilities"), Box::new(CelMap::from(probabilities)) as Box<dyn Val>),
        ]);
        Box::new(CelMap::from(fields))
    }
}

/// Probabilities as a JSON object, keys in the component's label order.
fn ordered_map<S: serde::Serializer>(v: &Option<Vec<(String, f64)>>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let pairs = v.as_deref().unwrap_or_default();
    let mut map = s.serialize_map(Some(pairs.len()))?;
    for (label, p) in pairs {
        map.serialize_entry(label, p)?;
    }
    map.end()
}
