//! Plays a world's scenario against a running rein over HTTP, as fast as rein answers,
//! sending the simulated clock with every event.
//!
//! Determinism: each user's requests run in order on one lane, and every request draws
//! from its own generator seeded by (seed, request index), so the recorded outcomes do
//! not depend on how lanes interleave.
//!
//! Pacing: no lane runs more than [`LEAD_MS`] of simulated time ahead of the slowest
//! ([`crate::pace`]), so predictions reach rein nearly in event-time order, as a live
//! system's would, and its monitors judge whole windows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::pace::{LEAD_MS, Pacer, Positions};
use crate::report::Summary;
use crate::scenario::Slot;
use crate::world::{Answer, Reaction, UnitMemory, World};

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub base_url: String,
    pub seed: u64,
    /// Users served at once; each lane plays its users' requests in order.
    pub lanes: usize,
    /// Simulated time (unix ms) of the start of the run.
    pub start_ms: u64,
    /// Scales the scenario's users and requests (1.0 = as written).
    pub scale: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot reach rein at {url}: {error}")]
    Unreachable { url: String, error: String },
    #[error("rein answered {status} to {what}: {body}")]
    Refused { what: String, status: u16, body: String },
}

/// Runs the world's scenario; `summary` is updated as requests complete, for live display.
pub async fn run(world: Arc<dyn World>, config: RunConfig, summary: Arc<Mutex<Summary>>) -> Result<(), SimError> {
    run_with_lead(world, config, summary, LEAD_MS).await
}

/// [`run`], no lane more than `lead_ms` of simulated time ahead of the slowest.
pub async fn run_with_lead(
    world: Arc<dyn World>,
    config: RunConfig,
    summary: Arc<Mutex<Summary>>,
    lead_ms: u64,
) -> Result<(), SimError> {
    let scenario = world.scenario().scaled(config.scale);
    play(world, &scenario, config, summary, lead_ms).await
}

/// Runs `scenario` (already scaled) in `world`: a later act of its story, such as the
/// days after the world's own scenario that `rein demo`'s update plays.
pub async fn run_scenario(
    world: Arc<dyn World>,
    scenario: &crate::scenario::Scenario,
    config: RunConfig,
    summary: Arc<Mutex<Summary>>,
) -> Result<(), SimError> {
    play(world, scenario, config, summary, LEAD_MS).await
}

async fn play(
    world: Arc<dyn World>,
    scenario: &crate::scenario::Scenario,
    config: RunConfig,
    summary: Arc<Mutex<Summary>>,
    lead_ms: u64,
) -> Result<(), SimError> {
    let schedule = scenario.schedule(config.seed);
    lock(&summary).planned = schedule.len() as u64;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(config.lanes)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| SimError::Unreachable { url: config.base_url.clone(), error: e.to_string() })?;

    let mut lanes: Vec<Vec<Slot>> = vec![Vec::new(); config.lanes.max(1)];
    for slot in schedule {
        let lane = lane_of(&slot.unit, lanes.len());
        lanes[lane].push(slot);
    }
    let pacer = Arc::new(Pacer::new(Positions::new(lanes.iter().map(|l| l.first().map(|s| s.offset_ms))), lead_ms));
    let mut tasks = Vec::new();
    for (lane, slots) in lanes.into_iter().enumerate() {
        let (world, config, summary, client, pacer) =
            (world.clone(), config.clone(), summary.clone(), client.clone(), pacer.clone());
        tasks.push(tokio::spawn(async move {
            let _done = pacer.done_on_drop(lane);
            play_lane(&*world, &config, &client, slots, &summary, &pacer, lane).await
        }));
    }
    let mut first_error = None;
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(join) => {
                first_error
                    .get_or_insert(SimError::Unreachable { url: config.base_url.clone(), error: join.to_string() });
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn lock(s: &Mutex<Summary>) -> std::sync::MutexGuard<'_, Summary> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn lane_of(unit: &str, lanes: usize) -> usize {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in unit.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    (h % lanes as u64) as usize
}

