//! Export: every prediction of a component in a time window, as a dataset (JSON lines, CSV
//! or Parquet), one row a prediction: its features in the schema's order and types, the
//! model's raw output and the final one, how it was shown, and what the world said back
//! (the truth from feedback, the outcomes). `docs/export.md` describes every column.
//!
//! Telemetry knows events, not components: what the system file says of the component (its
//! features and their types, its task and labels) comes in an [`ExportSpec`], which the
//! server makes from it.
//!
//! The store is read once, streaming: one prediction with its feedback and outcomes at a
//! time ([`Store::visit_predictions`]), so memory does not grow with the window; Parquet
//! holds one row group (8192 rows) at a time. The outcome columns are known before the first
//! row from one query ([`Store::outcome_names`]); an outcome of a name first recorded
//! between that query and the read is left out: use a window in the past for an export
//! consistent with itself.

use crate::StoreError;
use crate::events::FeedbackKind;
use crate::store::{OutcomeName, PredictionRecord, Store, WindowQuery};
use parquet::basic::{LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

/// Rows per Parquet row group: what the Parquet writer holds at once.
const ROW_GROUP_ROWS: usize = 8192;

/// Output format of [`export`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Jsonl,
    Csv,
    Parquet,
}

impl FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" => Ok(ExportFormat::Jsonl),
            "csv" => Ok(ExportFormat::Csv),
            "parquet" => Ok(ExportFormat::Parquet),
            _ => Err(format!("unknown export format `{s}`: use jsonl, csv or parquet")),
        }
    }
}

impl ExportFormat {
    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Parquet => "application/vnd.apache.parquet",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("export: writing output failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("export: writing CSV failed: {0}")]
    Csv(#[from] csv::Error),
    #[error("export: writing Parquet failed: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

/// What the component predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportTask {
    /// Two labels: `incorrect` feedback without a label means the other one.
    Binary,
    Multiclass,
    Regression,
}

/// A column's type: Parquet's physical and logical type, CSV's and JSON's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text (Parquet `BYTE_ARRAY` `STRING`).
    String,
    /// Parquet `INT64`; JSON and CSV whole numbers.
    Int64,
    /// Parquet `DOUBLE`.
    Double,
    /// Parquet `BOOLEAN`; JSON and CSV `true`, `false`.
    Bool,
    /// Unix milliseconds: Parquet `INT64` `TIMESTAMP(MILLIS, UTC)`; JSON and CSV the number.
    TimestampMs,
}

impl ColumnType {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Int64 => "int64",
            ColumnType::Double => "double",
            ColumnType::Bool => "bool",
            ColumnType::TimestampMs => "timestamp[ms, UTC]",
        }
    }
}

/// A feature as telemetry stores it: its name in the recorded features, and its column's type
/// (its schema type; text for a hashed one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFeature {
    pub name: String,
    pub column: ColumnType,
}

/// What the system file says of the exported component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSpec {
    pub component: String,
    pub task: ExportTask,
    /// The labels in the component's order (classifiers).
    pub labels: Vec<String>,
    /// The features telemetry stores, in the schema's order (dropped ones left out).
    pub features: Vec<ExportFeature>,
}

/// Which predictions, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// Inclusive, unix ms.
    pub since_ms: Option<i64>,
    /// Exclusive, unix ms.
    pub until_ms: Option<i64>,
    /// Only the predictions whose truth is known (from feedback).
    pub labeled_only: bool,
    pub format: ExportFormat,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Predictions written, one row each.
    pub rows: u64,
    /// Of those, the ones whose truth is known.
    pub labeled: u64,
    /// Values left empty because they did not fit their column's type (recorded under a
    /// system file whose schema has changed since).
    pub misfits: u64,
}

/// One column of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnType,
    /// Never empty (Parquet `REQUIRED`).
    pub required: bool,
}

/// A value of a row.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Where each part of a prediction goes in a row.
struct Layout {
    columns: Vec<Column>,
    /// (name in the recorded features, column)
    features: Vec<(String, usize)>,
    raw: Outputs,
    output: Outputs,
    mode: usize,
    variant: usize,
    fallback: usize,
    guardrails: usize,
    truth: usize,
    feedback_kind: usize,
    feedback_source: usize,
    feedback_count: usize,
    /// by name: (column, whether it holds a value rather than a count)
    outcomes: HashMap<String, (usize, bool)>,
}

/// The columns of an output (raw or final).
struct Outputs {
    label: Option<usize>,
    score: Option<usize>,
    value: Option<usize>,
    /// One a label, in the component's label order.
    probabilities: Vec<usize>,
}

