//! Drift of what a component was recorded seeing and answering, against its reference
//! profile: predictions as telemetry recorded them (each feature after the privacy policy,
//! and the model's raw output), gathered as a file's rows are (`files.rs`) and compared by
//! the same measures. [`drift`] reads a time range of the store; [`Gatherer`] takes the
//! predictions from anywhere (a simulation, a test). [`profile`] makes a reference profile
//! of a time range instead: a past window the team trusts.
//!
//! A feature recorded as a keyed hash (`telemetry = "hash"`) or not at all (`"drop"`) is not
//! compared, and the report says why.

use rein_system::{Component, TelemetryPolicy};
use rein_telemetry::{Store, StoreError, WindowQuery};
use serde_json::Value;

use crate::columns::{Cell, Role, Sink, columns};
use crate::current::CurrentColumn;
use crate::files::Options;
use crate::profile::{ColumnProfile, Profile, ReferenceColumn, Source, build};
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
    let mut gatherer = Gatherer::new(component, profile, options);
    let query = WindowQuery {
        component: Some(component.name.clone()),
        since_ms: Some(window.start),
        until_ms: Some(window.end),
        with_feedback: false,
    };
    store.visit_predictions(&query, &mut |record| {
        let features: Value = serde_json::from_str(record.prediction.features.as_str()).unwrap_or(Value::Null);
        let output: Value = serde_json::from_str(record.prediction.raw_output.as_str()).unwrap_or(Value::Null);
        gatherer.push(&features, &output);
        Ok(())
    })?;
    let source = format!(
        "the predictions recorded from {} until {}",
        crate::goals::time_text(window.start),
        crate::goals::time_text(window.end)
    );
    Ok(gatherer.finish(system, profile, reference, source, options))
}

/// A component's predictions gathered one at a time against its profile.
pub struct Gatherer {
    gathered: Vec<Gathered>,
    rows: u64,
}

impl Gatherer {
    pub fn new(component: &Component, profile: &Profile, options: &Options) -> Gatherer {
        let gathered = columns(component)
            .into_iter()
            .map(|column| {
                let skipped = skipped(&column);
                match (skipped, profile.column(&column.name)) {
                    (Some(why), _) => Gathered::NotCompared { column, why },
                    (None, None) => Gathered::NotCompared { column, why: "not in the profile".to_owned() },
                    (None, Some(p)) => {
                        Gathered::Current(Box::new(CurrentColumn::new(column, p, profile.sample_size, options.seed)))
                    }
                }
            })
            .collect();
        Gatherer { gathered, rows: 0 }
    }

    /// One prediction: its features as a JSON object, the model's output as one (`label`,
    /// `score`, `value`; `null` when there is none to compare).
    pub fn push(&mut self, features: &Value, output: &Value) {
        self.rows += 1;
        for g in &mut self.gathered {
            let Gathered::Current(current) = g else { continue };
            let value = match current.column().role {
                Role::Feature => features.get(&current.column().name),
                Role::Output => output.get(&current.column().name),
            };
            current.push(cell(value));
        }
    }

    /// The report over what was pushed; `source` says where it came from.
    pub fn finish(
        self,
        system: &str,
        profile: &Profile,
        reference: Side,
        source: String,
        options: &Options,
    ) -> DriftReport {
        let current = Side { source, kind: "telemetry", rows: self.rows };
        compare(system, profile, reference, current, &self.gathered, &options.policy)
    }
}

/// The reference profile of `component`'s predictions recorded in `window` (unix ms, the end
/// excluded): each feature as telemetry recorded it, the output as the model answered.
pub fn profile(
    system: &str,
    component: &Component,
    store: &dyn Store,
    window: std::ops::Range<i64>,
    options: &Options,
) -> Result<Profile, StoreError> {
    let mut gathered: Vec<(ReferenceColumn, Option<String>)> = columns(component)
        .into_iter()
        .map(|column| {
            let skipped = skipped(&column);
            (ReferenceColumn::new(column, options.sample_size, options.seed), skipped)
        })
        .collect();
    let query = WindowQuery {
        component: Some(component.name.clone()),
        since_ms: Some(window.start),
        until_ms: Some(window.end),
        with_feedback: false,
    };
    let rows = store.visit_predictions(&query, &mut |record| {
        let features: Value = serde_json::from_str(record.prediction.features.as_str()).unwrap_or(Value::Null);
        let output: Value = serde_json::from_str(record.prediction.raw_output.as_str()).unwrap_or(Value::Null);
        for (reference, skipped) in &mut gathered {
            if skipped.is_some() {
                continue;
            }
            let value = match reference.column().role {
                Role::Feature => features.get(&reference.column().name),
                Role::Output => output.get(&reference.column().name),
            };
            reference.push(cell(value));
        }
        Ok(())
    })?;
    let profiles: Vec<ColumnProfile> = gathered
        .into_iter()
        .map(|(reference, skipped)| match skipped {
            Some(why) => ColumnProfile::skipped(reference.column(), why),
            None => reference.finish(),
        })
        .collect();
    let file = format!(
        "the predictions recorded from {} until {}",
        crate::goals::time_text(window.start),
        crate::goals::time_text(window.end)
    );
    let source = Source { file, rows, scored_by: None };
    Ok(build(system, &component.name, source, options.seed, options.sample_size, profiles))
}

/// Why telemetry holds no values of a feature to compare, if it does not.
fn skipped(column: &crate::columns::Column) -> Option<String> {
    match column.telemetry {
        TelemetryPolicy::Hash if column.role == Role::Feature => {
            Some(format!("telemetry records a keyed hash of `{}` (telemetry = \"hash\"), not its values", column.name))
        }
        TelemetryPolicy::Drop if column.role == Role::Feature => {
            Some(format!("telemetry does not record `{}` (telemetry = \"drop\")", column.name))
        }
        _ => None,
    }
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
