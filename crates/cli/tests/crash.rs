//! Durable telemetry survives `kill -9`: every prediction id a client received is in the
//! store after the crash. The real `rein serve` binary, a real load, a real SIGKILL.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rein_telemetry::{SqliteStore, Store};
use serde_json::json;

const SYSTEM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/phishing-warning/rein.toml");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_prediction_a_client_received_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = serve(dir.path()).await;
    let url = format!("http://127.0.0.1:{port}/v1/components/phishing/predict");
    let client = reqwest::Client::new();

    // Load from 8 clients; kill -9 in the middle of it.
    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..8)
        .map(|c| {
            let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
            tokio::spawn(async move {
                let mut received = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let body = json!({"unit": format!("c{c}-{i}"), "features": {
                        "url_length": 100 + i % 50, "num_dots": 3, "num_hyphens": 1, "has_ip_host": false, "uses_https": true,
                        "domain_age_days": i % 4000, "num_subdomains": 1, "suspicious_words": 0, "tld_category": "com"}});
                    let Ok(r) = client.post(&url).json(&body).send().await else { break };
                    if r.status() != 200 {
                        continue;
                    }
                    let Ok(v) = r.json::<serde_json::Value>().await else { break };
                    received.push(v["prediction_id"].as_str().unwrap().to_string());
                }
                received
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut received = Vec::new();
    for l in loaders {
        received.extend(l.await.unwrap());
    }
    assert!(received.len() > 100, "the load was real: {} predictions received", received.len());

    // After a restart (which replays the journal of answered events), every one is stored.
    let (mut restarted, _) = serve(dir.path()).await;
    let store = SqliteStore::open(dir.path()).expect("the store opens after the crash");
    let missing: Vec<&String> = received.iter().filter(|id| !store.prediction_exists(id).unwrap()).collect();
    restarted.kill().unwrap();
    restarted.wait().unwrap();
    assert!(
        missing.is_empty(),
        "{} of {} received predictions are not in the store: {:?}",
        missing.len(),
        received.len(),
        &missing[..missing.len().min(5)]
    );
}

/// Starts `rein serve` on the example with durable telemetry in `data_dir`; returns once it is live.
async fn serve(data_dir: &std::path::Path) -> (std::process::Child, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_rein"))
        .args(["serve", SYSTEM, "--addr", &format!("127.0.0.1:{port}"), "--telemetry", "durable", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rein starts");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("http://127.0.0.1:{port}/v2/health/live")).send().await.is_err() {
        assert!(Instant::now() < deadline, "rein did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, port)
}

/// Two servers must not share a data directory: the second is refused at start, naming the
/// directory and the process that holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_data_directory_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, _) = serve(dir.path()).await;
    let second = Command::new(env!("CARGO_BIN_EXE_rein"))
        .args(["serve", SYSTEM, "--addr", "127.0.0.1:0", "--telemetry", "durable", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("rein runs");
    first.kill().unwrap();
    first.wait().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(stderr.contains(&dir.path().display().to_string()), "{stderr}");
    assert!(stderr.contains(&format!("process {}", first.id())), "{stderr}");
}
