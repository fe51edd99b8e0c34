//! A component's reference profile: per column, what a drift report compares a current
//! sample with. Aggregates only (bins cut at the reference's quantiles and their counts,
//! categories and their counts, the shares of missing, defaulted and out-of-range values),
//! plus a bounded, seeded reservoir sample of each numeric column for KS and Wasserstein.
//! Serialized as JSON ([`Profile::to_json`]), versioned ([`PROFILE_VERSION`]).

use crate::columns::{Cell, Column, Kind, Observed, Role, Sink};
use crate::reservoir::{Reservoir, column_seed};
use rein_stats::{Bins, Sample, ValueCounts};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The profile format's version: a reader refuses another.
pub const PROFILE_VERSION: u32 = 1;
/// What `format` says in every profile.
pub const PROFILE_FORMAT: &str = "rein-profile";
/// Bins a numeric column is cut into, at the reference's deciles (fewer where quantiles
/// tie): PSI's usual ten.
pub const BINS: usize = 10;
/// Distinct categories counted per column; the rest are counted together as
/// [`OTHER_CATEGORY`], so that a column of identifiers cannot grow a profile without bound.
pub const MAX_CATEGORIES: usize = 1000;
/// Where categories beyond [`MAX_CATEGORIES`] are counted.
pub const OTHER_CATEGORY: &str = "(other)";
/// The reservoirs' seed unless told otherwise.
pub const DEFAULT_SEED: u64 = 42;

/// The reference profile of one component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Always [`PROFILE_FORMAT`].
    pub format: String,
    /// [`PROFILE_VERSION`].
    pub version: u32,
    pub system: String,
    pub component: String,
    /// The data it was made from.
    pub source: Source,
    /// The reservoirs' seed: the same data and seed give the same profile.
    pub seed: u64,
    /// The most values a numeric column's sample holds.
    pub sample_size: usize,
    /// Features in schema order, then the output (`score`, `label` or `value`).
    pub columns: Vec<ColumnProfile>,
}

/// Where a profile's or a sample's rows came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// The file, as given.
    pub file: String,
    pub rows: u64,
    /// The model that scored the rows for the output's profile (`name` and `version`), when
    /// the output came from it rather than from the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scored_by: Option<String>,
}

/// Counts of a column's cells by what they were. `rows` is all of them; a value out of
/// range is also a value of the distribution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub rows: u64,
    pub missing: u64,
    pub defaulted: u64,
    pub out_of_range: u64,
}

impl Counts {
    /// Values present (in range or not).
    pub fn present(&self) -> u64 {
        self.rows - self.missing - self.defaulted
    }

    pub fn add(&mut self, observed: &Observed<'_>) {
        self.rows += 1;
        match observed {
            Observed::Missing => self.missing += 1,
            Observed::Defaulted => self.defaulted += 1,
            Observed::Number { in_range: false, .. } | Observed::Category { in_range: false, .. } => {
                self.out_of_range += 1
            }
            _ => {}
        }
    }

    /// As `rein-stats` counts them (each cell of exactly one kind).
    pub fn value_counts(&self) -> ValueCounts {
        ValueCounts {
            valid: self.present() - self.out_of_range,
            missing: self.missing,
            defaulted: self.defaulted,
            out_of_range: self.out_of_range,
        }
    }
}

/// One column of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    pub role: Role,
    /// The declared type (`number`, `integer`, `boolean`, `category`, `text`; `score`,
    /// `label`, `value`).
    pub declared: String,
    pub kind: Kind,
    pub counts: Counts,
    /// The values' distribution; absent when the reference had no value at all.
    pub distribution: Option<Distribution>,
    /// Why the reference has no cells of this column at all (a feature telemetry does not
    /// record, an output the file did not hold and no model scored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    Numeric(NumericProfile),
    Categorical(CategoricalProfile),
}

