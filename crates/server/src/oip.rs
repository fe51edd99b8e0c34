//! Open Inference Protocol v2 (KServe, Triton, Seldon, MLServer): raw model access,
//! bypassing schema, guardrails and experience. For tooling that speaks the protocol.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rein_decision::ModelError;

use rein_runtime::{RawData, RawTensor};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{App, ComponentRuntime};
use crate::error::ApiError;

pub async fn server_metadata() -> Json<Value> {
    Json(json!({ "name": "rein", "version": env!("CARGO_PKG_VERSION"), "extensions": [] }))
}

pub async fn live() -> Json<Value> {
    Json(json!({ "live": true }))
}

pub async fn ready(State(app): State<Arc<App>>) -> Json<Value> {
    // Models are loaded before the server listens, so a listening server is ready.
    Json(json!({ "ready": !app.component_names().is_empty() }))
}

fn component<'a>(app: &'a App, name: &str) -> Result<&'a Arc<ComponentRuntime>, ApiError> {
    app.component(name).ok_or_else(|| ApiError::unknown_component(name, &app.component_names()))
}

pub async fn model_metadata(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    match component(&app, &name) {
        Err(e) => e.into_response(),
        Ok(c) => {
            let specs = |s: &[rein_runtime::TensorSpec]| -> Vec<Value> {
                s.iter().map(|t| json!({"name": t.name, "datatype": t.datatype, "shape": t.shape})).collect()
            };
            Json(json!({
                "name": c.name,
                "versions": [c.model_info().version],
                "platform": "onnxruntime_onnx",
                "inputs": specs(c.model.inputs()),
                "outputs": specs(c.model.outputs()),
            }))
            .into_response()
        }
    }
}

pub async fn model_ready(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    match component(&app, &name) {
        Err(e) => e.into_response(),
        Ok(c) => Json(json!({ "name": c.name, "ready": true })).into_response(),
    }
}

#[derive(Deserialize)]
struct InferRequest {
    #[serde(default)]
    id: Option<String>,
    inputs: Vec<InferInput>,
    #[serde(default)]
    outputs: Option<Vec<RequestedOutput>>,
}

#[derive(Deserialize)]
struct InferInput {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    data: Value,
}

#[derive(Deserialize)]
struct RequestedOutput {
    name: String,
}

pub async fn infer(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    infer_version(State(app), Path((name, None)), body).await
}

pub async fn infer_versioned(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    infer_version(State(app), Path((name, Some(version))), body).await
}

async fn infer_version(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, Option<String>)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match run_infer(&app, &name, version.as_deref(), body).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn run_infer(
    app: &App,
    name: &str,
    version: Option<&str>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, ApiError> {
    let c = component(app, name)?;
    let info = c.model_info().clone();
    if let Some(v) = version
        && v != info.version
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_version",
            format!("model `{name}` has no version `{v}`"),
        )
        .with_details(json!({ "versions": [info.version] })));
    }
    let body = body?;
    let request: InferRequest = serde_json::from_slice(&body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::malformed_json(&e)
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_request_shape", format!("not an inference request: {e}"))
        }
    })?;
    let mut tensors = Vec::with_capacity(request.inputs.len());
    for input in request.inputs {
        let data = tensor_data(&input.datatype, &input.data).map_err(|problem| {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_tensor", format!("input `{}`: {problem}", input.name))
        })?;
        tensors.push(RawTensor { name: input.name, datatype: input.datatype, shape: input.shape, data });
    }
    // rows: the largest leading dimension, so that big tensors never run inline
    let rows = tensors.iter().filter_map(|t| t.shape.first()).map(|&d| usize::try_from(d).unwrap_or(1)).max();
    let outputs = c.bounded(rows.unwrap_or(1), move |model| model.infer_raw(tensors)).await.map_err(|e| match e {
        ModelError::Input(m) => ApiError::new(StatusCode::BAD_REQUEST, "bad_tensor", m),
        ModelError::Overloaded(_) | ModelError::Timeout(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "model_unavailable", e.to_string())
        }
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "model_failed", other.to_string()),
    })?;
    let wanted: Option<Vec<String>> = request.outputs.map(|o| o.into_iter().map(|o| o.name).collect());
    let outputs: Vec<Value> = outputs
        .into_iter()
        .filter(|t| wanted.as_ref().is_none_or(|w| w.contains(&t.name)))
        .map(|t| json!({ "name": t.name, "datatype": t.datatype, "shape": t.shape, "data": data_json(&t.data) }))
        .collect();
    Ok(json!({ "model_name": name, "model_version": info.version, "id": request.id, "outputs": outputs }))
}

/// OIP data may be flat or nested row-major; both are flattened here.
fn tensor_data(datatype: &str, data: &Value) -> Result<RawData, String> {
    let mut flat = Vec::new();
    flatten(data, &mut flat);
    let bad = |v: &Value| format!("{v} is not a {datatype} value");
    Ok(match datatype {
        "FP32" => RawData::Fp32(
            flat.iter().map(|v| v.as_f64().map(|x| x as f32).ok_or_else(|| bad(v))).collect::<Result<_, _>>()?,
        ),
        "FP64" => RawData::Fp64(flat.iter().map(|v| v.as_f64().ok_or_else(|| bad(v))).collect::<Result<_, _>>()?),
        "INT64" => RawData::Int64(flat.iter().map(|v| v.as_i64().ok_or_else(|| bad(v))).collect::<Result<_, _>>()?),
        "INT32" => RawData::Int32(
            flat.iter()
                .map(|v| v.as_i64().and_then(|x| i32::try_from(x).ok()).ok_or_else(|| bad(v)))
                .collect::<Result<_, _>>()?,
        ),
        "BOOL" => RawData::Bool(flat.iter().map(|v| v.as_bool().ok_or_else(|| bad(v))).collect::<Result<_, _>>()?),
        "BYTES" => RawData::Bytes(
            flat.iter().map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad(v))).collect::<Result<_, _>>()?,
        ),
        other => {
            return Err(format!("datatype `{other}` is not supported; use FP32, FP64, INT64, INT32, BOOL or BYTES"));
        }
    })
}

fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other),
    }
}

fn data_json(data: &RawData) -> Value {
    match data {
        RawData::Fp32(v) => json!(v),
        RawData::Fp64(v) => json!(v),
        RawData::Int64(v) => json!(v),
        RawData::Int32(v) => json!(v),
        RawData::Bool(v) => json!(v),
        RawData::Bytes(v) => json!(v),
    }
}
