//! Checks of one value that every table uses: its type, a name, one of a list of words, a
//! count within bounds, a mode; and how a value is described in a message.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;

use crate::diagnostic::{Reporter, closest};
use crate::raw::{Shape, Typed, Wanted};
use crate::types::Mode;

/// The value of `key` when it has the type the key wants; otherwise a diagnostic where it
/// is written, naming the key, the type it wants and what it is instead.
pub(super) fn typed<'v, T: Wanted + DeserializeOwned>(
    r: &mut Reporter,
    key: &str,
    value: &'v Typed<T>,
) -> Option<&'v Spanned<T>> {
    if let Some(written) = value.wrong() {
        wrong_type::<T>(r, &format!("`{key}`"), Some(key), written);
    }
    value.ok()
}

/// [`typed`], for a key that may be left out: `None` when it is, or has the wrong type.
pub(super) fn given<'v, T: Wanted + DeserializeOwned>(
    r: &mut Reporter,
    key: &str,
    value: &'v Option<Typed<T>>,
) -> Option<&'v Spanned<T>> {
    value.as_ref().and_then(|v| typed(r, key, v))
}

/// The entries of the list `key`, when it and each of them have the type wanted; each
/// one that has not is reported.
pub(super) fn list<'v, T: Wanted + DeserializeOwned>(
    r: &mut Reporter,
    key: &str,
    value: &'v Typed<Vec<Typed<T>>>,
) -> Option<Vec<&'v Spanned<T>>>
where
    Vec<Typed<T>>: Wanted + DeserializeOwned,
{
    let list = typed(r, key, value)?;
    let mut entries = Vec::new();
    for entry in list.get_ref() {
        if let Some(written) = entry.wrong() {
            wrong_type::<T>(r, &format!("an entry of `{key}`"), None, written);
        }
        entries.extend(entry.ok());
    }
    (entries.len() == list.get_ref().len()).then_some(entries)
}

fn wrong_type<T: Wanted + DeserializeOwned>(
    r: &mut Reporter,
    what: &str,
    key: Option<&str>,
    written: &Spanned<toml::Value>,
) {
    let message = format!("{what} must be {}, not {}", T::WANTS, describe(written.get_ref()));
    r.at(written.span(), message, type_hint::<T>(key, written.get_ref()));
}

/// Quotes around a number or a boolean, or none around a string: the one slip worth a hint.
pub(super) fn type_hint<T: Wanted + DeserializeOwned>(key: Option<&str>, written: &toml::Value) -> Option<String> {
    if T::SHAPE != Shape::Single {
        return None;
    }
    let (fix, right) = match written {
        toml::Value::String(s) => {
            let unquoted: toml::Value = s.trim().parse().ok()?;
            T::deserialize(unquoted).ok()?;
            ("write it without quotes", s.trim().to_string())
        }
        toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
            T::deserialize(toml::Value::String(written.to_string())).ok()?;
            ("put it in quotes", format!("\"{written}\""))
        }
        _ => return None,
    };
    // `values.prompt.wrong` is written `wrong = ...` in its table
    Some(match key.and_then(|k| k.rsplit('.').next()) {
        Some(key) => format!("{fix}: `{key} = {right}`"),
        None => format!("{fix}: `{right}`"),
    })
}

/// The whole number, from 1 to `max`, given for `key`; `None` when it is left out or wrong.
pub(super) fn count(r: &mut Reporter, key: &str, value: &Option<Typed<i64>>, max: i64) -> Option<i64> {
    let value = given(r, key, value)?;
    positive(r, value, &format!("`{key}`"), max)
}

const IDENT_HINT: &str = "use letters, digits, `-` and `_`, starting with a letter (it appears in URLs and metrics)";

pub(super) fn is_identifier(s: &str) -> bool {
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
    given: Option<&Typed<String>>,
    table: Range<usize>,
    missing: &str,
    hint: Option<&str>,
) -> Option<String> {
    identifier(r, "name", &format!("{what} name"), given, table, missing, hint)
}

/// [`name`], for an identifier written under `key` (`what` names it in a message: "goal id").
pub(super) fn identifier(
    r: &mut Reporter,
    key: &str,
    what: &str,
    given: Option<&Typed<String>>,
    table: Range<usize>,
    missing: &str,
    hint: Option<&str>,
) -> Option<String> {
    match given.map(|n| typed(r, key, n)) {
        Some(Some(n)) if is_identifier(n.get_ref()) => Some(n.get_ref().clone()),
        Some(Some(n)) => {
            r.at(n.span(), format!("{what} `{}` is not a valid name", n.get_ref()), Some(IDENT_HINT.into()));
            None
        }
        Some(None) => None,
        None => {
            r.at(table, missing, hint.map(Into::into));
            None
        }
    }
}

/// The word given for `key`, when it is one of `allowed` (`what` names them in messages).
pub(super) fn one_of<'v>(
    r: &mut Reporter,
    key: &str,
    value: &Typed<String>,
    what: &str,
    allowed: &[&'v str],
) -> Option<&'v str> {
    let value = typed(r, key, value)?;
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

/// The `mode` of a fallback, an override, a fixed policy or a cap.
pub(super) fn mode(r: &mut Reporter, m: &Typed<String>) -> Option<Mode> {
    let names: Vec<&str> = Mode::ALL.iter().map(|m| m.as_str()).collect();
    one_of(r, "mode", m, "mode", &names).and_then(Mode::parse)
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
