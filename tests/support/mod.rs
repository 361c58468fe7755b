//! Rust side of the browser test harness: typed wrappers over `harness.js`.
#![allow(dead_code)]

use gu1_kyc_web::{mount, Verification};
use wasm_bindgen::prelude::*;

/// The simulator the suites talk to (started by `scripts/test.sh`).
pub const SIM: &str = match option_env!("GU1_SIM_URL") {
    Some(u) => u,
    None => "http://127.0.0.1:27871",
};

#[wasm_bindgen(module = "/tests/support/harness.js")]
extern "C" {
    #[wasm_bindgen(js_name = setSim)]
    fn set_sim(url: &str);
    #[wasm_bindgen(catch)]
    pub async fn control(method: &str, path: &str, body: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = newSession)]
    async fn new_session(body: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = requestCount)]
    async fn request_count(entity: &str, endpoint: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = requestGaps)]
    async fn request_gaps(entity: &str, endpoint: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    async fn requests(entity: &str, endpoint: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = abortedRequests)]
    async fn aborted_requests(entity: &str, endpoint: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = requestLog)]
    async fn request_log(entity: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = waitRequests)]
    async fn wait_requests(entity: &str, endpoint: &str, n: u32, ms: u32) -> JsValue;
    fn recorder() -> JsValue;
    fn options(rec: &JsValue, s: &JsValue, extra: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = withRefresh)]
    fn with_refresh(rec: &JsValue, s: &JsValue, mode: &str);
    fn throwing(rec: &JsValue, name: &str);
    fn count(rec: &JsValue, kind: &str) -> u32;
    #[wasm_bindgen(js_name = callCount)]
    fn call_count(rec: &JsValue, name: &str) -> u32;
    fn statuses(rec: &JsValue) -> Vec<String>;
    #[wasm_bindgen(js_name = errorCodes)]
    fn error_codes(rec: &JsValue, retrying: JsValue) -> Vec<String>;
    #[wasm_bindgen(js_name = lastEvent)]
    fn last_event(rec: &JsValue, kind: &str) -> JsValue;
    fn calls(rec: &JsValue) -> JsValue;
    fn iframes(rec: &JsValue) -> u32;
    fn iframe(rec: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = allIframes)]
    pub fn all_iframes() -> u32;
    fn cleanup(rec: &JsValue);
    #[wasm_bindgen(js_name = sleep)]
    async fn sleep_js(ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = settle)]
    async fn settle_js(p: &js_sys::Promise, ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = waitEvents)]
    async fn wait_events(rec: &JsValue, kind: &str, n: u32, ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = waitLoad)]
    async fn wait_load_js(el: &web_sys::Element, ms: u32) -> JsValue;
    /// Makes `navigator.userAgent` read `ua` (the real one again with `None`); false when the
    /// browser does not let it be replaced.
    #[wasm_bindgen(js_name = setUserAgent)]
    pub fn set_user_agent(ua: Option<&str>) -> bool;
    #[wasm_bindgen(js_name = expectedPreflight)]
    pub async fn expected_preflight() -> JsValue;
    /// What the container shows: "iframe", "dialog[:open]", "panel:<children>" or "".
    pub fn view(el: &web_sys::Element) -> String;
    #[wasm_bindgen(js_name = clickButton)]
    pub fn click_button(el: &web_sys::Element);
    #[wasm_bindgen(js_name = setHidden)]
    pub fn set_hidden(hidden: bool);
    #[wasm_bindgen(js_name = foreignFrame)]
    pub fn foreign_frame(url: &str) -> web_sys::Element;
    #[wasm_bindgen(js_name = xmlContainer)]
    pub fn xml_container() -> web_sys::Element;
    #[wasm_bindgen(js_name = postToSelf)]
    pub fn post_to_self(message: &JsValue);
    /// Dispatches forged MessageEvents from `frame`'s window and origin whose data throws.
    #[wasm_bindgen(js_name = forgeFromFrame)]
    pub fn forge_from_frame(frame: &web_sys::HtmlIFrameElement) -> u32;
    #[wasm_bindgen(js_name = get)]
    fn get_js(obj: &JsValue, key: &str) -> JsValue;
    #[wasm_bindgen(js_name = keys)]
    pub fn keys(obj: &JsValue) -> String;
    #[wasm_bindgen(js_name = isError)]
    pub fn is_error(e: &JsValue) -> bool;
    #[wasm_bindgen(js_name = seenMessages)]
    pub fn seen_messages() -> String;
    /// Messages received from `frame`'s window, of `origin` and message `type`.
    #[wasm_bindgen(js_name = seenFrom)]
    pub fn seen_from(frame: &web_sys::Element, origin: &str, kind: &str) -> u32;
    fn remember(token: &str);
    /// Prints a line (shown with `--nocapture`).
    pub fn print(line: &str);
    #[wasm_bindgen(js_name = tokenLeak)]
    fn token_leak(rec: &JsValue) -> String;
    #[wasm_bindgen(js_name = listenerCount)]
    pub fn listener_count(kind: &str) -> u32;
    #[wasm_bindgen(js_name = timerCount)]
    pub fn timer_count() -> u32;
    #[wasm_bindgen(js_name = pageText)]
    pub fn page_text() -> String;
    #[wasm_bindgen(js_name = historyLength)]
    pub fn history_length() -> u32;
    #[wasm_bindgen(js_name = takePageErrors)]
    pub fn take_page_errors() -> String;
    #[wasm_bindgen(js_name = thenTrap)]
    pub fn then_trap(f: &js_sys::Function) -> js_sys::Function;
    #[wasm_bindgen(js_name = replaceOpen)]
    pub fn replace_open(f: &js_sys::Function) -> js_sys::Function;
    #[wasm_bindgen(js_name = onFocus)]
    pub fn on_focus(f: &js_sys::Function);
    pub fn hooks(el: &web_sys::Element) -> String;
    #[wasm_bindgen(js_name = pageRule)]
    pub fn page_rule(rule: &str) -> js_sys::Function;
    pub fn computed(el: &web_sys::Element, name: &str) -> String;
    #[wasm_bindgen(js_name = stepDetails)]
    fn step_details(rec: &JsValue) -> js_sys::Array;
    #[wasm_bindgen(js_name = stepCalls)]
    fn step_calls(rec: &JsValue) -> js_sys::Array;
    #[wasm_bindgen(js_name = heardText)]
    fn heard_text(rec: &JsValue, extra: &JsValue) -> String;
}

