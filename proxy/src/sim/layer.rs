//! Faults and the request log, as layers around the browser endpoints (simulate mode only).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::Route;
use futures_util::future::BoxFuture;
use serde_json::json;
use tower::Service;

use super::{LogEntry, Simulate};
use crate::auth::bearer_value;
use crate::token::Claims;

fn endpoint(path: &str) -> Option<&'static str> {
    match path {
        "/kyc/status" => Some("status"),
        "/kyc/start" => Some("start"),
        "/kyc/cancel" => Some("cancel"),
        _ => None,
    }
}

/// The entity a token names, without checking its signature: for the request log only.
fn peek_entity(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<Claims>(&bytes)
        .ok()
        .map(|c| c.entity_id)
}

/// A request until it is answered. axum drops a request's future when its client closes the
/// connection (an aborted `fetch`), so a guard dropped before `answered` means the client went
/// away first: the request is logged as aborted, under its token's entity if the token is
/// valid (checked then, only for such a request).
struct Pending {
    s: Arc<Simulate>,
    /// A copy: a reference would keep the connection's read buffer for as long as the
    /// request is held.
    token: Option<String>,
    endpoint: &'static str,
    method: &'static str,
    query: String,
    open: bool,
    /// Whether it asked to be held, and when it arrived.
    wait: bool,
    arrived: std::time::Instant,
}

impl Pending {
    /// The request's bearer token.
    fn bearer(&self) -> Option<String> {
        let value = HeaderValue::from_str(self.token.as_deref()?).ok()?;
        bearer_value(&value).map(str::to_owned)
    }

    /// Its log entry, as answered with `status` (0: aborted).
    fn entry(&self, authorized: bool, status: u16) -> LogEntry {
        LogEntry {
            endpoint: self.endpoint,
            method: self.method,
            at_ms: 0,
            authorized,
            status,
            query: self.query.clone(),
            aborted: status == 0,
            wait: self.wait,
            held_ms: if authorized {
                self.arrived.elapsed().as_millis() as u64
            } else {
                0
            },
        }
    }

    /// Logs the answer under the entity it was served for (the claims authentication put on
    /// the answer), or, refused, under the entity its token names if one can be told.
    fn answered(mut self, resp: &Response) {
        self.open = false;
        let status = resp.status().as_u16();
        match resp.extensions().get::<Arc<Claims>>() {
            Some(claims) => {
                let entry = self.entry(true, status);
                self.s.sim.log(&claims.entity_id, entry);
            }
            None => {
                if let Some(entity) = self.bearer().as_deref().and_then(peek_entity) {
                    let entry = self.entry(false, status);
                    self.s.sim.log(&entity, entry);
                }
            }
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let verified = self
            .bearer()
            .and_then(|t| self.s.app.tokens.verify(&t).ok());
        if let Some(claims) = verified {
            self.s.sim.log(&claims.entity_id, self.entry(true, 0));
        }
    }
}

/// The request log ([`Record`]), outermost around the browser endpoints.
pub fn record(s: Arc<Simulate>) -> tower::layer::LayerFn<impl Fn(Route) -> Record<Route> + Clone> {
    tower::layer::layer_fn(move |inner| Record {
        s: s.clone(),
        inner,
    })
}

/// Outermost: logs every browser request under the entity it was served for (refused ones
/// too, when the entity can be told), with the answer's status or as aborted. (A tower service,
/// as the production layers are: an axum `from_fn` copies the services inside it per request.)
#[derive(Clone, Debug)]
pub struct Record<S> {
    s: Arc<Simulate>,
    inner: S,
}

impl<S> Service<Request> for Record<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Recorded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let pending = endpoint(req.uri().path()).map(|endpoint| {
            let wait = req.headers().contains_key(header::IF_NONE_MATCH)
                && req
                    .headers()
                    .get("prefer")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.to_ascii_lowercase().contains("wait="));
            Pending {
                s: self.s.clone(),
                token: req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                endpoint,
                method: match req.method().as_str() {
                    "GET" => "GET",
                    "POST" => "POST",
                    _ => "OTHER",
                },
                query: req.uri().query().unwrap_or("").to_owned(),
                open: true,
                wait,
                arrived: std::time::Instant::now(),
            }
        });
        Recorded {
            fut: self.inner.call(req),
            pending,
        }
    }
}

