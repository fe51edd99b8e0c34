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
/// `(mode, from, to)` over [0, 1], most forceful (highest p) last: where [`choose`] picks
/// each (`rein_system::expected_value_ranges`, which decides as it does).
pub fn derived_ranges(values: &[ModeValue]) -> Vec<(Mode, f64, f64)> {
    rein_system::expected_value_ranges(values)
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
///
/// Event times may arrive in any order (clients' own times, interleaved requests): a show
/// is allowed only if no window of `per` holding it would then hold more than `max` shows.
pub struct FrequencyLimiter {
    caps: Vec<FrequencyCap>,
    shards: Vec<Mutex<HashMap<String, UnitHistory>>>,
    max_units_per_shard: usize,
}

#[derive(Default)]
struct UnitHistory {
    /// Times (ms) each capped mode was shown, sorted; index = position in `caps`.
    shown: Vec<VecDeque<u64>>,
    /// The newest event time seen for this unit: what is kept is measured back from it.
    newest_ms: u64,
}

/// A show the limiter counted, so that it can be taken back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shown {
    cap: usize,
    time_ms: u64,
}

const SHARDS: usize = 16;

fn per_ms(cap: &FrequencyCap) -> u64 {
    u64::try_from(cap.per.as_millis()).unwrap_or(u64::MAX)
}

/// How far back from the newest time shows are kept: two windows, so that an event up to
/// one window late still sees every show in its own window. Memory stays at most 2 × max.
fn kept(per_ms: u64) -> u64 {
    per_ms.saturating_mul(2)
}

/// How late an event may be and still be checked: every window holding it, back to
/// `time - per`, lies within what is kept.
fn checkable(per_ms: u64) -> u64 {
    kept(per_ms) - per_ms
}

impl FrequencyLimiter {
    pub fn new(experience: &Experience, max_units: usize) -> Self {
        let shards = if experience.caps.is_empty() { 0 } else { SHARDS };
        Self {
            caps: experience.caps.clone(),
            shards: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
            max_units_per_shard: (max_units / SHARDS).max(1),
        }
    }

    fn lock(&self, unit: &str) -> Option<std::sync::MutexGuard<'_, HashMap<String, UnitHistory>>> {
        // A poisoned lock only means another request panicked mid-update; the counts are still usable.
        self.shards.get(shard_of(unit)).map(|s| s.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Applies the caps to `mode` for `unit` at `time_ms` and records what is shown.
    /// Returns the mode, the caps that changed it, and the show recorded, if any.
    pub fn apply(&self, unit: Option<&str>, mut mode: Mode, time_ms: u64) -> (Mode, Vec<CapApplied>, Option<Shown>) {
        let mut applied = Vec::new();
        let Some((unit, mut units)) = unit.and_then(|u| Some((u, self.lock(u)?))) else {
            return (mode, applied, None);
        };
        if !units.contains_key(unit) && units.len() >= self.max_units_per_shard {
            self.evict(&mut units, time_ms);
        }
        if !units.contains_key(unit) {
            let fresh = UnitHistory { shown: vec![VecDeque::new(); self.caps.len()], newest_ms: time_ms };
            units.insert(unit.to_string(), fresh);
        }
        let Some(history) = units.get_mut(unit) else { return (mode, applied, None) };
        history.newest_ms = history.newest_ms.max(time_ms);
        let newest = history.newest_ms;
        while let Some(i) = self.caps.iter().position(|c| c.mode == mode) {
            let cap = &self.caps[i];
            let per = per_ms(cap);
            let times = &mut history.shown[i];
            // differences, not sums: times near u64::MAX must not overflow
            while times.front().is_some_and(|&t| newest - t >= kept(per)) {
                times.pop_front();
            }
            // Past the horizon, the windows holding this event reach back before what is
            // kept: it can be neither checked nor counted.
            if newest - time_ms > checkable(per) {
                return (mode, applied, None);
            }
            if let Some(at) = room(times, time_ms, cap.max as usize, per) {
                times.insert(at, time_ms);
                return (mode, applied, Some(Shown { cap: i, time_ms }));
            }
            let to = mode.downgrade();
            applied.push(CapApplied { from: mode, to, max: cap.max, per_seconds: cap.per.as_secs() });
            if to == mode {
                break;
            }
            mode = to;
        }
        (mode, applied, None)
    }

    /// Takes back a show [`Self::apply`] recorded for `unit`; no-op if it is no longer kept.
    pub fn withdraw(&self, unit: &str, shown: Shown) {
        let Some(mut units) = self.lock(unit) else { return };
        let Some(times) = units.get_mut(unit).and_then(|h| h.shown.get_mut(shown.cap)) else { return };
        if let Ok(at) = times.binary_search(&shown.time_ms) {
            times.remove(at);
        }
    }

    /// Drops units with nothing kept any more; if none, the least recently seen eighth.
    fn evict(&self, units: &mut HashMap<String, UnitHistory>, now_ms: u64) {
        let longest = kept(self.caps.iter().map(per_ms).max().unwrap_or(0));
        let before = units.len();
        units.retain(|_, h| now_ms.saturating_sub(h.newest_ms) < longest);
        if units.len() == before {
            let mut seen: Vec<u64> = units.values().map(|h| h.newest_ms).collect();
            seen.sort_unstable();
            let cutoff = seen[(seen.len() / 8).min(seen.len() - 1)];
            units.retain(|_, h| h.newest_ms > cutoff);
        }
    }

    pub fn tracked_units(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len()).sum()
    }
}

