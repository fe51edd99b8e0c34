//! The storage trait. Everything that reads or writes telemetry goes through
//! [`Store`]; the embedded SQLite store ([`crate::SqliteStore`]) is the
//! default. The trait speaks only plain data (unix milliseconds, JSON values,
//! opaque cursors) so that a PostgreSQL implementation can follow without
//! changing callers.
//!
//! Methods are synchronous: they run on the loader's thread or, for reads, on a
//! caller's blocking pool, never on an async worker.

use crate::events::{EventKind, FeedbackEvent, JsonText, OutcomeEvent, PredictionEvent};
use crate::{Event, StoreError};

/// What one [`Store::write_batch`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    pub predictions: u64,
    pub feedback: u64,
    pub outcomes: u64,
    /// Events that were already stored and so written no row: a feedback
    /// whose idempotency key exists, or a prediction whose id exists (a replay).
    pub duplicates: u64,
    /// Positions in the batch of the feedback events not written because their
    /// idempotency key was taken (by an earlier batch or earlier in this one),
    /// ascending. Their content may differ from the stored one, so the writer
    /// tells their waiters instead of reporting success.
    pub key_conflicts: Vec<usize>,
}

impl WriteReport {
    /// Events of the batch that are now in the store (new rows plus duplicates).
    pub fn total(&self) -> u64 {
        self.predictions + self.feedback + self.outcomes + self.duplicates
    }
}

/// How far into one stream of the event log the store holds every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPosition {
    pub stream: u32,
    pub offset: u64,
}

/// A prediction with everything the world said back about it.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRecord {
    pub prediction: PredictionEvent,
    /// Oldest first.
    pub feedback: Vec<FeedbackEvent>,
    /// Outcomes that name this prediction, oldest first.
    pub outcomes: Vec<OutcomeEvent>,
}

/// Page order of [`Store::scan`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// Oldest first.
    #[default]
    Ascending,
    /// Newest first.
    Descending,
}

/// A paged listing of predictions: `since_ms <= time_ms < until_ms`,
/// optionally for one component, ordered by `(time_ms, id)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanQuery {
    pub component: Option<String>,
    /// Inclusive lower bound, unix ms.
    pub since_ms: Option<i64>,
    /// Exclusive upper bound, unix ms.
    pub until_ms: Option<i64>,
    /// Page size; 0 means [`ScanQuery::DEFAULT_LIMIT`], larger than
    /// [`ScanQuery::MAX_LIMIT`] is clamped.
    pub limit: usize,
    /// The `next_cursor` of the previous page; must come from a query with
    /// the same order.
    pub cursor: Option<String>,
    pub order: Order,
}

impl ScanQuery {
    pub const DEFAULT_LIMIT: usize = 100;
    pub const MAX_LIMIT: usize = 10_000;

    /// The page size actually used.
    pub fn effective_limit(&self) -> usize {
        match self.limit {
            0 => Self::DEFAULT_LIMIT,
            n => n.min(Self::MAX_LIMIT),
        }
    }
}

/// One page of a scan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub items: Vec<PredictionEvent>,
    /// Present when more rows may follow: pass it as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

/// Keyset cursor: the `(time_ms, id)` of the last row of a page. Opaque to
/// callers; it is the same text for every store implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub time_ms: i64,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.time_ms, self.id)
    }

    pub fn decode(s: &str) -> Result<Self, StoreError> {
        let bad = || StoreError::InvalidCursor(s.to_owned());
        let (t, id) = s.split_once('_').ok_or_else(bad)?;
        let time_ms = t.parse().map_err(|_| bad())?;
        if id.is_empty() {
            return Err(bad());
        }
        Ok(Cursor { time_ms, id: id.to_owned() })
    }
}

/// Which predictions [`Store::visit_predictions`] visits: those with
/// `since_ms <= time_ms < until_ms`, of one component or all, ordered by `(time_ms, id)`;
/// never a shadow's (`shadow_of` set): a window holds what the system answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowQuery {
    pub component: Option<String>,
    /// Inclusive lower bound, unix ms.
    pub since_ms: Option<i64>,
    /// Exclusive upper bound, unix ms.
    pub until_ms: Option<i64>,
    /// Only predictions with at least one feedback.
    pub with_feedback: bool,
}

/// Which shadow predictions [`Store::visit_shadow_pairs`] visits: those of `component` with
/// `since_ms <= time_ms < until_ms` (a shadow's time is its original's), of one experiment or
/// all, ordered by `(time_ms, id)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShadowQuery {
    pub component: String,
    /// Inclusive lower bound, unix ms.
    pub since_ms: Option<i64>,
    /// Exclusive upper bound, unix ms.
    pub until_ms: Option<i64>,
    pub experiment: Option<String>,
}

