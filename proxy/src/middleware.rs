//! What wraps every endpoint: CORS for the allowed origins, `Cache-Control: no-store`, and a
//! JSON access log, which also records the requests hyper refuses before any route sees them.

use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};
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

/// Writes one log line to stdout; a closed stdout (a supervisor gone) must not panic the
/// request's task, as `println!` would.
fn log_line(line: &serde_json::Value) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// One JSON line per request: time, method, path (never the query), status, duration.
pub async fn access_log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let resp = next.run(req).await;
    let line = json!({
        "ts": crate::token::unix_now(), "event": "request", "method": method.as_str(), "path": path,
        "status": resp.status().as_u16(), "ms": started.elapsed().as_millis() as u64,
    });
    log_line(&line);
    resp
}

/// The access-log line for a request refused while its head was read (malformed: 400; headers
/// or URI too large: 431), which never reaches a handler or [`access_log`]. Other connection
/// errors (a client gone, an idle connection timed out) are not requests and are not logged.
pub fn log_rejected(e: &hyper::Error) {
    let status = match () {
        () if e.is_parse_too_large() => 431,
        () if e.is_parse() => 400,
        () => return,
    };
    let line = json!({
        "ts": crate::token::unix_now(), "event": "request", "method": null, "path": null,
        "status": status, "ms": 0, "rejected": true,
    });
    log_line(&line);
}
