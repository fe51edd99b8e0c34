//! One prediction, one shape: what the predict route answers is what the lookup
//! (`GET /v1/predictions/{id}`) and the listing (`GET /v1/predictions`) answer of it once it
//! is recorded, field for field, plus what only the record holds: the features as telemetry
//! saw them and, in the lookup, the feedback and outcomes joined to it.
//!
//! Its parts that the decision path serialized (outputs, guardrails, decision) are the
//! telemetry event's own `JsonText`: written out as they are, never serialized again.

use rein_telemetry::{FeedbackEvent, JsonText, OutcomeEvent, PredictionEvent};
use serde::Serialize;
use utoipa::ToSchema;

use crate::openapi::{Decision, FeedbackKindName, FeedbackSourceName, GuardrailAction, Output};

/// A prediction: the decision for one instance and why, as the predict route answers it and
/// the lookup and the listing answer it once it is recorded.
#[derive(Serialize, ToSchema)]
#[schema(description = "A prediction: the model's raw output, the output the product acts on, the guardrails that \
                   acted and the decision. The predict route answers it; the lookup and the listing answer the \
                   same object once it is recorded, with the `features` telemetry kept, and the lookup with its \
                   `feedback` and `outcomes`.")]
pub struct Prediction<'a> {
    /// The prediction's id (UUIDv7, ordered by time): name it in feedback, outcomes and lookups.
    prediction_id: &'a str,
    /// Event time, unix milliseconds (the request's `time_ms`, or when it arrived).
    time_ms: i64,
    /// The system's name.
    system: &'a str,
    component: &'a str,
    /// Who or what the prediction is about, as the request said.
    unit: Option<&'a str>,
    /// The model version that answered.
    model: ModelRef<'a>,
    /// Traffic variant (`main` unless a traffic plan chose another: an arm's, `holdout`,
    /// `canary`/`stable`, or `shadow` for a shadow's recorded prediction).
    variant: &'a str,
    /// The traffic plan's experiment that chose the variant; absent when no plan served it.
    #[serde(skip_serializing_if = "Option::is_none")]
    experiment: Option<&'a str>,
    /// How the plan assigned it: `unit` (sticky: the same unit, the same variant) or
    /// `per_request` (no unit was given: a draw of its own). Absent without a plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    assignment: Option<&'static str>,
    /// For a shadow's prediction: the id of the answered prediction it copies.
    #[serde(skip_serializing_if = "Option::is_none")]
    shadow_of: Option<&'a str>,
    /// The features as telemetry kept them, after each feature's `telemetry` policy (hashed
    /// `h:…`, dropped, truncated). Recorded predictions only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<HashMap<String, Value>>)]
    features: Option<&'a JsonText>,
    /// The model's own output, before guardrails; null when the model was not called or failed.
    #[schema(value_type = Option<Output>)]
    raw: &'a JsonText,
    /// What the product acts on.
    #[schema(value_type = Output)]
    output: &'a JsonText,
    /// The guardrails that acted, in order.
    #[schema(value_type = Vec<GuardrailAction>)]
    guardrails: &'a JsonText,
    #[schema(value_type = Decision)]
    decision: &'a JsonText,
    /// Why the declared fallback answered (the model's error), if it did.
    fallback: Option<&'a str>,
    /// Time the server spent until the prediction was decided, microseconds (recording it
    /// and sending the answer are not counted: `rein_request_duration_seconds` has the whole).
    server_time_us: u64,
    /// What the world said about the prediction, oldest first. The lookup only.
    #[serde(skip_serializing_if = "Option::is_none")]
    feedback: Option<Vec<FeedbackRecord<'a>>>,
    /// The outcomes that name this prediction, oldest first. The lookup only.
    #[serde(skip_serializing_if = "Option::is_none")]
    outcomes: Option<Vec<OutcomeRecord<'a>>>,
}

#[derive(Serialize, ToSchema)]
pub struct ModelRef<'a> {
    /// The model's name (its file's stem).
    name: &'a str,
    version: &'a str,
}

