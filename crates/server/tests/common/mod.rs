#![allow(dead_code)]
//! A real rein server on an ephemeral port, serving the phishing example's real model.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use rein_telemetry::{Durability, Event, LogPosition, SqliteStore, Store, StoreError, WriteReport};
use serde_json::{Value, json};

pub const EXAMPLE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/phishing-warning");

pub struct Server {
    pub addr: SocketAddr,
    pub running: Option<rein_server::Running>,
    pub client: reqwest::Client,
}

/// The example's system file without the monitors it declares (a test declares its own).
pub fn without_monitors(text: String) -> String {
    match text.find("\n# Monitors") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The example's system file, edited.
pub fn system(edit: impl Fn(String) -> String) -> rein_system::System {
    let file = Path::new(EXAMPLE_DIR).join("rein.toml");
    let text = edit(std::fs::read_to_string(&file).unwrap());
    rein_system::parse(&text, &file).unwrap_or_else(|d| panic!("{d}"))
}

impl Server {
    /// Without telemetry.
    pub async fn start(edit: impl Fn(String) -> String) -> Server {
        Self::with(system(edit), None).await
    }

    /// With telemetry in `data_dir` over `store` (the real SQLite store, maybe wrapped).
    pub async fn recording(
        edit: impl Fn(String) -> String,
        store: Arc<dyn Store>,
        data_dir: &Path,
        durability: Durability,
    ) -> Server {
        let system = system(edit);
        let data_dir = rein_telemetry::DataDir::lock(data_dir).unwrap();
        let clock = rein_telemetry::clock::system();
        let telemetry = rein_server::Telemetry::start(store, &system, data_dir, durability, clock).unwrap();
        Self::with(system, Some(telemetry)).await
    }

    pub async fn with(system: rein_system::System, telemetry: Option<rein_server::Telemetry>) -> Server {
        let models = rein_runtime::load_system(&system).unwrap_or_else(|d| panic!("{d}"));
        Self::serving(rein_server::App::new(system, models, telemetry)).await
    }

    /// Serves an app built by the test.
    pub async fn serving(app: rein_server::App) -> Server {
        let running = rein_server::Running::start(Arc::new(app), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        Server { addr: running.addr, running: Some(running), client: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn predict(&self, body: Value) -> (u16, Value) {
        self.post("/v1/components/phishing/predict", body.to_string()).await
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let (status, text) = self.get(path).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Stops accepting, finishes requests in flight, flushes telemetry.
    pub async fn stop(mut self) {
        self.running.take().unwrap().stop().await.unwrap();
    }
}

pub fn page() -> Value {
    json!({
        "url_length": 142, "num_dots": 6, "num_hyphens": 4, "has_ip_host": true, "uses_https": false,
        "domain_age_days": 3, "num_subdomains": 4, "suspicious_words": 3, "tld_category": "new_gtld"
    })
}

pub fn benign() -> Value {
    json!({
        "url_length": 40, "num_dots": 2, "num_hyphens": 0, "has_ip_host": false, "uses_https": true,
        "domain_age_days": 5000, "num_subdomains": 1, "suspicious_words": 0, "tld_category": "com"
    })
}

pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body:#}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body:#}");
}

/// An Open Inference Protocol error: `{"error": "<message>"}` and nothing else, the message
/// holding `part`.
pub fn assert_oip_error(body: &Value, part: &str) {
    let message = body["error"].as_str().unwrap_or_else(|| panic!("not OIP's error shape: {body:#}"));
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body:#}");
    assert!(message.contains(part), "`{part}` not in {body:#}");
}

/// Asks `/v2/health/ready` every 20 ms until it answers `want`, for 5 s at most; the
/// last answer.
pub async fn readiness_until(server: &Server, want: u16) -> (u16, Value) {
    let mut answer = server.get_json("/v2/health/ready").await;
    for _ in 0..250 {
        if answer.0 == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        answer = server.get_json("/v2/health/ready").await;
    }
    answer
}

/// `n` predictions at once, each for its own unit.
pub async fn predict_many(server: &Server, n: usize) -> Vec<(u16, Value)> {
    let requests =
        (0..n).map(|i| async move { server.predict(json!({"unit": format!("u{i}"), "features": page()})).await });
    futures_util::future::join_all(requests).await
}

/// The real SQLite store behind a gate: while closed, writes block, as on a stalled disk;
/// while `full`, they fail as on a full disk.
pub struct StalledStore {
    pub inner: SqliteStore,
    open: Mutex<bool>,
    opened: Condvar,
    pub stalled_once: AtomicBool,
    pub full: AtomicBool,
}

impl StalledStore {
    pub fn new(inner: SqliteStore) -> Arc<Self> {
        Arc::new(Self {
            inner,
            open: Mutex::new(false),
            opened: Condvar::new(),
            stalled_once: AtomicBool::new(false),
            full: AtomicBool::new(false),
        })
    }
    pub fn release(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
    pub fn stall(&self) {
        *self.open.lock().unwrap() = false;
    }
}

impl Store for StalledStore {
    fn write_batch(&self, events: &[Event], through: Option<LogPosition>) -> Result<WriteReport, StoreError> {
        let mut open = self.open.lock().unwrap();
        while !*open {
            self.stalled_once.store(true, Ordering::Relaxed);
            open = self.opened.wait(open).unwrap();
        }
        drop(open);
        if self.full.load(Ordering::SeqCst) {
            let source = std::io::Error::from_raw_os_error(28); // ENOSPC
            return Err(StoreError::Io { path: "rein.db".into(), op: "commit", source });
        }
        self.inner.write_batch(events, through)
    }
    fn log_positions(&self) -> Result<Vec<LogPosition>, StoreError> {
        self.inner.log_positions()
    }
    fn prediction(&self, id: &str) -> Result<Option<rein_telemetry::PredictionRecord>, StoreError> {
        self.inner.prediction(id)
    }
    fn prediction_exists(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.prediction_exists(id)
    }
    fn feedback_by_key(&self, key: &str) -> Result<Option<rein_telemetry::FeedbackEvent>, StoreError> {
        self.inner.feedback_by_key(key)
    }
    fn scan(&self, query: &rein_telemetry::ScanQuery) -> Result<rein_telemetry::Page, StoreError> {
        self.inner.scan(query)
    }
    fn visit_predictions(
        &self,
        query: &rein_telemetry::WindowQuery,
        visit: &mut rein_telemetry::PredictionVisitor<'_>,
    ) -> Result<u64, StoreError> {
        self.inner.visit_predictions(query, visit)
    }
    fn outcome_names(
        &self,
        query: &rein_telemetry::WindowQuery,
    ) -> Result<Vec<rein_telemetry::OutcomeName>, StoreError> {
        self.inner.outcome_names(query)
    }
    fn outcome_values(&self, query: &rein_telemetry::OutcomeQuery) -> Result<rein_telemetry::ValueSummary, StoreError> {
        self.inner.outcome_values(query)
    }
    fn visit_outcome_units(
        &self,
        query: &rein_telemetry::OutcomeQuery,
        visit: &mut rein_telemetry::UnitVisitor<'_>,
    ) -> Result<u64, StoreError> {
        self.inner.visit_outcome_units(query, visit)
    }
    fn newest_prediction_ms(&self) -> Result<Option<i64>, StoreError> {
        self.inner.newest_prediction_ms()
    }
    fn prune(&self, kind: rein_telemetry::EventKind, older_than_ms: i64) -> Result<u64, StoreError> {
        self.inner.prune(kind, older_than_ms)
    }
    fn counts(&self) -> Result<rein_telemetry::Counts, StoreError> {
        self.inner.counts()
    }
    fn used_bytes(&self) -> Result<u64, StoreError> {
        self.inner.used_bytes()
    }
    fn oldest_predictions_until(&self, fraction: f64) -> Result<Option<i64>, StoreError> {
        self.inner.oldest_predictions_until(fraction)
    }
    fn describe(&self) -> String {
        format!("stalled {}", self.inner.describe())
    }
    fn record_monitoring(
        &self,
        states: &[rein_telemetry::MonitorStateRecord],
        alerts: &[rein_telemetry::AlertRecord],
    ) -> Result<(), StoreError> {
        self.inner.record_monitoring(states, alerts)
    }
    fn monitor_states(&self) -> Result<Vec<rein_telemetry::MonitorStateRecord>, StoreError> {
        self.inner.monitor_states()
    }
    fn alerts(&self, query: &rein_telemetry::AlertQuery) -> Result<Vec<rein_telemetry::AlertRecord>, StoreError> {
        self.inner.alerts(query)
    }
}

/// A buffered server over a stalled store that lets eight events wait for it: past them,
/// predictions are refused 503. Keep the directory alive while it serves.
pub async fn stalled_with_a_small_backlog() -> (tempfile::TempDir, Arc<StalledStore>, Server) {
    let dir = tempfile::tempdir().unwrap();
    let stalled = StalledStore::new(SqliteStore::open(dir.path()).unwrap());
    let edit = |t: String| t.replacen("[[components]]", "[telemetry]\nmax_backlog = 8\n\n[[components]]", 1);
    let server = Server::recording(edit, stalled.clone(), dir.path(), Durability::Buffered).await;
    (dir, stalled, server)
}

/// The token the tests' registry servers take on their admin routes.
pub const ADMIN_TOKEN: &str = "tok-3b1f9e0c-registry-admin";

/// The example's model with its producer's name changed: other bytes (another version),
/// the same answers.
pub fn example_model_variant(tag: u8) -> Vec<u8> {
    let bytes = std::fs::read(Path::new(EXAMPLE_DIR).join("model.onnx")).unwrap();
    let at = bytes.windows(8).position(|w| w == b"skl2onnx").expect("the producer's name");
    let mut out = bytes.clone();
    out[at + 7] = tag;
    out
}

impl Server {
    /// Serving the example's system with a model registry in `data_dir` (start-up registers
    /// the system file's model as champion), the admin token `token`, and telemetry when
    /// `record` is set.
    pub async fn with_registry(
        edit: impl Fn(String) -> String,
        data_dir: &Path,
        token: Option<&str>,
        record: bool,
    ) -> Server {
        let system = system(edit);
        let telemetry = if record {
            let store = Arc::new(SqliteStore::open(data_dir).unwrap());
            let dir = rein_telemetry::DataDir::lock(data_dir).unwrap();
            let clock = rein_telemetry::clock::system();
            Some(rein_server::Telemetry::start(store, &system, dir, Durability::Durable, clock).unwrap())
        } else {
            None
        };
        let runtime = rein_runtime::Runtime::for_system(&system).unwrap();
        let file_models = rein_runtime::load_system(&system).unwrap_or_else(|d| panic!("{d}"));
        let registry =
            Arc::new(rein_registry::store::Registry::in_data_dir(data_dir, rein_telemetry::clock::system()).unwrap());
        let serving = rein_registry::startup::start(&registry, &system, &file_models, &runtime).unwrap();
        let versions: Vec<rein_server::ModelVersions> =
            serving.iter().map(|s| rein_server::ModelVersions::new(s.champion.model().clone())).collect();
        let settings = system.server.clone();
        let mut app = rein_server::App::new(system, versions, telemetry);
        app.registry = Some(rein_server::models::Models::new(registry, runtime, token.map(str::to_string), &settings));
        Self::serving(app).await
    }

    /// A request with the admin token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(ADMIN_TOKEN)
    }
}

/// A response's status and JSON body.
pub async fn answer(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

// ---------------------------------------------------------------------------------------
// A webhook receiver

/// How the hook answers.
#[derive(Clone, Copy)]
pub enum Answers {
    /// 500 to the first request, then 200.
    FailOnce,
    /// Never.
    Hang,
}

#[derive(Default)]
pub struct Received {
    /// Every request, in order: its content type and body.
    pub requests: Mutex<Vec<(String, Value)>>,
    pub count: std::sync::atomic::AtomicUsize,
}

/// A webhook on an ephemeral port: its URL and what it received.
pub async fn hook(answers: Answers) -> (String, Arc<Received>) {
    let received = Arc::new(Received::default());
    let handler = |axum::extract::State((answers, received)): axum::extract::State<(Answers, Arc<Received>)>,
                   headers: axum::http::HeaderMap,
                   body: String| async move {
        let n = received.count.fetch_add(1, Ordering::SeqCst);
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        received.requests.lock().unwrap().push((content_type, serde_json::from_str(&body).unwrap_or(Value::Null)));
        match answers {
            Answers::FailOnce if n == 0 => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            Answers::FailOnce => axum::http::StatusCode::OK,
            Answers::Hang => std::future::pending().await,
        }
    };
    let app = axum::Router::new().route("/hook", axum::routing::post(handler)).with_state((answers, received.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), received)
}
