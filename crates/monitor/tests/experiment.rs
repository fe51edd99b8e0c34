//! Experiments analysed over a SQLite store holding events written here: every figure of a
//! recorded A/B experiment against what scipy and statsmodels computed on the same rows
//! (`tests/reference/make_experiment.py`), the sample-ratio check firing on a skewed
//! assignment, A/A experiments looked at every window declaring no difference beyond the
//! nominal rate where the fixed-horizon test peeked at does, a real effect shipping and a
//! harmed guardrail stopping.

use std::path::Path;

use rein_monitor::experiment::{
    ArmFigure, ArmSpec, ExperimentError, ExperimentReport, ExperimentSpec, MetricComparison, Verdict, analyze,
};
use rein_telemetry::{
    Event, FeedbackEvent, FeedbackKind, FeedbackSource, JsonText, OutcomeEvent, PredictionEvent, SqliteStore, Store,
};
use serde_json::{Value, json};

const T0: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;

const SYSTEM: &str = r#"
outcomes = ["purchase"]

[system]
name = "shop"
description = "A shop's recommender."

[[components]]
name = "fraud"
task = "binary"
labels = ["legit", "fraud"]
positive_label = "fraud"
model = { path = "model.onnx" }

[[components.features]]
name = "amount"
type = "number"

[[components.guardrails]]
name = "young"
stage = "output"
when = "features.amount > 1000.0"
action = "flag"

[components.fallback]
output = "legit"
mode = "none"

[components.experience]
policy = "thresholds"
thresholds = { automate = 0.9, prompt = 0.6 }

[[goals]]
id = "top"
layer = "organizational"
description = "Customers buy."
measured = false
note = "Surveys."
"#;

fn system() -> rein_system::System {
    let mut text = SYSTEM.to_string();
    for (id, keys) in [
        ("conversion", "metric = \"outcome_rate\"\noutcome = \"purchase\"\ntarget = { at_least = 0.2 }"),
        ("basket", "metric = \"outcome_mean\"\noutcome = \"purchase\"\ntarget = { at_least = 10.0 }"),
        ("buyers", "metric = \"outcome_rate\"\noutcome = \"purchase\"\nper = \"unit\"\ntarget = { at_least = 0.3 }"),
        ("fast", "metric = \"latency\"\nquantile = 0.5\ntarget = { at_most = 100.0 }"),
        ("steady", "metric = \"fallback_rate\"\ntarget = { at_least = 0.01, at_most = 0.2 }"),
        ("customers", "metric = \"active_units\"\ntarget = { at_least = 2.0 }"),
    ] {
        text.push_str(&format!(
            "\n[[goals]]\nid = \"{id}\"\nlayer = \"system\"\ndescription = \"{id}\"\n{keys}\nwindow = \"1h\"\nsupports = [\"top\"]\n"
        ));
    }
    rein_system::parse(&text, Path::new("/nowhere/rein.toml")).unwrap_or_else(|d| panic!("{d}"))
}

/// One recorded prediction and what followed it.
struct Row<'a> {
    id: &'a str,
    at: i64,
    unit: Option<&'a str>,
    variant: &'a str,
    latency_us: u64,
    fallback: bool,
    rule: bool,
    feedback: Option<FeedbackKind>,
    purchase: Option<f64>,
}

