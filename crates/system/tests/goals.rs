//! `[[goals]]` and `outcomes`: every example's goals parse into the graph it means, and
//! every mistake in a goal, its metric or the graph is reported where it is written.

use std::path::Path;
use std::time::Duration;

use rein_system::{
    Diagnostic, FeedbackKind, FeedbackSource, Goal, Layer, Measure, MetricKind, Mode, QualityMeasure, RatePer, System,
    Target, parse,
};

const PHISHING: &str = include_str!("../../../examples/phishing-warning/rein.toml");
const AUDIT: &str = include_str!("../../../examples/audit-risk/rein.toml");
const LEGAL: &str = include_str!("../../../examples/legal-triage/rein.toml");
const TOASTER: &str = include_str!("../../../examples/smart-toaster/rein.toml");
const TOASTER_BROKEN: &str = include_str!("../../../examples/smart-toaster/rein-broken.toml");

fn system(text: &str) -> System {
    parse(text, Path::new("rein.toml")).unwrap_or_else(|d| panic!("{d}"))
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match parse(text, Path::new("rein.toml")) {
        Ok(_) => panic!("expected diagnostics, the file was accepted"),
        Err(d) => d.0,
    }
}

/// The 1-based line and column where `needle`, found once only in `text`, starts.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    assert_eq!(text.matches(needle).count(), 1, "`{needle}` is not found exactly once");
    let offset = text.find(needle).unwrap();
    let line = text[..offset].matches('\n').count() + 1;
    let column = text[..offset].chars().rev().take_while(|c| *c != '\n').count() + 1;
    (line, column)
}

fn place(d: &Diagnostic) -> (usize, usize) {
    (d.location.line, d.location.column)
}

/// The phishing example with each `(from, to)` replaced once.
fn phishing(edits: &[(&str, &str)]) -> String {
    edits.iter().fold(PHISHING.to_string(), |text, (from, to)| {
        assert!(text.contains(from), "`{from}` not in the example");
        text.replacen(from, to, 1)
    })
}

/// The one diagnostic for `text`, checked to be where `at` is written (`at` found once).
fn one_error(text: &str, at: &str) -> Diagnostic {
    let found = errors(text);
    assert_eq!(found.len(), 1, "expected one diagnostic, got: {found:#?}");
    let d = found.into_iter().next().unwrap();
    assert_eq!(place(&d), position_of(text, at), "wrong place for {d}");
    d
}

/// A goal appended to the phishing example.
fn with_goal(lines: &str) -> String {
    format!("{PHISHING}\n[[goals]]\n{lines}\n")
}

/// The phishing example up to its goals.
fn without_goals() -> &'static str {
    &PHISHING[..PHISHING.find("# Goals, from the model up").unwrap()]
}

fn goal<'s>(system: &'s System, id: &str) -> &'s Goal {
    system.goal(id).unwrap_or_else(|| panic!("no goal `{id}`"))
}

fn kind<'s>(system: &'s System, id: &str) -> &'s MetricKind {
    match &goal(system, id).measure {
        Measure::Metric { metric, .. } => &metric.kind,
        Measure::NotMeasured { .. } => panic!("goal `{id}` is not measured"),
    }
}

// --- the examples ------------------------------------------------------------------------

/// Each example's goals form a tree from its model goals up, every layer present, every
/// link pointing to a higher layer, and the organizational goals at the top.
#[test]
fn every_example_has_a_goal_tree_from_the_model_up() {
    for (name, text) in [
        ("phishing", PHISHING),
        ("audit", AUDIT),
        ("legal", LEGAL),
        ("toaster", TOASTER),
        ("toaster-broken", TOASTER_BROKEN),
    ] {
        let s = system(text);
        for layer in Layer::ALL {
            assert!(s.goals.iter().any(|g| g.layer == layer), "{name}: no {} goal", layer.as_str());
        }
        for g in &s.goals {
            assert!(g.supports.len() <= 1, "{name}: `{}` supports {:?}: not a tree", g.id, g.supports);
            for up in &g.supports {
                assert!(s.goal(up).unwrap().layer > g.layer, "{name}: `{}` → `{up}`", g.id);
            }
            match g.layer {
                Layer::Organizational => assert!(g.supports.is_empty(), "{name}: `{}`", g.id),
                _ => assert_eq!(g.supports.len(), 1, "{name}: `{}` supports nothing", g.id),
            }
            // every goal reaches an organizational one
            let mut at = g;
            while let Some(up) = at.supports.first() {
                at = s.goal(up).unwrap();
            }
            assert_eq!(at.layer, Layer::Organizational, "{name}: `{}` leads to `{}`", g.id, at.id);
        }
        assert!(s.top_goals().iter().all(|g| g.layer == Layer::Organizational), "{name}");
        // every outcome a goal measures is declared
        let outcomes = s.outcomes.as_ref().unwrap_or_else(|| panic!("{name} declares no outcomes"));
        for g in &s.goals {
            if let Some((metric, _, _)) = g.measured()
                && let Some(o) = metric.kind.outcome()
            {
                assert!(outcomes.iter().any(|d| d == o), "{name}: `{o}`");
            }
        }
    }
}

