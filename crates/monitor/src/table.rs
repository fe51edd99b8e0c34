//! The I/O edge: a CSV or Parquet file's columns, read into [`Sink`]s as the monitored
//! columns expect them. Each mistake names the file, the column and what was expected.
//!
//! - **CSV**: a header row, then one row a line; an empty cell is missing (and `NaN`, `NA`,
//!   `null`, `None` in a number column, as pandas writes them). Read row by row.
//! - **Parquet**: flat columns (int32, int64, float, double, boolean, string), compressed
//!   or not (snappy, zstd, lz4); a null is missing. Read column by column, the columns
//!   shared among the machine's cores, each through its own reader of the file.

use crate::columns::{Cell, Expect, Sink};
use parquet::basic::{LogicalType, Type as PhysicalType};
use parquet::column::reader::ColumnReader;
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Rows read at a time from a Parquet column.
const BATCH: usize = 8192;

/// A file that cannot be read as monitoring needs it.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{path}: cannot read it: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a file rein reads: use .csv or .parquet (or a profile's .json where a profile is accepted)")]
    Format { path: PathBuf },
    #[error("{path}: {message}")]
    Csv { path: PathBuf, message: String },
    #[error("{path}: not a Parquet file rein reads: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error("{path}: no column `{column}`: expected {expected}; the file's columns are: {available}")]
    MissingColumn { path: PathBuf, column: String, expected: String, available: String },
    #[error("{path}: column `{column}` holds {found}: expected {expected}")]
    WrongType { path: PathBuf, column: String, found: String, expected: String },
    #[error("{path}: column `{column}`, row {row}: `{value}` is not {expected}")]
    BadCell { path: PathBuf, column: String, row: u64, value: String, expected: String },
}

/// A file's format, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

impl Format {
    pub fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// A data file, opened: its format and its columns' names.
#[derive(Debug, Clone)]
pub struct Table {
    pub path: PathBuf,
    pub format: Format,
    pub columns: Vec<String>,
}

/// One column to read: the file's column `index`, read as `expect`, into `sink`.
pub struct Read<'a> {
    pub index: usize,
    pub expect: Expect,
    pub sink: &'a mut dyn Sink,
}

impl Table {
    /// Opens `path` and reads its column names (a CSV's header, a Parquet file's schema).
    pub fn open(path: &Path) -> Result<Table, TableError> {
        let format = Format::of(path).ok_or_else(|| TableError::Format { path: path.to_owned() })?;
        let columns = match format {
            Format::Csv => {
                let mut reader = csv_reader(path)?;
                let headers = reader.headers().map_err(|e| csv_error(path, e))?;
                headers.iter().map(|h| h.trim_start_matches('\u{feff}').to_owned()).collect()
            }
            Format::Parquet => {
                let reader = parquet_reader(path)?;
                let schema = reader.metadata().file_metadata().schema_descr_ptr();
                (0..schema.num_columns()).map(|i| schema.column(i).path().string()).collect()
            }
        };
        Ok(Table { path: path.to_owned(), format, columns })
    }

    /// The index of the column `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The error for a column the file lacks.
    pub fn missing(&self, column: &str, expected: String) -> TableError {
        let mut available: Vec<&str> = self.columns.iter().map(String::as_str).take(30).collect();
        if self.columns.len() > 30 {
            available.push("…");
        }
        TableError::MissingColumn {
            path: self.path.clone(),
            column: column.to_owned(),
            expected,
            available: available.join(", "),
        }
    }

    /// Reads each of `reads` into its sink, in row order; returns the number of rows.
    pub fn read(&self, reads: Vec<Read<'_>>) -> Result<u64, TableError> {
        match self.format {
            Format::Csv => self.read_csv(reads),
            Format::Parquet => self.read_parquet(reads),
        }
    }

    fn read_csv(&self, mut reads: Vec<Read<'_>>) -> Result<u64, TableError> {
        let path = &self.path;
        let mut reader = csv_reader(path)?;
        let mut record = csv::ByteRecord::new();
        let mut rows = 0u64;
        while reader.read_byte_record(&mut record).map_err(|e| csv_error(path, e))? {
            rows += 1;
            for read in &mut reads {
                let raw = record.get(read.index).unwrap_or_default();
                let text = std::str::from_utf8(raw).map_err(|_| TableError::BadCell {
                    path: path.clone(),
                    column: self.columns[read.index].clone(),
                    row: rows,
                    value: String::from_utf8_lossy(raw).into_owned(),
                    expected: "UTF-8 text".into(),
                })?;
                let cell = csv_cell(text, read.expect).ok_or_else(|| TableError::BadCell {
                    path: path.clone(),
                    column: self.columns[read.index].clone(),
                    row: rows,
                    value: text.chars().take(40).collect(),
                    expected: match read.expect {
                        Expect::Number => "a number".into(),
                        other => other.describe().into(),
                    },
                })?;
                read.sink.push(cell);
            }
        }
        Ok(rows)
    }

