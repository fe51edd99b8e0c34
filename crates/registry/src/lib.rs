//! The model registry: a component's models as immutable versions, and the aliases that
//! say which one serves.
//!
//! - [`version`]: a version's identity (its id and the artifact's SHA-256) and provenance:
//!   training data, code, parameters, offline metrics, the reference profile, who
//!   registered it, when, and its parent. Pure.
//! - [`history`]: alias moves, an append-only history, and what an alias named at an
//!   instant ("what served last Tuesday at 10:00"). Pure.
//! - [`store`]: [`Registry`], the I/O edge: artifacts stored by content under the data
//!   directory's `models/`, versions and alias moves in `models/registry.db`.
//! - [`rollouts`]: the rollout controller's state, kept as JSON the registry does not read,
//!   and every action it or an operator took, append-only (`rein-rollout` says what they mean).
//! - [`check`]: what a version passes before it may serve: it loads, it fits the
//!   component's schema and labels, and it answers seeded smoke rows drawn from the schema
//!   with finite outputs of the component's labels.
//! - [`startup`]: the system file's model registered as a version at start-up, and each
//!   component's champion loaded.
//!
//! Version ids: `sha256:` and the first 12 hex digits of the artifact's SHA-256 (what the
//! system file's model has always been called), unless a name is given at registration
//! (`--version`, or the system file's `model.version`). Either way one component holds
//! given bytes once: registering them again answers the version they already are.

pub mod check;
pub mod error;
pub mod history;
pub mod rollouts;
pub mod served;
pub mod startup;
pub mod store;
pub mod version;

pub use check::{Checked, smoke_rows};
pub use error::{CheckError, RegistryError};
pub use history::{AliasMove, CHALLENGER, CHAMPION};
pub use rollouts::StoredRollout;
pub use store::Registry;
pub use version::{NewVersion, Provenance, Version};