struct Columns(Vec<Column>);

impl Columns {
    fn add(&mut self, name: impl Into<String>, kind: ColumnType, required: bool) -> usize {
        self.0.push(Column { name: name.into(), kind, required });
        self.0.len() - 1
    }
}

const ID_COLUMNS: [&str; 4] = ["prediction_id", "time_ms", "unit", "model_version"];

impl Layout {
    fn new(spec: &ExportSpec, outcomes: &[OutcomeName]) -> Layout {
        // rein's own column names, first, so that a feature named as one of them is told apart
        let classifier = spec.task != ExportTask::Regression;
        let mut own: Vec<String> = ID_COLUMNS.iter().map(|s| s.to_string()).collect();
        for prefix in ["raw", "output"] {
            if classifier {
                own.extend([format!("{prefix}_label"), format!("{prefix}_score")]);
                own.extend(spec.labels.iter().map(|l| format!("{prefix}_p_{l}")));
            } else {
                own.push(format!("{prefix}_value"));
            }
        }
        own.extend(
            [
                "mode",
                "variant",
                "fallback",
                "guardrails",
                "truth",
                "feedback_kind",
                "feedback_source",
                "feedback_count",
            ]
            .map(String::from),
        );
        own.extend(outcomes.iter().map(|o| format!("outcome_{}", o.name)));

        let mut c = Columns(Vec::new());
        use ColumnType as T;
        c.add("prediction_id", T::String, true);
        c.add("time_ms", T::TimestampMs, true);
        c.add("unit", T::String, false);
        c.add("model_version", T::String, true);
        let features = spec
            .features
            .iter()
            .map(|f| {
                let name = if own.contains(&f.name) { format!("feature.{}", f.name) } else { f.name.clone() };
                (f.name.clone(), c.add(name, f.column, false))
            })
            .collect();
        let outputs = |c: &mut Columns, prefix: &str| {
            if classifier {
                Outputs {
                    label: Some(c.add(format!("{prefix}_label"), T::String, false)),
                    score: Some(c.add(format!("{prefix}_score"), T::Double, false)),
                    value: None,
                    probabilities: spec
                        .labels
                        .iter()
                        .map(|l| c.add(format!("{prefix}_p_{l}"), T::Double, false))
                        .collect(),
                }
            } else {
                Outputs {
                    label: None,
                    score: None,
                    value: Some(c.add(format!("{prefix}_value"), T::Double, false)),
                    probabilities: Vec::new(),
                }
            }
        };
        let raw = outputs(&mut c, "raw");
        let output = outputs(&mut c, "output");
        let mode = c.add("mode", T::String, true);
        let variant = c.add("variant", T::String, true);
        let fallback = c.add("fallback", T::String, false);
        let guardrails = c.add("guardrails", T::String, false);
        let truth = c.add("truth", if classifier { T::String } else { T::Double }, false);
        let feedback_kind = c.add("feedback_kind", T::String, false);
        let feedback_source = c.add("feedback_source", T::String, false);
        let feedback_count = c.add("feedback_count", T::Int64, true);
        let outcomes = outcomes
            .iter()
            .map(|o| {
                let kind = if o.valued { T::Double } else { T::Int64 };
                (o.name.clone(), (c.add(format!("outcome_{}", o.name), kind, !o.valued), o.valued))
            })
            .collect();
        Layout {
            columns: c.0,
            features,
            raw,
            output,
            mode,
            variant,
            fallback,
            guardrails,
            truth,
            feedback_kind,
            feedback_source,
            feedback_count,
            outcomes,
        }
    }

