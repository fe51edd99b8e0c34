//! The smart toaster's world: households toasting slices, the right time for each
//! (the test kitchens' relation), and how people react to toast that comes out burnt,
//! underdone, or right.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::round;
use crate::sample::*;
use crate::scenario::{ChangeKind, Scenario, Slot};
use crate::world::{Answer, Reaction, Request, Truth, UnitMemory, World};

pub struct Toaster;

const BREADS: [&str; 7] = ["bagel", "brioche", "gluten_free", "rye", "sourdough", "white", "wholewheat"];
/// Seconds for a 12 mm slice at room temperature, medium darkness, cold chamber.
const BASE: [f64; 7] = [150.0, 95.0, 140.0, 135.0, 125.0, 105.0, 120.0];

impl World for Toaster {
    fn example(&self) -> &'static str {
        "smart-toaster"
    }

    fn component(&self) -> &'static str {
        "toast"
    }

    fn scenario(&self) -> Scenario {
        Scenario {
            name: "toaster-month",
            description: "A month of breakfasts in 1,500 homes. From day 9 thick-cut bread is the trend: slices \
                          of 25–45 mm and more bagels and brioche (data drift); slices above 35 mm get the \
                          conservative 90 s and a prompt from the outside_training_range guardrail. Days 15–17 a \
                          firmware bug makes the chamber sensor read 300 °C (now and then −273.15 °C, \
                          disconnected): too_hot_shut_down keeps the heater off (and chamber_sensor_fault refuses \
                          the toast, counted as refused). From day 19 a new heating element toasts 25% faster, so \
                          the model's times burn the toast (concept drift). Days 24–26: the holiday breakfast rush \
                          (surge).",
            users: 1_500,
            requests: 15_000,
            days: 30.0,
            changes: Vec::new(),
        }
        .during(ChangeKind::DataDrift, 9.0, 30.0)
        .during(ChangeKind::BrokenFeature, 15.0, 17.0)
        .during(ChangeKind::ConceptDrift, 19.0, 30.0)
        .during(ChangeKind::Surge, 24.0, 26.0)
    }

    fn request(&self, rng: &mut ChaCha8Rng, slot: &Slot) -> Request {
        let phase = slot.phase;
        let weights: &[f64] = if phase.data_drift {
            &[0.14, 0.12, 0.06, 0.1, 0.2, 0.22, 0.16]
        } else {
            &[0.08, 0.06, 0.06, 0.1, 0.2, 0.3, 0.2]
        };
        let bread = index(rng, weights);
        let thickness = if phase.data_drift && bernoulli(rng, 0.4) {
            // Thick-cut: beyond what the test kitchens logged.
            uniform(rng, 25.0, 45.0)
        } else if BREADS[bread] == "bagel" {
            normal(rng, 24.0, 3.0).clamp(6.0, 35.0)
        } else {
            normal(rng, 13.0, 3.0).clamp(6.0, 35.0)
        };
        let darkness: i64 = rng.random_range(1..=5);
        let frozen = bernoulli(rng, 0.15);
        let start = if frozen { normal(rng, -18.0, 2.0) } else { normal(rng, 20.0, 3.0) }.clamp(-25.0, 35.0);
        let warm = bernoulli(rng, 0.35);
        let chamber = if warm { uniform(rng, 60.0, 180.0) } else { normal(rng, 21.0, 3.0) }.clamp(5.0, 200.0);
        let (thickness, start, chamber) =
            (round::decimals(thickness, 1), round::decimals(start, 1), round::decimals(chamber, 1));

        let mut seconds = BASE[bread] * (thickness / 12.0).powf(0.6) * (1.0 + 0.18 * (darkness - 3) as f64)
            + 0.9 * (20.0 - start).max(0.0)
            - 0.25 * (chamber - 25.0).max(0.0);
        if phase.concept_drift {
            seconds *= 0.75; // the new heating element
        }
        let upper = if phase.data_drift { 300.0 } else { 235.0 };
        let seconds = (seconds * normal(rng, 1.0, 0.05)).clamp(30.0, upper);

        let sensed = if phase.broken_feature { if bernoulli(rng, 0.05) { -273.15 } else { 300.0 } } else { chamber };
        Request {
            features: json!({
                "bread_type": BREADS[bread],
                "thickness_mm": thickness,
                "desired_darkness": darkness,
                "start_temp_c": start,
                "chamber_temp_c": sensed,
            }),
            context: json!({}),
            truth: Truth::Value(seconds.round()),
        }
    }

    fn react(
        &self,
        rng: &mut ChaCha8Rng,
        _slot: &Slot,
        request: &Request,
        answer: &Answer,
        _memory: &mut UnitMemory,
        _now_ms: u64,
    ) -> Vec<Reaction> {
        let Truth::Value(truth) = request.truth else { return Vec::new() };
        let mut out = Vec::new();
        let mut proposed = answer.value.unwrap_or(90.0);
        if answer.mode == "prompt" && bernoulli(rng, 0.6) {
            // Asked to confirm the time, the user sets what they know works.
            let set = (truth + normal(rng, 0.0, 5.0)).round();
            out.push(Reaction::outcome_of("user_adjusted_time", set - proposed));
            proposed = set;
        }
        if proposed <= 0.0 {
            // The heater stayed off: nothing toasted. The user toasts by hand.
            out.push(Reaction::outcome("toaster_shut_down"));
            out.push(Reaction::outcome_of("user_adjusted_time", truth));
        } else if proposed > truth * 1.2 && proposed > truth + 15.0 {
            out.push(Reaction::outcome_of("toast_burnt", proposed - truth));
            if bernoulli(rng, 0.3) {
                out.push(Reaction::outcome("toast_eaten"));
            }
        } else if proposed < truth * 0.8 && proposed < truth - 15.0 {
            out.push(Reaction::outcome_of("toast_underdone", truth - proposed));
            // Re-toasted for the missing seconds.
            out.push(Reaction::outcome_of("user_adjusted_time", truth - proposed));
            out.push(Reaction::outcome("toast_eaten"));
        } else {
            out.push(Reaction::outcome("toast_eaten"));
        }
        // The app asks now and then how long it should have been; unhappy users answer more.
        let off = (proposed - truth).abs() > 15.0;
        if bernoulli(rng, if off { 0.4 } else { 0.05 }) {
            let told = Reaction::label(&request.truth, "user");
            out.push(if off { told.saying("the toast was not as dark as I asked") } else { told });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{answer, component, request_twice, validate};
    use rand::SeedableRng;

    #[test]
    fn requests_are_deterministic_and_fit_the_schema() {
        let component = component(&Toaster);
        let schedule = Toaster.scenario().schedule(3);
        let (mut hot, mut broken) = (0, 0);
        for slot in &schedule {
            let a = request_twice(&Toaster, slot);
            let ok = validate(&component, &a);
            assert!(ok.is_ok(), "{:?} {:?}", a.features, ok.err());
            let map = a.features.as_object().unwrap();
            let Truth::Value(t) = a.truth else { panic!() };
            assert!((30.0..=300.0).contains(&t));
            if slot.phase.broken_feature {
                broken += 1;
                hot += (map["chamber_temp_c"].as_f64().unwrap() > 250.0) as usize;
            } else {
                assert!(map["chamber_temp_c"].as_f64().unwrap() <= 200.0);
            }
        }
        assert!(broken > 200 && hot > broken * 9 / 10, "{hot}/{broken}");
    }

    #[test]
    fn truth_follows_the_training_relation() {
        let slot = Toaster.scenario().schedule(1)[0].clone();
        assert_eq!(slot.phase.label(), "normal");
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let n = 5_000;
        let mean = (0..n)
            .map(|_| match Toaster.request(&mut rng, &slot).truth {
                Truth::Value(v) => v,
                _ => unreachable!(),
            })
            .sum::<f64>()
            / n as f64;
        // White, 12 mm, darkness 3, room temperature: about 105 s; the mix averages higher.
        assert!((100.0..150.0).contains(&mean), "{mean}");
    }

    #[test]
    fn reactions_are_regression_feedback_and_name_the_burnt_toast() {
        let slot = Toaster.scenario().schedule(1)[0].clone();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut memory = UnitMemory::default();
        let mut names = std::collections::BTreeSet::new();
        for i in 0..2000 {
            let request = Toaster.request(&mut rng, &slot);
            let value = [0.0, 60.0, 120.0, 240.0][i % 4];
            let mode = if i % 7 == 0 { "prompt" } else { "automate" };
            let a = answer(mode, None, Some(value), None);
            for r in Toaster.react(&mut rng, &slot, &request, &a, &mut memory, 0) {
                match r {
                    Reaction::Feedback { label, value, .. } => assert!(label.is_none() && value.is_some()),
                    Reaction::Outcome { name, .. } => {
                        names.insert(name);
                    }
                }
            }
        }
        for n in ["toast_eaten", "toast_burnt", "toast_underdone", "user_adjusted_time", "toaster_shut_down"] {
            assert!(names.contains(n), "{n}");
        }
    }
}