    fn read_parquet(&self, reads: Vec<Read<'_>>) -> Result<u64, TableError> {
        let reader = parquet_reader(&self.path)?;
        let metadata = reader.metadata();
        let rows = metadata.file_metadata().num_rows().max(0) as u64;
        let schema = metadata.file_metadata().schema_descr_ptr();
        for read in &reads {
            let column = schema.column(read.index);
            if column.max_rep_level() > 0 {
                return Err(self.wrong_type(read.index, "lists (a repeated column)".into(), read.expect));
            }
            let physical = column.physical_type();
            let is_string = matches!(column.logical_type_ref(), Some(LogicalType::String))
                || column.converted_type() == parquet::basic::ConvertedType::UTF8;
            let fits = match (read.expect, physical) {
                (
                    Expect::Number,
                    PhysicalType::INT32 | PhysicalType::INT64 | PhysicalType::FLOAT | PhysicalType::DOUBLE,
                ) => true,
                (Expect::Boolean, PhysicalType::BOOLEAN | PhysicalType::INT32 | PhysicalType::INT64) => true,
                (Expect::Boolean | Expect::Text, PhysicalType::BYTE_ARRAY) => is_string,
                (Expect::Text, PhysicalType::INT32 | PhysicalType::INT64 | PhysicalType::BOOLEAN) => true,
                _ => false,
            };
            if !fits {
                let found = match physical {
                    PhysicalType::BYTE_ARRAY if is_string => "text (string)".to_owned(),
                    PhysicalType::BYTE_ARRAY => "bytes".to_owned(),
                    PhysicalType::BOOLEAN => "booleans".to_owned(),
                    PhysicalType::FLOAT | PhysicalType::DOUBLE => "floating-point numbers".to_owned(),
                    other => format!("{other}"),
                };
                return Err(self.wrong_type(read.index, found, read.expect));
            }
        }
        // the columns shared among the cores, each thread through its own reader
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(reads.len()).max(1);
        let mut groups: Vec<Vec<Read<'_>>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, read) in reads.into_iter().enumerate() {
            groups[i % threads].push(read);
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> =
                groups.into_iter().map(|group| scope.spawn(move || self.read_parquet_columns(group))).collect();
            handles.into_iter().try_for_each(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
        })?;
        Ok(rows)
    }

    fn read_parquet_columns(&self, mut reads: Vec<Read<'_>>) -> Result<(), TableError> {
        let reader = parquet_reader(&self.path)?;
        let error =
            |e: parquet::errors::ParquetError| TableError::Parquet { path: self.path.clone(), message: e.to_string() };
        let mut def = Vec::with_capacity(BATCH);
        let mut text = String::new();
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        for group in 0..reader.num_row_groups() {
            let row_group = reader.get_row_group(group).map_err(error)?;
            for read in &mut reads {
                let sink = &mut *read.sink;
                let expect = read.expect;
                let def = if schema.column(read.index).max_def_level() > 0 { Some(&mut def) } else { None };
                let column = row_group.get_column_reader(read.index).map_err(error)?;
                match column {
                    ColumnReader::DoubleColumnReader(mut r) => {
                        let mut values = Vec::with_capacity(BATCH);
                        drain(
                            def,
                            &mut values,
                            |d, v| r.read_records(BATCH, d, None, v),
                            |v| match v {
                                Some(v) => sink.push(Cell::Number(*v)),
                                None => sink.push(Cell::Missing),
                            },
                        )
                        .map_err(error)?;
                    }
                    ColumnReader::FloatColumnReader(mut r) => {
                        let mut values = Vec::with_capacity(BATCH);
                        drain(
                            def,
                            &mut values,
                            |d, v| r.read_records(BATCH, d, None, v),
                            |v| match v {
                                Some(v) => sink.push(Cell::Number(f64::from(*v))),
                                None => sink.push(Cell::Missing),
                            },
                        )
                        .map_err(error)?;
                    }
                    ColumnReader::Int32ColumnReader(mut r) => {
                        let mut values = Vec::with_capacity(BATCH);
                        drain(
                            def,
                            &mut values,
                            |d, v| r.read_records(BATCH, d, None, v),
                            |v| match v {
                                Some(v) => push_integer(sink, i64::from(*v), expect, &mut text),
                                None => sink.push(Cell::Missing),
                            },
                        )
                        .map_err(error)?;
                    }
                    ColumnReader::Int64ColumnReader(mut r) => {
                        let mut values = Vec::with_capacity(BATCH);
                        drain(
                            def,
                            &mut values,
                            |d, v| r.read_records(BATCH, d, None, v),
                            |v| match v {
                                Some(v) => push_integer(sink, *v, expect, &mut text),
                                None => sink.push(Cell::Missing),
                            },
                        )
                        .map_err(error)?;
                    }
                    ColumnReader::BoolColumnReader(mut r) => {
                        let mut values = Vec::with_capacity(BATCH);
                        drain(
                            def,
                            &mut values,
                            |d, v| r.read_records(BATCH, d, None, v),
                            |v| match v {
                                Some(v) => sink.push(Cell::Bool(*v)),
                                None => sink.push(Cell::Missing),
                            },
                        )
                        .map_err(error)?;
                    }
                    ColumnReader::ByteArrayColumnReader(mut r) => {
                        let mut values = Vec::with_capacity(BATCH);
                        let mut bad = None;
                        drain(
                            def,
                            &mut values,
                            |d, v| r.read_records(BATCH, d, None, v),
                            |v| match v.map(|v| std::str::from_utf8(v.data())) {
                                None => sink.push(Cell::Missing),
                                Some(Ok(s)) if expect == Expect::Boolean => sink.push(boolean_cell(s)),
                                Some(Ok(s)) => sink.push(Cell::Text(s)),
                                Some(Err(_)) => {
                                    bad.get_or_insert(());
                                    sink.push(Cell::Missing)
                                }
                            },
                        )
                        .map_err(error)?;
                        if bad.is_some() {
                            return Err(self.wrong_type(read.index, "bytes that are not UTF-8 text".into(), expect));
                        }
                    }
                    _ => return Err(self.wrong_type(read.index, "a type rein does not read".into(), expect)),
                }
            }
        }
        Ok(())
    }

    fn wrong_type(&self, index: usize, found: String, expect: Expect) -> TableError {
        TableError::WrongType {
            path: self.path.clone(),
            column: self.columns[index].clone(),
            found,
            expected: expect.describe().to_owned(),
        }
    }
}

