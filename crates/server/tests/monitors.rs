//! Monitors and alerts through the real server on an ephemeral port, in event time
//! (`time_ms` in each prediction crosses the windows): a drift injected in one hour opens
//! an alert as that hour closes, which closes after the hours that clear; the figures agree
//! with the test's own (`rein drift` on the same rows, the counts sent); a restart resumes
//! without opening the alert again; `/metrics` counts it; bad parameters answer 422.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rein_monitor::files::{Options, drift, profile};
use rein_monitor::report::Side;
use rein_monitor::{Table, monitors};
use rein_telemetry::{Durability, SqliteStore};
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;

const MONITORS: &str = r#"
[[monitors]]
id = "srv_url_drift"
watch = "feature_drift"
feature = "url_length"
window = "1h"
severity = "critical"

[[monitors]]
id = "srv_fallbacks"
watch = "fallback_rate"
threshold = 0.2
window = "1h"

[[monitors]]
id = "srv_score_drift"
watch = "output_drift"
window = "1h"
"#;

/// xorshift64*, uniform in (0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() * (hi - lo + 1) as f64) as i64
    }
}

const COLUMNS: [&str; 9] = [
    "url_length",
    "num_dots",
    "num_hyphens",
    "has_ip_host",
    "uses_https",
    "domain_age_days",
    "num_subdomains",
    "suspicious_words",
    "tld_category",
];

/// A page's features; `long`: its URL three times as long (the drift).
fn page_of(rng: &mut Rng, long: bool) -> Value {
    let url = rng.int(30, 120) * if long { 3 } else { 1 };
    let tld = ["com", "org", "net"][rng.int(0, 2) as usize];
    json!({
        "url_length": url, "num_dots": rng.int(1, 4), "num_hyphens": rng.int(0, 3),
        "has_ip_host": rng.next() < 0.05, "uses_https": rng.next() < 0.8,
        "domain_age_days": rng.int(10, 5000), "num_subdomains": rng.int(0, 3),
        "suspicious_words": rng.int(0, 2), "tld_category": tld,
    })
}

fn write_csv(rows: &[Value], path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    writeln!(f, "{}", COLUMNS.join(",")).unwrap();
    for r in rows {
        let cells: Vec<String> = COLUMNS.iter().map(|c| r[c].to_string().trim_matches('"').to_string()).collect();
        writeln!(f, "{}", cells.join(",")).unwrap();
    }
}

/// The example with the monitors, its model copied into `dir` beside a reference profile
/// of 1,000 pages (features only: the output is not profiled), `extra` appended.
fn system_in(dir: &Path, extra: &str) -> rein_system::System {
    let model = dir.join("model.onnx");
    if !model.exists() {
        std::fs::copy(Path::new(EXAMPLE_DIR).join("model.onnx"), &model).unwrap();
    }
    let system = system(|t| {
        let t = without_monitors(t).replacen("path = \"model.onnx\"", &format!("path = \"{}\"", model.display()), 1);
        format!("{t}\n{MONITORS}\n{extra}\n")
    });
    let profile_path = dir.join("model.profile.json");
    if !profile_path.exists() {
        let mut rng = Rng(11);
        let rows: Vec<Value> = (0..1000).map(|_| page_of(&mut rng, false)).collect();
        let csv = dir.join("reference.csv");
        write_csv(&rows, &csv);
        let table = Table::open(&csv).unwrap();
        let p = profile(&system.name, &system.components[0], &table, None, &Options::default()).unwrap();
        std::fs::write(&profile_path, p.to_json()).unwrap();
    }
    system
}

async fn serve(dir: &Path, data: &Path, extra: &str) -> Server {
    let system = system_in(dir, extra);
    let store = Arc::new(SqliteStore::open(data).unwrap());
    let data_dir = rein_telemetry::DataDir::lock(data).unwrap();
    let telemetry =
        rein_server::Telemetry::start(store, &system, data_dir, Durability::Durable, rein_telemetry::clock::system())
            .unwrap();
    let models = rein_runtime::load_system(&system).unwrap_or_else(|d| panic!("{d}"));
    let app = rein_server::App::new(system, models, Some(telemetry)).with_monitor_tick(Duration::from_millis(50));
    Server::serving(app).await
}

/// Sends one page at `at`: past the end of the hour before by more than the minute of
/// lateness allowed, it closes that hour.
async fn send_at(server: &Server, at: i64, page: &Value) {
    let (status, body) = server.predict(json!({"unit": "closer", "features": page, "time_ms": at})).await;
    assert_eq!(status, 200, "{body:#}");
}

