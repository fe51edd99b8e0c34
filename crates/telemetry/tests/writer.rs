//! The writer as a product relies on it: answered events are in the log, reach the store on
//! the loader's schedule or at a flush, survive a crash exactly once, and a stalled or
//! failing store or a full disk is bounded and named. Time is a manual clock: tests advance
//! it; the only waits are for events, never for wall-clock time.

mod common;

use common::*;
use rein_telemetry::*;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Long enough for any event a test waits for on a loaded machine; a hang fails instead.
const PATIENCE: Duration = Duration::from_secs(60);

fn manual() -> Arc<ManualClock> {
    ManualClock::new(1_700_000_000_000)
}

fn start(store: Arc<dyn Store>, dir: &Path, config: WriterConfig, clock: &Arc<ManualClock>) -> Writer {
    Writer::start_in(store, &dir.join("log"), config, clock.clone()).unwrap()
}

async fn patiently<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f).await.unwrap_or_else(|_| panic!("{what} did not happen"))
}

/// Segment files in every stream of the log.
fn log_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("log")).unwrap().map(|s| std::fs::read_dir(s.unwrap().path()).unwrap().count()).sum()
}

/// Streams of the log: one a core.
fn streams() -> usize {
    std::thread::available_parallelism().unwrap().get().min(16)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_event_is_in_the_store_after_a_flush_and_read_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let clock = manual();
    let writer = start(open(dir.path()), dir.path(), WriterConfig::default(), &clock);
    let mut sent = Vec::new();
    for i in 0..20 {
        let p = prediction("fraud", i);
        writer.record(p.clone().into(), Durability::Durable).await.unwrap();
        sent.push(p);
    }
    assert_eq!(writer.backlog(), 20, "answered from the log, not yet in the store");
    patiently("flush", writer.flush()).await.unwrap();
    let other = SqliteStore::open(dir.path()).unwrap();
    for p in &sent {
        assert_eq!(other.prediction(&p.id).unwrap().unwrap().prediction, *p, "a new connection sees it");
    }
    let stats = writer.stats();
    assert_eq!((stats.appended, stats.written, stats.backlog, stats.refused), (20, 20, 0, 0), "{stats:?}");
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loader_stores_events_within_load_delay_in_shared_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let clock = manual();
    let config = WriterConfig { load_delay: Duration::from_millis(50), ..Default::default() };
    let writer = start(store.clone(), dir.path(), config, &clock);
    for i in 0..100 {
        writer.record(prediction("c", i).into(), Durability::Durable).await.unwrap();
    }
    assert_eq!(store.counts().unwrap().predictions, 0, "not before the load delay has passed");
    clock.advance(Duration::from_millis(50));
    patiently("the timed load", writer.loaded()).await.unwrap();
    assert_eq!(store.counts().unwrap().predictions, 100);
    assert!(writer.stats().batches <= 2, "100 events share transactions: {:?}", writer.stats());
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_is_loaded_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let clock = manual();
    let writer = start(store.clone(), dir.path(), WriterConfig { max_batch: 8, ..Default::default() }, &clock);
    for i in 0..8 {
        writer.record(prediction("c", i).into(), Durability::Buffered).await.unwrap();
    }
    patiently("the load of a full batch, with the clock stopped", writer.loaded()).await.unwrap();
    assert_eq!(store.counts().unwrap().predictions, 8);
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_fsync_every_concurrent_durable_event_is_answered_once_synced() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let clock = manual();
    let writer = start(store.clone(), dir.path(), WriterConfig { fsync: true, ..Default::default() }, &clock);
    let tasks: Vec<_> = (0..500)
        .map(|i| {
            let w = writer.clone();
            tokio::spawn(async move { w.record(prediction("c", i).into(), Durability::Durable).await })
        })
        .collect();
    for t in tasks {
        patiently("a synced answer", t).await.unwrap().unwrap();
    }
    patiently("flush", writer.flush()).await.unwrap();
    assert_eq!(store.counts().unwrap().predictions, 500);
    writer.shutdown().await;
}

