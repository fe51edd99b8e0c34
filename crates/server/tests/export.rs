//! `rein export` of what a real server recorded, for two examples: the phishing warning (a
//! binary classifier, a hashed feature) and the smart toaster with its broken model (a
//! regression the guardrails clamp). The columns come from the system file, in its order and
//! types; the numbers are the answers' to the last digit; and, where pyarrow can be
//! imported, `scripts/export_check.py` reads the Parquet file back on its own.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::*;
use rein_telemetry::{Durability, ExportFormat, ExportOptions, ExportReport, SqliteStore, Store};
use serde_json::{Value, json};

const PHISHING_COLUMNS: [&str; 31] = [
    "prediction_id",
    "time_ms",
    "unit",
    "model_version",
    "url_length",
    "num_dots",
    "num_hyphens",
    "has_ip_host",
    "uses_https",
    "domain_age_days",
    "num_subdomains",
    "suspicious_words",
    "tld_category",
    "raw_label",
    "raw_score",
    "raw_p_legit",
    "raw_p_phishing",
    "output_label",
    "output_score",
    "output_p_legit",
    "output_p_phishing",
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

const TOASTER_COLUMNS: [&str; 19] = [
    "prediction_id",
    "time_ms",
    "unit",
    "model_version",
    "bread_type",
    "thickness_mm",
    "desired_darkness",
    "start_temp_c",
    "chamber_temp_c",
    "raw_value",
    "output_value",
    "mode",
    "variant",
    "fallback",
    "guardrails",
    "truth",
    "feedback_kind",
    "feedback_source",
    "feedback_count",
];

fn examples() -> PathBuf {
    Path::new(EXAMPLE_DIR).join("..")
}

/// A recording server of the system file `file`.
async fn serve(file: &Path, dir: &Path) -> (rein_system::System, Server) {
    let system = rein_system::load(file).unwrap_or_else(|d| panic!("{d}"));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir).unwrap());
    let data = rein_telemetry::DataDir::lock(dir).unwrap();
    let clock = rein_telemetry::clock::system();
    let telemetry = rein_server::Telemetry::start(store, &system, data, Durability::Durable, clock).unwrap();
    (system.clone(), Server::with(system, Some(telemetry)).await)
}

/// The export of `component` in `format` into `path`, as `rein export` makes it.
fn export(
    system: &rein_system::System,
    component: &str,
    dir: &Path,
    format: ExportFormat,
    path: &Path,
) -> ExportReport {
    let spec = rein_server::telemetry::export_spec(system.component(component).unwrap());
    let options = ExportOptions { since_ms: None, until_ms: None, labeled_only: false, format };
    let store = SqliteStore::open(dir).unwrap();
    rein_telemetry::export(&store, &spec, &options, std::fs::File::create(path).unwrap()).unwrap()
}

fn csv_rows(path: &Path) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    (header, r.records().map(Result::unwrap).collect())
}

/// The Parquet file read back by `scripts/export_check.py` with pyarrow, against the system
/// file and the JSON lines export; skipped (and said) where pyarrow cannot be imported.
fn pyarrow_check(system: &Path, component: &str, parquet: &Path, jsonl: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let pylib = std::env::var_os("REIN_PYLIB").map(PathBuf::from).unwrap_or_else(|| repo.join(".rein/pylib"));
    let python = || {
        let mut c = Command::new("python3");
        c.env("PYTHONPATH", &pylib);
        c
    };
    let importable = python().args(["-c", "import pyarrow"]).output().is_ok_and(|o| o.status.success());
    if !importable {
        eprintln!("SKIPPED the pyarrow check: set REIN_PYLIB to a folder holding pyarrow (pip install --target)");
        return;
    }
    let mut check = python();
    let out = check.arg(repo.join("scripts/export_check.py")).args([system, Path::new(component), parquet, jsonl]);
    let out = out.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    eprintln!("{text}");
}