fn events(row: &Row, out: &mut Vec<Event>) {
    let guardrails = if row.rule { json!([{"rule": "young", "stage": "output", "action": "flag"}]) } else { json!([]) };
    out.push(
        PredictionEvent {
            id: row.id.into(),
            time_ms: row.at,
            system: "shop".into(),
            component: "fraud".into(),
            unit: row.unit.map(str::to_string),
            model_name: "scorer".into(),
            model_version: row.variant.into(),
            variant: row.variant.into(),
            features: JsonText::parse(r#"{"amount":3.0}"#.to_string()).unwrap(),
            raw_output: JsonText::null(),
            guardrails: guardrails.into(),
            output: json!({"label": "legit", "score": 0.1}).into(),
            mode: "automate".into(),
            decision: json!({"mode": "automate", "reason": {"kind": "fixed"}}).into(),
            fallback: row.fallback.then(|| "timed out".to_string()),
            latency_us: row.latency_us,
            experiment: None,
            shadow_of: None,
        }
        .into(),
    );
    if let Some(kind) = row.feedback {
        out.push(
            FeedbackEvent {
                id: rein_telemetry::new_event_id(),
                prediction_id: row.id.into(),
                time_ms: row.at + 500,
                kind,
                label: None,
                value: None,
                unit: None,
                comment: None,
                source: FeedbackSource::User,
                idempotency_key: None,
            }
            .into(),
        );
    }
    if let Some(value) = row.purchase {
        out.push(
            OutcomeEvent {
                id: rein_telemetry::new_event_id(),
                time_ms: row.at + 1000,
                unit: row.unit.map(str::to_string),
                prediction_id: Some(row.id.into()),
                name: "purchase".into(),
                value: Some(value),
            }
            .into(),
        );
    }
}

fn spec(arms: &[(&str, f64)], start_ms: i64, horizon_windows: u32) -> ExperimentSpec {
    ExperimentSpec {
        component: "fraud".into(),
        experiment: "new-ranker".into(),
        arms: arms.iter().map(|(v, w)| ArmSpec { variant: v.to_string(), weight: *w }).collect(),
        control: arms[0].0.into(),
        start_ms,
        window_ms: HOUR,
        primary: "conversion".into(),
        guardrails: vec![],
        horizon_windows,
    }
}

fn close(got: f64, want: f64, what: &str) {
    let tolerance = 1e-9 * want.abs().max(1e-3);
    assert!((got - want).abs() <= tolerance, "{what}: got {got}, want {want}");
}

fn metric<'r>(report: &'r ExperimentReport, name: &str) -> &'r MetricComparison {
    report.variants[0].metrics.iter().find(|m| m.metric == name).unwrap_or_else(|| panic!("no {name}"))
}

fn arm_figure<'r>(report: &'r ExperimentReport, arm: usize, name: &str) -> &'r ArmFigure {
    &report.arms[arm].metrics.iter().find(|m| m.metric == name).unwrap().figure
}

