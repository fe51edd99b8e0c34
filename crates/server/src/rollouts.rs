//! The rollout controller: judges each traffic plan under analysis as its windows close
//! (`rein_rollout::judge` on `rein_monitor::experiment::analyze`), and carries out what it
//! decides: the canary's next step, the candidate promoted (`champion` moved), or rolled
//! back (its traffic taken away, the champion kept, an alert raised). An operator pauses,
//! resumes, aborts and retries (`/v1/components/{name}/rollout/...`). Every action is
//! stored with its evidence in the registry before it is announced, and a start resumes
//! each rollout in progress where it was.
//!
//! One tokio task beside the monitors' (the same tick), never on a request's path; one
//! lock serializes its looks with the operator's commands and plan changes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use rein_monitor::experiment::{self, ArmFigure, ArmSpec, ExperimentReport, ExperimentSpec};
use rein_registry::{CHAMPION, StoredRollout};
use rein_rollout::{Command, Evidence, Move, OperateError, Rollout, Status, Verdict};
use rein_system::traffic::TrafficPlan;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::task::JoinHandle;
use utoipa::ToSchema;

use crate::app::{App, ComponentRuntime};
use crate::error::{ApiError, BodyError, ErrorBody, Expected};
use crate::traffic::Traffic;

pub const ROLLOUT_ACTIONS: &str = "rein_rollout_actions_total";

/// Why the controller cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("component `{0}` has no rollout")]
    None(String),
    #[error(transparent)]
    NotNow(#[from] OperateError),
    #[error(
        "a rollout needs telemetry (its evidence) and the model registry (its record): this server has {missing} off"
    )]
    Unsupported { missing: &'static str },
    #[error("the plan's candidate {0} names no loaded version")]
    NoCandidate(String),
    #[error("`{given}` is not a rollout command; the commands are pause, resume, abort and retry")]
    UnknownCommand { given: String },
    #[error("the rollout could not be recorded or carried out: {0}")]
    Record(String),
}

/// The rollouts of a running server: the newest of each component, active or not.
#[derive(Default)]
pub struct Controller {
    rollouts: tokio::sync::Mutex<BTreeMap<String, Rollout>>,
    task: Mutex<Option<JoinHandle<()>>>,
    last_error: Mutex<Option<String>>,
}

impl Controller {
    /// Each component's newest rollout, as it stands.
    pub async fn list(&self) -> Vec<Rollout> {
        self.rollouts.lock().await.values().cloned().collect()
    }