#[test]
fn the_phishing_goals_parse_into_the_expected_graph() {
    let s = system(PHISHING);
    assert_eq!(
        s.outcomes.as_deref(),
        Some(&["left_page", "clicked_through_warning", "credentials_entered"].map(String::from)[..])
    );
    let graph: Vec<(&str, Layer, Vec<&str>)> =
        s.goals.iter().map(|g| (g.id.as_str(), g.layer, g.supports.iter().map(String::as_str).collect())).collect();
    assert_eq!(
        graph,
        [
            ("protect_users", Layer::Organizational, vec![]),
            ("few_credentials_entered", Layer::LeadingIndicator, vec!["protect_users"]),
            ("every_page_scored", Layer::System, vec!["few_credentials_entered"]),
            ("labels_beside_the_verdict", Layer::System, vec!["few_credentials_entered"]),
            ("verdict_before_the_page", Layer::System, vec!["protect_users"]),
            ("warnings_heeded", Layer::UserOutcome, vec!["every_page_scored"]),
            ("few_false_alarms", Layer::UserOutcome, vec!["every_page_scored"]),
            ("ranks_phishing_first", Layer::Model, vec!["warnings_heeded"]),
            ("catches_young_domains", Layer::Model, vec!["warnings_heeded"]),
            ("calibrated_scores", Layer::Model, vec!["few_false_alarms"]),
        ]
    );
    assert!(matches!(&goal(&s, "protect_users").measure, Measure::NotMeasured { note } if note.contains("surveys")));
    let supporters: Vec<&str> = s.supporters("warnings_heeded").map(|g| g.id.as_str()).collect();
    assert_eq!(supporters, ["ranks_phishing_first", "catches_young_domains"]);

    let (metric, target, window) = goal(&s, "warnings_heeded").measured().unwrap();
    assert_eq!(metric.kind, MetricKind::OutcomeRate { outcome: "left_page".into(), per: RatePer::Prediction });
    assert_eq!(metric.population.mode, Some(Mode::Prompt));
    assert_eq!(metric.population.component, None, "an outcome rate is over every component");
    assert_eq!(*target, Target::AtLeast(0.7));
    assert_eq!(window, Duration::from_secs(86_400));

    assert_eq!(
        *kind(&s, "few_credentials_entered"),
        MetricKind::OutcomeRate { outcome: "credentials_entered".into(), per: RatePer::Unit }
    );
    assert_eq!(*kind(&s, "every_page_scored"), MetricKind::FallbackRate);
    assert_eq!(*kind(&s, "verdict_before_the_page"), MetricKind::Latency { quantile: 0.99 });
    assert_eq!(
        *kind(&s, "few_false_alarms"),
        MetricKind::FeedbackRate { kind: Some(FeedbackKind::Incorrect), source: Some(FeedbackSource::User) }
    );
    // a binary component's positive label, when none is named
    assert_eq!(
        *kind(&s, "ranks_phishing_first"),
        MetricKind::Quality { measure: QualityMeasure::Auc, label: Some("phishing".into()), estimated: false }
    );
    let (metric, _, _) = goal(&s, "catches_young_domains").measured().unwrap();
    assert_eq!(metric.population.component.as_deref(), Some("phishing"), "a quality metric is per component");
    assert_eq!(metric.population.filter.as_ref().unwrap().source, "features.domain_age_days < 30");
    assert_eq!(
        metric.to_string(),
        "recall of label `phishing`, component `phishing`, where `features.domain_age_days < 30`"
    );
    assert_eq!(
        *kind(&s, "calibrated_scores"),
        MetricKind::Quality { measure: QualityMeasure::Ece, label: None, estimated: false }
    );
}

#[test]
fn the_other_examples_measure_what_their_worlds_report() {
    let audit = system(AUDIT);
    assert_eq!(*kind(&audit, "add_on_revenue"), MetricKind::OutcomeSum { outcome: "bought_audit_support".into() });
    assert!(matches!(goal(&audit, "retain_filers").measure, Measure::NotMeasured { .. }));
    assert_eq!(*kind(&audit, "offer_only_when_high"), MetricKind::ModeShare { mode: Mode::Prompt });
    assert_eq!(
        *kind(&audit, "ranks_risk_estimated"),
        MetricKind::Quality { measure: QualityMeasure::Auc, label: Some("audit".into()), estimated: true }
    );
    assert_eq!(
        *kind(&audit, "calibrated"),
        MetricKind::Quality { measure: QualityMeasure::Brier, label: Some("audit".into()), estimated: false }
    );

    let legal = system(LEGAL);
    let (metric, _, window) = goal(&legal, "hard_reach_lawyer").measured().unwrap();
    assert_eq!(metric.population.guardrail.as_deref(), Some("not_confident_escalate_to_lawyer"));
    assert_eq!(metric.population.component.as_deref(), Some("topic"), "a rule is of a component");
    assert_eq!(window, Duration::from_secs(86_400));
    // a multiclass accuracy over every label, on the messages answered alone
    let (metric, target, _) = goal(&legal, "accurate_when_alone").measured().unwrap();
    assert_eq!(metric.kind, MetricKind::Quality { measure: QualityMeasure::Accuracy, label: None, estimated: false });
    assert_eq!(metric.population.filter.as_ref().unwrap().source, "output.score >= 0.8");
    assert!(target.is_met(0.98) && !target.is_met(0.96));
    assert_eq!(legal.top_goals().len(), 2);

    let toaster = system(TOASTER);
    assert_eq!(
        *kind(&toaster, "accurate_time"),
        MetricKind::Quality { measure: QualityMeasure::Mae, label: None, estimated: false }
    );
    assert_eq!(
        *kind(&toaster, "no_long_times"),
        MetricKind::GuardrailRate { guardrail: Some("max_toasting_time".into()) }
    );
    assert_eq!(
        goal(&toaster, "no_long_times").location,
        rein_system::Location { line: position_of(TOASTER, "[[goals]]\nid = \"no_long_times\"").0, column: 1 }
    );
}

