//! Profiles and drift reports of files: a component's columns matched to a file's by name,
//! read once, into a profile or against one.
//!
//! A feature's column has the feature's name (in a `rein export`, one whose name is one of
//! the export's own columns is `feature.<name>`). The output is read from `score`,
//! `label` and `value`, or from an export's `predicted` (its label or value), or given
//! scored by the model ([`Outputs`]); a file without it leaves the output not compared.

use crate::columns::{Cell, Column, Role, Sink, columns};
use crate::current::CurrentColumn;
use crate::profile::{ColumnProfile, Profile, ReferenceColumn, Source, build};
use crate::report::{DriftReport, Gathered, Side, compare};
use crate::table::{Read, Table, TableError};
use rein_stats::DriftPolicy;
use rein_system::{Component, TelemetryPolicy};

/// The columns of a `rein export` before its features: a feature of one of these names is
/// exported as `feature.<name>`.
const EXPORT_COLUMNS: [&str; 9] = [
    "prediction_id",
    "time_ms",
    "model_name",
    "model_version",
    "variant",
    "predicted",
    "truth",
    "feedback",
    "feedback_source",
];

/// Sample size, seed, and the policy that decides.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub sample_size: usize,
    pub seed: u64,
    pub policy: DriftPolicy,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            sample_size: crate::reservoir::DEFAULT_SAMPLE_SIZE,
            seed: crate::profile::DEFAULT_SEED,
            policy: DriftPolicy::EVIDENTLY,
        }
    }
}

/// The model's output for each row of a file, when the model scored it: who scored it
/// (`name version`), and per row the output, `None` where the row could not be scored (a
/// value missing with no default, a value the schema refuses).
#[derive(Debug, Clone)]
pub struct Outputs {
    pub by: String,
    pub rows: Vec<Option<Output>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A classifier's label and score.
    Class { label: String, score: f64 },
    /// A regressor's value.
    Value(f64),
}

/// Where each column's cells come from in a file.
enum Plan {
    File(usize),
    Scored,
    Skip(String),
}

fn plan(table: &Table, column: &Column, scored: bool) -> Result<Plan, TableError> {
    let is_export = table.index("prediction_id").is_some();
    let path = table.path.display();
    if column.role == Role::Output {
        if scored {
            return Ok(Plan::Scored);
        }
        let names: &[&str] = match column.name.as_str() {
            "score" => &["score"],
            "label" => &["label", "predicted"],
            _ => &["value", "predicted"],
        };
        return Ok(match names.iter().find_map(|n| table.index(n)) {
            Some(i) => Plan::File(i),
            None => Plan::Skip(format!(
                "{path} has no `{}` column{}",
                names.join("` or `"),
                if column.name == "score" && is_export { " (an export holds the label, not the score)" } else { "" }
            )),
        });
    }
    let name = if is_export && EXPORT_COLUMNS.contains(&column.name.as_str()) {
        format!("feature.{}", column.name)
    } else {
        column.name.clone()
    };
    match (table.index(&name), column.telemetry) {
        (_, TelemetryPolicy::Hash) if is_export => Ok(Plan::Skip(format!(
            "{path} is an export, which holds a keyed hash of `{}` (telemetry = \"hash\"), not its values",
            column.name
        ))),
        (Some(i), _) => Ok(Plan::File(i)),
        (None, TelemetryPolicy::Drop) => {
            Ok(Plan::Skip(format!("telemetry does not record `{}` (telemetry = \"drop\")", column.name)))
        }
        (None, _) => Err(table.missing(&name, format!("feature `{}`, {}", column.name, expected(column)))),
    }
}

fn expected(column: &Column) -> String {
    let kind = match column.declared {
        "number" => "numbers".to_owned(),
        "integer" => "whole numbers".to_owned(),
        "boolean" => "booleans".to_owned(),
        "category" => match &column.range {
            crate::columns::Range::Categories(c) if !c.is_empty() => {
                let shown: Vec<&str> = c.iter().map(String::as_str).take(8).collect();
                format!("one of {}{}", shown.join(", "), if c.len() > 8 { ", …" } else { "" })
            }
            _ => "categories".to_owned(),
        },
        "text" => "text".to_owned(),
        other => other.to_owned(),
    };
    format!("declared {} ({kind})", column.declared)
}

