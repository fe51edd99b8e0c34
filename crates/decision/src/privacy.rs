//! What of a request's features may be written to telemetry: per feature `raw`,
//! a keyed `hash` (joins and drift on categories still work, values do not leak),
//! `drop`, or text truncated.

use hmac::{Hmac, Mac};
use rein_system::{Component, FeatureValue, TelemetryPolicy};
use serde_json::{Map, Value};
use sha2::Sha256;

/// Features as telemetry may see them, by name.
pub fn telemetry_features(component: &Component, values: &[FeatureValue], key: &[u8]) -> Map<String, Value> {
    let mut out = Map::with_capacity(values.len());
    for (feature, value) in component.features.iter().zip(values) {
        let seen = match feature.telemetry {
            TelemetryPolicy::Raw => value.to_json(),
            TelemetryPolicy::Drop => continue,
            TelemetryPolicy::Hash => Value::String(keyed_hash(key, value)),
            TelemetryPolicy::Truncate(n) => match value {
                FeatureValue::Text(s) => Value::String(s.chars().take(n).collect()),
                other => other.to_json(),
            },
        };
        out.insert(feature.name.clone(), seen);
    }
    out
}

/// `h:` and the first 16 hex digits of HMAC-SHA256(key, value): stable for one key,
/// so equal values stay equal for joins and drift, but not reversible without the key.
pub fn keyed_hash(key: &[u8], value: &FeatureValue) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    match value {
        FeatureValue::Text(s) => mac.update(s.as_bytes()),
        other => mac.update(other.to_json().to_string().as_bytes()),
    }
    let digest = mac.finalize().into_bytes();
    let mut s = String::with_capacity(18);
    s.push_str("h:");
    for b in &digest[..8] {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn policies_apply_per_feature() {
        let text = r#"
[system]
name = "s"
[[components]]
name = "c"
task = "regression"
model = { path = "m.onnx" }
[[components.features]]
name = "a"
type = "number"
[[components.features]]
name = "country"
type = "category"
categories = ["NL", "DE"]
telemetry = "hash"
[[components.features]]
name = "email"
type = "text"
telemetry = "drop"
[[components.features]]
name = "note"
type = "text"
telemetry_truncate = 3
"#;
        let system = rein_system::parse(text, Path::new("rein.toml")).unwrap();
        let c = &system.components[0];
        let values = [
            FeatureValue::Number(1.5),
            FeatureValue::Text("NL".into()),
            FeatureValue::Text("a@b.c".into()),
            FeatureValue::Text("hello".into()),
        ];
        let seen = telemetry_features(c, &values, b"key-1");
        assert_eq!(seen["a"], 1.5);
        assert!(!seen.contains_key("email"));
        assert_eq!(seen["note"], "hel");
        let hashed = seen["country"].as_str().unwrap();
        assert!(hashed.starts_with("h:") && hashed.len() == 18 && !hashed.contains("NL"));
        // same key, same value → same hash; another key → another hash
        assert_eq!(telemetry_features(c, &values, b"key-1")["country"], seen["country"]);
        assert_ne!(telemetry_features(c, &values, b"key-2")["country"], seen["country"]);
    }
}
