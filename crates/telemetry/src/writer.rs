//! The asynchronous batching writer: one dedicated OS thread owns the write
//! side of the store; async callers hand it events through a bounded queue.
//!
//! * Group commit: the thread takes everything queued (up to `max_batch`),
//!   optionally lingers up to `max_delay` for more (a batch of buffered events
//!   only, which nobody waits for, lingers up to `buffered_delay`), writes one transaction
//!   and then answers every durable waiter of that batch. Events that arrive
//!   while a commit runs form the next batch, so under load batches grow and
//!   commits (and their fsyncs) are shared.
//! * Backpressure: when the queue is full, `record` waits up to
//!   `enqueue_timeout`; then it appends the event to the spill file if one
//!   is configured, or fails with [`RecordError::Overloaded`] (HTTP 503).
//!   Memory is bounded by `capacity` events.
//! * Journal (when configured, see `journal.rs`): a durable event is appended to
//!   an append-only file and answered by the request itself, with no trip through
//!   this thread, while the journal has room and no fsync is asked; otherwise a
//!   batch with durable events is appended here in one write (one fsync) and its
//!   waiters answered. A loader thread writes the events into the store
//!   in one larger transaction (within `load_delay`, or at `max_batch` events).
//!   A commit's fixed cost is shared by hundreds of events instead of the handful
//!   that arrive while one commit runs, and no answer waits for a store commit.
//!   A flush, a shutdown and a keyed feedback wait for the journaled events to
//!   be loaded first. A stalled store stalls the loader: at most two loads wait
//!   for it, then the writer waits, the queue fills and backpressure applies.
//! * Spill file: append-only JSON lines, replayed into the store on start and
//!   whenever the queue is idle, then truncated.
//! * Idempotency keys: a feedback with a key is always recorded durably and
//!   never spilled on a full queue, because only its commit can tell whether
//!   the key was new; a taken key answers [`RecordError::KeyConflict`] rather
//!   than a success for an event that was not written.
//! * A durable event whose waiter gave up before its commit (the request was
//!   answered 503 after `commit_timeout_ms`, or dropped by its client) is not
//!   written: its decision never reached anyone. It counts as `abandoned`.
//! * Nothing is dropped silently: a failing store write answers durable
//!   waiters with an error, spills the batch (or keeps it in memory and
//!   retries with back-off, which fills the queue and turns into 503s). An
//!   event counts as `dropped` only when a shutdown gives up retrying a
//!   failing store with no usable spill file, or a corrupt spill line is
//!   found on replay; both are logged at error level.
//!
//! Loss window of [`Durability::Buffered`]: an event answered as buffered is
//! in memory until its batch commits: within `buffered_delay` (5 ms by
//! default) plus the writer's lag. A process crash loses at most the queued events
//! (`capacity`) plus the batch being written (`max_batch`); a graceful
//! [`Writer::shutdown`] (or dropping every handle) writes them all.

use crate::background::{Outage, Say};
use crate::event_log::EventLog;
use crate::events::{Event, PredictionEvent};
use crate::journal::Journal;
use crate::store::{Store, WriteReport};
use crate::{RecordError, StoreError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::{SendTimeoutError, TrySendError};
use tokio::sync::{mpsc, oneshot};

/// When a request may be answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Answer only after the event is committed (to the store, or fsynced to
    /// the spill file when the queue is full).
    #[default]
    Durable,
    /// Answer once queued; the event is written shortly after.
    Buffered,
}

/// Configuration of the [`Writer`].
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Bounded queue length, in events.
    pub capacity: usize,
    /// Most events per transaction.
    pub max_batch: usize,
    /// How long the writer lingers for more events once a batch has started
    /// and is not full. Zero: no lingering, batches form from whatever queued
    /// while the previous commit ran (lowest latency).
    pub max_delay: Duration,
    /// How long a batch that nobody waits for (buffered events only) lingers for
    /// more before it commits. Nobody's answer waits for it, and each commit has a
    /// fixed cost (every page it touches is written again), so buffered events share
    /// commits. A durable event, flush, shutdown or a full batch's worth of queued
    /// events ends the lingering at once.
    pub buffered_delay: Duration,
    /// Bounded wait for room in a full queue before spilling or failing.
    pub enqueue_timeout: Duration,
    /// Append-only overflow file, replayed on start.
    pub spill: Option<PathBuf>,
    /// The journal: a batch with durable events is appended to it in one write and
    /// answered; its events then reach the store in larger transactions, within
    /// `load_delay` or as soon as `max_batch` wait. Replayed on start, emptied after
    /// each load. `None`: a durable batch is answered after its own store commit.
    pub journal: Option<PathBuf>,
    /// fsync the journal after each append, so an answered event survives power loss
    /// (as SQLite's `synchronous = FULL`); otherwise it survives a crash of the process.
    pub journal_sync: bool,
    /// Longest time journaled events wait before they are loaded into the store.
    pub load_delay: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            capacity: 8192,
            max_batch: 512,
            max_delay: Duration::ZERO,
            buffered_delay: Duration::from_millis(5),
            enqueue_timeout: Duration::from_millis(100),
            spill: None,
            journal: None,
            journal_sync: false,
            load_delay: Duration::from_millis(50),
        }
    }
}