// --- the goal graph ----------------------------------------------------------------------

#[test]
fn an_unknown_layer_is_named_with_the_nearest() {
    let text = phishing(&[("layer = \"model\"", "layer = \"modle\"")]);
    let d = one_error(&text, "\"modle\"");
    assert_eq!(d.message, "unknown layer `modle`");
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean `model`? layer is one of: organizational, leading_indicator, system, user_outcome, model")
    );
}

#[test]
fn a_link_to_an_undeclared_goal_is_named_with_the_nearest() {
    let text = phishing(&[("supports = [\"few_false_alarms\"]", "supports = [\"few_false_alarm\"]")]);
    let d = one_error(&text, "\"few_false_alarm\"");
    assert_eq!(d.message, "goal `calibrated_scores` supports `few_false_alarm`, which is not a declared goal");
    assert!(d.hint.as_deref().unwrap().starts_with("did you mean `few_false_alarms`? goals: protect_users, "), "{d}");
}

#[test]
fn a_goal_supports_only_goals_of_a_higher_layer() {
    // a model goal supporting another model goal, and a system goal skipping down
    let text = phishing(&[
        ("supports = [\"few_false_alarms\"]", "supports = [\"ranks_phishing_first\"]"),
        (
            "supports = [\"protect_users\"]\n\n[[goals]]\nid = \"warnings",
            "supports = [\"warnings_heeded\"]\n\n[[goals]]\nid = \"warnings",
        ),
    ]);
    let found = errors(&text);
    let summary: Vec<_> = found.iter().map(|d| (place(d), d.message.as_str())).collect();
    assert_eq!(
        summary,
        [
            (
                position_of(&text, "\"warnings_heeded\"]\n\n[[goals]]\nid = \"warnings"),
                "goal `verdict_before_the_page` (system) supports `warnings_heeded` (user_outcome), which is not of a higher layer"
            ),
            (
                position_of(&text, "\"ranks_phishing_first\"]"),
                "goal `calibrated_scores` (model) supports `ranks_phishing_first` (model), which is not of a higher layer"
            ),
        ]
    );
    assert_eq!(
        found[0].hint.as_deref(),
        Some(
            "a goal supports goals of higher layers only: model < user_outcome < system < leading_indicator < organizational"
        )
    );
}

#[test]
fn a_cycle_is_named_at_a_link_that_points_back_down() {
    // the organizational goal made to support the leading indicator that supports it
    let text = phishing(&[(
        "note = \"Trust and market share",
        "supports = [\"few_credentials_entered\"]\nnote = \"Trust and market share",
    )]);
    let found = errors(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    let at = position_of(&text, "\"few_credentials_entered\"]\nnote");
    assert_eq!(place(&found[0]), at);
    assert_eq!(
        found[0].message,
        "goal `protect_users` (organizational) supports `few_credentials_entered` (leading_indicator), which is not of a higher layer"
    );
    assert_eq!(place(&found[1]), at);
    assert_eq!(
        found[1].message,
        "goals `protect_users` → `few_credentials_entered` → `protect_users` support one another in a cycle"
    );

    // a longer one, through three goals of one layer
    let text = with_goal(
        "id = \"a\"\nlayer = \"system\"\ndescription = \"a\"\nmeasured = false\nnote = \"n\"\nsupports = [\"b\"]\n\n\
         [[goals]]\nid = \"b\"\nlayer = \"system\"\ndescription = \"b\"\nmeasured = false\nnote = \"n\"\nsupports = [\"c\"]\n\n\
         [[goals]]\nid = \"c\"\nlayer = \"system\"\ndescription = \"c\"\nmeasured = false\nnote = \"n\"\nsupports = [\"a\"]",
    );
    let found = errors(&text);
    let cycle: Vec<_> = found.iter().filter(|d| d.message.contains("cycle")).collect();
    assert_eq!(cycle.len(), 1, "{found:#?}");
    assert_eq!(cycle[0].message, "goals `a` → `b` → `c` → `a` support one another in a cycle");
    assert_eq!(place(cycle[0]), position_of(&text, "\"b\"]"));
    assert_eq!(found.len(), 4, "three links within one layer, and the cycle: {found:#?}");
}

#[test]
fn a_model_goal_supports_a_goal_above_it() {
    let text = phishing(&[("window = \"7d\"\nsupports = [\"few_false_alarms\"]", "window = \"7d\"")]);
    let d = one_error(&text, "\"calibrated_scores\"");
    assert_eq!(d.message, "model goal `calibrated_scores` supports no goal");
    assert!(d.hint.as_deref().unwrap().contains("add `supports = [\"...\"]`"), "{d}");
    // an empty list is no better
    let text = phishing(&[("supports = [\"few_false_alarms\"]", "supports = []")]);
    assert_eq!(one_error(&text, "\"calibrated_scores\"").message, "model goal `calibrated_scores` supports no goal");
}

#[test]
fn a_goal_supporting_itself_or_one_twice_and_an_id_declared_twice() {
    let text = phishing(&[("supports = [\"few_false_alarms\"]", "supports = [\"calibrated_scores\"]")]);
    let d = one_error(&text, "\"calibrated_scores\"]");
    assert_eq!(d.message, "goal `calibrated_scores` supports itself");

    let text =
        phishing(&[("supports = [\"few_false_alarms\"]", "supports = [\"few_false_alarms\", \"few_false_alarms\"]")]);
    let d = one_error(&text, "\"few_false_alarms\"]");
    assert_eq!(d.message, "goal `calibrated_scores` lists `few_false_alarms` twice in `supports`");

    let text = phishing(&[("id = \"calibrated_scores\"", "id = \"ranks_phishing_first\"")]);
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].message, "goal `ranks_phishing_first` is declared twice");
    let second = text.rfind("\"ranks_phishing_first\"\nlayer").unwrap();
    assert_eq!(found[0].location.line, text[..second].matches('\n').count() + 1);

    let text = phishing(&[("id = \"calibrated_scores\"", "id = \"calibrated scores\"")]);
    let d = one_error(&text, "\"calibrated scores\"");
    assert_eq!(d.message, "goal id `calibrated scores` is not a valid name");
}

