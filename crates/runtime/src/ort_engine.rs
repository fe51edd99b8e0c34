//! The ONNX Runtime engine: a small pool of sessions, each keeping its input tensors per
//! call size, because a session runs one call at a time and making tensors costs allocations.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ort::session::{Session, SessionInputValue, SessionOutputs};
use ort::value::{DynValue, Tensor, TensorElementType};
use rein_decision::{Model, ModelError, ModelInfo, ModelOutput};
use rein_system::{Component, FeatureValue};

use crate::decode::{Head, Outputs};
use crate::raw::RawData;
use crate::raw_infer::RawSignature;
use crate::signature::Signature;
use crate::{Runtime, RuntimeError};

/// A model evaluated by ONNX Runtime.
///
/// `run` in ort rc.15 takes `&mut Session` (ONNX Runtime's run is not safe to share in
/// every execution provider), so the engine keeps a pool of sessions, one per core at
/// most, each behind a mutex, and hands calls round-robin to a free one. Each session
/// uses one intra-op thread: a call scores a handful of rows, far too little to split
/// across threads, and the server's parallelism comes from concurrent requests instead.
pub(crate) struct OrtEngine {
    info: ModelInfo,
    signature: Arc<Signature>,
    head: Arc<Head>,
    raw: RawSignature,
    sessions: Box<[Mutex<Slot>]>,
    next: AtomicUsize,
}

/// A session and the input tensors it keeps between calls.
struct Slot {
    session: Session,
    /// `[n - 1]`: for calls of `n` rows, the numeric input tensors in layout order (`None`
    /// for a string input), made on the first such call. A call writes its rows into them
    /// instead of creating tensors, each of which costs ONNX Runtime several allocations.
    /// String inputs are made for each call: ONNX Runtime owns their strings.
    inputs: Vec<Option<Vec<Option<DynValue>>>>,
}

/// Largest call, in rows, whose input tensors a session keeps.
const KEPT_INPUT_ROWS: usize = 32;

impl OrtEngine {
    /// Makes the session pool from the model file's `bytes` and matches the model's inputs
    /// and outputs against the component (`model_labels`: the classes the graph declares).
    pub(crate) fn load(
        runtime: &Runtime,
        bytes: &[u8],
        component: &Component,
        info: ModelInfo,
        model_labels: Option<&[String]>,
    ) -> Result<OrtEngine, RuntimeError> {
        let pool = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(component.model.max_concurrency.max(1));
        let mut sessions = Vec::with_capacity(pool);
        for _ in 0..pool {
            let session = new_session(runtime, bytes).map_err(|e| RuntimeError::Artifact {
                path: component.model.path.clone(),
                reason: format!("ONNX Runtime cannot load it: {}", crate::error::tidy_onnxruntime(&e.to_string())),
            })?;
            sessions.push(Mutex::new(Slot { session, inputs: (0..KEPT_INPUT_ROWS).map(|_| None).collect() }));
        }
        let first = sessions[0].lock().unwrap_or_else(|p| p.into_inner());
        let signature = Signature::matching(first.session.inputs(), &component.features)?;
        let head = Head::matching(first.session.outputs(), component, model_labels)?;
        let raw = RawSignature::of(first.session.inputs(), first.session.outputs());
        drop(first);
        Ok(OrtEngine {
            info,
            signature: Arc::new(signature),
            head: Arc::new(head),
            raw,
            sessions: sessions.into_boxed_slice(),
            next: AtomicUsize::new(0),
        })
    }

    pub(crate) fn signature(&self) -> &Arc<Signature> {
        &self.signature
    }

    pub(crate) fn head(&self) -> &Arc<Head> {
        &self.head
    }

    pub(crate) fn raw(&self) -> &RawSignature {
        &self.raw
    }

    /// Runs `f` on a free session (or waits for one).
    pub(crate) fn with_session<R>(&self, f: impl FnOnce(&mut Session) -> R) -> R {
        self.with_slot(|slot| f(&mut slot.session))
    }

    fn with_slot<R>(&self, f: impl FnOnce(&mut Slot) -> R) -> R {
        let n = self.sessions.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        for k in 0..n {
            if let Ok(mut slot) = self.sessions[(start + k) % n].try_lock() {
                return f(&mut slot);
            }
        }
        let mut slot = self.sessions[start].lock().unwrap_or_else(|p| p.into_inner());
        f(&mut slot)
    }

