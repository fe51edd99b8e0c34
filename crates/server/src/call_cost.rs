//! What a model call costs, by its size: decides whether a call runs inline on the worker
//! thread or on the blocking pool.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Calls expected to take less than this run inline on the worker: handing a 30 µs
/// inference to the blocking pool costs more than the inference, in two thread hand-offs.
/// Slower calls, and calls of a size not timed yet, go to the blocking pool, where they
/// cannot stall the worker's other requests and their deadline is enforced by a timer.
pub(crate) const INLINE_BELOW_US: u64 = 200;

/// Largest call (in rows) that may run inline, however fast the model.
pub(crate) const INLINE_MAX_ROWS: usize = 16;

/// Call sizes are timed in classes of powers of two: 1, 2–3, 4–7, 8–15 and 16 rows.
const CLASSES: usize = INLINE_MAX_ROWS.ilog2() as usize + 1;

/// Moving averages of a model call's time a row, one for each class of call size.
///
/// A call costs a fixed part (ONNX Runtime's own, about 15–30 µs) and a part a row (a
/// microsecond or two for a tree ensemble). One average over every size takes the fixed
/// part of the small calls for a cost a row: multiplied by 16 rows, it sent the large
/// calls of a fast model to the blocking pool whenever small calls were common, as they
/// are at a moderate rate. Within a class the sizes differ at most twofold, so the fixed
/// part makes the estimate err by at most that much, and towards the pool.
#[derive(Debug, Default)]
pub(crate) struct CallCost {
    /// ns a row (µs would round a fast model's average to nothing); 0: no call of the
    /// class timed yet.
    ns_per_row: [AtomicU64; CLASSES],
}

impl CallCost {
    /// A call of `rows` rows took `took`. Calls larger than may run inline are not
    /// counted: their fixed part spread over hundreds of rows would pass for a cost a row
    /// that 16 rows do not reach.
    pub(crate) fn observe(&self, took: Duration, rows: usize) {
        let rows = rows.max(1);
        if rows > INLINE_MAX_ROWS {
            return;
        }
        let average = &self.ns_per_row[class(rows)];
        let sample = (took.as_nanos() / rows as u128).min(u64::MAX as u128) as u64;
        let old = average.load(Ordering::Relaxed);
        // exponential moving average, weight 1/8; races only lose a sample
        let new = if old == 0 { sample } else { old - old / 8 + sample / 8 };
        average.store(new.max(1), Ordering::Relaxed);
    }

    /// Whether a call of `rows` rows is expected to end within [`INLINE_BELOW_US`]. Its
    /// class's average a row is used, or else the nearest smaller class's, which is higher
    /// (more of the fixed part in it) and so errs towards the pool; with no smaller class
    /// timed either, the call goes to the pool (a first call may be slow, or hang).
    pub(crate) fn runs_inline(&self, rows: usize) -> bool {
        let rows = rows.max(1);
        if rows > INLINE_MAX_ROWS {
            return false;
        }
        let per_row =
            self.ns_per_row[..=class(rows)].iter().rev().map(|a| a.load(Ordering::Relaxed)).find(|&ns| ns != 0);
        per_row.is_some_and(|ns| ns.saturating_mul(rows as u64) < INLINE_BELOW_US * 1_000)
    }
}

/// The class of a call of 1 to [`INLINE_MAX_ROWS`] rows.
fn class(rows: usize) -> usize {
    (rows.clamp(1, INLINE_MAX_ROWS).ilog2() as usize).min(CLASSES - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    /// A fast model as rein meets it: 30 µs a call plus 2 µs a row.
    fn fast_call(rows: usize) -> Duration {
        us(30 + 2 * rows as u64)
    }

    #[test]
    fn sizes_are_classed_by_powers_of_two() {
        let classes: Vec<usize> = (1..=16).map(class).collect();
        assert_eq!(classes, [0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4]);
    }

    #[test]
    fn a_model_never_timed_runs_on_the_pool() {
        let cost = CallCost::default();
        assert!((1..=INLINE_MAX_ROWS).all(|rows| !cost.runs_inline(rows)));
    }

    #[test]
    fn a_fast_models_large_calls_run_inline_among_many_small_ones() {
        let cost = CallCost::default();
        for _ in 0..100 {
            cost.observe(fast_call(1), 1);
        }
        // 32 µs a row, from single rows: 16 rows would be 512 µs. Not timed, so the pool...
        assert!(!cost.runs_inline(16));
        // ...which times it: 62 µs for 16 rows
        cost.observe(fast_call(16), 16);
        for _ in 0..100 {
            cost.observe(fast_call(1), 1);
        }
        assert!(cost.runs_inline(16), "16 rows inline, however many single rows were timed meanwhile");
        assert!(cost.runs_inline(1));
        // a size between two timed classes is estimated from the smaller, conservatively
        assert!(!cost.runs_inline(8), "8 rows at single rows' 32 µs a row: 256 µs");
        cost.observe(fast_call(8), 8);
        let pooled: Vec<usize> = (1..=INLINE_MAX_ROWS).filter(|&n| !cost.runs_inline(n)).collect();
        assert_eq!(pooled, [7], "7 rows at single rows' 32 µs a row, 224 µs, until 4 to 7 rows are timed");
    }

    #[test]
    fn slow_calls_run_on_the_pool() {
        let cost = CallCost::default();
        cost.observe(us(250), 1);
        assert!(!cost.runs_inline(1), "a slow model");
        cost.observe(us(2_000), 16);
        assert!(!cost.runs_inline(16), "125 µs a row");
        assert!(!cost.runs_inline(INLINE_MAX_ROWS + 1), "larger calls never run inline");
        let fast = CallCost::default();
        fast.observe(us(10), 1);
        assert!(!fast.runs_inline(INLINE_MAX_ROWS + 1), "however fast the model");
        // a model with a fixed cost of 1 ms a call and 2 µs a row: 1,000 rows take 3 µs a row,
        // which would make a call of 16 rows look like 48 µs; it takes 1.03 ms
        let heavy = CallCost::default();
        heavy.observe(us(1_000 + 2 * 1_000), 1_000);
        assert!(!heavy.runs_inline(16));
        fast.observe(Duration::MAX, 1);
        assert!(!fast.runs_inline(1), "an immense sample saturates");
    }

    #[test]
    fn a_slow_call_of_one_size_leaves_the_others_inline_and_passes() {
        let cost = CallCost::default();
        for rows in [1, 2, 4, 8, 16] {
            cost.observe(fast_call(rows), rows);
        }
        // a call of 8 rows was preempted for 2 ms
        cost.observe(us(2_000), 8);
        assert!(!cost.runs_inline(8));
        assert!(cost.runs_inline(2) && cost.runs_inline(16), "other sizes keep running inline");
        // timed on the pool, the calls of its class bring the average back down
        let back = (1..).find(|_| {
            cost.observe(fast_call(8), 8);
            cost.runs_inline(8)
        });
        assert_eq!(back, Some(4), "calls of 8 rows on the pool");
    }
}
