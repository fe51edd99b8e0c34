//! `rein models`: the model registry of a data directory (register, list, show, alias,
//! history), and what `rein serve` does with it at start-up.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Subcommand;
use rein_registry::store::Registry;
use rein_registry::{AliasMove, NewVersion, Provenance, Version, history};
use rein_runtime::{Runtime, ServedModel};
use rein_server::ModelVersions;
use rein_system::{Component, System};

#[derive(Subcommand)]
pub(crate) enum ModelsCommand {
    /// Register a model as a version of a component: it is loaded and checked against the
    /// component (inputs, labels, smoke rows drawn from the schema) first, and refused,
    /// naming the mismatch, if it does not fit.
    Register {
        /// The system file (rein.toml).
        system: PathBuf,
        /// The component, by its name in the system file.
        component: String,
        /// The ONNX file.
        model: PathBuf,
        /// Where the registry is kept (as `rein serve --data-dir`).
        #[arg(long, default_value = ".rein/data", env = "REIN_DATA_DIR")]
        data_dir: PathBuf,
        /// Move this alias to the version once registered (e.g. challenger).
        #[arg(long)]
        alias: Option<String>,
        /// The version's id (default: `sha256:` and 12 hex digits of the file's digest).
        #[arg(long)]
        version: Option<String>,
        /// The version it was derived from.
        #[arg(long)]
        parent: Option<String>,
        /// The training code's version, e.g. its git commit.
        #[arg(long, value_name = "COMMIT")]
        code_version: Option<String>,
        /// A digest of the training data.
        #[arg(long, value_name = "DIGEST")]
        data_digest: Option<String>,
        /// What the training data was.
        #[arg(long, value_name = "TEXT")]
        data_description: Option<String>,
        /// A training parameter, `key=value` (repeat it).
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// An offline metric, `key=number` (repeat it).
        #[arg(long = "metric", value_name = "KEY=NUMBER")]
        metrics: Vec<String>,
        /// The reference profile (`rein profile`'s JSON; default: `<model>.profile.json`
        /// beside the model, when there is one).
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Who registers it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// List a component's versions and aliases (every component's without one).
    List {
        /// The system file (rein.toml).
        system: PathBuf,
        /// The component, by its name in the system file (default: every component).
        component: Option<String>,
        /// Where the registry is kept (as `rein serve --data-dir`).
        #[arg(long, default_value = ".rein/data", env = "REIN_DATA_DIR")]
        data_dir: PathBuf,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one version: its digest, provenance, who registered it and when, its aliases.
    Show {
        /// The system file (rein.toml).
        system: PathBuf,
        /// The component, by its name in the system file.
        component: String,
        /// The version's id.
        version: String,
        /// Where the registry is kept (as `rein serve --data-dir`).
        #[arg(long, default_value = ".rein/data", env = "REIN_DATA_DIR")]
        data_dir: PathBuf,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Point an alias (champion, challenger, ...) at a version; the version is loaded and
    /// checked first. A running server swaps at its next start; `PUT
    /// /v1/models/{component}/aliases/{alias}` swaps a running one at once.
    Alias {
        /// The system file (rein.toml).
        system: PathBuf,
        /// The component, by its name in the system file.
        component: String,
        /// The alias: champion, challenger, or another name.
        alias: String,
        /// A registered version.
        version: String,
        /// Where the registry is kept (as `rein serve --data-dir`).
        #[arg(long, default_value = ".rein/data", env = "REIN_DATA_DIR")]
        data_dir: PathBuf,
        /// Who moves it (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Why, for the history.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Every alias move of a component; with --at, every alias then; with --prediction, or
    /// --unit and --at, the version that answered the prediction.
    History {
        /// The system file (rein.toml).
        system: PathBuf,
        /// The component, by its name in the system file.
        component: String,
        /// Where the registry is kept (as `rein serve --data-dir`).
        #[arg(long, default_value = ".rein/data", env = "REIN_DATA_DIR")]
        data_dir: PathBuf,
        /// An instant: unix milliseconds or RFC 3339, e.g. 2026-12-01T10:00:00Z.
        #[arg(long)]
        at: Option<String>,
        /// With --at: the unit whose latest prediction at or before it says what served it.
        #[arg(long, requires = "at")]
        unit: Option<String>,
        /// A prediction id: the version that answered it.
        #[arg(long, conflicts_with = "unit")]
        prediction: Option<String>,
        /// As JSON (the shape of `GET /v1/models/{component}/history`).
        #[arg(long)]
        json: bool,
    },
}

/// At `rein serve`'s start: each component's system-file model registered, each champion
/// (and challenger) loaded and checked; the registry for the server to keep.
pub(crate) fn start(system: &System, file_models: &[Arc<dyn ServedModel>], data_dir: &Path) -> Result<Started, String> {
    let runtime = Runtime::for_system(system).map_err(|e| e.to_string())?;
    let registry = Arc::new(open(data_dir)?);
    let serving =
        rein_registry::startup::start(&registry, system, file_models, &runtime).map_err(|e| registry_error(&e))?;
    let mut versions = Vec::new();
    for (component, s) in system.components.iter().zip(serving) {
        for note in &s.notes {
            tracing::warn!("{note}");
        }
        let champion = s.champion.model();
        tracing::info!(component = %component.name, version = %champion.info().version, "champion: {}", champion.engine());
        let mut loaded = ModelVersions::new(champion.clone());
        for other in &s.others {
            loaded = loaded.holding(other.model().clone());
        }
        // the versions the component's traffic plan names, loaded and checked too, and
        // the aliases naming loaded versions
        let aliases = registry.aliases(&component.name).map_err(|e| registry_error(&e))?;
        let plan = system.traffic.get(&component.name).map(|t| &t.plan);
        let named = plan.into_iter().flat_map(|p| {
            let arms = p
                .arms()
                .into_iter()
                .filter_map(|a| a.alias.clone().or(a.version.clone()).map(|n| (a.alias.is_some(), n)));
            let shadow =
                p.shadow.iter().filter_map(|s| s.alias.clone().or(s.version.clone()).map(|n| (s.alias.is_some(), n)));
            arms.chain(shadow).collect::<Vec<_>>()
        });
        for (is_alias, name) in named {
            let version = if is_alias { aliases.get(&name).cloned() } else { Some(name) };
            // an alias no one set is left for the plan's own check to name
            if let Some(version) = version.filter(|v| loaded.get(v).is_none()) {
                let (_, checked) = registry.load(component, &version, &runtime).map_err(|e| registry_error(&e))?;
                loaded = loaded.holding(checked.model().clone());
            }
        }
        for (alias, version) in &aliases {
            loaded = loaded.aliased(alias, version);
        }
        versions.push(loaded);
    }
    Ok(Started { versions, registry, runtime })
}

/// What `rein serve` serves: each component's loaded versions, the registry, and what
/// loads further versions.
pub(crate) struct Started {
    pub versions: Vec<ModelVersions>,
    pub registry: Arc<Registry>,
    pub runtime: Runtime,
}

pub(crate) fn run(command: ModelsCommand) -> Result<(), String> {
    match command {
        ModelsCommand::Register {
            system,
            component,
            model,
            data_dir,
            alias,
            version,
            parent,
            code_version,
            data_digest,
            data_description,
            params,
            metrics,
            profile,
            by,
        } => {
            let (system, spec) = component_of(&system, &component)?;
            let bytes = std::fs::read(&model).map_err(|e| format!("cannot read {}: {e}", model.display()))?;
            let profile = read_profile(profile.as_deref(), &model)?;
            let provenance = Provenance {
                data_digest,
                data_description,
                code_version,
                params: rein_registry::version::pairs("--param", &params)?,
                metrics: rein_registry::version::metrics(&metrics)?,
                profile,
            };
            if let Some(problem) = alias.as_deref().and_then(rein_registry::version::alias_problem) {
                return Err(problem);
            }
            let by = by.unwrap_or_else(user);
            let runtime = Runtime::for_system(&system).map_err(|e| e.to_string())?;
            let registry = open(&data_dir)?;
            let new = NewVersion {
                component: component.clone(),
                bytes,
                id: version,
                parent,
                registered_by: by.clone(),
                source: model.display().to_string(),
                provenance,
            };
            let registered = registry.register(&spec, &runtime, new).map_err(|e| registry_error(&e))?;
            let v = &registered.version;
            if registered.created {
                println!("registered {} as version {} of `{component}` (sha256 {})", model.display(), v.id, v.sha256);
            } else {
                println!("{} is already version {} of `{component}`: nothing new stored", model.display(), v.id);
            }
            if let Some(alias) = alias {
                let moved = registry
                    .move_alias(&registered.checked, &alias, &by, "registered with the alias")
                    .map_err(|e| registry_error(&e))?;
                print_move(&moved.record, moved.changed);
                running_note(&data_dir, &component, &alias);
            }
            Ok(())
        }
        ModelsCommand::List { system, component, data_dir, json } => {
            let system = read_system(&system)?;
            let names: Vec<String> = match component {
                Some(c) => vec![known_component(&system, &c)?.name.clone()],
                None => system.components.iter().map(|c| c.name.clone()).collect(),
            };
            let registry = open(&data_dir)?;
            let mut all = Vec::new();
            for name in &names {
                let versions = registry.versions(name).map_err(|e| registry_error(&e))?;
                let aliases = registry.aliases(name).map_err(|e| registry_error(&e))?;
                if json {
                    all.push(serde_json::json!({"component": name, "aliases": aliases, "versions": versions}));
                    continue;
                }
                println!("{name}");
                if versions.is_empty() {
                    println!(
                        "  no versions yet: `rein serve` registers the system file's model, `rein models register` others"
                    );
                }
                for v in &versions {
                    let named: Vec<&str> =
                        aliases.iter().filter(|(_, id)| **id == v.id).map(|(a, _)| a.as_str()).collect();
                    let named = if named.is_empty() { String::new() } else { format!("  [{}]", named.join(", ")) };
                    println!(
                        "  {:<24} {}  by {:<12} {}{named}",
                        v.id,
                        time(v.registered_at_ms),
                        v.registered_by,
                        v.parent.as_deref().map(|p| format!("parent {p}")).unwrap_or_default()
                    );
                }
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({"components": all})).unwrap_or_default()
                );
            }
            Ok(())
        }
        ModelsCommand::Show { system, component, version, data_dir, json } => {
            let system = read_system(&system)?;
            known_component(&system, &component)?;
            let registry = open(&data_dir)?;
            let v = registry.version(&component, &version).map_err(|e| registry_error(&e))?;
            let aliases = registry.aliases(&component).map_err(|e| registry_error(&e))?;
            let named: Vec<&str> = aliases.iter().filter(|(_, id)| **id == v.id).map(|(a, _)| a.as_str()).collect();
            if json {
                let mut value = serde_json::to_value(&v).unwrap_or_default();
                value["aliases"] = serde_json::json!(named);
                println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
            } else {
                print!("{}", describe(&v, &named, &registry));
            }
            Ok(())
        }
        ModelsCommand::Alias { system, component, alias, version, data_dir, by, reason } => {
            let (system, spec) = component_of(&system, &component)?;
            if let Some(problem) = rein_registry::version::alias_problem(&alias) {
                return Err(problem);
            }
            let runtime = Runtime::for_system(&system).map_err(|e| e.to_string())?;
            let registry = open(&data_dir)?;
            let (_, checked) = registry.load(&spec, &version, &runtime).map_err(|e| registry_error(&e))?;
            let moved = registry
                .move_alias(&checked, &alias, &by.unwrap_or_else(user), &reason)
                .map_err(|e| registry_error(&e))?;
            print_move(&moved.record, moved.changed);
            running_note(&data_dir, &component, &alias);
            Ok(())
        }
        ModelsCommand::History { system, component, data_dir, at, unit, prediction, json } => {
            let system = read_system(&system)?;
            known_component(&system, &component)?;
            let at = at.map(|t| rein_server::parse_time("--at", &t).map_err(|e| e.to_string())).transpose()?;
            let registry = open(&data_dir)?;
            let moves = registry.history(&component).map_err(|e| registry_error(&e))?;
            let found = match (&prediction, &unit, at) {
                (Some(id), _, _) => {
                    let (store, _) = crate::store::open_to_read(&data_dir)?;
                    let record = rein_telemetry::Store::prediction(&*store, id).map_err(|e| e.to_string())?;
                    match record {
                        Some(r) if r.prediction.component == component => Some(r.prediction),
                        Some(r) => {
                            return Err(format!(
                                "prediction {id} is of component `{}`, not `{component}`",
                                r.prediction.component
                            ));
                        }
                        None => return Err(format!("no prediction has the id `{id}` in {}", data_dir.display())),
                    }
                }
                (None, Some(unit), Some(at)) => {
                    let (store, _) = crate::store::open_to_read(&data_dir)?;
                    let found =
                        rein_registry::served::unit_at(&*store, &component, unit, at).map_err(|e| e.to_string())?;
                    Some(found.ok_or_else(|| {
                        format!("unit `{unit}` has no prediction by `{component}` at or before {}", time(at))
                    })?)
                }
                _ => None,
            };
            let served = found.map(|p| rein_registry::served::served(&p, &moves));
            if json {
                let value = serde_json::json!({
                    "component": component,
                    "moves": moves,
                    "at": at.map(|at_ms| serde_json::json!({"at_ms": at_ms, "aliases": history::aliases_at(&moves, at_ms)})),
                    "served": served,
                });
                println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
                return Ok(());
            }
            if let Some(s) = &served {
                let named = if s.aliases.is_empty() { "no alias".to_string() } else { s.aliases.join(", ") };
                println!(
                    "prediction {} of unit {} at {} was answered by version {} ({} then)",
                    s.prediction_id,
                    s.unit.as_deref().unwrap_or("(none)"),
                    time(s.time_ms),
                    s.model_version,
                    named
                );
            } else if let Some(at) = at {
                let aliases = history::aliases_at(&moves, at);
                if aliases.is_empty() {
                    println!("at {} no alias of `{component}` named a version yet", time(at));
                }
                for (alias, version) in &aliases {
                    println!("at {} {alias} was {version}", time(at));
                }
            }
            if served.is_none() && at.is_none() {
                if moves.is_empty() {
                    println!("no alias of `{component}` has moved yet");
                }
                for m in &moves {
                    print_move(m, true);
                }
            }
            Ok(())
        }
    }
}

fn open(data_dir: &Path) -> Result<Registry, String> {
    Registry::in_data_dir(data_dir, rein_telemetry::clock::system()).map_err(|e| e.to_string())
}

fn read_system(path: &Path) -> Result<System, String> {
    rein_system::load(path).map_err(|d| format!("{d}\n\n{} problem(s) in {}", d.len(), path.display()))
}

fn known_component<'a>(system: &'a System, name: &str) -> Result<&'a Component, String> {
    system.component(name).ok_or_else(|| {
        let names: Vec<&str> = system.components.iter().map(|c| c.name.as_str()).collect();
        format!("no component is named `{name}`; the system has: {}", names.join(", "))
    })
}

