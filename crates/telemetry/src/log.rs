//! The event log: append-only JSON lines in segment files of the data directory's `log/`,
//! each named by the log offset it starts at, so a position is one number across segments.
//!
//! A request appends its event with one `write` (no memory map: a full copy-on-write
//! filesystem answers a mapped write with SIGBUS, a `write` with an error). The loader
//! reads complete lines up to [`Log::end`] and deletes segments once the store holds them.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why the log could not take or give an event.
#[derive(Debug, thiserror::Error)]
#[error("event log {}: cannot {op}: {source}", path.display())]
pub struct LogError {
    pub path: PathBuf,
    pub op: &'static str,
    #[source]
    pub source: std::io::Error,
}

/// The appending side: one segment open for writes; a failed write is cut back off.
pub(crate) struct Log {
    dir: PathBuf,
    segment_bytes: u64,
    appender: Mutex<Appender>,
    /// The log offset just past the last complete append: everything before it is whole lines.
    end: AtomicU64,
    /// Starts of the segments on disk, oldest first (the last is being appended to).
    segments: Mutex<VecDeque<u64>>,
    /// Finished segments are kept open for the syncer (`fsync = true`).
    syncing: bool,
}

struct Appender {
    file: File,
    start: u64,
    len: u64,
    /// A failed write left part of a line that could not be cut off: the next append goes
    /// to a new segment, so the part stays the end of this one, a line of its own.
    torn: bool,
    /// A write to this segment failed since the last that worked: [`Log::probe`] starts afresh.
    failed: bool,
    /// Segments finished since the syncer last looked (fsync mode), to be synced before
    /// anything after them is said durable.
    finished: Vec<File>,
}

