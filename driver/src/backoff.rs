//! Bounded waiting: the 0.5·2ⁿ s schedule (capped at 15 s) for retries, and the same
//! with a fast start for status polls.

use std::time::Duration;

/// Longest single sleep between two polls.
pub const MAX_DELAY: Duration = Duration::from_secs(15);

/// Sleep before poll number `attempt + 1`: 0.5 s, 1 s, 2 s, 4 s, 8 s, 15 s, 15 s, ...
pub fn poll_delay(attempt: u32) -> Duration {
    let millis = 500u64.saturating_mul(1u64 << attempt.min(16));
    Duration::from_millis(millis).min(MAX_DELAY)
}

/// Wait before attachment-create attempt `attempt + 1` after Cinder said the volume is busy
/// (upstream's 2, 4, 8, 10, 10 s).
pub fn attachment_retry_delay(attempt: u32) -> Duration {
    Duration::from_secs((2u64 << attempt.min(8)).min(10))
}

/// Fast first polls that together take upstream's first 0.5 s sleep: a fresh volume is
/// usually ready well before, and later polls still fall when upstream's would.
pub const FAST_START_MS: [u64; 5] = [20, 40, 80, 160, 200];

/// The sleeps a status poll makes within `budget`: `FAST_START_MS`, then 1 s, 2 s, 4 s, …
/// (upstream's 0.5·2ⁿ s after the first), truncated so the sum never exceeds the budget
/// (the last sleep is shortened). Upstream counts the budget as the sum of sleeps;
/// cinderbox additionally never sleeps past it.
pub fn schedule(budget: Duration) -> Vec<Duration> {
    let fast = FAST_START_MS.iter().map(|ms| Duration::from_millis(*ms));
    let upstream = (1..10_000).map(poll_delay);
    let mut out = Vec::new();
    let mut total = Duration::ZERO;
    for delay in fast.chain(upstream) {
        if total >= budget {
            break;
        }
        let delay = delay.min(budget - total);
        total += delay;
        out.push(delay);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    fn check(budget_ms: u64, expected: Vec<Duration>) {
        assert_eq!(
            schedule(Duration::from_millis(budget_ms)),
            expected,
            "budget {budget_ms} ms"
        );
    }

    #[test]
    fn poll_schedule() {
        check(0, vec![]);
        check(300, ms(&[20, 40, 80, 160]));
        check(500, ms(&[20, 40, 80, 160, 200]));
        check(2_000, ms(&[20, 40, 80, 160, 200, 1_000, 500]));
        check(
            60_000,
            ms(&[
                20, 40, 80, 160, 200, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 14_500,
            ]),
        );
    }

    #[test]
    fn delays() {
        let cases = [(0, 500), (1, 1_000), (4, 8_000), (5, 15_000), (40, 15_000)];
        for (attempt, expected_ms) in cases {
            assert_eq!(
                poll_delay(attempt),
                Duration::from_millis(expected_ms),
                "attempt {attempt}"
            );
        }
        let retry: Vec<u64> = (0..6)
            .map(|a| attachment_retry_delay(a).as_secs())
            .collect();
        assert_eq!(retry, vec![2, 4, 8, 10, 10, 10]);
    }

    #[test]
    fn upstream_300_s_budget_is_bounded() {
        let sleeps = schedule(Duration::from_secs(300));
        assert_eq!(sleeps.iter().sum::<Duration>(), Duration::from_secs(300));
        assert!(sleeps.len() < 30, "{} sleeps", sleeps.len());
    }
}
