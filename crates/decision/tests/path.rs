//! The decision path on the phishing example and on a regression system:
//! schema, guardrails, fallback and experience, as a product relies on them.

use std::path::Path;

use rein_decision::{DecisionPath, ModelError, ModelOutput, Reason, Refusal};
use rein_system::{Mode, UnknownFeatures};
use serde_json::{Map, Value, json};

const EXAMPLE: &str = include_str!("../../../examples/phishing-warning/rein.toml");

fn phishing() -> DecisionPath {
    let system = rein_system::parse(EXAMPLE, Path::new("rein.toml")).expect("example is valid");
    DecisionPath::new(system.components.into_iter().next().unwrap(), 1000)
}

fn features(overrides: Value) -> Map<String, Value> {
    let mut base = json!({
        "url_length": 80, "num_dots": 3, "num_hyphens": 1, "has_ip_host": false, "uses_https": true,
        "domain_age_days": 400, "num_subdomains": 1, "suspicious_words": 0, "tld_category": "com"
    });
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base.as_object().unwrap().clone()
}

fn class(p_phishing: f64) -> Option<Result<ModelOutput, ModelError>> {
    let label = if p_phishing >= 0.5 { "phishing" } else { "legit" };
    Some(Ok(ModelOutput::Class { label: label.into(), probabilities: vec![1.0 - p_phishing, p_phishing] }))
}

#[test]
fn the_mode_follows_the_expected_value_of_the_stated_costs() {
    let path = phishing();
    for (p, mode) in [(0.05, Mode::None), (0.3, Mode::Annotate), (0.8, Mode::Prompt), (0.99, Mode::Automate)] {
        let prepared = path.prepare(&features(json!({})), &Value::Null, UnknownFeatures::Reject).unwrap();
        assert!(prepared.needs_model());
        let outcome = path.finish(prepared, class(p), &Value::Null, None, 0).unwrap();
        assert_eq!(outcome.decision.mode, mode, "p = {p}");
        assert!(matches!(outcome.decision.reason, Reason::ExpectedValue { .. }));
        assert_eq!(outcome.output.score, Some(p));
    }
}

#[test]
fn an_allow_listed_domain_is_never_warned_about_and_the_model_is_not_called() {
    let path = phishing();
    let context = json!({"domain": "bank.example.org"});
    let prepared = path.prepare(&features(json!({})), &context, UnknownFeatures::Reject).unwrap();
    assert!(!prepared.needs_model());
    let outcome = path.finish(prepared, None, &context, Some("u1"), 0).unwrap();
    assert_eq!(outcome.output.label.as_deref(), Some("legit"));
    assert_eq!(outcome.decision.mode, Mode::None);
    assert_eq!(outcome.guardrails[0].rule, "never_warn_allow_listed");
    assert!(outcome.raw.is_none());
}

#[test]
fn out_of_training_range_escalates_to_a_human() {
    let path = phishing();
    let prepared = path.prepare(&features(json!({"url_length": 2500})), &Value::Null, UnknownFeatures::Reject).unwrap();
    let outcome = path.finish(prepared, class(0.99), &Value::Null, None, 0).unwrap();
    assert_eq!(outcome.decision.mode, Mode::Escalate);
    assert_eq!(outcome.guardrails[0].to.as_deref(), Some("security-team"));
}

#[test]
fn an_impossible_feature_vector_is_rejected_naming_the_rule() {
    let path = phishing();
    let err = path
        .prepare(
            &features(json!({"url_length": 5, "num_dots": 4, "num_hyphens": 4})),
            &Value::Null,
            UnknownFeatures::Reject,
        )
        .err()
        .unwrap();
    assert!(matches!(&err, Refusal::Rejected { rule, .. } if rule == "impossible_url"), "{err:?}");
}

