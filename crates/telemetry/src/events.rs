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
/// hands such a variant's fields over buffered, where raw text is no longer there (the
/// event log's lines are read with [`Event::from_line`], which keeps it).
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

impl From<Box<serde_json::value::RawValue>> for JsonText {
    fn from(raw: Box<serde_json::value::RawValue>) -> Self {
        JsonText(raw)
    }
}

impl From<serde_json::Value> for JsonText {
    fn from(value: serde_json::Value) -> Self {
        JsonText::of(&value)
    }
}

/// One prediction served by rein, as it was served.
///
/// Its JSON (the event log's line) reads also the shape rein wrote before the decision was
/// kept as an object: `reason` (the decision as JSON text) and `fallback` as a boolean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "PredictionLine<JsonText>")]
pub struct PredictionEvent {
    /// UUIDv7 (time-ordered), see [`new_prediction_id`].
    pub id: String,
    /// Unix milliseconds.
    pub time_ms: i64,
    pub system: String,
    pub component: String,
    /// The unit (user, account, ...) the prediction is about, if known.
    pub unit: Option<String>,
    pub model_name: String,
    pub model_version: String,
    /// Traffic variant (room for rollouts and experiments); `"main"` by default.
    pub variant: String,
    /// Features as the model saw them, after the privacy policy (a JSON object).
    pub features: JsonText,
    /// The model's raw output.
    pub raw_output: JsonText,
    /// Guardrail actions taken (a JSON array).
    pub guardrails: JsonText,
    /// The final output returned to the caller.
    pub output: JsonText,
    /// The decision's mode (`automate`, `prompt`, ...), also inside `decision`: kept apart
    /// for queries by mode.
    pub mode: String,
    /// The decision as answered: a JSON object `{"mode", "reason", "capped"}`.
    pub decision: JsonText,
    /// Why the declared fallback answered (the model's error), if it did.
    pub fallback: Option<String>,
    /// Time the server spent on the prediction until it was decided, microseconds.
    pub latency_us: u64,
    /// The traffic plan's experiment that chose `variant`; none when no plan served it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// For a shadow's prediction (variant `shadow`), the id of the answered prediction it
    /// copies; it was never shown to anyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow_of: Option<String>,
}

/// What a fallback reads when the error was not recorded (events of an earlier rein).
pub const FALLBACK_ERROR_UNRECORDED: &str = "the model failed (its error was not recorded)";

/// A prediction event's line, as this rein writes it or as an earlier one did. `J` holds the
/// JSON parts: [`JsonText`] where serde hands them over buffered (the [`Event`] enum is
/// internally tagged), the line's own text in [`Event::from_line`].
#[derive(Deserialize)]
struct PredictionLine<J> {
    id: String,
    time_ms: i64,
    system: String,
    component: String,
    #[serde(default)]
    unit: Option<String>,
    model_name: String,
    model_version: String,
    #[serde(default = "default_variant")]
    variant: String,
    features: J,
    raw_output: J,
    guardrails: J,
    output: J,
    mode: String,
    #[serde(default = "Option::default")]
    decision: Option<J>,
    /// Earlier: the decision as JSON text.
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    fallback: FallbackLine,
    latency_us: u64,
    #[serde(default)]
    experiment: Option<String>,
    #[serde(default)]
    shadow_of: Option<String>,
}

/// `fallback`: the error, or null; earlier, whether the fallback answered.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum FallbackLine {
    #[default]
    None,
    Answered(bool),
    Error(String),
}

impl<J: Into<JsonText>> From<PredictionLine<J>> for PredictionEvent {
    fn from(l: PredictionLine<J>) -> Self {
        let decision = l
            .decision
            .map(Into::into)
            .unwrap_or_else(|| decision_of_reason(&l.mode, l.reason.as_deref().unwrap_or("")));
        let fallback = match l.fallback {
            FallbackLine::None | FallbackLine::Answered(false) => None,
            FallbackLine::Error(error) => Some(error),
            FallbackLine::Answered(true) => Some(fallback_error_of(&decision)),
        };
        PredictionEvent {
            id: l.id,
            time_ms: l.time_ms,
            system: l.system,
            component: l.component,
            unit: l.unit,
            model_name: l.model_name,
            model_version: l.model_version,
            variant: l.variant,
            features: l.features.into(),
            raw_output: l.raw_output.into(),
            guardrails: l.guardrails.into(),
            output: l.output.into(),
            mode: l.mode,
            decision,
            fallback,
            latency_us: l.latency_us,
            experiment: l.experiment,
            shadow_of: l.shadow_of,
        }
    }
}

/// The decision an earlier rein kept as text in `reason`: the decision's JSON, read as it
/// is; anything else kept as `{"mode", "reason": {"kind": "unknown", "text"}}`. The store's
/// migration of old rows does the same.
pub fn decision_of_reason(mode: &str, reason: &str) -> JsonText {
    if let Ok(serde_json::Value::Object(decision)) = serde_json::from_str::<serde_json::Value>(reason)
        && decision.contains_key("mode")
        && decision.contains_key("reason")
    {
        return JsonText::of(&decision);
    }
    JsonText::of(&serde_json::json!({"mode": mode, "reason": {"kind": "unknown", "text": reason}}))
}

