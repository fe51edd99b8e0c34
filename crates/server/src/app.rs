//! The running system: every component's decision path and loaded model versions.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rein_decision::{DecisionPath, Model, ModelError, ModelInfo, ModelOutput};
use rein_runtime::ServedModel;
use rein_system::{FeatureValue, System};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::alerting::Alerting;
use crate::call_cost::{CallCost, INLINE_MAX_ROWS};
use crate::metrics::ComponentMetrics;
use crate::telemetry::Telemetry;
use crate::traffic::Traffic;
use crate::versions::ModelVersions;

pub struct App {
    pub system: Arc<System>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    components: HashMap<String, Arc<ComponentRuntime>>,
    names: Vec<String>,
    pub telemetry: Option<Telemetry>,
    /// The monitors and their alerts, when telemetry is on (see [`crate::alerting`]).
    pub alerting: Option<Arc<Alerting>>,
    /// How often the monitors' task looks for closed windows.
    monitor_tick: Duration,
    /// The model registry, when the server keeps one (`rein serve`): `/v1/models`.
    pub registry: Option<crate::models::Models>,
    /// The rollout controller (it acts with a registry and telemetry; see [`crate::rollouts`]).
    pub rollouts: crate::rollouts::Controller,
    /// Worker threads that serve it (see [`crate::workers`]); each has its own batching queues.
    workers: usize,
    /// The system file's traffic plans that could not serve (an alias naming no loaded
    /// version): `rein serve` refuses to start with any.
    traffic_errors: Vec<crate::traffic::TrafficError>,
}

pub struct ComponentRuntime {
    pub name: String,
    pub metrics: ComponentMetrics,
    pub path: DecisionPath,
    /// Its loaded model versions; predictions go to the default one. Read once per
    /// request (a clone of the `Arc`), replaced whole by a swap: a request finishes on the
    /// versions it started with.
    serving: RwLock<Arc<ModelVersions>>,
    /// Its traffic plan, read once per request as `serving` is; none: the champion answers.
    traffic: RwLock<Option<Arc<Traffic>>>,
    /// Held while a swap loads and checks a version, so that swaps of one component
    /// happen one at a time, in the order their alias moves are recorded.
    pub(crate) swapping: tokio::sync::Mutex<()>,
    /// Bounds inferences in flight: past it, a request gets the fallback, not a queue.
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    /// What its calls cost, by size: decides inline or blocking-pool execution.
    call_cost: CallCost,
    /// Requests waiting for the next batched model call, a queue per worker thread (see
    /// [`crate::workers`]) so that a call never wakes a request on another thread; each
    /// waiter drains its queue, so it never holds more than the requests in flight.
    queues: Box<[Mutex<VecDeque<Waiting>>]>,
    next_waiting: AtomicU64,
}

/// Most rows one batched model call carries; a request with this many goes alone.
/// No more than may run inline: a larger batch would go to the blocking pool, whose
/// hand-off costs more tail latency than the larger batch saves (measured: p99 at
/// 25k req/s 9.8 ms with 64, 2.0 ms with 16).
const MAX_BATCH_ROWS: usize = INLINE_MAX_ROWS;

impl App {
    /// Builds the app from a validated system and each component's loaded models (a
    /// model, or a set of versions; same order as components), to be served by one
    /// worker per core.
    pub fn new(system: System, models: Vec<impl Into<ModelVersions>>, telemetry: Option<Telemetry>) -> Self {
        Self::on_workers(system, models, telemetry, crate::workers::default_count())
    }

