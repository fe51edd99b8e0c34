//! `rein goals`: the system's goals measured over a data directory's store, as `GET /v1/goals`
//! answers them, printed as the goal tree with each goal's latest figure, interval, status
//! and trend, and whether linked goals moved together.

use std::fmt::Write;

use rein_monitor::goals::{
    self, Alignment, AlignmentStatus, GoalReport, GoalsReport, Options, Status, number_text as number,
    time_text as time,
};

/// The report as a person reads it: every goal under the goals it supports, top layer first.
pub fn render(report: &GoalsReport) -> String {
    let mut s = String::new();
    if report.goals.is_empty() {
        let _ = writeln!(s, "{} declares no [[goals]]: docs/goals.md says how to write them", report.system);
        return s;
    }
    let _ = writeln!(
        s,
        "goals of {} as of {} ({} window(s) back, {:.0}% intervals):",
        report.system,
        time(report.as_of_ms),
        report.windows,
        report.confidence * 100.0
    );
    let mut seen = Vec::new();
    for top in &report.top {
        write_goal(&mut s, report, top, 0, &mut seen);
    }
    let count = |status: Status| report.goals.iter().filter(|g| g.status == status).count();
    let _ = writeln!(
        s,
        "\n{} met, {} missed, {} not judged (too little data), {} without data, {} not measured",
        count(Status::Met),
        count(Status::Missed),
        count(Status::NotJudged) + count(Status::TooFewLabels),
        count(Status::NoData),
        count(Status::NotMeasured) + count(Status::NotMeasuredYet),
    );
    s
}

fn write_goal<'a>(s: &mut String, report: &'a GoalsReport, id: &'a str, depth: usize, seen: &mut Vec<&'a str>) {
    let indent = "  ".repeat(depth + 1);
    let Some(goal) = report.goals.iter().find(|g| g.id == id) else { return };
    if seen.contains(&id) {
        let _ = writeln!(s, "{indent}{id} (above)");
        return;
    }
    seen.push(id);
    let _ = writeln!(s, "{indent}{} [{}] {}", goal.id, goal.layer, headline(goal));
    let detail = "  ".repeat(depth + 2);
    if let Some(metric) = &goal.metric {
        let _ = writeln!(s, "{detail}{}; target {} over {}", metric.text, metric.target.describe(), metric.window);
    }
    if let Some(note) = &goal.note {
        let _ = writeln!(s, "{detail}{note}");
    }
    if let Some(trend) = &goal.trend {
        let values: Vec<String> = trend.windows.iter().map(|f| f.value.map_or("-".into(), number)).collect();
        let _ = writeln!(
            s,
            "{detail}trend {}: {}",
            serde_json::to_value(trend.direction).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            values.join(", ")
        );
    }
    for a in &goal.alignment {
        let _ = writeln!(s, "{detail}with {}: {}", a.supports, alignment(a));
    }
    for supporter in &goal.supporters {
        write_goal(s, report, supporter, depth + 1, seen);
    }
}

/// Whether a goal moved with one it supports: "together" only when the rank correlation's
/// interval lies above 0, "apart" when below.
fn alignment(a: &Alignment) -> String {
    let (Some(agree), Some(rho), AlignmentStatus::Measured) = (&a.agreement, &a.spearman, a.status) else {
        return format!("alignment not known: {}", a.note.as_deref().unwrap_or("not measured"));
    };
    let verdict = match rho.interval.as_ref().map(|b| (b.lower, b.upper)) {
        Some((Some(lo), _)) if lo > 0.0 => "moved together",
        Some((_, Some(hi))) if hi < 0.0 => "MOVED APART",
        _ => "no clear relation",
    };
    let interval = rho.interval.as_ref().map_or(String::new(), |b| format!(" [{}]", bounds(b)));
    format!(
        "{verdict}: both better or both worse in {} of {} steps where both moved, Spearman {:.2}{interval} over {} windows",
        agree.same,
        agree.same + agree.opposite,
        rho.rho,
        a.windows
    )
}

/// `MET 0.93 [0.91, 0.95] over 1200 predictions in 10:00–11:00`, or why there is no figure.
fn headline(goal: &GoalReport) -> String {
    let status = goal.status.as_str().to_uppercase().replace('_', " ");
    let Some(f) = &goal.latest else { return status };
    let mut s = format!("{status} {}", f.describe());
    if f.filter_errors > 0 {
        let first = f.filter_error.as_deref().unwrap_or("?");
        let _ = write!(s, " ({} not counted: the filter failed on them, first: {first})", f.filter_errors);
    }
    s
}

fn bounds(b: &rein_monitor::window::Bounds) -> String {
    let end = |v: Option<f64>, inf: &str| v.map_or(inf.to_string(), number);
    format!("{}, {}", end(b.lower, "-inf"), end(b.upper, "inf"))
}

/// How many windows back, checked as the route checks `?windows=`.
pub fn options(windows: usize, at_ms: Option<i64>) -> Result<Options, String> {
    if !(1..=goals::MAX_WINDOWS).contains(&windows) {
        return Err(format!("--windows is {windows}: give how many windows back, from 1 to {}", goals::MAX_WINDOWS));
    }
    Ok(Options { at_ms, windows })
}
