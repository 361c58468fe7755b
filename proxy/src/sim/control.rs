//! The control API for tests and the demo: new entities with sessions and tokens, scripted
//! statuses, faults, the request log, outages.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{Fault, Simulate, Step};
use crate::errors::{from_gu1, refuse};
use crate::token::Kind;

/// `/__control/...`.
pub fn routes() -> Router<Arc<Simulate>> {
    Router::new()
        .route("/__control/sessions", post(control_new))
        .route("/__control/entities/{e}/script", post(control_script))
        .route("/__control/entities/{e}/faults", post(control_faults))
        .route("/__control/entities/{e}/set", post(control_set))
        .route("/__control/entities/{e}/refuse", post(control_refuse))
        .route("/__control/entities/{e}/start", post(control_start))
        .route("/__control/entities/{e}/token", post(control_token))
        .route("/__control/entities/{e}/log", get(control_log))
        .route("/__control/entities/{e}/stats", get(control_stats))
        .route("/__control/outage", post(control_outage))
}

/// What `POST /__control/sessions` (and the demo's `POST /demo/session`) take.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NewSession {
    kind: Option<Kind>,
    /// Create the session now (default true); false leaves the entity without one.
    start: Option<bool>,
    /// Pin the token to the session id (default false: the entity's current session).
    pin: bool,
    ttl_secs: Option<u64>,
    token_ttl_secs: Option<u64>,
    script: Vec<Step>,
    faults: Vec<Fault>,
    /// Serve this entity's browser requests as a proxy that knows held requests (default
    /// true); false: `If-None-Match` and `Prefer` are removed before the handler and no `ETag`
    /// is sent.
    honour_wait: Option<bool>,
}

/// `POST /__control/sessions`: a new entity (and session), with a token and the URLs.
async fn control_new(State(s): State<Arc<Simulate>>, body: Option<Json<NewSession>>) -> Response {
    let Json(req) = body.unwrap_or_default();
    new_session(&s, req)
}

