//! The browser API's handlers: `GET /kyc/status`, `POST /kyc/start`, `POST /kyc/cancel` (routed
//! in `routes`). Requests reach them only through `auth::Authenticate`, which puts the token's claims in the
//! request; every answer is trimmed to what the page needs.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::Value;

use crate::errors::{from_gu1, refuse, too_many};
use crate::gu1::{is_active_value, Gu1Error, Session, UPSTREAM_WRONG_ENTITY};
use crate::middleware::STATUS_VARY;
use crate::session::{lookup, owned, read_state};
use crate::state::App;
use crate::token::{Claims, Kind};
use crate::view::browser_view;
use crate::wait::{self, Answer, Conditions, Held};

/// What a status answer carries besides its body: its tag, what it varies on, and the wait
/// applied when it was held.
fn tagged(mut resp: Response, etag: &str, waited: Option<u64>) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static(STATUS_VARY));
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
pub async fn status(
    State(app): State<Arc<App>>,
    Extension(claims): Extension<Arc<Claims>>,
    headers: HeaderMap,
) -> Response {
    let conditions = Conditions::read(&headers);
    drop(headers);
    let wait = conditions
        .wait
        .filter(|_| conditions.conditional())
        .map(|n| n.min(app.max_wait.as_secs()))
        .filter(|n| *n > 0);
    // Join before reading, so a webhook that lands between the read and the hold still wakes it.
    // Past the scope's cap of held requests the wait is not applied: answered at once.
    let waiter = wait.and_then(|_| {
        let reader = app.clone();
        app.hub
            .join(reader, &claims, app.wait_refresh, app.max_held_per_scope)
    });
    if wait.is_some() && waiter.is_none() {
        crate::telemetry::held("capped");
    }
    let wait = wait.filter(|_| waiter.is_some());
    let answer = match read_state(&app, &claims).await {
        Ok(a) => a,
        Err(refusal) => return refusal,
    };
    if let Some(w) = &waiter {
        w.arrived(&answer);
    }
    if !conditions.none_match(&answer.etag) {
        return fresh_answer(&answer, None);
    }
    match (waiter, wait) {
        (Some(w), Some(secs)) => match w.hold(&answer.etag, Duration::from_secs(secs)).await {
            Held::Changed(new) => {
                crate::telemetry::held("changed");
                fresh_answer(&new, Some(secs))
            }
            Held::Unchanged => {
                crate::telemetry::held("unchanged");
                not_modified(&answer.etag, Some(secs))
            }
        },
        _ => not_modified(&answer.etag, None),
    }
}

/// gu1 answered with a session of an entity other than the token's.
fn another_entity() -> Gu1Error {
    Gu1Error::new(
        502,
        UPSTREAM_WRONG_ENTITY,
        "gu1 answered with another entity's session",
    )
}

/// Creates a session for the token's entity; an active one is resumed instead (gu1's 409
/// `ACTIVE_SESSION_EXISTS` for biometric sessions, the current validation for KYC). Creations
/// count against the entity's cap (`App::starts`); a resume costs nothing.
async fn create_or_resume(app: &App, claims: &Claims) -> Result<(StatusCode, Session), Response> {
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
    // Each session costs the integrator at gu1: one token must not create them in a loop. One
    // bucket for all instances when they share Redis; this instance's own otherwise.
    let key = format!("start|{}|{}", claims.kind.as_str(), claims.entity_id);
    let shared = match &app.cluster {
        Some(c) if app.starts.is_on() => c.take(&key, app.starts.rate, app.starts.burst).await,
        _ => None,
    };
    let from_shared = shared.is_some();
    if let Err(wait) = shared.unwrap_or_else(|| app.starts.take(&key)) {
        crate::telemetry::rate_limited("starts");
        return Err(too_many(
            wait,
            "too many sessions started for this entity, try again later",
        ));
    }
    let created = app.gu1.create(claims.kind, &claims.entity_id).await;
    if created.is_err() {
        match &app.cluster {
            Some(c) if from_shared => c.refund(&key, app.starts.burst).await,
            _ => app.starts.refund(&key),
        }
    }
    match created {
        // Only the token's entity's sessions are ever shown, the one just created included.
        Ok(v) => match owned(claims, Some(v)) {
            Some(v) => Ok((StatusCode::CREATED, Arc::new(v))),
            None => Err(from_gu1(&another_entity())),
        },
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
pub async fn start(
    State(app): State<Arc<App>>,
    Extension(claims): Extension<Arc<Claims>>,
) -> Response {
    match create_or_resume(&app, &claims).await {
        Ok((status, v)) => (status, Json(browser_view(claims.kind, &v))).into_response(),
        Err(refusal) => refusal,
    }
}

/// `POST /kyc/cancel`: cancels the token's active session; refused clearly for a terminal one.
pub async fn cancel(
    State(app): State<Arc<App>>,
    Extension(claims): Extension<Arc<Claims>>,
) -> Response {
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
            match app
                .gu1
                .cancel(claims.kind, id)
                .await
                .map(|v| owned(&claims, Some(v)))
            {
                Ok(Some(v)) => Json(browser_view(claims.kind, &v)).into_response(),
                Ok(None) => from_gu1(&another_entity()),
                Err(e) => from_gu1(&e),
            }
        }
        Ok(None) => refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "no session to cancel"),
        Err(e) => from_gu1(&e),
    }
}
