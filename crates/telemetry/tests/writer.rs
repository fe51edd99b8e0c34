mod common;

use common::*;
use rein_telemetry::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn config() -> WriterConfig {
    WriterConfig::default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_record_is_committed_when_it_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Writer::start(open(dir.path()), config()).unwrap();
    for i in 0..20 {
        let p = prediction("fraud", i);
        writer.record(p.clone().into(), Durability::Durable).await.unwrap();
        // A brand-new connection sees it at once.
        let other = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(other.prediction(&p.id).unwrap().unwrap().prediction, p);
    }
    let stats = writer.stats();
    assert_eq!((stats.queued, stats.written, stats.dropped), (20, 20, 0));
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_shares_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let writer =
        Writer::start(store.clone(), WriterConfig { max_delay: Duration::from_millis(2), ..config() }).unwrap();
    let n = 2_000;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let w = writer.clone();
            tokio::spawn(async move { w.record(prediction("c", i).into(), Durability::Durable).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let stats = writer.stats();
    assert_eq!(stats.written, n as u64);
    assert!(stats.batches < n as u64 / 10, "{} transactions for {n} records", stats.batches);
    assert_eq!(store.counts().unwrap().predictions, n as u64);
    assert_eq!(stats.dropped, 0);
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn natural_group_commit_without_linger() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let writer = Writer::start(store.clone(), config()).unwrap();
    let tasks: Vec<_> = (0..1_000)
        .map(|i| {
            let w = writer.clone();
            tokio::spawn(async move { w.record(prediction("c", i).into(), Durability::Durable).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let stats = writer.stats();
    assert_eq!(stats.written, 1_000);
    assert!(stats.batches < 1_000, "{} transactions", stats.batches);
    assert_eq!(stats.dropped, 0);
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_events_are_flushed_by_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let writer = Writer::start(store.clone(), config()).unwrap();
    for i in 0..5_000 {
        writer.record(prediction("c", i).into(), Durability::Buffered).await.unwrap();
    }
    let other = writer.clone();
    writer.shutdown().await;
    assert_eq!(store.counts().unwrap().predictions, 5_000);
    assert!(matches!(other.record(prediction("c", 0).into(), Durability::Buffered).await, Err(RecordError::Closed)));
    assert_eq!(other.stats().dropped, 0);
    assert_eq!(other.stats().queue_depth, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_without_spill_fails_after_the_bounded_wait() {
    let dir = tempfile::tempdir().unwrap();
    let gated = GatedStore::stalled(dir.path());
    let timeout = Duration::from_millis(30);
    let capacity = 4;
    let writer =
        Writer::start(gated.clone(), WriterConfig { capacity, max_batch: 2, enqueue_timeout: timeout, ..config() })
            .unwrap();
    let mut accepted = 0u64;
    let mut overloaded = 0;
    for i in 0..20 {
        let start = Instant::now();
        match writer.record(prediction("c", i).into(), Durability::Buffered).await {
            Ok(()) => accepted += 1,
            Err(e @ RecordError::Overloaded { .. }) => {
                overloaded += 1;
                assert!(start.elapsed() >= timeout, "waited {:?}", start.elapsed());
                assert!(e.to_string().contains("overloaded"), "{e}");
            }
            Err(e) => panic!("{e}"),
        }
        // Queue plus the batch the writer holds (counted until it starts writing).
        assert!(writer.stats().queue_depth <= capacity as u64 + 2, "memory stays bounded: {:?} at {i}", writer.stats());
    }
    // The writer holds at most one batch (2) and the queue at most 4.
    assert!(accepted <= 2 + capacity as u64 + 1, "accepted {accepted}");
    assert_eq!(overloaded, 20 - accepted);
    gated.open_gate();
    writer.flush().await.unwrap();
    assert_eq!(gated.counts().unwrap().predictions, accepted);
    let stats = writer.stats();
    assert_eq!((stats.written, stats.dropped, stats.spilled), (accepted, 0, 0));
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_spills_and_everything_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("spill").join("telemetry.jsonl");
    let gated = GatedStore::stalled(dir.path());
    let cfg = WriterConfig {
        capacity: 8,
        max_batch: 4,
        enqueue_timeout: Duration::from_millis(5),
        spill: Some(spill.clone()),
        ..config()
    };
    let writer = Writer::start(gated.clone(), cfg.clone()).unwrap();
    let n = 100u64;
    let mut ids = Vec::new();
    for i in 0..n as i64 {
        let p = prediction("c", i);
        ids.push(p.id.clone());
        let d = if i % 2 == 0 { Durability::Buffered } else { Durability::Durable };
        // Once the writer is stuck and the queue full, nothing drains it:
        // a durable record then resolves once fsynced to the spill file.
        if d == Durability::Durable && gated.entered.load(Ordering::SeqCst) > 0 && writer.stats().queue_depth == 8 {
            writer.record(p.into(), d).await.unwrap();
        } else {
            writer.record(p.into(), Durability::Buffered).await.unwrap();
        }
    }
    let s1 = writer.stats();
    assert!(s1.spilled >= n - 4 - 8 - 1, "{s1:?}");
    let lines = std::fs::read_to_string(&spill).unwrap().lines().count() as u64;
    assert_eq!(lines, s1.spilled);
    gated.open_gate();
    let handle = writer.clone();
    writer.shutdown().await;
    let s1 = handle.stats();
    let s1 = {
        let w = Writer::start(gated.clone(), WriterConfig { spill: Some(spill.clone()), ..config() }).unwrap();
        let s2 = w.stats();
        w.shutdown().await;
        (s1, s2)
    };
    let (first, restart) = s1;
    // Everything is in the store, whether replayed while idle or on restart.
    assert_eq!(gated.counts().unwrap().predictions, n);
    for id in &ids {
        assert!(gated.prediction_exists(id).unwrap());
    }
    assert_eq!(first.written + first.spilled, n);
    assert_eq!(first.replayed + restart.replayed, first.spilled);
    assert_eq!(std::fs::metadata(&spill).unwrap().len(), 0, "spill file truncated after replay");
    assert_eq!(first.dropped + restart.dropped, 0);
}

/// A writer on a stalled store, with room for two events in its queue, one in a batch,
/// waiting `enqueue_timeout` for room before it spills.
fn stalled_with_a_tiny_queue(enqueue_timeout: Duration) -> (tempfile::TempDir, Arc<GatedStore>, Writer) {
    let dir = tempfile::tempdir().unwrap();
    let gated = GatedStore::stalled(dir.path());
    let cfg = WriterConfig {
        capacity: 2,
        max_batch: 1,
        enqueue_timeout,
        spill: Some(dir.path().join("spill.jsonl")),
        ..config()
    };
    let writer = Writer::start(gated.clone(), cfg).unwrap();
    (dir, gated, writer)
}

/// An event answered from the spill file (the queue was full) counts in the writer's
/// backlog, so a lookup knows to flush, and is in the store once a flush returns, not
/// only when the queue goes idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_replays_the_spill_file_before_it_returns() {
    let (_dir, gated, writer) = stalled_with_a_tiny_queue(Duration::from_millis(5));
    let stuck = {
        let w = writer.clone();
        tokio::spawn(async move { w.record(prediction("c", 0).into(), Durability::Durable).await })
    };
    while gated.entered.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for i in 1..=2 {
        writer.record(prediction("c", i).into(), Durability::Buffered).await.unwrap();
    }
    let spilled = prediction("c", 3);
    writer.record(spilled.clone().into(), Durability::Durable).await.unwrap();
    assert_eq!(writer.stats().spilled, 1);
    // answered, not in the store: a reader that must see it knows to flush first
    assert!(writer.backlog() >= 1, "the spilled event counts in the backlog");
    gated.open_gate();
    stuck.await.unwrap().unwrap();
    writer.flush().await.unwrap();
    assert!(gated.prediction_exists(&spilled.id).unwrap(), "the flush returned before the spilled event was stored");
    assert_eq!(writer.backlog(), 0, "everything answered is in the store");
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spill_file_is_replayed_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("telemetry.spill");
    let events: Vec<Event> = (0..1_234).map(|i| prediction("c", i).into()).collect();
    let mut text = String::new();
    for e in &events {
        text.push_str(&serde_json::to_string(e).unwrap());
        text.push('\n');
    }
    std::fs::write(&spill, text).unwrap();
    let store = open(dir.path());
    let writer = Writer::start(store.clone(), WriterConfig { spill: Some(spill.clone()), ..config() }).unwrap();
    let stats = writer.stats();
    assert_eq!((stats.replayed, stats.dropped), (1_234, 0));
    assert_eq!(store.counts().unwrap().predictions, 1_234);
    assert_eq!(std::fs::metadata(&spill).unwrap().len(), 0);
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_store_write_errors_durable_waiters_and_spills() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("telemetry.spill");
    let gated = GatedStore::new(SqliteStore::open(dir.path()).unwrap());
    let writer = Writer::start(gated.clone(), WriterConfig { spill: Some(spill.clone()), ..config() }).unwrap();
    gated.fail.store(true, Ordering::SeqCst);
    let p = prediction("c", 1);
    let err = writer.record(p.clone().into(), Durability::Durable).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RecordError::Store { spilled: Some(_), .. }), "{msg}");
    assert!(msg.contains("rein.db") && msg.contains("injected") && msg.contains("spill"), "{msg}");
    writer.record(prediction("c", 2).into(), Durability::Buffered).await.unwrap();
    writer.flush().await.unwrap();
    assert_eq!(writer.stats().spilled, 2);
    assert_eq!(std::fs::read_to_string(&spill).unwrap().lines().count(), 2);
    gated.fail.store(false, Ordering::SeqCst);
    let first = writer.stats();
    writer.shutdown().await;
    let w = Writer::start(gated.clone(), WriterConfig { spill: Some(spill.clone()), ..config() }).unwrap();
    assert_eq!(first.replayed + w.stats().replayed, 2);
    assert!(gated.prediction_exists(&p.id).unwrap());
    assert_eq!(first.dropped + w.stats().dropped, 0);
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_writer_replays_what_it_spilled_once_the_store_works_and_the_failure_ends() {
    let dir = tempfile::tempdir().unwrap();
    let gated = GatedStore::new(SqliteStore::open(dir.path()).unwrap());
    let writer =
        Writer::start(gated.clone(), WriterConfig { spill: Some(dir.path().join("telemetry.spill")), ..config() })
            .unwrap();
    gated.fail.store(true, Ordering::SeqCst);
    let p = prediction("c", 1);
    let err = writer.record(p.clone().into(), Durability::Durable).await.unwrap_err();
    assert!(matches!(err, RecordError::Store { spilled: Some(_), .. }), "{err}");
    assert!(writer.store_failure().is_some());
    // the store works again, and nothing more is recorded: a replica that was unready
    // for its failing store gets no traffic, so the writer must find out by itself
    gated.fail.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.store_failure().is_some() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(writer.store_failure().is_none(), "the failure ends with the replay");
    assert!(gated.prediction_exists(&p.id).unwrap());
    let stats = writer.stats();
    assert_eq!((stats.spilled, stats.replayed, stats.dropped), (1, 1, 0), "{stats:?}");
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_store_write_without_spill_is_retried_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let gated = GatedStore::new(SqliteStore::open(dir.path()).unwrap());
    let writer = Writer::start(gated.clone(), config()).unwrap();
    gated.fail.store(true, Ordering::SeqCst);
    let p = prediction("c", 1);
    let err = writer.record(p.clone().into(), Durability::Durable).await.unwrap_err();
    assert!(matches!(err, RecordError::Store { spilled: None, .. }), "{err}");
    assert!(err.to_string().contains("retried"), "{err}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let failure = writer.store_failure().expect("the failing store is named while it fails");
    assert!(failure.error.contains("injected"), "{failure}");
    assert!(failure.to_string().starts_with("its writes have failed for 0 s, the latest with: "), "{failure}");
    gated.fail.store(false, Ordering::SeqCst);
    writer.flush().await.unwrap();
    assert!(gated.prediction_exists(&p.id).unwrap());
    assert!(writer.store_failure().is_none(), "a write that works clears the failure");
    let stats = writer.stats();
    assert!(stats.failed_batches >= 1);
    assert_eq!((stats.written, stats.dropped), (1, 0));
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_and_outcomes_flow_through_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<SqliteStore> = open(dir.path());
    let writer = Writer::start(store.clone(), config()).unwrap();
    let p = prediction("c", 1);
    writer.record(p.clone().into(), Durability::Durable).await.unwrap();
    let f = feedback(&p.id, FeedbackKind::Correct, None, Some("key"));
    writer.record(f.clone().into(), Durability::Durable).await.unwrap();
    let again = writer.record(f.clone().into(), Durability::Durable).await;
    assert!(matches!(&again, Err(RecordError::KeyConflict { key }) if key == "key"), "{again:?}");
    let o = OutcomeEvent {
        id: new_event_id(),
        time_ms: 3,
        unit: None,
        prediction_id: Some(p.id.clone()),
        name: "clicked".into(),
        value: None,
    };
    writer.record(o.clone().into(), Durability::Durable).await.unwrap();
    let rec = store.prediction(&p.id).unwrap().unwrap();
    assert_eq!((rec.feedback, rec.outcomes), (vec![f], vec![o]));
    let stats = writer.stats();
    assert_eq!((stats.written, stats.duplicates, stats.dropped), (4, 1, 0));
    writer.shutdown().await;
}

/// Many posts with one idempotency key at once, even buffered: exactly one is written and
/// answered Ok; every other is told its key was taken, none is acknowledged and then dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_feedback_with_one_key_is_written_once_and_the_others_are_told() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let writer =
        Writer::start(store.clone(), WriterConfig { max_delay: Duration::from_millis(2), ..config() }).unwrap();
    let p = prediction("c", 1);
    writer.record(p.clone().into(), Durability::Durable).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (w, id) = (writer.clone(), p.id.clone());
            tokio::spawn(async move {
                let mut f = feedback(&id, FeedbackKind::Correct, None, Some("once"));
                f.comment = Some(format!("post {i}"));
                w.record(f.into(), Durability::Buffered).await
            })
        })
        .collect();
    let mut written = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => written += 1,
            Err(RecordError::KeyConflict { key }) => assert_eq!(key, "once"),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(written, 1);
    assert_eq!(store.counts().unwrap().feedback, 1);
    writer.shutdown().await;
}

/// A keyed feedback is never spilled on a full queue: replayed later, it could meet a
/// taken key after a success was answered. It is refused instead; others still spill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_feedback_is_refused_not_spilled_when_the_queue_is_full() {
    let (_dir, gated, writer) = stalled_with_a_tiny_queue(Duration::from_millis(20));
    let p = prediction("c", 1);
    // one batch stuck in the stalled store, then a full queue
    writer.record(p.clone().into(), Durability::Buffered).await.unwrap();
    while gated.entered.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for i in 0..3 {
        writer.record(prediction("c", i).into(), Durability::Buffered).await.unwrap();
    }
    let keyed = feedback(&p.id, FeedbackKind::Correct, None, Some("k"));
    let refused = writer.record(keyed.into(), Durability::Durable).await;
    assert!(matches!(refused, Err(RecordError::Overloaded { .. })), "{refused:?}");
    let plain = feedback(&p.id, FeedbackKind::Correct, None, None);
    writer.record(plain.into(), Durability::Durable).await.unwrap();
    assert!(writer.stats().spilled >= 1, "{:?}", writer.stats());
    gated.open_gate();
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_events_share_commits_and_a_durable_one_does_not_wait_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // A linger far longer than the test: only an awaited job may end it early.
    let writer =
        Writer::start(store.clone(), WriterConfig { buffered_delay: Duration::from_secs(30), ..config() }).unwrap();
    for i in 0..100 {
        writer.record(prediction("c", i).into(), Durability::Buffered).await.unwrap();
    }
    let started = Instant::now();
    writer.record(prediction("c", 100).into(), Durability::Durable).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "the durable record waited for the buffered linger");
    let stats = writer.stats();
    assert_eq!(stats.written, 101, "the durable commit took the lingering buffered events with it");
    assert!(stats.batches <= 3, "{} commits for 101 events", stats.batches);

    // A flush ends the linger too.
    for i in 101..150 {
        writer.record(prediction("c", i).into(), Durability::Buffered).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), writer.flush()).await.expect("flush waited for the linger").unwrap();
    assert_eq!(store.counts().unwrap().predictions, 150);
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_of_buffered_events_ends_the_linger() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let config = WriterConfig { buffered_delay: Duration::from_secs(30), max_batch: 64, ..config() };
    let writer = Writer::start(store.clone(), config).unwrap();
    for i in 0..64 {
        writer.record(prediction("c", i).into(), Durability::Buffered).await.unwrap();
    }
    let started = Instant::now();
    while store.counts().unwrap().predictions < 64 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a full batch waited for the linger: {:?}",
            writer.stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    writer.shutdown().await;
}

/// A durable waiter that gives up (its request answered 503, or dropped by the client)
/// before its event is committed: the event is not written, since its decision never
/// reached anyone; the events around it are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_event_whose_waiter_gave_up_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let gated = GatedStore::stalled(dir.path());
    let writer = Writer::start(gated.clone(), config()).unwrap();

    let record_durably = |p: &PredictionEvent| {
        let (w, event) = (writer.clone(), p.clone());
        tokio::spawn(async move { w.record(event.into(), Durability::Durable).await })
    };

    // the first event is taken by the writer and stalls in the store
    let stuck = prediction("c", 1);
    let stuck_task = record_durably(&stuck);
    while gated.entered.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // the second waits in the queue, and its request gives up
    let given_up = prediction("c", 2);
    let waited =
        tokio::time::timeout(Duration::from_millis(50), writer.record(given_up.clone().into(), Durability::Durable))
            .await;
    assert!(waited.is_err(), "the store is stalled: the commit cannot have happened");
    // the third waits too, and keeps waiting
    let kept = prediction("c", 3);
    let kept_task = record_durably(&kept);
    tokio::time::sleep(Duration::from_millis(20)).await;

    gated.open_gate();
    stuck_task.await.unwrap().unwrap();
    kept_task.await.unwrap().unwrap();
    let stats = writer.stats();
    assert_eq!((stats.written, stats.abandoned, stats.dropped, stats.queue_depth), (2, 1, 0, 0), "{stats:?}");
    assert!(gated.inner.prediction_exists(&stuck.id).unwrap());
    assert!(gated.inner.prediction_exists(&kept.id).unwrap());
    assert!(!gated.inner.prediction_exists(&given_up.id).unwrap(), "an event answered as not recorded was written");
    writer.shutdown().await;
}

