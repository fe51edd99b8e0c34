//! Each example's world, played briefly (small, seeded) against a real server on the
//! embedded store: every request recorded, feedback joined, guardrails firing where the
//! scenario forces them, and the same seed giving the same recorded outcomes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rein_simulator::{RunConfig, Summary};
use rein_telemetry::{ScanQuery, SqliteStore, Store};
use serde_json::Value;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
const SCALE: f64 = 0.03;

struct Played {
    summary: Summary,
    /// Every recorded prediction, without ids and server timings, in a canonical order.
    recorded: Vec<Value>,
    feedback: u64,
    outcomes: u64,
}

async fn play(example: &str, seed: u64) -> Played {
    let world = rein_simulator::world(example).unwrap();
    let file = Path::new(EXAMPLES).join(example).join("rein.toml");
    let system = rein_system::load(&file).unwrap_or_else(|d| panic!("{d}"));
    let models = rein_runtime::load_system(&system).unwrap_or_else(|d| panic!("{d}"));
    let dir = tempfile::tempdir().unwrap();
    // One keyed-hash secret for every run, so hashed features compare across runs.
    std::fs::write(dir.path().join("telemetry.key"), "worlds-test-key-".repeat(4)).unwrap();
    let telemetry = rein_server::Telemetry::open(&system, dir.path(), None).unwrap().expect("telemetry on");
    let app = Arc::new(rein_server::App::new(system, models, Some(telemetry)));
    let server = rein_server::Running::start(app, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let summary = Arc::new(Mutex::new(Summary::default()));
    let config = RunConfig {
        base_url: format!("http://{}", server.addr),
        seed,
        lanes: 8,
        start_ms: 1_767_225_600_000,
        scale: SCALE,
    };
    rein_simulator::run(world.clone(), config, summary.clone()).await.unwrap_or_else(|e| panic!("{example}: {e}"));
    server.stop().await.unwrap();

    let store = SqliteStore::open(dir.path()).unwrap();
    let counts = store.counts().unwrap();
    let mut recorded = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .scan(&ScanQuery { component: Some(world.component().into()), limit: 1000, cursor, ..Default::default() })
            .unwrap();
        for p in page.items {
            recorded.push(serde_json::json!({
                "time_ms": p.time_ms, "unit": p.unit, "features": p.features, "output": p.output,
                "mode": p.mode, "guardrails": p.guardrails,
            }));
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    // Ties in simulated time are ordered by id, which is random: order canonically.
    recorded.sort_by_key(|v| v.to_string());
    let summary = summary.lock().unwrap().clone();
    Played { summary, recorded, feedback: counts.feedback, outcomes: counts.outcomes }
}

fn rules_fired(recorded: &[Value]) -> BTreeMap<String, usize> {
    let mut fired = BTreeMap::new();
    for p in recorded {
        for g in p["guardrails"].as_array().into_iter().flatten() {
            *fired.entry(g["rule"].as_str().unwrap_or_default().to_string()).or_default() += 1;
        }
    }
    fired
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_passes_check_and_its_world_is_recorded_whole() {
    for example in rein_simulator::EXAMPLES {
        let played = play(example, 7).await;
        let s = &played.summary;
        let answered = s.requests - s.refused.values().sum::<u64>();
        assert!(answered > 100, "{example}: {s:?}");
        // every answered request is in the store, with its feedback and outcomes
        assert_eq!(played.recorded.len() as u64, answered, "{example}");
        assert_eq!(played.feedback, s.feedback, "{example}");
        assert_eq!(played.outcomes, s.outcomes.values().sum::<u64>(), "{example}");
        assert!(played.feedback > 0, "{example}: the world sends feedback");

        let fired = rules_fired(&played.recorded);
        match example {
            "phishing-warning" => {
                assert!(fired.get("never_warn_allow_listed").is_some_and(|n| *n > 0), "{fired:?}");
            }
            "smart-toaster" => {
                // the broken chamber sensor makes the shut-down rule fire
                assert!(fired.get("too_hot_shut_down").is_some_and(|n| *n > 0), "{fired:?}");
                for p in &played.recorded {
                    let v = p["output"]["value"].as_f64().unwrap();
                    assert!((0.0..=240.0).contains(&v), "an unsafe toasting time was served: {p}");
                }
            }
            "legal-triage" => {
                // the 80/20 rule: whatever the model is unsure about goes to a lawyer
                let mut unsure = 0;
                for p in &played.recorded {
                    let score = p["output"]["score"].as_f64().unwrap_or(1.0);
                    if score < 0.6 {
                        unsure += 1;
                        assert_eq!(p["mode"], "escalate", "{p}");
                    }
                }
                assert!(unsure > 0, "the scenario has messages the model is unsure about");
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_records_the_same_world() {
    let a = play("phishing-warning", 11).await;
    let b = play("phishing-warning", 11).await;
    assert_eq!(a.recorded.len(), b.recorded.len());
    assert!(a.recorded == b.recorded, "same seed, different recorded predictions");
    assert_eq!((a.feedback, a.outcomes), (b.feedback, b.outcomes));
    let c = play("phishing-warning", 12).await;
    assert!(a.recorded != c.recorded, "another seed plays another world");
}
