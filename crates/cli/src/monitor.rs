//! `rein profile` and `rein drift`: a component's reference profile from a training set,
//! and the drift report of a current file against it (rein-monitor), here with what only
//! the binary has: the model, to score rows whose file holds no output.

use rein_monitor::columns::{Cell, Column, Observed, Sink};
use rein_monitor::files::{Options, Output, Outputs};
use rein_monitor::report::{DriftReport, Side, short};
use rein_monitor::table::{Read, Table};
use rein_monitor::{Profile, columns};
use rein_system::{Component, FeatureKind, FeatureValue, System};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Rows handed to the model at a time when scoring a file.
const SCORE_BATCH: usize = 256;

pub struct ProfileOptions {
    pub system: PathBuf,
    pub component: String,
    pub data: PathBuf,
    pub out: Option<PathBuf>,
    pub no_score: bool,
    pub sample_size: usize,
    pub seed: u64,
}

pub struct DriftOptions {
    pub system: PathBuf,
    pub component: String,
    pub reference: Option<PathBuf>,
    pub current: PathBuf,
    pub json: bool,
    pub out: Option<PathBuf>,
    pub score: bool,
    pub sample_size: usize,
    pub seed: u64,
}

/// Where a component's profile is kept unless told otherwise: beside its model,
/// `<model>.profile.json`.
pub fn default_profile_path(component: &Component) -> PathBuf {
    component.model.path.with_extension("profile.json")
}

fn load_component(path: &Path, name: &str) -> Result<(System, usize), String> {
    let system = rein_system::load(path).map_err(|d| format!("{d}\n\n{} problem(s) in {}", d.len(), path.display()))?;
    let Some(index) = system.components.iter().position(|c| c.name == name) else {
        let names: Vec<&str> = system.components.iter().map(|c| c.name.as_str()).collect();
        return Err(format!("no component is named `{name}`; the system has: {}", names.join(", ")));
    };
    Ok((system, index))
}

/// Whether `table` holds the component's output itself.
fn holds_output(table: &Table, component: &Component) -> bool {
    let names: &[&str] =
        if component.task.is_classification() { &["score", "label", "predicted"] } else { &["value", "predicted"] };
    names.iter().any(|n| table.index(n).is_some())
}

pub fn profile(options: ProfileOptions) -> Result<(), String> {
    let started = Instant::now();
    let (system, index) = load_component(&options.system, &options.component)?;
    let component = &system.components[index];
    let table = Table::open(&options.data).map_err(|e| e.to_string())?;
    let outputs = if options.no_score || holds_output(&table, component) {
        None
    } else {
        Some(score(&system, component, &table)?)
    };
    let monitor_options = Options { sample_size: options.sample_size, seed: options.seed, ..Options::default() };
    let profile = rein_monitor::files::profile(&system.name, component, &table, outputs.as_ref(), &monitor_options)
        .map_err(|e| e.to_string())?;
    let out = options.out.unwrap_or_else(|| default_profile_path(component));
    std::fs::write(&out, profile.to_json() + "\n").map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!(
        "profiled `{}` on {} rows of {} in {:.2} s{} → {}",
        component.name,
        profile.source.rows,
        options.data.display(),
        started.elapsed().as_secs_f64(),
        outputs.as_ref().map(|o| format!(", output scored by {}", o.by)).unwrap_or_default(),
        out.display()
    );
    for column in &profile.columns {
        if let Some(why) = &column.skipped {
            eprintln!("  `{}` not profiled: {why}", column.name);
        }
    }
    Ok(())
}

/// A window of what telemetry recorded.
pub struct Recorded<'a> {
    pub store: &'a dyn rein_telemetry::Store,
    pub since_ms: i64,
    pub until_ms: i64,
}

/// `rein profile --since --until`: the profile of a recorded window.
pub fn profile_recorded(
    system_path: PathBuf,
    name: String,
    recorded: Recorded<'_>,
    out: Option<PathBuf>,
    sample_size: usize,
    seed: u64,
) -> Result<(), String> {
    let started = Instant::now();
    let (system, index) = load_component(&system_path, &name)?;
    let component = &system.components[index];
    let options = Options { sample_size, seed, ..Options::default() };
    let window = recorded.since_ms..recorded.until_ms;
    let profile = rein_monitor::recorded::profile(&system.name, component, recorded.store, window, &options)
        .map_err(|e| e.to_string())?;
    if profile.source.rows == 0 {
        return Err(format!(
            "`{}` recorded no prediction from {} until {}: nothing to profile (is --data-dir right?)",
            component.name,
            rein_monitor::goals::time_text(recorded.since_ms),
            rein_monitor::goals::time_text(recorded.until_ms)
        ));
    }
    let out = out.unwrap_or_else(|| default_profile_path(component));
    std::fs::write(&out, profile.to_json() + "\n").map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!(
        "profiled `{}` on {} in {:.2} s → {}",
        component.name,
        profile.source.file,
        started.elapsed().as_secs_f64(),
        out.display()
    );
    for column in &profile.columns {
        if let Some(why) = &column.skipped {
            eprintln!("  `{}` not profiled: {why}", column.name);
        }
    }
    Ok(())
}

