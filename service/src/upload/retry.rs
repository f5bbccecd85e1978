//! Retrying requests: exponential back-off with jitter, bounded, and
//! honouring a server's `Retry-After`.

use std::time::Duration;

/// How requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// Wait before the second attempt.
    pub base: Duration,
    /// Longest wait between attempts.
    pub max: Duration,
    /// How long one request may take.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 8,
            base: Duration::from_millis(200),
            max: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The policy with `RINGTRACK_UPLOAD_ATTEMPTS`, `RINGTRACK_UPLOAD_BACKOFF_MS`,
    /// `RINGTRACK_UPLOAD_MAX_BACKOFF_MS` and `RINGTRACK_UPLOAD_TIMEOUT_MS`
    /// applied over the defaults.
    pub fn from_env() -> RetryPolicy {
        let mut policy = RetryPolicy::default();
        let ms = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_millis)
        };
        if let Some(n) = std::env::var("RINGTRACK_UPLOAD_ATTEMPTS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            policy.attempts = std::cmp::max(1, n);
        }
        policy.base = ms("RINGTRACK_UPLOAD_BACKOFF_MS").unwrap_or(policy.base);
        policy.max = ms("RINGTRACK_UPLOAD_MAX_BACKOFF_MS").unwrap_or(policy.max);
        policy.timeout = ms("RINGTRACK_UPLOAD_TIMEOUT_MS").unwrap_or(policy.timeout);
        policy
    }

    /// The wait after failed attempt `attempt` (1-based): the server's
    /// `Retry-After` when given (capped at `max`), else `base * 2^(attempt-1)`
    /// capped at `max`, with "full jitter" between half and all of it.
    pub fn wait(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        seed: u64,
    ) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max);
        }
        let exp = self
            .base
            .saturating_mul(1u32 << (attempt - 1).min(20))
            .min(self.max);
        let half = exp / 2;
        let jitter = splitmix(seed ^ u64::from(attempt)) % (half.as_micros() as u64 + 1);
        half + Duration::from_micros(jitter)
    }
}

/// Parses a `Retry-After` value in seconds (the HTTP-date form is not
/// used by tracking servers and falls back to the back-off).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_and_stay_bounded() {
        let p = RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
        };
        for attempt in 1..=10 {
            let w = p.wait(attempt, None, 7);
            let full = (Duration::from_millis(100) * (1 << (attempt - 1)))
                .min(Duration::from_secs(2));
            assert!(
                w >= full / 2 && w <= full,
                "attempt {attempt}: {w:?} vs {full:?}"
            );
        }
        assert_eq!(
            p.wait(1, Some(Duration::from_secs(1)), 0),
            Duration::from_secs(1)
        );
        assert_eq!(
            p.wait(1, Some(Duration::from_secs(99)), 0),
            Duration::from_secs(2)
        );
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
