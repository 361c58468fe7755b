//! The browser side of a verification: owns every browser resource and performs what the
//! machine decides.
//!
//! Ownership: a `Driver` owns the iframe, the listeners, the timers and the requests in flight
//! through values whose `Drop` releases them (`resources`, `view::Frame`), and the `Core` (what
//! JavaScript's `Verification` holds) owns the driver until the verification ends, then drops
//! it: what is left is a husk of four fields (`completed`, the last snapshot, the empty driver
//! slot, the key). The browser calls back through one function made once (`dispatch`), with the
//! verification's key and a `Route` saying what the call is for: no closure is made per request,
//! timer or listener, and a call for a verification that has ended finds nothing and does
//! nothing.
//!
//! `feed` is the one way in: borrow the driver, hand the machine its input, release the
//! borrow; then take the actions one at a time and perform each with no borrow held while
//! integrator code runs (callbacks, DOM listeners, `refreshToken`), so that code may call back
//! into the verification.
//!
//! Rooms, each using this module's `Core`, `Driver`, `feed` and callback, and no room using one
//! that uses it: `ffi` (what is imported from JavaScript) and `route` (what a callback is for)
//! use no other room; `resources` (the owners) uses them; `snapshot` (the Snapshot object);
//! `view` (iframe, dialog, panel, pre-flight, messages) and `request` (answers and tokens) use
//! those; `dispatch` (the callback function) hands each call to `view` or `request`.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, EventTarget};

mod dispatch;
mod ffi;
mod request;
mod resources;
mod route;
mod snapshot;
mod view;

use ffi::{emit, exchange, hidden, object, promise, report, settled, Abort};
use resources::{Alarm, Flight, Listener};
use route::{Route, Step, MAX_ID};
use view::Frame;
pub use view::{check, open};

use crate::js::{document, get};
use crate::machine::{Action, Config, Input, Machine, Notice, Slot};
use crate::options::{self, Labels, Mode, Options};
use crate::status::MAX_BODY;

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
    /// The one function the browser calls back (promises, listeners, timers; `dispatch`), made
    /// once and kept for the life of the page.
    static DISPATCH: JsValue = dispatch::function();
}

/// Runs `route` for verification `core` once `promise` settles, whichever way.
fn after(core: &Core, promise: &JsValue, route: Route) {
    let _ = DISPATCH.with(|f| settled(promise, f, core.key, route.pack()));
}

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

#[derive(Debug)]
struct Driver {
    machine: Machine,
    container: Element,
    /// Status and cancel endpoints, by `Slot` (the cancel one empty when not given).
    urls: [String; 2],
    token: Option<String>,
    refresh_token: Option<Function>,
    title: String,
    height: String,
    /// By `Notice` order (`options::CALLBACKS`).
    callbacks: [Option<Function>; 4],
    mode: Mode,
    /// `fallback: "window"`.
    fallback: bool,
    labels: Labels,
    /// `completed`'s resolve and reject.
    settle: [Function; 2],
    /// A `cancel()` promise's resolve and reject: the one being asked, the one waiting.
    cancel_new: Option<[Function; 2]>,
    cancel_waiting: Option<[Function; 2]>,
    frame: Option<Frame>,
    _listeners: [Listener; 2],
    /// By `Timer`.
    timers: [Option<Alarm>; 4],
    /// By `Slot`.
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
        Listener::new(&window, "message", &core, Route::to(Step::Message)),
        Listener::new(
            doc.as_ref(),
            "visibilitychange",
            &core,
            Route::to(Step::Visible),
        ),
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
            after(
                core,
                &p,
                Route {
                    id,
                    step: Step::Answer,
                    slot,
                },
            );
        }
        Action::RefreshToken(slot) => {
            let id = d.next_id();
            d.flights[slot as usize] = Some(Flight { id, abort: None });
            let f = d.refresh_token.clone();
            drop(live);
            let called = f.map_or(Ok(JsValue::UNDEFINED), |f| {
                f.call1(&JsValue::UNDEFINED, &JsValue::UNDEFINED)
            });
            let route = Route {
                id,
                step: Step::Token,
                slot,
            };
            match called {
                // A refresh that never settles is ended by the request timer; a late answer
                // then finds no flight of its id.
                Ok(v) => after(core, &v, route),
                Err(thrown) => {
                    report("refreshToken", &thrown);
                    request::resume(core, route, false, thrown);
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
            d.timers[t as usize] = Some(Alarm::new(core, Route::of(Step::alarm(t), id), ms as i32));
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
                        after(core, &JsValue::UNDEFINED, Route::to(Step::Loaded));
                    }
                    if let Some(r) = reason {
                        view::announce(core, "gu1kyc:fallback", "reason", &r.as_str().into());
                    } else if mode == Mode::Modal {
                        open(core);
                    }
                }
                None => feed(core, Input::FrameFailed, None),
            }
        }
        Action::Navigate(url) => {
            if let Some(f) = d.frame.as_mut() {
                if let Some(i) = &f.iframe {
                    ffi::dom(i).set_attr("src", &url.href);
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
    /// A new flight, alarm or view id, within the bits a `Route` carries.
    fn next_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1) & MAX_ID;
        self.next_id
    }
}
