//! `[[monitors]]` and `[alerts]`: monitors parse into what they watch, with their threshold,
//! window, severity and runs; every mistake is reported where it is written, with a hint.

use std::path::Path;
use std::time::Duration;

use rein_system::{Diagnostic, DriftMeasure, QualityMeasure, Severity, System, Threshold, Watch, Webhook, parse};

const PHISHING: &str = include_str!("../../../examples/phishing-warning/rein.toml");

/// The phishing example without the monitors and alerts it may declare.
fn base() -> &'static str {
    let end = [PHISHING.find("\n[[monitors]]"), PHISHING.find("\n[alerts]"), PHISHING.find("\n# Monitors")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(PHISHING.len());
    &PHISHING[..end]
}

fn with(tables: &str) -> String {
    format!("{}\n{tables}\n", base())
}

fn system(text: &str) -> System {
    parse(text, Path::new("rein.toml")).unwrap_or_else(|d| panic!("{d}"))
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match parse(text, Path::new("rein.toml")) {
        Ok(_) => panic!("expected diagnostics, the file was accepted"),
        Err(d) => d.0,
    }
}

/// The 1-based line and column where `needle`, found once only in the appended part of
/// `text`, starts.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let from = base().len();
    let tail = &text[from..];
    assert_eq!(tail.matches(needle).count(), 1, "`{needle}` is not found exactly once in {tail}");
    let offset = from + tail.find(needle).unwrap();
    let line = text[..offset].matches('\n').count() + 1;
    let column = text[..offset].chars().rev().take_while(|c| *c != '\n').count() + 1;
    (line, column)
}

/// The one diagnostic for `text`, checked to be where `at` is written.
fn one_error(text: &str, at: &str) -> Diagnostic {
    let found = errors(text);
    assert_eq!(found.len(), 1, "expected one diagnostic, got: {found:#?}");
    let d = found.into_iter().next().unwrap();
    assert_eq!((d.location.line, d.location.column), position_of(text, at), "wrong place for {d}");
    d
}

fn hint(d: &Diagnostic) -> &str {
    d.hint.as_deref().unwrap_or_else(|| panic!("no hint: {d}"))
}

const EVERY_WATCH: &str = r#"
[[monitors]]
id = "url_length_drift"
watch = "feature_drift"
feature = "url_length"
window = "1h"

[[monitors]]
id = "domain_age_psi"
watch = "feature_drift"
feature = "domain_age_days"
measure = "psi"
threshold = 0.25
window = "1d"
severity = "critical"
open_after = 2
close_after = 3
hysteresis = 0.05

[[monitors]]
id = "https_shift"
watch = "feature_drift"
feature = "uses_https"
measure = "chi_squared"
threshold = 0.01
window = "6h"

[[monitors]]
id = "score_drift"
watch = "output_drift"
window = "1h"
severity = "info"

[[monitors]]
id = "label_drift"
watch = "output_drift"
output = "label"
measure = "jensen_shannon"
window = "1h"

[[monitors]]
id = "recall_drop"
watch = "quality"
metric = "recall"
threshold = 0.8
window = "1d"

[[monitors]]
id = "estimated_accuracy"
watch = "quality"
metric = "accuracy"
estimated = true
threshold = { below = 0.85 }
window = "1d"

[[monitors]]
id = "fallbacks_goal"
watch = "goal"
goal = "every_page_scored"

[[monitors]]
id = "slow"
watch = "latency"
quantile = 0.99
threshold = 50
window = "15m"

[[monitors]]
id = "escalations"
watch = "guardrail_rate"
guardrail = "outside_training_range"
threshold = { above = 0.2 }
window = "1h"

[[monitors]]
id = "any_rule"
watch = "guardrail_rate"
threshold = 0.5
window = "1h"

[[monitors]]
id = "fallbacks"
component = "phishing"
watch = "fallback_rate"
threshold = 0.01
window = "1h"
description = "the model answers"
"#;

