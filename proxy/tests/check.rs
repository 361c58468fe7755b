//! `gu1-kyc-proxy check` against our proxy (upstream mode in front of the simulated gu1 API:
//! everything passes) and against a stand-in implementation of the browser endpoints that is
//! right in every way but one, for each of its flaws (that one check fails, with its reason).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use gu1_kyc_proxy::check::{self, Outcome, Target, Verdict};
use gu1_kyc_proxy::limit::Limiter;
use gu1_kyc_proxy::middleware::Origins;
use gu1_kyc_proxy::routes;
use gu1_kyc_proxy::sim::{self, Simulate, SIM_API_KEY};
use gu1_kyc_proxy::state::App;
use gu1_kyc_proxy::token::{self, Claims, Kind, Tokens};
use gu1_kyc_proxy::upstream::Upstream;
use serde_json::{json, Value};

mod support;
use support::serve;

const ORIGIN: &str = "https://shop.example";
const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJlIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";

fn target(addr: SocketAddr, token: &str) -> Target {
    Target {
        status_url: format!("http://{addr}/kyc/status"),
        token: token.into(),
        cancel_url: Some(format!("http://{addr}/kyc/cancel")),
        origin: Some(ORIGIN.into()),
        burst: 40,
    }
}

fn failures(outcomes: &[Outcome]) -> Vec<(&'static str, String)> {
    outcomes
        .iter()
        .filter_map(|o| match &o.verdict {
            Verdict::Fail(why) => Some((o.name, why.clone())),
            _ => None,
        })
        .collect()
}

