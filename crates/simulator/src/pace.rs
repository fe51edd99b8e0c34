//! Keeps the driver's lanes in step in simulated time. Each lane plays its users' requests
//! as fast as rein answers; left alone, a lane with light users runs days ahead of one with
//! a heavy user, and rein's monitors, which close a window once the newest prediction is
//! `[alerts] lateness` past its end, would judge windows whose other predictions are still
//! to come. So a lane sends a request only while its simulated time is at most
//! [`LEAD_MS`] past the slowest lane's next request: every prediction then arrives after
//! none stamped more than `LEAD_MS` later than itself, and a lateness of `LEAD_MS` sees
//! every window whole.

use tokio::sync::watch;

/// How far, in simulated time, a lane may run ahead of the slowest lane. Long enough that a
/// few requests of every lane are open at once (the busiest world, phishing at full scale,
/// schedules about one request a simulated half minute), short against every monitor's
/// window and within each example's `[alerts] lateness`.
pub const LEAD_MS: u64 = 15 * 60 * 1000;

/// Where each lane is: the simulated offset of its next request, `u64::MAX` once done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positions {
    next: Vec<u64>,
}

impl Positions {
    /// Each lane at its first request (`None`: a lane with none).
    pub fn new(firsts: impl IntoIterator<Item = Option<u64>>) -> Self {
        Positions { next: firsts.into_iter().map(|f| f.unwrap_or(u64::MAX)).collect() }
    }

    /// The slowest lane's next request, `u64::MAX` when every lane is done.
    pub fn slowest(&self) -> u64 {
        self.next.iter().copied().min().unwrap_or(u64::MAX)
    }

    /// Whether a request at `offset_ms` may be sent, at most `lead_ms` past the slowest
    /// lane. The slowest lane itself always may, so the lanes never all wait.
    pub fn may_send(&self, offset_ms: u64, lead_ms: u64) -> bool {
        offset_ms <= self.slowest().saturating_add(lead_ms)
    }

    /// The lane moved on to its request at `next` (`None`: it has no more).
    pub fn advance(&mut self, lane: usize, next: Option<u64>) {
        self.next[lane] = next.unwrap_or(u64::MAX);
    }
}

/// The lanes' positions shared between their tasks.
#[derive(Debug)]
pub struct Pacer {
    positions: watch::Sender<Positions>,
    lead_ms: u64,
}

impl Pacer {
    pub fn new(positions: Positions, lead_ms: u64) -> Self {
        Pacer { positions: watch::Sender::new(positions), lead_ms }
    }

    /// Waits until a request at `offset_ms` may be sent.
    pub async fn wait(&self, offset_ms: u64) {
        let mut positions = self.positions.subscribe();
        // the sender lives in `self`, so the channel cannot close while waiting
        let _ = positions.wait_for(|p| p.may_send(offset_ms, self.lead_ms)).await;
    }

    pub fn advance(&self, lane: usize, next: Option<u64>) {
        self.positions.send_modify(|p| p.advance(lane, next));
    }

    /// Marks `lane` done when dropped: a lane that stops on an error must not hold the
    /// others back.
    pub fn done_on_drop(&self, lane: usize) -> DoneOnDrop<'_> {
        DoneOnDrop { pacer: self, lane }
    }
}

pub struct DoneOnDrop<'a> {
    pacer: &'a Pacer,
    lane: usize,
}

impl Drop for DoneOnDrop<'_> {
    fn drop(&mut self) {
        self.pacer.advance(self.lane, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lane_waits_only_while_it_is_past_the_slowest_by_the_lead() {
        let mut p = Positions::new([Some(0), Some(500), None]);
        assert_eq!(p.slowest(), 0);
        assert!(p.may_send(0, 100) && p.may_send(100, 100));
        assert!(!p.may_send(500, 100), "the second lane waits for the first");
        p.advance(0, Some(450));
        assert!(p.may_send(500, 100));
        // the slowest may always send, even with no lead at all
        assert!(p.may_send(p.slowest(), 0));
        p.advance(0, None);
        p.advance(1, None);
        assert_eq!(p.slowest(), u64::MAX);
        assert!(p.may_send(u64::MAX - 1, u64::MAX), "no overflow once every lane is done");
    }

    #[tokio::test]
    async fn a_waiting_lane_resumes_when_the_slowest_moves_on_or_stops() {
        let pacer = std::sync::Arc::new(Pacer::new(Positions::new([Some(0), Some(1_000)]), 100));
        let waiting = tokio::spawn({
            let pacer = pacer.clone();
            async move { pacer.wait(1_000).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        {
            // the slow lane fails: its guard lets the other go
            let _guard = pacer.done_on_drop(0);
        }
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await.unwrap().unwrap();
    }
}
