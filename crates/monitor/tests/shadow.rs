//! A shadow against what was answered, over a store holding the pairs written here: each
//! figure against scipy's and statsmodels' on the same pairs (`reference/shadow_cases.json`,
//! made by `reference/make_shadow.py`), and the counts (agreement, the disagreements by
//! label, the pairs left out) worked out again from the pairs themselves.

use std::collections::BTreeMap;
use std::path::Path;

use rein_monitor::files::Options;
use rein_monitor::quality::Interval;
use rein_monitor::report::Measures;
use rein_monitor::shadow::{Against, NOT_RECORDED, SCORE_GAP, ShadowReport, compare};
use rein_system::Component;
use rein_telemetry::{Event, JsonText, PredictionEvent, ShadowQuery, SqliteStore, Store};
use serde_json::{Value, json};

const CASES: &str = include_str!("reference/shadow_cases.json");

const SYSTEM: &str = r#"
[system]
name = "shop"
description = "A shop's fraud check, and its delivery time."

[[components]]
name = "fraud"
task = "binary"
labels = ["legit", "fraud"]
positive_label = "fraud"
model = { path = "model.onnx" }

[[components.features]]
name = "amount"
type = "number"

[components.experience]
policy = "thresholds"
thresholds = { automate = 0.9, prompt = 0.6 }

[[components]]
name = "eta"
task = "regression"
model = { path = "eta.onnx" }

[[components.features]]
name = "distance"
type = "number"

[components.experience]
policy = "fixed"
mode = "automate"
"#;

fn component(name: &str) -> Component {
    let system = rein_system::parse(SYSTEM, Path::new("rein.toml")).unwrap_or_else(|d| panic!("{d}"));
    system.components.into_iter().find(|c| c.name == name).expect("the component")
}

fn prediction(component: &str, id: String, time_ms: i64, version: &str, output: Value) -> PredictionEvent {
    let output = JsonText::of(&output);
    PredictionEvent {
        id,
        time_ms,
        system: "shop".into(),
        component: component.into(),
        unit: None,
        model_name: component.into(),
        model_version: version.into(),
        variant: "main".into(),
        features: JsonText::of(&json!({})),
        raw_output: output.clone(),
        guardrails: JsonText::of(&json!([])),
        output,
        mode: "automate".into(),
        decision: JsonText::of(&json!({"mode": "automate", "reason": {"kind": "fixed"}})),
        fallback: None,
        latency_us: 10,
        experiment: Some("shadow-v2".into()),
        shadow_of: None,
    }
}

fn shadow_of(answered: &PredictionEvent, version: &str, output: Value) -> PredictionEvent {
    let mut s = prediction(&answered.component, format!("s-{}", answered.id), answered.time_ms, version, output);
    s.variant = "shadow".into();
    s.shadow_of = Some(answered.id.clone());
    s
}

/// Writes each pair as an answered prediction of `v1` and its shadow of `v2`, one a ms; then a
/// shadow whose original is gone, and one whose answer fell back (no model output).
fn store_of(component: &str, outputs: &[(Value, Value)]) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let mut events: Vec<Event> = Vec::new();
    for (i, (answered, shadow)) in outputs.iter().enumerate() {
        let a = prediction(component, format!("p{i:05}"), 1_000 + i as i64, "v1", answered.clone());
        events.push(shadow_of(&a, "v2", shadow.clone()).into());
        events.push(a.into());
    }
    let gone = prediction(component, "pruned".into(), 1_000, "v1", outputs[0].0.clone());
    events.push(shadow_of(&gone, "v2", outputs[0].1.clone()).into());
    let mut fell_back = prediction(component, "fell-back".into(), 1_001, "v1", Value::Null);
    fell_back.fallback = Some("the model timed out".into());
    events.push(shadow_of(&fell_back, "v2", outputs[0].1.clone()).into());
    events.push(fell_back.into());
    store.write_batch(&events, None).unwrap();
    (dir, store)
}

fn read(store: &dyn Store, component: &str) -> ShadowReport {
    let query = ShadowQuery {
        component: component.into(),
        since_ms: Some(0),
        until_ms: Some(1_000_000),
        experiment: Some("shadow-v2".into()),
    };
    compare("shop", &self::component(component), store, &query, &Options::default()).unwrap()
}

fn close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{what}: {got} against {want}");
}

fn interval(got: &Option<Interval>, want: &Value, what: &str) {
    let got = got.as_ref().unwrap_or_else(|| panic!("{what}: no interval"));
    let want: Vec<f64> = want.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    close(got.value, want[0], &format!("{what} value"));
    close(got.lower, want[1], &format!("{what} lower"));
    close(got.upper, want[2], &format!("{what} upper"));
}

