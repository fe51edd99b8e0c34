//! The system file, `rein.toml`: one file that declares an ML-enabled system —
//! its components, their input schema, guardrails, fallback and experience policy, and
//! the goals it is measured by, layer by layer, from the model to the organization.
//!
//! [`load`] reads and validates it and reports every mistake with file, line and
//! column. Pure: the only I/O is reading the file itself.

mod cel_check;
mod cel_types;
mod diagnostic;
mod raw;
pub mod traffic;
mod types;
mod validate;
mod warnings;

pub use cel_check::OUTPUT_FIELDS;
pub use cel_types::{Claim, ConditionScope, TypeError, type_errors};
pub use diagnostic::{Diagnostic, Diagnostics, closest, whole_file};
pub use types::*;
pub use validate::{format_duration, load, parse, parse_duration};
pub use warnings::warnings;

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
