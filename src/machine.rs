//! The decisions of one verification, with no browser in them.
//!
//! A sans-IO state machine: the driver hands it inputs (a timer came due, an answer arrived,
//! the page became visible, the integrator called `refresh()`), with the time and a jitter
//! value as arguments, and performs the actions it queues (fetch, arm a timer, show the frame,
//! emit an event, settle `completed`). Nothing here touches `web-sys`, `js-sys` or
//! `wasm-bindgen`, so every rule is tested natively (see `src/tests/`).

use crate::error::{Code, KycError};
use crate::permissions::{self, Permissions};
use crate::status::{Answer, Session, Status};
use crate::url::SessionUrl;

/// The interval grows by half after each answer that changed nothing...
const GROWTH: f64 = 1.5;
/// ...up to this multiple of `pollIntervalMs`.
const MAX_STRETCH: u32 = 4;
/// Longest failure backoff.
const MAX_BACKOFF_MS: u32 = 60_000;

/// The two requests a verification can have in flight, one each at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// `GET statusUrl` (and the `refreshToken()` call it may need).
    Status = 0,
    /// `POST cancelUrl` (and its `refreshToken()` call).
    Cancel = 1,
}

/// The timers a verification uses; arming one that is armed replaces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The next poll.
    Poll = 0,
    /// `timeoutMs` for the whole verification.
    Deadline = 1,
    /// `requestTimeoutMs` for the status slot's request or refresh.
    StatusRequest = 2,
    /// `requestTimeoutMs` for the cancel slot's request or refresh.
    CancelRequest = 3,
}

impl Timer {
    /// Every timer, indexed by its value.
    pub const ALL: [Timer; 4] = [
        Timer::Poll,
        Timer::Deadline,
        Timer::StatusRequest,
        Timer::CancelRequest,
    ];

    fn request(slot: Slot) -> Timer {
        match slot {
            Slot::Status => Timer::StatusRequest,
            Slot::Cancel => Timer::CancelRequest,
        }
    }
}

/// Inputs, fed by the driver.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// `mount` has set everything up: show the pinned frame, arm the deadline, poll.
    Start,
    /// A timer armed by `Action::Arm` fired.
    Due(Timer),
    /// The request of a slot was answered (or failed).
    Answered(Slot, Answer),
    /// `refreshToken()` for a slot gave a usable token (`true`) or not.
    TokenRefreshed(Slot, bool),
    /// The iframe fired `load`.
    FrameLoaded,
    /// The iframe could not be created in the container.
    FrameFailed,
    /// A hosted-page message that passed the origin and source checks and is a status hint.
    Hint,
    /// `document.hidden` changed (`true`: visible).
    Visible(bool),
    /// `refresh()`.
    Refresh,
    /// `cancel()`.
    Cancel,
    /// `destroy()`.
    Destroy,
}

/// Something the page is told.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// `gu1kyc:ready` / `onReady`, with the frame's URL.
    Ready,
    /// `gu1kyc:status` / `onStatus`, with the kept snapshot.
    Status,
    /// `gu1kyc:complete` / `onComplete`, with the kept snapshot.
    Complete,
    /// `gu1kyc:error` / `onError`.
    Error(KycError, bool),
}

/// Actions, performed by the driver in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Send the slot's request (status: GET, cancel: POST) with the current token. A status
    /// request with a wait (seconds, 0 for none) carries the kept `ETag` in `If-None-Match` and
    /// `Prefer: wait=N`: a proxy that honours it answers when the state changes or the wait ends.
    Fetch(Slot, u32),
    /// Call `refreshToken()` for the slot.
    RefreshToken(Slot),
    /// Abandon what the slot has in flight (abort the request, stop waiting for the refresh).
    Abort(Slot),
    /// Start a timer (replacing it if armed) for this many milliseconds.
    Arm(Timer, u32),
    /// Stop a timer.
    Disarm(Timer),
    /// Create (or adopt) the iframe.
    ShowFrame(SessionUrl, Permissions),
    /// Point the iframe at another URL.
    Navigate(SessionUrl),
    /// Remove the iframe.
    RemoveFrame,
    /// The snapshot of the answer being handled becomes `v.status`.
    Keep,
    /// Tell the page.
    Emit(Notice),
    /// Settle `completed`: resolve with the kept snapshot, or reject. Exactly once.
    Settle(Result<(), KycError>),
    /// Settle the pending `cancel()` promise: with the outcome of `completed` (`None`), or
    /// reject it with an error while the verification goes on.
    CancelDone(Option<KycError>),
}

