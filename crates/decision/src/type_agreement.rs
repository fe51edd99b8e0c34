//! `rein check`'s type check of conditions (`rein_system::type_errors`) never disagrees with
//! the interpreter the decision path runs: over a corpus of conditions on the example
//! systems' features, evaluated on sample requests as the decision path evaluates them,
//!
//! - a condition it accepts gives true or false, or fails only through `context` (what
//!   `on_error` is for) or a value (a division by zero, an overflow, a probability of a
//!   declared output, which has none);
//! - for a condition it refuses, each part it names fails on every sample request (or, for
//!   a part used as true or false, is never a boolean), and when nothing around that part
//!   can skip or forgive it (`&&`, `||`, `?:`, a macro's loop), so does the whole condition.

use std::path::Path;

use cel::common::ast::{EntryExpr, Expr, IdedExpr, operators};
use rein_system::{Claim, Component, ConditionScope, FeatureKind, FeatureValue, OutputValue, Stage, Task, type_errors};
use serde_json::{Value as Json, json};

use crate::guardrails::{Scope, Variables, with_root};
use crate::model::ModelOutput;
use crate::output::Output;

const EXAMPLES: [&str; 4] = [
    include_str!("../../../examples/phishing-warning/rein.toml"),
    include_str!("../../../examples/audit-risk/rein.toml"),
    include_str!("../../../examples/legal-triage/rein.toml"),
    include_str!("../../../examples/smart-toaster/rein.toml"),
];

