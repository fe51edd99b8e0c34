//! What a simulated world must say: the request a user sends, the hidden truth,
//! and how the user (or an expert, or the world) reacts to what rein decided.

use std::collections::VecDeque;

use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::scenario::{Scenario, Slot};

/// A request with its hidden ground truth.
#[derive(Debug, Clone)]
pub struct Request {
    pub features: Value,
    pub context: Value,
    pub truth: Truth,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    Label(String),
    Value(f64),
}

/// What rein answered, as far as a world cares.
#[derive(Debug, Clone)]
pub struct Answer {
    pub prediction_id: String,
    pub mode: String,
    pub label: Option<String>,
    pub value: Option<f64>,
    pub score: Option<f64>,
    pub rules: Vec<String>,
}

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

/// Per-user memory a world may use (e.g. how often this user was prompted lately).
#[derive(Debug, Default, Clone)]
pub struct UnitMemory {
    /// Simulated times (ms) at which this user was shown each forceful mode.
    pub prompted: VecDeque<u64>,
    pub blocked: VecDeque<u64>,
}

impl UnitMemory {
    /// How many times in the last `window_ms` the user saw a prompt.
    pub fn recent_prompts(&mut self, now_ms: u64, window_ms: u64) -> usize {
        while self.prompted.front().is_some_and(|t| t + window_ms <= now_ms) {
            self.prompted.pop_front();
        }
        self.prompted.len()
    }
}

pub trait World: Send + Sync {
    /// The example folder, e.g. `phishing-warning`.
    fn example(&self) -> &'static str;
    /// The component the world's requests go to.
    fn component(&self) -> &'static str;
    fn scenario(&self) -> Scenario;
    fn request(&self, rng: &mut ChaCha8Rng, slot: &Slot) -> Request;
    /// Reactions to one answer; `memory` is this user's, `now_ms` simulated.
    fn react(
        &self,
        rng: &mut ChaCha8Rng,
        slot: &Slot,
        request: &Request,
        answer: &Answer,
        memory: &mut UnitMemory,
        now_ms: u64,
    ) -> Vec<Reaction>;
}
