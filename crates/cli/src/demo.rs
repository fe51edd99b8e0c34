//! `rein demo [EXAMPLE]`: serve an example system on the embedded store, play its
//! simulated world against it, and show what happens live.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rein_simulator::{RunConfig, Summary};

pub struct DemoOptions {
    pub example: String,
    pub seed: u64,
    pub scale: f64,
    pub data_dir: Option<PathBuf>,
    pub keep_serving: bool,
}

/// Finds `examples/<name>/rein.toml` from the current directory or the binary's, upward.
pub fn example_file(name: &str) -> Result<PathBuf, String> {
    let mut starts = vec![std::env::current_dir().unwrap_or_default()];
    if let Ok(exe) = std::env::current_exe() {
        starts.push(exe);
    }
    for start in starts {
        for dir in start.ancestors() {
            let file = dir.join("examples").join(name).join("rein.toml");
            if file.is_file() {
                return Ok(file);
            }
        }
    }
    Err(format!(
        "cannot find examples/{name}/rein.toml from here; run `rein demo` inside the rein repository (examples: {})",
        rein_simulator::EXAMPLES.join(", ")
    ))
}

pub fn run(options: DemoOptions) -> Result<(), String> {
    let Some(world) = rein_simulator::world(&options.example) else {
        return Err(format!(
            "no simulated world for `{}`; examples with a world: {}",
            options.example,
            rein_simulator::EXAMPLES.join(", ")
        ));
    };
    let file = example_file(&options.example)?;
    let (system, models) = crate::load(&file)?;
    let data_dir = options.data_dir.clone().unwrap_or_else(|| Path::new(".rein/demo").join(&options.example));
    // A demo starts from an empty store so its numbers are its own.
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir).map_err(|e| format!("cannot clear {}: {e}", data_dir.display()))?;
    }
    let scenario = world.scenario().scaled(options.scale);
    println!("rein demo: {} — {}", options.example, system.description);
    println!("scenario `{}`: {}", scenario.name, scenario.description);
    println!(
        "{} requests by {} users over {} simulated days, seed {}\n",
        scenario.requests, scenario.users, scenario.days, options.seed
    );

    crate::runtime()?.block_on(async move {
        let telemetry = rein_server::Telemetry::open(&system, &data_dir, None)?
            .ok_or("the example's telemetry is off; a demo needs it")?;
        let app = Arc::new(rein_server::App::new(system, models, Some(telemetry)));
        let addr = "127.0.0.1:0".parse().expect("a valid address");
        let server =
            rein_server::Running::start(app, addr).await.map_err(|e| format!("cannot start the server: {e}"))?;
        let base_url = format!("http://{}", server.addr);
        let summary = Arc::new(Mutex::new(Summary::default()));
        let config = RunConfig {
            base_url: base_url.clone(),
            seed: options.seed,
            lanes: 16,
            start_ms: 1_767_225_600_000, // 2026-01-01T00:00Z, the simulated clock's origin
            scale: options.scale,
        };
        let started = Instant::now();
        let bar = ProgressBar::new(scenario.requests as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} requests  {per_sec}\n{msg}",
            )
            .map_err(|e| e.to_string())?,
        );
        let sim = tokio::spawn(rein_simulator::run(world.clone(), config, summary.clone()));
        while !sim.is_finished() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let s = summary.lock().unwrap_or_else(|e| e.into_inner()).clone();
            bar.set_position(s.requests);
            bar.set_message(live(&s));
        }
        let result = sim.await.map_err(|e| format!("the simulation failed: {e}"))?;
        let s = summary.lock().unwrap_or_else(|e| e.into_inner()).clone();
        bar.set_position(s.requests);
        bar.finish_with_message(live(&s));
        result.map_err(|e| e.to_string())?;
        println!("\n{}", report(&s, started.elapsed()));
        println!("The data is in {} (SQLite). Look at it with:", data_dir.display());
        println!(
            "  rein export {} --component {} --data-dir {} --format csv",
            file.display(),
            world.component(),
            data_dir.display()
        );
        if options.keep_serving {
            let component = world.component();
            let sample = sample_request(&*world, options.seed);
            println!("  curl -s '{base_url}/v1/predictions?component={component}&limit=5'");
            println!("\nPredict, then report what happened (use the prediction_id it answers):");
            println!("  curl -s {base_url}/v1/components/{component}/predict -H 'content-type: application/json' -d '{sample}'");
            println!("  curl -s {base_url}/v1/feedback -H 'content-type: application/json' -d '{{\"prediction_id\": \"ID\", \"kind\": \"incorrect\", \"comment\": \"wrong\"}}'");
            println!("  curl -s {base_url}/v1/outcomes -H 'content-type: application/json' -d '{{\"prediction_id\": \"ID\", \"unit\": \"user-1\", \"name\": \"left_page\"}}'");
            println!("  curl -s {base_url}/v1/predictions/ID");
            println!("\nStill serving on {base_url}; stop with Ctrl-C.");
            rein_server::shutdown_signal().await;
        } else {
            println!(
                "  rein serve {} --data-dir {}   # then GET /v1/predictions?component={}",
                file.display(),
                data_dir.display(),
                world.component()
            );
        }
        server.stop().await.map_err(|e| format!("server error: {e}"))
    })
}