/// Conditions over any stage. `{i}`, `{n}`, `{b}`, `{c}`, `{t}` are the component's first
/// integer, number, boolean, category and text feature (`features.<name>`); `{cat}` is that
/// category's first category and `{name}` the first feature's name. A template naming a kind
/// the component does not have is skipped for it.
const CONDITIONS: &[&str] = &[
    // ordering
    "{c} > 3",
    "{c} < 'z'",
    "3 <= {t}",
    "{t} > 'a'",
    "{b} < 1",
    "{b} > false",
    "{b} < {c}",
    "{i} > 2",
    "{i} > 2.5",
    "{i} >= 2u",
    "{n} > 3",
    "{n} < 3.5",
    "{n} > {i}",
    "{i} < '3'",
    "{n} >= 'a'",
    "null < {n}",
    "{i} < null",
    "[1] < [2]",
    "features < features",
    "{'a': 1} > {'a': 1}",
    // equality: never an error
    "{c} == 3",
    "{c} == '{cat}'",
    "{b} == 1",
    "{b} != 'true'",
    "{n} == '3'",
    "{i} == 3.0",
    "null == {i}",
    "[1] == {'a': 1}",
    // arithmetic
    "{i} + 1 > 2",
    "{i} + 1.5 > 2.0",
    "{n} + 1 > 2.0",
    "{n} + 1.0 > 2.0",
    "{n} * {i} > 1.0",
    "double({i}) * {n} > 1.0",
    "{i} % 2 == 0",
    "{n} % 2.0 == 0.0",
    "{n} % 2 == 0",
    "{t} + 1 == 'a'",
    "{c} + '!' == 'a!'",
    "{t} + {c} == 'a'",
    "{b} + {b}",
    "{i} - 1u > 0",
    "{i} / 2 > 1",
    "{n} / 0.0 > 1.0",
    "{i} / 0 > 1",
    "{i} * {i} > 0",
    "size([1] + [{i}]) == 2",
    "[1] + 'a' == [1]",
    "-{i} < 0",
    "-{n} < 0.0",
    "-{c} == 'a'",
    "-{b}",
    "-1u < 0u",
    // true or false
    "{i} && true",
    "true || {n}",
    "{n} || true",
    "!{i}",
    "!{b}",
    "{b} ? {i} > 1 : {n} > 1.0",
    "{c} ? true : false",
    "{b} ? 1 : 'a'",
    "{b} ? true : 1",
    "{i}",
    "{i} + 1",
    "{c}",
    "{b}",
    "{b} || {i}",
    "false && {i}",
    "{b} && {c} == 'x'",
    "null",
    // membership
    "{i} in [1, 2, 3]",
    "{c} in ['{cat}', 'x']",
    "{c} in {'{cat}': 1}",
    "'a' in {t}",
    "1 in {i}",
    "[1] in {'a': 1}",
    "null in features",
    "'{name}' in features",
    "{i} in features",
    "{n} in [{i}, 2]",
    // fields and indexes
    "{i}.x > 3",
    "has({i}.x)",
    "has(features.{name})",
    "{t}[0] == 'a'",
    "{c}['a'] == 'a'",
    "features['{name}'] == features['{name}']",
    "features['nope'] == 1",
    "features['{name}'] > 'a' || true",
    "[1, 2]['a'] == 1",
    "[1, 2][0.0] == 1",
    "[1, 2][5] == 1",
    "{'a': 1}[[1]] == 1",
    "{'a': {i}}.a > 1",
    "{'a': {i}}.b > 1",
    // functions
    "size({t}) > 3",
    "size({c}) > 3",
    "size({i}) > 3",
    "size({b}) > 3",
    "{t}.size() > 3",
    "{n}.size() > 1",
    "size(features) > 1",
    "size({t}, 1) > 1",
    "{t}.startsWith('a')",
    "{i}.startsWith('1')",
    "{t}.startsWith({i})",
    "{c}.endsWith('e') || {c}.contains('o')",
    "{t}.matches('(?i)urgent')",
    "matches({t}, 'a')",
    "matches({i}, 'a')",
    "contains({t}, 'a')",
    "{t}.int() > 1",
    "int({b}) > 0",
    "int({n}) > 0",
    "int({c}) > 0",
    "double({i}) > 0.5",
    "uint({i}) >= 0u",
    "string({i}) == '1'",
    "string({b}) == 'true'",
    "string([1]) == ''",
    "string(null) == ''",
    "bool({c})",
    "bool({i})",
    "sise({t}) > 1",
    "lenght({t}) > 1",
    "{i}.getHours() > 1",
    "dyn({i}) + 1.5 > 0.0",
    "dyn({i}) + 1 > 0",
    "exists({t})",
    "lenght({t}) > 1",
    "{t}.matches('(')",
    "{t}.matches('[a-z')",
    "matches({c}, 'a|b')",
    "int('x') > 1",
    "int('12') > 1",
    "duration('1x') > duration('1h')",
    "duration('2h') > duration('1h')",
    "{b} || 1 / 0 == 1",
    "{i} / 0 > 1",
    "{i} % 0 == 1",
    "{n} / 0.0 > 1.0",
    "[1, 2][5] == 1",
    "{'a': 1, 'a': 2}.a == 1",
    // comprehensions
    "[1, 2].exists(x, x > {i})",
    "[1, 2].exists(x, x > 'a')",
    "['a'].all(s, {t}.startsWith(s) || true)",
    "['a'].all(s, s)",
    "{i}.exists(x, true)",
    "features.exists(k, k == '{name}')",
    "features.all(k, k > 1)",
    "[1, 2].map(x, x * {i}).size() > 1",
    "[1, 2].map(x, x * {i})[0] > 'a'",
    "[1, 2].filter(x, x > {i}).size() >= 0",
    "[1, 2].exists_one(x, x == {i})",
    "[].exists(x, x > 'a')",
    // map literals
    "size({1.5: 'a'}) > 0",
    "size({1: 'a', 'b': 2, true: 3}) > 0",
    "size({[1]: 1}) > 0",
    // context: unknown, so anything goes, and what it gives is typed where certain
    "context.n > 2",
    "context.n + 1 > {i}",
    "context.f * 2.0 > {n}",
    "has(context.domain) && context.domain in ['bank.example.org']",
    "context.domain in ['bank.example.org']",
    "context.flag && {b}",
    "context.flag",
    "context.list[0] == 1",
    "context.nested.a == 1",
    "context.missing > 1",
    "size(context.domain) > 3",
    "{c} == context.domain",
    "context.n > 2 || {c} > 3",
    "context.a + true",
    "context.a % 1.5 == 0.0",
    "context.n + 1 > 'a'",
    "context.n < null",
    "(context.n > 1) + 1 > 0",
    "timestamp(context.t).getHours() >= 0",
    "[1, 2].exists(x, x == context.n)",
];

