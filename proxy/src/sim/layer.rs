//! Faults and the request log, as layers around the browser endpoints (simulate mode only).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

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
struct Pending<'a> {
    s: &'a Simulate,
    token: Option<HeaderValue>,
    endpoint: &'static str,
    method: &'static str,
    query: String,
    open: bool,
    /// Whether it asked to be held, and when it arrived.
    wait: bool,
    arrived: std::time::Instant,
}

impl Pending<'_> {
    /// The request's bearer token.
    fn bearer(&self) -> Option<&str> {
        self.token.as_ref().and_then(bearer_value)
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
                if let Some(entity) = self.bearer().and_then(peek_entity) {
                    let entry = self.entry(false, status);
                    self.s.sim.log(&entity, entry);
                }
            }
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let verified = self.bearer().and_then(|t| self.s.app.tokens.verify(t).ok());
        if let Some(claims) = verified {
            self.s.sim.log(&claims.entity_id, self.entry(true, 0));
        }
    }
}

/// Outermost: logs every browser request under the entity it was served for (refused ones
/// too, when the entity can be told), with the answer's status or as aborted.
pub async fn record(State(s): State<Arc<Simulate>>, req: Request, next: Next) -> Response {
    let Some(endpoint) = endpoint(req.uri().path()) else {
        return next.run(req).await;
    };
    let wait = req.headers().contains_key(header::IF_NONE_MATCH)
        && req
            .headers()
            .get("prefer")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("wait="));
    let pending = Pending {
        s: &s,
        token: req.headers().get(header::AUTHORIZATION).cloned(),
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
    };
    let resp = next.run(req).await;
    pending.answered(&resp);
    resp
}

/// Innermost, after authentication: serves a queued fault for the token's entity and endpoint,
/// applies the entity's next scripted step on a status read of its current session (on arrival,
/// before the request may be held), and, for an entity created with `honourWait: false`, hides
/// `If-None-Match`, `Prefer` and the `ETag` (a proxy that does not know held requests).
pub async fn faults(State(s): State<Arc<Simulate>>, mut req: Request, next: Next) -> Response {
    let (Some(endpoint), Some(claims)) = (
        endpoint(req.uri().path()),
        req.extensions().get::<Arc<Claims>>().cloned(),
    ) else {
        return next.run(req).await;
    };
    let mut extra = None;
    if let Some(mut f) = s.sim.take_fault(&claims.entity_id, endpoint) {
        if let Some(ms) = f.delay_ms {
            tokio::time::sleep(Duration::from_millis(ms.min(600_000))).await;
        }
        if f.status.is_some() || f.body.is_some() || f.body_size.is_some() {
            return fault_answer(f);
        }
        extra = f.headers.take();
    }
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
    let mut resp = next.run(req).await;
    if ignore_wait {
        for h in [header::ETAG, header::VARY] {
            resp.headers_mut().remove(h);
        }
        resp.headers_mut().remove("preference-applied");
    }
    add_headers(&mut resp, extra);
    resp
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
