//! [`OnnxModel`]: an ONNX model behind the decision path's [`Model`] trait.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use ort::session::{Session, SessionInputValue, SessionOutputs};
use ort::value::{DynValue, Outlet, Tensor, TensorElementType, ValueType};
use rein_decision::{Model, ModelError, ModelInfo, ModelOutput};
use rein_system::{Component, Feature, FeatureKind, FeatureValue, ModelEngine, Task};
use sha2::{Digest, Sha256};

use crate::native::{self, Graph};
use crate::raw::{RawData, RawTensor, TensorSpec, oip_datatype, onnx_type_name};
use crate::{Runtime, RuntimeError, proto};

/// An ONNX model loaded for one component, checked against its schema, labels and task.
///
/// Two input layouts are understood, detected at load:
/// - **single**: one float tensor `[N, k]`, the `k` features (all numeric) in schema order;
/// - **named**: one input per feature, matched by name (what skl2onnx makes of a
///   `ColumnTransformer` exported with `initial_types`): `tensor(float|double)` ←
///   number/integer/boolean, `tensor(int64|int32)` ← integer/boolean, `tensor(bool)` ←
///   boolean, `tensor(string)` ← category/text; shape `[N, 1]` or `[N]`.
///
/// `run` in ort rc.15 takes `&mut Session` (ONNX Runtime's run is not safe to share in
/// every execution provider), so the model keeps a small pool of sessions, one per core
/// at most, each behind a mutex, and hands calls round-robin to a free one. Each session
/// uses one intra-op thread: a call scores a handful of rows, far too little to split
/// across threads, and the server's parallelism comes from concurrent requests instead.
pub struct OnnxModel {
    info: ModelInfo,
    path: PathBuf,
    features: Vec<Feature>,
    layout: Layout,
    /// `Some(1)` when the model's batch dimension is fixed at 1: rows are run one by one.
    fixed_batch: Option<usize>,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    output_types: Vec<TensorElementType>,
    head: Head,
    model_labels: Option<Vec<String>>,
    sessions: Box<[Mutex<Slot>]>,
    next: AtomicUsize,
    /// The graph rein evaluates itself, when it serves this model's calls.
    native: Option<Native>,
    engine: Engine,
}

/// Who evaluates a model's calls through [`rein_decision::Model`] (raw OIP v2 calls
/// always go to ONNX Runtime), and why.
#[derive(Debug, Clone, PartialEq)]
pub enum Engine {
    /// rein itself; it agreed with ONNX Runtime on this many probe rows at load.
    Rein { probe_rows: usize },
    /// ONNX Runtime, for the reason given.
    OnnxRuntime { reason: String },
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Engine::Rein { probe_rows } => {
                write!(f, "rein evaluates the graph itself (it agreed with ONNX Runtime on {probe_rows} probe rows)")
            }
            Engine::OnnxRuntime { reason } => write!(f, "ONNX Runtime evaluates the graph: {reason}"),
        }
    }
}

/// A [`Graph`] compiled from the model, and where each of its inputs is in the layout.
struct Native {
    graph: Graph,
    inputs: Vec<usize>,
}

/// Rows a native graph must agree with ONNX Runtime on before it serves.
const PROBE_ROWS: usize = 256;

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

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("info", &self.info)
            .field("path", &self.path)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

enum Layout {
    Single { name: String, ty: TensorElementType, width: usize },
    Named(Vec<NamedInput>),
}

struct NamedInput {
    name: String,
    feature: usize,
    ty: TensorElementType,
    rank: usize,
}

enum Head {
    Class {
        /// The label output, if the model has one; otherwise the label is the most probable class.
        label: Option<String>,
        probabilities: String,
        /// Number of probability columns the model gives.
        width: usize,
        /// For each declared label (component order), its column in the model's output.
        order: Vec<usize>,
        declared: Vec<String>,
    },
    Value {
        output: String,
    },
}

impl OnnxModel {
    /// Loads the component's model and checks it against the component: inputs against
    /// features, class labels against the declared labels, outputs against the task.
    pub fn load(component: &Component, runtime: &Runtime) -> Result<OnnxModel, RuntimeError> {
        let path = component.model.path.clone();
        let artifact = |reason: String| RuntimeError::Artifact { path: path.clone(), reason };
        let bytes = std::fs::read(&path).map_err(|e| {
            artifact(if e.kind() == std::io::ErrorKind::NotFound {
                "no such file".into()
            } else {
                format!("cannot read it: {e}")
            })
        })?;
        let graph = proto::decode(&bytes).map_err(&artifact)?;
        let model_labels = proto::class_labels(&graph);

        let version = match &component.model.version {
            Some(v) => v.clone(),
            None => {
                let digest = Sha256::digest(&bytes);
                let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
                format!("sha256:{hex}")
            }
        };
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| component.name.clone());

        let pool = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(component.model.max_concurrency.max(1));
        let mut sessions = Vec::with_capacity(pool);
        for _ in 0..pool {
            sessions.push(Mutex::new(Slot {
                session: new_session(runtime, &bytes)
                    .map_err(|e| artifact(format!("ONNX Runtime cannot load it: {e}")))?,
                inputs: (0..KEPT_INPUT_ROWS).map(|_| None).collect(),
            }));
        }
        let first = sessions[0].lock().unwrap_or_else(|p| p.into_inner());
        let model_inputs = first.session.inputs();
        let model_outputs = first.session.outputs();

        let (layout, fixed_batch) = match_inputs(model_inputs, &component.features)?;
        let head = match_outputs(model_outputs, component, model_labels.as_deref())?;
        let (inputs, _) = specs(model_inputs);
        let (outputs, output_types) = specs(model_outputs);
        drop(first);

