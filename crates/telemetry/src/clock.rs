//! Time for telemetry's threads, injectable: a test advances a [`ManualClock`] and the
//! threads waiting on it wake, instead of the test sleeping for wall-clock time.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Monotonic and wall-clock time, and how long a wait may block in real time.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Monotonic time since the clock started.
    fn now(&self) -> Duration;

    /// Wall-clock time in unix milliseconds (retention compares event times with it).
    fn unix_ms(&self) -> i64;

    /// The real time a wait for `remaining` of this clock's time may block: all of it for
    /// the system clock; `None` for a manual clock, whose time moves only when advanced.
    fn real_wait(&self, remaining: Duration) -> Option<Duration>;

    /// Keeps `signal` to wake when time is advanced (a manual clock); a no-op otherwise.
    fn subscribe(&self, _signal: &Arc<Signal>) {}
}

/// The system's clocks.
#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
}

/// The system's clocks, starting now.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock { start: Instant::now() })
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn unix_ms(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    }

    fn real_wait(&self, remaining: Duration) -> Option<Duration> {
        Some(remaining)
    }
}

/// A clock that moves only when [`ManualClock::advance`] is called, for tests.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<ManualState>,
}

#[derive(Debug)]
struct ManualState {
    now: Duration,
    unix_ms: i64,
    waiting: Vec<Weak<Signal>>,
}

impl ManualClock {
    /// A clock at `unix_ms` on the wall clock.
    pub fn new(unix_ms: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock { state: Mutex::new(ManualState { now: Duration::ZERO, unix_ms, waiting: Vec::new() }) })
    }

    /// Moves time forward and wakes every thread waiting on it, so each sees the new time.
    pub fn advance(&self, by: Duration) {
        let waiting = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.now += by;
            state.unix_ms += by.as_millis() as i64;
            state.waiting.retain(|w| w.strong_count() > 0);
            state.waiting.clone()
        };
        for signal in waiting.iter().filter_map(Weak::upgrade) {
            signal.wake_to_look();
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).now
    }

    fn unix_ms(&self) -> i64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).unix_ms
    }

    fn real_wait(&self, _remaining: Duration) -> Option<Duration> {
        None
    }

    fn subscribe(&self, signal: &Arc<Signal>) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).waiting.push(Arc::downgrade(signal));
    }
}

/// Wakes a thread: rung for work, or at a deadline of its clock.
#[derive(Debug, Default)]
pub struct Signal {
    rung: Mutex<bool>,
    wake: Condvar,
}

impl Signal {
    /// A signal whose waits end at deadlines of `clock`.
    pub fn on(clock: &dyn Clock) -> Arc<Signal> {
        let signal = Arc::new(Signal::default());
        clock.subscribe(&signal);
        signal
    }

    /// Wakes the waiting thread (or the next wait) for work.
    pub fn ring(&self) {
        *self.rung.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }

    fn wake_to_look(&self) {
        let _held = self.rung.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.notify_all();
    }

    /// Blocks until rung (true; the ring is used up) or until `clock` reaches `deadline`
    /// (false); without a deadline, until rung.
    pub fn wait_until(&self, clock: &dyn Clock, deadline: Option<Duration>) -> bool {
        let mut rung = self.rung.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if std::mem::take(&mut *rung) {
                return true;
            }
            let slice = match deadline {
                None => None,
                Some(deadline) => {
                    let now = clock.now();
                    if now >= deadline {
                        return false;
                    }
                    clock.real_wait(deadline - now)
                }
            };
            rung = match slice {
                Some(slice) => self.wake.wait_timeout(rung, slice).unwrap_or_else(|e| e.into_inner()).0,
                None => self.wake.wait(rung).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_on_a_manual_clock_ends_when_time_is_advanced_past_its_deadline() {
        let clock = ManualClock::new(1_000);
        let signal = Signal::on(clock.as_ref());
        let waiter = {
            let (clock, signal) = (clock.clone(), signal.clone());
            std::thread::spawn(move || {
                let rung = signal.wait_until(clock.as_ref(), Some(Duration::from_secs(60)));
                (rung, clock.now())
            })
        };
        clock.advance(Duration::from_secs(30));
        clock.advance(Duration::from_secs(30));
        let (rung, at) = waiter.join().unwrap();
        assert!(!rung, "ended by time, not rung");
        assert_eq!(at, Duration::from_secs(60), "not before its deadline");
        assert_eq!(clock.unix_ms(), 61_000);
    }

    #[test]
    fn a_ring_ends_a_wait_at_once_and_is_used_up() {
        let clock = ManualClock::new(0);
        let signal = Signal::on(clock.as_ref());
        signal.ring();
        assert!(signal.wait_until(clock.as_ref(), Some(Duration::from_secs(1))));
        assert!(!signal.wait_until(clock.as_ref(), Some(Duration::ZERO)), "the ring was used");
    }
}
