//! Every fixture model gives what Python's onnxruntime 1.22.1 gave.

mod common;

use common::*;
use rein_decision::ModelOutput;
use rein_runtime::{Engine, ServedModel};
use rein_system::{Component, FeatureValue, ModelEngine};

const TOLERANCE: f64 = 1e-5;

/// Checks the fixture under rein's choice of engine and under ONNX Runtime alone; the two
/// must agree to the bit on the fixture's rows. Returns the engine rein chose.
fn check(fixture: &Fixture, declared: Option<Vec<String>>) -> Engine {
    let rt = runtime();
    let component = fixture.component_with_labels(declared.clone());
    let chosen = rein_runtime::load(&component, &rt).unwrap_or_else(|e| panic!("{}: {e}", fixture.model.display()));
    let mut only_ort = component.clone();
    only_ort.model.engine = ModelEngine::OnnxRuntime;
    let ort = rein_runtime::load(&only_ort, &rt).expect("load for ONNX Runtime alone");
    assert!(matches!(ort.engine(), Engine::OnnxRuntime { .. }));
    check_model(fixture, &component, &*chosen);
    check_model(fixture, &component, &*ort);
    let rows = fixture.rows();
    let refs: Vec<&[FeatureValue]> = rows.iter().map(Vec::as_slice).collect();
    assert_eq!(chosen.infer(&refs).expect("infer"), ort.infer(&refs).expect("infer"), "{}", chosen.engine());
    chosen.engine()
}

fn check_model(fixture: &Fixture, component: &Component, model: &dyn ServedModel) {
    let model_labels = fixture.labels();
    let rows = fixture.rows();
    let refs: Vec<&[FeatureValue]> = rows.iter().map(Vec::as_slice).collect();
    let outputs = model.infer(&refs).expect("infer");
    assert_eq!(outputs.len(), rows.len());

    // One row at a time gives the same as the batch.
    for (i, row) in refs.iter().enumerate() {
        let single = model.infer(&[row]).expect("infer one");
        assert_eq!(single.len(), 1);
        assert_same(&single[0], &outputs[i], &format!("row {i} alone"));
    }

    // The same rows in reverse, a call of the same size again: a session's kept input
    // tensors take each call's rows, never a previous call's.
    let reversed: Vec<&[FeatureValue]> = refs.iter().rev().copied().collect();
    let again = model.infer(&reversed).expect("infer reversed");
    for (i, (a, b)) in again.iter().rev().zip(&outputs).enumerate() {
        assert_same(a, b, &format!("row {i} in the reversed call"));
    }

    for (i, (got, want)) in outputs.iter().zip(fixture.expected()).enumerate() {
        match got {
            ModelOutput::Class { label, probabilities } => {
                assert_eq!(label, want["label"].as_str().expect("label"), "row {i} label");
                let want_probs: Vec<f64> = want["probabilities"]
                    .as_array()
                    .expect("probabilities")
                    .iter()
                    .map(|p| p.as_f64().expect("p"))
                    .collect();
                // The fixture's probabilities are in model order; ours in declared order.
                for (j, l) in component.labels.iter().enumerate() {
                    let m = model_labels.iter().position(|x| x == l).expect("label in model");
                    assert!(
                        (probabilities[j] - want_probs[m]).abs() < TOLERANCE,
                        "row {i} label {l}: {} vs {}",
                        probabilities[j],
                        want_probs[m]
                    );
                }
            }
            ModelOutput::Value(v) => {
                let w = want["value"].as_f64().expect("value");
                assert!((v - w).abs() < TOLERANCE * w.abs().max(1.0), "row {i}: {v} vs {w}");
            }
        }
    }
}

/// The same output, but for the last float bit: vectorised kernels may round it
/// differently for a batch.
fn assert_same(got: &ModelOutput, batch: &ModelOutput, what: &str) {
    match (got, batch) {
        (ModelOutput::Class { label: a, probabilities: p }, ModelOutput::Class { label: b, probabilities: q }) => {
            assert_eq!(a, b, "{what}: the label differs from the batch's");
            assert!(p.iter().zip(q).all(|(x, y)| (x - y).abs() < 1e-6), "{what}: {p:?} vs {q:?}");
        }
        (ModelOutput::Value(a), ModelOutput::Value(b)) => assert!((a - b).abs() < 1e-6 * b.abs().max(1.0), "{what}"),
        (a, b) => panic!("{what}: {a:?} vs {b:?}"),
    }
}

/// What rein evaluates itself: the tree models and their preprocessing, never a linear
/// model or a text pipeline, whose operators it does not know.
fn assert_rein(engine: Engine) {
    assert!(matches!(engine, Engine::Rein { probe_rows } if probe_rows > 100), "{engine}");
}