    /// Why the last look failed, if it did.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Starts the task that looks every `tick`. Once; within a tokio runtime.
    pub fn start(app: &Arc<App>, tick: Duration) {
        let mut task = app.rollouts.task.lock().unwrap_or_else(|e| e.into_inner());
        if task.is_some() || app.registry.is_none() || app.telemetry.is_none() {
            return;
        }
        let this = app.clone();
        *task = Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(tick);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let result = this.rollouts.evaluate(&this).await;
                this.rollouts.failed(result.err());
            }
        }));
    }

    pub fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
    }

    fn failed(&self, error: Option<String>) {
        let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = &error
            && last.as_deref() != Some(e.as_str())
        {
            tracing::warn!("rollouts: {e}; retrying every tick");
        }
        *last = error;
    }

    /// At start, before the first request: each component's newest stored rollout. One in
    /// progress resumes with its plan (its step, not the file's), unless the system file
    /// now declares another experiment, which then supersedes it; a finished one of the
    /// file's own experiment leaves what it settled (a promoted canary is not run again);
    /// a file plan under analysis with no rollout yet starts one.
    pub async fn resume(&self, app: &App) -> Result<(), String> {
        let Some(models) = &app.registry else { return Ok(()) };
        let registry = models.registry.clone();
        let stored =
            crate::models::blocking(move || registry.rollouts(None)).await.map_err(|e| e.message().to_string())?;
        let mut newest: BTreeMap<String, Rollout> = BTreeMap::new();
        for s in stored {
            match serde_json::from_str::<Rollout>(&s.state) {
                Ok(r) => {
                    newest.insert(r.component.clone(), r);
                }
                Err(e) => tracing::warn!(rollout = %s.id, "its stored state cannot be read ({e}): it is left as it is"),
            }
        }
        let mut rollouts = self.rollouts.lock().await;
        for name in app.component_names() {
            let Some(c) = app.component(name) else { continue };
            let declared = app.system.traffic.get(name).map(|t| &t.plan);
            match (newest.remove(name), declared) {
                (Some(mut r), declared) if r.status.is_active() => {
                    if let Some(file) = declared.filter(|p| p.experiment != r.experiment) {
                        let before = r.actions.len();
                        let why = format!("the system file declares experiment `{}` now", file.experiment);
                        let at = r.judged_until_ms;
                        r.operate(Command::Abort, "system file", at, &why).map_err(|e| e.to_string())?;
                        self.settle(app, c, &r, before).await.map_err(|e| e.message().to_string())?;
                        rollouts.insert(name.to_string(), r);
                        if file.analysis.is_some() {
                            let started = self.begin(app, c, file.clone(), 1, "system file").await;
                            rollouts.insert(name.to_string(), started.map_err(|e| e.message().to_string())?);
                        }
                        continue;
                    }
                    tracing::info!(rollout = %r.id, status = r.status.as_str(), "rollout resumed where it was");
                    self.load_candidate(app, c, &r).await.map_err(|e| format!("rollout {}: {}", r.id, e.message()))?;
                    self.serve(c, &r).await.map_err(|e| e.message().to_string())?;
                    rollouts.insert(name.to_string(), r);
                }
                (Some(r), Some(file)) if r.experiment == file.experiment => {
                    tracing::info!(
                        rollout = %r.id,
                        status = r.status.as_str(),
                        "the system file's experiment `{}` was rolled out already; its settled plan serves \
                         (give the plan a new experiment id to roll out again)",
                        r.experiment
                    );
                    self.serve(c, &r).await.map_err(|e| e.message().to_string())?;
                    rollouts.insert(name.to_string(), r);
                }
                (previous, Some(file)) if file.analysis.is_some() => {
                    let attempt =
                        previous.as_ref().filter(|p| p.experiment == file.experiment).map_or(1, |p| p.attempt + 1);
                    let started = self.begin(app, c, file.clone(), attempt, "system file").await;
                    rollouts.insert(name.to_string(), started.map_err(|e| e.message().to_string())?);
                }
                (Some(previous), _) => {
                    rollouts.insert(name.to_string(), previous);
                }
                (None, _) => {}
            }
        }
        Ok(())
    }

    /// One look at every running rollout whose window closed since its last.
    pub async fn evaluate(&self, app: &App) -> Result<(), String> {
        let (Some(models), Some(telemetry)) = (&app.registry, &app.telemetry) else { return Ok(()) };
        let mut rollouts = self.rollouts.lock().await;
        if !rollouts.values().any(|r| r.status == Status::Running) {
            return Ok(());
        }
        // every answered prediction counts
        telemetry.writer.flush().await.map_err(|e| format!("cannot bring the store up to date: {e}"))?;
        let now_ms = telemetry.clock.unix_ms();
        let store = telemetry.store.clone();
        let newest = tokio::task::spawn_blocking(move || store.newest_prediction_ms())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let lateness = i64::try_from(app.system.alerts.lateness.as_millis()).unwrap_or(i64::MAX);
        for r in rollouts.values_mut().filter(|r| r.status == Status::Running) {
            let Some(c) = app.component(&r.component) else { continue };
            let Some(window_ms) = r.analysis().and_then(|a| a.window_ms()) else { continue };
            let Some(now) = rein_monitor::monitors::as_of(newest, now_ms, window_ms) else { continue };
            let before = r.actions.len();
            r.begin_at(now);
            let as_of = now.saturating_sub(lateness);
            let step_start = r.step_started_ms.unwrap_or(as_of);
            let closed = (as_of - step_start).max(0) / window_ms;
            let until = step_start + closed * window_ms;
            if closed > 0 && r.judged_until_ms.is_none_or(|judged| until > judged) {
                let evidence = self.look(app, r, step_start, until, window_ms).await?;
                let mv = rein_rollout::judge(r, &evidence);
                r.apply(&mv, evidence, now);
                match &mv {
                    Move::Wait(_) => {}
                    Move::Advance { .. } => {
                        self.serve(c, r).await.map_err(|e| e.message().to_string())?;
                        // the step's evidence starts once its plan serves: answers the old
                        // plan gave meanwhile (recorded by now) are not the new step's
                        if let Some(serving) = self.event_now(app, window_ms).await {
                            r.step_started_ms = r.step_started_ms.max(Some(serving));
                        }
                    }
                    Move::Promote(why) => {
                        let reason = format!("rollout {} promoted it: {why}", r.id);
                        crate::models::move_alias_to(
                            app,
                            c,
                            &r.candidate,
                            CHAMPION,
                            rein_rollout::rollout::CONTROLLER,
                            &reason,
                        )
                        .await
                        .map_err(|e| format!("cannot promote {}: {}", r.candidate, e.message()))?;
                        self.serve(c, r).await.map_err(|e| e.message().to_string())?;
                    }
                    Move::RollBack(_) => self.restore(app, c, r).await?,
                }
            }
            if rein_rollout::judge::overdue(r, as_of) {
                r.mark_overdue(as_of);
            }
            if r.actions.len() > before || r.judged_until_ms == Some(until) {
                save(models, r, before).await?;
                announce(app, r, before);
            }
        }
        Ok(())
    }

    /// The evidence over the current step: the candidate's arm against the control's.
    async fn look(
        &self,
        app: &App,
        r: &Rollout,
        from_ms: i64,
        until_ms: i64,
        window_ms: i64,
    ) -> Result<Evidence, String> {
        let Some(analysis) = r.analysis() else { return Err(format!("rollout {} has no analysis", r.id)) };
        let Some((candidate, control)) = r.plan.judged_arms() else {
            return Err(format!("rollout {}'s plan has no arms to judge", r.id));
        };
        let arms = r.plan.arms();
        let spec = ExperimentSpec {
            component: r.component.clone(),
            experiment: r.experiment.clone(),
            arms: arms.iter().map(|a| ArmSpec { variant: a.variant.clone(), weight: a.weight }).collect(),
            control: control.clone(),
            start_ms: from_ms,
            window_ms,
            primary: analysis.primary.clone(),
            guardrails: analysis.guardrails.clone(),
            horizon_windows: experiment::DEFAULT_HORIZON_WINDOWS,
        };
        let Some(telemetry) = &app.telemetry else { return Err("telemetry is off".into()) };
        let (system, store) = (app.system.clone(), telemetry.store.clone());
        let report = tokio::task::spawn_blocking(move || experiment::analyze(&system, store.as_ref(), &spec, until_ms))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot analyse rollout {}: {e}", r.id))?;
        Ok(evidence_of(&report, &candidate, &control, from_ms, until_ms))
    }

    /// Starts a rollout of `plan` on `c` (the plan checked, its candidate loaded), serves
    /// its plan, and stores it.
    async fn begin(
        &self,
        app: &App,
        c: &Arc<ComponentRuntime>,
        plan: TrafficPlan,
        attempt: u32,
        by: &str,
    ) -> Result<Rollout, ApiError> {
        let (Some(models), Some(_)) = (&app.registry, &app.telemetry) else {
            let missing = if app.telemetry.is_none() { "telemetry" } else { "the registry" };
            return Err(RolloutError::Unsupported { missing }.into());
        };
        let versions = c.models();
        let candidate = plan
            .candidate()
            .map(|t| (t.to_string(), versions.resolve(t).map(|m| m.info().version.clone())))
            .ok_or_else(|| RolloutError::NoCandidate("(none)".into()))?;
        let (named, Some(candidate)) = candidate else { return Err(RolloutError::NoCandidate(candidate.0).into()) };
        let champion = versions.default().info().version.clone();
        let window_ms = plan.analysis.as_ref().and_then(|a| a.window_ms()).unwrap_or(1);
        let mut r = Rollout::start(&c.name, plan, &candidate, &champion, attempt, None, by);
        self.serve(c, &r).await?;
        // it starts once its plan serves (unknown before the first prediction)
        if let Some(at) = self.event_now(app, window_ms).await {
            r.begin_at(at);
        }
        tracing::info!(rollout = %r.id, candidate = %named, "rollout started");
        save(models, &r, 0).await.map_err(|e| ApiError::from(RolloutError::Record(e)))?;
        announce(app, &r, 0);
        Ok(r)
    }

    /// "Now" in event time, as the monitors judge it; `None` before any prediction.
    async fn event_now(&self, app: &App, window_ms: i64) -> Option<i64> {
        let telemetry = app.telemetry.as_ref()?;
        let _ = telemetry.writer.flush().await;
        let store = telemetry.store.clone();
        let newest = tokio::task::spawn_blocking(move || store.newest_prediction_ms()).await.ok()?.ok()?;
        rein_monitor::monitors::as_of(newest, telemetry.clock.unix_ms(), window_ms)
    }

    /// Loads the rollout's candidate (checked) when the start did not, and names the loaded
    /// versions by the registry's aliases, so that its plan resolves.
    async fn load_candidate(&self, app: &App, c: &Arc<ComponentRuntime>, r: &Rollout) -> Result<(), ApiError> {
        let Some(models) = &app.registry else { return Ok(()) };
        let (registry, runtime, spec) = (models.registry.clone(), models.runtime.clone(), c.path.component().clone());
        let (name, candidate) = (c.name.clone(), r.candidate.clone());
        let missing = c.models().get(&candidate).is_none();
        let loaded = crate::models::blocking(move || {
            let model =
                if missing { Some(registry.load(&spec, &candidate, &runtime)?.1.model().clone()) } else { None };
            Ok((model, registry.aliases(&name)?))
        })
        .await?;
        let _one_at_a_time = c.swapping.lock().await;
        c.swap(|current| {
            let mut next = match &loaded.0 {
                Some(model) => current.holding(model.clone()),
                None => current.clone(),
            };
            for (alias, version) in &loaded.1 {
                if next.get(version).is_some() {
                    next = next.aliased(alias, version);
                }
            }
            next
        });
        Ok(())
    }

    /// Serves the plan the rollout holds now, checked against the versions it will serve
    /// with (one change of a component's versions or plan at a time).
    async fn serve(&self, c: &Arc<ComponentRuntime>, r: &Rollout) -> Result<(), ApiError> {
        let _one_at_a_time = c.swapping.lock().await;
        let has_fallback = c.path.component().fallback.is_some();
        let next = match r.serving() {
            Some(plan) => Some(Arc::new(Traffic::new(&c.name, plan, has_fallback, &c.models())?)),
            None => None,
        };
        c.set_traffic(next);
        Ok(())
    }

    /// The candidate out of traffic, and `champion` where the rollout found it.
    async fn restore(&self, app: &App, c: &Arc<ComponentRuntime>, r: &Rollout) -> Result<(), String> {
        self.serve(c, r).await.map_err(|e| e.message().to_string())?;
        if c.models().default().info().version != r.champion {
            let reason = format!("rollout {} restored the champion it started with", r.id);
            crate::models::move_alias_to(app, c, &r.champion, CHAMPION, rein_rollout::rollout::CONTROLLER, &reason)
                .await
                .map_err(|e| format!("cannot restore champion {}: {}", r.champion, e.message()))?;
        }
        Ok(())
    }

    /// After an operator's abort or a superseding plan: traffic settled, stored, announced.
    async fn settle(&self, app: &App, c: &Arc<ComponentRuntime>, r: &Rollout, before: usize) -> Result<(), ApiError> {
        let Some(models) = &app.registry else { return Ok(()) };
        self.restore(app, c, r).await.map_err(|e| ApiError::from(RolloutError::Record(e)))?;
        save(models, r, before).await.map_err(|e| ApiError::from(RolloutError::Record(e)))?;
        announce(app, r, before);
        Ok(())
    }

    /// A plan set over the admin API: under analysis it starts a rollout; either way an
    /// active rollout of the component is aborted first (the new plan supersedes it).
    pub(crate) async fn replace_plan(
        &self,
        app: &App,
        c: &Arc<ComponentRuntime>,
        plan: Option<TrafficPlan>,
        by: &str,
    ) -> Result<Option<Rollout>, ApiError> {
        let mut rollouts = self.rollouts.lock().await;
        if let Some(active) = rollouts.get_mut(&c.name).filter(|r| r.status.is_active()) {
            let before = active.actions.len();
            let at = active.judged_until_ms;
            active.operate(Command::Abort, by, at, "a new traffic plan replaced it")?;
            let settled = active.clone();
            self.settle(app, c, &settled, before).await?;
        }
        let Some(plan) = plan.filter(|p| p.analysis.is_some()) else { return Ok(None) };
        let attempt = rollouts.get(&c.name).filter(|r| r.experiment == plan.experiment).map_or(1, |r| r.attempt + 1);
        let r = self.begin(app, c, plan, attempt, by).await?;
        rollouts.insert(c.name.clone(), r.clone());
        Ok(Some(r))
    }

    /// An operator's command on the component's newest rollout.
    pub(crate) async fn operate(
        &self,
        app: &App,
        c: &Arc<ComponentRuntime>,
        command: Command,
        by: &str,
        reason: &str,
    ) -> Result<Rollout, ApiError> {
        let mut rollouts = self.rollouts.lock().await;
        let Some(r) = rollouts.get_mut(&c.name) else { return Err(RolloutError::None(c.name.clone()).into()) };
        let window_ms = r.analysis().and_then(|a| a.window_ms()).unwrap_or(1);
        let at = self.event_now(app, window_ms).await;
        let before = r.actions.len();
        let next = r.operate(command, by, at, reason)?;
        match (command, next) {
            (Command::Retry, Some(next)) => {
                let Some(models) = &app.registry else {
                    return Err(RolloutError::Unsupported { missing: "the registry" }.into());
                };
                let (old, old_before) = (r.clone(), before);
                save(models, &old, old_before).await.map_err(|e| ApiError::from(RolloutError::Record(e)))?;
                self.serve(c, &next).await?;
                save(models, &next, 0).await.map_err(|e| ApiError::from(RolloutError::Record(e)))?;
                announce(app, &next, 0);
                *r = next;
            }
            (Command::Abort, _) => {
                let settled = r.clone();
                self.settle(app, c, &settled, before).await?;
            }
            _ => {
                let Some(models) = &app.registry else {
                    return Err(RolloutError::Unsupported { missing: "the registry" }.into());
                };
                save(models, r, before).await.map_err(|e| ApiError::from(RolloutError::Record(e)))?;
                announce(app, r, before);
            }
        }
        Ok(r.clone())
    }
}

