//! Browser client for gu1's hosted identity verification.
//!
//! `mount(options)` shows the hosted session in an iframe with the permissions it needs, polls
//! the integrator's token-scoped proxy for the session's status, and reports the terminal status
//! exactly once through a callback, a DOM event and the `completed` promise. The proxy's answer
//! is the only source of truth; messages from the hosted page only make it ask sooner.
//!
//! ```js
//! import init, { mount } from "gu1-kyc-web";
//! await init();
//! const v = mount({ container: "#kyc", statusUrl: "/kyc/status", token });
//! const result = await v.completed; // { status: "approved", ... }
//! ```
//!
//! The decisions live in `machine` (a pure state machine) beside pure parsers (statuses and
//! answers, options, URLs, permissions, messages), all tested natively; `driver` owns the
//! browser resources and performs what the machine decides.

#![deny(missing_debug_implementations, missing_docs)]

mod driver;
mod error;
mod js;
pub mod machine;
mod messages;
mod options;
pub mod permissions;
pub mod preflight;
pub mod status;
pub mod url;
mod value;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod alloc;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

use std::rc::Rc;

use wasm_bindgen::prelude::*;

pub use error::{Code, KycError};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Where a session stands. Unknown strings from the proxy are carried through as they are. */
export type Status =
  | "none" | "pending" | "in_progress" | "in_review"
  | "approved" | "rejected" | "cancelled" | "expired" | "abandoned"
  | (string & {});

/** Stable error codes, on `KycError.code`. */
export type ErrorCode =
  | "INVALID_OPTIONS" | "CONTAINER_NOT_FOUND" | "UNSAFE_SESSION_URL" | "UNAUTHORIZED"
  | "NETWORK" | "PROXY_ERROR" | "BAD_RESPONSE" | "RATE_LIMITED" | "UNKNOWN_STATUS"
  | "TIMEOUT" | "DESTROYED";

/** The normalised view of the proxy's answer. */
export interface Snapshot {
  kind: "biometric" | "kyc" | null;
  id: string | null;
  entityId: string | null;
  status: Status;
  terminal: boolean;
  sessionUrl: string | null;
  iframeAllow: string | null;
  rejectionCode: string | null;
  rejectionMessage: string | null;
  updatedAt: string | null;
  completedAt: string | null;
}

/** The terminal snapshot `completed` resolves with. */
export interface Result extends Snapshot {
  terminal: true;
}

/** A real `Error` with a stable `code`. */
export interface KycError extends Error {
  name: "KycError";
  code: ErrorCode;
  /** On errors passed to `onError`: whether the client keeps going. */
  retrying?: boolean;
}

/** `detail` of the `gu1kyc:error` DOM event. */
export interface ErrorDetail {
  code: ErrorCode;
  message: string;
  retrying: boolean;
}

/** `detail` of the `gu1kyc:ready` DOM event. */
export interface ReadyDetail {
  sessionUrl: string;
}

export interface MountOptions {
  /** Element or CSS selector the iframe goes into; DOM events are dispatched on it. */
  container: Element | string;
  /** The token-scoped proxy's status endpoint (GET). Relative URLs resolve against the page. */
  statusUrl: string;
  /** Sent only as `Authorization: Bearer <token>`. */
  token?: string;
  /** Called on 401 for a new token; one retry per 401. */
  refreshToken?: () => string | Promise<string>;
  /** The hosted session URL when the page already has it; else taken from the first answer. */
  sessionUrl?: string;
  /** Override of the session's `iframeAllow` (known permission features only). */
  allow?: string;
  /** The proxy's cancel endpoint (POST), used by `cancel()`. */
  cancelUrl?: string;
  /** Base poll interval in ms (default 2000, 100..3600000). */
  pollIntervalMs?: number;
  /** Overall timeout in ms (default 1800000, 1000..86400000). */
  timeoutMs?: number;
  /** Per-request timeout in ms (default 10000, 100..120000). */
  requestTimeoutMs?: number;
  /** Seconds a status request asks a proxy that sends `ETag`s to hold it until the state
   * changes (`Prefer: wait`; default 25, 0..60, 0: never). The request's timeout is
   * `requestTimeoutMs` plus this. */
  waitSeconds?: number;
  /** iframe title (default "Identity verification"). */
  title?: string;
  /** iframe height, a CSS length or pixels (default "700px"). */
  height?: string | number;
  onReady?: (detail: ReadyDetail) => void;
  onStatus?: (snapshot: Snapshot) => void;
  onComplete?: (result: Result) => void;
  onError?: (error: KycError) => void;
  /** Where the hosted page shows (default "inline"): in the container, in a modal dialog, or in
   * a new window opened from a click (the library's button, or `open()`). */
  mode?: "inline" | "modal" | "window";
  /** Inline mode when the camera pre-flight fails: "window" (default) shows an explanation and
   * a button that opens the session in a new window; "none" mounts the iframe anyway. */
  fallback?: "window" | "none";
  /** The library's visible strings (English defaults). */
  labels?: { button?: string; explanation?: string; close?: string };
}

