//! The hosted capture page, served from a second origin as gu1's would be: it posts
//! `didit:*`-style messages to its parent and offers Approve / Reject / Abandon.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::Simulate;
use crate::errors::refuse;
use crate::gu1::is_active;

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

async fn page(State(s): State<Arc<Simulate>>, Path(id): Path<String>) -> Response {
    if s.sim.record(&id).is_none() {
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
async fn decide(
    State(s): State<Arc<Simulate>>,
    Path(id): Path<String>,
    Json(d): Json<Decision>,
) -> Response {
    match s.sim.decide(&id, &d.decision) {
        Some(r) => Json(json!({"status": r.status, "active": is_active(r.kind, &r.status)}))
            .into_response(),
        None => refuse(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such session or decision",
        ),
    }
}

/// The hosted capture pages (second origin).
pub fn router(s: Arc<Simulate>) -> Router {
    Router::new()
        .route("/session/{id}", get(page))
        .route(
            "/hosted.js",
            get(|| async { asset(HOSTED_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/hosted.css",
            get(|| async { asset(HOSTED_CSS, "text/css; charset=utf-8") }),
        )
        .route("/hosted/{id}/decide", post(decide))
        .with_state(s)
}