#[test]
fn every_figure_is_what_scipy_and_statsmodels_compute() {
    let case: Value = serde_json::from_str(include_str!("reference/experiment_case.json")).expect("the committed case");
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let mut written = Vec::new();
    for r in case["rows"].as_array().unwrap() {
        let row = Row {
            id: r["id"].as_str().unwrap(),
            at: r["at"].as_i64().unwrap(),
            unit: r["unit"].as_str(),
            variant: r["variant"].as_str().unwrap(),
            latency_us: r["latency_us"].as_u64().unwrap(),
            fallback: r["fallback"].as_bool().unwrap(),
            rule: r["rule"].as_bool().unwrap(),
            feedback: r["feedback"].as_str().and_then(FeedbackKind::parse),
            purchase: r["purchase"].as_f64(),
        };
        events(&row, &mut written);
    }
    store.write_batch(&written, None).unwrap();

    let arms: Vec<(String, f64)> = case["arms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a[0].as_str().unwrap().to_string(), a[1].as_f64().unwrap()))
        .collect();
    let arms: Vec<(&str, f64)> = arms.iter().map(|(v, w)| (v.as_str(), *w)).collect();
    let mut spec = spec(&arms, case["start_ms"].as_i64().unwrap(), case["horizon_windows"].as_u64().unwrap() as u32);
    spec.guardrails = vec!["basket".into(), "buyers".into(), "fast".into()];
    let report = analyze(&system(), &store, &spec, case["as_of_ms"].as_i64().unwrap()).unwrap();
    let expected = &case["expected"];

    // the period: closed windows only, the open one and what came before the start left out
    assert_eq!(report.until_ms, expected["until_ms"].as_i64().unwrap());
    assert_eq!(report.windows, expected["windows"].as_u64().unwrap());
    assert_eq!(report.other_predictions, expected["other_predictions"].as_u64().unwrap());

    for (a, name) in [(0, "a"), (1, "b")] {
        let want = &expected["arms"][name];
        let arm = &report.arms[a];
        assert_eq!((arm.variant.as_str(), arm.control), (name, a == 0));
        assert_eq!(arm.units, want["units"].as_u64().unwrap(), "{name} units");
        assert_eq!(arm.predictions, want["predictions"].as_u64().unwrap(), "{name} predictions");
        for share in ["conversion", "buyers", "fallback_rate", "guardrail_rate", "incorrect_feedback_rate"] {
            let ArmFigure::Share { successes, trials, .. } = arm_figure(&report, a, share) else { panic!("{share}") };
            let counts = [want[share][0].as_u64().unwrap(), want[share][1].as_u64().unwrap()];
            assert_eq!([*successes, *trials], counts, "{name} {share}");
        }
        let ArmFigure::Mean { n, mean, sd } = arm_figure(&report, a, "basket") else { panic!("basket") };
        assert_eq!(*n, want["basket"][0].as_u64().unwrap());
        close(mean.unwrap(), want["basket"][1].as_f64().unwrap(), "basket mean");
        close(sd.unwrap(), want["basket"][2].as_f64().unwrap(), "basket sd");
        for (latency, key) in [("fast", "fast"), ("latency_p99", "latency_p99")] {
            let ArmFigure::Latency { n, value_ms, .. } = arm_figure(&report, a, latency) else { panic!() };
            assert_eq!(*n, want["latency_n"].as_u64().unwrap());
            close(value_ms.unwrap(), want[key].as_f64().unwrap(), latency);
        }
    }

    for name in [
        "conversion",
        "basket",
        "buyers",
        "fast",
        "fallback_rate",
        "guardrail_rate",
        "incorrect_feedback_rate",
        "latency_p99",
    ] {
        let m = metric(&report, name);
        let (fixed, want) = (m.fixed.as_ref().unwrap(), &expected["fixed"][name]);
        for (got, key) in [
            (fixed.control, "control"),
            (fixed.variant, "variant"),
            (fixed.difference, "difference"),
            (fixed.lower, "lower"),
            (fixed.upper, "upper"),
            (fixed.statistic, "statistic"),
            (fixed.p_value, "p_value"),
        ] {
            close(got, want[key].as_f64().unwrap(), &format!("{name} fixed {key}"));
        }
        if let Some(dof) = want.get("degrees_of_freedom") {
            close(fixed.degrees_of_freedom.unwrap(), dof.as_f64().unwrap(), &format!("{name} dof"));
        }
        if let Some(threshold) = want.get("threshold_ms") {
            close(m.threshold_ms.unwrap(), threshold.as_f64().unwrap(), &format!("{name} threshold"));
        }
        let (sequential, want) = (m.sequential.as_ref().unwrap(), &expected["sequential"][name]);
        close(sequential.p_value, want["p_value"].as_f64().unwrap(), &format!("{name} always-valid p"));
        assert_eq!(sequential.windows_counted, want["windows_counted"].as_u64().unwrap(), "{name} looks counted");
        for (got, key) in
            [(sequential.lower, "lower"), (sequential.upper, "upper"), (sequential.mixing_variance, "mixing_variance")]
        {
            match (got, want[key].as_f64()) {
                (Some(g), Some(w)) => close(g, w, &format!("{name} sequential {key}")),
                (g, w) => assert_eq!(g, w, "{name} sequential {key}"),
            }
        }
    }
    // units that bought in the pre-period: the rate per unit is CUPED-adjusted, as statsmodels' OLS
    let buyers = metric(&report, "buyers");
    let (cuped, want) = (buyers.cuped.as_ref().expect("a pre-period covariate"), &expected["cuped"]["buyers"]);
    assert_eq!(buyers.compared_as, "unit_rate_cuped");
    close(cuped.theta, want["theta"].as_f64().unwrap(), "CUPED theta");
    for (got, want) in cuped.variance_ratio.iter().zip(want["variance_ratio"].as_array().unwrap()) {
        close(*got, want.as_f64().unwrap(), "CUPED variance ratio");
    }
    assert_eq!(cuped.units_with_pre_period_outcome, want["units_with_pre_period_outcome"].as_u64().unwrap());
    assert!(metric(&report, "conversion").cuped.is_none());

    // the primary metric at every look, as an analysis at that window's end said it
    let looks = expected["looks"].as_array().unwrap();
    assert_eq!(report.variants[0].looks.len(), looks.len());
    for (got, want) in report.variants[0].looks.iter().zip(looks) {
        assert_eq!(got.until_ms, want["until_ms"].as_i64().unwrap());
        close(got.fixed_p_value, want["fixed_p_value"].as_f64().unwrap(), "look fixed p");
        close(got.p_value, want["p_value"].as_f64().unwrap(), "look always-valid p");
    }
    // SRM on units against the configured 60/40, never 50/50
    let srm = &report.sample_ratio;
    assert_eq!(srm.counted, "units");
    assert_eq!(serde_json::to_value(&srm.observed).unwrap(), expected["srm"]["observed"]);
    close(srm.statistic, expected["srm"]["statistic"].as_f64().unwrap(), "SRM statistic");
    close(srm.p_value, expected["srm"]["p_value"].as_f64().unwrap(), "SRM p");
    assert!(!srm.mismatch);

    // an analysis anywhere inside the open window says the same; the report serializes
    let later = analyze(&system(), &store, &spec, report.until_ms + HOUR - 1).unwrap();
    assert_eq!(serde_json::to_value(&later.variants).unwrap(), serde_json::to_value(&report.variants).unwrap());
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["decision"].is_string() && json["variants"][0]["reasons"].is_array(), "{json}");
}

