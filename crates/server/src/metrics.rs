//! Prometheus metrics: rendered from our own `/metrics` route. Label values are
//! bounded: component and rule names come from the system file, never from a request.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const REQUESTS: &str = "rein_requests_total";
pub const REQUEST_DURATION: &str = "rein_request_duration_seconds";
pub const MODEL_DURATION: &str = "rein_model_duration_seconds";
pub const GUARDRAIL_ACTIONS: &str = "rein_guardrail_actions_total";
pub const MODEL_ERRORS: &str = "rein_model_errors_total";
pub const FALLBACKS: &str = "rein_fallbacks_total";

/// Seconds; spans 50 µs to 5 s, dense where the decision path lives.
const BUCKETS: [f64; 16] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle. Later calls
/// (several servers in one test process) share it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
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
