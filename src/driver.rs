//! The browser side of a verification: owns every browser resource and performs what the
//! machine decides.
//!
//! Ownership: a `Driver` owns the iframe, the listeners, the timers and the requests in flight
//! through values whose `Drop` releases them, and the `Core` (what JavaScript's `Verification`
//! holds) owns the driver until the verification ends, then drops it: what is left is a husk
//! of four fields (`completed`, the last snapshot, the empty driver slot, the key). The browser
//! calls back through one function made once (`dispatch`), with the verification's key and what
//! the call is for: no closure is made per request, timer or listener, and a call for a
//! verification that has ended finds nothing and does nothing.
//!
//! `feed` is the one way in: borrow the driver, hand the machine its input, release the
//! borrow; then take the actions one at a time and perform each with no borrow held while
//! integrator code runs (callbacks, DOM listeners, `refreshToken`), so that code may call back
//! into the verification.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, EventTarget, HtmlIFrameElement};

use crate::error::Code;
use crate::js::{get, set};
use crate::machine::{self, Action, Config, Input, Machine, Notice, Slot};
use crate::options::{valid_token, Options};
use crate::permissions::{self, Permissions};
use crate::preflight::{self, Facts, Reason};
use crate::status::{self, Kind, MAX_BODY};
use crate::url::{parse_session_url, SessionUrl};
use crate::{messages, options};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_name = document)]
    static DOCUMENT: web_sys::Document;
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    pub(crate) fn json_parse(text: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(format: &str, name: &str, thrown: &JsValue);

    // Calls that cannot throw with the arguments given here (constant attribute, property and
    // selector strings, a known tag, a new element, callbacks made by `listen`, arrays the
    // helpers made), declared without web-sys's `catch`: no exception check per call. Anything
    // that can throw keeps one (`Reflect.get` on page objects, the container selector,
    // `JSON.parse`, `URL`, integrator callbacks).
    /// A DOM object these methods are called on (seen through `dom()`).
    #[derive(Debug)]
    type Dom;
    #[wasm_bindgen(method, js_name = setAttribute)]
    fn set_attr(this: &Dom, name: &str, value: &str);
    #[wasm_bindgen(method, js_name = setProperty)]
    fn set_style(this: &Dom, name: &str, value: &str);
    #[wasm_bindgen(method, js_name = createElement)]
    fn create(this: &Dom, tag: &str) -> JsValue;
    #[wasm_bindgen(method, js_name = removeEventListener)]
    fn unlisten(this: &Dom, kind: &str, f: &Function);
    /// With a constant selector: it parses.
    #[wasm_bindgen(method, js_name = querySelectorAll)]
    fn select_all(this: &Dom, selector: &str) -> web_sys::NodeList;
    /// Item `i` of an array the helpers made (`deferred`, `exchange`).
    #[wasm_bindgen(js_namespace = Reflect, js_name = get)]
    fn item(array: &JsValue, i: u32) -> JsValue;
    /// A new element into an element: always a valid insertion.
    #[wasm_bindgen(method, js_name = appendChild)]
    fn append(this: &Dom, child: &Dom);
    /// `setTimeout(f, ms, a, b, c)`: `f(a, b, c)` after `ms`.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &JsValue, ms: i32, a: u32, b: u32, c: bool) -> i32;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: i32);
    #[wasm_bindgen(js_name = AbortController)]
    #[derive(Debug)]
    type Abort;
    #[wasm_bindgen(constructor, js_class = "AbortController")]
    fn new() -> Abort;
    #[wasm_bindgen(method, js_name = abort)]
    fn abort(this: &Abort);
}

/// Any DOM object, for the calls declared on `Dom`.
fn dom(v: &JsValue) -> &Dom {
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
    fn settled(p: &JsValue, f: &JsValue, a: u32, b: u32) -> Promise;
    /// The pre-flight's facts in window `w`: `[isSecureContext, getUserMedia exists, whether
    /// the page's Permissions Policy allows it the camera (which it must have to delegate it;
    /// null when not exposed), framed, the user agent, a promise of the camera permission's
    /// state (null when unknown) or a falsy value when there is no Permissions API]`.
    fn facts(w: &JsValue) -> JsValue;
    /// Listens to `kind` events on `target` with `(e) => f(a, b, true, e)`, returned for
    /// removal.
    fn listen(target: &EventTarget, kind: &str, f: &JsValue, a: u32, b: u32) -> Function;
    /// `[promise, resolve, reject]`; the promise marked handled when `handled`.
    fn deferred(handled: bool) -> JsValue;
    /// One request: `fetch(url)` (GET, or POST when `post`) with `Accept: application/json`,
    /// `Authorization: Bearer <token>` when there is a token, `Prefer: wait=<wait>` and
    /// `If-None-Match: <tag>` when `wait` is not 0, `cache: "no-store"` and the abort signal.
    /// Resolves with `null` when no answer came, else with `[HTTP status, Retry-After, ETag,
    /// whether Preference-Applied came, the body as by bounded() (null for a 304)]`; rejects
    /// when the body is cut off.
    fn exchange(
        url: &str,
        post: bool,
        token: Option<&str>,
        wait: u32,
        tag: &JsValue,
        signal: &JsValue,
        max: u32,
    ) -> Promise;
    /// Dispatches a `CustomEvent` that bubbles and crosses shadow roots.
    fn emit(target: &Element, kind: &str, detail: &JsValue);
}