#[test]
fn a_goal_needs_an_id_a_layer_and_a_description() {
    let text = with_goal("measured = false\nnote = \"n\"");
    let found = errors(&text);
    let summary: Vec<_> = found.iter().map(|d| (place(d), d.message.as_str())).collect();
    let at = (PHISHING.lines().count() + 2, 1);
    assert_eq!(
        summary,
        [(at, "this goal has no `id`"), (at, "goal `?` has no `layer`"), (at, "goal `?` has no `description`")]
    );
    let text =
        phishing(&[("description = \"Scores are calibrated", "description = \" \"\nx = \"Scores are calibrated")]);
    assert!(errors(&text)[0].message.starts_with("unknown field `x`"));
    let text = phishing(&[(
        "description = \"Scores are calibrated probabilities: the expected-value policy weighs a block's cost by them.\"",
        "description = \" \"",
    )]);
    assert_eq!(one_error(&text, "\" \"").message, "the description of goal `calibrated_scores` is empty");
}

// --- measured or not ---------------------------------------------------------------------

#[test]
fn a_goal_has_a_metric_or_says_it_is_not_measured() {
    let text = phishing(&[("metric = \"ece\"\n", "")]);
    let d = one_error(&text, "[[goals]]\nid = \"calibrated_scores\"");
    assert_eq!(d.message, "goal `calibrated_scores` has no `metric`");
    assert!(d.hint.as_deref().unwrap().contains("`measured = false` and a `note`"), "{d}");

    // not measured: no note, and a metric's keys
    let text = phishing(&[(
        "measured = false\nnote = \"Trust and market share show in user surveys and usage reports, not in the browser's telemetry.\"",
        "measured = false\nwindow = \"1d\"",
    )]);
    let found = errors(&text);
    let summary: Vec<_> = found.iter().map(|d| (place(d), d.message.as_str())).collect();
    assert_eq!(
        summary,
        [
            (
                position_of(&text, "[[goals]]\nid = \"protect_users\""),
                "goal `protect_users` is not measured and has no `note`"
            ),
            (
                position_of(&text, "\"1d\"\n\n[[goals]]\nid = \"few_credentials"),
                "`window` does not apply to goal `protect_users`, which has `measured = false`"
            ),
        ]
    );

    // a note on a measured goal
    let text = phishing(&[("metric = \"ece\"", "metric = \"ece\"\nnote = \"calibration\"")]);
    let d = one_error(&text, "\"calibration\"");
    assert_eq!(d.message, "`note` is for goals with `measured = false`, and goal `calibrated_scores` is measured");

    // `measured = true` is the default, and may be written
    system(&phishing(&[("metric = \"ece\"", "measured = true\nmetric = \"ece\"")]));
}

#[test]
fn a_measured_goal_has_a_target_and_a_window() {
    let text = phishing(&[("target = { at_most = 0.05 }\nwindow = \"7d\"\n", "")]);
    let found = errors(&text);
    let at = position_of(&text, "[[goals]]\nid = \"calibrated_scores\"");
    let summary: Vec<_> = found.iter().map(|d| (place(d), d.message.as_str())).collect();
    assert_eq!(
        summary,
        [(at, "goal `calibrated_scores` has no `target`"), (at, "goal `calibrated_scores` has no `window`")]
    );

    let text = phishing(&[(
        "target = { at_most = 0.05 }\nwindow = \"7d\"",
        "target = { at_most = 0.05 }\nwindow = \"a week\"",
    )]);
    let d = one_error(&text, "\"a week\"");
    assert_eq!(d.message, "`a week` is not a duration");

    let text = phishing(&[("target = { at_most = 0.05 }\nwindow = \"7d\"", "target = {}\nwindow = \"7d\"")]);
    assert_eq!(one_error(&text, "{}").message, "a target needs `at_least`, `at_most` or both");

    let text = phishing(&[("target = { at_most = 0.05 }", "target = { at_least = 0.2, at_most = 0.05 }")]);
    assert_eq!(one_error(&text, "0.2,").message, "the target's `at_least` (0.2) is above its `at_most` (0.05)");

    // both: a band
    let s = system(&phishing(&[(
        "target = { at_most = 0.05 }\nwindow = \"7d\"",
        "target = { at_least = 0.0, at_most = 0.05 }\nwindow = \"7d\"",
    )]));
    assert_eq!(*goal(&s, "calibrated_scores").measured().unwrap().1, Target::Between(0.0, 0.05));
}

