//! The monitors' background task: evaluates every `[[monitors]]` entry as its windows close,
//! and records what opens and closes (`docs/monitoring.md`).
//!
//! One tokio task, started with the server ([`Alerting::start`]), wakes on a wall-clock tick
//! (every second by default). Each tick it waits for the event log to be in the store (so
//! every answered prediction is counted), then evaluates on the blocking pool
//! (`rein_monitor::monitors::evaluate`): the windows closed since each monitor's last, judged
//! in event time as of the newest recorded prediction (a simulation runs in its own time),
//! or at the wall clock when that prediction is recent. What it finds is stored first,
//! states and alerts in one transaction (`Store::record_monitoring`: a restart resumes
//! there and opens nothing twice); then each alert that opened or closed is logged, counted
//! (`rein_alerts_open{monitor,severity}`, `rein_alerts_total{monitor,severity}`), and handed to
//! the webhook's sender, which never blocks the task ([`crate::webhook`]).
//!
//! Nothing here is on the request path: a store that fails or stalls delays the next
//! evaluation, never a prediction.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use metrics::{Counter, Gauge};
use rein_monitor::alerts::{Alert, AlertState, MonitorState, Step};
use rein_monitor::monitors::{self, References};
use rein_system::System;
use rein_telemetry::{AlertRecord, Clock, JsonText, MonitorStateRecord, Store, StoreError, Writer};
use tokio::task::JoinHandle;

use crate::webhook::{self, Sender};

/// How often the task looks for closed windows, unless told otherwise.
pub const DEFAULT_TICK: Duration = Duration::from_secs(1);

/// Why a monitor's state was closed without its figures.
const NO_LONGER_DECLARED: &str = "the monitor is no longer declared in the system file";

/// The monitors of a running system: their newest states (for `GET /v1/monitors`), the
/// task that moves them on, and where alerts go.
pub struct Alerting {
    system: Arc<System>,
    references: References,
    states: RwLock<BTreeMap<String, MonitorState>>,
    metrics: HashMap<String, (Gauge, Counter)>,
    webhook: Option<Arc<Sender>>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Why the last evaluation failed, if it did.
    last_error: Mutex<Option<String>>,
    /// When the last evaluation finished (wall clock, unix ms; 0: none yet).
    last_run_ms: AtomicI64,
    /// One evaluation at a time: the task's tick and [`Alerting::evaluate_now`] never
    /// judge the same window twice.
    evaluating: tokio::sync::Mutex<()>,
}

/// What the task needs of telemetry.
pub struct Source {
    pub store: Arc<dyn Store>,
    pub writer: Writer,
    pub clock: Arc<dyn Clock>,
    pub commit_timeout: Duration,
}

impl Alerting {
    /// Reads each drift monitor's reference profile and registers every monitor's metrics.
    /// Call after the metrics recorder is installed.
    pub fn new(system: Arc<System>) -> Alerting {
        let references = References::load(&system);
        for component in &system.components {
            if let Err(why) = references.get(&component.name)
                && system.monitors.iter().any(|m| m.watch.is_drift() && m.component.as_deref() == Some(&component.name))
            {
                tracing::warn!(component = %component.name, "its drift monitors measure nothing: {why}");
            }
        }
        let metrics = system
            .monitors
            .iter()
            .map(|m| {
                let labels = [("monitor", m.id.clone()), ("severity", m.severity.as_str().to_string())];
                let gauge = metrics::gauge!(crate::metrics::ALERTS_OPEN, &labels);
                gauge.set(0.0);
                let counter = metrics::counter!(crate::metrics::ALERTS_TOTAL, &labels);
                counter.increment(0);
                (m.id.clone(), (gauge, counter))
            })
            .collect();
        let webhook = system.alerts.webhook.clone().map(|w| Arc::new(Sender::new(w, &system.name)));
        Alerting {
            system,
            references,
            states: RwLock::new(BTreeMap::new()),
            metrics,
            webhook,
            task: Mutex::new(None),
            last_error: Mutex::new(None),
            last_run_ms: AtomicI64::new(0),
            evaluating: tokio::sync::Mutex::new(()),
        }
    }

