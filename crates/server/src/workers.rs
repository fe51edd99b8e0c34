//! Connections are served by worker threads, each a single-threaded runtime that owns the
//! connections handed to it. A request runs from its first byte to its answer on one
//! thread, and the requests one worker batches into a model call are woken on that same
//! thread: no request is passed between threads. With tokio's work-stealing runtime those
//! hand-offs (a wake-up written to another thread's event loop, a parked thread woken)
//! cost about a tenth of a request's CPU on the phishing example (BENCHMARKS.md).
//!
//! One acceptor hands the connections to the workers in turn, so the load is even
//! whatever the clients' addresses (the kernel's `SO_REUSEPORT` hashing is not). This is
//! Envoy's threading model, and it shares Envoy's limit: a connection stays on its worker,
//! so a few very busy connections among idle ones can load one core more than another.
//! Clients that pool many connections, as HTTP/1.1 clients do, spread evenly.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::metrics::CONNECTIONS;

/// Connections accepted but not yet taken up by a busy worker, per worker. Past it the
/// acceptor waits, and new connections wait in the kernel's listen backlog.
const HANDED_OVER_BOUND: usize = 256;

thread_local! {
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The index of the worker this thread is, if it is one. Lets per-worker state (the model
/// batching queues) be shared only by the requests of one thread.
pub(crate) fn current() -> Option<usize> {
    WORKER.with(Cell::get)
}

/// How many workers to run by default: one per core.
pub fn default_count() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Serves `router` on `workers` threads until `shutdown` resolves; then stops accepting
/// and lets every worker finish its requests in flight, for at most `deadline`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    workers: usize,
    deadline: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop, stopping) = watch::channel(false);
    let (cut, cut_off) = watch::channel(false);
    let workers = workers.max(1);
    let local = listener.local_addr()?;
    let mut lanes = Vec::with_capacity(workers);
    let mut finished = Vec::with_capacity(workers);
    for index in 0..workers {
        let (lane, handed) = mpsc::channel(HANDED_OVER_BOUND);
        let handed = Handed { connections: handed, local };
        let (done, served) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (router, stopping, cut_off) = (router.clone(), stopping.clone(), cut_off.clone());
        std::thread::Builder::new().name(format!("rein-worker-{index}")).spawn(move || {
            WORKER.with(|w| w.set(Some(index)));
            let served = runtime.block_on(work(handed, router, stopping, cut_off));
            // a model call cut off at the deadline may hold a blocking-pool thread
            runtime.shutdown_timeout(Duration::from_secs(1));
            let _ = done.send(served);
        })?;
        lanes.push(Lane { connections: lane, handed: metrics::counter!(CONNECTIONS, "worker" => index.to_string()) });
        finished.push(served);
    }

    accept(&listener, &lanes, shutdown).await;
    drop(listener);
    drop(lanes);
    let _ = stop.send(true);
    let all_finished = async {
        let mut outcome = Ok(());
        for served in finished {
            match served.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => outcome = outcome.and(Err(e)),
                Err(_) => tracing::error!("a worker thread ended without finishing its connections"),
            }
        }
        outcome
    };
    match tokio::time::timeout(deadline, all_finished).await {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::warn!(?deadline, "requests still in flight at the shutdown deadline were cut off");
            let _ = cut.send(true);
            Ok(())
        }
    }
}

/// The way to one worker: the connections handed to it, and their count.
struct Lane {
    connections: mpsc::Sender<std::net::TcpStream>,
    handed: metrics::Counter,
}

