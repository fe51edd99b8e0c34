//! `rein`: serve an ML-enabled system, check its system file, predict once, or draft a
//! system file from a model.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

// mimalloc: the request path allocates many small, short-lived values, where glibc
// malloc costs about a sixth of the server's CPU under load (perf, 2026-11-27).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use rein_runtime::ServedModel;
use rein_server::TelemetryMode;
use rein_system::{Action, Goal, Measure, Policy, Stage, System};

mod demo;
mod experiment;
mod goals;
mod init;
mod models;
mod monitor;
mod report;
mod review;
mod rollout;
mod shadow;
mod store;
mod update;

fn parse_telemetry_mode(s: &str) -> Result<TelemetryMode, String> {
    match s {
        "off" => Ok(TelemetryMode::Off),
        "durable" => Ok(TelemetryMode::Durable),
        "buffered" => Ok(TelemetryMode::Buffered),
        other => Err(format!("`{other}` is not a telemetry mode: use off, durable or buffered")),
    }
}

#[derive(Parser)]
#[command(name = "rein", version, about = "Serve, guard and measure an ML-enabled system declared in a rein.toml")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format: text or json.
    #[arg(long, global = true, default_value = "text", env = "REIN_LOG_FORMAT")]
    log_format: String,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the system over HTTP.
    Serve {
        /// The system file (rein.toml) to serve.
        system: PathBuf,
        /// Address to listen on; port 0 picks a free one (the log says which).
        #[arg(long, default_value = "127.0.0.1:8080", env = "REIN_ADDR")]
        addr: SocketAddr,
        /// Where telemetry and state are kept.
        #[arg(long, default_value = ".rein/data", env = "REIN_DATA_DIR")]
        data_dir: PathBuf,
        /// Override the system file's telemetry: off, durable or buffered.
        #[arg(long, value_parser = parse_telemetry_mode)]
        telemetry: Option<TelemetryMode>,
        /// Threads serving connections, each owning the connections it is given
        /// (default: one per core).
        #[arg(long, env = "REIN_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
        workers: Option<u16>,
    },
    /// Write a component's predictions as a dataset: features, outputs, decision, and the
    /// truth and outcomes joined to them (docs/export.md).
    Export {
        /// The system file (rein.toml) whose telemetry to export.
        system: PathBuf,
        /// The component whose predictions to export.
        #[arg(long)]
        component: String,
        /// Where the server kept its telemetry (as `rein serve --data-dir`).
        #[arg(long, default_value = ".rein/data", env = "REIN_DATA_DIR")]
        data_dir: PathBuf,
        /// Unix milliseconds or RFC 3339 (inclusive).
        #[arg(long)]
        since: Option<String>,
        /// Unix milliseconds or RFC 3339 (exclusive).
        #[arg(long)]
        until: Option<String>,
        /// jsonl, csv or parquet.
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Output file; standard output when absent.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Only the predictions whose truth feedback established.
        #[arg(long)]
        labeled_only: bool,
    },
    /// Measure the system's goals over what a data directory recorded: each goal's latest
    /// closed window against its target, its trend, and whether linked goals moved together
    /// (as `GET /v1/goals` answers; docs/goals.md).
    Goals {
        /// The system file (rein.toml) whose goals to measure.
        system: PathBuf,
        /// Where the server kept its telemetry (as `rein serve --data-dir`).
        #[arg(long, default_value = ".rein/data", env = "REIN_DATA_DIR")]
        data_dir: PathBuf,
        /// How many windows back the trends and alignments cover.
        #[arg(long, default_value_t = rein_monitor::goals::DEFAULT_WINDOWS)]
        windows: usize,
        /// Judge as of this instant, unix milliseconds or RFC 3339 (default: just after the
        /// newest recorded prediction).
        #[arg(long)]
        at: Option<String>,
        /// Print the measured goals as JSON (the shape of `GET /v1/goals`).
        #[arg(long)]
        json: bool,
    },
    /// Analyse an experiment over what a data directory recorded: each variant against the
    /// control on the primary goal and the guardrails (fixed-horizon and always-valid), the
    /// sample ratio against the configured weights, and ship / keep running / stop with its
    /// reasons (docs/experiments.md).
    Experiment {
        /// The system file (rein.toml) declaring the component and its goals.
        system: PathBuf,
        /// The component the experiment runs on.
        component: String,
        /// The control arm's variant, as predictions record it, with its weight: V or V:weight.
        #[arg(long)]
        control: String,
        /// A variant arm and its configured weight (1 when not given): V or V:weight; repeat
        /// for A/B/n.
        #[arg(long = "variant", required = true)]
        variants: Vec<String>,
        /// The goal the experiment is run to move (its target's at_least or at_most says
        /// which way is better).
        #[arg(long)]
        primary: String,
        /// A further goal that must not get worse (repeatable), beside the built-in
        /// guardrails.
        #[arg(long = "guardrail")]
        guardrails: Vec<String>,
        /// The experiment's start, unix ms or RFC 3339 (default: the component's oldest
        /// recorded prediction).
        #[arg(long)]
        since: Option<String>,
        /// Analyse as of this instant, unix ms or RFC 3339 (default: now, or the end of the
        /// window holding the newest prediction when that is earlier).
        #[arg(long)]
        at: Option<String>,
        /// The length of a look's window (`1h`, `1d`).
        #[arg(long, default_value = "1d")]
        window: String,
        /// The planned length in windows, which the always-valid test is tuned for.
        #[arg(long, default_value_t = rein_monitor::experiment::DEFAULT_HORIZON_WINDOWS)]
        horizon: u32,
        /// The experiment's name in the report.
        #[arg(long)]
        name: Option<String>,
        /// Where the server kept its telemetry (as `rein serve --data-dir`).
        #[arg(long, default_value = ".rein/data", env = "REIN_DATA_DIR")]
        data_dir: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare a component's shadow with what was answered, over what a data directory
    /// recorded: per shadow version against each answering version, label agreement, score
    /// or value differences and the drift of its output, each with its interval
    /// (docs/rollouts.md).
    Shadow {
        /// The system file (rein.toml).
        system: PathBuf,
        /// The component whose traffic plan has the shadow.
        component: String,
        /// Where the server kept its telemetry (as `rein serve --data-dir`).
        #[arg(long, default_value = ".rein/data", env = "REIN_DATA_DIR")]
        data_dir: PathBuf,
        /// From this instant, unix ms or RFC 3339 (default: the oldest recorded).
        #[arg(long)]
        since: Option<String>,
        /// Until this instant, excluded, unix ms or RFC 3339 (default: the newest recorded).
        #[arg(long)]
        until: Option<String>,
        /// Only this traffic experiment's shadow predictions.
        #[arg(long)]
        experiment: Option<String>,
        /// Print the comparison as JSON (the shape of `GET /v1/components/{name}/shadow`).
        #[arg(long)]
        json: bool,
    },
    /// Write the system's report as one self-contained HTML page: the goal tree coloured by
    /// status with each goal's trend, and each component's drift over the newest recorded
    /// window against its reference profile.
    Report {
        /// The system file (rein.toml).
        system: PathBuf,
        /// Where the server kept its telemetry (as `rein serve --data-dir`).
        #[arg(long, default_value = ".rein/data", env = "REIN_DATA_DIR")]
        data_dir: PathBuf,
        /// Where to write the page.
        #[arg(long, short, default_value = "report.html")]
        out: PathBuf,
        /// The recorded predictions compared with each reference: those of this long before
        /// the report's instant (`1h`, `1d`, `7d`).
        #[arg(long, default_value = "1d")]
        drift_window: String,
        /// A component's reference profile, COMPONENT=PROFILE.json (default: the profile
        /// beside its model, `<model>.profile.json`); may be given once a component.
        #[arg(long, value_name = "COMPONENT=FILE")]
        reference: Vec<String>,
        /// How many windows back the goals' trends cover.
        #[arg(long, default_value_t = rein_monitor::goals::DEFAULT_WINDOWS)]
        windows: usize,
        /// Judge as of this instant, unix milliseconds or RFC 3339 (default: just after the
        /// newest recorded prediction).
        #[arg(long)]
        at: Option<String>,
    },
    /// Serve an example system and play its simulated world against it, live.
    Demo {
        /// One of the examples with a world (default: phishing-warning).
        #[arg(default_value = "phishing-warning")]
        example: String,
        /// Seed of the simulated world: the same seed plays the same users and events.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Scale the scenario's users and requests (0.1 = a tenth).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Where the demo's store goes (default .rein/demo/<example>); cleared first only if
        /// `rein demo` made it, else it must be new or empty.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Keep serving after the scenario, to look at the data over HTTP.
        #[arg(long)]
        keep_serving: bool,
        /// In the update (examples with a challenger): register the broken challenger,
        /// whose canary the controller rolls back.
        #[arg(long)]
        bad_challenger: bool,
    },
    /// Validate the system file, load its models, and summarise the system; warn of risky
    /// designs and of declarations the models make doubtful.
    Check {
        /// The system file (rein.toml) to check.
        system: PathBuf,
        /// Fail (exit status 1) when there is any warning.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Draft a commented system file from an ONNX model: features, categories, labels, task.
    Init {
        /// The ONNX model file.
        model: PathBuf,
        /// The component's name (default: the model file's stem).
        #[arg(long)]
        component: Option<String>,
        /// binary, multiclass or regression (default: what the model's graph says).
        #[arg(long, value_parser = init::parse_task)]
        task: Option<rein_system::Task>,
        /// Write the file here, the model's path relative to its folder (default: standard
        /// output, the path relative to the current folder).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Replace the `--out` file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Write a component's reference profile from a training set (CSV or Parquet): per
    /// feature and for the model's output, bins at the reference's deciles or categories
    /// with their counts, the shares of missing, defaulted and out-of-range values, and a
    /// bounded seeded sample.
    Profile {
        /// The system file (rein.toml).
        system: PathBuf,
        /// The component to profile, by its name in the system file.
        component: String,
        /// The reference rows: a .csv or .parquet file with a column per feature, named as
        /// the feature (or, with --since and --until, what telemetry recorded instead).
        #[arg(long, required_unless_present_any = ["since", "until"], conflicts_with_all = ["since", "until"])]
        data: Option<PathBuf>,
        /// Profile the predictions recorded from this instant (unix ms or RFC 3339,
        /// inclusive): a past window the team trusts, read from --data-dir.
        #[arg(long, requires = "until")]
        since: Option<String>,
        /// ... until this instant (exclusive).
        #[arg(long, requires = "since")]
        until: Option<String>,
        /// Where the server kept its telemetry, for --since and --until.
        #[arg(long, default_value = ".rein/data", env = "REIN_DATA_DIR")]
        data_dir: PathBuf,
        /// Where to write the profile (default: beside the model, `<model>.profile.json`,
        /// where `rein drift` looks for it).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Do not run the model on rows whose file holds no output (`score`/`label` or
        /// `value`): the output is then left out of the profile.
        #[arg(long)]
        no_score: bool,
        /// Most values of each numeric column kept for KS and Wasserstein.
        #[arg(long, default_value_t = rein_monitor::reservoir::DEFAULT_SAMPLE_SIZE)]
        sample_size: usize,
        /// Seed of the samples: the same rows and seed give the same profile.
        #[arg(long, default_value_t = rein_monitor::profile::DEFAULT_SEED)]
        seed: u64,
    },
    /// Compare a current file with a reference (a profile, or a training set) and report
    /// which features, and whether the output, drifted, by every measure.
    Drift {
        /// The system file (rein.toml).
        system: PathBuf,
        /// The component whose features to compare, by its name in the system file.
        component: String,
        /// The reference: a profile (.json, from `rein profile`) or rows (.csv, .parquet);
        /// default: the profile beside the model, `<model>.profile.json`.
        #[arg(long)]
        reference: Option<PathBuf>,
        /// The current rows (.csv or .parquet): an export from `rein export`, a new sample.
        #[arg(long)]
        current: PathBuf,
        /// Print the report as JSON (every measure, its variant, whether it says drift).
        #[arg(long)]
        json: bool,
        /// Also write the report to this file: HTML (one self-contained page), or JSON
        /// when it ends in .json.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run the model on a file that holds no output, to compare the output as well.
        #[arg(long)]
        score: bool,
        /// Most values of each numeric column kept for KS and Wasserstein.
        #[arg(long, default_value_t = rein_monitor::reservoir::DEFAULT_SAMPLE_SIZE)]
        sample_size: usize,
        /// Seed of the samples.
        #[arg(long, default_value_t = rein_monitor::profile::DEFAULT_SEED)]
        seed: u64,
    },
    /// The model registry: register versions, list and show them, move aliases, and say
    /// what served when (docs/models.md).
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// A running server's rollouts: status, and pause, resume, abort or retry one
    /// (docs/rollouts.md).
    #[command(subcommand)]
    Rollout(rollout::RolloutCommand),
    /// Review an expected_value policy against the recorded feedback: the model's observed
    /// calibration, the thresholds the stated values imply under it, and the value per
    /// prediction of today's thresholds and of the re-derived ones (docs/review.md).
    Review {
        /// The system file (rein.toml).
        system: PathBuf,
        /// The component to review, by its name in the system file.
        component: String,
        /// Where the server kept its telemetry (as `rein serve --data-dir`).
        #[arg(long, default_value = ".rein/data", env = "REIN_DATA_DIR")]
        data_dir: PathBuf,
        /// Only predictions from then: unix milliseconds or RFC 3339 (inclusive).
        #[arg(long)]
        since: Option<String>,
        /// Only predictions before then: unix milliseconds or RFC 3339 (exclusive).
        #[arg(long)]
        until: Option<String>,
        /// Seed of the bootstrap: the same predictions and seed give the same intervals.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print the review as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one prediction through the whole decision path, without a server.
    Predict {
        /// The system file (rein.toml).
        system: PathBuf,
        /// The component to ask, by its name in the system file.
        component: String,
        /// The features as a JSON object.
        #[arg(long)]
        features: String,
        /// Request context as a JSON object.
        #[arg(long, default_value = "{}")]
        context: String,
        /// Who the prediction is for (a user, a device): frequency caps count per unit.
        #[arg(long)]
        unit: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A server's log is its output; elsewhere the output is for a person, and the log says
    // only what went wrong unless RUST_LOG asks for more.
    let default_level = if matches!(cli.command, Command::Serve { .. }) { "info" } else { "warn" };
    init_logging(&cli.log_format, default_level);
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: &str, default_level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{default_level},ort=warn")));
    // colour codes only where a terminal shows them, never into a redirected log
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Reads the system file and loads its models; every problem is a located diagnostic.
/// The warnings about the models are left to `check` and `serve` ([`load_report`]).
pub(crate) fn load(path: &Path) -> Result<(System, Vec<Arc<dyn ServedModel>>), String> {
    load_report(path).map(|(system, report)| (system, report.models))
}

/// Reads the system file and loads its models, with every warning, each placed in the
/// file: designs that serve but take a risk (`rein_system::warnings`) and declarations the
/// models make doubtful (`rein_runtime`), in file order.
fn load_report(path: &Path) -> Result<(System, rein_runtime::LoadReport), String> {
    let system = rein_system::load(path).map_err(|d| format!("{d}\n\n{} problem(s) in {}", d.len(), path.display()))?;
    let mut report = rein_runtime::load_system_report(&system)
        .map_err(|d| format!("{d}\n\n{} problem(s) loading the models of {}", d.len(), path.display()))?;
    report.warnings.extend(rein_system::warnings(&system));
    report.warnings.sort_by_key(|d| (d.location.line, d.location.column));
    Ok((system, report))
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Check { system: path, deny_warnings } => {
            let (system, report) = load_report(&path)?;
            if !report.warnings.is_empty() {
                for warning in &report.warnings {
                    eprintln!("{warning}");
                }
                eprintln!("\n{} warning(s) in {}\n", report.warnings.len(), path.display());
            }
            print!("{}", summary(&system, &report.models));
            if deny_warnings && !report.warnings.is_empty() {
                return Err(format!(
                    "{} warning(s) in {}, and --deny-warnings makes them fail the check",
                    report.warnings.len(),
                    path.display()
                ));
            }
            Ok(())
        }
        Command::Init { model, component, task, out, force } => {
            init::run(init::InitOptions { model, component, task, out, force })
        }
        Command::Predict { system, component, features, context, unit } => {
            let (system, models) = load(&system)?;
            let features: serde_json::Value =
                serde_json::from_str(&features).map_err(|e| format!("--features is not valid JSON: {e}"))?;
            let Some(features) = features.as_object() else {
                return Err("--features must be a JSON object, e.g. '{\"age\": 42}'".into());
            };
            let context: serde_json::Value =
                serde_json::from_str(&context).map_err(|e| format!("--context is not valid JSON: {e}"))?;
            let Some(index) = system.components.iter().position(|c| c.name == component) else {
                let names: Vec<&str> = system.components.iter().map(|c| c.name.as_str()).collect();
                return Err(format!("no component is named `{component}`; the system has: {}", names.join(", ")));
            };
            let path = rein_decision::DecisionPath::new(system.components[index].clone(), 1);
            let prepared =
                path.prepare(features, &context, system.server.unknown_features).map_err(|r| refusal_text(&r))?;
            let model = &models[index];
            let output = prepared.needs_model().then(|| model.infer(&[&prepared.values]).map(|mut o| o.remove(0)));
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let outcome =
                path.finish(prepared, output, &context, unit.as_deref(), now).map_err(|r| refusal_text(&r))?;
            let info = model.info();
            let json = serde_json::json!({
                "component": component,
                "model": { "name": info.name, "version": info.version },
                "raw": outcome.raw, "output": outcome.output, "guardrails": outcome.guardrails,
                "decision": outcome.decision, "fallback": outcome.fallback,
            });
            println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
            Ok(())
        }
        Command::Serve { system, addr, data_dir, telemetry, workers } => {
            let (system, report) = load_report(&system)?;
            for warning in &report.warnings {
                tracing::warn!("{warning}");
            }
            let models = report.models;
            let workers = workers.map_or_else(rein_server::workers::default_count, usize::from);
            let runtime = runtime()?;
            let served = runtime.block_on(async move {
                let telemetry =
                    rein_server::Telemetry::open(&system, &data_dir, telemetry).map_err(|e| e.to_string())?;
                let models::Started { versions, registry, runtime } = models::start(&system, &models, &data_dir)?;
                let recording = match &telemetry {
                    Some(t) => format!("recording to {} ({:?})", t.data_dir.path().display(), t.durability),
                    None => "telemetry off".to_string(),
                };
                let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                    format!("cannot listen on {addr}: {e} (is another server using it? try --addr 127.0.0.1:0)")
                })?;
                let local = listener.local_addr().map_err(|e| e.to_string())?;
                let names: Vec<String> = system.components.iter().map(|c| c.name.clone()).collect();
                let token = std::env::var(&system.server.admin_token_env).ok();
                let file = system.file.clone();
                let mut app = rein_server::App::on_workers(system, versions, telemetry, workers);
                // a plan naming an alias or version no one loaded stops the start, placed in the file
                if let Some(e) = app.traffic_errors().first() {
                    let place = app
                        .system
                        .traffic
                        .get(e.component())
                        .map(|t| format!("{}:{}:{}: ", file.display(), t.location.line, t.location.column));
                    return Err(format!("{}{e}", place.unwrap_or_default()));
                }
                let server_settings = app.system.server.clone();
                let admin = token.as_deref().is_some_and(|t| !t.is_empty());
                app.registry = Some(rein_server::models::Models::new(registry, runtime, token, &server_settings));
                if !admin {
                    tracing::info!(
                        "admin routes closed: no token in the environment variable `{}`",
                        server_settings.admin_token_env
                    );
                }
                let app = Arc::new(app);
                tracing::info!(%local, components = ?names, "rein is serving");
                println!("rein listening on http://{local}, {recording}");
                let served = rein_server::serve(listener, app.clone(), rein_server::shutdown_signal()).await;
                rein_server::finish(&app).await;
                served.map_err(|e| format!("server error: {e}"))
            });
            // Requests cut off at the shutdown deadline may hold model calls on the blocking
            // pool; a hung one must not keep the process from exiting.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            served
        }
        Command::Export { system, component, data_dir, since, until, format, output, labeled_only } => {
            let system = rein_system::load(&system).map_err(|d| d.to_string())?;
            let Some(declared) = system.component(&component) else {
                let names: Vec<&str> = system.components.iter().map(|c| c.name.as_str()).collect();
                return Err(format!("no component is named `{component}`; the system has: {}", names.join(", ")));
            };
            let spec = rein_server::telemetry::export_spec(declared);
            let format: rein_telemetry::ExportFormat = format.parse()?;
            let time = |what: &str, v: Option<String>| -> Result<Option<i64>, String> {
                v.map(|s| rein_server::parse_time(what, &s).map_err(|e| e.to_string())).transpose()
            };
            let (since_ms, until_ms) = (time("since", since)?, time("until", until)?);
            let options = rein_telemetry::ExportOptions { since_ms, until_ms, labeled_only, format };
            let (store, serving) = store::open_to_read(&data_dir)?;
            let report = match &output {
                Some(path) => {
                    let file =
                        std::fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                    rein_telemetry::export(store.as_ref(), &spec, &options, file)
                }
                None => rein_telemetry::export(store.as_ref(), &spec, &options, std::io::stdout()),
            }
            .map_err(|e| e.to_string())?;
            eprintln!("exported {} prediction(s) of `{component}`, {} with a known truth", report.rows, report.labeled);
            if report.misfits > 0 {
                eprintln!(
                    "note: {} recorded value(s) did not fit their column's type and were left empty: the system \
                     file's schema changed since they were recorded?",
                    report.misfits
                );
            }
            if serving {
                eprintln!("{}", store::behind_note(&data_dir, "this export"));
            }
            Ok(())
        }
        Command::Report { system, data_dir, out, drift_window, reference, windows, at } => {
            let path = system;
            let system =
                rein_system::load(&path).map_err(|d| format!("{d}\n\n{} problem(s) in {}", d.len(), path.display()))?;
            let at_ms = at.map(|s| rein_server::parse_time("at", &s).map_err(|e| e.to_string())).transpose()?;
            let drift_ms = rein_system::parse_duration(&drift_window)
                .ok_or_else(|| format!("--drift-window is `{drift_window}`: give a duration such as 1h, 1d or 7d"))?
                .as_millis() as i64;
            let options = goals::options(windows, at_ms)?;
            let references = report::references(&system, &reference)?;
            let (store, serving) = store::open_to_read(&data_dir)?;
            let written = report::write(&system, store.as_ref(), &options, drift_ms, &references, &data_dir, &out)?;
            println!("{written}");
            if serving {
                eprintln!("{}", store::behind_note(&data_dir, "this report"));
            }
            Ok(())
        }
        Command::Goals { system, data_dir, windows, at, json } => {
            let path = system;
            let system =
                rein_system::load(&path).map_err(|d| format!("{d}\n\n{} problem(s) in {}", d.len(), path.display()))?;
            let at_ms = at.map(|s| rein_server::parse_time("at", &s).map_err(|e| e.to_string())).transpose()?;
            let options = goals::options(windows, at_ms)?;
            let (store, serving) = store::open_to_read(&data_dir)?;
            let report = rein_monitor::goals::measure(&system, store.as_ref(), &options).map_err(|e| e.to_string())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
            } else {
                print!("{}", goals::render(&report));
            }
            if serving {
                eprintln!("{}", store::behind_note(&data_dir, "these figures"));
            }
            Ok(())
        }
        Command::Experiment {
            system,
            component,
            control,
            variants,
            primary,
            guardrails,
            since,
            at,
            window,
            horizon,
            name,
            data_dir,
            json,
        } => {
            let path = system;
            let system =
                rein_system::load(&path).map_err(|d| format!("{d}\n\n{} problem(s) in {}", d.len(), path.display()))?;
            let time = |what: &str, v: Option<String>| {
                v.map(|s| rein_server::parse_time(what, &s).map_err(|e| e.to_string())).transpose()
            };
            let window =
                humantime::parse_duration(&window).map_err(|e| format!("--window `{window}`: {e} (say 1h or 1d)"))?;
            let args = experiment::Args {
                component,
                name,
                control,
                variants,
                primary,
                guardrails,
                since: time("since", since)?,
                at: time("at", at)?,
                window,
                horizon,
            };
            let (store, serving) = store::open_to_read(&data_dir)?;
            let report = experiment::analyse(&system, store.as_ref(), args)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
            } else {
                print!("{}", experiment::render(&report));
            }
            if serving {
                eprintln!("{}", store::behind_note(&data_dir, "this analysis"));
            }
            Ok(())
        }
        Command::Shadow { system, component, data_dir, since, until, experiment, json } => {
            let path = system;
            let system =
                rein_system::load(&path).map_err(|d| format!("{d}\n\n{} problem(s) in {}", d.len(), path.display()))?;
            let Some(declared) = system.component(&component) else {
                let known: Vec<&str> = system.components.iter().map(|c| c.name.as_str()).collect();
                return Err(format!(
                    "{} declares no component `{component}` (it has {})",
                    path.display(),
                    known.join(", ")
                ));
            };
            let time = |what: &str, v: Option<String>| {
                v.map(|s| rein_server::parse_time(what, &s).map_err(|e| e.to_string())).transpose()
            };
            let query = rein_telemetry::ShadowQuery {
                component: component.clone(),
                since_ms: time("since", since)?,
                until_ms: time("until", until)?,
                experiment,
            };
            let (store, serving) = store::open_to_read(&data_dir)?;
            let options = rein_monitor::files::Options::default();
            let report = rein_monitor::shadow::compare(&system.name, declared, store.as_ref(), &query, &options)
                .map_err(|e| e.to_string())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
            } else {
                print!("{}", shadow::render(&report));
            }
            if serving {
                eprintln!("{}", store::behind_note(&data_dir, "this comparison"));
            }
            Ok(())
        }
        Command::Profile { system, component, data, since, until, data_dir, out, no_score, sample_size, seed } => {
            let Some(data) = data else {
                let time = |what: &str, v: Option<String>| -> Result<i64, String> {
                    let v = v.ok_or_else(|| format!("--{what} is needed with a recorded window"))?;
                    rein_server::parse_time(what, &v).map_err(|e| e.to_string())
                };
                let (since_ms, until_ms) = (time("since", since)?, time("until", until)?);
                if since_ms >= until_ms {
                    return Err(format!("--since ({since_ms}) must be before --until ({until_ms})"));
                }
                let (store, serving) = store::open_to_read(&data_dir)?;
                if serving {
                    eprintln!("{}", store::behind_note(&data_dir, "this profile"));
                }
                let recorded = monitor::Recorded { store: store.as_ref(), since_ms, until_ms };
                return monitor::profile_recorded(system, component, recorded, out, sample_size, seed);
            };
            monitor::profile(monitor::ProfileOptions { system, component, data, out, no_score, sample_size, seed })
        }
        Command::Drift { system, component, reference, current, json, out, score, sample_size, seed } => {
            monitor::drift(monitor::DriftOptions {
                system,
                component,
                reference,
                current,
                json,
                out,
                score,
                sample_size,
                seed,
            })
        }
        Command::Models(command) => models::run(command),
        Command::Rollout(command) => rollout::run(command),
        Command::Review { system, component, data_dir, since, until, seed, json } => {
            review::run(review::ReviewOptions { system, component, data_dir, since, until, seed, json })
        }
        Command::Demo { example, seed, scale, data_dir, keep_serving, bad_challenger } => {
            if !(scale > 0.0 && scale <= 100.0) {
                return Err(format!("--scale must be in (0, 100], not {scale}"));
            }
            demo::run(demo::DemoOptions { example, seed, scale, data_dir, keep_serving, bad_challenger })
        }
    }
}