#[test]
fn a_target_a_metric_can_never_reach_is_refused() {
    // a share above 1, a quality measure of [0, 1] above 1, a latency below 0
    let text = phishing(&[
        ("target = { at_least = 0.7 }", "target = { at_least = 70.0 }"),
        ("target = { at_least = 0.95 }", "target = { at_least = 95 }"),
        ("target = { at_most = 50.0 }", "target = { at_most = -1 }"),
    ]);
    let found = errors(&text);
    let summary: Vec<_> = found.iter().map(|d| (place(d), d.message.as_str())).collect();
    assert_eq!(
        summary,
        [
            (position_of(&text, "-1 }"), "target -1 is outside what a latency can be: it is at least 0"),
            (position_of(&text, "70.0"), "target 70 is outside what a share can be: it is between 0 and 1"),
            (position_of(&text, "95 }"), "target 95 is outside what auc can be: it is between 0 and 1"),
        ]
    );
}

#[test]
fn a_window_longer_than_telemetry_keeps_its_events_is_refused() {
    let text = phishing(&[(
        "[[components]]",
        "[telemetry]\nretention_days = { predictions = 30, feedback = 3 }\n\n[[components]]",
    )]);
    let found = errors(&text);
    let summary: Vec<_> = found.iter().map(|d| d.message.as_str()).collect();
    // the 7-day quality and feedback goals read feedback, kept 3 days
    assert_eq!(summary.len(), 5, "{found:#?}");
    assert!(
        summary.iter().all(|m| m.starts_with("window `7d` is longer than telemetry keeps feedback")),
        "{summary:#?}"
    );
    assert_eq!(found[0].hint.as_deref(), Some("shorten the window to `3d` or less, or keep feedback longer"));
    assert_eq!(place(&found[0]), position_of(&text, "\"7d\"\nsupports = [\"few_credentials_entered\"]"));
    assert_eq!(
        place(&found[1]),
        position_of(&text, "\"7d\"\nsupports = [\"every_page_scored\"]\n\n[[goals]]\nid = \"ranks")
    );
}

// --- metrics -----------------------------------------------------------------------------

#[test]
fn an_unknown_metric_is_named_with_the_nearest() {
    let text = phishing(&[("metric = \"ece\"", "metric = \"ecc\"")]);
    let d = one_error(&text, "\"ecc\"");
    assert_eq!(d.message, "unknown metric `ecc`");
    assert!(d.hint.as_deref().unwrap().starts_with("did you mean `ece`? metric is one of: outcome_rate, "), "{d}");
}

#[test]
fn a_key_a_metric_does_not_take_is_named() {
    let text = phishing(&[("metric = \"ece\"", "metric = \"ece\"\nquantile = 0.5")]);
    let d = one_error(&text, "0.5\n");
    assert_eq!(d.message, "`quantile` does not apply to a `ece` metric (goal `calibrated_scores`)");
    let text = phishing(&[("metric = \"ece\"", "metric = \"ece\"\nlabel = \"phishing\"")]);
    let d = one_error(&text, "\"phishing\"\ntarget");
    assert_eq!(d.message, "`label` does not apply to a `ece` metric (goal `calibrated_scores`)");
    let text = with_goal(
        "id = \"x\"\nlayer = \"system\"\ndescription = \"x\"\nmetric = \"mode_share\"\nmode = \"annotate\"\nby_mode = \"annotate\"\ntarget = { at_most = 0.5 }\nwindow = \"1d\"",
    );
    let d = one_error(&text, "\"annotate\"\ntarget");
    assert_eq!(d.message, "`by_mode` does not apply to a `mode_share` metric (goal `x`)");
    assert_eq!(d.hint.as_deref(), Some("the share of a mode among the predictions of that mode is always 1"));
}

#[test]
fn an_outcome_is_one_the_system_declares() {
    let text = phishing(&[("outcome = \"left_page\"", "outcome = \"left_pag\"")]);
    let d = one_error(&text, "\"left_pag\"");
    assert_eq!(d.message, "outcome `left_pag` is not one the system declares in `outcomes`");
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean `left_page`? declared outcomes: left_page, clicked_through_warning, credentials_entered")
    );

    let text = phishing(&[("metric = \"outcome_rate\"\noutcome = \"left_page\"\n", "metric = \"outcome_rate\"\n")]);
    let d = one_error(&text, "[[goals]]\nid = \"warnings_heeded\"");
    assert_eq!(d.message, "goal `warnings_heeded`'s `outcome_rate` metric has no `outcome`");
    assert_eq!(
        d.hint.as_deref(),
        Some("add `outcome = \"...\"`, one of: left_page, clicked_through_warning, credentials_entered")
    );
}

#[test]
fn without_outcomes_declared_outcome_names_are_not_checked() {
    let text = phishing(&[
        ("outcomes = [\"left_page\", \"clicked_through_warning\", \"credentials_entered\"]\n", ""),
        ("outcome = \"left_page\"", "outcome = \"anything_the_client_sends\""),
    ]);
    let s = system(&text);
    assert_eq!(s.outcomes, None);
    assert_eq!(kind(&s, "warnings_heeded").outcome(), Some("anything_the_client_sends"));
    // but a name the outcome API refuses is never recorded
    let text = phishing(&[
        ("outcomes = [\"left_page\", \"clicked_through_warning\", \"credentials_entered\"]\n", ""),
        ("outcome = \"left_page\"", "outcome = \"Left-Page\""),
    ]);
    let d = one_error(&text, "\"Left-Page\"");
    assert_eq!(d.message, "outcome name `Left-Page` is not valid");
}

#[test]
fn the_outcomes_list_names_valid_outcomes_once() {
    let text = phishing(&[("\"credentials_entered\"]", "\"credentials_entered\", \"left_page\", \"Paid\"]")]);
    let found = errors(&text);
    let summary: Vec<_> = found.iter().map(|d| (place(d), d.message.as_str())).collect();
    assert_eq!(
        summary,
        [
            (position_of(&text, "\"left_page\", \"Paid\""), "outcome `left_page` is listed twice"),
            (position_of(&text, "\"Paid\""), "outcome name `Paid` is not valid"),
        ]
    );
    assert!(found[1].hint.as_deref().unwrap().starts_with("use 1 to 64 lower-case letters"));
}