/// A small seeded generator (splitmix64), so the simulations need no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How an arm behaves.
#[derive(Clone, Copy)]
struct Behaviour {
    conversion: f64,
    fallback: f64,
    latency_ms: f64,
}

const SAME: Behaviour = Behaviour { conversion: 0.2, fallback: 0.02, latency_ms: 20.0 };

/// `windows` hours from `start` of `per_window` predictions, each by a new unit, assigned to
/// the first arm with probability `first_share`, each arm behaving as given.
fn simulate(
    rng: &mut Rng,
    start: i64,
    windows: i64,
    per_window: usize,
    first_share: f64,
    arms: [(&str, Behaviour); 2],
) -> Vec<Event> {
    let mut out = Vec::new();
    for w in 0..windows {
        for i in 0..per_window {
            let (variant, b) = if rng.next() < first_share { arms[0] } else { arms[1] };
            let id = format!("{start}-{w}-{i}");
            let unit = format!("u{start}-{w}-{i}");
            let row = Row {
                id: &id,
                at: start + w * HOUR + (i as i64) * (HOUR - 2_000) / per_window as i64,
                unit: Some(&unit),
                variant,
                latency_us: (b.latency_ms * 1000.0 * (0.5 + rng.next())) as u64,
                fallback: rng.next() < b.fallback,
                rule: false,
                feedback: None,
                purchase: (rng.next() < b.conversion).then_some(10.0),
            };
            events(&row, &mut out);
        }
    }
    out
}

