//! Who may call the browser endpoints: the bearer token, checked before any handler runs, and
//! each token's request budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::App;
use crate::errors::refuse;
use crate::token::TokenError;

/// The token of a request's `Authorization: Bearer` header; the scheme is matched
/// case-insensitively (RFC 9110, 11.1).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
        .filter(|t| !t.is_empty())
}

/// Middleware in front of the browser endpoints: a valid token's claims go into the request's
/// extensions (handlers read them with `Extension<Claims>`); anything else is answered 401, and
/// a token past its budget 429 with `Retry-After`.
pub async fn authenticate(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let claims = match bearer(req.headers()).map(|t| app.tokens.verify(t)) {
        Some(Ok(c)) => c,
        failed => {
            let why = match failed {
                Some(Err(TokenError::Expired)) => "the token has expired",
                Some(Err(TokenError::BadSignature)) => "the token signature is not valid",
                Some(Err(TokenError::Malformed)) => "the token is malformed",
                Some(Err(TokenError::Rejected)) => "the token is not for this proxy",
                _ => "a bearer token is required",
            };
            return refuse(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", why);
        }
    };
    let key = format!(
        "{}|{}|{}",
        claims.entity_id,
        claims.kind.as_str(),
        claims.session_id.as_deref().unwrap_or("")
    );
    // One bucket for all instances when they share Redis; this instance's own otherwise.
    let shared = match &app.cluster {
        Some(c) if app.limiter.is_on() => c.take(&key, app.limiter.rate, app.limiter.burst).await,
        _ => None,
    };
    if let Err(wait) = shared.unwrap_or_else(|| app.limiter.take(&key)) {
        return too_many(wait, "too many requests for this token");
    }
    req.extensions_mut().insert(claims);
    next.run(req).await
}

/// 429 `RATE_LIMITED` with `Retry-After`: the seconds until `wait` is over (at least 1).
pub fn too_many(wait: Duration, message: &str) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut resp = refuse(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message);
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// A token bucket per token: `burst` requests at once, then `rate` per second. Off when `rate`
/// is 0. Per instance; instances that share Redis use one bucket there instead (`cluster`),
/// and this one while Redis is away.
#[derive(Debug)]
pub struct Limiter {
    /// Requests per second (0: off).
    pub rate: f64,
    /// Requests at once.
    pub burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    /// A limiter; `rate` 0 disables it.
    pub fn new(rate: f64, burst: f64) -> Limiter {
        Limiter {
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// At most `n` at once and `n` per `window` on average (a bucket refilling over `window`);
    /// off when `n` is 0.
    pub fn per_window(n: u32, window: Duration) -> Limiter {
        if n == 0 || window.is_zero() {
            return Limiter::new(0.0, 0.0);
        }
        Limiter::new(f64::from(n) / window.as_secs_f64(), f64::from(n))
    }

    /// Whether it limits anything.
    pub fn is_on(&self) -> bool {
        self.rate > 0.0
    }

    /// Gives back one request taken from `key`'s bucket (it turned out to cost nothing).
    pub fn refund(&self, key: &str) {
        if self.rate <= 0.0 {
            return;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((tokens, _)) = buckets.get_mut(key) {
            *tokens = (*tokens + 1.0).min(self.burst);
        }
    }

    /// Takes one request from `key`'s bucket, or says how long until one is available.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Full buckets carry no information: dropping them changes nothing.
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}