#[test]
fn a_label_is_one_of_the_components() {
    let text = phishing(&[("\nlabel = \"phishing\"", "\nlabel = \"phishng\"")]);
    let d = one_error(&text, "\"phishng\"");
    assert_eq!(d.message, "`phishng` is not a label of component `phishing`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `phishing`? labels: legit, phishing"));
    let s = system(&phishing(&[("\nlabel = \"phishing\"", "\nlabel = \"legit\"")]));
    assert!(matches!(kind(&s, "catches_young_domains"), MetricKind::Quality { label: Some(l), .. } if l == "legit"));
}

#[test]
fn a_quality_metric_fits_the_components_task() {
    let text = phishing(&[("metric = \"ece\"", "metric = \"mae\"")]);
    let d = one_error(&text, "\"mae\"");
    assert_eq!(d.message, "`mae` measures a regression, and component `phishing` is a classifier");
    let text = TOASTER.replacen("metric = \"mae\"", "metric = \"auc\"", 1);
    let d = one_error(&text, "\"auc\"");
    assert_eq!(d.message, "`auc` measures a classifier, and component `toast` is a regression");
    assert_eq!(d.hint.as_deref(), Some("a regression's quality is `mae`, `rmse` or `bias`"));
}

#[test]
fn only_what_probabilities_can_stand_in_for_is_estimated() {
    let text = phishing(&[("metric = \"ece\"", "metric = \"ece\"\nestimated = true")]);
    let d = one_error(&text, "true\n");
    assert_eq!(
        d.message,
        "`ece` cannot be estimated without labels (goal `calibrated_scores`): the estimate takes the probabilities as \
         calibrated, which is what it measures: it would always find them perfect"
    );
    let text = TOASTER.replacen("metric = \"mae\"", "metric = \"mae\"\nestimated = true", 1);
    let d = one_error(&text, "true\n");
    assert!(d.message.contains("a regression gives no probability to estimate it from"), "{d}");
    let s = system(&phishing(&[("metric = \"auc\"", "metric = \"auc\"\nestimated = true")]));
    assert!(matches!(kind(&s, "ranks_phishing_first"), MetricKind::Quality { estimated: true, .. }));
}

#[test]
fn modes_are_checked_where_a_metric_names_one() {
    let text = phishing(&[("by_mode = \"prompt\"", "by_mode = \"promt\"")]);
    let d = one_error(&text, "\"promt\"");
    assert_eq!(d.message, "unknown mode `promt`");
    assert!(d.hint.as_deref().unwrap().starts_with("did you mean `prompt`?"), "{d}");
    let text = AUDIT.replacen("mode = \"prompt\"\ntarget", "mode = \"prmpt\"\ntarget", 1);
    let d = one_error(&text, "\"prmpt\"");
    assert_eq!(d.message, "unknown mode `prmpt`");
}

#[test]
fn a_guardrail_is_one_of_the_components() {
    let text = LEGAL.replacen(
        "by_guardrail = \"not_confident_escalate_to_lawyer\"",
        "by_guardrail = \"not_confident_escalate\"",
        1,
    );
    let d = one_error(&text, "\"not_confident_escalate\"");
    assert_eq!(d.message, "component `topic` has no guardrail `not_confident_escalate`");
    assert!(d.hint.as_deref().unwrap().starts_with("did you mean `not_confident_escalate_to_lawyer`?"), "{d}");
    let text = TOASTER.replacen("guardrail = \"max_toasting_time\"", "guardrail = \"max_toast_time\"", 1);
    let d = one_error(&text, "\"max_toast_time\"");
    assert_eq!(d.message, "component `toast` has no guardrail `max_toast_time`");
}

/// The phishing example with a second component, `phishing_v2`, beside the first (and
/// without its monitors, which would then each have to name one).
fn two_components(goal_edits: &[(&str, &str)]) -> String {
    let phishing = &PHISHING[..PHISHING.find("\n# Monitors").unwrap_or(PHISHING.len())];
    let start = phishing.find("[[components]]").unwrap();
    let end = phishing.find("# Goals, from the model up").unwrap();
    let second = phishing[start..end].replacen("name = \"phishing\"", "name = \"phishing_v2\"", 1);
    let text = format!("{}{second}{}", &phishing[..end], &phishing[end..]);
    goal_edits.iter().fold(text, |text, (from, to)| {
        assert!(text.contains(from), "`{from}` not in the text");
        text.replacen(from, to, 1)
    })
}

