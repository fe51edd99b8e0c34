//! Profiles and drift reports on seeded synthetic data: a known shift is flagged and no
//! shift is not, at small sizes (a p-value test decides) and large (an effect size
//! decides); a broken feature is flagged through its missing share; a profile survives
//! its JSON; the HTML page is well-formed and holds no row's value.

use rein_monitor::columns::{Cell, Sink, columns};
use rein_monitor::files::{Options, drift, profile};
use rein_monitor::html::render;
use rein_monitor::report::{DriftReport, Measures};
use rein_monitor::{Profile, Table};
use rein_system::Component;
use std::io::Write;
use std::path::Path;

const SYSTEM: &str = r#"
[system]
name = "shop"
description = "test"

[[components]]
name = "fraud"
task = "binary"
labels = ["ok", "fraud"]
positive_label = "fraud"
model = { path = "model.onnx", timeout_ms = 50 }

[[components.features]]
name = "amount"
type = "number"
min = 0.0

[[components.features]]
name = "items"
type = "integer"
min = 1
max = 100
default = 1

[[components.features]]
name = "country"
type = "category"
categories = ["fr", "de", "it", "es"]

[[components.features]]
name = "express"
type = "boolean"

[components.experience]
policy = "thresholds"
thresholds = { automate = 0.9, prompt = 0.6, annotate = 0.3 }
"#;

fn component() -> Component {
    let system = rein_system::parse(SYSTEM, Path::new("rein.toml")).expect("the test system parses");
    system.components.into_iter().next().expect("one component")
}

/// xorshift64*, uniform in (0, 1).
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * self.uniform()).cos()
    }
}

struct World {
    amount_shift: f64,
    country_weights: [f64; 4],
    amount_missing: f64,
}

const STEADY: World = World { amount_shift: 0.0, country_weights: [0.4, 0.3, 0.2, 0.1], amount_missing: 0.0 };

/// `rows` rows of the world as CSV: amount ~ 100 + 20·N(0,1) + shift, a few items,
/// countries by weight, express one time in four; the output's score and label.
fn csv(path: &Path, rows: usize, seed: u64, world: &World) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "amount,items,country,express,score,label").unwrap();
    for _ in 0..rows {
        let amount = 100.0 + 20.0 * rng.normal() + world.amount_shift;
        let amount = if rng.uniform() < world.amount_missing { String::new() } else { format!("{amount:.6}") };
        let items = 1 + (rng.uniform() * 5.0) as u32;
        let mut pick = rng.uniform();
        let mut country = "es";
        for (name, weight) in ["fr", "de", "it", "es"].iter().zip(world.country_weights) {
            if pick < weight {
                country = name;
                break;
            }
            pick -= weight;
        }
        let express = rng.uniform() < 0.25;
        let score = rng.uniform().powi(3);
        let label = if score >= 0.5 { "fraud" } else { "ok" };
        writeln!(out, "{amount},{items},{country},{express},{score:.6},{label}").unwrap();
    }
}

fn report(reference_rows: usize, current_rows: usize, current: &World) -> (Profile, DriftReport) {
    let dir = tempfile::tempdir().unwrap();
    let component = component();
    csv(&dir.path().join("reference.csv"), reference_rows, 1, &STEADY);
    csv(&dir.path().join("current.csv"), current_rows, 2, current);
    let options = Options::default();
    let reference = Table::open(&dir.path().join("reference.csv")).unwrap();
    let profile = profile("shop", &component, &reference, None, &options).unwrap();
    let side = rein_monitor::report::Side { source: "reference.csv".into(), kind: "data", rows: profile.source.rows };
    let table = Table::open(&dir.path().join("current.csv")).unwrap();
    let report = drift("shop", &component, &profile, side, &table, None, &options).unwrap();
    (profile, report)
}

fn drifted(report: &DriftReport) -> Vec<&str> {
    report.columns.iter().filter(|c| c.drifted).map(|c| c.name.as_str()).collect()
}

