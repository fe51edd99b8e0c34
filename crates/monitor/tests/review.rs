//! The review of an expected-value policy against scikit-learn, statsmodels and the
//! hand-written references of `reference/make_review.py`, on the committed cases it wrote
//! (`reference/review_cases.json`), so the test needs no Python.
//!
//! Tolerances, relative (with an absolute floor for values near 0):
//!
//! | figure | tolerance | why |
//! |---|---|---|
//! | counts, modes, verdicts | exact | the same decisions |
//! | reliability table, ECE, Wilson intervals | 1e-12 | make_quality.py's references, as tests/quality.rs |
//! | isotonic calibration: its knots, and on a grid of p | 1e-12 | scikit-learn's algorithm, step for step |
//! | today's and re-derived thresholds | 1e-12 | the same lines and knots, crossed in another order |
//! | value per prediction, gain | 1e-12 | the same sums in another order |
//! | bootstrap intervals | 1e-12 | the same resamples (rein-stats' generator in Python), each refitted by scikit-learn on the materialized rows, the same percentiles |

use rein_monitor::quality::{Interval, IntervalMethod};
use rein_monitor::review::{ReviewError, ReviewOptions, review};
use rein_stats::Bootstrap;
use rein_system::{Mode, ModeValue};
use serde_json::Value;

const CASES: &str = include_str!("reference/review_cases.json");

/// Equal to within `rel` relative, or `abs` absolute for values near zero.
#[track_caller]
fn close(what: &str, got: f64, want: f64) {
    let ok = got == want || (got - want).abs() <= 1e-12_f64.max(1e-12 * want.abs());
    assert!(ok, "{what}: rein {got:e}, reference {want:e}");
}

#[track_caller]
fn interval(what: &str, got: &Interval, want: &Value) {
    close(&format!("{what} value"), got.value, want["value"].as_f64().unwrap());
    close(&format!("{what} lower"), got.lower, want["lower"].as_f64().unwrap());
    close(&format!("{what} upper"), got.upper, want["upper"].as_f64().unwrap());
    match got.method {
        IntervalMethod::Bootstrap { resamples, .. } => {
            assert_eq!(resamples as u64, want["resamples"].as_u64().unwrap(), "{what}: resamples kept")
        }
        other => panic!("{what}: {other:?}"),
    }
}

fn mode(v: &Value) -> Mode {
    Mode::parse(v.as_str().unwrap()).unwrap()
}

