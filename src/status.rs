//! Session statuses and the normalised `Snapshot` built from a proxy answer.
//!
//! The proxy may answer with a gu1 biometric session, a gu1 KYC validation, `null` (no session
//! yet) or its own trimmed copy of either. Everything here is pure so it is tested natively.

use crate::value::Value;

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
        let mut key = String::with_capacity(raw.len());
        for c in raw.trim().chars() {
            key.push(match c {
                ' ' | '-' => '_',
                c => c.to_ascii_lowercase(),
            });
        }
        match key.as_str() {
            "pending" => Status::Pending,
            "in_progress" => Status::InProgress,
            "in_review" => Status::InReview,
            "approved" => Status::Approved,
            "rejected" => Status::Rejected,
            "cancelled" | "canceled" => Status::Cancelled,
            "expired" => Status::Expired,
            "abandoned" => Status::Abandoned,
            _ => Status::Unknown(raw.to_owned()),
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

/// The fields of a proxy answer this client reads. Only these keys are looked up, so a full gu1
/// object (with `decision`, `extractedData`, ...) reads as well as a trimmed one.
#[derive(Debug, Default)]
pub struct RawSession {
    /// `"biometric"` or `"kyc"` when the proxy says so.
    pub kind: Option<String>,
    pub id: Option<String>,
    pub entity_id: Option<String>,
    pub status: Option<String>,
    /// Biometric sessions: the hosted capture URL, present while active.
    pub session_url: Option<String>,
    /// KYC validations: the hosted capture URL.
    pub provider_session_url: Option<String>,
    pub iframe_allow: Option<String>,
    pub rejection_code: Option<String>,
    pub rejection_message: Option<String>,
    pub updated_at: Option<String>,
    pub completed_at: Option<String>,
    /// The answer has fields only a KYC validation has.
    pub kyc_shaped: bool,
    /// The answer has fields only a biometric session has.
    pub biometric_shaped: bool,
}

impl RawSession {
    /// Reads an answer: `null` is `None`; an object gives its fields, each a string or
    /// null/absent (another type is an error); anything else is an error.
    pub fn read<V: Value>(v: &V) -> Result<Option<RawSession>, &'static str> {
        if v.is_null() {
            return Ok(None);
        }
        if !v.is_object() {
            return Err("the proxy answered with something that is not a session");
        }
        let string = |key: &str| -> Result<Option<String>, &'static str> {
            match v.field(key) {
                None => Ok(None),
                Some(f) if f.is_null() => Ok(None),
                Some(f) => f
                    .text()
                    .map(Some)
                    .ok_or("the answer has a field of the wrong type"),
            }
        };
        let has = |key: &str| v.field(key).is_some_and(|f| !f.is_null());
        Ok(Some(RawSession {
            kind: string("kind")?,
            id: string("id")?,
            entity_id: string("entityId")?,
            status: string("status")?,
            session_url: string("sessionUrl")?,
            provider_session_url: string("providerSessionUrl")?,
            iframe_allow: string("iframeAllow")?,
            rejection_code: string("rejectionCode")?,
            rejection_message: string("rejectionMessage")?,
            updated_at: string("updatedAt")?,
            completed_at: string("completedAt")?,
            kyc_shaped: [
                "providerSessionUrl",
                "provider",
                "isCurrent",
                "integrationCode",
            ]
            .iter()
            .any(|k| has(k)),
            biometric_shaped: ["sessionUrl", "mode", "hostedSessionId"]
                .iter()
                .any(|k| has(k)),
        }))
    }
}

/// What kind of gu1 object a snapshot describes.
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

/// One field of a snapshot as JavaScript sees it: a string or `null`, or a boolean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Field<'a> {
    Str(Option<&'a str>),
    Bool(bool),
}

/// The normalised view of a proxy answer, handed to JavaScript as is.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub kind: Option<Kind>,
    pub id: Option<String>,
    pub entity_id: Option<String>,
    pub status: Status,
    pub terminal: bool,
    pub session_url: Option<String>,
    pub iframe_allow: Option<String>,
    pub rejection_code: Option<String>,
    pub rejection_message: Option<String>,
    pub updated_at: Option<String>,
    pub completed_at: Option<String>,
}

