//! The model runtime: a component's model loaded, checked against the component, and
//! served through one seam whichever engine evaluates it.
//!
//! - [`Runtime`] finds and loads the ONNX Runtime shared library once per process
//!   (`ORT_DYLIB_PATH`, the system file's `runtime.onnxruntime`, then
//!   `.rein/onnxruntime/libonnxruntime.so` upward from the current folder and the
//!   system file's folder), turning a missing library into a clear error, never a panic.
//! - [`load`] (or [`load_system`] for every component) reads a component's `.onnx` file,
//!   checks it against the component (inputs against features, class labels against
//!   declared labels, outputs against the task) and answers an [`Arc<dyn ServedModel>`]:
//!   [`rein_decision::Model`] for the decision path, [`RawModel`] for the Open Inference
//!   Protocol v2 endpoint, and [`ServedModel::engine`], which engine evaluates it and why.
//! - Two engines implement [`rein_decision::Model`]: ONNX Runtime (`ort_engine`) and
//!   rein's own evaluator (`native_engine` over `native`: preprocessing and tree
//!   ensembles, as scikit-learn exports them, far cheaper a call). `choice` serves a
//!   model with rein's only after it agrees with ONNX Runtime on probe rows; raw tensor
//!   calls always go to ONNX Runtime (`raw_infer`).
//! - Both engines share how rows become inputs (`signature`) and how outputs become
//!   answers (`decode`).
//!
//! [`Arc<dyn ServedModel>`]: ServedModel

mod choice;
mod decode;
mod error;
mod inspect;
mod library;
mod native;
mod native_engine;
mod ort_engine;
mod proto;
mod raw;
mod raw_infer;
mod served;
mod signature;
mod warnings;

pub use choice::Engine;
pub use error::RuntimeError;
pub use inspect::{Binding, Draft, DraftFeature, draft};
pub use library::{ONNXRUNTIME_VERSION, PROJECT_LIBRARY, Runtime};
pub use raw::{RawData, RawTensor, TensorDataError, TensorSpec};
pub use raw_infer::RawModel;
pub use served::{LoadReport, ServedModel, load, load_artifact, load_system, load_system_report};
pub use warnings::LoadWarning;
