//! `rein init`: for every fixture model, a system file that `rein check` accepts and that,
//! served as it is, answers the fixture's rows as Python's ONNX Runtime did; its path,
//! names and refusals; and the warnings and hints `rein check` prints.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Map, Value};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const TOLERANCE: f64 = 1e-5;

fn rein_in(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rein")).current_dir(dir).args(args).output().expect("rein runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn rein(args: &[&str]) -> (bool, String, String) {
    rein_in(Path::new(ROOT), args)
}

fn fixture_model(name: &str) -> PathBuf {
    Path::new(ROOT).join("fixtures/models").join(format!("{name}.onnx")).canonicalize().expect("fixture model")
}

/// `rein init MODEL --out DIR/rein.toml`; the file's text.
fn init(model: &Path, dir: &Path, extra: &[&str]) -> (PathBuf, String) {
    let file = dir.join("rein.toml");
    let mut args = vec!["init", model.to_str().unwrap(), "--out", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (ok, _, stderr) = rein(&args);
    assert!(ok, "rein init {}: {stderr}", model.display());
    (file.clone(), std::fs::read_to_string(&file).unwrap())
}

/// The fixture's rows as request features of the drafted file: by name, or by position
/// (`f0`, `f1`, ...) for a model of one tensor, whose columns are numbers.
fn requests(fixture: &Value, drafted: &toml::Value) -> Vec<Map<String, Value>> {
    let schema: Vec<&str> =
        fixture["features"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    let features = drafted["components"][0]["features"].as_array().unwrap();
    let names: Vec<&str> = features.iter().map(|f| f["name"].as_str().unwrap()).collect();
    let positional = fixture["layout"] == "single";
    fixture["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let row = row.as_array().unwrap();
            if positional {
                assert_eq!(names, (0..row.len()).map(|k| format!("f{k}")).collect::<Vec<_>>());
                row.iter()
                    .enumerate()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::Bool(b) => Value::from(u8::from(*b)),
                            v => v.clone(),
                        };
                        (format!("f{k}"), v)
                    })
                    .collect()
            } else {
                let mut sorted = schema.clone();
                sorted.sort_unstable();
                let mut drafted = names.clone();
                drafted.sort_unstable();
                assert_eq!(sorted, drafted, "the drafted features are the model's inputs");
                schema.iter().zip(row).map(|(n, v)| (n.to_string(), v.clone())).collect()
            }
        })
        .collect()
}

/// An answer's `raw` output against the fixture's expected output for the row.
fn assert_answers(raw: &Value, want: &Value, labels: &[String], what: &str) {
    if let Some(value) = want.get("value") {
        let (got, want) = (raw["value"].as_f64().expect("value"), value.as_f64().unwrap());
        assert!((got - want).abs() < TOLERANCE * want.abs().max(1.0), "{what}: {got} vs {want}");
        return;
    }
    assert_eq!(raw["label"], want["label"], "{what}: label");
    for (label, p) in labels.iter().zip(want["probabilities"].as_array().unwrap()) {
        let got = raw["probabilities"][label].as_f64().unwrap_or_else(|| panic!("{what}: no probability of {label}"));
        let p = p.as_f64().unwrap();
        assert!((got - p).abs() < TOLERANCE, "{what}: p({label}) {got} vs {p}");
    }
}

