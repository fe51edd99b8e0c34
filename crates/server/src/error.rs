//! The one place errors become HTTP.
//!
//! Handlers return `Result<_, ApiError>` (the Open Inference Protocol's `Result<_, OipError>`)
//! and use `?` on typed errors: the libraries' own ([`Refusal`], [`ModelError`],
//! [`StoreError`], [`FeedbackInvalid`], [`CommitError`], serde_json's and axum's rejections)
//! and the edge's, one enum per concern below. Each becomes an [`ApiError`] through one
//! exhaustive `match` here, which decides its status, its stable [`Code`], its message and
//! its details (with a hint where one helps): a new variant does not compile until someone
//! decides its status here. No other module names a status.
//!
//! The body's shape is the protocol's ([`Protocol`]): rein's routes answer
//! `{"error": {"code", "message", "details"}}`, the Open Inference Protocol's `/v2` routes
//! `{"error": "<message>"}` with the same status, as KServe's and Triton's clients read it.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rein_decision::{ModelError, Refusal};
use rein_telemetry::events::FeedbackInvalid;
use rein_telemetry::{RecordError, StoreError};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::telemetry::CommitError;

/// What kind of error it is: stable, for clients to branch on (the message is for people).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    // 400
    /// The body is not JSON.
    MalformedJson,
    /// The body could not be read.
    UnreadableBody,
    /// OIP v2: the `inference-header-content-length` header does not fit the body.
    BadBinaryHeader,
    /// OIP v2: an input tensor is not what the model takes, or its data does not fit it.
    BadTensor,
    // 404
    /// No route has this path.
    NotFound,
    UnknownComponent,
    UnknownVersion,
    UnknownPrediction,
    /// The route reads telemetry, which is off on this server.
    TelemetryOff,
    /// The server keeps no model registry.
    RegistryOff,
    /// The component has no rollout.
    NoRollout,
    // 401
    /// An admin route (or a closed read) without a bearer token.
    Unauthorized,
    // 403
    /// A bearer token that is not the admin token.
    Forbidden,
    /// No admin token is configured: the admin routes are closed.
    AdminDisabled,
    // 405
    MethodNotAllowed,
    // 408
    RequestTimeout,
    // 409
    /// An idempotency key already names other feedback.
    KeyReused,
    /// A version id that names other bytes, or bytes registered as another version.
    VersionExists,
    /// An operator's command that does not apply to the rollout as it stands.
    RolloutConflict,
    // 413
    BodyTooLarge,
    // 422 (400 on OIP v2)
    /// JSON, but not of the shape the route reads.
    BadRequestShape,
    // 422
    BadBatch,
    BadUnit,
    BadTime,
    BadQuery,
    BadCursor,
    InvalidFeatures,
    RejectedByGuardrail,
    GuardrailFailed,
    InvalidFeedback,
    InvalidOutcome,
    /// A model version refused by the checks before serving: the mismatch is named.
    ModelRefused,
    /// A version id, alias or parent that cannot be one.
    BadVersion,
    /// A reference profile that is not one, or of another component.
    BadProfile,
    /// A traffic plan that breaks its rules, or names no loaded version.
    InvalidTrafficPlan,
    // 500
    /// A stored model artifact whose bytes no longer match its digest.
    CorruptArtifact,
    ModelFailed,
    Internal,
    // 503
    ModelUnavailable,
    TelemetryUnavailable,
    StoreUnavailable,
    /// The model registry could not be read or written.
    RegistryUnavailable,
}

/// An error as a client gets it. Made only here, from the typed errors below.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    status: StatusCode,
    code: Code,
    message: String,
    details: Value,
}

/// rein's error body: `{"error": {"code", "message", "details"}}`.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

/// What went wrong: `code` is stable, for programs; `message` is for people; `details`
/// holds what helps fix it (the fields that do not fit, a `hint`, ...) or null.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail<'a> {
    code: Code,
    message: &'a str,
    #[schema(value_type = Option<Object>)]
    details: &'a Value,
}

impl ApiError {
    fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Value::Null }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    fn with_hint(self, hint: &str) -> Self {
        self.with_details(json!({ "hint": hint }))
    }

    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    pub fn code(&self) -> Code {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn details(&self) -> &Value {
        &self.details
    }

    /// The body rein's routes answer.
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody { error: ErrorDetail { code: self.code, message: &self.message, details: &self.details } }
    }

    /// The answer in the shape of `protocol`.
    pub fn respond(self, protocol: Protocol) -> Response {
        match protocol {
            Protocol::Rein => (self.status, Json(self.body())).into_response(),
            Protocol::Oip => (self.status, Json(OipErrorBody { error: &self.message })).into_response(),
        }
    }
}

/// Which protocol a route speaks, and so the shape of its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// rein's own routes (`/v1`, `/metrics`, ...): `{"error": {"code", "message", "details"}}`.
    Rein,
    /// The Open Inference Protocol v2 (`/v2`): `{"error": "<message>"}`.
    Oip,
}