#[tokio::test]
async fn the_phishing_export_is_its_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let file = examples().join("phishing-warning/rein.toml");
    let (system, server) = serve(&file, dir.path()).await;
    let (_, warned) = server.predict(json!({"unit": "u-1", "features": page()})).await;
    let (_, allowed) =
        server.predict(json!({"unit": "u-2", "features": page(), "context": {"domain": "accounts.example.com"}})).await;
    let (_, unlabeled) = server.predict(json!({"unit": "u-3", "features": benign()})).await;
    let (_, confirmed) = server.predict(json!({"features": page()})).await;
    let id = |answer: &Value| answer["prediction_id"].as_str().unwrap().to_string();
    let posts = [
        ("/v1/feedback", json!({"prediction_id": id(&warned), "kind": "incorrect"})), // binary: legit
        ("/v1/feedback", json!({"prediction_id": id(&allowed), "kind": "label", "label": "phishing"})),
        ("/v1/feedback", json!({"prediction_id": id(&confirmed), "kind": "correct"})),
        ("/v1/outcomes", json!({"prediction_id": id(&warned), "name": "left_page"})),
        ("/v1/outcomes", json!({"prediction_id": id(&confirmed), "name": "purchase", "value": 49.5})),
        ("/v1/outcomes", json!({"unit": "u-3", "name": "purchase", "value": 10.0})), // no prediction named
    ];
    for (path, body) in posts {
        let (status, answer) = server.post(path, body.to_string()).await;
        assert_eq!(status, 202, "{answer:#}");
    }
    server.stop().await;

    let csv = dir.path().join("phishing.csv");
    let report = export(&system, "phishing", dir.path(), ExportFormat::Csv, &csv);
    assert_eq!(report, ExportReport { rows: 4, labeled: 3, misfits: 0 });
    let (header, rows) = csv_rows(&csv);
    assert_eq!(header, PHISHING_COLUMNS);
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let row = |answer: &Value| rows.iter().find(|r| r[0] == id(answer)).unwrap().clone();
    let (w, a, u, c) = (row(&warned), row(&allowed), row(&unlabeled), row(&confirmed));
    // the features as recorded: integers whole, booleans, the hashed category as its hash
    assert_eq!((&w[at("url_length")], &w[at("has_ip_host")]), ("142", "true"));
    assert!(w[at("tld_category")].starts_with("h:"), "{w:?}");
    // the model's numbers to the last digit of the answer
    let digits = |v: &Value| v.to_string();
    assert_eq!(w[at("raw_p_phishing")], digits(&warned["raw"]["probabilities"]["phishing"]));
    assert_eq!(w[at("raw_score")], digits(&warned["raw"]["score"]));
    assert_eq!(w[at("output_p_legit")], digits(&warned["output"]["probabilities"]["legit"]));
    assert_eq!((&w[at("truth")], &w[at("feedback_kind")]), ("legit", "incorrect"));
    assert_eq!((&w[at("outcome_left_page")], &w[at("outcome_purchase")]), ("1", ""));
    // the allow-list answered without the model
    assert_eq!((&a[at("raw_label")], &a[at("output_label")], &a[at("mode")]), ("", "legit", "none"));
    assert_eq!(&a[at("guardrails")], "never_warn_allow_listed:override");
    assert_eq!(&a[at("truth")], "phishing");
    // unlabeled, and nothing happened
    assert_eq!((&u[at("truth")], &u[at("feedback_count")], &u[at("outcome_left_page")]), ("", "0", "0"));
    assert_eq!((&c[at("truth")], &c[at("outcome_purchase")], &c[at("unit")]), ("phishing", "49.5", ""));

    let (parquet, jsonl) = (dir.path().join("phishing.parquet"), dir.path().join("phishing.jsonl"));
    export(&system, "phishing", dir.path(), ExportFormat::Parquet, &parquet);
    export(&system, "phishing", dir.path(), ExportFormat::Jsonl, &jsonl);
    pyarrow_check(&file, "phishing", &parquet, &jsonl);
}

/// The broken model proposes times the thermal fuse in software clamps: the export keeps the
/// model's own value beside the one the toaster used.
#[tokio::test]
async fn the_toaster_export_keeps_the_raw_value_beside_the_clamped_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = examples().join("smart-toaster/rein-broken.toml");
    let (system, server) = serve(&file, dir.path()).await;
    let toast = json!({"unit": "toaster-1", "features": {"bread_type": "white", "thickness_mm": 12.0,
        "desired_darkness": 3, "start_temp_c": 20.0, "chamber_temp_c": 25.0}});
    let (status, answer) = server.post("/v1/components/toast/predict", toast.to_string()).await;
    assert_eq!(status, 200, "{answer:#}");
    assert_eq!(answer["guardrails"][0]["rule"], "max_toasting_time", "{answer:#}");
    let (status, body) = server
        .post(
            "/v1/feedback",
            json!({"prediction_id": answer["prediction_id"], "kind": "label", "value": 95.0}).to_string(),
        )
        .await;
    assert_eq!(status, 202, "{body:#}");
    server.stop().await;

    let csv = dir.path().join("toast.csv");
    export(&system, "toast", dir.path(), ExportFormat::Csv, &csv);
    let (header, rows) = csv_rows(&csv);
    assert_eq!(header, TOASTER_COLUMNS);
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let r = &rows[0];
    assert_eq!(r[at("raw_value")], answer["raw"]["value"].to_string(), "the model's own, to the last digit");
    assert_ne!(r[at("raw_value")], r[at("output_value")]);
    assert_eq!(r[at("output_value")], answer["output"]["value"].to_string());
    assert_eq!((&r[at("desired_darkness")], &r[at("bread_type")], &r[at("thickness_mm")]), ("3", "white", "12.0"));
    assert_eq!((&r[at("guardrails")], &r[at("truth")]), ("max_toasting_time:clamp", "95.0"));

    let (parquet, jsonl) = (dir.path().join("toast.parquet"), dir.path().join("toast.jsonl"));
    export(&system, "toast", dir.path(), ExportFormat::Parquet, &parquet);
    export(&system, "toast", dir.path(), ExportFormat::Jsonl, &jsonl);
    pyarrow_check(&file, "toast", &parquet, &jsonl);
}
