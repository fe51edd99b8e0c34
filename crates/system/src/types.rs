//! The validated system: what `rein.toml` declares, once every check passed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where something was written in the system file (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone)]
pub struct System {
    pub name: String,
    pub description: String,
    /// The system file this was read from.
    pub file: PathBuf,
    pub runtime: RuntimeSettings,
    pub server: ServerSettings,
    pub telemetry: TelemetrySettings,
    pub components: Vec<Component>,
    /// The `[goals]` table as written; measured by the goals layer.
    pub goals: Option<toml::Value>,
}

impl System {
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct RuntimeSettings {
    /// Path to `libonnxruntime.so`, resolved against the system file's folder.
    pub onnxruntime: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub max_body_bytes: usize,
    pub max_batch: usize,
    pub unknown_features: UnknownFeatures,
    /// Longest a request may take, reading its body included; past it, 408.
    pub request_timeout: Duration,
    /// Longest a graceful shutdown waits for requests in flight.
    pub shutdown_timeout: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_batch: 256,
            unknown_features: UnknownFeatures::Reject,
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// How predictions, feedback and outcomes are recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySettings {
    pub enabled: bool,
    pub durability: Durability,
    /// Most events answered and not yet in the store; past it, predictions are refused 503.
    pub max_backlog: u64,
    /// Longest a request that needs the store itself (a lookup, a keyed feedback) waits for
    /// it to catch up before it is answered 503.
    pub commit_timeout: std::time::Duration,
    /// Sync the event log before a durable answer, so a recorded event survives power loss,
    /// not only a crash of rein.
    pub fsync: bool,
    pub retention: RetentionDays,
    /// Most bytes the store may take; past it, its oldest events are deleted.
    pub max_store_bytes: Option<u64>,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            durability: Durability::Durable,
            max_backlog: 100_000,
            commit_timeout: std::time::Duration::from_secs(2),
            fsync: false,
            retention: RetentionDays::default(),
            max_store_bytes: None,
        }
    }
}

/// When a request may be answered, relative to its prediction being stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Only after the prediction is committed (group commit).
    Durable,
    /// At once; the prediction is written a few milliseconds later.
    Buffered,
}

/// Days each kind of event is kept; `None` keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionDays {
    pub predictions: Option<u32>,
    pub feedback: Option<u32>,
    pub outcomes: Option<u32>,
}

/// What to do with a feature the schema does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownFeatures {
    Reject,
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Binary,
    Multiclass,
    Regression,
}

impl Task {
    pub fn is_classification(self) -> bool {
        !matches!(self, Task::Regression)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Binary => "binary",
            Task::Multiclass => "multiclass",
            Task::Regression => "regression",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub task: Task,
    /// Class labels in the order the model's probability columns use. Empty for regression.
    pub labels: Vec<String>,
    /// Index into `labels` of the positive label (binary only).
    pub positive: Option<usize>,
    /// How labels are shown to people, by label (`label_names`); a label without one is
    /// shown as itself. The decision path works with the labels themselves.
    pub label_names: BTreeMap<String, String>,
    pub model: ModelSpec,
    pub features: Vec<Feature>,
    pub guardrails: Vec<Guardrail>,
    pub fallback: Option<Fallback>,
    pub experience: Experience,
    pub locations: ComponentLocations,
}

impl Component {
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|f| f.name == name)
    }
    pub fn label_index(&self, label: &str) -> Option<usize> {
        self.labels.iter().position(|l| l == label)
    }
    /// How `label` is shown to people: its name from `label_names`, or the label itself.
    pub fn display_name<'a>(&'a self, label: &'a str) -> &'a str {
        self.label_names.get(label).map_or(label, String::as_str)
    }
}

/// Where parts of a component were written, for checks that can only run once
/// the model is loaded (labels, feature/input mapping).
#[derive(Debug, Clone, Default)]
pub struct ComponentLocations {
    pub component: Location,
    pub model: Location,
    pub labels: Location,
    pub features: Location,
}

