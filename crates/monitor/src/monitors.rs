//! The system's `[[monitors]]` measured over the telemetry store, window after window, and
//! their alerts opened and closed ([`crate::alerts`]; `docs/monitoring.md`).
//!
//! **Windows** tumble by event time, aligned to the epoch, as the goals' ([`crate::window`]).
//! A monitor is judged **as of** just after the newest recorded prediction (a simulation or
//! a backfill is judged in its own time), or at the wall clock when that prediction is
//! within one window of it: a live system whose traffic pauses still closes its windows
//! ([`as_of`]). A window closes once that instant is `[alerts] lateness` (a minute by
//! default) past its end: predictions stamped within it may still arrive until then. Each window closed since the last one evaluated is evaluated once, oldest
//! first ([`due_windows`]); a monitor new to the store starts at the window of the oldest
//! prediction, and none goes back more than [`MAX_CATCH_UP`] windows.
//!
//! **Figures**, one pass over a window's predictions for every monitor of that window
//! ([`measure`]): a feature's or the output's values gathered against the component's
//! reference profile and compared by the drift machinery of `rein drift` ([`crate::report`];
//! the drift policy's verdict, or one measure against a threshold); latency, a guardrail's
//! and the fallback's rate, and a goal's metric as the goals measure them
//! ([`crate::window`]), with their intervals; a quality measure as the goals take it
//! (`crate::quality_windows`): from the window's labeled predictions, or estimated from its
//! probabilities, calibrated on the earliest of the eight windows up to it.
//!
//! Cost: a window is read once for all its monitors (O(predictions)); each drift column
//! keeps O(bins + categories + sample) as `rein drift` does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use rein_stats::DriftPolicy;
use rein_system::{
    Component, DriftMeasure, Measure, Metric, MetricKind, Monitor, Population, System, Threshold, Watch,
};
use rein_telemetry::{Store, StoreError, WindowQuery};
use serde_json::Value as Json;

use crate::alerts::{Figure, MonitorState, Step, Verdict, judge};
use crate::columns::{Cell, Sink, columns};
use crate::current::CurrentColumn;
use crate::estimate::EstimateOptions;
use crate::population::{FilterScope, RecordRules};
use crate::profile::Profile;
use crate::quality::QualityOptions;
use crate::quality_windows;
use crate::report::{ColumnReport, Gathered, Measures, PSI_THRESHOLD, Side, compare};
use crate::window::{Measurer, Window, closed_windows, length_ms};

/// The confidence of every interval.
pub const CONFIDENCE: f64 = 0.95;
/// The most windows of one monitor evaluated at once: a monitor new to a store with a long
/// history, or one whose server was down, starts at most this many windows back.
pub const MAX_CATCH_UP: usize = 366;
/// The significance level of a drift monitor's tests. A monitor tests every window: at
/// `rein drift`'s 0.05, a feature that does not move would breach one window in twenty
/// (measured here: 3 of 15 steady windows of 400 rows at 0.05, none at 0.001). At 0.001 it
/// breaches about one window in a thousand, and a real shift of a few hundred rows still
/// gives p-values far below it (1e-80 for amounts tripled in the tests).
pub const MONITOR_ALPHA: f64 = 0.001;
/// The drift policy drift monitors use: `rein drift`'s (Evidently's preset: tests up to
/// 1,000 rows, effect sizes above), its tests at [`MONITOR_ALPHA`].
pub const POLICY: DriftPolicy = DriftPolicy { alpha: MONITOR_ALPHA, ..DriftPolicy::EVIDENTLY };

/// Where a component's reference profile is read from: beside its model,
/// `<model>.profile.json`, where `rein profile` writes it.
pub fn profile_path(component: &Component) -> PathBuf {
    component.model.path.with_extension("profile.json")
}

/// Each component's reference profile, for its drift monitors; or why it has none.
#[derive(Debug, Clone, Default)]
pub struct References {
    profiles: HashMap<String, Result<Profile, String>>,
}

