//! Reading and checking the options given to `mount`.
//!
//! The checks are pure functions (tested natively); `Options::read` applies them to the
//! JavaScript object and resolves the container and URLs with the browser's own parsers, so
//! the URL this client checks is the URL the browser loads.

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, Url};

use crate::error::{Code, KycError};
use crate::frame;

/// Default and bounds of the numeric options, in milliseconds.
pub const POLL_INTERVAL: Bounds = Bounds {
    default: 2_000,
    min: 100,
    max: 3_600_000,
};
/// Overall time allowed for a verification.
pub const TIMEOUT: Bounds = Bounds {
    default: 1_800_000,
    min: 1_000,
    max: 86_400_000,
};
/// Time allowed for one request (and for one `refreshToken()` call).
pub const REQUEST_TIMEOUT: Bounds = Bounds {
    default: 10_000,
    min: 100,
    max: 120_000,
};

/// Default `title` of the iframe, read by screen readers.
pub const DEFAULT_TITLE: &str = "Identity verification";
/// Default height of the iframe, as documented for the hosted capture page.
pub const DEFAULT_HEIGHT: &str = "700px";

/// A numeric option's default and accepted range.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Used when the option is absent.
    pub default: u32,
    /// Smallest accepted value.
    pub min: u32,
    /// Largest accepted value.
    pub max: u32,
}

/// What a numeric option was given as.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    /// `undefined` or `null`.
    Absent,
    /// A JavaScript number.
    Number(f64),
    /// Anything else.
    WrongType,
}

/// Checks a numeric option against its bounds.
pub fn check_number(name: &str, value: Num, b: Bounds) -> Result<u32, KycError> {
    let n = match value {
        Num::Absent => return Ok(b.default),
        Num::WrongType => return Err(KycError::option(name, "must be a number of milliseconds")),
        Num::Number(n) => n,
    };
    if !n.is_finite() {
        return Err(KycError::option(name, "must be a finite number"));
    }
    if n < b.min as f64 || n > b.max as f64 {
        let mut m = String::from("must be between ");
        m.push_str(&b.min.to_string());
        m.push_str(" and ");
        m.push_str(&b.max.to_string());
        return Err(KycError::option(name, &m));
    }
    Ok(n.round() as u32)
}

/// Hosts allowed over plain `http:`.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// The parts of a parsed URL the policies look at (as `URL` reports them).
#[derive(Clone, Copy, Debug)]
pub struct UrlParts<'a> {
    /// `"https:"`, `"http:"`, ...
    pub protocol: &'a str,
    /// Host name without port; IPv6 in brackets.
    pub hostname: &'a str,
    /// Credentials, empty when absent.
    pub username: &'a str,
    /// Credentials, empty when absent.
    pub password: &'a str,
}

/// Whether a session URL may be mounted: `https:`, or `http:` on a loopback host; never with
/// credentials in it.
pub fn session_url_policy(u: UrlParts) -> Result<(), &'static str> {
    if !u.username.is_empty() || !u.password.is_empty() {
        return Err("must not carry credentials");
    }
    match u.protocol {
        "https:" if !u.hostname.is_empty() => Ok(()),
        "http:" if LOOPBACK_HOSTS.contains(&u.hostname) => Ok(()),
        "http:" => Err("may use http: only on localhost, 127.0.0.1 or [::1]"),
        _ => Err("must be an https: URL"),
    }
}

