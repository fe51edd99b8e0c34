//! What a simulated world must say: the request a user sends, the hidden truth,
//! and how the user (or an expert, or the world) reacts to what rein decided.

use rand_chacha::ChaCha8Rng;
use serde_json::Value;

pub use crate::memory::UnitMemory;
pub use crate::reaction::Reaction;
use crate::scenario::{Scenario, Slot};
pub use crate::truth::Truth;

/// A request with its hidden ground truth.
#[derive(Debug, Clone)]
pub struct Request {
    pub features: Value,
    pub context: Value,
    pub truth: Truth,
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
