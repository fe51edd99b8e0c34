//! The embedded SQLite store (the default), one file `rein.db` in the data
//! directory.
//!
//! Durability: the database runs in WAL mode. With `synchronous=FULL` (the
//! default, [`Synchronous::Full`]) the WAL is fsynced at every commit, so a
//! committed batch survives a process crash *and* a power loss or OS crash;
//! group commit makes many events share one fsync. With
//! [`Synchronous::Normal`] a commit survives a process crash (`kill -9`) but
//! the last commits before a power loss may roll back; it saves the fsync.
//!
//! Writes use one dedicated connection (the loader thread is its only user: loads and
//! retention). Reads use a small pool of separate connections, which WAL lets run alongside
//! the writer. SQLite checkpoints the WAL itself after a commit, on the loader's thread,
//! which no answer waits for.

use crate::StoreError;
use crate::events::{
    Event, EventKind, FeedbackEvent, FeedbackKind, FeedbackSource, JsonText, OutcomeEvent, PredictionEvent,
};
use crate::store::{AlertQuery, AlertRecord, MonitorStateRecord};
use crate::store::{
    Counts, Cursor, LogPosition, Order, OutcomeName, OutcomeQuery, Page, PredictionRecord, PredictionVisitor,
    ScanQuery, ShadowPair, ShadowQuery, ShadowVisitor, Store, UnitVisitor, ValueSummary, WindowQuery, WriteReport,
};
use rusqlite::{Connection, OpenFlags, Row, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

pub use crate::data_dir::DB_FILE;

/// Versioned migrations, applied in order, each in its own transaction and
/// recorded in `schema_migrations(version, applied_at)`. Append only: never
/// edit a released migration.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE predictions (
        id TEXT NOT NULL PRIMARY KEY,
        time_ms INTEGER NOT NULL,
        system TEXT NOT NULL,
        component TEXT NOT NULL,
        unit TEXT,
        model_name TEXT NOT NULL,
        model_version TEXT NOT NULL,
        variant TEXT NOT NULL DEFAULT 'main',
        features TEXT NOT NULL,
        raw_output TEXT NOT NULL,
        guardrails TEXT NOT NULL,
        output TEXT NOT NULL,
        mode TEXT NOT NULL,
        reason TEXT NOT NULL,
        fallback INTEGER NOT NULL,
        latency_us INTEGER NOT NULL
    );
    CREATE INDEX predictions_component_time ON predictions (component, time_ms, id);
    CREATE INDEX predictions_time ON predictions (time_ms, id);
    CREATE TABLE feedback (
        seq INTEGER PRIMARY KEY,
        prediction_id TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        label TEXT,
        value REAL,
        unit TEXT,
        comment TEXT,
        source TEXT NOT NULL,
        idempotency_key TEXT UNIQUE
    );
    CREATE INDEX feedback_prediction ON feedback (prediction_id);
    CREATE INDEX feedback_time ON feedback (time_ms);
    CREATE TABLE outcomes (
        seq INTEGER PRIMARY KEY,
        time_ms INTEGER NOT NULL,
        unit TEXT,
        prediction_id TEXT,
        name TEXT NOT NULL,
        value REAL
    );
    CREATE INDEX outcomes_prediction ON outcomes (prediction_id);
    CREATE INDEX outcomes_time ON outcomes (time_ms);",
    ),
    // Feedback and outcomes get event ids, so a replayed event (journal, spill file) is
    // stored once. Rows from before have none; they read as `seq-N`.
    (
        2,
        "ALTER TABLE feedback ADD COLUMN id TEXT;
    CREATE UNIQUE INDEX feedback_id ON feedback (id);
    ALTER TABLE outcomes ADD COLUMN id TEXT;
    CREATE UNIQUE INDEX outcomes_id ON outcomes (id);",
    ),
    // The event log position the store holds everything before, written in the same
    // transaction as the events, so a restart resumes loading exactly there.
    (3, "CREATE TABLE log_position (stream INTEGER PRIMARY KEY, loaded_to INTEGER NOT NULL);"),
    // The decision is kept as the object the answer holds (`{"mode", "reason", "capped"}`),
    // in what was `reason`: rows before held that object's JSON text there, which stays; any
    // other text becomes `{"mode", "reason": {"kind": "unknown", "text"}}`, as
    // `events::decision_of_reason` reads it. A fallback keeps the model's error, which rows
    // before did not: theirs is the one their decision names, if it does.
    (
        4,
        "ALTER TABLE predictions RENAME COLUMN reason TO decision;
    UPDATE predictions
        SET decision = json_object('mode', mode, 'reason', json_object('kind', 'unknown', 'text', decision))
        WHERE CASE WHEN json_valid(decision)
                   THEN json_type(decision) != 'object' OR json_type(decision, '$.mode') IS NULL
                        OR json_type(decision, '$.reason') IS NULL
                   ELSE 1 END;
    ALTER TABLE predictions ADD COLUMN fallback_error TEXT;
    UPDATE predictions
        SET fallback_error = COALESCE(
            CASE WHEN json_extract(decision, '$.reason.kind') = 'fallback'
                 THEN json_extract(decision, '$.reason.error') END,
            'the model failed (its error was not recorded)')
        WHERE fallback != 0;",
    ),
    // Monitoring: the alerts monitors opened and closed (the alert itself as JSON, what
    // lists and orders them beside it), and each monitor's standing between windows, so a
    // restart resumes where it stopped without opening an alert twice.
    (
        5,
        "CREATE TABLE alerts (
        id TEXT NOT NULL PRIMARY KEY,
        monitor TEXT NOT NULL,
        severity TEXT NOT NULL,
        opened_ms INTEGER NOT NULL,
        closed_ms INTEGER,
        body TEXT NOT NULL
    );
    CREATE INDEX alerts_opened ON alerts (opened_ms, id);
    CREATE INDEX alerts_monitor ON alerts (monitor, opened_ms);
    CREATE TABLE monitor_state (
        monitor TEXT NOT NULL PRIMARY KEY,
        state TEXT NOT NULL,
        updated_ms INTEGER NOT NULL
    );",
    ),
    // A traffic plan's experiment, and the prediction a shadow's prediction copies: rows
    // before were served by no plan (variant `main`) and shadowed nothing.
    (
        6,
        "ALTER TABLE predictions ADD COLUMN experiment TEXT;
    ALTER TABLE predictions ADD COLUMN shadow_of TEXT;",
    ),
    // The shadow predictions alone, by component and time, for their comparison with what
    // they copy: only a shadow's row pays for the entry. On 200,000 predictions, reading the
    // 2,000 of a 1% shadow takes 34 ms instead of 123 ms through the component's time index,
    // and 100,000 of a 50% one 0.76 s instead of 1.09 s (bench/shadow_read.py).
    (7, "CREATE INDEX predictions_shadows ON predictions (component, time_ms, id) WHERE shadow_of IS NOT NULL;"),
];

