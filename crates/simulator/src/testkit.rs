//! What the worlds' tests share: an example's component as rein reads it, rein's answers,
//! and the checks every world's requests must pass, so a world's tests say only its own.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rein_decision::FieldError;

use crate::scenario::Slot;
use crate::world::{Answer, Request, World};

/// The world's component, read from its example's `rein.toml`.
pub fn component(world: &dyn World) -> rein_system::Component {
    let path = format!("{}/../../examples/{}/rein.toml", env!("CARGO_MANIFEST_DIR"), world.example());
    let text = std::fs::read_to_string(&path).unwrap();
    let system = rein_system::parse(&text, std::path::Path::new(&path)).unwrap();
    system.component(world.component()).unwrap().clone()
}

pub fn answer(mode: &str, label: Option<&str>, value: Option<f64>, score: Option<f64>) -> Answer {
    Answer {
        prediction_id: "p".into(),
        mode: mode.into(),
        label: label.map(str::to_string),
        value,
        score,
        rules: vec![],
    }
}

/// The slot's request, drawn twice from the same seed: the same both times.
pub fn request_twice(world: &dyn World, slot: &Slot) -> Request {
    let a = world.request(&mut ChaCha8Rng::seed_from_u64(slot.index), slot);
    let b = world.request(&mut ChaCha8Rng::seed_from_u64(slot.index), slot);
    assert_eq!(a.features, b.features);
    assert_eq!(a.truth, b.truth);
    a
}

/// The request's features checked against the component's schema, as rein checks them.
pub fn validate(component: &rein_system::Component, request: &Request) -> Result<(), Vec<FieldError>> {
    let features = request.features.as_object().unwrap();
    rein_decision::schema::validate(component, features, rein_system::UnknownFeatures::Reject).map(drop)
}