#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// The ONNX artifact, resolved against the system file's folder.
    pub path: PathBuf,
    /// The model's name in answers and records: `name` as declared, or the file's stem
    /// (`model` for `model.onnx`).
    pub name: String,
    pub version: Option<String>,
    pub timeout: Duration,
    /// Most inferences of this component allowed in flight at once.
    pub max_concurrency: usize,
    pub engine: ModelEngine,
}

/// Who evaluates the model's graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModelEngine {
    /// rein itself where it evaluates every operator of the graph and agrees with ONNX
    /// Runtime on probe rows at start-up; ONNX Runtime otherwise.
    #[default]
    Auto,
    /// Always ONNX Runtime.
    OnnxRuntime,
}

#[derive(Debug, Clone)]
pub struct Feature {
    pub name: String,
    pub kind: FeatureKind,
    pub required: bool,
    pub default: Option<FeatureValue>,
    pub telemetry: TelemetryPolicy,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FeatureKind {
    Number { min: Option<f64>, max: Option<f64> },
    Integer { min: Option<i64>, max: Option<i64> },
    Boolean,
    Category { categories: Vec<String> },
    Text { max_length: usize },
}

impl FeatureKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            FeatureKind::Number { .. } => "number",
            FeatureKind::Integer { .. } => "integer",
            FeatureKind::Boolean => "boolean",
            FeatureKind::Category { .. } => "category",
            FeatureKind::Text { .. } => "text",
        }
    }
    pub fn is_numeric(&self) -> bool {
        matches!(self, FeatureKind::Number { .. } | FeatureKind::Integer { .. } | FeatureKind::Boolean)
    }
}

/// One validated feature value. Categories and texts are both strings.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureValue {
    Number(f64),
    Integer(i64),
    Boolean(bool),
    Text(String),
}

/// As JSON: numbers, booleans and strings (a non-finite number, which validation
/// never lets through, as `null`).
impl serde::Serialize for FeatureValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FeatureValue::Number(v) if v.is_finite() => serializer.serialize_f64(*v),
            FeatureValue::Number(_) => serializer.serialize_none(),
            FeatureValue::Integer(v) => serializer.serialize_i64(*v),
            FeatureValue::Boolean(v) => serializer.serialize_bool(*v),
            FeatureValue::Text(s) => serializer.serialize_str(s),
        }
    }
}

impl FeatureValue {
    /// The value as a float, for numeric model inputs.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            FeatureValue::Number(v) => Some(*v),
            FeatureValue::Integer(v) => Some(*v as f64),
            FeatureValue::Boolean(v) => Some(if *v { 1.0 } else { 0.0 }),
            FeatureValue::Text(_) => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            FeatureValue::Integer(v) => Some(*v),
            FeatureValue::Boolean(v) => Some(*v as i64),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FeatureValue::Text(s) => Some(s),
            _ => None,
        }
    }
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// How a feature is written to telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TelemetryPolicy {
    #[default]
    Raw,
    /// Keyed hash: joins and drift on categories still work, the value does not leak.
    Hash,
    Drop,
    /// Text cut to this many characters.
    Truncate(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before the model runs; sees `features` and `context`.
    Input,
    /// After the model ran; sees `features`, `context` and `output`.
    Output,
}

#[derive(Debug, Clone)]
pub struct Guardrail {
    pub name: String,
    pub stage: Stage,
    pub condition: Condition,
    pub action: Action,
    /// What happens when the condition cannot be evaluated for a request.
    pub on_error: OnError,
    pub location: Location,
}

/// What a rule does when its condition cannot be evaluated at run time (a context key the
/// request did not send, a value of an unexpected type). A failing rule is never skipped
/// silently: it is recorded with the error, counted and logged, whatever is chosen here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Refuse the request (422), naming the rule and the error. The default for `reject`.
    Deny,
    /// Hand the decision to a human. The default for `escalate` and `override`: rein cannot
    /// tell which way an override is safe.
    Escalate,
    /// Act as though the condition held. The default for `clamp`, which only bounds.
    Apply,
    /// Record the error and go on as though the condition did not hold. The default for `flag`.
    Ignore,
}