pub fn drift(options: DriftOptions) -> Result<(), String> {
    let (system, index) = load_component(&options.system, &options.component)?;
    let component = &system.components[index];
    let monitor_options = Options { sample_size: options.sample_size, seed: options.seed, ..Options::default() };
    let reference_path = match &options.reference {
        Some(path) => path.clone(),
        None => {
            let path = default_profile_path(component);
            if !path.is_file() {
                return Err(format!(
                    "no --reference given, and no profile beside the model at {}: make one with `rein profile {} {} --data TRAIN.csv`, or pass --reference",
                    path.display(),
                    options.system.display(),
                    component.name
                ));
            }
            path
        }
    };
    let (profile, reference) = if reference_path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        let text = std::fs::read_to_string(&reference_path)
            .map_err(|e| format!("{}: cannot read it: {e}", reference_path.display()))?;
        let file = reference_path.display().to_string();
        let profile = Profile::from_json(&text, &file).map_err(|e| e.to_string())?;
        profile.check_against(&component.name, &columns(component), &file).map_err(|e| e.to_string())?;
        let rows = profile.source.rows;
        (profile, Side { source: file, kind: "profile", rows })
    } else {
        let table = Table::open(&reference_path).map_err(|e| e.to_string())?;
        let outputs = if options.score && !holds_output(&table, component) {
            Some(score(&system, component, &table)?)
        } else {
            None
        };
        let profile = rein_monitor::files::profile(&system.name, component, &table, outputs.as_ref(), &monitor_options)
            .map_err(|e| e.to_string())?;
        let rows = profile.source.rows;
        (profile, Side { source: reference_path.display().to_string(), kind: "data", rows })
    };
    let table = Table::open(&options.current).map_err(|e| e.to_string())?;
    let outputs =
        if options.score && !holds_output(&table, component) { Some(score(&system, component, &table)?) } else { None };
    let report = rein_monitor::files::drift(
        &system.name,
        component,
        &profile,
        reference,
        &table,
        outputs.as_ref(),
        &monitor_options,
    )
    .map_err(|e| e.to_string())?;
    if let Some(out) = &options.out {
        let text = if out.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
        } else {
            rein_monitor::html::render(&report)
        };
        std::fs::write(out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    if options.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print!("{}", text_summary(&report));
        if let Some(out) = &options.out {
            println!("\nreport written to {}", out.display());
        }
    }
    Ok(())
}

/// The report for a terminal: a line a column.
pub fn text_summary(report: &DriftReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "drift of `{}` ({})", report.component, report.system);
    let _ = writeln!(
        s,
        "  reference: {} ({}, {} rows)",
        report.reference.source, report.reference.kind, report.reference.rows
    );
    let _ =
        writeln!(s, "  current:   {} ({}, {} rows)", report.current.source, report.current.kind, report.current.rows);
    let summary = &report.summary;
    let _ = writeln!(
        s,
        "\n{} of {} features drifted{}{}",
        summary.drifted_features.len(),
        summary.features,
        if summary.dataset_drift { ": the dataset drifted" } else { "" },
        if summary.drifted_outputs.is_empty() {
            String::new()
        } else {
            format!("; the output drifted ({})", summary.drifted_outputs.join(", "))
        }
    );
    let width = report.columns.iter().map(|c| c.name.chars().count()).max().unwrap_or(6).max(6);
    let _ = writeln!(
        s,
        "\n{:width$}  {:9} {:24} {:>9}  {:9} {:15} drifted",
        "column", "type", "decided by", "value", "drift at", "missing"
    );
    for c in &report.columns {
        let (method, value, at) = match &c.decision {
            Some(d) => (
                d.method.replace('_', " ") + if d.test { " p-value" } else { "" },
                short(d.value),
                format!("{} {}", if d.test { "≤" } else { "≥" }, d.threshold),
            ),
            None => ("—".into(), "—".into(), "—".into()),
        };
        let missing = format!("{:.1}% → {:.1}%", 100.0 * c.values.reference.missing, 100.0 * c.values.current.missing);
        let drifted = if c.drifted {
            if c.values.risen.is_empty() {
                "yes".to_owned()
            } else {
                format!("yes ({} rose)", c.values.risen.join(", ").replace('_', "-"))
            }
        } else if c.not_compared.is_some() {
            "not compared".to_owned()
        } else {
            "no".to_owned()
        };
        let _ = writeln!(
            s,
            "{:width$}  {:9} {:24} {:>9}  {:9} {:15} {drifted}",
            c.name, c.declared, method, value, at, missing
        );
    }
    for n in &summary.not_compared {
        let _ = writeln!(s, "\n`{}` not compared: {}", n.column, n.why);
    }
    s
}

