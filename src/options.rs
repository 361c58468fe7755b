//! Reading and checking the options given to `mount`.
//!
//! The checks are pure functions (tested natively); `Options::read` applies them to the
//! JavaScript object, resolving the container and URLs with the browser's own parsers.

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

use crate::error::{push_u32, Code, KycError};
use crate::permissions::{self, Permissions};
use crate::url::{parse_proxy_url, parse_session_url, SessionUrl};

/// The numeric options: name, default, smallest and largest accepted value (in the unit the
/// name ends with).
pub const NUMBERS: [(&str, u32, u32, u32); 4] = [
    ("pollIntervalMs", 2_000, 100, 3_600_000),
    ("timeoutMs", 1_800_000, 1_000, 86_400_000),
    // Also bounds each `refreshToken()` call.
    ("requestTimeoutMs", 10_000, 100, 120_000),
    // The wait a status request asks of a proxy that sends ETags (`Prefer: wait`); 0: never.
    ("waitSeconds", 25, 0, 60),
];

/// The callbacks, in the order `Options::callbacks` holds them.
pub const CALLBACKS: [&str; 4] = ["onReady", "onStatus", "onComplete", "onError"];

/// Default `title` of the iframe, read by screen readers.
pub const DEFAULT_TITLE: &str = "Identity verification";
/// Default height of the iframe, as documented for the hosted capture page.
pub const DEFAULT_HEIGHT: &str = "700px";

/// The `mode` option's values, in `Mode` order.
pub const MODES: [&str; 3] = ["inline", "modal", "window"];

/// Where the hosted page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// An iframe in the container (the default).
    Inline,
    /// An iframe in a modal dialog in the container.
    Modal,
    /// A new window opened from a click on the library's button (or `open()`).
    Window,
}

/// The library's visible strings (the `labels` option, English defaults in `LABELS`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels {
    /// The button that opens the hosted session in a new window.
    pub button: String,
    /// The text above it when the camera pre-flight failed.
    pub explanation: String,
    /// The dialog's close button.
    pub close: String,
}
/// The `fallback` option's values: `"window"` (the default) or `"none"`.
pub const FALLBACKS: [&str; 2] = ["window", "none"];
/// What a bad `mode` or `fallback` is told.
const BAD_MODE: &str = "must be \"inline\", \"modal\" or \"window\"";
const BAD_FALLBACK: &str = "must be \"window\" or \"none\"";
/// The `labels` option's keys and their English defaults.
pub const LABELS: [(&str, &str); 3] = [
    ("button", "Continue in a new window"),
    (
        "explanation",
        "The camera cannot be used on this page. Continue the verification in a new window.",
    ),
    ("close", "Close"),
];

/// An option's value as JavaScript gave it.
#[derive(Clone, Debug, PartialEq)]
pub enum Given {
    /// `undefined` or `null`.
    Absent,
    /// A string.
    Str(String),
    /// A number.
    Num(f64),
    /// Anything else.
    Other,
}

/// A non-negative number rounded to the nearest whole one (halves up), without the standard
/// library's `round` (a function of its own in wasm).
fn whole(n: f64) -> u32 {
    (n + 0.5) as u32
}

/// Checks a numeric option (`NUMBERS[i]`) and rounds it to a whole number.
pub fn check_number(i: usize, value: &Given) -> Result<u32, KycError> {
    let (name, default, min, max) = NUMBERS[i];
    let n = match *value {
        Given::Absent => return Ok(default),
        Given::Num(n) if n.is_finite() => n,
        Given::Num(_) => return Err(KycError::option(name, "must be a finite number")),
        _ => return Err(KycError::option(name, "must be a number")),
    };
    if n < min as f64 || n > max as f64 {
        let mut m = String::from("must be between ");
        push_u32(&mut m, min);
        m.push_str(" and ");
        push_u32(&mut m, max);
        return Err(KycError::option(name, &m));
    }
    Ok(whole(n))
}

/// Whether a token can go into an `Authorization` header: not empty, at most 8 KiB, no
/// control characters.
pub fn valid_token(t: &str) -> bool {
    // C0 controls and DEL as bytes; C1 controls (U+0080..U+009F) are encoded as C2 80..C2 9F.
    let b = t.as_bytes();
    !t.is_empty()
        && t.len() <= 8_192
        && !b.iter().any(|&c| c < 0x20 || c == 0x7f)
        && !b.windows(2).any(|w| w[0] == 0xc2 && w[1] < 0xa0)
}

