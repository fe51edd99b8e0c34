//! Is my prediction durable? How an event is recorded, in five mechanisms:
//!
//! 1. **The log** ([`crate::log`]). A request appends its event to the data directory's
//!    event log itself, with one `write`, and is answered: the event then survives a crash
//!    of rein (`kill -9`). Segments are rotated by size and deleted once loaded. The log is
//!    a stream a thread (as many streams as cores): two request threads appending to one
//!    file took turns on its lock, each put to sleep and woken for the other's `write`.
//! 2. **Group fsync** ([`crate::fsync`], only with `fsync = true`). A durable request also
//!    waits until one thread's `fdatasync` covers its append, so it survives power loss;
//!    appends made while a sync runs share the next one.
//! 3. **The loader** ([`crate::loader`]). One thread tails the log into the store within
//!    `load_delay`, in transactions of up to `max_batch` events, each storing the position
//!    it reached in its stream. A start replays the log from there: exact, and idempotent.
//! 4. **Bounds**. Events answered but not yet in the store are bounded (`max_backlog`): past
//!    it, or while the log's writes fail (a full disk), an event is refused with an error that
//!    names why (HTTP 503), and the server reports itself unready. Nothing answered is lost;
//!    nothing refused is kept.
//! 5. **Waiting for the store**. What must see the store itself waits until the loader has
//!    passed its position: a lookup or listing (everything answered before it), and a feedback
//!    with an idempotency key (only the store can tell whether its key was new).
//!
//! [`Durability::Buffered`] differs from durable only with `fsync = true`: it does not wait
//! for the sync. Time comes from a [`Clock`], so tests advance it instead of sleeping.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::{Clock, Signal};
use crate::data_dir::DataDir;
use crate::events::Event;
use crate::fsync::Syncer;
use crate::loader::{LoadError, Loader};
use crate::log::{Log, LogError};
use crate::retention::Retention;
use crate::store::{LogPosition, Store, WriteReport};
use crate::{RecordError, StoreError};

/// When a request may be answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Once the event is in the log (and, with `fsync`, synced to disk).
    #[default]
    Durable,
    /// Once the event is in the log, without waiting for a sync.
    Buffered,
}

/// Configuration of the [`Writer`].
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Most events per store transaction.
    pub max_batch: usize,
    /// Longest an appended event waits before the loader writes it into the store.
    pub load_delay: Duration,
    /// Most events answered and not yet in the store; past it, events are refused.
    pub max_backlog: u64,
    /// Size at which the log starts a new segment.
    pub segment_bytes: u64,
    /// fsync the log before a durable answer, so an answered event survives power loss.
    pub fsync: bool,
    /// Retention passes run by the loader, every `retention_every`; `None`: none.
    pub retention: Option<Retention>,
    pub retention_every: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            max_batch: 512,
            load_delay: Duration::from_millis(50),
            max_backlog: 1_000_000,
            segment_bytes: 16 * 1024 * 1024,
            fsync: false,
            retention: None,
            retention_every: Duration::from_secs(60),
        }
    }
}

/// Counters of the writer (also exported as `rein_telemetry_events_total{state}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Events appended to the log (and answered).
    pub appended: u64,
    /// Events refused: not recorded and answered with an error (overloaded, a failing log).
    pub refused: u64,
    /// Events loaded into the store (including duplicates), replayed ones included.
    pub written: u64,
    /// Events loaded at start from a log an earlier run left.
    pub replayed: u64,
    /// Log lines skipped as not being events (a write that failed or a crash cut short).
    pub skipped: u64,
    /// Events already in the store (a feedback key taken, a replayed prediction).
    pub duplicates: u64,
    /// Store transactions committed.
    pub batches: u64,
    /// Store writes that failed (each retried).
    pub failed_batches: u64,
    /// Events appended and not yet in the store.
    pub backlog: u64,
}

/// The store's writes have failed for `failed_for`; `error` is the latest failure.
#[derive(Debug, Clone)]
pub struct StoreFailure {
    pub failed_for: Duration,
    pub error: String,
}

impl std::fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "its writes have failed for {} s, the latest with: {}", self.failed_for.as_secs(), self.error)
    }
}

/// Why the writer could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the telemetry {thread} thread: {source}")]
    Thread {
        thread: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl From<LoadError> for StartError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Log(e) => StartError::Log(e),
            LoadError::Store(e) => StartError::Store(e),
        }
    }
}

