//! The types of a guardrail condition, inferred bottom-up over the CEL AST, and the parts
//! the `cel` interpreter is certain to fail on: `features.employment > 3` with a `category`
//! feature errors at run time for every request, so `rein check` refuses it.
//!
//! A part is refused when it fails each time it is evaluated, whatever the request: it is
//! never what its author meant, even where `&&` or `||` would forgive it on the requests
//! where the other side decides (`features.employment > 3 || features.age > 60`). Anything
//! whose failure depends on the request (a `context` key, a division by zero) is allowed:
//! `on_error` is for it.
//!
//! The interpreter (`cel` 0.15, as the decision path runs it) is the reference, and these
//! rules follow what it does, not what the CEL specification says it may do:
//!
//! - ordering (`<`, `<=`, `>`, `>=`) takes two numbers of any of int, uint and double (it
//!   compares them as numbers), two strings, two booleans or two byte strings; anything
//!   else, `null`, lists and maps included, errors;
//! - `==` and `!=` never error: values of different types are unequal (numbers compare as
//!   numbers: `1 == 1.0`), so they are never refused here;
//! - arithmetic takes two values of one type, never int with double: `+` on int, uint,
//!   double, string, bytes and lists; `-`, `*`, `/` on int, uint and double; `%` on int
//!   and uint only; `-x` on int and double; none gives a bool;
//! - `!`, `&&`, `||` and `?:` want booleans, and so does the whole condition (the decision
//!   path fails a rule whose condition gives anything else); where the result of a `?:` is
//!   needed as true or false, each of its branches is;
//! - `x in c` wants a list or a map for `c`; a map refuses a list, a map or `null` as `x`;
//! - `.field` and `[index]` want a map (a list takes a number index); a map written with
//!   string keys has only those, and a key written twice fails to make the map;
//! - functions take the arguments of their overloads: `size` a string, bytes, list or map;
//!   `matches`, `startsWith`, `endsWith`, `contains` strings (the last three called on one);
//!   `int`, `uint`, `double` a number or a string (a category or a literal they can read);
//!   `string` a scalar; `dyn(x)` is `x` (it tells a static checker to look away, not the
//!   interpreter); a function the interpreter does not know errors;
//! - a part that reads nothing of the request is evaluated here, by the interpreter: when
//!   it fails (`int('x')`, `duration('1x')`), it fails on every request; so does a pattern
//!   written out that `matches` cannot read, and an int divided by a written `0`.
//!
//! What a condition reads is typed as the decision path builds it: a feature by its
//! declared type (`number` double, `integer` int, `boolean` bool, `category` and `text`
//! string; an optional feature the request leaves out has its default or the neutral value
//! of its type, never `null`), `context` as unknown, and `output` by the component's task
//! (`crates/decision/src/output.rs`). A type is claimed only where it is certain: what is
//! unknown (`context`, a feature declared wrongly) may be anything, and is never refused.

use std::collections::HashMap;

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue, operators};

use crate::diagnostic::closest;
use crate::types::{Component, FeatureKind, Stage, Task};

/// What a condition may read, with types: a component's features, task and labels. Any part
/// may be unknown while a system file is checked (a mistake was reported where it is
/// written); what is unknown is typed as anything.
#[derive(Debug, Clone, Default)]
pub struct ConditionScope<'a> {
    /// Every declared feature, with its type when it was declared validly; `None` when the
    /// features are not all known.
    pub features: Option<Vec<(&'a str, Option<&'a FeatureKind>)>>,
    pub task: Option<Task>,
    pub labels: Option<&'a [String]>,
}

impl<'a> ConditionScope<'a> {
    /// What a condition of `component` may read.
    pub fn of(component: &'a Component) -> Self {
        ConditionScope {
            features: Some(component.features.iter().map(|f| (f.name.as_str(), Some(&f.kind))).collect()),
            task: Some(component.task),
            labels: component.task.is_classification().then_some(component.labels.as_slice()),
        }
    }
}

/// A part of a condition that fails at run time each time it is evaluated, whatever the request.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeError {
    /// The part's node in the program's AST.
    pub node: u64,
    /// Its byte offset in the condition: the operator, the function's name, or the start of
    /// a value used as a boolean.
    pub offset: usize,
    pub claim: Claim,
    pub message: String,
    pub hint: Option<String>,
}

/// What is certain about the part a [`TypeError`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Evaluating it errors, whatever the request.
    Errors,
    /// It is used as true or false (the whole condition, or an operand of `!`, `&&`, `||`
    /// or `?:`), and is never a boolean.
    NotBool,
}

/// The mistakes in `program`'s condition for a rule of `stage`; none when every part of it
/// may evaluate for some request.
pub fn type_errors(program: &cel::Program, stage: Stage, scope: &ConditionScope) -> Vec<TypeError> {
    check(program, stage, scope, false)
}

/// The mistakes in a goal's `filter`, which reads a recorded prediction: `features` as
/// recorded (`scope`), the final `output`, and `mode`, `variant` (strings), `fallback` (a
/// bool), `rules` (a list of strings) and `model` (a map of strings).
pub(crate) fn event_type_errors(program: &cel::Program, scope: &ConditionScope) -> Vec<TypeError> {
    check(program, Stage::Output, scope, true)
}

fn check(program: &cel::Program, stage: Stage, scope: &ConditionScope, event: bool) -> Vec<TypeError> {
    let mut checker = Checker {
        program,
        stage,
        scope,
        event,
        bound: Vec::new(),
        typed: HashMap::new(),
        root: None,
        found: Vec::new(),
    };
    let root = program.expression();
    let typed = checker.ty(root);
    checker.need_bool(root, &typed, Needs::Condition);
    checker.found
}

/// A CEL type, as far as it is certain: a value of this type whenever evaluation succeeds.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    /// Unknown: `context`, what an unknown feature or a mistake gives, timestamps, types.
    Dyn,
    /// Unknown, but never a bool: `b ? 1 : 'a'`, the sum of two unknowns.
    Mixed,
    /// No value: the elements of `[]`.
    Never,
    Null,
    Bool,
    Int,
    UInt,
    Double,
    Str,
    Bytes,
    List(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
    /// A map literal whose keys are all written as strings: `{'a': 1, 'b': 'x'}`.
    Record(Vec<(String, Ty)>),
    /// `features`: a map from each feature's name to its value.
    Features,
    /// `output`: `label`, `score`, `probabilities` and `value`.
    Output,
    /// `output.probabilities`: a map from label to probability; empty for a regression.
    Probabilities,
}

impl Ty {
    /// Typed as anything (a bool or not).
    fn is_unknown(&self) -> bool {
        matches!(self, Ty::Dyn | Ty::Mixed)
    }

    fn is_number(&self) -> bool {
        matches!(self, Ty::Int | Ty::UInt | Ty::Double)
    }

    fn is_map(&self) -> bool {
        matches!(self, Ty::Map(..) | Ty::Record(_) | Ty::Features | Ty::Output | Ty::Probabilities)
    }

    /// How a message names a value of this type.
    fn phrase(&self) -> &'static str {
        match self {
            Ty::Dyn => "a value",
            Ty::Mixed => "a value that is never a bool",
            Ty::Never => "nothing",
            Ty::Null => "null",
            Ty::Bool => "a bool",
            Ty::Int => "an int",
            Ty::UInt => "a uint",
            Ty::Double => "a double",
            Ty::Str => "a string",
            Ty::Bytes => "bytes",
            Ty::List(_) => "a list",
            Ty::Map(..) | Ty::Record(_) | Ty::Features | Ty::Output | Ty::Probabilities => "a map",
        }
    }
}

fn kind_ty(kind: &FeatureKind) -> Ty {
    match kind {
        FeatureKind::Number { .. } => Ty::Double,
        FeatureKind::Integer { .. } => Ty::Int,
        FeatureKind::Boolean => Ty::Bool,
        FeatureKind::Category { .. } | FeatureKind::Text { .. } => Ty::Str,
    }
}

fn kind_phrase(kind: &FeatureKind) -> &'static str {
    match kind {
        FeatureKind::Number { .. } => "a number (double)",
        FeatureKind::Integer { .. } => "an integer (int)",
        FeatureKind::Boolean => "a boolean (bool)",
        FeatureKind::Category { .. } => "a category (string)",
        FeatureKind::Text { .. } => "a text (string)",
    }
}

/// Both types, or anything when they differ (never a bool when neither is one).
fn join(a: Ty, b: Ty) -> Ty {
    match (a, b) {
        (a, b) if a == b => a,
        (Ty::Never, t) | (t, Ty::Never) => t,
        (Ty::List(a), Ty::List(b)) => Ty::List(Box::new(join(*a, *b))),
        (Ty::Map(ak, av), Ty::Map(bk, bv)) => Ty::Map(Box::new(join(*ak, *bk)), Box::new(join(*av, *bv))),
        (a, b) if !matches!(a, Ty::Bool | Ty::Dyn) && !matches!(b, Ty::Bool | Ty::Dyn) => Ty::Mixed,
        _ => Ty::Dyn,
    }
}

