//! How a model's outputs become the decision path's answers: the outputs matched at load
//! against the task and declared labels, then read the same way from either engine's tensors.

use ort::value::{Outlet, TensorElementType, ValueType};
use rein_decision::{ModelError, ModelOutput};
use rein_system::{Component, Task};

use crate::RuntimeError;
use crate::signature::{describe_outlets, quote_list};

/// Which outputs hold the answer, and how declared labels map to the model's columns.
#[derive(Debug)]
pub(crate) enum Head {
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

/// A call's outputs, by name, whichever engine made them.
pub(crate) trait Outputs {
    /// A float output's values, widened to f64; `None` when there is no such output.
    fn floats(&self, name: &str) -> Option<Result<Vec<f64>, String>>;
    /// A label output (string or integer) as strings.
    fn labels(&self, name: &str) -> Option<Result<Vec<String>, String>>;
}

impl Head {
    /// Reads one answer per row from a call's outputs for `n` rows.
    pub(crate) fn decode(&self, outputs: &impl Outputs, n: usize) -> Result<Vec<ModelOutput>, ModelError> {
        match self {
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

    /// Matches the model's outputs against the component's task and declared labels
    /// (`model_labels`: the classes the graph declares, in its column order).
    pub(crate) fn matching(
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
        let zipmap_hint = if has_non_tensor {
            "; export classifiers with zipmap=False (skl2onnx options={'zipmap': False})"
        } else {
            ""
        };
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
                            matches!(
                                ty,
                                TensorElementType::Int64 | TensorElementType::Int32 | TensorElementType::String
                            )
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
                        let order: Vec<usize> =
                            declared.iter().filter_map(|l| model.iter().position(|m| m == l)).collect();
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
}

fn read_output<T>(name: &str, got: Option<Result<T, String>>) -> Result<T, ModelError> {
    got.ok_or_else(|| ModelError::Output(format!("the model gave no output `{name}`")))?
        .map_err(|e| ModelError::Output(format!("output `{name}`: {e}")))
}
