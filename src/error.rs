//! Stable error codes and the error value that carries them to JavaScript.

use wasm_bindgen::JsValue;

use crate::js::{get, set};

/// Every failure the client reports has one of these codes. The strings are part of the public
/// contract: integrators switch on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// An option is missing, of the wrong type or out of range.
    InvalidOptions,
    /// `container` is a selector that matches nothing.
    ContainerNotFound,
    /// The session URL is not `https:` (or `http:` on a loopback host).
    UnsafeSessionUrl,
    /// The proxy refused the token and no working `refreshToken` gave a better one.
    Unauthorized,
    /// The request failed before an answer arrived (offline, refused, timed out).
    Network,
    /// The proxy answered with an unexpected HTTP status.
    ProxyError,
    /// The proxy answered 2xx with a body that is not a session.
    BadResponse,
    /// The proxy answered 429.
    RateLimited,
    /// The proxy reported a status this client does not know.
    UnknownStatus,
    /// `timeoutMs` passed without a terminal status.
    Timeout,
    /// `destroy()` ended the verification before completion.
    Destroyed,
}

impl Code {
    /// The stable string exposed as `error.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidOptions => "INVALID_OPTIONS",
            Code::ContainerNotFound => "CONTAINER_NOT_FOUND",
            Code::UnsafeSessionUrl => "UNSAFE_SESSION_URL",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Network => "NETWORK",
            Code::ProxyError => "PROXY_ERROR",
            Code::BadResponse => "BAD_RESPONSE",
            Code::RateLimited => "RATE_LIMITED",
            Code::UnknownStatus => "UNKNOWN_STATUS",
            Code::Timeout => "TIMEOUT",
            Code::Destroyed => "DESTROYED",
        }
    }
}

/// A failure with its stable code and a message for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KycError {
    /// The stable code.
    pub code: Code,
    /// What happened, naming the option or the answer at fault. Never contains the token.
    pub message: String,
}

impl KycError {
    /// A new error.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        KycError {
            code,
            message: message.into(),
        }
    }

    /// `INVALID_OPTIONS` naming the option.
    pub fn option(name: &str, problem: &str) -> Self {
        let mut m = String::with_capacity(name.len() + problem.len() + 1);
        m.push_str(name);
        m.push(' ');
        m.push_str(problem);
        KycError::new(Code::InvalidOptions, m)
    }

    /// A real JavaScript `Error` with `name = "KycError"`, `code`, and, when given, `retrying`.
    pub fn to_js(&self, retrying: Option<bool>) -> JsValue {
        let err = js_sys::Error::new(&self.message);
        // Format the stack now: until it is read, V8 keeps the frames' receivers (such as the
        // `Verification` whose `destroy()` made this error) reachable from the error, and the
        // error is reachable from Rust through the settled `completed` promise, a cycle across
        // the wasm boundary that the JS collector cannot see through.
        get(&err, "stack");
        let obj: &JsValue = err.as_ref();
        set(obj, "name", &JsValue::from_str("KycError"));
        set(obj, "code", &JsValue::from_str(self.code.as_str()));
        if let Some(r) = retrying {
            set(obj, "retrying", &JsValue::from_bool(r));
        }
        err.into()
    }

    /// The `detail` of a `gu1kyc:error` event: `{code, message, retrying}`.
    pub fn to_detail(&self, retrying: bool) -> JsValue {
        let obj = js_sys::Object::new();
        set(&obj, "code", &JsValue::from_str(self.code.as_str()));
        set(&obj, "message", &JsValue::from_str(&self.message));
        set(&obj, "retrying", &JsValue::from_bool(retrying));
        obj.into()
    }
}

/// Appends `n` in decimal (no formatting machinery on release paths).
pub fn push_u32(s: &mut String, n: u32) {
    if n >= 10 {
        push_u32(s, n / 10);
    }
    s.push((b'0' + (n % 10) as u8) as char);
}

impl std::fmt::Display for KycError {
    /// `CODE: message`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code.as_str())?;
        f.write_str(": ")?;
        f.write_str(&self.message)
    }
}

impl std::error::Error for KycError {}

impl From<KycError> for JsValue {
    fn from(e: KycError) -> JsValue {
        e.to_js(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_strings() {
        let all = [
            (Code::InvalidOptions, "INVALID_OPTIONS"),
            (Code::ContainerNotFound, "CONTAINER_NOT_FOUND"),
            (Code::UnsafeSessionUrl, "UNSAFE_SESSION_URL"),
            (Code::Unauthorized, "UNAUTHORIZED"),
            (Code::Network, "NETWORK"),
            (Code::ProxyError, "PROXY_ERROR"),
            (Code::BadResponse, "BAD_RESPONSE"),
            (Code::RateLimited, "RATE_LIMITED"),
            (Code::UnknownStatus, "UNKNOWN_STATUS"),
            (Code::Timeout, "TIMEOUT"),
            (Code::Destroyed, "DESTROYED"),
        ];
        for (code, s) in all {
            assert_eq!(code.as_str(), s);
        }
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 409, 3_600_000, u32::MAX] {
            let mut s = String::from("x");
            push_u32(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
    }

    #[test]
    fn errors_display_code_and_message() {
        let e: Box<dyn std::error::Error> = Box::new(KycError::new(Code::Timeout, "too slow"));
        assert_eq!(e.to_string(), "TIMEOUT: too slow");
    }

    #[test]
    fn option_errors_name_the_option() {
        let e = KycError::option("pollIntervalMs", "must be a finite number");
        assert_eq!(e.code, Code::InvalidOptions);
        assert_eq!(e.message, "pollIntervalMs must be a finite number");
    }
}
