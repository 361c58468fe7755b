//! Session statuses and what a proxy answer means.
//!
//! The proxy may answer with a gu1 biometric session, a gu1 KYC validation, `null` (no session
//! yet) or its own trimmed copy of either. Everything here is pure so it is tested natively;
//! the driver hands in the browser's parsed JSON and its date parser.

use crate::error::{Code, KycError};
use crate::permissions::Permissions;
use crate::url::SessionUrl;
use crate::value::Value;

/// Largest answer body read.
pub const MAX_BODY: u32 = 1024 * 1024;
/// Longest `Retry-After` honoured; a longer one is cut to this.
pub const MAX_RETRY_AFTER_MS: u32 = 300_000;

/// What the status part of a proxy answer says, read by `status::read_answer`.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// The normalised status (`Status::None` for "no session yet").
    pub status: Status,
    /// The session's id, for change detection.
    pub id: Option<String>,
    /// The hosted URL it carries, already checked by the driver (the browser's `URL` parses
    /// it), or why it was refused.
    pub url: Option<Result<SessionUrl, KycError>>,
    /// The session's `iframeAllow`, filtered.
    pub allow: Permissions,
    /// The answer carried an `ETag`: the next status request may wait for a change.
    pub tag: bool,
    /// The proxy held the request (`Preference-Applied: wait`).
    pub held: bool,
}

/// What one request came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// 2xx with a session or `null`, or 404 `NOT_FOUND`.
    Session(Session),
    /// 304: the state is the one kept; `true` when the proxy held the request
    /// (`Preference-Applied: wait`).
    Unchanged(bool),
    /// 401 or 403.
    Unauthorized,
    /// Anything else. `http` is the status code (0 when no answer came); `retry_after_ms` is
    /// set when the proxy asked for a pause (429, 503).
    Failed {
        /// What to report.
        error: KycError,
        /// The HTTP status.
        http: u16,
        /// The pause the proxy asked for.
        retry_after_ms: Option<u32>,
    },
}

/// Parses `Retry-After`: delta-seconds, or an HTTP-date (read by `parse_date`, the browser's
/// `Date.parse`: milliseconds since the epoch, NaN when it is not a date) relative to
/// `now_ms`. Capped at `MAX_RETRY_AFTER_MS`.
pub fn retry_after(value: &str, now_ms: f64, parse_date: impl FnOnce(&str) -> f64) -> Option<u32> {
    let v = value.trim_ascii();
    let ms = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        v.bytes().fold(0f64, |n, b| n * 10.0 + (b - b'0') as f64) * 1000.0
    } else {
        // Only an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is a date here; `Date.parse`
        // alone would also take "1.5" or "soon 2" as one.
        if !v.ends_with(" GMT") || v.len() != 29 {
            return None;
        }
        let at = parse_date(v);
        if !at.is_finite() {
            return None;
        }
        (at - now_ms).max(0.0)
    };
    Some(ms.min(MAX_RETRY_AFTER_MS as f64) as u32)
}

/// A failed request's answer: what to report, the HTTP status (0 when none came), the pause asked.
pub(crate) fn failed(code: Code, message: &str, http: u16, retry_after_ms: Option<u32>) -> Answer {
    Answer::Failed {
        error: KycError::new(code, message),
        http,
        retry_after_ms,
    }
}

/// What an HTTP answer means: a session (`Ok(Some)`), no session yet (`Ok(None)`: 2xx `null`,
/// 404 `NOT_FOUND`), or the answer the machine handles as it is (401/403, 429, other statuses,
/// bodies that are not a session). `json` is the parsed body, `None` when it was not JSON or
/// was too large.
pub fn interpret<V: Value>(
    http: u16,
    json: Option<&V>,
    retry_after_ms: Option<u32>,
) -> Result<Option<Reading>, Answer> {
    let not_found = || {
        json.is_some_and(|j| {
            ["code", "error"]
                .iter()
                .any(|k| j.field(k).and_then(|v| v.text()).as_deref() == Some("NOT_FOUND"))
        })
    };
    match http {
        200..=299 => match json {
            None => Err(failed(
                Code::BadResponse,
                "the proxy answered with a body that is not JSON",
                http,
                None,
            )),
            Some(j) => read_answer(j).map_err(|why| failed(Code::BadResponse, why, http, None)),
        },
        404 if not_found() => Ok(None),
        401 | 403 => Err(Answer::Unauthorized),
        429 => Err(failed(
            Code::RateLimited,
            "the proxy asked to slow down (429)",
            http,
            retry_after_ms,
        )),
        _ => {
            let mut m = String::from("the proxy answered HTTP ");
            crate::error::push_u32(&mut m, http as u32);
            Err(Answer::Failed {
                error: KycError::new(Code::ProxyError, m),
                http,
                retry_after_ms: retry_after_ms.filter(|_| http == 503),
            })
        }
    }
}

