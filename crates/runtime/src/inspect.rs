//! What a model file says about the component that would serve it, read from its graph
//! without running it: its inputs (names, element types, widths), the categories the
//! encoder of each input knows, which inputs are read as text, its class labels and
//! whether it is a regressor. `rein init` drafts a system file from it ([`draft`]); the
//! load-time warnings compare it with what the system file declares.
//!
//! Pure: the graph as decoded by `proto`, no ONNX Runtime.

use std::collections::HashMap;
use std::path::Path;

use rein_system::{FeatureKind, Task};

use crate::RuntimeError;
use crate::proto::{self, AttributeProto, ModelProto, NodeProto, TensorProto, ValueInfoProto};

/// An encoder of the graph that reads one model input, and what it knows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Encoder {
    /// `OneHotEncoder`, `LabelEncoder` or `CategoryMapper`.
    pub op: String,
    pub categories: Categories,
    pub unknown: Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Categories {
    Strings(Vec<String>),
    Ints(Vec<i64>),
}

/// What the encoder makes of a value it does not know.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Unknown {
    /// A row of zeros (OneHotEncoder with `zeros = 1`).
    Zeros,
    /// An error: ONNX Runtime fails the call (OneHotEncoder with `zeros = 0`).
    Fails,
    /// The encoder's default value (LabelEncoder, CategoryMapper).
    Default(String),
}

impl Unknown {
    /// What the encoder does with `it` (a value it does not know), to follow "it".
    pub(crate) fn describe(&self, it: &str) -> String {
        match self {
            Unknown::Zeros => format!("encodes {it} as all zeros"),
            Unknown::Fails => format!("fails on {it} (the encoder has `zeros = 0`): such a request gets the fallback"),
            Unknown::Default(v) => format!("encodes {it} as its default, `{v}`"),
        }
    }
}

/// How the graph reads one of its inputs, where an operator says what its values are.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct InputUse {
    /// The first encoder that reads the input's values alone.
    pub encoder: Option<Encoder>,
    /// The first text operator (StringNormalizer, Tokenizer, TfIdfVectorizer) that reads it.
    pub text: Option<String>,
}

/// The graph's inputs (those not given by an initializer), in order.
pub(crate) fn graph_inputs(model: &ModelProto) -> Vec<&ValueInfoProto> {
    let Some(graph) = &model.graph else { return Vec::new() };
    graph.input.iter().filter(|i| !graph.initializer.iter().any(|t| t.name == i.name)).collect()
}

