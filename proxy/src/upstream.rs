//! The real gu1 API, called with the integrator's secret key. The key is only ever put in the
//! `Authorization` header of requests to gu1: never in a response, a log line or an error.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::gu1::{Call, Gu1, Gu1Error};
use crate::token::Kind;

/// A gu1 API client.
pub struct Upstream {
    http: reqwest::Client,
    base: String,
    key: String,
    organization: Option<String>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("base", &self.base)
            .field("key", &"<redacted>")
            .field("organization", &self.organization)
            .finish()
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

/// `null` and 404 both mean "none".
fn optional(r: Result<Value, Gu1Error>) -> Result<Option<Value>, Gu1Error> {
    match r {
        Ok(Value::Null) => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(e) if e.http == 404 => Ok(None),
        Err(e) => Err(e),
    }
}

impl Upstream {
    /// A client for `base` (e.g. `https://api.gu1.ai`) with the API key and a per-call timeout.
    pub fn new(base: &str, key: String, timeout: Duration) -> Result<Upstream, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent("gu1-kyc-proxy")
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        Ok(Upstream {
            http,
            base: base.trim_end_matches('/').to_owned(),
            key,
            organization: None,
        })
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
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(org) = &self.organization {
            req = req.header("X-Organization-ID", org);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| transport(&e, "gu1 could not be reached"))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| transport(&e, "gu1's answer was cut off"))?;
        let value: Option<Value> = serde_json::from_str(&text).ok();
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
        // gu1 documents `{"error": CODE, "message": ...}`; `code` is read too.
        let code = field("error")
            .or_else(|| field("code"))
            .unwrap_or_else(|| format!("HTTP_{status}"));
        let mut e = Gu1Error {
            http: status,
            code,
            message: field("message").unwrap_or_else(|| format!("gu1 answered HTTP {status}")),
            active_session_id: field("activeSessionId"),
        };
        if e.message.contains(&self.key) {
            e.message = format!("gu1 answered HTTP {status}");
        }
        Err(e)
    }
}

impl Gu1 for Upstream {
    fn get<'a>(&'a self, kind: Kind, id: &'a str) -> Call<'a, Option<Value>> {
        Box::pin(async move {
            let path = match kind {
                Kind::Biometric => format!("/api/kyc/biometric/sessions/{}", segment(id)?),
                Kind::Kyc => format!("/api/kyc/validations/{}", segment(id)?),
            };
            optional(self.call(Method::GET, &path, None).await)
        })
    }

    /// Biometric answers `200 null` when the entity has no session; KYC answers 404.
    fn current<'a>(&'a self, kind: Kind, entity: &'a str) -> Call<'a, Option<Value>> {
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
