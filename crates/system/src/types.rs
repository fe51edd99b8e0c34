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
    /// The outcome names the system records (`outcomes = [...]`), as declared; `None` when
    /// the file does not declare them, and the names goals use were not checked.
    pub outcomes: Option<Vec<String>>,
    /// The `[[goals]]`, in file order: a graph whose `supports` links point up the layers.
    pub goals: Vec<Goal>,
    /// The `[[monitors]]`, in file order: what to watch, and when it is alarming.
    pub monitors: Vec<Monitor>,
    /// `[alerts]`: where alerts go beside the store, the log and the metrics.
    pub alerts: AlertSettings,
    /// Each component's traffic plan (`[components.traffic]`), by component name: kept
    /// here rather than in `Component` so that a component built in code needs none.
    pub traffic: BTreeMap<String, DeclaredTraffic>,
}

/// A component's traffic plan as the system file declares it, and where.
#[derive(Debug, Clone)]
pub struct DeclaredTraffic {
    pub plan: crate::traffic::TrafficPlan,
    pub location: Location,
}

impl System {
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    pub fn goal(&self, id: &str) -> Option<&Goal> {
        self.goals.iter().find(|g| g.id == id)
    }

    pub fn monitor(&self, id: &str) -> Option<&Monitor> {
        self.monitors.iter().find(|m| m.id == id)
    }

    /// The goals that support goal `id` (name it in their `supports`), in file order.
    pub fn supporters<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Goal> + 'a {
        self.goals.iter().filter(move |g| g.supports.iter().any(|s| s == id))
    }

    /// The goals at the top of the graph, supporting no other: the organizational ones, and
    /// any other a file leaves unlinked; highest layer first, then in file order.
    pub fn top_goals(&self) -> Vec<&Goal> {
        let mut top: Vec<&Goal> = self.goals.iter().filter(|g| g.supports.is_empty()).collect();
        top.sort_by_key(|g| std::cmp::Reverse(g.layer));
        top
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
    /// The environment variable holding the bearer token of the admin routes
    /// (`/v1/models` writes); never the token itself.
    pub admin_token_env: String,
    /// Who may read the model registry over HTTP.
    pub model_reads: ModelReads,
}

/// Who may read `/v1/models`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModelReads {
    /// Anyone who can reach the server.
    #[default]
    Open,
    /// Only callers with the admin token.
    Admin,
}

/// The default of `server.admin_token_env`.
pub const DEFAULT_ADMIN_TOKEN_ENV: &str = "REIN_ADMIN_TOKEN";

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_batch: 256,
            unknown_features: UnknownFeatures::Reject,
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
            admin_token_env: DEFAULT_ADMIN_TOKEN_ENV.to_string(),
            model_reads: ModelReads::Open,
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
    /// `slices`: the fields of a prediction's record its quality is cut by, each checked to
    /// be one ([`slice_problem`]): a feature's name, `mode`, `variant` or `model.version`.
    pub slices: Vec<String>,
    pub locations: ComponentLocations,
}

/// Fields of every prediction's record that its quality may be sliced by, beside features.
pub const SLICE_FIELDS: [&str; 3] = ["mode", "variant", "model.version"];

/// Why a feature cannot slice quality, if it cannot: telemetry must record it, and its
/// values must be few enough to group by (a `category`, `boolean` or `integer`).
pub fn feature_slice_problem(feature: &Feature) -> Option<&'static str> {
    if feature.telemetry == TelemetryPolicy::Drop {
        return Some("telemetry drops it (`telemetry = \"drop\"`), so no record holds it");
    }
    match feature.kind {
        FeatureKind::Category { .. } | FeatureKind::Boolean | FeatureKind::Integer { .. } => None,
        FeatureKind::Number { .. } => Some("a number takes too many values to group by"),
        FeatureKind::Text { .. } => Some("a text takes too many values to group by"),
    }
}

