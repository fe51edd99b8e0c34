//! `/v1/models`: the model registry over HTTP. Reads list a component's versions, aliases
//! and alias history (open, or admin-only as `server.model_reads` says); the admin routes
//! register a version (its ONNX bytes uploaded) and move an alias.
//!
//! Moving `champion` swaps what serves without dropping a request: the version is loaded
//! and checked first (a refused one changes nothing), then the component's loaded
//! versions are replaced whole ([`ComponentRuntime::swap`]); a request took its version
//! when it started and finishes on it. The move is timed inside the swap, so the history
//! says exactly which version was champion when each request took its own.
//!
//! The admin token comes from the environment variable `server.admin_token_env` names. It
//! is kept only as its SHA-256, compared in constant time with the presented token's, and
//! never logged or answered.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rein_registry::store::Registry;
use rein_registry::{AliasMove, CHAMPION, Checked, NewVersion, Provenance, RegistryError, Version, history};
use rein_system::{ModelReads, ServerSettings};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};

use crate::app::{App, ComponentRuntime};
use crate::error::{ApiError, BodyError, ErrorBody, Expected, NotFound, QueryError};

/// Largest model a registration uploads (the server's `max_body_bytes` bounds other routes).
pub const MAX_MODEL_BYTES: usize = 1 << 30;

/// The registry a server keeps, what loads its versions, and who may change it.
pub struct Models {
    pub registry: Arc<Registry>,
    pub(crate) runtime: rein_runtime::Runtime,
    admin: Admin,
}

/// Who may use the admin routes, and the reads.
struct Admin {
    /// The token's SHA-256: the token itself is not kept.
    token: Option<[u8; 32]>,
    /// The variable it comes from, to name in refusals.
    env: String,
    reads: ModelReads,
}

impl Models {
    /// `token`: the value of the environment variable `server.admin_token_env` names, if
    /// set (empty is unset).
    pub fn new(
        registry: Arc<Registry>,
        runtime: rein_runtime::Runtime,
        token: Option<String>,
        server: &ServerSettings,
    ) -> Models {
        let token = token.filter(|t| !t.is_empty()).map(|t| Sha256::digest(t.as_bytes()).into());
        Models {
            registry,
            runtime,
            admin: Admin { token, env: server.admin_token_env.clone(), reads: server.model_reads },
        }
    }

    /// Whether admin routes can be used at all (a token is configured).
    pub fn admin_enabled(&self) -> bool {
        self.admin.token.is_some()
    }
}

/// Why a request may not use a route.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("this route needs the admin token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the admin token is not right")]
    Wrong,
    #[error("no admin token is configured on this server, so its admin routes are closed")]
    Disabled { env: String },
}

/// What a registry route cannot answer for reasons of its own.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("this server keeps no model registry (it serves models it was given, as `rein demo` does)")]
    Off,
    #[error("the registry did not answer: {0}")]
    Task(String),
}

#[derive(Clone, Copy, PartialEq)]
enum Access {
    Read,
    Admin,
}

fn models(app: &App) -> Result<&Models, ApiError> {
    app.registry.as_ref().ok_or_else(|| ModelsError::Off.into())
}

fn authorize(models: &Models, headers: &HeaderMap, access: Access) -> Result<(), ApiError> {
    if access == Access::Read && models.admin.reads == ModelReads::Open {
        return Ok(());
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(presented) = presented else { return Err(AuthError::Missing.into()) };
    let Some(expected) = &models.admin.token else {
        return Err(AuthError::Disabled { env: models.admin.env.clone() }.into());
    };
    // digests of equal length, compared in constant time: neither the token nor its
    // length shows in the time a refusal takes
    let given: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    if bool::from(given.ct_eq(expected)) { Ok(()) } else { Err(AuthError::Wrong.into()) }
}

/// The admin token checked for another module's admin route (`/v1/components/{name}/traffic`).
pub(crate) fn authorize_admin(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    authorize(models(app)?, headers, Access::Admin)
}

/// As [`authorize_admin`], for a read: open unless `model_reads = "admin"`.
pub(crate) fn authorize_read(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    authorize(models(app)?, headers, Access::Read)
}

pub(crate) fn component_named<'a>(app: &'a App, name: &str) -> Result<&'a Arc<ComponentRuntime>, ApiError> {
    component(app, name)
}