/// The page's document.
pub fn document() -> web_sys::Document {
    DOCUMENT.with(Clone::clone)
}

/// `o[key]` on an object from the page, which may throw (`undefined` then): events, which page
/// code can make with getters of its own. The browser's own objects are read with `get`, which
/// does not catch; neither needs an import per property.
fn prop(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or_default()
}

/// Whether the document is hidden (`visibilitychange` pauses polling).
fn hidden() -> bool {
    get(&document(), "hidden").is_truthy()
}

/// The iframe's `referrerpolicy`: the hosted page learns the integrator's origin, not the path.
pub const REFERRER_POLICY: &str = "strict-origin-when-cross-origin";

/// `gu1kyc:*` event names, in `Notice` order; the callbacks in `options::CALLBACKS` match.
const EVENTS: [&str; 4] = [
    "gu1kyc:ready",
    "gu1kyc:status",
    "gu1kyc:complete",
    "gu1kyc:error",
];

thread_local! {
    /// Verifications still running, so they live on without a JavaScript handle and so a second
    /// mount into the same container replaces the first. Callbacks find theirs here by key: one
    /// that has ended is gone, and its late callbacks do nothing.
    static LIVE: RefCell<Vec<Rc<Core>>> = const { RefCell::new(Vec::new()) };
    static NEXT_KEY: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// The one function the browser calls back (promises, listeners, timers), made once and
    /// kept for the life of the page.
    static DISPATCH: JsValue =
        Closure::<dyn Fn(u32, u32, bool, JsValue) -> JsValue>::new(dispatch).into_js_value();
}

// What a callback is for, in bits 1..5 of its second number (bit 0: the slot; above: the id of
// the flight or alarm it belongs to).
const ANSWER: u32 = 0;
const TOKEN: u32 = 1;
const LOADED: u32 = 2;
const MESSAGE: u32 = 3;
const VISIBLE: u32 = 4;
/// `ALARM + timer` (5 to 8).
const ALARM: u32 = 5;
/// The camera permission's state arrived (the view's id).
const CAMERA: u32 = 9;
/// The panel's button was clicked.
const OPEN: u32 = 10;
/// Time to look whether the hosted window was closed (the view's id).
const WATCH: u32 = 11;
/// The dialog was closed.
const CLOSED: u32 = 12;
/// `preflight()`'s answer (verification key 0; the id: the reason found before the
/// permission state, plus one, or 0).
const PREFLIGHT: u32 = 13;

/// How often the hosted window is checked for being closed (no event says so across origins).
const WATCH_MS: i32 = 500;
/// `mode` values (the index in `options::MODES`).
const INLINE: u8 = 0;
const MODAL: u8 = 1;
const WINDOW: u8 = 2;

/// What `Verification` holds.
#[derive(Debug)]
pub struct Core {
    /// Settles once with the outcome.
    pub completed: Promise,
    /// The last snapshot, or `null`.
    pub status: RefCell<JsValue>,
    live: RefCell<Option<Box<Driver>>>,
    /// Names this verification in callbacks.
    key: u32,
}

/// An event listener owned by this value: dropping it removes the listener.
#[derive(Debug)]
struct Listener {
    target: EventTarget,
    kind: &'static str,
    f: Function,
}