impl Protocol {
    /// The protocol of a request path, for answers made before a handler runs (no route,
    /// a timeout).
    pub fn of_path(path: &str) -> Protocol {
        if path == "/v2" || path.starts_with("/v2/") { Protocol::Oip } else { Protocol::Rein }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.respond(Protocol::Rein)
    }
}

/// The Open Inference Protocol's error body: `{"error": "<message>"}`.
#[derive(Serialize)]
pub struct OipErrorBody<'a> {
    error: &'a str,
}

/// An error of an Open Inference Protocol route: the same status and message as
/// [`ApiError`], in the protocol's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct OipError(pub ApiError);

impl<E: Into<ApiError>> From<E> for OipError {
    fn from(e: E) -> Self {
        OipError(e.into())
    }
}

impl IntoResponse for OipError {
    fn into_response(self) -> Response {
        self.0.respond(Protocol::Oip)
    }
}

// ---------------------------------------------------------------------------------------
// Statuses of answers that are not errors

/// 202 Accepted: the event is taken (`/v1/feedback`, `/v1/outcomes`).
pub struct Accepted<T>(pub T);

impl<T: Serialize> IntoResponse for Accepted<T> {
    fn into_response(self) -> Response {
        (StatusCode::ACCEPTED, Json(self.0)).into_response()
    }
}

/// 503 from `/v2/health/ready`: this replica should get no predictions now, and why.
#[derive(Debug)]
pub struct Unready(pub String);

impl IntoResponse for Unready {
    fn into_response(self) -> Response {
        let body = crate::oip::Readiness { ready: false, reason: Some(self.0) };
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

// ---------------------------------------------------------------------------------------
// The request as HTTP

/// A request no route answers, or one that took too long.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("no route for {path}")]
    NoRoute { path: String, routes: Vec<String> },
    #[error("{path} does not answer {method}")]
    MethodNotAllowed { method: String, path: String, routes: Vec<String> },
    #[error("the request took longer than {} ms", .0.as_millis())]
    TimedOut(Duration),
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        let message = e.to_string();
        match e {
            RequestError::NoRoute { routes, .. } => {
                ApiError::new(StatusCode::NOT_FOUND, Code::NotFound, message).with_details(json!({ "routes": routes }))
            }
            RequestError::MethodNotAllowed { routes, .. } => {
                ApiError::new(StatusCode::METHOD_NOT_ALLOWED, Code::MethodNotAllowed, message)
                    .with_details(json!({ "routes": routes }))
            }
            RequestError::TimedOut(_) => ApiError::new(StatusCode::REQUEST_TIMEOUT, Code::RequestTimeout, message)
                .with_hint(
                    "send the body at once; raise `server.request_timeout_ms` in the system file for slow models",
                ),
        }
    }
}

/// axum's body rejections: too large, or unreadable. (axum's rejections are
/// `#[non_exhaustive]`: a rejection it adds later keeps axum's own status.)
impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        match &r {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::BodyTooLarge,
                "the request body is larger than this server accepts",
            )
            .with_hint("send fewer instances per request, or raise `server.max_body_bytes` in the system file"),
            BytesRejection::FailedToBufferBody(FailedToBufferBody::UnknownBodyError(_)) => {
                ApiError::new(StatusCode::BAD_REQUEST, Code::UnreadableBody, r.body_text())
            }
            _ => ApiError::new(r.status(), Code::UnreadableBody, r.body_text()),
        }
    }
}

/// axum's query rejection: the query string is not of the route's parameters.
impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::BadQuery, r.body_text()).with_details(
            json!({"expected": "?component=&since=&until=&limit=&cursor= (times as unix ms or RFC 3339)"}),
        )
    }
}

// ---------------------------------------------------------------------------------------
// Request bodies

/// Which body a route expected, for the details of a body of the wrong shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Prediction,
    Feedback,
    Outcome,
    /// OIP v2's inference request.
    InferRequest,
    /// `PUT /v1/models/{name}/aliases/{alias}`.
    AliasMove,
    /// `PUT /v1/components/{name}/traffic`.
    TrafficPlan,
    /// `POST /v1/components/{name}/rollout/{command}`.
    RolloutCommand,
}