async fn play_lane(
    world: &dyn World,
    config: &RunConfig,
    client: &reqwest::Client,
    slots: Vec<Slot>,
    summary: &Mutex<Summary>,
    pacer: &Pacer,
    lane: usize,
) -> Result<(), SimError> {
    let mut memories: HashMap<String, UnitMemory> = HashMap::new();
    for (i, slot) in slots.iter().enumerate() {
        pacer.wait(slot.offset_ms).await;
        play_slot(world, config, client, slot, summary, &mut memories).await?;
        pacer.advance(lane, slots.get(i + 1).map(|s| s.offset_ms));
    }
    Ok(())
}

/// One request, and the user's reactions to its answer.
async fn play_slot(
    world: &dyn World,
    config: &RunConfig,
    client: &reqwest::Client,
    slot: &Slot,
    summary: &Mutex<Summary>,
    memories: &mut HashMap<String, UnitMemory>,
) -> Result<(), SimError> {
    let predict_url = format!("{}/v1/components/{}/predict", config.base_url, world.component());
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed.wrapping_mul(0x9E3779B97F4A7C15) ^ slot.index);
    let request = world.request(&mut rng, slot);
    let now_ms = config.start_ms + slot.offset_ms;
    let body = json!({"unit": slot.unit, "features": request.features, "context": request.context, "time_ms": now_ms});
    let started = Instant::now();
    let (status, reply) = post(client, &predict_url, &body).await?;
    let elapsed = started.elapsed().as_micros() as u64;
    if status != 200 {
        lock(summary).refused(status, elapsed);
        if status >= 500 && status != 503 {
            return Err(SimError::Refused { what: "a prediction".into(), status, body: reply.to_string() });
        }
        return Ok(());
    }
    let answer = parse_answer(&reply);
    let memory = memories.entry(slot.unit.clone()).or_default();
    let reactions = world.react(&mut rng, slot, &request, &answer, memory, now_ms);
    let mut feedback = 0;
    let mut outcomes = Vec::new();
    for reaction in reactions {
        // Reactions come a little after the prediction, in simulated time.
        let at = now_ms + 1_000;
        match reaction {
            Reaction::Feedback { kind, label, value, source, comment } => {
                let body = json!({
                    "prediction_id": answer.prediction_id, "kind": kind, "label": label, "value": value,
                    "unit": slot.unit, "source": source, "comment": comment, "time_ms": at,
                    "key": format!("{}-{}", answer.prediction_id, kind),
                });
                let (status, reply) = post(client, &format!("{}/v1/feedback", config.base_url), &body).await?;
                if status != 202 {
                    return Err(SimError::Refused { what: "feedback".into(), status, body: reply.to_string() });
                }
                feedback += 1;
            }
            Reaction::Outcome { name, value } => {
                let body = json!({"unit": slot.unit, "prediction_id": answer.prediction_id, "name": name, "value": value, "time_ms": at});
                let (status, reply) = post(client, &format!("{}/v1/outcomes", config.base_url), &body).await?;
                if status != 202 {
                    return Err(SimError::Refused { what: "an outcome".into(), status, body: reply.to_string() });
                }
                outcomes.push(name);
            }
        }
    }
    lock(summary).answered(slot.phase, &request.truth, answer, feedback, &outcomes, elapsed);
    Ok(())
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Result<(u16, Value), SimError> {
    let response = client
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| SimError::Unreachable { url: url.to_string(), error: e.to_string() })?;
    let status = response.status().as_u16();
    let json = response.json().await.unwrap_or(Value::Null);
    Ok((status, json))
}

fn parse_answer(v: &Value) -> Answer {
    Answer {
        prediction_id: v["prediction_id"].as_str().unwrap_or_default().to_string(),
        mode: v["decision"]["mode"].as_str().unwrap_or("none").to_string(),
        label: v["output"]["label"].as_str().map(str::to_string),
        value: v["output"]["value"].as_f64(),
        score: v["output"]["score"].as_f64(),
        rules: v["guardrails"]
            .as_array()
            .map(|a| a.iter().filter_map(|g| g["rule"].as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
    }
}