impl Listener {
    fn new(target: &EventTarget, kind: &'static str, core: &Core, step: u32) -> Listener {
        let f = DISPATCH.with(|d| listen(target, kind, d, core.key, step << 1));
        Listener {
            target: target.clone(),
            kind,
            f,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        dom(&self.target).unlisten(self.kind, &self.f);
    }
}

/// What shows the hosted session: the iframe (inline), a dialog holding it (modal), or a panel
/// with the button that opens it in a window (window mode, or the pre-flight's fallback).
/// Dropping it closes the window and the dialog, removes the element and its listeners.
#[derive(Debug)]
struct Frame {
    /// The iframe, the dialog or the panel: what is in the container.
    el: Element,
    /// The iframe (inline and modal views).
    iframe: Option<HtmlIFrameElement>,
    url: SessionUrl,
    /// The hosted window once opened, else `undefined`.
    popup: JsValue,
    /// Names this view in callbacks (the late permission state, the window watch).
    id: u32,
    /// The iframe's `load`, the dialog's `close` or the panel button's `click`.
    _listeners: [Option<Listener>; 2],
    watch: Option<Alarm>,
}

impl Frame {
    /// A view with no window opened yet.
    fn new(
        el: JsValue,
        iframe: Option<HtmlIFrameElement>,
        url: SessionUrl,
        id: u32,
        listeners: [Option<Listener>; 2],
    ) -> Frame {
        Frame {
            el: el.unchecked_into(),
            iframe,
            url,
            popup: JsValue::UNDEFINED,
            id,
            _listeners: listeners,
            watch: None,
        }
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        invoke(&self.popup, "close");
        // A dialog is closed before it goes, so focus returns to where it was.
        invoke(&self.el, "close");
        self.el.remove();
    }
}

/// `o[name]()` when `o` is an object (from the browser: a window, an element) and that is a
/// function; what it throws is dropped.
fn invoke(o: &JsValue, name: &str) {
    if !o.is_object() {
        return;
    }
    let f = get(o, name);
    if f.is_function() {
        let _ = f.unchecked_ref::<Function>().call0(o);
    }
}

/// A request or `refreshToken()` call in flight. Dropping it aborts the request; whatever
/// settles later finds no flight of its id and is ignored.
#[derive(Debug)]
struct Flight {
    id: u32,
    abort: Option<Abort>,
}

impl Drop for Flight {
    fn drop(&mut self) {
        if let Some(c) = &self.abort {
            c.abort();
        }
    }
}

/// A timer armed with `setTimeout`. Dropping it clears the timeout.
#[derive(Debug)]
struct Alarm {
    id: u32,
    handle: i32,
}

impl Drop for Alarm {
    fn drop(&mut self) {
        clear_timeout(self.handle);
    }
}

#[derive(Debug)]
struct Driver {
    machine: Machine,
    container: Element,
    /// Status and cancel endpoints (the cancel one empty when not given).
    urls: [String; 2],
    token: Option<String>,
    refresh_token: Option<Function>,
    title: String,
    height: String,
    callbacks: [Option<Function>; 4],
    /// `mode` (`options::MODES`' index), `fallback: "window"`, the labels.
    mode: u8,
    fallback: bool,
    labels: [String; 3],
    /// `completed`'s resolve and reject.
    settle: [Function; 2],
    /// A `cancel()` promise's resolve and reject: the one being asked, the one waiting.
    cancel_new: Option<[Function; 2]>,
    cancel_waiting: Option<[Function; 2]>,
    frame: Option<Frame>,
    _listeners: [Listener; 2],
    timers: [Option<Alarm>; 4],
    flights: [Option<Flight>; 2],
    next_id: u32,
    /// The `ETag` of the last status answer (a string, else `null`), sent back in
    /// `If-None-Match` by waiting requests.
    tag: JsValue,
    /// The snapshot of the answer being handled (`Action::Keep`).
    candidate: JsValue,
}

/// Takes out of `LIVE` every verification that has ended (none is listed twice) and returns
/// the running one `pick` chooses (at most one matches: a container hosts one).
fn unlist(pick: &dyn Fn(&Driver) -> bool) -> Option<Rc<Core>> {
    LIVE.with(|l| {
        let mut l = l.borrow_mut();
        let mut picked = None;
        let mut i = 0;
        while i < l.len() {
            let running = l[i].live.borrow().as_ref().map(|d| pick(d));
            match running {
                Some(false) => i += 1,
                Some(true) => picked = Some(l.swap_remove(i)),
                None => drop(l.swap_remove(i)),
            }
        }
        picked
    })
}

/// Starts a verification.
pub fn mount(o: Options) -> Rc<Core> {
    // A container hosts one verification: mounting again replaces the previous one.
    let container: &JsValue = &o.container;
    if let Some(previous) = unlist(&|d| AsRef::<JsValue>::as_ref(&d.container) == container) {
        feed(&previous, Input::Destroy, None);
    }

    // Marked handled so a page that never awaits it sees no unhandled rejection; handlers the
    // page attaches still see the rejection.
    let (completed, settle) = promise(true);

    let [poll_ms, timeout_ms, request_timeout_ms, wait_s] = o.numbers;
    let machine = Machine::new(
        Config {
            poll_ms,
            timeout_ms,
            request_timeout_ms,
            wait_s,
            session_url: o.session_url,
            allow: o.allow,
            can_refresh: o.refresh_token.is_some(),
            can_cancel: o.cancel_url.is_some(),
        },
        js_sys::Date::now(),
    );
    // Never 0, which names `preflight()`'s answers.
    let key = NEXT_KEY.with(|k| {
        k.set(k.get().wrapping_add(1).max(1));
        k.get()
    });
    let core = Rc::new(Core {
        completed,
        status: RefCell::new(JsValue::NULL),
        live: RefCell::new(None),
        key,
    });
    let doc = document();
    // The page's window, where the hosted page's messages arrive.
    let window: EventTarget = get(&doc, "defaultView").unchecked_into();
    let listeners = [
        Listener::new(&window, "message", &core, MESSAGE),
        Listener::new(doc.as_ref(), "visibilitychange", &core, VISIBLE),
    ];
    *core.live.borrow_mut() = Some(Box::new(Driver {
        machine,
        container: o.container,
        urls: [o.status_url, o.cancel_url.unwrap_or_default()],
        token: o.token,
        refresh_token: o.refresh_token,
        title: o.title,
        height: o.height,
        callbacks: o.callbacks,
        mode: o.mode,
        fallback: o.fallback,
        labels: o.labels,
        settle,
        cancel_new: None,
        cancel_waiting: None,
        frame: None,
        _listeners: listeners,
        timers: Default::default(),
        flights: Default::default(),
        next_id: 0,
        tag: JsValue::NULL,
        candidate: JsValue::NULL,
    }));
    LIVE.with(|l| l.borrow_mut().push(core.clone()));
    feed(&core, Input::Visible(!hidden()), None);
    feed(&core, Input::Start, None);
    core
}

/// `cancel()`: a promise settled by the machine's `CancelDone`, or `completed` after the end.
pub fn cancel(core: &Rc<Core>) -> Promise {
    let promise = match core.live.borrow_mut().as_mut() {
        Some(d) => {
            let (p, fns) = promise(false);
            d.cancel_new = Some(fns);
            p
        }
        None => return core.completed.clone(),
    };
    feed(core, Input::Cancel, None);
    if let Some(d) = core.live.borrow_mut().as_mut() {
        if let Some(f) = d.cancel_new.take() {
            d.cancel_waiting = Some(f);
        }
    }
    promise
}

/// Hands the machine one input, then performs its actions (see the module docs).
pub fn feed(core: &Rc<Core>, input: Input, candidate: Option<JsValue>) {
    {
        let mut live = core.live.borrow_mut();
        let Some(d) = live.as_mut() else { return };
        if let Some(c) = candidate {
            d.candidate = c;
        }
        d.machine
            .handle(input, js_sys::Date::now(), js_sys::Math::random());
    }
    loop {
        let action = match core.live.borrow_mut().as_mut() {
            Some(d) => d.machine.poll_action(),
            None => None,
        };
        match action {
            Some(a) => perform(core, a),
            None => break,
        }
    }
    let ended = core
        .live
        .borrow()
        .as_ref()
        .is_some_and(|d| d.machine.ended());
    if ended {
        // Everything but the husk goes now, not at finalization.
        let driver = core.live.borrow_mut().take();
        drop(driver);
        unlist(&|_| false);
    }
}

/// Calls integrator code, reporting what it throws on the console.
fn call(f: Option<&Function>, name: &str, arg: &JsValue) {
    if let Some(f) = f {
        if let Err(thrown) = f.call1(&JsValue::UNDEFINED, arg) {
            report(name, &thrown);
        }
    }
}

fn report(name: &str, thrown: &JsValue) {
    console_error("gu1-kyc-web: %s threw", name, thrown);
}

fn object(entries: &[(&str, &JsValue)]) -> JsValue {
    let o: JsValue = Object::new().into();
    for (k, v) in entries {
        set(&o, k, v);
    }
    o
}

/// Runs `step` of the slot's flight `id` once `promise` settles, whichever way.
fn after(core: &Core, promise: &JsValue, slot: Slot, id: u32, step: u32) {
    let _ = DISPATCH.with(|f| settled(promise, f, core.key, id << 5 | step << 1 | slot as u32));
}

/// A new promise and its resolve and reject functions.
fn promise(handled: bool) -> (Promise, [Function; 2]) {
    let d = deferred(handled);
    let item = |i| item(&d, i);
    (
        item(0).unchecked_into(),
        [item(1).unchecked_into(), item(2).unchecked_into()],
    )
}

/// Every call the browser makes into the client: `key` names the verification, `b` what the call
/// is for (see `ANSWER` and the other steps). Returns `preflight()`'s answer, else `undefined`.
fn dispatch(key: u32, b: u32, ok: bool, value: JsValue) -> JsValue {
    let (id, step) = (b >> 5, (b >> 1) & 15);
    if key == 0 {
        let reason = match id {
            0 => preflight::late(value.as_string().as_deref()),
            i => preflight::REASONS.get(i as usize - 1).copied(),
        };
        let reason = reason.map_or(JsValue::NULL, |r| r.as_str().into());
        return object(&[("ok", &reason.is_null().into()), ("reason", &reason)]);
    }
    let found = LIVE.with(|l| l.borrow().iter().find(|c| c.key == key).cloned());
    let Some(core) = found else {
        return JsValue::UNDEFINED;
    };
    let slot = if b & 1 == 0 {
        Slot::Status
    } else {
        Slot::Cancel
    };
    match step {
        MESSAGE => on_message(&core, value),
        VISIBLE => feed(&core, Input::Visible(!hidden()), None),
        LOADED => feed(&core, Input::FrameLoaded, None),
        ANSWER | TOKEN => resume(&core, slot, id, step, ok, value),
        CAMERA => late_denied(&core, id, &value),
        OPEN => open(&core),
        WATCH => watch(&core, id),
        CLOSED => announce(&core, "gu1kyc:close", "view", &"modal".into()),
        ALARM..CAMERA => {
            let t = machine::Timer::ALL[(step - ALARM) as usize & 3];
            // Due unless disarmed or re-armed meanwhile.
            let due = core.live.borrow_mut().as_mut().is_some_and(|d| {
                let alarm = &mut d.timers[t as usize];
                let ours = alarm.as_ref().is_some_and(|a| a.id == id);
                if ours {
                    *alarm = None;
                }
                ours
            });
            if due {
                feed(&core, Input::Due(t), None);
            }
        }
        // `PREFLIGHT` comes with key 0, answered above.
        _ => {}
    }
    JsValue::UNDEFINED
}

fn perform(core: &Rc<Core>, action: Action) {
    let mut live = core.live.borrow_mut();
    let Some(d) = live.as_mut() else { return };
    match action {
        Action::Fetch(slot, wait) => {
            let id = d.next_id();
            let abort = Abort::new();
            let wait = if d.tag.is_string() { wait } else { 0 };
            let p = exchange(
                &d.urls[slot as usize],
                slot == Slot::Cancel,
                d.token.as_deref(),
                wait,
                &d.tag,
                &get(&abort, "signal"),
                MAX_BODY,
            );
            d.flights[slot as usize] = Some(Flight {
                id,
                abort: Some(abort),
            });
            drop(live);
            after(core, &p, slot, id, ANSWER);
        }
        Action::RefreshToken(slot) => {
            let id = d.next_id();
            d.flights[slot as usize] = Some(Flight { id, abort: None });
            let f = d.refresh_token.clone();
            drop(live);
            let called = f.map_or(Ok(JsValue::UNDEFINED), |f| {
                f.call1(&JsValue::UNDEFINED, &JsValue::UNDEFINED)
            });
            match called {
                // A refresh that never settles is ended by the request timer; a late answer
                // then finds no flight of its id.
                Ok(v) => after(core, &v, slot, id, TOKEN),
                Err(thrown) => {
                    report("refreshToken", &thrown);
                    resume(core, slot, id, TOKEN, false, thrown);
                }
            }
        }
        Action::Abort(slot) => {
            let flight = d.flights[slot as usize].take();
            drop(live);
            drop(flight);
        }
        Action::Arm(t, ms) => {
            let id = d.next_id();
            let b = id << 5 | (ALARM + t as u32) << 1;
            let handle = DISPATCH.with(|f| set_timeout(f, ms as i32, core.key, b, true));
            d.timers[t as usize] = Some(Alarm { id, handle });
        }
        Action::Disarm(t) => d.timers[t as usize] = None,
        Action::ShowFrame(url, allow) => {
            let mode = d.mode;
            let shown = d.show(core, url, allow, None);
            drop(live);
            match shown {
                // Adopted after its load event, or a panel: ready is announced once mount has
                // returned.
                Some((loaded, reason)) => {
                    if loaded {
                        after(core, &JsValue::UNDEFINED, Slot::Status, 0, LOADED);
                    }
                    if let Some(r) = reason {
                        announce(core, "gu1kyc:fallback", "reason", &r.as_str().into());
                    } else if mode == MODAL {
                        open(core);
                    }
                }
                None => feed(core, Input::FrameFailed, None),
            }
        }
        Action::Navigate(url) => {
            if let Some(f) = d.frame.as_mut() {
                if let Some(i) = &f.iframe {
                    dom(i).set_attr("src", &url.href);
                }
                f.url = url;
            }
        }
        Action::RemoveFrame => {
            let frame = d.frame.take();
            drop(live);
            drop(frame);
        }
        Action::Keep => {
            let c = d.candidate.clone();
            drop(live);
            *core.status.borrow_mut() = c;
        }
        Action::Emit(notice) => {
            let (i, detail, arg) = match notice {
                Notice::Ready => {
                    let href = d.frame.as_ref().map(|f| f.url.href.as_str()).unwrap_or("");
                    let detail = object(&[("sessionUrl", &href.into())]);
                    (0, detail.clone(), detail)
                }
                Notice::Status => (
                    1,
                    core.status.borrow().clone(),
                    core.status.borrow().clone(),
                ),
                Notice::Complete => (
                    2,
                    core.status.borrow().clone(),
                    core.status.borrow().clone(),
                ),
                Notice::Error(e, retrying) => (3, e.to_detail(retrying), e.to_js(Some(retrying))),
            };
            let target = d.container.clone();
            let callback = d.callbacks[i].clone();
            drop(live);
            // A listener that throws is reported by the browser and does not reach us.
            emit(&target, EVENTS[i], &detail);
            call(callback.as_ref(), options::CALLBACKS[i], &arg);
        }
        Action::Settle(outcome) => {
            let (f, value) = match outcome {
                Ok(()) => (&d.settle[0], core.status.borrow().clone()),
                Err(e) => (&d.settle[1], e.to_js(None)),
            };
            let _ = f.call1(&JsValue::UNDEFINED, &value);
        }
        Action::CancelDone(error) => {
            if let Some(fns) = d.cancel_new.take().or_else(|| d.cancel_waiting.take()) {
                let _ = match error {
                    None => fns[0].call1(&JsValue::UNDEFINED, &core.completed),
                    Some(e) => fns[1].call1(&JsValue::UNDEFINED, &e.to_js(None)),
                };
            }
        }
    }
}

impl Driver {
    /// A new flight or alarm id, within the 27 bits a callback's second number carries.
    fn next_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1) & (u32::MAX >> 5);
        self.next_id
    }

    /// Mounts the iframe for `url`, or adopts the one the drop-in loader put in place before
    /// the wasm arrived: a child `iframe[data-gu1-kyc]` marked `early` (or `loaded`, once its
    /// load event has fired) is kept when its `src`, `allow` and `referrerpolicy` are exactly
    /// what this function would set, so the hosted page is not loaded twice. Any other
    /// `iframe[data-gu1-kyc]` child is removed. A new iframe gets `allow` and `referrerpolicy`
    /// before `src`, so they apply to its first navigation; sizing goes through CSSOM only.
    /// In modal mode the iframe goes into a dialog (opened by the caller); in window mode, or
    /// inline when the camera pre-flight fails and `fallback` is `"window"`, a panel with the
    /// button that opens the session in a window shows instead. `Some((true, _))` when the view
    /// is ready at once (an adopted iframe that had loaded, a panel), with the pre-flight's
    /// reason when it failed; `None` when the document refuses the element.
    fn show(
        &mut self,
        core: &Rc<Core>,
        url: SessionUrl,
        allow: Permissions,
        late: Option<Reason>,
    ) -> Option<(bool, Option<Reason>)> {
        let id = self.next_id();
        let mut reason = late;
        // An Element's ownerDocument is a Document; its window is null when it has none (a
        // parsed document), and the pre-flight then cannot tell.
        let doc = get(&self.container, "ownerDocument");
        let window = get(&doc, "defaultView");
        // Only a session that uses the camera needs it to work.
        if late.is_none()
            && self.mode == INLINE
            && self.fallback
            && allow & 1 != 0
            && window.is_object()
        {
            let f = facts(&window);
            reason = verdict(&f);
            if reason.is_none() {
                // The permission's state arrives later and may still turn the view into the
                // panel (`late_denied`).
                after(core, &item(&f, 5), Slot::Status, id, CAMERA);
            }
        }
        let allow = permissions::render(allow);
        let mut adopted: Option<(HtmlIFrameElement, bool)> = None;
        let found = dom(&self.container).select_all(":scope > iframe[data-gu1-kyc]");
        for i in 0..found.length() {
            let Some(el) = found
                .item(i)
                .and_then(|n| n.dyn_into::<HtmlIFrameElement>().ok())
            else {
                continue;
            };
            let attr = |name: &str| el.get_attribute(name);
            let mark = attr("data-gu1-kyc");
            let placed = matches!(mark.as_deref(), Some("early" | "loaded"));
            let same = attr("src").as_deref() == Some(&url.href)
                && attr("allow").as_deref() == Some(&allow)
                && attr("referrerpolicy").as_deref() == Some(REFERRER_POLICY);
            if adopted.is_none() && placed && same && self.mode == INLINE && reason.is_none() {
                adopted = Some((el, mark.as_deref() == Some("loaded")));
            } else {
                el.remove();
            }
        }
        let make = |tag: &str, parent: &JsValue, text: &str| {
            let el = dom(&doc).create(tag);
            if !text.is_empty() {
                set(&el, "textContent", &text.into());
            }
            dom(parent).append(dom(&el));
            el
        };
        let container: &JsValue = &self.container;
        if self.mode == WINDOW || reason.is_some() {
            let panel = make("div", container, "");
            if reason.is_some() {
                make("p", &panel, &self.labels[1]);
            }
            let button = make("button", &panel, &self.labels[0]);
            dom(&button).set_attr("type", "button");
            let click = Listener::new(button.unchecked_ref(), "click", core, OPEN);
            self.frame = Some(Frame::new(panel, None, url, id, [Some(click), None]));
            return Some((true, reason));
        }
        let (iframe, loaded) = match adopted {
            Some(a) => a,
            None => {
                let iframe: HtmlIFrameElement = dom(&doc).create("iframe").dyn_into().ok()?;
                for &(k, v) in &[
                    ("allow", allow.as_str()),
                    ("referrerpolicy", REFERRER_POLICY),
                    ("data-gu1-kyc", ""),
                ] {
                    dom(&iframe).set_attr(k, v);
                }
                (iframe, false)
            }
        };
        dom(&iframe).set_attr("title", &self.title);
        let style = get(&iframe, "style");
        for &(k, v) in &[
            ("display", "block"),
            ("width", "100%"),
            ("height", &self.height),
            ("border", "0"),
        ] {
            dom(&style).set_style(k, v);
        }
        // The dialog: labelled by the title, a close button in a `method="dialog"` form (it
        // closes the dialog with no script), then the iframe.
        let (el, closed) = if self.mode == MODAL {
            let dialog = make("dialog", container, "");
            dom(&dialog).set_attr("aria-label", &self.title);
            dom(&get(&dialog, "style")).set_style("width", "min(720px, 100% - 2em)");
            let form = make("form", &dialog, "");
            dom(&form).set_attr("method", "dialog");
            make("button", &form, &self.labels[2]);
            let closed = Listener::new(dialog.unchecked_ref(), "close", core, CLOSED);
            (dialog, Some(closed))
        } else {
            (iframe.clone().into(), None)
        };
        if !get(&iframe, "isConnected").is_truthy() {
            dom(&iframe).set_attr("src", &url.href);
            let parent = if closed.is_some() { &el } else { container };
            dom(parent).append(dom(&iframe));
        }
        let load = (!loaded).then(|| Listener::new(iframe.as_ref(), "load", core, LOADED));
        self.frame = Some(Frame::new(el, Some(iframe), url, id, [load, closed]));
        Some((loaded, reason))
    }
}

