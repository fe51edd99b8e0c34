//! An experiment's analysis over the recorded telemetry: its arms (the predictions each
//! `variant` answered) compared with the control on the primary goal's metric and on
//! guardrails, the sample ratio checked against the configured weights, and a decision
//! (`docs/experiments.md`).
//!
//! **Periods and looks.** Windows of `window_ms` tumble from the experiment's start (not
//! the epoch: an experiment's first window is a whole one). Only closed windows count:
//! everything is over `[start, until)`, `until` the end of the newest window closed at the
//! instant asked for, so an analysis at any instant inside a window says the same. Each
//! closed window is one *look*: the data since the start, cumulated to its end.
//!
//! **Metrics** are the goals' (`window.rs`'s `Measurer`, over its population), each arm
//! fed only the predictions of its variant:
//! - shares per prediction (`outcome_rate` per prediction, `guardrail_rate`, `mode_share`,
//!   `feedback_rate`, `fallback_rate`): two-proportion z ([`compare_proportions`]);
//! - `outcome_rate` per unit: the share of the arm's units with the outcome (by its own
//!   time) since the start, two-proportion z over units; with CUPED ([`cuped`]) where
//!   some of the units had the outcome in the pre-period (`horizon_windows` windows before
//!   the start) and some did not: each unit's 0/1 adjusted by its pre-period 0/1, Welch's t;
//! - `outcome_mean` and `outcome_sum`: the mean outcome value a prediction's outcomes
//!   carry, Welch's t ([`compare_means`]; a sum is not comparable between arms of
//!   different sizes, its mean per value is);
//! - `latency` at quantile q: the share of the arm's predictions slower than the control's
//!   q quantile at that look, two-proportion z. A quantile's difference has no test over
//!   summaries; the share above the control's quantile does, is q's complement in the
//!   control, and rises exactly when the variant's tail gets slower. The quantile itself
//!   is reported per arm.
//!
//! Predictions of one unit are not independent; shares and means per prediction treat them
//! as if they were (as the goals do), which understates the variance when units repeat
//! much. `outcome_rate` per unit is over units.
//!
//! **Built-in guardrails**, always checked, lower is better: `fallback_rate`,
//! `guardrail_rate` (any rule acted), `incorrect_feedback_rate` (an `incorrect` feedback
//! names the prediction), and `latency_p99`.
//!
//! **The always-valid test** ([`Msprt`]) is run over every look, its state recomputed from
//! the windows on each analysis (nothing is stored). Its mixing variance τ² is fixed at the
//! first look where the test counts (each arm ≥ [`Msprt::DEFAULT_MIN_SAMPLES`], a variance
//! above 0): [`Msprt::for_horizon`] at the variance that look's data would have at the
//! planned horizon, `V_k · min(1, k / horizon_windows)` (V shrinks as 1/n). It depends on
//! the data only through that look's variance, never the difference, and each analysis
//! recomputes it the same; the A/A tests (`tests/experiment.rs`) hold its false-positive
//! rate to α when looked at every window.
//!
//! **SRM**: the chi-squared test of the distinct units per arm (predictions where none
//! carries a unit) against the configured weights ([`sample_ratio_mismatch`]).
//!
//! **Decision** per variant: [`rein_stats::decide`] on the primary metric, every guardrail,
//! and the SRM check. A guardrail on which neither arm ever had an event (no fallback in
//! either, both ≥ the minimum) holds: there is nothing to get worse. The experiment ships
//! the variant that ships with the best primary gain, stops when the SRM fails or every
//! variant stops, and keeps running otherwise.

use std::collections::{HashMap, HashSet};

use rein_stats::{
    Better, Comparison, ComparisonTest, CovariateSummary, Decision, ExperimentDecision, Finding, Guardrail, Msprt,
    PrimaryMetric, Proportion, Reason, SampleRatio, SequentialResult, SequentialState, StatsError, StopReason, Summary,
    compare_means, compare_proportions, cuped, decide, quantile, sample_ratio_mismatch,
};
use rein_system::{FeedbackKind, Measure, Metric, MetricKind, Population, RatePer, System, Target};
use rein_telemetry::{OutcomeQuery, Store, StoreError, WindowQuery};
use serde::{Deserialize, Serialize};

use crate::population::{FilterScope, RecordRules};
use crate::window::{Measurer, Tallied};

/// The always-valid test's level: its p-value decides at `p ≤ ALPHA`.
pub const ALPHA: f64 = 0.05;
/// The confidence of the fixed-horizon intervals.
pub const CONFIDENCE: f64 = 0.95;
/// The planned length, in windows, τ² is tuned for when a spec gives none.
pub const DEFAULT_HORIZON_WINDOWS: u32 = 14;
/// The most windows one analysis looks over.
pub const MAX_WINDOWS: i64 = 10_000;
/// The latency quantile the built-in guardrail watches.
pub const LATENCY_QUANTILE: f64 = 0.99;

