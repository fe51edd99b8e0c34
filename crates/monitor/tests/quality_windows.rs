//! A component's quality over a store holding events written here, each figure worked out
//! again by hand from the events: the truth each feedback gives, the counts of each
//! window, the feedback rate, the estimate beside the realized figures, the concept-drift
//! signature in the window where what the inputs mean changed, and the slices.

use rein_monitor::estimate::{Calibration, EstimateOptions};
use rein_monitor::quality::{Classes, ClassifierRow, Figure, IntervalMethod, Scores};
use rein_monitor::quality_windows::{CONCEPT_DRIFT, Measured, QualityQuery, Reference, quality};
use rein_monitor::slices::SliceField;
use rein_stats::{newcombe_interval, wilson_interval};
use rein_telemetry::{
    Event, FeedbackEvent, FeedbackKind, FeedbackSource, JsonText, PredictionEvent, SqliteStore, Store,
};
use serde_json::json;

/// 2026-01-01T00:00:00Z: the first window's start.
const T0: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;
const PER_WINDOW: usize = 300;

const SYSTEM: &str = r#"
[system]
name = "shop"
description = "A shop's fraud check."

[[components]]
name = "fraud"
task = "binary"
labels = ["legit", "fraud"]
positive_label = "fraud"
model = { path = "model.onnx" }

[[components.features]]
name = "amount"
type = "number"

[[components.features]]
name = "country"
type = "category"
categories = ["de", "fr"]

[[components.features]]
name = "note"
type = "text"
max_length = 20
telemetry = "drop"

[components.experience]
policy = "thresholds"
thresholds = { automate = 0.9, prompt = 0.6 }

[[goals]]
id = "top"
layer = "organizational"
description = "Customers trust the shop."
measured = false
note = "Surveys."
"#;

/// A seeded uniform in [0, 1): SplitMix64.
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One prediction as the test knows it.
#[derive(Debug, Clone)]
struct Made {
    window: usize,
    country: &'static str,
    p: f64,
    predicted: &'static str,
    /// The truth its feedback gives, if it has any.
    truth: Option<&'static str>,
    /// Answered by the fallback: no probabilities.
    fallback: bool,
}

fn label(positive: bool) -> &'static str {
    if positive { "fraud" } else { "legit" }
}

/// Four hourly windows; in the last, what a French order's inputs mean flipped (concept
/// drift): the same scores, the opposite truth.
fn events() -> (Vec<Event>, Vec<Made>) {
    let mut draws = Draws(7);
    let (mut events, mut made) = (Vec::new(), Vec::new());
    for window in 0..4 {
        for i in 0..PER_WINDOW {
            let at = T0 + window as i64 * HOUR + (i as i64) * 10_000;
            let id = format!("w{window}-{i:03}");
            let country = if i % 3 == 0 { "fr" } else { "de" };
            let p = (draws.next() * 1000.0).round() / 1000.0;
            let mut positive = draws.next() < p;
            if window == 3 && country == "fr" {
                positive = !positive;
            }
            let fallback = i % 50 == 7;
            let predicted = label(p >= 0.5);
            let output = if fallback {
                json!({"label": "legit", "score": 1.0})
            } else {
                json!({"label": predicted, "score": p, "probabilities": {"legit": 1.0 - p, "fraud": p}})
            };
            events.push(
                PredictionEvent {
                    id: id.clone(),
                    time_ms: at,
                    system: "shop".into(),
                    component: "fraud".into(),
                    unit: None,
                    model_name: "scorer".into(),
                    model_version: "3".into(),
                    variant: "main".into(),
                    features: JsonText::of(&json!({"amount": p * 100.0, "country": country})),
                    raw_output: JsonText::null(),
                    guardrails: json!([]).into(),
                    output: output.into(),
                    mode: "none".into(),
                    decision: json!({"mode": "none", "reason": {"kind": "fixed"}}).into(),
                    fallback: fallback.then(|| "timed out".to_string()),
                    latency_us: 1000,
                    experiment: None,
                    shadow_of: None,
                }
                .into(),
            );
            let predicted = if fallback { "legit" } else { predicted };
            let truth = label(positive);
            let feedback = |kind, label: Option<&str>, after: i64| -> Event {
                FeedbackEvent {
                    id: rein_telemetry::new_event_id(),
                    prediction_id: id.clone(),
                    time_ms: at + after,
                    kind,
                    label: label.map(str::to_string),
                    value: None,
                    unit: None,
                    comment: None,
                    source: FeedbackSource::Expert,
                    idempotency_key: None,
                }
                .into()
            };
            // a fifth has no feedback; a tenth says correct or incorrect; one in 25 is
            // first labeled wrongly, then corrected (the newest feedback gives the truth)
            let given = match i % 10 {
                0 | 5 => None,
                3 if truth == predicted => {
                    events.push(feedback(FeedbackKind::Correct, None, 1000));
                    Some(truth)
                }
                3 => {
                    events.push(feedback(FeedbackKind::Incorrect, Some(truth), 1000));
                    Some(truth)
                }
                _ => {
                    if i % 25 == 1 {
                        events.push(feedback(FeedbackKind::Label, Some(label(!positive)), 500));
                    }
                    events.push(feedback(FeedbackKind::Label, Some(truth), 1000));
                    Some(truth)
                }
            };
            made.push(Made { window, country, p, predicted, truth: given, fallback });
        }
    }
    (events, made)
}

