//! When to ask the proxy next, and how one request is made and read.
//!
//! The schedule (adaptive interval, backoff with jitter, `Retry-After`, the hint budget) is
//! pure and tested natively; `fetch` is the one place that talks HTTP.

use js_sys::{Promise, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, Request, RequestCache, RequestInit, Response};

use crate::error::{Code, KycError};
use crate::status::{RawSession, Snapshot};
use crate::value::Value;

/// The interval grows by this factor after each answer that changed nothing...
const GROWTH: f64 = 1.5;
/// ...up to this multiple of `pollIntervalMs`.
const MAX_STRETCH: u32 = 4;
/// Longest failure backoff.
const MAX_BACKOFF_MS: u32 = 60_000;
/// Longest `Retry-After` honoured; a longer one is cut to this.
pub const MAX_RETRY_AFTER_MS: u32 = 300_000;
/// Largest answer body read.
pub const MAX_BODY: usize = 1024 * 1024;

/// The delay before the next poll after an answer: back to `base` when something changed,
/// otherwise stretched by half up to `MAX_STRETCH × base`.
pub fn next_interval(base: u32, current: u32, changed: bool) -> u32 {
    if changed || current < base {
        return base;
    }
    let cap = base.saturating_mul(MAX_STRETCH);
    ((current as f64 * GROWTH) as u32).min(cap).max(base)
}

/// Exponential backoff with "equal jitter" after `failures` consecutive failures (≥ 1):
/// half of `base × 2^(failures−1)` (capped) is fixed and half is random (`jitter` in [0, 1)).
pub fn backoff_ms(base: u32, failures: u32, jitter: f64) -> u32 {
    let exp = failures.saturating_sub(1).min(16);
    let cap = MAX_BACKOFF_MS.max(base);
    let full = (base as u64).saturating_mul(1u64 << exp).min(cap as u64) as f64;
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.5
    };
    (full / 2.0 + full / 2.0 * jitter) as u32
}

/// Parses `Retry-After`: delta-seconds, or an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`)
/// relative to `now_ms` (milliseconds since the epoch). Capped at `MAX_RETRY_AFTER_MS`.
pub fn parse_retry_after(value: &str, now_ms: f64) -> Option<u32> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = v.parse().unwrap_or(u64::MAX);
        return Some(secs.saturating_mul(1000).min(MAX_RETRY_AFTER_MS as u64) as u32);
    }
    let at = parse_http_date(v)?;
    let delta = (at - now_ms).max(0.0);
    Some(delta.min(MAX_RETRY_AFTER_MS as f64) as u32)
}

/// IMF-fixdate to milliseconds since the epoch.
fn parse_http_date(v: &str) -> Option<f64> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let rest = v.split_once(", ")?.1;
    let mut it = rest.split(' ');
    let day: i64 = it.next()?.parse().ok()?;
    let month = match it.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if it.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days from civil (proleptic Gregorian), after H. Hinnant's algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3_600 + m * 60 + s) * 1_000) as f64)
}

/// A token bucket for "poll now" hints from the hosted page: a burst of `CAPACITY`, then one
/// per `REFILL_MS`. A page that floods messages cannot make the client flood the proxy.
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
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What one status request came to.
#[derive(Debug)]
pub enum Answer {
    /// A session, or "no session yet".
    Snapshot(Snapshot),
    /// 401/403: the token was refused.
    Unauthorized,
    /// Anything else; `http` is the status code (0 when no answer came), `retry_after_ms` is
    /// set when the proxy asked for a pause.
    Failure {
        error: KycError,
        http: u16,
        retry_after_ms: Option<u32>,
    },
}

fn failure(code: Code, message: &str) -> Answer {
    Answer::Failure {
        error: KycError::new(code, message),
        http: 0,
        retry_after_ms: None,
    }
}

/// Builds the request: token only in `Authorization`, no cache, aborted through `signal`.
fn request(method: &str, url: &str, token: Option<&str>, signal: &AbortSignal) -> Option<Request> {
    let headers = Headers::new().ok()?;
    headers.set("Accept", "application/json").ok()?;
    if let Some(t) = token {
        let mut v = String::with_capacity(t.len() + 7);
        v.push_str("Bearer ");
        v.push_str(t);
        headers.set("Authorization", &v).ok()?;
    }
    let init = RequestInit::new();
    init.set_method(method);
    init.set_headers(&headers);
    init.set_cache(RequestCache::NoStore);
    init.set_signal(Some(signal));
    Request::new_with_str_and_init(url, &init).ok()
}

/// Sends one request to the proxy and reads the answer. Network failures, aborts and bodies
/// are all mapped to an `Answer`; nothing here throws or panics.
pub async fn fetch(method: &str, url: &str, token: Option<&str>, signal: &AbortSignal) -> Answer {
    let Some(window) = web_sys::window() else {
        return failure(Code::Network, "no window");
    };
    let Some(req) = request(method, url, token, signal) else {
        return failure(Code::Network, "the request could not be built");
    };
    let resp: Response = match JsFuture::from(window.fetch_with_request(&req)).await {
        Ok(r) => r.unchecked_into(),
        Err(_) => return failure(Code::Network, "the proxy could not be reached"),
    };
    let status = resp.status();
    let retry_after_ms = resp
        .headers()
        .get("Retry-After")
        .ok()
        .flatten()
        .and_then(|v| parse_retry_after(&v, js_sys::Date::now()));
    let too_big = resp
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY);
    let body = if too_big {
        None
    } else {
        match resp.text() {
            Ok(p) => match JsFuture::from(p).await {
                Ok(t) => t.as_string(),
                Err(_) => return failure(Code::Network, "the answer was cut off"),
            },
            Err(_) => None,
        }
    };
    interpret(
        status,
        body.as_deref().filter(|b| b.len() <= MAX_BODY),
        retry_after_ms,
    )
}

