//! Every kind of mistake in a system file is reported with line, column, what is
//! wrong and what would be right.

use std::path::Path;

use rein_system::{Diagnostic, Mode, Policy, parse};

const EXAMPLE: &str = include_str!("../../../examples/phishing-warning/rein.toml");
/// A regression component, with a clamp rule and number features.
const TOASTER: &str = include_str!("../../../examples/smart-toaster/rein.toml");

fn errors(text: &str) -> Vec<Diagnostic> {
    match parse(text, Path::new("rein.toml")) {
        Ok(_) => panic!("expected diagnostics, the file was accepted"),
        Err(d) => d.0,
    }
}

/// The 1-based line and column of the first occurrence of `needle` in `text`.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in text"));
    let line = text[..offset].matches('\n').count() + 1;
    let column = offset - text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, column)
}

/// Replaces `from` in the example and returns the one diagnostic, checking its position.
fn one_error(from: &str, to: &str, at: &str) -> Diagnostic {
    assert!(EXAMPLE.contains(from), "`{from}` not in the example");
    let text = EXAMPLE.replacen(from, to, 1);
    let found = errors(&text);
    assert_eq!(found.len(), 1, "expected one diagnostic, got: {found:#?}");
    let d = found.into_iter().next().unwrap();
    let (line, column) = position_of(&text, at);
    assert_eq!((d.location.line, d.location.column), (line, column), "wrong place for {d}");
    assert_eq!(d.file, Path::new("rein.toml"));
    d
}

#[test]
fn the_example_is_valid_and_understood() {
    let system = parse(EXAMPLE, Path::new("examples/phishing-warning/rein.toml")).expect("valid");
    assert_eq!(system.name, "phishing-warning");
    let c = &system.components[0];
    assert_eq!(c.features.len(), 9);
    assert_eq!(c.positive, Some(1));
    assert_eq!(c.guardrails.len(), 4);
    assert_eq!(c.model.path, Path::new("examples/phishing-warning/model.onnx"));
    assert_eq!(c.model.name, "model", "the file's stem, when no name is given");
    assert!(c.label_names.is_empty());
    assert_eq!(c.display_name("phishing"), "phishing");
    assert!(matches!(&c.experience.policy, Policy::ExpectedValue(v) if v.len() == 4));
    assert_eq!(c.experience.caps[0].mode, Mode::Prompt);
    assert_eq!(c.experience.caps[0].per.as_secs(), 86_400);
}

#[test]
fn toml_syntax_error() {
    let text = EXAMPLE.replacen("name = \"phishing\"\ntask", "name = \"phishing\ntask", 1);
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    // toml finds the string unterminated where the line ends
    let (line, column) = position_of(&text, "\"phishing\ntask");
    assert_eq!((found[0].location.line, found[0].location.column), (line, column + "\"phishing".len()));
    assert!(found[0].message.contains("basic string"), "{}", found[0]);
}

#[test]
fn unknown_field_names_the_field() {
    let d = one_error("positive_label = ", "positive_lable = ", "positive_lable");
    assert!(d.message.contains("positive_lable"), "{d}");
    assert!(d.hint.is_some());
}

#[test]
fn wrong_value_type() {
    let d = one_error("timeout_ms = 50", "timeout_ms = \"50\"", "\"50\"");
    assert_eq!(d.message, "`timeout_ms` must be a whole number, not the string \"50\"");
    assert_eq!(d.hint.as_deref(), Some("write it without quotes: `timeout_ms = 50`"));
}

#[test]
fn unknown_task_suggests_the_right_one() {
    let d = one_error("task = \"binary\"", "task = \"binray\"", "\"binray\"");
    assert!(d.message.contains("binray"), "{d}");
    assert!(d.hint.unwrap().contains("did you mean `binary`"));
}

#[test]
fn unknown_feature_in_cel_condition() {
    let d = one_error("features.url_length > 2000", "features.url_lenght > 2000", ".url_lenght");
    assert!(d.message.contains("unknown feature `url_lenght`"), "{d}");
    assert!(d.hint.unwrap().contains("did you mean `features.url_length`"));
}

