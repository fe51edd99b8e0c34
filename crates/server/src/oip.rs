//! Open Inference Protocol v2 (KServe, Triton, Seldon, MLServer): raw model access,
//! bypassing schema, guardrails and experience. For tooling that speaks the protocol.
//! Tensors come and go as JSON, or as binary data after the JSON (Triton's binary tensor
//! data extension, which tritonclient uses by default).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rein_runtime::{RawData, RawTensor, ServedModel, TensorDataError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::app::{App, ComponentRuntime};
use crate::error::{ApiError, BINARY_HEADER, BodyError, Expected, NotFound, OipError, TensorError, Unready};

pub async fn server_metadata() -> Json<Value> {
    Json(json!({ "name": "rein", "version": env!("CARGO_PKG_VERSION"), "extensions": ["binary_tensor_data"] }))
}

/// Whether the server is live.
#[derive(Serialize, ToSchema)]
pub struct Liveness {
    live: bool,
}

/// Whether this replica takes predictions, and if not, why.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// Why it is not ready (its telemetry cannot record, or lags too far behind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Liveness: answers while the process serves.
#[utoipa::path(
    get,
    path = "/v2/health/live",
    tag = "health",
    responses((status = 200, description = "The server is live", body = Liveness))
)]
pub async fn live() -> Json<Liveness> {
    Json(Liveness { live: true })
}

/// Models are loaded before the server listens, so a listening server is ready unless its
/// telemetry store fails (a full disk) or a write into it has lasted longer than a request
/// waits for one (a stalled disk): then it answers 503 and why, so that a load balancer
/// sends predictions to a replica that can record them.
#[utoipa::path(
    get,
    path = "/v2/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "The replica takes predictions", body = Readiness),
        (status = 503, description = "The replica should get no predictions now: `reason` says why", body = Readiness),
    )
)]
pub async fn ready(State(app): State<Arc<App>>) -> Result<Json<Readiness>, Unready> {
    match app.telemetry.as_ref().and_then(|t| t.unready()) {
        Some(reason) => Err(Unready(reason)),
        None => Ok(Json(Readiness { ready: !app.component_names().is_empty(), reason: None })),
    }
}

fn component<'a>(app: &'a App, name: &str) -> Result<&'a Arc<ComponentRuntime>, NotFound> {
    app.component(name).ok_or_else(|| NotFound::component(name, &app.component_names()))
}

/// The version `version` of component `name`'s model (the default one when `None`), or
/// 404 naming the versions loaded.
fn model(c: &ComponentRuntime, name: &str, version: Option<&str>) -> Result<Arc<dyn ServedModel>, NotFound> {
    let models = c.models();
    let Some(v) = version else { return Ok(models.default().clone()) };
    models.get(v).cloned().ok_or_else(|| NotFound::Version {
        model: name.to_string(),
        version: v.to_string(),
        loaded: models.versions().into_iter().map(str::to_string).collect(),
    })
}

pub async fn model_metadata(State(app): State<Arc<App>>, Path(name): Path<String>) -> Result<Json<Value>, OipError> {
    metadata(&app, &name, None)
}