/// Page size of a new store. Rows here are about a kilobyte and written in transactions of
/// hundreds: 16 KiB pages cut the store's CPU an event by about a sixth against SQLite's
/// default 4 KiB (`cargo run --release -p rein-telemetry --example commit_size`, BENCHMARKS.md).
const PAGE_BYTES: i64 = 16 * 1024;

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// SQLite's `synchronous` pragma for the write connection (WAL mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// fsync the WAL at every commit: a commit survives power loss.
    #[default]
    Full,
    /// No fsync at commit: a commit survives a process crash, not a power loss.
    Normal,
}

/// Options of [`SqliteStore::open_with`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub synchronous: Synchronous,
    /// How long a statement waits for a lock held by another connection.
    pub busy_timeout: Duration,
    /// Read connections kept open between reads.
    pub max_idle_readers: usize,
    /// A quota on the database file (SQLite `max_page_count`): past it,
    /// writes fail with `database or disk is full`, as on a full disk.
    pub max_db_bytes: Option<u64>,
}

/// SQLite checkpoints the WAL once a commit leaves it this large, whatever the page size.
const WAL_CHECKPOINT_BYTES: i64 = 16 * 1024 * 1024;

/// A WAL that grew past this (a long read held checkpoints back) is cut back to it when
/// rewound, so the store's files do not keep their largest size (`PRAGMA journal_size_limit`).
const WAL_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            max_idle_readers: 4,
            max_db_bytes: None,
        }
    }
}

/// Telemetry in an embedded SQLite database.
pub struct SqliteStore {
    path: PathBuf,
    options: SqliteOptions,
    write: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).field("options", &self.options).finish()
    }
}

const INSERT_PREDICTION: &str = "INSERT INTO predictions (id, time_ms, system, component, unit, model_name,
    model_version, variant, features, raw_output, guardrails, output, mode, decision, fallback, latency_us,
    fallback_error, experiment, shadow_of)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
    ON CONFLICT (id) DO NOTHING";
// A taken event id (a replay) or idempotency key (a client's repeat) inserts nothing.
const INSERT_FEEDBACK: &str = "INSERT INTO feedback (prediction_id, time_ms, kind, label, value, unit, comment,
    source, idempotency_key, id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING";
const INSERT_OUTCOME: &str = "INSERT INTO outcomes (time_ms, unit, prediction_id, name, value, id)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";
const PREDICTION_COLUMNS: &str = "p.id, p.time_ms, p.system, p.component, p.unit, p.model_name, p.model_version,
    p.variant, p.features, p.raw_output, p.guardrails, p.output, p.mode, p.decision, p.fallback_error, p.latency_us,
    p.experiment, p.shadow_of";
const FEEDBACK_COLUMNS: &str =
    "f.prediction_id, f.time_ms, f.kind, f.label, f.value, f.unit, f.comment, f.source, f.idempotency_key,
    COALESCE(f.id, 'seq-' || f.seq)";
const OUTCOME_COLUMNS: &str = "o.time_ms, o.unit, o.prediction_id, o.name, o.value, COALESCE(o.id, 'seq-' || o.seq)";
const PRUNE_CHUNK: i64 = 5000;