/// The error a fallback decision names, for events that kept only that the fallback answered.
fn fallback_error_of(decision: &JsonText) -> String {
    let decision = decision.to_value();
    match (&decision["reason"]["kind"], &decision["reason"]["error"]) {
        (serde_json::Value::String(kind), serde_json::Value::String(error)) if kind == "fallback" => error.clone(),
        _ => FALLBACK_ERROR_UNRECORDED.to_owned(),
    }
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

impl Event {
    /// The event of one line of the event log. A prediction's JSON parts keep the line's own
    /// text (its keys in the order written, its numbers as written), where reading it as an
    /// [`Event`] rebuilds them from a tree.
    pub fn from_line(line: &[u8]) -> Result<Event, serde_json::Error> {
        #[derive(Deserialize)]
        struct Tag {
            #[serde(rename = "type")]
            kind: EventKind,
        }
        let Tag { kind } = serde_json::from_slice(line)?;
        Ok(match kind {
            EventKind::Prediction => Event::Prediction(
                serde_json::from_slice::<PredictionLine<Box<serde_json::value::RawValue>>>(line)?.into(),
            ),
            EventKind::Feedback => Event::Feedback(serde_json::from_slice(line)?),
            EventKind::Outcome => Event::Outcome(serde_json::from_slice(line)?),
        })
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
            "model_version":"1","features":{},"raw_output":null,"guardrails":[],"output":1,"mode":"none",
            "decision":{"mode":"none","reason":{"kind":"fixed"}},"fallback":null,"latency_us":3});
        let Event::Prediction(p) = serde_json::from_value::<Event>(v).unwrap() else { panic!() };
        assert_eq!(p.variant, "main");
        assert_eq!((p.experiment, p.shadow_of), (None, None), "a line from before traffic plans");
        assert_eq!(p.unit, None);
        assert_eq!(p.fallback, None);
        assert_eq!(p.decision.to_value()["reason"]["kind"], "fixed");
    }

    /// A line an earlier rein wrote (the decision as text in `reason`, `fallback` a boolean)
    /// reads as the event it was: its log still loads after an upgrade.
    #[test]
    fn an_earlier_line_reads_as_its_event() {
        let decision = r#"{"mode":"none","reason":{"kind":"fallback","error":"timed out"}}"#;
        let line = json!({"type":"prediction","id":"x","time_ms":1,"system":"s","component":"c","model_name":"m",
            "model_version":"1","features":{},"raw_output":null,"guardrails":[],"output":{"label":"legit"},
            "mode":"none","reason":decision,"fallback":true,"latency_us":3});
        let Event::Prediction(p) = serde_json::from_value::<Event>(line.clone()).unwrap() else { panic!() };
        assert_eq!(p.decision.to_value(), serde_json::from_str::<serde_json::Value>(decision).unwrap());
        assert_eq!(p.fallback.as_deref(), Some("timed out"));
        // and what this rein writes reads back the same
        let again = serde_json::to_string(&Event::Prediction(p.clone())).unwrap();
        let written: serde_json::Value = serde_json::from_str(&again).unwrap();
        assert!(written["decision"].is_object() && written.get("reason").is_none(), "{again}");
        assert_eq!(serde_json::from_str::<Event>(&again).unwrap(), Event::Prediction(p));

        let mut line = line;
        line["reason"] = json!("confident");
        let Event::Prediction(p) = serde_json::from_value::<Event>(line).unwrap() else { panic!() };
        assert_eq!(p.decision.to_value(), json!({"mode": "none", "reason": {"kind": "unknown", "text": "confident"}}));
        assert_eq!(p.fallback.as_deref(), Some(FALLBACK_ERROR_UNRECORDED));
    }

    #[test]
    fn a_prediction_keeps_its_json_through_a_spill_line() {
        // Written in schema order, not alphabetical, as the server makes it.
        let line = r#"{"type":"prediction","id":"x","time_ms":1,"system":"s","component":"c","model_name":"m",
            "model_version":"1","features":{"zeta":1.5,"alpha":"h:0a"},"raw_output":{"label":"spam","probabilities":[0.1,0.9]},
            "guardrails":[],"output":{"label":"spam"},"mode":"none","decision":{"mode":"none","reason":{"kind":"fixed"}},
            "fallback":null,"latency_us":3}"#;
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

    /// A log line read as an event keeps its JSON parts as written: keys in their order (the
    /// component's labels, the modes most forceful first), numbers in their digits.
    #[test]
    fn a_line_keeps_its_parts_as_written() {
        let line = br#"{"type":"prediction","id":"x","time_ms":1,"system":"s","component":"c","model_name":"m",
            "model_version":"1","features":{"zeta":1.5,"alpha":"h:0a"},"raw_output":null,"guardrails":[],
            "output":{"label":"spam","probabilities":{"spam":0.9755799174308777,"ham":0.024420082569122314}},
            "mode":"none","decision":{"mode":"none","reason":{"kind":"expected_value","values":{"prompt":2.5,"none":1}}},
            "fallback":null,"latency_us":3}"#;
        let Event::Prediction(p) = Event::from_line(line).unwrap() else { panic!() };
        assert_eq!(p.features.as_str(), r#"{"zeta":1.5,"alpha":"h:0a"}"#);
        assert_eq!(
            p.output.as_str(),
            r#"{"label":"spam","probabilities":{"spam":0.9755799174308777,"ham":0.024420082569122314}}"#
        );
        assert_eq!(
            p.decision.as_str(),
            r#"{"mode":"none","reason":{"kind":"expected_value","values":{"prompt":2.5,"none":1}}}"#
        );
        assert_eq!(Event::Prediction(p), serde_json::from_slice::<Event>(line).unwrap());
        let f = Event::Feedback(feedback());
        assert_eq!(Event::from_line(&serde_json::to_vec(&f).unwrap()).unwrap(), f);
        assert!(Event::from_line(br#"{"type":"prediction","id":"x"}"#).is_err());
        assert!(Event::from_line(br#"{"type":"surprise"}"#).is_err());
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
