//! A guardrail's `when` and a goal's `filter`: a CEL condition compiled, its references
//! checked against what it may read (the stage and the features; a recorded prediction),
//! its types checked against what it reads (`cel_types`), and each mistake placed at its
//! character inside the file.

use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;

use crate::cel_check::{self, BadReference};
use crate::cel_types::{self, ConditionScope, TypeError};
use crate::diagnostic::Reporter;
use crate::types::{Condition, Stage};

/// Compiles a CEL condition; parse errors, bad references and parts that fail for every
/// request point into the file. `scope`: what it may read, as far as it is known.
pub(super) fn condition(
    w: &Spanned<String>,
    stage: Stage,
    scope: &ConditionScope,
    r: &mut Reporter,
) -> Option<Condition> {
    let example = "features.age > 18 && context.country == \"NL\"";
    compile(w, example, r, |program| {
        let names: Option<Vec<&str>> = scope.features.as_ref().map(|fs| fs.iter().map(|(name, _)| *name).collect());
        let bad = cel_check::check_references(program, stage, names.as_deref());
        (bad, cel_types::type_errors(program, stage, scope))
    })
}

/// Compiles a goal's `filter`, a condition over a recorded prediction: `reads` says what
/// it may read, `scope` types the features as recorded.
pub(super) fn filter(
    w: &Spanned<String>,
    reads: &dyn cel_check::Reads,
    scope: &ConditionScope,
    r: &mut Reporter,
) -> Option<Condition> {
    let example = "mode == \"prompt\" && features.age > 18";
    compile(w, example, r, |program| {
        (cel_check::check_reads(program, reads), cel_types::event_type_errors(program, scope))
    })
}

/// Compiles the CEL text `w`, reporting what `check` finds in the program where it is
/// written: references it may not make, then parts that fail whatever they read. `example`
/// is a valid one, for the hint to a syntax error.
fn compile(
    w: &Spanned<String>,
    example: &str,
    r: &mut Reporter,
    check: impl FnOnce(&cel::Program) -> (Vec<BadReference>, Vec<TypeError>),
) -> Option<Condition> {
    let source = w.get_ref();
    let file_offset = string_content_offset(r.text(), w.span(), source);
    match cel::Program::compile(source) {
        Err(errors) => {
            for e in errors.errors {
                // cel reports 1-based lines and columns
                let cel_offset = line_col_to_offset(source, e.pos.0, e.pos.1 - 1);
                r.at(
                    file_offset(cel_offset)..file_offset(cel_offset),
                    format!("condition is not valid CEL: {}", e.msg),
                    Some(format!("see https://cel.dev for the syntax; e.g. `{example}`")),
                );
            }
            None
        }
        Ok(program) => {
            let (bad, wrong) = check(&program);
            let ok = bad.is_empty() && wrong.is_empty();
            for b in bad {
                let at = file_offset(b.offset);
                r.at(at..at, b.message, b.hint);
            }
            for w in wrong {
                let at = file_offset(w.offset);
                r.at(at..at, w.message, w.hint);
            }
            ok.then(|| Condition { source: source.clone(), program: Arc::new(program) })
        }
    }
}

/// Maps an offset inside a string's value to an offset in the file. Exact for strings
/// written without escapes; otherwise points at the string itself.
fn string_content_offset<'t>(text: &'t str, span: Range<usize>, value: &str) -> impl Fn(usize) -> usize + 't {
    let literal = text.get(span.clone()).unwrap_or("");
    let delimiter = if literal.starts_with("\"\"\"") || literal.starts_with("'''") { 3 } else { 1 };
    let mut start = span.start + delimiter;
    if delimiter == 3 && text.get(start..).is_some_and(|t| t.starts_with('\n')) {
        start += 1;
    }
    let exact = text.get(start..start + value.len()) == Some(value);
    move |offset| if exact { start + offset } else { span.start }
}

fn line_col_to_offset(source: &str, line: isize, col: isize) -> usize {
    let line = line.max(1) as usize;
    let start: usize = source.split_inclusive('\n').take(line - 1).map(str::len).sum();
    (start + col.max(0) as usize).min(source.len())
}