/// A shadow's prediction beside the answered one it copies (by `shadow_of`).
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowPair {
    pub shadow: PredictionEvent,
    /// `None` when the store no longer (or never) held it: pruned, or of another store.
    pub answered: Option<PredictionEvent>,
}

/// An outcome name that outcomes joined to a window's predictions carry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OutcomeName {
    pub name: String,
    /// Whether any of them has a `value`.
    pub valued: bool,
}

/// Which outcome events [`Store::outcome_values`] and [`Store::visit_outcome_units`] read:
/// those named `name` with `since_ms <= time_ms < until_ms`, by the outcome's own time,
/// whatever prediction or unit they name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeQuery {
    pub name: String,
    /// Inclusive lower bound, unix ms.
    pub since_ms: i64,
    /// Exclusive upper bound, unix ms.
    pub until_ms: i64,
}

/// The `value`s of the outcome events an [`OutcomeQuery`] reads, summarised: enough for
/// their mean, their sum and a t interval, in constant memory.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ValueSummary {
    /// Outcome events read, with a value or not.
    pub events: u64,
    /// Those that carry a value: what the sums are over.
    pub valued: u64,
    pub sum: f64,
    /// Their mean; 0 when none carries a value.
    pub mean: f64,
    /// The sum of their squared differences from the mean (the sample variance is this over
    /// `valued − 1`).
    pub sum_squared_deviations: f64,
}

/// Row counts, for tests and health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub predictions: u64,
    pub feedback: u64,
    pub outcomes: u64,
}

/// An alert as the store keeps it: what names and orders it, and the whole alert as JSON
/// (rein-monitor's `Alert`), which the store keeps as it is given and does not read.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub id: String,
    pub monitor: String,
    pub severity: String,
    /// The end of the window that opened it (event time, unix ms).
    pub opened_ms: i64,
    /// The end of the window that closed it; `None` while it is open.
    pub closed_ms: Option<i64>,
    pub body: JsonText,
}

/// A monitor's standing between windows (rein-monitor's `MonitorState`), as JSON the store
/// keeps as it is given.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorStateRecord {
    pub monitor: String,
    pub state: JsonText,
    /// When it was stored (wall clock, unix ms).
    pub updated_ms: i64,
}

/// Which alerts [`Store::alerts`] lists, the newest opened first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertQuery {
    /// `Some(true)`: open ones only; `Some(false)`: closed ones only; `None`: both.
    pub open: Option<bool>,
    /// Only alerts open at some moment at or after it: still open, or closed at or after it.
    pub since_ms: Option<i64>,
    /// Only this monitor's.
    pub monitor: Option<String>,
    /// At most this many; 0: [`AlertQuery::DEFAULT_LIMIT`], above [`AlertQuery::MAX_LIMIT`] clamped.
    pub limit: usize,
}

impl AlertQuery {
    pub const DEFAULT_LIMIT: usize = 100;
    pub const MAX_LIMIT: usize = 10_000;

    /// The number of alerts actually listed at most.
    pub fn effective_limit(&self) -> usize {
        match self.limit {
            0 => Self::DEFAULT_LIMIT,
            n => n.min(Self::MAX_LIMIT),
        }
    }
}

/// Callback of [`Store::visit_predictions`]; return an error to stop.
pub type PredictionVisitor<'a> = dyn FnMut(PredictionRecord) -> Result<(), StoreError> + 'a;

/// Callback of [`Store::visit_shadow_pairs`]; return an error to stop.
pub type ShadowVisitor<'a> = dyn FnMut(ShadowPair) -> Result<(), StoreError> + 'a;

/// Callback of [`Store::visit_outcome_units`], given each unit once; return an error to stop.
pub type UnitVisitor<'a> = dyn FnMut(String) -> Result<(), StoreError> + 'a;