struct Metrics {
    appended: metrics::Counter,
    refused: metrics::Counter,
    written: metrics::Counter,
    replayed: metrics::Counter,
    skipped: metrics::Counter,
    commits: metrics::Counter,
    store_failures: metrics::Counter,
    log_failures: metrics::Counter,
    backlog: metrics::Gauge,
}

impl Metrics {
    fn new() -> Self {
        metrics::describe_counter!(
            "rein_telemetry_events_total",
            "Telemetry events by state: appended (to the log, answered), refused (not recorded, answered 503), \
             written (into the store), replayed (at start), skipped (log lines that are not events)"
        );
        metrics::describe_gauge!("rein_telemetry_backlog_events", "Events answered and not yet in the store");
        metrics::describe_counter!(
            "rein_telemetry_commits_total",
            "Store transactions the loader committed; written events per commit is what a commit costs per event"
        );
        metrics::describe_counter!(
            "rein_telemetry_store_failures_total",
            "Store writes that failed (a full disk, say); retried, their events stay in the log meanwhile"
        );
        metrics::describe_counter!(
            "rein_telemetry_log_failures_total",
            "Appends to the event log that failed (a full disk, say); their events were refused"
        );
        let c = |state: &'static str| metrics::counter!("rein_telemetry_events_total", "state" => state);
        Metrics {
            appended: c("appended"),
            refused: c("refused"),
            written: c("written"),
            replayed: c("replayed"),
            skipped: c("skipped"),
            commits: metrics::counter!("rein_telemetry_commits_total"),
            store_failures: metrics::counter!("rein_telemetry_store_failures_total"),
            log_failures: metrics::counter!("rein_telemetry_log_failures_total"),
            backlog: metrics::gauge!("rein_telemetry_backlog_events"),
        }
    }
}

#[derive(Default)]
struct Counters {
    appended: AtomicU64,
    refused: AtomicU64,
    written: AtomicU64,
    replayed: AtomicU64,
    skipped: AtomicU64,
    duplicates: AtomicU64,
    batches: AtomicU64,
    failed_batches: AtomicU64,
    /// Events loaded that this run appended (not replayed): the backlog is appended minus these.
    loaded_live: AtomicU64,
}

/// A failure that lasts: since when (clock time) and the latest error.
struct Failing {
    since: Duration,
    error: String,
}

/// What the writer's handles, the loader and the syncer share.
pub(crate) struct Shared {
    /// The log's streams: a thread appends to its own ([`stream_of_this_thread`]).
    pub(crate) logs: Vec<Log>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: WriterConfig,
    /// Rings the loader: a flush, a full batch, a stop.
    pub(crate) wake: Arc<Signal>,
    /// Streams appended to (the first ones); later ones are only loaded, left by a run on
    /// more cores.
    appending: usize,
    /// A stream each: since when (clock µs + 1; 0: none) its append under way has run. A
    /// `write` that does not return (a stalled disk) holds its request thread: readiness says so.
    appending_since: Vec<AtomicU64>,
    /// The position the store holds, a stream each.
    loaded: watch::Sender<Vec<u64>>,
    syncer: Option<Syncer>,
    counters: Counters,
    metrics: Metrics,
    stopping: AtomicBool,
    /// Set while the start replays what an earlier run left in the log.
    replaying: AtomicBool,
    store_failing: Mutex<Option<Failing>>,
    /// Since when (clock time) the store write under way has run.
    writing_since: Mutex<Option<Duration>>,
    log_failing: Mutex<Option<Failing>>,
    log_is_failing: AtomicBool,
    stopped: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    fn backlog(&self) -> u64 {
        let c = &self.counters;
        c.appended.load(Ordering::Acquire).saturating_sub(c.loaded_live.load(Ordering::Acquire))
    }

    /// Writes `events` and the position `through` in one store transaction.
    pub(crate) fn write(&self, events: &[Event], through: LogPosition) -> Result<WriteReport, StoreError> {
        *lock(&self.writing_since) = Some(self.clock.now());
        let result = self.store.write_batch(events, Some(through));
        *lock(&self.writing_since) = None;
        match &result {
            Ok(_) => *lock(&self.store_failing) = None,
            Err(e) => {
                self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
                self.metrics.store_failures.increment(1);
                let mut failing = lock(&self.store_failing);
                let since = failing.as_ref().map_or_else(|| self.clock.now(), |f| f.since);
                *failing = Some(Failing { since, error: e.to_string() });
            }
        }
        result
    }

