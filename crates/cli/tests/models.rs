//! `rein models`: registering (refusals that name the mismatch and say what would fit),
//! listing, showing, moving aliases, and the history answering what served a unit at an
//! instant and which version answered a recorded prediction of a real `rein serve`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/phishing-warning");
const V1: &str = "sha256:d019131ec354";

fn rein(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rein")).args(args).env("USER", "tester").output().expect("rein runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The example's model with one byte of its producer's name changed: another version.
fn variant(dir: &Path, tag: u8) -> PathBuf {
    let mut bytes = std::fs::read(Path::new(EXAMPLE).join("model.onnx")).unwrap();
    let at = bytes.windows(8).position(|w| w == b"skl2onnx").unwrap();
    bytes[at + 7] = tag;
    let path = dir.join(format!("model-{}.onnx", tag as char));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_model_that_does_not_fit_is_refused_naming_the_mismatch_and_nothing_is_registered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let system = format!("{EXAMPLE}/rein.toml");
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"not a model at all").unwrap();
    let other = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/models/scaler_logreg.onnx");
    for (model, named) in [(s(&garbage), "is refused"), (other, "model input `input` takes 6 features")] {
        let (ok, out, err) = rein(&["models", "register", &system, "phishing", model, "--data-dir", s(&data)]);
        assert!(!ok, "{out}");
        assert!(err.contains("version `sha256:") && err.contains("of component `phishing` is refused"), "{err}");
        assert!(err.contains(named), "`{named}` not in {err}");
    }
    let (_, _, err) = rein(&["models", "register", &system, "phishing", other, "--data-dir", s(&data)]);
    assert!(err.contains("hint: export the model with one input per feature"), "{err}");
    let (ok, out, err) = rein(&["models", "register", &system, "phish", other, "--data-dir", s(&data)]);
    assert!(!ok && err.contains("no component is named `phish`; the system has: phishing"), "{out}{err}");
    let (ok, out, err) = rein(&["models", "list", &system, "--data-dir", s(&data)]);
    assert!(ok, "{err}");
    assert!(out.contains("no versions yet"), "{out}");
    let (ok, _, err) = rein(&[
        "models",
        "register",
        &system,
        "phishing",
        s(&variant(dir.path(), b'2')),
        "--data-dir",
        s(&data),
        "--metric",
        "auc=high",
    ]);
    assert!(!ok && err.contains("metric `auc` is `high`, not a finite number"), "{err}");
}

#[test]
fn versions_are_registered_listed_shown_aliased_and_their_history_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let system = format!("{EXAMPLE}/rein.toml");
    let original = format!("{EXAMPLE}/model.onnx");
    let d = s(&data);
    let (ok, out, err) =
        rein(&["models", "register", &system, "phishing", &original, "--data-dir", d, "--alias", "champion"]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("as version {V1} of `phishing`")), "{out}");
    let v2 = variant(dir.path(), b'2');
    let (ok, out, err) = rein(&[
        "models",
        "register",
        &system,
        "phishing",
        s(&v2),
        "--data-dir",
        d,
        "--version",
        "v2",
        "--parent",
        V1,
        "--alias",
        "challenger",
        "--code-version",
        "9f8e7d6",
        "--data-digest",
        "sha256:abc",
        "--data-description",
        "December's URLs",
        "--param",
        "trees=50",
        "--metric",
        "auc=0.97",
        "--metric",
        "recall=0.9",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("as version v2") && out.contains("challenger -> v2"), "{out}");
    let (ok, out, _) = rein(&["models", "register", &system, "phishing", s(&v2), "--data-dir", d]);
    assert!(ok && out.contains("already version v2"), "the same bytes are the same version: {out}");

    let (ok, out, err) = rein(&["models", "list", &system, "--data-dir", d]);
    assert!(ok, "{err}");
    let line = |id: &str| {
        out.lines().find(|l| l.trim_start().starts_with(id)).unwrap_or_else(|| panic!("{id} in {out}")).to_string()
    };
    assert!(line(V1).contains("[champion]") && line(V1).contains("by tester"), "{out}");
    assert!(line("v2").contains("[challenger]") && line("v2").contains(&format!("parent {V1}")), "{out}");

    let (ok, out, err) = rein(&["models", "show", &system, "phishing", "v2", "--data-dir", d, "--json"]);
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["provenance"]["code_version"], "9f8e7d6");
    assert_eq!(shown["provenance"]["data_description"], "December's URLs");
    assert_eq!(shown["provenance"]["metrics"], json!({"auc": 0.97, "recall": 0.9}));
    assert_eq!(shown["provenance"]["params"], json!({"trees": "50"}));
    assert_eq!(shown["aliases"], json!(["challenger"]));
    let (ok, _, err) = rein(&["models", "show", &system, "phishing", "v3", "--data-dir", d]);
    assert!(!ok);
    assert!(err.contains(&format!("component `phishing` has no version `v3`; its versions: {V1}, v2")), "{err}");

    let before = now_ms();
    let (ok, out, err) =
        rein(&["models", "alias", &system, "phishing", "champion", "v2", "--data-dir", d, "--reason", "won the test"]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("champion -> v2 (was {V1})  by tester: won the test")), "{out}");
    let (ok, out, err) = rein(&["models", "history", &system, "phishing", "--data-dir", d]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 3, "three moves: {out}");
    let (ok, out, _) =
        rein(&["models", "history", &system, "phishing", "--data-dir", d, "--at", &(before - 1).to_string()]);
    assert!(ok && out.contains(&format!("champion was {V1}")) && out.contains("challenger was v2"), "{out}");
    let (ok, out, _) =
        rein(&["models", "history", &system, "phishing", "--data-dir", d, "--at", &(now_ms() + 1).to_string()]);
    assert!(ok && out.contains("champion was v2"), "{out}");
    let (ok, _, err) = rein(&["models", "alias", &system, "phishing", "Champion", "v2", "--data-dir", d]);
    assert!(!ok && err.contains("lower-case letters"), "{err}");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `rein serve` on the example with durable telemetry in `data`; returns once it is live.
