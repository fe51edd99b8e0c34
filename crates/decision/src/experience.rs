//! The experience policy: how forcefully a prediction reaches the user
//! (automate, prompt, annotate, none), and how often a user may be bothered.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use rein_system::{Experience, FrequencyCap, Mode, ModeValue, Policy};
use serde::Serialize;

/// Why a mode was chosen; serialised into the response and telemetry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// The policy always uses this mode.
    Fixed,
    /// The score reached this mode's threshold (or no threshold, for `none`).
    Threshold { score: f64, threshold: Option<f64> },
    /// This mode had the highest expected value at probability `p`.
    ExpectedValue {
        p: f64,
        #[serde(serialize_with = "mode_map")]
        values: Vec<(Mode, f64)>,
    },
    /// A guardrail decided.
    Guardrail { rule: String, action: String },
    /// The model failed; the declared fallback was used.
    Fallback { error: String },
}

/// Expected values as a JSON object, most forceful mode first.
fn mode_map<S: serde::Serializer>(values: &[(Mode, f64)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(values.len()))?;
    for (mode, v) in values {
        map.serialize_entry(mode.as_str(), v)?;
    }
    map.end()
}

/// The policy's choice before frequency caps.
pub fn choose(policy: &Policy, score: f64) -> (Mode, Reason) {
    match policy {
        Policy::Fixed(mode) => (*mode, Reason::Fixed),
        Policy::Thresholds(thresholds) => {
            // sorted most forceful first
            for (mode, t) in thresholds {
                if score >= *t {
                    return (*mode, Reason::Threshold { score, threshold: Some(*t) });
                }
            }
            (Mode::None, Reason::Threshold { score, threshold: None })
        }
        Policy::ExpectedValue(values) => {
            let p = score.clamp(0.0, 1.0);
            let evs: Vec<(Mode, f64)> = values.iter().map(|v| (v.mode, expected_value(v, p))).collect();
            // ties go to the less forceful mode: bother the user only for a real gain
            let best = evs.iter().fold(evs[0], |best, cur| if cur.1 >= best.1 { *cur } else { best });
            (best.0, Reason::ExpectedValue { p, values: evs })
        }
    }
}

fn expected_value(v: &ModeValue, p: f64) -> f64 {
    p * v.right + (1.0 - p) * v.wrong
}

/// The score ranges in which each mode wins under an expected-value policy:
/// `(mode, from, to)` over [0, 1], most forceful (highest p) last.
pub fn derived_ranges(values: &[ModeValue]) -> Vec<(Mode, f64, f64)> {
    // EV is linear in p, so the winner only changes where two lines cross.
    let mut cuts = vec![0.0, 1.0];
    for (i, a) in values.iter().enumerate() {
        for b in &values[i + 1..] {
            let slope = (a.right - a.wrong) - (b.right - b.wrong);
            if slope != 0.0 {
                let p = (b.wrong - a.wrong) / slope;
                if p > 0.0 && p < 1.0 {
                    cuts.push(p);
                }
            }
        }
    }
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    let mut ranges: Vec<(Mode, f64, f64)> = Vec::new();
    for w in cuts.windows(2) {
        let mid = (w[0] + w[1]) / 2.0;
        let (mode, _) = choose(&Policy::ExpectedValue(values.to_vec()), mid);
        match ranges.last_mut() {
            Some(last) if last.0 == mode => last.2 = w[1],
            _ => ranges.push((mode, w[0], w[1])),
        }
    }
    ranges
}

/// A cap that changed the mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapApplied {
    pub from: Mode,
    pub to: Mode,
    pub max: u32,
    pub per_seconds: u64,
}

/// Per-unit counts of shown modes, bounded in memory, expiring with their window.
pub struct FrequencyLimiter {
    caps: Vec<FrequencyCap>,
    shards: Vec<Mutex<HashMap<String, UnitHistory>>>,
    max_units_per_shard: usize,
}

#[derive(Default)]
struct UnitHistory {
    /// Times (ms) each capped mode was shown, oldest first; index = position in `caps`.
    shown: Vec<VecDeque<u64>>,
    last_seen_ms: u64,
}

const SHARDS: usize = 16;

impl FrequencyLimiter {
    pub fn new(experience: &Experience, max_units: usize) -> Self {
        let shards = if experience.caps.is_empty() { 0 } else { SHARDS };
        Self {
            caps: experience.caps.clone(),
            shards: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
            max_units_per_shard: (max_units / SHARDS).max(1),
        }
    }

    /// Applies the caps to `mode` for `unit` at `now_ms` and records what is shown.
    pub fn apply(&self, unit: Option<&str>, mut mode: Mode, now_ms: u64) -> (Mode, Vec<CapApplied>) {
        let mut applied = Vec::new();
        let (Some(unit), false) = (unit, self.caps.is_empty()) else {
            return (mode, applied);
        };
        let shard = &self.shards[shard_of(unit)];
        // A poisoned lock only means another request panicked mid-update; the counts are still usable.
        let mut units = shard.lock().unwrap_or_else(|e| e.into_inner());
        if !units.contains_key(unit) && units.len() >= self.max_units_per_shard {
            self.evict(&mut units, now_ms);
        }
        if !units.contains_key(unit) {
            let fresh = UnitHistory { shown: vec![VecDeque::new(); self.caps.len()], last_seen_ms: now_ms };
            units.insert(unit.to_string(), fresh);
        }
        let Some(history) = units.get_mut(unit) else { return (mode, applied) };
        history.last_seen_ms = now_ms;
        while let Some(i) = self.caps.iter().position(|c| c.mode == mode) {
            let cap = &self.caps[i];
            let per_ms = cap.per.as_millis() as u64;
            let times = &mut history.shown[i];
            while times.front().is_some_and(|t| t + per_ms <= now_ms) {
                times.pop_front();
            }
            if times.len() < cap.max as usize {
                times.push_back(now_ms);
                break;
            }
            let to = mode.downgrade();
            applied.push(CapApplied { from: mode, to, max: cap.max, per_seconds: cap.per.as_secs() });
            if to == mode {
                break;
            }
            mode = to;
        }
        (mode, applied)
    }

