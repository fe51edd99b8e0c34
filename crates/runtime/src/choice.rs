//! Which engine evaluates a model's decision-path calls, and why: rein's own evaluator
//! only once it agrees with ONNX Runtime on probe rows drawn from the schema.

use rein_decision::{ModelInfo, ModelOutput};
use rein_system::{Component, Feature, FeatureKind, FeatureValue, ModelEngine};

use crate::native_engine::NativeEngine;
use crate::ort_engine::OrtEngine;
use crate::proto::ModelProto;

/// Who evaluates a model's calls through [`rein_decision::Model`] (raw OIP v2 calls
/// always go to ONNX Runtime), and why: for logs and `rein check`.
#[derive(Debug, Clone, PartialEq)]
pub enum Engine {
    /// rein itself; it agreed with ONNX Runtime on this many probe rows at load.
    Rein { probe_rows: usize },
    /// ONNX Runtime, for the reason given.
    OnnxRuntime { reason: String },
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Engine::Rein { probe_rows } => {
                write!(f, "rein evaluates the graph itself (it agreed with ONNX Runtime on {probe_rows} probe rows)")
            }
            Engine::OnnxRuntime { reason } => write!(f, "ONNX Runtime evaluates the graph: {reason}"),
        }
    }
}

/// The engine chosen at load for decision-path calls; ONNX Runtime's engine, which every
/// model has for raw calls, is held beside it.
pub(crate) enum Evaluator {
    Rein { engine: NativeEngine, probe_rows: usize },
    OnnxRuntime { reason: String },
}

/// Rows a native graph must agree with ONNX Runtime on before it serves.
const PROBE_ROWS: usize = 256;

impl Evaluator {
    /// rein's evaluator where the system file allows it, it compiles `graph` and it agrees
    /// with `onnxruntime` on the probe rows; otherwise ONNX Runtime, saying why.
    pub(crate) fn choose(
        component: &Component,
        graph: &ModelProto,
        onnxruntime: &OrtEngine,
        info: ModelInfo,
    ) -> Evaluator {
        if component.model.engine != ModelEngine::Auto {
            return Evaluator::OnnxRuntime { reason: "`engine = \"onnxruntime\"` in the system file".into() };
        }
        let signature = onnxruntime.signature().clone();
        let compiled = NativeEngine::compile(graph, info, signature, onnxruntime.head().clone());
        match compiled.and_then(|native| agreement(&native, onnxruntime).map(|rows| (native, rows))) {
            Ok((engine, probe_rows)) => Evaluator::Rein { engine, probe_rows },
            Err(reason) => Evaluator::OnnxRuntime { reason },
        }
    }

    /// The description of this choice.
    pub(crate) fn engine(&self) -> Engine {
        match self {
            Evaluator::Rein { probe_rows, .. } => Engine::Rein { probe_rows: *probe_rows },
            Evaluator::OnnxRuntime { reason } => Engine::OnnxRuntime { reason: reason.clone() },
        }
    }
}