/// Reads a column chunk to its end in batches, handing `emit` each value (`None` for a
/// null) in row order.
fn drain<T>(
    mut def: Option<&mut Vec<i16>>,
    values: &mut Vec<T>,
    mut read: impl FnMut(Option<&mut Vec<i16>>, &mut Vec<T>) -> parquet::errors::Result<(usize, usize, usize)>,
    mut emit: impl FnMut(Option<&T>),
) -> parquet::errors::Result<()> {
    loop {
        values.clear();
        let Some(def) = def.as_deref_mut() else {
            // a required column: every value present
            let (records, _, _) = read(None, values)?;
            if records == 0 {
                return Ok(());
            }
            values.iter().for_each(|v| emit(Some(v)));
            continue;
        };
        def.clear();
        let (records, _, _) = read(Some(def), values)?;
        if records == 0 {
            return Ok(());
        }
        let mut next = values.iter();
        for &level in def.iter() {
            if level > 0 {
                emit(next.next());
            } else {
                emit(None);
            }
        }
    }
}

fn push_integer(sink: &mut dyn Sink, value: i64, expect: Expect, text: &mut String) {
    match expect {
        Expect::Number => sink.push(Cell::Number(value as f64)),
        Expect::Boolean => match value {
            0 => sink.push(Cell::Bool(false)),
            1 => sink.push(Cell::Bool(true)),
            other => {
                text.clear();
                text.push_str(&other.to_string());
                sink.push(Cell::Text(text));
            }
        },
        Expect::Text => {
            text.clear();
            text.push_str(&value.to_string());
            sink.push(Cell::Text(text));
        }
    }
}

fn boolean_cell(text: &str) -> Cell<'_> {
    match text {
        "true" | "True" | "TRUE" | "1" => Cell::Bool(true),
        "false" | "False" | "FALSE" | "0" => Cell::Bool(false),
        "" => Cell::Missing,
        other => Cell::Text(other),
    }
}

/// A CSV cell as `expect` reads it; `None` when it is not one.
fn csv_cell(text: &str, expect: Expect) -> Option<Cell<'_>> {
    if text.is_empty() {
        return Some(Cell::Missing);
    }
    Some(match expect {
        Expect::Text => Cell::Text(text),
        Expect::Boolean => boolean_cell(text),
        Expect::Number => match text.trim() {
            "NaN" | "nan" | "NA" | "N/A" | "null" | "None" | "" => Cell::Missing,
            number => Cell::Number(number.parse::<f64>().ok()?),
        },
    })
}

fn csv_reader(path: &Path) -> Result<csv::Reader<File>, TableError> {
    let file = File::open(path).map_err(|source| TableError::Io { path: path.to_owned(), source })?;
    Ok(csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(file))
}

fn csv_error(path: &Path, e: csv::Error) -> TableError {
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => format!(
            "row {} has {len} cells where the header has {expected_len}",
            pos.as_ref().map_or(0, |p| p.record())
        ),
        _ => e.to_string(),
    };
    TableError::Csv { path: path.to_owned(), message }
}

fn parquet_reader(path: &Path) -> Result<SerializedFileReader<File>, TableError> {
    let file = File::open(path).map_err(|source| TableError::Io { path: path.to_owned(), source })?;
    SerializedFileReader::new(file).map_err(|e| TableError::Parquet { path: path.to_owned(), message: e.to_string() })
}
