//! A component's traffic plan (`[components.traffic]`): which version answers which
//! requests (a split, or a canary's current step), the share of units held out of ML, and
//! a shadow version that gets a copy of the traffic. One set of rules
//! ([`TrafficPlan::problems`]) checks a plan from the system file (placed at its line and
//! column) and one replaced over the admin API (named by its field).

use serde::{Deserialize, Serialize};

/// Most arms a split may have: each is a metric label value, so they stay few.
pub const MAX_ARMS: usize = 16;
/// Most shadow copies waiting or running at once, whatever a plan asks.
pub const MAX_SHADOW_IN_FLIGHT: usize = 4096;
/// The shadow's bound when the plan names none.
pub const DEFAULT_SHADOW_IN_FLIGHT: usize = 64;
/// Variants rein itself names: no arm may take them.
pub const RESERVED_VARIANTS: [&str; 3] = ["main", "holdout", "shadow"];
/// The variants of a canary: the champion's share, and the canary's.
pub const CANARY_STABLE: &str = "stable";
pub const CANARY: &str = "canary";
/// The variant of the units a plan holds out of ML: the fallback answers them.
pub const HOLDOUT: &str = "holdout";

/// Which version answers which requests, for one component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficPlan {
    /// The experiment's id: recorded with every prediction, and hashed with the unit.
    pub experiment: String,
    /// Hashed with the experiment and the unit: a new salt reshuffles the units.
    #[serde(default)]
    pub salt: String,
    /// A/B/n arms, by weight. Empty: the champion answers (as variant `main`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<Arm>,
    /// A share of units that gets no ML: the component's fallback answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<Holdout>,
    /// A version that gets a copy of the traffic, off the request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<Shadow>,
    /// A stepped rollout of one version against the champion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    /// The controller judges the plan (`docs/rollouts.md`): a canary's steps advance while
    /// no harm shows, and the candidate is promoted or rolled back by the analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
}

/// How the controller judges a canary or a two-arm split: by the system's goals, one look a
/// closed window of event time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    /// A look's window, in event time (`1h`, `6h`, `1d`).
    pub window: String,
    /// The goal the candidate must move; its target says which way is better. A canary's
    /// earlier steps only need it not harmed; its last step (and a split) need it improved.
    pub primary: String,
    /// Further goals that must not get worse, beside the built-in guardrails (latency p99,
    /// fallback, guardrail and `incorrect` feedback rates).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<String>,
    /// Predictions each arm needs within a step before the step can pass: too little
    /// traffic is not a pass.
    #[serde(default = "default_min_predictions")]
    pub min_predictions: u64,
    /// The candidate's share of answers that fell back (its model failing) that rolls it
    /// back at once, when even the low end of its 95% interval is above it.
    #[serde(default = "default_max_error_rate")]
    pub max_error_rate: f64,
    /// How long, in event time, the whole rollout may take: past it, a stuck rollout
    /// raises an alert (and keeps waiting for evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// Whether passing moves `champion` to the candidate (else the controller only reports).
    #[serde(default = "yes")]
    pub promote: bool,
}

/// Predictions an arm needs in a step when the plan says nothing.
pub const DEFAULT_MIN_PREDICTIONS: u64 = 200;
/// The fallback share that rolls a candidate back when the plan says nothing.
pub const DEFAULT_MAX_ERROR_RATE: f64 = 0.05;

fn default_min_predictions() -> u64 {
    DEFAULT_MIN_PREDICTIONS
}

fn default_max_error_rate() -> f64 {
    DEFAULT_MAX_ERROR_RATE
}

fn yes() -> bool {
    true
}

impl Analysis {
    /// A look's window in ms (`None`: not a duration).
    pub fn window_ms(&self) -> Option<i64> {
        crate::parse_duration(&self.window).and_then(|d| i64::try_from(d.as_millis()).ok())
    }

    /// The deadline in ms, if one is set and readable.
    pub fn deadline_ms(&self) -> Option<i64> {
        self.deadline.as_deref().and_then(crate::parse_duration).and_then(|d| i64::try_from(d.as_millis()).ok())
    }
}

/// One arm of a split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    pub variant: String,
    /// A registry alias (`champion`, `challenger`, …) or, in `version`, a version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holdout {
    /// The share of units, in (0, 0.5].
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shadow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Copies waiting or running at once; past it a copy is dropped and counted.
    #[serde(default = "default_shadow_in_flight")]
    pub max_in_flight: usize,
}

