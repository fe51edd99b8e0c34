//! `rein review` end to end: the phishing example served by `rein serve` (its
//! expected_value policy), predictions sent over HTTP, the truth fed back for most of them
//! (nearer to even odds than the model's `p` says: an overconfident model), then the review read
//! from the store and its figures checked against what this test computes from the same
//! answers; and every refusal, named.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rein_monitor::calibration::Isotonic;
use serde_json::{Value, json};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
/// 2026-01-01T00:00:00Z: the predictions' event times count up from it, one a second, so
/// their order in the store is the order they were sent.
const START_MS: u64 = 1_767_225_600_000;

fn rein(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rein")).args(args).output().expect("rein runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn phishing() -> PathBuf {
    Path::new(ROOT).join("examples/phishing-warning/rein.toml")
}

/// A page's features, drawn so that the model's `p` spreads over [0, 1].
fn page(rng: &mut ChaCha8Rng) -> Value {
    let phishy = rng.random_bool(0.5);
    let pick = |rng: &mut ChaCha8Rng, lo: i64, hi: i64| rng.random_range(lo..=hi);
    let tld = ["com", "org", "net", "country", "new_gtld", "other"][rng.random_range(0..6)];
    json!({
        "url_length": if phishy { pick(rng, 40, 300) } else { pick(rng, 10, 120) },
        "num_dots": if phishy { pick(rng, 1, 8) } else { pick(rng, 1, 4) },
        "num_hyphens": if phishy { pick(rng, 0, 6) } else { pick(rng, 0, 2) },
        "has_ip_host": phishy && rng.random_bool(0.3),
        "uses_https": !phishy || rng.random_bool(0.5),
        "domain_age_days": if phishy { pick(rng, 0, 400) } else { pick(rng, 30, 6000) },
        "num_subdomains": if phishy { pick(rng, 0, 5) } else { pick(rng, 0, 2) },
        "suspicious_words": if phishy { pick(rng, 0, 5) } else { pick(rng, 0, 1) },
        "tld_category": tld,
    })
}

/// A prediction as answered, and the truth this test fed back for it.
struct Sent {
    p: f64,
    held: bool,
}

/// Sends `n` predictions (the `i`th at `START_MS + i` seconds, its own unit) and, for all but
/// every seventh, its truth, `phishing` with probability 0.1 + 0.8·p (p as the model says
/// it: a model too sure either way);
/// every third feedback says `correct` or `incorrect` instead of the label. Also `guarded`
/// predictions an input guardrail decides, with feedback. Returns the labeled predictions
/// the policy decided, in the order sent.
async fn send(addr: &str, n: usize, guarded: usize, seed: u64) -> Vec<Sent> {
    let client = reqwest::Client::new();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut labeled = Vec::new();
    let instances: Vec<Value> = (0..n + guarded)
        .map(|i| {
            let mut instance = json!({"unit": format!("u{i}"), "time_ms": START_MS + 1000 * i as u64,
                "features": page(&mut rng)});
            if i >= n {
                instance["context"] = json!({"domain": "accounts.example.com"});
            }
            instance
        })
        .collect();
    for (batch_at, batch) in instances.chunks(50).enumerate() {
        let answer: Value = client
            .post(format!("http://{addr}/v1/components/phishing/predict"))
            .json(&json!({ "instances": batch }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for (k, prediction) in answer["predictions"].as_array().unwrap_or_else(|| panic!("{answer}")).iter().enumerate()
        {
            let i = batch_at * 50 + k;
            if i % 7 == 6 {
                continue; // no feedback
            }
            let reason = &prediction["decision"]["reason"];
            let by_policy = reason["kind"] == "expected_value";
            assert_eq!(by_policy, i < n, "{prediction}");
            let p = if by_policy { reason["p"].as_f64().unwrap() } else { 0.5 };
            let held = rng.random_bool(0.1 + 0.8 * p);
            let truth = if held { "phishing" } else { "legit" };
            let mut feedback = json!({"prediction_id": prediction["prediction_id"], "kind": "label", "label": truth});
            if i % 3 == 0 {
                let right = prediction["output"]["label"] == truth;
                feedback = json!({"prediction_id": prediction["prediction_id"],
                    "kind": if right { "correct" } else { "incorrect" }});
            }
            let status =
                client.post(format!("http://{addr}/v1/feedback")).json(&feedback).send().await.unwrap().status();
            assert_eq!(status, 202);
            if by_policy {
                labeled.push(Sent { p, held });
            }
        }
    }
    labeled
}

/// The phishing example's values, most forceful first: (mode, right, wrong).
const VALUES: [(&str, f64, f64); 4] =
    [("automate", 25.0, -200.0), ("prompt", 15.0, -15.0), ("annotate", 2.0, -4.0), ("none", -20.0, 0.0)];

/// The mode of the highest expected value at `p`, a tie to the less forceful.
fn choose(p: f64) -> &'static str {
    let mut best = ("", f64::NEG_INFINITY);
    for (mode, right, wrong) in VALUES {
        let ev = p * right + (1.0 - p) * wrong;
        if ev >= best.1 {
            best = (mode, ev);
        }
    }
    best.0
}

fn value(mode: &str, held: bool) -> f64 {
    let (_, right, wrong) = VALUES.iter().find(|v| v.0 == mode).unwrap();
    if held { *right } else { *wrong }
}

#[track_caller]
fn close(what: &str, got: &Value, want: f64) {
    let got = got.as_f64().unwrap_or_else(|| panic!("{what}: {got}"));
    assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{what}: rein {got}, this test {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_re_derives_the_thresholds_from_the_feedback() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // served with a generous model timeout: a batch of 50 on a loaded machine must not fall back
    let served = dir.path().join("served");
    std::fs::create_dir(&served).unwrap();
    let text = std::fs::read_to_string(phishing()).unwrap();
    assert!(text.contains("timeout_ms = 50 }"), "the example's model timeout moved");
    std::fs::write(served.join("rein.toml"), text.replace("timeout_ms = 50 }", "timeout_ms = 10000 }")).unwrap();
    std::fs::copy(phishing().with_file_name("model.onnx"), served.join("model.onnx")).unwrap();
    let (mut server, addr) = common::serve(&served.join("rein.toml"), "durable", &data, Stdio::null());
    let sent = send(&addr, 700, 3, 5).await;
    server.kill().unwrap();
    server.wait().unwrap();

    let system = phishing();
    let args = ["review", system.to_str().unwrap(), "phishing", "--data-dir", data.to_str().unwrap()];
    let (ok, stdout, stderr) = rein(&[&args[..], &["--json"]].concat());
    assert!(ok, "{stderr}");
    let r: Value = serde_json::from_str(&stdout).unwrap();

    // what was read: every labeled prediction the policy decided, the guarded ones left out
    let n = sent.len();
    let held = sent.iter().filter(|s| s.held).count();
    assert_eq!(r["labeled"], n as u64);
    assert_eq!(r["held"], held as u64);
    assert_eq!(r["predictions"]["with_feedback"], n as u64 + 3);
    assert_eq!(r["predictions"]["left_out"], json!({"not_by_the_policy": 3, "no_truth": 0}));
    assert_eq!(r["bet"], "the truth is `phishing`");

    // the reliability table and the ECE, over bins (i/10, (i+1)/10]
    let bin = |p: f64| (1..10).filter(|i| f64::from(*i) * 0.1 < p).count();
    let mut ece = 0.0;
    for (b, got) in r["calibration"]["bins"].as_array().unwrap().iter().enumerate() {
        let in_bin: Vec<&Sent> = sent.iter().filter(|s| bin(s.p) == b).collect();
        assert_eq!(got["count"], in_bin.len() as u64, "bin {b}");
        if in_bin.is_empty() {
            continue;
        }
        let observed = in_bin.iter().filter(|s| s.held).count() as f64 / in_bin.len() as f64;
        let mean_p = in_bin.iter().map(|s| s.p).sum::<f64>() / in_bin.len() as f64;
        close(&format!("bin {b} observed"), &got["observed"], observed);
        close(&format!("bin {b} mean p"), &got["mean_confidence"], mean_p);
        let wilson = &got["interval"];
        assert!(wilson["lower"].as_f64().unwrap() <= observed && observed <= wilson["upper"].as_f64().unwrap());
        ece += in_bin.iter().map(|s| f64::from(u8::from(s.held)) - s.p).sum::<f64>().abs() / n as f64;
    }
    close("ECE", &r["calibration"]["ece"]["value"], ece);
    assert!(ece > 0.05, "the model is overconfident by construction: ECE {ece}");

    // today's thresholds: where the stated values' lines cross
    let thresholds = r["thresholds"].as_array().unwrap();
    let today: Vec<(&str, &str, f64)> = vec![
        ("none", "annotate", 4.0 / 26.0),
        ("annotate", "prompt", 11.0 / 24.0),
        ("prompt", "automate", 185.0 / 195.0),
    ];
    assert_eq!(thresholds.len(), 3);
    // re-derived: where the isotonic calibration of the same answers crosses them
    let p: Vec<f64> = sent.iter().map(|s| s.p).collect();
    let outcome: Vec<f64> = sent.iter().map(|s| f64::from(u8::from(s.held))).collect();
    let calibration = Isotonic::fit(&p, &outcome).unwrap();
    for (got, (below, above, at)) in thresholds.iter().zip(&today) {
        assert_eq!((got["below"].as_str().unwrap(), got["above"].as_str().unwrap()), (*below, *above));
        close("today's threshold", &got["today"], *at);
        let rederived = calibration.exceeds_above(*at).map_or(1.0, |t| t.clamp(0.0, 1.0));
        close(&format!("re-derived {below} → {above}"), &got["rederived"]["value"], rederived);
    }

    let automate = thresholds[2]["rederived"]["value"].as_f64().unwrap();
    assert!(automate > 185.0 / 195.0, "p = 0.95 holds less often than it says: automate later, {automate}");

    // value per prediction: today's by p; re-derived by the calibration of the other folds
    let today_value = sent.iter().map(|s| value(choose(s.p), s.held)).sum::<f64>() / n as f64;
    close("today's value", &r["value"]["today"]["value"], today_value);
    let mut rederived_value = 0.0;
    for fold in 0..5 {
        let (p, outcome): (Vec<f64>, Vec<f64>) =
            (0..n).filter(|i| i % 5 != fold).map(|i| (sent[i].p, outcome[i])).unzip();
        let fitted = Isotonic::fit(&p, &outcome).unwrap();
        for i in (fold..n).step_by(5) {
            rederived_value += value(choose(fitted.predict(sent[i].p)), sent[i].held) / n as f64;
        }
    }
    close("re-derived value", &r["value"]["rederived"]["value"], rederived_value);
    close("gain", &r["value"]["gain"]["value"], rederived_value - today_value);
    let gain = &r["value"]["gain"];
    assert!(gain["lower"].as_f64().unwrap() <= gain["value"].as_f64().unwrap());
    assert_eq!(r["verdict"], "gain", "{}", r["summary"]);
    assert!(gain["lower"].as_f64().unwrap() > 0.0);

    // the same as text, with the verdict in words and the thresholds policy that states them
    let (ok, text, stderr) = rein(&args);
    assert!(ok, "{stderr}");
    assert!(text.contains(&format!("on {n} labeled predictions")), "{text}");
    let left_out = format!("left out of {} with feedback: 3 decided by a guardrail or the fallback", n + 3);
    assert!(text.contains(&left_out), "{text}");
    let automate_line = text.lines().find(|l| l.trim_start().starts_with("prompt → automate")).unwrap();
    assert!(automate_line.contains("today 0.949   re-derived 1 (never)"), "{text}");
    let gain_text =
        format!("verdict: the re-derived thresholds would gain {:.3} per prediction", rederived_value - today_value);
    assert!(text.contains(&gain_text), "{text}");
    let policy =
        text.lines().find(|l| l.trim_start().starts_with("thresholds = {")).unwrap_or_else(|| panic!("{text}"));
    let stated = std::fs::read_to_string(&system)
        .unwrap()
        .replace("policy = \"expected_value\"", &format!("policy = \"thresholds\"\n{}", policy.trim()))
        .lines()
        .filter(|l| !l.starts_with("values."))
        .collect::<Vec<_>>()
        .join("\n");
    let restated = dir.path().join("rein.toml");
    std::fs::write(&restated, stated).unwrap();
    std::fs::copy(system.with_file_name("model.onnx"), dir.path().join("model.onnx")).unwrap();
    let (ok, _, stderr) = rein(&["check", restated.to_str().unwrap()]);
    assert!(ok, "the thresholds policy the review prints is one rein takes: {stderr}");

    // a period: --since the middle reviews the later half
    let since = (START_MS + 1000 * 350).to_string();
    let (ok, stdout, stderr) = rein(&[&args[..], &["--json", "--since", &since]].concat());
    assert!(ok, "{stderr}");
    let later: Value = serde_json::from_str(&stdout).unwrap();
    let expected = (350..700).filter(|i| i % 7 != 6).count() as u64;
    assert_eq!(later["labeled"], expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_refuses_what_it_cannot_review_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let system = phishing();
    let system = system.to_str().unwrap();
    let empty = dir.path().join("nothing-here");

    let (ok, _, stderr) = rein(&["review", system, "phish", "--data-dir", empty.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("no component is named `phish`; the system has: phishing"), "{stderr}");

    let triage = format!("{ROOT}/examples/legal-triage/rein.toml");
    let (ok, _, stderr) = rein(&["review", &triage, "topic", "--data-dir", empty.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("component `topic` has a thresholds policy"), "{stderr}");
    assert!(stderr.contains("re-derives the thresholds an expected_value policy derives"), "{stderr}");

    let (ok, _, stderr) = rein(&["review", system, "phishing", "--data-dir", empty.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains(&format!("no telemetry store in {}", empty.display())), "{stderr}");

    // 20 predictions, 18 with feedback: too few to tell
    let data = dir.path().join("data");
    let (mut server, addr) = common::serve(Path::new(system), "durable", &data, Stdio::null());
    let sent = send(&addr, 20, 0, 9).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let held = sent.iter().filter(|s| s.held).count();
    let (ok, stdout, stderr) = rein(&["review", system, "phishing", "--data-dir", data.to_str().unwrap()]);
    assert!(!ok, "{stdout}");
    let said = format!(
        "`phishing`: too few labeled predictions to tell: 18 ({held} where the bet held, {} where it did not); \
         at least 30 needed, 5 of each",
        18 - held
    );
    assert!(stderr.contains(&said), "{stderr}");
    assert!(stderr.contains("hint: feedback with the truth"), "{stderr}");
}