impl Expected {
    fn details(self) -> Value {
        match self {
            Expected::Prediction => json!({
                "expected": {"unit": "string (optional)", "features": "object", "context": "object (optional)",
                             "time_ms": "unix milliseconds (optional)"},
                "or": {"instances": "array of the above"}
            }),
            Expected::Feedback => json!({"expected": {
                "prediction_id": "string", "kind": "correct | incorrect | label", "label": "string (classifiers)",
                "value": "number (regressors)", "unit": "string", "comment": "string",
                "source": "user | expert | system", "key": "string", "time_ms": "unix milliseconds (default: now)"
            }}),
            Expected::Outcome => json!({"expected": {
                "name": "snake_case name, e.g. left_page", "unit": "string", "prediction_id": "string",
                "value": "number", "time_ms": "unix milliseconds (default: now)"
            }}),
            Expected::TrafficPlan => json!({"expected": {
                "experiment": "string", "salt": "string (optional)",
                "split": "array of {variant, alias | version, weight} (optional)",
                "holdout": "{share} (optional)", "shadow": "{alias | version, max_in_flight} (optional)",
                "canary": "{alias | version, steps, step} (optional)",
                "analysis": "{window, primary, guardrails, min_predictions, max_error_rate, deadline, promote} (optional: the controller judges the plan)"
            }, "or": "null, to remove the plan"}),
            Expected::RolloutCommand => json!({"expected": {"by": "string (optional)", "reason": "string (optional)"}}),
            Expected::AliasMove => json!({"expected": {
                "version": "a registered version id", "reason": "string (optional)", "by": "string (optional)"
            }}),
            Expected::InferRequest => json!({"expected": {
                "id": "string (optional)", "inputs": "array of {name, shape, datatype, data or parameters.binary_data_size}",
                "outputs": "array of {name, parameters} (optional)", "parameters": "object (optional)"
            }}),
        }
    }
}

/// A request body that is not JSON, or not of the shape its route reads.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Not JSON; `what` and its place in the whole body.
    #[error("the request body is not valid JSON: {what}{}", Place(*.line, *.column))]
    Malformed { what: String, line: usize, column: usize },
    /// The body could not be read as it was parsed.
    #[error("the request body could not be read: {0}")]
    Unreadable(String),
    /// JSON, not of the expected shape; `what` and its place in the whole body.
    #[error("{}{}", shape_message(*.expected, .what), Place(*.line, *.column))]
    Shape { what: String, line: usize, column: usize, expected: Expected },
    /// A batch with per-instance fields beside `instances`, where they would be ignored.
    #[error("a batch takes `{}` inside each instance, not beside `instances`", .0.join("`, `"))]
    BesideInstances(Vec<&'static str>),
    #[error("send either `features` (one instance) or `instances` (a batch), not both")]
    FeaturesAndInstances,
    #[error("the request has no `features`")]
    NoFeatures,
    #[error("a batch holds 1 to {max} instances, this one {len}")]
    BatchSize { len: usize, max: usize },
}

/// Where in a body a mistake is, as serde_json says it; nothing where it names no place.
struct Place(usize, usize);

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place(0, _) => Ok(()),
            Place(line, column) => write!(f, " at line {line} column {column}"),
        }
    }
}

fn shape_message(expected: Expected, what: &str) -> String {
    match expected {
        Expected::InferRequest => format!("not an inference request: {what}"),
        _ => format!("the request does not have the expected shape: {what}"),
    }
}

impl BodyError {
    /// serde_json's error reading a body as `expected`, placed where serde_json found it.
    pub fn json(e: &serde_json::Error, expected: Expected) -> BodyError {
        Self::placed(e, e.line(), e.column(), expected)
    }

    /// serde_json's error reading a piece of a body, placed at `line` and `column` of the
    /// whole body rather than of the piece.
    pub fn placed(e: &serde_json::Error, line: usize, column: usize, expected: Expected) -> BodyError {
        use serde_json::error::Category;
        // serde_json's message without the place it appends: the place is said once, here
        let text = e.to_string();
        let what = match e.line() {
            0 => text,
            n => text.strip_suffix(&format!(" at line {n} column {}", e.column())).map_or(text.clone(), str::to_string),
        };
        match e.classify() {
            Category::Syntax | Category::Eof => BodyError::Malformed { what, line, column },
            Category::Data => BodyError::Shape { what, line, column, expected },
            Category::Io => BodyError::Unreadable(what),
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        let message = e.to_string();
        let shape = |details: Value| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::BadRequestShape, message.clone())
                .with_details(details)
        };
        match e {
            BodyError::Malformed { .. } => ApiError::new(StatusCode::BAD_REQUEST, Code::MalformedJson, message),
            BodyError::Unreadable(_) => ApiError::new(StatusCode::BAD_REQUEST, Code::UnreadableBody, message),
            // the protocol's clients expect 400 for any request they got wrong
            BodyError::Shape { expected: Expected::InferRequest, .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, Code::BadRequestShape, message)
                    .with_details(Expected::InferRequest.details())
            }
            BodyError::Shape { expected, .. } => shape(expected.details()),
            BodyError::BesideInstances(_) | BodyError::NoFeatures => shape(Expected::Prediction.details()),
            BodyError::FeaturesAndInstances => shape(Value::Null),
            BodyError::BatchSize { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::BadBatch, message)
                .with_hint("split the batch, or raise `server.max_batch` in the system file"),
        }
    }
}

