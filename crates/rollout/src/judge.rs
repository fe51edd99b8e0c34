//! What the controller does after a look: wait, advance a canary's step, promote, or roll
//! back, and the rollout as it is after.
//!
//! - Errors first: the candidate rolls back once even the low end of the 95% Wilson
//!   interval of its fallback share is above `max_error_rate` (a model that fails on
//!   every request goes at the first look; a stray timeout does not).
//! - Harm next: the analysis' always-valid decision `stop` (the primary goal or a guardrail
//!   significantly worse, or a sample-ratio mismatch) rolls back, at any look.
//! - Too little traffic is not a pass: a step passes only with `min_predictions` in each arm.
//! - A canary's earlier steps pass on no harm; its last step (the one before 100%) and a
//!   split pass only when the analysis says `ship`, and passing promotes.

use rein_stats::wilson_interval;

use crate::rollout::{ActionKind, CONTROLLER, Evidence, Rollout, Status, Verdict};

/// The controller's move after a look.
#[derive(Debug, Clone, PartialEq)]
pub enum Move {
    /// Nothing decided yet; why.
    Wait(String),
    /// The canary moves to this step.
    Advance { step: usize },
    /// The candidate becomes the champion.
    Promote(String),
    /// The candidate leaves the traffic; why.
    RollBack(String),
}

/// The move `evidence` calls for in a running rollout (`Wait` in any other).
pub fn judge(rollout: &Rollout, evidence: &Evidence) -> Move {
    let Some(analysis) = rollout.analysis() else { return Move::Wait("the plan has no analysis".into()) };
    if rollout.status != Status::Running {
        return Move::Wait(format!("the rollout is {}", rollout.status.as_str()));
    }
    let (n, failed) = (evidence.candidate_predictions, evidence.candidate_fallbacks);
    if n > 0
        && let Ok(share) = wilson_interval(failed.min(n), n, 0.95)
        && share.lower > analysis.max_error_rate
    {
        return Move::RollBack(format!(
            "errors: {failed} of the candidate's {n} answers fell back ({:.1}%, 95% [{:.1}%, {:.1}%]), above the bound of {}%",
            100.0 * share.estimate,
            100.0 * share.lower,
            100.0 * share.upper,
            100.0 * analysis.max_error_rate
        ));
    }
    match evidence.verdict {
        Verdict::StopHarm => return Move::RollBack(format!("harm: {}", evidence.reasons.join("; "))),
        Verdict::StopSampleRatioMismatch => {
            return Move::RollBack(format!("the assignment is broken: {}", evidence.reasons.join("; ")));
        }
        Verdict::Ship | Verdict::KeepRunning => {}
    }
    let min = analysis.min_predictions;
    if evidence.candidate_predictions < min || evidence.control_predictions < min {
        return Move::Wait(format!(
            "too little traffic to judge the step: {} candidate and {} control predictions of the {min} each needs",
            evidence.candidate_predictions, evidence.control_predictions
        ));
    }
    if !evidence.primary_judged {
        return Move::Wait(format!("too little data on `{}` to judge the step yet", analysis.primary));
    }
    if let Some(canary) = &rollout.plan.canary {
        if canary.percent() >= 100.0 {
            return Move::Wait("the canary serves all traffic: nothing is left to compare it with".into());
        }
        let next = canary.step + 1;
        let last = canary.steps.get(next).is_none_or(|p| *p >= 100.0);
        if !last {
            return Move::Advance { step: next };
        }
    }
    match evidence.verdict {
        Verdict::Ship if analysis.promote => {
            // the primary's finding first; the evidence keeps every guardrail's
            let primary = evidence.reasons.first().map_or("", String::as_str);
            Move::Promote(format!("{primary}; no guardrail harmed"))
        }
        Verdict::Ship => Move::Wait("the analysis says ship; `promote = false` leaves it to an operator".into()),
        _ => Move::Wait(format!("`{}` has not improved significantly yet", analysis.primary)),
    }
}

/// Whether the rollout's deadline passed at `as_of_ms` (event time) without a decision,
/// and its alert is not raised yet.
pub fn overdue(rollout: &Rollout, as_of_ms: i64) -> bool {
    let deadline = rollout.analysis().and_then(|a| a.deadline_ms());
    match (deadline, rollout.started_ms) {
        (Some(d), Some(start)) => rollout.status == Status::Running && !rollout.overdue && as_of_ms >= start + d,
        _ => false,
    }
}