    /// The row of `record` into `row` (as long as the columns); whether its truth is known.
    fn fill(&self, spec: &ExportSpec, record: &PredictionRecord, row: &mut [Cell], misfits: &mut u64) -> bool {
        let p = &record.prediction;
        row.fill(Cell::Null);
        let mut put = |row: &mut [Cell], i: usize, cell: Cell| {
            row[i] = fit(cell, self.columns[i].kind, misfits);
        };
        put(row, 0, Cell::Str(p.id.clone()));
        put(row, 1, Cell::Int(p.time_ms));
        put(row, 2, p.unit.clone().map_or(Cell::Null, Cell::Str));
        put(row, 3, Cell::Str(p.model_version.clone()));
        if !self.features.is_empty() {
            let features: serde_json::Map<String, Value> =
                serde_json::from_str(p.features.as_str()).unwrap_or_default();
            for (name, i) in &self.features {
                put(row, *i, features.get(name).map_or(Cell::Null, cell_of));
            }
        }
        let output = read_output(spec, &p.output.to_value());
        for (cols, read) in [(&self.raw, read_output(spec, &p.raw_output.to_value())), (&self.output, output.clone())] {
            let cells = [(cols.label, read.label.map(Cell::Str)), (cols.score, read.score.map(Cell::Float))];
            for (i, cell) in cells.into_iter().chain([(cols.value, read.value.map(Cell::Float))]) {
                if let (Some(i), Some(cell)) = (i, cell) {
                    put(row, i, cell);
                }
            }
            for (i, prob) in cols.probabilities.iter().zip(read.probabilities) {
                put(row, *i, prob.map_or(Cell::Null, Cell::Float));
            }
        }
        put(row, self.mode, Cell::Str(p.mode.clone()));
        put(row, self.variant, Cell::Str(p.variant.clone()));
        put(row, self.fallback, p.fallback.clone().map_or(Cell::Null, Cell::Str));
        put(row, self.guardrails, compact_guardrails(&p.guardrails.to_value()).map_or(Cell::Null, Cell::Str));

        let truth = truth_of(spec, record, &output);
        let labeled = truth.is_some();
        let cell = match truth {
            Some(Truth::Label(label)) => Cell::Str(label),
            Some(Truth::Value(value)) => Cell::Float(value),
            None => Cell::Null,
        };
        put(row, self.truth, cell);
        if let Some(last) = record.feedback.last() {
            put(row, self.feedback_kind, Cell::Str(last.kind.as_str().into()));
            put(row, self.feedback_source, Cell::Str(last.source.as_str().into()));
        }
        put(row, self.feedback_count, Cell::Int(record.feedback.len() as i64));
        for (i, valued) in self.outcomes.values() {
            if !valued {
                row[*i] = Cell::Int(0);
            }
        }
        // oldest first: the latest value stays
        for o in &record.outcomes {
            match self.outcomes.get(&o.name) {
                Some((i, true)) => {
                    if let Some(v) = o.value {
                        row[*i] = Cell::Float(v);
                    }
                }
                Some((i, false)) => {
                    if let Cell::Int(n) = &mut row[*i] {
                        *n += 1;
                    }
                }
                None => {} // a name first recorded after the columns were chosen
            }
        }
        labeled
    }
}

/// `cell` if it fits a column of `kind`, else empty and counted. A whole number fits a
/// double; a double with no fraction an integer; anything but null, as its JSON, a string.
fn fit(cell: Cell, kind: ColumnType, misfits: &mut u64) -> Cell {
    match (kind, cell) {
        (_, Cell::Null) => Cell::Null,
        (ColumnType::String, Cell::Str(s)) => Cell::Str(s),
        (ColumnType::String, Cell::Int(n)) => Cell::Str(n.to_string()),
        (ColumnType::String, Cell::Float(x)) => Cell::Str(float_text(x)),
        (ColumnType::String, Cell::Bool(b)) => Cell::Str(b.to_string()),
        (ColumnType::Int64 | ColumnType::TimestampMs, Cell::Int(n)) => Cell::Int(n),
        (ColumnType::Int64, Cell::Float(x)) if x.fract() == 0.0 && x.abs() < 9.0e15 => Cell::Int(x as i64),
        (ColumnType::Double, Cell::Float(x)) => Cell::Float(x),
        (ColumnType::Double, Cell::Int(n)) => Cell::Float(n as f64),
        (ColumnType::Bool, Cell::Bool(b)) => Cell::Bool(b),
        _ => {
            *misfits += 1;
            Cell::Null
        }
    }
}

fn cell_of(v: &Value) -> Cell {
    match v {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cell::Int(i),
            None => n.as_f64().map_or(Cell::Null, Cell::Float),
        },
        Value::String(s) => Cell::Str(s.clone()),
        other => Cell::Str(other.to_string()),
    }
}

/// A double as JSON writes it (the shortest text that reads back as the same number).
fn float_text(x: f64) -> String {
    serde_json::Number::from_f64(x).map_or_else(|| x.to_string(), |n| n.to_string())
}

/// The parts of an output the export shows.
#[derive(Clone, Default)]
struct ReadOutput {
    label: Option<String>,
    score: Option<f64>,
    value: Option<f64>,
    /// One a label, in the component's order.
    probabilities: Vec<Option<f64>>,
}

