//! The retry schedule after a temporary failure: the first retry after
//! `retry_initial` (default 7.5 minutes), doubling with each further
//! attempt up to [`MAX_DOUBLINGS`] times (7.5 min … 16 h by default), until
//! the recipient has waited `max_age` (default 5 days) and fails for good.

use std::time::Duration;

/// The interval stops doubling after this many attempts.
pub const MAX_DOUBLINGS: u32 = 7;

/// Wait before the next attempt, after `attempts` attempts (≥ 1) so far.
pub fn retry_interval(initial: Duration, attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(MAX_DOUBLINGS);
    initial.saturating_mul(1 << doublings)
}

/// Unix time of the next attempt.
pub fn next_attempt(now: i64, initial: Duration, attempts: u32) -> i64 {
    let secs = i64::try_from(retry_interval(initial, attempts).as_secs()).unwrap_or(i64::MAX);
    now.saturating_add(secs.max(1))
}

/// Whether a recipient queued at `queued` has waited too long at `now`.
pub fn expired(queued: i64, now: i64, max_age: Duration) -> bool {
    let age = now.saturating_sub(queued);
    age >= i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_seven_and_a_half_minutes_up_to_sixteen_hours() {
        let i = Duration::from_secs(450);
        let mins: Vec<u64> = (1..=10)
            .map(|a| retry_interval(i, a).as_secs() / 60)
            .collect();
        assert_eq!(mins, [7, 15, 30, 60, 120, 240, 480, 960, 960, 960]);
        assert_eq!(retry_interval(i, 0), i);
        assert_eq!(next_attempt(1000, i, 2), 1900);
        assert_eq!(next_attempt(0, Duration::ZERO, 1), 1, "never now");
    }

    #[test]
    fn five_days_take_fourteen_attempts() {
        let (i, max) = (Duration::from_secs(450), Duration::from_secs(5 * 86400));
        let (mut t, mut attempts) = (0i64, 0u32);
        while !expired(0, t, max) {
            attempts += 1;
            t = next_attempt(t, i, attempts);
            assert!(attempts < 100, "bounded");
        }
        assert_eq!(attempts, 14, "attempts before giving up");
        assert!(expired(0, 432_000, max) && !expired(0, 431_999, max));
    }

    #[test]
    fn huge_values_saturate() {
        let i = Duration::from_secs(u64::MAX / 2);
        assert_eq!(next_attempt(5, i, 30), i64::MAX);
    }
}