    /// As [`App::new`], to be served by `workers` worker threads.
    pub fn on_workers(
        system: System,
        models: Vec<impl Into<ModelVersions>>,
        telemetry: Option<Telemetry>,
        workers: usize,
    ) -> Self {
        let workers = workers.max(1);
        let metrics = crate::metrics::install();
        let system = Arc::new(system);
        let mut components = HashMap::new();
        let mut names = Vec::new();
        let mut traffic_errors = Vec::new();
        for (component, models) in system.components.iter().zip(models) {
            let models: ModelVersions = models.into();
            let traffic = system.traffic.get(&component.name).and_then(|declared| {
                let has_fallback = component.fallback.is_some();
                Traffic::new(&component.name, declared.plan.clone(), has_fallback, &models)
                    .map_err(|e| traffic_errors.push(e))
                    .ok()
                    .map(Arc::new)
            });
            let max_in_flight = component.model.max_concurrency;
            names.push(component.name.clone());
            components.insert(
                component.name.clone(),
                Arc::new(ComponentRuntime {
                    name: component.name.clone(),
                    metrics: ComponentMetrics::new(component, &models.default().info().version),
                    path: DecisionPath::new(component.clone(), rein_decision::DEFAULT_MAX_TRACKED_UNITS),
                    serving: RwLock::new(Arc::new(models)),
                    traffic: RwLock::new(traffic),
                    swapping: tokio::sync::Mutex::new(()),
                    in_flight: Arc::new(Semaphore::new(max_in_flight)),
                    max_in_flight,
                    call_cost: CallCost::default(),
                    queues: (0..workers).map(|_| Mutex::new(VecDeque::new())).collect(),
                    next_waiting: AtomicU64::new(0),
                }),
            );
        }
        let alerting = telemetry.as_ref().map(|_| Arc::new(Alerting::new(system.clone())));
        Self {
            system,
            metrics,
            components,
            names,
            telemetry,
            alerting,
            registry: None,
            rollouts: crate::rollouts::Controller::default(),
            monitor_tick: crate::alerting::DEFAULT_TICK,
            workers,
            traffic_errors,
        }
    }

    /// How often the monitors' task looks for closed windows (default: every second).
    pub fn with_monitor_tick(mut self, tick: Duration) -> Self {
        self.monitor_tick = tick;
        self
    }

    /// Starts what runs beside the requests: the monitors' task and the webhook's sender.
    /// Once; within a tokio runtime ([`crate::serve`] calls it).
    pub fn start_background(&self) {
        if let (Some(alerting), Some(t)) = (&self.alerting, &self.telemetry) {
            let source = crate::alerting::Source {
                store: t.store.clone(),
                writer: t.writer.clone(),
                clock: t.clock.clone(),
                commit_timeout: t.commit_timeout,
            };
            alerting.start(source, self.monitor_tick);
        }
    }

    /// Evaluates the monitors over every window closed by now, without waiting for the
    /// task's next tick; nothing to do without monitors or telemetry.
    pub async fn evaluate_monitors(&self) -> Result<(), String> {
        let (Some(alerting), Some(t)) = (&self.alerting, &self.telemetry) else { return Ok(()) };
        let source = crate::alerting::Source {
            store: t.store.clone(),
            writer: t.writer.clone(),
            clock: t.clock.clone(),
            commit_timeout: t.commit_timeout,
        };
        alerting.evaluate_now(&source).await
    }

    /// How often the background tasks look for closed windows.
    pub fn monitor_tick(&self) -> Duration {
        self.monitor_tick
    }

    /// Takes each rollout one look further over every window closed by now, without waiting
    /// for the controller's next tick (a test's, or the demo's, clock).
    pub async fn evaluate_rollouts(&self) -> Result<(), String> {
        self.rollouts.evaluate(self).await
    }

    /// Stops it ([`crate::finish`] calls it).
    pub fn stop_background(&self) {
        self.rollouts.stop();
        if let Some(alerting) = &self.alerting {
            alerting.stop();
        }
    }

    /// The system file's traffic plans that name an alias or version no component loaded.
    pub fn traffic_errors(&self) -> &[crate::traffic::TrafficError] {
        &self.traffic_errors
    }

    /// How many worker threads serve it.
    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn component(&self, name: &str) -> Option<&Arc<ComponentRuntime>> {
        self.components.get(name)
    }

    pub fn component_names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }
}

