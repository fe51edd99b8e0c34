//! The parts of the ONNX protobuf rein reads itself: the class labels of the classifier
//! node, and the graph (nodes, attributes, constant tensors) that `native` evaluates.
//! A hand-written subset of onnx.proto; prost skips every field not declared here.

use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub(crate) struct ModelProto {
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
    /// Read by ONNX Runtime, not by rein; declared so that tests can write whole models.
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct TypeProto {
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// A dimension: a size, or a name for a size left open (`dim_param`, the batch).
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Dimension {
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    #[prost(string, tag = "7")]
    pub domain: String,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(float, tag = "2")]
    pub f: f32,
    #[prost(int64, tag = "3")]
    pub i: i64,
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    #[prost(bytes = "vec", repeated, tag = "9")]
    pub strings: Vec<Vec<u8>>,
    /// AttributeType: 1 float, 2 int, 3 string, 4 tensor, 6 floats, 7 ints, 8 strings.
    #[prost(int32, tag = "20")]
    pub r#type: i32,
}

/// A constant tensor: an initializer, or a tensor attribute.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// onnx.TensorProto.DataType: 1 float, 6 int32, 7 int64, 8 string, 9 bool, 11 double.
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    #[prost(bytes = "vec", repeated, tag = "6")]
    pub string_data: Vec<Vec<u8>>,
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
    /// Set when the data lives in another file; rein does not read those.
    #[prost(message, repeated, tag = "13")]
    pub external_data: Vec<StringStringEntryProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct StringStringEntryProto {
    #[prost(string, tag = "1")]
    pub key: String,
}

/// Operators that carry a classifier's labels, in the order the first one found wins.
const CLASSIFIER_OPS: [&str; 4] = ["LinearClassifier", "TreeEnsembleClassifier", "SVMClassifier", "ZipMap"];

/// Decodes the model; `Err` when the bytes are not an ONNX model.
pub(crate) fn decode(bytes: &[u8]) -> Result<ModelProto, String> {
    let model = ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model ({e})"))?;
    match &model.graph {
        Some(graph) if !graph.node.is_empty() => Ok(model),
        _ => Err("not an ONNX model (it has no graph)".into()),
    }
}

/// The class labels of the model's classifier node, as strings (ints in decimal), in
/// the order of the probability columns. `None` when there is no classifier node.
pub(crate) fn class_labels(model: &ModelProto) -> Option<Vec<String>> {
    classifier(model).map(|(labels, _)| labels)
}

/// The class labels of the model's classifier node and the node's operator.
pub(crate) fn classifier(model: &ModelProto) -> Option<(Vec<String>, String)> {
    let graph = model.graph.as_ref()?;
    for op in CLASSIFIER_OPS {
        for node in graph.node.iter().filter(|n| n.op_type == op) {
            for attr in &node.attribute {
                match attr.name.as_str() {
                    "classlabels_strings" if !attr.strings.is_empty() => {
                        let labels = attr.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect();
                        return Some((labels, op.to_string()));
                    }
                    "classlabels_int64s" if !attr.ints.is_empty() => {
                        return Some((attr.ints.iter().map(i64::to_string).collect(), op.to_string()));
                    }
                    _ => {}
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_labels_of_a_hand_made_graph() {
        let model = ModelProto {
            graph: Some(GraphProto {
                node: vec![
                    NodeProto { op_type: "Scaler".into(), domain: "ai.onnx.ml".into(), ..Default::default() },
                    NodeProto {
                        op_type: "LinearClassifier".into(),
                        attribute: vec![AttributeProto {
                            name: "classlabels_strings".into(),
                            strings: vec![b"b".to_vec(), b"a".to_vec()],
                            ..Default::default()
                        }],
                        domain: "ai.onnx.ml".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        let bytes = model.encode_to_vec();
        let decoded = decode(&bytes).expect("decodes");
        assert_eq!(class_labels(&decoded), Some(vec!["b".to_string(), "a".to_string()]));
    }

    #[test]
    fn garbage_is_not_onnx() {
        assert!(decode(b"this is certainly not an onnx model").is_err());
        assert!(decode(b"").is_err());
    }
}
