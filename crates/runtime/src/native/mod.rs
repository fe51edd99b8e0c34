//! ONNX graphs rein evaluates itself, without ONNX Runtime: the preprocessing and
//! tree-ensemble operators that scikit-learn pipelines export to (what Triton's FIL
//! backend does for forests). A call of a few rows costs ONNX Runtime microseconds of
//! fixed work a node; here it is the trees' own comparisons.
//!
//! Pure: no I/O. [`Graph::compile`] refuses a graph with any operator, attribute or
//! type it does not evaluate exactly as ONNX Runtime does, saying which; the model
//! runtime then keeps ONNX Runtime for it. Even a graph it accepts is compared with ONNX
//! Runtime on probe rows before it serves (`choice::Evaluator::choose`).

mod ops;
mod trees;

use std::collections::HashMap;

use crate::proto::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};
use crate::raw::RawData;

/// A tensor as the graph passes it between nodes: row-major data and its shape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tensor {
    pub shape: Vec<usize>,
    pub data: RawData,
}

impl Tensor {
    pub(crate) fn new(shape: Vec<usize>, data: RawData) -> Result<Tensor, String> {
        let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if count != Some(data.len()) {
            return Err(format!("a tensor of shape {shape:?} cannot hold {} values", data.len()));
        }
        Ok(Tensor { shape, data })
    }
}

/// One node, ready to run: its operator and the slots it reads and writes.
struct Step {
    op: Box<dyn Op>,
    inputs: Vec<usize>,
    outputs: Vec<usize>,
}

/// An operator compiled from its node's attributes.
trait Op: Send + Sync {
    /// The node's outputs for its inputs (`None` for an omitted optional input).
    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, String>;
}

/// A graph compiled for evaluation: steps in an order where each reads only what
/// earlier steps, the inputs or the constants wrote.
pub(crate) struct Graph {
    inputs: Vec<(String, usize)>,
    outputs: Vec<(String, usize)>,
    constants: Vec<(usize, Tensor)>,
    steps: Vec<Step>,
    slots: usize,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph").field("inputs", &self.inputs).field("steps", &self.steps.len()).finish()
    }
}

impl Graph {
    /// Compiles the model's graph; `Err` names what rein does not evaluate itself.
    pub(crate) fn compile(model: &ModelProto) -> Result<Graph, String> {
        let graph: &GraphProto = model.graph.as_ref().ok_or("the model has no graph")?;
        opsets(model)?;
        let mut slots: HashMap<String, usize> = HashMap::new();
        let slot = |name: &str, slots: &mut HashMap<String, usize>| {
            let n = slots.len();
            *slots.entry(name.to_string()).or_insert(n)
        };
        let mut constants = Vec::new();
        let mut written: Vec<bool> = Vec::new();
        let mark = |written: &mut Vec<bool>, s: usize| {
            if written.len() <= s {
                written.resize(s + 1, false);
            }
            written[s] = true;
        };
        for init in &graph.initializer {
            let s = slot(&init.name, &mut slots);
            constants.push((s, constant(init)?));
            mark(&mut written, s);
        }
        let mut inputs = Vec::new();
        for input in &graph.input {
            let s = slot(&input.name, &mut slots);
            if !written.get(s).copied().unwrap_or(false) {
                inputs.push((input.name.clone(), s));
                mark(&mut written, s);
            }
        }

        // Nodes in the order given, which ONNX requires to be topological; checked below.
        let mut steps = Vec::with_capacity(graph.node.len());
        for node in &graph.node {
            let op = compile_node(node, graph)?;
            let mut ins = Vec::with_capacity(node.input.len());
            for name in &node.input {
                if name.is_empty() {
                    return Err(format!("node `{}` ({}) omits an optional input", node_name(node), node.op_type));
                }
                let s = slot(name, &mut slots);
                if !written.get(s).copied().unwrap_or(false) {
                    return Err(format!("`{name}` is read before any node writes it"));
                }
                ins.push(s);
            }
            let mut outs = Vec::with_capacity(node.output.len());
            for name in &node.output {
                let s = slot(name, &mut slots);
                mark(&mut written, s);
                outs.push(s);
            }
            steps.push(Step { op, inputs: ins, outputs: outs });
        }
        let mut outputs = Vec::new();
        for output in &graph.output {
            let s = *slots.get(&output.name).ok_or_else(|| format!("no node writes output `{}`", output.name))?;
            if !written.get(s).copied().unwrap_or(false) {
                return Err(format!("no node writes output `{}`", output.name));
            }
            outputs.push((output.name.clone(), s));
        }
        Ok(Graph { inputs, outputs, constants, steps, slots: slots.len() })
    }

