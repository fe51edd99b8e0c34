#![allow(dead_code)]

use rein_telemetry::*;
use serde_json::json;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

pub fn prediction(component: &str, time_ms: i64) -> PredictionEvent {
    PredictionEvent {
        id: new_prediction_id(),
        time_ms,
        system: "shop".into(),
        component: component.into(),
        unit: Some("user-1".into()),
        model_name: "fraud".into(),
        model_version: "3".into(),
        variant: "main".into(),
        features: json!({"amount": 12.5, "country": "FR", "new_user": true, "items": 3}).into(),
        raw_output: json!({"probabilities": [0.2, 0.8]}).into(),
        guardrails: json!([{"rule": "max_amount", "action": "pass"}]).into(),
        output: json!({"label": "fraud", "score": 0.8}).into(),
        mode: "automate".into(),
        decision: json!({"mode": "automate", "reason": {"kind": "threshold", "score": 0.8, "threshold": 0.7}}).into(),
        fallback: None,
        latency_us: 420,
        experiment: None,
        shadow_of: None,
    }
}

pub fn feedback(prediction_id: &str, kind: FeedbackKind, label: Option<&str>, key: Option<&str>) -> FeedbackEvent {
    FeedbackEvent {
        id: rein_telemetry::new_event_id(),
        prediction_id: prediction_id.into(),
        time_ms: now_ms(),
        kind,
        label: label.map(Into::into),
        value: None,
        unit: Some("reviewer".into()),
        comment: Some("checked, \"really\"".into()),
        source: FeedbackSource::Expert,
        idempotency_key: key.map(Into::into),
    }
}

pub fn open(dir: &Path) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(dir).expect("open store"))
}

/// The real SQLite store behind a gate: while closed, `write_batch` blocks
/// (a stalled disk); `fail` makes it fail (a broken disk).
pub struct GatedStore {
    pub inner: SqliteStore,
    open: Mutex<bool>,
    cv: Condvar,
    pub fail: AtomicBool,
    pub entered: std::sync::atomic::AtomicU64,
    /// Writes that went through the gate and returned.
    pub left: std::sync::atomic::AtomicU64,
}

impl GatedStore {
    pub fn new(inner: SqliteStore) -> Arc<Self> {
        Arc::new(GatedStore {
            inner,
            open: Mutex::new(true),
            cv: Condvar::new(),
            fail: AtomicBool::new(false),
            entered: Default::default(),
            left: Default::default(),
        })
    }
    /// The store in `dir` behind a gate that starts closed: the writer's first commit stalls.
    pub fn stalled(dir: &Path) -> Arc<Self> {
        let gated = GatedStore::new(SqliteStore::open(dir).unwrap());
        gated.close_gate();
        gated
    }
    pub fn close_gate(&self) {
        *self.open.lock().unwrap() = false;
    }
    pub fn open_gate(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

impl Store for GatedStore {
    fn write_batch(&self, events: &[Event], through: Option<LogPosition>) -> Result<WriteReport, StoreError> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.cv.wait(open).unwrap();
        }
        drop(open);
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(format!("{}: injected I/O failure", self.inner.path().display())));
        }
        let written = self.inner.write_batch(events, through);
        self.left.fetch_add(1, Ordering::SeqCst);
        written
    }
    fn log_positions(&self) -> Result<Vec<LogPosition>, StoreError> {
        self.inner.log_positions()
    }
    fn prediction(&self, id: &str) -> Result<Option<PredictionRecord>, StoreError> {
        self.inner.prediction(id)
    }
    fn prediction_exists(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.prediction_exists(id)
    }
    fn feedback_by_key(&self, key: &str) -> Result<Option<FeedbackEvent>, StoreError> {
        self.inner.feedback_by_key(key)
    }
    fn scan(&self, q: &ScanQuery) -> Result<Page, StoreError> {
        self.inner.scan(q)
    }
    fn visit_predictions(&self, q: &WindowQuery, visit: &mut PredictionVisitor<'_>) -> Result<u64, StoreError> {
        self.inner.visit_predictions(q, visit)
    }
    fn outcome_names(&self, q: &WindowQuery) -> Result<Vec<OutcomeName>, StoreError> {
        self.inner.outcome_names(q)
    }
    fn outcome_values(&self, q: &rein_telemetry::OutcomeQuery) -> Result<rein_telemetry::ValueSummary, StoreError> {
        self.inner.outcome_values(q)
    }
    fn visit_outcome_units(
        &self,
        q: &rein_telemetry::OutcomeQuery,
        visit: &mut rein_telemetry::UnitVisitor<'_>,
    ) -> Result<u64, StoreError> {
        self.inner.visit_outcome_units(q, visit)
    }
    fn newest_prediction_ms(&self) -> Result<Option<i64>, StoreError> {
        self.inner.newest_prediction_ms()
    }
    fn prune(&self, kind: EventKind, older_than_ms: i64) -> Result<u64, StoreError> {
        self.inner.prune(kind, older_than_ms)
    }
    fn counts(&self) -> Result<Counts, StoreError> {
        self.inner.counts()
    }
    fn used_bytes(&self) -> Result<u64, StoreError> {
        self.inner.used_bytes()
    }
    fn oldest_predictions_until(&self, fraction: f64) -> Result<Option<i64>, StoreError> {
        self.inner.oldest_predictions_until(fraction)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}
