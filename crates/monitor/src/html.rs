//! A drift report as one self-contained HTML page: no script, no font, no request over the
//! network. Per column, the reference's and the current's shares per bin or category as
//! an inline SVG drawn here, and every measure in a table. Aggregates only: the report
//! holds no row of either file. Well-formed XML (XHTML), so any XML parser reads it.

use crate::report::{ColumnReport, DriftReport, Measures, short, significant};
use std::fmt::Write;

/// Most bars a categorical histogram draws; the report's JSON holds every category.
const MAX_BARS: usize = 24;
const REFERENCE_COLOUR: &str = "#4c78a8";
const CURRENT_COLOUR: &str = "#f58518";

/// The report as a page.
pub fn render(report: &DriftReport) -> String {
    let title = format!("Drift of {} / {}", report.system, report.component);
    let mut body = format!("<h1>{}</h1>\n", escape(&title));
    body.push_str(&drift_body(report, ""));
    page(&title, &body)
}

/// A whole page around `body`: no script, no font, no request over the network.
pub fn page(title: &str, body: &str) -> String {
    let mut page = String::with_capacity(body.len() + 2048);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n",
        escape(title),
        STYLE
    );
    page.push_str(body);
    page.push_str("</body>\n</html>\n");
    page
}

/// A drift report's content, without its title: its summary, how it was decided, the
/// overview table and a section a column; `anchors` prefixes the columns' anchors so that
/// several reports share a page.
pub fn drift_body(report: &DriftReport, anchors: &str) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let s = &report.summary;
    let _ = writeln!(
        page,
        "<p class=\"summary {}\">{} of {} features drifted ({:.0}%){}{}</p>",
        if s.dataset_drift {
            "bad"
        } else if s.drifted_features.is_empty() {
            "good"
        } else {
            "warn"
        },
        s.drifted_features.len(),
        s.features,
        100.0 * s.drifted_share,
        if s.dataset_drift { ": the dataset drifted" } else { "" },
        if s.drifted_outputs.is_empty() {
            String::new()
        } else {
            format!("; the output drifted ({})", escape(&s.drifted_outputs.join(", ")))
        }
    );
    let _ = writeln!(
        page,
        "<table class=\"sides\"><tr><th>reference</th><td>{} ({}, {} rows)</td></tr><tr><th>current</th><td>{} ({}, {} rows)</td></tr></table>",
        escape(&report.reference.source),
        report.reference.kind,
        report.reference.rows,
        escape(&report.current.source),
        report.current.kind,
        report.current.rows
    );
    let p = &report.policy;
    let _ = writeln!(
        page,
        "<p class=\"policy\">Decided as Evidently's data-drift preset: up to {} rows a p-value test (KS for numbers, chi-squared for categories, drift at p ≤ {}), above an effect size (Wasserstein distance / reference std for numbers, Jensen–Shannon distance for categories, drift at ≥ {} and ≥ {}). A rise of {} or more in the share of missing, defaulted or out-of-range values is drift too. KS and Wasserstein are computed on samples of at most {} values a side.</p>",
        p.max_rows_for_tests,
        p.alpha,
        p.numeric_threshold,
        p.categorical_threshold,
        p.share_threshold,
        report.sample_size
    );
    overview(&mut page, report, anchors);
    for column in &report.columns {
        section(&mut page, column, anchors);
    }
    page
}

fn overview(page: &mut String, report: &DriftReport, anchors: &str) {
    page.push_str("<h2>Columns</h2>\n<table class=\"overview\">\n<tr><th>column</th><th>type</th><th>decided by</th><th>value</th><th>drift at</th><th>missing (ref → cur)</th><th>drifted</th></tr>\n");
    for c in &report.columns {
        let (method, value, rule) = match &c.decision {
            Some(d) => (
                d.method.replace('_', " "),
                short(d.value),
                format!("{} {}", if d.test { "≤" } else { "≥" }, d.threshold),
            ),
            None => ("—".to_owned(), "—".to_owned(), "—".to_owned()),
        };
        let _ = writeln!(
            page,
            "<tr class=\"{}\"><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}% → {:.1}%</td><td>{}</td></tr>",
            if c.drifted { "drifted" } else { "steady" },
            anchor(anchors, &c.name),
            escape(&c.name),
            escape(&c.declared),
            escape(&method),
            value,
            rule,
            100.0 * c.values.reference.missing,
            100.0 * c.values.current.missing,
            if c.drifted {
                "yes"
            } else if c.not_compared.is_some() {
                "not compared"
            } else {
                "no"
            }
        );
    }
    page.push_str("</table>\n");
}