impl SqliteStore {
    /// Opens (creating if needed) `data_dir/rein.db` with default options.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(data_dir, SqliteOptions::default())
    }

    /// Opens (creating if needed) `data_dir/rein.db`: creates the directory,
    /// switches to WAL, applies pending migrations, and refuses a database
    /// written by a newer schema version.
    pub fn open_with(data_dir: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.to_owned(),
            op: "create data directory",
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let err = |op| {
            let path = path.clone();
            move |source| StoreError::Sqlite { path, op, source }
        };
        let mut conn = Connection::open(&path).map_err(err("open"))?;
        conn.busy_timeout(options.busy_timeout).map_err(err("set busy timeout"))?;
        // Only a new database takes it (before its first table); an existing one keeps its own.
        conn.execute_batch(&format!("PRAGMA page_size = {PAGE_BYTES}")).map_err(err("set page size"))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(err("enable WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "telemetry store {}: could not enable WAL (journal_mode is {mode})",
                path.display()
            )));
        }
        let sync = match options.synchronous {
            Synchronous::Full => "PRAGMA synchronous = FULL",
            Synchronous::Normal => "PRAGMA synchronous = NORMAL",
        };
        conn.execute_batch(sync).map_err(err("set synchronous"))?;
        conn.set_prepared_statement_cache_capacity(32);
        migrate(&mut conn, &path)?;
        // an existing store keeps the page size it was made with
        let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).map_err(err("read page size"))?;
        let page = page.max(512);
        if let Some(bytes) = options.max_db_bytes {
            let pages = (bytes / page as u64).max(1);
            let _: i64 = conn
                .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| r.get(0))
                .map_err(err("set max_page_count"))?;
        }
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_BYTES / page)
            .map_err(err("set wal_autocheckpoint"))?;
        let _: i64 = conn
            .query_row(&format!("PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}"), [], |r| r.get(0))
            .map_err(err("set journal_size_limit"))?;
        Ok(SqliteStore { path, options, write: Mutex::new(conn), readers: Mutex::new(Vec::new()) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.read("read schema version", |c| {
            c.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
                .map_err(self.err("read schema version"))
        })
    }

    fn err(&self, op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite { path: self.path.clone(), op, source }
    }

    fn open_reader(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(self.err("open read connection"))?;
        conn.busy_timeout(self.options.busy_timeout).map_err(self.err("set busy timeout"))?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    /// Runs `f` on a pooled read connection.
    fn read<T>(
        &self,
        _op: &'static str,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let out = f(&conn);
        let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < self.options.max_idle_readers {
            pool.push(conn);
        }
        out
    }

    fn write_conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.write.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn prediction_from_row(&self, r: &Row<'_>, at: usize) -> Result<PredictionEvent, StoreError> {
        let get = |r: &Row<'_>| -> rusqlite::Result<_> {
            Ok((
                r.get::<_, String>(at)?,
                r.get::<_, i64>(at + 1)?,
                r.get::<_, String>(at + 2)?,
                r.get::<_, String>(at + 3)?,
                r.get::<_, Option<String>>(at + 4)?,
                r.get::<_, String>(at + 5)?,
                r.get::<_, String>(at + 6)?,
                r.get::<_, String>(at + 7)?,
                [
                    r.get::<_, String>(at + 8)?,
                    r.get::<_, String>(at + 9)?,
                    r.get::<_, String>(at + 10)?,
                    r.get::<_, String>(at + 11)?,
                    r.get::<_, String>(at + 13)?,
                ],
                r.get::<_, String>(at + 12)?,
                r.get::<_, Option<String>>(at + 14)?,
                r.get::<_, i64>(at + 15)?,
                [r.get::<_, Option<String>>(at + 16)?, r.get::<_, Option<String>>(at + 17)?],
            ))
        };
        let (id, time_ms, system, component, unit, model_name, model_version, variant, json, mode, fallback, lat, plan) =
            get(r).map_err(self.err("read prediction row"))?;
        let [experiment, shadow_of] = plan;
        let [features, raw_output, guardrails, output, decision] = json.map(|s| {
            JsonText::parse(s).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                what: "prediction JSON column",
                detail: format!("prediction {id}: {e}"),
            })
        });
        Ok(PredictionEvent {
            time_ms,
            system,
            component,
            unit,
            model_name,
            model_version,
            variant,
            features: features?,
            raw_output: raw_output?,
            guardrails: guardrails?,
            output: output?,
            mode,
            decision: decision?,
            fallback,
            latency_us: lat.max(0) as u64,
            experiment,
            shadow_of,
            id,
        })
    }

    fn feedback_from_row(&self, r: &Row<'_>, at: usize) -> Result<FeedbackEvent, StoreError> {
        let get = |r: &Row<'_>| -> rusqlite::Result<_> {
            Ok((
                r.get::<_, String>(at)?,
                r.get::<_, i64>(at + 1)?,
                r.get::<_, String>(at + 2)?,
                r.get::<_, Option<String>>(at + 3)?,
                r.get::<_, Option<f64>>(at + 4)?,
                r.get::<_, Option<String>>(at + 5)?,
                r.get::<_, Option<String>>(at + 6)?,
                r.get::<_, String>(at + 7)?,
                r.get::<_, Option<String>>(at + 8)?,
                r.get::<_, String>(at + 9)?,
            ))
        };
        let (prediction_id, time_ms, kind, label, value, unit, comment, source, idempotency_key, id) =
            get(r).map_err(self.err("read feedback row"))?;
        let corrupt = |what, v: &str| StoreError::Corrupt {
            path: self.path.clone(),
            what,
            detail: format!("`{v}` for prediction {prediction_id}"),
        };
        let kind = FeedbackKind::parse(&kind).ok_or_else(|| corrupt("feedback kind", &kind))?;
        let source = FeedbackSource::parse(&source).ok_or_else(|| corrupt("feedback source", &source))?;
        Ok(FeedbackEvent { id, prediction_id, time_ms, kind, label, value, unit, comment, source, idempotency_key })
    }

    fn outcome_from_row(&self, r: &Row<'_>, at: usize) -> Result<OutcomeEvent, StoreError> {
        let get = |r: &Row<'_>| -> rusqlite::Result<_> {
            Ok(OutcomeEvent {
                time_ms: r.get(at)?,
                unit: r.get(at + 1)?,
                prediction_id: r.get(at + 2)?,
                name: r.get(at + 3)?,
                value: r.get(at + 4)?,
                id: r.get(at + 5)?,
            })
        };
        get(r).map_err(self.err("read outcome row"))
    }
}

/// The window of a [`WindowQuery`] as SQL over `predictions p`, its parameters `?1` (since),
/// `?2` (until) and `?3` (component).
fn window_sql(q: &WindowQuery) -> String {
    let component = if q.component.is_some() { "p.component = ?3" } else { "?3 IS NULL" };
    let feedback =
        if q.with_feedback { " AND EXISTS (SELECT 1 FROM feedback f WHERE f.prediction_id = p.id)" } else { "" };
    // a window holds what was answered: a shadow's predictions were shown to no one, and are
    // compared with what they shadow apart (by `shadow_of`), never counted as the system's
    format!("{component} AND p.time_ms >= ?1 AND p.time_ms < ?2 AND p.shadow_of IS NULL{feedback}")
}