fn default_shadow_in_flight() -> usize {
    DEFAULT_SHADOW_IN_FLIGHT
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Percent of the (not held out) traffic at each step, increasing, the last at most 100.
    pub steps: Vec<f64>,
    /// The step serving now (0-based).
    #[serde(default)]
    pub step: usize,
}

/// What a version is named by in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target<'a> {
    Alias(&'a str),
    Version(&'a str),
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Alias(a) => write!(f, "alias `{a}`"),
            Target::Version(v) => write!(f, "version `{v}`"),
        }
    }
}

fn target<'a>(alias: &'a Option<String>, version: &'a Option<String>) -> Option<Target<'a>> {
    match (alias, version) {
        (Some(a), None) => Some(Target::Alias(a)),
        (None, Some(v)) => Some(Target::Version(v)),
        _ => None,
    }
}

impl Arm {
    /// The version it names; `None` in a plan whose problems were not checked.
    pub fn target(&self) -> Option<Target<'_>> {
        target(&self.alias, &self.version)
    }
}

impl Shadow {
    pub fn target(&self) -> Option<Target<'_>> {
        target(&self.alias, &self.version)
    }
}

impl Canary {
    pub fn target(&self) -> Option<Target<'_>> {
        target(&self.alias, &self.version)
    }

    /// The canary's percent of traffic now.
    pub fn percent(&self) -> f64 {
        self.steps.get(self.step).copied().unwrap_or(0.0)
    }
}

/// A mistake in a plan: the field (`split[1].weight`), what is wrong, what would be right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanProblem {
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl std::fmt::Display for PlanProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.field, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

struct Problems(Vec<PlanProblem>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>, hint: Option<&str>) {
        self.0.push(PlanProblem { field: field.into(), message: message.into(), hint: hint.map(str::to_string) });
    }

    fn target(&mut self, field: &str, alias: &Option<String>, version: &Option<String>) {
        match (alias, version) {
            (Some(_), Some(_)) => self.add(
                field,
                "names both an `alias` and a `version`",
                Some("keep one: `alias = \"challenger\"` or `version = \"sha256:…\"`"),
            ),
            (None, None) => self.add(
                field,
                "names no model",
                Some("add `alias = \"challenger\"` (a registry alias) or `version = \"sha256:…\"`"),
            ),
            (Some(a), None) if !is_name(a, 64) => {
                self.add(format!("{field}.alias"), format!("`{a}` is not an alias"), Some(NAME_HINT))
            }
            (None, Some(v)) if v.is_empty() || v.len() > 128 => {
                self.add(format!("{field}.version"), "a version is 1 to 128 characters", None)
            }
            _ => {}
        }
    }
}

const NAME_HINT: &str = "1 to 64 letters, digits, `-`, `_` and `.`, starting with a letter or digit";

fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl TrafficPlan {
    /// Every mistake in the plan; none when it may serve. `has_fallback`: whether the
    /// component declares a fallback, which a holdout answers with.
    pub fn problems(&self, has_fallback: bool) -> Vec<PlanProblem> {
        let mut p = Problems(Vec::new());
        if !is_name(&self.experiment, 64) {
            p.add("experiment", format!("`{}` is not an experiment id", self.experiment), Some(NAME_HINT));
        }
        if self.salt.len() > 256 {
            p.add("salt", format!("the salt is {} bytes long; at most 256", self.salt.len()), None);
        }
        if !self.split.is_empty() && self.canary.is_some() {
            p.add(
                "canary",
                "a plan has a `split` or a `canary`, not both",
                Some("a canary is a split of two arms whose weight steps up: keep one"),
            );
        }
        if self.split.len() == 1 {
            p.add(
                "split",
                "a split needs at least 2 arms",
                Some("add another arm, or remove `split`: the champion then answers everything"),
            );
        }
        if self.split.len() > MAX_ARMS {
            p.add("split", format!("a split has at most {MAX_ARMS} arms, not {}", self.split.len()), None);
        }
        let mut variants = std::collections::HashSet::new();
        let mut targets = std::collections::HashSet::new();
        for (i, arm) in self.split.iter().enumerate() {
            let at = format!("split[{i}]");
            if !is_name(&arm.variant, 64) {
                p.add(format!("{at}.variant"), format!("`{}` is not a variant name", arm.variant), Some(NAME_HINT));
            } else if RESERVED_VARIANTS.contains(&arm.variant.as_str()) {
                p.add(
                    format!("{at}.variant"),
                    format!("`{}` is a variant rein names itself", arm.variant),
                    Some("choose another name, e.g. `control` or `treatment`"),
                );
            } else if !variants.insert(arm.variant.as_str()) {
                p.add(format!("{at}.variant"), format!("variant `{}` is named twice", arm.variant), None);
            }
            p.target(&at, &arm.alias, &arm.version);
            if let Some(t) = arm.target()
                && !targets.insert(t)
            {
                p.add(
                    &at,
                    format!("{t} is already another arm's"),
                    Some("each arm serves its own version: give the arms distinct aliases or versions"),
                );
            }
            if !(arm.weight.is_finite() && arm.weight > 0.0 && arm.weight <= 1e6) {
                p.add(
                    format!("{at}.weight"),
                    format!("a weight is a positive number, not {}", arm.weight),
                    Some("weights are relative: `weight = 50` on two arms splits half and half"),
                );
            }
        }
        if let Some(h) = &self.holdout {
            if !(h.share > 0.0 && h.share <= 0.5) {
                p.add(
                    "holdout.share",
                    format!("a holdout share is in (0, 0.5], not {}", h.share),
                    Some("e.g. `holdout = { share = 0.05 }` holds 5% of units out of ML"),
                );
            }
            if !has_fallback {
                p.add(
                    "holdout",
                    "a holdout answers with the component's fallback, and it declares none",
                    Some("add `[components.fallback]` with the output the non-ML answer gives"),
                );
            }
        }
        if let Some(s) = &self.shadow {
            p.target("shadow", &s.alias, &s.version);
            if s.max_in_flight == 0 || s.max_in_flight > MAX_SHADOW_IN_FLIGHT {
                p.add(
                    "shadow.max_in_flight",
                    format!("must be between 1 and {MAX_SHADOW_IN_FLIGHT}, not {}", s.max_in_flight),
                    None,
                );
            }
        }
        if let Some(c) = &self.canary {
            p.target("canary", &c.alias, &c.version);
            if c.alias.as_deref() == Some("champion") {
                p.add("canary.alias", "the canary is the champion itself", Some("name the version being rolled out"));
            }
            if c.steps.is_empty() {
                p.add("canary.steps", "a canary needs its steps", Some("e.g. `steps = [5, 25, 50, 100]`"));
            }
            let increasing = c.steps.windows(2).all(|w| w[0] < w[1]);
            let bounded = c.steps.iter().all(|s| s.is_finite() && *s > 0.0 && *s <= 100.0);
            if !(increasing && bounded) {
                p.add(
                    "canary.steps",
                    "steps are percents in (0, 100], each larger than the one before",
                    Some("e.g. `steps = [5, 25, 50, 100]`"),
                );
            }
            if !c.steps.is_empty() && c.step >= c.steps.len() {
                p.add(
                    "canary.step",
                    format!("step {} does not exist: there are {} (from 0)", c.step, c.steps.len()),
                    Some("`step = 0` serves the first"),
                );
            }
        }
        if let Some(a) = &self.analysis {
            self.analysis_problems(a, &mut p);
        }
        p.0
    }

    fn analysis_problems(&self, a: &Analysis, p: &mut Problems) {
        const DURATION: &str = "a number and a unit: `30m`, `6h`, `1d`";
        if a.window_ms().is_none() {
            p.add("analysis.window", format!("`{}` is not a duration", a.window), Some(DURATION));
        }
        if a.deadline.is_some() && a.deadline_ms().is_none() {
            let d = a.deadline.as_deref().unwrap_or_default();
            p.add("analysis.deadline", format!("`{d}` is not a duration"), Some(DURATION));
        }
        if let (Some(w), Some(d)) = (a.window_ms(), a.deadline_ms())
            && d < w
        {
            p.add("analysis.deadline", "the deadline is shorter than one window", Some("give it several windows"));
        }
        if a.primary.is_empty() {
            p.add("analysis.primary", "names no goal", Some("the id of a `[[goals]]` entry the candidate should move"));
        }
        if !(a.max_error_rate.is_finite() && a.max_error_rate > 0.0 && a.max_error_rate < 1.0) {
            p.add(
                "analysis.max_error_rate",
                format!("a share in (0, 1), not {}", a.max_error_rate),
                Some("e.g. `max_error_rate = 0.05`"),
            );
        }
        if a.min_predictions == 0 {
            p.add("analysis.min_predictions", "at least 1", Some("e.g. `min_predictions = 200`"));
        }
        if self.canary.is_none() {
            let champions = self.split.iter().filter(|arm| arm.alias.as_deref() == Some("champion")).count();
            if self.split.len() != 2 || champions != 1 {
                p.add(
                    "analysis",
                    "the controller judges a canary, or a split of two arms one of which is the champion",
                    Some(
                        "split = [{ variant = \"control\", alias = \"champion\", weight = 50 }, \
                          { variant = \"treatment\", alias = \"challenger\", weight = 50 }]",
                    ),
                );
            }
        }
    }

    /// The arm the controller judges against the champion's, and the champion's, as
    /// (candidate's variant, control's variant), when the plan is one it can judge.
    pub fn judged_arms(&self) -> Option<(String, String)> {
        if self.canary.is_some() {
            return Some((CANARY.into(), CANARY_STABLE.into()));
        }
        let control = self.split.iter().find(|a| a.alias.as_deref() == Some("champion"))?;
        let candidate = self.split.iter().find(|a| a.alias.as_deref() != Some("champion"))?;
        (self.split.len() == 2).then(|| (candidate.variant.clone(), control.variant.clone()))
    }

    /// The version the candidate is named by (a canary's, or a judged split's other arm).
    pub fn candidate(&self) -> Option<Target<'_>> {
        if let Some(c) = &self.canary {
            return c.target();
        }
        let (candidate, _) = self.judged_arms()?;
        self.split.iter().find(|a| a.variant == candidate)?.target()
    }

    /// The plan once its candidate is settled (promoted or rolled back): the holdout stays,
    /// the canary, the split and the analysis go, and a shadow naming the candidate goes.
    /// `None` when nothing is left to serve: the champion answers everything.
    pub fn settled(&self) -> Option<TrafficPlan> {
        let candidate = self.candidate();
        let shadow = self.shadow.clone().filter(|s| s.target() != candidate);
        if self.holdout.is_none() && shadow.is_none() {
            return None;
        }
        Some(TrafficPlan {
            experiment: self.experiment.clone(),
            salt: self.salt.clone(),
            split: Vec::new(),
            holdout: self.holdout.clone(),
            shadow,
            canary: None,
            analysis: None,
        })
    }

    /// The arms traffic is split over, in order: the split's, a canary's two, or none (the
    /// champion answers as `main`). Zero-weight arms (a canary at 100%) are kept: they get
    /// no traffic.
    pub fn arms(&self) -> Vec<Arm> {
        if let Some(c) = &self.canary {
            let pct = c.percent();
            // the canary first: its units stay in it as its share steps up
            return vec![
                Arm { variant: CANARY.into(), alias: c.alias.clone(), version: c.version.clone(), weight: pct },
                Arm {
                    variant: CANARY_STABLE.into(),
                    alias: Some("champion".into()),
                    version: None,
                    weight: 100.0 - pct,
                },
            ];
        }
        self.split.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> TrafficPlan {
        serde_json::from_value(serde_json::json!({
            "experiment": "exp-1", "salt": "s",
            "split": [{"variant": "control", "alias": "champion", "weight": 50},
                      {"variant": "treatment", "alias": "challenger", "weight": 50}],
        }))
        .unwrap()
    }

    fn fields(p: &TrafficPlan, fallback: bool) -> Vec<String> {
        p.problems(fallback).into_iter().map(|p| p.field).collect::<Vec<_>>()
    }

    #[test]
    fn a_well_formed_plan_has_no_problem() {
        assert_eq!(plan().problems(false), vec![]);
    }

    #[test]
    fn each_mistake_is_named_by_its_field() {
        let mut p = plan();
        p.split[1].weight = 0.0;
        p.split[1].variant = "control".into();
        assert_eq!(fields(&p, false), ["split[1].variant", "split[1].weight"]);

        let mut p = plan();
        p.split[1].alias = Some("champion".into());
        assert_eq!(fields(&p, false), ["split[1]"]);
        p.split[1].version = Some("v2".into());
        assert_eq!(fields(&p, false), ["split[1]"]);

        let mut p = plan();
        p.holdout = Some(Holdout { share: 0.6 });
        assert_eq!(fields(&p, true), ["holdout.share"]);
        p.holdout = Some(Holdout { share: 0.05 });
        assert_eq!(fields(&p, false), ["holdout"]);
        assert_eq!(fields(&p, true), Vec::<String>::new());

        let mut p = plan();
        p.canary = Some(Canary { alias: Some("challenger".into()), version: None, steps: vec![25.0, 5.0], step: 2 });
        assert_eq!(fields(&p, false), ["canary", "canary.steps", "canary.step"]);
        p.split.clear();
        p.canary = Some(Canary { alias: Some("challenger".into()), version: None, steps: vec![5.0, 100.0], step: 1 });
        assert_eq!(fields(&p, false), Vec::<String>::new());
        assert_eq!(p.arms()[0].weight, 100.0);
        assert_eq!(p.arms()[1].weight, 0.0);
    }
}
