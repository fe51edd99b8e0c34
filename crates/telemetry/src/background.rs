//! Threads that only have to keep pace on average (the journal's loader, the WAL
//! checkpointer) run at the lowest CPU priority: the journal absorbs their bursts, while
//! the threads answering requests must run the moment a request arrives. At normal
//! priority a load of 512 events takes a core from request threads for milliseconds
//! whenever the machine has more busy threads than cores (BENCHMARKS.md, "what changed").

/// Lowers the calling thread to nice 19. Linux only: elsewhere `setpriority` would lower
/// the whole process, requests included, so it does nothing there.
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
