//! Raw tensor inference for the Open Inference Protocol v2 endpoint: the model's own
//! inputs and outputs, no schema. Always ONNX Runtime, which takes any graph as it is.

use ort::session::SessionOutputs;
use ort::value::{DynValue, Outlet, TensorElementType, ValueType};
use rein_decision::ModelError;

use crate::ort_engine::{OrtEngine, raw_to_value};
use crate::raw::{RawData, RawTensor, TensorSpec, oip_datatype, onnx_type_name};
use crate::signature::quote_list;

/// A model as OIP v2 sees it: named tensors in, every output out.
pub trait RawModel: Send + Sync {
    /// The model's inputs, for OIP v2 metadata.
    fn inputs(&self) -> &[TensorSpec];

    /// The model's outputs, for OIP v2 metadata.
    fn outputs(&self) -> &[TensorSpec];

    /// OIP v2's name for what runs the raw calls, e.g. `onnxruntime_onnx`.
    fn platform(&self) -> &str;

    /// Runs the model on raw tensors, bypassing the component's schema. Every model
    /// input must be given once, with the model's datatype and a shape that fits the
    /// model's; returns every model output, in the model's order.
    fn infer_raw(&self, inputs: Vec<RawTensor>) -> Result<Vec<RawTensor>, ModelError>;
}

/// The model's inputs and outputs as OIP v2 names them, read from its session at load.
pub(crate) struct RawSignature {
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    output_types: Vec<TensorElementType>,
}

impl RawSignature {
    pub(crate) fn of(inputs: &[Outlet], outputs: &[Outlet]) -> RawSignature {
        let (inputs, _) = specs(inputs);
        let (outputs, output_types) = specs(outputs);
        RawSignature { inputs, outputs, output_types }
    }

    /// The request's tensors as session inputs, each checked against the model's.
    fn values(&self, inputs: Vec<RawTensor>) -> Result<Vec<(String, DynValue)>, ModelError> {
        let mut values: Vec<(String, DynValue)> = Vec::with_capacity(inputs.len());
        for tensor in inputs {
            let Some(i) = self.inputs.iter().position(|s| s.name == tensor.name) else {
                return Err(ModelError::Input(format!(
                    "the model has no input `{}`; its inputs are {}",
                    tensor.name,
                    describe_specs(&self.inputs)
                )));
            };
            if values.iter().any(|(n, _)| *n == tensor.name) {
                return Err(ModelError::Input(format!("input `{}` is given twice", tensor.name)));
            }
            let spec = &self.inputs[i];
            if tensor.datatype != spec.datatype {
                return Err(ModelError::Input(format!(
                    "input `{}` is {} but the model takes {}",
                    tensor.name, tensor.datatype, spec.datatype
                )));
            }
            if tensor.data.datatype() != spec.datatype {
                return Err(ModelError::Input(format!(
                    "input `{}` declares {} but its data is {}",
                    tensor.name,
                    tensor.datatype,
                    tensor.data.datatype()
                )));
            }
            let fits = tensor.shape.len() == spec.shape.len()
                && tensor.shape.iter().zip(&spec.shape).all(|(&got, &want)| got >= 0 && (want < 0 || got == want));
            if !fits {
                return Err(ModelError::Input(format!(
                    "input `{}` has shape {:?} but the model takes {:?} (-1: any size)",
                    tensor.name, tensor.shape, spec.shape
                )));
            }
            let count = tensor.shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d as usize));
            if count != Some(tensor.data.len()) {
                return Err(ModelError::Input(format!(
                    "input `{}` has shape {:?} but {} values",
                    tensor.name,
                    tensor.shape,
                    tensor.data.len()
                )));
            }
            let value = raw_to_value(tensor.shape.clone(), tensor.data)
                .map_err(|e| ModelError::Input(format!("input `{}`: {e}", tensor.name)))?;
            values.push((tensor.name, value));
        }
        let missing: Vec<&str> =
            self.inputs.iter().filter(|s| !values.iter().any(|(n, _)| *n == s.name)).map(|s| s.name.as_str()).collect();
        if !missing.is_empty() {
            return Err(ModelError::Input(format!(
                "missing input {}; the model's inputs are {}",
                quote_list(&missing),
                describe_specs(&self.inputs)
            )));
        }
        Ok(values)
    }

    /// Every output of a call, in the model's order.
    fn read(&self, outputs: &SessionOutputs<'_>) -> Result<Vec<RawTensor>, ModelError> {
        let mut out = Vec::with_capacity(self.outputs.len());
        for (spec, ty) in self.outputs.iter().zip(&self.output_types) {
            let value = outputs
                .get(&spec.name)
                .ok_or_else(|| ModelError::Output(format!("the model gave no output `{}`", spec.name)))?;
            let (shape, data) =
                value_to_raw(value, *ty).map_err(|e| ModelError::Output(format!("output `{}`: {e}", spec.name)))?;
            out.push(RawTensor { name: spec.name.clone(), datatype: spec.datatype.clone(), shape, data });
        }
        Ok(out)
    }
}

