//! The system's goals measured against its telemetry: each goal's figure over its latest
//! closed window, with its interval and its status against the target, the trend over the
//! recent windows, and whether the goals it supports moved with it (`docs/goals.md`).
//!
//! **As of.** Windows are judged at one instant: the one asked for, else just after the
//! newest recorded prediction (event time: a simulation or a backfill is judged in its own
//! time, not the wall clock's), else, with nothing recorded, now. A window is closed once
//! that instant reaches its end; the latest closed window is the goal's figure.
//!
//! **Status** of a figure against its target, from its interval ([`judge`]): `met` when the
//! whole interval meets the target, `missed` when the whole interval misses it, `not_judged`
//! when the interval straddles the target's bound (the window holds too little to tell),
//! `no_data` when the window holds nothing to measure. Counts and totals (`active_units`,
//! `outcome_sum`) are what the window holds, not estimates: their interval is the value.
//!
//! **Alignment** of a goal with each goal it supports, both measured: over the last N
//! windows of the longer of their two window lengths (each metric computed over the same
//! windows), whether they moved together, each read in the direction of its own target
//! (up is better for `at_least`, down for `at_most`, towards the middle for both bounds):
//! the share of consecutive windows in which both moved the same way, and Spearman's rank
//! correlation of the two series with its Fisher-z interval.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use rein_stats::spearman;
use rein_system::{Goal, Measure, Metric, System, Target, format_duration};
use rein_telemetry::{Store, StoreError};
use serde::Serialize;

use crate::window::{self, Bounds, IntervalMethod, Measurement, Measurer, NotYet, closed_windows, length_ms};

/// Windows looked back over when none is asked for: the trend's and the alignment's.
pub const DEFAULT_WINDOWS: usize = 8;
/// The most windows looked back over (a year of days).
pub const MAX_WINDOWS: usize = 366;
/// The confidence of every interval.
pub const CONFIDENCE: f64 = 0.95;
/// Windows in which both goals of a link have a figure that alignment needs: Spearman's
/// rank correlation is not defined on fewer than three pairs (its interval needs four).
pub const ALIGNMENT_MIN_WINDOWS: usize = 3;
/// Windows with a figure that a trend's direction needs (a Fisher-z interval needs four).
pub const TREND_MIN_WINDOWS: usize = 4;

/// What to measure the goals over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The instant to judge at (unix ms); `None`: just after the newest recorded prediction.
    pub at_ms: Option<i64>,
    /// How many windows back: the trend and the alignment are over this many closed windows
    /// (at most [`MAX_WINDOWS`]), the newest of them being the goal's figure.
    pub windows: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { at_ms: None, windows: DEFAULT_WINDOWS }
    }
}

/// How the instant the goals are judged at was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AsOf {
    /// Asked for.
    Given,
    /// Just after the newest recorded prediction.
    NewestPrediction,
    /// Now: nothing is recorded.
    Clock,
}

/// Every goal of a system, measured.
#[derive(Debug, Clone, Serialize)]
pub struct GoalsReport {
    pub system: String,
    /// The instant the windows are judged at (unix ms): a window that ended by then is closed.
    pub as_of_ms: i64,
    pub as_of: AsOf,
    /// How many windows back each trend and alignment covers.
    pub windows: usize,
    /// The confidence of every interval.
    pub confidence: f64,
    /// The goals that support no other, highest layer first: the roots of the tree.
    pub top: Vec<String>,
    /// Every goal, in file order; the tree is in each goal's `supports` and `supporters`.
    pub goals: Vec<GoalReport>,
}

/// One goal, measured.
#[derive(Debug, Clone, Serialize)]
pub struct GoalReport {
    pub id: String,
    pub layer: &'static str,
    pub description: String,
    /// The goals it serves (up the layers).
    pub supports: Vec<String>,
    /// The goals that serve it, in file order.
    pub supporters: Vec<String>,
    /// Its latest closed window's status; `not_measured` for `measured = false`,
    /// `not_measured_yet` for a metric not computed yet.
    pub status: Status,
    /// Why it is not measured: `measured = false`'s note, or what is not computed yet.
    pub note: Option<String>,
    /// Its metric, target and window, when it declares them.
    pub metric: Option<MetricSpec>,
    /// The latest closed window's figure.
    pub latest: Option<Figure>,
    /// The recent windows' figures, oldest first (the latest last), and where they head.
    pub trend: Option<Trend>,
    /// Whether it moved with each goal it supports, in the order of `supports`.
    pub alignment: Vec<Alignment>,
}

