//! What the world says back, and reading it: `POST /v1/feedback`, `POST /v1/outcomes`,
//! `GET /v1/predictions/{id}` (joined with its feedback and outcomes), `GET /v1/predictions`.
//! (`GET /v1/goals`, which reads the same store, is in `goals.rs`.)

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use rein_system::Task;
use rein_telemetry::{
    FeedbackEvent, FeedbackKind, FeedbackSource, OutcomeEvent, PredictionEvent, ScanQuery, Store, StoreError,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::error::{
    Accepted, ApiError, BodyError, ErrorBody, Expected, FeedbackError, NotFound, OutcomeError, QueryError,
    TelemetryUnavailable, Waited,
};
use crate::fields;
use crate::openapi::{FeedbackKindName, FeedbackSourceName};
use crate::record::Prediction;
use crate::telemetry::Telemetry;

pub(crate) fn telemetry(app: &App) -> Result<&Telemetry, NotFound> {
    app.telemetry.as_ref().ok_or(NotFound::TelemetryOff)
}

/// Runs a store read on the blocking pool.
pub(crate) async fn read<T: Send + 'static>(
    t: &Telemetry,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = t.store.clone();
    match tokio::task::spawn_blocking(move || f(&*store)).await {
        Ok(result) => result,
        Err(e) => Err(StoreError::Unavailable(format!("the read did not finish: {e}"))),
    }
}

/// What a lookup must see of the events answered so far.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Seen {
    /// The prediction itself (to validate feedback or an outcome about it).
    Prediction,
    /// The prediction with every feedback and outcome answered before the lookup.
    Everything,
}

/// The prediction with this id, with its feedback and outcomes. For `Seen::Everything`,
/// events answered and still in the event log are loaded into the store first. A prediction
/// not found may still be on its way (just answered): the store catches up once before the
/// answer says it does not exist.
pub(crate) async fn find_prediction(
    t: &Telemetry,
    id: &str,
    seen: Seen,
) -> Result<rein_telemetry::PredictionRecord, ApiError> {
    let unavailable = |error| TelemetryUnavailable { what: Waited::Lookup { id: id.to_string() }, error };
    let flush = || async { t.flush().await.map_err(unavailable) };
    if seen == Seen::Everything && t.writer.backlog() > 0 {
        flush().await?;
    }
    for attempt in 0..2 {
        let key = id.to_string();
        if let Some(record) = read(t, move |s| s.prediction(&key)).await? {
            return Ok(record);
        }
        if attempt == 0 && t.writer.backlog() > 0 {
            flush().await?;
        }
    }
    Err(NotFound::Prediction(id.to_string()).into())
}

fn parse_body<T: for<'de> Deserialize<'de>>(
    body: Result<Bytes, BytesRejection>,
    expected: Expected,
) -> Result<T, ApiError> {
    let body = body?;
    Ok(serde_json::from_slice(&body).map_err(|e| BodyError::json(&e, expected))?)
}

/// What the world says about a prediction: right, wrong, or the truth.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    as = FeedbackRequest,
    example = json!({"prediction_id": "01936b2e-4c5d-7e8f-9a0b-1c2d3e4f5a6b", "kind": "incorrect", "label": "legit",
                     "unit": "user-1", "comment": "this is my bank", "source": "user", "key": "report-1"})
)]
pub struct FeedbackBody {
    /// The `prediction_id` a predict call answered with.
    prediction_id: String,
    #[schema(value_type = FeedbackKindName)]
    kind: String,
    /// The true label (classifiers): one of the component's labels.
    #[serde(default)]
    label: Option<String>,
    /// The true value (regressors).
    #[serde(default)]
    value: Option<f64>,
    /// Who reported it. At most 256 bytes.
    #[serde(default)]
    unit: Option<String>,
    /// Free text, at most 2000 characters.
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<FeedbackSourceName>)]
    source: Option<String>,
    /// Idempotency key: the same feedback posted twice with it is recorded once.
    #[serde(default)]
    key: Option<String>,
    /// Event time in unix milliseconds; default: now.
    #[serde(default)]
    time_ms: Option<u64>,
}

/// A feedback taken.
#[derive(Serialize, ToSchema)]
pub struct FeedbackAccepted {
    accepted: bool,
    /// True when this is a retry of feedback already recorded under its `key`.
    duplicate: bool,
    /// The feedback's id (for a duplicate, the recorded feedback's).
    id: String,
    prediction_id: String,
}

