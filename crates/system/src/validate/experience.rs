//! A `[components.experience]` table: its policy (thresholds, expected value of stated
//! costs, or a fixed mode) and its frequency caps, with the durations they are written in.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::fields::{list, mode, one_of, positive, typed};
use crate::diagnostic::Reporter;
use crate::raw::{RawCap, RawExperience, RawModeValue, Typed};
use crate::types::{Experience, FrequencyCap, Location, Mode, ModeValue, Policy, Task};

const POLICIES: [&str; 3] = ["thresholds", "expected_value", "fixed"];

pub(super) fn experience(e: &Spanned<RawExperience>, task: Option<Task>, r: &mut Reporter) -> Option<Experience> {
    let raw = e.get_ref();
    let errors_before = r.found.len();
    let policy_name = match &raw.policy {
        Some(p) => one_of(r, "policy", p, "experience policy", &POLICIES),
        None => match (&raw.thresholds, &raw.values, &raw.mode) {
            (Some(_), None, None) => Some("thresholds"),
            (None, Some(_), None) => Some("expected_value"),
            (None, None, _) => Some("fixed"),
            _ => {
                r.at(
                    e.span(),
                    "the experience declares more than one policy",
                    Some(format!("set `policy` to one of: {}", POLICIES.join(", "))),
                );
                None
            }
        },
    };
    let unused = |r: &mut Reporter, span: Option<Range<usize>>, key: &str, policy: &str| {
        if let Some(span) = span {
            r.at(
                span,
                format!("`{key}` is not used by the {policy} policy"),
                Some(format!("remove it, or set `policy` to the one that uses `{key}`")),
            );
        }
    };
    match policy_name {
        Some("fixed") => {
            unused(r, raw.thresholds.as_ref().map(Typed::span), "thresholds", "fixed");
            unused(r, raw.values.as_ref().map(Typed::span), "values", "fixed");
        }
        Some("thresholds") => {
            unused(r, raw.mode.as_ref().map(Typed::span), "mode", "thresholds");
            unused(r, raw.values.as_ref().map(Typed::span), "values", "thresholds");
        }
        Some(_) => {
            unused(r, raw.mode.as_ref().map(Typed::span), "mode", "expected_value");
            unused(r, raw.thresholds.as_ref().map(Typed::span), "thresholds", "expected_value");
        }
        None => {}
    }
    let policy = match policy_name {
        Some("fixed") => {
            let m = match &raw.mode {
                Some(m) => mode(r, m),
                None => Some(Mode::Annotate),
            };
            m.map(Policy::Fixed)
        }
        Some("thresholds") => match &raw.thresholds {
            None => {
                r.at(
                    e.span(),
                    "the thresholds policy needs `[components.experience.thresholds]`",
                    Some("e.g. `thresholds = { automate = 0.95, prompt = 0.8, annotate = 0.5 }`".into()),
                );
                None
            }
            Some(t) => typed(r, "thresholds", t).and_then(|t| thresholds(t, task, r)),
        },
        Some(_) => match &raw.values {
            None => {
                r.at(
                    e.span(),
                    "the expected_value policy needs `[components.experience.values]`",
                    Some("e.g. `values.automate = { right = 10, wrong = -100 }`, one line per mode".into()),
                );
                None
            }
            Some(v) => {
                if task == Some(Task::Regression) {
                    r.at(
                        v.span(),
                        "the expected_value policy needs probabilities, which a regression model does not give",
                        Some("use `policy = \"thresholds\"` on the predicted value".into()),
                    );
                }
                typed(r, "values", v).and_then(|v| mode_values(v, r))
            }
        },
        None => None,
    };
    let listed = raw.caps.as_ref().and_then(|cs| list(r, "caps", cs)).unwrap_or_default();
    let caps: Vec<FrequencyCap> = listed.into_iter().filter_map(|c| cap(c, r)).collect();
    if r.found.len() > errors_before {
        return None;
    }
    Some(Experience { policy: policy?, caps })
}

/// Where the experience names each mode, in file order: `mode = "..."`, each threshold, each
/// line of `values` (by the value, as a threshold's key has no place of its own). Read
/// without reporting: [`experience`] reports what is wrong.
pub(super) fn mode_locations(e: &Spanned<RawExperience>, r: &Reporter) -> Vec<(Mode, Location)> {
    let raw = e.get_ref();
    let mut found: Vec<(Mode, Range<usize>)> = Vec::new();
    if let Some(m) = raw.mode.as_ref().and_then(Typed::ok)
        && let Some(mode) = Mode::parse(m.get_ref())
    {
        found.push((mode, m.span()));
    }
    let keyed = raw
        .thresholds
        .as_ref()
        .and_then(Typed::ok)
        .into_iter()
        .flat_map(|t| t.get_ref().iter().map(|(k, v)| (k, v.span())))
        .chain(
            raw.values
                .as_ref()
                .and_then(Typed::ok)
                .into_iter()
                .flat_map(|v| v.get_ref().iter().map(|(k, v)| (k, v.span()))),
        );
    found.extend(keyed.filter_map(|(key, span)| Some((Mode::parse(key)?, span))));
    found.sort_by_key(|(_, span)| span.start);
    found.into_iter().map(|(mode, span)| (mode, r.location(span.start))).collect()
}