/// Counters of the writer (also exported as `rein_telemetry_events_total{state}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Events accepted into the queue.
    pub queued: u64,
    /// Events from the queue now in the store (including duplicates).
    pub written: u64,
    /// Events appended to the spill file (queue full, or store write failed).
    pub spilled: u64,
    /// Events replayed from the spill file into the store.
    pub replayed: u64,
    /// Events lost (logged at error level). Should always be 0.
    pub dropped: u64,
    /// Durable events not written because their waiter gave up before the commit.
    pub abandoned: u64,
    /// Events that were already stored (idempotent feedback key, replayed prediction).
    pub duplicates: u64,
    /// Committed transactions.
    pub batches: u64,
    /// Failed store writes.
    pub failed_batches: u64,
    /// Events in the queue now.
    pub queue_depth: u64,
}

#[derive(Default)]
struct Counters {
    queued: AtomicU64,
    written: AtomicU64,
    spilled: AtomicU64,
    replayed: AtomicU64,
    dropped: AtomicU64,
    abandoned: AtomicU64,
    duplicates: AtomicU64,
    batches: AtomicU64,
    failed_batches: AtomicU64,
    depth: AtomicI64,
}

struct Metrics {
    queued: metrics::Counter,
    written: metrics::Counter,
    spilled: metrics::Counter,
    replayed: metrics::Counter,
    dropped: metrics::Counter,
    abandoned: metrics::Counter,
    commits: metrics::Counter,
    store_failures: metrics::Counter,
    depth: metrics::Gauge,
    journaled: metrics::Gauge,
}

impl Metrics {
    fn new() -> Self {
        metrics::describe_counter!(
            "rein_telemetry_events_total",
            "Telemetry events by state: queued, written, spilled, replayed, dropped, abandoned"
        );
        metrics::describe_gauge!("rein_telemetry_queue_depth", "Telemetry events waiting in the write queue");
        metrics::describe_gauge!(
            "rein_telemetry_journal_events",
            "Answered durable events in the journal, not yet loaded into the store"
        );
        metrics::describe_counter!(
            "rein_telemetry_commits_total",
            "Store transactions the writer committed; written events per commit is what a commit costs per event"
        );
        metrics::describe_counter!(
            "rein_telemetry_store_failures_total",
            "Store writes that failed (a full disk, say); their events are retried or spilled, never dropped unsaid"
        );
        let c = |state: &'static str| metrics::counter!("rein_telemetry_events_total", "state" => state);
        Metrics {
            queued: c("queued"),
            written: c("written"),
            spilled: c("spilled"),
            replayed: c("replayed"),
            dropped: c("dropped"),
            abandoned: c("abandoned"),
            depth: metrics::gauge!("rein_telemetry_queue_depth"),
            journaled: metrics::gauge!("rein_telemetry_journal_events"),
            commits: metrics::counter!("rein_telemetry_commits_total"),
            store_failures: metrics::counter!("rein_telemetry_store_failures_total"),
        }
    }
}

struct Shared {
    counters: Counters,
    metrics: Metrics,
    spill: Option<EventLog>,
    closing: AtomicBool,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Rung when a job that somebody waits for is queued, or a full batch's worth:
    /// either ends the linger of a batch of buffered events. The lingering writer does
    /// not watch the queue itself, so a buffered event wakes no thread.
    urgent: tokio::sync::Notify,
    /// Rung when events are spilled (by a request, the writer or the journal's loader), so
    /// that an idle writer schedules their replay.
    spilled: tokio::sync::Notify,
    /// Events answered from the journal and not yet loaded into the store.
    unloaded: AtomicU64,
    journal: Option<Journal>,
    /// Until when (µs since `started`) requests leave the journal to the writer thread,
    /// after an append of their own was slow: a stalled disk must not hold the runtime.
    appends_paused_until: AtomicU64,
    started: Instant,
    /// The store's writes are failing: since when, and the latest error. Cleared by a
    /// write that succeeds. Lets a request that gives up waiting name the cause.
    failing: Mutex<Option<StoreFailure>>,
    /// Store writes under way (the writer's and the journal loader's) and since when the
    /// oldest has been: a stalled disk shows as a write that does not end.
    writing: Mutex<(u32, Option<Instant>)>,
}

/// The store's writes have failed since `since`; `error` is the latest failure.
#[derive(Debug, Clone)]
pub struct StoreFailure {
    pub since: Instant,
    pub error: String,
}

