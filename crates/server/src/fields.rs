//! Checks shared by every route that takes a unit id or an event time, so each route
//! accepts and refuses exactly the same values.

use crate::error::FieldError;

/// Longest unit id accepted: units are kept in memory for frequency caps and in telemetry.
pub const MAX_UNIT_BYTES: usize = 256;

/// Earliest event time accepted: 2000-01-01. Older times are almost always seconds or
/// microseconds sent as milliseconds, or a zero that meant "now".
pub const MIN_TIME_MS: u64 = 946_684_800_000;

/// How far ahead of the server's clock an event time may be: clients' clock skew.
/// Simulations and backfills run in the past. A time far ahead would move a unit's
/// frequency-cap history past every real request, and the caps would stop holding.
pub const MAX_FUTURE_MS: u64 = 5 * 60_000;

/// A unit id, if given, is non-empty and at most [`MAX_UNIT_BYTES`] long.
pub fn check_unit(field: &str, unit: Option<&str>) -> Result<(), FieldError> {
    match unit {
        Some(u) if u.is_empty() || u.len() > MAX_UNIT_BYTES => {
            Err(FieldError::Unit { field: field.to_string(), bytes: u.len(), max: MAX_UNIT_BYTES })
        }
        _ => Ok(()),
    }
}

pub fn now_ms() -> u64 {
    u64::try_from(rein_telemetry::now_ms()).unwrap_or(0)
}

/// The event time: the given unix milliseconds if they are plausible, else now.
pub fn event_time(time_ms: Option<u64>, now_ms: u64) -> Result<u64, FieldError> {
    let Some(t) = time_ms else { return Ok(now_ms) };
    let latest = now_ms.saturating_add(MAX_FUTURE_MS);
    if (MIN_TIME_MS..=latest).contains(&t) {
        return Ok(t);
    }
    Err(FieldError::Time { given: t, earliest: MIN_TIME_MS, latest })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ApiError, Code};

    const NOW: u64 = 1_790_000_000_000;

    #[test]
    fn times_are_milliseconds_in_a_sane_window() {
        assert_eq!(event_time(None, NOW).unwrap(), NOW);
        assert_eq!(event_time(Some(NOW - 86_400_000), NOW).unwrap(), NOW - 86_400_000);
        assert_eq!(event_time(Some(NOW + 60_000), NOW).unwrap(), NOW + 60_000, "clock skew is tolerated");
        // seconds sent as milliseconds, zero, a value that would overflow i64, a day ahead
        for bad in [1_790_000_000, 0, u64::MAX, i64::MAX as u64 + 1, NOW + 86_400_000] {
            let e = ApiError::from(event_time(Some(bad), NOW).unwrap_err());
            assert_eq!((e.status(), e.code()), (422, Code::BadTime), "{bad}");
        }
    }

    #[test]
    fn units_are_bounded_and_non_empty() {
        assert!(check_unit("unit", None).is_ok());
        assert!(check_unit("unit", Some("user-1")).is_ok());
        assert!(check_unit("unit", Some(&"x".repeat(MAX_UNIT_BYTES))).is_ok());
        let code = |unit: &str| ApiError::from(check_unit("unit", Some(unit)).unwrap_err()).code();
        assert_eq!(code(""), Code::BadUnit);
        assert_eq!(code(&"x".repeat(MAX_UNIT_BYTES + 1)), Code::BadUnit);
    }
}