    /// Evaluates every window closed by now, at once rather than at the next tick (`rein
    /// demo` at its end, so the alerts it prints are those of every closed window). Stored
    /// states are read first if the task has not read them yet.
    pub async fn evaluate_now(&self, source: &Source) -> Result<(), String> {
        if self.task.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
            self.resume(source).await.map_err(|e| format!("cannot read the monitors' stored states: {e}"))?;
        }
        self.evaluate(source).await
    }

    pub fn system(&self) -> &System {
        &self.system
    }

    /// The profile a drift monitor's component is compared with, or why there is none.
    pub fn reference(&self, component: &str) -> Result<&rein_monitor::Profile, String> {
        self.references.get(component)
    }

    /// Each monitor's newest state, by id.
    pub fn states(&self) -> BTreeMap<String, MonitorState> {
        self.states.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Why the last evaluation failed, and when the last one finished (unix ms, 0: none yet).
    pub fn health(&self) -> (Option<String>, i64) {
        (self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone(), self.last_run_ms.load(Ordering::Relaxed))
    }

    /// The webhook's sender, when alerts go to one.
    pub fn webhook(&self) -> Option<&Arc<Sender>> {
        self.webhook.as_ref()
    }

    /// Starts the task (and the webhook's sender), once; later calls do nothing. Call within
    /// a tokio runtime.
    pub fn start(self: &Arc<Self>, source: Source, tick: Duration) {
        let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if task.is_some() {
            return;
        }
        if let Some(w) = &self.webhook {
            w.start();
        }
        let this = self.clone();
        *task = Some(tokio::spawn(async move { this.run(source, tick).await }));
    }

    /// Stops the task and the webhook's sender (what it still holds is counted as dropped).
    pub fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
        if let Some(w) = &self.webhook {
            w.stop();
        }
    }

    async fn run(self: Arc<Self>, source: Source, tick: Duration) {
        // the stored states, until they are read
        loop {
            match self.resume(&source).await {
                Ok(()) => break,
                Err(e) => {
                    self.failed(format!("cannot read the monitors' stored states: {e}"));
                    tokio::time::sleep(tick.max(Duration::from_millis(100))).await;
                }
            }
        }
        if self.system.monitors.is_empty() {
            return;
        }
        let mut ticks = tokio::time::interval(tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = self.evaluate(&source).await {
                self.failed(e);
            }
        }
    }

    fn failed(&self, error: String) {
        let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_deref() != Some(error.as_str()) {
            tracing::warn!("monitors: {error}; retrying every tick");
        }
        *last = Some(error);
    }

    /// Reads the stored states; closes the alerts of monitors no longer declared.
    async fn resume(&self, source: &Source) -> Result<(), StoreError> {
        let store = source.store.clone();
        let stored = blocking(move || store.monitor_states()).await?;
        let now = source.clock.unix_ms();
        let mut states = BTreeMap::new();
        let mut closed = Vec::new();
        for record in stored {
            let Ok(mut state) = serde_json::from_str::<MonitorState>(record.state.as_str()) else {
                tracing::warn!(monitor = %record.monitor, "its stored state cannot be read: it starts again");
                continue;
            };
            if self.system.monitor(&record.monitor).is_some() {
                states.insert(record.monitor, state);
            } else if let Some(alert) = state.close(now, NO_LONGER_DECLARED) {
                closed.push((record.monitor, state, alert));
            }
        }
        if !closed.is_empty() {
            let records: Vec<MonitorStateRecord> =
                closed.iter().map(|(monitor, state, _)| state_record(monitor, state, now)).collect();
            let alerts: Vec<AlertRecord> = closed.iter().map(|(.., alert)| alert_record(alert)).collect();
            let store = source.store.clone();
            blocking(move || store.record_monitoring(&records, &alerts)).await?;
            for (.., alert) in &closed {
                tracing::info!(monitor = %alert.monitor, alert = %alert.id, "alert closed: {NO_LONGER_DECLARED}");
                self.announce(&Step::Closed(alert.clone()));
            }
        }
        for (id, (gauge, _)) in &self.metrics {
            gauge.set(if states.get(id).is_some_and(|s| s.open.is_some()) { 1.0 } else { 0.0 });
        }
        *self.states.write().unwrap_or_else(|e| e.into_inner()) = states;
        Ok(())
    }

    /// One tick: the windows closed since, evaluated, stored, then announced.
    async fn evaluate(&self, source: &Source) -> Result<(), String> {
        let _turn = self.evaluating.lock().await;
        if source.writer.backlog() > 0 {
            match tokio::time::timeout(source.commit_timeout, source.writer.flush()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("the event log could not be loaded into the store: {e}")),
                // the store is slow: try again next tick, never evaluate a window short
                Err(_) => return Err("the store did not catch up with the event log in time".into()),
            }
        }
        let now = source.clock.unix_ms();
        let states = self.states();
        let (system, store) = (self.system.clone(), source.store.clone());
        let references = self.references.clone();
        let evaluation = blocking(move || {
            let mut new_id = || uuid::Uuid::now_v7().to_string();
            monitors::evaluate(&system, &*store, &references, &states, now, &mut new_id)
        })
        .await
        .map_err(|e| format!("cannot evaluate the monitors: {e}"))?;
        if evaluation.windows == 0 {
            self.succeeded(source);
            return Ok(());
        }
        let records: Vec<MonitorStateRecord> =
            evaluation.states.iter().map(|(monitor, state)| state_record(monitor, state, now)).collect();
        let alerts: Vec<AlertRecord> = evaluation
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Opened(a) | Step::Closed(a) => Some(alert_record(a)),
                _ => None,
            })
            .collect();
        let store = source.store.clone();
        blocking(move || store.record_monitoring(&records, &alerts))
            .await
            .map_err(|e| format!("cannot store the monitors' states and alerts: {e}"))?;
        self.states.write().unwrap_or_else(|e| e.into_inner()).extend(evaluation.states);
        for step in &evaluation.steps {
            self.announce(step);
        }
        self.succeeded(source);
        Ok(())
    }

    fn succeeded(&self, source: &Source) {
        self.last_run_ms.store(source.clock.unix_ms(), Ordering::Relaxed);
        let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        if last.take().is_some() {
            tracing::info!("monitors: evaluating again");
        }
    }

    /// Logs an alert that opened or closed, counts it, and hands it to the webhook.
    fn announce(&self, step: &Step) {
        let (Step::Opened(alert) | Step::Closed(alert)) = step else { return };
        let metrics = self.metrics.get(&alert.monitor);
        let figure = match alert.state {
            AlertState::Open => alert.opened_by.last(),
            AlertState::Closed => alert.closed_by.last(),
        };
        let value = figure.and_then(|f| f.value);
        match alert.state {
            AlertState::Open => {
                if let Some((gauge, counter)) = metrics {
                    gauge.set(1.0);
                    counter.increment(1);
                }
                let message = format!(
                    "alert opened: monitor `{}` ({}), {} over {}",
                    alert.monitor, alert.watch, alert.threshold, alert.window
                );
                match alert.severity.as_str() {
                    "info" => {
                        tracing::info!(monitor = %alert.monitor, alert = %alert.id, severity = %alert.severity, opened_ms = alert.opened_ms, ?value, "{message}")
                    }
                    _ => {
                        tracing::warn!(monitor = %alert.monitor, alert = %alert.id, severity = %alert.severity, opened_ms = alert.opened_ms, ?value, "{message}")
                    }
                }
            }
            AlertState::Closed => {
                if let Some((gauge, _)) = metrics {
                    gauge.set(0.0);
                }
                tracing::info!(
                    monitor = %alert.monitor,
                    alert = %alert.id,
                    severity = %alert.severity,
                    closed_ms = ?alert.closed_ms,
                    ?value,
                    "alert closed: monitor `{}`: {}",
                    alert.monitor,
                    alert.closed_because.as_deref().unwrap_or("cleared")
                );
            }
        }
        if let Some(w) = &self.webhook {
            w.send(webhook::event(&self.system.name, alert));
        }
    }
}

fn state_record(monitor: &str, state: &MonitorState, now_ms: i64) -> MonitorStateRecord {
    MonitorStateRecord { monitor: monitor.to_string(), state: JsonText::of(state), updated_ms: now_ms }
}

fn alert_record(alert: &Alert) -> AlertRecord {
    AlertRecord {
        id: alert.id.clone(),
        monitor: alert.monitor.clone(),
        severity: alert.severity.clone(),
        opened_ms: alert.opened_ms,
        closed_ms: alert.closed_ms,
        body: JsonText::of(alert),
    }
}

/// Runs a store call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => Err(StoreError::Unavailable(format!("the task did not finish: {e}"))),
    }
}