fn component_of(path: &Path, name: &str) -> Result<(System, Component), String> {
    let system = read_system(path)?;
    let component = known_component(&system, name)?.clone();
    Ok((system, component))
}

/// The profile to keep with a version: the one named, or `<model>.profile.json` beside it.
fn read_profile(given: Option<&Path>, model: &Path) -> Result<Option<serde_json::Value>, String> {
    let beside = model.with_extension("profile.json");
    let path = match given {
        Some(p) => p.to_path_buf(),
        None if beside.is_file() => beside,
        None => return Ok(None),
    };
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read the profile {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("the profile {} is not JSON ({e}): give the file `rein profile` wrote", path.display()))
}

fn registry_error(e: &rein_registry::RegistryError) -> String {
    match e {
        rein_registry::RegistryError::Refused(refusal) => match refusal.hint() {
            Some(hint) => format!("{e}\n  hint: {hint}"),
            None => e.to_string(),
        },
        _ => e.to_string(),
    }
}

fn user() -> String {
    std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "unknown".into())
}

/// Unix milliseconds as RFC 3339, with the number.
fn time(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    format!("{}", humantime::format_rfc3339_millis(at))
}

fn print_move(m: &AliasMove, changed: bool) {
    if !changed {
        println!("{} already names {} (since {}, by {})", m.alias, m.version, time(m.at_ms), m.by);
        return;
    }
    let from = m.previous.as_deref().map(|p| format!(" (was {p})")).unwrap_or_default();
    let why = if m.reason.is_empty() { String::new() } else { format!(": {}", m.reason) };
    println!("{}  {} -> {}{from}  by {}{why}", time(m.at_ms), m.alias, m.version, m.by);
}