/// Records what the world says about a prediction.
#[utoipa::path(
    post,
    path = "/v1/feedback",
    tag = "feedback",
    request_body = FeedbackBody,
    responses(
        (status = 202, description = "Recorded (or a duplicate of feedback recorded under its `key`)", body = FeedbackAccepted),
        (status = 400, description = "The body is not JSON (`malformed_json`, `unreadable_body`)", body = ErrorBody),
        (status = 404, description = "No prediction has this id (`unknown_prediction`), or telemetry is off (`telemetry_off`)", body = ErrorBody),
        (status = 408, description = "The request took longer than `server.request_timeout_ms` (`request_timeout`)", body = ErrorBody),
        (status = 409, description = "The `key` already names other feedback (`key_reused`)", body = ErrorBody),
        (status = 413, description = "The body is larger than `server.max_body_bytes` (`body_too_large`)", body = ErrorBody),
        (status = 422, description = "The feedback is refused: `bad_request_shape`, `bad_unit`, `bad_time`, `invalid_feedback`", body = ErrorBody),
        (status = 500, description = "The server failed (`internal`)", body = ErrorBody),
        (status = 503, description = "Telemetry could not record it in time (`telemetry_unavailable`), or the store failed \
                                      (`store_unavailable`)", body = ErrorBody),
    )
)]
pub async fn feedback(
    State(app): State<Arc<App>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Accepted<FeedbackAccepted>, ApiError> {
    let t = telemetry(&app)?;
    let b: FeedbackBody = parse_body(body, Expected::Feedback)?;
    fields::check_unit("unit", b.unit.as_deref())?;
    let time_ms = fields::event_time(b.time_ms, fields::now_ms())?;
    let kind = FeedbackKind::parse(&b.kind).ok_or_else(|| FeedbackError::Kind(b.kind.clone()))?;
    let source = match &b.source {
        None => FeedbackSource::default(),
        Some(s) => FeedbackSource::parse(s).ok_or_else(|| FeedbackError::Source(s.clone()))?,
    };
    let mut event = FeedbackEvent {
        id: rein_telemetry::new_event_id(),
        prediction_id: b.prediction_id,
        time_ms: time_ms as i64,
        kind,
        label: b.label,
        value: b.value,
        unit: b.unit,
        comment: b.comment,
        source,
        idempotency_key: b.key,
    };
    event.validate()?;

    let record = find_prediction(t, &event.prediction_id, Seen::Prediction).await?;
    check_truth(&app, &record, &event)?;
    if let Some(truth) = implied_label(&app, &record.prediction, &event) {
        event.label = Some(truth);
    }
    t.record(event.clone().into()).await.map_err(|error| TelemetryUnavailable {
        what: Waited::Feedback { prediction_id: event.prediction_id.clone(), key: event.idempotency_key.clone() },
        error,
    })?;
    // A keyed feedback is answered once it is in the store, which kept the first feedback
    // under its key: a concurrent or earlier post with the same key cannot slip by.
    if let Some(key) = event.idempotency_key.clone() {
        let stored = read(t, move |s| s.feedback_by_key(&key)).await?;
        if stored.as_ref().is_none_or(|s| s.id != event.id) {
            return Ok(Accepted(key_taken(&event, stored)?));
        }
    }
    Ok(Accepted(FeedbackAccepted {
        accepted: true,
        duplicate: false,
        id: event.id,
        prediction_id: event.prediction_id,
    }))
}

/// A feedback whose key is taken: a retry of the stored feedback is answered as a duplicate
/// (it is recorded, once); different feedback under that key is a conflict, since it was not written.
fn key_taken(event: &FeedbackEvent, stored: Option<FeedbackEvent>) -> Result<FeedbackAccepted, FeedbackError> {
    let key = event.idempotency_key.clone().unwrap_or_default();
    match stored {
        Some(stored) if stored.same_report(event) => Ok(FeedbackAccepted {
            accepted: true,
            duplicate: true,
            id: stored.id,
            prediction_id: event.prediction_id.clone(),
        }),
        stored => Err(FeedbackError::KeyReused { key, on: stored.map(|s| s.prediction_id) }),
    }
}

/// A label must be one the component has; a value needs a regressor, a label a classifier.
fn check_truth(
    app: &App,
    record: &rein_telemetry::PredictionRecord,
    event: &FeedbackEvent,
) -> Result<(), FeedbackError> {
    let Some(component) = app.system.component(&record.prediction.component) else {
        return Ok(()); // a component no longer served: keep what the world says
    };
    match component.task {
        Task::Regression => {
            if event.label.is_some() {
                return Err(FeedbackError::LabelForRegressor(component.name.clone()));
            }
        }
        _ => {
            if event.value.is_some() {
                return Err(FeedbackError::ValueForClassifier(component.name.clone()));
            }
            if let Some(label) = &event.label
                && component.label_index(label).is_none()
            {
                return Err(FeedbackError::UnknownLabel {
                    label: label.clone(),
                    component: component.name.clone(),
                    labels: component.labels.clone(),
                });
            }
        }
    }
    Ok(())
}

/// The truth an `incorrect` without a label implies: on a binary component, the label the
/// prediction did not give (its output's, what the product acted on). On a multiclass one
/// nothing: the truth is any of the others.
fn implied_label(app: &App, prediction: &PredictionEvent, event: &FeedbackEvent) -> Option<String> {
    if event.kind != FeedbackKind::Incorrect || event.label.is_some() || event.value.is_some() {
        return None;
    }
    let component = app.system.component(&prediction.component).filter(|c| c.task == Task::Binary)?;
    #[derive(Deserialize)]
    struct Labeled {
        label: Option<String>,
    }
    let given = serde_json::from_str::<Labeled>(prediction.output.as_str()).ok()?.label?;
    component.label_index(&given)?;
    component.labels.iter().find(|l| **l != given).cloned()
}

/// Something that happened in the world, maybe caused by a prediction.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OutcomeRequest, example = json!({"name": "left_page", "unit": "user-1"}))]
pub struct OutcomeBody {
    /// 1 to 64 lower-case letters, digits and `_`, starting with a letter, e.g. `left_page`.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    name: String,
    /// Who or what it happened to. At most 256 bytes. An outcome names a unit, a
    /// prediction, or both: one with neither is refused, as it could never be joined.
    #[serde(default)]
    unit: Option<String>,
    /// The prediction it followed, if it is known.
    #[serde(default)]
    prediction_id: Option<String>,
    /// A finite number, e.g. a purchase's amount.
    #[serde(default)]
    value: Option<f64>,
    /// Event time in unix milliseconds; default: now.
    #[serde(default)]
    time_ms: Option<u64>,
}

/// An outcome taken.
#[derive(Serialize, ToSchema)]
pub struct OutcomeAccepted {
    accepted: bool,
    /// The outcome's id.
    id: String,
    name: String,
}

/// Records something that happened in the world.
#[utoipa::path(
    post,
    path = "/v1/outcomes",
    tag = "feedback",
    request_body = OutcomeBody,
    responses(
        (status = 202, description = "Recorded", body = OutcomeAccepted),
        (status = 400, description = "The body is not JSON (`malformed_json`, `unreadable_body`)", body = ErrorBody),
        (status = 404, description = "No prediction has the `prediction_id` (`unknown_prediction`), or telemetry is off \
                                      (`telemetry_off`)", body = ErrorBody),
        (status = 408, description = "The request took longer than `server.request_timeout_ms` (`request_timeout`)", body = ErrorBody),
        (status = 413, description = "The body is larger than `server.max_body_bytes` (`body_too_large`)", body = ErrorBody),
        (status = 422, description = "The outcome is refused: `bad_request_shape`, `bad_unit`, `bad_time`, `invalid_outcome`", body = ErrorBody),
        (status = 500, description = "The server failed (`internal`)", body = ErrorBody),
        (status = 503, description = "Telemetry could not record it in time (`telemetry_unavailable`), or the store failed \
                                      (`store_unavailable`)", body = ErrorBody),
    )
)]
pub async fn outcome(
    State(app): State<Arc<App>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Accepted<OutcomeAccepted>, ApiError> {
    let t = telemetry(&app)?;
    let b: OutcomeBody = parse_body(body, Expected::Outcome)?;
    fields::check_unit("unit", b.unit.as_deref())?;
    let time_ms = fields::event_time(b.time_ms, fields::now_ms())?;
    let valid_name = b.name.len() <= 64
        && b.name.starts_with(|c: char| c.is_ascii_lowercase())
        && b.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_name {
        return Err(OutcomeError::Name(b.name.chars().take(80).collect()).into());
    }
    if b.value.is_some_and(|v| !v.is_finite()) {
        return Err(OutcomeError::ValueNotFinite.into());
    }
    if b.prediction_id.is_none() && b.unit.is_none() {
        return Err(OutcomeError::Unjoinable(b.name).into());
    }
    if let Some(id) = &b.prediction_id {
        find_prediction(t, id, Seen::Prediction).await?;
    }
    let event = OutcomeEvent {
        id: rein_telemetry::new_event_id(),
        time_ms: time_ms as i64,
        unit: b.unit,
        prediction_id: b.prediction_id,
        name: b.name.clone(),
        value: b.value,
    };
    let id = event.id.clone();
    t.record(event.into())
        .await
        .map_err(|error| TelemetryUnavailable { what: Waited::Outcome { name: b.name.clone() }, error })?;
    Ok(Accepted(OutcomeAccepted { accepted: true, id, name: b.name }))
}

/// A recorded prediction, joined with its feedback and outcomes. Every event answered
/// before the lookup is seen.
#[utoipa::path(
    get,
    path = "/v1/predictions/{id}",
    tag = "predictions",
    params(("id" = String, Path, description = "The `prediction_id` a predict call answered with")),
    responses(
        (status = 200, description = "The prediction as recorded, with its feedback and outcomes", body = Prediction),
        (status = 404, description = "No prediction has this id (`unknown_prediction`), or telemetry is off (`telemetry_off`)", body = ErrorBody),
        (status = 408, description = "The request took longer than `server.request_timeout_ms` (`request_timeout`)", body = ErrorBody),
        (status = 503, description = "Telemetry could not catch up in time (`telemetry_unavailable`), or the store failed \
                                      (`store_unavailable`)", body = ErrorBody),
    )
)]
pub async fn prediction(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let t = telemetry(&app)?;
    let found = find_prediction(t, &id, Seen::Everything).await?;
    Ok(Json(Prediction::joined(&found.prediction, &found.feedback, &found.outcomes)).into_response())
}

