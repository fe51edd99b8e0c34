//! A goal's metric over one window of the telemetry store.
//!
//! **Windows** tumble by event time (`time_ms`, so a simulation or a backfill is measured
//! in its own time): a window of length `L` is `[k·L, (k+1)·L)` for an integer `k`, aligned
//! to multiples of `L` from the unix epoch (a day from midnight UTC, a week from a
//! Thursday, the epoch's weekday). A window is closed once the instant the goals are judged
//! at has reached its end.
//!
//! **One pass a window**: the goals sharing a window length are measured together, in one
//! [`Store::visit_predictions`] over the window (each prediction with its feedback and the
//! outcomes naming it), each goal's [`Population`] deciding which predictions it counts.
//! Two metrics read outcomes by their own time instead, through queries the store
//! aggregates: `outcome_rate` per unit ([`Store::visit_outcome_units`]) and `outcome_mean`
//! and `outcome_sum` over every prediction ([`Store::outcome_values`]).
//!
//! **Memory** does not grow with the window beyond what a metric needs: a share or a mean
//! keeps counts and running sums; `active_units` and `outcome_rate` per unit keep the set of
//! the window's distinct units (what they count); `latency` keeps the window's latencies
//! (8 bytes each) to take their quantile. The store hands over one prediction at a time.

use std::collections::HashSet;
use std::time::Duration;

use rein_stats::{Interval, quantile_order_interval, t_interval_from_summary, wilson_interval};
use rein_system::{Metric, MetricKind, RatePer, System};
use rein_telemetry::{OutcomeQuery, PredictionRecord, Store, StoreError, WindowQuery};
use serde::{Deserialize, Serialize};

use crate::population::{Admitted, FilterScope, Population, RecordRules};

/// One tumbling window: `start_ms <= time_ms < end_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Window {
    /// The window of length `length_ms` that holds `time_ms`.
    pub fn holding(time_ms: i64, length_ms: i64) -> Window {
        let length_ms = length_ms.max(1);
        let start_ms = time_ms.div_euclid(length_ms).saturating_mul(length_ms);
        Window { start_ms, end_ms: start_ms.saturating_add(length_ms) }
    }

    pub fn length_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }
}

/// A window length in milliseconds (at least 1).
pub fn length_ms(window: Duration) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// The `count` newest windows of length `length_ms` closed at `as_of_ms` (their end at or
/// before it), oldest first. The window holding `as_of_ms` is still open, unless `as_of_ms`
/// is its start: the latest closed window is the one that ends where it starts. Windows
/// that would begin before `i64::MIN` are left out.
pub fn closed_windows(length_ms: i64, as_of_ms: i64, count: usize) -> Vec<Window> {
    let length_ms = length_ms.max(1);
    let mut end = Window::holding(as_of_ms, length_ms).start_ms;
    let mut windows = Vec::with_capacity(count.min(4096));
    for _ in 0..count {
        let Some(start) = end.checked_sub(length_ms) else { break };
        windows.push(Window { start_ms: start, end_ms: end });
        end = start;
    }
    windows.reverse();
    windows
}

/// Why a goal's metric is not computed here yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotYet {
    /// Quality metrics (accuracy to bias) compare predictions with the truth their feedback
    /// gives, or estimate it: `crate::quality_windows` computes them, not a [`Measurer`].
    QualityMetrics,
}

impl std::fmt::Display for NotYet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotYet::QualityMetrics => f.write_str("a quality metric: measured from the labeled predictions, not here"),
        }
    }
}

/// How an interval was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    /// Wilson's score interval of a share (statsmodels' `proportion_confint`, `wilson`).
    Wilson,
    /// Student's t interval of a mean.
    T,
    /// Between two order statistics of the sample, distribution-free (scipy's
    /// `quantile_test(...).confidence_interval`).
    OrderStatistic,
    /// A count or a total of what the window holds, not an estimate: it has no uncertainty.
    Exact,
    /// Fisher's z of a rank correlation (Bonett and Wright's variance for Spearman's).
    FisherZ,
    /// The seeded, stratified percentile bootstrap of a quality figure (`crate::quality`).
    Bootstrap,
    /// `value ± z·σ`: a quality figure estimated without labels (`crate::estimate`).
    Normal,
}

/// A confidence interval; an end that the data cannot bound is `None` (unbounded).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub method: IntervalMethod,
}

