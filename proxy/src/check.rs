//! `gu1-kyc-proxy check`: tests, from outside, an implementation of the browser endpoints
//! (`proxy/openapi.yaml`) the way the page's client uses them: the answer's shape, "no session
//! yet", tokens refused, CORS, caching, personal data, rate limiting, and blocking requests
//! where the endpoint offers them (an `ETag`). It never cancels anything.

use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderName};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// What to check.
#[derive(Clone, Debug)]
pub struct Target {
    /// `GET` status endpoint.
    pub status_url: String,
    /// A valid page token for it.
    pub token: String,
    /// `POST` cancel endpoint (checked without cancelling: only refusals and preflight).
    pub cancel_url: Option<String>,
    /// The page origin whose CORS access is checked.
    pub origin: Option<String>,
    /// How many requests to send at once to see the rate limit (0: skip).
    pub burst: usize,
}

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Holds.
    Pass,
    /// Does not hold, and why.
    Fail(String),
    /// Not checked, and why.
    Skip(String),
}

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// What was checked.
    pub name: &'static str,
    /// How it went.
    pub verdict: Verdict,
    /// What was seen, for a pass.
    pub note: String,
}

/// Fields that must never reach the page.
const PERSONAL: &[&str] = &[
    "extractedData",
    "decision",
    "documentsVerified",
    "biometricResult",
    "images",
    "image",
    "portrait",
    "selfie",
    "metadata",
    "organizationId",
    "verifiedFields",
    "riskAssessment",
];

const STATUSES: &[&str] = &[
    "pending",
    "in_progress",
    "in_review",
    "approved",
    "rejected",
    "cancelled",
    "expired",
    "abandoned",
];

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn send(req: reqwest::RequestBuilder) -> Result<Answer, String> {
    let r = req.send().await.map_err(|e| {
        if e.is_timeout() {
            "no answer in time".to_owned()
        } else {
            "could not connect".to_owned()
        }
    })?;
    let status = r.status();
    let headers = r.headers().clone();
    let body = r
        .text()
        .await
        .map_err(|_| "the body was cut off".to_owned())?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The token with one character of its signature (its last part) changed.
pub fn tamper(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    // The last character of a base64url signature may carry padding bits only: change the one
    // before it, which always matters.
    let i = bytes.len().saturating_sub(2);
    if let Some(b) = bytes.get_mut(i) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    String::from_utf8(bytes).unwrap_or_default()
}

fn brief(body: &str) -> String {
    let one_line: String = body.chars().take(80).filter(|c| !c.is_control()).collect();
    if body.len() > 80 {
        format!("{one_line}…")
    } else {
        one_line
    }
}

/// Why a status answer is not what the client reads, if it is not.
fn shape(v: &Value) -> Result<String, String> {
    let Some(o) = v.as_object() else {
        return Err(format!(
            "the answer is neither a session object nor null: {v}"
        ));
    };
    let status = match o.get("status") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        _ => return Err("no string `status`".into()),
    };
    for key in ["id", "entityId"] {
        if !matches!(o.get(key), Some(Value::String(_))) {
            return Err(format!("no string `{key}`"));
        }
    }
    if let Some(k) = o.get("kind") {
        if !matches!(k.as_str(), Some("biometric" | "kyc")) {
            return Err(format!("`kind` is {k}, not \"biometric\" or \"kyc\""));
        }
    }
    for key in [
        "iframeAllow",
        "rejectionCode",
        "rejectionMessage",
        "createdAt",
        "updatedAt",
        "completedAt",
        "expiresAt",
    ] {
        if let Some(x) = o.get(key) {
            if !(x.is_string() || x.is_null()) {
                return Err(format!("`{key}` is neither a string nor null"));
            }
        }
    }
    let active = matches!(status, "pending" | "in_progress" | "in_review");
    for key in ["sessionUrl", "providerSessionUrl"] {
        match o.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(u)) => {
                let ok = reqwest::Url::parse(u).is_ok_and(|u| {
                    u.scheme() == "https"
                        || (u.scheme() == "http"
                            && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")))
                });
                if !ok {
                    return Err(format!("`{key}` is not an https: URL: {u}"));
                }
                if !active && STATUSES.contains(&status) {
                    return Err(format!("the {status} session still carries `{key}`"));
                }
            }
            Some(_) => return Err(format!("`{key}` is neither a string nor null")),
        }
    }
    Ok(format!("session {status}"))
}

