//! `POST /v1/components/{name}/predict`: the request path, top to bottom.
//!
//! parse → schema + input guardrails → model (bounded, with a deadline) →
//! output guardrails + experience → telemetry → response.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rein_decision::privacy::TelemetryFeatures;
use rein_decision::schema::GivenFeatures;
use rein_decision::{ModelError, ModelOutput, Outcome, Prepared, Refusal};
use rein_telemetry::JsonText;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::app::{App, ComponentRuntime};
use crate::error::ApiError;
use crate::fields;
use crate::telemetry::SerializedOutcome;

/// A request body: one instance, or a batch under `instances`. The features and the
/// instances are kept as their JSON text, checked for syntax, and read for the component
/// afterwards: features straight into the schema's positions, with no map built.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    #[serde(default, borrow)]
    instances: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default, borrow)]
    features: Option<&'a RawValue>,
    #[serde(default)]
    context: Value,
    /// Event time in unix milliseconds, for simulations and backfills; default: now.
    #[serde(default)]
    time_ms: Option<u64>,
}

/// One instance of a batch, as sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an instance (an object with `features`)")]
struct Sent<'a> {
    #[serde(default)]
    unit: Option<String>,
    #[serde(borrow)]
    features: &'a RawValue,
    #[serde(default)]
    context: Value,
    #[serde(default)]
    time_ms: Option<u64>,
}

/// One instance, its features read for the component.
struct Instance {
    unit: Option<String>,
    features: GivenFeatures,
    context: Value,
    time_ms: Option<u64>,
}

/// What the client gets for one instance.
#[derive(Serialize)]
struct Prediction<'a> {
    prediction_id: String,
    component: &'a str,
    unit: Option<&'a str>,
    model: ModelRef<'a>,
    // as the telemetry event holds them: serialized once, the output once when it is the raw one
    raw: &'a JsonText,
    output: &'a JsonText,
    guardrails: &'a JsonText,
    decision: &'a JsonText,
    fallback: &'a Option<String>,
    server_time_us: u64,
}

#[derive(Serialize)]
struct ModelRef<'a> {
    name: &'a str,
    version: &'a str,
}

pub async fn predict(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let Some(component) = app.component(&name) else {
        return ApiError::unknown_component(&name, &app.component_names()).into_response();
    };
    let response = match parse(&app, component, body) {
        Err(e) => Err(e),
        Ok(Parsed::One(instance)) => {
            let decided = decide(&app, component, vec![instance]).await;
            match record(&app, component, decided, started).await.pop() {
                Some(Ok(d)) => {
                    let body = serde_json::to_vec(&prediction(component, &d, started));
                    body.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
                }
                Some(Err(e)) => Err(e),
                None => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no result")),
            }
        }
        Ok(Parsed::Batch(slots)) => {
            let (parsed, errors): (Vec<_>, Vec<_>) = slots.into_iter().enumerate().partition(|(_, s)| s.is_ok());
            // each answer as its JSON text, so that a part serialized for telemetry goes out as it is
            let mut answers: Vec<JsonText> = vec![JsonText::null(); parsed.len() + errors.len()];
            for (i, e) in errors {
                if let Err(e) = e {
                    component.metrics.request("none", e.status.as_u16(), started.elapsed());
                    answers[i] = JsonText::of(&e.body());
                }
            }
            let positions: Vec<usize> = parsed.iter().map(|(i, _)| *i).collect();
            let instances: Vec<Instance> = parsed.into_iter().filter_map(|(_, s)| s.ok()).collect();
            let decided = decide(&app, component, instances).await;
            for (i, result) in positions.into_iter().zip(record(&app, component, decided, started).await) {
                answers[i] = match result {
                    Ok(d) => JsonText::of(&prediction(component, &d, started)),
                    Err(e) => {
                        component.metrics.request("none", e.status.as_u16(), started.elapsed());
                        JsonText::of(&e.body())
                    }
                };
            }
            #[derive(Serialize)]
            struct Batch {
                predictions: Vec<JsonText>,
            }
            serde_json::to_vec(&Batch { predictions: answers })
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
        }
    };
    match response {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => {
            component.metrics.request("none", e.status.as_u16(), started.elapsed());
            e.into_response()
        }
    }
}

