//! The drift report: each column of a current sample against the reference's profile.
//! Every measure rein has, each with its variant and whether it alone would call the column
//! drifted; which of them decides, by [`DriftPolicy`] (a p-value test for small samples, an
//! effect size for large ones: the report says which); and the shares of missing,
//! defaulted and out-of-range values, whose rise is drift of its own (a broken upstream
//! feature) whatever the values left do. O(bins + categories + sample) a column.

use crate::columns::Kind;
use crate::current::CurrentColumn;
use crate::profile::{ColumnProfile, Counts, Distribution, NumericProfile, OTHER_CATEGORY, Profile};
use rein_stats::{
    DriftMethod, DriftPolicy, KsMethod, PSI_EMPTY_BIN, WASSERSTEIN_MIN_SCALE, chi_square_homogeneity,
    jensen_shannon_distance, ks_two_sample, kstwo_sf, population_stability_index, wasserstein_distance,
};
use serde::Serialize;

/// The report format's version.
pub const REPORT_VERSION: u32 = 1;
/// A rise of this much (absolute) in the share of missing, defaulted or out-of-range
/// values, from the reference's to the current's, is drift: a feature that breaks
/// upstream shows as missing (or defaulted) before its few values left move. rein's own
/// rule; Evidently's preset does not judge shares.
pub const SHARE_THRESHOLD: f64 = 0.1;
/// The PSI from which the index alone calls drift (Evidently's `psi` test's default; by
/// the usual reading, 0.1–0.25 is a shift worth watching, above 0.25 a shift).
pub const PSI_THRESHOLD: f64 = 0.1;
/// The share of drifted features from which the whole dataset drifted (Evidently's
/// preset's `drift_share`).
pub const DATASET_DRIFT_SHARE: f64 = 0.5;
/// Up to this many values in the smaller sample, KS's p-value is exact (the sizes where it
/// decides); above, asymptotic (see [`Ks`]).
pub const KS_EXACT_MAX_SMALLER: usize = 1000;

/// What a report compared: a file, a profile.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// The file, as given.
    pub source: String,
    /// `profile`, or `data` (a CSV or Parquet file read whole).
    pub kind: &'static str,
    pub rows: u64,
}

/// A drift report of one component.
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    /// `rein-drift-report`.
    pub format: &'static str,
    pub version: u32,
    pub system: String,
    pub component: String,
    pub reference: Side,
    pub current: Side,
    pub policy: Policy,
    /// The most values of a column KS and Wasserstein are computed on, on each side.
    pub sample_size: usize,
    pub columns: Vec<ColumnReport>,
    pub summary: Summary,
}

/// The decision rules in force.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    /// `evidently`: [`DriftPolicy::EVIDENTLY`].
    pub name: &'static str,
    pub max_rows_for_tests: usize,
    pub alpha: f64,
    pub numeric_threshold: f64,
    pub categorical_threshold: f64,
    pub share_threshold: f64,
    pub dataset_drift_share: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Features compared (those with values on both sides, or a share to judge).
    pub features: usize,
    pub drifted_features: Vec<String>,
    /// drifted / compared.
    pub drifted_share: f64,
    /// At least [`DATASET_DRIFT_SHARE`] of the features drifted.
    pub dataset_drift: bool,
    /// The output columns that drifted (`score`, `label`, `value`).
    pub drifted_outputs: Vec<String>,
    /// Columns not compared, with why.
    pub not_compared: Vec<NotCompared>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotCompared {
    pub column: String,
    pub why: String,
}

