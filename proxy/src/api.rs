//! The browser API: `GET /kyc/status`, `POST /kyc/start`, `POST /kyc/cancel`. Requests reach
//! these handlers only through `auth::authenticate`, which puts the token's claims in the
//! request; every answer is trimmed to what the page needs.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use crate::app::App;
use crate::auth::too_many;
use crate::errors::{from_gu1, refuse};
use crate::gu1::{is_active_value, Gu1Error};
use crate::token::{Claims, Kind};
use crate::wait::{self, Answer, Held, Hub};

/// The three browser endpoints, without authentication (the caller layers it on).
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/kyc/status", get(status))
        .route("/kyc/start", post(start))
        .route("/kyc/cancel", post(cancel))
}

/// What reaches the browser: only what the client needs, never extracted personal data,
/// documents, decision details or images.
pub fn browser_view(kind: Kind, v: &Value) -> Value {
    let pick = |k: &str| {
        v.get(k)
            .filter(|x| x.is_string() || x.is_null())
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut out = json!({
        "kind": kind.as_str(), "id": pick("id"), "entityId": pick("entityId"), "status": pick("status"),
        "iframeAllow": pick("iframeAllow"), "rejectionCode": pick("rejectionCode"),
        "rejectionMessage": pick("rejectionMessage"), "createdAt": pick("createdAt"),
        "updatedAt": pick("updatedAt"), "completedAt": pick("completedAt"), "expiresAt": pick("expiresAt"),
    });
    let key = if kind == Kind::Biometric {
        "sessionUrl"
    } else {
        "providerSessionUrl"
    };
    out[key] = if is_active_value(kind, v) {
        pick(key)
    } else {
        Value::Null
    };
    out
}

/// Only the token's entity's sessions are ever visible; anything else is "not found".
fn owned(claims: &Claims, v: Option<Value>) -> Option<Value> {
    v.filter(|v| v.get("entityId").and_then(Value::as_str) == Some(claims.entity_id.as_str()))
}

/// The token's session (pinned) or the entity's current one, as gu1 returns it.
async fn lookup(app: &App, claims: &Claims) -> Result<Option<Value>, Gu1Error> {
    let found = match &claims.session_id {
        Some(id) => app.gu1.get(claims.kind, id).await?,
        None => app.gu1.current(claims.kind, &claims.entity_id).await?,
    };
    let found = owned(claims, found);
    // A terminal status delivered by a signed webhook (here, or to another instance and shared
    // through Redis) wins over a stale read of the same session (same kind, id and entity),
    // unless gu1's read is newer.
    Ok(match found {
        Some(v) if is_active_value(claims.kind, &v) => {
            let mut kept = app.fresh.newer_than(claims.kind, &v);
            if let (None, Some(cluster), Some(id)) =
                (&kept, &app.cluster, v.get("id").and_then(Value::as_str))
            {
                if let Some((view, sent)) = cluster.fresh(claims.kind, id).await {
                    app.fresh.insert(claims.kind, &view, sent);
                    kept = app.fresh.newer_than(claims.kind, &v);
                }
            }
            Some(
                kept.filter(|f| !is_active_value(claims.kind, f))
                    .unwrap_or(v),
            )
        }
        other => other,
    })
}

/// The status answer for `claims` as the page gets it (200: the trimmed session, or `null` for
/// a biometric entity without one), or the refusal (404, gu1's errors).
pub async fn read_state(app: &App, claims: &Claims) -> Result<Answer, Response> {
    let view = match lookup(app, claims).await {
        Ok(Some(v)) => browser_view(claims.kind, &v),
        // Biometric "current" answers 200 null; KYC "current" answers 404 NOT_FOUND.
        Ok(None) if claims.kind == Kind::Biometric && claims.session_id.is_none() => Value::Null,
        Ok(None) => {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "no session for this token",
            ))
        }
        Err(e) => return Err(from_gu1(&e)),
    };
    Ok(Answer::new(serde_json::to_vec(&view).unwrap_or_default()))
}

/// What a status answer carries besides its body: its tag, what it varies on, and the wait
/// applied when it was held.
fn tagged(mut resp: Response, etag: &str, waited: Option<u64>) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("Prefer, If-None-Match"),
    );
    if let Some(secs) = waited {
        h.insert("preference-applied", wait::applied(secs));
    }
    resp
}

/// 200 with the answer's body and tag.
fn fresh_answer(a: &Answer, waited: Option<u64>) -> Response {
    let resp = ([(header::CONTENT_TYPE, "application/json")], a.body.clone()).into_response();
    tagged(resp, &a.etag, waited)
}