impl RawModel for OrtEngine {
    fn inputs(&self) -> &[TensorSpec] {
        &self.raw().inputs
    }

    fn outputs(&self) -> &[TensorSpec] {
        &self.raw().outputs
    }

    fn platform(&self) -> &str {
        "onnxruntime_onnx"
    }

    fn infer_raw(&self, inputs: Vec<RawTensor>) -> Result<Vec<RawTensor>, ModelError> {
        let values = self.raw().values(inputs)?;
        self.with_session(|session| {
            let outputs = session.run(values).map_err(|e| ModelError::Run(e.to_string()))?;
            self.raw().read(&outputs)
        })
    }
}

fn specs(outlets: &[Outlet]) -> (Vec<TensorSpec>, Vec<TensorElementType>) {
    outlets
        .iter()
        .filter_map(|o| match o.dtype() {
            ValueType::Tensor { ty, shape, .. } => Some((
                TensorSpec {
                    name: o.name().to_string(),
                    datatype: oip_datatype(*ty).to_string(),
                    shape: shape.to_vec(),
                },
                *ty,
            )),
            _ => None,
        })
        .unzip()
}

fn describe_specs(specs: &[TensorSpec]) -> String {
    specs.iter().map(|s| format!("`{}` {} {:?}", s.name, s.datatype, s.shape)).collect::<Vec<_>>().join(", ")
}

fn value_to_raw(value: &DynValue, ty: TensorElementType) -> Result<(Vec<i64>, RawData), String> {
    let e = |e: ort::Error| e.to_string();
    Ok(match ty {
        TensorElementType::Float32 => {
            let (s, d) = value.try_extract_tensor::<f32>().map_err(e)?;
            (s.to_vec(), RawData::Fp32(d.to_vec()))
        }
        TensorElementType::Float64 => {
            let (s, d) = value.try_extract_tensor::<f64>().map_err(e)?;
            (s.to_vec(), RawData::Fp64(d.to_vec()))
        }
        TensorElementType::Int64 => {
            let (s, d) = value.try_extract_tensor::<i64>().map_err(e)?;
            (s.to_vec(), RawData::Int64(d.to_vec()))
        }
        TensorElementType::Int32 => {
            let (s, d) = value.try_extract_tensor::<i32>().map_err(e)?;
            (s.to_vec(), RawData::Int32(d.to_vec()))
        }
        TensorElementType::Bool => {
            let (s, d) = value.try_extract_tensor::<bool>().map_err(e)?;
            (s.to_vec(), RawData::Bool(d.to_vec()))
        }
        TensorElementType::String => {
            let (s, d) = value.try_extract_strings().map_err(e)?;
            (s.to_vec(), RawData::Bytes(d))
        }
        other => return Err(format!("tensor({}) outputs are not supported", onnx_type_name(other))),
    })
}