/// The shadow predictions of a [`ShadowQuery`] (`?1` component, `?2` since, `?3` until, `?4`
/// experiment or null), each beside the prediction it copies (`a`, null when it is gone).
fn shadow_pairs_sql() -> String {
    let answered = PREDICTION_COLUMNS.replace("p.", "a.");
    let shadow = PREDICTION_COLUMNS.replace("p.", "s.");
    format!(
        "SELECT {shadow}, {answered} FROM predictions s LEFT JOIN predictions a ON a.id = s.shadow_of
         WHERE s.component = ?1 AND s.time_ms >= ?2 AND s.time_ms < ?3 AND s.shadow_of IS NOT NULL
           AND (?4 IS NULL OR s.experiment = ?4)
         ORDER BY s.time_ms, s.id"
    )
}

/// A row's `(time_ms, id)` of its prediction, in the order the store sorts them (SQLite
/// compares text bytewise, as `str` does).
type Key = (i64, String);

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let err = |op| move |source| StoreError::Sqlite { path: path.to_owned(), op, source };
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .map_err(err("create schema_migrations"))?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err("begin migration"))?;
    let found: i64 = tx
        .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
        .map_err(err("read schema version"))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { path: path.to_owned(), found, supported: SCHEMA_VERSION });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        tracing::info!(path = %path.display(), version, "applying telemetry schema migration");
        tx.execute_batch(sql).map_err(err("apply migration"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, crate::events::now_ms()],
        )
        .map_err(err("record migration"))?;
    }
    tx.commit().map_err(err("commit migration"))
}

impl Store for SqliteStore {
    fn write_batch(&self, events: &[Event], through: Option<LogPosition>) -> Result<WriteReport, StoreError> {
        let mut report = WriteReport::default();
        if events.is_empty() && through.is_none() {
            return Ok(report);
        }
        let mut conn = self.write_conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(self.err("begin write"))?;
        {
            let mut pred = None;
            let mut fb = None;
            let mut out = None;
            for (i, e) in events.iter().enumerate() {
                match e {
                    Event::Prediction(p) => {
                        if pred.is_none() {
                            pred = Some(tx.prepare_cached(INSERT_PREDICTION).map_err(self.err("prepare insert"))?);
                        }
                        let n = pred
                            .as_mut()
                            .expect("prepared")
                            .execute(params![
                                p.id,
                                p.time_ms,
                                p.system,
                                p.component,
                                p.unit,
                                p.model_name,
                                p.model_version,
                                p.variant,
                                p.features.as_str(),
                                p.raw_output.as_str(),
                                p.guardrails.as_str(),
                                p.output.as_str(),
                                p.mode,
                                p.decision.as_str(),
                                p.fallback.is_some(),
                                i64::try_from(p.latency_us).unwrap_or(i64::MAX),
                                p.fallback,
                                p.experiment,
                                p.shadow_of,
                            ])
                            .map_err(self.err("insert prediction"))?;
                        if n == 0 { report.duplicates += 1 } else { report.predictions += 1 }
                    }
                    Event::Feedback(f) => {
                        if fb.is_none() {
                            fb = Some(tx.prepare_cached(INSERT_FEEDBACK).map_err(self.err("prepare insert"))?);
                        }
                        let n = fb
                            .as_mut()
                            .expect("prepared")
                            .execute(params![
                                f.prediction_id,
                                f.time_ms,
                                f.kind.as_str(),
                                f.label,
                                f.value,
                                f.unit,
                                f.comment,
                                f.source.as_str(),
                                f.idempotency_key,
                                f.id,
                            ])
                            .map_err(self.err("insert feedback"))?;
                        if n == 0 {
                            report.duplicates += 1;
                            if f.idempotency_key.is_some() {
                                report.key_conflicts.push(i);
                            }
                        } else {
                            report.feedback += 1;
                        }
                    }
                    Event::Outcome(o) => {
                        if out.is_none() {
                            out = Some(tx.prepare_cached(INSERT_OUTCOME).map_err(self.err("prepare insert"))?);
                        }
                        let n = out
                            .as_mut()
                            .expect("prepared")
                            .execute(params![o.time_ms, o.unit, o.prediction_id, o.name, o.value, o.id])
                            .map_err(self.err("insert outcome"))?;
                        if n == 0 { report.duplicates += 1 } else { report.outcomes += 1 }
                    }
                }
            }
        }
        if let Some(through) = through {
            let offset = i64::try_from(through.offset).unwrap_or(i64::MAX);
            tx.prepare_cached(
                "INSERT INTO log_position (stream, loaded_to) VALUES (?1, ?2)
                 ON CONFLICT (stream) DO UPDATE SET loaded_to = MAX(loaded_to, excluded.loaded_to)",
            )
            .and_then(|mut s| s.execute(params![through.stream, offset]))
            .map_err(self.err("store the log position"))?;
        }
        tx.commit().map_err(self.err("commit"))?;
        Ok(report)
    }

    fn log_positions(&self) -> Result<Vec<LogPosition>, StoreError> {
        let conn = self.write_conn();
        let mut statement = conn
            .prepare("SELECT stream, loaded_to FROM log_position ORDER BY stream")
            .map_err(self.err("read the log positions"))?;
        let rows = statement
            .query_map([], |r| Ok(LogPosition { stream: r.get(0)?, offset: r.get::<_, i64>(1)?.max(0) as u64 }))
            .map_err(self.err("read the log positions"))?;
        rows.collect::<Result<_, _>>().map_err(self.err("read the log positions"))
    }