/// A figure's standing against its target, or why it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The whole interval meets the target.
    Met,
    /// The whole interval misses the target.
    Missed,
    /// The interval straddles the target's bound: too little data to tell.
    NotJudged,
    /// The window holds nothing to measure.
    NoData,
    /// `measured = false`: no telemetry shows it.
    NotMeasured,
    /// Its metric is not computed yet (quality metrics).
    NotMeasuredYet,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Missed => "missed",
            Status::NotJudged => "not judged",
            Status::NoData => "no data",
            Status::NotMeasured => "not measured",
            Status::NotMeasuredYet => "not measured yet",
        }
    }
}

/// A goal's metric as declared.
#[derive(Debug, Clone, Serialize)]
pub struct MetricSpec {
    /// `metric = "..."`.
    pub name: &'static str,
    /// As `rein check` prints it: ``outcome_rate of `left_page` per prediction, in mode prompt``.
    pub text: String,
    pub target: TargetSpec,
    /// As written: `1h`, `1d`, `7d`.
    pub window: String,
    pub window_ms: i64,
}

/// `target = { at_least, at_most }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TargetSpec {
    pub at_least: Option<f64>,
    pub at_most: Option<f64>,
}

impl From<Target> for TargetSpec {
    fn from(t: Target) -> Self {
        match t {
            Target::AtLeast(lo) => TargetSpec { at_least: Some(lo), at_most: None },
            Target::AtMost(hi) => TargetSpec { at_least: None, at_most: Some(hi) },
            Target::Between(lo, hi) => TargetSpec { at_least: Some(lo), at_most: Some(hi) },
        }
    }
}

/// A metric over one window, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub from_ms: i64,
    pub until_ms: i64,
    /// Null when the window holds nothing to measure.
    pub value: Option<f64>,
    /// What it is over: predictions (shares, latency, `active_units`), units
    /// (`outcome_rate` per unit) or outcome values (`outcome_mean`, `outcome_sum`).
    pub count: u64,
    /// For a share: how many of `count` count toward it.
    pub matching: Option<u64>,
    pub interval: Option<Bounds>,
    pub status: Status,
    /// Predictions the goal's filter could not be evaluated on (not counted), and the first
    /// error.
    pub filter_errors: u64,
    pub filter_error: Option<String>,
}

/// The recent windows of a goal.
#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    pub direction: Direction,
    /// Oldest first; the last is the latest closed window.
    pub windows: Vec<Figure>,
}

/// Where a goal's figures head over the recent windows, read in its target's direction:
/// from Spearman's rank correlation of the figures with time and its Fisher-z interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Towards the target: the correlation's interval lies above 0.
    Improving,
    /// Away from it: below 0.
    Worsening,
    /// Every figure the same.
    Steady,
    /// The interval holds 0.
    Unclear,
    /// Fewer than [`TREND_MIN_WINDOWS`] windows with a figure.
    TooFewWindows,
}

/// Whether a goal moved with a goal it supports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alignment {
    /// The goal supported.
    pub supports: String,
    pub status: AlignmentStatus,
    /// Why it is not measured, or why there is no correlation.
    pub note: Option<String>,
    /// The windows both are measured over: the longer of the two goals' windows.
    pub window: Option<String>,
    pub window_ms: Option<i64>,
    /// Windows in which both have a figure.
    pub windows: usize,
    pub agreement: Option<Agreement>,
    pub spearman: Option<Correlation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlignmentStatus {
    Measured,
    /// Fewer than [`ALIGNMENT_MIN_WINDOWS`] windows in which both have a figure.
    TooFewWindows,
    /// One of the two is not measured (or not yet).
    NotMeasured,
}

/// Over consecutive windows in which both have a figure, how each step went, each goal
/// read in its target's direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Agreement {
    /// Both got better, or both worse.
    pub same: u64,
    /// One better, the other worse.
    pub opposite: u64,
    /// At least one did not move.
    pub unmoved: u64,
    /// `same / (same + opposite)`: the share of the steps where both moved that they moved
    /// the same way; null when they never both moved.
    pub share: Option<f64>,
}

