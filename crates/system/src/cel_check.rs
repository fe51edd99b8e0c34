//! Checks a CEL expression against what it may read: a guardrail condition the schema's
//! features, the model output (output stage only) and the free-form request context; a
//! goal's filter what a recorded prediction holds (`validate::goals`, through [`Reads`]).

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue, operators};

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

/// What a CEL expression may read: each variable it names that no macro binds, each field
/// selected from one, and each string literal compared with one. Each method says what is
/// wrong with a reference, as a message and a hint; `None` when it may be made.
pub(crate) trait Reads {
    /// A variable, e.g. `context`.
    fn variable(&self, name: &str) -> Option<Refused>;
    /// `root.field`, `root` a variable. When this refuses, `root` itself is not looked at.
    fn field(&self, root: &str, field: &str) -> Option<Refused>;
    /// A string literal compared with a variable (`mode == 'prompt'`, `mode in ['a', 'b']`)
    /// or looked up in one (`'rule' in rules`).
    fn literal(&self, _variable: &str, _literal: &str) -> Option<Refused> {
        None
    }
}

/// A message and its hint.
pub(crate) type Refused = (String, Option<String>);

/// What a guardrail's condition may read: `features` (when known, the names declared),
/// `context`, and at the output stage `output`.
struct Guardrail<'a> {
    stage: Stage,
    features: Option<&'a [&'a str]>,
}

impl Reads for Guardrail<'_> {
    fn variable(&self, name: &str) -> Option<Refused> {
        match name {
            "features" | "context" => None,
            "output" if self.stage == Stage::Output => None,
            "output" => Some((
                "an input guardrail cannot read `output`: the model has not run yet".into(),
                Some("use `stage = \"output\"` for a rule about the model's output".into()),
            )),
            other => Some((
                format!("unknown variable `{other}` in condition"),
                Some(format!(
                    "a condition may read `features.<name>`, `context.<key>`{}",
                    if self.stage == Stage::Output { " and `output.<field>`" } else { "" }
                )),
            )),
        }
    }

    fn field(&self, root: &str, field: &str) -> Option<Refused> {
        match root {
            "features" => unknown_feature(field, self.features?),
            "output" if self.stage == Stage::Output => unknown_output_field(field),
            _ => None,
        }
    }
}

/// `features.<field>` when `field` is not among `features`, with the nearest.
pub(crate) fn unknown_feature(field: &str, features: &[&str]) -> Option<Refused> {
    if features.contains(&field) {
        return None;
    }
    let hint = match crate::diagnostic::closest(field, features.iter().copied()) {
        Some(near) => format!("did you mean `features.{near}`? declared features: {}", features.join(", ")),
        None => format!("declared features: {}", features.join(", ")),
    };
    Some((format!("unknown feature `{field}` in condition"), Some(hint)))
}

/// `output.<field>` when `field` is not one of [`OUTPUT_FIELDS`].
pub(crate) fn unknown_output_field(field: &str) -> Option<Refused> {
    (!OUTPUT_FIELDS.contains(&field)).then(|| {
        (
            format!("unknown output field `{field}` in condition"),
            Some(format!("the output has: {}", OUTPUT_FIELDS.join(", "))),
        )
    })
}

/// `features`: the names a condition may read; `None` when they are not all known (a mistake
/// was reported where they are declared), and any may be read.
pub(crate) fn check_references(program: &cel::Program, stage: Stage, features: Option<&[&str]>) -> Vec<BadReference> {
    check_reads(program, &Guardrail { stage, features })
}

/// Every reference `program` makes that `reads` refuses.
pub(crate) fn check_reads(program: &cel::Program, reads: &dyn Reads) -> Vec<BadReference> {
    let mut walk = Walk { program, reads, scope: Vec::new(), bad: Vec::new() };
    walk.expr(program.expression());
    walk.bad
}