/// A/A experiments, each looked at every window: the always-valid test declares a
/// difference in at most about α of them, as every decision; the fixed-horizon p-value
/// peeked at every window crosses 0.05 in far more; the sample-ratio check (SRM_ALPHA =
/// 0.001) almost never fires on a correct split. Every run lives in its own day of one
/// store.
#[test]
fn a_a_experiments_looked_at_every_window_declare_no_difference_beyond_alpha() {
    let (runs, windows, per_window) = (300, 10, 200);
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let mut rng = Rng(23);
    let start = |run: i64| T0 + run * 24 * HOUR;
    for run in 0..runs {
        let events = simulate(&mut rng, start(run), windows, per_window, 0.5, [("a", SAME), ("b", SAME)]);
        store.write_batch(&events, None).unwrap();
    }
    let system = system();
    let (mut sequential, mut naive, mut declared, mut srm) = (0, 0, 0, 0);
    for run in 0..runs {
        let spec = spec(&[("a", 1.0), ("b", 1.0)], start(run), windows as u32);
        let report = analyze(&system, &store, &spec, start(run) + windows * HOUR).unwrap();
        let v = &report.variants[0];
        assert_eq!(v.looks.len(), windows as usize);
        sequential += usize::from(v.metrics[0].sequential.as_ref().unwrap().significant);
        naive += usize::from(v.looks.iter().any(|l| l.fixed_p_value < 0.05));
        declared += usize::from(report.decision != Verdict::KeepRunning);
        srm += usize::from(report.sample_ratio.mismatch);
        if run == 0 {
            // looking every window is what the looks record: each window's own analysis
            // ends on the same figures
            for k in 1..=windows {
                let at_k = analyze(&system, &store, &spec, start(run) + k * HOUR).unwrap();
                let last = at_k.variants[0].looks.last().unwrap();
                assert_eq!(last, &v.looks[k as usize - 1], "window {k}");
            }
        }
    }
    eprintln!(
        "A/A over {runs} runs of {windows} looks: always-valid {sequential}, any decision {declared}, \
         fixed-horizon peeked {naive}, SRM {srm}"
    );
    // α = 0.05 of 300 is 15; 26 is its binomial mean plus 3 standard deviations
    assert!(sequential <= 26, "always-valid declared a difference in {sequential} of {runs}");
    assert!(declared <= 26, "decided in {declared} of {runs}");
    // ten looks at 0.05 reject a true null about a fifth of the time
    assert!(naive >= 36, "peeking crossed 0.05 in only {naive} of {runs}");
    assert!(naive >= 2 * sequential.max(1), "{naive} vs {sequential}");
    // at 0.001, 300 runs expect 0.3 alarms; 4 or more happen with probability 3e-4
    assert!(srm <= 3, "SRM fired on {srm} of {runs} correct splits");
}

#[test]
fn a_skewed_assignment_fires_the_sample_ratio_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    // configured 50/50, assigned 55/45 over 4,000 units
    let events = simulate(&mut Rng(5), T0, 4, 1000, 0.55, [("a", SAME), ("b", SAME)]);
    store.write_batch(&events, None).unwrap();
    let report = analyze(&system(), &store, &spec(&[("a", 1.0), ("b", 1.0)], T0, 14), T0 + 4 * HOUR).unwrap();
    assert!(report.sample_ratio.mismatch && report.sample_ratio.p_value < 0.001, "{:?}", report.sample_ratio);
    assert_eq!(report.decision, Verdict::StopSampleRatioMismatch);
    assert_eq!(report.variants[0].reasons[0].finding, "sample_ratio_mismatch");
    assert!(report.reasons[0].contains("do not fit the configured weights"), "{:?}", report.reasons);
    // the same split configured as 55/45 is consistent: the weights, never an assumed 50/50
    let report = analyze(&system(), &store, &spec(&[("a", 0.55), ("b", 0.45)], T0, 14), T0 + 4 * HOUR).unwrap();
    assert!(!report.sample_ratio.mismatch, "{:?}", report.sample_ratio);
    assert_ne!(report.decision, Verdict::StopSampleRatioMismatch);
}

