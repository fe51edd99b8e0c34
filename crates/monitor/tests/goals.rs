//! Goals measured over a store holding events written here, each figure worked out by hand:
//! every metric that is not a quality one, over its population (a mode, a guardrail that
//! acted, a CEL filter over the record), in tumbling windows by event time.

use std::path::Path;

use rein_monitor::goals::{self, AlignmentStatus, AsOf, Figure, GoalReport, Options, Status};
use rein_monitor::window::IntervalMethod;
use rein_telemetry::{
    Event, FeedbackEvent, FeedbackKind, FeedbackSource, JsonText, OutcomeEvent, PredictionEvent, SqliteStore, Store,
};
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z: the first hour's start.
const T0: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;

const SYSTEM: &str = r#"
outcomes = ["left_page", "purchase"]

[system]
name = "shop"
description = "A shop's fraud check."

[[components]]
name = "fraud"
task = "binary"
labels = ["legit", "fraud"]
positive_label = "fraud"
model = { path = "model.onnx" }

[[components.features]]
name = "age_days"
type = "integer"

[[components.features]]
name = "amount"
type = "number"

[[components.features]]
name = "https"
type = "boolean"

[[components.features]]
name = "country"
type = "category"
categories = ["de", "fr"]

[[components.guardrails]]
name = "young"
stage = "input"
when = "features.age_days < 2"
action = "flag"

[[components.guardrails]]
name = "big_amount"
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
description = "Customers trust the shop."
measured = false
note = "Surveys."
"#;

/// A goal of the system layer under `top`, measured over an hour.
fn declared(id: &str, keys: &str) -> String {
    format!(
        "\n[[goals]]\nid = \"{id}\"\nlayer = \"system\"\ndescription = \"{id}\"\n{keys}\nwindow = \"1h\"\nsupports = [\"top\"]\n"
    )
}

fn system() -> rein_system::System {
    let mut text = SYSTEM.to_string();
    for (id, keys) in [
        (
            "heeded",
            "metric = \"outcome_rate\"\noutcome = \"left_page\"\nby_mode = \"prompt\"\ntarget = { at_least = 0.4 }",
        ),
        (
            "left_by_unit",
            "metric = \"outcome_rate\"\noutcome = \"left_page\"\nper = \"unit\"\ntarget = { at_most = 0.5 }",
        ),
        ("basket", "metric = \"outcome_mean\"\noutcome = \"purchase\"\ntarget = { at_least = 10.0 }"),
        (
            "prompted_revenue",
            "metric = \"outcome_sum\"\noutcome = \"purchase\"\nby_mode = \"prompt\"\ntarget = { at_least = 25.0 }",
        ),
        ("all_revenue", "metric = \"outcome_sum\"\noutcome = \"purchase\"\ntarget = { at_least = 25.0 }"),
        ("customers", "metric = \"active_units\"\ntarget = { at_least = 2.0 }"),
        ("fast", "metric = \"latency\"\nquantile = 0.5\ntarget = { at_most = 100.0 }"),
        ("big_flagged", "metric = \"guardrail_rate\"\nguardrail = \"big_amount\"\ntarget = { at_most = 0.5 }"),
        ("any_rule", "metric = \"guardrail_rate\"\ntarget = { at_most = 0.5 }"),
        ("blocked", "metric = \"mode_share\"\nmode = \"automate\"\ntarget = { at_most = 0.5 }"),
        (
            "complaints",
            "metric = \"feedback_rate\"\nfeedback = \"incorrect\"\nsource = \"user\"\ntarget = { at_most = 0.5 }",
        ),
        ("any_feedback", "metric = \"feedback_rate\"\ntarget = { at_least = 0.1 }"),
        ("expert_feedback", "metric = \"feedback_rate\"\nsource = \"expert\"\ntarget = { at_least = 0.1 }"),
        ("fell_back", "metric = \"fallback_rate\"\ntarget = { at_most = 0.5 }"),
        ("flagged_young", "metric = \"fallback_rate\"\nby_guardrail = \"young\"\ntarget = { at_most = 0.5 }"),
        // filters: the count of each is how many predictions it lets through
        ("f_young", "metric = \"fallback_rate\"\nfilter = \"features.age_days < 30\"\ntarget = { at_most = 1.0 }"),
        (
            "f_amount",
            "metric = \"fallback_rate\"\nfilter = \"features.amount + 0.5 > 3.0\"\ntarget = { at_most = 1.0 }",
        ),
        ("f_rules", "metric = \"fallback_rate\"\nfilter = \"'big_amount' in rules\"\ntarget = { at_most = 1.0 }"),
        (
            "f_mode",
            "metric = \"fallback_rate\"\nfilter = \"mode == 'prompt' && !fallback\"\ntarget = { at_most = 1.0 }",
        ),
        (
            "f_output",
            "metric = \"fallback_rate\"\nfilter = \"output.score >= 0.8 && output.label == 'fraud'\"\ntarget = { at_most = 1.0 }",
        ),
        (
            "f_probability",
            "metric = \"fallback_rate\"\nfilter = \"has(output.probabilities.fraud) && output.probabilities.fraud > 0.9\"\ntarget = { at_most = 1.0 }",
        ),
        (
            "f_flags",
            "metric = \"fallback_rate\"\nfilter = \"features.https && features.country == 'de'\"\ntarget = { at_most = 1.0 }",
        ),
        (
            "f_model",
            "metric = \"fallback_rate\"\nfilter = \"model.name == 'scorer' && model.version == '3' && variant == 'main'\"\ntarget = { at_most = 1.0 }",
        ),
        ("ranked", "metric = \"auc\"\ntarget = { at_least = 0.9 }"),
    ] {
        text.push_str(&declared(id, keys));
    }
    rein_system::parse(&text, Path::new("/nowhere/rein.toml")).unwrap_or_else(|d| panic!("{d}"))
}

