//! The `[[components.features]]` tables: each feature's name, type, bounds, categories,
//! default and telemetry policy, and that no name is declared twice.

use std::ops::Range;

use toml::Spanned;

use super::fields::{count, describe, given, list, one_of, type_hint};
use crate::diagnostic::Reporter;
use crate::raw::{RawFeature, Typed};
use crate::types::{Feature, FeatureKind, FeatureValue, TelemetryPolicy};

const FEATURE_TYPES: [&str; 5] = ["number", "integer", "boolean", "category", "text"];
const DEFAULT_TEXT_MAX_LENGTH: i64 = 10_000;

pub(super) fn features(raw: &[&Spanned<RawFeature>], r: &mut Reporter) -> Vec<Feature> {
    let mut out: Vec<Feature> = Vec::new();
    if raw.is_empty() {
        r.at(0..0, "a component needs at least one feature", None);
    }
    for &f in raw {
        let errors_before = r.found.len();
        let feature = feature(f, r);
        if let Some(feature) = feature {
            if out.iter().any(|o| o.name == feature.name) {
                let span = f.get_ref().name.as_ref().map(Typed::span).unwrap_or(f.span());
                r.at(
                    span,
                    format!("feature `{}` is declared twice", feature.name),
                    Some("feature names must be unique".into()),
                );
            } else if r.found.len() == errors_before {
                out.push(feature);
            }
        }
    }
    out
}

fn feature(f: &Spanned<RawFeature>, r: &mut Reporter) -> Option<Feature> {
    let raw = f.get_ref();
    let name = super::fields::name(r, "feature", raw.name.as_ref(), f.span(), "this feature has no `name`", None)?;
    let Some(kind_name) = &raw.kind else {
        r.at(
            f.span(),
            format!("feature `{name}` has no `type`"),
            Some(format!("`type` is one of: {}", FEATURE_TYPES.join(", "))),
        );
        return None;
    };
    let kind_name = one_of(r, "type", kind_name, "feature type", &FEATURE_TYPES)?;

    let not_for = |r: &mut Reporter, field: Option<Range<usize>>, key: &str| {
        if let Some(span) = field {
            r.at(span, format!("`{key}` does not apply to a {kind_name} feature (`{name}`)"), None);
        }
    };
    let kind = match kind_name {
        "number" => {
            let min = bound_f64(r, "min", raw.min.as_ref(), &name);
            let max = bound_f64(r, "max", raw.max.as_ref(), &name);
            bounds_ordered(r, raw, min, max, &name);
            FeatureKind::Number { min, max }
        }
        "integer" => {
            let min = bound_i64(r, "min", raw.min.as_ref(), &name);
            let max = bound_i64(r, "max", raw.max.as_ref(), &name);
            bounds_ordered(r, raw, min.map(|v| v as f64), max.map(|v| v as f64), &name);
            FeatureKind::Integer { min, max }
        }
        "boolean" => FeatureKind::Boolean,
        "category" => match raw.categories.as_ref().map(|cs| (cs, list(r, "categories", cs))) {
            Some((_, Some(listed))) if !listed.is_empty() => {
                let mut categories: Vec<String> = Vec::new();
                for c in listed {
                    if categories.contains(c.get_ref()) {
                        r.at(c.span(), format!("category `{}` is listed twice", c.get_ref()), None);
                    }
                    categories.push(c.get_ref().clone());
                }
                FeatureKind::Category { categories }
            }
            Some((cs, Some(_))) => {
                r.at(cs.span(), format!("category feature `{name}` lists no categories"), None);
                return None;
            }
            Some((_, None)) => return None,
            None => {
                r.at(
                    f.span(),
                    format!("category feature `{name}` needs `categories`"),
                    Some("e.g. `categories = [\"com\", \"org\"]`".into()),
                );
                return None;
            }
        },
        _ => {
            let max_length = match &raw.max_length {
                Some(_) => count(r, "max_length", &raw.max_length, 10_000_000)?,
                None => DEFAULT_TEXT_MAX_LENGTH,
            };
            FeatureKind::Text { max_length: max_length as usize }
        }
    };
    if !matches!(kind, FeatureKind::Number { .. } | FeatureKind::Integer { .. }) {
        not_for(r, raw.min.as_ref().map(|s| s.span()), "min");
        not_for(r, raw.max.as_ref().map(|s| s.span()), "max");
    }
    if !matches!(kind, FeatureKind::Category { .. }) {
        not_for(r, raw.categories.as_ref().map(|s| s.span()), "categories");
    }
    if !matches!(kind, FeatureKind::Text { .. }) {
        not_for(r, raw.max_length.as_ref().map(|s| s.span()), "max_length");
        not_for(r, raw.telemetry_truncate.as_ref().map(|s| s.span()), "telemetry_truncate");
    }

    let default = raw.default.as_ref().and_then(|d| default_value(r, d, &kind, &name));
    let required = match (given(r, "required", &raw.required), &default) {
        (Some(req), Some(_)) if *req.get_ref() => {
            r.at(
                req.span(),
                format!("feature `{name}` is required but has a default"),
                Some(
                    "a default is used only when the feature is missing; drop `required = true` or the default".into(),
                ),
            );
            true
        }
        (Some(req), None) => *req.get_ref(),
        (None, None) => true,
        (_, Some(_)) => false,
    };

    let telemetry = match (&raw.telemetry, &raw.telemetry_truncate) {
        (Some(t), None) => match one_of(r, "telemetry", t, "telemetry policy", &["raw", "hash", "drop"])? {
            "hash" => TelemetryPolicy::Hash,
            "drop" => TelemetryPolicy::Drop,
            _ => TelemetryPolicy::Raw,
        },
        (None, Some(_)) => {
            TelemetryPolicy::Truncate(count(r, "telemetry_truncate", &raw.telemetry_truncate, 1_000_000)? as usize)
        }
        (Some(t), Some(_)) => {
            r.at(
                t.span(),
                format!("feature `{name}` has both `telemetry` and `telemetry_truncate`"),
                Some("truncation implies raw text; keep one of them".into()),
            );
            return None;
        }
        (None, None) => TelemetryPolicy::Raw,
    };
    Some(Feature { name, kind, required, default, telemetry, location: r.location(f.span().start) })
}

