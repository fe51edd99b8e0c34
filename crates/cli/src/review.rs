//! `rein review SYSTEM COMPONENT`: an expected-value policy's thresholds re-derived from the
//! recorded feedback (docs/review.md). The store is read here, each labeled prediction the
//! policy decided turned into its `p` and whether its bet held; the arithmetic is
//! `rein_monitor::review`'s.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rein_monitor::quality::Interval;
use rein_monitor::review::{Review, ReviewError, ReviewOptions as Arithmetic, Verdict, review};
use rein_system::{Component, Mode, ModeValue, Policy, Task, expected_value_choice};
use rein_telemetry::{PredictionRecord, Store, Truth, WindowQuery};

pub struct ReviewOptions {
    pub system: PathBuf,
    pub component: String,
    pub data_dir: PathBuf,
    pub since: Option<String>,
    pub until: Option<String>,
    pub seed: u64,
    pub json: bool,
}

/// The labeled predictions the policy decided, and what was left out and why.
#[derive(Default)]
struct Rows {
    p: Vec<f64>,
    held: Vec<bool>,
    /// Predictions the policy decided, with feedback or not.
    by_the_policy: u64,
    /// Predictions with feedback.
    with_feedback: u64,
    /// Decided by a guardrail or the fallback, not by the policy.
    not_by_the_policy: u64,
    /// Whose feedback establishes no truth (`incorrect` on a multiclass component), or a
    /// label the component does not declare.
    no_truth: u64,
    /// Recorded in another mode than today's policy chooses at their `p`: frequency caps, or
    /// a policy of other values when they were made.
    decided_otherwise: u64,
    model_versions: BTreeMap<String, u64>,
    /// Who gave the labeled rows' truth (the latest feedback's `source`).
    sources: BTreeMap<&'static str, u64>,
}

