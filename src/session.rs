//! One verification from mount to its end: the state machine behind `Verification`.
//!
//! Ownership: `Shared` owns every browser resource of a verification (iframe, listeners,
//! timers, the in-flight request) through RAII values, so ending it is dropping them. Timer and
//! listener closures hold only a `Weak` to it; the live registry and the JavaScript handle hold
//! the strong references. Integrator code (callbacks, event listeners, `refreshToken`) is only
//! ever called with no borrow of the state held, so it may call back into the verification.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use js_sys::{Function, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, AbortSignal, Element, MessageEvent};

use crate::error::{Code, KycError};
use crate::events::{self, Listener};
use crate::frame::{self, Frame};
use crate::messages;
use crate::options::{self, Callbacks, Options, SessionUrl};
use crate::poll::{self, Answer, HintBudget};
use crate::status::{Field, Snapshot, Status};

/// What does not change after mount.
#[derive(Debug)]
struct Config {
    container: Element,
    status_url: String,
    cancel_url: Option<String>,
    refresh_token: Option<Function>,
    allow: Option<String>,
    /// The page passed `sessionUrl`: the proxy's URL does not replace it.
    pinned_url: bool,
    poll_interval_ms: u32,
    request_timeout_ms: u32,
    title: String,
    height: String,
    callbacks: Callbacks,
}

/// How a verification ended.
#[derive(Debug)]
enum Outcome {
    Completed(Snapshot),
    Failed(KycError),
}

/// A request (or `refreshToken()` call) in flight. Dropping it aborts the request and opens the
/// gate the task is waiting on, so a waiting task always wakes up and finishes.
#[derive(Debug)]
struct InFlight {
    controller: AbortController,
    gate: Function,
    _timer: Timeout,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.controller.abort();
        let _ = self.gate.call0(&JsValue::UNDEFINED);
    }
}

/// Handles the task keeps while its `InFlight` is stored in the state.
struct Armed {
    signal: AbortSignal,
    gate: Promise,
    timed_out: Rc<Cell<bool>>,
}

#[derive(Debug)]
struct State {
    outcome: Option<Outcome>,
    token: Option<String>,
    snapshot: Option<Snapshot>,
    frame: Option<Frame>,
    ready: bool,
    next_poll: Option<Timeout>,
    deadline: Option<Timeout>,
    request: Option<InFlight>,
    cancel: Option<InFlight>,
    listeners: Vec<Listener>,
    interval: u32,
    failures: u32,
    /// No hint or refresh polls before this time (backoff, Retry-After).
    quiet_until: f64,
    /// Poll again as soon as the request in flight is answered.
    again: bool,
    /// A poll came due while the page was hidden.
    paused: bool,
    hints: HintBudget,
    unknown_reported: Vec<String>,
}

/// The shared core of a verification.
#[derive(Debug)]
pub struct Shared {
    config: Config,
    state: RefCell<State>,
    completed: Promise,
    resolve: Function,
    reject: Function,
}

thread_local! {
    /// Verifications still running, so they live on without a JavaScript handle and so a second
    /// mount into the same container replaces the first.
    static LIVE: RefCell<Vec<Rc<Shared>>> = const { RefCell::new(Vec::new()) };
}

fn now() -> f64 {
    js_sys::Date::now()
}

fn to_js(snapshot: &Snapshot) -> JsValue {
    let object = js_sys::Object::new();
    for (name, field) in snapshot.fields() {
        let value = match field {
            Field::Str(Some(s)) => JsValue::from_str(s),
            Field::Str(None) => JsValue::NULL,
            Field::Bool(b) => JsValue::from_bool(b),
        };
        crate::error::set(&object, name, &value);
    }
    object.into()
}

/// A built-in function that ignores its argument (`Boolean`): no closure to keep alive and no
/// `new Function`, which a strict CSP forbids.
fn inert() -> Function {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("Boolean"))
        .map(|f| f.unchecked_into())
        .unwrap_or_else(|_| js_sys::Function::from(JsValue::UNDEFINED))
}

fn document_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.hidden())
}

