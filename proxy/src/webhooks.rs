//! `POST /webhooks/gu1`: gu1's signed status changes, so a terminal status reaches the page on
//! its next poll even while gu1's own read still lags.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::App;
use crate::errors::refuse;
use crate::gu1::is_active_value;
use crate::token::Kind;

/// The webhook route, with its 1 MiB body limit.
pub fn routes() -> Router<Arc<App>> {
    Router::new().route(
        "/webhooks/gu1",
        post(webhook).layer(tower_http::limit::RequestBodyLimitLayer::new(1024 * 1024)),
    )
}

/// Terminal payloads received by signed webhook, by session id, each kept for `ttl` and at most
/// `capacity` of them (the oldest goes first). They only bridge the time until gu1's read
/// catches up, so losing one costs a poll or two, never a wrong answer.
#[derive(Debug)]
pub struct Fresh {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, (Instant, Value)>>,
}

impl Fresh {
    /// A store keeping each payload for `ttl`, at most `capacity` of them.
    pub fn new(ttl: Duration, capacity: usize) -> Fresh {
        Fresh {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Value)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `payload` for session `id`.
    pub fn insert(&self, id: String, payload: Value) {
        let now = Instant::now();
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&id) {
            entries.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
            while entries.len() >= self.capacity {
                let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                entries.remove(&oldest);
            }
        }
        entries.insert(id, (now, payload));
    }

    /// The payload for session `id`, unless it has expired.
    pub fn get(&self, id: &str) -> Option<Value> {
        let mut entries = self.lock();
        match entries.get(id) {
            Some((at, v)) if at.elapsed() < self.ttl => Some(v.clone()),
            Some(_) => {
                entries.remove(id);
                None
            }
            None => None,
        }
    }

    /// How many payloads are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Checks gu1's `X-Webhook-Signature`: HMAC-SHA256 of the raw body, hex (optionally
/// `sha256=`-prefixed) or base64, compared in constant time.
pub fn signature_ok(secret: &[u8], body: &[u8], header: &str) -> bool {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let sig = header.trim();
    let sig = sig.strip_prefix("sha256=").unwrap_or(sig);
    let bytes = if sig.len() == 64 && sig.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&sig[2 * i..2 * i + 2], 16).unwrap_or(0))
            .collect::<Vec<u8>>()
    } else {
        match base64::engine::general_purpose::STANDARD.decode(sig) {
            Ok(b) => b,
            Err(_) => return false,
        }
    };
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

/// `POST /webhooks/gu1`: a signed status change from gu1. A terminal payload is kept so the next
/// status answer for that session is fresh without waiting for gu1's read to catch up.
async fn webhook(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(secret) = &app.webhook_secret else {
        return refuse(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "webhooks are not configured",
        );
    };
    let sig = headers
        .get("x-webhook-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !signature_ok(secret, &body, sig) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "INVALID_SIGNATURE",
            "the webhook signature does not match",
        );
    }
    let Ok(envelope) = serde_json::from_slice::<Value>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "INVALID_BODY",
            "the webhook body is not JSON",
        );
    };
    // `{event, payload}`, or the older `{type, data}`.
    let event = envelope
        .get("event")
        .or_else(|| envelope.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let payload = envelope
        .get("payload")
        .or_else(|| envelope.get("data"))
        .cloned()
        .unwrap_or(Value::Null);
    let kind = if event.starts_with("biometric.") {
        Kind::Biometric
    } else {
        Kind::Kyc
    };
    let id = payload
        .get("id")
        .or_else(|| payload.get("validationId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(id) = id {
        if !is_active_value(kind, &payload) && payload.get("status").is_some() {
            app.fresh.insert(id, payload);
        }
    }
    Json(json!({"ok": true})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_expire_and_the_store_is_bounded() {
        let fresh = Fresh::new(Duration::from_millis(50), 3);
        for i in 0..10 {
            fresh.insert(format!("s{i}"), json!({"status": "approved"}));
        }
        assert_eq!(fresh.len(), 3, "at most `capacity` payloads");
        assert!(fresh.get("s0").is_none(), "the oldest went first");
        assert!(fresh.get("s9").is_some(), "the newest stays");
        std::thread::sleep(Duration::from_millis(60));
        assert!(fresh.get("s9").is_none(), "gone after its time to live");
        for id in ["x", "y", "z"] {
            fresh.insert(id.into(), json!({"status": "approved"}));
        }
        for id in ["x", "y", "z"] {
            assert!(
                fresh.get(id).is_some(),
                "expired payloads made room, not new ones: {id}"
            );
        }
    }
}