fn live(s: &Summary) -> String {
    let modes: Vec<String> = s.by_mode.iter().map(|(m, n)| format!("{m} {n}")).collect();
    let rules: Vec<String> = s.by_rule.iter().map(|(r, n)| format!("{r} {n}")).collect();
    format!(
        "  modes: {}\n  guardrails: {}\n  feedback sent: {}   refused: {}   latency p50 {:.2} ms, p99 {:.2} ms",
        if modes.is_empty() { "-".into() } else { modes.join(", ") },
        if rules.is_empty() { "-".into() } else { rules.join(", ") },
        s.feedback,
        s.refused.values().sum::<u64>(),
        s.latency_percentile_ms(0.5),
        s.latency_percentile_ms(0.99),
    )
}

fn report(s: &Summary, took: Duration) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} requests in {:.1} s ({:.0}/s)",
        s.requests,
        took.as_secs_f64(),
        s.requests as f64 / took.as_secs_f64()
    );
    let modes: Vec<String> = s.by_mode.iter().map(|(m, n)| format!("{m} {n}")).collect();
    let rules: Vec<String> = s.by_rule.iter().map(|(r, n)| format!("{r} {n}")).collect();
    let refused: Vec<String> = s.refused.iter().map(|(status, n)| format!("{status}: {n}")).collect();
    let _ = writeln!(out, "decisions by mode: {}", if modes.is_empty() { "-".into() } else { modes.join(", ") });
    let _ = writeln!(out, "guardrails fired: {}", if rules.is_empty() { "-".into() } else { rules.join(", ") });
    let _ = writeln!(out, "requests refused: {}", if refused.is_empty() { "none".into() } else { refused.join(", ") });
    let _ = writeln!(out, "feedback sent: {}", s.feedback);
    let _ = writeln!(
        out,
        "client-side latency: p50 {:.2} ms, p99 {:.2} ms",
        s.latency_percentile_ms(0.5),
        s.latency_percentile_ms(0.99)
    );
    let outcomes: Vec<String> = s.outcomes.iter().map(|(o, n)| format!("{o} {n}")).collect();
    let _ = writeln!(out, "outcomes reported: {}", if outcomes.is_empty() { "-".into() } else { outcomes.join(", ") });
    let _ = writeln!(out, "accuracy against the hidden truth, by phase of the world:");
    for (phase, (right, total)) in &s.accuracy {
        let _ = writeln!(out, "  {phase:<40} {:>5.1}% of {total}", 100.0 * *right as f64 / (*total).max(1) as f64);
    }
    out
}

/// A request the world would send, as JSON for a curl line.
fn sample_request(world: &dyn rein_simulator::World, seed: u64) -> String {
    use rand::SeedableRng;
    let scenario = world.scenario();
    let slot = scenario.schedule(seed).into_iter().next().expect("a scenario has requests");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let request = world.request(&mut rng, &slot);
    serde_json::json!({"unit": slot.unit, "features": request.features, "context": request.context}).to_string()
}
