//! A component's traffic plan at run time: which loaded version answers each request (its
//! arm, by [`rein_decision::traffic::Assigner`]), the holdout that gets no ML, and the
//! shadow that gets a copy off the request path; `GET`/`PUT /v1/components/{name}/traffic`.
//!
//! The shadow never delays an answer: a copy is offered once the answer is recorded, takes
//! a permit of the plan's `max_in_flight` without waiting (none free: dropped and counted),
//! and runs on the blocking pool from a task of its own. Its output is recorded as a
//! prediction of variant `shadow` naming the one it copies, and shown to no one.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use metrics::Counter;
use rein_decision::output::Output;
use rein_decision::traffic::{Assigned, Assigner};
use rein_runtime::ServedModel;
use rein_system::FeatureValue;
use rein_system::traffic::{PlanProblem, Target, TrafficPlan};
use rein_telemetry::{Event, JsonText, PredictionEvent};
use serde::Serialize;
use serde_json::json;
use tokio::sync::Semaphore;
use utoipa::ToSchema;

use crate::app::{App, ComponentRuntime};
use crate::error::{ApiError, BodyError, ErrorBody, Expected};
use crate::versions::ModelVersions;

pub const TRAFFIC_REQUESTS: &str = "rein_traffic_requests_total";
pub const SHADOW_DROPPED: &str = "rein_shadow_dropped_total";
pub const SHADOW_PREDICTIONS: &str = "rein_shadow_predictions_total";

/// The variant of a request no plan routed.
static MAIN: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from(rein_telemetry::events::DEFAULT_VARIANT));
static HOLDOUT: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("holdout"));

/// Why a plan cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    /// The plan breaks its rules (the file's, [`TrafficPlan::problems`]).
    #[error("the traffic plan of component `{component}` is refused: {}", list(.problems))]
    Invalid { component: String, problems: Vec<PlanProblem> },
    /// It names an alias or version the component has not loaded.
    #[error("the traffic plan of component `{component}` names {target} ({field}), which names no loaded version; \
             loaded: {}", .loaded.join(", "))]
    Unresolved { component: String, field: String, target: String, loaded: Vec<String> },
}

impl TrafficError {
    /// The component whose plan it is.
    pub fn component(&self) -> &str {
        match self {
            TrafficError::Invalid { component, .. } | TrafficError::Unresolved { component, .. } => component,
        }
    }
}

