//! How a component's rows become a model's inputs: the input layout matched at load
//! against the schema, and the tensor columns each call is built from, whichever engine runs it.

use std::fmt::Write as _;

use ort::value::{Outlet, TensorElementType, ValueType};
use rein_decision::{ModelError, ModelOutput};
use rein_system::{Feature, FeatureKind, FeatureValue};

use crate::RuntimeError;
use crate::raw::{RawData, onnx_type_name};

/// A model's inputs as matched against the component's features.
///
/// Two layouts are understood:
/// - **single**: one float tensor `[N, k]`, the `k` features (all numeric) in schema order;
/// - **named**: one input per feature, matched by name (what skl2onnx makes of a
///   `ColumnTransformer` exported with `initial_types`): `tensor(float|double)` ←
///   number/integer/boolean, `tensor(int64|int32)` ← integer/boolean, `tensor(bool)` ←
///   boolean, `tensor(string)` ← category/text; shape `[N, 1]` or `[N]`.
#[derive(Debug)]
pub(crate) struct Signature {
    features: Vec<Feature>,
    layout: Layout,
    /// `Some(1)` when the model's batch dimension is fixed at 1: rows are run one by one.
    fixed_batch: Option<usize>,
}

#[derive(Debug)]
enum Layout {
    Single { name: String, ty: TensorElementType, width: usize },
    Named(Vec<NamedInput>),
}

#[derive(Debug)]
struct NamedInput {
    name: String,
    feature: usize,
    ty: TensorElementType,
    rank: usize,
}

impl Signature {
    /// Matches the model's inputs against the features; `Err` lists every mismatch.
    pub(crate) fn matching(model_inputs: &[Outlet], features: &[Feature]) -> Result<Signature, RuntimeError> {
        let (layout, fixed_batch) = match_inputs(model_inputs, features)?;
        Ok(Signature { features: features.to_vec(), layout, fixed_batch })
    }

    /// Checks the rows against the schema and runs them through `run` in calls the
    /// model takes (row by row for a batch dimension fixed at 1).
    pub(crate) fn call(
        &self,
        rows: &[&[FeatureValue]],
        run: impl Fn(&[&[FeatureValue]]) -> Result<Vec<ModelOutput>, ModelError>,
    ) -> Result<Vec<ModelOutput>, ModelError> {
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
                    out.extend(run(chunk)?);
                }
                Ok(out)
            }
            _ => run(rows),
        }
    }

    /// The one input whose columns the features fill by position, in declared order: its
    /// name, element type and width.
    pub(crate) fn positional(&self) -> Option<(&str, TensorElementType, usize)> {
        match &self.layout {
            Layout::Single { name, ty, width } => Some((name, *ty, *width)),
            Layout::Named(_) => None,
        }
    }

    /// Each input bound by name: its name, the index of its feature, its element type.
    pub(crate) fn named(&self) -> impl Iterator<Item = (&str, usize, TensorElementType)> {
        let inputs = match &self.layout {
            Layout::Named(inputs) => inputs.as_slice(),
            Layout::Single { .. } => &[],
        };
        inputs.iter().map(|i| (i.name.as_str(), i.feature, i.ty))
    }

    /// The schema's features, in order.
    pub(crate) fn features(&self) -> &[Feature] {
        &self.features
    }

    /// How many model inputs the layout feeds.
    pub(crate) fn len(&self) -> usize {
        match &self.layout {
            Layout::Single { .. } => 1,
            Layout::Named(inputs) => inputs.len(),
        }
    }

    /// The name of input `i` (layout order).
    pub(crate) fn input_name(&self, i: usize) -> &str {
        match &self.layout {
            Layout::Single { name, .. } => name,
            Layout::Named(inputs) => &inputs[i].name,
        }
    }

    /// The shape of input `i` (layout order) for `n` rows.
    pub(crate) fn input_shape(&self, i: usize, n: usize) -> Vec<i64> {
        match &self.layout {
            Layout::Single { width, .. } => vec![n as i64, *width as i64],
            Layout::Named(inputs) if inputs[i].rank == 1 => vec![n as i64],
            Layout::Named(_) => vec![n as i64, 1],
        }
    }

    /// The rows as one column of tensor data per model input, in layout order, each
    /// value checked against the input's element type.
    pub(crate) fn columns(&self, rows: &[&[FeatureValue]]) -> Result<Vec<RawData>, ModelError> {
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

/// The model's inputs or outputs as load errors show them.
pub(crate) fn describe_outlets(outlets: &[Outlet]) -> String {
    let describe = |o: &Outlet| match o.dtype() {
        ValueType::Tensor { ty, shape, .. } => {
            format!("`{}` tensor({}) {:?}", o.name(), onnx_type_name(*ty), shape.to_vec())
        }
        other => format!("`{}` {other}", o.name()),
    };
    outlets.iter().map(describe).collect::<Vec<_>>().join(", ")
}

pub(crate) fn quote_list<S: AsRef<str>>(items: &[S]) -> String {
    items.iter().map(|s| format!("`{}`", s.as_ref())).collect::<Vec<_>>().join(", ")
}

fn describe_features(features: &[Feature]) -> String {
    features.iter().map(|f| format!("`{}` {}", f.name, f.kind.type_name())).collect::<Vec<_>>().join(", ")
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
            // A number cannot go into an integer input (3.5 has no int64), nor a string into
            // a numeric one: say which type to declare.
            let declare = match ty {
                TensorElementType::Int64 | TensorElementType::Int32 => "; declare it `type = \"integer\"`",
                TensorElementType::Float32 | TensorElementType::Float64 => "; declare it `type = \"number\"`",
                TensorElementType::String => "; declare it `type = \"category\"` or `\"text\"`",
                TensorElementType::Bool => "; declare it `type = \"boolean\"`",
                _ => "",
            };
            problems.push(format!(
                "model input `{}` is tensor({}) but feature `{}` is {} (tensor({}) takes {}{declare})",
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