    /// One call of checked rows, as many as the model takes at once.
    pub(crate) fn run(&self, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError> {
        let n = rows.len();
        let signature = &*self.signature;
        let columns = signature.columns(rows)?;
        let run_err = ModelError::Run;
        self.with_slot(|slot| {
            let Slot { session, inputs: kept } = slot;
            let kept = match kept.get_mut(n.wrapping_sub(1)) {
                Some(set) => {
                    if set.is_none() {
                        let made = columns
                            .iter()
                            .enumerate()
                            .map(|(i, c)| kept_tensor(c, signature.input_shape(i, n)).transpose())
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(run_err)?;
                        *set = Some(made);
                    }
                    set.as_mut()
                }
                None => None,
            };
            let mut values: Vec<(&str, SessionInputValue<'_>)> = Vec::with_capacity(columns.len());
            let mut kept = kept.map(|set| set.iter_mut());
            for (i, column) in columns.into_iter().enumerate() {
                let tensor = kept.as_mut().and_then(|set| set.next()).and_then(Option::as_mut);
                let value = match tensor {
                    Some(tensor) => {
                        write_into(column, tensor).map_err(run_err)?;
                        SessionInputValue::from(&*tensor)
                    }
                    None => {
                        SessionInputValue::from(raw_to_value(signature.input_shape(i, n), column).map_err(run_err)?)
                    }
                };
                values.push((signature.input_name(i), value));
            }
            let outputs = session.run(values).map_err(|e| ModelError::Run(e.to_string()))?;
            self.head.decode(&outputs, n)
        })
    }
}

impl Model for OrtEngine {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn infer(&self, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError> {
        self.signature.call(rows, |rows| self.run(rows))
    }
}

impl Outputs for SessionOutputs<'_> {
    fn floats(&self, name: &str) -> Option<Result<Vec<f64>, String>> {
        self.get(name).map(floats)
    }

    fn labels(&self, name: &str) -> Option<Result<Vec<String>, String>> {
        self.get(name).map(strings)
    }
}

/// A float tensor's values, widened to f64. Dispatched on the element type: a failed
/// extraction builds an error message, which the request path should not pay for.
fn floats(value: &DynValue) -> Result<Vec<f64>, String> {
    let e = |e: ort::Error| e.to_string();
    match value.dtype().tensor_type() {
        Some(TensorElementType::Float32) => {
            Ok(value.try_extract_tensor::<f32>().map_err(e)?.1.iter().map(|&v| f64::from(v)).collect())
        }
        Some(TensorElementType::Float64) => Ok(value.try_extract_tensor::<f64>().map_err(e)?.1.to_vec()),
        _ => Err(format!("expected a float tensor, got {}", value.dtype())),
    }
}

/// A label tensor (string, int64 or int32) as strings.
fn strings(value: &DynValue) -> Result<Vec<String>, String> {
    let e = |e: ort::Error| e.to_string();
    match value.dtype().tensor_type() {
        Some(TensorElementType::Int64) => {
            Ok(value.try_extract_tensor::<i64>().map_err(e)?.1.iter().map(i64::to_string).collect())
        }
        Some(TensorElementType::Int32) => {
            Ok(value.try_extract_tensor::<i32>().map_err(e)?.1.iter().map(i32::to_string).collect())
        }
        Some(TensorElementType::String) => Ok(value.try_extract_strings().map_err(e)?.1),
        _ => Err(format!("expected a label tensor (string or integer), got {}", value.dtype())),
    }
}

/// An ONNX Runtime tensor of `shape` holding `data`.
pub(crate) fn raw_to_value(shape: Vec<i64>, data: RawData) -> Result<DynValue, String> {
    let e = |e: ort::Error| e.to_string();
    Ok(match data {
        RawData::Fp32(v) => Tensor::from_array((shape, v)).map_err(e)?.into_dyn(),
        RawData::Fp64(v) => Tensor::from_array((shape, v)).map_err(e)?.into_dyn(),
        RawData::Int64(v) => Tensor::from_array((shape, v)).map_err(e)?.into_dyn(),
        RawData::Int32(v) => Tensor::from_array((shape, v)).map_err(e)?.into_dyn(),
        RawData::Bool(v) => Tensor::from_array((shape, v)).map_err(e)?.into_dyn(),
        RawData::Bytes(v) => Tensor::from_string_array((shape, v.as_slice())).map_err(e)?.into_dyn(),
    })
}

/// A zeroed tensor of `data`'s type and `shape`, for later calls to write into; none for
/// strings.
fn kept_tensor(data: &RawData, shape: Vec<i64>) -> Option<Result<DynValue, String>> {
    let zeroed = match data {
        RawData::Fp32(d) => RawData::Fp32(vec![0.0; d.len()]),
        RawData::Fp64(d) => RawData::Fp64(vec![0.0; d.len()]),
        RawData::Int64(d) => RawData::Int64(vec![0; d.len()]),
        RawData::Int32(d) => RawData::Int32(vec![0; d.len()]),
        RawData::Bool(d) => RawData::Bool(vec![false; d.len()]),
        RawData::Bytes(_) => return None,
    };
    Some(raw_to_value(shape, zeroed))
}

/// Writes `data` into a tensor [`kept_tensor`] made for its type and length.
fn write_into(data: RawData, tensor: &mut DynValue) -> Result<(), String> {
    fn copy<T: Copy>(into: ort::Result<(&ort::value::Shape, &mut [T])>, from: &[T]) -> Result<(), String> {
        let (_, into) = into.map_err(|e| e.to_string())?;
        if into.len() != from.len() {
            return Err(format!("a kept input holds {} values, not {}", into.len(), from.len()));
        }
        into.copy_from_slice(from);
        Ok(())
    }
    match data {
        RawData::Fp32(d) => copy(tensor.try_extract_tensor_mut::<f32>(), &d),
        RawData::Fp64(d) => copy(tensor.try_extract_tensor_mut::<f64>(), &d),
        RawData::Int64(d) => copy(tensor.try_extract_tensor_mut::<i64>(), &d),
        RawData::Int32(d) => copy(tensor.try_extract_tensor_mut::<i32>(), &d),
        RawData::Bool(d) => copy(tensor.try_extract_tensor_mut::<bool>(), &d),
        RawData::Bytes(_) => Err("string inputs are never kept".into()),
    }
}

fn new_session(runtime: &Runtime, bytes: &[u8]) -> Result<Session, String> {
    let mut builder = Session::builder(runtime.environment()).map_err(|e| e.to_string())?;
    runtime.append_cpu_provider(&mut builder)?;
    builder
        .with_intra_threads(1)
        .map_err(|e| e.to_string())?
        .with_inter_threads(1)
        .map_err(|e| e.to_string())?
        .commit_from_memory(bytes)
        .map_err(|e| e.to_string())
}
