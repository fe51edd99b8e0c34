//! Threads that only have to keep pace on average (the log's loader) run at the lowest
//! CPU priority: the log absorbs their bursts, while
//! the threads answering requests must run the moment a request arrives. At normal
//! priority a load of 512 events takes a core from request threads for milliseconds
//! whenever the machine has more busy threads than cores (BENCHMARKS.md, "what changed").
//!
//! When their work keeps failing (a full disk), they say so as an [`Outage`]: not at
//! every retry.

use std::time::Duration;

/// How often a failure that lasts is said again.
pub(crate) const OUTAGE_SAID_EVERY: Duration = Duration::from_secs(60);

/// A failure that repeats at every retry of a background thread (a full disk): said when
/// it begins, then at most once per [`OUTAGE_SAID_EVERY`] with how long it has lasted and
/// how many tries failed meanwhile, and once when it ends. A thread retrying every second
/// would otherwise write 3,600 lines an hour.
#[derive(Debug, Default)]
pub(crate) struct Outage(Option<Ongoing>);

#[derive(Debug)]
struct Ongoing {
    since: Duration,
    said: Duration,
    unsaid_tries: u64,
}

/// What is to be said of a failed try.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Say {
    /// The failure is new.
    Began,
    /// It has lasted `failed_for_s` seconds, `tries` more tries failing since last said.
    Still {
        failed_for_s: u64,
        tries: u64,
    },
    Nothing,
}

impl Outage {
    /// A try failed at `now`.
    pub(crate) fn failed(&mut self, now: Duration) -> Say {
        let Some(on) = &mut self.0 else {
            self.0 = Some(Ongoing { since: now, said: now, unsaid_tries: 0 });
            return Say::Began;
        };
        on.unsaid_tries += 1;
        if now.saturating_sub(on.said) < OUTAGE_SAID_EVERY {
            return Say::Nothing;
        }
        on.said = now;
        let failed_for_s = now.saturating_sub(on.since).as_secs();
        Say::Still { failed_for_s, tries: std::mem::take(&mut on.unsaid_tries) }
    }

    /// A try worked at `now`: how many seconds the outage lasted, if there was one.
    pub(crate) fn ended(&mut self, now: Duration) -> Option<u64> {
        self.0.take().map(|on| now.saturating_sub(on.since).as_secs())
    }

    /// [`Outage::failed`], said in the log when it is due; `what` names the work that
    /// fails ("loading the event log into /data/rein.db"); `now` is clock time.
    pub(crate) fn failed_logged(&mut self, now: Duration, what: &str, error: &dyn std::fmt::Display) -> Say {
        let say = self.failed(now);
        match &say {
            Say::Began => tracing::warn!(error = %error, "telemetry: {what} failed; retrying every second"),
            Say::Still { failed_for_s, tries } => {
                tracing::warn!(error = %error, failed_for_s, tries, "telemetry: {what} still failing")
            }
            Say::Nothing => {}
        }
        say
    }

    /// [`Outage::ended`], said in the log if an outage ended.
    pub(crate) fn ended_logged(&mut self, now: Duration, what: &str) {
        if let Some(failed_for_s) = self.ended(now) {
            tracing::info!(failed_for_s, "telemetry: {what} works again");
        }
    }
}

/// Lowers the calling thread to nice 19. Linux only: elsewhere `setpriority` would lower
/// the whole process, requests included, so it does nothing there.
#[allow(unsafe_code)] // setpriority, as SAFETY below says
pub(crate) fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority only reads its integer arguments; `who = 0` is the calling
        // thread on Linux, whose nice value is per thread.
        let failed = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) } != 0;
        if failed {
            tracing::debug!(error = %std::io::Error::last_os_error(), "cannot lower a telemetry thread's priority");
        }
    }
}

#[cfg(test)]
mod outage_tests {
    use super::*;

    #[test]
    fn an_outage_is_said_when_it_begins_then_once_a_minute_and_when_it_ends() {
        let at = Duration::from_secs;
        let mut outage = Outage::default();
        assert_eq!(outage.ended(at(0)), None, "nothing ends that did not begin");
        let said: Vec<(u64, Say)> =
            (0..=150).map(|s| (s, outage.failed(at(s)))).filter(|(_, say)| *say != Say::Nothing).collect();
        assert_eq!(
            said,
            [
                (0, Say::Began),
                (60, Say::Still { failed_for_s: 60, tries: 60 }),
                (120, Say::Still { failed_for_s: 120, tries: 60 }),
            ],
            "said at each minute, with the tries since the last time"
        );
        assert_eq!(outage.failed(at(180)), Say::Still { failed_for_s: 180, tries: 31 }, "the tries at 150..=180");
        assert_eq!(outage.ended(at(200)), Some(200));
        assert_eq!(outage.failed(at(300)), Say::Began, "a new failure is a new outage");
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The nice value of the calling thread, from /proc.
    fn own_nice() -> i64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // the command name may hold spaces: fields count from after its closing parenthesis
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        after.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[test]
    fn lowers_only_the_calling_thread() {
        let before = own_nice();
        let lowered = std::thread::spawn(|| {
            super::lower_priority();
            own_nice()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, 19);
        assert_eq!(own_nice(), before, "the other threads keep their priority");
    }
}