#[test]
fn every_watch_parses_into_what_it_means() {
    let s = system(&with(EVERY_WATCH));
    let got: Vec<(&str, &Watch, Option<Threshold>)> =
        s.monitors.iter().map(|m| (m.id.as_str(), &m.watch, m.threshold)).collect();
    let feature = |f: &str, m| Watch::FeatureDrift { feature: f.into(), measure: m };
    assert_eq!(
        got,
        [
            ("url_length_drift", &feature("url_length", None), None),
            ("domain_age_psi", &feature("domain_age_days", Some(DriftMeasure::Psi)), Some(Threshold::Above(0.25))),
            ("https_shift", &feature("uses_https", Some(DriftMeasure::ChiSquared)), Some(Threshold::Below(0.01))),
            ("score_drift", &Watch::OutputDrift { output: "score".into(), measure: None }, None),
            (
                "label_drift",
                &Watch::OutputDrift { output: "label".into(), measure: Some(DriftMeasure::JensenShannon) },
                None
            ),
            (
                "recall_drop",
                &Watch::Quality { measure: QualityMeasure::Recall, label: Some("phishing".into()), estimated: false },
                Some(Threshold::Below(0.8))
            ),
            (
                "estimated_accuracy",
                &Watch::Quality { measure: QualityMeasure::Accuracy, label: None, estimated: true },
                Some(Threshold::Below(0.85))
            ),
            // the goal's `at_most = 0.01` over its own window
            ("fallbacks_goal", &Watch::Goal { goal: "every_page_scored".into() }, Some(Threshold::Above(0.01))),
            ("slow", &Watch::Latency { quantile: 0.99 }, Some(Threshold::Above(50.0))),
            (
                "escalations",
                &Watch::GuardrailRate { guardrail: Some("outside_training_range".into()) },
                Some(Threshold::Above(0.2))
            ),
            ("any_rule", &Watch::GuardrailRate { guardrail: None }, Some(Threshold::Above(0.5))),
            ("fallbacks", &Watch::FallbackRate, Some(Threshold::Above(0.01))),
        ]
    );
    let m = s.monitor("url_length_drift").unwrap();
    assert_eq!(
        (m.component.as_deref(), m.window, m.severity, m.open_after, m.close_after, m.hysteresis),
        (Some("phishing"), Duration::from_secs(3600), Severity::Warning, 1, 2, 0.0),
        "the defaults, and the only component"
    );
    let m = s.monitor("domain_age_psi").unwrap();
    assert_eq!(
        (m.window, m.severity, m.open_after, m.close_after, m.hysteresis),
        (Duration::from_secs(86_400), Severity::Critical, 2, 3, 0.05)
    );
    let goal = s.monitor("fallbacks_goal").unwrap();
    assert_eq!(goal.window, Duration::from_secs(3600), "the goal's window");
    assert_eq!(goal.component, None, "the goal counts every component's predictions");
    assert_eq!(s.monitor("fallbacks").unwrap().description.as_deref(), Some("the model answers"));
    assert_eq!(s.monitor("score_drift").unwrap().severity, Severity::Info);
    // as `rein check` prints them
    assert_eq!(s.monitor("slow").unwrap().watch.to_string(), "latency p99 (ms)");
    assert_eq!(s.monitor("domain_age_psi").unwrap().watch.to_string(), "drift of feature `domain_age_days` by psi");
    assert_eq!(Threshold::Outside { below: -0.5, above: 0.5 }.to_string(), "below -0.5 or above 0.5");
    assert!(s.alerts.webhook.is_none());
}

