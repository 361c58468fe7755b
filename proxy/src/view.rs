//! What the browser sees of a gu1 session or validation, and how new a state is.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::gu1::is_active_value;
use crate::token::Kind;

/// What reaches the browser: only what the client needs, never extracted personal data,
/// documents, decision details or images.
pub fn browser_view(kind: Kind, v: &Value) -> Value {
    let pick = |k: &str| {
        v.get(k)
            .filter(|x| x.is_string() || x.is_null())
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut out = json!({
        "kind": kind.as_str(), "id": pick("id"), "entityId": pick("entityId"), "status": pick("status"),
        "iframeAllow": pick("iframeAllow"), "rejectionCode": pick("rejectionCode"),
        "rejectionMessage": pick("rejectionMessage"), "createdAt": pick("createdAt"),
        "updatedAt": pick("updatedAt"), "completedAt": pick("completedAt"), "expiresAt": pick("expiresAt"),
    });
    let key = if kind == Kind::Biometric {
        "sessionUrl"
    } else {
        "providerSessionUrl"
    };
    out[key] = if is_active_value(kind, v) {
        pick(key)
    } else {
        Value::Null
    };
    out
}

/// A time as gu1 writes it (RFC 3339), in nanoseconds since the epoch.
pub fn parse_time(v: Option<&Value>) -> Option<i128> {
    let t = OffsetDateTime::parse(v?.as_str()?, &Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos())
}

/// How new a session object is: its `updatedAt`, else its `completedAt`.
pub fn state_time(v: &Value) -> Option<i128> {
    parse_time(v.get("updatedAt")).or_else(|| parse_time(v.get("completedAt")))
}
