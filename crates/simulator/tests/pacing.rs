//! The driver's lanes stay in step in simulated time: played against a stand-in for rein
//! that answers some users slowly (so their lanes fall behind), no prediction arrives after
//! one stamped more than the lead later than itself; without pacing, lanes drift hours apart.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rein_simulator::scenario::{Scenario, Slot};
use rein_simulator::world::{Answer, Reaction, Request, Truth, UnitMemory, World};
use rein_simulator::{LEAD_MS, RunConfig, Summary, run_with_lead};
use serde_json::{Value, json};

struct Steady;

impl World for Steady {
    fn example(&self) -> &'static str {
        "steady"
    }
    fn component(&self) -> &'static str {
        "c"
    }
    fn scenario(&self) -> Scenario {
        Scenario { name: "steady", description: "", users: 40, requests: 1_500, days: 1.0, changes: Vec::new() }
    }
    fn request(&self, _: &mut ChaCha8Rng, _: &Slot) -> Request {
        Request { features: json!({}), context: json!({}), truth: Truth::Label("a".into()) }
    }
    fn react(
        &self,
        _: &mut ChaCha8Rng,
        _: &Slot,
        _: &Request,
        _: &Answer,
        _: &mut UnitMemory,
        _: u64,
    ) -> Vec<Reaction> {
        vec![Reaction::outcome("seen")]
    }
}

/// A stand-in for rein: records each prediction's `time_ms` as it arrives; answers the
/// users whose number is a multiple of 3 two milliseconds late.
fn stand_in(arrived: Arc<Mutex<Vec<u64>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let arrived = arrived.clone();
            std::thread::spawn(move || serve(stream.unwrap(), &arrived));
        }
    });
    format!("http://{addr}")
}

fn serve(stream: TcpStream, arrived: &Mutex<Vec<u64>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let (mut head, mut length) = (String::new(), 0);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        let (status, reply) = if head.contains("/predict") {
            let unit: u64 = body["unit"].as_str().unwrap().trim_start_matches("user-").parse().unwrap();
            if unit.is_multiple_of(3) {
                std::thread::sleep(Duration::from_millis(2));
            }
            arrived.lock().unwrap().push(body["time_ms"].as_u64().unwrap());
            ("200 OK", json!({"prediction_id": "p", "decision": {"mode": "none"}, "output": {"label": "a"}}))
        } else {
            ("202 Accepted", json!({}))
        };
        let reply = reply.to_string();
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
            reply.len()
        );
        writer.write_all(answer.as_bytes()).unwrap();
    }
}

/// The most any prediction arrived after one stamped later than itself, in simulated ms.
async fn spread(lead_ms: u64) -> u64 {
    let arrived = Arc::new(Mutex::new(Vec::new()));
    let config = RunConfig { base_url: stand_in(arrived.clone()), seed: 3, lanes: 8, start_ms: 0, scale: 1.0 };
    run_with_lead(Arc::new(Steady), config, Arc::new(Mutex::new(Summary::default())), lead_ms).await.unwrap();
    let arrived = arrived.lock().unwrap();
    assert_eq!(arrived.len(), 1_500, "every request is played");
    let (mut latest, mut worst) = (0u64, 0u64);
    for &t in arrived.iter() {
        worst = worst.max(latest.saturating_sub(t));
        latest = latest.max(t);
    }
    worst
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_stay_within_the_lead_of_the_slowest() {
    let paced = spread(LEAD_MS).await;
    assert!(paced <= LEAD_MS, "a prediction arrived after one stamped {paced} ms later");
    // the same run unpaced: the slow users' lanes fall hours behind
    let unpaced = spread(u64::MAX).await;
    assert!(unpaced > 4 * LEAD_MS, "unpaced, lanes drifted only {unpaced} ms apart");
}