        let mut model = OnnxModel {
            info: ModelInfo { name, version },
            path,
            features: component.features.clone(),
            layout,
            fixed_batch,
            inputs,
            outputs,
            output_types,
            head,
            model_labels,
            sessions: sessions.into_boxed_slice(),
            next: AtomicUsize::new(0),
            native: None,
            engine: Engine::OnnxRuntime { reason: "`engine = \"onnxruntime\"` in the system file".into() },
        };
        if component.model.engine == ModelEngine::Auto {
            match model.native_graph(&graph).and_then(|native| model.agreement(&native).map(|rows| (native, rows))) {
                Ok((native, probe_rows)) => {
                    model.native = Some(native);
                    model.engine = Engine::Rein { probe_rows };
                }
                Err(reason) => model.engine = Engine::OnnxRuntime { reason },
            }
        }
        Ok(model)
    }

    /// Who evaluates this model's calls, and why.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The model's graph compiled for rein to evaluate, its inputs wired to the layout.
    fn native_graph(&self, model: &proto::ModelProto) -> Result<Native, String> {
        let graph = Graph::compile(model)?;
        let inputs = graph
            .input_names()
            .map(|name| {
                (0..self.layout_len())
                    .find(|&i| self.input_name(i) == name)
                    .ok_or_else(|| format!("graph input `{name}` is not one rein feeds"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if inputs.len() != self.layout_len() {
            return Err("the graph's inputs are not the model's".into());
        }
        Ok(Native { graph, inputs })
    }

    /// Rows of the schema's kinds, each run by both engines alone and all of them in one
    /// call: when every answer agrees (or both engines refuse the row), the number of rows
    /// both answered, which must be most of them.
    fn agreement(&self, native: &Native) -> Result<usize, String> {
        let rows = probe_rows(&self.features, PROBE_ROWS);
        let refs: Vec<&[FeatureValue]> = rows.iter().map(Vec::as_slice).collect();
        let compare = |rows: &[&[FeatureValue]], what: &str| -> Result<bool, String> {
            match (self.infer_native(native, rows), self.infer_onnxruntime(rows)) {
                (Ok(ours), Ok(theirs)) => match ours.iter().zip(&theirs).position(|(a, b)| !agree(a, b)) {
                    Some(i) => Err(format!(
                        "on {what}, rein's evaluation gave {:?} where ONNX Runtime gave {:?}",
                        ours[i], theirs[i]
                    )),
                    None if ours.len() != theirs.len() => {
                        Err(format!("on {what}, the engines gave different row counts"))
                    }
                    None => Ok(true),
                },
                (Err(_), Err(_)) => Ok(false),
                (Err(e), Ok(_)) => Err(format!("on {what}, rein's evaluation failed where ONNX Runtime did not: {e}")),
                (Ok(_), Err(e)) => Err(format!("on {what}, ONNX Runtime failed where rein's evaluation did not: {e}")),
            }
        };
        let mut answered = 0;
        for (i, row) in refs.iter().enumerate() {
            answered += usize::from(compare(std::slice::from_ref(row), &format!("probe row {i}"))?);
        }
        if answered < refs.len() / 2 {
            return Err(format!(
                "ONNX Runtime answered only {answered} of {} probe rows, too few to check rein's evaluation against",
                refs.len()
            ));
        }
        if answered == refs.len() {
            compare(&refs, &format!("{} probe rows in one call", refs.len()))?;
        }
        Ok(answered)
    }

    fn layout_len(&self) -> usize {
        match &self.layout {
            Layout::Single { .. } => 1,
            Layout::Named(inputs) => inputs.len(),
        }
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The class labels the ONNX graph declares, in the model's column order
    /// (`None` for regressors and classifiers without a classifier node).
    pub fn model_labels(&self) -> Option<&[String]> {
        self.model_labels.as_deref()
    }

    /// The model's inputs, for OIP v2 metadata.
    pub fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    /// The model's outputs, for OIP v2 metadata.
    pub fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    /// Runs the model on raw tensors (OIP v2), bypassing the component's schema.
    /// Every model input must be given once, with the model's datatype and a shape
    /// that fits the model's; returns every model output, in the model's order.
    pub fn infer_raw(&self, inputs: Vec<RawTensor>) -> Result<Vec<RawTensor>, ModelError> {
        let mut values: Vec<(String, DynValue)> = Vec::with_capacity(inputs.len());
        for tensor in inputs {
            let Some(i) = self.inputs.iter().position(|s| s.name == tensor.name) else {
                return Err(ModelError::Input(format!(
                    "the model has no input `{}`; its inputs are {}",
                    tensor.name,
                    describe_specs(&self.inputs)
                )));
            };
            if values.iter().any(|(n, _)| *n == tensor.name) {
                return Err(ModelError::Input(format!("input `{}` is given twice", tensor.name)));
            }
            let spec = &self.inputs[i];
            if tensor.datatype != spec.datatype {
                return Err(ModelError::Input(format!(
                    "input `{}` is {} but the model takes {}",
                    tensor.name, tensor.datatype, spec.datatype
                )));
            }
            if tensor.data.datatype() != spec.datatype {
                return Err(ModelError::Input(format!(
                    "input `{}` declares {} but its data is {}",
                    tensor.name,
                    tensor.datatype,
                    tensor.data.datatype()
                )));
            }
            let fits = tensor.shape.len() == spec.shape.len()
                && tensor.shape.iter().zip(&spec.shape).all(|(&got, &want)| got >= 0 && (want < 0 || got == want));
            if !fits {
                return Err(ModelError::Input(format!(
                    "input `{}` has shape {:?} but the model takes {:?} (-1: any size)",
                    tensor.name, tensor.shape, spec.shape
                )));
            }
            let count = tensor.shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d as usize));
            if count != Some(tensor.data.len()) {
                return Err(ModelError::Input(format!(
                    "input `{}` has shape {:?} but {} values",
                    tensor.name,
                    tensor.shape,
                    tensor.data.len()
                )));
            }
            let value = raw_to_value(tensor.shape.clone(), tensor.data)
                .map_err(|e| ModelError::Input(format!("input `{}`: {e}", tensor.name)))?;
            values.push((tensor.name, value));
        }
        let missing: Vec<&str> =
            self.inputs.iter().filter(|s| !values.iter().any(|(n, _)| *n == s.name)).map(|s| s.name.as_str()).collect();
        if !missing.is_empty() {
            return Err(ModelError::Input(format!(
                "missing input {}; the model's inputs are {}",
                quote_list(&missing),
                describe_specs(&self.inputs)
            )));
        }
        self.with_slot(|slot| {
            let outputs = slot.session.run(values).map_err(|e| ModelError::Run(e.to_string()))?;
            let mut out = Vec::with_capacity(self.outputs.len());
            for (spec, ty) in self.outputs.iter().zip(&self.output_types) {
                let value = outputs
                    .get(&spec.name)
                    .ok_or_else(|| ModelError::Output(format!("the model gave no output `{}`", spec.name)))?;
                let (shape, data) =
                    value_to_raw(value, *ty).map_err(|e| ModelError::Output(format!("output `{}`: {e}", spec.name)))?;
                out.push(RawTensor { name: spec.name.clone(), datatype: spec.datatype.clone(), shape, data });
            }
            Ok(out)
        })
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

    /// The rows as one column of tensor data per model input, in layout order, each
    /// value checked against the input's element type.
    fn columns(&self, rows: &[&[FeatureValue]]) -> Result<Vec<RawData>, ModelError> {
        match &self.layout {
            Layout::Single { name, ty, width } => {
                let mut data = Vec::with_capacity(rows.len() * width);
                for (r, row) in rows.iter().enumerate() {
                    for (value, feature) in row.iter().zip(&self.features) {
                        data.push(value.as_f64().ok_or_else(|| value_error(r, feature, value, name, *ty))?);
                    }
                }
                Ok(vec![match ty {
                    TensorElementType::Float64 => RawData::Fp64(data),
                    _ => RawData::Fp32(data.into_iter().map(|v| v as f32).collect()),
                }])
            }
            Layout::Named(inputs) => inputs
                .iter()
                .map(|input| {
                    let feature = &self.features[input.feature];
                    let cells = rows.iter().map(|row| &row[input.feature]).enumerate();
                    let err = |r: usize, v: &FeatureValue| value_error(r, feature, v, &input.name, input.ty);
                    Ok(match input.ty {
                        TensorElementType::Float32 => RawData::Fp32(
                            cells
                                .map(|(r, v)| v.as_f64().map(|x| x as f32).ok_or_else(|| err(r, v)))
                                .collect::<Result<_, _>>()?,
                        ),
                        TensorElementType::Float64 => RawData::Fp64(
                            cells.map(|(r, v)| v.as_f64().ok_or_else(|| err(r, v))).collect::<Result<_, _>>()?,
                        ),
                        TensorElementType::Int64 => RawData::Int64(
                            cells.map(|(r, v)| v.as_i64().ok_or_else(|| err(r, v))).collect::<Result<_, _>>()?,
                        ),
                        TensorElementType::Int32 => RawData::Int32(
                            cells
                                .map(|(r, v)| v.as_i64().and_then(|x| i32::try_from(x).ok()).ok_or_else(|| err(r, v)))
                                .collect::<Result<_, _>>()?,
                        ),
                        TensorElementType::Bool => RawData::Bool(
                            cells
                                .map(|(r, v)| match v {
                                    FeatureValue::Boolean(b) => Ok(*b),
                                    _ => Err(err(r, v)),
                                })
                                .collect::<Result<_, _>>()?,
                        ),
                        _ => RawData::Bytes(
                            cells
                                .map(|(r, v)| v.as_str().map(str::to_owned).ok_or_else(|| err(r, v)))
                                .collect::<Result<_, _>>()?,
                        ),
                    })
                })
                .collect(),
        }
    }

    /// The shape of input `i` (layout order) for `n` rows.
    fn input_shape(&self, i: usize, n: usize) -> Vec<i64> {
        match &self.layout {
            Layout::Single { width, .. } => vec![n as i64, *width as i64],
            Layout::Named(inputs) if inputs[i].rank == 1 => vec![n as i64],
            Layout::Named(_) => vec![n as i64, 1],
        }
    }

    fn input_name(&self, i: usize) -> &str {
        match &self.layout {
            Layout::Single { name, .. } => name,
            Layout::Named(inputs) => &inputs[i].name,
        }
    }

    fn infer_batch(&self, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError> {
        match &self.native {
            Some(native) => self.infer_native(native, rows),
            None => self.infer_onnxruntime(rows),
        }
    }

    fn infer_native(&self, native: &Native, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError> {
        let n = rows.len();
        let mut columns: Vec<Option<RawData>> = self.columns(rows)?.into_iter().map(Some).collect();
        let mut inputs = Vec::with_capacity(native.inputs.len());
        for &i in &native.inputs {
            let data = columns[i].take().ok_or_else(|| ModelError::Run("an input is wired twice".into()))?;
            let shape = self.input_shape(i, n).into_iter().map(|d| d as usize).collect();
            inputs.push(native::Tensor::new(shape, data).map_err(ModelError::Run)?);
        }
        let tensors = native.graph.run(inputs).map_err(ModelError::Run)?;
        let names: Vec<&str> = native.graph.output_names().collect();
        self.read_outputs(&NativeOutputs { names, tensors }, n)
    }

    fn infer_onnxruntime(&self, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError> {
        let n = rows.len();
        let columns = self.columns(rows)?;
        let run_err = ModelError::Run;
        self.with_slot(|slot| {
            let Slot { session, inputs: kept } = slot;
            let kept = match kept.get_mut(n.wrapping_sub(1)) {
                Some(set) => {
                    if set.is_none() {
                        let made = columns
                            .iter()
                            .enumerate()
                            .map(|(i, c)| kept_tensor(c, self.input_shape(i, n)).transpose())
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
                    None => SessionInputValue::from(raw_to_value(self.input_shape(i, n), column).map_err(run_err)?),
                };
                values.push((self.input_name(i), value));
            }
            let outputs = session.run(values).map_err(|e| ModelError::Run(e.to_string()))?;
            self.read_outputs(&outputs, n)
        })
    }

    fn read_outputs(&self, outputs: &impl Outputs, n: usize) -> Result<Vec<ModelOutput>, ModelError> {
        match &self.head {
            Head::Value { output } => {
                let values: Vec<f64> = read_output(output, outputs.floats(output))?;
                if values.len() != n {
                    return Err(ModelError::Output(format!(
                        "output `{output}` has {} values for {n} rows",
                        values.len()
                    )));
                }
                Ok(values.into_iter().map(ModelOutput::Value).collect())
            }
            Head::Class { label, probabilities, width, order, declared } => {
                let probs: Vec<f64> = read_output(probabilities, outputs.floats(probabilities))?;
                if probs.len() != n * width {
                    return Err(ModelError::Output(format!(
                        "output `{probabilities}` has {} values for {n} rows of {width} classes",
                        probs.len()
                    )));
                }
                let labels = match label {
                    Some(name) => {
                        let labels: Vec<String> = read_output(name, outputs.labels(name))?;
                        if labels.len() != n {
                            return Err(ModelError::Output(format!(
                                "output `{name}` has {} labels for {n} rows",
                                labels.len()
                            )));
                        }
                        Some(labels)
                    }
                    None => None,
                };
                let mut out = Vec::with_capacity(n);
                for r in 0..n {
                    let row = &probs[r * width..(r + 1) * width];
                    let probabilities: Vec<f64> = order.iter().map(|&c| row[c]).collect();
                    let label = match &labels {
                        Some(labels) => {
                            let l = &labels[r];
                            if !declared.contains(l) {
                                return Err(ModelError::Output(format!(
                                    "the model predicted `{l}`, which is not one of the labels {}",
                                    quote_list(declared)
                                )));
                            }
                            l.clone()
                        }
                        None => {
                            let best = probabilities
                                .iter()
                                .enumerate()
                                .fold(None::<(usize, f64)>, |best, (i, &p)| match best {
                                    Some((_, bp)) if bp >= p => best,
                                    _ => Some((i, p)),
                                })
                                .map(|(i, _)| i)
                                .unwrap_or(0);
                            declared.get(best).cloned().unwrap_or_default()
                        }
                    };
                    out.push(ModelOutput::Class { label, probabilities });
                }
                Ok(out)
            }
        }
    }
}

impl Model for OnnxModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn infer(&self, rows: &[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        for (r, row) in rows.iter().enumerate() {
            if row.len() != self.features.len() {
                return Err(ModelError::Input(format!(
                    "row {r} has {} values but the schema has {} features",
                    row.len(),
                    self.features.len()
                )));
            }
        }
        match self.fixed_batch {
            Some(b) if b != rows.len() => {
                let mut out = Vec::with_capacity(rows.len());
                for chunk in rows.chunks(b) {
                    out.extend(self.infer_batch(chunk)?);
                }
                Ok(out)
            }
            _ => self.infer_batch(rows),
        }
    }
}

fn read_output<T>(name: &str, got: Option<Result<T, String>>) -> Result<T, ModelError> {
    got.ok_or_else(|| ModelError::Output(format!("the model gave no output `{name}`")))?
        .map_err(|e| ModelError::Output(format!("output `{name}`: {e}")))
}

/// A call's outputs, by name, whichever engine made them.
trait Outputs {
    /// A float output's values, widened to f64; `None` when there is no such output.
    fn floats(&self, name: &str) -> Option<Result<Vec<f64>, String>>;
    /// A label output (string or integer) as strings.
    fn labels(&self, name: &str) -> Option<Result<Vec<String>, String>>;
}

impl Outputs for SessionOutputs<'_> {
    fn floats(&self, name: &str) -> Option<Result<Vec<f64>, String>> {
        self.get(name).map(|v| floats(v).map(|(_, values)| values))
    }

    fn labels(&self, name: &str) -> Option<Result<Vec<String>, String>> {
        self.get(name).map(strings)
    }
}

struct NativeOutputs<'a> {
    names: Vec<&'a str>,
    tensors: Vec<native::Tensor>,
}

impl NativeOutputs<'_> {
    fn get(&self, name: &str) -> Option<&RawData> {
        self.names.iter().position(|n| *n == name).map(|i| &self.tensors[i].data)
    }
}

impl Outputs for NativeOutputs<'_> {
    fn floats(&self, name: &str) -> Option<Result<Vec<f64>, String>> {
        self.get(name).map(|data| match data {
            RawData::Fp32(v) => Ok(v.iter().map(|&x| f64::from(x)).collect()),
            RawData::Fp64(v) => Ok(v.clone()),
            other => Err(format!("expected a float tensor, got {}", other.datatype())),
        })
    }

    fn labels(&self, name: &str) -> Option<Result<Vec<String>, String>> {
        self.get(name).map(|data| match data {
            RawData::Bytes(v) => Ok(v.clone()),
            RawData::Int64(v) => Ok(v.iter().map(i64::to_string).collect()),
            RawData::Int32(v) => Ok(v.iter().map(i32::to_string).collect()),
            other => Err(format!("expected a label tensor (string or integer), got {}", other.datatype())),
        })
    }
}

/// Whether two engines' answers for a row agree: the same label, and scores equal but
/// for float rounding in the last places.
fn agree(a: &ModelOutput, b: &ModelOutput) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0) || (x.is_nan() && y.is_nan());
    match (a, b) {
        (ModelOutput::Class { label: la, probabilities: pa }, ModelOutput::Class { label: lb, probabilities: pb }) => {
            la == lb && pa.len() == pb.len() && pa.iter().zip(pb).all(|(x, y)| close(*x, *y))
        }
        (ModelOutput::Value(x), ModelOutput::Value(y)) => close(*x, *y),
        _ => false,
    }
}

/// `count` rows of the schema's kinds, the same each time: bounds, zero and values over
/// many magnitudes within the bounds, each category in turn, short texts.
fn probe_rows(features: &[Feature], count: usize) -> Vec<Vec<FeatureValue>> {
    // splitmix64: a fixed sequence, no dependency.
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut unit = move || (next() >> 11) as f64 / (1u64 << 53) as f64;
    let mut number = |min: Option<f64>, max: Option<f64>, r: usize| -> f64 {
        let u = unit();
        let v = match (r % 4, min, max) {
            (0, Some(lo), _) => lo,
            (1, _, Some(hi)) => hi,
            (2, Some(lo), Some(hi)) => lo + u * (hi - lo),
            _ => {
                let magnitude = 10f64.powf(u * 8.0 - 2.0);
                if unit() < 0.3 {
                    -magnitude
                } else if unit() < 0.05 {
                    0.0
                } else {
                    magnitude
                }
            }
        };
        v.clamp(min.unwrap_or(f64::MIN), max.unwrap_or(f64::MAX))
    };
    (0..count)
        .map(|r| {
            features
                .iter()
                .enumerate()
                .map(|(f, feature)| {
                    let r = r + f;
                    match &feature.kind {
                        FeatureKind::Number { min, max } => FeatureValue::Number(number(*min, *max, r)),
                        FeatureKind::Integer { min, max } => FeatureValue::Integer(
                            number(min.map(|m| m as f64), max.map(|m| m as f64), r).round() as i64,
                        ),
                        FeatureKind::Boolean => FeatureValue::Boolean(r % 2 == 0),
                        FeatureKind::Category { categories } if !categories.is_empty() => {
                            FeatureValue::Text(categories[r % categories.len()].clone())
                        }
                        FeatureKind::Category { .. } => FeatureValue::Text(String::new()),
                        FeatureKind::Text { max_length } => {
                            let words = ["the", "claim", "deadline", "court", "tenant", "refund", "notice"];
                            let text: Vec<&str> = (0..r % 9).map(|k| words[(r * 7 + k) % words.len()]).collect();
                            FeatureValue::Text(text.join(" ").chars().take(*max_length).collect())
                        }
                    }
                })
                .collect()
        })
        .collect()
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

fn value_error(row: usize, feature: &Feature, value: &FeatureValue, input: &str, ty: TensorElementType) -> ModelError {
    let got = match value {
        FeatureValue::Number(_) => "a number",
        FeatureValue::Integer(_) => "an integer",
        FeatureValue::Boolean(_) => "a boolean",
        FeatureValue::Text(_) => "a string",
    };
    ModelError::Input(format!(
        "row {row}: feature `{}` is {got}, which model input `{input}` (tensor({})) cannot take",
        feature.name,
        onnx_type_name(ty)
    ))
}

fn specs(outlets: &[Outlet]) -> (Vec<TensorSpec>, Vec<TensorElementType>) {
    outlets
        .iter()
        .filter_map(|o| match o.dtype() {
            ValueType::Tensor { ty, shape, .. } => Some((
                TensorSpec {
                    name: o.name().to_string(),
                    datatype: oip_datatype(*ty).to_string(),
                    shape: shape.to_vec(),
                },
                *ty,
            )),
            _ => None,
        })
        .unzip()
}

fn describe_outlet(o: &Outlet) -> String {
    match o.dtype() {
        ValueType::Tensor { ty, shape, .. } => {
            format!("`{}` tensor({}) {:?}", o.name(), onnx_type_name(*ty), shape.to_vec())
        }
        other => format!("`{}` {other}", o.name()),
    }
}

fn describe_outlets(outlets: &[Outlet]) -> String {
    outlets.iter().map(describe_outlet).collect::<Vec<_>>().join(", ")
}

fn describe_specs(specs: &[TensorSpec]) -> String {
    specs.iter().map(|s| format!("`{}` {} {:?}", s.name, s.datatype, s.shape)).collect::<Vec<_>>().join(", ")
}

fn describe_features(features: &[Feature]) -> String {
    features.iter().map(|f| format!("`{}` {}", f.name, f.kind.type_name())).collect::<Vec<_>>().join(", ")
}

fn quote_list<S: AsRef<str>>(items: &[S]) -> String {
    items.iter().map(|s| format!("`{}`", s.as_ref())).collect::<Vec<_>>().join(", ")
}

/// Which feature kinds an input element type can take.
fn accepts(ty: TensorElementType, kind: &FeatureKind) -> bool {
    match ty {
        TensorElementType::Float32 | TensorElementType::Float64 => kind.is_numeric(),
        TensorElementType::Int64 | TensorElementType::Int32 => {
            matches!(kind, FeatureKind::Integer { .. } | FeatureKind::Boolean)
        }
        TensorElementType::Bool => matches!(kind, FeatureKind::Boolean),
        TensorElementType::String => matches!(kind, FeatureKind::Category { .. } | FeatureKind::Text { .. }),
        _ => false,
    }
}

fn what_accepts(ty: TensorElementType) -> &'static str {
    match ty {
        TensorElementType::Float32 | TensorElementType::Float64 => "number, integer or boolean",
        TensorElementType::Int64 | TensorElementType::Int32 => "integer or boolean",
        TensorElementType::Bool => "boolean",
        TensorElementType::String => "category or text",
        _ => "no feature type",
    }
}

fn inputs_error(problems: &[String], model_inputs: &[Outlet], features: &[Feature]) -> RuntimeError {
    let mut message = problems.join("; ");
    let _ = write!(
        message,
        "\n  model inputs: {}\n  schema features: {}",
        describe_outlets(model_inputs),
        describe_features(features)
    );
    RuntimeError::Inputs(message)
}

/// The batch dimension: open (-1) is fine, fixed 1 means row by row.
fn batch_dim(dim: i64) -> Result<Option<usize>, String> {
    match dim {
        d if d < 0 => Ok(None),
        1 => Ok(Some(1)),
        d => Err(format!("its batch dimension is fixed at {d}; rein needs it open (-1) or 1")),
    }
}

fn match_inputs(model_inputs: &[Outlet], features: &[Feature]) -> Result<(Layout, Option<usize>), RuntimeError> {
    let is_float = |ty: &TensorElementType| matches!(ty, TensorElementType::Float32 | TensorElementType::Float64);
    let single = match model_inputs {
        [only] => match only.dtype() {
            ValueType::Tensor { ty, .. } if is_float(ty) => !(features.len() == 1 && features[0].name == only.name()),
            _ => false,
        },
        _ => false,
    };
    if single {
        let only = &model_inputs[0];
        let ValueType::Tensor { ty, shape, .. } = only.dtype() else {
            return Err(inputs_error(&["the model input is not a tensor".into()], model_inputs, features));
        };
        let mut problems = Vec::new();
        let k = features.len();
        let mut fixed = None;
        if shape.len() != 2 {
            problems.push(format!(
                "model input `{}` has shape {:?}; a single input must be [N, {k}]",
                only.name(),
                shape.to_vec()
            ));
        } else {
            match batch_dim(shape[0]) {
                Ok(b) => fixed = b,
                Err(e) => problems.push(format!("model input `{}`: {e}", only.name())),
            }
            if shape[1] >= 0 && shape[1] as usize != k {
                problems.push(format!(
                    "model input `{}` takes {} features (shape {:?}) but the schema has {k}",
                    only.name(),
                    shape[1],
                    shape.to_vec()
                ));
            }
        }
        for f in features.iter().filter(|f| !f.kind.is_numeric()) {
            problems.push(format!(
                "feature `{}` is {} but model input `{}` is tensor({}), which takes only numeric features",
                f.name,
                f.kind.type_name(),
                only.name(),
                onnx_type_name(*ty)
            ));
        }
        if !problems.is_empty() {
            return Err(inputs_error(&problems, model_inputs, features));
        }
        return Ok((Layout::Single { name: only.name().to_string(), ty: *ty, width: k }, fixed));
    }

    // One named input per feature.
    let mut problems = Vec::new();
    let mut named = Vec::new();
    let mut fixed = None;
    for input in model_inputs {
        let Some(index) = features.iter().position(|f| f.name == input.name()) else {
            problems.push(format!("model input `{}` has no feature of that name", input.name()));
            continue;
        };
        let feature = &features[index];
        let ValueType::Tensor { ty, shape, .. } = input.dtype() else {
            problems.push(format!("model input `{}` is {}, not a tensor", input.name(), input.dtype()));
            continue;
        };
        if !accepts(*ty, &feature.kind) {
            problems.push(format!(
                "model input `{}` is tensor({}) but feature `{}` is {} (tensor({}) takes {})",
                input.name(),
                onnx_type_name(*ty),
                feature.name,
                feature.kind.type_name(),
                onnx_type_name(*ty),
                what_accepts(*ty)
            ));
            continue;
        }
        let shape_ok = match shape.len() {
            1 => true,
            2 => shape[1] < 0 || shape[1] == 1,
            _ => false,
        };
        if !shape_ok {
            problems.push(format!(
                "model input `{}` has shape {:?}; one input per feature must be [N, 1] or [N]",
                input.name(),
                shape.to_vec()
            ));
            continue;
        }
        match batch_dim(shape[0]) {
            Ok(b) => fixed = fixed.or(b),
            Err(e) => {
                problems.push(format!("model input `{}`: {e}", input.name()));
                continue;
            }
        }
        named.push(NamedInput { name: input.name().to_string(), feature: index, ty: *ty, rank: shape.len() });
    }
    for f in features {
        if !model_inputs.iter().any(|i| i.name() == f.name) {
            problems.push(format!("feature `{}` ({}) is not a model input", f.name, f.kind.type_name()));
        }
    }
    if !problems.is_empty() {
        return Err(inputs_error(&problems, model_inputs, features));
    }
    Ok((Layout::Named(named), fixed))
}

fn match_outputs(
    model_outputs: &[Outlet],
    component: &Component,
    model_labels: Option<&[String]>,
) -> Result<Head, RuntimeError> {
    let tensor = |o: &Outlet| match o.dtype() {
        ValueType::Tensor { ty, shape, .. } => Some((*ty, shape.to_vec())),
        _ => None,
    };
    let is_float = |ty: TensorElementType| matches!(ty, TensorElementType::Float32 | TensorElementType::Float64);
    let has_non_tensor = model_outputs.iter().any(|o| tensor(o).is_none());
    let zipmap_hint =
        if has_non_tensor { "; export classifiers with zipmap=False (skl2onnx options={'zipmap': False})" } else { "" };
    let outputs_text = describe_outlets(model_outputs);

    match component.task {
        Task::Regression => {
            if let Some(labels) = model_labels {
                return Err(RuntimeError::Outputs(format!(
                    "the component's task is regression but the model is a classifier (labels {}); outputs: {outputs_text}",
                    quote_list(labels)
                )));
            }
            let candidates: Vec<&Outlet> =
                model_outputs.iter().filter(|o| tensor(o).is_some_and(|(ty, _)| is_float(ty))).collect();
            let chosen = candidates.iter().find(|o| o.name() == "variable").or(candidates.first()).copied();
            let Some(output) = chosen else {
                return Err(RuntimeError::Outputs(format!(
                    "a regressor needs a float output [N, 1]; the model's outputs: {outputs_text}"
                )));
            };
            if let Some((_, shape)) = tensor(output) {
                let ok = match shape.len() {
                    1 => true,
                    2 => shape[1] < 0 || shape[1] == 1,
                    _ => false,
                };
                if !ok {
                    return Err(RuntimeError::Outputs(format!(
                        "output `{}` has shape {shape:?}; a regressor needs [N, 1] or [N]",
                        output.name()
                    )));
                }
            }
            Ok(Head::Value { output: output.name().to_string() })
        }
        Task::Binary | Task::Multiclass => {
            let declared = component.labels.clone();
            let probs: Vec<&Outlet> = model_outputs
                .iter()
                .filter(|o| tensor(o).is_some_and(|(ty, shape)| is_float(ty) && shape.len() == 2))
                .collect();
            let Some(probabilities) = probs.iter().find(|o| o.name() == "probabilities").or(probs.first()).copied()
            else {
                return Err(RuntimeError::Outputs(format!(
                    "a classifier needs a float probabilities output [N, classes]; the model's outputs: {outputs_text}{zipmap_hint}"
                )));
            };
            let label_outputs: Vec<&Outlet> = model_outputs
                .iter()
                .filter(|o| {
                    tensor(o).is_some_and(|(ty, _)| {
                        matches!(ty, TensorElementType::Int64 | TensorElementType::Int32 | TensorElementType::String)
                    })
                })
                .collect();
            let label = label_outputs
                .iter()
                .find(|o| o.name() == "label")
                .or(label_outputs.first())
                .map(|o| o.name().to_string());

            let (order, width) = match model_labels {
                Some(model) => {
                    let missing: Vec<&String> = declared.iter().filter(|l| !model.contains(l)).collect();
                    let extra: Vec<&String> = model.iter().filter(|l| !declared.contains(l)).collect();
                    if !missing.is_empty() || !extra.is_empty() {
                        let mut parts = Vec::new();
                        if !missing.is_empty() {
                            parts.push(format!(
                                "the component declares {} but the model does not produce it",
                                quote_list(&missing)
                            ));
                        }
                        if !extra.is_empty() {
                            parts.push(format!(
                                "the model produces {} but the component does not declare it",
                                quote_list(&extra)
                            ));
                        }
                        return Err(RuntimeError::Labels(format!(
                            "{}\n  component labels: {}\n  model labels (model order): {}",
                            parts.join("; "),
                            quote_list(&declared),
                            quote_list(model)
                        )));
                    }
                    let order: Vec<usize> = declared.iter().filter_map(|l| model.iter().position(|m| m == l)).collect();
                    (order, model.len())
                }
                None => ((0..declared.len()).collect(), declared.len()),
            };
            if let Some((_, shape)) = tensor(probabilities)
                && shape[1] >= 0
                && shape[1] as usize != width
            {
                let msg = format!(
                    "output `{}` has {} probability columns but the component declares {} labels ({})",
                    probabilities.name(),
                    shape[1],
                    declared.len(),
                    quote_list(&declared)
                );
                return Err(if model_labels.is_some() {
                    RuntimeError::Outputs(msg)
                } else {
                    RuntimeError::Labels(msg)
                });
            }
            Ok(Head::Class { label, probabilities: probabilities.name().to_string(), width, order, declared })
        }
    }
}

/// A float tensor's shape and values, widened to f64. Dispatched on the element type:
/// a failed extraction builds an error message, which the request path should not pay for.
fn floats(value: &DynValue) -> Result<(Vec<i64>, Vec<f64>), String> {
    let e = |e: ort::Error| e.to_string();
    match value.dtype().tensor_type() {
        Some(TensorElementType::Float32) => {
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(e)?;
            Ok((shape.to_vec(), data.iter().map(|&v| f64::from(v)).collect()))
        }
        Some(TensorElementType::Float64) => {
            let (shape, data) = value.try_extract_tensor::<f64>().map_err(e)?;
            Ok((shape.to_vec(), data.to_vec()))
        }
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

fn raw_to_value(shape: Vec<i64>, data: RawData) -> Result<DynValue, String> {
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

fn value_to_raw(value: &DynValue, ty: TensorElementType) -> Result<(Vec<i64>, RawData), String> {
    let e = |e: ort::Error| e.to_string();
    Ok(match ty {
        TensorElementType::Float32 => {
            let (s, d) = value.try_extract_tensor::<f32>().map_err(e)?;
            (s.to_vec(), RawData::Fp32(d.to_vec()))
        }
        TensorElementType::Float64 => {
            let (s, d) = value.try_extract_tensor::<f64>().map_err(e)?;
            (s.to_vec(), RawData::Fp64(d.to_vec()))
        }
        TensorElementType::Int64 => {
            let (s, d) = value.try_extract_tensor::<i64>().map_err(e)?;
            (s.to_vec(), RawData::Int64(d.to_vec()))
        }
        TensorElementType::Int32 => {
            let (s, d) = value.try_extract_tensor::<i32>().map_err(e)?;
            (s.to_vec(), RawData::Int32(d.to_vec()))
        }
        TensorElementType::Bool => {
            let (s, d) = value.try_extract_tensor::<bool>().map_err(e)?;
            (s.to_vec(), RawData::Bool(d.to_vec()))
        }
        TensorElementType::String => {
            let (s, d) = value.try_extract_strings().map_err(e)?;
            (s.to_vec(), RawData::Bytes(d))
        }
        other => return Err(format!("tensor({}) outputs are not supported", onnx_type_name(other))),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use prost::Message;
    use rein_system::{Component, ComponentLocations, Experience, Location, Mode, ModelSpec, Policy, TelemetryPolicy};

    use super::*;
    use crate::native::build::{self, FLOAT, INT64, STRING, int, ints, model, node, string, stumps, value};

    /// Loads a hand-made model for a component of integer features 0 to 2, so that probe
    /// rows land exactly on the thresholds (1.0) as well as on either side.
    fn load(model: proto::ModelProto, task: Task, labels: &[&str]) -> OnnxModel {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("model.onnx");
        std::fs::write(&path, model.encode_to_vec()).expect("write");
        let component = Component {
            name: "c".into(),
            task,
            positive: (task == Task::Binary).then_some(1),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            model: ModelSpec {
                path,
                version: None,
                timeout: Duration::from_millis(100),
                max_concurrency: 1,
                engine: ModelEngine::Auto,
            },
            features: vec![Feature {
                name: "x".into(),
                kind: FeatureKind::Integer { min: Some(0), max: Some(2) },
                required: true,
                default: None,
                telemetry: TelemetryPolicy::Raw,
                location: Location::default(),
            }],
            guardrails: vec![],
            fallback: None,
            experience: Experience { policy: Policy::Fixed(Mode::None), caps: vec![] },
            locations: ComponentLocations::default(),
        };
        let runtime = Runtime::init(None, None).expect("ONNX Runtime (bash scripts/setup-onnxruntime.sh)");
        OnnxModel::load(&component, &runtime).expect("loads")
    }

    fn regressor(extra: Vec<proto::AttributeProto>, modes: &[&str], missing: &[i64]) -> proto::ModelProto {
        let weights: Vec<f32> = (0..modes.len()).map(|k| 0.5 + k as f32).collect();
        let mut attrs = stumps(modes, 1.0, &weights, missing);
        attrs.push(int("n_targets", 1));
        attrs.extend(extra);
        model(
            vec![
                node("Cast", &["x"], &["xf"], vec![int("to", 1)]),
                node("TreeEnsembleRegressor", &["xf"], &["y"], attrs),
            ],
            vec![value("x", INT64, &[None, Some(1)])],
            vec![value("y", FLOAT, &[None, Some(1)])],
            vec![],
        )
    }

    fn rein_serves(model: &OnnxModel) {
        assert!(matches!(model.engine(), Engine::Rein { .. }), "{}", model.engine());
    }

    #[test]
    fn every_branch_mode_agrees_with_onnx_runtime_on_and_around_thresholds() {
        let modes = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"];
        rein_serves(&load(
            regressor(vec![build::floats("base_values", &[0.125])], &modes, &[1, 0, 1, 0, 0, 0]),
            Task::Regression,
            &[],
        ));
        for mode in modes {
            rein_serves(&load(regressor(vec![], &[mode; 5], &[0; 5]), Task::Regression, &[]));
        }
    }

    #[test]
    fn a_graph_both_engines_refuse_on_every_probe_row_stays_with_onnx_runtime() {
        // An unknown category is an error (`zeros = 0`), and every probe value (0 to 2) is one.
        let model = load(
            model(
                vec![
                    node("OneHotEncoder", &["x"], &["hot"], vec![ints("cats_int64s", &[5]), int("zeros", 0)]),
                    node("Reshape", &["hot", "shape"], &["y"], vec![]),
                ],
                vec![value("x", INT64, &[None, Some(1)])],
                vec![value("y", FLOAT, &[None, Some(1)])],
                vec![build::int64s("shape", &[2], &[-1, 1])],
            ),
            Task::Regression,
            &[],
        );
        match model.engine() {
            Engine::OnnxRuntime { reason } => assert!(reason.contains("answered only 0 of 256 probe rows"), "{reason}"),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn every_aggregate_agrees_with_onnx_runtime() {
        for aggregate in ["SUM", "AVERAGE", "MIN", "MAX"] {
            let extra = vec![string("aggregate_function", aggregate), build::floats("base_values", &[3.0])];
            rein_serves(&load(
                regressor(extra, &["BRANCH_LEQ", "BRANCH_GT", "BRANCH_LEQ"], &[0; 3]),
                Task::Regression,
                &[],
            ));
        }
    }

    /// Classifiers of stumps: `votes[k]` lists (class, weight) pairs for stump k's `yes` leaf;
    /// its `no` leaf gets each weight halved.
    fn classifier(
        votes: &[&[(i64, f32)]],
        labels: proto::AttributeProto,
        extra: Vec<proto::AttributeProto>,
    ) -> proto::ModelProto {
        let modes = vec!["BRANCH_LEQ"; votes.len()];
        let mut attrs: Vec<_> = stumps(&modes, 1.0, &vec![0.0; votes.len()], &vec![0; votes.len()])
            .into_iter()
            .filter(|a| !a.name.starts_with("target_"))
            .collect();
        let (mut trees, mut nodes, mut ids, mut weights) = (vec![], vec![], vec![], vec![]);
        for (t, list) in votes.iter().enumerate() {
            for &(class, w) in *list {
                for (leaf, weight) in [(1, w), (2, w / 2.0)] {
                    trees.push(t as i64);
                    nodes.push(leaf);
                    ids.push(class);
                    weights.push(weight);
                }
            }
        }
        attrs.extend([
            ints("class_treeids", &trees),
            ints("class_nodeids", &nodes),
            ints("class_ids", &ids),
            build::floats("class_weights", &weights),
            labels,
        ]);
        attrs.extend(extra);
        let label_type = if attrs.iter().any(|a| a.name == "classlabels_strings") { STRING } else { INT64 };
        let classes =
            attrs.iter().find(|a| a.name.starts_with("classlabels")).map_or(0, |a| a.ints.len().max(a.strings.len()));
        model(
            vec![
                node("Cast", &["x"], &["xf"], vec![int("to", 1)]),
                node("TreeEnsembleClassifier", &["xf"], &["label", "probabilities"], attrs),
            ],
            vec![value("x", INT64, &[None, Some(1)])],
            vec![value("label", label_type, &[None]), value("probabilities", FLOAT, &[None, Some(classes as i64)])],
            vec![],
        )
    }

    #[test]
    fn classifiers_agree_with_onnx_runtime_on_labels_and_scores() {
        let two = || build::strings("classlabels_strings", &["no", "yes"]);
        // One class scored, mixed weights, logistic (as scikit-learn's gradient boosting).
        rein_serves(&load(
            classifier(
                &[&[(0, 0.7)], &[(0, -1.1)]],
                two(),
                vec![build::floats("base_values", &[0.2]), string("post_transform", "LOGISTIC")],
            ),
            Task::Binary,
            &["no", "yes"],
        ));
        // One class scored, positive weights, no transform (as a random forest's votes):
        // 0.9 and 0.45, on either side of the 0.5 that decides the label.
        rein_serves(&load(classifier(&[&[(1, 0.6)], &[(1, 0.3)]], two(), vec![]), Task::Binary, &["no", "yes"]));
        // Both classes scored.
        rein_serves(&load(
            classifier(&[&[(0, 0.4), (1, 0.6)], &[(0, 0.9), (1, 0.1)]], two(), vec![]),
            Task::Binary,
            &["no", "yes"],
        ));
        // Three integer classes, base values, softmax.
        rein_serves(&load(
            classifier(
                &[&[(0, 1.0), (2, -0.5)], &[(1, 2.0)], &[(2, 0.75)]],
                ints("classlabels_int64s", &[10, 20, 30]),
                vec![build::floats("base_values", &[0.1, 0.2, 0.3]), string("post_transform", "SOFTMAX")],
            ),
            Task::Multiclass,
            &["10", "20", "30"],
        ));
    }
}
