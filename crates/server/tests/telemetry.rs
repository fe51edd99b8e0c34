//! Telemetry through the real server: every prediction recorded, feedback and outcomes
//! joined to it, bad feedback refused clearly, and a stalled store never losing anything.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::*;
use rein_telemetry::{Durability, SqliteStore, Store};
use serde_json::{Value, json};

fn sqlite(dir: &std::path::Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(dir).unwrap())
}

async fn predict_id(server: &Server, unit: &str) -> String {
    let (status, body) = server.predict(json!({"unit": unit, "features": page()})).await;
    assert_eq!(status, 200, "{body:#}");
    body["prediction_id"].as_str().unwrap().to_string()
}

/// The answer, single or batched, and the recorded prediction carry the same numbers to
/// the last digit: the answer reuses what its event serialized, and reads parse floats exactly.
#[tokio::test]
async fn answers_and_their_records_agree_to_the_last_digit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::recording(|t| t, sqlite(dir.path()), dir.path(), Durability::Durable).await;
    let (status, single) = server.predict(json!({"unit": "u-1", "features": page()})).await;
    assert_eq!(status, 200, "{single:#}");
    let (status, batch) = server
        .predict(json!({"instances": [
            {"unit": "u-2", "features": page()},
            {"unit": "u-3", "features": page(), "context": {"domain": "accounts.example.com"}},
        ]}))
        .await;
    assert_eq!(status, 200, "{batch:#}");
    let answers = std::iter::once(&single).chain(batch["predictions"].as_array().unwrap());
    for answer in answers {
        let id = answer["prediction_id"].as_str().unwrap();
        let (status, record) = server.get_json(&format!("/v1/predictions/{id}")).await;
        assert_eq!(status, 200, "{record:#}");
        assert_eq!(record["output"], answer["output"], "{id}");
        assert_eq!(record["raw"], answer["raw"], "{id}");
        assert_eq!(record["guardrails"], answer["guardrails"], "{id}");
        assert!(answer["output"]["score"].is_f64(), "{answer:#}");
    }
    // the second instance met the allow-list guardrail: its output is not the model's
    assert_ne!(batch["predictions"][1]["output"], batch["predictions"][1]["raw"]);

    // as text: the same page scores the same digits, alone, batched and looked up
    let text = |v: &Value| v["raw"]["score"].to_string();
    let digits = text(&single);
    let url = server.url("/v1/components/phishing/predict");
    let body = json!({"instances": [{"features": page()}]}).to_string();
    let batch_text = server.client.post(url).header("content-type", "application/json").body(body).send().await;
    let batch_text = batch_text.unwrap().text().await.unwrap();
    assert!(batch_text.contains(&format!("\"score\":{digits}")), "{digits} not in {batch_text}");
    let id = single["prediction_id"].as_str().unwrap();
    let (_, record_text) = server.get(&format!("/v1/predictions/{id}")).await;
    assert!(record_text.contains(&format!("\"score\":{digits}")), "{digits} not in {record_text}");
}

/// What only a recorded prediction has: the features as telemetry kept them, and (the lookup)
/// what the world said back. Everything else the predict answer has, under the same names.
const ONLY_RECORDED: [&str; 3] = ["features", "feedback", "outcomes"];

