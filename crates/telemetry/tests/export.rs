//! Exports as datasets: every prediction of the window, labeled or not, one row each, its
//! columns in the order and types `docs/export.md` states, in JSON lines, CSV and Parquet.

mod common;

use common::*;
use parquet::basic::{LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use rein_telemetry::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A binary classifier as the server describes it: features in schema order, one hashed
/// (text), one dropped (absent), one named as a column of rein's own.
fn fraud() -> ExportSpec {
    let feature = |name: &str, column| ExportFeature { name: name.into(), column };
    ExportSpec {
        component: "fraud".into(),
        task: ExportTask::Binary,
        labels: vec!["legit".into(), "fraud".into()],
        features: vec![
            feature("items", ColumnType::Int64),
            feature("amount", ColumnType::Double),
            feature("new_user", ColumnType::Bool),
            feature("country", ColumnType::String),
            feature("mode", ColumnType::String),
        ],
    }
}

fn toaster() -> ExportSpec {
    ExportSpec {
        component: "toast".into(),
        task: ExportTask::Regression,
        labels: vec![],
        features: vec![ExportFeature { name: "thickness_mm".into(), column: ColumnType::Double }],
    }
}

fn outcome(prediction_id: &str, time_ms: i64, name: &str, value: Option<f64>) -> Event {
    OutcomeEvent {
        id: new_event_id(),
        time_ms,
        unit: None,
        prediction_id: Some(prediction_id.into()),
        name: name.into(),
        value,
    }
    .into()
}

/// Six fraud predictions in the window (0: correct; 1: correct then incorrect with a label;
/// 2: incorrect without one, binary, so the other label; 3: no feedback; 4: its output
/// overridden by a guardrail, no raw probabilities; 5: the model failed, the fallback
/// answered), one of another component, one outside the window; outcomes on 0 and 1.
fn dataset(store: &SqliteStore) -> Vec<String> {
    let mut events: Vec<Event> = Vec::new();
    let mut ids = Vec::new();
    for i in 0..8i64 {
        let mut p = prediction(if i == 6 { "other" } else { "fraud" }, 1_000 + i);
        p.features = json!({
            "amount": 10.5 + i as f64,
            "country": if i == 1 { "FR, \"Paris\"\nnorth" } else { "h:9fa95de10ecab26e" },
            "new_user": i % 2 == 0,
            "items": i,
            "mode": "express",
        })
        .into();
        p.raw_output =
            json!({"label": "fraud", "score": 0.8125, "probabilities": {"legit": 0.1875, "fraud": 0.8125}}).into();
        p.output = p.raw_output.clone();
        match i {
            4 => {
                p.raw_output = JsonText::null();
                p.output = json!({"label": "legit", "score": 0.0}).into();
                p.guardrails = json!([{"rule": "allow_listed", "stage": "input", "action": "override", "to": "none"},
                                      {"rule": "vip", "stage": "input", "action": "escalate", "error": "no key",
                                       "on_error": "ignore"}])
                .into();
            }
            5 => {
                p.raw_output = JsonText::null();
                p.output = json!({"label": "legit", "score": 0.0}).into();
                p.fallback = Some("the model timed out after 50 ms".into());
                p.mode = "none".into();
            }
            _ => p.guardrails = json!([]).into(),
        }
        if i == 7 {
            p.time_ms = 5_000;
        }
        ids.push(p.id.clone());
        events.push(p.into());
    }
    let fb = |i: usize, kind, label: Option<&str>| Event::from(feedback(&ids[i], kind, label, None));
    events.push(fb(0, FeedbackKind::Correct, None));
    events.push(fb(1, FeedbackKind::Correct, None));
    events.push(fb(1, FeedbackKind::Incorrect, Some("legit"))); // the latest decides: legit
    events.push(fb(2, FeedbackKind::Incorrect, None)); // binary: the other label, legit
    events.push(fb(6, FeedbackKind::Label, Some("legit"))); // another component
    events.push(fb(7, FeedbackKind::Label, Some("legit"))); // outside the window
    events.push(outcome(&ids[0], 2_000, "purchase", Some(20.0)));
    events.push(outcome(&ids[0], 2_001, "purchase", Some(35.5))); // the latest value
    events.push(outcome(&ids[0], 2_002, "left_page", None));
    events.push(outcome(&ids[1], 2_003, "left_page", None));
    events.push(outcome(&ids[1], 2_004, "left_page", None)); // counted: 2
    events.push(outcome(&ids[6], 2_005, "refund", Some(1.0))); // another component: no column
    store.write_batch(&events, None).unwrap();
    ids
}

const FRAUD_COLUMNS: [&str; 27] = [
    "prediction_id",
    "time_ms",
    "unit",
    "model_version",
    "items",
    "amount",
    "new_user",
    "country",
    "feature.mode",
    "raw_label",
    "raw_score",
    "raw_p_legit",
    "raw_p_fraud",
    "output_label",
    "output_score",
    "output_p_legit",
    "output_p_fraud",
    "mode",
    "variant",
    "fallback",
    "guardrails",
    "truth",
    "feedback_kind",
    "feedback_source",
    "feedback_count",
    "outcome_left_page",
    "outcome_purchase",
];

fn options(format: ExportFormat) -> ExportOptions {
    ExportOptions { since_ms: Some(0), until_ms: Some(2_000), labeled_only: false, format }
}

fn jsonl(store: &SqliteStore, spec: &ExportSpec, options: &ExportOptions) -> (ExportReport, Vec<Value>) {
    let (report, lines) = jsonl_text(store, spec, options);
    (report, lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect())
}

fn jsonl_text(store: &SqliteStore, spec: &ExportSpec, options: &ExportOptions) -> (ExportReport, Vec<String>) {
    let mut out = Vec::new();
    let report = export(store, spec, options, &mut out).unwrap();
    (report, String::from_utf8(out).unwrap().lines().map(String::from).collect())
}

#[test]
fn every_prediction_of_the_window_is_a_row_labeled_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids = dataset(&store);
    let (report, rows) = jsonl(&store, &fraud(), &options(ExportFormat::Jsonl));
    assert_eq!(report, ExportReport { rows: 6, labeled: 3, misfits: 0 });
    let got: Vec<(&str, &Value)> = rows.iter().map(|r| (r["prediction_id"].as_str().unwrap(), &r["truth"])).collect();
    let want: Vec<(&str, Value)> = vec![
        (&ids[0], json!("fraud")),
        (&ids[1], json!("legit")),
        (&ids[2], json!("legit")),
        (&ids[3], Value::Null),
        (&ids[4], Value::Null),
        (&ids[5], Value::Null),
    ]
    .into_iter()
    .map(|(id, t)| (id.as_str(), t))
    .collect();
    assert_eq!(got, want.iter().map(|(id, t)| (*id, t)).collect::<Vec<_>>());
    // each row has every column, null or not, in order
    let (_, lines) = jsonl_text(&store, &fraud(), &options(ExportFormat::Jsonl));
    for (line, row) in lines.iter().zip(&rows) {
        assert_eq!(row.as_object().unwrap().len(), FRAUD_COLUMNS.len(), "{line}");
        let at: Vec<usize> = FRAUD_COLUMNS.iter().map(|c| line.find(&format!("\"{c}\":")).unwrap()).collect();
        assert!(at.is_sorted(), "{line}");
    }
    let r = &rows[0];
    assert_eq!(r["time_ms"], 1_000);
    assert_eq!(r["items"], 0, "an integer feature stays a whole number");
    assert_eq!(r["amount"], 10.5);
    assert_eq!(r["new_user"], true);
    assert_eq!(r["country"], "h:9fa95de10ecab26e", "a hashed feature as stored");
    assert_eq!(r["feature.mode"], "express", "a feature named as a column of rein's");
    assert_eq!((r["raw_p_legit"].clone(), r["raw_p_fraud"].clone()), (json!(0.1875), json!(0.8125)));
    assert_eq!((r["feedback_kind"].clone(), r["feedback_count"].clone()), (json!("correct"), json!(1)));
    assert_eq!((r["outcome_purchase"].clone(), r["outcome_left_page"].clone()), (json!(35.5), json!(1)));
    assert_eq!((rows[1]["outcome_purchase"].clone(), rows[1]["outcome_left_page"].clone()), (Value::Null, json!(2)));
    assert_eq!(rows[1]["feedback_count"], 2);
    assert_eq!(rows[2]["feedback_kind"], "incorrect");
    assert_eq!(
        (rows[3]["feedback_kind"].clone(), rows[3]["feedback_count"].clone(), rows[3]["outcome_left_page"].clone()),
        (Value::Null, json!(0), json!(0)),
        "unlabeled, nothing happened"
    );
    let r = &rows[4];
    assert_eq!((r["raw_label"].clone(), r["raw_p_fraud"].clone()), (Value::Null, Value::Null), "the model not called");
    assert_eq!((r["output_label"].clone(), r["output_p_fraud"].clone()), (json!("legit"), Value::Null));
    assert_eq!(r["guardrails"], "allow_listed:override;vip:failed:ignore");
    assert_eq!(rows[0]["guardrails"], Value::Null, "none acted");
    assert_eq!(
        (rows[5]["fallback"].clone(), rows[5]["mode"].clone()),
        (json!("the model timed out after 50 ms"), json!("none"))
    );

    // only what feedback labeled
    let labeled = ExportOptions { labeled_only: true, ..options(ExportFormat::Jsonl) };
    let (report, rows) = jsonl(&store, &fraud(), &labeled);
    assert_eq!(report, ExportReport { rows: 3, labeled: 3, misfits: 0 });
    assert_eq!(rows.iter().map(|r| r["prediction_id"].as_str().unwrap()).collect::<Vec<_>>(), ids[..3].to_vec());
}

