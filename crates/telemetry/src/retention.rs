//! Retention: events older than a number of days, per kind, are deleted by a
//! periodic pruning task.

use crate::StoreError;
use crate::events::{EventKind, now_ms};
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

const DAY_MS: i64 = 86_400_000;

/// Days to keep each kind of event; `None` keeps it forever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Retention {
    pub predictions_days: Option<u32>,
    pub feedback_days: Option<u32>,
    pub outcomes_days: Option<u32>,
}

/// Rows deleted by one pruning pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub predictions: u64,
    pub feedback: u64,
    pub outcomes: u64,
}

impl Retention {
    fn rules(&self) -> [(EventKind, Option<u32>); 3] {
        [
            (EventKind::Prediction, self.predictions_days),
            (EventKind::Feedback, self.feedback_days),
            (EventKind::Outcome, self.outcomes_days),
        ]
    }
}

/// One pruning pass as of `now_ms` (blocking).
pub fn prune_once(store: &dyn Store, retention: &Retention, now_ms: i64) -> Result<PruneReport, StoreError> {
    let mut report = PruneReport::default();
    for (kind, days) in retention.rules() {
        let Some(days) = days else { continue };
        let cutoff = now_ms.saturating_sub(i64::from(days).saturating_mul(DAY_MS));
        let n = store.prune(kind, cutoff)?;
        if n > 0 {
            metrics::counter!("rein_telemetry_pruned_total", "kind" => kind.as_str()).increment(n);
        }
        match kind {
            EventKind::Prediction => report.predictions = n,
            EventKind::Feedback => report.feedback = n,
            EventKind::Outcome => report.outcomes = n,
        }
    }
    Ok(report)
}

/// Spawns a tokio task that prunes every `interval` (first pass at once),
/// off the async runtime. Abort the handle to stop it.
pub fn spawn_pruner(store: Arc<dyn Store>, retention: Retention, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if retention.rules().iter().all(|(_, d)| d.is_none()) {
                continue;
            }
            let store = store.clone();
            match tokio::task::spawn_blocking(move || prune_once(store.as_ref(), &retention, now_ms())).await {
                Ok(Ok(r)) if r != PruneReport::default() => {
                    tracing::info!(
                        predictions = r.predictions,
                        feedback = r.feedback,
                        outcomes = r.outcomes,
                        "telemetry: pruned"
                    )
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "telemetry: pruning failed"),
                Err(e) => tracing::warn!(error = %e, "telemetry: pruning task failed"),
            }
        }
    })
}
