//! The system's report as one self-contained HTML page (`rein report`): the goal tree
//! coloured by status, each goal with its latest figure, interval and trend drawn inline,
//! then each component's drift against its reference. Aggregates only, never a recorded
//! row; no script, no font, no request over the network (the drift page's rules, `html.rs`).

use std::fmt::Write;

use crate::goals::{
    AlignmentStatus, Figure, GoalReport, GoalsReport, Status, number_text as number, time_text as time,
};
use crate::html::{drift_body, escape, page};
use crate::report::DriftReport;

/// What the page shows.
pub struct SystemReport<'a> {
    pub goals: &'a GoalsReport,
    /// Each component's drift against its reference, in the system file's order.
    pub drift: &'a [DriftReport],
    /// What could not be shown, and why (a component without a reference profile, say).
    pub notes: &'a [String],
    /// Where the figures come from (the data directory), for the header.
    pub source: &'a str,
    /// The alerts the monitors opened, oldest first (`None`: the system declares no monitor).
    pub alerts: Option<&'a [AlertLine]>,
}

/// One alert as the page lists it.
pub struct AlertLine {
    pub monitor: String,
    pub severity: String,
    /// What the monitor watches, in words.
    pub watch: String,
    pub opened_ms: i64,
    pub closed_ms: Option<i64>,
}

const GOOD: &str = "#1e7b34";
const BAD: &str = "#b3261e";
const UNSURE: &str = "#9a6700";
const NONE: &str = "#777";

/// The page.
pub fn render(report: &SystemReport) -> String {
    let g = report.goals;
    let title = format!("{}: goals and drift", g.system);
    let mut body = String::with_capacity(64 * 1024);
    let _ = writeln!(body, "<h1>{}</h1>", escape(&title));
    let _ = writeln!(
        body,
        "<p class=\"sides\">As of {} ({}), from {}; intervals at {:.0}%; trends over the last {} windows.</p>",
        time(g.as_of_ms),
        match g.as_of {
            crate::goals::AsOf::Given => "as asked",
            crate::goals::AsOf::NewestPrediction => "just after the newest recorded prediction",
            crate::goals::AsOf::Clock => "now: nothing is recorded",
        },
        escape(report.source),
        g.confidence * 100.0,
        g.windows
    );
    goal_section(&mut body, g);
    if let Some(alerts) = report.alerts {
        alert_section(&mut body, alerts);
    }
    for note in report.notes {
        let _ = writeln!(body, "<p class=\"warn\">{}</p>", escape(note));
    }
    for (i, drift) in report.drift.iter().enumerate() {
        let _ = writeln!(body, "<h2 id=\"drift-{i}\">Drift of {}</h2>", escape(&drift.component));
        body.push_str(&drift_body(drift, &format!("drift-{i}-")));
    }
    page(&title, &body).replace("</style>", &format!("{GOAL_STYLE}</style>"))
}

const GOAL_STYLE: &str = "ul.goals{list-style:none;padding-left:1.2em;border-left:1px solid #ddd}\
ul.goals.top{border-left:none;padding-left:0}li.goal{margin:0.6em 0}\
.status{display:inline-block;min-width:6.5em;padding:0.05em 0.4em;border-radius:0.3em;color:#fff;font-size:0.8em;text-align:center}\
.goal .figure{font-variant-numeric:tabular-nums}.goal .detail{font-size:0.85em;color:#555}\
.goal svg{vertical-align:middle;margin-left:0.5em}";

fn alert_section(body: &mut String, alerts: &[AlertLine]) {
    let open = alerts.iter().filter(|a| a.closed_ms.is_none()).count();
    let _ = writeln!(body, "<h2>Alerts</h2>\n<p class=\"summary\">{} opened, {open} still open.</p>", alerts.len());
    if alerts.is_empty() {
        return;
    }
    body.push_str("<table class=\"alerts\"><tr><th>severity</th><th>monitor</th><th>watches</th><th>opened</th><th>closed</th></tr>\n");
    for a in alerts {
        let colour = match a.severity.as_str() {
            "critical" => BAD,
            "warning" => UNSURE,
            _ => NONE,
        };
        let _ = writeln!(
            body,
            "<tr><td><span class=\"status\" style=\"background:{colour}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&a.severity),
            escape(&a.monitor),
            escape(&a.watch),
            time(a.opened_ms),
            a.closed_ms.map_or_else(|| "still open".to_owned(), time)
        );
    }
    body.push_str("</table>\n");
}

fn goal_section(body: &mut String, g: &GoalsReport) {
    let _ = writeln!(body, "<h2>Goals</h2>");
    if g.goals.is_empty() {
        let _ = writeln!(
            body,
            "<p>The system file declares no <code>[[goals]]</code>: docs/goals.md says how to write them.</p>"
        );
        return;
    }
    let count = |status: Status| g.goals.iter().filter(|x| x.status == status).count();
    let _ = writeln!(
        body,
        "<p class=\"summary\"><span class=\"good\">{} met</span>, <span class=\"bad\">{} missed</span>, <span class=\"warn\">{} not judged</span> (too little data), {} without data, {} not measured.</p>",
        count(Status::Met),
        count(Status::Missed),
        count(Status::NotJudged) + count(Status::TooFewLabels),
        count(Status::NoData),
        count(Status::NotMeasured) + count(Status::NotMeasuredYet)
    );
    body.push_str("<ul class=\"goals top\">\n");
    let mut seen = Vec::new();
    for top in &g.top {
        goal_item(body, g, top, &mut seen);
    }
    body.push_str("</ul>\n");
}

