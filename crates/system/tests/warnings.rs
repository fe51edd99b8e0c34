//! Warnings about a system's design: each rule fires where its risk is declared, says why in
//! its hint, and stays silent on a design that answers it.

use std::path::Path;

use rein_system::{Diagnostic, Mode, expected_value_ranges, parse, warnings};

const PHISHING: &str = include_str!("../../../examples/phishing-warning/rein.toml");
const AUDIT: &str = include_str!("../../../examples/audit-risk/rein.toml");
const LEGAL: &str = include_str!("../../../examples/legal-triage/rein.toml");
const TOASTER: &str = include_str!("../../../examples/smart-toaster/rein.toml");

fn warned(text: &str) -> Vec<Diagnostic> {
    let system = parse(text, Path::new("rein.toml")).unwrap_or_else(|d| panic!("{d}"));
    let found = warnings(&system);
    for d in &found {
        assert!(d.message.starts_with("warning: "), "{d}");
        assert_eq!(d.file, Path::new("rein.toml"));
        assert!(d.hint.as_deref().is_some_and(|h| h.len() > 80), "every warning says why: {d}");
    }
    found
}

/// `text` with each `(from, to)` replaced once, each `from` found.
fn edit(text: &str, edits: &[(&str, &str)]) -> String {
    edits.iter().fold(text.to_string(), |text, (from, to)| {
        assert!(text.contains(from), "`{from}` not in the text");
        text.replacen(from, to, 1)
    })
}

/// The 1-based line and column where `needle`, found once only in `text`, starts, plus
/// `skip` characters.
fn at(text: &str, needle: &str, skip: usize) -> (usize, usize) {
    assert_eq!(text.matches(needle).count(), 1, "`{needle}` is not found exactly once");
    let offset = text.find(needle).unwrap() + skip;
    let line = text[..offset].matches('\n').count() + 1;
    let column = text[..offset].chars().rev().take_while(|c| *c != '\n').count() + 1;
    (line, column)
}

fn summary(found: &[Diagnostic]) -> Vec<((usize, usize), &str)> {
    found.iter().map(|d| ((d.location.line, d.location.column), d.message.as_str())).collect()
}

const PHISHING_AUTOMATES: &str = "its expected-value policy chooses automate for p from 0.949";

#[test]
fn the_phishing_example_automates_with_no_output_rule_that_bounds_it() {
    let found = warned(PHISHING);
    assert_eq!(
        summary(&found),
        [(
            at(PHISHING, "{ right = 25, wrong = -200 }", 0),
            "warning: component `phishing` automates (its expected-value policy chooses automate for p from 0.949) \
             and no output guardrail bounds it (`old_domain_flagged` only flags)"
        )]
    );
    assert!(found[0].hint.as_deref().unwrap().starts_with("nothing outside the model bounds what it does on its own"));
    // an output rule that acts answers it: a flag only records
    let escalates = edit(PHISHING, &[("action = \"flag\"", "action = \"escalate\"")]);
    assert!(warned(&escalates).is_empty(), "{:#?}", warned(&escalates));
}

#[test]
fn automating_with_labels_only_from_users_is_a_feedback_loop() {
    // the takedown feed's goal is what keeps the phishing example out of it
    let users_only = edit(PHISHING, &[("source = \"system\"", "source = \"user\"")]);
    let found = warned(&users_only);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(
        summary(&found)[1],
        (
            at(&users_only, "{ right = 25, wrong = -200 }", 0),
            format!(
                "warning: component `phishing` automates ({PHISHING_AUTOMATES}), and no goal measures feedback from a \
                 source other than its users: the labels it is measured and retrained on come only from what it decided"
            )
            .as_str()
        )
    );
    let hint = found[1].hint.as_deref().unwrap();
    assert!(hint.contains("predictive policing") && hint.contains("holdouts"), "{hint}");
    // experts count as well as a system of record
    let experts = edit(PHISHING, &[("source = \"system\"", "source = \"expert\"")]);
    assert_eq!(warned(&experts).len(), 1);

    // thresholds: placed at the automate threshold
    let found = warned(LEGAL);
    assert_eq!(
        summary(&found),
        [(
            at(LEGAL, "0.8, annotate = 0.6 }", 0),
            "warning: component `topic` automates (its threshold for automate is 0.8), and no goal measures feedback \
             from a source other than its users: the labels it is measured and retrained on come only from what it \
             decided"
        )]
    );
    // a fixed policy: at its mode, not at the override rule's `mode = "automate"`
    let found = warned(TOASTER);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        (found[0].location.line, found[0].location.column),
        at(TOASTER, "policy = \"fixed\"\nmode = \"automate\"", "policy = \"fixed\"\nmode = ".len())
    );
    assert!(found[0].message.contains("(its policy is always `automate`)"), "{}", found[0]);
}