/// How to run this rein again from the user's shell: `rein` when it was found on the PATH,
/// else its absolute path (a relative one would work only from where it was started).
pub(crate) fn this_rein() -> String {
    let invoked = std::env::args().next().unwrap_or_default();
    if !invoked.contains('/') && !invoked.is_empty() {
        return invoked;
    }
    std::env::current_exe().map(|p| p.display().to_string()).unwrap_or(invoked)
}

/// `path` as an absolute path, so that a printed command works from any folder.
pub(crate) fn absolute(path: &Path) -> String {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string()
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn refusal_text(r: &rein_decision::Refusal) -> String {
    match r {
        rein_decision::Refusal::Schema { component, errors } => {
            let lines: Vec<String> = errors.iter().map(|e| format!("  - `{}` {}", e.field, e.problem)).collect();
            format!("the features do not fit the schema of component `{component}`:\n{}", lines.join("\n"))
        }
        other => other.to_string(),
    }
}

/// A short description of what the system is.
fn summary(system: &System, models: &[Arc<dyn ServedModel>]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "system `{}`: {}", system.name, system.description);
    for (c, model) in system.components.iter().zip(models) {
        let info = model.info();
        let _ = writeln!(s, "\ncomponent `{}` ({})", c.name, c.task.as_str());
        if !c.labels.is_empty() {
            let positive = c.positive.map(|i| format!(", positive `{}`", c.labels[i])).unwrap_or_default();
            let labels: Vec<String> = c
                .labels
                .iter()
                .map(|l| match c.label_names.get(l) {
                    Some(name) => format!("{l} ({name})"),
                    None => l.clone(),
                })
                .collect();
            let _ = writeln!(s, "  labels: {}{positive}", labels.join(", "));
        }
        let _ = writeln!(
            s,
            "  model: {} version {} ({}), timeout {} ms",
            info.name,
            info.version,
            c.model.path.display(),
            c.model.timeout.as_millis()
        );
        let _ = writeln!(s, "  engine: {}", model.engine());
        let features: Vec<String> = c.features.iter().map(|f| format!("{} ({})", f.name, f.kind.type_name())).collect();
        let _ = writeln!(s, "  features ({}): {}", c.features.len(), features.join(", "));
        for stage in [Stage::Input, Stage::Output] {
            let rules: Vec<String> = c
                .guardrails
                .iter()
                .filter(|g| g.stage == stage)
                .map(|g| {
                    let action = match &g.action {
                        Action::Escalate { to } => format!("escalate to {to}"),
                        a => a.kind().to_string(),
                    };
                    format!("{} → {action} (on error: {})", g.name, g.on_error.as_str())
                })
                .collect();
            if !rules.is_empty() {
                let _ = writeln!(
                    s,
                    "  {} guardrails: {}",
                    if stage == Stage::Input { "input" } else { "output" },
                    rules.join("; ")
                );
            }
        }
        if let Some(fb) = &c.fallback {
            let output = match &fb.output {
                rein_system::OutputValue::Label(l) => format!("`{l}`"),
                rein_system::OutputValue::Value(v) => v.to_string(),
            };
            let _ = writeln!(s, "  fallback when the model fails: {output}, shown as {}", fb.mode.as_str());
        }
        match &c.experience.policy {
            Policy::Fixed(mode) => {
                let _ = writeln!(s, "  experience: always {}", mode.as_str());
            }
            Policy::Thresholds(t) => {
                let parts: Vec<String> = t.iter().map(|(m, v)| format!("{} from {v}", m.as_str())).collect();
                let _ = writeln!(s, "  experience by thresholds: {}; below: none", parts.join(", "));
            }
            Policy::ExpectedValue(values) => {
                let ranges = rein_decision::derived_ranges(values);
                let parts: Vec<String> = ranges
                    .iter()
                    .rev()
                    .map(|(m, lo, hi)| match (*lo, *hi) {
                        (lo, hi) if lo <= 0.0 && hi >= 1.0 => format!("{} always", m.as_str()),
                        (lo, _) if lo <= 0.0 => format!("{} below {hi:.3}", m.as_str()),
                        (_, hi) if hi >= 1.0 => format!("{} from {lo:.3}", m.as_str()),
                        _ => format!("{} from {lo:.3} to {hi:.3}", m.as_str()),
                    })
                    .collect();
                let _ = writeln!(s, "  experience by expected value; derived thresholds on p: {}", parts.join(", "));
            }
        }
        for cap in &c.experience.caps {
            let _ = writeln!(
                s,
                "  cap: at most {} × {} per unit per {}s, then {}",
                cap.max,
                cap.mode.as_str(),
                cap.per.as_secs(),
                cap.mode.downgrade().as_str()
            );
        }
    }
    s.push_str(&goal_tree(system));
    s.push_str(&monitor_list(system));
    s
}

