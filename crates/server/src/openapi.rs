//! rein's own HTTP API described as OpenAPI 3.1, generated from the handlers' types with
//! utoipa and served at `GET /openapi.json`. The request and response types derive their
//! schemas where they are declared (`predict`, `records`, `oip`, `error`); this module holds
//! the document, the schemas of the parts a record carries as JSON text (the output, the
//! guardrail actions, the decision), which the decision path serializes, and the names that
//! a request's string fields take (modes, feedback kinds and sources), which handlers read
//! as strings to refuse others with a clear message.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use rein_system::Mode;
use serde_json::Value;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, Server};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use crate::error::ErrorBody;
use crate::predict::Batch;
use crate::record::Prediction;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rein",
        description = "rein's own API: predictions through a component's whole decision path (schema, \
                       guardrails, model, experience), the feedback and outcomes the world reports about them, \
                       and the recorded predictions. Errors answer `{\"error\": {\"code\", \"message\", \"details\"}}` \
                       (the `Error` schema); `code` is stable, the message is for people. The Open Inference \
                       Protocol v2 routes (`/v2/...`, raw model access) follow that protocol's own description and \
                       error shape, `{\"error\": \"<message>\"}`; only their health routes are described here."
    ),
    paths(
        crate::predict::predict,
        crate::records::feedback,
        crate::records::outcome,
        crate::records::prediction,
        crate::records::list,
        crate::goals::goals,
        crate::quality::quality,
        crate::shadow::shadow,
        crate::monitors::monitors,
        crate::monitors::alerts,
        crate::models::list,
        crate::models::show_component,
        crate::models::show_version,
        crate::models::history,
        crate::models::register,
        crate::models::move_alias,
        crate::traffic::show,
        crate::traffic::replace,
        crate::rollouts::list,
        crate::rollouts::show,
        crate::rollouts::command,
        crate::oip::live,
        crate::oip::ready,
        crate::render_metrics,
        serve,
    ),
    tags(
        (name = "traffic", description = "Traffic plans: A/B/n splits, canaries, holdouts and shadows of a component, \
                                          and the rollouts the controller judges"),
        (name = "predictions", description = "Predictions and what is recorded of them"),
        (name = "feedback", description = "What the world says back"),
        (name = "models", description = "The model registry: versions, their provenance, aliases and their history; \
                                          registering and moving an alias need the admin token (`Authorization: Bearer`)"),
        (name = "goals", description = "The system's goals on every layer, and a component's quality, measured over \
                                        what is recorded"),
        (name = "monitoring", description = "Monitors evaluated as their windows close, and the alerts they open and close"),
        (name = "health", description = "Liveness and readiness (Open Inference Protocol v2's health routes)"),
        (name = "operations", description = "Metrics and this description"),
    )
)]
pub struct ApiDoc;

/// The description as JSON text, made once.
pub fn document() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.servers = Some(vec![Server::new("/")]);
        doc.to_pretty_json().expect("an OpenAPI document serializes")
    })
}

/// The OpenAPI 3.1 description of rein's own API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This description", content_type = "application/json", body = Object))
)]
pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}

/// What a component answers: for a classifier its `label`, `score` (the positive class's
/// probability for a binary one, the top probability otherwise) and `probabilities` by
/// label; for a regressor its `value` (and `score`, the same number). Fields that do not
/// apply are left out.
#[derive(ToSchema)]
pub struct Output {
    pub label: Option<String>,
    /// How `label` is shown to people, when the system file names it (`label_names`).
    pub label_name: Option<String>,
    pub score: Option<f64>,
    /// One probability per label, in the component's label order.
    pub probabilities: Option<HashMap<String, f64>>,
    pub value: Option<f64>,
}

/// A guardrail that acted on the request, or whose condition could not be evaluated.
#[derive(ToSchema)]
pub struct GuardrailAction {
    /// The rule's name in the system file.
    pub rule: String,
    #[schema(value_type = String, examples("input", "output"))]
    pub stage: String,
    /// What it did: `reject`, `clamp`, `override`, `escalate` or `flag`.
    #[schema(examples("override"))]
    pub action: String,
    /// The value before a clamp or override.
    pub before: Option<Value>,
    /// The value after a clamp or override.
    pub after: Option<Value>,
    /// The mode an escalation or override chose.
    pub to: Option<String>,
    /// Why the condition could not be evaluated; `on_error` says what the rule did instead.
    pub error: Option<String>,
    pub on_error: Option<String>,
}

/// How the product should act on the output.
#[derive(ToSchema)]
pub struct Decision {
    pub mode: ModeName,
    pub reason: Reason,
    /// Frequency caps that lowered the mode, if any did.
    pub capped: Option<Vec<CapApplied>>,
}

