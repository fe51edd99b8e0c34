//! The legal self-help chatbot's world: first messages written from the same templates
//! and topic vocabulary as the training data (clear, mixed-topic and vague), and users who
//! finish self-help, ask for a human, or are connected with a lawyer.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::sample::*;
use crate::scenario::{ChangeKind, Scenario, Slot};
use crate::world::{Answer, Reaction, Request, Truth, UnitMemory, World};

pub struct Legal;

struct Vocab {
    topic: &'static str,
    things: &'static [&'static str],
    events: &'static [&'static str],
    asks: &'static [&'static str],
}

/// train.py's topics, in its (sorted) order.
const TOPICS: [Vocab; 5] = [
    Vocab {
        topic: "bankruptcy",
        things: &[
            "chapter 7",
            "chapter 13",
            "my credit card debt",
            "a debt collector",
            "my medical bills",
            "wage garnishment",
            "the bankruptcy trustee",
            "a repayment plan",
            "my car loan",
            "the creditors' meeting",
            "my student loans",
            "a payday loan",
        ],
        events: &[
            "debt collectors keep calling me",
            "I can't pay my bills anymore",
            "my wages are being garnished",
            "the bank wants to repossess my car",
            "I owe more than I make in a year",
            "a creditor sued me over an old debt",
        ],
        asks: &[
            "should I file for bankruptcy",
            "can I keep my house if I file",
            "will bankruptcy wipe out my debt",
            "how long does bankruptcy stay on my credit",
            "what is the difference between chapter 7 and 13",
        ],
    },
    Vocab {
        topic: "divorce",
        things: &[
            "custody of my kids",
            "child support",
            "alimony",
            "the divorce papers",
            "a separation agreement",
            "visitation rights",
            "the marital home",
            "spousal support",
            "a prenup",
            "mediation",
        ],
        events: &[
            "my husband wants a divorce",
            "my wife moved out with the kids",
            "we are separating",
            "my ex stopped paying child support",
            "my spouse hid money from me",
            "my ex won't let me see my children",
        ],
        asks: &[
            "how do I file for divorce",
            "who gets custody of the kids",
            "how is property divided in a divorce",
            "can I change the custody arrangement",
            "how much alimony will I pay",
        ],
    },
    Vocab {
        topic: "employment",
        things: &[
            "my boss",
            "unpaid overtime",
            "my final paycheck",
            "wrongful termination",
            "workplace harassment",
            "a non-compete clause",
            "workers' compensation",
            "my severance",
            "unemployment benefits",
            "discrimination at work",
            "my employer",
        ],
        events: &[
            "I was fired without warning",
            "my employer hasn't paid me in weeks",
            "my manager harasses me",
            "I got hurt at work",
            "they cut my hours after I complained",
            "I was laid off yesterday",
        ],
        asks: &[
            "can my employer fire me for this",
            "how do I get my unpaid wages",
            "is my non-compete enforceable",
            "can I get unemployment",
            "should I sign the severance agreement",
        ],
    },
    Vocab {
        topic: "housing",
        things: &[
            "my landlord",
            "my security deposit",
            "the eviction notice",
            "my lease",
            "the rent increase",
            "mold in my apartment",
            "repairs",
            "my tenant",
            "the housing court",
            "a broken heater",
        ],
        events: &[
            "my landlord is evicting me",
            "my landlord won't return my deposit",
            "the rent went up by 30 percent",
            "the heat has been off for weeks",
            "my landlord entered without notice",
            "I got a notice to quit",
        ],
        asks: &[
            "can my landlord evict me",
            "how do I get my deposit back",
            "can I break my lease early",
            "can I withhold rent until they fix it",
            "how much notice does my landlord have to give",
        ],
    },
    Vocab {
        topic: "immigration",
        things: &[
            "my visa",
            "my green card",
            "a work permit",
            "my asylum case",
            "the immigration court",
            "my H-1B",
            "citizenship",
            "my DACA renewal",
            "a deportation order",
            "my visa renewal",
            "USCIS",
        ],
        events: &[
            "my visa is about to expire",
            "I got a notice to appear in immigration court",
            "my green card application was denied",
            "my husband is being deported",
            "I overstayed my visa",
            "USCIS asked for more evidence",
        ],
        asks: &[
            "how do I renew my visa",
            "can I apply for a green card through marriage",
            "how long does naturalization take",
            "can I work while my asylum case is pending",
            "what happens if my visa expires",
        ],
    },
];

/// Immigration questions of a new kind (data drift): words the model never saw.
const NEW_IMMIGRATION: Vocab = Vocab {
    topic: "immigration",
    things: &[
        "TPS",
        "humanitarian parole",
        "my I-94",
        "an ICE check-in",
        "my EAD",
        "the travel ban",
        "advance parole",
        "my sponsor",
        "a Form I-130",
        "my parole status",
    ],
    events: &[
        "ICE detained my brother",
        "my TPS ends next month",
        "my parole runs out soon",
        "I missed my ICE check-in",
        "my sponsor withdrew",
        "my EAD has not arrived",
    ],
    asks: &[
        "can I extend my parole",
        "how do I re-register for TPS",
        "can I travel with advance parole",
        "who can sponsor me now",
        "what if I miss a check-in",
    ],
};