    /// The loader stored `events` (and skipped `skipped` lines) up to `through`.
    pub(crate) fn loaded(&self, events: u64, skipped: u64, report: &WriteReport, stream: usize, through: u64) {
        let c = &self.counters;
        if self.replaying.load(Ordering::Relaxed) {
            c.replayed.fetch_add(events, Ordering::Relaxed);
            self.metrics.replayed.increment(events);
        } else {
            c.loaded_live.fetch_add(events, Ordering::Release);
        }
        c.written.fetch_add(events, Ordering::Release);
        c.skipped.fetch_add(skipped, Ordering::Release);
        c.duplicates.fetch_add(report.duplicates, Ordering::Relaxed);
        c.batches.fetch_add(1, Ordering::Relaxed);
        self.metrics.written.increment(events);
        self.metrics.skipped.increment(skipped);
        self.metrics.commits.increment(1);
        self.metrics.backlog.set(self.backlog() as f64);
        self.loaded.send_modify(|loaded| loaded[stream] = through);
    }

    pub(crate) fn log_failing(&self) -> bool {
        lock(&self.log_failing).is_some()
    }

    fn log_failed(&self, e: &LogError) {
        self.metrics.log_failures.increment(1);
        let mut failing = lock(&self.log_failing);
        if failing.is_none() {
            tracing::error!(error = %e, "telemetry: the event log cannot be written; events are refused until it can");
        }
        let since = failing.as_ref().map_or_else(|| self.clock.now(), |f| f.since);
        *failing = Some(Failing { since, error: e.to_string() });
        self.log_is_failing.store(true, Ordering::Relaxed);
    }

    fn log_works(&self) {
        // read without the lock first: every append passes here
        if !self.log_is_failing.load(Ordering::Relaxed) {
            return;
        }
        let mut failing = lock(&self.log_failing);
        self.log_is_failing.store(false, Ordering::Relaxed);
        if failing.take().is_some() {
            tracing::info!("telemetry: the event log can be written again");
        }
    }

    /// Tries a failing log again: with no traffic, only this tells that it healed.
    pub(crate) fn probe_log(&self) {
        match self.logs.iter().try_for_each(Log::probe) {
            Ok(()) => self.log_works(),
            Err(e) => self.log_failed(&e),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records telemetry events: see the module documentation. Cheap to clone; the loader stops
/// when the last handle is dropped or [`Writer::shutdown`] is called.
#[derive(Clone)]
pub struct Writer {
    shared: Arc<Shared>,
    _handle: Arc<Handle>,
}

/// Says the loader has ended when dropped, so a shutdown never waits on a loader that is gone.
struct Stopped(Arc<Shared>);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.stopped.send_replace(true);
    }
}

/// Held by every [`Writer`] clone, not by the threads: its drop stops them.
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        stop(&self.0);
    }
}

fn stop(shared: &Shared) {
    shared.stopping.store(true, Ordering::Release);
    shared.wake.ring();
    if let Some(syncer) = &shared.syncer {
        syncer.stop();
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("stats", &self.stats()).finish()
    }
}