impl Rollout {
    /// Carries out `mv`, decided on `evidence` (a look ending at `evidence.until_ms`) at
    /// `now_ms` (event time): the plan, the status and the record as they are after it. A
    /// new step starts at `now_ms`, when its plan starts serving: what the previous plan
    /// answered after the judged window is not the new step's. The caller applies the plan
    /// ([`Rollout::serving`]) and moves the alias.
    pub fn apply(&mut self, mv: &Move, evidence: Evidence, now_ms: i64) {
        let at = evidence.until_ms;
        self.judged_until_ms = Some(at);
        self.waiting = None;
        match mv {
            Move::Wait(why) => {
                self.waiting = Some(why.clone());
                self.last = Some(evidence);
            }
            Move::Advance { step } => {
                let Some(canary) = self.plan.canary.as_mut() else { return };
                let from = canary.percent();
                canary.step = *step;
                let to = canary.percent();
                self.step_started_ms = Some(now_ms.max(at));
                self.judged_until_ms = None;
                let summary = format!("advanced the canary from {from}% to {to}%: no harm over the step");
                self.record(at, CONTROLLER, ActionKind::Advanced { from, to }, summary, Some(evidence.clone()));
                self.last = Some(evidence);
            }
            Move::Promote(why) => {
                self.status = Status::Promoted;
                let summary = format!("promoted {} to champion: {why}", self.candidate);
                self.record(at, CONTROLLER, ActionKind::Promoted, summary, Some(evidence.clone()));
                self.last = Some(evidence);
            }
            Move::RollBack(why) => {
                self.status = Status::RolledBack;
                let summary = format!("rolled back {}: {why}", self.candidate);
                self.record(at, CONTROLLER, ActionKind::RolledBack, summary, Some(evidence.clone()));
                self.last = Some(evidence);
            }
        }
    }

    /// Records that the deadline passed at `as_of_ms`.
    pub fn mark_overdue(&mut self, as_of_ms: i64) {
        self.overdue = true;
        let deadline = self.analysis().and_then(|a| a.deadline.clone()).unwrap_or_default();
        let waiting = self.waiting.clone().unwrap_or_else(|| "no window closed yet".into());
        let summary = format!("undecided after its deadline of {deadline}: {waiting}");
        self.record(as_of_ms, CONTROLLER, ActionKind::Overdue, summary, self.last.clone());
    }