/// On a multiclass component, `incorrect` without a label leaves the truth unknown; a label
/// given is the truth; `correct` is the output's label.
#[test]
fn incorrect_on_a_multiclass_component_leaves_the_truth_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids = dataset(&store);
    let spec = ExportSpec { task: ExportTask::Multiclass, ..fraud() };
    let (report, rows) = jsonl(&store, &spec, &options(ExportFormat::Jsonl));
    assert_eq!((report.rows, report.labeled), (6, 2));
    assert_eq!(rows[2]["prediction_id"], ids[2].as_str());
    assert_eq!((rows[2]["truth"].clone(), rows[2]["feedback_kind"].clone()), (Value::Null, json!("incorrect")));
    assert_eq!(rows[1]["truth"], "legit");
}

#[test]
fn csv_has_the_columns_in_order_and_quotes_what_it_must() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids = dataset(&store);
    let mut out = Vec::new();
    let report = export(store.as_ref(), &fraud(), &options(ExportFormat::Csv), &mut out).unwrap();
    assert_eq!(report.rows, 6);
    let mut r = csv::Reader::from_reader(out.as_slice());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, FRAUD_COLUMNS);
    let rows: Vec<BTreeMap<String, String>> = r.deserialize().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[1]["prediction_id"], ids[1]);
    assert_eq!(rows[1]["country"], "FR, \"Paris\"\nnorth");
    assert_eq!((rows[0]["time_ms"].as_str(), rows[0]["items"].as_str()), ("1000", "0"));
    assert_eq!((rows[0]["amount"].as_str(), rows[1]["amount"].as_str()), ("10.5", "11.5"));
    assert_eq!(rows[0]["new_user"], "true");
    assert_eq!((rows[0]["raw_p_legit"].as_str(), rows[0]["raw_p_fraud"].as_str()), ("0.1875", "0.8125"));
    assert_eq!((rows[3]["truth"].as_str(), rows[3]["feedback_kind"].as_str()), ("", ""), "unlabeled: empty");
    assert_eq!((rows[0]["outcome_purchase"].as_str(), rows[1]["outcome_left_page"].as_str()), ("35.5", "2"));
}