fn store() -> (tempfile::TempDir, SqliteStore, Vec<Made>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let (events, made) = events();
    store.write_batch(&events, None).unwrap();
    (dir, store, made)
}

fn system() -> rein_system::System {
    rein_system::parse(SYSTEM, std::path::Path::new("rein.toml")).unwrap_or_else(|d| panic!("{d}"))
}

fn query(slices: Vec<SliceField>) -> QualityQuery {
    QualityQuery {
        component: "fraud".into(),
        window_ms: HOUR,
        windows: 4,
        at_ms: Some(T0 + 4 * HOUR),
        reference: Reference::Earliest,
        slices,
        options: EstimateOptions::default(),
    }
}

#[track_caller]
fn close(what: &str, got: f64, want: f64) {
    assert!((got - want).abs() < 1e-12, "{what}: {got} against {want}");
}

/// A Wilson figure against the counts.
#[track_caller]
fn wilson(what: &str, figure: &Figure, successes: u64, trials: u64) {
    let Figure::Measured { labeled, interval } = figure else { panic!("{what}: {figure:?}") };
    assert_eq!(*labeled, trials, "{what}");
    let w = wilson_interval(successes, trials, 0.95).unwrap();
    assert_eq!(interval.method, IntervalMethod::Wilson, "{what}");
    close(what, interval.value, successes as f64 / trials as f64);
    close(what, interval.lower, w.lower);
    close(what, interval.upper, w.upper);
}

/// (correct, labeled, true positives, predicted positive, truly positive) of labeled rows.
fn counts<'a>(rows: impl Iterator<Item = &'a Made>) -> [u64; 5] {
    let mut c = [0; 5];
    for m in rows {
        let Some(truth) = m.truth else { continue };
        c[0] += u64::from(truth == m.predicted);
        c[1] += 1;
        c[2] += u64::from(truth == "fraud" && m.predicted == "fraud");
        c[3] += u64::from(m.predicted == "fraud");
        c[4] += u64::from(truth == "fraud");
    }
    c
}

