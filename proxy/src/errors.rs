//! The proxy's error answers to the browser: `{"code": ..., "message": ...}` with a stable code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::gu1::Gu1Error;

/// An error answer with the proxy's own code and message.
pub fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// The answer for a failed gu1 call.
pub fn from_gu1(e: &Gu1Error) -> Response {
    let status = StatusCode::from_u16(e.http).unwrap_or(StatusCode::BAD_GATEWAY);
    refuse(status, &e.code, &e.message)
}
