//! Token buckets: the per-token request budget and the per-entity cap on sessions created. Per
//! instance; instances that share Redis use one bucket there instead (`cluster`), and these while
//! Redis is away.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket per token: `burst` requests at once, then `rate` per second. Off when `rate`
/// is 0. Per instance; instances that share Redis use one bucket there instead (`cluster`),
/// and this one while Redis is away.
#[derive(Debug)]
pub struct Limiter {
    /// Requests per second (0: off).
    pub rate: f64,
    /// Requests at once.
    pub burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    /// A limiter; `rate` 0 disables it.
    pub fn new(rate: f64, burst: f64) -> Limiter {
        Limiter {
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// At most `n` at once and `n` per `window` on average (a bucket refilling over `window`);
    /// off when `n` is 0.
    pub fn per_window(n: u32, window: Duration) -> Limiter {
        if n == 0 || window.is_zero() {
            return Limiter::new(0.0, 0.0);
        }
        Limiter::new(f64::from(n) / window.as_secs_f64(), f64::from(n))
    }

    /// Whether it limits anything.
    pub fn is_on(&self) -> bool {
        self.rate > 0.0
    }

    /// Gives back one request taken from `key`'s bucket (it turned out to cost nothing).
    pub fn refund(&self, key: &str) {
        if self.rate <= 0.0 {
            return;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((tokens, _)) = buckets.get_mut(key) {
            *tokens = (*tokens + 1.0).min(self.burst);
        }
    }

    /// Takes one request from `key`'s bucket, or says how long until one is available.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Full buckets carry no information: dropping them changes nothing.
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}
