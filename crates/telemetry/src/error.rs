use std::path::PathBuf;
use std::sync::Arc;

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

/// Why [`crate::Writer::record`] did not record an event (or could not say it did).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RecordError {
    /// Events answered and not yet in the store reached the bound: the store is too slow,
    /// stalled, or failing (`failing`: its latest error). The event was not recorded.
    #[error(
        "telemetry is overloaded: {backlog} events wait for the store, the most allowed (`max_backlog`){}; \
         the event was not recorded, retry later",
        match failing {
            Some(e) => format!(", as the store {e}"),
            None => String::new(),
        }
    )]
    Overloaded { backlog: u64, failing: Option<String> },
    /// The event log could not take the event (a full disk) or be synced: not recorded.
    #[error("the event was not recorded: {0}")]
    Log(Arc<crate::log::LogError>),
    /// The event could not be serialized.
    #[error("the event could not be encoded: {0}")]
    Encode(String),
    /// The writer was shut down.
    #[error("telemetry writer is shut down")]
    Closed,
}