/// An experiment on one component, as its traffic plan declared it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentSpec {
    pub component: String,
    /// The experiment's id, as reports name it.
    pub experiment: String,
    /// Every arm, the control among them, with its configured traffic weight (any positive
    /// scale).
    pub arms: Vec<ArmSpec>,
    /// The control arm's variant.
    pub control: String,
    /// Unix ms: predictions before it are not the experiment's.
    pub start_ms: i64,
    /// The length of a look's window, in ms.
    pub window_ms: i64,
    /// The goal the experiment is run to move; its target says which way is better.
    pub primary: String,
    /// Further goals that must not get worse, beside the built-in guardrails.
    #[serde(default)]
    pub guardrails: Vec<String>,
    /// The planned length in windows, which τ² is tuned for (any value is valid; a poor one
    /// costs power only), and CUPED's pre-period is as long as.
    #[serde(default = "default_horizon")]
    pub horizon_windows: u32,
}

fn default_horizon() -> u32 {
    DEFAULT_HORIZON_WINDOWS
}

/// One arm: a variant and its configured weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmSpec {
    pub variant: String,
    pub weight: f64,
}

/// Why an experiment cannot be analysed.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the system declares no component `{0}`")]
    UnknownComponent(String),
    #[error("experiment `{experiment}` needs a control and at least one variant; it has {arms} arm(s)")]
    TooFewArms { experiment: String, arms: usize },
    #[error("the variant `{0}` is listed as two arms")]
    DuplicateArm(String),
    #[error("arm `{variant}` has weight {weight}: weights are finite and above 0")]
    BadWeight { variant: String, weight: f64 },
    #[error("the control `{0}` is not one of the arms")]
    UnknownControl(String),
    #[error("the window is {0} ms: it must be at least 1 ms")]
    BadWindow(i64),
    #[error("the horizon is 0 windows: it must be at least 1")]
    BadHorizon,
    #[error("from the start to the instant asked for are more than {MAX_WINDOWS} windows")]
    TooManyWindows,
    #[error("the system declares no goal `{0}`")]
    UnknownGoal(String),
    #[error("goal `{0}` is not measured (measured = false): it has no metric to compare")]
    GoalNotMeasured(String),
    #[error("goal `{goal}`'s metric `{metric}` cannot be compared between arms: {why}")]
    UnsupportedMetric { goal: String, metric: &'static str, why: &'static str },
    #[error("goal `{goal}` measures component `{theirs}`, not the experiment's `{ours}`")]
    OtherComponent { goal: String, theirs: String, ours: String },
    #[error("goal `{0}`'s target has both bounds: neither direction is better, so it cannot decide an experiment")]
    NoDirection(String),
    #[error(transparent)]
    Stats(#[from] StatsError),
}

/// An experiment analysed.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentReport {
    pub experiment: String,
    pub component: String,
    pub control: String,
    pub start_ms: i64,
    /// The end of the newest closed window: everything is over `[start_ms, until_ms)`.
    pub until_ms: i64,
    /// The instant asked for.
    pub as_of_ms: i64,
    pub window_ms: i64,
    /// Closed windows since the start: the always-valid test's looks.
    pub windows: u64,
    pub horizon_windows: u32,
    /// The always-valid test's level.
    pub alpha: f64,
    /// The fixed-horizon intervals' confidence.
    pub confidence: f64,
    /// Every arm, in the spec's order.
    pub arms: Vec<ArmReport>,
    /// The component's predictions of the period whose variant is no arm's (not counted).
    pub other_predictions: u64,
    /// Units seen in more than one arm (sticky assignment leaking); counted in each.
    pub units_in_several_arms: u64,
    pub sample_ratio: SampleRatioReport,
    /// Each variant against the control, in the spec's order.
    pub variants: Vec<VariantReport>,
    pub decision: Verdict,
    /// The variant to ship, when the decision is to ship.
    pub ship: Option<String>,
    pub reasons: Vec<String>,
}

/// One arm's figures over the period.
#[derive(Debug, Clone, Serialize)]
pub struct ArmReport {
    pub variant: String,
    pub weight: f64,
    pub control: bool,
    /// Distinct units its predictions name.
    pub units: u64,
    pub predictions: u64,
    /// The primary metric first, then the goal guardrails, then the built-in ones.
    pub metrics: Vec<MetricFigure>,
}

/// A metric of one arm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricFigure {
    pub metric: String,
    #[serde(flatten)]
    pub figure: ArmFigure,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ArmFigure {
    /// `successes` of `trials` (predictions, or units for a rate per unit).
    Share { successes: u64, trials: u64, rate: Option<f64> },
    /// Values' count, mean and standard deviation (n − 1).
    Mean { n: u64, mean: Option<f64>, sd: Option<f64> },
    /// The latency quantile in ms, and how many predictions were slower than the control's.
    Latency { n: u64, quantile: f64, value_ms: Option<f64>, slower_than_control: u64 },
}

/// The sample-ratio check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleRatioReport {
    /// `units`, or `predictions` when none carries a unit.
    pub counted: &'static str,
    pub observed: Vec<u64>,
    pub expected: Vec<f64>,
    pub statistic: f64,
    pub degrees_of_freedom: usize,
    pub p_value: f64,
    pub mismatch: bool,
}

/// One variant against the control.
#[derive(Debug, Clone, Serialize)]
pub struct VariantReport {
    pub variant: String,
    pub decision: Verdict,
    pub reasons: Vec<ReasonReport>,
    /// The primary metric first, then the guardrails.
    pub metrics: Vec<MetricComparison>,
    /// The primary metric at each look with data, oldest first: what an analysis at the end
    /// of that window said.
    pub looks: Vec<Look>,
}