impl Bounds {
    fn of(interval: Interval, method: IntervalMethod) -> Bounds {
        let finite = |v: f64| v.is_finite().then_some(v);
        Bounds { lower: finite(interval.lower), upper: finite(interval.upper), method }
    }

    fn exact(value: f64) -> Bounds {
        Bounds { lower: Some(value), upper: Some(value), method: IntervalMethod::Exact }
    }

    /// Neither end bounded: one value has no spread to judge a mean by.
    fn unbounded(method: IntervalMethod) -> Bounds {
        Bounds { lower: None, upper: None, method }
    }

    pub fn lower_or_inf(&self) -> f64 {
        self.lower.unwrap_or(f64::NEG_INFINITY)
    }

    pub fn upper_or_inf(&self) -> f64 {
        self.upper.unwrap_or(f64::INFINITY)
    }
}

/// One metric over one window, before it is judged against a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub window: Window,
    /// `None` when there was nothing to measure: no prediction in the population for a
    /// share or a latency, no unit for a rate per unit, no value for a mean.
    pub value: Option<f64>,
    /// What the figure is over: predictions (shares, latency, `active_units`), units
    /// (`outcome_rate` per unit), or outcome values (`outcome_mean`, `outcome_sum`).
    pub count: u64,
    /// For a share: how many of `count` count toward it.
    pub matching: Option<u64>,
    pub interval: Option<Bounds>,
    /// Predictions of the window the population's filter could not be evaluated on (left
    /// out), and the first such error.
    pub filter_errors: u64,
    pub filter_error: Option<String>,
    /// A quality metric with too few labels to judge: `value` is `None`, and `note` says what
    /// it lacked.
    pub too_few_labels: bool,
    /// What to know of the figure: what it lacked, or that an estimate is not to be trusted.
    pub note: Option<String>,
}

/// Running count, sum, mean and squared deviations of values (Welford's).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Values {
    n: u64,
    sum: f64,
    mean: f64,
    m2: f64,
}

impl Values {
    fn add(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    fn mean_interval(&self, confidence: f64) -> Option<Bounds> {
        match self.n {
            0 => None,
            1 => Some(Bounds::unbounded(IntervalMethod::T)),
            n => {
                let std_dev = (self.m2.max(0.0) / (n - 1) as f64).sqrt();
                t_interval_from_summary(self.mean, std_dev, n, confidence)
                    .ok()
                    .map(|i| Bounds::of(i, IntervalMethod::T))
            }
        }
    }
}

/// What one goal keeps while the window's predictions pass.
#[derive(Debug)]
enum Tally {
    /// A share of the population's predictions.
    Share { count: u64, matching: u64 },
    /// The population's distinct units (`active_units`, `outcome_rate` per unit).
    Units { predictions: u64, units: HashSet<String> },
    /// Outcome values of the population's predictions.
    Values(Values),
    /// The predictions' latencies, in milliseconds.
    Latencies(Vec<f64>),
    /// Nothing: the metric is read from the store's aggregate.
    FromStore,
}

/// What a [`Measurer`] counted, for callers that merge windows themselves.
#[derive(Debug)]
pub(crate) enum Tallied {
    Share {
        count: u64,
        matching: u64,
    },
    Units {
        predictions: u64,
        units: HashSet<String>,
    },
    /// A mean's size, mean and sample variance (n − 1).
    Values {
        n: u64,
        mean: f64,
        variance: f64,
    },
    Latencies(Vec<f64>),
}

/// One goal's metric, measured over one window.
pub(crate) struct Measurer<'s> {
    kind: &'s MetricKind,
    population: Population<'s>,
    tally: Tally,
    filter_errors: u64,
    filter_error: Option<String>,
}