impl std::fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "its writes have failed for {} s, the latest with: {}", self.since.elapsed().as_secs(), self.error)
    }
}

impl Shared {
    fn write_begins(&self) {
        let mut writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        writing.0 += 1;
        writing.1.get_or_insert_with(Instant::now);
    }

    /// Overlapping writes keep the first one's start until none is left: the age errs long,
    /// by at most one write.
    fn write_ends(&self) {
        let mut writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        writing.0 = writing.0.saturating_sub(1);
        if writing.0 == 0 {
            writing.1 = None;
        }
    }

    /// A write into the store worked: its failure, if any, is over.
    fn store_works(&self) {
        *self.failing.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn add(&self, state: State, n: u64) {
        if n == 0 {
            return;
        }
        let (a, m) = match state {
            State::Queued => (&self.counters.queued, &self.metrics.queued),
            State::Written => (&self.counters.written, &self.metrics.written),
            State::Spilled => {
                self.spilled.notify_one();
                (&self.counters.spilled, &self.metrics.spilled)
            }
            State::Replayed => (&self.counters.replayed, &self.metrics.replayed),
            State::Dropped => (&self.counters.dropped, &self.metrics.dropped),
            State::Abandoned => (&self.counters.abandoned, &self.metrics.abandoned),
        };
        a.fetch_add(n, Ordering::Relaxed);
        m.increment(n);
    }

    /// `n` events more (or fewer) answered from the journal and not yet in the store.
    fn unloaded_add(&self, n: i64) {
        let now = if n >= 0 {
            self.unloaded.fetch_add(n as u64, Ordering::Relaxed).wrapping_add(n as u64)
        } else {
            self.unloaded.fetch_sub(n.unsigned_abs(), Ordering::Relaxed).wrapping_sub(n.unsigned_abs())
        };
        self.metrics.journaled.set(now as f64);
    }

    fn depth_add(&self, n: i64) {
        let d = self.counters.depth.fetch_add(n, Ordering::Relaxed) + n;
        self.metrics.depth.set(d.max(0) as f64);
    }
}

#[derive(Clone, Copy)]
enum State {
    Queued,
    Written,
    Spilled,
    Replayed,
    Dropped,
    Abandoned,
}

type Ack = oneshot::Sender<Result<(), RecordError>>;
/// A durable waiter and the position of its event in the batch.
type Waiter = (usize, Ack);

#[allow(clippy::large_enum_variant)]
enum Job {
    Event(Event, Option<Ack>),
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
    /// A request appended to the journal itself: its load is due within `load_delay`,
    /// or now if the journal holds a full batch.
    Journaled,
}

impl Job {
    /// Whether somebody waits for this job's commit.
    fn awaited(&self) -> bool {
        !matches!(self, Job::Event(_, None) | Job::Journaled)
    }
}

/// Async handle to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
    capacity: usize,
    max_batch: usize,
    enqueue_timeout: Duration,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("capacity", &self.capacity).field("stats", &self.stats()).finish()
    }
}

impl Writer {
    /// Opens the spill file (if any), replays it into the store (blocking:
    /// call at start-up, before serving), and starts the writer thread.
    /// Install the metrics recorder before calling this.
    pub fn start(store: Arc<dyn Store>, config: WriterConfig) -> Result<Writer, StoreError> {
        let capacity = config.capacity.max(1);
        let max_batch = config.max_batch.max(1);
        let spill = config.spill.as_deref().map(EventLog::open).transpose()?;
        // The journal first: its events were answered before any spilled one was.
        let (journal, journal_replayed) = match &config.journal {
            None => (None, None),
            Some(path) => {
                let (journal, r, c) =
                    Journal::open(path, config.journal_sync, config.load_delay, store.as_ref(), max_batch)?;
                (Some(journal), Some((path, (r, c))))
            }
        };
        let shared = Arc::new(Shared {
            counters: Counters::default(),
            metrics: Metrics::new(),
            spill,
            closing: AtomicBool::new(false),
            thread: Mutex::new(None),
            urgent: tokio::sync::Notify::new(),
            spilled: tokio::sync::Notify::new(),
            unloaded: AtomicU64::new(0),
            journal,
            appends_paused_until: AtomicU64::new(0),
            started: Instant::now(),
            failing: Mutex::new(None),
            writing: Mutex::new((0, None)),
        });
        let replayed = |file: &Path, (replayed, corrupt): (u64, u64)| {
            shared.add(State::Replayed, replayed);
            shared.add(State::Dropped, corrupt);
            if replayed > 0 {
                tracing::info!(file = %file.display(), replayed, "telemetry: replayed events into the store");
            }
        };
        let committer = Committer { store, shared: shared.clone() };
        if let Some((path, counts)) = journal_replayed {
            replayed(path, counts);
        }
        if let Some(journal) = &shared.journal {
            journal.start_loader(committer.clone())?;
        }
        if let Some(spill) = &shared.spill {
            replayed(&spill.path, spill.replay(committer.store.as_ref(), max_batch)?);
        }
        let (tx, rx) = mpsc::channel(capacity);
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().map_err(|source| {
            StoreError::Io { path: PathBuf::from(committer.store.describe()), op: "start writer runtime", source }
        })?;
        let mut worker = Worker {
            rx,
            committer,
            shared: shared.clone(),
            max_batch,
            max_delay: config.max_delay,
            buffered_delay: config.buffered_delay,
            spill_replay_due: None,
            spill_replay_failing: Outage::default(),
            rt,
        };
        let handle = std::thread::Builder::new()
            .name("rein-telemetry-writer".into())
            .spawn(move || worker.run())
            .map_err(|source| StoreError::Io { path: PathBuf::new(), op: "spawn writer thread", source })?;
        *shared.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(Writer { tx, shared, capacity, max_batch, enqueue_timeout: config.enqueue_timeout })
    }

