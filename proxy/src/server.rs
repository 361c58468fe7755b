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

use crate::sim::{self, Fault, Gu1Error, Record, Simulator, Step};
use crate::token::{self, Claims, Kind, TokenError};

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
                .any(|p| origin.strip_prefix(p).is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))),
            Origins::List(list) => list.iter().any(|o| o == origin),
        }
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct App {
    /// The in-memory gu1.
    pub sim: Simulator,
    /// HMAC key of the tokens.
    pub secret: Vec<u8>,
    /// Origin of the hosted capture pages, e.g. `http://127.0.0.1:8788`.
    pub hosted_origin: String,
    /// Public origin of the proxy itself, for the URLs the control API hands out.
    pub proxy_origin: String,
    /// CORS policy.
    pub origins: Origins,
    /// Lifetime of new sessions.
    pub session_ttl: Duration,
    /// Lifetime of tokens minted by the control API.
    pub token_ttl: Duration,
    /// Serve the control API (simulate mode only).
    pub control: bool,
    /// Demo pages (`www/`) and the package (`pkg/`) to serve on the proxy's origin.
    pub demo: Option<Demo>,
}

/// Where the demo's files are.
#[derive(Clone, Debug)]
pub struct Demo {
    /// The onboarding pages.
    pub www: std::path::PathBuf,
    /// The built npm package.
    pub pkg: std::path::PathBuf,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

fn gu1_error(e: &Gu1Error) -> Response {
    let status = StatusCode::from_u16(e.http).unwrap_or(StatusCode::BAD_GATEWAY);
    (status, Json(e.body())).into_response()
}

/// What reaches the browser: only what the client needs, never personal data or decisions.
pub fn browser_view(r: &Record) -> Value {
    let active = sim::is_active(r.kind, &r.status);
    let url = active.then(|| r.hosted_url.clone());
    let mut v = json!({
        "kind": r.kind.as_str(), "id": r.id, "entityId": r.entity_id, "status": r.status,
        "iframeAllow": sim::IFRAME_ALLOW,
        "rejectionCode": r.rejection_code, "rejectionMessage": r.rejection_message,
        "createdAt": r.created_at, "updatedAt": r.updated_at, "completedAt": r.completed_at,
        "expiresAt": r.expires_at,
    });
    let key = if r.kind == Kind::Biometric { "sessionUrl" } else { "providerSessionUrl" };
    v[key] = json!(url);
    v
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// The entity named by a token's claims, without checking the MAC: for the request log only.
fn peek_entity(token: &str) -> Option<String> {
    use base64::Engine;
    let claims = token.strip_prefix("v1.")?.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).ok()?;
    serde_json::from_slice::<Claims>(&bytes).ok().map(|c| c.entity_id)
}

/// Checks the bearer token; on failure logs the attempt (when the entity can be told) and
/// returns the 401 to send.
fn authorize(app: &App, headers: &HeaderMap, endpoint: &str, method: &str, query: &str) -> Result<Claims, Response> {
    let raw = bearer(headers);
    match raw.map(|t| token::verify(t, &app.secret, token::unix_now())) {
        Some(Ok(c)) => Ok(c),
        failed => {
            if let Some(e) = raw.and_then(peek_entity) {
                app.sim.log(&e, endpoint, method, false, 401, query);
            }
            let why = match failed {
                Some(Err(TokenError::Expired)) => "the token has expired",
                Some(Err(TokenError::BadSignature)) => "the token signature is not valid",
                Some(Err(TokenError::Malformed)) => "the token is malformed",
                _ => "a bearer token is required",
            };
            Err(error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", why))
        }
    }
}

/// Serves a queued fault, if one applies: after its delay, either its own answer or `None`
/// (then the real answer follows).
async fn fault(app: &App, claims: &Claims, endpoint: &str) -> Option<Response> {
    let f: Fault = app.sim.take_fault(&claims.entity_id, endpoint)?;
    if let Some(ms) = f.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms.min(600_000))).await;
    }
    if f.status.is_none() && f.body.is_none() && f.body_size.is_none() {
        return None;
    }
    let status = StatusCode::from_u16(f.status.unwrap_or(200)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match (f.body, f.body_size) {
        (Some(b), _) => b,
        (None, Some(n)) => {
            let mut s = String::with_capacity(n + 2);
            s.push('"');
            s.extend(std::iter::repeat('a').take(n.saturating_sub(2)));
            s.push('"');
            s
        }
        (None, None) => json!({"code": "SIMULATED_FAULT", "message": "injected by the simulator"}).to_string(),
    };
    let mut resp = Response::new(Body::from(body));
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

fn the_record(app: &App, claims: &Claims) -> Result<Option<Record>, Gu1Error> {
    match &claims.session_id {
        Some(id) => app.sim.get(&claims.entity_id, id).map(Some),
        None => Ok(app.sim.current(&claims.entity_id, claims.kind)),
    }
}

/// `GET /kyc/status`: the token's session (or the entity's current one), trimmed.
async fn status(State(app): State<Arc<App>>, headers: HeaderMap, req: Request) -> Response {
    let query = req.uri().query().unwrap_or("").to_owned();
    let claims = match authorize(&app, &headers, "status", "GET", &query) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let resp = match fault(&app, &claims, "status").await {
        Some(r) => r,
        None => {
            if claims.session_id.is_none() {
                app.sim.advance(&claims.entity_id, claims.kind);
            } else if let Ok(Some(r)) = the_record(&app, &claims) {
                if app.sim.current(&claims.entity_id, claims.kind).is_some_and(|c| c.id == r.id) {
                    app.sim.advance(&claims.entity_id, claims.kind);
                }
            }
            match the_record(&app, &claims) {
                Ok(Some(r)) => Json(browser_view(&r)).into_response(),
                // Biometric "current" answers 200 null; KYC "current" answers 404 NOT_FOUND.
                Ok(None) if claims.kind == Kind::Biometric => Json(Value::Null).into_response(),
                Ok(None) => error(StatusCode::NOT_FOUND, "NOT_FOUND", "no current validation for this entity"),
                Err(e) => gu1_error(&e),
            }
        }
    };
    app.sim.log(&claims.entity_id, "status", "GET", true, resp.status().as_u16(), &query);
    resp
}

/// `POST /kyc/start`: creates a session for the token's entity, resuming an active one.
async fn start(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let claims = match authorize(&app, &headers, "start", "POST", "") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let resp = match fault(&app, &claims, "start").await {
        Some(r) => r,
        None => match app.sim.create(claims.kind, &claims.entity_id, app.session_ttl) {
            Ok(r) => (StatusCode::CREATED, Json(browser_view(&r))).into_response(),
            Err(Gu1Error { http: 409, active_session_id: Some(id), .. }) => match app.sim.get(&claims.entity_id, &id) {
                Ok(r) => Json(browser_view(&r)).into_response(),
                Err(e) => gu1_error(&e),
            },
            Err(e) => gu1_error(&e),
        },
    };
    app.sim.log(&claims.entity_id, "start", "POST", true, resp.status().as_u16(), "");
    resp
}

/// `POST /kyc/cancel`: cancels the token's active session; refused for a terminal one.
async fn cancel(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let claims = match authorize(&app, &headers, "cancel", "POST", "") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let resp = match fault(&app, &claims, "cancel").await {
        Some(r) => r,
        None => match the_record(&app, &claims) {
            Ok(Some(r)) => match app.sim.cancel(&claims.entity_id, &r.id) {
                Ok(r) => Json(browser_view(&r)).into_response(),
                Err(e) => gu1_error(&e),
            },
            Ok(None) => error(StatusCode::NOT_FOUND, "NOT_FOUND", "no session to cancel"),
            Err(e) => gu1_error(&e),
        },
    };
    app.sim.log(&claims.entity_id, "cancel", "POST", true, resp.status().as_u16(), "");
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

fn mint(app: &App, entity: &str, kind: Kind, session: Option<String>, ttl_secs: Option<u64>) -> String {
    let ttl = ttl_secs.unwrap_or(app.token_ttl.as_secs());
    let claims = Claims { entity_id: entity.to_owned(), kind, session_id: session, expires: token::unix_now() + ttl };
    token::mint(&claims, &app.secret)
}

/// `POST /__control/sessions`: a new entity (and session), with a token and the URLs.
async fn control_new(State(app): State<Arc<App>>, body: Option<Json<NewSession>>) -> Response {
    let Json(req) = body.unwrap_or_default();
    new_session(&app, req)
}

fn new_session(app: &App, req: NewSession) -> Response {
    let kind = req.kind.unwrap_or(Kind::Biometric);
    let entity = app.sim.create_entity(kind);
    let ttl = req.ttl_secs.map_or(app.session_ttl, Duration::from_secs);
    let record = if req.start.unwrap_or(true) {
        match app.sim.create(kind, &entity, ttl) {
            Ok(r) => Some(r),
            Err(e) => return gu1_error(&e),
        }
    } else {
        None
    };
    app.sim.script(&entity, req.script);
    app.sim.faults(&entity, req.faults);
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
    app.sim.entity_kind(entity).ok_or_else(|| error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such entity"))
}

async fn control_script(State(app): State<Arc<App>>, Path(e): Path<String>, Json(b): Json<ScriptBody>) -> Response {
    if app.sim.script(&e, b.steps) { Json(json!({"ok": true})).into_response() } else { entity_kind(&app, &e).err().unwrap_or_else(|| StatusCode::NOT_FOUND.into_response()) }
}

async fn control_faults(State(app): State<Arc<App>>, Path(e): Path<String>, Json(b): Json<FaultsBody>) -> Response {
    if app.sim.faults(&e, b.faults) { Json(json!({"ok": true})).into_response() } else { error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such entity") }
}

/// `POST /__control/entities/{e}/set`: applies a step now (gu1 decided).
async fn control_set(State(app): State<Arc<App>>, Path(e): Path<String>, Json(step): Json<Step>) -> Response {
    let kind = match entity_kind(&app, &e) {
        Ok(k) => k,
        Err(r) => return r,
    };
    match app.sim.apply(&e, kind, &step) {
        Some(r) => Json(r.to_gu1()).into_response(),
        None => error(StatusCode::NOT_FOUND, "NOT_FOUND", "the entity has no session"),
    }
}

/// `POST /__control/entities/{e}/start`: gu1 creates a session for the entity.
async fn control_start(State(app): State<Arc<App>>, Path(e): Path<String>) -> Response {
    let kind = match entity_kind(&app, &e) {
        Ok(k) => k,
        Err(r) => return r,
    };
    match app.sim.create(kind, &e, app.session_ttl) {
        Ok(r) => Json(r.to_gu1()).into_response(),
        Err(err) => gu1_error(&err),
    }
}

/// `POST /__control/entities/{e}/token`: another token for the entity (`ttlSecs: 0` mints an
/// expired one).
async fn control_token(State(app): State<Arc<App>>, Path(e): Path<String>, body: Option<Json<TokenBody>>) -> Response {
    let kind = match entity_kind(&app, &e) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Json(b) = body.unwrap_or_default();
    Json(json!({"token": mint(&app, &e, kind, b.session_id, b.ttl_secs)})).into_response()
}

/// `GET /__control/entities/{e}/log`: the proxy requests made with the entity's tokens.
async fn control_log(State(app): State<Arc<App>>, Path(e): Path<String>) -> Response {
    match app.sim.requests(&e) {
        Some(log) => Json(json!({"now": app.sim.clock_ms(), "requests": log})).into_response(),
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
    let mut resp = if preflight { StatusCode::NO_CONTENT.into_response() } else { next.run(req).await };
    let h = resp.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(o) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Retry-After"));
        if preflight {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization, Content-Type, Accept"));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The proxy's router (and, in simulate mode, the control API).
pub fn proxy_router(app: Arc<App>) -> Router {
    let mut r = Router::new()
        .route("/kyc/status", get(status))
        .route("/kyc/start", post(start))
        .route("/kyc/cancel", post(cancel))
        .route("/health", get(|| async { Json(json!({"ok": true})) }));
    if app.control {
        r = r
            .route("/__control/sessions", post(control_new))
            .route("/__control/entities/{e}/script", post(control_script))
            .route("/__control/entities/{e}/faults", post(control_faults))
            .route("/__control/entities/{e}/set", post(control_set))
            .route("/__control/entities/{e}/start", post(control_start))
            .route("/__control/entities/{e}/token", post(control_token))
            .route("/__control/entities/{e}/log", get(control_log));
    }
    let demo = app.demo.clone();
    let r = r.layer(middleware::from_fn_with_state(app.clone(), cors)).with_state(app.clone());
    match demo {
        Some(demo) => r.merge(demo_router(app, demo)),
        None => r,
    }
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
    let kind = q.kind.unwrap_or(Kind::Biometric);
    let entity = app.sim.create_entity(kind);
    let ttl = q.ttl.map_or(app.session_ttl, Duration::from_secs);
    if let Err(e) = app.sim.create(kind, &entity, ttl) {
        return gu1_error(&e);
    }
    let token = mint(&app, &entity, kind, None, None);
    let page = html.replace("{{TOKEN}}", &token);
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], page).into_response();
    if let Ok(v) = HeaderValue::from_str(&demo_csp(&app.hosted_origin)) {
        resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// `POST /demo/session`: what an integrator's backend does for a page (create, mint a token).
async fn demo_session(State((app, _)): State<(Arc<App>, Demo)>, body: Option<Json<NewSession>>) -> Response {
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
            resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
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

const HOSTED_HTML: &str = include_str!("hosted/page.html");
const HOSTED_JS: &str = include_str!("hosted/page.js");
const HOSTED_CSS: &str = include_str!("hosted/page.css");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-store")], body).into_response()
}

async fn hosted_page(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    if app.sim.record(&id).is_none() {
        return (StatusCode::NOT_FOUND, "no such session").into_response();
    }
    let mut resp = asset(HOSTED_HTML, "text/html; charset=utf-8");
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'"),
    );
    resp
}

#[derive(Debug, Deserialize)]
struct Decision {
    decision: String,
}

/// `POST /hosted/{id}/decide`: the person pressed a button on the hosted page.
async fn hosted_decide(State(app): State<Arc<App>>, Path(id): Path<String>, Json(d): Json<Decision>) -> Response {
    match app.sim.decide(&id, &d.decision) {
        Some(r) => Json(json!({"status": r.status, "active": sim::is_active(r.kind, &r.status)})).into_response(),
        None => error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such session or decision"),
    }
}

/// The hosted capture pages (second origin).
pub fn hosted_router(app: Arc<App>) -> Router {
    Router::new()
        .route("/session/{id}", get(hosted_page))
        .route("/hosted.js", get(|| async { asset(HOSTED_JS, "text/javascript; charset=utf-8") }))
        .route("/hosted.css", get(|| async { asset(HOSTED_CSS, "text/css; charset=utf-8") }))
        .route("/hosted/{id}/decide", post(hosted_decide))
        .with_state(app)
}

/// Binds both listeners and serves until the process ends.
pub async fn serve(app: Arc<App>, proxy: SocketAddr, hosted: SocketAddr) -> std::io::Result<()> {
    let p = tokio::net::TcpListener::bind(proxy).await?;
    let h = tokio::net::TcpListener::bind(hosted).await?;
    let pr = axum::serve(p, proxy_router(app.clone()));
    let hr = axum::serve(h, hosted_router(app));
    tokio::try_join!(async { pr.await }, async { hr.await })?;
    Ok(())
}