impl Writer {
    /// Opens the log of `data_dir`, replays into `store` what an earlier run left in it
    /// (blocking: call before serving), and starts the loader (and the syncer, with `fsync`).
    /// Install the metrics recorder before calling this.
    pub fn start(
        store: Arc<dyn Store>,
        data_dir: &DataDir,
        config: WriterConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Writer, StartError> {
        Self::start_in(store, &data_dir.log(), config, clock)
    }

    /// As [`Writer::start`], with the log in `log_dir`.
    pub fn start_in(
        store: Arc<dyn Store>,
        log_dir: &Path,
        config: WriterConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Writer, StartError> {
        // as many streams as threads that append at once; more if an earlier run left more
        let stored = store.log_positions()?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_STREAMS);
        let on_disk = streams_in(log_dir);
        let count = cores.max(on_disk).max(stored.iter().map(|p| p.stream as usize + 1).max().unwrap_or(0));
        let positions: Vec<u64> = (0..count)
            .map(|stream| stored.iter().find(|p| p.stream as usize == stream).map_or(0, |p| p.offset))
            .collect();
        let logs = positions
            .iter()
            .enumerate()
            .map(|(stream, &floor)| {
                Log::open(&log_dir.join(stream.to_string()), config.segment_bytes, floor, config.fsync)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let syncer = config.fsync.then(|| Syncer::new(clock.as_ref(), &logs));
        let appending = cores.min(count);
        let shared = Arc::new(Shared {
            appending_since: (0..logs.len()).map(|_| AtomicU64::new(0)).collect(),
            logs,
            appending,
            store,
            wake: Signal::on(clock.as_ref()),
            clock,
            config,
            loaded: watch::Sender::new(positions.clone()),
            syncer,
            counters: Counters::default(),
            metrics: Metrics::new(),
            stopping: AtomicBool::new(false),
            replaying: AtomicBool::new(true),
            store_failing: Mutex::new(None),
            writing_since: Mutex::new(None),
            log_failing: Mutex::new(None),
            log_is_failing: AtomicBool::new(false),
            stopped: watch::Sender::new(false),
        });
        let mut loader = Loader::new(shared.clone(), &positions);
        let replayed = loader.catch_up()?;
        shared.replaying.store(false, Ordering::Relaxed);
        if replayed.events > 0 || replayed.skipped > 0 {
            tracing::info!(
                log = %log_dir.display(),
                replayed = replayed.events,
                skipped = replayed.skipped,
                "telemetry: loaded what the event log held from an earlier run"
            );
        }
        let spawn =
            |name: &str, run: Box<dyn FnOnce() + Send>| std::thread::Builder::new().name(name.into()).spawn(run);
        let stopped = Stopped(shared.clone());
        spawn(
            "rein-telemetry-loader",
            Box::new(move || {
                let _stopped = stopped; // said however the loader ends, a panic included
                loader.run();
            }),
        )
        .map_err(|source| StartError::Thread { thread: "loader", source })?;
        if shared.syncer.is_some() {
            let s = shared.clone();
            spawn(
                "rein-telemetry-fsync",
                Box::new(move || s.syncer.as_ref().expect("checked").run(&s.logs, s.clock.as_ref())),
            )
            .map_err(|source| StartError::Thread { thread: "fsync", source })?;
        }
        Ok(Writer { _handle: Arc::new(Handle(shared.clone())), shared })
    }

    /// Records one event: appended to the log by the calling thread, then answered (see the
    /// module documentation for what each [`Durability`] waits for). A feedback with an
    /// idempotency key returns once it is in the store, where the caller can see whether its
    /// key was new ([`crate::Store::feedback_by_key`]).
    pub async fn record(&self, event: Event, durability: Durability) -> Result<(), RecordError> {
        let s = &self.shared;
        if s.stopping() {
            return Err(RecordError::Closed);
        }
        let backlog = s.backlog();
        if backlog >= s.config.max_backlog {
            return Err(
                self.refuse(RecordError::Overloaded { backlog, failing: self.store_failure().map(|f| f.to_string()) })
            );
        }
        let mut line = serde_json::to_vec(&event).map_err(|e| RecordError::Encode(e.to_string()))?;
        line.push(b'\n');
        let stream = stream_of_this_thread(s.appending);
        s.appending_since[stream].store(s.clock.now().as_micros() as u64 + 1, Ordering::Relaxed);
        let appended = s.logs[stream].append(&line);
        s.appending_since[stream].store(0, Ordering::Relaxed);
        let end = match appended {
            Ok(end) => {
                s.log_works();
                end
            }
            Err(e) => {
                s.log_failed(&e);
                return Err(self.refuse(RecordError::Log(Arc::new(e))));
            }
        };
        let appended = s.counters.appended.fetch_add(1, Ordering::AcqRel) + 1;
        s.metrics.appended.increment(1);
        // a full batch is loaded at once; otherwise within `load_delay`
        if appended
            .saturating_sub(s.counters.loaded_live.load(Ordering::Acquire))
            .is_multiple_of(s.config.max_batch as u64)
        {
            s.wake.ring();
        }
        if event.idempotency_key().is_some() {
            return self.wait_loaded(Some((stream, end)), true).await;
        }
        match (&s.syncer, durability) {
            (Some(syncer), Durability::Durable) => syncer.synced_past(stream, end).await.map_err(RecordError::Log),
            _ => Ok(()),
        }
    }

    fn refuse(&self, e: RecordError) -> RecordError {
        self.shared.counters.refused.fetch_add(1, Ordering::Relaxed);
        self.shared.metrics.refused.increment(1);
        e
    }

    /// Returns once every event answered before the call is in the store.
    pub async fn flush(&self) -> Result<(), RecordError> {
        if self.shared.stopping() {
            return Err(RecordError::Closed);
        }
        self.wait_loaded(None, true).await
    }

    /// Returns once every event answered before the call is in the store, without hurrying
    /// the loader: it loads on its own schedule (for tests of that schedule, and tools).
    pub async fn loaded(&self) -> Result<(), RecordError> {
        self.wait_loaded(None, false).await
    }

    /// Waits until the store holds `(stream, end)`, or with `None` everything appended to
    /// every stream so far; with `hurry`, rings the loader rather than waiting for its time.
    async fn wait_loaded(&self, until: Option<(usize, u64)>, hurry: bool) -> Result<(), RecordError> {
        let s = &self.shared;
        let ends: Vec<u64> = match until {
            Some((stream, end)) => (0..s.logs.len()).map(|i| if i == stream { end } else { 0 }).collect(),
            None => s.logs.iter().map(Log::end).collect(),
        };
        let reached = |loaded: &Vec<u64>| loaded.iter().zip(&ends).all(|(l, e)| l >= e);
        let mut loaded = s.loaded.subscribe();
        if reached(&loaded.borrow()) {
            return Ok(());
        }
        if hurry {
            s.wake.ring();
        }
        loaded.wait_for(reached).await.map(|_| ()).map_err(|_| RecordError::Closed)
    }

    /// Loads what the log holds into the store (as far as the store lets it, within the
    /// caller's patience) and stops the threads. What is not loaded stays in the log for
    /// the next start.
    pub async fn shutdown(self) {
        stop(&self.shared);
        let mut stopped = self.shared.stopped.subscribe();
        let _ = stopped.wait_for(|&s| s).await;
    }

    pub fn stats(&self) -> WriterStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        WriterStats {
            appended: get(&c.appended),
            refused: get(&c.refused),
            written: get(&c.written),
            replayed: get(&c.replayed),
            skipped: get(&c.skipped),
            duplicates: get(&c.duplicates),
            batches: get(&c.batches),
            failed_batches: get(&c.failed_batches),
            backlog: self.shared.backlog(),
        }
    }

    /// Events answered and not yet in the store: a reader that must see them flushes first.
    pub fn backlog(&self) -> u64 {
        self.shared.backlog()
    }

    /// The most events that may wait for the store before new ones are refused.
    pub fn max_backlog(&self) -> u64 {
        self.shared.config.max_backlog
    }

    /// While the store's writes fail: for how long, and the latest error.
    pub fn store_failure(&self) -> Option<StoreFailure> {
        failure(&self.shared.store_failing, self.shared.clock.as_ref())
    }

    /// While the log's appends fail (a full disk): for how long, and the latest error.
    pub fn log_failure(&self) -> Option<StoreFailure> {
        failure(&self.shared.log_failing, self.shared.clock.as_ref())
    }

    /// How long the store write under way has run, if one is.
    pub fn store_write_age(&self) -> Option<Duration> {
        lock(&self.shared.writing_since).map(|since| self.shared.clock.now().saturating_sub(since))
    }

    /// How long the oldest append to the log under way has run, if one is.
    pub fn log_append_age(&self) -> Option<Duration> {
        let now = self.shared.clock.now();
        let oldest = self.shared.appending_since.iter().map(|s| s.load(Ordering::Relaxed)).filter(|&s| s > 0).min()?;
        Some(now.saturating_sub(Duration::from_micros(oldest - 1)))
    }
}

/// Most streams the log is split into, however many cores.
const MAX_STREAMS: usize = 16;

/// The stream this thread appends to: threads take streams in turn as they first append, so
/// the request threads, started first, each have their own.
fn stream_of_this_thread(streams: usize) -> usize {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static TURN: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    TURN.with(|turn| (*turn % streams as u64) as usize)
}

/// How many stream folders (`0`, `1`, …) an earlier run left in `log_dir`.
fn streams_in(log_dir: &Path) -> usize {
    std::fs::read_dir(log_dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<usize>().ok())
                .map(|stream| stream + 1)
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

fn failure(failing: &Mutex<Option<Failing>>, clock: &dyn Clock) -> Option<StoreFailure> {
    lock(failing)
        .as_ref()
        .map(|f| StoreFailure { failed_for: clock.now().saturating_sub(f.since), error: f.error.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    /// An append that does not return (a stalled disk) shows its age, so readiness can say so.
    #[test]
    fn an_append_under_way_shows_its_age() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(crate::SqliteStore::open(dir.path()).unwrap());
        let clock = ManualClock::new(0);
        let writer = Writer::start_in(store, &dir.path().join("log"), WriterConfig::default(), clock.clone()).unwrap();
        assert_eq!(writer.log_append_age(), None, "nothing under way");
        let since = &writer.shared.appending_since[0];
        since.store(clock.now().as_micros() as u64 + 1, Ordering::Relaxed);
        clock.advance(Duration::from_secs(3));
        assert_eq!(writer.log_append_age(), Some(Duration::from_secs(3)));
        since.store(0, Ordering::Relaxed);
        assert_eq!(writer.log_append_age(), None);
    }
}
