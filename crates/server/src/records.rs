//! What the world says back, and reading it: `POST /v1/feedback`, `POST /v1/outcomes`,
//! `GET /v1/predictions/{id}` (joined with its feedback and outcomes), `GET /v1/predictions`.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rein_system::Task;
use rein_telemetry::{FeedbackEvent, FeedbackKind, FeedbackSource, OutcomeEvent, PredictionRecord, ScanQuery, Store};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::error::ApiError;
use crate::fields;
use crate::telemetry::{CommitError, Telemetry};

fn telemetry(app: &App) -> Result<&Telemetry, ApiError> {
    app.telemetry.as_ref().ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "telemetry_off", "telemetry is off on this server, so nothing is recorded")
            .with_details(json!({"hint": "set `[telemetry] enabled = true` in the system file, or serve without `--telemetry off`"}))
    })
}

fn store_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", format!("the telemetry store failed: {e}"))
}

/// Runs a store read on the blocking pool.
async fn read<T: Send + 'static>(
    t: &Telemetry,
    f: impl FnOnce(&dyn Store) -> Result<T, rein_telemetry::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = t.store.clone();
    match tokio::task::spawn_blocking(move || f(&*store)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(rein_telemetry::StoreError::InvalidCursor(c))) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_cursor",
            format!("`{c}` is not a cursor of this listing: pass the `next_cursor` of the previous page unchanged"),
        )),
        Ok(Err(e)) => Err(store_error(e)),
        Err(e) => Err(store_error(e)),
    }
}

/// What a lookup must see of the events answered so far.
#[derive(Clone, Copy, PartialEq)]
enum Seen {
    /// The prediction itself (to validate feedback or an outcome about it).
    Prediction,
    /// The prediction with every feedback and outcome answered before the lookup.
    Everything,
}

/// The prediction with this id, with its feedback and outcomes. For `Seen::Everything`,
/// events answered and still in the event log are loaded into the store first. A prediction
/// not found may still be on its way (just answered): the store catches up once before the
/// answer says it does not exist.
async fn find_prediction(t: &Telemetry, id: &str, seen: Seen) -> Result<PredictionRecord, ApiError> {
    let unavailable = |e| ApiError::telemetry_unavailable(format!("cannot tell whether prediction `{id}` exists"), &e);
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
    Err(ApiError::new(StatusCode::NOT_FOUND, "unknown_prediction", format!("no prediction has the id `{id}`"))
        .with_details(json!({"hint": "use the `prediction_id` a predict call answered with"})))
}

fn parse_body<T: for<'de> Deserialize<'de>>(
    body: Result<Bytes, BytesRejection>,
    expected: Value,
) -> Result<T, ApiError> {
    let body = body?;
    serde_json::from_slice(&body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::malformed_json(&e)
        } else {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_request_shape",
                format!("the request does not have the expected shape: {e}"),
            )
            .with_details(json!({ "expected": expected }))
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    prediction_id: String,
    kind: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    source: Option<String>,
    /// Idempotency key: the same feedback posted twice with it is recorded once.
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    time_ms: Option<u64>,
}