/// An output as recorded: `{"label", "score", "probabilities": {label: p}, "value"}` (an
/// array of probabilities, in label order, from early events too).
fn read_output(spec: &ExportSpec, v: &Value) -> ReadOutput {
    let probabilities = match &v["probabilities"] {
        Value::Object(by_label) => spec.labels.iter().map(|l| by_label.get(l).and_then(Value::as_f64)).collect(),
        Value::Array(in_order) => (0..spec.labels.len()).map(|i| in_order.get(i).and_then(Value::as_f64)).collect(),
        _ => vec![None; spec.labels.len()],
    };
    ReadOutput {
        label: v["label"].as_str().map(String::from),
        score: v["score"].as_f64(),
        value: v["value"].as_f64(),
        probabilities,
    }
}

/// The guardrails that acted, compact: `rule:action` in order, `;` between; a rule whose
/// condition could not be evaluated `rule:failed:<on_error>`. None when none acted.
fn compact_guardrails(v: &Value) -> Option<String> {
    let actions = v.as_array().filter(|a| !a.is_empty())?;
    let text: Vec<String> = actions
        .iter()
        .map(|a| {
            let rule = a["rule"].as_str().unwrap_or("?");
            match (a.get("error"), a["on_error"].as_str()) {
                (Some(_), Some(on_error)) => format!("{rule}:failed:{on_error}"),
                _ => format!("{rule}:{}", a["action"].as_str().unwrap_or("?")),
            }
        })
        .collect();
    Some(text.join(";"))
}

/// What feedback established as a prediction's truth.
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    /// A classifier's true label.
    Label(String),
    /// A regression's true value.
    Value(f64),
}

/// The truth the latest feedback on `record` establishes (as the export's `truth` column
/// says it): its label or value; for `correct`, the final output's; for `incorrect` on a
/// binary component, the other label; else unknown.
pub fn truth(spec: &ExportSpec, record: &PredictionRecord) -> Option<Truth> {
    truth_of(spec, record, &read_output(spec, &record.prediction.output.to_value()))
}

fn truth_of(spec: &ExportSpec, record: &PredictionRecord, output: &ReadOutput) -> Option<Truth> {
    let last = record.feedback.last()?;
    if let Some(label) = &last.label {
        return Some(Truth::Label(label.clone()));
    }
    if let Some(value) = last.value {
        return Some(Truth::Value(value));
    }
    let predicted = || match (&output.label, output.value) {
        (Some(label), _) => Some(Truth::Label(label.clone())),
        (None, Some(value)) => Some(Truth::Value(value)),
        (None, None) => None,
    };
    match (last.kind, spec.task, &output.label) {
        (FeedbackKind::Correct, _, _) => predicted(),
        (FeedbackKind::Incorrect, ExportTask::Binary, Some(given)) if spec.labels.contains(given) => {
            spec.labels.iter().find(|l| *l != given).map(|l| Truth::Label(l.clone()))
        }
        _ => None,
    }
}

/// The columns an export of `spec` writes, given the outcome names of its window.
pub fn columns(spec: &ExportSpec, outcomes: &[OutcomeName]) -> Vec<Column> {
    Layout::new(spec, outcomes).columns
}

/// Exports the predictions of `spec.component` with `since_ms <= time < until_ms` to `out`.
/// Blocking: run it in `spawn_blocking`.
pub fn export<W: Write + Send>(
    store: &dyn Store,
    spec: &ExportSpec,
    options: &ExportOptions,
    out: W,
) -> Result<ExportReport, ExportError> {
    let query = WindowQuery {
        component: Some(spec.component.clone()),
        since_ms: options.since_ms,
        until_ms: options.until_ms,
        with_feedback: options.labeled_only,
    };
    let layout = Layout::new(spec, &store.outcome_names(&query)?);
    match options.format {
        ExportFormat::Jsonl => run(store, spec, options, &query, &layout, Jsonl::new(out, &layout.columns)),
        ExportFormat::Csv => run(store, spec, options, &query, &layout, Csv::new(out, &layout.columns)?),
        ExportFormat::Parquet => run(store, spec, options, &query, &layout, Parquet::new(out, &layout.columns)?),
    }
}

/// Where rows go.
trait Sink {
    fn row(&mut self, row: &[Cell]) -> Result<(), ExportError>;
    fn finish(self) -> Result<(), ExportError>;
}