enum Parsed {
    One(Instance),
    Batch(Vec<Result<Instance, ApiError>>),
}

fn parse(app: &App, component: &ComponentRuntime, body: Result<Bytes, BytesRejection>) -> Result<Parsed, ApiError> {
    let body = body?;
    let now_ms = fields::now_ms();
    let parsed: Body = serde_json::from_slice(&body)
        .map_err(|e| if e.is_syntax() || e.is_eof() { ApiError::malformed_json(&e) } else { shape_error(&e) })?;
    let schema = component.path.component();
    // the features of one instance, read for the component; a mistake located in the whole body
    let read = |sent: Sent<'_>| -> Result<Instance, ApiError> {
        let features = GivenFeatures::read(schema, &mut serde_json::Deserializer::from_str(sent.features.get()))
            .map_err(|e| part_error(&body, sent.features, &e))?;
        checked(Instance { unit: sent.unit, features, context: sent.context, time_ms: sent.time_ms }, now_ms)
    };
    match (parsed.instances, parsed.features) {
        (Some(instances), None) => {
            let stray: Vec<&str> = [
                ("unit", parsed.unit.is_some()),
                ("context", !parsed.context.is_null()),
                ("time_ms", parsed.time_ms.is_some()),
            ]
            .into_iter()
            .filter_map(|(name, given)| given.then_some(name))
            .collect();
            if !stray.is_empty() {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad_request_shape",
                    format!("a batch takes `{}` inside each instance, not beside `instances`", stray.join("`, `")),
                )
                .with_details(expected_shape()));
            }
            let max = app.system.server.max_batch;
            if instances.is_empty() || instances.len() > max {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad_batch",
                    format!("a batch holds 1 to {max} instances, this one {}", instances.len()),
                )
                .with_details(json!({"hint": "split the batch, or raise `server.max_batch` in the system file"})));
            }
            Ok(Parsed::Batch(
                instances
                    .into_iter()
                    .map(|raw| {
                        serde_json::from_str::<Sent>(raw.get()).map_err(|e| part_error(&body, raw, &e)).and_then(read)
                    })
                    .collect(),
            ))
        }
        (None, Some(features)) => Ok(Parsed::One(read(Sent {
            unit: parsed.unit,
            features,
            context: parsed.context,
            time_ms: parsed.time_ms,
        })?)),
        (Some(_), Some(_)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_request_shape",
            "send either `features` (one instance) or `instances` (a batch), not both",
        )),
        (None, None) => {
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_request_shape", "the request has no `features`")
                .with_details(expected_shape()))
        }
    }
}

/// An error met reading `part`, a piece of `body` whose syntax the first pass checked
/// (a number out of range is found only now), placed in the whole body rather than in the piece.
fn part_error(body: &[u8], part: &RawValue, e: &serde_json::Error) -> ApiError {
    let text = e.to_string();
    let what = text.rsplit_once(" at line ").map_or(text.as_str(), |(what, _)| what);
    let start = (part.get().as_ptr() as usize).saturating_sub(body.as_ptr() as usize).min(body.len());
    let before = &body[..start];
    let (line, column) = (
        before.iter().filter(|&&b| b == b'\n').count() + 1,
        start - before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1),
    );
    let (line, column) = match e.line() {
        1 => (line, column + e.column()),
        n => (line + n - 1, e.column()),
    };
    if e.is_syntax() || e.is_eof() {
        ApiError::malformed_json_at(format!("{what} at line {line} column {column}"), line, column)
    } else {
        shape_error(&format!("{what} at line {line} column {column}"))
    }
}

/// The unit and event time of an instance, checked the same way on every route.
fn checked(mut instance: Instance, now_ms: u64) -> Result<Instance, ApiError> {
    fields::check_unit("unit", instance.unit.as_deref())?;
    instance.time_ms = Some(fields::event_time(instance.time_ms, now_ms)?);
    Ok(instance)
}

