//! The `rein` command as a user runs it.

use std::path::Path;
use std::process::Command;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");

fn rein(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rein")).args(args).output().expect("rein runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn every_example_system_passes_check() {
    let mut checked = 0;
    for entry in std::fs::read_dir(EXAMPLES).unwrap() {
        let dir = entry.unwrap().path();
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            if !(name.starts_with("rein") && name.ends_with(".toml")) {
                continue;
            }
            let (ok, stdout, stderr) = rein(&["check", file.to_str().unwrap()]);
            assert!(ok, "{}: {stderr}", file.display());
            assert!(stdout.contains("component `"), "{stdout}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} system files found");
}

#[test]
fn check_lists_the_monitors_their_reference_profile_and_where_alerts_go() {
    let file = Path::new(EXAMPLES).join("phishing-warning/rein.toml");
    let (ok, stdout, stderr) = rein(&["check", file.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("\nmonitors (7), each evaluated as its window closes:\n"), "{stdout}");
    assert!(
        stdout.contains(
            "  domain_age_drift [critical] drift of feature `domain_age_days` of `phishing`; alert when the drift \
             policy says drifted over 1h; opens after 2 window(s), closes after 2\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("  https_share [warning] drift of feature `uses_https` by chi_squared of `phishing`; alert when below 0.001 over 1d"), "{stdout}");
    assert!(
        stdout.contains("  fallbacks [critical] fallback_rate of `phishing`; alert when above 0.01 over 1h"),
        "{stdout}"
    );
    assert!(stdout.contains("model.profile.json (found)"), "{stdout}");
    assert!(stdout.contains("  alerts: the store, the log and /metrics (no `[alerts] webhook`)"), "{stdout}");

    // a profile that is not there is named, with how to make it
    let dir = tempfile::tempdir().unwrap();
    for f in ["rein.toml", "model.onnx"] {
        std::fs::copy(Path::new(EXAMPLES).join("phishing-warning").join(f), dir.path().join(f)).unwrap();
    }
    let copy = dir.path().join("rein.toml");
    let (ok, stdout, _) = rein(&["check", copy.to_str().unwrap()]);
    assert!(ok);
    assert!(stdout.contains("model.profile.json (missing: make it with `rein profile "), "{stdout}");
}

#[test]
fn check_prints_the_derived_thresholds() {
    let file = Path::new(EXAMPLES).join("phishing-warning/rein.toml");
    let (ok, stdout, _) = rein(&["check", file.to_str().unwrap()]);
    assert!(ok);
    assert!(stdout.contains("automate from 0.949"), "{stdout}");
    assert!(stdout.contains("none below 0.154"), "{stdout}");
}

/// Warnings about the design are printed, placed, with their reason; they fail the check
/// only with `--deny-warnings`, which says how many.
#[test]
fn check_warns_of_risky_designs_and_fails_on_them_when_asked() {
    let file = Path::new(EXAMPLES).join("phishing-warning/rein.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text.lines().position(|l| l.starts_with("values.automate")).unwrap() + 1;
    let (ok, stdout, stderr) = rein(&["check", file.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("component `phishing`"), "{stdout}");
    let placed = format!("rein.toml:{line}:19: warning: component `phishing` automates");
    assert!(stderr.contains(&placed), "{stderr}");
    assert!(stderr.contains("\n  hint: nothing outside the model bounds what it does on its own"), "{stderr}");
    assert!(stderr.contains("\n1 warning(s) in "), "{stderr}");

    let (ok, stdout, stderr) = rein(&["check", "--deny-warnings", file.to_str().unwrap()]);
    assert!(!ok, "{stderr}");
    assert!(stdout.contains("component `phishing`"), "the summary is still printed: {stdout}");
    assert!(stderr.contains("1 warning(s) in ") && stderr.contains("--deny-warnings makes them fail"), "{stderr}");

    // a design without warnings passes either way
    let file = Path::new(EXAMPLES).join("audit-risk/rein.toml");
    let (ok, _, stderr) = rein(&["check", "--deny-warnings", file.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn check_names_the_engine_of_each_model() {
    let file = Path::new(EXAMPLES).join("phishing-warning/rein.toml");
    let (ok, stdout, _) = rein(&["check", file.to_str().unwrap()]);
    assert!(ok);
    assert!(
        stdout.contains("engine: rein evaluates the graph itself (it agreed with ONNX Runtime on 256 probe rows)"),
        "{stdout}"
    );
    let file = Path::new(EXAMPLES).join("legal-triage/rein.toml");
    let (ok, stdout, _) = rein(&["check", file.to_str().unwrap()]);
    assert!(ok);
    assert!(stdout.contains("engine: ONNX Runtime evaluates the graph: operator `StringNormalizer`"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(Path::new(EXAMPLES).join("phishing-warning/rein.toml")).unwrap();
    let model = std::fs::canonicalize(Path::new(EXAMPLES).join("phishing-warning/model.onnx")).unwrap();
    let at = |engine: &str| {
        source.replacen(
            r#"model = { path = "model.onnx", timeout_ms = 50 }"#,
            &format!(r#"model = {{ path = "{}", timeout_ms = 50, engine = "{engine}" }}"#, model.display()),
            1,
        )
    };
    let file = dir.path().join("rein.toml");
    std::fs::write(&file, at("onnxruntime")).unwrap();
    let (ok, stdout, stderr) = rein(&["check", file.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains(r#"engine: ONNX Runtime evaluates the graph: `engine = "onnxruntime"`"#), "{stdout}");
    std::fs::write(&file, at("onnxruntim")).unwrap();
    let (ok, _, stderr) = rein(&["check", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("rein.toml:15:") && stderr.contains("unknown `engine` `onnxruntim`"), "{stderr}");
    assert!(stderr.contains("did you mean `onnxruntime`?"), "{stderr}");
}

#[test]
fn check_reports_mistakes_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(Path::new(EXAMPLES).join("phishing-warning/rein.toml")).unwrap();
    let broken = source.replacen("features.url_length > 2000", "features.url_lenght > 2000", 1);
    let file = dir.path().join("rein.toml");
    std::fs::write(&file, &broken).unwrap();
    let (ok, _, stderr) = rein(&["check", file.to_str().unwrap()]);
    assert!(!ok);
    let line = broken.lines().position(|l| l.contains("url_lenght")).unwrap() + 1;
    assert!(stderr.contains(&format!("rein.toml:{line}:")), "{stderr}");
    assert!(stderr.contains("unknown feature `url_lenght`"), "{stderr}");
    assert!(stderr.contains("did you mean `features.url_length`"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn a_broken_model_artifact_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(Path::new(EXAMPLES).join("phishing-warning/rein.toml")).unwrap();
    std::fs::write(dir.path().join("rein.toml"), &source).unwrap();
    std::fs::write(dir.path().join("model.onnx"), b"this is not a model").unwrap();
    let (ok, _, stderr) = rein(&["check", dir.path().join("rein.toml").to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("model.onnx"), "{stderr}");
    assert!(stderr.contains("rein.toml:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn predict_runs_the_whole_decision_path_without_a_server() {
    let file = Path::new(EXAMPLES).join("phishing-warning/rein.toml");
    let features = r#"{"url_length": 142, "num_dots": 6, "num_hyphens": 4, "has_ip_host": true, "uses_https": false,
        "domain_age_days": 3, "num_subdomains": 4, "suspicious_words": 3, "tld_category": "new_gtld"}"#;
    let (ok, stdout, stderr) = rein(&["predict", file.to_str().unwrap(), "phishing", "--features", features]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["output"]["label"], "phishing");
    let (ok, _, stderr) =
        rein(&["predict", file.to_str().unwrap(), "phishing", "--features", r#"{"url_length": "x"}"#]);
    assert!(!ok);
    assert!(stderr.contains("`url_length` is a string, expected an integer"), "{stderr}");
}

/// `rein export` after a crash, before rein started again: what the event log holds is
/// loaded first, so no answered event is left out; while a server holds the data, the
/// export waits for its loader, and says so when the newest events did not come in time.
#[test]
fn export_loads_what_the_event_log_holds_or_says_a_server_does() {
    let dir = tempfile::tempdir().unwrap();
    rein_telemetry::SqliteStore::open(dir.path()).unwrap();
    let system = Path::new(EXAMPLES).join("phishing-warning/rein.toml");
    let export = |dir: &Path| {
        rein(&["export", system.to_str().unwrap(), "--component", "phishing", "--data-dir", dir.to_str().unwrap()])
    };
    let (ok, _, stderr) = export(dir.path());
    assert!(ok, "{stderr}");
    assert!(stderr.contains("exported 0"), "{stderr}");

    // a prediction and its feedback, answered and only in the log (as after kill -9)
    let prediction = serde_json::json!({"type": "prediction", "id": "0190a0b0-0000-7000-8000-000000000001",
        "time_ms": 1_700_000_000_000i64, "system": "phishing-warning", "component": "phishing", "unit": "u",
        "model_name": "model", "model_version": "1", "variant": "main",
        "features": {"url_length": 10}, "raw_output": {"label": "legit"}, "guardrails": [],
        "output": {"label": "legit"}, "mode": "none", "reason": "{}", "fallback": false, "latency_us": 10});
    let feedback = serde_json::json!({"type": "feedback", "id": "f1", "prediction_id": "0190a0b0-0000-7000-8000-000000000001",
        "time_ms": 1_700_000_000_001i64, "kind": "correct", "source": "user"});
    std::fs::create_dir_all(dir.path().join("log/0")).unwrap();
    std::fs::write(dir.path().join("log/0").join(format!("{:020}.jsonl", 0)), format!("{prediction}\n{feedback}\n"))
        .unwrap();
    let held = rein_telemetry::DataDir::lock(dir.path()).unwrap();
    let (ok, _, stderr) = export(dir.path());
    assert!(ok, "{stderr}");
    assert!(stderr.contains("did not load its newest events"), "{stderr}");
    drop(held);
    let (ok, stdout, stderr) = export(dir.path());
    assert!(ok, "{stderr}");
    assert!(stderr.contains("exported 1"), "{stderr}");
    assert!(stdout.contains("0190a0b0-0000-7000-8000-000000000001"), "{stdout}");
}

/// `--help` describes every argument and option of every command.
#[test]
fn help_describes_every_argument() {
    let models = ["models register", "models list", "models show", "models alias", "models history"];
    let commands = [
        "init",
        "check",
        "serve",
        "predict",
        "export",
        "goals",
        "experiment",
        "report",
        "profile",
        "drift",
        "demo",
        "review",
    ];
    for command in commands.into_iter().chain(models) {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let (ok, stdout, stderr) = rein(&args);
        assert!(ok, "{stderr}");
        let listed: Vec<&str> = stdout
            .lines()
            .skip_while(|l| !l.starts_with("Arguments:") && !l.starts_with("Options:"))
            .filter(|l| l.starts_with("  <") || l.starts_with("  -"))
            .collect();
        assert!(!listed.is_empty(), "{command}: {stdout}");
        for line in listed {
            let described = line.trim().split_once("  ").is_some_and(|(_, text)| {
                let text = text.trim();
                !text.is_empty() && !text.starts_with('[')
            });
            assert!(described, "`rein {command} --help` does not describe: {line}");
        }
    }
}
