//! The few parts of the ONNX protobuf rein reads itself: the class labels of the
//! classifier node. A hand-written subset; prost skips every field not declared here.

use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub(crate) struct ModelProto {
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct NodeProto {
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
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    #[prost(bytes = "vec", repeated, tag = "9")]
    pub strings: Vec<Vec<u8>>,
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
    let graph = model.graph.as_ref()?;
    for op in CLASSIFIER_OPS {
        for node in graph.node.iter().filter(|n| n.op_type == op) {
            for attr in &node.attribute {
                match attr.name.as_str() {
                    "classlabels_strings" if !attr.strings.is_empty() => {
                        return Some(attr.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect());
                    }
                    "classlabels_int64s" if !attr.ints.is_empty() => {
                        return Some(attr.ints.iter().map(i64::to_string).collect());
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
                    NodeProto { op_type: "Scaler".into(), attribute: vec![], domain: "ai.onnx.ml".into() },
                    NodeProto {
                        op_type: "LinearClassifier".into(),
                        attribute: vec![AttributeProto {
                            name: "classlabels_strings".into(),
                            ints: vec![],
                            strings: vec![b"b".to_vec(), b"a".to_vec()],
                        }],
                        domain: "ai.onnx.ml".into(),
                    },
                ],
            }),
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