    /// The graph's inputs, in the order [`Graph::run`] takes them.
    pub(crate) fn input_names(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().map(|(n, _)| n.as_str())
    }

    /// The graph's outputs, in the order [`Graph::run`] gives them.
    pub(crate) fn output_names(&self) -> impl Iterator<Item = &str> {
        self.outputs.iter().map(|(n, _)| n.as_str())
    }

    /// Runs the graph on its inputs (in [`Graph::input_names`] order).
    pub(crate) fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, String> {
        if inputs.len() != self.inputs.len() {
            return Err(format!("the graph takes {} inputs, not {}", self.inputs.len(), inputs.len()));
        }
        // Constants are read where they are, never copied into a call's values.
        let constant = |s: usize| self.constants.iter().find(|(c, _)| *c == s).map(|(_, t)| t);
        let mut values: Vec<Option<Tensor>> = vec![None; self.slots];
        for ((_, s), t) in self.inputs.iter().zip(inputs) {
            values[*s] = Some(t);
        }
        for step in &self.steps {
            let args: Vec<&Tensor> = step
                .inputs
                .iter()
                .map(|&s| values[s].as_ref().or_else(|| constant(s)).ok_or("a node read an unwritten value"))
                .collect::<Result<_, _>>()?;
            let outs = step.op.run(&args)?;
            if outs.len() < step.outputs.len() {
                return Err(format!("a node gave {} outputs, not {}", outs.len(), step.outputs.len()));
            }
            for (s, t) in step.outputs.iter().zip(outs) {
                values[*s] = Some(t);
            }
        }
        self.outputs
            .iter()
            .map(|(name, s)| {
                values[*s]
                    .take()
                    .or_else(|| constant(*s).cloned())
                    .ok_or_else(|| format!("output `{name}` was not written"))
            })
            .collect()
    }
}

/// The newest opset of the default domain rein evaluates: its operators are those of
/// opset 21 (ONNX 1.16).
pub(crate) const DEFAULT_OPSET: i64 = 21;
/// The newest opset of `ai.onnx.ml` rein evaluates.
pub(crate) const ML_OPSET: i64 = 3;