/// The monitors, one a line: what each watches, when a window breaches, over which window,
/// how its alerts open and close; where a drift monitor's reference profile is; and where
/// alerts are sent.
fn monitor_list(system: &System) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    if system.monitors.is_empty() {
        return s;
    }
    let _ = writeln!(s, "\nmonitors ({}), each evaluated as its window closes:", system.monitors.len());
    for m in &system.monitors {
        let when = match rein_monitor::monitors::threshold(m) {
            Some(t) => format!("alert when {t}"),
            None => "alert when the drift policy says drifted".to_string(),
        };
        let hysteresis = if m.hysteresis > 0.0 { format!(", hysteresis {}", m.hysteresis) } else { String::new() };
        let component = m.component.as_deref().map(|c| format!(" of `{c}`")).unwrap_or_default();
        let _ = writeln!(
            s,
            "  {} [{}] {}{component}; {when} over {}; opens after {} window(s), closes after {}{hysteresis}",
            m.id,
            m.severity.as_str(),
            m.watch,
            rein_system::format_duration(m.window),
            m.open_after,
            m.close_after,
        );
    }
    let mut profiles: Vec<&str> = Vec::new();
    for m in system.monitors.iter().filter(|m| m.watch.is_drift()) {
        let Some(component) = m.component.as_deref().and_then(|c| system.component(c)) else { continue };
        if profiles.contains(&component.name.as_str()) {
            continue;
        }
        profiles.push(&component.name);
        let path = monitor::default_profile_path(component);
        let state = if path.is_file() {
            "found".to_string()
        } else {
            format!(
                "missing: make it with `rein profile {} {} --data TRAIN.csv`",
                system.file.display(),
                component.name
            )
        };
        let _ = writeln!(s, "  reference profile of `{}`: {} ({state})", component.name, path.display());
    }
    match &system.alerts.webhook {
        Some(w) => {
            let _ = writeln!(
                s,
                "  alerts: the store, the log, /metrics and POST {} (CloudEvents; timeout {} ms, {} retries, queue {})",
                w.url,
                w.timeout.as_millis(),
                w.retries,
                w.queue
            );
        }
        None => {
            let _ = writeln!(s, "  alerts: the store, the log and /metrics (no `[alerts] webhook`)");
        }
    }
    s
}