/// One column compared.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnReport {
    pub name: String,
    pub role: crate::columns::Role,
    pub declared: String,
    pub kind: Kind,
    pub drifted: bool,
    /// Why `drifted` is what it is, in words.
    pub reason: String,
    /// The measure that decided the distribution's drift, by the policy; absent when
    /// the distributions could not be compared.
    pub decision: Option<Decision>,
    pub measures: Option<Measures>,
    pub values: Values,
    /// Reference and current shares per bin or category, for a histogram.
    pub histogram: Option<Histogram>,
    /// Why the distributions were not compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_compared: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// `ks`, `chi_squared`, `normalized_wasserstein` or `jensen_shannon`.
    pub method: &'static str,
    /// In words: "Wasserstein distance / reference std ≥ 0.1".
    pub rule: String,
    /// The p-value or the distance.
    pub value: f64,
    pub threshold: f64,
    /// A p-value test (small samples), else an effect size (large ones).
    pub test: bool,
    pub drifted: bool,
    /// The rows the policy chose by: the smaller side's values.
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measures {
    Numeric {
        psi: Psi,
        jensen_shannon: JensenShannon,
        wasserstein: Wasserstein,
        ks: Ks,
        /// Means of every current value and the reference's.
        reference_mean: f64,
        current_mean: f64,
    },
    Categorical {
        psi: Psi,
        jensen_shannon: JensenShannon,
        chi_squared: ChiSquared,
        /// The category whose share moved most.
        largest_shift: Option<CategoryShift>,
    },
}

/// PSI over the reference's bins (numbers: cut at its deciles; categories: each).
#[derive(Debug, Clone, Serialize)]
pub struct Psi {
    pub value: f64,
    /// `reference_deciles` or `categories`; an empty bin's share is `empty_bin`.
    pub over: &'static str,
    pub bins: usize,
    pub empty_bin: f64,
    pub threshold: f64,
    pub drifted: bool,
}

/// Jensen–Shannon distance over the same bins or categories as PSI.
#[derive(Debug, Clone, Serialize)]
pub struct JensenShannon {
    /// Natural logarithm, in [0, √ln 2]: scipy's default base, which Evidently's preset
    /// uses and its threshold is set for.
    pub value: f64,
    /// The same in base 2, in [0, 1] (`rein_stats::jensen_shannon_distance`).
    pub value_base2: f64,
    pub over: &'static str,
    pub threshold: f64,
    pub drifted: bool,
}

/// Wasserstein distance on the two samples.
#[derive(Debug, Clone, Serialize)]
pub struct Wasserstein {
    /// In the column's unit.
    pub value: f64,
    /// Divided by the reference's standard deviation (of every reference value, at least
    /// 0.001): Evidently's measure.
    pub normalized: f64,
    pub reference_std: f64,
    pub reference_sample: usize,
    pub current_sample: usize,
    pub threshold: f64,
    pub drifted: bool,
}

/// The two-sample Kolmogorov–Smirnov test on the two samples. `exact` when the smaller
/// has at most [`KS_EXACT_MAX_SMALLER`] values (scipy's `ks_2samp`, `method='auto'`,
/// which is exact there); else `asymptotic`: scipy's `kstwo.sf(D, round(n·m/(n+m)))` on
/// the samples' sizes, so the p-value is that of samples of those sizes, not of the whole
/// window (see `reservoir::DEFAULT_SAMPLE_SIZE`).
#[derive(Debug, Clone, Serialize)]
pub struct Ks {
    pub statistic: f64,
    pub p_value: f64,
    pub method: &'static str,
    pub reference_sample: usize,
    pub current_sample: usize,
    pub alpha: f64,
    pub drifted: bool,
}

