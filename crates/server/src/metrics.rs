//! Prometheus metrics: rendered from our own `/metrics` route. Label values are
//! bounded: component, version and rule names come from the system file, modes and
//! statuses from fixed sets — never from a request.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use rein_system::{Component, Mode};

pub const REQUESTS: &str = "rein_requests_total";
pub const REQUEST_DURATION: &str = "rein_request_duration_seconds";
pub const MODEL_DURATION: &str = "rein_model_duration_seconds";
pub const MODEL_BATCH_ROWS: &str = "rein_model_batch_rows";
pub const GUARDRAIL_ACTIONS: &str = "rein_guardrail_actions_total";
pub const MODEL_ERRORS: &str = "rein_model_errors_total";
pub const FALLBACKS: &str = "rein_fallbacks_total";
/// Connections handed to each worker thread (label `worker`: its index).
pub const CONNECTIONS: &str = "rein_connections_total";
/// Whether each monitor's alert is open (1) or not (0), labels `monitor` and `severity`.
pub const ALERTS_OPEN: &str = "rein_alerts_open";
/// Alerts each monitor opened, labels `monitor` and `severity`.
pub const ALERTS_TOTAL: &str = "rein_alerts_total";
/// Alert events the webhook's sender finished with, label `result`: `sent`, `failed`, `dropped`.
pub const WEBHOOK_DELIVERIES: &str = "rein_webhook_deliveries_total";
/// Alert events waiting in the webhook's queue.
pub const WEBHOOK_QUEUE: &str = "rein_webhook_queue";

/// Seconds; spans 50 µs to 5 s, dense where the decision path lives.
const BUCKETS: [f64; 16] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// Rows per model call: 1 alone, more when concurrent requests were batched.
const BATCH_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 256.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle. Later calls
/// (several servers in one test process) share it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
                .expect("the bucket list is not empty")
                .set_buckets_for_metric(Matcher::Full(MODEL_BATCH_ROWS.into()), &BATCH_BUCKETS)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed by an embedding program; we still render ours.
            let _ = metrics::set_global_recorder(recorder);
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("rein-metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .ok();
            handle
        })
        .clone()
}

/// Statuses the predict route answers with; others are registered on first use.
const STATUSES: [u16; 6] = [200, 400, 404, 413, 422, 503];
const MODEL_ERROR_KINDS: [&str; 5] = ["input", "run", "output", "timeout", "overloaded"];

/// One component's metric handles, registered once so the request path only bumps atomics.
pub struct ComponentMetrics {
    component: String,
    version: String,
    requests: HashMap<(&'static str, u16), (Counter, Histogram)>,
    guardrails: HashMap<String, Vec<(&'static str, Counter)>>,
    /// Per rule: failures of its condition not yet logged, and when the last log line was written.
    guardrail_failures: HashMap<String, FailureLog>,
    model_errors: HashMap<&'static str, Counter>,
    /// Time of each model call, however many requests it carried.
    pub model_duration: Histogram,
    pub model_batch_rows: Histogram,
    pub fallbacks: Counter,
}

impl ComponentMetrics {
    /// Call after [`install`], or the handles record nowhere.
    pub fn new(component: &Component, version: &str) -> Self {
        let name = component.name.clone();
        let mut requests = HashMap::new();
        for mode in Mode::ALL {
            requests.insert((mode.as_str(), 200), request_handles(&name, version, mode.as_str(), 200));
        }
        for status in STATUSES.into_iter().filter(|s| *s != 200) {
            requests.insert(("none", status), request_handles(&name, version, "none", status));
        }
        let mut guardrails = HashMap::new();
        for rule in &component.guardrails {
            let handles = [rule.action.kind(), "error"]
                .into_iter()
                .map(|action| {
                    let labels =
                        [("component", name.clone()), ("rule", rule.name.clone()), ("action", action.to_string())];
                    (action, metrics::counter!(GUARDRAIL_ACTIONS, &labels))
                })
                .collect();
            guardrails.insert(rule.name.clone(), handles);
        }
        let guardrail_failures = component.guardrails.iter().map(|g| (g.name.clone(), FailureLog::default())).collect();
        let model_errors = MODEL_ERROR_KINDS
            .into_iter()
            .map(|kind| (kind, metrics::counter!(MODEL_ERRORS, "component" => name.clone(), "kind" => kind)))
            .collect();
        Self {
            model_duration: metrics::histogram!(MODEL_DURATION, "component" => name.clone()),
            model_batch_rows: metrics::histogram!(MODEL_BATCH_ROWS, "component" => name.clone()),
            fallbacks: metrics::counter!(FALLBACKS, "component" => name.clone()),
            component: name,
            version: version.to_string(),
            requests,
            guardrails,
            guardrail_failures,
            model_errors,
        }
    }

    /// A request answered by model version `version` (refused ones: the version serving).
    /// Handles are kept for the start-up version; another's (after a swap) are looked up.
    pub fn request(&self, version: &str, mode: &'static str, status: u16, took: Duration) {
        let cached = if version == self.version { self.requests.get(&(mode, status)) } else { None };
        match cached {
            Some((count, duration)) => {
                count.increment(1);
                duration.record(took);
            }
            None => {
                let (count, duration) = request_handles(&self.component, version, mode, status);
                count.increment(1);
                duration.record(took);
            }
        }
    }

    pub fn guardrail(&self, rule: &str, action: &'static str) {
        let handles = self.guardrails.get(rule).into_iter().flatten();
        if let Some((_, c)) = handles.into_iter().find(|(a, _)| *a == action) {
            c.increment(1);
        }
    }

    /// A rule's condition could not be evaluated: counted as action `error`, and logged
    /// when it first happens and then at most once a minute per rule, with the count since.
    pub fn guardrail_failed(&self, rule: &str, error: &str, on_error: &str) {
        self.guardrail(rule, "error");
        let Some(log) = self.guardrail_failures.get(rule) else { return };
        let failures = log.unlogged.fetch_add(1, Ordering::Relaxed) + 1;
        let now = log_clock_ms();
        let last = log.last_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= 60_000;
        if due && log.last_ms.compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            let failures = failures.max(log.unlogged.swap(0, Ordering::Relaxed));
            tracing::warn!(
                component = %self.component,
                rule,
                on_error,
                failures,
                "guardrail `{rule}` could not be evaluated ({error}); it acted as its on_error says ({on_error}). \
                 Count: rein_guardrail_actions_total{{action=\"error\"}}"
            );
        }
    }

    pub fn model_error(&self, kind: &'static str) {
        if let Some(c) = self.model_errors.get(kind) {
            c.increment(1);
        }
    }
}

#[derive(Default)]
struct FailureLog {
    unlogged: AtomicU64,
    last_ms: AtomicU64,
}

/// Milliseconds since the first call, for spacing log lines (never 0 once logged: see callers).
fn log_clock_ms() -> u64 {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64 + 1
}

fn request_handles(component: &str, version: &str, mode: &'static str, status: u16) -> (Counter, Histogram) {
    let labels = [
        ("component", component.to_string()),
        ("model_version", version.to_string()),
        ("mode", mode.to_string()),
        ("status", status.to_string()),
    ];
    (metrics::counter!(REQUESTS, &labels), metrics::histogram!(REQUEST_DURATION, &labels))
}
