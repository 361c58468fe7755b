//! What shows the hosted session (an iframe inline, a dialog holding it, or a panel whose button
//! opens it in a window), the camera pre-flight that chooses between them, the hosted window's
//! watch, and the hosted page's messages.

use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlIFrameElement};

use super::ffi::{dom, emit, facts, invoke, item, object, prop, settled};
use super::resources::{Alarm, Listener};
use super::route::{Route, Step};
use super::{after, feed, Core, Driver, DISPATCH};
use crate::js::{document, get, set};
use crate::machine::Input;
use crate::messages;
use crate::options::Mode;
use crate::permissions::{self, Permissions};
use crate::preflight::{self, Facts, Reason};
use crate::url::SessionUrl;

/// The iframe's `referrerpolicy`: the hosted page learns the integrator's origin, not the path.
pub const REFERRER_POLICY: &str = "strict-origin-when-cross-origin";

/// How often the hosted window is checked for being closed (no event says so across origins).
const WATCH_MS: i32 = 500;

/// What shows the hosted session: the iframe (inline), a dialog holding it (modal), or a panel
/// with the button that opens it in a window (window mode, or the pre-flight's fallback).
/// Dropping it closes the window and the dialog, removes the element and its listeners.
#[derive(Debug)]
#[must_use = "dropping a Frame removes the view"]
pub(super) struct Frame {
    /// The iframe, the dialog or the panel: what is in the container.
    el: Element,
    /// The iframe (inline and modal views).
    pub(super) iframe: Option<HtmlIFrameElement>,
    pub(super) url: SessionUrl,
    /// The hosted window once opened, else `undefined`.
    popup: JsValue,
    /// Names this view in callbacks (the late permission state, the window watch).
    id: u32,
    /// The iframe's `load`, the dialog's `close` or the panel button's `click`.
    _listeners: [Option<Listener>; 2],
    watch: Option<Alarm>,
}

impl Frame {
    /// A view with no window opened yet.
    fn new(
        el: JsValue,
        iframe: Option<HtmlIFrameElement>,
        url: SessionUrl,
        id: u32,
        listeners: [Option<Listener>; 2],
    ) -> Frame {
        Frame {
            el: el.unchecked_into(),
            iframe,
            url,
            popup: JsValue::UNDEFINED,
            id,
            _listeners: listeners,
            watch: None,
        }
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        invoke(&self.popup, "close");
        // A dialog is closed before it goes, so focus returns to where it was.
        invoke(&self.el, "close");
        self.el.remove();
    }
}

