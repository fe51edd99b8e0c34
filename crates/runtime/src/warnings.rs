//! What a model that loads may still get wrong about its component: not errors (the
//! model serves), but declarations whose mistakes the model cannot show, each placed at
//! the part of the system file it is about, for `rein check` and the server's log.
//!
//! - features bound by position to one tensor: a swapped pair is not an error rein can see;
//! - categories the model's encoder does not know (it encodes them as unknown values), and
//!   the encoder's categories the file does not declare (a request with one is refused);
//! - `integer` declared for a float input: a fractional value is refused that the model takes.

use ort::value::TensorElementType;
use rein_system::{Component, FeatureKind, Location};

use crate::inspect::{self, Categories, Encoder};
use crate::proto::ModelProto;
use crate::raw::onnx_type_name;
use crate::signature::Signature;

/// A declaration that loads but is likely a mistake, where the system file makes it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadWarning {
    /// Where in the system file: the component's features, or one feature.
    pub location: Location,
    /// What may be wrong, starting with the component.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// The warnings about `component` served by `model`, whose inputs `signature` matched.
pub(crate) fn of(component: &Component, model: &ModelProto, signature: &Signature) -> Vec<LoadWarning> {
    let mut out = Vec::new();
    let c = &component.name;
    let names = |items: &[&str]| items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");

    if let Some((input, ty, width)) = signature.positional() {
        let order: Vec<&str> = component.features.iter().map(|f| f.name.as_str()).collect();
        out.push(LoadWarning {
            location: component.locations.features,
            message: format!(
                "component `{c}`: model input `{input}` is one tensor({}) of {width} columns, which rein fills by \
                 position, in the order the features are declared: {}",
                onnx_type_name(ty),
                names(&order)
            ),
            hint: Some(
                "rein cannot see two features declared in another order than the training data's columns (one \
                 request, two features swapped, gave 49,473 instead of 241,767): keep that order, or export one input \
                 per column (a ColumnTransformer with `initial_types`) so that rein binds them by name"
                    .into(),
            ),
        });
        for (k, feature) in component.features.iter().enumerate() {
            if matches!(feature.kind, FeatureKind::Integer { .. }) && is_float(ty) {
                out.push(integer_for_float(
                    c,
                    &feature.name,
                    &format!("column {k} of model input `{input}`"),
                    ty,
                    feature.location,
                ));
            }
        }
    }

    let uses = inspect::input_uses(model);
    for (input, index, ty) in signature.named() {
        let feature = &component.features[index];
        let f = &feature.name;
        if matches!(feature.kind, FeatureKind::Integer { .. }) && is_float(ty) {
            out.push(integer_for_float(c, f, &format!("model input `{input}`"), ty, feature.location));
        }
        let (
            FeatureKind::Category { categories },
            Some(Encoder { op, categories: Categories::Strings(known), unknown }),
        ) = (&feature.kind, uses.get(input).and_then(|u| u.encoder.as_ref()))
        else {
            continue;
        };
        let unknown_to_model: Vec<&str> =
            categories.iter().filter(|c| !known.contains(c)).map(String::as_str).collect();
        let undeclared: Vec<&str> = known.iter().filter(|k| !categories.contains(k)).map(String::as_str).collect();
        let known_list: Vec<&str> = known.iter().map(String::as_str).collect();
        if !unknown_to_model.is_empty() {
            let (what, it) = plural(unknown_to_model.len(), "category", "categories", "it", "them");
            out.push(LoadWarning {
                location: feature.location,
                message: format!(
                    "component `{c}`: feature `{f}` declares {what} {}, which the model's {op} of input `{input}` \
                     does not know: it {}",
                    names(&unknown_to_model),
                    unknown.describe(it)
                ),
                hint: Some(format!(
                    "the encoder knows {}; a category it was not trained on means nothing to the model: correct \
                     the spelling, or retrain with it",
                    names(&known_list)
                )),
            });
        }
        if !undeclared.is_empty() {
            let (what, it) = plural(undeclared.len(), "category", "categories", "it", "one of them");
            out.push(LoadWarning {
                location: feature.location,
                message: format!(
                    "component `{c}`: the model's {op} of input `{input}` knows {what} {}, which feature `{f}` does \
                     not declare: a request with {it} is refused (422) before the model sees it",
                    names(&undeclared)
                ),
                hint: Some(format!(
                    "add to `categories` what requests may send: the encoder knows {}",
                    names(&known_list)
                )),
            });
        }
    }
    out
}

fn is_float(ty: TensorElementType) -> bool {
    matches!(ty, TensorElementType::Float32 | TensorElementType::Float64)
}

fn integer_for_float(c: &str, feature: &str, input: &str, ty: TensorElementType, location: Location) -> LoadWarning {
    LoadWarning {
        location,
        message: format!(
            "component `{c}`: feature `{feature}` is declared `integer` but {input} is tensor({}): a request with a \
             fractional value (2.5) is refused (422), though the model takes it",
            onnx_type_name(ty)
        ),
        hint: Some(
            "declare `type = \"number\"` if the model was trained on fractional values; `integer` fits only a value \
             whole by nature (a count)"
                .into(),
        ),
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str, it: &'a str, them: &'a str) -> (&'a str, &'a str) {
    if n == 1 { (one, it) } else { (many, them) }
}