fn personal_fields(v: &Value, path: &str, found: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if PERSONAL.contains(&k.as_str()) {
                    found.push(here.clone());
                }
                personal_fields(x, &here, found);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| personal_fields(x, path, found)),
        _ => {}
    }
}

fn retry_after_ok(v: &str) -> bool {
    let v = v.trim();
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())) || httpdate::parse_http_date(v).is_ok()
}

fn outcome(name: &'static str, r: Result<String, String>) -> Outcome {
    match r {
        Ok(note) => Outcome {
            name,
            verdict: Verdict::Pass,
            note,
        },
        Err(why) => Outcome {
            name,
            verdict: Verdict::Fail(why),
            note: String::new(),
        },
    }
}

fn skip(name: &'static str, why: &str) -> Outcome {
    Outcome {
        name,
        verdict: Verdict::Skip(why.to_owned()),
        note: String::new(),
    }
}

/// A refusal the client reads as "the token is bad": 401 with `{"code": "UNAUTHORIZED"}`.
fn unauthorized(a: Result<Answer, String>) -> Result<String, String> {
    let a = a?;
    if a.status != StatusCode::UNAUTHORIZED {
        return Err(format!(
            "answered {} instead of 401: {}",
            a.status,
            brief(&a.body)
        ));
    }
    match a
        .json()
        .as_ref()
        .and_then(|v| v.get("code"))
        .and_then(Value::as_str)
    {
        Some("UNAUTHORIZED") => Ok("401 UNAUTHORIZED".into()),
        _ => Err(format!(
            "401 without {{\"code\": \"UNAUTHORIZED\"}}: {}",
            brief(&a.body)
        )),
    }
}

/// The answers to `If-None-Match` naming the current tag, without a wait and with `Prefer:
/// wait=1` (`took`): both 304 (the state did not change meanwhile).
fn blocking(
    at_once: Result<Answer, String>,
    held: Result<Answer, String>,
    took: Duration,
) -> Result<String, String> {
    let at_once = at_once?;
    if at_once.status != StatusCode::NOT_MODIFIED {
        return Err(format!(
            "sends an ETag but answers {} to If-None-Match naming it",
            at_once.status
        ));
    }
    let held = held?;
    if held.status != StatusCode::NOT_MODIFIED {
        return Err(format!(
            "answers {} to If-None-Match with Prefer: wait=1",
            held.status
        ));
    }
    Ok(
        match held.header(HeaderName::from_static("preference-applied")) {
            Some(p) => format!("304; Prefer: wait=1 held {:.1} s ({p})", took.as_secs_f64()),
            None => "304; Prefer: wait not honoured (answered at once)".into(),
        },
    )
}

async fn preflight(
    http: &reqwest::Client,
    url: &str,
    origin: &str,
    method: &str,
) -> Result<String, String> {
    let a = send(
        http.request(Method::OPTIONS, url)
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization"),
    )
    .await?;
    if !a.status.is_success() {
        return Err(format!("the preflight answered {}", a.status));
    }
    match a.header(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        Some(o) if o == origin => {}
        Some("*") => return Err("Access-Control-Allow-Origin is `*`, not the origin".into()),
        Some(o) => return Err(format!("Access-Control-Allow-Origin is {o}, not {origin}")),
        None => return Err(format!("no Access-Control-Allow-Origin for {origin}")),
    }
    let methods = a
        .header(header::ACCESS_CONTROL_ALLOW_METHODS)
        .unwrap_or_default()
        .to_ascii_uppercase();
    if !methods
        .split(',')
        .any(|m| m.trim() == method || m.trim() == "*")
    {
        return Err(format!(
            "Access-Control-Allow-Methods does not allow {method}"
        ));
    }
    let headers = a
        .header(header::ACCESS_CONTROL_ALLOW_HEADERS)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !headers.split(',').any(|h| h.trim() == "authorization") {
        return Err("Access-Control-Allow-Headers does not allow Authorization".into());
    }
    Ok(format!("{method} from {origin} allowed"))
}