/// A new entity (and session unless `start` is false) and a token for it: what an integrator's
/// backend does for a page.
pub fn new_session(s: &Simulate, req: NewSession) -> Response {
    let kind = req.kind.unwrap_or(Kind::Biometric);
    let entity = s.sim.create_entity(kind);
    let ttl = req.ttl_secs.map_or(s.session_ttl, Duration::from_secs);
    let record = if req.start.unwrap_or(true) {
        match s.sim.create(kind, &entity, ttl) {
            Ok(r) => Some(r),
            Err(e) => return from_gu1(&e),
        }
    } else {
        None
    };
    s.sim.script(&entity, req.script);
    s.sim.faults(&entity, req.faults);
    s.sim.ignore_wait(&entity, !req.honour_wait.unwrap_or(true));
    let pinned = record.as_ref().filter(|_| req.pin).map(|r| r.id.clone());
    let token = s.mint(&entity, kind, pinned, req.token_ttl_secs);
    let p = &s.proxy_origin;
    Json(json!({
        "entityId": entity, "kind": kind.as_str(), "id": record.as_ref().map(|r| r.id.clone()),
        "sessionUrl": record.as_ref().map(|r| r.hosted_url.clone()), "token": token,
        "statusUrl": format!("{p}/kyc/status"), "cancelUrl": format!("{p}/kyc/cancel"),
        "startUrl": format!("{p}/kyc/start"), "hostedOrigin": s.hosted_origin,
    }))
    .into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ScriptBody {
    steps: Vec<Step>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct FaultsBody {
    faults: Vec<Fault>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct TokenBody {
    ttl_secs: Option<u64>,
    session_id: Option<String>,
}

fn no_entity() -> Response {
    refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "no such entity")
}

async fn control_script(
    State(s): State<Arc<Simulate>>,
    Path(e): Path<String>,
    Json(b): Json<ScriptBody>,
) -> Response {
    if s.sim.script(&e, b.steps) {
        Json(json!({"ok": true})).into_response()
    } else {
        no_entity()
    }
}

async fn control_faults(
    State(s): State<Arc<Simulate>>,
    Path(e): Path<String>,
    Json(b): Json<FaultsBody>,
) -> Response {
    if s.sim.faults(&e, b.faults) {
        Json(json!({"ok": true})).into_response()
    } else {
        no_entity()
    }
}

/// `POST /__control/entities/{e}/set`: applies a step now (gu1 decided).
async fn control_set(
    State(s): State<Arc<Simulate>>,
    Path(e): Path<String>,
    Json(step): Json<Step>,
) -> Response {
    let Some(kind) = s.sim.entity_kind(&e) else {
        return no_entity();
    };
    match s.sim.apply(&e, kind, &step) {
        Some(r) => Json(r.to_gu1()).into_response(),
        None => refuse(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "the entity has no session",
        ),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefuseBody {
    /// gu1's HTTP status; without it creates work again.
    status: Option<u16>,
    error: Option<String>,
    message: Option<String>,
    active_session_id: Option<String>,
}

/// `POST /__control/entities/{e}/refuse`: gu1 answers every create for the entity with this
/// error (`{"status": 403, "error": "NOT_ENABLED"}`), as its API documents them; `{}` undoes it.
async fn control_refuse(
    State(s): State<Arc<Simulate>>,
    Path(e): Path<String>,
    Json(b): Json<RefuseBody>,
) -> Response {
    let refusal = b.status.map(|http| {
        let mut err = crate::gu1::Gu1Error::new(
            http,
            b.error.as_deref().unwrap_or("ERROR"),
            b.message.unwrap_or_default(),
        );
        err.active_session_id = b.active_session_id;
        err
    });
    if s.sim.refuse_create(&e, refusal) {
        Json(json!({"ok": true})).into_response()
    } else {
        no_entity()
    }
}

/// `POST /__control/entities/{e}/start`: gu1 creates a session for the entity.
async fn control_start(State(s): State<Arc<Simulate>>, Path(e): Path<String>) -> Response {
    let Some(kind) = s.sim.entity_kind(&e) else {
        return no_entity();
    };
    match s.sim.create(kind, &e, s.session_ttl) {
        Ok(r) => Json(r.to_gu1()).into_response(),
        Err(err) => from_gu1(&err),
    }
}

/// `POST /__control/entities/{e}/token`: another token for the entity (`ttlSecs: 0` mints an
/// expired one).
async fn control_token(
    State(s): State<Arc<Simulate>>,
    Path(e): Path<String>,
    body: Option<Json<TokenBody>>,
) -> Response {
    let Some(kind) = s.sim.entity_kind(&e) else {
        return no_entity();
    };
    let Json(b) = body.unwrap_or_default();
    Json(json!({"token": s.mint(&e, kind, b.session_id, b.ttl_secs)})).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OutageBody {
    ms: u64,
}

/// `POST /__control/outage`: the proxy stops listening for `ms`, then listens again.
async fn control_outage(State(s): State<Arc<Simulate>>, Json(b): Json<OutageBody>) -> Response {
    s.outage_ms.store(b.ms.min(60_000), Ordering::Relaxed);
    s.outage.notify_one();
    Json(json!({"ok": true})).into_response()
}

/// `GET /__control/entities/{e}/log`: the proxy requests made with the entity's tokens, and
/// the reads of its sessions at gu1.
async fn control_log(State(s): State<Arc<Simulate>>, Path(e): Path<String>) -> Response {
    match (s.sim.requests(&e), s.sim.stats(&e)) {
        (Some(log), Some(stats)) => Json(json!({"now": s.sim.clock_ms(), "requests": log,
            "gu1Reads": stats.gu1_reads}))
        .into_response(),
        _ => no_entity(),
    }
}

/// `GET /__control/entities/{e}/stats`: `{"gu1Reads": n, "requests": m}`.
async fn control_stats(State(s): State<Arc<Simulate>>, Path(e): Path<String>) -> Response {
    match s.sim.stats(&e) {
        Some(stats) => Json(stats).into_response(),
        None => no_entity(),
    }
}
