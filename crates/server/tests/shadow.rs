//! A shadow compared with the champion on a real server (`GET /v1/components/{name}/shadow`):
//! one that turns the champion's answer around on a known share of requests shows that
//! share changed and the differences the flipped scores make, each worked out again here
//! from what was recorded; one identical to the champion agrees on every request with no
//! score difference; and the route refuses what it cannot read.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rein_decision::{Model, ModelError, ModelInfo, ModelOutput};
use rein_runtime::ServedModel;
use rein_server::ModelVersions;
use rein_system::FeatureValue;
use rein_telemetry::{Durability, SqliteStore};
use serde_json::{Value, json};

/// The example's model under another version; where `flip` holds for a row's `url_length`,
/// it answers the other label, the two probabilities swapped. Test-only: a shadow that
/// differs from the champion exactly where the test says.
struct Flipping {
    inner: Arc<dyn ServedModel>,
    info: ModelInfo,
    flip: fn(i64) -> bool,
}

impl Model for Flipping {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn infer(&self, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError> {
        let answers = self.inner.infer(rows)?;
        Ok(rows
            .iter()
            .zip(answers)
            .map(|(row, answer)| match (&row[0], answer) {
                // url_length is the schema's first feature
                (FeatureValue::Integer(n), ModelOutput::Class { label, mut probabilities }) if (self.flip)(*n) => {
                    probabilities.reverse();
                    let label = if label == "phishing" { "legit" } else { "phishing" };
                    ModelOutput::Class { label: label.into(), probabilities }
                }
                (_, answer) => answer,
            })
            .collect())
    }
}

impl rein_runtime::RawModel for Flipping {
    fn inputs(&self) -> &[rein_runtime::TensorSpec] {
        self.inner.inputs()
    }
    fn outputs(&self) -> &[rein_runtime::TensorSpec] {
        self.inner.outputs()
    }
    fn platform(&self) -> &str {
        self.inner.platform()
    }
    fn infer_raw(&self, inputs: Vec<rein_runtime::RawTensor>) -> Result<Vec<rein_runtime::RawTensor>, ModelError> {
        self.inner.infer_raw(inputs)
    }
}

impl ServedModel for Flipping {
    fn engine(&self) -> rein_runtime::Engine {
        self.inner.engine()
    }
    fn model_labels(&self) -> Option<&[String]> {
        self.inner.model_labels()
    }
    fn warnings(&self) -> &[rein_runtime::LoadWarning] {
        self.inner.warnings()
    }
}

const PLAN: &str = r#"[components.traffic]
experiment = "shadow-v2"
shadow = { alias = "candidate", max_in_flight = 512 }
"#;

/// A recording server whose champion is the example's model and whose `candidate`, the
/// plan's shadow, is it as version `v-shadow`, turned around where `flip` holds.
async fn serve(flip: fn(i64) -> bool) -> (Server, String, tempfile::TempDir) {
    let system = system(|t| t.replacen("[[components.features]]", &format!("{PLAN}\n[[components.features]]"), 1));
    let dir = tempfile::tempdir().unwrap();
    let champion = rein_runtime::load_system(&system).unwrap_or_else(|d| panic!("{d}")).remove(0);
    let champion_version = champion.info().version.clone();
    let info = ModelInfo { name: champion.info().name.clone(), version: "v-shadow".into() };
    let shadow: Arc<dyn ServedModel> = Arc::new(Flipping { inner: champion.clone(), info, flip });
    let versions = ModelVersions::new(champion).with(shadow).unwrap().aliased("candidate", "v-shadow");
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let data_dir = rein_telemetry::DataDir::lock(dir.path()).unwrap();
    let clock = rein_telemetry::clock::system();
    let telemetry = rein_server::Telemetry::start(store, &system, data_dir, Durability::Durable, clock).unwrap();
    let app = rein_server::App::new(system, vec![versions], Some(telemetry));
    assert!(app.traffic_errors().is_empty(), "{:?}", app.traffic_errors());
    (Server::serving(app).await, champion_version, dir)
}

const REQUESTS: i64 = 200;

/// Sends the requests, url_length 100 to 299, and waits until every copy is recorded (none
/// may be dropped: the bound is above the requests); answers the comparison.
async fn shadowed(server: &Server) -> Value {
    for i in 0..REQUESTS {
        let mut features = page();
        features["url_length"] = json!(100 + i);
        let (status, answer) = server.predict(json!({"features": features, "unit": format!("user-{i}")})).await;
        assert_eq!(status, 200, "{answer:#}");
        assert_eq!(answer["variant"], "main", "the shadow is never shown: {answer:#}");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, report) = server.get_json("/v1/components/phishing/shadow").await;
        assert_eq!(status, 200, "{report:#}");
        if report["shadow_predictions"] == json!(REQUESTS) || Instant::now() > deadline {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn close(got: &Value, want: f64, what: &str) {
    let got = got.as_f64().unwrap_or_else(|| panic!("{what}: {got}"));
    assert!((got - want).abs() <= 1e-9, "{what}: {got} against {want}");
}

/// The answers recorded (not the shadow's): (url_length, the model's score, or none where the
/// model's call failed, or timed out under a loaded machine, and the fallback answered).
async fn answers(server: &Server) -> Vec<(i64, Option<f64>)> {
    let (status, page) = server.get_json("/v1/predictions?component=phishing&limit=10000").await;
    assert_eq!(status, 200);
    let answers: Vec<(i64, Option<f64>)> = page["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["variant"] == "main")
        .map(|p| (p["features"]["url_length"].as_i64().unwrap(), p["raw"]["score"].as_f64()))
        .collect();
    assert_eq!(answers.len() as i64, REQUESTS);
    answers
}

/// The one shadow version's comparison against the champion; `fell_back` answers had no
/// model output to compare.
fn against<'a>(report: &'a Value, champion: &str, fell_back: usize) -> &'a Value {
    assert_eq!(report["shadow_predictions"], json!(REQUESTS), "every copy recorded: {report:#}");
    let shadows = report["shadows"].as_array().unwrap();
    assert_eq!(shadows.len(), 1, "{report:#}");
    assert_eq!(shadows[0]["version"], "v-shadow");
    assert_eq!(shadows[0]["experiments"], json!(["shadow-v2"]));
    assert_eq!(shadows[0]["original_missing"], 0);
    let against = &shadows[0]["against"][0];
    assert_eq!(against["answered_version"], champion);
    assert_eq!(
        (against["pairs"].as_i64(), against["without_output"].as_u64()),
        (Some(REQUESTS), Some(fell_back as u64))
    );
    against
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_that_turns_a_quarter_of_the_answers_around_changes_a_quarter() {
    // a quarter of the requests: url_length 101, 105, ..., 297
    let (server, champion, _dir) = serve(|n| n % 4 == 1).await;
    let report = shadowed(&server).await;
    let answers = answers(&server).await;
    let modelled: Vec<(i64, f64)> = answers.iter().filter_map(|(n, p)| Some((*n, (*p)?))).collect();
    let a = against(&report, &champion, answers.len() - modelled.len());
    // 200 with no fallback (the machine not loaded); each compared answer counted again
    let (n, flipped) = (modelled.len() as u64, modelled.iter().filter(|(n, _)| n % 4 == 1).count() as u64);

    let labels = &a["labels"];
    assert_eq!((labels["pairs"].as_u64(), labels["agreeing"].as_u64()), (Some(n), Some(n - flipped)), "{labels:#}");
    let wilson = rein_stats::wilson_interval(flipped, n, 0.95).unwrap();
    close(&labels["changed"]["value"], flipped as f64 / n as f64, "changed");
    close(&labels["changed"]["lower"], wilson.lower, "changed, lower");
    close(&labels["changed"]["upper"], wilson.upper, "changed, upper");
    assert_eq!(labels["changed"]["method"], "wilson");
    close(&labels["agreement"]["value"], (n - flipped) as f64 / n as f64, "agreement");
    let disagreements: u64 =
        labels["disagreements"].as_array().unwrap().iter().map(|d| d["count"].as_u64().unwrap()).sum();
    assert_eq!(disagreements, flipped, "{labels:#}");

    // the differences, again from the recorded answers: a flipped score is 1 − p
    let differences: Vec<f64> =
        modelled.iter().map(|(n, score)| if n % 4 == 1 { 1.0 - 2.0 * score } else { 0.0 }).collect();
    let count = differences.len() as f64;
    let mean = differences.iter().sum::<f64>() / count;
    let absolute: Vec<f64> = differences.iter().map(|d| d.abs()).collect();
    let t = rein_stats::t_interval(&differences, 0.95).unwrap();
    let d = &a["differences"];
    assert_eq!(d["field"], "score");
    close(&d["mean"]["value"], mean, "mean difference");
    close(&d["mean"]["lower"], t.lower, "mean difference, lower");
    close(&d["mean"]["upper"], t.upper, "mean difference, upper");
    assert_eq!(d["mean"]["method"], "t");
    close(&d["mean_absolute"]["value"], absolute.iter().sum::<f64>() / count, "mean absolute difference");
    let apart = absolute.iter().filter(|d| **d > 0.1 + 1e-12).count();
    assert_eq!(d["beyond_gap"]["count"].as_u64(), Some(apart as u64));

    // the drift names the measure that decided each output column
    for column in a["drift"]["columns"].as_array().unwrap() {
        assert!(column["decision"]["method"].is_string(), "{column:#}");
    }
    // the answer has, at each level, the fields its OpenAPI schema describes, and no other
    let (_, spec) = server.get_json("/openapi.json").await;
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<std::collections::BTreeSet<_>>();
    for (schema, answered) in
        [("ShadowComparison", &report), ("ShadowVersionComparison", &report["shadows"][0]), ("ShadowAgainst", a)]
    {
        let described = &spec["components"]["schemas"][schema]["properties"];
        assert_eq!(keys(described), keys(answered), "{schema}");
    }
    let verdict = a["verdict"].as_str().unwrap();
    let said = format!("{:.1}% [{:.1}, {:.1}]", 100.0 * wilson.estimate, 100.0 * wilson.lower, 100.0 * wilson.upper);
    assert!(verdict.starts_with(&format!("v-shadow would change the label on {said} of {n} requests")), "{verdict}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_identical_to_the_champion_agrees_everywhere() {
    let (server, champion, _dir) = serve(|_| false).await;
    let report = shadowed(&server).await;
    let answers = answers(&server).await;
    let modelled = answers.iter().filter(|(_, p)| p.is_some()).count();
    let a = against(&report, &champion, answers.len() - modelled);
    let labels = &a["labels"];
    assert_eq!((labels["pairs"].as_u64(), labels["agreeing"].as_u64()), (Some(modelled as u64), Some(modelled as u64)));
    close(&labels["agreement"]["value"], 1.0, "agreement");
    close(&labels["agreement"]["upper"], 1.0, "agreement, upper");
    close(&labels["changed"]["value"], 0.0, "changed");
    assert_eq!(labels["disagreements"], json!([]));
    let d = &a["differences"];
    for part in ["value", "lower", "upper"] {
        close(&d["mean"][part], 0.0, "mean difference");
        close(&d["mean_absolute"][part], 0.0, "mean absolute difference");
    }
    assert_eq!(d["beyond_gap"]["count"], 0);
    assert_eq!(a["drift"]["drifted"], json!([]), "{:#}", a["drift"]);

    // a range holding none of them, and an experiment of none
    let (_, none) = server.get_json("/v1/components/phishing/shadow?until=1000").await;
    assert_eq!((none["shadow_predictions"].as_i64(), none["shadows"].as_array().map(Vec::len)), (Some(0), Some(0)));
    let (_, other) = server.get_json("/v1/components/phishing/shadow?experiment=other").await;
    assert_eq!(other["shadow_predictions"], 0);
    server.stop().await;
}

#[tokio::test]
async fn what_it_cannot_read_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let server = Server::recording(|t| t, store, dir.path(), Durability::Durable).await;
    for (query, names) in [
        ("since=yesterday", "`since` is `yesterday`"),
        ("until=soon", "`until` is `soon`"),
        ("window=1d", "unknown field `window`"),
    ] {
        let (status, body) = server.get_json(&format!("/v1/components/phishing/shadow?{query}")).await;
        assert_eq!(status, 422, "{query}: {body:#}");
        assert_error(&body, "bad_query");
        assert!(body["error"]["message"].as_str().unwrap().contains(names), "{query}: {body:#}");
    }
    let (status, body) = server.get_json("/v1/components/nope/shadow").await;
    assert_eq!(status, 404);
    assert_error(&body, "unknown_component");
    // no shadow: an empty comparison, not an error
    let (status, body) = server.get_json("/v1/components/phishing/shadow").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["shadows"], json!([]));
    server.stop().await;
}