#[test]
fn each_window_measures_its_labeled_predictions_and_estimates_all() {
    let (_dir, store, made) = store();
    let report = quality(&store, &system(), &query(Vec::new())).unwrap();
    assert_eq!(report.windows.len(), 4);
    assert_eq!(report.as_of_ms, T0 + 4 * HOUR);
    assert!(report.notes[0].contains("cannot see concept drift"), "{:?}", report.notes);

    // the reference: the first window alone holds 200 labeled rows with probabilities
    let reference = report.reference.as_ref().unwrap();
    assert_eq!((reference.from_ms, reference.until_ms, reference.chosen), (T0, T0 + HOUR, "earliest"));
    let first: Vec<&Made> = made.iter().filter(|m| m.window == 0).collect();
    let scored_labeled = first.iter().filter(|m| m.truth.is_some() && !m.fallback).count() as u64;
    assert_eq!(reference.calibration.reference_rows, scored_labeled);
    assert!(reference.calibration.trusted, "{:?}", reference.calibration);

    let classes = Classes::binary(["legit", "fraud"], "fraud").unwrap();
    let reference_rows: Vec<[f64; 2]> = first.iter().map(|m| [1.0 - m.p, m.p]).collect();
    let reference_input: Vec<ClassifierRow> = first
        .iter()
        .zip(&reference_rows)
        .map(|(m, p)| ClassifierRow {
            predicted: m.predicted,
            scores: if m.fallback { Scores::Absent } else { Scores::ByLabel(p) },
            truth: m.truth,
        })
        .collect();
    let calibration = Calibration::fit(&classes, &reference_input, &EstimateOptions::default()).unwrap();

    for (w, got) in report.windows.iter().enumerate() {
        let mine: Vec<&Made> = made.iter().filter(|m| m.window == w).collect();
        assert_eq!((got.from_ms, got.until_ms), (T0 + w as i64 * HOUR, T0 + (w as i64 + 1) * HOUR));
        assert_eq!(got.predictions, PER_WINDOW as u64);
        assert_eq!(got.in_reference, w == 0);
        let [correct, labeled, tp, predicted_positive, truly_positive] = counts(mine.iter().copied());
        assert_eq!(got.feedback.labeled, labeled, "window {w}");
        wilson(
            &format!("window {w}: feedback rate"),
            &Figure::Measured { labeled: PER_WINDOW as u64, interval: got.feedback.rate.unwrap() },
            labeled,
            PER_WINDOW as u64,
        );
        let Measured::Classifier(q) = &got.measured else { panic!() };
        wilson(&format!("window {w}: accuracy"), &q.accuracy, correct, labeled);
        wilson(&format!("window {w}: precision"), &q.precision, tp, predicted_positive);
        wilson(&format!("window {w}: recall"), &q.recall, tp, truly_positive);

        // the estimate, from the calibrated probabilities of every row with them
        let e = got.estimated.as_ref().unwrap();
        let scored: Vec<&&Made> = mine.iter().filter(|m| !m.fallback).collect();
        assert_eq!(e.with_probabilities, scored.len() as u64);
        let expected_correct: f64 = scored
            .iter()
            .map(|m| {
                let q = calibration.calibrated(&[1.0 - m.p, m.p]);
                if m.predicted == "fraud" { q[1] } else { q[0] }
            })
            .sum();
        close(
            &format!("window {w}: estimated accuracy"),
            e.accuracy.value().unwrap(),
            expected_correct / scored.len() as f64,
        );
        assert_eq!(got.beside.len(), 5);
        assert_eq!(got.beside[0].metric, "accuracy");
        assert_eq!(got.beside[0].realized.unwrap().value, q.accuracy.value().unwrap());
        assert_eq!(got.beside[0].estimated.unwrap().value, e.accuracy.value().unwrap());

        // only the last window's French orders changed meaning: realized fell, the estimate held
        match (w, &got.concept_drift) {
            (3, Some(drift)) => {
                assert_eq!(drift.text, CONCEPT_DRIFT);
                let [c0, n0, ..] = counts(first.iter().copied());
                let d = newcombe_interval(correct, labeled, c0, n0, 0.95).unwrap();
                close("difference", drift.difference.value, d.estimate);
                close("difference upper", drift.difference.upper, d.upper);
                assert!(drift.difference.upper < 0.0 && drift.estimated.upper >= drift.reference, "{drift:?}");
            }
            (3, None) => panic!("the last window shows concept drift: {:?} {:?}", q.accuracy, e.accuracy),
            (_, Some(drift)) => panic!("window {w} did not drift: {drift:?}"),
            (_, None) => {}
        }
    }
}