/// The fields a component with `features` can slice its quality by: its sliceable
/// features, then [`SLICE_FIELDS`].
pub fn slice_fields(features: &[Feature]) -> Vec<&str> {
    let sliceable = features.iter().filter(|f| feature_slice_problem(f).is_none()).map(|f| f.name.as_str());
    sliceable.chain(SLICE_FIELDS).collect()
}

/// Why `name` cannot slice the quality of component `component` (with `features`), if it
/// cannot, as a message and a hint: a feature of the component ([`feature_slice_problem`];
/// `features.` before its name is optional) or one of [`SLICE_FIELDS`]. The request's
/// `context` is not recorded.
pub fn slice_problem(component: &str, features: &[Feature], name: &str) -> Option<(String, String)> {
    let fields = slice_fields(features).join(", ");
    let feature = name.strip_prefix("features.").unwrap_or(name);
    if let Some(f) = features.iter().find(|f| f.name == feature) {
        return feature_slice_problem(f).map(|why| {
            (
                format!("feature `{}` of component `{component}` cannot slice its quality: {why}", f.name),
                format!("slice by a recorded category, boolean or integer: {fields}"),
            )
        });
    }
    if SLICE_FIELDS.contains(&name) {
        return None;
    }
    if let Some(key) = name.strip_prefix("context.") {
        return Some((
            format!(
                "a prediction's record does not keep the request's context, so quality cannot be sliced by `context.{key}`"
            ),
            format!("send `{key}` as a feature (a category) to slice by it"),
        ));
    }
    let hint = match crate::closest(name, slice_fields(features)) {
        Some(near) => format!("did you mean `{near}`? it can be sliced by: {fields}"),
        None => format!("it can be sliced by: {fields}"),
    };
    Some((format!("component `{component}` has no feature or field `{name}` to slice its quality by"), hint))
}