/// Rows of the schema's kinds, each run by both engines alone and all of them in one
/// call: when every answer agrees (or both engines refuse the row), the number of rows
/// both answered, which must be most of them.
fn agreement(native: &NativeEngine, onnxruntime: &OrtEngine) -> Result<usize, String> {
    let rows = probe_rows(onnxruntime.signature().features(), PROBE_ROWS);
    let refs: Vec<&[FeatureValue]> = rows.iter().map(Vec::as_slice).collect();
    let compare = |rows: &[&[FeatureValue]], what: &str| -> Result<bool, String> {
        match (native.run(rows), onnxruntime.run(rows)) {
            (Ok(ours), Ok(theirs)) => match ours.iter().zip(&theirs).position(|(a, b)| !agree(a, b)) {
                Some(i) => Err(format!(
                    "on {what}, rein's evaluation gave {:?} where ONNX Runtime gave {:?}",
                    ours[i], theirs[i]
                )),
                None if ours.len() != theirs.len() => Err(format!("on {what}, the engines gave different row counts")),
                None => Ok(true),
            },
            (Err(_), Err(_)) => Ok(false),
            (Err(e), Ok(_)) => Err(format!("on {what}, rein's evaluation failed where ONNX Runtime did not: {e}")),
            (Ok(_), Err(e)) => Err(format!("on {what}, ONNX Runtime failed where rein's evaluation did not: {e}")),
        }
    };
    let mut answered = 0;
    for (i, row) in refs.iter().enumerate() {
        answered += usize::from(compare(std::slice::from_ref(row), &format!("probe row {i}"))?);
    }
    if answered < refs.len() / 2 {
        return Err(format!(
            "ONNX Runtime answered only {answered} of {} probe rows, too few to check rein's evaluation against",
            refs.len()
        ));
    }
    if answered == refs.len() {
        compare(&refs, &format!("{} probe rows in one call", refs.len()))?;
    }
    Ok(answered)
}

/// Whether two engines' answers for a row agree: the same label, and scores equal but
/// for float rounding in the last places.
fn agree(a: &ModelOutput, b: &ModelOutput) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0) || (x.is_nan() && y.is_nan());
    match (a, b) {
        (ModelOutput::Class { label: la, probabilities: pa }, ModelOutput::Class { label: lb, probabilities: pb }) => {
            la == lb && pa.len() == pb.len() && pa.iter().zip(pb).all(|(x, y)| close(*x, *y))
        }
        (ModelOutput::Value(x), ModelOutput::Value(y)) => close(*x, *y),
        _ => false,
    }
}

