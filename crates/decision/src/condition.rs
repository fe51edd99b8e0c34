//! Guardrail conditions compiled to a tree over the request's own values, for the part of
//! CEL that rules are mostly written in: comparisons, arithmetic, `&&`, `||`, `!`, `?:`,
//! `in` a list literal and `has()`, on features, context keys, output fields and literals.
//!
//! The `cel` interpreter stays the reference. [`Compiled::eval`] answers only where it is
//! certain the interpreter would give the same `true` or `false`; an error, a type it does
//! not model or an expression outside the subset gives `None`, and the caller asks the
//! interpreter, which also words the error. So this can make a rule faster, never different
//! (`tests::agrees_with_the_interpreter` checks that against the interpreter).

use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};
use rein_system::{Component, FeatureValue};
use serde_json::Value as Json;

use crate::output::Output;

/// A condition compiled for one component; `None` from [`Compiled::new`] when it uses
/// anything outside the subset.
#[derive(Debug)]
pub(crate) struct Compiled(Node);

/// What one request offers a condition.
pub(crate) struct Env<'a> {
    /// The component's features in schema order.
    pub values: &'a [FeatureValue],
    pub context: &'a Json,
    /// Only at the output stage.
    pub output: Option<&'a Output>,
}

#[derive(Debug)]
enum Node {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(String),
    Feature(usize),
    /// `context.a.b`: the keys from `context` down.
    Context(Vec<String>),
    /// `has(context.a.b)`: the keys down to the one tested, which is last.
    HasContext(Vec<String>),
    Label,
    Score,
    Value,
    Probability(String),
    Not(Box<Node>),
    Negate(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Ternary(Box<Node>, Box<Node>, Box<Node>),
    Compare(Cmp, Box<Node>, Box<Node>),
    Arith(Op, Box<Node>, Box<Node>),
    In(Box<Node>, Vec<Node>),
}

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum V<'a> {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(&'a str),
}

impl Compiled {
    pub(crate) fn new(expr: &IdedExpr, component: &Component) -> Option<Self> {
        compile(expr, component).map(Compiled)
    }

    /// `Some` only when the interpreter would give the same boolean.
    pub(crate) fn eval(&self, env: &Env) -> Option<bool> {
        match eval(&self.0, env)? {
            V::Bool(b) => Some(b),
            _ => None,
        }
    }
}

fn boxed(e: &IdedExpr, c: &Component) -> Option<Box<Node>> {
    compile(e, c).map(Box::new)
}