/// Why the mode was chosen.
#[derive(ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// The policy always uses this mode.
    Fixed,
    /// The score reached this mode's threshold (or no threshold, for `none`).
    Threshold { score: f64, threshold: Option<f64> },
    /// This mode had the highest expected value at probability `p`.
    ExpectedValue {
        p: f64,
        /// The expected value of each mode, by mode.
        values: HashMap<String, f64>,
    },
    /// A guardrail decided.
    Guardrail { rule: String, action: String },
    /// The model failed; the declared fallback was used.
    Fallback { error: String },
    /// A reason an earlier rein recorded as text, read back from the store.
    Unknown { text: String },
}

/// A frequency cap that lowered the mode.
#[derive(ToSchema)]
pub struct CapApplied {
    pub from: ModeName,
    pub to: ModeName,
    pub max: u32,
    pub per_seconds: u64,
}

/// A decision mode: the names the system file declares ([`Mode::ALL`]), so the schema
/// lists what the server really answers.
pub struct ModeName;

impl PartialSchema for ModeName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("How forcefully the product acts on the output, from the system's experience policy"))
            .enum_values(Some(Mode::ALL.iter().map(|m| m.as_str())))
            .into()
    }
}

impl ToSchema for ModeName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Mode")
    }
}

/// The answer of `POST /v1/components/{name}/predict`: one prediction for one instance,
/// or a batch's answers in order.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)] // a schema, never made
pub enum PredictAnswer<'a> {
    One(Prediction<'a>),
    Batch(Batch),
}

/// One instance's answer in a batch: its prediction, or why it has none.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)] // a schema, never made
pub enum PredictionOrError<'a> {
    Prediction(Prediction<'a>),
    Error(ErrorBody<'a>),
}

/// What a feedback says: the prediction was `correct`, `incorrect` (the true label may be
/// given; on a binary component, without one the other label is recorded as the truth), or
/// the true `label` (or value) is given.
#[derive(ToSchema)]
#[schema(as = FeedbackKind)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKindName {
    Correct,
    Incorrect,
    Label,
}

/// Who reported a feedback (default: `user`).
#[derive(ToSchema)]
#[schema(as = FeedbackSource)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackSourceName {
    User,
    Expert,
    System,
}

/// The goals measured (`GET /v1/goals`): each goal's latest closed window's figure with its
/// interval and status, its trend, and its alignment with the goals it supports.
/// docs/goals.md describes every field.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema, never made
pub struct Goals {
    /// The system's name.
    system: String,
    /// The instant the windows are judged at (unix ms): a window that ended by then is closed.
    as_of_ms: i64,
    /// How that instant was chosen: `given`, `newest_prediction` or `clock`.
    as_of: String,
    /// How many windows back each trend and alignment covers.
    windows: usize,
    /// The confidence of every interval.
    confidence: f64,
    /// The goals that support no other, highest layer first: the roots of the tree.
    top: Vec<String>,
    /// Every goal in file order: `id`, `layer`, `description`, `supports`, `supporters`,
    /// `status` (`met`, `missed`, `not_judged`, `no_data`, `not_measured`), `note`, `metric`,
    /// `latest` (its figure, interval and window), `trend` and `alignment`.
    #[schema(value_type = Vec<Object>)]
    goals: Vec<Value>,
}

/// A component's quality over its latest closed windows: measured on the predictions that
/// feedback labeled, estimated from the probabilities of all (classifiers), side by side.
/// docs/monitoring.md describes every field.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema, never made
pub struct Quality {
    /// The system's name.
    system: String,
    component: String,
    /// `binary`, `multiclass` or `regression`.
    task: String,
    /// The windows' length, as written (`1d`) and in milliseconds.
    window: String,
    window_ms: i64,
    /// The instant the windows are judged at (unix ms): a window that ended by then is closed.
    as_of_ms: i64,
    /// How that instant was chosen: `given`, `newest_prediction` or `clock`.
    as_of: String,
    /// The confidence of every interval.
    confidence: f64,
    /// What the estimate is calibrated on (classifiers): `from_ms`, `until_ms`, `chosen`,
    /// its realized `accuracy`, and the `calibration` (`reference_rows`, `recalibrated`,
    /// `ece`, `ece_cross_validated`, `trusted`, `distrust`, ...).
    #[schema(value_type = Option<Object>)]
    reference: Option<Value>,
    /// Oldest first: `from_ms`, `until_ms`, `predictions`, `unreadable`, `feedback`,
    /// `measured` (each figure `measured` with its `interval`, or `insufficient`),
    /// `estimated`, `in_reference`, `beside`, `concept_drift`, `slices`.
    #[schema(value_type = Vec<Object>)]
    windows: Vec<Value>,
    /// What the estimate cannot see, and whether to trust it.
    notes: Vec<String>,
}