impl Driver {
    /// Mounts the iframe for `url`, or adopts the one the drop-in loader put in place before
    /// the wasm arrived: a child `iframe[data-gu1-kyc]` marked `early` (or `loaded`, once its
    /// load event has fired) is kept when its `src`, `allow` and `referrerpolicy` are exactly
    /// what this function would set, so the hosted page is not loaded twice. Any other
    /// `iframe[data-gu1-kyc]` child is removed. A new iframe gets `allow` and `referrerpolicy`
    /// before `src`, so they apply to its first navigation; sizing goes through CSSOM only.
    /// In modal mode the iframe goes into a dialog (opened by the caller); in window mode, or
    /// inline when the camera pre-flight fails and `fallback` is `"window"`, a panel with the
    /// button that opens the session in a window shows instead. `Some((true, _))` when the view
    /// is ready at once (an adopted iframe that had loaded, a panel), with the pre-flight's
    /// reason when it failed; `None` when the document refuses the element.
    pub(super) fn show(
        &mut self,
        core: &Rc<Core>,
        url: SessionUrl,
        allow: Permissions,
        late: Option<Reason>,
    ) -> Option<(bool, Option<Reason>)> {
        let id = self.next_id();
        let mut reason = late;
        // An Element's ownerDocument is a Document; its window is null when it has none (a
        // parsed document), and the pre-flight then cannot tell.
        let doc = get(&self.container, "ownerDocument");
        let window = get(&doc, "defaultView");
        // Only a session that uses the camera needs it to work.
        if late.is_none()
            && self.mode == Mode::Inline
            && self.fallback
            && allow & permissions::CAMERA != 0
            && window.is_object()
        {
            let f = facts(&window);
            reason = verdict(&f);
            if reason.is_none() {
                // The permission's state arrives later and may still turn the view into the
                // panel (`late_denied`).
                after(core, &item(&f, 5), Route::of(Step::Camera, id));
            }
        }
        let allow = permissions::render(allow);
        let mut adopted: Option<(HtmlIFrameElement, bool)> = None;
        let found = dom(&self.container).select_all(":scope > iframe[data-gu1-kyc]");
        for i in 0..found.length() {
            let Some(el) = found
                .item(i)
                .and_then(|n| n.dyn_into::<HtmlIFrameElement>().ok())
            else {
                continue;
            };
            let attr = |name: &str| el.get_attribute(name);
            let mark = attr("data-gu1-kyc");
            let placed = matches!(mark.as_deref(), Some("early" | "loaded"));
            let same = attr("src").as_deref() == Some(&url.href)
                && attr("allow").as_deref() == Some(&allow)
                && attr("referrerpolicy").as_deref() == Some(REFERRER_POLICY);
            if adopted.is_none() && placed && same && self.mode == Mode::Inline && reason.is_none()
            {
                adopted = Some((el, mark.as_deref() == Some("loaded")));
            } else {
                el.remove();
            }
        }
        let make = |tag: &str, parent: &JsValue, text: &str| {
            let el = dom(&doc).create(tag);
            if !text.is_empty() {
                set(&el, "textContent", &text.into());
            }
            dom(parent).append(dom(&el));
            el
        };
        let container: &JsValue = &self.container;
        if self.mode == Mode::Window || reason.is_some() {
            let panel = make("div", container, "");
            if reason.is_some() {
                make("p", &panel, &self.labels.explanation);
            }
            let button = make("button", &panel, &self.labels.button);
            dom(&button).set_attr("type", "button");
            let click = Listener::new(button.unchecked_ref(), "click", core, Route::to(Step::Open));
            self.frame = Some(Frame::new(panel, None, url, id, [Some(click), None]));
            return Some((true, reason));
        }
        let (iframe, loaded) = match adopted {
            Some(a) => a,
            None => {
                let iframe: HtmlIFrameElement = dom(&doc).create("iframe").dyn_into().ok()?;
                for &(k, v) in &[
                    ("allow", allow.as_str()),
                    ("referrerpolicy", REFERRER_POLICY),
                    ("data-gu1-kyc", ""),
                ] {
                    dom(&iframe).set_attr(k, v);
                }
                (iframe, false)
            }
        };
        dom(&iframe).set_attr("title", &self.title);
        let style = get(&iframe, "style");
        for &(k, v) in &[
            ("display", "block"),
            ("width", "100%"),
            ("height", &self.height),
            ("border", "0"),
        ] {
            dom(&style).set_style(k, v);
        }
        // The dialog: labelled by the title, a close button in a `method="dialog"` form (it
        // closes the dialog with no script), then the iframe.
        let (el, closed) = if self.mode == Mode::Modal {
            let dialog = make("dialog", container, "");
            dom(&dialog).set_attr("aria-label", &self.title);
            dom(&get(&dialog, "style")).set_style("width", "min(720px, 100% - 2em)");
            let form = make("form", &dialog, "");
            dom(&form).set_attr("method", "dialog");
            make("button", &form, &self.labels.close);
            let closed = Listener::new(
                dialog.unchecked_ref(),
                "close",
                core,
                Route::to(Step::Closed),
            );
            (dialog, Some(closed))
        } else {
            (iframe.clone().into(), None)
        };
        if !get(&iframe, "isConnected").is_truthy() {
            dom(&iframe).set_attr("src", &url.href);
            let parent = if closed.is_some() { &el } else { container };
            dom(parent).append(dom(&iframe));
        }
        let load = (!loaded)
            .then(|| Listener::new(iframe.as_ref(), "load", core, Route::to(Step::Loaded)));
        self.frame = Some(Frame::new(el, Some(iframe), url, id, [load, closed]));
        Some((loaded, reason))
    }
}

/// The pre-flight's verdict on the facts `facts()` read, before the permission's state is known
/// (that comes later: `preflight::late`).
fn verdict(f: &JsValue) -> Option<Reason> {
    let agent = item(f, 4).as_string().unwrap_or_default();
    preflight::verdict(&Facts {
        secure: item(f, 0).is_truthy(),
        media: item(f, 1).is_truthy(),
        policy: item(f, 2).as_bool(),
        framed: item(f, 3).is_truthy(),
        agent: &agent,
        permission: None,
    })
}

/// `preflight()`'s promise: the verdict for this page, once the camera permission's state is
/// known (at once when an earlier fact already fails).
pub fn check() -> Promise {
    let f = facts(&get(&document(), "defaultView"));
    // The route's id: the reason found before the permission state, plus one, or 0.
    let (pending, id) = match verdict(&f) {
        None => (item(&f, 5), 0),
        Some(r) => (JsValue::UNDEFINED, r as u32 + 1),
    };
    DISPATCH.with(|d| settled(&pending, d, 0, Route::of(Step::Preflight, id).pack()))
}

/// Dispatches `kind` on the container with `{ key: value }` as its detail.
pub(super) fn announce(core: &Core, kind: &str, key: &str, value: &JsValue) {
    let target = core.live.borrow().as_ref().map(|d| d.container.clone());
    if let Some(t) = target {
        emit(&t, kind, &object(&[(key, value)]));
    }
}

