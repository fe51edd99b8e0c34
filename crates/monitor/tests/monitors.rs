//! Monitors evaluated over a store holding events written here: a drift injected in one
//! hour opens an alert at that hour's end and closes it after the hours that follow clear;
//! each figure agrees with the test's own computation (`rein drift` on the same rows as a
//! file, the counts written); windows are evaluated once each, in order, and a state
//! carried over (as across a restart) opens nothing twice.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use rein_monitor::alerts::{AlertState, MonitorState, Step, Verdict};
use rein_monitor::files::{Options, drift, profile};
use rein_monitor::monitors::{self, References};
use rein_monitor::report::Side;
use rein_monitor::{Profile, Table};
use rein_telemetry::{Event, JsonText, PredictionEvent, SqliteStore, Store};
use serde_json::json;

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;

const SYSTEM: &str = r#"
[system]
name = "shop"
description = "A shop's fraud check."

[[components]]
name = "fraud"
task = "binary"
labels = ["ok", "fraud"]
positive_label = "fraud"
model = { path = "model.onnx" }

[[components.features]]
name = "amount"
type = "number"
min = 0.0

[[components.features]]
name = "country"
type = "category"
categories = ["fr", "de", "it"]

[[components.guardrails]]
name = "big"
stage = "output"
when = "features.amount > 15.0"
action = "flag"

[components.fallback]
output = "ok"
mode = "none"

[components.experience]
policy = "thresholds"
thresholds = { automate = 0.9, prompt = 0.6 }

[[goals]]
id = "top"
layer = "organizational"
description = "Customers trust the shop."
measured = false
note = "Surveys."

[[goals]]
id = "answered"
layer = "system"
description = "The model answers."
metric = "fallback_rate"
target = { at_most = 0.1 }
window = "1h"
supports = ["top"]

[[monitors]]
id = "amount_drift"
watch = "feature_drift"
feature = "amount"
window = "1h"

[[monitors]]
id = "amount_psi"
watch = "feature_drift"
feature = "amount"
measure = "psi"
threshold = 0.25
window = "1h"
severity = "critical"

[[monitors]]
id = "country_drift"
watch = "feature_drift"
feature = "country"
window = "1h"

[[monitors]]
id = "score_drift"
watch = "output_drift"
window = "1h"

[[monitors]]
id = "fallbacks"
watch = "fallback_rate"
threshold = 0.1
window = "1h"

[[monitors]]
id = "big_ones"
watch = "guardrail_rate"
guardrail = "big"
threshold = 0.5
window = "1h"

[[monitors]]
id = "slow"
watch = "latency"
quantile = 0.5
threshold = 100
window = "1h"

[[monitors]]
id = "answered_goal"
watch = "goal"
goal = "answered"

[[monitors]]
id = "recall"
watch = "quality"
metric = "recall"
threshold = 0.8
window = "1h"
"#;

fn system() -> rein_system::System {
    rein_system::parse(SYSTEM, Path::new("/nowhere/rein.toml")).unwrap_or_else(|d| panic!("{d}"))
}

/// xorshift64*, uniform in (0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

/// One row: an amount (e to a sum of two uniforms on [0, 2], times `scale`), a country, the model's score.
struct Row {
    amount: f64,
    country: &'static str,
    score: f64,
}

fn rows(rng: &mut Rng, n: usize, scale: f64) -> Vec<Row> {
    (0..n)
        .map(|_| {
            let amount = ((rng.next() * 2.0 + rng.next() * 2.0).exp() * 10.0 * scale).round() / 10.0;
            let u = rng.next();
            let country = if u < 0.5 {
                "fr"
            } else if u < 0.8 {
                "de"
            } else {
                "it"
            };
            Row { amount, country, score: (rng.next() * 0.6).min(0.99) }
        })
        .collect()
}

