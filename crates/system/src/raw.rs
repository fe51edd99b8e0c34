//! The system file as written: serde shapes with spans, before any meaning is checked.
//!
//! Every value is read as a [`Typed`], which never fails: a value of the wrong type is kept,
//! with its place, for validation to report by its key alongside every other mistake. Only
//! TOML syntax and unknown keys stop the read.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

/// A value and its place in the file: of the type its key wants, or what was written instead.
#[derive(Debug)]
pub(crate) struct Typed<T>(Result<Spanned<T>, Spanned<toml::Value>>);

impl<T> Typed<T> {
    /// Where the value is written, whatever its type.
    pub(crate) fn span(&self) -> Range<usize> {
        match &self.0 {
            Ok(v) => v.span(),
            Err(v) => v.span(),
        }
    }

    /// The value, when it has the type wanted. Validation reports the other case once,
    /// through `validate::fields`; this is for looking again without reporting.
    pub(crate) fn ok(&self) -> Option<&Spanned<T>> {
        self.0.as_ref().ok()
    }

    /// The value written instead of the type wanted.
    pub(crate) fn wrong(&self) -> Option<&Spanned<toml::Value>> {
        self.0.as_ref().err()
    }
}

/// The entries of a list that have the type wanted, without reporting the others.
pub(crate) fn entries<T>(list: Option<&Typed<Vec<Typed<T>>>>) -> impl Iterator<Item = &Spanned<T>> {
    list.and_then(Typed::ok).into_iter().flat_map(|l| l.get_ref()).filter_map(Typed::ok)
}

/// How a value of a type is written.
#[derive(PartialEq, Eq)]
pub(crate) enum Shape {
    /// A string, number or boolean.
    Single,
    /// `[...]`, or `[[...]]` tables.
    List,
    /// `{ ... }` or a `[...]` table.
    Table,
}

/// What a key wants, in words a user reads in a diagnostic.
pub(crate) trait Wanted {
    const WANTS: &'static str;
    const SHAPE: Shape;
}

macro_rules! wanted {
    ($($t:ty => $wants:literal, $shape:ident;)*) => {
        $(impl Wanted for $t {
            const WANTS: &'static str = $wants;
            const SHAPE: Shape = Shape::$shape;
        })*
    };
}

wanted! {
    String => "a string", Single;
    i64 => "a whole number", Single;
    f64 => "a number", Single;
    bool => "true or false", Single;
    Vec<Typed<String>> => "a list of strings", List;
    Vec<Typed<RawComponent>> => "a list of tables", List;
    Vec<Typed<RawFeature>> => "a list of tables", List;
    Vec<Typed<RawGuardrail>> => "a list of tables", List;
    Vec<Typed<RawCap>> => "a list of tables", List;
    Vec<Typed<RawGoal>> => "a list of tables", List;
    Vec<Typed<RawMonitor>> => "a list of tables", List;
    RawSystem => "a table", Table;
    RawRuntime => "a table", Table;
    RawServer => "a table", Table;
    RawTelemetry => "a table", Table;
    RawRetention => "a table", Table;
    RawComponent => "a table", Table;
    RawModel => "a table", Table;
    RawFeature => "a table", Table;
    RawGuardrail => "a table", Table;
    RawFallback => "a table", Table;
    RawExperience => "a table", Table;
    BTreeMap<String, Typed<f64>> => "a table", Table;
    BTreeMap<Spanned<String>, Typed<String>> => "a table", Table;
    BTreeMap<String, Typed<RawModeValue>> => "a table", Table;
    RawModeValue => "a table", Table;
    RawCap => "a table", Table;
    RawGoal => "a table", Table;
    RawTarget => "a table", Table;
    RawMonitor => "a table", Table;
    RawAlerts => "a table", Table;
    RawThreshold => "a table", Table;
    RawTraffic => "a table", Table;
    RawArm => "a table", Table;
    RawHoldout => "a table", Table;
    RawShadow => "a table", Table;
    RawCanary => "a table", Table;
    RawAnalysis => "a table", Table;
    Vec<Typed<RawArm>> => "a list of tables", List;
    Vec<Typed<f64>> => "a list of numbers", List;
}