pin_project_lite::pin_project! {
    /// A request being served under [`Record`]; dropped unanswered, it is logged as aborted.
    pub struct Recorded<F> {
        #[pin]
        fut: F,
        pending: Option<Pending>,
    }
}

impl<F> Future for Recorded<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let resp = match this.fut.poll(cx) {
            Poll::Ready(Ok(resp)) => resp,
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => return Poll::Pending,
        };
        if let Some(pending) = this.pending.take() {
            pending.answered(&resp);
        }
        Poll::Ready(Ok(resp))
    }
}

/// The faults and scripts ([`Faults`]), innermost around the browser endpoints.
pub fn faults(s: Arc<Simulate>) -> tower::layer::LayerFn<impl Fn(Route) -> Faults<Route> + Clone> {
    tower::layer::layer_fn(move |inner| Faults {
        s: s.clone(),
        inner,
    })
}

/// Innermost, after authentication: serves a queued fault for the token's entity and endpoint,
/// applies the entity's next scripted step on a status read of its current session (on arrival,
/// before the request may be held), and, for an entity created with `honourWait: false`, hides
/// `If-None-Match`, `Prefer` and the `ETag` (a proxy that does not know held requests).
#[derive(Clone, Debug)]
pub struct Faults<S> {
    s: Arc<Simulate>,
    inner: S,
}

/// What a request's fault leaves to do once the endpoint has answered.
#[derive(Debug, Default)]
struct After {
    ignore_wait: bool,
    headers: Option<std::collections::BTreeMap<String, String>>,
}

impl After {
    fn apply(self, mut resp: Response) -> Response {
        if self.ignore_wait {
            for h in [header::ETAG, header::VARY] {
                resp.headers_mut().remove(h);
            }
            resp.headers_mut().remove("preference-applied");
        }
        add_headers(&mut resp, self.headers);
        resp
    }
}

/// Before the endpoint: the scripted step, and the headers hidden for `honourWait: false`.
fn before(s: &Simulate, claims: &Claims, endpoint: &str, req: &mut Request) -> bool {
    if endpoint == "status" {
        let pinned_is_current = match &claims.session_id {
            None => true,
            Some(id) => s
                .sim
                .current(&claims.entity_id, claims.kind)
                .is_some_and(|c| &c.id == id),
        };
        if pinned_is_current {
            s.sim.advance(&claims.entity_id, claims.kind);
        }
    }
    let ignore_wait = s.sim.ignores_wait(&claims.entity_id);
    if ignore_wait {
        req.headers_mut().remove(header::IF_NONE_MATCH);
        req.headers_mut().remove("prefer");
    }
    ignore_wait
}

