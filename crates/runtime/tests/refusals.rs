//! Models that do not fit their component are refused at load, naming both sides.

mod common;

use common::*;
use rein_decision::ModelOutput;
use rein_runtime::{RawData, RawTensor, RuntimeError};
use rein_system::{FeatureValue, Task};

fn load_err(c: &rein_system::Component) -> RuntimeError {
    rein_runtime::load(c, &runtime()).expect_err("the model must be refused")
}

#[test]
fn named_input_of_the_wrong_type() {
    let f = fixture("column_transformer");
    let mut c = f.component();
    c.features = vec![feature("region", "category"), feature("age", "category"), feature("income", "number")];
    let e = load_err(&c);
    let text = e.to_string();
    assert!(matches!(e, RuntimeError::Inputs(_)), "{e:?}");
    assert!(text.contains("model input `age` is tensor(int64) but feature `age` is category"), "{text}");
    // Both sides are listed.
    assert!(
        text.contains(
            "model inputs: `income` tensor(float) [-1, 1], `age` tensor(int64) [-1, 1], `region` tensor(string) [-1, 1]"
        ),
        "{text}"
    );
    assert!(text.contains("schema features: `region` category, `age` category, `income` number"), "{text}");
}

#[test]
fn missing_input_and_extra_feature() {
    let f = fixture("column_transformer");
    let mut c = f.component();
    c.features = vec![feature("region", "category"), feature("income", "number"), feature("height", "number")];
    let text = load_err(&c).to_string();
    assert!(text.contains("model input `age` has no feature of that name"), "{text}");
    assert!(text.contains("feature `height` (number) is not a model input"), "{text}");
    assert!(text.contains("schema features: `region` category, `income` number, `height` number"), "{text}");
}

#[test]
fn single_input_of_the_wrong_width() {
    let f = fixture("scaler_logreg");
    let mut c = f.component();
    c.features.pop();
    let e = load_err(&c);
    let text = e.to_string();
    assert!(matches!(e, RuntimeError::Inputs(_)), "{e:?}");
    assert!(text.contains("model input `input` takes 6 features (shape [-1, 6]) but the schema has 5"), "{text}");
    assert!(text.contains("model inputs: `input` tensor(float) [-1, 6]"), "{text}");
    assert!(text.contains("schema features: `f0` number"), "{text}");
}

#[test]
fn single_float_input_refuses_a_category() {
    let f = fixture("scaler_logreg");
    let mut c = f.component();
    c.features[2] = feature("f2", "category");
    let text = load_err(&c).to_string();
    assert!(text.contains("feature `f2` is category but model input `input` is tensor(float)"), "{text}");
}

#[test]
fn declared_label_the_model_does_not_produce() {
    let f = fixture("scaler_logreg");
    let c = f.component_with_labels(Some(vec!["legit".into(), "spam".into()]));
    let e = load_err(&c);
    let text = e.to_string();
    assert!(matches!(e, RuntimeError::Labels(_)), "{e:?}");
    assert!(text.contains("the component declares `spam` but the model does not produce it"), "{text}");
    assert!(text.contains("the model produces `phishing` but the component does not declare it"), "{text}");
    assert!(text.contains("component labels: `legit`, `spam`"), "{text}");
    assert!(text.contains("model labels (model order): `legit`, `phishing`"), "{text}");
}

#[test]
fn missing_a_label_of_a_multiclass_model() {
    let f = fixture("random_forest");
    let c = f.component_with_labels(Some(vec!["0".into(), "1".into()]));
    let text = load_err(&c).to_string();
    assert!(text.contains("the model produces `2` but the component does not declare it"), "{text}");
}

#[test]
fn regression_task_on_a_classifier() {
    let f = fixture("gradient_boosting");
    let mut c = f.component();
    c.task = Task::Regression;
    c.labels.clear();
    let e = load_err(&c);
    assert!(matches!(e, RuntimeError::Outputs(_)), "{e:?}");
    assert!(e.to_string().contains("regression but the model is a classifier"), "{e}");
}