pub fn run(options: ReviewOptions) -> Result<(), String> {
    let (system, index) = crate::monitor::load_component(&options.system, &options.component)?;
    let component = &system.components[index];
    let Policy::ExpectedValue(values) = &component.experience.policy else {
        let policy = match &component.experience.policy {
            Policy::Thresholds(_) => "a thresholds policy: its thresholds are stated, not derived",
            _ => "a fixed mode: it chooses nothing",
        };
        return Err(format!(
            "component `{}` has {policy}; `rein review` re-derives the thresholds an expected_value policy derives \
             from its stated values (`policy = \"expected_value\"` with `values.<mode> = {{ right = …, wrong = … }}`)",
            component.name
        ));
    };
    let time = |what: &str, v: &Option<String>| -> Result<Option<i64>, String> {
        v.as_deref().map(|s| rein_server::parse_time(what, s).map_err(|e| e.to_string())).transpose()
    };
    let (since_ms, until_ms) = (time("since", &options.since)?, time("until", &options.until)?);
    let (store, serving) = crate::store::open_to_read(&options.data_dir)?;
    let query = WindowQuery { component: Some(component.name.clone()), since_ms, until_ms, with_feedback: false };
    let rows = read(store.as_ref(), component, values, &query).map_err(|e| e.to_string())?;
    if serving {
        eprintln!("{}", crate::store::behind_note(&options.data_dir, "this review"));
    }
    let mut arithmetic = Arithmetic::default();
    arithmetic.bootstrap.seed = options.seed;
    let reviewed = match review(values, &rows.p, &rows.held, &arithmetic) {
        Ok(reviewed) => reviewed,
        Err(e @ ReviewError::TooFewLabels { .. }) => {
            return Err(format!(
                "`{}`: {e}.\n{}  hint: feedback with the truth (POST /v1/feedback) on more of its predictions",
                component.name,
                left_out(&rows)
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    let verdict = verdict(&reviewed);
    let out = if options.json {
        let json = json(component, values, &rows, &reviewed, &arithmetic, &verdict);
        serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
    } else {
        text(component, &rows, &reviewed, &verdict)
    };
    // a reader that stops early (`| head`) is no error
    match std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("cannot write the review: {e}")),
        _ => Ok(()),
    }
}

/// The rows of the labeled predictions `query` visits, and what the others were.
fn read(
    store: &dyn Store,
    component: &Component,
    values: &[ModeValue],
    query: &WindowQuery,
) -> Result<Rows, rein_telemetry::StoreError> {
    let spec = rein_server::telemetry::export_spec(component);
    let positive = component.positive.map(|i| component.labels[i].as_str());
    let mut rows = Rows::default();
    store.visit_predictions(query, &mut |record| {
        let decision = record.prediction.decision.to_value();
        let reason = &decision["reason"];
        let by_the_policy = (reason["kind"].as_str(), reason["p"].as_f64());
        rows.by_the_policy += u64::from(matches!(by_the_policy, (Some("expected_value"), Some(_))));
        let Some(feedback) = record.feedback.last() else { return Ok(()) };
        rows.with_feedback += 1;
        let (Some("expected_value"), Some(p)) = by_the_policy else {
            rows.not_by_the_policy += 1;
            return Ok(());
        };
        let source = feedback.source.as_str();
        let Some(held) = held(component, positive, &record, rein_telemetry::truth(&spec, &record)) else {
            rows.no_truth += 1;
            return Ok(());
        };
        rows.p.push(p);
        rows.held.push(held);
        rows.decided_otherwise += u64::from(record.prediction.mode != expected_value_choice(values, p).as_str());
        *rows.model_versions.entry(record.prediction.model_version.clone()).or_default() += 1;
        *rows.sources.entry(source).or_default() += 1;
        Ok(())
    })?;
    Ok(rows)
}

/// Whether what `p` bet on held: the truth is the positive label (binary), the predicted
/// label is the truth (multiclass). `None` without a truth among the component's labels.
fn held(
    component: &Component,
    positive: Option<&str>,
    record: &PredictionRecord,
    truth: Option<Truth>,
) -> Option<bool> {
    let Some(Truth::Label(truth)) = truth else { return None };
    if !component.labels.contains(&truth) {
        return None;
    }
    match component.task {
        Task::Binary => Some(Some(truth.as_str()) == positive),
        _ => Some(record.prediction.output.to_value()["label"].as_str() == Some(truth.as_str())),
    }
}

/// What `p` is the probability of, in words.
fn bet(component: &Component) -> String {
    match (component.task, component.positive) {
        (Task::Binary, Some(i)) => format!("the truth is `{}`", component.labels[i]),
        _ => "the predicted label is the truth".to_string(),
    }
}

/// The predictions with feedback left out, a line, or nothing.
fn left_out(rows: &Rows) -> String {
    let mut parts = Vec::new();
    if rows.not_by_the_policy > 0 {
        parts.push(format!("{} decided by a guardrail or the fallback", rows.not_by_the_policy));
    }
    if rows.no_truth > 0 {
        parts.push(format!("{} whose feedback gives no truth among the labels", rows.no_truth));
    }
    if parts.is_empty() {
        return String::new();
    }
    format!("  left out of {} with feedback: {}\n", rows.with_feedback, parts.join(", "))
}

/// A number as the review prints it.
fn num(x: f64) -> String {
    if x.abs() >= 100.0 { format!("{x:.1}") } else { format!("{x:.3}") }
}

/// `lower to upper`, at its confidence.
fn range(i: &Interval) -> String {
    format!("{:.0}% interval {} to {}", i.confidence * 100.0, num(i.lower), num(i.upper))
}

/// A re-derived threshold: 1 is never, 0 always.
fn threshold(p: f64) -> String {
    if p >= 1.0 {
        "1 (never)".to_string()
    } else if p <= 0.0 {
        "0 (always)".to_string()
    } else {
        num(p)
    }
}

/// The verdict in one sentence.
fn verdict(r: &Review) -> String {
    let gain = &r.value.gain;
    let (n, changed) = (r.labeled, r.value.changed);
    match r.verdict {
        Verdict::SameDecisions => format!(
            "the re-derived thresholds decide all {n} labeled predictions as today's do: today's thresholds hold"
        ),
        Verdict::Gain => format!(
            "the re-derived thresholds would gain {} per prediction ({}), deciding {changed} of {n} labeled \
             predictions otherwise: under the model's observed calibration, the stated values call for them",
            num(gain.value),
            range(gain)
        ),
        Verdict::Loss => format!(
            "the re-derived thresholds would lose {} per prediction ({}): keep today's; the calibration \
             measured on {n} labeled predictions is too uncertain to improve on them",
            num(-gain.value),
            range(gain)
        ),
        Verdict::NoClearDifference => format!(
            "no clear difference: the re-derived thresholds would change the value per prediction by {} ({}), \
             which holds 0; today's thresholds hold until more feedback tells",
            num(gain.value),
            range(gain)
        ),
    }
}

fn text(component: &Component, rows: &Rows, r: &Review, verdict: &str) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "review of `{}`'s expected_value policy, on {} labeled predictions of the {} it decided ({:.1}%)",
        component.name,
        r.labeled,
        rows.by_the_policy,
        100.0 * r.labeled as f64 / rows.by_the_policy.max(1) as f64
    );
    let sources: Vec<String> = rows.sources.iter().map(|(source, n)| format!("{source} {n}")).collect();
    let _ = writeln!(s, "  their truth from feedback by: {}", sources.join(", "));
    s.push_str(&left_out(rows));
    if rows.model_versions.len() > 1 {
        let versions: Vec<String> = rows.model_versions.iter().map(|(v, n)| format!("{v} ({n})")).collect();
        let _ = writeln!(
            s,
            "  note: they come from {} model versions, {}: their calibration is mixed (--since chooses a period)",
            versions.len(),
            versions.join(", ")
        );
    }
    let _ = writeln!(s, "  p: the probability that {}; it held in {} of them", bet(component), r.held);

    let _ = writeln!(s, "\nobserved calibration (how often it held, against p):");
    let confidence = r.calibration.ece.confidence * 100.0;
    let _ = writeln!(
        s,
        "  {:<11} {:>11} {:>8} {:>9}   {confidence:.0}% interval",
        "p", "predictions", "mean p", "observed"
    );
    for b in r.calibration.bins.iter().filter(|b| b.bin.count > 0) {
        let (bin, interval) = (&b.bin, b.interval.as_ref());
        let _ = writeln!(
            s,
            "  {:<11} {:>11} {:>8.3} {:>9.3}   {}",
            format!("{:.1}–{:.1}", bin.lower, bin.upper),
            bin.count,
            bin.mean_confidence.unwrap_or(f64::NAN),
            bin.observed.unwrap_or(f64::NAN),
            interval.map_or(String::new(), |i| format!("{:.3} to {:.3}", i.lower, i.upper)),
        );
    }
    let ece = &r.calibration.ece;
    let _ = writeln!(s, "  ECE {} ({})", num(ece.value), range(ece));

    let _ = writeln!(s, "\nthresholds on p, where the mode changes (today's: p taken at its word):");
    for t in &r.thresholds {
        let _ = writeln!(
            s,
            "  {:<21} today {}   re-derived {} ({})",
            format!("{} → {}", t.below.as_str(), t.above.as_str()),
            num(t.today),
            threshold(t.rederived.value),
            range(&t.rederived)
        );
    }

    let v = &r.value;
    let _ = writeln!(s, "\nvalue per prediction, by the stated values (before frequency caps):");
    let _ = writeln!(s, "  today's thresholds     {:>9} ({})", num(v.today.value), range(&v.today));
    let _ =
        writeln!(s, "  re-derived thresholds  {:>9} ({}; cross-fitted)", num(v.rederived.value), range(&v.rederived));
    let _ = writeln!(s, "  gain                   {:>9} ({})", num(v.gain.value), range(&v.gain));
    let counts: Vec<String> =
        v.decisions.iter().map(|m| format!("{} {} → {}", m.mode.as_str(), m.today, m.rederived)).collect();
    let _ = writeln!(s, "  decisions, today's → re-derived: {}", counts.join(", "));
    if rows.decided_otherwise > 0 {
        let _ = writeln!(
            s,
            "  ({} were recorded in another mode than today's policy chooses: frequency caps, or other values then)",
            rows.decided_otherwise
        );
    }

    let _ = writeln!(s, "\nverdict: {verdict}");
    if r.verdict == Verdict::Gain
        && let Some(thresholds) = as_thresholds_policy(r)
    {
        let _ = writeln!(
            s,
            "  to apply them, recalibrate the model, or state them in the system file (they then no longer follow \
             the values):\n    [components.experience]\n    policy = \"thresholds\"\n    thresholds = {{ {thresholds} }}"
        );
    }
    let _ = writeln!(
        s,
        "  (the labeled predictions are those feedback reached, rarely a random sample of all: docs/review.md)"
    );
    s
}