fn component<'a>(app: &'a App, name: &str) -> Result<&'a Arc<ComponentRuntime>, ApiError> {
    app.component(name).ok_or_else(|| NotFound::component(name, &app.component_names()).into())
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => Err(ModelsError::Task(e.to_string()).into()),
    }
}

// ---------------------------------------------------------------------------------------
// Answers

/// A component's models: what serves, its aliases, every registered version.
#[derive(Serialize, ToSchema)]
pub struct ComponentModels {
    pub component: String,
    /// The version answering predictions now (the champion).
    pub serving: String,
    /// The versions loaded in this server, the serving one first.
    pub loaded: Vec<String>,
    /// Alias → version, as they stand.
    pub aliases: BTreeMap<String, String>,
    /// Every registered version, oldest first.
    pub versions: Vec<VersionAnswer>,
}

/// Every component's models.
#[derive(Serialize, ToSchema)]
pub struct ModelsAnswer {
    pub components: Vec<ComponentModels>,
}

/// A registered version and where it came from.
#[derive(Serialize, ToSchema)]
pub struct VersionAnswer {
    /// What answers and records carry as `model.version`.
    pub id: String,
    /// The artifact's SHA-256 (64 hex digits).
    pub sha256: String,
    pub size_bytes: u64,
    pub registered_at_ms: i64,
    pub registered_by: String,
    pub parent: Option<String>,
    /// Where its bytes came from: a path, or `upload`.
    pub source: String,
    pub provenance: ProvenanceAnswer,
    /// The aliases naming it now.
    pub aliases: Vec<String>,
    /// Whether this server has it loaded.
    pub loaded: bool,
}

/// Training data, code, parameters, offline metrics and reference profile of a version.
#[derive(Serialize, ToSchema)]
pub struct ProvenanceAnswer {
    pub data_digest: Option<String>,
    pub data_description: Option<String>,
    /// The training code's version (a git commit).
    pub code_version: Option<String>,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    /// The reference profile (`rein profile`'s JSON), when one was registered with it.
    #[schema(value_type = Option<Object>)]
    pub profile: Option<serde_json::Value>,
}

/// One move of an alias.
#[derive(Serialize, ToSchema)]
pub struct MoveAnswer {
    /// Its place in the history.
    pub seq: i64,
    pub alias: String,
    pub version: String,
    pub previous: Option<String>,
    pub at_ms: i64,
    pub by: String,
    pub reason: String,
}

/// A component's alias history, and what it says at an instant or of a prediction.
#[derive(Serialize, ToSchema)]
pub struct HistoryAnswer {
    pub component: String,
    /// Every move, oldest first.
    pub moves: Vec<MoveAnswer>,
    /// With `?at=`: every alias as it stood then.
    pub at: Option<AtAnswer>,
    /// With `?prediction=`, or `?unit=&at=`: the prediction and what served it.
    pub served: Option<ServedAnswer>,
}

/// Every alias at an instant.
#[derive(Serialize, ToSchema)]
pub struct AtAnswer {
    pub at_ms: i64,
    /// Alias → version then; the champion served predictions.
    pub aliases: BTreeMap<String, String>,
}

/// A recorded prediction and the version that answered it.
#[derive(Serialize, ToSchema)]
pub struct ServedAnswer {
    pub prediction_id: String,
    pub time_ms: i64,
    pub unit: Option<String>,
    /// The version that answered it, as its record says.
    pub model_version: String,
    pub variant: String,
    /// The aliases naming that version at the prediction's time.
    pub aliases: Vec<String>,
}

/// What a registration came to.
#[derive(Serialize, ToSchema)]
pub struct RegisteredAnswer {
    /// False when the bytes were already this version (nothing new was stored).
    pub created: bool,
    pub version: VersionAnswer,
    /// The alias move asked for with `?alias=`, if any.
    #[serde(rename = "move")]
    pub alias_move: Option<MoveAnswer>,
    /// The version answering predictions after it.
    pub serving: String,
}

