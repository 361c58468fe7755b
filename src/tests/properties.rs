//! Property tests over the parsers that read untrusted input: proxy answers, hosted-page
//! messages, `Retry-After`, permission lists and options. Each property runs on generated
//! inputs (`PROPTEST_CASES`, default 256; CI runs more) and must never panic.

use proptest::prelude::*;
use serde_json::Value as Json;

use crate::machine::{backoff_ms, next_interval};
use crate::messages::{message_type, read, Name};
use crate::options::{check_height, check_number, check_title, Given, NUMBERS};
use crate::permissions::{check, filter, render, KNOWN_FEATURES};
use crate::status::{read_answer, retry_after, Status, MAX_RETRY_AFTER_MS};
use crate::url::{session_url_policy, UrlParts};

fn json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        prop_oneof![
            ".*",
            "(pending|in_progress|approved|rejected|cancelled|expired|abandoned|Resubmitted|IN_REVIEW)",
            "didit:[a-z_]{0,20}",
            "(didit|gu1|x|):(started|status_updated|verification_submitted|completed|cancelled|error|ready|step_started)",
            "https?://[a-z0-9.:]{1,20}/[a-z]{0,8}",
        ]
        .prop_map(Json::String),
    ];
    let keys = prop_oneof![
        Just("type".to_owned()),
        Just("data".to_owned()),
        Just("status".to_owned()),
        Just("id".to_owned()),
        Just("sessionUrl".to_owned()),
        Just("providerSessionUrl".to_owned()),
        Just("iframeAllow".to_owned()),
        Just("kind".to_owned()),
        Just("entityId".to_owned()),
        Just("rejectionCode".to_owned()),
        Just("completedAt".to_owned()),
        Just("__proto__".to_owned()),
        Just("constructor".to_owned()),
        "[a-zA-Z]{1,12}",
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..8)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// A message whose `type` sits under 0 to 5 levels of `data` objects or JSON strings.
fn wrapped() -> impl Strategy<Value = Json> {
    let core = "(didit|gu1):(completed|ready|error)".prop_map(|t| serde_json::json!({ "type": t }));
    (core, prop::collection::vec(any::<bool>(), 0..6)).prop_map(|(mut v, levels)| {
        for as_text in levels {
            v = if as_text {
                Json::String(v.to_string())
            } else {
                serde_json::json!({ "data": v })
            };
        }
        v
    })
}

/// The rules of `read_answer`, written out again: `null` is no session; otherwise an object
/// whose read fields are strings or null, with a non-blank `status`.
#[allow(clippy::type_complexity)]
fn expected_reading(v: &Json) -> Result<Option<(String, Option<String>, Option<String>)>, ()> {
    let Some(o) = v.as_object() else {
        return if v.is_null() { Ok(None) } else { Err(()) };
    };
    const READ: [&str; 11] = [
        "id",
        "entityId",
        "rejectionCode",
        "rejectionMessage",
        "updatedAt",
        "completedAt",
        "status",
        "kind",
        "sessionUrl",
        "providerSessionUrl",
        "iframeAllow",
    ];
    if READ
        .iter()
        .any(|k| o.get(*k).is_some_and(|f| !f.is_null() && !f.is_string()))
    {
        return Err(());
    }
    let text = |k: &str| {
        o.get(k)
            .and_then(Json::as_str)
            .filter(|s| !s.trim_ascii().is_empty())
            .map(str::to_owned)
    };
    let status = text("status").ok_or(())?;
    let url = text("sessionUrl").or_else(|| text("providerSessionUrl"));
    Ok(Some((status, url, text("iframeAllow"))))
}