struct P {
    id: &'static str,
    at: i64,
    unit: Option<&'static str>,
    mode: &'static str,
    features: &'static str,
    output: Value,
    rules: &'static [&'static str],
    fallback: bool,
    latency_ms: u64,
}

fn prediction(p: &P) -> Event {
    let guardrails: Vec<Value> =
        p.rules.iter().map(|r| json!({"rule": r, "stage": "output", "action": "flag"})).collect();
    PredictionEvent {
        id: p.id.into(),
        time_ms: p.at,
        system: "shop".into(),
        component: "fraud".into(),
        unit: p.unit.map(str::to_string),
        model_name: "scorer".into(),
        model_version: "3".into(),
        variant: "main".into(),
        features: JsonText::parse(p.features.to_string()).unwrap(),
        raw_output: JsonText::null(),
        guardrails: json!(guardrails).into(),
        output: p.output.clone().into(),
        mode: p.mode.into(),
        decision: json!({"mode": p.mode, "reason": {"kind": "fixed"}}).into(),
        fallback: p.fallback.then(|| "timed out".to_string()),
        latency_us: p.latency_ms * 1000,
        experiment: None,
        shadow_of: None,
    }
    .into()
}

fn feedback(id: &str, kind: FeedbackKind, source: FeedbackSource) -> Event {
    FeedbackEvent {
        id: rein_telemetry::new_event_id(),
        prediction_id: id.into(),
        time_ms: T0 + 30_000,
        kind,
        label: None,
        value: None,
        unit: None,
        comment: None,
        source,
        idempotency_key: None,
    }
    .into()
}

fn outcome(at: i64, prediction: Option<&str>, unit: Option<&str>, name: &str, value: Option<f64>) -> Event {
    OutcomeEvent {
        id: rein_telemetry::new_event_id(),
        time_ms: at,
        unit: unit.map(str::to_string),
        prediction_id: prediction.map(str::to_string),
        name: name.into(),
        value,
    }
    .into()
}

fn fraud(score: f64) -> Value {
    json!({"label": if score >= 0.5 { "fraud" } else { "legit" }, "score": score,
           "probabilities": {"legit": 1.0 - score, "fraud": score}})
}

