//! Messages from the hosted page. They are hints to poll now, never a completion.
//!
//! The hosted capture page posts `{type: "didit:<event>", data: {...}}`, sometimes as a JSON
//! string. Parsing is defensive: bounded sizes, bounded depth, and only the `type` and `data`
//! keys are ever read (no iteration over hostile objects, no prototype walk).

use crate::value::Value;

/// Longest message string parsed; longer ones are ignored.
pub const MAX_TEXT: usize = 64 * 1024;
/// Longest `type` accepted.
const MAX_TYPE: usize = 64;
/// How many levels of JSON-string or `data` wrapping are unwrapped.
const MAX_DEPTH: u8 = 3;

/// Event names that mean the session's status may just have changed.
const HINT_EVENTS: [&str; 6] = [
    "started",
    "status_updated",
    "verification_submitted",
    "completed",
    "cancelled",
    "error",
];
/// Prefixes of hosted-page events.
const PREFIXES: [&str; 2] = ["didit:", "gu1:"];

/// The `type` of a message: top-level, inside a JSON string, or inside `data`.
pub fn message_type<V: Value>(value: &V) -> Option<String> {
    find_type(value, 0)
}

fn find_type<V: Value>(value: &V, depth: u8) -> Option<String> {
    if depth > MAX_DEPTH {
        return None;
    }
    if let Some(text) = value.text() {
        if text.len() > MAX_TEXT || text.trim_ascii_start().as_bytes().first() != Some(&b'{') {
            return None;
        }
        return find_type(&value.parse()?, depth + 1);
    }
    if let Some(t) = value.field("type").and_then(|t| t.text()) {
        return (t.len() <= MAX_TYPE).then_some(t);
    }
    find_type(&value.field("data")?, depth + 1)
}

/// Whether a message `type` is a hint that the status may have changed.
pub fn is_hint(kind: &str) -> bool {
    PREFIXES
        .iter()
        .filter_map(|p| kind.strip_prefix(p))
        .any(|event| HINT_EVENTS.contains(&event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    type Value = serde_json::Value;

    #[test]
    fn envelope_type_is_read() {
        let v =
            json!({"type": "didit:completed", "data": {"sessionId": "s", "status": "Approved"}});
        assert_eq!(message_type(&v).as_deref(), Some("didit:completed"));
    }

    #[test]
    fn json_string_and_nested_data_are_unwrapped() {
        let s = Value::String(
            r#"{"type":"didit:status_updated","data":{"status":"IN_PROGRESS"}}"#.into(),
        );
        assert_eq!(message_type(&s).as_deref(), Some("didit:status_updated"));
        let nested = json!({"data": {"type": "didit:cancelled"}});
        assert_eq!(message_type(&nested).as_deref(), Some("didit:cancelled"));
        let nested_string = json!({"data": r#"{"type":"gu1:completed"}"#});
        assert_eq!(
            message_type(&nested_string).as_deref(),
            Some("gu1:completed")
        );
    }

    #[test]
    fn malformed_and_hostile_values_are_ignored() {
        for v in [
            json!(null),
            json!(42),
            json!([{"type": "didit:completed"}]),
            json!({"type": 7}),
            json!({"kind": "didit:completed"}),
            Value::String("didit:completed".into()),
            Value::String("{not json".into()),
            json!({"type": "x".repeat(65)}),
            json!({"__proto__": {"type": "didit:completed"}}),
            json!({"data": {"data": {"data": {"data": {"type": "didit:completed"}}}}}),
        ] {
            let t = message_type(&v);
            assert!(t.as_deref().map_or(true, |t| !is_hint(t)), "{v}");
        }
        let huge = Value::String(format!(
            r#"{{"type":"didit:completed","pad":"{}"}}"#,
            "a".repeat(MAX_TEXT)
        ));
        assert_eq!(message_type(&huge), None);
    }

    #[test]
    fn hints_are_status_events_only() {
        for t in [
            "didit:started",
            "didit:status_updated",
            "didit:verification_submitted",
            "didit:completed",
            "didit:cancelled",
            "didit:error",
            "gu1:completed",
        ] {
            assert!(is_hint(t), "{t}");
        }
        for t in [
            "didit:ready",
            "didit:step_started",
            "didit:media_captured",
            "completed",
            "xdidit:completed",
            "didit:",
        ] {
            assert!(!is_hint(t), "{t}");
        }
    }
}