/// The pre-flight's verdict on the facts `facts()` read, before the permission's state is known
/// (that comes later: `preflight::late`).
fn verdict(f: &JsValue) -> Option<Reason> {
    let agent = item(f, 4).as_string().unwrap_or_default();
    preflight::verdict(&Facts {
        secure: item(f, 0).is_truthy(),
        media: item(f, 1).is_truthy(),
        policy: item(f, 2).as_bool(),
        framed: item(f, 3).is_truthy(),
        agent: &agent,
        permission: None,
    })
}

/// `preflight()`'s promise: the verdict for this page, once the camera permission's state is
/// known (at once when an earlier fact already fails).
pub fn check() -> Promise {
    let f = facts(&get(&document(), "defaultView"));
    let (pending, reason) = match verdict(&f) {
        None => (item(&f, 5), 0),
        Some(r) => (JsValue::UNDEFINED, r as u32 + 1),
    };
    DISPATCH.with(|d| settled(&pending, d, 0, reason << 5 | PREFLIGHT << 1))
}

/// Dispatches `kind` on the container with `{ key: value }` as its detail.
fn announce(core: &Core, kind: &str, key: &str, value: &JsValue) {
    let target = core.live.borrow().as_ref().map(|d| d.container.clone());
    if let Some(t) = target {
        emit(&t, kind, &object(&[(key, value)]));
    }
}