fn list(problems: &[PlanProblem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Where a request goes.
#[derive(Clone)]
pub struct Route {
    pub variant: Arc<str>,
    pub experiment: Option<Arc<str>>,
    /// The version that answers it (for a holdout, the champion, which is not called).
    pub model: Arc<dyn ServedModel>,
    /// No ML: the fallback answers.
    pub holdout: bool,
}

impl Route {
    /// A request no plan routes: the champion answers, as `main`.
    pub fn main(model: &Arc<dyn ServedModel>) -> Route {
        Route { variant: MAIN.clone(), experiment: None, model: model.clone(), holdout: false }
    }
}

/// A component's plan, made ready to route.
pub struct Traffic {
    pub plan: TrafficPlan,
    assigner: Assigner,
    experiment: Arc<str>,
    /// Each arm's variant, in the assigner's order.
    variants: Vec<Arc<str>>,
    /// A counter a variant (the arms, `main`, `holdout`): the label's values are the plan's.
    counters: HashMap<Arc<str>, Counter>,
    shadow: Option<ShadowLane>,
}

struct ShadowLane {
    permits: Arc<Semaphore>,
    dropped: Counter,
    recorded: Counter,
    failed: Counter,
}

/// A copy of an answered request, for the shadow.
pub struct ShadowCopy {
    /// The id of the prediction it copies.
    pub of: String,
    pub unit: Option<String>,
    pub time_ms: u64,
    pub row: Vec<FeatureValue>,
    pub features: JsonText,
}

impl Traffic {
    /// A plan for `component`, checked against its rules (`has_fallback`: whether the
    /// component declares one) and its loaded `versions`.
    pub fn new(
        component: &str,
        plan: TrafficPlan,
        has_fallback: bool,
        versions: &ModelVersions,
    ) -> Result<Traffic, TrafficError> {
        let problems = plan.problems(has_fallback);
        if !problems.is_empty() {
            return Err(TrafficError::Invalid { component: component.into(), problems });
        }
        let arms = plan.arms();
        let named: Vec<(String, Target<'_>)> = arms
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let field = if plan.canary.is_some() { "canary".to_string() } else { format!("split[{i}]") };
                Some((field, a.target()?))
            })
            .chain(plan.shadow.as_ref().and_then(|s| Some(("shadow".to_string(), s.target()?))))
            .collect();
        for (field, target) in named {
            if versions.resolve(target).is_none() {
                let loaded = versions.aliases().into_iter().map(|(a, v)| format!("{a} → {v}")).collect();
                return Err(TrafficError::Unresolved {
                    component: component.into(),
                    field,
                    target: target.to_string(),
                    loaded,
                });
            }
        }
        let counter = |variant: &str| metrics::counter!(TRAFFIC_REQUESTS, "component" => component.to_string(), "variant" => variant.to_string());
        let variants: Vec<Arc<str>> = arms.iter().map(|a| Arc::from(a.variant.as_str())).collect();
        let counters = variants
            .iter()
            .cloned()
            .chain([MAIN.clone(), HOLDOUT.clone()])
            .map(|v| {
                let c = counter(&v);
                (v, c)
            })
            .collect();
        let shadow = plan.shadow.as_ref().map(|s| ShadowLane {
            permits: Arc::new(Semaphore::new(s.max_in_flight)),
            dropped: metrics::counter!(SHADOW_DROPPED, "component" => component.to_string()),
            recorded: metrics::counter!(SHADOW_PREDICTIONS, "component" => component.to_string(), "result" => "recorded"),
            failed: metrics::counter!(SHADOW_PREDICTIONS, "component" => component.to_string(), "result" => "failed"),
        });
        Ok(Traffic {
            assigner: Assigner::new(&plan),
            experiment: Arc::from(plan.experiment.as_str()),
            variants,
            counters,
            shadow,
            plan,
        })
    }

    /// Where a request of `unit` goes, among `versions` (those the request took). An arm
    /// whose alias no longer names a loaded version (moved since the plan was set) is
    /// answered by the champion, and recorded with the version that answered.
    pub fn route(&self, versions: &ModelVersions, unit: Option<&str>) -> Route {
        let (assigned, _) = self.assigner.assign(unit, random_point);
        let experiment = Some(self.experiment.clone());
        match assigned {
            Assigned::Holdout => {
                Route { variant: HOLDOUT.clone(), experiment, model: versions.default().clone(), holdout: true }
            }
            Assigned::Main => {
                Route { variant: MAIN.clone(), experiment, model: versions.default().clone(), holdout: false }
            }
            Assigned::Arm(i) => {
                let arm = &self.assigner.arms()[i];
                let model = arm.target().and_then(|t| versions.resolve(t)).unwrap_or(versions.default());
                Route { variant: self.variants[i].clone(), experiment, model: model.clone(), holdout: false }
            }
        }
    }

    /// Counts an answered request of `variant`.
    pub fn count(&self, variant: &str) {
        if let Some(c) = self.counters.get(variant) {
            c.increment(1);
        }
    }

    /// Whether an arm or the shadow names `version` by version (not by alias): such a
    /// version stays loaded when no alias names it.
    pub fn names_version(&self, version: &str) -> bool {
        let arms = self.assigner.arms().iter().map(|a| a.version.as_deref());
        arms.chain(self.plan.shadow.iter().map(|s| s.version.as_deref())).any(|v| v == Some(version))
    }

    pub fn shadows(&self) -> bool {
        self.shadow.is_some()
    }

    /// Offers a copy to the shadow; never waits. Past `max_in_flight` copies waiting or
    /// running, it is dropped and counted.
    pub fn offer(&self, app: &Arc<App>, component: &Arc<ComponentRuntime>, versions: &ModelVersions, copy: ShadowCopy) {
        let (Some(lane), Some(shadow)) = (&self.shadow, &self.plan.shadow) else { return };
        let Some(model) = shadow.target().and_then(|t| versions.resolve(t)).cloned() else {
            lane.failed.increment(1);
            return;
        };
        let Ok(permit) = lane.permits.clone().try_acquire_owned() else {
            lane.dropped.increment(1);
            return;
        };
        let (app, component, experiment) = (app.clone(), component.clone(), self.experiment.clone());
        let (recorded, failed) = (lane.recorded.clone(), lane.failed.clone());
        tokio::spawn(async move {
            let row = copy.row;
            let run = model.clone();
            let call = tokio::task::spawn_blocking(move || {
                // held until the model returns: a slow or hung shadow takes its permits, and
                // copies past them are dropped, never queued. No deadline: no one waits for it
                let _permit = permit;
                let started = Instant::now();
                let answer = run.infer(&[row.as_slice()]);
                (answer, started.elapsed())
            });
            let (answer, took) = match call.await {
                Ok((Ok(mut answers), took)) if answers.len() == 1 => (answers.remove(0), took),
                _ => {
                    failed.increment(1);
                    return;
                }
            };
            let Ok(output) = Output::from_model(component.path.component(), &answer) else {
                failed.increment(1);
                return;
            };
            let Some(telemetry) = &app.telemetry else { return };
            let info = model.info();
            let output = JsonText::of(&output);
            let event = PredictionEvent {
                id: uuid::Uuid::now_v7().to_string(),
                time_ms: copy.time_ms as i64,
                system: app.system.name.clone(),
                component: component.name.clone(),
                unit: copy.unit,
                model_name: info.name.clone(),
                model_version: info.version.clone(),
                variant: "shadow".into(),
                features: copy.features,
                raw_output: output.clone(),
                guardrails: JsonText::of(&json!([])),
                output,
                mode: "none".into(),
                decision: JsonText::of(&json!({"mode": "none", "reason": {"kind": "shadow", "of": copy.of}})),
                fallback: None,
                latency_us: took.as_micros() as u64,
                experiment: Some(experiment.to_string()),
                shadow_of: Some(copy.of),
            };
            match telemetry.record(Event::Prediction(event)).await {
                Ok(()) => recorded.increment(1),
                Err(_) => failed.increment(1),
            }
        });
    }
}

/// A uniform point in [0, 1) for a request without a unit: 53 random bits of a v4 UUID.
fn random_point() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 & ((1u64 << 53) - 1);
    bits as f64 / (1u64 << 53) as f64
}

