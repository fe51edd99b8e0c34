//! `[components.traffic]`: a plan reads into what it means, and each mistake in it is
//! reported where it is written, with what would be right.

use std::path::Path;

use rein_system::traffic::Target;
use rein_system::{Diagnostic, parse};

const PHISHING: &str = include_str!("../../../examples/phishing-warning/rein.toml");

/// The phishing example with `plan` as its component's traffic table.
fn with_plan(plan: &str) -> String {
    PHISHING.replacen("[[components.features]]", &format!("[components.traffic]\n{plan}\n\n[[components.features]]"), 1)
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match parse(text, Path::new("rein.toml")) {
        Ok(_) => panic!("expected diagnostics, the file was accepted"),
        Err(d) => d.0,
    }
}

fn position_of(text: &str, needle: &str) -> (usize, usize) {
    assert_eq!(text.matches(needle).count(), 1, "`{needle}` is not found exactly once");
    let offset = text.find(needle).unwrap();
    let line = text[..offset].matches('\n').count() + 1;
    let column = text[..offset].chars().rev().take_while(|c| *c != '\n').count() + 1;
    (line, column)
}

#[test]
fn a_plan_reads_into_its_arms_holdout_and_shadow() {
    let text = with_plan(
        r#"experiment = "warn-v2"
salt = "2026-12"
split = [{ variant = "control", alias = "champion", weight = 50 },
         { variant = "treatment", version = "sha256:abc", weight = 50 }]
holdout = { share = 0.05 }
shadow = { alias = "challenger", max_in_flight = 8 }"#,
    );
    let system = parse(&text, Path::new("rein.toml")).unwrap_or_else(|d| panic!("{d}"));
    let declared = &system.traffic["phishing"];
    let plan = &declared.plan;
    assert_eq!((plan.experiment.as_str(), plan.salt.as_str()), ("warn-v2", "2026-12"));
    let arms: Vec<_> = plan.arms().iter().map(|a| (a.variant.clone(), a.weight)).collect();
    assert_eq!(arms, [("control".to_string(), 50.0), ("treatment".to_string(), 50.0)]);
    assert_eq!(plan.split[1].target(), Some(Target::Version("sha256:abc")));
    assert_eq!(plan.holdout.as_ref().unwrap().share, 0.05);
    let shadow = plan.shadow.as_ref().unwrap();
    assert_eq!((shadow.target(), shadow.max_in_flight), (Some(Target::Alias("challenger")), 8));
    assert_eq!(declared.location.line, position_of(&text, "[components.traffic]").0);
}

#[test]
fn each_mistake_is_placed_at_its_field_with_a_hint() {
    let text = with_plan(
        r#"experiment = "warn-v2"
split = [{ variant = "control", alias = "champion", weight = 50 },
         { variant = "treatment", alias = "challenger", weight = -3 }]
holdout = { share = 0.625 }"#,
    );
    let found = errors(&text);
    let at = |needle: &str| {
        let place = position_of(&text, needle);
        found
            .iter()
            .find(|d| (d.location.line, d.location.column) == place)
            .unwrap_or_else(|| panic!("nothing reported at `{needle}` {place:?}: {found:#?}"))
    };
    let weight = at("-3");
    assert!(weight.message.contains("split[1].weight") && weight.message.contains("positive"), "{weight}");
    assert!(weight.hint.as_deref().unwrap().contains("relative"));
    let share = at("0.625");
    assert!(share.message.contains("(0, 0.5]"), "{share}");
    assert_eq!(found.len(), 2, "{found:#?}");
}

#[test]
fn a_missing_experiment_and_a_wrong_type_are_named() {
    let text = with_plan(r#"split = "half""#);
    let found = errors(&text);
    assert!(found.iter().any(|d| d.message.contains("no `experiment`")), "{found:#?}");
    assert!(found.iter().any(|d| d.message.contains("`split`") && d.location.line == position_of(&text, "\"half\"").0));
}

#[test]
fn an_analysis_reads_with_its_defaults_and_its_mistakes_are_placed() {
    let text = with_plan(
        r#"experiment = "warn-v2"
canary = { alias = "challenger", steps = [10, 50, 100] }
analysis = { window = "6h", primary = "few_credentials_entered", deadline = "3d" }"#,
    );
    let system = parse(&text, Path::new("rein.toml")).unwrap_or_else(|d| panic!("{d}"));
    let analysis = system.traffic["phishing"].plan.analysis.clone().unwrap();
    assert_eq!((analysis.window_ms(), analysis.deadline_ms()), (Some(6 * 3_600_000), Some(3 * 86_400_000)));
    assert_eq!((analysis.min_predictions, analysis.max_error_rate, analysis.promote), (200, 0.05, true));

    let text = with_plan(
        r#"experiment = "warn-v2"
canary = { alias = "challenger", steps = [10, 100] }
analysis = { window = "6 hours", primary = "fewer_thefts", guardrails = ["every_page_scored"], max_error_rate = 1.5 }"#,
    );
    let found = errors(&text);
    let at = |needle: &str| {
        let place = position_of(&text, needle);
        found
            .iter()
            .find(|d| (d.location.line, d.location.column) == place)
            .unwrap_or_else(|| panic!("nothing reported at `{needle}` {place:?}: {found:#?}"))
    };
    let goal = at("\"fewer_thefts\"");
    assert!(goal.message.contains("goal `fewer_thefts`, which is not declared"), "{goal}");
    assert!(goal.hint.as_deref().unwrap().contains("few_credentials_entered"), "the goals are listed: {goal}");
    assert!(at("\"6 hours\"").message.contains("analysis.window"));
    assert!(at("1.5").message.contains("analysis.max_error_rate"));

    // a split the controller cannot judge: three arms
    let text = with_plan(
        r#"experiment = "abc"
split = [{ variant = "a", alias = "champion", weight = 1 }, { variant = "b", alias = "challenger", weight = 1 },
         { variant = "c", version = "v3", weight = 1 }]
analysis = { window = "1d", primary = "few_credentials_entered" }"#,
    );
    let found = errors(&text);
    assert!(
        found.iter().any(|d| d.message.contains("the controller judges a canary, or a split of two arms")),
        "{found:#?}"
    );
}
