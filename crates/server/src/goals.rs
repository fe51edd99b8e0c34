//! `GET /v1/goals`: the system's goals measured over the telemetry store (`rein-monitor`):
//! each goal's latest closed window's figure, interval and status, the trend over recent
//! windows, and whether linked goals moved together.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use rein_monitor::goals::{self, DEFAULT_WINDOWS, MAX_WINDOWS};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::App;
use crate::error::{ApiError, ErrorBody, QueryError, TelemetryUnavailable, Waited};
use crate::records::{parse_time, read, telemetry};

/// What `GET /v1/goals` takes, as the error's details say it.
pub(crate) const EXPECTED: &str = "?windows=&at= (windows: how many windows back, 1 to 366; at: unix ms or RFC \
                                   3339; each goal's window length is its own, set in the system file)";

/// Over which windows to measure the goals.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GoalsQuery {
    /// How many windows back: each goal's trend, and the alignment of its links, are over
    /// this many of its closed windows, the newest being its figure (default 8, at most 366).
    /// (`window`, on the routes that take it, is a window's length; a goal's is its own.)
    windows: Option<String>,
    /// The instant to judge at, unix milliseconds or an RFC 3339 time: windows that ended by
    /// then are closed (default: just after the newest recorded prediction).
    at: Option<String>,
}

/// The goals as of their latest closed windows. Every event answered before the request is
/// counted.
#[utoipa::path(
    get,
    path = "/v1/goals",
    tag = "goals",
    params(GoalsQuery),
    responses(
        (status = 200, description = "Every goal, in file order, with its figures; the tree in `top`, `supports` and \
                                      `supporters`", body = crate::openapi::Goals),
        (status = 404, description = "Telemetry is off (`telemetry_off`)", body = ErrorBody),
        (status = 408, description = "The request took longer than `server.request_timeout_ms` (`request_timeout`)", body = ErrorBody),
        (status = 422, description = "A parameter cannot be read (`bad_query`)", body = ErrorBody),
        (status = 503, description = "Telemetry could not catch up in time (`telemetry_unavailable`), or the store failed \
                                      (`store_unavailable`)", body = ErrorBody),
    )
)]
pub async fn goals(
    State(app): State<Arc<App>>,
    query: Result<Query<GoalsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let t = telemetry(&app)?;
    let Query(q) = query.map_err(|r| QueryError::Unreadable { problem: r.body_text(), expected: EXPECTED })?;
    let windows = match q.windows.as_deref() {
        None => DEFAULT_WINDOWS,
        Some(given) => given
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_WINDOWS).contains(n))
            .ok_or_else(|| QueryError::WindowCount { given: given.to_string(), max: MAX_WINDOWS })?,
    };
    let at_ms = q.at.as_deref().map(|s| parse_time("at", s)).transpose()?;
    if t.writer.backlog() > 0 {
        // every answered event is counted: what the log holds is stored first
        t.flush().await.map_err(|error| TelemetryUnavailable { what: Waited::Goals, error })?;
    }
    let system = app.system.clone();
    let options = goals::Options { at_ms, windows };
    let report = read(t, move |store| goals::measure(&system, store, &options)).await?;
    Ok(Json(report).into_response())
}
