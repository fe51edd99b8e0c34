//! A rollout's state: the plan serving now, where it stands, and every action taken with
//! the evidence it was taken on. Kept as JSON by the registry, so a restart resumes it.

use rein_system::traffic::{Analysis, TrafficPlan};
use serde::{Deserialize, Serialize};

/// Who the controller's own actions are by, in the record and the alias history.
pub const CONTROLLER: &str = "controller";

/// One rollout of a candidate version against the champion, on one component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// `{component}/{experiment}/{attempt}`: unique in a registry.
    pub id: String,
    pub component: String,
    pub experiment: String,
    /// 1 for the first; a retry starts the next.
    pub attempt: u32,
    /// The plan serving now: a canary at its current step, or the split.
    pub plan: TrafficPlan,
    /// The candidate's version, resolved when the rollout started.
    pub candidate: String,
    /// The champion's version when it started: a rollback leaves (or puts) it there.
    pub champion: String,
    pub status: Status,
    /// Event time (unix ms) the rollout, and its current step, began; `None` until the
    /// first prediction after the start tells the controller what "now" is.
    pub started_ms: Option<i64>,
    pub step_started_ms: Option<i64>,
    /// The end of the newest window judged (event time).
    pub judged_until_ms: Option<i64>,
    /// A deadline passed and its alert was raised.
    #[serde(default)]
    pub overdue: bool,
    /// What the newest look found, and what the controller is waiting for, if it waits.
    pub last: Option<Evidence>,
    pub waiting: Option<String>,
    /// Every action, oldest first.
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The controller judges each closed window.
    Running,
    /// An operator paused it: the plan keeps serving as it is; nothing is judged.
    Paused,
    /// The candidate became the champion.
    Promoted,
    /// The candidate was taken out of traffic for harm or errors, by the controller.
    RolledBack,
    /// An operator took the candidate out of traffic.
    Aborted,
}

impl Status {
    /// Running or paused: it holds its component's traffic plan.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Promoted => "promoted",
            Status::RolledBack => "rolled_back",
            Status::Aborted => "aborted",
        }
    }
}

/// Something done to a rollout, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// Event time (unix ms) it was taken at: the end of the window judged, or "now".
    pub at_ms: i64,
    /// `controller`, or who the operator said they are.
    pub by: String,
    pub kind: ActionKind,
    /// One line a person reads.
    pub summary: String,
    /// What it was decided on (the controller's actions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionKind {
    Started,
    /// A canary's step moved up: percents of traffic from, to.
    Advanced {
        from: f64,
        to: f64,
    },
    Promoted,
    RolledBack,
    /// The deadline passed without a decision: an alert.
    Overdue,
    Paused,
    Resumed,
    Aborted,
    Retried,
}

impl ActionKind {
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Started => "started",
            ActionKind::Advanced { .. } => "advanced",
            ActionKind::Promoted => "promoted",
            ActionKind::RolledBack => "rolled_back",
            ActionKind::Overdue => "overdue",
            ActionKind::Paused => "paused",
            ActionKind::Resumed => "resumed",
            ActionKind::Aborted => "aborted",
            ActionKind::Retried => "retried",
        }
    }
}

/// What one look at the candidate against the control found, over the current step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The step's start and the end of its newest closed window (event time).
    pub from_ms: i64,
    pub until_ms: i64,
    /// Closed windows since the step began: the looks.
    pub windows: u64,
    pub candidate_predictions: u64,
    pub control_predictions: u64,
    /// The candidate's answers that fell back (its model failing or timing out).
    pub candidate_fallbacks: u64,
    /// Whether the primary goal had the data to be judged at all (else "too little data").
    #[serde(default = "judged")]
    pub primary_judged: bool,
    /// The analysis' decision for the candidate (always-valid, so every look may decide).
    pub verdict: Verdict,
    /// Its reasons, one line each.
    pub reasons: Vec<String>,
}

fn judged() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The primary goal improved and no guardrail is harmed.
    Ship,
    KeepRunning,
    /// The primary goal or a guardrail got significantly worse.
    StopHarm,
    /// The arms' sizes do not fit the weights: the assignment is broken.
    StopSampleRatioMismatch,
}

impl Rollout {
    /// A rollout starting now (`at_ms`: event time, if known) of `plan`, whose candidate
    /// resolved to version `candidate` while `champion` serves.
    pub fn start(
        component: &str,
        plan: TrafficPlan,
        candidate: &str,
        champion: &str,
        attempt: u32,
        at_ms: Option<i64>,
        by: &str,
    ) -> Rollout {
        let experiment = plan.experiment.clone();
        let mut rollout = Rollout {
            id: format!("{component}/{experiment}/{attempt}"),
            component: component.into(),
            experiment,
            attempt,
            plan,
            candidate: candidate.into(),
            champion: champion.into(),
            status: Status::Running,
            started_ms: at_ms,
            step_started_ms: at_ms,
            judged_until_ms: None,
            overdue: false,
            last: None,
            waiting: None,
            actions: Vec::new(),
        };
        let what = match &rollout.plan.canary {
            Some(c) => format!("canary of {candidate} at {}% (steps {:?})", c.percent(), c.steps),
            None => format!("split test of {candidate} against champion {champion}"),
        };
        let summary = format!("started: {what}");
        rollout.record(at_ms.unwrap_or(0), by, ActionKind::Started, summary, None);
        rollout
    }

    /// Its analysis (a rollout's plan always has one).
    pub fn analysis(&self) -> Option<&Analysis> {
        self.plan.analysis.as_ref()
    }

    /// The candidate's share of traffic now, in percent (a split: its weight's share).
    pub fn candidate_percent(&self) -> f64 {
        if let Some(c) = &self.plan.canary {
            return c.percent();
        }
        let Some((candidate, _)) = self.plan.judged_arms() else { return 0.0 };
        let total: f64 = self.plan.split.iter().map(|a| a.weight).sum();
        let mine: f64 = self.plan.split.iter().filter(|a| a.variant == candidate).map(|a| a.weight).sum();
        if total > 0.0 { 100.0 * mine / total } else { 0.0 }
    }

    /// The step's start once event time is known: the first look fixes an unknown one.
    pub fn begin_at(&mut self, at_ms: i64) {
        if self.started_ms.is_none() {
            self.started_ms = Some(at_ms);
            if let Some(first) = self.actions.first_mut()
                && first.at_ms == 0
            {
                first.at_ms = at_ms;
            }
        }
        if self.step_started_ms.is_none() {
            self.step_started_ms = Some(at_ms);
        }
    }

    pub(crate) fn record(
        &mut self,
        at_ms: i64,
        by: &str,
        kind: ActionKind,
        summary: String,
        evidence: Option<Evidence>,
    ) {
        self.actions.push(Action { at_ms, by: by.into(), kind, summary, evidence });
    }

    /// The newest action.
    pub fn latest(&self) -> Option<&Action> {
        self.actions.last()
    }
}