/// Maps a status code and body to an `Answer`.
fn interpret(status: u16, body: Option<&str>, retry_after_ms: Option<u32>) -> Answer {
    let json = body.and_then(|b| JSON::parse(b).ok());
    let bad = |why: &str| Answer::Failure {
        error: KycError::new(Code::BadResponse, why),
        http: status,
        retry_after_ms: None,
    };
    match status {
        200..=299 => {
            let Some(json) = json else {
                return bad("the proxy answered with a body that is not JSON");
            };
            match RawSession::read(&json).and_then(Snapshot::from_raw) {
                Ok(s) => Answer::Snapshot(s),
                Err(why) => bad(why),
            }
        }
        404 if json.as_ref().is_some_and(is_not_found) => Answer::Snapshot(Snapshot::none()),
        401 | 403 => Answer::Unauthorized,
        429 => Answer::Failure {
            error: KycError::new(Code::RateLimited, "the proxy asked to slow down (429)"),
            http: status,
            retry_after_ms,
        },
        _ => {
            let mut m = String::from("the proxy answered HTTP ");
            m.push_str(&status.to_string());
            Answer::Failure {
                error: KycError::new(Code::ProxyError, m),
                http: status,
                retry_after_ms: if status == 503 { retry_after_ms } else { None },
            }
        }
    }
}

/// `{"code": "NOT_FOUND"}` or `{"error": "NOT_FOUND"}`.
fn is_not_found(json: &JsValue) -> bool {
    ["code", "error"]
        .iter()
        .any(|k| json.field(k).and_then(|v| v.text()).as_deref() == Some("NOT_FOUND"))
}

/// Awaits a value that may be a promise, a plain value, or a function's throw.
pub async fn settle(value: Result<JsValue, JsValue>) -> Result<JsValue, JsValue> {
    let v = value?;
    if v.has_type::<Promise>() {
        JsFuture::from(v.unchecked_into::<Promise>()).await
    } else {
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_stretches_on_quiet_answers_and_resets_on_change() {
        assert_eq!(next_interval(2_000, 2_000, false), 3_000);
        assert_eq!(next_interval(2_000, 3_000, false), 4_500);
        assert_eq!(next_interval(2_000, 4_500, false), 6_750);
        assert_eq!(next_interval(2_000, 6_750, false), 8_000);
        assert_eq!(next_interval(2_000, 8_000, false), 8_000);
        assert_eq!(next_interval(2_000, 8_000, true), 2_000);
        assert_eq!(next_interval(2_000, 0, false), 2_000);
    }

    #[test]
    fn backoff_doubles_with_equal_jitter_and_caps() {
        assert_eq!(backoff_ms(1_000, 1, 0.0), 500);
        assert_eq!(backoff_ms(1_000, 1, 1.0), 1_000);
        assert_eq!(backoff_ms(1_000, 2, 0.0), 1_000);
        assert_eq!(backoff_ms(1_000, 3, 0.5), 3_000);
        assert_eq!(backoff_ms(1_000, 10, 1.0), 60_000);
        assert_eq!(backoff_ms(1_000, 1_000, 0.0), 30_000);
        // A base above the cap is respected.
        assert_eq!(backoff_ms(120_000, 3, 1.0), 120_000);
        assert_eq!(backoff_ms(1_000, 1, f64::NAN), 750);
        for n in 1..40 {
            let lo = backoff_ms(200, n, 0.0);
            let hi = backoff_ms(200, n, 1.0);
            assert!(lo <= hi && hi <= 60_000 && lo >= 100, "{n}: {lo}..{hi}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("2", 0.0), Some(2_000));
        assert_eq!(parse_retry_after(" 0 ", 0.0), Some(0));
        assert_eq!(
            parse_retry_after("99999999999999999999", 0.0),
            Some(MAX_RETRY_AFTER_MS)
        );
        let at = 784_111_777_000.0; // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(at));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at - 3_000.0),
            Some(3_000)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + 5_000.0),
            Some(0)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0.0));
        assert_eq!(
            parse_http_date("Sat, 29 Feb 2020 12:00:00 GMT"),
            Some(1_582_977_600_000.0)
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, 0.0), None, "{bad}");
        }
    }

    #[test]
    fn hint_budget_allows_a_burst_then_one_per_second() {
        let mut b = HintBudget::new(0.0);
        assert!(b.take(0.0));
        assert!(b.take(1.0));
        assert!(b.take(2.0));
        assert!(!b.take(3.0));
        assert!(!b.take(500.0));
        assert!(b.take(1_100.0));
        assert!(!b.take(1_200.0));
        assert!(b.take(10_000.0));
    }
}