    /// Drops units whose windows have all expired; if none have, the least recently seen eighth.
    fn evict(&self, units: &mut HashMap<String, UnitHistory>, now_ms: u64) {
        let longest = self.caps.iter().map(|c| c.per.as_millis() as u64).max().unwrap_or(0);
        let before = units.len();
        units.retain(|_, h| h.last_seen_ms + longest > now_ms);
        if units.len() == before {
            let mut seen: Vec<u64> = units.values().map(|h| h.last_seen_ms).collect();
            seen.sort_unstable();
            let cutoff = seen[(seen.len() / 8).min(seen.len() - 1)];
            units.retain(|_, h| h.last_seen_ms > cutoff);
        }
    }

    pub fn tracked_units(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len()).sum()
    }
}

fn shard_of(unit: &str) -> usize {
    // FNV-1a: cheap and stable; the shard only spreads lock contention.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in unit.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    (h % SHARDS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn phishing_values() -> Vec<ModeValue> {
        vec![
            ModeValue { mode: Mode::Automate, right: 25.0, wrong: -200.0 },
            ModeValue { mode: Mode::Prompt, right: 15.0, wrong: -15.0 },
            ModeValue { mode: Mode::Annotate, right: 2.0, wrong: -4.0 },
            ModeValue { mode: Mode::None, right: -20.0, wrong: 0.0 },
        ]
    }

    #[test]
    fn expected_value_picks_the_best_mode_and_derives_thresholds() {
        let values = phishing_values();
        let ranges = derived_ranges(&values);
        let modes: Vec<Mode> = ranges.iter().map(|r| r.0).collect();
        assert_eq!(modes, [Mode::None, Mode::Annotate, Mode::Prompt, Mode::Automate]);
        // none→annotate where -20p = 6p-4: p = 4/26
        assert!((ranges[1].1 - 4.0 / 26.0).abs() < 1e-12);
        // annotate→prompt where 6p-4 = 30p-15: p = 11/24
        assert!((ranges[2].1 - 11.0 / 24.0).abs() < 1e-12);
        // prompt→automate where 30p-15 = 225p-200: p = 185/195
        assert!((ranges[3].1 - 185.0 / 195.0).abs() < 1e-12);
        let policy = Policy::ExpectedValue(values);
        assert_eq!(choose(&policy, 0.1).0, Mode::None);
        assert_eq!(choose(&policy, 0.3).0, Mode::Annotate);
        assert_eq!(choose(&policy, 0.9).0, Mode::Prompt);
        assert_eq!(choose(&policy, 0.99).0, Mode::Automate);
    }

    #[test]
    fn thresholds_pick_the_most_forceful_mode_reached() {
        let policy = Policy::Thresholds(vec![(Mode::Automate, 0.95), (Mode::Prompt, 0.8), (Mode::Annotate, 0.5)]);
        assert_eq!(choose(&policy, 0.97).0, Mode::Automate);
        assert_eq!(choose(&policy, 0.95).0, Mode::Automate);
        assert_eq!(choose(&policy, 0.85).0, Mode::Prompt);
        assert_eq!(choose(&policy, 0.2), (Mode::None, Reason::Threshold { score: 0.2, threshold: None }));
    }

    #[test]
    fn caps_downgrade_after_max_and_expire_with_the_window() {
        let experience = Experience {
            policy: Policy::Fixed(Mode::Prompt),
            caps: vec![FrequencyCap { mode: Mode::Prompt, max: 3, per: Duration::from_secs(86_400) }],
        };
        let limiter = FrequencyLimiter::new(&experience, 1000);
        let day = 86_400_000;
        for i in 0..3 {
            assert_eq!(limiter.apply(Some("u1"), Mode::Prompt, 1_000 + i).0, Mode::Prompt);
        }
        let (mode, applied) = limiter.apply(Some("u1"), Mode::Prompt, 2_000);
        assert_eq!(mode, Mode::Annotate);
        assert_eq!(applied[0].from, Mode::Prompt);
        // another user is not affected
        assert_eq!(limiter.apply(Some("u2"), Mode::Prompt, 2_000).0, Mode::Prompt);
        // without a unit there is nothing to count
        assert_eq!(limiter.apply(None, Mode::Prompt, 2_000).0, Mode::Prompt);
        // a day after the first prompts, the user may be prompted again
        assert_eq!(limiter.apply(Some("u1"), Mode::Prompt, 1_000 + day).0, Mode::Prompt);
    }

    #[test]
    fn the_limiter_stays_bounded() {
        let experience = Experience {
            policy: Policy::Fixed(Mode::Prompt),
            caps: vec![FrequencyCap { mode: Mode::Prompt, max: 1, per: Duration::from_secs(60) }],
        };
        let limiter = FrequencyLimiter::new(&experience, 160);
        for i in 0..10_000u64 {
            limiter.apply(Some(&format!("user-{i}")), Mode::Prompt, i);
        }
        assert!(limiter.tracked_units() <= 160, "{}", limiter.tracked_units());
    }
}