impl Component {
    /// The fields its quality can be sliced by: its sliceable features, then [`SLICE_FIELDS`].
    pub fn slice_fields(&self) -> Vec<&str> {
        slice_fields(&self.features)
    }

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
/// the model is loaded (labels, feature/input mapping), and for the warnings about its
/// design ([`crate::warnings`]).
#[derive(Debug, Clone, Default)]
pub struct ComponentLocations {
    pub component: Location,
    pub model: Location,
    pub labels: Location,
    pub features: Location,
    /// The `[components.experience]` table; the component's, when it has none.
    pub experience: Location,
    /// Where the experience policy names each mode it names: `mode = "automate"`, a
    /// threshold, a line of `values`; in file order.
    pub modes: Vec<(Mode, Location)>,
}

impl ComponentLocations {
    /// Where the policy names `mode`, or else the experience table.
    pub fn mode(&self, mode: Mode) -> Location {
        self.modes.iter().find(|(m, _)| *m == mode).map_or(self.experience, |(_, at)| *at)
    }
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

impl ModeValue {
    /// The value expected from this mode when the prediction acted on is right with
    /// probability `p`.
    pub fn expected_value(&self, p: f64) -> f64 {
        p * self.right + (1.0 - p) * self.wrong
    }
}

/// The mode an expected-value policy chooses at probability `p`, before frequency caps:
/// the highest expected value, a tie going to the mode later in `values` (the validated
/// policy lists them most forceful first, so the less forceful one: bother the user only
/// for a real gain). `rein_decision::choose` decides the same way.
pub fn expected_value_choice(values: &[ModeValue], p: f64) -> Mode {
    let mut best: Option<(Mode, f64)> = None;
    for v in values {
        let ev = v.expected_value(p);
        if best.is_none_or(|(_, b)| ev >= b) {
            best = Some((v.mode, ev));
        }
    }
    best.map_or(Mode::None, |(m, _)| m)
}

/// The ranges of `p` over [0, 1] in which each mode wins under an expected-value policy,
/// `(mode, from, to)`, lowest `p` first; a mode that wins nowhere (or at one point) is not
/// listed. As `rein_decision::derived_ranges`, which `rein check` prints.
pub fn expected_value_ranges(values: &[ModeValue]) -> Vec<(Mode, f64, f64)> {
    // expected values are linear in p: the winner changes only where two lines cross
    let mut cuts = vec![0.0, 1.0];
    for (i, a) in values.iter().enumerate() {
        for b in &values[i + 1..] {
            let slope = (a.right - a.wrong) - (b.right - b.wrong);
            if slope != 0.0 {
                let p = (b.wrong - a.wrong) / slope;
                if p > 0.0 && p < 1.0 {
                    cuts.push(p);
                }
            }
        }
    }
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    let mut ranges: Vec<(Mode, f64, f64)> = Vec::new();
    for w in cuts.windows(2) {
        let mode = expected_value_choice(values, (w[0] + w[1]) / 2.0);
        match ranges.last_mut() {
            Some(last) if last.0 == mode => last.2 = w[1],
            _ => ranges.push((mode, w[0], w[1])),
        }
    }
    ranges
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrequencyCap {
    pub mode: Mode,
    pub max: u32,
    pub per: Duration,
}

/// One `[[goals]]` entry: what success means at one layer, how telemetry shows it (or why
/// it cannot), and the goals it serves.
#[derive(Debug, Clone)]
pub struct Goal {
    /// Unique among the goals; what `supports` names.
    pub id: String,
    pub layer: Layer,
    pub description: String,
    pub measure: Measure,
    /// The ids of the goals this one serves, each of a higher layer, as written.
    pub supports: Vec<String>,
    pub location: Location,
}

impl Goal {
    /// The metric, target and window, when the goal is measured.
    pub fn measured(&self) -> Option<(&Metric, &Target, Duration)> {
        match &self.measure {
            Measure::Metric { metric, target, window } => Some((metric, target, *window)),
            Measure::NotMeasured { .. } => None,
        }
    }
}

/// The layers of success measures, lowest first: a goal supports goals of higher layers
/// only. The order is the seed lecture's, read as what serves what: a model's properties
/// serve its users' outcomes, which serve the system's goals, which move the leading
/// indicators, the short-term proxies of the organization's objectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Model,
    UserOutcome,
    System,
    LeadingIndicator,
    Organizational,
}

impl Layer {
    /// Lowest first.
    pub const ALL: [Layer; 5] =
        [Layer::Model, Layer::UserOutcome, Layer::System, Layer::LeadingIndicator, Layer::Organizational];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Model => "model",
            Layer::UserOutcome => "user_outcome",
            Layer::System => "system",
            Layer::LeadingIndicator => "leading_indicator",
            Layer::Organizational => "organizational",
        }
    }