/// The primary metric at one look: the data since the start to `until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Look {
    pub until_ms: i64,
    pub difference: f64,
    /// The fixed-horizon p-value of the data so far: valid at one planned look only.
    pub fixed_p_value: f64,
    /// The always-valid p-value over every look so far.
    pub p_value: f64,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ship,
    KeepRunning,
    StopHarm,
    StopSampleRatioMismatch,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ship => "ship",
            Verdict::KeepRunning => "keep running",
            Verdict::StopHarm => "stop (harm)",
            Verdict::StopSampleRatioMismatch => "stop (sample ratio mismatch)",
        }
    }

    fn of(decision: Decision) -> Verdict {
        match decision {
            Decision::Ship => Verdict::Ship,
            Decision::KeepRunning => Verdict::KeepRunning,
            Decision::Stop(StopReason::Harm) => Verdict::StopHarm,
            Decision::Stop(StopReason::SampleRatioMismatch) => Verdict::StopSampleRatioMismatch,
        }
    }
}

/// A finding behind a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonReport {
    pub metric: String,
    /// `improved`, `harmed`, `not_significant`, `too_little_data`, `holds`,
    /// `harm_not_ruled_out` or `sample_ratio_mismatch`.
    pub finding: &'static str,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Primary,
    Guardrail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Higher,
    Lower,
}

/// A metric of a variant against the control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricComparison {
    pub metric: String,
    pub role: Role,
    /// Which way is better.
    pub better: Direction,
    /// `rate`, `unit_rate`, `mean`, or `share_slower_than_control_quantile`.
    pub compared_as: &'static str,
    /// For a latency: the control's quantile (ms) the shares are above.
    pub threshold_ms: Option<f64>,
    /// Over the whole period, valid at one planned look; `None` when an arm has no data.
    pub fixed: Option<FixedFigures>,
    /// The always-valid test over every look; `None` when an arm has no data.
    pub sequential: Option<SequentialFigures>,
    /// For a rate per unit whose units had the outcome in the pre-period: CUPED's
    /// adjustment, which `fixed` and `sequential` are then of.
    pub cuped: Option<CupedFigures>,
}

/// CUPED's adjustment of a rate per unit by the pre-period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CupedFigures {
    /// The slope of the outcome on the pre-period's, pooled within the arms.
    pub theta: f64,
    /// Each arm's (control, variant) adjusted variance over its unadjusted one.
    pub variance_ratio: Vec<f64>,
    /// The arms' units that had the outcome in the pre-period.
    pub units_with_pre_period_outcome: u64,
}

/// A fixed-horizon comparison: variant − control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FixedFigures {
    /// `two_proportion_z` or `welch_t`.
    pub test: &'static str,
    pub control: f64,
    pub variant: f64,
    pub difference: f64,
    pub lower: f64,
    pub upper: f64,
    pub statistic: f64,
    pub degrees_of_freedom: Option<f64>,
    pub p_value: f64,
    /// variant / control − 1 and its delta-method interval; `None` when the control is 0.
    pub relative_lift: Option<Span>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Span {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

/// The mSPRT over every look.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SequentialFigures {
    /// The always-valid p-value.
    pub p_value: f64,
    /// The confidence sequence at 1 − α; `None` where still unbounded.
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub significant: bool,
    /// Looks that counted.
    pub windows_counted: u64,
    /// τ², once fixed.
    pub mixing_variance: Option<f64>,
}

/// How a metric is compared.
#[derive(Debug, Clone, PartialEq)]
enum Compared {
    Share,
    UnitRate(String),
    Mean,
    Latency(f64),
}

/// One metric to compare.
struct Plan {
    name: String,
    role: Role,
    better: Better,
    metric: Metric,
    compared: Compared,
}

/// An arm's metric since the start.
#[derive(Debug, Clone)]
enum Acc {
    Share(Proportion),
    Mean(Summary),
    Latency(Vec<f64>),
    Units(HashSet<String>),
}

impl Acc {
    fn empty(compared: &Compared) -> Acc {
        match compared {
            Compared::Share => Acc::Share(Proportion::new(0, 0)),
            Compared::UnitRate(_) => Acc::Units(HashSet::new()),
            Compared::Mean => Acc::Mean(Summary { n: 0, mean: 0.0, variance: 0.0 }),
            Compared::Latency(_) => Acc::Latency(Vec::new()),
        }
    }

    fn add(&mut self, tallied: Tallied) {
        match (self, tallied) {
            (Acc::Share(p), Tallied::Share { count, matching }) => {
                p.trials += count;
                p.successes += matching;
            }
            (Acc::Mean(s), Tallied::Values { n, mean, variance }) => *s = s.merge(&Summary { n, mean, variance }),
            (Acc::Latency(all), Tallied::Latencies(more)) => all.extend(more),
            (Acc::Units(all), Tallied::Units { units, .. }) => all.extend(units),
            _ => {}
        }
    }
}

/// The always-valid test of one variant's metric, carried over the looks.
#[derive(Default)]
struct Track {
    msprt: Option<Msprt>,
    state: Option<SequentialState>,
    last: Option<SequentialResult>,
    threshold_ms: Option<f64>,
    cuped: Option<CupedFigures>,
}