/// Which predictions to list, a page at a time.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this component's predictions.
    component: Option<String>,
    /// From this time on (inclusive): unix milliseconds, or an RFC 3339 time.
    since: Option<String>,
    /// Before this time (exclusive): unix milliseconds, or an RFC 3339 time.
    until: Option<String>,
    /// At most this many a page (default 100, at most 10000).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page, unchanged.
    cursor: Option<String>,
}

/// A page of recorded predictions, oldest first.
#[derive(Serialize, ToSchema)]
pub struct PredictionPage<'a> {
    predictions: Vec<Prediction<'a>>,
    /// Present when more may follow: pass it as `cursor` for the next page.
    next_cursor: Option<&'a str>,
}

/// The recorded predictions, oldest first, a page at a time. Every prediction answered
/// before the listing is listed.
#[utoipa::path(
    get,
    path = "/v1/predictions",
    tag = "predictions",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of predictions", body = PredictionPage),
        (status = 404, description = "No component has this name (`unknown_component`), or telemetry is off (`telemetry_off`)", body = ErrorBody),
        (status = 408, description = "The request took longer than `server.request_timeout_ms` (`request_timeout`)", body = ErrorBody),
        (status = 422, description = "A parameter cannot be read (`bad_query`, `bad_cursor`)", body = ErrorBody),
        (status = 503, description = "Telemetry could not catch up in time (`telemetry_unavailable`), or the store failed \
                                      (`store_unavailable`)", body = ErrorBody),
    )
)]
pub async fn list(
    State(app): State<Arc<App>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let t = telemetry(&app)?;
    let Query(q) = query?;
    if let Some(c) = &q.component
        && app.component(c).is_none()
    {
        return Err(NotFound::component(c, &app.component_names()).into());
    }
    let scan = ScanQuery {
        component: q.component,
        since_ms: q.since.as_deref().map(|s| parse_time("since", s)).transpose()?,
        until_ms: q.until.as_deref().map(|s| parse_time("until", s)).transpose()?,
        limit: q.limit.unwrap_or(0),
        cursor: q.cursor,
        order: Default::default(),
    };
    if t.writer.backlog() > 0 {
        // every answered prediction is listed: the journaled and spilled ones are stored first
        t.flush().await.map_err(|error| TelemetryUnavailable { what: Waited::Listing, error })?;
    }
    let page = read(t, move |s| s.scan(&scan)).await?;
    Ok(Json(PredictionPage {
        predictions: page.items.iter().map(Prediction::recorded).collect(),
        next_cursor: page.next_cursor.as_deref(),
    })
    .into_response())
}

/// Unix milliseconds, or an RFC 3339 time.
pub fn parse_time(what: &str, s: &str) -> Result<i64, QueryError> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    humantime::parse_rfc3339_weak(s)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .ok_or_else(|| QueryError::Time { what: what.to_string(), given: s.to_string() })
}
