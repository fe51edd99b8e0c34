//! The HTTP edge of rein: its own API (`/v1`), the Open Inference Protocol v2
//! (`/v2`) and Prometheus metrics. Errors from the libraries are mapped to HTTP
//! statuses here, once, in [`error`].

pub mod alerting;
pub mod app;
mod call_cost;
pub mod error;
mod fields;
mod goals;
pub mod metrics;
pub mod models;
mod monitors;
mod oip;
pub mod openapi;
mod predict;
mod quality;
mod record;
mod records;
pub mod rollouts;
mod shadow;
pub mod telemetry;
pub mod traffic;
pub mod versions;
pub mod webhook;
pub mod workers;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use tokio::net::TcpListener;

pub use app::App;
pub use error::ApiError;
use error::{Protocol, RequestError};
pub use records::parse_time;
pub use telemetry::{Telemetry, TelemetryMode};
pub use versions::ModelVersions;

/// Every route the server answers, as (method, path, handler): the router is built from
/// this table, and a request no route answers is told what it holds.
fn table() -> Vec<(Method, &'static str, MethodRouter<Arc<App>>)> {
    vec![
        (Method::POST, "/v1/components/{name}/predict", post(predict::predict)),
        (Method::POST, "/v1/feedback", post(records::feedback)),
        (Method::POST, "/v1/outcomes", post(records::outcome)),
        (Method::GET, "/v1/predictions", get(records::list)),
        (Method::GET, "/v1/predictions/{id}", get(records::prediction)),
        (Method::GET, "/v1/goals", get(goals::goals)),
        (Method::GET, "/v1/components/{name}/quality", get(quality::quality)),
        (Method::GET, "/v1/components/{name}/shadow", get(shadow::shadow)),
        (Method::GET, "/v1/monitors", get(monitors::monitors)),
        (Method::GET, "/v1/alerts", get(monitors::alerts)),
        (Method::GET, "/v1/models", get(models::list)),
        (Method::GET, "/v1/models/{name}", get(models::show_component)),
        (Method::GET, "/v1/models/{name}/versions/{version}", get(models::show_version)),
        (Method::GET, "/v1/models/{name}/history", get(models::history)),
        (
            Method::POST,
            "/v1/models/{name}/versions",
            post(models::register).layer(DefaultBodyLimit::max(models::MAX_MODEL_BYTES)),
        ),
        (Method::PUT, "/v1/models/{name}/aliases/{alias}", put(models::move_alias)),
        (Method::GET, "/v1/components/{name}/traffic", get(traffic::show)),
        (Method::PUT, "/v1/components/{name}/traffic", put(traffic::replace)),
        (Method::GET, "/v1/rollouts", get(rollouts::list)),
        (Method::GET, "/v1/components/{name}/rollout", get(rollouts::show)),
        (Method::POST, "/v1/components/{name}/rollout/{command}", post(rollouts::command)),
        (Method::GET, "/v2", get(oip::server_metadata)),
        (Method::GET, "/v2/health/live", get(oip::live)),
        (Method::GET, "/v2/health/ready", get(oip::ready)),
        (Method::GET, "/v2/models/{name}", get(oip::model_metadata)),
        (Method::GET, "/v2/models/{name}/ready", get(oip::model_ready)),
        (Method::POST, "/v2/models/{name}/infer", post(oip::infer)),
        (Method::GET, "/v2/models/{name}/versions/{version}", get(oip::model_metadata_versioned)),
        (Method::GET, "/v2/models/{name}/versions/{version}/ready", get(oip::model_ready_versioned)),
        (Method::POST, "/v2/models/{name}/versions/{version}/infer", post(oip::infer_versioned)),
        (Method::GET, "/metrics", get(render_metrics)),
        (Method::GET, "/openapi.json", get(openapi::serve)),
    ]
}

/// Every route the server answers, as (method, path), paths in axum's `{param}` form.
pub fn routes() -> Vec<(Method, &'static str)> {
    table().into_iter().map(|(method, path, _)| (method, path)).collect()
}

fn route_list() -> Vec<String> {
    routes().into_iter().map(|(method, path)| format!("{method} {path}")).collect()
}

pub fn router(app: Arc<App>) -> Router {
    let max_body = app.system.server.max_body_bytes;
    let request_timeout = app.system.server.request_timeout;
    let mut router = Router::new();
    for (_, path, handler) in table() {
        router = router.route(path, handler);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(request_timeout, time_limit))
        .with_state(app)
}

/// Bounds a whole request, reading its body included, so a slow or stalled client
/// cannot hold a connection and its memory forever.
async fn time_limit(
    State(limit): State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let protocol = Protocol::of_path(request.uri().path());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::from(RequestError::TimedOut(limit)).respond(protocol),
    }
}

/// Prometheus metrics: requests by component, model version, mode and status; model call
/// durations and batch sizes; guardrail actions; fallbacks; telemetry's events and backlog.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus' text format", content_type = "text/plain", body = String))
)]
async fn render_metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render())
}

async fn not_found(uri: Uri) -> Response {
    let path = uri.path().to_string();
    let protocol = Protocol::of_path(&path);
    ApiError::from(RequestError::NoRoute { path, routes: route_list() }).respond(protocol)
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let path = uri.path().to_string();
    let protocol = Protocol::of_path(&path);
    ApiError::from(RequestError::MethodNotAllowed { method: method.to_string(), path, routes: route_list() })
        .respond(protocol)
}

/// Serves on the app's worker threads (see [`workers`]) until `shutdown` resolves, then
/// stops accepting and finishes requests in flight, waiting at most
/// `server.shutdown_timeout_ms` for them.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (deadline, workers) = (app.system.server.shutdown_timeout, app.workers());
    // rollouts in progress take their traffic back before the first request
    if let Err(e) = app.rollouts.resume(&app).await {
        tracing::error!("cannot resume the rollouts: {e}; the system file's plans serve");
    }
    app.start_background();
    rollouts::Controller::start(&app, app.monitor_tick());
    workers::serve(listener, router(app), workers, deadline, shutdown).await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: no new connections, finishing requests in flight");
}

/// Loads what the event log holds into the store and stops telemetry, after the server
/// stopped. Waits at most `server.shutdown_timeout_ms`, so a stalled store cannot keep the
/// process alive; what is not loaded by then stays in the log for the next start.
pub async fn finish(app: &App) {
    app.stop_background();
    if let Some(t) = &app.telemetry {
        let deadline = app.system.server.shutdown_timeout;
        match tokio::time::timeout(deadline, t.writer.clone().shutdown()).await {
            Ok(()) => tracing::info!(stats = ?t.writer.stats(), "telemetry stopped"),
            Err(_) => tracing::warn!(
                stats = ?t.writer.stats(),
                ?deadline,
                "the telemetry store did not take every event before the shutdown deadline: the rest (backlog) \
                 stays in the event log and is loaded at the next start"
            ),
        }
    }
}

/// A server running in this process on its own task (for `rein demo` and tests).
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub app: Arc<App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Serves on the app's worker threads.
    pub async fn start(app: Arc<App>, addr: std::net::SocketAddr) -> std::io::Result<Running> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(serve(listener, app.clone(), async {
            let _ = stopped.await;
        }));
        Ok(Running { addr, app, stop: Some(stop), done })
    }

    /// Stops accepting, finishes requests in flight, then flushes telemetry.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = self.done.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        finish(&self.app).await;
        served
    }
}
