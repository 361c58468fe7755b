//! `POST /webhooks/gu1`: gu1's signed status changes, so a terminal status reaches the page on
//! its next poll even while gu1's own read still lags, and status requests held on the entity
//! are answered at once.
//!
//! gu1 signs the raw body only, but the envelope's `timestamp` is inside it: a webhook older than
//! the replay window, or seen before within it, is refused. A kept payload is used only for the
//! session, entity and kind it names, and only while it is not older than gu1's own read of that
//! session; only the fields the browser sees are kept.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::StreamExt;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::cluster::Shared;
use crate::errors::refuse;
use crate::fresh::Seen;
use crate::gu1::is_active_value;
use crate::limit::Taken;
use crate::state::App;
use crate::token::Kind;
use crate::view::{browser_view, parse_time};

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

/// The largest webhook body.
pub const MAX_BODY: usize = 1024 * 1024;

/// A webhook's decoded `X-Webhook-Signature`, checked against its body by [`receive`].
#[derive(Clone, Debug)]
pub struct Signature(pub Vec<u8>);

fn not_configured() -> Response {
    crate::telemetry::webhook("not_configured");
    refuse(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "webhooks are not configured",
    )
}

fn bad_signature() -> Response {
    crate::telemetry::webhook("invalid_signature");
    refuse(
        StatusCode::UNAUTHORIZED,
        "INVALID_SIGNATURE",
        "the webhook signature does not match",
    )
}

/// Why a webhook's body could not be read.
enum Unread {
    TooLarge,
    Busy,
}

/// In front of the webhook slots: a webhook without a well-formed signature is refused unread
/// (401); the body must arrive within `App::webhook_body_timeout` (else 408) and fit in 1 MiB
/// (else 413) and in what is left of `App::webhook_bytes` (else 503; unread when its announced
/// length does not fit). Only then does the
/// webhook take a slot, so connections trickling bodies cannot keep gu1's webhooks out.
pub async fn read_first(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if app.webhook_secret.is_none() {
        return not_configured();
    }
    let Some(sig) = req
        .headers()
        .get("x-webhook-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(decode_signature)
    else {
        return bad_signature();
    };
    let (parts, body) = req.into_parts();
    // Bytes are taken from the budget as they arrive, so a body trickling in holds only what
    // came; one whose announced length does not fit what is left is shed unread.
    let mut held = Taken::default();
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_BODY);
    if announced > app.webhook_bytes.available() {
        crate::telemetry::shed("webhook_bytes");
        return busy();
    }
    let read = tokio::time::timeout(app.webhook_body_timeout, async {
        let mut stream = body.into_data_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| Unread::TooLarge)?;
            if buf.len() + chunk.len() > MAX_BODY {
                return Err(Unread::TooLarge);
            }
            if !held.add(&app.webhook_bytes, chunk.len()) {
                return Err(Unread::Busy);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    })
    .await;
    let body = match read {
        Ok(Ok(body)) => body,
        Ok(Err(Unread::TooLarge)) => {
            crate::telemetry::webhook("too_large");
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "TOO_LARGE",
                "the webhook body is over 1 MiB or was cut off",
            );
        }
        Ok(Err(Unread::Busy)) => {
            crate::telemetry::shed("webhook_bytes");
            return busy();
        }
        Err(_) => {
            crate::telemetry::webhook("timeout");
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                "TIMEOUT",
                "the webhook took too long to arrive",
            );
        }
    };
    let mut req = Request::from_parts(parts, Body::from(body));
    req.extensions_mut().insert(Signature(sig));
    let resp = next.run(req).await;
    drop(held);
    resp
}

/// 503 `BUSY` with `Retry-After: 1`: gu1 sends the webhook again.
pub fn busy() -> Response {
    crate::telemetry::webhook("busy");
    let mut resp = refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        "BUSY",
        "too many webhooks at once, send it again",
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

/// `POST /webhooks/gu1`: a signed status change from gu1. A terminal state within the replay
/// window is kept so the next status answer for that session is fresh without waiting for gu1's
/// read to catch up.
pub async fn receive(
    State(app): State<Arc<App>>,
    Extension(Signature(sig)): Extension<Signature>,
    body: Bytes,
) -> Response {
    let Some(secret) = &app.webhook_secret else {
        return not_configured();
    };
    // HMAC over up to 1 MiB off the async workers, so status answers never queue behind it.
    let (key, raw) = (secret.clone(), body.clone());
    let signed = tokio::task::spawn_blocking(move || mac_ok(&key, &raw, &sig)).await;
    if !signed.unwrap_or(false) {
        return bad_signature();
    }
    let Ok(envelope) = serde_json::from_slice::<Value>(&body) else {
        crate::telemetry::webhook("invalid_body");
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
            crate::telemetry::webhook("expired");
            return refuse(
                StatusCode::BAD_REQUEST,
                "WEBHOOK_EXPIRED",
                "the webhook's timestamp is outside the replay window",
            );
        }
        None => {
            crate::telemetry::webhook("invalid_body");
            return refuse(
                StatusCode::BAD_REQUEST,
                "INVALID_BODY",
                "the webhook has no timestamp",
            );
        }
    }
    // Seen here, or by any instance when they share Redis.
    let digest = Seen::digest(&body);
    let here = app.seen.first_digest(digest, app.webhook_window);
    let anywhere = match &app.cluster {
        Some(c) => c.first_seen(&digest, app.webhook_window).await,
        None => None,
    };
    if !(here && anywhere.unwrap_or(true)) {
        // gu1 may deliver twice; a 2xx stops its retries, and the copy is not used.
        crate::telemetry::webhook("duplicate");
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
        crate::telemetry::webhook("ignored");
        return Json(json!({"ok": true})).into_response();
    };
    let terminal = !is_active_value(kind, payload) && payload.get("status").is_some();
    let session = payload
        .get("id")
        .or_else(|| payload.get("validationId"))
        .and_then(Value::as_str);
    let shared = Shared {
        kind,
        // Only the browser's view of a terminal state is kept, here and in Redis.
        view: terminal.then(|| {
            let mut v = browser_view(kind, payload);
            v["id"] = json!(session);
            v
        }),
        entity: payload
            .get("entityId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        session: session.map(str::to_owned),
        sent,
    };
    crate::telemetry::webhook("accepted");
    apply(&app, &shared, "webhook");
    // And on the other instances, through Redis.
    if let Some(cluster) = &app.cluster {
        cluster.webhook(&shared, app.fresh.ttl()).await;
    }
    Json(json!({"ok": true})).into_response()
}

/// A webhook received here (`source`: `webhook`) or by another instance (`peer`): its terminal
/// state kept, and the requests held on its entity (or session) woken to read gu1 now,
/// whatever the new status.
pub fn apply(app: &App, shared: &Shared, source: &'static str) {
    crate::telemetry::wakeup(source);
    if let Some(view) = &shared.view {
        app.fresh.insert(shared.kind, view, shared.sent);
    }
    match (&shared.entity, &shared.session) {
        (Some(entity), _) => app.hub.wake(shared.kind, entity),
        (None, Some(session)) => app.hub.wake_session(shared.kind, session),
        (None, None) => {}
    }
}
