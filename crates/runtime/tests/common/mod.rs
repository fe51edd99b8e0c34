//! Shared by the integration tests: the runtime, and components built from the
//! fixtures' expected JSON (see fixtures/README.md).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use rein_runtime::Runtime;
use rein_system::{
    Component, ComponentLocations, Experience, Feature, FeatureKind, FeatureValue, Location, Mode, ModelEngine,
    ModelSpec, Policy, Task, TelemetryPolicy,
};
use serde_json::Value;

/// The ONNX Runtime library: fails (never skips) with the library error's explanation.
pub fn runtime() -> Runtime {
    match Runtime::init(None, None) {
        Ok(rt) => rt,
        Err(e) => panic!("{e}\n(run `bash scripts/setup-onnxruntime.sh` from the repository root)"),
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

pub struct Fixture {
    pub doc: Value,
    pub model: PathBuf,
}

pub fn fixture(name: &str) -> Fixture {
    let root = repo_root();
    let json = root.join("fixtures/expected").join(format!("{name}.json"));
    load_fixture(&json, &root.join("fixtures/models"))
}

pub fn phishing_example() -> Fixture {
    let dir = repo_root().join("examples/phishing-warning");
    load_fixture(&dir.join("expected.json"), &dir)
}

fn load_fixture(json: &Path, model_dir: &Path) -> Fixture {
    let text = std::fs::read_to_string(json).unwrap_or_else(|e| panic!("{}: {e}", json.display()));
    let doc: Value = serde_json::from_str(&text).expect("fixture JSON");
    let model = model_dir.join(doc["model"].as_str().expect("model"));
    Fixture { doc, model }
}

pub fn feature(name: &str, kind: &str) -> Feature {
    let kind = match kind {
        "number" => FeatureKind::Number { min: None, max: None },
        "integer" => FeatureKind::Integer { min: None, max: None },
        "boolean" => FeatureKind::Boolean,
        "category" => FeatureKind::Category { categories: vec![] },
        "text" => FeatureKind::Text { max_length: 10_000 },
        other => panic!("unknown feature type {other}"),
    };
    Feature {
        name: name.into(),
        kind,
        required: true,
        default: None,
        telemetry: TelemetryPolicy::Raw,
        location: Location::default(),
    }
}

pub fn component(name: &str, task: Task, labels: Vec<String>, features: Vec<Feature>, model: &Path) -> Component {
    Component {
        name: name.into(),
        task,
        positive: if task == Task::Binary { Some(labels.len().saturating_sub(1)) } else { None },
        labels,
        model: ModelSpec {
            path: model.to_path_buf(),
            version: None,
            timeout: Duration::from_millis(100),
            max_concurrency: 8,
            engine: ModelEngine::Auto,
            // as the system file defaults it: the file's stem
            name: model.file_stem().unwrap().to_string_lossy().into_owned(),
        },
        features,
        guardrails: vec![],
        fallback: None,
        label_names: Default::default(),
        experience: Experience { policy: Policy::Fixed(Mode::None), caps: vec![] },
        slices: vec![],
        locations: ComponentLocations::default(),
    }
}

impl Fixture {
    pub fn task(&self) -> Task {
        match self.doc["task"].as_str().expect("task") {
            "binary" => Task::Binary,
            "multiclass" => Task::Multiclass,
            "regression" => Task::Regression,
            other => panic!("unknown task {other}"),
        }
    }

    /// The model's labels, in model order.
    pub fn labels(&self) -> Vec<String> {
        self.doc["labels"]
            .as_array()
            .map(|a| a.iter().map(|l| l.as_str().expect("label").to_string()).collect())
            .unwrap_or_default()
    }

    pub fn features(&self) -> Vec<Feature> {
        self.doc["features"]
            .as_array()
            .expect("features")
            .iter()
            .map(|f| feature(f["name"].as_str().expect("name"), f["type"].as_str().expect("type")))
            .collect()
    }

    /// A component with the fixture's schema, declaring `labels` (model order when None).
    pub fn component_with_labels(&self, labels: Option<Vec<String>>) -> Component {
        component(
            self.doc["name"].as_str().unwrap_or("fixture"),
            self.task(),
            labels.unwrap_or_else(|| self.labels()),
            self.features(),
            &self.model,
        )
    }

    pub fn component(&self) -> Component {
        self.component_with_labels(None)
    }

    pub fn rows(&self) -> Vec<Vec<FeatureValue>> {
        let features = self.features();
        self.doc["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|row| {
                row.as_array()
                    .expect("row")
                    .iter()
                    .zip(&features)
                    .map(|(v, f)| match &f.kind {
                        FeatureKind::Number { .. } => FeatureValue::Number(v.as_f64().expect("number")),
                        FeatureKind::Integer { .. } => FeatureValue::Integer(v.as_i64().expect("integer")),
                        FeatureKind::Boolean => FeatureValue::Boolean(v.as_bool().expect("boolean")),
                        _ => FeatureValue::Text(v.as_str().expect("string").to_string()),
                    })
                    .collect()
            })
            .collect()
    }

    pub fn expected(&self) -> &Vec<Value> {
        self.doc["expected"].as_array().expect("expected")
    }
}