/// Chi-squared test of homogeneity of the category counts (no Yates correction).
#[derive(Debug, Clone, Serialize)]
pub struct ChiSquared {
    pub statistic: f64,
    pub degrees_of_freedom: usize,
    pub p_value: f64,
    pub alpha: f64,
    pub drifted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryShift {
    pub category: String,
    pub reference_share: f64,
    pub current_share: f64,
}

/// Shares of each side's rows that were missing, defaulted, out of range.
#[derive(Debug, Clone, Serialize)]
pub struct Values {
    pub reference: Shares,
    pub current: Shares,
    /// Which shares rose by [`SHARE_THRESHOLD`] or more: `missing`, `defaulted`, `out_of_range`.
    pub risen: Vec<&'static str>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Shares {
    pub rows: u64,
    pub missing: f64,
    pub defaulted: f64,
    pub out_of_range: f64,
}

impl Shares {
    fn of(counts: &Counts) -> Shares {
        let share = |n: u64| if counts.rows == 0 { 0.0 } else { n as f64 / counts.rows as f64 };
        Shares {
            rows: counts.rows,
            missing: share(counts.missing),
            defaulted: share(counts.defaulted),
            out_of_range: share(counts.out_of_range),
        }
    }
}

/// Shares per bin or category, reference against current.
#[derive(Debug, Clone, Serialize)]
pub struct Histogram {
    /// `≤ 3.2`, `3.2 – 5.1`, `> 9.8`; or the categories.
    pub labels: Vec<String>,
    pub reference: Vec<f64>,
    pub current: Vec<f64>,
}

/// One column of the current sample: gathered, or left out with why.
#[derive(Debug)]
pub enum Gathered {
    Current(Box<CurrentColumn>),
    NotCompared { column: crate::columns::Column, why: String },
}

/// Compares each column gathered in `current` with its profile in `reference`.
pub fn compare(
    system: &str,
    profile: &Profile,
    reference: Side,
    current: Side,
    columns: &[Gathered],
    policy: &DriftPolicy,
) -> DriftReport {
    let reports: Vec<ColumnReport> = columns
        .iter()
        .filter_map(|c| match c {
            Gathered::Current(c) => profile.column(&c.column().name).map(|p| column(p, c, policy)),
            Gathered::NotCompared { column, why } => {
                Some(not_compared(column, profile.column(&column.name), why.clone()))
            }
        })
        .collect();
    let features: Vec<&ColumnReport> = reports
        .iter()
        .filter(|c| c.role == crate::columns::Role::Feature && (c.decision.is_some() || c.values.current.rows > 0))
        .collect();
    let drifted_features: Vec<String> = features.iter().filter(|c| c.drifted).map(|c| c.name.clone()).collect();
    let drifted_share = if features.is_empty() { 0.0 } else { drifted_features.len() as f64 / features.len() as f64 };
    let summary = Summary {
        features: features.len(),
        dataset_drift: !features.is_empty() && drifted_share >= DATASET_DRIFT_SHARE,
        drifted_share,
        drifted_features,
        drifted_outputs: reports
            .iter()
            .filter(|c| c.role == crate::columns::Role::Output && c.drifted)
            .map(|c| c.name.clone())
            .collect(),
        not_compared: reports
            .iter()
            .filter_map(|c| c.not_compared.as_ref().map(|why| NotCompared { column: c.name.clone(), why: why.clone() }))
            .collect(),
    };
    DriftReport {
        format: "rein-drift-report",
        version: REPORT_VERSION,
        system: system.to_owned(),
        component: profile.component.clone(),
        reference,
        current,
        policy: Policy {
            name: "evidently",
            max_rows_for_tests: policy.max_rows_for_tests,
            alpha: policy.alpha,
            numeric_threshold: policy.numeric_threshold,
            categorical_threshold: policy.categorical_threshold,
            share_threshold: SHARE_THRESHOLD,
            dataset_drift_share: DATASET_DRIFT_SHARE,
        },
        sample_size: profile.sample_size,
        columns: reports,
        summary,
    }
}

fn not_compared(column: &crate::columns::Column, profile: Option<&ColumnProfile>, why: String) -> ColumnReport {
    let reference = profile.map(|p| Shares::of(&p.counts)).unwrap_or(Shares::of(&Counts::default()));
    ColumnReport {
        name: column.name.clone(),
        role: column.role,
        declared: column.declared.to_owned(),
        kind: column.kind,
        drifted: false,
        reason: format!("not compared: {why}"),
        decision: None,
        measures: None,
        values: Values { reference, current: Shares::of(&Counts::default()), risen: Vec::new() },
        histogram: None,
        not_compared: Some(why),
    }
}

fn column(profile: &ColumnProfile, current: &CurrentColumn, policy: &DriftPolicy) -> ColumnReport {
    let values = values(&profile.counts, &current.counts);
    let compared = match (&profile.distribution, current.counts.present()) {
        (_, _) if profile.skipped.is_some() => {
            Err(format!("the reference has no values: {}", profile.skipped.as_deref().unwrap_or_default()))
        }
        (None, _) => Err("the reference has no values".to_owned()),
        (Some(_), 0) => Err("the current sample has no values".to_owned()),
        (Some(Distribution::Numeric(reference)), _) => Ok(numeric(reference, profile.counts, current, policy)),
        (Some(Distribution::Categorical(reference)), _) => {
            Ok(categorical(&reference.categories, profile.counts, current, policy))
        }
    };
    let (decision, measures, histogram, not_compared) = match compared {
        Ok((decision, measures, histogram)) => (Some(decision), Some(measures), Some(histogram), None),
        Err(why) => (None, None, None, Some(why)),
    };
    let mut reasons = Vec::new();
    for risen in &values.risen {
        let (r, c) = match *risen {
            "missing" => (values.reference.missing, values.current.missing),
            "defaulted" => (values.reference.defaulted, values.current.defaulted),
            _ => (values.reference.out_of_range, values.current.out_of_range),
        };
        reasons.push(format!(
            "{} {} → {} (a rise of {SHARE_THRESHOLD} or more)",
            risen.replace('_', "-"),
            percent(r),
            percent(c)
        ));
    }
    match (&decision, &not_compared) {
        (Some(d), _) => reasons.push(format!(
            "{} = {}: {}",
            d.method,
            short(d.value),
            if d.drifted { format!("drift ({})", d.rule) } else { format!("no drift (drift at {})", d.rule) }
        )),
        (None, Some(why)) => reasons.push(format!("distribution not compared: {why}")),
        (None, None) => {}
    }
    let drifted = decision.as_ref().is_some_and(|d| d.drifted) || !values.risen.is_empty();
    ColumnReport {
        name: profile.name.clone(),
        role: profile.role,
        declared: profile.declared.clone(),
        kind: profile.kind,
        drifted,
        reason: reasons.join("; "),
        decision,
        measures,
        values,
        histogram,
        not_compared,
    }
}

fn values(reference: &Counts, current: &Counts) -> Values {
    let (r, c) = (Shares::of(reference), Shares::of(current));
    let mut risen = Vec::new();
    if current.rows > 0 {
        for (name, a, b) in [
            ("missing", r.missing, c.missing),
            ("defaulted", r.defaulted, c.defaulted),
            ("out_of_range", r.out_of_range, c.out_of_range),
        ] {
            // a little slack for rounding: 0.1 of the rows exactly is a rise of 0.1
            if b - a >= SHARE_THRESHOLD - 1e-12 {
                risen.push(name);
            }
        }
    }
    Values { reference: r, current: c, risen }
}

fn decision(method: DriftMethod, value: f64, rows: u64) -> Decision {
    let (name, threshold) = match method {
        DriftMethod::KolmogorovSmirnov { alpha } => ("ks", alpha),
        DriftMethod::ChiSquare { alpha } => ("chi_squared", alpha),
        DriftMethod::NormalizedWasserstein { threshold } => ("normalized_wasserstein", threshold),
        DriftMethod::JensenShannon { threshold } => ("jensen_shannon", threshold),
    };
    Decision {
        method: name,
        rule: method.to_string(),
        value,
        threshold,
        test: method.is_test(),
        drifted: method.drifted(value),
        rows,
    }
}

type Compared = (Decision, Measures, Histogram);

fn numeric(reference: &NumericProfile, counts: Counts, current: &CurrentColumn, policy: &DriftPolicy) -> Compared {
    let reference_counts: Vec<f64> = reference.counts.iter().map(|&c| c as f64).collect();
    let current_counts: Vec<f64> =
        current.bins.as_ref().map(|(_, c)| c.iter().map(|&c| c as f64).collect()).unwrap_or_default();
    let psi_value = population_stability_index(&reference_counts, &current_counts, PSI_EMPTY_BIN).unwrap_or(f64::NAN);
    let psi = Psi {
        value: psi_value,
        over: "reference_deciles",
        bins: reference_counts.len(),
        empty_bin: PSI_EMPTY_BIN,
        threshold: PSI_THRESHOLD,
        drifted: psi_value >= PSI_THRESHOLD,
    };
    let jensen_shannon = js(&reference_counts, &current_counts, "reference_deciles", policy);
    let (r, c) = (&reference.sample, current.reservoir.values());
    let w = wasserstein_distance(r, c).unwrap_or(f64::NAN);
    let normalized = w / reference.std.max(WASSERSTEIN_MIN_SCALE);
    let wasserstein = Wasserstein {
        value: w,
        normalized,
        reference_std: reference.std,
        reference_sample: r.len(),
        current_sample: c.len(),
        threshold: policy.numeric_threshold,
        drifted: normalized >= policy.numeric_threshold,
    };
    let ks = ks(r, c, policy.alpha);
    let rows = counts.present().min(current.counts.present());
    let method = policy.method(rein_stats::FeatureKind::Numeric, rows as usize);
    let value = if method.is_test() { ks.p_value } else { normalized };
    let labels = bin_labels(&reference.edges);
    let histogram = Histogram { labels, reference: shares(&reference_counts), current: shares(&current_counts) };
    let current_mean = if current.numbers == 0 { f64::NAN } else { current.sum / current.numbers as f64 };
    (
        decision(method, value, rows),
        Measures::Numeric { psi, jensen_shannon, wasserstein, ks, reference_mean: reference.mean, current_mean },
        histogram,
    )
}

fn js(reference: &[f64], current: &[f64], over: &'static str, policy: &DriftPolicy) -> JensenShannon {
    let base2 = jensen_shannon_distance(reference, current).unwrap_or(f64::NAN);
    // a distance is the square root of a divergence, which scales as 1/ln(base)
    let value = base2 * std::f64::consts::LN_2.sqrt();
    JensenShannon {
        value,
        value_base2: base2,
        over,
        threshold: policy.categorical_threshold,
        drifted: value >= policy.categorical_threshold,
    }
}

fn ks(reference: &[f64], current: &[f64], alpha: f64) -> Ks {
    let (n, m) = (reference.len(), current.len());
    let (statistic, p_value, method) = if n.min(m) <= KS_EXACT_MAX_SMALLER {
        match ks_two_sample(reference, current) {
            Ok(t) => (t.statistic, t.p_value, if t.method == KsMethod::Exact { "exact" } else { "asymptotic" }),
            Err(_) => (f64::NAN, f64::NAN, "exact"),
        }
    } else {
        let d = ks_statistic(reference, current);
        let (big, small) = (n.max(m) as f64, n.min(m) as f64);
        let en = (big * small / (big + small)).round_ties_even() as u64;
        (d, kstwo_sf(en, d).clamp(0.0, 1.0), "asymptotic")
    };
    Ks { statistic, p_value, method, reference_sample: n, current_sample: m, alpha, drifted: p_value <= alpha }
}

/// The largest gap between the two samples' empirical CDFs (just after each value, as scipy).
fn ks_statistic(reference: &[f64], current: &[f64]) -> f64 {
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_unstable_by(f64::total_cmp);
        v
    };
    let (a, b) = (sorted(reference), sorted(current));
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0.0_f64);
    while i < a.len() || j < b.len() {
        let value = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        while i < a.len() && a[i] <= value {
            i += 1;
        }
        while j < b.len() && b[j] <= value {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    d
}

fn categorical(
    reference: &[crate::profile::CategoryCount],
    counts: Counts,
    current: &CurrentColumn,
    policy: &DriftPolicy,
) -> Compared {
    // the reference's categories in its order, then the new ones, most frequent first
    let mut labels: Vec<String> = reference.iter().map(|c| c.category.clone()).collect();
    let mut reference_counts: Vec<f64> = reference.iter().map(|c| c.count as f64).collect();
    let mut current_counts: Vec<f64> = current.known.iter().map(|&c| c as f64).collect();
    let mut new: Vec<(&String, u64)> = current.new.iter().map(|(c, &(n, _))| (c, n)).collect();
    new.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    for (category, count) in new {
        labels.push(category.clone());
        reference_counts.push(0.0);
        current_counts.push(count as f64);
    }
    if current.other > 0 {
        labels.push(OTHER_CATEGORY.to_owned());
        reference_counts.push(0.0);
        current_counts.push(current.other as f64);
    }
    let psi_value = population_stability_index(&reference_counts, &current_counts, PSI_EMPTY_BIN).unwrap_or(f64::NAN);
    let psi = Psi {
        value: psi_value,
        over: "categories",
        bins: labels.len(),
        empty_bin: PSI_EMPTY_BIN,
        threshold: PSI_THRESHOLD,
        drifted: psi_value >= PSI_THRESHOLD,
    };
    let jensen_shannon = js(&reference_counts, &current_counts, "categories", policy);
    let chi = chi_square_homogeneity(&reference_counts, &current_counts).ok();
    let chi_squared = ChiSquared {
        statistic: chi.map_or(f64::NAN, |c| c.statistic),
        degrees_of_freedom: chi.map_or(0, |c| c.degrees_of_freedom),
        p_value: chi.map_or(f64::NAN, |c| c.p_value),
        alpha: policy.alpha,
        drifted: chi.is_some_and(|c| c.p_value <= policy.alpha),
    };
    let (reference_shares, current_shares) = (shares(&reference_counts), shares(&current_counts));
    let largest_shift = labels
        .iter()
        .zip(reference_shares.iter().zip(&current_shares))
        .map(|(category, (&r, &c))| CategoryShift { category: category.clone(), reference_share: r, current_share: c })
        .max_by(|x, y| {
            (x.current_share - x.reference_share).abs().total_cmp(&(y.current_share - y.reference_share).abs())
        });
    let rows = counts.present().min(current.counts.present());
    let method = policy.method(rein_stats::FeatureKind::Categorical, rows as usize);
    let value = if method.is_test() { chi_squared.p_value } else { jensen_shannon.value };
    (
        decision(method, value, rows),
        Measures::Categorical { psi, jensen_shannon, chi_squared, largest_shift },
        Histogram { labels, reference: reference_shares, current: current_shares },
    )
}

fn shares(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    counts.iter().map(|c| if total > 0.0 { c / total } else { 0.0 }).collect()
}

/// `≤ e0`, `e0 – e1`, …, `> e_last`, each edge to four significant digits.
fn bin_labels(edges: &[f64]) -> Vec<String> {
    let mut labels = Vec::with_capacity(edges.len() + 1);
    if let Some(first) = edges.first() {
        labels.push(format!("≤ {}", significant(*first)));
    }
    for pair in edges.windows(2) {
        labels.push(format!("{} – {}", significant(pair[0]), significant(pair[1])));
    }
    if let Some(last) = edges.last() {
        labels.push(format!("> {}", significant(*last)));
    }
    labels
}

/// A number to four significant digits, as a person reads it.
pub fn significant(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-4..6).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - magnitude).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

/// A p-value or a distance, short.
pub fn short(x: f64) -> String {
    if x != 0.0 && x.abs() < 1e-3 { format!("{x:.2e}") } else { format!("{x:.3}") }
}

fn percent(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}