#[test]
fn cel_syntax_error_points_into_the_condition() {
    let d = one_error("features.url_length > 2000 ||", "features.url_length > > 2000 ||", "> 2000 ||");
    assert!(d.message.contains("not valid CEL"), "{d}");
}

#[test]
fn a_category_compared_with_a_number_is_a_positioned_type_error() {
    let d = one_error("features.url_length > 2000 ||", "features.tld_category > 2000 ||", "> 2000 ||");
    assert_eq!(d.message, "`>` cannot compare feature `tld_category`, a category (string), with `2000`, an int");
    assert_eq!(
        d.hint.as_deref(),
        Some(
            "`tld_category` is a category: compare it with a string, e.g. `features.tld_category == \"com\"`, or declare it as a number"
        )
    );
}

#[test]
fn every_part_of_a_condition_that_fails_for_every_request_is_reported() {
    let text = EXAMPLE
        .replacen("features.url_length > 2000", "features.url_length + 0.5 > 2000.0", 1)
        .replacen("features.domain_age_days > 3650", "size(features.domain_age_days) > 3", 1)
        .replacen("output.label == 'phishing'", "output.value > 0.5", 1);
    let found = errors(&text);
    assert_eq!(found.len(), 3, "{found:#?}");
    let place = |d: &Diagnostic| (d.location.line, d.location.column);
    assert_eq!(place(&found[0]), position_of(&text, "+ 0.5"));
    assert!(found[0].hint.as_deref().unwrap().contains("`double(features.url_length)`"), "{}", found[0]);
    assert_eq!(place(&found[1]), position_of(&text, "> 0.5 &&"));
    assert!(found[1].message.contains("`output.value`, which is null for a classifier"), "{}", found[1]);
    assert_eq!(place(&found[2]), position_of(&text, "size(features.domain_age_days)"));
}

#[test]
fn a_condition_that_is_not_true_or_false_is_refused() {
    let d = one_error("features.url_length > 2000 ||", "features.url_length ||", "features.url_length ||");
    assert_eq!(d.message, "`||` needs true or false, and this is feature `url_length`, an integer (int)");
}

#[test]
fn every_example_system_is_valid() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(examples).expect("the examples") {
        let dir = entry.expect("an example").path();
        for file in ["rein.toml", "rein-broken.toml"] {
            let path = dir.join(file);
            if let Ok(text) = std::fs::read_to_string(&path) {
                parse(&text, &path).unwrap_or_else(|d| panic!("{}:\n{d}", path.display()));
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "only {checked} example systems found");
}

#[test]
fn a_model_is_named_as_declared() {
    let text = EXAMPLE.replacen(
        "model = { path = \"model.onnx\"",
        "model = { path = \"model.onnx\", name = \"url-scorer\"",
        1,
    );
    let system = parse(&text, Path::new("rein.toml")).expect("valid");
    assert_eq!(system.components[0].model.name, "url-scorer");
    let d = one_error(
        "model = { path = \"model.onnx\"",
        "model = { path = \"model.onnx\", name = \"url scorer\"",
        "\"url scorer\"",
    );
    assert_eq!(d.message, "model name `url scorer` is not a valid name");
}

#[test]
fn labels_may_have_names_to_show_people() {
    let with =
        |names: &str| EXAMPLE.replacen("positive_label = ", &format!("label_names = {names}\npositive_label = "), 1);
    let text = with("{ legit = \"Legitimate page\", phishing = \"Phishing page\" }");
    let system = parse(&text, Path::new("rein.toml")).expect("valid");
    let c = &system.components[0];
    assert_eq!(c.display_name("phishing"), "Phishing page");
    assert_eq!(c.display_name("legit"), "Legitimate page");
    // the decision path keeps the labels themselves
    assert_eq!(c.labels, ["legit", "phishing"]);

    // only some labels named: the others are shown as themselves
    let system = parse(&with("{ phishing = \"Phishing page\" }"), Path::new("rein.toml")).expect("valid");
    assert_eq!(system.components[0].display_name("legit"), "legit");

    let text = with("{ legit = \"Legitimate\", phishng = \"Phishing\" }");
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].message, "`label_names` names `phishng`, which is not one of the labels");
    assert_eq!(found[0].hint.as_deref(), Some("did you mean `phishing`? labels: legit, phishing"));
    assert_eq!((found[0].location.line, found[0].location.column), position_of(&text, "phishng"));

    let text = with("{ legit = \"Page\", phishing = \"Page\" }");
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].message, "labels `legit` and `phishing` are both named \"Page\"");

    let text = with("{ legit = \"\" }");
    assert_eq!(errors(&text)[0].message, "the name of label `legit` is empty");
    let text = with("{ legit = 3 }");
    assert_eq!(errors(&text)[0].message, "`label_names.legit` must be a string, not the integer 3");
    let text = with("[\"a\"]");
    assert_eq!(errors(&text)[0].message, "`label_names` must be a table, not an array");

    let toaster = TOASTER.replacen("task = \"regression\"", "task = \"regression\"\nlabel_names = { a = \"b\" }", 1);
    let found = errors(&toaster);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].message, "a regression component has no labels to name");
}

