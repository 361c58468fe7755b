//! The proxy's shared state and how its routes are put together.

use std::sync::Arc;
use std::time::Duration;

use axum::middleware;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::auth::{self, Limiter};
use crate::gu1::Gu1;
use crate::middleware::{access_log, cors, no_store, Origins};
use crate::token::Tokens;
use crate::webhooks::{self, Fresh};

/// Everything the handlers share.
#[derive(Debug)]
pub struct App {
    /// Where sessions come from: the gu1 API, or the simulator.
    pub gu1: Arc<dyn Gu1>,
    /// How page tokens are checked.
    pub tokens: Tokens,
    /// Secret of gu1's webhook signatures; webhooks are refused without it.
    pub webhook_secret: Option<Vec<u8>>,
    /// CORS policy.
    pub origins: Origins,
    /// Per-token request budget.
    pub limiter: Limiter,
    /// Terminal answers received by signed webhook: they win over a stale read for a while.
    pub fresh: Fresh,
}

impl App {
    /// An app in front of `gu1` with defaults for everything else: loopback origins, no rate
    /// limit, no webhooks, webhook payloads kept 10 minutes (at most 10 000).
    pub fn new(gu1: Arc<dyn Gu1>, tokens: Tokens) -> App {
        App {
            gu1,
            tokens,
            webhook_secret: None,
            origins: Origins::Loopback,
            limiter: Limiter::new(0.0, 0.0),
            fresh: Fresh::new(Duration::from_secs(600), 10_000),
        }
    }
}

/// The browser endpoints behind authentication, with their 16 KiB body limit.
pub fn browser(app: Arc<App>) -> Router<Arc<App>> {
    browser_with(app, crate::api::routes())
}

/// `handlers` (the browser endpoints, possibly with layers of their own that need the token's
/// claims) behind authentication and the 16 KiB body limit.
pub fn browser_with(app: Arc<App>, handlers: Router<Arc<App>>) -> Router<Arc<App>> {
    handlers
        .layer(middleware::from_fn_with_state(app, auth::authenticate))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(16 * 1024))
}

/// The whole proxy from its parts: the browser endpoints (`browser`, authenticated), the
/// webhook and health routes, and `extra` routes served alike (CORS, `no-store`); `outside`
/// routes get only the access log.
pub fn assemble(
    app: Arc<App>,
    browser: Router<Arc<App>>,
    extra: Router<Arc<App>>,
    outside: Router,
) -> Router {
    Router::new()
        .merge(browser)
        .merge(webhooks::routes())
        .route("/health", get(|| async { Json(json!({"ok": true})) }))
        .merge(extra)
        .layer(cors(app.origins.clone()))
        .layer(no_store())
        .with_state(app)
        .merge(outside)
        .layer(middleware::from_fn(access_log))
}

/// The production proxy: the browser endpoints, webhooks and health, nothing else.
pub fn router(app: Arc<App>) -> Router {
    assemble(app.clone(), browser(app), Router::new(), Router::new())
}