fn csv(rows: &[Row], dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "amount,country,score,label").unwrap();
    for r in rows {
        let label = if r.score >= 0.5 { "fraud" } else { "ok" };
        writeln!(f, "{},{},{},{label}", r.amount, r.country, r.score).unwrap();
    }
    path
}

/// A prediction of `row` at `at`; `fallback`: answered by the fallback (no model output).
fn prediction(id: String, at: i64, row: &Row, fallback: bool, latency_ms: u64) -> Event {
    let label = if row.score >= 0.5 { "fraud" } else { "ok" };
    let output =
        json!({"label": label, "score": row.score, "probabilities": {"ok": 1.0 - row.score, "fraud": row.score}});
    let rules =
        if row.amount > 15.0 { json!([{"rule": "big", "stage": "output", "action": "flag"}]) } else { json!([]) };
    PredictionEvent {
        id,
        time_ms: at,
        system: "shop".into(),
        component: "fraud".into(),
        unit: None,
        model_name: "scorer".into(),
        model_version: "1".into(),
        variant: "main".into(),
        features: json!({"amount": row.amount, "country": row.country}).into(),
        raw_output: if fallback { JsonText::null() } else { output.clone().into() },
        guardrails: rules.into(),
        output: if fallback { json!({"label": "ok"}).into() } else { output.into() },
        mode: "none".into(),
        decision: json!({"mode": "none", "reason": {"kind": "fixed"}}).into(),
        fallback: fallback.then(|| "timed out".to_string()),
        latency_us: latency_ms * 1000,
        experiment: None,
        shadow_of: None,
    }
    .into()
}

struct World {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    profile: Profile,
    /// Each hour's rows, as written.
    hours: Vec<Vec<Row>>,
    system: rein_system::System,
    dir: std::path::PathBuf,
}

/// A profile of 2,000 reference rows; then six hours of 400 predictions each: hour 1's
/// amounts three times larger (drift), hour 4 with a fifth of its predictions answered by
/// the fallback; and one prediction in hour 6, two minutes in, which closes hour 5 (the
/// lateness allowed is a minute).
fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let system = system();
    let component = &system.components[0];
    let mut rng = Rng(7);
    let reference = rows(&mut rng, 2000, 1.0);
    let table = Table::open(&csv(&reference, &path, "reference.csv")).unwrap();
    let profile = profile(&system.name, component, &table, None, &Options::default()).unwrap();

    let store = SqliteStore::open(&path.join("data")).unwrap();
    let mut hours = Vec::new();
    let mut events = Vec::new();
    for hour in 0..6 {
        let scale = if hour == 1 { 3.0 } else { 1.0 };
        let rows = rows(&mut rng, 400, scale);
        for (i, row) in rows.iter().enumerate() {
            let at = T0 + hour * HOUR + i as i64 * 8_000;
            let fallback = hour == 4 && i % 5 == 0;
            let id = format!("h{hour}-{i}");
            events.push(prediction(id.clone(), at, row, fallback, 3 + (i % 7) as u64));
            events.push(truth(&id, at + 1_000, is_fraud(hour, i, row, fallback)));
        }
        hours.push(rows);
    }
    // past hour 5's end by more than the minute of lateness allowed
    events.push(prediction("h6".into(), T0 + 6 * HOUR + 120_000, &rows(&mut rng, 1, 1.0)[0], false, 3));
    store.write_batch(&events, None).unwrap();
    World { _dir: dir, store, profile, hours, system, dir: path }
}

/// The truth of prediction `i` of `hour`: what it answered, except in hour 3, where one
/// "ok" answer in four was fraud (the model misses a new kind: concept drift).
fn is_fraud(hour: i64, i: usize, row: &Row, fallback: bool) -> bool {
    let answered = !fallback && row.score >= 0.5;
    answered || (hour == 3 && i.is_multiple_of(4))
}