/// Two hours of a shop: five predictions in the first, one in the second.
fn events() -> Vec<Event> {
    let ps = [
        P {
            id: "p1",
            at: T0 + 1_000,
            unit: Some("u1"),
            mode: "automate",
            features: r#"{"age_days":1,"amount":1500.0,"https":true,"country":"de"}"#,
            output: fraud(0.95),
            rules: &["young", "big_amount"],
            fallback: false,
            latency_ms: 2,
        },
        P {
            id: "p2",
            at: T0 + 2_000,
            unit: Some("u1"),
            mode: "prompt",
            features: r#"{"age_days":40,"amount":20.0,"https":false,"country":"fr"}"#,
            output: fraud(0.7),
            rules: &[],
            fallback: false,
            latency_ms: 4,
        },
        // the fallback's declared output: no probabilities; a number recorded with an
        // integer's digits is still a double (`features.amount + 0.5` does not fail)
        P {
            id: "p3",
            at: T0 + 3_000,
            unit: Some("u2"),
            mode: "none",
            features: r#"{"age_days":400,"amount":3,"https":false,"country":"de"}"#,
            output: json!({"label": "legit", "score": 0.0}),
            rules: &[],
            fallback: true,
            latency_ms: 50,
        },
        P {
            id: "p4",
            at: T0 + 4_000,
            unit: None,
            mode: "prompt",
            features: r#"{"age_days":5,"amount":1.0,"https":false,"country":"fr"}"#,
            output: fraud(0.85),
            rules: &[],
            fallback: false,
            latency_ms: 1,
        },
        // recorded before `age_days` was a feature: a filter reading it fails on it
        P {
            id: "p5",
            at: T0 + HOUR - 1,
            unit: Some("u3"),
            mode: "annotate",
            features: r#"{"amount":10.0,"https":true,"country":"de"}"#,
            output: fraud(0.3),
            rules: &[],
            fallback: false,
            latency_ms: 10,
        },
        P {
            id: "p6",
            at: T0 + HOUR,
            unit: Some("u2"),
            mode: "automate",
            features: r#"{"age_days":100,"amount":5.0,"https":true,"country":"fr"}"#,
            output: fraud(0.99),
            rules: &[],
            fallback: false,
            latency_ms: 3,
        },
    ];
    let mut events: Vec<Event> = ps.iter().map(prediction).collect();
    events.extend([
        feedback("p1", FeedbackKind::Incorrect, FeedbackSource::User),
        feedback("p2", FeedbackKind::Correct, FeedbackSource::Expert),
        feedback("p2", FeedbackKind::Incorrect, FeedbackSource::User),
        feedback("p6", FeedbackKind::Label, FeedbackSource::System),
        outcome(T0 + 10_000, Some("p1"), Some("u1"), "left_page", None),
        outcome(T0 + 11_000, Some("p2"), Some("u1"), "purchase", Some(30.0)),
        outcome(T0 + 12_000, Some("p2"), Some("u1"), "purchase", Some(10.0)),
        outcome(T0 + 20 * 60_000, None, Some("u9"), "purchase", Some(100.0)),
        outcome(T0 + 13_000, Some("p4"), None, "left_page", None),
        outcome(T0 + HOUR + 5 * 60_000, None, Some("u2"), "left_page", None),
        // a purchase of the first hour's prediction, made in the second hour
        outcome(T0 + HOUR + 10_000, Some("p3"), Some("u2"), "purchase", Some(5.0)),
    ]);
    events
}

fn measured() -> rein_monitor::GoalsReport {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.write_batch(&events(), None).unwrap();
    let system = system();
    goals::measure(&system, &store, &Options { at_ms: Some(T0 + 2 * HOUR), windows: 2 }).unwrap()
}

fn goal<'r>(report: &'r rein_monitor::GoalsReport, id: &str) -> &'r GoalReport {
    report.goals.iter().find(|g| g.id == id).unwrap_or_else(|| panic!("no goal {id}"))
}

/// (value, count, matching) of the goal's two windows, oldest first.
fn figures(report: &rein_monitor::GoalsReport, id: &str) -> Vec<(Option<f64>, u64, Option<u64>)> {
    let trend = goal(report, id).trend.as_ref().unwrap();
    trend.windows.iter().map(|f| (f.value, f.count, f.matching)).collect()
}

