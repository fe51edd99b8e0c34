//! Checks a guardrail condition against what it may see: the schema's features,
//! the model output (output stage only) and the free-form request context.

use cel::common::ast::{EntryExpr, Expr, IdedExpr};

use crate::types::Stage;

/// Fields of `output` a condition may read.
pub const OUTPUT_FIELDS: [&str; 4] = ["label", "score", "probabilities", "value"];

/// A reference the condition may not make, with its byte range in the CEL source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadReference {
    pub offset: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// `features`: the names a condition may read; `None` when they are not all known (a mistake
/// was reported where they are declared), and any may be read.
pub(crate) fn check_references(program: &cel::Program, stage: Stage, features: Option<&[&str]>) -> Vec<BadReference> {
    let mut bad = Vec::new();
    let mut scope: Vec<String> = Vec::new();
    walk(program.expression(), program, stage, features, &mut scope, &mut bad);
    bad
}

fn offset_of(program: &cel::Program, id: u64) -> usize {
    program.source_info().offset_for(id).map(|(start, _)| start as usize).unwrap_or(0)
}

fn walk(
    e: &IdedExpr,
    program: &cel::Program,
    stage: Stage,
    features: Option<&[&str]>,
    scope: &mut Vec<String>,
    bad: &mut Vec<BadReference>,
) {
    match &e.expr {
        Expr::Ident(name) => {
            if scope.iter().any(|s| s == name) {
                return;
            }
            match name.as_str() {
                "features" | "context" => {}
                "output" if stage == Stage::Output => {}
                "output" => bad.push(BadReference {
                    offset: offset_of(program, e.id),
                    message: "an input guardrail cannot read `output`: the model has not run yet".into(),
                    hint: Some("use `stage = \"output\"` for a rule about the model's output".into()),
                }),
                other => bad.push(BadReference {
                    offset: offset_of(program, e.id),
                    message: format!("unknown variable `{other}` in condition"),
                    hint: Some(format!(
                        "a condition may read `features.<name>`, `context.<key>`{}",
                        if stage == Stage::Output { " and `output.<field>`" } else { "" }
                    )),
                }),
            }
        }
        Expr::Select(select) => {
            if let Expr::Ident(root) = &select.operand.expr
                && !scope.iter().any(|s| s == root)
            {
                let field = select.field.as_str();
                match root.as_str() {
                    "features" if features.is_some_and(|f| !f.contains(&field)) => {
                        let features = features.unwrap_or_default();
                        let hint = match crate::diagnostic::closest(field, features.iter().copied()) {
                            Some(near) => {
                                format!("did you mean `features.{near}`? declared features: {}", features.join(", "))
                            }
                            None => format!("declared features: {}", features.join(", ")),
                        };
                        bad.push(BadReference {
                            offset: offset_of(program, e.id),
                            message: format!("unknown feature `{field}` in condition"),
                            hint: Some(hint),
                        });
                        return;
                    }
                    "output" if stage == Stage::Output && !OUTPUT_FIELDS.contains(&field) => {
                        bad.push(BadReference {
                            offset: offset_of(program, e.id),
                            message: format!("unknown output field `{field}` in condition"),
                            hint: Some(format!("the output has: {}", OUTPUT_FIELDS.join(", "))),
                        });
                        return;
                    }
                    _ => {}
                }
            }
            walk(&select.operand, program, stage, features, scope, bad);
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                walk(target, program, stage, features, scope, bad);
            }
            for arg in &call.args {
                walk(arg, program, stage, features, scope, bad);
            }
        }
        Expr::Comprehension(c) => {
            walk(&c.iter_range, program, stage, features, scope, bad);
            walk(&c.accu_init, program, stage, features, scope, bad);
            let pushed = 2 + usize::from(c.iter_var2.is_some());
            scope.push(c.iter_var.clone());
            scope.push(c.accu_var.clone());
            if let Some(v) = &c.iter_var2 {
                scope.push(v.clone());
            }
            walk(&c.loop_cond, program, stage, features, scope, bad);
            walk(&c.loop_step, program, stage, features, scope, bad);
            walk(&c.result, program, stage, features, scope, bad);
            scope.truncate(scope.len() - pushed);
        }
        Expr::List(list) => {
            for el in &list.elements {
                walk(el, program, stage, features, scope, bad);
            }
        }
        Expr::Map(map) => {
            for entry in &map.entries {
                match &entry.expr {
                    EntryExpr::MapEntry(m) => {
                        walk(&m.key, program, stage, features, scope, bad);
                        walk(&m.value, program, stage, features, scope, bad);
                    }
                    EntryExpr::StructField(f) => walk(&f.value, program, stage, features, scope, bad),
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    walk(&f.value, program, stage, features, scope, bad);
                }
            }
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str, stage: Stage) -> Vec<BadReference> {
        let program = cel::Program::compile(src).expect("compiles");
        check_references(&program, stage, Some(&["age", "domain"]))
    }

    #[test]
    fn known_references_pass() {
        assert!(check("features.age > 3 && context.x == 'y'", Stage::Input).is_empty());
        assert!(check("output.score > 0.5 && features.domain in ['a']", Stage::Output).is_empty());
        assert!(check("[1, 2].exists(v, v > features.age)", Stage::Input).is_empty());
    }

    #[test]
    fn unknown_feature_is_found_with_offset_and_suggestion() {
        let bad = check("features.age > 3 && features.domian == 'x'", Stage::Input);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].message.contains("`domian`"));
        assert!(bad[0].hint.as_deref().unwrap().contains("features.domain"));
        assert_eq!(&"features.age > 3 && features.domian == 'x'"[bad[0].offset..bad[0].offset + 1], ".");
    }

    #[test]
    fn output_in_input_stage_and_unknown_variables_are_refused() {
        assert_eq!(check("output.score > 0.5", Stage::Input).len(), 1);
        assert_eq!(check("output.scor > 0.5", Stage::Output).len(), 1);
        assert_eq!(check("feature.age > 1", Stage::Input).len(), 1);
    }
}
