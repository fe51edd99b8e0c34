//! What a run reports: counts by mode, rule, refusal and outcome, accuracy by phase, latency.
//! Kept apart from the driver's HTTP so the tally of every answer is written once.

use std::collections::BTreeMap;

use crate::scenario::Phase;
use crate::truth::Truth;
use crate::world::Answer;

/// Live and final counts of a run.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub planned: u64,
    pub requests: u64,
    pub by_mode: BTreeMap<String, u64>,
    pub by_rule: BTreeMap<String, u64>,
    pub refused: BTreeMap<u16, u64>,
    pub feedback: u64,
    pub outcomes: BTreeMap<String, u64>,
    /// Predictions whose output matched the hidden truth, by phase label: (right, total).
    pub accuracy: BTreeMap<String, (u64, u64)>,
    pub latencies_us: Vec<u64>,
    pub prediction_ids: Vec<String>,
}

impl Summary {
    pub fn latency_percentile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        v[i] as f64 / 1000.0
    }

    /// rein refused a prediction with `status`.
    pub fn refused(&mut self, status: u16, elapsed_us: u64) {
        self.requests += 1;
        *self.refused.entry(status).or_default() += 1;
        self.latencies_us.push(elapsed_us);
    }

    /// rein answered a prediction, scored against the truth; the user's reactions followed.
    pub fn answered(
        &mut self,
        phase: Phase,
        truth: &Truth,
        answer: Answer,
        feedback: u64,
        outcomes: &[&'static str],
        elapsed_us: u64,
    ) {
        self.requests += 1;
        *self.by_mode.entry(answer.mode.clone()).or_default() += 1;
        for rule in &answer.rules {
            *self.by_rule.entry(rule.clone()).or_default() += 1;
        }
        self.feedback += feedback;
        for o in outcomes {
            *self.outcomes.entry(o.to_string()).or_default() += 1;
        }
        let acc = self.accuracy.entry(phase.label()).or_default();
        acc.0 += truth.matches(&answer) as u64;
        acc.1 += 1;
        self.latencies_us.push(elapsed_us);
        self.prediction_ids.push(answer.prediction_id);
    }
}
