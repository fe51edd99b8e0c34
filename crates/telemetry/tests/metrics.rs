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
    let writer = Writer::start(gated.clone(), WriterConfig::default()).unwrap();
    gated.fail.store(true, Ordering::SeqCst);
    let err = writer.record(prediction("c", 1).into(), Durability::Durable).await.unwrap_err();
    assert!(matches!(err, RecordError::Store { .. }), "{err}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let failing = snapshotter.snapshot().into_vec();
    let failures = counter(&failing, "rein_telemetry_store_failures_total", None);
    assert!(failures >= 2, "the failed write and its retries: {failures}");
    assert_eq!(counter(&failing, "rein_telemetry_events_total", Some("written")), 0);

    gated.fail.store(false, Ordering::SeqCst);
    writer.flush().await.unwrap();
    let recovered = snapshotter.snapshot().into_vec();
    assert_eq!(counter(&recovered, "rein_telemetry_events_total", Some("written")), 1);
    assert_eq!(counter(&recovered, "rein_telemetry_events_total", Some("dropped")), 0);
    writer.shutdown().await;
}