fn journaled(dir: &std::path::Path) -> WriterConfig {
    WriterConfig { journal: Some(dir.join("journal.jsonl")), ..config() }
}

/// With a journal, a durable event is answered once it is in the journal, before the store
/// has it; a writer started on that journal later (after a crash) puts it in the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journaled_events_are_answered_before_the_store_commit_and_replayed_after_a_crash() {
    let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let stalled = GatedStore::stalled(dir.path());
    // no load is due during the test: every record meets a writer free to journal it
    let config = WriterConfig { load_delay: Duration::from_secs(60), ..journaled(dir.path()) };
    let writer = Writer::start(stalled.clone(), config).unwrap();
    let events: Vec<PredictionEvent> = (0..50).map(|i| prediction("c", i)).collect();
    for p in &events {
        let answered =
            tokio::time::timeout(Duration::from_secs(10), writer.record(p.clone().into(), Durability::Durable));
        answered.await.expect("a durable event waited for the stalled store").unwrap();
    }
    assert_eq!(stalled.inner.counts().unwrap().predictions, 0, "the store has not committed anything yet");

    // The "crash": the stalled writer never finishes. The journal is all that is left of it.
    let copy = other.path().join("journal.jsonl");
    std::fs::copy(dir.path().join("journal.jsonl"), &copy).unwrap();
    let store = open(other.path());
    let restarted = Writer::start(store.clone(), journaled(other.path())).unwrap();
    assert_eq!(restarted.stats().replayed, 50);
    for p in &events {
        assert!(store.prediction_exists(&p.id).unwrap(), "{} was answered but is not in the store", p.id);
    }
    assert_eq!(rein_telemetry::journal::unloaded_events(&copy), 0, "the journal is emptied once replayed");
    restarted.shutdown().await;
    stalled.open_gate();
    writer.shutdown().await;
}

