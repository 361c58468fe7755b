//! How the proxy's routes are put together, in one place: the browser endpoints behind
//! authentication, the webhook route with its limits, health, and the layers around them all.

use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::errors::refuse;
use crate::middleware::{around, cors, no_store};
use crate::state::App;
use crate::{api, auth, telemetry, webhooks};

/// The three browser endpoints, without authentication (the caller layers it on).
pub fn endpoints() -> Router<Arc<App>> {
    Router::new()
        .route("/kyc/status", get(api::status))
        .route("/kyc/start", post(api::start))
        .route("/kyc/cancel", post(api::cancel))
}

/// The browser endpoints behind authentication, with their 16 KiB body limit.
pub fn browser(app: Arc<App>) -> Router<Arc<App>> {
    browser_with(app, endpoints())
}

/// `handlers` (the browser endpoints, possibly with layers of their own that need the token's
/// claims) behind authentication and the 16 KiB body limit.
pub fn browser_with(app: Arc<App>, handlers: Router<Arc<App>>) -> Router<Arc<App>> {
    handlers
        .layer(auth::layer(app))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(16 * 1024))
}

/// Time a webhook may take once its body is read; past it, 408.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The webhook route: the body read first, within its deadline and the byte budget
/// (`webhooks::read_first`), then `app.webhook_concurrency` handled at once, more answered 503
/// with `Retry-After`; a 1 MiB body limit.
pub fn webhook(app: &Arc<App>) -> Router<Arc<App>> {
    let slots = tower::ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|e: tower::BoxError| async move {
            if e.is::<tower::timeout::error::Elapsed>() {
                telemetry::webhook("timeout");
                return refuse(
                    StatusCode::REQUEST_TIMEOUT,
                    "TIMEOUT",
                    "the webhook took too long",
                );
            }
            crate::telemetry::shed("webhook_slots");
            webhooks::busy()
        }))
        .layer(tower::load_shed::LoadShedLayer::new())
        .layer(tower::limit::ConcurrencyLimitLayer::new(
            app.webhook_concurrency.max(1),
        ))
        .layer(tower::timeout::TimeoutLayer::new(WEBHOOK_TIMEOUT));
    Router::new().route(
        "/webhooks/gu1",
        post(webhooks::receive)
            .layer::<_, std::convert::Infallible>(slots)
            .layer::<_, std::convert::Infallible>(middleware::from_fn_with_state(
                app.clone(),
                webhooks::read_first,
            ))
            .layer(tower_http::limit::RequestBodyLimitLayer::new(
                webhooks::MAX_BODY,
            )),
    )
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
    let router = Router::new()
        .merge(browser)
        .merge(webhook(&app))
        .route("/health", get(|| async { Json(json!({"ok": true})) }))
        .route("/ready", get(ready))
        .merge(extra)
        .layer(
            tower::ServiceBuilder::new()
                .layer(no_store())
                .layer(cors(app.origins.clone())),
        )
        .with_state(app)
        .merge(outside);
    around(router)
}

/// `GET /ready`: whether a load balancer should send requests here: 503 from the moment the
/// proxy starts shutting down; and, when Redis is configured, whether sharing is up (an
/// instance without it still answers, alone, so it stays ready).
async fn ready(State(app): State<Arc<App>>) -> Response {
    let draining = app.draining.load(Ordering::Relaxed);
    let mut body = json!({"ready": !draining});
    if draining {
        body["draining"] = json!(true);
    }
    if let Some(cluster) = &app.cluster {
        body["redis"] = json!(if cluster.is_up() { "up" } else { "down" });
    }
    let status = if draining {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(body)).into_response()
}

/// The metrics listener's router: `GET /metrics`, the Prometheus text exposition, with the
/// figures read at each scrape (held requests, refresh reads, Redis) brought up to date first.
pub fn metrics(handle: PrometheusHandle, app: Arc<App>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let (handle, app) = (handle.clone(), app.clone());
            async move {
                telemetry::scraped(app.hub.waiting(), app.hub.refresh_reads());
                if let Some(cluster) = &app.cluster {
                    telemetry::redis_up(cluster.is_up());
                }
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
            }
        }),
    )
}

/// The production proxy: the browser endpoints, webhooks and health, nothing else.
pub fn router(app: Arc<App>) -> Router {
    assemble(app.clone(), browser(app), Router::new(), Router::new())
}
