//! The decisions of one verification, with no browser in them.
//!
//! A sans-IO state machine: the driver hands it inputs (a timer came due, an answer arrived,
//! the page became visible, the integrator called `refresh()`), with the time and a jitter
//! value as arguments, and performs the actions it queues (fetch, arm a timer, show the frame,
//! emit an event, settle `completed`). Nothing here touches `web-sys`, `js-sys` or
//! `wasm-bindgen`, so every rule is tested natively (see the tests below and `src/fuzz.rs`).

use crate::error::{Code, KycError};
use crate::permissions::{self, Permissions};
use crate::status::Status;
use crate::url::SessionUrl;

/// The interval grows by half after each answer that changed nothing...
const GROWTH: f64 = 1.5;
/// ...up to this multiple of `pollIntervalMs`.
const MAX_STRETCH: u32 = 4;
/// Longest failure backoff.
const MAX_BACKOFF_MS: u32 = 60_000;
/// Longest `Retry-After` honoured; a longer one is cut to this.
pub const MAX_RETRY_AFTER_MS: u32 = 300_000;

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

/// What the status part of a proxy answer says, read by `status::read_answer`.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// The normalised status (`Status::None` for "no session yet").
    pub status: Status,
    /// The session's id, for change detection.
    pub id: Option<String>,
    /// The hosted URL it carries, already checked by the driver (the browser's `URL` parses
    /// it), or why it was refused.
    pub url: Option<Result<SessionUrl, KycError>>,
    /// The session's `iframeAllow`, filtered.
    pub allow: Permissions,
    /// The answer carried an `ETag`: the next status request may wait for a change.
    pub tag: bool,
    /// The proxy held the request (`Preference-Applied: wait`).
    pub held: bool,
}