impl<S> Service<Request> for Faults<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Faulted<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let (Some(endpoint), Some(claims)) = (
            endpoint(req.uri().path()),
            req.extensions().get::<Arc<Claims>>().cloned(),
        ) else {
            return Faulted::serving(self.inner.call(req), After::default());
        };
        let mut after = After::default();
        if let Some(mut f) = self.s.sim.take_fault(&claims.entity_id, endpoint) {
            let answers = f.status.is_some() || f.body.is_some() || f.body_size.is_some();
            if let Some(ms) = f.delay_ms {
                // A delayed fault waits before anything else happens (tests only).
                let s = self.s.clone();
                let mut inner = self.inner.clone();
                std::mem::swap(&mut inner, &mut self.inner);
                return Faulted {
                    stage: Stage::Delayed {
                        fut: Box::pin(async move {
                            tokio::time::sleep(Duration::from_millis(ms.min(600_000))).await;
                            if answers {
                                return fault_answer(f);
                            }
                            let after = After {
                                ignore_wait: before(&s, &claims, endpoint, &mut req),
                                headers: f.headers.take(),
                            };
                            match inner.call(req).await {
                                Ok(resp) => after.apply(resp),
                                Err(never) => match never {},
                            }
                        }),
                    },
                };
            }
            if answers {
                return Faulted {
                    stage: Stage::Answered {
                        resp: Some(fault_answer(f)),
                    },
                };
            }
            after.headers = f.headers.take();
        }
        after.ignore_wait = before(&self.s, &claims, endpoint, &mut req);
        Faulted::serving(self.inner.call(req), after)
    }
}

pin_project_lite::pin_project! {
    /// A request going through [`Faults`].
    pub struct Faulted<F> {
        #[pin]
        stage: Stage<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StageProj]
    enum Stage<F> {
        Answered { resp: Option<Response> },
        Delayed { fut: BoxFuture<'static, Response> },
        Serving {
            #[pin]
            fut: F,
            after: Option<After>,
        },
    }
}

impl<F> Faulted<F> {
    fn serving(fut: F, after: After) -> Self {
        Faulted {
            stage: Stage::Serving {
                fut,
                after: Some(after),
            },
        }
    }
}

impl<F> Future for Faulted<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().stage.project() {
            StageProj::Answered { resp } => Poll::Ready(Ok(resp.take().unwrap_or_default())),
            StageProj::Delayed { fut } => fut.as_mut().poll(cx).map(Ok),
            StageProj::Serving { fut, after } => {
                let resp = match fut.poll(cx) {
                    Poll::Ready(Ok(resp)) => resp,
                    Poll::Ready(Err(never)) => match never {},
                    Poll::Pending => return Poll::Pending,
                };
                Poll::Ready(Ok(after.take().unwrap_or_default().apply(resp)))
            }
        }
    }
}

fn add_headers(resp: &mut Response, headers: Option<std::collections::BTreeMap<String, String>>) {
    for (name, value) in headers.unwrap_or_default() {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            resp.headers_mut().insert(n, v);
        }
    }
}

fn fault_answer(mut f: super::Fault) -> Response {
    let status =
        StatusCode::from_u16(f.status.unwrap_or(200)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let extra = f.headers.take();
    if matches!(status.as_u16(), 204 | 304) && f.body.is_none() && f.body_size.is_none() {
        // No body, as HTTP has it for these.
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = status;
        if let Some(ra) = f.retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
            resp.headers_mut().insert(header::RETRY_AFTER, ra);
        }
        add_headers(&mut resp, extra);
        return resp;
    }
    let body = match (f.body, f.body_size) {
        (Some(b), _) => b,
        (None, Some(n)) => {
            let mut s = String::with_capacity(n + 2);
            s.push('"');
            s.extend(std::iter::repeat_n('a', n.saturating_sub(2)));
            s.push('"');
            s
        }
        (None, None) => {
            json!({"code": "SIMULATED_FAULT", "message": "injected by the simulator"}).to_string()
        }
    };
    let mut resp = if f.chunked.unwrap_or(false) {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body
            .into_bytes()
            .chunks(64 * 1024)
            .map(|c| Ok(c.to_vec()))
            .collect();
        Response::new(Body::from_stream(futures_util::stream::iter(chunks)))
    } else {
        Response::new(Body::from(body))
    };
    *resp.status_mut() = status;
    let ct = f.content_type.unwrap_or_else(|| "application/json".into());
    if let Ok(v) = HeaderValue::from_str(&ct) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if let Some(ra) = f.retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut().insert(header::RETRY_AFTER, ra);
    }
    add_headers(&mut resp, extra);
    resp
}