/// A durable event is appended to the journal by the request itself: it is answered even
/// while the writer thread is stuck (here committing a buffered batch into a stalled store),
/// and it is found, loaded and stored like any journaled event once the store is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_event_is_journaled_without_the_writer_thread() {
    let dir = tempfile::tempdir().unwrap();
    let stalled = GatedStore::stalled(dir.path());
    let config = WriterConfig { load_delay: Duration::from_secs(60), ..journaled(dir.path()) };
    let writer = Writer::start(stalled.clone(), config).unwrap();
    writer.record(prediction("c", 1).into(), Durability::Buffered).await.unwrap();
    for _ in 0..200 {
        if stalled.entered.load(Ordering::Relaxed) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(stalled.entered.load(Ordering::Relaxed) > 0, "the writer thread is committing into the stalled store");

    let durable = prediction("c", 2);
    let answered =
        tokio::time::timeout(Duration::from_secs(2), writer.record(durable.clone().into(), Durability::Durable)).await;
    assert!(matches!(answered, Ok(Ok(()))), "answered from the journal: {answered:?}");
    assert_eq!(journal::unloaded_events(&dir.path().join("journal.jsonl")), 1);
    assert_eq!(writer.unloaded(), 1);

    stalled.open_gate();
    assert_eq!(writer.find_unloaded(&durable.id).map(|p| p.id), Some(durable.id.clone()));
    writer.flush().await.unwrap();
    assert!(stalled.inner.prediction_exists(&durable.id).unwrap());
    assert_eq!(writer.unloaded(), 0);
    writer.shutdown().await;
}

