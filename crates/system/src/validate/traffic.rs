//! `[components.traffic]`: read into a [`TrafficPlan`], whose own rules
//! ([`TrafficPlan::problems`], the same the admin API applies) are then reported where each
//! field is written.

use std::collections::HashMap;
use std::ops::Range;

use super::fields::{given, list, typed};
use crate::diagnostic::Reporter;
use crate::raw::{RawComponent, Typed};
use crate::traffic::{
    Analysis, Arm, Canary, DEFAULT_MAX_ERROR_RATE, DEFAULT_MIN_PREDICTIONS, DEFAULT_SHADOW_IN_FLIGHT, Holdout, Shadow,
    TrafficPlan,
};

/// The component's plan, or `None` (none declared, or a mistake reported).
/// `goals`: every goal id written in the file (`None`: not all known), which an analysis
/// must name.
pub(super) fn traffic(
    raw: &RawComponent,
    goals: Option<&[&str]>,
    r: &mut Reporter,
) -> Option<(TrafficPlan, Range<usize>)> {
    let t = typed(r, "traffic", raw.traffic.as_ref()?)?;
    let before = r.found.len();
    let raw_t = t.get_ref();
    // where each field is written, by the name `problems` gives it
    let mut spans: HashMap<String, Range<usize>> = HashMap::new();
    spans.insert(String::new(), t.span());
    let mut text = |key: &str, v: &Option<Typed<String>>, r: &mut Reporter| -> Option<String> {
        let v = given(r, key, v)?;
        spans.insert(key.to_string(), v.span());
        Some(v.get_ref().clone())
    };
    let experiment = text("experiment", &raw_t.experiment, r);
    let salt = text("salt", &raw_t.salt, r).unwrap_or_default();
    if raw_t.experiment.is_none() {
        r.at(
            t.span(),
            "the traffic plan has no `experiment`",
            Some("add `experiment = \"checkout-2026-12\"`: its id, recorded with each prediction".into()),
        );
    }
    let mut split = Vec::new();
    if let Some(s) = &raw_t.split {
        spans.insert("split".into(), s.span());
        for (i, arm) in list(r, "split", s).unwrap_or_default().into_iter().enumerate() {
            let at = format!("split[{i}]");
            spans.insert(at.clone(), arm.span());
            let a = arm.get_ref();
            let mut field = |key: &str, v: &Option<Typed<String>>, r: &mut Reporter| {
                let v = given(r, key, v)?;
                spans.insert(format!("{at}.{key}"), v.span());
                Some(v.get_ref().clone())
            };
            let variant = field("variant", &a.variant, r);
            let alias = field("alias", &a.alias, r);
            let version = field("version", &a.version, r);
            let weight = given(r, "weight", &a.weight).map(|w| {
                spans.insert(format!("{at}.weight"), w.span());
                *w.get_ref()
            });
            match (variant, weight) {
                (Some(variant), Some(weight)) => split.push(Arm { variant, alias, version, weight }),
                (variant, _) => r.at(
                    arm.span(),
                    format!("this arm has no `{}`", if variant.is_none() { "variant" } else { "weight" }),
                    Some("an arm is `{ variant = \"treatment\", alias = \"challenger\", weight = 50 }`".into()),
                ),
            }
        }
    }
    let holdout = raw_t.holdout.as_ref().and_then(|h| typed(r, "holdout", h)).and_then(|h| {
        spans.insert("holdout".into(), h.span());
        match given(r, "share", &h.get_ref().share) {
            Some(share) => {
                spans.insert("holdout.share".into(), share.span());
                Some(Holdout { share: *share.get_ref() })
            }
            None => {
                r.at(h.span(), "the holdout has no `share`", Some("e.g. `holdout = { share = 0.05 }`".into()));
                None
            }
        }
    });
    let shadow = raw_t.shadow.as_ref().and_then(|s| typed(r, "shadow", s)).map(|s| {
        spans.insert("shadow".into(), s.span());
        let raw = s.get_ref();
        let alias = given(r, "alias", &raw.alias).map(|v| v.get_ref().clone());
        let version = given(r, "version", &raw.version).map(|v| v.get_ref().clone());
        let max_in_flight = given(r, "max_in_flight", &raw.max_in_flight).map_or(DEFAULT_SHADOW_IN_FLIGHT, |m| {
            spans.insert("shadow.max_in_flight".into(), m.span());
            usize::try_from(*m.get_ref()).unwrap_or(0)
        });
        Shadow { alias, version, max_in_flight }
    });
    let canary = raw_t.canary.as_ref().and_then(|c| typed(r, "canary", c)).map(|c| {
        spans.insert("canary".into(), c.span());
        let raw = c.get_ref();
        let alias = given(r, "alias", &raw.alias).map(|v| v.get_ref().clone());
        let version = given(r, "version", &raw.version).map(|v| v.get_ref().clone());
        let steps = raw.steps.as_ref().map_or_else(Vec::new, |s| {
            spans.insert("canary.steps".into(), s.span());
            list(r, "steps", s).unwrap_or_default().into_iter().map(|s| *s.get_ref()).collect()
        });
        let step = given(r, "step", &raw.step).map_or(0, |s| {
            spans.insert("canary.step".into(), s.span());
            usize::try_from(*s.get_ref()).unwrap_or(usize::MAX)
        });
        Canary { alias, version, steps, step }
    });
    let analysis = raw_t.analysis.as_ref().and_then(|a| typed(r, "analysis", a)).and_then(|a| {
        spans.insert("analysis".into(), a.span());
        let raw = a.get_ref();
        let mut text = |key: &str, v: &Option<Typed<String>>, r: &mut Reporter| {
            let v = given(r, key, v)?;
            spans.insert(format!("analysis.{key}"), v.span());
            Some(v.get_ref().clone())
        };
        let window = text("window", &raw.window, r);
        let primary = text("primary", &raw.primary, r);
        let deadline = text("deadline", &raw.deadline, r);
        let guardrails = raw.guardrails.as_ref().map_or_else(Vec::new, |g| {
            spans.insert("analysis.guardrails".into(), g.span());
            list(r, "guardrails", g).unwrap_or_default().into_iter().map(|g| g.get_ref().clone()).collect()
        });
        let min_predictions = given(r, "min_predictions", &raw.min_predictions).map_or(DEFAULT_MIN_PREDICTIONS, |m| {
            spans.insert("analysis.min_predictions".into(), m.span());
            u64::try_from(*m.get_ref()).unwrap_or(0)
        });
        let max_error_rate = given(r, "max_error_rate", &raw.max_error_rate).map_or(DEFAULT_MAX_ERROR_RATE, |m| {
            spans.insert("analysis.max_error_rate".into(), m.span());
            *m.get_ref()
        });
        let promote = given(r, "promote", &raw.promote).is_none_or(|p| *p.get_ref());
        if window.is_none() || primary.is_none() {
            r.at(
                a.span(),
                format!("the analysis has no `{}`", if window.is_none() { "window" } else { "primary" }),
                Some("e.g. `analysis = { window = \"6h\", primary = \"fewer_credentials_entered\" }`".into()),
            );
            return None;
        }
        Some(Analysis {
            window: window?,
            primary: primary?,
            guardrails,
            min_predictions,
            max_error_rate,
            deadline,
            promote,
        })
    });
    if r.found.len() > before {
        return None;
    }
    let plan = TrafficPlan { experiment: experiment?, salt, split, holdout, shadow, canary, analysis };
    for problem in plan.problems(raw.fallback.is_some()) {
        // the field's own place, or the nearest enclosing one written
        let mut key = problem.field.as_str();
        let span = loop {
            if let Some(span) = spans.get(key) {
                break span.clone();
            }
            key = key.rfind(['.', '[']).map_or("", |i| &key[..i]);
        };
        r.at(span, format!("traffic `{}`: {}", problem.field, problem.message), problem.hint);
    }
    if let (Some(goals), Some(a)) = (goals, &plan.analysis) {
        let named = std::iter::once(("analysis.primary", &a.primary))
            .chain(a.guardrails.iter().map(|g| ("analysis.guardrails", g)));
        for (key, goal) in named {
            if !goals.contains(&goal.as_str()) {
                let span = spans.get(key).or(spans.get("analysis")).cloned().unwrap_or(t.span());
                r.at(
                    span,
                    format!("the analysis names goal `{goal}`, which is not declared"),
                    Some(if goals.is_empty() {
                        "declare it in `[[goals]]`".to_string()
                    } else {
                        format!("goals: {}", goals.join(", "))
                    }),
                );
            }
        }
    }
    (r.found.len() == before).then(|| (plan, t.span()))
}