/// Numbers (or a text's lengths).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericProfile {
    pub mean: f64,
    /// Population standard deviation (`ddof = 0`) of every value, what a normalized
    /// Wasserstein distance divides by.
    pub std: f64,
    pub min: f64,
    pub max: f64,
    /// Bin `i` holds values above `edges[i-1]` up to and including `edges[i]` (`rein_stats::Bins`).
    pub edges: Vec<f64>,
    /// Values per bin, `edges.len() + 1` of them.
    pub counts: Vec<u64>,
    /// A uniform sample of the values, at most the profile's `sample_size`.
    pub sample: Vec<f64>,
}

impl NumericProfile {
    pub fn bins(&self) -> Bins {
        Bins::from_edges(self.edges.clone()).expect("a profile's edges were checked when it was read")
    }
}

/// Categories (and booleans).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalProfile {
    /// Each category seen (and each declared one, with 0), most frequent first, then by name.
    pub categories: Vec<CategoryCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryCount {
    pub category: String,
    pub count: u64,
}

/// A profile that cannot be read or used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{file}: not a rein profile: {reason}")]
    NotAProfile { file: String, reason: String },
    #[error(
        "{file}: profile version {version}, this rein reads version {PROFILE_VERSION}: make it again with `rein profile`"
    )]
    Version { file: String, version: u32 },
    #[error(
        "{file}: a profile of component `{found}`, not `{expected}`: pass the component it was made for, or make one for `{expected}` with `rein profile`"
    )]
    Component { file: String, found: String, expected: String },
    #[error(
        "{file}: the profile's column `{column}` {problem}: the component changed since it was made; make it again with `rein profile`"
    )]
    Column { file: String, column: String, problem: String },
}

