//! ARCHITECTURE.md's table of who may depend on whom is the rule: every crate's Cargo.toml
//! must depend on exactly the rein crates the table lists, and on none of the crates it
//! forbids. A new edge or a new crate is decided in the table first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

struct Rule {
    rein: BTreeSet<String>,
    forbidden: Vec<String>,
}

/// The table under "Who may depend on whom": crate → (rein crates, forbidden crates).
fn rules() -> BTreeMap<String, Rule> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let section = text.split("## Who may depend on whom").nth(1).expect("the section is in ARCHITECTURE.md");
    // a cell is a list of names; a remark in parentheses after them is for the reader
    let names = |cell: &str| -> Vec<String> {
        let cell = cell.split('(').next().unwrap_or_default();
        cell.split(',').map(|n| n.trim().trim_matches('`').to_string()).filter(|n| !n.is_empty() && n != "—").collect()
    };
    section
        .lines()
        .filter(|l| l.starts_with("| `rein-"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').collect();
            let krate = cells[0].trim().trim_matches('`').to_string();
            let forbidden = names(cells[2]);
            (krate, Rule { rein: names(cells[1]).into_iter().collect(), forbidden })
        })
        .collect()
}

/// Every crate's name and its `[dependencies]` (name → the line declaring it).
fn crates() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("Cargo.toml"))
        .filter(|p| p.is_file())
        .collect();
    manifests.push(Path::new(ROOT).join("bench/ceiling/Cargo.toml"));
    manifests
        .iter()
        .map(|path| {
            let manifest: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
            let name = manifest["package"]["name"].as_str().unwrap().to_string();
            let deps = manifest
                .get("dependencies")
                .and_then(|d| d.as_table())
                .map(|d| d.iter().map(|(k, v)| (k.clone(), v.to_string())).collect())
                .unwrap_or_default();
            (name, deps)
        })
        .collect()
}

#[test]
fn every_crate_depends_on_exactly_what_architecture_md_allows() {
    let rules = rules();
    let crates = crates();
    let documented: BTreeSet<&String> = rules.keys().collect();
    let built: BTreeSet<&String> = crates.keys().collect();
    assert_eq!(documented, built, "ARCHITECTURE.md's table and the workspace list different crates");
    for (krate, deps) in &crates {
        let rule = &rules[krate];
        let rein: BTreeSet<String> = deps.keys().filter(|d| d.starts_with("rein-")).cloned().collect();
        assert_eq!(rein, rule.rein, "`{krate}` depends on other rein crates than ARCHITECTURE.md says");
        for forbidden in &rule.forbidden {
            assert!(!deps.contains_key(forbidden), "`{krate}` must not depend on `{forbidden}` (ARCHITECTURE.md)");
        }
    }
}

/// Telemetry may use tokio's channels, which need no runtime, and nothing else of it.
#[test]
fn telemetry_takes_only_the_runtime_free_part_of_tokio() {
    let deps = &crates()["rein-telemetry"];
    let tokio = deps.get("tokio").expect("telemetry's channels are tokio's");
    assert!(tokio.contains("default-features = false") && tokio.contains("features = [\"sync\"]"), "{tokio}");
}

#[test]
fn the_table_is_read() {
    let rules = rules();
    assert!(rules["rein-decision"].rein.contains("rein-system"));
    assert!(rules["rein-system"].forbidden.contains(&"tokio".to_string()));
}