#[test]
fn a_real_effect_ships_and_a_harmed_guardrail_stops() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let better = Behaviour { conversion: 0.3, ..SAME };
    store.write_batch(&simulate(&mut Rng(7), T0, 6, 800, 0.5, [("a", SAME), ("b", better)]), None).unwrap();
    let report = analyze(&system(), &store, &spec(&[("a", 1.0), ("b", 1.0)], T0, 6), T0 + 6 * HOUR).unwrap();
    assert_eq!(report.decision, Verdict::Ship, "{:#?}", report.reasons);
    assert_eq!(report.ship.as_deref(), Some("b"));
    let reasons = &report.variants[0].reasons;
    assert_eq!((reasons[0].metric.as_str(), reasons[0].finding), ("conversion", "improved"));
    assert!(reasons.iter().skip(1).all(|r| r.finding == "holds"), "{reasons:?}");
    let conversion = metric(&report, "conversion");
    let lift = conversion.fixed.as_ref().unwrap().relative_lift.unwrap();
    assert!(lift.lower > 0.2 && lift.upper < 0.8, "{lift:?}");

    // the same conversion, but the variant falls back five times as often: stop
    let start = T0 + 24 * HOUR;
    let fragile = Behaviour { fallback: 0.10, ..SAME };
    store.write_batch(&simulate(&mut Rng(10), start, 6, 800, 0.5, [("a", SAME), ("b", fragile)]), None).unwrap();
    let report = analyze(&system(), &store, &spec(&[("a", 1.0), ("b", 1.0)], start, 6), start + 6 * HOUR).unwrap();
    assert_eq!(report.decision, Verdict::StopHarm, "{:#?}", report.reasons);
    let harm = &report.variants[0].reasons;
    assert!(harm.iter().any(|r| r.metric == "fallback_rate" && r.finding == "harmed"), "{harm:?}");
    assert!(report.reasons.iter().any(|r| r.contains("fallback_rate got worse")), "{:?}", report.reasons);

    // slower in the tail: the latency guardrail stops it
    let start = T0 + 48 * HOUR;
    let slow = Behaviour { latency_ms: 30.0, ..SAME };
    store.write_batch(&simulate(&mut Rng(9), start, 6, 800, 0.5, [("a", SAME), ("b", slow)]), None).unwrap();
    let report = analyze(&system(), &store, &spec(&[("a", 1.0), ("b", 1.0)], start, 6), start + 6 * HOUR).unwrap();
    assert_eq!(report.decision, Verdict::StopHarm, "{:#?}", report.reasons);
    assert!(report.variants[0].reasons.iter().any(|r| r.metric == "latency_p99" && r.finding == "harmed"));

    // before any window closes: nothing to say yet
    let report = analyze(&system(), &store, &spec(&[("a", 1.0), ("b", 1.0)], start, 6), start + HOUR - 1).unwrap();
    assert_eq!((report.windows, report.decision), (0, Verdict::KeepRunning));
    assert_eq!(report.variants[0].reasons[0].finding, "too_little_data");
}

#[test]
fn specs_that_cannot_be_analysed_are_refused_naming_why() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let system = system();
    let base = spec(&[("a", 1.0), ("b", 1.0)], T0, 14);
    let refused = |change: &dyn Fn(&mut ExperimentSpec)| {
        let mut s = base.clone();
        change(&mut s);
        analyze(&system, &store, &s, T0 + HOUR).unwrap_err()
    };
    assert!(matches!(refused(&|s| s.primary = "nope".into()), ExperimentError::UnknownGoal(g) if g == "nope"));
    assert!(matches!(refused(&|s| s.primary = "top".into()), ExperimentError::GoalNotMeasured(_)));
    assert!(matches!(refused(&|s| s.primary = "steady".into()), ExperimentError::NoDirection(_)));
    let units = refused(&|s| s.primary = "customers".into());
    assert!(matches!(units, ExperimentError::UnsupportedMetric { metric: "active_units", .. }), "{units}");
    assert!(matches!(refused(&|s| s.control = "c".into()), ExperimentError::UnknownControl(_)));
    assert!(matches!(refused(&|s| s.arms[1].variant = "a".into()), ExperimentError::DuplicateArm(_)));
    assert!(matches!(refused(&|s| s.arms[1].weight = 0.0), ExperimentError::BadWeight { .. }));
    assert!(matches!(refused(&|s| s.arms.truncate(1)), ExperimentError::TooFewArms { arms: 1, .. }));
    assert!(matches!(refused(&|s| s.component = "other".into()), ExperimentError::UnknownComponent(_)));
    assert!(matches!(refused(&|s| s.window_ms = 0), ExperimentError::BadWindow(0)));
}