#[test]
fn every_offending_field_is_listed() {
    let path = phishing();
    let bad = features(json!({
        "url_length": 99999, "num_dots": "three", "has_ip_host": 1, "tld_category": "xyz",
        "num_hyphens": 2.5, "uses_https": null, "colour": "red"
    }));
    let Err(Refusal::Schema { errors, .. }) = path.prepare(&bad, &Value::Null, UnknownFeatures::Reject) else {
        panic!("expected schema errors")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["url_length", "num_dots", "num_hyphens", "has_ip_host", "uses_https", "tld_category", "colour"]
    );
    assert!(errors[0].problem.contains("above the maximum 4096"), "{:?}", errors[0]);
    assert!(errors[1].problem.contains("is a string, expected an integer"), "{:?}", errors[1]);
    // `features` leaves out a feature given as null
    assert_eq!(errors[4].problem, "is missing, expected true or false");
    assert!(errors[5].problem.contains("one of: com, org"), "{:?}", errors[5]);
    // ignoring unknown features is a choice of the system file
    let mut ok = features(json!({}));
    ok.insert("colour".into(), json!("red"));
    assert!(path.prepare(&ok, &Value::Null, UnknownFeatures::Ignore).is_ok());
}

#[test]
fn a_required_feature_left_out_is_missing_and_one_sent_as_null_is_null() {
    let path = phishing();
    let mut given = features(json!({}));
    given.remove("num_dots");
    given.insert("domain_age_days".into(), Value::Null);
    let Err(Refusal::Schema { errors, .. }) = path.prepare(&given, &Value::Null, UnknownFeatures::Reject) else {
        panic!("expected schema errors")
    };
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(
        (errors[0].field.as_str(), errors[0].problem.as_str()),
        ("num_dots", "is missing, expected an integer in [0, 100]")
    );
    assert_eq!(
        (errors[1].field.as_str(), errors[1].problem.as_str()),
        ("domain_age_days", "is null, expected an integer in [0, 20000]")
    );
}

#[test]
fn a_missing_optional_feature_takes_its_default() {
    let path = phishing();
    let prepared =
        path.prepare(&features(json!({"suspicious_words": null})), &Value::Null, UnknownFeatures::Reject).unwrap();
    assert_eq!(prepared.values[7], rein_system::FeatureValue::Integer(0));
}

#[test]
fn a_failing_model_gives_the_declared_fallback() {
    let path = phishing();
    let prepared = path.prepare(&features(json!({})), &Value::Null, UnknownFeatures::Reject).unwrap();
    let outcome = path.finish(prepared, Some(Err(ModelError::Timeout(50))), &Value::Null, None, 0).unwrap();
    assert_eq!(outcome.output.label.as_deref(), Some("legit"));
    assert_eq!(outcome.decision.mode, Mode::None);
    assert!(matches!(&outcome.decision.reason, Reason::Fallback { error } if error.contains("50 ms")));
    assert!(outcome.fallback.is_some());
}

#[test]
fn a_nan_probability_is_a_model_error_and_takes_the_fallback() {
    let path = phishing();
    let prepared = path.prepare(&features(json!({})), &Value::Null, UnknownFeatures::Reject).unwrap();
    let nan = Some(Ok(ModelOutput::Class { label: "phishing".into(), probabilities: vec![0.1, f64::NAN] }));
    let outcome = path.finish(prepared, nan, &Value::Null, Some("u1"), 0).unwrap();
    // without the check, every expected value is NaN and the policy picks automate
    assert_eq!(outcome.decision.mode, Mode::None);
    assert_eq!(outcome.output.label.as_deref(), Some("legit"));
    assert!(outcome.raw.is_none());
    let error = outcome.fallback.as_deref().unwrap();
    assert!(error.contains("probability of label `phishing` is NaN"), "{error}");
    assert!(matches!(&outcome.decision.reason, Reason::Fallback { error } if error.contains("NaN")));
}