/// Whether a proxy URL (statusUrl, cancelUrl) may be fetched: `http:`/`https:`, no credentials.
pub fn proxy_url_policy(u: UrlParts) -> Result<(), &'static str> {
    if !u.username.is_empty() || !u.password.is_empty() {
        return Err("must not carry credentials");
    }
    match u.protocol {
        "https:" | "http:" => Ok(()),
        _ => Err("must be an http: or https: URL"),
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

/// Longest URL accepted; anything longer is refused rather than handed to the browser.
const MAX_URL: usize = 8_192;

/// Parses and checks a session URL with the browser's URL parser.
pub fn parse_session_url(raw: &str) -> Result<SessionUrl, KycError> {
    let unsafe_url = |why: &str| {
        let mut m = String::from("sessionUrl ");
        m.push_str(why);
        KycError::new(Code::UnsafeSessionUrl, m)
    };
    if raw.len() > MAX_URL {
        return Err(unsafe_url("is too long"));
    }
    let url = Url::new(raw).map_err(|_| unsafe_url("is not an absolute URL"))?;
    let (protocol, hostname) = (url.protocol(), url.hostname());
    let (username, password) = (url.username(), url.password());
    session_url_policy(UrlParts {
        protocol: &protocol,
        hostname: &hostname,
        username: &username,
        password: &password,
    })
    .map_err(unsafe_url)?;
    Ok(SessionUrl {
        href: url.href(),
        origin: url.origin(),
    })
}

/// Resolves a proxy URL against the document and checks it.
fn parse_proxy_url(name: &str, raw: &str) -> Result<String, KycError> {
    if raw.trim().is_empty() {
        return Err(KycError::option(name, "must not be empty"));
    }
    if raw.len() > MAX_URL {
        return Err(KycError::option(name, "is too long"));
    }
    let base = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.base_uri().ok().flatten())
        .unwrap_or_default();
    let url =
        Url::new_with_base(raw, &base).map_err(|_| KycError::option(name, "is not a valid URL"))?;
    let (protocol, hostname) = (url.protocol(), url.hostname());
    let (username, password) = (url.username(), url.password());
    proxy_url_policy(UrlParts {
        protocol: &protocol,
        hostname: &hostname,
        username: &username,
        password: &password,
    })
    .map_err(|why| KycError::option(name, why))?;
    Ok(url.href())
}

/// The optional callbacks.
#[derive(Clone, Debug, Default)]
pub struct Callbacks {
    /// Called once when the iframe has loaded.
    pub on_ready: Option<Function>,
    /// Called on every change of status with the snapshot.
    pub on_status: Option<Function>,
    /// Called exactly once with the terminal snapshot.
    pub on_complete: Option<Function>,
    /// Called with every error (`retrying` tells whether the client goes on).
    pub on_error: Option<Function>,
}

/// Checked options.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where the iframe goes and where DOM events are dispatched.
    pub container: Element,
    /// Absolute URL of the proxy's status endpoint.
    pub status_url: String,
    /// Bearer token; absent when the proxy authenticates otherwise (cookies).
    pub token: Option<String>,
    /// Called on 401 for a new token.
    pub refresh_token: Option<Function>,
    /// The session URL when the page already knows it.
    pub session_url: Option<SessionUrl>,
    /// The integrator's `allow` override, already filtered.
    pub allow: Option<String>,
    /// Absolute URL of the proxy's cancel endpoint.
    pub cancel_url: Option<String>,
    /// Base poll interval.
    pub poll_interval_ms: u32,
    /// Overall timeout.
    pub timeout_ms: u32,
    /// Per-request timeout.
    pub request_timeout_ms: u32,
    /// iframe title.
    pub title: String,
    /// iframe height (CSS length).
    pub height: String,
    /// Callbacks.
    pub callbacks: Callbacks,
}

fn get(obj: &JsValue, key: &str) -> Result<JsValue, KycError> {
    Reflect::get(obj, &JsValue::from_str(key))
        .map_err(|_| KycError::option(key, "could not be read"))
}

fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

fn num(v: &JsValue) -> Num {
    if absent(v) {
        Num::Absent
    } else {
        v.as_f64().map_or(Num::WrongType, Num::Number)
    }
}

fn opt_string(obj: &JsValue, key: &str) -> Result<Option<String>, KycError> {
    let v = get(obj, key)?;
    if absent(&v) {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| KycError::option(key, "must be a string"))
}

fn opt_function(obj: &JsValue, key: &str) -> Result<Option<Function>, KycError> {
    let v = get(obj, key)?;
    if absent(&v) {
        return Ok(None);
    }
    v.dyn_into::<Function>()
        .map(Some)
        .map_err(|_| KycError::option(key, "must be a function"))
}

