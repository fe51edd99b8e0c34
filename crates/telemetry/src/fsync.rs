//! Group fsync, for `fsync = true`: one thread makes the log's appends survive power loss,
//! one `fdatasync` covering every append made while the previous one ran.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

use crate::clock::{Clock, Signal};
use crate::log::{Log, LogError};

/// How far the log is synced, and the latest failure if the last sync failed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Synced {
    pub end: u64,
    /// A failed sync and the end it was to cover: appends up to there are not durable.
    pub failed: Option<(u64, Arc<LogError>)>,
}

pub(crate) struct Syncer {
    pub(crate) wake: Arc<Signal>,
    pub(crate) synced: watch::Sender<Synced>,
    stop: AtomicBool,
}

impl Syncer {
    pub(crate) fn new(clock: &dyn Clock, from: u64) -> Syncer {
        Syncer {
            wake: Signal::on(clock),
            synced: watch::Sender::new(Synced { end: from, failed: None }),
            stop: AtomicBool::new(false),
        }
    }

    /// Runs until [`Syncer::stop`]: waits for appends, then syncs the segments finished
    /// since the last sync, the folder (a new segment's name must survive too) and the
    /// current segment, and publishes how far that covers.
    pub(crate) fn run(&self, log: &Log, clock: &dyn Clock) {
        let mut new_names = true;
        while !self.stop.load(Ordering::Acquire) {
            self.wake.wait_until(clock, None);
            let synced = log.to_sync().and_then(|(finished, current, end)| {
                let sync = |file: &std::fs::File| {
                    file.sync_data().map_err(|source| LogError { path: log.dir().to_path_buf(), op: "fsync", source })
                };
                new_names |= !finished.is_empty();
                finished.iter().try_for_each(sync)?;
                if std::mem::take(&mut new_names) {
                    let folder = std::fs::File::open(log.dir()).map_err(|source| LogError {
                        path: log.dir().to_path_buf(),
                        op: "open for fsync",
                        source,
                    })?;
                    sync(&folder)?;
                }
                sync(&current)?;
                Ok(end)
            });
            match synced {
                Ok(end) => self.synced.send_modify(|s| {
                    s.end = s.end.max(end);
                    s.failed = None;
                }),
                Err(e) => {
                    tracing::error!(error = %e, "telemetry: the event log could not be synced to disk");
                    new_names = true;
                    let at = log.end();
                    self.synced.send_modify(|s| s.failed = Some((at, Arc::new(e))));
                }
            }
        }
    }

    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake.ring();
    }

    /// Waits until the log is synced past `end`; the error of a failed sync that covered it.
    pub(crate) async fn synced_past(&self, end: u64) -> Result<(), Arc<LogError>> {
        self.wake.ring();
        let mut rx = self.synced.subscribe();
        let reached = rx.wait_for(|s| s.end >= end || s.failed.as_ref().is_some_and(|(at, _)| *at >= end)).await;
        match reached {
            Ok(s) if s.end >= end => Ok(()),
            Ok(s) => Err(s.failed.as_ref().map(|(_, e)| e.clone()).expect("waited for it")),
            Err(_) => Err(Arc::new(LogError {
                path: Default::default(),
                op: "fsync",
                source: std::io::Error::other("the syncer has stopped"),
            })),
        }
    }
}
