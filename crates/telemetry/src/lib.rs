//! rein's telemetry: every prediction, the feedback and outcomes that come
//! back, in one store that monitoring, experiments, goals and retraining read.
//!
//! * [`events`]: the plain-data events ([`PredictionEvent`], [`FeedbackEvent`], [`OutcomeEvent`]).
//! * [`Writer`]: records events durably (module `writer` says how, in five mechanisms):
//!   the event log (`log`), group fsync (`fsync`), and the loader into the store (`loader`).
//! * [`Store`]: the storage trait; [`SqliteStore`] is the embedded default.
//! * [`DataDir`]: the data directory's layout and its exclusive lock.
//! * [`Clock`]: time for the background threads, injectable in tests ([`ManualClock`]).
//! * [`retention`]: pruning passes; [`export`]: a component's predictions as a dataset (jsonl, csv, parquet).

mod background;
pub mod clock;
pub mod data_dir;
pub mod error;
pub mod events;
pub mod export;
mod fsync;
mod loader;
pub mod log;
pub mod retention;
pub mod sqlite;
pub mod store;
pub mod writer;

pub use clock::{Clock, ManualClock, SystemClock};
pub use data_dir::{DataDir, DataDirError};
pub use error::{RecordError, StoreError};
pub use events::{
    Event, EventKind, FeedbackEvent, FeedbackKind, FeedbackSource, JsonText, OutcomeEvent, PredictionEvent,
    new_event_id, new_prediction_id, now_ms,
};
pub use export::{
    Column, ColumnType, ExportError, ExportFeature, ExportFormat, ExportOptions, ExportReport, ExportSpec, ExportTask,
    Truth, export, truth,
};
pub use log::LogError;
pub use retention::{PruneReport, Retention, prune_once};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};
pub use store::{AlertQuery, AlertRecord, MonitorStateRecord};
pub use store::{
    Counts, LogPosition, Order, OutcomeName, OutcomeQuery, Page, PredictionRecord, PredictionVisitor, ScanQuery,
    ShadowPair, ShadowQuery, ShadowVisitor, Store, UnitVisitor, ValueSummary, WindowQuery, WriteReport,
};
pub use writer::{Durability, StartError, StoreFailure, Writer, WriterConfig, WriterStats};