#[test]
fn a_threshold_breaches_beyond_it_and_clears_back_past_the_hysteresis() {
    let above = Threshold::Above(0.1);
    assert!(above.breached_by(0.11) && !above.breached_by(0.1));
    assert!(above.cleared_by(0.1, 0.0) && !above.cleared_by(0.09, 0.02) && above.cleared_by(0.08, 0.02));
    let below = Threshold::Below(0.8);
    assert!(below.breached_by(0.79) && !below.breached_by(0.8));
    assert!(below.cleared_by(0.86, 0.05) && !below.cleared_by(0.84, 0.05));
    let outside = Threshold::Outside { below: -1.0, above: 1.0 };
    assert!(outside.breached_by(-1.5) && outside.breached_by(1.5) && !outside.breached_by(0.0));
    assert!(outside.cleared_by(0.5, 0.5) && !outside.cleared_by(0.6, 0.5));
}

#[test]
fn alerts_go_to_a_webhook_with_its_defaults_or_its_settings() {
    let s = system(&with("[alerts]\nwebhook = \"https://hooks.example.com/rein\"\n"));
    assert_eq!(
        s.alerts.webhook,
        Some(Webhook {
            url: "https://hooks.example.com/rein".into(),
            timeout: Webhook::DEFAULT_TIMEOUT,
            retries: Webhook::DEFAULT_RETRIES,
            backoff: Webhook::DEFAULT_BACKOFF,
            queue: Webhook::DEFAULT_QUEUE,
        })
    );
    let s = system(&with(
        "[alerts]\nwebhook = \"http://127.0.0.1:9000/a\"\ntimeout_ms = 200\nretries = 0\nbackoff_ms = 10\nqueue = 3\n",
    ));
    let w = s.alerts.webhook.unwrap();
    assert_eq!(
        (w.timeout, w.retries, w.backoff, w.queue),
        (Duration::from_millis(200), 0, Duration::from_millis(10), 3)
    );
}

/// A monitor appended, its lines as given.
fn monitor(lines: &str) -> String {
    with(&format!("[[monitors]]\n{lines}"))
}

#[test]
fn names_a_monitor_uses_are_checked_against_the_system() {
    let text = monitor("id = \"m\"\nwatch = \"feature_drift\"\nfeature = \"url_lenght\"\nwindow = \"1h\"");
    let d = one_error(&text, "\"url_lenght\"");
    assert_eq!(d.message, "component `phishing` has no feature `url_lenght`");
    assert!(hint(&d).starts_with("did you mean `url_length`? features: url_length, num_dots"), "{d}");

    let text = monitor("id = \"m\"\nwatch = \"feature_drift\"\nfeature = \"tld_category\"\nwindow = \"1h\"");
    let d = one_error(&text, "\"tld_category\"");
    assert!(d.message.contains("recorded as a keyed hash"), "{d}");
    assert!(hint(&d).contains("telemetry = \"raw\""), "{d}");

    let text = monitor("id = \"m\"\nwatch = \"goal\"\ngoal = \"every_page_scord\"");
    let d = one_error(&text, "\"every_page_scord\"");
    assert_eq!(d.message, "monitor `m` watches goal `every_page_scord`, which is not declared");
    assert!(hint(&d).starts_with("did you mean `every_page_scored`?"), "{d}");

    let text = monitor("id = \"m\"\nwatch = \"goal\"\ngoal = \"protect_users\"");
    let d = one_error(&text, "\"protect_users\"");
    assert!(d.message.contains("is not measured (`measured = false`)"), "{d}");

    let text = monitor(
        "id = \"m\"\nwatch = \"guardrail_rate\"\nguardrail = \"impossible_urls\"\nthreshold = 0.1\nwindow = \"1h\"",
    );
    let d = one_error(&text, "\"impossible_urls\"");
    assert_eq!(d.message, "component `phishing` has no guardrail `impossible_urls`");
    assert!(hint(&d).starts_with("did you mean `impossible_url`?"), "{d}");

    let text =
        monitor("id = \"m\"\ncomponent = \"phishng\"\nwatch = \"fallback_rate\"\nthreshold = 0.1\nwindow = \"1h\"");
    let d = one_error(&text, "\"phishng\"");
    assert_eq!(d.message, "monitor `m` names component `phishng`, which is not declared");
    assert!(hint(&d).starts_with("did you mean `phishing`?"), "{d}");

    let text = monitor("id = \"m\"\nwatch = \"quality\"\nmetric = \"mae\"\nthreshold = 3\nwindow = \"1d\"");
    let d = one_error(&text, "\"mae\"");
    assert!(d.message.contains("measures a regression, and component `phishing` is a classifier"), "{d}");

    let text = monitor(
        "id = \"m\"\nwatch = \"quality\"\nmetric = \"recall\"\nlabel = \"phishin\"\nthreshold = 0.8\nwindow = \"1d\"",
    );
    let d = one_error(&text, "\"phishin\"");
    assert!(hint(&d).starts_with("did you mean `phishing`?"), "{d}");

    let text = monitor(
        "id = \"m\"\nwatch = \"quality\"\nmetric = \"ece\"\nestimated = true\nthreshold = 0.1\nwindow = \"1d\"",
    );
    let d = one_error(&text, "true");
    assert!(d.message.contains("cannot be estimated without labels"), "{d}");
}