/// A crash after a load but before the journal was emptied replays events the store has:
/// each is still stored once, feedback and outcomes included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_journal_stores_each_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let p = prediction("c", 1);
    let f = feedback(&p.id, FeedbackKind::Correct, None, None);
    let o = OutcomeEvent {
        id: new_event_id(),
        time_ms: 3,
        unit: None,
        prediction_id: Some(p.id.clone()),
        name: "left".into(),
        value: None,
    };
    let events: Vec<Event> = vec![p.clone().into(), f.into(), o.into()];
    store.write_batch(&events).unwrap();
    let lines: String = events.iter().map(|e| serde_json::to_string(e).unwrap() + "\n").collect();
    std::fs::write(dir.path().join("journal.jsonl"), lines).unwrap();

    let writer = Writer::start(store.clone(), journaled(dir.path())).unwrap();
    assert_eq!(store.counts().unwrap(), Counts { predictions: 1, feedback: 1, outcomes: 1 });
    writer.shutdown().await;
}

/// Journaled events reach the store by themselves within the load delay; a flush loads
/// them at once, so a reader that flushes sees every answered event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journaled_events_are_loaded_after_the_load_delay_or_on_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let config = WriterConfig { load_delay: Duration::from_millis(20), ..journaled(dir.path()) };
    let writer = Writer::start(store.clone(), config).unwrap();
    writer.record(prediction("c", 1).into(), Durability::Durable).await.unwrap();
    let started = Instant::now();
    while store.counts().unwrap().predictions < 1 {
        assert!(started.elapsed() < Duration::from_secs(10), "not loaded: {:?}", writer.stats());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    writer.shutdown().await;

    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let config = WriterConfig { load_delay: Duration::from_secs(60), ..journaled(dir.path()) };
    let writer = Writer::start(store.clone(), config).unwrap();
    for i in 0..10 {
        writer.record(prediction("c", i).into(), Durability::Durable).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), writer.flush())
        .await
        .expect("flush waited for the load delay")
        .unwrap();
    assert_eq!(store.counts().unwrap().predictions, 10);
    assert_eq!(rein_telemetry::journal::unloaded_events(&dir.path().join("journal.jsonl")), 0);
    let stats = writer.stats();
    assert_eq!((stats.written, stats.dropped), (10, 0));
    writer.shutdown().await;
}