#[test]
fn output_read_by_an_input_rule() {
    let d = one_error(
        "when = \"features.url_length > 2000",
        "when = \"output.score > 0.5 || features.url_length > 2000",
        "output.score > 0.5",
    );
    assert!(d.message.contains("cannot read `output`"), "{d}");
}

#[test]
fn threshold_outside_unit_interval() {
    let text = EXAMPLE.replacen(
        "policy = \"expected_value\"",
        "policy = \"thresholds\"\nthresholds = { automate = 1.5, prompt = 0.8 }",
        1,
    );
    let found = errors(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].message.contains("outside [0, 1]"), "{}", found[0]);
    assert!(found[1].message.contains("`values` is not used by the thresholds policy"), "{}", found[1]);
}

#[test]
fn threshold_outside_unit_interval_alone() {
    let start = EXAMPLE.find("[components.experience]").unwrap();
    let end = EXAMPLE.find("# Warnings lose").unwrap();
    let text = format!(
        "{}[components.experience]\npolicy = \"thresholds\"\nthresholds = {{ automate = 1.5, prompt = 0.8 }}\n\n{}",
        &EXAMPLE[..start],
        &EXAMPLE[end..]
    );
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    let (line, column) = position_of(&text, "1.5");
    assert_eq!((found[0].location.line, found[0].location.column), (line, column));
    assert!(found[0].message.contains("outside [0, 1]"), "{}", found[0]);
}

#[test]
fn thresholds_out_of_order() {
    let start = EXAMPLE.find("[components.experience]").unwrap();
    let end = EXAMPLE.find("# Warnings lose").unwrap();
    let text = format!(
        "{}[components.experience]\nthresholds = {{ automate = 0.5, prompt = 0.8 }}\n\n{}",
        &EXAMPLE[..start],
        &EXAMPLE[end..]
    );
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.contains("above the one for `automate`"), "{}", found[0]);
}

#[test]
fn override_with_a_label_the_component_does_not_have() {
    let d = one_error("output = \"legit\"\nmode = \"none\"", "output = \"safe\"\nmode = \"none\"", "\"safe\"");
    assert!(d.message.contains("not one of the component's labels"), "{d}");
    assert!(d.hint.unwrap().contains("legit, phishing"));
}

#[test]
fn positive_label_not_in_labels() {
    let d = one_error("positive_label = \"phishing\"", "positive_label = \"phish\"", "\"phish\"");
    assert!(d.message.contains("not one of the labels"), "{d}");
}

#[test]
fn binary_with_three_labels() {
    let d = one_error(
        "labels = [\"legit\", \"phishing\"]",
        "labels = [\"legit\", \"phishing\", \"spam\"]",
        "[\"legit\", \"phishing\", \"spam\"]",
    );
    assert!(d.message.contains("exactly 2 labels"), "{d}");
}

