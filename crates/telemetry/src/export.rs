//! Export of labeled examples: every prediction of a component in a time
//! window that has feedback, with its features and the truth the feedback
//! establishes, as JSON lines, CSV or Parquet.
//!
//! Columns: `prediction_id`, `time_ms` (unix ms), `model_name`,
//! `model_version`, `variant`, `predicted`, `truth`, `feedback` (the kind of
//! the deciding feedback), `feedback_source`, then one column per feature
//! (nested objects flattened with `.`, arrays as JSON text; a feature whose
//! name clashes with a fixed column is prefixed `feature.`). In JSON lines
//! the features stay one nested `features` object, losslessly.
//!
//! `predicted` is read from the final output: the output itself when it is a
//! string, number or boolean, else its `label`, `prediction`, `value` or
//! `class` field.
//!
//! `truth`: the latest feedback decides. If it carries a label (or a value)
//! that is the truth; else `correct` means the truth is the predicted value;
//! `incorrect` without a label leaves the truth unknown (null / empty): for
//! more than two classes the true one cannot be known, and rein does not
//! guess the other class of a binary model (the `feedback` column lets you).
//!
//! CSV and Parquet need their columns before the first row, so the store is
//! read twice (columns and types first, rows second); rows stream, memory
//! stays bounded. Column types for Parquet: BOOLEAN if every value is a
//! boolean, DOUBLE if every value is a number, else UTF8 (JSON text for
//! non-strings). Use a window in the past for an export consistent with
//! itself.