/// Conditions of output rules: `{label}` is the component's first label (skipped for a
/// regression).
const OUTPUT_CONDITIONS: &[&str] = &[
    "output.score > 0.5",
    "output.score > 1",
    "output.score + 1 > 2.0",
    "output.score",
    "output.label == '{label}'",
    "output.label == 1",
    "output.label < 1",
    "output.label > 'a'",
    "output.label",
    "output.value > 0.5",
    "output.value == null",
    "output.value + 1.0 > 2.0",
    "output.value",
    "output.probabilities.{label} > 0.5",
    "output.probabilities.nope > 0.5",
    "has(output.probabilities.nope)",
    "output.probabilities['{label}'] > 0.5",
    "size(output.probabilities) > 1",
    "output.probabilities.exists(l, output.probabilities[l] > 0.9)",
    "{c} == output.label",
    "output.score > {n}",
    "output['score'] > 0.5",
];

/// `template` for `component`, or `None` when it names what the component lacks.
fn instantiate(template: &str, c: &Component) -> Option<String> {
    let mut text = template.to_string();
    for placeholder in ["{i}", "{n}", "{b}", "{c}", "{t}"] {
        if !text.contains(placeholder) {
            continue;
        }
        let feature = c.features.iter().find(|f| match placeholder {
            "{i}" => matches!(f.kind, FeatureKind::Integer { .. }),
            "{n}" => matches!(f.kind, FeatureKind::Number { .. }),
            "{b}" => matches!(f.kind, FeatureKind::Boolean),
            "{c}" => matches!(f.kind, FeatureKind::Category { .. }),
            _ => matches!(f.kind, FeatureKind::Text { .. }),
        })?;
        text = text.replace(placeholder, &format!("features.{}", feature.name));
    }
    if text.contains("{cat}") {
        let category = c.features.iter().find_map(|f| match &f.kind {
            FeatureKind::Category { categories } => categories.first(),
            _ => None,
        })?;
        text = text.replace("{cat}", category);
    }
    if text.contains("{label}") {
        text = text.replace("{label}", c.labels.first()?);
    }
    Some(text.replace("{name}", &c.features[0].name))
}

/// Values a request may give a feature, within its bounds.
fn samples(kind: &FeatureKind) -> Vec<FeatureValue> {
    match kind {
        FeatureKind::Number { min, max } => {
            let (lo, hi) = (min.unwrap_or(-1e6), max.unwrap_or(1e6));
            [lo, hi, (lo + hi) / 2.0, 1.5_f64.clamp(lo, hi)].map(FeatureValue::Number).to_vec()
        }
        FeatureKind::Integer { min, max } => {
            let (lo, hi) = (min.unwrap_or(-1_000_000), max.unwrap_or(1_000_000));
            [lo, hi, lo + (hi - lo) / 2, 1.clamp(lo, hi)].map(FeatureValue::Integer).to_vec()
        }
        FeatureKind::Boolean => vec![FeatureValue::Boolean(true), FeatureValue::Boolean(false)],
        FeatureKind::Category { categories } => categories.iter().cloned().map(FeatureValue::Text).collect(),
        FeatureKind::Text { .. } => ["", "urgent: court hearing tomorrow", "a question about my lease"]
            .map(|s| FeatureValue::Text(s.into()))
            .to_vec(),
    }
}