/// What does not change after mount.
#[derive(Clone, Debug)]
pub struct Config {
    /// Base poll interval.
    pub poll_ms: u32,
    /// Overall timeout.
    pub timeout_ms: u32,
    /// Per request (and per `refreshToken()` call); a waiting request gets its wait on top.
    pub request_timeout_ms: u32,
    /// The wait asked of the proxy (`Prefer: wait`), in seconds; 0 never asks.
    pub wait_s: u32,
    /// The page's `sessionUrl`: shown at start, never replaced by the proxy's.
    pub session_url: Option<SessionUrl>,
    /// The page's `allow`, overriding the session's.
    pub allow: Option<Permissions>,
    /// A `refreshToken` callback was given.
    pub can_refresh: bool,
    /// A `cancelUrl` was given.
    pub can_cancel: bool,
}

/// What a slot is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flight {
    Idle,
    /// Waiting for the request; `refreshed` once the token was refreshed for it.
    Fetching {
        refreshed: bool,
    },
    /// Waiting for `refreshToken()`.
    Refreshing,
}

/// A token bucket for hints: a burst of `CAPACITY`, then one per `REFILL_MS`. A page that
/// floods messages cannot make the client flood the proxy.
#[derive(Clone, Copy, Debug)]
pub struct HintBudget {
    tokens: f64,
    at_ms: f64,
}

impl HintBudget {
    const CAPACITY: f64 = 3.0;
    const REFILL_MS: f64 = 1_000.0;

    /// A full bucket.
    pub fn new(now_ms: f64) -> Self {
        HintBudget {
            tokens: Self::CAPACITY,
            at_ms: now_ms,
        }
    }

    /// Takes a token if one is left.
    pub fn take(&mut self, now_ms: f64) -> bool {
        let refill = ((now_ms - self.at_ms) / Self::REFILL_MS).max(0.0);
        self.tokens = (self.tokens + refill).min(Self::CAPACITY);
        self.at_ms = now_ms;
        let ok = self.tokens >= 1.0;
        if ok {
            self.tokens -= 1.0;
        }
        ok
    }
}

/// The delay before the next poll after an answer: back to `base` when something changed,
/// otherwise stretched by half up to `MAX_STRETCH × base`.
pub fn next_interval(base: u32, current: u32, changed: bool) -> u32 {
    if changed || current < base {
        return base;
    }
    ((current as f64 * GROWTH) as u32).clamp(base, base.saturating_mul(MAX_STRETCH))
}

/// Exponential backoff with "equal jitter" after `failures` consecutive failures (≥ 1): half
/// of `base × 2^(failures−1)` (capped) is fixed and half is random (`jitter` in [0, 1]).
pub fn backoff_ms(base: u32, failures: u32, jitter: f64) -> u32 {
    let exp = failures.saturating_sub(1).min(16);
    let full = ((base as u64) << exp).min(MAX_BACKOFF_MS.max(base) as u64) as f64 / 2.0;
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.5
    };
    (full + full * jitter) as u32
}