impl References {
    /// The profiles beside the models of the components a drift monitor watches, each
    /// checked against its component.
    pub fn load(system: &System) -> References {
        let mut references = References::default();
        for monitor in system.monitors.iter().filter(|m| m.watch.is_drift()) {
            let Some(component) = monitor.component.as_deref().and_then(|c| system.component(c)) else { continue };
            if references.profiles.contains_key(&component.name) {
                continue;
            }
            let path = profile_path(component);
            let file = path.display().to_string();
            let profile = match std::fs::read_to_string(&path) {
                Ok(text) => Profile::from_json(&text, &file)
                    .and_then(|p| p.check_against(&component.name, &columns(component), &file).map(|()| p))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(format!(
                    "no reference profile at {file} ({e}): make it with `rein profile {} {} --data TRAIN.csv`",
                    system.file.display(),
                    component.name
                )),
            };
            references.profiles.insert(component.name.clone(), profile);
        }
        references
    }

    /// Sets a component's profile (or why it has none).
    pub fn insert(&mut self, component: &str, profile: Result<Profile, String>) {
        self.profiles.insert(component.to_string(), profile);
    }

    /// The profile of `component`, or why there is none.
    pub fn get(&self, component: &str) -> Result<&Profile, String> {
        match self.profiles.get(component) {
            Some(Ok(p)) => Ok(p),
            Some(Err(why)) => Err(why.clone()),
            None => Err(format!("no reference profile of component `{component}` was loaded")),
        }
    }
}

/// When a window of `monitor` breaches: its own threshold; a drift measure's without one,
/// the drift policy's threshold for that measure; `None`: the drift policy's verdict.
pub fn threshold(monitor: &Monitor) -> Option<Threshold> {
    if monitor.threshold.is_some() {
        return monitor.threshold;
    }
    let measure = match &monitor.watch {
        Watch::FeatureDrift { measure, .. } | Watch::OutputDrift { measure, .. } => (*measure)?,
        _ => return None,
    };
    Some(match measure {
        DriftMeasure::Psi => Threshold::Above(PSI_THRESHOLD),
        DriftMeasure::JensenShannon => Threshold::Above(POLICY.categorical_threshold),
        DriftMeasure::Wasserstein => Threshold::Above(POLICY.numeric_threshold),
        DriftMeasure::Ks | DriftMeasure::ChiSquared => Threshold::Below(POLICY.alpha),
    })
}

/// The metric a monitor watches as the goals measure it, with its population: its
/// component's predictions (a goal's own population for a goal monitor). `None` for drift.
pub fn metric(system: &System, monitor: &Monitor) -> Option<Metric> {
    let population = Population { component: monitor.component.clone(), ..Population::default() };
    let kind = match &monitor.watch {
        Watch::FeatureDrift { .. } | Watch::OutputDrift { .. } => return None,
        Watch::Goal { goal } => {
            return match &system.goal(goal)?.measure {
                Measure::Metric { metric, .. } => Some(metric.clone()),
                Measure::NotMeasured { .. } => None,
            };
        }
        Watch::Quality { measure, label, estimated } => {
            MetricKind::Quality { measure: *measure, label: label.clone(), estimated: *estimated }
        }
        Watch::Latency { quantile } => MetricKind::Latency { quantile: *quantile },
        Watch::GuardrailRate { guardrail } => MetricKind::GuardrailRate { guardrail: guardrail.clone() },
        Watch::FallbackRate => MetricKind::FallbackRate,
    };
    Some(Metric { kind, population })
}

/// The instant a monitor whose windows last `length_ms` is judged at (see the module):
/// `None` when nothing is recorded.
pub fn as_of(newest_ms: Option<i64>, now_ms: i64, length_ms: i64) -> Option<i64> {
    let after_newest = newest_ms?.saturating_add(1);
    if now_ms.saturating_sub(after_newest) <= length_ms { Some(after_newest.max(now_ms)) } else { Some(after_newest) }
}

/// The windows of `length_ms` closed at `as_of_ms` and not yet evaluated, oldest first: those
/// starting at or after `evaluated_until_ms`; with none evaluated yet, from the window that
/// holds `first_ms` (the oldest prediction). At most `max`, the newest.
pub fn due_windows(
    length_ms: i64,
    evaluated_until_ms: Option<i64>,
    first_ms: Option<i64>,
    as_of_ms: i64,
    max: usize,
) -> Vec<Window> {
    let length = length_ms.max(1);
    let last_end = Window::holding(as_of_ms, length).start_ms;
    let from = match (evaluated_until_ms, first_ms) {
        // the first window that starts at or after it (a window changed in length since
        // leaves the one that straddles it out)
        (Some(until), _) => {
            let holding = Window::holding(until, length);
            if holding.start_ms == until { until } else { holding.end_ms }
        }
        (None, Some(first)) => Window::holding(first, length).start_ms,
        (None, None) => return Vec::new(),
    };
    if from >= last_end {
        return Vec::new();
    }
    let count = ((last_end - from) / length) as usize;
    let skip = count.saturating_sub(max);
    (skip..count)
        .map(|k| {
            let start = from + k as i64 * length;
            Window { start_ms: start, end_ms: start + length }
        })
        .collect()
}