struct Walk<'p, 'r> {
    program: &'p cel::Program,
    reads: &'r dyn Reads,
    /// Variables bound by the macros around the part being walked.
    scope: Vec<String>,
    bad: Vec<BadReference>,
}

impl Walk<'_, '_> {
    fn refuse(&mut self, e: &IdedExpr, (message, hint): Refused) {
        let offset = self.program.source_info().offset_for(e.id).map(|(start, _)| start as usize).unwrap_or(0);
        self.bad.push(BadReference { offset, message, hint });
    }

    /// `e` as a variable no macro binds.
    fn free<'e>(&self, e: &'e IdedExpr) -> Option<&'e str> {
        match &e.expr {
            Expr::Ident(name) if !self.scope.iter().any(|s| s == name) => Some(name),
            _ => None,
        }
    }

    /// A string literal compared with or looked up in a variable.
    fn literals(&mut self, call: &cel::common::ast::CallExpr) {
        let string = |e: &IdedExpr| match &e.expr {
            Expr::Literal(LiteralValue::String(s)) => Some(s.inner().to_string()),
            _ => None,
        };
        let [a, b] = call.args.as_slice() else { return };
        let mut checked: Vec<(&IdedExpr, String, String)> = Vec::new();
        match call.func_name.as_str() {
            operators::EQUALS | operators::NOT_EQUALS => {
                for (var, lit) in [(a, b), (b, a)] {
                    if let (Some(v), Some(l)) = (self.free(var), string(lit)) {
                        checked.push((lit, v.to_string(), l));
                    }
                }
            }
            operators::IN => {
                if let (Some(l), Some(v)) = (string(a), self.free(b)) {
                    checked.push((a, v.to_string(), l));
                }
                if let (Some(v), Expr::List(list)) = (self.free(a), &b.expr) {
                    for el in &list.elements {
                        if let Some(l) = string(el) {
                            checked.push((el, v.to_string(), l));
                        }
                    }
                }
            }
            _ => {}
        }
        for (at, variable, literal) in checked {
            if let Some(refused) = self.reads.literal(&variable, &literal) {
                self.refuse(at, refused);
            }
        }
    }

    fn expr(&mut self, e: &IdedExpr) {
        match &e.expr {
            Expr::Ident(name) => {
                if self.scope.iter().any(|s| s == name) {
                    return;
                }
                if let Some(refused) = self.reads.variable(name) {
                    self.refuse(e, refused);
                }
            }
            Expr::Select(select) => {
                if let Some(root) = self.free(&select.operand)
                    && let Some(refused) = self.reads.field(root, &select.field)
                {
                    self.refuse(e, refused);
                    return;
                }
                self.expr(&select.operand);
            }
            Expr::Call(call) => {
                self.literals(call);
                if let Some(target) = &call.target {
                    self.expr(target);
                }
                for arg in &call.args {
                    self.expr(arg);
                }
            }
            Expr::Comprehension(c) => {
                self.expr(&c.iter_range);
                self.expr(&c.accu_init);
                let pushed = 2 + usize::from(c.iter_var2.is_some());
                self.scope.push(c.iter_var.clone());
                self.scope.push(c.accu_var.clone());
                if let Some(v) = &c.iter_var2 {
                    self.scope.push(v.clone());
                }
                self.expr(&c.loop_cond);
                self.expr(&c.loop_step);
                self.expr(&c.result);
                self.scope.truncate(self.scope.len() - pushed);
            }
            Expr::List(list) => {
                for el in &list.elements {
                    self.expr(el);
                }
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(m) => {
                            self.expr(&m.key);
                            self.expr(&m.value);
                        }
                        EntryExpr::StructField(f) => self.expr(&f.value),
                    }
                }
            }
            Expr::Struct(s) => {
                for entry in &s.entries {
                    if let EntryExpr::StructField(f) = &entry.expr {
                        self.expr(&f.value);
                    }
                }
            }
            Expr::Literal(_) | Expr::Unspecified => {}
        }
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
