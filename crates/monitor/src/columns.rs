//! What is monitored of a component: each feature as the system file declares it, and the
//! model's output (its score and label, or its value), and how one observed value of each
//! is read: missing, defaulted, out of the declared range, or valid.

use rein_system::{Component, FeatureKind, Task, TelemetryPolicy};
use serde::{Deserialize, Serialize};

/// Whether a column is a feature the model reads or a part of what it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Feature,
    Output,
}

/// How a column's values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Numbers: quantile bins, a reservoir sample, KS and Wasserstein.
    Numeric,
    /// Categories (and booleans): counts per category, chi-squared and Jensen–Shannon.
    Categorical,
    /// A text, compared by its length in characters (a number).
    TextLength,
}

impl Kind {
    /// Whether its values are numbers (a text's length is one).
    pub fn is_numeric(self) -> bool {
        !matches!(self, Kind::Categorical)
    }

    pub fn stats_kind(self) -> rein_stats::FeatureKind {
        if self.is_numeric() { rein_stats::FeatureKind::Numeric } else { rein_stats::FeatureKind::Categorical }
    }
}

/// What a file must hold in a column for it to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Numbers (a CSV cell that parses as one; a Parquet int, float or double column).
    Number,
    /// Text (any CSV cell; a Parquet string column, or numbers read as their text).
    Text,
    /// A boolean (`true`/`false`, `1`/`0`; a Parquet boolean or integer column).
    Boolean,
}

impl Expect {
    pub fn describe(self) -> &'static str {
        match self {
            Expect::Number => "numbers",
            Expect::Text => "text",
            Expect::Boolean => "booleans (true/false or 1/0)",
        }
    }
}

/// The declared range a valid value lies in.
#[derive(Debug, Clone, PartialEq)]
pub enum Range {
    /// Any number, or any text.
    Any,
    /// Numbers within the bounds (either may be open); `integer`: whole numbers only.
    Numbers { min: Option<f64>, max: Option<f64>, integer: bool },
    /// One of the declared categories (or labels).
    Categories(Vec<String>),
    /// A text of at most this many characters.
    TextLength(usize),
}

/// One monitored column of a component.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The feature's name, or `score`, `label`, `value` for the output.
    pub name: String,
    pub role: Role,
    /// The declared type: a feature's (`number`, `integer`, `boolean`, `category`, `text`),
    /// or the output's part (`score`, `label`, `value`).
    pub declared: &'static str,
    pub kind: Kind,
    pub range: Range,
    /// The schema declares a default, which the serving path puts in place of an absent
    /// value: an absent value is then counted as defaulted, not missing.
    pub has_default: bool,
    /// How telemetry records the feature (an export holds a hash for `hash`, nothing for
    /// `drop`); `raw` for the output.
    pub telemetry: TelemetryPolicy,
}

impl Column {
    /// What a file must hold in this column.
    pub fn expect(&self) -> Expect {
        match (self.kind, self.declared) {
            (_, "boolean") => Expect::Boolean,
            (Kind::Numeric, _) => Expect::Number,
            _ => Expect::Text,
        }
    }
}

/// The monitored columns of `component`: its features in the schema's order, then its
/// output: `score` (the positive label's probability, or the top one for more than two
/// labels) and `label` for a classifier, `value` for a regressor.
pub fn columns(component: &Component) -> Vec<Column> {
    let mut columns: Vec<Column> = component
        .features
        .iter()
        .map(|feature| {
            let (kind, range) = match &feature.kind {
                FeatureKind::Number { min, max } => {
                    (Kind::Numeric, Range::Numbers { min: *min, max: *max, integer: false })
                }
                FeatureKind::Integer { min, max } => (
                    Kind::Numeric,
                    Range::Numbers { min: min.map(|v| v as f64), max: max.map(|v| v as f64), integer: true },
                ),
                FeatureKind::Boolean => (Kind::Categorical, Range::Categories(vec!["false".into(), "true".into()])),
                FeatureKind::Category { categories } => (Kind::Categorical, Range::Categories(categories.clone())),
                FeatureKind::Text { max_length } => (Kind::TextLength, Range::TextLength(*max_length)),
            };
            Column {
                name: feature.name.clone(),
                role: Role::Feature,
                declared: feature.kind.type_name(),
                kind,
                range,
                has_default: feature.default.is_some(),
                telemetry: feature.telemetry,
            }
        })
        .collect();
    let output = |name: &str, declared: &'static str, kind: Kind, range: Range| Column {
        name: name.to_owned(),
        role: Role::Output,
        declared,
        kind,
        range,
        has_default: false,
        telemetry: TelemetryPolicy::Raw,
    };
    match component.task {
        Task::Binary | Task::Multiclass => {
            let probability = Range::Numbers { min: Some(0.0), max: Some(1.0), integer: false };
            columns.push(output("score", "score", Kind::Numeric, probability));
            columns.push(output("label", "label", Kind::Categorical, Range::Categories(component.labels.clone())));
        }
        Task::Regression => columns.push(output("value", "value", Kind::Numeric, Range::Any)),
    }
    columns
}

