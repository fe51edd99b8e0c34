//! `GET /v1/monitors` and `GET /v1/alerts`: the monitors as the background task left them
//! (each one's newest figures with their intervals, and its state), and the alerts they
//! opened and closed, from the store (`docs/monitoring.md`).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use rein_monitor::alerts::{Alert, Figure, KEPT_FIGURES, MonitorState, Verdict};
use rein_system::{Monitor, Watch};
use rein_telemetry::AlertQuery;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::error::{ApiError, ErrorBody, QueryError};
use crate::records::{parse_time, read, telemetry};

/// What `GET /v1/monitors` takes, as the error's details say it.
const MONITORS_EXPECTED: &str = "?windows= (how many of each monitor's newest windows to show, 1 to 48; a \
                                 monitor's window length is its own, set in the system file)";
/// What `GET /v1/alerts` takes.
const ALERTS_EXPECTED: &str = "?state=open|closed|all&since=&monitor=&limit= (since: unix ms or RFC 3339; \
                               limit: 1 to 10000)";
/// Windows shown of each monitor unless asked.
const DEFAULT_FIGURES: usize = 8;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MonitorsQuery {
    /// How many of each monitor's newest evaluated windows to show, oldest first (default 8,
    /// at most 48). (`window`, on the routes that take it, is a window's length.)
    windows: Option<String>,
}

/// Every monitor of the system.
#[derive(Serialize, ToSchema)]
pub struct Monitors {
    /// The system's name.
    system: String,
    /// When the monitors were last evaluated (wall clock, unix ms); null before the first.
    evaluated_ms: Option<i64>,
    /// Why the last evaluation failed (the store cannot be read or written), if it did.
    error: Option<String>,
    /// The confidence of every interval.
    confidence: f64,
    /// Where alerts are POSTed, and how the events sent there ended (`[alerts] webhook`).
    webhook: Option<WebhookView>,
    /// In file order.
    monitors: Vec<MonitorView>,
}

/// The webhook alerts go to.
#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    url: String,
    deliveries: crate::webhook::Deliveries,
}

/// One monitor: what it watches, when it breaches, and how it stands.
#[derive(Serialize, ToSchema)]
pub struct MonitorView {
    id: String,
    description: Option<String>,
    /// The component it watches; null for a goal monitor over every component.
    component: Option<String>,
    /// `feature_drift`, `output_drift`, `quality`, `goal`, `latency`, `guardrail_rate` or
    /// `fallback_rate`.
    watch: &'static str,
    /// What it watches, in words.
    watches: String,
    /// When a window breaches, in words (`above 0.1`, `the drift policy's verdict`).
    threshold: String,
    /// `above`, `below`, `outside`, or null for the drift policy's verdict.
    direction: Option<&'static str>,
    /// The threshold's bound(s): one for `above` and `below`, two (below, above) for `outside`.
    bounds: Vec<f64>,
    window: String,
    window_ms: i64,
    /// `info`, `warning` or `critical`.
    severity: &'static str,
    open_after: u32,
    close_after: u32,
    hysteresis: f64,
    /// `open` (its alert is), `ok` (its newest window did not open one), `pending` (no window
    /// evaluated yet), `not_measured` (its newest figure could not be taken: see its note).
    state: &'static str,
    /// The open alert.
    #[schema(value_type = Option<Object>)]
    alert: Option<Alert>,
    /// The end of the newest window evaluated (unix ms, event time).
    evaluated_until_ms: Option<i64>,
    /// Breaching windows in a row, and clearing ones, up to the newest.
    breaches: u32,
    clears: u32,
    /// Where a drift monitor's reference profile is, and why it cannot be read, if not.
    #[schema(value_type = Option<Object>)]
    reference: Option<Value>,
    /// The newest window's figure: `from_ms`, `until_ms`, `value`, `interval` (`lower`,
    /// `upper`, `method`), `count`, `verdict` (`breach`, `clear`, `unclear`, `no_data`,
    /// `not_measured`), `measure`, `note`.
    #[schema(value_type = Option<Object>)]
    latest: Option<Figure>,
    /// The newest windows' figures, oldest first.
    #[schema(value_type = Vec<Object>)]
    figures: Vec<Figure>,
}

/// The monitors as of their newest evaluated windows.
#[utoipa::path(
    get,
    path = "/v1/monitors",
    tag = "monitoring",
    params(MonitorsQuery),
    responses(
        (status = 200, description = "Every monitor in file order, with its newest figures and state", body = Monitors),
        (status = 404, description = "Telemetry is off (`telemetry_off`)", body = ErrorBody),
        (status = 408, description = "The request took longer than `server.request_timeout_ms` (`request_timeout`)", body = ErrorBody),
        (status = 422, description = "A parameter cannot be read (`bad_query`)", body = ErrorBody),
    )
)]
pub async fn monitors(
    State(app): State<Arc<App>>,
    query: Result<Query<MonitorsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    telemetry(&app)?;
    let Query(q) = query.map_err(|r| QueryError::Unreadable { problem: r.body_text(), expected: MONITORS_EXPECTED })?;
    let shown = match q.windows.as_deref() {
        None => DEFAULT_FIGURES,
        Some(given) => given
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=KEPT_FIGURES).contains(n))
            .ok_or_else(|| QueryError::WindowCount { given: given.to_string(), max: KEPT_FIGURES })?,
    };
    let Some(alerting) = &app.alerting else { return Err(crate::error::NotFound::TelemetryOff.into()) };
    let states = alerting.states();
    let (error, evaluated) = alerting.health();
    let monitors =
        app.system.monitors.iter().map(|m| view(m, states.get(&m.id), shown, alerting.reference_of(m))).collect();
    let answer = Monitors {
        system: app.system.name.clone(),
        evaluated_ms: (evaluated > 0).then_some(evaluated),
        error,
        confidence: rein_monitor::monitors::CONFIDENCE,
        webhook: alerting.webhook().map(|w| WebhookView { url: w.url().to_string(), deliveries: w.deliveries() }),
        monitors,
    };
    Ok(Json(answer).into_response())
}

