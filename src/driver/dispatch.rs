//! The one function the browser calls back (promises, listeners, timers): it finds the
//! verification by its key and hands the call to the room its `Route` names.

use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsValue;

use super::ffi::{hidden, object};
use super::route::{Route, Step};
use super::{feed, request, view, Core, LIVE};
use crate::machine::{Input, Timer};
use crate::preflight;

/// The function, made once by the driver (`DISPATCH`) and kept for the life of the page.
pub(super) fn function() -> JsValue {
    Closure::<dyn Fn(u32, u32, bool, JsValue) -> JsValue>::new(dispatch).into_js_value()
}

/// Every call the browser makes into the client: `key` names the verification, `b` packs the
/// `Route`. Returns `preflight()`'s answer, else `undefined`.
fn dispatch(key: u32, b: u32, ok: bool, value: JsValue) -> JsValue {
    let Some(route) = Route::unpack(b) else {
        return JsValue::UNDEFINED;
    };
    let id = route.id;
    if key == 0 {
        let reason = match id {
            0 => preflight::late(value.as_string().as_deref()),
            i => preflight::REASONS.get(i as usize - 1).copied(),
        };
        let reason = reason.map_or(JsValue::NULL, |r| r.as_str().into());
        return object(&[("ok", &reason.is_null().into()), ("reason", &reason)]);
    }
    let found = LIVE.with(|l| l.borrow().iter().find(|c| c.key == key).cloned());
    let Some(core) = found else {
        return JsValue::UNDEFINED;
    };
    match route.step {
        Step::Message => view::on_message(&core, value),
        Step::Visible => feed(&core, Input::Visible(!hidden()), None),
        Step::Loaded => feed(&core, Input::FrameLoaded, None),
        Step::Answer | Step::Token => request::resume(&core, route, ok, value),
        Step::Camera => view::late_denied(&core, id, &value),
        Step::Open => view::open(&core),
        Step::Watch => view::watch(&core, id),
        Step::Closed => view::announce(&core, "gu1kyc:close", "view", &"modal".into()),
        Step::Poll => due(&core, Timer::Poll, id),
        Step::Deadline => due(&core, Timer::Deadline, id),
        Step::StatusRequest => due(&core, Timer::StatusRequest, id),
        Step::CancelRequest => due(&core, Timer::CancelRequest, id),
        // Comes with key 0, answered above.
        Step::Preflight => {}
    }
    JsValue::UNDEFINED
}

/// Alarm `id` of timer `t` fired: due unless disarmed or re-armed meanwhile.
fn due(core: &Rc<Core>, t: Timer, id: u32) {
    let due = core.live.borrow_mut().as_mut().is_some_and(|d| {
        let alarm = &mut d.timers[t as usize];
        let ours = alarm.as_ref().is_some_and(|a| a.id == id);
        if ours {
            *alarm = None;
        }
        ours
    });
    if due {
        feed(core, Input::Due(t), None);
    }
}
