//! The HTTP side: the token-scoped proxy endpoints, the simulator's control API, and the
//! hosted capture pages served from a second origin.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::sim::{self, Fault, Gu1Error, Simulator, Step};
use crate::token::{self, Claims, Kind, TokenError};
use crate::upstream::Upstream;

/// Which browser origins may call the proxy.
#[derive(Clone, Debug)]
pub enum Origins {
    /// Any `http://127.0.0.1:*`, `http://localhost:*` or `http://[::1]:*` (simulate mode).
    Loopback,
    /// Exactly these origins.
    List(Vec<String>),
}

impl Origins {
    fn allows(&self, origin: &str) -> bool {
        match self {
            Origins::Loopback => ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
                .iter()
                .any(|p| {
                    origin.strip_prefix(p).is_some_and(|port| {
                        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                    })
                }),
            Origins::List(list) => list.iter().any(|o| o == origin),
        }
    }
}

/// Where the proxy gets sessions from.
#[derive(Debug)]
pub enum Backend {
    /// The in-memory gu1 (simulate mode).
    Sim(Simulator),
    /// The real gu1 API.
    Upstream(Upstream),
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct App {
    /// Sessions come from here.
    pub backend: Backend,
    /// HMAC key of the tokens.
    pub secret: Vec<u8>,
    /// Secret of gu1's webhook signatures; webhooks are refused without it.
    pub webhook_secret: Option<Vec<u8>>,
    /// Origin of the hosted capture pages (simulate mode), e.g. `http://127.0.0.1:8788`.
    pub hosted_origin: String,
    /// Public origin of the proxy itself, for the URLs the control API hands out.
    pub proxy_origin: String,
    /// CORS policy.
    pub origins: Origins,
    /// Lifetime of new simulated sessions.
    pub session_ttl: Duration,
    /// Lifetime of tokens minted by the control API and the demo.
    pub token_ttl: Duration,
    /// Serve the control API (simulate mode only).
    pub control: bool,
    /// Demo pages (`www/`) and the package (`pkg/`) to serve on the proxy's origin.
    pub demo: Option<Demo>,
    /// Per-token request budget.
    pub limiter: Limiter,
    /// Terminal answers received by signed webhook, by session id: they win over a stale read.
    pub fresh: Mutex<HashMap<String, Value>>,
    /// Closes the proxy's listener for `outage_ms` (simulate mode's control API).
    pub outage: Arc<tokio::sync::Notify>,
    /// How long the next outage lasts.
    pub outage_ms: std::sync::atomic::AtomicU64,
}

impl App {
    /// An app around `backend` with defaults for everything else.
    pub fn new(backend: Backend, secret: Vec<u8>) -> App {
        App {
            backend,
            secret,
            webhook_secret: None,
            hosted_origin: String::new(),
            proxy_origin: String::new(),
            origins: Origins::Loopback,
            session_ttl: Duration::from_secs(1800),
            token_ttl: Duration::from_secs(900),
            control: false,
            demo: None,
            limiter: Limiter::new(0.0, 0.0),
            fresh: Mutex::new(HashMap::new()),
            outage: Arc::new(tokio::sync::Notify::new()),
            outage_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn sim(&self) -> Option<&Simulator> {
        match &self.backend {
            Backend::Sim(s) => Some(s),
            Backend::Upstream(_) => None,
        }
    }
}

/// Where the demo's files are.
#[derive(Clone, Debug)]
pub struct Demo {
    /// The onboarding pages.
    pub www: std::path::PathBuf,
    /// The built npm package.
    pub pkg: std::path::PathBuf,
}

/// A token bucket per token: `burst` requests at once, then `rate` per second. Off when `rate`
/// is 0. Per instance: behind a load balancer each instance allows its own share.
#[derive(Debug)]
pub struct Limiter {
    rate: f64,
    burst: f64,
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

    /// Takes one request from `key`'s bucket, or says how long until one is available.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
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

fn no_sim() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "only available in simulate mode",
    )
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

fn gu1_error(e: &Gu1Error) -> Response {
    let status = StatusCode::from_u16(e.http).unwrap_or(StatusCode::BAD_GATEWAY);
    (status, Json(e.body())).into_response()
}

fn is_active(kind: Kind, v: &Value) -> bool {
    v.get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| sim::is_active(kind, s))
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
    out[key] = if is_active(kind, v) {
        pick(key)
    } else {
        Value::Null
    };
    out
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// The entity named by a token's claims, without checking the MAC: for the request log only.
fn peek_entity(token: &str) -> Option<String> {
    use base64::Engine;
    let claims = token.strip_prefix("v1.")?.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .ok()?;
    serde_json::from_slice::<Claims>(&bytes)
        .ok()
        .map(|c| c.entity_id)
}

/// Checks the bearer token and the token's request budget; on failure logs the attempt (when
/// the entity can be told) and returns the answer to send.
fn authorize(
    app: &App,
    headers: &HeaderMap,
    endpoint: &str,
    method: &str,
    query: &str,
) -> Result<Claims, Response> {
    let raw = bearer(headers);
    let claims = match raw.map(|t| token::verify(t, &app.secret, token::unix_now())) {
        Some(Ok(c)) => c,
        failed => {
            if let (Some(sim), Some(e)) = (app.sim(), raw.and_then(peek_entity)) {
                sim.log(&e, endpoint, method, false, 401, query);
            }
            let why = match failed {
                Some(Err(TokenError::Expired)) => "the token has expired",
                Some(Err(TokenError::BadSignature)) => "the token signature is not valid",
                Some(Err(TokenError::Malformed)) => "the token is malformed",
                _ => "a bearer token is required",
            };
            return Err(error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", why));
        }
    };
    let key = format!(
        "{}|{}|{}",
        claims.entity_id,
        claims.kind.as_str(),
        claims.session_id.as_deref().unwrap_or("")
    );
    if let Err(wait) = app.limiter.take(&key) {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut resp = error(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "too many requests for this token",
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        if let Some(sim) = app.sim() {
            sim.log(&claims.entity_id, endpoint, method, true, 429, query);
        }
        return Err(resp);
    }
    Ok(claims)
}

/// An authorized request until it is answered. axum drops a handler's future when its client
/// closes the connection (an aborted `fetch`), so a guard dropped before `answered` means the
/// client went away first: the simulator logs that request as aborted.
struct Pending<'a> {
    app: &'a App,
    entity: String,
    endpoint: &'static str,
    method: &'static str,
    query: String,
    open: bool,
}

impl<'a> Pending<'a> {
    fn new(
        app: &'a App,
        claims: &Claims,
        endpoint: &'static str,
        method: &'static str,
        query: &str,
    ) -> Self {
        Pending {
            app,
            entity: claims.entity_id.clone(),
            endpoint,
            method,
            query: query.to_owned(),
            open: true,
        }
    }

    /// Logs the answer (simulate mode) and disarms the guard.
    fn answered(mut self, resp: &Response) {
        self.open = false;
        if let Some(sim) = self.app.sim() {
            let status = resp.status().as_u16();
            sim.log(
                &self.entity,
                self.endpoint,
                self.method,
                true,
                status,
                &self.query,
            );
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let (true, Some(sim)) = (self.open, self.app.sim()) {
            sim.log_aborted(&self.entity, self.endpoint, self.method, &self.query);
        }
    }
}

/// Serves a queued fault, if one applies: after its delay, either its own answer or `None`
/// (then the real answer follows).
async fn fault(app: &App, claims: &Claims, endpoint: &str) -> Option<Response> {
    let f: Fault = app.sim()?.take_fault(&claims.entity_id, endpoint)?;
    if let Some(ms) = f.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms.min(600_000))).await;
    }
    if f.status.is_none() && f.body.is_none() && f.body_size.is_none() {
        return None;
    }
    let status =
        StatusCode::from_u16(f.status.unwrap_or(200)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match (f.body, f.body_size) {
        (Some(b), _) => b,
        (None, Some(n)) => {
            let mut s = String::with_capacity(n + 2);
            s.push('"');
            s.extend(std::iter::repeat('a').take(n.saturating_sub(2)));
            s.push('"');
            s
        }
        (None, None) => {
            json!({"code": "SIMULATED_FAULT", "message": "injected by the simulator"}).to_string()
        }
    };
    let mut resp = if f.chunked.unwrap_or(false) {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            body.into_bytes().chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
        Response::new(Body::from_stream(futures_util::stream::iter(chunks)))
    } else {
        Response::new(Body::from(body))
    };
    *resp.status_mut() = status;
    let ct = f.content_type.unwrap_or_else(|| "application/json".into());
    if let Ok(v) = HeaderValue::from_str(&ct) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if let Some(ra) = f.retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut().insert(header::RETRY_AFTER, ra);
    }
    Some(resp)
}

/// Only the token's entity's sessions are ever visible; anything else is "not found".
fn owned(claims: &Claims, v: Option<Value>) -> Option<Value> {
    v.filter(|v| v.get("entityId").and_then(Value::as_str) == Some(claims.entity_id.as_str()))
}

/// The token's session (pinned) or the entity's current one, as gu1 returns it.
async fn lookup(app: &App, claims: &Claims) -> Result<Option<Value>, Gu1Error> {
    let found = match &app.backend {
        Backend::Sim(sim) => match &claims.session_id {
            Some(id) => match sim.get(&claims.entity_id, id) {
                Ok(r) => Some(r.to_gu1()),
                Err(e) if e.http == 404 => None,
                Err(e) => return Err(e),
            },
            None => sim
                .current(&claims.entity_id, claims.kind)
                .map(|r| r.to_gu1()),
        },
        Backend::Upstream(up) => match &claims.session_id {
            Some(id) => up.get(claims.kind, id).await?,
            None => up.current(claims.kind, &claims.entity_id).await?,
        },
    };
    let found = owned(claims, found);
    // A terminal status delivered by a signed webhook is never undone by a stale read.
    Ok(match found {
        Some(v) if is_active(claims.kind, &v) => {
            let id = v
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let fresh = app
                .fresh
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&id)
                .cloned();
            Some(fresh.filter(|f| !is_active(claims.kind, f)).unwrap_or(v))
        }
        other => other,
    })
}

/// `GET /kyc/status`: the token's session (or the entity's current one), trimmed.
async fn status(State(app): State<Arc<App>>, headers: HeaderMap, req: Request) -> Response {
    let query = req.uri().query().unwrap_or("").to_owned();
    let claims = match authorize(&app, &headers, "status", "GET", &query) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let pending = Pending::new(&app, &claims, "status", "GET", &query);
    let resp = match fault(&app, &claims, "status").await {
        Some(r) => r,
        None => {
            if let Some(sim) = app.sim() {
                let pinned_is_current = match &claims.session_id {
                    None => true,
                    Some(id) => sim
                        .current(&claims.entity_id, claims.kind)
                        .is_some_and(|c| &c.id == id),
                };
                if pinned_is_current {
                    sim.advance(&claims.entity_id, claims.kind);
                }
            }
            match lookup(&app, &claims).await {
                Ok(Some(v)) => Json(browser_view(claims.kind, &v)).into_response(),
                // Biometric "current" answers 200 null; KYC "current" answers 404 NOT_FOUND.
                Ok(None) if claims.kind == Kind::Biometric && claims.session_id.is_none() => {
                    Json(Value::Null).into_response()
                }
                Ok(None) => error(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    "no session for this token",
                ),
                Err(e) => gu1_error(&e),
            }
        }
    };
    pending.answered(&resp);
    resp
}

/// Creates a session for the token's entity; an active one is resumed instead (gu1's 409
/// `ACTIVE_SESSION_EXISTS` for biometric sessions, the current validation for KYC).
async fn create_or_resume(app: &App, claims: &Claims) -> Result<(StatusCode, Value), Gu1Error> {
    if claims.kind == Kind::Kyc {
        if let Some(v) = lookup(
            app,
            &Claims {
                session_id: None,
                ..claims.clone()
            },
        )
        .await?
        {
            if is_active(Kind::Kyc, &v) {
                return Ok((StatusCode::OK, v));
            }
        }
    }
    let created = match &app.backend {
        Backend::Sim(sim) => sim
            .create(claims.kind, &claims.entity_id, app.session_ttl)
            .map(|r| r.to_gu1()),
        Backend::Upstream(up) => up.create(claims.kind, &claims.entity_id).await,
    };
    match created {
        Ok(v) => Ok((StatusCode::CREATED, v)),
        Err(e) if e.http == 409 && e.code == "ACTIVE_SESSION_EXISTS" => {
            let pinned = Claims {
                session_id: e.active_session_id.clone(),
                ..claims.clone()
            };
            match lookup(app, &pinned).await? {
                Some(v) => Ok((StatusCode::OK, v)),
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// `POST /kyc/start`: creates a session for the token's entity, resuming an active one.
async fn start(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let claims = match authorize(&app, &headers, "start", "POST", "") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let pending = Pending::new(&app, &claims, "start", "POST", "");
    let resp = match fault(&app, &claims, "start").await {
        Some(r) => r,
        None => match create_or_resume(&app, &claims).await {
            Ok((status, v)) => (status, Json(browser_view(claims.kind, &v))).into_response(),
            Err(e) => gu1_error(&e),
        },
    };
    pending.answered(&resp);
    resp
}

/// `POST /kyc/cancel`: cancels the token's active session; refused clearly for a terminal one.
async fn cancel(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let claims = match authorize(&app, &headers, "cancel", "POST", "") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let pending = Pending::new(&app, &claims, "cancel", "POST", "");
    let resp = match fault(&app, &claims, "cancel").await {
        Some(r) => r,
        None => match lookup(&app, &claims).await {
            Ok(Some(v)) if !is_active(claims.kind, &v) => {
                let status = v
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("terminal");
                error(
                    StatusCode::CONFLICT,
                    "SESSION_TERMINAL",
                    &format!("the session is already {status} and cannot be cancelled"),
                )
            }
            Ok(Some(v)) => {
                let id = v
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let cancelled = match &app.backend {
                    Backend::Sim(sim) => sim.cancel(&claims.entity_id, &id).map(|r| r.to_gu1()),
                    Backend::Upstream(up) => up.cancel(claims.kind, &id).await,
                };
                match cancelled {
                    Ok(v) => Json(browser_view(claims.kind, &v)).into_response(),
                    Err(e) => gu1_error(&e),
                }
            }
            Ok(None) => error(StatusCode::NOT_FOUND, "NOT_FOUND", "no session to cancel"),
            Err(e) => gu1_error(&e),
        },
    };
    pending.answered(&resp);
    resp
}

/// Checks gu1's `X-Webhook-Signature`: HMAC-SHA256 of the raw body, hex (optionally
/// `sha256=`-prefixed) or base64, compared in constant time.
pub fn webhook_signature_ok(secret: &[u8], body: &[u8], header: &str) -> bool {
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
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "webhooks are not configured",
        );
    };
    let sig = headers
        .get("x-webhook-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !webhook_signature_ok(secret, &body, sig) {
        return error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SIGNATURE",
            "the webhook signature does not match",
        );
    }
    let Ok(envelope) = serde_json::from_slice::<Value>(&body) else {
        return error(
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
        if !is_active(kind, &payload) && payload.get("status").is_some() {
            let mut fresh = app.fresh.lock().unwrap_or_else(|p| p.into_inner());
            if fresh.len() > 100_000 {
                fresh.clear();
            }
            fresh.insert(id, payload);
        }
    }
    Json(json!({"ok": true})).into_response()
}

/// One JSON line per request: time, method, path (never the query), status, duration.
async fn access_log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let resp = next.run(req).await;
    let line = json!({
        "ts": token::unix_now(), "event": "request", "method": method.as_str(), "path": path,
        "status": resp.status().as_u16(), "ms": started.elapsed().as_millis() as u64,
    });
    println!("{line}");
    resp
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct NewSession {
    kind: Option<Kind>,
    /// Create the session now (default true); false leaves the entity without one.
    start: Option<bool>,
    /// Pin the token to the session id (default false: the entity's current session).
    pin: bool,
    ttl_secs: Option<u64>,
    token_ttl_secs: Option<u64>,
    script: Vec<Step>,
    faults: Vec<Fault>,
}

fn mint(
    app: &App,
    entity: &str,
    kind: Kind,
    session: Option<String>,
    ttl_secs: Option<u64>,
) -> String {
    let ttl = ttl_secs.unwrap_or(app.token_ttl.as_secs());
    let claims = Claims {
        entity_id: entity.to_owned(),
        kind,
        session_id: session,
        expires: token::unix_now() + ttl,
    };
    token::mint(&claims, &app.secret)
}

/// `POST /__control/sessions`: a new entity (and session), with a token and the URLs.
async fn control_new(State(app): State<Arc<App>>, body: Option<Json<NewSession>>) -> Response {
    let Json(req) = body.unwrap_or_default();
    new_session(&app, req)
}

fn new_session(app: &App, req: NewSession) -> Response {
    let Some(sim) = app.sim() else {
        return no_sim();
    };
    let kind = req.kind.unwrap_or(Kind::Biometric);
    let entity = sim.create_entity(kind);
    let ttl = req.ttl_secs.map_or(app.session_ttl, Duration::from_secs);
    let record = if req.start.unwrap_or(true) {
        match sim.create(kind, &entity, ttl) {
            Ok(r) => Some(r),
            Err(e) => return gu1_error(&e),
        }
    } else {
        None
    };
    sim.script(&entity, req.script);
    sim.faults(&entity, req.faults);
    let pinned = record.as_ref().filter(|_| req.pin).map(|r| r.id.clone());
    let token = mint(app, &entity, kind, pinned, req.token_ttl_secs);
    let p = &app.proxy_origin;
    Json(json!({
        "entityId": entity, "kind": kind.as_str(), "id": record.as_ref().map(|r| r.id.clone()),
        "sessionUrl": record.as_ref().map(|r| r.hosted_url.clone()), "token": token,
        "statusUrl": format!("{p}/kyc/status"), "cancelUrl": format!("{p}/kyc/cancel"),
        "startUrl": format!("{p}/kyc/start"), "hostedOrigin": app.hosted_origin,
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

fn entity_kind(app: &App, entity: &str) -> Result<Kind, Response> {
    app.sim()
        .and_then(|s| s.entity_kind(entity))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such entity"))
}

async fn control_script(
    State(app): State<Arc<App>>,
    Path(e): Path<String>,
    Json(b): Json<ScriptBody>,
) -> Response {
    let Some(sim) = app.sim() else {
        return no_sim();
    };
    if sim.script(&e, b.steps) {
        Json(json!({"ok": true})).into_response()
    } else {
        entity_kind(&app, &e)
            .err()
            .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
    }
}

async fn control_faults(
    State(app): State<Arc<App>>,
    Path(e): Path<String>,
    Json(b): Json<FaultsBody>,
) -> Response {
    let Some(sim) = app.sim() else {
        return no_sim();
    };
    if sim.faults(&e, b.faults) {
        Json(json!({"ok": true})).into_response()
    } else {
        error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such entity")
    }
}

/// `POST /__control/entities/{e}/set`: applies a step now (gu1 decided).
async fn control_set(
    State(app): State<Arc<App>>,
    Path(e): Path<String>,
    Json(step): Json<Step>,
) -> Response {
    let Some(sim) = app.sim() else {
        return no_sim();
    };
    let kind = match entity_kind(&app, &e) {
        Ok(k) => k,
        Err(r) => return r,
    };
    match sim.apply(&e, kind, &step) {
        Some(r) => Json(r.to_gu1()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "the entity has no session",
        ),
    }
}

/// `POST /__control/entities/{e}/start`: gu1 creates a session for the entity.
async fn control_start(State(app): State<Arc<App>>, Path(e): Path<String>) -> Response {
    let Some(sim) = app.sim() else {
        return no_sim();
    };
    let kind = match entity_kind(&app, &e) {
        Ok(k) => k,
        Err(r) => return r,
    };
    match sim.create(kind, &e, app.session_ttl) {
        Ok(r) => Json(r.to_gu1()).into_response(),
        Err(err) => gu1_error(&err),
    }
}

/// `POST /__control/entities/{e}/token`: another token for the entity (`ttlSecs: 0` mints an
/// expired one).
async fn control_token(
    State(app): State<Arc<App>>,
    Path(e): Path<String>,
    body: Option<Json<TokenBody>>,
) -> Response {
    let kind = match entity_kind(&app, &e) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Json(b) = body.unwrap_or_default();
    Json(json!({"token": mint(&app, &e, kind, b.session_id, b.ttl_secs)})).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OutageBody {
    ms: u64,
}

/// `POST /__control/outage`: the proxy stops listening for `ms`, then listens again.
async fn control_outage(State(app): State<Arc<App>>, Json(b): Json<OutageBody>) -> Response {
    app.outage_ms
        .store(b.ms.min(60_000), std::sync::atomic::Ordering::Relaxed);
    app.outage.notify_one();
    Json(json!({"ok": true})).into_response()
}

/// `GET /__control/entities/{e}/log`: the proxy requests made with the entity's tokens.
async fn control_log(State(app): State<Arc<App>>, Path(e): Path<String>) -> Response {
    let Some(sim) = app.sim() else {
        return no_sim();
    };
    match sim.requests(&e) {
        Some(log) => Json(json!({"now": sim.clock_ms(), "requests": log})).into_response(),
        None => error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such entity"),
    }
}

/// CORS for the proxy: allowed origins are reflected; preflights answered here.
async fn cors(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| app.origins.allows(o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let preflight = req.method() == Method::OPTIONS;
    let mut resp = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(o) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After"),
        );
        if preflight {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Authorization, Content-Type, Accept"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The proxy's router (and, in simulate mode, the control API).
pub fn proxy_router(app: Arc<App>) -> Router {
    // The browser endpoints take no body worth more than a few bytes; webhooks up to 1 MiB.
    let kyc = Router::new()
        .route("/kyc/status", get(status))
        .route("/kyc/start", post(start))
        .route("/kyc/cancel", post(cancel))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(16 * 1024));
    let mut r = Router::new()
        .merge(kyc)
        .route(
            "/webhooks/gu1",
            post(webhook).layer(tower_http::limit::RequestBodyLimitLayer::new(1024 * 1024)),
        )
        .route("/health", get(|| async { Json(json!({"ok": true})) }));
    if app.control {
        r = r
            .route("/__control/sessions", post(control_new))
            .route("/__control/entities/{e}/script", post(control_script))
            .route("/__control/entities/{e}/faults", post(control_faults))
            .route("/__control/entities/{e}/set", post(control_set))
            .route("/__control/entities/{e}/start", post(control_start))
            .route("/__control/entities/{e}/token", post(control_token))
            .route("/__control/entities/{e}/log", get(control_log))
            .route("/__control/outage", post(control_outage))
            .merge(gu1_api_router());
    }
    let demo = app.demo.clone();
    let r = r
        .layer(middleware::from_fn_with_state(app.clone(), cors))
        .with_state(app.clone());
    let r = match demo {
        Some(demo) => r.merge(demo_router(app, demo)),
        None => r,
    };
    r.layer(middleware::from_fn(access_log))
}

/// The CSP the demo pages are served with: no inline script or style, wasm allowed, frames
/// only from the hosted origin.
pub fn demo_csp(hosted_origin: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; \
         frame-src {hosted_origin}; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'"
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PageQuery {
    kind: Option<Kind>,
    ttl: Option<u64>,
}

/// `GET /`: the drop-in page, rendered as an integrator's server would, with a fresh token.
async fn demo_index(
    State((app, demo)): State<(Arc<App>, Demo)>,
    axum::extract::Query(q): axum::extract::Query<PageQuery>,
) -> Response {
    let Ok(html) = tokio::fs::read_to_string(demo.www.join("index.html")).await else {
        return (StatusCode::NOT_FOUND, "www/index.html is missing").into_response();
    };
    let Some(sim) = app.sim() else {
        return no_sim();
    };
    let kind = q.kind.unwrap_or(Kind::Biometric);
    let entity = sim.create_entity(kind);
    let ttl = q.ttl.map_or(app.session_ttl, Duration::from_secs);
    if let Err(e) = sim.create(kind, &entity, ttl) {
        return gu1_error(&e);
    }
    let token = mint(&app, &entity, kind, None, None);
    let page = html.replace("{{TOKEN}}", &token);
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&demo_csp(&app.hosted_origin)) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// `POST /demo/session`: what an integrator's backend does for a page (create, mint a token).
async fn demo_session(
    State((app, _)): State<(Arc<App>, Demo)>,
    body: Option<Json<NewSession>>,
) -> Response {
    let Json(req) = body.unwrap_or_default();
    new_session(&app, req)
}

async fn demo_headers(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html {
        if let Ok(v) = HeaderValue::from_str(&demo_csp(&app.hosted_origin)) {
            resp.headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn demo_router(app: Arc<App>, demo: Demo) -> Router {
    use tower_http::services::ServeDir;
    let pages = Router::new()
        .route("/", get(demo_index))
        .route("/index.html", get(demo_index))
        .route("/demo/session", post(demo_session))
        .with_state((app.clone(), demo.clone()));
    pages
        .nest_service("/pkg", ServeDir::new(&demo.pkg))
        .nest_service("/npm", ServeDir::new(demo.www.join("npm-dist")))
        .fallback_service(ServeDir::new(&demo.www))
        .layer(middleware::from_fn_with_state(app, demo_headers))
}

/// The API key the simulated gu1 API accepts.
pub const SIM_API_KEY: &str = "sk_test_simulator";

fn sim_key_ok(headers: &HeaderMap) -> bool {
    bearer(headers) == Some(SIM_API_KEY)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CreateBody {
    entity_id: String,
}

async fn api_create(app: &App, headers: &HeaderMap, kind: Kind, body: CreateBody) -> Response {
    let Some(sim) = app.sim() else {
        return no_sim();
    };
    if !sim_key_ok(headers) {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "invalid API key");
    }
    if sim.entity_kind(&body.entity_id).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            "ENTITY_NOT_FOUND",
            "entity not found",
        );
    }
    match sim.create(kind, &body.entity_id, app.session_ttl) {
        Ok(r) => (StatusCode::CREATED, Json(r.to_gu1())).into_response(),
        Err(e) => gu1_error(&e),
    }
}

async fn api_get(app: &App, headers: &HeaderMap, kind: Kind, id: &str) -> Response {
    let Some(sim) = app.sim() else {
        return no_sim();
    };
    if !sim_key_ok(headers) {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "invalid API key");
    }
    match sim.lookup(id).filter(|r| r.kind == kind) {
        Some(r) => Json(r.to_gu1()).into_response(),
        None => error(StatusCode::NOT_FOUND, "NOT_FOUND", "not found"),
    }
}

async fn api_current(app: &App, headers: &HeaderMap, kind: Kind, entity: &str) -> Response {
    let Some(sim) = app.sim() else {
        return no_sim();
    };
    if !sim_key_ok(headers) {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "invalid API key");
    }
    match (sim.current(entity, kind), kind) {
        (Some(r), _) => Json(r.to_gu1()).into_response(),
        (None, Kind::Biometric) => Json(Value::Null).into_response(),
        (None, Kind::Kyc) => error(StatusCode::NOT_FOUND, "NOT_FOUND", "no current validation"),
    }
}

async fn api_cancel(app: &App, headers: &HeaderMap, kind: Kind, id: &str) -> Response {
    let Some(sim) = app.sim() else {
        return no_sim();
    };
    if !sim_key_ok(headers) {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "invalid API key");
    }
    let Some(r) = sim.lookup(id).filter(|r| r.kind == kind) else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "not found");
    };
    match sim.cancel(&r.entity_id, id) {
        Ok(r) => Json(r.to_gu1()).into_response(),
        Err(e) if e.http == 409 => error(StatusCode::BAD_REQUEST, "INVALID_STATUS", &e.message),
        Err(e) => gu1_error(&e),
    }
}

/// The simulated gu1 REST API (the routes `upstream` mode calls), guarded by `SIM_API_KEY`, so
/// an upstream-mode proxy can be tested against the simulator over HTTP.
fn gu1_api_router() -> Router<Arc<App>> {
    type S = State<Arc<App>>;
    Router::new()
        .route(
            "/api/kyc/biometric/sessions",
            post(
                |State(a): S, h: HeaderMap, Json(b): Json<CreateBody>| async move {
                    api_create(&a, &h, Kind::Biometric, b).await
                },
            ),
        )
        .route(
            "/api/kyc/biometric/sessions/{id}",
            get(
                |State(a): S, h: HeaderMap, Path(id): Path<String>| async move {
                    api_get(&a, &h, Kind::Biometric, &id).await
                },
            ),
        )
        .route(
            "/api/kyc/biometric/sessions/{id}/cancel",
            post(
                |State(a): S, h: HeaderMap, Path(id): Path<String>| async move {
                    api_cancel(&a, &h, Kind::Biometric, &id).await
                },
            ),
        )
        .route(
            "/api/kyc/biometric/entities/{e}/current",
            get(
                |State(a): S, h: HeaderMap, Path(e): Path<String>| async move {
                    api_current(&a, &h, Kind::Biometric, &e).await
                },
            ),
        )
        .route(
            "/api/kyc/validations",
            post(
                |State(a): S, h: HeaderMap, Json(b): Json<CreateBody>| async move {
                    api_create(&a, &h, Kind::Kyc, b).await
                },
            ),
        )
        .route(
            "/api/kyc/validations/{id}",
            get(
                |State(a): S, h: HeaderMap, Path(id): Path<String>| async move {
                    api_get(&a, &h, Kind::Kyc, &id).await
                },
            ),
        )
        .route(
            "/api/kyc/validations/{id}/cancel",
            axum::routing::delete(
                |State(a): S, h: HeaderMap, Path(id): Path<String>| async move {
                    api_cancel(&a, &h, Kind::Kyc, &id).await
                },
            ),
        )
        .route(
            "/api/kyc/entities/{e}/current",
            get(
                |State(a): S, h: HeaderMap, Path(e): Path<String>| async move {
                    api_current(&a, &h, Kind::Kyc, &e).await
                },
            ),
        )
}

const HOSTED_HTML: &str = include_str!("hosted/page.html");
const HOSTED_JS: &str = include_str!("hosted/page.js");
const HOSTED_CSS: &str = include_str!("hosted/page.css");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn hosted_page(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(sim) = app.sim() else {
        return no_sim();
    };
    if sim.record(&id).is_none() {
        return (StatusCode::NOT_FOUND, "no such session").into_response();
    }
    let mut resp = asset(HOSTED_HTML, "text/html; charset=utf-8");
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'",
        ),
    );
    resp
}

#[derive(Debug, Deserialize)]
struct Decision {
    decision: String,
}

/// `POST /hosted/{id}/decide`: the person pressed a button on the hosted page.
async fn hosted_decide(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Json(d): Json<Decision>,
) -> Response {
    let Some(sim) = app.sim() else {
        return no_sim();
    };
    match sim.decide(&id, &d.decision) {
        Some(r) => Json(json!({"status": r.status, "active": sim::is_active(r.kind, &r.status)}))
            .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such session or decision",
        ),
    }
}

/// The hosted capture pages (second origin).
pub fn hosted_router(app: Arc<App>) -> Router {
    Router::new()
        .route("/session/{id}", get(hosted_page))
        .route(
            "/hosted.js",
            get(|| async { asset(HOSTED_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/hosted.css",
            get(|| async { asset(HOSTED_CSS, "text/css; charset=utf-8") }),
        )
        .route("/hosted/{id}/decide", post(hosted_decide))
        .with_state(app)
}

/// Binds both listeners and serves until the process ends.
pub async fn serve(app: Arc<App>, proxy: SocketAddr, hosted: SocketAddr) -> std::io::Result<()> {
    let h = tokio::net::TcpListener::bind(hosted).await?;
    let hr = axum::serve(h, hosted_router(app.clone()));
    let router = proxy_router(app.clone());
    let pr = async move {
        // The proxy's listener is closed for an outage (control API) and bound again after it,
        // so clients see real refused connections, as when a proxy restarts.
        loop {
            let p = tokio::net::TcpListener::bind(proxy).await?;
            let down = app.outage.clone();
            axum::serve(p, router.clone())
                .with_graceful_shutdown(async move { down.notified().await })
                .await?;
            let ms = app.outage_ms.load(std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    };
    tokio::try_join!(pr, async { hr.await })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A status request whose client hangs up before the (delayed) answer is logged as aborted,
    /// when the proxy notices, not when the answer would have been ready; an answered one is not.
    #[tokio::test]
    async fn a_request_the_client_abandons_is_logged_as_aborted() {
        let mut app = App::new(
            Backend::Sim(Simulator::new("http://127.0.0.1:9")),
            b"log-test-secret".to_vec(),
        );
        app.control = true;
        let app = Arc::new(app);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = proxy_router(app.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let http = reqwest::Client::new();
        let s: Value = http
            .post(format!("http://{addr}/__control/sessions"))
            .json(&json!({"faults": [{"delayMs": 3000}]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (entity, token) = (
            s["entityId"].as_str().unwrap(),
            s["token"].as_str().unwrap(),
        );
        let log = || app.sim().unwrap().requests(entity).unwrap();

        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET /kyc/status HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
        );
        conn.write_all(req.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            log().is_empty(),
            "nothing logged while the answer is pending"
        );
        let hung_up = app.sim().unwrap().clock_ms();
        drop(conn);
        let mut waited = 0;
        while log().is_empty() && waited < 1_000 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            waited += 20;
        }
        let entries = log();
        assert_eq!(entries.len(), 1, "{entries:?}");
        let e = &entries[0];
        assert!(
            e.aborted && e.status == 0 && e.endpoint == "status",
            "{e:?}"
        );
        assert!(
            e.at_ms - hung_up < 1_000,
            "logged when the client left: {e:?}"
        );

        let r = http
            .get(format!("http://{addr}/kyc/status"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let entries = log();
        assert_eq!(entries.len(), 2);
        assert!(
            !entries[1].aborted && entries[1].status == 200,
            "{:?}",
            entries[1]
        );
    }
}
