//! The label-free estimate (CBPE) against an independent computation: scikit-learn's
//! `IsotonicRegression`, `roc_auc_score` with sample weights, numpy's sums and scipy's
//! normal quantile, on the committed cases `reference/make_estimate.py` wrote
//! (`reference/estimate_cases.json`), so the test needs no Python.
//!
//! Tolerances: counts, statuses and what a figure lacked exactly; the isotonic fits,
//! calibrated sums, ECEs, figures and their normal intervals to 1e-12 relative (1e-15
//! absolute near 0): the same closed forms summed in another order, z from rein-stats
//! against scipy's `norm.ppf` (an ulp apart).

use rein_monitor::estimate::{Calibration, EstimateOptions, estimate};
use rein_monitor::quality::{Classes, ClassifierRow, Figure, IntervalMethod, QualityOptions, Scores};
use rein_stats::Bootstrap;
use serde_json::Value;

const CASES: &str = include_str!("reference/estimate_cases.json");

#[track_caller]
fn close(what: &str, got: f64, want: f64) {
    let ok = got == want || (got - want).abs() <= 1e-15_f64.max(1e-12 * want.abs());
    assert!(ok, "{what}: rein {got:e}, reference {want:e}");
}

fn rows<'a>(rows: &'a Value, scores: &'a [Option<Vec<f64>>]) -> Vec<ClassifierRow<'a>> {
    rows.as_array()
        .unwrap()
        .iter()
        .zip(scores)
        .map(|(row, score)| ClassifierRow {
            predicted: row[0].as_str().unwrap(),
            scores: match (&row[1], score) {
                (Value::Null, _) => Scores::Absent,
                (Value::Number(s), _) => Scores::Positive(s.as_f64().unwrap()),
                (_, Some(values)) => Scores::ByLabel(values),
                (other, None) => panic!("scores {other}"),
            },
            truth: row[2].as_str(),
        })
        .collect()
}

fn scores_of(rows: &Value) -> Vec<Option<Vec<f64>>> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| row[1].as_array().map(|a| a.iter().map(|v| v.as_f64().unwrap()).collect()))
        .collect()
}

#[track_caller]
fn figure(what: &str, got: &Figure, want: &Value) {
    match got {
        Figure::Measured { labeled, interval } => {
            assert_eq!(want["status"], "measured", "{what}: rein measured {interval:?}, the reference {want}");
            assert_eq!(*labeled, want["labeled"].as_u64().unwrap(), "{what}: rows");
            let IntervalMethod::Normal { std_dev } = interval.method else { panic!("{what}: {interval:?}") };
            close(&format!("{what} σ"), std_dev, want["std_dev"].as_f64().unwrap());
            close(&format!("{what} value"), interval.value, want["value"].as_f64().unwrap());
            close(&format!("{what} lower"), interval.lower, want["lower"].as_f64().unwrap());
            close(&format!("{what} upper"), interval.upper, want["upper"].as_f64().unwrap());
        }
        Figure::Insufficient { labeled, needed, lacking } => {
            assert_eq!(
                want["status"], "insufficient",
                "{what}: rein says insufficient ({lacking:?}), the reference {want}"
            );
            assert_eq!(*labeled, want["labeled"].as_u64().unwrap(), "{what}: rows");
            assert_eq!(*needed, want["needed"].as_u64().unwrap(), "{what}: needed");
            let got = serde_json::to_value(lacking).unwrap();
            assert_eq!(got["kind"], want["lacking"]["kind"], "{what}: lacking");
            assert_eq!(got["label"], want["lacking"]["label"], "{what}: lacking");
            if let Some(expected) = want["lacking"]["expected"].as_f64() {
                close(&format!("{what}: expected"), got["expected"].as_f64().unwrap(), expected);
            }
        }
    }
}

