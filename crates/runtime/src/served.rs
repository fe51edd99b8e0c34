//! The seam the server holds: a loaded model behind [`ServedModel`], whichever engine
//! evaluates it, so that nothing above the runtime knows ONNX or its engines.

use std::sync::Arc;

use rein_decision::{Model, ModelError, ModelInfo, ModelOutput};
use rein_system::{Component, Diagnostic, Diagnostics, FeatureValue, System};
use sha2::{Digest, Sha256};

use crate::choice::{Engine, Evaluator};
use crate::ort_engine::OrtEngine;
use crate::raw::{RawTensor, TensorSpec};
use crate::raw_infer::RawModel;
use crate::warnings::LoadWarning;
use crate::{Runtime, RuntimeError, proto};

/// A component's loaded model: decision-path calls ([`Model`]) on the engine chosen at
/// load, raw OIP v2 calls ([`RawModel`]), and what to say about it.
pub trait ServedModel: Model + RawModel {
    /// Who evaluates its decision-path calls, and why; for logs and `rein check`.
    fn engine(&self) -> Engine;

    /// The class labels the model file declares, in its column order (`None` for
    /// regressors and classifiers without a classifier node).
    fn model_labels(&self) -> Option<&[String]>;

    /// What the component declares that loads but is likely a mistake (features bound by
    /// position, categories the model's encoder does not know, ...), for `rein check`.
    fn warnings(&self) -> &[LoadWarning];
}

impl std::fmt::Debug for dyn ServedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedModel").field("info", self.info()).field("engine", &self.engine()).finish()
    }
}

/// Loads the component's model and checks it against the component (inputs against
/// features, class labels against the declared labels, outputs against the task), then
/// chooses the engine of its decision-path calls.
pub fn load(component: &Component, runtime: &Runtime) -> Result<Arc<dyn ServedModel>, RuntimeError> {
    let path = &component.model.path;
    let artifact = |reason: String| RuntimeError::Artifact { path: path.clone(), reason };
    let bytes = std::fs::read(path).map_err(|e| {
        artifact(if e.kind() == std::io::ErrorKind::NotFound {
            "no such file".into()
        } else {
            format!("cannot read it: {e}")
        })
    })?;
    load_artifact(component, &bytes, path, runtime)
}

/// As [`load`], for a model's bytes already read (a registered version): `source` names
/// them in errors. The version is the component's `model.version`, or the bytes' short
/// SHA-256 (`sha256:` and 12 hex digits).
pub fn load_artifact(
    component: &Component,
    bytes: &[u8],
    source: &std::path::Path,
    runtime: &Runtime,
) -> Result<Arc<dyn ServedModel>, RuntimeError> {
    let artifact = |reason: String| RuntimeError::Artifact { path: source.to_path_buf(), reason };
    let graph = proto::decode(bytes).map_err(artifact)?;
    let model_labels = proto::class_labels(&graph);
    let version = match &component.model.version {
        Some(v) => v.clone(),
        None => {
            let digest = Sha256::digest(bytes);
            let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
            format!("sha256:{hex}")
        }
    };
    let name = component.model.name.clone();
    let info = ModelInfo { name, version };
    let onnxruntime = OrtEngine::load(runtime, bytes, component, info.clone(), model_labels.as_deref())?;
    let warnings = crate::warnings::of(component, &graph, onnxruntime.signature());
    let evaluator = Evaluator::choose(component, &graph, &onnxruntime, info);
    Ok(Arc::new(Served { onnxruntime, evaluator, model_labels, warnings }))
}

/// Loads ONNX Runtime and every component's model, in component order. Each problem
/// becomes a diagnostic at the place in the system file it is about.
pub fn load_system(system: &System) -> Result<Vec<Arc<dyn ServedModel>>, Diagnostics> {
    load_system_report(system).map(|report| report.models)
}

/// What [`load_system_report`] loaded: the models, in component order, and the warnings
/// about them, each a diagnostic at its place in the system file.
#[derive(Debug)]
pub struct LoadReport {
    pub models: Vec<Arc<dyn ServedModel>>,
    /// Declarations that load but are likely mistakes; the message starts with `warning:`.
    pub warnings: Vec<Diagnostic>,
}

/// [`load_system`], and the warnings of every model ([`ServedModel::warnings`]) placed in
/// the system file, for `rein check` and the server's start-up log.
pub fn load_system_report(system: &System) -> Result<LoadReport, Diagnostics> {
    let runtime = Runtime::for_system(system).map_err(|e| {
        rein_system::whole_file(&system.file, e.to_string(), Some("rein loads ONNX Runtime at start-up".into()))
    })?;
    let mut models = Vec::new();
    let mut problems = Vec::new();
    for component in &system.components {
        match load(component, &runtime) {
            Ok(model) => models.push(model),
            Err(e) => {
                let location = match &e {
                    RuntimeError::Inputs(_) => component.locations.features,
                    RuntimeError::Labels(_) => component.locations.labels,
                    _ => component.locations.model,
                };
                problems.push(Diagnostic {
                    file: system.file.clone(),
                    location,
                    message: format!("component `{}`: {e}", component.name),
                    hint: e.hint(),
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }
    let mut warnings: Vec<Diagnostic> = models
        .iter()
        .flat_map(|m| m.warnings())
        .map(|w| Diagnostic {
            file: system.file.clone(),
            location: w.location,
            message: format!("warning: {}", w.message),
            hint: w.hint.clone(),
        })
        .collect();
    warnings.sort_by_key(|d| (d.location.line, d.location.column));
    Ok(LoadReport { models, warnings })
}

/// What [`load`] makes: ONNX Runtime's engine, which every model has (raw calls always go
/// to it), and the engine chosen for decision-path calls, which may be that one.
struct Served {
    onnxruntime: OrtEngine,
    evaluator: Evaluator,
    model_labels: Option<Vec<String>>,
    warnings: Vec<LoadWarning>,
}

impl Model for Served {
    fn info(&self) -> &ModelInfo {
        self.onnxruntime.info()
    }

    fn infer(&self, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError> {
        match &self.evaluator {
            Evaluator::Rein { engine, .. } => engine.infer(rows),
            Evaluator::OnnxRuntime { .. } => self.onnxruntime.infer(rows),
        }
    }
}

impl RawModel for Served {
    fn inputs(&self) -> &[TensorSpec] {
        self.onnxruntime.inputs()
    }

    fn outputs(&self) -> &[TensorSpec] {
        self.onnxruntime.outputs()
    }

    fn platform(&self) -> &str {
        self.onnxruntime.platform()
    }

    fn infer_raw(&self, inputs: Vec<RawTensor>) -> Result<Vec<RawTensor>, ModelError> {
        self.onnxruntime.infer_raw(inputs)
    }
}

impl ServedModel for Served {
    fn engine(&self) -> Engine {
        self.evaluator.engine()
    }

    fn model_labels(&self) -> Option<&[String]> {
        self.model_labels.as_deref()
    }

    fn warnings(&self) -> &[LoadWarning] {
        &self.warnings
    }
}