/// One record shape: a prediction's lookup, and its row in the listing, are the predict
/// answer itself plus what only the record has; single and batched, with guardrails that
/// acted and without.
#[tokio::test]
async fn a_prediction_is_one_object_answered_looked_up_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::recording(|t| t, sqlite(dir.path()), dir.path(), Durability::Durable).await;
    let (status, single) = server.predict(json!({"unit": "u-1", "features": page()})).await;
    assert_eq!(status, 200, "{single:#}");
    let (status, batch) = server
        .predict(json!({"instances": [
            {"unit": "u-2", "features": page(), "context": {"domain": "accounts.example.com"}},
            {"features": page(), "time_ms": 1_700_000_000_000u64},
        ]}))
        .await;
    assert_eq!(status, 200, "{batch:#}");
    let answers: Vec<&Value> = std::iter::once(&single).chain(batch["predictions"].as_array().unwrap()).collect();
    let (status, listing) = server.get_json("/v1/predictions?limit=10").await;
    assert_eq!(status, 200, "{listing:#}");
    for answer in answers {
        let id = answer["prediction_id"].as_str().unwrap();
        let (status, lookup) = server.get_json(&format!("/v1/predictions/{id}")).await;
        assert_eq!(status, 200, "{lookup:#}");
        let mut common = lookup.clone();
        for field in ONLY_RECORDED {
            assert!(lookup.get(field).is_some(), "the lookup has no `{field}`: {lookup:#}");
            assert!(answer.get(field).is_none(), "the answer has `{field}`: {answer:#}");
            common.as_object_mut().unwrap().remove(field);
        }
        assert_eq!(&common, answer, "the lookup is the answer, plus {ONLY_RECORDED:?}");
        let listed = listing["predictions"].as_array().unwrap().iter().find(|p| p["prediction_id"] == id).unwrap();
        let mut expected = lookup.clone();
        expected.as_object_mut().unwrap().retain(|k, _| k != "feedback" && k != "outcomes");
        assert_eq!(listed, &expected, "the listing's row is the lookup without its joins");
    }
    // the shape's parts, as the answer gives them
    assert_eq!(single["model"]["name"], "model", "{single:#}");
    assert_eq!(single["decision"]["reason"]["kind"], "expected_value", "an object, not text: {single:#}");
    assert_eq!(single["fallback"], Value::Null);
    assert_eq!((single["system"].as_str(), single["variant"].as_str()), (Some("phishing-warning"), Some("main")));
    assert_eq!(batch["predictions"][0]["guardrails"][0]["rule"], "never_warn_allow_listed");
    assert_eq!(batch["predictions"][1]["time_ms"], 1_700_000_000_000u64);
    assert_eq!(batch["predictions"][1]["unit"], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn the_feedback_loop_joins_what_the_world_says_to_the_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::recording(|t| t, sqlite(dir.path()), dir.path(), Durability::Durable).await;
    let id = predict_id(&server, "user-7").await;

    // durable: the prediction is in the store when the answer arrives
    let (status, record) = server.get_json(&format!("/v1/predictions/{id}")).await;
    assert_eq!(status, 200, "{record:#}");
    assert_eq!(record["unit"], "user-7");
    assert_eq!(record["component"], "phishing");
    // the privacy policy: tld_category is hashed, the rest raw
    let features = &record["features"];
    assert_eq!(features["url_length"], 142);
    assert!(features["tld_category"].as_str().unwrap().starts_with("h:"), "{features}");

    let report = json!({"prediction_id": id, "kind": "incorrect", "label": "legit", "unit": "user-7",
                        "comment": "Report incorrect phishing warning: this is my bank", "source": "user", "key": "r-1"});
    let (status, body) = server.post("/v1/feedback", report.to_string()).await;
    assert_eq!(status, 202, "{body:#}");
    assert_eq!(body["duplicate"], false);
    // the same feedback again (a retry) is recorded once
    let (status, body) = server.post("/v1/feedback", report.to_string()).await;
    assert_eq!((status, body["duplicate"].clone()), (202, json!(true)));
    // other feedback under that key is not recorded, and says so
    let (status, body) = server
        .post(
            "/v1/feedback",
            json!({"prediction_id": id, "kind": "incorrect", "label": "legit", "key": "r-1"}).to_string(),
        )
        .await;
    assert_eq!(status, 409, "{body:#}");
    assert_error(&body, "key_reused");

    let (status, _) = server
        .post("/v1/outcomes", json!({"unit": "user-7", "prediction_id": id, "name": "left_page"}).to_string())
        .await;
    assert_eq!(status, 202);
    let (status, _) = server
        .post("/v1/outcomes", json!({"unit": "user-7", "name": "bought_audit_support", "value": 49.0}).to_string())
        .await;
    assert_eq!(status, 202);

    let (_, record) = server.get_json(&format!("/v1/predictions/{id}")).await;
    assert_eq!(record["feedback"].as_array().unwrap().len(), 1, "{record:#}");
    assert_eq!(record["feedback"][0]["label"], "legit");
    assert_eq!(record["outcomes"][0]["name"], "left_page");
    server.stop().await;

    // the export sees the labeled example, with what happened after it
    let store = SqliteStore::open(dir.path()).unwrap();
    let mut out = Vec::new();
    let spec = rein_server::telemetry::export_spec(system(|t| t).component("phishing").unwrap());
    let options = rein_telemetry::ExportOptions {
        since_ms: None,
        until_ms: None,
        labeled_only: true,
        format: rein_telemetry::ExportFormat::Jsonl,
    };
    let report = rein_telemetry::export(&store, &spec, &options, &mut out).unwrap();
    assert_eq!(report.rows, 1);
    let line: Value = serde_json::from_slice(out.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["prediction_id"], id.as_str());
    assert_eq!((line["truth"].clone(), line["outcome_left_page"].clone()), (json!("legit"), json!(1)));
}

