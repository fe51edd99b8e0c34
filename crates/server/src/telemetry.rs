//! The server's side of telemetry: opening the store and writer for a data directory,
//! turning decisions into events, and the keyed-hash secret of the privacy policy.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rein_decision::privacy::FeatureHasher;
use rein_decision::{ModelInfo, Outcome};
use rein_system::{Component, FeatureKind, System, Task, TelemetryPolicy};
use rein_telemetry::{
    Clock, ColumnType, DataDir, Durability, Event, ExportFeature, ExportSpec, ExportTask, JsonText, PredictionEvent,
    RecordError, Retention, SqliteOptions, SqliteStore, Store, Synchronous, Writer, WriterConfig, clock,
};

/// Telemetry of a running system: where events go and how durably.
pub struct Telemetry {
    pub writer: Writer,
    pub store: Arc<dyn Store>,
    pub durability: Durability,
    /// The keyed hash applied to `telemetry = "hash"` features (its secret in the data directory).
    pub hasher: FeatureHasher,
    /// Held locked while the server runs: a second server on the same data is refused.
    pub data_dir: DataDir,
    /// Longest a request waits for the writer (`telemetry.commit_timeout_ms`).
    pub commit_timeout: Duration,
    /// The clock the writer runs on: the monitors' wall clock too.
    pub clock: Arc<dyn Clock>,
}

/// Why an event was not recorded, or the store not caught up, in time.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The store did not catch up in time (stalled or too slow); what is in the log stays
    /// there and reaches the store when it can.
    #[error("the telemetry store did not catch up within {} ms (stalled or too slow)", .0.as_millis())]
    TimedOut(Duration),
    /// As `TimedOut`, while the store's writes fail: the cause is named.
    #[error("the telemetry store did not catch up within {} ms: {failure}", .waited.as_millis())]
    StoreFailing { waited: Duration, failure: rein_telemetry::StoreFailure },
}