/// Serves `file` and answers `features` in one batch.
async fn served(file: &Path, component: &str, features: &[Map<String, Value>]) -> Vec<Value> {
    let data = tempfile::tempdir().unwrap();
    let (mut child, addr) = common::serve(file, "off", data.path(), Stdio::null());
    let instances: Vec<Value> = features.iter().map(|f| serde_json::json!({ "features": f })).collect();
    let answer = reqwest::Client::new()
        .post(format!("http://{addr}/v1/components/{component}/predict"))
        .json(&serde_json::json!({ "instances": instances }))
        .send()
        .await;
    let _ = child.kill();
    let _ = child.wait();
    let answer: Value = answer.expect("predict").json().await.expect("JSON");
    answer["predictions"].as_array().unwrap_or_else(|| panic!("{answer}")).clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_drafts_a_file_that_checks_and_serves_the_fixtures_answers() {
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("fixtures/expected"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 9, "{fixtures:?}");
    for json in fixtures {
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let name = fixture["name"].as_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (file, text) = init(&fixture_model(name), dir.path(), &[]);
        let drafted: toml::Value = toml::from_str(&text).unwrap();
        let component = &drafted["components"][0];
        assert_eq!(component["name"].as_str(), Some(name));
        assert_eq!(component["task"].as_str(), fixture["task"].as_str(), "{name}: task");
        let labels: Vec<String> = fixture["labels"]
            .as_array()
            .map(|a| a.iter().map(|l| l.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        if !labels.is_empty() {
            let drafted_labels: Vec<&str> =
                component["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
            assert_eq!(drafted_labels, labels, "{name}: labels in the model's order");
        }

        let (ok, stdout, stderr) = rein(&["check", file.to_str().unwrap()]);
        assert!(ok, "{name}: rein check refused the drafted file:\n{stderr}\n{text}");
        assert!(stdout.contains(&format!("component `{name}`")), "{stdout}");

        let rows = requests(&fixture, &drafted);
        let expected = fixture["expected"].as_array().unwrap();
        let answers = served(&file, name, &rows).await;
        assert_eq!(answers.len(), rows.len(), "{name}: {answers:?}");
        for (i, (answer, want)) in answers.iter().zip(expected).enumerate() {
            assert_answers(&answer["raw"], want, &labels, &format!("{name} row {i} served"));
        }

        // and the first row through `rein predict`, without a server
        let features = Value::Object(rows[0].clone()).to_string();
        let (ok, stdout, stderr) = rein(&["predict", file.to_str().unwrap(), name, "--features", &features]);
        assert!(ok, "{name}: {stderr}");
        let answer: Value = serde_json::from_str(&stdout).unwrap();
        assert_answers(&answer["raw"], &expected[0], &labels, &format!("{name} row 0 predicted"));
    }
}

#[test]
fn the_credit_model_drafts_its_categories_labels_and_task() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = init(&fixture_model("credit"), dir.path(), &[]);
    let v: toml::Value = toml::from_str(&text).unwrap();
    let c = &v["components"][0];
    assert_eq!(c["task"].as_str(), Some("binary"));
    assert_eq!(c["positive_label"].as_str(), Some("good"));
    let features = c["features"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> =
        features.iter().map(|f| (f["name"].as_str().unwrap(), f["type"].as_str().unwrap())).collect();
    assert_eq!(
        kinds,
        [
            ("income", "number"),
            ("debt_ratio", "number"),
            ("age", "integer"),
            ("late_payments", "integer"),
            ("housing", "category"),
            ("purpose", "category")
        ]
    );
    let categories = |i: usize| -> Vec<&str> {
        features[i]["categories"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect()
    };
    assert_eq!(categories(4), ["family", "mortgage", "own", "rent"]);
    assert_eq!(categories(5), ["business", "car", "education", "home", "other"]);
    assert_eq!(c["experience"]["policy"].as_str(), Some("fixed"));
    assert_eq!(c["fallback"]["output"].as_str(), Some("bad"));
    assert!(text.contains("# min = ...") && text.contains("expected_value"), "{text}");
}

#[test]
fn a_single_tensor_model_gets_positional_features_and_the_task_can_be_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) =
        init(&fixture_model("scaler_logreg"), dir.path(), &["--component", "scoring", "--task", "multiclass"]);
    let v: toml::Value = toml::from_str(&text).unwrap();
    let c = &v["components"][0];
    assert_eq!(c["name"].as_str(), Some("scoring"));
    assert_eq!(c["task"].as_str(), Some("multiclass"));
    assert!(c.get("positive_label").is_none());
    let names: Vec<&str> = c["features"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["f0", "f1", "f2", "f3", "f4", "f5"]);
    assert!(text.contains("# The model takes one float tensor, `input` [N, 6], whose columns rein fills by"), "{text}");

    let (ok, _, stderr) = rein(&["init", fixture_model("scaler_logreg").to_str().unwrap(), "--task", "regression"]);
    assert!(!ok);
    assert!(stderr.contains("scaler_logreg.onnx") && stderr.contains("not a regressor"), "{stderr}");
    let (ok, _, stderr) = rein(&["init", fixture_model("random_forest").to_str().unwrap(), "--task", "binary"]);
    assert!(!ok);
    assert!(stderr.contains("`--task binary` needs two classes") && stderr.contains("`0`, `1`, `2`"), "{stderr}");
}

#[test]
fn the_model_path_is_relative_to_where_the_file_lives() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("a/b"); // made by rein init, as `--out a/b/rein.toml` asks
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::copy(fixture_model("credit"), models.join("credit.onnx")).unwrap();

    // --out: relative to the file's folder
    let out = deep.join("rein.toml");
    let (ok, _, stderr) = rein_in(dir.path(), &["init", "models/credit.onnx", "--out", "a/b/rein.toml"]);
    assert!(ok, "{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains(r#"model = { path = "../../models/credit.onnx" }"#), "{text}");
    let (ok, _, stderr) = rein(&["check", out.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    // an existing file is kept unless --force
    let (ok, _, stderr) = rein_in(dir.path(), &["init", "models/credit.onnx", "--out", "a/b/rein.toml"]);
    assert!(!ok && stderr.contains("exists; `--force` replaces it"), "{stderr}");

    // standard output: relative to the current folder
    let (ok, stdout, stderr) = rein_in(&models, &["init", "credit.onnx"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains(r#"model = { path = "credit.onnx" }"#), "{stdout}");
    std::fs::write(models.join("rein.toml"), &stdout).unwrap();
    let (ok, _, stderr) = rein_in(&models, &["check", "rein.toml"]);
    assert!(ok, "{stderr}");
}

#[test]
fn a_file_that_is_not_onnx_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("notes.onnx");
    std::fs::write(&junk, "these are my notes, not a model").unwrap();
    let (ok, stdout, stderr) = rein(&["init", junk.to_str().unwrap()]);
    assert!(!ok && stdout.is_empty());
    assert!(stderr.contains("notes.onnx") && stderr.contains("not an ONNX model"), "{stderr}");
    let (ok, _, stderr) = rein(&["init", dir.path().join("missing.onnx").to_str().unwrap()]);
    assert!(!ok && stderr.contains("missing.onnx") && stderr.contains("no such file"), "{stderr}");
    let (ok, _, stderr) = rein(&["init", fixture_model("credit").to_str().unwrap(), "--component", "9lives"]);
    assert!(!ok && stderr.contains("`--component 9lives` is not a name"), "{stderr}");
}

/// The line of the file that holds `needle`, 1-based.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("no `{needle}`")) + 1
}

#[test]
fn check_warns_of_categories_types_and_positions_at_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (file, text) = init(&fixture_model("credit"), dir.path(), &[]);
    let (ok, _, stderr) = rein(&["check", file.to_str().unwrap()]);
    assert!(ok);
    assert!(!stderr.contains("warning"), "the drafted file has nothing to warn of: {stderr}");

    let edited = text
        .replace(
            r#"categories = ["family", "mortgage", "own", "rent"]"#,
            r#"categories = ["mortgage", "own", "rent", "council"]"#,
        )
        .replacen("name = \"income\"\ntype = \"number\"", "name = \"income\"\ntype = \"integer\"", 1);
    std::fs::write(&file, &edited).unwrap();
    let (ok, _, stderr) = rein(&["check", file.to_str().unwrap()]);
    assert!(ok, "warnings do not refuse the file: {stderr}");
    // a feature's warnings stand at its table's header, the line before its name
    let housing = line_of(&edited, "name = \"housing\"") - 1;
    let income = line_of(&edited, "name = \"income\"") - 1;
    let at = |line: usize| format!("rein.toml:{line}:1: warning: component `credit`: ");
    assert!(
        stderr.contains(&format!(
            "{}feature `housing` declares category `council`, which the model's OneHotEncoder of input `housing` does \
             not know: it encodes it as all zeros",
            at(housing)
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}the model's OneHotEncoder of input `housing` knows category `family`, which feature `housing` does not \
             declare: a request with it is refused (422)",
            at(housing)
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}feature `income` is declared `integer` but model input `income` is tensor(float)",
            at(income)
        )),
        "{stderr}"
    );
    assert!(stderr.contains("3 warning(s) in"), "{stderr}");

    // One tensor filled by position: one warning for the component, naming the input,
    // its width and the order.
    let dir = tempfile::tempdir().unwrap();
    let (file, text) = init(&fixture_model("gradient_boosting"), dir.path(), &[]);
    let (ok, _, stderr) = rein(&["check", file.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let first = line_of(&text, "[[components.features]]");
    assert!(
        stderr.contains(&format!(
            "rein.toml:{first}:1: warning: component `gradient_boosting`: model input `input` is one tensor(float) of 5 \
             columns, which rein fills by position, in the order the features are declared: `f0`, `f1`, `f2`, `f3`, `f4`"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.matches("warning:").count(), 1, "{stderr}");
    assert!(stderr.contains("49,473 instead of 241,767"), "{stderr}");
}

#[test]
fn engine_messages_say_what_to_export() {
    // opset 22: ONNX Runtime serves it, and check says why rein does not and how to change it
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = init(&fixture_model("credit_opset22"), dir.path(), &[]);
    let (ok, stdout, stderr) = rein(&["check", file.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(
            "engine: ONNX Runtime evaluates the graph: opset 22 of the default domain `ai.onnx` is newer than rein \
             evaluates (1–21): export with `target_opset=21` (skl2onnx: `to_onnx(..., target_opset={'': 21, \
             'ai.onnx.ml': 3})`) to have rein evaluate it; ONNX Runtime serves it meanwhile"
        ),
        "{stdout}"
    );

    // double and float into one Concat: ONNX Runtime refuses it, with a hint
    let dir = tempfile::tempdir().unwrap();
    let (file, text) = init(&fixture_model("mixed_double_float"), dir.path(), &[]);
    let (ok, _, stderr) = rein(&["check", file.to_str().unwrap()]);
    assert!(!ok);
    let model = line_of(&text, "model = {");
    assert!(
        stderr.contains(&format!("rein.toml:{model}:9: component `mixed_double_float`: cannot use the model")),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "ONNX Runtime cannot load it: Type Error: Type parameter (T) of Optype (Concat) bound to different types \
             (tensor(double) and tensor(float)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "\n  hint: the graph feeds `Concat` both float64 and float32 tensors: cast float64 columns to float32 \
             before export (e.g. `X.astype(np.float32)`, and `FloatTensorType` in `initial_types`)"
        ),
        "{stderr}"
    );
}

#[test]
fn serve_logs_the_warnings_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = init(&fixture_model("tree_regressor"), dir.path(), &[]);
    let (mut child, _) = common::serve(&file, "off", &dir.path().join("data"), Stdio::piped());
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("WARN") && log.contains("warning: component `tree_regressor`: model input `input` is one tensor"),
        "{log}"
    );
}