#[test]
fn a_metric_per_component_names_one_when_there_are_several() {
    let text = two_components(&[]);
    let found = errors(&text);
    let summary: Vec<_> = found.iter().map(|d| (place(d), d.message.as_str())).collect();
    assert_eq!(
        summary,
        [
            (
                position_of(&text, "\"auc\""),
                "goal `ranks_phishing_first`: `auc`, a quality metric, is per component, and the system has several"
            ),
            (
                position_of(&text, "\"recall\""),
                "goal `catches_young_domains`: `recall`, a quality metric, is per component, and the system has several"
            ),
            (
                position_of(&text, "features.domain_age_days < 30\""),
                "a filter that reads `features` is per component, and the system has several"
            ),
            (
                position_of(&text, "\"ece\""),
                "goal `calibrated_scores`: `ece`, a quality metric, is per component, and the system has several"
            ),
        ]
    );
    assert_eq!(found[0].hint.as_deref(), Some("name one with `component = \"...\"`: phishing, phishing_v2"));

    // named, each is valid; an outcome rate is over both
    let text = two_components(&[
        ("metric = \"auc\"", "metric = \"auc\"\ncomponent = \"phishing_v2\""),
        ("metric = \"recall\"", "metric = \"recall\"\ncomponent = \"phishing\""),
        ("metric = \"ece\"", "metric = \"ece\"\ncomponent = \"phishing\""),
    ]);
    let s = system(&text);
    let (metric, _, _) = goal(&s, "ranks_phishing_first").measured().unwrap();
    assert_eq!(metric.population.component.as_deref(), Some("phishing_v2"));
    let (metric, _, _) = goal(&s, "warnings_heeded").measured().unwrap();
    assert_eq!(metric.population.component, None);

    let text = phishing(&[("metric = \"ece\"", "metric = \"ece\"\ncomponent = \"phishng\"")]);
    let d = one_error(&text, "\"phishng\"");
    assert_eq!(d.message, "goal `calibrated_scores` names component `phishng`, which is not declared");
    assert_eq!(d.hint.as_deref(), Some("did you mean `phishing`? components: phishing"));
}

// --- filters -----------------------------------------------------------------------------

fn filtered(filter: &str) -> String {
    phishing(&[("filter = \"features.domain_age_days < 30\"", &format!("filter = \"{filter}\""))])
}

#[test]
fn a_filter_reads_what_a_prediction_records() {
    let s = system(&filtered(
        "mode == 'prompt' && !fallback && 'old_domain_flagged' in rules && variant == 'main' && \
         model.version != '' && output.score > 0.5 && features.url_length > 100",
    ));
    assert!(goal(&s, "catches_young_domains").measured().unwrap().0.population.filter.is_some());

    let cases = [
        ("features.url_lenght > 3", ".url_lenght", "unknown feature `url_lenght` in condition"),
        (
            "features.tld_category == 'com'",
            ".tld_category",
            "feature `tld_category` is recorded as a keyed hash (`telemetry = \"hash\"`): a filter sees `h:…`, never its value",
        ),
        (
            "context.domain == 'x'",
            "context",
            "a goal's filter cannot read `context`: a prediction's record does not keep it",
        ),
        ("modes == 'prompt'", "modes", "unknown variable `modes` in filter"),
        ("mode == 'promt'", "'promt'", "`promt` is not a mode, so `mode` is never it"),
        ("mode in ['prompt', 'automat']", "'automat'", "`automat` is not a mode, so `mode` is never it"),
        ("'old_domain' in rules", "'old_domain'", "no guardrail is named `old_domain`, so `rules` never holds it"),
        ("model.nme == 'x'", ".nme", "unknown field `nme` of `model` in filter"),
        ("output.scor > 0.5", ".scor", "unknown output field `scor` in condition"),
        (
            "features.num_dots > 'a'",
            "> 'a'",
            "`>` cannot compare feature `num_dots`, an integer (int), with `\"a\"`, a string",
        ),
        ("fallback > 1", "> 1", "`>` cannot compare a bool with `1`, an int"),
        (
            "features.num_dots",
            "features.num_dots\"",
            "the condition gives feature `num_dots`, an integer (int), not true or false",
        ),
        ("mode == ", "\"\ntarget = { at_least = 0.9 }", "condition is not valid CEL: Syntax error"),
    ];
    for (filter, at, message) in cases {
        let text = filtered(filter);
        let found = errors(&text);
        assert_eq!(found.len(), 1, "`{filter}`: {found:#?}");
        assert!(found[0].message.starts_with(message), "`{filter}`: {}", found[0]);
        let (line, column) = position_of(&text, &format!("filter = \"{filter}\""));
        let offset = text.find(&format!("filter = \"{filter}\"")).unwrap();
        let inside = text[offset..].find(at).unwrap();
        assert_eq!(place(&found[0]), (line, column + inside), "`{filter}`: {}", found[0]);
    }
    let d = &errors(&filtered("mode == 'promt'"))[0];
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean `prompt`? mode is one of: automate, prompt, annotate, none, escalate")
    );
    let d = &errors(&filtered("modes == 'prompt'"))[0];
    assert!(d.hint.as_deref().unwrap().starts_with("did you mean `mode`?"), "{d}");
}

#[test]
fn a_filter_may_not_read_a_feature_telemetry_drops() {
    let text = AUDIT.replacen("metric = \"brier\"", "metric = \"brier\"\nfilter = \"features.income > 100000.0\"", 1);
    let d = one_error(&text, ".income > 100000.0");
    assert_eq!(
        d.message,
        "feature `income` is not recorded (`telemetry = \"drop\"`), so no prediction a filter sees has it"
    );
}

// --- types -------------------------------------------------------------------------------