#[test]
fn bounds_reversed_and_default_out_of_bounds() {
    let text = EXAMPLE.replacen("min = 1\nmax = 4096", "min = 5000\nmax = 4096", 1).replacen(
        "max = 50\ndefault = 0",
        "max = 50\ndefault = 99",
        1,
    );
    let found = errors(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].message.contains("min 5000 above max 4096"), "{}", found[0]);
    assert!(found[1].message.contains("above the maximum 50"), "{}", found[1]);
    assert_eq!(found[1].location.line, position_of(&text, "default = 99").0);
}

#[test]
fn clamp_on_a_classifier_and_unknown_mode() {
    let text = EXAMPLE.replacen("action = \"flag\"", "action = \"clamp\"\nmax = 1.0", 1).replacen(
        "mode = \"none\"\n\n# Costs",
        "mode = \"silent\"\n\n# Costs",
        1,
    );
    let found = errors(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found.iter().any(|d| d.message.contains("only a regression output is numeric")));
    assert!(found.iter().any(|d| d.message.contains("unknown mode `silent`")));
}

#[test]
fn every_mistake_is_reported_not_only_the_first() {
    let text = EXAMPLE
        .replacen("task = \"binary\"", "task = \"binray\"", 1)
        .replacen("features.url_length > 2000", "features.nope > 2000", 1)
        .replacen("per = \"1d\"", "per = \"daily\"", 1);
    let found = errors(&text);
    assert_eq!(found.len(), 3, "{found:#?}");
    // in file order
    assert!(found.windows(2).all(|w| w[0].location.line <= w[1].location.line));
}

#[test]
fn duplicate_feature_and_category_without_categories() {
    let text = EXAMPLE.replacen("name = \"num_hyphens\"", "name = \"num_dots\"", 1).replacen(
        "categories = [\"com\", \"org\", \"net\", \"country\", \"new_gtld\", \"other\"]\n",
        "",
        1,
    );
    let found = errors(&text);
    assert!(found.iter().any(|d| d.message.contains("`num_dots` is declared twice")), "{found:#?}");
    assert!(found.iter().any(|d| d.message.contains("needs `categories`")), "{found:#?}");
}

#[test]
fn missing_system_table_and_components() {
    let found = errors("[server]\nmax_batch = 10\n");
    assert!(found.iter().any(|d| d.message.contains("`[system]` table is missing")));
    assert!(found.iter().any(|d| d.message.contains("declares no component")));
}

#[test]
fn display_is_file_line_column_message_hint() {
    let d = one_error("task = \"binary\"", "task = \"binray\"", "\"binray\"");
    let shown = d.to_string();
    assert!(shown.starts_with("rein.toml:"), "{shown}");
    assert!(shown.contains("hint:"), "{shown}");
}

#[test]
fn unreadable_file_is_a_diagnostic() {
    let err = rein_system::load(Path::new("/no/such/rein.toml")).unwrap_err();
    assert!(err.to_string().contains("cannot read the system file"));
}

#[test]
fn a_field_of_another_action_is_named() {
    let d = one_error(
        "action = \"escalate\"\nto = \"security-team\"",
        "action = \"escalate\"\nto = \"security-team\"\nmin = 3.0",
        "3.0",
    );
    assert!(d.message.contains("`min` does not apply to a `escalate` guardrail (`outside_training_range`)"), "{d}");
}

#[test]
fn a_request_timeout_shorter_than_the_model_and_commit_timeouts_is_refused() {
    // the model may take 50 ms and the commit 2 s: a 1 s request would be cut off first
    let text = format!("{EXAMPLE}\n[server]\nrequest_timeout_ms = 1000\n");
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    let d = &found[0];
    let (line, column) = position_of(&text, "1000\n");
    assert_eq!((d.location.line, d.location.column), (line, column), "{d}");
    assert!(d.message.contains("`phishing`") && d.message.contains("2000 ms"), "{d}");
    assert!(d.hint.as_deref().unwrap().contains("request_timeout_ms = 3050"), "{d}");
    // with telemetry off, only the model's time counts
    let off = format!("{EXAMPLE}\n[server]\nrequest_timeout_ms = 1000\n\n[telemetry]\nenabled = false\n");
    parse(&off, Path::new("rein.toml")).expect("1 s outlives a 50 ms model");
}

