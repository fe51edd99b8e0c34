//! `POST /v1/components/{name}/predict`: the request path, top to bottom.
//!
//! parse → schema + input guardrails → model (bounded, with a deadline) →
//! output guardrails + experience → telemetry → response.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rein_decision::privacy::TelemetryFeatures;
use rein_decision::schema::GivenFeatures;
use rein_decision::{ModelError, ModelOutput, Outcome, Prepared, Refusal};
use rein_runtime::ServedModel;
use rein_telemetry::JsonText;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::app::{App, ComponentRuntime};
use crate::error::{
    ApiError, BodyError, ErrorBody, Expected, FieldError, Internal, NotFound, TelemetryUnavailable, Waited,
};
use crate::fields;
use crate::openapi::{PredictAnswer, PredictionOrError};
use crate::record::{Parts, Prediction};
use crate::telemetry::SerializedOutcome;
use crate::traffic::{Route, ShadowCopy, Traffic};
use crate::versions::ModelVersions;

/// Why a holdout's instance calls no model (read only by the decision path, which then
/// answers with the fallback).
const HELD_OUT: &str = "held out of ML";

/// A request body: one instance, or a batch under `instances`. The features and the
/// instances are kept as their JSON text, checked for syntax, and read for the component
/// afterwards: features straight into the schema's positions, with no map built.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    as = PredictRequest,
    description = "One instance (`features`, with its `unit`, `context` and `time_ms`), or a batch of them \
                   under `instances`; not both.",
    example = json!({"unit": "user-1", "context": {"domain": "example.org"}, "features": {
        "url_length": 142, "num_dots": 6, "num_hyphens": 4, "has_ip_host": true, "uses_https": false,
        "domain_age_days": 3, "num_subdomains": 4, "suspicious_words": 3, "tld_category": "new_gtld"}})
)]
pub struct Body<'a> {
    /// A batch: each instance is answered on its own, in order.
    #[serde(default, borrow)]
    #[schema(value_type = Option<Vec<Sent>>)]
    instances: Option<Vec<&'a RawValue>>,
    /// Who or what the prediction is about (a user, an account): frequency caps count per
    /// unit. At most 256 bytes.
    #[serde(default)]
    unit: Option<String>,
    /// The component's features by name: numbers, whole numbers, `true`/`false` or strings,
    /// as its schema declares them.
    #[serde(default, borrow)]
    #[schema(value_type = Option<HashMap<String, Value>>)]
    features: Option<&'a RawValue>,
    /// What the guardrails may read beside the features (`context.<key>`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    context: Value,
    /// Event time in unix milliseconds, for simulations and backfills; default: now.
    #[serde(default)]
    time_ms: Option<u64>,
}

/// One instance of a batch, as sent.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, expecting = "an instance (an object with `features`)")]
#[schema(as = Instance, description = "One instance of a batch: as a single request's body, without `instances`.")]
pub struct Sent<'a> {
    #[serde(default)]
    unit: Option<String>,
    #[serde(borrow)]
    #[schema(value_type = HashMap<String, Value>)]
    features: &'a RawValue,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
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

/// A batch's answers, one per instance in order.
#[derive(Serialize, ToSchema)]
#[schema(as = PredictionBatch)]
pub struct Batch {
    /// Each instance's prediction, or the error that refused it.
    #[schema(value_type = Vec<PredictionOrError>)]
    predictions: Vec<JsonText>,
}