/// What a monitor's figure is made of.
enum Plan<'s> {
    /// A metric as the goals measure it.
    Metric(usize),
    /// A column compared with the component's profile.
    Drift { component: &'s str, column: String },
    /// Why it cannot be measured.
    Not(String),
}

/// One component's columns gathered against its profile over the window.
struct DriftGather<'p> {
    profile: &'p Profile,
    columns: Vec<CurrentColumn>,
}

impl DriftGather<'_> {
    fn push(&mut self, features: &Json, raw_output: &Json) {
        for c in &mut self.columns {
            let column = c.column();
            let value = match column.role {
                crate::columns::Role::Feature => features.get(&column.name),
                // the model's own answer: a row the model did not answer (an input
                // guardrail overrode it, it failed) says nothing of its output
                crate::columns::Role::Output => match raw_output.get(&column.name) {
                    Some(v) if !v.is_null() => Some(v),
                    _ => continue,
                },
            };
            let cell = match value {
                None | Some(Json::Null) => Cell::Missing,
                Some(Json::Bool(b)) => Cell::Bool(*b),
                Some(Json::Number(n)) => n.as_f64().map_or(Cell::Missing, Cell::Number),
                Some(Json::String(s)) => Cell::Text(s),
                Some(_) => Cell::Missing,
            };
            c.push(cell);
        }
    }
}

