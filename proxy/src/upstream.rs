//! The real gu1 API, called with the integrator's secret key. The key is only ever put in the
//! `Authorization` header of requests to gu1: never in a response, a log line or an error.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::gu1::{Call, Gu1, Gu1Error, Session, PROXY_BUSY};
use crate::limit::{ByteBudget, Taken};
use crate::token::Kind;

/// What an [`Upstream`] may hold at once: each call in flight and each idle socket kept for
/// the next calls is an open file, counted in the proxy's budget (`serve::FileBudget`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gu1Limits {
    /// gu1 calls in flight at once; more wait up to `queue` for a slot, then are shed.
    pub calls: usize,
    /// Idle sockets kept open to gu1.
    pub idle: usize,
    /// How long an idle socket is kept.
    pub idle_timeout: Duration,
    /// How long a call waits for a slot before the browser gets 503 `UPSTREAM_BUSY`.
    pub queue: Duration,
    /// Bytes of gu1's answers buffered at once beyond the first [`SMALL_ANSWER`] of each (which
    /// the call cap already bounds); an answer that does not fit is shed (503).
    pub answer_bytes: usize,
}

impl Default for Gu1Limits {
    /// 128 calls at once, 16 idle sockets kept 30 s, 1 s of waiting for a slot, 16 MiB of
    /// large answers at once.
    fn default() -> Self {
        Gu1Limits {
            calls: 128,
            idle: 16,
            idle_timeout: Duration::from_secs(30),
            queue: Duration::from_secs(1),
            answer_bytes: 16 * 1024 * 1024,
        }
    }
}

/// A gu1 API client.
pub struct Upstream {
    http: reqwest::Client,
    base: String,
    key: String,
    organization: Option<String>,
    calls: Arc<Semaphore>,
    queue: Duration,
    answers: ByteBudget,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("base", &self.base)
            .field("key", &"<redacted>")
            .field("organization", &self.organization)
            .field("calls_free", &self.calls.available_permits())
            .finish_non_exhaustive()
    }
}

/// One path segment for a gu1 URL, percent-encoded. Empty, `.` and `..` are refused: URL
/// parsers resolve them (also when encoded as `%2E`), so they would walk to another route.
pub fn segment(s: &str) -> Result<String, Gu1Error> {
    if matches!(s, "" | "." | "..") {
        return Err(Gu1Error::new(404, "NOT_FOUND", "no such session or entity"));
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

/// A failed exchange with gu1: 504 when it timed out, 502 otherwise.
fn transport(e: &reqwest::Error, what: &str) -> Gu1Error {
    if e.is_timeout() {
        Gu1Error::new(504, "UPSTREAM_TIMEOUT", "gu1 did not answer in time")
    } else {
        Gu1Error::new(502, "UPSTREAM_ERROR", what)
    }
}

/// The proxy's own refusal when it has no room for another gu1 call.
fn busy() -> Gu1Error {
    let mut e = Gu1Error::new(
        503,
        PROXY_BUSY,
        "the proxy has too many gu1 calls in flight",
    );
    e.retry_after = Some(1);
    e
}

/// `null` and 404 both mean "none".
fn optional(r: Result<Value, Gu1Error>) -> Result<Option<Session>, Gu1Error> {
    match r {
        Ok(Value::Null) => Ok(None),
        Ok(v) => Ok(Some(Arc::new(v))),
        Err(e) if e.http == 404 => Ok(None),
        Err(e) => Err(e),
    }
}

/// The largest answer read from gu1; gu1's session objects are a few KiB.
pub const MAX_ANSWER: usize = 1024 * 1024;

/// What each gu1 answer may buffer outside the shared budget of large answers.
pub const SMALL_ANSWER: usize = 64 * 1024;

/// Whether the API key may be sent to `base`: `https:`, or `http:` to a loopback host (a local
/// stand-in or simulator), never in clear text over a network.
fn safe_base(base: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(base).map_err(|e| format!("the gu1 base URL {base:?}: {e}"))?;
    let loopback = url.host_str().is_some_and(|h| {
        h.eq_ignore_ascii_case("localhost")
            || h.trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "the gu1 base URL must be https: (http: only on loopback), not {base:?}: the API key \
             would travel in clear text"
        )),
    }
}

/// gu1's `Retry-After` in seconds (delta-seconds or an HTTP date), at least 1, at most an hour.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let secs = match v.parse::<u64>() {
        Ok(s) => s,
        Err(_) => httpdate::parse_http_date(v)
            .ok()?
            .duration_since(std::time::SystemTime::now())
            .map_or(0, |d| d.as_secs()),
    };
    Some(secs.clamp(1, 3600))
}

