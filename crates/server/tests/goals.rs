//! `GET /v1/goals` through the real server: the phishing example's goals measured over what
//! was recorded, each figure the one the test works out from what it sent; bad parameters
//! refused clearly.

mod common;

use std::sync::Arc;

use common::*;
use rein_telemetry::{Durability, SqliteStore};
use serde_json::{Value, json};

const DAY_MS: u64 = 86_400_000;

/// Wilson's score interval at 95%, written out here as the textbook gives it.
fn wilson(k: f64, n: f64) -> (f64, f64) {
    let z = 1.959_963_984_540_054_f64;
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    (centre - half, centre + half)
}

fn goal<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["goals"].as_array().unwrap().iter().find(|g| g["id"] == id).unwrap_or_else(|| panic!("no goal {id}"))
}

fn close(got: &Value, want: f64) {
    let got = got.as_f64().unwrap_or_else(|| panic!("{got} is not a number"));
    assert!((got - want).abs() < 1e-9, "{got} != {want}");
}

/// Two days of a browser's traffic: 40 users a day. On the second day 6 of them enter their
/// credentials after a page was scored; on the first, none do. `few_credentials_entered`
/// (at most 5% of the units a day) is then missed on the second day and not judged on the
/// first, whose interval still holds 5%.
#[tokio::test]
async fn the_goals_are_the_figures_worked_out_from_what_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let server = Server::recording(|t| t, store, dir.path(), Durability::Durable).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let day2 = now / DAY_MS * DAY_MS - DAY_MS; // yesterday, a closed window
    let day1 = day2 - DAY_MS;
    for (day, entered) in [(day1, 0), (day2, 6)] {
        for u in 0..40u64 {
            let at = day + 3_600_000 + u * 60_000;
            let features = if u % 2 == 0 { page() } else { benign() };
            let unit = format!("user-{u}");
            let (status, body) = server.predict(json!({"unit": unit, "features": features, "time_ms": at})).await;
            assert_eq!(status, 200, "{body:#}");
            if u < entered {
                let id = body["prediction_id"].as_str().unwrap();
                let outcome =
                    json!({"prediction_id": id, "unit": unit, "name": "credentials_entered", "time_ms": at + 5_000});
                let (status, body) = server.post("/v1/outcomes", outcome.to_string()).await;
                assert_eq!(status, 202, "{body:#}");
            }
        }
    }

    let at = day2 + DAY_MS; // the second day has just closed
    let (status, report) = server.get_json(&format!("/v1/goals?at={at}&windows=2")).await;
    assert_eq!(status, 200, "{report:#}");
    assert_eq!(report["as_of_ms"], at);
    assert_eq!(report["as_of"], "given");
    assert_eq!(report["top"], json!(["protect_users"]));

    let entered = goal(&report, "few_credentials_entered");
    assert_eq!(entered["layer"], "leading_indicator");
    let latest = &entered["latest"];
    assert_eq!((latest["from_ms"].as_u64(), latest["until_ms"].as_u64()), (Some(day2), Some(day2 + DAY_MS)));
    assert_eq!((latest["count"].as_u64(), latest["matching"].as_u64()), (Some(40), Some(6)));
    close(&latest["value"], 6.0 / 40.0);
    let (lo, hi) = wilson(6.0, 40.0);
    close(&latest["interval"]["lower"], lo);
    close(&latest["interval"]["upper"], hi);
    assert!(lo > 0.05, "the whole interval is above the target");
    assert_eq!(entered["status"], "missed");
    let trend = entered["trend"]["windows"].as_array().unwrap();
    assert_eq!(trend.len(), 2);
    assert_eq!((trend[0]["count"].as_u64(), trend[0]["matching"].as_u64()), (Some(40), Some(0)));
    close(&trend[0]["value"], 0.0);
    let (_, hi) = wilson(0.0, 40.0);
    close(&trend[0]["interval"]["upper"], hi);
    assert!(hi > 0.05);
    assert_eq!(trend[0]["status"], "not_judged");

    // every page was scored by the model: no fallback in the newest hour that held traffic
    let (status, report) = server.get_json(&format!("/v1/goals?at={}", day2 + 2 * 3_600_000)).await;
    assert_eq!(status, 200, "{report:#}");
    let scored = &goal(&report, "every_page_scored")["latest"];
    assert_eq!(scored["count"], 40);
    close(&scored["value"], 0.0);
    // what no telemetry shows says so
    let protect = goal(&report, "protect_users");
    assert_eq!(protect["status"], "not_measured");
    assert!(protect["note"].as_str().unwrap().contains("surveys"));
}

#[tokio::test]
async fn parameters_it_cannot_read_are_refused_with_the_form_expected() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let server = Server::recording(|t| t, store, dir.path(), Durability::Durable).await;
    // `windows` is how many, as on the quality route; `window` (a length there) is each
    // goal's own here, so the parameter is refused, its name and the expected form said
    for (query, names) in [
        ("windows=abc", "`windows` is `abc`"),
        ("windows=0", "`windows` is `0`"),
        ("windows=367", "from 1 to 366"),
        ("windows=-1", "`windows` is `-1`"),
        ("at=yesterday", "`at` is `yesterday`"),
        ("window=3", "unknown field `window`"),
    ] {
        let (status, body) = server.get_json(&format!("/v1/goals?{query}")).await;
        assert_eq!(status, 422, "{query}: {body:#}");
        assert_error(&body, "bad_query");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{query}: {message}");
    }
    let (_, body) = server.get_json("/v1/goals?window=3").await;
    let expected = body["error"]["details"]["expected"].as_str().unwrap();
    assert!(expected.starts_with("?windows=&at=") && expected.contains("set in the system file"), "{expected}");
    // nothing recorded yet: every measured goal has no data, none fails
    let (status, report) = server.get_json("/v1/goals").await;
    assert_eq!(status, 200, "{report:#}");
    assert_eq!(report["as_of"], "clock");
    assert_eq!(goal(&report, "every_page_scored")["status"], "no_data");
}

#[tokio::test]
async fn without_telemetry_there_is_nothing_to_measure() {
    let server = Server::start(|t| t).await;
    let (status, body) = server.get_json("/v1/goals").await;
    assert_eq!(status, 404, "{body:#}");
    assert_error(&body, "telemetry_off");
}