#[tokio::test]
async fn bad_feedback_and_outcomes_get_the_right_status_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::recording(|t| t, sqlite(dir.path()), dir.path(), Durability::Durable).await;
    let id = predict_id(&server, "u").await;

    let unknown = uuid::Uuid::now_v7().to_string();
    let (status, body) =
        server.post("/v1/feedback", json!({"prediction_id": unknown, "kind": "correct"}).to_string()).await;
    assert_eq!(status, 404);
    assert_error(&body, "unknown_prediction");
    assert!(body["error"]["message"].as_str().unwrap().contains(&unknown));

    let (status, body) =
        server.post("/v1/feedback", json!({"prediction_id": id, "kind": "label", "label": "spam"}).to_string()).await;
    assert_eq!(status, 422);
    assert_error(&body, "invalid_feedback");
    assert!(body["error"]["message"].as_str().unwrap().contains("legit, phishing"), "{body:#}");

    let (status, body) = server.post("/v1/feedback", json!({"prediction_id": id, "kind": "maybe"}).to_string()).await;
    assert_eq!(status, 422);
    assert!(body["error"]["message"].as_str().unwrap().contains("correct, incorrect, label"));

    let (status, body) = server
        .post("/v1/feedback", json!({"prediction_id": id, "kind": "correct", "comment": "x".repeat(5000)}).to_string())
        .await;
    assert_eq!(status, 422, "{body:#}");
    assert!(body["error"]["message"].as_str().unwrap().contains("at most 2000"), "{body:#}");

    // a 1 MB comment is over the body limit
    let (status, body) = server
        .post(
            "/v1/feedback",
            json!({"prediction_id": id, "kind": "correct", "comment": "x".repeat(1 << 20)}).to_string(),
        )
        .await;
    assert_eq!(status, 413);
    assert_error(&body, "body_too_large");

    // a key reused for another prediction is a conflict, not a silent no-op
    let other = predict_id(&server, "u").await;
    server.post("/v1/feedback", json!({"prediction_id": id, "kind": "correct", "key": "k"}).to_string()).await;
    let (status, body) =
        server.post("/v1/feedback", json!({"prediction_id": other, "kind": "correct", "key": "k"}).to_string()).await;
    assert_eq!(status, 409);
    assert_error(&body, "key_reused");

    // an outcome that names neither a prediction nor a unit could never be joined
    let (status, body) = server.post("/v1/outcomes", json!({"name": "left_page", "value": 1.0}).to_string()).await;
    assert_eq!(status, 422, "{body:#}");
    assert_error(&body, "invalid_outcome");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("`prediction_id`") && message.contains("`unit`"), "{message}");

    for (bad, code) in [
        (json!({"name": "Left Page", "unit": "u"}), "invalid_outcome"),
        (json!({"name": "left_page", "unit": "u", "value": "high"}), "bad_request_shape"),
        (json!({"name": "left_page", "prediction_id": unknown}), "unknown_prediction"),
    ] {
        let (status, body) = server.post("/v1/outcomes", bad.to_string()).await;
        assert!(status == 422 || status == 404, "{bad}: {status} {body:#}");
        assert_error(&body, code);
    }
    server.stop().await;
}