/// Only the store can tell whether a key was new: a keyed feedback is answered once it is
/// there, and concurrent posts with one key leave one row, which each poster can look up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_feedback_is_in_the_store_when_answered_and_one_key_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let clock = manual();
    let writer = start(store.clone(), dir.path(), WriterConfig::default(), &clock);
    let p = prediction("c", 1);
    writer.record(p.clone().into(), Durability::Buffered).await.unwrap();
    let posts: Vec<FeedbackEvent> =
        (0..16).map(|_| feedback(&p.id, FeedbackKind::Correct, None, Some("retried"))).collect();
    let tasks: Vec<_> = posts
        .iter()
        .map(|f| {
            let (w, f) = (writer.clone(), f.clone());
            tokio::spawn(async move { w.record(f.into(), Durability::Buffered).await })
        })
        .collect();
    for t in tasks {
        patiently("a keyed answer, with the clock stopped", t).await.unwrap().unwrap();
        // answered: already in the store
    }
    let stored = store.feedback_by_key("retried").unwrap().expect("stored when answered");
    assert_eq!(posts.iter().filter(|f| f.id == stored.id).count(), 1, "exactly one post's row");
    assert_eq!(store.counts().unwrap().feedback, 1);
    writer.shutdown().await;
}

/// A crash: the writer's loader is stuck in a stalled store, the process "dies" with events
/// answered and only in the log. A start on the same data loads each of them, once, even
/// when the old loader's write lands too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_a_start_stores_every_answered_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let stalled = GatedStore::stalled(dir.path());
    let clock = manual();
    let crashed = start(stalled.clone(), dir.path(), WriterConfig { max_batch: 4, ..Default::default() }, &clock);
    let mut answered = Vec::new();
    for i in 0..10 {
        let p = prediction("c", i);
        crashed.record(p.clone().into(), Durability::Durable).await.unwrap();
        answered.push(p.id);
    }
    let f = feedback(&answered[0], FeedbackKind::Correct, None, None);
    crashed.record(f.into(), Durability::Durable).await.unwrap();
    patiently("the loader entering the stalled store", async {
        while stalled.entered.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    std::mem::forget(crashed); // never shut down, never dropped: as after kill -9

    let store = open(dir.path());
    let restarted = start(store.clone(), dir.path(), WriterConfig::default(), &clock);
    assert_eq!(restarted.stats().replayed, 11, "{:?}", restarted.stats());
    for id in &answered {
        assert!(store.prediction_exists(id).unwrap(), "{id} was lost");
    }
    stalled.open_gate(); // the old loader's batch lands as well
    patiently("the old loader's write", async {
        while stalled.left.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    restarted.flush().await.unwrap();
    let counts = store.counts().unwrap();
    assert_eq!((counts.predictions, counts.feedback), (10, 1), "each event once");
    restarted.shutdown().await;
}

/// The store keeps the log position it loaded up to in the same transaction as the events:
/// a start reads on from exactly there, not from the start of the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_resumes_exactly_where_the_store_got_to() {
    let dir = tempfile::tempdir().unwrap();
    let clock = manual();
    let store = GatedStore::new(SqliteStore::open(dir.path()).unwrap());
    let writer = start(store.clone(), dir.path(), WriterConfig::default(), &clock);
    for i in 0..10 {
        writer.record(prediction("c", i).into(), Durability::Durable).await.unwrap();
    }
    writer.flush().await.unwrap();
    store.close_gate();
    for i in 10..15 {
        writer.record(prediction("c", i).into(), Durability::Durable).await.unwrap();
    }
    std::mem::forget(writer);

    let fresh = open(dir.path());
    let restarted = start(fresh.clone(), dir.path(), WriterConfig::default(), &clock);
    assert_eq!(restarted.stats().replayed, 5, "only what the store did not hold: {:?}", restarted.stats());
    assert_eq!(fresh.counts().unwrap().predictions, 15);
    restarted.shutdown().await;
    store.open_gate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_segments_are_deleted_and_large_events_pass_segment_by_segment() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let clock = manual();
    let config = WriterConfig { segment_bytes: 256 * 1024, ..Default::default() };
    let writer = start(store.clone(), dir.path(), config, &clock);
    let p = prediction("c", 1);
    writer.record(p.clone().into(), Durability::Durable).await.unwrap();
    for _ in 0..40 {
        let mut f = feedback(&p.id, FeedbackKind::Correct, None, None);
        f.comment = Some("x".repeat(64 * 1024)); // four to a segment
        writer.record(f.into(), Durability::Durable).await.unwrap();
    }
    assert!(log_files(dir.path()) >= 10, "the log was rotated by size: {}", log_files(dir.path()));
    writer.flush().await.unwrap();
    assert_eq!(store.counts().unwrap().feedback, 40);
    assert_eq!(log_files(dir.path()), streams(), "only the segments being appended to are left");
    writer.shutdown().await;
}

/// A stalled store holds up the loader, not the answers, until the backlog reaches its
/// bound: then events are refused with an error saying so, and the stall shows in the
/// write's age. Once the store is back, every answered event is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_bounds_the_backlog_and_is_caught_up_once_back() {
    let dir = tempfile::tempdir().unwrap();
    let stalled = GatedStore::stalled(dir.path());
    let clock = manual();
    let config = WriterConfig { max_backlog: 5, max_batch: 2, ..Default::default() };
    let writer = start(stalled.clone(), dir.path(), config, &clock);
    let mut answered = Vec::new();
    for i in 0..5 {
        let p = prediction("c", i);
        writer.record(p.clone().into(), Durability::Durable).await.unwrap();
        answered.push(p.id);
    }
    let refused = writer.record(prediction("c", 9).into(), Durability::Durable).await.unwrap_err();
    assert!(matches!(refused, RecordError::Overloaded { backlog: 5, .. }), "{refused}");
    assert!(refused.to_string().contains("max_backlog"), "{refused}");
    assert_eq!(writer.stats().refused, 1);
    patiently("the loader entering the stalled store", async {
        while writer.store_write_age().is_none() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    clock.advance(Duration::from_secs(3));
    assert!(writer.store_write_age().unwrap() >= Duration::from_secs(3));

    stalled.open_gate();
    patiently("flush", writer.flush()).await.unwrap();
    assert!(writer.store_write_age().is_none());
    for id in &answered {
        assert!(stalled.prediction_exists(id).unwrap(), "{id} was lost");
    }
    writer.record(prediction("c", 10).into(), Durability::Durable).await.expect("room again");
    writer.shutdown().await;
}

/// A failing store (a full disk under the database) is named while it lasts, retried on the
/// clock, and its events are all stored once it works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_is_named_and_retried_and_nothing_answered_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let gated = GatedStore::new(SqliteStore::open(dir.path()).unwrap());
    gated.fail.store(true, Ordering::SeqCst);
    let clock = manual();
    let writer = start(gated.clone(), dir.path(), WriterConfig::default(), &clock);
    let p = prediction("c", 1);
    writer.record(p.clone().into(), Durability::Durable).await.expect("answered from the log");
    clock.advance(Duration::from_millis(50));
    patiently("the failure to be named", async {
        while writer.store_failure().is_none() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(writer.store_failure().unwrap().error.contains("injected I/O failure"));
    for _ in 0..5 {
        clock.advance(Duration::from_secs(1)); // retried, and failing again
    }
    gated.fail.store(false, Ordering::SeqCst);
    clock.advance(Duration::from_secs(1));
    patiently("the retried load", writer.loaded()).await.unwrap();
    assert!(writer.store_failure().is_none(), "the failure ends with a write that works");
    assert!(gated.prediction_exists(&p.id).unwrap());
    assert!(writer.stats().failed_batches >= 1);
    writer.shutdown().await;
}

/// A full disk under the log (a segment on /dev/full, which fails every write with ENOSPC
/// as a full disk does): the event is refused, naming the device's error and the segment;
/// the writer heals by itself, with no traffic, once it can write a new segment.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_the_log_is_refused_named_and_heals_without_traffic() {
    let dir = tempfile::tempdir().unwrap();
    for stream in 0..streams() {
        let log = dir.path().join("log").join(stream.to_string());
        std::fs::create_dir_all(&log).unwrap();
        std::os::unix::fs::symlink("/dev/full", log.join(format!("{:020}.jsonl", 0))).unwrap();
    }
    let store = open(dir.path());
    let clock = manual();
    let writer = start(store.clone(), dir.path(), WriterConfig::default(), &clock);
    let refused = writer.record(prediction("c", 1).into(), Durability::Durable).await.unwrap_err();
    let message = refused.to_string();
    assert!(message.contains("No space left on device") && message.contains("00000000000000000000.jsonl"), "{message}");
    assert!(writer.log_failure().is_some());
    assert_eq!(writer.stats().refused, 1);

    clock.advance(Duration::from_secs(1)); // the loader's probe moves to a new segment
    patiently("the log to heal", async {
        while writer.log_failure().is_some() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let p = prediction("c", 2);
    writer.record(p.clone().into(), Durability::Durable).await.unwrap();
    writer.flush().await.unwrap();
    assert!(store.prediction_exists(&p.id).unwrap());
    assert_eq!(store.counts().unwrap().predictions, 1, "the refused event was not kept");
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_passes_run_on_the_loader_by_its_clock() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let clock = manual();
    let day = 86_400_000;
    let now = clock.unix_ms();
    store.write_batch(&[prediction("c", now - 3 * day).into(), prediction("c", now).into()], None).unwrap();
    let retention = Retention { predictions_days: Some(2), ..Default::default() };
    let config =
        WriterConfig { retention: Some(retention), retention_every: Duration::from_secs(60), ..Default::default() };
    let writer = start(store.clone(), dir.path(), config, &clock);
    patiently("the first pass, at start", async {
        while store.counts().unwrap().predictions != 1 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    // a day later: the next pass (a minute after the first) keeps the day-old prediction
    clock.advance(Duration::from_secs(86_400));
    writer.record(prediction("c", clock.unix_ms()).into(), Durability::Durable).await.unwrap();
    writer.flush().await.unwrap();
    assert_eq!(store.counts().unwrap().predictions, 2);
    // a day and a half later the first is two and a half days old, the second a day and a half
    clock.advance(Duration::from_secs(86_400 * 3 / 2));
    patiently("the pass that drops the older one", async {
        while store.counts().unwrap().predictions != 1 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    writer.shutdown().await;
}

/// Shutdown loads what the log holds; a stalled store cannot hold it forever (the caller
/// bounds it), and what it could not load stays in the log for the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_stores_everything_or_leaves_it_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let clock = manual();
    let writer = start(store.clone(), dir.path(), WriterConfig::default(), &clock);
    for i in 0..30 {
        writer.record(prediction("c", i).into(), Durability::Buffered).await.unwrap();
    }
    patiently("shutdown", writer.shutdown()).await;
    assert_eq!(store.counts().unwrap().predictions, 30);

    let stalled = GatedStore::stalled(dir.path());
    let writer = start(stalled.clone(), dir.path(), WriterConfig::default(), &clock);
    writer.record(prediction("c", 99).into(), Durability::Buffered).await.unwrap();
    let gave_up = tokio::time::timeout(Duration::from_millis(200), writer.clone().shutdown()).await;
    assert!(gave_up.is_err(), "a stalled store holds the shutdown until its caller gives up");
    assert!(matches!(writer.record(prediction("c", 100).into(), Durability::Buffered).await, Err(RecordError::Closed)));
    drop(writer);
    let restarted = start(open(dir.path()), dir.path(), WriterConfig::default(), &clock);
    assert_eq!(restarted.stats().replayed, 1, "left in the log and loaded at the next start");
    restarted.shutdown().await;
    stalled.open_gate();
}