    /// Rings the lingering writer for a job just queued, when somebody awaits it
    /// or a full batch is now queued.
    fn ring_for(&self, awaited: bool) {
        // depth counts the events the lingering writer already holds, too
        if awaited || self.shared.counters.depth.load(Ordering::Relaxed) >= self.max_batch as i64 {
            self.shared.urgent.notify_one();
        }
    }

    /// Queues an awaited `job`, waiting for room, and rings the writer.
    async fn send(&self, job: Job) -> Result<(), RecordError> {
        self.tx.send(job).await.map_err(|_| RecordError::Closed)?;
        self.shared.urgent.notify_one();
        Ok(())
    }

    /// Records one event. `Durable`: resolves after the batch holding it is
    /// committed. `Buffered`: resolves once it is queued. When the queue is
    /// full, waits up to `enqueue_timeout`, then spills or fails with
    /// [`RecordError::Overloaded`].
    ///
    /// A feedback with an idempotency key is recorded `Durable` whatever is
    /// asked, and fails with [`RecordError::KeyConflict`] if its key is taken.
    pub async fn record(&self, event: Event, durability: Durability) -> Result<(), RecordError> {
        let durability = if event.idempotency_key().is_some() { Durability::Durable } else { durability };
        let event = match durability {
            Durability::Durable => match self.journal_here(event) {
                None => return Ok(()),
                Some(event) => event,
            },
            Durability::Buffered => event,
        };
        let (ack, done) = match durability {
            Durability::Durable => {
                let (t, r) = oneshot::channel();
                (Some(t), Some(r))
            }
            Durability::Buffered => (None, None),
        };
        self.shared.depth_add(1);
        let awaited = ack.is_some();
        let sent = match self.tx.try_send(Job::Event(event, ack)) {
            Ok(()) => {
                self.ring_for(awaited);
                Ok(())
            }
            Err(TrySendError::Closed(_)) => Err(None),
            Err(TrySendError::Full(job)) => match self.tx.send_timeout(job, self.enqueue_timeout).await {
                Ok(()) => {
                    self.ring_for(awaited);
                    Ok(())
                }
                Err(SendTimeoutError::Closed(_)) => Err(None),
                Err(SendTimeoutError::Timeout(job)) => Err(Some(job)),
            },
        };
        match sent {
            Ok(()) => self.shared.add(State::Queued, 1),
            Err(job) => {
                self.shared.depth_add(-1);
                return match job {
                    None => Err(RecordError::Closed),
                    Some(Job::Event(event, _)) => self.overflow(event, durability).await,
                    Some(_) => unreachable!("only events are sent here"),
                };
            }
        }
        match done {
            None => Ok(()),
            Some(done) => done.await.unwrap_or(Err(RecordError::Closed)),
        }
    }