/// `incorrect` without a label: on a binary component the truth is the other label, and
/// recorded as such; on a multiclass one it stays unknown unless a label is given.
#[tokio::test]
async fn an_incorrect_binary_prediction_implies_the_other_label() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::recording(|t| t, sqlite(dir.path()), dir.path(), Durability::Durable).await;
    let id = predict_id(&server, "u").await; // answered `phishing`
    let (status, body) =
        server.post("/v1/feedback", json!({"prediction_id": id, "kind": "incorrect"}).to_string()).await;
    assert_eq!(status, 202, "{body:#}");
    let (_, record) = server.get_json(&format!("/v1/predictions/{id}")).await;
    assert_eq!(record["output"]["label"], "phishing");
    assert_eq!(record["feedback"][0]["kind"], "incorrect");
    assert_eq!(record["feedback"][0]["label"], "legit", "{record:#}");
    server.stop().await;

    let legal = Path::new(EXAMPLE_DIR).join("../legal-triage/rein.toml");
    let system = rein_system::load(&legal).unwrap_or_else(|d| panic!("{d}"));
    let dir = tempfile::tempdir().unwrap();
    let data = rein_telemetry::DataDir::lock(dir.path()).unwrap();
    let telemetry = rein_server::Telemetry::start(
        sqlite(dir.path()),
        &system,
        data,
        Durability::Durable,
        rein_telemetry::clock::system(),
    )
    .unwrap();
    let server = Server::with(system, Some(telemetry)).await;
    let message = json!({"features": {"message": "my landlord wants to raise the rent twice this year"}});
    let (status, answer) = server.post("/v1/components/topic/predict", message.to_string()).await;
    assert_eq!(status, 200, "{answer:#}");
    let id = answer["prediction_id"].as_str().unwrap();
    for feedback in [
        json!({"prediction_id": id, "kind": "incorrect"}),
        json!({"prediction_id": id, "kind": "incorrect", "label": "divorce"}),
    ] {
        let (status, body) = server.post("/v1/feedback", feedback.to_string()).await;
        assert_eq!(status, 202, "{body:#}");
    }
    let (_, record) = server.get_json(&format!("/v1/predictions/{id}")).await;
    assert_eq!(record["feedback"][0]["label"], Value::Null, "any of the other four: {record:#}");
    assert_eq!(record["feedback"][1]["label"], "divorce");
    server.stop().await;
}

