//! The rollout controller on a real server: a canary steps up while no harm shows and is
//! promoted when its last step improves the primary goal; one that harms it is rolled back;
//! a model that fails rolls back on errors; an operator pauses, resumes, aborts and retries;
//! a restart resumes a rollout where it was. Event time comes from the requests' `time_ms`,
//! and each look is taken by `App::evaluate_rollouts`, so no test sleeps.

mod common;

use std::path::Path;

use common::{EXAMPLE_DIR, Server, answer, benign, page};
use reqwest::Method;
use serde_json::{Value, json};

/// 2026-01-01T00:00Z: the requests' clock.
const START_MS: i64 = 1_767_225_600_000;
const HOUR_MS: i64 = 3_600_000;
/// Units a simulated hour: each sends one page.
const UNITS: usize = 1000;

fn with_batches(text: String) -> String {
    common::without_monitors(text).replacen("[[components]]", "[server]\nmax_batch = 100\n\n[[components]]", 1)
}

async fn register(server: &Server, file: &str, alias: &str) -> String {
    let bytes = std::fs::read(Path::new(EXAMPLE_DIR).join(file)).unwrap();
    let path = format!("/v1/models/phishing/versions?alias={alias}");
    let (status, body) = answer(server.admin(Method::POST, &path).body(bytes)).await;
    assert_eq!(status, 201, "{body:#}");
    body["version"]["id"].as_str().unwrap().to_string()
}

fn canary(steps: &[f64], alias: &str) -> Value {
    json!({
        "experiment": "warn-v2",
        "canary": {"alias": alias, "steps": steps},
        "analysis": {"window": "1h", "primary": "few_credentials_entered", "min_predictions": 80, "deadline": "2d"},
    })
}

async fn put_plan(server: &Server, plan: &Value) -> (u16, Value) {
    answer(server.admin(Method::PUT, "/v1/components/phishing/traffic").json(plan)).await
}

