//! The one retry/poll helper (`retry`) and its schedules: upstream glance_store 5.7's
//! 0.5·2ⁿ s sleeps (capped at 15 s) for HTTP retries, the same with a fast start for status
//! polls, and the 2/4/8/10 s waits of an attachment create on a busy volume.

use std::time::Duration;

/// Longest single sleep between two polls.
pub const MAX_DELAY: Duration = Duration::from_secs(15);

/// Sleep before attempt `attempt + 1`: 0.5 s, 1 s, 2 s, 4 s, 8 s, 15 s, 15 s, ...
/// (glance_store's `_wait_volume_status`, and keystoneauth's retry back-off).
pub fn poll_delay(attempt: u32) -> Duration {
    let millis = 500u64.saturating_mul(1u64 << attempt.min(16));
    Duration::from_millis(millis).min(MAX_DELAY)
}

/// Fast first polls that together take upstream's first 0.5 s sleep: a fresh volume is
/// usually ready well before, and later polls still fall when upstream's would.
pub const FAST_START_MS: [u64; 5] = [20, 40, 80, 160, 200];

/// The sleeps between attempts, in order: when they run out, the last attempt's error is
/// the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule(Vec<Duration>);

impl Schedule {
    /// `retries` more attempts after the first, upstream's 0.5·2ⁿ s apart
    /// (`cinder_http_retries`).
    pub fn retries(retries: u32) -> Schedule {
        Schedule((0..retries).map(poll_delay).collect())
    }

    /// `attempts` attempts in all (at least one), 2, 4, 8, 10, 10, … s apart: glance_store
    /// 5.7's attachment create while Cinder says the volume is busy
    /// (`cinder_attachment_retry_attempts`).
    pub fn attachment(attempts: u32) -> Schedule {
        Schedule(
            (0..attempts.saturating_sub(1))
                .map(|n| Duration::from_secs((2u64 << n.min(8)).min(10)))
                .collect(),
        )
    }

    /// Status polls within `budget`: `FAST_START_MS`, then 1 s, 2 s, 4 s, … (upstream's
    /// 0.5·2ⁿ s after the first), truncated so the sum never exceeds the budget (the last
    /// sleep is shortened). Upstream counts the budget as the sum of sleeps; cinderbox
    /// additionally never sleeps past it.
    pub fn status_polls(budget: Duration) -> Schedule {
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
        Schedule(out)
    }

    pub fn sleeps(&self) -> &[Duration] {
        &self.0
    }
}

/// What one attempt came to.
pub enum Next<T, E> {
    /// Finished, well or not: no more attempts.
    Done(Result<T, E>),
    /// Worth another attempt after the schedule's next sleep; `E` is the answer if the
    /// schedule has none left.
    Again(E),
    /// Worth another attempt after this sleep instead of the schedule's (a `Retry-After`);
    /// it still uses up one of the schedule's sleeps.
    AgainAfter(E, Duration),
}

/// Runs `attempt` (given the attempt number, from 0) until it is done or `schedule` has no
/// sleep left. Bounded: at most `schedule.sleeps().len() + 1` attempts.
pub fn retry<T, E>(schedule: &Schedule, attempt: impl FnMut(u32) -> Next<T, E>) -> Result<T, E> {
    retry_with(schedule, std::thread::sleep, attempt)
}