/// Durable predictions are answered from the journal before they are in the store; a
/// listing right after them still shows every one.
#[tokio::test]
async fn a_listing_shows_every_durable_prediction_answered_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::recording(|t| t, sqlite(dir.path()), dir.path(), Durability::Durable).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(predict_id(&server, &format!("u{i}")).await);
    }
    let (status, page) = server.get_json("/v1/predictions?component=phishing").await;
    assert_eq!(status, 200, "{page:#}");
    let listed: Vec<&str> =
        page["predictions"].as_array().unwrap().iter().map(|p| p["prediction_id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids);
    server.stop().await;
}

#[tokio::test]
async fn predictions_are_listed_in_pages_without_loss_or_repetition() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::recording(|t| t, sqlite(dir.path()), dir.path(), Durability::Buffered).await;
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(predict_id(&server, &format!("u{i}")).await);
    }
    // buffered: a feedback right away still finds its prediction (the writer is flushed first)
    let (status, _) =
        server.post("/v1/feedback", json!({"prediction_id": ids[24], "kind": "correct"}).to_string()).await;
    assert_eq!(status, 202);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/predictions?component=phishing&limit=10&cursor={c}"),
            None => "/v1/predictions?component=phishing&limit=10".to_string(),
        };
        let (status, page) = server.get_json(&path).await;
        assert_eq!(status, 200, "{page:#}");
        seen.extend(
            page["predictions"].as_array().unwrap().iter().map(|p| p["prediction_id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    let (status, body) = server.get_json("/v1/predictions?component=nope").await;
    assert_eq!(status, 404);
    assert_error(&body, "unknown_component");
    let (status, body) = server.get_json("/v1/predictions?since=yesterday").await;
    assert_eq!(status, 422);
    assert_error(&body, "bad_query");
    let (status, body) = server.get_json("/v1/predictions?cursor=garbage").await;
    assert_eq!(status, 422);
    assert_error(&body, "bad_cursor");
    server.stop().await;
}

/// A stalled store holds up only the loader: predictions are answered from the event log
/// until the backlog reaches its bound, then refused 503 naming why, never left hanging.
/// Every prediction that was answered is in the store once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_bounds_what_waits_for_it_and_loses_nothing_answered() {
    let (dir, stalled, server) = stalled_with_a_small_backlog().await;
    let answers =
        tokio::time::timeout(std::time::Duration::from_secs(60), predict_many(&server, 100)).await.expect("no hang");
    let refused: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 503).map(|(_, b)| b).collect();
    assert!(!refused.is_empty(), "the backlog of 8 must fill while the store is stalled");
    for body in &refused {
        assert_error(body, "telemetry_unavailable");
        assert!(body["error"]["message"].as_str().unwrap().contains("overloaded"), "{body:#}");
    }
    let answered: Vec<String> = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b["prediction_id"].as_str().unwrap().to_string())
        .collect();
    assert!(answered.len() >= 8, "the backlog's worth is answered: {}", answered.len());
    let (status, ready) = server.get("/v2/health/ready").await;
    assert_eq!(status, 503, "a replica whose store lags at the bound takes no predictions: {ready}");

    // the store is back: every prediction answered is in it
    stalled.release();
    server.running.as_ref().unwrap().app.telemetry.as_ref().unwrap().flush().await.unwrap();
    for id in &answered {
        assert!(stalled.prediction_exists(id).unwrap(), "prediction {id} was lost");
    }
    server.stop().await;
    drop(dir);
}

/// Posts with one key at once, while earlier ones may still be queued or in flight: one
/// is recorded; retries are told they are duplicates, other feedback under the key gets
/// 409. Never a 202 for feedback that is then dropped, buffered or durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_feedback_with_one_key_is_recorded_once_and_never_acknowledged_then_dropped() {
    for durability in [Durability::Buffered, Durability::Durable] {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::recording(|t| t, sqlite(dir.path()), dir.path(), durability).await;
        let id = predict_id(&server, "u").await;
        let post = |body: Value| {
            let server = &server;
            async move { server.post("/v1/feedback", body.to_string()).await }
        };

        // the same feedback posted 16 times at once (a client retrying eagerly)
        let same = json!({"prediction_id": id, "kind": "correct", "key": "retried"});
        let answers = futures_util::future::join_all((0..16).map(|_| post(same.clone()))).await;
        let mut fresh = 0;
        for (status, body) in &answers {
            assert_eq!(*status, 202, "{durability:?}: {body:#}");
            fresh += usize::from(body["duplicate"] == false);
        }
        assert_eq!(fresh, 1, "{durability:?}: one post records it, the others are duplicates");

        // 16 different feedbacks under one key: one is recorded, the others are refused
        let answers = futures_util::future::join_all((0..16).map(|i| {
            post(json!({"prediction_id": id, "kind": "correct", "comment": format!("post {i}"), "key": "contested"}))
        }))
        .await;
        let accepted: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 202).map(|(_, b)| b).collect();
        assert_eq!(accepted.len(), 1, "{durability:?}: {answers:#?}");
        assert_eq!(accepted[0]["duplicate"], false);
        for (status, body) in answers.iter().filter(|(s, _)| *s != 202) {
            assert_eq!(*status, 409, "{durability:?}: {body:#}");
            assert_error(body, "key_reused");
        }

        server.stop().await;
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(store.counts().unwrap().feedback, 2, "{durability:?}");
    }
}

