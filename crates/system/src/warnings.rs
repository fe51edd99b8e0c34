//! What a valid system file declares that a seasoned ML engineer would question: designs
//! that serve, but take risks the file does not show it has weighed. Each warning is placed
//! at the part of the file it is about, says what is risky, and its hint says why (the
//! rule's reason) and what would answer it. `rein check` prints them beside the warnings
//! about the models (`rein_runtime`), `rein serve` logs them at start-up, and
//! `rein check --deny-warnings` fails on them. `docs/system-file.md` lists the rules.
//!
//! What a policy can choose is read from the policy alone, before frequency caps: a mode a
//! guardrail's `override` or the fallback declares is the rule's decision, not the model's.

use crate::diagnostic::Diagnostic;
use crate::types::{
    Action, Component, FeedbackSource, Layer, Measure, MetricKind, Mode, Policy, Stage, System, expected_value_ranges,
};

/// Every warning about `system`'s design, in file order; each message starts with `warning:`.
pub fn warnings(system: &System) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let mut warn = |location, message: String, hint: String| {
        found.push(Diagnostic {
            file: system.file.clone(),
            location,
            message: format!("warning: {message}"),
            hint: Some(hint),
        })
    };
    for c in &system.components {
        if let Some(how) = chooses(c, Mode::Automate) {
            let at = c.locations.mode(Mode::Automate);
            if let Some(message) = unbounded_automation(c, &how) {
                warn(at, message, UNBOUNDED_HINT.into());
            }
            if !labels_beside_the_decision(system, c) {
                warn(
                    at,
                    format!(
                        "component `{}` automates ({how}), and no goal measures feedback from a source other than \
                         its users: the labels it is measured and retrained on come only from what it decided",
                        c.name
                    ),
                    FEEDBACK_LOOP_HINT.into(),
                );
            }
        }
        if !c.experience.caps.iter().any(|cap| cap.mode == Mode::Prompt) {
            let capped_automate = c.experience.caps.iter().find(|cap| cap.mode == Mode::Automate);
            let how = match (chooses(c, Mode::Prompt), capped_automate) {
                (Some(how), _) => Some(how),
                (None, Some(cap)) if chooses(c, Mode::Automate).is_some() => Some(format!(
                    "its cap on automate turns the automations past {} per {} into prompts",
                    cap.max,
                    crate::format_duration(cap.per)
                )),
                _ => None,
            };
            if let Some(how) = how {
                warn(
                    c.locations.mode(Mode::Prompt),
                    format!("component `{}` prompts ({how}) with no frequency cap on prompt", c.name),
                    UNCAPPED_PROMPT_HINT.into(),
                );
            }
        }
    }
    for g in &system.goals {
        // a model goal that supports nothing is a mistake, reported by the graph's checks
        if g.supports.is_empty() && !matches!(g.layer, Layer::Organizational | Layer::Model) {
            warn(
                g.location,
                format!("goal `{}` ({}) supports no goal", g.id, g.layer.as_str()),
                UNLINKED_GOAL_HINT.into(),
            );
        }
        if g.layer == Layer::UserOutcome && matches!(g.measure, Measure::NotMeasured { .. }) {
            warn(g.location, format!("user_outcome goal `{}` is not measured", g.id), UNMEASURED_OUTCOME_HINT.into());
        }
    }
    found.sort_by_key(|d| (d.location.line, d.location.column));
    found
}

/// How `c`'s experience policy comes to choose `mode`, in words, when it can for some score.
fn chooses(c: &Component, mode: Mode) -> Option<String> {
    let name = mode.as_str();
    match &c.experience.policy {
        Policy::Fixed(m) if *m == mode => Some(format!("its policy is always `{name}`")),
        Policy::Fixed(_) => None,
        Policy::Thresholds(thresholds) => {
            let (_, t) = thresholds.iter().find(|(m, _)| *m == mode)?;
            Some(format!("its threshold for {name} is {t}"))
        }
        Policy::ExpectedValue(values) => {
            let (_, from, to) = expected_value_ranges(values).into_iter().find(|(m, _, _)| *m == mode)?;
            Some(match (from, to) {
                (f, t) if f <= 0.0 && t >= 1.0 => format!("its expected-value policy chooses {name} at every p"),
                (f, t) if t >= 1.0 => format!("its expected-value policy chooses {name} for p from {f:.3}"),
                (f, t) if f <= 0.0 => format!("its expected-value policy chooses {name} for p below {t:.3}"),
                (f, t) => format!("its expected-value policy chooses {name} for p from {f:.3} to {t:.3}"),
            })
        }
    }
}

