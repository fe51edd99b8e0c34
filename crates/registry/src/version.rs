//! A registered version: its identity and provenance. Pure: no I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where a version came from, kept with it for as long as it is registered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// A digest of the training data (e.g. `sha256:…` of the file, or a dataset version).
    pub data_digest: Option<String>,
    /// What the training data was, in words.
    pub data_description: Option<String>,
    /// The training code's version: a git commit, when known.
    pub code_version: Option<String>,
    /// Training parameters, as given.
    pub params: BTreeMap<String, String>,
    /// Offline metrics, by name.
    pub metrics: BTreeMap<String, f64>,
    /// The reference profile (`rein profile`'s JSON), when one was given.
    pub profile: Option<serde_json::Value>,
}

/// A registered version of a component's model. Never changes once registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub component: String,
    /// Its id within the component: what answers and records carry as `model.version`.
    pub id: String,
    /// The artifact's SHA-256, 64 hex digits: where it is stored.
    pub sha256: String,
    pub size_bytes: u64,
    /// When it was registered, unix milliseconds.
    pub registered_at_ms: i64,
    /// Who registered it (a user name, `rein.toml` at start-up, or what an API caller says).
    pub registered_by: String,
    /// The version it was derived from, when said.
    pub parent: Option<String>,
    /// Where its bytes came from (a file path, or `upload`).
    pub source: String,
    pub provenance: Provenance,
}

/// What a caller registers: the bytes and what is known about them.
#[derive(Debug, Clone, Default)]
pub struct NewVersion {
    pub component: String,
    pub bytes: Vec<u8>,
    /// The id asked for; by default `sha256:` and 12 hex digits of the bytes' digest.
    pub id: Option<String>,
    pub parent: Option<String>,
    pub registered_by: String,
    pub source: String,
    pub provenance: Provenance,
}

/// The SHA-256 of `bytes`, as 64 lower-case hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The default id of an artifact: `sha256:` and the first 12 hex digits of its digest, as
/// the runtime names a system file's model without a `version`.
pub fn default_id(sha256: &str) -> String {
    format!("sha256:{}", &sha256[..12.min(sha256.len())])
}

/// Why `id` cannot name a version, or `None` when it can: 1 to 128 bytes of letters,
/// digits and `.` `_` `-` `:` `+`, starting with a letter or digit (it appears in URLs,
/// metric labels and file listings).
pub fn id_problem(id: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_:+".contains(c);
    if id.is_empty() || id.len() > 128 {
        return Some(format!("a version id has 1 to 128 characters, `{id}` has {}", id.len()));
    }
    if !id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some(format!("a version id starts with a letter or digit, `{id}` does not"));
    }
    if let Some(c) = id.chars().find(|&c| !allowed(c)) {
        return Some(format!("a version id holds letters, digits and `.` `_` `-` `:` `+` only; `{id}` holds {c:?}"));
    }
    None
}

/// Why `alias` cannot name an alias, or `None`: 1 to 64 lower-case letters, digits, `-` and
/// `_`, starting with a letter (e.g. `champion`, `challenger`, `canary`).
pub fn alias_problem(alias: &str) -> Option<String> {
    let ok = !alias.is_empty()
        && alias.len() <= 64
        && alias.starts_with(|c: char| c.is_ascii_lowercase())
        && alias.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    (!ok).then(|| {
        format!(
            "`{alias}` is not an alias name: 1 to 64 lower-case letters, digits, `-` and `_`, starting with a letter \
             (e.g. `champion`, `challenger`)"
        )
    })
}

/// `key=value` pairs (`--param`, `--metric`) as a map; a pair without `=`, an empty key or
/// a key given twice is named.
pub fn pairs(what: &str, given: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for pair in given {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(format!("{what} `{pair}` is not `key=value`"));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("{what} `{pair}` has an empty key: write `key=value`"));
        }
        if map.insert(k.to_string(), v.trim().to_string()).is_some() {
            return Err(format!("{what} `{k}` is given twice"));
        }
    }
    Ok(map)
}

/// Offline metrics from `key=value` pairs: each value a finite number.
pub fn metrics(given: &[String]) -> Result<BTreeMap<String, f64>, String> {
    pairs("metric", given)?
        .into_iter()
        .map(|(k, v)| match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok((k, x)),
            _ => Err(format!("metric `{k}` is `{v}`, not a finite number (e.g. `{k}=0.93`)")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_id_is_the_short_content_hash_the_runtime_gives_a_model() {
        let hex = sha256_hex(b"abc");
        assert_eq!(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(default_id(&hex), "sha256:ba7816bf8f01");
        assert_eq!(id_problem(&default_id(&hex)), None);
    }

    #[test]
    fn ids_and_aliases_that_would_break_a_url_are_refused_with_the_rule() {
        assert_eq!(id_problem("v3"), None);
        assert_eq!(id_problem("2026-12-01+retrain.1"), None);
        assert!(id_problem("").unwrap().contains("1 to 128"));
        assert!(id_problem("-x").unwrap().contains("starts with a letter or digit"));
        assert!(id_problem("a/b").unwrap().contains("'/'"));
        assert_eq!(alias_problem("champion"), None);
        assert_eq!(alias_problem("canary-1"), None);
        assert!(alias_problem("Champion").unwrap().contains("lower-case"));
        assert!(alias_problem("").is_some());
    }

    #[test]
    fn pairs_and_metrics_name_what_is_wrong() {
        let given = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let p = pairs("param", &given(&["max_depth=6", "lr = 0.1"])).unwrap();
        assert_eq!(p["max_depth"], "6");
        assert_eq!(p["lr"], "0.1");
        assert!(pairs("param", &given(&["depth"])).unwrap_err().contains("`depth` is not `key=value`"));
        assert!(pairs("param", &given(&["a=1", "a=2"])).unwrap_err().contains("given twice"));
        assert_eq!(metrics(&given(&["auc=0.91"])).unwrap()["auc"], 0.91);
        let e = metrics(&given(&["auc=high"])).unwrap_err();
        assert!(e.contains("`auc` is `high`, not a finite number"), "{e}");
        assert!(metrics(&given(&["auc=NaN"])).is_err());
    }
}