#[test]
fn the_cases_cover_what_the_estimate_meets() {
    let all: Value = serde_json::from_str(CASES).unwrap();
    let names: Vec<&str> = all["cases"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for wanted in ["recalibrated", "not recalibrated", "too few", "ties", "multiclass", "tiny", "few expected"] {
        assert!(names.iter().any(|n| n.contains(wanted)), "no case of {wanted}: {names:?}");
    }
    let distrust: Vec<&str> = all["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["expected"]["calibration"]["distrust"].as_array().unwrap())
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert!(distrust.contains(&"too_few_reference") && distrust.contains(&"poor_calibration"), "{distrust:?}");
}

#[test]
fn the_estimate_agrees_with_scikit_learn_and_numpy() {
    let all: Value = serde_json::from_str(CASES).unwrap();
    for case in all["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let labels: Vec<&str> = case["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        let classes = match case["positive"].as_str() {
            Some(p) => Classes::binary(labels, p).unwrap(),
            None => Classes::multiclass(labels).unwrap(),
        };
        let o = &case["options"];
        let options = EstimateOptions {
            quality: QualityOptions {
                bootstrap: Bootstrap { confidence: o["confidence"].as_f64().unwrap(), ..Bootstrap::default() },
                ..QualityOptions::default()
            },
            min_reference: o["min_reference"].as_u64().unwrap() as usize,
            max_ece: o["max_ece"].as_f64().unwrap(),
            folds: o["folds"].as_u64().unwrap() as usize,
            recalibrate: o["recalibrate"].as_bool().unwrap(),
        };
        let reference_scores = scores_of(&case["reference"]);
        let reference = rows(&case["reference"], &reference_scores);
        let window_scores = scores_of(&case["rows"]);
        let window = rows(&case["rows"], &window_scores);

        let calibration = Calibration::fit(&classes, &reference, &options).unwrap();
        let want = &case["expected"];
        let c = &calibration.summary;
        let wc = &want["calibration"];
        assert_eq!(c.reference_rows, wc["reference_rows"].as_u64().unwrap(), "{name}");
        assert_eq!(c.recalibrated, wc["recalibrated"].as_bool().unwrap(), "{name}");
        for (what, got, want) in
            [("ece", c.ece, &wc["ece"]), ("cv ece", c.ece_cross_validated, &wc["ece_cross_validated"])]
        {
            match (got, want.as_f64()) {
                (Some(g), Some(w)) => close(&format!("{name}: {what}"), g, w),
                (None, None) => {}
                other => panic!("{name}: {what} {other:?}"),
            }
        }
        assert_eq!(c.trusted, wc["trusted"].as_bool().unwrap(), "{name}: {:?}", c.distrust);
        let kinds: Vec<Value> = c.distrust.iter().map(|d| serde_json::to_value(d).unwrap()["kind"].clone()).collect();
        let want_kinds: Vec<Value> = wc["distrust"].as_array().unwrap().iter().map(|d| d["kind"].clone()).collect();
        assert_eq!(kinds, want_kinds, "{name}: why not trusted");
        let fits = calibration.fits().unwrap_or_default();
        let want_fits = wc["fits"].as_array().unwrap();
        assert_eq!(fits.len(), want_fits.len(), "{name}: fits");
        for (fit, want) in fits.iter().zip(want_fits) {
            // scikit-learn keeps the ends of each flat run only; rein keeps every distinct
            // score: the same function, so compare it at scikit-learn's points
            for (x, y) in want["scores"].as_array().unwrap().iter().zip(want["fitted"].as_array().unwrap()) {
                close(&format!("{name}: isotonic at {x}"), fit.predict(x.as_f64().unwrap()), y.as_f64().unwrap());
            }
        }

        let e = estimate(&calibration, &window, &options).unwrap();
        assert_eq!(e.predictions, want["predictions"].as_u64().unwrap(), "{name}");
        assert_eq!(e.with_probabilities, want["with_probabilities"].as_u64().unwrap(), "{name}");
        assert_eq!(e.trusted, c.trusted);
        for (what, got) in [
            ("accuracy", &e.accuracy),
            ("precision", &e.precision),
            ("recall", &e.recall),
            ("f1", &e.f1),
            ("auc", &e.auc),
        ] {
            figure(&format!("{name}: {what}"), got, &want[what]);
        }
        for (got, want) in e.per_label.iter().zip(want["per_label"].as_array().unwrap()) {
            assert_eq!(got.label, want["label"].as_str().unwrap());
            assert_eq!(got.predicted, want["predicted"].as_u64().unwrap(), "{name}");
            close(&format!("{name}: expected truth"), got.expected_truth, want["expected_truth"].as_f64().unwrap());
            for (what, f) in
                [("precision", &got.precision), ("recall", &got.recall), ("f1", &got.f1), ("auc", &got.auc)]
            {
                figure(&format!("{name}: {what} of {}", got.label), f, &want[what]);
            }
        }
        let confusion: Vec<Vec<f64>> = serde_json::from_value(want["confusion"].clone()).unwrap();
        for (g, w) in e.confusion.counts.iter().flatten().zip(confusion.iter().flatten()) {
            close(&format!("{name}: expected confusion"), *g, *w);
        }
    }
}