pub async fn feedback(State(app): State<Arc<App>>, body: Result<Bytes, BytesRejection>) -> Response {
    match post_feedback(&app, body).await {
        Ok(v) => (StatusCode::ACCEPTED, Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn post_feedback(app: &App, body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let t = telemetry(app)?;
    let b: FeedbackBody = parse_body(
        body,
        json!({"prediction_id": "string", "kind": "correct | incorrect | label", "label": "string (classifiers)",
               "value": "number (regressors)", "unit": "string", "comment": "string", "source": "user | expert | system", "key": "string",
               "time_ms": "unix milliseconds (default: now)"}),
    )?;
    fields::check_unit("unit", b.unit.as_deref())?;
    let time_ms = fields::event_time(b.time_ms, fields::now_ms())?;
    let invalid = |message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_feedback", message);
    let kind = FeedbackKind::parse(&b.kind)
        .ok_or_else(|| invalid(format!("`kind` is `{}`, expected one of: correct, incorrect, label", b.kind)))?;
    let source = match &b.source {
        None => FeedbackSource::default(),
        Some(s) => FeedbackSource::parse(s)
            .ok_or_else(|| invalid(format!("`source` is `{s}`, expected one of: user, expert, system")))?,
    };
    let event = FeedbackEvent {
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
    event.validate().map_err(|e| invalid(e.to_string()))?;

    let record = find_prediction(t, &event.prediction_id, Seen::Prediction).await?;
    check_truth(app, &record, &event).map_err(invalid)?;
    t.record(event.clone().into()).await.map_err(|e| {
        let what = match (&event.idempotency_key, &e) {
            // in the log, so recorded; only whether its key was new is not known yet
            (Some(key), CommitError::TimedOut(_) | CommitError::StoreFailing { .. }) => format!(
                "the feedback on prediction `{}` is in the event log, but the store did not take it in time to \
                 tell whether its key `{key}` was new: retry with the same key",
                event.prediction_id
            ),
            _ => format!("the feedback on prediction `{}` was not recorded", event.prediction_id),
        };
        ApiError::telemetry_unavailable(what, &e)
    })?;
    // A keyed feedback is answered once it is in the store, which kept the first feedback
    // under its key: a concurrent or earlier post with the same key cannot slip by.
    if let Some(key) = event.idempotency_key.clone() {
        let stored = read(t, move |s| s.feedback_by_key(&key)).await?;
        if stored.as_ref().is_none_or(|s| s.id != event.id) {
            return key_taken(&event, stored);
        }
    }
    Ok(json!({"accepted": true, "duplicate": false, "id": event.id, "prediction_id": event.prediction_id}))
}

/// A feedback whose key is taken: a retry of the stored feedback is answered as a duplicate
/// (it is recorded, once); different feedback under that key is a conflict, since it was not written.
fn key_taken(event: &FeedbackEvent, stored: Option<FeedbackEvent>) -> Result<Value, ApiError> {
    let key = event.idempotency_key.as_deref().unwrap_or_default();
    match stored {
        Some(stored) if stored.same_report(event) => {
            Ok(json!({"accepted": true, "duplicate": true, "id": stored.id, "prediction_id": event.prediction_id}))
        }
        stored => Err(ApiError::new(
            StatusCode::CONFLICT,
            "key_reused",
            format!(
                "the key `{key}` was already used for other feedback{}; this feedback was not recorded",
                stored.map(|s| format!(" on prediction `{}`", s.prediction_id)).unwrap_or_default()
            ),
        )
        .with_details(json!({"hint": "a retry must repeat the feedback exactly; give new feedback a new key"}))),
    }
}

/// A label must be one the component has; a value needs a regressor, a label a classifier.
fn check_truth(app: &App, record: &PredictionRecord, event: &FeedbackEvent) -> Result<(), String> {
    let Some(component) = app.system.component(&record.prediction.component) else {
        return Ok(()); // a component no longer served: keep what the world says
    };
    match component.task {
        Task::Regression => {
            if event.label.is_some() {
                return Err(format!(
                    "component `{}` is a regressor: give the true `value`, not a `label`",
                    component.name
                ));
            }
        }
        _ => {
            if event.value.is_some() {
                return Err(format!(
                    "component `{}` is a classifier: give the true `label`, not a `value`",
                    component.name
                ));
            }
            if let Some(label) = &event.label
                && component.label_index(label).is_none()
            {
                return Err(format!(
                    "label `{label}` is not one of component `{}`'s labels: {}",
                    component.name,
                    component.labels.join(", ")
                ));
            }
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    name: String,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    prediction_id: Option<String>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    time_ms: Option<u64>,
}

pub async fn outcome(State(app): State<Arc<App>>, body: Result<Bytes, BytesRejection>) -> Response {
    match post_outcome(&app, body).await {
        Ok(v) => (StatusCode::ACCEPTED, Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn post_outcome(app: &App, body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let t = telemetry(app)?;
    let b: OutcomeBody = parse_body(
        body,
        json!({"name": "snake_case name, e.g. left_page", "unit": "string", "prediction_id": "string", "value": "number",
               "time_ms": "unix milliseconds (default: now)"}),
    )?;
    fields::check_unit("unit", b.unit.as_deref())?;
    let time_ms = fields::event_time(b.time_ms, fields::now_ms())?;
    let invalid = |message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_outcome", message);
    let valid_name = b.name.len() <= 64
        && b.name.starts_with(|c: char| c.is_ascii_lowercase())
        && b.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_name {
        return Err(invalid(format!(
            "outcome name `{}` is not valid: use 1 to 64 lower-case letters, digits and `_`, starting with a letter (e.g. `left_page`)",
            b.name.chars().take(80).collect::<String>()
        )));
    }
    if b.value.is_some_and(|v| !v.is_finite()) {
        return Err(invalid("outcome `value` must be a finite number".into()));
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
        .map_err(|e| ApiError::telemetry_unavailable(format!("the outcome `{}` was not recorded", b.name), &e))?;
    Ok(json!({"accepted": true, "id": id, "name": b.name}))
}

pub async fn prediction(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let result = async {
        let t = telemetry(&app)?;
        let record = find_prediction(t, &id, Seen::Everything).await?;
        Ok::<_, ApiError>(json!({
            "prediction": record.prediction,
            "feedback": record.feedback,
            "outcomes": record.outcomes,
        }))
    }
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    component: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

pub async fn list(State(app): State<Arc<App>>, query: Result<Query<ListQuery>, QueryRejection>) -> Response {
    let result = async {
        let t = telemetry(&app)?;
        let Query(q) = query.map_err(|e| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_query", e.body_text()).with_details(
                json!({"expected": "?component=&since=&until=&limit=&cursor= (times as unix ms or RFC 3339)"}),
            )
        })?;
        if let Some(c) = &q.component
            && app.component(c).is_none()
        {
            return Err(ApiError::unknown_component(c, &app.component_names()));
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
            t.flush().await.map_err(|e| ApiError::telemetry_unavailable("cannot list every prediction", &e))?;
        }
        let page = read(t, move |s| s.scan(&scan)).await?;
        Ok::<_, ApiError>(json!({ "predictions": page.items, "next_cursor": page.next_cursor }))
    }
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Unix milliseconds, or an RFC 3339 time.
pub fn parse_time(what: &str, s: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    humantime::parse_rfc3339_weak(s)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_query",
                format!("`{what}` is `{s}`: give unix milliseconds or an RFC 3339 time such as 2026-11-26T10:00:00Z"),
            )
        })
}