/** Why the camera cannot work in an iframe on this page. */
export type PreflightReason =
  | "INSECURE_CONTEXT" | "NO_MEDIA_DEVICES" | "CAMERA_BLOCKED_BY_POLICY" | "IN_APP_BROWSER"
  | "CAMERA_DENIED";

/** `preflight()`'s answer; `ok` also when the browser cannot tell. */
export interface PreflightResult {
  ok: boolean;
  reason: PreflightReason | null;
}

/** `detail` of the `gu1kyc:fallback` DOM event. */
export interface FallbackDetail {
  reason: PreflightReason;
}

/** `detail` of the `gu1kyc:close` DOM event: the dialog or the hosted window was closed. */
export interface CloseDetail {
  view: "modal" | "window";
}

declare global {
  interface HTMLElementEventMap {
    "gu1kyc:ready": CustomEvent<ReadyDetail>;
    "gu1kyc:status": CustomEvent<Snapshot>;
    "gu1kyc:complete": CustomEvent<Result>;
    "gu1kyc:error": CustomEvent<ErrorDetail>;
    "gu1kyc:fallback": CustomEvent<FallbackDetail>;
    "gu1kyc:close": CustomEvent<CloseDetail>;
  }
}
"#;

/// A running (or finished) verification, returned by `mount`. After the end it keeps only
/// `completed` and the last snapshot.
#[wasm_bindgen]
#[derive(Debug)]
#[must_use = "a verification runs until it completes or is destroyed"]
pub struct Verification {
    core: Rc<driver::Core>,
}

#[wasm_bindgen]
impl Verification {
    /// Resolves once with the terminal snapshot; rejects with a `KycError` on a fatal error or
    /// `DESTROYED` when destroyed first.
    #[wasm_bindgen(getter, unchecked_return_type = "Promise<Result>")]
    pub fn completed(&self) -> js_sys::Promise {
        self.core.completed.clone()
    }

    /// The last snapshot, or `null` before the first answer.
    #[wasm_bindgen(getter, unchecked_return_type = "Snapshot | null")]
    pub fn status(&self) -> JsValue {
        self.core.status.borrow().clone()
    }

    /// Polls now (unless the proxy asked for a pause).
    pub fn refresh(&self) {
        driver::feed(&self.core, machine::Input::Refresh, None);
    }

    /// POSTs `cancelUrl`, then completes with the proxy's terminal status (`cancelled`).
    #[wasm_bindgen(unchecked_return_type = "Promise<Result>")]
    pub fn cancel(&self) -> js_sys::Promise {
        driver::cancel(&self.core)
    }

    /// Opens the dialog again (modal mode) or the hosted session in a new window (window mode,
    /// or the fallback; call it from a click). Does nothing inline or after the end.
    pub fn open(&self) {
        driver::open(&self.core);
    }

    /// Removes the iframe, listeners, timers and in-flight requests, and frees the session's
    /// state. Synchronous, idempotent.
    pub fn destroy(&self) {
        driver::feed(&self.core, machine::Input::Destroy, None);
    }
}

/// Mounts a verification. Throws a `KycError` (`INVALID_OPTIONS`, `CONTAINER_NOT_FOUND`,
/// `UNSAFE_SESSION_URL`) for bad options; everything later arrives as events.
#[wasm_bindgen]
pub fn mount(
    #[wasm_bindgen(unchecked_param_type = "MountOptions")] options: JsValue,
) -> Result<Verification, JsValue> {
    let o = options::Options::read(&options)?;
    Ok(Verification {
        core: driver::mount(o),
    })
}

/// Whether the camera can work for the hosted page in an iframe on this page: resolves with
/// `{ ok, reason }` (`ok` also when the browser cannot tell). Throws a `KycError`
/// (`INVALID_OPTIONS`, `UNSAFE_SESSION_URL`) for bad options.
#[wasm_bindgen(unchecked_return_type = "Promise<PreflightResult>")]
pub fn preflight(
    #[wasm_bindgen(unchecked_param_type = "{ sessionUrl: string }")] options: JsValue,
) -> Result<js_sys::Promise, JsValue> {
    // The URL is checked as `mount` would; the facts are the page's (the hosted origin is not
    // one of them: a page must be allowed the camera itself to delegate it).
    options::session_url(&options)?;
    Ok(driver::check())
}
