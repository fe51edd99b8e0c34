//! A `[[components.guardrails]]` table: its name, stage, condition, action and the fields
//! that action takes, and `on_error`, what the rule does when its condition fails to run.

use toml::Spanned;

use super::components::OutputCheck;
use super::conditions::condition;
use super::fields::{given, mode, one_of, typed};
use crate::cel_types::ConditionScope;
use crate::diagnostic::Reporter;
use crate::raw::{RawGuardrail, Typed};
use crate::types::{Action, Guardrail, OnError, Stage, Task};

const STAGES: [&str; 2] = ["input", "output"];
const ACTIONS: [&str; 5] = ["reject", "clamp", "override", "escalate", "flag"];

pub(super) fn guardrail(
    g: &Spanned<RawGuardrail>,
    scope: &ConditionScope,
    outputs: &OutputCheck,
    r: &mut Reporter,
) -> Option<Guardrail> {
    let raw = g.get_ref();
    let errors_before = r.found.len();
    let name = super::fields::name(
        r,
        "guardrail",
        raw.name.as_ref(),
        g.span(),
        "this guardrail has no `name`",
        Some("name each rule: it is reported when the rule fires"),
    )
    .unwrap_or_default();
    let stage = match &raw.stage {
        Some(s) => match one_of(r, "stage", s, "stage", &STAGES) {
            Some("input") => Some(Stage::Input),
            Some(_) => Some(Stage::Output),
            None => None,
        },
        None => {
            r.at(
                g.span(),
                format!("guardrail `{name}` has no `stage`"),
                Some("add `stage = \"input\"` (before the model) or `\"output\"` (after it)".into()),
            );
            None
        }
    };
    let condition = match (raw.when.as_ref().map(|w| typed(r, "when", w)), stage) {
        (Some(Some(w)), Some(stage)) => condition(w, stage, scope, r),
        (Some(_), _) => None,
        (None, _) => {
            r.at(
                g.span(),
                format!("guardrail `{name}` has no `when` condition"),
                Some("add a CEL condition, e.g. `when = \"features.age > 120\"`".into()),
            );
            None
        }
    };
    let action = match &raw.action {
        Some(a) => one_of(r, "action", a, "action", &ACTIONS),
        None => {
            r.at(
                g.span(),
                format!("guardrail `{name}` has no `action`"),
                Some(format!("`action` is one of: {}", ACTIONS.join(", "))),
            );
            None
        }
    };
    // Each action takes only its own fields; any other one is a mistake worth naming.
    if let Some(action) = action {
        let takes: &[&str] = match action {
            "reject" => &["message"],
            "clamp" => &["min", "max"],
            "override" => &["output", "mode"],
            "escalate" => &["to"],
            _ => &[],
        };
        let written = [
            (raw.min.as_ref().map(Typed::span), "min"),
            (raw.max.as_ref().map(Typed::span), "max"),
            (raw.output.as_ref().map(|s| s.span()), "output"),
            (raw.mode.as_ref().map(Typed::span), "mode"),
            (raw.to.as_ref().map(Typed::span), "to"),
            (raw.message.as_ref().map(Typed::span), "message"),
        ];
        for (span, key) in written {
            if let Some(span) = span.filter(|_| !takes.contains(&key)) {
                r.at(span, format!("`{key}` does not apply to a `{action}` guardrail (`{name}`)"), None);
            }
        }
    }
    let action = match action {
        Some("reject") => Some(Action::Reject {
            message: given(r, "message", &raw.message)
                .map(|m| m.get_ref().clone())
                .unwrap_or_else(|| format!("refused by guardrail `{name}`")),
        }),
        Some("clamp") => {
            let action_span = raw.action.as_ref().map(Typed::span).unwrap_or(g.span());
            if stage == Some(Stage::Input) {
                r.at(
                    action_span.clone(),
                    format!("guardrail `{name}` clamps at the input stage, where there is no output yet"),
                    Some("use `stage = \"output\"`".into()),
                );
            }
            if outputs.task.is_some_and(|t| t != Task::Regression) {
                r.at(
                    action_span.clone(),
                    format!("guardrail `{name}` clamps, but only a regression output is numeric"),
                    Some("for a classifier, use `override` with a label".into()),
                );
            }
            // `Some(None)`: given, but not a number (reported)
            let bound = |r: &mut Reporter, key: &str, v: &Option<Typed<f64>>| {
                v.as_ref().map(|v| typed(r, key, v).map(|v| *v.get_ref()))
            };
            let (min, max) = (bound(r, "min", &raw.min), bound(r, "max", &raw.max));
            match (min, max) {
                (None, None) => r.at(
                    action_span.clone(),
                    format!("clamp guardrail `{name}` gives neither `min` nor `max`"),
                    Some("add `max = 300.0`, `min = 0.0` or both".into()),
                ),
                (Some(Some(lo)), Some(Some(hi))) if lo > hi => r.at(
                    raw.min.as_ref().map(Typed::span).unwrap_or(action_span),
                    format!("clamp guardrail `{name}` has min {lo} above max {hi}"),
                    None,
                ),
                _ => {}
            }
            Some(Action::Clamp { min: min.flatten(), max: max.flatten() })
        }
        Some("override") => {
            let output = match &raw.output {
                Some(o) => outputs.output(o, r),
                None => {
                    r.at(g.span(), format!("override guardrail `{name}` has no `output`"), Some(outputs.expected()));
                    None
                }
            };
            let mode = match &raw.mode {
                Some(m) => Some(mode(r, m)),
                None => Some(None),
            };
            output.zip(mode).map(|(output, mode)| Action::Override { output, mode })
        }
        Some("escalate") => Some(Action::Escalate {
            to: given(r, "to", &raw.to).map(|t| t.get_ref().clone()).unwrap_or_else(|| "human".into()),
        }),
        Some(_) => Some(Action::Flag),
        None => None,
    };
    let on_error =
        raw.on_error.as_ref().map(|o| one_of(r, "on_error", o, "on_error", &OnError::NAMES).and_then(OnError::parse));
    if r.found.len() > errors_before {
        return None;
    }
    let action = action?;
    Some(Guardrail {
        name,
        stage: stage?,
        condition: condition?,
        on_error: on_error.flatten().unwrap_or_else(|| OnError::default_for(&action)),
        action,
        location: r.location(g.span().start),
    })
}
