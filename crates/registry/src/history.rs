//! Aliases and their append-only history, and what an alias named at an instant. Pure.
//!
//! A move is never changed or deleted: the current aliases, and the aliases at any past
//! instant, are read from the moves in order. Moves are ordered by `seq`, and their times
//! never decrease along it (the store keeps them so), so "at time t" is the last move at
//! or before t.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The alias that serves predictions by default.
pub const CHAMPION: &str = "champion";
/// The alias of the version being tried beside the champion.
pub const CHALLENGER: &str = "challenger";

/// One move of an alias to a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasMove {
    /// Its place in the registry's history: later moves have larger numbers.
    pub seq: i64,
    pub component: String,
    pub alias: String,
    /// The version it points at from now on.
    pub version: String,
    /// The version it pointed at before, if any.
    pub previous: Option<String>,
    /// When, unix milliseconds.
    pub at_ms: i64,
    /// Who moved it.
    pub by: String,
    /// Why, in words.
    pub reason: String,
}

/// The move that set `alias` as it stood at `at_ms` (inclusive), among a component's
/// moves in `seq` order; `None` when it named no version yet.
pub fn alias_at<'a>(moves: &'a [AliasMove], alias: &str, at_ms: i64) -> Option<&'a AliasMove> {
    moves.iter().filter(|m| m.alias == alias && m.at_ms <= at_ms).max_by_key(|m| m.seq)
}

/// Every alias as it stands after all `moves`: alias → version.
pub fn current(moves: &[AliasMove]) -> BTreeMap<String, String> {
    let mut sorted: Vec<&AliasMove> = moves.iter().collect();
    sorted.sort_by_key(|m| m.seq);
    sorted.into_iter().map(|m| (m.alias.clone(), m.version.clone())).collect()
}

/// Every alias as it stood at `at_ms` (inclusive): alias → version.
pub fn aliases_at(moves: &[AliasMove], at_ms: i64) -> BTreeMap<String, String> {
    let before: Vec<AliasMove> = moves.iter().filter(|m| m.at_ms <= at_ms).cloned().collect();
    current(&before)
}

/// The aliases that named `version` at `at_ms`, e.g. `["champion"]` for the version that
/// served by default then.
pub fn aliases_naming(moves: &[AliasMove], version: &str, at_ms: i64) -> Vec<String> {
    aliases_at(moves, at_ms).into_iter().filter(|(_, v)| v == version).map(|(alias, _)| alias).collect()
}

/// The versions `alias` named at some instant of `[from_ms, to_ms]`: the one it named at
/// `from_ms` and every one it was moved to until `to_ms`. What a request that started at
/// `from_ms` and ended at `to_ms` may have been answered by.
pub fn versions_during(moves: &[AliasMove], alias: &str, from_ms: i64, to_ms: i64) -> Vec<String> {
    let mut versions: Vec<String> = alias_at(moves, alias, from_ms).map(|m| m.version.clone()).into_iter().collect();
    let mut later: Vec<&AliasMove> =
        moves.iter().filter(|m| m.alias == alias && m.at_ms > from_ms && m.at_ms <= to_ms).collect();
    later.sort_by_key(|m| m.seq);
    for m in later {
        if !versions.contains(&m.version) {
            versions.push(m.version.clone());
        }
    }
    versions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(seq: i64, alias: &str, version: &str, at_ms: i64) -> AliasMove {
        AliasMove {
            seq,
            component: "c".into(),
            alias: alias.into(),
            version: version.into(),
            previous: None,
            at_ms,
            by: "test".into(),
            reason: String::new(),
        }
    }

    #[test]
    fn an_alias_at_an_instant_is_the_last_move_at_or_before_it() {
        let moves = [
            mv(1, CHAMPION, "v1", 1_000),
            mv(2, CHALLENGER, "v2", 2_000),
            mv(3, CHAMPION, "v2", 3_000),
            // two moves in one millisecond: the later one holds from then on
            mv(4, CHAMPION, "v3", 5_000),
            mv(5, CHAMPION, "v1", 5_000),
        ];
        assert_eq!(alias_at(&moves, CHAMPION, 999), None, "nothing before the first move");
        assert_eq!(alias_at(&moves, CHAMPION, 1_000).unwrap().version, "v1", "a move holds from its instant");
        assert_eq!(alias_at(&moves, CHAMPION, 2_999).unwrap().version, "v1");
        assert_eq!(alias_at(&moves, CHAMPION, 3_000).unwrap().version, "v2");
        assert_eq!(alias_at(&moves, CHAMPION, 5_000).unwrap().version, "v1");
        assert_eq!(alias_at(&moves, CHALLENGER, 10_000).unwrap().version, "v2");
        assert_eq!(alias_at(&moves, "canary", 10_000), None);
        let now = current(&moves);
        assert_eq!(now[CHAMPION], "v1");
        assert_eq!(now[CHALLENGER], "v2");
    }

    #[test]
    fn every_alias_at_an_instant_and_those_naming_a_version() {
        let moves = [mv(1, CHAMPION, "v1", 1_000), mv(2, CHALLENGER, "v2", 2_000), mv(3, CHAMPION, "v2", 3_000)];
        assert!(aliases_at(&moves, 999).is_empty());
        let at = aliases_at(&moves, 2_500);
        assert_eq!((at[CHAMPION].as_str(), at[CHALLENGER].as_str()), ("v1", "v2"));
        assert_eq!(aliases_naming(&moves, "v1", 2_500), [CHAMPION]);
        assert_eq!(aliases_naming(&moves, "v2", 2_500), [CHALLENGER]);
        assert_eq!(aliases_naming(&moves, "v2", 3_000), [CHALLENGER, CHAMPION]);
        assert!(aliases_naming(&moves, "v1", 3_000).is_empty());
    }

    #[test]
    fn the_versions_during_an_interval_include_the_one_at_its_start() {
        let moves = [mv(1, CHAMPION, "v1", 1_000), mv(2, CHAMPION, "v2", 3_000), mv(3, CHAMPION, "v3", 4_000)];
        assert_eq!(versions_during(&moves, CHAMPION, 2_000, 2_500), ["v1"]);
        assert_eq!(versions_during(&moves, CHAMPION, 2_000, 3_000), ["v1", "v2"]);
        assert_eq!(versions_during(&moves, CHAMPION, 3_500, 9_000), ["v2", "v3"]);
        assert!(versions_during(&moves, CHAMPION, 0, 500).is_empty());
    }
}