impl Snapshot {
    /// The snapshot's fields under their contract names, in the contract's order (what
    /// JavaScript receives as the Snapshot object).
    pub fn fields(&self) -> [(&'static str, Field<'_>); 11] {
        fn s(v: &Option<String>) -> Field<'_> {
            Field::Str(v.as_deref())
        }
        [
            ("kind", Field::Str(self.kind.map(Kind::as_str))),
            ("id", s(&self.id)),
            ("entityId", s(&self.entity_id)),
            ("status", Field::Str(Some(self.status.as_str()))),
            ("terminal", Field::Bool(self.terminal)),
            ("sessionUrl", s(&self.session_url)),
            ("iframeAllow", s(&self.iframe_allow)),
            ("rejectionCode", s(&self.rejection_code)),
            ("rejectionMessage", s(&self.rejection_message)),
            ("updatedAt", s(&self.updated_at)),
            ("completedAt", s(&self.completed_at)),
        ]
    }

    /// The snapshot for "no session yet".
    pub fn none() -> Snapshot {
        Snapshot {
            kind: None,
            id: None,
            entity_id: None,
            status: Status::None,
            terminal: false,
            session_url: None,
            iframe_allow: None,
            rejection_code: None,
            rejection_message: None,
            updated_at: None,
            completed_at: None,
        }
    }

    /// Normalises a parsed answer. `None` (JSON `null`) is "no session yet"; an object without a
    /// string `status` is not a session and yields `None` from this function's `Err` side.
    pub fn from_raw(raw: Option<RawSession>) -> Result<Snapshot, &'static str> {
        let Some(raw) = raw else {
            return Ok(Snapshot::none());
        };
        let status = match raw.status.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Status::parse(s),
            _ => return Err("the answer has no status"),
        };
        let kind = match raw.kind.as_deref() {
            Some("kyc") => Some(Kind::Kyc),
            Some("biometric") => Some(Kind::Biometric),
            _ if raw.kyc_shaped => Some(Kind::Kyc),
            _ if raw.biometric_shaped => Some(Kind::Biometric),
            _ => None,
        };
        let terminal = status.is_terminal();
        let non_empty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        Ok(Snapshot {
            kind,
            id: raw.id,
            entity_id: raw.entity_id,
            terminal,
            session_url: non_empty(raw.session_url).or_else(|| non_empty(raw.provider_session_url)),
            iframe_allow: non_empty(raw.iframe_allow),
            rejection_code: raw.rejection_code,
            rejection_message: raw.rejection_message,
            updated_at: raw.updated_at,
            completed_at: raw.completed_at,
            status,
        })
    }

    /// Whether moving from `self` to `next` is a change worth a `gu1kyc:status` event.
    pub fn differs(&self, next: &Snapshot) -> bool {
        self.status != next.status || self.id != next.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Snapshot, &'static str> {
        let v: serde_json::Value = serde_json::from_str(json).expect("valid json");
        Snapshot::from_raw(RawSession::read(&v)?)
    }

    #[test]
    fn known_statuses_parse_and_classify() {
        let active = ["pending", "in_progress", "in_review"];
        let terminal = ["approved", "rejected", "cancelled", "expired", "abandoned"];
        for s in active {
            let st = Status::parse(s);
            assert_eq!(st.as_str(), s);
            assert!(!st.is_terminal(), "{s}");
            assert!(!matches!(st, Status::Unknown(_)));
        }
        for s in terminal {
            let st = Status::parse(s);
            assert_eq!(st.as_str(), s);
            assert!(st.is_terminal(), "{s}");
        }
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
    fn null_is_no_session() {
        let s = parse("null").unwrap();
        assert_eq!(s, Snapshot::none());
        assert_eq!(s.status.as_str(), "none");
        assert!(!s.terminal);
    }

    #[test]
    fn biometric_session_normalises() {
        let s = parse(
            r#"{"id":"b1","entityId":"e1","organizationId":"o","status":"pending","mode":"face_match",
                "sessionUrl":"https://verify.example/s/1","iframeAllow":"camera; microphone",
                "hostedSessionId":"h","rejectionCode":null,"createdAt":"2026-01-01T00:00:00Z",
                "updatedAt":"2026-01-01T00:00:01Z","completedAt":null}"#,
        )
        .unwrap();
        assert_eq!(s.kind, Some(Kind::Biometric));
        assert_eq!(s.id.as_deref(), Some("b1"));
        assert_eq!(s.entity_id.as_deref(), Some("e1"));
        assert_eq!(s.status, Status::Pending);
        assert_eq!(s.session_url.as_deref(), Some("https://verify.example/s/1"));
        assert_eq!(s.iframe_allow.as_deref(), Some("camera; microphone"));
        assert_eq!(s.updated_at.as_deref(), Some("2026-01-01T00:00:01Z"));
    }

    #[test]
    fn kyc_validation_normalises_and_ignores_personal_data() {
        let s = parse(
            r#"{"id":"v1","entityId":"e1","sessionId":"x","status":"rejected","provider":"p",
                "providerSessionUrl":"https://kyc.example/v","isCurrent":false,
                "rejectionCode":"FACE_MATCH_SCORE_LOW","rejectionMessage":"low score",
                "decision":{"a":[1,2,3]},"extractedData":{"name":"N"},"completedAt":"t"}"#,
        )
        .unwrap();
        assert_eq!(s.kind, Some(Kind::Kyc));
        assert!(s.terminal);
        assert_eq!(s.session_url.as_deref(), Some("https://kyc.example/v"));
        assert_eq!(s.rejection_code.as_deref(), Some("FACE_MATCH_SCORE_LOW"));
        assert_eq!(s.rejection_message.as_deref(), Some("low score"));
        assert_eq!(s.completed_at.as_deref(), Some("t"));
    }

    #[test]
    fn explicit_kind_wins() {
        let s = parse(r#"{"kind":"kyc","status":"pending","sessionUrl":"https://a.example/"}"#)
            .unwrap();
        assert_eq!(s.kind, Some(Kind::Kyc));
        let s = parse(r#"{"kind":"other","status":"pending"}"#).unwrap();
        assert_eq!(s.kind, None);
    }

    #[test]
    fn answer_without_status_is_not_a_session() {
        assert!(parse(r#"{"id":"x"}"#).is_err());
        assert!(parse(r#"{"status":"  "}"#).is_err());
        assert!(parse(r#"{"status":5}"#).is_err());
        assert!(parse(r#"{"status":"pending","id":7}"#).is_err());
        assert!(parse(r#"[{"status":"pending"}]"#).is_err());
        assert!(parse(r#""pending""#).is_err());
        assert!(parse(r#"{"status":"pending","decision":{"x":1.5},"isCurrent":true}"#).is_ok());
    }

    #[test]
    fn blank_urls_are_absent() {
        let s =
            parse(r#"{"status":"approved","sessionUrl":"","providerSessionUrl":null}"#).unwrap();
        assert_eq!(s.session_url, None);
    }

    #[test]
    fn change_detection_uses_status_and_id() {
        let a = parse(r#"{"id":"1","status":"pending","updatedAt":"a"}"#).unwrap();
        let b = parse(r#"{"id":"1","status":"pending","updatedAt":"b"}"#).unwrap();
        let c = parse(r#"{"id":"2","status":"pending"}"#).unwrap();
        let d = parse(r#"{"id":"1","status":"in_progress"}"#).unwrap();
        assert!(!a.differs(&b));
        assert!(a.differs(&c));
        assert!(a.differs(&d));
        assert!(Snapshot::none().differs(&a));
    }

    #[test]
    fn snapshot_fields_carry_contract_names() {
        let s = parse(r#"{"id":"1","status":"in_review","kind":"biometric"}"#).unwrap();
        let fields = s.fields();
        let keys: Vec<_> = fields.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
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
            ]
        );
        let get = |k: &str| fields.iter().find(|(n, _)| *n == k).unwrap().1;
        assert_eq!(get("status"), Field::Str(Some("in_review")));
        assert_eq!(get("kind"), Field::Str(Some("biometric")));
        assert_eq!(get("id"), Field::Str(Some("1")));
        assert_eq!(get("terminal"), Field::Bool(false));
        assert_eq!(get("rejectionCode"), Field::Str(None));
        assert_eq!(Snapshot::none().fields()[0].1, Field::Str(None));
        assert_eq!(Snapshot::none().fields()[3].1, Field::Str(Some("none")));
    }
}