/// A feedback giving the truth of prediction `id`.
fn truth(id: &str, at: i64, fraud: bool) -> Event {
    rein_telemetry::FeedbackEvent {
        id: rein_telemetry::new_event_id(),
        prediction_id: id.into(),
        time_ms: at,
        kind: rein_telemetry::FeedbackKind::Label,
        label: Some(if fraud { "fraud" } else { "ok" }.into()),
        value: None,
        unit: None,
        comment: None,
        source: rein_telemetry::FeedbackSource::Expert,
        idempotency_key: None,
    }
    .into()
}

fn references(world: &World) -> References {
    let mut references = References::default();
    references.insert("fraud", Ok(world.profile.clone()));
    references
}

fn ids() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("alert-{n}")
    }
}

#[test]
fn a_drift_opens_an_alert_in_its_window_and_it_closes_once_cleared() {
    let w = world();
    let refs = references(&w);
    let evaluation = monitors::evaluate(&w.system, &w.store, &refs, &BTreeMap::new(), 0, &mut ids()).unwrap();
    // 9 monitors over hours 0 to 5 (hour 6 is open)
    assert_eq!(evaluation.windows, 9 * 6);

    let opened_closed: Vec<(&str, &str, i64)> = evaluation
        .steps
        .iter()
        .map(|s| match s {
            Step::Opened(a) => (a.monitor.as_str(), "opened", a.opened_ms),
            Step::Closed(a) => (a.monitor.as_str(), "closed", a.closed_ms.unwrap()),
            other => panic!("{other:?}"),
        })
        .collect();
    let of = |monitor: &str| -> Vec<(&str, i64)> {
        opened_closed.iter().filter(|(m, ..)| *m == monitor).map(|(_, what, at)| (*what, (*at - T0) / HOUR)).collect()
    };
    // opened at the end of hour 1, closed at the end of hour 3: two clear hours after it
    assert_eq!(of("amount_drift"), [("opened", 2), ("closed", 4)], "{opened_closed:?}");
    assert_eq!(of("amount_psi"), [("opened", 2), ("closed", 4)], "{opened_closed:?}");
    // the amounts' rules acted more often while they drifted
    assert_eq!(of("big_ones"), [("opened", 2), ("closed", 4)], "{:?}", evaluation.states["big_ones"].figures);
    // a fifth of hour 4 fell back, above 0.1 with confidence; closed only once cleared twice
    assert_eq!(of("fallbacks"), [("opened", 5)], "{opened_closed:?}");
    assert_eq!(of("answered_goal"), [("opened", 5)], "{opened_closed:?}");
    // what did not move opens nothing
    // the model missed a quarter of hour 3's "ok" answers: recall fell, and came back
    assert_eq!(of("recall"), [("opened", 4), ("closed", 6)], "{:?}", evaluation.states["recall"].figures);
    for quiet in ["country_drift", "score_drift", "slow"] {
        assert_eq!(of(quiet), [], "{quiet}: {opened_closed:?}");
    }

    let state = &evaluation.states["amount_drift"];
    let verdicts: Vec<Verdict> = state.figures.iter().map(|f| f.verdict).collect();
    use Verdict::*;
    assert_eq!(verdicts, [Clear, Breach, Clear, Clear, Clear, Clear]);
    assert_eq!(state.evaluated_until_ms, Some(T0 + 6 * HOUR));
    assert!(state.open.is_none());
    // recall as the test counts it: of the frauds, those answered fraud
    let recall = &evaluation.states["recall"].figures;
    for (hour, f) in recall.iter().enumerate() {
        let (mut caught, mut frauds) = (0, 0);
        for (i, row) in w.hours[hour].iter().enumerate() {
            let fallback = hour == 4 && i % 5 == 0;
            if is_fraud(hour as i64, i, row, fallback) {
                frauds += 1;
                caught += u64::from(!fallback && row.score >= 0.5);
            }
        }
        assert_eq!(f.value, Some(caught as f64 / frauds as f64), "hour {hour}: {f:?}");
        assert!(f.interval.is_some(), "{f:?}");
    }
    assert_eq!(recall[3].verdict, Breach, "{:?}", recall[3]);
    let critical = evaluation.steps.iter().find_map(|s| match s {
        Step::Opened(a) if a.monitor == "amount_psi" => Some(a),
        _ => None,
    });
    let critical = critical.unwrap();
    assert_eq!((critical.severity.as_str(), critical.threshold.as_str()), ("critical", "above 0.25"));
    assert_eq!(critical.state, AlertState::Open);
}