#[test]
fn a_store_size_bound_is_megabytes_and_positive() {
    let with = |value: &str| {
        EXAMPLE.replacen("[[components]]", &format!("[telemetry]\nmax_store_mb = {value}\n\n[[components]]"), 1)
    };
    let system = parse(&with("2048"), Path::new("rein.toml")).expect("valid");
    assert_eq!(system.telemetry.max_store_bytes, Some(2048 * 1024 * 1024));
    let text = with("0");
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.contains("`max_store_mb` must be between 1 and"), "{}", found[0]);
    let (line, column) = position_of(&text, "0\n\n[[components]]");
    assert_eq!((found[0].location.line, found[0].location.column), (line, column), "{}", found[0]);
}

#[test]
fn an_unknown_key_is_still_refused_and_suggests_the_known_one() {
    let d = one_error("positive_label = ", "positive_lable = ", "positive_lable");
    assert!(d.message.starts_with("unknown field `positive_lable`, expected one of"), "{d}");
    assert!(d.hint.as_deref().unwrap().starts_with("did you mean `positive_label`?"), "{d}");
}

/// Where `needle`, found once only in `text`, starts.
fn position_of_once(text: &str, needle: &str) -> (usize, usize) {
    assert_eq!(text.matches(needle).count(), 1, "`{needle}` is not found exactly once");
    position_of(text, needle)
}

#[test]
fn wrong_types_in_two_tables_and_an_unrelated_mistake_are_all_reported() {
    let text = format!(
        "{}\n[server]\nmax_batch = \"big\"\n",
        EXAMPLE
            .replacen(
                "values.prompt = { right = 15, wrong = -15 }",
                "values.prompt = { right = 15, wrong = \"a lot\" }",
                1
            )
            .replacen("task = \"binary\"", "task = \"binray\"", 1)
    );
    let found = errors(&text);
    let at = |d: &Diagnostic| (d.location.line, d.location.column);
    let summary: Vec<_> = found.iter().map(|d| (at(d), d.message.as_str())).collect();
    assert_eq!(
        summary,
        [
            (position_of_once(&text, "\"binray\""), "unknown task `binray`"),
            (position_of_once(&text, "\"a lot\""), "`values.prompt.wrong` must be a number, not the string \"a lot\""),
            (position_of_once(&text, "\"big\""), "`max_batch` must be a whole number, not the string \"big\""),
        ]
    );
}