    pub fn parse(s: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// How a goal is measured: a metric over telemetry with its target, or not at all.
#[derive(Debug, Clone)]
pub enum Measure {
    /// `metric` over the events of the last `window` should meet `target`.
    Metric { metric: Metric, target: Target, window: Duration },
    /// `measured = false`: no telemetry can show it (revenue, retention over years);
    /// `note` says how it is judged instead.
    NotMeasured { note: String },
}

/// Which way a metric should go, and how far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// `{ at_least = x }`: met when the metric is x or more.
    AtLeast(f64),
    /// `{ at_most = x }`: met when the metric is x or less.
    AtMost(f64),
    /// `{ at_least = lo, at_most = hi }`: met within [lo, hi].
    Between(f64, f64),
}

impl Target {
    pub fn is_met(self, value: f64) -> bool {
        match self {
            Target::AtLeast(lo) => value >= lo,
            Target::AtMost(hi) => value <= hi,
            Target::Between(lo, hi) => (lo..=hi).contains(&value),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::AtLeast(lo) => write!(f, "at least {lo}"),
            Target::AtMost(hi) => write!(f, "at most {hi}"),
            Target::Between(lo, hi) => write!(f, "between {lo} and {hi}"),
        }
    }
}

/// What a measured goal computes: a kind of metric over a population of predictions.
///
/// Every metric is computed over the events of one window. The predictions it counts are
/// those of `population`; events of other kinds (feedback, outcomes) are joined to them by
/// `prediction_id`, or by `unit` where a metric says so. `docs/goals.md` defines each one.
#[derive(Debug, Clone)]
pub struct Metric {
    pub kind: MetricKind,
    pub population: Population,
}

/// The predictions a metric counts: all of the window's, narrowed by each part given.
#[derive(Debug, Clone, Default)]
pub struct Population {
    /// Only this component's predictions; `None`: every component's. Always given for a
    /// metric that is per component (a quality metric, one naming a guardrail, a label, or
    /// a filter reading `features` or `output`), the only component when the file has one.
    pub component: Option<String>,
    /// `by_mode`: only predictions decided in this mode.
    pub mode: Option<Mode>,
    /// `by_guardrail`: only predictions where this rule of the component acted.
    pub guardrail: Option<String>,
    /// `filter`: only predictions whose recorded event makes this CEL condition true
    /// (its variables in `docs/goals.md`).
    pub filter: Option<Condition>,
}

impl Population {
    /// Whether every prediction is counted.
    pub fn is_all(&self) -> bool {
        self.component.is_none() && self.mode.is_none() && self.guardrail.is_none() && self.filter.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetricKind {
    /// `outcome_rate`: the share of the population's predictions that an `outcome` event
    /// names (by `prediction_id`); per unit, the share of the units with a prediction in
    /// the population that have the outcome (by `unit`) in the window. In [0, 1].
    OutcomeRate { outcome: String, per: RatePer },
    /// `outcome_mean`: the mean `value` of the window's `outcome` events that carry one.
    /// With a population narrower than every prediction, only those naming one of it.
    OutcomeMean { outcome: String },
    /// `outcome_sum`: their sum (a revenue, seconds spent), as `outcome_mean` chooses them.
    OutcomeSum { outcome: String },
    /// `active_units`: how many distinct units the population's predictions name.
    ActiveUnits,
    /// A quality measure of the component's predictions: from the feedback that gives
    /// their truth, or estimated without it.
    Quality { measure: QualityMeasure, label: Option<String>, estimated: bool },
    /// `latency`: this quantile of the predictions' end-to-end latency, in milliseconds.
    Latency { quantile: f64 },
    /// `guardrail_rate`: the share of predictions where `guardrail` acted (any rule when
    /// `None`), an error of its condition included. In [0, 1].
    GuardrailRate { guardrail: Option<String> },
    /// `mode_share`: the share of predictions decided in `mode`. In [0, 1].
    ModeShare { mode: Mode },
    /// `feedback_rate`: the share of predictions that a feedback names, of `kind` and from
    /// `source` when given. In [0, 1].
    FeedbackRate { kind: Option<FeedbackKind>, source: Option<FeedbackSource> },
    /// `fallback_rate`: the share of predictions answered by the fallback. In [0, 1].
    FallbackRate,
}

impl MetricKind {
    /// The name it is written with: `metric = "..."`.
    pub fn name(&self) -> &'static str {
        match self {
            MetricKind::OutcomeRate { .. } => "outcome_rate",
            MetricKind::OutcomeMean { .. } => "outcome_mean",
            MetricKind::OutcomeSum { .. } => "outcome_sum",
            MetricKind::ActiveUnits => "active_units",
            MetricKind::Quality { measure, .. } => measure.as_str(),
            MetricKind::Latency { .. } => "latency",
            MetricKind::GuardrailRate { .. } => "guardrail_rate",
            MetricKind::ModeShare { .. } => "mode_share",
            MetricKind::FeedbackRate { .. } => "feedback_rate",
            MetricKind::FallbackRate => "fallback_rate",
        }
    }

    /// The outcome it reads, if any.
    pub fn outcome(&self) -> Option<&str> {
        match self {
            MetricKind::OutcomeRate { outcome, .. }
            | MetricKind::OutcomeMean { outcome }
            | MetricKind::OutcomeSum { outcome } => Some(outcome),
            _ => None,
        }
    }

    /// Whether it is a share of something, in [0, 1].
    pub fn is_share(&self) -> bool {
        matches!(
            self,
            MetricKind::OutcomeRate { .. }
                | MetricKind::GuardrailRate { .. }
                | MetricKind::ModeShare { .. }
                | MetricKind::FeedbackRate { .. }
                | MetricKind::FallbackRate
        )
    }
}

/// What an outcome rate is a share of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatePer {
    /// Of predictions: those an outcome event names.
    Prediction,
    /// Of units: those with the outcome in the window, among the units predicted for.
    Unit,
}

impl RatePer {
    pub fn as_str(self) -> &'static str {
        match self {
            RatePer::Prediction => "prediction",
            RatePer::Unit => "unit",
        }
    }
}