async fn serve(data: &Path) -> (std::process::Child, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_rein"))
        .args(["serve", &format!("{EXAMPLE}/rein.toml"), "--addr", &format!("127.0.0.1:{port}")])
        .args(["--telemetry", "durable", "--data-dir", s(data)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(format!("http://127.0.0.1:{port}/v2/health/live")).send().await.is_err() {
        assert!(Instant::now() < deadline, "rein serve did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_with_the_champion_and_history_says_what_served_each_recorded_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let system = format!("{EXAMPLE}/rein.toml");
    let d = s(&data);
    let client = reqwest::Client::new();
    let features = json!({"url_length": 142, "num_dots": 6, "num_hyphens": 4, "has_ip_host": true, "uses_https": false,
                          "domain_age_days": 3, "num_subdomains": 4, "suspicious_words": 3, "tld_category": "new_gtld"});
    let predict = |port: u16| {
        let client = client.clone();
        let body = json!({"unit": "u-42", "features": features});
        async move {
            let r = client
                .post(format!("http://127.0.0.1:{port}/v1/components/phishing/predict"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };

    // first start: the system file's model is registered and serves
    let (mut child, port) = serve(&data).await;
    let first = predict(port).await;
    assert_eq!(first["model"]["version"], V1);
    child.kill().unwrap();
    child.wait().unwrap();

    // a person makes another version champion; the next start serves it
    let (ok, _, err) = rein(&[
        "models",
        "register",
        &system,
        "phishing",
        s(&variant(dir.path(), b'2')),
        "--data-dir",
        d,
        "--version",
        "v2",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = rein(&["models", "alias", &system, "phishing", "champion", "v2", "--data-dir", d]);
    assert!(ok, "{err}");
    let (mut child, port) = serve(&data).await;
    let second = predict(port).await;
    assert_eq!(second["model"]["version"], "v2", "the registry's champion serves, not the file's model");
    child.kill().unwrap();
    child.wait().unwrap();

    for (p, version) in [(&first, V1), (&second, "v2")] {
        let id = p["prediction_id"].as_str().unwrap();
        let (ok, out, err) = rein(&["models", "history", &system, "phishing", "--data-dir", d, "--prediction", id]);
        assert!(ok, "{err}");
        assert!(out.contains(&format!("was answered by version {version} (champion then)")), "{out}");
        let at = p["time_ms"].as_i64().unwrap().to_string();
        let (ok, out, err) =
            rein(&["models", "history", &system, "phishing", "--data-dir", d, "--unit", "u-42", "--at", &at, "--json"]);
        assert!(ok, "{err}");
        let answer: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(answer["served"]["prediction_id"], id, "{answer:#}");
        assert_eq!(answer["served"]["model_version"], version);
        assert_eq!(answer["at"]["aliases"]["champion"], version);
    }
    let (ok, _, err) = rein(&[
        "models",
        "history",
        &system,
        "phishing",
        "--data-dir",
        d,
        "--unit",
        "nobody",
        "--at",
        "2026-01-01T00:00:00Z",
    ]);
    assert!(
        !ok && err.contains("unit `nobody` has no prediction by `phishing` at or before 2026-01-01T00:00:00"),
        "{err}"
    );
}
