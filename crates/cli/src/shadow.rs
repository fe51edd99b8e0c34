//! `rein shadow`: a component's shadow predictions against the answers they copy, over a data
//! directory's store, as `GET /v1/components/{name}/shadow` answers them, printed per shadow
//! version and answering version: the verdict first, then each figure with its interval.

use std::fmt::Write;

use rein_monitor::goals::time_text as time;
use rein_monitor::quality::Interval;
use rein_monitor::shadow::{Against, ShadowReport};

/// The report as a person reads it.
pub fn render(report: &ShadowReport) -> String {
    let mut s = String::new();
    let range = match (report.since_ms, report.until_ms) {
        (Some(a), Some(b)) => format!("from {} until {}", time(a), time(b)),
        (Some(a), None) => format!("from {}", time(a)),
        (None, Some(b)) => format!("until {}", time(b)),
        (None, None) => "everything recorded".to_owned(),
    };
    let experiment = report.experiment.as_deref().map(|e| format!(", experiment {e}")).unwrap_or_default();
    let _ = writeln!(
        s,
        "shadows of {} ({}), {range}{experiment}: {} shadow prediction(s), {:.0}% intervals",
        report.component,
        report.task,
        report.shadow_predictions,
        report.confidence * 100.0
    );
    if report.shadows.is_empty() {
        let _ = writeln!(
            s,
            "  no shadow prediction recorded: give the component's traffic plan a `shadow` (docs/rollouts.md)"
        );
    }
    for shadow in &report.shadows {
        let _ = writeln!(
            s,
            "\nshadow {} ({} prediction(s); experiment(s) {}):",
            shadow.version,
            shadow.shadow_predictions,
            if shadow.experiments.is_empty() { "none".to_owned() } else { shadow.experiments.join(", ") }
        );
        if shadow.original_missing > 0 {
            let _ = writeln!(
                s,
                "  {} whose answered prediction is no longer stored (pruned): not compared",
                shadow.original_missing
            );
        }
        for against in &shadow.against {
            write_against(&mut s, against);
        }
    }
    let _ = writeln!(s, "\nnot here: {}", report.not_recorded);
    s
}

fn write_against(s: &mut String, a: &Against) {
    let _ = writeln!(s, "  against {}: {} request(s) in common", a.answered_version, a.pairs);
    let _ = writeln!(s, "    {}", a.verdict);
    if a.without_output > 0 {
        let _ = writeln!(s, "    {} left out: the answer fell back, with no model output to compare", a.without_output);
    }
    if let Some(l) = &a.labels {
        let _ = writeln!(s, "    label agreement   {} ({} of {})", share(l.agreement.as_ref()), l.agreeing, l.pairs);
        for d in l.disagreements.iter().take(10) {
            let _ = writeln!(s, "      answered {:<16} shadow {:<16} {}", d.answered, d.shadow, d.count);
        }
        if l.disagreements.len() > 10 {
            let _ = writeln!(s, "      … {} more pairs of labels (--json lists them all)", l.disagreements.len() - 10);
        }
    }
    if let Some(d) = &a.differences {
        let _ = writeln!(s, "    {} − answered   mean {}", d.field, signed(d.mean.as_ref()));
        let what = if d.field == "value" { "MAE between them" } else { "mean |difference|" };
        let _ = writeln!(s, "    {what:<17} {}", plain(d.mean_absolute.as_ref()));
        if let Some(g) = &d.beyond_gap {
            let _ =
                writeln!(s, "    apart by > {}     {} ({} of {})", g.gap, share(g.share.as_ref()), g.count, d.pairs);
        }
    }
    for c in &a.drift.columns {
        let _ = writeln!(s, "    drift of {:<8} {}", c.name, c.reason);
    }
}

fn share(i: Option<&Interval>) -> String {
    match i {
        Some(i) => format!("{:.1}% [{:.1}, {:.1}]", 100.0 * i.value, 100.0 * i.lower, 100.0 * i.upper),
        None => "—".to_owned(),
    }
}

fn signed(i: Option<&Interval>) -> String {
    match i {
        Some(i) => format!("{:+.4} [{:+.4}, {:+.4}]", i.value, i.lower, i.upper),
        None => "— (fewer than two pairs)".to_owned(),
    }
}

fn plain(i: Option<&Interval>) -> String {
    match i {
        Some(i) => format!("{:.4} [{:.4}, {:.4}]", i.value, i.lower, i.upper),
        None => "— (fewer than two pairs)".to_owned(),
    }
}