/// Sample requests' features: row `k` takes each feature's `k`-th sample, cycling.
fn rows(c: &Component) -> Vec<Vec<FeatureValue>> {
    let samples: Vec<Vec<FeatureValue>> = c.features.iter().map(|f| samples(&f.kind)).collect();
    let longest = samples.iter().map(Vec::len).max().unwrap_or(1);
    (0..longest).map(|k| samples.iter().map(|s| s[k % s.len()].clone()).collect()).collect()
}

fn contexts() -> Vec<Json> {
    vec![
        json!(null),
        json!({}),
        json!({"domain": "bank.example.org", "n": 3, "f": 1.5, "flag": true, "list": [1, 2], "nested": {"a": 1},
               "t": "2020-01-01T10:00:00Z", "missing": 2}),
        json!({"domain": 7, "n": 2.5, "flag": "yes", "list": "x", "nested": [1]}),
        json!("a string"),
        json!([1]),
    ]
}

/// The outputs an output rule may see: the model's, and a declared one (an override's, a
/// fallback's), which has no probabilities.
fn outputs(c: &Component) -> Vec<(Output, bool)> {
    let (model, declared) = match c.task {
        Task::Regression => (vec![ModelOutput::Value(90.0), ModelOutput::Value(-3.5)], OutputValue::Value(0.0)),
        _ => {
            let n = c.labels.len();
            let first: Vec<f64> = (0..n).map(|i| if i == 0 { 0.9 } else { 0.1 / (n - 1) as f64 }).collect();
            let even = vec![1.0 / n as f64; n];
            (
                vec![
                    ModelOutput::Class { label: c.labels[0].clone(), probabilities: first },
                    ModelOutput::Class { label: c.labels[n - 1].clone(), probabilities: even },
                ],
                OutputValue::Label(c.labels[n - 1].clone()),
            )
        }
    };
    let mut outputs: Vec<(Output, bool)> =
        model.iter().map(|m| (Output::from_model(c, m).expect("a finite output"), false)).collect();
    outputs.push((Output::declared(c, &declared), true));
    outputs
}

/// The node `id` in `e`, with the nodes above it, outermost first.
fn path_to<'e>(e: &'e IdedExpr, id: u64, above: &mut Vec<&'e IdedExpr>) -> Option<&'e IdedExpr> {
    if e.id == id {
        return Some(e);
    }
    above.push(e);
    for child in children(e) {
        if let Some(found) = path_to(child, id, above) {
            return Some(found);
        }
    }
    above.pop();
    None
}

fn children(e: &IdedExpr) -> Vec<&IdedExpr> {
    match &e.expr {
        Expr::Call(call) => call.target.as_deref().into_iter().chain(&call.args).collect(),
        Expr::Select(select) => vec![&select.operand],
        Expr::Comprehension(c) => vec![&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result],
        Expr::List(list) => list.elements.iter().collect(),
        Expr::Map(map) => map
            .entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                EntryExpr::MapEntry(m) => vec![&m.key, &m.value],
                EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        Expr::Struct(s) => s
            .entries
            .iter()
            .filter_map(|entry| match &entry.expr {
                EntryExpr::StructField(f) => Some(&f.value),
                EntryExpr::MapEntry(_) => None,
            })
            .collect(),
        _ => vec![],
    }
}

/// Whether evaluating `above[0]` always evaluates the node below `above`, and fails when it
/// fails: nothing on the way skips it or forgives its error.
fn strict(above: &[&IdedExpr], node: &IdedExpr) -> bool {
    let below = above.iter().skip(1).copied().chain([node]);
    above.iter().zip(below).all(|(parent, child)| match &parent.expr {
        Expr::Call(call) => match call.func_name.as_str() {
            operators::LOGICAL_AND | operators::LOGICAL_OR => false,
            operators::CONDITIONAL => call.args[0].id == child.id,
            _ => true,
        },
        Expr::Comprehension(c) => c.iter_range.id == child.id || c.accu_init.id == child.id,
        _ => true,
    })
}