    /// Appends a durable event to the journal on the caller's thread and answers it at
    /// once, without a trip through the writer thread: when there is a journal, it is not
    /// fsynced (an fsync is better shared by a batch), the event has no idempotency key
    /// (only a commit can tell whether its key is taken), no other append holds the
    /// journal and it has room: a second batch beside the one the writer is handing to the
    /// loader, past which a slow store shows as backpressure. Returns `None` when the
    /// event is journaled, and gives it back otherwise, for the queue.
    fn journal_here(&self, event: Event) -> Option<Event> {
        let Some(journal) = self.shared.journal.as_ref() else { return Some(event) };
        let shared = &self.shared;
        let now = shared.started.elapsed();
        if journal.syncs()
            || event.idempotency_key().is_some()
            || shared.closing.load(Ordering::Relaxed)
            || (now.as_micros() as u64) < shared.appends_paused_until.load(Ordering::Relaxed)
        {
            return Some(event);
        }
        // Counted before the append: once appended, a load may count it out at any time.
        shared.unloaded_add(1);
        let appended = journal.append_if_free(vec![event], 2 * self.max_batch);
        let took = shared.started.elapsed().saturating_sub(now);
        if took > SLOW_APPEND {
            let until = (now + took + APPENDS_PAUSE).as_micros() as u64;
            shared.appends_paused_until.store(until, Ordering::Relaxed);
            tracing::warn!(
                took_ms = took.as_millis() as u64,
                pause_ms = APPENDS_PAUSE.as_millis() as u64,
                "telemetry: a journal append was slow; requests leave the journal to the writer thread for a while"
            );
        }
        match appended {
            Ok(appended) => {
                shared.add(State::Queued, 1);
                // The writer sets its load timer by the first event, and seals a full batch
                // or a segment past half full.
                let ring = appended.pending == 1 || appended.pending == self.max_batch || appended.filled_half;
                if ring && self.tx.try_send(Job::Journaled).is_ok() {
                    shared.urgent.notify_one();
                }
                None
            }
            Err(mut events) => {
                shared.unloaded_add(-1);
                events.pop()
            }
        }
    }

    /// The queue stayed full: spill (off the async runtime) or refuse. A keyed
    /// feedback is refused: its replay could meet a taken key after a success was answered.
    async fn overflow(&self, event: Event, durability: Durability) -> Result<(), RecordError> {
        if self.shared.spill.is_none() || event.idempotency_key().is_some() {
            let failing = self.store_failure().map(|f| f.error);
            return Err(RecordError::Overloaded { capacity: self.capacity, waited: self.enqueue_timeout, failing });
        }
        let shared = self.shared.clone();
        let sync = durability == Durability::Durable;
        let res = tokio::task::spawn_blocking(move || {
            let spill = shared.spill.as_ref().expect("checked above");
            spill.append([&event], sync).map_err(|e| (spill.path.clone(), e))
        })
        .await;
        match res {
            Ok(Ok(n)) => {
                self.shared.add(State::Spilled, n);
                Ok(())
            }
            Ok(Err((path, e))) => {
                tracing::error!(spill = %path.display(), error = %e, "telemetry: queue full and spill failed");
                Err(RecordError::Spill { path, source: Arc::new(e) })
            }
            Err(_) => Err(RecordError::Closed),
        }
    }

    /// Resolves once every event answered before this call is in the store: queued,
    /// journaled, or spilled (unless replaying the spill file fails; it is retried later).
    pub async fn flush(&self) -> Result<(), RecordError> {
        let (t, r) = oneshot::channel();
        self.send(Job::Flush(t)).await?;
        r.await.map_err(|_| RecordError::Closed)
    }

    /// The prediction `id` if it was answered from the journal and is still waiting to be
    /// loaded, without waiting for a load; `None` if it is not there (it may be in the
    /// store, on its way into it, or unknown). A durable prediction is in the journal
    /// before it is answered, so every answered one not yet handed to the loader is found.
    /// Looks in the journal itself, which no one holds across a wait for the store (but for
    /// loading in place after a failed seal).
    pub fn find_unloaded(&self, id: &str) -> Option<PredictionEvent> {
        self.shared.journal.as_ref().and_then(|j| j.find(id))
    }

    /// Writes everything queued, then stops the writer thread and waits for
    /// it. Other handles get [`RecordError::Closed`] afterwards.
    pub async fn shutdown(self) {
        self.shared.closing.store(true, Ordering::Relaxed);
        let (t, r) = oneshot::channel();
        if self.send(Job::Shutdown(t)).await.is_ok() {
            let _ = r.await;
        }
        let handle = self.shared.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }

    /// How long the store's oldest write under way has been going on, if one is: a write
    /// that does not end is a stalled (or far too slow) disk.
    pub fn store_write_age(&self) -> Option<Duration> {
        self.shared.writing.lock().unwrap_or_else(|e| e.into_inner()).1.map(|since| since.elapsed())
    }

