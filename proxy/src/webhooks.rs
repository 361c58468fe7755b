//! `POST /webhooks/gu1`: gu1's signed status changes, so a terminal status reaches the page on
//! its next poll even while gu1's own read still lags, and status requests held on the entity
//! are answered at once.
//!
//! gu1 signs the raw body only, but the envelope's `timestamp` is inside it: a webhook older than
//! the replay window, or seen before within it, is refused. A kept payload is used only for the
//! session, entity and kind it names, and only while it is not older than gu1's own read of that
//! session; only the fields the browser sees are kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::error_handling::HandleErrorLayer;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::api::browser_view;
use crate::app::App;
use crate::errors::refuse;
use crate::gu1::is_active_value;
use crate::token::Kind;

/// Time a webhook may take, body included; past it, 408.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The webhook route: `concurrency` handled at once, more answered 503 with `Retry-After`
/// before their body is read; a 1 MiB body limit and a 10 s time limit.
pub fn routes(concurrency: usize) -> Router<Arc<App>> {
    let limits = tower::ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|e: tower::BoxError| async move {
            if e.is::<tower::timeout::error::Elapsed>() {
                return refuse(
                    StatusCode::REQUEST_TIMEOUT,
                    "TIMEOUT",
                    "the webhook took too long to arrive",
                );
            }
            let mut resp = refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "BUSY",
                "too many webhooks at once, send it again",
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            resp
        }))
        .layer(tower::load_shed::LoadShedLayer::new())
        .layer(tower::limit::ConcurrencyLimitLayer::new(concurrency.max(1)))
        .layer(tower::timeout::TimeoutLayer::new(WEBHOOK_TIMEOUT));
    Router::new().route(
        "/webhooks/gu1",
        post(webhook)
            .layer::<_, std::convert::Infallible>(limits)
            .layer(tower_http::limit::RequestBodyLimitLayer::new(1024 * 1024)),
    )
}

/// A time as gu1 writes it (RFC 3339), in nanoseconds since the epoch.
pub fn parse_time(v: Option<&Value>) -> Option<i128> {
    let t = OffsetDateTime::parse(v?.as_str()?, &Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos())
}

/// How new a session object is: its `updatedAt`, else its `completedAt`.
fn state_time(v: &Value) -> Option<i128> {
    parse_time(v.get("updatedAt")).or_else(|| parse_time(v.get("completedAt")))
}

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
        let key = (kind, id.to_owned());
        let mut entries = self.lock();
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

    /// Records `body`; false when it was already seen within `window`.
    pub fn first(&self, body: &[u8], window: Duration) -> bool {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(body).into();
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

/// The 32 bytes of an `X-Webhook-Signature` value: hex (optionally `sha256=`-prefixed) or
/// base64; `None` when it cannot be an HMAC-SHA256.
pub fn decode_signature(header: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let sig = header.trim();
    let sig = sig.strip_prefix("sha256=").unwrap_or(sig);
    let bytes = if sig.len() == 64 && sig.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&sig[2 * i..2 * i + 2], 16).unwrap_or(0))
            .collect::<Vec<u8>>()
    } else {
        base64::engine::general_purpose::STANDARD.decode(sig).ok()?
    };
    (bytes.len() == 32).then_some(bytes)
}

/// Checks gu1's `X-Webhook-Signature`: HMAC-SHA256 of the raw body, hex (optionally
/// `sha256=`-prefixed) or base64, compared in constant time.
pub fn signature_ok(secret: &[u8], body: &[u8], header: &str) -> bool {
    decode_signature(header).is_some_and(|sig| mac_ok(secret, body, &sig))
}

fn mac_ok(secret: &[u8], body: &[u8], sig: &[u8]) -> bool {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(sig).is_ok()
}

/// `POST /webhooks/gu1`: a signed status change from gu1. A terminal state within the replay
/// window is kept so the next status answer for that session is fresh without waiting for gu1's
/// read to catch up.
async fn webhook(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let Some(secret) = &app.webhook_secret else {
        return refuse(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "webhooks are not configured",
        );
    };
    let bad_signature = || {
        refuse(
            StatusCode::UNAUTHORIZED,
            "INVALID_SIGNATURE",
            "the webhook signature does not match",
        )
    };
    // Without a well-formed signature the body is not even read.
    let Some(sig) = headers
        .get("x-webhook-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(decode_signature)
    else {
        return bad_signature();
    };
    let Ok(body) = axum::body::to_bytes(body, 1024 * 1024).await else {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "TOO_LARGE",
            "the webhook body is over 1 MiB or was cut off",
        );
    };
    // HMAC over up to 1 MiB off the async workers, so status answers never queue behind it.
    let (key, raw) = (secret.clone(), body.clone());
    let signed = tokio::task::spawn_blocking(move || mac_ok(&key, &raw, &sig)).await;
    if !signed.unwrap_or(false) {
        return bad_signature();
    }
    let Ok(envelope) = serde_json::from_slice::<Value>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "INVALID_BODY",
            "the webhook body is not JSON",
        );
    };
    // The signed timestamp makes a captured webhook useless once the window has passed.
    let now = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let window = app.webhook_window.as_nanos() as i128;
    let sent = parse_time(envelope.get("timestamp"));
    match sent {
        Some(t) if (now - t).abs() <= window => {}
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "WEBHOOK_EXPIRED",
                "the webhook's timestamp is outside the replay window",
            )
        }
        None => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "INVALID_BODY",
                "the webhook has no timestamp",
            )
        }
    }
    if !app.seen.first(&body, app.webhook_window) {
        // gu1 may deliver twice; a 2xx stops its retries, and the copy is not used.
        return Json(json!({"ok": true, "duplicate": true})).into_response();
    }
    // `{event, payload}`, or the older `{type, data}`.
    let event = envelope
        .get("event")
        .or_else(|| envelope.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let payload = envelope
        .get("payload")
        .or_else(|| envelope.get("data"))
        .unwrap_or(&Value::Null);
    let kind = if event.starts_with("biometric.") {
        Kind::Biometric
    } else if event.starts_with("kyc.") {
        Kind::Kyc
    } else {
        return Json(json!({"ok": true})).into_response();
    };
    let terminal = !is_active_value(kind, payload) && payload.get("status").is_some();
    if terminal {
        app.fresh.insert(kind, payload, sent);
    }
    // Requests held on this entity (or session) read gu1 now, whatever the new status.
    let entity = payload.get("entityId").and_then(Value::as_str);
    let session = payload
        .get("id")
        .or_else(|| payload.get("validationId"))
        .and_then(Value::as_str);
    match (entity, session) {
        (Some(entity), _) => app.hub.wake(kind, entity),
        (None, Some(session)) => app.hub.wake_session(kind, session),
        (None, None) => {}
    }
    // And on the other instances, through Redis (only the browser's view of the state travels).
    if let Some(cluster) = &app.cluster {
        let view = terminal.then(|| {
            let mut v = browser_view(kind, payload);
            v["id"] = json!(session);
            v
        });
        let ttl = app.fresh.ttl();
        cluster
            .webhook(kind, view.as_ref(), entity, session, sent, ttl)
            .await;
    }
    Json(json!({"ok": true})).into_response()
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