#[test]
fn an_old_domain_flagged_as_phishing_is_recorded() {
    let path = phishing();
    let prepared =
        path.prepare(&features(json!({"domain_age_days": 5000})), &Value::Null, UnknownFeatures::Reject).unwrap();
    let outcome = path.finish(prepared, class(0.9), &Value::Null, None, 0).unwrap();
    assert_eq!(outcome.guardrails.len(), 1);
    assert_eq!(outcome.guardrails[0].action, "flag");
    assert_eq!(outcome.decision.mode, Mode::Prompt);
}

#[test]
fn a_user_is_prompted_at_most_three_times_a_day() {
    let path = phishing();
    let mut modes = Vec::new();
    for i in 0..5 {
        let prepared = path.prepare(&features(json!({})), &Value::Null, UnknownFeatures::Reject).unwrap();
        let outcome = path.finish(prepared, class(0.8), &Value::Null, Some("user-42"), 1_000 * i).unwrap();
        modes.push(outcome.decision.mode);
        if i == 3 {
            assert_eq!(outcome.decision.capped[0].from, Mode::Prompt);
        }
    }
    assert_eq!(modes, [Mode::Prompt, Mode::Prompt, Mode::Prompt, Mode::Annotate, Mode::Annotate]);
}

#[test]
fn a_withdrawn_decision_does_not_spend_the_cap() {
    let path = phishing();
    let decide = |t| {
        let prepared = path.prepare(&features(json!({})), &Value::Null, UnknownFeatures::Reject).unwrap();
        path.finish(prepared, class(0.8), &Value::Null, Some("user-42"), t).unwrap()
    };
    assert_eq!(decide(0).decision.mode, Mode::Prompt);
    assert_eq!(decide(1).decision.mode, Mode::Prompt);
    let third = decide(2);
    assert_eq!(third.decision.mode, Mode::Prompt);
    // the server could not record the third prompt, so the user never saw it
    path.withdraw(Some("user-42"), &third);
    assert_eq!(decide(3).decision.mode, Mode::Prompt);
    let capped = decide(4);
    assert_eq!(capped.decision.mode, Mode::Annotate);
    // nothing was counted for a capped decision: withdrawing it frees nothing
    path.withdraw(Some("user-42"), &capped);
    assert_eq!(decide(5).decision.mode, Mode::Annotate);
}

const TOASTER: &str = r#"
[system]
name = "toaster"

[[components]]
name = "toast-time"
task = "regression"
model = { path = "toaster.onnx" }

[[components.features]]
name = "bread_thickness_mm"
type = "number"
min = 1
max = 60

[[components.features]]
name = "chamber_temp_c"
type = "number"

[[components.guardrails]]
name = "max_toasting_time"
stage = "output"
when = "true"
action = "clamp"
min = 0.0
max = 240.0

[[components.guardrails]]
name = "too_hot_shut_down"
stage = "output"
when = "features.chamber_temp_c > 250.0"
action = "override"
output = 0
mode = "automate"

[components.experience]
policy = "fixed"
mode = "automate"
"#;

#[test]
fn regression_outputs_are_clamped_and_overridden_whatever_the_model_says() {
    let system = rein_system::parse(TOASTER, Path::new("rein.toml")).unwrap();
    let path = DecisionPath::new(system.components.into_iter().next().unwrap(), 10);
    let f = json!({"bread_thickness_mm": 20.0, "chamber_temp_c": 120.0});
    let prepared = path.prepare(f.as_object().unwrap(), &Value::Null, UnknownFeatures::Reject).unwrap();
    let outcome = path.finish(prepared, Some(Ok(ModelOutput::Value(900.0))), &Value::Null, None, 0).unwrap();
    assert_eq!(outcome.output.value, Some(240.0));
    assert_eq!(outcome.raw.as_ref().unwrap().value, Some(900.0));
    assert_eq!(outcome.guardrails[0].before, Some(json!(900.0)));
    assert_eq!(outcome.guardrails[0].after, Some(json!(240.0)));

    let f = json!({"bread_thickness_mm": 20.0, "chamber_temp_c": 300.0});
    let prepared = path.prepare(f.as_object().unwrap(), &Value::Null, UnknownFeatures::Reject).unwrap();
    let outcome = path.finish(prepared, Some(Ok(ModelOutput::Value(100.0))), &Value::Null, None, 0).unwrap();
    assert_eq!(outcome.output.value, Some(0.0));
    assert!(matches!(&outcome.decision.reason, Reason::Guardrail { rule, .. } if rule == "too_hot_shut_down"));
}

