//! Browser suites: real iframes, real fetches to the running simulator over HTTP on 127.0.0.1.
//! Run by `scripts/test.sh` in headless Chromium and Firefox and in WebKit.
#![cfg(target_arch = "wasm32")]

mod support;

use gu1_kyc_web::{mount, Verification};
use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const APPROVE_SOON: &str =
    r#"{"script":[{"status":"pending"},{"status":"in_progress"},{"status":"approved"}]}"#;

// ---------------------------------------------------------------------------------------------
// Options checked by mount (synchronous throws)

fn base_options(rec: &Rec) -> JsValue {
    let o = js_sys::Object::new();
    let set = |k: &str, v: JsValue| js_sys::Reflect::set(&o, &k.into(), &v).unwrap();
    set("container", rec.container().into());
    set("statusUrl", "http://127.0.0.1:1/kyc/status".into());
    set("token", "t".into());
    o.into()
}

fn with(o: &JsValue, key: &str, value: JsValue) -> JsValue {
    let c = js_sys::Object::assign(&js_sys::Object::new(), o.unchecked_ref());
    js_sys::Reflect::set(&c, &key.into(), &value).unwrap();
    c.into()
}

use wasm_bindgen::JsCast;

fn assert_refused(opts: JsValue, code: &str, names: &str) {
    // Counted against what is there already: a test that failed earlier may have left some.
    let before = all_iframes();
    let e = mount_error(opts);
    assert!(is_error(&e), "mount must throw a real Error");
    assert_eq!(s(&e, "code"), code, "{}", s(&e, "message"));
    assert_eq!(s(&e, "name"), "KycError");
    let msg = s(&e, "message");
    assert!(msg.contains(names), "message {msg:?} should name {names}");
    assert_eq!(
        all_iframes(),
        before,
        "nothing may be mounted for refused options"
    );
}

/// Each `(option, value, code, name the message must contain)` is refused by `mount`.
fn assert_all_refused(cases: Vec<(&str, JsValue, &str, &str)>) {
    let rec = Rec::new();
    let o = base_options(&rec);
    for (key, value, code, names) in cases {
        assert_refused(with(&o, key, value), code, names);
    }
    rec.done_without();
}

const INVALID: &str = "INVALID_OPTIONS";

#[wasm_bindgen_test]
fn refuses_missing_or_invalid_container() {
    let document = web_sys::window().unwrap().document().unwrap();
    assert_all_refused(vec![
        ("container", JsValue::UNDEFINED, INVALID, "container"),
        ("container", JsValue::from(42), INVALID, "container"),
        ("container", "".into(), INVALID, "container"),
        ("container", "[[[".into(), INVALID, "container"),
        (
            "container",
            "#no-such-element".into(),
            "CONTAINER_NOT_FOUND",
            "#no-such-element",
        ),
        ("container", document.into(), INVALID, "container"),
        (
            "container",
            js_sys::Object::new().into(),
            INVALID,
            "container",
        ),
    ]);
    assert_refused(JsValue::NULL, INVALID, "options");
    assert_refused("#kyc".into(), INVALID, "options");
}

#[wasm_bindgen_test]
fn refuses_bad_status_url_and_token() {
    assert_all_refused(vec![
        ("statusUrl", JsValue::UNDEFINED, INVALID, "statusUrl"),
        ("statusUrl", JsValue::from(7), INVALID, "statusUrl"),
        (
            "statusUrl",
            "javascript:alert(1)".into(),
            INVALID,
            "statusUrl",
        ),
        (
            "statusUrl",
            "data:text/plain,x".into(),
            INVALID,
            "statusUrl",
        ),
        (
            "statusUrl",
            "http://user:pw@127.0.0.1/s".into(),
            INVALID,
            "statusUrl",
        ),
        ("token", JsValue::from(12), INVALID, "token"),
        ("token", "".into(), INVALID, "token"),
        (
            "cancelUrl",
            "javascript:void 0".into(),
            INVALID,
            "cancelUrl",
        ),
    ]);
}

#[wasm_bindgen_test]
fn refuses_bad_numbers() {
    let mut cases = Vec::new();
    for key in ["pollIntervalMs", "timeoutMs", "requestTimeoutMs"] {
        for bad in [
            JsValue::from(-1),
            JsValue::from(0),
            JsValue::from(f64::NAN),
            JsValue::from(1e12),
            JsValue::from(f64::INFINITY),
            "1000".into(),
        ] {
            cases.push((key, bad, INVALID, key));
        }
    }
    cases.extend([
        ("height", JsValue::from(-3), INVALID, "height"),
        ("height", "1px; background: red".into(), INVALID, "height"),
        ("title", "  ".into(), INVALID, "title"),
        ("title", JsValue::from(42), INVALID, "title"),
        ("height", JsValue::TRUE, INVALID, "height"),
    ]);
    assert_all_refused(cases);
}

#[wasm_bindgen_test]
fn refuses_unsafe_session_urls() {
    let bad = [
        "javascript:alert(1)",
        "data:text/html,<p>x</p>",
        "blob:https://a.example/1",
        "file:///etc/passwd",
        "/relative/path",
        "http://verify.example/s/1",
        "https://user:pass@verify.example/s",
        "https://",
        "not a url",
        "http://[::1]:99999/",
    ];
    assert_all_refused(
        bad.iter()
            .map(|u| {
                (
                    "sessionUrl",
                    JsValue::from_str(u),
                    "UNSAFE_SESSION_URL",
                    "sessionUrl",
                )
            })
            .collect(),
    );
}

#[wasm_bindgen_test]
fn refuses_unknown_permissions_and_non_function_callbacks() {
    let mut cases = vec![
        ("allow", "camera; usb".into(), INVALID, "usb"),
        ("allow", "payment".into(), INVALID, "allow"),
        ("allow", "".into(), INVALID, "allow"),
        ("sessionUrl", JsValue::from(42), INVALID, "sessionUrl"),
        ("statusUrl", "".into(), INVALID, "statusUrl"),
    ];
    for cb in [
        "onReady",
        "onStatus",
        "onComplete",
        "onError",
        "refreshToken",
    ] {
        cases.push((cb, "not a function".into(), INVALID, cb));
    }
    assert_all_refused(cases);
}

// ---------------------------------------------------------------------------------------------
// The iframe