/// Loaded journal segments are used again: however many loads, the journal is its
/// current file and at most two spares, each of the same fixed size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_journal_segments_are_reused_not_piled_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let writer = Writer::start(store.clone(), journaled(dir.path())).unwrap();
    for round in 0..6 {
        for i in 0..25 {
            writer.record(prediction("c", round * 100 + i).into(), Durability::Durable).await.unwrap();
        }
        writer.flush().await.unwrap();
        assert_eq!(store.counts().unwrap().predictions, (round as u64 + 1) * 25);
    }
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("journal.jsonl"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len()))
        .collect();
    files.sort();
    assert!(files.len() <= 3, "current file and at most two spares: {files:?}");
    assert_eq!(files[0].0, "journal.jsonl");
    assert!(files.iter().skip(1).all(|(name, _)| name.starts_with("journal.jsonl.free-")), "{files:?}");
    assert!(files.iter().all(|(_, len)| *len == files[0].1), "segments keep their size: {files:?}");
    assert_eq!(rein_telemetry::journal::unloaded_events(&dir.path().join("journal.jsonl")), 0);
    let stats = writer.stats();
    assert_eq!((stats.written, stats.dropped), (150, 0));
    writer.shutdown().await;
}

/// Events far larger than usual (a 64 KiB comment each) fill journal segments long before a
/// batch is complete: each segment is loaded once past half full, every event is answered
/// from the journal and stored, and the journal stays its few files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_events_pass_through_the_journal_segment_by_segment() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let writer = Writer::start(store.clone(), journaled(dir.path())).unwrap();
    let comment = "x".repeat(64 << 10);
    for _ in 0..200 {
        let mut f = feedback("p-1", FeedbackKind::Correct, None, None);
        f.comment = Some(comment.clone());
        writer.record(f.into(), Durability::Durable).await.unwrap();
    }
    writer.flush().await.unwrap();
    assert_eq!(store.counts().unwrap().feedback, 200);
    let stats = writer.stats();
    assert_eq!((stats.written, stats.dropped), (200, 0), "{stats:?}");
    let files = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("journal.jsonl"))
        .count();
    assert!(files <= 6, "{files} journal files");
    writer.shutdown().await;
}

