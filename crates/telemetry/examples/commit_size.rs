//! What one prediction event costs the SQLite store, by the number of events a commit
//! carries: the store alone, no writer thread, no server.
//!
//!   cargo run --release -p rein-telemetry --example commit_size
//!
//! Prints CPU time (user + system, this process, the checkpoint thread included) and wall
//! time per event for 40,000 events of the phishing example's shape.

use rein_telemetry::*;
use serde_json::json;
use std::time::Instant;

fn event(i: u64) -> Event {
    PredictionEvent {
        id: new_prediction_id(),
        time_ms: now_ms(),
        system: "phishing-warning".into(),
        component: "phishing".into(),
        unit: Some(format!("user-{}", i % 1000)),
        model_name: "phishing".into(),
        model_version: "3f2a9c1b".into(),
        variant: "main".into(),
        features: json!({"url_length": 142, "num_dots": 6, "num_hyphens": 4, "has_ip_host": true,
            "uses_https": false, "domain_age_days": i % 400, "num_subdomains": 4, "suspicious_words": 3,
            "tld_category": "new_gtld"})
        .into(),
        raw_output: json!({"label": "phishing", "probabilities": [0.04, 0.96]}).into(),
        guardrails: json!([]).into(),
        output: json!({"label": "phishing", "probabilities": [0.04, 0.96]}).into(),
        mode: "automate".into(),
        decision: json!({"mode": "automate", "reason": {"kind": "expected_value",
            "values": {"automate": 4.1, "prompt": 2.0, "annotate": 0.5, "none": -3.2}}})
        .into(),
        fallback: None,
        latency_us: 420,
        experiment: None,
        shadow_of: None,
    }
    .into()
}

/// CPU seconds this process has used, all threads.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0 // USER_HZ is 100 on Linux
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 40_000usize;
    println!("events a commit | CPU µs an event | wall µs an event");
    for per_commit in [1usize, 4, 16, 32, 128, 512] {
        let dir = tempfile::tempdir()?;
        let options = SqliteOptions { synchronous: Synchronous::Normal, ..Default::default() };
        let store = SqliteStore::open_with(dir.path(), options)?;
        let events: Vec<Event> = (0..n as u64).map(event).collect();
        let (started, cpu) = (Instant::now(), cpu_seconds());
        for commit in events.chunks(per_commit) {
            store.write_batch(commit, None)?;
        }
        let per_event = |seconds: f64| seconds / n as f64 * 1e6;
        println!(
            "{per_commit:15} | {:15.1} | {:16.1}",
            per_event(cpu_seconds() - cpu),
            per_event(started.elapsed().as_secs_f64())
        );
    }
    Ok(())
}
