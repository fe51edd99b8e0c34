//! Traffic plans on a real server: a split answers each unit with its arm's version for the
//! whole experiment and records its variant and experiment; a holdout gets the fallback with
//! no model call; a shadow never changes or delays an answer, is dropped and counted past
//! its bound, and its outputs are recorded beside the predictions they copy; the plan is
//! replaced over the admin API under the file's rules.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use rein_decision::{Model, ModelError, ModelInfo, ModelOutput};
use rein_runtime::ServedModel;
use rein_server::ModelVersions;
use rein_system::FeatureValue;
use rein_telemetry::{Durability, SqliteStore};
use reqwest::Method;
use serde_json::{Value, json};

/// The example's model under another version, answering as it does: after `delay`, and
/// counting its calls. Test-only: a stand-in for a second version (or a slow shadow).
struct Wrapped {
    inner: Arc<dyn ServedModel>,
    info: ModelInfo,
    delay: Duration,
    calls: Arc<AtomicUsize>,
}

fn wrapped(inner: &Arc<dyn ServedModel>, version: &str, delay: Duration) -> (Arc<dyn ServedModel>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let info = ModelInfo { name: inner.info().name.clone(), version: version.into() };
    (Arc::new(Wrapped { inner: inner.clone(), info, delay, calls: calls.clone() }), calls)
}