/// A quality measure of a component's predictions against their truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualityMeasure {
    /// Classifiers: the share of predictions whose label is the truth.
    Accuracy,
    /// Classifiers: of the predictions of `label`, the share that are right (a multiclass
    /// component without `label`: the macro average over its labels, as for recall and f1).
    Precision,
    /// Classifiers: of the truths that are `label`, the share predicted.
    Recall,
    /// Classifiers: the harmonic mean of precision and recall.
    F1,
    /// Classifiers: ROC AUC of `label`'s probability against the truth being `label` (a
    /// multiclass component without `label`: the macro average, one label against the rest).
    Auc,
    /// Classifiers: the mean squared difference between `label`'s probability and the
    /// truth being `label` (0 or 1); summed over the labels for a multiclass without one.
    Brier,
    /// Classifiers: expected calibration error of the score (the positive label's
    /// probability for a binary component; for a multiclass, the top probability against
    /// the prediction being right), over 10 equal-width bins.
    Ece,
    /// Regressions: mean absolute error.
    Mae,
    /// Regressions: root mean squared error.
    Rmse,
    /// Regressions: mean of predicted minus true.
    Bias,
}

impl QualityMeasure {
    pub const ALL: [QualityMeasure; 10] = [
        QualityMeasure::Accuracy,
        QualityMeasure::Precision,
        QualityMeasure::Recall,
        QualityMeasure::F1,
        QualityMeasure::Auc,
        QualityMeasure::Brier,
        QualityMeasure::Ece,
        QualityMeasure::Mae,
        QualityMeasure::Rmse,
        QualityMeasure::Bias,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QualityMeasure::Accuracy => "accuracy",
            QualityMeasure::Precision => "precision",
            QualityMeasure::Recall => "recall",
            QualityMeasure::F1 => "f1",
            QualityMeasure::Auc => "auc",
            QualityMeasure::Brier => "brier",
            QualityMeasure::Ece => "ece",
            QualityMeasure::Mae => "mae",
            QualityMeasure::Rmse => "rmse",
            QualityMeasure::Bias => "bias",
        }
    }

    pub fn parse(s: &str) -> Option<QualityMeasure> {
        QualityMeasure::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether it measures a regression's values (else a classifier's labels and probabilities).
    pub fn for_regression(self) -> bool {
        matches!(self, QualityMeasure::Mae | QualityMeasure::Rmse | QualityMeasure::Bias)
    }

    /// Whether it can be estimated without labels, from the classifier's own probabilities
    /// taken as calibrated (confidence-based estimation).
    pub fn estimable(self) -> bool {
        matches!(
            self,
            QualityMeasure::Accuracy
                | QualityMeasure::Precision
                | QualityMeasure::Recall
                | QualityMeasure::F1
                | QualityMeasure::Auc
        )
    }

    /// Whether it is about one label (the positive one of a binary component unless
    /// another is named; a multiclass component's average over labels without one).
    pub fn takes_label(self) -> bool {
        matches!(
            self,
            QualityMeasure::Precision
                | QualityMeasure::Recall
                | QualityMeasure::F1
                | QualityMeasure::Auc
                | QualityMeasure::Brier
        )
    }

    /// Whether it lies in [0, 1].
    pub fn is_bounded(self) -> bool {
        !self.for_regression()
    }
}

/// What a feedback says, for `feedback_rate` (as the feedback API's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackKind {
    Correct,
    Incorrect,
    Label,
}