/// The warning about `c` automating with no output rule that can change what the model
/// decided (a `flag` only records), if it does.
fn unbounded_automation(c: &Component, how: &str) -> Option<String> {
    let output_rules: Vec<_> = c.guardrails.iter().filter(|g| g.stage == Stage::Output).collect();
    if output_rules.iter().any(|g| g.action != Action::Flag) {
        return None;
    }
    let flags = match output_rules.as_slice() {
        [] => String::new(),
        [one] => format!(" (`{}` only flags)", one.name),
        more => format!(" ({} only flag)", more.iter().map(|g| format!("`{}`", g.name)).collect::<Vec<_>>().join(", ")),
    };
    Some(format!("component `{}` automates ({how}) and no output guardrail bounds it{flags}", c.name))
}

/// Whether a goal measures feedback on `c`'s predictions from experts or a system of
/// record: labels that need not come from what the component decided.
fn labels_beside_the_decision(system: &System, c: &Component) -> bool {
    system.goals.iter().filter_map(|g| g.measured()).any(|(metric, _, _)| {
        matches!(
            metric.kind,
            MetricKind::FeedbackRate { source: Some(FeedbackSource::Expert | FeedbackSource::System), .. }
        ) && metric.population.component.as_deref().is_none_or(|name| name == c.name)
    })
}

const UNBOUNDED_HINT: &str = "nothing outside the model bounds what it does on its own: a model that is wrong, \
     drifted or miscalibrated acts unchecked (the seed lecture's smart toaster keeps a maximum toasting time in code, \
     outside the model). Add an output guardrail (`stage = \"output\"`) that clamps, overrides, escalates or rejects \
     what the model must not do alone, e.g. `action = \"override\"` with `mode = \"prompt\"` where a wrong automation \
     costs most";

const FEEDBACK_LOOP_HINT: &str = "a feedback loop: what the model acts on changes what is seen of the truth (a \
     blocked page is never visited, so whether it was phishing is learnt only from users who complain), and a model \
     measured and retrained on those labels confirms itself, as the seed lecture's predictive policing sends \
     patrols where it predicts crime and records the crime they find there. Take labels that do not depend on the \
     decision, from experts reviewing a sample drawn whatever was decided or from a system of record (takedown \
     feeds, audits), and measure that they keep coming with a goal of `metric = \"feedback_rate\"` and `source = \
     \"expert\"` or `\"system\"`; holdouts (a share of traffic the model does not act on) come with rollouts";

const UNCAPPED_PROMPT_HINT: &str = "users learn to ignore prompts that come too often (the seed lecture's \
     frequency: how often to interact with the user), and then heed none, the right ones included. Cap them per \
     unit: `[[components.experience.caps]]` with `mode = \"prompt\"`, `max = 3`, `per = \"1d\"`; past the cap \
     rein annotates instead";

const UNLINKED_GOAL_HINT: &str = "a goal below the organizational layer matters for what it serves: unlinked, it \
     can be met while the objectives above it are not, and nothing says which of them it moves. Name the goal it \
     serves in `supports` (of a higher layer: model < user_outcome < system < leading_indicator < organizational), \
     or make it `organizational` if it is an objective of its own";

const UNMEASURED_OUTCOME_HINT: &str = "users' outcomes are where the model's quality meets the world: unmeasured, \
     a model that meets its goals while its users fare badly goes unnoticed. Measure it from what the product \
     reports back: an `outcome_rate` of an outcome, or a `feedback_rate` of what users say (docs/goals.md)";