/// What an alias move came to.
#[derive(Serialize, ToSchema)]
pub struct MovedAnswer {
    /// False when the alias already named that version (nothing was recorded).
    pub changed: bool,
    #[serde(rename = "move")]
    pub alias_move: MoveAnswer,
    /// The version answering predictions after it.
    pub serving: String,
    pub loaded: Vec<String>,
}

/// Moves an alias to a version.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasRequest {
    /// A registered version of the component.
    pub version: String,
    /// Why, for the history.
    #[serde(default)]
    pub reason: Option<String>,
    /// Who, for the history (default `api`).
    #[serde(default)]
    pub by: Option<String>,
}

/// `GET /v1/models/{name}/history`'s parameters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct HistoryQuery {
    /// An instant (unix ms or RFC 3339): every alias as it stood then.
    at: Option<String>,
    /// With `at`: the unit whose latest prediction at or before `at` says what served it.
    unit: Option<String>,
    /// A prediction id: the version that answered it.
    prediction: Option<String>,
}

/// `POST /v1/models/{name}/versions`' parameters; the body is the ONNX file.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RegisterQuery {
    /// The version's id (default `sha256:` and 12 hex digits of the bytes' digest).
    version: Option<String>,
    /// An alias to move to it once registered (`challenger`, or `champion` to serve it).
    alias: Option<String>,
    parent: Option<String>,
    code_version: Option<String>,
    data_digest: Option<String>,
    data_description: Option<String>,
    /// `key=value`, repeated.
    param: Option<Vec<String>>,
    /// `key=number`, repeated.
    metric: Option<Vec<String>>,
    /// Who registers it (default `api`).
    by: Option<String>,
    /// Why the alias moves.
    reason: Option<String>,
}

fn move_answer(m: AliasMove) -> MoveAnswer {
    MoveAnswer {
        seq: m.seq,
        alias: m.alias,
        version: m.version,
        previous: m.previous,
        at_ms: m.at_ms,
        by: m.by,
        reason: m.reason,
    }
}

fn version_answer(v: Version, aliases: &BTreeMap<String, String>, loaded: &[&str]) -> VersionAnswer {
    VersionAnswer {
        aliases: aliases.iter().filter(|(_, id)| **id == v.id).map(|(a, _)| a.clone()).collect(),
        loaded: loaded.contains(&v.id.as_str()),
        id: v.id,
        sha256: v.sha256,
        size_bytes: v.size_bytes,
        registered_at_ms: v.registered_at_ms,
        registered_by: v.registered_by,
        parent: v.parent,
        source: v.source,
        provenance: ProvenanceAnswer {
            data_digest: v.provenance.data_digest,
            data_description: v.provenance.data_description,
            code_version: v.provenance.code_version,
            params: v.provenance.params,
            metrics: v.provenance.metrics,
            profile: v.provenance.profile,
        },
    }
}

async fn component_models(app: &App, name: &str) -> Result<ComponentModels, ApiError> {
    let c = component(app, name)?;
    let registry = models(app)?.registry.clone();
    let key = name.to_string();
    let (versions, aliases) = blocking(move || Ok((registry.versions(&key)?, registry.aliases(&key)?))).await?;
    let loaded = c.models();
    let loaded: Vec<&str> = loaded.versions();
    Ok(ComponentModels {
        component: name.to_string(),
        serving: loaded[0].to_string(),
        loaded: loaded.iter().map(|v| v.to_string()).collect(),
        versions: versions.into_iter().map(|v| version_answer(v, &aliases, &loaded)).collect(),
        aliases,
    })
}

// ---------------------------------------------------------------------------------------
// Reads

