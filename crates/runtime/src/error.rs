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

#[cfg(test)]
mod tests {
    use super::*;

    /// ONNX Runtime 1.22.1's own words, as it refused real models.
    const OPSET: &str = "/onnxruntime_src/onnxruntime/core/graph/model_load_utils.h:46 void \
        onnxruntime::model_load_utils::ValidateOpsetForDomain(const std::unordered_map<std::__cxx11::basic_string<char>, \
        int>&, const onnxruntime::logging::Logger&, bool, const std::string&, int) ONNX Runtime only *guarantees* \
        support for models stamped with official released onnx opset versions. Opset 30 is under development and \
        support for this is limited. The operator schemas and or other functionality may change before next ONNX \
        release and in this case ONNX Runtime will not guarantee backward compatibility. Current official support for \
        domain ai.onnx is till opset 22.\n";
    const IR: &str = "/onnxruntime_src/onnxruntime/core/graph/model.cc:181 onnxruntime::Model::Model(onnx::ModelProto&&, \
        const onnxruntime::PathString&, const onnxruntime::IOnnxRuntimeOpSchemaRegistryList*, const \
        onnxruntime::logging::Logger&, const onnxruntime::ModelOptions&) Unsupported model IR version: 13, max \
        supported IR version: 10";
    const LOCALE: &str = "Exception during initialization: \
        /onnxruntime_src/onnxruntime/core/providers/cpu/text/string_normalizer.cc:393 \
        onnxruntime::string_normalizer::Locale::Locale(const std::string&)::<lambda()> Failed to construct locale with \
        name:en_US.UTF-8:locale::facet::_S_create_c_locale name not valid:Please, install necessary language-pack-XX \
        and configure locales";

    #[test]
    fn onnx_runtime_messages_lose_their_source_position() {
        assert!(
            tidy_onnxruntime(OPSET).starts_with("ONNX Runtime only *guarantees* support"),
            "{}",
            tidy_onnxruntime(OPSET)
        );
        assert_eq!(tidy_onnxruntime(IR), "Unsupported model IR version: 13, max supported IR version: 10");
        assert!(
            tidy_onnxruntime(LOCALE).starts_with("Exception during initialization: Failed to construct locale"),
            "{}",
            tidy_onnxruntime(LOCALE)
        );
        assert_eq!(tidy_onnxruntime("plain words"), "plain words");
    }

    #[test]
    fn common_load_errors_get_a_hint() {
        let hint = |m: &str| onnxruntime_hint(m).unwrap_or_else(|| panic!("no hint for {m}"));
        let concat = "Type Error: Type parameter (T) of Optype (Concat) bound to different types (tensor(double) and \
                      tensor(float) in node (Concat).";
        assert!(
            hint(concat).starts_with("the graph feeds `Concat` both float64 and float32 tensors"),
            "{}",
            hint(concat)
        );
        let ints = "Type Error: Type parameter (T) of Optype (Concat) bound to different types (tensor(int64) and \
                    tensor(float) in node (Concat).";
        assert!(hint(ints).contains("(tensor(int64) and tensor(float))"), "{}", hint(ints));
        assert!(
            hint(OPSET).contains("opset 30 of `ai.onnx` is newer than ONNX Runtime 1.22.1 takes (up to 22)"),
            "{}",
            hint(OPSET)
        );
        assert!(hint(IR).contains("IR version 13") && hint(IR).contains("`model.ir_version = 10`"), "{}", hint(IR));
        assert!(hint(LOCALE).contains("{'locale': 'C'}"), "{}", hint(LOCALE));
        let missing = "Could not find an implementation for Concat(1) node with name 'Concat'";
        assert!(hint(missing).contains("no kernel for `Concat(1)`"), "{}", hint(missing));
        let custom = "Fatal error: ai.onnx.contrib:Concat(-1) is not a registered function/op";
        assert!(hint(custom).contains("`ai.onnx.contrib:Concat(-1)` is a custom operator"), "{}", hint(custom));
        assert_eq!(onnxruntime_hint("something else went wrong"), None);
    }
}