/// `count` rows of the schema's kinds, the same each time: bounds, zero and values over
/// many magnitudes within the bounds, each category in turn, short texts.
fn probe_rows(features: &[Feature], count: usize) -> Vec<Vec<FeatureValue>> {
    // splitmix64: a fixed sequence, no dependency.
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut unit = move || (next() >> 11) as f64 / (1u64 << 53) as f64;
    let mut number = |min: Option<f64>, max: Option<f64>, r: usize| -> f64 {
        let u = unit();
        let v = match (r % 4, min, max) {
            (0, Some(lo), _) => lo,
            (1, _, Some(hi)) => hi,
            (2, Some(lo), Some(hi)) => lo + u * (hi - lo),
            _ => {
                let magnitude = 10f64.powf(u * 8.0 - 2.0);
                if unit() < 0.3 {
                    -magnitude
                } else if unit() < 0.05 {
                    0.0
                } else {
                    magnitude
                }
            }
        };
        v.clamp(min.unwrap_or(f64::MIN), max.unwrap_or(f64::MAX))
    };
    (0..count)
        .map(|r| {
            features
                .iter()
                .enumerate()
                .map(|(f, feature)| {
                    let r = r + f;
                    match &feature.kind {
                        FeatureKind::Number { min, max } => FeatureValue::Number(number(*min, *max, r)),
                        FeatureKind::Integer { min, max } => FeatureValue::Integer(
                            number(min.map(|m| m as f64), max.map(|m| m as f64), r).round() as i64,
                        ),
                        FeatureKind::Boolean => FeatureValue::Boolean(r % 2 == 0),
                        FeatureKind::Category { categories } if !categories.is_empty() => {
                            FeatureValue::Text(categories[r % categories.len()].clone())
                        }
                        FeatureKind::Category { .. } => FeatureValue::Text(String::new()),
                        FeatureKind::Text { max_length } => {
                            let words = ["the", "claim", "deadline", "court", "tenant", "refund", "notice"];
                            let text: Vec<&str> = (0..r % 9).map(|k| words[(r * 7 + k) % words.len()]).collect();
                            FeatureValue::Text(text.join(" ").chars().take(*max_length).collect())
                        }
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use prost::Message;
    use rein_system::{ComponentLocations, Experience, Location, Mode, ModelSpec, Policy, Task, TelemetryPolicy};

    use super::*;
    use crate::native::build::{self, FLOAT, INT64, STRING, int, ints, model, node, string, stumps, value};
    use crate::{Runtime, ServedModel, proto};

    /// Loads a hand-made model for a component of integer features 0 to 2, so that probe
    /// rows land exactly on the thresholds (1.0) as well as on either side.
    fn load(model: proto::ModelProto, task: Task, labels: &[&str]) -> Arc<dyn ServedModel> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("model.onnx");
        std::fs::write(&path, model.encode_to_vec()).expect("write");
        let component = Component {
            name: "c".into(),
            task,
            positive: (task == Task::Binary).then_some(1),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            model: ModelSpec {
                path,
                version: None,
                timeout: Duration::from_millis(100),
                max_concurrency: 1,
                engine: ModelEngine::Auto,
                name: "model".into(),
            },
            features: vec![Feature {
                name: "x".into(),
                kind: FeatureKind::Integer { min: Some(0), max: Some(2) },
                required: true,
                default: None,
                telemetry: TelemetryPolicy::Raw,
                location: Location::default(),
            }],
            guardrails: vec![],
            fallback: None,
            label_names: Default::default(),
            experience: Experience { policy: Policy::Fixed(Mode::None), caps: vec![] },
            slices: vec![],
            locations: ComponentLocations::default(),
        };
        let runtime = Runtime::init(None, None).expect("ONNX Runtime (bash scripts/setup-onnxruntime.sh)");
        crate::load(&component, &runtime).expect("loads")
    }

    fn regressor(extra: Vec<proto::AttributeProto>, modes: &[&str], missing: &[i64]) -> proto::ModelProto {
        let weights: Vec<f32> = (0..modes.len()).map(|k| 0.5 + k as f32).collect();
        let mut attrs = stumps(modes, 1.0, &weights, missing);
        attrs.push(int("n_targets", 1));
        attrs.extend(extra);
        model(
            vec![
                node("Cast", &["x"], &["xf"], vec![int("to", 1)]),
                node("TreeEnsembleRegressor", &["xf"], &["y"], attrs),
            ],
            vec![value("x", INT64, &[None, Some(1)])],
            vec![value("y", FLOAT, &[None, Some(1)])],
            vec![],
        )
    }

    fn rein_serves(model: &Arc<dyn ServedModel>) {
        assert!(matches!(model.engine(), Engine::Rein { .. }), "{}", model.engine());
    }

    #[test]
    fn every_branch_mode_agrees_with_onnx_runtime_on_and_around_thresholds() {
        let modes = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"];
        rein_serves(&load(
            regressor(vec![build::floats("base_values", &[0.125])], &modes, &[1, 0, 1, 0, 0, 0]),
            Task::Regression,
            &[],
        ));
        for mode in modes {
            rein_serves(&load(regressor(vec![], &[mode; 5], &[0; 5]), Task::Regression, &[]));
        }
    }

    #[test]
    fn a_graph_both_engines_refuse_on_every_probe_row_stays_with_onnx_runtime() {
        // An unknown category is an error (`zeros = 0`), and every probe value (0 to 2) is one.
        let model = load(
            model(
                vec![
                    node("OneHotEncoder", &["x"], &["hot"], vec![ints("cats_int64s", &[5]), int("zeros", 0)]),
                    node("Reshape", &["hot", "shape"], &["y"], vec![]),
                ],
                vec![value("x", INT64, &[None, Some(1)])],
                vec![value("y", FLOAT, &[None, Some(1)])],
                vec![build::int64s("shape", &[2], &[-1, 1])],
            ),
            Task::Regression,
            &[],
        );
        match model.engine() {
            Engine::OnnxRuntime { reason } => assert!(reason.contains("answered only 0 of 256 probe rows"), "{reason}"),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn every_aggregate_agrees_with_onnx_runtime() {
        for aggregate in ["SUM", "AVERAGE", "MIN", "MAX"] {
            let extra = vec![string("aggregate_function", aggregate), build::floats("base_values", &[3.0])];
            rein_serves(&load(
                regressor(extra, &["BRANCH_LEQ", "BRANCH_GT", "BRANCH_LEQ"], &[0; 3]),
                Task::Regression,
                &[],
            ));
        }
    }

    /// Classifiers of stumps: `votes[k]` lists (class, weight) pairs for stump k's `yes` leaf;
    /// its `no` leaf gets each weight halved.
    fn classifier(
        votes: &[&[(i64, f32)]],
        labels: proto::AttributeProto,
        extra: Vec<proto::AttributeProto>,
    ) -> proto::ModelProto {
        let modes = vec!["BRANCH_LEQ"; votes.len()];
        let mut attrs: Vec<_> = stumps(&modes, 1.0, &vec![0.0; votes.len()], &vec![0; votes.len()])
            .into_iter()
            .filter(|a| !a.name.starts_with("target_"))
            .collect();
        let (mut trees, mut nodes, mut ids, mut weights) = (vec![], vec![], vec![], vec![]);
        for (t, list) in votes.iter().enumerate() {
            for &(class, w) in *list {
                for (leaf, weight) in [(1, w), (2, w / 2.0)] {
                    trees.push(t as i64);
                    nodes.push(leaf);
                    ids.push(class);
                    weights.push(weight);
                }
            }
        }
        attrs.extend([
            ints("class_treeids", &trees),
            ints("class_nodeids", &nodes),
            ints("class_ids", &ids),
            build::floats("class_weights", &weights),
            labels,
        ]);
        attrs.extend(extra);
        let label_type = if attrs.iter().any(|a| a.name == "classlabels_strings") { STRING } else { INT64 };
        let classes =
            attrs.iter().find(|a| a.name.starts_with("classlabels")).map_or(0, |a| a.ints.len().max(a.strings.len()));
        model(
            vec![
                node("Cast", &["x"], &["xf"], vec![int("to", 1)]),
                node("TreeEnsembleClassifier", &["xf"], &["label", "probabilities"], attrs),
            ],
            vec![value("x", INT64, &[None, Some(1)])],
            vec![value("label", label_type, &[None]), value("probabilities", FLOAT, &[None, Some(classes as i64)])],
            vec![],
        )
    }

    #[test]
    fn classifiers_agree_with_onnx_runtime_on_labels_and_scores() {
        let two = || build::strings("classlabels_strings", &["no", "yes"]);
        // One class scored, mixed weights, logistic (as scikit-learn's gradient boosting).
        rein_serves(&load(
            classifier(
                &[&[(0, 0.7)], &[(0, -1.1)]],
                two(),
                vec![build::floats("base_values", &[0.2]), string("post_transform", "LOGISTIC")],
            ),
            Task::Binary,
            &["no", "yes"],
        ));
        // One class scored, positive weights, no transform (as a random forest's votes):
        // 0.9 and 0.45, on either side of the 0.5 that decides the label.
        rein_serves(&load(classifier(&[&[(1, 0.6)], &[(1, 0.3)]], two(), vec![]), Task::Binary, &["no", "yes"]));
        // Both classes scored.
        rein_serves(&load(
            classifier(&[&[(0, 0.4), (1, 0.6)], &[(0, 0.9), (1, 0.1)]], two(), vec![]),
            Task::Binary,
            &["no", "yes"],
        ));
        // Three integer classes, base values, softmax.
        rein_serves(&load(
            classifier(
                &[&[(0, 1.0), (2, -0.5)], &[(1, 2.0)], &[(2, 0.75)]],
                ints("classlabels_int64s", &[10, 20, 30]),
                vec![build::floats("base_values", &[0.1, 0.2, 0.3]), string("post_transform", "SOFTMAX")],
            ),
            Task::Multiclass,
            &["10", "20", "30"],
        ));
    }
}
