//! What a simulated user remembers between requests: the prompts and blocks lately shown.
//! Kept per user by the driver, so a world can make users tire of being prompted.

use std::collections::VecDeque;

use crate::scenario::DAY_MS;

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

    /// Records a prompt now; returns the user's annoyance: prompts in the day before it.
    pub fn prompt(&mut self, now_ms: u64) -> f64 {
        let annoyance = self.recent_prompts(now_ms, DAY_MS) as f64;
        self.prompted.push_back(now_ms);
        annoyance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annoyance_counts_the_prompts_of_the_day_before() {
        let mut memory = UnitMemory::default();
        assert_eq!(memory.prompt(0), 0.0);
        assert_eq!(memory.prompt(1_000), 1.0);
        assert_eq!(memory.prompt(DAY_MS), 1.0, "the first prompt is a day old");
        assert_eq!(memory.prompted.len(), 2);
    }
}