/// What one request came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// 2xx with a session or `null`, or 404 `NOT_FOUND`.
    Session(Session),
    /// 304: the state is the one kept; `true` when the proxy held the request
    /// (`Preference-Applied: wait`).
    Unchanged(bool),
    /// 401 or 403.
    Unauthorized,
    /// Anything else. `http` is the status code (0 when no answer came); `retry_after_ms` is
    /// set when the proxy asked for a pause (429, 503).
    Failed {
        /// What to report.
        error: KycError,
        /// The HTTP status.
        http: u16,
        /// The pause the proxy asked for.
        retry_after_ms: Option<u32>,
    },
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

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;

    const U1: &str = "https://hosted.example/s/1";
    const U2: &str = "https://hosted.example/s/2";

    pub(crate) fn url(href: &str) -> SessionUrl {
        SessionUrl {
            href: href.into(),
            origin: "https://hosted.example".into(),
        }
    }

    fn config() -> Config {
        Config {
            poll_ms: 1_000,
            timeout_ms: 60_000,
            request_timeout_ms: 5_000,
            wait_s: 20,
            session_url: None,
            allow: None,
            can_refresh: true,
            can_cancel: true,
        }
    }

    pub(crate) fn session(status: &str, id: &str, href: Option<&str>) -> Answer {
        Answer::Session(Session {
            status: Status::parse(status),
            id: Some(id.into()),
            url: href.map(|h| Ok(url(h))),
            allow: permissions::DEFAULT,
            tag: false,
            held: false,
        })
    }

    fn failed(code: Code, http: u16, retry_after_ms: Option<u32>) -> Answer {
        Answer::Failed {
            error: KycError::new(code, "x"),
            http,
            retry_after_ms,
        }
    }

    /// A machine and a clock; `feed` returns the actions of one input.
    struct T {
        m: Machine,
        now: f64,
    }

    impl T {
        fn new(cfg: Config) -> T {
            let mut t = T {
                m: Machine::new(cfg, 0.0),
                now: 0.0,
            };
            t.feed(Input::Start);
            t
        }

        /// Started, first poll sent.
        fn polling(cfg: Config) -> T {
            let mut t = T::new(cfg);
            assert!(t
                .feed(Input::Due(Timer::Poll))
                .contains(&Fetch(Slot::Status, 0)));
            t
        }

        fn feed(&mut self, input: Input) -> Vec<Action> {
            self.m.handle(input, self.now, 0.5);
            std::iter::from_fn(|| self.m.poll_action()).collect()
        }

        fn answer(&mut self, a: Answer) -> Vec<Action> {
            self.feed(Input::Answered(Slot::Status, a))
        }
    }

    fn fetches(actions: &[Action]) -> usize {
        actions.iter().filter(|a| matches!(a, Fetch(..))).count()
    }

    fn settled(actions: &[Action]) -> Vec<&Result<(), KycError>> {
        actions
            .iter()
            .filter_map(|a| match a {
                Settle(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    fn errors(actions: &[Action]) -> Vec<(Code, bool)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Emit(Notice::Error(e, r)) => Some((e.code, *r)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn start_arms_the_deadline_and_polls_from_a_task() {
        let mut t = T::new(config());
        assert_eq!(t.m.armed, 0b11);
        let a = t.feed(Input::Due(Timer::Poll));
        assert_eq!(
            a,
            [Fetch(Slot::Status, 0), Arm(Timer::StatusRequest, 5_000)]
        );
    }

    #[test]
    fn pinned_session_url_is_shown_at_start_with_the_allow_option() {
        let mut cfg = config();
        cfg.session_url = Some(url(U1));
        cfg.allow = Some(0b11);
        let mut m = Machine::new(cfg, 0.0);
        m.handle(Input::Start, 0.0, 0.5);
        assert_eq!(m.poll_action(), Some(ShowFrame(url(U1), 0b11)));
    }

    #[test]
    fn completes_exactly_once_then_ignores_everything() {
        let mut t = T::polling(config());
        let a = t.answer(session("approved", "s", None));
        assert_eq!(
            a,
            [
                Disarm(Timer::StatusRequest),
                Keep,
                Disarm(Timer::Deadline),
                Emit(Notice::Status),
                Emit(Notice::Complete),
                Settle(Ok(()))
            ]
        );
        assert!(t.m.ended());
        for input in [
            Input::Answered(Slot::Status, session("rejected", "s", None)),
            Input::Refresh,
            Input::Hint,
            Input::Due(Timer::Poll),
            Input::Destroy,
            Input::FrameLoaded,
        ] {
            assert_eq!(t.feed(input), []);
        }
        assert_eq!(t.feed(Input::Cancel), [CancelDone(None)]);
    }

    #[test]
    fn terminal_answer_releases_before_telling_the_page() {
        let mut t = T::polling(config());
        t.answer(session("in_progress", "s", Some(U1)));
        t.feed(Input::Due(Timer::Poll));
        let a = t.answer(session("rejected", "s", None));
        let release = a.iter().position(|a| *a == RemoveFrame).unwrap();
        let complete = a.iter().position(|a| *a == Emit(Notice::Complete)).unwrap();
        assert!(release < complete);
        assert_eq!(settled(&a), [&Ok(())]);
    }

    #[test]
    fn one_request_in_flight_and_a_poll_asked_meanwhile_follows_it() {
        let mut t = T::polling(config());
        assert_eq!(fetches(&t.feed(Input::Refresh)), 0);
        assert_eq!(fetches(&t.feed(Input::Refresh)), 0);
        let a = t.answer(session("pending", "s", None));
        assert_eq!(fetches(&a), 1, "exactly one follows: {a:?}");
    }

    #[test]
    fn interval_stretches_while_nothing_changes_and_snaps_back() {
        let mut t = T::polling(config());
        let mut delays = vec![];
        for status in [
            "pending",
            "pending",
            "pending",
            "pending",
            "pending",
            "in_progress",
        ] {
            let a = t.answer(session(status, "s", None));
            delays.extend(a.iter().filter_map(|a| match a {
                Arm(Timer::Poll, ms) => Some(*ms),
                _ => None,
            }));
            t.feed(Input::Due(Timer::Poll));
        }
        assert_eq!(delays, [1_000, 1_500, 2_250, 3_375, 4_000, 1_000]);
    }

    #[test]
    fn failures_back_off_and_retry_after_sets_a_quiet_time() {
        let mut t = T::polling(config());
        let a = t.answer(failed(Code::ProxyError, 500, None));
        assert!(a.contains(&Arm(Timer::Poll, 750)), "{a:?}");
        assert_eq!(errors(&a), [(Code::ProxyError, true)]);
        t.feed(Input::Due(Timer::Poll));
        let a = t.answer(failed(Code::RateLimited, 429, Some(5_000)));
        assert!(a.contains(&Arm(Timer::Poll, 5_000)));
        t.now = 4_999.0;
        assert_eq!(t.feed(Input::Refresh), []);
        assert_eq!(t.feed(Input::Hint), []);
        t.now = 5_000.0;
        assert_eq!(fetches(&t.feed(Input::Refresh)), 1);
        // A Retry-After below the poll interval is raised to it.
        let a = t.answer(failed(Code::ProxyError, 503, Some(10)));
        assert!(a.contains(&Arm(Timer::Poll, 1_000)));
    }

    #[test]
    fn backoff_doubles_with_equal_jitter_and_caps() {
        assert_eq!(backoff_ms(1_000, 1, 0.0), 500);
        assert_eq!(backoff_ms(1_000, 1, 1.0), 1_000);
        assert_eq!(backoff_ms(1_000, 2, 0.0), 1_000);
        assert_eq!(backoff_ms(1_000, 3, 0.5), 3_000);
        assert_eq!(backoff_ms(1_000, 10, 1.0), 60_000);
        assert_eq!(backoff_ms(1_000, 1_000, 0.0), 30_000);
        assert_eq!(backoff_ms(120_000, 3, 1.0), 120_000);
        assert_eq!(backoff_ms(1_000, 1, f64::NAN), 750);
        assert_eq!(next_interval(2_000, 0, false), 2_000);
        assert_eq!(next_interval(2_000, 8_000, false), 8_000);
    }

    #[test]
    fn nothing_is_fetched_while_hidden_and_one_request_on_return() {
        let mut t = T::polling(config());
        t.feed(Input::Visible(false));
        t.answer(session("pending", "s", None));
        assert_eq!(t.feed(Input::Due(Timer::Poll)), []);
        assert_eq!(fetches(&t.feed(Input::Refresh)), 0);
        assert_eq!(fetches(&t.feed(Input::Visible(false))), 0);
        assert_eq!(fetches(&t.feed(Input::Visible(true))), 1);
        assert_eq!(fetches(&t.feed(Input::Visible(true))), 0);
    }

    #[test]
    fn one_token_refresh_per_401() {
        let mut t = T::polling(config());
        let a = t.answer(Answer::Unauthorized);
        assert_eq!(
            a,
            [
                Disarm(Timer::StatusRequest),
                RefreshToken(Slot::Status),
                Arm(Timer::StatusRequest, 5_000)
            ]
        );
        let a = t.feed(Input::TokenRefreshed(Slot::Status, true));
        assert_eq!(fetches(&a), 1);
        let a = t.answer(Answer::Unauthorized);
        assert_eq!(errors(&a), [(Code::Unauthorized, false)]);
        assert_eq!(settled(&a).len(), 1);
    }

    #[test]
    fn retry_with_a_refreshed_token_waits_while_hidden() {
        let mut t = T::polling(config());
        t.answer(Answer::Unauthorized);
        t.feed(Input::Visible(false));
        assert_eq!(
            fetches(&t.feed(Input::TokenRefreshed(Slot::Status, true))),
            0
        );
        assert_eq!(fetches(&t.feed(Input::Visible(true))), 1);
    }

    #[test]
    fn refresh_that_fails_or_hangs_is_fatal() {
        let mut cfg = config();
        let mut t = T::polling(cfg.clone());
        t.answer(Answer::Unauthorized);
        let a = t.feed(Input::TokenRefreshed(Slot::Status, false));
        assert_eq!(errors(&a), [(Code::Unauthorized, false)]);

        let mut t = T::polling(cfg.clone());
        t.answer(Answer::Unauthorized);
        let a = t.feed(Input::Due(Timer::StatusRequest));
        assert!(a.contains(&Abort(Slot::Status)));
        assert_eq!(errors(&a), [(Code::Unauthorized, false)]);

        cfg.can_refresh = false;
        let mut t = T::polling(cfg);
        assert_eq!(
            errors(&t.answer(Answer::Unauthorized)),
            [(Code::Unauthorized, false)]
        );
    }

    #[test]
    fn request_timeout_aborts_and_counts_as_a_network_failure() {
        let mut t = T::polling(config());
        let a = t.feed(Input::Due(Timer::StatusRequest));
        assert_eq!(a[0], Abort(Slot::Status));
        assert_eq!(errors(&a), [(Code::Network, true)]);
        // The late answer of the aborted request changes nothing.
        assert_eq!(t.answer(session("approved", "s", None)), []);
    }

    #[test]
    fn session_url_from_the_answer_is_shown_then_followed_unless_pinned() {
        let mut t = T::polling(config());
        let a = t.answer(session("pending", "s", Some(U1)));
        assert!(a.contains(&ShowFrame(url(U1), permissions::DEFAULT)));
        t.feed(Input::Due(Timer::Poll));
        assert!(!t
            .answer(session("pending", "s", Some(U1)))
            .iter()
            .any(|a| matches!(a, ShowFrame(..) | Navigate(_))));
        t.feed(Input::Due(Timer::Poll));
        assert!(t
            .answer(session("pending", "s", Some(U2)))
            .contains(&Navigate(url(U2))));

        let mut cfg = config();
        cfg.session_url = Some(url(U1));
        let mut t = T::polling(cfg);
        let a = t.answer(session("pending", "s", Some(U2)));
        assert!(
            !a.iter().any(|a| matches!(a, ShowFrame(..) | Navigate(_))),
            "{a:?}"
        );
    }

    #[test]
    fn unsafe_url_is_fatal_before_a_frame_and_reported_after() {
        let bad = || {
            Answer::Session(Session {
                status: Status::Pending,
                id: None,
                url: Some(Err(KycError::new(Code::UnsafeSessionUrl, "x"))),
                allow: permissions::DEFAULT,
                tag: false,
                held: false,
            })
        };
        let mut t = T::polling(config());
        let a = t.answer(bad());
        assert_eq!(errors(&a), [(Code::UnsafeSessionUrl, false)]);
        assert!(a.contains(&Keep));

        let mut t = T::polling(config());
        t.answer(session("pending", "s", Some(U1)));
        t.feed(Input::Due(Timer::Poll));
        let a = t.answer(bad());
        assert_eq!(errors(&a), [(Code::UnsafeSessionUrl, true)]);
        assert!(!t.m.ended());
    }

    #[test]
    fn unknown_status_is_reported_once_per_value() {
        let mut t = T::polling(config());
        let mut codes = vec![];
        for s in ["Resubmitted", "Resubmitted", "Other", "Resubmitted"] {
            codes.extend(errors(&t.answer(session(s, "s", None))));
            t.feed(Input::Due(Timer::Poll));
        }
        assert_eq!(
            codes,
            [(Code::UnknownStatus, true), (Code::UnknownStatus, true)]
        );
    }

    #[test]
    fn status_changes_are_told_once_each() {
        let mut t = T::polling(config());
        let mut told = 0;
        for (s, id) in [
            ("pending", "a"),
            ("pending", "a"),
            ("pending", "b"),
            ("in_review", "b"),
        ] {
            told += t
                .answer(session(s, id, None))
                .iter()
                .filter(|a| **a == Emit(Notice::Status))
                .count();
            t.feed(Input::Due(Timer::Poll));
        }
        assert_eq!(told, 3);
    }

    #[test]
    fn hints_are_budgeted_and_need_a_frame() {
        let mut t = T::polling(config());
        t.answer(session("pending", "s", None));
        assert_eq!(t.feed(Input::Hint), [], "no frame, no hint");
        t.feed(Input::Due(Timer::Poll));
        t.answer(session("pending", "s", Some(U1)));
        let mut polls = 0;
        for _ in 0..10 {
            polls += fetches(&t.feed(Input::Hint));
            t.answer(session("pending", "s", Some(U1)));
        }
        assert_eq!(polls, 3);
        t.now = 1_000.0;
        assert_eq!(fetches(&t.feed(Input::Hint)), 1);
    }

    #[test]
    fn ready_once_per_frame() {
        let mut t = T::polling(config());
        assert_eq!(t.feed(Input::FrameLoaded), [], "no frame yet");
        t.answer(session("pending", "s", Some(U1)));
        assert_eq!(t.feed(Input::FrameLoaded), [Emit(Notice::Ready)]);
        assert_eq!(t.feed(Input::FrameLoaded), []);
    }

    #[test]
    fn frame_that_cannot_be_created_is_fatal() {
        let mut cfg = config();
        cfg.session_url = Some(url(U1));
        let mut t = T::new(cfg);
        let a = t.feed(Input::FrameFailed);
        assert_eq!(errors(&a), [(Code::ContainerNotFound, false)]);
        assert!(a.contains(&RemoveFrame));
    }

    #[test]
    fn deadline_is_fatal_and_releases_everything() {
        let mut t = T::polling(config());
        t.answer(session("pending", "s", Some(U1)));
        t.feed(Input::Due(Timer::Poll));
        let a = t.feed(Input::Due(Timer::Deadline));
        assert_eq!(
            a,
            [
                Disarm(Timer::StatusRequest),
                Abort(Slot::Status),
                RemoveFrame,
                Emit(Notice::Error(
                    KycError::new(
                        Code::Timeout,
                        "no terminal status within timeoutMs (60000 ms)"
                    ),
                    false
                )),
                Settle(Err(KycError::new(
                    Code::Timeout,
                    "no terminal status within timeoutMs (60000 ms)"
                ))),
            ]
        );
    }

    #[test]
    fn destroy_only_releases_and_rejects_destroyed() {
        let mut t = T::polling(config());
        t.answer(session("pending", "s", Some(U1)));
        t.feed(Input::Due(Timer::Poll));
        t.feed(Input::Cancel);
        let a = t.feed(Input::Destroy);
        for action in &a {
            assert!(
                matches!(
                    action,
                    Disarm(_) | Abort(_) | RemoveFrame | Settle(Err(_)) | CancelDone(None)
                ),
                "{action:?}"
            );
        }
        assert_eq!(settled(&a).len(), 1);
        assert_eq!(settled(&a)[0].as_ref().unwrap_err().code, Code::Destroyed);
        assert_eq!(t.m.armed, 0);
    }

    #[test]
    fn cancel_completes_with_a_terminal_body() {
        let mut t = T::polling(config());
        t.answer(session("cancelled", "s", None)).len();
        let mut t2 = T::polling(config());
        t2.answer(session("pending", "s", None));
        let a = t2.feed(Input::Cancel);
        assert_eq!(
            a,
            [Fetch(Slot::Cancel, 0), Arm(Timer::CancelRequest, 5_000)]
        );
        assert_eq!(
            t2.feed(Input::Cancel),
            [CancelDone(None)],
            "a second call waits for the outcome"
        );
        let a = t2.feed(Input::Answered(
            Slot::Cancel,
            session("cancelled", "s", None),
        ));
        assert!(a.contains(&Emit(Notice::Status)));
        assert!(a.contains(&Emit(Notice::Complete)));
        assert_eq!(a.last(), Some(&CancelDone(None)));
        assert_eq!(settled(&a), [&Ok(())]);
        assert!(t.m.ended());
    }

    #[test]
    fn cancel_confirmed_without_a_result_polls_and_waits() {
        for answer in [
            session("pending", "s", None),
            failed(Code::ProxyError, 409, None),
        ] {
            let mut t = T::polling(config());
            t.answer(session("pending", "s", None));
            t.feed(Input::Cancel);
            let a = t.feed(Input::Answered(Slot::Cancel, answer));
            assert_eq!(a[..2], [Disarm(Timer::CancelRequest), CancelDone(None)]);
            assert_eq!(fetches(&a), 1);
        }
    }

    #[test]
    fn cancel_errors_reject_the_call_and_the_verification_goes_on() {
        let mut t = T::polling(config());
        t.feed(Input::Cancel);
        let a = t.feed(Input::Answered(
            Slot::Cancel,
            failed(Code::ProxyError, 500, None),
        ));
        assert!(matches!(a.last(), Some(CancelDone(Some(e))) if e.code == Code::ProxyError));
        assert!(!t.m.ended());

        let mut cfg = config();
        cfg.can_cancel = false;
        let mut t = T::polling(cfg);
        assert!(
            matches!(&t.feed(Input::Cancel)[..], [CancelDone(Some(e))] if e.code == Code::InvalidOptions)
        );
    }

    #[test]
    fn cancel_refreshes_the_token_once() {
        let mut t = T::polling(config());
        t.feed(Input::Cancel);
        let a = t.feed(Input::Answered(Slot::Cancel, Answer::Unauthorized));
        assert_eq!(a[1], RefreshToken(Slot::Cancel));
        let a = t.feed(Input::TokenRefreshed(Slot::Cancel, true));
        assert_eq!(fetches(&a), 1);
        let a = t.feed(Input::Answered(Slot::Cancel, Answer::Unauthorized));
        assert!(matches!(a.last(), Some(CancelDone(Some(e))) if e.code == Code::Unauthorized));
        assert!(!t.m.ended());
    }

    #[test]
    fn a_callback_destroying_mid_batch_drops_what_was_queued() {
        let mut t = T::polling(config());
        t.m.handle(
            Input::Answered(Slot::Status, session("Weird", "s", None)),
            0.0,
            0.5,
        );
        // The driver performed the first actions, up to the status event, whose listener
        // destroyed the verification.
        while t.m.poll_action() != Some(Emit(Notice::Status)) {}
        let rest = t.feed(Input::Destroy);
        assert!(
            !rest
                .iter()
                .any(|a| matches!(a, Emit(_) | Arm(..) | Fetch(..))),
            "{rest:?}"
        );
    }

    // Blocking requests: `ETag`, `If-None-Match`, `Prefer: wait`.

    fn tagged(status: &str, held: bool) -> Answer {
        match session(status, "s", Some(U1)) {
            Answer::Session(s) => Answer::Session(Session {
                tag: true,
                held,
                ..s
            }),
            _ => unreachable!(),
        }
    }

    /// Polling, the first answer tagged, the next (waiting) request in flight at `now`.
    fn waiting() -> T {
        let mut t = T::polling(config());
        let a = t.answer(tagged("pending", false));
        assert!(a.contains(&Arm(Timer::Poll, 1_000)), "{a:?}");
        t.now = 1_000.0;
        let a = t.feed(Input::Due(Timer::Poll));
        assert_eq!(
            a,
            [Fetch(Slot::Status, 20), Arm(Timer::StatusRequest, 25_000)]
        );
        t
    }

    #[test]
    fn a_tagged_answer_makes_the_next_request_wait_with_its_wait_on_the_timeout() {
        let mut t = waiting();
        t.now = 21_000.0;
        // Held for the whole wait, then 304: the next request goes out at once, the interval
        // does not grow.
        let a = t.answer(Answer::Unchanged(true));
        assert_eq!(a, [Disarm(Timer::StatusRequest), Arm(Timer::Poll, 0)]);
        let a = t.feed(Input::Due(Timer::Poll));
        assert_eq!(a[0], Fetch(Slot::Status, 20));
        // Held, then the state changed: kept, told, and the next request at once.
        t.now = 30_000.0;
        let a = t.answer(tagged("in_review", true));
        assert!(
            a.contains(&Keep)
                && a.contains(&Emit(Notice::Status))
                && a.contains(&Arm(Timer::Poll, 0)),
            "{a:?}"
        );
    }

    #[test]
    fn untagged_answers_and_a_zero_wait_never_ask_for_one() {
        let mut t = T::polling(config());
        t.answer(session("pending", "s", Some(U1)));
        assert_eq!(t.feed(Input::Due(Timer::Poll))[0], Fetch(Slot::Status, 0));
        // A tagged answer, then an untagged one: the proxy stopped sending ETags.
        t.answer(tagged("pending", false));
        assert_eq!(t.feed(Input::Due(Timer::Poll))[0], Fetch(Slot::Status, 20));
        t.answer(session("pending", "s", Some(U1)));
        assert_eq!(t.feed(Input::Due(Timer::Poll))[0], Fetch(Slot::Status, 0));

        let mut cfg = config();
        cfg.wait_s = 0;
        let mut t = T::polling(cfg);
        t.answer(tagged("pending", false));
        assert_eq!(
            t.feed(Input::Due(Timer::Poll)),
            [Fetch(Slot::Status, 0), Arm(Timer::StatusRequest, 5_000)]
        );
    }

    #[test]
    fn answers_the_proxy_did_not_hold_poll_as_before() {
        // 304 without `Preference-Applied`: unchanged, the interval stretches.
        let mut t = waiting();
        t.now = 1_010.0;
        assert!(t
            .answer(Answer::Unchanged(false))
            .contains(&Arm(Timer::Poll, 1_500)));
        // `Preference-Applied` on an answer to a request that did not ask: not held.
        let mut t = T::polling(config());
        assert!(t
            .answer(Answer::Unchanged(true))
            .contains(&Arm(Timer::Poll, 1_500)));
        // 200 at once (the state had changed): the base interval.
        let mut t = waiting();
        t.now = 1_010.0;
        assert!(t
            .answer(tagged("in_review", false))
            .contains(&Arm(Timer::Poll, 1_000)));
    }

    #[test]
    fn a_proxy_answering_every_wait_at_once_is_polled_at_the_base_interval() {
        let mut t = waiting();
        for n in 0..50 {
            t.now += 5.0;
            let a = t.answer(Answer::Unchanged(true));
            assert!(a.contains(&Arm(Timer::Poll, 995)), "{n}: {a:?}");
            t.now += 995.0;
            assert_eq!(t.feed(Input::Due(Timer::Poll))[0], Fetch(Slot::Status, 20));
        }
    }

    #[test]
    fn a_wait_that_overruns_or_fails_ends_the_waits_of_this_verification() {
        let mut t = waiting();
        t.now = 26_000.0;
        let a = t.feed(Input::Due(Timer::StatusRequest));
        assert_eq!(a[0], Abort(Slot::Status));
        assert_eq!(errors(&a), [(Code::Network, true)]);
        t.now = 40_000.0;
        t.feed(Input::Due(Timer::Poll));
        t.answer(tagged("pending", false));
        t.now = 50_000.0;
        assert_eq!(
            t.feed(Input::Due(Timer::Poll)),
            [Fetch(Slot::Status, 0), Arm(Timer::StatusRequest, 5_000)]
        );

        // No answer at all (the connection failed) to a waiting request: the same.
        let mut t = waiting();
        t.answer(failed(Code::Network, 0, None));
        t.now = 40_000.0;
        t.feed(Input::Due(Timer::Poll));
        t.answer(tagged("pending", false));
        assert_eq!(t.feed(Input::Due(Timer::Poll))[0], Fetch(Slot::Status, 0));

        // An HTTP error keeps the waits.
        let mut t = waiting();
        t.answer(failed(Code::ProxyError, 503, None));
        t.now = 40_000.0;
        assert_eq!(t.feed(Input::Due(Timer::Poll))[0], Fetch(Slot::Status, 20));
    }

    #[test]
    fn a_hint_or_refresh_replaces_a_held_request_and_only_a_held_one() {
        let mut t = waiting();
        t.now = 5_000.0;
        let a = t.feed(Input::Hint);
        assert_eq!(
            a,
            [
                Disarm(Timer::StatusRequest),
                Abort(Slot::Status),
                Fetch(Slot::Status, 20),
                Arm(Timer::StatusRequest, 25_000)
            ]
        );
        t.now = 6_000.0;
        assert_eq!(fetches(&t.feed(Input::Refresh)), 1);
        // A request that does not wait is followed, not replaced.
        let mut t = T::polling(config());
        assert_eq!(t.feed(Input::Refresh), []);
    }

    #[test]
    fn hidden_while_held_the_answer_lands_and_the_next_poll_waits_for_the_page() {
        let mut t = waiting();
        t.feed(Input::Visible(false));
        t.now = 21_000.0;
        t.answer(Answer::Unchanged(true));
        assert_eq!(t.feed(Input::Due(Timer::Poll)), []);
        assert_eq!(t.feed(Input::Visible(true))[0], Fetch(Slot::Status, 20));
    }

    #[test]
    fn destroy_while_held_aborts_the_request() {
        let mut t = waiting();
        let a = t.feed(Input::Destroy);
        assert!(
            a.contains(&Abort(Slot::Status)) && a.contains(&Disarm(Timer::StatusRequest)),
            "{a:?}"
        );
        assert!(t
            .feed(Input::Answered(Slot::Status, Answer::Unchanged(true)))
            .is_empty());
    }
}