fn the_one(report: &ShadowReport, pairs: usize) -> &Against {
    assert_eq!(report.shadows.len(), 1, "one shadow version");
    let shadow = &report.shadows[0];
    assert_eq!(shadow.version, "v2");
    assert_eq!(shadow.experiments, vec!["shadow-v2".to_string()]);
    assert_eq!(shadow.shadow_predictions as usize, pairs + 2, "each pair's shadow, the orphan, the fallback's");
    assert_eq!(shadow.original_missing, 1, "the shadow whose original is gone");
    assert_eq!(report.shadow_predictions as usize, pairs + 2);
    assert_eq!(report.not_recorded, NOT_RECORDED);
    assert_eq!(shadow.against.len(), 1, "one answering version");
    let against = &shadow.against[0];
    assert_eq!(against.answered_version, "v1");
    assert_eq!(against.pairs as usize, pairs + 1, "the fallback's pair is joined");
    assert_eq!(against.without_output, 1, "and left out: its answer has no model output");
    against
}

fn cases() -> Vec<Value> {
    let all: Value = serde_json::from_str(CASES).unwrap();
    assert_eq!(all["gap"].as_f64(), Some(SCORE_GAP));
    all["cases"].as_array().unwrap().clone()
}

#[test]
fn a_classifiers_shadow_against_scipy_and_statsmodels() {
    for case in cases().iter().filter(|c| c["task"] == "binary") {
        let name = case["name"].as_str().unwrap();
        let pairs: Vec<(String, f64, String, f64)> =
            serde_json::from_value(case["pairs"].clone()).expect("pairs of (label, score, label, score)");
        let outputs: Vec<(Value, Value)> = pairs
            .iter()
            .map(|(al, a, sl, s)| (json!({"label": al, "score": a}), json!({"label": sl, "score": s})))
            .collect();
        let (_dir, store) = store_of("fraud", &outputs);
        let report = read(&store, "fraud");
        let against = the_one(&report, pairs.len());

        // the counts, again from the pairs
        let labels = against.labels.as_ref().expect("a classifier's labels");
        let agreeing = pairs.iter().filter(|(a, _, s, _)| a == s).count() as u64;
        assert_eq!((labels.pairs, labels.agreeing), (pairs.len() as u64, agreeing), "{name}");
        assert_eq!(agreeing, case["agreeing"].as_u64().unwrap(), "{name}: the script counted the same");
        let mut by_hand: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (a, _, s, _) in pairs.iter().filter(|(a, _, s, _)| a != s) {
            *by_hand.entry((a.clone(), s.clone())).or_default() += 1;
        }
        let got: BTreeMap<(String, String), u64> =
            labels.disagreements.iter().map(|d| ((d.answered.clone(), d.shadow.clone()), d.count)).collect();
        assert_eq!(got, by_hand, "{name}: the disagreements by answered × shadow label");
        assert!(labels.disagreements.windows(2).all(|w| w[0].count >= w[1].count), "the most frequent first");

        interval(&labels.agreement, &case["agreement"], &format!("{name}: agreement"));
        interval(&labels.changed, &case["changed"], &format!("{name}: changed"));
        let d = against.differences.as_ref().expect("the scores' differences");
        assert_eq!((d.field, d.pairs), ("score", pairs.len() as u64));
        interval(&d.mean, &case["mean_difference"], &format!("{name}: mean difference"));
        interval(&d.mean_absolute, &case["mean_absolute_difference"], &format!("{name}: mean absolute difference"));
        let gap = d.beyond_gap.as_ref().expect("a score's gap");
        assert_eq!(gap.count, case["beyond_gap"].as_u64().unwrap(), "{name}");
        interval(&gap.share, &case["beyond_gap_share"], &format!("{name}: beyond the gap"));

        // the drift: up to 1,000 rows a p-value test decides, KS for the score, chi-squared
        // for the label
        let column = |n: &str| against.drift.columns.iter().find(|c| c.name == n).unwrap();
        let score = column("score");
        let Some(Measures::Numeric { ks, .. }) = &score.measures else { panic!("{name}: the score's measures") };
        close(ks.statistic, case["ks"][0].as_f64().unwrap(), &format!("{name}: KS statistic"));
        close(ks.p_value, case["ks"][1].as_f64().unwrap(), &format!("{name}: KS p-value"));
        assert_eq!(score.decision.as_ref().unwrap().method, "ks", "{name}: the policy's choice, named");
        let label = column("label");
        let Some(Measures::Categorical { chi_squared, .. }) = &label.measures else { panic!("{name}: the label's") };
        close(chi_squared.statistic, case["chi_squared"][0].as_f64().unwrap(), &format!("{name}: chi-squared"));
        close(chi_squared.p_value, case["chi_squared"][1].as_f64().unwrap(), &format!("{name}: its p-value"));
        assert_eq!(label.decision.as_ref().unwrap().method, "chi_squared");
        let drifted: Vec<&str> = against.drift.columns.iter().filter(|c| c.drifted).map(|c| c.name.as_str()).collect();
        assert_eq!(against.drift.drifted, drifted);

        // the verdict says the share changed, with its interval
        let changed = labels.changed.unwrap();
        let said =
            format!("{:.1}% [{:.1}, {:.1}]", 100.0 * changed.value, 100.0 * changed.lower, 100.0 * changed.upper);
        assert!(against.verdict.starts_with("v2 would change the label on "), "{}", against.verdict);
        assert!(against.verdict.contains(&said), "{name}: {} lacks {said}", against.verdict);
    }
}

