//! Messages from the hosted page: hints to poll now, step events for the page, the layout's
//! height, close requests and camera failures; never a completion.
//!
//! The hosted capture page posts `{type: "didit:<event>", data: {...}}`, sometimes as a JSON
//! string. Parsing is defensive: bounded sizes, bounded depth, and only named keys are read (no
//! iteration over hostile objects, no prototype walk). What it says is read into closed lists:
//! nothing the page sent (ids, names, countries, free text) is kept.

use crate::value::Value;

/// Longest message string parsed; longer ones are ignored.
pub const MAX_TEXT: usize = 64 * 1024;
/// Longest `type` accepted.
const MAX_TYPE: usize = 64;
/// How many levels of JSON-string or `data` wrapping are unwrapped.
const MAX_DEPTH: u8 = 3;
/// Prefixes of hosted-page events.
const PREFIXES: [&str; 2] = ["didit:", "gu1:"];

/// Where `raw` is in `list`, ignoring ASCII case.
fn find(raw: &str, list: &[&str]) -> Option<usize> {
    list.iter().position(|n| n.eq_ignore_ascii_case(raw))
}

/// The hosted page's events, by the name the page hears (`verification_submitted` is
/// `submitted`); `Layout` is read for the height and not forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Name {
    /// The page is ready.
    Ready,
    /// The person started (a hint).
    Started,
    /// A step started.
    StepStarted,
    /// A step was completed.
    StepCompleted,
    /// The step changed.
    StepChanged,
    /// A capture started.
    MediaStarted,
    /// A capture was taken.
    MediaCaptured,
    /// A document was chosen (which one is not forwarded).
    DocumentSelected,
    /// The person submitted (a hint).
    Submitted,
    /// A code was sent.
    CodeSent,
    /// A code was verified.
    CodeVerified,
    /// The page's status changed (a hint).
    StatusUpdated,
    /// The page's flow completed (a hint; never a completion).
    Completed,
    /// The person left (a hint).
    Cancelled,
    /// The page reported an error (a hint).
    Error,
    /// The page asks to be closed.
    CloseRequest,
    /// The content's height.
    Layout,
}

impl Name {
    /// Every event, in order.
    pub const ALL: [Name; 17] = [
        Name::Ready,
        Name::Started,
        Name::StepStarted,
        Name::StepCompleted,
        Name::StepChanged,
        Name::MediaStarted,
        Name::MediaCaptured,
        Name::DocumentSelected,
        Name::Submitted,
        Name::CodeSent,
        Name::CodeVerified,
        Name::StatusUpdated,
        Name::Completed,
        Name::Cancelled,
        Name::Error,
        Name::CloseRequest,
        Name::Layout,
    ];
    /// The names, in `ALL` order.
    pub const NAMES: [&'static str; 17] = [
        "ready",
        "started",
        "step_started",
        "step_completed",
        "step_changed",
        "media_started",
        "media_captured",
        "document_selected",
        "submitted",
        "code_sent",
        "code_verified",
        "status_updated",
        "completed",
        "cancelled",
        "error",
        "close_request",
        "layout",
    ];

    /// The name the page hears.
    pub fn as_str(self) -> &'static str {
        Name::NAMES[self as usize]
    }
}

/// The hosted page's steps, as its documentation lists them (`StepDetail.step`).
pub const STEPS: [&str; 9] = [
    "document_selection",
    "document_front",
    "document_back",
    "face",
    "email",
    "phone",
    "poa",
    "questionnaire",
    "other",
];
/// What a capture records (`StepDetail.mediaType`).
pub const MEDIA: [&str; 3] = ["image", "video", "other"];
/// Where a code was sent (`StepDetail.channel`).
pub const CHANNELS: [&str; 4] = ["email", "sms", "whatsapp", "other"];
/// What an `error` was (`StepDetail.code`): the documented kinds, the camera failing as the
/// browser names it (`NotReadableError`, `NotFoundError`), else "other". Never the page's text.
pub const CODES: [&str; 7] = [
    "sessionExpired",
    "networkError",
    "cameraAccessDenied",
    "cameraNotReadable",
    "cameraNotFound",
    "unknown",
    "other",
];

/// What the hosted page said: its event and the fields this client forwards, each one of this
/// client's own strings (`&'static`: it cannot be anything the page sent).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Message {
    /// The event, when it is one of the vocabulary.
    pub name: Option<Name>,
    /// `data.step`, from `STEPS`.
    pub step: Option<&'static str>,
    /// `data.mediaType`, from `MEDIA`, for `media_started` and `media_captured`.
    pub media: Option<&'static str>,
    /// `data.isAuto`, when a boolean, for `media_captured`.
    pub is_auto: Option<bool>,
    /// `data.channel`, from `CHANNELS`, for `code_sent`.
    pub channel: Option<&'static str>,
    /// `data.error`'s kind (its `type` or `name` when it is an object), from `CODES`, for
    /// `error` only.
    pub code: Option<&'static str>,
    /// `data.contentHeight`, for `layout` only, when a finite number.
    pub height: Option<f64>,
}