/// Parses JSON written in the test.
pub fn j(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("test JSON")
}

/// A property of a JS object.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    get_js(obj, key)
}

/// A string property (empty when absent).
pub fn s(obj: &JsValue, key: &str) -> String {
    get(obj, key).as_string().unwrap_or_default()
}

pub async fn sleep(ms: u32) {
    sleep_js(ms).await;
}

/// A simulator entity (and session) created through the control API.
pub struct Sim {
    pub raw: JsValue,
}

impl Sim {
    /// `POST /__control/sessions` with `body`.
    pub async fn new(body: &str) -> Sim {
        set_sim(SIM);
        let raw = new_session(j(body))
            .await
            .expect("simulator reachable (is scripts/test.sh running it?)");
        Sim { raw }
    }

    pub fn entity(&self) -> String {
        s(&self.raw, "entityId")
    }

    pub fn token(&self) -> String {
        s(&self.raw, "token")
    }

    pub fn session_url(&self) -> String {
        s(&self.raw, "sessionUrl")
    }

    pub fn hosted_origin(&self) -> String {
        s(&self.raw, "hostedOrigin")
    }

    /// Status requests seen by the proxy for this entity.
    pub async fn requests(&self, endpoint: &str) -> u32 {
        request_count(&self.entity(), endpoint)
            .await
            .expect("log")
            .as_f64()
            .unwrap_or(-1.0) as u32
    }

    /// Gaps between consecutive requests, ms.
    pub async fn gaps(&self, endpoint: &str) -> Vec<f64> {
        let v = request_gaps(&self.entity(), endpoint).await.expect("log");
        js_sys::Array::from(&v)
            .iter()
            .filter_map(|x| x.as_f64())
            .collect()
    }

    pub async fn log(&self) -> JsValue {
        requests(&self.entity(), "").await.expect("log")
    }

