//! An append-only file of events, one JSON line each: the spill file and the journal.

use crate::StoreError;
use crate::events::Event;
use crate::store::Store;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// An append-only file of events, one JSON line each, replayed into the store on start:
/// the spill file, and the journal.
pub(crate) struct EventLog {
    pub(crate) path: PathBuf,
    /// The file and its length, kept here so an append needs no `stat`.
    file: Mutex<(File, u64)>,
    /// Events appended since the file was last emptied.
    pub(crate) pending: AtomicU64,
}

/// Events as the JSON lines of an event log.
pub(crate) struct Lines {
    bytes: Vec<u8>,
    count: u64,
}

impl Lines {
    pub(crate) fn of<'a>(events: impl IntoIterator<Item = &'a Event>) -> std::io::Result<Lines> {
        let mut lines = Lines { bytes: Vec::with_capacity(1024), count: 0 };
        for e in events {
            serde_json::to_writer(&mut lines.bytes, e)?;
            lines.bytes.push(b'\n');
            lines.count += 1;
        }
        Ok(lines)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl EventLog {
    pub(crate) fn open(path: &Path) -> Result<EventLog, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_owned(),
                op: "create spill directory",
                source,
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .map_err(|source| StoreError::Io { path: path.to_owned(), op: "open spill file", source })?;
        let len = file
            .metadata()
            .map_err(|source| StoreError::Io { path: path.to_owned(), op: "stat spill file", source })?
            .len();
        Ok(EventLog { path: path.to_owned(), file: Mutex::new((file, len)), pending: AtomicU64::new(0) })
    }

    /// Appends events as JSON lines in one write; fsyncs when `sync`. On a
    /// failed write the file is cut back so no torn line remains.
    pub(crate) fn append<'a>(&self, events: impl IntoIterator<Item = &'a Event>, sync: bool) -> std::io::Result<u64> {
        self.append_lines(&Lines::of(events)?, sync)
    }

    /// Appends lines made beforehand, so that making them holds no lock.
    pub(crate) fn append_lines(&self, lines: &Lines, sync: bool) -> std::io::Result<u64> {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let (file, len) = &mut *guard;
        let res = file.write_all(&lines.bytes).and_then(|()| if sync { file.sync_data() } else { Ok(()) });
        if let Err(e) = res {
            let _ = file.set_len(*len);
            return Err(e);
        }
        *len += lines.bytes.len() as u64;
        self.pending.fetch_add(lines.count, Ordering::Relaxed);
        Ok(lines.count)
    }

    /// Writes every spilled event into the store in batches, then truncates
    /// the file. Holds the file lock throughout, so appends wait. Returns
    /// (replayed, corrupt lines).
    pub(crate) fn replay(&self, store: &dyn Store, max_batch: usize) -> Result<(u64, u64), StoreError> {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let (file, len) = &mut *guard;
        let io = |op| {
            let path = self.path.clone();
            move |source| StoreError::Io { path, op, source }
        };
        if file.metadata().map_err(io("stat spill file"))?.len() == 0 {
            self.pending.store(0, Ordering::Relaxed);
            return Ok((0, 0));
        }
        let counts = replay_file(&self.path, store, max_batch)?;
        file.set_len(0).map_err(io("truncate spill file"))?;
        *len = 0;
        file.sync_all().map_err(io("sync spill file"))?;
        self.pending.store(0, Ordering::Relaxed);
        Ok(counts)
    }
}

/// Writes the events of the file at `path` into the store in batches: its JSON lines,
/// skipping NUL bytes (JSON text has none): the zeros after a journal segment's lines,
/// and any hole a power loss left in a file. A line that does not parse (a write torn by
/// a crash) is logged and kept in `<path>.rejected`. Returns (replayed, corrupt lines).
pub(crate) fn replay_file(path: &Path, store: &dyn Store, max_batch: usize) -> Result<(u64, u64), StoreError> {
    let io = |op| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, op, source }
    };
    let reader = BufReader::new(File::open(path).map_err(io("open event file for replay"))?);
    let mut batch = Vec::with_capacity(max_batch);
    let (mut replayed, mut corrupt) = (0u64, 0u64);
    let mut rejected: Option<File> = None;
    let rejected_path = path.with_extension("rejected");
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(io("read event file"))?;
        for piece in line.split(|&b| b == 0).filter(|p| !p.iter().all(u8::is_ascii_whitespace)) {
            match serde_json::from_slice::<Event>(piece) {
                Ok(e) => batch.push(e),
                Err(err) => {
                    corrupt += 1;
                    tracing::error!(
                        file = %path.display(), line = i + 1, error = %err, kept_in = %rejected_path.display(),
                        "telemetry: corrupt event line (torn write?); event dropped from replay"
                    );
                    if rejected.is_none() {
                        rejected = OpenOptions::new().create(true).append(true).open(&rejected_path).ok();
                    }
                    if let Some(f) = rejected.as_mut() {
                        let _ = f.write_all(piece).and_then(|()| f.write_all(b"\n"));
                    }
                }
            }
            if batch.len() >= max_batch {
                replayed += store.write_batch(&batch)?.total();
                batch.clear();
            }
        }
    }
    if !batch.is_empty() {
        replayed += store.write_batch(&batch)?.total();
    }
    Ok((replayed, corrupt))
}