impl ComponentRuntime {
    /// Its loaded versions as they are now; a request takes them once and keeps them.
    pub fn models(&self) -> Arc<ModelVersions> {
        self.serving.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Its traffic plan as it is now; a request takes it once, with its versions.
    pub fn traffic(&self) -> Option<Arc<Traffic>> {
        self.traffic.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces its traffic plan (none: the champion answers everything).
    pub fn set_traffic(&self, next: Option<Arc<Traffic>>) {
        *self.traffic.write().unwrap_or_else(|e| e.into_inner()) = next;
    }

    /// What identifies the default version, which answers predictions now.
    pub fn model_info(&self) -> ModelInfo {
        self.models().default().info().clone()
    }

    /// Replaces its loaded versions by `next(current)`, at once: requests that took the
    /// current set finish on it; every later one takes the new.
    pub fn swap(&self, next: impl FnOnce(&ModelVersions) -> ModelVersions) -> Arc<ModelVersions> {
        let mut serving = self.serving.write().unwrap_or_else(|e| e.into_inner());
        let swapped = Arc::new(next(&serving));
        *serving = swapped.clone();
        swapped
    }

    /// Runs `model` (one of its versions, taken by the request when it started) on rows of
    /// features in schema order.
    ///
    /// Concurrent calls are batched: each joins the queue and yields once, so that the
    /// requests this worker already has ready join too; the first to resume runs all that
    /// is queued, in as few model calls as possible. One call of 8 rows costs about as
    /// much as two of 1, so under load this is most of the model's cost saved, and alone
    /// a request waits for nothing but its own yield.
    /// Requests batched together always share their model: a call takes the first queued
    /// request's version and every other queued request of it, the rest wait their turn.
    pub async fn infer(
        self: &Arc<Self>,
        model: &Arc<dyn ServedModel>,
        rows: Vec<Vec<FeatureValue>>,
    ) -> Result<Vec<ModelOutput>, ModelError> {
        if rows.len() >= MAX_BATCH_ROWS {
            let n = rows.len();
            return self.bounded(model, n, move |model| infer_rows(model, &rows)).await;
        }
        let (reply, answer) = oneshot::channel();
        // the queue it joins is the one it runs, wherever the task resumes
        let queue = &self.queues[crate::workers::current().unwrap_or(0) % self.queues.len()];
        let id = {
            let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
            let id = self.next_waiting.fetch_add(1, Ordering::Relaxed);
            queue.push_back(Waiting { id, model: model.clone(), rows, reply });
            id
        };
        tokio::task::yield_now().await;
        self.run_queued(queue, id);
        answer
            .await
            .unwrap_or_else(|_| Err(ModelError::Run("the model call carrying this request was abandoned".into())))
    }

    /// Runs what is queued up to and including the entry `own`, in calls of at most
    /// [`MAX_BATCH_ROWS`] rows; later entries belong to requests that will run them
    /// themselves, so no request works for others past its own answer. Calls that run
    /// inline have no await, so they cannot be abandoned halfway; the others run on a
    /// task of their own, so a cancelled request never takes its batch-mates down with it.
    fn run_queued(self: &Arc<Self>, queue: &Mutex<VecDeque<Waiting>>, own: u64) {
        loop {
            let batch = {
                let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
                if queue.front().is_none_or(|w| w.id > own) {
                    return;
                }
                take_batch(&mut queue)
            };
            if batch.is_empty() {
                continue;
            }
            let model = batch[0].model.clone();
            let sizes: Vec<usize> = batch.iter().map(|w| w.rows.len()).collect();
            let (rows, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|w| (w.rows, w.reply)).unzip();
            let rows: Vec<Vec<FeatureValue>> = rows.into_iter().flatten().collect();
            let n = rows.len();
            let work = move |model: &dyn ServedModel| Ok(infer_batch(model, &rows, &sizes));
            let permit = match self.permit() {
                Ok(permit) => permit,
                Err(e) => {
                    answer_all(replies, Err(e));
                    continue;
                }
            };
            if self.inline(n) {
                answer_all(replies, self.run_inline(permit, n, &*model, work));
            } else {
                let this = self.clone();
                tokio::spawn(async move {
                    let result = this.run_blocking(permit, n, model, work).await;
                    answer_all(replies, result);
                });
            }
        }
    }

    /// Runs `work` over `rows` rows on `model` (one of its versions), bounded in
    /// concurrency (no queue: past the bound the caller gets `Overloaded`; the versions
    /// share the bound) and in time (past the deadline, `Timeout`).
    ///
    /// Small calls to a model known to be fast run inline and their deadline is checked on
    /// the answer; everything else runs on the blocking pool under a timer. Work that
    /// overruns its deadline keeps its permit until it really finishes, so a hung model
    /// cannot pile up threads.
    pub async fn bounded<T: Send + 'static>(
        &self,
        model: &Arc<dyn ServedModel>,
        rows: usize,
        work: impl FnOnce(&dyn ServedModel) -> Result<T, ModelError> + Send + 'static,
    ) -> Result<T, ModelError> {
        let permit = self.permit()?;
        if self.inline(rows) {
            self.run_inline(permit, rows, &**model, work)
        } else {
            self.run_blocking(permit, rows, model.clone(), work).await
        }
    }

    fn permit(&self) -> Result<OwnedSemaphorePermit, ModelError> {
        self.in_flight.clone().try_acquire_owned().map_err(|_| ModelError::Overloaded(self.max_in_flight))
    }

    fn inline(&self, rows: usize) -> bool {
        self.call_cost.runs_inline(rows)
    }

    fn timed_out(&self) -> ModelError {
        ModelError::Timeout(self.path.component().model.timeout.as_millis() as u64)
    }

    fn run_inline<T>(
        &self,
        permit: OwnedSemaphorePermit,
        rows: usize,
        model: &dyn ServedModel,
        work: impl FnOnce(&dyn ServedModel) -> Result<T, ModelError>,
    ) -> Result<T, ModelError> {
        let started = Instant::now();
        let result = work(model);
        drop(permit);
        let took = started.elapsed();
        self.observe(took, rows);
        if took > self.path.component().model.timeout { Err(self.timed_out()) } else { result }
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        permit: OwnedSemaphorePermit,
        rows: usize,
        model: Arc<dyn ServedModel>,
        work: impl FnOnce(&dyn ServedModel) -> Result<T, ModelError> + Send + 'static,
    ) -> Result<T, ModelError> {
        let timeout = self.path.component().model.timeout;
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // timed from here: the wait for a pool thread is not the model's time
            let started = Instant::now();
            let result = work(&*model);
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
                Err(self.timed_out())
            }
        }
    }

    fn observe(&self, took: Duration, rows: usize) {
        self.metrics.model_duration.record(took);
        self.metrics.model_batch_rows.record(rows.max(1) as f64);
        self.call_cost.observe(took, rows);
    }
}