/// A feature's cells, as the model takes them: `Ok(None)` absent, `Err(())` a value the
/// schema refuses.
struct Collect {
    column: Column,
    kind: FeatureKind,
    values: Vec<Result<Option<FeatureValue>, ()>>,
}

impl Sink for Collect {
    fn push(&mut self, cell: Cell<'_>) {
        let value = match self.column.observe(cell) {
            Observed::Missing | Observed::Defaulted => Ok(None),
            Observed::Number { in_range: false, .. } | Observed::Category { in_range: false, .. } => Err(()),
            Observed::Number { value, .. } => Ok(Some(match (&self.kind, cell) {
                (FeatureKind::Integer { .. }, _) => FeatureValue::Integer(value as i64),
                (FeatureKind::Text { .. }, Cell::Text(t)) => FeatureValue::Text(t.to_owned()),
                _ => FeatureValue::Number(value),
            })),
            Observed::Category { value, .. } => Ok(Some(match self.kind {
                FeatureKind::Boolean => FeatureValue::Boolean(value == "true"),
                _ => FeatureValue::Text(value.to_owned()),
            })),
        };
        self.values.push(value);
    }
}

/// The model's output for each row of `table`: the rows read as the schema reads a
/// request (an absent value takes its default; a row with a value missing and no default,
/// or one the schema refuses, is not scored), then the model in batches.
fn score(system: &System, component: &Component, table: &Table) -> Result<Outputs, String> {
    let started = Instant::now();
    let runtime = rein_runtime::Runtime::for_system(system).map_err(|e| {
        format!("{e}\n(rein scores the rows with the model when the file holds no output; --no-score skips it)")
    })?;
    let model = rein_runtime::load(component, &runtime)
        .map_err(|e| format!("{}: {e} (--no-score profiles the features alone)", component.model.path.display()))?;
    let monitored = columns(component);
    let mut collects: Vec<Collect> = component
        .features
        .iter()
        .zip(&monitored)
        .map(|(feature, column)| Collect { column: column.clone(), kind: feature.kind.clone(), values: Vec::new() })
        .collect();
    let mut reads = Vec::new();
    for collect in &mut collects {
        let index = table.index(&collect.column.name).ok_or_else(|| {
            table
                .missing(&collect.column.name, format!("feature `{}`, which the model reads", collect.column.name))
                .to_string()
        })?;
        let expect = collect.column.expect();
        reads.push(Read { index, expect, sink: collect });
    }
    let rows = table.read(reads).map_err(|e| e.to_string())? as usize;
    let defaults: Vec<Option<FeatureValue>> = component.features.iter().map(|f| f.default.clone()).collect();
    let mut outputs: Vec<Option<Output>> = Vec::with_capacity(rows);
    let mut batch: Vec<Vec<FeatureValue>> = Vec::with_capacity(SCORE_BATCH);
    let mut batch_rows: Vec<usize> = Vec::with_capacity(SCORE_BATCH);
    let flush = |batch: &mut Vec<Vec<FeatureValue>>,
                 batch_rows: &mut Vec<usize>,
                 outputs: &mut Vec<Option<Output>>|
     -> Result<(), String> {
        if batch.is_empty() {
            return Ok(());
        }
        let refs: Vec<&[FeatureValue]> = batch.iter().map(Vec::as_slice).collect();
        let answers = model.infer(&refs).map_err(|e| format!("the model failed on {}: {e}", table.path.display()))?;
        for (&row, answer) in batch_rows.iter().zip(answers) {
            outputs[row] = rein_decision::Output::from_model(component, &answer).ok().and_then(|o| {
                match (o.label, o.score, o.value) {
                    (_, _, Some(value)) => Some(Output::Value(value)),
                    (Some(label), Some(score), None) => Some(Output::Class { label, score }),
                    _ => None,
                }
            });
        }
        batch.clear();
        batch_rows.clear();
        Ok(())
    };
    for row in 0..rows {
        outputs.push(None);
        let values: Option<Vec<FeatureValue>> = collects
            .iter()
            .zip(&defaults)
            .map(|(c, default)| match c.values.get(row) {
                Some(Ok(Some(v))) => Some(v.clone()),
                Some(Ok(None)) => default.clone(),
                _ => None,
            })
            .collect();
        if let Some(values) = values {
            batch.push(values);
            batch_rows.push(row);
            if batch.len() == SCORE_BATCH {
                flush(&mut batch, &mut batch_rows, &mut outputs)?;
            }
        }
    }
    flush(&mut batch, &mut batch_rows, &mut outputs)?;
    let info = model.info();
    let scored = outputs.iter().filter(|o| o.is_some()).count();
    eprintln!(
        "scored {scored} of {rows} rows of {} with {} {} in {:.2} s",
        table.path.display(),
        info.name,
        info.version,
        started.elapsed().as_secs_f64()
    );
    Ok(Outputs { by: format!("{} {}", info.name, info.version), rows: outputs })
}
