//! Retention: events older than a number of days, per kind, and the oldest events
//! past a size for the whole store, are deleted by passes the loader runs every minute.

use crate::StoreError;
use crate::events::EventKind;
use crate::store::Store;

const DAY_MS: i64 = 86_400_000;

/// Days to keep each kind of event (`None` keeps it forever), and the most bytes the store
/// may take (`None`: no bound) before its oldest events go, predictions with the feedback and
/// outcomes of the same age.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Retention {
    pub predictions_days: Option<u32>,
    pub feedback_days: Option<u32>,
    pub outcomes_days: Option<u32>,
    #[serde(default)]
    pub max_bytes: Option<u64>,
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

/// Passes of [`prune_to_size`] at most: each deletes about the share of the store it is
/// over its size and a tenth more.
const SIZE_PASSES: usize = 8;

/// One pruning pass as of `now_ms` (blocking): by age, then by size.
pub fn prune_once(store: &dyn Store, retention: &Retention, now_ms: i64) -> Result<PruneReport, StoreError> {
    let mut report = PruneReport::default();
    for (kind, days) in retention.rules() {
        let Some(days) = days else { continue };
        let cutoff = now_ms.saturating_sub(i64::from(days).saturating_mul(DAY_MS));
        report.add(kind, prune_kind(store, kind, cutoff)?);
    }
    if let Some(max_bytes) = retention.max_bytes {
        let by_size = prune_to_size(store, max_bytes)?;
        report.add(EventKind::Prediction, by_size.predictions);
        report.add(EventKind::Feedback, by_size.feedback);
        report.add(EventKind::Outcome, by_size.outcomes);
    }
    Ok(report)
}

/// Deletes the oldest events until the store takes at most `max_bytes`: predictions, and
/// the feedback and outcomes as old as they are. Stops when nothing older is left to go.
pub fn prune_to_size(store: &dyn Store, max_bytes: u64) -> Result<PruneReport, StoreError> {
    let mut report = PruneReport::default();
    let mut used = store.used_bytes()?;
    for _ in 0..SIZE_PASSES {
        if used <= max_bytes {
            break;
        }
        // the share over the bound, and a tenth of the bound more, so passes are few
        let over = (used - max_bytes) as f64 + max_bytes as f64 / 10.0;
        let Some(until) = store.oldest_predictions_until(over / used as f64)? else { break };
        let cutoff = until.saturating_add(1);
        let before = report;
        for kind in [EventKind::Prediction, EventKind::Feedback, EventKind::Outcome] {
            report.add(kind, prune_kind(store, kind, cutoff)?);
        }
        if report == before {
            break;
        }
        used = store.used_bytes()?;
    }
    if used > max_bytes {
        // e.g. feedback and outcomes newer than every prediction: said each pass, never hidden
        tracing::warn!(
            store = %store.describe(),
            used_mb = used / (1024 * 1024),
            max_mb = max_bytes / (1024 * 1024),
            "telemetry: the store is still over `max_store_mb` after pruning its oldest predictions"
        );
    }
    Ok(report)
}

fn prune_kind(store: &dyn Store, kind: EventKind, cutoff: i64) -> Result<u64, StoreError> {
    let n = store.prune(kind, cutoff)?;
    if n > 0 {
        metrics::counter!("rein_telemetry_pruned_total", "kind" => kind.as_str()).increment(n);
    }
    Ok(n)
}

impl PruneReport {
    fn add(&mut self, kind: EventKind, n: u64) {
        match kind {
            EventKind::Prediction => self.predictions += n,
            EventKind::Feedback => self.feedback += n,
            EventKind::Outcome => self.outcomes += n,
        }
    }
}
