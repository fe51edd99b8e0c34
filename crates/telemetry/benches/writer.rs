//! Sustained events/s through the writer alone: prediction events with 10
//! features, recorded durably from 4 concurrent tasks, until loaded into the store.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rein_telemetry::*;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn event(i: u64) -> Event {
    PredictionEvent {
        id: new_prediction_id(),
        time_ms: now_ms(),
        system: "shop".into(),
        component: "fraud".into(),
        unit: Some(format!("user-{}", i % 1000)),
        model_name: "fraud".into(),
        model_version: "3".into(),
        variant: "main".into(),
        features: json!({"amount": i as f64 * 0.5, "country": "FR", "new_user": i.is_multiple_of(2), "items": 3,
            "age_days": 120, "hour": 13, "device": "ios", "velocity_1h": 2.5, "avg_basket": 41.2, "email_domain": "example.com"}).into(),
        raw_output: json!({"probabilities": [0.2, 0.8]}).into(),
        guardrails: json!([]).into(),
        output: json!({"label": "fraud", "score": 0.8}).into(),
        mode: "automate".into(),
        decision: json!({"mode": "automate", "reason": {"kind": "threshold", "score": 0.8, "threshold": 0.7}}).into(),
        fallback: None,
        latency_us: 420,
        experiment: None,
        shadow_of: None,
    }
    .into()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut g = c.benchmark_group("writer");
    let per_iter = 20_000u64;
    g.throughput(Throughput::Elements(per_iter));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for (name, sync) in [("durable_sync_full", Synchronous::Full), ("durable_sync_normal", Synchronous::Normal)] {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open_with(dir.path(), SqliteOptions { synchronous: sync, ..Default::default() }).unwrap(),
        );
        // Producers outrun the loader: a backlog this large never refuses them.
        let config = WriterConfig { max_backlog: u64::MAX, ..Default::default() };
        let writer = Writer::start_in(store, &dir.path().join("log"), config, clock::system()).unwrap();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let tasks: Vec<_> = (0..4)
                            .map(|t| {
                                let w = writer.clone();
                                tokio::spawn(async move {
                                    for i in 0..per_iter / 4 {
                                        w.record(event(t * per_iter + i), Durability::Durable).await.unwrap();
                                    }
                                })
                            })
                            .collect();
                        for t in tasks {
                            t.await.unwrap();
                        }
                        writer.flush().await.unwrap();
                    }
                    start.elapsed()
                })
            })
        });
        assert_eq!(writer.stats().refused, 0);
        rt.block_on(writer.shutdown());
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
