//! Request metrics count what the client got. In a test binary of its own, because the
//! metrics recorder is global to the process and other tests would add to the counts.

mod common;

use common::*;

/// Sum of `rein_requests_total` samples of the phishing component with this status.
fn requests_with_status(metrics: &str, status: u16) -> u64 {
    let label = format!("status=\"{status}\"");
    metrics
        .lines()
        .filter(|l| l.starts_with("rein_requests_total{") && l.contains("component=\"phishing\"") && l.contains(&label))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_refused_for_telemetry_is_counted_as_503_not_200() {
    let (_dir, stalled, server) = stalled_with_a_small_backlog().await;

    let answers = predict_many(&server, 60).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count() as u64;
    let refused = answers.iter().filter(|(s, _)| *s == 503).count() as u64;
    assert!(refused > 0, "the backlog of 8 must fill while the store is stalled");
    assert_eq!(ok + refused, 60);

    let (_, metrics) = server.get("/metrics").await;
    assert_eq!(requests_with_status(&metrics, 200), ok, "{metrics}");
    assert_eq!(requests_with_status(&metrics, 503), refused, "{metrics}");
    let sample = |metrics: &str, prefix: &str| {
        metrics.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
    };

    // the store is back: every accepted event is written, in fewer commits than events
    stalled.release();
    server.running.as_ref().unwrap().app.telemetry.as_ref().unwrap().flush().await.unwrap();
    let (_, metrics) = server.get("/metrics").await;
    let written =
        sample(&metrics, "rein_telemetry_events_total{state=\"written\"}").expect("written events are exported");
    let commits = sample(&metrics, "rein_telemetry_commits_total").expect("commits are exported");
    assert_eq!(sample(&metrics, "rein_telemetry_backlog_events "), Some(0), "{metrics}");
    assert_eq!(written, ok, "{metrics}");
    assert!((1..=written).contains(&commits), "{commits} commits for {written} events");
    server.stop().await;
}
