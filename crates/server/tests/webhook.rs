//! The alerts' webhook against tiny HTTP servers on ephemeral ports: one that answers 500
//! then 200 (retried, delivered once, as a CloudEvent), one that hangs (each attempt timed
//! out, the retries bounded, and predictions answered as fast meanwhile), and the queue's
//! bound (the oldest dropped and counted).

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use rein_server::webhook::{Deliveries, Sender};
use rein_telemetry::{Durability, SqliteStore};
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;

/// The example, with a monitor of its escalations and alerts sent to `url`.
async fn serve(url: &str, settings: &str) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "\n[[monitors]]\nid = \"hook_escalations\"\nwatch = \"guardrail_rate\"\nguardrail = \"outside_training_range\"\n\
         threshold = 0.5\nwindow = \"1h\"\n\n[alerts]\nwebhook = \"{url}\"\n{settings}\n"
    );
    let system = system(|t| format!("{}{extra}", without_monitors(t)));
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let data_dir = rein_telemetry::DataDir::lock(dir.path()).unwrap();
    let telemetry =
        rein_server::Telemetry::start(store, &system, data_dir, Durability::Durable, rein_telemetry::clock::system())
            .unwrap();
    let models = rein_runtime::load_system(&system).unwrap_or_else(|d| panic!("{d}"));
    let app = rein_server::App::new(system, models, Some(telemetry)).with_monitor_tick(Duration::from_millis(50));
    (dir, Server::serving(app).await)
}

/// Twenty pages too long for the model in hour 0 (each escalated by the rule), one in hour
/// 1 that closes it: the monitor's alert opens.
async fn escalate(server: &Server) {
    let mut long = page();
    long["url_length"] = json!(3000);
    let instances: Vec<Value> =
        (0..20).map(|i| json!({"features": long, "time_ms": T0 + i * 60_000, "unit": format!("u{i}")})).collect();
    let (status, body) = server.predict(json!({"instances": instances})).await;
    assert_eq!(status, 200, "{body:#}");
    // two minutes past hour 0's end: beyond the minute of lateness allowed
    let (status, body) = server.predict(json!({"features": page(), "time_ms": T0 + HOUR + 120_000})).await;
    assert_eq!(status, 200, "{body:#}");
}

/// The webhook's deliveries as `/v1/monitors` shows them, once `done` holds, within 20 s.
async fn deliveries_until(server: &Server, done: impl Fn(&Deliveries) -> bool) -> Deliveries {
    let mut last = None;
    for _ in 0..400 {
        let (status, body) = server.get_json("/v1/monitors").await;
        assert_eq!(status, 200, "{body:#}");
        let d = &body["webhook"]["deliveries"];
        let n = |k: &str| d[k].as_u64().unwrap();
        let seen = Deliveries { sent: n("sent"), failed: n("failed"), dropped: n("dropped"), queued: n("queued") };
        if done(&seen) {
            return seen;
        }
        last = Some(seen);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the deliveries never got there: {last:?}");
}

#[tokio::test]
async fn an_alert_is_retried_past_a_500_and_delivered_once_as_a_cloud_event() {
    let (url, received) = hook(Answers::FailOnce).await;
    let (_dir, server) = serve(&url, "retries = 3\nbackoff_ms = 20\ntimeout_ms = 2000").await;
    escalate(&server).await;
    let d = deliveries_until(&server, |d| d.sent == 1).await;
    assert_eq!(d, Deliveries { sent: 1, failed: 0, dropped: 0, queued: 0 });
    let requests = received.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "one 500, then the retry: {requests:#?}");
    assert_eq!(requests[0].1, requests[1].1, "the same event, retried");
    let (content_type, event) = &requests[1];
    assert_eq!(content_type, "application/cloudevents+json; charset=utf-8");
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "dev.rein.alert.opened");
    assert_eq!(event["datacontenttype"], "application/json");
    assert_eq!(event["source"], "/rein/systems/phishing-warning/monitors/hook_escalations");
    assert!(humantime::parse_rfc3339(event["time"].as_str().unwrap()).is_ok(), "{event:#}");
    let data = &event["data"];
    assert_eq!((data["monitor"].as_str(), data["state"].as_str()), (Some("hook_escalations"), Some("open")));
    assert_eq!(event["id"], format!("{}.opened", data["id"].as_str().unwrap()));
    assert_eq!(data["opened_ms"], T0 + HOUR);
    assert_eq!(data["opened_by"][0]["value"], 1.0);
    // the same alert as the store keeps it
    let (_, alerts) = server.get_json("/v1/alerts").await;
    assert_eq!(alerts["alerts"][0], *data);
    let (_, metrics) = server.get("/metrics").await;
    let sent = metrics.lines().find(|l| l.starts_with("rein_webhook_deliveries_total{result=\"sent\"}"));
    assert!(sent.is_some_and(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap() >= 1.0), "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn a_webhook_that_hangs_is_timed_out_its_retries_bounded_and_never_felt_by_predictions() {
    let (url, received) = hook(Answers::Hang).await;
    let (_dir, server) = serve(&url, "retries = 2\nbackoff_ms = 10\ntimeout_ms = 300").await;
    escalate(&server).await;
    // while the sender waits on the hook, predictions answer as they did before
    let stuck = Instant::now();
    while received.count.load(Ordering::SeqCst) == 0 {
        assert!(stuck.elapsed() < Duration::from_secs(20), "the hook was never called");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let started = Instant::now();
        let (status, body) = server.predict(json!({"features": page(), "time_ms": T0 + HOUR + 130_000 + i})).await;
        assert_eq!(status, 200, "{body:#}");
        slowest = slowest.max(started.elapsed());
    }
    assert!(slowest < Duration::from_millis(250), "a prediction took {slowest:?} while the webhook hung");
    // three attempts (the first and two retries), each cut at 300 ms, then given up
    let d = deliveries_until(&server, |d| d.failed == 1).await;
    assert_eq!(d, Deliveries { sent: 0, failed: 1, dropped: 0, queued: 0 });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(received.count.load(Ordering::SeqCst), 3, "no attempt past the retries");
    let (_, metrics) = server.get("/metrics").await;
    assert!(metrics.contains("rein_webhook_deliveries_total{result=\"failed\"}"), "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn the_queue_is_bounded_and_drops_its_oldest() {
    let (url, received) = hook(Answers::Hang).await;
    let settings = rein_system::Webhook {
        url,
        timeout: Duration::from_millis(200),
        retries: 0,
        backoff: Duration::from_millis(10),
        queue: 2,
    };
    rein_server::metrics::install();
    let sender = Arc::new(Sender::new(settings, "shop"));
    let event = |i: u64| json!({"id": format!("e{i}"), "specversion": "1.0"});
    // not started: nothing leaves the queue, which keeps the newest two
    for i in 0..5 {
        sender.send(event(i));
    }
    assert_eq!(sender.deliveries(), Deliveries { sent: 0, failed: 0, dropped: 3, queued: 2 });
    // started, it sends what is left, oldest first
    sender.start();
    let until = Instant::now();
    while sender.deliveries().failed < 2 {
        assert!(until.elapsed() < Duration::from_secs(10), "{:?}", sender.deliveries());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ids: Vec<Value> = received.requests.lock().unwrap().iter().map(|(_, e)| e["id"].clone()).collect();
    assert_eq!(ids, [json!("e3"), json!("e4")]);
    // stopped with events waiting: they are counted as dropped
    sender.stop();
    sender.send(event(5));
    sender.send(event(6));
    sender.stop();
    assert_eq!(sender.deliveries().dropped, 5);
    assert_eq!(sender.deliveries().queued, 0);
}