#[test]
fn without_a_shift_nothing_drifts_small_or_large() {
    let (_, small) = report(2000, 400, &STEADY);
    assert_eq!(drifted(&small), Vec::<&str>::new(), "{:#?}", small.columns);
    assert!(small.columns.iter().all(|c| c.decision.as_ref().is_some_and(|d| d.test)), "400 rows: tests decide");
    let (_, large) = report(20_000, 50_000, &STEADY);
    assert_eq!(drifted(&large), Vec::<&str>::new(), "{:#?}", large.columns);
    assert!(large.columns.iter().all(|c| c.decision.as_ref().is_some_and(|d| !d.test)), "effect sizes decide");
    assert!(!large.summary.dataset_drift);
}

#[test]
fn a_known_shift_is_flagged_by_the_method_for_its_size() {
    let world = World { amount_shift: 10.0, country_weights: [0.1, 0.2, 0.3, 0.4], amount_missing: 0.0 };
    let (_, small) = report(2000, 400, &world);
    assert_eq!(drifted(&small), ["amount", "country"], "{:#?}", small.columns);
    let amount = &small.columns[0];
    assert_eq!(amount.decision.as_ref().unwrap().method, "ks");
    let Some(Measures::Numeric { ks, wasserstein, psi, .. }) = &amount.measures else { panic!("{amount:?}") };
    assert_eq!((ks.method, ks.current_sample), ("exact", 400), "the smaller side whole: exact");
    assert!((wasserstein.value - 10.0).abs() < 2.5, "a shift of 10 moves the earth by ~10: {}", wasserstein.value);
    assert!(psi.value > 0.1, "{}", psi.value);

    let (_, large) = report(20_000, 50_000, &world);
    assert_eq!(drifted(&large), ["amount", "country"], "{:#?}", large.columns);
    let amount = &large.columns[0];
    let decision = amount.decision.as_ref().unwrap();
    assert_eq!(decision.method, "normalized_wasserstein");
    assert!((decision.value - 0.5).abs() < 0.06, "10 / std 20: {}", decision.value);
    let Some(Measures::Numeric { ks, .. }) = &amount.measures else { panic!() };
    assert_eq!((ks.method, ks.reference_sample, ks.current_sample), ("asymptotic", 10_000, 10_000));
    let country = &large.columns[2];
    assert_eq!(country.decision.as_ref().unwrap().method, "jensen_shannon");
    let Some(Measures::Categorical { largest_shift: Some(shift), .. }) = &country.measures else { panic!() };
    assert!(shift.category == "fr" || shift.category == "es", "{shift:?}");
    assert!(large.summary.dataset_drift == (2.0 / 4.0 >= 0.5));
}

#[test]
fn a_broken_feature_is_flagged_by_its_missing_share() {
    // amount arrives empty: its values left are as before, so only the share can tell
    let broken = World { amount_missing: 1.0, ..STEADY };
    let (_, report) = report(2000, 3000, &broken);
    let amount = &report.columns[0];
    assert!(amount.drifted, "{amount:#?}");
    assert_eq!(amount.values.risen, ["missing"]);
    assert_eq!(amount.values.current.missing, 1.0);
    assert!(amount.decision.is_none() && amount.not_compared.as_deref() == Some("the current sample has no values"));
    assert!(amount.reason.starts_with("missing 0.0% → 100.0%"), "{}", amount.reason);
    assert_eq!(drifted(&report), ["amount"]);

    let half = World { amount_missing: 0.3, ..STEADY };
    let (_, report) = self::report(2000, 3000, &half);
    let amount = &report.columns[0];
    assert!(amount.drifted && amount.decision.as_ref().is_some_and(|d| !d.drifted), "{amount:#?}");
}