/// The camera permission's state for view `id` arrived: when it is denied and the view is
/// still that inline iframe, the panel replaces it (`fallback: "window"` only; see `show`).
fn late_denied(core: &Rc<Core>, id: u32, state: &JsValue) {
    let Some(reason) = preflight::late(state.as_string().as_deref()) else {
        return;
    };
    let old = core.live.borrow_mut().as_mut().and_then(|d| {
        let ours = d.frame.as_ref().is_some_and(|f| f.id == id);
        ours.then(|| d.frame.take()).flatten()
    });
    let Some(old) = old else { return };
    let url = old.url.clone();
    // Removed with no borrow held: removing an iframe runs its document's unload handlers.
    drop(old);
    if let Some(d) = core.live.borrow_mut().as_mut() {
        d.show(core, url, 0, Some(reason));
    }
    announce(core, "gu1kyc:fallback", "reason", &reason.as_str().into());
    feed(core, Input::FrameLoaded, None);
}

/// `open()`, or a click on the panel's button: opens the dialog again (modal mode), or the
/// hosted session in a window (focused when it is already open). With no borrow held while the
/// browser runs page code (focus events, a `window.open` the page replaced).
pub fn open(core: &Rc<Core>) {
    let view = core.live.borrow().as_ref().and_then(|d| {
        let f = d.frame.as_ref()?;
        let framed = f.iframe.is_some();
        Some((
            framed,
            d.mode,
            f.id,
            f.el.clone(),
            f.popup.clone(),
            f.url.href.clone(),
        ))
    });
    let Some((framed, mode, id, el, popup, href)) = view else {
        return;
    };
    if framed {
        // An inline iframe has nothing to open.
        if mode == MODAL && !get(&el, "open").is_truthy() {
            invoke(&el, "showModal");
        }
        return;
    }
    if popup.is_object() && !get(&popup, "closed").is_truthy() {
        return invoke(&popup, "focus");
    }
    let window = get(&document(), "defaultView");
    let opened = get(&window, "open")
        .unchecked_ref::<Function>()
        .call1(&window, &href.into());
    let Some(popup) = opened.ok().filter(JsValue::is_object) else {
        return;
    };
    let mut live = core.live.borrow_mut();
    match live
        .as_mut()
        .and_then(|d| d.frame.as_mut())
        .filter(|f| f.id == id)
    {
        Some(f) => {
            f.popup = popup;
            f.watch = Some(watch_later(core, id));
        }
        None => {
            drop(live);
            invoke(&popup, "close");
        }
    }
}