#[test]
fn a_prompt_without_a_frequency_cap_is_warned_of() {
    let uncapped = edit(AUDIT, &[("[[components.experience.caps]]\nmode = \"prompt\"\nmax = 2\nper = \"1d\"\n", "")]);
    assert_eq!(
        summary(&warned(&uncapped)),
        [(
            at(&uncapped, "0.6, annotate = 0.0 }", 0),
            "warning: component `risk` prompts (its threshold for prompt is 0.6) with no frequency cap on prompt"
        )]
    );
    assert!(warned(AUDIT).is_empty(), "{:#?}", warned(AUDIT));

    // a cap on another mode does not count; placed at `values.prompt`
    let capped_elsewhere = edit(PHISHING, &[("mode = \"prompt\"\nmax = 3", "mode = \"annotate\"\nmax = 3")]);
    let found = warned(&capped_elsewhere);
    assert_eq!(
        summary(&found)[1],
        (
            at(&capped_elsewhere, "{ right = 15, wrong = -15 }", 0),
            "warning: component `phishing` prompts (its expected-value policy chooses prompt for p from 0.458 to \
             0.949) with no frequency cap on prompt"
        )
    );
    assert!(found[1].hint.as_deref().unwrap().starts_with("users learn to ignore prompts that come too often"));

    // a cap on automate turns automations into prompts: at the experience table
    let automate_capped = edit(
        TOASTER,
        &[(
            "mode = \"automate\"\n\n",
            "mode = \"automate\"\n\n[[components.experience.caps]]\nmode = \"automate\"\nmax = 20\nper = \"1h\"\n\n",
        )],
    );
    let found = warned(&automate_capped);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!((found[0].location.line, found[0].location.column), at(&automate_capped, "[components.experience]", 0));
    assert_eq!(
        found[0].message,
        "warning: component `toast` prompts (its cap on automate turns the automations past 20 per 1h into prompts) \
         with no frequency cap on prompt"
    );
}

#[test]
fn a_goal_that_serves_nothing_or_a_user_outcome_unmeasured_is_warned_of() {
    let unlinked = edit(
        PHISHING,
        &[(
            "target = { at_most = 50.0 } # milliseconds\nwindow = \"1h\"\nsupports = [\"protect_users\"]\n",
            "target = { at_most = 50.0 } # milliseconds\nwindow = \"1h\"\n",
        )],
    );
    let found = warned(&unlinked);
    assert_eq!(
        summary(&found)[1],
        (
            at(&unlinked, "[[goals]]\nid = \"verdict_before_the_page\"", 0),
            "warning: goal `verdict_before_the_page` (system) supports no goal"
        )
    );
    assert!(found[1].hint.as_deref().unwrap().contains("model < user_outcome < system"), "{}", found[1]);

    let unmeasured = format!(
        "{PHISHING}\n[[goals]]\nid = \"feel_safe\"\nlayer = \"user_outcome\"\ndescription = \"Users feel safe.\"\n\
         measured = false\nnote = \"From user studies.\"\nsupports = [\"every_page_scored\"]\n"
    );
    let found = warned(&unmeasured);
    assert_eq!(
        summary(&found)[1],
        (at(&unmeasured, "[[goals]]\nid = \"feel_safe\"", 0), "warning: user_outcome goal `feel_safe` is not measured")
    );
    // both at once, and in file order
    let both = edit(&unmeasured, &[("studies.\"\nsupports = [\"every_page_scored\"]\n", "studies.\"\n")]);
    let messages: Vec<String> = warned(&both).into_iter().skip(1).map(|d| d.message).collect();
    assert_eq!(
        messages,
        [
            "warning: goal `feel_safe` (user_outcome) supports no goal",
            "warning: user_outcome goal `feel_safe` is not measured"
        ]
    );
}

/// The ranges the warnings read are the ones `rein check` prints from `rein_decision`
/// (held to each other by a test of `rein-cli`, which sees both).
#[test]
fn expected_value_ranges_are_where_each_mode_wins() {
    let system = parse(PHISHING, Path::new("rein.toml")).unwrap();
    let rein_system::Policy::ExpectedValue(values) = &system.components[0].experience.policy else { panic!() };
    let ranges = expected_value_ranges(values);
    let modes: Vec<Mode> = ranges.iter().map(|r| r.0).collect();
    assert_eq!(modes, [Mode::None, Mode::Annotate, Mode::Prompt, Mode::Automate]);
    assert!((ranges[1].1 - 4.0 / 26.0).abs() < 1e-12);
    assert!((ranges[3].1 - 185.0 / 195.0).abs() < 1e-12);
}
