//! Drift of what a component was recorded seeing and answering, against its reference
//! profile: the predictions of a time range read from the telemetry store, each feature as
//! telemetry recorded it and the model's raw output, gathered as a file's rows are
//! (`files.rs`) and compared by the same measures.
//!
//! A feature recorded as a keyed hash (`telemetry = "hash"`) or not at all (`"drop"`) is not
//! compared, and the report says why.

use rein_system::{Component, TelemetryPolicy};
use rein_telemetry::{Store, StoreError, WindowQuery};
use serde_json::Value;

use crate::columns::{Cell, Role, Sink, columns};
use crate::current::CurrentColumn;
use crate::files::Options;
use crate::profile::Profile;
use crate::report::{DriftReport, Gathered, Side, compare};

/// The drift report of `component`'s predictions recorded in `window` (unix ms, the end
/// excluded) against `profile`.
pub fn drift(
    system: &str,
    component: &Component,
    profile: &Profile,
    reference: Side,
    store: &dyn Store,
    window: std::ops::Range<i64>,
    options: &Options,
) -> Result<DriftReport, StoreError> {
    let columns = columns(component);
    let mut gathered: Vec<Gathered> = columns
        .iter()
        .map(|column| {
            let skipped = match column.telemetry {
                TelemetryPolicy::Hash if column.role == Role::Feature => Some(format!(
                    "telemetry records a keyed hash of `{}` (telemetry = \"hash\"), not its values",
                    column.name
                )),
                TelemetryPolicy::Drop if column.role == Role::Feature => {
                    Some(format!("telemetry does not record `{}` (telemetry = \"drop\")", column.name))
                }
                _ => None,
            };
            match (skipped, profile.column(&column.name)) {
                (Some(why), _) => Gathered::NotCompared { column: column.clone(), why },
                (None, None) => Gathered::NotCompared { column: column.clone(), why: "not in the profile".to_owned() },
                (None, Some(p)) => Gathered::Current(Box::new(CurrentColumn::new(
                    column.clone(),
                    p,
                    profile.sample_size,
                    options.seed,
                ))),
            }
        })
        .collect();
    let (since_ms, until_ms) = (window.start, window.end);
    let query = WindowQuery {
        component: Some(component.name.clone()),
        since_ms: Some(since_ms),
        until_ms: Some(until_ms),
        with_feedback: false,
    };
    let rows = store.visit_predictions(&query, &mut |record| {
        let features: Value = serde_json::from_str(record.prediction.features.as_str()).unwrap_or(Value::Null);
        let output: Value = serde_json::from_str(record.prediction.raw_output.as_str()).unwrap_or(Value::Null);
        for g in &mut gathered {
            let Gathered::Current(current) = g else { continue };
            let name = current.column().name.clone();
            let value = match current.column().role {
                Role::Feature => features.get(&name),
                Role::Output => output.get(&name),
            };
            current.push(cell(value));
        }
        Ok(())
    })?;
    let source = format!(
        "the predictions recorded from {} until {}",
        crate::goals::time_text(since_ms),
        crate::goals::time_text(until_ms)
    );
    let current = Side { source, kind: "telemetry", rows };
    Ok(compare(system, profile, reference, current, &gathered, &options.policy))
}

fn cell(value: Option<&Value>) -> Cell<'_> {
    match value {
        None | Some(Value::Null) => Cell::Missing,
        Some(Value::Number(n)) => n.as_f64().map_or(Cell::Missing, Cell::Number),
        Some(Value::String(s)) => Cell::Text(s),
        Some(Value::Bool(b)) => Cell::Bool(*b),
        Some(_) => Cell::Missing,
    }
}