#[test]
fn what_a_monitor_watches_is_one_it_knows_with_the_keys_it_takes() {
    let text = monitor("id = \"m\"\nwatch = \"feature_drfit\"\nwindow = \"1h\"");
    let d = one_error(&text, "\"feature_drfit\"");
    assert_eq!(d.message, "unknown watch `feature_drfit`");
    assert!(hint(&d).starts_with("did you mean `feature_drift`?"), "{d}");

    let text = monitor("id = \"m\"\nwindow = \"1h\"");
    let d = one_error(&text, "[[monitors]]");
    assert_eq!(d.message, "monitor `m` has no `watch`");

    let text =
        monitor("id = \"m\"\nwatch = \"fallback_rate\"\nfeature = \"url_length\"\nthreshold = 0.1\nwindow = \"1h\"");
    let d = one_error(&text, "\"url_length\"");
    assert_eq!(d.message, "`feature` does not apply to a `fallback_rate` monitor (monitor `m`)");

    let text = monitor("id = \"m\"\nwatch = \"latency\"\nthreshold = 50\nwindow = \"1h\"");
    let d = one_error(&text, "[[monitors]]");
    assert_eq!(d.message, "latency monitor `m` has no `quantile`");

    let text = monitor("id = \"m\"\nwatch = \"feature_drift\"\nfeature = \"tld\"\nwindow = \"1h\"\nunknown_key = 1");
    let found = errors(&text);
    assert!(found[0].message.starts_with("unknown field `unknown_key`"), "{found:#?}");

    // a measure that does not compare what the column holds
    let text = monitor(
        "id = \"m\"\nwatch = \"feature_drift\"\nfeature = \"has_ip_host\"\nmeasure = \"wasserstein\"\nwindow = \"1h\"",
    );
    let d = one_error(&text, "\"wasserstein\"");
    assert_eq!(
        d.message,
        "`wasserstein` does not compare categories, and feature `has_ip_host` (boolean) holds categories"
    );
    assert!(hint(&d).contains("psi, jensen_shannon or chi_squared"), "{d}");
    let text = monitor("id = \"m\"\nwatch = \"output_drift\"\noutput = \"value\"\nwindow = \"1h\"");
    let d = one_error(&text, "\"value\"");
    assert!(hint(&d).contains("score, label"), "{d}");

    // the same id twice
    let twice = "id = \"m\"\nwatch = \"fallback_rate\"\nthreshold = 0.1\nwindow = \"1h\"\n";
    let text = with(&format!(
        "[[monitors]]\n{twice}\n[[monitors]]\nid = \"m\" # again\nwatch = \"fallback_rate\"\nthreshold = 0.2\nwindow = \"1h\""
    ));
    let d = one_error(&text, "\"m\" # again");
    assert_eq!(d.message, "monitor `m` is declared twice");
}