/// A keyed feedback skips the journal: only the store's commit can tell whether its key was taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_feedback_is_committed_to_the_store_even_with_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let config = WriterConfig { load_delay: Duration::from_secs(60), ..journaled(dir.path()) };
    let writer = Writer::start(store.clone(), config).unwrap();
    let p = prediction("c", 1);
    writer.record(p.clone().into(), Durability::Durable).await.unwrap();
    let first = feedback(&p.id, FeedbackKind::Correct, None, Some("k"));
    writer.record(first.into(), Durability::Durable).await.unwrap();
    assert_eq!(store.counts().unwrap().feedback, 1, "committed before it was answered");
    let second = feedback(&p.id, FeedbackKind::Incorrect, None, Some("k"));
    let refused = writer.record(second.into(), Durability::Durable).await;
    assert!(matches!(refused, Err(RecordError::KeyConflict { .. })), "{refused:?}");
    writer.shutdown().await;
    assert_eq!(store.counts().unwrap(), Counts { predictions: 1, feedback: 1, outcomes: 0 });
}

/// A stalled store holds up the journal's loader, not the answers; the loads waiting for
/// it are bounded, and past them the queue fills and events spill. Nothing is lost: a
/// restart replays the journal and the spill file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_loader_backs_up_into_the_queue_and_the_spill_file() {
    let dir = tempfile::tempdir().unwrap();
    let stalled = GatedStore::stalled(dir.path());
    let config = WriterConfig {
        max_batch: 8,
        capacity: 16,
        enqueue_timeout: Duration::from_millis(20),
        spill: Some(dir.path().join("spill.jsonl")),
        ..journaled(dir.path())
    };
    let writer = Writer::start(stalled.clone(), config.clone()).unwrap();
    let events: Vec<PredictionEvent> = (0..300).map(|i| prediction("c", i)).collect();
    // each waits as the server does (its `commit_timeout_ms`): events left in the queue
    // behind the blocked writer are not answered
    let tasks: Vec<_> = events
        .iter()
        .map(|p| {
            let (w, e) = (writer.clone(), p.clone());
            tokio::spawn(async move {
                let answered =
                    tokio::time::timeout(Duration::from_millis(500), w.record(e.clone().into(), Durability::Durable));
                matches!(answered.await, Ok(Ok(()))).then_some(e.id)
            })
        })
        .collect();
    let mut answered = Vec::new();
    for t in tasks {
        answered.extend(tokio::time::timeout(Duration::from_secs(20), t).await.expect("no hang").unwrap());
    }
    assert!(answered.len() >= 250, "only those stuck in the queue go unanswered: {}", answered.len());
    let stats = writer.stats();
    assert!(stats.spilled > 0, "the loads waiting for the store are bounded: {stats:?}");
    assert_eq!(stalled.inner.counts().unwrap().predictions, 0);
    assert_eq!(stats.dropped, 0);
    let in_journal = journal::unloaded_events(&dir.path().join("journal.jsonl"));
    assert_eq!(in_journal, answered.len() as u64 - stats.spilled, "every answered event not spilled is in the journal");
    assert_eq!(writer.unloaded(), in_journal, "the backlog /metrics exports");

    // "crash" with the store still stalled: restart on the same files, into a working store
    let restarted = Writer::start(open(dir.path()), config).unwrap();
    let store = open(dir.path());
    for id in &answered {
        assert!(store.prediction_exists(id).unwrap(), "{id} was answered but is not in the store");
    }
    assert_eq!(restarted.stats().dropped, 0);
    restarted.shutdown().await;
    // the old writer's store comes back: it loads what it held (already replayed), and the
    // events nobody waits for any more are not written
    stalled.open_gate();
    writer.shutdown().await;
    assert_eq!(store.counts().unwrap().predictions, answered.len() as u64, "every answered event stored once");
}

/// A prediction just answered from the journal is found there, without waiting for a load:
/// feedback about it needs to know it exists, not to have it in the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journaled_prediction_is_found_before_it_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let stalled = GatedStore::stalled(dir.path());
    let config = WriterConfig { load_delay: Duration::from_secs(60), ..journaled(dir.path()) };
    let writer = Writer::start(stalled.clone(), config).unwrap();
    let p = prediction("c", 1);
    writer.record(p.clone().into(), Durability::Durable).await.unwrap();
    assert_eq!(writer.find_unloaded(&p.id), Some(p.clone()));
    assert_eq!(writer.find_unloaded("no-such-id"), None);
    assert_eq!(stalled.entered.load(Ordering::SeqCst), 0, "nothing was loaded to find it");

    stalled.open_gate();
    writer.flush().await.unwrap();
    assert_eq!(writer.find_unloaded(&p.id), None, "once loaded, it is in the store");
    assert!(stalled.prediction_exists(&p.id).unwrap());
    writer.shutdown().await;
}