/// A typed part of a condition and where its value comes from, for messages and hints.
#[derive(Debug, Clone)]
struct Typed<'a> {
    ty: Ty,
    origin: Origin<'a>,
}

#[derive(Debug, Clone)]
enum Origin<'a> {
    Feature(&'a str, &'a FeatureKind),
    /// `output.<path>`.
    Output(String),
    /// A literal, as written back.
    Literal(String),
    Other,
}

impl<'a> Typed<'a> {
    fn of(ty: Ty) -> Self {
        Typed { ty, origin: Origin::Other }
    }

    fn dyn_() -> Self {
        Typed::of(Ty::Dyn)
    }

    fn feature(&self) -> Option<(&'a str, &'a FeatureKind)> {
        match self.origin {
            Origin::Feature(name, kind) => Some((name, kind)),
            _ => None,
        }
    }

    /// Every string it may be: a category's categories (a literal is evaluated whole).
    fn strings(&self) -> Option<Vec<&str>> {
        match &self.origin {
            Origin::Feature(_, FeatureKind::Category { categories }) => {
                Some(categories.iter().map(String::as_str).collect())
            }
            _ => None,
        }
    }

    fn literal(&self) -> Option<&str> {
        match &self.origin {
            Origin::Literal(text) => Some(text),
            _ => None,
        }
    }

    /// How a message names it: "feature `age`, an integer (int)", "`3`, an int".
    fn describe(&self, task: Option<Task>) -> String {
        match &self.origin {
            Origin::Feature(name, kind) => format!("feature `{name}`, {}", kind_phrase(kind)),
            Origin::Output(path) if self.ty == Ty::Null => {
                let task = match task {
                    Some(Task::Regression) => "a regression",
                    _ => "a classifier",
                };
                format!("`output.{path}`, which is null for {task}")
            }
            Origin::Output(path) => format!("`output.{path}`, {}", self.ty.phrase()),
            Origin::Literal(text) => format!("`{text}`, {}", self.ty.phrase()),
            Origin::Other => self.ty.phrase().to_string(),
        }
    }
}

/// Where a boolean is needed, for the message.
#[derive(Clone, Copy)]
enum Needs {
    Condition,
    Operand(&'static str),
    Ternary,
    /// A branch of `? :` where its result is needed as true or false.
    Branch,
}

struct Checker<'p, 's> {
    program: &'p cel::Program,
    stage: Stage,
    scope: &'s ConditionScope<'s>,
    /// A goal's filter, over a recorded prediction, rather than a guardrail's condition.
    event: bool,
    /// Variables of the comprehensions around the part being typed, innermost last.
    bound: Vec<(String, Ty)>,
    /// What each part was typed as, by node.
    typed: HashMap<u64, Typed<'s>>,
    /// The interpreter's context, made when a part that reads nothing is evaluated.
    root: Option<cel::Context<'static, 'static>>,
    found: Vec<TypeError>,
}

/// Functions the interpreter knows (`cel::Env::stdlib()`), called as `f(x)`.
const GLOBAL_FUNCTIONS: &[&str] =
    &["size", "matches", "int", "uint", "double", "string", "bool", "bytes", "dyn", "type", "duration", "timestamp"];
/// ... and called on a value, as `x.f()`.
const MEMBER_FUNCTIONS: &[&str] = &[
    "size",
    "matches",
    "contains",
    "startsWith",
    "endsWith",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getFullYear",
    "getHours",
    "getMilliseconds",
    "getMinutes",
    "getMonth",
    "getSeconds",
];
/// Functions on optional values: not typed here, never refused.
const OPTIONAL_FUNCTIONS: &[&str] = &["hasValue", "value", "or", "orValue", "optMap", "optFlatMap"];
/// Macros, which the parser expands only when called as documented.
const MACROS: &[&str] = &["has", "all", "exists", "exists_one", "map", "filter"];

impl<'p, 's> Checker<'p, 's> {
    fn offset(&self, e: &IdedExpr) -> usize {
        self.program.source_info().offset_for(e.id).map(|(start, _)| start as usize).unwrap_or(0)
    }

    /// Where the text of `e` starts: its first operand's start for an operator, a selection
    /// or a call on a value, a function's name, its own place otherwise.
    fn start(&self, e: &IdedExpr) -> usize {
        match &e.expr {
            Expr::Select(s) if s.test => self.function_offset(e, "has"),
            Expr::Select(s) => self.start(&s.operand),
            Expr::Call(c) => match (&c.target, c.args.first()) {
                (Some(target), _) => self.start(target),
                (None, Some(first)) if c.func_name.starts_with('_') || c.func_name == operators::IN => {
                    self.start(first)
                }
                (None, _) if c.func_name.starts_with(|ch: char| ch.is_alphabetic()) => {
                    self.function_offset(e, &c.func_name)
                }
                (None, _) => self.offset(e),
            },
            _ => self.offset(e),
        }
    }

    /// Where a call's function name is written: the parser places the call at its `(`.
    fn function_offset(&self, e: &IdedExpr, name: &str) -> usize {
        let at = self.offset(e);
        let source = &self.program.source_info().source;
        match at.checked_sub(name.len()) {
            Some(start) if source.get(start..at) == Some(name) => start,
            _ => at,
        }
    }

    /// Where `.field` is written, at or after `e`'s place.
    fn field_offset(&self, e: &IdedExpr, field: &str) -> usize {
        let at = self.offset(e);
        let source = &self.program.source_info().source;
        let written = source.get(at..).and_then(|rest| rest.find(&format!(".{field}")));
        written.map_or(at, |found| at + found)
    }

    fn report(&mut self, node: &IdedExpr, offset: usize, claim: Claim, message: String, hint: Option<String>) {
        self.found.push(TypeError { node: node.id, offset, claim, message, hint });
    }

    /// `e` is used as true or false: a known type other than bool is a mistake. So are the
    /// branches of a `? :` used so, each of which is the result when it is chosen.
    fn need_bool(&mut self, e: &IdedExpr, t: &Typed, needs: Needs) {
        if let Expr::Call(call) = &e.expr
            && call.func_name == operators::CONDITIONAL
            && call.args.len() == 3
        {
            for branch in &call.args[1..] {
                let typed = self.typed.get(&branch.id).cloned().unwrap_or_else(Typed::dyn_);
                self.need_bool(branch, &typed, Needs::Branch);
            }
            return;
        }
        if matches!(t.ty, Ty::Bool | Ty::Dyn) {
            return;
        }
        let what = t.describe(self.scope.task);
        let message = match needs {
            Needs::Condition if t.ty == Ty::Mixed => "the condition never gives true or false".to_string(),
            Needs::Condition => format!("the condition gives {what}, not true or false"),
            Needs::Operand(op) => format!("`{op}` needs true or false, and this is {what}"),
            Needs::Ternary => format!("`? :` needs true or false before the `?`, and this is {what}"),
            Needs::Branch => {
                format!("this branch of `? :` is the condition's result, and it is {what}, not true or false")
            }
        };
        let hint = self.boolean_hint(t);
        self.report(e, self.start(e), Claim::NotBool, message, hint);
    }

    fn boolean_hint(&self, t: &Typed) -> Option<String> {
        if let Some((name, kind)) = t.feature() {
            return Some(match kind {
                FeatureKind::Number { .. } | FeatureKind::Integer { .. } => {
                    format!("compare it, e.g. `features.{name} > 0`")
                }
                FeatureKind::Category { categories } => format!(
                    "compare it, e.g. `features.{name} == \"{}\"`",
                    categories.first().map(String::as_str).unwrap_or("...")
                ),
                FeatureKind::Text { .. } => format!("compare it, e.g. `features.{name}.contains(\"...\")`"),
                FeatureKind::Boolean => return None,
            });
        }
        match &t.origin {
            Origin::Output(path) if t.ty == Ty::Null => self.null_output_hint(path),
            Origin::Output(path) if t.ty.is_number() => Some(format!("compare it, e.g. `output.{path} > 0.5`")),
            Origin::Output(path) if t.ty == Ty::Str => Some(format!("compare it, e.g. `output.{path} == \"...\"`")),
            _ => None,
        }
    }

    /// `output.label` of a regression, `output.value` of a classifier.
    fn null_output_hint(&self, path: &str) -> Option<String> {
        match (path, self.scope.task) {
            ("value", Some(Task::Binary | Task::Multiclass)) => {
                Some("a classifier's output has no value: use `output.score` or `output.probabilities.<label>`".into())
            }
            ("label", Some(Task::Regression)) => {
                Some("a regression output has no label: use `output.value` or `output.score`".into())
            }
            _ => None,
        }
    }

