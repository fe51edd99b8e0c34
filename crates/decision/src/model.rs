//! The one trait every model engine implements, and the values that cross it.
//!
//! The decision path never knows which engine answers: ONNX Runtime or rein's own tree
//! evaluator today (`rein-runtime`), a test double in unit tests, a remote model later.

use rein_system::FeatureValue;

/// A model as the decision path sees it: rows of features in schema order in,
/// one output per row out. Implementations must be cheap to call concurrently.
pub trait Model: Send + Sync {
    fn info(&self) -> &ModelInfo;

    /// Runs the model on `rows`, each row holding one value per schema feature in
    /// schema order. Returns exactly one output per row, in the same order.
    fn infer(&self, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError>;
}

/// What identifies a loaded model in responses, telemetry and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Name of the artifact, e.g. the ONNX file's stem.
    pub name: String,
    /// Declared version, or a content hash of the artifact when none is declared.
    pub version: String,
}

/// The raw output of a model for one row.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelOutput {
    /// Classifiers: the predicted label and one probability per component label,
    /// in the order the system file declares the labels.
    Class { label: String, probabilities: Vec<f64> },
    /// Regressors: one value.
    Value(f64),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("the model input does not fit: {0}")]
    Input(String),
    #[error("the model failed while running: {0}")]
    Run(String),
    #[error("the model output is not what the component declares: {0}")]
    Output(String),
    #[error("the model did not answer within {0} ms")]
    Timeout(u64),
    #[error("the model is overloaded: {0} inferences already in flight")]
    Overloaded(usize),
}