/// Runs every check against `t`.
pub async fn run(t: &Target) -> Vec<Outcome> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();
    let mut out = Vec::new();
    let get = |token: Option<&str>| {
        let mut r = http.get(&t.status_url);
        if let Some(tok) = token {
            r = r.bearer_auth(tok);
        }
        if let Some(o) = &t.origin {
            r = r.header(header::ORIGIN, o);
        }
        send(r)
    };

    let first = get(Some(&t.token)).await;
    let answer = first.as_ref().map_err(Clone::clone);
    out.push(outcome(
        "status answer: shape the client reads",
        answer.and_then(|a| match (a.status.as_u16(), a.json()) {
            (200, Some(Value::Null)) => Ok("200 null (no session yet)".into()),
            (200, Some(v)) => shape(&v),
            (200, None) => Err(format!("200 with a body that is not JSON: {}", brief(&a.body))),
            (404, Some(v)) if v.get("code").and_then(Value::as_str) == Some("NOT_FOUND") => {
                Ok("404 NOT_FOUND (no session yet)".into())
            }
            (404, _) => Err(format!(
                "404 without {{\"code\": \"NOT_FOUND\"}}: the client takes it for a failure, not \"no session yet\": {}",
                brief(&a.body)
            )),
            (s, _) => Err(format!("answered {s} to a valid token: {}", brief(&a.body))),
        }),
    ));
    out.push(outcome(
        "status answer: no personal data",
        first.as_ref().map_err(Clone::clone).and_then(|a| {
            let mut found = Vec::new();
            if let Some(v) = a.json() {
                personal_fields(&v, "", &mut found);
            }
            if found.is_empty() {
                Ok("none of the personal-data fields".into())
            } else {
                Err(format!("carries {}", found.join(", ")))
            }
        }),
    ));
    out.push(outcome(
        "status answer: Cache-Control: no-store",
        first.as_ref().map_err(Clone::clone).and_then(|a| {
            let cc = a.header(header::CACHE_CONTROL).unwrap_or_default();
            if cc
                .split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
            {
                Ok(cc.to_owned())
            } else if cc.is_empty() {
                Err("no Cache-Control header".into())
            } else {
                Err(format!("Cache-Control is `{cc}`, without no-store"))
            }
        }),
    ));
    // Blocking requests are optional: checked only where the answer offers them (an ETag).
    const BLOCKING: &str = "status: If-None-Match answers 304 (blocking requests)";
    let tag = first
        .as_ref()
        .ok()
        .filter(|a| a.status == StatusCode::OK)
        .and_then(|a| a.header(header::ETAG))
        .map(str::to_owned);
    out.push(match tag {
        None => skip(
            BLOCKING,
            "no ETag on the status answer: blocking requests not offered, the client polls",
        ),
        Some(tag) => {
            let conditional = |prefer: Option<&str>| {
                let mut r = http
                    .get(&t.status_url)
                    .bearer_auth(&t.token)
                    .header(header::IF_NONE_MATCH, &tag);
                if let Some(p) = prefer {
                    r = r.header("prefer", p);
                }
                if let Some(o) = &t.origin {
                    r = r.header(header::ORIGIN, o);
                }
                send(r)
            };
            let at_once = conditional(None).await;
            let started = std::time::Instant::now();
            let held = conditional(Some("wait=1")).await;
            outcome(BLOCKING, blocking(at_once, held, started.elapsed()))
        }
    });
    out.push(outcome(
        "status: 401 without a token",
        unauthorized(get(None).await),
    ));
    out.push(outcome(
        "status: 401 with a tampered token",
        unauthorized(get(Some(&tamper(&t.token))).await),
    ));
    match &t.origin {
        Some(origin) => {
            out.push(outcome(
                "status: CORS preflight for the origin",
                preflight(&http, &t.status_url, origin, "GET").await,
            ));
            out.push(outcome(
                "status: CORS on the answer",
                first.as_ref().map_err(Clone::clone).and_then(|a| {
                    match a.header(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
                        Some(o) if o == origin => {}
                        Some(o) => return Err(format!("Access-Control-Allow-Origin is {o}")),
                        None => return Err("no Access-Control-Allow-Origin".into()),
                    }
                    let exposed = a
                        .header(header::ACCESS_CONTROL_EXPOSE_HEADERS)
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    if exposed.split(',').any(|h| h.trim() == "retry-after") {
                        Ok("origin reflected, Retry-After exposed".into())
                    } else {
                        Err("Retry-After is not in Access-Control-Expose-Headers".into())
                    }
                }),
            ));
        }
        None => {
            out.push(skip("status: CORS preflight for the origin", "no --origin"));
            out.push(skip("status: CORS on the answer", "no --origin"));
        }
    }
    match &t.cancel_url {
        Some(url) => {
            let post = |token: Option<String>| {
                let mut r = http.post(url);
                if let Some(tok) = token {
                    r = r.bearer_auth(tok);
                }
                send(r)
            };
            out.push(outcome(
                "cancel: 401 without a token",
                unauthorized(post(None).await),
            ));
            out.push(outcome(
                "cancel: 401 with a tampered token",
                unauthorized(post(Some(tamper(&t.token))).await),
            ));
            match &t.origin {
                Some(origin) => out.push(outcome(
                    "cancel: CORS preflight for the origin",
                    preflight(&http, url, origin, "POST").await,
                )),
                None => out.push(skip("cancel: CORS preflight for the origin", "no --origin")),
            }
        }
        None => {
            out.push(skip("cancel: 401 without a token", "no --cancel-url"));
            out.push(skip("cancel: 401 with a tampered token", "no --cancel-url"));
            out.push(skip(
                "cancel: CORS preflight for the origin",
                "no --cancel-url",
            ));
        }
    }
    out.push(if t.burst == 0 {
        skip("rate limit: 429 with Retry-After", "--burst 0")
    } else {
        outcome(
            "rate limit: 429 with Retry-After",
            rate_limit(&http, t).await,
        )
    });
    out
}