fn shape_error(e: &impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_request_shape",
        format!("the request does not have the expected shape: {e}"),
    )
    .with_details(expected_shape())
}

fn expected_shape() -> Value {
    json!({"expected": {"unit": "string (optional)", "features": "object", "context": "object (optional)", "time_ms": "unix milliseconds (optional)"},
           "or": {"instances": "array of the above"}})
}

/// One decided instance, with its id and what telemetry may see of its features.
struct Decided {
    id: String,
    instance: Instance,
    outcome: Outcome,
    seen_features: Option<JsonText>,
    /// The outcome's parts as JSON, shared by the answer and the telemetry event.
    serialized: SerializedOutcome,
    time_ms: u64,
}

/// Runs the decision path for instances of one component; one result per instance, in order.
async fn decide(
    app: &App,
    component: &Arc<ComponentRuntime>,
    instances: Vec<Instance>,
) -> Vec<Result<Decided, ApiError>> {
    let unknown = app.system.server.unknown_features;
    // 1. schema and input guardrails
    let prepared: Vec<Result<Prepared, Refusal>> =
        instances.iter().map(|i| component.path.prepare(&i.features, &i.context, unknown)).collect();

    // 2. the model, once for every instance that needs it
    let rows: Vec<Vec<rein_system::FeatureValue>> =
        prepared.iter().filter_map(|p| p.as_ref().ok().filter(|p| p.needs_model()).map(|p| p.values.clone())).collect();
    let n = rows.len();
    let mut outputs: std::vec::IntoIter<Result<ModelOutput, ModelError>> = if n == 0 {
        Vec::new().into_iter()
    } else {
        match component.infer(rows).await {
            Ok(outs) => outs.into_iter().map(Ok).collect::<Vec<_>>().into_iter(),
            Err(e) => {
                component.metrics.model_error(error_kind(&e));
                vec![Err(e); n].into_iter()
            }
        }
    };

    // 3. output guardrails and experience
    let mut results = Vec::with_capacity(instances.len());
    for (instance, prepared) in instances.into_iter().zip(prepared) {
        let time_ms = instance.time_ms.unwrap_or_else(fields::now_ms);
        let mut seen_features = None;
        let result = prepared.and_then(|p| {
            if let Some(t) = &app.telemetry {
                let component = component.path.component();
                let seen = TelemetryFeatures { component, values: &p.values, hasher: &t.hasher };
                seen_features = Some(JsonText::of(&seen));
            }
            let model = if p.needs_model() { outputs.next() } else { None };
            component.path.finish(p, model, &instance.context, instance.unit.as_deref(), time_ms)
        });
        results.push(match result {
            Ok(outcome) => {
                for action in &outcome.guardrails {
                    match (&action.error, action.on_error) {
                        (Some(error), Some(on_error)) => {
                            component.metrics.guardrail_failed(&action.rule, error, on_error)
                        }
                        _ => component.metrics.guardrail(&action.rule, action.action),
                    }
                }
                if outcome.fallback.is_some() {
                    component.metrics.fallbacks.increment(1);
                }
                Ok(Decided {
                    id: uuid::Uuid::now_v7().to_string(),
                    instance,
                    serialized: SerializedOutcome::of(&outcome),
                    outcome,
                    seen_features,
                    time_ms,
                })
            }
            Err(refusal) => Err(refused(component, refusal)),
        });
    }
    results
}

/// Records the prediction events; with durable telemetry, returns once they are committed.
/// A decision whose event cannot be kept is not answered as a success: nothing is lost silently.
async fn record(
    app: &App,
    component: &ComponentRuntime,
    decided: Vec<Result<Decided, ApiError>>,
    started: Instant,
) -> Vec<Result<Decided, ApiError>> {
    let recorded = match &app.telemetry {
        None => decided,
        Some(telemetry) => record_events(app, telemetry, component, decided, started).await,
    };
    // Counted once the answer is certain: a decision whose event could not be kept is a 503.
    for d in recorded.iter().flatten() {
        component.metrics.request(d.outcome.decision.mode.as_str(), 200, started.elapsed());
    }
    recorded
}