/// The camera permission's state for view `id` arrived: when it is denied and the view is
/// still that inline iframe, the panel replaces it (`fallback: "window"` only; see `show`).
pub(super) fn late_denied(core: &Rc<Core>, id: u32, state: &JsValue) {
    let Some(reason) = preflight::late(state.as_string().as_deref()) else {
        return;
    };
    let old = core.live.borrow_mut().as_mut().and_then(|d| {
        let ours = d.frame.as_ref().is_some_and(|f| f.id == id);
        ours.then(|| d.frame.take()).flatten()
    });
    let Some(old) = old else { return };
    let url = old.url.clone();
    // Removed with no borrow held: removing an iframe runs its document's unload handlers.
    drop(old);
    if let Some(d) = core.live.borrow_mut().as_mut() {
        let _ = d.show(core, url, 0, Some(reason));
    }
    announce(core, "gu1kyc:fallback", "reason", &reason.as_str().into());
    feed(core, Input::FrameLoaded, None);
}

/// `open()`, or a click on the panel's button: opens the dialog again (modal mode), or the
/// hosted session in a window (focused when it is already open). With no borrow held while the
/// browser runs page code (focus events, a `window.open` the page replaced).
pub fn open(core: &Rc<Core>) {
    let view = core.live.borrow().as_ref().and_then(|d| {
        let f = d.frame.as_ref()?;
        let framed = f.iframe.is_some();
        Some((
            framed,
            d.mode,
            f.id,
            f.el.clone(),
            f.popup.clone(),
            f.url.href.clone(),
        ))
    });
    let Some((framed, mode, id, el, popup, href)) = view else {
        return;
    };
    if framed {
        // An inline iframe has nothing to open.
        if mode == Mode::Modal && !get(&el, "open").is_truthy() {
            invoke(&el, "showModal");
        }
        return;
    }
    if popup.is_object() && !get(&popup, "closed").is_truthy() {
        return invoke(&popup, "focus");
    }
    let window = get(&document(), "defaultView");
    let opened = get(&window, "open")
        .unchecked_ref::<Function>()
        .call1(&window, &href.into());
    let Some(popup) = opened.ok().filter(JsValue::is_object) else {
        return;
    };
    let mut live = core.live.borrow_mut();
    match live
        .as_mut()
        .and_then(|d| d.frame.as_mut())
        .filter(|f| f.id == id)
    {
        Some(f) => {
            f.popup = popup;
            f.watch = Some(watch_later(core, id));
        }
        None => {
            drop(live);
            invoke(&popup, "close");
        }
    }
}

/// A look at view `id`'s hosted window in `WATCH_MS`.
fn watch_later(core: &Core, id: u32) -> Alarm {
    Alarm::new(core, Route::of(Step::Watch, id), WATCH_MS)
}

/// Looks whether the hosted window of view `id` was closed: reports it once (the button stays,
/// to open it again), else looks again later.
pub(super) fn watch(core: &Rc<Core>, id: u32) {
    let closed = {
        let mut live = core.live.borrow_mut();
        let Some(f) = live.as_mut().and_then(|d| d.frame.as_mut()) else {
            return;
        };
        if f.id != id || !f.watch.as_ref().is_some_and(|a| a.id == id) {
            return;
        }
        let closed = get(&f.popup, "closed").is_truthy();
        f.watch = if closed {
            f.popup = JsValue::UNDEFINED;
            None
        } else {
            Some(watch_later(core, id))
        };
        closed
    };
    if closed {
        announce(core, "gu1kyc:close", "view", &"window".into());
    }
}

/// A message from the hosted page: a hint to poll now, when it comes from the iframe's
/// origin and window and names a status event. Never a completion.
pub(super) fn on_message(core: &Rc<Core>, e: JsValue) {
    let from_frame = {
        let live = core.live.borrow();
        let Some(d) = live.as_ref() else { return };
        // Only a MessageEvent has a `source` window; any other event named "message" stops at
        // the source check below.
        let Some(f) = &d.frame else { return };
        let source = prop(&e, "source");
        source.is_object()
            && (source == f.popup
                || f.iframe
                    .as_ref()
                    .is_some_and(|i| source == get(i, "contentWindow")))
            && prop(&e, "origin").as_string().as_deref() == Some(&f.url.origin)
    };
    // The data is read with no borrow held: page code can dispatch a MessageEvent of its own
    // making, whose data may be a proxy that throws from places no call here catches.
    if from_frame
        && messages::message_type(&prop(&e, "data")).is_some_and(|t| messages::is_hint(&t))
    {
        feed(core, Input::Hint, None);
    }
}
