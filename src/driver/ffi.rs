//! What the driver imports from JavaScript: DOM calls declared without an exception check where
//! they cannot throw, the timer and abort primitives, and the inline helpers (IO only: what an
//! answer means is decided in Rust).

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, EventTarget};

use crate::js::{document, get};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(format: &str, name: &str, thrown: &JsValue);

    // Calls that cannot throw with the arguments given here (constant attribute, property and
    // selector strings, a known tag, a new element, callbacks made by `listen`, arrays the
    // helpers made), declared without web-sys's `catch`: no exception check per call. Anything
    // that can throw keeps one (`Reflect.get` on page objects, the container selector,
    // `JSON.parse`, `URL`, integrator callbacks).
    /// A DOM object these methods are called on (seen through `dom()`).
    #[derive(Debug)]
    pub(super) type Dom;
    #[wasm_bindgen(method, js_name = setAttribute)]
    pub(super) fn set_attr(this: &Dom, name: &str, value: &str);
    #[wasm_bindgen(method, js_name = setProperty)]
    pub(super) fn set_style(this: &Dom, name: &str, value: &str);
    #[wasm_bindgen(method, js_name = createElement)]
    pub(super) fn create(this: &Dom, tag: &str) -> JsValue;
    #[wasm_bindgen(method, js_name = removeEventListener)]
    pub(super) fn unlisten(this: &Dom, kind: &str, f: &Function);
    /// With a constant selector: it parses.
    #[wasm_bindgen(method, js_name = querySelectorAll)]
    pub(super) fn select_all(this: &Dom, selector: &str) -> web_sys::NodeList;
    /// Item `i` of an array the helpers made (`deferred`, `exchange`).
    #[wasm_bindgen(js_namespace = Reflect, js_name = get)]
    pub(super) fn item(array: &JsValue, i: u32) -> JsValue;
    /// A new element into an element: always a valid insertion.
    #[wasm_bindgen(method, js_name = appendChild)]
    pub(super) fn append(this: &Dom, child: &Dom);
    /// `setTimeout(f, ms, a, b, c)`: `f(a, b, c)` after `ms`.
    #[wasm_bindgen(js_name = setTimeout)]
    pub(super) fn set_timeout(f: &JsValue, ms: i32, a: u32, b: u32, c: bool) -> i32;
    #[wasm_bindgen(js_name = clearTimeout)]
    pub(super) fn clear_timeout(handle: i32);
    #[wasm_bindgen(js_name = AbortController)]
    #[derive(Debug)]
    pub(super) type Abort;
    #[wasm_bindgen(constructor, js_class = "AbortController")]
    pub(super) fn new() -> Abort;
    #[wasm_bindgen(method, js_name = abort)]
    pub(super) fn abort(this: &Abort);
}

/// Any DOM object, for the calls declared on `Dom`.
pub(super) fn dom(v: &JsValue) -> &Dom {
    v.unchecked_ref()
}