pub async fn model_metadata_versioned(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, OipError> {
    metadata(&app, &name, Some(&version))
}

/// Every loaded version, and the inputs and outputs of the one asked for.
fn metadata(app: &App, name: &str, version: Option<&str>) -> Result<Json<Value>, OipError> {
    let c = component(app, name)?;
    let model = model(c, name, version)?;
    let specs = |s: &[rein_runtime::TensorSpec]| -> Vec<Value> {
        s.iter().map(|t| json!({"name": t.name, "datatype": t.datatype, "shape": t.shape})).collect()
    };
    Ok(Json(json!({
        "name": c.name,
        "versions": c.models().versions(),
        "platform": model.platform(),
        "inputs": specs(model.inputs()),
        "outputs": specs(model.outputs()),
    })))
}

pub async fn model_ready(State(app): State<Arc<App>>, Path(name): Path<String>) -> Result<Json<Value>, OipError> {
    ready_answer(&app, &name, None)
}

pub async fn model_ready_versioned(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, OipError> {
    ready_answer(&app, &name, Some(&version))
}

/// Loaded models are ready: only an unknown component or version is not.
fn ready_answer(app: &App, name: &str, version: Option<&str>) -> Result<Json<Value>, OipError> {
    let c = component(app, name)?;
    model(c, name, version)?;
    Ok(Json(json!({ "name": c.name, "ready": true })))
}

/// The header that says how much of a body is JSON; binary tensor data follows it.
const HEADER_LENGTH: &str = BINARY_HEADER;

#[derive(Deserialize)]
struct InferRequest {
    #[serde(default)]
    id: Option<String>,
    inputs: Vec<InferInput>,
    #[serde(default)]
    outputs: Option<Vec<RequestedOutput>>,
    #[serde(default)]
    parameters: Parameters,
}

#[derive(Deserialize)]
struct InferInput {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    parameters: Parameters,
}

#[derive(Deserialize)]
struct RequestedOutput {
    name: String,
    #[serde(default)]
    parameters: Parameters,
}

/// The parameters rein reads; others are accepted and ignored, as the protocol asks.
#[derive(Deserialize, Default)]
struct Parameters {
    /// On an input: its data is this many bytes of the binary part.
    #[serde(default)]
    binary_data_size: Option<usize>,
    /// On a requested output: answer its data as binary.
    #[serde(default)]
    binary_data: Option<bool>,
    /// On the request: answer every output as binary (unless an output says otherwise).
    #[serde(default)]
    binary_data_output: Option<bool>,
}

pub async fn infer(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OipError> {
    infer_version(&app, &name, None, &headers, body).await
}

pub async fn infer_versioned(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OipError> {
    infer_version(&app, &name, Some(&version), &headers, body).await
}

async fn infer_version(
    app: &App,
    name: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OipError> {
    let Answer { json, binary } = run_infer(app, name, version, headers, body).await?;
    if binary.is_empty() {
        return Ok(Json(json).into_response());
    }
    let mut body = json.to_string().into_bytes();
    let json_len = body.len();
    body.extend_from_slice(&binary);
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(HEADER_LENGTH, HeaderValue::from(json_len));
    Ok(response)
}

/// An inference answer: its JSON, and the binary data of the outputs asked for as binary.
struct Answer {
    json: Value,
    binary: Vec<u8>,
}

/// Splits a body into its JSON and its binary part, as the header says.
fn split_body<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<(&'a [u8], &'a [u8]), TensorError> {
    let Some(value) = headers.get(HEADER_LENGTH) else { return Ok((body, &[])) };
    let json_len = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .ok_or_else(|| TensorError::HeaderNotANumber(String::from_utf8_lossy(value.as_bytes()).into_owned()))?;
    if json_len > body.len() {
        return Err(TensorError::HeaderPastBody { json_len, body_len: body.len() });
    }
    Ok(body.split_at(json_len))
}

async fn run_infer(
    app: &App,
    name: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Answer, ApiError> {
    let c = component(app, name)?;
    let model = model(c, name, version)?;
    let body = body?;
    let (json_part, mut binary) = split_body(headers, &body)?;
    let request: InferRequest =
        serde_json::from_slice(json_part).map_err(|e| BodyError::json(&e, Expected::InferRequest))?;
    let mut tensors = Vec::with_capacity(request.inputs.len());
    for input in request.inputs {
        let bad = |problem: String| TensorError::Input { input: input.name.clone(), problem };
        let data = match (&input.data, input.parameters.binary_data_size) {
            (Some(data), None) => tensor_data(&input.datatype, data).map_err(bad)?,
            (None, Some(size)) => {
                if size > binary.len() {
                    return Err(bad(format!(
                        "`binary_data_size` is {size} bytes, {} bytes of binary data are left",
                        binary.len()
                    ))
                    .into());
                }
                let (mine, rest) = binary.split_at(size);
                binary = rest;
                let count = input.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?));
                let count = count.ok_or_else(|| bad(format!("shape {:?} is not a tensor's shape", input.shape)))?;
                RawData::from_le_bytes(&input.datatype, count, mine).map_err(|e| bad(e.to_string()))?
            }
            (Some(_), Some(_)) => {
                return Err(bad("has both `data` and `binary_data_size`: send its data one way".into()).into());
            }
            (None, None) => return Err(bad("has no `data` and no `binary_data_size` parameter".into()).into()),
        };
        tensors.push(RawTensor { name: input.name, datatype: input.datatype, shape: input.shape, data });
    }
    if !binary.is_empty() {
        return Err(TensorError::UnclaimedBinary(binary.len()).into());
    }
    // rows: the largest leading dimension, so that big tensors never run inline
    let rows = tensors.iter().filter_map(|t| t.shape.first()).map(|&d| usize::try_from(d).unwrap_or(1)).max();
    let outputs = c.bounded(&model, rows.unwrap_or(1), move |model| model.infer_raw(tensors)).await?;
    let all_binary = request.parameters.binary_data_output.unwrap_or(false);
    // each output asked for, and whether as binary; none asked for: every output
    let binary_wanted = |t: &RawTensor| -> Option<bool> {
        match &request.outputs {
            None => Some(all_binary),
            Some(asked) => {
                asked.iter().find(|o| o.name == t.name).map(|o| o.parameters.binary_data.unwrap_or(all_binary))
            }
        }
    };
    let mut binary = Vec::new();
    let mut answered = Vec::new();
    for t in outputs {
        let Some(as_binary) = binary_wanted(&t) else { continue };
        let mut output = json!({ "name": t.name, "datatype": t.datatype, "shape": t.shape });
        if as_binary {
            let bytes = t.data.to_le_bytes();
            output["parameters"] = json!({ "binary_data_size": bytes.len() });
            binary.extend_from_slice(&bytes);
        } else {
            output["data"] = data_json(&t.data);
        }
        answered.push(output);
    }
    let json =
        json!({ "model_name": name, "model_version": model.info().version, "id": request.id, "outputs": answered });
    Ok(Answer { json, binary })
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
        other => return Err(TensorDataError::Unsupported(other.to_string()).to_string()),
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