/// An error that comes from a value, not a type: any request may meet it. NaN (`0.0 / 0.0`)
/// is not ordered, which the interpreter words as numbers without an overload.
fn value_error(error: &str) -> bool {
    let values = ["Division by zero", "Remainder by zero", "Overflow", "Index out of bounds", "string parse error"];
    let nan = ["(double, double)", "(int, double)", "(double, int)", "(uint, double)", "(double, uint)"];
    values.iter().chain(&nan).any(|e| error.contains(e))
}

#[test]
fn the_type_check_never_disagrees_with_the_interpreter() {
    let components: Vec<Component> = EXAMPLES
        .iter()
        .map(|text| rein_system::parse(text, Path::new("rein.toml")).expect("a valid example"))
        .flat_map(|system| system.components)
        .collect();
    let contexts = contexts();
    let (mut accepted, mut refused, mut evaluations) = (0, 0, 0);
    for c in &components {
        let rows = rows(c);
        let scope = ConditionScope::of(c);
        let outputs = outputs(c);
        let stages = CONDITIONS
            .iter()
            .flat_map(|t| [(t, Stage::Input), (t, Stage::Output)])
            .chain(OUTPUT_CONDITIONS.iter().map(|t| (t, Stage::Output)));
        for (template, stage) in stages {
            let Some(source) = instantiate(template, c) else { continue };
            let program = cel::Program::compile(&source).unwrap_or_else(|e| panic!("`{source}`: {e}"));
            let found = type_errors(&program, stage, &scope);
            let stage_outputs: Vec<Option<&(Output, bool)>> = match stage {
                Stage::Input => vec![None],
                Stage::Output => outputs.iter().map(Some).collect(),
            };
            if found.is_empty() {
                accepted += 1;
            } else {
                refused += 1;
            }
            for values in &rows {
                for context in &contexts {
                    for output in &stage_outputs {
                        evaluations += 1;
                        let vars = Variables::new(c, values, context);
                        with_root(|root| {
                            let scope = Scope::new(root, &vars, output.map(|(o, _)| o));
                            let whole = scope.evaluate(&program);
                            let request = format!("{values:?}, context {context}, output {output:?}");
                            if found.is_empty() {
                                let Err(error) = whole else { return };
                                let forgiven = source.contains("context")
                                    || value_error(&error)
                                    || (output.is_some_and(|(_, declared)| *declared)
                                        && source.contains("probabilities")
                                        && error.contains("No such key"));
                                assert!(
                                    forgiven,
                                    "accepted `{source}` ({stage:?}), and it fails on {request}: {error}"
                                );
                                return;
                            }
                            for wrong in &found {
                                let mut above = Vec::new();
                                let part = path_to(program.expression(), wrong.node, &mut above)
                                    .unwrap_or_else(|| panic!("`{source}`: no node {}", wrong.node));
                                let evaluated = scope.evaluate_part(part);
                                match wrong.claim {
                                    Claim::Errors => assert!(
                                        evaluated.is_err(),
                                        "refused `{source}` ({}), and that part gives {evaluated:?} on {request}",
                                        wrong.message
                                    ),
                                    Claim::NotBool => assert!(
                                        !matches!(evaluated, Ok(cel::Value::Bool(_))),
                                        "refused `{source}` ({}), and that part is a boolean on {request}",
                                        wrong.message
                                    ),
                                }
                                if strict(&above, part) {
                                    assert!(
                                        whole.is_err(),
                                        "refused `{source}` ({}), and it gives {whole:?} on {request}",
                                        wrong.message
                                    );
                                }
                            }
                        });
                    }
                }
            }
        }
    }
    // both sides of the line are well represented
    assert!(accepted > 400 && refused > 400, "{accepted} accepted, {refused} refused ({evaluations} evaluations)");
}
