//! What goes back to rein after an answer: outcomes, and feedback that carries the truth.
//! Built here so every world hands the hidden truth to rein the same way.

use rand::Rng;

use crate::sample::bernoulli;
use crate::truth::Truth;
use crate::world::Answer;

/// A reaction sent back to rein.
#[derive(Debug, Clone, PartialEq)]
pub enum Reaction {
    Feedback {
        kind: &'static str,
        label: Option<String>,
        value: Option<f64>,
        source: &'static str,
        comment: Option<String>,
    },
    Outcome {
        name: &'static str,
        value: Option<f64>,
    },
}

impl Reaction {
    pub fn outcome(name: &'static str) -> Self {
        Reaction::Outcome { name, value: None }
    }

    /// An outcome with its value (seconds, a price).
    pub fn outcome_of(name: &'static str, value: f64) -> Self {
        Reaction::Outcome { name, value: Some(value) }
    }

    /// `source` gives the truth: a label, or a value.
    pub fn label(truth: &Truth, source: &'static str) -> Self {
        Self::feedback("label", truth, source)
    }

    /// `source` says the answer was wrong, and what is right.
    pub fn incorrect(truth: &Truth, source: &'static str) -> Self {
        Self::feedback("incorrect", truth, source)
    }

    /// The same feedback with a comment.
    pub fn saying(self, text: &str) -> Self {
        match self {
            Reaction::Feedback { kind, label, value, source, .. } => {
                Reaction::Feedback { kind, label, value, source, comment: Some(text.into()) }
            }
            outcome => outcome,
        }
    }

    /// With probability `p` the system records the truth later (a takedown feed, a
    /// letter), unless an expert reviewed it already; no draw when `p` is 0.
    pub fn recorded_later(rng: &mut impl Rng, truth: &Truth, answer: &Answer, p: f64) -> Option<Self> {
        (p > 0.0 && answer.mode != "escalate" && bernoulli(rng, p)).then(|| Self::label(truth, "system"))
    }

    fn feedback(kind: &'static str, truth: &Truth, source: &'static str) -> Self {
        let (label, value) = match truth {
            Truth::Label(l) => (Some(l.clone()), None),
            Truth::Value(v) => (None, Some(*v)),
        };
        Reaction::Feedback { kind, label, value, source, comment: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn answer(mode: &str) -> Answer {
        Answer { prediction_id: "p".into(), mode: mode.into(), label: None, value: None, score: None, rules: vec![] }
    }

    #[test]
    fn feedback_carries_the_truth_as_a_label_or_a_value() {
        let told = Reaction::label(&Truth::Value(120.0), "user").saying("too dark");
        let Reaction::Feedback { kind, label, value, comment, .. } = told else { panic!() };
        assert_eq!((kind, label, value, comment.as_deref()), ("label", None, Some(120.0), Some("too dark")));
        let wrong = Reaction::incorrect(&Truth::Label("legit".into()), "user");
        let Reaction::Feedback { kind, label, value, .. } = wrong else { panic!() };
        assert_eq!((kind, label.as_deref(), value), ("incorrect", Some("legit"), None));
    }

    #[test]
    fn the_later_record_skips_reviewed_answers_and_draws_nothing_at_zero() {
        let truth = Truth::Label("audit".into());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(Reaction::recorded_later(&mut rng, &truth, &answer("escalate"), 1.0).is_none());
        assert!(Reaction::recorded_later(&mut rng, &truth, &answer("none"), 0.0).is_none());
        assert_eq!(rng, ChaCha8Rng::seed_from_u64(1), "no draw");
        assert!(Reaction::recorded_later(&mut rng, &truth, &answer("none"), 1.0).is_some());
    }
}
