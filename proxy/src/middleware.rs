//! What wraps every endpoint: CORS for the allowed origins, `Cache-Control: no-store`, the
//! request ids and the access log, which also records the requests hyper refuses before any
//! route sees them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;

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

/// What a status answer varies on (`api`).
pub const STATUS_VARY: &str = "Prefer, If-None-Match";
/// What tower-http's CORS layer says an answer varies on.
const CORS_VARY: &str = "origin, access-control-request-method, access-control-request-headers";
/// The two, in one field.
const MERGED_VARY: &str =
    "Prefer, If-None-Match, origin, access-control-request-method, access-control-request-headers";

/// One `Vary` field naming everything the answer varies on: the CORS layer appends its own
/// field beside the status answer's (`Prefer, If-None-Match`), and a cache or client that reads
/// one field would miss the other.
pub fn merge_vary(resp: &mut Response) {
    let fields = resp.headers().get_all(header::VARY);
    let mut iter = fields.iter();
    let (Some(first), Some(second)) = (iter.next(), iter.next()) else {
        return;
    };
    // Every status answer has these two: merged once and for all.
    if iter.next().is_none() && first == STATUS_VARY && second == CORS_VARY {
        resp.headers_mut()
            .insert(header::VARY, HeaderValue::from_static(MERGED_VARY));
        return;
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
    if let Ok(merged) = HeaderValue::from_str(&names.join(", ")) {
        resp.headers_mut().insert(header::VARY, merged);
    }
}

/// Answers are about one person's verification at one moment: no cache may keep them.
pub fn no_store() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

/// The header that names a request, in the access log and on its calls to gu1.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    /// The id of the request the current task serves, for its calls to gu1.
    static REQUEST_ID: Option<HeaderValue>;
}

/// The id of the request being served by the current task, if any.
pub fn request_id() -> Option<HeaderValue> {
    REQUEST_ID.try_with(Option::clone).ok().flatten()
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

/// What wraps every route: request ids (a client's `X-Request-Id` kept when sane, else
/// dropped; one made, a UUID, when there is none, by tower-http's `SetRequestId`; echoed on the
/// answer by `PropagateRequestId`; known to the task serving the request), the access log, and
/// one `Vary` field.
pub fn around<S>(router: axum::Router<S>) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    // One stack, one `Router::layer`: axum boxes each route again for every layer given to it
    // separately, and each box is copied for every request.
    router.layer(
        tower::ServiceBuilder::new()
            .layer(tower::util::MapRequestLayer::new(keep_sane_request_id))
            .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
            .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
            .layer(tower::layer::layer_fn(|inner| Served { inner })),
    )
}

fn keep_sane_request_id(mut req: Request) -> Request {
    let kept = req
        .headers()
        .get(X_REQUEST_ID)
        .filter(|v| sane_request_id(v))
        // A copy: the request's own value shares the connection's read buffer, and the id is
        // kept until the answer.
        .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
    match kept {
        Some(id) => req.headers_mut().insert(X_REQUEST_ID, id),
        None => req.headers_mut().remove(X_REQUEST_ID),
    };
    req
}

/// Serves a request with its id known to the task, then writes the access log: one flat
/// `request` event with the method, the route's pattern (never the path as sent, nor the
/// query), the status, the time taken and the request id. (One event and no span per request:
/// a span per request cost about a tenth of the status path's time; and a service of its own
/// rather than an axum `from_fn`, which copies every service inside it for each request.)
#[derive(Clone, Debug)]
struct Served<S> {
    inner: S,
}

impl<S> tower::Service<Request> for Served<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ServedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let method = req.method().clone();
        let route = req.extensions().get::<MatchedPath>().cloned();
        let id = req.headers().get(X_REQUEST_ID).cloned();
        ServedFuture {
            inner: REQUEST_ID.scope(id.clone(), self.inner.call(req)),
            started: Instant::now(),
            method,
            route,
            id,
        }
    }
}

pin_project_lite::pin_project! {
    /// A request being served by [`Served`].
    struct ServedFuture<F> {
        #[pin]
        inner: tokio::task::futures::TaskLocalFuture<Option<HeaderValue>, F>,
        started: Instant,
        method: Method,
        route: Option<MatchedPath>,
        id: Option<HeaderValue>,
    }
}

impl<F, E> Future for ServedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut resp = match this.inner.poll(cx) {
            Poll::Ready(Ok(resp)) => resp,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        merge_vary(&mut resp);
        let took = this.started.elapsed();
        let route = this.route.as_ref().map(MatchedPath::as_str);
        crate::telemetry::request(route, resp.status().as_u16(), took);
        tracing::info!(
            event = "request",
            method = this.method.as_str(),
            route = route.unwrap_or("-"),
            status = resp.status().as_u16(),
            ms = took.as_micros() as f64 / 1000.0,
            request_id = this
                .id
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-"),
        );
        Poll::Ready(Ok(resp))
    }
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