/// A session status. Known values are canonical; anything else is carried through verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// No session exists yet (`null` or 404 `NOT_FOUND` from the proxy).
    None,
    /// Created, the person has not started.
    Pending,
    /// The person is capturing.
    InProgress,
    /// Waiting for a manual decision.
    InReview,
    /// Terminal: accepted.
    Approved,
    /// Terminal: refused (see `rejectionCode`).
    Rejected,
    /// Terminal: cancelled through the API.
    Cancelled,
    /// Terminal: the session's lifetime ran out.
    Expired,
    /// Terminal: the person left without finishing.
    Abandoned,
    /// A status this client does not know; treated as active.
    Unknown(String),
}

impl Status {
    /// Parses a status string. Case, surrounding space and `-`/space separators are forgiven
    /// (`"IN_PROGRESS"`, `"In Progress"`), and the American `canceled` is accepted.
    pub fn parse(raw: &str) -> Status {
        let key = raw.trim_ascii().as_bytes();
        let is = |name: &str| {
            name.len() == key.len()
                && name.bytes().zip(key).all(|(n, &k)| match k {
                    b' ' | b'-' => n == b'_',
                    k => k.to_ascii_lowercase() == n,
                })
        };
        const KNOWN: [(&str, Status); 9] = [
            ("pending", Status::Pending),
            ("in_progress", Status::InProgress),
            ("in_review", Status::InReview),
            ("approved", Status::Approved),
            ("rejected", Status::Rejected),
            ("cancelled", Status::Cancelled),
            ("canceled", Status::Cancelled),
            ("expired", Status::Expired),
            ("abandoned", Status::Abandoned),
        ];
        match KNOWN.iter().find(|(name, _)| is(name)) {
            Some((_, status)) => status.clone(),
            None => Status::Unknown(raw.to_owned()),
        }
    }

    /// The string exposed in `Snapshot.status`.
    pub fn as_str(&self) -> &str {
        match self {
            Status::None => "none",
            Status::Pending => "pending",
            Status::InProgress => "in_progress",
            Status::InReview => "in_review",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Cancelled => "cancelled",
            Status::Expired => "expired",
            Status::Abandoned => "abandoned",
            Status::Unknown(s) => s,
        }
    }

    /// Terminal statuses end the verification; nothing is fetched after one.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Status::Approved
                | Status::Rejected
                | Status::Cancelled
                | Status::Expired
                | Status::Abandoned
        )
    }
}

/// What kind of gu1 object an answer describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An embedded biometric session (`/api/kyc/biometric/...`).
    Biometric,
    /// A session-based KYC validation (`/api/kyc/validations/...`).
    Kyc,
}

impl Kind {
    /// The contract's name for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Biometric => "biometric",
            Kind::Kyc => "kyc",
        }
    }
}

/// Fields of the Snapshot copied from the answer as they are (a string or `null`).
pub const COPIED: [&str; 6] = [
    "id",
    "entityId",
    "rejectionCode",
    "rejectionMessage",
    "updatedAt",
    "completedAt",
];

/// Fields only a KYC validation has.
const KYC_SHAPED: [&str; 4] = [
    "providerSessionUrl",
    "provider",
    "isCurrent",
    "integrationCode",
];
/// Fields only a biometric session has.
const BIOMETRIC_SHAPED: [&str; 3] = ["sessionUrl", "mode", "hostedSessionId"];

/// What this client reads from a proxy answer (a gu1 biometric session, a KYC validation, or a
/// trimmed copy of either). Only these keys are looked up, so a full gu1 object (with
/// `decision`, `extractedData`, ...) reads as well as a trimmed one.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// The normalised status.
    pub status: Status,
    /// From `kind`, else from the fields only one kind has.
    pub kind: Option<Kind>,
    /// The session's id.
    pub id: Option<String>,
    /// `sessionUrl` (biometric) or `providerSessionUrl` (KYC), when not blank.
    pub session_url: Option<String>,
    /// `iframeAllow`, when not blank.
    pub iframe_allow: Option<String>,
}