impl Log {
    /// Opens the log in `dir`, creating it: the segments on disk are kept for the loader, and
    /// appends go to a new segment after them (a segment a crash cut short is never appended to),
    /// starting no earlier than `floor` (the position the store has loaded up to).
    pub(crate) fn open(dir: &Path, segment_bytes: u64, floor: u64, syncing: bool) -> Result<Log, LogError> {
        let err = |op| move |source| LogError { path: dir.to_path_buf(), op, source };
        std::fs::create_dir_all(dir).map_err(err("create its folder"))?;
        let mut starts = segments_in(dir)?;
        let mut next = floor;
        if let Some(&last) = starts.last() {
            let len = std::fs::metadata(segment_path(dir, last)).map_err(err("read a segment's size"))?.len();
            if len == 0 && last >= floor {
                // an empty segment (a start with no traffic after it) is taken as it is
                starts.pop();
                next = last;
            } else {
                next = next.max(last + len);
            }
        }
        let file = create_segment(dir, next)?;
        starts.push(next);
        Ok(Log {
            dir: dir.to_path_buf(),
            segment_bytes: segment_bytes.max(1),
            appender: Mutex::new(Appender {
                file,
                start: next,
                len: 0,
                torn: false,
                failed: false,
                finished: Vec::new(),
            }),
            end: AtomicU64::new(next),
            segments: Mutex::new(starts.into()),
            syncing,
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `line` (one event and its `\n`) in one write; returns the offset past it.
    /// On an error nothing of it counts: what was written is cut back off, or left as a torn
    /// line the loader skips.
    pub(crate) fn append(&self, line: &[u8]) -> Result<u64, LogError> {
        let mut a = self.appender.lock().unwrap_or_else(|e| e.into_inner());
        if a.torn || (a.len > 0 && a.len + line.len() as u64 > self.segment_bytes) {
            self.rotate(&mut a)?;
        }
        if let Err(source) = a.file.write_all(line) {
            let error = self.error(&a, "write", source);
            a.failed = true;
            if a.file.set_len(a.len).is_err() {
                // at most the whole line is there: the next segment starts past it
                a.len += line.len() as u64;
                a.torn = true;
            }
            return Err(error);
        }
        a.len += line.len() as u64;
        a.failed = false;
        let end = a.start + a.len;
        self.end.store(end, Ordering::Release);
        Ok(end)
    }

    /// While writes fail (else it does nothing): opens the current segment afresh (a new file in its place when it
    /// holds nothing, else the next segment), then tries an empty line, which the loader
    /// skips. With no traffic, only this tells that the disk has room again; a failing disk
    /// gets one new file a try at most, never a pile.
    pub(crate) fn probe(&self) -> Result<(), LogError> {
        {
            let mut a = self.appender.lock().unwrap_or_else(|e| e.into_inner());
            if !a.failed {
                return Ok(());
            }
            if a.len == 0 && !a.torn {
                let path = segment_path(&self.dir, a.start);
                let _ = std::fs::remove_file(&path);
                a.file = create_segment(&self.dir, a.start)?;
            } else {
                self.rotate(&mut a)?;
            }
        }
        self.append(b"\n").map(|_| ())
    }

    /// Finishes the current segment and opens the next one at the offset it ends at.
    fn rotate(&self, a: &mut Appender) -> Result<(), LogError> {
        let next = a.start + a.len;
        let file = create_segment(&self.dir, next)?;
        let done = std::mem::replace(&mut a.file, file);
        if self.syncing {
            a.finished.push(done);
        }
        a.start = next;
        a.len = 0;
        a.torn = false;
        a.failed = false;
        self.segments.lock().unwrap_or_else(|e| e.into_inner()).push_back(next);
        Ok(())
    }

    fn error(&self, a: &Appender, op: &'static str, source: std::io::Error) -> LogError {
        LogError { path: segment_path(&self.dir, a.start), op, source }
    }

    /// The offset just past the last complete append.
    pub(crate) fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// For the syncer: the segments finished since it last looked and a handle on the
    /// current one, with the end they cover.
    pub(crate) fn to_sync(&self) -> Result<(Vec<File>, File, u64), LogError> {
        let mut a = self.appender.lock().unwrap_or_else(|e| e.into_inner());
        let current = a.file.try_clone().map_err(|source| self.error(&a, "open for fsync", source))?;
        Ok((std::mem::take(&mut a.finished), current, self.end()))
    }

    /// Deletes the segments that lie wholly before `loaded`, never the one being appended to.
    /// Returns how many went.
    pub(crate) fn delete_before(&self, loaded: u64) -> Result<usize, LogError> {
        let mut segments = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        let mut deleted = 0;
        while segments.len() > 1 && segments[1] <= loaded {
            let start = segments[0];
            let path = segment_path(&self.dir, start);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(LogError { path, op: "delete a loaded segment", source }),
            }
            segments.pop_front();
            deleted += 1;
        }
        Ok(deleted)
    }

    /// The start of the first segment after `start`, if there is one.
    fn next_segment(&self, start: u64) -> Option<u64> {
        self.segments.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().find(|&s| s > start)
    }

    /// The start of the segment holding `position`.
    fn segment_of(&self, position: u64) -> Option<u64> {
        self.segments.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().take_while(|&s| s <= position).last()
    }
}

/// One line read from the log: its bytes (without the `\n`) and the offset past it.
pub(crate) struct Line {
    pub bytes: Vec<u8>,
    pub end: u64,
}

/// Reads the log's complete lines from a position on, across segments.
pub(crate) struct Reader {
    position: u64,
    open: Option<(u64, File)>,
    /// Bytes read past the last complete line.
    pending: Vec<u8>,
}

impl Reader {
    pub(crate) fn at(position: u64) -> Reader {
        Reader { position, open: None, pending: Vec::new() }
    }

    /// Reads up to `max_lines` complete lines below the log's end (or `max_bytes`, after the
    /// first). A segment that ends in part of a line (a crash cut its last write short, never
    /// answered) is left for the next, and that part is returned as a line of its own.
    pub(crate) fn read(&mut self, log: &Log, max_lines: usize, max_bytes: usize) -> Result<Vec<Line>, LogError> {
        let mut lines = Vec::new();
        let mut bytes = 0;
        let end = log.end();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // the complete lines already read
            let mut from = 0;
            while lines.len() < max_lines && bytes < max_bytes {
                let Some(i) = self.pending[from..].iter().position(|&b| b == b'\n') else { break };
                let line = self.pending[from..from + i].to_vec();
                from += i + 1;
                bytes += line.len();
                self.position += (i + 1) as u64;
                lines.push(Line { bytes: line, end: self.position });
            }
            self.pending.drain(..from);
            if lines.len() >= max_lines || bytes >= max_bytes {
                break;
            }
            let at = self.position + self.pending.len() as u64;
            if at >= end && self.pending.is_empty() {
                break;
            }
            let Some((start, file)) = self.file(log)? else { break };
            let next = log.next_segment(start);
            let limit = next.unwrap_or(end);
            let want = ((limit.saturating_sub(at)) as usize).min(buf.len());
            let n = if want == 0 {
                0
            } else {
                file.read(&mut buf[..want]).map_err(|source| LogError {
                    path: segment_path(log.dir(), start),
                    op: "read",
                    source,
                })?
            };
            if n == 0 {
                // the end of this segment (where the next starts, or where a failed or cut
                // write left it): on to the next, if one follows
                match next {
                    Some(next) => {
                        if !self.pending.is_empty() {
                            let part = std::mem::take(&mut self.pending);
                            lines.push(Line { bytes: part, end: next });
                        }
                        self.position = next;
                        self.open = None;
                        continue;
                    }
                    None => break,
                }
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
        Ok(lines)
    }

    /// The segment file holding the read position, opened at it.
    fn file(&mut self, log: &Log) -> Result<Option<(u64, &mut File)>, LogError> {
        if self.open.is_none() {
            let at = self.position + self.pending.len() as u64;
            let start = match log.segment_of(at) {
                Some(start) => start,
                // before the oldest segment (its earlier ones were deleted): from where it starts
                None => match log.next_segment(at) {
                    Some(first) if self.pending.is_empty() => {
                        self.position = first;
                        first
                    }
                    _ => return Ok(None),
                },
            };
            let at = self.position + self.pending.len() as u64;
            let path = segment_path(log.dir(), start);
            let mut file = File::open(&path).map_err(|source| LogError { path: path.clone(), op: "open", source })?;
            file.seek(SeekFrom::Start(at - start)).map_err(|source| LogError { path, op: "seek", source })?;
            self.open = Some((start, file));
        }
        Ok(self.open.as_mut().map(|(s, f)| (*s, f)))
    }
}

/// How far each stream of the log in `log_dir` reaches on disk now, for a reader in another
/// process (an export while a server runs) to wait until the store has caught up to it.
pub fn ends_on_disk(log_dir: &Path) -> Result<Vec<crate::LogPosition>, LogError> {
    let err = |source| LogError { path: log_dir.to_path_buf(), op: "list its streams", source };
    let mut ends = Vec::new();
    let streams = match std::fs::read_dir(log_dir) {
        Ok(streams) => streams,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ends),
        Err(e) => return Err(err(e)),
    };
    for entry in streams {
        let entry = entry.map_err(err)?;
        let Some(stream) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let dir = entry.path();
        if let Some(&last) = segments_in(&dir)?.last() {
            let path = segment_path(&dir, last);
            let len = std::fs::metadata(&path).map_err(|source| LogError { path, op: "read its size", source })?.len();
            ends.push(crate::LogPosition { stream, offset: last + len });
        }
    }
    Ok(ends)
}

fn segment_path(dir: &Path, start: u64) -> PathBuf {
    dir.join(format!("{start:020}.jsonl"))
}

fn create_segment(dir: &Path, start: u64) -> Result<File, LogError> {
    let path = segment_path(dir, start);
    OpenOptions::new().create(true).append(true).open(&path).map_err(|source| LogError {
        path,
        op: "create a segment",
        source,
    })
}

/// The starts of the segments in `dir`, oldest first.
fn segments_in(dir: &Path) -> Result<Vec<u64>, LogError> {
    let err = |source| LogError { path: dir.to_path_buf(), op: "list its segments", source };
    let mut starts = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let name = entry.map_err(err)?.file_name();
        if let Some(start) = name.to_str().and_then(|n| n.strip_suffix(".jsonl")).and_then(|n| n.parse().ok()) {
            starts.push(start);
        }
    }
    starts.sort_unstable();
    Ok(starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| String::from_utf8(l.bytes.clone()).unwrap()).collect()
    }

