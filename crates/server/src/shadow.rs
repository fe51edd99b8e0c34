//! `GET /v1/components/{name}/shadow`: a component's shadow predictions against the answers
//! they copy, over a time range (`rein-monitor`'s `shadow`): agreement, score or value
//! differences, and the drift of the shadow's output, each with its interval.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use rein_monitor::files::Options;
use rein_telemetry::ShadowQuery;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::error::{ApiError, ErrorBody, NotFound, QueryError, TelemetryUnavailable, Waited};
use crate::records::{parse_time, read, telemetry};

/// What `GET /v1/components/{name}/shadow` takes, as the error's details say it.
pub(crate) const EXPECTED: &str = "?since=&until=&experiment= (since, until: unix ms or RFC 3339, until excluded, \
                                   each optional; experiment: one experiment's shadow predictions)";

/// Which shadow predictions to compare.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ShadowParams {
    /// From this instant (event time), unix milliseconds or an RFC 3339 time (default: the
    /// oldest recorded).
    since: Option<String>,
    /// Until this instant, excluded (default: the newest recorded).
    until: Option<String>,
    /// Only the shadow predictions of this traffic experiment (default: every one).
    experiment: Option<String>,
}

/// A component's shadows against the answers they copy.
#[utoipa::path(
    get,
    path = "/v1/components/{name}/shadow",
    tag = "traffic",
    params(("name" = String, Path, description = "The component's name"), ShadowParams),
    responses(
        (status = 200, description = "Per shadow version, against each version that answered: agreement, \
                                      differences and output drift, with their intervals", body = ShadowComparison),
        (status = 404, description = "No such component (`unknown_component`), or telemetry is off (`telemetry_off`)", body = ErrorBody),
        (status = 408, description = "The request took longer than `server.request_timeout_ms` (`request_timeout`)", body = ErrorBody),
        (status = 422, description = "A parameter cannot be read (`bad_query`)", body = ErrorBody),
        (status = 503, description = "Telemetry could not catch up in time (`telemetry_unavailable`), or the store failed \
                                      (`store_unavailable`)", body = ErrorBody),
    )
)]
pub async fn shadow(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    query: Result<Query<ShadowParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let t = telemetry(&app)?;
    if app.system.component(&name).is_none() {
        let known: Vec<&str> = app.system.components.iter().map(|c| c.name.as_str()).collect();
        return Err(NotFound::component(&name, &known).into());
    }
    let Query(q) = query.map_err(|r| QueryError::Unreadable { problem: r.body_text(), expected: EXPECTED })?;
    let since_ms = q.since.as_deref().map(|s| parse_time("since", s)).transpose()?;
    let until_ms = q.until.as_deref().map(|s| parse_time("until", s)).transpose()?;
    if t.writer.backlog() > 0 {
        // every shadow prediction recorded before the request is counted (a copy still
        // running is not yet recorded)
        t.flush().await.map_err(|error| TelemetryUnavailable { what: Waited::Shadow, error })?;
    }
    let system = app.system.clone();
    let query = ShadowQuery { component: name, since_ms, until_ms, experiment: q.experiment };
    let report = read(t, move |store| {
        let component = system.component(&query.component).expect("looked up above");
        rein_monitor::shadow::compare(&system.name, component, store, &query, &Options::default())
    })
    .await?;
    Ok(Json(report).into_response())
}

/// A component's shadow predictions against the answers they copy (by `shadow_of`).
/// docs/rollouts.md describes every field.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema, never made
pub struct ShadowComparison {
    system: String,
    component: String,
    /// `binary`, `multiclass` or `regression`.
    task: String,
    /// The range read (unix ms, `until_ms` excluded); null: unbounded.
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    /// The experiment asked for; null: every one.
    experiment: Option<String>,
    /// The confidence of every interval.
    confidence: f64,
    /// Shadow predictions read, of every shadow version.
    shadow_predictions: u64,
    /// What the store cannot show: copies that failed or were dropped, counted on `/metrics`.
    not_recorded: String,
    /// One per shadow version.
    shadows: Vec<ShadowVersionComparison>,
}

/// One shadow version's predictions.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema, never made
pub struct ShadowVersionComparison {
    version: String,
    /// The experiments its predictions were recorded under.
    experiments: Vec<String>,
    shadow_predictions: u64,
    /// Those whose original the store no longer holds: compared with nothing.
    original_missing: u64,
    /// Against each version that answered.
    against: Vec<ShadowAgainst>,
}

/// A shadow version against one answering version, on the same requests.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema, never made
pub struct ShadowAgainst {
    answered_version: String,
    /// Shadow predictions joined to an answer of this version.
    pairs: u64,
    /// Pairs where either side has no model output (the answer fell back): left out.
    without_output: u64,
    /// Classifiers: `pairs`, `agreeing`, `agreement` and `changed` (each a figure: `value`,
    /// `lower`, `upper`, `confidence`, `method` = `wilson`), `disagreements` (`answered`,
    /// `shadow`, `count`, the most frequent first).
    #[schema(value_type = Option<Object>)]
    labels: Option<Value>,
    /// `field` (`score` or `value`), `pairs`, `mean` and `mean_absolute` (shadow − answered,
    /// `method` = `t`), `beyond_gap` (scores: `gap`, `count`, `share`, Wilson).
    #[schema(value_type = Option<Object>)]
    differences: Option<Value>,
    /// The shadow's output against the answered output, as a drift report's columns:
    /// `policy`, `drifted`, `columns` (each with every measure and the deciding one in
    /// `decision.method`).
    #[schema(value_type = Object)]
    drift: Value,
    /// The comparison in one sentence.
    verdict: String,
}