fn bound_f64(r: &mut Reporter, key: &str, v: Option<&Spanned<toml::Value>>, name: &str) -> Option<f64> {
    let v = v?;
    match v.get_ref() {
        toml::Value::Float(f) if f.is_finite() => Some(*f),
        toml::Value::Integer(i) => Some(*i as f64),
        other => {
            r.at(
                v.span(),
                format!("`{key}` of feature `{name}` must be a finite number, not {}", describe(other)),
                type_hint::<f64>(Some(key), other),
            );
            None
        }
    }
}

fn bound_i64(r: &mut Reporter, key: &str, v: Option<&Spanned<toml::Value>>, name: &str) -> Option<i64> {
    let v = v?;
    match v.get_ref() {
        toml::Value::Integer(i) => Some(*i),
        other => {
            r.at(
                v.span(),
                format!("`{key}` of integer feature `{name}` must be a whole number, not {}", describe(other)),
                type_hint::<i64>(Some(key), other),
            );
            None
        }
    }
}

fn bounds_ordered(r: &mut Reporter, raw: &RawFeature, min: Option<f64>, max: Option<f64>, name: &str) {
    if let (Some(lo), Some(hi), Some(span)) = (min, max, raw.min.as_ref().map(|m| m.span()))
        && lo > hi
    {
        r.at(span, format!("feature `{name}` has min {lo} above max {hi}"), Some("min must be at most max".into()));
    }
}

fn default_value(r: &mut Reporter, d: &Spanned<toml::Value>, kind: &FeatureKind, name: &str) -> Option<FeatureValue> {
    let wrong = |r: &mut Reporter| {
        r.at(
            d.span(),
            format!(
                "default of feature `{name}` is {}, but the feature is {}",
                describe(d.get_ref()),
                kind.type_name()
            ),
            None,
        );
        None
    };
    let value = match (kind, d.get_ref()) {
        (FeatureKind::Number { .. }, toml::Value::Float(f)) if f.is_finite() => FeatureValue::Number(*f),
        (FeatureKind::Number { .. }, toml::Value::Integer(i)) => FeatureValue::Number(*i as f64),
        (FeatureKind::Integer { .. }, toml::Value::Integer(i)) => FeatureValue::Integer(*i),
        (FeatureKind::Boolean, toml::Value::Boolean(b)) => FeatureValue::Boolean(*b),
        (FeatureKind::Category { .. } | FeatureKind::Text { .. }, toml::Value::String(s)) => {
            FeatureValue::Text(s.clone())
        }
        _ => return wrong(r),
    };
    if let Err(problem) = crate::check_value(kind, &value) {
        r.at(d.span(), format!("default of feature `{name}` {problem}"), None);
        return None;
    }
    Some(value)
}