/// A regression row carries the model's own value beside the one the guardrails left, to the
/// last digit; feedback's value is the truth, and `correct` the output's value.
#[test]
fn a_regression_row_has_the_raw_and_the_final_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut clamped = prediction("toast", 1_000);
    clamped.features = json!({"thickness_mm": 12}).into();
    clamped.raw_output = json!({"score": -72729.65625, "value": -72729.65625}).into();
    clamped.output = json!({"score": 0.0, "value": 0.0}).into();
    clamped.guardrails = json!([{"rule": "max_toasting_time", "stage": "output", "action": "clamp",
                                 "before": -72729.65625, "after": 0.0}])
    .into();
    let mut fine = prediction("toast", 1_001);
    fine.features = json!({"thickness_mm": 14.5}).into();
    fine.raw_output = json!({"score": 131.25, "value": 131.25}).into();
    fine.output = fine.raw_output.clone();
    let mut labeled = feedback(&clamped.id, FeedbackKind::Label, None, None);
    labeled.value = Some(95.0);
    let right = feedback(&fine.id, FeedbackKind::Correct, None, None);
    store.write_batch(&[clamped.into(), fine.into(), labeled.into(), right.into()], None).unwrap();

    let mut out = Vec::new();
    export(store.as_ref(), &toaster(), &options(ExportFormat::Csv), &mut out).unwrap();
    let mut r = csv::Reader::from_reader(out.as_slice());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "prediction_id",
            "time_ms",
            "unit",
            "model_version",
            "thickness_mm",
            "raw_value",
            "output_value",
            "mode",
            "variant",
            "fallback",
            "guardrails",
            "truth",
            "feedback_kind",
            "feedback_source",
            "feedback_count"
        ]
    );
    let rows: Vec<BTreeMap<String, String>> = r.deserialize().map(Result::unwrap).collect();
    assert_eq!((rows[0]["raw_value"].as_str(), rows[0]["output_value"].as_str()), ("-72729.65625", "0.0"));
    assert_eq!(rows[0]["thickness_mm"], "12.0", "a whole number in a double column");
    assert_eq!(rows[0]["guardrails"], "max_toasting_time:clamp");
    assert_eq!((rows[0]["truth"].as_str(), rows[1]["truth"].as_str()), ("95.0", "131.25"));
}