/// Spearman's rank correlation of two goals' figures (each in its target's direction: a
/// positive one means they get better together).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Correlation {
    pub rho: f64,
    pub p_value: f64,
    /// Fisher-z, with Bonett and Wright's variance; null under four windows.
    pub interval: Option<Bounds>,
}

/// The status of a figure against `target` (see the module's documentation).
pub fn judge(target: Target, value: Option<f64>, interval: Option<&Bounds>) -> Status {
    if value.is_none() {
        return Status::NoData;
    }
    let Some(bounds) = interval else { return Status::NotJudged };
    let (lo, hi) = (bounds.lower_or_inf(), bounds.upper_or_inf());
    let (met, missed) = match target {
        Target::AtLeast(t) => (lo >= t, hi < t),
        Target::AtMost(t) => (hi <= t, lo > t),
        Target::Between(a, b) => (lo >= a && hi <= b, hi < a || lo > b),
    };
    match (met, missed) {
        (true, _) => Status::Met,
        (_, true) => Status::Missed,
        _ => Status::NotJudged,
    }
}

/// A figure read in its target's direction: larger is better.
pub fn goodness(target: Target, value: f64) -> f64 {
    match target {
        Target::AtLeast(_) => value,
        Target::AtMost(_) => -value,
        Target::Between(lo, hi) => -(value - (lo + hi) / 2.0).abs(),
    }
}

/// What a goal is, for measuring it.
enum Plan<'s> {
    NotMeasured(&'s str),
    NotYet(&'s Metric, Target, i64, NotYet),
    Measured(&'s Metric, Target, i64),
}

impl Plan<'_> {
    fn of(goal: &Goal) -> Plan<'_> {
        match &goal.measure {
            Measure::NotMeasured { note } => Plan::NotMeasured(note),
            Measure::Metric { metric, target, window } => match Measurer::new(metric) {
                Ok(_) => Plan::Measured(metric, *target, length_ms(*window)),
                Err(why) => Plan::NotYet(metric, *target, length_ms(*window), why),
            },
        }
    }

    fn measured(&self) -> Option<(&Metric, Target, i64)> {
        match self {
            Plan::Measured(metric, target, length) => Some((metric, *target, *length)),
            _ => None,
        }
    }
}