/// A unit id or an event time out of the bounds every route holds them to.
#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    #[error("`{field}` has {bytes} bytes; give a non-empty id of at most {max} bytes")]
    Unit { field: String, bytes: usize, max: usize },
    #[error("`time_ms` = {given} is not a plausible event time in unix milliseconds")]
    Time { given: u64, earliest: u64, latest: u64 },
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        let message = e.to_string();
        match e {
            FieldError::Unit { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::BadUnit, message),
            FieldError::Time { earliest, latest, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::BadTime, message).with_details(json!({
                    "earliest": earliest,
                    "latest": latest,
                    "hint": "send unix milliseconds between 2000-01-01 and five minutes from now (simulations and \
                             backfills run in the past), or leave `time_ms` out for now"
                }))
            }
        }
    }
}

/// A query parameter that cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueryError {
    #[error("`{what}` is `{given}`: give unix milliseconds or an RFC 3339 time such as 2026-11-26T10:00:00Z")]
    Time { what: String, given: String },
    /// `GET /v1/alerts?state=`: not a state.
    #[error("`state` is `{given}`: give `open`, `closed` or `all`")]
    AlertState { given: String },
    /// `GET /v1/alerts?limit=`: not a count.
    #[error("`limit` is `{given}`: give a whole number from 1 to {max}")]
    Limit { given: String, max: usize },
    /// The query string is not of the route's parameters (one it does not take, say).
    #[error("{problem}")]
    Unreadable { problem: String, expected: &'static str },
    /// `GET /v1/components/{name}/quality?window=`: not a window's length.
    #[error("`window` is `{given}`: give a window's length such as 1h, 1d or 7d (a whole number and s, m, h, d or w)")]
    WindowLength { given: String, expected: &'static str },
    /// `?windows=` (quality, goals, monitors): not a count of windows.
    #[error("`windows` is `{given}`: give how many windows back, a whole number from 1 to {max}")]
    WindowCount { given: String, max: usize },
    /// `?slice=`: not a field the component's quality can be sliced by.
    #[error("{message}")]
    Slice { message: String, fields: Vec<String> },
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let message = e.to_string();
        match e {
            QueryError::Time { .. } | QueryError::WindowCount { .. } | QueryError::Limit { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::BadQuery, message)
            }
            QueryError::Slice { fields, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::BadQuery, message)
                    .with_details(json!({ "fields": fields }))
            }
            QueryError::AlertState { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::BadQuery, message)
                .with_details(json!({ "expected": ["open", "closed", "all"] })),
            QueryError::Unreadable { expected, .. } | QueryError::WindowLength { expected, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::BadQuery, message)
                    .with_details(json!({ "expected": expected }))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// What a request names

/// A component, model version or prediction that is not there, or telemetry that is off.
#[derive(Debug, thiserror::Error)]
pub enum NotFound {
    #[error("no component is named `{name}`")]
    Component { name: String, known: Vec<String> },
    #[error("model `{model}` has no version `{version}`; the loaded versions are {}", quoted(.loaded))]
    Version { model: String, version: String, loaded: Vec<String> },
    #[error("no prediction has the id `{0}`")]
    Prediction(String),
    #[error("telemetry is off on this server, so nothing is recorded")]
    TelemetryOff,
}

impl NotFound {
    pub fn component(name: &str, known: &[&str]) -> NotFound {
        NotFound::Component { name: name.to_string(), known: known.iter().map(|k| k.to_string()).collect() }
    }
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

impl From<NotFound> for ApiError {
    fn from(e: NotFound) -> Self {
        let message = e.to_string();
        match e {
            NotFound::Component { known, .. } => ApiError::new(StatusCode::NOT_FOUND, Code::UnknownComponent, message)
                .with_details(json!({ "components": known })),
            NotFound::Version { loaded, .. } => ApiError::new(StatusCode::NOT_FOUND, Code::UnknownVersion, message)
                .with_details(json!({ "versions": loaded })),
            NotFound::Prediction(_) => ApiError::new(StatusCode::NOT_FOUND, Code::UnknownPrediction, message)
                .with_hint("use the `prediction_id` a predict call answered with"),
            NotFound::TelemetryOff => ApiError::new(StatusCode::NOT_FOUND, Code::TelemetryOff, message)
                .with_hint("set `[telemetry] enabled = true` in the system file, or serve without `--telemetry off`"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The decision path and the model

/// The decision path refused the request.
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Schema { component, errors } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Code::InvalidFeatures,
                format!("{} feature(s) do not fit the schema of component `{component}`", errors.len()),
            )
            .with_details(json!({ "fields": errors })),
            Refusal::Rejected { rule, message } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::RejectedByGuardrail, message)
                    .with_details(json!({ "rule": rule }))
            }
            Refusal::GuardrailFailed { rule, error } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Code::GuardrailFailed,
                format!(
                    "refused: guardrail `{rule}` could not be evaluated for this request ({error}), and it denies on error"
                ),
            )
            .with_details(json!({
                "rule": rule,
                "error": error,
                "hint": "send what the condition reads (e.g. the context key it names), or declare the rule's `on_error` \
                         (`deny`, `escalate`, `apply`, `ignore`) in the system file",
            })),
            Refusal::ModelUnavailable { component, error } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::ModelUnavailable,
                format!("the model of component `{component}` failed and it declares no fallback: {error}"),
            )
            .with_hint("declare `[components.fallback]` to answer with a safe default when the model fails"),
        }
    }
}