/// The example with a rule whose condition errors when the request sends no `domain` in its
/// context, and `extra` added to that rule (e.g. an `on_error`).
fn with_failing_rule(action: &str, extra: &str) -> DecisionPath {
    let failing = "when = \"context.domain in";
    let text = EXAMPLE.replacen("when = \"has(context.domain) && context.domain in", failing, 1);
    let text = match action {
        "override" => text,
        other => {
            let start = text.find(failing).unwrap();
            let end = start + text[start..].find("\n\n").unwrap();
            let rule = &text[start..end];
            let line = rule.lines().next().unwrap();
            let replaced = match other {
                "reject" => format!("{line}\naction = \"reject\"\nmessage = \"no\""),
                "escalate" => format!("{line}\naction = \"escalate\"\nto = \"analyst\""),
                _ => format!("{line}\naction = \"{other}\""),
            };
            text.replacen(rule, &replaced, 1)
        }
    };
    let text = text.replacen(failing, &format!("{extra}\n{failing}"), 1);
    let system = rein_system::parse(&text, Path::new("rein.toml")).unwrap_or_else(|d| panic!("{d}"));
    DecisionPath::new(system.components.into_iter().next().unwrap(), 10)
}

#[test]
fn a_reject_rule_whose_condition_fails_denies_the_request() {
    let path = with_failing_rule("reject", "");
    let Err(refusal) = path.prepare(&features(json!({})), &json!({}), UnknownFeatures::Reject) else {
        panic!("a reject rule that cannot be evaluated must refuse, not let the request through")
    };
    let Refusal::GuardrailFailed { rule, error } = &refusal else { panic!("{refusal:?}") };
    assert_eq!(rule, "never_warn_allow_listed");
    assert!(error.contains("domain"), "the error names what was missing: {error}");
    assert!(refusal.to_string().contains("denies on error"), "{refusal}");
    // the same rule with its context present decides as written
    let context = json!({"domain": "elsewhere.example"});
    assert!(path.prepare(&features(json!({})), &context, UnknownFeatures::Reject).is_ok());
}

#[test]
fn an_escalate_or_override_rule_whose_condition_fails_escalates() {
    for (action, to) in [("escalate", "analyst"), ("override", "human")] {
        let path = with_failing_rule(action, "");
        let prepared = path.prepare(&features(json!({})), &json!({}), UnknownFeatures::Reject).unwrap();
        // an override that cannot be evaluated is not applied: which way is safe is not known
        assert!(prepared.needs_model(), "{action}");
        let outcome = path.finish(prepared, class(0.1), &json!({}), None, 0).unwrap();
        assert_eq!(outcome.decision.mode, Mode::Escalate, "{action}");
        let taken = &outcome.guardrails[0];
        assert!(taken.error.is_some(), "{taken:?}");
        assert_eq!((taken.on_error, taken.to.as_deref()), (Some("escalate"), Some(to)), "{action}");
        assert_eq!(outcome.output.label.as_deref(), Some("legit"), "the model's output stands: {action}");
    }
}