fn compile(e: &IdedExpr, c: &Component) -> Option<Node> {
    match &e.expr {
        Expr::Literal(LiteralValue::Int(i)) => Some(Node::Int(*i.inner())),
        Expr::Literal(LiteralValue::Double(d)) => Some(Node::Double(*d.inner())),
        Expr::Literal(LiteralValue::Boolean(b)) => Some(Node::Bool(*b.inner())),
        Expr::Literal(LiteralValue::String(s)) => Some(Node::Str(s.inner().to_string())),
        Expr::Select(select) => {
            let mut path = vec![select.field.clone()];
            let mut operand = &select.operand.expr;
            while let Expr::Select(inner) = operand {
                if inner.test {
                    return None;
                }
                path.push(inner.field.clone());
                operand = &inner.operand.expr;
            }
            path.reverse();
            let Expr::Ident(root) = operand else { return None };
            match (root.as_str(), select.test, path.as_slice()) {
                ("context", false, _) => Some(Node::Context(path)),
                ("context", true, _) => Some(Node::HasContext(path)),
                ("features", false, [name]) => c.features.iter().position(|f| &f.name == name).map(Node::Feature),
                ("output", false, [field]) => match field.as_str() {
                    "label" => Some(Node::Label),
                    "score" => Some(Node::Score),
                    "value" => Some(Node::Value),
                    _ => None,
                },
                ("output", false, [probabilities, label]) if probabilities == "probabilities" => {
                    Some(Node::Probability(label.clone()))
                }
                _ => None,
            }
        }
        Expr::Call(call) if call.target.is_none() => {
            let args = &call.args;
            let compare = |cmp: Cmp| binary_with(args, c, move |a, b| Node::Compare(cmp, a, b));
            let arith = |op: Op| binary_with(args, c, move |a, b| Node::Arith(op, a, b));
            match call.func_name.as_str() {
                operators::LOGICAL_AND => binary_with(args, c, Node::And),
                operators::LOGICAL_OR => binary_with(args, c, Node::Or),
                operators::LOGICAL_NOT => match args.as_slice() {
                    [a] => Some(Node::Not(boxed(a, c)?)),
                    _ => None,
                },
                operators::NEGATE => match args.as_slice() {
                    [a] => Some(Node::Negate(boxed(a, c)?)),
                    _ => None,
                },
                operators::CONDITIONAL => match args.as_slice() {
                    [a, b, d] => Some(Node::Ternary(boxed(a, c)?, boxed(b, c)?, boxed(d, c)?)),
                    _ => None,
                },
                operators::EQUALS => compare(Cmp::Eq),
                operators::NOT_EQUALS => compare(Cmp::Ne),
                operators::LESS => compare(Cmp::Lt),
                operators::LESS_EQUALS => compare(Cmp::Le),
                operators::GREATER => compare(Cmp::Gt),
                operators::GREATER_EQUALS => compare(Cmp::Ge),
                operators::ADD => arith(Op::Add),
                operators::SUBSTRACT => arith(Op::Sub),
                operators::MULTIPLY => arith(Op::Mul),
                operators::DIVIDE => arith(Op::Div),
                operators::MODULO => arith(Op::Rem),
                operators::IN => match args.as_slice() {
                    [needle, IdedExpr { expr: Expr::List(list), .. }] if list.optional_indices.is_empty() => {
                        let items = list.elements.iter().map(|e| compile(e, c)).collect::<Option<Vec<_>>>()?;
                        Some(Node::In(boxed(needle, c)?, items))
                    }
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

fn binary_with(args: &[IdedExpr], c: &Component, make: impl FnOnce(Box<Node>, Box<Node>) -> Node) -> Option<Node> {
    match args {
        [a, b] => Some(make(boxed(a, c)?, boxed(b, c)?)),
        _ => None,
    }
}

fn eval<'a>(node: &'a Node, env: &Env<'a>) -> Option<V<'a>> {
    Some(match node {
        Node::Int(i) => V::Int(*i),
        Node::Double(d) => V::Double(*d),
        Node::Bool(b) => V::Bool(*b),
        Node::Str(s) => V::Str(s),
        Node::Feature(i) => match env.values.get(*i)? {
            FeatureValue::Number(x) => V::Double(*x),
            FeatureValue::Integer(x) => V::Int(*x),
            FeatureValue::Boolean(x) => V::Bool(*x),
            FeatureValue::Text(x) => V::Str(x),
        },
        Node::Context(path) => json(lookup(env.context, path)?)?,
        Node::HasContext(path) => {
            let (tested, parents) = path.split_last()?;
            match lookup(env.context, parents)? {
                Json::Object(map) => V::Bool(map.contains_key(tested)),
                // an absent context is an empty map to the interpreter
                Json::Null if parents.is_empty() => V::Bool(false),
                _ => return None,
            }
        }
        Node::Label => V::Str(env.output?.label.as_deref()?),
        Node::Score => V::Double(env.output?.score?),
        Node::Value => V::Double(env.output?.value?),
        Node::Probability(label) => {
            let probabilities = env.output?.probabilities.as_ref()?;
            V::Double(probabilities.iter().find(|(l, _)| l == label)?.1)
        }
        Node::Not(a) => V::Bool(!bool(eval(a, env)?)?),
        Node::Negate(a) => match eval(a, env)? {
            V::Int(i) => V::Int(i.checked_neg()?),
            V::Double(d) => V::Double(-d),
            _ => return None,
        },
        // the interpreter's short cut: a decided left side decides, whatever the right is
        Node::And(a, b) => match bool(eval(a, env)?)? {
            false => V::Bool(false),
            true => V::Bool(bool(eval(b, env)?)?),
        },
        Node::Or(a, b) => match bool(eval(a, env)?)? {
            true => V::Bool(true),
            false => V::Bool(bool(eval(b, env)?)?),
        },
        Node::Ternary(cond, then, otherwise) => {
            if bool(eval(cond, env)?)? {
                eval(then, env)?
            } else {
                eval(otherwise, env)?
            }
        }
        Node::Compare(cmp, a, b) => {
            let (a, b) = (eval(a, env)?, eval(b, env)?);
            V::Bool(match cmp {
                Cmp::Eq => equal(a, b)?,
                Cmp::Ne => !equal(a, b)?,
                Cmp::Lt => order(a, b)?.is_lt(),
                Cmp::Le => order(a, b)?.is_le(),
                Cmp::Gt => order(a, b)?.is_gt(),
                Cmp::Ge => order(a, b)?.is_ge(),
            })
        }
        Node::Arith(op, a, b) => match (eval(a, env)?, eval(b, env)?) {
            (V::Int(x), V::Int(y)) => V::Int(match op {
                Op::Add => x.checked_add(y)?,
                Op::Sub => x.checked_sub(y)?,
                Op::Mul => x.checked_mul(y)?,
                Op::Div => x.checked_div(y)?,
                Op::Rem => x.checked_rem(y)?,
            }),
            (V::Double(x), V::Double(y)) => V::Double(match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div if y != 0.0 => x / y,
                _ => return None,
            }),
            _ => return None,
        },
        Node::In(needle, items) => {
            let needle = eval(needle, env)?;
            let mut found = false;
            for item in items {
                found |= equal(needle, eval(item, env)?)?;
            }
            V::Bool(found)
        }
    })
}

fn bool(v: V) -> Option<bool> {
    match v {
        V::Bool(b) => Some(b),
        _ => None,
    }
}

/// Numbers compare across int and double as the interpreter does; NaN is left to it.
fn order(a: V, b: V) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (V::Int(x), V::Int(y)) => Some(x.cmp(&y)),
        (V::Int(x), V::Double(y)) => (x as f64).partial_cmp(&y),
        (V::Double(x), V::Int(y)) => x.partial_cmp(&(y as f64)),
        (V::Double(x), V::Double(y)) => x.partial_cmp(&y),
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn equal(a: V, b: V) -> Option<bool> {
    match (a, b) {
        (V::Bool(x), V::Bool(y)) => Some(x == y),
        (V::Str(x), V::Str(y)) => Some(x == y),
        _ => order(a, b).map(|o| o.is_eq()),
    }
}

fn lookup<'a>(mut value: &'a Json, path: &[String]) -> Option<&'a Json> {
    for key in path {
        value = value.as_object()?.get(key)?;
    }
    Some(value)
}

/// A context value as the interpreter reads JSON (integers stay integers); others are left to it.
fn json(value: &Json) -> Option<V<'_>> {
    match value {
        Json::Bool(b) => Some(V::Bool(*b)),
        Json::String(s) => Some(V::Str(s)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Some(V::Int(i)),
            None if n.is_f64() => n.as_f64().map(V::Double),
            None => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::{Scope, Variables, with_root};
    use serde_json::json;
    use std::path::Path;

    const EXAMPLE: &str = include_str!("../../../examples/phishing-warning/rein.toml");

    fn component() -> Component {
        let system = rein_system::parse(EXAMPLE, Path::new("rein.toml")).expect("the example is valid");
        system.components.into_iter().next().expect("one component")
    }

    /// The interpreter's answer, as the decision path asks it.
    fn interpreted(c: &Component, program: &cel::Program, env: &Env) -> Result<bool, String> {
        let vars = Variables::new(c, env.values, env.context);
        with_root(|root| Scope::new(root, &vars, env.output).evaluate(program))
    }

    const CONDITIONS: &[&str] = &[
        "features.url_length > 2000 || features.num_subdomains > 10",
        "features.num_dots + features.num_hyphens > features.url_length",
        "has(context.domain) && context.domain in ['accounts.example.com', 'bank.example.org']",
        "context.domain in ['bank.example.org']",
        "output.label == 'phishing' && features.domain_age_days > 3650",
        "output.score >= 0.5",
        "output.value < 10.0",
        "output.value < 10",
        "output.probabilities.phishing > 0.8",
        "output.probabilities.nope > 0.8",
        "features.url_length - features.num_dots * 2 == 130",
        "features.url_length / features.num_dots == 23",
        "features.url_length % features.num_dots == 4",
        "features.num_hyphens / features.num_dots < 0",
        "features.num_hyphens % features.num_dots < 0",
        "features.url_length / 0 == 1",
        "features.url_length % 0 == 1",
        "-features.num_hyphens < 0",
        "-features.domain_age_days < 0.0",
        "!features.has_ip_host",
        "!features.url_length",
        "features.has_ip_host ? features.url_length > 100 : features.url_length < 100",
        "features.url_length > 100 ? 'a' == 'a' : 1",
        "features.has_ip_host == true",
        "features.has_ip_host != features.uses_https",
        "features.tld_category == 'new_gtld'",
        "features.tld_category != 'com'",
        "features.tld_category < 'z'",
        "features.tld_category >= 'new'",
        "features.tld_category + 'x' == 'new_gtldx'",
        "features.domain_age_days > 2",
        "features.domain_age_days == 2.5",
        "features.domain_age_days == 3",
        "features.domain_age_days != 3",
        "features.url_length == 142.0",
        "features.url_length > 1.5",
        "features.num_subdomains > 1.0",
        "features.num_subdomains == features.num_subdomains",
        "features.num_subdomains != 1",
        "context.n > 2",
        "context.f * 2.0 == 3.0",
        "context.f / 0.0 > 1.0",
        "context.big > 1",
        "context.nested.a == 1",
        "has(context.nested.a)",
        "has(context.nested.b)",
        "has(context.n)",
        "has(context.flag.x)",
        "context.flag && true",
        "context.nothing == null",
        "context.list[0] == 1",
        "context.missing == 1",
        "features.url_length + 9223372036854775807 > 0",
        "features.url_length * features.url_length > 0",
        "1 in [1, 2.0, 'a']",
        "'a' in ['a', 1]",
        "features.url_length in [142, 143]",
        "features.url_length in [142.0, 7]",
        "features.tld_category in ['com', 'new_gtld']",
        "false && features.url_length / 0 == 1",
        "true || features.url_length / 0 == 1",
        "features.url_length / 0 == 1 || true",
        "features.url_length / 0 == 1 && false",
        "features.url_length / 0 == 1 || false",
        "features.url_length > 'a'",
        "features.has_ip_host > false",
        "features.tld_category == 1",
        "size(features.tld_category) > 2",
        "features.url_length",
        "1.0 / 0.0 > 1.0",
        "2.0 % 1.0 == 0.0",
        "[1, 2].exists(x, x > features.num_dots)",
        "2.5 - features.domain_age_days <= 0.0",
    ];

    #[test]
    fn agrees_with_the_interpreter() {
        let c = component();
        let row = |url: i64, dots: i64, hyphens: i64, ip: bool, age: FeatureValue, subs: FeatureValue, tld: &str| {
            vec![
                FeatureValue::Integer(url),
                FeatureValue::Integer(dots),
                FeatureValue::Integer(hyphens),
                FeatureValue::Boolean(ip),
                FeatureValue::Boolean(!ip),
                age,
                subs,
                FeatureValue::Integer(3),
                FeatureValue::Text(tld.into()),
            ]
        };
        let rows = [
            row(142, 6, 4, true, FeatureValue::Integer(3), FeatureValue::Integer(4), "new_gtld"),
            row(i64::MAX, -5, i64::MIN, false, FeatureValue::Number(2.5), FeatureValue::Number(f64::NAN), ""),
            row(0, 0, -7, true, FeatureValue::Number(-0.0), FeatureValue::Number(1.0), "com"),
        ];
        let contexts = [
            json!(null),
            json!({}),
            json!({"domain": "bank.example.org", "n": 3, "f": 1.5, "big": 18446744073709551615u64,
                   "nested": {"a": 1}, "flag": true, "nothing": null, "list": [1, 2]}),
            json!({"domain": 7, "nested": "x", "flag": "yes", "n": 2.0}),
            json!("a string"),
            json!([1]),
        ];
        let outputs = [
            None,
            Some(Output {
                label: Some("phishing".into()),
                label_name: None,
                score: Some(0.9),
                probabilities: Some(vec![("legit".into(), 0.1), ("phishing".into(), 0.9)]),
                value: None,
            }),
            Some(Output { label: None, label_name: None, score: None, probabilities: None, value: Some(3.0) }),
        ];
        let (mut fast, mut total) = (0, 0);
        for source in CONDITIONS {
            let program = cel::Program::compile(source).unwrap_or_else(|e| panic!("{source}: {e}"));
            let Some(compiled) = Compiled::new(program.expression(), &c) else { continue };
            for values in &rows {
                for context in &contexts {
                    for output in &outputs {
                        let env = Env { values, context, output: output.as_ref() };
                        total += 1;
                        if let Some(answer) = compiled.eval(&env) {
                            fast += 1;
                            let reference = interpreted(&c, &program, &env);
                            assert_eq!(
                                reference,
                                Ok(answer),
                                "`{source}` with {values:?}, context {context}, output {output:?}"
                            );
                        }
                    }
                }
            }
        }
        // the compiled path must actually carry most cases, or it is not worth having
        assert!(fast * 3 > total, "compiled answers {fast} of {total}");
    }

    #[test]
    fn the_example_rules_compile() {
        let c = component();
        for rule in &c.guardrails {
            let compiled = Compiled::new(rule.condition.program.expression(), &c);
            let compiled = compiled.unwrap_or_else(|| panic!("{} does not compile", rule.name));
            // a usual request: no context, a model output at the output stage
            let values = [142, 6, 4].map(FeatureValue::Integer).into_iter().chain([
                FeatureValue::Boolean(false),
                FeatureValue::Boolean(true),
                FeatureValue::Integer(3),
                FeatureValue::Integer(1),
                FeatureValue::Integer(0),
                FeatureValue::Text("com".into()),
            ]);
            let values: Vec<FeatureValue> = values.collect();
            let output = Output {
                label: Some("legit".into()),
                label_name: None,
                score: Some(0.2),
                probabilities: None,
                value: None,
            };
            let env = Env { values: &values, context: &Json::Null, output: Some(&output) };
            assert!(compiled.eval(&env).is_some(), "{} is left to the interpreter", rule.name);
        }
    }

    #[test]
    fn outside_the_subset_nothing_is_compiled() {
        let c = component();
        for source in
            ["size(features.tld_category) > 2", "context.list[0] == 1", "[1].exists(x, x > 0)", "null == null"]
        {
            let program = cel::Program::compile(source).unwrap();
            assert!(Compiled::new(program.expression(), &c).is_none(), "{source}");
        }
    }
}