/// Measures every goal of `system` over the store's windows.
pub fn measure(system: &System, store: &dyn Store, options: &Options) -> Result<GoalsReport, StoreError> {
    let count = options.windows.min(MAX_WINDOWS);
    let (as_of_ms, as_of) = match options.at_ms {
        Some(at) => (at, AsOf::Given),
        None => match store.newest_prediction_ms()? {
            Some(newest) => (newest.saturating_add(1), AsOf::NewestPrediction),
            None => (now_ms(), AsOf::Clock),
        },
    };
    let plans: Vec<Plan> = system.goals.iter().map(Plan::of).collect();
    let index: HashMap<&str, usize> = system.goals.iter().enumerate().map(|(i, g)| (g.id.as_str(), i)).collect();

    // the series each goal needs: over its own windows, and over the longer windows of a
    // link, so both ends are measured over the same time
    let mut needs: BTreeMap<i64, BTreeSet<usize>> = BTreeMap::new();
    for (i, plan) in plans.iter().enumerate() {
        let Some((_, _, own)) = plan.measured() else { continue };
        needs.entry(own).or_default().insert(i);
        for supported in &system.goals[i].supports {
            let Some(&j) = index.get(supported.as_str()) else { continue };
            let Some((_, _, theirs)) = plans[j].measured() else { continue };
            let longer = own.max(theirs);
            needs.entry(longer).or_default().extend([i, j]);
        }
    }
    let root = cel::Context::default();
    let mut series: HashMap<(usize, i64), Vec<Measurement>> = HashMap::new();
    for (&length, goals) in &needs {
        for w in closed_windows(length, as_of_ms, count) {
            let measurers: Vec<(usize, Measurer)> =
                goals.iter().filter_map(|&i| Some((i, Measurer::new(plans[i].measured()?.0).ok()?))).collect();
            let (goals, measurers): (Vec<usize>, Vec<Measurer>) = measurers.into_iter().unzip();
            let measured = window::measure(store, system, measurers, w, &root, CONFIDENCE)?;
            for (i, m) in goals.into_iter().zip(measured) {
                series.entry((i, length)).or_default().push(m);
            }
        }
    }

    let goals = system
        .goals
        .iter()
        .enumerate()
        .map(|(i, goal)| {
            let supporters = system.supporters(&goal.id).map(|g| g.id.clone()).collect();
            let alignment = goal
                .supports
                .iter()
                .map(|supported| {
                    let j = index.get(supported.as_str()).copied();
                    link(system, &plans, &series, i, j, supported)
                })
                .collect();
            let mut report = GoalReport {
                id: goal.id.clone(),
                layer: goal.layer.as_str(),
                description: goal.description.clone(),
                supports: goal.supports.clone(),
                supporters,
                status: Status::NotMeasured,
                note: None,
                metric: None,
                latest: None,
                trend: None,
                alignment,
            };
            match &plans[i] {
                Plan::NotMeasured(note) => report.note = Some(note.to_string()),
                Plan::NotYet(metric, target, length, why) => {
                    report.status = Status::NotMeasuredYet;
                    report.note = Some(why.to_string());
                    report.metric = Some(spec(metric, *target, *length));
                }
                Plan::Measured(metric, target, length) => {
                    let figures: Vec<Figure> = series
                        .get(&(i, *length))
                        .map(|ms| ms.iter().map(|m| figure(m, *target)).collect())
                        .unwrap_or_default();
                    report.metric = Some(spec(metric, *target, *length));
                    report.latest = figures.last().cloned();
                    report.status = figures.last().map_or(Status::NoData, |f| f.status);
                    report.trend = Some(Trend { direction: direction(&figures, *target), windows: figures });
                }
            }
            report
        })
        .collect();
    Ok(GoalsReport {
        system: system.name.clone(),
        as_of_ms,
        as_of,
        windows: count,
        confidence: CONFIDENCE,
        top: system.top_goals().iter().map(|g| g.id.clone()).collect(),
        goals,
    })
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn spec(metric: &Metric, target: Target, length: i64) -> MetricSpec {
    MetricSpec {
        name: metric.kind.name(),
        text: metric.to_string(),
        target: target.into(),
        window: format_duration(std::time::Duration::from_millis(length.max(0) as u64)),
        window_ms: length,
    }
}

fn figure(m: &Measurement, target: Target) -> Figure {
    Figure {
        from_ms: m.window.start_ms,
        until_ms: m.window.end_ms,
        value: m.value,
        count: m.count,
        matching: m.matching,
        interval: m.interval,
        status: judge(target, m.value, m.interval.as_ref()),
        filter_errors: m.filter_errors,
        filter_error: m.filter_error.clone(),
    }
}

/// Where `figures` head, in `target`'s direction.
pub fn direction(figures: &[Figure], target: Target) -> Direction {
    let points: Vec<(f64, f64)> =
        figures.iter().enumerate().filter_map(|(t, f)| Some((t as f64, goodness(target, f.value?)))).collect();
    if points.len() < TREND_MIN_WINDOWS {
        return Direction::TooFewWindows;
    }
    let (time, good): (Vec<f64>, Vec<f64>) = points.into_iter().unzip();
    if good.iter().all(|g| *g == good[0]) {
        return Direction::Steady;
    }
    let Ok(interval) = spearman(&time, &good).and_then(|s| s.fisher_interval(CONFIDENCE)) else {
        return Direction::Unclear;
    };
    if interval.lower > 0.0 {
        Direction::Improving
    } else if interval.upper < 0.0 {
        Direction::Worsening
    } else {
        Direction::Unclear
    }
}

/// The alignment of goal `i` with the goal `supported` (index `j`) it supports.
fn link(
    system: &System,
    plans: &[Plan],
    series: &HashMap<(usize, i64), Vec<Measurement>>,
    i: usize,
    j: Option<usize>,
    supported: &str,
) -> Alignment {
    let not_measured = |note: String| Alignment {
        supports: supported.to_string(),
        status: AlignmentStatus::NotMeasured,
        note: Some(note),
        window: None,
        window_ms: None,
        windows: 0,
        agreement: None,
        spearman: None,
    };
    let Some(j) = j else { return not_measured(format!("no goal is named `{supported}`")) };
    for k in [i, j] {
        let id = &system.goals[k].id;
        match &plans[k] {
            Plan::NotMeasured(_) => return not_measured(format!("`{id}` is not measured (`measured = false`)")),
            Plan::NotYet(.., why) => return not_measured(format!("`{id}`: {why}")),
            Plan::Measured(..) => {}
        }
    }
    let (Some((_, ta, la)), Some((_, tb, lb))) = (plans[i].measured(), plans[j].measured()) else {
        return not_measured("not measured".into());
    };
    let length = la.max(lb);
    let values = |k: usize| -> Vec<Option<f64>> {
        series.get(&(k, length)).map(|ms| ms.iter().map(|m| m.value).collect()).unwrap_or_default()
    };
    let mut alignment = align(&values(i), ta, &values(j), tb);
    alignment.supports = supported.to_string();
    alignment.window = Some(format_duration(std::time::Duration::from_millis(length.max(0) as u64)));
    alignment.window_ms = Some(length);
    alignment
}

/// Whether two series of figures over the same windows moved together, each read in its
/// target's direction ([`goodness`]). `supports` and the window are left for the caller.
pub fn align(a: &[Option<f64>], target_a: Target, b: &[Option<f64>], target_b: Target) -> Alignment {
    let pairs: Vec<Option<(f64, f64)>> =
        a.iter().zip(b).map(|(x, y)| Some((goodness(target_a, (*x)?), goodness(target_b, (*y)?)))).collect();
    let both: Vec<(f64, f64)> = pairs.iter().flatten().copied().collect();
    let mut alignment = Alignment {
        supports: String::new(),
        status: AlignmentStatus::TooFewWindows,
        note: None,
        window: None,
        window_ms: None,
        windows: both.len(),
        agreement: None,
        spearman: None,
    };
    if both.len() < ALIGNMENT_MIN_WINDOWS {
        alignment.note = Some(format!(
            "{} window(s) in which both have a figure; alignment needs {ALIGNMENT_MIN_WINDOWS}",
            both.len()
        ));
        return alignment;
    }
    alignment.status = AlignmentStatus::Measured;
    let (mut same, mut opposite, mut unmoved) = (0, 0, 0);
    for step in pairs.windows(2) {
        let (Some((a0, b0)), Some((a1, b1))) = (step[0], step[1]) else { continue };
        match ((a1 - a0).signum_or_zero(), (b1 - b0).signum_or_zero()) {
            (0, _) | (_, 0) => unmoved += 1,
            (x, y) if x == y => same += 1,
            _ => opposite += 1,
        }
    }
    let moved = same + opposite;
    alignment.agreement =
        Some(Agreement { same, opposite, unmoved, share: (moved > 0).then(|| same as f64 / moved as f64) });
    let (x, y): (Vec<f64>, Vec<f64>) = both.into_iter().unzip();
    match spearman(&x, &y) {
        Ok(s) => {
            let interval = s.fisher_interval(CONFIDENCE).ok().map(|i| Bounds {
                lower: Some(i.lower),
                upper: Some(i.upper),
                method: IntervalMethod::FisherZ,
            });
            alignment.spearman = Some(Correlation { rho: s.rho, p_value: s.p_value, interval });
        }
        Err(e) => alignment.note = Some(format!("no rank correlation: {e}")),
    }
    alignment
}

/// The sign of a difference: -1, 0 or 1.
trait SignumOrZero {
    fn signum_or_zero(self) -> i8;
}

impl SignumOrZero for f64 {
    fn signum_or_zero(self) -> i8 {
        if self > 0.0 {
            1
        } else if self < 0.0 {
            -1
        } else {
            0
        }
    }
}

/// A figure as a person reads it: `0.1984 [0.1611, 0.2418] over 373 in <from> – <until>`.
impl Figure {
    pub fn describe(&self) -> String {
        let value = self.value.map_or_else(|| "no value".to_owned(), number_text);
        let interval = self.interval.as_ref().map_or(String::new(), |b| {
            let end = |v: Option<f64>, inf: &str| v.map_or_else(|| inf.to_owned(), number_text);
            format!(" [{}, {}]", end(b.lower, "-inf"), end(b.upper, "inf"))
        });
        format!("{value}{interval} over {} in {} – {}", self.count, time_text(self.from_ms), time_text(self.until_ms))
    }
}

impl TargetSpec {
    /// `at least 0.7`, `at most 50`, `between 1 and 2`.
    pub fn describe(&self) -> String {
        match (self.at_least, self.at_most) {
            (Some(lo), Some(hi)) => format!("between {} and {}", number_text(lo), number_text(hi)),
            (Some(lo), None) => format!("at least {}", number_text(lo)),
            (None, Some(hi)) => format!("at most {}", number_text(hi)),
            (None, None) => "none".to_owned(),
        }
    }
}

/// A whole number as it is, anything else to four decimals.
pub fn number_text(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 { format!("{v:.0}") } else { format!("{v:.4}") }
}

/// Unix milliseconds as RFC 3339 to the second, UTC.
pub fn time_text(ms: i64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(lower: Option<f64>, upper: Option<f64>) -> Bounds {
        Bounds { lower, upper, method: IntervalMethod::Wilson }
    }

    #[test]
    fn a_figure_is_met_or_missed_only_when_its_whole_interval_is() {
        let at_least = Target::AtLeast(0.7);
        let b = |lo, hi| Some(bounds(Some(lo), Some(hi)));
        assert_eq!(judge(at_least, Some(0.8), b(0.72, 0.86).as_ref()), Status::Met);
        assert_eq!(judge(at_least, Some(0.8), b(0.7, 0.86).as_ref()), Status::Met, "the bound itself meets");
        assert_eq!(judge(at_least, Some(0.75), b(0.6, 0.86).as_ref()), Status::NotJudged);
        assert_eq!(judge(at_least, Some(0.5), b(0.4, 0.69).as_ref()), Status::Missed);
        let at_most = Target::AtMost(0.05);
        assert_eq!(judge(at_most, Some(0.01), b(0.0, 0.04).as_ref()), Status::Met);
        assert_eq!(judge(at_most, Some(0.01), b(0.0, 0.2).as_ref()), Status::NotJudged);
        assert_eq!(judge(at_most, Some(0.3), b(0.1, 0.5).as_ref()), Status::Missed);
        // an end the data cannot bound: never met on that side
        let latency = Target::AtMost(50.0);
        assert_eq!(judge(latency, Some(12.0), Some(&bounds(Some(9.0), None))), Status::NotJudged);
        assert_eq!(judge(latency, Some(80.0), Some(&bounds(Some(60.0), None))), Status::Missed);
        let between = Target::Between(-0.5, 0.5);
        assert_eq!(judge(between, Some(0.0), b(-0.2, 0.3).as_ref()), Status::Met);
        assert_eq!(judge(between, Some(0.4), b(0.2, 0.7).as_ref()), Status::NotJudged);
        assert_eq!(judge(between, Some(0.9), b(0.6, 1.2).as_ref()), Status::Missed);
        assert_eq!(judge(between, Some(-0.9), b(-1.2, -0.6).as_ref()), Status::Missed);
        // nothing measured, or nothing to judge it by
        assert_eq!(judge(at_least, None, None), Status::NoData);
        assert_eq!(judge(at_least, Some(0.9), None), Status::NotJudged);
        let exact = Bounds { lower: Some(3.0), upper: Some(3.0), method: IntervalMethod::Exact };
        assert_eq!(judge(Target::AtLeast(3.0), Some(3.0), Some(&exact)), Status::Met);
    }

    const UP: Target = Target::AtLeast(0.5);
    const DOWN: Target = Target::AtMost(0.05);

    #[test]
    fn goals_moving_together_are_aligned() {
        let a = [0.6, 0.62, 0.7, 0.65, 0.8, 0.85].map(Some);
        let b = [0.50, 0.52, 0.61, 0.55, 0.70, 0.71].map(Some);
        let aligned = align(&a, UP, &b, UP);
        assert_eq!(aligned.status, AlignmentStatus::Measured);
        assert_eq!(aligned.windows, 6);
        let agreement = aligned.agreement.unwrap();
        assert_eq!((agreement.same, agreement.opposite, agreement.unmoved, agreement.share), (5, 0, 0, Some(1.0)));
        let rho = aligned.spearman.unwrap();
        assert!((rho.rho - 1.0).abs() < 1e-12, "{rho:?}");

        // a goal to keep low that falls while the other rises: together, in their targets' terms
        let errors = [0.09, 0.08, 0.05, 0.06, 0.03, 0.02].map(Some);
        let aligned = align(&a, UP, &errors, DOWN);
        assert_eq!(aligned.agreement.unwrap().share, Some(1.0));
        assert!(aligned.spearman.unwrap().rho > 0.99);
    }

    #[test]
    fn goals_moving_apart_are_not() {
        let a = [0.6, 0.62, 0.7, 0.65, 0.8].map(Some);
        let b = [0.9, 0.85, 0.7, 0.75, 0.6].map(Some);
        let apart = align(&a, UP, &b, UP);
        let agreement = apart.agreement.unwrap();
        assert_eq!((agreement.same, agreement.opposite, agreement.share), (0, 4, Some(0.0)));
        let rho = apart.spearman.unwrap();
        assert!((rho.rho + 1.0).abs() < 1e-12, "{rho:?}");
        let interval = rho.interval.unwrap();
        assert!(interval.upper.unwrap() <= -0.9, "{interval:?}");

        // read in the other goal's terms (lower is better), the same numbers move together
        assert_eq!(align(&a, UP, &b, Target::AtMost(1.0)).agreement.unwrap().share, Some(1.0));

        // some of each: a window where one does not move is not counted either way
        let c = [0.6, 0.7, 0.7, 0.6, 0.9].map(Some);
        let mixed = align(&a, UP, &c, UP).agreement.unwrap();
        assert_eq!((mixed.same, mixed.opposite, mixed.unmoved), (3, 0, 1));
    }

    #[test]
    fn alignment_needs_windows_where_both_have_a_figure() {
        let a = [Some(0.6), None, Some(0.7), Some(0.8), None];
        let b = [Some(0.5), Some(0.6), None, Some(0.7), Some(0.9)];
        let few = align(&a, UP, &b, UP);
        assert_eq!((few.status, few.windows), (AlignmentStatus::TooFewWindows, 2));
        assert!(few.agreement.is_none() && few.spearman.is_none());
        assert!(few.note.unwrap().contains("needs 3"));

        // three pairs: a correlation without its interval (that needs four); the steps
        // across a window without a figure are skipped
        let a = [Some(0.6), Some(0.7), None, Some(0.8)];
        let b = [Some(0.5), Some(0.6), Some(0.1), Some(0.9)];
        let three = align(&a, UP, &b, UP);
        assert_eq!((three.status, three.windows), (AlignmentStatus::Measured, 3));
        let agreement = three.agreement.unwrap();
        assert_eq!(agreement.same + agreement.opposite + agreement.unmoved, 1);
        assert!(three.spearman.unwrap().interval.is_none());

        // a goal that never moves has no rank correlation, and says so
        let flat = align(&[Some(0.0); 5], DOWN, &[0.1, 0.2, 0.3, 0.4, 0.5].map(Some), UP);
        assert!(flat.spearman.is_none());
        assert!(flat.note.unwrap().contains("same"), "constant");
        assert_eq!(flat.agreement.unwrap().share, None);
    }

    #[test]
    fn a_trend_has_a_direction_when_its_interval_excludes_none() {
        let figures = |values: &[Option<f64>]| -> Vec<Figure> {
            values
                .iter()
                .enumerate()
                .map(|(i, v)| Figure {
                    from_ms: i as i64,
                    until_ms: i as i64 + 1,
                    value: *v,
                    count: 1,
                    matching: None,
                    interval: None,
                    status: Status::NotJudged,
                    filter_errors: 0,
                    filter_error: None,
                })
                .collect()
        };
        let rising = figures(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8].map(Some));
        assert_eq!(direction(&rising, UP), Direction::Improving);
        assert_eq!(direction(&rising, DOWN), Direction::Worsening);
        assert_eq!(direction(&figures(&[Some(0.2); 6]), UP), Direction::Steady);
        assert_eq!(direction(&figures(&[Some(0.2), None, Some(0.3), Some(0.1)]), UP), Direction::TooFewWindows);
        let noisy = figures(&[0.3, 0.1, 0.4, 0.2, 0.35, 0.15].map(Some));
        assert_eq!(direction(&noisy, UP), Direction::Unclear);
    }
}