/// A server holding the data directory serves on until it restarts.
fn running_note(data_dir: &Path, component: &str, alias: &str) {
    if let Err(rein_telemetry::DataDirError::InUse { holder, .. }) = rein_telemetry::DataDir::lock(data_dir) {
        eprintln!(
            "note: a server (process {holder}) serves from {}: it takes the move at its next start; \
             `PUT /v1/models/{component}/aliases/{alias}` moves it in the running server at once",
            data_dir.display()
        );
    }
}

fn describe(v: &Version, aliases: &[&str], registry: &Registry) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out.push_str(&format!("{k:<18} {v}\n"));
    line("component", &v.component);
    line("version", &v.id);
    line("sha256", &v.sha256);
    line("stored at", &registry.artifact_path(&v.sha256).display().to_string());
    line("size", &format!("{} bytes", v.size_bytes));
    line("registered", &format!("{} by {}", time(v.registered_at_ms), v.registered_by));
    line("from", &v.source);
    line("parent", v.parent.as_deref().unwrap_or("-"));
    line("aliases", &if aliases.is_empty() { "-".to_string() } else { aliases.join(", ") });
    let p = &v.provenance;
    line("code version", p.code_version.as_deref().unwrap_or("-"));
    line("data digest", p.data_digest.as_deref().unwrap_or("-"));
    line("data", p.data_description.as_deref().unwrap_or("-"));
    let params: Vec<String> = p.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    line("parameters", &if params.is_empty() { "-".to_string() } else { params.join(", ") });
    let metrics: Vec<String> = p.metrics.iter().map(|(k, v)| format!("{k}={v}")).collect();
    line("metrics", &if metrics.is_empty() { "-".to_string() } else { metrics.join(", ") });
    line("profile", if p.profile.is_some() { "kept" } else { "-" });
    out
}