/// A raw model call (OIP v2) failed: with no decision path around it, no fallback either.
impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Input(m) => ApiError::new(StatusCode::BAD_REQUEST, Code::BadTensor, m),
            ModelError::Overloaded(_) | ModelError::Timeout(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, Code::ModelUnavailable, e.to_string())
            }
            ModelError::Run(_) | ModelError::Output(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, Code::ModelFailed, e.to_string())
            }
        }
    }
}

/// The name of the header that says how much of an OIP v2 body is JSON.
pub const BINARY_HEADER: &str = "inference-header-content-length";

/// An OIP v2 inference request whose tensors do not fit.
#[derive(Debug, thiserror::Error)]
pub enum TensorError {
    #[error("`{BINARY_HEADER}` must be a number of bytes, not {0:?}")]
    HeaderNotANumber(String),
    #[error("`{BINARY_HEADER}` says the JSON is {json_len} bytes, the body has {body_len}")]
    HeaderPastBody { json_len: usize, body_len: usize },
    #[error("input `{input}`: {problem}")]
    Input { input: String, problem: String },
    #[error("{0} bytes of binary data follow the JSON that no input's `binary_data_size` claims")]
    UnclaimedBinary(usize),
}

impl From<TensorError> for ApiError {
    fn from(e: TensorError) -> Self {
        let message = e.to_string();
        match e {
            TensorError::HeaderNotANumber(_) | TensorError::HeaderPastBody { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, Code::BadBinaryHeader, message)
            }
            TensorError::Input { .. } | TensorError::UnclaimedBinary(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, Code::BadTensor, message)
            }
        }
    }
}

/// A failure of the server itself.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Internal(pub String);

impl From<Internal> for ApiError {
    fn from(e: Internal) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, Code::Internal, e.0)
    }
}

// ---------------------------------------------------------------------------------------
// Telemetry

/// What waited on telemetry, which did not record or catch up in time.
#[derive(Debug)]
pub enum Waited {
    Prediction,
    Feedback {
        prediction_id: String,
        key: Option<String>,
    },
    Outcome {
        name: String,
    },
    /// Whether a prediction exists (its event may still be on its way to the store).
    Lookup {
        id: String,
    },
    Listing,
    /// The goals, which count every event answered before them.
    Goals,
    /// A component's quality, which counts every event answered before it.
    Quality,
    /// A component's shadow comparison, which counts every shadow prediction recorded before it.
    Shadow,
}

/// Telemetry did not record an event, or did not catch up, in time.
#[derive(Debug)]
pub struct TelemetryUnavailable {
    pub what: Waited,
    pub error: CommitError,
}

impl From<TelemetryUnavailable> for ApiError {
    fn from(TelemetryUnavailable { what, error }: TelemetryUnavailable) -> Self {
        // queued: the event is in the log and reaches the store when it can;
        // failing: the store's writes fail (a full disk, say), rather than being slow
        let (queued, failing) = match &error {
            CommitError::TimedOut(_) => (true, false),
            CommitError::StoreFailing { .. } => (true, true),
            CommitError::Record(record) => match record {
                RecordError::Overloaded { failing, .. } => (false, failing.is_some()),
                RecordError::Log(_) => (false, true),
                RecordError::Closed => (false, false),
                // rein's own fault: a retry would fail the same way
                RecordError::Encode(_) => {
                    return ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        Code::Internal,
                        format!("{}: {error}", waited(&what, false)),
                    );
                }
            },
        };
        let tail = if queued { "; what was queued stays queued and is written when the store recovers" } else { "" };
        let first = if failing {
            "the store cannot write: on a full disk, free space where the data directory is, or keep \
             fewer days (`[telemetry] retention_days`); then retry"
        } else {
            "retry later"
        };
        let hint = format!(
            "{first} (feedback with the same `key`, so it is recorded once); \
             see rein_telemetry_events_total and the server log"
        );
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::TelemetryUnavailable,
            format!("{}: {error}{tail}", waited(&what, queued)),
        )
        .with_details(json!({ "hint": hint }))
    }
}

fn waited(what: &Waited, queued: bool) -> String {
    match what {
        Waited::Prediction => "the prediction was made but could not be recorded, so it is not returned".into(),
        // in the log, so recorded; only whether its key was new is not known yet
        Waited::Feedback { prediction_id, key: Some(key) } if queued => format!(
            "the feedback on prediction `{prediction_id}` is in the event log, but the store did not take it in time \
             to tell whether its key `{key}` was new: retry with the same key"
        ),
        Waited::Feedback { prediction_id, .. } => {
            format!("the feedback on prediction `{prediction_id}` was not recorded")
        }
        Waited::Outcome { name } => format!("the outcome `{name}` was not recorded"),
        Waited::Lookup { id } => format!("cannot tell whether prediction `{id}` exists"),
        Waited::Listing => "cannot list every prediction".into(),
        Waited::Goals => "cannot measure the goals over every recorded event".into(),
        Waited::Quality => "cannot measure the component's quality over every recorded event".into(),
        Waited::Shadow => "cannot compare the component's shadow over every recorded prediction".into(),
    }
}

