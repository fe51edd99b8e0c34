//! The rollouts a registry keeps: each one's newest state, replaced as it moves, and its
//! actions appended, never changed. Beside the alias history because a rollout moves
//! aliases, and like it, it is never pruned.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::error::RegistryError;
use crate::store::Registry;

/// A rollout as stored: `state` is `rein_rollout::Rollout` as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRollout {
    pub id: String,
    pub component: String,
    pub status: String,
    pub state: String,
    pub started_at_ms: i64,
    pub updated_at_ms: i64,
}

impl Registry {
    /// Stores a rollout's state and appends its new actions (JSON), in one transaction:
    /// a restart finds both or neither.
    pub fn save_rollout(&self, rollout: &StoredRollout, new_actions: &[String]) -> Result<(), RegistryError> {
        let mut conn = self.conn();
        let err = |e| self.db_error("record the rollout", e);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        tx.execute(
            "INSERT INTO rollouts (id, component, status, state, started_at_ms, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, state = excluded.state,
                 updated_at_ms = excluded.updated_at_ms",
            params![
                rollout.id,
                rollout.component,
                rollout.status,
                rollout.state,
                rollout.started_at_ms,
                rollout.updated_at_ms
            ],
        )
        .map_err(err)?;
        for action in new_actions {
            tx.execute("INSERT INTO rollout_actions (rollout, action) VALUES (?1, ?2)", params![rollout.id, action])
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Every stored rollout (of `component`, if given), oldest first.
    pub fn rollouts(&self, component: Option<&str>) -> Result<Vec<StoredRollout>, RegistryError> {
        let conn = self.conn();
        let err = |e| self.db_error("read the rollouts", e);
        let mut stmt = conn
            .prepare(
                "SELECT id, component, status, state, started_at_ms, updated_at_ms FROM rollouts
                 WHERE ?1 IS NULL OR component = ?1 ORDER BY started_at_ms, id",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![component], |r| {
                Ok(StoredRollout {
                    id: r.get(0)?,
                    component: r.get(1)?,
                    status: r.get(2)?,
                    state: r.get(3)?,
                    started_at_ms: r.get(4)?,
                    updated_at_ms: r.get(5)?,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    /// A rollout's actions as appended (JSON), oldest first; `None`: no such rollout.
    pub fn rollout_actions(&self, id: &str) -> Result<Option<Vec<String>>, RegistryError> {
        let conn = self.conn();
        let err = |e| self.db_error("read the rollout's actions", e);
        let known: Option<String> = conn
            .query_row("SELECT id FROM rollouts WHERE id = ?1", params![id], |r| r.get(0))
            .optional()
            .map_err(err)?;
        if known.is_none() {
            return Ok(None);
        }
        let mut stmt =
            conn.prepare("SELECT action FROM rollout_actions WHERE rollout = ?1 ORDER BY seq").map_err(err)?;
        let rows = stmt.query_map(params![id], |r| r.get::<_, String>(0)).map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map(Some).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollout_is_replaced_and_its_actions_only_appended() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::open(dir.path(), rein_telemetry::clock::system()).unwrap();
        let mut r = StoredRollout {
            id: "c/exp/1".into(),
            component: "c".into(),
            status: "running".into(),
            state: "{}".into(),
            started_at_ms: 5,
            updated_at_ms: 5,
        };
        registry.save_rollout(&r, &["{\"kind\":\"started\"}".into()]).unwrap();
        r.status = "promoted".into();
        r.updated_at_ms = 9;
        registry.save_rollout(&r, &["{\"kind\":\"promoted\"}".into()]).unwrap();
        assert_eq!(registry.rollouts(Some("c")).unwrap(), vec![r.clone()]);
        assert_eq!(registry.rollouts(Some("other")).unwrap(), vec![]);
        let actions = registry.rollout_actions("c/exp/1").unwrap().unwrap();
        assert_eq!(actions, ["{\"kind\":\"started\"}", "{\"kind\":\"promoted\"}"]);
        assert_eq!(registry.rollout_actions("nope").unwrap(), None);
        // the record cannot be rewritten, even by hand
        let conn = rusqlite::Connection::open(dir.path().join(crate::store::DB_FILE)).unwrap();
        assert!(conn.execute("DELETE FROM rollout_actions", []).is_err());
        assert!(conn.execute("UPDATE rollout_actions SET action = 'x'", []).is_err());
    }
}