/// `retry` with the sleeping done by `sleep` (tests record it instead).
pub fn retry_with<T, E>(
    schedule: &Schedule,
    mut sleep: impl FnMut(Duration),
    mut attempt: impl FnMut(u32) -> Next<T, E>,
) -> Result<T, E> {
    let mut sleeps = schedule.0.iter();
    let mut n = 0;
    // bounded: every pass but the last takes one sleep from the schedule
    loop {
        let (err, instead) = match attempt(n) {
            Next::Done(result) => return result,
            Next::Again(err) => (err, None),
            Next::AgainAfter(err, wait) => (err, Some(wait)),
        };
        let Some(scheduled) = sleeps.next() else {
            return Err(err);
        };
        sleep(instead.unwrap_or(*scheduled));
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    fn check(budget_ms: u64, expected: Vec<Duration>) {
        assert_eq!(
            Schedule::status_polls(Duration::from_millis(budget_ms)).sleeps(),
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
    fn polls_fall_when_upstreams_do_after_the_fast_start() {
        // upstream polls at 0, 0.5, 1.5, 3.5, 7.5 s (0.5·2ⁿ sleeps): so do we, after the
        // fast polls in the first 0.5 s
        let mut at = Duration::ZERO;
        let mut times = vec![at];
        for sleep in Schedule::status_polls(Duration::from_secs(8)).sleeps() {
            at += *sleep;
            times.push(at);
        }
        assert_eq!(
            times,
            ms(&[0, 20, 60, 140, 300, 500, 1_500, 3_500, 7_500, 8_000])
        );
    }

    #[test]
    fn retry_and_attachment_schedules() {
        let cases = [(0, 500), (1, 1_000), (4, 8_000), (5, 15_000), (40, 15_000)];
        for (attempt, expected_ms) in cases {
            assert_eq!(
                poll_delay(attempt),
                Duration::from_millis(expected_ms),
                "attempt {attempt}"
            );
        }
        assert_eq!(
            Schedule::retries(3).sleeps(),
            ms(&[500, 1_000, 2_000]).as_slice()
        );
        assert_eq!(Schedule::retries(0).sleeps(), ms(&[]).as_slice());
        assert_eq!(
            Schedule::attachment(7).sleeps(),
            ms(&[2_000, 4_000, 8_000, 10_000, 10_000, 10_000]).as_slice()
        );
        // one attempt (or a 0 the config refuses anyway) is never retried
        assert_eq!(Schedule::attachment(1).sleeps(), ms(&[]).as_slice());
        assert_eq!(Schedule::attachment(0).sleeps(), ms(&[]).as_slice());
    }

    #[test]
    fn upstream_300_s_budget_is_bounded() {
        let schedule = Schedule::status_polls(Duration::from_secs(300));
        assert_eq!(
            schedule.sleeps().iter().sum::<Duration>(),
            Duration::from_secs(300)
        );
        assert!(
            schedule.sleeps().len() < 30,
            "{} sleeps",
            schedule.sleeps().len()
        );
    }

    /// Runs `retry_with` over scripted outcomes; returns the result, the attempt numbers
    /// seen and the sleeps taken.
    fn run(
        schedule: &Schedule,
        outcomes: Vec<Next<&'static str, &'static str>>,
    ) -> (Result<&'static str, &'static str>, Vec<u32>, Vec<Duration>) {
        let mut outcomes = outcomes.into_iter();
        let (mut seen, mut slept) = (Vec::new(), Vec::new());
        let result = retry_with(
            schedule,
            |d| slept.push(d),
            |n| {
                seen.push(n);
                outcomes.next().expect("no more attempts than scripted")
            },
        );
        (result, seen, slept)
    }

    #[test]
    fn retry_follows_the_schedule_and_stops() {
        let three = Schedule::retries(3);
        // done at once: no sleep
        assert_eq!(
            run(&three, vec![Next::Done(Ok("a"))]),
            (Ok("a"), vec![0], vec![])
        );
        // a final error ends it too
        assert_eq!(
            run(&three, vec![Next::Again("busy"), Next::Done(Err("bad"))]),
            (Err("bad"), vec![0, 1], ms(&[500]))
        );
        // success after two retries; a Retry-After replaces the scheduled sleep
        assert_eq!(
            run(
                &three,
                vec![
                    Next::Again("503"),
                    Next::AgainAfter("413", Duration::from_secs(7)),
                    Next::Done(Ok("b"))
                ]
            ),
            (Ok("b"), vec![0, 1, 2], ms(&[500, 7_000]))
        );
        // the schedule runs out: the last attempt's error is the answer
        assert_eq!(
            run(
                &three,
                vec![
                    Next::Again("1"),
                    Next::Again("2"),
                    Next::Again("3"),
                    Next::Again("4")
                ]
            ),
            (Err("4"), vec![0, 1, 2, 3], ms(&[500, 1_000, 2_000]))
        );
        // no sleeps: one attempt only
        assert_eq!(
            run(&Schedule::retries(0), vec![Next::Again("x")]),
            (Err("x"), vec![0], vec![])
        );
    }
}