/// Every component's models: versions, aliases, what serves.
#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "models",
    responses(
        (status = 200, description = "Each component's versions and aliases", body = ModelsAnswer),
        (status = 401, description = "Reads are closed (`server.model_reads = \"admin\"`) and no token was sent (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token is wrong (`forbidden`), or none is configured (`admin_disabled`)", body = ErrorBody),
        (status = 404, description = "The server keeps no registry (`registry_off`)", body = ErrorBody),
        (status = 503, description = "The registry could not be read (`registry_unavailable`)", body = ErrorBody),
    )
)]
pub async fn list(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Json<ModelsAnswer>, ApiError> {
    authorize(models(&app)?, &headers, Access::Read)?;
    let mut components = Vec::new();
    for name in app.component_names() {
        components.push(component_models(&app, name).await?);
    }
    Ok(Json(ModelsAnswer { components }))
}

/// A component's versions, aliases and what serves.
#[utoipa::path(
    get,
    path = "/v1/models/{name}",
    tag = "models",
    params(("name" = String, Path, description = "The component's name")),
    responses(
        (status = 200, description = "Its versions, oldest first, and its aliases", body = ComponentModels),
        (status = 401, description = "Reads are closed and no token was sent (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token is wrong (`forbidden`), or none is configured (`admin_disabled`)", body = ErrorBody),
        (status = 404, description = "No such component (`unknown_component`), or no registry (`registry_off`)", body = ErrorBody),
        (status = 503, description = "The registry could not be read (`registry_unavailable`)", body = ErrorBody),
    )
)]
pub async fn show_component(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ComponentModels>, ApiError> {
    authorize(models(&app)?, &headers, Access::Read)?;
    Ok(Json(component_models(&app, &name).await?))
}

/// One version of a component, with its provenance.
#[utoipa::path(
    get,
    path = "/v1/models/{name}/versions/{version}",
    tag = "models",
    params(("name" = String, Path, description = "The component's name"), ("version" = String, Path, description = "A version id")),
    responses(
        (status = 200, description = "The version and its provenance", body = VersionAnswer),
        (status = 401, description = "Reads are closed and no token was sent (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token is wrong (`forbidden`), or none is configured (`admin_disabled`)", body = ErrorBody),
        (status = 404, description = "No such component or version (`unknown_component`, `unknown_version`), or no registry", body = ErrorBody),
        (status = 503, description = "The registry could not be read (`registry_unavailable`)", body = ErrorBody),
    )
)]
pub async fn show_version(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<VersionAnswer>, ApiError> {
    authorize(models(&app)?, &headers, Access::Read)?;
    let c = component(&app, &name)?;
    let registry = models(&app)?.registry.clone();
    let key = name.clone();
    let (v, aliases) = blocking(move || Ok((registry.version(&key, &version)?, registry.aliases(&key)?))).await?;
    let loaded = c.models();
    Ok(Json(version_answer(v, &aliases, &loaded.versions())))
}

/// A component's alias history; with `at`, every alias then; with `prediction`, or `unit`
/// and `at`, the version that answered the prediction.
#[utoipa::path(
    get,
    path = "/v1/models/{name}/history",
    tag = "models",
    params(("name" = String, Path, description = "The component's name"), HistoryQuery),
    responses(
        (status = 200, description = "Every alias move, oldest first, and what was asked", body = HistoryAnswer),
        (status = 401, description = "Reads are closed and no token was sent (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token is wrong (`forbidden`), or none is configured (`admin_disabled`)", body = ErrorBody),
        (status = 404, description = "No such component, prediction (`unknown_prediction`) or registry; or the unit has no \
                                      prediction by then (`unknown_prediction`); or telemetry is off (`telemetry_off`)", body = ErrorBody),
        (status = 422, description = "A parameter cannot be read, or `unit` without `at` (`bad_query`)", body = ErrorBody),
        (status = 503, description = "The registry or the store could not be read", body = ErrorBody),
    )
)]
pub async fn history(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<HistoryAnswer>, ApiError> {
    const EXPECTED: &str = "?at=<unix ms or RFC 3339>, ?prediction=<id>, or ?unit=<unit>&at=<time>";
    authorize(models(&app)?, &headers, Access::Read)?;
    component(&app, &name)?;
    let params = Params::read(query.as_deref(), &["at", "unit", "prediction"], EXPECTED)?;
    let at = params.one("at").map(|t| crate::parse_time("at", t)).transpose()?;
    let unit = params.one("unit").map(str::to_string);
    let prediction = params.one("prediction").map(str::to_string);
    if unit.is_some() && at.is_none() {
        return Err(QueryError::Unreadable {
            problem: "`unit` needs `at`: the instant to say what served it at".into(),
            expected: EXPECTED,
        }
        .into());
    }
    let registry = models(&app)?.registry.clone();
    let key = name.clone();
    let moves = blocking(move || registry.history(&key)).await?;
    let found = match (&prediction, &unit, at) {
        (Some(id), _, _) => {
            let t = app.telemetry.as_ref().ok_or(NotFound::TelemetryOff)?;
            let record = crate::records::find_prediction(t, id, crate::records::Seen::Prediction).await?;
            if record.prediction.component != name {
                return Err(NotFound::Prediction(id.clone()).into());
            }
            Some(record.prediction)
        }
        (None, Some(unit), Some(at)) => {
            let t = app.telemetry.as_ref().ok_or(NotFound::TelemetryOff)?;
            t.flush()
                .await
                .map_err(|error| crate::error::TelemetryUnavailable { what: crate::error::Waited::Listing, error })?;
            let (component, unit_key) = (name.clone(), unit.clone());
            let found =
                crate::records::read(t, move |s| rein_registry::served::unit_at(s, &component, &unit_key, at)).await?;
            Some(found.ok_or_else(|| NotFound::Prediction(format!("(none of unit `{unit}` at or before {at})")))?)
        }
        _ => None,
    };
    let served = found.map(|p| {
        let s = rein_registry::served::served(&p, &moves);
        ServedAnswer {
            prediction_id: s.prediction_id,
            time_ms: s.time_ms,
            unit: s.unit,
            model_version: s.model_version,
            variant: s.variant,
            aliases: s.aliases,
        }
    });
    let at = at.map(|at_ms| AtAnswer { at_ms, aliases: history::aliases_at(&moves, at_ms) });
    Ok(Json(HistoryAnswer { component: name, moves: moves.into_iter().map(move_answer).collect(), at, served }))
}

// ---------------------------------------------------------------------------------------
// Admin

/// Registers a version: the body is its ONNX file. It is loaded and checked against the
/// component first; a refused one is not stored. `?alias=` then moves an alias to it.
#[utoipa::path(
    post,
    path = "/v1/models/{name}/versions",
    tag = "models",
    params(("name" = String, Path, description = "The component's name"), RegisterQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The ONNX file"),
    responses(
        (status = 200, description = "The bytes were already this version", body = RegisteredAnswer),
        (status = 201, description = "Registered", body = RegisteredAnswer),
        (status = 401, description = "No token was sent (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token is wrong (`forbidden`), or none is configured (`admin_disabled`)", body = ErrorBody),
        (status = 404, description = "No such component, or no registry", body = ErrorBody),
        (status = 409, description = "The id names other bytes, or the bytes are another version (`version_exists`)", body = ErrorBody),
        (status = 413, description = "Larger than 1 GiB (`body_too_large`)", body = ErrorBody),
        (status = 422, description = "The model is refused (`model_refused`: the mismatch named), or a parameter is wrong \
                                      (`bad_query`, `bad_version`)", body = ErrorBody),
        (status = 503, description = "The registry could not be written (`registry_unavailable`)", body = ErrorBody),
    )
)]
pub async fn register(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    const EXPECTED: &str =
        "?version=&alias=&parent=&code_version=&data_digest=&data_description=&param=k=v&metric=k=v&by=&reason=";
    let models = models(&app)?;
    authorize(models, &headers, Access::Admin)?;
    let c = component(&app, &name)?.clone();
    let params = Params::read(
        query.as_deref(),
        &[
            "version",
            "alias",
            "parent",
            "code_version",
            "data_digest",
            "data_description",
            "param",
            "metric",
            "by",
            "reason",
        ],
        EXPECTED,
    )?;
    let bad = |problem: String| ApiError::from(QueryError::Unreadable { problem, expected: EXPECTED });
    let provenance = Provenance {
        data_digest: params.one("data_digest").map(str::to_string),
        data_description: params.one("data_description").map(str::to_string),
        code_version: params.one("code_version").map(str::to_string),
        params: rein_registry::version::pairs("param", &params.all("param")).map_err(bad)?,
        metrics: rein_registry::version::metrics(&params.all("metric")).map_err(bad)?,
        profile: None,
    };
    let bytes = body?;
    if bytes.is_empty() {
        return Err(BodyError::Unreadable("the body is empty: send the ONNX file as the body".into()).into());
    }
    let by = params.one("by").unwrap_or("api").to_string();
    let new = NewVersion {
        component: name.clone(),
        bytes: bytes.to_vec(),
        id: params.one("version").map(str::to_string),
        parent: params.one("parent").map(str::to_string),
        registered_by: by.clone(),
        source: "upload".into(),
        provenance,
    };
    let alias = params.one("alias").map(str::to_string);
    if let Some(problem) = alias.as_deref().and_then(rein_registry::version::alias_problem) {
        return Err(RegistryError::BadAlias(problem).into());
    }
    let reason = params.one("reason").unwrap_or("registered with the alias").to_string();
    let (registry, runtime, spec) = (models.registry.clone(), models.runtime.clone(), c.path.component().clone());
    let registered = blocking(move || registry.register(&spec, &runtime, new)).await?;
    let alias_move = match alias {
        Some(alias) => Some(move_to(&app, &c, &registered.checked, &alias, &by, &reason).await?.0),
        None => None,
    };
    let registry = models.registry.clone();
    let key = name.clone();
    let aliases = blocking(move || registry.aliases(&key)).await?;
    let loaded = c.models();
    let status = if registered.created { StatusCode::CREATED } else { StatusCode::OK };
    let answer = RegisteredAnswer {
        created: registered.created,
        version: version_answer(registered.version, &aliases, &loaded.versions()),
        alias_move: alias_move.map(move_answer),
        serving: loaded.default().info().version.clone(),
    };
    Ok((status, Json(answer)).into_response())
}

