//! Group fsync, for `fsync = true`: one thread makes the log's appends survive power loss,
//! one `fdatasync` a stream covering every append made while the previous one ran.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

use crate::clock::{Clock, Signal};
use crate::log::{Log, LogError};

/// How far one stream of the log is synced, and the latest failure if its last sync failed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Synced {
    pub end: u64,
    /// A failed sync and the end it was to cover: appends up to there are not durable.
    pub failed: Option<(u64, Arc<LogError>)>,
}

pub(crate) struct Syncer {
    pub(crate) wake: Arc<Signal>,
    /// One entry a stream.
    synced: watch::Sender<Vec<Synced>>,
    stop: AtomicBool,
}

impl Syncer {
    pub(crate) fn new(clock: &dyn Clock, logs: &[Log]) -> Syncer {
        let synced = logs.iter().map(|log| Synced { end: log.end(), failed: None }).collect();
        Syncer { wake: Signal::on(clock), synced: watch::Sender::new(synced), stop: AtomicBool::new(false) }
    }

    /// Runs until [`Syncer::stop`]: waits for appends, then for each stream syncs the
    /// segments finished since the last sync, its folder (a new segment's name must survive
    /// too) and the current segment, and publishes how far that covers.
    pub(crate) fn run(&self, logs: &[Log], clock: &dyn Clock) {
        let mut new_names = vec![true; logs.len()];
        while !self.stop.load(Ordering::Acquire) {
            self.wake.wait_until(clock, None);
            for (stream, log) in logs.iter().enumerate() {
                let synced = sync(log, &mut new_names[stream]);
                self.synced.send_modify(|all| {
                    let s = &mut all[stream];
                    match synced {
                        Ok(end) => {
                            s.end = s.end.max(end);
                            s.failed = None;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "telemetry: the event log could not be synced to disk");
                            s.failed = Some((log.end(), Arc::new(e)));
                        }
                    }
                });
            }
        }
    }

    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake.ring();
    }

    /// Waits until `stream` is synced past `end`; the error of a failed sync that covered it.
    pub(crate) async fn synced_past(&self, stream: usize, end: u64) -> Result<(), Arc<LogError>> {
        self.wake.ring();
        let mut rx = self.synced.subscribe();
        let covered = |all: &Vec<Synced>| {
            let s = &all[stream];
            s.end >= end || s.failed.as_ref().is_some_and(|(at, _)| *at >= end)
        };
        match rx.wait_for(covered).await {
            Ok(all) if all[stream].end >= end => Ok(()),
            Ok(all) => Err(all[stream].failed.as_ref().map(|(_, e)| e.clone()).expect("waited for it")),
            Err(_) => Err(Arc::new(LogError {
                path: Default::default(),
                op: "fsync",
                source: std::io::Error::other("the syncer has stopped"),
            })),
        }
    }
}

/// Syncs what `log` holds; returns the end it covers.
fn sync(log: &Log, new_names: &mut bool) -> Result<u64, LogError> {
    let (finished, current, end) = log.to_sync()?;
    let sync = |file: &std::fs::File| {
        file.sync_data().map_err(|source| LogError { path: log.dir().to_path_buf(), op: "fsync", source })
    };
    *new_names |= !finished.is_empty();
    finished.iter().try_for_each(sync)?;
    if *new_names {
        let folder = std::fs::File::open(log.dir()).map_err(|source| LogError {
            path: log.dir().to_path_buf(),
            op: "open for fsync",
            source,
        })?;
        sync(&folder)?;
        *new_names = false;
    }
    sync(&current)?;
    Ok(end)
}
