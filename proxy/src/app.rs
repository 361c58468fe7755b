//! The proxy's shared state and how its routes are put together.

use std::sync::Arc;
use std::time::Duration;

use axum::middleware;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::auth::{self, Limiter};
use crate::cluster::Cluster;
use crate::gu1::Gu1;
use crate::middleware::{access_log, cors, no_store, Origins};
use crate::token::Tokens;
use crate::wait::Hub;
use crate::webhooks::{self, Fresh, Seen};

/// The longest a status request is held unless configured otherwise, seconds.
pub const DEFAULT_MAX_WAIT_SECS: u64 = 25;

/// How often held requests' state is read from gu1 unless configured otherwise, seconds.
pub const DEFAULT_WAIT_REFRESH_SECS: u64 = 5;

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
    /// Webhooks whose envelope `timestamp` is older than this, or that were seen before within
    /// it, are refused.
    pub webhook_window: Duration,
    /// Webhooks received within `webhook_window`, to refuse a replay.
    pub seen: Seen,
    /// Webhooks handled at once; more are shed (503) before their body is read.
    pub webhook_concurrency: usize,
    /// Sessions `POST /kyc/start` may create per entity: a bucket per entity and kind.
    pub starts: Limiter,
    /// Held status requests (`If-None-Match` + `Prefer: wait`), by token scope.
    pub hub: Hub,
    /// The longest a status request is held, whatever its `Prefer: wait` asks.
    pub max_wait: Duration,
    /// How often gu1 is read for the requests held on one scope when no webhook comes.
    pub wait_refresh: Duration,
    /// Redis, shared with the other instances, when configured.
    pub cluster: Option<Arc<Cluster>>,
}

impl App {
    /// An app in front of `gu1` with defaults for everything else: loopback origins, no rate
    /// limit, no webhooks (when configured: a 5-minute replay window, 4 at once, payloads kept
    /// 10 minutes, at most 10 000), 5 sessions created per entity per 10 minutes, status
    /// requests held at most 25 s with gu1 read every 5 s meanwhile.
    pub fn new(gu1: Arc<dyn Gu1>, tokens: Tokens) -> App {
        App {
            gu1,
            tokens,
            webhook_secret: None,
            origins: Origins::Loopback,
            limiter: Limiter::new(0.0, 0.0),
            fresh: Fresh::new(Duration::from_secs(600), 10_000),
            webhook_window: Duration::from_secs(300),
            seen: Seen::new(100_000),
            webhook_concurrency: 4,
            starts: Limiter::per_window(5, Duration::from_secs(600)),
            hub: Hub::default(),
            max_wait: Duration::from_secs(DEFAULT_MAX_WAIT_SECS),
            wait_refresh: Duration::from_secs(DEFAULT_WAIT_REFRESH_SECS),
            cluster: None,
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
        .merge(webhooks::routes(app.webhook_concurrency))
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