/// Values the schema's types cannot hold (recorded under another schema) are left empty and
/// counted, in every format alike.
#[test]
fn values_that_do_not_fit_their_column_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut p = prediction("fraud", 1_000);
    p.features = json!({"items": 2.5, "amount": "high", "new_user": 1, "country": 7}).into();
    store.write_batch(&[p.into()], None).unwrap();
    let (report, rows) = jsonl(&store, &fraud(), &options(ExportFormat::Jsonl));
    assert_eq!(report.misfits, 3);
    assert_eq!((rows[0]["items"].clone(), rows[0]["amount"].clone()), (Value::Null, Value::Null));
    assert_eq!(rows[0]["country"], "7", "anything is text");
}

/// The Parquet file read back with the `parquet` crate: the columns, their order, their
/// physical and logical types and whether they may be empty; then the values.
#[test]
fn parquet_has_typed_columns_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids = dataset(&store);
    let path = dir.path().join("fraud.parquet");
    let file = std::fs::File::create(&path).unwrap();
    let report = export(store.as_ref(), &fraud(), &options(ExportFormat::Parquet), file).unwrap();
    assert_eq!(report.rows, 6);
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let meta = reader.metadata().file_metadata();
    assert_eq!(meta.num_rows(), 6);
    let schema = meta.schema_descr();
    let described: Vec<(String, PhysicalType, Option<LogicalType>, Repetition)> = schema
        .columns()
        .iter()
        .map(|c| {
            let t = c.self_type();
            (
                c.name().to_string(),
                c.physical_type(),
                t.get_basic_info().logical_type_ref().cloned(),
                t.get_basic_info().repetition(),
            )
        })
        .collect();
    use PhysicalType::*;
    const REQUIRED: Repetition = Repetition::REQUIRED;
    const OPTIONAL: Repetition = Repetition::OPTIONAL;
    let s = Some(LogicalType::String);
    let timestamp = Some(LogicalType::timestamp(true, TimeUnit::MILLIS));
    let want: Vec<(PhysicalType, Option<LogicalType>, Repetition)> = vec![
        (BYTE_ARRAY, s.clone(), REQUIRED), // prediction_id
        (INT64, timestamp, REQUIRED),      // time_ms
        (BYTE_ARRAY, s.clone(), OPTIONAL), // unit
        (BYTE_ARRAY, s.clone(), REQUIRED), // model_version
        (INT64, None, OPTIONAL),           // items
        (DOUBLE, None, OPTIONAL),          // amount
        (BOOLEAN, None, OPTIONAL),         // new_user
        (BYTE_ARRAY, s.clone(), OPTIONAL), // country
        (BYTE_ARRAY, s.clone(), OPTIONAL), // feature.mode
        (BYTE_ARRAY, s.clone(), OPTIONAL), // raw_label
        (DOUBLE, None, OPTIONAL),          // raw_score
        (DOUBLE, None, OPTIONAL),          // raw_p_legit
        (DOUBLE, None, OPTIONAL),          // raw_p_fraud
        (BYTE_ARRAY, s.clone(), OPTIONAL), // output_label
        (DOUBLE, None, OPTIONAL),          // output_score
        (DOUBLE, None, OPTIONAL),          // output_p_legit
        (DOUBLE, None, OPTIONAL),          // output_p_fraud
        (BYTE_ARRAY, s.clone(), REQUIRED), // mode
        (BYTE_ARRAY, s.clone(), REQUIRED), // variant
        (BYTE_ARRAY, s.clone(), OPTIONAL), // fallback
        (BYTE_ARRAY, s.clone(), OPTIONAL), // guardrails
        (BYTE_ARRAY, s.clone(), OPTIONAL), // truth
        (BYTE_ARRAY, s.clone(), OPTIONAL), // feedback_kind
        (BYTE_ARRAY, s.clone(), OPTIONAL), // feedback_source
        (INT64, None, REQUIRED),           // feedback_count
        (INT64, None, REQUIRED),           // outcome_left_page: a count
        (DOUBLE, None, OPTIONAL),          // outcome_purchase: the latest value
    ];
    let names: Vec<&str> = described.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(names, FRAUD_COLUMNS);
    for ((name, physical, logical, repetition), want) in described.iter().zip(&want) {
        assert_eq!(&(*physical, logical.clone(), *repetition), want, "{name}");
    }
    // the columns `export::columns` states are the file's
    let stated = rein_telemetry::export::columns(
        &fraud(),
        &store
            .outcome_names(&WindowQuery {
                component: Some("fraud".into()),
                since_ms: Some(0),
                until_ms: Some(2_000),
                with_feedback: false,
            })
            .unwrap(),
    );
    assert_eq!(stated.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), FRAUD_COLUMNS);

    let rows: Vec<BTreeMap<String, Field>> = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap().get_column_iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .collect();
    assert_eq!(rows[0]["prediction_id"], Field::Str(ids[0].clone()));
    assert_eq!(rows[0]["time_ms"], Field::TimestampMillis(1_000));
    assert_eq!(rows[0]["items"], Field::Long(0));
    assert_eq!(rows[1]["amount"], Field::Double(11.5));
    assert_eq!(rows[1]["new_user"], Field::Bool(false));
    assert_eq!(rows[1]["country"], Field::Str("FR, \"Paris\"\nnorth".into()));
    assert_eq!(rows[0]["raw_p_fraud"], Field::Double(0.8125));
    assert_eq!(rows[0]["truth"], Field::Str("fraud".into()));
    assert_eq!(rows[3]["truth"], Field::Null);
    assert_eq!(rows[1]["outcome_left_page"], Field::Long(2));
    assert_eq!(rows[0]["outcome_purchase"], Field::Double(35.5));
    assert_eq!(rows[1]["outcome_purchase"], Field::Null);
    assert_eq!(rows[4]["raw_label"], Field::Null);
}

