//! The `[runtime]`, `[server]` and `[telemetry]` tables, and the one check that spans them
//! and the components: a request outlives its model call and its telemetry commit.

use std::path::Path;
use std::time::Duration;

use super::fields::{count, given, one_of};
use crate::diagnostic::Reporter;
use crate::raw::{RawFile, RawRuntime, RawServer, RawTelemetry, Typed, entries};
use crate::types::{
    Component, Durability, ModelReads, RetentionDays, RuntimeSettings, ServerSettings, TelemetrySettings,
    UnknownFeatures,
};

pub(super) fn runtime(raw: &Option<Typed<RawRuntime>>, base: &Path, r: &mut Reporter) -> RuntimeSettings {
    let raw = given(r, "runtime", raw).map(|raw| raw.get_ref());
    let onnxruntime = raw.and_then(|raw| given(r, "onnxruntime", &raw.onnxruntime));
    RuntimeSettings { onnxruntime: onnxruntime.map(|p| base.join(p.get_ref())) }
}

pub(super) fn server(raw: &Option<Typed<RawServer>>, r: &mut Reporter) -> ServerSettings {
    let mut s = ServerSettings::default();
    let Some(raw) = given(r, "server", raw).map(|raw| raw.get_ref()) else {
        return s;
    };
    if let Some(v) = count(r, "max_body_bytes", &raw.max_body_bytes, 1 << 30) {
        s.max_body_bytes = v as usize;
    }
    if let Some(v) = count(r, "max_batch", &raw.max_batch, 100_000) {
        s.max_batch = v as usize;
    }
    if let Some(v) = &raw.unknown_features {
        match one_of(r, "unknown_features", v, "unknown_features policy", &["reject", "ignore"]) {
            Some("ignore") => s.unknown_features = UnknownFeatures::Ignore,
            Some(_) => s.unknown_features = UnknownFeatures::Reject,
            None => {}
        }
    }
    if let Some(v) = count(r, "request_timeout_ms", &raw.request_timeout_ms, 3_600_000) {
        s.request_timeout = Duration::from_millis(v as u64);
    }
    if let Some(v) = count(r, "shutdown_timeout_ms", &raw.shutdown_timeout_ms, 3_600_000) {
        s.shutdown_timeout = Duration::from_millis(v as u64);
    }
    if let Some(v) = given(r, "admin_token_env", &raw.admin_token_env) {
        let name = v.get_ref();
        let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            s.admin_token_env = name.clone();
        } else {
            r.at(
                v.span(),
                format!("`admin_token_env` names an environment variable, and `{name}` cannot be one"),
                Some(
                    "letters, digits and `_`, not starting with a digit, e.g. `admin_token_env = \"REIN_ADMIN_TOKEN\"`"
                        .into(),
                ),
            );
        }
    }
    if let Some(v) = &raw.model_reads {
        match one_of(r, "model_reads", v, "model_reads setting", &["open", "admin"]) {
            Some("admin") => s.model_reads = ModelReads::Admin,
            Some(_) => s.model_reads = ModelReads::Open,
            None => {}
        }
    }
    if let Some(token) = &raw.admin_token {
        r.at(
            token.span(),
            "`admin_token` would put a secret in the system file, which is read, copied and committed",
            Some("set the token in an environment variable and name it: `admin_token_env = \"REIN_ADMIN_TOKEN\"` (the default)".into()),
        );
    }
    s
}