/// A `[[components.experience.caps]]` table: at most `max` of a mode `per` unit and period.
fn cap(c: &Spanned<RawCap>, r: &mut Reporter) -> Option<FrequencyCap> {
    let cr = c.get_ref();
    let cap_mode = match &cr.mode {
        Some(m) => match mode(r, m) {
            Some(Mode::None | Mode::Escalate) => {
                r.at(
                    m.span(),
                    "a frequency cap limits `automate`, `prompt` or `annotate`",
                    Some("`none` and `escalate` are not capped".into()),
                );
                None
            }
            other => other,
        },
        None => {
            r.at(c.span(), "this cap has no `mode`", None);
            None
        }
    };
    let max = match &cr.max {
        Some(m) => typed(r, "max", m).and_then(|m| positive(r, m, "cap `max`", 1_000_000)),
        None => {
            r.at(c.span(), "this cap has no `max`", Some("e.g. `max = 3`".into()));
            None
        }
    };
    let per = match &cr.per {
        Some(p) => typed(r, "per", p).and_then(|p| match parse_duration(p.get_ref()) {
            Some(d) => Some(d),
            None => {
                r.at(
                    p.span(),
                    format!("`{}` is not a duration", p.get_ref()),
                    Some("write a number and a unit: `30s`, `15m`, `12h`, `1d`".into()),
                );
                None
            }
        }),
        None => {
            r.at(c.span(), "this cap has no `per`", Some("e.g. `per = \"1d\"`".into()));
            None
        }
    };
    Some(FrequencyCap { mode: cap_mode?, max: max? as u32, per: per? })
}

fn thresholds(t: &Spanned<BTreeMap<String, Typed<f64>>>, task: Option<Task>, r: &mut Reporter) -> Option<Policy> {
    let mut out = Vec::new();
    let mut ok = true;
    let mut mistyped = false;
    for (key, value) in t.get_ref() {
        let Some(mode) = Mode::parse(key).filter(|m| matches!(m, Mode::Automate | Mode::Prompt | Mode::Annotate))
        else {
            r.at(
                value.span(),
                format!("`{key}` cannot have a threshold"),
                Some(
                    "thresholds are set for automate, prompt and annotate; below the lowest, the mode is `none`".into(),
                ),
            );
            ok = false;
            continue;
        };
        let Some(value) = typed(r, &format!("thresholds.{key}"), value) else {
            (ok, mistyped) = (false, true);
            continue;
        };
        let v = *value.get_ref();
        if task != Some(Task::Regression) && !(0.0..=1.0).contains(&v) {
            r.at(
                value.span(),
                format!("threshold {v} for `{key}` is outside [0, 1]"),
                Some("a classifier's score is a probability between 0 and 1".into()),
            );
            ok = false;
        } else if !v.is_finite() {
            r.at(value.span(), format!("threshold for `{key}` must be a finite number"), None);
            ok = false;
        }
        out.push((mode, v, value.span()));
    }
    if out.is_empty() && !mistyped {
        r.at(
            t.span(),
            "no thresholds are given",
            Some("e.g. `thresholds = { automate = 0.95, prompt = 0.8, annotate = 0.5 }`".into()),
        );
        return None;
    }
    out.sort_by_key(|(m, _, _)| *m);
    for pair in out.windows(2) {
        let ((m1, v1, _), (m2, v2, span)) = (&pair[0], &pair[1]);
        if v2 > v1 {
            r.at(
                span.clone(),
                format!("threshold for `{}` ({v2}) is above the one for `{}` ({v1})", m2.as_str(), m1.as_str()),
                Some("a more forceful mode needs a score at least as high".into()),
            );
            ok = false;
        }
    }
    ok.then(|| Policy::Thresholds(out.into_iter().map(|(m, v, _)| (m, v)).collect()))
}

fn mode_values(v: &Spanned<BTreeMap<String, Typed<RawModeValue>>>, r: &mut Reporter) -> Option<Policy> {
    let mut out = Vec::new();
    let mut mistyped = false;
    for (key, value) in v.get_ref() {
        let Some(mode) = Mode::parse(key).filter(|m| *m != Mode::Escalate) else {
            r.at(
                value.span(),
                format!("unknown mode `{key}` in values"),
                Some("values are given for automate, prompt, annotate and none".into()),
            );
            continue;
        };
        let Some(value) = typed(r, &format!("values.{key}"), value) else {
            mistyped = true;
            continue;
        };
        // `Some(None)`: given, but not a number (reported)
        let side = |r: &mut Reporter, side: &str, v: &Option<Typed<f64>>| {
            v.as_ref().map(|v| typed(r, &format!("values.{key}.{side}"), v).map(|v| *v.get_ref()))
        };
        let (right, wrong) = (side(r, "right", &value.get_ref().right), side(r, "wrong", &value.get_ref().wrong));
        match (right, wrong) {
            (Some(Some(right)), Some(Some(wrong))) if right.is_finite() && wrong.is_finite() => {
                out.push(ModeValue { mode, right, wrong });
            }
            (Some(None), _) | (_, Some(None)) => mistyped = true,
            _ => r.at(value.span(), format!("the value of `{key}` needs finite `right` and `wrong`"), Some("`right`: value when the prediction acted on is true; `wrong`: when it is false, e.g. `{ right = 10, wrong = -100 }`".into())),
        }
    }
    if mistyped {
        return None;
    }
    if out.len() < 2 {
        r.at(
            v.span(),
            "the expected_value policy needs values for at least two modes",
            Some("give at least `none` and one of automate, prompt, annotate".into()),
        );
        return None;
    }
    out.sort_by_key(|m| m.mode);
    Some(Policy::ExpectedValue(out))
}

/// `30s`, `15m`, `12h`, `1d`, `2w`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let secs = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    Some(Duration::from_secs(n.checked_mul(secs)?))
}

/// A duration as [`parse_duration`] reads it, in the largest of `d`, `h`, `m` and `s` that
/// divides it: `1d`, `36h`, `90s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs > 0 && secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}