impl<'de, T: Deserialize<'de> + Wanted> Deserialize<'de> for Typed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let read = Spanned::<Attempt<T>>::deserialize(deserializer)?;
        let span = read.span();
        Ok(Typed(match read.into_inner().0 {
            Ok(value) => Ok(Spanned::new(span, value)),
            Err(written) => Err(Spanned::new(span, written)),
        }))
    }
}

/// A `T` read from any value: the value as written when it is not a `T`. Errors inside a
/// list or table of the right shape (an unknown key) still end the read.
struct Attempt<T>(Result<T, toml::Value>);

impl<'de, T: Deserialize<'de> + Wanted> Deserialize<'de> for Attempt<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AttemptVisitor(PhantomData))
    }
}

struct AttemptVisitor<T>(PhantomData<T>);

impl<T> AttemptVisitor<T> {
    fn single<'de, D: Deserializer<'de>>(value: D, written: toml::Value) -> Result<Attempt<T>, D::Error>
    where
        T: Deserialize<'de>,
    {
        Ok(Attempt(T::deserialize(value).map_err(|_| written)))
    }
}

impl<'de, T: Deserialize<'de> + Wanted> Visitor<'de> for AttemptVisitor<T> {
    type Value = Attempt<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(T::WANTS)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Self::single(v.into_deserializer(), toml::Value::Boolean(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Self::single(v.into_deserializer(), toml::Value::Integer(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Self::single(v.into_deserializer(), toml::Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Self::single(v.into_deserializer(), toml::Value::String(v.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let seq = SeqAccessDeserializer::new(seq);
        Ok(Attempt(if T::SHAPE == Shape::List {
            Ok(T::deserialize(seq)?)
        } else {
            Err(toml::Value::deserialize(seq)?)
        }))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let map = MapAccessDeserializer::new(map);
        Ok(Attempt(if T::SHAPE == Shape::Table {
            Ok(T::deserialize(map)?)
        } else {
            Err(toml::Value::deserialize(map)?)
        }))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub system: Option<Typed<RawSystem>>,
    pub runtime: Option<Typed<RawRuntime>>,
    pub server: Option<Typed<RawServer>>,
    pub telemetry: Option<Typed<RawTelemetry>>,
    pub components: Option<Typed<Vec<Typed<RawComponent>>>>,
    /// The outcome names the system records, for goals to be checked against.
    pub outcomes: Option<Typed<Vec<Typed<String>>>>,
    pub goals: Option<Typed<Vec<Typed<RawGoal>>>>,
    pub monitors: Option<Typed<Vec<Typed<RawMonitor>>>>,
    pub alerts: Option<Typed<RawAlerts>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSystem {
    pub name: Option<Typed<String>>,
    pub description: Option<Typed<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRuntime {
    pub onnxruntime: Option<Typed<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub max_body_bytes: Option<Typed<i64>>,
    pub max_batch: Option<Typed<i64>>,
    pub unknown_features: Option<Typed<String>>,
    pub request_timeout_ms: Option<Typed<i64>>,
    pub shutdown_timeout_ms: Option<Typed<i64>>,
    pub admin_token_env: Option<Typed<String>>,
    pub model_reads: Option<Typed<String>>,
    /// Refused: a secret does not belong in the file; named in a diagnostic.
    pub admin_token: Option<toml::Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTelemetry {
    pub enabled: Option<Typed<bool>>,
    pub durability: Option<Typed<String>>,
    pub max_backlog: Option<Typed<i64>>,
    /// Gone: named in a diagnostic that says what took its place.
    pub queue_capacity: Option<toml::Spanned<toml::Value>>,
    pub commit_timeout_ms: Option<Typed<i64>>,
    pub fsync: Option<Typed<bool>>,
    /// Gone: named in a diagnostic that says what took its place.
    pub spill: Option<toml::Spanned<toml::Value>>,
    pub retention_days: Option<Typed<RawRetention>>,
    pub max_store_mb: Option<Typed<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetention {
    pub predictions: Option<Typed<i64>>,
    pub feedback: Option<Typed<i64>>,
    pub outcomes: Option<Typed<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawComponent {
    pub name: Option<Typed<String>>,
    pub task: Option<Typed<String>>,
    pub labels: Option<Typed<Vec<Typed<String>>>>,
    /// How each label is shown, by label.
    pub label_names: Option<Typed<BTreeMap<Spanned<String>, Typed<String>>>>,
    pub positive_label: Option<Typed<String>>,
    pub model: Option<Typed<RawModel>>,
    pub features: Option<Typed<Vec<Typed<RawFeature>>>>,
    pub guardrails: Option<Typed<Vec<Typed<RawGuardrail>>>>,
    pub fallback: Option<Typed<RawFallback>>,
    pub experience: Option<Typed<RawExperience>>,
    /// Fields of a prediction's record its quality is sliced by.
    pub slices: Option<Typed<Vec<Typed<String>>>>,
    pub traffic: Option<Typed<RawTraffic>>,
}

/// `[components.traffic]`: the traffic plan, checked by `TrafficPlan::problems`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTraffic {
    pub experiment: Option<Typed<String>>,
    pub salt: Option<Typed<String>>,
    pub split: Option<Typed<Vec<Typed<RawArm>>>>,
    pub holdout: Option<Typed<RawHoldout>>,
    pub shadow: Option<Typed<RawShadow>>,
    pub canary: Option<Typed<RawCanary>>,
    pub analysis: Option<Typed<RawAnalysis>>,
}

/// `analysis = { window, primary, guardrails, min_predictions, max_error_rate, deadline, promote }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAnalysis {
    pub window: Option<Typed<String>>,
    pub primary: Option<Typed<String>>,
    pub guardrails: Option<Typed<Vec<Typed<String>>>>,
    pub min_predictions: Option<Typed<i64>>,
    pub max_error_rate: Option<Typed<f64>>,
    pub deadline: Option<Typed<String>>,
    pub promote: Option<Typed<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawArm {
    pub variant: Option<Typed<String>>,
    pub alias: Option<Typed<String>>,
    pub version: Option<Typed<String>>,
    pub weight: Option<Typed<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHoldout {
    pub share: Option<Typed<f64>>,
}

/// `shadow = { alias | version, max_in_flight }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawShadow {
    pub alias: Option<Typed<String>>,
    pub version: Option<Typed<String>>,
    pub max_in_flight: Option<Typed<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCanary {
    pub alias: Option<Typed<String>>,
    pub version: Option<Typed<String>>,
    pub steps: Option<Typed<Vec<Typed<f64>>>>,
    pub step: Option<Typed<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModel {
    pub path: Option<Typed<String>>,
    pub name: Option<Typed<String>>,
    pub version: Option<Typed<String>>,
    pub timeout_ms: Option<Typed<i64>>,
    pub max_concurrency: Option<Typed<i64>>,
    pub engine: Option<Typed<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeature {
    pub name: Option<Typed<String>>,
    #[serde(rename = "type")]
    pub kind: Option<Typed<String>>,
    pub required: Option<Typed<bool>>,
    pub default: Option<Spanned<toml::Value>>,
    pub min: Option<Spanned<toml::Value>>,
    pub max: Option<Spanned<toml::Value>>,
    pub categories: Option<Typed<Vec<Typed<String>>>>,
    pub max_length: Option<Typed<i64>>,
    pub telemetry: Option<Typed<String>>,
    pub telemetry_truncate: Option<Typed<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGuardrail {
    pub name: Option<Typed<String>>,
    pub stage: Option<Typed<String>>,
    pub when: Option<Typed<String>>,
    pub action: Option<Typed<String>>,
    pub message: Option<Typed<String>>,
    pub min: Option<Typed<f64>>,
    pub max: Option<Typed<f64>>,
    pub output: Option<Spanned<toml::Value>>,
    pub mode: Option<Typed<String>>,
    pub to: Option<Typed<String>>,
    pub on_error: Option<Typed<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFallback {
    pub output: Option<Spanned<toml::Value>>,
    pub mode: Option<Typed<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExperience {
    pub policy: Option<Typed<String>>,
    pub mode: Option<Typed<String>>,
    pub thresholds: Option<Typed<BTreeMap<String, Typed<f64>>>>,
    pub values: Option<Typed<BTreeMap<String, Typed<RawModeValue>>>>,
    pub caps: Option<Typed<Vec<Typed<RawCap>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModeValue {
    pub right: Option<Typed<f64>>,
    pub wrong: Option<Typed<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCap {
    pub mode: Option<Typed<String>>,
    pub max: Option<Typed<i64>>,
    pub per: Option<Typed<String>>,
}

/// A `[[goals]]` table. The keys from `outcome` on qualify its `metric`; each applies to
/// some metrics only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGoal {
    pub id: Option<Typed<String>>,
    pub layer: Option<Typed<String>>,
    pub description: Option<Typed<String>>,
    pub supports: Option<Typed<Vec<Typed<String>>>>,
    pub measured: Option<Typed<bool>>,
    pub note: Option<Typed<String>>,
    pub metric: Option<Typed<String>>,
    pub target: Option<Typed<RawTarget>>,
    pub window: Option<Typed<String>>,
    pub outcome: Option<Typed<String>>,
    pub per: Option<Typed<String>>,
    pub label: Option<Typed<String>>,
    pub estimated: Option<Typed<bool>>,
    pub quantile: Option<Typed<f64>>,
    pub guardrail: Option<Typed<String>>,
    pub mode: Option<Typed<String>>,
    pub feedback: Option<Typed<String>>,
    pub source: Option<Typed<String>>,
    pub component: Option<Typed<String>>,
    pub by_mode: Option<Typed<String>>,
    pub by_guardrail: Option<Typed<String>>,
    pub filter: Option<Typed<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTarget {
    pub at_least: Option<Typed<f64>>,
    pub at_most: Option<Typed<f64>>,
}

/// A `[[monitors]]` table. The keys from `feature` to `guardrail` qualify its `watch`; each
/// applies to some watches only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMonitor {
    pub id: Option<Typed<String>>,
    pub description: Option<Typed<String>>,
    pub component: Option<Typed<String>>,
    pub watch: Option<Typed<String>>,
    pub feature: Option<Typed<String>>,
    pub output: Option<Typed<String>>,
    pub measure: Option<Typed<String>>,
    pub metric: Option<Typed<String>>,
    pub label: Option<Typed<String>>,
    pub estimated: Option<Typed<bool>>,
    pub goal: Option<Typed<String>>,
    pub quantile: Option<Typed<f64>>,
    pub guardrail: Option<Typed<String>>,
    /// `{ above = x }`, `{ below = x }` or both; or a number, kept as written instead.
    pub threshold: Option<Typed<RawThreshold>>,
    pub window: Option<Typed<String>>,
    pub severity: Option<Typed<String>>,
    pub open_after: Option<Typed<i64>>,
    pub close_after: Option<Typed<i64>>,
    pub hysteresis: Option<Typed<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawThreshold {
    pub above: Option<Typed<f64>>,
    pub below: Option<Typed<f64>>,
}

/// The `[alerts]` table: where alerts are sent beside the store, the log and the metrics.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerts {
    pub webhook: Option<Typed<String>>,
    pub timeout_ms: Option<Typed<i64>>,
    pub retries: Option<Typed<i64>>,
    pub backoff_ms: Option<Typed<i64>>,
    pub queue: Option<Typed<i64>>,
    pub lateness: Option<Typed<String>>,
}
