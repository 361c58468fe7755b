//! Session URLs and proxy URLs: the policies (pure) and the browser's parser that feeds them,
//! so the URL this client checks is the URL the browser loads.

use crate::error::{Code, KycError};

/// Hosts allowed over plain `http:`.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Longest URL accepted; anything longer is refused rather than handed to the browser.
pub const MAX_URL: usize = 8_192;

/// A string the URL parser reported, compared where it lives (a JavaScript string in the
/// browser, a `&str` in native tests) instead of being copied into wasm memory.
pub trait Part {
    /// Whether it equals `s`.
    fn is(&self, s: &str) -> bool;
}

impl Part for &str {
    fn is(&self, s: &str) -> bool {
        *self == s
    }
}

impl Part for wasm_bindgen::JsValue {
    fn is(&self, s: &str) -> bool {
        *self == wasm_bindgen::JsValue::from_str(s)
    }
}

/// The parts of a parsed URL the policies look at (as `URL` reports them).
#[derive(Clone, Copy, Debug)]
pub struct UrlParts<P> {
    /// `"https:"`, `"http:"`, ...
    pub protocol: P,
    /// Host name without port; IPv6 in brackets.
    pub hostname: P,
    /// Whether the URL carries a user name or password.
    pub credentials: bool,
}

/// Whether a session URL may be mounted: `https:`, or `http:` on a loopback host; never with
/// credentials in it.
pub fn session_url_policy<P: Part>(u: &UrlParts<P>) -> Result<(), &'static str> {
    if u.credentials {
        Err("must not carry credentials")
    } else if u.protocol.is("https:") && !u.hostname.is("") {
        Ok(())
    } else if !u.protocol.is("http:") {
        Err("must be an https: URL")
    } else if LOOPBACK_HOSTS.iter().any(|h| u.hostname.is(h)) {
        Ok(())
    } else {
        Err("may use http: only on localhost, 127.0.0.1 or [::1]")
    }
}

/// Whether a proxy URL (statusUrl, cancelUrl) may be fetched: `http:`/`https:`, no credentials.
pub fn proxy_url_policy<P: Part>(u: &UrlParts<P>) -> Result<(), &'static str> {
    if u.credentials {
        Err("must not carry credentials")
    } else if u.protocol.is("https:") || u.protocol.is("http:") {
        Ok(())
    } else {
        Err("must be an http: or https: URL")
    }
}

/// A session URL that passed the policy, with its origin for the message check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionUrl {
    /// The URL as the browser serialises it.
    pub href: String,
    /// Its origin, compared with `MessageEvent.origin`.
    pub origin: String,
}

fn unsafe_url(why: &str) -> KycError {
    let mut m = String::from("sessionUrl ");
    m.push_str(why);
    KycError::new(Code::UnsafeSessionUrl, m)
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// A URL as the browser's parser made it.
    #[wasm_bindgen(js_name = URL)]
    type Parsed;
    /// `new URL(raw, base)`, `base` undefined (left out) when `None`.
    #[wasm_bindgen(catch, constructor, js_class = "URL")]
    fn new(raw: &str, base: Option<&str>) -> Result<Parsed, wasm_bindgen::JsValue>;
}

/// A string property of a parsed URL.
fn text(url: &wasm_bindgen::JsValue, key: &str) -> String {
    crate::js::get(url, key).as_string().unwrap_or_default()
}

fn parse(
    raw: &str,
    base: Option<&str>,
) -> Option<(wasm_bindgen::JsValue, UrlParts<wasm_bindgen::JsValue>)> {
    let url: wasm_bindgen::JsValue = Parsed::new(raw, base).ok()?.into();
    let part = |key: &str| crate::js::get(&url, key);
    let parts = UrlParts {
        protocol: part("protocol"),
        hostname: part("hostname"),
        credentials: !part("username").is("") || !part("password").is(""),
    };
    Some((url, parts))
}

/// Parses and checks a session URL with the browser's URL parser.
pub fn parse_session_url(raw: &str) -> Result<SessionUrl, KycError> {
    if raw.len() > MAX_URL {
        return Err(unsafe_url("is too long"));
    }
    let (url, parts) = parse(raw, None).ok_or_else(|| unsafe_url("is not an absolute URL"))?;
    session_url_policy(&parts).map_err(unsafe_url)?;
    Ok(SessionUrl {
        href: text(&url, "href"),
        origin: text(&url, "origin"),
    })
}

/// Resolves a proxy URL (`statusUrl`, `cancelUrl`) against the document and checks it.
pub fn parse_proxy_url(name: &str, raw: &str, base: &str) -> Result<String, KycError> {
    let why = if raw.trim_ascii().is_empty() {
        "must not be empty"
    } else if raw.len() > MAX_URL {
        "is too long"
    } else {
        match parse(raw, Some(base)) {
            None => "is not a valid URL",
            Some((url, parts)) => match proxy_url_policy(&parts) {
                Ok(()) => return Ok(text(&url, "href")),
                Err(why) => why,
            },
        }
    };
    Err(KycError::option(name, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(protocol: &'a str, hostname: &'a str) -> UrlParts<&'a str> {
        UrlParts {
            protocol,
            hostname,
            credentials: false,
        }
    }

    #[test]
    fn session_urls_https_or_loopback_http() {
        for (p, h) in [
            ("https:", "verify.example"),
            ("http:", "localhost"),
            ("http:", "127.0.0.1"),
            ("http:", "[::1]"),
        ] {
            assert!(session_url_policy(&parts(p, h)).is_ok(), "{p}{h}");
        }
        for (p, h) in [
            ("http:", "verify.example"),
            ("http:", "127.0.0.2"),
            ("http:", "localhost.example"),
            ("javascript:", ""),
            ("data:", ""),
            ("blob:", ""),
            ("file:", ""),
            ("ftp:", "x"),
            ("https:", ""),
        ] {
            assert!(session_url_policy(&parts(p, h)).is_err(), "{p}{h}");
        }
        let creds = UrlParts {
            credentials: true,
            ..parts("https:", "a.example")
        };
        assert!(session_url_policy(&creds).is_err());
        assert!(proxy_url_policy(&creds).is_err());
    }

    #[test]
    fn proxy_urls_http_only() {
        assert!(proxy_url_policy(&parts("https:", "api.example")).is_ok());
        assert!(proxy_url_policy(&parts("http:", "api.example")).is_ok());
        assert!(proxy_url_policy(&parts("javascript:", "")).is_err());
        assert!(proxy_url_policy(&parts("data:", "")).is_err());
    }

    #[test]
    fn refusals_are_unsafe_session_url() {
        let e = unsafe_url("must be an https: URL");
        assert_eq!(e.code, Code::UnsafeSessionUrl);
        assert_eq!(e.message, "sessionUrl must be an https: URL");
    }
}