/// A value of the wrong type in a goal is reported like any other: where it is written,
/// naming the key, the type wanted and what it is, once, with nothing else.
#[test]
fn a_wrong_type_in_a_goal_is_placed_and_named() {
    let cases: Vec<(String, &str, &str)> = vec![
        (phishing(&[("layer = \"model\"", "layer = 5")]), "5\n", "`layer` must be a string, not the integer 5"),
        (
            phishing(&[("supports = [\"few_false_alarms\"]", "supports = \"protect\"")]),
            "\"protect\"",
            "`supports` must be a list of strings, not the string \"protect\"",
        ),
        (
            phishing(&[("supports = [\"few_false_alarms\"]", "supports = [\"few_false_alarms\", 3]")]),
            "3]",
            "an entry of `supports` must be a string, not the integer 3",
        ),
        (
            phishing(&[("target = { at_most = 0.05 }", "target = 0.05")]),
            "0.05\n",
            "`target` must be a table, not the number 0.05",
        ),
        (
            phishing(&[("target = { at_most = 0.05 }", "target = { at_most = \"low\" }")]),
            "\"low\"",
            "`target.at_most` must be a number, not the string \"low\"",
        ),
        (
            phishing(&[("window = \"1h\"\nsupports = [\"few", "window = 1\nsupports = [\"few")]),
            "1\nsupports",
            "`window` must be a string, not the integer 1",
        ),
        (
            phishing(&[("measured = false\nnote", "measured = \"no\"\nnote")]),
            "\"no\"",
            "`measured` must be true or false, not the string \"no\"",
        ),
        (
            phishing(&[("quantile = 0.99", "quantile = \"0.99\"")]),
            "\"0.99\"",
            "`quantile` must be a number, not the string \"0.99\"",
        ),
        (
            phishing(&[("metric = \"ece\"", "metric = [\"ece\"]")]),
            "[\"ece\"]",
            "`metric` must be a string, not an array",
        ),
        (phishing(&[("id = \"calibrated_scores\"", "id = 7")]), "7\n", "`id` must be a string, not the integer 7"),
        (
            phishing(&[("filter = \"features.domain_age_days < 30\"", "filter = true")]),
            "true\n",
            "`filter` must be a string, not the boolean true",
        ),
        (
            phishing(&[("outcomes = [", "outcomes = [1, ")]),
            "1, ",
            "an entry of `outcomes` must be a string, not the integer 1",
        ),
        (
            format!("goals = 3\n{}", without_goals()),
            "3\n# A browser",
            "`goals` must be a list of tables, not the integer 3",
        ),
    ];
    for (text, at, message) in cases {
        let found = match parse(&text, Path::new("rein.toml")) {
            Ok(_) => panic!("{message}: accepted"),
            Err(d) => d.0,
        };
        assert_eq!(found.len(), 1, "{message}: {found:#?}");
        assert_eq!(found[0].message, message);
        assert_eq!(place(&found[0]), position_of(&text, at), "{message}");
    }
    let d = &errors(&phishing(&[("quantile = 0.99", "quantile = \"0.99\"")]))[0];
    assert_eq!(d.hint.as_deref(), Some("write it without quotes: `quantile = 0.99`"));
}

#[test]
fn the_old_goals_table_says_what_took_its_place() {
    let text = format!("{}[goals]\norganizational = [\"keep users safe\"]\n", without_goals());
    let d = one_error(&text, "[goals]");
    assert_eq!(d.message, "`[goals]` is now a list of `[[goals]]` tables, one a goal");
    assert!(d.hint.as_deref().unwrap().contains("docs/goals.md"), "{d}");
}

#[test]
fn an_unknown_key_in_a_goal_suggests_the_known_one() {
    let text = phishing(&[("supports = [\"few_false_alarms\"]", "suports = [\"few_false_alarms\"]")]);
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.starts_with("unknown field `suports`"), "{}", found[0]);
    assert!(found[0].hint.as_deref().unwrap().starts_with("did you mean `supports`?"), "{}", found[0]);
}

#[test]
fn a_system_without_goals_has_none() {
    let s = system(without_goals());
    assert!(s.goals.is_empty() && s.top_goals().is_empty());
}

#[test]
fn every_kind_of_metric_is_read() {
    let goal_of = |id: &str, metric: &str| {
        format!(
            "[[goals]]\nid = \"{id}\"\nlayer = \"user_outcome\"\ndescription = \"d\"\n{metric}\n\
             target = {{ at_least = 0.0 }}\nwindow = \"1d\"\nsupports = [\"protect_users\"]\n"
        )
    };
    let goals = [
        ("mean", "metric = \"outcome_mean\"\noutcome = \"left_page\""),
        ("units", "metric = \"active_units\"\nby_mode = \"annotate\""),
        ("rules", "metric = \"guardrail_rate\""),
        ("feedback", "metric = \"feedback_rate\""),
        ("f1", "metric = \"f1\"\nby_guardrail = \"old_domain_flagged\""),
        ("precision", "metric = \"precision\"\nlabel = \"legit\"\nestimated = true"),
    ];
    let text = goals.iter().fold(format!("{PHISHING}\n"), |text, (id, metric)| text + "\n" + &goal_of(id, metric));
    let s = system(&text);
    assert_eq!(*kind(&s, "mean"), MetricKind::OutcomeMean { outcome: "left_page".into() });
    assert_eq!(*kind(&s, "units"), MetricKind::ActiveUnits);
    assert_eq!(goal(&s, "units").measured().unwrap().0.population.mode, Some(Mode::Annotate));
    assert_eq!(*kind(&s, "rules"), MetricKind::GuardrailRate { guardrail: None });
    assert_eq!(*kind(&s, "feedback"), MetricKind::FeedbackRate { kind: None, source: None });
    let (metric, _, _) = goal(&s, "f1").measured().unwrap();
    assert_eq!(metric.population.guardrail.as_deref(), Some("old_domain_flagged"));
    assert_eq!(metric.to_string(), "f1 of label `phishing`, component `phishing`, where `old_domain_flagged` acted");
    assert_eq!(
        *kind(&s, "precision"),
        MetricKind::Quality { measure: QualityMeasure::Precision, label: Some("legit".into()), estimated: true }
    );
}