/// Units that bought before the experiment buy again more often: CUPED takes that out of
/// the rate per unit's variance (1 − ρ² of it, about 0.63 here), narrowing its interval.
#[test]
fn a_pre_period_covariate_narrows_the_rate_per_unit() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let mut rng = Rng(31);
    let mut written = Vec::new();
    for i in 0..4000i64 {
        let (id, unit) = (format!("p{i}"), format!("u{i}"));
        let before = rng.next() < 0.3;
        if before {
            written.push(
                OutcomeEvent {
                    id: rein_telemetry::new_event_id(),
                    time_ms: T0 - 2 * HOUR,
                    unit: Some(unit.clone()),
                    prediction_id: None,
                    name: "purchase".into(),
                    value: None,
                }
                .into(),
            );
        }
        let variant = if rng.next() < 0.5 { "a" } else { "b" };
        let buys = rng.next() < if before { 0.7 } else { 0.1 } + if variant == "b" { 0.03 } else { 0.0 };
        let row = Row {
            id: &id,
            at: T0 + (i % 4) * HOUR + i * 500,
            unit: Some(&unit),
            variant,
            latency_us: 20_000,
            fallback: false,
            rule: false,
            feedback: None,
            purchase: buys.then_some(10.0),
        };
        events(&row, &mut written);
    }
    store.write_batch(&written, None).unwrap();
    let mut spec = spec(&[("a", 1.0), ("b", 1.0)], T0, 4);
    spec.primary = "buyers".into();
    let report = analyze(&system(), &store, &spec, T0 + 4 * HOUR).unwrap();
    let buyers = metric(&report, "buyers");
    let cuped = buyers.cuped.as_ref().expect("units bought before");
    assert_eq!(buyers.compared_as, "unit_rate_cuped");
    assert!(cuped.variance_ratio.iter().all(|r| (0.5..0.75).contains(r)), "{cuped:?}");
    // the plain two-proportion interval of the same rates, for comparison
    let share = |arm| match arm_figure(&report, arm, "buyers") {
        ArmFigure::Share { successes, trials, .. } => (*successes as f64 / *trials as f64, *trials as f64),
        other => panic!("{other:?}"),
    };
    let ((pc, nc), (pv, nv)) = (share(0), share(1));
    let plain = 2.0 * 1.959964 * (pc * (1.0 - pc) / nc + pv * (1.0 - pv) / nv).sqrt();
    let fixed = buyers.fixed.as_ref().unwrap();
    let ratio = (fixed.upper - fixed.lower) / plain;
    assert!((0.72..0.86).contains(&ratio), "CUPED's interval is {ratio} of the plain one");
    // unbiased: the adjusted difference stays near the plain one (the arms' pre-period shares differ by chance only)
    assert!((fixed.difference - (pv - pc)).abs() < 0.02, "{} vs {}", fixed.difference, pv - pc);
}

#[test]
fn a_spec_reads_from_json_with_its_defaults() {
    let spec: ExperimentSpec = serde_json::from_value(json!({
        "component": "fraud", "experiment": "x", "arms": [{"variant": "a", "weight": 9.0}, {"variant": "b", "weight": 1.0}],
        "control": "a", "start_ms": T0, "window_ms": HOUR, "primary": "conversion"
    }))
    .unwrap();
    assert_eq!((spec.guardrails.len(), spec.horizon_windows), (0, 14));
}
