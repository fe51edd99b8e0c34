//! The journal of durable telemetry: answered events on their way into the store.
//!
//! A durable event is appended to the current file (`journal.jsonl`) and then answered:
//! by the request itself when the journal has room and no fsync is asked, otherwise by
//! the writer thread, a batch in one write (one fsync). Every `load_delay` or `max_batch`
//! events the writer thread seals that file (renamed `journal.jsonl.N`) and hands its events to the
//! loader thread, which writes them into the store in one transaction and then deletes
//! the sealed file. So the writer never waits for a store commit to answer, and a load
//! never holds up an answer. On start, sealed files and then the current one are
//! replayed; feedback and outcomes carry event ids, so a replay stores each event once.

use crate::StoreError;
use crate::event_log::{EventLog, Lines};
use crate::events::{Event, PredictionEvent};
use crate::store::Store;
use crate::writer::Committer;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) struct Journal {
    base: PathBuf,
    /// fsync each append.
    sync: bool,
    load_delay: Duration,
    /// Held only for an append, a seal or a lookup, never across a wait for the store:
    /// request threads append here directly (see `Writer::record`).
    state: Mutex<State>,
    loader: Mutex<Option<(mpsc::SyncSender<Load>, JoinHandle<()>)>>,
}

struct State {
    current: EventLog,
    /// The events the current file holds: answered, not yet handed to the loader.
    pending: Vec<Event>,
    /// When the oldest of `pending` was appended.
    pending_since: Option<Instant>,
    next_seal: u64,
}

/// Events handed to the loader, the sealed file that holds them, and who waits.
struct Load {
    events: Vec<Event>,
    sealed: Option<PathBuf>,
    done: Option<mpsc::Sender<()>>,
}

impl Journal {
    /// Opens the journal at `base`, replays what an earlier run left in it into `store`
    /// (sealed files first, in order, then the current file), and empties it.
    /// Returns the journal and (replayed, corrupt lines).
    pub(crate) fn open(
        base: &Path,
        sync: bool,
        load_delay: Duration,
        store: &dyn Store,
        max_batch: usize,
    ) -> Result<(Journal, u64, u64), StoreError> {
        let (mut replayed, mut corrupt) = (0, 0);
        let sealed = sealed_files(base)?;
        let next_seal = sealed.last().map_or(0, |(n, _)| n + 1);
        for (_, path) in sealed {
            let (r, c) = EventLog::open(&path)?.replay(store, max_batch)?;
            (replayed, corrupt) = (replayed + r, corrupt + c);
            std::fs::remove_file(&path).map_err(|source| StoreError::Io {
                path: path.clone(),
                op: "remove replayed journal file",
                source,
            })?;
        }
        let current = EventLog::open(base)?;
        let (r, c) = current.replay(store, max_batch)?;
        let state = State { current, pending: Vec::new(), pending_since: None, next_seal };
        let journal =
            Journal { base: base.to_owned(), sync, load_delay, state: Mutex::new(state), loader: Mutex::new(None) };
        Ok((journal, replayed + r, corrupt + c))
    }