/// Every key whose value has the wrong type is reported once, where the value is written,
/// naming the key, the type it wants and what it is instead; nothing else is reported.
#[test]
fn each_key_of_the_wrong_type_is_placed_and_named() {
    let top = |lines: &str| EXAMPLE.replacen("[system]", &format!("{lines}\n\n[system]"), 1);
    let end = |lines: &str| format!("{EXAMPLE}\n{lines}\n");
    let in_example = |from: &str, to: &str| {
        assert!(EXAMPLE.contains(from), "`{from}` not in the example");
        EXAMPLE.replacen(from, to, 1)
    };
    let in_toaster = |from: &str, to: &str| {
        assert!(TOASTER.contains(from), "`{from}` not in the toaster");
        TOASTER.replacen(from, to, 1)
    };
    let cases: Vec<(String, &str, &str)> = vec![
        // [system], [runtime], [server], [telemetry]
        (top("server = 5"), "5\n", "`server` must be a table, not the integer 5"),
        (top("[runtime]\nonnxruntime = 1.25"), "1.25", "`onnxruntime` must be a string, not the number 1.25"),
        (
            in_example("name = \"phishing-warning\"", "name = 1977"),
            "1977",
            "`name` must be a string, not the integer 1977",
        ),
        (
            in_example(
                "description = \"Warns browser users about phishing pages, as forcefully as the cost of a mistake allows.\"",
                "description = [\"warns\"]",
            ),
            "[\"warns\"]",
            "`description` must be a string, not an array",
        ),
        (
            end("[server]\nrequest_timeout_ms = true"),
            "true",
            "`request_timeout_ms` must be a whole number, not the boolean true",
        ),
        (end("[server]\nunknown_features = 0.5"), "0.5\n", "`unknown_features` must be a string, not the number 0.5"),
        (end("[telemetry]\nfsync = \"yes\""), "\"yes\"", "`fsync` must be true or false, not the string \"yes\""),
        (end("[telemetry]\nenabled = 1"), "enabled = 1", "`enabled` must be true or false, not the integer 1"),
        (end("[telemetry]\nretention_days = 31"), "31", "`retention_days` must be a table, not the integer 31"),
        (
            end("[telemetry]\nretention_days.outcomes = \"a month\""),
            "\"a month\"",
            "`retention_days.outcomes` must be a whole number, not the string \"a month\"",
        ),
        // a component, its labels and model
        (in_example("task = \"binary\"", "task = 12.5"), "12.5", "`task` must be a string, not the number 12.5"),
        (
            in_example("[\"legit\", \"phishing\"]", "\"legit\""),
            "labels = \"legit\"",
            "`labels` must be a list of strings, not the string \"legit\"",
        ),
        (
            in_example("[\"legit\", \"phishing\"]", "[\"legit\", 22]"),
            "22",
            "an entry of `labels` must be a string, not the integer 22",
        ),
        (
            in_example("positive_label = \"phishing\"", "positive_label = 1.5"),
            "1.5",
            "`positive_label` must be a string, not the number 1.5",
        ),
        (
            in_example("model = { path = \"model.onnx\", timeout_ms = 50 }", "model = \"model.onnx\""),
            "\"model.onnx\"",
            "`model` must be a table, not the string \"model.onnx\"",
        ),
        (
            in_example("timeout_ms = 50", "timeout_ms = 50, version = 2"),
            "2 }",
            "`version` must be a string, not the integer 2",
        ),
        (
            in_example("timeout_ms = 50", "timeout_ms = 50.5"),
            "50.5",
            "`timeout_ms` must be a whole number, not the number 50.5",
        ),
        // features
        (
            in_example("name = \"num_dots\"", "name = false"),
            "false\ntype",
            "`name` must be a string, not the boolean false",
        ),
        (in_example("type = \"boolean\"", "type = 9"), "9\n", "`type` must be a string, not the integer 9"),
        (
            in_example("telemetry = \"raw\"", "telemetry = [\"raw\"]"),
            "[\"raw\"]",
            "`telemetry` must be a string, not an array",
        ),
        (
            in_example("[\"com\", \"org\",", "[\"com\", 7,"),
            "7,",
            "an entry of `categories` must be a string, not the integer 7",
        ),
        (
            in_example("min = 1\nmax = 4096", "min = \"x\"\nmax = 4096"),
            "\"x\"",
            "`min` of integer feature `url_length` must be a whole number, not the string \"x\"",
        ),
        (
            in_toaster("min = 3.0\nmax = 60.0", "min = \"thin\"\nmax = 60.0"),
            "\"thin\"",
            "`min` of feature `thickness_mm` must be a finite number, not the string \"thin\"",
        ),
        (
            in_toaster("default = 3", "default = 3\nrequired = \"no\""),
            "\"no\"",
            "`required` must be true or false, not the string \"no\"",
        ),
        // guardrails
        (in_example("to = \"security-team\"", "to = 42"), "42", "`to` must be a string, not the integer 42"),
        (
            in_example("action = \"flag\"", "action = \"flag\"\non_error = 3.25"),
            "3.25",
            "`on_error` must be a string, not the number 3.25",
        ),
        (in_example("stage = \"output\"", "stage = 2"), "2\n", "`stage` must be a string, not the integer 2"),
        (
            in_example("when = \"output.label == 'phishing' && features.domain_age_days > 3650\"", "when = 3650"),
            "3650",
            "`when` must be a string, not the integer 3650",
        ),
        (
            in_example("message = \"a URL cannot have more dots and hyphens than characters\"", "message = 404"),
            "404",
            "`message` must be a string, not the integer 404",
        ),
        (
            in_toaster("min = 0.0\nmax = 240.0", "min = \"zero\"\nmax = 240.0"),
            "\"zero\"",
            "`min` must be a number, not the string \"zero\"",
        ),
        (
            in_toaster("output = 0.0\nmode = \"automate\"", "output = 0.0\nmode = 17"),
            "17",
            "`mode` must be a string, not the integer 17",
        ),
        // fallback and experience
        (
            in_example("mode = \"none\"\n\n# Costs", "mode = 99.5\n\n# Costs"),
            "99.5",
            "`mode` must be a string, not the number 99.5",
        ),
        (
            in_example("values.none = { right = -20, wrong = 0 }", "values.none = \"nothing\""),
            "\"nothing\"",
            "`values.none` must be a table, not the string \"nothing\"",
        ),
        (
            in_example("{ right = 2, wrong = -4 }", "{ right = \"2\", wrong = -4 }"),
            "\"2\"",
            "`values.annotate.right` must be a number, not the string \"2\"",
        ),
        (
            in_example("policy = \"expected_value\"", "policy = 0.25"),
            "0.25",
            "`policy` must be a string, not the number 0.25",
        ),
        (in_example("max = 3\nper", "max = \"3\"\nper"), "\"3\"", "`max` must be a whole number, not the string \"3\""),
        (in_example("per = \"1d\"", "per = 86400"), "86400", "`per` must be a string, not the integer 86400"),
        (
            in_example("mode = \"prompt\"\nmax = 3", "mode = [\"prompt\"]\nmax = 3"),
            "[\"prompt\"]",
            "`mode` must be a string, not an array",
        ),
    ];
    for (text, at, message) in &cases {
        let found = errors(text);
        assert_eq!(found.len(), 1, "for {message}, got: {found:#?}");
        let d = &found[0];
        assert_eq!(&d.message, message);
        // the value is written where `at` is, after its `= ` if it has one
        let (line, column) = position_of_once(text, at);
        let column = column + at.find("= ").map_or(0, |i| i + 2);
        assert_eq!((d.location.line, d.location.column), (line, column), "wrong place for {d}");
    }
}