#[test]
fn slices_measure_each_value_and_the_largest_gap() {
    let (_dir, store, made) = store();
    let system = system();
    let component = system.component("fraud").unwrap();
    let field = SliceField::parse(component, "country").unwrap();
    let report = quality(&store, &system, &query(vec![field, SliceField::Mode])).unwrap();
    let last = report.windows.last().unwrap();
    assert_eq!(last.slices.len(), 2);
    assert_eq!((last.slices[1].field.as_str(), last.slices[1].slices.len()), ("mode", 1));
    let slices = &last.slices[0];
    assert_eq!(slices.field, "country");
    let values: Vec<&str> = slices.slices.iter().map(|s| s.value.as_str()).collect();
    assert_eq!(values, ["de", "fr"], "largest first");
    let by = |country: &str| counts(made.iter().filter(|m| m.window == 3 && m.country == country));
    for s in &slices.slices {
        let [correct, labeled, ..] = by(&s.value);
        wilson(&format!("accuracy of {}", s.value), &s.figures["accuracy"], correct, labeled);
    }
    // the French orders' accuracy collapsed: the largest gap, de − fr, by Newcombe
    let gap = slices.gaps.iter().find(|g| g.metric == "accuracy").unwrap();
    assert_eq!((gap.highest.as_str(), gap.lowest.as_str(), gap.measured_in), ("de", "fr", 2));
    let ([c1, n1, ..], [c2, n2, ..]) = (by("de"), by("fr"));
    let d = newcombe_interval(c1, n1, c2, n2, 0.95).unwrap();
    assert_eq!(gap.gap.method, IntervalMethod::Newcombe);
    close("gap", gap.gap.value, d.estimate);
    close("gap lower", gap.gap.lower, d.lower);
    close("gap upper", gap.gap.upper, d.upper);
    assert!(gap.gap.lower > 0.3, "{gap:?}");
    // in the first window the two countries do not differ beyond chance
    let first = &report.windows[0].slices[0];
    let gap = first.gaps.iter().find(|g| g.metric == "accuracy").unwrap();
    assert!(gap.gap.lower < 0.0, "{gap:?}");
}

#[test]
fn only_fields_a_record_keeps_by_value_can_slice() {
    let system = system();
    let c = system.component("fraud").unwrap();
    assert_eq!(SliceField::fields(c), ["country", "mode", "variant", "model.version"]);
    assert_eq!(SliceField::parse(c, "features.country").unwrap(), SliceField::Feature("country".into()));
    assert_eq!(SliceField::parse(c, "model.version").unwrap(), SliceField::ModelVersion);
    for (given, says) in [
        ("amount", "a number takes too many values"),
        ("note", "telemetry drops it"),
        ("context.region", "does not keep the request's context"),
        ("contry", "did you mean `country`?"),
    ] {
        let e = SliceField::parse(c, given).unwrap_err();
        assert!(e.message.contains(says), "{given}: {}", e.message);
        assert_eq!(e.fields, SliceField::fields(c));
    }
}