/// A read of the telemetry store failed.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidCursor(c) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Code::BadCursor,
                format!("`{c}` is not a cursor of this listing: pass the `next_cursor` of the previous page unchanged"),
            ),
            StoreError::Sqlite { .. }
            | StoreError::Io { .. }
            | StoreError::SchemaTooNew { .. }
            | StoreError::Corrupt { .. }
            | StoreError::Unavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::StoreUnavailable,
                format!("the telemetry store failed: {e}"),
            ),
        }
    }
}

/// Feedback that cannot be recorded as it is.
#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    #[error("`kind` is `{0}`, expected one of: correct, incorrect, label")]
    Kind(String),
    #[error("`source` is `{0}`, expected one of: user, expert, system")]
    Source(String),
    #[error("component `{0}` is a regressor: give the true `value`, not a `label`")]
    LabelForRegressor(String),
    #[error("component `{0}` is a classifier: give the true `label`, not a `value`")]
    ValueForClassifier(String),
    #[error("label `{label}` is not one of component `{component}`'s labels: {}", .labels.join(", "))]
    UnknownLabel { label: String, component: String, labels: Vec<String> },
    #[error(
        "the key `{key}` was already used for other feedback{}; this feedback was not recorded",
        .on.as_ref().map(|p| format!(" on prediction `{p}`")).unwrap_or_default()
    )]
    KeyReused { key: String, on: Option<String> },
}

impl From<FeedbackError> for ApiError {
    fn from(e: FeedbackError) -> Self {
        let message = e.to_string();
        match e {
            FeedbackError::Kind(_)
            | FeedbackError::Source(_)
            | FeedbackError::LabelForRegressor(_)
            | FeedbackError::ValueForClassifier(_)
            | FeedbackError::UnknownLabel { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::InvalidFeedback, message)
            }
            FeedbackError::KeyReused { .. } => ApiError::new(StatusCode::CONFLICT, Code::KeyReused, message)
                .with_hint("a retry must repeat the feedback exactly; give new feedback a new key"),
        }
    }
}

/// Feedback out of the bounds telemetry keeps.
impl From<FeedbackInvalid> for ApiError {
    fn from(e: FeedbackInvalid) -> Self {
        match e {
            FeedbackInvalid::CommentTooLong(_)
            | FeedbackInvalid::KeyTooLong(_)
            | FeedbackInvalid::KeyEmpty
            | FeedbackInvalid::LabelTooLong(_)
            | FeedbackInvalid::LabelMissing
            | FeedbackInvalid::ValueNotFinite
            | FeedbackInvalid::PredictionIdEmpty => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::InvalidFeedback, e.to_string())
            }
        }
    }
}

/// An outcome that cannot be recorded as it is.
#[derive(Debug, thiserror::Error)]
pub enum OutcomeError {
    #[error(
        "outcome name `{0}` is not valid: use 1 to 64 lower-case letters, digits and `_`, starting with a letter \
         (e.g. `left_page`)"
    )]
    Name(String),
    #[error("outcome `value` must be a finite number")]
    ValueNotFinite,
    /// Neither a prediction nor a unit: nothing it could ever be joined to.
    #[error(
        "outcome `{0}` names neither a `prediction_id` nor a `unit`: send the prediction it followed, who it \
         happened to, or both, so that it can be joined to predictions"
    )]
    Unjoinable(String),
}

impl From<OutcomeError> for ApiError {
    fn from(e: OutcomeError) -> Self {
        let message = e.to_string();
        match e {
            OutcomeError::Name(_) | OutcomeError::ValueNotFinite => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::InvalidOutcome, message)
            }
            OutcomeError::Unjoinable(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::InvalidOutcome, message).with_details(
                    json!({"expected": {"prediction_id": "the prediction it followed", "unit": "who it happened to"}}),
                )
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The model registry

impl From<crate::models::AuthError> for ApiError {
    fn from(e: crate::models::AuthError) -> Self {
        use crate::models::AuthError;
        let message = e.to_string();
        match e {
            AuthError::Missing => ApiError::new(StatusCode::UNAUTHORIZED, Code::Unauthorized, message)
                .with_hint("the token is the value of the environment variable `server.admin_token_env` names"),
            AuthError::Wrong => ApiError::new(StatusCode::FORBIDDEN, Code::Forbidden, message),
            AuthError::Disabled { env } => ApiError::new(StatusCode::FORBIDDEN, Code::AdminDisabled, message)
                .with_hint(&format!("start the server with the token in the environment variable `{env}`")),
        }
    }
}

/// A traffic plan refused: each problem named by its field, or the target that names no
/// loaded version with those that are.
impl From<crate::traffic::TrafficError> for ApiError {
    fn from(e: crate::traffic::TrafficError) -> Self {
        use crate::traffic::TrafficError;
        let message = e.to_string();
        let error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::InvalidTrafficPlan, message);
        match e {
            TrafficError::Invalid { problems, .. } => error.with_details(json!({ "problems": problems })),
            TrafficError::Unresolved { field, loaded, .. } => error.with_details(json!({
                "field": field,
                "loaded": loaded,
                "hint": "name an alias or version the component has loaded (`GET /v1/models/{name}`)",
            })),
        }
    }
}