    fn ty(&mut self, e: &IdedExpr) -> Typed<'s> {
        let reported = self.found.len();
        let typed = self.infer(e);
        if self.found.len() == reported {
            self.fold(e);
        }
        self.typed.insert(e.id, typed.clone());
        typed
    }

    /// A call or a selection that reads nothing of the request is the same for every one:
    /// the interpreter evaluates it here, and when it fails (`1 / 0`, `int('x')`, a pattern
    /// `matches` cannot read, `duration('1x')`), it fails on every request.
    fn fold(&mut self, e: &IdedExpr) {
        if !matches!(e.expr, Expr::Call(_) | Expr::Select(_)) || !constant(e) {
            return;
        }
        let root = self.root.get_or_insert_with(cel::Context::default);
        let Err(error) = cel::Value::resolve(e, root) else { return };
        let error: Vec<String> = error.to_string().lines().map(|l| l.trim().to_string()).collect();
        let message = format!("this part fails whatever the request: {}", error.join(" "));
        self.report(e, self.start(e), Claim::Errors, message, None);
    }

    fn infer(&mut self, e: &IdedExpr) -> Typed<'s> {
        match &e.expr {
            Expr::Literal(literal) => literal_ty(literal),
            Expr::Ident(name) => {
                if let Some((_, ty)) = self.bound.iter().rev().find(|(n, _)| n == name) {
                    return Typed::of(ty.clone());
                }
                Typed::of(match name.as_str() {
                    "features" => Ty::Features,
                    "output" if self.stage == Stage::Output => Ty::Output,
                    "mode" | "variant" if self.event => Ty::Str,
                    "fallback" if self.event => Ty::Bool,
                    "rules" if self.event => Ty::List(Box::new(Ty::Str)),
                    "model" if self.event => Ty::Map(Box::new(Ty::Str), Box::new(Ty::Str)),
                    // `context`, and what `cel_check` refuses
                    _ => Ty::Dyn,
                })
            }
            Expr::Select(select) => {
                let operand = self.ty(&select.operand);
                // `has(m.f)` is false for a key `m` lacks, and errors only on what is not a map
                if select.test && (operand.ty.is_unknown() || operand.ty.is_map()) {
                    return Typed::of(Ty::Bool);
                }
                // `has(` is where the parser places a test: its `.field` is the part at fault
                let at = match select.test {
                    true => self.field_offset(e, &select.field),
                    false => self.offset(e),
                };
                let value = self.member(e, &operand, Key::Field(&select.field), at);
                match value {
                    Some(_) if select.test => Typed::of(Ty::Bool),
                    Some(value) => value,
                    None => Typed::dyn_(),
                }
            }
            Expr::Call(call) => self.call(e, call),
            Expr::Comprehension(c) => {
                let range = self.ty(&c.iter_range);
                let element = match &range.ty {
                    Ty::List(t) if **t == Ty::Never => Ty::Dyn,
                    Ty::List(t) => (**t).clone(),
                    Ty::Map(k, _) => (**k).clone(),
                    Ty::Record(_) => Ty::Str,
                    Ty::Features | Ty::Output | Ty::Probabilities => Ty::Str,
                    Ty::Dyn | Ty::Mixed => Ty::Dyn,
                    _ => {
                        let message = format!(
                            "a macro such as `exists` or `all` iterates over a list or a map, and this is {}",
                            range.describe(self.scope.task)
                        );
                        self.report(e, self.start(&c.iter_range), Claim::Errors, message, None);
                        Ty::Dyn
                    }
                };
                let init = self.ty(&c.accu_init);
                let pushed = 2 + usize::from(c.iter_var2.is_some());
                match &c.iter_var2 {
                    // two variables: an index or key, and a value
                    Some(second) => {
                        self.bound.push((c.iter_var.clone(), Ty::Dyn));
                        self.bound.push((second.clone(), Ty::Dyn));
                    }
                    None => self.bound.push((c.iter_var.clone(), element)),
                }
                // the accumulator's type: what it starts as, joined with what each step makes
                // of it until that no longer changes (a bool for `all` and `exists`, an int for
                // `exists_one`, a list for `map` and `filter`, whose elements a step decides);
                // only the last round reports
                let mut accumulator = init.ty.clone();
                let mut settled = false;
                for _ in 0..3 {
                    let reported = self.found.len();
                    self.bound.push((c.accu_var.clone(), accumulator.clone()));
                    let step = self.ty(&c.loop_step);
                    self.bound.pop();
                    self.found.truncate(reported);
                    let next = join(init.ty.clone(), step.ty);
                    settled = next == accumulator;
                    if settled {
                        break;
                    }
                    accumulator = next;
                }
                if !settled || accumulator.is_unknown() || accumulator == Ty::Never {
                    accumulator = Ty::Dyn;
                }
                self.bound.push((c.accu_var.clone(), accumulator));
                self.ty(&c.loop_cond);
                self.ty(&c.loop_step);
                let result = self.ty(&c.result);
                self.bound.truncate(self.bound.len() - pushed);
                Typed::of(result.ty)
            }
            Expr::List(list) => {
                let mut element: Option<Ty> = None;
                for item in &list.elements {
                    let t = self.ty(item).ty;
                    element = Some(match element {
                        Some(e) => join(e, t),
                        None => t,
                    });
                }
                if !list.optional_indices.is_empty() {
                    element = Some(Ty::Dyn);
                }
                Typed::of(Ty::List(Box::new(element.unwrap_or(Ty::Never))))
            }
            Expr::Map(map) => {
                let (mut keys, mut values): (Option<Ty>, Option<Ty>) = (None, None);
                // with every key a string literal, each field's own type
                let mut fields: Option<Vec<(String, Ty)>> = Some(Vec::new());
                for entry in &map.entries {
                    let EntryExpr::MapEntry(m) = &entry.expr else { continue };
                    let key = self.ty(&m.key);
                    if !(matches!(key.ty, Ty::Int | Ty::UInt | Ty::Bool | Ty::Str) || key.ty.is_unknown()) {
                        let message = format!(
                            "a map key is an int, a uint, a bool or a string, and this is {}",
                            key.describe(self.scope.task)
                        );
                        // the map fails to be made
                        self.report(e, self.start(&m.key), Claim::Errors, message, None);
                    }
                    let value = self.ty(&m.value).ty;
                    let value = if m.optional { Ty::Dyn } else { value };
                    fields = match (fields, &m.key.expr) {
                        (Some(mut fields), Expr::Literal(LiteralValue::String(k))) if !m.optional => {
                            let k = k.inner().to_string();
                            if fields.iter().any(|(f, _)| *f == k) {
                                let message = format!("the key \"{k}\" is given twice in this map");
                                self.report(e, self.start(&m.key), Claim::Errors, message, None);
                            }
                            fields.push((k, value.clone()));
                            Some(fields)
                        }
                        _ => None,
                    };
                    keys = Some(keys.map_or(key.ty.clone(), |k| join(k, key.ty)));
                    values = Some(values.map_or(value.clone(), |v| join(v, value)));
                }
                match fields {
                    Some(fields) if !fields.is_empty() => Typed::of(Ty::Record(fields)),
                    _ => Typed::of(Ty::Map(Box::new(keys.unwrap_or(Ty::Dyn)), Box::new(values.unwrap_or(Ty::Dyn)))),
                }
            }
            Expr::Struct(s) => {
                for entry in &s.entries {
                    if let EntryExpr::StructField(f) = &entry.expr {
                        self.ty(&f.value);
                    }
                }
                Typed::dyn_()
            }
            Expr::Unspecified => Typed::dyn_(),
        }
    }

    /// `operand.field` or `operand[key]`: the value, or `None` where it is certainly an error
    /// (reported at `at`, for `e`).
    fn member(&mut self, e: &IdedExpr, operand: &Typed<'s>, key: Key, at: usize) -> Option<Typed<'s>> {
        let name = key.name();
        match &operand.ty {
            Ty::Dyn | Ty::Mixed => Some(Typed::dyn_()),
            Ty::Map(_, value) => Some(Typed::of((**value).clone())),
            Ty::Record(fields) => match name {
                Some(name) => match fields.iter().find(|(f, _)| f == name) {
                    Some((_, ty)) => Some(Typed::of(ty.clone())),
                    None => {
                        let keys: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
                        let message = format!("this map has no key \"{name}\"");
                        let hint = format!("its keys: {}", keys.join(", "));
                        self.report(e, at, Claim::Errors, message, Some(hint));
                        None
                    }
                },
                None => Some(Typed::of(fields.iter().map(|(_, t)| t.clone()).reduce(join).unwrap_or(Ty::Dyn))),
            },
            Ty::Features => {
                let kind = name.and_then(|n| {
                    let features = self.scope.features.as_ref()?;
                    features.iter().find(|(f, _)| *f == n).and_then(|&(f, kind)| kind.map(|k| (f, k)))
                });
                if let (None, Key::Index(Some(name)), Some(features)) = (kind, key, &self.scope.features)
                    && !features.iter().any(|(f, _)| *f == name)
                {
                    let names: Vec<&str> = features.iter().map(|(f, _)| *f).collect();
                    let hint = match closest(name, names.iter().copied()) {
                        Some(near) => {
                            format!("did you mean `features.{near}`? declared features: {}", names.join(", "))
                        }
                        None => format!("declared features: {}", names.join(", ")),
                    };
                    self.report(e, at, Claim::Errors, format!("unknown feature `{name}` in condition"), Some(hint));
                    return None;
                }
                Some(match kind {
                    Some((name, kind)) => Typed { ty: kind_ty(kind), origin: Origin::Feature(name, kind) },
                    // a feature declared wrongly (reported there); `features.<unknown>` is
                    // `cel_check`'s to report
                    None => Typed::dyn_(),
                })
            }
            Ty::Output => {
                let Some(field) = name else { return Some(Typed::dyn_()) };
                let ty = match (field, self.scope.task) {
                    (_, None) => Ty::Dyn,
                    ("score", _) => Ty::Double,
                    ("label", Some(t)) if t.is_classification() => Ty::Str,
                    ("value", Some(t)) if !t.is_classification() => Ty::Double,
                    ("label" | "value", Some(_)) => Ty::Null,
                    ("probabilities", _) => Ty::Probabilities,
                    // unknown fields are `cel_check`'s to report
                    _ => Ty::Dyn,
                };
                Some(Typed { ty, origin: Origin::Output(field.to_string()) })
            }
            Ty::Probabilities => {
                let probability = Typed {
                    ty: Ty::Double,
                    origin: Origin::Output(format!("probabilities.{}", name.unwrap_or("<label>"))),
                };
                let Some(label) = name else { return Some(probability) };
                match (self.scope.task, self.scope.labels) {
                    (Some(Task::Regression), _) => {
                        let message =
                            format!("`output.probabilities` of a regression output is empty: it has no `{label}`");
                        let hint = Some("use `output.value`".to_string());
                        self.report(e, at, Claim::Errors, message, hint);
                        None
                    }
                    (Some(_), Some(labels)) if !labels.iter().any(|l| l == label) => {
                        let message = format!(
                            "`{label}` is not a label of this component, so `output.probabilities` has no `{label}`"
                        );
                        let hint = match closest(label, labels.iter().map(String::as_str)) {
                            Some(near) => {
                                format!("did you mean `output.probabilities.{near}`? labels: {}", labels.join(", "))
                            }
                            None => format!("labels: {}", labels.join(", ")),
                        };
                        self.report(e, at, Claim::Errors, message, Some(hint));
                        None
                    }
                    _ => Some(probability),
                }
            }
            other => {
                let what = operand.describe(self.scope.task);
                let message = match key {
                    Key::Field(field) => format!("`.{field}` selects a field of a map, and this is {what}"),
                    Key::Index(_) => format!("`[...]` indexes a list or a map, and this is {what}"),
                };
                let hint = match (&operand.origin, other) {
                    (Origin::Feature(f, _), _) => Some(format!("`features.{f}` is a value already: use it as it is")),
                    (_, Ty::Str) if matches!(key, Key::Index(_)) => {
                        Some("CEL does not index strings: test a part with `startsWith`, `endsWith`, `contains` or `matches`".into())
                    }
                    _ => None,
                };
                self.report(e, at, Claim::Errors, message, hint);
                None
            }
        }
    }

    fn call(&mut self, e: &IdedExpr, call: &cel::common::ast::CallExpr) -> Typed<'s> {
        let name = call.func_name.as_str();
        let args = &call.args;
        if call.target.is_none() {
            match (name, args.len()) {
                (operators::LOGICAL_AND | operators::LOGICAL_OR, 2) => {
                    let op = if name == operators::LOGICAL_AND { "&&" } else { "||" };
                    for arg in args {
                        let t = self.ty(arg);
                        self.need_bool(arg, &t, Needs::Operand(op));
                    }
                    return Typed::of(Ty::Bool);
                }
                (operators::LOGICAL_NOT, 1) => {
                    let t = self.ty(&args[0]);
                    self.need_bool(&args[0], &t, Needs::Operand("!"));
                    return Typed::of(Ty::Bool);
                }
                (operators::NOT_STRICTLY_FALSE, 1) => {
                    self.ty(&args[0]);
                    return Typed::of(Ty::Bool);
                }
                (operators::CONDITIONAL, 3) => {
                    let condition = self.ty(&args[0]);
                    self.need_bool(&args[0], &condition, Needs::Ternary);
                    let (then, otherwise) = (self.ty(&args[1]), self.ty(&args[2]));
                    return Typed::of(join(then.ty, otherwise.ty));
                }
                (operators::EQUALS | operators::NOT_EQUALS, 2) => {
                    // never an error: values of different types are unequal
                    self.ty(&args[0]);
                    self.ty(&args[1]);
                    return Typed::of(Ty::Bool);
                }
                (operators::LESS | operators::LESS_EQUALS | operators::GREATER | operators::GREATER_EQUALS, 2) => {
                    let (a, b) = (self.ty(&args[0]), self.ty(&args[1]));
                    self.order(e, name, &a, &b);
                    return Typed::of(Ty::Bool);
                }
                (
                    operators::ADD | operators::SUBSTRACT | operators::MULTIPLY | operators::DIVIDE | operators::MODULO,
                    2,
                ) => {
                    let (a, b) = (self.ty(&args[0]), self.ty(&args[1]));
                    return self.arithmetic(e, name, a, b);
                }
                (operators::NEGATE, 1) => {
                    let a = self.ty(&args[0]);
                    return match a.ty {
                        Ty::Int | Ty::Double => Typed::of(a.ty),
                        // an int or a double, whatever it is
                        Ty::Dyn | Ty::Mixed => Typed::of(Ty::Mixed),
                        _ => {
                            let message =
                                format!("`-` negates an int or a double, and this is {}", a.describe(self.scope.task));
                            self.report(e, self.offset(e), Claim::Errors, message, None);
                            Typed::dyn_()
                        }
                    };
                }
                (operators::IN, 2) => {
                    let (needle, container) = (self.ty(&args[0]), self.ty(&args[1]));
                    self.membership(e, &needle, &container);
                    return Typed::of(Ty::Bool);
                }
                (operators::INDEX, 2) => {
                    let (operand, index) = (self.ty(&args[0]), self.ty(&args[1]));
                    return self.index(e, &operand, &index, &args[1]);
                }
                (operators::OPT_INDEX | operators::OPT_SELECT, _) => {
                    for arg in args {
                        self.ty(arg);
                    }
                    return Typed::dyn_();
                }
                _ => {}
            }
        }
        self.function(e, call)
    }

    /// `a < b` and the other orderings.
    fn order(&mut self, e: &IdedExpr, op: &str, a: &Typed, b: &Typed) {
        let unordered = |t: &Ty| matches!(t, Ty::Null | Ty::List(_)) || t.is_map();
        let fine = match (&a.ty, &b.ty) {
            (x, y) if unordered(x) || unordered(y) => false,
            (x, y) if x.is_unknown() || y.is_unknown() => true,
            (x, y) if x.is_number() && y.is_number() => true,
            (x, y) => x == y,
        };
        if fine {
            return;
        }
        let op = symbol(op);
        let task = self.scope.task;
        let message = format!("`{op}` cannot compare {} with {}", appositive(a.describe(task)), b.describe(task));
        let hint = self.operand_hint(a, b, false);
        self.report(e, self.offset(e), Claim::Errors, message, hint);
    }

    /// `a + b` and the other arithmetic.
    fn arithmetic(&mut self, e: &IdedExpr, op: &str, a: Typed<'s>, b: Typed<'s>) -> Typed<'s> {
        let takes = |t: &Ty| match op {
            operators::ADD => matches!(t, Ty::Int | Ty::UInt | Ty::Double | Ty::Str | Ty::Bytes | Ty::List(_)),
            operators::MODULO => matches!(t, Ty::Int | Ty::UInt),
            _ => t.is_number(),
        };
        // no arithmetic gives a bool
        let result = match (&a.ty, &b.ty) {
            (x, y) if x.is_unknown() && y.is_unknown() => Some(Ty::Mixed),
            (u, t) | (t, u) if u.is_unknown() && takes(t) => Some(match t {
                Ty::List(_) => Ty::List(Box::new(Ty::Dyn)),
                t => t.clone(),
            }),
            (Ty::List(x), Ty::List(y)) if op == operators::ADD => {
                Some(Ty::List(Box::new(join((**x).clone(), (**y).clone()))))
            }
            (x, y) if x == y && takes(x) => Some(x.clone()),
            _ => None,
        };
        if let Some(ty) = result {
            // an int divided by a written 0 fails whatever the other side is (a double by 0.0
            // is infinite)
            let by_zero = matches!(op, operators::DIVIDE | operators::MODULO)
                && matches!(ty, Ty::Int | Ty::UInt)
                && matches!(b.literal(), Some("0" | "0u"));
            if by_zero {
                let message = format!("`{}` by 0 always fails: CEL refuses to divide an int by zero", symbol(op));
                self.report(e, self.offset(e), Claim::Errors, message, None);
            }
            return Typed::of(ty);
        }
        let symbol = symbol(op);
        let task = self.scope.task;
        let message = format!("`{symbol}` cannot combine {} and {}", appositive(a.describe(task)), b.describe(task));
        let hint = self.operand_hint(&a, &b, true).or_else(|| match op {
            operators::MODULO if a.ty == Ty::Double || b.ty == Ty::Double => {
                Some("`%` takes ints: CEL has no remainder of doubles".into())
            }
            operators::ADD if a.ty == Ty::Str || b.ty == Ty::Str => {
                Some("`+` joins two strings: convert the other with `string(...)`".into())
            }
            _ => None,
        });
        self.report(e, self.offset(e), Claim::Errors, message, hint);
        Typed::dyn_()
    }

    /// What to write instead, when two operands do not go together.
    fn operand_hint(&self, a: &Typed, b: &Typed, arithmetic: bool) -> Option<String> {
        for (x, other) in [(a, b), (b, a)] {
            if let Origin::Output(path) = &x.origin
                && x.ty == Ty::Null
            {
                return self.null_output_hint(path);
            }
            let Some((name, kind)) = x.feature() else { continue };
            match kind {
                FeatureKind::Category { categories } if other.ty.is_number() || other.ty == Ty::Bool => {
                    let example = categories.first().map(String::as_str).unwrap_or("...");
                    return Some(format!(
                        "`{name}` is a category: compare it with a string, e.g. `features.{name} == \"{example}\"`, or declare it as a number"
                    ));
                }
                FeatureKind::Text { .. } if other.ty.is_number() || other.ty == Ty::Bool => {
                    return Some(format!(
                        "`{name}` is a text: compare it with a string, or its length, e.g. `size(features.{name}) > 3`"
                    ));
                }
                FeatureKind::Boolean if !arithmetic => {
                    return Some(format!(
                        "`{name}` is a boolean: use it as it is, `features.{name}`, or negated, `!features.{name}`"
                    ));
                }
                FeatureKind::Number { .. } | FeatureKind::Integer { .. } if other.ty == Ty::Str => {
                    let noun = if kind_ty(kind) == Ty::Int { "an integer" } else { "a number" };
                    return Some(match other.literal().map(|l| l.trim_matches('"')) {
                        Some(text) if text.parse::<f64>().is_ok() => {
                            format!("`{name}` is {noun}: write `{text}` without quotes")
                        }
                        _ => format!("`{name}` is {noun}: compare it with a number, e.g. `features.{name} > 3`"),
                    });
                }
                _ => {}
            }
        }
        // int and double never mix in arithmetic
        if arithmetic {
            let int = [a, b].into_iter().find(|t| t.ty == Ty::Int);
            let double = [a, b].into_iter().any(|t| t.ty == Ty::Double);
            if let (Some(int), true) = (int, double) {
                let fix = match (&int.origin, int.literal()) {
                    (_, Some(text)) => format!("write `{text}.0`"),
                    (Origin::Feature(name, _), _) => {
                        format!("convert it, `double(features.{name})`, or declare `{name}` as a number")
                    }
                    _ => "convert the int with `double(...)`".into(),
                };
                return Some(format!("CEL does not mix int and double in arithmetic: {fix}"));
            }
        }
        None
    }

    /// `needle in container`.
    fn membership(&mut self, e: &IdedExpr, needle: &Typed, container: &Typed) {
        let fine = match &container.ty {
            Ty::List(_) | Ty::Dyn | Ty::Mixed => true,
            t if t.is_map() => !(matches!(needle.ty, Ty::Null | Ty::List(_)) || needle.ty.is_map()),
            _ => false,
        };
        if fine {
            return;
        }
        let task = self.scope.task;
        let message = if container.ty.is_map() {
            format!("`in` looks up a key of a map, and {} cannot be one", needle.describe(task))
        } else {
            format!("`in` tests membership of a list or a map, and this is {}", container.describe(task))
        };
        let hint = match (&container.ty, container.feature()) {
            (Ty::Str, Some((name, _))) => {
                Some(format!("for a part of a string, write `features.{name}.contains(\"...\")`"))
            }
            (Ty::Str, None) => {
                Some("for a part of a string, use `contains`, e.g. `features.<name>.contains(\"...\")`".into())
            }
            (t, _) if t.is_number() => Some("list the values, e.g. `x in [1, 2, 3]`".into()),
            _ => None,
        };
        self.report(e, self.offset(e), Claim::Errors, message, hint);
    }

    /// `operand[index]`.
    fn index(&mut self, e: &IdedExpr, operand: &Typed<'s>, index: &Typed, index_expr: &IdedExpr) -> Typed<'s> {
        let at = self.offset(e);
        let bad_key = matches!(index.ty, Ty::Null | Ty::List(_)) || index.ty.is_map();
        match &operand.ty {
            Ty::List(element) => {
                if index.ty.is_number() || index.ty.is_unknown() {
                    // an element of `[]` is out of bounds: whatever it is not
                    return Typed::of(if **element == Ty::Never { Ty::Dyn } else { (**element).clone() });
                }
                let message = format!("a list is indexed by a number, and this is {}", index.describe(self.scope.task));
                self.report(e, at, Claim::Errors, message, None);
                Typed::dyn_()
            }
            t if t.is_map() && bad_key => {
                let message =
                    format!("a map is indexed by a key, and {} cannot be one", index.describe(self.scope.task));
                self.report(e, at, Claim::Errors, message, None);
                Typed::dyn_()
            }
            Ty::Record(_) | Ty::Features | Ty::Output | Ty::Probabilities => match &index_expr.expr {
                Expr::Literal(LiteralValue::String(key)) => {
                    self.member(e, operand, Key::Index(Some(key.inner())), at).unwrap_or_else(Typed::dyn_)
                }
                _ if operand.ty == Ty::Probabilities => Typed::of(Ty::Double),
                _ => Typed::dyn_(),
            },
            _ => self.member(e, operand, Key::Index(None), at).unwrap_or_else(Typed::dyn_),
        }
    }

    /// A call of a function (not an operator).
    fn function(&mut self, e: &IdedExpr, call: &cel::common::ast::CallExpr) -> Typed<'s> {
        let name = call.func_name.as_str();
        let target = call.target.as_deref().map(|t| (t, self.ty(t)));
        let args: Vec<Typed<'s>> = call.args.iter().map(|a| self.ty(a)).collect();
        // `optional.of(x)`, and any call on a name that is not a variable (`cel_check`
        // refuses the name): not typed here
        if let Some((IdedExpr { expr: Expr::Ident(root), .. }, _)) = &target
            && !matches!(root.as_str(), "features" | "context" | "output")
            && !self.bound.iter().any(|(n, _)| n == root)
        {
            return Typed::dyn_();
        }
        if OPTIONAL_FUNCTIONS.contains(&name) {
            return Typed::dyn_();
        }
        let at = self.function_offset(e, name);
        let task = self.scope.task;
        // the value a function applies to: its target, or its first argument
        let (subject, rest): (Option<&Typed>, &[Typed]) = match &target {
            Some((_, t)) => (Some(t), &args[..]),
            None => (args.first(), args.get(1..).unwrap_or_default()),
        };
        let member = target.is_some();
        let known = if member { MEMBER_FUNCTIONS } else { GLOBAL_FUNCTIONS };
        if !known.contains(&name) {
            let (message, hint) = if MACROS.contains(&name) {
                (
                    format!("`{name}` is not used as the macro it is"),
                    Some(match name {
                        "has" => "write `has(context.key)`: one selection, tested for presence".to_string(),
                        _ => format!("write it on a list or a map, e.g. `[1, 2].{name}(x, x > 1)`"),
                    }),
                )
            } else if GLOBAL_FUNCTIONS.contains(&name) {
                (format!("`{name}` is called as `{name}(x)`, not on a value"), Some(format!("write `{name}(...)`")))
            } else if MEMBER_FUNCTIONS.contains(&name) {
                (
                    format!("`{name}` is called on a value, as `x.{name}(...)`"),
                    Some(format!("write e.g. `features.<name>.{name}(\"...\")`")),
                )
            } else {
                let all = GLOBAL_FUNCTIONS.iter().chain(MEMBER_FUNCTIONS).copied();
                // what other languages call the length, CEL calls `size`
                let length = closest(&name.to_lowercase(), ["length", "len", "count"]).map(|_| "size");
                let hint = match length.or_else(|| closest(name, all)) {
                    Some(near) => format!("did you mean `{near}`? the functions are: {}", GLOBAL_FUNCTIONS.join(", ")),
                    None => format!(
                        "the functions are: {}; called on a string: contains, startsWith, endsWith, matches, size",
                        GLOBAL_FUNCTIONS.join(", ")
                    ),
                };
                (format!("unknown function `{name}`"), Some(hint))
            };
            self.report(e, at, Claim::Errors, message, hint);
            return Typed::dyn_();
        }
        let getter = name.starts_with("get");
        // the arguments besides the subject: how many, and whether each must be a string
        let (fewest, most) = match name {
            "matches" | "contains" | "startsWith" | "endsWith" => (1, 1),
            _ if getter => (0, 1),
            _ => (0, 0),
        };
        if subject.is_none() || rest.len() < fewest || rest.len() > most {
            let wanted = most + usize::from(!member);
            let call = if member { format!("`.{name}()`") } else { format!("`{name}()`") };
            let message = format!("{call} takes {wanted} argument(s), here {}", args.len());
            self.report(e, at, Claim::Errors, message, None);
            return Typed::dyn_();
        }
        let subject = subject.expect("checked above");
        // `dyn` only tells a static checker to look away: the interpreter hands the value on
        if name == "dyn" {
            return subject.clone();
        }
        let gives = match name {
            "size" => Ty::Int,
            "matches" | "contains" | "startsWith" | "endsWith" => Ty::Bool,
            "int" => Ty::Int,
            "uint" => Ty::UInt,
            "double" => Ty::Double,
            "string" => Ty::Str,
            "bool" => Ty::Bool,
            "bytes" => Ty::Bytes,
            "dyn" | "type" | "duration" | "timestamp" => Ty::Dyn,
            _ => Ty::Int,
        };
        if let Some(wants) = subject_wanted(name, &subject.ty) {
            let call = if member { format!("`.{name}()`") } else { format!("`{name}()`") };
            let message = format!("{call} applies to {wants}, and this is {}", subject.describe(task));
            let hint = match (name, subject.feature()) {
                ("size", Some((f, k))) if k.is_numeric() => Some(format!(
                    "`{f}` is {} already: compare it directly, e.g. `features.{f} > 3`",
                    if kind_ty(k) == Ty::Bool { "true or false" } else { "a number" }
                )),
                ("int" | "double" | "uint", Some((f, FeatureKind::Boolean))) => {
                    Some(format!("for 1 or 0, write `features.{f} ? 1 : 0`"))
                }
                _ => None,
            };
            self.report(e, at, Claim::Errors, message, hint);
            return Typed::dyn_();
        }
        // a conversion of a category none of whose categories it reads
        if let (Some(categories), Some((f, _)), true) =
            (subject.strings(), subject.feature(), matches!(name, "int" | "uint" | "double" | "bool"))
        {
            let reads = |v: &str| match name {
                "int" => v.parse::<i64>().is_ok(),
                "uint" => v.parse::<u64>().is_ok(),
                "double" => v.parse::<f64>().is_ok(),
                _ => matches!(v, "1" | "t" | "true" | "TRUE" | "True" | "0" | "f" | "false" | "FALSE" | "False"),
            };
            if !categories.iter().any(|v| reads(v)) {
                let what = if name == "bool" { "true or false" } else { "a number" };
                let message =
                    format!("`{name}()` of feature `{f}` always fails: none of its categories reads as {what}");
                let hint = self.operand_hint(subject, &Typed::of(Ty::Int), false);
                self.report(e, at, Claim::Errors, message, hint);
                return Typed::dyn_();
            }
        }
        if let Some(wrong) = rest.iter().find(|t| !(t.ty == Ty::Str || t.ty.is_unknown())) {
            let message = format!("`{name}` takes a string argument, and this is {}", wrong.describe(task));
            let hint = wrong
                .feature()
                .filter(|(_, k)| k.is_numeric())
                .map(|(f, _)| format!("convert it, `string(features.{f})`"));
            self.report(e, at, Claim::Errors, message, hint);
            return Typed::dyn_();
        }
        // a pattern written out that the interpreter cannot read fails whatever it is matched to
        if name == "matches"
            && let Some(pattern) = call.args.last()
            && let Some(error) = self.pattern_error(pattern)
        {
            let message = format!("the pattern of `matches` is not one the interpreter reads: {error}");
            self.report(e, self.start(pattern), Claim::Errors, message, None);
            return Typed::dyn_();
        }
        Typed::of(gives)
    }

    /// Why the interpreter cannot read `pattern` as a regular expression, when it is written
    /// out (it reads nothing of the request).
    fn pattern_error(&mut self, pattern: &IdedExpr) -> Option<String> {
        if !constant(pattern) {
            return None;
        }
        let root = self.root.get_or_insert_with(cel::Context::default);
        let Ok(cel::Value::String(pattern)) = cel::Value::resolve(pattern, root) else { return None };
        let mut scope = root.new_inner_scope();
        scope.add_variable_from_value("pattern", (*pattern).clone());
        let probe = cel::Program::compile("''.matches(pattern)").ok()?;
        let error = probe.execute(&scope).err()?;
        Some(error.to_string().lines().map(str::trim).collect::<Vec<_>>().join(" "))
    }
}