/// The rules of `message_type`, written out again: a string is parsed when it looks like a
/// JSON object and is at most 64 KiB; an object's string `type` (at most 64 bytes) wins,
/// else its `data` is looked into; three levels of unwrapping at most.
fn expected_type(v: &Json, depth: u8) -> Option<String> {
    if depth > 3 {
        return None;
    }
    match v {
        Json::String(s) => {
            if s.len() > 64 * 1024 || !s.trim_ascii_start().starts_with('{') {
                return None;
            }
            expected_type(&serde_json::from_str(s).ok()?, depth + 1)
        }
        Json::Object(o) => match o.get("type") {
            Some(Json::String(t)) => (t.len() <= 64).then(|| t.clone()),
            _ => expected_type(o.get("data")?, depth + 1),
        },
        _ => None,
    }
}

/// A hosted-page message as the real page might post one, stuffed with personal data: every
/// event of the vocabulary (and a few that are not), steps, media, channels and errors in
/// several spellings, and fields no step event may carry.
fn stuffed() -> impl Strategy<Value = Json> {
    let event = prop_oneof![
        "(didit|gu1):(ready|started|step_started|step_completed|step_changed|media_started|media_captured|document_selected|verification_submitted|code_sent|code_verified|status_updated|completed|cancelled|error|close_request|layout|submitted|other)",
        ".{0,20}",
    ];
    let word = prop_oneof![
        "(document_selection|document_front|DOCUMENT_CAPTURE_BACK|FACE_PASSIVE_LIVENESS|face|EMAIL|phone|poa|questionnaire|image/jpeg|video|sms|WhatsApp|email|cameraAccessDenied|NotReadableError|NotFoundError|sessionExpired|unknown)",
        "PII-[A-Za-z0-9 +@.:/-]{1,24}",
    ];
    let error = prop_oneof![
        word.clone().prop_map(Json::String),
        (word.clone(), word.clone())
            .prop_map(|(t, m)| serde_json::json!({ "type": t, "message": m })),
    ];
    (
        event,
        (word.clone(), word.clone(), word.clone(), word.clone()),
        (any::<Option<bool>>(), error, any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(t, (step, media, channel, pii), (auto, error, as_text, nested))| {
                let mut data = serde_json::json!({
                    "step": step, "mediaType": media, "channel": channel, "error": error,
                    "sessionId": pii, "entityId": pii, "country": pii, "documentType": pii,
                    "name": pii, "phone": pii, "message": pii, "url": pii, "contentHeight": 640,
                });
                if let Some(a) = auto {
                    data["isAuto"] = Json::Bool(a);
                }
                let mut v = serde_json::json!({ "type": t, "data": data, "timestamp": 1 });
                if nested {
                    v = serde_json::json!({ "data": v });
                }
                if as_text {
                    v = Json::String(v.to_string());
                }
                v
            },
        )
}

/// Whether a type is one of the six status hints, with either prefix, written out again.
fn expected_hint(t: &str) -> bool {
    const HINTS: [&str; 12] = [
        "didit:started",
        "didit:status_updated",
        "didit:verification_submitted",
        "didit:completed",
        "didit:cancelled",
        "didit:error",
        "gu1:started",
        "gu1:status_updated",
        "gu1:verification_submitted",
        "gu1:completed",
        "gu1:cancelled",
        "gu1:error",
    ];
    HINTS.contains(&t)
}

proptest! {
    // The step events' privacy property runs 10 000 messages whatever PROPTEST_CASES says.
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn step_events_carry_only_names_from_the_closed_lists(v in prop_oneof![stuffed(), json(), wrapped()]) {
        // The lists as the README documents them, written out again.
        const NAMES: [&str; 16] = [
            "ready", "started", "step_started", "step_completed", "step_changed",
            "media_started", "media_captured", "document_selected", "submitted", "code_sent",
            "code_verified", "status_updated", "completed", "cancelled", "error", "close_request",
        ];
        const STEPS: [&str; 9] = [
            "document_selection", "document_front", "document_back", "face", "email", "phone",
            "poa", "questionnaire", "other",
        ];
        const MEDIA: [&str; 3] = ["image", "video", "other"];
        const CHANNELS: [&str; 4] = ["email", "sms", "whatsapp", "other"];
        const CODES: [&str; 7] = [
            "sessionExpired", "networkError", "cameraAccessDenied", "cameraNotReadable",
            "cameraNotFound", "unknown", "other",
        ];
        let Some(m) = read(&v) else { return Ok(()) };
        if !m.is_step() {
            return Ok(());
        }
        let name = m.name.map(Name::as_str).unwrap_or_default();
        prop_assert!(NAMES.contains(&name), "name {:?}", name);
        for (value, list) in [
            (m.step, &STEPS[..]),
            (m.media, &MEDIA[..]),
            (m.channel, &CHANNELS[..]),
            (m.code, &CODES[..]),
        ] {
            if let Some(t) = value {
                prop_assert!(list.contains(&t), "{:?} not in {:?} ({})", t, list, v);
            }
        }
        prop_assert!(
            m.code.is_none() || m.name == Some(Name::Error),
            "a code for errors only"
        );
    }
}

proptest! {
    // Enough cases that objects with a status and a copied field of the wrong type turn up
    // (with the default 256, the check refusing them could go unnoticed).
    #![proptest_config(ProptestConfig { cases: 4_096, ..ProptestConfig::default() })]

    #[test]
    fn statuses_parse_without_panicking(s in ".*") {
        let st = Status::parse(&s);
        if let Status::Unknown(raw) = &st {
            prop_assert_eq!(raw, &s);
            prop_assert!(!st.is_terminal());
        } else {
            prop_assert_eq!(Status::parse(st.as_str()), st.clone());
        }
    }

    #[test]
    fn any_answer_reads_as_its_rules_say(v in json()) {
        match (read_answer(&v), expected_reading(&v)) {
            (Ok(None), Ok(None)) => {}
            (Ok(Some(a)), Ok(Some((status, url, allow)))) => {
                prop_assert_eq!(&a.status, &Status::parse(&status));
                prop_assert!(!matches!(a.status, Status::None));
                prop_assert_eq!(a.session_url, url);
                prop_assert_eq!(a.iframe_allow, allow);
            }
            (Err(why), Err(())) => prop_assert!(why.starts_with("the ")),
            (got, want) => prop_assert!(false, "{} read as {:?}, expected {:?}", v, got, want),
        }
    }

    #[test]
    fn any_message_gives_its_type_and_only_status_events_are_hints(
        v in prop_oneof![json(), wrapped()],
        as_text in any::<bool>(),
    ) {
        let v = if as_text { Json::String(v.to_string()) } else { v };
        let t = message_type(&v);
        prop_assert_eq!(&t, &expected_type(&v, 0));
        let hint = read(&v).is_some_and(|m| m.is_hint());
        prop_assert_eq!(hint, t.as_deref().is_some_and(expected_hint), "{:?}", t);
    }

    #[test]
    fn permission_lists_only_ever_name_known_features(s in ".*", t in "((camera|microphone|usb|payment|fullscreen|autoplay)[ *']*;? ?){0,8}") {
        for input in [&s, &t] {
            let out = render(filter(input));
            prop_assert!(!out.is_empty());
            for f in out.split("; ") {
                prop_assert!(KNOWN_FEATURES.contains(&f), "{}", f);
            }
            if let Ok(ok) = check(input) {
                for f in render(ok).split("; ") {
                    prop_assert!(KNOWN_FEATURES.contains(&f));
                }
            }
        }
    }

    #[test]
    fn retry_after_is_bounded(s in ".*", date in "(Mon|Sun), [0-3][0-9] (Jan|Feb|Nov|Foo) [0-9]{4} [0-2][0-9]:[0-5][0-9]:[0-6][0-9] GMT", now in any::<f64>()) {
        for v in [&s, &date] {
            if let Some(ms) = retry_after(v, now, |_| now + 1e12 * (now.sin())) {
                prop_assert!(ms <= MAX_RETRY_AFTER_MS);
            }
        }
    }

    #[test]
    fn schedule_is_bounded(base in 100u32..3_600_000, current in any::<u32>(), failures in any::<u32>(), jitter in any::<f64>(), changed in any::<bool>()) {
        let b = backoff_ms(base, failures, jitter);
        prop_assert!(b <= base.max(60_000));
        let n = next_interval(base, current, changed);
        prop_assert!(n >= base && n <= base.saturating_mul(4));
    }

    #[test]
    fn option_checks_accept_exactly_what_they_document(
        n in any::<f64>(),
        h in prop_oneof![".*", " ?[0-9a-z .%()+*/,;:<-]{0,70} ?"],
        t in prop_oneof![".*", " {0,3}", "[a-z ]{195,205}"],
        px in prop_oneof![any::<f64>(), -10.0f64..200_000.0],
    ) {
        if let Ok(v) = check_number(0, &Given::Num(n)) {
            prop_assert!((NUMBERS[0].2..=NUMBERS[0].3).contains(&v));
        }
        // A CSS length: at most 64 bytes once trimmed, of letters, digits and `.%()+-*/,` and
        // spaces; taken as trimmed.
        let trimmed = h.trim_ascii();
        let length = !trimmed.is_empty()
            && trimmed.len() <= 64
            && trimmed.bytes().all(|b| b.is_ascii_alphanumeric() || b" .%()+-*/,".contains(&b));
        match check_height(&Given::Str(h.clone())) {
            Ok(v) => {
                prop_assert!(length, "{:?} accepted", h);
                prop_assert_eq!(v, trimmed);
            }
            Err(e) => prop_assert!(!length && e.message.starts_with("height "), "{:?} refused", h),
        }
        // Pixels: a finite number in (0, 100 000], rounded.
        match check_height(&Given::Num(px)) {
            Ok(v) => {
                prop_assert!(px.is_finite() && px > 0.0 && px <= 100_000.0, "{} accepted", px);
                prop_assert_eq!(v, format!("{}px", (px + 0.5).floor()));
            }
            Err(_) => prop_assert!(!(px > 0.0 && px <= 100_000.0), "{} refused", px),
        }
        // A title: not blank, at most 200 bytes, kept as given.
        match check_title(Some(t.clone())) {
            Ok(v) => {
                prop_assert!(!t.trim_ascii().is_empty() && t.len() <= 200, "{:?} accepted", t);
                prop_assert_eq!(v, t);
            }
            Err(_) => prop_assert!(t.trim_ascii().is_empty() || t.len() > 200, "{:?} refused", t),
        }
    }

    #[test]
    fn only_https_or_loopback_http_is_mountable(p in "(https?|javascript|data|blob|file|ftp):", h in "[a-z0-9.\\[\\]:]{0,20}", u in "[a-z]{0,2}", w in "[a-z]{0,2}") {
        let credentials = !u.is_empty() || !w.is_empty();
        let ok = session_url_policy(&UrlParts { protocol: p.as_str(), hostname: h.as_str(), credentials }).is_ok();
        if ok {
            prop_assert!(u.is_empty() && w.is_empty());
            prop_assert!(p == "https:" || ["localhost", "127.0.0.1", "[::1]"].contains(&h.as_str()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The machine under random input sequences, driven by a model of the driver that delivers only
// what a browser could (a timer fires at or after its time, an answer only for a request in
// flight, sometimes a stale one), and checks the invariants after every step.

mod sequences {
    use super::*;
    use crate::error::{Code, KycError};
    use crate::machine::{Action, Config, Input, Machine, Notice, Slot, Timer};
    use crate::status::{Answer, Session};
    use crate::url::SessionUrl;

    #[derive(Clone, Debug)]
    enum Step {
        Fire(usize),
        Answer(bool, u8, u8, u8, u8, u8),
        Token(bool, bool),
        Loaded,
        /// A hosted-page message: its event (an index into `Name::ALL`, past it none), whether
        /// an error is a camera failure, a layout height.
        Heard(u8, bool, f64),
        Visible(bool),
        Refresh,
        Cancel,
        Destroy,
        FrameFailed,
        Wait(u32),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0usize..5).prop_map(Step::Fire),
            8 => (any::<bool>(), 0u8..12, 0u8..3, 0u8..4, 0u8..4, 0u8..4).prop_map(|(s, a, b, c, d, e)| Step::Answer(s, a, b, c, d, e)),
            2 => (any::<bool>(), any::<bool>()).prop_map(|(s, ok)| Step::Token(s, ok)),
            1 => Just(Step::Loaded),
            4 => (0u8..20, any::<bool>(), -100.0f64..9_000.0).prop_map(|(n, c, h)| Step::Heard(n, c, h)),
            2 => any::<bool>().prop_map(Step::Visible),
            2 => Just(Step::Refresh),
            1 => Just(Step::Cancel),
            1 => prop_oneof![9 => Just(Step::Wait(0)), 1 => Just(Step::Destroy)].prop_map(|s| s),
            1 => prop_oneof![19 => Just(Step::Wait(0)), 1 => Just(Step::FrameFailed)].prop_map(|s| s),
            3 => (0u32..20_000).prop_map(Step::Wait),
        ]
    }

    fn url(n: u8) -> SessionUrl {
        SessionUrl {
            href: format!("https://hosted.example/s/{n}"),
            origin: "https://hosted.example".into(),
        }
    }

    /// `flags`: bit 0 an `ETag`, bit 1 `Preference-Applied`.
    fn answer(a: u8, id: u8, u: u8, extra: u8, flags: u8) -> Answer {
        let statuses = [
            "none",
            "pending",
            "in_progress",
            "in_review",
            "Weird",
            "approved",
            "rejected",
            "expired",
        ];
        match a {
            0..=5 => Answer::Session(Session {
                status: if a == 0 {
                    Status::None
                } else {
                    Status::parse(statuses[(a + extra) as usize % statuses.len()])
                },
                id: Some(id.to_string()),
                url: match u {
                    0 => None,
                    3 => Some(Err(KycError::new(Code::UnsafeSessionUrl, "x"))),
                    n => Some(Ok(url(n))),
                },
                allow: crate::permissions::DEFAULT,
                tag: flags & 1 != 0,
                held: flags & 2 != 0,
            }),
            6 => Answer::Unauthorized,
            10 | 11 => Answer::Unchanged(flags & 2 != 0),
            _ => Answer::Failed {
                error: KycError::new(Code::ProxyError, "x"),
                http: [0, 409, 429, 503][extra as usize],
                retry_after_ms: (u > 0).then_some(u as u32 * 7_000),
            },
        }
    }

    /// What the model driver knows of the browser's state.
    #[derive(Default, Debug)]
    struct World {
        now: f64,
        /// Each timer's due time, when armed.
        timers: [Option<f64>; 5],
        /// The last step event's number, the times step events went out, fallbacks.
        seq: u32,
        step_times: Vec<f64>,
        fallbacks: u32,
        close_asked: bool,
        fetching: [bool; 2],
        refreshing: [bool; 2],
        frame: bool,
        hidden: bool,
        settled: u32,
        completes: u32,
        ended: bool,
        destroyed: bool,
        /// `cancel()` calls not yet settled.
        cancels: i32,
        quiet_until: f64,
        terminal_kept: bool,
        /// The last status answer carried an `ETag`; a waiting request failed without one.
        tagged: bool,
        no_wait: bool,
        /// The status request in flight waits; when it was sent.
        waiting: bool,
        sent: f64,
        /// After a held answer, no timed poll before this.
        not_before: f64,
        /// The request timer the last fetch must arm.
        expect_timer: Option<(Timer, u32)>,
    }

    fn run(cfg: Config, steps: Vec<Step>) -> Result<(), TestCaseError> {
        let mut m = Machine::new(cfg.clone(), 0.0);
        let mut w = World::default();
        let feed = |m: &mut Machine,
                    w: &mut World,
                    input: Input,
                    jitter: f64|
         -> Result<(), TestCaseError> {
            let quiet_answer = match &input {
                Input::Answered(
                    Slot::Status,
                    Answer::Failed {
                        retry_after_ms: Some(r),
                        ..
                    },
                ) if w.fetching[0] => Some(*r),
                _ => None,
            };
            let kept_terminal = matches!(&input, Input::Answered(slot, Answer::Session(s)) if w.fetching[*slot as usize] && s.status.is_terminal());
            let was_ended = w.ended;
            let is_destroy = input == Input::Destroy;
            let timed_poll = input == Input::Due(Timer::Poll);
            if w.fetching[0] {
                match &input {
                    Input::Answered(Slot::Status, a) => {
                        let held = w.waiting
                            && matches!(
                                a,
                                Answer::Unchanged(true)
                                    | Answer::Session(Session { held: true, .. })
                            );
                        w.not_before = if held {
                            w.sent + cfg.poll_ms as f64
                        } else {
                            0.0
                        };
                        if let Answer::Session(s) = a {
                            w.tagged = s.tag;
                        }
                        w.no_wait |= w.waiting && matches!(a, Answer::Failed { http: 0, .. });
                        w.waiting = false;
                    }
                    Input::Due(Timer::StatusRequest) => {
                        w.no_wait |= w.waiting;
                        w.not_before = 0.0;
                        w.waiting = false;
                    }
                    _ => {}
                }
            }
            if let Input::Visible(v) = input {
                w.hidden = !v;
            }
            if let Input::Answered(slot, Answer::Session(_)) = &input {
                if *slot == Slot::Status && w.fetching[0] {
                    w.quiet_until = 0.0;
                }
            }
            if let Input::Answered(slot, _) = &input {
                w.fetching[*slot as usize] = false;
            }
            if let Input::TokenRefreshed(slot, _) = &input {
                w.refreshing[*slot as usize] = false;
            }
            if let Input::Cancel = input {
                w.cancels += 1;
            }
            m.handle(input, w.now, jitter);
            if let Some(r) = quiet_answer {
                w.quiet_until = w.now + r.max(cfg.poll_ms) as f64;
            }
            let mut batch = vec![];
            while let Some(a) = m.poll_action() {
                batch.push(a);
            }
            let ends_here = batch.iter().any(|a| matches!(a, Action::Settle(_)));
            for a in &batch {
                if was_ended || ends_here {
                    prop_assert!(
                        !matches!(
                            a,
                            Action::Fetch(..)
                                | Action::RefreshToken(_)
                                | Action::Arm(..)
                                | Action::ShowFrame(..)
                                | Action::Navigate(_)
                        ),
                        "nothing starts at or after the end: {:?} in {:?}",
                        a,
                        batch
                    );
                }
                if was_ended {
                    prop_assert!(
                        matches!(a, Action::CancelDone(None)),
                        "after the end only cancel() answers: {:?}",
                        a
                    );
                }
                if is_destroy && !was_ended {
                    prop_assert!(
                        matches!(
                            a,
                            Action::Disarm(_)
                                | Action::Abort(_)
                                | Action::RemoveFrame
                                | Action::Settle(Err(_))
                                | Action::CancelDone(None)
                        ),
                        "destroy only releases: {:?}",
                        a
                    );
                }
                if let Some(t) = w.expect_timer.take() {
                    prop_assert_eq!(
                        a,
                        &Action::Arm(t.0, t.1),
                        "a request is timed, its wait included"
                    );
                }
                match a {
                    Action::Fetch(slot, wait) => {
                        let i = *slot as usize;
                        prop_assert!(
                            !w.fetching[i] && !w.refreshing[i],
                            "one request in flight per slot"
                        );
                        if *slot == Slot::Status {
                            prop_assert!(!w.hidden, "no poll while hidden");
                            prop_assert!(
                                w.now >= w.quiet_until,
                                "no poll before the quiet time ({} < {})",
                                w.now,
                                w.quiet_until
                            );
                            let may_wait = w.tagged && !w.no_wait;
                            prop_assert_eq!(
                                *wait,
                                if may_wait { cfg.wait_s } else { 0 },
                                "waits only after an ETag, until one overran"
                            );
                            if timed_poll {
                                prop_assert!(
                                    w.now >= w.not_before,
                                    "after a held answer, a poll interval between requests"
                                );
                            }
                            w.waiting = *wait > 0;
                            w.sent = w.now;
                        } else {
                            prop_assert_eq!(*wait, 0);
                        }
                        let timer = if *slot == Slot::Status {
                            Timer::StatusRequest
                        } else {
                            Timer::CancelRequest
                        };
                        w.expect_timer = Some((timer, cfg.request_timeout_ms + wait * 1_000));
                        w.fetching[i] = true;
                    }
                    Action::RefreshToken(slot) => {
                        let i = *slot as usize;
                        prop_assert!(!w.fetching[i] && !w.refreshing[i]);
                        w.refreshing[i] = true;
                    }
                    Action::Abort(slot) => {
                        if *slot == Slot::Status {
                            w.waiting = false;
                        }
                        w.fetching[*slot as usize] = false;
                        w.refreshing[*slot as usize] = false;
                    }
                    Action::Arm(t, ms) => w.timers[*t as usize] = Some(w.now + *ms as f64),
                    Action::Disarm(t) => w.timers[*t as usize] = None,
                    Action::ShowFrame(..) => {
                        prop_assert!(!w.frame, "one frame");
                        w.frame = true;
                    }
                    Action::Navigate(_) => prop_assert!(w.frame),
                    Action::RemoveFrame => w.frame = false,
                    Action::Keep => {
                        prop_assert!(!w.terminal_kept, "no status after a terminal one");
                    }
                    Action::Emit(Notice::Complete) => w.completes += 1,
                    Action::Emit(Notice::Step(e)) => {
                        prop_assert!(
                            e.seq > w.seq,
                            "step numbers grow: {} after {}",
                            e.seq,
                            w.seq
                        );
                        w.seq = e.seq;
                        prop_assert!(e.message.is_step());
                        let recent = w
                            .step_times
                            .iter()
                            .filter(|t| w.now - **t < 1_000.0)
                            .count();
                        prop_assert!(recent < 20, "at most 20 step events in any second");
                        w.step_times.push(w.now);
                    }
                    Action::Emit(Notice::Status) => prop_assert!(!w.terminal_kept || ends_here),
                    Action::Emit(_) => {}
                    Action::Settle(r) => {
                        w.settled += 1;
                        prop_assert!(w.settled == 1, "completed settles at most once");
                        if is_destroy {
                            prop_assert!(matches!(r, Err(e) if e.code == Code::Destroyed));
                        }
                        w.ended = true;
                    }
                    Action::CancelDone(_) => {
                        w.cancels -= 1;
                        prop_assert!(w.cancels >= 0, "cancel() settles once per call");
                    }
                    Action::Fallback(_) => {
                        w.fallbacks += 1;
                        prop_assert!(
                            cfg.frame_fallback && w.fallbacks == 1,
                            "one fallback, inline only"
                        );
                    }
                    Action::Close => prop_assert!(w.close_asked, "closed only when asked"),
                    Action::Resize(px) => {
                        prop_assert!(cfg.auto_height, "resized only with height: auto");
                        prop_assert!((200..=4_000).contains(px), "height {} within 200..4000", px);
                    }
                }
            }
            if kept_terminal {
                w.terminal_kept = true;
            }
            if is_destroy {
                w.destroyed = true;
            }
            prop_assert_eq!(w.completes, u32::from(w.ended && w.terminal_kept));
            prop_assert_eq!(m.ended(), w.ended);
            if w.ended {
                prop_assert!(
                    w.timers.iter().all(Option::is_none),
                    "every timer fired or was disarmed: {:?}",
                    w.timers
                );
                prop_assert!(
                    !w.fetching.iter().chain(&w.refreshing).any(|b| *b),
                    "nothing in flight after the end"
                );
                prop_assert!(!w.frame, "no frame after the end");
                prop_assert_eq!(w.cancels, 0, "every cancel() settled by the end");
            }
            Ok(())
        };

        feed(&mut m, &mut w, Input::Start, 0.5)?;
        for (n, s) in steps.into_iter().enumerate() {
            let jitter = (n % 7) as f64 / 7.0;
            let input = match s {
                Step::Fire(i) => match w.timers[i] {
                    Some(at) => {
                        w.now = w.now.max(at);
                        w.timers[i] = None;
                        Input::Due(Timer::ALL[i])
                    }
                    None => continue,
                },
                Step::Answer(stale, a, id, u, extra, flags) => {
                    let slot = if a % 2 == 0 && w.fetching[1] {
                        Slot::Cancel
                    } else {
                        Slot::Status
                    };
                    if !stale && !w.fetching[slot as usize] {
                        continue;
                    }
                    Input::Answered(slot, answer(a, id, u, extra, flags))
                }
                Step::Token(cancel, ok) => {
                    Input::TokenRefreshed(if cancel { Slot::Cancel } else { Slot::Status }, ok)
                }
                Step::Loaded => Input::FrameLoaded,
                Step::Heard(n, camera, h) => {
                    use crate::messages::{Message, Name};
                    let name = Name::ALL.get(n as usize).copied();
                    w.close_asked |= name == Some(Name::CloseRequest);
                    Input::Heard(Message {
                        name,
                        code: (name == Some(Name::Error)).then_some(if camera {
                            "cameraNotFound"
                        } else {
                            "other"
                        }),
                        height: (name == Some(Name::Layout)).then_some(h),
                        ..Message::default()
                    })
                }
                Step::Visible(v) => Input::Visible(v),
                Step::Refresh => Input::Refresh,
                Step::Cancel => Input::Cancel,
                Step::Destroy => Input::Destroy,
                Step::FrameFailed if w.frame => Input::FrameFailed,
                Step::FrameFailed => continue,
                Step::Wait(ms) => {
                    w.now += ms as f64;
                    continue;
                }
            };
            feed(&mut m, &mut w, input, jitter)?;
        }
        // Whatever happened, destroy leaves nothing behind and answers every pending cancel.
        feed(&mut m, &mut w, Input::Destroy, 0.5)?;
        prop_assert!(w.ended && w.settled == 1);
        Ok(())
    }

    fn config() -> impl Strategy<Value = Config> {
        (
            100u32..5_000,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            100u32..20_000,
            prop_oneof![Just(0u32), 1u32..30],
            (
                prop_oneof![Just(0u32), 1_000u32..5_000],
                any::<bool>(),
                any::<bool>(),
            ),
        )
            .prop_map(
                |(
                    poll_ms,
                    pinned,
                    can_refresh,
                    can_cancel,
                    request_timeout_ms,
                    wait_s,
                    (ready, fall, auto),
                )| Config {
                    poll_ms,
                    timeout_ms: 600_000,
                    request_timeout_ms,
                    wait_s,
                    session_url: pinned.then(|| url(1)),
                    allow: None,
                    can_refresh,
                    can_cancel,
                    ready_timeout_ms: ready,
                    frame_fallback: fall,
                    auto_height: auto,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

        #[test]
        fn invariants_hold_after_every_step(cfg in config(), steps in prop::collection::vec(step(), 0..80)) {
            run(cfg, steps)?;
        }
    }
}