#[test]
fn wrong_types_of_lists_and_tables_do_not_also_report_them_missing() {
    let system = "[system]\nname = \"x\"\n";
    let only = |text: &str, message: &str| {
        let found = errors(text);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].message, message);
    };
    only(&format!("components = 3\n{system}"), "`components` must be a list of tables, not the integer 3");
    only(&format!("components = [1]\n{system}"), "an entry of `components` must be a table, not the integer 1");
    let start = EXAMPLE.find("[system]").unwrap();
    let end = EXAMPLE.find("[[components]]").unwrap();
    only(
        &format!("{}system = \"x\"\n\n{}", &EXAMPLE[..start], &EXAMPLE[end..]),
        "`system` must be a table, not the string \"x\"",
    );
    let thresholds = |values: &str| {
        let start = EXAMPLE.find("[components.experience]").unwrap();
        let end = EXAMPLE.find("# Warnings lose").unwrap();
        format!("{}[components.experience]\nthresholds = {values}\n\n{}", &EXAMPLE[..start], &EXAMPLE[end..])
    };
    only(&thresholds("{ automate = \"high\" }"), "`thresholds.automate` must be a number, not the string \"high\"");
    only(&thresholds("0.5"), "`thresholds` must be a table, not the number 0.5");
    // and the rest of the experience is still checked
    let found = errors(&thresholds("0.5").replacen("per = \"1d\"", "per = \"daily\"", 1));
    let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages, ["`thresholds` must be a table, not the number 0.5", "`daily` is not a duration"]);
    let component = |features: &str| {
        format!(
            "{system}\n[[components]]\nname = \"c\"\ntask = \"regression\"\nmodel = {{ path = \"m.onnx\" }}\n{features}\n\n\
             [[components.guardrails]]\nname = \"g\"\nstage = \"input\"\nwhen = \"features.a > 1\"\naction = \"flag\"\n"
        )
    };
    // the names of the features are not known, so the condition's `features.a` is not reported
    only(&component("features = 3"), "`features` must be a list of tables, not the integer 3");
    only(
        &component("features = [{ name = \"a\", type = \"number\" }, \"b\"]"),
        "an entry of `features` must be a table, not the string \"b\"",
    );
    only(&component("features = [{ name = 1, type = \"number\" }]"), "`name` must be a string, not the integer 1");
}