/// Accepts connections until `shutdown`, handing each to the next worker in turn; a worker
/// whose lane is full is passed over, and when every lane is full the acceptor waits.
async fn accept(listener: &TcpListener, lanes: &[Lane], shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut next = 0;
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        // re-registered by the worker's own event loop
        let Ok(stream) = stream.into_std().inspect_err(|e| tracing::warn!("cannot hand a connection over: {e}")) else {
            continue;
        };
        let mut unsent = Some(stream);
        for _ in 0..lanes.len() {
            let (lane, Some(stream)) = (&lanes[next], unsent.take()) else { break };
            next = (next + 1) % lanes.len();
            match lane.connections.try_send(stream) {
                Ok(()) => lane.handed.increment(1),
                Err(mpsc::error::TrySendError::Full(back) | mpsc::error::TrySendError::Closed(back)) => {
                    unsent = Some(back)
                }
            }
        }
        if let Some(stream) = unsent {
            let lane = &lanes[next];
            next = (next + 1) % lanes.len();
            tokio::select! {
                () = &mut shutdown => return,
                sent = lane.connections.send(stream) => match sent {
                    Ok(()) => lane.handed.increment(1),
                    Err(_) => tracing::error!("a worker has stopped: a connection was closed unanswered"),
                },
            }
        }
    }
}

/// A failed accept that concerns one connection is skipped; one that concerns the process
/// (out of file descriptors, say) is logged and retried after a pause, not in a hot loop.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted) {
        return;
    }
    tracing::error!("cannot accept connections: {e}; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// One worker: serves the connections handed to it until told to stop, then finishes the
/// requests in flight, unless cut off first.
async fn work(
    handed: Handed,
    router: Router,
    mut stopping: watch::Receiver<bool>,
    mut cut_off: watch::Receiver<bool>,
) -> io::Result<()> {
    tokio::spawn(keep_a_timer_due());
    let served = axum::serve(handed, router).with_graceful_shutdown(async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    });
    tokio::select! {
        served = served => served,
        _ = cut_off.wait_for(|cut| *cut) => Ok(()),
    }
}

/// Keeps a timer due within a second on this worker at all times. Tokio wakes its own
/// event loop (an eventfd write, and one more turn of the loop) whenever a timer is set
/// earlier than the loop's next wake-up (tokio-rs/tokio#5207): with no other timer, that is
/// every request's time limit, a system call a request. A timer always due sooner than
/// the limits spares them: one wake-up a second instead of one a request.
async fn keep_a_timer_due() {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
    }
}

/// The connections the acceptor hands to one worker, as a listener for `axum::serve`.
struct Handed {
    connections: mpsc::Receiver<std::net::TcpStream>,
    local: SocketAddr,
}

impl axum::serve::Listener for Handed {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let Some(stream) = self.connections.recv().await else {
                // the acceptor has stopped: the graceful shutdown ends this worker
                return std::future::pending().await;
            };
            match TcpStream::from_std(stream).and_then(|s| s.peer_addr().map(|addr| (s, addr))) {
                Ok(accepted) => return accepted,
                Err(e) => tracing::debug!("a handed-over connection was gone: {e}"),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    /// A server whose one route answers with the index of the worker that served it.
    async fn start(workers: usize) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<io::Result<()>>) {
        let router = Router::new().route("/worker", get(|| async { current().map_or(-1, |i| i as i64).to_string() }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(serve(listener, router, workers, Duration::from_secs(5), async {
            let _ = stopped.await;
        }));
        (addr, stop, served)
    }

    #[tokio::test]
    async fn connections_are_handed_to_the_workers_in_turn_and_stay_there() {
        let (addr, stop, served) = start(3).await;
        // a client each: a connection each, opened one after another
        let clients: Vec<reqwest::Client> = (0..6).map(|_| reqwest::Client::new()).collect();
        let worker = |client: &reqwest::Client| {
            let request = client.get(format!("http://{addr}/worker")).send();
            async move { request.await.unwrap().text().await.unwrap() }
        };
        for (i, client) in clients.iter().enumerate() {
            assert_eq!(worker(client).await, (i % 3).to_string(), "connection {i}");
        }
        // later requests on a connection are served by the worker that owns it
        for (i, client) in clients.iter().enumerate().rev() {
            assert_eq!(worker(client).await, (i % 3).to_string(), "connection {i}, again");
        }
        stop.send(()).unwrap();
        served.await.unwrap().unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "after shutdown nothing listens");
    }
}