fn latest<'r>(report: &'r rein_monitor::GoalsReport, id: &str) -> &'r Figure {
    goal(report, id).latest.as_ref().unwrap()
}

#[test]
fn every_metric_of_a_window_is_the_one_worked_out_by_hand() {
    let r = measured();
    assert_eq!((r.as_of_ms, r.as_of, r.windows), (T0 + 2 * HOUR, AsOf::Given, 2));
    let w = &goal(&r, "heeded").trend.as_ref().unwrap().windows;
    assert_eq!((w[0].from_ms, w[0].until_ms, w[1].until_ms), (T0, T0 + HOUR, T0 + 2 * HOUR));

    // p2 and p4 were prompts; p4's page was left
    assert_eq!(figures(&r, "heeded"), vec![(Some(0.5), 2, Some(1)), (None, 0, Some(0))]);
    // units u1, u2, u3 (p4 has none); u1 left a page in the hour (p4's outcome names no unit)
    assert_eq!(figures(&r, "left_by_unit"), vec![(Some(1.0 / 3.0), 3, Some(1)), (Some(1.0), 1, Some(1))]);
    // every purchase by its own time: 30, 10 and a unit's 100 in the first hour; 5 in the second
    assert_eq!(figures(&r, "basket"), vec![(Some(140.0 / 3.0), 3, None), (Some(5.0), 1, None)]);
    // those of the prompted predictions of each hour, whenever they came
    assert_eq!(figures(&r, "prompted_revenue"), vec![(Some(40.0), 2, None), (Some(0.0), 0, None)]);
    assert_eq!(figures(&r, "all_revenue"), vec![(Some(140.0), 3, None), (Some(5.0), 1, None)]);
    assert_eq!(figures(&r, "customers"), vec![(Some(3.0), 5, None), (Some(1.0), 1, None)]);
    // latencies 2, 4, 50, 1, 10 ms: the median is 4
    assert_eq!(figures(&r, "fast"), vec![(Some(4.0), 5, None), (Some(3.0), 1, None)]);
    assert_eq!(figures(&r, "big_flagged"), vec![(Some(0.2), 5, Some(1)), (Some(0.0), 1, Some(0))]);
    assert_eq!(figures(&r, "any_rule")[0], (Some(0.2), 5, Some(1)), "p1 alone: two rules, one prediction");
    assert_eq!(figures(&r, "blocked"), vec![(Some(0.2), 5, Some(1)), (Some(1.0), 1, Some(1))]);
    assert_eq!(figures(&r, "complaints"), vec![(Some(0.4), 5, Some(2)), (Some(0.0), 1, Some(0))]);
    assert_eq!(figures(&r, "any_feedback"), vec![(Some(0.4), 5, Some(2)), (Some(1.0), 1, Some(1))]);
    assert_eq!(figures(&r, "expert_feedback")[0], (Some(0.2), 5, Some(1)));
    assert_eq!(figures(&r, "fell_back"), vec![(Some(0.2), 5, Some(1)), (Some(0.0), 1, Some(0))]);
    assert_eq!(figures(&r, "flagged_young")[0], (Some(0.0), 1, Some(0)), "p1, where `young` acted");

    // intervals: Wilson for shares, t for a mean, order statistics for a quantile, none for totals
    let heeded = latest(&r, "heeded");
    assert_eq!((heeded.status, heeded.value), (Status::NoData, None));
    let first = &goal(&r, "heeded").trend.as_ref().unwrap().windows[0];
    let wilson = rein_stats::wilson_interval(1, 2, 0.95).unwrap();
    let interval = first.interval.unwrap();
    assert_eq!((interval.lower, interval.upper), (Some(wilson.lower), Some(wilson.upper)));
    assert_eq!((interval.method, first.status), (IntervalMethod::Wilson, Status::NotJudged));
    let basket = &goal(&r, "basket").trend.as_ref().unwrap().windows;
    assert_eq!(basket[0].interval.unwrap().method, IntervalMethod::T);
    assert_eq!((basket[1].interval.unwrap().lower, basket[1].status), (None, Status::NotJudged), "one value");
    let fast = &goal(&r, "fast").trend.as_ref().unwrap().windows[0];
    let order = rein_stats::quantile_order_interval(&[2.0, 4.0, 50.0, 1.0, 10.0], 0.5, 0.95).unwrap();
    assert_eq!(fast.interval.unwrap().method, IntervalMethod::OrderStatistic);
    assert_eq!(fast.interval.unwrap().lower, order.lower.is_finite().then_some(order.lower));
    let customers = latest(&r, "customers");
    assert_eq!(customers.interval.unwrap().method, IntervalMethod::Exact);
    assert_eq!(customers.status, Status::Missed, "one customer, two wanted: a count has no doubt");
    assert_eq!(latest(&r, "all_revenue").status, Status::Missed);
    assert_eq!(goal(&r, "customers").status, Status::Missed);
}