/// Starts a verification.
pub fn mount(opts: Options) -> Rc<Shared> {
    // A container hosts one verification: mounting again replaces the previous one.
    let previous: Vec<Rc<Shared>> = LIVE.with(|l| {
        l.borrow()
            .iter()
            .filter(|s| s.config.container == opts.container)
            .cloned()
            .collect()
    });
    for p in previous {
        p.destroy();
    }

    let mut resolve = None;
    let mut reject = None;
    let completed = Promise::new(&mut |res, rej| {
        resolve = Some(res);
        reject = Some(rej);
    });
    // Mark the promise handled so a page that never awaits it sees no unhandled rejection;
    // handlers the page attaches still see the rejection.
    if let Ok(catch) = js_sys::Reflect::get(&completed, &JsValue::from_str("catch")) {
        let _ = catch
            .unchecked_into::<Function>()
            .call1(&completed, &inert());
    }

    let Options {
        container,
        status_url,
        token,
        refresh_token,
        session_url,
        allow,
        cancel_url,
        poll_interval_ms,
        timeout_ms,
        request_timeout_ms,
        title,
        height,
        callbacks,
    } = opts;
    let shared = Rc::new(Shared {
        config: Config {
            container,
            status_url,
            cancel_url,
            refresh_token,
            allow,
            pinned_url: session_url.is_some(),
            poll_interval_ms,
            request_timeout_ms,
            title,
            height,
            callbacks,
        },
        state: RefCell::new(State {
            outcome: None,
            token,
            snapshot: None,
            frame: None,
            ready: false,
            next_poll: None,
            deadline: None,
            request: None,
            cancel: None,
            listeners: Vec::new(),
            interval: poll_interval_ms,
            failures: 0,
            quiet_until: 0.0,
            again: false,
            paused: false,
            hints: HintBudget::new(now()),
            unknown_reported: Vec::new(),
        }),
        completed,
        resolve: resolve.unwrap_or_else(inert),
        reject: reject.unwrap_or_else(inert),
    });

    let weak = Rc::downgrade(&shared);
    {
        let mut st = shared.state.borrow_mut();
        if let Some(url) = session_url {
            let allow = shared
                .config
                .allow
                .clone()
                .unwrap_or_else(|| frame::DEFAULT_ALLOW.to_owned());
            shared.mount_frame(&mut st, url, &allow);
        }
        let w = weak.clone();
        st.deadline = Some(Timeout::new(timeout_ms, move || {
            if let Some(s) = w.upgrade() {
                let mut m = String::from("no terminal status within timeoutMs (");
                m.push_str(&timeout_ms.to_string());
                m.push_str(" ms)");
                s.fail(KycError::new(Code::Timeout, m));
            }
        }));
        if let Some(window) = web_sys::window() {
            let w = weak.clone();
            st.listeners
                .push(Listener::new(window.as_ref(), "message", move |e| {
                    if let (Some(s), Some(e)) = (w.upgrade(), e.dyn_ref::<MessageEvent>()) {
                        s.on_message(e);
                    }
                }));
            if let Some(document) = window.document() {
                let w = weak.clone();
                st.listeners.push(Listener::new(
                    document.as_ref(),
                    "visibilitychange",
                    move |_| {
                        if let Some(s) = w.upgrade() {
                            s.on_visibility();
                        }
                    },
                ));
            }
        }
    }
    LIVE.with(|l| l.borrow_mut().push(shared.clone()));
    shared.poll_now();
    shared
}

impl Shared {
    /// The `completed` promise.
    pub fn completed(&self) -> Promise {
        self.completed.clone()
    }

    /// The last snapshot, or `null`.
    pub fn status(&self) -> JsValue {
        let st = self.state.borrow();
        match &st.outcome {
            Some(Outcome::Completed(s)) => to_js(s),
            _ => st.snapshot.as_ref().map_or(JsValue::NULL, to_js),
        }
    }

    fn ended(&self) -> bool {
        self.state.borrow().outcome.is_some()
    }

    fn weak(self: &Rc<Self>) -> Weak<Self> {
        Rc::downgrade(self)
    }