/// A deterministic coin: the share `p` of (hour, unit) pairs come up.
fn coin(hour: i64, unit: usize, p: f64) -> bool {
    let x = (hour as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (unit as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let x = (x ^ (x >> 31)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((x >> 11) as f64 / (1u64 << 53) as f64) < p
}

/// One simulated hour: each of its units (new ones each hour) sends a page; users answered by the canary enter their
/// credentials at `canary_rate`, the others at `stable_rate`. Returns predictions by variant.
async fn hour(server: &Server, h: i64, canary_rate: f64, stable_rate: f64) -> (usize, usize) {
    let mut seen = (0, 0);
    for chunk in 0..UNITS / 100 {
        let instances: Vec<Value> = (chunk * 100..chunk * 100 + 100)
            .map(|u| {
                let features = if u % 7 == 0 { page() } else { benign() };
                let time_ms = START_MS + h * HOUR_MS + (u as i64) * 3000;
                json!({"unit": format!("u{h}-{u}"), "features": features, "time_ms": time_ms})
            })
            .collect();
        let (status, body) = server.predict(json!({ "instances": instances })).await;
        assert_eq!(status, 200, "{body:#}");
        for (i, p) in body["predictions"].as_array().unwrap().iter().enumerate() {
            let u = chunk * 100 + i;
            let variant = p["variant"].as_str().unwrap_or_default();
            let rate = if variant == "canary" { canary_rate } else { stable_rate };
            if variant == "canary" {
                seen.0 += 1
            } else {
                seen.1 += 1
            }
            if coin(h, u, rate) {
                let time_ms = START_MS + h * HOUR_MS + (u as i64) * 3000 + 1000;
                let outcome = json!({"prediction_id": p["prediction_id"], "unit": format!("u{h}-{u}"),
                                     "name": "credentials_entered", "time_ms": time_ms});
                let (status, body) = server.post("/v1/outcomes", outcome.to_string()).await;
                assert!(status < 300, "{body:#}");
            }
        }
    }
    seen
}

async fn rollout(server: &Server) -> Value {
    let (status, body) = server.get_json("/v1/components/phishing/rollout").await;
    assert_eq!(status, 200, "{body:#}");
    body
}

async fn look(server: &Server) {
    server.running.as_ref().unwrap().app.evaluate_rollouts().await.unwrap();
}

fn actions(r: &Value) -> Vec<String> {
    r["actions"].as_array().unwrap().iter().map(|a| a["kind"]["kind"].as_str().unwrap().to_string()).collect()
}

async fn champion(server: &Server) -> String {
    let (status, body) = server.get_json("/v1/models/phishing").await;
    assert_eq!(status, 200, "{body:#}");
    body["aliases"]["champion"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_that_helps_steps_up_and_is_promoted_with_its_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::with_registry(with_batches, dir.path(), Some(common::ADMIN_TOKEN), true).await;
    let before = champion(&server).await;
    let candidate = register(&server, "challenger.onnx", "challenger").await;
    hour(&server, 0, 0.2, 0.2).await; // before the rollout: the champion alone
    let (status, body) = put_plan(&server, &canary(&[10.0, 50.0, 100.0], "challenger")).await;
    assert_eq!(status, 200, "{body:#}");
    let r = rollout(&server).await;
    assert_eq!((r["status"].as_str(), r["candidate"].as_str()), (Some("running"), Some(candidate.as_str())));
    assert_eq!(r["champion"], json!(before));

    let mut percents = Vec::new();
    for h in 1..=8 {
        let (canary, stable) = hour(&server, h, 0.02, 0.2).await;
        percents.push((canary, stable));
        look(&server).await;
        if rollout(&server).await["status"] != "running" {
            break;
        }
    }
    let r = rollout(&server).await;
    assert_eq!(r["status"], "promoted", "{r:#}");
    assert_eq!(actions(&r), ["started", "advanced", "promoted"], "{r:#}");
    // the first step held about 10% of units, the second about half
    let (c0, s0) = percents[0];
    assert!((60..=140).contains(&c0) && s0 > 800, "{percents:?}");
    let promoted = &r["actions"][2];
    assert_eq!(promoted["evidence"]["verdict"], "ship", "{promoted:#}");
    assert!(promoted["evidence"]["candidate_predictions"].as_u64().unwrap() >= 80);
    assert!(promoted["summary"].as_str().unwrap().contains("few_credentials_entered"), "{promoted:#}");
    // champion moved, by the controller, and the plan settled: the candidate answers all
    assert_eq!(champion(&server).await, candidate);
    let (_, history) = server.get_json("/v1/models/phishing/history").await;
    let moves = history["moves"].as_array().unwrap();
    assert_eq!(moves.last().unwrap()["by"], "controller", "{history:#}");
    let (_, traffic) = server.get_json("/v1/components/phishing/traffic").await;
    assert_eq!(traffic["plan"], Value::Null, "{traffic:#}");
    let (status, p) = server.predict(json!({"unit": "u1", "features": page()})).await;
    assert_eq!((status, p["model"]["version"].as_str()), (200, Some(candidate.as_str())));
    // the record is in the registry: every action, append-only
    let registry = rein_registry::store::Registry::in_data_dir(dir.path(), rein_telemetry::clock::system()).unwrap();
    let stored = registry.rollout_actions("phishing/warn-v2/1").unwrap().unwrap();
    assert_eq!(stored.len(), 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_that_harms_users_is_rolled_back_and_the_champion_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::with_registry(with_batches, dir.path(), Some(common::ADMIN_TOKEN), true).await;
    let before = champion(&server).await;
    register(&server, "challenger-broken.onnx", "challenger").await;
    let (status, body) = put_plan(&server, &canary(&[20.0, 50.0, 100.0], "challenger")).await;
    assert_eq!(status, 200, "{body:#}");
    let mut looks = 0;
    for h in 0..6 {
        hour(&server, h, 0.45, 0.05).await;
        look(&server).await;
        looks += 1;
        if rollout(&server).await["status"] != "running" {
            break;
        }
    }
    let r = rollout(&server).await;
    assert_eq!(r["status"], "rolled_back", "{r:#}");
    assert!(looks <= 3, "rolled back within two looks of the first closed window: {looks}");
    let back = r["actions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(back["evidence"]["verdict"], "stop_harm", "{back:#}");
    assert!(back["summary"].as_str().unwrap().starts_with("rolled back"), "{back:#}");
    assert_eq!(champion(&server).await, before);
    let (_, traffic) = server.get_json("/v1/components/phishing/traffic").await;
    assert_eq!(traffic["plan"], Value::Null);
    let metrics = server.get("/metrics").await.1;
    assert!(
        metrics.contains("rein_rollout_actions_total{component=\"phishing\",action=\"rolled_back\"} 1"),
        "{metrics}"
    );
    // an operator may try again: the canary starts over from its first step
    let (status, retried) =
        answer(server.admin(Method::POST, "/v1/components/phishing/rollout/retry").json(&json!({"by": "ana"}))).await;
    assert_eq!(status, 200, "{retried:#}");
    assert_eq!((retried["attempt"].as_u64(), retried["status"].as_str()), (Some(2), Some("running")));
    assert_eq!(retried["plan"]["canary"]["step"], 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_pause_resume_and_abort_and_a_restart_resumes_the_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::with_registry(with_batches, dir.path(), Some(common::ADMIN_TOKEN), true).await;
    register(&server, "challenger.onnx", "challenger").await;
    hour(&server, 0, 0.2, 0.2).await;
    let (status, _) = put_plan(&server, &canary(&[10.0, 50.0, 100.0], "challenger")).await;
    assert_eq!(status, 200);
    // without the token, or with a command that does not apply
    let (status, _) = server.post("/v1/components/phishing/rollout/pause", "").await;
    assert_eq!(status, 401);
    let command = |c: &str| server.admin(Method::POST, &format!("/v1/components/phishing/rollout/{c}"));
    let (status, body) = answer(command("resume")).await;
    assert_eq!(status, 409, "{body:#}");
    assert_eq!(body["error"]["code"], "rollout_conflict");
    assert!(body["error"]["message"].as_str().unwrap().contains("only a paused rollout can be resumed"));
    let (status, body) = answer(command("explode")).await;
    assert_eq!(status, 404, "{body:#}");

    let (status, paused) = answer(command("pause").json(&json!({"by": "ana", "reason": "checking latency"}))).await;
    assert_eq!((status, paused["status"].as_str()), (200, Some("paused")));
    // a paused rollout is not judged, whatever its evidence
    for h in 1..3 {
        hour(&server, h, 0.02, 0.2).await;
        look(&server).await;
    }
    let r = rollout(&server).await;
    assert_eq!(actions(&r), ["started", "paused"]);
    assert_eq!(r["plan"]["canary"]["step"], 0);
    server.stop().await;

    // a restart: the paused rollout comes back with its plan, not the file's (none)
    let server = Server::with_registry(with_batches, dir.path(), Some(common::ADMIN_TOKEN), true).await;
    let r = rollout(&server).await;
    assert_eq!((r["status"].as_str(), r["id"].as_str()), (Some("paused"), Some("phishing/warn-v2/1")));
    let (_, traffic) = server.get_json("/v1/components/phishing/traffic").await;
    assert_eq!(traffic["plan"]["canary"]["steps"], json!([10.0, 50.0, 100.0]), "{traffic:#}");
    let (status, _) = answer(command_on(&server, "resume")).await;
    assert_eq!(status, 200);
    hour(&server, 3, 0.02, 0.2).await;
    look(&server).await;
    let r = rollout(&server).await;
    assert_eq!(actions(&r), ["started", "paused", "resumed", "advanced"], "{r:#}");
    let (status, aborted) = answer(command_on(&server, "abort")).await;
    assert_eq!((status, aborted["status"].as_str()), (200, Some("aborted")));
    let (_, traffic) = server.get_json("/v1/components/phishing/traffic").await;
    assert_eq!(traffic["plan"], Value::Null);
    let (_, all) = server.get_json("/v1/rollouts").await;
    assert_eq!(all["rollouts"].as_array().unwrap().len(), 1);
    server.stop().await;
}

fn command_on(server: &Server, c: &str) -> reqwest::RequestBuilder {
    server.admin(Method::POST, &format!("/v1/components/phishing/rollout/{c}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_under_analysis_is_checked_before_anything_changes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::with_registry(with_batches, dir.path(), Some(common::ADMIN_TOKEN), true).await;
    register(&server, "challenger.onnx", "challenger").await;
    let mut plan = canary(&[10.0, 100.0], "challenger");
    plan["analysis"]["window"] = json!("soon");
    plan["analysis"]["max_error_rate"] = json!(2);
    let (status, body) = put_plan(&server, &plan).await;
    assert_eq!(status, 422, "{body:#}");
    let fields: Vec<&str> =
        body["error"]["details"]["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["analysis.window", "analysis.max_error_rate"]);
    let (status, _) = server.get_json("/v1/components/phishing/rollout").await;
    assert_eq!(status, 404, "nothing started");
    server.stop().await;
}