/// `Err` when an opset the model imports is outside what rein evaluates, naming each
/// one, the range, and the export option that makes rein evaluate the graph.
fn opsets(model: &ModelProto) -> Result<(), String> {
    let mut outside = Vec::new();
    let mut newer = true;
    for opset in &model.opset_import {
        let (name, max) = match opset.domain.as_str() {
            "" | "ai.onnx" => ("the default domain `ai.onnx`", DEFAULT_OPSET),
            "ai.onnx.ml" => ("domain `ai.onnx.ml`", ML_OPSET),
            // Another domain's operators are refused by name, when compiled.
            _ => continue,
        };
        if !(1..=max).contains(&opset.version) {
            newer &= opset.version > max;
            let part = format!("opset {} of {name}", opset.version);
            if !outside.iter().any(|(p, _)| *p == part) {
                outside.push((part, format!("1–{max}")));
            }
        }
    }
    if outside.is_empty() {
        return Ok(());
    }
    let parts: Vec<&str> = outside.iter().map(|(p, _)| p.as_str()).collect();
    let ranges: Vec<&str> = outside.iter().map(|(_, r)| r.as_str()).collect();
    let relation = if newer { "newer than" } else { "outside what" };
    let option = if outside.len() == 1 && outside[0].0.contains("`ai.onnx`") {
        format!("`target_opset={DEFAULT_OPSET}`")
    } else {
        format!("`target_opset={{'': {DEFAULT_OPSET}, 'ai.onnx.ml': {ML_OPSET}}}`")
    };
    Err(format!(
        "{} {} {relation} rein evaluates ({}): export with {option} (skl2onnx: `to_onnx(..., \
         target_opset={{'': {DEFAULT_OPSET}, 'ai.onnx.ml': {ML_OPSET}}})`) to have rein evaluate it; ONNX Runtime \
         serves it meanwhile",
        parts.join(" and "),
        if outside.len() == 1 { "is" } else { "are" },
        ranges.join(" and "),
    ))
}

fn node_name(node: &NodeProto) -> String {
    node.output.first().cloned().unwrap_or_default()
}

/// What rein evaluates, for the message that refuses another operator.
const EVALUATES: &str = "it evaluates tree ensembles and their preprocessing: Identity, Cast, Concat, Gather, Reshape, \
                         Flatten, Scaler, OneHotEncoder, TreeEnsembleClassifier, TreeEnsembleRegressor";

fn compile_node(node: &NodeProto, graph: &GraphProto) -> Result<Box<dyn Op>, String> {
    let attrs = Attributes { node };
    let domain = match node.domain.as_str() {
        "" | "ai.onnx" => "",
        "ai.onnx.ml" => "ai.onnx.ml",
        other => {
            return Err(format!(
                "operator `{}` of domain `{other}` is not one rein evaluates ({EVALUATES})",
                node.op_type
            ));
        }
    };
    let constant_input = |i: usize| -> Result<Tensor, String> {
        let name = node.input.get(i).ok_or_else(|| format!("`{}` lacks input {i}", node.op_type))?;
        let init = graph
            .initializer
            .iter()
            .find(|t| &t.name == name)
            .ok_or_else(|| format!("`{}` reads `{name}`, which is not a constant", node.op_type))?;
        constant(init)
    };
    let op: Box<dyn Op> = match (domain, node.op_type.as_str()) {
        ("", "Identity") => {
            attrs.only(&[])?;
            Box::new(ops::Identity)
        }
        ("", "Cast") => Box::new(ops::Cast::compile(&attrs)?),
        ("", "Concat") => {
            attrs.only(&["axis"])?;
            Box::new(ops::Concat { axis: attrs.int("axis").ok_or("Concat has no axis")? })
        }
        ("", "Gather") => Box::new(ops::Gather::compile(&attrs, constant_input(1)?)?),
        ("", "Reshape") => Box::new(ops::Reshape::compile(&attrs, constant_input(1)?)?),
        ("", "Flatten") => {
            attrs.only(&["axis"])?;
            Box::new(ops::Flatten { axis: attrs.int("axis").unwrap_or(1) })
        }
        ("ai.onnx.ml", "Scaler") => Box::new(ops::Scaler::compile(&attrs)?),
        ("ai.onnx.ml", "OneHotEncoder") => Box::new(ops::OneHotEncoder::compile(&attrs)?),
        ("ai.onnx.ml", "TreeEnsembleClassifier") => Box::new(trees::Classifier::compile(&attrs)?),
        ("ai.onnx.ml", "TreeEnsembleRegressor") => Box::new(trees::Regressor::compile(&attrs)?),
        ("ai.onnx.ml", "ZipMap") => {
            return Err("operator `ZipMap` (ai.onnx.ml) is not one rein evaluates: export the classifier with \
                        zipmap=False (skl2onnx: `options={id(classifier): {'zipmap': False}}`)"
                .into());
        }
        (d, op) => {
            let d = if d.is_empty() { "ai.onnx" } else { d };
            return Err(format!("operator `{op}` ({d}) is not one rein evaluates ({EVALUATES})"));
        }
    };
    Ok(op)
}