const CLEAR: [&str; 9] = [
    "{event}. {ask}?",
    "Hi, {event} and I need help with {thing}.",
    "{ask}? It's about {thing}.",
    "I have a question about {thing}. {event}.",
    "{event}. What are my rights regarding {thing}?",
    "hello. {ask}",
    "Need advice: {event}, and now {thing} is a problem too.",
    "{ask}? {event}.",
    "Can you help me with {thing}?",
];
const MIXED: [&str; 4] = [
    "I am thinking about {thing_a} and {thing_b}, where do I start?",
    "{event_a}, and on top of that {event_b}. What should I do?",
    "Question about {thing_a}. Also {event_b}.",
    "{ask_a}? And {ask_b}?",
];
const VAGUE: [&str; 10] = [
    "I got a letter and I don't know what it means.",
    "I need a lawyer.",
    "Someone is suing me, what do I do?",
    "I have a court date next week.",
    "Can you help me with a legal problem?",
    "I signed something and now I regret it.",
    "What are my rights?",
    "I received a notice in the mail.",
    "How much does a lawyer cost?",
    "I need help filling out a form.",
];
/// What a laid-off user on a work visa adds to a job question (concept drift).
const ON_A_VISA: [&str; 3] = ["I am on a work visa.", "My visa depends on this job.", "I'm here on an H-1B."];
const CITIES: [&str; 8] = ["Boston", "Chicago", "Phoenix", "Atlanta", "Denver", "Seattle", "Miami", "Dallas"];
const URGENT: [&str; 3] = ["The hearing is tomorrow.", "My court date is today.", "The eviction is tomorrow."];

impl World for Legal {
    fn example(&self) -> &'static str {
        "legal-triage"
    }

    fn component(&self) -> &'static str {
        "topic"
    }

    fn scenario(&self) -> Scenario {
        Scenario {
            name: "legal-aid-fortnight",
            description: "Two weeks of first messages from 4,000 people. From day 4 a policy change brings many \
                          more immigration questions (38% instead of 20%), most in words the model never saw \
                          (TPS, parole, ICE check-ins; data drift): its confidence drops and more users are \
                          escalated to lawyers. From day 7 a wave of H-1B layoffs: job questions from users on a work \
                          visa are about immigration now, and the model, sure they are employment, answers them \
                          alone (concept drift). Day \
                          8 the chat widget truncates messages to 12 characters, a quarter of them to 2 (broken \
                          feature; message_too_short refuses those). Days 11–12: a news story brings a surge.",
            users: 4_000,
            requests: 12_000,
            days: 14.0,
            changes: Vec::new(),
        }
        .during(ChangeKind::DataDrift, 4.0, 14.0)
        .during(ChangeKind::ConceptDrift, 7.0, 14.0)
        .during(ChangeKind::BrokenFeature, 8.0, 9.0)
        .during(ChangeKind::Surge, 11.0, 12.5)
    }

    fn request(&self, rng: &mut ChaCha8Rng, slot: &Slot) -> Request {
        let phase = slot.phase;
        let weights: &[f64] = if phase.data_drift { &[1.0, 1.0, 1.0, 1.0, 2.5] } else { &[1.0; 5] };
        let topic = index(rng, weights);
        let vocab =
            if topic == 4 && phase.data_drift && bernoulli(rng, 0.6) { &NEW_IMMIGRATION } else { &TOPICS[topic] };
        let mut truth = vocab.topic;
        let r: f64 = rng.random();
        let text = if phase.concept_drift && bernoulli(rng, 0.12) {
            // Laid off on a visa: the message reads as a job question, as those the model
            // learned were employment, yet the visa is the user's concern now.
            let job = &TOPICS[2];
            truth = "immigration";
            let t = pick(rng, &CLEAR);
            let (event, thing, ask) = (pick(rng, job.events), pick(rng, job.things), pick(rng, job.asks));
            let text = t.replace("{event}", event).replace("{thing}", thing).replace("{ask}", ask);
            format!("{text} {}", pick(rng, &ON_A_VISA))
        } else if r < 0.80 {
            let t = pick(rng, &CLEAR);
            let (event, thing, ask) = (pick(rng, vocab.events), pick(rng, vocab.things), pick(rng, vocab.asks));
            t.replace("{event}", event).replace("{thing}", thing).replace("{ask}", ask)
        } else if r < 0.95 {
            // Two topics; the label is the first, the user's main concern.
            let others: Vec<usize> = (0..5).filter(|&i| i != topic).collect();
            let other = &TOPICS[*pick(rng, &others)];
            let t = pick(rng, &MIXED);
            mixed(rng, t, vocab, other)
        } else {
            pick(rng, &VAGUE).to_string()
        };
        let mut message = fill(rng, text);
        if bernoulli(rng, 0.02) {
            message = format!("{message} {}", pick(rng, &URGENT));
        }
        if phase.broken_feature {
            let keep = if bernoulli(rng, 0.25) { 2 } else { 12 };
            message = message.chars().take(keep).collect();
        }
        Request { features: json!({ "message": message }), context: json!({}), truth: Truth::Label(truth.into()) }
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
        let truth = &request.truth;
        let right = truth.matches(answer);
        let mut out = Vec::new();
        let lawyer = |rng: &mut ChaCha8Rng, out: &mut Vec<Reaction>| {
            out.push(Reaction::outcome("connected_with_lawyer"));
            // The lawyer files the case under its real topic.
            if bernoulli(rng, 0.8) {
                out.push(Reaction::label(truth, "expert"));
            }
        };
        match answer.mode.as_str() {
            // Most escalated users take the lawyer's call; the others leave (the last arm).
            "escalate" if bernoulli(rng, 0.9) => lawyer(rng, &mut out),
            "automate" | "annotate" => {
                let offered = answer.mode == "annotate";
                if right && bernoulli(rng, if offered { 0.75 } else { 0.9 }) {
                    out.push(Reaction::outcome("self_help_completed"));
                    if bernoulli(rng, 0.3) {
                        out.push(Reaction::outcome("rated_helpful"));
                    }
                } else if !right && bernoulli(rng, 0.15) {
                    out.push(Reaction::outcome("left_chat"));
                } else {
                    // Self-help for the wrong topic (or not enough): the user asks for a person.
                    out.push(Reaction::outcome("asked_for_human"));
                    if !right && bernoulli(rng, 0.4) {
                        out.push(Reaction::incorrect(truth, "user").saying("this is not what my question is about"));
                    }
                    lawyer(rng, &mut out);
                }
            }
            _ => out.push(Reaction::outcome("left_chat")),
        }
        out
    }
}

