//! The same seed plays the same world: every event sent to rein and every report, pinned
//! as digests taken before the worlds were refactored (legal-triage's since its concept drift
//! became job questions of users on a work visa). A changed digest is a changed world.
//!
//! A fake rein answers from a hash of each request, so answers are deterministic too.
//! The digests hash f64 text, so they hold where the platform's libm rounds as glibc's.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rein_simulator::world::{Answer, Reaction, UnitMemory};
use rein_simulator::{RunConfig, Summary, World};
use serde_json::{Value, json};

const SEED: u64 = 7;
const MODES: [&str; 5] = ["automate", "prompt", "annotate", "escalate", "none"];

/// (example, digest of a full schedule played without HTTP, digest of a short run over HTTP)
const PINNED: [(&str, u64, u64); 4] = [
    ("phishing-warning", 0xa6878bbd7c02567a, 0x01a38402a892d3ef),
    ("audit-risk", 0x6cf9b0d09b21ed55, 0x94b47a2d791632b9),
    ("smart-toaster", 0xecd4f3d53451c8ba, 0x19c36b7a1140025a),
    ("legal-triage", 0x586da58c8d780c91, 0x1ea62c4a6255dcb2),
];

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// What the fake rein knows of a component: its labels and guardrails.
struct Fake {
    labels: Vec<String>,
    rules: Vec<String>,
}

impl Fake {
    fn of(example: &str, world: &dyn World) -> Fake {
        let path = format!("{}/../../examples/{example}/rein.toml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let system = rein_system::parse(&text, Path::new(&path)).unwrap();
        let component = system.component(world.component()).unwrap();
        Fake { labels: component.labels.clone(), rules: component.guardrails.iter().map(|g| g.name.clone()).collect() }
    }

    /// rein's answer to a request body, from its hash: (status, reply).
    fn answer(&self, body: &str) -> (u16, Value) {
        let h = fnv(body);
        if h.is_multiple_of(23) {
            return (422, json!({"error": "refused"}));
        }
        let output = if self.labels.is_empty() {
            let seconds = [0.0, 45.0, 90.0, 120.0, 150.0, 240.0][(h >> 16) as usize % 6];
            json!({ "value": seconds })
        } else {
            json!({"label": self.labels[(h >> 16) as usize % self.labels.len()], "score": ((h >> 24) % 1000) as f64 / 1000.0})
        };
        let rules: Vec<Value> = if (h >> 40).is_multiple_of(4) && !self.rules.is_empty() {
            vec![json!({"rule": self.rules[(h >> 44) as usize % self.rules.len()]})]
        } else {
            vec![]
        };
        let reply = json!({
            "prediction_id": format!("p-{h:016x}"),
            "output": output,
            "decision": {"mode": MODES[(h >> 8) as usize % 5]},
            "guardrails": rules,
        });
        (200, reply)
    }
}

fn answer_of(v: &Value) -> Answer {
    Answer {
        prediction_id: v["prediction_id"].as_str().unwrap().to_string(),
        mode: v["decision"]["mode"].as_str().unwrap().to_string(),
        label: v["output"]["label"].as_str().map(str::to_string),
        value: v["output"]["value"].as_f64(),
        score: v["output"]["score"].as_f64(),
        rules: v["guardrails"].as_array().unwrap().iter().map(|g| g["rule"].as_str().unwrap().to_string()).collect(),
    }
}

/// Every slot of the full schedule: the request, a fake answer, the world's reactions.
fn full_schedule_digest(example: &str) -> u64 {
    let world = rein_simulator::world(example).unwrap();
    let fake = Fake::of(example, &*world);
    let mut memories: HashMap<String, UnitMemory> = HashMap::new();
    let mut text = String::new();
    for slot in world.scenario().schedule(SEED) {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ slot.index);
        let request = world.request(&mut rng, &slot);
        let body = json!({"unit": slot.unit, "features": request.features, "context": request.context}).to_string();
        let (status, reply) = fake.answer(&body);
        text += &format!("{body} {:?} {status}\n", request.truth);
        if status != 200 {
            continue;
        }
        let memory = memories.entry(slot.unit.clone()).or_default();
        for reaction in world.react(&mut rng, &slot, &request, &answer_of(&reply), memory, slot.offset_ms) {
            text += &match reaction {
                Reaction::Feedback { kind, label, value, source, comment } => {
                    format!("  feedback {kind} {label:?} {value:?} {source} {comment:?}\n")
                }
                Reaction::Outcome { name, value } => format!("  outcome {name} {value:?}\n"),
            };
        }
    }
    fnv(&text)
}

/// A fake rein over HTTP/1.1 that records every body it is sent.
fn serve(fake: Fake) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (fake, log) = (Arc::new(fake), seen.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let (fake, log) = (fake.clone(), log.clone());
            std::thread::spawn(move || connection(stream.unwrap(), &fake, &log));
        }
    });
    (url, seen)
}

fn connection(stream: TcpStream, fake: &Fake, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    stream.set_nodelay(true).unwrap();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or_default().to_string();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let body = String::from_utf8(body).unwrap();
        let (status, reply) = if path.ends_with("/predict") { fake.answer(&body) } else { (202, json!({})) };
        log.lock().unwrap().push(format!("{path} {body}"));
        let reply = reply.to_string();
        let head =
            format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", reply.len());
        stream.write_all((head + &reply).as_bytes()).unwrap();
    }
}

/// A short run through the driver: what rein was sent, in any lane order, and the report.
fn short_run_digest(example: &str) -> u64 {
    let world = rein_simulator::world(example).unwrap();
    let (base_url, seen) = serve(Fake::of(example, &*world));
    let config = RunConfig { base_url, seed: SEED, lanes: 3, start_ms: 1_700_000_000_000, scale: 0.02 };
    let summary = Arc::new(Mutex::new(Summary::default()));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(rein_simulator::run(world, config, summary.clone())).unwrap();
    let mut events = seen.lock().unwrap().clone();
    events.sort();
    let mut s = summary.lock().unwrap().clone();
    assert_eq!(s.latencies_us.len() as u64, s.requests);
    assert_eq!(s.requests, s.planned);
    // The run reaches refusals, rules, feedback and outcomes, so the digest covers them.
    assert!(!s.refused.is_empty() && !s.by_rule.is_empty() && s.feedback > 0 && !s.outcomes.is_empty(), "{s:?}");
    s.prediction_ids.sort();
    let report = format!(
        "{} {} {:?} {:?} {:?} {} {:?} {:?} {:?}",
        s.planned, s.requests, s.by_mode, s.by_rule, s.refused, s.feedback, s.outcomes, s.accuracy, s.prediction_ids
    );
    fnv(&(events.join("\n") + "\n" + &report))
}

#[test]
fn the_same_seed_plays_the_same_worlds_as_before() {
    let mut found = Vec::new();
    for (example, _, _) in PINNED {
        found.push((example, full_schedule_digest(example), short_run_digest(example)));
    }
    let pretty: Vec<String> = found.iter().map(|(e, a, b)| format!("(\"{e}\", {a:#018x}, {b:#018x}),")).collect();
    assert_eq!(found, PINNED, "digests now:\n{}", pretty.join("\n"));
}