/// The goal `id`'s metric, made the experiment's.
fn plan_goal(system: &System, spec: &ExperimentSpec, id: &str, role: Role) -> Result<Plan, ExperimentError> {
    let goal = system.goal(id).ok_or_else(|| ExperimentError::UnknownGoal(id.to_string()))?;
    let Measure::Metric { metric, target, .. } = &goal.measure else {
        return Err(ExperimentError::GoalNotMeasured(id.to_string()));
    };
    let better = match target {
        Target::AtLeast(_) => Better::Higher,
        Target::AtMost(_) => Better::Lower,
        Target::Between(..) => return Err(ExperimentError::NoDirection(id.to_string())),
    };
    let unsupported =
        |why| ExperimentError::UnsupportedMetric { goal: id.to_string(), metric: metric.kind.name(), why };
    let compared = match &metric.kind {
        MetricKind::OutcomeRate { per: RatePer::Unit, outcome } => Compared::UnitRate(outcome.clone()),
        MetricKind::OutcomeRate { per: RatePer::Prediction, .. }
        | MetricKind::GuardrailRate { .. }
        | MetricKind::ModeShare { .. }
        | MetricKind::FeedbackRate { .. }
        | MetricKind::FallbackRate => Compared::Share,
        MetricKind::OutcomeMean { .. } | MetricKind::OutcomeSum { .. } => Compared::Mean,
        MetricKind::Latency { quantile } => Compared::Latency(*quantile),
        MetricKind::ActiveUnits => {
            return Err(unsupported("a count of units, which each arm's weight decides, not a rate or a mean"));
        }
        MetricKind::Quality { .. } => return Err(unsupported("quality metrics are not measured over the store yet")),
    };
    let mut metric = metric.clone();
    match &metric.population.component {
        Some(theirs) if *theirs != spec.component => {
            return Err(ExperimentError::OtherComponent {
                goal: id.to_string(),
                theirs: theirs.clone(),
                ours: spec.component.clone(),
            });
        }
        _ => metric.population.component = Some(spec.component.clone()),
    }
    Ok(Plan { name: id.to_string(), role, better, metric, compared })
}

/// The guardrails every experiment checks.
fn builtin_guardrails(component: &str) -> Vec<Plan> {
    let metric = |kind| Metric {
        kind,
        population: Population { component: Some(component.to_string()), ..Population::default() },
    };
    let plan = |name: &str, kind, compared| Plan {
        name: name.to_string(),
        role: Role::Guardrail,
        better: Better::Lower,
        metric: metric(kind),
        compared,
    };
    vec![
        plan("fallback_rate", MetricKind::FallbackRate, Compared::Share),
        plan("guardrail_rate", MetricKind::GuardrailRate { guardrail: None }, Compared::Share),
        plan(
            "incorrect_feedback_rate",
            MetricKind::FeedbackRate { kind: Some(FeedbackKind::Incorrect), source: None },
            Compared::Share,
        ),
        plan("latency_p99", MetricKind::Latency { quantile: LATENCY_QUANTILE }, Compared::Latency(LATENCY_QUANTILE)),
    ]
}

fn check(system: &System, spec: &ExperimentSpec) -> Result<usize, ExperimentError> {
    if system.component(&spec.component).is_none() {
        return Err(ExperimentError::UnknownComponent(spec.component.clone()));
    }
    if spec.arms.len() < 2 {
        return Err(ExperimentError::TooFewArms { experiment: spec.experiment.clone(), arms: spec.arms.len() });
    }
    let mut seen = HashSet::new();
    for arm in &spec.arms {
        if !seen.insert(arm.variant.as_str()) {
            return Err(ExperimentError::DuplicateArm(arm.variant.clone()));
        }
        if !(arm.weight.is_finite() && arm.weight > 0.0) {
            return Err(ExperimentError::BadWeight { variant: arm.variant.clone(), weight: arm.weight });
        }
    }
    if spec.window_ms < 1 {
        return Err(ExperimentError::BadWindow(spec.window_ms));
    }
    if spec.horizon_windows == 0 {
        return Err(ExperimentError::BadHorizon);
    }
    spec.arms
        .iter()
        .position(|a| a.variant == spec.control)
        .ok_or_else(|| ExperimentError::UnknownControl(spec.control.clone()))
}

