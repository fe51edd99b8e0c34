//! The decision path, as pure logic: validate a request against the component's
//! schema, run the input guardrails, take the model's output, run the output
//! guardrails, and choose how forcefully the result reaches the user.
//!
//! No I/O and no async: the caller (the server, the CLI, a benchmark) runs the
//! model in between and supplies the clock.

pub mod model;

pub use model::{Model, ModelError, ModelInfo, ModelOutput};
mod condition;
pub mod experience;
mod guardrails;
pub mod output;
mod path;
pub mod privacy;
pub mod schema;
pub mod traffic;
#[cfg(test)]
mod type_agreement;

pub use experience::{CapApplied, Reason, derived_ranges};
pub use guardrails::ActionTaken;
pub use output::Output;
pub use path::{DEFAULT_MAX_TRACKED_UNITS, Decision, DecisionPath, Outcome, Prepared, Refusal};
pub use schema::FieldError;