    /// The plan its component serves: its own while active, else what is left once the
    /// candidate is settled (the holdout, a shadow of another version; `None`: no plan).
    pub fn serving(&self) -> Option<rein_system::traffic::TrafficPlan> {
        if self.status.is_active() { Some(self.plan.clone()) } else { self.plan.settled() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rein_system::traffic::TrafficPlan;

    fn canary(steps: &[f64]) -> Rollout {
        let plan: TrafficPlan = serde_json::from_value(serde_json::json!({
            "experiment": "warn-v2",
            "canary": {"alias": "challenger", "steps": steps},
            "analysis": {"window": "1h", "primary": "fewer_credentials", "min_predictions": 100, "deadline": "2d"},
        }))
        .unwrap();
        assert_eq!(plan.problems(false), vec![]);
        Rollout::start("phishing", plan, "v2", "v1", 1, Some(0), "api")
    }

    fn look(candidate: u64, control: u64, fallbacks: u64, verdict: Verdict, until_ms: i64) -> Evidence {
        Evidence {
            from_ms: 0,
            until_ms,
            windows: 1,
            candidate_predictions: candidate,
            control_predictions: control,
            candidate_fallbacks: fallbacks,
            primary_judged: true,
            verdict,
            reasons: vec!["because".into()],
        }
    }

    #[test]
    fn a_canary_steps_up_on_no_harm_and_promotes_when_its_last_step_ships() {
        let mut r = canary(&[5.0, 25.0, 50.0, 100.0]);
        let mv = judge(&r, &look(150, 3000, 0, Verdict::KeepRunning, 3_600_000));
        assert_eq!(mv, Move::Advance { step: 1 });
        // judged at 01:00 once the lateness passed, at 01:01: the new step starts serving then
        r.apply(&mv, look(150, 3000, 0, Verdict::KeepRunning, 3_600_000), 3_660_000);
        assert_eq!(r.plan.canary.as_ref().unwrap().percent(), 25.0);
        assert_eq!(r.step_started_ms, Some(3_660_000));
        let mv = judge(&r, &look(800, 2400, 0, Verdict::KeepRunning, 7_200_000));
        assert_eq!(mv, Move::Advance { step: 2 });
        r.apply(&mv, look(800, 2400, 0, Verdict::KeepRunning, 7_200_000), 0);
        // 50% is the last step before 100%: it needs the primary improved, not only no harm
        let wait = judge(&r, &look(1600, 1600, 0, Verdict::KeepRunning, 10_800_000));
        assert!(matches!(&wait, Move::Wait(why) if why.contains("fewer_credentials")), "{wait:?}");
        let ship = judge(&r, &look(1600, 1600, 0, Verdict::Ship, 14_400_000));
        assert!(matches!(ship, Move::Promote(_)));
        r.apply(&ship, look(1600, 1600, 0, Verdict::Ship, 14_400_000), 0);
        assert_eq!(r.status, Status::Promoted);
        assert_eq!(r.serving(), None, "settled: no plan left");
        let kinds: Vec<&str> = r.actions.iter().map(|a| a.kind.name()).collect();
        assert_eq!(kinds, ["started", "advanced", "advanced", "promoted"]);
        assert!(r.actions[3].evidence.is_some());
    }

    #[test]
    fn too_little_traffic_waits_and_says_so() {
        let r = canary(&[5.0, 100.0]);
        let mv = judge(&r, &look(40, 900, 0, Verdict::Ship, 3_600_000));
        assert!(matches!(&mv, Move::Wait(why) if why.contains("40 candidate")), "{mv:?}");
        // enough predictions, but the analysis could not judge the primary goal yet
        let mut unjudged = look(400, 900, 0, Verdict::KeepRunning, 3_600_000);
        unjudged.primary_judged = false;
        let mv = judge(&r, &unjudged);
        assert!(matches!(&mv, Move::Wait(why) if why.contains("too little data on `fewer_credentials`")), "{mv:?}");
    }

    #[test]
    fn harm_or_errors_roll_back_at_any_look() {
        let r = canary(&[5.0, 25.0, 100.0]);
        // harm shows before the step has its traffic: it still rolls back
        let mv = judge(&r, &look(30, 600, 0, Verdict::StopHarm, 3_600_000));
        assert!(matches!(&mv, Move::RollBack(why) if why.starts_with("harm")), "{mv:?}");
        // every answer failing: gone at the first look
        let mv = judge(&r, &look(20, 400, 20, Verdict::KeepRunning, 3_600_000));
        assert!(matches!(&mv, Move::RollBack(why) if why.starts_with("errors: 20 of")), "{mv:?}");
        // one stray failure in 20 is within a 5% bound's interval
        let mv = judge(&r, &look(20, 400, 1, Verdict::KeepRunning, 3_600_000));
        assert!(matches!(mv, Move::Wait(_)), "{mv:?}");
        let mut r = r;
        r.apply(&Move::RollBack("harm".into()), look(30, 600, 0, Verdict::StopHarm, 3_600_000), 0);
        assert_eq!(r.status, Status::RolledBack);
        assert_eq!(
            judge(&r, &look(999, 999, 0, Verdict::Ship, 7_200_000)),
            Move::Wait("the rollout is rolled_back".into())
        );
    }

    #[test]
    fn a_deadline_passes_once() {
        let mut r = canary(&[5.0, 100.0]);
        assert!(!overdue(&r, 86_400_000));
        assert!(overdue(&r, 2 * 86_400_000));
        r.mark_overdue(2 * 86_400_000);
        assert!(!overdue(&r, 3 * 86_400_000), "raised once");
        assert_eq!(r.latest().unwrap().kind, ActionKind::Overdue);
    }

    #[test]
    fn a_split_promotes_only_on_ship() {
        let plan: TrafficPlan = serde_json::from_value(serde_json::json!({
            "experiment": "ab",
            "split": [{"variant": "control", "alias": "champion", "weight": 1},
                      {"variant": "treatment", "alias": "challenger", "weight": 1}],
            "holdout": {"share": 0.05},
            "analysis": {"window": "1d", "primary": "g"},
        }))
        .unwrap();
        assert_eq!(plan.problems(true), vec![]);
        let mut r = Rollout::start("c", plan, "v2", "v1", 1, None, "api");
        assert_eq!(r.candidate_percent(), 50.0);
        assert!(matches!(judge(&r, &look(500, 500, 0, Verdict::KeepRunning, 1)), Move::Wait(_)));
        let ship = judge(&r, &look(500, 500, 0, Verdict::Ship, 1));
        r.apply(&ship, look(500, 500, 0, Verdict::Ship, 1), 0);
        let left = r.serving().unwrap();
        assert!(left.split.is_empty() && left.analysis.is_none());
        assert_eq!(left.holdout.unwrap().share, 0.05, "the holdout outlives the experiment");
    }
}