#[tokio::test]
async fn feedback_and_outcomes_check_unit_and_time_as_predict_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::recording(|t| t, sqlite(dir.path()), dir.path(), Durability::Durable).await;
    let id = predict_id(&server, "u").await;
    let long = "u".repeat(257);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    for (route, body) in [
        ("/v1/feedback", json!({"prediction_id": id, "kind": "correct"})),
        ("/v1/outcomes", json!({"prediction_id": id, "name": "left_page"})),
    ] {
        let with = |field: &str, value: Value| {
            let mut b = body.clone();
            b[field] = value;
            b.to_string()
        };
        for (field, value, code) in [
            ("unit", json!(""), "bad_unit"),
            ("unit", json!(long), "bad_unit"),
            ("time_ms", json!(0), "bad_time"),
            ("time_ms", json!(now / 1000), "bad_time"), // seconds, not milliseconds
            ("time_ms", json!(u64::MAX), "bad_time"),   // would wrap to a negative i64
        ] {
            let (status, reply) = server.post(route, with(field, value.clone())).await;
            assert_eq!(status, 422, "{route} {field}={value}: {reply:#}");
            assert_error(&reply, code);
        }
        // the same bounds as predict: 256 bytes is fine, as is a time given in ms
        let (status, reply) = server.post(route, with("unit", json!("u".repeat(256)))).await;
        assert_eq!(status, 202, "{route}: {reply:#}");
        let (status, reply) = server.post(route, with("time_ms", json!(now - 60_000))).await;
        assert_eq!(status, 202, "{route}: {reply:#}");
    }
    server.stop().await;
}

/// A server recording durably with `telemetry` settings, one prediction in its store, and
/// then the store stalled.
async fn stalled_after_one_prediction(telemetry: &str) -> (tempfile::TempDir, Arc<StalledStore>, Server, String) {
    let dir = tempfile::tempdir().unwrap();
    let stalled = StalledStore::new(SqliteStore::open(dir.path()).unwrap());
    let settings = format!("[telemetry]\n{telemetry}\n\n[[components]]");
    let edit = move |t: String| t.replacen("[[components]]", &settings, 1);
    let server = Server::recording(edit, stalled.clone(), dir.path(), Durability::Durable).await;
    stalled.release();
    let id = predict_id(&server, "u").await;
    // a lookup loads the journaled prediction into the store, before the store stalls
    let (status, _) = server.get_json(&format!("/v1/predictions/{id}")).await;
    assert_eq!(status, 200);
    stalled.stall();
    (dir, stalled, server, id)
}

/// With the store stalled, what needs the store itself is answered 503 within the commit
/// timeout, never left hanging: a keyed feedback (only the store can tell whether its key
/// was new) and a lookup. An outcome needs only the log, fsync or not. The keyed feedback
/// was in the log all along: once the store is back, its retry is a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_answers_keyed_feedback_and_lookups_503_not_a_hang() {
    let (_dir, stalled, server, id) = stalled_after_one_prediction("commit_timeout_ms = 300\nfsync = true").await;

    let feedback = json!({"prediction_id": id, "kind": "correct", "key": "k-1"}).to_string();
    let unknown = uuid::Uuid::now_v7().to_string();
    let requests = async {
        let fb = server.post("/v1/feedback", feedback.clone()).await;
        let outcome = server.post("/v1/outcomes", json!({"prediction_id": id, "name": "left_page"}).to_string()).await;
        let lookup = server.get_json(&format!("/v1/predictions/{unknown}")).await;
        [fb, outcome, lookup]
    };
    let [fb, outcome, lookup] =
        tokio::time::timeout(std::time::Duration::from_secs(20), requests).await.expect("no hang");
    assert_eq!(outcome.0, 202, "an outcome needs only the log: {:#}", outcome.1);
    for (status, body) in [&fb, &lookup] {
        assert_eq!(*status, 503, "{body:#}");
        assert_error(body, "telemetry_unavailable");
        assert!(body["error"]["message"].as_str().unwrap().contains("300 ms"), "{body:#}");
        assert!(body["error"]["details"]["hint"].as_str().is_some(), "{body:#}");
    }
    assert!(fb.1["error"]["message"].as_str().unwrap().contains("retry with the same key"), "{:#}", fb.1);

    // the store is back; a client retries once the replica is ready again
    stalled.release();
    let (status, body) = readiness_until(&server, 200).await;
    assert_eq!(status, 200, "{body:#}");
    let (status, body) = server.post("/v1/feedback", feedback).await;
    assert_eq!((status, body["duplicate"].clone()), (202, json!(true)), "{body:#}");
    let counts =
        |record: &Value| (record["feedback"].as_array().unwrap().len(), record["outcomes"].as_array().unwrap().len());
    let (status, record) = server.get_json(&format!("/v1/predictions/{id}")).await;
    assert_eq!((status, counts(&record)), (200, (1, 1)), "each once: {record:#}");
    server.stop().await;
}