/// Analyses `spec` over `store` as of the instant `as_of_ms` (unix ms): see the module's
/// documentation.
pub fn analyze(
    system: &System,
    store: &dyn Store,
    spec: &ExperimentSpec,
    as_of_ms: i64,
) -> Result<ExperimentReport, ExperimentError> {
    let control = check(system, spec)?;
    let mut plans = vec![plan_goal(system, spec, &spec.primary, Role::Primary)?];
    for id in &spec.guardrails {
        plans.push(plan_goal(system, spec, id, Role::Guardrail)?);
    }
    plans.extend(builtin_guardrails(&spec.component));
    let units_metric = Metric {
        kind: MetricKind::ActiveUnits,
        population: Population { component: Some(spec.component.clone()), ..Population::default() },
    };
    let measurer = |metric| {
        Measurer::per_prediction(metric).map_err(|why| ExperimentError::UnsupportedMetric {
            goal: metric.kind.name().to_string(),
            metric: metric.kind.name(),
            why: match why {
                crate::window::NotYet::QualityMetrics => "quality metrics are not measured over the store yet",
            },
        })
    };
    let filters = plans.iter().any(|p| p.metric.population.filter.is_some());

    let windows = if as_of_ms > spec.start_ms { (as_of_ms - spec.start_ms) / spec.window_ms } else { 0 };
    if windows > MAX_WINDOWS {
        return Err(ExperimentError::TooManyWindows);
    }
    let until_ms = spec.start_ms + windows * spec.window_ms;
    let arms = spec.arms.len();
    let index: HashMap<&str, usize> = spec.arms.iter().enumerate().map(|(i, a)| (a.variant.as_str(), i)).collect();
    let mut acc: Vec<Vec<Acc>> = (0..arms).map(|_| plans.iter().map(|p| Acc::empty(&p.compared)).collect()).collect();
    let mut units: Vec<HashSet<String>> = vec![HashSet::new(); arms];
    let mut predictions = vec![0u64; arms];
    let mut other_predictions = 0u64;
    let mut tracks: Vec<Vec<Track>> = (0..arms).map(|_| plans.iter().map(|_| Track::default()).collect()).collect();
    let mut outcome_units: HashMap<String, HashSet<String>> = HashMap::new();
    let mut looks: Vec<Vec<Look>> = vec![Vec::new(); arms];
    // CUPED's covariate: which units had the outcome in the pre-period, as long as the plan
    let pre_from = spec.start_ms.saturating_sub(i64::from(spec.horizon_windows).saturating_mul(spec.window_ms));
    let mut pre_units: HashMap<String, HashSet<String>> = HashMap::new();
    for plan in &plans {
        if let Compared::UnitRate(outcome) = &plan.compared
            && !pre_units.contains_key(outcome)
        {
            let mut seen = HashSet::new();
            let query = OutcomeQuery { name: outcome.clone(), since_ms: pre_from, until_ms: spec.start_ms };
            store.visit_outcome_units(&query, &mut |unit| {
                seen.insert(unit);
                Ok(())
            })?;
            pre_units.insert(outcome.clone(), seen);
        }
    }
    let root = cel::Context::default();

    for k in 1..=windows {
        let (from, to) = (spec.start_ms + (k - 1) * spec.window_ms, spec.start_ms + k * spec.window_ms);
        let mut measurers: Vec<Vec<Measurer>> = Vec::with_capacity(arms);
        for _ in 0..arms {
            let mut arm = plans.iter().map(|p| measurer(&p.metric)).collect::<Result<Vec<_>, _>>()?;
            arm.push(measurer(&units_metric)?);
            measurers.push(arm);
        }
        let query = WindowQuery {
            component: Some(spec.component.clone()),
            since_ms: Some(from),
            until_ms: Some(to),
            with_feedback: false,
        };
        store.visit_predictions(&query, &mut |record| {
            let Some(&arm) = index.get(record.prediction.variant.as_str()) else {
                other_predictions += 1;
                return Ok(());
            };
            let rules = RecordRules::of(&record);
            let scope = filters.then(|| FilterScope::new(&root, system, &record, &rules));
            for m in &mut measurers[arm] {
                m.offer(&record, &rules, scope.as_ref());
            }
            Ok(())
        })?;
        for (arm, mut window) in measurers.into_iter().enumerate() {
            if let Some(Tallied::Units { predictions: n, units: seen }) = window.pop().map(Measurer::into_tallied) {
                predictions[arm] += n;
                units[arm].extend(seen);
            }
            for (a, m) in acc[arm].iter_mut().zip(window) {
                a.add(m.into_tallied());
            }
        }
        // the outcome units of each per-unit rate, since the start
        outcome_units.clear();
        for plan in &plans {
            if let Compared::UnitRate(outcome) = &plan.compared
                && !outcome_units.contains_key(outcome)
            {
                let mut seen = HashSet::new();
                let query = OutcomeQuery { name: outcome.clone(), since_ms: spec.start_ms, until_ms: to };
                store.visit_outcome_units(&query, &mut |unit| {
                    seen.insert(unit);
                    Ok(())
                })?;
                outcome_units.insert(outcome.clone(), seen);
            }
        }
        let elapsed = k as f64 / f64::from(spec.horizon_windows);
        for (p, plan) in plans.iter().enumerate() {
            for arm in (0..arms).filter(|&a| a != control) {
                let track = &mut tracks[arm][p];
                let comparison = compare(plan, &acc[control][p], &acc[arm][p], &outcome_units, &pre_units, track);
                if let Some(comparison) = comparison {
                    look(track, &comparison, elapsed)?;
                    if let (0, Some(r)) = (p, &track.last) {
                        looks[arm].push(Look {
                            until_ms: to,
                            difference: r.fixed.difference.estimate,
                            fixed_p_value: r.fixed.p_value,
                            p_value: r.p_value,
                        });
                    }
                }
            }
        }
    }

    // the report
    let several = {
        let mut arms_of: HashMap<&str, u32> = HashMap::new();
        for set in &units {
            for u in set {
                *arms_of.entry(u.as_str()).or_default() += 1;
            }
        }
        arms_of.values().filter(|&&n| n > 1).count() as u64
    };
    let weights: Vec<f64> = spec.arms.iter().map(|a| a.weight).collect();
    let (counted, observed): (&'static str, Vec<u64>) = if units.iter().all(HashSet::is_empty) {
        ("predictions", predictions.clone())
    } else {
        ("units", units.iter().map(|u| u.len() as u64).collect())
    };
    let srm = sample_ratio_mismatch(&observed, &weights)?;
    let sample_ratio = SampleRatioReport {
        counted,
        observed: srm.observed.clone(),
        expected: srm.expected.clone(),
        statistic: srm.statistic,
        degrees_of_freedom: srm.degrees_of_freedom,
        p_value: srm.p_value,
        mismatch: srm.verdict == SampleRatio::Mismatch,
    };

    let arm_reports = spec
        .arms
        .iter()
        .enumerate()
        .map(|(a, arm)| ArmReport {
            variant: arm.variant.clone(),
            weight: arm.weight,
            control: a == control,
            units: units[a].len() as u64,
            predictions: predictions[a],
            metrics: plans
                .iter()
                .enumerate()
                .map(|(p, plan)| MetricFigure {
                    metric: plan.name.clone(),
                    figure: arm_figure(plan, &acc[a][p], &acc[control][p], &outcome_units),
                })
                .collect(),
        })
        .collect();

    let mut variants = Vec::new();
    let mut shipping: Option<(f64, String)> = None;
    for arm in (0..arms).filter(|&a| a != control) {
        let variant = &spec.arms[arm].variant;
        let mut quiet = Vec::new();
        let decision = decide_variant(&plans, &tracks[arm], &acc[control], &acc[arm], &srm, &mut quiet);
        let verdict = Verdict::of(decision.decision);
        let mut reasons: Vec<ReasonReport> = decision.reasons.iter().map(reason_report).collect();
        if verdict == Verdict::Ship {
            reasons.extend(quiet.into_iter().map(|metric| ReasonReport {
                text: format!("{metric} shows no harm: no event in either arm"),
                metric,
                finding: "holds",
            }));
        }
        if verdict == Verdict::Ship
            && let Some(result) = &tracks[arm][0].last
        {
            let sign = if plans[0].better == Better::Higher { 1.0 } else { -1.0 };
            let (a, b) = (result.confidence_sequence.lower * sign, result.confidence_sequence.upper * sign);
            let gain = a.min(b);
            if shipping.as_ref().is_none_or(|(best, _)| gain > *best) {
                shipping = Some((gain, variant.clone()));
            }
        }
        variants.push(VariantReport {
            variant: variant.clone(),
            decision: verdict,
            reasons,
            metrics: plans.iter().zip(&tracks[arm]).map(|(plan, track)| metric_comparison(plan, track)).collect(),
            looks: std::mem::take(&mut looks[arm]),
        });
    }
    let (decision, ship, reasons) = if sample_ratio.mismatch {
        let text = variants
            .first()
            .and_then(|v| v.reasons.first())
            .map_or_else(|| "the sample ratio does not fit the configured weights".to_string(), |r| r.text.clone());
        (Verdict::StopSampleRatioMismatch, None, vec![text])
    } else if let Some((_, best)) = shipping {
        let v = variants.iter().find(|v| v.variant == best).expect("the shipping variant is reported");
        let reasons = v.reasons.iter().map(|r| format!("variant `{best}`: {}", r.text)).collect();
        (Verdict::Ship, Some(best), reasons)
    } else {
        let all_stop = variants.iter().all(|v| v.decision == Verdict::StopHarm);
        let reasons = variants
            .iter()
            .flat_map(|v| v.reasons.iter().map(move |r| format!("variant `{}`: {}", v.variant, r.text)))
            .collect();
        (if all_stop { Verdict::StopHarm } else { Verdict::KeepRunning }, None, reasons)
    };

    Ok(ExperimentReport {
        experiment: spec.experiment.clone(),
        component: spec.component.clone(),
        control: spec.control.clone(),
        start_ms: spec.start_ms,
        until_ms,
        as_of_ms,
        window_ms: spec.window_ms,
        windows: windows as u64,
        horizon_windows: spec.horizon_windows,
        alpha: ALPHA,
        confidence: CONFIDENCE,
        arms: arm_reports,
        other_predictions,
        units_in_several_arms: several,
        sample_ratio,
        variants,
        decision,
        ship,
        reasons,
    })
}