/// Each window's drift figure is what `rein drift` says of the same rows written to a file.
#[test]
fn drift_figures_are_rein_drifts_on_the_same_rows() {
    let w = world();
    let refs = references(&w);
    let evaluation = monitors::evaluate(&w.system, &w.store, &refs, &BTreeMap::new(), 0, &mut ids()).unwrap();
    let component = &w.system.components[0];
    for hour in [0, 1] {
        let file = csv(&w.hours[hour], &w.dir, &format!("hour{hour}.csv"));
        let table = Table::open(&file).unwrap();
        let options = Options {
            seed: rein_monitor::profile::DEFAULT_SEED ^ (T0 + hour as i64 * HOUR) as u64,
            policy: monitors::POLICY,
            ..Options::default()
        };
        let reference = Side { source: "profile".into(), kind: "profile", rows: 2000 };
        let report = drift(&w.system.name, component, &w.profile, reference, &table, None, &options).unwrap();
        for (monitor, column) in [("amount_drift", "amount"), ("country_drift", "country"), ("score_drift", "score")] {
            let figure = &evaluation.states[monitor].figures[hour];
            let c = report.columns.iter().find(|c| c.name == column).unwrap();
            let decision = c.decision.as_ref().unwrap();
            assert_eq!(figure.measure.as_deref(), Some(decision.method), "{monitor}, hour {hour}");
            assert_eq!(figure.value, Some(decision.value), "{monitor}, hour {hour}");
            assert_eq!(figure.verdict == Verdict::Breach, c.drifted, "{monitor}, hour {hour}");
            assert_eq!(figure.count, 400);
        }
        let psi = &evaluation.states["amount_psi"].figures[hour];
        let expected = match &report.columns[0].measures {
            Some(rein_monitor::report::Measures::Numeric { psi, .. }) => psi.value,
            other => panic!("{other:?}"),
        };
        assert_eq!(psi.value, Some(expected));
    }
}

/// Rates are the counts written, with Wilson's interval; the breach needs the whole interval.
#[test]
fn rate_figures_are_the_counts_written() {
    let w = world();
    let refs = references(&w);
    let evaluation = monitors::evaluate(&w.system, &w.store, &refs, &BTreeMap::new(), 0, &mut ids()).unwrap();
    let fallbacks = &evaluation.states["fallbacks"].figures;
    assert_eq!((fallbacks[4].count, fallbacks[4].value), (400, Some(80.0 / 400.0)));
    let wilson = rein_stats::wilson_interval(80, 400, 0.95).unwrap();
    let interval = fallbacks[4].interval.unwrap();
    assert!((interval.lower.unwrap() - wilson.lower).abs() < 1e-12, "{interval:?}");
    assert!(interval.lower.unwrap() > 0.1 && fallbacks[4].verdict == Verdict::Breach);
    assert_eq!((fallbacks[0].value, fallbacks[0].verdict), (Some(0.0), Verdict::Clear));

    let big = &evaluation.states["big_ones"].figures;
    for (hour, f) in big.iter().enumerate() {
        let expected = w.hours[hour].iter().filter(|r| r.amount > 15.0).count() as f64 / 400.0;
        assert_eq!(f.value, Some(expected), "hour {hour}");
    }
    let slow = &evaluation.states["slow"].figures;
    assert_eq!(slow[0].value, Some(6.0), "the median of 3..9 ms");
    assert_eq!(slow[0].verdict, Verdict::Clear);
}