fn push_output(sink: &mut dyn Sink, column: &str, output: Option<&Output>) {
    let cell = match (column, output) {
        ("score", Some(Output::Class { score, .. })) => Cell::Number(*score),
        ("label", Some(Output::Class { label, .. })) => Cell::Text(label),
        ("value", Some(Output::Value(v))) => Cell::Number(*v),
        _ => Cell::Missing,
    };
    sink.push(cell);
}

/// Reads `table` into one sink per column, as planned; returns the rows read.
fn read_into(
    table: &Table,
    plans: &[Plan],
    columns: &[Column],
    sinks: &mut [Option<&mut dyn Sink>],
    outputs: Option<&Outputs>,
) -> Result<u64, TableError> {
    let mut reads = Vec::new();
    let mut scored = Vec::new();
    for ((plan, column), sink) in plans.iter().zip(columns).zip(sinks.iter_mut()) {
        let Some(sink) = sink.take() else { continue };
        match plan {
            Plan::File(index) => reads.push(Read { index: *index, expect: column.expect(), sink }),
            Plan::Scored => scored.push((column.name.as_str(), sink)),
            Plan::Skip(_) => {}
        }
    }
    let rows = table.read(reads)?;
    if let Some(outputs) = outputs {
        for (name, sink) in scored {
            for row in &outputs.rows {
                push_output(sink, name, row.as_ref());
            }
        }
    }
    Ok(rows)
}

/// The profile of `component` from the rows of `table`; `outputs`: the model's output for
/// each row, when it scored them.
pub fn profile(
    system: &str,
    component: &Component,
    table: &Table,
    outputs: Option<&Outputs>,
    options: &Options,
) -> Result<Profile, TableError> {
    let columns = columns(component);
    let plans: Vec<Plan> = columns.iter().map(|c| plan(table, c, outputs.is_some())).collect::<Result<_, _>>()?;
    let mut gathered: Vec<ReferenceColumn> =
        columns.iter().map(|c| ReferenceColumn::new(c.clone(), options.sample_size, options.seed)).collect();
    let mut sinks: Vec<Option<&mut dyn Sink>> = gathered.iter_mut().map(|g| Some(g as &mut dyn Sink)).collect();
    let rows = read_into(table, &plans, &columns, &mut sinks, outputs)?;
    let profiles: Vec<ColumnProfile> = gathered
        .into_iter()
        .zip(&plans)
        .map(|(g, plan)| match plan {
            Plan::Skip(why) => ColumnProfile::skipped(g.column(), why.clone()),
            _ => g.finish(),
        })
        .collect();
    let source = Source { file: table.path.display().to_string(), rows, scored_by: outputs.map(|o| o.by.clone()) };
    Ok(build(system, &component.name, source, options.seed, options.sample_size, profiles))
}

/// The drift report of the rows of `table` against `profile` (checked against the
/// component first: see [`Profile::check_against`]).
pub fn drift(
    system: &str,
    component: &Component,
    profile: &Profile,
    reference: Side,
    table: &Table,
    outputs: Option<&Outputs>,
    options: &Options,
) -> Result<DriftReport, TableError> {
    let columns = columns(component);
    let plans: Vec<Plan> = columns.iter().map(|c| plan(table, c, outputs.is_some())).collect::<Result<_, _>>()?;
    let mut gathered: Vec<Gathered> = columns
        .iter()
        .zip(&plans)
        .map(|(column, plan)| match (plan, profile.column(&column.name)) {
            (Plan::Skip(why), _) => Gathered::NotCompared { column: column.clone(), why: why.clone() },
            (_, None) => Gathered::NotCompared { column: column.clone(), why: "not in the profile".to_owned() },
            (_, Some(p)) => {
                Gathered::Current(Box::new(CurrentColumn::new(column.clone(), p, profile.sample_size, options.seed)))
            }
        })
        .collect();
    let mut sinks: Vec<Option<&mut dyn Sink>> = gathered
        .iter_mut()
        .map(|g| match g {
            Gathered::Current(c) => Some(c.as_mut() as &mut dyn Sink),
            Gathered::NotCompared { .. } => None,
        })
        .collect();
    let rows = read_into(table, &plans, &columns, &mut sinks, outputs)?;
    let current = Side { source: table.path.display().to_string(), kind: "data", rows };
    Ok(compare(system, profile, reference, current, &gathered, &options.policy))
}