/// What function `name` applies to, when `subject` (its target, or first argument) is not it.
fn subject_wanted(name: &str, subject: &Ty) -> Option<&'static str> {
    let fine = match name {
        _ if subject.is_unknown() => true,
        "size" => matches!(subject, Ty::Str | Ty::Bytes | Ty::List(_)) || subject.is_map(),
        "matches" | "contains" | "startsWith" | "endsWith" => *subject == Ty::Str,
        "int" | "uint" | "double" => subject.is_number() || *subject == Ty::Str,
        "string" => subject.is_number() || matches!(subject, Ty::Str | Ty::Bool | Ty::Bytes),
        "bool" => matches!(subject, Ty::Bool | Ty::Str),
        "bytes" => matches!(subject, Ty::Str | Ty::Bytes),
        "duration" => *subject == Ty::Str,
        "timestamp" => matches!(subject, Ty::Str | Ty::Int),
        "dyn" | "type" => true,
        // the getters apply to timestamps and durations, which are typed as anything here
        _ => false,
    };
    if fine {
        return None;
    }
    Some(match name {
        "size" => "a string, a list or a map",
        "matches" | "contains" | "startsWith" | "endsWith" => "a string",
        "int" | "uint" | "double" => "a number or a string",
        "string" => "a number, a bool, a string or bytes",
        "bool" => "a bool or a string",
        "bytes" => "a string or bytes",
        "duration" => "a string such as \"1h\"",
        "timestamp" => "a string or an int",
        _ => "a timestamp or a duration",
    })
}

