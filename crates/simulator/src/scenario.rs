//! A scenario: how many users send how many requests over how many simulated days,
//! and which changes of the world happen when.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub const DAY_MS: u64 = 86_400_000;

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub description: &'static str,
    pub users: u32,
    pub requests: u32,
    pub days: f64,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub kind: ChangeKind,
    /// When it starts and ends, as fractions of the run.
    pub from: f64,
    pub until: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// Feature distributions move.
    DataDrift,
    /// The relation between features and truth changes.
    ConceptDrift,
    /// An upstream feature breaks (null, zero, or other units).
    BrokenFeature,
    /// Three times the traffic.
    Surge,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::DataDrift => "data_drift",
            ChangeKind::ConceptDrift => "concept_drift",
            ChangeKind::BrokenFeature => "broken_feature",
            ChangeKind::Surge => "surge",
        }
    }
}

/// Which changes are active at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phase {
    pub data_drift: bool,
    pub concept_drift: bool,
    pub broken_feature: bool,
    pub surge: bool,
}

impl Phase {
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if self.data_drift {
            parts.push("data drift");
        }
        if self.concept_drift {
            parts.push("concept drift");
        }
        if self.broken_feature {
            parts.push("broken feature");
        }
        if self.surge {
            parts.push("surge");
        }
        if parts.is_empty() { "normal".into() } else { parts.join(" + ") }
    }
}

impl Scenario {
    /// Adds a change from day `from_day` until day `until_day` of the run.
    pub fn during(mut self, kind: ChangeKind, from_day: f64, until_day: f64) -> Self {
        self.changes.push(Change { kind, from: from_day / self.days, until: until_day / self.days });
        self
    }

    pub fn phase_at(&self, fraction: f64) -> Phase {
        let mut p = Phase::default();
        for c in self.changes.iter().filter(|c| fraction >= c.from && fraction < c.until) {
            match c.kind {
                ChangeKind::DataDrift => p.data_drift = true,
                ChangeKind::ConceptDrift => p.concept_drift = true,
                ChangeKind::BrokenFeature => p.broken_feature = true,
                ChangeKind::Surge => p.surge = true,
            }
        }
        p
    }

    /// Scales users and requests (e.g. 0.05 for a quick test run); keeps days and changes.
    pub fn scaled(mut self, factor: f64) -> Self {
        self.users = ((self.users as f64 * factor).ceil() as u32).max(1);
        self.requests = ((self.requests as f64 * factor).ceil() as u32).max(1);
        self
    }

    /// Every request of the run, in time order: who sends it, when, in which phase.
    /// Arrivals are three times as dense during a surge; a few users send most requests.
    pub fn schedule(&self, seed: u64) -> Vec<Slot> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let surge_weight = |f: f64| if self.phase_at(f).surge { 3.0 } else { 1.0 };
        // Rejection sampling of arrival fractions against the surge density.
        let mut fractions = Vec::with_capacity(self.requests as usize);
        while fractions.len() < self.requests as usize {
            let f: f64 = rng.random();
            if rng.random::<f64>() * 3.0 < surge_weight(f) {
                fractions.push(f);
            }
        }
        fractions.sort_by(f64::total_cmp);
        fractions
            .into_iter()
            .enumerate()
            .map(|(index, fraction)| {
                let u: f64 = rng.random();
                let unit = (u * u * self.users as f64) as u32;
                Slot {
                    index: index as u64,
                    unit: format!("user-{unit}"),
                    offset_ms: (fraction * self.days * DAY_MS as f64) as u64,
                    fraction,
                    phase: self.phase_at(fraction),
                }
            })
            .collect()
    }
}

/// One request in the schedule.
#[derive(Debug, Clone)]
pub struct Slot {
    pub index: u64,
    pub unit: String,
    /// Simulated milliseconds since the start of the run.
    pub offset_ms: u64,
    pub fraction: f64,
    pub phase: Phase,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        Scenario {
            name: "t",
            description: "",
            users: 100,
            requests: 4000,
            days: 7.0,
            changes: vec![Change { kind: ChangeKind::Surge, from: 0.5, until: 0.75 }],
        }
    }

    #[test]
    fn the_schedule_is_deterministic_ordered_and_denser_in_a_surge() {
        let a = scenario().schedule(7);
        let b = scenario().schedule(7);
        assert_eq!(a.len(), 4000);
        assert!(a.iter().zip(&b).all(|(x, y)| x.unit == y.unit && x.offset_ms == y.offset_ms));
        assert!(a.windows(2).all(|w| w[0].offset_ms <= w[1].offset_ms));
        let in_surge = a.iter().filter(|s| s.phase.surge).count() as f64;
        // a quarter of the time at three times the rate: 3/6 of the requests
        assert!((in_surge / 4000.0 - 0.5).abs() < 0.05, "{in_surge}");
        assert_ne!(scenario().schedule(8)[0].unit.len(), 0);
    }

    #[test]
    fn changes_are_written_in_days() {
        let s = Scenario { days: 8.0, changes: vec![], ..scenario() }.during(ChangeKind::DataDrift, 2.0, 8.0);
        assert_eq!(s.changes, [Change { kind: ChangeKind::DataDrift, from: 0.25, until: 1.0 }]);
    }
}
