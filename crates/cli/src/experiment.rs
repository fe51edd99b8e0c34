//! `rein experiment`: an experiment's analysis over a data directory's store
//! (`rein_monitor::experiment`, docs/experiments.md), printed as a person reads it or as JSON.

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rein_monitor::experiment::{ArmFigure, ArmSpec, ExperimentReport, ExperimentSpec, MetricComparison, analyze};
use rein_monitor::goals::{number_text as number, time_text as time};
use rein_system::System;
use rein_telemetry::{Order, ScanQuery, Store};

/// What the command line says of the experiment.
pub struct Args {
    pub component: String,
    pub name: Option<String>,
    pub control: String,
    pub variants: Vec<String>,
    pub primary: String,
    pub guardrails: Vec<String>,
    pub since: Option<i64>,
    pub at: Option<i64>,
    pub window: Duration,
    pub horizon: u32,
}

/// `V` or `V:weight`: a variant and its configured weight (1 when not given).
pub fn arm(text: &str) -> Result<ArmSpec, String> {
    let (variant, weight) = match text.rsplit_once(':') {
        Some((variant, weight)) => {
            let weight: f64 = weight.parse().map_err(|_| format!("`{text}`: the weight after `:` is not a number"))?;
            (variant, weight)
        }
        None => (text, 1.0),
    };
    if variant.is_empty() {
        return Err(format!("`{text}`: the variant's name is empty"));
    }
    Ok(ArmSpec { variant: variant.to_string(), weight })
}