/// How each input (by name) is read by the graph's encoders and text operators, traced
/// through the operators that only move columns about (Identity, Cast, Reshape, Flatten,
/// Squeeze, Unsqueeze of one column; Concat along the columns; Gather and
/// ArrayFeatureExtractor of constant columns), as skl2onnx exports a `ColumnTransformer`.
pub(crate) fn input_uses(model: &ModelProto) -> HashMap<String, InputUse> {
    let Some(graph) = &model.graph else { return HashMap::new() };
    let inputs = graph_inputs(model);
    // For each value, the input each of its columns comes from (None: not one input's
    // values, or not known).
    let mut columns: HashMap<&str, Vec<Option<usize>>> = HashMap::new();
    for (i, input) in inputs.iter().enumerate() {
        match input_shape(input).as_deref() {
            Some([_]) | Some([_, Some(1)]) => {
                columns.insert(&input.name, vec![Some(i)]);
            }
            Some([_, Some(w)]) if *w > 1 => {
                columns.insert(&input.name, vec![None; *w as usize]);
            }
            _ => {}
        }
    }
    let mut uses: HashMap<String, InputUse> = HashMap::new();
    let constant = |name: &str| -> Option<Vec<i64>> {
        let from_init = graph.initializer.iter().find(|t| t.name == name);
        let from_node = || {
            graph
                .node
                .iter()
                .find(|n| n.op_type == "Constant" && n.output.first().is_some_and(|o| o == name))
                .and_then(|n| n.attribute.iter().find(|a| a.name == "value"))
                .and_then(|a| a.t.as_ref())
        };
        from_init.or_else(from_node).and_then(integers)
    };
    for node in &graph.node {
        let domain = domain(node);
        let op = node.op_type.as_str();
        let first = node.input.first().and_then(|i| columns.get(i.as_str())).cloned();
        // Which input alone feeds the node's first input, if one does.
        let single = first.as_ref().and_then(|cols| match cols.first() {
            Some(Some(i)) if cols.iter().all(|c| *c == Some(*i)) => Some(*i),
            _ => None,
        });
        let out: Option<Vec<Option<usize>>> = match (domain, op) {
            ("", "Identity" | "Cast") => first,
            ("", "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze") => first.filter(|c| c.len() == 1),
            ("", "Concat") => {
                let axis = int_attr(node, "axis").unwrap_or(0);
                if axis == 1 || axis == -1 {
                    node.input
                        .iter()
                        .map(|i| columns.get(i.as_str()).cloned())
                        .collect::<Option<Vec<_>>>()
                        .map(|parts| parts.concat())
                } else {
                    None
                }
            }
            ("", "Gather") if int_attr(node, "axis") == Some(1) => {
                pick(first, node.input.get(1).and_then(|i| constant(i)))
            }
            ("ai.onnx.ml", "ArrayFeatureExtractor") => pick(first, node.input.get(1).and_then(|i| constant(i))),
            _ => None,
        };
        if let Some(i) = single {
            let entry = uses.entry(inputs[i].name.clone()).or_default();
            match (domain, op) {
                ("ai.onnx.ml", "OneHotEncoder" | "LabelEncoder" | "CategoryMapper") if entry.encoder.is_none() => {
                    entry.encoder = encoder(node);
                }
                ("", "StringNormalizer" | "TfIdfVectorizer") | ("com.microsoft", "Tokenizer")
                    if entry.text.is_none() =>
                {
                    entry.text = Some(op.to_string());
                }
                _ => {}
            }
        }
        if let Some(out) = out
            && let Some(name) = node.output.first()
        {
            columns.insert(name, out);
        }
    }
    uses
}

/// The columns `indices` picks (negative from the end), when all are known.
fn pick(columns: Option<Vec<Option<usize>>>, indices: Option<Vec<i64>>) -> Option<Vec<Option<usize>>> {
    let (columns, indices) = (columns?, indices?);
    let n = columns.len() as i64;
    indices
        .into_iter()
        .map(|k| {
            let k = if k < 0 { k + n } else { k };
            (0..n).contains(&k).then(|| columns[k as usize])
        })
        .collect()
}

fn domain(node: &NodeProto) -> &str {
    match node.domain.as_str() {
        "ai.onnx" => "",
        d => d,
    }
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn int_attr(node: &NodeProto, name: &str) -> Option<i64> {
    attr(node, name).map(|a| a.i)
}

fn strings_attr(node: &NodeProto, name: &str) -> Vec<String> {
    attr(node, name)
        .map(|a| a.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
        .unwrap_or_default()
}

fn integers(t: &TensorProto) -> Option<Vec<i64>> {
    let fixed = |width: usize| t.raw_data.chunks_exact(width);
    match t.data_type {
        7 if !t.raw_data.is_empty() => {
            Some(fixed(8).map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default())).collect())
        }
        7 => Some(t.int64_data.clone()),
        6 if !t.raw_data.is_empty() => {
            Some(fixed(4).map(|b| i64::from(i32::from_le_bytes(b.try_into().unwrap_or_default()))).collect())
        }
        6 => Some(t.int32_data.iter().map(|&v| i64::from(v)).collect()),
        _ => None,
    }
}

