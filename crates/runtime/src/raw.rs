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

/// Why a request's tensor data cannot be taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TensorDataError {
    #[error("datatype `{0}` is not supported; use FP32, FP64, INT64, INT32, BOOL or BYTES")]
    Unsupported(String),
    #[error("{got} bytes of binary data for {count} {datatype} values, which take {want} bytes")]
    Size { got: usize, count: usize, datatype: &'static str, want: usize },
    #[error("BYTES element {0} has a cut length prefix")]
    CutLength(usize),
    #[error("BYTES element {element} says {len} bytes, {left} are left")]
    Overrun { element: usize, len: usize, left: usize },
    #[error("BYTES element {0} is not UTF-8 text")]
    NotUtf8(usize),
    #[error("{found} BYTES elements in the binary data, the shape holds {count}")]
    Count { found: usize, count: usize },
}

impl RawData {
    /// Decodes `count` elements of `datatype` from the binary tensor data extension's
    /// layout: little-endian values, BOOL one byte each, BYTES each a 4-byte
    /// little-endian length and then its bytes. `bytes` must hold exactly that.
    pub fn from_le_bytes(datatype: &str, count: usize, bytes: &[u8]) -> Result<RawData, TensorDataError> {
        fn fixed<const N: usize, T>(
            bytes: &[u8],
            count: usize,
            datatype: &'static str,
            decode: fn([u8; N]) -> T,
        ) -> Result<Vec<T>, TensorDataError> {
            if bytes.len() != count * N {
                return Err(TensorDataError::Size { got: bytes.len(), count, datatype, want: count * N });
            }
            Ok(bytes.chunks_exact(N).map(|c| decode(c.try_into().expect("chunks of N"))).collect())
        }
        Ok(match datatype {
            "FP32" => RawData::Fp32(fixed(bytes, count, "FP32", f32::from_le_bytes)?),
            "FP64" => RawData::Fp64(fixed(bytes, count, "FP64", f64::from_le_bytes)?),
            "INT64" => RawData::Int64(fixed(bytes, count, "INT64", i64::from_le_bytes)?),
            "INT32" => RawData::Int32(fixed(bytes, count, "INT32", i32::from_le_bytes)?),
            "BOOL" => RawData::Bool(fixed(bytes, count, "BOOL", |[b]: [u8; 1]| b != 0)?),
            "BYTES" => {
                let mut rest = bytes;
                let mut items = Vec::with_capacity(count);
                while !rest.is_empty() {
                    let Some((len, tail)) = rest.split_first_chunk::<4>() else {
                        return Err(TensorDataError::CutLength(items.len()));
                    };
                    let len = u32::from_le_bytes(*len) as usize;
                    if tail.len() < len {
                        return Err(TensorDataError::Overrun { element: items.len(), len, left: tail.len() });
                    }
                    let (item, tail) = tail.split_at(len);
                    let text = std::str::from_utf8(item).map_err(|_| TensorDataError::NotUtf8(items.len()))?;
                    items.push(text.to_owned());
                    rest = tail;
                }
                if items.len() != count {
                    return Err(TensorDataError::Count { found: items.len(), count });
                }
                RawData::Bytes(items)
            }
            other => return Err(TensorDataError::Unsupported(other.to_string())),
        })
    }

    /// The binary tensor data extension's layout of this data (see [`Self::from_le_bytes`]).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            RawData::Fp32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            RawData::Fp64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            RawData::Int64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            RawData::Int32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            RawData::Bool(v) => v.iter().map(|&b| u8::from(b)).collect(),
            RawData::Bytes(v) => {
                v.iter().flat_map(|s| (s.len() as u32).to_le_bytes().into_iter().chain(s.bytes())).collect()
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_tensor_data_round_trips_every_datatype() {
        for data in [
            RawData::Fp32(vec![1.5, -2.25]),
            RawData::Fp64(vec![0.1, 1e300]),
            RawData::Int64(vec![i64::MIN, 7]),
            RawData::Int32(vec![-1, 42]),
            RawData::Bool(vec![true, false]),
            RawData::Bytes(vec!["new_gtld".into(), String::new(), "é".into()]),
        ] {
            let bytes = data.to_le_bytes();
            assert_eq!(RawData::from_le_bytes(data.datatype(), data.len(), &bytes), Ok(data));
        }
    }

    /// The layout tritonclient writes: numpy's little-endian bytes; BYTES length-prefixed.
    #[test]
    fn binary_tensor_data_has_the_layout_clients_write() {
        assert_eq!(RawData::Fp32(vec![1.0]).to_le_bytes(), [0, 0, 0x80, 0x3f]);
        assert_eq!(RawData::Bytes(vec!["ab".into()]).to_le_bytes(), [2, 0, 0, 0, b'a', b'b']);
    }

    #[test]
    fn binary_tensor_data_of_the_wrong_size_is_refused_with_the_sizes() {
        let e = RawData::from_le_bytes("FP32", 3, &[0; 8]).unwrap_err().to_string();
        assert!(e.contains("8 bytes") && e.contains("3 FP32 values") && e.contains("12 bytes"), "{e}");
        let e = RawData::from_le_bytes("BYTES", 1, &[9, 0, 0, 0, b'a']).unwrap_err().to_string();
        assert!(e.contains("says 9 bytes, 1 are left"), "{e}");
        let e = RawData::from_le_bytes("BYTES", 2, &[1, 0, 0, 0, b'a']).unwrap_err().to_string();
        assert!(e.contains("1 BYTES elements") && e.contains("holds 2"), "{e}");
        let e = RawData::from_le_bytes("UINT8", 1, &[0]).unwrap_err().to_string();
        assert!(e.contains("not supported"), "{e}");
        assert_eq!(RawData::from_le_bytes("UINT8", 1, &[0]), Err(TensorDataError::Unsupported("UINT8".into())));
    }
}