impl Upstream {
    /// A client for `base` (e.g. `https://api.gu1.ai`) with the API key, a per-call timeout and
    /// the default [`Gu1Limits`]. Refuses a base URL the key would travel to in clear text;
    /// never follows a redirect.
    pub fn new(base: &str, key: String, timeout: Duration) -> Result<Upstream, String> {
        Self::with_limits(base, key, timeout, &Gu1Limits::default())
    }

    /// [`Upstream::new`] with `limits` on calls and sockets.
    pub fn with_limits(
        base: &str,
        key: String,
        timeout: Duration,
        limits: &Gu1Limits,
    ) -> Result<Upstream, String> {
        safe_base(base)?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("gu1-kyc-proxy")
            .pool_max_idle_per_host(limits.idle)
            .pool_idle_timeout(limits.idle_timeout)
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        Ok(Upstream {
            http,
            base: base.trim_end_matches('/').to_owned(),
            key,
            organization: None,
            calls: Arc::new(Semaphore::new(limits.calls.max(1))),
            queue: limits.queue,
            answers: ByteBudget::new(limits.answer_bytes),
        })
    }

    /// The budget of large answers being buffered (for metrics and tests).
    pub fn answer_bytes(&self) -> &ByteBudget {
        &self.answers
    }

    /// Sends `X-Organization-ID: organization` on every call (gu1 keys that reach several
    /// organizations need it).
    pub fn with_organization(mut self, organization: Option<String>) -> Upstream {
        self.organization = organization.filter(|o| !o.is_empty());
        self
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Gu1Error> {
        // One socket per call in flight: past the cap a call waits a little, then is shed
        // rather than opening a socket the file budget has no room for.
        let waited = tokio::time::timeout(self.queue, self.calls.clone().acquire_owned()).await;
        let Ok(Ok(_slot)) = waited else {
            crate::telemetry::shed("gu1_calls");
            return Err(busy());
        };
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(org) = &self.organization {
            req = req.header("X-Organization-ID", org);
        }
        // The browser request's id, so gu1's side of an exchange can be found from the log.
        if let Some(id) = crate::middleware::request_id() {
            req = req.header(crate::middleware::X_REQUEST_ID, id);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| transport(&e, "gu1 could not be reached"))?;
        let status = resp.status().as_u16();
        let too_large = || Gu1Error::new(502, "UPSTREAM_TOO_LARGE", "gu1's answer was too large");
        if resp.content_length().is_some_and(|n| n > MAX_ANSWER as u64) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        // Beyond its first SMALL_ANSWER bytes an answer draws on the budget shared by all
        // calls: 800 large answers at once once took the process to 768 MB.
        let mut held = Taken::default();
        let large = |n: usize| n.saturating_sub(SMALL_ANSWER);
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| transport(&e, "gu1's answer was cut off"))?
        {
            let now = bytes.len() + chunk.len();
            if now > MAX_ANSWER {
                return Err(too_large());
            }
            if !held.add(&self.answers, large(now) - large(bytes.len())) {
                crate::telemetry::shed("gu1_answers");
                return Err(busy());
            }
            bytes.extend_from_slice(&chunk);
        }
        let value: Option<Value> = serde_json::from_slice(&bytes).ok();
        if (200..300).contains(&status) {
            return value.ok_or_else(|| {
                Gu1Error::new(
                    502,
                    "UPSTREAM_BAD_RESPONSE",
                    "gu1 answered with something that is not JSON",
                )
            });
        }
        let field = |k: &str| {
            value
                .as_ref()
                .and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        // gu1 documents `{"error": CODE, "message": ...}`; `code` is read too. The code only
        // picks the browser's answer; gu1's message is not kept (it can carry personal data or
        // the key), and the operator's log shows the code only when it is one (`errors`).
        let code = field("error")
            .or_else(|| field("code"))
            .unwrap_or_else(|| format!("HTTP_{status}"));
        Err(Gu1Error {
            http: status,
            code,
            message: format!("gu1 answered HTTP {status}"),
            active_session_id: field("activeSessionId"),
            retry_after: retry_after(resp.headers()),
        })
    }
}

impl Gu1 for Upstream {
    fn get<'a>(&'a self, kind: Kind, id: &'a str) -> Call<'a, Option<Session>> {
        Box::pin(async move {
            let path = match kind {
                Kind::Biometric => format!("/api/kyc/biometric/sessions/{}", segment(id)?),
                Kind::Kyc => format!("/api/kyc/validations/{}", segment(id)?),
            };
            optional(self.call(Method::GET, &path, None).await)
        })
    }

