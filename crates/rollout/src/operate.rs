//! An operator's commands: pause, resume, abort, retry (argo-rollouts#2866 and #841 ask
//! for these). Each is checked against where the rollout stands; a command that does not
//! apply says why and what would.

use serde::{Deserialize, Serialize};

use crate::rollout::{ActionKind, Rollout, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Stop judging; the plan keeps serving as it is.
    Pause,
    /// Judge again, from where it paused.
    Resume,
    /// Take the candidate out of traffic now.
    Abort,
    /// Start a rolled-back or aborted rollout again, from its first step.
    Retry,
}

impl Command {
    pub fn parse(s: &str) -> Option<Command> {
        match s {
            "pause" => Some(Command::Pause),
            "resume" => Some(Command::Resume),
            "abort" => Some(Command::Abort),
            "retry" => Some(Command::Retry),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Abort => "abort",
            Command::Retry => "retry",
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OperateError {
    #[error("rollout `{id}` is {status}, so it cannot {command}: {hint}")]
    NotNow { id: String, status: &'static str, command: &'static str, hint: &'static str },
}

impl Rollout {
    /// Applies `command` by `by` at `at_ms` (event time). A retry leaves this rollout as it
    /// is and returns the next attempt, which starts from the first step.
    pub fn operate(
        &mut self,
        command: Command,
        by: &str,
        at_ms: Option<i64>,
        reason: &str,
    ) -> Result<Option<Rollout>, OperateError> {
        let refuse = |hint| OperateError::NotNow {
            id: self.id.clone(),
            status: self.status.as_str(),
            command: command.as_str(),
            hint,
        };
        let because = if reason.is_empty() { String::new() } else { format!(": {reason}") };
        let at = at_ms.or(self.judged_until_ms).or(self.started_ms).unwrap_or(0);
        match (command, self.status) {
            (Command::Pause, Status::Running) => {
                self.status = Status::Paused;
                self.record(at, by, ActionKind::Paused, format!("paused by {by}{because}"), None);
                Ok(None)
            }
            (Command::Resume, Status::Paused) => {
                self.status = Status::Running;
                self.record(at, by, ActionKind::Resumed, format!("resumed by {by}{because}"), None);
                Ok(None)
            }
            (Command::Abort, Status::Running | Status::Paused) => {
                self.status = Status::Aborted;
                let summary = format!("aborted by {by}{because}: {} left the traffic", self.candidate);
                self.record(at, by, ActionKind::Aborted, summary, None);
                Ok(None)
            }
            (Command::Retry, Status::RolledBack | Status::Aborted) => {
                let mut plan = self.plan.clone();
                if let Some(c) = plan.canary.as_mut() {
                    c.step = 0;
                }
                let mut next =
                    Rollout::start(&self.component, plan, &self.candidate, &self.champion, self.attempt + 1, at_ms, by);
                let summary = format!("retried by {by}{because} (attempt {} after {})", next.attempt, self.id);
                next.record(at, by, ActionKind::Retried, summary, None);
                Ok(Some(next))
            }
            (Command::Pause, _) => Err(refuse("only a running rollout can be paused")),
            (Command::Resume, _) => Err(refuse("only a paused rollout can be resumed")),
            (Command::Abort, _) => Err(refuse("it no longer holds any traffic")),
            (Command::Retry, _) => Err(refuse("only a rolled-back or aborted rollout can be retried; abort it first")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> Rollout {
        let plan = serde_json::from_value(serde_json::json!({
            "experiment": "warn-v2",
            "canary": {"alias": "challenger", "steps": [10, 50, 100], "step": 1},
            "analysis": {"window": "1h", "primary": "g"},
        }))
        .unwrap();
        Rollout::start("phishing", plan, "v2", "v1", 1, Some(0), "api")
    }

    #[test]
    fn pause_resume_abort_retry() {
        let mut r = running();
        r.operate(Command::Pause, "ana", Some(10), "looking into latency").unwrap();
        assert_eq!(r.status, Status::Paused);
        assert!(r.serving().is_some(), "a paused rollout keeps its traffic");
        let again = r.operate(Command::Pause, "ana", Some(11), "").unwrap_err();
        assert!(again.to_string().contains("is paused, so it cannot pause"), "{again}");
        r.operate(Command::Resume, "ana", Some(12), "").unwrap();
        assert_eq!(r.status, Status::Running);
        assert!(r.operate(Command::Retry, "ana", Some(13), "").is_err(), "a running rollout is not retried");
        r.operate(Command::Abort, "ana", Some(14), "wrong model").unwrap();
        assert_eq!(r.status, Status::Aborted);
        assert_eq!(r.serving(), None);
        let next = r.operate(Command::Retry, "ana", Some(15), "").unwrap().unwrap();
        assert_eq!((next.attempt, next.id.as_str()), (2, "phishing/warn-v2/2"));
        assert_eq!(next.plan.canary.as_ref().unwrap().step, 0, "a retry starts from the first step");
        assert_eq!(next.status, Status::Running);
        let kinds: Vec<&str> = r.actions.iter().map(|a| a.kind.name()).collect();
        assert_eq!(kinds, ["started", "paused", "resumed", "aborted"]);
        assert_eq!(r.actions[1].summary, "paused by ana: looking into latency");
    }
}
