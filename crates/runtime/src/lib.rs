//! The model runtime: ONNX models through ONNX Runtime (`ort` with `load-dynamic`).
//!
//! - [`Runtime`] finds and loads the ONNX Runtime shared library once per process
//!   (`ORT_DYLIB_PATH`, the system file's `runtime.onnxruntime`, then
//!   `.rein/onnxruntime/libonnxruntime.so` upward from the current folder and the
//!   system file's folder), turning a missing library into a clear error, never a panic.
//! - [`OnnxModel`] loads a component's `.onnx` file, checks it against the component
//!   (inputs against features, class labels against declared labels, outputs against the
//!   task) and implements [`rein_decision::Model`]. It also serves raw tensors for the
//!   Open Inference Protocol v2 endpoint ([`OnnxModel::infer_raw`]).
//! - `native` evaluates the graphs of tree models itself (preprocessing and tree
//!   ensembles, as scikit-learn exports them), far cheaper a call than ONNX Runtime;
//!   a model is served that way only after agreeing with ONNX Runtime on probe rows.

mod error;
mod library;
mod model;
mod native;
mod proto;
mod raw;

pub use error::RuntimeError;
pub use library::{ONNXRUNTIME_VERSION, PROJECT_LIBRARY, Runtime};
pub use model::{Engine, OnnxModel};
pub use raw::{RawData, RawTensor, TensorSpec, unsupported_datatype};
