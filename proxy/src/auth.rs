//! Who may call the browser endpoints: the bearer token, checked before any handler runs, and
//! each token's request budget.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::errors::{refuse, too_many};
use crate::state::App;
use crate::token::TokenError;

/// The token of a request's `Authorization: Bearer` header; the scheme is matched
/// case-insensitively (RFC 9110, 11.1).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    bearer_value(headers.get(header::AUTHORIZATION)?)
}

/// The token of an `Authorization: Bearer` value.
pub fn bearer_value(value: &HeaderValue) -> Option<&str> {
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
        .filter(|t| !t.is_empty())
}

/// Middleware in front of the browser endpoints: a valid token's claims go into the request's
/// extensions (handlers read them with `Extension<Arc<Claims>>`) and the answer's; anything else is
/// answered 401, and a token past its budget 429 with `Retry-After`.
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
    if app.limiter.is_on() {
        let key = format!(
            "{}|{}|{}",
            claims.entity_id,
            claims.kind.as_str(),
            claims.session_id.as_deref().unwrap_or("")
        );
        // One bucket for all instances when they share Redis; this instance's own otherwise.
        let shared = match &app.cluster {
            Some(c) => c.take(&key, app.limiter.rate, app.limiter.burst).await,
            None => None,
        };
        if let Err(wait) = shared.unwrap_or_else(|| app.limiter.take(&key)) {
            crate::telemetry::rate_limited("token");
            let mut resp = too_many(wait, "too many requests for this token");
            resp.extensions_mut().insert(Arc::new(claims));
            return resp;
        }
    }
    // Shared, not copied, by the handler and the layers that read them.
    let claims = Arc::new(claims);
    req.extensions_mut().insert(claims.clone());
    let mut resp = next.run(req).await;
    // Outer layers (the simulator's request log) learn whom the request was served for
    // without checking the token again.
    resp.extensions_mut().insert(claims);
    resp
}
