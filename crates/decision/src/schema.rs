//! Request features against the component's schema: every offending field is
//! reported with what was expected, and the values come out in schema order.

use rein_system::{Component, FeatureKind, FeatureValue, UnknownFeatures, check_value};
use serde::Serialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess};
use serde_json::{Map, Value};

/// One field of a request that does not fit the schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

/// A request's features as the schema looks them up: a JSON object read into a map, or
/// read straight into the schema's positions by [`GivenFeatures::read`].
pub trait Features {
    /// The value given for schema feature `index` of `component`, if any.
    fn value(&self, component: &Component, index: usize) -> Option<&Value>;
    /// The names given that are not features of `component`, in name order, each once.
    fn unknown_names(&self, component: &Component) -> Vec<&str>;
}

impl Features for Map<String, Value> {
    fn value(&self, component: &Component, index: usize) -> Option<&Value> {
        self.get(&component.features[index].name)
    }

    fn unknown_names(&self, component: &Component) -> Vec<&str> {
        // a map's keys come in name order, each once
        self.keys().filter(|name| component.feature_index(name).is_none()).map(String::as_str).collect()
    }
}

/// A request's features read for one component without building a map: the value given
/// for each schema feature, by position (the last one if a name is given twice, as in a
/// map), and the names that are not features.
#[derive(Debug, Clone, Default)]
pub struct GivenFeatures {
    values: Vec<Option<Value>>,
    unknown: Vec<String>,
}

impl GivenFeatures {
    /// Reads a JSON object of features for `component`. Anything but an object is an
    /// error worded as reading it into a map would word it.
    pub fn read<'de, D: Deserializer<'de>>(component: &Component, deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(GivenVisitor { component })
    }
}

impl Features for GivenFeatures {
    fn value(&self, _: &Component, index: usize) -> Option<&Value> {
        self.values.get(index).and_then(Option::as_ref)
    }

    fn unknown_names(&self, _: &Component) -> Vec<&str> {
        let mut names: Vec<&str> = self.unknown.iter().map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

struct GivenVisitor<'c> {
    component: &'c Component,
}

impl<'de> de::Visitor<'de> for GivenVisitor<'_> {
    type Value = GivenFeatures;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GivenFeatures, A::Error> {
        let mut given = GivenFeatures { values: vec![None; self.component.features.len()], unknown: Vec::new() };
        while let Some(key) = map.next_key_seed(KeySeed { component: self.component })? {
            match key {
                Key::Feature(i) => given.values[i] = Some(map.next_value()?),
                Key::Unknown(name) => {
                    map.next_value::<IgnoredAny>()?;
                    given.unknown.push(name);
                }
            }
        }
        Ok(given)
    }
}

enum Key {
    Feature(usize),
    Unknown(String),
}

/// A key looked up among the features as it is read: no string is made for a known name.
struct KeySeed<'c> {
    component: &'c Component,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> de::Visitor<'de> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
        Ok(match self.component.feature_index(name) {
            Some(i) => Key::Feature(i),
            None => Key::Unknown(name.to_owned()),
        })
    }
}

/// Validates `features` and returns one value per schema feature, in schema order.
pub fn validate(
    component: &Component,
    features: &impl Features,
    unknown: UnknownFeatures,
) -> Result<Vec<FeatureValue>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut values = Vec::with_capacity(component.features.len());
    for (index, feature) in component.features.iter().enumerate() {
        let value = match features.value(component, index) {
            given @ (None | Some(Value::Null)) => match &feature.default {
                Some(default) => Some(default.clone()),
                None if feature.required => {
                    // a `null` was sent: saying it is missing would send the client looking
                    // for a typo in the name
                    let what = if given.is_some() { "is null" } else { "is missing" };
                    errors.push(FieldError {
                        field: feature.name.clone(),
                        problem: format!("{what}, expected {}", describe_kind(&feature.kind)),
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
        let names: Vec<&str> = component.features.iter().map(|f| f.name.as_str()).collect();
        for name in features.unknown_names(component) {
            let problem = match rein_system::closest(name, names.iter().copied()) {
                Some(near) => format!("is not a feature of component `{}`; did you mean `{near}`?", component.name),
                None => format!("is not a feature of component `{}`; it has: {}", component.name, names.join(", ")),
            };
            errors.push(FieldError { field: name.to_string(), problem });
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