/// A look at view `id`'s hosted window in `WATCH_MS`.
fn watch_later(core: &Core, id: u32) -> Alarm {
    let b = id << 5 | WATCH << 1;
    Alarm {
        id,
        handle: DISPATCH.with(|d| set_timeout(d, WATCH_MS, core.key, b, true)),
    }
}

/// Looks whether the hosted window of view `id` was closed: reports it once (the button stays,
/// to open it again), else looks again later.
fn watch(core: &Rc<Core>, id: u32) {
    let closed = {
        let mut live = core.live.borrow_mut();
        let Some(f) = live.as_mut().and_then(|d| d.frame.as_mut()) else {
            return;
        };
        if f.id != id || !f.watch.as_ref().is_some_and(|a| a.id == id) {
            return;
        }
        let closed = get(&f.popup, "closed").is_truthy();
        f.watch = if closed {
            f.popup = JsValue::UNDEFINED;
            None
        } else {
            Some(watch_later(core, id))
        };
        closed
    };
    if closed {
        announce(core, "gu1kyc:close", "view", &"window".into());
    }
}

/// A message from the hosted page: a hint to poll now, when it comes from the iframe's
/// origin and window and names a status event. Never a completion.
fn on_message(core: &Rc<Core>, e: JsValue) {
    let from_frame = {
        let live = core.live.borrow();
        let Some(d) = live.as_ref() else { return };
        // Only a MessageEvent has a `source` window; any other event named "message" stops at
        // the source check below.
        let Some(f) = &d.frame else { return };
        let source = prop(&e, "source");
        source.is_object()
            && (source == f.popup
                || f.iframe
                    .as_ref()
                    .is_some_and(|i| source == get(i, "contentWindow")))
            && prop(&e, "origin").as_string().as_deref() == Some(&f.url.origin)
    };
    // The data is read with no borrow held: page code can dispatch a MessageEvent of its own
    // making, whose data may be a proxy that throws from places no call here catches.
    if from_frame
        && messages::message_type(&prop(&e, "data")).is_some_and(|t| messages::is_hint(&t))
    {
        feed(core, Input::Hint, None);
    }
}