#[test]
fn a_threshold_is_of_the_kind_and_direction_its_figure_takes() {
    let text = monitor("id = \"m\"\nwatch = \"fallback_rate\"\nthreshold = \"0.1\"\nwindow = \"1h\"");
    let d = one_error(&text, "\"0.1\"");
    assert_eq!(d.message, "`threshold` must be a number or a table, not the string \"0.1\"");
    assert_eq!(hint(&d), "write it without quotes: `threshold = 0.1`");

    let text = monitor("id = \"m\"\nwatch = \"fallback_rate\"\nthreshold = 5\nwindow = \"1h\"");
    let d = one_error(&text, "5");
    assert_eq!(d.message, "threshold 5 is outside what a share can be: it is between 0 and 1.0000");

    let text = monitor("id = \"m\"\nwatch = \"fallback_rate\"\nwindow = \"1h\"");
    let d = one_error(&text, "[[monitors]]");
    assert_eq!(d.message, "monitor `m` has no `threshold`");
    assert!(hint(&d).contains("threshold = 0.05"), "{d}");

    // drift: the policy's verdict, or a measure's threshold
    let text =
        monitor("id = \"m\"\nwatch = \"feature_drift\"\nfeature = \"url_length\"\nthreshold = 0.2\nwindow = \"1h\"");
    let d = one_error(&text, "0.2");
    assert_eq!(d.message, "a threshold of drift monitor `m` is on a measure, and it names none");
    assert!(hint(&d).starts_with("add `measure = \"...\"`"), "{d}");
    let text = monitor(
        "id = \"m\"\nwatch = \"feature_drift\"\nfeature = \"url_length\"\nmeasure = \"ks\"\nthreshold = 1.5\nwindow = \"1h\"",
    );
    let d = one_error(&text, "1.5");
    assert!(d.message.contains("outside what a p-value can be"), "{d}");

    // a bias can go wrong either way: the direction is said
    let text = with(
        "[[components]]\nname = \"t\"\ntask = \"regression\"\nmodel = { path = \"m.onnx\" }\n[[components.features]]\nname = \"x\"\ntype = \"number\"\n",
    );
    let bias = |threshold: &str| {
        format!(
            "{text}\n[[monitors]]\nid = \"b\"\ncomponent = \"t\"\nwatch = \"quality\"\nmetric = \"bias\"\nthreshold = {threshold}\nwindow = \"1d\"\n"
        )
    };
    let t = bias("0.5");
    let found = errors(&t);
    let d = found.iter().find(|d| d.message.starts_with("which way")).unwrap_or_else(|| panic!("{found:#?}"));
    assert!(d.message.contains("bias can go wrong either way"), "{d}");
    let t = bias("{ below = 0.5, above = -0.5 }");
    let found = errors(&t);
    assert!(found.iter().any(|d| d.message.contains("is not under its `above`")), "{found:#?}");

    // a goal monitor's threshold is its goal's target
    let text = monitor("id = \"m\"\nwatch = \"goal\"\ngoal = \"every_page_scored\"\nthreshold = 0.5");
    let d = one_error(&text, "0.5");
    assert!(d.message.contains("it alerts when goal `every_page_scored` misses its own target"), "{d}");

    let text = monitor("id = \"m\"\nwatch = \"fallback_rate\"\nthreshold = { over = 0.1 }\nwindow = \"1h\"");
    let found = errors(&text);
    assert!(found[0].message.starts_with("unknown field `over`"), "{found:#?}");
}