/// Whether `e` reads nothing: no variable, no request value.
fn constant(e: &IdedExpr) -> bool {
    match &e.expr {
        Expr::Literal(_) => true,
        Expr::Ident(_) | Expr::Comprehension(_) | Expr::Struct(_) | Expr::Unspecified => false,
        Expr::Select(s) => constant(&s.operand),
        Expr::Call(c) => c.target.as_deref().is_none_or(constant) && c.args.iter().all(constant),
        Expr::List(l) => l.elements.iter().all(constant),
        Expr::Map(m) => m.entries.iter().all(|entry| match &entry.expr {
            EntryExpr::MapEntry(m) => constant(&m.key) && constant(&m.value),
            EntryExpr::StructField(_) => false,
        }),
    }
}

/// The key of a member access: `.field`, or `[key]` with a string literal (or not).
#[derive(Clone, Copy)]
enum Key<'k> {
    Field(&'k str),
    Index(Option<&'k str>),
}

impl<'k> Key<'k> {
    fn name(self) -> Option<&'k str> {
        match self {
            Key::Field(f) => Some(f),
            Key::Index(k) => k,
        }
    }
}

fn literal_ty<'a>(literal: &LiteralValue) -> Typed<'a> {
    let (ty, text) = match literal {
        LiteralValue::Boolean(b) => (Ty::Bool, b.inner().to_string()),
        LiteralValue::Bytes(_) => (Ty::Bytes, "b\"...\"".to_string()),
        LiteralValue::Double(d) => (Ty::Double, format!("{:?}", d.inner())),
        LiteralValue::Int(i) => (Ty::Int, i.inner().to_string()),
        LiteralValue::Null => (Ty::Null, "null".to_string()),
        LiteralValue::String(s) => (Ty::Str, format!("\"{}\"", s.inner())),
        LiteralValue::UInt(u) => (Ty::UInt, format!("{}u", u.inner())),
    };
    Typed { ty, origin: Origin::Literal(text) }
}