/// The telemetry store.
pub trait Store: Send + Sync + 'static {
    /// Writes all events in one transaction: all or none are stored.
    /// A feedback whose idempotency key already exists, or a prediction whose
    /// id already exists, is a no-op counted in [`WriteReport::duplicates`];
    /// the feedback is also listed in [`WriteReport::key_conflicts`].
    /// The store does not check that a feedback's prediction exists (the HTTP
    /// edge does, with [`Store::prediction_exists`]).
    /// `through`: the event log position these events reach, stored in the same
    /// transaction (see [`Store::log_positions`]).
    fn write_batch(&self, events: &[Event], through: Option<LogPosition>) -> Result<WriteReport, StoreError>;

    /// For each stream of the event log, the position the store holds everything before:
    /// where loading resumes. Streams never loaded are not listed.
    fn log_positions(&self) -> Result<Vec<LogPosition>, StoreError>;

    /// A prediction with its feedback and outcomes joined.
    fn prediction(&self, id: &str) -> Result<Option<PredictionRecord>, StoreError>;

    /// Whether a prediction with that id is stored.
    fn prediction_exists(&self, id: &str) -> Result<bool, StoreError>;

    /// The feedback stored under an idempotency key.
    fn feedback_by_key(&self, key: &str) -> Result<Option<FeedbackEvent>, StoreError>;

    /// One page of predictions (keyset pagination on `(time_ms, id)`: stable
    /// under concurrent inserts of newer rows, every row exactly once).
    fn scan(&self, query: &ScanQuery) -> Result<Page, StoreError>;

    /// Visits every prediction of the window, oldest first, with its feedback and the
    /// outcomes that name it, streaming: memory holds one prediction at a time, whatever the
    /// window. Reads one snapshot of the store. Returns how many were visited.
    fn visit_predictions(&self, query: &WindowQuery, visit: &mut PredictionVisitor<'_>) -> Result<u64, StoreError>;

    /// The names of the outcomes that name a prediction of the window, sorted.
    fn outcome_names(&self, query: &WindowQuery) -> Result<Vec<OutcomeName>, StoreError>;

    /// The values of the outcome events of one name in a time range (by the outcome's own
    /// time), summarised in the store: how many there are, how many carry a value, and the
    /// sum, mean and squared deviations of those values. Reads one snapshot.
    fn outcome_values(&self, query: &OutcomeQuery) -> Result<ValueSummary, StoreError>;

    /// Visits each distinct unit that an outcome event of the query names (events without a
    /// unit are skipped), streaming. Returns how many were visited.
    fn visit_outcome_units(&self, query: &OutcomeQuery, visit: &mut UnitVisitor<'_>) -> Result<u64, StoreError>;

    /// Visits each shadow prediction of the query joined to the prediction it copies, oldest
    /// first, streaming, from one snapshot. Returns how many were visited. A store that keeps
    /// no shadows refuses (the default).
    fn visit_shadow_pairs(&self, query: &ShadowQuery, visit: &mut ShadowVisitor<'_>) -> Result<u64, StoreError> {
        let _ = (query, visit);
        Err(StoreError::Unavailable(format!("{} keeps no shadow predictions", self.describe())))
    }

    /// The `time_ms` of the newest stored prediction; `None` when there is none.
    fn newest_prediction_ms(&self) -> Result<Option<i64>, StoreError>;

    /// Deletes events of one kind older than `older_than_ms` (by their
    /// `time_ms`); returns how many rows were deleted.
    fn prune(&self, kind: EventKind, older_than_ms: i64) -> Result<u64, StoreError>;

    /// Row counts.
    fn counts(&self) -> Result<Counts, StoreError>;

    /// Bytes the stored events take (not counting space freed for reuse).
    fn used_bytes(&self) -> Result<u64, StoreError>;

    /// The `time_ms` of the prediction that `fraction` (0 to 1) of the stored predictions
    /// are as old as or older than; `None` when there are none.
    fn oldest_predictions_until(&self, fraction: f64) -> Result<Option<i64>, StoreError>;

    /// A short description for logs and errors (e.g. the database path).
    fn describe(&self) -> String;

    /// Stores monitors' states and alerts (new ones, or new versions of stored ones, by id)
    /// in one transaction: a restart finds every alert its monitors' states name. A store
    /// that keeps no monitoring refuses (the default).
    fn record_monitoring(&self, states: &[MonitorStateRecord], alerts: &[AlertRecord]) -> Result<(), StoreError> {
        let _ = (states, alerts);
        Err(StoreError::Unavailable(format!("{} keeps no alerts", self.describe())))
    }

    /// Every monitor's stored state (none by default).
    fn monitor_states(&self) -> Result<Vec<MonitorStateRecord>, StoreError> {
        Ok(Vec::new())
    }

    /// The alerts of the query, the newest opened first (none by default).
    fn alerts(&self, query: &AlertQuery) -> Result<Vec<AlertRecord>, StoreError> {
        let _ = query;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_rejects_garbage() {
        let c = Cursor { time_ms: -5, id: "0190-ab_cd".into() };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "x", "12", "12_", "a_b"] {
            assert!(matches!(Cursor::decode(bad), Err(StoreError::InvalidCursor(_))), "{bad}");
        }
    }

    #[test]
    fn limit_is_clamped() {
        let mut q = ScanQuery::default();
        assert_eq!(q.effective_limit(), 100);
        q.limit = 1_000_000;
        assert_eq!(q.effective_limit(), ScanQuery::MAX_LIMIT);
    }
}