#[test]
fn on_error_is_declared_per_rule() {
    // ignore: recorded with its error, and the request goes on as if the rule did not hold
    let path = with_failing_rule("reject", "on_error = \"ignore\"");
    let prepared = path.prepare(&features(json!({})), &json!({}), UnknownFeatures::Reject).unwrap();
    let outcome = path.finish(prepared, class(0.1), &json!({}), None, 0).unwrap();
    assert_eq!(outcome.guardrails[0].on_error, Some("ignore"));
    assert!(outcome.guardrails[0].error.is_some());
    assert_eq!(outcome.decision.mode, Mode::None);

    // apply: the override acts as though its condition held
    let path = with_failing_rule("override", "on_error = \"apply\"");
    let prepared = path.prepare(&features(json!({})), &json!({}), UnknownFeatures::Reject).unwrap();
    assert!(!prepared.needs_model());
    let outcome = path.finish(prepared, None, &json!({}), None, 0).unwrap();
    assert_eq!(outcome.guardrails[0].on_error, Some("apply"));

    // deny on a flag rule: a failing flag can be made to refuse
    let path = with_failing_rule("flag", "on_error = \"deny\"");
    let refused = path.prepare(&features(json!({})), &json!({}), UnknownFeatures::Reject);
    assert!(matches!(refused, Err(Refusal::GuardrailFailed { .. })));

    // a flag's default is to record and go on
    let path = with_failing_rule("flag", "");
    let prepared = path.prepare(&features(json!({})), &json!({}), UnknownFeatures::Reject).unwrap();
    let outcome = path.finish(prepared, class(0.1), &json!({}), None, 0).unwrap();
    assert_eq!(outcome.guardrails[0].on_error, Some("ignore"));
}

#[test]
fn a_misspelt_on_error_is_a_positioned_mistake() {
    let text = EXAMPLE.replacen("when = \"has(context.domain)", "on_error = \"deni\"\nwhen = \"has(context.domain)", 1);
    let err = rein_system::parse(&text, Path::new("rein.toml")).unwrap_err().to_string();
    assert!(err.contains("did you mean `deny`"), "{err}");
    assert!(err.contains("rein.toml:"), "{err}");
}

#[test]
fn the_outcome_serialises_for_the_api() {
    let path = phishing();
    let prepared = path.prepare(&features(json!({})), &Value::Null, UnknownFeatures::Reject).unwrap();
    let outcome = path.finish(prepared, class(0.8), &Value::Null, None, 0).unwrap();
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(json["decision"]["mode"], "prompt");
    assert_eq!(json["decision"]["reason"]["kind"], "expected_value");
    assert!(json["decision"]["reason"]["values"]["automate"].is_number());
    assert!((json["output"]["probabilities"]["phishing"].as_f64().unwrap() - 0.8).abs() < 1e-12);
}

#[test]
fn an_infinite_regression_value_takes_the_fallback_or_refuses_without_one() {
    let f = json!({"bread_thickness_mm": 20.0, "chamber_temp_c": 120.0});
    let with_fallback = format!("{TOASTER}\n[components.fallback]\noutput = 90.0\nmode = \"prompt\"\n");
    for (text, has_fallback) in [(with_fallback.as_str(), true), (TOASTER, false)] {
        let system = rein_system::parse(text, Path::new("rein.toml")).unwrap();
        let path = DecisionPath::new(system.components.into_iter().next().unwrap(), 10);
        let prepared = path.prepare(f.as_object().unwrap(), &Value::Null, UnknownFeatures::Reject).unwrap();
        let result = path.finish(prepared, Some(Ok(ModelOutput::Value(f64::INFINITY))), &Value::Null, None, 0);
        if has_fallback {
            // without the check, the clamp turns inf into 240 s and the toaster runs at full time
            let outcome = result.unwrap();
            assert_eq!(outcome.output.value, Some(90.0));
            assert_eq!(outcome.decision.mode, Mode::Prompt);
            let error = outcome.fallback.as_deref().unwrap();
            assert!(error.contains("regression value is inf"), "{error}");
        } else {
            let Err(Refusal::ModelUnavailable { error: ModelError::Output(error), .. }) = result else {
                panic!("expected ModelUnavailable, got {result:?}")
            };
            assert!(error.contains("regression value is inf"), "{error}");
        }
    }
}

