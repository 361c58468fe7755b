//! What the browser sees of a gu1 session or validation, and how new a state is.

use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::gu1::is_active_value;
use crate::token::Kind;

/// What reaches the browser of a session: only what the client needs, never extracted personal
/// data, documents, decision details or images. Borrowed from gu1's object and written straight
/// to JSON (the status path builds no intermediate value); the fields in alphabetical order,
/// as the bytes (and so the `ETag`) have always been.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct View<'a> {
    completed_at: &'a Value,
    created_at: &'a Value,
    entity_id: &'a Value,
    expires_at: &'a Value,
    id: &'a Value,
    iframe_allow: &'a Value,
    kind: &'static str,
    /// KYC only: the provider's hosted page, while active.
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_session_url: Option<&'a Value>,
    rejection_code: &'a Value,
    rejection_message: &'a Value,
    /// Biometric only: the hosted page, while active.
    #[serde(skip_serializing_if = "Option::is_none")]
    session_url: Option<&'a Value>,
    status: &'a Value,
    updated_at: &'a Value,
}

static NULL: Value = Value::Null;

impl<'a> View<'a> {
    /// The browser's view of `v`, a session of `kind` as gu1 (or a kept webhook) has it.
    pub fn of(kind: Kind, v: &'a Value) -> View<'a> {
        let pick = |k: &str| {
            v.get(k)
                .filter(|x| x.is_string() || x.is_null())
                .unwrap_or(&NULL)
        };
        let url = |k: &str| {
            Some(if is_active_value(kind, v) {
                pick(k)
            } else {
                &NULL
            })
        };
        let (session_url, provider_session_url) = match kind {
            Kind::Biometric => (url("sessionUrl"), None),
            Kind::Kyc => (None, url("providerSessionUrl")),
        };
        View {
            completed_at: pick("completedAt"),
            created_at: pick("createdAt"),
            entity_id: pick("entityId"),
            expires_at: pick("expiresAt"),
            id: pick("id"),
            iframe_allow: pick("iframeAllow"),
            kind: kind.as_str(),
            provider_session_url,
            rejection_code: pick("rejectionCode"),
            rejection_message: pick("rejectionMessage"),
            session_url,
            status: pick("status"),
            updated_at: pick("updatedAt"),
        }
    }
}

/// [`View`] as a JSON value (to keep, to merge with another state).
pub fn browser_view(kind: Kind, v: &Value) -> Value {
    serde_json::to_value(View::of(kind, v)).unwrap_or(Value::Null)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_view_keeps_only_the_browsers_fields_in_a_stable_order() {
        let gu1 = json!({"id": "bio_1", "entityId": "e", "status": "pending",
            "sessionUrl": "https://hosted.example/s", "iframeAllow": "camera",
            "extractedData": {"firstName": "Ada"}, "decision": {"x": 1}, "rejectionCode": 7,
            "createdAt": "2026-01-01T00:00:00Z"});
        let text = serde_json::to_string(&View::of(Kind::Biometric, &gu1)).unwrap();
        assert_eq!(
            text,
            r#"{"completedAt":null,"createdAt":"2026-01-01T00:00:00Z","entityId":"e","expiresAt":null,"id":"bio_1","iframeAllow":"camera","kind":"biometric","rejectionCode":null,"rejectionMessage":null,"sessionUrl":"https://hosted.example/s","status":"pending","updatedAt":null}"#
        );
        let done = json!({"id": "v", "status": "approved",
            "providerSessionUrl": "https://provider.example/s"});
        let kyc = browser_view(Kind::Kyc, &done);
        assert_eq!(
            kyc["providerSessionUrl"],
            Value::Null,
            "no URL once terminal"
        );
        assert!(kyc.get("sessionUrl").is_none());
        assert_eq!(kyc.as_object().unwrap().len(), 12);
    }
}
