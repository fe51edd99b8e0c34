//! What of a request's features may be written to telemetry: per feature `raw`,
//! a keyed `hash` (joins and drift on categories still work, values do not leak),
//! `drop`, or text truncated.

use hmac::{Hmac, Mac};
use rein_system::{Component, FeatureValue, TelemetryPolicy};
use serde::ser::{Serialize, SerializeMap, Serializer};
use sha2::Sha256;

/// The keyed hash of `telemetry = "hash"` features, keyed once: each hash then
/// starts from the prepared state instead of keying HMAC again.
#[derive(Clone)]
pub struct FeatureHasher {
    keyed: Hmac<Sha256>,
}

impl FeatureHasher {
    pub fn new(key: &[u8]) -> FeatureHasher {
        FeatureHasher { keyed: Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length") }
    }

    /// `h:` and the first 16 hex digits of HMAC-SHA256(key, value): stable for one key,
    /// so equal values stay equal for joins and drift, but not reversible without the key.
    pub fn hash(&self, value: &FeatureValue) -> String {
        let mut mac = self.keyed.clone();
        match value {
            FeatureValue::Text(s) => mac.update(s.as_bytes()),
            // its JSON text, written straight from the value
            other => mac.update(serde_json::to_string(other).unwrap_or_default().as_bytes()),
        }
        let digest = mac.finalize().into_bytes();
        let mut s = String::with_capacity(18);
        s.push_str("h:");
        for b in &digest[..8] {
            s.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
            s.push(char::from_digit((b & 0xf) as u32, 16).unwrap_or('0'));
        }
        s
    }
}

/// Features as telemetry may see them: serializes as a JSON object by feature name,
/// written straight from the validated values.
pub struct TelemetryFeatures<'a> {
    pub component: &'a Component,
    pub values: &'a [FeatureValue],
    pub hasher: &'a FeatureHasher,
}

impl Serialize for TelemetryFeatures<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (feature, value) in self.component.features.iter().zip(self.values) {
            match (feature.telemetry, value) {
                (TelemetryPolicy::Drop, _) => {}
                (TelemetryPolicy::Hash, _) => map.serialize_entry(&feature.name, &self.hasher.hash(value))?,
                (TelemetryPolicy::Truncate(n), FeatureValue::Text(s)) => {
                    let end = s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
                    map.serialize_entry(&feature.name, &s[..end])?
                }
                (TelemetryPolicy::Raw | TelemetryPolicy::Truncate(_), _) => {
                    map.serialize_entry(&feature.name, value)?
                }
            }
        }
        map.end()
    }
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
        let seen = |key: &[u8]| {
            let features = TelemetryFeatures { component: c, values: &values, hasher: &FeatureHasher::new(key) };
            serde_json::to_value(&features).unwrap()
        };
        let seen1 = seen(b"key-1");
        assert_eq!(seen1["a"], 1.5);
        assert!(seen1.get("email").is_none());
        assert_eq!(seen1["note"], "hel");
        let hashed = seen1["country"].as_str().unwrap();
        assert!(hashed.starts_with("h:") && hashed.len() == 18 && !hashed.contains("NL"));
        // HMAC-SHA256("key-1", "NL"), first 8 bytes, as Python's hmac module gives it
        assert_eq!(hashed, "h:9fa95de10ecab26e");
        // other values are hashed as their JSON text: HMAC-SHA256("key-1", "42"), "1.5", "true"
        let hasher = FeatureHasher::new(b"key-1");
        assert_eq!(hasher.hash(&FeatureValue::Integer(42)), "h:cbcb8096f0c58919");
        assert_eq!(hasher.hash(&FeatureValue::Number(1.5)), "h:e917316e4ce3656c");
        assert_eq!(hasher.hash(&FeatureValue::Boolean(true)), "h:584440cc56d309a9");
        // same key, same value → same hash; another key → another hash
        assert_eq!(seen(b"key-1")["country"], seen1["country"]);
        assert_ne!(seen(b"key-2")["country"], seen1["country"]);
        // truncation counts characters, not bytes
        let values = [values[0].clone(), values[1].clone(), values[2].clone(), FeatureValue::Text("héllo".into())];
        let features = TelemetryFeatures { component: c, values: &values, hasher: &FeatureHasher::new(b"k") };
        assert_eq!(serde_json::to_value(&features).unwrap()["note"], "hél");
    }
}