/// An unkeyed outcome or feedback is answered from the event log whatever the store does:
/// a stalled store holds up only its loader. Once the store is back, each is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_does_not_hold_up_unkeyed_outcomes_and_feedback() {
    let (_dir, stalled, server, id) = stalled_after_one_prediction("commit_timeout_ms = 300").await;

    let requests = async {
        let outcome = server.post("/v1/outcomes", json!({"prediction_id": id, "name": "left_page"}).to_string()).await;
        let feedback = server.post("/v1/feedback", json!({"prediction_id": id, "kind": "correct"}).to_string()).await;
        [outcome, feedback]
    };
    let answers = tokio::time::timeout(std::time::Duration::from_secs(20), requests).await.expect("no hang");
    for (status, body) in &answers {
        assert_eq!(*status, 202, "answered from the log while the store is stalled: {body:#}");
        assert!(body["id"].as_str().is_some(), "{body:#}");
    }

    stalled.release();
    let (status, record) = server.get_json(&format!("/v1/predictions/{id}")).await;
    assert_eq!(status, 200, "{record:#}");
    assert_eq!(record["outcomes"].as_array().unwrap().len(), 1, "{record:#}");
    assert_eq!(record["feedback"].as_array().unwrap().len(), 1, "{record:#}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_cannot_hold_shutdown_past_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let stalled = StalledStore::new(SqliteStore::open(dir.path()).unwrap());
    let edit = |t: String| format!("{t}\n[server]\nshutdown_timeout_ms = 300\n");
    let server = Server::recording(edit, stalled.clone(), dir.path(), Durability::Buffered).await;
    let (status, _) = server.predict(json!({"features": page()})).await;
    assert_eq!(status, 200, "buffered answers once queued");
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(10), server.stop()).await;
    stalled.release();
    assert!(stopped.is_ok(), "shutdown waited on a stalled store past shutdown_timeout_ms");
}

