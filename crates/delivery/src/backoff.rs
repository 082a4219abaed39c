//! How long to wait before trying a delivery again: exponential backoff with full jitter
//! (a uniformly random wait between zero and a ceiling that doubles per attempt, up to a cap),
//! so that many deliveries failing together do not all come back together.
//!
//! The random source is passed in, so tests and replays are deterministic. This module never
//! sleeps: the caller stores the next attempt time with the delivery, so it survives restarts.

use std::time::Duration;

use rand::Rng;

/// Retry schedule. Attempts are counted from 1: `delay(n)` is the wait after the n-th attempt
/// failed, and `exhausted(n)` says the n-th failure was the last one allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    max_attempts: u32,
}

impl Default for Backoff {
    /// Ten attempts, at most about 75 minutes of waiting in all: news an hour late still helps,
    /// and a relay that is down for longer needs a person, not more retries.
    fn default() -> Self {
        Self::new(Duration::from_secs(10), Duration::from_secs(30 * 60), 10)
    }
}

impl Backoff {
    /// `base` is the ceiling after the first failure; each further failure doubles it, up to
    /// `cap`. `max_attempts` counts the first attempt too.
    pub fn new(base: Duration, cap: Duration, max_attempts: u32) -> Self {
        Self {
            base,
            cap: cap.max(base),
            max_attempts,
        }
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The longest wait after the `attempt`-th failure: `min(cap, base * 2^(attempt - 1))`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        if attempt == 0 {
            return Duration::ZERO;
        }
        // 2^(attempt-1) saturates long before u128 nanoseconds could overflow a sane cap.
        let factor = 1u128.checked_shl(attempt - 1).unwrap_or(u128::MAX);
        let nanos = self.base.as_nanos().saturating_mul(factor);
        let capped = nanos.min(self.cap.as_nanos());
        Duration::from_nanos(u64::try_from(capped).unwrap_or(u64::MAX))
    }

    /// A random wait in `[0, ceiling(attempt)]`, drawn from `rng`.
    pub fn delay<R: Rng + ?Sized>(&self, attempt: u32, rng: &mut R) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=ceiling))
    }

    /// True when `attempt` attempts have been made and no more are allowed.
    pub fn exhausted(&self, attempt: u32) -> bool {
        attempt >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::StdRng};

    use super::*;

    fn backoff() -> Backoff {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60), 8)
    }

    #[test]
    fn ceilings_double_per_attempt_until_the_cap() {
        let ceilings: Vec<u64> = (1..=9).map(|n| backoff().ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn huge_attempt_numbers_stay_at_the_cap() {
        assert_eq!(backoff().ceiling(200), Duration::from_secs(60));
        assert_eq!(backoff().ceiling(u32::MAX), Duration::from_secs(60));
        let mut rng = StdRng::seed_from_u64(1);
        assert!(backoff().delay(u32::MAX, &mut rng) <= Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_between_zero_and_the_ceiling_and_spreads_across_it() {
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 1..=10 {
            let ceiling = backoff().ceiling(attempt);
            let delays: Vec<Duration> = (0..500)
                .map(|_| backoff().delay(attempt, &mut rng))
                .collect();
            assert!(delays.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // Full jitter: both halves of the range are used, not just values near the ceiling.
            assert!(delays.iter().any(|d| *d < ceiling / 4), "attempt {attempt}");
            assert!(
                delays.iter().any(|d| *d > ceiling * 3 / 4),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn later_attempts_wait_longer_on_average() {
        let mut rng = StdRng::seed_from_u64(11);
        let mean = |attempt: u32, rng: &mut StdRng| -> Duration {
            (0..400)
                .map(|_| backoff().delay(attempt, rng))
                .sum::<Duration>()
                / 400
        };
        let means: Vec<Duration> = (1..=6).map(|n| mean(n, &mut rng)).collect();
        assert!(means.windows(2).all(|w| w[0] < w[1]), "{means:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (1..=8)
                .map(|n| backoff().delay(n, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
    }

    #[test]
    fn attempts_are_exhausted_at_the_maximum() {
        let backoff = backoff();
        assert!(!backoff.exhausted(1));
        assert!(!backoff.exhausted(7));
        assert!(backoff.exhausted(8));
        assert!(backoff.exhausted(9));
    }

    #[test]
    fn no_wait_before_the_first_attempt() {
        let mut rng = StdRng::seed_from_u64(3);
        assert_eq!(backoff().delay(0, &mut rng), Duration::ZERO);
    }
}