    /// Creates the iframe and the listener that reports `ready` on its first load.
    fn mount_frame(self: &Rc<Self>, st: &mut State, url: SessionUrl, allow: &str) {
        let c = &self.config;
        let Some(frame) = Frame::mount(&c.container, url, allow, &c.title, &c.height) else {
            return;
        };
        let w = self.weak();
        if frame.loaded() {
            // Adopted after its load event: ready is announced once mount has returned.
            spawn_local(async move {
                if let Some(s) = w.upgrade() {
                    s.on_load();
                }
            });
        } else {
            st.listeners
                .push(Listener::new(frame.element().as_ref(), "load", move |_| {
                    if let Some(s) = w.upgrade() {
                        s.on_load();
                    }
                }));
        }
        st.frame = Some(frame);
    }

    fn on_load(self: &Rc<Self>) {
        let detail = {
            let mut st = self.state.borrow_mut();
            if st.ready || st.outcome.is_some() {
                return;
            }
            st.ready = true;
            let obj = js_sys::Object::new();
            if let Some(f) = &st.frame {
                crate::error::set(&obj, "sessionUrl", &JsValue::from_str(&f.url().href));
            }
            JsValue::from(obj)
        };
        events::dispatch(&self.config.container, events::READY, &detail);
        events::call(self.config.callbacks.on_ready.as_ref(), "onReady", &detail);
    }

    /// A message from the hosted page: a hint to poll now, when it comes from the iframe's
    /// origin and window. Never a completion.
    fn on_message(self: &Rc<Self>, e: &MessageEvent) {
        let genuine = {
            let st = self.state.borrow();
            let Some(frame) = &st.frame else { return };
            let from_frame = match (e.source(), frame.element().content_window()) {
                (Some(src), Some(win)) => JsValue::from(src) == JsValue::from(win),
                _ => false,
            };
            from_frame && e.origin() == frame.url().origin
        };
        if !genuine {
            return;
        }
        let Some(kind) = messages::message_type(&e.data()) else {
            return;
        };
        if !messages::is_hint(&kind) {
            return;
        }
        {
            let mut st = self.state.borrow_mut();
            let t = now();
            if t < st.quiet_until || !st.hints.take(t) {
                return;
            }
            st.interval = self.config.poll_interval_ms;
        }
        self.poll_now();
    }

    fn on_visibility(self: &Rc<Self>) {
        if document_hidden() {
            return;
        }
        let resume = std::mem::take(&mut self.state.borrow_mut().paused);
        if resume {
            self.poll_now();
        }
    }

    /// `refresh()`: poll now, unless the proxy asked for a pause.
    pub fn refresh(self: &Rc<Self>) {
        {
            let mut st = self.state.borrow_mut();
            if st.outcome.is_some() || now() < st.quiet_until {
                return;
            }
            st.interval = self.config.poll_interval_ms;
        }
        self.poll_now();
    }

    /// Starts a poll unless one is in flight (then one follows it) or the page is hidden (then
    /// it waits for the page to show).
    fn poll_now(self: &Rc<Self>) {
        let token = {
            let mut st = self.state.borrow_mut();
            if st.outcome.is_some() {
                return;
            }
            if st.request.is_some() {
                st.again = true;
                return;
            }
            st.next_poll = None;
            if document_hidden() {
                st.paused = true;
                return;
            }
            st.token.clone()
        };
        let Some(armed) = self.arm(false) else { return };
        spawn_local(run_poll(self.weak(), armed, token));
    }

    /// Stores a new `InFlight` (the request slot, or the cancel slot) with its timeout.
    fn arm(self: &Rc<Self>, cancel: bool) -> Option<Armed> {
        let controller = AbortController::new().ok()?;
        let mut open = None;
        let gate = Promise::new(&mut |res, _| open = Some(res));
        let open = open?;
        let timed_out = Rc::new(Cell::new(false));
        let timer = {
            let (controller, open, timed_out) =
                (controller.clone(), open.clone(), timed_out.clone());
            Timeout::new(self.config.request_timeout_ms, move || {
                timed_out.set(true);
                controller.abort();
                let _ = open.call0(&JsValue::UNDEFINED);
            })
        };
        let armed = Armed {
            signal: controller.signal(),
            gate,
            timed_out,
        };
        let slot = InFlight {
            controller,
            gate: open,
            _timer: timer,
        };
        let mut st = self.state.borrow_mut();
        if cancel {
            st.cancel = Some(slot);
        } else {
            st.request = Some(slot);
        }
        Some(armed)
    }

