//! Request features against the component's schema: every offending field is
//! reported with what was expected, and the values come out in schema order.

use rein_system::{Component, FeatureKind, FeatureValue, UnknownFeatures, check_value};
use serde::Serialize;
use serde_json::{Map, Value};

/// One field of a request that does not fit the schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

/// Validates `features` and returns one value per schema feature, in schema order.
pub fn validate(
    component: &Component,
    features: &Map<String, Value>,
    unknown: UnknownFeatures,
) -> Result<Vec<FeatureValue>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut values = Vec::with_capacity(component.features.len());
    for feature in &component.features {
        let value = match features.get(&feature.name) {
            None | Some(Value::Null) => match &feature.default {
                Some(default) => Some(default.clone()),
                None if feature.required => {
                    errors.push(FieldError {
                        field: feature.name.clone(),
                        problem: format!("is missing, expected {}", describe_kind(&feature.kind)),
                    });
                    None
                }
                // Optional without default: the model still needs a value; use the neutral one.
                None => Some(neutral(&feature.kind)),
            },
            Some(json) => match from_json(&feature.kind, json) {
                Ok(v) => match check_value(&feature.kind, &v) {
                    Ok(()) => Some(v),
                    Err(problem) => {
                        errors.push(FieldError { field: feature.name.clone(), problem });
                        None
                    }
                },
                Err(problem) => {
                    errors.push(FieldError { field: feature.name.clone(), problem });
                    None
                }
            },
        };
        if let Some(v) = value {
            values.push(v);
        }
    }
    if unknown == UnknownFeatures::Reject {
        for name in features.keys() {
            if component.feature_index(name).is_none() {
                let names: Vec<&str> = component.features.iter().map(|f| f.name.as_str()).collect();
                let problem = match rein_system::closest(name, names.iter().copied()) {
                    Some(near) => format!("is not a feature of component `{}`; did you mean `{near}`?", component.name),
                    None => format!("is not a feature of component `{}`; it has: {}", component.name, names.join(", ")),
                };
                errors.push(FieldError { field: name.clone(), problem });
            }
        }
    }
    if errors.is_empty() { Ok(values) } else { Err(errors) }
}

fn neutral(kind: &FeatureKind) -> FeatureValue {
    match kind {
        FeatureKind::Number { .. } => FeatureValue::Number(0.0),
        FeatureKind::Integer { .. } => FeatureValue::Integer(0),
        FeatureKind::Boolean => FeatureValue::Boolean(false),
        FeatureKind::Category { .. } | FeatureKind::Text { .. } => FeatureValue::Text(String::new()),
    }
}

fn describe_kind(kind: &FeatureKind) -> String {
    match kind {
        FeatureKind::Number { min, max } => {
            format!("a number{}", range(min.map(|v| v.to_string()), max.map(|v| v.to_string())))
        }
        FeatureKind::Integer { min, max } => {
            format!("an integer{}", range(min.map(|v| v.to_string()), max.map(|v| v.to_string())))
        }
        FeatureKind::Boolean => "true or false".into(),
        FeatureKind::Category { categories } => format!("one of: {}", categories.join(", ")),
        FeatureKind::Text { max_length } => format!("a text of at most {max_length} characters"),
    }
}

fn range(min: Option<String>, max: Option<String>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!(" in [{a}, {b}]"),
        (Some(a), None) => format!(" ≥ {a}"),
        (None, Some(b)) => format!(" ≤ {b}"),
        (None, None) => String::new(),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn from_json(kind: &FeatureKind, json: &Value) -> Result<FeatureValue, String> {
    let wrong = || format!("is {}, expected {}", json_type(json), describe_kind(kind));
    match kind {
        FeatureKind::Number { .. } => json.as_f64().map(FeatureValue::Number).ok_or_else(wrong),
        FeatureKind::Integer { .. } => match json {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Ok(FeatureValue::Integer(i)),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(FeatureValue::Integer(f as i64)),
                    _ => Err(format!("is {n}, expected {}", describe_kind(kind))),
                },
            },
            _ => Err(wrong()),
        },
        FeatureKind::Boolean => json.as_bool().map(FeatureValue::Boolean).ok_or_else(wrong),
        FeatureKind::Category { .. } | FeatureKind::Text { .. } => {
            json.as_str().map(|s| FeatureValue::Text(s.to_string())).ok_or_else(wrong)
        }
    }
}
