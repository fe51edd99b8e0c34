//! `rein report` on a demo's store: one self-contained page holding the goal tree and the
//! drift against a reference, well-formed, with no request over the network, small, and
//! rendered by headless Chromium without a console error.

use std::path::Path;
use std::process::Command;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");

fn rein(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rein")).args(args).env_remove("RUST_LOG").output().expect("rein runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "rein {args:?}: {stderr}");
    stdout.into_owned()
}

/// Chromium, where the machine has it; scripts/test.sh installs it and then requires it.
fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()));
    if found.is_none() {
        assert!(
            std::env::var_os("REIN_REQUIRE_CHROMIUM").is_none(),
            "REIN_REQUIRE_CHROMIUM is set and no chromium runs"
        );
        eprintln!("SKIPPED the Chromium check: no chromium here (scripts/test.sh installs it)");
    }
    found
}

#[test]
fn the_report_holds_the_goal_tree_and_the_drift_and_renders_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let system = Path::new(EXAMPLES).join("phishing-warning/rein.toml");
    let system = system.to_str().unwrap();
    rein(&["demo", "phishing-warning", "--scale", "0.05", "--data-dir", data.to_str().unwrap()]);

    // a reference from the store's own records: its first day, profiled where it is recorded
    let profile = dir.path().join("phishing.profile.json");
    rein(&[
        "profile",
        system,
        "phishing",
        "--data-dir",
        data.to_str().unwrap(),
        "--since",
        "2026-01-01T00:00:00Z",
        "--until",
        "2026-01-02T00:00:00Z",
        "-o",
        profile.to_str().unwrap(),
    ]);
    let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&profile).unwrap()).unwrap();
    assert!(reference["source"]["rows"].as_u64().unwrap() > 100, "{}", reference["source"]);

    let page = dir.path().join("report.html");
    let said = rein(&[
        "report",
        system,
        "--data-dir",
        data.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
        "--reference",
        &format!("phishing={}", profile.display()),
    ]);
    assert!(said.contains("drift of phishing"), "{said}");
    let html = std::fs::read_to_string(&page).unwrap();

    // well-formed, self-contained, aggregates only
    let options = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    let doc =
        roxmltree::Document::parse_with_options(&html, options).unwrap_or_else(|e| panic!("not well-formed: {e}"));
    for node in doc.descendants().filter(|n| n.is_element()) {
        assert_ne!(node.tag_name().name(), "script", "no script");
        for attribute in ["src", "href"] {
            if let Some(v) = node.attribute(attribute) {
                assert!(v.starts_with('#'), "{attribute}=\"{v}\" leaves the page");
            }
        }
    }
    assert!(html.len() < 2 * 1024 * 1024, "{} bytes", html.len());
    let goals = rein(&["goals", system, "--data-dir", data.to_str().unwrap(), "--json"]);
    let goals: serde_json::Value = serde_json::from_str(&goals).unwrap();
    for goal in goals["goals"].as_array().unwrap() {
        let id = goal["id"].as_str().unwrap();
        let item = doc
            .descendants()
            .find(|n| n.attribute("id") == Some(&format!("goal-{id}")))
            .unwrap_or_else(|| panic!("goal {id} is not on the page"));
        let badge = item.descendants().find(|n| n.attribute("class") == Some("status")).unwrap();
        assert_eq!(badge.text().unwrap(), goal["status"].as_str().unwrap().replace('_', " "), "{id}'s status");
    }
    // every alert the monitors opened is listed, as the store keeps them
    use rein_telemetry::Store;
    let store = rein_telemetry::SqliteStore::open(&data).unwrap();
    let query = rein_telemetry::AlertQuery { limit: rein_telemetry::AlertQuery::MAX_LIMIT, ..Default::default() };
    let stored = store.alerts(&query).unwrap();
    let table = doc.descendants().find(|n| n.attribute("class") == Some("alerts"));
    let listed = table.map_or(0, |t| t.children().filter(|r| r.tag_name().name() == "tr").count().saturating_sub(1));
    assert_eq!(listed, stored.len(), "one row an alert");
    assert!(html.contains(&format!("{} opened, ", stored.len())), "the alerts' summary");

    let recorded = doc.descendants().find(|n| n.text().is_some_and(|t| t.starts_with("the predictions recorded from")));
    assert!(recorded.is_some(), "the drift section names the recorded window");
    assert!(html.contains("Drift of phishing") && html.contains("domain_age_days"), "every feature's drift is shown");

    // the drift shown is `rein drift`'s on an export of the same window
    let until = goals["as_of_ms"].as_i64().unwrap();
    let window = dir.path().join("window.csv");
    rein(&[
        "export",
        system,
        "--component",
        "phishing",
        "--data-dir",
        data.to_str().unwrap(),
        "--since",
        &(until - 86_400_000).to_string(),
        "--until",
        &until.to_string(),
        "--format",
        "csv",
        "-o",
        window.to_str().unwrap(),
    ]);
    let drift = rein(&[
        "drift",
        system,
        "phishing",
        "--reference",
        profile.to_str().unwrap(),
        "--current",
        window.to_str().unwrap(),
        "--json",
    ]);
    let drift: serde_json::Value = serde_json::from_str(&drift).unwrap();
    let mut compared = 0;
    // features: the report compares the model's recorded score too, which an export does not hold
    for column in drift["columns"].as_array().unwrap().iter().filter(|c| c["role"] == "feature") {
        let name = column["name"].as_str().unwrap();
        let row = doc
            .descendants()
            .find(|n| {
                n.tag_name().name() == "tr"
                    && n.descendants().any(|a| a.attribute("href") == Some(&format!("#drift-0-column-{name}")))
            })
            .unwrap_or_else(|| panic!("{name} is not in the drift table"));
        let cells: Vec<String> = row
            .children()
            .filter(|c| c.is_element())
            .map(|c| c.descendants().filter(|t| t.is_text()).filter_map(|t| t.text()).collect())
            .collect();
        let drifted = if column["drifted"].as_bool().unwrap() {
            "yes"
        } else if column["decision"].is_null() {
            "not compared"
        } else {
            "no"
        };
        assert_eq!(cells[6], drifted, "{name}: {cells:?}");
        if let Some(value) = column["decision"]["value"].as_f64() {
            let shown: f64 = cells[3].parse().unwrap_or_else(|_| panic!("{name}: {cells:?}"));
            assert!((shown - value).abs() <= 5e-4 * value.abs().max(1.0), "{name}: page {shown}, rein drift {value}");
            compared += 1;
        }
    }
    assert!(compared >= 6, "most features compared: {compared}");

    let Some(chromium) = chromium() else { return };
    let shot = dir.path().join("report.png");
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", dir.path().join("chromium").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,2000")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(!log.contains(":CONSOLE"), "the page wrote to the console: {log}");
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a rendered page, not a blank one");
}
