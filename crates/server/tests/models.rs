//! `/v1/models` on a real server: the admin token (401 without, 403 wrong, never logged),
//! registrations refused naming the mismatch while the champion keeps serving, the alias
//! history answering what served a prediction, and a hot swap under load in which no
//! request fails and each is answered by a version that was champion while it ran.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Every log line of this test process, at every level.
fn log_lines() -> &'static Mutex<Vec<u8>> {
    static LINES: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LINES.get_or_init(|| {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        lines
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

async fn register(server: &Server, bytes: Vec<u8>, query: &str) -> (u16, Value) {
    answer(server.admin(Method::POST, &format!("/v1/models/phishing/versions{query}")).body(bytes)).await
}

async fn move_alias(server: &Server, alias: &str, version: &str) -> (u16, Value) {
    let body = json!({"version": version, "reason": "test", "by": "tester"});
    answer(server.admin(Method::PUT, &format!("/v1/models/phishing/aliases/{alias}")).json(&body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_answer_401_without_the_token_403_with_a_wrong_one_and_never_log_it() {
    log_lines();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::with_registry(|t| t, dir.path(), Some(ADMIN_TOKEN), false).await;
    let put = |token: Option<&str>| {
        let r = server.client.put(server.url("/v1/models/phishing/aliases/challenger")).json(&json!({"version": "x"}));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    };
    let (status, body) = answer(put(None)).await;
    assert_eq!(status, 401, "{body:#}");
    assert_error(&body, "unauthorized");
    let wrong = format!("{ADMIN_TOKEN}x");
    let (status, body) = answer(put(Some(&wrong))).await;
    assert_eq!(status, 403, "{body:#}");
    assert_error(&body, "forbidden");
    let (status, body) = answer(put(Some(&ADMIN_TOKEN[..10]))).await;
    assert_eq!(status, 403, "a prefix of the token is wrong too: {body:#}");
    let (status, body) =
        answer(server.client.post(server.url("/v1/models/phishing/versions")).body(example_model_variant(b'2'))).await;
    assert_eq!(status, 401, "{body:#}");

    // with the token: a move to an unknown version names the versions there are
    let (status, body) = answer(put(Some(ADMIN_TOKEN))).await;
    assert_eq!(status, 404, "{body:#}");
    assert_error(&body, "unknown_version");
    assert!(body["error"]["message"].as_str().unwrap().contains("sha256:d019131ec354"), "{body:#}");
    let (status, body) = register(&server, example_model_variant(b'2'), "?alias=challenger&version=v2").await;
    assert_eq!(status, 201, "{body:#}");
    assert_eq!(body["move"]["alias"], "challenger");

    // reads are open by default
    let (status, body) = server.get_json("/v1/models/phishing").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["aliases"], json!({"champion": "sha256:d019131ec354", "challenger": "v2"}));

    server.stop().await;
    let log = String::from_utf8_lossy(&log_lines().lock().unwrap()).into_owned();
    assert!(log.contains("alias moved"), "the log was captured: {log}");
    assert!(!log.contains(ADMIN_TOKEN), "the token is in a log line");
    assert!(!log.contains(&ADMIN_TOKEN[..10]), "a part of the token is in a log line");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_token_admin_routes_are_closed_and_reads_can_be_closed_too() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::with_registry(|t| t, dir.path(), None, false).await;
    let (status, body) = register(&server, example_model_variant(b'2'), "").await;
    assert_eq!(status, 403, "{body:#}");
    assert_error(&body, "admin_disabled");
    assert!(body["error"]["details"]["hint"].as_str().unwrap().contains("REIN_ADMIN_TOKEN"), "{body:#}");
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let closed = |t: String| format!("{t}\n[server]\nmodel_reads = \"admin\"\n");
    let server = Server::with_registry(closed, dir.path(), Some(ADMIN_TOKEN), false).await;
    let (status, body) = server.get_json("/v1/models/phishing").await;
    assert_eq!(status, 401, "{body:#}");
    let (status, body) = answer(server.admin(Method::GET, "/v1/models/phishing")).await;
    assert_eq!(status, 200, "{body:#}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_names_the_mismatch_and_the_champion_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::with_registry(|t| t, dir.path(), Some(ADMIN_TOKEN), false).await;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/models");
    let good = std::fs::read(std::path::Path::new(EXAMPLE_DIR).join("model.onnx")).unwrap();
    let cases = [
        ("a corrupt file", good[..good.len() / 3].to_vec(), "artifact", "cannot"),
        (
            "another model's inputs",
            std::fs::read(fixtures.join("scaler_logreg.onnx")).unwrap(),
            "inputs",
            "model input",
        ),
        (
            "other labels",
            {
                let mut b = good.clone();
                let at = b.windows(8).position(|w| w == b"phishing").expect("the label in the classifier");
                b[at..at + 8].copy_from_slice(b"spamming");
                b
            },
            "labels",
            "`spamming`",
        ),
    ];
    for (what, bytes, problem, named) in cases {
        let (status, body) = register(&server, bytes, "?alias=champion").await;
        assert_eq!(status, 422, "{what}: {body:#}");
        assert_error(&body, "model_refused");
        assert_eq!(body["error"]["details"]["problem"], problem, "{what}: {body:#}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{what}: `{named}` not in {message}");
    }
    // a model larger than `max_body_bytes` (1 MiB) is read, and judged as a model
    let (status, body) = register(&server, vec![7u8; 2 << 20], "").await;
    assert_eq!(status, 422, "{body:#}");
    assert_eq!(body["error"]["details"]["problem"], "artifact", "{body:#}");
    let (status, body) = server.get_json("/v1/models/phishing").await;
    assert_eq!(status, 200);
    assert_eq!(body["versions"].as_array().unwrap().len(), 1, "nothing refused was registered: {body:#}");
    assert_eq!(body["serving"], "sha256:d019131ec354");
    let (status, answer) = server.predict(json!({"features": page()})).await;
    assert_eq!(status, 200, "{answer:#}");
    assert_eq!(answer["model"]["version"], "sha256:d019131ec354");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_says_which_version_answered_a_prediction_and_what_served_a_unit_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::with_registry(|t| t, dir.path(), Some(ADMIN_TOKEN), true).await;
    let (_, first) = server.predict(json!({"unit": "u-7", "features": page()})).await;
    assert_eq!(first["model"]["version"], "sha256:d019131ec354");
    let (status, body) = register(
        &server,
        example_model_variant(b'2'),
        "?version=v2&alias=champion&code_version=abc123&metric=auc=0.97&param=trees=50",
    )
    .await;
    assert_eq!(status, 201, "{body:#}");
    assert_eq!(body["serving"], "v2");
    let (_, second) = server.predict(json!({"unit": "u-7", "features": page()})).await;
    assert_eq!(second["model"]["version"], "v2", "the new champion answers at once");

    for (p, version) in [(&first, "sha256:d019131ec354"), (&second, "v2")] {
        let id = p["prediction_id"].as_str().unwrap();
        let (status, body) = server.get_json(&format!("/v1/models/phishing/history?prediction={id}")).await;
        assert_eq!(status, 200, "{body:#}");
        assert_eq!(body["served"]["model_version"], version, "{body:#}");
        assert_eq!(body["served"]["aliases"], json!(["champion"]), "{body:#}");
        let t = p["time_ms"].as_i64().unwrap();
        let (status, body) = server.get_json(&format!("/v1/models/phishing/history?unit=u-7&at={t}")).await;
        assert_eq!(status, 200, "{body:#}");
        assert_eq!(body["served"]["prediction_id"], id, "{body:#}");
        assert_eq!(body["served"]["model_version"], version);
        assert_eq!(body["at"]["aliases"]["champion"], version);
    }
    let (status, body) = server.get_json("/v1/models/phishing/history").await;
    assert_eq!(status, 200);
    let moves = body["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 2, "{body:#}");
    assert_eq!(
        (moves[1]["previous"].as_str(), moves[1]["version"].as_str()),
        (Some("sha256:d019131ec354"), Some("v2"))
    );
    let (status, body) = server.get_json("/v1/models/phishing/versions/v2").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["provenance"]["code_version"], "abc123");
    assert_eq!(body["provenance"]["metrics"]["auc"], 0.97);
    assert_eq!(body["provenance"]["params"]["trees"], "50");

    let (status, body) = server.get_json("/v1/models/phishing/history?unit=u-7").await;
    assert_eq!(status, 422, "{body:#}");
    assert_error(&body, "bad_query");
    let (status, body) = server.get_json("/v1/models/phishing/history?unit=nobody&at=1").await;
    assert_eq!(status, 404, "{body:#}");
    let (status, body) = server.get_json("/v1/models/phishing/history?when=now").await;
    assert_eq!(status, 422, "{body:#}");
    assert!(body["error"]["message"].as_str().unwrap().contains("unknown parameter `when`"), "{body:#}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_swap_under_load_drops_no_request_and_each_is_answered_by_a_champion_of_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(Server::with_registry(|t| t, dir.path(), Some(ADMIN_TOKEN), false).await);
    let v1 = "sha256:d019131ec354".to_string();
    let (status, body) = register(&server, example_model_variant(b'2'), "?version=v2").await;
    assert_eq!(status, 201, "{body:#}");

    const CLIENTS: usize = 16;
    const MOVES: usize = 8;
    let answered = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (server, answered, done) = (server.clone(), answered.clone(), done.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut i = 0;
                while !done.load(Ordering::Relaxed) {
                    i += 1;
                    let mut features = page();
                    features["domain_age_days"] = json!((c * 100 + i) % 4000);
                    let started = now_ms();
                    let (status, body) = server.predict(json!({"unit": format!("c{c}"), "features": features})).await;
                    let ended = now_ms();
                    seen.push((started, ended, status, body["model"]["version"].as_str().unwrap_or("").to_string()));
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                seen
            })
        })
        .collect();
    // move the champion back and forth while the clients run, each move after more answers
    for m in 0..MOVES {
        let target = (m + 1) * 40;
        while answered.load(Ordering::Relaxed) < target {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let version = if m % 2 == 0 { "v2" } else { v1.as_str() };
        let (status, body) = move_alias(&server, "champion", version).await;
        assert_eq!(status, 200, "{body:#}");
        assert_eq!(body["serving"], version);
    }
    let last = answered.load(Ordering::Relaxed);
    while answered.load(Ordering::Relaxed) < last + 40 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    done.store(true, Ordering::Relaxed);
    let mut seen = Vec::new();
    for c in clients {
        seen.extend(c.await.unwrap());
    }
    let (_, history) = server.get_json("/v1/models/phishing/history").await;
    let moves: Vec<rein_registry::AliasMove> = history["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| rein_registry::AliasMove {
            seq: m["seq"].as_i64().unwrap(),
            component: "phishing".into(),
            alias: m["alias"].as_str().unwrap().into(),
            version: m["version"].as_str().unwrap().into(),
            previous: m["previous"].as_str().map(str::to_string),
            at_ms: m["at_ms"].as_i64().unwrap(),
            by: m["by"].as_str().unwrap().into(),
            reason: m["reason"].as_str().unwrap().into(),
        })
        .collect();
    assert_eq!(moves.len(), 1 + MOVES, "start-up's move and every swap are recorded");
    let mut by_version = std::collections::BTreeMap::<String, usize>::new();
    for (started, ended, status, version) in &seen {
        assert_eq!(*status, 200, "a request failed during the swaps");
        let champions = rein_registry::history::versions_during(&moves, "champion", *started, *ended);
        assert!(
            champions.contains(version),
            "answered by {version}, but the champions from {started} to {ended} were {champions:?}"
        );
        *by_version.entry(version.clone()).or_default() += 1;
    }
    assert!(seen.len() >= 40 * (MOVES + 1), "the load was real: {} requests", seen.len());
    assert!(by_version.len() == 2 && by_version.values().all(|n| *n > 20), "both versions answered: {by_version:?}");
    Arc::try_unwrap(server).ok().expect("the clients are done").stop().await;
}
