//! A rollout: a traffic plan under analysis (`[components.traffic]` with `analysis`), and
//! what the controller does with it, look after look.
//!
//! Pure: the server reads the evidence (`rein_monitor::experiment::analyze` over the
//! store), asks [`judge`] what to do, carries the move out (a new plan, an alias move) and
//! stores the [`Rollout`] it returns. Nothing here reads a clock or a file; every instant
//! is event time, given by the caller.

pub mod judge;
pub mod operate;
pub mod rollout;

pub use judge::{Move, judge};
pub use operate::{Command, OperateError};
pub use rollout::{Action, ActionKind, Evidence, Rollout, Status, Verdict};