/// The comparison of a variant's data since the start with the control's, and for a
/// latency the control's quantile it is above.
fn compare(
    plan: &Plan,
    control: &Acc,
    variant: &Acc,
    outcome_units: &HashMap<String, HashSet<String>>,
    pre_units: &HashMap<String, HashSet<String>>,
    track: &mut Track,
) -> Option<Comparison> {
    let (comparison, threshold) = match (&plan.compared, control, variant) {
        (Compared::Share, Acc::Share(c), Acc::Share(v)) => (compare_proportions(*c, *v, CONFIDENCE).ok(), None),
        (Compared::Mean, Acc::Mean(c), Acc::Mean(v)) => (compare_means(c, v, CONFIDENCE).ok(), None),
        (Compared::UnitRate(outcome), Acc::Units(c), Acc::Units(v)) => {
            let reached = outcome_units.get(outcome)?;
            if let Some(pre) = pre_units.get(outcome)
                && let Some((comparison, figures)) = cuped_unit_rate(c, v, reached, pre)
            {
                track.cuped = Some(figures);
                return Some(comparison);
            }
            track.cuped = None;
            let rate = |units: &HashSet<String>| {
                Proportion::new(units.iter().filter(|u| reached.contains(*u)).count() as u64, units.len() as u64)
            };
            (compare_proportions(rate(c), rate(v), CONFIDENCE).ok(), None)
        }
        (Compared::Latency(q), Acc::Latency(c), Acc::Latency(v)) => {
            let Ok(threshold) = quantile(c, *q) else { return None };
            let slower =
                |all: &[f64]| Proportion::new(all.iter().filter(|&&l| l > threshold).count() as u64, all.len() as u64);
            (compare_proportions(slower(c), slower(v), CONFIDENCE).ok(), Some(threshold))
        }
        _ => (None, None),
    };
    track.threshold_ms = threshold;
    comparison
}

