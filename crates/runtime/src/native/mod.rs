//! ONNX graphs rein evaluates itself, without ONNX Runtime: the preprocessing and
//! tree-ensemble operators that scikit-learn pipelines export to (what Triton's FIL
//! backend does for forests). A call of a few rows costs ONNX Runtime microseconds of
//! fixed work a node; here it is the trees' own comparisons.
//!
//! Pure: no I/O. [`Graph::compile`] refuses a graph with any operator, attribute or
//! type it does not evaluate exactly as ONNX Runtime does, saying which; the model
//! runtime then keeps ONNX Runtime for it. Even a graph it accepts is compared with ONNX
//! Runtime on probe rows before it serves (`model::OnnxModel::load`).

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
        let count: usize = shape.iter().product();
        if count != data.len() {
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
        for opset in &model.opset_import {
            let supported = match opset.domain.as_str() {
                "" | "ai.onnx" => (1..=21).contains(&opset.version),
                "ai.onnx.ml" => (1..=3).contains(&opset.version),
                // Another domain's operators are refused by name, below.
                _ => true,
            };
            if !supported {
                return Err(format!("opset `{}` version {} is not one rein evaluates", opset.domain, opset.version));
            }
        }
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

fn node_name(node: &NodeProto) -> String {
    node.output.first().cloned().unwrap_or_default()
}

fn compile_node(node: &NodeProto, graph: &GraphProto) -> Result<Box<dyn Op>, String> {
    let attrs = Attributes { node };
    let domain = match node.domain.as_str() {
        "" | "ai.onnx" => "",
        "ai.onnx.ml" => "ai.onnx.ml",
        other => return Err(format!("operator `{}` of domain `{other}` is not one rein evaluates", node.op_type)),
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
        ("", "Identity") => Box::new(ops::Identity),
        ("", "Cast") => Box::new(ops::Cast::compile(&attrs)?),
        ("", "Concat") => Box::new(ops::Concat { axis: attrs.int("axis")?.ok_or("Concat has no axis")? }),
        ("", "Gather") => Box::new(ops::Gather::compile(&attrs, constant_input(1)?)?),
        ("", "Reshape") => Box::new(ops::Reshape::compile(&attrs, constant_input(1)?)?),
        ("", "Flatten") => Box::new(ops::Flatten { axis: attrs.int("axis")?.unwrap_or(1) }),
        ("ai.onnx.ml", "Scaler") => Box::new(ops::Scaler::compile(&attrs)?),
        ("ai.onnx.ml", "OneHotEncoder") => Box::new(ops::OneHotEncoder::compile(&attrs)?),
        ("ai.onnx.ml", "TreeEnsembleClassifier") => Box::new(trees::Classifier::compile(&attrs)?),
        ("ai.onnx.ml", "TreeEnsembleRegressor") => Box::new(trees::Regressor::compile(&attrs)?),
        (d, op) => {
            let d = if d.is_empty() { "ai.onnx" } else { d };
            return Err(format!("operator `{op}` ({d}) is not one rein evaluates"));
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

    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>, String> {
        Ok(self.get(name).map(|a| a.i))
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
    let count: usize = shape.iter().product();
    let raw = &t.raw_data;
    let fixed = |width: usize| -> Result<Vec<&[u8]>, String> {
        if raw.len() != count * width {
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