impl FeedbackKind {
    pub const ALL: [FeedbackKind; 3] = [FeedbackKind::Correct, FeedbackKind::Incorrect, FeedbackKind::Label];

    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Correct => "correct",
            FeedbackKind::Incorrect => "incorrect",
            FeedbackKind::Label => "label",
        }
    }

    pub fn parse(s: &str) -> Option<FeedbackKind> {
        FeedbackKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Who reported a feedback, for `feedback_rate` (as the feedback API's `source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackSource {
    User,
    Expert,
    System,
}

impl FeedbackSource {
    pub const ALL: [FeedbackSource; 3] = [FeedbackSource::User, FeedbackSource::Expert, FeedbackSource::System];

    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackSource::User => "user",
            FeedbackSource::Expert => "expert",
            FeedbackSource::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<FeedbackSource> {
        FeedbackSource::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// As `rein check` prints it: ``outcome_rate of `left_page` per prediction, in mode prompt``.
impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            MetricKind::OutcomeRate { outcome, per } => write!(f, "outcome_rate of `{outcome}` per {}", per.as_str())?,
            MetricKind::OutcomeMean { outcome } => write!(f, "outcome_mean of `{outcome}`")?,
            MetricKind::OutcomeSum { outcome } => write!(f, "outcome_sum of `{outcome}`")?,
            MetricKind::Quality { measure, label, estimated } => {
                f.write_str(measure.as_str())?;
                if let Some(label) = label {
                    write!(f, " of label `{label}`")?;
                }
                if *estimated {
                    f.write_str(", estimated without labels")?;
                }
            }
            MetricKind::Latency { quantile } => write!(f, "latency p{} (ms)", (quantile * 1e4).round() / 1e2)?,
            MetricKind::GuardrailRate { guardrail: Some(g) } => write!(f, "guardrail_rate of `{g}`")?,
            MetricKind::ModeShare { mode } => write!(f, "mode_share of {}", mode.as_str())?,
            MetricKind::FeedbackRate { kind, source } => {
                f.write_str("feedback_rate")?;
                if let Some(kind) = kind {
                    write!(f, " of {}", kind.as_str())?;
                }
                if let Some(source) = source {
                    write!(f, " from {}", source.as_str())?;
                }
            }
            other => f.write_str(other.name())?,
        }
        let p = &self.population;
        if let Some(c) = &p.component {
            write!(f, ", component `{c}`")?;
        }
        if let Some(m) = p.mode {
            write!(f, ", in mode {}", m.as_str())?;
        }
        if let Some(g) = &p.guardrail {
            write!(f, ", where `{g}` acted")?;
        }
        if let Some(filter) = &p.filter {
            write!(f, ", where `{}`", filter.source)?;
        }
        Ok(())
    }
}

/// One `[[monitors]]` entry: what to watch of a component, when a window's figure of it is
/// alarming, and how an alert opens and closes without flapping (`docs/monitoring.md`).
///
/// Every window of `window` (tumbling by event time, aligned to the epoch, as the goals')
/// gives the watched figure. A window **breaches** when the figure is beyond the threshold
/// with confidence (its whole interval beyond, where it has one), and **clears** when the
/// figure is back on the safe side by `hysteresis` or more. An alert opens after
/// `open_after` breaching windows in a row and closes after `close_after` clearing ones in a
/// row; a window that does neither (too little data, within the hysteresis band) breaks
/// both runs.
#[derive(Debug, Clone)]
pub struct Monitor {
    /// Unique among the monitors; what alerts, metrics and the API name it by.
    pub id: String,
    pub description: Option<String>,
    /// The component it watches; `None` only for a goal monitor whose goal counts the
    /// predictions of every component.
    pub component: Option<String>,
    pub watch: Watch,
    /// When a window's figure breaches; `None` only for a drift monitor that takes the drift
    /// policy's verdict (no `measure`, no `threshold`). A goal monitor's is its goal's target
    /// missed; a drift `measure` without a threshold takes the policy's for that measure.
    pub threshold: Option<Threshold>,
    pub window: Duration,
    pub severity: Severity,
    /// Breaching windows in a row that open an alert (default 1).
    pub open_after: u32,
    /// Clearing windows in a row that close it (default 2).
    pub close_after: u32,
    /// How far back past the threshold the figure must come for a window to clear (default 0).
    pub hysteresis: f64,
    pub location: Location,
}

