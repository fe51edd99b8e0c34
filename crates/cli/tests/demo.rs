//! `rein demo` clears only a data directory it made itself.

use std::path::Path;
use std::process::Command;

fn demo(data_dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rein"))
        .args(["demo", "phishing-warning", "--scale", "0.01", "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("rein runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn demo_refuses_to_clear_a_directory_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("thesis.tex"), "years of work").unwrap();
    let (ok, stderr) = demo(dir.path());
    assert!(!ok);
    assert!(stderr.contains(&dir.path().display().to_string()), "{stderr}");
    assert!(stderr.contains("not made by `rein demo`") && stderr.contains(".rein-demo"), "{stderr}");
    assert!(stderr.contains("new or empty directory"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.path().join("thesis.tex")).unwrap(), "years of work");
    assert!(!dir.path().join(".rein-demo").exists());
}

#[test]
fn demo_takes_a_new_or_empty_directory_and_clears_only_its_own() {
    let root = tempfile::tempdir().unwrap();
    // an empty directory is taken and marked
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (ok, stderr) = demo(&empty);
    assert!(ok, "{stderr}");
    assert!(empty.join(".rein-demo").is_file() && empty.join("rein.db").is_file());

    // an absent one is made; on the next run it is cleared, since the demo made it
    let made = root.path().join("made").join("here");
    let (ok, stderr) = demo(&made);
    assert!(ok, "{stderr}");
    assert!(made.join(".rein-demo").is_file());
    std::fs::write(made.join("left-over"), "from the last run").unwrap();
    let (ok, stderr) = demo(&made);
    assert!(ok, "{stderr}");
    assert!(!made.join("left-over").exists(), "the demo's own directory is cleared");
    assert!(made.join(".rein-demo").is_file() && made.join("rein.db").is_file());
}

/// The demo's output is for a person: no log lines unless asked for, and the commands it
/// prints work as printed, from any folder (there may be no `rein` on the PATH).
#[test]
fn the_demo_prints_a_report_without_log_lines_and_commands_that_work() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_rein"))
        .args(["demo", "phishing-warning", "--scale", "0.01", "--data-dir"])
        .arg(&data)
        .env_remove("RUST_LOG")
        .output()
        .expect("rein runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    for log in [" INFO ", "\u{1b}["] {
        assert!(!stderr.contains(log) && !stdout.contains(log), "{log:?} in the output: {stderr}\n{stdout}");
    }
    let export = stdout.lines().find(|l| l.contains(" export ")).unwrap_or_else(|| panic!("{stdout}")).trim();
    assert!(export.starts_with(env!("CARGO_BIN_EXE_rein")), "the binary that ran, by its full path: {export}");
    let exported = Command::new("sh").arg("-c").arg(export).current_dir(dir.path()).output().unwrap();
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    assert!(String::from_utf8_lossy(&exported.stdout).lines().count() > 1, "a header and rows");

    // the goal tree as the world left it, and the command that prints it again agrees
    assert!(stdout.contains("goals of phishing-warning as of"), "{stdout}");
    let goals = stdout.lines().find(|l| l.contains(" goals ")).unwrap_or_else(|| panic!("{stdout}")).trim();
    let again = Command::new("sh").arg("-c").arg(goals).current_dir(dir.path()).output().unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let tree = String::from_utf8_lossy(&again.stdout);
    let end = stdout.find("\nalerts (").unwrap_or_else(|| stdout.find("report written to").unwrap());
    let printed = &stdout[stdout.find("goals of").unwrap()..end];
    // the example declares monitors: the demo says which alerts its world opened
    assert!(stdout.contains("\nalerts (7 monitors watching):\n"), "{stdout}");
    assert_eq!(tree.trim(), printed.trim(), "the demo and `rein goals` measure the same store the same way");
    for id in ["protect_users", "few_credentials_entered", "every_page_scored", "warnings_heeded"] {
        assert!(tree.contains(id), "{id} in {tree}");
    }
    // and the report page, where it says
    let report = stdout.lines().find(|l| l.starts_with("report written to ")).unwrap();
    let path = report.trim_start_matches("report written to ").split(" (").next().unwrap();
    assert!(Path::new(path).is_absolute() && Path::new(path).starts_with(&data), "{report}");
    assert!(std::fs::read_to_string(path).unwrap().contains("goal-few_credentials_entered"));
}

/// The update, as a new user sees it at the demo's own scale: the good challenger is
/// shadowed, canaried, stepped up and promoted by the controller, and the holdout's report
/// follows; the broken one is rolled back, and the champion keeps serving. The registry's
/// history says who moved the champion.
#[test]
fn the_update_promotes_the_better_challenger_and_rolls_the_broken_one_back() {
    let story = |bad: bool| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("demo");
        let mut command = Command::new(env!("CARGO_BIN_EXE_rein"));
        command.args(["demo", "phishing-warning", "--data-dir"]).arg(&data).env_remove("RUST_LOG");
        if bad {
            command.arg("--bad-challenger");
        }
        let out = command.output().expect("rein runs");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let start = stdout.find("— The update —").unwrap_or_else(|| panic!("{stdout}"));
        let end = stdout[start..].find("goals of").map_or(stdout.len(), |e| start + e);
        let history =
            stdout[start..end].lines().find_map(|l| l.split_once("who made it: ").map(|(_, c)| c.to_string()));
        let history = history.unwrap_or_else(|| panic!("{stdout}"));
        let moves = Command::new("sh").arg("-c").arg(&history).output().unwrap();
        assert!(moves.status.success(), "{}", String::from_utf8_lossy(&moves.stderr));
        (stdout[start..end].to_string(), String::from_utf8_lossy(&moves.stdout).to_string())
    };

    let (good, moves) = story(false);
    for step in
        ["registered sha256:", "shadowed for a day", "canary: 10% of users", "advanced the canary from 10% to 50%"]
    {
        assert!(good.contains(step), "{step:?} in {good}");
    }
    let promoted = good.lines().find(|l| l.contains("promoted sha256:")).unwrap_or_else(|| panic!("{good}"));
    assert!(
        promoted.contains("few_credentials_entered improved") && promoted.contains("no guardrail harmed"),
        "{promoted}"
    );
    assert!(
        good.contains("what the model is worth, from the holdout") && good.contains("ML against none: -"),
        "{good}"
    );
    let shadowed = good.lines().find(|l| l.contains("shadowed for a day")).unwrap();
    assert!(shadowed.contains("would change the label on"), "the shadow compared with what was answered: {shadowed}");
    assert!(moves.contains("champion") && moves.contains("by controller"), "{moves}");

    let (bad, moves) = story(true);
    let back = bad.lines().find(|l| l.contains("rolled back sha256:")).unwrap_or_else(|| panic!("{bad}"));
    assert!(back.contains("harm: few_credentials_entered got worse"), "{back}");
    assert!(!bad.contains("promoted sha256:"), "{bad}");
    assert!(!moves.contains("by controller"), "the champion never moved: {moves}");
}