/// The figure of each of `monitors` over `window`, in their order: one pass over the
/// window's predictions for all of them.
pub fn measure(
    system: &System,
    store: &dyn Store,
    references: &References,
    monitors: &[&Monitor],
    window: Window,
) -> Result<Vec<Figure>, StoreError> {
    let mut metrics: Vec<Metric> = Vec::new();
    let plans: Vec<Plan> = monitors
        .iter()
        .map(|m| match &m.watch {
            Watch::FeatureDrift { feature, .. } => drift_plan(m, feature.clone(), references),
            Watch::OutputDrift { output, .. } => drift_plan(m, output.clone(), references),
            _ => match metric(system, m) {
                Some(metric) => {
                    metrics.push(metric);
                    Plan::Metric(metrics.len() - 1)
                }
                None => Plan::Not(format!("monitor `{}` watches nothing measurable", m.id)),
            },
        })
        .collect();

    // the metrics, as the goals measure them
    let mut measurers: Vec<Option<Measurer>> = Vec::new();
    let mut not_yet: HashMap<usize, String> = HashMap::new();
    for (i, metric) in metrics.iter().enumerate() {
        match Measurer::new(metric) {
            Ok(m) => measurers.push(Some(m)),
            Err(why) => {
                not_yet.insert(i, why.to_string());
                measurers.push(None);
            }
        }
    }
    // the drift columns, by component
    let mut gathers: BTreeMap<&str, DriftGather> = BTreeMap::new();
    for plan in &plans {
        let Plan::Drift { component, column } = plan else { continue };
        let Ok(profile) = references.get(component) else { continue };
        let Some(declared) = system.component(component) else { continue };
        let gather = gathers.entry(component).or_insert(DriftGather { profile, columns: Vec::new() });
        if gather.columns.iter().any(|c| c.column().name == *column) {
            continue;
        }
        let (Some(spec), Some(reference)) =
            (columns(declared).into_iter().find(|c| c.name == *column), profile.column(column))
        else {
            continue;
        };
        let seed = crate::profile::DEFAULT_SEED ^ window.start_ms as u64;
        gather.columns.push(CurrentColumn::new(spec, reference, profile.sample_size, seed));
    }

    // one pass
    let reading: Vec<usize> =
        (0..measurers.len()).filter(|&i| measurers[i].as_ref().is_some_and(|m| m.reads_predictions())).collect();
    if !reading.is_empty() || !gathers.is_empty() {
        let mut components: HashSet<Option<&str>> =
            reading.iter().map(|&i| measurers[i].as_ref().and_then(|m| m.component())).collect();
        components.extend(gathers.keys().map(|c| Some(*c)));
        let component = match components.into_iter().collect::<Vec<_>>().as_slice() {
            [Some(one)] => Some(one.to_string()),
            _ => None,
        };
        let filters = reading.iter().any(|&i| measurers[i].as_ref().is_some_and(|m| m.filters()));
        let query = WindowQuery {
            component,
            since_ms: Some(window.start_ms),
            until_ms: Some(window.end_ms),
            with_feedback: false,
        };
        let root = filters.then(cel::Context::default);
        store.visit_predictions(&query, &mut |record| {
            if !reading.is_empty() {
                let rules = RecordRules::of(&record);
                let scope = root.as_ref().map(|root| FilterScope::new(root, system, &record, &rules));
                for &i in &reading {
                    if let Some(m) = measurers[i].as_mut() {
                        m.offer(&record, &rules, scope.as_ref());
                    }
                }
            }
            if let Some(gather) = gathers.get_mut(record.prediction.component.as_str()) {
                gather.push(&record.prediction.features.to_value(), &record.prediction.raw_output.to_value());
            }
            Ok(())
        })?;
    }

    let mut measured: Vec<Option<crate::window::Measurement>> = Vec::new();
    for m in measurers {
        measured.push(match m {
            Some(m) => Some(m.finish(store, window, CONFIDENCE)?),
            None => None,
        });
    }
    // quality metrics, as the goals measure them: from the window's labeled predictions, or
    // estimated from its probabilities, calibrated on the earliest of the windows up to it
    for (i, metric) in metrics.iter().enumerate() {
        let MetricKind::Quality { estimated, .. } = metric.kind else { continue };
        let windows = if estimated {
            closed_windows(window.length_ms(), window.end_ms, quality_windows::DEFAULT_WINDOWS)
        } else {
            vec![window]
        };
        let root = cel::Context::default();
        let series = quality_windows::metric_series(store, system, metric, &windows, &root, &quality_options())?;
        if let Some(m) = series.into_iter().last().filter(|m| m.window == window) {
            measured[i] = Some(m);
            not_yet.remove(&i);
        }
    }
    let reports: HashMap<&str, crate::report::DriftReport> = gathers
        .into_iter()
        .map(|(component, g)| {
            let rows = g.columns.iter().map(|c| c.counts().rows).max().unwrap_or(0);
            let reference = Side { source: "profile".into(), kind: "profile", rows: g.profile.source.rows };
            let current =
                Side { source: format!("window {}..{}", window.start_ms, window.end_ms), kind: "window", rows };
            let gathered: Vec<Gathered> = g.columns.into_iter().map(|c| Gathered::Current(Box::new(c))).collect();
            (component, compare(&system.name, g.profile, reference, current, &gathered, &POLICY))
        })
        .collect();

    let empty = |verdict: Verdict, note: Option<String>| Figure {
        from_ms: window.start_ms,
        until_ms: window.end_ms,
        value: None,
        interval: None,
        count: 0,
        verdict,
        measure: None,
        note,
    };
    Ok(monitors
        .iter()
        .zip(&plans)
        .map(|(monitor, plan)| match plan {
            Plan::Not(why) => empty(Verdict::NotMeasured, Some(why.clone())),
            Plan::Metric(i) => match &measured[*i] {
                None => empty(Verdict::NotMeasured, not_yet.get(i).cloned()),
                Some(m) => {
                    let verdict = match threshold(monitor) {
                        Some(t) => judge(t, monitor.hysteresis, m.value, m.interval.as_ref()),
                        None => Verdict::NotMeasured,
                    };
                    let note = m.note.clone().or_else(|| {
                        m.filter_error.as_ref().map(|e| {
                            format!(
                                "{} prediction(s) the goal's filter could not be evaluated on: {e}",
                                m.filter_errors
                            )
                        })
                    });
                    Figure {
                        from_ms: window.start_ms,
                        until_ms: window.end_ms,
                        value: m.value,
                        interval: m.interval,
                        count: m.count,
                        verdict,
                        measure: None,
                        note,
                    }
                }
            },
            Plan::Drift { component, column } => {
                let report = match references.get(component) {
                    Err(why) => return empty(Verdict::NotMeasured, Some(why)),
                    Ok(_) => reports.get(component),
                };
                match report.and_then(|r| r.columns.iter().find(|c| c.name == *column)) {
                    Some(c) => drift_figure(monitor, c, window),
                    None => empty(Verdict::NotMeasured, Some(format!("`{column}` is not in the reference profile"))),
                }
            }
        })
        .collect())
}

