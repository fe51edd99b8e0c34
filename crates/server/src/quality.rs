//! `GET /v1/components/{name}/quality`: a component's quality over the telemetry store's
//! closed windows (`rein-monitor`'s `quality_windows`): measured on the predictions that
//! feedback labeled, estimated from the probabilities of all, side by side, with the sign of
//! concept drift, and per slice of a field when asked.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use rein_monitor::estimate::EstimateOptions;
use rein_monitor::quality_windows::{self, DEFAULT_WINDOWS, QualityQuery, QualityReadError, Reference};
use rein_monitor::slices::SliceField;
use rein_system::parse_duration;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::App;
use crate::error::{ApiError, ErrorBody, Internal, NotFound, QueryError, TelemetryUnavailable, Waited};
use crate::records::{parse_time, read, telemetry};

/// What `GET /v1/components/{name}/quality` takes, as the error's details say it.
pub(crate) const EXPECTED: &str = "?window=&windows=&at=&slice= (window: a window's length such as 1h, 1d or 7d; \
                                   windows: how many back, 1 to 366; at: unix ms or RFC 3339; slice: a field to \
                                   slice by)";

/// The window's length when none is asked for.
pub const DEFAULT_WINDOW: &str = "1d";
/// The most windows looked back over.
pub const MAX_WINDOWS: usize = 366;

/// Over which windows to measure, and by what to slice.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QualityParams {
    /// A window's length: `30m`, `1h`, `1d`, `7d` (default `1d`). Windows tumble by event
    /// time, aligned to the unix epoch.
    window: Option<String>,
    /// How many closed windows back (default 8, at most 366), oldest first in the answer.
    windows: Option<String>,
    /// The instant to judge at, unix milliseconds or an RFC 3339 time: windows that ended by
    /// then are closed (default: just after the newest recorded prediction).
    at: Option<String>,
    /// A field to slice each window by: a `category`, `boolean` or `integer` feature of the
    /// component (`region`), `mode`, `variant` or `model.version` (default: each field the
    /// component declares in `slices`).
    slice: Option<String>,
}

/// The component's quality over its latest closed windows. Every event answered before the
/// request is counted.
#[utoipa::path(
    get,
    path = "/v1/components/{name}/quality",
    tag = "goals",
    params(("name" = String, Path, description = "The component's name"), QualityParams),
    responses(
        (status = 200, description = "Each window's measured and estimated quality, side by side, with their \
                                      intervals", body = crate::openapi::Quality),
        (status = 404, description = "No such component (`unknown_component`), or telemetry is off (`telemetry_off`)", body = ErrorBody),
        (status = 408, description = "The request took longer than `server.request_timeout_ms` (`request_timeout`)", body = ErrorBody),
        (status = 422, description = "A parameter cannot be read, or the slice names no field to slice by \
                                      (`bad_query`)", body = ErrorBody),
        (status = 503, description = "Telemetry could not catch up in time (`telemetry_unavailable`), or the store failed \
                                      (`store_unavailable`)", body = ErrorBody),
    )
)]
pub async fn quality(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    query: Result<Query<QualityParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let t = telemetry(&app)?;
    let Some(component) = app.system.component(&name) else {
        let known: Vec<&str> = app.system.components.iter().map(|c| c.name.as_str()).collect();
        return Err(NotFound::component(&name, &known).into());
    };
    let Query(q) = query.map_err(|r| QueryError::Unreadable { problem: r.body_text(), expected: EXPECTED })?;
    let given = q.window.as_deref().unwrap_or(DEFAULT_WINDOW);
    let window = parse_duration(given)
        .filter(|d| d.as_millis() > 0)
        .ok_or_else(|| QueryError::WindowLength { given: given.to_string(), expected: EXPECTED })?;
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
    // the field asked for, else each the component declares (`slices`, checked at load)
    let slices = match q.slice.as_deref() {
        Some(given) => vec![
            SliceField::parse(component, given)
                .map_err(|e| QueryError::Slice { message: e.message, fields: e.fields })?,
        ],
        None => component.slices.iter().filter_map(|s| SliceField::parse(component, s).ok()).collect(),
    };
    if t.writer.backlog() > 0 {
        t.flush().await.map_err(|error| TelemetryUnavailable { what: Waited::Quality, error })?;
    }
    let system = app.system.clone();
    let query = QualityQuery {
        component: name,
        window_ms: rein_monitor::window::length_ms(window),
        windows,
        at_ms,
        reference: Reference::Earliest,
        slices,
        options: EstimateOptions::default(),
    };
    let report = read(t, move |store| Ok(quality_windows::quality(store, &system, &query))).await?;
    match report {
        Ok(report) => Ok(Json(report).into_response()),
        Err(QualityReadError::Store(e)) => Err(e.into()),
        Err(e) => Err(Internal(format!("cannot measure the component's quality: {e}")).into()),
    }
}