#[test]
fn the_review_is_the_references() {
    let cases: Value = serde_json::from_str(CASES).unwrap();
    let mut reviewed = 0;
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let values: Vec<ModeValue> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| ModeValue {
                mode: mode(&v["mode"]),
                right: v["right"].as_f64().unwrap(),
                wrong: v["wrong"].as_f64().unwrap(),
            })
            .collect();
        let p: Vec<f64> = case["p"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let held: Vec<bool> = case["held"].as_array().unwrap().iter().map(|v| v.as_bool().unwrap()).collect();
        let o = &case["options"];
        let options = ReviewOptions {
            bootstrap: Bootstrap {
                resamples: o["resamples"].as_u64().unwrap() as usize,
                confidence: o["confidence"].as_f64().unwrap(),
                seed: o["seed"].as_u64().unwrap(),
            },
            folds: o["folds"].as_u64().unwrap() as usize,
            ..ReviewOptions::default()
        };
        let result = review(&values, &p, &held, &options);
        if let Some(too_few) = case.get("too_few") {
            let Err(ReviewError::TooFewLabels { labeled, held, missed, min_labeled: 30, min_per_outcome: 5 }) = result
            else {
                panic!("{name}: {result:?}")
            };
            assert_eq!(serde_json::json!({"labeled": labeled, "held": held, "missed": missed}), *too_few, "{name}");
            continue;
        }
        let r = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = &case["expected"];
        assert_eq!((r.labeled, r.held), (want["labeled"].as_u64().unwrap(), want["held"].as_u64().unwrap()));

        interval(&format!("{name}: ECE"), &r.calibration.ece, &want["ece"]);
        assert_eq!(r.calibration.bins.len(), 10);
        for (b, (got, want)) in r.calibration.bins.iter().zip(want["bins"].as_array().unwrap()).enumerate() {
            assert_eq!(got.bin.count, want["count"].as_u64().unwrap(), "{name}: bin {b}");
            match (got.bin.observed, &got.interval) {
                (Some(observed), Some(i)) => {
                    close(&format!("{name}: bin {b} observed"), observed, want["observed"].as_f64().unwrap());
                    let mean = got.bin.mean_confidence.unwrap();
                    close(&format!("{name}: bin {b} mean p"), mean, want["mean_confidence"].as_f64().unwrap());
                    assert_eq!(i.method, IntervalMethod::Wilson);
                    close(&format!("{name}: bin {b} Wilson lower"), i.lower, want["wilson"][0].as_f64().unwrap());
                    close(&format!("{name}: bin {b} Wilson upper"), i.upper, want["wilson"][1].as_f64().unwrap());
                }
                (None, None) => assert!(want["observed"].is_null(), "{name}: bin {b}"),
                other => panic!("{name}: bin {b}: {other:?}"),
            }
        }
        let knots = &want["isotonic_knots"];
        let isotonic = &r.calibration.isotonic;
        assert_eq!(isotonic.scores.len(), knots[0].as_array().unwrap().len(), "{name}: the knots");
        for (k, (x, y)) in isotonic.scores.iter().zip(&isotonic.fitted).enumerate() {
            close(&format!("{name}: knot {k}"), *x, knots[0][k].as_f64().unwrap());
            close(&format!("{name}: knot {k} value"), *y, knots[1][k].as_f64().unwrap());
        }
        for (k, want) in want["isotonic_grid"].as_array().unwrap().iter().enumerate() {
            let at = k as f64 / 200.0;
            close(&format!("{name}: calibration at {at}"), r.calibration.isotonic.predict(at), want.as_f64().unwrap());
        }

        let thresholds = want["thresholds"].as_array().unwrap();
        assert_eq!(r.thresholds.len(), thresholds.len(), "{name}");
        for (got, want) in r.thresholds.iter().zip(thresholds) {
            let what = format!("{name}: {} → {}", got.below.as_str(), got.above.as_str());
            assert_eq!((got.below, got.above), (mode(&want["below"]), mode(&want["above"])), "{what}");
            close(&format!("{what} today"), got.today, want["today"].as_f64().unwrap());
            interval(&format!("{what} re-derived"), &got.rederived, &want["rederived"]);
        }

        interval(&format!("{name}: today's value"), &r.value.today, &want["today"]);
        interval(&format!("{name}: re-derived value"), &r.value.rederived, &want["rederived"]);
        interval(&format!("{name}: gain"), &r.value.gain, &want["gain"]);
        assert_eq!(r.value.changed, want["changed"].as_u64().unwrap(), "{name}");
        for m in &r.value.decisions {
            let counts = &want["decisions"][m.mode.as_str()];
            assert_eq!([m.today, m.rederived], [counts[0].as_u64().unwrap(), counts[1].as_u64().unwrap()], "{name}");
        }
        assert_eq!(serde_json::to_value(r.verdict).unwrap(), want["verdict"], "{name}");
        reviewed += 1;
    }
    assert_eq!(reviewed, 4, "every verdict but `same_decisions` is among the cases");
}

/// Whatever the data, the review is a function of it and its seed.
#[test]
fn the_same_rows_and_seed_give_the_same_review() {
    let values = [
        ModeValue { mode: Mode::Prompt, right: 5.0, wrong: -5.0 },
        ModeValue { mode: Mode::None, right: -1.0, wrong: 0.0 },
    ];
    let p: Vec<f64> = (0..200).map(|i| (f64::from(i) * 0.618_034).fract()).collect();
    let held: Vec<bool> = (0..200).map(|i| i % 3 != 0).collect();
    let options =
        ReviewOptions { bootstrap: Bootstrap { resamples: 200, ..Bootstrap::default() }, ..Default::default() };
    assert_eq!(review(&values, &p, &held, &options).unwrap(), review(&values, &p, &held, &options).unwrap());
    let other = ReviewOptions { bootstrap: Bootstrap { seed: 1, ..options.bootstrap }, ..options };
    assert_ne!(review(&values, &p, &held, &options).unwrap(), review(&values, &p, &held, &other).unwrap());
}
