//! The webhook alerts are POSTed to (`[alerts] webhook`), off the request path.
//!
//! Each alert that opens or closes becomes one CloudEvents 1.0 event in the structured
//! mode ([`event`]): a JSON body of content type `application/cloudevents+json` holding
//! `specversion`, `id`, `source`, `type` (`dev.rein.alert.opened` or `dev.rein.alert.closed`),
//! `subject`, `time`, `datacontenttype` and `data`, the alert as `GET /v1/alerts` shows it.
//!
//! [`Sender::send`] only queues it and returns: it never waits, so neither the monitors'
//! task nor any request is held by a webhook that hangs or fails. The queue is bounded
//! (`queue`, 1,000 by default): when full, the oldest event waiting is dropped for the new
//! one (the newest state of an alert matters most) and counted. One task sends them in
//! order, each attempt bounded by `timeout_ms`; an attempt that times out, cannot connect,
//! or is answered 5xx, 408 or 429 is tried again after `backoff_ms`, doubling each time (at
//! most five minutes), up to `retries` times; another 4xx is not retried. Every event ends
//! counted once in `rein_webhook_deliveries_total{result}`: `sent`, `failed` (retries
//! spent, or refused) or `dropped` (pushed out of the full queue, or still queued at
//! shutdown); `rein_webhook_queue` is how many wait. Events are not kept across a restart:
//! the store keeps every alert, which `GET /v1/alerts` lists.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use metrics::{Counter, Gauge};
use rein_monitor::alerts::{Alert, AlertState};
use rein_system::Webhook;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The longest wait between two attempts, however many came before.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The CloudEvents content type of a structured event.
pub const CONTENT_TYPE: &str = "application/cloudevents+json; charset=utf-8";

/// One alert's opening or closing as a CloudEvents 1.0 structured event of system `system`.
pub fn event(system: &str, alert: &Alert) -> Value {
    let (kind, what) = match alert.state {
        AlertState::Open => ("dev.rein.alert.opened", "opened"),
        AlertState::Closed => ("dev.rein.alert.closed", "closed"),
    };
    json!({
        "specversion": "1.0",
        "id": format!("{}.{what}", alert.id),
        "source": format!("/rein/systems/{system}/monitors/{}", alert.monitor),
        "type": kind,
        "subject": alert.id,
        "time": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        "datacontenttype": "application/json",
        "severity": alert.severity,
        "data": alert,
    })
}

/// How a sender's events ended, since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Deliveries {
    pub sent: u64,
    /// Retries spent, or refused by the webhook.
    pub failed: u64,
    /// Pushed out of the full queue, or still queued at shutdown.
    pub dropped: u64,
    /// Waiting now.
    pub queued: u64,
}

/// Sends events to the webhook from a bounded queue, on a task of its own.
pub struct Sender {
    settings: Webhook,
    client: reqwest::Client,
    queue: Mutex<VecDeque<Value>>,
    wake: Notify,
    task: Mutex<Option<JoinHandle<()>>>,
    sent: Counter,
    failed: Counter,
    dropped: Counter,
    waiting: Gauge,
    /// sent, failed, dropped: as the counters, for this sender alone.
    counts: [AtomicU64; 3],
}

impl Sender {
    /// Call after the metrics recorder is installed.
    pub fn new(settings: Webhook, system: &str) -> Sender {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.timeout)
            .user_agent(format!("rein/{} ({system})", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let result = |r: &'static str| {
            let c = metrics::counter!(crate::metrics::WEBHOOK_DELIVERIES, "result" => r);
            c.increment(0);
            c
        };
        let waiting = metrics::gauge!(crate::metrics::WEBHOOK_QUEUE);
        waiting.set(0.0);
        Sender {
            settings,
            client,
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            task: Mutex::new(None),
            sent: result("sent"),
            failed: result("failed"),
            dropped: result("dropped"),
            waiting,
            counts: Default::default(),
        }
    }

    /// Where it sends.
    pub fn url(&self) -> &str {
        &self.settings.url
    }

    /// How its events ended so far.
    pub fn deliveries(&self) -> Deliveries {
        let n = |i: usize| self.counts[i].load(Ordering::Relaxed);
        Deliveries { sent: n(0), failed: n(1), dropped: n(2), queued: self.queued() as u64 }
    }

    fn count(&self, result: usize, n: u64) {
        self.counts[result].fetch_add(n, Ordering::Relaxed);
        match result {
            0 => self.sent.increment(n),
            1 => self.failed.increment(n),
            _ => self.dropped.increment(n),
        }
    }

