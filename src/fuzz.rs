//! Property tests over the parsers that read untrusted input: proxy answers, hosted-page
//! messages, `Retry-After`, permission lists and options. Each property runs on generated
//! inputs (`PROPTEST_CASES`, default 256; CI runs more) and must never panic.

use proptest::prelude::*;
use serde_json::Value as Json;

use crate::frame::{check_allow, filter_allow, KNOWN_FEATURES};
use crate::messages::{is_hint, message_type};
use crate::options::{
    check_height, check_number, check_title, session_url_policy, Num, UrlParts, POLL_INTERVAL,
};
use crate::poll::{backoff_ms, next_interval, parse_retry_after, MAX_RETRY_AFTER_MS};
use crate::status::{RawSession, Snapshot, Status};

fn json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        prop_oneof![
            ".*",
            "(pending|in_progress|approved|rejected|cancelled|expired|abandoned|Resubmitted|IN_REVIEW)",
            "didit:[a-z_]{0,20}",
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

proptest! {
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
    fn any_answer_reads_to_a_snapshot_or_an_error(v in json()) {
        if let Ok(raw) = RawSession::read(&v) {
            if let Ok(snap) = Snapshot::from_raw(raw) {
                prop_assert_eq!(snap.terminal, snap.status.is_terminal());
                prop_assert!(snap.session_url.as_deref().map_or(true, |u| !u.trim().is_empty()));
            }
        }
    }

    #[test]
    fn any_message_gives_a_short_type_or_nothing(v in json(), as_text in any::<bool>()) {
        let v = if as_text { Json::String(v.to_string()) } else { v };
        if let Some(t) = message_type(&v) {
            prop_assert!(t.len() <= 64);
            let _ = is_hint(&t);
        }
    }

    #[test]
    fn permission_lists_only_ever_name_known_features(s in ".*", t in "((camera|microphone|usb|payment|fullscreen|autoplay)[ *']*;? ?){0,8}") {
        for input in [&s, &t] {
            let out = filter_allow(Some(input));
            prop_assert!(!out.is_empty());
            for f in out.split("; ") {
                prop_assert!(KNOWN_FEATURES.contains(&f), "{}", f);
            }
            if let Ok(ok) = check_allow(input) {
                for f in ok.split("; ") {
                    prop_assert!(KNOWN_FEATURES.contains(&f));
                }
            }
        }
    }

    #[test]
    fn retry_after_is_bounded(s in ".*", date in "(Mon|Sun), [0-3][0-9] (Jan|Feb|Nov|Foo) [0-9]{4} [0-2][0-9]:[0-5][0-9]:[0-6][0-9] GMT", now in any::<f64>()) {
        for v in [&s, &date] {
            if let Some(ms) = parse_retry_after(v, now) {
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
    fn option_checks_never_panic(n in any::<f64>(), h in ".*", t in ".*", px in any::<f64>()) {
        if let Ok(v) = check_number("pollIntervalMs", Num::Number(n), POLL_INTERVAL) {
            prop_assert!((POLL_INTERVAL.min..=POLL_INTERVAL.max).contains(&v));
        }
        if let Ok(v) = check_height(Some(Ok(h))) {
            prop_assert!(!v.contains(';') && !v.contains('"') && !v.contains('<') && !v.contains(':'));
        }
        let _ = check_height(Some(Err(px)));
        let _ = check_title(Some(t));
    }

    #[test]
    fn only_https_or_loopback_http_is_mountable(p in "(https?|javascript|data|blob|file|ftp):", h in "[a-z0-9.\\[\\]:]{0,20}", u in "[a-z]{0,2}", w in "[a-z]{0,2}") {
        let ok = session_url_policy(UrlParts { protocol: &p, hostname: &h, username: &u, password: &w }).is_ok();
        if ok {
            prop_assert!(u.is_empty() && w.is_empty());
            prop_assert!(p == "https:" || ["localhost", "127.0.0.1", "[::1]"].contains(&h.as_str()));
        }
    }
}
