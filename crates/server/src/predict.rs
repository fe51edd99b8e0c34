//! `POST /v1/components/{name}/predict`: the request path, top to bottom.
//!
//! parse → schema + input guardrails → model (bounded, with a deadline) →
//! output guardrails + experience → telemetry → response.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rein_decision::{ModelError, ModelOutput, Outcome, Prepared, Refusal};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::app::{App, ComponentRuntime};
use crate::error::ApiError;
use crate::metrics as m;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Instance {
    #[serde(default)]
    unit: Option<String>,
    features: Map<String, Value>,
    #[serde(default)]
    context: Value,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PredictBody {
    Batch { instances: Vec<Value> },
    One(Value),
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
    let body = match body {
        Ok(b) => b,
        Err(r) => return ApiError::from(r).into_response(),
    };
    let parsed: PredictBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return ApiError::malformed_json(&e).into_response(),
    };
    match parsed {
        PredictBody::One(value) => {
            let result = match parse_instance(value) {
                Ok(instance) => predict_many(&app, component, vec![instance], started).await.pop(),
                Err(e) => Some(Err(e)),
            };
            match result {
                Some(Ok(body)) => (StatusCode::OK, Json(body)).into_response(),
                Some(Err(e)) => {
                    record_request(component, "none", e.status, started);
                    e.into_response()
                }
                None => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no result").into_response(),
            }
        }
        PredictBody::Batch { instances } => {
            if instances.is_empty() || instances.len() > app.system.server.max_batch {
                return ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad_batch",
                    format!(
                        "a batch holds 1 to {} instances, this one {}",
                        app.system.server.max_batch,
                        instances.len()
                    ),
                )
                .with_details(json!({"hint": "split the batch, or raise `server.max_batch` in the system file"}))
                .into_response();
            }
            let mut parsed = Vec::with_capacity(instances.len());
            let mut slots: Vec<Option<ApiError>> = Vec::with_capacity(instances.len());
            for v in instances {
                match parse_instance(v) {
                    Ok(i) => {
                        parsed.push(i);
                        slots.push(None);
                    }
                    Err(e) => slots.push(Some(e)),
                }
            }
            let mut results = predict_many(&app, component, parsed, started).await.into_iter();
            let predictions: Vec<Value> = slots
                .into_iter()
                .map(|slot| match slot {
                    Some(e) => e.body(),
                    None => match results.next() {
                        Some(Ok(v)) => v,
                        Some(Err(e)) => {
                            record_request(component, "none", e.status, started);
                            e.body()
                        }
                        None => json!({"error": {"code": "internal", "message": "no result"}}),
                    },
                })
                .collect();
            (StatusCode::OK, Json(json!({ "predictions": predictions }))).into_response()
        }
    }
}

fn parse_instance(value: Value) -> Result<Instance, ApiError> {
    serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_request_shape",
            format!("the request does not have the expected shape: {e}"),
        )
        .with_details(
            json!({"expected": {"unit": "string (optional)", "features": "object", "context": "object (optional)"}}),
        )
    })
}

/// Runs the decision path for instances of one component; one result per instance, in order.
async fn predict_many(
    app: &App,
    component: &Arc<ComponentRuntime>,
    instances: Vec<Instance>,
    started: Instant,
) -> Vec<Result<Value, ApiError>> {
    let unknown = app.system.server.unknown_features;
    // 1. schema and input guardrails
    let prepared: Vec<Result<Prepared, Refusal>> =
        instances.iter().map(|i| component.path.prepare(&i.features, &i.context, unknown)).collect();

    // 2. the model, once for every instance that needs it
    let rows: Vec<&[rein_system::FeatureValue]> = prepared
        .iter()
        .filter_map(|p| p.as_ref().ok().filter(|p| p.needs_model()).map(|p| p.values.as_slice()))
        .collect();
    let model_started = Instant::now();
    let mut outputs: std::vec::IntoIter<Result<ModelOutput, ModelError>> = if rows.is_empty() {
        Vec::new().into_iter()
    } else {
        let owned: Vec<Vec<rein_system::FeatureValue>> = rows.iter().map(|r| r.to_vec()).collect();
        let n = owned.len();
        match component.infer(owned).await {
            Ok(outs) => outs.into_iter().map(Ok).collect::<Vec<_>>().into_iter(),
            Err(e) => {
                metrics::counter!(m::MODEL_ERRORS, "component" => component.name.clone(), "kind" => error_kind(&e))
                    .increment(1);
                vec![Err(e); n].into_iter()
            }
        }
    };
    if !rows.is_empty() {
        metrics::histogram!(m::MODEL_DURATION, "component" => component.name.clone()).record(model_started.elapsed());
    }

    // 3. output guardrails and experience
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let mut results = Vec::with_capacity(instances.len());
    for (instance, prepared) in instances.iter().zip(prepared) {
        let result = prepared.and_then(|p| {
            let model = if p.needs_model() { outputs.next() } else { None };
            component.path.finish(p, model, instance.unit.as_deref(), now_ms)
        });
        results.push(match result {
            Ok(outcome) => Ok(respond(component, instance, outcome, started)),
            Err(refusal) => Err(refused(component, refusal)),
        });
    }
    results
}

fn respond(component: &ComponentRuntime, instance: &Instance, outcome: Outcome, started: Instant) -> Value {
    let id = uuid::Uuid::now_v7();
    for action in &outcome.guardrails {
        metrics::counter!(m::GUARDRAIL_ACTIONS, "component" => component.name.clone(), "rule" => action.rule.clone(), "action" => action.action).increment(1);
    }
    if outcome.fallback.is_some() {
        metrics::counter!(m::FALLBACKS, "component" => component.name.clone()).increment(1);
    }
    let mode = outcome.decision.mode.as_str();
    record_request(component, mode, StatusCode::OK, started);
    let info = component.model_info();
    json!({
        "prediction_id": id.to_string(),
        "component": component.name,
        "unit": instance.unit,
        "model": { "name": info.name, "version": info.version },
        "raw": outcome.raw,
        "output": outcome.output,
        "guardrails": outcome.guardrails,
        "decision": outcome.decision,
        "fallback": outcome.fallback,
        "server_time_us": started.elapsed().as_micros() as u64,
    })
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
            metrics::counter!(m::GUARDRAIL_ACTIONS, "component" => component.name.clone(), "rule" => rule.clone(), "action" => "reject").increment(1);
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "rejected_by_guardrail", message)
                .with_details(json!({ "rule": rule }))
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

fn record_request(component: &ComponentRuntime, mode: &'static str, status: StatusCode, started: Instant) {
    let status = status.as_str().to_string();
    let version = component.model_info().version.clone();
    metrics::counter!(m::REQUESTS, "component" => component.name.clone(), "model_version" => version.clone(), "mode" => mode, "status" => status.clone()).increment(1);
    metrics::histogram!(m::REQUEST_DURATION, "component" => component.name.clone(), "model_version" => version, "mode" => mode, "status" => status).record(started.elapsed());
}