/// The figures the judge needs, from the analysis of the step.
fn evidence_of(report: &ExperimentReport, candidate: &str, control: &str, from_ms: i64, until_ms: i64) -> Evidence {
    let arm = |variant: &str| report.arms.iter().find(|a| a.variant == variant);
    let predictions = |variant: &str| arm(variant).map_or(0, |a| a.predictions);
    let fallbacks =
        arm(candidate).and_then(|a| a.metrics.iter().find(|m| m.metric == "fallback_rate")).map_or(0, |m| {
            match m.figure {
                ArmFigure::Share { successes, .. } => successes,
                _ => 0,
            }
        });
    let variant = report.variants.iter().find(|v| v.variant == candidate);
    let verdict = match variant.map(|v| v.decision) {
        Some(experiment::Verdict::Ship) => Verdict::Ship,
        Some(experiment::Verdict::StopHarm) => Verdict::StopHarm,
        Some(experiment::Verdict::StopSampleRatioMismatch) => Verdict::StopSampleRatioMismatch,
        Some(experiment::Verdict::KeepRunning) | None => Verdict::KeepRunning,
    };
    // the primary comes first among a variant's metrics
    let primary_judged = variant.is_some_and(|v| {
        let primary = v.metrics.first().map(|m| m.metric.as_str());
        v.reasons.iter().all(|r| Some(r.metric.as_str()) != primary || r.finding != "too_little_data")
    });
    let mut reasons: Vec<String> =
        variant.map(|v| v.reasons.iter().map(|r| r.text.clone()).collect()).unwrap_or_default();
    if report.sample_ratio.mismatch {
        reasons.push(format!("sample ratio p = {:.2e} against the weights", report.sample_ratio.p_value));
    }
    Evidence {
        from_ms,
        until_ms,
        windows: report.windows,
        candidate_predictions: predictions(candidate),
        control_predictions: predictions(control),
        candidate_fallbacks: fallbacks,
        primary_judged,
        verdict,
        reasons,
    }
}