/// A request's rows waiting in the queue for a model call.
struct Waiting {
    /// Order of arrival: entries up to a request's own are its to run.
    id: u64,
    /// The version the request took when it started, which must answer it.
    model: Arc<dyn ServedModel>,
    rows: Vec<Vec<FeatureValue>>,
    reply: oneshot::Sender<Result<Vec<ModelOutput>, ModelError>>,
}

/// One call's worth of the queue: the first live entry and, after it, the queued entries
/// of the same version in order, while they fit the row limit (a request over it goes
/// alone); entries of other versions keep their places for the next call. So two versions interleaved (a split) still batch as fully as one.
/// Entries of requests that gave up waiting are dropped, not run.
fn take_batch(queue: &mut VecDeque<Waiting>) -> Vec<Waiting> {
    let mut rows = 0;
    let mut batch: Vec<Waiting> = Vec::new();
    let mut i = 0;
    while i < queue.len() && rows < MAX_BATCH_ROWS {
        let next = &queue[i];
        if next.reply.is_closed() {
            queue.remove(i);
            continue;
        }
        match batch.first() {
            // another version's: it keeps its place for its own call
            Some(first) if !Arc::ptr_eq(&first.model, &next.model) => i += 1,
            // the version's next request does not fit: the call ends, in order
            Some(_) if rows + next.rows.len() > MAX_BATCH_ROWS => break,
            _ => {
                rows += next.rows.len();
                batch.extend(queue.remove(i));
            }
        }
    }
    batch
}