/// A description followed by more of the sentence: "feature `age`, an int," closes its
/// apposition with a comma.
fn appositive(description: String) -> String {
    if description.contains(", ") { description + "," } else { description }
}

/// An operator as written: `_<_` is `<`.
fn symbol(op: &str) -> &str {
    op.trim_matches('_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds() -> Vec<(&'static str, FeatureKind)> {
        vec![
            ("age", FeatureKind::Integer { min: None, max: None }),
            ("income", FeatureKind::Number { min: None, max: None }),
            ("vip", FeatureKind::Boolean),
            ("employment", FeatureKind::Category { categories: vec!["none".into(), "full_time".into()] }),
            ("message", FeatureKind::Text { max_length: 100 }),
        ]
    }

    fn labels() -> Vec<String> {
        vec!["legit".into(), "phishing".into()]
    }

    fn check_with(src: &str, stage: Stage, task: Option<Task>) -> Vec<TypeError> {
        let kinds = kinds();
        let labels = labels();
        let scope = ConditionScope {
            features: Some(kinds.iter().map(|(n, k)| (*n, Some(k))).collect()),
            task,
            labels: task.filter(|t| t.is_classification()).map(|_| labels.as_slice()),
        };
        let program = cel::Program::compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        type_errors(&program, stage, &scope)
    }

    fn check(src: &str) -> Vec<TypeError> {
        check_with(src, Stage::Output, Some(Task::Binary))
    }

    #[track_caller]
    fn accepted(src: &str) {
        let found = check(src);
        assert!(found.is_empty(), "`{src}` was refused: {found:#?}");
    }

    /// The one mistake in `src`, which must be placed at `at`, the first occurrence of it.
    #[track_caller]
    fn refused(src: &str, at: &str) -> TypeError {
        refused_with(src, at, Task::Binary)
    }

    #[track_caller]
    fn refused_with(src: &str, at: &str, task: Task) -> TypeError {
        let found = check_with(src, Stage::Output, Some(task));
        assert_eq!(found.len(), 1, "`{src}`: {found:#?}");
        let offset = src.find(at).unwrap_or_else(|| panic!("`{at}` not in `{src}`"));
        assert_eq!(found[0].offset, offset, "`{src}`: placed at {}, not at `{at}`", found[0].offset);
        found.into_iter().next().unwrap()
    }

    #[test]
    fn ordering_a_category_with_a_number_is_refused_at_the_operator_with_a_hint() {
        let e = refused("features.employment > 3", ">");
        assert_eq!(e.claim, Claim::Errors);
        assert_eq!(e.message, "`>` cannot compare feature `employment`, a category (string), with `3`, an int");
        assert_eq!(
            e.hint.as_deref(),
            Some(
                "`employment` is a category: compare it with a string, e.g. `features.employment == \"none\"`, or declare it as a number"
            )
        );
        refused("3 <= features.message", "<=");
        refused("features.vip < 1", "<");
        let e = refused("features.age >= '18'", ">=");
        assert_eq!(e.hint.as_deref(), Some("`age` is an integer: write `18` without quotes"));
        refused("null < features.income", "<");
        refused("[1] < [2]", "<");
        refused("features < features", "<");
    }

    #[test]
    fn numbers_order_across_int_uint_and_double_and_like_types_order() {
        for src in [
            "features.age > 3.5",
            "features.income > 3",
            "features.age < features.income",
            "features.age > 3u",
            "features.employment >= 'full'",
            "features.vip > false",
            "b'a' < b'b'",
        ] {
            accepted(src);
        }
    }

    #[test]
    fn equality_never_errors_so_it_is_never_refused() {
        for src in ["features.employment == 3", "features.vip != 'yes'", "null == features.age", "[1] == {'a': 1}"] {
            accepted(src);
        }
    }

    #[test]
    fn arithmetic_takes_two_values_of_one_type() {
        let e = refused("features.income + 1 > 2.0", "+");
        assert_eq!(e.message, "`+` cannot combine feature `income`, a number (double), and `1`, an int");
        assert_eq!(e.hint.as_deref(), Some("CEL does not mix int and double in arithmetic: write `1.0`"));
        let e = refused("features.age * 1.5 > 2.0", "*");
        assert!(e.hint.as_deref().unwrap().contains("`double(features.age)`"), "{e:?}");
        let e = refused("features.income % 2.0 == 0.0", "%");
        assert_eq!(e.hint.as_deref(), Some("`%` takes ints: CEL has no remainder of doubles"));
        refused("features.message + 1 == 'a1'", "+");
        refused("features.vip + features.vip", "+");
        refused("features.employment - 'a' == ''", "-");
        refused("1 + 1u == 2", "+");
        for src in [
            "features.age + 1 > 2",
            "features.income * 2.0 > 1.0",
            "features.age % 2 == 0",
            "features.message + '!' == 'a!'",
            "size([1] + ['a']) == 2",
            "double(features.age) * 1.5 > 2.0",
        ] {
            accepted(src);
        }
    }

    #[test]
    fn arithmetic_with_context_is_typed_by_the_other_side() {
        for src in
            ["context.a + 1 > 2", "context.a + context.b > 0", "context.a * 2.0 > 1.0", "'x' + context.a == 'xy'"]
        {
            accepted(src);
        }
        // no arithmetic gives true or false
        let e = refused("context.a + context.b", "context");
        assert_eq!(e.message, "the condition never gives true or false");
        // whatever `context.a` is, no `+` takes a bool, no `%` a double
        refused("context.a + true", "+");
        refused("context.a % 1.5 == 0.0", "%");
        // `context.a + 1` is an int whenever it is anything
        refused("context.a + 1 > 'a'", ">");
    }

    #[test]
    fn negation_takes_an_int_or_a_double() {
        refused("-features.employment == 'a'", "-");
        refused("-1u < 0u", "-");
        accepted("-features.age < 0 && -features.income < 0.0 && -context.a < 0");
    }

    #[test]
    fn a_value_used_as_true_or_false_must_be_a_bool() {
        let e = refused("features.age && true", "features");
        assert_eq!(e.claim, Claim::NotBool);
        assert_eq!(e.message, "`&&` needs true or false, and this is feature `age`, an integer (int)");
        assert_eq!(e.hint.as_deref(), Some("compare it, e.g. `features.age > 0`"));
        refused("true || features.message", "features");
        refused("!features.income", "features");
        refused("features.employment ? true : false", "features");
        let e = refused("features.age + 1", "features");
        assert_eq!(e.message, "the condition gives an int, not true or false");
        let e = refused("features.employment", "features");
        assert_eq!(e.hint.as_deref(), Some("compare it, e.g. `features.employment == \"none\"`"));
        // each branch of a `? :` whose result is the condition's is the result when chosen
        let e = refused("features.vip ? true : 1", "1");
        assert_eq!(e.claim, Claim::NotBool);
        assert_eq!(
            e.message,
            "this branch of `? :` is the condition's result, and it is `1`, an int, not true or false"
        );
        refused("features.vip || (features.vip ? 'a' : false)", "'a'");
        assert_eq!(check("true ? 1 : 2").len(), 2);
        assert_eq!(check("features.vip ? 1 : 'a'").len(), 2);
        refused("[1, 'a'][0]", "[");
        accepted("features.vip ? context.a : false");
        for src in ["features.vip", "!features.vip || context.flag", "context.a", "features.vip ? context.a : false"] {
            accepted(src);
        }
    }

    #[test]
    fn in_takes_a_list_or_a_map() {
        let e = refused("'bank' in features.message", "in");
        assert_eq!(e.hint.as_deref(), Some("for a part of a string, write `features.message.contains(\"...\")`"));
        refused("1 in features.age", "in");
        refused("[1] in {'a': 1}", "in");
        refused("null in features", "in");
        for src in [
            "features.age in [1, 2]",
            "features.employment in ['none', 1]",
            "features.employment in {'none': 1}",
            "1.5 in {'a': 1}",
            "'age' in features",
            "features.age in context.list",
            "[1] in context.x",
        ] {
            accepted(src);
        }
    }

    #[test]
    fn fields_and_indexes_are_of_maps_and_lists() {
        let e = refused("features.age.years > 3", ".years");
        assert_eq!(e.message, "`.years` selects a field of a map, and this is feature `age`, an integer (int)");
        refused("features.message[0] == 'a'", "[");
        refused("[1, 2]['a'] == 1", "['a']");
        refused("{'a': 1}[[1]] == 1", "[");
        refused("has(features.age.years)", ".years");
        let e = refused("features['agee'] > 3", "[");
        assert!(e.hint.as_deref().unwrap().contains("did you mean `features.age`?"), "{e:?}");
        // an index with a literal is typed as the field it names
        refused("features['employment'] > 3", ">");
        for src in [
            "{'a': 1}.a > 0",
            "[1, 2][0] + 1 > 0",
            "[1, 2][0.0] > 0",
            "context.a.b.c == 1",
            "context['a'][0] == 1",
            "has(context.a.b)",
            "has(features.age)",
            "features[context.name] == 1",
        ] {
            accepted(src);
        }
    }

    #[test]
    fn functions_take_the_arguments_of_their_overloads() {
        let e = refused("size(features.age) > 1", "size");
        assert_eq!(
            e.message,
            "`size()` applies to a string, a list or a map, and this is feature `age`, an integer (int)"
        );
        assert_eq!(e.hint.as_deref(), Some("`age` is a number already: compare it directly, e.g. `features.age > 3`"));
        refused("features.income.size() > 1", "size");
        refused("features.age.startsWith('1')", "startsWith");
        let e = refused("features.message.startsWith(features.age)", "startsWith");
        assert_eq!(e.hint.as_deref(), Some("convert it, `string(features.age)`"));
        refused("matches(features.vip, 'a')", "matches");
        let e = refused("int(features.vip) > 0", "int");
        assert_eq!(e.hint.as_deref(), Some("for 1 or 0, write `features.vip ? 1 : 0`"));
        refused("string([1]) == ''", "string");
        refused("features.message.size(1) > 0", "size");
        // `dyn()` hides no type from the interpreter
        refused("dyn(features.age) + 1.5 > 0.0", "+");
        let e = refused("int(features.employment) > 0", "int");
        assert_eq!(e.message, "`int()` of feature `employment` always fails: none of its categories reads as a number");
        refused("double('x') > 0.0", "double");
        refused("bool(features.employment)", "bool");
        accepted("int('12') > 0 && bool('true') && int(features.message) > 0");
        refused("size(features.message, 1) > 0", "size");
        refused("features.age.getHours() > 3", "getHours");
        for src in [
            "size(features.message) > 3",
            "features.message.size() > 3",
            "size(features) > 3",
            "size([1]) > 0 && size({'a': 1}) > 0",
            "features.message.matches('(?i)bank')",
            "matches(features.message, 'bank')",
            "features.message.contains('a') || features.message.endsWith('b')",
            "int(features.income) > 3 && double(features.age) > 2.5 && uint(features.age) > 2u",
            "string(features.age) == '3' && string(features.vip) == 'true'",
            "bool('true') && bytes('a') == b'a'",
            "dyn(features.age) + 1 > 0",
            "timestamp(context.t).getHours() > 3",
            "duration('1h') > duration(context.d)",
            "features.message.contains(context.word)",
        ] {
            accepted(src);
        }
    }

    #[test]
    fn a_part_that_reads_nothing_and_fails_is_refused() {
        let e = refused("features.vip || int('x') == 1", "int");
        assert_eq!(
            e.message,
            "this part fails whatever the request: Error executing function 'int': string parse error: invalid digit found in string"
        );
        let e = refused("features.vip || 1 / 0 == 1", "/");
        assert_eq!(e.message, "`/` by 0 always fails: CEL refuses to divide an int by zero");
        let e = refused("features.message.matches('(') || features.message.matches(string('a'))", "'('");
        assert!(e.message.starts_with("the pattern of `matches` is not one the interpreter reads: "), "{e:?}");
        assert!(e.message.contains("not a valid regex"), "{e:?}");
        refused("features.vip && duration('1x') > duration('1h')", "duration('1x')");
        refused("features.vip && [1][5] == 1", "[1]");
        refused("features.age / 0 > 1", "/");
        refused("context.n % 0 == 1", "%");
        for src in [
            "double(features.age) / 0.0 > 1.0",
            "features.income / 0.0 > 1.0",
            "duration('1h') > duration('1m')",
            "2 / 1 == 2",
        ] {
            accepted(src);
        }
    }

    #[test]
    fn unknown_functions_and_misused_ones_are_refused() {
        let e = refused("sise(features.message) > 3", "sise");
        assert!(e.message.contains("unknown function `sise`"), "{e:?}");
        assert!(e.hint.as_deref().unwrap().starts_with("did you mean `size`?"), "{e:?}");
        refused("contains(features.message, 'a')", "contains");
        refused("features.message.int() > 3", "int");
        refused("exists(features.message)", "exists");
        let e = refused("lenght(features.message) > 3", "lenght");
        assert!(e.hint.as_deref().unwrap().starts_with("did you mean `size`?"), "{e:?}");
    }

    #[test]
    fn the_output_is_typed_by_the_task() {
        let e = refused("output.value > 0.5", ">");
        assert_eq!(
            e.message,
            "`>` cannot compare `output.value`, which is null for a classifier, with `0.5`, a double"
        );
        assert_eq!(
            e.hint.as_deref(),
            Some("a classifier's output has no value: use `output.score` or `output.probabilities.<label>`")
        );
        refused("output.label < 1", "<");
        let e = refused("output.probabilities.phishng > 0.5", ".phishng");
        assert_eq!(e.hint.as_deref(), Some("did you mean `output.probabilities.phishing`? labels: legit, phishing"));
        refused("output.probabilities['nope'] > 0.5", "[");
        for src in [
            "output.score > 0.5",
            "output.label == 'phishing'",
            "output.probabilities.phishing > 0.5",
            "output.probabilities['legit'] > 0.5",
            "has(output.probabilities.nope)",
            "output.value == null",
            "output.probabilities.exists(l, output.probabilities[l] > 0.9)",
        ] {
            accepted(src);
        }
        let regression = |src: &str, at: &str| refused_with(src, at, Task::Regression);
        let e = regression("output.label > 'a'", ">");
        assert_eq!(e.hint.as_deref(), Some("a regression output has no label: use `output.value` or `output.score`"));
        regression("output.probabilities.x > 0.5", ".x");
        assert!(
            check_with("output.value > 1.0 && output.score < 2.0", Stage::Output, Some(Task::Regression)).is_empty()
        );
        // the task unknown: anything goes
        assert!(check_with("output.value > 1.0 && output.label > 'a'", Stage::Output, None).is_empty());
    }

    #[test]
    fn comprehensions_type_their_variables() {
        refused("[1, 2].exists(x, x > 'a')", ">");
        refused("features.age.exists(x, true)", "features");
        refused("['a'].all(s, s)", "s)");
        refused("[1, 2].map(x, x * 2)[0] > 'a'", ">");
        refused("[1, 2].filter(x, x > 1)[0] > 'a'", "> 'a'");
        for src in [
            "[1, 2].exists(x, x > features.age)",
            "['a', 'b'].all(s, features.message.startsWith(s))",
            "[1, 2].exists_one(x, x == 1)",
            "[1, 2].map(x, x * 2).size() > 1",
            "[1, 2].map(x, x * 2)[0] > 1",
            "[[1]].map(x, x + [2])[0][0] > 1",
            "[].map(x, x)[0] > 'a'",
            "[1, 2].filter(x, x > 1)[0] > 1",
            "features.exists(name, name == 'age')",
            "context.list.exists(x, x > 3)",
            "[].exists(x, x > 'a')",
            "[1, 2].exists(features, features > 1)",
        ] {
            accepted(src);
        }
    }

    #[test]
    fn map_keys_are_ints_uints_bools_or_strings() {
        refused("size({1.5: 'a'}) > 0", "1.5");
        accepted("size({1: 'a', 'b': 2, true: 3}) > 0");
    }

    #[test]
    fn a_map_written_with_string_keys_has_those_keys_each_with_its_type() {
        let e = refused("{'a': 1}.b > 0", ".b");
        assert_eq!(e.message, "this map has no key \"b\"");
        refused("{'a': 1}['b'] > 0", "[");
        refused("size({'a': 1, 'a': 2}) > 0", "'a': 2");
        refused("{'a': features.age, 'b': 'x'}.b > 3", ">");
        accepted("{'a': features.age, 'b': 'x'}.a > 3 && has({'a': 1}.b) && 'b' in {'a': 1}");
    }

    #[test]
    fn what_is_not_known_is_anything() {
        let kind = FeatureKind::Boolean;
        let scope =
            ConditionScope { features: Some(vec![("broken", None), ("ok", Some(&kind))]), task: None, labels: None };
        let program = cel::Program::compile("features.broken > 3 && features.ok && output.value > 'a'").unwrap();
        assert!(type_errors(&program, Stage::Output, &scope).is_empty());
        let program = cel::Program::compile("features.anything > 3").unwrap();
        assert!(type_errors(&program, Stage::Input, &ConditionScope::default()).is_empty());
    }

    #[test]
    fn the_functions_listed_are_the_interpreters() {
        // a function the interpreter knows errors on wrong arguments, not as an unknown name
        let context = cel::Context::default();
        for name in GLOBAL_FUNCTIONS {
            let program = cel::Program::compile(&format!("{name}()")).unwrap();
            let error = program.execute(&context).unwrap_err().to_string();
            assert!(!error.contains("Undeclared"), "{name}: {error}");
        }
        for name in MEMBER_FUNCTIONS {
            let program = cel::Program::compile(&format!("[].{name}(1, 2, 3)")).unwrap();
            let error = program.execute(&context).unwrap_err().to_string();
            assert!(!error.contains("Undeclared"), "{name}: {error}");
        }
        let program = cel::Program::compile("sise('a')").unwrap();
        assert!(program.execute(&context).unwrap_err().to_string().contains("Undeclared"));
    }
}