/// Sends `burst` requests at once; when the endpoint answers 429, its `Retry-After` and code.
async fn rate_limit(http: &reqwest::Client, t: &Target) -> Result<String, String> {
    let requests = (0..t.burst).map(|_| send(http.get(&t.status_url).bearer_auth(&t.token)));
    let answers = futures_util::future::join_all(requests).await;
    let Some(a) = answers
        .iter()
        .filter_map(|a| a.as_ref().ok())
        .find(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
    else {
        return Ok(format!("no 429 in {} requests at once", t.burst));
    };
    let Some(v) = a.header(header::RETRY_AFTER) else {
        return Err("429 without Retry-After".into());
    };
    if !retry_after_ok(v) {
        return Err(format!(
            "Retry-After `{v}` is neither seconds nor an HTTP date"
        ));
    }
    match a
        .json()
        .as_ref()
        .and_then(|v| v.get("code"))
        .and_then(Value::as_str)
    {
        Some("RATE_LIMITED") => Ok(format!("429 RATE_LIMITED, Retry-After: {v}")),
        _ => Err(format!(
            "429 without {{\"code\": \"RATE_LIMITED\"}}: {}",
            brief(&a.body)
        )),
    }
}

/// The table `check` prints: one line per check, then the counts.
pub fn table(outcomes: &[Outcome]) -> String {
    let width = outcomes.iter().map(|o| o.name.len()).max().unwrap_or(0);
    let mut s = format!("{:width$}  result  detail\n", "check");
    for o in outcomes {
        let (result, detail) = match &o.verdict {
            Verdict::Pass => ("pass", o.note.as_str()),
            Verdict::Fail(why) => ("FAIL", why.as_str()),
            Verdict::Skip(why) => ("skip", why.as_str()),
        };
        s.push_str(&format!("{:width$}  {result:6}  {detail}\n", o.name));
    }
    let count = |f: fn(&Verdict) -> bool| outcomes.iter().filter(|o| f(&o.verdict)).count();
    s.push_str(&format!(
        "check: {} passed, {} failed, {} skipped\n",
        count(|v| *v == Verdict::Pass),
        count(|v| matches!(v, Verdict::Fail(_))),
        count(|v| matches!(v, Verdict::Skip(_))),
    ));
    s
}

/// Whether every check that ran passed.
pub fn all_passed(outcomes: &[Outcome]) -> bool {
    !outcomes
        .iter()
        .any(|o| matches!(o.verdict, Verdict::Fail(_)))
}
