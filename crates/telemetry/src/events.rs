//! The three event kinds rein records: predictions, feedback about them and
//! outcomes observed in the world. They are plain data: the server maps its
//! own types into them, and they serialize to JSON for the spill file and the
//! HTTP API.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest feedback comment accepted by [`FeedbackEvent::validate`], in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// Longest idempotency key accepted by [`FeedbackEvent::validate`], in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 200;
/// Longest label accepted by [`FeedbackEvent::validate`], in bytes.
pub const MAX_LABEL_BYTES: usize = 1000;

/// The default traffic variant.
pub const DEFAULT_VARIANT: &str = "main";

/// Current time as unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A new time-ordered prediction id (UUIDv7, hyphenated lower case).
pub fn new_prediction_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A new event id for a feedback or an outcome (UUIDv7). The store keeps one event per
/// id, so an event replayed from the journal or the spill file is stored exactly once.
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn default_variant() -> String {
    DEFAULT_VARIANT.to_owned()
}

/// A JSON document held as its text: serialized once where the event is made, then
/// stored, spilled and sent on as it is, never rebuilt as a tree on the write path.
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct JsonText(Box<serde_json::value::RawValue>);

/// Read through a tree, not as raw text: an [`Event`] is internally tagged, and serde
/// hands such a variant's fields over buffered, where raw text is no longer there.
impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(|v| JsonText::of(&v))
    }
}

impl JsonText {
    /// The JSON of `value`; `null` if it has no JSON form (a map with non-string keys).
    pub fn of<T: Serialize + ?Sized>(value: &T) -> JsonText {
        serde_json::value::to_raw_value(value).map(JsonText).unwrap_or_else(|_| JsonText::null())
    }

    pub fn null() -> JsonText {
        JsonText(serde_json::value::RawValue::NULL.to_owned())
    }

    /// Checks that `text` is one JSON document.
    pub fn parse(text: String) -> Result<JsonText, serde_json::Error> {
        serde_json::value::RawValue::from_string(text).map(JsonText)
    }

    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The document as a tree, for readers that look inside it.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.0.get()).unwrap_or(serde_json::Value::Null)
    }
}

/// Equal documents, whatever the order of their keys.
impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() || self.to_value() == other.to_value()
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<serde_json::Value> for JsonText {
    fn from(value: serde_json::Value) -> Self {
        JsonText::of(&value)
    }
}

/// One prediction served by rein, as it was served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionEvent {
    /// UUIDv7 (time-ordered), see [`new_prediction_id`].
    pub id: String,
    /// Unix milliseconds.
    pub time_ms: i64,
    pub system: String,
    pub component: String,
    /// The unit (user, account, ...) the prediction is about, if known.
    #[serde(default)]
    pub unit: Option<String>,
    pub model_name: String,
    pub model_version: String,
    /// Traffic variant (room for rollouts and experiments); `"main"` by default.
    #[serde(default = "default_variant")]
    pub variant: String,
    /// Features as the model saw them, after the privacy policy (a JSON object).
    pub features: JsonText,
    /// The model's raw output.
    pub raw_output: JsonText,
    /// Guardrail actions taken (a JSON array).
    pub guardrails: JsonText,
    /// The final output returned to the caller.
    pub output: JsonText,
    /// Decision mode (e.g. `automatic`, `suggest`, `abstain`).
    pub mode: String,
    /// Why that mode was chosen.
    pub reason: String,
    /// Whether a fallback produced the output.
    pub fallback: bool,
    /// End-to-end latency of the prediction, microseconds.
    pub latency_us: u64,
}

/// What a feedback says about a prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    /// The prediction was right.
    Correct,
    /// The prediction was wrong (the true label may be given).
    Incorrect,
    /// The true label or value is given.
    Label,
}

impl FeedbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Correct => "correct",
            FeedbackKind::Incorrect => "incorrect",
            FeedbackKind::Label => "label",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "correct" => Some(FeedbackKind::Correct),
            "incorrect" => Some(FeedbackKind::Incorrect),
            "label" => Some(FeedbackKind::Label),
            _ => None,
        }
    }
}

impl fmt::Display for FeedbackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who reported a feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackSource {
    #[default]
    User,
    Expert,
    System,
}

impl FeedbackSource {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackSource::User => "user",
            FeedbackSource::Expert => "expert",
            FeedbackSource::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(FeedbackSource::User),
            "expert" => Some(FeedbackSource::Expert),
            "system" => Some(FeedbackSource::System),
            _ => None,
        }
    }
}