fn goal_item<'a>(body: &mut String, g: &'a GoalsReport, id: &'a str, seen: &mut Vec<&'a str>) {
    let Some(goal) = g.goals.iter().find(|x| x.id == id) else { return };
    if seen.contains(&id) {
        let _ = writeln!(body, "<li class=\"goal\"><a href=\"#goal-{0}\">{0}</a> (above)</li>", escape(id));
        return;
    }
    seen.push(id);
    let _ = write!(
        body,
        "<li class=\"goal\" id=\"goal-{}\"><span class=\"status\" style=\"background:{}\">{}</span> <b>{}</b> <span class=\"tag\">{}</span> ",
        escape(id),
        colour(goal.status),
        goal.status.as_str().replace('_', " "),
        escape(id),
        escape(goal.layer)
    );
    if let Some(f) = &goal.latest {
        let _ = write!(body, "<span class=\"figure\">{}</span>", escape(&f.describe()));
    }
    if let Some(trend) = &goal.trend {
        body.push_str(&sparkline(goal, &trend.windows));
    }
    let _ = write!(body, "<div>{}</div>", escape(&goal.description));
    if let Some(metric) = &goal.metric {
        let _ = write!(
            body,
            "<div class=\"detail\">{}; target {} over {}{}</div>",
            escape(&metric.text),
            escape(&metric.target.describe()),
            escape(&metric.window),
            goal.trend.as_ref().map_or(String::new(), |t| format!(
                "; trend {}",
                serde_json::to_value(t.direction)
                    .ok()
                    .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                    .unwrap_or_default()
            ))
        );
    }
    if let Some(note) = &goal.note {
        let _ = write!(body, "<div class=\"detail\">{}</div>", escape(note));
    }
    for a in &goal.alignment {
        let text = match (&a.spearman, a.status) {
            (Some(rho), AlignmentStatus::Measured) => {
                let bounds = rho.interval.as_ref().map(|b| (b.lower, b.upper));
                let verdict = match bounds {
                    Some((Some(lo), _)) if lo > 0.0 => "moved together with",
                    Some((_, Some(hi))) if hi < 0.0 => "moved apart from",
                    _ => "no clear relation with",
                };
                format!("{verdict} {} (Spearman {:.2} over {} windows)", a.supports, rho.rho, a.windows)
            }
            _ => format!("alignment with {} not known: {}", a.supports, a.note.as_deref().unwrap_or("not measured")),
        };
        let _ = write!(body, "<div class=\"detail\">{}</div>", escape(&text));
    }
    if !goal.supporters.is_empty() {
        body.push_str("\n<ul class=\"goals\">\n");
        for supporter in &goal.supporters {
            goal_item(body, g, supporter, seen);
        }
        body.push_str("</ul>");
    }
    body.push_str("</li>\n");
}

fn colour(status: Status) -> &'static str {
    match status {
        Status::Met => GOOD,
        Status::Missed => BAD,
        Status::NotJudged | Status::TooFewLabels => UNSURE,
        Status::NoData | Status::NotMeasured | Status::NotMeasuredYet => NONE,
    }
}

/// The recent windows as dots joined by a line, each coloured by its status, with the
/// target's bounds dashed; a window without a figure leaves a gap.
fn sparkline(goal: &GoalReport, windows: &[Figure]) -> String {
    let (width, height, pad) = (180.0, 40.0, 4.0);
    let targets: Vec<f64> = goal.metric.iter().flat_map(|m| [m.target.at_least, m.target.at_most]).flatten().collect();
    let values: Vec<f64> = windows.iter().filter_map(|f| f.value).chain(targets.iter().copied()).collect();
    if windows.iter().all(|f| f.value.is_none()) {
        return String::new();
    }
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let x = |i: usize| pad + (width - 2.0 * pad) * i as f64 / (windows.len().max(2) - 1) as f64;
    let y = |v: f64| pad + (height - 2.0 * pad) * (1.0 - (v - lo) / span);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\"><title>the last {} windows, oldest first</title>",
        windows.len()
    );
    for t in &targets {
        let _ = write!(
            svg,
            "<line x1=\"0\" y1=\"{0:.1}\" x2=\"{width}\" y2=\"{0:.1}\" stroke=\"#999\" stroke-dasharray=\"3,3\"><title>target {1}</title></line>",
            y(*t),
            number(*t)
        );
    }
    let mut path = String::new();
    for (i, f) in windows.iter().enumerate() {
        match f.value {
            Some(v) => {
                let _ = write!(path, "{}{:.1},{:.1} ", if path.is_empty() { "M" } else { "L" }, x(i), y(v));
            }
            None => {
                if !path.is_empty() {
                    let _ = write!(svg, "<path d=\"{}\" fill=\"none\" stroke=\"#4c78a8\"/>", path.trim_end());
                    path.clear();
                }
            }
        }
    }
    if !path.is_empty() {
        let _ = write!(svg, "<path d=\"{}\" fill=\"none\" stroke=\"#4c78a8\"/>", path.trim_end());
    }
    for (i, f) in windows.iter().enumerate() {
        if let Some(v) = f.value {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"><title>{}</title></circle>",
                x(i),
                y(v),
                colour(f.status),
                escape(&f.describe())
            );
        }
    }
    svg.push_str("</svg>");
    svg
}