/// Sends `pages` as predictions spread over hour `hour` (in batches).
async fn send_hour(server: &Server, hour: i64, pages: &[Value]) {
    for (b, chunk) in pages.chunks(200).enumerate() {
        let instances: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let at = T0 + hour * HOUR + ((b * 200 + i) as i64) * 10_000;
                json!({"unit": format!("u{i}"), "features": p, "time_ms": at})
            })
            .collect();
        let (status, body) = server.predict(json!({"instances": instances})).await;
        assert_eq!(status, 200, "{body:#}");
    }
}

/// Asks `path` every 50 ms until `done` holds of its JSON, for 20 s at most.
async fn until(server: &Server, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..400 {
        let (status, body) = server.get_json(path).await;
        assert_eq!(status, 200, "{path}: {body:#}");
        if done(&body) {
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never got there: {last:#}");
}

fn monitor<'a>(monitors: &'a Value, id: &str) -> &'a Value {
    monitors["monitors"].as_array().unwrap().iter().find(|m| m["id"] == id).unwrap()
}

/// The value of a metric line (`name{labels} value`) holding every part of `parts`.
fn metric(text: &str, parts: &[&str]) -> Option<f64> {
    text.lines()
        .find(|l| !l.starts_with('#') && parts.iter().all(|p| l.contains(p)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

fn pages(seed: u64, n: usize, long: bool) -> Vec<Value> {
    let mut rng = Rng(seed);
    (0..n).map(|_| page_of(&mut rng, long)).collect()
}

#[tokio::test]
async fn a_drift_opens_an_alert_in_its_window_closes_once_cleared_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve(dir.path(), &data, "").await;

    // hour 0 as the reference; hour 1 with URLs three times as long; one page in hour 2
    let hour1 = pages(2, 300, true);
    send_hour(&server, 0, &pages(1, 300, false)).await;
    send_hour(&server, 1, &hour1).await;
    send_at(&server, T0 + 2 * HOUR + 120_000, &pages(3, 1, false)[0]).await;

    let open = until(&server, "/v1/alerts?state=open", |b| b["alerts"].as_array().is_some_and(|a| !a.is_empty())).await;
    let alerts = open["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{open:#}");
    let alert = &alerts[0];
    assert_eq!(alert["monitor"], "srv_url_drift");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["state"], "open");
    assert_eq!(alert["opened_ms"], T0 + 2 * HOUR, "opened as hour 1 closed");
    assert_eq!(alert["threshold"], "the drift policy's verdict");
    let id = alert["id"].as_str().unwrap().to_string();

    // the figures: rein drift on the same rows, and the counts sent
    let monitors =
        until(&server, "/v1/monitors", |b| monitor(b, "srv_fallbacks")["figures"].as_array().unwrap().len() == 2).await;
    let drift_monitor = monitor(&monitors, "srv_url_drift");
    assert_eq!(drift_monitor["state"], "open");
    assert_eq!(drift_monitor["alert"]["id"], id.as_str());
    assert_eq!(drift_monitor["reference"]["rows"], 1000);
    let figures = drift_monitor["figures"].as_array().unwrap();
    assert_eq!(figures.iter().map(|f| f["verdict"].as_str().unwrap()).collect::<Vec<_>>(), ["clear", "breach"]);
    let system = system_in(dir.path(), "");
    let reference = rein_monitor::Profile::from_json(
        &std::fs::read_to_string(dir.path().join("model.profile.json")).unwrap(),
        "profile",
    )
    .unwrap();
    let csv = dir.path().join("hour1.csv");
    write_csv(&hour1, &csv);
    let options = Options {
        seed: rein_monitor::profile::DEFAULT_SEED ^ (T0 + HOUR) as u64,
        policy: monitors::POLICY,
        ..Options::default()
    };
    let side = Side { source: "profile".into(), kind: "profile", rows: 1000 };
    let report =
        drift(&system.name, &system.components[0], &reference, side, &Table::open(&csv).unwrap(), None, &options)
            .unwrap();
    let column = report.columns.iter().find(|c| c.name == "url_length").unwrap();
    let decision = column.decision.as_ref().unwrap();
    assert_eq!(figures[1]["measure"], decision.method);
    assert_eq!(figures[1]["value"].as_f64(), Some(decision.value));
    assert_eq!(figures[1]["count"], 300);
    let fallbacks = monitor(&monitors, "srv_fallbacks");
    let hour0 = &fallbacks["figures"][0];
    assert_eq!((hour0["value"].as_f64(), hour0["count"].as_u64()), (Some(0.0), Some(300)));
    let wilson = rein_stats::wilson_interval(0, 300, 0.95).unwrap();
    assert!((hour0["interval"]["upper"].as_f64().unwrap() - wilson.upper).abs() < 1e-12, "{hour0:#}");
    assert_eq!(hour0["interval"]["method"], "wilson");
    assert_eq!(hour0["verdict"], "clear");
    assert_eq!((fallbacks["direction"].as_str(), fallbacks["bounds"][0].as_f64()), (Some("above"), Some(0.2)));
    // the output was not profiled: the score's drift says why, and opens nothing
    let score = monitor(&monitors, "srv_score_drift");
    assert_eq!(score["state"], "not_measured", "{score:#}");
    assert!(score["latest"]["note"].as_str().unwrap().contains("no values"), "{score:#}");

    let (_, text) = server.get("/metrics").await;
    let labels = ["monitor=\"srv_url_drift\"", "severity=\"critical\""];
    assert_eq!(metric(&text, &[&["rein_alerts_open{"][..], &labels].concat()), Some(1.0), "{text}");
    assert_eq!(metric(&text, &[&["rein_alerts_total{"][..], &labels].concat()), Some(1.0), "{text}");
    assert_eq!(metric(&text, &["rein_alerts_open{", "monitor=\"srv_fallbacks\""]), Some(0.0), "registered at start");

    // a restart resumes: the same alert, still open, not opened again
    server.stop().await;
    let server = serve(dir.path(), &data, "").await;
    let resumed =
        until(&server, "/v1/monitors", |b| monitor(b, "srv_url_drift")["evaluated_until_ms"] == T0 + 2 * HOUR).await;
    assert_eq!(monitor(&resumed, "srv_url_drift")["alert"]["id"], id.as_str());
    send_hour(&server, 2, &pages(4, 299, false)).await;
    send_hour(&server, 3, &pages(5, 300, false)).await;
    send_at(&server, T0 + 4 * HOUR + 120_000, &pages(6, 1, false)[0]).await;
    let closed =
        until(&server, "/v1/alerts?state=closed", |b| b["alerts"].as_array().is_some_and(|a| !a.is_empty())).await;
    let alert = &closed["alerts"][0];
    assert_eq!(alert["id"], id.as_str(), "the alert opened before the restart closed: {closed:#}");
    assert_eq!(alert["closed_ms"], T0 + 4 * HOUR, "closed as hour 3 closed, the second hour to clear");
    assert_eq!(alert["closed_by"].as_array().unwrap().len(), 2);
    let (_, all) = server.get_json("/v1/alerts").await;
    assert_eq!(all["alerts"].as_array().unwrap().len(), 1, "opened once: {all:#}");
    let (_, since) = server.get_json(&format!("/v1/alerts?since={}", T0 + 5 * HOUR)).await;
    assert!(since["alerts"].as_array().unwrap().is_empty(), "closed before: {since:#}");
    let (_, text) = server.get("/metrics").await;
    assert_eq!(metric(&text, &[&["rein_alerts_open{"][..], &labels].concat()), Some(0.0), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn bad_parameters_answer_422_naming_the_expected_form() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &dir.path().join("data"), "").await;
    for (path, part) in [
        ("/v1/monitors?windows=garbage", "`windows` is `garbage`"),
        ("/v1/monitors?windows=0", "from 1 to 48"),
        // a window's length, on the routes that take one; a monitor's is its own
        ("/v1/monitors?window=3", "unknown field `window`"),
        ("/v1/alerts?state=sometimes", "`state` is `sometimes`"),
        ("/v1/alerts?since=yesterday", "`since` is `yesterday`"),
        ("/v1/alerts?limit=-1", "`limit` is `-1`"),
        ("/v1/alerts?monitors=x", "unknown field"),
    ] {
        let (status, body) = server.get_json(path).await;
        assert_eq!(status, 422, "{path}: {body:#}");
        assert_error(&body, "bad_query");
        assert!(body["error"]["message"].as_str().unwrap().contains(part), "{path}: {body:#}");
    }
    let (_, body) = server.get_json("/v1/alerts?state=sometimes").await;
    assert_eq!(body["error"]["details"]["expected"], json!(["open", "closed", "all"]));
    let (_, body) = server.get_json("/v1/monitors?window=3").await;
    assert!(body["error"]["details"]["expected"].as_str().unwrap().starts_with("?windows="), "{body:#}");
    // before any prediction: every monitor pending, no alert
    let (status, body) = server.get_json("/v1/monitors").await;
    assert_eq!(status, 200);
    assert!(body["monitors"].as_array().unwrap().iter().all(|m| m["state"] == "pending"), "{body:#}");
    let (_, body) = server.get_json("/v1/alerts?state=all&limit=10").await;
    assert_eq!(body["alerts"], json!([]));
    server.stop().await;

    // without telemetry there is nothing to watch
    let server = Server::start(|t| t).await;
    for path in ["/v1/monitors", "/v1/alerts"] {
        let (status, body) = server.get_json(path).await;
        assert_eq!(status, 404, "{path}");
        assert_error(&body, "telemetry_off");
    }
    server.stop().await;
}