impl Message {
    /// Whether the message means the session's status may just have changed.
    pub fn is_hint(&self) -> bool {
        matches!(
            self.name,
            Some(
                Name::Started
                    | Name::Submitted
                    | Name::StatusUpdated
                    | Name::Completed
                    | Name::Cancelled
                    | Name::Error
            )
        )
    }

    /// Whether the page hears of it as a step event (every event but `layout`).
    pub fn is_step(&self) -> bool {
        self.name.is_some_and(|n| n != Name::Layout)
    }

    /// Whether it reports the camera failing inside the hosted page.
    pub fn camera_failed(&self) -> bool {
        self.code.is_some_and(|c| c.starts_with("camera"))
    }
}

/// A step's name: the documented ones in any case, the capture steps' upper-case forms
/// (`DOCUMENT_CAPTURE_FRONT`, `FACE_PASSIVE_LIVENESS`), anything else "other".
fn step_name(raw: &str) -> &'static str {
    let b = raw.as_bytes();
    let i = if b.len() >= 5 && b[..5].eq_ignore_ascii_case(b"face_") {
        Some(3) // "face"
    } else {
        find(raw, &STEPS).or_else(|| {
            // document_front, document_back
            find(raw, &["document_capture_front", "document_capture_back"]).map(|i| i + 1)
        })
    };
    STEPS[i.unwrap_or(STEPS.len() - 1)]
}

/// A capture's kind: `image…` or `video…` in any case, anything else "other".
fn media(raw: &str) -> &'static str {
    let b = raw.as_bytes();
    MEDIA[..2]
        .iter()
        .find(|m| b.len() >= 5 && b[..5].eq_ignore_ascii_case(m.as_bytes()))
        .copied()
        .unwrap_or("other")
}

/// An error's kind: a documented one in any case, the browser's camera errors by name,
/// anything else "other".
fn error_kind(raw: &str) -> &'static str {
    let i = find(raw, &CODES).or_else(|| {
        find(
            raw,
            &["NotAllowedError", "NotReadableError", "NotFoundError"],
        )
        .map(|i| i + 2)
    });
    CODES[i.unwrap_or(CODES.len() - 1)]
}

/// The message's `type` (top level, inside a JSON string, or inside `data`) and the `data` of
/// the object that carries it.
fn envelope<V: Value>(value: &V, depth: u8) -> Option<(String, Option<V>)> {
    if depth > MAX_DEPTH {
        return None;
    }
    if let Some(text) = value.text() {
        if text.len() > MAX_TEXT || text.trim_ascii_start().as_bytes().first() != Some(&b'{') {
            return None;
        }
        return envelope(&value.parse()?, depth + 1);
    }
    let data = value.field("data");
    match value.field("type").and_then(|t| t.text()) {
        Some(t) => (t.len() <= MAX_TYPE).then_some((t, data)),
        None => envelope(&data?, depth + 1),
    }
}

/// The `type` of a message: top-level, inside a JSON string, or inside `data`.
#[cfg(test)]
pub fn message_type<V: Value>(value: &V) -> Option<String> {
    envelope(value, 0).map(|(t, _)| t)
}