#[wasm_bindgen_test]
async fn mounts_the_session_url_at_once_with_permissions_and_size() {
    let sim = Sim::new(r#"{}"#).await;
    let rec = Rec::new();
    let url = sim.session_url();
    let v = rec.mount(
        &sim,
        &format!(r#"{{"sessionUrl":"{url}","height":"640px","title":"Check it's you"}}"#),
    );
    let f = rec
        .iframe()
        .expect("iframe mounted synchronously when sessionUrl is given");
    assert_eq!(f.src(), url);
    assert_eq!(
        f.get_attribute("allow").unwrap(),
        "camera; microphone; fullscreen; autoplay; encrypted-media"
    );
    assert_eq!(f.title(), "Check it's you");
    assert_eq!(
        f.get_attribute("referrerpolicy").unwrap(),
        "strict-origin-when-cross-origin"
    );
    assert_eq!(f.style().get_property_value("height").unwrap(), "640px");
    assert_eq!(f.style().get_property_value("width").unwrap(), "100%");
    assert!(
        rec.wait("gu1kyc:ready", 1, 5_000).await,
        "ready after the iframe loads"
    );
    assert_eq!(
        s(&get(&rec.last("gu1kyc:ready"), "detail"), "sessionUrl"),
        url
    );
    assert_eq!(rec.calls("ready"), 1);
    rec.done(v);
}

/// An `iframe[data-gu1-kyc]` as the drop-in loader puts in place before the wasm arrives.
fn placed_iframe(rec: &Rec, src: &str, allow: &str) -> web_sys::HtmlIFrameElement {
    marked_iframe(rec, src, allow, "early")
}

fn marked_iframe(rec: &Rec, src: &str, allow: &str, mark: &str) -> web_sys::HtmlIFrameElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let f: web_sys::HtmlIFrameElement = document.create_element("iframe").unwrap().unchecked_into();
    f.set_attribute("allow", allow).unwrap();
    f.set_attribute("referrerpolicy", "strict-origin-when-cross-origin")
        .unwrap();
    f.set_attribute("data-gu1-kyc", mark).unwrap();
    f.set_src(src);
    rec.container().append_child(&f).unwrap();
    f
}

const DEFAULT_ALLOW: &str = "camera; microphone; fullscreen; autoplay; encrypted-media";

#[wasm_bindgen_test]
async fn adopts_the_iframe_already_in_place_for_the_same_session() {
    let sim = Sim::new(r#"{}"#).await;
    // Before its load event: mount listens for it.
    let rec = Rec::new();
    let url = sim.session_url();
    let placed = placed_iframe(&rec, &url, DEFAULT_ALLOW);
    let v = rec.mount(
        &sim,
        &format!(r#"{{"sessionUrl":"{url}","height":"500px"}}"#),
    );
    assert_eq!(rec.iframes(), 1, "no second iframe");
    let f = rec.iframe().unwrap();
    assert!(
        JsValue::from(&f) == JsValue::from(&placed),
        "the same element"
    );
    assert_eq!(f.style().get_property_value("height").unwrap(), "500px");
    assert!(rec.wait("gu1kyc:ready", 1, 5_000).await);
    assert_eq!(rec.calls("ready"), 1);
    v.destroy();
    assert_eq!(rec.iframes(), 0, "destroy removes an adopted iframe too");
    rec.done(v);

    // After its load event (the loader marks it `loaded`): ready is announced after mount returns.
    let rec = Rec::new();
    let placed = placed_iframe(&rec, &url, DEFAULT_ALLOW);
    let loaded = rec.wait_load(&placed, 5_000).await;
    assert!(loaded, "the placed iframe loads");
    placed.set_attribute("data-gu1-kyc", "loaded").unwrap();
    let v = rec.mount(&sim, &format!(r#"{{"sessionUrl":"{url}"}}"#));
    assert_eq!(rec.count("gu1kyc:ready"), 0, "not inside mount");
    assert!(rec.wait("gu1kyc:ready", 1, 2_000).await);
    sleep(100).await;
    assert_eq!(rec.count("gu1kyc:ready"), 1, "once");
    assert_eq!(rec.iframes(), 1);
    rec.done(v);
}

#[wasm_bindgen_test]
async fn replaces_a_placed_iframe_that_does_not_match() {
    let sim = Sim::new(r#"{}"#).await;
    let url = sim.session_url();
    let other = Sim::new(r#"{}"#).await.session_url();
    for (src, allow, mark) in [
        (other.as_str(), DEFAULT_ALLOW, "early"),
        (url.as_str(), "camera; microphone; geolocation", "early"),
        // Marked, but not by the loader (a stale or hand-made one): never adopted.
        (url.as_str(), DEFAULT_ALLOW, ""),
    ] {
        let rec = Rec::new();
        let placed = marked_iframe(&rec, src, allow, mark);
        if mark.is_empty() {
            // A second stray one goes too.
            marked_iframe(&rec, src, allow, "");
        }
        let v = rec.mount(&sim, &format!(r#"{{"sessionUrl":"{url}"}}"#));
        assert_eq!(
            rec.iframes(),
            1,
            "the mismatched iframe is gone: {src} / {allow}"
        );
        let f = rec.iframe().unwrap();
        assert!(JsValue::from(&f) != JsValue::from(&placed));
        assert!(!placed.is_connected());
        assert_eq!(f.src(), url);
        assert_eq!(f.get_attribute("allow").unwrap(), DEFAULT_ALLOW);
        rec.done(v);
    }
    // An iframe without the marker belongs to the page and is left alone.
    let rec = Rec::new();
    let document = web_sys::window().unwrap().document().unwrap();
    let own = document.create_element("iframe").unwrap();
    rec.container().append_child(&own).unwrap();
    let v = rec.mount(&sim, &format!(r#"{{"sessionUrl":"{url}"}}"#));
    assert!(own.is_connected());
    assert_eq!(rec.iframes(), 2);
    v.destroy();
    assert!(own.is_connected());
    own.remove();
    rec.done(v);
}

#[wasm_bindgen_test]
async fn takes_the_session_url_and_allow_from_the_first_answer() {
    let sim = Sim::new(r#"{}"#).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    assert_eq!(rec.iframes(), 0, "no URL yet");
    assert!(rec.wait("gu1kyc:status", 1, 5_000).await);
    let f = rec.iframe().expect("iframe from sessionUrl of the answer");
    assert_eq!(f.src(), sim.session_url());
    assert_eq!(
        f.get_attribute("allow").unwrap(),
        "camera; microphone; fullscreen; autoplay; encrypted-media"
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn allow_option_overrides_the_session() {
    let sim = Sim::new(r#"{}"#).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, r#"{"allow":"camera *; microphone; camera"}"#);
    assert!(rec.wait("gu1kyc:status", 1, 5_000).await);
    assert_eq!(
        rec.iframe().unwrap().get_attribute("allow").unwrap(),
        "camera; microphone"
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn session_url_changing_mid_flow_repoints_the_iframe() {
    let sim = Sim::new(r#"{}"#).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    assert!(rec.wait("gu1kyc:status", 1, 5_000).await);
    let moved = format!(
        "{}/session/{}?moved=1",
        sim.hosted_origin(),
        s(&sim.raw, "id")
    );
    sim.set(&format!(
        r#"{{"status":"in_progress","sessionUrl":"{moved}"}}"#
    ))
    .await;
    assert!(rec.wait("gu1kyc:status", 2, 5_000).await);
    sleep(150).await;
    assert_eq!(rec.iframe().unwrap().src(), moved);
    assert_eq!(rec.iframes(), 1);
    rec.done(v);
}

// ---------------------------------------------------------------------------------------------
// Status paths

async fn run_to_end(script: &str, expect_status: &str) -> (Rec, Settled, Sim) {
    let sim = Sim::new(script).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    let r = settle(&v.completed(), 8_000).await;
    assert_eq!(
        r.state,
        "resolved",
        "completed must resolve; errors: {:?}",
        rec.errors()
    );
    assert_eq!(r.status(), expect_status);
    assert_eq!(get(&r.value, "terminal"), JsValue::TRUE);
    assert_eq!(rec.count("gu1kyc:complete"), 1);
    assert_eq!(rec.calls("complete"), 1);
    assert_eq!(rec.iframes(), 0, "iframe removed on completion");
    v.destroy();
    (rec, r, sim)
}

#[wasm_bindgen_test]
async fn approved_after_in_progress() {
    let (rec, r, _sim) = run_to_end(APPROVE_SOON, "approved").await;
    assert_eq!(rec.statuses(), vec!["pending", "in_progress", "approved"]);
    assert_eq!(s(&r.value, "kind"), "biometric");
    assert_eq!(keys(&r.value), "completedAt,entityId,id,iframeAllow,kind,rejectionCode,rejectionMessage,sessionUrl,status,terminal,updatedAt");
    assert!(get(&r.value, "completedAt").is_string());
    rec.done_without();
}

#[wasm_bindgen_test]
async fn rejected_carries_the_rejection_code() {
    let (rec, r, _) = run_to_end(
        r#"{"script":[{"status":"in_progress"},{"status":"rejected","rejectionCode":"FACE_MATCH_SCORE_LOW","rejectionMessage":"low"}]}"#,
        "rejected",
    )
    .await;
    assert_eq!(s(&r.value, "rejectionCode"), "FACE_MATCH_SCORE_LOW");
    assert_eq!(s(&r.value, "rejectionMessage"), "low");
    let detail = get(&rec.last("gu1kyc:complete"), "detail");
    assert_eq!(s(&detail, "rejectionCode"), "FACE_MATCH_SCORE_LOW");
    rec.done_without();
}

#[wasm_bindgen_test]
async fn cancelled_by_gu1() {
    let (rec, _, _) = run_to_end(
        r#"{"script":[{"status":"pending"},{"status":"cancelled"}]}"#,
        "cancelled",
    )
    .await;
    rec.done_without();
}

#[wasm_bindgen_test]
async fn expired_when_the_session_lifetime_runs_out() {
    let (rec, _, _) = run_to_end(r#"{"ttlSecs":1}"#, "expired").await;
    assert_eq!(rec.statuses().first().map(String::as_str), Some("pending"));
    rec.done_without();
}

#[wasm_bindgen_test]
async fn abandoned() {
    let (rec, _, _) = run_to_end(
        r#"{"script":[{"status":"in_progress"},{"status":"abandoned"}]}"#,
        "abandoned",
    )
    .await;
    rec.done_without();
}

#[wasm_bindgen_test]
async fn in_review_then_approved() {
    let (rec, _, _) = run_to_end(
        r#"{"kind":"kyc","script":[{"status":"in_progress"},{"status":"in_review"},{"status":"in_review"},{"status":"approved"}]}"#,
        "approved",
    )
    .await;
    assert_eq!(rec.statuses(), vec!["in_progress", "in_review", "approved"]);
    rec.done_without();
}

#[wasm_bindgen_test]
async fn null_then_a_session() {
    let sim = Sim::new(r#"{"start":false}"#).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    assert!(rec.wait("gu1kyc:status", 1, 5_000).await);
    assert_eq!(rec.statuses(), vec!["none"]);
    let st = v.status();
    assert_eq!(s(&st, "status"), "none");
    assert!(get(&st, "kind").is_null());
    assert_eq!(rec.iframes(), 0);
    assert!(
        rec.errors().is_empty(),
        "null is not a failure: {:?}",
        rec.errors()
    );
    sim.start().await;
    assert!(rec.wait("gu1kyc:status", 2, 5_000).await);
    assert_eq!(rec.statuses(), vec!["none", "pending"]);
    assert_eq!(rec.iframes(), 1);
    rec.done(v);
}

#[wasm_bindgen_test]
async fn kyc_404_not_found_is_no_session_yet() {
    let sim = Sim::new(r#"{"kind":"kyc","start":false}"#).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    assert!(sim.wait_requests("status", 3, 5_000).await);
    assert_eq!(rec.statuses(), vec!["none"]);
    assert!(rec.errors().is_empty(), "{:?}", rec.errors());
    sim.start().await;
    assert!(rec.wait("gu1kyc:status", 2, 5_000).await);
    let st = v.status();
    assert_eq!(s(&st, "kind"), "kyc");
    assert_eq!(s(&st, "status"), "pending");
    assert_eq!(
        rec.iframe().unwrap().src(),
        s(&st, "sessionUrl"),
        "providerSessionUrl is mounted"
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn unknown_status_is_carried_and_reported_once() {
    let sim = Sim::new(r#"{"script":[{"status":"Resubmitted"},{"status":"Resubmitted"},{"status":"Resubmitted"},{"status":"approved"}]}"#).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    let r = settle(&v.completed(), 5_000).await;
    assert_eq!(r.status(), "approved");
    assert_eq!(rec.statuses(), vec!["Resubmitted", "approved"]);
    assert_eq!(rec.errors(), vec!["UNKNOWN_STATUS"]);
    assert_eq!(rec.errors_retrying(true), vec!["UNKNOWN_STATUS"]);
    rec.done(v);
}

// ---------------------------------------------------------------------------------------------
// Exactly once, nothing after the end

#[wasm_bindgen_test]
async fn completion_is_exactly_once_and_nothing_is_fetched_after() {
    let sim = Sim::new(APPROVE_SOON).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    let r = settle(&v.completed(), 5_000).await;
    assert_eq!(r.status(), "approved");
    let after = sim.requests("status").await;
    // gu1 changes its mind later; the page asks again and again: nothing moves.
    sim.set(r#"{"status":"rejected"}"#).await;
    for _ in 0..5 {
        v.refresh();
    }
    sleep(600).await;
    assert_eq!(
        sim.requests("status").await,
        after,
        "no request after the terminal status"
    );
    assert_eq!(rec.count("gu1kyc:complete"), 1);
    assert_eq!(rec.calls("complete"), 1);
    assert_eq!(
        rec.body_events(),
        1,
        "the complete event bubbles to the body once"
    );
    assert_eq!(s(&v.status(), "status"), "approved", "nothing regresses");
    let again = settle(&v.completed(), 100).await;
    assert_eq!(again.status(), "approved");
    rec.done(v);
}

#[wasm_bindgen_test]
async fn events_bubble_and_are_composed() {
    let (rec, _, _) = run_to_end(APPROVE_SOON, "approved").await;
    let e = rec.last("gu1kyc:complete");
    assert_eq!(get(&e, "bubbles"), JsValue::TRUE);
    assert_eq!(get(&e, "composed"), JsValue::TRUE);
    let st = rec.last("gu1kyc:status");
    assert_eq!(get(&st, "bubbles"), JsValue::TRUE);
    rec.done_without();
}

#[wasm_bindgen_test]
async fn throwing_callbacks_do_not_stop_the_client() {
    let sim = Sim::new(r#"{"faults":[{"status":500}],"script":[{"status":"pending"},{"status":"in_progress"},{"status":"approved"}]}"#).await;
    let rec = Rec::new();
    rec.throwing("onError");
    rec.throwing("onStatus");
    rec.throwing("onReady");
    rec.throwing("onComplete");
    let v = rec.mount(
        &sim,
        &format!(r#"{{"sessionUrl":"{}"}}"#, sim.session_url()),
    );
    let r = settle(&v.completed(), 5_000).await;
    assert_eq!(r.status(), "approved");
    assert_eq!(rec.calls("status"), 3);
    assert_eq!(rec.calls("complete"), 1);
    assert_eq!(
        rec.calls("error"),
        1,
        "onError threw and the client went on"
    );
    rec.done(v);
}

// ---------------------------------------------------------------------------------------------
// Destroy

#[wasm_bindgen_test]
async fn destroy_rejects_with_destroyed_and_removes_everything() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = rec.mount(
        &sim,
        &format!(r#"{{"sessionUrl":"{}"}}"#, sim.session_url()),
    );
    assert!(rec.wait("gu1kyc:status", 1, 5_000).await);
    assert_eq!(rec.iframes(), 1);
    v.destroy();
    v.destroy();
    assert_eq!(rec.iframes(), 0, "iframe removed synchronously");
    let r = settle(&v.completed(), 1_000).await;
    assert_eq!(r.state, "rejected");
    assert_eq!(r.code(), "DESTROYED");
    assert!(is_error(&r.value));
    let seen = sim.requests("status").await;
    let events = rec.count("gu1kyc:status") + rec.count("gu1kyc:error");
    sleep(500).await;
    assert_eq!(
        sim.requests("status").await,
        seen,
        "no request after destroy"
    );
    assert_eq!(
        rec.count("gu1kyc:status") + rec.count("gu1kyc:error"),
        events,
        "no event after destroy"
    );
    assert!(v.status().is_object(), "status keeps the last snapshot");
    rec.done(v);
}

#[wasm_bindgen_test]
async fn destroy_mid_request_aborts_it() {
    let sim = Sim::new(
        r#"{"faults":[{"delayMs":1500,"status":200,"body":"{\"status\":\"approved\"}"}]}"#,
    )
    .await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    sleep(300).await;
    let destroyed_at = sim.clock_ms().await;
    v.destroy();
    let r = settle(&v.completed(), 3_000).await;
    assert_eq!(r.code(), "DESTROYED");
    // The proxy holds its answer for 1.5 s; an aborted fetch closes the connection, which the
    // simulator logs as an aborted request at the moment it notices.
    let aborted = sim.wait_aborted("status", 800).await;
    assert_eq!(
        aborted.len(),
        1,
        "the status request in flight was aborted by destroy() (the proxy saw the connection \
         close before its answer); log at {} ms, destroy() at {destroyed_at} ms: {}",
        sim.clock_ms().await,
        sim.log_json().await
    );
    let after = get(&aborted[0], "atMs").as_f64().unwrap_or(f64::MAX) - destroyed_at;
    assert!(
        after < 800.0,
        "the proxy saw the request aborted {after} ms after destroy(), not shortly after"
    );
    sleep(1_600).await;
    assert_eq!(
        rec.count("gu1kyc:complete"),
        0,
        "nothing completes after destroy"
    );
    assert_eq!(rec.count("gu1kyc:status"), 0);
    assert_eq!(rec.count("gu1kyc:error"), 0);
    assert_eq!(
        sim.requests("status").await,
        0,
        "the proxy never answered the aborted request, and nothing was asked after destroy"
    );
    assert_eq!(sim.aborted("status").await.len(), 1);
    rec.done(v);
}

#[wasm_bindgen_test]
async fn destroy_after_completion_keeps_the_result() {
    let sim = Sim::new(APPROVE_SOON).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    assert_eq!(settle(&v.completed(), 5_000).await.status(), "approved");
    v.destroy();
    assert_eq!(settle(&v.completed(), 100).await.status(), "approved");
    rec.done(v);
}

#[wasm_bindgen_test]
async fn mounting_twice_into_one_container_replaces_the_first() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let url = format!(r#"{{"sessionUrl":"{}"}}"#, sim.session_url());
    let first = rec.mount(&sim, &url);
    let second = rec.mount(&sim, &url);
    assert_eq!(rec.iframes(), 1, "one container, one iframe");
    assert_eq!(settle(&first.completed(), 500).await.code(), "DESTROYED");
    assert_eq!(settle(&second.completed(), 300).await.state, "pending");
    first.destroy();
    assert_eq!(
        rec.iframes(),
        1,
        "destroying the replaced one leaves the new one"
    );
    rec.done(second);
}

#[wasm_bindgen_test]
async fn mount_destroy_mount_as_strict_mode_does() {
    let sim = Sim::new(APPROVE_SOON).await;
    let rec = Rec::new();
    let url = format!(r#"{{"sessionUrl":"{}"}}"#, sim.session_url());
    let first = rec.mount(&sim, &url);
    first.destroy();
    let second = rec.mount(&sim, &url);
    assert_eq!(rec.iframes(), 1);
    assert_eq!(
        settle(&second.completed(), 5_000).await.status(),
        "approved"
    );
    assert_eq!(rec.count("gu1kyc:complete"), 1);
    rec.done(second);
}

#[wasm_bindgen_test]
async fn two_verifications_stay_independent() {
    let a = Sim::new(APPROVE_SOON).await;
    let b = Sim::new(r#"{"script":[{"status":"in_progress"},{"status":"rejected"}]}"#).await;
    let (ra, rb) = (Rec::new(), Rec::new());
    let va = ra.mount(&a, "{}");
    let vb = rb.mount(&b, "{}");
    assert_eq!(settle(&va.completed(), 5_000).await.status(), "approved");
    assert_eq!(settle(&vb.completed(), 5_000).await.status(), "rejected");
    assert_eq!(
        (ra.count("gu1kyc:complete"), rb.count("gu1kyc:complete")),
        (1, 1)
    );
    ra.done(va);
    rb.done(vb);
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[wasm_bindgen_test]
async fn expired_token_is_refreshed_once_and_the_flow_goes_on() {
    let sim = Sim::new(APPROVE_SOON).await;
    let stale = sim.token_with_ttl(0).await;
    let rec = Rec::new();
    rec.refresh_mode(&sim, "works");
    let v = mount(rec.options(&sim, &format!(r#"{{"token":"{stale}"}}"#))).unwrap();
    let r = settle(&v.completed(), 5_000).await;
    assert_eq!(r.status(), "approved", "errors: {:?}", rec.errors());
    assert_eq!(rec.refresh_calls(), 1);
    assert!(
        rec.errors().is_empty(),
        "a refreshed 401 is not an error: {:?}",
        rec.errors()
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn unauthorized_without_refresh_is_fatal() {
    let sim = Sim::new(r#"{"faults":[{"status":401}]}"#).await;
    let rec = Rec::new();
    let v = rec.mount(
        &sim,
        &format!(r#"{{"sessionUrl":"{}"}}"#, sim.session_url()),
    );
    let r = settle(&v.completed(), 5_000).await;
    assert_eq!(r.state, "rejected");
    assert_eq!(r.code(), "UNAUTHORIZED");
    assert_eq!(rec.errors_retrying(false), vec!["UNAUTHORIZED"]);
    assert_eq!(rec.iframes(), 0);
    sleep(300).await;
    assert_eq!(sim.requests("status").await, 1);
    rec.done(v);
}

async fn refresh_fails(mode: &str) -> (Rec, Sim) {
    let sim = Sim::new(r#"{"faults":[{"status":401,"count":5}]}"#).await;
    let rec = Rec::new();
    rec.refresh_mode(&sim, mode);
    let v = rec.mount(&sim, r#"{"requestTimeoutMs":400}"#);
    let r = settle(&v.completed(), 5_000).await;
    assert_eq!(r.code(), "UNAUTHORIZED", "refresh mode {mode}");
    assert_eq!(rec.refresh_calls(), 1, "one refresh per 401");
    v.destroy();
    (rec, sim)
}

#[wasm_bindgen_test]
async fn refresh_giving_a_token_still_refused_is_fatal_after_one_retry() {
    let (rec, sim) = refresh_fails("works").await;
    assert_eq!(
        sim.requests("status").await,
        2,
        "the first try and one retry"
    );
    rec.done_without();
}

#[wasm_bindgen_test]
async fn refresh_that_throws_rejects_or_returns_junk_is_fatal() {
    for mode in ["throws", "rejects", "junk"] {
        let (rec, sim) = refresh_fails(mode).await;
        assert_eq!(
            sim.requests("status").await,
            1,
            "{mode}: no retry without a token"
        );
        rec.done_without();
    }
}

#[wasm_bindgen_test]
async fn refresh_that_hangs_is_bounded_by_the_request_timeout() {
    let (rec, _) = refresh_fails("hangs").await;
    // The fatal error comes from the request timer armed for the refresh (requestTimeoutMs:
    // 400), not from anything later: measured from the refresh call to the error event.
    let called = get(&rec.raw, "refreshAt")
        .as_f64()
        .expect("refreshToken was called");
    let failed = get(&rec.last("gu1kyc:error"), "at")
        .as_f64()
        .expect("an error event");
    let waited = failed - called;
    assert!(
        (390.0..1_500.0).contains(&waited),
        "a hanging refreshToken() ends after requestTimeoutMs (400 ms): {waited:.0} ms"
    );
    rec.done_without();
}

#[wasm_bindgen_test]
async fn token_only_in_the_authorization_header() {
    let sim = Sim::new(APPROVE_SOON).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    settle(&v.completed(), 5_000).await;
    let log = sim.log().await;
    let arr = js_sys::Array::from(&log);
    assert!(arr.length() >= 3);
    for e in arr.iter() {
        assert_eq!(s(&e, "query"), "", "no query string on proxy requests");
        assert_eq!(get(&e, "authorized"), JsValue::TRUE);
    }
    assert!(
        !page_text().contains(&sim.token()),
        "token never in the DOM"
    );
    let detail = js_sys::JSON::stringify(&rec.call_list())
        .unwrap()
        .as_string()
        .unwrap();
    assert!(
        !detail.contains(&sim.token()),
        "token never in an event or callback"
    );
    rec.done(v);
}

// ---------------------------------------------------------------------------------------------
// Faults

#[wasm_bindgen_test]
async fn rate_limited_honours_retry_after() {
    let sim = Sim::new(
        r#"{"faults":[{"status":429,"retryAfter":"1"}],"script":[{"status":"approved"}]}"#,
    )
    .await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    let r = settle(&v.completed(), 6_000).await;
    assert_eq!(r.status(), "approved");
    assert_eq!(rec.errors_retrying(true), vec!["RATE_LIMITED"]);
    let gaps = sim.gaps("status").await;
    assert!(
        gaps[0] >= 950.0,
        "waited Retry-After before asking again: {gaps:?}"
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn unavailable_honours_retry_after_as_http_date() {
    let when = js_sys::Date::new(&JsValue::from(js_sys::Date::now() + 2_500.0))
        .to_utc_string()
        .as_string()
        .unwrap();
    let sim = Sim::new(&format!(r#"{{"faults":[{{"status":503,"retryAfter":"{when}"}}],"script":[{{"status":"approved"}}]}}"#)).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    let r = settle(&v.completed(), 8_000).await;
    assert_eq!(r.status(), "approved");
    assert_eq!(rec.errors(), vec!["PROXY_ERROR"]);
    let gaps = sim.gaps("status").await;
    assert!(
        gaps[0] >= 1_000.0,
        "HTTP-date Retry-After honoured: {gaps:?}"
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn server_error_burst_backs_off_exponentially() {
    let sim = Sim::new(r#"{"faults":[{"status":500,"count":2},{"status":502},{"status":504}],"script":[{"status":"approved"}]}"#).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, r#"{"pollIntervalMs":200}"#);
    let r = settle(&v.completed(), 10_000).await;
    assert_eq!(r.status(), "approved");
    assert_eq!(rec.errors_retrying(true), vec!["PROXY_ERROR"; 4]);
    assert_eq!(
        sim.requests("status").await,
        5,
        "no hammering: one request per backoff step"
    );
    let gaps = sim.gaps("status").await;
    // Equal jitter: the n-th wait is in [base·2^(n-1)/2, base·2^(n-1)].
    for (n, g) in gaps.iter().enumerate() {
        let full = 200.0 * 2f64.powi(n as i32);
        assert!(
            *g >= full / 2.0 - 30.0,
            "gap {n} = {g} below backoff floor {}",
            full / 2.0
        );
    }
    assert!(gaps[3] > gaps[0], "backoff grows: {gaps:?}");
    rec.done(v);
}

#[wasm_bindgen_test]
async fn slow_answer_past_the_request_timeout_is_a_network_error() {
    let sim = Sim::new(r#"{"faults":[{"delayMs":1500}],"script":[{"status":"approved"}]}"#).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, r#"{"requestTimeoutMs":300}"#);
    let r = settle(&v.completed(), 6_000).await;
    assert_eq!(r.status(), "approved");
    assert_eq!(rec.errors_retrying(true), vec!["NETWORK"]);
    let msg = s(&get(&rec.last("gu1kyc:error"), "detail"), "message");
    assert!(msg.contains("requestTimeoutMs"), "{msg}");
    rec.done(v);
}

#[wasm_bindgen_test]
async fn malformed_json_is_a_bad_response() {
    let sim = Sim::new(r#"{"faults":[{"status":200,"body":"{\"status\": approved"}],"script":[{"status":"approved"}]}"#).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    let r = settle(&v.completed(), 5_000).await;
    assert_eq!(r.status(), "approved");
    assert_eq!(rec.errors(), vec!["BAD_RESPONSE"]);
    rec.done(v);
}

#[wasm_bindgen_test]
async fn html_error_page_and_non_session_json_are_reported() {
    let sim = Sim::new(
        r#"{"faults":[{"status":502,"body":"<html><body>Bad gateway</body></html>","contentType":"text/html"},{"status":200,"body":"[1,2]"},{"status":200,"body":"{\"id\":\"x\"}"}],"script":[{"status":"approved"}]}"#,
    )
    .await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    let r = settle(&v.completed(), 8_000).await;
    assert_eq!(r.status(), "approved");
    assert_eq!(
        rec.errors(),
        vec!["PROXY_ERROR", "BAD_RESPONSE", "BAD_RESPONSE"]
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn connection_refused_is_a_network_error_then_timeout() {
    let rec = Rec::new();
    let o = rec.options(
        &Sim::new("{}").await,
        r#"{"statusUrl":"http://127.0.0.1:9/kyc/status","timeoutMs":1500}"#,
    );
    let v = mount(o).unwrap();
    let r = settle(&v.completed(), 5_000).await;
    assert_eq!(r.code(), "TIMEOUT");
    let errs = rec.errors();
    assert!(
        errs.len() >= 2 && errs[..errs.len() - 1].iter().all(|c| c == "NETWORK"),
        "{errs:?}"
    );
    assert_eq!(errs.last().unwrap(), "TIMEOUT");
    assert_eq!(rec.errors_retrying(false), vec!["TIMEOUT"]);
    rec.done(v);
}

#[wasm_bindgen_test]
async fn overall_timeout_rejects_with_timeout() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = rec.mount(&sim, r#"{"timeoutMs":1200}"#);
    let r = settle(&v.completed(), 5_000).await;
    assert_eq!(r.code(), "TIMEOUT");
    assert_eq!(rec.iframes(), 0);
    let n = sim.requests("status").await;
    sleep(400).await;
    assert_eq!(sim.requests("status").await, n);
    rec.done(v);
}

#[wasm_bindgen_test]
async fn one_request_in_flight_at_most() {
    let sim = Sim::new(r#"{"faults":[{"delayMs":600},{"delayMs":600}]}"#).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, r#"{"pollIntervalMs":5000}"#);
    for _ in 0..20 {
        v.refresh();
        sleep(20).await;
    }
    sleep(1_600).await;
    // The first request, then exactly one follow-up queued behind it however often refresh() ran.
    assert_eq!(sim.requests("status").await, 2);
    rec.done(v);
}

// ---------------------------------------------------------------------------------------------
// Messages from the hosted page

#[wasm_bindgen_test]
async fn genuine_message_triggers_an_immediate_poll() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let url = format!("{}?auto=approve&delay=300", sim.session_url());
    let v = rec.mount(
        &sim,
        &format!(r#"{{"sessionUrl":"{url}","pollIntervalMs":60000}}"#),
    );
    let r = settle(&v.completed(), 5_000).await;
    assert_eq!(
        r.status(),
        "approved",
        "the hint made the client ask before its 60 s interval"
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn json_string_messages_are_understood() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let url = format!("{}?auto=reject&delay=200&format=string", sim.session_url());
    let v = rec.mount(
        &sim,
        &format!(r#"{{"sessionUrl":"{url}","pollIntervalMs":60000}}"#),
    );
    assert_eq!(settle(&v.completed(), 5_000).await.status(), "rejected");
    rec.done(v);
}

#[wasm_bindgen_test]
async fn completed_message_while_the_proxy_says_pending_does_not_complete() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let url = format!("{}?post=didit:completed&delay=200", sim.session_url());
    let v = rec.mount(
        &sim,
        &format!(r#"{{"sessionUrl":"{url}","pollIntervalMs":60000}}"#),
    );
    assert!(
        sim.wait_requests("status", 2, 5_000).await,
        "the message is a hint to poll"
    );
    sleep(300).await;
    assert_eq!(settle(&v.completed(), 100).await.state, "pending");
    assert_eq!(s(&v.status(), "status"), "pending");
    assert_eq!(rec.count("gu1kyc:complete"), 0);
    assert_eq!(rec.iframes(), 1);
    rec.done(v);
}

#[wasm_bindgen_test]
async fn message_flood_is_budgeted() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let url = format!(
        "{}?post=didit:status_updated&delay=300&repeat=50",
        sim.session_url()
    );
    let v = rec.mount(
        &sim,
        &format!(r#"{{"sessionUrl":"{url}","pollIntervalMs":60000}}"#),
    );
    sleep(1_500).await;
    let n = sim.requests("status").await;
    assert!(
        (2..=5).contains(&n),
        "50 hints gave {n} requests; seen: {}",
        seen_messages()
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn spoofed_message_from_another_origin_is_ignored() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = rec.mount_pinned(&sim);
    assert!(sim.wait_requests("status", 1, 3_000).await);
    sleep(200).await;
    for m in [
        j(r#"{"type":"didit:completed","data":{"status":"Approved"}}"#),
        JsValue::from_str(r#"{"type":"didit:status_updated"}"#),
        j(r#"{"data":{"type":"didit:cancelled"}}"#),
    ] {
        post_to_self(&m);
    }
    sleep(600).await;
    assert_eq!(
        sim.requests("status").await,
        1,
        "messages from the page's own origin are not hints"
    );
    assert_eq!(settle(&v.completed(), 50).await.state, "pending");
    rec.done(v);
}

#[wasm_bindgen_test]
async fn message_from_the_right_origin_but_another_window_is_ignored() {
    let sim = Sim::new("{}").await;
    let other = Sim::new("{}").await;
    let rec = Rec::new();
    let v = rec.mount_pinned(&sim);
    assert!(sim.wait_requests("status", 1, 3_000).await);
    // Same hosted origin, another window: it posts didit:completed to this page three times.
    let intruder = foreign_frame(&format!(
        "{}?post=didit:completed&delay=100&repeat=3",
        other.session_url()
    ));
    let origin = sim.hosted_origin();
    let delivered = || seen_from(&intruder, &origin, "didit:completed");
    for _ in 0..60 {
        if delivered() >= 3 {
            break;
        }
        sleep(50).await;
    }
    // Time for the poll a genuine hint gives (it comes at once) to reach the proxy.
    sleep(600).await;
    assert_eq!(
        delivered(),
        3,
        "the intruder's didit:completed messages reached this page from the hosted origin; seen: {}",
        seen_messages()
    );
    assert_eq!(
        sim.requests("status").await,
        1,
        "messages from another window of the hosted origin are not hints"
    );
    assert_eq!(settle(&v.completed(), 50).await.state, "pending");
    intruder.remove();
    rec.done(v);
}

// ---------------------------------------------------------------------------------------------
// Politeness

#[wasm_bindgen_test]
async fn polling_pauses_while_hidden_and_resumes_with_one_request() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    // A 400 ms interval: the poll after the one on return comes 400 ms after its answer at the
    // soonest, which leaves a loaded machine room between the return and the count.
    let v = rec.mount(&sim, r#"{"pollIntervalMs":400}"#);
    assert!(sim.wait_requests("status", 2, 5_000).await);
    set_hidden(true);
    sleep(500).await; // let a request in flight finish
    let hidden_at = sim.requests("status").await;
    sleep(1_500).await;
    let while_hidden = sim.requests("status").await - hidden_at;
    set_hidden(false);
    sleep(150).await;
    let after = sim.requests("status").await;
    assert_eq!(while_hidden, 0, "no request while hidden");
    assert_eq!(after, hidden_at + 1, "one request on return");
    rec.done(v);
}

#[wasm_bindgen_test]
async fn interval_stretches_while_nothing_changes() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = rec.mount(&sim, r#"{"pollIntervalMs":100}"#);
    sleep(2_500).await;
    let gaps = sim.gaps("status").await;
    assert!(gaps.len() >= 5, "{gaps:?}");
    assert!(
        gaps[gaps.len() - 1] >= 300.0,
        "quiet answers stretch the interval to 4×: {gaps:?}"
    );
    assert!(gaps[gaps.len() - 1] <= 550.0, "but no further: {gaps:?}");
    rec.done(v);
}

#[wasm_bindgen_test]
async fn refresh_polls_now() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = rec.mount(&sim, r#"{"pollIntervalMs":60000}"#);
    assert!(sim.wait_requests("status", 1, 3_000).await);
    sleep(100).await;
    sim.set(r#"{"status":"approved"}"#).await;
    v.refresh();
    assert_eq!(settle(&v.completed(), 2_000).await.status(), "approved");
    rec.done(v);
}

// ---------------------------------------------------------------------------------------------
// cancel()

#[wasm_bindgen_test]
async fn cancel_posts_and_completes_as_cancelled() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = rec.mount(&sim, r#"{"pollIntervalMs":60000}"#);
    assert!(rec.wait("gu1kyc:status", 1, 3_000).await);
    let r = settle(&v.cancel(), 5_000).await;
    assert_eq!(r.state, "resolved");
    assert_eq!(r.status(), "cancelled");
    assert_eq!(settle(&v.completed(), 100).await.status(), "cancelled");
    assert_eq!(sim.requests("cancel").await, 1);
    assert_eq!(rec.count("gu1kyc:complete"), 1);
    assert_eq!(rec.iframes(), 0);
    assert_eq!(
        settle(&v.cancel(), 500).await.status(),
        "cancelled",
        "cancel after the end answers the result"
    );
    assert_eq!(sim.requests("cancel").await, 1);
    rec.done(v);
}

#[wasm_bindgen_test]
async fn cancel_of_a_session_already_decided_reports_the_real_result() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = rec.mount(&sim, r#"{"pollIntervalMs":60000}"#);
    assert!(rec.wait("gu1kyc:status", 1, 3_000).await);
    sim.set(r#"{"status":"approved"}"#).await;
    let r = settle(&v.cancel(), 5_000).await;
    assert_eq!(
        r.status(),
        "approved",
        "the proxy refused the cancel (409); its status is the truth"
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn cancel_without_cancel_url_is_refused() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = mount(with(
        &rec.options(&sim, "{}"),
        "cancelUrl",
        JsValue::UNDEFINED,
    ))
    .unwrap();
    let r = settle(&v.cancel(), 1_000).await;
    assert_eq!(r.state, "rejected");
    assert_eq!(r.code(), "INVALID_OPTIONS");
    assert!(s(&r.value, "message").contains("cancelUrl"));
    assert_eq!(
        settle(&v.completed(), 100).await.state,
        "pending",
        "the verification goes on"
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn cancel_after_destroy_rejects_destroyed() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    v.destroy();
    assert_eq!(settle(&v.cancel(), 1_000).await.code(), "DESTROYED");
    assert_eq!(sim.requests("cancel").await, 0);
    rec.done(v);
}

// ---------------------------------------------------------------------------------------------
// More faults (hardening matrix)

/// Runs a session whose first status answers are `faults`, then approved; checks the result,
/// exactly one completion, the error codes, and the request count.
async fn fault_case(
    faults: &str,
    extra: &str,
    codes: &[&str],
    requests: std::ops::RangeInclusive<u32>,
) -> Sim {
    let sim = Sim::new(&format!(
        r#"{{"faults":{faults},"script":[{{"status":"approved"}}]}}"#
    ))
    .await;
    let rec = Rec::new();
    let v = rec.mount(&sim, extra);
    let r = settle(&v.completed(), 15_000).await;
    assert_eq!(
        r.status(),
        "approved",
        "faults {faults}: errors {:?}",
        rec.errors()
    );
    assert_eq!(rec.count("gu1kyc:complete"), 1);
    assert_eq!(rec.errors(), codes, "faults {faults}");
    assert!(rec.errors_retrying(false).is_empty());
    let n = sim.requests("status").await;
    assert!(
        requests.contains(&n),
        "faults {faults}: {n} requests, expected {requests:?}"
    );
    rec.done(v);
    sim
}

#[wasm_bindgen_test]
async fn rate_limited_without_retry_after_backs_off() {
    let sim = fault_case(
        r#"[{"status":429,"count":3}]"#,
        r#"{"pollIntervalMs":200}"#,
        &["RATE_LIMITED"; 3],
        4..=4,
    )
    .await;
    let gaps = sim.gaps("status").await;
    assert!(
        gaps[2] >= 390.0,
        "backoff without Retry-After still grows: {gaps:?}"
    );
}

#[wasm_bindgen_test]
async fn rate_limited_with_http_date_retry_after() {
    let when = js_sys::Date::new(&JsValue::from(js_sys::Date::now() + 2_500.0))
        .to_utc_string()
        .as_string()
        .unwrap();
    let sim = fault_case(
        &format!(r#"[{{"status":429,"retryAfter":"{when}"}}]"#),
        "{}",
        &["RATE_LIMITED"],
        2..=2,
    )
    .await;
    assert!(sim.gaps("status").await[0] >= 1_000.0);
}

#[wasm_bindgen_test]
async fn unavailable_503_burst_with_retry_after_seconds() {
    let sim = fault_case(
        r#"[{"status":503,"retryAfter":"1","count":2}]"#,
        "{}",
        &["PROXY_ERROR"; 2],
        3..=3,
    )
    .await;
    let gaps = sim.gaps("status").await;
    assert!(gaps[0] >= 950.0 && gaps[1] >= 950.0, "{gaps:?}");
}

#[wasm_bindgen_test]
async fn five_megabyte_body_is_refused_as_a_bad_response() {
    fault_case(
        r#"[{"status":200,"bodySize":5000000}]"#,
        "{}",
        &["BAD_RESPONSE"],
        2..=2,
    )
    .await;
}

/// Without `Content-Length` (chunked, as a compressed answer would be) the body is still read
/// only up to 1 MiB, and never copied into WebAssembly memory.
#[wasm_bindgen_test]
async fn five_megabyte_chunked_body_is_bounded_without_content_length() {
    let mem = || {
        let m: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
        m.buffer()
            .unchecked_into::<js_sys::ArrayBuffer>()
            .byte_length()
    };
    let before = mem();
    fault_case(
        r#"[{"status":200,"bodySize":5000000,"chunked":true}]"#,
        "{}",
        &["BAD_RESPONSE"],
        2..=2,
    )
    .await;
    let grown = mem() - before;
    assert!(
        grown < 1024 * 1024,
        "the body reached WebAssembly memory: it grew by {grown} B"
    );
}

#[wasm_bindgen_test]
async fn container_that_cannot_hold_an_iframe_is_a_fatal_error() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let opts = rec.options(
        &sim,
        &format!(r#"{{"sessionUrl":"{}"}}"#, sim.session_url()),
    );
    js_sys::Reflect::set(&opts, &"container".into(), &xml_container()).unwrap();
    let before = all_iframes();
    let v = mount(opts).expect("the options are valid");
    let r = settle(&v.completed(), 3_000).await;
    assert_eq!(r.state, "rejected", "no iframe, no verification");
    assert_eq!(r.code(), "CONTAINER_NOT_FOUND");
    assert_eq!(rec.calls("error"), 1);
    assert_eq!(all_iframes(), before);
    rec.done(v);
}

#[wasm_bindgen_test]
async fn html_200_page_is_a_bad_response() {
    fault_case(
        r#"[{"status":200,"body":"<!doctype html><p>maintenance","contentType":"text/html"}]"#,
        "{}",
        &["BAD_RESPONSE"],
        2..=2,
    )
    .await;
}

#[wasm_bindgen_test]
async fn unexpected_client_errors_are_proxy_errors_and_retried() {
    fault_case(
        r#"[{"status":400},{"status":404},{"status":410}]"#,
        "{}",
        &["PROXY_ERROR"; 3],
        4..=4,
    )
    .await;
}

#[wasm_bindgen_test]
async fn refresh_succeeds_after_a_401_from_the_proxy() {
    let sim = Sim::new(r#"{"faults":[{"status":401}],"script":[{"status":"approved"}]}"#).await;
    let rec = Rec::new();
    rec.refresh_mode(&sim, "works");
    let v = rec.mount(&sim, "{}");
    assert_eq!(settle(&v.completed(), 5_000).await.status(), "approved");
    assert_eq!(rec.refresh_calls(), 1);
    assert!(rec.errors().is_empty());
    assert_eq!(
        sim.requests("status").await,
        2,
        "the 401 and its retry with the new token"
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn connection_refused_while_the_proxy_restarts() {
    let sim = Sim::new(r#"{"script":[{"status":"pending"},{"status":"approved"}]}"#).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, r#"{"pollIntervalMs":200}"#);
    assert!(rec.wait("gu1kyc:status", 1, 3_000).await);
    control("POST", "/__control/outage", j(r#"{"ms":1500}"#))
        .await
        .expect("outage");
    let r = settle(&v.completed(), 15_000).await;
    assert_eq!(r.status(), "approved", "errors {:?}", rec.errors());
    let errs = rec.errors();
    assert!(
        !errs.is_empty() && errs.iter().all(|c| c == "NETWORK"),
        "{errs:?}"
    );
    assert!(
        errs.len() <= 5,
        "backoff, not hammering: {} failed tries in 1.5 s",
        errs.len()
    );
    assert_eq!(rec.count("gu1kyc:complete"), 1);
    rec.done(v);
}

#[wasm_bindgen_test]
async fn status_that_flaps_from_approved_back_to_pending_stays_approved() {
    let sim = Sim::new(r#"{"script":[{"status":"approved"},{"status":"pending"}]}"#).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, "{}");
    assert_eq!(settle(&v.completed(), 5_000).await.status(), "approved");
    sleep(500).await;
    assert_eq!(
        sim.requests("status").await,
        1,
        "nothing fetched after the terminal status"
    );
    assert_eq!(rec.statuses(), vec!["approved"]);
    assert_eq!(s(&v.status(), "status"), "approved");
    rec.done(v);
}

#[wasm_bindgen_test]
async fn every_fault_leaves_no_timer_or_listener_behind() {
    let before_timers = timer_count();
    let before_msg = listener_count("message");
    let before_vis = listener_count("visibilitychange");
    fault_case(
        r#"[{"status":500},{"status":429,"retryAfter":"0"},{"delayMs":400}]"#,
        r#"{"requestTimeoutMs":200}"#,
        &["PROXY_ERROR", "RATE_LIMITED", "NETWORK"],
        3..=4,
    )
    .await;
    sleep(50).await;
    assert_eq!(timer_count(), before_timers, "timers");
    assert_eq!(listener_count("message"), before_msg);
    assert_eq!(listener_count("visibilitychange"), before_vis);
}

// ---------------------------------------------------------------------------------------------
// Hostile messages from the genuine hosted window

#[wasm_bindgen_test]
async fn malformed_huge_and_prototype_polluting_messages_change_nothing() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let url = format!("{}?hostile=1&delay=200", sim.session_url());
    let v = rec.mount(
        &sim,
        &format!(r#"{{"sessionUrl":"{url}","pollIntervalMs":60000}}"#),
    );
    sleep(1_500).await;
    assert_eq!(
        settle(&v.completed(), 50).await.state,
        "pending",
        "no message completes anything"
    );
    assert_eq!(s(&v.status(), "status"), "pending");
    assert!(rec.errors().is_empty(), "{:?}", rec.errors());
    let n = sim.requests("status").await;
    assert!((1..=4).contains(&n), "20 hostile messages gave {n} requests (a valid type in a huge envelope is a hint, within budget)");
    let proto = js_sys::Object::new();
    assert!(
        get(&proto, "type").is_undefined(),
        "Object.prototype was not polluted"
    );
    // The client still works afterwards.
    sim.set(r#"{"status":"approved"}"#).await;
    v.refresh();
    assert_eq!(settle(&v.completed(), 3_000).await.status(), "approved");
    rec.done(v);
}

#[wasm_bindgen_test]
async fn forged_message_events_whose_data_throws_change_nothing() {
    // Page code can dispatch a MessageEvent that names the iframe's window and origin; its data
    // may be an object whose every read throws. The client must neither break nor be stopped.
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = rec.mount_pinned(&sim);
    assert!(rec.wait("gu1kyc:ready", 1, 5_000).await);
    let frame = rec.iframe().expect("the iframe");
    assert_eq!(forge_from_frame(&frame), 3);
    assert_eq!(settle(&v.completed(), 50).await.state, "pending");
    // The client still works afterwards.
    sim.set(r#"{"status":"approved"}"#).await;
    v.refresh();
    assert_eq!(settle(&v.completed(), 3_000).await.status(), "approved");
    rec.done(v);
}

// ---------------------------------------------------------------------------------------------
// Blocking requests: the ETag comes back in If-None-Match with Prefer: wait, the proxy holds the
// request until the state changes (a webhook tells it) or the wait ends.

/// A verification polled every 300 ms with 20 s waits, against a proxy that holds or not; gu1
/// decides 1.5 s after the first status. Returns once `completed` settles (within `ms`).
async fn decided_after_a_while(honour: bool, ms: u32) -> (Rec, Verification, Sim, Settled) {
    let sim = Sim::new(&format!(r#"{{"honourWait":{honour}}}"#)).await;
    let rec = Rec::new();
    let v = rec.mount(&sim, r#"{"pollIntervalMs":300,"waitSeconds":20}"#);
    assert!(rec.wait("gu1kyc:status", 1, 5_000).await);
    sleep(1_500).await;
    sim.set(r#"{"status":"approved"}"#).await;
    let r = settle(&v.completed(), ms).await;
    assert_eq!(r.status(), "approved", "errors: {:?}", rec.errors());
    (rec, v, sim, r)
}

#[wasm_bindgen_test]
async fn a_decision_reaches_the_held_request_at_once() {
    // The simulator's webhook tells the proxy, which answers the held request; its own refresh
    // of a held scope (every 5 s) is too slow for this deadline.
    let (rec, v, sim, _) = decided_after_a_while(true, 2_500).await;
    let holds = sim.holds().await;
    assert_eq!(
        holds.len(),
        2,
        "one plain request, then one held until the decision: {holds:?}"
    );
    assert!(!holds[0].0 && holds[1].0, "{holds:?}");
    assert!(
        holds[1].1 >= 1_000 && holds[1].2 == 200,
        "held, then answered with the decision: {holds:?}"
    );
    assert_eq!(rec.statuses(), vec!["pending", "approved"]);
    rec.done(v);
}

#[wasm_bindgen_test]
async fn a_proxy_that_does_not_hold_is_polled_as_before() {
    let (rec, v, sim, _) = decided_after_a_while(false, 5_000).await;
    let holds = sim.holds().await;
    assert!(holds.len() >= 3, "polled: {holds:?}");
    assert!(
        holds.iter().all(|h| !h.0),
        "no ETag, so no request asks to wait: {holds:?}"
    );
    assert_eq!(rec.count("gu1kyc:error"), 0);
    rec.done(v);
}

/// Faults: the session as it is, tagged `"t"`, then `next`.
fn tagged_then(sim: &Sim, next: &str) -> String {
    let body = format!(
        r#"{{\"status\":\"pending\",\"id\":\"{}\"}}"#,
        s(&sim.raw, "id")
    );
    format!(r#"[{{"status":200,"body":"{body}","headers":{{"ETag":"\"t\""}}}},{next}]"#)
}

#[wasm_bindgen_test]
async fn a_proxy_answering_every_wait_at_once_is_not_hammered() {
    let sim = Sim::new(r#"{"honourWait":true}"#).await;
    // The first answer is tagged; then eight answers of "held, nothing changed" that were not
    // held at all.
    sim.faults(&tagged_then(
        &sim,
        r#"{"status":304,"count":8,"headers":{"ETag":"\"t\"","Preference-Applied":"wait=20"}}"#,
    ))
    .await;
    let rec = Rec::new();
    let v = rec.mount(&sim, r#"{"pollIntervalMs":300,"waitSeconds":20}"#);
    assert!(sim.wait_requests("status", 9, 6_000).await);
    let gaps = sim.gaps("status").await;
    let storm = &gaps[..8];
    // Requests are timed from when the previous one was sent, so a late delivery shortens the
    // gap the server sees after it by as much as it lengthened the one before: the rate is
    // what must hold (one per 300 ms; a client re-asking at once would make it one per few ms).
    let total: f64 = storm.iter().sum();
    assert!(
        total >= 8.0 * 270.0 && storm.iter().all(|g| *g >= 100.0),
        "one request per pollIntervalMs at most: {gaps:?}"
    );
    let holds = sim.holds().await;
    assert!(holds[1..9].iter().all(|h| h.0 && h.2 == 304), "{holds:?}");
    assert_eq!(rec.count("gu1kyc:error"), 0);
    assert_eq!(rec.statuses(), vec!["pending"], "a 304 keeps the snapshot");
    sim.set(r#"{"status":"approved"}"#).await;
    assert_eq!(settle(&v.completed(), 3_000).await.status(), "approved");
    rec.done(v);
}

#[wasm_bindgen_test]
async fn a_proxy_holding_longer_than_promised_ends_the_waits() {
    let sim = Sim::new(r#"{"honourWait":true}"#).await;
    // Asked to wait 1 s, the proxy holds 4 s: the client gives up at 1.5 s.
    sim.faults(&tagged_then(
        &sim,
        r#"{"delayMs":4000,"status":304,"headers":{"Preference-Applied":"wait=1"}}"#,
    ))
    .await;
    let rec = Rec::new();
    let v = rec.mount(
        &sim,
        r#"{"pollIntervalMs":300,"waitSeconds":1,"requestTimeoutMs":500}"#,
    );
    assert!(rec.wait("gu1kyc:error", 1, 5_000).await);
    assert_eq!(rec.errors_retrying(true), vec!["NETWORK"]);
    assert!(sim.wait_requests("status", 3, 5_000).await);
    let aborted = sim.aborted("status").await;
    assert!(
        !aborted.is_empty() && get(&aborted[0], "wait").is_truthy(),
        "the held request was abandoned"
    );
    let holds = sim.holds().await;
    assert!(
        holds[1..].iter().all(|h| !h.0),
        "no more waits after one overran: {holds:?}"
    );
    sim.set(r#"{"status":"approved"}"#).await;
    assert_eq!(settle(&v.completed(), 4_000).await.status(), "approved");
    rec.done(v);
}

/// A verification against a proxy that holds, polled every 300 ms with `wait` s waits, once
/// its first status is in.
async fn held(wait: u32) -> (Sim, Rec, Verification) {
    let sim = Sim::new(r#"{"honourWait":true}"#).await;
    let rec = Rec::new();
    let v = rec.mount(
        &sim,
        &format!(r#"{{"pollIntervalMs":300,"waitSeconds":{wait}}}"#),
    );
    assert!(rec.wait("gu1kyc:status", 1, 5_000).await);
    (sim, rec, v)
}

#[wasm_bindgen_test]
async fn destroy_aborts_the_held_request() {
    let (sim, rec, v) = held(20).await;
    sleep(1_000).await;
    let destroyed_at = sim.clock_ms().await;
    v.destroy();
    let aborted = sim.wait_aborted("status", 800).await;
    assert_eq!(
        aborted.len(),
        1,
        "the held request was aborted: {}",
        sim.log_json().await
    );
    assert!(get(&aborted[0], "wait").is_truthy());
    let after = get(&aborted[0], "atMs").as_f64().unwrap_or(f64::MAX) - destroyed_at;
    assert!(
        after < 800.0,
        "the proxy saw the abort {after} ms after destroy()"
    );
    assert_eq!(
        sim.requests("status").await,
        1,
        "nothing but the first request was answered"
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn hidden_while_held_the_request_ends_and_no_other_follows_until_shown() {
    let (sim, rec, v) = held(1).await;
    sleep(500).await;
    set_hidden(true);
    sleep(2_500).await;
    let holds = sim.holds().await;
    assert_eq!(
        holds.len(),
        2,
        "the held request answered, no other while hidden: {holds:?}"
    );
    assert!(holds[1].0 && holds[1].2 == 304, "{holds:?}");
    set_hidden(false);
    // The request on return is held too (1 s): it is logged when answered.
    assert!(
        sim.wait_requests("status", 3, 2_000).await,
        "one request on return"
    );
    let holds = sim.holds().await;
    assert!(holds[2].0, "{holds:?}");
    rec.done(v);
}

// ---------------------------------------------------------------------------------------------
// Camera pre-flight, modes and the fallback window

const INSTAGRAM: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 340.0.3.23.92 (iPhone14,5; iOS 17_5; en_US)";
const TIKTOK: &str = "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 musical_ly_2023509030 BytedanceWebview/d8a21c6";
const EXPLANATION: &str =
    "The camera cannot be used on this page. Continue the verification in a new window.";

async fn preflight_of(session_url: &str) -> JsValue {
    let o = j(&format!(r#"{{"sessionUrl":"{session_url}"}}"#));
    let p = gu1_kyc_web::preflight(o).expect("preflight accepts the options");
    wasm_bindgen_futures::JsFuture::from(p)
        .await
        .expect("preflight resolves")
}

/// Mounts as `Rec::mount_at` does while `navigator.userAgent` reads `ua`.
fn mount_as(ua: &str, rec: &Rec, sim: &Sim, extra: &str) -> Verification {
    assert!(set_user_agent(Some(ua)), "the user agent can be replaced");
    let v = rec.mount_at(sim, extra);
    set_user_agent(None);
    v
}

/// Runs `f` with `navigator.userAgent` reading `ua`, then restores it.
async fn with_agent<F: std::future::Future<Output = ()>>(ua: &str, f: F) {
    assert!(set_user_agent(Some(ua)), "the user agent can be replaced");
    f.await;
    set_user_agent(None);
}

#[wasm_bindgen_test]
async fn preflight_reads_the_page_as_it_is() {
    let sim = Sim::new(APPROVE_SOON).await;
    let r = preflight_of(&sim.session_url()).await;
    let expected = expected_preflight().await;
    print(&format!(
        "preflight on the test page: ok {:?}, reason {:?}",
        get(&r, "ok"),
        get(&r, "reason")
    ));
    assert_eq!(get(&r, "reason"), expected);
    assert_eq!(get(&r, "ok").as_bool(), Some(expected.is_null()));
    // An app's iOS WebView (no `Safari/`), and an Android app named by its mark.
    for ua in [INSTAGRAM, TIKTOK] {
        with_agent(ua, async {
            let r = preflight_of(&sim.session_url()).await;
            assert_eq!(s(&r, "reason"), "IN_APP_BROWSER", "{ua}");
            assert_eq!(get(&r, "ok").as_bool(), Some(false));
        })
        .await;
    }
}

#[wasm_bindgen_test]
fn preflight_refuses_bad_options() {
    for (o, code) in [
        (JsValue::NULL, INVALID),
        (j("{}"), INVALID),
        (j(r#"{"sessionUrl":7}"#), INVALID),
        (
            j(r#"{"sessionUrl":"javascript:alert(1)"}"#),
            "UNSAFE_SESSION_URL",
        ),
    ] {
        let e = gu1_kyc_web::preflight(o).expect_err("refused");
        assert_eq!(s(&e, "code"), code, "{}", s(&e, "message"));
        assert_eq!(s(&e, "name"), "KycError");
    }
}

#[wasm_bindgen_test]
fn refuses_bad_modes_fallbacks_and_labels() {
    assert_all_refused(vec![
        ("mode", "popup".into(), INVALID, "mode"),
        ("mode", JsValue::from(1), INVALID, "mode"),
        ("fallback", "redirect".into(), INVALID, "fallback"),
        ("labels", "Close".into(), INVALID, "labels"),
        ("labels", j(r#"{"button":""}"#), INVALID, "labels"),
        ("labels", j(r#"{"close":3}"#), INVALID, "labels"),
    ]);
}

#[wasm_bindgen_test]
async fn an_in_app_browser_gets_the_window_button_and_still_completes_once() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = mount_as(INSTAGRAM, &rec, &sim, "");
    assert_eq!(
        view(&rec.container()),
        format!("panel:p={EXPLANATION}|button[button]=Continue in a new window"),
        "the explanation and one button instead of the iframe"
    );
    assert_eq!(rec.iframes(), 0);
    assert!(rec.wait("gu1kyc:fallback", 1, 2_000).await);
    assert_eq!(
        s(&get(&rec.last("gu1kyc:fallback"), "detail"), "reason"),
        "IN_APP_BROWSER"
    );
    assert!(
        rec.wait("gu1kyc:ready", 1, 2_000).await,
        "ready once the button is in place"
    );
    // Polling goes on; the decision completes the verification once.
    assert!(rec.wait("gu1kyc:status", 1, 3_000).await);
    sim.set(r#"{"status":"approved"}"#).await;
    let r = settle(&v.completed(), 5_000).await;
    assert_eq!(r.status(), "approved");
    sleep(300).await;
    assert_eq!(rec.count("gu1kyc:complete"), 1);
    assert_eq!(rec.count("gu1kyc:fallback"), 1);
    assert_eq!(
        view(&rec.container()),
        "",
        "the panel is removed at the end"
    );
    rec.done(v);
}

#[wasm_bindgen_test]
async fn labels_and_window_mode() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = rec.mount_at(
        &sim,
        r#""mode":"window","labels":{"button":"Abrir verificación"}"#,
    );
    assert_eq!(
        view(&rec.container()),
        "panel:button[button]=Abrir verificación",
        "window mode: the button alone"
    );
    assert!(rec.wait("gu1kyc:ready", 1, 2_000).await);
    assert_eq!(
        rec.count("gu1kyc:fallback"),
        0,
        "window mode is no fallback"
    );
    v.destroy();
    assert_eq!(view(&rec.container()), "", "destroy removes the panel");
    rec.done_without();
}

#[wasm_bindgen_test]
async fn fallback_none_mounts_the_iframe_anyway() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = mount_as(INSTAGRAM, &rec, &sim, r#""fallback":"none""#);
    assert_eq!(view(&rec.container()), "iframe");
    sleep(200).await;
    assert_eq!(rec.count("gu1kyc:fallback"), 0);
    rec.done(v);
}

#[wasm_bindgen_test]
async fn modal_mode_closes_without_cancelling_and_reopens() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let v = rec.mount_at(
        &sim,
        r#""mode":"modal","title":"Verify","labels":{"close":"Cerrar"}"#,
    );
    assert_eq!(
        view(&rec.container()),
        "dialog:open",
        "opened with showModal"
    );
    let dialog = rec.container().first_element_child().unwrap();
    assert_eq!(
        dialog.get_attribute("aria-label").as_deref(),
        Some("Verify")
    );
    assert!(
        dialog.matches(":modal").unwrap_or(true),
        "modal, not just open"
    );
    let iframe = rec.iframe().expect("the iframe is in the dialog");
    assert_eq!(iframe.parent_element().as_ref(), Some(&dialog));
    assert_eq!(
        dialog
            .query_selector("form[method=dialog] > button")
            .unwrap()
            .map(|b| b.text_content().unwrap_or_default()),
        Some("Cerrar".into())
    );
    assert!(rec.wait("gu1kyc:ready", 1, 5_000).await);
    // The close button submits the dialog's form: the dialog closes, the session does not.
    click_button(&dialog);
    assert!(rec.wait("gu1kyc:close", 1, 2_000).await);
    assert_eq!(
        s(&get(&rec.last("gu1kyc:close"), "detail"), "view"),
        "modal"
    );
    assert_eq!(view(&rec.container()), "dialog");
    let pending = settle(&v.completed(), 300).await;
    assert_eq!(pending.state, "pending", "closing is not cancelling");
    v.open();
    assert_eq!(view(&rec.container()), "dialog:open");
    assert_eq!(
        rec.iframe().as_ref(),
        Some(&iframe),
        "the same iframe, the hosted page's state intact"
    );
    assert!(rec.wait("gu1kyc:status", 1, 3_000).await);
    sim.set(r#"{"status":"approved"}"#).await;
    assert_eq!(settle(&v.completed(), 5_000).await.status(), "approved");
    assert_eq!(view(&rec.container()), "", "the dialog goes at the end");
    sleep(100).await;
    assert_eq!(
        rec.count("gu1kyc:close"),
        1,
        "removal is not reported as a close"
    );
    rec.done(v);
}
