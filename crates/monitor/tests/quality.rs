//! Quality against scikit-learn, scipy and statsmodels, on the committed cases `reference/make_quality.py` wrote
//! (`reference/quality_cases.json`), so the test needs no Python.
//!
//! Tolerances, relative (with an absolute floor for values near 0):
//!
//! | figure | tolerance | why |
//! |---|---|---|
//! | accuracy, precision, recall, F1, confusion matrix, counts, statuses | exact (counts) / 1e-12 | the same counts, one division |
//! | ROC AUC (binary and macro one-vs-rest) | 1e-12 | weighted Mann–Whitney against scikit-learn's trapezoids |
//! | Brier, ECE, reliability table | 1e-12 | the same sums in another order |
//! | MAE, RMSE, bias | 1e-12 | the same sums in another order |
//! | Wilson intervals (accuracy, precision, recall, feedback rate) | 1e-12 | closed form (rein-stats' is statsmodels' to 1e-12) |
//! | bootstrap intervals (F1, AUC, Brier, ECE, macro averages, MAE, RMSE) | 1e-12 | the same resamples (rein-stats' generator in Python), each statistic by scikit-learn on the materialized resample, the same percentiles |
//! | t interval of the bias | 1e-9 | rein-stats' t quantile against scipy's `t.ppf` (1e-11 apart) |

use rein_monitor::quality::{
    Classes, ClassifierRow, Figure, IntervalMethod, QualityOptions, RegressionRow, Scores, classifier_quality,
    regression_quality,
};
use rein_stats::Bootstrap;
use serde_json::Value;

const CASES: &str = include_str!("reference/quality_cases.json");

fn cases() -> Value {
    serde_json::from_str(CASES).expect("quality_cases.json parses")
}

/// Equal to within `rel` relative, or `abs` absolute for values near zero.
#[track_caller]
fn close(what: &str, got: f64, want: f64, rel: f64, abs: f64) {
    let ok = got == want || (got - want).abs() <= abs.max(rel * want.abs());
    assert!(ok, "{what}: rein {got:e}, reference {want:e} (relative {:.1e})", ((got - want) / want).abs());
}

fn options(case: &Value) -> QualityOptions {
    let o = &case["options"];
    QualityOptions {
        bootstrap: Bootstrap {
            resamples: o["resamples"].as_u64().unwrap() as usize,
            confidence: o["confidence"].as_f64().unwrap(),
            seed: o["seed"].as_u64().unwrap(),
        },
        max_width: o["max_width"].as_f64(),
        ..QualityOptions::default()
    }
}

/// A figure against the reference's: status, counts, what it lacked; value and interval.
#[track_caller]
fn figure(what: &str, got: &Figure, want: &Value) {
    let status = want["status"].as_str().unwrap();
    match got {
        Figure::Measured { labeled, interval } => {
            assert_eq!(status, "measured", "{what}: rein measured {interval:?}, the reference says {want}");
            assert_eq!(*labeled, want["labeled"].as_u64().unwrap(), "{what}: labeled");
            let (rel, method) = match interval.method {
                IntervalMethod::Wilson => (1e-12, "wilson"),
                IntervalMethod::T => (1e-9, "t"),
                IntervalMethod::Bootstrap { resamples, .. } => {
                    assert_eq!(resamples as u64, want["resamples"].as_u64().unwrap(), "{what}: resamples kept");
                    (1e-12, "bootstrap")
                }
                other => panic!("{what}: quality has no {other:?} interval"),
            };
            assert_eq!(method, want["method"].as_str().unwrap(), "{what}: method");
            close(&format!("{what} value"), interval.value, want["value"].as_f64().unwrap(), 1e-12, 1e-15);
            let scale = (want["upper"].as_f64().unwrap() - want["lower"].as_f64().unwrap()).abs();
            let abs = 1e-15_f64.max(if method == "t" { 1e-9 * scale } else { 0.0 });
            close(&format!("{what} lower"), interval.lower, want["lower"].as_f64().unwrap(), rel, abs);
            close(&format!("{what} upper"), interval.upper, want["upper"].as_f64().unwrap(), rel, abs);
        }
        Figure::Insufficient { labeled, needed, lacking } => {
            assert_eq!(status, "insufficient", "{what}: rein says insufficient ({lacking:?}), the reference {want}");
            assert_eq!(*labeled, want["labeled"].as_u64().unwrap(), "{what}: labeled");
            assert_eq!(*needed, want["needed"].as_u64().unwrap(), "{what}: needed");
            let mut got = serde_json::to_value(lacking).unwrap();
            let mut want = want["lacking"].clone();
            for side in [&mut got, &mut want] {
                if let Some(w) = side.get_mut("width") {
                    *w = Value::from((w.as_f64().unwrap() * 1e9).round() / 1e9);
                }
            }
            assert_eq!(got, want, "{what}: lacking");
        }
    }
}

