//! `GET /v1/components/{name}/quality` through the real server and the example's real
//! model: predictions sent over four hourly windows of event time (`time_ms`), feedback
//! labeling most of them, and every figure of the answer checked against this test's own
//! computation from what the server answered: the counts, the feedback rate, accuracy,
//! precision, recall and F1, ROC AUC, the confusion matrix, the estimate from probabilities
//! calibrated on the reference windows, the slices and their gap; and the refusals.

mod common;

use std::sync::Arc;

use common::*;
use rein_monitor::estimate::{Calibration, EstimateOptions};
use rein_monitor::quality::{Classes, ClassifierRow, Scores};
use rein_telemetry::{Durability, SqliteStore};
use serde_json::{Value, json};

const HOUR: i64 = 3_600_000;
/// scipy's `norm.ppf(0.975)`.
const Z: f64 = 1.959963984540054;

/// Wilson's score interval of `c` in `n` at 95%, written out: (lower, upper).
fn wilson_interval(c: u64, n: u64) -> (f64, f64) {
    let (p, n) = (c as f64 / n as f64, n as f64);
    let center = (p + Z * Z / (2.0 * n)) / (1.0 + Z * Z / n);
    let half = Z * (p * (1.0 - p) / n + Z * Z / (4.0 * n * n)).sqrt() / (1.0 + Z * Z / n);
    (if c == 0 { 0.0 } else { center - half }, if c as f64 == n { 1.0 } else { center + half })
}

/// Newcombe's hybrid score interval of `c1/n1 − c2/n2` at 95%: (difference, lower, upper).
fn newcombe_interval(c1: u64, n1: u64, c2: u64, n2: u64) -> (f64, f64, f64) {
    let (p1, p2) = (c1 as f64 / n1 as f64, c2 as f64 / n2 as f64);
    let ((l1, u1), (l2, u2)) = (wilson_interval(c1, n1), wilson_interval(c2, n2));
    let d = p1 - p2;
    (d, d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt(), d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt())
}
const PER_WINDOW: usize = 100;

/// A seeded uniform in [0, 1): SplitMix64.
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() * (hi - lo + 1) as f64) as i64
    }
}

/// One prediction as answered, and the truth its feedback gave.
struct Answered {
    window: usize,
    https: bool,
    label: String,
    probabilities: Option<[f64; 2]>,
    truth: Option<&'static str>,
}

fn features(d: &mut Draws) -> Value {
    let tlds = ["com", "org", "net", "country", "new_gtld", "other"];
    json!({
        "url_length": d.int(20, 300), "num_dots": d.int(1, 8), "num_hyphens": d.int(0, 5),
        "has_ip_host": d.next() < 0.1, "uses_https": d.next() < 0.6, "domain_age_days": d.int(0, 8000),
        "num_subdomains": d.int(0, 5), "suspicious_words": d.int(0, 4), "tld_category": tlds[d.int(0, 5) as usize]
    })
}

#[track_caller]
fn close(what: &str, got: &Value, want: f64) {
    let got = got.as_f64().unwrap_or_else(|| panic!("{what}: {got}"));
    assert!((got - want).abs() < 1e-12, "{what}: the server {got}, the test {want}");
}

/// A Wilson figure of the answer against the counts.
#[track_caller]
fn wilson(what: &str, figure: &Value, successes: u64, trials: u64) {
    assert_eq!(figure["status"], "measured", "{what}: {figure:#}");
    assert_eq!(figure["labeled"], trials, "{what}");
    let i = &figure["interval"];
    assert_eq!(i["method"], "wilson", "{what}");
    let (lower, upper) = wilson_interval(successes, trials);
    close(what, &i["value"], successes as f64 / trials as f64);
    close(what, &i["lower"], lower);
    close(what, &i["upper"], upper);
}

/// The labeled rows' counts: [correct, labeled, tp, fp, fn].
fn counts<'a>(rows: impl Iterator<Item = &'a Answered>) -> [u64; 5] {
    let mut c = [0; 5];
    for a in rows {
        let Some(truth) = a.truth else { continue };
        let predicted = a.label == "phishing";
        let positive = truth == "phishing";
        c[0] += u64::from(predicted == positive);
        c[1] += 1;
        c[2] += u64::from(predicted && positive);
        c[3] += u64::from(predicted && !positive);
        c[4] += u64::from(!predicted && positive);
    }
    c
}