/// A node's attributes, read by name; an attribute of an unexpected kind is an error.
pub(crate) struct Attributes<'a> {
    node: &'a NodeProto,
}

impl<'a> Attributes<'a> {
    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    pub(crate) fn op(&self) -> &str {
        &self.node.op_type
    }

    /// Every attribute name the node has outside `known`: compile refuses what it
    /// would otherwise ignore.
    pub(crate) fn only(&self, known: &[&str]) -> Result<(), String> {
        match self.node.attribute.iter().find(|a| !known.contains(&a.name.as_str())) {
            Some(a) => Err(format!("`{}` attribute `{}` is not one rein evaluates", self.node.op_type, a.name)),
            None => Ok(()),
        }
    }

    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        self.get(name).map(|a| a.i)
    }

    pub(crate) fn ints(&self, name: &str) -> Vec<i64> {
        self.get(name).map(|a| a.ints.clone()).unwrap_or_default()
    }

    pub(crate) fn floats(&self, name: &str) -> Vec<f32> {
        self.get(name).map(|a| a.floats.clone()).unwrap_or_default()
    }

    pub(crate) fn string(&self, name: &str) -> Result<Option<String>, String> {
        self.get(name)
            .map(|a| String::from_utf8(a.s.clone()).map_err(|_| format!("attribute `{name}` is not UTF-8")))
            .transpose()
    }

    pub(crate) fn strings(&self, name: &str) -> Result<Vec<String>, String> {
        self.get(name)
            .map(|a| {
                a.strings
                    .iter()
                    .map(|s| String::from_utf8(s.clone()).map_err(|_| format!("attribute `{name}` is not UTF-8")))
                    .collect()
            })
            .unwrap_or_else(|| Ok(Vec::new()))
    }
}

/// An initializer's value.
fn constant(t: &TensorProto) -> Result<Tensor, String> {
    if !t.external_data.is_empty() {
        return Err(format!("constant `{}` lives in an external file", t.name));
    }
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("constant `{}` has dimension {d}", t.name)))
        .collect::<Result<_, _>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("constant `{}` has shape {shape:?}, too large", t.name))?;
    let raw = &t.raw_data;
    let fixed = |width: usize| -> Result<Vec<&[u8]>, String> {
        if Some(raw.len()) != count.checked_mul(width) {
            return Err(format!("constant `{}` has {} bytes for {count} values", t.name, raw.len()));
        }
        Ok(raw.chunks_exact(width).collect())
    };
    let data = match t.data_type {
        1 if !raw.is_empty() => {
            RawData::Fp32(fixed(4)?.into_iter().map(|b| f32::from_le_bytes(b.try_into().unwrap_or_default())).collect())
        }
        1 => RawData::Fp32(t.float_data.clone()),
        11 if !raw.is_empty() => {
            RawData::Fp64(fixed(8)?.into_iter().map(|b| f64::from_le_bytes(b.try_into().unwrap_or_default())).collect())
        }
        11 => RawData::Fp64(t.double_data.clone()),
        7 if !raw.is_empty() => RawData::Int64(
            fixed(8)?.into_iter().map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default())).collect(),
        ),
        7 => RawData::Int64(t.int64_data.clone()),
        6 if !raw.is_empty() => RawData::Int32(
            fixed(4)?.into_iter().map(|b| i32::from_le_bytes(b.try_into().unwrap_or_default())).collect(),
        ),
        6 => RawData::Int32(t.int32_data.clone()),
        8 => RawData::Bytes(
            t.string_data
                .iter()
                .map(|s| String::from_utf8(s.clone()).map_err(|_| format!("constant `{}` is not UTF-8", t.name)))
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("constant `{}` has ONNX data type {other}, which rein does not evaluate", t.name)),
    };
    Tensor::new(shape, data).map_err(|e| format!("constant `{}`: {e}", t.name))
}

