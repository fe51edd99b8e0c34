//! `rein serve` with a traffic plan: the versions the plan names are loaded from the
//! registry (any alias, not only the champion and challenger), and a plan naming an alias
//! no one set stops the start, placed in the system file.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/phishing-warning");
const V1: &str = "sha256:d019131ec354";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The example's system file in `dir`, its model by absolute path, with `plan`.
fn system_with(dir: &Path, plan: &str) -> PathBuf {
    let text = std::fs::read_to_string(Path::new(EXAMPLE).join("rein.toml")).unwrap();
    let text = text.replace("path = \"model.onnx\"", &format!("path = \"{EXAMPLE}/model.onnx\"")).replacen(
        "[[components.features]]",
        &format!("[components.traffic]\n{plan}\n\n[[components.features]]"),
        1,
    );
    let path = dir.join("rein.toml");
    std::fs::write(&path, text).unwrap();
    path
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

const PLAN: &str = r#"experiment = "warn-v2"
split = [{ variant = "control", alias = "champion", weight = 50 },
         { variant = "treatment", alias = "candidate", weight = 50 }]"#;

fn serve(system: &Path, data: &Path, port: u16) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_rein"))
        .args(["serve", s(system), "--addr", &format!("127.0.0.1:{port}"), "--telemetry", "off"])
        .args(["--data-dir", s(data)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_loads_the_versions_a_plan_names_and_refuses_an_alias_no_one_set() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let system = system_with(dir.path(), PLAN);
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

    // no `candidate` yet: the start is refused, at the plan's line, naming the alias
    let out = serve(&system, &data, port).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let line = std::fs::read_to_string(&system).unwrap().lines().position(|l| l == "[components.traffic]").unwrap() + 1;
    assert!(err.contains(&format!("rein.toml:{line}:")), "{err}");
    assert!(err.contains("alias `candidate`") && err.contains("split[1]"), "{err}");

    // registered as `candidate`, it is loaded and answers the treatment's units
    let registered = Command::new(env!("CARGO_BIN_EXE_rein"))
        .args(["models", "register", s(&system), "phishing", s(&variant(dir.path(), b'2'))])
        .args(["--data-dir", s(&data), "--version", "v2", "--alias", "candidate"])
        .output()
        .unwrap();
    assert!(registered.status.success(), "{}", String::from_utf8_lossy(&registered.stderr));
    let mut child = serve(&system, &data, port);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(format!("http://127.0.0.1:{port}/v2/health/live")).send().await.is_err() {
        assert!(Instant::now() < deadline, "rein serve did not come up");
        assert!(child.try_wait().unwrap().is_none(), "rein serve exited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let features = json!({"url_length": 142, "num_dots": 6, "num_hyphens": 4, "has_ip_host": true, "uses_https": false,
                          "domain_age_days": 3, "num_subdomains": 4, "suspicious_words": 3, "tld_category": "new_gtld"});
    let mut by_variant = std::collections::BTreeMap::new();
    for u in 0..30 {
        let r = client
            .post(format!("http://127.0.0.1:{port}/v1/components/phishing/predict"))
            .json(&json!({"unit": format!("user-{u}"), "features": features}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let a: Value = r.json().await.unwrap();
        let version = a["model"]["version"].as_str().unwrap().to_string();
        by_variant.insert(a["variant"].as_str().unwrap().to_string(), version);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(by_variant.get("control").map(String::as_str), Some(V1), "{by_variant:?}");
    assert_eq!(by_variant.get("treatment").map(String::as_str), Some("v2"), "{by_variant:?}");
}
