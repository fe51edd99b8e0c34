//! The tax-filing product's world: filers whose returns get an audit-risk meter, some
//! prompted to buy audit support, and the tax authority's audits coming back months later.

use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::round;
use crate::sample::*;
use crate::scenario::{ChangeKind, Scenario, Slot};
use crate::world::{Answer, Reaction, Request, Truth, UnitMemory, World};

pub struct Audit;

const STATUSES: [&str; 4] = ["single", "married_joint", "married_separate", "head_of_household"];
/// Prices of the audit-support add-on (basic, plus, premium).
const PRICES: [f64; 3] = [39.99, 59.99, 89.99];

impl World for Audit {
    fn example(&self) -> &'static str {
        "audit-risk"
    }

    fn component(&self) -> &'static str {
        "risk"
    }

    fn scenario(&self) -> Scenario {
        Scenario {
            name: "filing-season",
            description: "A 75-day filing season of 5,000 filers. From day 22 more filers are self-employed \
                          (gig work: 30% instead of 16%; data drift). From day 38 the tax authority runs an audit \
                          campaign on home offices, so home-office returns are audited far more often than the \
                          model learned (concept drift). Days 49–54 an upstream form importer reports income in \
                          cents (×100, broken feature): incomes above 100k then exceed the schema's 10M and are \
                          refused (422), the rest look like multi-millionaires and the income_outside_training_range \
                          guardrail escalates them to a tax professional. Days 66–73: the rush before the filing \
                          deadline (surge).",
            users: 5_000,
            requests: 15_000,
            days: 75.0,
            changes: Vec::new(),
        }
        .during(ChangeKind::DataDrift, 22.0, 75.0)
        .during(ChangeKind::ConceptDrift, 38.0, 75.0)
        .during(ChangeKind::BrokenFeature, 49.0, 54.0)
        .during(ChangeKind::Surge, 66.0, 73.0)
    }

    fn request(&self, rng: &mut ChaCha8Rng, slot: &Slot) -> Request {
        let phase = slot.phase;
        let status = *choice(rng, &STATUSES, &[0.45, 0.38, 0.05, 0.12]);
        let mut income = lognormal(rng, 11.0, 0.8);
        if status == "married_joint" {
            income *= 1.6;
        }
        let income = (income.clamp(0.0, 3_000_000.0) / 10.0).round() * 10.0;
        let self_employed = bernoulli(rng, if phase.data_drift { 0.30 } else { 0.16 });
        let home_office = if self_employed { bernoulli(rng, 0.45) } else { bernoulli(rng, 0.03) };
        let joint = status == "married_joint" || status == "head_of_household";
        let mut dependents = poisson(rng, if joint { 1.6 } else { 0.3 });
        if status == "head_of_household" {
            dependents = dependents.max(1);
        }
        let dependents = dependents.clamp(0, 10);
        let mut deductions_ratio = beta(rng, 2.0, 12.0);
        if self_employed {
            deductions_ratio += beta(rng, 2.0, 8.0);
        }
        let deductions_ratio = deductions_ratio.clamp(0.0, 0.95);
        let generous = if bernoulli(rng, 0.05) { 3.0 } else { 1.0 };
        let mut charitable_ratio = (beta(rng, 1.2, 40.0) * generous).min(deductions_ratio);
        if bernoulli(rng, 0.45) {
            charitable_ratio = 0.0; // many filers give nothing
        }
        let foreign_accounts = bernoulli(rng, 0.04);

        let log_income = income.max(1000.0).ln();
        let mut logit = -3.9
            + 1.4 * f(self_employed)
            + 1.0 * f(home_office)
            + 8.0 * (deductions_ratio - 0.25).max(0.0)
            + 25.0 * (charitable_ratio - 0.05).max(0.0)
            + 2.4 * f(foreign_accounts)
            + 0.9 * (log_income - 12.5).max(0.0)
            + 0.8 * f(income < 25_000.0 && dependents >= 2)
            + 0.5 * f(status == "married_separate");
        if phase.concept_drift {
            // The home-office campaign: such returns are audited far more often.
            logit += 2.0 * f(home_office);
        }
        let audited = bernoulli(rng, 1.0 / (1.0 + (-logit).exp()));

        // The broken importer sends cents; the truth is about the real return.
        let sent_income = if phase.broken_feature { income * 100.0 } else { income };
        Request {
            features: json!({
                "income": sent_income,
                "deductions_ratio": round::decimals(deductions_ratio, 4),
                "self_employed": self_employed,
                "home_office": home_office,
                "charitable_ratio": round::decimals(charitable_ratio, 4),
                "num_dependents": dependents,
                "foreign_accounts": foreign_accounts,
                "filing_status": status,
            }),
            context: json!({}),
            truth: Truth::either(audited, "audit", "no_audit"),
        }
    }

    fn react(
        &self,
        rng: &mut ChaCha8Rng,
        _slot: &Slot,
        request: &Request,
        answer: &Answer,
        memory: &mut UnitMemory,
        now_ms: u64,
    ) -> Vec<Reaction> {
        let truth = &request.truth;
        let audited = truth.is("audit");
        let score = answer.score.unwrap_or(0.0);
        let mut out = Vec::new();
        let finish = |rng: &mut ChaCha8Rng, out: &mut Vec<Reaction>, p: f64| {
            out.push(Reaction::outcome(if bernoulli(rng, p) { "finished_filing" } else { "abandoned_filing" }));
        };
        match answer.mode.as_str() {
            "prompt" => {
                // A filer offered the add-on again and again today grows tired of it.
                let annoyance = memory.prompt(now_ms);
                if bernoulli(rng, (0.45 - 0.15 * annoyance).max(0.05)) {
                    out.push(Reaction::outcome("opened_add_on_offer"));
                    if bernoulli(rng, 0.25 + 0.2 * score) {
                        let price = *choice(rng, &PRICES, &[0.5, 0.35, 0.15]);
                        out.push(Reaction::outcome_of("bought_audit_support", price));
                    }
                }
                finish(rng, &mut out, 0.9 - 0.05 * annoyance);
            }
            "annotate" => {
                if bernoulli(rng, 0.1 + 0.3 * score) {
                    out.push(Reaction::outcome("viewed_risk_details"));
                }
                finish(rng, &mut out, 0.97);
            }
            "escalate" => {
                // A tax professional reviews the return and labels it.
                out.push(Reaction::outcome("consulted_tax_professional"));
                out.push(Reaction::label(truth, "expert").saying("reviewed by a tax professional"));
                finish(rng, &mut out, 0.95);
            }
            _ => finish(rng, &mut out, 0.98),
        }
        // Months later the tax authority's letters arrive: audits are known for many
        // returns, a closed year without an audit for fewer.
        out.extend(Reaction::recorded_later(rng, truth, answer, if audited { 0.5 } else { 0.15 }));
        out
    }
}

