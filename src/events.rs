//! Telling the page what happened: DOM events on the container and the option callbacks.
//!
//! Both run integrator code, so callers must hold no borrow of the verification's state while
//! they run (a callback may call `destroy()` or `refresh()`), and a callback that throws is
//! reported on the console and otherwise ignored.

use js_sys::Function;
use wasm_bindgen::JsValue;
use web_sys::{CustomEvent, CustomEventInit, Element};

/// `gu1kyc:ready`: the iframe loaded.
pub const READY: &str = "gu1kyc:ready";
/// `gu1kyc:status`: the status changed.
pub const STATUS: &str = "gu1kyc:status";
/// `gu1kyc:complete`: the terminal status, exactly once.
pub const COMPLETE: &str = "gu1kyc:complete";
/// `gu1kyc:error`: `{code, message, retrying}`.
pub const ERROR: &str = "gu1kyc:error";

/// Dispatches a bubbling, composed `CustomEvent` on `target`.
pub fn dispatch(target: &Element, name: &str, detail: &JsValue) {
    let init = CustomEventInit::new();
    init.set_bubbles(true);
    init.set_composed(true);
    init.set_detail(detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
        // A listener that throws is reported by the browser and does not reach us.
        let _ = target.dispatch_event(&event);
    }
}

/// Calls an optional callback with one argument, isolating what it throws.
pub fn call(callback: Option<&Function>, name: &str, arg: &JsValue) {
    if let Some(f) = callback {
        if let Err(thrown) = f.call1(&JsValue::UNDEFINED, arg) {
            report(name, &thrown);
        }
    }
}

/// Puts a callback's exception on the console without letting it stop the client.
pub fn report(name: &str, thrown: &JsValue) {
    let mut m = String::from("gu1-kyc-web: ");
    m.push_str(name);
    m.push_str(" threw");
    web_sys_console_error(&JsValue::from_str(&m), thrown);
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn web_sys_console_error(a: &JsValue, b: &JsValue);
}

/// An event listener owned by this value: dropping it removes the listener, then frees the
/// closure, so the browser can never call into freed memory.
pub struct Listener {
    target: web_sys::EventTarget,
    kind: &'static str,
    closure: wasm_bindgen::closure::Closure<dyn FnMut(web_sys::Event)>,
}

impl Listener {
    /// Adds `f` as a `kind` listener on `target`.
    pub fn new(
        target: &web_sys::EventTarget,
        kind: &'static str,
        f: impl FnMut(web_sys::Event) + 'static,
    ) -> Listener {
        let closure = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::Event)>::new(f);
        let _ = target.add_event_listener_with_callback(
            kind,
            wasm_bindgen::JsCast::unchecked_ref(closure.as_ref()),
        );
        Listener {
            target: target.clone(),
            kind,
            closure,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(
            self.kind,
            wasm_bindgen::JsCast::unchecked_ref(self.closure.as_ref()),
        );
    }
}

impl core::fmt::Debug for Listener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Listener(")?;
        f.write_str(self.kind)?;
        f.write_str(")")
    }
}