#[test]
fn a_regressors_shadow_against_scipy() {
    for case in cases().iter().filter(|c| c["task"] == "regression") {
        let name = case["name"].as_str().unwrap();
        let pairs: Vec<(f64, f64)> = serde_json::from_value(case["pairs"].clone()).unwrap();
        let outputs: Vec<(Value, Value)> =
            pairs.iter().map(|(a, s)| (json!({"value": a, "score": a}), json!({"value": s, "score": s}))).collect();
        let (_dir, store) = store_of("eta", &outputs);
        let report = read(&store, "eta");
        assert_eq!(report.task, "regression");
        let against = the_one(&report, pairs.len());
        assert!(against.labels.is_none(), "a regressor has no labels");
        let d = against.differences.as_ref().unwrap();
        assert_eq!((d.field, d.pairs), ("value", pairs.len() as u64));
        assert!(d.beyond_gap.is_none(), "the gap is on the probability scale");
        interval(&d.mean, &case["mean_difference"], &format!("{name}: mean difference"));
        interval(&d.mean_absolute, &case["mean_absolute_difference"], &format!("{name}: MAE between them"));
        let value = against.drift.columns.iter().find(|c| c.name == "value").unwrap();
        let Some(Measures::Numeric { ks, .. }) = &value.measures else { panic!("the value's measures") };
        close(ks.statistic, case["ks"][0].as_f64().unwrap(), &format!("{name}: KS statistic"));
        close(ks.p_value, case["ks"][1].as_f64().unwrap(), &format!("{name}: KS p-value"));
    }
}

/// Two shadow versions, and a champion moved between the requests: each shadow is compared
/// with each version that answered, apart; an experiment asked for leaves out the others.
#[test]
fn each_shadow_version_against_each_answering_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let out = |label: &str, score: f64| json!({"label": label, "score": score});
    let mut events: Vec<Event> = Vec::new();
    for i in 0..40 {
        let answering = if i < 10 { "v1" } else { "v1b" };
        let a = prediction("fraud", format!("p{i:03}"), 1_000 + i, answering, out("legit", 0.2));
        // v2 disagrees on every fourth request, v3 never
        let v2 = if i % 4 == 0 { out("fraud", 0.7) } else { out("legit", 0.2) };
        let mut s2 = shadow_of(&a, "v2", v2);
        s2.id = format!("s2-{i}");
        let mut s3 = shadow_of(&a, "v3", out("legit", 0.2));
        s3.id = format!("s3-{i}");
        s3.experiment = Some("other".into());
        events.extend([a.into(), s2.into(), s3.into()]);
    }
    store.write_batch(&events, None).unwrap();
    let query = |experiment: Option<&str>| ShadowQuery {
        component: "fraud".into(),
        since_ms: None,
        until_ms: None,
        experiment: experiment.map(Into::into),
    };
    let report = compare("shop", &component("fraud"), &store, &query(None), &Options::default()).unwrap();
    let versions: Vec<&str> = report.shadows.iter().map(|s| s.version.as_str()).collect();
    assert_eq!(versions, ["v2", "v3"]);
    let v2 = &report.shadows[0];
    let by: Vec<(&str, u64, u64)> = v2
        .against
        .iter()
        .map(|a| (a.answered_version.as_str(), a.pairs, a.labels.as_ref().unwrap().agreeing))
        .collect();
    // i < 10 holds 0, 4, 8 (three disagreements); 10..40 holds 12, 16, ..., 36 (seven)
    assert_eq!(by, [("v1", 10, 7), ("v1b", 30, 23)]);
    let v3 = &report.shadows[1];
    for a in &v3.against {
        let labels = a.labels.as_ref().unwrap();
        assert_eq!(labels.agreeing, labels.pairs, "an identical shadow agrees everywhere");
        assert!(labels.disagreements.is_empty());
        let d = a.differences.as_ref().unwrap();
        let mean = d.mean.unwrap();
        assert_eq!((mean.value, mean.lower, mean.upper), (0.0, 0.0, 0.0));
        assert_eq!(d.beyond_gap.as_ref().unwrap().count, 0);
        assert!(a.drift.drifted.is_empty(), "{:?}", a.drift.drifted);
    }
    let only = compare("shop", &component("fraud"), &store, &query(Some("other")), &Options::default()).unwrap();
    assert_eq!(only.shadows.iter().map(|s| s.version.as_str()).collect::<Vec<_>>(), ["v3"]);
    assert_eq!(only.shadow_predictions, 40);
}
