//! [`Registry`]: versions and alias moves in a database of their own, artifacts stored by
//! content beside it (`models/sha256/<hex>.onnx`).
//!
//! Why not a table in the telemetry store (`rein.db`): that database has one writer, the
//! telemetry loader, and retention and `max_store_mb` prune it; the registry is written
//! by `rein models` while a server runs, and nothing in it may ever be pruned.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rein_system::Component;
use rein_telemetry::clock::Clock;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::check::{self, Checked};
use crate::error::RegistryError;
use crate::history::{self, AliasMove};
use crate::version::{self, NewVersion, Version};

/// The registry's folder in a data directory.
pub const DIR: &str = "models";
/// Its database, in [`DIR`].
pub const DB_FILE: &str = "registry.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS versions (
    component TEXT NOT NULL,
    id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    registered_at_ms INTEGER NOT NULL,
    registered_by TEXT NOT NULL,
    parent TEXT,
    source TEXT NOT NULL,
    provenance TEXT NOT NULL,
    PRIMARY KEY (component, id),
    UNIQUE (component, sha256)
);
CREATE TABLE IF NOT EXISTS alias_moves (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    component TEXT NOT NULL,
    alias TEXT NOT NULL,
    version TEXT NOT NULL,
    previous TEXT,
    at_ms INTEGER NOT NULL,
    by TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alias_moves_component ON alias_moves (component, seq);
-- versions are immutable and the history append-only: the database refuses otherwise
CREATE TRIGGER IF NOT EXISTS versions_immutable BEFORE UPDATE ON versions
    BEGIN SELECT RAISE(ABORT, 'a registered version never changes'); END;
CREATE TRIGGER IF NOT EXISTS versions_kept BEFORE DELETE ON versions
    BEGIN SELECT RAISE(ABORT, 'a registered version is never deleted'); END;
CREATE TRIGGER IF NOT EXISTS alias_moves_immutable BEFORE UPDATE ON alias_moves
    BEGIN SELECT RAISE(ABORT, 'the alias history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS alias_moves_kept BEFORE DELETE ON alias_moves
    BEGIN SELECT RAISE(ABORT, 'the alias history is append-only'); END;
-- rollouts (`rollouts.rs`): each one's newest state, and every action, append-only
CREATE TABLE IF NOT EXISTS rollouts (
    id TEXT PRIMARY KEY,
    component TEXT NOT NULL,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rollouts_component ON rollouts (component, started_at_ms);
CREATE TABLE IF NOT EXISTS rollout_actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout TEXT NOT NULL,
    action TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS rollout_actions_immutable BEFORE UPDATE ON rollout_actions
    BEGIN SELECT RAISE(ABORT, 'the rollout record is append-only'); END;
CREATE TRIGGER IF NOT EXISTS rollout_actions_kept BEFORE DELETE ON rollout_actions
    BEGIN SELECT RAISE(ABORT, 'the rollout record is append-only'); END;
";

/// A data directory's model registry. Safe to share between threads, and to open from
/// several processes at once (`rein models` beside a running server): SQLite serializes
/// their writes.
pub struct Registry {
    dir: PathBuf,
    db_path: PathBuf,
    conn: Mutex<Connection>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("dir", &self.dir).finish()
    }
}

/// What registering bytes came to.
#[derive(Debug, Clone)]
pub struct Registered {
    pub version: Version,
    /// The version loaded and checked against the component.
    pub checked: Checked,
    /// False when the bytes were already this version: nothing new was stored.
    pub created: bool,
}

/// What an alias move came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Moved {
    /// The move that sets the alias now: the new one, or the earlier one it already was.
    pub record: AliasMove,
    /// False when nothing was recorded: the alias already named that version, moved there
    /// by the same `by`.
    pub changed: bool,
}

impl Registry {
    /// The registry of the data directory `data_dir` (`<data_dir>/models/`), created if needed.
    pub fn in_data_dir(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<Registry, RegistryError> {
        Registry::open(&data_dir.join(DIR), clock)
    }

    /// The registry in folder `dir`, created if needed.
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<Registry, RegistryError> {
        let io = |op| move |source| RegistryError::Io { path: dir.to_path_buf(), op, source };
        std::fs::create_dir_all(dir.join("sha256")).map_err(io("create its folder"))?;
        let db_path = dir.join(DB_FILE);
        let db = |op| {
            let path = db_path.clone();
            move |source| RegistryError::Database { path, op, source }
        };
        let conn = Connection::open(&db_path).map_err(db("open its database"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(db("set its busy timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db("set its journal mode"))?;
        conn.execute_batch(SCHEMA).map_err(db("create its tables"))?;
        Ok(Registry { dir: dir.to_path_buf(), db_path, conn: Mutex::new(conn), clock })
    }

    /// Its folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Where the artifact of digest `sha256` is stored.
    pub fn artifact_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("sha256").join(format!("{sha256}.onnx"))
    }

    /// Registers `new` as a version of `component`, once it has loaded and passed the checks
    /// ([`check::check`]): a refused artifact is neither stored nor registered. Bytes the
    /// component already holds answer the version they are (`created: false`).
    pub fn register(
        &self,
        component: &Component,
        runtime: &rein_runtime::Runtime,
        new: NewVersion,
    ) -> Result<Registered, RegistryError> {
        self.register_with(component, new, |id, bytes, source| check::check(component, id, bytes, source, runtime))
    }

    /// [`Registry::register`] with the check given: `check(id, bytes, source)`.
    pub fn register_with(
        &self,
        component: &Component,
        new: NewVersion,
        check: impl FnOnce(&str, &[u8], &Path) -> Result<Checked, crate::CheckError>,
    ) -> Result<Registered, RegistryError> {
        if new.component != component.name {
            return Err(RegistryError::BadId(format!(
                "the version is for component `{}`, not `{}`",
                new.component, component.name
            )));
        }
        let sha256 = version::sha256_hex(&new.bytes);
        if let Some(id) = &new.id
            && let Some(problem) = version::id_problem(id)
        {
            return Err(RegistryError::BadId(problem));
        }
        check_profile(component, new.provenance.profile.as_ref())?;
        let existing = self.versions(&component.name)?;
        if let Some(v) = existing.iter().find(|v| v.sha256 == sha256) {
            if let Some(asked) = new.id.as_ref().filter(|asked| **asked != v.id) {
                return Err(RegistryError::AlreadyRegistered {
                    component: component.name.clone(),
                    existing: v.id.clone(),
                    asked: asked.clone(),
                    sha256,
                });
            }
            let checked = check(&v.id, &new.bytes, Path::new(&new.source))?;
            return Ok(Registered { version: v.clone(), checked, created: false });
        }
        let id = new.id.clone().unwrap_or_else(|| version::default_id(&sha256));
        if let Some(v) = existing.iter().find(|v| v.id == id) {
            return Err(RegistryError::IdTaken {
                component: component.name.clone(),
                id,
                existing: v.sha256.clone(),
                new: sha256,
            });
        }
        if let Some(parent) = &new.parent
            && !existing.iter().any(|v| v.id == *parent)
        {
            return Err(RegistryError::UnknownParent {
                component: component.name.clone(),
                parent: parent.clone(),
                known: existing.iter().map(|v| v.id.clone()).collect(),
            });
        }
        let checked = check(&id, &new.bytes, Path::new(&new.source))?;
        self.store_artifact(&sha256, &new.bytes)?;
        let version = Version {
            component: component.name.clone(),
            id,
            sha256,
            size_bytes: new.bytes.len() as u64,
            registered_at_ms: self.clock.unix_ms(),
            registered_by: new.registered_by,
            parent: new.parent,
            source: new.source,
            provenance: new.provenance,
        };
        let provenance = serde_json::to_string(&version.provenance).unwrap_or_else(|_| "{}".into());
        let inserted = self.conn().execute(
            "INSERT INTO versions (component, id, sha256, size_bytes, registered_at_ms, registered_by, parent, source, provenance)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                version.component,
                version.id,
                version.sha256,
                version.size_bytes as i64,
                version.registered_at_ms,
                version.registered_by,
                version.parent,
                version.source,
                provenance
            ],
        );
        match inserted {
            Ok(_) => Ok(Registered { version, checked, created: true }),
            // another process registered it between our read and this write: answer what is there
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                let now = self.versions(&component.name)?;
                match now.into_iter().find(|v| v.sha256 == version.sha256 && v.id == version.id) {
                    Some(v) => Ok(Registered { version: v, checked, created: false }),
                    None => Err(RegistryError::BadId(format!(
                        "version `{}` of component `{}` was registered at the same time with other bytes",
                        version.id, component.name
                    ))),
                }
            }
            Err(source) => Err(self.db_error("record the version", source)),
        }
    }

    /// Every version of `component`, oldest first.
    pub fn versions(&self, component: &str) -> Result<Vec<Version>, RegistryError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT component, id, sha256, size_bytes, registered_at_ms, registered_by, parent, source, provenance
                 FROM versions WHERE component = ?1 ORDER BY registered_at_ms, rowid",
            )
            .map_err(|e| self.db_error("read the versions", e))?;
        let rows = stmt
            .query_map(params![component], |r| {
                let provenance: String = r.get(8)?;
                Ok(Version {
                    component: r.get(0)?,
                    id: r.get(1)?,
                    sha256: r.get(2)?,
                    size_bytes: r.get::<_, i64>(3)? as u64,
                    registered_at_ms: r.get(4)?,
                    registered_by: r.get(5)?,
                    parent: r.get(6)?,
                    source: r.get(7)?,
                    provenance: serde_json::from_str(&provenance).unwrap_or_default(),
                })
            })
            .map_err(|e| self.db_error("read the versions", e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.db_error("read the versions", e))
    }

    /// Version `id` of `component`, or an error listing its versions.
    pub fn version(&self, component: &str, id: &str) -> Result<Version, RegistryError> {
        let versions = self.versions(component)?;
        match versions.iter().find(|v| v.id == id) {
            Some(v) => Ok(v.clone()),
            None => Err(RegistryError::UnknownVersion {
                component: component.to_string(),
                version: id.to_string(),
                known: versions.into_iter().map(|v| v.id).collect(),
            }),
        }
    }

    /// The bytes of `version`'s artifact, checked against its digest: a stored file that
    /// changed is refused, never served.
    pub fn read_artifact(&self, version: &Version) -> Result<Vec<u8>, RegistryError> {
        let path = self.artifact_path(&version.sha256);
        let bytes = std::fs::read(&path).map_err(|source| RegistryError::Io {
            path: path.clone(),
            op: "read an artifact",
            source,
        })?;
        let found = version::sha256_hex(&bytes);
        if found != version.sha256 {
            return Err(RegistryError::CorruptArtifact {
                component: version.component.clone(),
                version: version.id.clone(),
                path,
                expected: version.sha256.clone(),
                found,
            });
        }
        Ok(bytes)
    }

    /// Loads and checks version `id` of `component` from its stored artifact.
    pub fn load(
        &self,
        component: &Component,
        id: &str,
        runtime: &rein_runtime::Runtime,
    ) -> Result<(Version, Checked), RegistryError> {
        let version = self.version(&component.name, id)?;
        let bytes = self.read_artifact(&version)?;
        let checked = check::check(component, id, &bytes, &self.artifact_path(&version.sha256), runtime)?;
        Ok((version, checked))
    }

    /// Every alias move of `component`, oldest first.
    pub fn history(&self, component: &str) -> Result<Vec<AliasMove>, RegistryError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT seq, component, alias, version, previous, at_ms, by, reason FROM alias_moves
                 WHERE component = ?1 ORDER BY seq",
            )
            .map_err(|e| self.db_error("read the alias history", e))?;
        let rows =
            stmt.query_map(params![component], read_move).map_err(|e| self.db_error("read the alias history", e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.db_error("read the alias history", e))
    }

    /// `component`'s aliases as they stand: alias → version.
    pub fn aliases(&self, component: &str) -> Result<BTreeMap<String, String>, RegistryError> {
        Ok(history::current(&self.history(component)?))
    }

    /// Points `alias` at the version `checked` is, recording the move; only a version that
    /// passed the checks can be named. Moves are timed by the registry's clock, never
    /// before the previous move, so the history reads in order.
    pub fn move_alias(&self, checked: &Checked, alias: &str, by: &str, reason: &str) -> Result<Moved, RegistryError> {
        self.move_alias_at(checked, alias, by, reason, self.clock.unix_ms())
    }

    /// The registry clock's time, unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.unix_ms()
    }

    /// [`Registry::move_alias`] at `at_ms`, read from [`Registry::now_ms`] by a caller that
    /// acted at that instant (a server swapping the version it serves).
    pub fn move_alias_at(
        &self,
        checked: &Checked,
        alias: &str,
        by: &str,
        reason: &str,
        at_ms: i64,
    ) -> Result<Moved, RegistryError> {
        if let Some(problem) = version::alias_problem(alias) {
            return Err(RegistryError::BadAlias(problem));
        }
        let component = checked.component();
        self.version(component, checked.version())?;
        let mut conn = self.conn();
        let err = |e| RegistryError::Database { path: self.db_path.clone(), op: "record the alias move", source: e };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let last: Option<AliasMove> = tx
            .query_row(
                "SELECT seq, component, alias, version, previous, at_ms, by, reason FROM alias_moves
                 WHERE component = ?1 AND alias = ?2 ORDER BY seq DESC LIMIT 1",
                params![component, alias],
                read_move,
            )
            .optional()
            .map_err(err)?;
        // the same move by the same hand says nothing new; by another hand it is recorded:
        // the alias is now that person's (start-up no longer moves it with the system file)
        if let Some(record) = &last
            && record.version == checked.version()
            && record.by == by
        {
            return Ok(Moved { record: record.clone(), changed: false });
        }
        let latest: Option<i64> = tx
            .query_row("SELECT MAX(at_ms) FROM alias_moves WHERE component = ?1", params![component], |r| r.get(0))
            .map_err(err)?;
        let at_ms = at_ms.max(latest.unwrap_or(i64::MIN));
        let previous = last.map(|l| l.version);
        tx.execute(
            "INSERT INTO alias_moves (component, alias, version, previous, at_ms, by, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![component, alias, checked.version(), previous, at_ms, by, reason],
        )
        .map_err(err)?;
        let seq = tx.last_insert_rowid();
        tx.commit().map_err(err)?;
        let record = AliasMove {
            seq,
            component: component.to_string(),
            alias: alias.to_string(),
            version: checked.version().to_string(),
            previous,
            at_ms,
            by: by.to_string(),
            reason: reason.to_string(),
        };
        Ok(Moved { record, changed: true })
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn db_error(&self, op: &'static str, source: rusqlite::Error) -> RegistryError {
        RegistryError::Database { path: self.db_path.clone(), op, source }
    }

    /// Writes the artifact under its digest: to a temporary file, synced, then renamed into
    /// place, so a reader never sees a partial one. Bytes already stored are left as they are.
    fn store_artifact(&self, sha256: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        let path = self.artifact_path(sha256);
        if path.is_file() && std::fs::read(&path).is_ok_and(|b| version::sha256_hex(&b) == sha256) {
            return Ok(());
        }
        let tmp = self.dir.join("sha256").join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
        let io = |op| {
            let path = path.clone();
            move |source| RegistryError::Io { path, op, source }
        };
        let written = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(io("store the artifact"))?;
        if let Some(dir) = path.parent() {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

/// A row of `alias_moves`, its columns in table order.
fn read_move(r: &rusqlite::Row<'_>) -> rusqlite::Result<AliasMove> {
    Ok(AliasMove {
        seq: r.get(0)?,
        component: r.get(1)?,
        alias: r.get(2)?,
        version: r.get(3)?,
        previous: r.get(4)?,
        at_ms: r.get(5)?,
        by: r.get(6)?,
        reason: r.get(7)?,
    })
}

/// A profile kept with a version must be a JSON object, of this component when it says.
fn check_profile(component: &Component, profile: Option<&serde_json::Value>) -> Result<(), RegistryError> {
    let Some(profile) = profile else { return Ok(()) };
    let Some(object) = profile.as_object() else {
        return Err(RegistryError::BadProfile {
            what: "a reference profile".into(),
            problem: "it is not a JSON object (write it with `rein profile`)".into(),
        });
    };
    match object.get("component").and_then(|c| c.as_str()) {
        Some(named) if named != component.name => Err(RegistryError::BadProfile {
            what: format!("of component `{}`", component.name),
            problem: format!("it profiles component `{named}`"),
        }),
        _ => Ok(()),
    }
}
