//! The writer's metrics, in a test binary of its own: the metrics recorder is global to the
//! process, and other tests would add to the counts.

mod common;

use common::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use rein_telemetry::*;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_is_counted_for_alerts_and_its_events_are_written_once_it_recovers() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();
    // the counts of one snapshot (a snapshot takes the counts since the last)
    let counter = |snapshot: &[(
        metrics_util::CompositeKey,
        Option<metrics::Unit>,
        Option<metrics::SharedString>,
        DebugValue,
    )],
                   name: &str,
                   state: Option<&str>|
     -> u64 {
        snapshot
            .iter()
            .filter(|(key, ..)| {
                let key = key.key();
                key.name() == name && state.is_none_or(|s| key.labels().any(|l| l.key() == "state" && l.value() == s))
            })
            .map(|(.., value)| match value {
                DebugValue::Counter(n) => *n,
                other => panic!("{name} is a counter, not {other:?}"),
            })
            .sum()
    };

    let dir = tempfile::tempdir().unwrap();
    let gated = GatedStore::new(SqliteStore::open(dir.path()).unwrap());
    let clock = ManualClock::new(0);
    let writer =
        Writer::start_in(gated.clone(), &dir.path().join("log"), WriterConfig::default(), clock.clone()).unwrap();
    gated.fail.store(true, Ordering::SeqCst);
    writer.record(prediction("c", 1).into(), Durability::Durable).await.expect("answered from the log");
    for _ in 0..3 {
        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(60), async {
            while writer.store_failure().is_none() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
    }
    let failing = snapshotter.snapshot().into_vec();
    let failures = counter(&failing, "rein_telemetry_store_failures_total", None);
    assert!(failures >= 1, "the failed write is counted: {failures}");
    assert_eq!(counter(&failing, "rein_telemetry_events_total", Some("written")), 0);
    assert_eq!(counter(&failing, "rein_telemetry_events_total", Some("appended")), 1);

    gated.fail.store(false, Ordering::SeqCst);
    writer.flush().await.unwrap();
    let recovered = snapshotter.snapshot().into_vec();
    assert_eq!(counter(&recovered, "rein_telemetry_events_total", Some("written")), 1);
    writer.shutdown().await;
}