/// ROC AUC of the phishing probability by counting pairs (ties half).
fn auc(rows: &[&Answered]) -> f64 {
    let scored: Vec<(f64, bool)> =
        rows.iter().filter_map(|a| Some((a.probabilities?[1], a.truth? == "phishing"))).collect();
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (p, pos) in &scored {
        for (q, neg) in &scored {
            if *pos && !*neg {
                pairs += 1.0;
                wins += if p > q {
                    1.0
                } else if p == q {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    wins / pairs
}

#[tokio::test]
async fn quality_over_windows_is_what_the_answers_and_feedback_say() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let server = Server::recording(|t| t, store, dir.path(), Durability::Durable).await;
    let now = rein_telemetry::now_ms();
    let t0 = (now / HOUR - 6) * HOUR;
    let mut d = Draws(11);
    let mut answered = Vec::new();
    for window in 0..4 {
        let instances: Vec<Value> = (0..PER_WINDOW)
            .map(|i| json!({"features": features(&mut d), "time_ms": t0 + window as i64 * HOUR + i as i64 * 1000}))
            .collect();
        let https: Vec<bool> = instances.iter().map(|i| i["features"]["uses_https"].as_bool().unwrap()).collect();
        let (status, body) = server.predict(json!({"instances": instances})).await;
        assert_eq!(status, 200, "{body:#}");
        for (i, p) in body["predictions"].as_array().unwrap().iter().enumerate() {
            let id = p["prediction_id"].as_str().unwrap_or_else(|| panic!("{p:#}")).to_string();
            let label = p["output"]["label"].as_str().unwrap().to_string();
            let probabilities = p["output"]["probabilities"]
                .as_object()
                .map(|ps| [ps["legit"].as_f64().unwrap(), ps["phishing"].as_f64().unwrap()]);
            // the truth: phishing with the model's own probability, a fifth left unlabeled
            let positive = d.next() < probabilities.map_or(0.5, |p| p[1]);
            let truth = if positive { "phishing" } else { "legit" };
            let feedback = match i % 10 {
                0 | 5 => None,
                3 if truth == label => Some(json!({"prediction_id": id, "kind": "correct"})),
                3 => Some(json!({"prediction_id": id, "kind": "incorrect"})),
                _ => Some(json!({"prediction_id": id, "kind": "label", "label": truth})),
            };
            if let Some(f) = feedback {
                let (status, body) = server.post("/v1/feedback", f.to_string()).await;
                assert_eq!(status, 202, "{body:#}");
            }
            let truth = (i % 10 != 0 && i % 10 != 5).then_some(truth);
            answered.push(Answered { window, https: https[i], label, probabilities, truth });
        }
    }

    let at = t0 + 4 * HOUR;
    let (status, report) =
        server.get_json(&format!("/v1/components/phishing/quality?window=1h&windows=4&at={at}")).await;
    assert_eq!(status, 200, "{report:#}");
    assert_eq!((report["component"].as_str(), report["task"].as_str()), (Some("phishing"), Some("binary")));
    assert_eq!((report["window"].as_str(), report["window_ms"].as_i64()), (Some("1h"), Some(HOUR)));
    assert_eq!(report["as_of_ms"], at);
    let windows = report["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 4);

    // the reference: the first windows until 200 labeled rows with probabilities
    let labeled_scored =
        |w: usize| answered.iter().filter(|a| a.window == w && a.truth.is_some() && a.probabilities.is_some()).count();
    let mut taken = 0;
    let mut held = 0;
    while taken < 4 && held < 200 {
        held += labeled_scored(taken);
        taken += 1;
    }
    let reference = &report["reference"];
    assert_eq!(reference["from_ms"], t0);
    assert_eq!(reference["until_ms"], t0 + taken as i64 * HOUR);
    assert_eq!(reference["calibration"]["reference_rows"], held);
    let classes = Classes::binary(["legit", "phishing"], "phishing").unwrap();
    let in_reference: Vec<&Answered> = answered.iter().filter(|a| a.window < taken).collect();
    let rows: Vec<ClassifierRow> = in_reference
        .iter()
        .map(|a| ClassifierRow {
            predicted: &a.label,
            scores: a.probabilities.as_ref().map_or(Scores::Absent, |p| Scores::ByLabel(p)),
            truth: a.truth,
        })
        .collect();
    let calibration = Calibration::fit(&classes, &rows, &EstimateOptions::default()).unwrap();
    assert_eq!(reference["calibration"]["trusted"], calibration.summary.trusted);

    for (w, got) in windows.iter().enumerate() {
        let mine: Vec<&Answered> = answered.iter().filter(|a| a.window == w).collect();
        assert_eq!(got["from_ms"], t0 + w as i64 * HOUR);
        assert_eq!(got["predictions"], PER_WINDOW);
        assert_eq!(got["in_reference"], w < taken);
        let [correct, labeled, tp, fp, fn_] = counts(mine.iter().copied());
        assert_eq!(got["feedback"]["labeled"], labeled);
        let rate = &got["feedback"]["rate"];
        let (lower, upper) = wilson_interval(labeled, PER_WINDOW as u64);
        close("feedback rate", &rate["value"], labeled as f64 / PER_WINDOW as f64);
        close("feedback rate lower", &rate["lower"], lower);
        close("feedback rate upper", &rate["upper"], upper);
        let m = &got["measured"];
        wilson(&format!("window {w}: accuracy"), &m["accuracy"], correct, labeled);
        wilson(&format!("window {w}: precision"), &m["precision"], tp, tp + fp);
        wilson(&format!("window {w}: recall"), &m["recall"], tp, tp + fn_);
        close("f1", &m["f1"]["interval"]["value"], 2.0 * tp as f64 / (2 * tp + fp + fn_) as f64);
        assert_eq!(m["f1"]["interval"]["method"], "bootstrap");
        close("auc", &m["auc"]["interval"]["value"], auc(&mine));
        let tn = labeled - tp - fp - fn_;
        assert_eq!(m["confusion"]["counts"], json!([[tn, fp], [fn_, tp]]));

        // the estimate: calibrated probabilities summed over the window's rows with them
        let e = &got["estimated"];
        let scored: Vec<&&Answered> = mine.iter().filter(|a| a.probabilities.is_some()).collect();
        assert_eq!(e["with_probabilities"], scored.len());
        let mut expected = [[0.0; 2]; 2];
        for a in &scored {
            let q = calibration.calibrated(&a.probabilities.unwrap());
            let p = usize::from(a.label == "phishing");
            expected[0][p] += q[0];
            expected[1][p] += q[1];
        }
        let n = scored.len() as f64;
        close("estimated accuracy", &e["accuracy"]["interval"]["value"], (expected[0][0] + expected[1][1]) / n);
        assert_eq!(e["accuracy"]["interval"]["method"], "normal");
        for t in 0..2 {
            for p in 0..2 {
                let got = e["confusion"]["counts"][t][p].as_f64().unwrap();
                assert!((got - expected[t][p]).abs() < 1e-9, "expected confusion {t},{p}: {got} {}", expected[t][p]);
            }
        }
        assert_eq!(got["beside"][0]["metric"], "accuracy");
        assert_eq!(got["beside"][0]["realized"]["value"], m["accuracy"]["interval"]["value"]);
        assert_eq!(got["beside"][0]["estimated"]["value"], e["accuracy"]["interval"]["value"]);
        assert_eq!(got["slices"], json!([]), "the example declares no slices");
    }
    let notes = report["notes"].as_array().unwrap();
    assert!(notes[0].as_str().unwrap().contains("cannot see concept drift"), "{notes:?}");

    // sliced by a boolean feature: each slice's accuracy, and the gap between them
    let (status, sliced) =
        server.get_json(&format!("/v1/components/phishing/quality?window=1h&windows=4&at={at}&slice=uses_https")).await;
    assert_eq!(status, 200, "{sliced:#}");
    let last = &sliced["windows"][3]["slices"][0];
    assert_eq!(last["field"], "uses_https");
    let mut measured = Vec::new();
    for s in last["slices"].as_array().unwrap() {
        let https = s["value"] == "true";
        let [correct, labeled, ..] = counts(answered.iter().filter(|a| a.window == 3 && a.https == https));
        wilson(&format!("accuracy where uses_https is {https}"), &s["figures"]["accuracy"], correct, labeled);
        measured.push((correct as f64 / labeled as f64, correct, labeled, s["value"].as_str().unwrap().to_string()));
    }
    measured.sort_by(|a, b| b.0.total_cmp(&a.0));
    let gap = last["gaps"].as_array().unwrap().iter().find(|g| g["metric"] == "accuracy").unwrap();
    let (hi, lo) = (&measured[0], &measured[1]);
    assert_eq!((gap["highest"].as_str().unwrap(), gap["lowest"].as_str().unwrap()), (hi.3.as_str(), lo.3.as_str()));
    let (difference, lower, upper) = newcombe_interval(hi.1, hi.2, lo.1, lo.2);
    assert_eq!(gap["gap"]["method"], "newcombe");
    close("gap", &gap["gap"]["value"], difference);
    close("gap lower", &gap["gap"]["lower"], lower);
    close("gap upper", &gap["gap"]["upper"], upper);
    server.stop().await;
}

#[tokio::test]
async fn a_bad_window_slice_or_component_is_refused_saying_what_it_takes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    // the component declares what its quality is sliced by
    let declare = |t: String| {
        t.replacen(
            "positive_label = \"phishing\"\n",
            "positive_label = \"phishing\"\nslices = [\"uses_https\", \"mode\"]\n",
            1,
        )
    };
    let server = Server::recording(declare, store, dir.path(), Durability::Durable).await;
    let (status, body) = server.get_json("/v1/components/phishing/quality?window=garbage").await;
    assert_eq!(status, 422, "{body:#}");
    assert_error(&body, "bad_query");
    assert!(body["error"]["message"].as_str().unwrap().contains("`window` is `garbage`"), "{body:#}");
    assert!(body["error"]["details"]["expected"].as_str().unwrap().contains("1h, 1d or 7d"), "{body:#}");
    for bad in ["windows=0", "windows=many", "at=yesterday", "slice=", "nope=1"] {
        let (status, body) = server.get_json(&format!("/v1/components/phishing/quality?{bad}")).await;
        assert_eq!(status, 422, "{bad}: {body:#}");
        assert_error(&body, "bad_query");
    }
    for (slice, says) in
        [("url_lenght", "did you mean `url_length`?"), ("context.region", "does not keep the request's context")]
    {
        let (status, body) = server.get_json(&format!("/v1/components/phishing/quality?slice={slice}")).await;
        assert_eq!(status, 422, "{body:#}");
        assert!(body["error"]["message"].as_str().unwrap().contains(says), "{body:#}");
        let fields = body["error"]["details"]["fields"].as_array().unwrap();
        assert!(fields.contains(&json!("uses_https")) && fields.contains(&json!("mode")), "{body:#}");
    }
    let (status, body) = server.get_json("/v1/components/nope/quality").await;
    assert_eq!(status, 404, "{body:#}");
    assert_error(&body, "unknown_component");
    // nothing recorded: every window answers, with nothing to judge
    let (status, body) = server.get_json("/v1/components/phishing/quality?window=1h&windows=2").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["windows"][1]["predictions"], 0);
    assert_eq!(body["windows"][1]["measured"]["accuracy"]["status"], "insufficient");
    let fields: Vec<&Value> = body["windows"][1]["slices"].as_array().unwrap().iter().map(|s| &s["field"]).collect();
    assert_eq!(fields, [&json!("uses_https"), &json!("mode")], "the declared slices, without ?slice=");
    let (_, body) = server.get_json("/v1/components/phishing/quality?window=1h&windows=2&slice=has_ip_host").await;
    assert_eq!(body["windows"][1]["slices"].as_array().unwrap().len(), 1, "?slice= in their place");
    server.stop().await;
}