fn mixed(rng: &mut ChaCha8Rng, template: &str, a: &Vocab, b: &Vocab) -> String {
    let parts = [
        ("{thing_a}", pick(rng, a.things)),
        ("{thing_b}", pick(rng, b.things)),
        ("{event_a}", pick(rng, a.events)),
        ("{event_b}", pick(rng, b.events)),
        ("{ask_a}", pick(rng, a.asks)),
        ("{ask_b}", pick(rng, b.asks)),
    ];
    parts.iter().fold(template.to_string(), |t, (k, v)| t.replace(k, v))
}

/// train.py's `fill`: a city now and then, sometimes all lower case, usually capitalized.
fn fill(rng: &mut ChaCha8Rng, text: String) -> String {
    let mut text = text;
    if bernoulli(rng, 0.3) {
        text = format!("{text} I live in {}.", pick(rng, &CITIES));
    }
    if bernoulli(rng, 0.3) {
        text = text.to_lowercase();
    }
    if bernoulli(rng, 0.7) {
        let mut chars = text.chars();
        if let Some(first) = chars.next() {
            text = first.to_uppercase().chain(chars).collect();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{answer, component, request_twice, validate};
    use rand::SeedableRng;

    #[test]
    fn requests_are_deterministic_and_fit_the_schema() {
        let component = component(&Legal);
        let schedule = Legal.scenario().schedule(3);
        let mut short = 0;
        for slot in &schedule {
            let a = request_twice(&Legal, slot);
            let ok = validate(&component, &a);
            assert!(ok.is_ok(), "{:?} {:?}", a.features, ok.err());
            let map = a.features.as_object().unwrap();
            let Truth::Label(t) = &a.truth else { panic!() };
            assert!(component.labels.contains(t));
            let message = map["message"].as_str().unwrap();
            assert!(!message.contains('{'), "{message}");
            if message.chars().count() < 3 {
                assert!(slot.phase.broken_feature);
                short += 1;
            }
        }
        assert!(short > 50, "{short}");
    }

    #[test]
    fn messages_look_like_the_training_data() {
        let slot = Legal.scenario().schedule(1)[0].clone();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let messages: Vec<String> = (0..200)
            .map(|_| Legal.request(&mut rng, &slot).features["message"].as_str().unwrap().to_string())
            .collect();
        assert!(messages.iter().any(|m| m.contains("I live in")));
        assert!(messages.iter().any(|m| m.contains("where do I start") || m.contains("What should I do")));
        assert!(messages.iter().all(|m| !m.contains("TPS")));
    }

    #[test]
    fn reactions_use_only_the_components_labels() {
        let component = component(&Legal);
        let slots = Legal.scenario().schedule(5);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut memory = UnitMemory::default();
        let mut lawyers = 0;
        for (i, slot) in slots.iter().enumerate().step_by(3) {
            let request = Legal.request(&mut rng, slot);
            let mode = ["automate", "annotate", "escalate"][i % 3];
            let a = answer(mode, Some(&component.labels[i % 5]), None, Some(0.9));
            for r in Legal.react(&mut rng, slot, &request, &a, &mut memory, 0) {
                match r {
                    Reaction::Feedback { label, value, .. } => {
                        assert!(component.labels.contains(&label.unwrap()));
                        assert!(value.is_none());
                    }
                    Reaction::Outcome { name, .. } => lawyers += (name == "connected_with_lawyer") as usize,
                }
            }
        }
        assert!(lawyers > 100);
    }
}
