//! `rein demo`'s second act, for an example that ships a challenger (`challenger.onnx`,
//! trained by its `train.py --challenger` on newer data): the update, told over rein's own
//! HTTP API as a team would do it. The challenger is registered, shadowed for a day,
//! canaried under the controller, A/B tested at its last step and promoted, then a day of
//! the holdout shows what ML is worth; with `--bad-challenger` (`challenger-broken.onnx`, a
//! feature read in the wrong unit) the controller rolls it back.
//!
//! The world goes on as its own scenario left it (its drifts stay), in chunks of one analysis
//! window, each followed by one look of the controller (`App::evaluate_rollouts`): the story
//! reads the same on every machine.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rein_monitor::experiment::{self, ArmSpec, ExperimentSpec};
use rein_simulator::{ChangeKind, RunConfig, Scenario, Summary, World};
use serde_json::{Value, json};

const HOUR_MS: i64 = 3_600_000;
/// The analysis window, and the simulated time between two looks.
const WINDOW_HOURS: i64 = 6;
/// Pages a simulated day during the update.
const PAGES_A_DAY: f64 = 4000.0;
/// The most days the canary gets before the demo stops waiting for it.
const MAX_CANARY_DAYS: i64 = 5;
const EXPERIMENT: &str = "phishing-update";

pub(crate) struct Update<'a> {
    pub app: Arc<rein_server::App>,
    pub base_url: &'a str,
    pub token: &'a str,
    pub world: Arc<dyn World>,
    pub example_dir: &'a Path,
    /// The system file and data directory, for the commands it suggests.
    pub file: &'a Path,
    pub data_dir: &'a Path,
    pub seed: u64,
    pub scale: f64,
    pub bad: bool,
    /// Where the world's own scenario ended (unix ms, simulated).
    pub start_ms: i64,
}