impl<'s> Measurer<'s> {
    /// A measurer of `metric`, or why it is not measured here. The one place a metric's kind
    /// decides whether it is.
    pub(crate) fn new(metric: &'s Metric) -> Result<Measurer<'s>, NotYet> {
        let population = Population::new(&metric.population);
        let tally = match &metric.kind {
            MetricKind::Quality { .. } => return Err(NotYet::QualityMetrics),
            MetricKind::OutcomeRate { per: RatePer::Prediction, .. }
            | MetricKind::GuardrailRate { .. }
            | MetricKind::ModeShare { .. }
            | MetricKind::FeedbackRate { .. }
            | MetricKind::FallbackRate => Tally::Share { count: 0, matching: 0 },
            MetricKind::OutcomeRate { per: RatePer::Unit, .. } | MetricKind::ActiveUnits => {
                Tally::Units { predictions: 0, units: HashSet::new() }
            }
            MetricKind::OutcomeMean { .. } | MetricKind::OutcomeSum { .. } if metric.population.is_all() => {
                Tally::FromStore
            }
            MetricKind::OutcomeMean { .. } | MetricKind::OutcomeSum { .. } => Tally::Values(Values::default()),
            MetricKind::Latency { .. } => Tally::Latencies(Vec::new()),
        };
        Ok(Measurer { kind: &metric.kind, population, tally, filter_errors: 0, filter_error: None })
    }

    /// A measurer that counts every value from the predictions it is offered, never from the
    /// store's aggregates: an experiment's arm (`experiment.rs`) is the predictions of one
    /// variant, which the store's totals do not split by.
    pub(crate) fn per_prediction(metric: &'s Metric) -> Result<Measurer<'s>, NotYet> {
        let mut measurer = Measurer::new(metric)?;
        if matches!(measurer.tally, Tally::FromStore) {
            measurer.tally = Tally::Values(Values::default());
        }
        Ok(measurer)
    }

    /// What it counted, taken as it stands (an experiment merges arms' windows itself).
    pub(crate) fn into_tallied(self) -> Tallied {
        match self.tally {
            Tally::Share { count, matching } => Tallied::Share { count, matching },
            Tally::Units { predictions, units } => Tallied::Units { predictions, units },
            Tally::Values(v) => {
                let variance = if v.n < 2 { 0.0 } else { v.m2.max(0.0) / (v.n - 1) as f64 };
                Tallied::Values { n: v.n, mean: v.mean, variance }
            }
            Tally::Latencies(latencies) => Tallied::Latencies(latencies),
            Tally::FromStore => Tallied::Values { n: 0, mean: 0.0, variance: 0.0 },
        }
    }

    /// Whether it reads the window's predictions (else only the store's aggregates).
    pub(crate) fn reads_predictions(&self) -> bool {
        !matches!(self.tally, Tally::FromStore)
    }

    /// The component whose predictions it reads, if one.
    pub(crate) fn component(&self) -> Option<&'s str> {
        self.population.component()
    }

    /// Whether its population has a filter (and so needs the record's CEL variables).
    pub(crate) fn filters(&self) -> bool {
        self.population.filters()
    }

    /// Counts one prediction of the window, if its population holds it.
    pub(crate) fn offer(
        &mut self,
        record: &PredictionRecord,
        rules: &RecordRules,
        scope: Option<&FilterScope<'_, '_>>,
    ) {
        match self.population.admits(record, rules, scope) {
            Admitted::Yes => {}
            Admitted::No => return,
            Admitted::FilterFailed(error) => {
                self.filter_errors += 1;
                self.filter_error.get_or_insert(error);
                return;
            }
        }
        let p = &record.prediction;
        match (&mut self.tally, self.kind) {
            (Tally::Share { count, matching }, kind) => {
                *count += 1;
                let counts = match kind {
                    MetricKind::OutcomeRate { outcome, .. } => record.outcomes.iter().any(|o| o.name == *outcome),
                    MetricKind::GuardrailRate { guardrail: None } => !rules.is_empty(),
                    MetricKind::GuardrailRate { guardrail: Some(g) } => rules.contains(g),
                    MetricKind::ModeShare { mode } => p.mode == mode.as_str(),
                    MetricKind::FeedbackRate { kind, source } => record.feedback.iter().any(|f| {
                        kind.is_none_or(|k| f.kind.as_str() == k.as_str())
                            && source.is_none_or(|s| f.source.as_str() == s.as_str())
                    }),
                    // a holdout is answered without ML by design: not a failure to count
                    MetricKind::FallbackRate => p.fallback.is_some() && p.variant != rein_system::traffic::HOLDOUT,
                    _ => false,
                };
                *matching += u64::from(counts);
            }
            (Tally::Units { predictions, units }, _) => {
                *predictions += 1;
                if let Some(unit) = &p.unit
                    && !units.contains(unit)
                {
                    units.insert(unit.clone());
                }
            }
            (Tally::Values(values), MetricKind::OutcomeMean { outcome } | MetricKind::OutcomeSum { outcome }) => {
                for o in record.outcomes.iter().filter(|o| o.name == *outcome) {
                    if let Some(v) = o.value {
                        values.add(v);
                    }
                }
            }
            (Tally::Latencies(latencies), _) => latencies.push(p.latency_us as f64 / 1000.0),
            (Tally::Values(_) | Tally::FromStore, _) => {}
        }
    }

    /// The figure of the window, reading what the metric takes from the store itself.
    pub(crate) fn finish(self, store: &dyn Store, window: Window, confidence: f64) -> Result<Measurement, StoreError> {
        let outcome_query =
            |name: &str| OutcomeQuery { name: name.to_string(), since_ms: window.start_ms, until_ms: window.end_ms };
        let share = |matching: u64, count: u64| {
            let value = (count > 0).then(|| matching as f64 / count as f64);
            let interval =
                wilson_interval(matching, count, confidence).ok().map(|i| Bounds::of(i, IntervalMethod::Wilson));
            (value, interval)
        };
        let mut m = Measurement {
            window,
            value: None,
            count: 0,
            matching: None,
            interval: None,
            filter_errors: self.filter_errors,
            filter_error: self.filter_error,
            too_few_labels: false,
            note: None,
        };
        match (self.tally, self.kind) {
            (Tally::Share { count, matching }, _) => {
                (m.value, m.interval) = share(matching, count);
                (m.count, m.matching) = (count, Some(matching));
            }
            (Tally::Units { units, .. }, MetricKind::OutcomeRate { outcome, .. }) => {
                // the units predicted for that an outcome of the window names, each once
                let mut with = 0u64;
                store.visit_outcome_units(&outcome_query(outcome), &mut |unit| {
                    with += u64::from(units.contains(&unit));
                    Ok(())
                })?;
                let count = units.len() as u64;
                (m.value, m.interval) = share(with, count);
                (m.count, m.matching) = (count, Some(with));
            }
            (Tally::Units { predictions, units }, _) => {
                let active = units.len() as f64;
                (m.value, m.interval, m.count) = (Some(active), Some(Bounds::exact(active)), predictions);
            }
            (Tally::Values(values), kind) => (m.value, m.interval, m.count) = of_values(kind, &values, confidence),
            (Tally::FromStore, kind) => {
                let outcome = kind.outcome().unwrap_or_default();
                let s = store.outcome_values(&outcome_query(outcome))?;
                let values = Values { n: s.valued, sum: s.sum, mean: s.mean, m2: s.sum_squared_deviations };
                (m.value, m.interval, m.count) = of_values(kind, &values, confidence);
            }
            (Tally::Latencies(latencies), MetricKind::Latency { quantile }) => {
                m.count = latencies.len() as u64;
                if let Ok(interval) = quantile_order_interval(&latencies, *quantile, confidence) {
                    m.value = Some(interval.estimate);
                    m.interval = Some(Bounds::of(interval, IntervalMethod::OrderStatistic));
                }
            }
            (Tally::Latencies(_), _) => {}
        }
        Ok(m)
    }
}

/// A mean (t interval) or a sum (exact: a total of the window, 0 when it holds none).
fn of_values(kind: &MetricKind, values: &Values, confidence: f64) -> (Option<f64>, Option<Bounds>, u64) {
    match kind {
        MetricKind::OutcomeSum { .. } => (Some(values.sum), Some(Bounds::exact(values.sum)), values.n),
        _ => ((values.n > 0).then_some(values.mean), values.mean_interval(confidence), values.n),
    }
}

/// Measures `measurers` over `window`: one visit of its predictions for those that read
/// them (of their one component when they share it), then what each reads of the store.
pub(crate) fn measure(
    store: &dyn Store,
    system: &System,
    mut measurers: Vec<Measurer<'_>>,
    window: Window,
    root: &cel::Context<'_, '_>,
    confidence: f64,
) -> Result<Vec<Measurement>, StoreError> {
    let reading: Vec<usize> = (0..measurers.len()).filter(|&i| measurers[i].reads_predictions()).collect();
    if !reading.is_empty() {
        let components: HashSet<Option<&str>> = reading.iter().map(|&i| measurers[i].component()).collect();
        let component = match components.into_iter().collect::<Vec<_>>().as_slice() {
            [Some(one)] => Some(one.to_string()),
            _ => None,
        };
        let filters = reading.iter().any(|&i| measurers[i].filters());
        let query = WindowQuery {
            component,
            since_ms: Some(window.start_ms),
            until_ms: Some(window.end_ms),
            with_feedback: false,
        };
        store.visit_predictions(&query, &mut |record| {
            let rules = RecordRules::of(&record);
            let scope = filters.then(|| FilterScope::new(root, system, &record, &rules));
            for &i in &reading {
                measurers[i].offer(&record, &rules, scope.as_ref());
            }
            Ok(())
        })?;
    }
    measurers.into_iter().map(|m| m.finish(store, window, confidence)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    #[test]
    fn windows_are_aligned_to_the_epoch_and_closed_at_their_end() {
        // 2026-01-01T00:00:00Z, a Thursday
        let jan1 = 1_767_225_600_000;
        assert_eq!(Window::holding(jan1, DAY), Window { start_ms: jan1, end_ms: jan1 + DAY });
        assert_eq!(Window::holding(jan1 - 1, DAY), Window { start_ms: jan1 - DAY, end_ms: jan1 });
        // a week starts on a Thursday, as the epoch did
        assert_eq!(Window::holding(jan1 + 3 * DAY, 7 * DAY).start_ms, jan1);

        // judged in the middle of a day: the day is open, the last closed ends at its start
        let noon = jan1 + 12 * HOUR;
        assert_eq!(
            closed_windows(DAY, noon, 2),
            vec![
                Window { start_ms: jan1 - 2 * DAY, end_ms: jan1 - DAY },
                Window { start_ms: jan1 - DAY, end_ms: jan1 }
            ]
        );
        // judged exactly at a boundary: the window ending there is closed
        assert_eq!(closed_windows(DAY, jan1, 1), vec![Window { start_ms: jan1 - DAY, end_ms: jan1 }]);
        // a millisecond before it, not yet
        assert_eq!(closed_windows(DAY, jan1 - 1, 1), vec![Window { start_ms: jan1 - 2 * DAY, end_ms: jan1 - DAY }]);
        assert!(closed_windows(DAY, noon, 0).is_empty());
    }

    #[test]
    fn windows_before_the_epoch_and_at_the_ends_of_time() {
        // floor, not truncation, below zero
        assert_eq!(Window::holding(-1, 10), Window { start_ms: -10, end_ms: 0 });
        assert_eq!(Window::holding(-10, 10), Window { start_ms: -10, end_ms: 0 });
        assert_eq!(
            closed_windows(10, 5, 3),
            vec![
                Window { start_ms: -30, end_ms: -20 },
                Window { start_ms: -20, end_ms: -10 },
                Window { start_ms: -10, end_ms: 0 },
            ]
        );
        // windows that would start before i64::MIN are left out, not wrapped
        let early = closed_windows(DAY, i64::MIN + DAY + 5, 5);
        assert!(early.len() < 5 && early.iter().all(|w| w.start_ms < w.end_ms), "{early:?}");
        // a window length not dividing the day keeps its own grid: 90 minutes from the epoch
        let w = Window::holding(DAY + 1, 90 * 60_000);
        assert_eq!((w.start_ms, w.length_ms()), (16 * 90 * 60_000, 90 * 60_000));
        assert_eq!(length_ms(Duration::from_secs(3600)), HOUR);
    }

    #[test]
    fn a_mean_of_one_value_has_no_interval_and_a_sum_of_none_is_zero() {
        let mut values = Values::default();
        assert_eq!(of_values(&MetricKind::OutcomeMean { outcome: "x".into() }, &values, 0.95), (None, None, 0));
        let sum = of_values(&MetricKind::OutcomeSum { outcome: "x".into() }, &values, 0.95);
        assert_eq!(sum, (Some(0.0), Some(Bounds::exact(0.0)), 0));
        values.add(4.0);
        let (mean, interval, n) = of_values(&MetricKind::OutcomeMean { outcome: "x".into() }, &values, 0.95);
        assert_eq!((mean, interval, n), (Some(4.0), Some(Bounds::unbounded(IntervalMethod::T)), 1));
        for x in [6.0, 8.0] {
            values.add(x);
        }
        let (mean, interval, _) = of_values(&MetricKind::OutcomeMean { outcome: "x".into() }, &values, 0.95);
        let expected = rein_stats::t_interval(&[4.0, 6.0, 8.0], 0.95).unwrap();
        assert_eq!(mean, Some(6.0));
        let interval = interval.unwrap();
        assert!((interval.lower.unwrap() - expected.lower).abs() < 1e-12, "{interval:?} {expected:?}");
        assert!((interval.upper.unwrap() - expected.upper).abs() < 1e-12, "{interval:?} {expected:?}");
    }
}