fn run(
    store: &dyn Store,
    spec: &ExportSpec,
    options: &ExportOptions,
    query: &WindowQuery,
    layout: &Layout,
    mut sink: impl Sink,
) -> Result<ExportReport, ExportError> {
    let mut report = ExportReport::default();
    let mut row = vec![Cell::Null; layout.columns.len()];
    let mut failed = None;
    let visited = store.visit_predictions(query, &mut |record| {
        let labeled = layout.fill(spec, &record, &mut row, &mut report.misfits);
        if options.labeled_only && !labeled {
            return Ok(());
        }
        report.rows += 1;
        report.labeled += u64::from(labeled);
        sink.row(&row).map_err(|e| {
            failed = Some(e);
            StoreError::Unavailable("export stopped".into())
        })
    });
    match (visited, failed) {
        (_, Some(e)) => return Err(e),
        (Err(e), None) => return Err(e.into()),
        (Ok(_), None) => {}
    }
    sink.finish()?;
    Ok(report)
}

/// JSON lines: one object a row, its keys the columns in order.
struct Jsonl<W: Write> {
    out: std::io::BufWriter<W>,
    /// Each column's name as a JSON string and a colon.
    keys: Vec<String>,
}

impl<W: Write> Jsonl<W> {
    fn new(out: W, columns: &[Column]) -> Self {
        let keys = columns.iter().map(|c| format!("{}:", Value::String(c.name.clone()))).collect();
        Jsonl { out: std::io::BufWriter::new(out), keys }
    }
}

impl<W: Write> Sink for Jsonl<W> {
    fn row(&mut self, row: &[Cell]) -> Result<(), ExportError> {
        let out = &mut self.out;
        out.write_all(b"{")?;
        for (i, (key, cell)) in self.keys.iter().zip(row).enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            out.write_all(key.as_bytes())?;
            match cell {
                Cell::Null => out.write_all(b"null")?,
                Cell::Str(s) => serde_json::to_writer(&mut *out, s).map_err(std::io::Error::from)?,
                Cell::Int(n) => write!(out, "{n}")?,
                Cell::Float(x) => serde_json::to_writer(&mut *out, x).map_err(std::io::Error::from)?,
                Cell::Bool(b) => write!(out, "{b}")?,
            }
        }
        out.write_all(b"}\n")?;
        Ok(())
    }

    fn finish(mut self) -> Result<(), ExportError> {
        Ok(self.out.flush()?)
    }
}

/// CSV with a header; an empty field is a missing value.
struct Csv<W: Write> {
    out: csv::Writer<W>,
    record: Vec<String>,
}

impl<W: Write> Csv<W> {
    fn new(out: W, columns: &[Column]) -> Result<Self, ExportError> {
        let mut out = csv::Writer::from_writer(out);
        out.write_record(columns.iter().map(|c| c.name.as_str()))?;
        Ok(Csv { out, record: vec![String::new(); columns.len()] })
    }
}

impl<W: Write> Sink for Csv<W> {
    fn row(&mut self, row: &[Cell]) -> Result<(), ExportError> {
        use std::fmt::Write as _;
        for (field, cell) in self.record.iter_mut().zip(row) {
            field.clear();
            let _ = match cell {
                Cell::Null => Ok(()),
                Cell::Str(s) => field.write_str(s),
                Cell::Int(n) => write!(field, "{n}"),
                Cell::Float(x) => field.write_str(&float_text(*x)),
                Cell::Bool(b) => write!(field, "{b}"),
            };
        }
        self.out.write_record(&self.record)?;
        Ok(())
    }

    fn finish(mut self) -> Result<(), ExportError> {
        Ok(self.out.flush()?)
    }
}

/// Parquet: typed columns, one row group each [`ROW_GROUP_ROWS`] rows.
struct Parquet<W: Write + Send> {
    out: SerializedFileWriter<W>,
    columns: Vec<ColumnBuf>,
    rows: usize,
}

enum ColumnData {
    Bool(Vec<bool>),
    Double(Vec<f64>),
    Int64(Vec<i64>),
    Utf8(Vec<ByteArray>),
}

struct ColumnBuf {
    data: ColumnData,
    /// Definition levels of an optional column (1 present, 0 missing); none for a required one.
    def: Option<Vec<i16>>,
}

impl ColumnBuf {
    fn new(c: &Column) -> Self {
        let data = match c.kind {
            ColumnType::Bool => ColumnData::Bool(Vec::new()),
            ColumnType::Double => ColumnData::Double(Vec::new()),
            ColumnType::Int64 | ColumnType::TimestampMs => ColumnData::Int64(Vec::new()),
            ColumnType::String => ColumnData::Utf8(Vec::new()),
        };
        ColumnBuf { data, def: (!c.required).then(Vec::new) }
    }

