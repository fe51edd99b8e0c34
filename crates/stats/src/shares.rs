//! The shares of a window's values that were missing, replaced by a default, or out of
//! the range the schema declares: plain counts, typed so that a report cannot mix them up.

use crate::StatsError;
use crate::interval::{Interval, wilson_interval};

/// `count` of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub count: u64,
    pub total: u64,
}

impl Share {
    /// A share, checked: `total ≥ 1` and `count ≤ total`.
    pub fn new(count: u64, total: u64) -> Result<Share, StatsError> {
        if total == 0 || count > total {
            return Err(StatsError::NotAProportion { count, total });
        }
        Ok(Share { count, total })
    }

    /// `count / total`, in [0, 1].
    pub fn fraction(&self) -> f64 {
        self.count as f64 / self.total as f64
    }

    /// The Wilson interval around it ([`wilson_interval`]).
    pub fn wilson(&self, confidence: f64) -> Result<Interval, StatsError> {
        wilson_interval(self.count, self.total, confidence)
    }
}

/// What one observed value of a feature was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Present and within the declared range (or no range is declared).
    Valid,
    /// Absent from the request, and no default given.
    Missing,
    /// Absent, and replaced by the schema's default.
    Defaulted,
    /// Present, but outside the declared bounds or categories.
    OutOfRange,
}

/// Counts of a feature's values in a window, by [`ValueKind`]. Each value is of exactly
/// one kind, so the shares add up to 1 with the valid ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValueCounts {
    pub valid: u64,
    pub missing: u64,
    pub defaulted: u64,
    pub out_of_range: u64,
}

/// The shares of a window's values that were missing, defaulted and out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueShares {
    pub missing: Share,
    pub defaulted: Share,
    pub out_of_range: Share,
}

impl ValueCounts {
    pub fn add(&mut self, kind: ValueKind) {
        let count = match kind {
            ValueKind::Valid => &mut self.valid,
            ValueKind::Missing => &mut self.missing,
            ValueKind::Defaulted => &mut self.defaulted,
            ValueKind::OutOfRange => &mut self.out_of_range,
        };
        *count += 1;
    }

    pub fn total(&self) -> u64 {
        self.valid + self.missing + self.defaulted + self.out_of_range
    }

    /// Each kind's share of all values; an error for a window with none.
    pub fn shares(&self) -> Result<ValueShares, StatsError> {
        let total = self.total();
        Ok(ValueShares {
            missing: Share::new(self.missing, total)?,
            defaulted: Share::new(self.defaulted, total)?,
            out_of_range: Share::new(self.out_of_range, total)?,
        })
    }
}

impl FromIterator<ValueKind> for ValueCounts {
    fn from_iter<I: IntoIterator<Item = ValueKind>>(kinds: I) -> ValueCounts {
        let mut counts = ValueCounts::default();
        for kind in kinds {
            counts.add(kind);
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_of_every_value() {
        use ValueKind::*;
        let counts: ValueCounts =
            [Valid, Valid, Missing, Defaulted, OutOfRange, Valid, Valid, Missing].into_iter().collect();
        assert_eq!(counts.total(), 8);
        let shares = counts.shares().unwrap();
        assert_eq!(shares.missing, Share { count: 2, total: 8 });
        assert_eq!(shares.missing.fraction(), 0.25);
        assert_eq!(shares.defaulted.fraction(), 0.125);
        assert_eq!(shares.out_of_range.fraction(), 0.125);
        assert!(shares.missing.wilson(0.95).unwrap().contains(0.25));
    }

    #[test]
    fn no_values_have_no_shares() {
        assert_eq!(ValueCounts::default().shares(), Err(StatsError::NotAProportion { count: 0, total: 0 }));
        assert!(Share::new(3, 2).is_err());
    }
}