impl Update<'_> {
    /// The file of the challenger this act registers, if the example ships one.
    pub fn challenger(example_dir: &Path, bad: bool) -> Option<std::path::PathBuf> {
        let file = example_dir.join(if bad { "challenger-broken.onnx" } else { "challenger.onnx" });
        file.is_file().then_some(file)
    }

    pub async fn tell(self) -> Result<(), String> {
        let Some(file) = Update::challenger(self.example_dir, self.bad) else { return Ok(()) };
        let component = self.world.component();
        let client = reqwest::Client::new();
        let time = rein_monitor::goals::time_text;
        println!("— The update —");
        println!(
            "The world keeps its new kind of phishing. A challenger trained on the newer data ({}) comes in:",
            file.file_name().and_then(|n| n.to_str()).unwrap_or_default()
        );
        let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let champion = self.get(&client, &format!("/v1/models/{component}")).await?["aliases"]["champion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let register = format!(
            "/v1/models/{component}/versions?alias=challenger&by=demo&parent={champion}&data_description={}",
            if self.bad { "newer%20pages%2C%20domain%20ages%20read%20in%20months" } else { "newer%20pages" }
        );
        let registered = self.send(client.post(self.url(&register)).body(bytes)).await?;
        let version = registered["version"]["id"].as_str().unwrap_or_default().to_string();
        println!(
            "  registered {version} (parent {champion}), checked before it may serve: it loads, fits the schema and labels, answers smoke rows"
        );

        // a day in the shadow: every page copied to it, its verdicts recorded, shown to no one
        let shadow = json!({"experiment": EXPERIMENT, "salt": "demo", "holdout": {"share": 0.05},
                            "shadow": {"alias": "challenger"}});
        self.send(client.put(self.url(&format!("/v1/components/{component}/traffic"))).json(&shadow)).await?;
        let mut at = self.start_ms;
        at = self.play(at, 24, 0).await?;
        let agreement = self.shadow_agreement(component, self.start_ms, at).await?;
        println!("  {} shadowed for a day (5% of users held out of ML): {agreement}", time(self.start_ms));

        // the canary, judged by the controller every window of simulated time
        let canary = json!({"experiment": EXPERIMENT, "salt": "demo", "holdout": {"share": 0.05},
            "canary": {"alias": "challenger", "steps": [10, 50, 100]},
            "analysis": {"window": format!("{WINDOW_HOURS}h"), "primary": "few_credentials_entered",
                         "guardrails": ["every_page_scored"], "min_predictions": 150, "deadline": "4d"}});
        self.send(client.put(self.url(&format!("/v1/components/{component}/traffic"))).json(&canary)).await?;
        println!(
            "  {} canary: 10% of users, then 50% (an A/B test of the two), judged every {WINDOW_HOURS} h by `few_credentials_entered` and the guardrails",
            time(at)
        );
        let mut told = 1; // the start, said above
        let mut chunk = 1;
        let rollout = loop {
            at = self.play(at, WINDOW_HOURS, chunk).await?;
            chunk += 1;
            self.app.evaluate_rollouts().await?;
            let rollout = self.get(&client, &format!("/v1/components/{component}/rollout")).await?;
            let actions = rollout["actions"].as_array().cloned().unwrap_or_default();
            for a in actions.iter().skip(told) {
                println!(
                    "  {} {}",
                    time(a["at_ms"].as_i64().unwrap_or_default()),
                    a["summary"].as_str().unwrap_or_default()
                );
            }
            told = actions.len();
            let done = rollout["status"] != "running";
            if done || at - self.start_ms >= (MAX_CANARY_DAYS + 1) * 24 * HOUR_MS {
                if !done && let Some(waiting) = rollout["waiting"].as_str() {
                    println!("  {} still undecided: {waiting}", time(at));
                }
                break rollout;
            }
        };
        let serving = self.get(&client, &format!("/v1/models/{component}")).await?;
        println!(
            "  champion is now {} (was {champion}); every move and who made it: {} models history {} {component} --data-dir {}",
            serving["aliases"]["champion"].as_str().unwrap_or_default(),
            crate::this_rein(),
            crate::absolute(self.file),
            crate::absolute(self.data_dir),
        );
        if rollout["status"] == "promoted" {
            let from = at;
            at = self.play(at, 24, chunk).await?;
            println!("{}", self.holdout_worth(component, from, at).await?);
        }
        Ok(())
    }

    /// Plays `hours` of the world from `from_ms`; returns where it ended.
    async fn play(&self, from_ms: i64, hours: i64, chunk: u64) -> Result<i64, String> {
        let days = hours as f64 / 24.0;
        let scenario = Scenario {
            name: "update",
            description: "the days after the world's week: its data and concept drift stay",
            users: 2_000,
            requests: (PAGES_A_DAY * days) as u32,
            days,
            changes: Vec::new(),
        }
        .during(ChangeKind::DataDrift, 0.0, days)
        .during(ChangeKind::ConceptDrift, 0.0, days)
        .scaled(self.scale);
        let config = RunConfig {
            base_url: self.base_url.to_string(),
            seed: self.seed.wrapping_add(1000 + chunk),
            lanes: 16,
            start_ms: from_ms as u64,
            scale: self.scale,
        };
        let summary = Arc::new(Mutex::new(Summary::default()));
        rein_simulator::run_scenario(self.world.clone(), &scenario, config, summary)
            .await
            .map_err(|e| format!("the update's world failed: {e}"))?;
        if let Some(t) = &self.app.telemetry {
            t.flush().await.map_err(|e| e.to_string())?;
        }
        Ok(from_ms + hours * HOUR_MS)
    }

    /// The shadow against what was answered over the day: the comparison's verdict.
    async fn shadow_agreement(&self, component: &str, from_ms: i64, until_ms: i64) -> Result<String, String> {
        let telemetry = self.app.telemetry.as_ref().ok_or("the demo records telemetry")?;
        let (system, store) = (self.app.system.clone(), telemetry.store.clone());
        let Some(spec) = system.component(component).cloned() else { return Err(format!("no component {component}")) };
        let query = rein_telemetry::ShadowQuery {
            component: component.to_string(),
            since_ms: Some(from_ms),
            until_ms: Some(until_ms),
            experiment: Some(EXPERIMENT.to_string()),
        };
        let report = tokio::task::spawn_blocking(move || {
            let options = rein_monitor::files::Options::default();
            rein_monitor::shadow::compare(&system.name, &spec, store.as_ref(), &query, &options)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot compare the shadow: {e}"))?;
        let verdicts: Vec<String> =
            report.shadows.iter().flat_map(|s| s.against.iter().map(|a| a.verdict.clone())).collect();
        Ok(if verdicts.is_empty() { "no shadow prediction recorded".into() } else { verdicts.join("; ") })
    }

    /// The holdout's report: the primary goal with ML against without, over `[from, until)`.
    async fn holdout_worth(&self, component: &str, from_ms: i64, until_ms: i64) -> Result<String, String> {
        let telemetry = self.app.telemetry.as_ref().ok_or("the demo records telemetry")?;
        let spec = ExperimentSpec {
            component: component.to_string(),
            experiment: EXPERIMENT.to_string(),
            arms: vec![
                ArmSpec { variant: "holdout".into(), weight: 5.0 },
                ArmSpec { variant: rein_telemetry::events::DEFAULT_VARIANT.into(), weight: 95.0 },
            ],
            control: "holdout".into(),
            start_ms: from_ms,
            window_ms: WINDOW_HOURS * HOUR_MS,
            primary: "few_credentials_entered".into(),
            guardrails: Vec::new(),
            horizon_windows: experiment::DEFAULT_HORIZON_WINDOWS,
        };
        let (system, store) = (self.app.system.clone(), telemetry.store.clone());
        let report = tokio::task::spawn_blocking(move || experiment::analyze(&system, store.as_ref(), &spec, until_ms))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot measure the holdout: {e}"))?;
        let figure = |variant: &str| {
            let arm = report.arms.iter().find(|a| a.variant == variant)?;
            match arm.metrics.first()?.figure {
                experiment::ArmFigure::Share { successes, trials, .. } => Some((successes, trials)),
                _ => None,
            }
        };
        let mut out = String::from("  what the model is worth, from the holdout (a day after the promotion):\n");
        for (variant, label) in [("main", "with ML"), ("holdout", "without ML (the fallback)")] {
            if let Some((k, n)) = figure(variant) {
                let i = rein_stats::wilson_interval(k, n.max(1), 0.95).map_err(|e| e.to_string())?;
                out.push_str(&format!(
                    "    {label:<26} {k} of {n} users entered credentials: {:.1}% [{:.1}%, {:.1}%]\n",
                    100.0 * i.estimate,
                    100.0 * i.lower,
                    100.0 * i.upper
                ));
            }
        }
        // the primary comes first among the variant's metrics
        let fixed = report.variants.first().and_then(|v| v.metrics.first()).and_then(|m| m.fixed.as_ref());
        if let Some(f) = fixed {
            out.push_str(&format!(
                "    ML against none: {:+.1} points [{:+.1}, {:+.1}] of users entering credentials, p = {:.1e}\n",
                100.0 * f.difference,
                100.0 * f.lower,
                100.0 * f.upper,
                f.p_value
            ));
        }
        Ok(out)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn get(&self, client: &reqwest::Client, path: &str) -> Result<Value, String> {
        self.send(client.get(self.url(path))).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, String> {
        crate::rollout::call(request, Some(self.token)).await.map_err(|failed| match failed {
            crate::rollout::Failed::Unreachable(e) => e.to_string(),
            crate::rollout::Failed::Answered(status, message) => format!("rein answered {status}: {message}"),
        })
    }
}