impl fmt::Display for FeedbackSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the world said back about one prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackEvent {
    /// Unique per event, see [`new_event_id`]; one made up when a spill line has none.
    #[serde(default = "new_event_id")]
    pub id: String,
    pub prediction_id: String,
    /// Unix milliseconds.
    pub time_ms: i64,
    pub kind: FeedbackKind,
    /// The true label (classification).
    #[serde(default)]
    pub label: Option<String>,
    /// The true value (regression).
    #[serde(default)]
    pub value: Option<f64>,
    /// Who reported it.
    #[serde(default)]
    pub unit: Option<String>,
    /// Free text, at most [`MAX_COMMENT_CHARS`] characters.
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub source: FeedbackSource,
    /// Client-supplied key: at most one feedback is stored per key; the writer
    /// answers a later one [`crate::RecordError::KeyConflict`].
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Why a feedback is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedbackInvalid {
    #[error("feedback comment has {0} characters, at most {MAX_COMMENT_CHARS} are accepted")]
    CommentTooLong(usize),
    #[error("feedback idempotency key has {0} bytes, at most {MAX_IDEMPOTENCY_KEY_BYTES} are accepted")]
    KeyTooLong(usize),
    #[error("feedback idempotency key is empty")]
    KeyEmpty,
    #[error("feedback label has {0} bytes, at most {MAX_LABEL_BYTES} are accepted")]
    LabelTooLong(usize),
    #[error("feedback of kind `label` needs a `label` or a `value`")]
    LabelMissing,
    #[error("feedback value is not a finite number")]
    ValueNotFinite,
    #[error("feedback prediction_id is empty")]
    PredictionIdEmpty,
}

impl FeedbackEvent {
    /// Checks the bounds the HTTP edge enforces (comment length, key length,
    /// a `label` feedback carrying a label or value). Whether the prediction
    /// exists is checked against the store ([`crate::Store::prediction_exists`]).
    pub fn validate(&self) -> Result<(), FeedbackInvalid> {
        if self.prediction_id.is_empty() {
            return Err(FeedbackInvalid::PredictionIdEmpty);
        }
        if let Some(c) = &self.comment {
            let n = c.chars().count();
            if n > MAX_COMMENT_CHARS {
                return Err(FeedbackInvalid::CommentTooLong(n));
            }
        }
        if let Some(k) = &self.idempotency_key {
            if k.is_empty() {
                return Err(FeedbackInvalid::KeyEmpty);
            }
            if k.len() > MAX_IDEMPOTENCY_KEY_BYTES {
                return Err(FeedbackInvalid::KeyTooLong(k.len()));
            }
        }
        if let Some(l) = &self.label
            && l.len() > MAX_LABEL_BYTES
        {
            return Err(FeedbackInvalid::LabelTooLong(l.len()));
        }
        if let Some(v) = self.value
            && !v.is_finite()
        {
            return Err(FeedbackInvalid::ValueNotFinite);
        }
        if self.kind == FeedbackKind::Label && self.label.is_none() && self.value.is_none() {
            return Err(FeedbackInvalid::LabelMissing);
        }
        Ok(())
    }

    /// Whether `other` reports the same thing: equal in everything but the event id and
    /// the time, which a client's retry leaves to the server.
    pub fn same_report(&self, other: &FeedbackEvent) -> bool {
        *self == FeedbackEvent { id: self.id.clone(), time_ms: self.time_ms, ..other.clone() }
    }
}

/// Something that happened in the world, maybe caused by a prediction
/// (e.g. `left_page`, `purchase` with a value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeEvent {
    /// Unique per event, see [`new_event_id`]; one made up when a spill line has none.
    #[serde(default = "new_event_id")]
    pub id: String,
    /// Unix milliseconds.
    pub time_ms: i64,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub prediction_id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub value: Option<f64>,
}

/// Which table an event goes to; also the unit of retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Prediction,
    Feedback,
    Outcome,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Prediction => "prediction",
            EventKind::Feedback => "feedback",
            EventKind::Outcome => "outcome",
        }
    }
}

/// Any event, as queued by the writer and stored in the spill file
/// (one JSON object per line, tagged by `"type"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // plain data; predictions dominate anyway
pub enum Event {
    Prediction(PredictionEvent),
    Feedback(FeedbackEvent),
    Outcome(OutcomeEvent),
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Prediction(_) => EventKind::Prediction,
            Event::Feedback(_) => EventKind::Feedback,
            Event::Outcome(_) => EventKind::Outcome,
        }
    }

    pub fn time_ms(&self) -> i64 {
        match self {
            Event::Prediction(p) => p.time_ms,
            Event::Feedback(f) => f.time_ms,
            Event::Outcome(o) => o.time_ms,
        }
    }

    /// The idempotency key of a feedback, if it has one.
    pub fn idempotency_key(&self) -> Option<&str> {
        match self {
            Event::Feedback(f) => f.idempotency_key.as_deref(),
            _ => None,
        }
    }
}

impl From<PredictionEvent> for Event {
    fn from(e: PredictionEvent) -> Self {
        Event::Prediction(e)
    }
}

