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
    /// Moving average of inference time, in µs: decides inline or blocking-pool execution.
    typical_us: AtomicU64,
}

/// Models typically faster than this run inline on the async worker: handing a 10 µs
/// inference to the blocking pool costs more than the inference. Slower ones move to the
/// blocking pool, where they cannot stall other requests and their deadline is enforced.
const INLINE_BELOW_US: u64 = 200;

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
                    typical_us: AtomicU64::new(0),
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
        self.bounded(move |model| {
            let refs: Vec<&[FeatureValue]> = rows.iter().map(Vec::as_slice).collect();
            model.infer(&refs)
        })
        .await
    }

    /// Runs `work` on the model, bounded in concurrency (no queue: past the bound the
    /// caller gets `Overloaded`) and in time (past the deadline, `Timeout`).
    ///
    /// Fast models run inline and their deadline is checked on the answer; slow ones run
    /// on the blocking pool under a timer. Work that overruns its deadline keeps its
    /// permit until it really finishes, so a hung model cannot pile up threads.
    pub async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce(&OnnxModel) -> Result<T, ModelError> + Send + 'static,
    ) -> Result<T, ModelError> {
        let permit =
            self.in_flight.clone().try_acquire_owned().map_err(|_| ModelError::Overloaded(self.max_in_flight))?;
        let timeout = self.path.component().model.timeout;
        let timed_out = || ModelError::Timeout(timeout.as_millis() as u64);
        let started = Instant::now();
        if self.typical_us.load(Ordering::Relaxed) < INLINE_BELOW_US {
            let result = work(&self.model);
            drop(permit);
            let took = started.elapsed();
            self.observe(took);
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
                self.observe(took);
                result
            }
            Ok(Err(join)) => Err(ModelError::Run(format!("the inference task failed: {join}"))),
            Err(_) => {
                self.observe(timeout);
                Err(timed_out())
            }
        }
    }

    fn observe(&self, took: Duration) {
        let sample = took.as_micros().min(u64::MAX as u128) as u64;
        let old = self.typical_us.load(Ordering::Relaxed);
        // exponential moving average, weight 1/8; races only lose a sample
        let new = if old == 0 { sample } else { old - old / 8 + sample / 8 };
        self.typical_us.store(new.max(1), Ordering::Relaxed);
    }
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