/// A window larger than a row group streams through in groups of 8192 rows.
#[test]
fn a_large_window_is_written_in_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for chunk in 0..4 {
        let events: Vec<Event> = (0..5_000).map(|i| prediction("fraud", chunk * 5_000 + i).into()).collect();
        store.write_batch(&events, None).unwrap();
    }
    let path = dir.path().join("large.parquet");
    let all = ExportOptions { since_ms: None, until_ms: None, ..options(ExportFormat::Parquet) };
    let report = export(store.as_ref(), &fraud(), &all, std::fs::File::create(&path).unwrap()).unwrap();
    assert_eq!(report.rows, 20_000);
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let groups: Vec<i64> = reader.metadata().row_groups().iter().map(|g| g.num_rows()).collect();
    assert_eq!(groups, [8192, 8192, 3616]);
}

#[test]
fn an_empty_window_is_a_valid_file_with_every_column() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let spec = ExportSpec { component: "none".into(), ..fraud() };
    for format in [ExportFormat::Jsonl, ExportFormat::Csv, ExportFormat::Parquet] {
        let mut out = Vec::new();
        assert_eq!(export(store.as_ref(), &spec, &options(format), &mut out).unwrap().rows, 0);
    }
    let path = dir.path().join("empty.parquet");
    export(store.as_ref(), &spec, &options(ExportFormat::Parquet), std::fs::File::create(&path).unwrap()).unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
    assert_eq!(reader.metadata().file_metadata().schema_descr().num_columns(), FRAUD_COLUMNS.len() - 2);
    assert_eq!("CSV".parse::<ExportFormat>(), Ok(ExportFormat::Csv));
    assert!("xlsx".parse::<ExportFormat>().unwrap_err().contains("jsonl, csv or parquet"));
}