impl From<crate::rollouts::RolloutError> for ApiError {
    fn from(e: crate::rollouts::RolloutError) -> Self {
        use crate::rollouts::RolloutError;
        let message = e.to_string();
        match e {
            RolloutError::None(_) => ApiError::new(StatusCode::NOT_FOUND, Code::NoRollout, message)
                .with_hint("a traffic plan with `analysis` starts one (`PUT /v1/components/{name}/traffic`)"),
            RolloutError::NotNow(_) => ApiError::new(StatusCode::CONFLICT, Code::RolloutConflict, message),
            RolloutError::UnknownCommand { .. } => ApiError::new(StatusCode::NOT_FOUND, Code::NotFound, message),
            RolloutError::Unsupported { .. } | RolloutError::NoCandidate(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::InvalidTrafficPlan, message)
            }
            RolloutError::Record(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, Code::RegistryUnavailable, message)
            }
        }
    }
}

impl From<rein_rollout::OperateError> for ApiError {
    fn from(e: rein_rollout::OperateError) -> Self {
        crate::rollouts::RolloutError::from(e).into()
    }
}

impl From<crate::models::ModelsError> for ApiError {
    fn from(e: crate::models::ModelsError) -> Self {
        use crate::models::ModelsError;
        let message = e.to_string();
        match e {
            ModelsError::Off => ApiError::new(StatusCode::NOT_FOUND, Code::RegistryOff, message)
                .with_hint("`rein serve` keeps the registry in its data directory"),
            ModelsError::Task(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, Code::RegistryUnavailable, message),
        }
    }
}