/// The re-derived thresholds as a thresholds policy's, when one can state them: each mode
/// more forceful than the one below it, `none` at the bottom.
fn as_thresholds_policy(r: &Review) -> Option<String> {
    let ascending = r.thresholds.iter().all(|t| t.above < t.below);
    let bottom = r.thresholds.first().map(|t| t.below);
    if !ascending || bottom.is_some_and(|m| m != Mode::None) {
        return None;
    }
    let parts: Vec<String> = r
        .thresholds
        .iter()
        .rev()
        .filter(|t| t.rederived.value < 1.0)
        .map(|t| format!("{} = {:.3}", t.above.as_str(), t.rederived.value))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn json(
    component: &Component,
    values: &[ModeValue],
    rows: &Rows,
    r: &Review,
    options: &Arithmetic,
    verdict: &str,
) -> serde_json::Value {
    let values: serde_json::Map<String, serde_json::Value> = values
        .iter()
        .map(|v| (v.mode.as_str().to_string(), serde_json::json!({"right": v.right, "wrong": v.wrong})))
        .collect();
    let mut json = serde_json::json!({
        "component": component.name,
        "values": values,
        "bet": bet(component),
        "predictions": {
            "by_the_policy": rows.by_the_policy,
            "with_feedback": rows.with_feedback,
            "left_out": {"not_by_the_policy": rows.not_by_the_policy, "no_truth": rows.no_truth},
            "decided_otherwise_when_recorded": rows.decided_otherwise,
            "model_versions": rows.model_versions,
            "truth_by_source": rows.sources,
        },
        "options": {
            "resamples": options.bootstrap.resamples,
            "confidence": options.bootstrap.confidence,
            "seed": options.bootstrap.seed,
            "folds": options.folds,
        },
    });
    if let (Some(out), Ok(serde_json::Value::Object(review))) = (json.as_object_mut(), serde_json::to_value(r)) {
        out.extend(review);
        out.insert("summary".into(), verdict.into());
    }
    json
}