    /// Whether each append is fsynced (and so better shared by a batch than made alone).
    pub(crate) fn syncs(&self) -> bool {
        self.sync
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the loader thread. Without it, loads run on the caller's thread.
    pub(crate) fn start_loader(&self, committer: Committer) -> Result<(), StoreError> {
        // One load waiting beside the one running: beyond that the writer waits, so
        // memory stays bounded while the store is slow.
        let (tx, rx) = mpsc::sync_channel::<Load>(1);
        let thread = std::thread::Builder::new()
            .name("rein-telemetry-loader".into())
            .spawn(move || {
                for load in rx {
                    run(load, &committer);
                }
            })
            .map_err(|source| StoreError::Io { path: self.base.clone(), op: "spawn journal loader thread", source })?;
        *self.loader.lock().unwrap_or_else(|e| e.into_inner()) = Some((tx, thread));
        Ok(())
    }

    /// Appends `events` in one write (fsynced if asked) and keeps them until they are
    /// loaded; returns how many are now waiting for a load. Gives them back if the
    /// journal already holds `room` events, or if the write failed (logged).
    pub(crate) fn append(&self, events: Vec<Event>, room: usize) -> Result<usize, Vec<Event>> {
        self.append_when(events, room, |state| Some(state.lock().unwrap_or_else(|e| e.into_inner())))
    }

    /// As [`Self::append`], but gives the events back at once if another append holds the
    /// journal: a request thread never queues behind a write, which a stalled disk could
    /// hold up for long.
    pub(crate) fn append_if_free(&self, events: Vec<Event>, room: usize) -> Result<usize, Vec<Event>> {
        self.append_when(events, room, |state| match state.try_lock() {
            Ok(state) => Some(state),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        })
    }

    /// Makes the lines outside the lock, then appends them if `lock` gets the journal.
    fn append_when<'j>(
        &'j self,
        events: Vec<Event>,
        room: usize,
        lock: impl FnOnce(&'j Mutex<State>) -> Option<std::sync::MutexGuard<'j, State>>,
    ) -> Result<usize, Vec<Event>> {
        let lines = match Lines::of(&events) {
            Ok(lines) => lines,
            Err(e) => {
                tracing::warn!(error = %e, "telemetry: an event does not serialize for the journal");
                return Err(events);
            }
        };
        match lock(&self.state) {
            Some(state) => self.append_lines(state, lines, events, room),
            None => Err(events),
        }
    }

    fn append_lines(
        &self,
        mut state: std::sync::MutexGuard<'_, State>,
        lines: Lines,
        events: Vec<Event>,
        room: usize,
    ) -> Result<usize, Vec<Event>> {
        if state.pending.len() >= room {
            return Err(events);
        }
        if let Err(e) = state.current.append_lines(&lines, self.sync) {
            tracing::warn!(journal = %self.base.display(), error = %e,
                "telemetry: journal append failed; committing to the store directly");
            return Err(events);
        }
        state.pending_since.get_or_insert_with(Instant::now);
        state.pending.extend(events);
        Ok(state.pending.len())
    }

    /// How many appended events wait to be handed to the loader.
    pub(crate) fn pending(&self) -> usize {
        self.state().pending.len()
    }

    /// When the appended events are due to be loaded, if there are any.
    pub(crate) fn load_due(&self) -> Option<Instant> {
        self.state().pending_since.map(|t| t + self.load_delay)
    }

    /// The prediction `id` among the events not yet handed to the loader.
    pub(crate) fn find(&self, id: &str) -> Option<PredictionEvent> {
        self.state().pending.iter().rev().find_map(|e| match e {
            Event::Prediction(p) if p.id == id => Some(p.clone()),
            _ => None,
        })
    }

    /// Hands the appended events to the loader. With `wait`, returns once they and every
    /// earlier load are in the store (or spilled). Called by the writer thread only, so
    /// loads keep the order of their files.
    pub(crate) fn load(&self, wait: bool, committer: &Committer) {
        let (done, finished) = if wait {
            let (t, r) = mpsc::channel();
            (Some(t), Some(r))
        } else {
            (None, None)
        };
        let load = {
            let mut state = self.state();
            state.pending_since = None;
            let events = std::mem::take(&mut state.pending);
            if events.is_empty() && !wait {
                return;
            }
            let sealed = if events.is_empty() {
                None
            } else {
                match self.seal(&mut state) {
                    Ok(path) => Some(path),
                    Err(e) => {
                        tracing::warn!(journal = %self.base.display(), error = %e,
                            "telemetry: sealing the journal failed; loading it in place");
                        // Holds the journal meanwhile: the file is emptied once loaded.
                        self.load_in_place(&mut state, events, done, committer);
                        return;
                    }
                }
            };
            Load { events, sealed, done }
        };
        let loader = self.loader.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|(tx, _)| tx.clone());
        match loader {
            Some(tx) => {
                if let Err(mpsc::SendError(load)) = tx.send(load) {
                    run(load, committer); // the loader is gone: load here
                }
            }
            None => run(load, committer),
        }
        if let Some(finished) = finished {
            let _ = finished.recv();
        }
    }

    /// Stops the loader once it has loaded everything handed to it.
    pub(crate) fn stop(&self) {
        let loader = self.loader.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((tx, thread)) = loader {
            drop(tx);
            let _ = thread.join();
        }
    }