/// What a monitor watches.
#[derive(Debug, Clone, PartialEq)]
pub enum Watch {
    /// `feature_drift`: a feature's distribution against the component's reference profile.
    FeatureDrift { feature: String, measure: Option<DriftMeasure> },
    /// `output_drift`: the model's output (`score` or `label` of a classifier, `value` of a
    /// regressor) against the profile.
    OutputDrift { output: String, measure: Option<DriftMeasure> },
    /// `quality`: a quality measure of the component's predictions, from their feedback or
    /// estimated without it.
    Quality { measure: QualityMeasure, label: Option<String>, estimated: bool },
    /// `goal`: a goal's metric against its own target.
    Goal { goal: String },
    /// `latency`: a quantile of the predictions' latency, in milliseconds.
    Latency { quantile: f64 },
    /// `guardrail_rate`: the share of predictions where a rule (any when `None`) acted.
    GuardrailRate { guardrail: Option<String> },
    /// `fallback_rate`: the share of predictions answered by the fallback.
    FallbackRate,
}

impl Watch {
    pub const NAMES: [&'static str; 7] =
        ["feature_drift", "output_drift", "quality", "goal", "latency", "guardrail_rate", "fallback_rate"];

    /// The name it is written with: `watch = "..."`.
    pub fn name(&self) -> &'static str {
        match self {
            Watch::FeatureDrift { .. } => "feature_drift",
            Watch::OutputDrift { .. } => "output_drift",
            Watch::Quality { .. } => "quality",
            Watch::Goal { .. } => "goal",
            Watch::Latency { .. } => "latency",
            Watch::GuardrailRate { .. } => "guardrail_rate",
            Watch::FallbackRate => "fallback_rate",
        }
    }

    /// Whether it compares a column with the reference profile.
    pub fn is_drift(&self) -> bool {
        matches!(self, Watch::FeatureDrift { .. } | Watch::OutputDrift { .. })
    }
}

/// As `rein check` prints it: ``drift of feature `url_length` ``, ``latency p99 (ms)``.
impl std::fmt::Display for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let measure = |m: &Option<DriftMeasure>| m.map(|m| format!(" by {}", m.as_str())).unwrap_or_default();
        match self {
            Watch::FeatureDrift { feature, measure: m } => write!(f, "drift of feature `{feature}`{}", measure(m)),
            Watch::OutputDrift { output, measure: m } => write!(f, "drift of the output's `{output}`{}", measure(m)),
            Watch::Quality { measure, label, estimated } => {
                f.write_str(measure.as_str())?;
                if let Some(label) = label {
                    write!(f, " of label `{label}`")?;
                }
                if *estimated {
                    f.write_str(", estimated without labels")?;
                }
                Ok(())
            }
            Watch::Goal { goal } => write!(f, "goal `{goal}`"),
            Watch::Latency { quantile } => write!(f, "latency p{} (ms)", (quantile * 1e4).round() / 1e2),
            Watch::GuardrailRate { guardrail: Some(g) } => write!(f, "guardrail_rate of `{g}`"),
            Watch::GuardrailRate { guardrail: None } => f.write_str("guardrail_rate"),
            Watch::FallbackRate => f.write_str("fallback_rate"),
        }
    }
}

/// A drift measure a drift monitor may watch instead of the drift policy's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftMeasure {
    /// Population stability index over the reference's bins or categories.
    Psi,
    /// Jensen–Shannon distance (natural log) over the same bins or categories.
    JensenShannon,
    /// Wasserstein distance divided by the reference's standard deviation (numbers).
    Wasserstein,
    /// The two-sample Kolmogorov–Smirnov test's p-value (numbers).
    Ks,
    /// The chi-squared test's p-value (categories).
    ChiSquared,
}