    fn prediction(&self, id: &str) -> Result<Option<PredictionRecord>, StoreError> {
        self.read("read prediction", |c| {
            let sql = format!("SELECT {PREDICTION_COLUMNS} FROM predictions p WHERE p.id = ?1");
            let mut st = c.prepare_cached(&sql).map_err(self.err("prepare read"))?;
            let mut rows = st.query([id]).map_err(self.err("read prediction"))?;
            let Some(row) = rows.next().map_err(self.err("read prediction"))? else { return Ok(None) };
            let prediction = self.prediction_from_row(row, 0)?;
            drop(rows);
            let sql = format!(
                "SELECT {FEEDBACK_COLUMNS} FROM feedback f WHERE f.prediction_id = ?1 ORDER BY f.time_ms, f.seq"
            );
            let mut st = c.prepare_cached(&sql).map_err(self.err("prepare read"))?;
            let mut rows = st.query([id]).map_err(self.err("read feedback"))?;
            let mut feedback = Vec::new();
            while let Some(r) = rows.next().map_err(self.err("read feedback"))? {
                feedback.push(self.feedback_from_row(r, 0)?);
            }
            let sql = format!(
                "SELECT {OUTCOME_COLUMNS} FROM outcomes o WHERE o.prediction_id = ?1 ORDER BY o.time_ms, o.seq"
            );
            let mut st = c.prepare_cached(&sql).map_err(self.err("prepare read"))?;
            let mut rows = st.query([id]).map_err(self.err("read outcomes"))?;
            let mut outcomes = Vec::new();
            while let Some(r) = rows.next().map_err(self.err("read outcomes"))? {
                outcomes.push(self.outcome_from_row(r, 0)?);
            }
            Ok(Some(PredictionRecord { prediction, feedback, outcomes }))
        })
    }

    fn prediction_exists(&self, id: &str) -> Result<bool, StoreError> {
        self.read("read prediction", |c| {
            let mut st =
                c.prepare_cached("SELECT 1 FROM predictions WHERE id = ?1").map_err(self.err("prepare read"))?;
            st.exists([id]).map_err(self.err("read prediction"))
        })
    }

    fn feedback_by_key(&self, key: &str) -> Result<Option<FeedbackEvent>, StoreError> {
        self.read("read feedback", |c| {
            let sql = format!("SELECT {FEEDBACK_COLUMNS} FROM feedback f WHERE f.idempotency_key = ?1");
            let mut st = c.prepare_cached(&sql).map_err(self.err("prepare read"))?;
            let mut rows = st.query([key]).map_err(self.err("read feedback"))?;
            match rows.next().map_err(self.err("read feedback"))? {
                Some(r) => Ok(Some(self.feedback_from_row(r, 0)?)),
                None => Ok(None),
            }
        })
    }

    fn scan(&self, q: &ScanQuery) -> Result<Page, StoreError> {
        let limit = q.effective_limit();
        let cursor = q.cursor.as_deref().map(Cursor::decode).transpose()?;
        let mut lo = q.since_ms.unwrap_or(i64::MIN);
        let mut hi = q.until_ms.unwrap_or(i64::MAX); // exclusive
        let (after, dir) = match q.order {
            Order::Ascending => ("(p.time_ms > ?3 OR (p.time_ms = ?3 AND p.id > ?4))", "ASC"),
            Order::Descending => ("(p.time_ms < ?3 OR (p.time_ms = ?3 AND p.id < ?4))", "DESC"),
        };
        // Narrow the index range to the cursor's side.
        let (ct, cid, after) = match &cursor {
            Some(c) => {
                match q.order {
                    Order::Ascending => lo = lo.max(c.time_ms),
                    Order::Descending => hi = hi.min(c.time_ms.saturating_add(1)),
                }
                (c.time_ms, c.id.as_str(), after)
            }
            None => (0, "", "?3 IS NOT NULL AND ?4 IS NOT NULL"),
        };
        let component = if q.component.is_some() { "p.component = ?5 AND" } else { "(?5 IS NULL) AND" };
        let sql = format!(
            "SELECT {PREDICTION_COLUMNS} FROM predictions p
             WHERE {component} p.time_ms >= ?1 AND p.time_ms < ?2 AND {after}
             ORDER BY p.time_ms {dir}, p.id {dir} LIMIT ?6"
        );
        self.read("scan predictions", |c| {
            let mut st = c.prepare_cached(&sql).map_err(self.err("prepare scan"))?;
            let mut rows = st
                .query(params![lo, hi, ct, cid, q.component, (limit + 1) as i64])
                .map_err(self.err("scan predictions"))?;
            let mut items = Vec::with_capacity(limit.min(1024));
            let mut more = false;
            while let Some(r) = rows.next().map_err(self.err("scan predictions"))? {
                if items.len() == limit {
                    more = true;
                    break;
                }
                items.push(self.prediction_from_row(r, 0)?);
            }
            let next_cursor = if more {
                items.last().map(|p| Cursor { time_ms: p.time_ms, id: p.id.clone() }.encode())
            } else {
                None
            };
            Ok(Page { items, next_cursor })
        })
    }