/// Where `t` goes in the sorted `times` if no window of `per` ms holding it would then hold
/// more than `max` shows; `None` if one would.
fn room(times: &VecDeque<u64>, t: u64, max: usize, per: u64) -> Option<usize> {
    let at = times.partition_point(|&s| s <= t);
    if times.len() < max {
        return Some(at);
    }
    // With `t` inserted at `at`, every run of max + 1 consecutive shows through it must span
    // at least `per`: a shorter run fits in one window.
    let merged = |j: usize| match j.cmp(&at) {
        std::cmp::Ordering::Less => times[j],
        std::cmp::Ordering::Equal => t,
        std::cmp::Ordering::Greater => times[j - 1],
    };
    let runs = at.saturating_sub(max)..=at.min(times.len() - max);
    runs.into_iter().all(|i| merged(i + max) - merged(i) >= per).then_some(at)
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

    /// The system's expected-value rule (what `rein check` prints, its warnings and `rein
    /// review` read) chooses as the decision path does, ties included, on values over a grid.
    #[test]
    fn the_system_s_expected_value_rule_is_the_decision_path_s() {
        let mut checked = 0;
        for seed in 0u32..400 {
            // values on a coarse grid, so that ties between lines happen
            let at = |k: u32| f64::from((seed.wrapping_mul(2_654_435_761).rotate_left(k * 5) % 41) as u8) - 30.0;
            let values: Vec<ModeValue> = Mode::BY_FORCE
                .into_iter()
                .enumerate()
                .filter(|(i, _)| (seed >> i) & 1 == 1 || *i == 3)
                .map(|(i, mode)| ModeValue { mode, right: at(2 * i as u32), wrong: at(2 * i as u32 + 1) - 20.0 })
                .collect();
            if values.len() < 2 {
                continue;
            }
            let policy = Policy::ExpectedValue(values.clone());
            for k in 0..=40 {
                let p = f64::from(k) / 40.0;
                assert_eq!(choose(&policy, p).0, rein_system::expected_value_choice(&values, p), "{values:?} at {p}");
            }
            for (mode, from, to) in derived_ranges(&values) {
                assert_eq!(choose(&policy, (from + to) / 2.0).0, mode, "{values:?}");
            }
            checked += 1;
        }
        assert!(checked > 300);
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
        let (mode, applied, shown) = limiter.apply(Some("u1"), Mode::Prompt, 2_000);
        assert_eq!(shown, None);
        assert_eq!(mode, Mode::Annotate);
        assert_eq!(applied[0].from, Mode::Prompt);
        // another user is not affected
        assert_eq!(limiter.apply(Some("u2"), Mode::Prompt, 2_000).0, Mode::Prompt);
        // without a unit there is nothing to count
        assert_eq!(limiter.apply(None, Mode::Prompt, 2_000).0, Mode::Prompt);
        // a day after the first prompts, the user may be prompted again
        assert_eq!(limiter.apply(Some("u1"), Mode::Prompt, 1_000 + day).0, Mode::Prompt);
    }

    fn prompts(max: u32, per: Duration) -> FrequencyLimiter {
        let caps = vec![FrequencyCap { mode: Mode::Prompt, max, per }];
        FrequencyLimiter::new(&Experience { policy: Policy::Fixed(Mode::Prompt), caps }, 1000)
    }

    #[test]
    fn late_events_count_the_shows_of_their_own_window() {
        let limiter = prompts(2, Duration::from_secs(1));
        let at = |t| limiter.apply(Some("u"), Mode::Prompt, t).0;
        assert_eq!(at(500), Mode::Prompt);
        assert_eq!(at(600), Mode::Prompt);
        assert_eq!(at(1_650), Mode::Prompt);
        // (400, 1400] already holds 500 and 600, though a newer event moved past them
        assert_eq!(at(1_400), Mode::Annotate);
        assert_eq!(at(2_620), Mode::Prompt);
        // late: (1620, 2620] would hold 1650, 2610 and 2620
        assert_eq!(at(2_610), Mode::Annotate);
        assert_eq!(at(2_640), Mode::Annotate);
        assert_eq!(at(2_650), Mode::Prompt);
    }

    #[test]
    fn events_later_than_one_window_are_neither_checked_nor_counted() {
        let limiter = prompts(1, Duration::from_secs(1));
        let at = |t| limiter.apply(Some("u"), Mode::Prompt, t);
        assert!(at(1_000).2.is_some());
        assert!(at(2_500).2.is_some());
        assert_eq!(at(3_100).0, Mode::Annotate, "(2100, 3100] holds 2500");
        // 1600 behind the newest: its windows reach back to 500, and the show at 1000 is no
        // longer kept, so it cannot be checked; it must not be counted either
        let (mode, _, counted) = at(1_500);
        assert_eq!((mode, counted), (Mode::Prompt, None));
        // a window's late event is still checked against what is kept
        assert_eq!(at(2_200).0, Mode::Annotate, "(1500, 2500] holds 2500");
    }

    #[test]
    fn caps_hold_in_every_window_whatever_the_arrival_order() {
        let (max, per) = (3usize, 1_000u64);
        let limiter = prompts(max as u32, Duration::from_millis(per));
        let mut shown: Vec<u64> = Vec::new();
        // times drift forward with jitter up to one window back (a small LCG keeps it deterministic)
        let mut x: u64 = 42;
        for step in 0..2_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let t = 10_000 + step * 50 - (x >> 33) % per;
            let in_window = |s: &u64| s.abs_diff(t) < per;
            let (mode, _, counted) = limiter.apply(Some("u"), Mode::Prompt, t);
            // a window (w - per, w] holding t and max others exists iff max others and t span less than per
            let mut near: Vec<u64> = shown.iter().copied().filter(in_window).collect();
            near.push(t);
            near.sort_unstable();
            let full = near.windows(max + 1).any(|run| run.contains(&t) && run[max] - run[0] < per);
            assert_eq!(mode == Mode::Annotate, full, "t = {t}, near = {near:?}");
            assert_eq!(counted.is_some(), !full);
            if !full {
                shown.push(t);
            }
        }
    }

    #[test]
    fn times_near_the_ends_of_u64_do_not_overflow() {
        let caps = vec![
            FrequencyCap { mode: Mode::Automate, max: 1, per: Duration::MAX },
            FrequencyCap { mode: Mode::Prompt, max: 1, per: Duration::from_secs(60) },
        ];
        // one unit per shard: every new unit evicts
        let limiter = FrequencyLimiter::new(&Experience { policy: Policy::Fixed(Mode::Prompt), caps }, 16);
        for (i, t) in [u64::MAX, u64::MAX - 1, 0, u64::MAX, 1, u64::MAX].into_iter().enumerate() {
            for unit in ["a", "b", &format!("u{i}")] {
                limiter.apply(Some(unit), Mode::Automate, t);
            }
        }
        assert_eq!(limiter.apply(Some("z"), Mode::Prompt, u64::MAX).0, Mode::Prompt);
        assert_eq!(limiter.apply(Some("z"), Mode::Prompt, u64::MAX - 59_999).0, Mode::Annotate);
        assert_eq!(limiter.apply(Some("z"), Mode::Prompt, u64::MAX - 60_000).0, Mode::Prompt);
    }

    #[test]
    fn a_withdrawn_show_no_longer_counts() {
        let limiter = prompts(1, Duration::from_secs(60));
        let (_, _, shown) = limiter.apply(Some("u"), Mode::Prompt, 1_000);
        assert_eq!(limiter.apply(Some("u"), Mode::Prompt, 1_001).0, Mode::Annotate);
        limiter.withdraw("u", shown.unwrap());
        assert_eq!(limiter.apply(Some("u"), Mode::Prompt, 1_002).0, Mode::Prompt);
        // an unknown unit or a show no longer kept: nothing to do
        limiter.withdraw("v", shown.unwrap());
        limiter.withdraw("u", shown.unwrap());
        assert_eq!(limiter.apply(Some("u"), Mode::Prompt, 1_003).0, Mode::Annotate);
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
