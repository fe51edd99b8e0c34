//! The server's side of telemetry: opening the store and writer for a data directory,
//! turning decisions into events, and the keyed-hash secret of the privacy policy.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rein_decision::privacy::FeatureHasher;
use rein_decision::{ModelInfo, Outcome};
use rein_system::System;
use rein_telemetry::{
    Durability, Event, JsonText, PredictionEvent, RecordError, Retention, SqliteOptions, SqliteStore, Store,
    Synchronous, Writer, WriterConfig,
};

/// Telemetry of a running system: where events go and how durably.
pub struct Telemetry {
    pub writer: Writer,
    pub store: Arc<dyn Store>,
    pub durability: Durability,
    /// The keyed hash applied to `telemetry = "hash"` features (its secret in `telemetry.key`).
    pub hasher: FeatureHasher,
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
    /// As `TimedOut`, while the store's writes fail: the cause is named.
    #[error("the telemetry store did not commit within {} ms: {failure}", .waited.as_millis())]
    StoreFailing { waited: Duration, failure: rein_telemetry::StoreFailure },
}

impl CommitError {
    /// Whether the event was not recorded because the store's writes fail (a full disk, say),
    /// rather than because it is slow or the queue is busy.
    pub fn store_failing(&self) -> bool {
        matches!(
            self,
            CommitError::StoreFailing { .. }
                | CommitError::Record(RecordError::Store { .. })
                | CommitError::Record(RecordError::Overloaded { failing: Some(_), .. })
        )
    }
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
            journal: Some(data_dir.join(JOURNAL_FILE)),
            journal_sync: settings.fsync,
            ..WriterConfig::default()
        };
        // The writer takes its metric handles as it starts: the recorder must be there first.
        crate::metrics::install();
        let writer = Writer::start(store.clone(), config).map_err(|e| e.to_string())?;
        let retention = Retention {
            predictions_days: settings.retention.predictions,
            feedback_days: settings.retention.feedback,
            outcomes_days: settings.retention.outcomes,
            max_bytes: settings.max_store_bytes,
        };
        if retention != Retention::default() {
            // every minute: a store at its size bound grows past it by a minute's events at most
            rein_telemetry::spawn_pruner(store.clone(), retention, Duration::from_secs(60));
        }
        let hasher = FeatureHasher::new(&hash_key(data_dir)?);
        let commit_timeout = settings.commit_timeout;
        Ok(Some(Telemetry { writer, store, durability, hasher, data_dir: data_dir.to_path_buf(), commit_timeout }))
    }

    /// Records one event with the configured durability, waiting at most `commit_timeout`.
    pub async fn record(&self, event: Event) -> Result<(), CommitError> {
        self.bounded(self.writer.record(event, self.durability)).await
    }

    /// Waits until everything queued so far is committed, at most `commit_timeout`.
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
}

/// File of the journal of answered durable events in the data directory.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// File of the keyed-hash secret in the data directory.
pub const KEY_FILE: &str = "telemetry.key";

/// Length of the keyed-hash secret rein makes (64 hex digits); a shorter one is refused.
pub const KEY_LEN: usize = 64;

/// The keyed-hash secret: made once per data directory, kept beside the data, so hashes
/// stay comparable across restarts and differ between deployments.
fn hash_key(data_dir: &Path) -> Result<Vec<u8>, String> {
    let path = data_dir.join(KEY_FILE);
    if let Some(key) = read_key(&path)? {
        return Ok(key);
    }
    create_key(&path)?;
    // Whoever linked first won: everyone uses the key on disk.
    read_key(&path)?.ok_or_else(|| format!("the telemetry key file {} vanished as it was made", path.display()))
}

fn read_key(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the telemetry key file {}: {e}", path.display())),
    };
    let key = text.trim();
    if key.len() < KEY_LEN {
        return Err(format!(
            "the telemetry key file {} holds {} bytes, fewer than the {KEY_LEN} of a key: it is empty or truncated. \
             Restore it from a backup (features hashed with another key no longer match), or, if those hashes \
             do not matter, delete it and rein makes a new key",
            path.display(),
            key.len()
        ));
    }
    Ok(Some(key.as_bytes().to_vec()))
}

/// Writes a new key to a private temp file (0600 from the start), then hard-links it into
/// place, which never overwrites: a concurrent start never sees a partial key, and the
/// first key linked is the one every process uses.
fn create_key(path: &Path) -> Result<(), String> {
    let key = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let tmp = path.with_file_name(format!(".{KEY_FILE}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let linked = write_private(&tmp, key.as_bytes()).and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            // Best effort: keep the new name across a power loss, or later hashes would change.
            if let Some(dir) = path.parent() {
                let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("cannot create the telemetry key file {}: {e}", path.display())),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
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
        reason: serialized.decision.as_str().to_string(),
        fallback: outcome.fallback.is_some(),
        latency_us,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_private_from_the_start_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let key = hash_key(dir.path()).unwrap();
        assert_eq!(key.len(), KEY_LEN);
        assert_eq!(hash_key(dir.path()).unwrap(), key, "the same key on every start");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, [KEY_FILE], "no temp file is left behind");
    }

    #[test]
    fn an_empty_or_truncated_key_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        for short in ["", "\n", &"a".repeat(KEY_LEN - 1)] {
            std::fs::write(&path, short).unwrap();
            let e = hash_key(dir.path()).unwrap_err();
            assert!(e.contains(&path.display().to_string()), "{e}");
            assert!(e.contains("truncated") && e.contains("delete it"), "{e}");
        }
        // a key set by an operator, at least as long, is used as it is
        std::fs::write(&path, format!("{}\n", "k".repeat(KEY_LEN + 8))).unwrap();
        assert_eq!(hash_key(dir.path()).unwrap(), "k".repeat(KEY_LEN + 8).into_bytes());
    }

    #[test]
    fn processes_starting_at_once_agree_on_one_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let start = std::sync::Barrier::new(8);
            let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
                let workers: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            hash_key(dir.path()).unwrap()
                        })
                    })
                    .collect();
                workers.into_iter().map(|w| w.join().unwrap()).collect()
            });
            assert!(keys.iter().all(|k| *k == keys[0]), "every start uses the first key written");
        }
    }
}