/// The goals, each under the goals it supports, from the top layer down, with its layer
/// and how it is measured; a goal supporting several is written out under the first.
fn goal_tree(system: &System) -> String {
    use std::fmt::Write;
    fn write_goal<'a>(s: &mut String, system: &'a System, g: &'a Goal, depth: usize, seen: &mut Vec<&'a str>) {
        let indent = "  ".repeat(depth + 1);
        if seen.contains(&g.id.as_str()) {
            let _ = writeln!(s, "{indent}{} (above)", g.id);
            return;
        }
        seen.push(&g.id);
        let measure = match &g.measure {
            Measure::Metric { metric, target, window } => {
                format!("{metric}; {target} over {}", rein_system::format_duration(*window))
            }
            Measure::NotMeasured { note } => format!("not measured: {note}"),
        };
        let _ = writeln!(s, "{indent}{} [{}] {measure}", g.id, g.layer.as_str());
        for supporter in system.supporters(&g.id) {
            write_goal(s, system, supporter, depth + 1, seen);
        }
    }
    let mut s = String::new();
    if system.goals.is_empty() {
        return s;
    }
    let _ = writeln!(s, "\ngoals ({}), each under the goals it supports:", system.goals.len());
    let mut seen = Vec::new();
    for top in system.top_goals() {
        write_goal(&mut s, system, top, 0, &mut seen);
    }
    let mut unchecked: Vec<&str> = Vec::new();
    for outcome in system.goals.iter().filter_map(|g| g.measured()?.0.kind.outcome()) {
        if !unchecked.contains(&outcome) {
            unchecked.push(outcome);
        }
    }
    if system.outcomes.is_none() && !unchecked.is_empty() {
        let _ = writeln!(
            s,
            "  hint: `outcomes` is not declared, so the outcome names goals measure ({}) were not checked: \
             declare them at the top of the file, `outcomes = [\"{}\", ...]`",
            unchecked.join(", "),
            unchecked[0]
        );
    }
    s
}
