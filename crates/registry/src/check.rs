//! What a version passes before it may serve: it loads; its inputs, outputs and labels
//! match the component (the runtime's checks at load); and it answers smoke rows drawn
//! from the schema, each alone and all in one call, with finite outputs of the
//! component's labels. The rows are pure and seeded: the same schema gives the same rows.

use std::path::Path;
use std::sync::Arc;

use rein_decision::ModelOutput;
use rein_runtime::ServedModel;
use rein_system::{Component, Feature, FeatureKind, FeatureValue};

use crate::error::CheckError;

/// How many smoke rows a version answers (more when a category feature has more values,
/// so that every category is asked).
pub const SMOKE_ROWS: usize = 32;
/// The rows' seed: fixed, so a version passes or fails the same way every time.
pub const SMOKE_SEED: u64 = 0x5eed_0023;

/// A version that loaded and passed the checks against its component: the only thing an
/// alias can be pointed at, and what the server serves.
#[derive(Clone)]
pub struct Checked {
    component: String,
    version: String,
    model: Arc<dyn ServedModel>,
}

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checked").field("component", &self.component).field("version", &self.version).finish()
    }
}

impl Checked {
    pub fn component(&self) -> &str {
        &self.component
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// The loaded model, answering as version [`Checked::version`].
    pub fn model(&self) -> &Arc<dyn ServedModel> {
        &self.model
    }
}

/// Loads `bytes` as version `version` of `component` and checks it (see the module).
/// `source` names the bytes in errors.
pub fn check(
    component: &Component,
    version: &str,
    bytes: &[u8],
    source: &Path,
    runtime: &rein_runtime::Runtime,
) -> Result<Checked, CheckError> {
    let mut spec = component.clone();
    spec.model.version = Some(version.to_string());
    let model = rein_runtime::load_artifact(&spec, bytes, source, runtime).map_err(|source| CheckError::Load {
        component: component.name.clone(),
        version: version.to_string(),
        source,
    })?;
    check_loaded(component, model)
}

/// Runs the smoke rows through a model already loaded for `component` (the system file's
/// model, loaded with every other at start-up): it serves only if it answers them.
pub fn check_loaded(component: &Component, model: Arc<dyn ServedModel>) -> Result<Checked, CheckError> {
    let version = model.info().version.clone();
    let rows = smoke_rows(&component.features, SMOKE_SEED, SMOKE_ROWS);
    let refs: Vec<&[FeatureValue]> = rows.iter().map(Vec::as_slice).collect();
    let fail = |row: usize, problem: String| CheckError::Smoke {
        component: component.name.clone(),
        version: version.clone(),
        row: row + 1,
        rows: rows.len(),
        features: describe(&component.features, &rows[row]),
        problem,
    };
    for (i, row) in refs.iter().enumerate() {
        let answer = model.infer(std::slice::from_ref(row)).map_err(|e| fail(i, format!("got no answer: {e}")))?;
        match answer.as_slice() {
            [one] => {
                if let Some(problem) = answer_problem(component, one) {
                    return Err(fail(i, problem));
                }
            }
            other => return Err(fail(i, format!("got {} answers for one row", other.len()))),
        }
    }
    let all =
        model.infer(&refs).map_err(|e| fail(0, format!("got no answer in a call of all {} rows: {e}", refs.len())))?;
    if all.len() != refs.len() {
        return Err(fail(0, format!("a call of all {} rows got {} answers", refs.len(), all.len())));
    }
    if let Some((i, problem)) = all.iter().enumerate().find_map(|(i, a)| answer_problem(component, a).map(|p| (i, p))) {
        return Err(fail(i, format!("in a call of all rows: {problem}")));
    }
    Ok(Checked { component: component.name.clone(), version, model })
}

/// What is wrong with an answer for `component`, or `None`: a classifier's label must be
/// one of the component's and its probabilities finite, in [0, 1], one a label, summing
/// to 1; a regressor's value finite.
pub fn answer_problem(component: &Component, output: &ModelOutput) -> Option<String> {
    match output {
        ModelOutput::Class { label, probabilities } => {
            if component.labels.is_empty() {
                return Some(format!("was answered with label `{label}`, but the component is a regression"));
            }
            if component.label_index(label).is_none() {
                return Some(format!(
                    "was answered with label `{label}`, not one of the component's: {}",
                    component.labels.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ")
                ));
            }
            if probabilities.len() != component.labels.len() {
                return Some(format!(
                    "was answered with {} probabilities for the component's {} labels",
                    probabilities.len(),
                    component.labels.len()
                ));
            }
            if let Some(p) = probabilities.iter().find(|p| !p.is_finite() || **p < -1e-6 || **p > 1.0 + 1e-6) {
                return Some(format!("was answered with probability {p}, not a finite number in [0, 1]"));
            }
            let sum: f64 = probabilities.iter().sum();
            if (sum - 1.0).abs() > 1e-3 {
                return Some(format!("was answered with probabilities summing to {sum}, not 1"));
            }
            None
        }
        ModelOutput::Value(v) if !v.is_finite() => Some(format!("was answered with {v}, not a finite number")),
        ModelOutput::Value(_) if !component.labels.is_empty() => {
            Some("was answered with a number, but the component is a classifier".into())
        }
        ModelOutput::Value(_) => None,
    }
}

/// `count` rows of the schema, drawn with `seed` (at least one per category of the feature
/// with most): bounds, defaults and values between them; every category in turn; both
/// booleans; short texts. Unbounded numbers are drawn around their default (or 0) within
/// a thousand either side, values a request could send.
pub fn smoke_rows(features: &[Feature], seed: u64, count: usize) -> Vec<Vec<FeatureValue>> {
    let most_categories = features
        .iter()
        .map(|f| match &f.kind {
            FeatureKind::Category { categories } => categories.len(),
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    let count = count.max(most_categories);
    let mut state = seed;
    // splitmix64: a fixed sequence per seed, no dependency
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut unit = move || (next() >> 11) as f64 / (1u64 << 53) as f64;
    (0..count)
        .map(|r| {
            features
                .iter()
                .map(|feature| {
                    let default = feature.default.as_ref();
                    let centre = match default {
                        Some(FeatureValue::Number(x)) => *x,
                        Some(FeatureValue::Integer(x)) => *x as f64,
                        _ => 0.0,
                    };
                    let mut between = |min: Option<f64>, max: Option<f64>| {
                        let lo = min.unwrap_or_else(|| max.map_or(centre, |m| m.min(centre)) - 1000.0);
                        let hi = max.unwrap_or_else(|| min.map_or(centre, |m| m.max(centre)) + 1000.0);
                        match r % 5 {
                            0 => lo,
                            1 => hi,
                            2 => centre.clamp(lo, hi),
                            _ => lo + unit() * (hi - lo),
                        }
                    };
                    match &feature.kind {
                        FeatureKind::Number { min, max } => FeatureValue::Number(between(*min, *max)),
                        FeatureKind::Integer { min, max } => {
                            let x = between(min.map(|m| m as f64), max.map(|m| m as f64)).round() as i64;
                            FeatureValue::Integer(x.clamp(min.unwrap_or(i64::MIN), max.unwrap_or(i64::MAX)))
                        }
                        FeatureKind::Boolean => FeatureValue::Boolean(r % 2 == 0),
                        FeatureKind::Category { categories } if !categories.is_empty() => {
                            FeatureValue::Text(categories[r % categories.len()].clone())
                        }
                        FeatureKind::Category { .. } => FeatureValue::Text(String::new()),
                        FeatureKind::Text { max_length } => {
                            let words = ["the", "notice", "refund", "account", "court", "tenant", "urgent", "hello"];
                            let n = (unit() * 8.0) as usize;
                            let text: Vec<&str> = (0..n).map(|_| words[(unit() * 8.0) as usize % 8]).collect();
                            FeatureValue::Text(text.join(" ").chars().take(*max_length).collect())
                        }
                    }
                })
                .collect()
        })
        .collect()
}

/// A row as `name=value, ...`, for a refusal's message.
fn describe(features: &[Feature], row: &[FeatureValue]) -> String {
    features
        .iter()
        .zip(row)
        .map(|(f, v)| match v {
            FeatureValue::Number(x) => format!("{}={x}", f.name),
            FeatureValue::Integer(x) => format!("{}={x}", f.name),
            FeatureValue::Boolean(x) => format!("{}={x}", f.name),
            FeatureValue::Text(x) => format!("{}={x:?}", f.name),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(features: Vec<Feature>, labels: &[&str]) -> Component {
        let text = "[system]\nname = \"s\"\n[[components]]\nname = \"c\"\ntask = \"binary\"\nlabels = [\"no\", \"yes\"]\n\
                    model = { path = \"m.onnx\" }\n[[components.features]]\nname = \"x\"\ntype = \"number\"\n";
        let mut c = rein_system::parse(text, std::path::Path::new("rein.toml")).unwrap().components.remove(0);
        c.features = features;
        c.labels = labels.iter().map(|l| l.to_string()).collect();
        c
    }

    fn feature(name: &str, kind: FeatureKind, default: Option<FeatureValue>) -> Feature {
        Feature {
            name: name.into(),
            kind,
            required: default.is_none(),
            default,
            telemetry: Default::default(),
            location: Default::default(),
        }
    }

    #[test]
    fn smoke_rows_are_seeded_within_bounds_and_ask_every_category() {
        let colours: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
        let features = vec![
            feature("age", FeatureKind::Integer { min: Some(18), max: Some(99) }, None),
            feature("amount", FeatureKind::Number { min: None, max: Some(-5.0) }, None),
            feature("score", FeatureKind::Number { min: None, max: None }, Some(FeatureValue::Number(50.0))),
            feature("colour", FeatureKind::Category { categories: colours.clone() }, None),
            feature("vip", FeatureKind::Boolean, None),
            feature("note", FeatureKind::Text { max_length: 12 }, None),
        ];
        let rows = smoke_rows(&features, SMOKE_SEED, SMOKE_ROWS);
        assert_eq!(rows.len(), 40, "enough rows for every category");
        assert_eq!(rows, smoke_rows(&features, SMOKE_SEED, SMOKE_ROWS), "the same seed, the same rows");
        assert_ne!(rows, smoke_rows(&features, SMOKE_SEED + 1, SMOKE_ROWS));
        for row in &rows {
            let FeatureValue::Integer(age) = row[0] else { panic!() };
            assert!((18..=99).contains(&age));
            let FeatureValue::Number(amount) = row[1] else { panic!() };
            assert!((-1005.0..=-5.0).contains(&amount), "{amount}");
            let FeatureValue::Number(score) = row[2] else { panic!() };
            assert!((-950.0..=1050.0).contains(&score), "around the default: {score}");
            let FeatureValue::Text(note) = &row[5] else { panic!() };
            assert!(note.chars().count() <= 12);
        }
        assert!(
            rows.iter().any(|r| r[0] == FeatureValue::Integer(18))
                && rows.iter().any(|r| r[0] == FeatureValue::Integer(99))
        );
        for c in &colours {
            assert!(rows.iter().any(|r| r[3] == FeatureValue::Text(c.clone())), "category {c} asked");
        }
        assert!(
            rows.iter().any(|r| r[4] == FeatureValue::Boolean(true))
                && rows.iter().any(|r| r[4] == FeatureValue::Boolean(false))
        );
    }

    /// Answers `yes`, except `maybe` (not a label) for rows whose category is `c3`, and
    /// fails calls of more than `max_rows` rows.
    struct Fake {
        info: rein_decision::ModelInfo,
        max_rows: usize,
    }

    impl rein_decision::Model for Fake {
        fn info(&self) -> &rein_decision::ModelInfo {
            &self.info
        }
        fn infer(&self, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, rein_decision::ModelError> {
            if rows.len() > self.max_rows {
                return Err(rein_decision::ModelError::Run("out of memory".into()));
            }
            Ok(rows
                .iter()
                .map(|r| {
                    let label = if r.get(1) == Some(&FeatureValue::Text("c3".into())) { "maybe" } else { "yes" };
                    ModelOutput::Class { label: label.into(), probabilities: vec![0.25, 0.75] }
                })
                .collect())
        }
    }

    impl rein_runtime::RawModel for Fake {
        fn inputs(&self) -> &[rein_runtime::TensorSpec] {
            &[]
        }
        fn outputs(&self) -> &[rein_runtime::TensorSpec] {
            &[]
        }
        fn platform(&self) -> &str {
            "test"
        }
        fn infer_raw(
            &self,
            _: Vec<rein_runtime::RawTensor>,
        ) -> Result<Vec<rein_runtime::RawTensor>, rein_decision::ModelError> {
            Err(rein_decision::ModelError::Run("no raw calls".into()))
        }
    }

    impl ServedModel for Fake {
        fn engine(&self) -> rein_runtime::Engine {
            rein_runtime::Engine::OnnxRuntime { reason: "a test model".into() }
        }
        fn model_labels(&self) -> Option<&[String]> {
            None
        }
        fn warnings(&self) -> &[rein_runtime::LoadWarning] {
            &[]
        }
    }

    #[test]
    fn a_version_that_answers_a_smoke_row_wrongly_or_not_at_all_is_refused_naming_the_row() {
        let categories: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
        let features = vec![
            feature("amount", FeatureKind::Number { min: Some(0.0), max: Some(10.0) }, None),
            feature("kind", FeatureKind::Category { categories }, None),
        ];
        let c = component(features, &["no", "yes"]);
        let fake = |max_rows| -> Arc<dyn ServedModel> {
            Arc::new(Fake { info: rein_decision::ModelInfo { name: "m".into(), version: "v9".into() }, max_rows })
        };
        let e = check_loaded(&c, fake(1000)).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("version `v9` of component `c` is refused: smoke row 4 of 32"), "{text}");
        assert!(text.contains("kind=\"c3\"") && text.contains("label `maybe`, not one of the component's"), "{text}");
        assert!(e.hint().unwrap().contains("rows drawn from the schema"));

        // a version that answers rows alone but fails a call of all of them
        let c = component(vec![feature("amount", FeatureKind::Number { min: None, max: None }, None)], &["no", "yes"]);
        let e = check_loaded(&c, fake(1)).unwrap_err().to_string();
        assert!(e.contains("got no answer in a call of all 32 rows") && e.contains("out of memory"), "{e}");
        assert_eq!(check_loaded(&c, fake(32)).unwrap().version(), "v9", "one that answers every row serves");
    }

    #[test]
    fn an_answer_outside_the_components_labels_or_not_finite_is_named() {
        let c = component(vec![], &["no", "yes"]);
        let class = |label: &str, p: Vec<f64>| ModelOutput::Class { label: label.into(), probabilities: p };
        assert_eq!(answer_problem(&c, &class("yes", vec![0.25, 0.75])), None);
        let p = answer_problem(&c, &class("maybe", vec![0.5, 0.5])).unwrap();
        assert!(p.contains("label `maybe`, not one of the component's: `no`, `yes`"), "{p}");
        assert!(answer_problem(&c, &class("no", vec![f64::NAN, 0.5])).unwrap().contains("NaN"));
        assert!(answer_problem(&c, &class("no", vec![0.5, 0.6])).unwrap().contains("summing to"));
        assert!(answer_problem(&c, &class("no", vec![1.0])).unwrap().contains("1 probabilities for the component's 2"));
        assert!(answer_problem(&c, &ModelOutput::Value(1.0)).unwrap().contains("is a classifier"));
        let r = component(vec![], &[]);
        assert_eq!(answer_problem(&r, &ModelOutput::Value(3.5)), None);
        assert!(answer_problem(&r, &ModelOutput::Value(f64::INFINITY)).unwrap().contains("not a finite number"));
    }
}
