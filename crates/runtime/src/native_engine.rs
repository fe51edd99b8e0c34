//! rein's own evaluator as an engine: a [`native::Graph`] wired to the input layout and
//! read by the same output decoding as ONNX Runtime's, so the two answer alike.

use std::sync::Arc;

use rein_decision::{Model, ModelError, ModelInfo, ModelOutput};
use rein_system::FeatureValue;

use crate::decode::{Head, Outputs};
use crate::native::{self, Graph};
use crate::proto::ModelProto;
use crate::raw::RawData;
use crate::signature::Signature;

/// A model whose graph rein evaluates itself.
pub(crate) struct NativeEngine {
    info: ModelInfo,
    graph: Graph,
    /// For each graph input, its place in the layout.
    inputs: Vec<usize>,
    signature: Arc<Signature>,
    head: Arc<Head>,
}

impl NativeEngine {
    /// Compiles the model's graph, its inputs wired to the layout; `Err` says why rein
    /// does not evaluate it.
    pub(crate) fn compile(
        model: &ModelProto,
        info: ModelInfo,
        signature: Arc<Signature>,
        head: Arc<Head>,
    ) -> Result<NativeEngine, String> {
        let graph = Graph::compile(model)?;
        let inputs = graph
            .input_names()
            .map(|name| {
                (0..signature.len())
                    .find(|&i| signature.input_name(i) == name)
                    .ok_or_else(|| format!("graph input `{name}` is not one rein feeds"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if inputs.len() != signature.len() {
            return Err("the graph's inputs are not the model's".into());
        }
        Ok(NativeEngine { info, graph, inputs, signature, head })
    }

    /// One call of checked rows.
    pub(crate) fn run(&self, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError> {
        let n = rows.len();
        let mut columns: Vec<Option<RawData>> = self.signature.columns(rows)?.into_iter().map(Some).collect();
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for &i in &self.inputs {
            let data = columns[i].take().ok_or_else(|| ModelError::Run("an input is wired twice".into()))?;
            let shape = self.signature.input_shape(i, n).into_iter().map(|d| d as usize).collect();
            inputs.push(native::Tensor::new(shape, data).map_err(ModelError::Run)?);
        }
        let tensors = self.graph.run(inputs).map_err(ModelError::Run)?;
        let names: Vec<&str> = self.graph.output_names().collect();
        self.head.decode(&NativeOutputs { names, tensors }, n)
    }
}

impl Model for NativeEngine {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn infer(&self, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError> {
        self.signature.call(rows, |rows| self.run(rows))
    }
}

struct NativeOutputs<'a> {
    names: Vec<&'a str>,
    tensors: Vec<native::Tensor>,
}

impl NativeOutputs<'_> {
    fn get(&self, name: &str) -> Option<&RawData> {
        self.names.iter().position(|n| *n == name).map(|i| &self.tensors[i].data)
    }
}

impl Outputs for NativeOutputs<'_> {
    fn floats(&self, name: &str) -> Option<Result<Vec<f64>, String>> {
        self.get(name).map(|data| match data {
            RawData::Fp32(v) => Ok(v.iter().map(|&x| f64::from(x)).collect()),
            RawData::Fp64(v) => Ok(v.clone()),
            other => Err(format!("expected a float tensor, got {}", other.datatype())),
        })
    }

    fn labels(&self, name: &str) -> Option<Result<Vec<String>, String>> {
        self.get(name).map(|data| match data {
            RawData::Bytes(v) => Ok(v.clone()),
            RawData::Int64(v) => Ok(v.iter().map(i64::to_string).collect()),
            RawData::Int32(v) => Ok(v.iter().map(i32::to_string).collect()),
            other => Err(format!("expected a label tensor (string or integer), got {}", other.datatype())),
        })
    }
}