    /// Answered status requests, oldest first: whether each asked to be held (`Prefer: wait`
    /// with `If-None-Match`), how long the proxy held it (ms), the HTTP status.
    pub async fn holds(&self) -> Vec<(bool, u64, u16)> {
        let v = requests(&self.entity(), "status").await.expect("log");
        js_sys::Array::from(&v)
            .iter()
            .map(|e| {
                let n = |k| get(&e, k).as_f64().unwrap_or(-1.0);
                (
                    get(&e, "wait").is_truthy(),
                    n("heldMs") as u64,
                    n("status") as u16,
                )
            })
            .collect()
    }

    /// Requests to `endpoint` whose client went away before the proxy answered (log entries).
    pub async fn aborted(&self, endpoint: &str) -> Vec<JsValue> {
        let v = aborted_requests(&self.entity(), endpoint)
            .await
            .expect("log");
        js_sys::Array::from(&v).iter().collect()
    }

    /// `aborted(endpoint)` once it is not empty, or after `ms` (the proxy logs an abort when it
    /// notices the connection closed).
    pub async fn wait_aborted(&self, endpoint: &str, ms: u32) -> Vec<JsValue> {
        let mut aborted = self.aborted(endpoint).await;
        for _ in 0..ms / 50 {
            if !aborted.is_empty() {
                break;
            }
            sleep(50).await;
            aborted = self.aborted(endpoint).await;
        }
        aborted
    }

    /// The simulator's clock (ms), as its request log stamps entries (`atMs`).
    pub async fn clock_ms(&self) -> f64 {
        let log = request_log(&self.entity()).await.expect("log");
        get(&log, "now").as_f64().expect("log.now")
    }

    /// The whole request log, aborted requests included, as JSON (for failure messages).
    pub async fn log_json(&self) -> String {
        let log = request_log(&self.entity()).await.expect("log");
        js_sys::JSON::stringify(&log)
            .map(String::from)
            .unwrap_or_default()
    }

    pub async fn wait_requests(&self, endpoint: &str, n: u32, ms: u32) -> bool {
        wait_requests(&self.entity(), endpoint, n, ms)
            .await
            .is_truthy()
    }

    /// Applies a step now (`POST /__control/entities/{e}/set`).
    pub async fn set(&self, step: &str) {
        control(
            "POST",
            &format!("/__control/entities/{}/set", self.entity()),
            j(step),
        )
        .await
        .expect("set");
    }