/// The spec the arguments describe, with the defaults read from the store: the start is
/// the component's oldest recorded prediction; the instant is now, or the end of the window
/// holding its newest prediction when that came before now (a finished run is analysed
/// whole).
pub fn analyse(system: &System, store: &dyn Store, args: Args) -> Result<ExperimentReport, String> {
    let mut arms = vec![arm(&args.control)?];
    for v in &args.variants {
        arms.push(arm(v)?);
    }
    let edge = |order| {
        let query = ScanQuery { component: Some(args.component.clone()), limit: 1, order, ..ScanQuery::default() };
        store.scan(&query).map(|page| page.items.first().map(|p| p.time_ms)).map_err(|e| e.to_string())
    };
    let window_ms = i64::try_from(args.window.as_millis()).unwrap_or(i64::MAX);
    let start_ms = match args.since {
        Some(since) => since,
        None => edge(Order::Ascending)?
            .ok_or_else(|| format!("no prediction of `{}` is recorded: nothing to analyse", args.component))?,
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let as_of_ms = match args.at {
        Some(at) => at,
        None => match edge(Order::Descending)? {
            Some(newest) if newest >= start_ms && window_ms > 0 => {
                let end = start_ms + ((newest - start_ms) / window_ms + 1) * window_ms;
                end.min(now)
            }
            _ => now,
        },
    };
    let spec = ExperimentSpec {
        experiment: args.name.unwrap_or_else(|| format!("{} experiment", args.component)),
        control: arms[0].variant.clone(),
        component: args.component,
        arms,
        start_ms,
        window_ms,
        primary: args.primary,
        guardrails: args.guardrails,
        horizon_windows: args.horizon,
    };
    analyze(system, store, &spec, as_of_ms).map_err(|e| e.to_string())
}

/// The report as a person reads it.
pub fn render(r: &ExperimentReport) -> String {
    let mut s = String::new();
    let decision = match &r.ship {
        Some(variant) => format!("ship `{variant}`"),
        None => r.decision.as_str().to_string(),
    };
    let _ = writeln!(s, "experiment `{}` on {}: {decision}", r.experiment, r.component);
    let _ = writeln!(
        s,
        "  from {} to {}: {} closed window(s) of {} (tuned for {}), always-valid at α = {}, fixed-horizon {:.0}%",
        time(r.start_ms),
        time(r.until_ms),
        r.windows,
        humantime::format_duration(Duration::from_millis(r.window_ms.max(0) as u64)),
        r.horizon_windows,
        r.alpha,
        r.confidence * 100.0
    );
    let srm = &r.sample_ratio;
    let _ = writeln!(
        s,
        "  sample ratio: {} {:?} against the weights' {:?}, p = {} ({})",
        srm.counted,
        srm.observed,
        srm.expected.iter().map(|e| e.round() as u64).collect::<Vec<_>>(),
        p_text(srm.p_value),
        if srm.mismatch { "MISMATCH: assignment or logging is broken" } else { "fits" }
    );
    if r.other_predictions > 0 || r.units_in_several_arms > 0 {
        let _ = writeln!(
            s,
            "  not counted: {} prediction(s) of other variants; {} unit(s) seen in more than one arm",
            r.other_predictions, r.units_in_several_arms
        );
    }
    let _ = writeln!(s, "\n  arms:");
    for arm in &r.arms {
        let role = if arm.control { " (control)" } else { "" };
        let _ = writeln!(
            s,
            "    {}{role}, weight {}: {} units, {} predictions",
            arm.variant,
            number(arm.weight),
            arm.units,
            arm.predictions
        );
        for m in &arm.metrics {
            let text = match &m.figure {
                ArmFigure::Share { successes, trials, rate } => {
                    format!("{successes} of {trials} = {}", rate.map_or("-".into(), number))
                }
                ArmFigure::Mean { n, mean, sd } => {
                    format!("mean {} (sd {}) of {n}", mean.map_or("-".into(), number), sd.map_or("-".into(), number))
                }
                ArmFigure::Latency { n, quantile, value_ms, slower_than_control } => format!(
                    "p{} {} ms of {n}, {slower_than_control} slower than the control's",
                    number(quantile * 100.0),
                    value_ms.map_or("-".into(), number)
                ),
            };
            let _ = writeln!(s, "      {}: {text}", m.metric);
        }
    }
    for v in &r.variants {
        let _ = writeln!(s, "\n  {} against {}: {}", v.variant, r.control, v.decision.as_str());
        for m in &v.metrics {
            let _ = writeln!(s, "    {}", comparison(m));
        }
        let _ = writeln!(s, "    because:");
        for reason in &v.reasons {
            let _ = writeln!(s, "      - {}", reason.text);
        }
    }
    s
}

fn comparison(m: &MetricComparison) -> String {
    let role = match m.role {
        rein_monitor::experiment::Role::Primary => "primary",
        rein_monitor::experiment::Role::Guardrail => "guardrail",
    };
    let better = match m.better {
        rein_monitor::experiment::Direction::Higher => "higher",
        rein_monitor::experiment::Direction::Lower => "lower",
    };
    let mut s = format!("{} ({role}, {better} is better, as {}", m.metric, m.compared_as);
    if let Some(t) = m.threshold_ms {
        let _ = write!(s, " above {} ms", number(t));
    }
    s.push_str("): ");
    match (&m.fixed, &m.sequential) {
        (Some(f), Some(q)) => {
            let bound = |b: Option<f64>, inf: &str| b.map_or(inf.to_string(), number);
            let _ = write!(
                s,
                "{} vs {}, difference {} [{}, {}] p = {}",
                number(f.variant),
                number(f.control),
                number(f.difference),
                number(f.lower),
                number(f.upper),
                p_text(f.p_value)
            );
            if let Some(l) = f.relative_lift {
                let _ = write!(
                    s,
                    ", lift {:+.1}% [{:+.1}%, {:+.1}%]",
                    l.estimate * 100.0,
                    l.lower * 100.0,
                    l.upper * 100.0
                );
            }
            let _ = write!(
                s,
                "; always-valid [{}, {}] p = {} over {} look(s)",
                bound(q.lower, "-∞"),
                bound(q.upper, "∞"),
                p_text(q.p_value),
                q.windows_counted
            );
        }
        _ => s.push_str("no data in an arm yet"),
    }
    s
}

/// A p-value: small ones in scientific notation, so that none reads as 0.
fn p_text(p: f64) -> String {
    if p < 1e-3 { format!("{p:.1e}") } else { format!("{p:.4}") }
}