impl DriftMeasure {
    pub const ALL: [DriftMeasure; 5] = [
        DriftMeasure::Psi,
        DriftMeasure::JensenShannon,
        DriftMeasure::Wasserstein,
        DriftMeasure::Ks,
        DriftMeasure::ChiSquared,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DriftMeasure::Psi => "psi",
            DriftMeasure::JensenShannon => "jensen_shannon",
            DriftMeasure::Wasserstein => "wasserstein",
            DriftMeasure::Ks => "ks",
            DriftMeasure::ChiSquared => "chi_squared",
        }
    }

    pub fn parse(s: &str) -> Option<DriftMeasure> {
        DriftMeasure::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether it is a test's p-value (drift below the threshold), else a distance (above).
    pub fn is_p_value(self) -> bool {
        matches!(self, DriftMeasure::Ks | DriftMeasure::ChiSquared)
    }

    /// Whether it compares numbers (a number, an integer, a text's length, a score, a value).
    pub fn for_numbers(self) -> bool {
        !matches!(self, DriftMeasure::ChiSquared)
    }

    /// Whether it compares categories (a category, a boolean, a label).
    pub fn for_categories(self) -> bool {
        !matches!(self, DriftMeasure::Wasserstein | DriftMeasure::Ks)
    }
}

/// When a window's figure breaches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// `{ above = x }` (or a number where above is implied): the figure is above x.
    Above(f64),
    /// `{ below = x }`: the figure is below x.
    Below(f64),
    /// `{ below = lo, above = hi }`: the figure is below lo or above hi.
    Outside { below: f64, above: f64 },
}

impl Threshold {
    /// Whether `value` is beyond it.
    pub fn breached_by(self, value: f64) -> bool {
        match self {
            Threshold::Above(t) => value > t,
            Threshold::Below(t) => value < t,
            Threshold::Outside { below, above } => value < below || value > above,
        }
    }

    /// Whether `value` is back on the safe side by `hysteresis` or more.
    pub fn cleared_by(self, value: f64, hysteresis: f64) -> bool {
        match self {
            Threshold::Above(t) => value <= t - hysteresis,
            Threshold::Below(t) => value >= t + hysteresis,
            Threshold::Outside { below, above } => value >= below + hysteresis && value <= above - hysteresis,
        }
    }
}

/// A goal's target missed is a breach: `at_least` t breaches below t, `at_most` above it.
impl From<Target> for Threshold {
    fn from(target: Target) -> Threshold {
        match target {
            Target::AtLeast(t) => Threshold::Below(t),
            Target::AtMost(t) => Threshold::Above(t),
            Target::Between(lo, hi) => Threshold::Outside { below: lo, above: hi },
        }
    }
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Threshold::Above(t) => write!(f, "above {t}"),
            Threshold::Below(t) => write!(f, "below {t}"),
            Threshold::Outside { below, above } => write!(f, "below {below} or above {above}"),
        }
    }
}

/// How urgent a monitor's alerts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// `[alerts]`: where alerts go beside the store, the log and the metrics, and how long the
/// monitors wait for late predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSettings {
    pub webhook: Option<Webhook>,
    /// How long after a window's end, in event time, the monitors still wait for predictions
    /// stamped within it before they evaluate it: a window closes once the newest recorded
    /// prediction is this far past its end.
    pub lateness: Duration,
}

impl AlertSettings {
    pub const DEFAULT_LATENESS: Duration = Duration::from_secs(60);
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings { webhook: None, lateness: AlertSettings::DEFAULT_LATENESS }
    }
}

/// An HTTP endpoint each alert's opening and closing is POSTed to, as a CloudEvent.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    /// `http://` or `https://`.
    pub url: String,
    /// Longest one attempt may take.
    pub timeout: Duration,
    /// Attempts after the first, each after twice the wait of the one before.
    pub retries: u32,
    /// The wait before the first retry.
    pub backoff: Duration,
    /// Most alerts waiting to be sent; past it, the oldest is dropped (and counted).
    pub queue: usize,
}

impl Webhook {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_RETRIES: u32 = 5;
    pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);
    pub const DEFAULT_QUEUE: usize = 1000;
}
