//! What the world says back, and reading it: `POST /v1/feedback`, `POST /v1/outcomes`,
//! `GET /v1/predictions/{id}` (joined with its feedback and outcomes), `GET /v1/predictions`.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use rein_system::Task;
use rein_telemetry::{
    FeedbackEvent, FeedbackKind, FeedbackSource, OutcomeEvent, PredictionRecord, ScanQuery, Store, StoreError,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::error::{
    Accepted, ApiError, BodyError, Expected, FeedbackError, NotFound, OutcomeError, QueryError, TelemetryUnavailable,
    Waited,
};
use crate::fields;
use crate::telemetry::Telemetry;

fn telemetry(app: &App) -> Result<&Telemetry, NotFound> {
    app.telemetry.as_ref().ok_or(NotFound::TelemetryOff)
}

/// Runs a store read on the blocking pool.
async fn read<T: Send + 'static>(
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

pub async fn feedback(
    State(app): State<Arc<App>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Accepted<Value>, ApiError> {
    let t = telemetry(&app)?;
    let b: FeedbackBody = parse_body(body, Expected::Feedback)?;
    fields::check_unit("unit", b.unit.as_deref())?;
    let time_ms = fields::event_time(b.time_ms, fields::now_ms())?;
    let kind = FeedbackKind::parse(&b.kind).ok_or_else(|| FeedbackError::Kind(b.kind.clone()))?;
    let source = match &b.source {
        None => FeedbackSource::default(),
        Some(s) => FeedbackSource::parse(s).ok_or_else(|| FeedbackError::Source(s.clone()))?,
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
    event.validate()?;

    let record = find_prediction(t, &event.prediction_id, Seen::Prediction).await?;
    check_truth(&app, &record, &event)?;
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
    Ok(Accepted(json!({"accepted": true, "duplicate": false, "id": event.id, "prediction_id": event.prediction_id})))
}

/// A feedback whose key is taken: a retry of the stored feedback is answered as a duplicate
/// (it is recorded, once); different feedback under that key is a conflict, since it was not written.
fn key_taken(event: &FeedbackEvent, stored: Option<FeedbackEvent>) -> Result<Value, FeedbackError> {
    let key = event.idempotency_key.clone().unwrap_or_default();
    match stored {
        Some(stored) if stored.same_report(event) => {
            Ok(json!({"accepted": true, "duplicate": true, "id": stored.id, "prediction_id": event.prediction_id}))
        }
        stored => Err(FeedbackError::KeyReused { key, on: stored.map(|s| s.prediction_id) }),
    }
}

/// A label must be one the component has; a value needs a regressor, a label a classifier.
fn check_truth(app: &App, record: &PredictionRecord, event: &FeedbackEvent) -> Result<(), FeedbackError> {
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

pub async fn outcome(
    State(app): State<Arc<App>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Accepted<Value>, ApiError> {
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
    Ok(Accepted(json!({"accepted": true, "id": id, "name": b.name})))
}

pub async fn prediction(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let t = telemetry(&app)?;
    let record = find_prediction(t, &id, Seen::Everything).await?;
    Ok(Json(json!({
        "prediction": record.prediction,
        "feedback": record.feedback,
        "outcomes": record.outcomes,
    })))
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

pub async fn list(
    State(app): State<Arc<App>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({ "predictions": page.items, "next_cursor": page.next_cursor })))
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
