//! rein's telemetry: every prediction, the feedback and outcomes that come
//! back, in one store that monitoring, experiments, goals and retraining read.
//!
//! * [`events`]: the plain-data events ([`PredictionEvent`], [`FeedbackEvent`], [`OutcomeEvent`]).
//! * [`Store`]: the storage trait; [`SqliteStore`] is the embedded default.
//! * [`Writer`]: the one asynchronous batching writer (bounded queue, group
//!   commit, backpressure, spill file, counters).
//! * [`journal`]: durable events answered once journaled, loaded into the store
//!   in large transactions by a thread of their own.
//! * [`retention`]: periodic pruning; [`export`]: labeled examples as jsonl, csv or parquet.

mod background;
pub mod error;
mod event_log;
pub mod events;
pub mod export;
pub mod journal;
pub mod retention;
mod segment;
pub mod sqlite;
pub mod store;
pub mod writer;

pub use error::{RecordError, StoreError};
pub use events::{
    Event, EventKind, FeedbackEvent, FeedbackKind, FeedbackSource, JsonText, OutcomeEvent, PredictionEvent,
    new_event_id, new_prediction_id, now_ms,
};
pub use export::{ExportError, ExportFormat, export};
pub use retention::{PruneReport, Retention, prune_once, spawn_pruner};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};
pub use store::{Counts, ExampleQuery, LabeledExample, Order, Page, PredictionRecord, ScanQuery, Store, WriteReport};
pub use writer::{Durability, StoreFailure, Writer, WriterConfig, WriterStats};