/// Checks the iframe height: a CSS length or a number of pixels.
pub fn check_height(value: &Given) -> Result<String, KycError> {
    match value {
        Given::Absent => return Ok(DEFAULT_HEIGHT.into()),
        Given::Num(px) if px.is_finite() && *px > 0.0 && *px <= 100_000.0 => {
            let mut s = String::new();
            push_u32(&mut s, whole(*px));
            s.push_str("px");
            return Ok(s);
        }
        Given::Str(s) => {
            let s = s.trim_ascii();
            let ok = s.len() <= 64
                && s.bytes()
                    // A match, not `contains` (which links memchr).
                    .all(|b| {
                        b.is_ascii_alphanumeric()
                            || matches!(
                                b,
                                b' ' | b'.' | b'%' | b'(' | b')' | b'+' | b'-' | b'*' | b'/' | b','
                            )
                    });
            if ok && !s.is_empty() {
                return Ok(s.into());
            }
        }
        _ => {}
    }
    Err(KycError::option(
        "height",
        "must be a positive number of pixels or a CSS length such as \"700px\" or \"80vh\"",
    ))
}

/// Checks the iframe title.
pub fn check_title(value: Option<String>) -> Result<String, KycError> {
    check_text("title", value, DEFAULT_TITLE)
}

/// The index in `choices` of the value given (the first when absent), else `problem`.
pub fn check_choice(
    name: &str,
    value: Option<String>,
    choices: &[&str],
    problem: &str,
) -> Result<u8, KycError> {
    let Some(v) = value else { return Ok(0) };
    match choices.iter().position(|c| *c == v) {
        Some(i) => Ok(i as u8),
        None => Err(KycError::option(name, problem)),
    }
}

/// Checks a visible string (`title`, a label): not blank, at most 200 bytes.
fn check_text(name: &str, value: Option<String>, default: &str) -> Result<String, KycError> {
    match value {
        None => Ok(default.into()),
        Some(t) if !t.trim_ascii().is_empty() && t.len() <= 200 => Ok(t),
        Some(_) => Err(KycError::option(
            name,
            "must be a non-empty string of at most 200 characters",
        )),
    }
}

/// Checked options.
#[derive(Debug)]
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
    /// The integrator's `allow` override.
    pub allow: Option<Permissions>,
    /// Absolute URL of the proxy's cancel endpoint.
    pub cancel_url: Option<String>,
    /// `pollIntervalMs`, `timeoutMs`, `requestTimeoutMs`, `waitSeconds` (the order of
    /// `NUMBERS`).
    pub numbers: [u32; 4],
    /// iframe title.
    pub title: String,
    /// iframe height (CSS length).
    pub height: String,
    /// `onReady`, `onStatus`, `onComplete`, `onError`.
    pub callbacks: [Option<Function>; 4],
    /// Where the hosted page shows.
    pub mode: Mode,
    /// Whether a failed pre-flight shows the new-window button (`fallback: "window"`).
    pub fallback: bool,
    /// The visible strings, in `LABELS` order.
    pub labels: Labels,
}

/// Reads one property of the options object.
struct Reader<'a>(&'a JsValue);

impl Reader<'_> {
    fn raw(&self, key: &str) -> Result<JsValue, KycError> {
        Reflect::get(self.0, &JsValue::from_str(key))
            .map_err(|_| KycError::option(key, "could not be read"))
    }

    fn given(&self, key: &str) -> Result<Given, KycError> {
        let v = self.raw(key)?;
        Ok(if v.is_undefined() || v.is_null() {
            Given::Absent
        } else if let Some(s) = v.as_string() {
            Given::Str(s)
        } else if let Some(n) = v.as_f64() {
            Given::Num(n)
        } else {
            Given::Other
        })
    }

    fn string(&self, key: &str) -> Result<Option<String>, KycError> {
        match self.given(key)? {
            Given::Absent => Ok(None),
            Given::Str(s) => Ok(Some(s)),
            _ => Err(KycError::option(key, "must be a string")),
        }
    }

    fn function(&self, key: &str) -> Result<Option<Function>, KycError> {
        let v = self.raw(key)?;
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        v.dyn_into()
            .map(Some)
            .map_err(|_| KycError::option(key, "must be a function"))
    }
}