/// 304 with the tag and no body.
fn not_modified(etag: &str, waited: Option<u64>) -> Response {
    tagged(StatusCode::NOT_MODIFIED.into_response(), etag, waited)
}

/// `GET /kyc/status`: the token's session (or the entity's current one), trimmed, with its
/// `ETag`. With `If-None-Match` naming the current tag: 304 at once, or, with `Prefer: wait=N`,
/// held up to `min(N, max_wait)` seconds until the state changes (200) or the time is up (304).
async fn status(
    State(app): State<Arc<App>>,
    Extension(claims): Extension<Claims>,
    headers: HeaderMap,
) -> Response {
    let conditional = headers.contains_key(header::IF_NONE_MATCH);
    let wait = wait::wait_preference(&headers)
        .filter(|_| conditional)
        .map(|n| n.min(app.max_wait.as_secs()))
        .filter(|n| *n > 0);
    // Join before reading, so a webhook that lands between the read and the hold still wakes it.
    let waiter = wait.map(|_| Hub::join(&app, &claims));
    let answer = match read_state(&app, &claims).await {
        Ok(a) => a,
        Err(refusal) => return refusal,
    };
    if let Some(w) = &waiter {
        w.arrived(&answer);
    }
    if !wait::none_match(&headers, &answer.etag) {
        return fresh_answer(&answer, None);
    }
    match (waiter, wait) {
        (Some(w), Some(secs)) => match w.hold(&answer.etag, Duration::from_secs(secs)).await {
            Held::Changed(new) => fresh_answer(&new, Some(secs)),
            Held::Unchanged => not_modified(&answer.etag, Some(secs)),
        },
        _ => not_modified(&answer.etag, None),
    }
}

/// Creates a session for the token's entity; an active one is resumed instead (gu1's 409
/// `ACTIVE_SESSION_EXISTS` for biometric sessions, the current validation for KYC). Creations
/// count against the entity's cap (`App::starts`); a resume costs nothing.
async fn create_or_resume(app: &App, claims: &Claims) -> Result<(StatusCode, Value), Response> {
    if claims.kind == Kind::Kyc {
        let current = Claims {
            session_id: None,
            ..claims.clone()
        };
        if let Some(v) = lookup(app, &current).await.map_err(|e| from_gu1(&e))? {
            if is_active_value(Kind::Kyc, &v) {
                return Ok((StatusCode::OK, v));
            }
        }
    }
    // Each session costs the integrator at gu1: one token must not create them in a loop.
    let key = format!("{}|{}", claims.kind.as_str(), claims.entity_id);
    if let Err(wait) = app.starts.take(&key) {
        return Err(too_many(
            wait,
            "too many sessions started for this entity, try again later",
        ));
    }
    let created = app.gu1.create(claims.kind, &claims.entity_id).await;
    if created.is_err() {
        app.starts.refund(&key);
    }
    match created {
        Ok(v) => Ok((StatusCode::CREATED, v)),
        Err(e) if e.http == 409 && e.code == "ACTIVE_SESSION_EXISTS" => {
            let pinned = Claims {
                session_id: e.active_session_id.clone(),
                ..claims.clone()
            };
            match lookup(app, &pinned).await.map_err(|e| from_gu1(&e))? {
                Some(v) => Ok((StatusCode::OK, v)),
                None => Err(from_gu1(&e)),
            }
        }
        Err(e) => Err(from_gu1(&e)),
    }
}

/// `POST /kyc/start`: creates a session for the token's entity, resuming an active one.
async fn start(State(app): State<Arc<App>>, Extension(claims): Extension<Claims>) -> Response {
    match create_or_resume(&app, &claims).await {
        Ok((status, v)) => (status, Json(browser_view(claims.kind, &v))).into_response(),
        Err(refusal) => refusal,
    }
}

/// `POST /kyc/cancel`: cancels the token's active session; refused clearly for a terminal one.
async fn cancel(State(app): State<Arc<App>>, Extension(claims): Extension<Claims>) -> Response {
    match lookup(&app, &claims).await {
        Ok(Some(v)) if !is_active_value(claims.kind, &v) => {
            let status = v
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("terminal");
            refuse(
                StatusCode::CONFLICT,
                "SESSION_TERMINAL",
                &format!("the session is already {status} and cannot be cancelled"),
            )
        }
        Ok(Some(v)) => {
            let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
            match app.gu1.cancel(claims.kind, id).await {
                Ok(v) => Json(browser_view(claims.kind, &v)).into_response(),
                Err(e) => from_gu1(&e),
            }
        }
        Ok(None) => refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "no session to cancel"),
        Err(e) => from_gu1(&e),
    }
}