/// How quality figures are taken: as the goals take them, their intervals at [`CONFIDENCE`].
fn quality_options() -> EstimateOptions {
    EstimateOptions {
        quality: QualityOptions {
            bootstrap: rein_stats::Bootstrap { confidence: CONFIDENCE, ..rein_stats::Bootstrap::default() },
            ..QualityOptions::default()
        },
        ..EstimateOptions::default()
    }
}

fn drift_plan<'s>(monitor: &'s Monitor, column: String, references: &References) -> Plan<'s> {
    let Some(component) = monitor.component.as_deref() else {
        return Plan::Not("a drift monitor watches one component".into());
    };
    match references.get(component) {
        Ok(_) => Plan::Drift { component, column },
        Err(why) => Plan::Not(why),
    }
}

/// A drift monitor's figure from its column's report: the drift policy's verdict (its
/// deciding measure's value), or one measure against the threshold.
pub fn drift_figure(monitor: &Monitor, c: &ColumnReport, window: Window) -> Figure {
    let count = c.values.current.rows;
    let mut figure = Figure {
        from_ms: window.start_ms,
        until_ms: window.end_ms,
        value: None,
        interval: None,
        count,
        verdict: Verdict::NoData,
        measure: None,
        note: Some(c.reason.clone()),
    };
    if count == 0 {
        figure.note = Some("no prediction in the window".into());
        return figure;
    }
    let measure = match &monitor.watch {
        Watch::FeatureDrift { measure, .. } | Watch::OutputDrift { measure, .. } => *measure,
        _ => None,
    };
    match (measure, threshold(monitor)) {
        (Some(measure), Some(t)) => {
            let value = match (measure, &c.measures) {
                (DriftMeasure::Psi, Some(Measures::Numeric { psi, .. } | Measures::Categorical { psi, .. })) => {
                    Some(psi.value)
                }
                (
                    DriftMeasure::JensenShannon,
                    Some(Measures::Numeric { jensen_shannon, .. } | Measures::Categorical { jensen_shannon, .. }),
                ) => Some(jensen_shannon.value),
                (DriftMeasure::Wasserstein, Some(Measures::Numeric { wasserstein, .. })) => {
                    Some(wasserstein.normalized)
                }
                (DriftMeasure::Ks, Some(Measures::Numeric { ks, .. })) => Some(ks.p_value),
                (DriftMeasure::ChiSquared, Some(Measures::Categorical { chi_squared, .. })) => {
                    Some(chi_squared.p_value)
                }
                _ => None,
            };
            figure.measure = Some(measure.as_str().to_string());
            figure.value = value;
            figure.verdict = match value {
                Some(_) => judge(t, monitor.hysteresis, value, None),
                None => Verdict::NotMeasured,
            };
        }
        _ => {
            // the policy's verdict: its deciding measure, and a rise of a share of
            // missing, defaulted or out-of-range values
            figure.measure = c.decision.as_ref().map(|d| d.method.to_string());
            figure.value = c.decision.as_ref().map(|d| d.value);
            figure.verdict = if c.drifted {
                Verdict::Breach
            } else if c.decision.is_some() {
                Verdict::Clear
            } else {
                Verdict::NotMeasured
            };
        }
    }
    figure
}

/// What one evaluation did: the monitors' states moved on, and the alerts it opened and closed.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// The states of the monitors that evaluated a window, by monitor id.
    pub states: BTreeMap<String, MonitorState>,
    /// Alerts opened or closed, in the order their windows were evaluated (each monitor's
    /// in its windows' order).
    pub steps: Vec<Step>,
    /// Windows evaluated, over all monitors.
    pub windows: usize,
}

