//! What wraps every endpoint: CORS for the allowed origins, `Cache-Control: no-store`, the
//! request ids and the access log, which also records the requests hyper refuses before any
//! route sees them.

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

/// Which browser origins may call the proxy.
#[derive(Clone, Debug)]
pub enum Origins {
    /// Any `http://127.0.0.1:*`, `http://localhost:*` or `http://[::1]:*` (simulate mode).
    Loopback,
    /// Exactly these origins.
    List(Vec<String>),
}

impl Origins {
    /// Whether `origin` may call the proxy.
    pub fn allows(&self, origin: &str) -> bool {
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

/// CORS for the browser endpoints: allowed origins are reflected (never `*`), preflights are
/// answered without reaching a handler; the page may send `If-None-Match` and `Prefer` (held
/// status requests) and read `Retry-After`, `ETag` and `Preference-Applied`.
pub fn cors(origins: Origins) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|o| origins.allows(o))
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_NONE_MATCH,
            HeaderName::from_static("prefer"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            header::ETAG,
            HeaderName::from_static("preference-applied"),
        ])
        .max_age(Duration::from_secs(600))
}

/// One `Vary` field naming everything the answer varies on: the CORS layer appends its own
/// field beside the status answer's (`Prefer, If-None-Match`), and a cache or client that reads
/// one field would miss the other.
pub async fn merge_vary(mut resp: Response) -> Response {
    let fields = resp.headers().get_all(header::VARY);
    if fields.iter().nth(1).is_none() {
        return resp;
    }
    let mut names: Vec<&str> = Vec::new();
    for name in fields
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name);
        }
    }
    let merged = HeaderValue::from_str(&names.join(", "));
    if let Ok(merged) = merged {
        resp.headers_mut().insert(header::VARY, merged);
    }
    resp
}

/// Answers are about one person's verification at one moment: no cache may keep them.
pub fn no_store() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

/// The header that names a request, in the access log and on its calls to gu1.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    /// The id of the request the current task serves, for its calls to gu1.
    static REQUEST_ID: HeaderValue;
}

/// The id of the request being served by the current task, if any.
pub fn request_id() -> Option<HeaderValue> {
    REQUEST_ID.try_with(HeaderValue::clone).ok()
}

/// Whether a client's `X-Request-Id` may be kept: 1 to 128 characters a log and gu1 can take
/// as they are (UUIDs, trace ids, base64).
fn sane_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.:+/=".contains(c))
}

/// The request ids, around every route: a client's `X-Request-Id` is kept when sane (else
/// dropped), one is made (a UUID) when there is none (tower-http's `SetRequestId`), echoed on
/// the answer (`PropagateRequestId`), and known to the task that serves the request.
pub fn request_ids<S>(router: axum::Router<S>) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router
        .layer(axum::middleware::from_fn(scope_request_id))
        .layer(access_log())
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_request(keep_sane_request_id))
}

async fn keep_sane_request_id(mut req: Request) -> Request {
    if req
        .headers()
        .get(X_REQUEST_ID)
        .is_some_and(|v| !sane_request_id(v))
    {
        req.headers_mut().remove(X_REQUEST_ID);
    }
    req
}

async fn scope_request_id(req: Request, next: Next) -> Response {
    match req.headers().get(X_REQUEST_ID).cloned() {
        Some(id) => REQUEST_ID.scope(id, next.run(req)).await,
        None => next.run(req).await,
    }
}

/// The access log: tower-http's trace layer, a `request` span per request (method, route
/// pattern, request id; never the path as sent, nor the query) and, when it is answered, a
/// `request` event with the status and the time taken.
type AccessLog = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    fn(&Request) -> Span,
    (),
    fn(&Response, Duration, &Span),
    (),
    (),
    (),
>;

fn access_log() -> AccessLog {
    TraceLayer::new_for_http()
        .make_span_with(request_span as fn(&Request) -> Span)
        .on_request(())
        .on_response(answered as fn(&Response, Duration, &Span))
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

fn request_span(req: &Request) -> Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("-", MatchedPath::as_str);
    let id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", method = %req.method(), route, request_id = id)
}

fn answered(resp: &Response, took: Duration, _: &Span) {
    tracing::info!(
        event = "request",
        status = resp.status().as_u16(),
        ms = took.as_micros() as f64 / 1000.0,
    );
}

/// The access-log event for a request refused while its head was read (malformed: 400;
/// headers or URI too large: 431), which never reaches a route. Other connection errors (a
/// client gone, an idle connection timed out) are not requests and are not logged.
pub fn log_rejected(e: &hyper::Error) {
    let status: u16 = match () {
        () if e.is_parse_too_large() => 431,
        () if e.is_parse() => 400,
        () => return,
    };
    tracing::info!(event = "request", status, ms = 0.0, rejected = true);
}