#[test]
fn missing_file() {
    let f = fixture("scaler_logreg");
    let mut c = f.component();
    c.model.path = repo_root().join("fixtures/models/does-not-exist.onnx");
    let e = load_err(&c);
    assert!(matches!(e, RuntimeError::Artifact { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("does-not-exist.onnx") && text.contains("no such file"), "{text}");
}

#[test]
fn garbage_file() {
    let dir = std::env::temp_dir().join(format!("rein-runtime-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let f = fixture("scaler_logreg");
    let mut c = f.component();
    for (name, bytes) in
        [("garbage.onnx", &b"this is certainly not an onnx model, just text"[..]), ("empty.onnx", &b""[..])]
    {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        c.model.path = path;
        let e = load_err(&c);
        assert!(matches!(e, RuntimeError::Artifact { .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.contains(name) && text.contains("not an ONNX model"), "{text}");
    }
    // A truncated real model: decodes partly, ONNX Runtime refuses it; still an Artifact error.
    let bytes = std::fs::read(&f.model).expect("model");
    let path = dir.join("truncated.onnx");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
    c.model.path = path;
    let e = load_err(&c);
    assert!(matches!(e, RuntimeError::Artifact { .. }), "{e:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn raw_inference_gives_the_same_numbers() {
    let rt = runtime();
    let f = fixture("column_transformer");
    let model = rein_runtime::load(&f.component(), &rt).expect("load");
    let inputs = model.inputs();
    assert_eq!(
        inputs.iter().map(|s| (s.name.as_str(), s.datatype.as_str())).collect::<Vec<_>>(),
        [("income", "FP32"), ("age", "INT64"), ("region", "BYTES")]
    );
    assert_eq!(inputs[0].shape, vec![-1, 1]);
    let outputs = model.outputs();
    assert!(outputs.iter().any(|o| o.name == "label" && o.datatype == "BYTES"), "{outputs:?}");
    assert!(outputs.iter().any(|o| o.name == "probabilities" && o.datatype == "FP32"), "{outputs:?}");

    let rows = f.rows();
    let n = rows.len() as i64;
    // Schema order: region, age, income.
    let raw = vec![
        RawTensor {
            name: "region".into(),
            datatype: "BYTES".into(),
            shape: vec![n, 1],
            data: RawData::Bytes(rows.iter().map(|r| r[0].as_str().expect("region").to_string()).collect()),
        },
        RawTensor {
            name: "age".into(),
            datatype: "INT64".into(),
            shape: vec![n, 1],
            data: RawData::Int64(rows.iter().map(|r| r[1].as_i64().expect("age")).collect()),
        },
        RawTensor {
            name: "income".into(),
            datatype: "FP32".into(),
            shape: vec![n, 1],
            data: RawData::Fp32(rows.iter().map(|r| r[2].as_f64().expect("income") as f32).collect()),
        },
    ];
    let out = model.infer_raw(raw.clone()).expect("raw inference");
    let labels = out.iter().find(|t| t.name == "label").expect("label");
    let probs = out.iter().find(|t| t.name == "probabilities").expect("probabilities");
    assert_eq!(probs.shape, vec![n, 3]);
    let RawData::Bytes(labels) = &labels.data else { panic!("labels are strings") };
    let RawData::Fp32(probs) = &probs.data else { panic!("probabilities are FP32") };
    for (i, want) in f.expected().iter().enumerate() {
        assert_eq!(labels[i], want["label"].as_str().expect("label"));
        for (j, p) in want["probabilities"].as_array().expect("p").iter().enumerate() {
            assert!((f64::from(probs[i * 3 + j]) - p.as_f64().expect("p")).abs() < 1e-5);
        }
    }

    // Mismatches are refused with ModelError::Input and clear text.
    let mut bad = raw.clone();
    bad[1].datatype = "FP32".into();
    let e = model.infer_raw(bad).expect_err("wrong datatype").to_string();
    assert!(e.contains("input `age` is FP32 but the model takes INT64"), "{e}");
    let mut bad = raw.clone();
    bad[2].shape = vec![n, 2];
    let e = model.infer_raw(bad).expect_err("wrong shape").to_string();
    assert!(e.contains("input `income` has shape"), "{e}");
    let mut bad = raw.clone();
    bad[2].shape = vec![n + 1, 1];
    let e = model.infer_raw(bad).expect_err("wrong length").to_string();
    assert!(e.contains(&format!("but {n} values")), "{e}");
    let mut bad = raw.clone();
    bad.pop();
    let e = model.infer_raw(bad).expect_err("missing").to_string();
    assert!(e.contains("missing input `income`"), "{e}");
    let mut bad = raw.clone();
    bad[0].name = "country".into();
    let e = model.infer_raw(bad).expect_err("unknown").to_string();
    assert!(e.contains("no input `country`"), "{e}");
    let mut bad = raw;
    bad[1].data = RawData::Fp32(vec![1.0; n as usize]);
    let e = model.infer_raw(bad).expect_err("data of another type").to_string();
    assert!(e.contains("declares INT64 but its data is FP32"), "{e}");
}

#[test]
fn regressor_raw_inference() {
    let rt = runtime();
    let f = fixture("tree_regressor");
    let model = rein_runtime::load(&f.component(), &rt).expect("load");
    let rows = f.rows();
    let data: Vec<f32> = rows.iter().flat_map(|r| r.iter().map(|v| v.as_f64().expect("x") as f32)).collect();
    let out = model
        .infer_raw(vec![RawTensor {
            name: "input".into(),
            datatype: "FP32".into(),
            shape: vec![rows.len() as i64, 4],
            data: RawData::Fp32(data),
        }])
        .expect("raw");
    let RawData::Fp32(values) = &out[0].data else { panic!("FP32 output") };
    let refs: Vec<&[FeatureValue]> = rows.iter().map(Vec::as_slice).collect();
    let typed = model.infer(&refs).expect("infer");
    for (v, t) in values.iter().zip(typed) {
        assert_eq!(ModelOutput::Value(f64::from(*v)), t);
    }
}
