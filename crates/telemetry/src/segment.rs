//! A journal segment: a file of fixed size, mapped into memory, that holds JSON lines
//! from its start and zeros after them.
//!
//! An append copies its lines into the mapping: no system call, and the bytes are in the
//! page cache, so they survive a crash of rein as a `write` would (`sync` asks for an
//! `msync` as well, for power loss). The file's blocks are written when it is made, so
//! an append never needs disk space and never fails for a full disk; a loaded segment is
//! zeroed and used again, so its pages stay in memory. A reader skips NUL bytes (JSON
//! text has none).

use crate::event_log::Lines;
use memmap2::MmapMut;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Size of every journal segment: room for a few batches of typical events. An append
/// that does not fit is refused, and the writer commits it to the store directly.
pub(crate) const SEGMENT_BYTES: usize = 4 << 20;

pub(crate) struct Segment {
    path: PathBuf,
    /// The file's bytes; the mapping outlives the file handle it was made from.
    map: MmapMut,
    /// Bytes of lines from the start; zeros from here on.
    len: usize,
}

impl Segment {
    /// Makes a segment of `size` zero bytes at `path` (replacing any file there), its
    /// blocks written so later appends need no disk space; with `sync`, on disk before
    /// it returns.
    /// A file that cannot be made whole (a full disk) is removed again.
    pub(crate) fn create(path: &Path, size: usize, sync: bool) -> std::io::Result<Segment> {
        let made = Self::make(path, size, sync);
        if made.is_err() {
            let _ = std::fs::remove_file(path);
        }
        made
    }

    fn make(path: &Path, size: usize, sync: bool) -> std::io::Result<Segment> {
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path)?;
        let zeros = vec![0u8; 64 << 10];
        let mut left = size;
        while left > 0 {
            let n = left.min(zeros.len());
            file.write_all(&zeros[..n])?;
            left -= n;
        }
        if sync {
            file.sync_all()?;
        }
        // SAFETY: the file is rein's own, in its data directory, and never truncated
        // while mapped; no other process is meant to write it.
        let map = unsafe { MmapMut::map_mut(&file)? };
        Ok(Segment { path: path.to_owned(), map, len: 0 })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Gives the segment a new name (a rename of its file).
    pub(crate) fn rename(&mut self, to: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, to)?;
        self.path = to.to_owned();
        Ok(())
    }

    /// Whether more than half of the segment holds lines: time to seal it, however few
    /// events that is, so that large events do not run it full.
    pub(crate) fn half_full(&self) -> bool {
        self.len * 2 > self.map.len()
    }

    /// Whether `lines` fit after what the segment holds.
    pub(crate) fn fits(&self, lines: &Lines) -> bool {
        self.len + lines.bytes().len() <= self.map.len()
    }

    /// Copies `lines` after what the segment holds; with `sync`, returns once they are
    /// on disk. The caller checks [`Self::fits`] first.
    pub(crate) fn append(&mut self, lines: &Lines, sync: bool) -> std::io::Result<()> {
        let bytes = lines.bytes();
        let end = self.len + bytes.len();
        if end > self.map.len() {
            return Err(std::io::Error::other(format!(
                "a journal segment holds {} bytes; these lines need {end}",
                self.map.len()
            )));
        }
        self.map[self.len..end].copy_from_slice(bytes);
        if sync {
            self.map.flush_range(self.len, bytes.len())?;
        }
        self.len = end;
        Ok(())
    }

    /// Zeros what the segment holds, so it can take lines again; with `sync`, the zeros
    /// are on disk before it returns (else a power loss could bring old lines back).
    pub(crate) fn clear(&mut self, sync: bool) -> std::io::Result<()> {
        self.map[..self.len].fill(0);
        if sync && self.len > 0 {
            self.map.flush_range(0, self.len)?;
        }
        self.len = 0;
        Ok(())
    }

    /// Removes the segment's file.
    pub(crate) fn remove(self) -> std::io::Result<()> {
        drop(self.map);
        std::fs::remove_file(&self.path)
    }
}