    /// Cells come fitted to the column's type; a required column always has one.
    fn push(&mut self, cell: &Cell) {
        match (&mut self.data, cell) {
            (ColumnData::Bool(d), Cell::Bool(b)) => d.push(*b),
            (ColumnData::Double(d), Cell::Float(x)) => d.push(*x),
            (ColumnData::Int64(d), Cell::Int(n)) => d.push(*n),
            (ColumnData::Utf8(d), Cell::Str(s)) => d.push(ByteArray::from(s.as_bytes().to_vec())),
            _ => {
                match (&mut self.def, &mut self.data) {
                    (Some(def), _) => def.push(0),
                    // never for the columns `Layout` makes: a required column holds something
                    (None, ColumnData::Bool(d)) => d.push(false),
                    (None, ColumnData::Double(d)) => d.push(0.0),
                    (None, ColumnData::Int64(d)) => d.push(0),
                    (None, ColumnData::Utf8(d)) => d.push(ByteArray::from(Vec::new())),
                }
                return;
            }
        };
        if let Some(def) = &mut self.def {
            def.push(1);
        }
    }

    fn clear(&mut self) {
        if let Some(def) = &mut self.def {
            def.clear();
        }
        match &mut self.data {
            ColumnData::Bool(d) => d.clear(),
            ColumnData::Double(d) => d.clear(),
            ColumnData::Int64(d) => d.clear(),
            ColumnData::Utf8(d) => d.clear(),
        }
    }
}

/// The Parquet schema of the columns.
fn parquet_schema(columns: &[Column]) -> Result<Type, ExportError> {
    let fields = columns
        .iter()
        .map(|c| {
            let b = match c.kind {
                ColumnType::Bool => Type::primitive_type_builder(&c.name, PhysicalType::BOOLEAN),
                ColumnType::Double => Type::primitive_type_builder(&c.name, PhysicalType::DOUBLE),
                ColumnType::Int64 => Type::primitive_type_builder(&c.name, PhysicalType::INT64),
                ColumnType::TimestampMs => Type::primitive_type_builder(&c.name, PhysicalType::INT64)
                    .with_logical_type(Some(LogicalType::timestamp(true, TimeUnit::MILLIS))),
                ColumnType::String => Type::primitive_type_builder(&c.name, PhysicalType::BYTE_ARRAY)
                    .with_logical_type(Some(LogicalType::String)),
            };
            let repetition = if c.required { Repetition::REQUIRED } else { Repetition::OPTIONAL };
            b.with_repetition(repetition).build().map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Type::group_type_builder("predictions").with_fields(fields).build()?)
}

impl<W: Write + Send> Parquet<W> {
    fn new(out: W, columns: &[Column]) -> Result<Self, ExportError> {
        let schema = Arc::new(parquet_schema(columns)?);
        let props = Arc::new(WriterProperties::builder().set_created_by("rein".into()).build());
        let out = SerializedFileWriter::new(out, schema, props)?;
        Ok(Parquet { out, columns: columns.iter().map(ColumnBuf::new).collect(), rows: 0 })
    }

    fn write_row_group(&mut self) -> Result<(), ExportError> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.out.next_row_group()?;
        let mut i = 0;
        while let Some(mut column) = group.next_column()? {
            let b = &self.columns[i];
            let def = b.def.as_deref();
            match &b.data {
                ColumnData::Bool(d) => column.typed::<BoolType>().write_batch(d, def, None)?,
                ColumnData::Double(d) => column.typed::<DoubleType>().write_batch(d, def, None)?,
                ColumnData::Int64(d) => column.typed::<Int64Type>().write_batch(d, def, None)?,
                ColumnData::Utf8(d) => column.typed::<ByteArrayType>().write_batch(d, def, None)?,
            };
            column.close()?;
            i += 1;
        }
        group.close()?;
        self.columns.iter_mut().for_each(ColumnBuf::clear);
        self.rows = 0;
        Ok(())
    }
}

impl<W: Write + Send> Sink for Parquet<W> {
    fn row(&mut self, row: &[Cell]) -> Result<(), ExportError> {
        for (b, cell) in self.columns.iter_mut().zip(row) {
            b.push(cell);
        }
        self.rows += 1;
        if self.rows >= ROW_GROUP_ROWS {
            self.write_row_group()?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), ExportError> {
        self.write_row_group()?;
        self.out.close()?;
        Ok(())
    }
}