pub(super) fn telemetry(raw: &Option<Typed<RawTelemetry>>, r: &mut Reporter) -> TelemetrySettings {
    let mut t = TelemetrySettings::default();
    let Some(raw) = given(r, "telemetry", raw).map(|raw| raw.get_ref()) else {
        return t;
    };
    if let Some(enabled) = given(r, "enabled", &raw.enabled) {
        t.enabled = *enabled.get_ref();
    }
    if let Some(spill) = &raw.spill {
        r.at(
            spill.span(),
            "`spill` is no longer a setting: the event log keeps what the store cannot take yet",
            Some("remove it (docs/telemetry.md says how events are kept)".into()),
        );
    }
    if let Some(old) = &raw.queue_capacity {
        r.at(
            old.span(),
            "`queue_capacity` is now `max_backlog`: how many answered events may wait for the store",
            Some("rename it to `max_backlog` (default 100000)".into()),
        );
    }
    if let Some(fsync) = given(r, "fsync", &raw.fsync) {
        t.fsync = *fsync.get_ref();
    }
    if let Some(d) = &raw.durability {
        match one_of(r, "durability", d, "durability", &["durable", "buffered"]) {
            Some("buffered") => t.durability = Durability::Buffered,
            Some(_) => t.durability = Durability::Durable,
            None => {}
        }
    }
    if let Some(c) = count(r, "max_backlog", &raw.max_backlog, 100_000_000) {
        t.max_backlog = c as u64;
    }
    if let Some(c) = count(r, "commit_timeout_ms", &raw.commit_timeout_ms, 600_000) {
        t.commit_timeout = Duration::from_millis(c as u64);
    }
    if let Some(days_of) = given(r, "retention_days", &raw.retention_days).map(|d| d.get_ref()) {
        let mut days = |key: &str, v: &Option<Typed<i64>>| count(r, key, v, 365_000).map(|d| d as u32);
        t.retention = RetentionDays {
            predictions: days("retention_days.predictions", &days_of.predictions),
            feedback: days("retention_days.feedback", &days_of.feedback),
            outcomes: days("retention_days.outcomes", &days_of.outcomes),
        };
    }
    // at most a petabyte: past it the setting is almost certainly bytes written as megabytes
    t.max_store_bytes = count(r, "max_store_mb", &raw.max_store_mb, 1_000_000_000).map(|mb| mb as u64 * 1024 * 1024);
    t
}

/// A request must outlive its model call and its telemetry commit, or a slow model gets a
/// 408 instead of its fallback, and a stalled store a 408 instead of a clear 503.
pub(super) fn check_timeouts(
    raw: &RawFile,
    server: &ServerSettings,
    telemetry: &TelemetrySettings,
    components: &[Component],
    r: &mut Reporter,
) {
    let commit = if telemetry.enabled { telemetry.commit_timeout } else { Duration::ZERO };
    for c in components {
        let needed = c.model.timeout + commit;
        if server.request_timeout > needed {
            continue;
        }
        // the component and the server were read without a mistake: their values have their types
        let raw_c = entries(raw.components.as_ref())
            .find(|rc| rc.get_ref().name.as_ref().and_then(Typed::ok).is_some_and(|n| *n.get_ref() == c.name));
        let model_timeout =
            raw_c.and_then(|rc| rc.get_ref().model.as_ref()?.ok()).and_then(|m| m.get_ref().timeout_ms.as_ref());
        let request_timeout =
            raw.server.as_ref().and_then(Typed::ok).and_then(|s| s.get_ref().request_timeout_ms.as_ref());
        let span = match (request_timeout, model_timeout, raw_c) {
            (Some(t), _, _) => t.span(),
            (None, Some(t), _) => t.span(),
            (None, None, Some(rc)) => rc.span(),
            (None, None, None) => 0..0,
        };
        r.at(
            span,
            format!(
                "`server.request_timeout_ms` ({} ms) must exceed component `{}`'s model `timeout_ms` ({} ms) \
                 plus `telemetry.commit_timeout_ms` ({} ms)",
                server.request_timeout.as_millis(),
                c.name,
                c.model.timeout.as_millis(),
                commit.as_millis()
            ),
            Some(format!(
                "set `request_timeout_ms = {}` or more in `[server]`",
                (needed + Duration::from_secs(1)).as_millis()
            )),
        );
    }
}
