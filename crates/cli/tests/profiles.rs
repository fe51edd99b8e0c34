//! The examples' reference profiles, which their drift monitors compare each window with,
//! are their simulated worlds' normal traffic (none of the scheduled changes) profiled by
//! `rein profile`, the output scored by the model: each committed `model.profile.json` is
//! made again here from the same seeded requests, and must be the same.
//!
//! After a change to a world, a model or the profile's format, write them again with
//! `REIN_UPDATE_PROFILES=1 cargo test -p rein-cli --test profiles`.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");

/// The examples with a committed profile: requests drawn, the sample kept per column.
const PROFILED: [(&str, usize, usize); 1] = [("phishing-warning", 5000, 1000)];
const SEED: u64 = 2026;

fn rein(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rein")).args(args).output().expect("rein runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn each_examples_profile_is_its_worlds_normal_traffic() {
    for (example, rows, sample) in PROFILED {
        let world = rein_simulator::world(example).unwrap();
        let file = Path::new(EXAMPLES).join(example).join("rein.toml");
        let system = rein_system::load(&file).unwrap_or_else(|d| panic!("{d}"));
        let component = system.component(world.component()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("normal.csv");
        let mut out = std::fs::File::create(&csv).unwrap();
        let names: Vec<&str> = component.features.iter().map(|f| f.name.as_str()).collect();
        writeln!(out, "{}", names.join(",")).unwrap();
        for request in rein_simulator::normal_requests(&*world, rows, SEED) {
            let cells: Vec<String> = names
                .iter()
                .map(|n| match &request.features[n] {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .collect();
            writeln!(out, "{}", cells.join(",")).unwrap();
        }
        drop(out);
        let made = dir.path().join("profile.json");
        let args = [
            "profile",
            file.to_str().unwrap(),
            &component.name,
            "--data",
            csv.to_str().unwrap(),
            "-o",
            made.to_str().unwrap(),
            "--sample-size",
            &sample.to_string(),
        ];
        let (ok, _, stderr) = rein(&args);
        assert!(ok, "{example}: {stderr}");
        assert!(stderr.contains(&format!("scored {rows} of {rows} rows")), "{stderr}");
        let mut profile: Value = serde_json::from_str(&std::fs::read_to_string(&made).unwrap()).unwrap();
        profile["source"]["file"] = Value::String(format!(
            "the {example} world's normal traffic: {rows} requests, seed {SEED} (crates/cli/tests/profiles.rs)"
        ));
        let committed = component.model.path.with_extension("profile.json");
        if std::env::var_os("REIN_UPDATE_PROFILES").is_some() {
            std::fs::write(&committed, serde_json::to_string_pretty(&profile).unwrap() + "\n").unwrap();
            continue;
        }
        let text = std::fs::read_to_string(&committed)
            .unwrap_or_else(|e| panic!("{}: {e}; write it with REIN_UPDATE_PROFILES=1", committed.display()));
        let kept: Value = serde_json::from_str(&text).unwrap();
        assert!(
            kept == profile,
            "{} is not the {example} world's normal traffic profiled: write it again with REIN_UPDATE_PROFILES=1",
            committed.display()
        );
    }
}
