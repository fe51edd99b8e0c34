//! What the registry refuses, and why.

use std::path::PathBuf;

use rein_runtime::RuntimeError;

/// Why a version was refused before it could serve: it does not load, does not fit the
/// component, or answers its smoke rows wrongly. The message names the mismatch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    /// It does not load, or its inputs, outputs or labels do not match the component.
    #[error("version `{version}` of component `{component}` is refused: {source}")]
    Load {
        component: String,
        version: String,
        #[source]
        source: RuntimeError,
    },
    /// It loads, but a smoke row drawn from the schema got no answer, or a wrong one.
    #[error(
        "version `{version}` of component `{component}` is refused: smoke row {row} of {rows} ({features}) {problem}"
    )]
    Smoke { component: String, version: String, row: usize, rows: usize, features: String, problem: String },
}

impl CheckError {
    /// What would make it pass, for people.
    pub fn hint(&self) -> Option<String> {
        match self {
            CheckError::Load { source, .. } => source.hint().or_else(|| match source {
                RuntimeError::Inputs(_) => {
                    Some("export the model with one input per feature of the component, or fit the schema to it".into())
                }
                RuntimeError::Labels(_) => Some(
                    "a version must produce exactly the component's labels: retrain it on them, or change \
                     `labels` in the system file first"
                        .into(),
                ),
                _ => None,
            }),
            CheckError::Smoke { .. } => Some(
                "every version answers rows drawn from the schema (bounds, defaults, every category) before it \
                 serves: a version that fails on them would fail on requests"
                    .into(),
            ),
        }
    }
}

/// Why the registry could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("model registry {}: cannot {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("model registry {}: cannot {op}: {source}", path.display())]
    Database {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("component `{component}` has no version `{version}`; its versions: {}", list(known))]
    UnknownVersion { component: String, version: String, known: Vec<String> },
    #[error("parent `{parent}` is not a version of component `{component}`; its versions: {}", list(known))]
    UnknownParent { component: String, parent: String, known: Vec<String> },
    #[error("{0}")]
    BadId(String),
    #[error("{0}")]
    BadAlias(String),
    #[error(
        "component `{component}` already has a version `{id}`, of other bytes (sha256 {existing}, these are {new}): \
         a version never changes; register these under another id"
    )]
    IdTaken { component: String, id: String, existing: String, new: String },
    #[error(
        "these bytes are already version `{existing}` of component `{component}` (sha256 {sha256}); \
         one artifact is one version, so they cannot also be `{asked}`"
    )]
    AlreadyRegistered { component: String, existing: String, asked: String, sha256: String },
    #[error(
        "the stored artifact of version `{version}` of component `{component}` ({}) is corrupt: its SHA-256 is {found}, \
         registered as {expected}",
        path.display()
    )]
    CorruptArtifact { component: String, version: String, path: PathBuf, expected: String, found: String },
    #[error("the profile is not {what}: {problem}")]
    BadProfile { what: String, problem: String },
    #[error(transparent)]
    Refused(#[from] CheckError),
}

fn list(known: &[String]) -> String {
    if known.is_empty() { "none yet".to_string() } else { known.join(", ") }
}
