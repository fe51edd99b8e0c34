//! `rein shadow` as a user runs it, over a data directory holding the phishing example's
//! answers and a shadow's copies of them: the shadow turns every tenth answer around.

use std::path::Path;
use std::process::Command;

use rein_telemetry::{Event, JsonText, PredictionEvent, SqliteStore, Store};
use serde_json::{Value, json};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
const T0: i64 = 1_767_225_600_000;

fn rein(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rein")).args(args).output().expect("rein runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn prediction(id: String, at: i64, version: &str, variant: &str, score: f64) -> PredictionEvent {
    let label = if score >= 0.5 { "phishing" } else { "legit" };
    let output = JsonText::of(&json!({"label": label, "score": score,
        "probabilities": {"legit": 1.0 - score, "phishing": score}}));
    PredictionEvent {
        id,
        time_ms: at,
        system: "phishing-warning".into(),
        component: "phishing".into(),
        unit: None,
        model_name: "phishing".into(),
        model_version: version.into(),
        variant: variant.into(),
        features: JsonText::of(&json!({"url_length": 40})),
        raw_output: output.clone(),
        guardrails: JsonText::of(&json!([])),
        output,
        mode: "none".into(),
        decision: JsonText::of(&json!({"mode": "none", "reason": {"kind": "fixed"}})),
        fallback: None,
        latency_us: 100,
        experiment: Some("shadow-v2".into()),
        shadow_of: None,
    }
}

/// 500 answers of `v1`, scores spread over (0, 1); a shadow `v2` copying each, its score
/// turned to 1 − p on every tenth.
fn record(dir: &Path) {
    let mut events: Vec<Event> = Vec::new();
    for i in 0..500i64 {
        let p = (i as f64 * 0.618_034).fract() * 0.9 + 0.05;
        let answered = prediction(format!("p{i:04}"), T0 + i * 1_000, "v1", "main", p);
        let turned = if i % 10 == 0 { 1.0 - p } else { p };
        let mut shadow = prediction(format!("s{i:04}"), answered.time_ms, "v2", "shadow", turned);
        shadow.shadow_of = Some(answered.id.clone());
        events.extend([answered.into(), shadow.into()]);
    }
    let store = SqliteStore::open(dir).unwrap();
    store.write_batch(&events, None).unwrap();
}

#[test]
fn rein_shadow_prints_the_comparison_and_its_json() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path());
    let system = format!("{EXAMPLES}/phishing-warning/rein.toml");
    let data = dir.path().to_str().unwrap();
    let (ok, out, err) = rein(&["shadow", &system, "phishing", "--data-dir", data]);
    assert!(ok, "{err}");
    // every tenth of 500 changed: 50 labels, as many as the turned scores cross 0.5
    let changed = (0..500i64)
        .filter(|i| i % 10 == 0)
        .filter(|i| {
            let p = (*i as f64 * 0.618_034).fract() * 0.9 + 0.05;
            (p >= 0.5) != (1.0 - p >= 0.5)
        })
        .count();
    let wilson = rein_stats::wilson_interval(changed as u64, 500, 0.95).unwrap();
    let said = format!(
        "v2 would change the label on {:.1}% [{:.1}, {:.1}] of 500 requests v1 answered",
        100.0 * wilson.estimate,
        100.0 * wilson.lower,
        100.0 * wilson.upper
    );
    assert!(out.contains(&said), "{out}\nlacks: {said}");
    for part in [
        "shadows of phishing (binary), everything recorded: 500 shadow prediction(s)",
        "label agreement",
        "score − answered",
        "drift of score",
        "drift of label",
        "not here: copies the shadow failed on",
    ] {
        assert!(out.contains(part), "{out}\nlacks: {part}");
    }

    let (ok, json_out, err) =
        rein(&["shadow", &system, "phishing", "--data-dir", data, "--since", "2026-01-01T00:00:00Z", "--json"]);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(report["since_ms"], T0);
    let against = &report["shadows"][0]["against"][0];
    assert_eq!(against["labels"]["agreeing"].as_u64(), Some(500 - changed as u64));
    assert_eq!(against["differences"]["pairs"], 500);

    let (ok, _, err) = rein(&["shadow", &system, "nope", "--data-dir", data]);
    assert!(!ok && err.contains("no component `nope`"), "{err}");
    let (ok, _, err) = rein(&["shadow", &system, "phishing", "--data-dir", data, "--until", "soon"]);
    assert!(!ok && err.contains("`until` is `soon`"), "{err}");
}