fn infer_rows(model: &dyn ServedModel, rows: &[Vec<FeatureValue>]) -> Result<Vec<ModelOutput>, ModelError> {
    let refs: Vec<&[FeatureValue]> = rows.iter().map(Vec::as_slice).collect();
    model.infer(&refs)
}

/// One call for the rows of several requests (`sizes` rows each, in order); each request's
/// share of the outputs. If the call fails and carries more than one request, each is run
/// alone: one request's bad input must not fail the others it happened to be batched with.
fn infer_batch(
    model: &(impl Model + ?Sized),
    rows: &[Vec<FeatureValue>],
    sizes: &[usize],
) -> Vec<Result<Vec<ModelOutput>, ModelError>> {
    let refs: Vec<&[FeatureValue]> = rows.iter().map(Vec::as_slice).collect();
    let total = refs.len();
    let checked = |outputs: Vec<ModelOutput>, n: usize| {
        if outputs.len() == n {
            Ok(outputs)
        } else {
            Err(ModelError::Output(format!("the model gave {} outputs for {n} rows", outputs.len())))
        }
    };
    match model.infer(&refs).and_then(|outputs| checked(outputs, total)) {
        Ok(outputs) => {
            let mut outputs = outputs.into_iter();
            sizes.iter().map(|&n| Ok(outputs.by_ref().take(n).collect())).collect()
        }
        Err(e) if sizes.len() == 1 => vec![Err(e)],
        Err(_) => {
            let mut start = 0;
            sizes
                .iter()
                .map(|&n| {
                    let own = &refs[start..start + n];
                    start += n;
                    model.infer(own).and_then(|outputs| checked(outputs, n))
                })
                .collect()
        }
    }
}