    /// Whether the store's writes are failing now (its latest write failed), since when and why.
    pub fn store_failure(&self) -> Option<StoreFailure> {
        self.shared.failing.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Current counters.
    pub fn stats(&self) -> WriterStats {
        let c = &self.shared.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        WriterStats {
            queued: l(&c.queued),
            written: l(&c.written),
            spilled: l(&c.spilled),
            replayed: l(&c.replayed),
            dropped: l(&c.dropped),
            abandoned: l(&c.abandoned),
            duplicates: l(&c.duplicates),
            batches: l(&c.batches),
            failed_batches: l(&c.failed_batches),
            queue_depth: c.depth.load(Ordering::Relaxed).max(0) as u64,
        }
    }

    /// How many answered events are in the journal but not yet in the store.
    pub fn unloaded(&self) -> u64 {
        self.shared.unloaded.load(Ordering::Relaxed)
    }

    /// How many answered events are not yet in the store: in the journal, or in the spill
    /// file (the queue was full). A reader that must see every answered event
    /// [`flush`](Self::flush)es first when this is not 0; a flush replays the spill file too.
    pub fn backlog(&self) -> u64 {
        let spilled = self.shared.spill.as_ref().map_or(0, |s| s.pending.load(Ordering::Relaxed));
        self.unloaded() + spilled
    }

    /// The spill file, if configured.
    pub fn spill_path(&self) -> Option<&Path> {
        self.shared.spill.as_ref().map(|s| s.path.as_path())
    }
}

struct Worker {
    rx: mpsc::Receiver<Job>,
    committer: Committer,
    shared: Arc<Shared>,
    max_batch: usize,
    max_delay: Duration,
    buffered_delay: Duration,
    /// When the spill file may be replayed again after a failed replay.
    spill_replay_due: Option<Instant>,
    /// Replays of the spill file failing one after another.
    spill_replay_failing: Outage,
    rt: tokio::runtime::Runtime,
}

/// Moves what is queued now into `jobs`, up to `max` in all, without waiting.
fn take_queued(rx: &mut mpsc::Receiver<Job>, jobs: &mut Vec<Job>, max: usize) {
    while jobs.len() < max {
        match rx.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
}

/// An append by a request that takes longer means a disk too slow to write on the
/// runtime's threads; for `APPENDS_PAUSE` requests go through the writer thread instead.
const SLOW_APPEND: Duration = Duration::from_millis(20);
const APPENDS_PAUSE: Duration = Duration::from_secs(1);
const RETRY_MIN: Duration = Duration::from_millis(10);
const RETRY_MAX: Duration = Duration::from_secs(1);
const SHUTDOWN_RETRIES: u32 = 5;
const SPILL_RETRY_EVERY: Duration = Duration::from_secs(1);
/// The spill file's replay, as the log names it.
const SPILL_REPLAY: &str = "replaying the spill file";

impl Worker {
    fn run(&mut self) {
        let mut jobs = Vec::with_capacity(self.max_batch);
        loop {
            jobs.clear();
            // Spilled events are replayed with nothing queued too: a replica that a failing
            // store made unready gets no traffic, and only a write that works ends the failure.
            let replay_at = self.spill_replay_at().map(tokio::time::Instant::from_std);
            let (rx, max_batch) = (&mut self.rx, self.max_batch);
            let (max_delay, buffered_delay) = (self.max_delay, self.buffered_delay);
            let shared = &self.shared;
            let load_at = shared.journal.as_ref().and_then(Journal::load_due).map(tokio::time::Instant::from_std);
            let wake_at = load_at.into_iter().chain(replay_at).min();
            let n = self.rt.block_on(async {
                // None: journaled events are due in the store, or a replay may be
                let received = async {
                    tokio::select! {
                        n = rx.recv_many(&mut jobs, max_batch) => Some(n),
                        _ = shared.spilled.notified() => None,
                    }
                };
                let received = match wake_at {
                    None => received.await,
                    Some(at) => tokio::time::timeout_at(at, received).await.unwrap_or(None),
                };
                let n = received?;
                if n == 0 {
                    return Some(0);
                }
                let started = tokio::time::Instant::now();
                // A ring left from jobs already taken must not cut this linger short.
                let _ = futures_util::FutureExt::now_or_never(shared.urgent.notified());
                take_queued(rx, &mut jobs, max_batch);
                let awaited = jobs.iter().any(Job::awaited);
                if jobs.len() < max_batch && !awaited && buffered_delay > max_delay {
                    tokio::select! {
                        _ = tokio::time::sleep_until(started + buffered_delay) => {}
                        _ = shared.urgent.notified() => {}
                    }
                    take_queued(rx, &mut jobs, max_batch);
                }
                let deadline = started + max_delay;
                while jobs.len() < max_batch && tokio::time::Instant::now() < deadline {
                    let want = max_batch - jobs.len();
                    match tokio::time::timeout_at(deadline, rx.recv_many(&mut jobs, want)).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                Some(n)
            });
            let Some(n) = n else {
                if load_at.is_some_and(|at| at <= tokio::time::Instant::now()) {
                    self.load_journaled(false);
                }
                self.replay_spill_when_due();
                continue;
            };
            if n == 0 {
                // Every handle is gone: everything queued has been written.
                self.finish_journal();
                return;
            }
            let shutdown = self.process(&mut jobs);
            if let Some(done) = shutdown {
                self.rx.close();
                loop {
                    jobs.clear();
                    let rx = &mut self.rx;
                    if self.rt.block_on(rx.recv_many(&mut jobs, max_batch)) == 0 {
                        break;
                    }
                    self.process(&mut jobs);
                }
                self.finish_journal();
                let _ = done.send(());
                return;
            }
            self.replay_spill_when_due();
        }
    }

    /// When the spill file's events are to be replayed: none pending, never; else once a
    /// failed replay has waited `SPILL_RETRY_EVERY`, or at once.
    fn spill_replay_at(&self) -> Option<Instant> {
        let spill = self.shared.spill.as_ref()?;
        (spill.pending.load(Ordering::Relaxed) > 0).then(|| self.spill_replay_due.unwrap_or_else(Instant::now))
    }

    /// Replays the spill file if it is due and nothing is queued (queued events go first).
    fn replay_spill_when_due(&mut self) {
        if self.rx.is_empty() && self.spill_replay_due.is_none_or(|t| Instant::now() >= t) {
            self.replay_spill();
        }
    }

    /// Writes what the spill file holds into the store; after a failure, waits
    /// `SPILL_RETRY_EVERY` before the queue's next idle moment tries again.
    fn replay_spill(&mut self) {
        let Some(spill) = &self.shared.spill else { return };
        if spill.pending.load(Ordering::Relaxed) == 0 {
            return;
        }
        match spill.replay(self.committer.store.as_ref(), self.max_batch) {
            Ok((replayed, corrupt)) => {
                self.shared.add(State::Replayed, replayed);
                self.shared.add(State::Dropped, corrupt);
                self.spill_replay_due = None;
                self.shared.store_works();
                self.spill_replay_failing.ended_logged(Instant::now(), SPILL_REPLAY);
            }
            Err(e) => {
                let now = Instant::now();
                self.spill_replay_failing.failed_logged(now, SPILL_REPLAY, &e);
                self.spill_replay_due = Some(now + SPILL_RETRY_EVERY);
            }
        }
    }

    /// Commits the events of `jobs`, then answers their waiters and flushes.
    /// Returns the shutdown acknowledgement if one was among them.
    fn process(&mut self, jobs: &mut Vec<Job>) -> Option<oneshot::Sender<()>> {
        let mut events = Vec::with_capacity(jobs.len());
        let mut acks = Vec::new();
        let mut flushes = Vec::new();
        let mut shutdown = None;
        let mut abandoned = 0;
        for job in jobs.drain(..) {
            match job {
                Job::Event(_, Some(a)) if a.is_closed() => abandoned += 1,
                Job::Event(e, ack) => {
                    if let Some(a) = ack {
                        acks.push((events.len(), a));
                    }
                    events.push(e);
                }
                Job::Flush(f) => flushes.push(f),
                Job::Shutdown(s) => shutdown = Some(s),
                Job::Journaled => {}
            }
        }
        self.shared.depth_add(-((events.len() + abandoned) as i64));
        self.shared.add(State::Abandoned, abandoned as u64);
        // A flush, a shutdown and a keyed feedback need the store itself; so does a batch
        // nobody waits for, which gains nothing from the journal.
        let needs_store =
            !flushes.is_empty() || shutdown.is_some() || events.iter().any(|e| e.idempotency_key().is_some());
        let (n, max_batch) = (events.len() as i64, self.max_batch);
        let events = match &self.shared.journal {
            Some(journal) if !acks.is_empty() && !needs_store => {
                // Counted before the append (a load may count them out at once) and so before
                // the answers: a client that reads right after its answer must find the
                // backlog and flush it, or it would miss its own event.
                self.shared.unloaded_add(n);
                match journal.append(events, usize::MAX) {
                    Ok(_) => {
                        for (_, a) in acks.drain(..) {
                            let _ = a.send(Ok(()));
                        }
                        Vec::new()
                    }
                    Err(events) => {
                        self.shared.unloaded_add(-n);
                        events
                    }
                }
            }
            _ => events,
        };
        if let Some(journal) = &self.shared.journal
            && journal.load_wanted(max_batch)
        {
            journal.load(false, &self.committer);
        }
        if needs_store || !events.is_empty() {
            // What the journal holds was answered earlier, so it goes in first.
            self.load_journaled(true);
            if !events.is_empty() {
                self.committer.commit(events, acks, false);
            }
        }
        if !flushes.is_empty() {
            // A flush promises every event answered before it is in the store: spilled ones too.
            self.replay_spill();
        }
        for f in flushes {
            let _ = f.send(());
        }
        shutdown
    }

    /// Hands the journaled events to the loader; with `wait`, returns once they are in the store.
    fn load_journaled(&mut self, wait: bool) {
        if let Some(journal) = &self.shared.journal {
            journal.load(wait, &self.committer);
        }
    }

    /// Loads what the journal holds and stops its loader: the writer is ending.
    fn finish_journal(&mut self) {
        self.load_journaled(true);
        if let Some(journal) = &self.shared.journal {
            journal.stop();
        }
    }
}

/// Writes batches into the store, and decides what happens when that fails: shared by
/// the writer thread and the journal's loader.
#[derive(Clone)]
pub(crate) struct Committer {
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
}

impl Committer {
    /// `n` journaled events left the journal's hands (loaded, spilled or given up on).
    pub(crate) fn loaded(&self, n: u64) {
        self.shared.unloaded_add(-(n as i64));
    }

    /// Commits `events` and answers their waiters. Returns whether the events are now in the
    /// store or the spill file; false only when a shutdown gives up on a failing store.
    /// `journaled` events are in the journal already: given up on, they stay there for
    /// the next start instead of counting as dropped.
    pub(crate) fn commit(&self, events: Vec<Event>, acks: Vec<Waiter>, journaled: bool) -> bool {
        let err = match self.try_write(&events) {
            Ok(report) => {
                for (i, a) in acks {
                    let answer = match report.key_conflicts.binary_search(&i) {
                        Ok(_) => Err(RecordError::KeyConflict {
                            key: events[i].idempotency_key().unwrap_or_default().to_owned(),
                        }),
                        Err(_) => Ok(()),
                    };
                    let _ = a.send(answer);
                }
                return true;
            }
            Err(e) => Arc::new(e),
        };
        tracing::error!(store = %self.store.describe(), events = events.len(), error = %err, "telemetry: store write failed");
        // Durable waiters learn of the failure now (the edge answers 503)...
        let spilled = self.try_spill(&events, true);
        for (_, a) in acks {
            let _ = a.send(Err(RecordError::Store { source: err.clone(), spilled: spilled.clone() }));
        }
        if spilled.is_some() {
            return true;
        }
        // ...and the events are kept and retried; meanwhile the queue fills up
        // and new records meet backpressure.
        let mut delay = RETRY_MIN;
        let mut attempts = 0u32;
        let mut outage = Outage::default();
        outage.failed(Instant::now()); // said above
        let what = format!("the store write to {}", self.store.describe());
        loop {
            std::thread::sleep(delay);
            delay = (delay * 2).min(RETRY_MAX);
            match self.try_write(&events) {
                Ok(_) => {
                    let failed_for_s = outage.ended(Instant::now()).unwrap_or_default();
                    tracing::info!(
                        events = events.len(),
                        attempts,
                        failed_for_s,
                        "telemetry: store write succeeded after retry"
                    );
                    return true;
                }
                Err(e) => {
                    attempts += 1;
                    let say = outage.failed_logged(Instant::now(), &what, &e);
                    if self.try_spill(&events, say != Say::Nothing).is_some() {
                        return true;
                    }
                    if self.shared.closing.load(Ordering::Relaxed) && attempts >= SHUTDOWN_RETRIES && journaled {
                        tracing::error!(
                            store = %self.store.describe(), events = events.len(), error = %e,
                            "telemetry: the store keeps failing at shutdown; the events stay in the journal for the next start"
                        );
                        return false;
                    }
                    if self.shared.closing.load(Ordering::Relaxed) && attempts >= SHUTDOWN_RETRIES {
                        self.shared.add(State::Dropped, events.len() as u64);
                        tracing::error!(
                            store = %self.store.describe(), events = events.len(), error = %e,
                            "telemetry: DROPPED events: the store keeps failing at shutdown and no spill file is usable"
                        );
                        return false;
                    }
                }
            }
        }
    }

    fn try_write(&self, events: &[Event]) -> Result<WriteReport, StoreError> {
        self.shared.write_begins();
        let result = self.store.write_batch(events);
        self.shared.write_ends();
        match result {
            Ok(report) => {
                self.shared.store_works();
                self.shared.add(State::Written, report.total());
                self.shared.counters.duplicates.fetch_add(report.duplicates, Ordering::Relaxed);
                self.shared.counters.batches.fetch_add(1, Ordering::Relaxed);
                self.shared.metrics.commits.increment(1);
                Ok(report)
            }
            Err(e) => {
                let mut failing = self.shared.failing.lock().unwrap_or_else(|e| e.into_inner());
                let since = failing.as_ref().map_or_else(Instant::now, |f| f.since);
                *failing = Some(StoreFailure { since, error: e.to_string() });
                self.shared.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
                self.shared.metrics.store_failures.increment(1);
                Err(e)
            }
        }
    }

    /// Appends `events` to the spill file, if there is one. A failure is logged when `say`
    /// (in a retry loop, only when the outage is due to be said).
    fn try_spill(&self, events: &[Event], say: bool) -> Option<PathBuf> {
        let spill = self.shared.spill.as_ref()?;
        match spill.append(events, true) {
            Ok(n) => {
                self.shared.add(State::Spilled, n);
                tracing::warn!(spill = %spill.path.display(), events = n, "telemetry: batch spilled after a failed write");
                Some(spill.path.clone())
            }
            Err(e) => {
                if say {
                    tracing::error!(spill = %spill.path.display(), error = %e, "telemetry: spilling a failed batch failed");
                }
                None
            }
        }
    }
}
