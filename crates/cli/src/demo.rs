//! `rein demo [EXAMPLE]`: serve an example system on the embedded store, play its
//! simulated world against it, and show what happens live.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rein_simulator::{RunConfig, Summary, World};

/// Marks a data directory `rein demo` made: the only kind it clears.
pub const MARKER: &str = ".rein-demo";

pub struct DemoOptions {
    pub example: String,
    pub seed: u64,
    pub scale: f64,
    pub data_dir: Option<PathBuf>,
    pub keep_serving: bool,
    /// The update registers the broken challenger, which the controller rolls back.
    pub bad_challenger: bool,
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
    let data_dir = options.data_dir.clone().unwrap_or_else(|| Path::new(".rein/demo").join(&options.example));
    // Before the (slow) model load: a refused directory is answered at once.
    prepare_data_dir(&data_dir)?;
    let (system, models) = crate::load(&file)?;
    let scenario = world.scenario().scaled(options.scale);
    println!("rein demo: {} — {}", options.example, system.description);
    println!("scenario `{}`: {}", scenario.name, scenario.description);
    println!(
        "{} requests by {} users over {} simulated days, seed {}\n",
        scenario.requests, scenario.users, scenario.days, options.seed
    );

    let runtime = crate::runtime()?;
    let played = runtime.block_on(async move {
        let telemetry = rein_server::Telemetry::open(&system, &data_dir, None)
            .map_err(|e| e.to_string())?
            .ok_or("the example's telemetry is off; a demo needs it")?;
        // the registry, as `rein serve` keeps it, with a token of the demo's own for its
        // admin calls
        let crate::models::Started { versions, registry, runtime } = crate::models::start(&system, &models, &data_dir)?;
        let settings = system.server.clone();
        let token = format!("{:032x}", rand::random::<u128>());
        // the monitors and the controller look when the demo says (the update's chunks,
        // the end), so the story reads the same on every machine
        let mut app =
            rein_server::App::new(system, versions, Some(telemetry)).with_monitor_tick(Duration::from_secs(86_400));
        app.registry = Some(rein_server::models::Models::new(registry, runtime, Some(token.clone()), &settings));
        let app = Arc::new(app);
        let demo = Demo {
            options: &options,
            world,
            requests: scenario.requests as u64,
            file: &file,
            data_dir: &data_dir,
            app: app.clone(),
            token: &token,
        };
        serving(app, |base_url| demo.play(base_url)).await
    });
    // As `rein serve`: a model call still running on the blocking pool cannot hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    played
}

/// A demo starts from an empty store so its numbers are its own. It clears only a
/// directory it made itself (marked with [`MARKER`]); an absent or empty one is taken
/// and marked; anything else is refused, so a user's directory is never wiped.
fn prepare_data_dir(dir: &Path) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if dir.join(MARKER).is_file() {
                std::fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
            } else if entries.next().is_some() {
                return Err(format!(
                    "{} is not empty and was not made by `rein demo` (it has no {MARKER} file), so the demo \
                     will not clear it: pass --data-dir a new or empty directory",
                    dir.display()
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot use {} as the demo's data directory: {e}", dir.display())),
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "made by `rein demo`, which clears this directory on its next run\n")
        .map_err(|e| format!("cannot mark {} as the demo's: {e}", dir.display()))
}

/// Serves `app` while `body` runs against its base URL, then stops the server and
/// finishes telemetry whatever `body` returned: no path leaves them running.
async fn serving<Body, Played>(app: Arc<rein_server::App>, body: Body) -> Result<(), String>
where
    Body: FnOnce(String) -> Played,
    Played: Future<Output = Result<(), String>>,
{
    let addr = "127.0.0.1:0".parse().expect("a valid address");
    let server = match rein_server::Running::start(app.clone(), addr).await {
        Ok(server) => server,
        Err(e) => {
            rein_server::finish(&app).await;
            return Err(format!("cannot start the server: {e}"));
        }
    };
    let played = body(format!("http://{}", server.addr)).await;
    let stopped = server.stop().await.map_err(|e| format!("server error: {e}"));
    played.and(stopped)
}

struct Demo<'a> {
    options: &'a DemoOptions,
    world: Arc<dyn World>,
    requests: u64,
    file: &'a Path,
    data_dir: &'a Path,
    app: Arc<rein_server::App>,
    token: &'a str,
}

