mod common;

use common::*;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use rein_telemetry::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Four predictions with feedback (one without known truth), one without
/// feedback, one of another component, one outside the window.
fn dataset(store: &SqliteStore) -> Vec<String> {
    let mut events: Vec<Event> = Vec::new();
    let mut ids = Vec::new();
    for i in 0..7i64 {
        let mut p = prediction(if i == 5 { "other" } else { "fraud" }, 1_000 + i);
        p.features = json!({
            "amount": 10.0 + i as f64,
            "country": if i == 1 { "FR, \"Paris\"\nnorth" } else { "DE" },
            "new_user": i % 2 == 0,
            "device": {"os": "ios"},
            "truth": i,
        })
        .into();
        if i == 6 {
            p.time_ms = 5_000;
        }
        ids.push(p.id.clone());
        events.push(p.into());
    }
    let fb = |i: usize, kind, label: Option<&str>| Event::from(feedback(&ids[i], kind, label, None));
    events.push(fb(0, FeedbackKind::Correct, None)); // truth = predicted "fraud"
    events.push(fb(1, FeedbackKind::Correct, None));
    events.push(fb(1, FeedbackKind::Incorrect, Some("legit"))); // latest decides: legit
    events.push(fb(2, FeedbackKind::Label, Some("legit")));
    events.push(fb(3, FeedbackKind::Incorrect, None)); // truth unknown
    events.push(fb(5, FeedbackKind::Label, Some("legit"))); // other component
    events.push(fb(6, FeedbackKind::Label, Some("legit"))); // outside window
    store.write_batch(&events, None).unwrap();
    ids
}

#[test]
fn jsonl_export() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids = dataset(&store);
    let mut out = Vec::new();
    let n = export(store.as_ref(), "fraud", Some(0), Some(2_000), ExportFormat::Jsonl, &mut out).unwrap();
    assert_eq!(n, 4);
    let rows: Vec<Value> = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 4);
    let got: Vec<_> = rows.iter().map(|r| (r["prediction_id"].as_str().unwrap(), r["truth"].clone())).collect();
    assert_eq!(
        got,
        vec![
            (ids[0].as_str(), json!("fraud")),
            (ids[1].as_str(), json!("legit")),
            (ids[2].as_str(), json!("legit")),
            (ids[3].as_str(), Value::Null),
        ]
    );
    assert_eq!(rows[0]["predicted"], "fraud");
    assert_eq!(rows[1]["feedback"], "incorrect");
    assert_eq!(rows[1]["features"]["country"], "FR, \"Paris\"\nnorth");
    assert_eq!(rows[0]["time_ms"], 1_000);
    assert_eq!(rows[0]["model_version"], "3");
}

#[test]
fn csv_export_quotes_and_flattens() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids = dataset(&store);
    let mut out = Vec::new();
    let n = export(store.as_ref(), "fraud", None, Some(2_000), ExportFormat::Csv, &mut out).unwrap();
    assert_eq!(n, 4);
    let mut r = csv::Reader::from_reader(out.as_slice());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "prediction_id",
            "time_ms",
            "model_name",
            "model_version",
            "variant",
            "predicted",
            "truth",
            "feedback",
            "feedback_source",
            "amount",
            "country",
            "device.os",
            "feature.truth",
            "new_user"
        ]
    );
    let rows: Vec<BTreeMap<String, String>> = r.deserialize().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1]["prediction_id"], ids[1]);
    assert_eq!(rows[1]["country"], "FR, \"Paris\"\nnorth");
    assert_eq!(rows[1]["truth"], "legit");
    assert_eq!(rows[3]["truth"], "");
    assert_eq!(rows[0]["amount"], "10.0");
    assert_eq!(rows[0]["new_user"], "true");
    assert_eq!(rows[0]["device.os"], "ios");
    assert_eq!(rows[2]["feature.truth"], "2");
}

#[test]
fn parquet_export_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids = dataset(&store);
    let path = dir.path().join("examples.parquet");
    let file = std::fs::File::create(&path).unwrap();
    let n = export(store.as_ref(), "fraud", Some(0), Some(2_000), ExportFormat::Parquet, file).unwrap();
    assert_eq!(n, 4);
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 4);
    let rows: Vec<BTreeMap<String, Field>> = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap().get_column_iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["prediction_id"], Field::Str(ids[0].clone()));
    assert_eq!(rows[0]["time_ms"], Field::Long(1_000));
    assert_eq!(rows[0]["truth"], Field::Str("fraud".into()));
    assert_eq!(rows[3]["truth"], Field::Null);
    assert_eq!(rows[1]["amount"], Field::Double(11.0));
    assert_eq!(rows[1]["new_user"], Field::Bool(false));
    assert_eq!(rows[1]["country"], Field::Str("FR, \"Paris\"\nnorth".into()));
    assert_eq!(rows[2]["device.os"], Field::Str("ios".into()));
    assert_eq!(rows[2]["feature.truth"], Field::Double(2.0));
}

#[test]
fn empty_export_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for format in [ExportFormat::Jsonl, ExportFormat::Csv, ExportFormat::Parquet] {
        let mut out = Vec::new();
        assert_eq!(export(store.as_ref(), "none", None, None, format, &mut out).unwrap(), 0);
    }
    let path = dir.path().join("empty.parquet");
    export(store.as_ref(), "none", None, None, ExportFormat::Parquet, std::fs::File::create(&path).unwrap()).unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
    assert_eq!("CSV".parse::<ExportFormat>(), Ok(ExportFormat::Csv));
    assert!("xlsx".parse::<ExportFormat>().unwrap_err().contains("jsonl, csv or parquet"));
}