fn assert_onnxruntime(engine: Engine, operator: &str) {
    match &engine {
        Engine::OnnxRuntime { reason } => assert!(reason.contains(operator), "{reason}"),
        other => panic!("{other}"),
    }
}

#[test]
fn scaler_logreg() {
    assert_onnxruntime(check(&fixture("scaler_logreg"), None), "`LinearClassifier`");
}

#[test]
fn scaler_logreg_declared_in_another_order() {
    check(&fixture("scaler_logreg"), Some(vec!["phishing".into(), "legit".into()]));
}

#[test]
fn random_forest_int_labels() {
    assert_rein(check(&fixture("random_forest"), None));
    check(&fixture("random_forest"), Some(vec!["2".into(), "0".into(), "1".into()]));
}

#[test]
fn gradient_boosting() {
    assert_rein(check(&fixture("gradient_boosting"), None));
}

#[test]
fn tree_regressor() {
    assert_rein(check(&fixture("tree_regressor"), None));
}

#[test]
fn gbr_regressor() {
    assert_rein(check(&fixture("gbr_regressor"), None));
}

#[test]
fn column_transformer_named_inputs() {
    assert_onnxruntime(check(&fixture("column_transformer"), None), "`LinearClassifier`");
    check(&fixture("column_transformer"), Some(vec!["low".into(), "medium".into(), "high".into()]));
}

#[test]
fn credit_column_transformer_one_hot_strings() {
    assert_rein(check(&fixture("credit"), None));
    check(&fixture("credit"), Some(vec!["good".into(), "bad".into()]));
}

/// The same graph stamped opset 22: ONNX Runtime serves it, and the reason names the
/// opset, the range rein evaluates and the export option that changes it.
#[test]
fn credit_at_opset_22_stays_with_onnx_runtime_saying_how_to_export_it() {
    assert_onnxruntime(
        check(&fixture("credit_opset22"), None),
        "opset 22 of the default domain `ai.onnx` is newer than rein evaluates (1–21): export with `target_opset=21` \
         (skl2onnx: `to_onnx(..., target_opset={'': 21, 'ai.onnx.ml': 3})`) to have rein evaluate it; ONNX Runtime \
         serves it meanwhile",
    );
}

#[test]
fn text_tfidf() {
    assert_onnxruntime(check(&fixture("text_tfidf"), None), "not one rein evaluates");
}

#[test]
fn phishing_example_model() {
    let f = phishing_example();
    assert_rein(check(&f, None));
    check(&f, Some(vec!["phishing".into(), "legit".into()]));
}

#[test]
fn info_name_and_version() {
    let rt = runtime();
    let f = fixture("scaler_logreg");
    let model = rein_runtime::load(&f.component(), &rt).expect("load");
    assert_eq!(model.info().name, "scaler_logreg");
    let v = &model.info().version;
    assert!(v.starts_with("sha256:") && v.len() == "sha256:".len() + 12, "{v}");
    let mut c = f.component();
    c.model.version = Some("2026-11-26".into());
    let model = rein_runtime::load(&c, &rt).expect("load");
    assert_eq!(model.info().version, "2026-11-26");
    assert_eq!(model.model_labels(), Some(&["legit".to_string(), "phishing".to_string()][..]));
}

#[test]
fn concurrent_inference_from_many_threads() {
    let rt = runtime();
    let f = fixture("random_forest");
    let model = rein_runtime::load(&f.component(), &rt).expect("load");
    let rows = f.rows();
    let refs: Vec<&[FeatureValue]> = rows.iter().map(Vec::as_slice).collect();
    let want = model.infer(&refs).expect("infer");
    std::thread::scope(|s| {
        for _ in 0..8 {
            let model = model.clone();
            let refs = &refs;
            let want = &want;
            s.spawn(move || {
                for _ in 0..50 {
                    assert_eq!(&model.infer(refs).expect("infer"), want);
                }
            });
        }
    });
}

#[test]
fn empty_batch_and_wrong_row_length() {
    let rt = runtime();
    let f = fixture("scaler_logreg");
    let model = rein_runtime::load(&f.component(), &rt).expect("load");
    assert!(model.infer(&[]).expect("empty").is_empty());
    let short = [FeatureValue::Number(1.0)];
    let err = model.infer(&[&short]).expect_err("short row").to_string();
    assert!(err.contains("1 values") && err.contains("6 features"), "{err}");
    let text = vec![FeatureValue::Text("x".into()); 6];
    let err = model.infer(&[&text]).expect_err("text in a float input").to_string();
    assert!(err.contains("f0") && err.contains("string"), "{err}");
}