impl From<rein_registry::RegistryError> for ApiError {
    fn from(e: rein_registry::RegistryError) -> Self {
        use rein_registry::{CheckError, RegistryError};
        let message = e.to_string();
        match e {
            RegistryError::Io { .. } | RegistryError::Database { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, Code::RegistryUnavailable, message)
            }
            RegistryError::UnknownVersion { known, .. } => {
                ApiError::new(StatusCode::NOT_FOUND, Code::UnknownVersion, message)
                    .with_details(json!({ "versions": known }))
            }
            RegistryError::UnknownParent { known, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::BadVersion, message)
                    .with_details(json!({ "versions": known }))
            }
            RegistryError::BadId(_) | RegistryError::BadAlias(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::BadVersion, message)
            }
            RegistryError::IdTaken { .. } | RegistryError::AlreadyRegistered { .. } => {
                ApiError::new(StatusCode::CONFLICT, Code::VersionExists, message)
            }
            RegistryError::CorruptArtifact { .. } => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, Code::CorruptArtifact, message)
                    .with_hint("register the model again from its source; the corrupt file is never served")
            }
            RegistryError::BadProfile { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::BadProfile, message)
            }
            RegistryError::Refused(refusal) => {
                let problem = match &refusal {
                    CheckError::Load { source, .. } => match source {
                        rein_runtime::RuntimeError::Inputs(_) => "inputs",
                        rein_runtime::RuntimeError::Labels(_) => "labels",
                        rein_runtime::RuntimeError::Outputs(_) => "outputs",
                        rein_runtime::RuntimeError::Artifact { .. } => "artifact",
                        rein_runtime::RuntimeError::Library { .. } => "library",
                    },
                    CheckError::Smoke { .. } => "smoke",
                };
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Code::ModelRefused, message)
                    .with_details(json!({ "problem": problem, "hint": refusal.hint() }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The map, by status: what each typed error answers.
    #[test]
    fn each_error_answers_its_status_and_code() {
        let e = |error: ApiError| (error.status(), error.code());
        let json_error = serde_json::from_str::<Value>("{").unwrap_err();
        let shape_error = serde_json::from_str::<Vec<u8>>("{}").unwrap_err();
        let commit = |error| TelemetryUnavailable { what: Waited::Prediction, error };
        let cases: Vec<((u16, Code), (u16, Code))> = vec![
            (e(BodyError::json(&json_error, Expected::Prediction).into()), (400, Code::MalformedJson)),
            (e(BodyError::json(&shape_error, Expected::InferRequest).into()), (400, Code::BadRequestShape)),
            (e(TensorError::HeaderPastBody { json_len: 2, body_len: 1 }.into()), (400, Code::BadBinaryHeader)),
            (e(TensorError::UnclaimedBinary(1).into()), (400, Code::BadTensor)),
            (e(ModelError::Input("x".into()).into()), (400, Code::BadTensor)),
            (e(RequestError::NoRoute { path: "/x".into(), routes: vec![] }.into()), (404, Code::NotFound)),
            (e(NotFound::component("x", &["y"]).into()), (404, Code::UnknownComponent)),
            (e(NotFound::Prediction("x".into()).into()), (404, Code::UnknownPrediction)),
            (e(NotFound::TelemetryOff.into()), (404, Code::TelemetryOff)),
            (e(RequestError::TimedOut(Duration::from_millis(5)).into()), (408, Code::RequestTimeout)),
            (e(FeedbackError::KeyReused { key: "k".into(), on: None }.into()), (409, Code::KeyReused)),
            (e(BodyError::json(&shape_error, Expected::Feedback).into()), (422, Code::BadRequestShape)),
            (e(BodyError::NoFeatures.into()), (422, Code::BadRequestShape)),
            (e(BodyError::BatchSize { len: 0, max: 4 }.into()), (422, Code::BadBatch)),
            (e(QueryError::Time { what: "since".into(), given: "x".into() }.into()), (422, Code::BadQuery)),
            (e(QueryError::WindowCount { given: "x".into(), max: 3 }.into()), (422, Code::BadQuery)),
            (e(QueryError::AlertState { given: "x".into() }.into()), (422, Code::BadQuery)),
            (e(QueryError::Limit { given: "x".into(), max: 3 }.into()), (422, Code::BadQuery)),
            (e(QueryError::Unreadable { problem: "x".into(), expected: "?a=" }.into()), (422, Code::BadQuery)),
            (e(StoreError::InvalidCursor("x".into()).into()), (422, Code::BadCursor)),
            (e(FeedbackInvalid::KeyEmpty.into()), (422, Code::InvalidFeedback)),
            (e(OutcomeError::ValueNotFinite.into()), (422, Code::InvalidOutcome)),
            (e(OutcomeError::Unjoinable("left_page".into()).into()), (422, Code::InvalidOutcome)),
            (e(Refusal::Rejected { rule: "r".into(), message: "m".into() }.into()), (422, Code::RejectedByGuardrail)),
            (e(ModelError::Run("x".into()).into()), (500, Code::ModelFailed)),
            (e(commit(CommitError::Record(RecordError::Encode("x".into()))).into()), (500, Code::Internal)),
            (e(ModelError::Timeout(5).into()), (503, Code::ModelUnavailable)),
            (e(commit(CommitError::TimedOut(Duration::from_millis(5))).into()), (503, Code::TelemetryUnavailable)),
            (e(StoreError::Unavailable("x".into()).into()), (503, Code::StoreUnavailable)),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            assert_eq!(got, want, "case {i}");
        }
    }

    /// A body's mistake says where it is once, in serde_json's words.
    #[test]
    fn a_json_error_gives_its_place_once() {
        let malformed = serde_json::from_str::<Value>("{\"unit\": 1,\n \"x\" 2}").unwrap_err();
        let message = ApiError::from(BodyError::json(&malformed, Expected::Prediction)).message().to_string();
        assert_eq!(message, "the request body is not valid JSON: expected `:` at line 2 column 6");
        let shape = serde_json::from_str::<Vec<u8>>("{}").unwrap_err();
        let message = ApiError::from(BodyError::json(&shape, Expected::Feedback)).message().to_string();
        assert_eq!(
            message,
            "the request does not have the expected shape: invalid type: map, expected a sequence at line 1 column 0"
        );
        // a piece placed in the whole body
        let message = ApiError::from(BodyError::placed(&malformed, 4, 20, Expected::Prediction)).message().to_string();
        assert_eq!(message, "the request body is not valid JSON: expected `:` at line 4 column 20");
        let unplaced = serde_json::from_value::<Vec<u8>>(json!({})).unwrap_err();
        let message = ApiError::from(BodyError::json(&unplaced, Expected::Outcome)).message().to_string();
        assert!(!message.contains("line"), "{message}");
    }

    #[test]
    fn the_protocol_chooses_the_shape() {
        let error = ApiError::from(NotFound::Prediction("p".into()));
        let body = serde_json::to_value(error.body()).unwrap();
        assert_eq!(body["error"]["code"], "unknown_prediction");
        assert_eq!(body["error"]["message"], "no prediction has the id `p`");
        assert!(body["error"]["details"]["hint"].is_string(), "{body}");
        assert_eq!(Protocol::of_path("/v2/models/x/infer"), Protocol::Oip);
        assert_eq!(Protocol::of_path("/v2"), Protocol::Oip);
        assert_eq!(Protocol::of_path("/v1/predictions"), Protocol::Rein);
        assert_eq!(Protocol::of_path("/v2x"), Protocol::Rein);
    }
}