/// Checks a CSS length given as a string or a number of pixels.
pub fn check_height(value: Option<Result<String, f64>>) -> Result<String, KycError> {
    match value {
        None => Ok(DEFAULT_HEIGHT.to_owned()),
        Some(Err(px)) if px.is_finite() && px > 0.0 && px <= 100_000.0 => {
            let mut s = (px.round() as u32).to_string();
            s.push_str("px");
            Ok(s)
        }
        Some(Err(_)) => Err(KycError::option(
            "height",
            "must be a positive number of pixels or a CSS length",
        )),
        Some(Ok(s)) => {
            let s = s.trim();
            let ok = !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || " .%()+-*/,".contains(c));
            if ok {
                Ok(s.to_owned())
            } else {
                Err(KycError::option(
                    "height",
                    "must be a CSS length such as \"700px\" or \"80vh\"",
                ))
            }
        }
    }
}

/// Checks the iframe title.
pub fn check_title(value: Option<String>) -> Result<String, KycError> {
    match value {
        None => Ok(DEFAULT_TITLE.to_owned()),
        Some(t) if !t.trim().is_empty() && t.len() <= 200 => Ok(t),
        Some(_) => Err(KycError::option(
            "title",
            "must be a non-empty string of at most 200 characters",
        )),
    }
}

impl Options {
    /// Reads and checks the options object given to `mount`.
    pub fn read(obj: &JsValue) -> Result<Options, KycError> {
        if !obj.is_object() || obj.is_function() {
            return Err(KycError::option("options", "must be an object"));
        }
        let container = resolve_container(&get(obj, "container")?)?;

        let status_url = match opt_string(obj, "statusUrl")? {
            Some(s) => parse_proxy_url("statusUrl", &s)?,
            None => return Err(KycError::option("statusUrl", "is required")),
        };
        let token = match opt_string(obj, "token")? {
            Some(t) if t.is_empty() || t.len() > 8_192 || t.chars().any(|c| c.is_control()) => {
                return Err(KycError::option(
                    "token",
                    "must be a non-empty string without control characters",
                ))
            }
            t => t,
        };
        let cancel_url = match opt_string(obj, "cancelUrl")? {
            Some(s) => Some(parse_proxy_url("cancelUrl", &s)?),
            None => None,
        };
        let session_url = match opt_string(obj, "sessionUrl")? {
            Some(s) => Some(parse_session_url(&s)?),
            None => None,
        };
        let allow = match opt_string(obj, "allow")? {
            Some(s) => Some(frame::check_allow(&s).map_err(|bad| {
                let mut m = String::from("names a permission this client does not delegate: ");
                m.push_str(&bad);
                KycError::option("allow", &m)
            })?),
            None => None,
        };
        let poll_interval_ms = check_number(
            "pollIntervalMs",
            num(&get(obj, "pollIntervalMs")?),
            POLL_INTERVAL,
        )?;
        let timeout_ms = check_number("timeoutMs", num(&get(obj, "timeoutMs")?), TIMEOUT)?;
        let request_timeout_ms = check_number(
            "requestTimeoutMs",
            num(&get(obj, "requestTimeoutMs")?),
            REQUEST_TIMEOUT,
        )?;
        let title = check_title(opt_string(obj, "title")?)?;
        let height = {
            let v = get(obj, "height")?;
            let given = if absent(&v) {
                None
            } else if let Some(s) = v.as_string() {
                Some(Ok(s))
            } else if let Some(n) = v.as_f64() {
                Some(Err(n))
            } else {
                Some(Err(f64::NAN))
            };
            check_height(given)?
        };
        let callbacks = Callbacks {
            on_ready: opt_function(obj, "onReady")?,
            on_status: opt_function(obj, "onStatus")?,
            on_complete: opt_function(obj, "onComplete")?,
            on_error: opt_function(obj, "onError")?,
        };
        Ok(Options {
            container,
            status_url,
            token,
            refresh_token: opt_function(obj, "refreshToken")?,
            session_url,
            allow,
            cancel_url,
            poll_interval_ms,
            timeout_ms,
            request_timeout_ms,
            title,
            height,
            callbacks,
        })
    }
}