/// The events a journal file holds: its lines, NUL bytes skipped (as a replay does).
pub(crate) fn count_lines(bytes: &[u8]) -> u64 {
    bytes.split(|&b| b == b'\n' || b == 0).filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Event, FeedbackEvent};

    fn event(id: &str) -> Event {
        let json = format!(r#"{{"id":"{id}","prediction_id":"p-1","time_ms":1,"kind":"correct"}}"#);
        Event::Feedback(serde_json::from_str::<FeedbackEvent>(&json).unwrap())
    }

    #[test]
    fn appends_are_in_the_file_and_a_cleared_segment_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let mut seg = Segment::create(&path, 4096, false).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096, "blocks written up front");
        let lines = Lines::of(&[event("a"), event("b")]).unwrap();
        seg.append(&lines, false).unwrap();
        seg.append(&Lines::of(&[event("c")]).unwrap(), true).unwrap();
        // another reader of the file (a replay after a crash) sees the lines, then zeros
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(count_lines(&bytes), 3);
        let store = crate::sqlite::SqliteStore::open(dir.path()).unwrap();
        let (replayed, corrupt) = crate::event_log::replay_file(&path, &store, 2).unwrap();
        assert_eq!((replayed, corrupt), (3, 0));

        seg.clear(true).unwrap();
        assert_eq!(count_lines(&std::fs::read(&path).unwrap()), 0);
        assert_eq!(crate::event_log::replay_file(&path, &store, 2).unwrap(), (0, 0));
        seg.append(&Lines::of(&[event("d")]).unwrap(), false).unwrap();
        assert_eq!(count_lines(&std::fs::read(&path).unwrap()), 1, "a cleared segment takes lines from its start");
    }

    #[test]
    fn lines_that_do_not_fit_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(&dir.path().join("seg"), 100, false).unwrap();
        let lines = Lines::of(&[event("a"), event("b")]).unwrap();
        assert!(!seg.fits(&lines));
        assert!(seg.append(&lines, false).is_err());
        assert_eq!(count_lines(&std::fs::read(seg.path()).unwrap()), 0);
    }

    #[test]
    fn lines_after_a_hole_of_zeros_are_replayed_too() {
        // what a power loss can leave: a line, a page never written back, more lines
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let mut bytes = Lines::of(&[event("a")]).unwrap().bytes().to_vec();
        let torn = Lines::of(&[event("b")]).unwrap();
        bytes.extend_from_slice(&torn.bytes()[..20]);
        bytes.extend(std::iter::repeat_n(0u8, 4096));
        bytes.extend_from_slice(Lines::of(&[event("c"), event("d")]).unwrap().bytes());
        bytes.extend(std::iter::repeat_n(0u8, 4096));
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(count_lines(&bytes), 4, "three events and the torn start of one");
        let store = crate::sqlite::SqliteStore::open(dir.path()).unwrap();
        assert_eq!(crate::event_log::replay_file(&path, &store, 8).unwrap(), (3, 1));
    }

    #[test]
    fn a_line_torn_by_a_crash_is_rejected_and_the_rest_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let mut seg = Segment::create(&path, 4096, false).unwrap();
        seg.append(&Lines::of(&[event("a")]).unwrap(), false).unwrap();
        let torn = Lines::of(&[event("b")]).unwrap();
        let half = &torn.bytes()[..torn.bytes().len() / 2];
        seg.map[seg.len..seg.len + half.len()].copy_from_slice(half);
        let store = crate::sqlite::SqliteStore::open(dir.path()).unwrap();
        assert_eq!(crate::event_log::replay_file(&path, &store, 8).unwrap(), (1, 1));
        assert!(dir.path().join("seg.rejected").exists(), "the torn line is kept for a person to see");
    }
}
