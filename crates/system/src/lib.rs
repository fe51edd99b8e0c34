//! The system file, `rein.toml`: one file that declares an ML-enabled system —
//! its components, their input schema, guardrails, fallback and experience policy.
//!
//! [`load`] reads and validates it and reports every mistake with file, line and
//! column. Pure: the only I/O is reading the file itself.

mod cel_check;
mod diagnostic;
mod raw;
mod types;
mod validate;

use std::path::Path;

pub use cel_check::OUTPUT_FIELDS;
pub use diagnostic::{Diagnostic, Diagnostics, closest, whole_file};
pub use types::*;
pub use validate::parse_duration;

/// Reads and validates a system file.
pub fn load(path: &Path) -> Result<System, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        whole_file(path, format!("cannot read the system file: {e}"), Some("give the path of a rein.toml".into()))
    })?;
    parse(&text, path)
}

/// Validates the text of a system file; `path` names it in diagnostics and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<System, Diagnostics> {
    let mut reporter = diagnostic::Reporter::new(path, text);
    let raw: raw::RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().to_string();
            let hint = toml_hint(&message);
            reporter.at(span, message, hint);
            return Err(reporter.finish().expect_err("one diagnostic was reported"));
        }
    };
    let system = validate::validate(raw, path, &mut reporter);
    reporter.finish()?;
    Ok(system.expect("a system is built whenever no diagnostic was reported"))
}

fn toml_hint(message: &str) -> Option<String> {
    if message.starts_with("unknown field") {
        Some("check the spelling; the fields this table accepts are listed above".into())
    } else if message.starts_with("invalid type") {
        Some("check the value's type: strings need quotes, numbers and booleans do not".into())
    } else if message.starts_with("missing field") {
        Some("add the field named above".into())
    } else {
        None
    }
}

/// Checks a value against its feature's declared kind (bounds, categories, length).
/// Returns what is wrong, phrased to follow the feature name. Shared by the system
/// file's defaults and by every request.
pub fn check_value(kind: &FeatureKind, value: &FeatureValue) -> Result<(), String> {
    match (kind, value) {
        (FeatureKind::Number { min, max }, FeatureValue::Number(v)) => {
            if !v.is_finite() {
                return Err(format!("is {v}, expected a finite number"));
            }
            check_bounds(*v, *min, *max)
        }
        (FeatureKind::Integer { min, max }, FeatureValue::Integer(v)) => {
            check_bounds(*v as f64, min.map(|m| m as f64), max.map(|m| m as f64))
        }
        (FeatureKind::Boolean, FeatureValue::Boolean(_)) => Ok(()),
        (FeatureKind::Category { categories }, FeatureValue::Text(v)) => {
            if categories.iter().any(|c| c == v) {
                Ok(())
            } else {
                Err(format!("is \"{v}\", expected one of: {}", categories.join(", ")))
            }
        }
        (FeatureKind::Text { max_length }, FeatureValue::Text(v)) => {
            let len = v.chars().count();
            if len > *max_length { Err(format!("has {len} characters, expected at most {max_length}")) } else { Ok(()) }
        }
        (kind, _) => Err(format!("has the wrong type, expected {}", kind.type_name())),
    }
}

fn check_bounds(v: f64, min: Option<f64>, max: Option<f64>) -> Result<(), String> {
    if let Some(min) = min
        && v < min
    {
        return Err(format!("is {v}, below the minimum {min}"));
    }
    if let Some(max) = max
        && v > max
    {
        return Err(format!("is {v}, above the maximum {max}"));
    }
    Ok(())
}