impl Model for Wrapped {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn infer(&self, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError> {
        self.calls.fetch_add(rows.len(), Ordering::SeqCst);
        std::thread::sleep(self.delay);
        self.inner.infer(rows)
    }
}

impl rein_runtime::RawModel for Wrapped {
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

impl ServedModel for Wrapped {
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

/// The example with `plan` as its component's `[components.traffic]`.
fn with_plan(plan: &'static str) -> impl Fn(String) -> String {
    move |text: String| {
        text.replacen("[[components.features]]", &format!("[components.traffic]\n{plan}\n\n[[components.features]]"), 1)
    }
}

const SPLIT: &str = r#"experiment = "warn-v2"
salt = "s1"
split = [{ variant = "control", alias = "champion", weight = 50 },
         { variant = "treatment", alias = "challenger", weight = 50 }]"#;

/// A recording server of `system` whose champion is the example's model (counted) and whose
/// `challenger` is it under version `v-challenger`, answering after `challenger_delay`.
struct Served {
    server: Server,
    champion_version: String,
    champion_calls: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

async fn serve(system: rein_system::System, challenger_delay: Duration) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let loaded = rein_runtime::load_system(&system).unwrap_or_else(|d| panic!("{d}")).remove(0);
    let champion_version = loaded.info().version.clone();
    let (champion, champion_calls) = wrapped(&loaded, &champion_version, Duration::ZERO);
    let (challenger, _) = wrapped(&loaded, "v-challenger", challenger_delay);
    let versions = ModelVersions::new(champion).with(challenger).unwrap().aliased("challenger", "v-challenger");
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let data_dir = rein_telemetry::DataDir::lock(dir.path()).unwrap();
    let clock = rein_telemetry::clock::system();
    let telemetry = rein_server::Telemetry::start(store, &system, data_dir, Durability::Durable, clock).unwrap();
    let app = rein_server::App::new(system, vec![versions], Some(telemetry));
    assert!(app.traffic_errors().is_empty(), "{:?}", app.traffic_errors());
    Served { server: Server::serving(app).await, champion_version, champion_calls, _dir: dir }
}

async fn predict_unit(server: &Server, unit: Option<&str>) -> Value {
    let mut body = json!({ "features": page() });
    if let Some(unit) = unit {
        body["unit"] = json!(unit);
    }
    let (status, answer) = server.predict(body).await;
    assert_eq!(status, 200, "{answer:#}");
    answer
}

/// Every recorded prediction of the phishing component, oldest first.
async fn recorded(server: &Server) -> Vec<Value> {
    let (status, page) = server.get_json("/v1/predictions?component=phishing&limit=10000").await;
    assert_eq!(status, 200, "{page:#}");
    page["predictions"].as_array().unwrap().clone()
}

fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_answers_each_unit_with_its_arms_version_for_the_whole_experiment() {
    let served = serve(system(with_plan(SPLIT)), Duration::ZERO).await;
    let server = &served.server;
    let mut seen: HashMap<String, (String, String)> = HashMap::new();
    for round in 0..2 {
        for u in 0..60 {
            let unit = format!("user-{u}");
            let a = predict_unit(server, Some(&unit)).await;
            let variant = a["variant"].as_str().unwrap().to_string();
            let version = a["model"]["version"].as_str().unwrap().to_string();
            assert_eq!(a["experiment"], "warn-v2", "{a:#}");
            assert_eq!(a["assignment"], "unit", "{a:#}");
            match variant.as_str() {
                "control" => assert_eq!(version, served.champion_version),
                "treatment" => assert_eq!(version, "v-challenger"),
                other => panic!("variant {other}"),
            }
            if round == 0 {
                seen.insert(unit, (variant, version));
            } else {
                assert_eq!(seen[&unit], (variant, version), "{unit} changed variant within the experiment");
            }
        }
    }
    let treated = seen.values().filter(|(v, _)| v == "treatment").count();
    assert!((15..=45).contains(&treated), "{treated} of 60 units treated at 50/50");

    // a batch: each instance answered by its own unit's arm, one call per version
    let instances: Vec<Value> = (0..12).map(|u| json!({"unit": format!("user-{u}"), "features": page()})).collect();
    let (status, batch) = server.predict(json!({ "instances": instances })).await;
    assert_eq!(status, 200, "{batch:#}");
    for (u, a) in batch["predictions"].as_array().unwrap().iter().enumerate() {
        let (variant, version) = &seen[&format!("user-{u}")];
        assert_eq!((&a["variant"], &a["model"]["version"]), (&json!(variant), &json!(version)), "{a:#}");
    }

    // no unit: assigned per request, and the answer says so
    let a = predict_unit(server, None).await;
    assert_eq!(a["assignment"], "per_request", "{a:#}");
    assert!(a["variant"] == "control" || a["variant"] == "treatment", "{a:#}");

    // each recorded event carries its variant, experiment and the version that answered
    let records = recorded(server).await;
    assert_eq!(records.len(), 133);
    for r in &records {
        let Some(unit) = r["unit"].as_str() else { continue };
        let (variant, version) = &seen[unit];
        assert_eq!((&r["variant"], &r["model"]["version"]), (&json!(variant), &json!(version)), "{r:#}");
        assert_eq!(r["experiment"], "warn-v2");
    }

    // and /metrics counts by variant, the plan's variants only
    let (_, text) = server.get("/metrics").await;
    let control = metric(&text, r#"rein_traffic_requests_total{component="phishing",variant="control"}"#);
    let treatment = metric(&text, r#"rein_traffic_requests_total{component="phishing",variant="treatment"}"#);
    assert!(control.unwrap() >= 1.0 && treatment.unwrap() >= 1.0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holdout_gets_the_fallback_with_no_model_call() {
    let served = serve(
        system(with_plan(
            r#"experiment = "no-ml-baseline"
holdout = { share = 0.5 }"#,
        )),
        Duration::ZERO,
    )
    .await;
    let server = &served.server;
    let (mut held, mut served_ml) = (0, 0);
    for u in 0..40 {
        let before = served.champion_calls.load(Ordering::SeqCst);
        let a = predict_unit(server, Some(&format!("user-{u}"))).await;
        let calls = served.champion_calls.load(Ordering::SeqCst) - before;
        match a["variant"].as_str().unwrap() {
            "holdout" => {
                held += 1;
                assert_eq!(calls, 0, "a held-out unit called the model: {a:#}");
                assert_eq!(a["raw"], Value::Null, "{a:#}");
                assert_eq!(a["decision"]["reason"]["kind"], "fallback", "{a:#}");
                assert!(a["fallback"].as_str().unwrap().contains("held out of ML by experiment `no-ml-baseline`"));
                // the example's fallback: never warn
                assert_eq!(a["output"]["label"], "legit", "{a:#}");
            }
            "main" => {
                served_ml += 1;
                assert_eq!(calls, 1, "{a:#}");
                assert_ne!(a["raw"], Value::Null);
            }
            other => panic!("variant {other}"),
        }
        assert_eq!(a["experiment"], "no-ml-baseline");
    }
    assert!(held >= 8 && served_ml >= 8, "held {held}, served {served_ml} of 40 at share 0.5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_shadow_never_changes_or_delays_an_answer_is_bounded_and_recorded() {
    // the shadow sleeps 1.5 s a call; at most 2 copies in flight
    let shadowed = serve(
        system(with_plan(
            r#"experiment = "shadow-v3"
shadow = { alias = "challenger", max_in_flight = 2 }"#,
        )),
        Duration::from_millis(1500),
    )
    .await;
    let plain = Server::start(|t| t).await;
    let n = 12;
    let mut answered = Vec::new();
    for u in 0..n {
        let features = if u % 2 == 0 { page() } else { benign() };
        let body = json!({ "unit": format!("user-{u}"), "features": features });
        let started = Instant::now();
        let (status, with_shadow) = shadowed.server.predict(body.clone()).await;
        let took = started.elapsed();
        assert_eq!(status, 200, "{with_shadow:#}");
        // the answer never waits for the shadow's 1.5 s
        assert!(took < Duration::from_millis(750), "answered in {took:?} with a slow shadow");
        let (_, without) = plain.predict(body).await;
        for part in ["raw", "output", "decision", "guardrails", "fallback"] {
            assert_eq!(with_shadow[part], without[part], "`{part}` differs with a shadow");
        }
        assert_eq!(with_shadow["model"]["version"], without["model"]["version"]);
        assert_eq!(with_shadow["variant"], "main");
        answered.push(with_shadow);
    }

    // copies past the bound were dropped and counted; the others recorded as `shadow`
    let deadline = Instant::now() + Duration::from_secs(20);
    let (shadows, dropped) = loop {
        let shadows: Vec<Value> =
            recorded(&shadowed.server).await.into_iter().filter(|r| r["variant"] == "shadow").collect();
        let (_, text) = shadowed.server.get("/metrics").await;
        let dropped = metric(&text, r#"rein_shadow_dropped_total{component="phishing"}"#).unwrap_or(0.0) as usize;
        if shadows.len() + dropped == n || Instant::now() > deadline {
            break (shadows, dropped);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(shadows.len() + dropped, n, "each copy is recorded or counted as dropped");
    assert!(dropped >= 1, "12 copies in a burst against a bound of 2 must drop some");
    assert!(!shadows.is_empty() && shadows.len() <= n);
    for s in &shadows {
        let of = s["shadow_of"].as_str().expect("a shadow names the prediction it copies");
        let original = answered.iter().find(|a| a["prediction_id"] == of).expect("it copies an answered prediction");
        assert_eq!(s["model"]["version"], "v-challenger");
        assert_eq!(s["experiment"], "shadow-v3");
        assert_eq!(s["unit"], original["unit"]);
        // the same model underneath: the shadow agrees with what was answered
        assert_eq!(s["raw"], original["raw"], "{s:#}");
        assert_ne!(s["prediction_id"], original["prediction_id"]);
    }
    plain.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_naming_no_loaded_version_is_refused_at_start_naming_it() {
    let system = system(with_plan(SPLIT));
    let models = rein_runtime::load_system(&system).unwrap_or_else(|d| panic!("{d}"));
    let app = rein_server::App::new(system, models, None);
    let errors = app.traffic_errors();
    assert_eq!(errors.len(), 1);
    let message = errors[0].to_string();
    assert!(message.contains("alias `challenger`") && message.contains("split[1]"), "{message}");
    assert!(message.contains("champion →"), "the loaded aliases are listed: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_replaces_the_plan_under_the_files_rules() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::with_registry(|t| t, dir.path(), Some(ADMIN_TOKEN), false).await;
    let (status, body) = server.get_json("/v1/components/phishing/traffic").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["plan"], Value::Null);
    assert_eq!(predict_unit(&server, Some("u1")).await["variant"], "main");

    let plan = json!({"experiment": "warn-v2", "salt": "s1", "split": [
        {"variant": "control", "alias": "champion", "weight": 50},
        {"variant": "treatment", "alias": "challenger", "weight": 50}]});
    let put = |body: &Value, token: Option<&str>| {
        let r = server.client.put(server.url("/v1/components/phishing/traffic")).json(body);
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    };
    let send = |r: reqwest::RequestBuilder| async move {
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (status, body) = send(put(&plan, None)).await;
    assert_eq!(status, 401, "{body:#}");
    assert_error(&body, "unauthorized");

    // no challenger loaded yet: refused, naming the alias and what is loaded
    let (status, body) = send(put(&plan, Some(ADMIN_TOKEN))).await;
    assert_eq!(status, 422, "{body:#}");
    assert_error(&body, "invalid_traffic_plan");
    assert!(body["error"]["message"].as_str().unwrap().contains("alias `challenger`"), "{body:#}");
    assert_eq!(body["error"]["details"]["field"], "split[1]");

    // each broken rule named by its field
    let mut broken = plan.clone();
    broken["split"][1]["weight"] = json!(-1);
    broken["holdout"] = json!({"share": 0.9});
    let (status, body) = send(put(&broken, Some(ADMIN_TOKEN))).await;
    assert_eq!(status, 422, "{body:#}");
    let fields: Vec<&str> =
        body["error"]["details"]["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["split[1].weight", "holdout.share"], "{body:#}");
    let (status, body) = send(put(&json!({"experiment": "x", "splitt": []}), Some(ADMIN_TOKEN))).await;
    assert_eq!(status, 422, "{body:#}");
    assert_error(&body, "bad_request_shape");

    // with a challenger registered, the plan serves: units split between the two versions
    let (status, body) = answer(
        server
            .admin(Method::POST, "/v1/models/phishing/versions?alias=challenger&version=v2")
            .body(example_model_variant(b'2')),
    )
    .await;
    assert_eq!(status, 201, "{body:#}");
    let (status, body) = send(put(&plan, Some(ADMIN_TOKEN))).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["plan"]["experiment"], "warn-v2");
    assert_eq!(body["arms"][1], json!({"variant": "treatment", "weight": 50.0, "version": "v2"}));
    let (_, shown) = server.get_json("/v1/components/phishing/traffic").await;
    assert_eq!(shown, body);
    let mut variants = HashMap::new();
    for u in 0..40 {
        let a = predict_unit(&server, Some(&format!("user-{u}"))).await;
        let expected_version = if a["variant"] == "treatment" { "v2" } else { "sha256:d019131ec354" };
        assert_eq!(a["model"]["version"], expected_version, "{a:#}");
        *variants.entry(a["variant"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    assert!(variants.contains_key("control") && variants.contains_key("treatment"), "{variants:?}");

    // null removes it: the champion answers everything again
    let (status, body) = send(put(&Value::Null, Some(ADMIN_TOKEN))).await;
    assert_eq!(status, 200, "{body:#}");
    let a = predict_unit(&server, Some("user-1")).await;
    assert_eq!((&a["variant"], a.get("experiment")), (&json!("main"), None), "{a:#}");
}