    /// Renames the current file to the next sealed name and starts a new current file.
    fn seal(&self, state: &mut State) -> Result<PathBuf, StoreError> {
        let sealed = PathBuf::from(format!("{}.{}", self.base.display(), state.next_seal));
        std::fs::rename(&self.base, &sealed).map_err(|source| StoreError::Io {
            path: self.base.clone(),
            op: "seal journal",
            source,
        })?;
        state.next_seal += 1;
        match EventLog::open(&self.base) {
            Ok(log) => {
                state.current = log;
                Ok(sealed)
            }
            Err(e) => {
                // keep appending to the file we have, under its own name again
                let _ = std::fs::rename(&sealed, &self.base);
                Err(e)
            }
        }
    }

    /// Without a sealed file the current one holds exactly `events`: once every earlier
    /// load is done, load them here and empty it.
    fn load_in_place(
        &self,
        state: &mut State,
        events: Vec<Event>,
        done: Option<mpsc::Sender<()>>,
        committer: &Committer,
    ) {
        let loader = self.loader.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|(tx, _)| tx.clone());
        if let Some(tx) = loader {
            let (t, r) = mpsc::channel();
            if tx.send(Load { events: Vec::new(), sealed: None, done: Some(t) }).is_ok() {
                let _ = r.recv();
            }
        }
        let n = events.len() as u64;
        if committer.commit(events, Vec::new(), true)
            && let Err(e) = state.current.clear()
        {
            // Harmless: a replay stores each event once.
            tracing::warn!(journal = %self.base.display(), error = %e, "telemetry: emptying the journal failed");
        }
        committer.loaded(n);
        if let Some(done) = done {
            let _ = done.send(());
        }
    }
}

/// Writes one load into the store, then deletes its sealed file.
fn run(load: Load, committer: &Committer) {
    let n = load.events.len() as u64;
    if n > 0
        && committer.commit(load.events, Vec::new(), true)
        && let Some(path) = &load.sealed
        && let Err(e) = std::fs::remove_file(path)
    {
        // Harmless: a replay stores each event once.
        tracing::warn!(journal = %path.display(), error = %e, "telemetry: removing a loaded journal file failed");
    }
    committer.loaded(n);
    if let Some(done) = load.done {
        let _ = done.send(());
    }
}

/// How many events the journal at `base` holds that a running rein has not loaded yet,
/// or a crashed one left for its next start (lines of its files; 0 if there is none).
pub fn unloaded_events(base: &Path) -> u64 {
    let count = |path: &Path| -> u64 {
        std::fs::read(path).map(|b| b.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count() as u64).unwrap_or(0)
    };
    let sealed = sealed_files(base).unwrap_or_default();
    sealed.iter().map(|(_, p)| count(p)).sum::<u64>() + count(base)
}

/// The sealed files beside `base` (`<base>.N`), by N.
fn sealed_files(base: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let dir = match base.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let Some(name) = base.file_name().and_then(|n| n.to_str()) else { return Ok(Vec::new()) };
    let prefix = format!("{name}.");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(StoreError::Io { path: dir, op: "list journal files", source }),
    };
    let mut sealed: Vec<(u64, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_str()?.strip_prefix(&prefix)?.parse::<u64>().ok()?;
            Some((n, e.path()))
        })
        .collect();
    sealed.sort();
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::FeedbackEvent;

    fn event() -> Event {
        let json = r#"{"id":"e-1","prediction_id":"p-1","time_ms":1,"kind":"correct"}"#;
        Event::Feedback(serde_json::from_str::<FeedbackEvent>(json).unwrap())
    }

    #[test]
    fn a_request_never_queues_behind_another_append() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::sqlite::SqliteStore::open(dir.path()).unwrap();
        let base = dir.path().join("journal.jsonl");
        let (journal, ..) = Journal::open(&base, false, Duration::from_secs(60), &store, 8).unwrap();
        let held = journal.state();
        assert!(journal.append_if_free(vec![event()], 16).is_err(), "the journal is held: given back at once");
        drop(held);
        assert_eq!(journal.append_if_free(vec![event()], 16).ok(), Some(1));
        assert!(journal.append_if_free(vec![event()], 1).is_err(), "no room past `room` events");
        assert_eq!(journal.append(vec![event()], usize::MAX).ok(), Some(2));
    }
}