#[test]
fn integers_are_accepted_where_a_number_is_wanted() {
    let toaster = TOASTER.replacen("min = 3.0\nmax = 60.0", "min = 3\nmax = 60", 1).replacen(
        "min = 0.0\nmax = 240.0",
        "min = 0\nmax = 240",
        1,
    );
    let system = parse(&toaster, Path::new("rein.toml")).expect("valid");
    let c = &system.components[0];
    assert_eq!(c.features[1].kind, rein_system::FeatureKind::Number { min: Some(3.0), max: Some(60.0) });
    let clamp = c.guardrails.iter().find(|g| g.name == "max_toasting_time").unwrap();
    assert_eq!(clamp.action, rein_system::Action::Clamp { min: Some(0.0), max: Some(240.0) });

    let start = EXAMPLE.find("[components.experience]").unwrap();
    let end = EXAMPLE.find("# Warnings lose").unwrap();
    let text = format!(
        "{}[components.experience]\nthresholds = {{ automate = 1, prompt = 0 }}\n\n{}",
        &EXAMPLE[..start],
        &EXAMPLE[end..]
    );
    let system = parse(&text, Path::new("rein.toml")).expect("valid");
    assert!(
        matches!(&system.components[0].experience.policy, Policy::Thresholds(t) if t == &[(Mode::Automate, 1.0), (Mode::Prompt, 0.0)])
    );
}

/// Settings the event log replaced are named with what took their place, never ignored.
#[test]
fn a_telemetry_setting_that_is_gone_says_what_replaced_it() {
    let d = one_error("[[components]]", "[telemetry]\nspill = true\n\n[[components]]", "true\n");
    assert!(d.message.contains("`spill` is no longer a setting"), "{d}");
    let d = one_error("[[components]]", "[telemetry]\nqueue_capacity = 10\n\n[[components]]", "10\n");
    assert!(d.message.contains("now `max_backlog`"), "{d}");
    assert!(d.hint.as_deref().unwrap_or_default().contains("rename it"), "{d}");
}

#[test]
fn the_admin_token_is_named_by_an_environment_variable_never_written_in_the_file() {
    let system = parse(EXAMPLE, Path::new("rein.toml")).unwrap();
    assert_eq!(system.server.admin_token_env, "REIN_ADMIN_TOKEN");
    assert_eq!(system.server.model_reads, rein_system::ModelReads::Open);
    let text = EXAMPLE.replacen(
        "[[components]]",
        "[server]\nadmin_token_env = \"OPS_TOKEN\"\nmodel_reads = \"admin\"\n\n[[components]]",
        1,
    );
    let system = parse(&text, Path::new("rein.toml")).unwrap();
    assert_eq!(system.server.admin_token_env, "OPS_TOKEN");
    assert_eq!(system.server.model_reads, rein_system::ModelReads::Admin);

    let d = one_error("[[components]]", "[server]\nadmin_token = \"hunter2\"\n\n[[components]]", "\"hunter2\"");
    assert!(d.message.contains("would put a secret in the system file"), "{d}");
    assert!(d.hint.as_deref().unwrap().contains("admin_token_env"), "{d}");
    let d = one_error("[[components]]", "[server]\nadmin_token_env = \"1-token\"\n\n[[components]]", "\"1-token\"");
    assert!(d.message.contains("`1-token` cannot be one"), "{d}");
    let d = one_error("[[components]]", "[server]\nmodel_reads = \"closed\"\n\n[[components]]", "\"closed\"");
    assert!(d.message.contains("model_reads") && d.hint.as_deref().unwrap_or(&d.message).contains("admin"), "{d}");
}