/// A rate per unit with CUPED: each unit's outcome (1 or 0) adjusted by whether it had the
/// outcome in the pre-period, the arms then compared by Welch's t. `None` where the
/// covariate explains nothing (every unit the same before) or an arm has under two units.
fn cuped_unit_rate(
    control: &HashSet<String>,
    variant: &HashSet<String>,
    reached: &HashSet<String>,
    pre: &HashSet<String>,
) -> Option<(Comparison, CupedFigures)> {
    let pairs = |units: &HashSet<String>| -> (Vec<f64>, Vec<f64>) {
        let mut sorted: Vec<&String> = units.iter().collect();
        sorted.sort_unstable();
        sorted
            .into_iter()
            .map(|u| (f64::from(u8::from(reached.contains(u))), f64::from(u8::from(pre.contains(u)))))
            .unzip()
    };
    let (c, v) = (pairs(control), pairs(variant));
    let before = c.1.iter().chain(&v.1).filter(|&&x| x > 0.0).count();
    if before == 0 || before == c.1.len() + v.1.len() {
        return None;
    }
    let arms = [CovariateSummary::from_values(&c.0, &c.1).ok()?, CovariateSummary::from_values(&v.0, &v.1).ok()?];
    let fit = cuped(&arms).ok()?;
    let comparison = compare_means(&fit.adjusted[0], &fit.adjusted[1], CONFIDENCE).ok()?;
    let figures = CupedFigures {
        theta: fit.theta,
        variance_ratio: fit.variance_ratio.clone(),
        units_with_pre_period_outcome: before as u64,
    };
    Some((comparison, figures))
}

/// One look of the always-valid test: τ² is fixed at the first look that counts.
fn look(track: &mut Track, comparison: &Comparison, elapsed: f64) -> Result<(), StatsError> {
    let variance = comparison.standard_error * comparison.standard_error;
    let counts = comparison.control.n >= Msprt::DEFAULT_MIN_SAMPLES
        && comparison.variant.n >= Msprt::DEFAULT_MIN_SAMPLES
        && variance > 0.0
        && variance.is_finite();
    if track.msprt.is_none() && counts {
        let msprt = Msprt::for_horizon(ALPHA, variance * elapsed.min(1.0))?;
        track.state = Some(msprt.start());
        track.msprt = Some(msprt);
    }
    match (&track.msprt, &track.state) {
        (Some(msprt), Some(state)) => {
            let result = msprt.update(state, comparison)?;
            track.state = Some(result.state);
            track.last = Some(result);
        }
        _ => {
            // not counted yet: a result saying so (τ² is irrelevant, nothing counts)
            let probe = Msprt::new(ALPHA, 1.0)?;
            track.last = Some(probe.update(&probe.start(), comparison)?);
        }
    }
    Ok(())
}

/// The variant's decision: `decide` on what has results, and what has none (an arm
/// without data) as too little data.
fn decide_variant(
    plans: &[Plan],
    tracks: &[Track],
    control: &[Acc],
    variant: &[Acc],
    srm: &rein_stats::SampleRatioCheck,
    quiet: &mut Vec<String>,
) -> ExperimentDecision {
    let size = |a: &Acc| match a {
        Acc::Share(p) => p.trials,
        Acc::Mean(s) => s.n,
        Acc::Latency(v) => v.len() as u64,
        Acc::Units(u) => u.len() as u64,
    };
    let missing = |p: usize| Reason {
        metric: plans[p].name.clone(),
        finding: Finding::TooLittleData {
            control: size(&control[p]),
            variant: size(&variant[p]),
            needed: Msprt::DEFAULT_MIN_SAMPLES,
        },
    };
    let mut unsettled = Vec::new();
    let mut guardrails = Vec::new();
    for p in 1..plans.len() {
        match &tracks[p].last {
            None => unsettled.push(missing(p)),
            // nothing happened in either arm, each big enough: nothing got worse
            Some(r)
                if r.too_little_data()
                    && r.fixed.standard_error == 0.0
                    && r.fixed.difference.estimate == 0.0
                    && r.fixed.control.n >= r.min_samples
                    && r.fixed.variant.n >= r.min_samples =>
            {
                quiet.push(plans[p].name.clone())
            }
            Some(r) => {
                guardrails.push(Guardrail { name: &plans[p].name, better: plans[p].better, result: r, margin: None })
            }
        }
    }
    let Some(primary) = &tracks[0].last else {
        let mut decision = if srm.verdict == SampleRatio::Mismatch {
            // a decide without a primary result: a mismatch still stops
            let placeholder = placeholder_result();
            let mut d = decide(
                &PrimaryMetric { name: &plans[0].name, better: plans[0].better, result: &placeholder },
                &[],
                Some(srm),
            );
            d.reasons.retain(|r| matches!(r.finding, Finding::SampleRatioMismatch { .. }));
            d
        } else {
            ExperimentDecision { decision: Decision::KeepRunning, reasons: vec![missing(0)] }
        };
        decision.reasons.extend(unsettled);
        return decision;
    };
    let mut decision = decide(
        &PrimaryMetric { name: &plans[0].name, better: plans[0].better, result: primary },
        &guardrails,
        Some(srm),
    );
    if !unsettled.is_empty() && decision.decision != Decision::Stop(StopReason::Harm) {
        if decision.decision == Decision::Ship {
            decision.decision = Decision::KeepRunning;
            decision.reasons.retain(|r| !matches!(r.finding, Finding::Holds { .. }));
        }
        if !matches!(decision.decision, Decision::Stop(_)) {
            decision.reasons.extend(unsettled);
        }
    }
    decision
}