fn section(page: &mut String, c: &ColumnReport, anchors: &str) {
    let _ = writeln!(
        page,
        "<section id=\"{}\">\n<h3>{} <span class=\"tag\">{} {}</span> <span class=\"{}\">{}</span></h3>\n<p>{}</p>",
        anchor(anchors, &c.name),
        escape(&c.name),
        escape(&format!("{:?}", c.role).to_lowercase()),
        escape(&c.declared),
        if c.drifted { "bad" } else { "good" },
        if c.drifted { "drifted" } else { "no drift" },
        escape(&c.reason)
    );
    if let Some(h) = &c.histogram {
        page.push_str(&histogram(&h.labels, &h.reference, &h.current));
    }
    page.push_str("<table class=\"measures\">\n<tr><th>measure</th><th>variant</th><th>value</th><th>drift at</th><th>says drift</th></tr>\n");
    let mut row = |name: &str, variant: String, value: String, at: String, drifted: bool| {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            escape(&variant),
            value,
            escape(&at),
            if drifted { "yes" } else { "no" }
        );
    };
    match &c.measures {
        Some(Measures::Numeric { psi, jensen_shannon: js, wasserstein: w, ks, reference_mean, current_mean }) => {
            row(
                "PSI",
                format!("{} bins at the reference's deciles", psi.bins),
                short(psi.value),
                format!("≥ {}", psi.threshold),
                psi.drifted,
            );
            row(
                "Jensen–Shannon distance",
                format!("natural log, same bins (base 2: {})", short(js.value_base2)),
                short(js.value),
                format!("≥ {}", js.threshold),
                js.drifted,
            );
            row(
                "Wasserstein / reference std",
                format!(
                    "samples of {} and {}, std {}",
                    w.reference_sample,
                    w.current_sample,
                    significant(w.reference_std)
                ),
                short(w.normalized),
                format!("≥ {}", w.threshold),
                w.drifted,
            );
            row("Wasserstein distance", "in the column's unit".into(), significant(w.value), "—".into(), w.drifted);
            row(
                "Kolmogorov–Smirnov p-value",
                format!(
                    "{}, samples of {} and {}, D = {}",
                    ks.method,
                    ks.reference_sample,
                    ks.current_sample,
                    short(ks.statistic)
                ),
                short(ks.p_value),
                format!("≤ {}", ks.alpha),
                ks.drifted,
            );
            row(
                "mean",
                "every value".into(),
                format!("{} → {}", significant(*reference_mean), significant(*current_mean)),
                "—".into(),
                false,
            );
        }
        Some(Measures::Categorical { psi, jensen_shannon: js, chi_squared: chi, largest_shift }) => {
            row(
                "PSI",
                format!("{} categories", psi.bins),
                short(psi.value),
                format!("≥ {}", psi.threshold),
                psi.drifted,
            );
            row(
                "Jensen–Shannon distance",
                format!("natural log (base 2: {})", short(js.value_base2)),
                short(js.value),
                format!("≥ {}", js.threshold),
                js.drifted,
            );
            row(
                "chi-squared p-value",
                format!("χ² = {}, {} degrees of freedom", significant(chi.statistic), chi.degrees_of_freedom),
                short(chi.p_value),
                format!("≤ {}", chi.alpha),
                chi.drifted,
            );
            if let Some(s) = largest_shift {
                row(
                    "largest shift",
                    format!("category {}", s.category),
                    format!("{:.1}% → {:.1}%", 100.0 * s.reference_share, 100.0 * s.current_share),
                    "—".into(),
                    false,
                );
            }
        }
        None => {}
    }
    let v = &c.values;
    for (name, r, cur, key) in [
        ("missing share", v.reference.missing, v.current.missing, "missing"),
        ("defaulted share", v.reference.defaulted, v.current.defaulted, "defaulted"),
        ("out-of-range share", v.reference.out_of_range, v.current.out_of_range, "out_of_range"),
    ] {
        row(
            name,
            format!("of {} and {} rows", v.reference.rows, v.current.rows),
            format!("{:.1}% → {:.1}%", 100.0 * r, 100.0 * cur),
            "a rise ≥ 0.1".into(),
            v.risen.contains(&key),
        );
    }
    page.push_str("</table>\n</section>\n");
}

