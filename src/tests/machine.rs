//! The machine's rules, one table test each: inputs in, the actions they queue out.

use crate::error::{Code, KycError};
use crate::machine::*;
use crate::permissions;
use crate::status::{Answer, Session, Status};
use crate::url::SessionUrl;
use Action::*;

const U1: &str = "https://hosted.example/s/1";
const U2: &str = "https://hosted.example/s/2";

fn url(href: &str) -> SessionUrl {
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

fn session(status: &str, id: &str, href: Option<&str>) -> Answer {
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
    assert_eq!(t.m.armed(), 0b11);
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
    assert_eq!(t.m.armed(), 0);
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
        a.contains(&Keep) && a.contains(&Emit(Notice::Status)) && a.contains(&Arm(Timer::Poll, 0)),
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
