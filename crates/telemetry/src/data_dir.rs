//! The data directory: its layout for every crate (the database, the event log, the
//! keyed-hash secret) and the exclusive lock that keeps a second server out of it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Database file, with SQLite's `-wal` and `-shm` beside it.
pub const DB_FILE: &str = "rein.db";
/// Folder of the event log's segments.
pub const LOG_DIR: &str = "log";
/// File of the keyed-hash secret.
pub const KEY_FILE: &str = "telemetry.key";
/// File a serving process holds locked, with its process id inside.
pub const LOCK_FILE: &str = "rein.lock";
/// Length of the keyed-hash secret rein makes (64 hex digits); a shorter one is refused.
pub const KEY_LEN: usize = 64;

/// Why a data directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("data directory {}: cannot {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "data directory {} is in use by another rein (process {holder}): two servers must not share one; \
         stop it, or give this one its own `--data-dir`",
        path.display()
    )]
    InUse { path: PathBuf, holder: String },
    #[error(
        "the telemetry key file {} holds {len} bytes, fewer than the {KEY_LEN} of a key: it is empty or truncated. \
         Restore it from a backup (features hashed with another key no longer match), or, if those hashes \
         do not matter, delete it and rein makes a new key",
        path.display()
    )]
    ShortKey { path: PathBuf, len: usize },
}

/// Where a system keeps its telemetry. Opened with [`DataDir::lock`] by the one process that
/// writes it; [`DataDir::at`] names it for readers (an export while a server runs).
#[derive(Debug)]
pub struct DataDir {
    root: PathBuf,
    /// Held for as long as the writer lives; the OS releases it when the process ends,
    /// however it ends.
    _lock: Option<File>,
}

impl DataDir {
    /// The directory for reading only: no lock is taken, nothing is created.
    pub fn at(root: &Path) -> DataDir {
        DataDir { root: root.to_path_buf(), _lock: None }
    }

    /// Creates the directory if needed and takes its exclusive lock: a second process on
    /// the same directory is refused, naming the process that holds it.
    pub fn lock(root: &Path) -> Result<DataDir, DataDirError> {
        let io = |op| move |source| DataDirError::Io { path: root.to_path_buf(), op, source };
        std::fs::create_dir_all(root).map_err(io("create it"))?;
        let path = root.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("open its lock file"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "unknown".to_string(),
                    pid => pid.to_string(),
                };
                return Err(DataDirError::InUse { path: root.to_path_buf(), holder });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(io("lock it")(source)),
        }
        file.set_len(0).and_then(|()| file.rewind()).map_err(io("write its lock file"))?;
        write!(file, "{}", std::process::id()).map_err(io("write its lock file"))?;
        Ok(DataDir { root: root.to_path_buf(), _lock: Some(file) })
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn database(&self) -> PathBuf {
        self.root.join(DB_FILE)
    }

    pub fn log(&self) -> PathBuf {
        self.root.join(LOG_DIR)
    }

    pub fn key_file(&self) -> PathBuf {
        self.root.join(KEY_FILE)
    }

    /// The keyed-hash secret: made once per data directory, kept beside the data, so hashes
    /// stay comparable across restarts and differ between deployments.
    pub fn hash_key(&self) -> Result<Vec<u8>, DataDirError> {
        let path = self.key_file();
        if let Some(key) = read_key(&path)? {
            return Ok(key);
        }
        create_key(&path)?;
        // Whoever linked first won: everyone uses the key on disk.
        read_key(&path)?.ok_or_else(|| DataDirError::Io {
            path: path.clone(),
            op: "read the key it just made",
            source: std::io::ErrorKind::NotFound.into(),
        })
    }
}

fn read_key(path: &Path) -> Result<Option<Vec<u8>>, DataDirError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(DataDirError::Io { path: path.to_path_buf(), op: "read the key file", source }),
    };
    let key = text.trim();
    if key.len() < KEY_LEN {
        return Err(DataDirError::ShortKey { path: path.to_path_buf(), len: key.len() });
    }
    Ok(Some(key.as_bytes().to_vec()))
}

/// Writes a new key to a private temp file (0600 from the start), then hard-links it into
/// place, which never overwrites: a concurrent start never sees a partial key, and the
/// first key linked is the one every process uses.
fn create_key(path: &Path) -> Result<(), DataDirError> {
    let key = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let tmp = path.with_file_name(format!(".{KEY_FILE}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let linked = write_private(&tmp, key.as_bytes()).and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            // Best effort: keep the new name across a power loss, or later hashes would change.
            if let Some(dir) = path.parent() {
                let _ = File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(DataDirError::Io { path: path.to_path_buf(), op: "create the key file", source }),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_directory_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::lock(dir.path()).unwrap();
        let e = DataDir::lock(dir.path()).unwrap_err().to_string();
        assert!(e.contains(&dir.path().display().to_string()), "{e}");
        assert!(e.contains(&format!("process {}", std::process::id())), "{e}");
        assert!(e.contains("--data-dir"), "{e}");
        drop(first);
        DataDir::lock(dir.path()).expect("free again once the holder is gone");
    }

    #[test]
    fn a_new_key_is_private_from_the_start_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::at(dir.path());
        let key = data.hash_key().unwrap();
        assert_eq!(key.len(), KEY_LEN);
        assert_eq!(data.hash_key().unwrap(), key, "the same key on every start");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.key_file()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, [KEY_FILE], "no temp file is left behind");
    }

    #[test]
    fn an_empty_or_truncated_key_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::at(dir.path());
        for short in ["", "\n", &"a".repeat(KEY_LEN - 1)] {
            std::fs::write(data.key_file(), short).unwrap();
            let e = data.hash_key().unwrap_err().to_string();
            assert!(e.contains(&data.key_file().display().to_string()), "{e}");
            assert!(e.contains("truncated") && e.contains("delete it"), "{e}");
        }
        // a key set by an operator, at least as long, is used as it is
        std::fs::write(data.key_file(), format!("{}\n", "k".repeat(KEY_LEN + 8))).unwrap();
        assert_eq!(data.hash_key().unwrap(), "k".repeat(KEY_LEN + 8).into_bytes());
    }

    #[test]
    fn processes_starting_at_once_agree_on_one_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let start = std::sync::Barrier::new(8);
            let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
                let workers: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            DataDir::at(dir.path()).hash_key().unwrap()
                        })
                    })
                    .collect();
                workers.into_iter().map(|w| w.join().unwrap()).collect()
            });
            assert!(keys.iter().all(|k| *k == keys[0]), "every start uses the first key written");
        }
    }
}