/// What a prediction is made of, borrowed from wherever it is held: the request's own
/// values, or its recorded event.
pub struct Parts<'a> {
    pub prediction_id: &'a str,
    pub time_ms: i64,
    pub system: &'a str,
    pub component: &'a str,
    pub unit: Option<&'a str>,
    pub model_name: &'a str,
    pub model_version: &'a str,
    pub variant: &'a str,
    pub experiment: Option<&'a str>,
    pub shadow_of: Option<&'a str>,
    pub raw: &'a JsonText,
    pub output: &'a JsonText,
    pub guardrails: &'a JsonText,
    pub decision: &'a JsonText,
    pub fallback: Option<&'a str>,
    pub server_time_us: u64,
}

impl<'a> Prediction<'a> {
    /// The predict route's answer.
    pub fn answered(p: Parts<'a>) -> Self {
        Prediction {
            prediction_id: p.prediction_id,
            time_ms: p.time_ms,
            system: p.system,
            component: p.component,
            unit: p.unit,
            model: ModelRef { name: p.model_name, version: p.model_version },
            variant: p.variant,
            experiment: p.experiment,
            assignment: p.experiment.map(|_| if p.unit.is_some() { "unit" } else { "per_request" }),
            shadow_of: p.shadow_of,
            features: None,
            raw: p.raw,
            output: p.output,
            guardrails: p.guardrails,
            decision: p.decision,
            fallback: p.fallback,
            server_time_us: p.server_time_us,
            feedback: None,
            outcomes: None,
        }
    }

    /// A recorded prediction, as the listing answers it.
    pub fn recorded(e: &'a PredictionEvent) -> Self {
        Prediction {
            features: Some(&e.features),
            ..Self::answered(Parts {
                prediction_id: &e.id,
                time_ms: e.time_ms,
                system: &e.system,
                component: &e.component,
                unit: e.unit.as_deref(),
                model_name: &e.model_name,
                model_version: &e.model_version,
                variant: &e.variant,
                experiment: e.experiment.as_deref(),
                shadow_of: e.shadow_of.as_deref(),
                raw: &e.raw_output,
                output: &e.output,
                guardrails: &e.guardrails,
                decision: &e.decision,
                fallback: e.fallback.as_deref(),
                server_time_us: e.latency_us,
            })
        }
    }

    /// A recorded prediction with what the world said about it, as the lookup answers it.
    pub fn joined(e: &'a PredictionEvent, feedback: &'a [FeedbackEvent], outcomes: &'a [OutcomeEvent]) -> Self {
        Prediction {
            feedback: Some(feedback.iter().map(Into::into).collect()),
            outcomes: Some(outcomes.iter().map(Into::into).collect()),
            ..Self::recorded(e)
        }
    }
}

/// A recorded feedback.
#[derive(Serialize, ToSchema)]
pub struct FeedbackRecord<'a> {
    id: &'a str,
    prediction_id: &'a str,
    /// Event time, unix milliseconds.
    time_ms: i64,
    #[schema(value_type = FeedbackKindName)]
    kind: &'a str,
    /// The true label; for `incorrect` on a binary component without one, the other label.
    label: Option<&'a str>,
    value: Option<f64>,
    unit: Option<&'a str>,
    comment: Option<&'a str>,
    #[schema(value_type = FeedbackSourceName)]
    source: &'a str,
    /// The key it was posted with, if any.
    idempotency_key: Option<&'a str>,
}

impl<'a> From<&'a FeedbackEvent> for FeedbackRecord<'a> {
    fn from(f: &'a FeedbackEvent) -> Self {
        FeedbackRecord {
            id: &f.id,
            prediction_id: &f.prediction_id,
            time_ms: f.time_ms,
            kind: f.kind.as_str(),
            label: f.label.as_deref(),
            value: f.value,
            unit: f.unit.as_deref(),
            comment: f.comment.as_deref(),
            source: f.source.as_str(),
            idempotency_key: f.idempotency_key.as_deref(),
        }
    }
}

/// A recorded outcome.
#[derive(Serialize, ToSchema)]
pub struct OutcomeRecord<'a> {
    id: &'a str,
    /// Event time, unix milliseconds.
    time_ms: i64,
    unit: Option<&'a str>,
    prediction_id: Option<&'a str>,
    name: &'a str,
    value: Option<f64>,
}

impl<'a> From<&'a OutcomeEvent> for OutcomeRecord<'a> {
    fn from(o: &'a OutcomeEvent) -> Self {
        OutcomeRecord {
            id: &o.id,
            time_ms: o.time_ms,
            unit: o.unit.as_deref(),
            prediction_id: o.prediction_id.as_deref(),
            name: &o.name,
            value: o.value,
        }
    }
}