    fn visit_predictions(&self, q: &WindowQuery, visit: &mut PredictionVisitor<'_>) -> Result<u64, StoreError> {
        let window = window_sql(q);
        // Three ordered reads merged on (time_ms, id): each prediction's feedback and outcomes
        // arrive right after it, without a join multiplying them or a prediction's rows held.
        let predictions =
            format!("SELECT {PREDICTION_COLUMNS} FROM predictions p WHERE {window} ORDER BY p.time_ms, p.id");
        let feedback = format!(
            "SELECT p.time_ms, p.id, {FEEDBACK_COLUMNS} FROM feedback f JOIN predictions p ON p.id = f.prediction_id
             WHERE {window} ORDER BY p.time_ms, p.id, f.time_ms, f.seq"
        );
        let outcomes = format!(
            "SELECT p.time_ms, p.id, {OUTCOME_COLUMNS} FROM outcomes o JOIN predictions p ON p.id = o.prediction_id
             WHERE {window} ORDER BY p.time_ms, p.id, o.time_ms, o.seq"
        );
        let lo = q.since_ms.unwrap_or(i64::MIN);
        let hi = q.until_ms.unwrap_or(i64::MAX);
        let op = "read predictions with their feedback and outcomes";
        self.read(op, |c| {
            // one snapshot for the three reads
            let tx = c.unchecked_transaction().map_err(self.err(op))?;
            let mut ps = tx.prepare(&predictions).map_err(self.err("prepare read"))?;
            let mut fs = tx.prepare(&feedback).map_err(self.err("prepare read"))?;
            let mut os = tx.prepare(&outcomes).map_err(self.err("prepare read"))?;
            let mut p_rows = ps.query(params![lo, hi, q.component]).map_err(self.err(op))?;
            let mut f_rows = fs.query(params![lo, hi, q.component]).map_err(self.err(op))?;
            let mut o_rows = os.query(params![lo, hi, q.component]).map_err(self.err(op))?;
            let key = |r: &Row<'_>| -> Result<Key, StoreError> {
                Ok((r.get(0).map_err(self.err(op))?, r.get(1).map_err(self.err(op))?))
            };
            // the next feedback and outcome not yet handed over, with their prediction's key
            let mut pull_f = || -> Result<Option<(Key, FeedbackEvent)>, StoreError> {
                match f_rows.next().map_err(self.err(op))? {
                    Some(r) => Ok(Some((key(r)?, self.feedback_from_row(r, 2)?))),
                    None => Ok(None),
                }
            };
            let mut pull_o = || -> Result<Option<(Key, OutcomeEvent)>, StoreError> {
                match o_rows.next().map_err(self.err(op))? {
                    Some(r) => Ok(Some((key(r)?, self.outcome_from_row(r, 2)?))),
                    None => Ok(None),
                }
            };
            let mut next_f = pull_f()?;
            let mut next_o = pull_o()?;
            let mut n = 0u64;
            while let Some(r) = p_rows.next().map_err(self.err(op))? {
                let prediction = self.prediction_from_row(r, 0)?;
                let at: Key = (prediction.time_ms, prediction.id.clone());
                let mut feedback = Vec::new();
                while let Some((k, f)) = next_f.take() {
                    if k > at {
                        next_f = Some((k, f));
                        break;
                    }
                    if k == at {
                        feedback.push(f);
                    }
                    next_f = pull_f()?;
                }
                let mut outcomes = Vec::new();
                while let Some((k, o)) = next_o.take() {
                    if k > at {
                        next_o = Some((k, o));
                        break;
                    }
                    if k == at {
                        outcomes.push(o);
                    }
                    next_o = pull_o()?;
                }
                n += 1;
                visit(PredictionRecord { prediction, feedback, outcomes })?;
            }
            Ok(n)
        })
    }

    fn outcome_names(&self, q: &WindowQuery) -> Result<Vec<OutcomeName>, StoreError> {
        let sql = format!(
            "SELECT o.name, MAX(o.value IS NOT NULL) FROM outcomes o JOIN predictions p ON p.id = o.prediction_id
             WHERE {} GROUP BY o.name ORDER BY o.name",
            window_sql(q)
        );
        let lo = q.since_ms.unwrap_or(i64::MIN);
        let hi = q.until_ms.unwrap_or(i64::MAX);
        self.read("read outcome names", |c| {
            let mut st = c.prepare_cached(&sql).map_err(self.err("prepare read"))?;
            st.query_map(params![lo, hi, q.component], |r| Ok(OutcomeName { name: r.get(0)?, valued: r.get(1)? }))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(self.err("read outcome names"))
        })
    }

    fn outcome_values(&self, q: &OutcomeQuery) -> Result<ValueSummary, StoreError> {
        const RANGE: &str = "o.name = ?1 AND o.time_ms >= ?2 AND o.time_ms < ?3";
        let op = "summarise outcome values";
        self.read(op, |c| {
            // one snapshot for both reads: the deviations are taken from the mean of the same rows
            let tx = c.unchecked_transaction().map_err(self.err(op))?;
            let (events, valued, sum, mean) = tx
                .prepare_cached(&format!(
                    "SELECT COUNT(*), COUNT(o.value), TOTAL(o.value), COALESCE(AVG(o.value), 0.0)
                     FROM outcomes o WHERE {RANGE}"
                ))
                .and_then(|mut st| {
                    st.query_row(params![q.name, q.since_ms, q.until_ms], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, f64>(2)?, r.get::<_, f64>(3)?))
                    })
                })
                .map_err(self.err(op))?;
            let sum_squared_deviations: f64 = tx
                .prepare_cached(&format!(
                    "SELECT TOTAL((o.value - ?4) * (o.value - ?4)) FROM outcomes o
                     WHERE {RANGE} AND o.value IS NOT NULL"
                ))
                .and_then(|mut st| st.query_row(params![q.name, q.since_ms, q.until_ms, mean], |r| r.get(0)))
                .map_err(self.err(op))?;
            Ok(ValueSummary {
                events: events.max(0) as u64,
                valued: valued.max(0) as u64,
                sum,
                mean,
                sum_squared_deviations,
            })
        })
    }

    fn visit_outcome_units(&self, q: &OutcomeQuery, visit: &mut UnitVisitor<'_>) -> Result<u64, StoreError> {
        let op = "read the units of outcomes";
        self.read(op, |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT DISTINCT o.unit FROM outcomes o
                     WHERE o.name = ?1 AND o.time_ms >= ?2 AND o.time_ms < ?3 AND o.unit IS NOT NULL",
                )
                .map_err(self.err("prepare read"))?;
            let mut rows = st.query(params![q.name, q.since_ms, q.until_ms]).map_err(self.err(op))?;
            let mut n = 0u64;
            while let Some(r) = rows.next().map_err(self.err(op))? {
                visit(r.get(0).map_err(self.err(op))?)?;
                n += 1;
            }
            Ok(n)
        })
    }

    fn visit_shadow_pairs(&self, q: &ShadowQuery, visit: &mut ShadowVisitor<'_>) -> Result<u64, StoreError> {
        // the shadows by their own partial index (migration 7), each original by its primary
        // key (`shadow_pairs_read_by_index_and_primary_key` holds the plan to it)
        let sql = shadow_pairs_sql();
        let lo = q.since_ms.unwrap_or(i64::MIN);
        let hi = q.until_ms.unwrap_or(i64::MAX);
        let op = "read shadow predictions with the predictions they copy";
        self.read(op, |c| {
            let mut st = c.prepare_cached(&sql).map_err(self.err("prepare read"))?;
            let mut rows = st.query(params![q.component, lo, hi, q.experiment]).map_err(self.err(op))?;
            let columns = PREDICTION_COLUMNS.split(',').count();
            let mut n = 0u64;
            while let Some(r) = rows.next().map_err(self.err(op))? {
                let shadow = self.prediction_from_row(r, 0)?;
                let found: Option<String> = r.get(columns).map_err(self.err(op))?;
                let answered = match found {
                    Some(_) => Some(self.prediction_from_row(r, columns)?),
                    None => None,
                };
                visit(ShadowPair { shadow, answered })?;
                n += 1;
            }
            Ok(n)
        })
    }

    fn newest_prediction_ms(&self) -> Result<Option<i64>, StoreError> {
        let op = "find the newest prediction";
        self.read(op, |c| {
            // the time index's last entry
            c.query_row("SELECT MAX(time_ms) FROM predictions", [], |r| r.get(0)).map_err(self.err(op))
        })
    }

    fn prune(&self, kind: EventKind, older_than_ms: i64) -> Result<u64, StoreError> {
        let table = match kind {
            EventKind::Prediction => "predictions",
            EventKind::Feedback => "feedback",
            EventKind::Outcome => "outcomes",
        };
        let sql = format!(
            "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE time_ms < ?1 LIMIT {PRUNE_CHUNK})"
        );
        let mut total = 0u64;
        loop {
            // One chunk per lock: the writer thread gets the connection between chunks.
            let n = {
                let conn = self.write_conn();
                let mut st = conn.prepare_cached(&sql).map_err(self.err("prepare prune"))?;
                st.execute([older_than_ms]).map_err(self.err("prune"))?
            };
            total += n as u64;
            if (n as i64) < PRUNE_CHUNK {
                return Ok(total);
            }
        }
    }

    fn counts(&self) -> Result<Counts, StoreError> {
        self.read("count rows", |c| {
            c.query_row(
                "SELECT (SELECT COUNT(*) FROM predictions), (SELECT COUNT(*) FROM feedback),
                        (SELECT COUNT(*) FROM outcomes)",
                [],
                |r| {
                    let n = |i| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
                    Ok(Counts { predictions: n(0)?, feedback: n(1)?, outcomes: n(2)? })
                },
            )
            .map_err(self.err("count rows"))
        })
    }

    fn used_bytes(&self) -> Result<u64, StoreError> {
        self.read("measure the store", |c| {
            c.query_row(
                "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()),
                        (SELECT page_size FROM pragma_page_size())",
                [],
                |r| Ok(r.get::<_, i64>(0)?.max(0) as u64 * r.get::<_, i64>(1)?.max(0) as u64),
            )
            .map_err(self.err("measure the store"))
        })
    }

    fn oldest_predictions_until(&self, fraction: f64) -> Result<Option<i64>, StoreError> {
        self.read("find the oldest predictions", |c| {
            let n: i64 =
                c.query_row("SELECT COUNT(*) FROM predictions", [], |r| r.get(0)).map_err(self.err("count rows"))?;
            if n == 0 {
                return Ok(None);
            }
            let rank = ((n as f64 * fraction.clamp(0.0, 1.0)).ceil() as i64 - 1).clamp(0, n - 1);
            c.query_row("SELECT time_ms FROM predictions ORDER BY time_ms LIMIT 1 OFFSET ?1", [rank], |r| r.get(0))
                .map(Some)
                .map_err(self.err("find the oldest predictions"))
        })
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn record_monitoring(&self, states: &[MonitorStateRecord], alerts: &[AlertRecord]) -> Result<(), StoreError> {
        if states.is_empty() && alerts.is_empty() {
            return Ok(());
        }
        let mut conn = self.write_conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(self.err("begin write"))?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO alerts (id, monitor, severity, opened_ms, closed_ms, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (id) DO UPDATE SET monitor = excluded.monitor, severity = excluded.severity,
                        opened_ms = excluded.opened_ms, closed_ms = excluded.closed_ms, body = excluded.body",
                )
                .map_err(self.err("prepare the alerts' write"))?;
            for a in alerts {
                st.execute(params![a.id, a.monitor, a.severity, a.opened_ms, a.closed_ms, a.body.as_str()])
                    .map_err(self.err("store an alert"))?;
            }
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO monitor_state (monitor, state, updated_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (monitor) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms",
                )
                .map_err(self.err("prepare the monitors' write"))?;
            for m in states {
                st.execute(params![m.monitor, m.state.as_str(), m.updated_ms])
                    .map_err(self.err("store a monitor's state"))?;
            }
        }
        tx.commit().map_err(self.err("commit"))
    }

    fn monitor_states(&self) -> Result<Vec<MonitorStateRecord>, StoreError> {
        let op = "read the monitors' states";
        let rows: Vec<(String, String, i64)> = self.read(op, |c| {
            let mut st = c
                .prepare_cached("SELECT monitor, state, updated_ms FROM monitor_state ORDER BY monitor")
                .map_err(self.err(op))?;
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(self.err(op))
        })?;
        rows.into_iter()
            .map(|(monitor, state, updated_ms)| {
                let state = JsonText::parse(state).map_err(|e| StoreError::Corrupt {
                    path: self.path.clone(),
                    what: "monitor state",
                    detail: format!("monitor {monitor}: {e}"),
                })?;
                Ok(MonitorStateRecord { monitor, state, updated_ms })
            })
            .collect()
    }

    fn alerts(&self, q: &AlertQuery) -> Result<Vec<AlertRecord>, StoreError> {
        let op = "list alerts";
        let open = match q.open {
            Some(true) => "a.closed_ms IS NULL",
            Some(false) => "a.closed_ms IS NOT NULL",
            None => "1",
        };
        let sql = format!(
            "SELECT a.id, a.monitor, a.severity, a.opened_ms, a.closed_ms, a.body FROM alerts a
             WHERE {open} AND (?1 IS NULL OR a.closed_ms IS NULL OR a.closed_ms >= ?1) AND (?2 IS NULL OR a.monitor = ?2)
             ORDER BY a.opened_ms DESC, a.id DESC LIMIT ?3"
        );
        let rows: Vec<(String, String, String, i64, Option<i64>, String)> = self.read(op, |c| {
            let mut st = c.prepare_cached(&sql).map_err(self.err(op))?;
            st.query_map(params![q.since_ms, q.monitor, q.effective_limit() as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.err(op))
        })?;
        rows.into_iter()
            .map(|(id, monitor, severity, opened_ms, closed_ms, body)| {
                let body = JsonText::parse(body).map_err(|e| StoreError::Corrupt {
                    path: self.path.clone(),
                    what: "alert",
                    detail: format!("alert {id}: {e}"),
                })?;
                Ok(AlertRecord { id, monitor, severity, opened_ms, closed_ms, body })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (wal_autocheckpoint in pages, journal_size_limit in bytes) of the store's writer.
    fn wal_bounds(store: &SqliteStore) -> (i64, i64) {
        let conn = store.write.lock().unwrap();
        let pages = conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0)).unwrap();
        let limit = conn.query_row("PRAGMA journal_size_limit", [], |r| r.get(0)).unwrap();
        (pages, limit)
    }

    /// A store of schema 3 (the decision as text in `reason`, `fallback` a flag) opens with
    /// its rows as this rein records them: the decision an object, a fallback its error.
    #[test]
    fn rows_of_an_earlier_schema_read_as_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
            .unwrap();
        let tx = conn.transaction().unwrap();
        for (version, sql) in &MIGRATIONS[..3] {
            tx.execute_batch(sql).unwrap();
            tx.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [version]).unwrap();
        }
        tx.commit().unwrap();
        let old = |id: &str, mode: &str, reason: &str, fallback: bool| {
            conn.execute(
                "INSERT INTO predictions (id, time_ms, system, component, model_name, model_version, features,
                 raw_output, guardrails, output, mode, reason, fallback, latency_us)
                 VALUES (?1, 1, 's', 'c', 'm', '1', '{}', 'null', '[]', '{}', ?2, ?3, ?4, 5)",
                params![id, mode, reason, fallback],
            )
            .unwrap();
        };
        let answered =
            r#"{"mode":"automate","reason":{"kind":"expected_value","p":0.9756,"values":{"automate":19.51}}}"#;
        let fell_back = r#"{"mode":"none","reason":{"kind":"fallback","error":"the model timed out after 50 ms"}}"#;
        old("a", "automate", answered, false);
        old("b", "none", fell_back, true);
        old("c", "prompt", "confident", true);
        drop(conn);

        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let read = |id: &str| store.prediction(id).unwrap().unwrap().prediction;
        let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        let a = read("a");
        assert_eq!(a.decision.to_value(), json(answered));
        assert_eq!(a.decision.to_value()["reason"]["p"].to_string(), "0.9756", "the digits as written");
        assert_eq!(a.fallback, None);
        assert_eq!((a.variant.as_str(), a.experiment.as_deref(), a.shadow_of.as_deref()), ("main", None, None));
        let b = read("b");
        assert_eq!(b.decision.to_value(), json(fell_back));
        assert_eq!(b.fallback.as_deref(), Some("the model timed out after 50 ms"));
        let c = read("c");
        assert_eq!(c.decision, crate::events::decision_of_reason("prompt", "confident"));
        assert_eq!(c.fallback.as_deref(), Some(crate::events::FALLBACK_ERROR_UNRECORDED));

        // and a new row keeps what it is given
        let mut e = a.clone();
        e.id = "d".into();
        e.fallback = Some("overloaded".into());
        store.write_batch(&[e.clone().into()], None).unwrap();
        assert_eq!(read("d"), e);
    }

    /// The shadows are found by their own index, and each original by its primary key: the
    /// read is one range scan over shadows only and a lookup a row, whatever else is stored.
    #[test]
    fn shadow_pairs_read_by_index_and_primary_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = store.write.lock().unwrap();
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", shadow_pairs_sql())).unwrap();
        let plan: Vec<String> = st
            .query_map(params!["c", 0, 10, None::<String>], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("SEARCH s USING INDEX predictions_shadows (component=? AND time_ms>? AND time_ms<?)"),
            "{plan}"
        );
        assert!(plan.contains("SEARCH a USING INDEX sqlite_autoindex_predictions_1 (id=?)"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "ordered by the index, not sorted: {plan}");
    }

    #[test]
    fn the_wal_is_bounded_in_bytes_whatever_the_page_size() {
        let new = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(new.path()).unwrap();
        assert_eq!(wal_bounds(&store), (1024, 64 << 20), "16 MiB of 16 KiB pages");

        let old = tempfile::tempdir().unwrap();
        let conn = Connection::open(old.path().join(DB_FILE)).unwrap();
        conn.execute_batch("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE keep (x INTEGER)")
            .unwrap();
        drop(conn);
        let store = SqliteStore::open(old.path()).unwrap();
        assert_eq!(wal_bounds(&store), (4096, 64 << 20), "16 MiB of an older store's 4 KiB pages");
    }
}