    fn schedule(self: &Rc<Self>, st: &mut State, delay_ms: u32) {
        let w = self.weak();
        st.next_poll = Some(Timeout::new(delay_ms, move || {
            if let Some(s) = w.upgrade() {
                s.poll_now();
            }
        }));
    }

    /// Asks `refreshToken()` for a new token, bounded by the request timeout and by destroy.
    async fn refreshed_token(self: &Rc<Self>, cancel: bool) -> Option<String> {
        let f = self.config.refresh_token.clone()?;
        let armed = self.arm(cancel)?;
        let called = f.call0(&JsValue::UNDEFINED);
        if let Err(thrown) = &called {
            events::report("refreshToken", thrown);
        }
        let raced = match called {
            Ok(v) if v.has_type::<Promise>() => {
                let both = js_sys::Array::of2(&v, &armed.gate);
                poll::settle(Ok(Promise::race(&both).into())).await
            }
            other => other,
        };
        let mut st = self.state.borrow_mut();
        let slot = if cancel {
            st.cancel.take()
        } else {
            st.request.take()
        };
        drop(st);
        drop(slot);
        if armed.timed_out.get() || self.ended() {
            return None;
        }
        raced
            .ok()
            .and_then(|v| v.as_string())
            .filter(|t| !t.is_empty() && t.len() <= 8_192 && !t.chars().any(char::is_control))
    }

    /// Handles one answer of the status endpoint.
    fn on_answer(self: &Rc<Self>, answer: Answer) {
        match answer {
            Answer::Snapshot(s) => self.on_snapshot(s),
            Answer::Unauthorized => self.fail(KycError::new(
                Code::Unauthorized,
                "the proxy refused the token and refreshToken did not provide one it accepts",
            )),
            Answer::Failure {
                error,
                retry_after_ms,
                ..
            } => {
                {
                    let mut st = self.state.borrow_mut();
                    st.failures = st.failures.saturating_add(1);
                    let backoff = poll::backoff_ms(
                        self.config.poll_interval_ms,
                        st.failures,
                        js_sys::Math::random(),
                    );
                    let delay =
                        retry_after_ms.map_or(backoff, |r| r.max(self.config.poll_interval_ms));
                    st.quiet_until = now() + delay as f64;
                    st.again = false;
                    self.schedule(&mut st, delay);
                }
                self.emit_error(&error, true);
            }
        }
    }

    fn on_snapshot(self: &Rc<Self>, next: Snapshot) {
        let mut unsafe_url = None;
        let (changed, unknown) = {
            let mut st = self.state.borrow_mut();
            st.failures = 0;
            st.quiet_until = 0.0;
            let changed = st.snapshot.as_ref().map_or(true, |p| p.differs(&next));
            if !next.terminal {
                if let Some(raw) = &next.session_url {
                    let current = st.frame.as_ref().map(|f| f.url().href.clone());
                    let differs = current.as_deref() != Some(raw.as_str());
                    if differs && (st.frame.is_none() || !self.config.pinned_url) {
                        match options::parse_session_url(raw) {
                            Ok(url) if current.as_deref() == Some(url.href.as_str()) => {}
                            Ok(url) => match st.frame.as_mut() {
                                Some(f) => f.navigate(url),
                                None => {
                                    let allow = self.config.allow.clone().unwrap_or_else(|| {
                                        frame::filter_allow(next.iframe_allow.as_deref())
                                    });
                                    self.mount_frame(&mut st, url, &allow);
                                }
                            },
                            Err(e) => unsafe_url = Some((e, st.frame.is_some())),
                        }
                    }
                }
            }
            let unknown = match &next.status {
                Status::Unknown(s) if !st.unknown_reported.contains(s) => {
                    st.unknown_reported.push(s.clone());
                    Some(s.clone())
                }
                _ => None,
            };
            st.snapshot = Some(next.clone());
            (changed, unknown)
        };

        if let Some((e, keep_going)) = unsafe_url {
            if !keep_going {
                // Nothing can be shown: the proxy hands out a URL this client refuses.
                self.fail(e);
                return;
            }
            self.emit_error(&e, true);
        }
        if next.terminal {
            self.complete(next, changed);
            return;
        }
        {
            let mut st = self.state.borrow_mut();
            if st.outcome.is_some() {
                return;
            }
            st.interval = poll::next_interval(self.config.poll_interval_ms, st.interval, changed);
            let delay = st.interval;
            self.schedule(&mut st, delay);
        }
        if changed {
            let detail = to_js(&next);
            events::dispatch(&self.config.container, events::STATUS, &detail);
            events::call(
                self.config.callbacks.on_status.as_ref(),
                "onStatus",
                &detail,
            );
        }
        if let Some(s) = unknown {
            let mut m = String::from("the proxy reported an unknown status: ");
            m.push_str(&s);
            self.emit_error(&KycError::new(Code::UnknownStatus, m), true);
        }
    }