use crate::StoreError;
use crate::events::{FeedbackKind, PredictionEvent};
use crate::store::{ExampleQuery, LabeledExample, Store};
use parquet::basic::{ConvertedType, LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

/// Rows per Parquet row group.
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

const FIXED: [&str; 9] = [
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

/// One exported row.
struct Example {
    p: PredictionEvent,
    predicted: Value,
    truth: Value,
    feedback: &'static str,
    source: &'static str,
}

impl Example {
    fn from(ex: LabeledExample) -> Example {
        let predicted = predicted_of(&ex.prediction.output.to_value());
        let last = ex.feedback.last().expect("labeled examples have feedback");
        let truth = if let Some(l) = &last.label {
            Value::String(l.clone())
        } else if let Some(v) = last.value.and_then(serde_json::Number::from_f64) {
            Value::Number(v)
        } else if last.kind == FeedbackKind::Correct {
            predicted.clone()
        } else {
            Value::Null
        };
        Example { feedback: last.kind.as_str(), source: last.source.as_str(), p: ex.prediction, predicted, truth }
    }

    /// Fixed columns then flattened features, as (column, value).
    fn columns(&self) -> Vec<(String, Value)> {
        let p = &self.p;
        let mut cols: Vec<(String, Value)> = vec![
            ("prediction_id".into(), Value::String(p.id.clone())),
            ("time_ms".into(), Value::from(p.time_ms)),
            ("model_name".into(), Value::String(p.model_name.clone())),
            ("model_version".into(), Value::String(p.model_version.clone())),
            ("variant".into(), Value::String(p.variant.clone())),
            ("predicted".into(), self.predicted.clone()),
            ("truth".into(), self.truth.clone()),
            ("feedback".into(), Value::String(self.feedback.into())),
            ("feedback_source".into(), Value::String(self.source.into())),
        ];
        flatten("", &p.features.to_value(), &mut cols);
        cols
    }
}

/// The predicted label or value in a final output.
fn predicted_of(output: &Value) -> Value {
    match output {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => output.clone(),
        Value::Object(m) => {
            ["label", "prediction", "value", "class"].iter().find_map(|k| m.get(*k).cloned()).unwrap_or(Value::Null)
        }
        _ => Value::Null,
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                if let Value::Object(_) = v {
                    flatten(&name, v, out);
                } else {
                    let name = if prefix.is_empty() && FIXED.contains(&name.as_str()) {
                        format!("feature.{name}")
                    } else {
                        name
                    };
                    let v = match v {
                        Value::Array(_) => Value::String(v.to_string()),
                        _ => v.clone(),
                    };
                    out.push((name, v));
                }
            }
        }
        Value::Null => {}
        other => out.push((if prefix.is_empty() { "features".into() } else { prefix.into() }, other.clone())),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColType {
    Unknown,
    Bool,
    Double,
    Int64,
    Utf8,
}

impl ColType {
    fn merge(self, v: &Value) -> ColType {
        let t = match v {
            Value::Null => return self,
            Value::Bool(_) => ColType::Bool,
            Value::Number(_) => ColType::Double,
            _ => ColType::Utf8,
        };
        match (self, t) {
            (ColType::Unknown, t) => t,
            (a, b) if a == b => a,
            (ColType::Int64, _) => ColType::Int64,
            _ => ColType::Utf8,
        }
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Visits labeled examples, turning a writer error into a stop.
fn each(
    store: &dyn Store,
    q: &ExampleQuery,
    mut f: impl FnMut(Example) -> Result<(), ExportError>,
) -> Result<u64, ExportError> {
    let mut failed = None;
    let res = store.labeled_examples(q, &mut |ex| {
        f(Example::from(ex)).map_err(|e| {
            failed = Some(e);
            StoreError::Unavailable("export stopped".into())
        })
    });
    match (res, failed) {
        (_, Some(e)) => Err(e),
        (Ok(n), None) => Ok(n),
        (Err(e), None) => Err(e.into()),
    }
}

/// First pass: every column with its type, fixed columns first, features sorted.
fn columns(store: &dyn Store, q: &ExampleQuery) -> Result<Vec<(String, ColType)>, ExportError> {
    let mut features: BTreeMap<String, ColType> = BTreeMap::new();
    let mut predicted = ColType::Unknown;
    let mut truth = ColType::Unknown;
    each(store, q, |ex| {
        predicted = predicted.merge(&ex.predicted);
        truth = truth.merge(&ex.truth);
        let cols = ex.columns();
        for (name, v) in &cols[FIXED.len()..] {
            let t = features.entry(name.clone()).or_insert(ColType::Unknown);
            *t = t.merge(v);
        }
        Ok(())
    })?;
    let fixed_type = |name: &str| match name {
        "time_ms" => ColType::Int64,
        "predicted" => predicted,
        "truth" => truth,
        _ => ColType::Utf8,
    };
    let mut cols: Vec<(String, ColType)> = FIXED.iter().map(|n| (n.to_string(), fixed_type(n))).collect();
    cols.extend(features);
    for c in &mut cols {
        if c.1 == ColType::Unknown {
            c.1 = ColType::Utf8;
        }
    }
    Ok(cols)
}

/// Exports the labeled examples of `component` with `since_ms <= time < until_ms`
/// to `out` in `format`; returns the number of rows. Blocking: run it in
/// `spawn_blocking`.
pub fn export<W: Write + Send>(
    store: &dyn Store,
    component: &str,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    format: ExportFormat,
    out: W,
) -> Result<u64, ExportError> {
    let q = ExampleQuery { component: Some(component.to_owned()), since_ms, until_ms };
    match format {
        ExportFormat::Jsonl => export_jsonl(store, &q, out),
        ExportFormat::Csv => export_csv(store, &q, out),
        ExportFormat::Parquet => export_parquet(store, &q, out),
    }
}

fn export_jsonl<W: Write>(store: &dyn Store, q: &ExampleQuery, out: W) -> Result<u64, ExportError> {
    let mut out = std::io::BufWriter::new(out);
    let n = each(store, q, |ex| {
        let mut m = Map::new();
        for (name, v) in ex.columns().into_iter().take(FIXED.len()) {
            m.insert(name, v);
        }
        m.insert("features".into(), ex.p.features.to_value());
        serde_json::to_writer(&mut out, &m).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        Ok(())
    })?;
    out.flush()?;
    Ok(n)
}

fn export_csv<W: Write>(store: &dyn Store, q: &ExampleQuery, out: W) -> Result<u64, ExportError> {
    let cols = columns(store, q)?;
    let index: BTreeMap<&str, usize> = cols.iter().enumerate().map(|(i, (n, _))| (n.as_str(), i)).collect();
    let mut w = csv::Writer::from_writer(out);
    w.write_record(cols.iter().map(|(n, _)| n.as_str()))?;
    let mut record = vec![String::new(); cols.len()];
    let n = each(store, q, |ex| {
        record.iter_mut().for_each(String::clear);
        for (name, v) in ex.columns() {
            if let (Some(&i), Some(t)) = (index.get(name.as_str()), text(&v)) {
                record[i] = t;
            }
        }
        w.write_record(&record)?;
        Ok(())
    })?;
    w.flush()?;
    Ok(n)
}

enum ColumnData {
    Bool(Vec<bool>),
    Double(Vec<f64>),
    Int64(Vec<i64>),
    Utf8(Vec<ByteArray>),
}

struct ColumnBuf {
    data: ColumnData,
    def: Vec<i16>,
}

impl ColumnBuf {
    fn new(t: ColType) -> Self {
        let data = match t {
            ColType::Bool => ColumnData::Bool(Vec::new()),
            ColType::Double => ColumnData::Double(Vec::new()),
            ColType::Int64 => ColumnData::Int64(Vec::new()),
            ColType::Unknown | ColType::Utf8 => ColumnData::Utf8(Vec::new()),
        };
        ColumnBuf { data, def: Vec::new() }
    }

    fn push(&mut self, v: Option<&Value>) {
        let present = match (&mut self.data, v) {
            (_, None | Some(Value::Null)) => false,
            (ColumnData::Bool(d), Some(Value::Bool(b))) => {
                d.push(*b);
                true
            }
            (ColumnData::Double(d), Some(Value::Number(n))) => n.as_f64().map(|x| d.push(x)).is_some(),
            (ColumnData::Int64(d), Some(Value::Number(n))) => n.as_i64().map(|x| d.push(x)).is_some(),
            (ColumnData::Utf8(d), Some(v)) => {
                d.push(ByteArray::from(text(v).unwrap_or_default().into_bytes()));
                true
            }
            // A value of another type than the first pass saw (written meanwhile).
            _ => false,
        };
        self.def.push(i16::from(present));
    }

    fn clear(&mut self) {
        self.def.clear();
        match &mut self.data {
            ColumnData::Bool(d) => d.clear(),
            ColumnData::Double(d) => d.clear(),
            ColumnData::Int64(d) => d.clear(),
            ColumnData::Utf8(d) => d.clear(),
        }
    }
}

fn parquet_schema(cols: &[(String, ColType)]) -> Result<Type, ExportError> {
    let fields = cols
        .iter()
        .map(|(name, t)| {
            let b = match t {
                ColType::Bool => Type::primitive_type_builder(name, PhysicalType::BOOLEAN),
                ColType::Double => Type::primitive_type_builder(name, PhysicalType::DOUBLE),
                ColType::Int64 => Type::primitive_type_builder(name, PhysicalType::INT64),
                ColType::Unknown | ColType::Utf8 => Type::primitive_type_builder(name, PhysicalType::BYTE_ARRAY)
                    .with_converted_type(ConvertedType::UTF8)
                    .with_logical_type(Some(LogicalType::String)),
            };
            b.with_repetition(Repetition::OPTIONAL).build().map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Type::group_type_builder("labeled_examples").with_fields(fields).build()?)
}

fn write_row_group<W: Write + Send>(
    w: &mut SerializedFileWriter<W>,
    bufs: &mut [ColumnBuf],
) -> Result<(), ExportError> {
    if bufs.first().is_none_or(|b| b.def.is_empty()) {
        return Ok(());
    }
    let mut rg = w.next_row_group()?;
    let mut i = 0;
    while let Some(mut col) = rg.next_column()? {
        let b = &bufs[i];
        let def = Some(b.def.as_slice());
        match &b.data {
            ColumnData::Bool(d) => col.typed::<BoolType>().write_batch(d, def, None)?,
            ColumnData::Double(d) => col.typed::<DoubleType>().write_batch(d, def, None)?,
            ColumnData::Int64(d) => col.typed::<Int64Type>().write_batch(d, def, None)?,
            ColumnData::Utf8(d) => col.typed::<ByteArrayType>().write_batch(d, def, None)?,
        };
        col.close()?;
        i += 1;
    }
    rg.close()?;
    bufs.iter_mut().for_each(ColumnBuf::clear);
    Ok(())
}

fn export_parquet<W: Write + Send>(store: &dyn Store, q: &ExampleQuery, out: W) -> Result<u64, ExportError> {
    let cols = columns(store, q)?;
    let index: BTreeMap<&str, usize> = cols.iter().enumerate().map(|(i, (n, _))| (n.as_str(), i)).collect();
    let schema = Arc::new(parquet_schema(&cols)?);
    let props = Arc::new(WriterProperties::builder().set_created_by("rein-telemetry".into()).build());
    let mut w = SerializedFileWriter::new(out, schema, props)?;
    let mut bufs: Vec<ColumnBuf> = cols.iter().map(|(_, t)| ColumnBuf::new(*t)).collect();
    let mut row: Vec<Option<Value>> = vec![None; cols.len()];
    let n = each(store, q, |ex| {
        row.iter_mut().for_each(|v| *v = None);
        for (name, v) in ex.columns() {
            if let Some(&i) = index.get(name.as_str()) {
                row[i] = Some(v);
            }
        }
        for (b, v) in bufs.iter_mut().zip(&row) {
            b.push(v.as_ref());
        }
        if bufs[0].def.len() >= ROW_GROUP_ROWS {
            write_row_group(&mut w, &mut bufs)?;
        }
        Ok(())
    })?;
    write_row_group(&mut w, &mut bufs)?;
    w.close()?;
    Ok(n)
}