/// Hand-made graphs for tests: nodes, attributes, typed inputs and outputs.
#[cfg(test)]
pub(crate) mod build {
    use crate::proto::*;

    pub(crate) const FLOAT: i32 = 1;
    pub(crate) const INT64: i32 = 7;
    pub(crate) const STRING: i32 = 8;

    pub(crate) fn node(op: &str, inputs: &[&str], outputs: &[&str], attribute: Vec<AttributeProto>) -> NodeProto {
        let ml = !matches!(op, "Identity" | "Cast" | "Concat" | "Gather" | "Reshape" | "Flatten");
        NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            op_type: op.into(),
            attribute,
            domain: if ml { "ai.onnx.ml".into() } else { String::new() },
        }
    }

    pub(crate) fn int(name: &str, i: i64) -> AttributeProto {
        AttributeProto { name: name.into(), i, r#type: 2, ..Default::default() }
    }

    pub(crate) fn string(name: &str, s: &str) -> AttributeProto {
        AttributeProto { name: name.into(), s: s.as_bytes().to_vec(), r#type: 3, ..Default::default() }
    }

    pub(crate) fn floats(name: &str, floats: &[f32]) -> AttributeProto {
        AttributeProto { name: name.into(), floats: floats.to_vec(), r#type: 6, ..Default::default() }
    }

    pub(crate) fn ints(name: &str, ints: &[i64]) -> AttributeProto {
        AttributeProto { name: name.into(), ints: ints.to_vec(), r#type: 7, ..Default::default() }
    }

    pub(crate) fn strings(name: &str, strings: &[&str]) -> AttributeProto {
        let strings = strings.iter().map(|s| s.as_bytes().to_vec()).collect();
        AttributeProto { name: name.into(), strings, r#type: 8, ..Default::default() }
    }

    /// A tensor value of `elem_type` whose first dimension is the batch (`None`: open).
    pub(crate) fn value(name: &str, elem_type: i32, dims: &[Option<i64>]) -> ValueInfoProto {
        let dim = dims
            .iter()
            .map(|d| match d {
                Some(v) => Dimension { dim_value: Some(*v), dim_param: None },
                None => Dimension { dim_value: None, dim_param: Some("N".into()) },
            })
            .collect();
        ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                tensor_type: Some(TensorTypeProto { elem_type, shape: Some(TensorShapeProto { dim }) }),
            }),
        }
    }

    pub(crate) fn int64s(name: &str, dims: &[i64], values: &[i64]) -> TensorProto {
        TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: INT64,
            int64_data: values.to_vec(),
            ..Default::default()
        }
    }

    pub(crate) fn model(
        node: Vec<NodeProto>,
        input: Vec<ValueInfoProto>,
        output: Vec<ValueInfoProto>,
        initializer: Vec<TensorProto>,
    ) -> ModelProto {
        ModelProto {
            ir_version: 8,
            graph: Some(GraphProto { node, initializer, input, output }),
            opset_import: vec![
                OperatorSetIdProto { domain: String::new(), version: 15 },
                OperatorSetIdProto { domain: "ai.onnx.ml".into(), version: 1 },
            ],
        }
    }

    /// A forest of stumps on feature 0, one a mode: a row goes the stump's `yes` way
    /// when `x0 <mode> threshold`; its vote is `weights[k]` for `yes` and 0 for `no`.
    pub(crate) fn stumps(modes: &[&str], threshold: f32, weights: &[f32], missing_true: &[i64]) -> Vec<AttributeProto> {
        let n = modes.len() as i64;
        let mut trees = Vec::new();
        let mut ids = Vec::new();
        let mut node_modes = Vec::new();
        let mut values = Vec::new();
        let mut yes = Vec::new();
        let mut no = Vec::new();
        let mut missing = Vec::new();
        for (t, mode) in modes.iter().enumerate() {
            for (id, m) in [(0, *mode), (1, "LEAF"), (2, "LEAF")] {
                trees.push(t as i64);
                ids.push(id);
                node_modes.push(m);
                values.push(if id == 0 { threshold } else { 0.0 });
                yes.push(if id == 0 { 1 } else { 0 });
                no.push(if id == 0 { 2 } else { 0 });
                missing.push(if id == 0 { missing_true[t] } else { 0 });
            }
        }
        let leaf_trees: Vec<i64> = (0..n).flat_map(|t| [t, t]).collect();
        let leaf_ids: Vec<i64> = (0..n).flat_map(|_| [1, 2]).collect();
        let leaf_weights: Vec<f32> = weights.iter().flat_map(|&w| [w, 0.0]).collect();
        vec![
            ints("nodes_treeids", &trees),
            ints("nodes_nodeids", &ids),
            ints("nodes_featureids", &vec![0; trees.len()]),
            strings("nodes_modes", &node_modes),
            floats("nodes_values", &values),
            ints("nodes_truenodeids", &yes),
            ints("nodes_falsenodeids", &no),
            ints("nodes_missing_value_tracks_true", &missing),
            ints("target_treeids", &leaf_trees),
            ints("target_nodeids", &leaf_ids),
            ints("target_ids", &vec![0; leaf_trees.len()]),
            floats("target_weights", &leaf_weights),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    fn floats_of(t: &Tensor) -> Vec<f32> {
        match &t.data {
            RawData::Fp32(v) => v.clone(),
            other => panic!("not float: {other:?}"),
        }
    }

    fn column(values: Vec<f32>) -> Tensor {
        Tensor::new(vec![values.len(), 1], RawData::Fp32(values)).unwrap()
    }

    #[test]
    fn preprocessing_runs_as_a_column_transformer_exports_it() {
        let graph = Graph::compile(&model(
            vec![
                node("Cast", &["a"], &["a_float"], vec![int("to", 1)]),
                node("Concat", &["a_float", "b"], &["numbers"], vec![int("axis", 1)]),
                node(
                    "Scaler",
                    &["numbers"],
                    &["scaled"],
                    vec![floats("offset", &[1.0, 2.0]), floats("scale", &[2.0, 0.5])],
                ),
                node("Gather", &["c", "first"], &["c0"], vec![int("axis", 1)]),
                node("OneHotEncoder", &["c0"], &["hot"], vec![strings("cats_strings", &["x", "y"]), int("zeros", 1)]),
                node("Reshape", &["hot", "shape"], &["flat"], vec![]),
                node("Concat", &["scaled", "flat"], &["out"], vec![int("axis", 1)]),
            ],
            vec![
                value("a", INT64, &[None, Some(1)]),
                value("b", FLOAT, &[None, Some(1)]),
                value("c", STRING, &[None, Some(1)]),
            ],
            vec![value("out", FLOAT, &[None, Some(4)])],
            vec![int64s("first", &[1], &[0]), int64s("shape", &[2], &[-1, 2])],
        ))
        .expect("compiles");
        assert_eq!(graph.input_names().collect::<Vec<_>>(), ["a", "b", "c"]);
        let out = graph
            .run(vec![
                Tensor::new(vec![2, 1], RawData::Int64(vec![3, -1])).unwrap(),
                column(vec![4.0, 0.0]),
                Tensor::new(vec![2, 1], RawData::Bytes(vec!["y".into(), "unknown".into()])).unwrap(),
            ])
            .expect("runs");
        assert_eq!(out[0].shape, [2, 4]);
        // (3 - 1) * 2, (4 - 2) * 0.5, one-hot "y"; (-1 - 1) * 2, (0 - 2) * 0.5, an unknown category: zeros.
        assert_eq!(floats_of(&out[0]), [4.0, 1.0, 0.0, 1.0, -4.0, -1.0, 0.0, 0.0]);
    }

    #[test]
    fn every_branch_mode_and_missing_values_go_the_specified_way() {
        let modes = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ", "BRANCH_LEQ"];
        let weights = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
        let mut attrs = stumps(&modes, 1.0, &weights, &[0, 0, 0, 0, 0, 0, 1]);
        attrs.push(int("n_targets", 1));
        let graph = Graph::compile(&model(
            vec![node("TreeEnsembleRegressor", &["x"], &["y"], attrs)],
            vec![value("x", FLOAT, &[None, Some(1)])],
            vec![value("y", FLOAT, &[None, Some(1)])],
            vec![],
        ))
        .expect("compiles");
        let y = graph.run(vec![column(vec![0.0, 1.0, 2.0, f32::NAN])]).expect("runs");
        // 0: LEQ, LT, NEQ, LEQ; 1: LEQ, GTE, EQ, LEQ; 2: GTE, GT, NEQ; NaN: NEQ, and the
        // last stump, which sends a missing value the `yes` way.
        assert_eq!(floats_of(&y[0]), [1.0 + 2.0 + 32.0 + 64.0, 1.0 + 4.0 + 16.0 + 64.0, 4.0 + 8.0 + 32.0, 32.0 + 64.0]);
    }

    #[test]
    fn a_uniform_forest_walks_as_a_mixed_one() {
        // Nine LEQ stumps (two groups of four and one left over), against the same with one
        // stump made mixed by tracking missing values.
        let modes = ["BRANCH_LEQ"; 9];
        let weights: Vec<f32> = (0..9).map(|k| (1 << k) as f32).collect();
        let regressor = |missing: &[i64]| {
            let mut attrs = stumps(&modes, 1.5, &weights, missing);
            attrs.push(int("n_targets", 1));
            Graph::compile(&model(
                vec![node("TreeEnsembleRegressor", &["x"], &["y"], attrs)],
                vec![value("x", FLOAT, &[None, Some(1)])],
                vec![value("y", FLOAT, &[None, Some(1)])],
                vec![],
            ))
            .expect("compiles")
        };
        let x = || column(vec![0.0, 1.5, 3.0]);
        let uniform = regressor(&[0; 9]).run(vec![x()]).unwrap();
        let mixed = regressor(&[0, 0, 0, 0, 0, 0, 0, 0, 1]).run(vec![x()]).unwrap();
        assert_eq!(floats_of(&uniform[0]), [511.0, 511.0, 0.0]);
        assert_eq!(uniform, mixed);
    }

    #[test]
    fn a_binary_classifier_scoring_one_class_adds_the_other() {
        // Mixed weights, one base value, logistic: ONNX Runtime's "add second class" 2 and 3.
        let mut attrs: Vec<_> = stumps(&["BRANCH_LEQ"], 0.0, &[-2.0], &[0])
            .into_iter()
            .map(|mut a| {
                a.name = a.name.replace("target_", "class_");
                a
            })
            .collect();
        // the `no` leaf votes +1.5, so that weights are mixed
        for a in &mut attrs {
            if a.name == "class_weights" {
                a.floats = vec![-2.0, 1.5];
            }
        }
        attrs.extend([
            strings("classlabels_strings", &["legit", "phishing"]),
            floats("base_values", &[0.25]),
            string("post_transform", "LOGISTIC"),
        ]);
        let graph = Graph::compile(&model(
            vec![node("TreeEnsembleClassifier", &["x"], &["label", "p"], attrs)],
            vec![value("x", FLOAT, &[None, Some(1)])],
            vec![value("label", STRING, &[None]), value("p", FLOAT, &[None, Some(2)])],
            vec![],
        ))
        .expect("compiles");
        let out = graph.run(vec![column(vec![-1.0, 1.0])]).expect("runs");
        assert_eq!(out[0].data, RawData::Bytes(vec!["legit".into(), "phishing".into()]));
        let logistic = |s: f32| 1.0 / (1.0 + (-s).exp());
        let p = floats_of(&out[1]);
        for (row, s) in [-1.75f32, 1.75].into_iter().enumerate() {
            assert!((p[row * 2 + 1] - logistic(s)).abs() < 1e-7, "{p:?}");
            assert!((p[row * 2] - logistic(-s)).abs() < 1e-7, "{p:?}");
        }
    }

    #[test]
    fn an_opset_rein_does_not_evaluate_is_refused_with_its_range_and_the_export_option() {
        let at = |opsets: &[(&str, i64)]| {
            let mut m = model(
                vec![node("Identity", &["x"], &["y"], vec![])],
                vec![value("x", FLOAT, &[None, Some(1)])],
                vec![value("y", FLOAT, &[None, Some(1)])],
                vec![],
            );
            m.opset_import = opsets
                .iter()
                .map(|(d, v)| crate::proto::OperatorSetIdProto { domain: d.to_string(), version: *v })
                .collect();
            Graph::compile(&m)
        };
        assert!(at(&[("", 21), ("ai.onnx.ml", 3)]).is_ok());
        assert_eq!(
            at(&[("", 22), ("ai.onnx.ml", 1)]).expect_err("22"),
            "opset 22 of the default domain `ai.onnx` is newer than rein evaluates (1–21): export with \
             `target_opset=21` (skl2onnx: `to_onnx(..., target_opset={'': 21, 'ai.onnx.ml': 3})`) to have rein \
             evaluate it; ONNX Runtime serves it meanwhile"
        );
        let e = at(&[("", 22), ("ai.onnx.ml", 5)]).expect_err("both");
        assert!(
            e.starts_with(
                "opset 22 of the default domain `ai.onnx` and opset 5 of domain `ai.onnx.ml` are newer than rein \
                 evaluates (1–21 and 1–3): export with `target_opset={'': 21, 'ai.onnx.ml': 3}`"
            ),
            "{e}"
        );
        let e = at(&[("ai.onnx", 0)]).expect_err("0");
        assert!(e.starts_with("opset 0 of the default domain `ai.onnx` is outside what rein evaluates (1–21)"), "{e}");
    }

    #[test]
    fn what_rein_does_not_evaluate_is_refused_with_its_name() {
        let refused = |node: crate::proto::NodeProto| {
            Graph::compile(&model(
                vec![node],
                vec![value("x", FLOAT, &[None, Some(2)])],
                vec![value("y", FLOAT, &[None])],
                vec![],
            ))
            .expect_err("refused")
        };
        let e = refused(build::node("LinearClassifier", &["x"], &["y"], vec![]));
        assert!(e.contains("`LinearClassifier` (ai.onnx.ml) is not one rein evaluates"), "{e}");
        let e = refused(build::node("Cast", &["x"], &["y"], vec![int("to", 8)]));
        assert!(e.contains("Cast to ONNX data type 8"), "{e}");
        let e = refused(build::node(
            "Scaler",
            &["x"],
            &["y"],
            vec![floats("scale", &[1.0]), floats("offset", &[1.0]), int("extra", 1)],
        ));
        assert!(e.contains("attribute `extra`"), "{e}");
        // A tree whose node points back at its root.
        let mut attrs = stumps(&["BRANCH_LEQ"], 0.0, &[1.0], &[0]);
        for a in &mut attrs {
            if a.name == "nodes_falsenodeids" {
                a.ints = vec![0, 0, 0];
            }
        }
        let e = refused(build::node("TreeEnsembleRegressor", &["x"], &["y"], attrs));
        assert!(e.contains("not a tree"), "{e}");
        let e = refused(build::node("Reshape", &["x", "x"], &["y"], vec![]));
        assert!(e.contains("not a constant"), "{e}");
    }
}