impl From<FeedbackEvent> for Event {
    fn from(e: FeedbackEvent) -> Self {
        Event::Feedback(e)
    }
}

impl From<OutcomeEvent> for Event {
    fn from(e: OutcomeEvent) -> Self {
        Event::Outcome(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feedback() -> FeedbackEvent {
        FeedbackEvent {
            id: new_event_id(),
            prediction_id: new_prediction_id(),
            time_ms: 1,
            kind: FeedbackKind::Label,
            label: Some("spam".into()),
            value: None,
            unit: Some("u1".into()),
            comment: None,
            source: FeedbackSource::Expert,
            idempotency_key: Some("k".into()),
        }
    }

    #[test]
    fn event_json_is_tagged_and_round_trips() {
        let e = Event::Feedback(feedback());
        let s = serde_json::to_string(&e).unwrap();
        assert!(s.contains(r#""type":"feedback""#), "{s}");
        assert!(s.contains(r#""kind":"label""#), "{s}");
        assert!(s.contains(r#""source":"expert""#), "{s}");
        let back: Event = serde_json::from_str(&s).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn prediction_variant_defaults_to_main() {
        let v = json!({"type":"prediction","id":"x","time_ms":1,"system":"s","component":"c","model_name":"m",
            "model_version":"1","features":{},"raw_output":null,"guardrails":[],"output":1,"mode":"auto",
            "reason":"r","fallback":false,"latency_us":3});
        let Event::Prediction(p) = serde_json::from_value::<Event>(v).unwrap() else { panic!() };
        assert_eq!(p.variant, "main");
        assert_eq!(p.unit, None);
    }

    #[test]
    fn a_prediction_keeps_its_json_through_a_spill_line() {
        // Written in schema order, not alphabetical, as the server makes it.
        let line = r#"{"type":"prediction","id":"x","time_ms":1,"system":"s","component":"c","model_name":"m",
            "model_version":"1","features":{"zeta":1.5,"alpha":"h:0a"},"raw_output":{"label":"spam","probabilities":[0.1,0.9]},
            "guardrails":[],"output":{"label":"spam"},"mode":"auto","reason":"r","fallback":false,"latency_us":3}"#;
        let Event::Prediction(p) = serde_json::from_str::<Event>(line).unwrap() else { panic!() };
        assert_eq!(p.features.to_value(), json!({"alpha": "h:0a", "zeta": 1.5}));
        assert_eq!(p.raw_output.to_value()["probabilities"][1], 0.9);
        let again = serde_json::to_string(&Event::Prediction(p.clone())).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&again).unwrap(), Event::Prediction(p.clone()));
        // the same document with its keys in another order is the same JSON
        assert_eq!(JsonText::parse(r#"{"zeta":1.5,"alpha":"h:0a"}"#.into()).unwrap(), p.features);
        assert_ne!(JsonText::parse(r#"{"zeta":1.5}"#.into()).unwrap(), p.features);
        assert!(JsonText::parse("{".into()).is_err());
    }

    #[test]
    fn ids_are_time_ordered() {
        // made one after another, many within the same millisecond: still in order
        let ids: Vec<String> = (0..10_000).map(|_| new_prediction_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids made later sort later");
        assert_eq!(uuid::Uuid::parse_str(&ids[0]).unwrap().get_version_num(), 7);
    }

    #[test]
    fn the_same_report_ignores_only_the_time() {
        let f = feedback();
        assert!(f.same_report(&FeedbackEvent { time_ms: 99, ..f.clone() }));
        assert!(!f.same_report(&FeedbackEvent { label: Some("ham".into()), ..f.clone() }));
        assert!(!f.same_report(&FeedbackEvent { prediction_id: "other".into(), ..f.clone() }));
        assert!(!f.same_report(&FeedbackEvent { comment: Some("x".into()), ..f.clone() }));
    }

    #[test]
    fn feedback_validation() {
        assert_eq!(feedback().validate(), Ok(()));
        let mut f = feedback();
        f.comment = Some("é".repeat(MAX_COMMENT_CHARS + 1));
        assert_eq!(f.validate(), Err(FeedbackInvalid::CommentTooLong(MAX_COMMENT_CHARS + 1)));
        let mut f = feedback();
        f.label = None;
        assert_eq!(f.validate(), Err(FeedbackInvalid::LabelMissing));
        f.value = Some(f64::NAN);
        assert_eq!(f.validate(), Err(FeedbackInvalid::ValueNotFinite));
        let mut f = feedback();
        f.idempotency_key = Some("x".repeat(201));
        assert_eq!(f.validate(), Err(FeedbackInvalid::KeyTooLong(201)));
        let mut f = feedback();
        f.kind = FeedbackKind::Correct;
        f.label = None;
        assert_eq!(f.validate(), Ok(()));
    }
}