/// The store's visitor: each prediction of the window once, oldest first, with exactly its
/// own feedback and outcomes, whatever the others'.
#[test]
fn the_visitor_joins_each_prediction_to_its_own_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids = dataset(&store);
    let mut seen = Vec::new();
    let query =
        WindowQuery { component: Some("fraud".into()), since_ms: Some(0), until_ms: Some(2_000), with_feedback: false };
    let n = store
        .visit_predictions(&query, &mut |r| {
            assert!(r.feedback.iter().all(|f| f.prediction_id == r.prediction.id));
            assert!(r.outcomes.iter().all(|o| o.prediction_id.as_deref() == Some(r.prediction.id.as_str())));
            seen.push((r.prediction.id.clone(), r.feedback.len(), r.outcomes.len()));
            Ok(())
        })
        .unwrap();
    assert_eq!(n, 6);
    let want: Vec<(String, usize, usize)> = [(0, 1, 3), (1, 2, 2), (2, 1, 0), (3, 0, 0), (4, 0, 0), (5, 0, 0)]
        .map(|(i, f, o)| (ids[i].clone(), f, o))
        .into();
    assert_eq!(seen, want);
    let with_feedback = WindowQuery { with_feedback: true, ..query.clone() };
    assert_eq!(store.visit_predictions(&with_feedback, &mut |_| Ok(())).unwrap(), 3);
    let names = store.outcome_names(&query).unwrap();
    let names: Vec<(&str, bool)> = names.iter().map(|o| (o.name.as_str(), o.valued)).collect();
    assert_eq!(names, [("left_page", false), ("purchase", true)]);
    // a visitor's error stops the visit
    let mut calls = 0;
    let stopped = store.visit_predictions(&query, &mut |_| {
        calls += 1;
        Err(StoreError::Unavailable("enough".into()))
    });
    assert!(stopped.is_err() && calls == 1);
}
