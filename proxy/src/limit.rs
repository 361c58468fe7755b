//! Budgets: token buckets (the per-token request budget and the per-entity cap on sessions
//! created; per instance, instances that share Redis use one bucket there instead, `cluster`,
//! and these while Redis is away), and byte budgets (what bodies being read and answers being
//! buffered may hold at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes that may be held at once across requests (webhook bodies being read, gu1 answers
/// being buffered), taken chunk by chunk as they arrive and given back when the holder's
/// [`Taken`] is dropped. Cloning it gives another handle to the same budget.
#[derive(Clone, Debug)]
pub struct ByteBudget {
    bytes: Arc<Semaphore>,
    total: usize,
}

impl ByteBudget {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> ByteBudget {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        ByteBudget {
            bytes: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Bytes held right now.
    pub fn in_use(&self) -> usize {
        self.total - self.bytes.available_permits()
    }

    /// Bytes left right now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    /// The budget's size.
    pub fn total(&self) -> usize {
        self.total
    }
}

/// Bytes one holder has taken from a [`ByteBudget`]; given back on drop.
#[derive(Debug, Default)]
pub struct Taken(Option<OwnedSemaphorePermit>);

impl Taken {
    /// Takes `n` more bytes from `budget`; false (nothing taken) when they are not left.
    pub fn add(&mut self, budget: &ByteBudget, n: usize) -> bool {
        let Ok(n) = u32::try_from(n) else {
            return false;
        };
        if n == 0 {
            return true;
        }
        let Ok(more) = budget.bytes.clone().try_acquire_many_owned(n) else {
            return false;
        };
        match &mut self.0 {
            Some(held) => held.merge(more),
            None => self.0 = Some(more),
        }
        true
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_budget_is_taken_chunk_by_chunk_and_given_back_on_drop() {
        let budget = ByteBudget::new(100);
        let mut a = Taken::default();
        assert!(a.add(&budget, 60));
        let mut b = Taken::default();
        assert!(b.add(&budget, 30));
        assert!(!b.add(&budget, 20), "only 10 left");
        assert_eq!(budget.in_use(), 90, "a refused chunk takes nothing");
        assert!(b.add(&budget, 10));
        drop(a);
        assert_eq!(budget.in_use(), 40);
        drop(b);
        assert_eq!(budget.in_use(), 0);
    }
}