fn network(core: &Rc<Core>, slot: Slot, why: &str) {
    finish(core, slot, Err(status::failed(Code::Network, why, 0, None)));
}

/// The request of `slot` is over: the machine hears what it came to, and the answer's snapshot
/// becomes the candidate for `Action::Keep`.
fn finish(
    core: &Rc<Core>,
    slot: Slot,
    answer: Result<(machine::Session, JsValue), machine::Answer>,
) {
    let flight = core
        .live
        .borrow_mut()
        .as_mut()
        .and_then(|d| d.flights[slot as usize].take());
    drop(flight);
    let (answer, candidate) = match answer {
        Err(a) => (a, None),
        Ok((session, snapshot)) => (machine::Answer::Session(session), Some(snapshot)),
    };
    feed(core, Input::Answered(slot, answer), candidate);
}

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
fn snapshot(a: Option<status::Answer>, json: &JsValue) -> (machine::Session, JsValue) {
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
        None => machine::Session {
            status: status::Status::None,
            id: None,
            url: None,
            allow: permissions::DEFAULT,
            tag: false,
            held: false,
        },
        Some(a) => machine::Session {
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

/// A continuation: the promise behind `step` of the slot's flight `id` settled.
fn resume(core: &Rc<Core>, slot: Slot, id: u32, step: u32, ok: bool, value: JsValue) {
    let mut live = core.live.borrow_mut();
    let Some(d) = live.as_mut() else { return };
    if !d.flights[slot as usize]
        .as_ref()
        .is_some_and(|f| f.id == id)
    {
        // Aborted, timed out or destroyed meanwhile.
        return;
    }
    match (step, ok) {
        (ANSWER, true) if !value.is_null() => {
            let field = |i| item(&value, i);
            let http = field(0).as_f64().unwrap_or(0.0) as u16;
            let retry_after_ms = field(1)
                .as_string()
                .and_then(|v| status::retry_after(&v, js_sys::Date::now(), js_sys::Date::parse));
            let (tag, held, body) = (field(2), field(3).is_truthy(), field(4));
            drop(live);
            if http == 304 {
                return finish(core, slot, Err(machine::Answer::Unchanged(held)));
            }
            let json = json_parse(&body).ok().filter(|_| !body.is_null());
            let answer = match status::interpret(http, json.as_ref(), retry_after_ms) {
                Err(a) => Err(a),
                Ok(a) => {
                    let (mut session, snapshot) = snapshot(a, &json.unwrap_or(JsValue::NULL));
                    if slot == Slot::Status {
                        session.tag = tag.is_string();
                        session.held = held;
                        if let Some(d) = core.live.borrow_mut().as_mut() {
                            d.tag = tag;
                        }
                    }
                    Ok((session, snapshot))
                }
            };
            finish(core, slot, answer);
        }
        (ANSWER, true) => {
            drop(live);
            network(core, slot, "the proxy could not be reached");
        }
        (ANSWER, false) => {
            drop(live);
            network(core, slot, "the answer was cut off");
        }
        _ => {
            let token = value.as_string().filter(|t| ok && valid_token(t));
            let got = token.is_some();
            if got {
                d.token = token;
            }
            d.flights[slot as usize] = None;
            drop(live);
            feed(core, Input::TokenRefreshed(slot, got), None);
        }
    }
}