/// A component's plan as `GET /v1/components/{name}/traffic` answers it.
#[derive(Serialize, ToSchema)]
pub struct TrafficAnswer {
    pub component: String,
    /// The plan serving now; null when the champion answers everything.
    #[schema(value_type = Option<Object>)]
    pub plan: Option<TrafficPlan>,
    /// Each arm as it resolves now: its variant, weight and the version answering it.
    pub arms: Vec<ArmAnswer>,
    /// The shadow's version, if there is one.
    pub shadow_version: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ArmAnswer {
    pub variant: String,
    pub weight: f64,
    pub version: String,
}

fn answer_of(component: &ComponentRuntime) -> TrafficAnswer {
    let versions = component.models();
    let traffic = component.traffic();
    let arms = traffic
        .as_ref()
        .map(|t| {
            t.plan
                .arms()
                .into_iter()
                .map(|a| {
                    let model = a.target().and_then(|t| versions.resolve(t)).unwrap_or(versions.default());
                    ArmAnswer { variant: a.variant, weight: a.weight, version: model.info().version.clone() }
                })
                .collect()
        })
        .unwrap_or_default();
    let shadow_version = traffic
        .as_ref()
        .and_then(|t| t.plan.shadow.as_ref()?.target())
        .and_then(|t| versions.resolve(t))
        .map(|m| m.info().version.clone());
    TrafficAnswer {
        component: component.name.clone(),
        plan: traffic.as_ref().map(|t| t.plan.clone()),
        arms,
        shadow_version,
    }
}

/// A component's traffic plan and the versions its arms resolve to now.
#[utoipa::path(
    get,
    path = "/v1/components/{name}/traffic",
    tag = "traffic",
    params(("name" = String, Path, description = "The component's name")),
    responses(
        (status = 200, description = "The plan serving now", body = TrafficAnswer),
        (status = 401, description = "Reads are closed (`model_reads = \"admin\"`) and no token was sent (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token is wrong (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such component (`unknown_component`), or no registry (`registry_off`)", body = ErrorBody),
    )
)]
pub async fn show(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<TrafficAnswer>, ApiError> {
    crate::models::authorize_read(&app, &headers)?;
    let c = crate::models::component_named(&app, &name)?;
    Ok(Json(answer_of(c)))
}

/// Replaces a component's traffic plan at once, checked as the system file's is. Requests
/// already routed finish as they were; every later one is routed by the new plan. The
/// plan lasts until the server stops: the system file's serves again at the next start.
#[utoipa::path(
    put,
    path = "/v1/components/{name}/traffic",
    tag = "traffic",
    params(("name" = String, Path, description = "The component's name")),
    request_body(content = Option<Object>, description = "The plan, as `[components.traffic]` in JSON: `experiment`, \
        `salt`, `split` (arms `{variant, alias | version, weight}`), `holdout` `{share}`, `shadow` \
        `{alias | version, max_in_flight}`, `canary` `{alias | version, steps, step}`. `null` removes the plan."),
    responses(
        (status = 200, description = "The plan now serving", body = TrafficAnswer),
        (status = 400, description = "The body is not JSON (`malformed_json`)", body = ErrorBody),
        (status = 401, description = "No token was sent (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token is wrong (`forbidden`), or none is configured (`admin_disabled`)", body = ErrorBody),
        (status = 404, description = "No such component (`unknown_component`), or no registry (`registry_off`)", body = ErrorBody),
        (status = 422, description = "The plan is refused (`invalid_traffic_plan`: each problem named by its field, \
                                      or the alias or version that names no loaded version), or the body has the \
                                      wrong shape (`bad_request_shape`)", body = ErrorBody),
    )
)]
pub async fn replace(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<TrafficAnswer>, ApiError> {
    crate::models::authorize_admin(&app, &headers)?;
    let c = crate::models::component_named(&app, &name)?;
    let body = body?;
    let plan: Option<TrafficPlan> =
        serde_json::from_slice(&body).map_err(|e| BodyError::json(&e, Expected::TrafficPlan))?;
    let has_fallback = c.path.component().fallback.is_some();
    // one change of a component's versions or plan at a time: the plan is checked
    // against the versions it will serve with
    // checked before anything changes: a refused plan leaves the rollout and plan as they are
    let next = match &plan {
        Some(plan) => Some(Arc::new(Traffic::new(&name, plan.clone(), has_fallback, &c.models())?)),
        None => None,
    };
    // a plan under analysis starts a rollout, which serves it; any plan supersedes the
    // rollout in progress
    let started = app.rollouts.replace_plan(&app, c, plan, "api").await?;
    if started.is_none() {
        let _one_at_a_time = c.swapping.lock().await;
        c.set_traffic(next);
    }
    tracing::info!(component = %name, "traffic plan replaced");
    Ok(Json(answer_of(c)))
}