/// Evaluates every monitor of `system` over the windows closed since its state's last, as
/// of the store's newest prediction and `now_ms` ([`as_of`]). `states`: each monitor's, by
/// id (a monitor without one starts at the oldest prediction). `new_id` names an alert
/// that opens. The states given are not changed: the evaluation holds the new ones, for
/// the caller to keep once it has stored them.
pub fn evaluate(
    system: &System,
    store: &dyn Store,
    references: &References,
    states: &BTreeMap<String, MonitorState>,
    now_ms: i64,
    new_id: &mut dyn FnMut() -> String,
) -> Result<Evaluation, StoreError> {
    let mut evaluation = Evaluation::default();
    let Some(newest) = store.newest_prediction_ms()? else { return Ok(evaluation) };
    let mut first: Option<Option<i64>> = None;
    // the windows due, by length, then by window: the monitors due in each
    let mut due: BTreeMap<i64, BTreeMap<Window, Vec<usize>>> = BTreeMap::new();
    let lateness = i64::try_from(system.alerts.lateness.as_millis()).unwrap_or(i64::MAX);
    for (i, monitor) in system.monitors.iter().enumerate() {
        let length = length_ms(monitor.window);
        // a window closes once the instant, less the lateness allowed, reaches its end
        let Some(at) = as_of(Some(newest), now_ms, length).map(|at| at.saturating_sub(lateness)) else { continue };
        let until = states.get(&monitor.id).and_then(|s| s.evaluated_until_ms);
        if until.is_none() && first.is_none() {
            first = Some(store.oldest_predictions_until(0.0)?);
        }
        for w in due_windows(length, until, first.flatten(), at, MAX_CATCH_UP) {
            due.entry(length).or_default().entry(w).or_default().push(i);
        }
    }
    for windows in due.values() {
        for (&window, indices) in windows {
            let monitors: Vec<&Monitor> = indices.iter().map(|&i| &system.monitors[i]).collect();
            let figures = measure(system, store, references, &monitors, window)?;
            for (monitor, figure) in monitors.into_iter().zip(figures) {
                let state = evaluation
                    .states
                    .entry(monitor.id.clone())
                    .or_insert_with(|| states.get(&monitor.id).cloned().unwrap_or_default());
                match state.step(monitor, figure, &mut *new_id) {
                    step @ (Step::Opened(_) | Step::Closed(_)) => evaluation.steps.push(step),
                    Step::Quiet | Step::StillOpen(_) => {}
                }
                evaluation.windows += 1;
            }
        }
    }
    Ok(evaluation)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn a_monitor_is_judged_in_event_time_unless_it_is_live() {
        // a simulation months ago: just after its newest prediction
        assert_eq!(as_of(Some(1_000), 10 * HOUR, HOUR), Some(1_001));
        // a live system whose traffic paused for less than a window: the wall clock
        assert_eq!(as_of(Some(10 * HOUR - 60_000), 10 * HOUR, HOUR), Some(10 * HOUR));
        // nothing recorded: nothing to judge
        assert_eq!(as_of(None, 10 * HOUR, HOUR), None);
        // a prediction stamped slightly ahead of the clock
        assert_eq!(as_of(Some(10 * HOUR + 5), 10 * HOUR, HOUR), Some(10 * HOUR + 6));
    }

    #[test]
    fn windows_are_due_once_each_in_order_and_bounded() {
        let w = |k: i64| Window { start_ms: k * HOUR, end_ms: (k + 1) * HOUR };
        // first evaluation: from the window of the oldest prediction to the last closed
        assert_eq!(due_windows(HOUR, None, Some(2 * HOUR + 5), 5 * HOUR + 1, 100), vec![w(2), w(3), w(4)]);
        // then only what closed since
        assert_eq!(due_windows(HOUR, Some(5 * HOUR), None, 5 * HOUR + 10, 100), vec![]);
        assert_eq!(due_windows(HOUR, Some(5 * HOUR), None, 7 * HOUR, 100), vec![w(5), w(6)]);
        // at most `max`, the newest
        assert_eq!(due_windows(HOUR, Some(0), None, 10 * HOUR, 3), vec![w(7), w(8), w(9)]);
        // a window whose length changed: the one straddling the last evaluated end is skipped
        assert_eq!(due_windows(HOUR, Some(HOUR / 2), None, 3 * HOUR, 100), vec![w(1), w(2)]);
        // nothing recorded and no state: nothing due
        assert!(due_windows(HOUR, None, None, 3 * HOUR, 100).is_empty());
    }
}