/// How the command line may override the system file's telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelemetryMode {
    Off,
    Durable,
    Buffered,
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(transparent)]
    DataDir(#[from] rein_telemetry::DataDirError),
    #[error(transparent)]
    Store(#[from] rein_telemetry::StoreError),
    #[error(transparent)]
    Start(#[from] rein_telemetry::StartError),
}

impl Telemetry {
    /// Locks `data_dir`, opens its SQLite store and starts the writer (loading what the event
    /// log holds). `None` when telemetry is off.
    pub fn open(
        system: &System,
        data_dir: &Path,
        mode: Option<TelemetryMode>,
    ) -> Result<Option<Telemetry>, TelemetryError> {
        let settings = &system.telemetry;
        let durability = match mode {
            Some(TelemetryMode::Off) => return Ok(None),
            None if !settings.enabled => return Ok(None),
            Some(TelemetryMode::Durable) => Durability::Durable,
            Some(TelemetryMode::Buffered) => Durability::Buffered,
            None => match settings.durability {
                rein_system::Durability::Durable => Durability::Durable,
                rein_system::Durability::Buffered => Durability::Buffered,
            },
        };
        let data_dir = DataDir::lock(data_dir)?;
        let options = SqliteOptions {
            synchronous: if settings.fsync { Synchronous::Full } else { Synchronous::Normal },
            ..SqliteOptions::default()
        };
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_with(data_dir.path(), options)?);
        Self::start(store, system, data_dir, durability, clock::system()).map(Some)
    }

    /// Starts the writer over any store (tests pass a wrapped one) and clock.
    pub fn start(
        store: Arc<dyn Store>,
        system: &System,
        data_dir: DataDir,
        durability: Durability,
        clock: Arc<dyn Clock>,
    ) -> Result<Telemetry, TelemetryError> {
        let settings = &system.telemetry;
        let retention = Retention {
            predictions_days: settings.retention.predictions,
            feedback_days: settings.retention.feedback,
            outcomes_days: settings.retention.outcomes,
            max_bytes: settings.max_store_bytes,
        };
        let config = WriterConfig {
            max_backlog: settings.max_backlog,
            fsync: settings.fsync,
            // every minute: a store at its size bound grows past it by a minute's events at most
            retention: (retention != Retention::default()).then_some(retention),
            ..WriterConfig::default()
        };
        // The writer takes its metric handles as it starts: the recorder must be there first.
        crate::metrics::install();
        let writer = Writer::start(store.clone(), &data_dir, config, clock.clone())?;
        let hasher = FeatureHasher::new(&data_dir.hash_key()?);
        let commit_timeout = settings.commit_timeout;
        Ok(Telemetry { writer, store, durability, hasher, data_dir, commit_timeout, clock })
    }

    /// Records one event with the configured durability, waiting at most `commit_timeout`.
    pub async fn record(&self, event: Event) -> Result<(), CommitError> {
        self.bounded(self.writer.record(event, self.durability)).await
    }

    /// Waits until everything answered so far is in the store, at most `commit_timeout`.
    pub async fn flush(&self) -> Result<(), CommitError> {
        self.bounded(self.writer.flush()).await
    }

    async fn bounded<T>(&self, wait: impl Future<Output = Result<T, RecordError>>) -> Result<T, CommitError> {
        match tokio::time::timeout(self.commit_timeout, wait).await {
            Ok(done) => Ok(done?),
            Err(_) => Err(match self.writer.store_failure() {
                Some(failure) => CommitError::StoreFailing { waited: self.commit_timeout, failure },
                None => CommitError::TimedOut(self.commit_timeout),
            }),
        }
    }

    /// Why this replica should get no predictions now, if it should not: its events could
    /// not be recorded, or the store lags past the bound of what may wait for it.
    pub fn unready(&self) -> Option<String> {
        let w = &self.writer;
        if let Some(failure) = w.log_failure() {
            return Some(format!("the telemetry event log cannot be written: {failure}"));
        }
        if let Some(failure) = w.store_failure() {
            return Some(format!("the telemetry store is failing: {failure}"));
        }
        if let Some(age) = w.log_append_age().filter(|age| *age > self.commit_timeout) {
            return Some(format!(
                "an append to the telemetry event log has not finished for {} ms, longer than `commit_timeout_ms` \
                 ({} ms): its disk is stalled, and the request thread waiting on it answers nothing meanwhile",
                age.as_millis(),
                self.commit_timeout.as_millis()
            ));
        }
        if let Some(age) = w.store_write_age().filter(|age| *age > self.commit_timeout) {
            return Some(format!(
                "the telemetry store has not finished a write for {} ms, longer than `commit_timeout_ms` ({} ms): \
                 its disk is stalled or far too slow",
                age.as_millis(),
                self.commit_timeout.as_millis()
            ));
        }
        let backlog = w.backlog();
        (backlog >= w.max_backlog()).then(|| {
            format!("{backlog} telemetry events wait for the store, the most allowed: it is too slow for this traffic")
        })
    }
}

/// The parts of an outcome that both its telemetry event and the answer carry, serialized
/// once for both.
pub struct SerializedOutcome {
    pub raw: JsonText,
    pub output: JsonText,
    pub guardrails: JsonText,
    pub decision: JsonText,
}

impl SerializedOutcome {
    pub fn of(outcome: &Outcome) -> SerializedOutcome {
        let output = JsonText::of(&outcome.output);
        // untouched by the guardrails, the output is the model's own
        let raw =
            if outcome.raw.as_ref() == Some(&outcome.output) { output.clone() } else { JsonText::of(&outcome.raw) };
        SerializedOutcome {
            raw,
            output,
            guardrails: JsonText::of(&outcome.guardrails),
            decision: JsonText::of(&outcome.decision),
        }
    }
}

/// The prediction event of one decided instance.
#[allow(clippy::too_many_arguments)]
pub fn prediction_event(
    id: &str,
    time_ms: i64,
    system: &str,
    component: &str,
    unit: Option<&str>,
    model: &ModelInfo,
    features: JsonText,
    outcome: &Outcome,
    serialized: &SerializedOutcome,
    latency_us: u64,
) -> PredictionEvent {
    PredictionEvent {
        id: id.to_string(),
        time_ms,
        system: system.to_string(),
        component: component.to_string(),
        unit: unit.map(str::to_string),
        model_name: model.name.clone(),
        model_version: model.version.clone(),
        variant: rein_telemetry::events::DEFAULT_VARIANT.to_string(),
        features,
        raw_output: serialized.raw.clone(),
        guardrails: serialized.guardrails.clone(),
        output: serialized.output.clone(),
        mode: outcome.decision.mode.as_str().to_string(),
        decision: serialized.decision.clone(),
        fallback: outcome.fallback.clone(),
        latency_us,
        experiment: None,
        shadow_of: None,
    }
}

/// What an export of `component`'s predictions needs of its declaration: its task and labels,
/// and its features as telemetry stores them, in the schema's order: each of its schema type,
/// a hashed one text, a dropped one left out.
pub fn export_spec(component: &Component) -> ExportSpec {
    let features = component
        .features
        .iter()
        .filter_map(|f| {
            let column = match (f.telemetry, &f.kind) {
                (TelemetryPolicy::Drop, _) => return None,
                (TelemetryPolicy::Hash, _) => ColumnType::String,
                (_, FeatureKind::Number { .. }) => ColumnType::Double,
                (_, FeatureKind::Integer { .. }) => ColumnType::Int64,
                (_, FeatureKind::Boolean) => ColumnType::Bool,
                (_, FeatureKind::Category { .. } | FeatureKind::Text { .. }) => ColumnType::String,
            };
            Some(ExportFeature { name: f.name.clone(), column })
        })
        .collect();
    ExportSpec {
        component: component.name.clone(),
        task: match component.task {
            Task::Binary => ExportTask::Binary,
            Task::Multiclass => ExportTask::Multiclass,
            Task::Regression => ExportTask::Regression,
        },
        labels: component.labels.clone(),
        features,
    }
}