/// The categories an encoder node knows, as it reads them from its input.
fn encoder(node: &NodeProto) -> Option<Encoder> {
    let op = node.op_type.clone();
    let (categories, unknown) = match op.as_str() {
        "OneHotEncoder" => {
            let strings = strings_attr(node, "cats_strings");
            let ints = attr(node, "cats_int64s").map(|a| a.ints.clone()).unwrap_or_default();
            let categories = if strings.is_empty() { Categories::Ints(ints) } else { Categories::Strings(strings) };
            let unknown = if int_attr(node, "zeros").unwrap_or(1) != 0 { Unknown::Zeros } else { Unknown::Fails };
            (categories, unknown)
        }
        "LabelEncoder" => {
            // keys_strings (opset 2+), classes_strings (opset 1), keys_tensor (opset 4)
            let mut keys = strings_attr(node, "keys_strings");
            if keys.is_empty() {
                keys = strings_attr(node, "classes_strings");
            }
            if keys.is_empty() {
                keys = attr(node, "keys_tensor")
                    .and_then(|a| a.t.as_ref())
                    .map(|t| t.string_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
                    .unwrap_or_default();
            }
            let ints = attr(node, "keys_int64s").map(|a| a.ints.clone()).unwrap_or_default();
            let categories = if keys.is_empty() { Categories::Ints(ints) } else { Categories::Strings(keys) };
            let default = if attr(node, "values_strings").is_some() {
                attr(node, "default_string").map_or("_Unused".into(), |a| String::from_utf8_lossy(&a.s).into_owned())
            } else if attr(node, "values_floats").is_some() {
                attr(node, "default_float").map_or("-0".into(), |a| a.f.to_string())
            } else if attr(node, "default_tensor").is_some() {
                "default_tensor".into()
            } else {
                int_attr(node, "default_int64").unwrap_or(-1).to_string()
            };
            (categories, Unknown::Default(default))
        }
        "CategoryMapper" => {
            let default = int_attr(node, "default_int64").unwrap_or(-1).to_string();
            (Categories::Strings(strings_attr(node, "cats_strings")), Unknown::Default(default))
        }
        _ => return None,
    };
    let empty = match &categories {
        Categories::Strings(s) => s.is_empty(),
        Categories::Ints(i) => i.is_empty(),
    };
    (!empty).then_some(Encoder { op, categories, unknown })
}

/// An input's dimensions (None where left open), when it is a tensor with a shape.
fn input_shape(input: &ValueInfoProto) -> Option<Vec<Option<i64>>> {
    let shape = input.r#type.as_ref()?.tensor_type.as_ref()?.shape.as_ref()?;
    Some(shape.dim.iter().map(|d| d.dim_value.filter(|&v| v >= 0)).collect())
}

fn element_type(input: &ValueInfoProto) -> Option<i32> {
    input.r#type.as_ref()?.tensor_type.as_ref().map(|t| t.elem_type)
}

/// ONNX's name of an element type (`tensor(float)` reads `float`).
fn element_name(elem_type: i32) -> &'static str {
    match elem_type {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => "an element type rein does not know",
    }
}

