//! The owners of browser resources: each value holds one listener, request or timer, and its
//! `Drop` releases it. Callbacks reach the client through `DISPATCH` with a `Route`, so none of
//! them owns a closure.

use js_sys::Function;
use web_sys::EventTarget;

use super::ffi::{clear_timeout, dom, listen, set_timeout, Abort};
use super::route::Route;
use super::{Core, DISPATCH};

/// An event listener owned by this value: dropping it removes the listener.
#[derive(Debug)]
#[must_use = "dropping a Listener removes the listener"]
pub(super) struct Listener {
    target: EventTarget,
    kind: &'static str,
    f: Function,
}

impl Listener {
    /// Listens to `kind` events on `target` for verification `core`, routed to `route`.
    pub(super) fn new(
        target: &EventTarget,
        kind: &'static str,
        core: &Core,
        route: Route,
    ) -> Listener {
        let f = DISPATCH.with(|d| listen(target, kind, d, core.key, route.pack()));
        Listener {
            target: target.clone(),
            kind,
            f,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        dom(&self.target).unlisten(self.kind, &self.f);
    }
}

/// A request or `refreshToken()` call in flight. Dropping it aborts the request; whatever
/// settles later finds no flight of its id and is ignored.
#[derive(Debug)]
#[must_use = "dropping a Flight aborts its request"]
pub(super) struct Flight {
    pub(super) id: u32,
    pub(super) abort: Option<Abort>,
}

impl Drop for Flight {
    fn drop(&mut self) {
        if let Some(c) = &self.abort {
            c.abort();
        }
    }
}

/// A timer armed with `setTimeout`. Dropping it clears the timeout.
#[derive(Debug)]
#[must_use = "dropping an Alarm clears its timer"]
pub(super) struct Alarm {
    pub(super) id: u32,
    handle: i32,
}

impl Alarm {
    /// Calls `route` (whose id names this alarm) for verification `core` in `ms`.
    pub(super) fn new(core: &Core, route: Route, ms: i32) -> Alarm {
        Alarm {
            id: route.id,
            handle: DISPATCH.with(|d| set_timeout(d, ms, core.key, route.pack(), true)),
        }
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        clear_timeout(self.handle);
    }
}
