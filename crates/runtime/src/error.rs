//! Load-time errors, shaped so the caller can point at the right line of the system file.

use std::path::PathBuf;

/// Why a model (or the ONNX Runtime library) could not be made ready.
///
/// Each variant names the part of the component that is wrong, so the caller can
/// attach the system file location: `Labels` → `component.locations.labels`,
/// `Inputs` → `component.locations.features`, `Artifact` and `Outputs` →
/// `component.locations.model`; `Library` → the `[runtime]` table (or the command line).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuntimeError {
    /// The ONNX Runtime shared library could not be found or loaded.
    #[error("{message}")]
    Library {
        /// Every path tried, with why it did not load.
        tried: Vec<(PathBuf, String)>,
        /// The whole explanation, including how to install the library.
        message: String,
    },
    /// The model file is missing, unreadable, not ONNX, or ONNX Runtime refuses it.
    #[error("cannot use the model `{}`: {reason}", path.display())]
    Artifact { path: PathBuf, reason: String },
    /// The model's inputs do not match the component's features.
    #[error("the model's inputs do not match the component's features: {0}")]
    Inputs(String),
    /// The model's class labels do not match the component's labels.
    #[error("the model's class labels do not match the component's labels: {0}")]
    Labels(String),
    /// The model's outputs do not fit the component's task.
    #[error("the model's outputs do not fit the component: {0}")]
    Outputs(String),
}

impl RuntimeError {
    /// Which part of the component is wrong: `library`, `model`, `features`, `labels`.
    pub fn part(&self) -> &'static str {
        match self {
            RuntimeError::Library { .. } => "library",
            RuntimeError::Artifact { .. } | RuntimeError::Outputs(_) => "model",
            RuntimeError::Inputs(_) => "features",
            RuntimeError::Labels(_) => "labels",
        }
    }
}
