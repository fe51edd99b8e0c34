use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// An error of the telemetry store. Messages name the database path and the
/// underlying SQLite or I/O error (e.g. `database or disk is full`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("telemetry store {}: {op}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("telemetry store {}: {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "telemetry store {}: the database has schema version {found}, this rein supports up to {supported}; \
         it was written by a newer rein: upgrade rein or point --data-dir elsewhere",
        path.display()
    )]
    SchemaTooNew { path: PathBuf, found: i64, supported: i64 },
    #[error("telemetry store {}: stored {what} is not valid: {detail}", path.display())]
    Corrupt { path: PathBuf, what: &'static str, detail: String },
    #[error("invalid cursor `{0}`: pass the next_cursor of the previous page unchanged")]
    InvalidCursor(String),
    #[error("telemetry store unavailable: {0}")]
    Unavailable(String),
}

/// Why [`crate::Writer::record`] did not accept or keep an event.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RecordError {
    /// The queue stayed full for the whole bounded wait and there is no spill
    /// file: the HTTP edge answers 503.
    /// `failing`: the store's latest write error, when its writes are failing (what keeps
    /// the queue full).
    #[error(
        "telemetry is overloaded: the write queue ({capacity} events) stayed full for {} ms{}; \
         the event was not recorded, retry later",
        waited.as_millis(),
        match failing {
            Some(e) => format!(", as the store's writes fail: {e}"),
            None => String::new(),
        }
    )]
    Overloaded { capacity: usize, waited: Duration, failing: Option<String> },
    /// The store failed to commit the batch holding a durable event.
    #[error("telemetry store write failed: {source}{}", match spilled {
        Some(p) => format!("; the event was kept in the spill file {} and will be replayed", p.display()),
        None => "; the event is kept in memory and retried".to_owned(),
    })]
    Store { source: Arc<StoreError>, spilled: Option<PathBuf> },
    /// The spill file could not be written.
    #[error("telemetry spill file {}: {source}", path.display())]
    Spill { path: PathBuf, source: Arc<std::io::Error> },
    /// A feedback with this idempotency key is already stored (or was written
    /// earlier in the same batch): this one was not written.
    #[error("a feedback with the idempotency key `{key}` is already stored; this one was not written")]
    KeyConflict { key: String },
    /// The writer was shut down.
    #[error("telemetry writer is shut down")]
    Closed,
}