/// An Element, or a CSS selector resolved in the document.
fn resolve_container(v: &JsValue) -> Result<Element, KycError> {
    if absent(v) {
        return Err(KycError::option(
            "container",
            "is required (an Element or a CSS selector)",
        ));
    }
    if let Some(el) = v.dyn_ref::<Element>() {
        return Ok(el.clone());
    }
    let Some(selector) = v.as_string() else {
        return Err(KycError::option(
            "container",
            "must be an Element or a CSS selector",
        ));
    };
    if selector.trim().is_empty() {
        return Err(KycError::option(
            "container",
            "must not be an empty selector",
        ));
    }
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| KycError::option("container", "needs a document"))?;
    match document.query_selector(&selector) {
        Ok(Some(el)) => Ok(el),
        Ok(None) => {
            let mut m = String::from("container selector matches no element: ");
            m.push_str(&selector);
            Err(KycError::new(Code::ContainerNotFound, m))
        }
        Err(_) => Err(KycError::option("container", "is not a valid CSS selector")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(protocol: &'a str, hostname: &'a str) -> UrlParts<'a> {
        UrlParts {
            protocol,
            hostname,
            username: "",
            password: "",
        }
    }

    #[test]
    fn numbers_default_and_bound() {
        assert_eq!(
            check_number("pollIntervalMs", Num::Absent, POLL_INTERVAL),
            Ok(2_000)
        );
        assert_eq!(
            check_number("pollIntervalMs", Num::Number(250.4), POLL_INTERVAL),
            Ok(250)
        );
        for bad in [
            0.0,
            -1.0,
            99.0,
            3_600_001.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let e = check_number("pollIntervalMs", Num::Number(bad), POLL_INTERVAL).unwrap_err();
            assert_eq!(e.code, Code::InvalidOptions);
            assert!(e.message.starts_with("pollIntervalMs "), "{}", e.message);
        }
        let e = check_number("timeoutMs", Num::WrongType, TIMEOUT).unwrap_err();
        assert!(e.message.starts_with("timeoutMs "));
        assert_eq!(
            check_number("timeoutMs", Num::Absent, TIMEOUT),
            Ok(1_800_000)
        );
        assert_eq!(
            check_number("requestTimeoutMs", Num::Absent, REQUEST_TIMEOUT),
            Ok(10_000)
        );
    }

    #[test]
    fn session_urls_https_or_loopback_http() {
        assert!(session_url_policy(parts("https:", "verify.example")).is_ok());
        assert!(session_url_policy(parts("http:", "localhost")).is_ok());
        assert!(session_url_policy(parts("http:", "127.0.0.1")).is_ok());
        assert!(session_url_policy(parts("http:", "[::1]")).is_ok());
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
            assert!(session_url_policy(parts(p, h)).is_err(), "{p}{h}");
        }
        let creds = UrlParts {
            protocol: "https:",
            hostname: "a.example",
            username: "u",
            password: "",
        };
        assert!(session_url_policy(creds).is_err());
        let creds = UrlParts {
            protocol: "https:",
            hostname: "a.example",
            username: "",
            password: "p",
        };
        assert!(session_url_policy(creds).is_err());
    }

    #[test]
    fn proxy_urls_http_only() {
        assert!(proxy_url_policy(parts("https:", "api.example")).is_ok());
        assert!(proxy_url_policy(parts("http:", "api.example")).is_ok());
        assert!(proxy_url_policy(parts("javascript:", "")).is_err());
        assert!(proxy_url_policy(parts("data:", "")).is_err());
    }

    #[test]
    fn height_and_title() {
        assert_eq!(check_height(None).unwrap(), "700px");
        assert_eq!(check_height(Some(Err(640.0))).unwrap(), "640px");
        assert_eq!(check_height(Some(Ok(" 80vh ".into()))).unwrap(), "80vh");
        assert_eq!(
            check_height(Some(Ok("calc(100% - 2rem)".into()))).unwrap(),
            "calc(100% - 2rem)"
        );
        for bad in ["", "1px; background: red", "url(x)\"", "<b>"] {
            assert!(check_height(Some(Ok(bad.into()))).is_err(), "{bad}");
        }
        assert!(check_height(Some(Err(-5.0))).is_err());
        assert!(check_height(Some(Err(f64::NAN))).is_err());
        assert_eq!(check_title(None).unwrap(), DEFAULT_TITLE);
        assert!(check_title(Some("  ".into())).is_err());
        assert_eq!(check_title(Some("KYC".into())).unwrap(), "KYC");
    }
}