/// One verification's decisions.
#[derive(Debug)]
pub struct Machine {
    cfg: Config,
    ended: bool,
    /// Status and id of the last answer, for change detection.
    last: Option<(Status, Option<String>)>,
    /// The URL the frame shows, when there is one.
    frame: Option<SessionUrl>,
    ready: bool,
    interval: u32,
    failures: u32,
    /// No hint or refresh polls before this time (backoff, Retry-After).
    quiet_until: f64,
    /// Poll again as soon as the status request in flight is answered.
    again: bool,
    /// A poll came due while the page was hidden.
    paused: bool,
    hidden: bool,
    hints: HintBudget,
    unknown: Vec<String>,
    flights: [Flight; 2],
    /// A `cancel()` waits for its `CancelDone`.
    cancel_waiting: bool,
    /// Armed timers, one bit each.
    armed: u8,
    /// The last status answer carried an `ETag`.
    tagged: bool,
    /// The status request in flight asked the proxy to wait.
    waiting: bool,
    /// A waiting request got no answer in time (or none at all): this verification asks for
    /// no more waits, in case whatever is between the page and the proxy cannot carry them.
    no_wait: bool,
    /// When the status request in flight was sent.
    sent_ms: f64,
    /// The time of the input being handled.
    now: f64,
    /// Queued actions, oldest first (a handful at a time).
    actions: Vec<Action>,
}

impl Machine {
    /// A machine that has not started.
    pub fn new(cfg: Config, now_ms: f64) -> Self {
        Machine {
            interval: cfg.poll_ms,
            cfg,
            ended: false,
            last: None,
            frame: None,
            ready: false,
            failures: 0,
            quiet_until: 0.0,
            again: false,
            paused: false,
            hidden: false,
            hints: HintBudget::new(now_ms),
            unknown: Vec::new(),
            flights: [Flight::Idle; 2],
            cancel_waiting: false,
            armed: 0,
            tagged: false,
            waiting: false,
            no_wait: false,
            sent_ms: now_ms,
            now: now_ms,
            actions: Vec::new(),
        }
    }

    /// Whether the verification has ended (completed, failed or destroyed).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The armed timers, bit `t` for `Timer` `t` (for the table tests).
    #[cfg(all(test, not(target_arch = "wasm32")))]
    pub(crate) fn armed(&self) -> u8 {
        self.armed
    }

    /// The next action to perform.
    pub fn poll_action(&mut self) -> Option<Action> {
        (!self.actions.is_empty()).then(|| self.actions.remove(0))
    }

