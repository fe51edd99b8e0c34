//! Raw tensors for the Open Inference Protocol (v2) endpoint: model metadata and
//! inference on tensors as the client sends them, without the component's schema.

use ort::value::TensorElementType;

/// One model input or output as OIP v2 describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    /// OIP datatype: `FP32`, `FP64`, `INT64`, `INT32`, `BOOL`, `BYTES`, …
    pub datatype: String,
    /// Dimensions; `-1` where the model leaves a dimension open (the batch, usually).
    pub shape: Vec<i64>,
}

/// A tensor of an OIP v2 request or response.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<i64>,
    /// Row-major data; its length is the product of `shape`.
    pub data: RawData,
}

/// The data of a [`RawTensor`], one variant per datatype rein supports.
#[derive(Debug, Clone, PartialEq)]
pub enum RawData {
    Fp32(Vec<f32>),
    Fp64(Vec<f64>),
    Int64(Vec<i64>),
    Int32(Vec<i32>),
    Bool(Vec<bool>),
    /// `BYTES`: strings (UTF-8).
    Bytes(Vec<String>),
}

impl RawData {
    pub fn len(&self) -> usize {
        match self {
            RawData::Fp32(v) => v.len(),
            RawData::Fp64(v) => v.len(),
            RawData::Int64(v) => v.len(),
            RawData::Int32(v) => v.len(),
            RawData::Bool(v) => v.len(),
            RawData::Bytes(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The OIP datatype this data holds.
    pub fn datatype(&self) -> &'static str {
        match self {
            RawData::Fp32(_) => "FP32",
            RawData::Fp64(_) => "FP64",
            RawData::Int64(_) => "INT64",
            RawData::Int32(_) => "INT32",
            RawData::Bool(_) => "BOOL",
            RawData::Bytes(_) => "BYTES",
        }
    }
}

/// The OIP v2 name of an ONNX element type.
pub(crate) fn oip_datatype(ty: TensorElementType) -> &'static str {
    match ty {
        TensorElementType::Float32 => "FP32",
        TensorElementType::Float64 => "FP64",
        TensorElementType::Int64 => "INT64",
        TensorElementType::Int32 => "INT32",
        TensorElementType::Bool => "BOOL",
        TensorElementType::String => "BYTES",
        TensorElementType::Uint8 => "UINT8",
        TensorElementType::Int8 => "INT8",
        TensorElementType::Uint16 => "UINT16",
        TensorElementType::Int16 => "INT16",
        TensorElementType::Uint32 => "UINT32",
        TensorElementType::Uint64 => "UINT64",
        TensorElementType::Float16 => "FP16",
        TensorElementType::Bfloat16 => "BF16",
        _ => "UNSUPPORTED",
    }
}

/// The ONNX name of an element type, as in `tensor(float)`.
pub(crate) fn onnx_type_name(ty: TensorElementType) -> &'static str {
    match ty {
        TensorElementType::Float32 => "float",
        TensorElementType::Float64 => "double",
        TensorElementType::Int64 => "int64",
        TensorElementType::Int32 => "int32",
        TensorElementType::Bool => "bool",
        TensorElementType::String => "string",
        TensorElementType::Uint8 => "uint8",
        TensorElementType::Int8 => "int8",
        TensorElementType::Uint16 => "uint16",
        TensorElementType::Int16 => "int16",
        TensorElementType::Uint32 => "uint32",
        TensorElementType::Uint64 => "uint64",
        TensorElementType::Float16 => "float16",
        TensorElementType::Bfloat16 => "bfloat16",
        _ => "unsupported",
    }
}