#[test]
fn output_rules_see_every_field_of_the_output() {
    // a flag per field, so each condition is checked on its own
    let extra = r#"
[[components.guardrails]]
name = "probability_map"
stage = "output"
when = "output.probabilities['phishing'] > 0.9 && output.probabilities['legit'] < 0.1"
action = "flag"

[[components.guardrails]]
name = "label_and_score"
stage = "output"
when = "output.label == 'phishing' && output.score > 0.9"
action = "flag"

[[components.guardrails]]
name = "no_value_for_a_classifier"
stage = "output"
when = "output.value == null"
action = "flag"
"#;
    let text = EXAMPLE.replacen("[components.fallback]", &format!("{extra}\n[components.fallback]"), 1);
    let system = rein_system::parse(&text, Path::new("rein.toml")).unwrap_or_else(|d| panic!("{d}"));
    let path = DecisionPath::new(system.components.into_iter().next().unwrap(), 1000);
    let fired = |p: f64| {
        let prepared = path.prepare(&features(json!({})), &Value::Null, UnknownFeatures::Reject).unwrap();
        let outcome = path.finish(prepared, class(p), &Value::Null, None, 0).unwrap();
        outcome.guardrails.iter().filter(|a| a.error.is_none()).map(|a| a.rule.clone()).collect::<Vec<_>>()
    };
    let high = fired(0.95);
    for rule in ["probability_map", "label_and_score", "no_value_for_a_classifier"] {
        assert!(high.contains(&rule.to_string()), "{rule} did not fire: {high:?}");
    }
    assert_eq!(fired(0.5), ["no_value_for_a_classifier"]);
}

/// Features read straight into the schema's positions are validated exactly as the same
/// JSON read into a map: the same values, the same errors in the same order, the last of a
/// name given twice, unknown names once and in name order; and anything but an object is
/// refused in the words a map would use.
#[test]
fn features_read_for_the_schema_agree_with_a_map() {
    use rein_decision::schema::{GivenFeatures, validate};
    let component = phishing().component().clone();
    let texts = [
        r#"{"url_length": 80, "num_dots": 3, "num_hyphens": 1, "has_ip_host": false, "uses_https": true,
            "domain_age_days": 400, "num_subdomains": 1, "suspicious_words": 0, "tld_category": "com"}"#,
        r#"{}"#,
        r#"{"url_length": 99999, "num_dots": "three", "has_ip_host": 1, "tld_category": "xyz", "num_hyphens": 2.5,
            "uses_https": null, "colour": "red", "zeta": [1, {"a": 2}], "alpha": null}"#,
        r#"{"url_length": 1, "url_length": 2000, "colour": 1, "colour": 2, "suspicious_words": null}"#,
        r#"{"url_l\u0065ngth": 12, "tld_c\u0061tegory": "org", "\u00e9t\u00e9": true, "num_dots": 1e2}"#,
    ];
    for text in texts {
        let map: Map<String, Value> = serde_json::from_str(text).unwrap();
        let given = GivenFeatures::read(&component, &mut serde_json::Deserializer::from_str(text)).unwrap();
        for unknown in [UnknownFeatures::Reject, UnknownFeatures::Ignore] {
            assert_eq!(validate(&component, &given, unknown), validate(&component, &map, unknown), "{text}");
        }
    }
    for text in [r#""url_length""#, "[1, 2]", "3", "null", r#"{"url_length": }"#] {
        let want = serde_json::from_str::<Map<String, Value>>(text).unwrap_err().to_string();
        let got = GivenFeatures::read(&component, &mut serde_json::Deserializer::from_str(text)).unwrap_err();
        assert_eq!(got.to_string(), want, "{text}");
    }
}