/// Paired bars, reference then current, per bin or category: shares of each side's values.
fn histogram(labels: &[String], reference: &[f64], current: &[f64]) -> String {
    let (mut labels, mut reference, mut current) = (labels.to_vec(), reference.to_vec(), current.to_vec());
    if labels.len() > MAX_BARS {
        // the largest, the rest summed
        let mut order: Vec<usize> = (0..labels.len()).collect();
        order.sort_by(|&a, &b| reference[b].max(current[b]).total_cmp(&reference[a].max(current[a])));
        let (kept, rest) = order.split_at(MAX_BARS - 1);
        let mut keep: Vec<usize> = kept.to_vec();
        keep.sort_unstable();
        let sum = |v: &[f64]| rest.iter().map(|&i| v[i]).sum::<f64>();
        let (r, c) = (sum(&reference), sum(&current));
        let count = rest.len();
        labels = keep.iter().map(|&i| labels[i].clone()).chain([format!("{count} more")]).collect();
        reference = keep.iter().map(|&i| reference[i]).chain([r]).collect();
        current = keep.iter().map(|&i| current[i]).chain([c]).collect();
    }
    let n = labels.len().max(1);
    let (left, top, plot_height, label_height) = (40.0, 10.0, 150.0, 70.0);
    let group = (560.0_f64 / n as f64).clamp(18.0, 64.0);
    let width = left + group * n as f64 + 10.0;
    let height = top + plot_height + label_height;
    let max = reference.iter().chain(&current).copied().fold(0.0_f64, f64::max).max(1e-9);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\">"
    );
    for tick in [0.0, 0.5, 1.0] {
        let y = top + plot_height * (1.0 - tick);
        let _ = write!(
            svg,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{:.0}%</text>",
            width - 10.0,
            left - 4.0,
            y + 4.0,
            100.0 * tick * max
        );
    }
    let bar = (group - 4.0) / 2.0;
    for (i, label) in labels.iter().enumerate() {
        let x = left + group * i as f64 + 2.0;
        for (j, (value, colour)) in
            [(reference[i], REFERENCE_COLOUR), (current[i], CURRENT_COLOUR)].into_iter().enumerate()
        {
            let h = plot_height * value / max;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{colour}\"><title>{}: {:.1}%</title></rect>",
                x + bar * j as f64,
                top + plot_height - h,
                if j == 0 { "reference" } else { "current" },
                100.0 * value
            );
        }
        let cx = x + bar;
        let ly = top + plot_height + 8.0;
        let shown: String = label.chars().take(18).collect();
        let _ = write!(
            svg,
            "<text x=\"{cx:.1}\" y=\"{ly:.1}\" class=\"axis\" text-anchor=\"end\" transform=\"rotate(-40 {cx:.1} {ly:.1})\">{}</text>",
            escape(&shown)
        );
    }
    svg.push_str("</svg>\n");
    format!(
        "<figure>{svg}<figcaption><span style=\"color:{REFERENCE_COLOUR}\">■</span> reference <span style=\"color:{CURRENT_COLOUR}\">■</span> current (share of each side's values)</figcaption></figure>\n"
    )
}

fn anchor(prefix: &str, name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    format!("{prefix}column-{cleaned}")
}

/// Text for HTML (and XML): `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:72em}\
table{border-collapse:collapse;margin:0.5em 0}td,th{border-bottom:1px solid #ddd;padding:0.25em 0.6em;text-align:left}\
tr.drifted td{background:#fdecea}.bad{color:#b3261e;font-weight:bold}.good{color:#1e7b34}.warn{color:#9a6700;font-weight:bold}\
.tag{font-size:0.7em;color:#666;font-weight:normal}.axis{font-size:10px;fill:#555}section{margin-top:2em}\
figure{margin:0.5em 0}figcaption{font-size:0.85em;color:#555}";