fn f(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{answer, component, request_twice, validate};
    use rand::SeedableRng;

    #[test]
    fn requests_are_deterministic_and_fit_the_schema() {
        let component = component(&Audit);
        let schedule = Audit.scenario().schedule(3);
        for slot in schedule.iter().step_by(schedule.len() / 600) {
            request_twice(&Audit, slot);
        }
        let (mut broken_refused, mut broken) = (0, 0);
        for slot in &schedule {
            let r = Audit.request(&mut ChaCha8Rng::seed_from_u64(slot.index), slot);
            let ok = validate(&component, &r);
            let map = r.features.as_object().unwrap();
            assert!(map["charitable_ratio"].as_f64() <= map["deductions_ratio"].as_f64());
            if slot.phase.broken_feature {
                broken += 1;
                // Only the documented failure: income in cents above the schema's maximum.
                if let Err(errors) = ok {
                    assert!(errors.iter().all(|e| e.field == "income"), "{errors:?}");
                    broken_refused += 1;
                }
            } else {
                assert!(ok.is_ok(), "{:?} {:?}", r.features, ok.err());
            }
        }
        assert!(broken > 100 && broken_refused > broken / 3 && broken_refused < broken, "{broken_refused}/{broken}");
    }

    #[test]
    fn the_audit_rate_matches_training_and_rises_with_the_campaign() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let rate = |rng: &mut ChaCha8Rng, concept: bool| {
            let mut slot = Audit.scenario().schedule(1)[0].clone();
            slot.phase.concept_drift = concept;
            slot.phase.data_drift = false;
            let n = 20_000;
            (0..n).filter(|_| Audit.request(rng, &slot).truth == Truth::Label("audit".into())).count() as f64 / n as f64
        };
        let before = rate(&mut rng, false);
        let after = rate(&mut rng, true);
        assert!((0.06..0.14).contains(&before), "{before}");
        assert!(after > before + 0.03, "{before} {after}");
    }

    #[test]
    fn reactions_use_only_the_components_labels() {
        let component = component(&Audit);
        let slots = Audit.scenario().schedule(5);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut memory = UnitMemory::default();
        let mut bought = 0;
        for (i, slot) in slots.iter().take(3000).enumerate() {
            let request = Audit.request(&mut rng, slot);
            let mode = ["prompt", "annotate", "escalate", "none"][i % 4];
            let a = answer(mode, Some("audit"), None, Some(0.7));
            for r in Audit.react(&mut rng, slot, &request, &a, &mut memory, i as u64 * 60_000) {
                match r {
                    Reaction::Feedback { label, value, .. } => {
                        assert!(component.labels.contains(&label.unwrap()));
                        assert!(value.is_none());
                    }
                    Reaction::Outcome { name, value } => {
                        if name == "bought_audit_support" {
                            assert!(value.unwrap() > 0.0);
                            bought += 1;
                        }
                    }
                }
            }
        }
        assert!(bought > 0);
    }
}