/// Reads an answer: `null` is "no session yet" (`Ok(None)`); an object needs a non-blank
/// string `status`, and each field read must be a string or null/absent.
pub fn read_answer<V: Value>(v: &V) -> Result<Option<Reading>, &'static str> {
    if v.is_null() {
        return Ok(None);
    }
    if !v.is_object() {
        return Err("the proxy answered with something that is not a session");
    }
    let string = |key: &str| -> Result<Option<String>, &'static str> {
        match v.field(key) {
            Some(f) if !f.is_null() => f
                .text()
                .map(Some)
                .ok_or("the answer has a field of the wrong type"),
            _ => Ok(None),
        }
    };
    let wrong = COPIED
        .iter()
        .any(|k| v.field(k).is_some_and(|f| !f.is_null() && !f.is_text()));
    if wrong {
        return Err("the answer has a field of the wrong type");
    }
    let blank = |s: Option<String>| s.filter(|s| !s.trim_ascii().is_empty());
    let status = match blank(string("status")?) {
        Some(s) => Status::parse(&s),
        None => return Err("the answer has no status"),
    };
    let has = |keys: &[&str]| {
        keys.iter()
            .any(|k| v.field(k).is_some_and(|f| !f.is_null()))
    };
    let kind = match string("kind")?.as_deref() {
        Some("kyc") => Some(Kind::Kyc),
        Some("biometric") => Some(Kind::Biometric),
        _ if has(&KYC_SHAPED) => Some(Kind::Kyc),
        _ if has(&BIOMETRIC_SHAPED) => Some(Kind::Biometric),
        _ => None,
    };
    let session_url = blank(string("sessionUrl")?);
    let provider_url = blank(string("providerSessionUrl")?);
    Ok(Some(Reading {
        status,
        kind,
        id: string("id")?,
        session_url: session_url.or(provider_url),
        iframe_allow: blank(string("iframeAllow")?),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Option<Reading>, &'static str> {
        let v: serde_json::Value = serde_json::from_str(json).expect("valid json");
        read_answer(&v)
    }

    fn session(json: &str) -> Reading {
        parse(json).unwrap().expect("a session")
    }

    #[test]
    fn known_statuses_parse_and_classify() {
        for s in ["pending", "in_progress", "in_review"] {
            let st = Status::parse(s);
            assert_eq!(st.as_str(), s);
            assert!(!st.is_terminal(), "{s}");
            assert!(!matches!(st, Status::Unknown(_)));
        }
        for s in ["approved", "rejected", "cancelled", "expired", "abandoned"] {
            let st = Status::parse(s);
            assert_eq!(st.as_str(), s);
            assert!(st.is_terminal(), "{s}");
        }
        assert_eq!(Status::None.as_str(), "none");
    }

    #[test]
    fn status_spelling_is_forgiven() {
        assert_eq!(Status::parse("IN_PROGRESS"), Status::InProgress);
        assert_eq!(Status::parse(" In Progress "), Status::InProgress);
        assert_eq!(Status::parse("in-review"), Status::InReview);
        assert_eq!(Status::parse("Canceled"), Status::Cancelled);
        assert_eq!(Status::parse("APPROVED"), Status::Approved);
    }

    #[test]
    fn unknown_status_is_carried_verbatim_and_active() {
        let st = Status::parse("Resubmitted");
        assert_eq!(st, Status::Unknown("Resubmitted".into()));
        assert_eq!(st.as_str(), "Resubmitted");
        assert!(!st.is_terminal());
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let date = |v: &str| {
            assert_eq!(v, "Sun, 06 Nov 1994 08:49:37 GMT");
            784_111_777_000.0
        };
        let no_date = |_: &str| -> f64 { panic!("not a date") };
        assert_eq!(retry_after("2", 0.0, no_date), Some(2_000));
        assert_eq!(retry_after(" 0 ", 0.0, no_date), Some(0));
        assert_eq!(
            retry_after("99999999999999999999", 0.0, no_date),
            Some(MAX_RETRY_AFTER_MS)
        );
        let at = 784_111_777_000.0;
        let d = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(retry_after(d, at - 3_000.0, date), Some(3_000));
        assert_eq!(retry_after(d, at + 5_000.0, date), Some(0));
        assert_eq!(retry_after(d, at - 1e9, date), Some(MAX_RETRY_AFTER_MS));
        assert_eq!(
            retry_after("Sun, 06 Foo 1994 08:49:37 GMT", 0.0, |_| f64::NAN),
            None
        );
        for bad in ["", "-1", "1.5", "soon", "Sun, 06 Nov 1994 08:49 GMT"] {
            assert_eq!(retry_after(bad, 0.0, no_date), None, "{bad}");
        }
    }

    fn answer(
        http: u16,
        body: Option<&str>,
        retry: Option<u32>,
    ) -> Result<Option<Reading>, Answer> {
        let json: Option<serde_json::Value> = body.and_then(|b| serde_json::from_str(b).ok());
        interpret(http, json.as_ref(), retry)
    }

    fn code(r: Result<Option<Reading>, Answer>) -> (&'static str, u16, Option<u32>) {
        match r {
            Err(Answer::Failed {
                error,
                http,
                retry_after_ms,
            }) => (error.code.as_str(), http, retry_after_ms),
            Err(Answer::Unauthorized) => ("UNAUTHORIZED", 0, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn http_answers_map_to_codes() {
        assert!(matches!(
            answer(200, Some(r#"{"status":"pending"}"#), None),
            Ok(Some(_))
        ));
        assert_eq!(answer(200, Some("null"), None), Ok(None));
        assert_eq!(answer(404, Some(r#"{"code":"NOT_FOUND"}"#), None), Ok(None));
        assert_eq!(
            answer(404, Some(r#"{"error":"NOT_FOUND"}"#), None),
            Ok(None)
        );
        assert_eq!(
            code(answer(404, Some("{}"), None)),
            ("PROXY_ERROR", 404, None)
        );
        assert_eq!(code(answer(200, None, None)), ("BAD_RESPONSE", 200, None));
        assert_eq!(
            code(answer(200, Some("[]"), None)),
            ("BAD_RESPONSE", 200, None)
        );
        assert_eq!(code(answer(401, None, None)).0, "UNAUTHORIZED");
        assert_eq!(code(answer(403, None, None)).0, "UNAUTHORIZED");
        assert_eq!(
            code(answer(429, None, Some(5))),
            ("RATE_LIMITED", 429, Some(5))
        );
        assert_eq!(
            code(answer(503, None, Some(5))),
            ("PROXY_ERROR", 503, Some(5))
        );
        assert_eq!(code(answer(500, None, Some(5))), ("PROXY_ERROR", 500, None));
        assert_eq!(code(answer(409, None, None)), ("PROXY_ERROR", 409, None));
        match answer(502, None, None) {
            Err(Answer::Failed { error, .. }) => {
                assert_eq!(error.message, "the proxy answered HTTP 502")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_copied_field_of_the_wrong_type_is_refused() {
        for k in COPIED {
            for v in ["5", "true", "{}", "[]"] {
                let json = format!(r#"{{"status":"pending","{k}":{v}}}"#);
                assert_eq!(
                    parse(&json),
                    Err("the answer has a field of the wrong type"),
                    "{json}"
                );
            }
        }
    }

    #[test]
    fn null_is_no_session() {
        assert_eq!(parse("null"), Ok(None));
    }

    #[test]
    fn biometric_session_normalises() {
        let s = session(
            r#"{"id":"b1","entityId":"e1","organizationId":"o","status":"pending","mode":"face_match",
                "sessionUrl":"https://verify.example/s/1","iframeAllow":"camera; microphone",
                "hostedSessionId":"h","rejectionCode":null,"createdAt":"2026-01-01T00:00:00Z",
                "updatedAt":"2026-01-01T00:00:01Z","completedAt":null}"#,
        );
        assert_eq!(s.kind, Some(Kind::Biometric));
        assert_eq!(s.id.as_deref(), Some("b1"));
        assert_eq!(s.status, Status::Pending);
        assert_eq!(s.session_url.as_deref(), Some("https://verify.example/s/1"));
        assert_eq!(s.iframe_allow.as_deref(), Some("camera; microphone"));
    }

    #[test]
    fn kyc_validation_normalises_and_ignores_personal_data() {
        let s = session(
            r#"{"id":"v1","entityId":"e1","sessionId":"x","status":"rejected","provider":"p",
                "providerSessionUrl":"https://kyc.example/v","isCurrent":false,
                "rejectionCode":"FACE_MATCH_SCORE_LOW","rejectionMessage":"low score",
                "decision":{"a":[1,2,3]},"extractedData":{"name":"N"},"completedAt":"t"}"#,
        );
        assert_eq!(s.kind, Some(Kind::Kyc));
        assert!(s.status.is_terminal());
        assert_eq!(s.session_url.as_deref(), Some("https://kyc.example/v"));
    }

    #[test]
    fn explicit_kind_wins() {
        let s = session(r#"{"kind":"kyc","status":"pending","sessionUrl":"https://a.example/"}"#);
        assert_eq!(s.kind, Some(Kind::Kyc));
        let s = session(r#"{"kind":"other","status":"pending"}"#);
        assert_eq!(s.kind, None);
    }

    #[test]
    fn answer_without_status_is_not_a_session() {
        for bad in [
            r#"{"id":"x"}"#,
            r#"{"status":"  "}"#,
            r#"{"status":5}"#,
            r#"{"status":"pending","id":7}"#,
            r#"{"status":"pending","rejectionMessage":{}}"#,
            r#"[{"status":"pending"}]"#,
            r#""pending""#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(r#"{"status":"pending","decision":{"x":1.5},"isCurrent":true}"#).is_ok());
    }

    #[test]
    fn blank_urls_are_absent() {
        let s = session(r#"{"status":"approved","sessionUrl":"","providerSessionUrl":null}"#);
        assert_eq!(s.session_url, None);
        let s = session(r#"{"status":"pending","sessionUrl":" ","iframeAllow":""}"#);
        assert_eq!((s.session_url, s.iframe_allow), (None, None));
    }
}
