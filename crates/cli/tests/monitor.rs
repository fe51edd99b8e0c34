//! `rein profile` and `rein drift` end to end, on the phishing example and the small CSV
//! files of fixtures/drift (fixtures/drift/make.py): the profile written beside the model
//! by default (and found there by `rein drift`), the output scored by the model, drift
//! flagged where the files moved and nowhere else, JSON and HTML reports, and bad input
//! named with what was expected.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn rein(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rein")).args(args).output().expect("rein runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture(name: &str) -> String {
    format!("{ROOT}/fixtures/drift/{name}")
}

/// The phishing example copied into `dir` (its system file and model), so that the profile
/// written beside the model lands there.
fn example(dir: &Path) -> PathBuf {
    let from = Path::new(ROOT).join("examples/phishing-warning");
    for file in ["rein.toml", "model.onnx"] {
        std::fs::copy(from.join(file), dir.join(file)).unwrap();
    }
    dir.join("rein.toml")
}

fn drifted(report: &serde_json::Value) -> Vec<String> {
    report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["drifted"] == true)
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn profile_then_drift_flags_what_moved_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let system = example(dir.path());
    let system = system.to_str().unwrap();
    let (ok, _, stderr) = rein(&["profile", system, "phishing", "--data", &fixture("reference.csv")]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("scored 2000 of 2000 rows"), "{stderr}");
    let profile_path = dir.path().join("model.profile.json");
    let profile: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&profile_path).unwrap()).unwrap();
    assert_eq!((profile["format"].as_str(), profile["version"].as_u64()), (Some("rein-profile"), Some(1)));
    let names: Vec<&str> = profile["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 11, "nine features, score and label: {names:?}");
    assert_eq!(profile["columns"][9]["counts"]["rows"], 2000, "the model scored every row");

    // no --reference: the profile beside the model
    let (ok, stdout, stderr) =
        rein(&["drift", system, "phishing", "--current", &fixture("current-steady.csv"), "--score", "--json"]);
    assert!(ok, "{stderr}");
    let steady: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(steady["reference"]["kind"], "profile");
    assert_eq!(drifted(&steady), Vec::<String>::new(), "{stdout}");

    let html = dir.path().join("report.html");
    let (ok, stdout, stderr) = rein(&[
        "drift",
        system,
        "phishing",
        "--current",
        &fixture("current-drifted.csv"),
        "--score",
        "--out",
        html.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("3 of 9 features drifted; the output drifted (score, label)"), "{stdout}");
    assert!(stdout.contains("yes (missing rose)"), "{stdout}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"), "{}", &page[..200]);

    let (ok, stdout, stderr) =
        rein(&["drift", system, "phishing", "--current", &fixture("current-drifted.csv"), "--score", "--json"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(drifted(&report), ["num_dots", "uses_https", "domain_age_days", "score", "label"], "{stdout}");
    let num_dots = &report["columns"][1];
    assert_eq!(num_dots["values"]["risen"], serde_json::json!(["missing"]));
    let age = &report["columns"][5];
    assert_eq!(age["decision"]["method"], "ks", "500 rows: a test decides");
    for measure in ["psi", "jensen_shannon", "wasserstein", "ks"] {
        assert!(age["measures"]["numeric"][measure]["drifted"].is_boolean(), "{measure}: {age}");
    }
    assert_eq!(age["measures"]["numeric"]["ks"]["method"], "exact");
}

#[test]
fn drift_between_two_files_needs_no_profile_nor_model() {
    // a training set against another: the reference is profiled on the way; no model runs
    let (ok, stdout, stderr) = rein(&[
        "drift",
        &format!("{ROOT}/examples/phishing-warning/rein.toml"),
        "phishing",
        "--reference",
        &fixture("reference.csv"),
        "--current",
        &fixture("current-drifted.csv"),
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("(data, 2000 rows)") && stdout.contains("3 of 9 features drifted"), "{stdout}");
    assert!(stdout.contains("`score` not compared:") && stdout.contains("has no `score` column"), "{stdout}");
}

#[test]
fn bad_input_is_named_with_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let system = format!("{ROOT}/examples/phishing-warning/rein.toml");
    let reference = fixture("reference.csv");

    // a column missing
    let text = std::fs::read_to_string(fixture("current-steady.csv")).unwrap();
    let without: String = text.lines().map(|l| l.rsplit_once(',').unwrap().0.to_owned() + "\n").collect();
    let file = dir.path().join("no-tld.csv");
    std::fs::write(&file, without).unwrap();
    let (ok, _, stderr) =
        rein(&["drift", &system, "phishing", "--reference", &reference, "--current", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains(
            "no-tld.csv: no column `tld_category`: expected feature `tld_category`, declared category (one of com, org"
        ),
        "{stderr}"
    );

    // a mistyped cell
    let mistyped = text.replacen("\n133,", "\nlong,", 1);
    let file = dir.path().join("mistyped.csv");
    std::fs::write(&file, mistyped).unwrap();
    let (ok, _, stderr) =
        rein(&["drift", &system, "phishing", "--reference", &reference, "--current", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("mistyped.csv: column `url_length`, row 1: `long` is not a number"), "{stderr}");

    // not a profile; a file of another kind; a component that is not there
    let file = dir.path().join("p.json");
    std::fs::write(&file, "{\"rows\": 3}").unwrap();
    let (ok, _, stderr) =
        rein(&["drift", &system, "phishing", "--reference", file.to_str().unwrap(), "--current", &reference]);
    assert!(!ok && stderr.contains("p.json: not a rein profile"), "{stderr}");
    let (ok, _, stderr) = rein(&["drift", &system, "phishing", "--reference", &system, "--current", &reference]);
    assert!(!ok && stderr.contains("not a file rein reads: use .csv or .parquet"), "{stderr}");
    let (ok, _, stderr) = rein(&["profile", &system, "fishing", "--data", &reference, "--no-score"]);
    assert!(!ok && stderr.contains("no component is named `fishing`; the system has: phishing"), "{stderr}");
    // no reference and no profile beside the model
    let copy = example(dir.path());
    let (ok, _, stderr) = rein(&["drift", copy.to_str().unwrap(), "phishing", "--current", &reference]);
    assert!(!ok && stderr.contains("no --reference given, and no profile beside the model"), "{stderr}");
}
