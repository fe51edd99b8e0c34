//! The `[runtime]`, `[server]` and `[telemetry]` tables, and the one check that spans them
//! and the components: a request outlives its model call and its telemetry commit.

use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::fields::{one_of, positive};
use crate::diagnostic::Reporter;
use crate::raw::{RawFile, RawRuntime, RawServer, RawTelemetry};
use crate::types::{
    Component, Durability, RetentionDays, RuntimeSettings, ServerSettings, TelemetrySettings, UnknownFeatures,
};

pub(super) fn runtime(raw: &RawRuntime, base: &Path) -> RuntimeSettings {
    RuntimeSettings { onnxruntime: raw.onnxruntime.as_ref().map(|p| base.join(p.get_ref())) }
}

pub(super) fn server(raw: &RawServer, r: &mut Reporter) -> ServerSettings {
    let mut s = ServerSettings::default();
    if let Some(v) = &raw.max_body_bytes
        && let Some(v) = positive(r, v, "`max_body_bytes`", 1 << 30)
    {
        s.max_body_bytes = v as usize;
    }
    if let Some(v) = &raw.max_batch
        && let Some(v) = positive(r, v, "`max_batch`", 100_000)
    {
        s.max_batch = v as usize;
    }
    if let Some(v) = &raw.unknown_features {
        match one_of(r, v, "unknown_features policy", &["reject", "ignore"]) {
            Some("ignore") => s.unknown_features = UnknownFeatures::Ignore,
            Some(_) => s.unknown_features = UnknownFeatures::Reject,
            None => {}
        }
    }
    if let Some(v) = &raw.request_timeout_ms
        && let Some(v) = positive(r, v, "`request_timeout_ms`", 3_600_000)
    {
        s.request_timeout = Duration::from_millis(v as u64);
    }
    if let Some(v) = &raw.shutdown_timeout_ms
        && let Some(v) = positive(r, v, "`shutdown_timeout_ms`", 3_600_000)
    {
        s.shutdown_timeout = Duration::from_millis(v as u64);
    }
    s
}

pub(super) fn telemetry(raw: &RawTelemetry, r: &mut Reporter) -> TelemetrySettings {
    let mut t = TelemetrySettings::default();
    if let Some(enabled) = raw.enabled {
        t.enabled = enabled;
    }
    if let Some(spill) = raw.spill {
        t.spill = spill;
    }
    if let Some(fsync) = raw.fsync {
        t.fsync = fsync;
    }
    if let Some(d) = &raw.durability {
        match one_of(r, d, "durability", &["durable", "buffered"]) {
            Some("buffered") => t.durability = Durability::Buffered,
            Some(_) => t.durability = Durability::Durable,
            None => {}
        }
    }
    if let Some(c) = &raw.queue_capacity
        && let Some(c) = positive(r, c, "`queue_capacity`", 10_000_000)
    {
        t.queue_capacity = c as usize;
    }
    if let Some(c) = &raw.commit_timeout_ms
        && let Some(c) = positive(r, c, "`commit_timeout_ms`", 600_000)
    {
        t.commit_timeout = Duration::from_millis(c as u64);
    }
    let days = |r: &mut Reporter, v: &Option<Spanned<i64>>, what: &str| {
        v.as_ref().and_then(|d| positive(r, d, what, 365_000)).map(|d| d as u32)
    };
    t.retention = RetentionDays {
        predictions: days(r, &raw.retention_days.predictions, "`retention_days.predictions`"),
        feedback: days(r, &raw.retention_days.feedback, "`retention_days.feedback`"),
        outcomes: days(r, &raw.retention_days.outcomes, "`retention_days.outcomes`"),
    };
    // at most a petabyte: past it the setting is almost certainly bytes written as megabytes
    t.max_store_bytes = raw
        .max_store_mb
        .as_ref()
        .and_then(|mb| positive(r, mb, "`max_store_mb`", 1_000_000_000))
        .map(|mb| mb as u64 * 1024 * 1024);
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
        let raw_c = raw.components.iter().find(|rc| rc.get_ref().name.as_ref().is_some_and(|n| *n.get_ref() == c.name));
        let model_timeout =
            raw_c.and_then(|rc| rc.get_ref().model.as_ref()).and_then(|m| m.get_ref().timeout_ms.as_ref());
        let span = match (&raw.server.request_timeout_ms, model_timeout, raw_c) {
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
