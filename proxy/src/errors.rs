//! The proxy's error answers to the browser: `{"code": ..., "message": ...}`, each code stable and
//! each message the proxy's own. Nothing from a gu1 error body is relayed: gu1's errors are
//! mapped to the proxy's codes ([`from_gu1`]) and logged for the operator (a `gu1_error`
//! event: gu1's status and, from a closed list, its code).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::time::Duration;

use crate::gu1::{Gu1Error, PROXY_BUSY, UPSTREAM_WRONG_ENTITY};

/// An error answer with the proxy's own code and message.
pub fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// What the browser gets for a failed gu1 call: HTTP status, stable code, fixed message.
pub fn gu1_mapping(e: &Gu1Error) -> (u16, &'static str, &'static str) {
    match (e.http, e.code.as_str()) {
        // Exchanges that failed (the proxy's own codes, see `upstream`).
        (_, "UPSTREAM_TIMEOUT") => (504, "UPSTREAM_TIMEOUT", "gu1 did not answer in time"),
        (_, "UPSTREAM_ERROR") => (502, "UPSTREAM_ERROR", "gu1 could not be reached"),
        (_, "UPSTREAM_BAD_RESPONSE") => (
            502,
            "UPSTREAM_BAD_RESPONSE",
            "gu1 answered with something that is not JSON",
        ),
        (_, "UPSTREAM_TOO_LARGE") => (502, "UPSTREAM_BAD_RESPONSE", "gu1's answer was too large"),
        (_, UPSTREAM_WRONG_ENTITY) => (
            502,
            "UPSTREAM_BAD_RESPONSE",
            "gu1 answered with another entity's session",
        ),
        (_, PROXY_BUSY) => (
            503,
            "UPSTREAM_BUSY",
            "the proxy has too many gu1 calls in flight",
        ),
        (300..=399, _) => (502, "UPSTREAM_BAD_RESPONSE", "gu1 answered with a redirect"),
        // gu1's documented errors.
        (_, "ENTITY_NOT_FOUND") => (404, "ENTITY_NOT_FOUND", "gu1 has no such entity"),
        (404, _) => (404, "NOT_FOUND", "no session for this token"),
        (_, "ACTIVE_SESSION_EXISTS") => (
            409,
            "ACTIVE_SESSION_EXISTS",
            "the entity already has an active session",
        ),
        (_, "INVALID_STATUS" | "SESSION_TERMINAL") => (
            409,
            "SESSION_TERMINAL",
            "the session is no longer active and cannot be cancelled",
        ),
        (_, "NO_PORTRAIT") => (
            422,
            "NO_REFERENCE_PORTRAIT",
            "the entity has no approved KYC portrait to compare the face with",
        ),
        (_, "NOT_ENABLED") => (
            502,
            "VERIFICATION_NOT_ENABLED",
            "biometric verification is not enabled for this organization at gu1",
        ),
        (_, "BIOMETRIC_WORKFLOW_NOT_CONFIGURED") => (
            502,
            "VERIFICATION_NOT_CONFIGURED",
            "the organization's biometric workflow is not configured at gu1",
        ),
        // The proxy's key or organization is wrong: the server's fault, never the page's token.
        (401 | 403, _) => (502, "UPSTREAM_AUTH", "gu1 refused the proxy's credentials"),
        (429, _) => (503, "UPSTREAM_BUSY", "gu1 asked the proxy to slow down"),
        (500.., _) => (502, "UPSTREAM_ERROR", "gu1 failed to answer"),
        _ => (502, "UPSTREAM_REJECTED", "gu1 refused the request"),
    }
}