/// A classifier case's rows, borrowed from the JSON.
fn classifier_rows<'a>(case: &'a Value, scores: &'a [Option<Vec<f64>>]) -> Vec<ClassifierRow<'a>> {
    case["rows"]
        .as_array()
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

fn scores_of(case: &Value) -> Vec<Option<Vec<f64>>> {
    case["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[1].as_array().map(|a| a.iter().map(|v| v.as_f64().unwrap()).collect()))
        .collect()
}

fn classes(case: &Value) -> Classes {
    let labels: Vec<&str> = case["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    match case["positive"].as_str() {
        Some(positive) => Classes::binary(labels, positive).unwrap(),
        None => Classes::multiclass(labels).unwrap(),
    }
}

#[test]
fn the_cases_cover_what_quality_meets() {
    let all = cases();
    let names: Vec<&str> = all["classifier"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for wanted in ["perfect", "worst", "ties", "absent", "multiclass", "tiny", "wide"] {
        assert!(names.iter().any(|n| n.contains(wanted)), "no case of {wanted}: {names:?}");
    }
    let regression: Vec<&str> =
        all["regression"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(regression.iter().any(|n| n.contains("constant")) && regression.iter().any(|n| n.contains("tiny")));
    // numpy's linspace(0, 1, 11), the ECE's edges
    let edges: Vec<f64> = all["edges"].as_array().unwrap().iter().map(|e| e.as_f64().unwrap()).collect();
    assert_eq!(edges, rein_monitor::calibration::bin_edges().to_vec());
}

#[test]
fn classifier_quality_agrees_with_scikit_learn() {
    for case in cases()["classifier"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let scores = scores_of(case);
        let rows = classifier_rows(case, &scores);
        let q = classifier_quality(&classes(case), &rows, &options(case)).unwrap();
        let want = &case["expected"];
        assert_eq!(q.feedback.predictions, want["predictions"].as_u64().unwrap(), "{name}");
        assert_eq!(q.feedback.labeled, want["labeled"].as_u64().unwrap(), "{name}");
        assert_eq!(q.with_probabilities, want["with_probabilities"].as_u64().unwrap(), "{name}");
        if let Some(rate) = q.feedback.rate {
            close(
                &format!("{name}: feedback rate"),
                rate.value,
                want["feedback"]["value"].as_f64().unwrap(),
                1e-12,
                0.0,
            );
            close(
                &format!("{name}: feedback lower"),
                rate.lower,
                want["feedback"]["lower"].as_f64().unwrap(),
                1e-12,
                1e-16,
            );
            close(
                &format!("{name}: feedback upper"),
                rate.upper,
                want["feedback"]["upper"].as_f64().unwrap(),
                1e-12,
                1e-16,
            );
        }
        for (what, got) in [
            ("accuracy", &q.accuracy),
            ("precision", &q.precision),
            ("recall", &q.recall),
            ("f1", &q.f1),
            ("auc", &q.auc),
            ("brier", &q.brier),
            ("ece", &q.ece),
        ] {
            figure(&format!("{name}: {what}"), got, &want[what]);
        }
        for (got, want) in q.per_label.iter().zip(want["per_label"].as_array().unwrap()) {
            assert_eq!(got.label, want["label"].as_str().unwrap());
            assert_eq!(got.truth, want["truth"].as_u64().unwrap());
            assert_eq!(got.predicted, want["predicted"].as_u64().unwrap());
            for (what, figure_got) in [
                ("precision", &got.precision),
                ("recall", &got.recall),
                ("f1", &got.f1),
                ("auc", &got.auc),
                ("brier", &got.brier),
            ] {
                figure(&format!("{name}: {what} of {}", got.label), figure_got, &want[what]);
            }
        }
        let confusion: Vec<Vec<u64>> = serde_json::from_value(want["confusion"].clone()).unwrap();
        assert_eq!(q.confusion.counts, confusion, "{name}: confusion matrix");
        for (got, want) in q.reliability.iter().zip(want["reliability"].as_array().unwrap()) {
            assert_eq!(got.count, want["count"].as_u64().unwrap(), "{name}: reliability");
            match (got.mean_confidence, want["mean_confidence"].as_f64()) {
                (Some(g), Some(w)) => close(&format!("{name}: mean confidence"), g, w, 1e-12, 1e-15),
                (None, None) => {}
                other => panic!("{name}: reliability bin {other:?}"),
            }
            match (got.observed, want["observed"].as_f64()) {
                (Some(g), Some(w)) => close(&format!("{name}: observed"), g, w, 1e-12, 1e-15),
                (None, None) => {}
                other => panic!("{name}: reliability bin {other:?}"),
            }
        }
    }
}

#[test]
fn regression_quality_agrees_with_scikit_learn_and_scipy() {
    for case in cases()["regression"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let rows: Vec<RegressionRow> = case["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| RegressionRow { predicted: r[0].as_f64().unwrap(), truth: r[1].as_f64() })
            .collect();
        let q = regression_quality(&rows, &options(case)).unwrap();
        let want = &case["expected"];
        assert_eq!(q.feedback.labeled, want["labeled"].as_u64().unwrap(), "{name}");
        for (what, got) in [("mae", &q.mae), ("rmse", &q.rmse), ("bias", &q.bias)] {
            figure(&format!("{name}: {what}"), got, &want[what]);
        }
    }
}