    /// Handles one input. `now_ms` is the time, `jitter` a random number in [0, 1).
    pub fn handle(&mut self, input: Input, now_ms: f64, jitter: f64) {
        self.now = now_ms;
        if self.ended {
            // Calls after the end answer with the outcome; nothing else happens.
            if input == Input::Cancel {
                self.push(Action::CancelDone(None));
            }
            return;
        }
        match input {
            Input::Start => {
                self.hints = HintBudget::new(now_ms);
                if let Some(url) = self.cfg.session_url.clone() {
                    let allow = self.cfg.allow.unwrap_or(permissions::DEFAULT);
                    self.show(url, allow);
                }
                self.arm(Timer::Deadline, self.cfg.timeout_ms);
                self.arm(Timer::Poll, 0);
            }
            Input::Due(timer) => {
                self.armed &= !(1 << timer as u8);
                match timer {
                    Timer::Poll => self.poll_now(false),
                    Timer::Deadline => {
                        let mut m = String::from("no terminal status within timeoutMs (");
                        crate::error::push_u32(&mut m, self.cfg.timeout_ms);
                        m.push_str(" ms)");
                        self.fail(KycError::new(Code::Timeout, m));
                    }
                    Timer::StatusRequest => self.timed_out(Slot::Status, jitter, now_ms),
                    Timer::CancelRequest => self.timed_out(Slot::Cancel, jitter, now_ms),
                }
            }
            Input::Answered(slot, answer) => {
                if matches!(self.flights[slot as usize], Flight::Fetching { .. }) {
                    self.disarm(Timer::request(slot));
                    self.answered(slot, answer, now_ms, jitter);
                }
            }
            Input::TokenRefreshed(slot, ok) => {
                if self.flights[slot as usize] == Flight::Refreshing {
                    self.disarm(Timer::request(slot));
                    self.flights[slot as usize] = Flight::Idle;
                    if ok && slot == Slot::Status && self.hidden {
                        // The retry is a poll like any other: it waits for the page to show.
                        self.paused = true;
                    } else if ok {
                        self.fetch(slot, true);
                    } else {
                        self.refused(slot);
                    }
                }
            }
            Input::FrameLoaded => {
                if !self.ready && self.frame.is_some() {
                    self.ready = true;
                    self.push(Action::Emit(Notice::Ready));
                }
            }
            Input::FrameFailed => self.fail(KycError::new(
                Code::ContainerNotFound,
                "container cannot hold the verification's iframe",
            )),
            Input::Hint => {
                if self.frame.is_some() && now_ms >= self.quiet_until && self.hints.take(now_ms) {
                    self.interval = self.cfg.poll_ms;
                    self.poll_now(true);
                }
            }
            Input::Visible(visible) => {
                self.hidden = !visible;
                if visible && self.paused {
                    self.paused = false;
                    self.poll_now(false);
                }
            }
            Input::Refresh => {
                if now_ms >= self.quiet_until {
                    self.interval = self.cfg.poll_ms;
                    self.poll_now(true);
                }
            }
            Input::Cancel => {
                if !self.cfg.can_cancel {
                    self.push(Action::CancelDone(Some(KycError::option(
                        "cancelUrl",
                        "is required to cancel",
                    ))));
                } else if self.cancel_waiting {
                    // One cancel at a time: a second call waits for the outcome.
                    self.push(Action::CancelDone(None));
                } else {
                    self.cancel_waiting = true;
                    self.fetch(Slot::Cancel, false);
                }
            }
            Input::Destroy => self.end(Err(KycError::new(
                Code::Destroyed,
                "the verification was destroyed before it completed",
            ))),
        }
    }

    fn push(&mut self, a: Action) {
        self.actions.push(a);
    }

    fn arm(&mut self, t: Timer, ms: u32) {
        self.armed |= 1 << t as u8;
        self.push(Action::Arm(t, ms));
    }

    fn disarm(&mut self, t: Timer) {
        if self.armed & (1 << t as u8) != 0 {
            self.armed &= !(1 << t as u8);
            self.push(Action::Disarm(t));
        }
    }

    fn show(&mut self, url: SessionUrl, allow: Permissions) {
        self.frame = Some(url.clone());
        self.push(Action::ShowFrame(url, allow));
    }

    fn fetch(&mut self, slot: Slot, refreshed: bool) {
        self.flights[slot as usize] = Flight::Fetching { refreshed };
        let mut wait = 0;
        if slot == Slot::Status {
            if self.tagged && !self.no_wait {
                wait = self.cfg.wait_s;
            }
            self.waiting = wait > 0;
            self.sent_ms = self.now;
        }
        self.push(Action::Fetch(slot, wait));
        self.arm(
            Timer::request(slot),
            self.cfg
                .request_timeout_ms
                .saturating_add(wait.saturating_mul(1_000)),
        );
    }

    /// Starts a poll unless one is in flight (then one follows it) or the page is hidden (then
    /// it waits for the page to show). An `urgent` poll (a hint, `refresh()`) replaces a
    /// request the proxy is holding: that one answers only on a change the proxy has heard of,
    /// a new one makes it look now.
    fn poll_now(&mut self, urgent: bool) {
        if self.flights[Slot::Status as usize] != Flight::Idle {
            if !(urgent && self.waiting) {
                self.again = true;
                return;
            }
            self.flights[Slot::Status as usize] = Flight::Idle;
            self.disarm(Timer::StatusRequest);
            self.push(Action::Abort(Slot::Status));
        }
        self.disarm(Timer::Poll);
        if self.hidden {
            self.paused = true;
            return;
        }
        self.fetch(Slot::Status, false);
    }