// The JavaScript helpers, IO only (what an answer means is decided here): a request and its answer
// read in one call (the body with a bound: a loop over promises that web-sys can only spell as one
// continuation per chunk), a DOM event dispatched, and the three ways the browser calls back (a
// promise settled, an event listened to, a promise made) routed to the one `dispatch` function
// with the two numbers that say what for, so no closure is made per callback.
#[wasm_bindgen(inline_js = r#"
export async function bounded(r, max) {
  if (!r.body || r.headers.get("Content-Length") > max) return null;
  const reader = r.body.getReader(), parts = [];
  for (let n = 0; ; ) {
    const { done, value } = await reader.read();
    if (done) return new Blob(parts).text();
    if ((n += value.length) > max) return reader.cancel(), null;
    parts.push(value);
  }
}
export function settled(p, f, a, b) {
  return Promise.resolve(p).then((v) => f(a, b, true, v), (e) => f(a, b, false, e));
}
export function facts(w) {
  const n = w.navigator, m = n.mediaDevices, d = w.document, p = d.permissionsPolicy || d.featurePolicy, q = n.permissions;
  return [w.isSecureContext, !!(m && m.getUserMedia), p ? p.allowsFeature("camera") : null, w != w.top, n.userAgent,
    q && q.query({ name: "camera" }).then((s) => s.state, () => null)];
}
export function listen(target, type, f, a, b) {
  const l = (e) => f(a, b, true, e);
  target.addEventListener(type, l);
  return l;
}
export function deferred(handled) {
  const d = [];
  d[0] = new Promise((res, rej) => ((d[1] = res), (d[2] = rej)));
  if (handled) d[0].catch(Boolean);
  return d;
}
export async function exchange(url, post, token, wait, tag, signal, max) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  if (wait) headers.Prefer = "wait=" + wait, headers["If-None-Match"] = tag;
  const r = await fetch(url, { method: post ? "POST" : "GET", headers, cache: "no-store", signal }).catch(() => null);
  const h = r && r.headers;
  return r && [r.status, h.get("Retry-After"), h.get("ETag"), h.has("Preference-Applied"), r.status == 304 ? null : await bounded(r, max)];
}
export function emit(target, type, detail) {
  target.dispatchEvent(new CustomEvent(type, { bubbles: true, composed: true, detail }));
}"#)]
extern "C" {
    /// Calls `f(a, b, true, value)` or `f(a, b, false, reason)` once `p` settles (`p` may be
    /// any value: one that is not a promise counts as fulfilled); returns the promise of what
    /// `f` returns.
    pub(super) fn settled(p: &JsValue, f: &JsValue, a: u32, b: u32) -> Promise;
    /// The pre-flight's facts in window `w`: `[isSecureContext, getUserMedia exists, whether
    /// the page's Permissions Policy allows it the camera (which it must have to delegate it;
    /// null when not exposed), framed, the user agent, a promise of the camera permission's
    /// state (null when unknown) or a falsy value when there is no Permissions API]`.
    pub(super) fn facts(w: &JsValue) -> JsValue;
    /// Listens to `kind` events on `target` with `(e) => f(a, b, true, e)`, returned for
    /// removal.
    pub(super) fn listen(target: &EventTarget, kind: &str, f: &JsValue, a: u32, b: u32)
        -> Function;
    /// `[promise, resolve, reject]`; the promise marked handled when `handled`.
    pub(super) fn deferred(handled: bool) -> JsValue;
    /// One request: `fetch(url)` (GET, or POST when `post`) with `Accept: application/json`,
    /// `Authorization: Bearer <token>` when there is a token, `Prefer: wait=<wait>` and
    /// `If-None-Match: <tag>` when `wait` is not 0, `cache: "no-store"` and the abort signal.
    /// Resolves with `null` when no answer came, else with `[HTTP status, Retry-After, ETag,
    /// whether Preference-Applied came, the body as by bounded() (null for a 304)]`; rejects
    /// when the body is cut off.
    pub(super) fn exchange(
        url: &str,
        post: bool,
        token: Option<&str>,
        wait: u32,
        tag: &JsValue,
        signal: &JsValue,
        max: u32,
    ) -> Promise;
    /// Dispatches a `CustomEvent` that bubbles and crosses shadow roots.
    pub(super) fn emit(target: &Element, kind: &str, detail: &JsValue);
}

/// `o[key]` on an object from the page, which may throw (`undefined` then): events, which page
/// code can make with getters of its own. The browser's own objects are read with `get`, which
/// does not catch; neither needs an import per property.
pub(super) fn prop(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or_default()
}

/// Whether the document is hidden (`visibilitychange` pauses polling).
pub(super) fn hidden() -> bool {
    get(&document(), "hidden").is_truthy()
}

/// Reports what integrator code threw, on the console.
pub(super) fn report(name: &str, thrown: &JsValue) {
    console_error("gu1-kyc-web: %s threw", name, thrown);
}

/// `o[name]()` when `o` is an object (from the browser: a window, an element) and that is a
/// function; what it throws is dropped.
pub(super) fn invoke(o: &JsValue, name: &str) {
    if !o.is_object() {
        return;
    }
    let f = get(o, name);
    if f.is_function() {
        let _ = f.unchecked_ref::<Function>().call0(o);
    }
}

/// A new promise and its resolve and reject functions.
pub(super) fn promise(handled: bool) -> (Promise, [Function; 2]) {
    let d = deferred(handled);
    let item = |i| item(&d, i);
    (
        item(0).unchecked_into(),
        [item(1).unchecked_into(), item(2).unchecked_into()],
    )
}

/// A new plain object with these properties.
pub(super) fn object(entries: &[(&str, &JsValue)]) -> JsValue {
    let o: JsValue = js_sys::Object::new().into();
    for (k, v) in entries {
        crate::js::set(&o, k, v);
    }
    o
}
