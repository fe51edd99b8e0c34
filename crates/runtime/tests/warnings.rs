//! What loads but is likely a mistake: warnings placed at the feature or the features
//! they are about; and ONNX Runtime's refusals with a hint.

mod common;

use common::*;
use rein_runtime::{LoadWarning, RuntimeError};
use rein_system::{FeatureKind, Location};

fn at(line: usize) -> Location {
    Location { line, column: 1 }
}

/// The credit fixture's component, each feature at line 10 + its index, declaring the
/// categories its encoders know (the fixture's schema leaves them empty).
fn credit() -> rein_system::Component {
    let mut c = fixture("credit").component();
    c.locations.features = at(9);
    for (i, f) in c.features.iter_mut().enumerate() {
        f.location = at(10 + i);
        if f.name == "housing" {
            f.kind =
                FeatureKind::Category { categories: ["family", "mortgage", "own", "rent"].map(String::from).into() };
        }
        if f.name == "purpose" {
            f.kind = FeatureKind::Category {
                categories: ["business", "car", "education", "home", "other"].map(String::from).into(),
            };
        }
    }
    c
}

fn warnings(c: &rein_system::Component) -> Vec<LoadWarning> {
    rein_runtime::load(c, &runtime()).unwrap_or_else(|e| panic!("{e}")).warnings().to_vec()
}

#[test]
fn a_component_as_its_model_is_has_nothing_to_warn_of() {
    assert_eq!(warnings(&credit()), []);
}

#[test]
fn categories_the_encoder_does_not_know_and_the_reverse() {
    let mut c = credit();
    let housing = c.features.iter_mut().find(|f| f.name == "housing").unwrap();
    housing.kind = FeatureKind::Category { categories: ["own", "rent", "council", "hostel"].map(String::from).into() };
    let w = warnings(&c);
    assert_eq!(w.len(), 2, "{w:#?}");
    assert!(w.iter().all(|w| w.location == at(14)), "{w:#?}");
    assert_eq!(
        w[0].message,
        "component `credit`: feature `housing` declares categories `council`, `hostel`, which the model's \
         OneHotEncoder of input `housing` does not know: it encodes them as all zeros"
    );
    assert_eq!(
        w[1].message,
        "component `credit`: the model's OneHotEncoder of input `housing` knows categories `family`, `mortgage`, \
         which feature `housing` does not declare: a request with one of them is refused (422) before the model sees it"
    );
    assert!(w[1].hint.as_deref().unwrap().contains("`family`, `mortgage`, `own`, `rent`"), "{w:#?}");
}

#[test]
fn integer_declared_for_a_float_input() {
    let mut c = credit();
    c.features[1].kind = FeatureKind::Integer { min: None, max: None };
    let w = warnings(&c);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].location, at(11));
    assert!(
        w[0].message.starts_with(
            "component `credit`: feature `debt_ratio` is declared `integer` but model input `debt_ratio` is \
             tensor(float): a request with a fractional value (2.5) is refused (422)"
        ),
        "{}",
        w[0].message
    );
    // and `number` for an int64 input is refused, saying what to declare
    let mut c = credit();
    c.features[2].kind = FeatureKind::Number { min: None, max: None };
    let e = rein_runtime::load(&c, &runtime()).expect_err("number into int64").to_string();
    assert!(
        e.contains(
            "model input `age` is tensor(int64) but feature `age` is number (tensor(int64) takes integer or \
                    boolean; declare it `type = \"integer\"`)"
        ),
        "{e}"
    );
}

#[test]
fn features_bound_by_position_are_warned_of_once_naming_the_input_its_width_and_the_order() {
    let mut c = fixture("random_forest").component();
    c.locations.features = at(7);
    let w = warnings(&c);
    // the fixture declares `f1` an integer: a float column
    assert_eq!(w.len(), 2, "{w:#?}");
    assert_eq!(w[0].location, at(7));
    assert_eq!(
        w[0].message,
        "component `random_forest`: model input `input` is one tensor(float) of 4 columns, which rein fills by \
         position, in the order the features are declared: `f0`, `f1`, `f2`, `f3`"
    );
    assert!(w[1].message.contains("feature `f1` is declared `integer` but column 1 of model input `input`"), "{w:#?}");
}

#[test]
fn double_and_float_into_one_concat_is_refused_with_a_hint() {
    let mut c = fixture("credit").component();
    c.task = rein_system::Task::Regression;
    c.labels.clear();
    c.positive = None;
    c.model.path = repo_root().join("fixtures/models/mixed_double_float.onnx");
    let e = rein_runtime::load(&c, &runtime()).expect_err("ONNX Runtime refuses it");
    assert!(matches!(e, RuntimeError::Artifact { .. }), "{e:?}");
    assert!(e.to_string().contains("bound to different types (tensor(double) and tensor(float)"), "{e}");
    assert_eq!(
        e.hint().as_deref(),
        Some(
            "the graph feeds `Concat` both float64 and float32 tensors: cast float64 columns to float32 before export \
             (e.g. `X.astype(np.float32)`, and `FloatTensorType` in `initial_types`)"
        )
    );
}