    fn timed_out(&mut self, slot: Slot, jitter: f64, now_ms: f64) {
        match self.flights[slot as usize] {
            Flight::Idle => {}
            Flight::Refreshing => {
                self.flights[slot as usize] = Flight::Idle;
                self.push(Action::Abort(slot));
                self.refused(slot);
            }
            Flight::Fetching { .. } => {
                self.push(Action::Abort(slot));
                let mut m = String::from("the proxy did not answer within requestTimeoutMs (");
                crate::error::push_u32(&mut m, self.cfg.request_timeout_ms);
                m.push_str(" ms)");
                let answer = Answer::Failed {
                    error: KycError::new(Code::Network, m),
                    http: 0,
                    retry_after_ms: None,
                };
                self.answered(slot, answer, now_ms, jitter);
            }
        }
    }

    /// The token was refused and no refresh can help.
    fn refused(&mut self, slot: Slot) {
        let e = KycError::new(
            Code::Unauthorized,
            "the proxy refused the token and refreshToken did not provide one it accepts",
        );
        match slot {
            Slot::Status => self.fail(e),
            Slot::Cancel => self.cancel_done(Some(e)),
        }
    }

    fn cancel_done(&mut self, e: Option<KycError>) {
        if self.cancel_waiting {
            self.cancel_waiting = false;
            self.push(Action::CancelDone(e));
        }
    }

    fn answered(&mut self, slot: Slot, answer: Answer, now_ms: f64, jitter: f64) {
        let Flight::Fetching { refreshed } = self.flights[slot as usize] else {
            return;
        };
        self.flights[slot as usize] = Flight::Idle;
        let waited = slot == Slot::Status && std::mem::take(&mut self.waiting);
        match (slot, answer) {
            (_, Answer::Unauthorized) if !refreshed && self.cfg.can_refresh => {
                self.flights[slot as usize] = Flight::Refreshing;
                self.push(Action::RefreshToken(slot));
                self.arm(Timer::request(slot), self.cfg.request_timeout_ms);
            }
            (_, Answer::Unauthorized) => self.refused(slot),
            (Slot::Status, Answer::Session(s)) => {
                self.tagged = s.tag;
                let held = waited && s.held;
                self.on_session(s, held);
            }
            (Slot::Status, Answer::Unchanged(held)) => {
                self.failures = 0;
                self.quiet_until = 0.0;
                self.schedule(false, waited && held);
            }
            (
                Slot::Status,
                Answer::Failed {
                    error,
                    retry_after_ms,
                    http,
                },
            ) => {
                // No answer to a waiting request, or none in time: ask for no more waits.
                self.no_wait |= waited && http == 0;
                self.failures = self.failures.saturating_add(1);
                let backoff = backoff_ms(self.cfg.poll_ms, self.failures, jitter);
                let delay = retry_after_ms.map_or(backoff, |r| r.max(self.cfg.poll_ms));
                self.quiet_until = now_ms + delay as f64;
                self.again = false;
                self.arm(Timer::Poll, delay);
                self.push(Action::Emit(Notice::Error(error, true)));
            }
            (Slot::Cancel, Answer::Session(s)) if s.status.is_terminal() => {
                self.last = None;
                self.on_session(s, false);
            }
            // Confirmed without a terminal body, or 409 (already terminal): the status
            // endpoint says how it ended.
            (
                Slot::Cancel,
                Answer::Session(_) | Answer::Unchanged(_) | Answer::Failed { http: 409, .. },
            ) => {
                self.cancel_done(None);
                self.handle(Input::Refresh, now_ms, jitter);
            }
            (Slot::Cancel, Answer::Failed { error, .. }) => self.cancel_done(Some(error)),
        }
        if slot == Slot::Status && std::mem::take(&mut self.again) && !self.ended {
            self.poll_now(false);
        }
    }