/// Gives each waiting request its result, or every one the error of the whole call.
fn answer_all(
    replies: Vec<oneshot::Sender<Result<Vec<ModelOutput>, ModelError>>>,
    results: Result<Vec<Result<Vec<ModelOutput>, ModelError>>, ModelError>,
) {
    match results {
        Ok(results) => {
            for (reply, result) in replies.into_iter().zip(results) {
                // a request that gave up waiting has dropped its receiver: nothing to do
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Answer = oneshot::Receiver<Result<Vec<ModelOutput>, ModelError>>;

    fn waiting(id: u64, rows: usize) -> (Waiting, Answer) {
        waiting_on(id, rows, &doubler("1"))
    }

    fn waiting_on(id: u64, rows: usize, model: &Arc<dyn ServedModel>) -> (Waiting, Answer) {
        let (reply, answer) = oneshot::channel();
        let rows = vec![vec![FeatureValue::Integer(rows as i64)]; rows];
        (Waiting { id, model: model.clone(), rows, reply }, answer)
    }

    fn doubler(version: &str) -> Arc<dyn ServedModel> {
        static ONE: std::sync::OnceLock<Arc<dyn ServedModel>> = std::sync::OnceLock::new();
        let make = || -> Arc<dyn ServedModel> {
            Arc::new(Doubler(ModelInfo { name: "doubler".into(), version: version.into() }))
        };
        if version == "1" { ONE.get_or_init(make).clone() } else { make() }
    }

    #[test]
    fn a_batch_takes_whole_requests_up_to_the_row_limit_and_drops_abandoned_ones() {
        assert_eq!(MAX_BATCH_ROWS, 16);
        let (entries, mut answers): (Vec<_>, Vec<_>) =
            [1, 8, 7, 3, 40, 1, 2].into_iter().enumerate().map(|(i, n)| waiting(i as u64, n)).unzip();
        let mut queue: VecDeque<Waiting> = entries.into_iter().collect();
        drop(answers.remove(5)); // the request with 1 row gave up waiting
        let sizes = |b: Vec<Waiting>| b.iter().map(|w| w.rows.len()).collect::<Vec<_>>();
        assert_eq!(sizes(take_batch(&mut queue)), [1, 8, 7]);
        assert_eq!(sizes(take_batch(&mut queue)), [3]);
        // a request over the limit still goes, alone
        assert_eq!(sizes(take_batch(&mut queue)), [40]);
        assert_eq!(sizes(take_batch(&mut queue)), [2]);
        assert!(take_batch(&mut queue).is_empty());
    }

    #[test]
    fn a_batch_never_mixes_versions_and_takes_each_versions_queued_requests_together() {
        let (old, new) = (doubler("old"), doubler("new"));
        let (entries, _answers): (Vec<_>, Vec<_>) = [(1, &old), (1, &new), (2, &old), (1, &new), (1, &old)]
            .into_iter()
            .enumerate()
            .map(|(i, (n, m))| waiting_on(i as u64, n, m))
            .unzip();
        let mut queue: VecDeque<Waiting> = entries.into_iter().collect();
        let ids = |b: Vec<Waiting>| b.iter().map(|w| (w.model.info().version.clone(), w.id)).collect::<Vec<_>>();
        // the versions interleave (a split); each call takes one version's, in queue order
        let o = |id| ("old".to_string(), id);
        let n = |id| ("new".to_string(), id);
        assert_eq!(ids(take_batch(&mut queue)), [o(0), o(2), o(4)]);
        assert_eq!(ids(take_batch(&mut queue)), [n(1), n(3)]);
        assert!(queue.is_empty());
    }

    /// Doubles each row's single integer; a negative one is a bad input.
    struct Doubler(ModelInfo);

    impl rein_runtime::RawModel for Doubler {
        fn inputs(&self) -> &[rein_runtime::TensorSpec] {
            &[]
        }
        fn outputs(&self) -> &[rein_runtime::TensorSpec] {
            &[]
        }
        fn platform(&self) -> &str {
            "test"
        }
        fn infer_raw(&self, _: Vec<rein_runtime::RawTensor>) -> Result<Vec<rein_runtime::RawTensor>, ModelError> {
            Err(ModelError::Run("no raw calls".into()))
        }
    }

    impl ServedModel for Doubler {
        fn engine(&self) -> rein_runtime::Engine {
            rein_runtime::Engine::OnnxRuntime { reason: "a test model".into() }
        }
        fn model_labels(&self) -> Option<&[String]> {
            None
        }
        fn warnings(&self) -> &[rein_runtime::LoadWarning] {
            &[]
        }
    }

    impl Model for Doubler {
        fn info(&self) -> &ModelInfo {
            &self.0
        }
        fn infer(&self, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError> {
            rows.iter()
                .map(|row| match row[0] {
                    FeatureValue::Integer(x) if x >= 0 => Ok(ModelOutput::Value(2.0 * x as f64)),
                    ref other => Err(ModelError::Input(format!("bad value {other:?}"))),
                })
                .collect()
        }
    }

    #[test]
    fn each_request_gets_its_own_outputs_and_a_bad_one_fails_alone() {
        let model = Doubler(ModelInfo { name: "doubler".into(), version: "1".into() });
        let rows = |xs: &[i64]| xs.iter().map(|&x| vec![FeatureValue::Integer(x)]).collect::<Vec<_>>();
        let v = |xs: &[f64]| Ok(xs.iter().map(|&x| ModelOutput::Value(x)).collect::<Vec<_>>());

        let results = infer_batch(&model, &rows(&[1, 2, 3, 4]), &[1, 3]);
        assert_eq!(results, vec![v(&[2.0]), v(&[4.0, 6.0, 8.0])]);

        // the second request's bad row fails the call: it is retried alone, the others succeed
        let results = infer_batch(&model, &rows(&[1, 2, -3, 4]), &[1, 2, 1]);
        assert_eq!(results[0], v(&[2.0]));
        assert!(matches!(results[1], Err(ModelError::Input(_))), "{results:?}");
        assert_eq!(results[2], v(&[8.0]));

        // an error of the whole call reaches every request
        let (a, mut answer_a) = waiting(0, 1);
        let (b, mut answer_b) = waiting(1, 1);
        answer_all(vec![a.reply, b.reply], Err(ModelError::Overloaded(4)));
        assert_eq!(answer_a.try_recv().unwrap(), Err(ModelError::Overloaded(4)));
        assert_eq!(answer_b.try_recv().unwrap(), Err(ModelError::Overloaded(4)));
    }
}