/// Reads a hosted-page message: `None` when it is not one (no `type`, or not `didit:` or
/// `gu1:`); else its event when it is one of the vocabulary, and the fields forwarded, each
/// mapped to its closed list.
pub fn read<V: Value>(value: &V) -> Option<Message> {
    let (t, data) = envelope(value, 0)?;
    let event = PREFIXES.iter().find_map(|p| t.strip_prefix(p))?;
    // The page says `verification_submitted`; `submitted` is this client's name for it.
    let event = match event {
        "verification_submitted" => "submitted",
        "submitted" => "",
        e => e,
    };
    let name = Name::NAMES
        .iter()
        .position(|n| *n == event)
        .map(|i| Name::ALL[i]);
    let mut m = Message {
        name,
        ..Message::default()
    };
    let Some(d) = data.filter(|_| name.is_some()) else {
        return Some(m);
    };
    let text = |key: &str| d.field(key).and_then(|v| v.text());
    m.step = text("step").map(|s| step_name(&s));
    // Each field only on the events that document it, as the TypeScript union says.
    match name {
        Some(Name::MediaStarted | Name::MediaCaptured) => {
            m.media = text("mediaType").map(|s| media(&s));
            if name == Some(Name::MediaCaptured) {
                m.is_auto = d.field("isAuto").and_then(|v| v.flag());
            }
        }
        Some(Name::CodeSent) => {
            m.channel = text("channel")
                .map(|s| CHANNELS[find(&s, &CHANNELS).unwrap_or(CHANNELS.len() - 1)]);
        }
        Some(Name::Error) => {
            let e = d.field("error");
            let kind = e.as_ref().and_then(|e| {
                e.text()
                    .or_else(|| ["type", "name"].iter().find_map(|k| e.field(k)?.text()))
            });
            m.code = Some(kind.map_or("other", |k| error_kind(&k)));
        }
        Some(Name::Layout) => {
            m.height = d
                .field("contentHeight")
                .and_then(|v| v.num())
                .filter(|h| h.is_finite());
        }
        _ => {}
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    type Value = serde_json::Value;

    fn hint(t: &str) -> bool {
        read(&json!({ "type": t })).is_some_and(|m| m.is_hint())
    }

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
            assert!(!read(&v).is_some_and(|m| m.is_hint() || m.is_step()), "{v}");
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
            assert!(hint(t), "{t}");
        }
        for t in [
            "didit:ready",
            "didit:step_started",
            "didit:media_captured",
            "didit:submitted",
            "completed",
            "xdidit:completed",
            "didit:",
        ] {
            assert!(!hint(t), "{t}");
        }
    }

    #[test]
    fn the_vocabulary_reads_into_closed_lists() {
        let m = read(&json!({"type": "didit:step_started", "data": {"step": "DOCUMENT_CAPTURE_FRONT", "sessionId": "s-1"}})).unwrap();
        assert_eq!(
            (m.name, m.step),
            (Some(Name::StepStarted), Some("document_front"))
        );
        let m =
            read(&json!({"type": "didit:step_changed", "data": {"step": "FACE_PASSIVE_LIVENESS"}}))
                .unwrap();
        assert_eq!(m.step, Some("face"));
        let m =
            read(&json!({"type": "didit:step_completed", "data": {"step": "Jane Doe"}})).unwrap();
        assert_eq!(m.step, Some("other"));
        let m = read(&json!({"type": "didit:media_started", "data": {"step": "face", "mediaType": "video/webm"}})).unwrap();
        assert_eq!((m.step, m.media), (Some("face"), Some("video")));
        let m = read(&json!({"type": "didit:media_captured", "data": {"isAuto": true}})).unwrap();
        assert_eq!(m.is_auto, Some(true));
        let m = read(&json!({"type": "didit:media_captured", "data": {"isAuto": "yes"}})).unwrap();
        assert_eq!(m.is_auto, None);
        let m = read(&json!({"type": "didit:code_sent", "data": {"channel": "SMS", "codeSize": 6, "phone": "+34600000000"}})).unwrap();
        assert_eq!(m.channel, Some("sms"));
        let m = read(&json!({"type": "didit:code_sent", "data": {"channel": "pigeon"}})).unwrap();
        assert_eq!(m.channel, Some("other"));
        let m = read(&json!({"type": "didit:verification_submitted", "data": {"step": "face"}}))
            .unwrap();
        assert_eq!(m.name.map(Name::as_str), Some("submitted"));
        let m = read(&json!({"type": "didit:document_selected", "data": {"documentType": "passport", "country": "ESP"}})).unwrap();
        assert_eq!(
            m,
            Message {
                name: Some(Name::DocumentSelected),
                ..Message::default()
            }
        );
        let m = read(&json!({"type": "gu1:close_request"})).unwrap();
        assert_eq!(m.name, Some(Name::CloseRequest));
        let m = read(&json!({"type": "didit:something_new", "data": {"step": "face"}})).unwrap();
        assert_eq!(
            m,
            Message::default(),
            "not in the vocabulary: heard, nothing read"
        );
    }

    #[test]
    fn errors_give_their_kind_never_their_text() {
        let kind = |e: Value| {
            read(&json!({"type": "didit:error", "data": {"error": e}}))
                .unwrap()
                .code
        };
        assert_eq!(
            kind(json!("cameraAccessDenied")),
            Some("cameraAccessDenied")
        );
        assert_eq!(
            kind(json!({"type": "NotReadableError", "message": "Jane's camera"})),
            Some("cameraNotReadable")
        );
        assert_eq!(
            kind(json!({"name": "NotFoundError"})),
            Some("cameraNotFound")
        );
        assert_eq!(kind(json!("SESSIONEXPIRED")), Some("sessionExpired"));
        assert_eq!(kind(json!("The camera of Jane Doe failed")), Some("other"));
        assert_eq!(kind(json!(42)), Some("other"));
        let m = |e: &str| read(&json!({"type": "didit:error", "data": {"error": e}})).unwrap();
        assert!(m("NotFoundError").camera_failed() && !m("networkError").camera_failed());
        let m =
            read(&json!({"type": "didit:ready", "data": {"error": "cameraAccessDenied"}})).unwrap();
        assert_eq!(m.code, None, "a code for error only");
    }

    #[test]
    fn layout_gives_a_height() {
        let h = |d: Value| {
            read(&json!({"type": "didit:layout", "data": d}))
                .unwrap()
                .height
        };
        assert_eq!(
            h(json!({"contentHeight": 812.5, "colorScheme": "dark"})),
            Some(812.5)
        );
        assert_eq!(h(json!({"contentHeight": "812"})), None);
        let m = read(&json!({"type": "didit:layout", "data": {"contentHeight": 900}})).unwrap();
        assert!(!m.is_step() && !m.is_hint(), "layout is not forwarded");
    }
}