/// Quality goals over the same store: measured from the labels, estimated, over a filtered
/// population, and one with too few labels to judge.
#[test]
fn quality_goals_are_measured_or_estimated_per_window() {
    let (_dir, store, made) = store();
    let goal = |id: &str, keys: &str| {
        format!(
            "\n[[goals]]\nid = \"{id}\"\nlayer = \"system\"\ndescription = \"{id}\"\ncomponent = \"fraud\"\n{keys}\n\
             window = \"1h\"\nsupports = [\"top\"]\n"
        )
    };
    let mut text = SYSTEM.to_string();
    for (id, keys) in [
        ("accurate", "metric = \"accuracy\"\ntarget = { at_least = 0.6 }"),
        ("accurate_estimated", "metric = \"accuracy\"\nestimated = true\ntarget = { at_least = 0.6 }"),
        ("fr_recall", "metric = \"recall\"\nfilter = \"features.country == 'fr'\"\ntarget = { at_least = 0.5 }"),
        ("sure", "metric = \"precision\"\nfilter = \"output.score > 0.995\"\ntarget = { at_least = 0.9 }"),
    ] {
        text.push_str(&goal(id, keys));
    }
    let system = rein_system::parse(&text, std::path::Path::new("rein.toml")).unwrap_or_else(|d| panic!("{d}"));
    let options = rein_monitor::goals::Options { at_ms: Some(T0 + 4 * HOUR), windows: 4 };
    let report = rein_monitor::goals::measure(&system, &store, &options).unwrap();
    let series = |id: &str| report.goals.iter().find(|g| g.id == id).unwrap().trend.as_ref().unwrap().windows.clone();

    let accurate = series("accurate");
    let fr_recall = series("fr_recall");
    for w in 0..4 {
        let [correct, labeled, ..] = counts(made.iter().filter(|m| m.window == w));
        let f = &accurate[w];
        assert_eq!(f.count, labeled);
        close("accuracy", f.value.unwrap(), correct as f64 / labeled as f64);
        let i = f.interval.unwrap();
        let wilson = wilson_interval(correct, labeled, 0.95).unwrap();
        close("accuracy lower", i.lower.unwrap(), wilson.lower);
        close("accuracy upper", i.upper.unwrap(), wilson.upper);
        let [_, _, tp, _, truly_positive] = counts(made.iter().filter(|m| m.window == w && m.country == "fr"));
        assert_eq!(fr_recall[w].count, truly_positive);
        close("recall in France", fr_recall[w].value.unwrap(), tp as f64 / truly_positive as f64);
    }
    // the last window's French orders changed meaning: their recall collapsed
    assert!(fr_recall[3].value.unwrap() < 0.5 && fr_recall[2].value.unwrap() > 0.5, "{fr_recall:?}");

    // estimated: the same figures the quality report estimates, from the same reference
    let quality = quality(&store, &system, &query(Vec::new())).unwrap();
    let estimated = series("accurate_estimated");
    for (w, f) in estimated.iter().enumerate() {
        let want = quality.windows[w].estimated.as_ref().unwrap().accuracy.interval().copied().unwrap();
        assert_eq!(f.value, Some(want.value), "window {w}");
        assert_eq!((f.interval.unwrap().lower, f.interval.unwrap().upper), (Some(want.lower), Some(want.upper)));
        assert_eq!(f.count, quality.windows[w].estimated.as_ref().unwrap().with_probabilities);
        assert!(f.note.is_none(), "a trusted estimate: {f:?}");
    }
    // the estimate held where the realized accuracy fell
    assert!(estimated[3].value.unwrap() > accurate[3].value.unwrap() + 0.1, "{estimated:?} {accurate:?}");

    // almost no prediction is that sure: too few labels to judge, said rather than a number
    let sure = report.goals.iter().find(|g| g.id == "sure").unwrap();
    assert_eq!(sure.status, rein_monitor::Status::TooFewLabels);
    let latest = sure.latest.as_ref().unwrap();
    assert!(latest.value.is_none() && latest.interval.is_none());
    assert!(latest.note.as_deref().unwrap().starts_with("too few to judge"), "{latest:?}");
}

#[test]
fn the_latest_window_is_what_a_monitor_reads() {
    let (_dir, store, _) = store();
    let system = system();
    let latest = rein_monitor::quality_windows::latest(&store, &system, "fraud", HOUR, T0 + 4 * HOUR).unwrap().unwrap();
    let report = quality(&store, &system, &query(Vec::new())).unwrap();
    assert_eq!(&latest, report.windows.last().unwrap());
    assert!(latest.concept_drift.is_some());
    let nothing = rein_monitor::quality_windows::latest(&store, &system, "nope", HOUR, T0);
    assert!(nothing.is_err());
}
