//! The demo pages on the proxy's origin: the drop-in page rendered with a fresh token, the npm
//! build, the package, and `POST /demo/session` (what an integrator's backend does for a page).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::control::{new_session, NewSession};
use super::Simulate;
use crate::errors::from_gu1;
use crate::token::Kind;

/// Where the demo's files are.
#[derive(Clone, Debug)]
pub struct Demo {
    /// The onboarding pages.
    pub www: std::path::PathBuf,
    /// The built npm package.
    pub pkg: std::path::PathBuf,
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
    /// The element's `mode`: inline (default), modal or window. (`camera=blocked` is read by
    /// `headers`, for every page.)
    mode: Option<String>,
    /// `deny`: the element is given the session URL with `?frame=deny`, so the hosted page
    /// refuses to be framed and `ready-timeout-ms` shows its fallback.
    frame: Option<String>,
}

/// `GET /`: the drop-in page, rendered as an integrator's server would, with a fresh token.
async fn index(
    State((s, demo)): State<(Arc<Simulate>, Demo)>,
    Query(q): Query<PageQuery>,
) -> Response {
    let Ok(html) = tokio::fs::read_to_string(demo.www.join("index.html")).await else {
        return (StatusCode::NOT_FOUND, "www/index.html is missing").into_response();
    };
    let kind = q.kind.unwrap_or(Kind::Biometric);
    let entity = s.sim.create_entity(kind);
    let ttl = q.ttl.map_or(s.session_ttl, Duration::from_secs);
    let record = match s.sim.create(kind, &entity, ttl) {
        Ok(r) => r,
        Err(e) => return from_gu1(&e),
    };
    let token = s.mint(&entity, kind, None, None);
    let mode = q
        .mode
        .as_deref()
        .filter(|m| matches!(*m, "modal" | "window"))
        .unwrap_or("inline");
    // The hosted URL is the simulator's own (its origin and a generated id): nothing to escape.
    let session_url = if q.frame.as_deref() == Some("deny") {
        format!(r#" session-url="{}?frame=deny""#, record.hosted_url)
    } else {
        String::new()
    };
    let page = html
        .replace("{{TOKEN}}", &token)
        .replace("{{MODE}}", mode)
        .replace("{{SESSION_URL}}", &session_url);
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&demo_csp(&s.hosted_origin)) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// `POST /demo/session`: what an integrator's backend does for a page (create, mint a token).
async fn session(
    State((s, _)): State<(Arc<Simulate>, Demo)>,
    body: Option<Json<NewSession>>,
) -> Response {
    let Json(req) = body.unwrap_or_default();
    new_session(&s, req)
}

async fn headers(State(s): State<Arc<Simulate>>, req: Request, next: Next) -> Response {
    // The pre-flight's test pages: `?camera=blocked` on any page sends
    // `Permissions-Policy: camera=()`, and `/framed-check.html` may frame this server under its
    // other loopback name (`localhost` for `127.0.0.1` and back), a second origin.
    let blocked = req
        .uri()
        .query()
        .is_some_and(|q| q.contains("camera=blocked"));
    let framing = req.uri().path() == "/framed-check.html";
    let mut resp = next.run(req).await;
    if blocked {
        resp.headers_mut().insert(
            header::HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=()"),
        );
    }
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html {
        let mut csp = demo_csp(&s.hosted_origin);
        if framing {
            csp = csp.replace(
                "frame-src ",
                "frame-src http://localhost:* http://127.0.0.1:* ",
            );
        }
        if let Ok(v) = HeaderValue::from_str(&csp) {
            resp.headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// The demo's routes.
pub fn router(s: Arc<Simulate>, demo: Demo) -> Router {
    use tower_http::services::ServeDir;
    let pages = Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/demo/session", post(session))
        .with_state((s.clone(), demo.clone()));
    pages
        .nest_service("/pkg", ServeDir::new(&demo.pkg))
        .nest_service("/npm", ServeDir::new(demo.www.join("npm-dist")))
        .fallback_service(ServeDir::new(&demo.www))
        .layer(middleware::from_fn_with_state(s, headers))
}
