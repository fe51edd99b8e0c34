//! The journal of durable telemetry: answered events on their way into the store.
//!
//! A durable event is appended to the current file (`journal.jsonl`, a memory-mapped
//! [`Segment`]) and then answered: by the request itself when the journal has room and no
//! fsync is asked, otherwise by the writer thread, a batch at a time (one msync). Every
//! `load_delay` or `max_batch` events the writer thread seals that file (renamed
//! `journal.jsonl.N`), puts a zeroed segment in its place and hands the events to the
//! loader thread, which writes them into the store in one transaction and then zeroes the
//! sealed segment for reuse (`journal.jsonl.free-K`; beyond two spare, deletes it). So the
//! writer never waits for a store commit to answer, and a load never holds up an answer.
//! On start, sealed files and then the current one are replayed; feedback and outcomes
//! carry event ids, so a replay stores each event once.

use crate::StoreError;
use crate::event_log::{Lines, replay_file};
use crate::events::{Event, PredictionEvent};
use crate::segment::{SEGMENT_BYTES, Segment, count_lines};
use crate::store::Store;
use crate::writer::Committer;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
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
    spares: Arc<Spares>,
}

struct State {
    current: Segment,
    /// The events the current file holds: answered, not yet handed to the loader.
    pending: Vec<Event>,
    /// When the oldest of `pending` was appended.
    pending_since: Option<Instant>,
    next_seal: u64,
}

/// Events handed to the loader, the sealed segment that holds them, and who waits.
struct Load {
    events: Vec<Event>,
    sealed: Option<Segment>,
    done: Option<mpsc::Sender<()>>,
}

/// Loaded segments, zeroed, waiting to be the current one again: their pages stay in
/// memory and their blocks on disk, so appending to them costs no page allocation.
struct Spares {
    base: PathBuf,
    sync: bool,
    size: usize,
    segments: Mutex<Vec<Segment>>,
    next_name: AtomicU64,
}

/// What an append left in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Appended {
    /// Events waiting for a load, the appended ones included.
    pub(crate) pending: usize,
    /// This append took the current segment past half full: a load is due whatever
    /// `pending` says (large events).
    pub(crate) filled_half: bool,
}

/// Spare segments kept; a segment loaded beyond them is deleted.
const SPARE_SEGMENTS: usize = 2;

impl Spares {
    fn name(&self) -> PathBuf {
        let k = self.next_name.fetch_add(1, Ordering::Relaxed);
        PathBuf::from(format!("{}.free-{k}", self.base.display()))
    }