    /// Biometric answers `200 null` when the entity has no session; KYC answers 404.
    fn current<'a>(&'a self, kind: Kind, entity: &'a str) -> Call<'a, Option<Session>> {
        Box::pin(async move {
            let path = match kind {
                Kind::Biometric => {
                    format!("/api/kyc/biometric/entities/{}/current", segment(entity)?)
                }
                Kind::Kyc => format!("/api/kyc/entities/{}/current", segment(entity)?),
            };
            optional(self.call(Method::GET, &path, None).await)
        })
    }

    fn create<'a>(&'a self, kind: Kind, entity: &'a str) -> Call<'a, Value> {
        Box::pin(async move {
            let (path, body) = match kind {
                Kind::Biometric => ("/api/kyc/biometric/sessions", json!({"entityId": entity})),
                Kind::Kyc => (
                    "/api/kyc/validations",
                    json!({"entityId": entity, "integrationCode": "global_gueno_validation_kyc"}),
                ),
            };
            self.call(Method::POST, path, Some(body)).await
        })
    }

    fn cancel<'a>(&'a self, kind: Kind, id: &'a str) -> Call<'a, Value> {
        Box::pin(async move {
            match kind {
                Kind::Biometric => {
                    let path = format!("/api/kyc/biometric/sessions/{}/cancel", segment(id)?);
                    self.call(Method::POST, &path, Some(json!({}))).await
                }
                Kind::Kyc => {
                    let path = format!("/api/kyc/validations/{}/cancel", segment(id)?);
                    let body =
                        json!({"reason": "Cancelled by the person from the verification page"});
                    self.call(Method::DELETE, &path, Some(body)).await
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_and_dot_segments_refused() {
        assert_eq!(segment("ent_1-a.b~c").unwrap(), "ent_1-a.b~c");
        assert_eq!(segment("../x/y?z").unwrap(), "..%2Fx%2Fy%3Fz");
        assert_eq!(segment("%2e%2e").unwrap(), "%252e%252e");
        for bad in ["", ".", ".."] {
            assert_eq!(segment(bad).unwrap_err().code, "NOT_FOUND", "{bad:?}");
        }
    }

    #[test]
    fn the_key_goes_only_over_https_or_to_loopback() {
        for ok in [
            "https://api.gu1.ai",
            "http://127.0.0.1:9",
            "http://localhost:8080",
            "http://[::1]:1",
        ] {
            assert!(safe_base(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://api.gu1.ai",
            "http://10.0.0.1",
            "http://127.0.0.1.nip.io",
            "ftp://api.gu1.ai",
            "api.gu1.ai",
        ] {
            assert!(safe_base(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let u = Upstream::new(
            "https://api.example",
            "sk_live_secret".into(),
            Duration::from_secs(1),
        )
        .unwrap();
        assert!(!format!("{u:?}").contains("sk_live_secret"));
    }
}