fn describe_shape(shape: &[Option<i64>]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .enumerate()
        .map(|(i, d)| match d {
            Some(v) => v.to_string(),
            None if i == 0 => "N".into(),
            None => "?".into(),
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

/// Operators that make a graph a regressor.
const REGRESSOR_OPS: [&str; 3] = ["TreeEnsembleRegressor", "LinearRegressor", "SVMRegressor"];

/// A component drafted from a model file, for `rein init`: its features, how they bind
/// to the model's inputs, and what the graph says about its task.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub binding: Binding,
    /// One a model input (by name), or one a column of the one input (by position).
    pub features: Vec<DraftFeature>,
    /// The class labels, in the order of the model's probability columns, and the
    /// operator that declares them.
    pub classes: Option<(Vec<String>, String)>,
    /// The operator that makes the graph a regressor.
    pub regressor: Option<String>,
    /// Each float output, by name, and its width: `k` of `[N, k]`, 1 of `[N]`, `None` when open.
    pub float_outputs: Vec<(String, Option<usize>)>,
}

/// How the features bind to the model's inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// One input per feature, by name.
    ByName,
    /// One float tensor `[N, width]`, its columns filled by position in declared order.
    ByPosition { input: String, element: &'static str, width: usize },
}

/// A feature as the model's input says it is.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftFeature {
    pub name: String,
    /// The kind, categories filled in from the encoder; no bounds.
    pub kind: FeatureKind,
    /// Where its value goes: the input, its type and shape, or the column of the one input.
    pub source: String,
    /// What else the graph says about it (its encoder, a text operator), for a comment.
    pub notes: Vec<String>,
}

/// Drafts a component from the model file at `path`; `Err` names the file and what
/// rein cannot map.
pub fn draft(path: &Path) -> Result<Draft, RuntimeError> {
    let artifact = |reason: String| RuntimeError::Artifact { path: path.to_path_buf(), reason };
    let bytes = std::fs::read(path).map_err(|e| {
        artifact(if e.kind() == std::io::ErrorKind::NotFound {
            "no such file".into()
        } else {
            format!("cannot read it: {e}")
        })
    })?;
    let model = proto::decode(&bytes).map_err(artifact)?;
    draft_of(&model).map_err(artifact)
}

pub(crate) fn draft_of(model: &ModelProto) -> Result<Draft, String> {
    let Some(graph) = &model.graph else { return Err("not an ONNX model (it has no graph)".into()) };
    let inputs = graph_inputs(model);
    if inputs.is_empty() {
        return Err("the graph has no inputs, so there are no features to map".into());
    }
    let non_tensor: Vec<&str> =
        graph.output.iter().filter(|o| element_type(o).is_none()).map(|o| o.name.as_str()).collect();
    if !non_tensor.is_empty() {
        return Err(format!(
            "its output{} {} {} not a tensor (a ZipMap's sequence of maps, likely): export the classifier with \
             zipmap=False (skl2onnx: `options={{id(classifier): {{'zipmap': False}}}}`)",
            if non_tensor.len() == 1 { "" } else { "s" },
            quoted(&non_tensor),
            if non_tensor.len() == 1 { "is" } else { "are" },
        ));
    }
    let describe = |i: &ValueInfoProto| {
        format!(
            "`{}` tensor({}) {}",
            i.name,
            element_type(i).map_or("?", element_name),
            input_shape(i).map_or("[?]".into(), |s| describe_shape(&s))
        )
    };
    let mut problems = Vec::new();
    let mut shapes = Vec::new();
    for input in &inputs {
        let (Some(ty), Some(shape)) = (element_type(input), input_shape(input)) else {
            problems.push(format!("input `{}` is not a tensor of known shape", input.name));
            continue;
        };
        if !matches!(ty, 1 | 6 | 7 | 8 | 9 | 11) {
            problems.push(format!(
                "input {} has element type {}, which no feature type feeds (rein feeds float, double, int64, \
                 int32, bool and string)",
                describe(input),
                element_name(ty)
            ));
        }
        match shape.first() {
            Some(None | Some(1)) => {}
            Some(Some(b)) => problems.push(format!(
                "input {}: its batch dimension is fixed at {b}; rein needs it open or 1",
                describe(input)
            )),
            None => problems.push(format!("input {} is a scalar; rein needs a batch dimension", describe(input))),
        }
        if shape.len() > 2 {
            problems.push(format!(
                "input {} has {} dimensions; rein maps [N, 1] or [N] (one feature) or [N, k] (k features)",
                describe(input),
                shape.len()
            ));
        }
        shapes.push((ty, shape));
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }

    let uses = input_uses(model);
    let is_float = |ty: i32| matches!(ty, 1 | 11);
    let (binding, features) = match (&inputs[..], &shapes[..]) {
        ([only], [(ty, shape)]) if shape.len() == 2 && shape[1] != Some(1) => {
            let Some(width) = shape[1] else {
                return Err(format!(
                    "input {} leaves its width open, so rein cannot tell how many features it takes; export it with \
                     its width (skl2onnx: `FloatTensorType([None, k])`)",
                    describe(only)
                ));
            };
            if !is_float(*ty) {
                return Err(format!(
                    "input {} takes {width} columns of {}; rein fills a many-column input by position only when it \
                     is float or double: export one input per column (a ColumnTransformer with `initial_types`), or \
                     cast the columns to float32",
                    describe(only),
                    element_name(*ty)
                ));
            }
            let features = (0..width as usize)
                .map(|k| DraftFeature {
                    name: format!("f{k}"),
                    kind: FeatureKind::Number { min: None, max: None },
                    source: format!("column {k} of `{}`", only.name),
                    notes: Vec::new(),
                })
                .collect();
            (
                Binding::ByPosition { input: only.name.clone(), element: element_name(*ty), width: width as usize },
                features,
            )
        }
        _ => {
            let mut features = Vec::new();
            for (input, (ty, shape)) in inputs.iter().zip(&shapes) {
                if shape.len() == 2 && shape[1] != Some(1) {
                    problems.push(format!(
                        "input {} takes more than one column; with more than one input rein binds one input per \
                         feature, each [N, 1] or [N]",
                        describe(input)
                    ));
                    continue;
                }
                let found = uses.get(&input.name).cloned().unwrap_or_default();
                let mut notes = Vec::new();
                let kind = match ty {
                    1 | 11 => FeatureKind::Number { min: None, max: None },
                    6 | 7 => {
                        if let Some(Encoder { op, categories: Categories::Ints(values), unknown }) = &found.encoder {
                            let shown: Vec<String> = values.iter().map(i64::to_string).collect();
                            notes.push(format!(
                                "the model's {op} knows the values {}; it {}",
                                shown.join(", "),
                                unknown.describe("any other value")
                            ));
                        }
                        FeatureKind::Integer { min: None, max: None }
                    }
                    9 => FeatureKind::Boolean,
                    _ => match (&found.encoder, &found.text) {
                        (Some(e @ Encoder { categories: Categories::Strings(categories), .. }), _) => {
                            notes.push(format!(
                                "the categories the model's {} knows; it {}",
                                e.op,
                                e.unknown.describe("any other value")
                            ));
                            FeatureKind::Category { categories: categories.clone() }
                        }
                        (_, Some(op)) => {
                            notes.push(format!("read as text by the model's {op}"));
                            FeatureKind::Text { max_length: 10_000 }
                        }
                        _ => {
                            notes.push(
                                "no encoder or text operator of the graph reads this input alone: if it is a \
                                 category, declare `type = \"category\"` and its `categories`"
                                    .into(),
                            );
                            FeatureKind::Text { max_length: 10_000 }
                        }
                    },
                };
                features.push(DraftFeature {
                    name: input.name.clone(),
                    kind,
                    source: format!("model input {}", describe(input)),
                    notes,
                });
            }
            if !problems.is_empty() {
                return Err(problems.join("; "));
            }
            (Binding::ByName, features)
        }
    };

    let float_outputs = graph
        .output
        .iter()
        .filter(|o| element_type(o).is_some_and(is_float))
        .map(|o| {
            let width = match input_shape(o).as_deref() {
                Some([_]) => Some(1),
                Some([_, Some(w)]) => Some(*w as usize),
                _ => None,
            };
            (o.name.clone(), width)
        })
        .collect();
    let regressor = graph.node.iter().find(|n| REGRESSOR_OPS.contains(&n.op_type.as_str())).map(|n| n.op_type.clone());
    Ok(Draft { binding, features, classes: proto::classifier(model), regressor, float_outputs })
}

fn quoted(items: &[&str]) -> String {
    items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

/// The task the draft serves, and its labels: `requested` when given (and the model fits
/// it), else what the graph says: two class labels make a binary classifier, more a
/// multiclass one, a regressor or one float output a regression.
impl Draft {
    pub fn task(&self, requested: Option<Task>) -> Result<(Task, Vec<String>), String> {
        match (&self.classes, requested) {
            (Some((labels, op)), requested) => {
                let list = quoted(&labels.iter().map(String::as_str).collect::<Vec<_>>());
                match (requested, labels.len()) {
                    (Some(Task::Regression), _) => Err(format!(
                        "the model is a classifier (its {op} declares the labels {list}), not a regressor: leave out \
                         `--task regression`"
                    )),
                    (_, 0 | 1) => Err(format!(
                        "the model's {op} declares {} class label(s), {list}; a classifier needs two",
                        labels.len()
                    )),
                    (Some(Task::Binary), n) if n != 2 => Err(format!(
                        "`--task binary` needs two classes; the model's {op} declares {n}: {list} (use `--task multiclass`)"
                    )),
                    (Some(task), _) => Ok((task, labels.clone())),
                    (None, 2) => Ok((Task::Binary, labels.clone())),
                    (None, _) => Ok((Task::Multiclass, labels.clone())),
                }
            }
            (None, Some(task @ (Task::Binary | Task::Multiclass))) => {
                if let Some(op) = &self.regressor {
                    return Err(format!(
                        "the model is a regressor (its {op}); it cannot serve `--task {}`",
                        task.as_str()
                    ));
                }
                let widths: Vec<usize> =
                    self.float_outputs.iter().filter_map(|(_, w)| *w).filter(|&w| w >= 2).collect();
                match widths.as_slice() {
                    [w, ..] if task == Task::Multiclass || *w == 2 => {
                        Ok((task, (0..*w).map(|k| k.to_string()).collect()))
                    }
                    [w, ..] => {
                        Err(format!("`--task binary` needs two probability columns; the model's output has {w}"))
                    }
                    [] => Err(format!(
                        "`--task {}` needs a float output of one probability column a class, [N, k]; the model has none",
                        task.as_str()
                    )),
                }
            }
            (None, requested) => {
                if self.regressor.is_some() || self.float_outputs.iter().any(|(_, w)| *w == Some(1)) {
                    Ok((Task::Regression, Vec::new()))
                } else if requested == Some(Task::Regression) {
                    Err("`--task regression` needs a float output of one value a row, [N, 1] or [N]; the model has none".into())
                } else {
                    Err("the graph has no classifier or regressor operator and no output of one value a row, so rein \
                         cannot tell its task: pass `--task binary`, `--task multiclass` or `--task regression`"
                        .into())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::build::{FLOAT, INT64, STRING, int, int64s, ints, model, node, string, strings, value};
    use crate::proto::{NodeProto, TypeProto, ValueInfoProto};

    fn default_domain(mut n: NodeProto) -> NodeProto {
        n.domain = String::new();
        n
    }

    #[test]
    fn encoders_are_traced_to_the_input_they_read_through_column_moves() {
        // Two string columns joined, each picked out again (as a ColumnTransformer does),
        // one one-hot encoded, one label encoded; a third read as text.
        let m = model(
            vec![
                node("Concat", &["city", "plan"], &["both"], vec![int("axis", 1)]),
                node("Gather", &["both", "second"], &["plan_again"], vec![int("axis", 1)]),
                node("ArrayFeatureExtractor", &["both", "first"], &["city_again"], vec![]),
                node(
                    "OneHotEncoder",
                    &["plan_again"],
                    &["plan_hot"],
                    vec![strings("cats_strings", &["basic", "pro"]), int("zeros", 0)],
                ),
                node(
                    "LabelEncoder",
                    &["city_again"],
                    &["city_code"],
                    vec![strings("keys_strings", &["oslo", "rome"]), ints("values_int64s", &[0, 1])],
                ),
                node("Reshape", &["note", "shape"], &["note_flat"], vec![]),
                default_domain(node("StringNormalizer", &["note_flat"], &["note_norm"], vec![])),
                node("OneHotEncoder", &["count"], &["count_hot"], vec![ints("cats_int64s", &[1, 2, 3])]),
            ],
            vec![
                value("city", STRING, &[None, Some(1)]),
                value("plan", STRING, &[None, Some(1)]),
                value("note", STRING, &[None, Some(1)]),
                value("count", INT64, &[None, Some(1)]),
            ],
            vec![value("plan_hot", FLOAT, &[None, Some(2)])],
            vec![int64s("first", &[1], &[0]), int64s("second", &[1], &[1]), int64s("shape", &[1], &[-1])],
        );
        let uses = input_uses(&m);
        let plan = uses["plan"].encoder.as_ref().expect("plan's encoder");
        assert_eq!(plan.categories, Categories::Strings(vec!["basic".into(), "pro".into()]));
        assert_eq!(plan.unknown, Unknown::Fails);
        let city = uses["city"].encoder.as_ref().expect("city's encoder");
        assert_eq!((city.op.as_str(), &city.unknown), ("LabelEncoder", &Unknown::Default("-1".into())));
        assert_eq!(city.categories, Categories::Strings(vec!["oslo".into(), "rome".into()]));
        assert_eq!(uses["note"].text.as_deref(), Some("StringNormalizer"));

        let draft = draft_of(&m).expect("drafts");
        assert_eq!(draft.binding, Binding::ByName);
        let kinds: Vec<(&str, &str)> = draft.features.iter().map(|f| (f.name.as_str(), f.kind.type_name())).collect();
        assert_eq!(kinds, [("city", "category"), ("plan", "category"), ("note", "text"), ("count", "integer")]);
        assert!(draft.features[1].notes[0].contains("fails on any other value"), "{:?}", draft.features[1].notes);
        assert!(draft.features[3].notes[0].contains("knows the values 1, 2, 3"), "{:?}", draft.features[3].notes);
        // no classifier, no regressor, no output of one value a row
        let e = draft.task(None).expect_err("no task to tell");
        assert!(e.contains("pass `--task binary`"), "{e}");
        assert_eq!(draft.task(Some(Task::Binary)).expect("two columns"), (Task::Binary, vec!["0".into(), "1".into()]));
    }

    #[test]
    fn inputs_rein_cannot_map_are_named_with_what_is_wrong() {
        let refused = |inputs: Vec<ValueInfoProto>, outputs: Vec<ValueInfoProto>| {
            draft_of(&model(vec![node("Identity", &["x"], &["y"], vec![])], inputs, outputs, vec![]))
                .expect_err("refused")
        };
        let y = || vec![value("y", FLOAT, &[None, Some(1)])];
        let e = refused(vec![value("image", 2, &[None, Some(3), Some(224), Some(224)])], y());
        assert!(e.contains("input `image` tensor(uint8) [N, 3, 224, 224] has element type uint8"), "{e}");
        assert!(e.contains("has 4 dimensions"), "{e}");
        let e = refused(vec![value("x", FLOAT, &[None, None])], y());
        assert!(e.contains("leaves its width open"), "{e}");
        let e = refused(vec![value("x", INT64, &[None, Some(3)])], y());
        assert!(e.contains("only when it is float or double"), "{e}");
        let e = refused(vec![value("a", FLOAT, &[None, Some(1)]), value("b", FLOAT, &[None, Some(4)])], y());
        assert!(e.contains("input `b` tensor(float) [N, 4] takes more than one column"), "{e}");
        let e = refused(vec![], y());
        assert!(e.contains("no inputs"), "{e}");
        let map = ValueInfoProto { name: "output_probability".into(), r#type: Some(TypeProto { tensor_type: None }) };
        let e = refused(vec![value("x", FLOAT, &[None, Some(2)])], vec![map]);
        assert!(e.contains("`output_probability` is not a tensor") && e.contains("zipmap=False"), "{e}");
    }

    #[test]
    fn the_task_follows_the_classifier_unless_chosen() {
        let classifier = |labels: &[&str]| {
            draft_of(&model(
                vec![node(
                    "TreeEnsembleClassifier",
                    &["x"],
                    &["label", "probabilities"],
                    vec![strings("classlabels_strings", labels), string("post_transform", "NONE")],
                )],
                vec![value("x", FLOAT, &[None, Some(3)])],
                vec![
                    value("label", STRING, &[None]),
                    value("probabilities", FLOAT, &[None, Some(labels.len() as i64)]),
                ],
                vec![],
            ))
            .expect("drafts")
        };
        let two = classifier(&["no", "yes"]);
        assert_eq!(two.binding, Binding::ByPosition { input: "x".into(), element: "float", width: 3 });
        assert_eq!(two.task(None).unwrap(), (Task::Binary, vec!["no".into(), "yes".into()]));
        assert_eq!(two.task(Some(Task::Multiclass)).unwrap().0, Task::Multiclass);
        assert!(two.task(Some(Task::Regression)).unwrap_err().contains("not a regressor"));
        let three = classifier(&["a", "b", "c"]);
        assert_eq!(three.task(None).unwrap().0, Task::Multiclass);
        assert!(three.task(Some(Task::Binary)).unwrap_err().contains("declares 3: `a`, `b`, `c`"));
    }
}