async fn record_events(
    app: &App,
    telemetry: &crate::telemetry::Telemetry,
    component: &ComponentRuntime,
    decided: Vec<Result<Decided, ApiError>>,
    started: Instant,
) -> Vec<Result<Decided, ApiError>> {
    let info = component.model_info();
    let pending = decided.into_iter().map(|d| async move {
        let mut d = d?;
        let event = crate::telemetry::prediction_event(
            &d.id,
            d.time_ms as i64,
            &app.system.name,
            &component.name,
            d.instance.unit.as_deref(),
            info,
            d.seen_features.take().unwrap_or_else(|| JsonText::of(&Map::new())),
            &d.outcome,
            &d.serialized,
            started.elapsed().as_micros() as u64,
        );
        // Until recorded, the decision may never reach the user (a 503, or the request
        // dropped by its timeout or the client): then it must not spend their frequency cap.
        let unrecorded = Unrecorded { component, decided: Some(d) };
        match telemetry.record(event.into()).await {
            Ok(()) => Ok(unrecorded.keep()),
            Err(e) => Err(ApiError::telemetry_unavailable(
                "the prediction was made but could not be recorded, so it is not returned",
                &e,
            )),
        }
    });
    futures_util::future::join_all(pending).await
}

/// A decision whose event is not yet recorded; dropped without [`keep`](Self::keep),
/// it withdraws the frequency-cap show the decision counted.
struct Unrecorded<'a> {
    component: &'a ComponentRuntime,
    decided: Option<Decided>,
}

impl Unrecorded<'_> {
    fn keep(mut self) -> Decided {
        self.decided.take().expect("taken only here")
    }
}

impl Drop for Unrecorded<'_> {
    fn drop(&mut self) {
        if let Some(d) = self.decided.take() {
            self.component.path.withdraw(d.instance.unit.as_deref(), &d.outcome);
        }
    }
}

fn prediction<'a>(component: &'a ComponentRuntime, d: &'a Decided, started: Instant) -> Prediction<'a> {
    let info = component.model_info();
    let (id, instance, outcome, parts) = (&d.id, &d.instance, &d.outcome, &d.serialized);
    Prediction {
        prediction_id: id.to_string(),
        component: &component.name,
        unit: instance.unit.as_deref(),
        model: ModelRef { name: &info.name, version: &info.version },
        raw: &parts.raw,
        output: &parts.output,
        guardrails: &parts.guardrails,
        decision: &parts.decision,
        fallback: &outcome.fallback,
        server_time_us: started.elapsed().as_micros() as u64,
    }
}

fn refused(component: &ComponentRuntime, refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Schema { component, errors } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_features",
            format!("{} feature(s) do not fit the schema of component `{component}`", errors.len()),
        )
        .with_details(json!({ "fields": errors })),
        Refusal::Rejected { rule, message } => {
            component.metrics.guardrail(&rule, "reject");
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "rejected_by_guardrail", message)
                .with_details(json!({ "rule": rule }))
        }
        Refusal::GuardrailFailed { rule, error } => {
            component.metrics.guardrail_failed(&rule, &error, "deny");
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "guardrail_failed",
                format!("refused: guardrail `{rule}` could not be evaluated for this request ({error}), and it denies on error"),
            )
            .with_details(json!({
                "rule": rule,
                "error": error,
                "hint": "send what the condition reads (e.g. the context key it names), or declare the rule's `on_error` \
                         (`deny`, `escalate`, `apply`, `ignore`) in the system file",
            }))
        }
        Refusal::ModelUnavailable { component, error } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "model_unavailable",
            format!("the model of component `{component}` failed and it declares no fallback: {error}"),
        )
        .with_details(
            json!({"hint": "declare `[components.fallback]` to answer with a safe default when the model fails"}),
        ),
    }
}

fn error_kind(e: &ModelError) -> &'static str {
    match e {
        ModelError::Input(_) => "input",
        ModelError::Run(_) => "run",
        ModelError::Output(_) => "output",
        ModelError::Timeout(_) => "timeout",
        ModelError::Overloaded(_) => "overloaded",
    }
}
