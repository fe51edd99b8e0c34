//! What served a recorded prediction: the version its own record names (the answer to
//! "which version answered prediction X"), and which aliases named that version then.
//! The store's reads are the I/O; the rest is [`crate::history`]'s.

use rein_telemetry::{Order, PredictionEvent, ScanQuery, Store, StoreError};
use serde::Serialize;

use crate::history::{self, AliasMove};

/// A recorded prediction and the version that answered it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServedPrediction {
    pub prediction_id: String,
    pub time_ms: i64,
    pub unit: Option<String>,
    /// The version that answered it, as its record says.
    pub model_version: String,
    /// The traffic variant it was answered in.
    pub variant: String,
    /// The aliases that named that version at the prediction's time (`champion` for one the
    /// champion answered).
    pub aliases: Vec<String>,
}

/// What served `prediction`, among its component's alias `moves`.
pub fn served(prediction: &PredictionEvent, moves: &[AliasMove]) -> ServedPrediction {
    ServedPrediction {
        prediction_id: prediction.id.clone(),
        time_ms: prediction.time_ms,
        unit: prediction.unit.clone(),
        model_version: prediction.model_version.clone(),
        variant: prediction.variant.clone(),
        aliases: history::aliases_naming(moves, &prediction.model_version, prediction.time_ms),
    }
}

/// The latest prediction of `unit` by `component` at or before `at_ms`: what served the
/// unit at that instant. Reads the component's predictions newest first from `at_ms`, a
/// page at a time, until one is the unit's (so a unit seldom seen costs a longer read).
pub fn unit_at(
    store: &dyn Store,
    component: &str,
    unit: &str,
    at_ms: i64,
) -> Result<Option<PredictionEvent>, StoreError> {
    let mut cursor = None;
    loop {
        let page = store.scan(&ScanQuery {
            component: Some(component.to_string()),
            since_ms: None,
            until_ms: Some(at_ms.saturating_add(1)),
            limit: ScanQuery::MAX_LIMIT,
            cursor,
            order: Order::Descending,
        })?;
        if let Some(found) = page.items.into_iter().find(|p| p.unit.as_deref() == Some(unit)) {
            return Ok(Some(found));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(None),
        }
    }
}
