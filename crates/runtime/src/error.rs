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

impl RuntimeError {
    /// What to do about it, when rein knows: for ONNX Runtime's refusals of a model file,
    /// the export option that avoids the common ones.
    pub fn hint(&self) -> Option<String> {
        match self {
            RuntimeError::Artifact { reason, .. } => onnxruntime_hint(reason),
            _ => None,
        }
    }
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// A one-line hint for the ONNX Runtime load errors that exports commonly meet.
pub(crate) fn onnxruntime_hint(message: &str) -> Option<String> {
    if message.contains("bound to different types") {
        let op = between(message, "of Optype (", ")").unwrap_or("an operator");
        // "bound to different types (tensor(double) and tensor(float) in node (Concat)."
        let types = between(message, "bound to different types (", " in node").unwrap_or("");
        if types.contains("tensor(double)") && types.contains("tensor(float)") {
            return Some(format!(
                "the graph feeds `{op}` both float64 and float32 tensors: cast float64 columns to float32 before \
                 export (e.g. `X.astype(np.float32)`, and `FloatTensorType` in `initial_types`)"
            ));
        }
        return Some(format!(
            "the graph feeds `{op}` tensors of different types ({types}): give the columns one type before export \
             (the same tensor type in `initial_types`)"
        ));
    }
    if message.contains("official released onnx opset versions") {
        let opset = between(message, "Opset ", " ").unwrap_or("?");
        let domain = between(message, "support for domain ", " ").unwrap_or("ai.onnx");
        let till = between(message, "is till opset ", ".").unwrap_or("?");
        return Some(format!(
            "opset {opset} of `{domain}` is newer than ONNX Runtime {} takes (up to {till}): export with an older \
             `target_opset` (skl2onnx: `to_onnx(..., target_opset={{'': 21, 'ai.onnx.ml': 3}})`)",
            crate::ONNXRUNTIME_VERSION
        ));
    }
    if let Some(ir) = between(message, "Unsupported model IR version: ", ",") {
        let max =
            between(message, "max supported IR version: ", "\n").unwrap_or(message.rsplit(' ').next().unwrap_or("?"));
        return Some(format!(
            "the file's IR version {ir} is newer than ONNX Runtime {} reads (up to {}): save it with an older `onnx` \
             package, or set `model.ir_version = {}` before saving",
            crate::ONNXRUNTIME_VERSION,
            max.trim(),
            max.trim()
        ));
    }
    if let Some(node) = between(message, "Could not find an implementation for ", " node") {
        return Some(format!(
            "ONNX Runtime has no kernel for `{node}` with these input types (often float64 where it takes float32): \
             cast the columns to float32 before export, or export with another `target_opset`"
        ));
    }
    if message.contains("Failed to construct locale") {
        return Some(
            "the text pipeline's StringNormalizer asks for a locale this machine lacks: convert the vectorizer with \
             `options={id(vectorizer): {'locale': 'C'}}`"
                .into(),
        );
    }
    if let Some(op) = between(message, "Fatal error: ", " is not a registered function/op") {
        return Some(format!(
            "`{op}` is a custom operator that ONNX Runtime does not have without its library (rein loads none): \
             export without it"
        ));
    }
    if let Some(op) = between(message, "No Op registered for ", " with domain_version of ") {
        return Some(format!(
            "operator `{op}` does not exist at the model's opset of its domain: export with a `target_opset` where it does"
        ));
    }
    None
}

/// ONNX Runtime's message without the C++ source position and function signature it may
/// start with (`/onnxruntime_src/…/model.cc:181 onnxruntime::Model::Model(…) Unsupported…`).
pub(crate) fn tidy_onnxruntime(message: &str) -> String {
    let Some(start) = message.find("/onnxruntime_src/") else { return message.to_string() };
    let rest = &message[start..];
    let Some(open) = rest.find('(') else { return message.to_string() };
    let mut depth = 0usize;
    let mut close = None;
    for (i, c) in rest[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(close) = close else { return message.to_string() };
    // what follows the signature up to the next space (`::<lambda()>`) is still its own
    let Some(space) = rest[close..].find(' ') else { return message.to_string() };
    format!("{}{}", &message[..start], rest[close + space + 1..].trim_end())
}
