//! Checks of one value that every table uses: a name, one of a list of words, a count
//! within bounds, a mode; and how a value is described in a message.

use std::ops::Range;

use toml::Spanned;

use crate::diagnostic::{Reporter, closest};
use crate::types::Mode;

const IDENT_HINT: &str = "use letters, digits, `-` and `_`, starting with a letter (it appears in URLs and metrics)";

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && s.len() <= 64
}

/// The `name` of a table (`what`: "component", "feature", ...), when it is a valid name.
/// An invalid name is reported where it is written; a missing one at `table`, saying
/// `missing` and `hint`.
pub(super) fn name(
    r: &mut Reporter,
    what: &str,
    given: Option<&Spanned<String>>,
    table: Range<usize>,
    missing: &str,
    hint: Option<&str>,
) -> Option<String> {
    match given {
        Some(n) if is_identifier(n.get_ref()) => Some(n.get_ref().clone()),
        Some(n) => {
            r.at(n.span(), format!("{what} name `{}` is not a valid name", n.get_ref()), Some(IDENT_HINT.into()));
            None
        }
        None => {
            r.at(table, missing, hint.map(Into::into));
            None
        }
    }
}

pub(super) fn one_of<'v>(
    r: &mut Reporter,
    value: &Spanned<String>,
    what: &str,
    allowed: &[&'v str],
) -> Option<&'v str> {
    let given = value.get_ref().as_str();
    if let Some(found) = allowed.iter().find(|a| **a == given) {
        return Some(found);
    }
    let hint = match closest(given, allowed.iter().copied()) {
        Some(near) => format!("did you mean `{near}`? {what} is one of: {}", allowed.join(", ")),
        None => format!("{what} is one of: {}", allowed.join(", ")),
    };
    r.at(value.span(), format!("unknown {what} `{given}`"), Some(hint));
    None
}

pub(super) fn positive(r: &mut Reporter, value: &Spanned<i64>, what: &str, max: i64) -> Option<i64> {
    let v = *value.get_ref();
    if v < 1 || v > max {
        r.at(value.span(), format!("{what} must be between 1 and {max}, not {v}"), None);
        return None;
    }
    Some(v)
}

pub(super) fn mode(r: &mut Reporter, m: &Spanned<String>) -> Option<Mode> {
    let names: Vec<&str> = Mode::ALL.iter().map(|m| m.as_str()).collect();
    one_of(r, m, "mode", &names).and_then(Mode::parse)
}

/// A value as a message names it: `the string "a lot"`, `the integer 3`.
pub(super) fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string \"{s}\""),
        toml::Value::Integer(i) => format!("the integer {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(_) => "a date".into(),
        toml::Value::Array(_) => "an array".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}