/// A full disk under the store (here the real SQLite store with a size quota, which fails
/// exactly as a full disk does): every prediction that cannot be recorded is answered 503
/// naming the cause, the database and what would help; the replica reports itself unready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_named_in_every_503() {
    let dir = tempfile::tempdir().unwrap();
    let options = rein_telemetry::SqliteOptions { max_db_bytes: Some(512 * 1024), ..Default::default() };
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_with(dir.path(), options).unwrap());
    let edit = |t: String| {
        let settings = "[telemetry]\nmax_backlog = 64\nfsync = true\ncommit_timeout_ms = 200\n\n";
        t.replacen("[[components]]", &format!("{settings}[[components]]"), 1)
    };
    let server = Server::recording(edit, store, dir.path(), Durability::Durable).await;
    let db = dir.path().join("rein.db").display().to_string();
    let full = |b: &Value| b["error"]["message"].as_str().unwrap_or_default().contains("database or disk is full");
    // Predictions are answered from the event log while the store takes them, and while
    // fewer than 64 wait for it. Once it fails and 64 wait, each is refused. In the rounds
    // after the one that first names the full disk, every 503 names it, as the quota is
    // never freed (within a round, answers are not in the order they were sent).
    let mut named_from = None;
    let mut refused = Vec::new();
    for round in 0..100 {
        let answers: Vec<Value> =
            predict_many(&server, 40).await.into_iter().filter(|(s, _)| *s == 503).map(|(_, b)| b).collect();
        if named_from.is_none() && answers.iter().any(full) {
            named_from = Some(round);
            continue;
        }
        if named_from.is_some() {
            refused.extend(answers);
        }
        if refused.len() >= 40 {
            break;
        }
    }
    assert!(named_from.is_some(), "the quota is reached and named");
    assert!(refused.len() >= 40, "refused after the quota: {}", refused.len());
    for body in &refused {
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("database or disk is full") && message.contains(&db), "{body:#}");
        assert!(body["error"]["details"]["hint"].as_str().unwrap().contains("full disk"), "{body:#}");
    }
    // a load balancer is told to send predictions elsewhere, and why
    let (status, ready) = server.get("/v2/health/ready").await;
    assert_eq!(status, 503, "{ready}");
    let ready: Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["ready"], false);
    let reason = ready["reason"].as_str().unwrap();
    assert!(reason.contains("database or disk is full") && reason.contains(&db), "{ready:#}");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_unready_for_its_full_disk_is_ready_again_once_it_heals_with_no_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let store = StalledStore::new(SqliteStore::open(dir.path()).unwrap());
    store.release();
    store.full.store(true, Ordering::SeqCst);
    let server = Server::recording(|t| t, store.clone(), dir.path(), Durability::Durable).await;
    let answers = predict_many(&server, 5).await;
    assert!(answers.iter().all(|(status, _)| [200, 503].contains(status)), "{answers:?}");
    let (status, body) = readiness_until(&server, 503).await;
    assert_eq!(status, 503, "unready while the store's writes fail: {body}");

    // the disk is freed, and a load balancer sends this replica nothing meanwhile
    store.full.store(false, Ordering::SeqCst);
    let (status, body) = readiness_until(&server, 200).await;
    let writer = &server.running.as_ref().unwrap().app.telemetry.as_ref().unwrap().writer;
    assert_eq!(status, 200, "ready again without a single request: {body} {:?}", writer.stats());
    for (_, body) in answers.iter().filter(|(status, _)| *status == 200) {
        let id = body["prediction_id"].as_str().unwrap();
        let (found, record) = server.get(&format!("/v1/predictions/{id}")).await;
        assert_eq!(found, 200, "{record}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_store_stalls_is_unready_until_the_write_ends() {
    let dir = tempfile::tempdir().unwrap();
    let store = StalledStore::new(SqliteStore::open(dir.path()).unwrap());
    let edit = |t: String| t.replacen("[[components]]", "[telemetry]\ncommit_timeout_ms = 200\n\n[[components]]", 1);
    let server = Server::recording(edit, store.clone(), dir.path(), Durability::Buffered).await;
    assert_eq!(server.get_json("/v2/health/ready").await.0, 200, "nothing is being written");
    let (status, body) = server.predict(json!({"unit": "u", "features": page()})).await;
    assert_eq!(status, 200, "{body}");

    // the writer's write of that event hangs on the stalled disk
    let answer = readiness_until(&server, 503).await;
    assert_eq!(answer.0, 503, "{}", answer.1);
    let reason = answer.1["reason"].as_str().unwrap();
    assert!(
        reason.contains("has not finished a write") && reason.contains("200 ms") && reason.contains("stalled"),
        "{reason}"
    );

    store.release();
    let answer = readiness_until(&server, 200).await;
    assert_eq!(answer.0, 200, "ready once the write ends: {}", answer.1);
    let id = body["prediction_id"].as_str().unwrap();
    assert_eq!(server.get(&format!("/v1/predictions/{id}")).await.0, 200);
}