/// Moves an alias to a registered version. The version is loaded and checked first; moving
/// `champion` then swaps what serves at once, and requests in flight finish on the version
/// they started with.
#[utoipa::path(
    put,
    path = "/v1/models/{name}/aliases/{alias}",
    tag = "models",
    params(("name" = String, Path, description = "The component's name"), ("alias" = String, Path, description = "`champion`, `challenger`, or another alias")),
    request_body = AliasRequest,
    responses(
        (status = 200, description = "Moved (or already there: `changed` is false)", body = MovedAnswer),
        (status = 400, description = "The body is not JSON (`malformed_json`)", body = ErrorBody),
        (status = 401, description = "No token was sent (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token is wrong (`forbidden`), or none is configured (`admin_disabled`)", body = ErrorBody),
        (status = 404, description = "No such component or version, or no registry", body = ErrorBody),
        (status = 422, description = "The version is refused (`model_refused`: the mismatch named), the alias is not a name \
                                      (`bad_version`), or the body has the wrong shape (`bad_request_shape`)", body = ErrorBody),
        (status = 500, description = "The stored artifact is corrupt (`corrupt_artifact`)", body = ErrorBody),
        (status = 503, description = "The registry could not be written (`registry_unavailable`)", body = ErrorBody),
    )
)]
pub async fn move_alias(
    State(app): State<Arc<App>>,
    Path((name, alias)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<MovedAnswer>, ApiError> {
    let models = models(&app)?;
    authorize(models, &headers, Access::Admin)?;
    let c = component(&app, &name)?.clone();
    let body = body?;
    let asked: AliasRequest = serde_json::from_slice(&body).map_err(|e| BodyError::json(&e, Expected::AliasMove))?;
    if let Some(problem) = rein_registry::version::alias_problem(&alias) {
        return Err(RegistryError::BadAlias(problem).into());
    }
    let by = asked.by.unwrap_or_else(|| "api".into());
    let reason = asked.reason.unwrap_or_default();
    let (record, changed) = move_alias_to(&app, &c, &asked.version, &alias, &by, &reason).await?;
    let serving = c.models();
    Ok(Json(MovedAnswer {
        changed,
        alias_move: move_answer(record),
        serving: serving.default().info().version.clone(),
        loaded: serving.versions().into_iter().map(str::to_string).collect(),
    }))
}

/// Loads and checks `version` of component `c` (no reload when it is loaded already),
/// then points `alias` at it as [`move_to`] does: the alias route's, and the rollout
/// controller's.
pub(crate) async fn move_alias_to(
    app: &App,
    c: &Arc<ComponentRuntime>,
    version: &str,
    alias: &str,
    by: &str,
    reason: &str,
) -> Result<(AliasMove, bool), ApiError> {
    let models = models(app)?;
    let (registry, runtime, spec) = (models.registry.clone(), models.runtime.clone(), c.path.component().clone());
    let (name, version) = (c.name.clone(), version.to_string());
    let checked = match c.models().get(&version).cloned() {
        Some(model) => {
            let v = version.clone();
            blocking(move || registry.version(&name, &v)).await?;
            rein_registry::check::check_loaded(&spec, model).map_err(RegistryError::from)?
        }
        None => blocking(move || registry.load(&spec, &version, &runtime).map(|(_, checked)| checked)).await?,
    };
    move_to(app, c, &checked, alias, by, reason).await
}

/// Points `alias` at `checked` and loads it in the component: as what serves for
/// `champion`, beside it otherwise. One swap of a component at a time; the move is timed
/// inside the swap (see the module).
async fn move_to(
    app: &App,
    c: &Arc<ComponentRuntime>,
    checked: &Checked,
    alias: &str,
    by: &str,
    reason: &str,
) -> Result<(AliasMove, bool), ApiError> {
    let registry = models(app)?.registry.clone();
    let _one_at_a_time = c.swapping.lock().await;
    let before = c.models();
    let mut at_ms = 0;
    let model = checked.model().clone();
    let version = model.info().version.clone();
    c.swap(|current| {
        at_ms = registry.now_ms();
        if alias == CHAMPION { current.serving(model) } else { current.holding(model).aliased(alias, &version) }
    });
    let (checked, alias_owned, by, reason) = (checked.clone(), alias.to_string(), by.to_string(), reason.to_string());
    let registry2 = registry.clone();
    let moved = blocking(move || registry2.move_alias_at(&checked, &alias_owned, &by, &reason, at_ms)).await;
    match moved {
        Ok(moved) => {
            // versions no alias names any more are unloaded; requests holding them finish first
            let key = c.name.clone();
            if let Ok(aliases) = blocking(move || registry.aliases(&key)).await {
                // and those the traffic plan names by version
                let plan = c.traffic();
                let planned = |v: &str| plan.as_ref().is_some_and(|t| t.names_version(v));
                c.swap(|current| current.retaining(|v| aliases.values().any(|a| a == v) || planned(v)));
            }
            tracing::info!(component = %c.name, alias, version = moved.record.version, changed = moved.changed, "alias moved");
            Ok((moved.record, moved.changed))
        }
        Err(e) => {
            // not recorded: what served before serves again
            c.swap(|_| (*before).clone());
            Err(e)
        }
    }
}

/// A query string's parameters, each of the names a route takes.
struct Params(Vec<(String, String)>);

impl Params {
    fn read(query: Option<&str>, names: &[&str], expected: &'static str) -> Result<Params, QueryError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (k, _) in &pairs {
            if !names.contains(&k.as_str()) {
                return Err(QueryError::Unreadable {
                    problem: format!("unknown parameter `{k}`; this route takes {}", names.join(", ")),
                    expected,
                });
            }
        }
        let repeatable = ["param", "metric"];
        for name in names.iter().filter(|n| !repeatable.contains(n)) {
            if pairs.iter().filter(|(k, _)| k == name).count() > 1 {
                return Err(QueryError::Unreadable { problem: format!("`{name}` is given more than once"), expected });
            }
        }
        Ok(Params(pairs))
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
}