fn view(m: &Monitor, state: Option<&MonitorState>, shown: usize, reference: Option<Value>) -> MonitorView {
    let default = MonitorState::default();
    let state = state.unwrap_or(&default);
    let threshold = rein_monitor::monitors::threshold(m);
    let (direction, bounds) = match threshold {
        Some(rein_system::Threshold::Above(t)) => (Some("above"), vec![t]),
        Some(rein_system::Threshold::Below(t)) => (Some("below"), vec![t]),
        Some(rein_system::Threshold::Outside { below, above }) => (Some("outside"), vec![below, above]),
        None => (None, Vec::new()),
    };
    let latest = state.figures.last().cloned();
    let standing = match (&state.open, &latest) {
        (Some(_), _) => "open",
        (None, None) => "pending",
        (None, Some(f)) if f.verdict == Verdict::NotMeasured => "not_measured",
        (None, Some(_)) => "ok",
    };
    let from = state.figures.len().saturating_sub(shown);
    MonitorView {
        id: m.id.clone(),
        description: m.description.clone(),
        component: m.component.clone(),
        watch: m.watch.name(),
        watches: m.watch.to_string(),
        threshold: rein_monitor::alerts::threshold_text(m),
        direction,
        bounds,
        window: rein_system::format_duration(m.window),
        window_ms: rein_monitor::window::length_ms(m.window),
        severity: m.severity.as_str(),
        open_after: m.open_after,
        close_after: m.close_after,
        hysteresis: m.hysteresis,
        state: standing,
        alert: state.open.clone(),
        evaluated_until_ms: state.evaluated_until_ms,
        breaches: state.breaches,
        clears: state.clears,
        reference,
        latest,
        figures: state.figures[from..].to_vec(),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// `open`, `closed` or `all` (default `all`).
    state: Option<String>,
    /// Only alerts open at some moment at or after it (still open, or closed since), in
    /// event time: unix milliseconds or an RFC 3339 time.
    since: Option<String>,
    /// Only this monitor's.
    monitor: Option<String>,
    /// At most this many, the newest opened first (default 100, at most 10,000).
    limit: Option<String>,
}

/// Alerts, the newest opened first.
#[derive(Serialize, ToSchema)]
pub struct Alerts {
    /// Each alert: `id`, `monitor`, `component`, `severity`, `state` (`open` or `closed`),
    /// `watch`, `threshold`, `window`, `description`, `opened_ms` and `opened_by` (the figures
    /// of the windows that opened it), `closed_ms`, `closed_by` and `closed_because`.
    #[schema(value_type = Vec<Object>)]
    alerts: Vec<Value>,
}

/// The alerts monitors opened and closed, from the store.
#[utoipa::path(
    get,
    path = "/v1/alerts",
    tag = "monitoring",
    params(AlertsQuery),
    responses(
        (status = 200, description = "The alerts, the newest opened first", body = Alerts),
        (status = 404, description = "Telemetry is off (`telemetry_off`)", body = ErrorBody),
        (status = 408, description = "The request took longer than `server.request_timeout_ms` (`request_timeout`)", body = ErrorBody),
        (status = 422, description = "A parameter cannot be read (`bad_query`)", body = ErrorBody),
        (status = 503, description = "The store failed (`store_unavailable`)", body = ErrorBody),
    )
)]
pub async fn alerts(
    State(app): State<Arc<App>>,
    query: Result<Query<AlertsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let t = telemetry(&app)?;
    let Query(q) = query.map_err(|r| QueryError::Unreadable { problem: r.body_text(), expected: ALERTS_EXPECTED })?;
    let open = match q.state.as_deref().map(str::trim) {
        None | Some("all") => None,
        Some("open") => Some(true),
        Some("closed") => Some(false),
        Some(other) => return Err(QueryError::AlertState { given: other.to_string() }.into()),
    };
    let since_ms = q.since.as_deref().map(|s| parse_time("since", s.trim())).transpose()?;
    let limit = match q.limit.as_deref() {
        None => 0,
        Some(given) => given
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=AlertQuery::MAX_LIMIT).contains(n))
            .ok_or_else(|| QueryError::Limit { given: given.to_string(), max: AlertQuery::MAX_LIMIT })?,
    };
    let query = AlertQuery { open, since_ms, monitor: q.monitor, limit };
    let records = read(t, move |store| store.alerts(&query)).await?;
    let alerts = records.into_iter().map(|r| r.body.to_value()).collect();
    Ok(Json(Alerts { alerts }).into_response())
}

impl crate::alerting::Alerting {
    /// Where a drift monitor's reference profile is read from, and why it cannot be, if not.
    fn reference_of(&self, m: &Monitor) -> Option<Value> {
        if !matches!(m.watch, Watch::FeatureDrift { .. } | Watch::OutputDrift { .. }) {
            return None;
        }
        let component = self.system().component(m.component.as_deref()?)?;
        let path = rein_monitor::monitors::profile_path(component).display().to_string();
        Some(match self.reference(&component.name) {
            Ok(p) => serde_json::json!({"profile": path, "rows": p.source.rows, "error": null}),
            Err(why) => serde_json::json!({"profile": path, "rows": null, "error": why}),
        })
    }
}