impl OnError {
    pub const NAMES: [&'static str; 4] = ["deny", "escalate", "apply", "ignore"];

    /// The default for a rule taking `action`.
    pub fn default_for(action: &Action) -> Self {
        match action {
            Action::Reject { .. } => OnError::Deny,
            Action::Escalate { .. } | Action::Override { .. } => OnError::Escalate,
            Action::Clamp { .. } => OnError::Apply,
            Action::Flag => OnError::Ignore,
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "deny" => OnError::Deny,
            "escalate" => OnError::Escalate,
            "apply" => OnError::Apply,
            "ignore" => OnError::Ignore,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Deny => "deny",
            OnError::Escalate => "escalate",
            OnError::Apply => "apply",
            OnError::Ignore => "ignore",
        }
    }
}

/// A compiled CEL condition and the text it came from.
#[derive(Debug, Clone)]
pub struct Condition {
    pub source: String,
    pub program: Arc<cel::Program>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Refuse the request (422), naming the rule.
    Reject { message: String },
    /// Bound a numeric output; before and after are recorded.
    Clamp { min: Option<f64>, max: Option<f64> },
    /// Replace the output with a declared one. At the input stage the model is not called.
    Override { output: OutputValue, mode: Option<Mode> },
    /// Hand the decision to a human.
    Escalate { to: String },
    /// Record only.
    Flag,
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Reject { .. } => "reject",
            Action::Clamp { .. } => "clamp",
            Action::Override { .. } => "override",
            Action::Escalate { .. } => "escalate",
            Action::Flag => "flag",
        }
    }
}

/// A declared output: a label for classifiers, a value for regressors.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputValue {
    Label(String),
    Value(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fallback {
    pub output: OutputValue,
    pub mode: Mode,
}

/// How forcefully a prediction reaches the user, most forceful first.
/// `Escalate` sits outside the order: a human decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Automate,
    Prompt,
    Annotate,
    None,
    Escalate,
}

impl Mode {
    pub const ALL: [Mode; 5] = [Mode::Automate, Mode::Prompt, Mode::Annotate, Mode::None, Mode::Escalate];
    /// The modes the experience policy chooses among, most forceful first.
    pub const BY_FORCE: [Mode; 4] = [Mode::Automate, Mode::Prompt, Mode::Annotate, Mode::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Automate => "automate",
            Mode::Prompt => "prompt",
            Mode::Annotate => "annotate",
            Mode::None => "none",
            Mode::Escalate => "escalate",
        }
    }
    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == s)
    }
    /// The next less forceful mode (`None` stays `None`).
    pub fn downgrade(self) -> Mode {
        match self {
            Mode::Automate => Mode::Prompt,
            Mode::Prompt => Mode::Annotate,
            Mode::Annotate | Mode::None => Mode::None,
            Mode::Escalate => Mode::Escalate,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Experience {
    pub policy: Policy,
    pub caps: Vec<FrequencyCap>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Always the same mode.
    Fixed(Mode),
    /// The most forceful mode whose threshold the score reaches.
    /// Score: positive-class probability (binary), top probability (multiclass), value (regression).
    Thresholds(Vec<(Mode, f64)>),
    /// Maximise expected value from declared values of each mode being right or wrong.
    /// `p` = probability that the prediction acted on is right.
    ExpectedValue(Vec<ModeValue>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModeValue {
    pub mode: Mode,
    /// Value when the prediction acted on is right (e.g. a phishing page blocked).
    pub right: f64,
    /// Value when it is wrong (e.g. a legitimate page blocked); usually negative.
    pub wrong: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrequencyCap {
    pub mode: Mode,
    pub max: u32,
    pub per: Duration,
}
