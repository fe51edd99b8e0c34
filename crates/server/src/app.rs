//! The running system: every component's decision path and loaded model.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rein_decision::{DecisionPath, Model, ModelError, ModelInfo, ModelOutput};
use rein_runtime::{OnnxModel, Runtime, RuntimeError};
use rein_system::{Diagnostic, Diagnostics, FeatureValue, System};
use tokio::sync::Semaphore;

use crate::metrics::ComponentMetrics;
use crate::telemetry::Telemetry;

pub struct App {
    pub system: Arc<System>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    components: HashMap<String, Arc<ComponentRuntime>>,
    names: Vec<String>,
    pub telemetry: Option<Telemetry>,
}

pub struct ComponentRuntime {
    pub name: String,
    pub metrics: ComponentMetrics,
    pub path: DecisionPath,
    pub model: Arc<OnnxModel>,
    /// Bounds inferences in flight: past it, a request gets the fallback, not a queue.
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    /// Moving average of inference time per row, in µs (0: not timed yet): decides
    /// inline or blocking-pool execution.
    typical_us_per_row: AtomicU64,
}

/// Calls to models typically faster than this per row run inline on the async worker:
/// handing a 10 µs inference to the blocking pool costs more than the inference. Slower
/// models, a model not yet timed, and large calls go to the blocking pool, where they
/// cannot stall other requests and their deadline is enforced by a timer.
const INLINE_BELOW_US: u64 = 200;

/// Largest call (in rows) that may run inline, however fast the model.
const INLINE_MAX_ROWS: usize = 16;

impl App {
    /// Builds the app from a validated system and its loaded models (same order as components).
    pub fn new(system: System, models: Vec<Arc<OnnxModel>>, telemetry: Option<Telemetry>) -> Self {
        let metrics = crate::metrics::install();
        let system = Arc::new(system);
        let mut components = HashMap::new();
        let mut names = Vec::new();
        for (component, model) in system.components.iter().zip(models) {
            let max_in_flight = component.model.max_concurrency;
            names.push(component.name.clone());
            components.insert(
                component.name.clone(),
                Arc::new(ComponentRuntime {
                    name: component.name.clone(),
                    metrics: ComponentMetrics::new(component, &model.info().version),
                    path: DecisionPath::new(component.clone(), rein_decision::DEFAULT_MAX_TRACKED_UNITS),
                    model,
                    in_flight: Arc::new(Semaphore::new(max_in_flight)),
                    max_in_flight,
                    typical_us_per_row: AtomicU64::new(0),
                }),
            );
        }
        Self { system, metrics, components, names, telemetry }
    }

    pub fn component(&self, name: &str) -> Option<&Arc<ComponentRuntime>> {
        self.components.get(name)
    }

    pub fn component_names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }
}

impl ComponentRuntime {
    pub fn model_info(&self) -> &ModelInfo {
        self.model.info()
    }

    /// Runs the model on rows of features in schema order.
    pub async fn infer(&self, rows: Vec<Vec<FeatureValue>>) -> Result<Vec<ModelOutput>, ModelError> {
        self.bounded(rows.len(), move |model| {
            let refs: Vec<&[FeatureValue]> = rows.iter().map(Vec::as_slice).collect();
            model.infer(&refs)
        })
        .await
    }

    /// Runs `work` over `rows` rows on the model, bounded in concurrency (no queue: past
    /// the bound the caller gets `Overloaded`) and in time (past the deadline, `Timeout`).
    ///
    /// Small calls to a model known to be fast run inline and their deadline is checked on
    /// the answer; everything else runs on the blocking pool under a timer. Work that
    /// overruns its deadline keeps its permit until it really finishes, so a hung model
    /// cannot pile up threads.
    pub async fn bounded<T: Send + 'static>(
        &self,
        rows: usize,
        work: impl FnOnce(&OnnxModel) -> Result<T, ModelError> + Send + 'static,
    ) -> Result<T, ModelError> {
        let permit =
            self.in_flight.clone().try_acquire_owned().map_err(|_| ModelError::Overloaded(self.max_in_flight))?;
        let timeout = self.path.component().model.timeout;
        let timed_out = || ModelError::Timeout(timeout.as_millis() as u64);
        let rows = rows.max(1);
        let started = Instant::now();
        if runs_inline(self.typical_us_per_row.load(Ordering::Relaxed), rows) {
            let result = work(&self.model);
            drop(permit);
            let took = started.elapsed();
            self.observe(took, rows);
            return if took > timeout { Err(timed_out()) } else { result };
        }
        let model = self.model.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let result = work(&model);
            (result, started.elapsed())
        });
        match tokio::time::timeout(timeout, task).await {
            Ok(Ok((result, took))) => {
                self.observe(took, rows);
                result
            }
            Ok(Err(join)) => Err(ModelError::Run(format!("the inference task failed: {join}"))),
            Err(_) => {
                self.observe(timeout, rows);
                Err(timed_out())
            }
        }
    }

    fn observe(&self, took: Duration, rows: usize) {
        let sample = (took.as_micros() / rows as u128).min(u64::MAX as u128) as u64;
        let old = self.typical_us_per_row.load(Ordering::Relaxed);
        // exponential moving average, weight 1/8; races only lose a sample
        let new = if old == 0 { sample } else { old - old / 8 + sample / 8 };
        self.typical_us_per_row.store(new.max(1), Ordering::Relaxed);
    }
}

/// Inline only when the model has been timed (the first call may be slow or hang),
/// is fast per row, and the call is small enough that its total stays short.
fn runs_inline(typical_us_per_row: u64, rows: usize) -> bool {
    typical_us_per_row != 0
        && rows <= INLINE_MAX_ROWS
        && typical_us_per_row.saturating_mul(rows as u64) < INLINE_BELOW_US
}

/// Loads ONNX Runtime and every component's model, in component order. Each problem
/// becomes a diagnostic at the place in the system file it is about.
pub fn load_models(system: &System) -> Result<Vec<Arc<OnnxModel>>, Diagnostics> {
    let runtime = Runtime::for_system(system).map_err(|e| {
        rein_system::whole_file(&system.file, e.to_string(), Some("rein loads ONNX Runtime at start-up".into()))
    })?;
    let mut models = Vec::new();
    let mut problems = Vec::new();
    for component in &system.components {
        match OnnxModel::load(component, &runtime) {
            Ok(model) => models.push(Arc::new(model)),
            Err(e) => {
                let location = match &e {
                    RuntimeError::Inputs(_) => component.locations.features,
                    RuntimeError::Labels(_) => component.locations.labels,
                    _ => component.locations.model,
                };
                problems.push(Diagnostic {
                    file: system.file.clone(),
                    location,
                    message: format!("component `{}`: {e}", component.name),
                    hint: None,
                });
            }
        }
    }
    if problems.is_empty() { Ok(models) } else { Err(Diagnostics(problems)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_calls_to_a_timed_fast_model_run_inline() {
        assert!(!runs_inline(0, 1), "a model never timed goes to the blocking pool");
        assert!(runs_inline(10, 1));
        assert!(runs_inline(10, INLINE_MAX_ROWS));
        assert!(!runs_inline(10, INLINE_MAX_ROWS + 1), "large calls go to the blocking pool");
        assert!(!runs_inline(INLINE_BELOW_US, 1), "slow models go to the blocking pool");
        assert!(!runs_inline(50, 8), "8 rows of 50 µs is too long to run inline");
        assert!(!runs_inline(u64::MAX, 2));
    }
}