    fn emit_error(&self, e: &KycError, retrying: bool) {
        if retrying && self.ended() {
            return;
        }
        events::dispatch(
            &self.config.container,
            events::ERROR,
            &e.to_detail(retrying),
        );
        events::call(
            self.config.callbacks.on_error.as_ref(),
            "onError",
            &e.to_js(Some(retrying)),
        );
    }

    /// Releases every resource; returns false when the verification had already ended.
    fn end(self: &Rc<Self>, outcome: Outcome) -> bool {
        let released = {
            let mut st = self.state.borrow_mut();
            if st.outcome.is_some() {
                return false;
            }
            st.outcome = Some(outcome);
            (
                st.frame.take(),
                st.next_poll.take(),
                st.deadline.take(),
                st.request.take(),
                st.cancel.take(),
                std::mem::take(&mut st.listeners),
            )
        };
        drop(released);
        LIVE.with(|l| l.borrow_mut().retain(|s| !Rc::ptr_eq(s, self)));
        true
    }

    /// The terminal snapshot: status event (when it changed), complete event, callbacks, then
    /// the `completed` promise. Exactly once.
    fn complete(self: &Rc<Self>, snapshot: Snapshot, changed: bool) {
        if !self.end(Outcome::Completed(snapshot.clone())) {
            return;
        }
        let detail = to_js(&snapshot);
        let cb = &self.config.callbacks;
        if changed {
            events::dispatch(&self.config.container, events::STATUS, &detail);
            events::call(cb.on_status.as_ref(), "onStatus", &detail);
        }
        events::dispatch(&self.config.container, events::COMPLETE, &detail);
        events::call(cb.on_complete.as_ref(), "onComplete", &detail);
        let _ = self.resolve.call1(&JsValue::UNDEFINED, &detail);
    }

    /// A fatal error: the verification ends and `completed` rejects.
    fn fail(self: &Rc<Self>, e: KycError) {
        if !self.end(Outcome::Failed(e.clone())) {
            return;
        }
        self.emit_error(&e, false);
        let _ = self.reject.call1(&JsValue::UNDEFINED, &e.to_js(None));
    }

    /// `destroy()`: synchronous and idempotent. No event is dispatched; `completed` rejects with
    /// `DESTROYED` if it had not settled.
    pub fn destroy(self: &Rc<Self>) {
        let e = KycError::new(
            Code::Destroyed,
            "the verification was destroyed before it completed",
        );
        if self.end(Outcome::Failed(e.clone())) {
            let _ = self.reject.call1(&JsValue::UNDEFINED, &e.to_js(None));
        }
    }