impl Options {
    /// Reads and checks the options object given to `mount`.
    pub fn read(obj: &JsValue) -> Result<Options, KycError> {
        if !obj.is_object() {
            return Err(KycError::option("options", "must be an object"));
        }
        let r = Reader(obj);
        let document = crate::js::document();
        let container = resolve_container(&document, &r.raw("container")?)?;
        let base = crate::js::get(&document, "baseURI")
            .as_string()
            .unwrap_or_default();
        let status_url = match r.string("statusUrl")? {
            Some(s) => parse_proxy_url("statusUrl", &s, &base)?,
            None => return Err(KycError::option("statusUrl", "is required")),
        };
        let token = r.string("token")?;
        if token.as_deref().is_some_and(|t| !valid_token(t)) {
            return Err(KycError::option(
                "token",
                "must be a non-empty string without control characters",
            ));
        }
        let cancel_url = match r.string("cancelUrl")? {
            Some(s) => Some(parse_proxy_url("cancelUrl", &s, &base)?),
            None => None,
        };
        let session_url = match r.string("sessionUrl")? {
            Some(s) => Some(parse_session_url(&s)?),
            None => None,
        };
        let mode = match check_choice("mode", r.string("mode")?, &MODES, BAD_MODE)? {
            0 => Mode::Inline,
            1 => Mode::Modal,
            _ => Mode::Window,
        };
        let fallback =
            check_choice("fallback", r.string("fallback")?, &FALLBACKS, BAD_FALLBACK)? == 0;
        let given = r.raw("labels")?;
        let mut labels: [String; 3] = Default::default();
        for (label, &(key, default)) in labels.iter_mut().zip(&LABELS) {
            let text = match given.is_object() {
                false if given.is_undefined() || given.is_null() => Ok(None),
                false => Err(()),
                true => Reader(&given).string(key).map_err(drop),
            };
            *label = text
                .and_then(|t| check_text(key, t, default).map_err(drop))
                .map_err(|_| {
                    KycError::option(
                        "labels",
                        "must be an object of non-empty strings of at most 200 characters \
                         (button, explanation, close)",
                    )
                })?;
        }
        let allow = match r.string("allow")? {
            Some(s) => Some(permissions::check(&s).map_err(|bad| {
                let mut m = String::from("names a permission this client does not delegate: ");
                m.push_str(bad);
                KycError::option("allow", &m)
            })?),
            None => None,
        };
        let mut numbers = [0; 4];
        for (i, n) in numbers.iter_mut().enumerate() {
            *n = check_number(i, &r.given(NUMBERS[i].0)?)?;
        }
        let title = check_title(r.string("title")?)?;
        let height = check_height(&r.given("height")?)?;
        let mut callbacks: [Option<Function>; 4] = Default::default();
        for (slot, name) in callbacks.iter_mut().zip(&CALLBACKS) {
            *slot = r.function(name)?;
        }
        Ok(Options {
            container,
            status_url,
            token,
            refresh_token: r.function("refreshToken")?,
            session_url,
            allow,
            cancel_url,
            numbers,
            title,
            height,
            callbacks,
            mode,
            fallback,
            labels: {
                // Taken apart only here: until now the three strings are dropped as one array.
                let [button, explanation, close] = labels;
                Labels {
                    button,
                    explanation,
                    close,
                }
            },
        })
    }
}

/// `preflight()`'s one option, `sessionUrl` (required).
pub fn session_url(obj: &JsValue) -> Result<SessionUrl, KycError> {
    if !obj.is_object() {
        return Err(KycError::option("options", "must be an object"));
    }
    match Reader(obj).string("sessionUrl")? {
        Some(s) => parse_session_url(&s),
        None => Err(KycError::option("sessionUrl", "is required")),
    }
}

