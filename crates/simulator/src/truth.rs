//! The hidden truth of a request: what the world knows and rein must guess.
//! Stated and scored one way, so every world's truth means the same to the driver.

use crate::world::Answer;

#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    Label(String),
    Value(f64),
}

impl Truth {
    /// A binary world's truth: `yes` when `flag`, else `no`.
    pub fn either(flag: bool, yes: &str, no: &str) -> Truth {
        Truth::Label(if flag { yes } else { no }.into())
    }

    pub fn is(&self, label: &str) -> bool {
        matches!(self, Truth::Label(l) if l == label)
    }

    /// Whether rein's answer is right: the same label, or a value within 15%.
    pub fn matches(&self, answer: &Answer) -> bool {
        match (self, &answer.label, answer.value) {
            (Truth::Label(t), Some(l), _) => l == t,
            (Truth::Value(t), _, Some(v)) => (v - t).abs() <= 0.15 * t.abs().max(1.0),
            _ => false,
        }
    }
}