/// Runs one instance, or a batch, through the component's decision path and records each
/// prediction.
#[utoipa::path(
    post,
    path = "/v1/components/{name}/predict",
    tag = "predictions",
    params(("name" = String, Path, description = "The component's name in the system file")),
    request_body = Body,
    responses(
        (status = 200, description = "The prediction; for a batch, each instance's prediction or error", body = PredictAnswer),
        (status = 400, description = "The body is not JSON (`malformed_json`, `unreadable_body`)", body = ErrorBody),
        (status = 404, description = "No component has this name (`unknown_component`)", body = ErrorBody),
        (status = 408, description = "The request took longer than `server.request_timeout_ms` (`request_timeout`)", body = ErrorBody),
        (status = 413, description = "The body is larger than `server.max_body_bytes` (`body_too_large`)", body = ErrorBody),
        (status = 422, description = "The request is refused: `bad_request_shape`, `bad_batch`, `bad_unit`, `bad_time`, \
                                      `invalid_features`, `rejected_by_guardrail`, `guardrail_failed`", body = ErrorBody),
        (status = 500, description = "The server failed (`internal`)", body = ErrorBody),
        (status = 503, description = "The model failed with no fallback declared (`model_unavailable`), or the \
                                      prediction could not be recorded (`telemetry_unavailable`)", body = ErrorBody),
    )
)]
pub async fn predict(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<JsonBody, ApiError> {
    let started = Instant::now();
    let component = app.component(&name).ok_or_else(|| NotFound::component(&name, &app.component_names()))?;
    answer(&app, component, body, started).await.inspect_err(|e| {
        component.metrics.request(&component.model_info().version, "none", e.status(), started.elapsed())
    })
}

/// A body already serialized as JSON.
pub struct JsonBody(Vec<u8>);

impl IntoResponse for JsonBody {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

async fn answer(
    app: &Arc<App>,
    component: &Arc<ComponentRuntime>,
    body: Result<Bytes, BytesRejection>,
    started: Instant,
) -> Result<JsonBody, ApiError> {
    let serialized = |e: serde_json::Error| Internal(format!("the answer could not be serialized: {e}"));
    // the versions and the plan this request is answered by, taken once: a swap or a new
    // plan meanwhile does not change them
    let taken = Taken { versions: component.models(), traffic: component.traffic() };
    let info = taken.versions.default().info();
    match parse(app, component, body)? {
        Parsed::One(instance) => {
            let decided = decide(app, component, &taken, vec![instance]).await;
            let mut recorded = record(app, component, taken.traffic.as_deref(), decided, started).await;
            shadow(app, component, &taken, &mut recorded);
            let d = recorded.pop().ok_or_else(|| Internal("no result".into()))??;
            Ok(JsonBody(serde_json::to_vec(&prediction(app, component, &d)).map_err(serialized)?))
        }
        Parsed::Batch(slots) => {
            let (parsed, errors): (Vec<_>, Vec<_>) = slots.into_iter().enumerate().partition(|(_, s)| s.is_ok());
            // each answer as its JSON text, so that a part serialized for telemetry goes out as it is
            let mut answers: Vec<JsonText> = vec![JsonText::null(); parsed.len() + errors.len()];
            for (i, e) in errors {
                if let Err(e) = e {
                    component.metrics.request(&info.version, "none", e.status(), started.elapsed());
                    answers[i] = JsonText::of(&e.body());
                }
            }
            let positions: Vec<usize> = parsed.iter().map(|(i, _)| *i).collect();
            let instances: Vec<Instance> = parsed.into_iter().filter_map(|(_, s)| s.ok()).collect();
            let decided = decide(app, component, &taken, instances).await;
            let mut recorded = record(app, component, taken.traffic.as_deref(), decided, started).await;
            shadow(app, component, &taken, &mut recorded);
            for (i, result) in positions.into_iter().zip(recorded) {
                answers[i] = match result {
                    Ok(d) => JsonText::of(&prediction(app, component, &d)),
                    Err(e) => {
                        component.metrics.request(&info.version, "none", e.status(), started.elapsed());
                        JsonText::of(&e.body())
                    }
                };
            }
            Ok(JsonBody(serde_json::to_vec(&Batch { predictions: answers }).map_err(serialized)?))
        }
    }
}

/// What a request takes once, when it starts.
struct Taken {
    versions: Arc<ModelVersions>,
    traffic: Option<Arc<Traffic>>,
}

impl Taken {
    fn route(&self, unit: Option<&str>) -> Route {
        match &self.traffic {
            Some(t) => t.route(&self.versions, unit),
            None => Route::main(self.versions.default()),
        }
    }
}

/// Offers each recorded prediction the model answered to the plan's shadow, if it has one:
/// after the answer is decided and recorded, and without waiting.
fn shadow(
    app: &Arc<App>,
    component: &Arc<ComponentRuntime>,
    taken: &Taken,
    recorded: &mut [Result<Decided, ApiError>],
) {
    let Some(traffic) = taken.traffic.as_ref().filter(|t| t.shadows()) else { return };
    for d in recorded.iter_mut().flatten() {
        if let Some(row) = d.shadow_row.take() {
            let features = d.seen_features_kept.clone().unwrap_or_else(|| JsonText::of(&Map::new()));
            let copy =
                ShadowCopy { of: d.id.clone(), unit: d.instance.unit.clone(), time_ms: d.time_ms, row, features };
            traffic.offer(app, component, &taken.versions, copy);
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
    let parsed: Body = serde_json::from_slice(&body).map_err(|e| BodyError::json(&e, Expected::Prediction))?;
    let schema = component.path.component();
    // the features of one instance, read for the component; a mistake located in the whole body
    let read = |sent: Sent<'_>| -> Result<Instance, ApiError> {
        let features = GivenFeatures::read(schema, &mut serde_json::Deserializer::from_str(sent.features.get()))
            .map_err(|e| part_error(&body, sent.features, &e))?;
        Ok(checked(Instance { unit: sent.unit, features, context: sent.context, time_ms: sent.time_ms }, now_ms)?)
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
                return Err(BodyError::BesideInstances(stray).into());
            }
            let max = app.system.server.max_batch;
            if instances.is_empty() || instances.len() > max {
                return Err(BodyError::BatchSize { len: instances.len(), max }.into());
            }
            Ok(Parsed::Batch(
                instances
                    .into_iter()
                    .map(|raw| {
                        serde_json::from_str::<Sent>(raw.get())
                            .map_err(|e| ApiError::from(part_error(&body, raw, &e)))
                            .and_then(read)
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
        (Some(_), Some(_)) => Err(BodyError::FeaturesAndInstances.into()),
        (None, None) => Err(BodyError::NoFeatures.into()),
    }
}

/// An error met reading `part`, a piece of `body` whose syntax the first pass checked
/// (a number out of range is found only now), placed in the whole body rather than in the piece.
fn part_error(body: &[u8], part: &RawValue, e: &serde_json::Error) -> BodyError {
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
    BodyError::placed(e, line, column, Expected::Prediction)
}

/// The unit and event time of an instance, checked the same way on every route.
fn checked(mut instance: Instance, now_ms: u64) -> Result<Instance, FieldError> {
    fields::check_unit("unit", instance.unit.as_deref())?;
    instance.time_ms = Some(fields::event_time(instance.time_ms, now_ms)?);
    Ok(instance)
}

/// One decided instance, with its id and what telemetry may see of its features.
struct Decided {
    id: String,
    instance: Instance,
    /// Its variant and the version that answered it.
    route: Route,
    /// The model's input, kept for the shadow when the plan has one and the model was called.
    shadow_row: Option<Vec<rein_system::FeatureValue>>,
    /// What telemetry saw of the features, kept for the shadow's event.
    seen_features_kept: Option<JsonText>,
    outcome: Outcome,
    seen_features: Option<JsonText>,
    /// The outcome's parts as JSON, shared by the answer and the telemetry event.
    serialized: SerializedOutcome,
    time_ms: u64,
    /// Time the server spent until the decision, once it is complete: the answer and the
    /// event say the same.
    server_time_us: u64,
}

/// The instances routed to one version: the version, their positions, their rows.
type Group = (Arc<dyn ServedModel>, Vec<usize>, Vec<Vec<rein_system::FeatureValue>>);

/// Runs the decision path for instances of one component; one result per instance, in order.
async fn decide(
    app: &App,
    component: &Arc<ComponentRuntime>,
    taken: &Taken,
    instances: Vec<Instance>,
) -> Vec<Result<Decided, ApiError>> {
    let unknown = app.system.server.unknown_features;
    // 1. schema and input guardrails; the plan's variant
    let prepared: Vec<Result<Prepared, Refusal>> =
        instances.iter().map(|i| component.path.prepare(&i.features, &i.context, unknown)).collect();
    let routes: Vec<Route> = instances.iter().map(|i| taken.route(i.unit.as_deref())).collect();
    let shadowed = taken.traffic.as_ref().is_some_and(|t| t.shadows()) && app.telemetry.is_some();

    // 2. the model: one call for the instances of each version they were routed to; a
    // holdout's instances call none
    let mut outputs: Vec<Option<Result<ModelOutput, ModelError>>> = (0..instances.len()).map(|_| None).collect();
    let mut groups: Vec<Group> = Vec::new();
    for (i, (p, route)) in prepared.iter().zip(&routes).enumerate() {
        let Some(p) = p.as_ref().ok().filter(|p| p.needs_model()) else { continue };
        if route.holdout {
            outputs[i] = Some(Err(ModelError::Run(HELD_OUT.into())));
            continue;
        }
        match groups.iter_mut().find(|(m, _, _)| Arc::ptr_eq(m, &route.model)) {
            Some((_, at, rows)) => {
                at.push(i);
                rows.push(p.values.clone());
            }
            None => groups.push((route.model.clone(), vec![i], vec![p.values.clone()])),
        }
    }
    let calls = groups.iter_mut().map(|(model, _, rows)| component.infer(model, std::mem::take(rows)));
    let answers = futures_util::future::join_all(calls).await;
    for ((_, at, _), answer) in groups.iter().zip(answers) {
        match answer {
            Ok(outs) => {
                for (&i, out) in at.iter().zip(outs) {
                    outputs[i] = Some(Ok(out));
                }
            }
            Err(e) => {
                component.metrics.model_error(error_kind(&e));
                for &i in at {
                    outputs[i] = Some(Err(e.clone()));
                }
            }
        }
    }

    // 3. output guardrails and experience
    let mut results = Vec::with_capacity(instances.len());
    for (i, ((instance, prepared), route)) in instances.into_iter().zip(prepared).zip(routes).enumerate() {
        let time_ms = instance.time_ms.unwrap_or_else(fields::now_ms);
        let mut seen_features = None;
        let mut shadow_row = None;
        let result = prepared.and_then(|p| {
            if let Some(t) = &app.telemetry {
                let component = component.path.component();
                let seen = TelemetryFeatures { component, values: &p.values, hasher: &t.hasher };
                seen_features = Some(JsonText::of(&seen));
            }
            let model = if p.needs_model() { outputs[i].take() } else { None };
            if shadowed && !route.holdout && model.is_some() {
                shadow_row = Some(p.values.clone());
            }
            component.path.finish(p, model, &instance.context, instance.unit.as_deref(), time_ms)
        });
        results.push(match result {
            Ok(mut outcome) => {
                if route.holdout && outcome.fallback.is_some() {
                    // no ML by design, not a failure: the answer says which experiment held it out
                    let why = format!("held out of ML by experiment `{}`", route.experiment.as_deref().unwrap_or(""));
                    outcome.decision.reason = rein_decision::Reason::Fallback { error: why.clone() };
                    outcome.fallback = Some(why);
                }
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
                    route,
                    seen_features_kept: shadow_row.as_ref().and(seen_features.clone()),
                    shadow_row,
                    serialized: SerializedOutcome::of(&outcome),
                    outcome,
                    seen_features,
                    time_ms,
                    server_time_us: 0,
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
    traffic: Option<&Traffic>,
    decided: Vec<Result<Decided, ApiError>>,
    started: Instant,
) -> Vec<Result<Decided, ApiError>> {
    let mut decided = decided;
    let server_time_us = started.elapsed().as_micros() as u64;
    for d in decided.iter_mut().flatten() {
        d.server_time_us = server_time_us;
    }
    let recorded = match &app.telemetry {
        None => decided,
        Some(telemetry) => record_events(app, telemetry, component, decided).await,
    };
    // Counted once the answer is certain: a decision whose event could not be kept is a 503.
    for d in recorded.iter().flatten() {
        let version = &d.route.model.info().version;
        component.metrics.request(version, d.outcome.decision.mode.as_str(), 200, started.elapsed());
        if let Some(t) = traffic {
            t.count(&d.route.variant);
        }
    }
    recorded
}

async fn record_events(
    app: &App,
    telemetry: &crate::telemetry::Telemetry,
    component: &ComponentRuntime,
    decided: Vec<Result<Decided, ApiError>>,
) -> Vec<Result<Decided, ApiError>> {
    let pending = decided.into_iter().map(|d| async move {
        let mut d = d?;
        let mut event = crate::telemetry::prediction_event(
            &d.id,
            d.time_ms as i64,
            &app.system.name,
            &component.name,
            d.instance.unit.as_deref(),
            d.route.model.info(),
            d.seen_features.take().unwrap_or_else(|| JsonText::of(&Map::new())),
            &d.outcome,
            &d.serialized,
            d.server_time_us,
        );
        event.variant = d.route.variant.to_string();
        event.experiment = d.route.experiment.as_deref().map(str::to_string);
        // Until recorded, the decision may never reach the user (a 503, or the request
        // dropped by its timeout or the client): then it must not spend their frequency cap.
        let unrecorded = Unrecorded { component, decided: Some(d) };
        match telemetry.record(event.into()).await {
            Ok(()) => Ok(unrecorded.keep()),
            Err(error) => Err(TelemetryUnavailable { what: Waited::Prediction, error }.into()),
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

/// The answer for one decided instance: the record its event holds, from the same
/// serialized parts.
fn prediction<'a>(app: &'a App, component: &'a ComponentRuntime, d: &'a Decided) -> Prediction<'a> {
    let info = d.route.model.info();
    Prediction::answered(Parts {
        prediction_id: &d.id,
        time_ms: d.time_ms as i64,
        system: &app.system.name,
        component: &component.name,
        unit: d.instance.unit.as_deref(),
        model_name: &info.name,
        model_version: &info.version,
        variant: &d.route.variant,
        experiment: d.route.experiment.as_deref(),
        shadow_of: None,
        raw: &d.serialized.raw,
        output: &d.serialized.output,
        guardrails: &d.serialized.guardrails,
        decision: &d.serialized.decision,
        fallback: d.outcome.fallback.as_deref(),
        server_time_us: d.server_time_us,
    })
}

/// The refusal as the client gets it; a guardrail's refusal is counted.
fn refused(component: &ComponentRuntime, refusal: Refusal) -> ApiError {
    match &refusal {
        Refusal::Rejected { rule, .. } => component.metrics.guardrail(rule, "reject"),
        Refusal::GuardrailFailed { rule, error } => component.metrics.guardrail_failed(rule, error, "deny"),
        Refusal::Schema { .. } | Refusal::ModelUnavailable { .. } => {}
    }
    refusal.into()
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
