//! One error type for the HTTP edge, one JSON shape for every error:
//! `{"error": {"code", "message", "details"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Value::Null }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn malformed_json(e: &serde_json::Error) -> Self {
        Self::malformed_json_at(e, e.line(), e.column())
    }

    /// As [`ApiError::malformed_json`], for a mistake whose place in the body the caller worked out.
    pub fn malformed_json_at(what: impl std::fmt::Display, line: usize, column: usize) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the request body is not valid JSON: {what} (line {line}, column {column})"),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unknown_component(name: &str, known: &[&str]) -> Self {
        Self::new(StatusCode::NOT_FOUND, "unknown_component", format!("no component is named `{name}`"))
            .with_details(json!({ "components": known }))
    }

    /// Telemetry could not record or flush in time: a 503 naming `what` was not done.
    pub fn telemetry_unavailable(what: impl std::fmt::Display, e: &crate::telemetry::CommitError) -> Self {
        use crate::telemetry::CommitError;
        let queued = matches!(e, CommitError::TimedOut(_) | CommitError::StoreFailing { .. });
        let tail = if queued { "; what was queued stays queued and is written when the store recovers" } else { "" };
        let first = if e.store_failing() {
            "the store cannot write: on a full disk, free space where the data directory is, or keep \
             fewer days (`[telemetry] retention_days`); then retry"
        } else {
            "retry later"
        };
        let hint = format!(
            "{first} (feedback with the same `key`, so it is recorded once); \
             see rein_telemetry_events_total and the server log"
        );
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "telemetry_unavailable", format!("{what}: {e}{tail}"))
            .with_details(json!({ "hint": hint }))
    }

    pub fn body(&self) -> Value {
        json!({ "error": { "code": self.code, "message": self.message, "details": self.details } })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// Maps axum's body rejections (too large, unreadable) to the common shape.
impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(r: axum::extract::rejection::BytesRejection) -> Self {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "body_too_large", "the request body is larger than this server accepts")
                .with_details(json!({ "hint": "send fewer instances per request, or raise `server.max_body_bytes` in the system file" }))
        } else {
            ApiError::new(status, "unreadable_body", r.body_text())
        }
    }
}
