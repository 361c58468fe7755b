//! The hosted capture page, served from a second origin as gu1's would be: it posts
//! `didit:*`-style messages to its parent (the whole vocabulary of gu1-api.md §5.3, with the
//! personal data the real page's payloads carry, and `didit:layout` as its height changes) and
//! offers Approve / Reject / Abandon. Its test knobs are listed in `hosted/page.js`;
//! `?frame=deny` is the server's: the page is sent with `X-Frame-Options: DENY`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
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

/// The page's CSP: its own script, style and requests only.
const HOSTED_CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'";
/// The same, for `?frame=deny`: no page may frame it.
const HOSTED_CSP_DENY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; frame-ancestors 'none'";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PageQuery {
    /// `deny`: the page refuses to be framed, as a hosted page that forbids embedding does. The
    /// page's own test knobs (`auto`, `post`, ...) are read by its script.
    frame: Option<String>,
}

async fn page(
    State(s): State<Arc<Simulate>>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    if s.sim.record(&id).is_none() {
        return (StatusCode::NOT_FOUND, "no such session").into_response();
    }
    let mut resp = asset(HOSTED_HTML, "text/html; charset=utf-8");
    let headers = resp.headers_mut();
    if q.frame.as_deref() == Some("deny") {
        // Both: X-Frame-Options for older engines, frame-ancestors where CSP level 2 applies.
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(HOSTED_CSP_DENY),
        );
    } else {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(HOSTED_CSP),
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{Kind, Tokens};
    use axum::body::Body;
    use axum::http::Request;
    use std::time::Duration;
    use tower::ServiceExt;

    /// A simulator with one biometric session; its id.
    fn sim() -> (Arc<Simulate>, String) {
        let s = Simulate::new(
            "http://127.0.0.1:9",
            Tokens::shared_secret(b"hosted-test-secret"),
            Duration::from_secs(60),
            |_| {},
        );
        let entity = s.sim.create_entity(Kind::Biometric);
        let id = s
            .sim
            .create(Kind::Biometric, &entity, Duration::from_secs(60))
            .unwrap()
            .id;
        (Arc::new(s), id)
    }

    async fn get(s: &Arc<Simulate>, uri: &str) -> Response {
        let req = Request::get(uri).body(Body::empty()).unwrap();
        router(s.clone()).oneshot(req).await.unwrap()
    }

    fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
        r.headers().get(name).map(|v| v.to_str().unwrap())
    }

    #[tokio::test]
    async fn the_page_may_be_framed_unless_asked_not_to() {
        let (s, id) = sim();
        let plain = get(&s, &format!("/session/{id}?auto=approve&delay=300")).await;
        assert_eq!(plain.status(), StatusCode::OK);
        assert_eq!(header(&plain, "x-frame-options"), None);
        assert_eq!(header(&plain, "content-security-policy"), Some(HOSTED_CSP));

        let denied = get(&s, &format!("/session/{id}?vocab=1&frame=deny")).await;
        assert_eq!(denied.status(), StatusCode::OK);
        assert_eq!(header(&denied, "x-frame-options"), Some("DENY"));
        let csp = header(&denied, "content-security-policy").unwrap();
        assert!(csp.starts_with(HOSTED_CSP), "{csp}");
        assert!(csp.ends_with("; frame-ancestors 'none'"), "{csp}");

        // Any other value is the plain page.
        let other = get(&s, &format!("/session/{id}?frame=sameorigin")).await;
        assert_eq!(header(&other, "x-frame-options"), None);
    }

    #[tokio::test]
    async fn the_page_stays_under_a_strict_csp_with_no_inline_code() {
        let (s, id) = sim();
        let r = get(&s, &format!("/session/{id}")).await;
        let csp = header(&r, "content-security-policy").unwrap().to_owned();
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        // No inline script or style for that CSP to refuse: only the two files.
        assert!(!HOSTED_HTML.contains("<style"));
        assert!(!HOSTED_HTML.contains(" style="));
        for tag in HOSTED_HTML.split('<').filter_map(|t| t.split('>').next()) {
            assert!(!tag.contains(" on"), "an inline handler in <{tag}>");
        }
        assert_eq!(HOSTED_HTML.matches("<script").count(), 1);
        assert!(HOSTED_HTML.contains(r#"<script src="/hosted.js" defer></script>"#));
        assert_eq!(
            get(&s, "/session/nope").await.status(),
            StatusCode::NOT_FOUND
        );
    }
}