/// A state carried over (as across a restart) evaluates only what closed since, and an
/// alert open in it is not opened again.
#[test]
fn a_carried_state_resumes_without_opening_anything_twice() {
    let w = world();
    let refs = references(&w);
    let all = monitors::evaluate(&w.system, &w.store, &refs, &BTreeMap::new(), 0, &mut ids()).unwrap();
    // the same store, evaluated again from the states it left: nothing is due
    let again = monitors::evaluate(&w.system, &w.store, &refs, &all.states, 0, &mut ids()).unwrap();
    assert_eq!((again.windows, again.steps.len()), (0, 0));

    // a state that stopped after hour 1 (the drift alert open) resumes at hour 2
    let mut states: BTreeMap<String, MonitorState> = BTreeMap::new();
    let partial = {
        let early = SqliteStore::open(&w.dir.join("early")).unwrap();
        let mut events = Vec::new();
        w.store
            .visit_predictions(
                &rein_telemetry::WindowQuery { until_ms: Some(T0 + 2 * HOUR + 300_000), ..Default::default() },
                &mut |r| {
                    events.push(Event::Prediction(r.prediction));
                    Ok(())
                },
            )
            .unwrap();
        early.write_batch(&events, None).unwrap();
        monitors::evaluate(&w.system, &early, &refs, &BTreeMap::new(), 0, &mut ids()).unwrap()
    };
    assert!(partial.states["amount_drift"].open.is_some());
    states.extend(partial.states);
    let resumed = monitors::evaluate(&w.system, &w.store, &refs, &states, 0, &mut ids()).unwrap();
    let drift_steps: Vec<&Step> = resumed
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Opened(a) | Step::Closed(a) if a.monitor == "amount_drift"))
        .collect();
    assert_eq!(drift_steps.len(), 1, "closed only: {drift_steps:?}");
    assert!(matches!(drift_steps[0], Step::Closed(a) if a.id == "alert-1"), "{drift_steps:?}");
}

/// A component without a reference profile: its drift monitors say why, and open nothing.
#[test]
fn without_a_profile_drift_is_not_measured_and_says_why() {
    let w = world();
    let mut refs = References::default();
    refs.insert("fraud", Err("no reference profile at model.profile.json".into()));
    let evaluation = monitors::evaluate(&w.system, &w.store, &refs, &BTreeMap::new(), 0, &mut ids()).unwrap();
    let f = &evaluation.states["amount_drift"].figures[1];
    assert_eq!(f.verdict, Verdict::NotMeasured);
    assert!(f.note.as_deref().unwrap().contains("no reference profile"), "{f:?}");
    assert!(!evaluation.steps.iter().any(|s| matches!(s, Step::Opened(a) if a.monitor.contains("drift"))));
    // References::load reads it beside the model, and says where it looked
    let loaded = References::load(&w.system);
    let why = loaded.get("fraud").unwrap_err();
    assert!(why.contains("/nowhere/model.profile.json") && why.contains("rein profile"), "{why}");
}

/// A window closes once the newest prediction is `[alerts] lateness` past its end: until
/// then a prediction stamped within it may still arrive, and is counted.
#[test]
fn a_window_waits_for_its_late_predictions() {
    let w = world();
    let refs = references(&w);
    let mut system = w.system.clone();
    // the newest prediction is two minutes into hour 6: with ten minutes allowed, hour 5 is open
    system.alerts.lateness = std::time::Duration::from_secs(600);
    let evaluation = monitors::evaluate(&system, &w.store, &refs, &BTreeMap::new(), 0, &mut ids()).unwrap();
    assert_eq!(evaluation.states["fallbacks"].evaluated_until_ms, Some(T0 + 5 * HOUR));
    system.alerts.lateness = std::time::Duration::ZERO;
    let evaluation = monitors::evaluate(&system, &w.store, &refs, &BTreeMap::new(), 0, &mut ids()).unwrap();
    assert_eq!(evaluation.states["fallbacks"].evaluated_until_ms, Some(T0 + 6 * HOUR));
}
