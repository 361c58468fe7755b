//! What the proxy keeps from gu1's webhooks: the terminal states they delivered (served until
//! gu1's own read catches up) and the digests of the webhooks seen (to refuse a replay).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::token::Kind;
use crate::view::{browser_view, state_time};

/// A terminal state received by webhook: what the browser would see of it, and how new it is.
#[derive(Clone, Debug)]
struct Kept {
    received: Instant,
    at: Option<i128>,
    view: Value,
}

/// Terminal states received by signed webhook, by kind and session id, each kept for `ttl` and
/// at most `capacity` of them (the oldest goes first). They only bridge the time until gu1's
/// read catches up, so losing one costs a poll or two, never a wrong answer.
#[derive(Debug)]
pub struct Fresh {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<(Kind, String), Kept>>,
}

impl Fresh {
    /// A store keeping each state for `ttl`, at most `capacity` of them.
    pub fn new(ttl: Duration, capacity: usize) -> Fresh {
        Fresh {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Kind, String), Kept>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps the browser's view of `payload` (a session of `kind`) under its id, unless a newer
    /// state of that session is already kept: a session never moves backwards. The state's time
    /// is its `updatedAt` (else `completedAt`, else `sent`, the envelope's timestamp).
    pub fn insert(&self, kind: Kind, payload: &Value, sent: Option<i128>) {
        let Some(id) = payload
            .get("id")
            .or_else(|| payload.get("validationId"))
            .and_then(Value::as_str)
        else {
            return;
        };
        let mut view = browser_view(kind, payload);
        view["id"] = json!(id);
        let kept = Kept {
            received: Instant::now(),
            at: state_time(payload).or(sent),
            view,
        };
        let key = (kind, id.to_owned());
        let now = Instant::now();
        let mut entries = self.lock();
        if let Some(old) = entries.get(&key) {
            if now.duration_since(old.received) < self.ttl && old.at > kept.at {
                return;
            }
        }
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, k| now.duration_since(k.received) < self.ttl);
            while entries.len() >= self.capacity {
                let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, k)| k.received)
                    .map(|(key, _)| key.clone())
                else {
                    break;
                };
                entries.remove(&oldest);
            }
        }
        entries.insert(key, kept);
    }

    /// The kept state of `gu1_read`'s session (a `kind` session as gu1 just answered it), if
    /// one is kept for the same kind, id and entity, has not expired, and is not older than
    /// gu1's read.
    pub fn newer_than(&self, kind: Kind, gu1_read: &Value) -> Option<Value> {
        let id = gu1_read.get("id").and_then(Value::as_str)?;
        let mut entries = self.lock();
        if entries.is_empty() {
            return None;
        }
        let key = (kind, id.to_owned());
        let kept = entries.get(&key)?;
        if kept.received.elapsed() >= self.ttl {
            entries.remove(&key);
            return None;
        }
        let same_entity = kept.view.get("entityId") == gu1_read.get("entityId");
        let not_older = match (kept.at, state_time(gu1_read)) {
            (Some(kept), Some(read)) => kept >= read,
            (None, Some(_)) => false,
            (_, None) => true,
        };
        (same_entity && not_older).then(|| kept.view.clone())
    }

    /// How long a state is kept.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How many states are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Digests of the webhooks received within the replay window, at most `capacity` of them.
#[derive(Debug)]
pub struct Seen {
    capacity: usize,
    entries: Mutex<HashMap<[u8; 32], Instant>>,
}

impl Seen {
    /// A store of at most `capacity` digests.
    pub fn new(capacity: usize) -> Seen {
        Seen {
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The digest a body is known by: its SHA-256.
    pub fn digest(body: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(body).into()
    }

    /// Records `body`; false when it was already seen within `window`.
    pub fn first(&self, body: &[u8], window: Duration) -> bool {
        self.first_digest(Self::digest(body), window)
    }

    /// Records a body by its [`Seen::digest`]; false when it was already seen within `window`.
    pub fn first_digest(&self, digest: [u8; 32], window: Duration) -> bool {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = entries.get(&digest) {
            if now.duration_since(*at) < window {
                return false;
            }
        }
        if entries.len() >= self.capacity {
            entries.retain(|_, at| now.duration_since(*at) < window);
            if entries.len() >= self.capacity {
                // Only gu1 can sign, so this takes a flood of genuine webhooks: forgetting the
                // oldest still leaves the timestamp window in force.
                if let Some(oldest) = entries.iter().min_by_key(|(_, at)| **at).map(|(d, _)| *d) {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(digest, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: &str, at: &str) -> Value {
        json!({"id": id, "entityId": "e", "status": "approved", "updatedAt": at,
            "extractedData": {"firstName": "Ada"}})
    }

    #[test]
    fn states_expire_the_store_is_bounded_and_only_browser_fields_are_kept() {
        let fresh = Fresh::new(Duration::from_millis(50), 3);
        let t = "2026-01-01T00:00:00Z";
        for i in 0..10 {
            fresh.insert(Kind::Biometric, &state(&format!("s{i}"), t), None);
        }
        assert_eq!(fresh.len(), 3, "at most `capacity` states");
        let read =
            |id: &str| json!({"id": id, "entityId": "e", "status": "pending", "updatedAt": t});
        assert!(
            fresh.newer_than(Kind::Biometric, &read("s0")).is_none(),
            "the oldest went first"
        );
        let kept = fresh.newer_than(Kind::Biometric, &read("s9")).unwrap();
        assert!(kept.get("extractedData").is_none(), "{kept}");
        assert!(
            fresh.newer_than(Kind::Kyc, &read("s9")).is_none(),
            "another kind"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            fresh.newer_than(Kind::Biometric, &read("s9")).is_none(),
            "gone after its time to live"
        );
    }

    #[test]
    fn a_session_never_moves_backwards() {
        let fresh = Fresh::new(Duration::from_secs(60), 10);
        fresh.insert(Kind::Kyc, &state("v", "2026-01-01T00:00:10Z"), None);
        let mut older = state("v", "2026-01-01T00:00:05Z");
        older["status"] = json!("rejected");
        fresh.insert(Kind::Kyc, &older, None);
        let read =
            |at: &str| json!({"id": "v", "entityId": "e", "status": "in_review", "updatedAt": at});
        let kept = fresh
            .newer_than(Kind::Kyc, &read("2026-01-01T00:00:00Z"))
            .unwrap();
        assert_eq!(
            kept["status"], "approved",
            "an older state does not replace a newer one"
        );
        assert!(
            fresh
                .newer_than(Kind::Kyc, &read("2026-01-01T00:00:11Z"))
                .is_none(),
            "gu1's newer read wins"
        );
    }

    #[test]
    fn a_body_is_seen_once_per_window() {
        let seen = Seen::new(2);
        assert!(seen.first(b"a", Duration::from_secs(60)));
        assert!(!seen.first(b"a", Duration::from_secs(60)));
        assert!(seen.first(b"b", Duration::from_secs(60)));
        assert!(
            seen.first(b"c", Duration::from_secs(60)),
            "bounded: the oldest makes room"
        );
        assert!(seen.first(b"a", Duration::from_secs(60)));
    }
}
