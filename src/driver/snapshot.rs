//! The Snapshot object JavaScript receives, and the machine's view of the same answer.

use js_sys::Object;
use wasm_bindgen::JsValue;

use crate::js::{get, set};
use crate::permissions;
use crate::status::{self, Kind, Reading, Session};
use crate::url::parse_session_url;

/// The Snapshot's keys, in the contract's order.
const SNAPSHOT: [&str; 11] = [
    "kind",
    "id",
    "entityId",
    "status",
    "terminal",
    "sessionUrl",
    "iframeAllow",
    "rejectionCode",
    "rejectionMessage",
    "updatedAt",
    "completedAt",
];

/// The machine's view of an answer and the Snapshot object JavaScript receives: computed
/// fields from the reading, the others copied from the answer (which stays a JavaScript value:
/// `status::read_answer` checked they are strings or null).
pub(super) fn snapshot(a: Option<Reading>, json: &JsValue) -> (Session, JsValue) {
    let o: JsValue = Object::new().into();
    let text = |s: &Option<String>| s.as_deref().map_or(JsValue::NULL, JsValue::from_str);
    for &key in &SNAPSHOT {
        let value = match (&a, key) {
            (None, "status") => "none".into(),
            (None, "terminal") => false.into(),
            (None, _) => JsValue::NULL,
            (Some(a), "kind") => a.kind.map_or(JsValue::NULL, |k: Kind| k.as_str().into()),
            (Some(a), "status") => a.status.as_str().into(),
            (Some(a), "terminal") => a.status.is_terminal().into(),
            (Some(a), "sessionUrl") => text(&a.session_url),
            (Some(a), "iframeAllow") => text(&a.iframe_allow),
            (Some(_), _) => Some(get(json, key))
                .filter(JsValue::is_string)
                .unwrap_or(JsValue::NULL),
        };
        set(&o, key, &value);
    }
    let session = match a {
        None => Session {
            status: status::Status::None,
            id: None,
            url: None,
            allow: permissions::DEFAULT,
            tag: false,
            held: false,
        },
        Some(a) => Session {
            allow: permissions::filter(a.iframe_allow.as_deref().unwrap_or("")),
            url: a.session_url.as_deref().map(parse_session_url),
            status: a.status,
            id: a.id,
            tag: false,
            held: false,
        },
    };
    (session, o)
}