#[test]
fn windows_severities_runs_and_hysteresis_are_checked() {
    let ok = "id = \"m\"\nwatch = \"fallback_rate\"\nthreshold = 0.1\n";
    let text = monitor(&format!("{ok}window = \"an hour\""));
    let d = one_error(&text, "\"an hour\"");
    assert_eq!(d.message, "`an hour` is not a duration");
    assert!(hint(&d).contains("`15m`"), "{d}");

    let text = monitor(ok);
    let d = one_error(&text, "[[monitors]]");
    assert_eq!(d.message, "monitor `m` has no `window`");

    let text = monitor(&format!("{ok}window = \"1h\"\nseverity = \"critcal\""));
    let d = one_error(&text, "\"critcal\"");
    assert!(hint(&d).starts_with("did you mean `critical`?"), "{d}");

    let text = monitor(&format!("{ok}window = \"1h\"\nclose_after = 0"));
    let d = one_error(&text, "0\n");
    assert_eq!(d.message, "`close_after` must be between 1 and 100 windows in a row, not 0");

    let text = monitor(&format!("{ok}window = \"1h\"\nhysteresis = 0.2"));
    let d = one_error(&text, "0.2");
    assert!(d.message.contains("a share must fall to"), "{d}");
    assert!(d.message.contains("an alert would never close"), "{d}");

    let text =
        monitor("id = \"m\"\nwatch = \"feature_drift\"\nfeature = \"url_length\"\nwindow = \"1h\"\nhysteresis = 0.01");
    let d = one_error(&text, "0.01");
    assert!(d.message.contains("drift policy's verdict"), "{d}");

    let text = with(&format!("[telemetry]\nretention_days = {{ predictions = 3 }}\n[[monitors]]\n{ok}window = \"7d\""));
    let found = errors(&text);
    assert!(found.iter().any(|d| d.message.contains("longer than telemetry keeps predictions")), "{found:#?}");
}

#[test]
fn a_monitor_names_its_component_when_there_are_several() {
    let start = base().find("[[components]]").unwrap();
    let end = base().find("# Goals, from the model up").unwrap();
    let second = base()[start..end].replacen("name = \"phishing\"", "name = \"phishing_v2\"", 1);
    // goals that are per component name theirs
    let goals = base()[end..]
        .replace("metric = \"auc\"", "metric = \"auc\"\ncomponent = \"phishing\"")
        .replace("metric = \"recall\"", "metric = \"recall\"\ncomponent = \"phishing\"")
        .replace("metric = \"ece\"", "metric = \"ece\"\ncomponent = \"phishing\"");
    let text = format!(
        "{}{second}{goals}\n[[monitors]]\nid = \"m\"\nwatch = \"fallback_rate\"\nthreshold = 0.1\nwindow = \"1h\"\n",
        &base()[..end]
    );
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].message, "monitor `m` watches one component, and the system has several");
    assert_eq!(found[0].hint.as_deref(), Some("name it with `component = \"...\"`: phishing, phishing_v2"));
    let named = text.replacen("id = \"m\"\n", "id = \"m\"\ncomponent = \"phishing_v2\"\n", 1);
    let s = system(&named);
    assert_eq!(s.monitor("m").unwrap().component.as_deref(), Some("phishing_v2"));
}

#[test]
fn a_webhook_is_a_url_and_its_settings_need_one() {
    let text = with("[alerts]\nwebhook = \"hooks.example.com/rein\"");
    let d = one_error(&text, "\"hooks.example.com/rein\"");
    assert_eq!(d.message, "webhook `hooks.example.com/rein` is not an http:// or https:// URL");

    let text = with("[alerts]\nretries = 3");
    let d = one_error(&text, "3");
    assert_eq!(d.message, "`retries` says how alerts are sent to the webhook, and `[alerts]` has no `webhook`");

    let text = with("[alerts]\nwebhook = \"http://x/\"\nretries = 1000");
    let d = one_error(&text, "1000");
    assert_eq!(d.message, "`retries` must be between 0 and 100, not 1000");

    let text = with("[alerts]\nwebhok = \"http://x/\"");
    let found = errors(&text);
    assert!(found[0].message.starts_with("unknown field `webhok`"), "{found:#?}");
    assert!(found[0].hint.as_deref().unwrap().starts_with("did you mean `webhook`?"), "{found:#?}");
}