impl Demo<'_> {
    /// Plays the world against the server at `base_url`, live, then reports.
    async fn play(self, base_url: String) -> Result<(), String> {
        let Demo { options, world, requests, file, data_dir, app, token } = self;
        let summary = Arc::new(Mutex::new(Summary::default()));
        let config = RunConfig {
            base_url: base_url.clone(),
            seed: options.seed,
            lanes: 16,
            start_ms: START_MS as u64,
            scale: options.scale,
        };
        let started = Instant::now();
        let bar = ProgressBar::new(requests);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} requests  {per_sec}\n{msg}",
            )
            .map_err(|e| e.to_string())?,
        );
        let mut sim = tokio::spawn(rein_simulator::run(world.clone(), config, summary.clone()));
        let interrupted = rein_server::shutdown_signal();
        tokio::pin!(interrupted);
        let result = loop {
            tokio::select! {
                done = &mut sim => break done.map_err(|e| format!("the simulation failed: {e}")),
                () = &mut interrupted => {
                    sim.abort();
                    let s = summary.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    bar.abandon();
                    return Err(format!(
                        "interrupted after {} requests; the server is stopped and what it recorded is in {}",
                        s.requests,
                        data_dir.display()
                    ));
                }
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    let s = summary.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    bar.set_position(s.requests);
                    bar.set_message(live(&s));
                }
            }
        }?;
        let s = summary.lock().unwrap_or_else(|e| e.into_inner()).clone();
        bar.set_position(s.requests);
        bar.finish_with_message(live(&s));
        result.map_err(|e| e.to_string())?;
        println!("\n{}", report(&s, started.elapsed()));
        let example_dir = file.parent().unwrap_or(Path::new("."));
        if crate::update::Update::challenger(example_dir, options.bad_challenger).is_some() {
            let update = crate::update::Update {
                app: app.clone(),
                base_url: &base_url,
                token,
                world: world.clone(),
                example_dir,
                file,
                data_dir,
                seed: options.seed,
                scale: options.scale,
                bad: options.bad_challenger,
                start_ms: config_end_ms(&*world),
            };
            update.tell().await?;
            println!();
        }
        println!("{}", goals(&app, data_dir).await?);
        let (rein, file, data_dir) = (crate::this_rein(), crate::absolute(file), crate::absolute(data_dir));
        println!("The data is in {data_dir} (SQLite). Look at it with:");
        println!("  {rein} export {file} --component {} --data-dir {data_dir} --format csv", world.component());
        println!("  {rein} goals {file} --data-dir {data_dir}");
        if options.keep_serving {
            let component = world.component();
            let sample = sample_request(&*world, options.seed);
            println!("  curl -s '{base_url}/v1/predictions?component={component}&limit=5'");
            println!("\nPredict, then report what happened (use the prediction_id it answers):");
            println!(
                "  curl -s {base_url}/v1/components/{component}/predict -H 'content-type: application/json' -d '{sample}'"
            );
            println!(
                "  curl -s {base_url}/v1/feedback -H 'content-type: application/json' -d '{{\"prediction_id\": \"ID\", \"kind\": \"incorrect\", \"comment\": \"wrong\"}}'"
            );
            println!(
                "  curl -s {base_url}/v1/outcomes -H 'content-type: application/json' -d '{{\"prediction_id\": \"ID\", \"unit\": \"user-1\", \"name\": \"left_page\"}}'"
            );
            println!("  curl -s {base_url}/v1/predictions/ID");
            println!("\nStill serving on {base_url}; stop with Ctrl-C.");
            rein_server::shutdown_signal().await;
        } else {
            println!(
                "  {rein} serve {file} --data-dir {data_dir}   # then GET /v1/predictions?component={}",
                world.component()
            );
        }
        Ok(())
    }
}

/// The goal tree as the world left it, every event the demo sent counted, and the report
/// page written into the data directory (its path said last).
async fn goals(app: &rein_server::App, data_dir: &Path) -> Result<String, String> {
    let telemetry = app.telemetry.as_ref().ok_or("the demo records telemetry")?;
    telemetry.flush().await.map_err(|e| format!("cannot measure the goals: {e}"))?;
    app.evaluate_monitors().await.map_err(|e| format!("cannot evaluate the monitors: {e}"))?;
    let dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let (system, store) = (app.system.clone(), telemetry.store.clone());
    tokio::task::spawn_blocking(move || {
        let options = rein_monitor::goals::Options::default();
        let report = rein_monitor::goals::measure(&system, store.as_ref(), &options)
            .map_err(|e| format!("cannot measure the goals: {e}"))?;
        let page = dir.join("report.html");
        let no_references = std::collections::HashMap::new();
        let written = crate::report::write(&system, store.as_ref(), &options, DAY_MS, &no_references, &dir, &page)?;
        let alerts = alerts(&system, store.as_ref())?;
        Ok(format!("{}\n{alerts}{written}; open it in a browser", crate::goals::render(&report)))
    })
    .await
    .map_err(|e| format!("measuring the goals failed: {e}"))?
}

const DAY_MS: i64 = 86_400_000;
/// The simulated clock's origin: 2026-01-01T00:00Z.
const START_MS: i64 = 1_767_225_600_000;

/// Where the world's own scenario ends on the simulated clock.
fn config_end_ms(world: &dyn World) -> i64 {
    START_MS + (world.scenario().days * DAY_MS as f64) as i64
}

/// The alerts the world's changes opened and closed, oldest first: the monitors' verdicts.
fn alerts(system: &rein_system::System, store: &dyn rein_telemetry::Store) -> Result<String, String> {
    use std::fmt::Write;
    let Some(alerts) = crate::report::alert_lines(system, store)? else { return Ok(String::new()) };
    let time = rein_monitor::goals::time_text;
    let mut s = format!("alerts ({} monitors watching):\n", system.monitors.len());
    if alerts.is_empty() {
        s.push_str("  none opened\n");
    }
    for a in &alerts {
        let closed = a.closed_ms.map_or("still open".to_owned(), |c| format!("closed {}", time(c)));
        let _ = writeln!(s, "  [{}] {} ({}): opened {}, {closed}", a.severity, a.monitor, a.watch, time(a.opened_ms));
    }
    s.push('\n');
    Ok(s)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_demo_still_stops_its_server_and_finishes_telemetry() {
        let (system, models) = crate::load(&example_file("phishing-warning").unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        crate::runtime().unwrap().block_on(async {
            let telemetry = rein_server::Telemetry::open(&system, dir.path(), None).unwrap().unwrap();
            let app = Arc::new(rein_server::App::new(system, models, Some(telemetry)));
            let mut url = String::new();
            let result = serving(app.clone(), |base_url| {
                url = base_url;
                async { Err("the world broke".to_string()) }
            })
            .await;
            assert_eq!(result, Err("the world broke".to_string()));
            assert!(reqwest::get(format!("{url}/v2/health/live")).await.is_err(), "the server is stopped");
            let writer = &app.telemetry.as_ref().unwrap().writer;
            let flushed = writer.flush().await;
            assert!(matches!(flushed, Err(rein_telemetry::RecordError::Closed)), "telemetry is finished: {flushed:?}");
        });
    }
}
