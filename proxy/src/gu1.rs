//! What the proxy needs from gu1, whoever answers: the four calls the browser endpoints make,
//! gu1's statuses, and gu1's errors.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};

use crate::token::Kind;

/// A session or validation object as gu1 answered it, shared rather than copied (an answer
/// may be shared by every request that reads it).
pub type Session = Arc<Value>;

/// A gu1 call in flight.
pub type Call<'a, T> = BoxFuture<'a, Result<T, Gu1Error>>;

/// The gu1 API as the browser endpoints use it. `upstream::Upstream` calls the real one; the
/// simulator implements it in memory.
pub trait Gu1: Send + Sync + std::fmt::Debug {
    /// One session (biometric) or validation (KYC) by id; `None` when gu1 has none.
    fn get<'a>(&'a self, kind: Kind, id: &'a str) -> Call<'a, Option<Session>>;
    /// The entity's current session or validation; `None` when it has none.
    fn current<'a>(&'a self, kind: Kind, entity: &'a str) -> Call<'a, Option<Session>>;
    /// Creates a session or validation for the entity.
    fn create<'a>(&'a self, kind: Kind, entity: &'a str) -> Call<'a, Value>;
    /// Cancels an active session or validation.
    fn cancel<'a>(&'a self, kind: Kind, id: &'a str) -> Call<'a, Value>;
}

/// Statuses that can still change (and can be cancelled).
pub fn is_active(kind: Kind, status: &str) -> bool {
    match kind {
        Kind::Biometric => matches!(status, "pending" | "in_progress"),
        Kind::Kyc => matches!(status, "pending" | "in_progress" | "in_review"),
    }
}

/// Whether a session or validation object from gu1 is active.
pub fn is_active_value(kind: Kind, v: &Value) -> bool {
    v.get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| is_active(kind, s))
}

/// The code of a call the proxy shed for lack of room (503, `Retry-After: 1`): gu1 never saw it.
pub const PROXY_BUSY: &str = "PROXY_BUSY";

/// The code of a gu1 answer about another entity than the token's (502 to the browser, logged).
pub const UPSTREAM_WRONG_ENTITY: &str = "UPSTREAM_WRONG_ENTITY";

/// A failed gu1 call, as gu1 reports it (`{"error": code, "message": ...}`), or as the proxy
/// reports an exchange that failed (timeouts, unreachable, not JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct Gu1Error {
    /// gu1's HTTP status (or the proxy's, for a failed exchange).
    pub http: u16,
    /// gu1's error code (`NOT_FOUND`, `ACTIVE_SESSION_EXISTS`, ...).
    pub code: String,
    /// gu1's message.
    pub message: String,
    /// With `ACTIVE_SESSION_EXISTS`: the session that blocks a new one.
    pub active_session_id: Option<String>,
    /// gu1's `Retry-After` (a 429 or 503), in seconds.
    pub retry_after: Option<u64>,
}

impl Gu1Error {
    /// An error with gu1's code.
    pub fn new(http: u16, code: &str, message: impl Into<String>) -> Self {
        Gu1Error {
            http,
            code: code.to_owned(),
            message: message.into(),
            active_session_id: None,
            retry_after: None,
        }
    }

    /// The body gu1 sends with this error.
    pub fn body(&self) -> Value {
        let mut v = json!({"error": self.code, "message": self.message});
        if let Some(id) = &self.active_session_id {
            v["activeSessionId"] = json!(id);
        }
        v
    }
}