    /// A zeroed segment: a spare, or a new one.
    fn take(&self) -> Result<Segment, StoreError> {
        if let Some(segment) = self.segments.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(segment);
        }
        let path = self.name();
        Segment::create(&path, self.size, self.sync).map_err(|source| StoreError::Io {
            path,
            op: "make a journal segment (4 MiB, written in full: free disk space or use another data directory)",
            source,
        })
    }

    /// Gives back a segment taken and not used: still zeroed, under its spare name.
    fn untaken(&self, segment: Segment) {
        let mut segments = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        if segments.len() < SPARE_SEGMENTS {
            segments.push(segment);
        } else {
            drop(segments);
            let _ = segment.remove();
        }
    }

    /// Keeps a loaded segment as a spare, zeroed, or deletes it.
    fn put(&self, mut segment: Segment) {
        let kept = self.segments.lock().unwrap_or_else(|e| e.into_inner()).len() < SPARE_SEGMENTS;
        let name = self.name();
        let reused = kept && segment.clear(self.sync).and_then(|()| segment.rename(&name)).is_ok();
        if reused {
            self.segments.lock().unwrap_or_else(|e| e.into_inner()).push(segment);
        } else {
            let path = segment.path().to_owned();
            if let Err(e) = segment.remove() {
                // Harmless: a replay stores each event once.
                tracing::warn!(journal = %path.display(), error = %e, "telemetry: removing a loaded journal file failed");
            }
        }
    }
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
        if let Some(dir) = base.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_owned(),
                op: "create journal directory",
                source,
            })?;
        }
        let (mut replayed, mut corrupt) = (0, 0);
        let sealed = sealed_files(base)?;
        let next_seal = sealed.last().map_or(0, |(n, _)| n + 1);
        let current = std::iter::once(base.to_owned()).filter(|p| p.exists());
        for path in sealed.into_iter().map(|(_, p)| p).chain(current) {
            let (r, c) = replay_file(&path, store, max_batch)?;
            (replayed, corrupt) = (replayed + r, corrupt + c);
            std::fs::remove_file(&path).map_err(|source| StoreError::Io {
                path: path.clone(),
                op: "remove replayed journal file",
                source,
            })?;
        }
        // spares of an earlier run hold nothing; new ones are made below
        for path in spare_files(base) {
            let _ = std::fs::remove_file(path);
        }
        let spares = Arc::new(Spares {
            base: base.to_owned(),
            sync,
            size: SEGMENT_BYTES,
            segments: Mutex::new(Vec::new()),
            next_name: AtomicU64::new(0),
        });
        let mut current = spares.take()?;
        current.rename(base).map_err(|source| StoreError::Io {
            path: base.to_owned(),
            op: "name the journal segment",
            source,
        })?;
        // one spare ready, so the first seal makes no segment; without the room for it, the
        // first seal tries again and, failing, loads the journal in place
        match spares.take() {
            Ok(spare) => spares.untaken(spare),
            Err(e) => tracing::warn!(error = %e, "telemetry: no spare journal segment"),
        }
        let state = State { current, pending: Vec::new(), pending_since: None, next_seal };
        let journal = Journal {
            base: base.to_owned(),
            sync,
            load_delay,
            state: Mutex::new(state),
            loader: Mutex::new(None),
            spares,
        };
        Ok((journal, replayed, corrupt))
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
        let spares = self.spares.clone();
        let thread = std::thread::Builder::new()
            .name("rein-telemetry-loader".into())
            .spawn(move || {
                crate::background::lower_priority();
                for load in rx {
                    run(load, &committer, &spares);
                }
            })
            .map_err(|source| StoreError::Io { path: self.base.clone(), op: "spawn journal loader thread", source })?;
        *self.loader.lock().unwrap_or_else(|e| e.into_inner()) = Some((tx, thread));
        Ok(())
    }

    /// Appends `events` in one write (fsynced if asked) and keeps them until they are
    /// loaded; returns how many are now waiting for a load. Gives them back if the
    /// journal already holds `room` events, or if the write failed (logged).
    pub(crate) fn append(&self, events: Vec<Event>, room: usize) -> Result<Appended, Vec<Event>> {
        self.append_when(events, room, |state| Some(state.lock().unwrap_or_else(|e| e.into_inner())))
    }

    /// As [`Self::append`], but gives the events back at once if another append holds the
    /// journal: a request thread never queues behind a write, which a stalled disk could
    /// hold up for long.
    pub(crate) fn append_if_free(&self, events: Vec<Event>, room: usize) -> Result<Appended, Vec<Event>> {
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
    ) -> Result<Appended, Vec<Event>> {
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
    ) -> Result<Appended, Vec<Event>> {
        if state.pending.len() >= room || !state.current.fits(&lines) {
            return Err(events);
        }
        let was_half_full = state.current.half_full();
        if let Err(e) = state.current.append(&lines, self.sync) {
            tracing::warn!(journal = %self.base.display(), error = %e,
                "telemetry: journal append failed; committing to the store directly");
            return Err(events);
        }
        state.pending_since.get_or_insert_with(Instant::now);
        state.pending.extend(events);
        Ok(Appended { pending: state.pending.len(), filled_half: !was_half_full && state.current.half_full() })
    }

    /// Whether the appended events are due for a load now: `max_batch` of them, or a
    /// current segment past half full.
    pub(crate) fn load_wanted(&self, max_batch: usize) -> bool {
        let state = self.state();
        state.pending.len() >= max_batch || state.current.half_full()
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
        // Taken before the journal is held: making a segment writes and syncs a file.
        let next = self.spares.take();
        let load = {
            let mut state = self.state();
            state.pending_since = None;
            let events = std::mem::take(&mut state.pending);
            let sealed = if events.is_empty() {
                if let Ok(next) = next {
                    self.spares.untaken(next);
                }
                if !wait {
                    return;
                }
                None
            } else {
                match next.and_then(|next| self.seal(&mut state, next)) {
                    Ok(sealed) => Some(sealed),
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
                    run(load, committer, &self.spares); // the loader is gone: load here
                }
            }
            None => run(load, committer, &self.spares),
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

    /// Renames the current segment to the next sealed name, puts `next` in its place and
    /// returns the sealed one. Every moment, a file holding events has a name a replay reads.
    fn seal(&self, state: &mut State, mut next: Segment) -> Result<Segment, StoreError> {
        let sealed = PathBuf::from(format!("{}.{}", self.base.display(), state.next_seal));
        let io = |op| {
            let path = self.base.clone();
            move |source| StoreError::Io { path, op, source }
        };
        if let Err(e) = state.current.rename(&sealed) {
            self.spares.untaken(next);
            return Err(io("seal journal")(e));
        }
        state.next_seal += 1;
        if let Err(e) = next.rename(&self.base) {
            // keep appending to the segment we have, under its own name again
            let _ = state.current.rename(&self.base);
            self.spares.untaken(next);
            return Err(io("start a journal segment")(e));
        }
        Ok(std::mem::replace(&mut state.current, next))
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
            && let Err(e) = state.current.clear(self.sync)
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

/// Writes one load into the store, then recycles its sealed segment. A load given up on
/// (a failing store at shutdown) leaves its file for the next start.
fn run(load: Load, committer: &Committer, spares: &Spares) {
    let n = load.events.len() as u64;
    if n > 0
        && committer.commit(load.events, Vec::new(), true)
        && let Some(sealed) = load.sealed
    {
        spares.put(sealed);
    }
    committer.loaded(n);
    if let Some(done) = load.done {
        let _ = done.send(());
    }
}

/// How many events the journal at `base` holds that a running rein has not loaded yet,
/// or a crashed one left for its next start (lines of its files; 0 if there is none).
pub fn unloaded_events(base: &Path) -> u64 {
    let count = |path: &Path| -> u64 { std::fs::read(path).map(|b| count_lines(&b)).unwrap_or(0) };
    let sealed = sealed_files(base).unwrap_or_default();
    sealed.iter().map(|(_, p)| count(p)).sum::<u64>() + count(base)
}

/// The spare segments beside `base` (`<base>.free-K`).
fn spare_files(base: &Path) -> Vec<PathBuf> {
    let files = files_beside(base).unwrap_or_default();
    files.into_iter().filter(|(suffix, _)| suffix.starts_with("free-")).map(|(_, path)| path).collect()
}

/// The sealed files beside `base` (`<base>.N`), by N.
fn sealed_files(base: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let files = files_beside(base)?;
    let mut sealed: Vec<(u64, PathBuf)> =
        files.into_iter().filter_map(|(suffix, path)| Some((suffix.parse::<u64>().ok()?, path))).collect();
    sealed.sort();
    Ok(sealed)
}

/// The files named `<base>.<suffix>` in `base`'s directory, with their suffixes.
fn files_beside(base: &Path) -> Result<Vec<(String, PathBuf)>, StoreError> {
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
    Ok(entries
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.strip_prefix(&prefix)?.to_owned(), e.path())))
        .collect())
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
        assert_eq!(journal.append_if_free(vec![event()], 16).map(|a| a.pending).ok(), Some(1));
        assert!(journal.append_if_free(vec![event()], 1).is_err(), "no room past `room` events");
        assert_eq!(journal.append(vec![event()], usize::MAX).map(|a| a.pending).ok(), Some(2));
    }

    #[test]
    fn large_events_make_a_load_due_before_the_segment_is_full() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::sqlite::SqliteStore::open(dir.path()).unwrap();
        let base = dir.path().join("journal.jsonl");
        let (journal, ..) = Journal::open(&base, false, Duration::from_secs(60), &store, 512).unwrap();
        let comment = "x".repeat(64 << 10);
        let large = || {
            let json =
                format!(r#"{{"id":"e","prediction_id":"p-1","time_ms":1,"kind":"correct","comment":"{comment}"}}"#);
            Event::Feedback(serde_json::from_str::<FeedbackEvent>(&json).unwrap())
        };
        let mut crossings = Vec::new();
        for i in 0..40 {
            let appended = journal.append(vec![large()], usize::MAX).unwrap();
            if appended.filled_half {
                crossings.push(i);
            }
        }
        // 40 events of 64 KiB are 2.5 MiB: past half of the segment once
        let line = Lines::of(&[large()]).unwrap().bytes().len();
        let first_past_half = (0..40).find(|i| (i + 1) * line > SEGMENT_BYTES / 2).unwrap();
        assert_eq!(crossings, vec![first_past_half]);
        assert!(journal.load_wanted(512), "a load is due with 40 events, far from 512");
    }
}