/// An Element, or a CSS selector resolved in the document.
fn resolve_container(document: &web_sys::Document, v: &JsValue) -> Result<Element, KycError> {
    if let Some(el) = v.dyn_ref::<Element>() {
        return Ok(el.clone());
    }
    let why = match v.as_string() {
        _ if v.is_undefined() || v.is_null() => "is required (an Element or a CSS selector)",
        None => "must be an Element or a CSS selector",
        Some(s) if s.trim_ascii().is_empty() => "must not be an empty selector",
        Some(selector) => match document.query_selector(&selector) {
            Ok(Some(el)) => return Ok(el),
            Ok(None) => {
                let mut m = String::from("container selector matches no element: ");
                m.push_str(&selector);
                return Err(KycError::new(Code::ContainerNotFound, m));
            }
            Err(_) => "is not a valid CSS selector",
        },
    };
    Err(KycError::option("container", why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_default_and_bound() {
        assert_eq!(check_number(0, &Given::Absent), Ok(2_000));
        assert_eq!(check_number(0, &Given::Num(250.4)), Ok(250));
        for bad in [
            0.0,
            -1.0,
            99.0,
            3_600_001.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let e = check_number(0, &Given::Num(bad)).unwrap_err();
            assert_eq!(e.code, Code::InvalidOptions);
            assert!(e.message.starts_with("pollIntervalMs "), "{}", e.message);
        }
        let e = check_number(0, &Given::Num(5.0)).unwrap_err();
        assert_eq!(e.message, "pollIntervalMs must be between 100 and 3600000");
        for wrong in [Given::Str("5".into()), Given::Other] {
            let e = check_number(1, &wrong).unwrap_err();
            assert!(e.message.starts_with("timeoutMs "));
        }
        assert_eq!(check_number(1, &Given::Absent), Ok(1_800_000));
        assert_eq!(check_number(2, &Given::Absent), Ok(10_000));
        assert_eq!(check_number(2, &Given::Num(120_000.0)), Ok(120_000));
        assert_eq!(check_number(3, &Given::Absent), Ok(25));
        assert_eq!(check_number(3, &Given::Num(0.0)), Ok(0));
        let e = check_number(3, &Given::Num(61.0)).unwrap_err();
        assert_eq!(e.message, "waitSeconds must be between 0 and 60");
    }

    #[test]
    fn height_and_title() {
        let h = |g: Given| check_height(&g);
        assert_eq!(h(Given::Absent).unwrap(), "700px");
        assert_eq!(h(Given::Num(640.0)).unwrap(), "640px");
        assert_eq!(h(Given::Str(" 80vh ".into())).unwrap(), "80vh");
        assert_eq!(
            h(Given::Str("calc(100% - 2rem)".into())).unwrap(),
            "calc(100% - 2rem)"
        );
        for bad in ["", "1px; background: red", "url(x)\"", "<b>"] {
            assert!(h(Given::Str(bad.into())).is_err(), "{bad}");
        }
        for bad in [Given::Num(-5.0), Given::Num(f64::NAN), Given::Other] {
            assert!(h(bad).unwrap_err().message.starts_with("height "));
        }
        assert_eq!(check_title(None).unwrap(), DEFAULT_TITLE);
        assert!(check_title(Some("  ".into())).is_err());
        assert_eq!(check_title(Some("KYC".into())).unwrap(), "KYC");
    }

    #[test]
    fn choices() {
        let mode = |v: Option<&str>| check_choice("mode", v.map(Into::into), &MODES, BAD_MODE);
        assert_eq!(mode(None), Ok(0));
        assert_eq!(mode(Some("window")), Ok(2));
        let fallback = check_choice("fallback", Some("none".into()), &FALLBACKS, BAD_FALLBACK);
        assert_eq!(fallback, Ok(1));
        let e = mode(Some("popup")).unwrap_err();
        assert_eq!(e.code, Code::InvalidOptions);
        assert_eq!(e.message, r#"mode must be "inline", "modal" or "window""#);
        assert!(check_text("close", Some(" ".into()), "Close").is_err());
        assert_eq!(check_text("close", None, "Close").unwrap(), "Close");
    }

    #[test]
    fn tokens_fit_a_header() {
        assert!(valid_token("abc.def"));
        assert!(valid_token("caf\u{e9}\u{a0}\u{100}"));
        for bad in [
            "",
            "a\nb",
            "a\u{7f}",
            "a\u{85}b",
            "\u{9f}",
            &"x".repeat(8_193),
        ] {
            assert!(!valid_token(bad));
        }
    }
}