/// Stores the rollout with the actions added since `before`.
async fn save(models: &crate::models::Models, r: &Rollout, before: usize) -> Result<(), String> {
    let state = serde_json::to_string(r).map_err(|e| e.to_string())?;
    let actions: Vec<String> =
        r.actions[before.min(r.actions.len())..].iter().filter_map(|a| serde_json::to_string(a).ok()).collect();
    let stored = StoredRollout {
        id: r.id.clone(),
        component: r.component.clone(),
        status: r.status.as_str().to_string(),
        state,
        started_at_ms: r.actions.first().map_or(0, |a| a.at_ms),
        updated_at_ms: models.registry.now_ms(),
    };
    let registry = models.registry.clone();
    crate::models::blocking(move || registry.save_rollout(&stored, &actions)).await.map_err(|e| e.message().to_string())
}

/// Logs, counts and sends (to the webhook) each action since `before`; a rollback and a
/// passed deadline are alerts.
fn announce(app: &App, r: &Rollout, before: usize) {
    for action in &r.actions[before.min(r.actions.len())..] {
        let name = action.kind.name();
        metrics::counter!(ROLLOUT_ACTIONS, "component" => r.component.clone(), "action" => name).increment(1);
        let alert = matches!(name, "rolled_back" | "overdue");
        if alert {
            tracing::warn!(rollout = %r.id, action = name, "{}", action.summary);
        } else {
            tracing::info!(rollout = %r.id, action = name, "{}", action.summary);
        }
        if let Some(webhook) = app.alerting.as_ref().and_then(|a| a.webhook()) {
            webhook.send(json!({
                "specversion": "1.0",
                "id": format!("{}.{}.{}", r.id, r.actions.len(), name),
                "source": format!("/rein/systems/{}/rollouts/{}", app.system.name, r.id),
                "type": format!("dev.rein.rollout.{name}"),
                "subject": r.id,
                "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
                "datacontenttype": "application/json",
                "severity": if alert { "critical" } else { "info" },
                "data": action,
            }));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Routes

/// Every component's newest rollout.
#[derive(Serialize, ToSchema)]
pub struct RolloutsAnswer {
    #[schema(value_type = Vec<Object>)]
    pub rollouts: Vec<Rollout>,
}

/// An operator's command.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// Who gives it, for the record (default `api`).
    pub by: Option<String>,
    /// Why, for the record.
    pub reason: Option<String>,
}

/// Every component's newest rollout: its status, the plan serving, what the newest look
/// found and what it waits for, and every action with its evidence.
#[utoipa::path(
    get,
    path = "/v1/rollouts",
    tag = "traffic",
    responses(
        (status = 200, description = "The rollouts", body = RolloutsAnswer),
        (status = 401, description = "Reads are closed and no token was sent (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token is wrong (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No registry (`registry_off`)", body = ErrorBody),
    )
)]
pub async fn list(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Json<RolloutsAnswer>, ApiError> {
    crate::models::authorize_read(&app, &headers)?;
    Ok(Json(RolloutsAnswer { rollouts: app.rollouts.list().await }))
}

/// A component's newest rollout.
#[utoipa::path(
    get,
    path = "/v1/components/{name}/rollout",
    tag = "traffic",
    params(("name" = String, Path, description = "The component's name")),
    responses(
        (status = 200, description = "Its newest rollout", body = Object),
        (status = 401, description = "Reads are closed and no token was sent (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token is wrong (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such component, no rollout (`no_rollout`), or no registry", body = ErrorBody),
    )
)]
pub async fn show(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Rollout>, ApiError> {
    crate::models::authorize_read(&app, &headers)?;
    let c = crate::models::component_named(&app, &name)?;
    let rollouts = app.rollouts.rollouts.lock().await;
    rollouts.get(&c.name).cloned().map(Json).ok_or_else(|| RolloutError::None(name).into())
}

/// Pauses, resumes, aborts or retries the component's rollout.
#[utoipa::path(
    post,
    path = "/v1/components/{name}/rollout/{command}",
    tag = "traffic",
    params(
        ("name" = String, Path, description = "The component's name"),
        ("command" = String, Path, description = "`pause`, `resume`, `abort` or `retry`"),
    ),
    request_body(content = Option<CommandRequest>, description = "Optional: `by` and `reason`, for the record"),
    responses(
        (status = 200, description = "The rollout after the command", body = Object),
        (status = 400, description = "The body is not JSON (`malformed_json`)", body = ErrorBody),
        (status = 401, description = "No token was sent (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token is wrong (`forbidden`), or none is configured (`admin_disabled`)", body = ErrorBody),
        (status = 404, description = "No such component, no rollout (`no_rollout`), no such command (`not_found`)", body = ErrorBody),
        (status = 409, description = "The command does not apply to the rollout as it stands (`rollout_conflict`)", body = ErrorBody),
    )
)]
pub async fn command(
    State(app): State<Arc<App>>,
    Path((name, command)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Rollout>, ApiError> {
    crate::models::authorize_admin(&app, &headers)?;
    let c = crate::models::component_named(&app, &name)?.clone();
    let Some(command) = Command::parse(&command) else {
        return Err(RolloutError::UnknownCommand { given: command }.into());
    };
    let body = body?;
    let asked: CommandRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CommandRequest { by: None, reason: None }
    } else {
        serde_json::from_slice(&body).map_err(|e| BodyError::json(&e, Expected::RolloutCommand))?
    };
    let by = asked.by.unwrap_or_else(|| "api".into());
    let r = app.rollouts.operate(&app, &c, command, &by, asked.reason.as_deref().unwrap_or_default()).await?;
    Ok(Json(r))
}