/// Our proxy in upstream mode in front of the simulator's gu1 API, with a KYC entity whose
/// validation has started (or not) and a token for it.
async fn our_proxy(start: bool) -> (SocketAddr, String) {
    let s = Simulate::new(
        "http://127.0.0.1:9",
        Tokens::shared_secret(b"sim-secret"),
        Duration::from_secs(1800),
        |_| {},
    );
    let gu1 = serve(sim::router(Arc::new(s))).await;
    let up = Upstream::new(
        &format!("http://{gu1}"),
        SIM_API_KEY.into(),
        Duration::from_secs(2),
    )
    .unwrap();
    let mut app = App::new(
        Arc::new(up),
        Tokens::shared_secret(b"check-test-secret-0123"),
    );
    app.origins = Origins::List(vec![ORIGIN.into()]);
    app.limiter = Limiter::new(5.0, 20.0);
    let proxy = serve(routes::router(Arc::new(app))).await;
    let created: Value = reqwest::Client::new()
        .post(format!("http://{gu1}/__control/sessions"))
        .json(&json!({"kind": "kyc", "start": start}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims = Claims {
        entity_id: created["entityId"].as_str().unwrap().into(),
        kind: Kind::Kyc,
        session_id: None,
        expires: token::unix_now() + 300,
    };
    let tok = token::mint(&claims, token::DEFAULT_AUDIENCE, b"check-test-secret-0123");
    (proxy, tok)
}

#[tokio::test]
async fn our_proxy_passes_every_check() {
    for start in [true, false] {
        let (proxy, tok) = our_proxy(start).await;
        let outcomes = check::run(&target(proxy, &tok)).await;
        let table = check::table(&outcomes);
        assert!(check::all_passed(&outcomes), "{table}");
        // Without a session (KYC: 404) there is no ETag to send back: only that is skipped.
        assert!(
            outcomes
                .iter()
                .all(|o| o.verdict == Verdict::Pass || !start && o.name.contains("If-None-Match")),
            "nothing else skipped: {table}"
        );
        if start {
            let blocking = outcomes
                .iter()
                .find(|o| o.name.contains("If-None-Match"))
                .unwrap();
            assert!(blocking.note.contains("held"), "{table}");
        }
        let rate = outcomes
            .iter()
            .find(|o| o.name.starts_with("rate limit"))
            .unwrap();
        assert!(
            rate.note.starts_with("429 RATE_LIMITED"),
            "the limit was reached: {table}"
        );
        println!("{table}");
    }
}

/// How a stand-in implementation gets the contract wrong.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Flaw {
    #[default]
    None,
    PersonalData,
    NoStoreMissing,
    NoTokenNeeded,
    AnyTokenAccepted,
    WildcardCors,
    RetryAfterNotExposed,
    NotFoundWithoutCode,
    HtmlBody,
    StatusNotAString,
    TerminalWithUrl,
    RetryAfterMissing,
    RetryAfterGarbled,
    CancelWithoutToken,
    /// Sends an ETag but answers 200 to If-None-Match naming it.
    EtagIgnored,
    /// No ETag at all: blocking requests not offered, which is allowed.
    NoEtag,
}

struct StandIn {
    flaw: Flaw,
    requests: AtomicUsize,
}

async fn stand_in(
    State(s): State<Arc<StandIn>>,
    method: Method,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let flaw = s.flaw;
    let origin = headers
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o == ORIGIN);
    let mut out = HeaderMap::new();
    if let Some(o) = origin {
        let allow = if flaw == Flaw::WildcardCors { "*" } else { o };
        out.insert("access-control-allow-origin", allow.parse().unwrap());
        if flaw != Flaw::RetryAfterNotExposed {
            out.insert(
                "access-control-expose-headers",
                "Retry-After".parse().unwrap(),
            );
        }
    }
    let cache = if flaw == Flaw::NoStoreMissing {
        "no-cache"
    } else {
        "no-store"
    };
    out.insert("cache-control", cache.parse().unwrap());
    if method == Method::OPTIONS {
        out.insert("access-control-allow-methods", "GET, POST".parse().unwrap());
        out.insert(
            "access-control-allow-headers",
            "Authorization, Content-Type".parse().unwrap(),
        );
        return (StatusCode::NO_CONTENT, out).into_response();
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cancel = uri.path() == "/kyc/cancel";
    let accepted = match bearer {
        None => {
            flaw == Flaw::NoTokenNeeded && !cancel || flaw == Flaw::CancelWithoutToken && cancel
        }
        Some(t) => t == TOKEN || flaw == Flaw::AnyTokenAccepted,
    };
    if !accepted {
        let body = json!({"code": "UNAUTHORIZED", "message": "no"}).to_string();
        out.insert("content-type", "application/json".parse().unwrap());
        return (StatusCode::UNAUTHORIZED, out, body).into_response();
    }
    if cancel {
        return (
            StatusCode::CONFLICT,
            out,
            json!({"code": "SESSION_TERMINAL", "message": "x"}).to_string(),
        )
            .into_response();
    }
    if s.requests.fetch_add(1, Ordering::SeqCst) >= 10 {
        match flaw {
            Flaw::RetryAfterMissing => {}
            Flaw::RetryAfterGarbled => {
                out.insert("retry-after", "in a moment".parse().unwrap());
            }
            _ => {
                out.insert("retry-after", "2".parse().unwrap());
            }
        }
        let body = json!({"code": "RATE_LIMITED", "message": "slow down"}).to_string();
        return (StatusCode::TOO_MANY_REQUESTS, out, body).into_response();
    }
    if flaw != Flaw::NoEtag {
        out.insert("etag", "\"v1\"".parse().unwrap());
        let matches = headers
            .get("if-none-match")
            .is_some_and(|v| v.to_str().unwrap_or_default() == "\"v1\"");
        if matches && flaw != Flaw::EtagIgnored {
            return (StatusCode::NOT_MODIFIED, out).into_response();
        }
    }
    let mut session = json!({"kind": "biometric", "id": "bio_1", "entityId": "ent_1", "status": "pending",
        "sessionUrl": "https://hosted.example/session/bio_1", "iframeAllow": "camera; microphone",
        "rejectionCode": null, "updatedAt": "2026-11-23T10:00:00Z"});
    let (status, body) = match flaw {
        Flaw::PersonalData => {
            session["extractedData"] = json!({"firstName": "Ada"});
            (StatusCode::OK, session.to_string())
        }
        Flaw::NotFoundWithoutCode => (
            StatusCode::NOT_FOUND,
            json!({"error": "not found"}).to_string(),
        ),
        Flaw::HtmlBody => {
            out.insert("content-type", "text/html".parse().unwrap());
            return (StatusCode::OK, out, "<html><body>ok</body></html>").into_response();
        }
        Flaw::StatusNotAString => {
            session["status"] = json!(3);
            (StatusCode::OK, session.to_string())
        }
        Flaw::TerminalWithUrl => {
            session["status"] = json!("approved");
            (StatusCode::OK, session.to_string())
        }
        _ => (StatusCode::OK, session.to_string()),
    };
    out.insert("content-type", "application/json".parse().unwrap());
    (status, out, body).into_response()
}

async fn serve_stand_in(flaw: Flaw) -> SocketAddr {
    let state = Arc::new(StandIn {
        flaw,
        requests: AtomicUsize::new(0),
    });
    serve(
        Router::new()
            .route("/kyc/status", any(stand_in))
            .route("/kyc/cancel", any(stand_in))
            .with_state(state),
    )
    .await
}

#[tokio::test]
async fn a_stand_in_without_flaws_passes_and_each_flaw_fails_its_check_with_its_reason() {
    let clean = check::run(&target(serve_stand_in(Flaw::None).await, TOKEN)).await;
    assert!(check::all_passed(&clean), "{}", check::table(&clean));
    // Not offering blocking requests is allowed: that check is skipped, nothing fails.
    let plain = check::run(&target(serve_stand_in(Flaw::NoEtag).await, TOKEN)).await;
    assert!(check::all_passed(&plain), "{}", check::table(&plain));
    assert!(
        plain
            .iter()
            .any(|o| o.name.contains("If-None-Match") && matches!(o.verdict, Verdict::Skip(_))),
        "{}",
        check::table(&plain)
    );
    let cases = [
        (
            Flaw::PersonalData,
            "status answer: no personal data",
            "extractedData",
        ),
        (
            Flaw::NoStoreMissing,
            "status answer: Cache-Control: no-store",
            "no-cache",
        ),
        (
            Flaw::NoTokenNeeded,
            "status: 401 without a token",
            "instead of 401",
        ),
        (
            Flaw::AnyTokenAccepted,
            "status: 401 with a tampered token",
            "instead of 401",
        ),
        (
            Flaw::WildcardCors,
            "status: CORS preflight for the origin",
            "`*`",
        ),
        (
            Flaw::RetryAfterNotExposed,
            "status: CORS on the answer",
            "Expose-Headers",
        ),
        (
            Flaw::NotFoundWithoutCode,
            "status answer: shape the client reads",
            "NOT_FOUND",
        ),
        (
            Flaw::HtmlBody,
            "status answer: shape the client reads",
            "not JSON",
        ),
        (
            Flaw::StatusNotAString,
            "status answer: shape the client reads",
            "`status`",
        ),
        (
            Flaw::TerminalWithUrl,
            "status answer: shape the client reads",
            "approved session still carries",
        ),
        (
            Flaw::RetryAfterMissing,
            "rate limit: 429 with Retry-After",
            "without Retry-After",
        ),
        (
            Flaw::RetryAfterGarbled,
            "rate limit: 429 with Retry-After",
            "neither seconds nor an HTTP date",
        ),
        (
            Flaw::CancelWithoutToken,
            "cancel: 401 without a token",
            "instead of 401",
        ),
        (
            Flaw::EtagIgnored,
            "status: If-None-Match answers 304 (blocking requests)",
            "sends an ETag but answers 200",
        ),
    ];
    for (flaw, name, reason) in cases {
        let outcomes = check::run(&target(serve_stand_in(flaw).await, TOKEN)).await;
        let failed = failures(&outcomes);
        let table = check::table(&outcomes);
        assert!(!check::all_passed(&outcomes), "{flaw:?}: {table}");
        assert!(
            failed
                .iter()
                .any(|(n, why)| *n == name && why.contains(reason)),
            "{flaw:?} should fail `{name}` with `{reason}`:\n{table}"
        );
        // A wildcard origin shows on both preflights and the answer, a token nobody checks on
        // both endpoints; every other flaw fails one check only.
        let expected = match flaw {
            Flaw::WildcardCors => 3,
            Flaw::AnyTokenAccepted => 2,
            _ => 1,
        };
        assert_eq!(failed.len(), expected, "{flaw:?}:\n{table}");
    }
}

/// The command itself: the table on stdout, exit 0 when everything passes, 1 otherwise.
#[tokio::test]
async fn the_check_command_prints_the_table_and_exits_non_zero_on_a_failure() {
    let (proxy, tok) = our_proxy(true).await;
    let flawed = serve_stand_in(Flaw::PersonalData).await;
    for (addr, token, code) in [(proxy, tok.as_str(), 0), (flawed, TOKEN, 1)] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gu1-kyc-proxy"));
        cmd.args([
            "check",
            "--status-url",
            &format!("http://{addr}/kyc/status"),
            "--token",
            token,
        ])
        .args([
            "--cancel-url",
            &format!("http://{addr}/kyc/cancel"),
            "--origin",
            ORIGIN,
        ]);
        // The servers answer on this runtime while the command runs on a blocking thread.
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{stdout}");
        assert!(stdout.starts_with("check "), "{stdout}");
        let summary = if code == 0 {
            "check: 12 passed, 0 failed, 0 skipped"
        } else {
            "check: 11 passed, 1 failed, 0 skipped"
        };
        assert!(stdout.contains(summary), "{stdout}");
        assert!(
            !stdout.contains(token),
            "the token is never printed: {stdout}"
        );
    }
}