#[test]
fn a_filter_reads_the_record_as_rein_check_typed_it() {
    let r = measured();
    let admitted = |id: &str| {
        let f = &goal(&r, id).trend.as_ref().unwrap().windows[0];
        (f.count, f.filter_errors)
    };
    // p1 (1 day) and p4 (5 days); p5's record has no age_days: not counted, reported
    assert_eq!(admitted("f_young"), (2, 1));
    let young = &goal(&r, "f_young").trend.as_ref().unwrap().windows[0];
    assert!(young.filter_error.as_deref().unwrap().contains("age_days"), "{young:?}");
    // p3's amount, recorded as `3`, is the double 3.0: `+ 0.5` works; p4's 1.5 is not above 3
    assert_eq!(admitted("f_amount"), (4, 0));
    assert_eq!(admitted("f_rules"), (1, 0));
    assert_eq!(admitted("f_mode"), (2, 0));
    assert_eq!(admitted("f_output"), (2, 0));
    // the fallback's output has no probabilities: `has` says so, rather than failing
    assert_eq!(admitted("f_probability"), (1, 0));
    assert_eq!(admitted("f_flags"), (2, 0));
    assert_eq!(admitted("f_model"), (5, 0));
}

#[test]
fn quality_goals_without_labels_and_unmeasured_ones_say_why() {
    let r = measured();
    let ranked = goal(&r, "ranked");
    // a quality goal over a window without labels: too few to judge, and it says so
    assert_eq!(ranked.status, Status::TooFewLabels);
    let latest = ranked.latest.as_ref().unwrap();
    assert_eq!((latest.value, latest.interval), (None, None));
    assert_eq!(latest.note.as_deref(), Some("too few to judge: 0 labeled predictions, 30 needed"));
    assert_eq!(ranked.metric.as_ref().unwrap().name, "auc");
    let top = goal(&r, "top");
    assert_eq!((top.status, top.note.as_deref()), (Status::NotMeasured, Some("Surveys.")));
    assert_eq!(r.top, vec!["top".to_string()]);
    assert_eq!(top.supporters.len(), 24);
    let link = &goal(&r, "heeded").alignment[0];
    assert_eq!((link.supports.as_str(), link.status), ("top", AlignmentStatus::NotMeasured));
}

/// Without an instant asked for, the goals are judged just after the newest prediction: its
/// own hour is still open.
#[test]
fn the_windows_end_at_the_newest_prediction_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.write_batch(&events(), None).unwrap();
    let r = goals::measure(&system(), &store, &Options { at_ms: None, windows: 3 }).unwrap();
    assert_eq!((r.as_of_ms, r.as_of), (T0 + HOUR + 1, AsOf::NewestPrediction));
    let fell_back = goal(&r, "fell_back").trend.as_ref().unwrap();
    assert_eq!(fell_back.windows.len(), 3);
    assert_eq!(fell_back.windows[2].until_ms, T0 + HOUR, "the first hour is the latest closed");
    assert_eq!(fell_back.windows[2].value, Some(0.2));

    let empty = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(empty.path()).unwrap();
    let r = goals::measure(&system(), &store, &Options::default()).unwrap();
    assert_eq!(r.as_of, AsOf::Clock);
    assert_eq!(goal(&r, "heeded").status, Status::NoData);
    assert_eq!(goal(&r, "customers").status, Status::Missed, "no customer at all");
}