    /// `cancel()`: POST `cancelUrl`, then complete with the proxy's terminal answer.
    pub async fn cancel(self: Rc<Self>) -> Result<JsValue, JsValue> {
        if let Some(settled) = self.settled() {
            return settled;
        }
        let Some(url) = self.config.cancel_url.clone() else {
            return Err(KycError::option("cancelUrl", "is required to cancel").to_js(None));
        };
        if self.state.borrow().cancel.is_some() {
            return JsFuture::from(self.completed()).await;
        }
        let mut refreshed = false;
        loop {
            let token = self.state.borrow().token.clone();
            let Some(armed) = self.arm(true) else {
                return Err(
                    KycError::new(Code::Network, "the request could not be built").to_js(None),
                );
            };
            let answer = poll::fetch("POST", &url, token.as_deref(), &armed.signal).await;
            let slot = self.state.borrow_mut().cancel.take();
            drop(slot);
            if let Some(settled) = self.settled() {
                return settled;
            }
            let answer = if armed.timed_out.get() {
                timed_out_answer(self.config.request_timeout_ms)
            } else {
                answer
            };
            match answer {
                Answer::Snapshot(s) if s.terminal => {
                    self.complete(s, true);
                    return self.settled().unwrap_or(Ok(JsValue::NULL));
                }
                Answer::Snapshot(_) => break,
                Answer::Unauthorized if !refreshed && self.config.refresh_token.is_some() => {
                    refreshed = true;
                    match self.refreshed_token(true).await {
                        Some(t) => self.state.borrow_mut().token = Some(t),
                        None => return Err(unauthorized().to_js(None)),
                    }
                }
                Answer::Unauthorized => return Err(unauthorized().to_js(None)),
                // 409: the session is already terminal; the status endpoint says which.
                Answer::Failure { http: 409, .. } => break,
                Answer::Failure { error, .. } => return Err(error.to_js(None)),
            }
        }
        // Confirmed without a terminal body: ask the status endpoint, then wait for the end.
        self.refresh();
        JsFuture::from(self.completed()).await
    }

    /// The settled outcome, for calls made after the end.
    fn settled(&self) -> Option<Result<JsValue, JsValue>> {
        match &self.state.borrow().outcome {
            Some(Outcome::Completed(s)) => Some(Ok(to_js(s))),
            Some(Outcome::Failed(e)) => Some(Err(e.to_js(None))),
            None => None,
        }
    }
}

fn unauthorized() -> KycError {
    KycError::new(
        Code::Unauthorized,
        "the proxy refused the token and refreshToken did not provide one it accepts",
    )
}

fn timed_out_answer(ms: u32) -> Answer {
    let mut m = String::from("the proxy did not answer within requestTimeoutMs (");
    m.push_str(&ms.to_string());
    m.push_str(" ms)");
    Answer::Failure {
        error: KycError::new(Code::Network, m),
        http: 0,
        retry_after_ms: None,
    }
}

/// One poll: the request, at most one token refresh and retry on 401, then the answer.
async fn run_poll(weak: Weak<Shared>, mut armed: Armed, mut token: Option<String>) {
    let mut refreshed = false;
    loop {
        let Some(url) = weak.upgrade().map(|s| s.config.status_url.clone()) else {
            return;
        };
        let answer = poll::fetch("GET", &url, token.as_deref(), &armed.signal).await;
        let Some(shared) = weak.upgrade() else { return };
        let slot = shared.state.borrow_mut().request.take();
        drop(slot);
        if shared.ended() {
            return;
        }
        let answer = if armed.timed_out.get() {
            timed_out_answer(shared.config.request_timeout_ms)
        } else {
            answer
        };
        if matches!(answer, Answer::Unauthorized)
            && !refreshed
            && shared.config.refresh_token.is_some()
        {
            refreshed = true;
            let Some(t) = shared.refreshed_token(false).await else {
                if !shared.ended() {
                    shared.on_answer(Answer::Unauthorized);
                }
                return;
            };
            shared.state.borrow_mut().token = Some(t.clone());
            token = Some(t);
            match shared.arm(false) {
                Some(a) => armed = a,
                None => return,
            }
            continue;
        }
        shared.on_answer(answer);
        let again = std::mem::take(&mut shared.state.borrow_mut().again);
        if again {
            shared.poll_now();
        }
        return;
    }
}