    /// Queues `event` and returns at once; when the queue is full, the oldest waiting event
    /// is dropped (and counted).
    pub fn send(&self, event: Value) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.len() >= self.settings.queue {
            queue.pop_front();
            self.count(2, 1);
            tracing::warn!(
                webhook = %self.settings.url,
                queue = self.settings.queue,
                "the webhook's queue is full: its oldest event was dropped (rein_webhook_deliveries_total{{result=\"dropped\"}})"
            );
        }
        queue.push_back(event);
        self.waiting.set(queue.len() as f64);
        drop(queue);
        self.wake.notify_one();
    }

    /// Events waiting to be sent (the one being sent is not counted).
    pub fn queued(&self) -> usize {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Starts the sending task, once. Call within a tokio runtime.
    pub fn start(self: &std::sync::Arc<Self>) {
        let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if task.is_none() {
            let this = self.clone();
            *task = Some(tokio::spawn(async move { this.run().await }));
        }
    }

    /// Stops the task; events still queued are counted as dropped.
    pub fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if !queue.is_empty() {
            self.count(2, queue.len() as u64);
            tracing::warn!(webhook = %self.settings.url, events = queue.len(), "stopping: events not yet sent are dropped");
            queue.clear();
            self.waiting.set(0.0);
        }
    }

    async fn run(&self) {
        loop {
            let next = {
                let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                let next = queue.pop_front();
                self.waiting.set(queue.len() as f64);
                next
            };
            match next {
                Some(event) => self.deliver(&event).await,
                None => self.wake.notified().await,
            }
        }
    }

    /// Sends one event, retried as the module says; counts how it ended.
    async fn deliver(&self, event: &Value) {
        let body = serde_json::to_vec(event).unwrap_or_default();
        let id = event["id"].as_str().unwrap_or_default();
        let mut wait = self.settings.backoff;
        let mut last = String::new();
        for attempt in 0..=self.settings.retries {
            if attempt > 0 {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_BACKOFF);
            }
            let sent = self
                .client
                .post(&self.settings.url)
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .timeout(self.settings.timeout)
                .body(body.clone())
                .send();
            // reqwest bounds the attempt; the timer is the backstop of a body that never ends
            let answer = tokio::time::timeout(self.settings.timeout + Duration::from_millis(100), sent).await;
            let retry = match answer {
                Ok(Ok(response)) if response.status().is_success() => {
                    self.count(0, 1);
                    tracing::debug!(event = id, attempts = attempt + 1, "webhook event sent");
                    return;
                }
                Ok(Ok(response)) => {
                    let status = response.status();
                    last = format!("answered {status}");
                    status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429
                }
                Ok(Err(e)) => {
                    last = if e.is_timeout() {
                        format!("no answer within {} ms", self.settings.timeout.as_millis())
                    } else {
                        format!("{e}")
                    };
                    true
                }
                Err(_) => {
                    last = format!("no answer within {} ms", self.settings.timeout.as_millis());
                    true
                }
            };
            if !retry {
                break;
            }
        }
        self.count(1, 1);
        tracing::warn!(
            webhook = %self.settings.url,
            event = id,
            "the webhook did not take an alert event ({last}); it stays in the store and GET /v1/alerts"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rein_monitor::alerts::Figure;

    #[test]
    fn an_alert_is_a_structured_cloud_event() {
        let alert = Alert {
            id: "0190".into(),
            monitor: "drift".into(),
            component: Some("c".into()),
            severity: "critical".into(),
            state: AlertState::Open,
            watch: "drift of feature `x`".into(),
            threshold: "above 0.1".into(),
            window: "1h".into(),
            description: None,
            opened_ms: 10,
            opened_by: Vec::<Figure>::new(),
            closed_ms: None,
            closed_by: Vec::new(),
            closed_because: None,
        };
        let e = event("shop", &alert);
        assert_eq!(e["specversion"], "1.0");
        assert_eq!(e["type"], "dev.rein.alert.opened");
        assert_eq!(e["id"], "0190.opened");
        assert_eq!(e["source"], "/rein/systems/shop/monitors/drift");
        assert_eq!(e["datacontenttype"], "application/json");
        assert_eq!(e["data"]["monitor"], "drift");
        assert!(humantime::parse_rfc3339(e["time"].as_str().unwrap()).is_ok(), "{e}");
        let closed = Alert { state: AlertState::Closed, ..alert };
        assert_eq!(event("shop", &closed)["type"], "dev.rein.alert.closed");
    }
}