/// One cell as a file holds it, read as the column expects ([`Expect`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// Empty, null, or NaN.
    Missing,
    Number(f64),
    Text(&'a str),
    Bool(bool),
}

/// Where a file's reader hands the cells of one column, in row order.
pub trait Sink: Send {
    fn push(&mut self, cell: Cell<'_>);
}

/// What one cell is to monitoring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observed<'a> {
    /// Absent, and the schema declares no default.
    Missing,
    /// Absent, and the serving path would put the declared default in its place.
    Defaulted,
    /// A number (or a text's length); `in_range`: within the declared bounds.
    Number { value: f64, in_range: bool },
    /// A category (a boolean as `true`/`false`); `in_range`: a declared one.
    Category { value: &'a str, in_range: bool },
}

impl Column {
    /// What `cell` is to monitoring. A value outside the declared range is still a value
    /// of the distribution (a file holds what it holds), and counted apart as well.
    pub fn observe<'a>(&self, cell: Cell<'a>) -> Observed<'a> {
        let absent = if self.has_default { Observed::Defaulted } else { Observed::Missing };
        match (self.kind, cell) {
            (_, Cell::Missing) => absent,
            (_, Cell::Number(v)) if v.is_nan() => absent,
            (Kind::Numeric, Cell::Number(value)) => Observed::Number { value, in_range: self.number_in_range(value) },
            (Kind::Numeric, Cell::Bool(b)) => {
                let value = if b { 1.0 } else { 0.0 };
                Observed::Number { value, in_range: self.number_in_range(value) }
            }
            (Kind::TextLength, Cell::Text(text)) => {
                let length = text.chars().count();
                let in_range = !matches!(self.range, Range::TextLength(max) if length > max);
                Observed::Number { value: length as f64, in_range }
            }
            (Kind::Categorical, Cell::Text(value)) => {
                Observed::Category { value, in_range: self.category_in_range(value) }
            }
            (Kind::Categorical, Cell::Bool(b)) => {
                let value = if b { "true" } else { "false" };
                Observed::Category { value, in_range: self.category_in_range(value) }
            }
            // a file's reader hands each column the cells it expects; anything else is
            // not a value of this column
            _ => absent,
        }
    }

    fn number_in_range(&self, value: f64) -> bool {
        match &self.range {
            Range::Numbers { min, max, integer } => {
                value.is_finite()
                    && min.is_none_or(|m| value >= m)
                    && max.is_none_or(|m| value <= m)
                    && (!integer || value.fract() == 0.0)
            }
            _ => value.is_finite(),
        }
    }

    fn category_in_range(&self, value: &str) -> bool {
        match &self.range {
            Range::Categories(declared) => declared.is_empty() || declared.iter().any(|c| c == value),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(kind: Kind, range: Range, has_default: bool) -> Column {
        Column {
            name: "x".into(),
            role: Role::Feature,
            declared: "number",
            kind,
            range,
            has_default,
            telemetry: TelemetryPolicy::Raw,
        }
    }

    #[test]
    fn cells_are_read_against_the_declared_range() {
        let age = column(Kind::Numeric, Range::Numbers { min: Some(0.0), max: Some(120.0), integer: true }, false);
        assert_eq!(age.observe(Cell::Number(42.0)), Observed::Number { value: 42.0, in_range: true });
        assert_eq!(age.observe(Cell::Number(42.5)), Observed::Number { value: 42.5, in_range: false });
        assert_eq!(age.observe(Cell::Number(-1.0)), Observed::Number { value: -1.0, in_range: false });
        assert_eq!(age.observe(Cell::Missing), Observed::Missing);
        assert_eq!(age.observe(Cell::Number(f64::NAN)), Observed::Missing);
        let defaulted = column(Kind::Numeric, Range::Any, true);
        assert_eq!(defaulted.observe(Cell::Missing), Observed::Defaulted);
        let tld = column(Kind::Categorical, Range::Categories(vec!["com".into(), "org".into()]), false);
        assert_eq!(tld.observe(Cell::Text("org")), Observed::Category { value: "org", in_range: true });
        assert_eq!(tld.observe(Cell::Text("xyz")), Observed::Category { value: "xyz", in_range: false });
        let text = column(Kind::TextLength, Range::TextLength(3), false);
        assert_eq!(text.observe(Cell::Text("héllo")), Observed::Number { value: 5.0, in_range: false });
    }
}