#[test]
fn a_defaulted_or_out_of_range_value_is_counted_apart() {
    let component = component();
    let columns = columns(&component);
    let mut items = rein_monitor::profile::ReferenceColumn::new(columns[1].clone(), 100, 1);
    for cell in [Cell::Number(3.0), Cell::Missing, Cell::Number(500.0), Cell::Number(2.5), Cell::Number(4.0)] {
        items.push(cell);
    }
    let profile = items.finish();
    assert_eq!(
        profile.counts,
        rein_monitor::profile::Counts { rows: 5, missing: 0, defaulted: 1, out_of_range: 2 },
        "items has a default: an absent value is defaulted; 500 and 2.5 are not whole numbers in 1..=100"
    );
}

#[test]
fn a_profile_survives_its_json() {
    let (profile, _) = report(3000, 10, &STEADY);
    let json = profile.to_json();
    let back = Profile::from_json(&json, "p.json").unwrap();
    assert_eq!(back, profile);
    assert_eq!(profile.columns.len(), 6, "four features, score and label");
    let Some(rein_monitor::profile::Distribution::Numeric(amount)) = &profile.columns[0].distribution else { panic!() };
    assert_eq!(amount.counts.len(), 10);
    assert_eq!(amount.counts.iter().sum::<u64>(), 3000);
    assert_eq!(amount.sample.len(), 3000, "fewer rows than the sample's bound: all of them");
    // the same rows and seed give the same profile
    let (again, _) = report(3000, 10, &STEADY);
    assert_eq!(again.columns, profile.columns);
    // a profile of another format or version is refused, saying so
    let other = json.replacen("\"version\": 1", "\"version\": 99", 1);
    assert!(Profile::from_json(&other, "p.json").unwrap_err().to_string().contains("version 99"));
    assert!(Profile::from_json("{}", "p.json").unwrap_err().to_string().contains("not a rein profile"));
    let component = component();
    assert!(back.check_against("fraud", &columns(&component), "p.json").is_ok());
    let err = back.check_against("fraud", &columns(&component)[..3], "p.json").unwrap_err();
    assert!(err.to_string().contains("no longer one of the component's"), "{err}");
}

#[test]
fn the_html_page_is_well_formed_and_holds_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let world = World { amount_shift: 10.0, country_weights: [0.1, 0.2, 0.3, 0.4], amount_missing: 0.2 };
    csv(&dir.path().join("reference.csv"), 2000, 1, &STEADY);
    csv(&dir.path().join("current.csv"), 1500, 2, &world);
    let component = component();
    let options = Options::default();
    let profile =
        profile("shop", &component, &Table::open(&dir.path().join("reference.csv")).unwrap(), None, &options).unwrap();
    let side = rein_monitor::report::Side { source: "ref <&> \"x\".csv".into(), kind: "data", rows: 2000 };
    let table = Table::open(&dir.path().join("current.csv")).unwrap();
    let report = drift("shop", &component, &profile, side, &table, None, &options).unwrap();
    let page = render(&report);
    let document = roxmltree::Document::parse_with_options(
        &page,
        roxmltree::ParsingOptions { allow_dtd: true, ..roxmltree::ParsingOptions::default() },
    )
    .unwrap_or_else(|e| panic!("not well-formed: {e}"));
    let svgs = document.descendants().filter(|n| n.tag_name().name() == "svg").count();
    assert_eq!(svgs, 6, "a histogram a column");
    assert!(!page.contains("<script") && !page.contains(" src=") && !page.contains("<link"), "self-contained");
    assert_eq!(page.matches("http").count(), page.matches("xmlns=\"http").count(), "no address but namespaces");
    // no row's value: every amount and score is written with six decimals, which the page
    // never uses
    for file in ["reference.csv", "current.csv"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        for line in text.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            for cell in [cells[0], cells[4]] {
                assert!(cell.is_empty() || !page.contains(cell), "the page holds the value {cell} of {file}");
            }
        }
    }
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("\"sample\""), "the report holds no sample");
}