/// A result with no look counted (for a decision with no primary data).
fn placeholder_result() -> SequentialResult {
    let probe = Msprt { alpha: ALPHA, mixing_variance: 1.0, min_samples: Msprt::DEFAULT_MIN_SAMPLES };
    let none = compare_proportions(Proportion::new(0, 1), Proportion::new(0, 1), CONFIDENCE)
        .expect("one trial an arm is a rate");
    probe.update(&probe.start(), &none).expect("the probe's own design")
}

fn reason_report(reason: &Reason) -> ReasonReport {
    let finding = match reason.finding {
        Finding::Improved(_) => "improved",
        Finding::Harmed { .. } => "harmed",
        Finding::NotSignificant(_) => "not_significant",
        Finding::TooLittleData { .. } => "too_little_data",
        Finding::Holds { .. } => "holds",
        Finding::HarmNotRuledOut { .. } => "harm_not_ruled_out",
        Finding::SampleRatioMismatch { .. } => "sample_ratio_mismatch",
    };
    ReasonReport { metric: reason.metric.clone(), finding, text: reason.to_string() }
}

fn metric_comparison(plan: &Plan, track: &Track) -> MetricComparison {
    let compared_as = match plan.compared {
        Compared::Share => "rate",
        Compared::UnitRate(_) if track.cuped.is_some() => "unit_rate_cuped",
        Compared::UnitRate(_) => "unit_rate",
        Compared::Mean => "mean",
        Compared::Latency(_) => "share_slower_than_control_quantile",
    };
    let finite = |v: f64| v.is_finite().then_some(v);
    let (fixed, sequential) = match &track.last {
        None => (None, None),
        Some(r) => {
            let c = &r.fixed;
            let (test, degrees_of_freedom) = match c.test {
                ComparisonTest::TwoProportionZ => ("two_proportion_z", None),
                ComparisonTest::Welch { degrees_of_freedom } => ("welch_t", Some(degrees_of_freedom)),
            };
            let fixed = FixedFigures {
                test,
                control: c.control.mean,
                variant: c.variant.mean,
                difference: c.difference.estimate,
                lower: c.difference.lower,
                upper: c.difference.upper,
                statistic: c.statistic,
                degrees_of_freedom,
                p_value: c.p_value,
                relative_lift: c.relative_lift().ok().map(|l| Span {
                    estimate: l.estimate,
                    lower: l.lower,
                    upper: l.upper,
                }),
            };
            let sequential = SequentialFigures {
                p_value: r.p_value,
                lower: finite(r.confidence_sequence.lower),
                upper: finite(r.confidence_sequence.upper),
                significant: r.significant(),
                windows_counted: r.state.windows,
                mixing_variance: track.msprt.map(|m| m.mixing_variance),
            };
            (Some(fixed), Some(sequential))
        }
    };
    MetricComparison {
        metric: plan.name.clone(),
        role: plan.role,
        better: if plan.better == Better::Higher { Direction::Higher } else { Direction::Lower },
        compared_as,
        threshold_ms: track.threshold_ms,
        fixed,
        sequential,
        cuped: track.cuped.clone(),
    }
}

fn arm_figure(plan: &Plan, acc: &Acc, control: &Acc, outcome_units: &HashMap<String, HashSet<String>>) -> ArmFigure {
    match (acc, &plan.compared) {
        (Acc::Share(p), _) => {
            ArmFigure::Share { successes: p.successes, trials: p.trials, rate: (p.trials > 0).then(|| p.rate()) }
        }
        (Acc::Units(units), Compared::UnitRate(outcome)) => {
            let reached = outcome_units.get(outcome);
            let successes = units.iter().filter(|u| reached.is_some_and(|r| r.contains(*u))).count() as u64;
            let trials = units.len() as u64;
            ArmFigure::Share { successes, trials, rate: (trials > 0).then(|| successes as f64 / trials as f64) }
        }
        (Acc::Units(units), _) => ArmFigure::Share { successes: 0, trials: units.len() as u64, rate: None },
        (Acc::Mean(s), _) => {
            ArmFigure::Mean { n: s.n, mean: (s.n > 0).then_some(s.mean), sd: (s.n > 1).then(|| s.variance.sqrt()) }
        }
        (Acc::Latency(values), Compared::Latency(q)) => {
            let threshold = match control {
                Acc::Latency(c) => quantile(c, *q).ok(),
                _ => None,
            };
            ArmFigure::Latency {
                n: values.len() as u64,
                quantile: *q,
                value_ms: quantile(values, *q).ok(),
                slower_than_control: threshold.map_or(0, |t| values.iter().filter(|&&l| l > t).count() as u64),
            }
        }
        (Acc::Latency(values), _) => {
            ArmFigure::Latency { n: values.len() as u64, quantile: 0.0, value_ms: None, slower_than_control: 0 }
        }
    }
}