/// 429 `RATE_LIMITED` with `Retry-After`: the seconds until `wait` is over (at least 1).
pub fn too_many(wait: Duration, message: &str) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut resp = refuse(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message);
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// gu1's error codes the operator's log may show: the documented ones and the proxy's own.
/// Anything else gu1 sends as a code is logged as `HTTP_<status>`: an upper-snake "code" can
/// still be a key (`SK_LIVE_…`) or a name.
pub const LOGGED_CODES: &[&str] = &[
    "ACTIVE_SESSION_EXISTS",
    "BAD_REQUEST",
    "BIOMETRIC_WORKFLOW_NOT_CONFIGURED",
    "CONFLICT",
    "ENTITY_NOT_FOUND",
    "FORBIDDEN",
    "INTERNAL_ERROR",
    "INVALID_STATUS",
    "NOT_ENABLED",
    "NOT_FOUND",
    "NO_PORTRAIT",
    "RATE_LIMITED",
    "SESSION_TERMINAL",
    "UNAUTHORIZED",
    "VALIDATION_ERROR",
    PROXY_BUSY,
    "UPSTREAM_BAD_RESPONSE",
    "UPSTREAM_ERROR",
    "UPSTREAM_TIMEOUT",
    "UPSTREAM_TOO_LARGE",
    UPSTREAM_WRONG_ENTITY,
];

/// gu1's error code as the operator's log may show it: one of [`LOGGED_CODES`], else
/// `HTTP_<status>`.
pub fn loggable_code(e: &Gu1Error) -> String {
    match LOGGED_CODES.iter().find(|c| **c == e.code) {
        Some(code) => (*code).to_owned(),
        None => format!("HTTP_{}", e.http),
    }
}

/// The answer for a failed gu1 call; logged for the operator when the fault is not the page's.
/// gu1's `Retry-After` passes through (in seconds).
pub fn from_gu1(e: &Gu1Error) -> Response {
    let (http, code, message) = gu1_mapping(e);
    // A call the proxy shed never reached gu1: counted, not logged line by line.
    if (http >= 500 || http == 422) && e.code != PROXY_BUSY {
        tracing::warn!(
            event = "gu1_error",
            gu1_status = e.http,
            gu1_code = %loggable_code(e),
            code,
            "gu1 failed a call"
        );
    }
    let status = StatusCode::from_u16(http).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut resp = refuse(status, code, message);
    if let Some(secs) = e.retry_after.filter(|_| matches!(e.http, 429 | 503)) {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gu1_error_has_a_stable_code() {
        let e = |http, code: &str| gu1_mapping(&Gu1Error::new(http, code, "anything")).1;
        assert_eq!(e(400, "INVALID_STATUS"), "SESSION_TERMINAL");
        assert_eq!(e(404, "NOT_FOUND"), "NOT_FOUND");
        assert_eq!(e(404, "ENTITY_NOT_FOUND"), "ENTITY_NOT_FOUND");
        assert_eq!(e(403, "NOT_ENABLED"), "VERIFICATION_NOT_ENABLED");
        assert_eq!(e(403, "FORBIDDEN"), "UPSTREAM_AUTH");
        assert_eq!(e(503, "HTTP_503"), "UPSTREAM_ERROR");
        assert_eq!(e(504, "UPSTREAM_TIMEOUT"), "UPSTREAM_TIMEOUT");
        assert_eq!(e(302, "HTTP_302"), "UPSTREAM_BAD_RESPONSE");
        let key = Gu1Error::new(401, "Invalid API key: Bearer sk_live_x", "Bearer sk_live_x");
        assert_eq!(loggable_code(&key), "HTTP_401");
        // Upper-snake is not enough: only codes from the closed list are logged as they are.
        for secret in ["SK_LIVE_4EC3F1A2B9", "ADA_LOVELACE", "PASSPORT_X1234567"] {
            assert_eq!(loggable_code(&Gu1Error::new(400, secret, "")), "HTTP_400");
        }
        assert_eq!(
            loggable_code(&Gu1Error::new(403, "NOT_ENABLED", "")),
            "NOT_ENABLED"
        );
        // The browser never sees 401 or 403 for gu1's refusals: those mean "your token is bad".
        for http in [400, 401, 403, 405, 409, 418, 422, 429, 500, 502] {
            let (status, ..) = gu1_mapping(&Gu1Error::new(http, "X", ""));
            assert!(status != 401 && status != 403, "{http} -> {status}");
        }
    }
}