    #[test]
    fn lines_are_read_back_across_segments_and_loaded_segments_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(dir.path(), 16, 0, false).unwrap();
        for i in 0..10 {
            log.append(format!("event-{i}\n").as_bytes()).unwrap();
        }
        assert_eq!(log.end(), 80);
        let mut reader = Reader::at(0);
        let first = reader.read(&log, 3, usize::MAX).unwrap();
        assert_eq!(texts(&first), ["event-0", "event-1", "event-2"]);
        let rest = reader.read(&log, 100, usize::MAX).unwrap();
        assert_eq!(texts(&rest).len(), 7);
        assert_eq!(rest.last().unwrap().end, 80);
        assert_eq!(log.delete_before(80).unwrap(), 4, "every segment but the current one");
        assert_eq!(segments_in(dir.path()).unwrap(), [64]);

        // reopened: a new segment after the last, reading on where the store got to; reopened
        // again with nothing appended, the empty segment is taken, not a new one made
        drop(log);
        let log = Log::open(dir.path(), 16, 80, false).unwrap();
        assert_eq!(segments_in(dir.path()).unwrap(), [64, 80]);
        drop(log);
        let log = Log::open(dir.path(), 16, 80, false).unwrap();
        assert_eq!(segments_in(dir.path()).unwrap(), [64, 80]);
        log.append(b"later\n").unwrap();
        assert_eq!(texts(&Reader::at(80).read(&log, 10, usize::MAX).unwrap()), ["later"]);
    }

    #[test]
    fn a_segment_cut_short_by_a_crash_gives_its_part_line_and_appends_go_to_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(segment_path(dir.path(), 0), b"whole\npart").unwrap();
        let log = Log::open(dir.path(), 1024, 0, false).unwrap();
        log.append(b"new\n").unwrap();
        let lines = Reader::at(0).read(&log, 10, usize::MAX).unwrap();
        assert_eq!(texts(&lines), ["whole", "part", "new"]);
        assert_eq!(lines[1].end, 10, "the part ends where the next segment starts");
    }

    #[test]
    fn a_read_stops_at_the_end_of_complete_appends() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(dir.path(), 1024, 0, false).unwrap();
        log.append(b"one\n").unwrap();
        let mut reader = Reader::at(0);
        assert_eq!(texts(&reader.read(&log, 10, usize::MAX).unwrap()), ["one"]);
        assert!(reader.read(&log, 10, usize::MAX).unwrap().is_empty());
        log.append(b"two\n").unwrap();
        assert_eq!(texts(&reader.read(&log, 10, usize::MAX).unwrap()), ["two"]);
    }
}
