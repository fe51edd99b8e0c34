//! The loader: one thread tails the event log's streams into the store, at most `max_batch`
//! events a transaction, writing the stream's position it loaded up to in the same
//! transaction, so that a start after a crash resumes exactly there: nothing is stored
//! twice or skipped.
//!
//! It is the store's only writer: it also runs retention passes and, while the log's
//! appends fail (a full disk), probes the log so that a replica with no traffic heals.

use std::sync::Arc;
use std::time::Duration;

use crate::background::Outage;
use crate::events::Event;
use crate::log::Reader;
use crate::retention::{PruneReport, prune_once};
use crate::store::LogPosition;
use crate::writer::Shared;

/// Waits between tries of a failing store write (or log probe): doubling from the first
/// to the last.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(1);
/// Bytes of events a transaction takes at most (past its first event): a few large events
/// must not make one transaction hold hundreds of megabytes.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// What one pass of loading did.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub events: u64,
    pub skipped: u64,
}

/// Why a load did not happen; the next try reads again from the stored position.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

pub(crate) struct Loader {
    shared: Arc<Shared>,
    /// When the next load is due: every `load_delay`, sooner when rung, later after a failure.
    due: Duration,
    /// One a stream of the log.
    streams: Vec<Stream>,
    failing: Outage,
    retry: Duration,
    next_prune: Duration,
}

/// Where the loader reads one stream of the log.
struct Stream {
    reader: Reader,
    /// The position the store holds: where a read starts again after a failed write.
    stored: u64,
}

impl Loader {
    /// A loader reading each stream of the log from its position (where the store says it
    /// loaded up to).
    pub(crate) fn new(shared: Arc<Shared>, positions: &[u64]) -> Loader {
        let next_prune = shared.clock.now();
        let streams = positions.iter().map(|&p| Stream { reader: Reader::at(p), stored: p }).collect();
        Loader {
            due: next_prune + shared.config.load_delay,
            shared,
            streams,
            failing: Outage::default(),
            retry: RETRY_MIN,
            next_prune,
        }
    }

    /// Loads everything in the log into the store now, a batch of each stream in turn;
    /// stops at the first failure.
    pub(crate) fn catch_up(&mut self) -> Result<Loaded, LoadError> {
        let mut done = Loaded::default();
        loop {
            let mut loaded_any = false;
            for stream in 0..self.streams.len() {
                let pass = match self.load_batch(stream) {
                    Ok(Some(pass)) => pass,
                    Ok(None) => continue,
                    Err(e) => {
                        let s = &mut self.streams[stream];
                        s.reader = Reader::at(s.stored);
                        return Err(e);
                    }
                };
                loaded_any = true;
                done.events += pass.events;
                done.skipped += pass.skipped;
            }
            if !loaded_any {
                return Ok(done);
            }
        }
    }

    /// The thread's loop: loads within `load_delay` of an append, at once when rung (a
    /// flush, a full batch); retries a failing store; prunes on schedule; stops when told,
    /// after loading what the log holds if the store lets it (what it cannot stays in the
    /// log for the next start).
    pub(crate) fn run(mut self) {
        crate::background::lower_priority();
        let s = self.shared.clone();
        let what = format!("loading the event log into {}", s.store.describe());
        loop {
            let mut wake = self.due;
            if s.config.retention.is_some() {
                wake = wake.min(self.next_prune);
            }
            if s.log_failing() {
                wake = wake.min(s.clock.now() + RETRY_MAX);
            }
            let rung = s.wake.wait_until(s.clock.as_ref(), Some(wake));
            let now = s.clock.now();
            let stopping = s.stopping();
            if rung || now >= self.due || stopping {
                match self.catch_up() {
                    Ok(_) => {
                        self.retry = RETRY_MIN;
                        self.failing.ended_logged(now, &what);
                        self.due = now + s.config.load_delay;
                    }
                    Err(e) => {
                        self.failing.failed_logged(now, &what, &e);
                        if stopping {
                            tracing::warn!(
                                error = %e,
                                "telemetry: stopping with events still in the event log; they are loaded at the next start"
                            );
                            return;
                        }
                        self.due = now + self.retry;
                        self.retry = (self.retry * 2).min(RETRY_MAX);
                    }
                }
            }
            if stopping {
                return;
            }
            if s.log_failing() {
                s.probe_log();
            }
            self.prune_when_due();
        }
    }

    /// Reads up to a batch of events from the log and writes them with the position past
    /// them in one transaction. Lines that are not events (part of a line a failed or
    /// crashed write left; never answered) are skipped and said.
    fn load_batch(&mut self, stream: usize) -> Result<Option<Loaded>, LoadError> {
        let s = &self.shared;
        let log = &s.logs[stream];
        let lines = self.streams[stream].reader.read(log, s.config.max_batch, MAX_BATCH_BYTES)?;
        let Some(last) = lines.last() else { return Ok(None) };
        let through = last.end;
        let mut events = Vec::with_capacity(lines.len());
        let mut skipped = 0;
        for line in &lines {
            if line.bytes.iter().all(u8::is_ascii_whitespace) {
                continue; // a probe of a failing log, or the start of a line after a torn one
            }
            match Event::from_line(&line.bytes) {
                Ok(event) => events.push(event),
                Err(e) => {
                    skipped += 1;
                    tracing::warn!(
                        log = %log.dir().display(),
                        ends_at = line.end,
                        bytes = line.bytes.len(),
                        error = %e,
                        "telemetry: skipped a line of the event log that is not an event (part of a write that \
                         failed or was cut short by a crash, and so never answered)"
                    );
                }
            }
        }
        let report = s.write(&events, LogPosition { stream: stream as u32, offset: through })?;
        self.streams[stream].stored = through;
        // deleted before the position is said, so a flush finds the log as small as it gets
        if let Err(e) = log.delete_before(through) {
            tracing::warn!(error = %e, "telemetry: a loaded segment of the event log could not be deleted");
        }
        s.loaded(events.len() as u64, skipped, &report, stream, through);
        Ok(Some(Loaded { events: events.len() as u64, skipped }))
    }

    fn prune_when_due(&mut self) {
        let s = &self.shared;
        let Some(retention) = s.config.retention else { return };
        let now = s.clock.now();
        if now < self.next_prune {
            return;
        }
        self.next_prune = now + s.config.retention_every;
        match prune_once(s.store.as_ref(), &retention, s.clock.unix_ms()) {
            Ok(r) if r != PruneReport::default() => tracing::info!(
                predictions = r.predictions,
                feedback = r.feedback,
                outcomes = r.outcomes,
                "telemetry: pruned"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "telemetry: pruning failed; tried again at the next pass"),
        }
    }
}