    /// Arms the next poll after an answer: after a held one as soon as a poll interval has
    /// passed since the request went out (at once after a long wait; a proxy answering every
    /// wait at once is polled at the base interval, no faster), otherwise after the interval,
    /// stretched while nothing changes.
    fn schedule(&mut self, changed: bool, held: bool) {
        let delay = if held {
            self.interval = self.cfg.poll_ms;
            (self.sent_ms + self.cfg.poll_ms as f64 - self.now).max(0.0) as u32
        } else {
            self.interval = next_interval(self.cfg.poll_ms, self.interval, changed);
            self.interval
        };
        self.arm(Timer::Poll, delay);
    }

    fn on_session(&mut self, s: Session, held: bool) {
        self.failures = 0;
        self.quiet_until = 0.0;
        let changed = self
            .last
            .as_ref()
            .map_or(true, |(status, id)| *status != s.status || *id != s.id);
        self.last = Some((s.status.clone(), s.id));
        self.push(Action::Keep);
        if s.status.is_terminal() {
            self.end(Ok(changed));
            return;
        }
        let mut unsafe_url = None;
        if self.frame.is_none() || self.cfg.session_url.is_none() {
            match s.url {
                Some(Ok(url)) if self.frame.as_ref() == Some(&url) => {}
                Some(Ok(url)) => {
                    if self.frame.is_some() {
                        self.frame = Some(url.clone());
                        self.push(Action::Navigate(url));
                    } else {
                        self.show(url, self.cfg.allow.unwrap_or(s.allow));
                    }
                }
                // Nothing can be shown: the proxy hands out a URL this client refuses.
                Some(Err(e)) if self.frame.is_none() => return self.fail(e),
                Some(Err(e)) => unsafe_url = Some(e),
                None => {}
            }
        }
        if let Some(e) = unsafe_url {
            self.push(Action::Emit(Notice::Error(e, true)));
        }
        self.schedule(changed, held);
        if changed {
            self.push(Action::Emit(Notice::Status));
        }
        if let Status::Unknown(raw) = s.status {
            if !self.unknown.contains(&raw) {
                let mut m = String::from("the proxy reported an unknown status: ");
                m.push_str(&raw);
                self.unknown.push(raw);
                self.push(Action::Emit(Notice::Error(
                    KycError::new(Code::UnknownStatus, m),
                    true,
                )));
            }
        }
    }

    /// A fatal error: the verification ends, the page hears it, `completed` rejects.
    fn fail(&mut self, e: KycError) {
        self.push_end();
        self.push(Action::Emit(Notice::Error(e.clone(), false)));
        self.push(Action::Settle(Err(e)));
        self.cancel_done(None);
    }

    /// Ends: `Ok(changed)` completes with the kept snapshot, `Err` is `destroy()`'s silent end.
    fn end(&mut self, outcome: Result<bool, KycError>) {
        self.push_end();
        match outcome {
            Ok(changed) => {
                if changed {
                    self.push(Action::Emit(Notice::Status));
                }
                self.push(Action::Emit(Notice::Complete));
                self.push(Action::Settle(Ok(())));
            }
            Err(e) => self.push(Action::Settle(Err(e))),
        }
        self.cancel_done(None);
    }

    /// Marks the end and queues the releases. Of what was queued and not yet performed (a
    /// callback may end the verification in the middle of a batch), only releases, the kept
    /// snapshot and `cancel()` settlements stay: nothing starts and nothing is told after the
    /// end. Then timers are disarmed, requests aborted, the frame removed.
    fn push_end(&mut self) {
        self.ended = true;
        self.actions.retain(|a| {
            matches!(
                a,
                Action::Keep
                    | Action::Disarm(_)
                    | Action::Abort(_)
                    | Action::RemoveFrame
                    | Action::CancelDone(_)
            )
        });
        for &t in &Timer::ALL {
            self.disarm(t);
        }
        for &slot in &[Slot::Status, Slot::Cancel] {
            if self.flights[slot as usize] != Flight::Idle {
                self.flights[slot as usize] = Flight::Idle;
                self.push(Action::Abort(slot));
            }
        }
        if self.frame.take().is_some() {
            self.push(Action::RemoveFrame);
        }
    }
}