impl Profile {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a profile is plain data")
    }

    /// Reads a profile's JSON; `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<Profile, ProfileError> {
        let not = |reason: String| ProfileError::NotAProfile { file: file.to_owned(), reason };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| not(e.to_string()))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(PROFILE_FORMAT) {
            return Err(not(format!("no `\"format\": \"{PROFILE_FORMAT}\"`")));
        }
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
        if version != PROFILE_VERSION {
            return Err(ProfileError::Version { file: file.to_owned(), version });
        }
        let profile: Profile = serde_json::from_value(value).map_err(|e| not(e.to_string()))?;
        for column in &profile.columns {
            if let Some(Distribution::Numeric(n)) = &column.distribution
                && (Bins::from_edges(n.edges.clone()).is_err() || n.counts.len() != n.edges.len() + 1)
            {
                return Err(ProfileError::Column {
                    file: file.to_owned(),
                    column: column.name.clone(),
                    problem: "has bins that are not strictly increasing, or counts of another number of bins".into(),
                });
            }
        }
        Ok(profile)
    }

    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Checks the profile was made for `component` with these `columns` (names, kinds); a
    /// column the component no longer has, or of another kind, is an error, as is a column
    /// of the component the profile lacks.
    pub fn check_against(&self, component: &str, columns: &[Column], file: &str) -> Result<(), ProfileError> {
        if self.component != component {
            return Err(ProfileError::Component {
                file: file.to_owned(),
                found: self.component.clone(),
                expected: component.to_owned(),
            });
        }
        let problem = |column: &str, problem: String| ProfileError::Column {
            file: file.to_owned(),
            column: column.to_owned(),
            problem,
        };
        for column in columns {
            match self.column(&column.name) {
                None => return Err(problem(&column.name, "is not in the profile".into())),
                Some(p) if p.kind != column.kind => {
                    return Err(problem(
                        &column.name,
                        format!("is {:?} in the profile, {:?} in the system file", p.kind, column.kind),
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = self.columns.iter().find(|p| !columns.iter().any(|c| c.name == p.name)) {
            return Err(problem(&extra.name, "is no longer one of the component's".into()));
        }
        Ok(())
    }
}

/// Gathers the reference's cells of one column ([`Sink`]): every number (for the quantile
/// bins and an exact standard deviation), categories counted, a reservoir sample.
#[derive(Debug)]
pub struct ReferenceColumn {
    column: Column,
    counts: Counts,
    numbers: Vec<f64>,
    reservoir: Reservoir,
    categories: HashMap<String, u64>,
    other: u64,
}

impl ReferenceColumn {
    pub fn new(column: Column, sample_size: usize, seed: u64) -> ReferenceColumn {
        let reservoir = Reservoir::new(sample_size, column_seed(seed, &column.name));
        ReferenceColumn {
            column,
            counts: Counts::default(),
            numbers: Vec::new(),
            reservoir,
            categories: HashMap::new(),
            other: 0,
        }
    }

    pub fn column(&self) -> &Column {
        &self.column
    }

    /// The profile of the values pushed.
    pub fn finish(self) -> ColumnProfile {
        let ReferenceColumn { column, counts, numbers, reservoir, categories, other } = self;
        let distribution = match column.kind {
            Kind::Numeric | Kind::TextLength => numeric_profile(&numbers, reservoir).map(Distribution::Numeric),
            Kind::Categorical => categorical_profile(&column, categories, other).map(Distribution::Categorical),
        };
        ColumnProfile {
            name: column.name.clone(),
            role: column.role,
            declared: column.declared.to_owned(),
            kind: column.kind,
            counts,
            distribution,
            skipped: None,
        }
    }
}

impl ColumnProfile {
    /// The profile of a column the reference does not hold, with why.
    pub fn skipped(column: &Column, why: String) -> ColumnProfile {
        ColumnProfile {
            name: column.name.clone(),
            role: column.role,
            declared: column.declared.to_owned(),
            kind: column.kind,
            counts: Counts::default(),
            distribution: None,
            skipped: Some(why),
        }
    }
}

impl Sink for ReferenceColumn {
    fn push(&mut self, cell: Cell<'_>) {
        let observed = self.column.observe(cell);
        self.counts.add(&observed);
        match observed {
            Observed::Number { value, .. } if value.is_finite() => {
                self.numbers.push(value);
                self.reservoir.push(value);
            }
            Observed::Category { value, .. } => {
                if let Some(count) = self.categories.get_mut(value) {
                    *count += 1;
                } else if self.categories.len() < MAX_CATEGORIES {
                    self.categories.insert(value.to_owned(), 1);
                } else {
                    self.other += 1;
                }
            }
            _ => {}
        }
    }
}

fn numeric_profile(numbers: &[f64], reservoir: Reservoir) -> Option<NumericProfile> {
    if numbers.is_empty() {
        return None;
    }
    let bins = Bins::from_reference_quantiles(numbers, BINS).ok()?;
    let counts = bins.count(numbers, Sample::Reference).ok()?.into_iter().map(|c| c as u64).collect();
    let n = numbers.len() as f64;
    let mean = numbers.iter().sum::<f64>() / n;
    let std = (numbers.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    let (min, max) = numbers.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    Some(NumericProfile { mean, std, min, max, edges: bins.edges().to_vec(), counts, sample: reservoir.into_values() })
}

fn categorical_profile(column: &Column, counts: HashMap<String, u64>, other: u64) -> Option<CategoricalProfile> {
    let mut categories: Vec<CategoryCount> =
        counts.into_iter().map(|(category, count)| CategoryCount { category, count }).collect();
    if let crate::columns::Range::Categories(declared) = &column.range {
        for category in declared {
            if !categories.iter().any(|c| &c.category == category) {
                categories.push(CategoryCount { category: category.clone(), count: 0 });
            }
        }
    }
    if other > 0 {
        categories.push(CategoryCount { category: OTHER_CATEGORY.to_owned(), count: other });
    }
    if categories.iter().all(|c| c.count == 0) {
        return None;
    }
    categories.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.category.cmp(&b.category)));
    Some(CategoricalProfile { categories })
}

/// Builds a profile from the columns' gathered cells.
pub fn build(
    system: &str,
    component: &str,
    source: Source,
    seed: u64,
    sample_size: usize,
    columns: Vec<ColumnProfile>,
) -> Profile {
    Profile {
        format: PROFILE_FORMAT.to_owned(),
        version: PROFILE_VERSION,
        system: system.to_owned(),
        component: component.to_owned(),
        source,
        seed,
        sample_size,
        columns,
    }
}