    /// Queues faults.
    pub async fn faults(&self, faults: &str) {
        let body = j(&format!(r#"{{"faults":{faults}}}"#));
        control(
            "POST",
            &format!("/__control/entities/{}/faults", self.entity()),
            body,
        )
        .await
        .expect("faults");
    }

    /// Replaces the script.
    pub async fn script(&self, steps: &str) {
        let body = j(&format!(r#"{{"steps":{steps}}}"#));
        control(
            "POST",
            &format!("/__control/entities/{}/script", self.entity()),
            body,
        )
        .await
        .expect("script");
    }

    /// gu1 creates a session for the entity now.
    pub async fn start(&self) -> JsValue {
        control(
            "POST",
            &format!("/__control/entities/{}/start", self.entity()),
            JsValue::NULL,
        )
        .await
        .expect("start")
    }

    /// A token for the entity with the given lifetime (0: already expired).
    pub async fn token_with_ttl(&self, secs: u32) -> String {
        let t = control(
            "POST",
            &format!("/__control/entities/{}/token", self.entity()),
            j(&format!(r#"{{"ttlSecs":{secs}}}"#)),
        )
        .await
        .expect("token");
        let token = s(&t, "token");
        remember(&token);
        token
    }
}

/// A container with every DOM event and callback recorded.
pub struct Rec {
    pub raw: JsValue,
}

/// A settled (or still pending) promise.
pub struct Settled {
    pub state: String,
    pub value: JsValue,
}

impl Settled {
    pub fn code(&self) -> String {
        s(&self.value, "code")
    }
    pub fn status(&self) -> String {
        s(&self.value, "status")
    }
}

pub async fn settle(p: &js_sys::Promise, ms: u32) -> Settled {
    let r = settle_js(p, ms).await;
    Settled {
        state: s(&r, "state"),
        value: get(&r, "value"),
    }
}

impl Rec {
    pub fn new() -> Rec {
        Rec { raw: recorder() }
    }

    pub fn container(&self) -> web_sys::Element {
        get(&self.raw, "el").into()
    }

    /// The options `mount` would get: session URLs and token, recording callbacks, `extra`.
    pub fn options(&self, sim: &Sim, extra: &str) -> JsValue {
        options(&self.raw, &sim.raw, &j(extra))
    }

    /// Mounts with the session's URLs, token and `extra` options.
    pub fn mount(&self, sim: &Sim, extra: &str) -> Verification {
        mount(self.options(sim, extra)).expect("mount accepts the options")
    }

    /// Mounts with the simulator's session URL pinned and a 60 s poll interval, so requests
    /// come from the first poll and from hints only.
    pub fn mount_pinned(&self, sim: &Sim) -> Verification {
        self.mount(
            sim,
            &format!(
                r#"{{"sessionUrl":"{}","pollIntervalMs":60000}}"#,
                sim.session_url()
            ),
        )
    }

    /// Mounts with the simulator's session URL and the option members in `extra` (JSON
    /// without braces, may be empty).
    pub fn mount_at(&self, sim: &Sim, extra: &str) -> Verification {
        let sep = if extra.is_empty() { "" } else { "," };
        self.mount(
            sim,
            &format!(r#"{{"sessionUrl":"{}"{sep}{extra}}}"#, sim.session_url()),
        )
    }

    pub fn refresh_mode(&self, sim: &Sim, mode: &str) {
        with_refresh(&self.raw, &sim.raw, mode);
    }

    pub fn throwing(&self, callback: &str) {
        throwing(&self.raw, callback);
    }

    pub fn count(&self, kind: &str) -> u32 {
        count(&self.raw, kind)
    }

    pub fn calls(&self, name: &str) -> u32 {
        call_count(&self.raw, name)
    }

    pub fn call_list(&self) -> JsValue {
        calls(&self.raw)
    }

    pub fn statuses(&self) -> Vec<String> {
        statuses(&self.raw)
    }

    pub fn errors(&self) -> Vec<String> {
        error_codes(&self.raw, JsValue::UNDEFINED)
    }

    pub fn errors_retrying(&self, retrying: bool) -> Vec<String> {
        error_codes(&self.raw, JsValue::from_bool(retrying))
    }

    pub fn last(&self, kind: &str) -> JsValue {
        last_event(&self.raw, kind)
    }

    pub fn iframes(&self) -> u32 {
        iframes(&self.raw)
    }

    pub fn iframe(&self) -> Option<web_sys::HtmlIFrameElement> {
        let f = iframe(&self.raw);
        (!f.is_null()).then(|| f.into())
    }

    /// The `gu1kyc:step` details, and `onStep`'s arguments, in order.
    pub fn steps(&self) -> Vec<JsValue> {
        step_details(&self.raw).iter().collect()
    }

    pub fn step_calls(&self) -> Vec<JsValue> {
        step_calls(&self.raw).iter().collect()
    }

    /// Everything the page heard (events, callback arguments) and `extra`, as JSON.
    pub fn heard(&self, extra: &JsValue) -> String {
        heard_text(&self.raw, extra)
    }

    pub fn refresh_calls(&self) -> u32 {
        get(&self.raw, "refreshCalls").as_f64().unwrap_or(0.0) as u32
    }

    pub fn body_events(&self) -> u32 {
        get(&self.raw, "bodyEvents").as_f64().unwrap_or(0.0) as u32
    }

    pub async fn wait(&self, kind: &str, n: u32, ms: u32) -> bool {
        wait_events(&self.raw, kind, n, ms).await.is_truthy()
    }

    /// Waits for `el`'s next `load` event.
    pub async fn wait_load(&self, el: &web_sys::Element, ms: u32) -> bool {
        wait_load_js(el, ms).await.is_truthy()
    }

    /// Destroys the verification, checks no token leaked anywhere, removes the container.
    pub fn done(self, v: Verification) {
        v.destroy();
        self.done_without();
    }

    /// Checks no token leaked anywhere and removes the container.
    pub fn done_without(self) {
        let leak = token_leak(&self.raw);
        cleanup(&self.raw);
        assert!(leak.is_empty(), "a token leaked into the {leak}");
    }
}

/// The error thrown by `mount` for these options.
pub fn mount_error(opts: JsValue) -> JsValue {
    match mount(opts) {
        Ok(v) => {
            v.destroy();
            panic!("mount accepted options it should refuse");
        }
        Err(e) => e,
    }
}
