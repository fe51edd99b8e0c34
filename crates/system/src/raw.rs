//! The system file as written: serde shapes with spans, before any meaning is checked.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub system: Option<Spanned<RawSystem>>,
    #[serde(default)]
    pub runtime: RawRuntime,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub telemetry: RawTelemetry,
    #[serde(default)]
    pub components: Vec<Spanned<RawComponent>>,
    /// Declared goals; read and kept for the goals layer, not interpreted yet.
    #[serde(default)]
    pub goals: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSystem {
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRuntime {
    pub onnxruntime: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub max_body_bytes: Option<Spanned<i64>>,
    pub max_batch: Option<Spanned<i64>>,
    pub unknown_features: Option<Spanned<String>>,
    pub request_timeout_ms: Option<Spanned<i64>>,
    pub shutdown_timeout_ms: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTelemetry {
    pub enabled: Option<bool>,
    pub durability: Option<Spanned<String>>,
    pub queue_capacity: Option<Spanned<i64>>,
    pub commit_timeout_ms: Option<Spanned<i64>>,
    pub fsync: Option<bool>,
    pub spill: Option<bool>,
    #[serde(default)]
    pub retention_days: RawRetention,
    pub max_store_mb: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetention {
    pub predictions: Option<Spanned<i64>>,
    pub feedback: Option<Spanned<i64>>,
    pub outcomes: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawComponent {
    pub name: Option<Spanned<String>>,
    pub task: Option<Spanned<String>>,
    #[serde(default)]
    pub labels: Option<Spanned<Vec<Spanned<String>>>>,
    pub positive_label: Option<Spanned<String>>,
    pub model: Option<Spanned<RawModel>>,
    #[serde(default)]
    pub features: Option<Spanned<Vec<Spanned<RawFeature>>>>,
    #[serde(default)]
    pub guardrails: Vec<Spanned<RawGuardrail>>,
    pub fallback: Option<Spanned<RawFallback>>,
    pub experience: Option<Spanned<RawExperience>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModel {
    pub path: Option<Spanned<String>>,
    pub version: Option<Spanned<String>>,
    pub timeout_ms: Option<Spanned<i64>>,
    pub max_concurrency: Option<Spanned<i64>>,
    pub engine: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeature {
    pub name: Option<Spanned<String>>,
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    pub required: Option<Spanned<bool>>,
    pub default: Option<Spanned<toml::Value>>,
    pub min: Option<Spanned<toml::Value>>,
    pub max: Option<Spanned<toml::Value>>,
    pub categories: Option<Spanned<Vec<Spanned<String>>>>,
    pub max_length: Option<Spanned<i64>>,
    pub telemetry: Option<Spanned<String>>,
    pub telemetry_truncate: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGuardrail {
    pub name: Option<Spanned<String>>,
    pub stage: Option<Spanned<String>>,
    pub when: Option<Spanned<String>>,
    pub action: Option<Spanned<String>>,
    pub message: Option<Spanned<String>>,
    pub min: Option<Spanned<f64>>,
    pub max: Option<Spanned<f64>>,
    pub output: Option<Spanned<toml::Value>>,
    pub mode: Option<Spanned<String>>,
    pub to: Option<Spanned<String>>,
    pub on_error: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFallback {
    pub output: Option<Spanned<toml::Value>>,
    pub mode: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExperience {
    pub policy: Option<Spanned<String>>,
    pub mode: Option<Spanned<String>>,
    pub thresholds: Option<Spanned<BTreeMap<String, Spanned<f64>>>>,
    pub values: Option<Spanned<BTreeMap<String, Spanned<RawModeValue>>>>,
    #[serde(default)]
    pub caps: Vec<Spanned<RawCap>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModeValue {
    pub right: Option<Spanned<f64>>,
    pub wrong: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCap {
    pub mode: Option<Spanned<String>>,
    pub max: Option<Spanned<i64>>,
    pub per: Option<Spanned<String>>,
}
