//! The server's side of telemetry: opening the store and writer for a data directory,
//! turning decisions into events, and the keyed-hash secret of the privacy policy.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rein_decision::{ModelInfo, Outcome};
use rein_system::System;
use rein_telemetry::{
    Durability, Event, PredictionEvent, RecordError, Retention, SqliteOptions, SqliteStore, Store, Synchronous, Writer,
    WriterConfig,
};

/// Telemetry of a running system: where events go and how durably.
pub struct Telemetry {
    pub writer: Writer,
    pub store: Arc<dyn Store>,
    pub durability: Durability,
    /// Secret of the keyed hash applied to `telemetry = "hash"` features.
    pub key: Vec<u8>,
    pub data_dir: PathBuf,
    /// Longest a request waits for the writer (`telemetry.commit_timeout_ms`).
    pub commit_timeout: Duration,
}

/// Why an event was not recorded, or the writer not flushed, in time.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The writer did not answer in time; what was queued stays queued and is written
    /// when the store recovers.
    #[error("the telemetry store did not commit within {} ms (stalled or too slow)", .0.as_millis())]
    TimedOut(Duration),
}

/// How the command line may override the system file's telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelemetryMode {
    Off,
    Durable,
    Buffered,
}

impl Telemetry {
    /// Opens the SQLite store in `data_dir` and starts the writer (replaying any spill file).
    /// `None` when telemetry is off. Must run inside a tokio runtime (for the pruner).
    pub fn open(system: &System, data_dir: &Path, mode: Option<TelemetryMode>) -> Result<Option<Telemetry>, String> {
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
        let options = SqliteOptions {
            synchronous: if settings.fsync { Synchronous::Full } else { Synchronous::Normal },
            ..SqliteOptions::default()
        };
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_with(data_dir, options).map_err(|e| e.to_string())?);
        Self::start(store, system, data_dir, durability)
    }

    /// Starts the writer over any store (tests pass a wrapped one).
    pub fn start(
        store: Arc<dyn Store>,
        system: &System,
        data_dir: &Path,
        durability: Durability,
    ) -> Result<Option<Telemetry>, String> {
        let settings = &system.telemetry;
        let config = WriterConfig {
            capacity: settings.queue_capacity,
            spill: settings.spill.then(|| data_dir.join("spill.jsonl")),
            ..WriterConfig::default()
        };
        let writer = Writer::start(store.clone(), config).map_err(|e| e.to_string())?;
        let retention = Retention {
            predictions_days: settings.retention.predictions,
            feedback_days: settings.retention.feedback,
            outcomes_days: settings.retention.outcomes,
        };
        if retention != Retention::default() {
            rein_telemetry::spawn_pruner(store.clone(), retention, Duration::from_secs(3600));
        }
        let key = hash_key(data_dir)?;
        let commit_timeout = settings.commit_timeout;
        Ok(Some(Telemetry { writer, store, durability, key, data_dir: data_dir.to_path_buf(), commit_timeout }))
    }

    /// Records one event with the configured durability, waiting at most `commit_timeout`.
    pub async fn record(&self, event: Event) -> Result<(), CommitError> {
        self.bounded(self.writer.record(event, self.durability)).await
    }

    /// Waits until everything queued so far is committed, at most `commit_timeout`.
    pub async fn flush(&self) -> Result<(), CommitError> {
        self.bounded(self.writer.flush()).await
    }

    async fn bounded(&self, wait: impl Future<Output = Result<(), RecordError>>) -> Result<(), CommitError> {
        match tokio::time::timeout(self.commit_timeout, wait).await {
            Ok(done) => Ok(done?),
            Err(_) => Err(CommitError::TimedOut(self.commit_timeout)),
        }
    }
}

/// The keyed-hash secret: made once per data directory, kept beside the data, so hashes
/// stay comparable across restarts and differ between deployments.
fn hash_key(data_dir: &Path) -> Result<Vec<u8>, String> {
    let path = data_dir.join("telemetry.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text.trim().as_bytes().to_vec()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            std::fs::write(&path, &key).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
            }
            Ok(key.into_bytes())
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The prediction event for one decision.
#[allow(clippy::too_many_arguments)]
pub fn prediction_event(
    id: &str,
    time_ms: i64,
    system: &str,
    component: &str,
    unit: Option<&str>,
    model: &ModelInfo,
    features: serde_json::Map<String, serde_json::Value>,
    outcome: &Outcome,
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
        features: serde_json::Value::Object(features),
        raw_output: json(&outcome.raw),
        guardrails: json(&outcome.guardrails),
        output: json(&outcome.output),
        mode: outcome.decision.mode.as_str().to_string(),
        reason: serde_json::to_string(&outcome.decision).unwrap_or_default(),
        fallback: outcome.fallback.is_some(),
        latency_us,
    }
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}
