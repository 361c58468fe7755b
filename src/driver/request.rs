//! Requests to the proxy and `refreshToken()` calls: what their answers come to.

use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::ffi::item;
use super::route::{Route, Step};
use super::snapshot::snapshot;
use super::{feed, Core};
use crate::error::Code;
use crate::js::json_parse;
use crate::machine::{Input, Slot};
use crate::options::valid_token;
use crate::status::{self, Answer, Session};

fn network(core: &Rc<Core>, slot: Slot, why: &str) {
    finish(core, slot, Err(status::failed(Code::Network, why, 0, None)));
}

/// The request of `slot` is over: the machine hears what it came to, and the answer's snapshot
/// becomes the candidate for `Action::Keep`.
fn finish(core: &Rc<Core>, slot: Slot, answer: Result<(Session, JsValue), Answer>) {
    let flight = core
        .live
        .borrow_mut()
        .as_mut()
        .and_then(|d| d.flights[slot as usize].take());
    drop(flight);
    let (answer, candidate) = match answer {
        Err(a) => (a, None),
        Ok((session, snapshot)) => (Answer::Session(session), Some(snapshot)),
    };
    feed(core, Input::Answered(slot, answer), candidate);
}

/// A continuation: the promise behind `route` (an answer, or a token from `refreshToken()`) of
/// the slot's flight settled.
pub(super) fn resume(core: &Rc<Core>, route: Route, ok: bool, value: JsValue) {
    let Route { id, step, slot } = route;
    let mut live = core.live.borrow_mut();
    let Some(d) = live.as_mut() else { return };
    if !d.flights[slot as usize]
        .as_ref()
        .is_some_and(|f| f.id == id)
    {
        // Aborted, timed out or destroyed meanwhile.
        return;
    }
    match (step, ok) {
        (Step::Answer, true) if !value.is_null() => {
            let field = |i| item(&value, i);
            let http = field(0).as_f64().unwrap_or(0.0) as u16;
            let retry_after_ms = field(1)
                .as_string()
                .and_then(|v| status::retry_after(&v, js_sys::Date::now(), js_sys::Date::parse));
            let (tag, held, body) = (field(2), field(3).is_truthy(), field(4));
            drop(live);
            if http == 304 {
                return finish(core, slot, Err(Answer::Unchanged(held)));
            }
            let json = json_parse(&body).ok().filter(|_| !body.is_null());
            let answer = match status::interpret(http, json.as_ref(), retry_after_ms) {
                Err(a) => Err(a),
                Ok(a) => {
                    let (mut session, snapshot) = snapshot(a, &json.unwrap_or(JsValue::NULL));
                    if slot == Slot::Status {
                        session.tag = tag.is_string();
                        session.held = held;
                        if let Some(d) = core.live.borrow_mut().as_mut() {
                            d.tag = tag;
                        }
                    }
                    Ok((session, snapshot))
                }
            };
            finish(core, slot, answer);
        }
        (Step::Answer, true) => {
            drop(live);
            network(core, slot, "the proxy could not be reached");
        }
        (Step::Answer, false) => {
            drop(live);
            network(core, slot, "the answer was cut off");
        }
        _ => {
            let token = value.as_string().filter(|t| ok && valid_token(t));
            let got = token.is_some();
            if got {
                d.token = token;
            }
            d.flights[slot as usize] = None;
            drop(live);
            feed(core, Input::TokenRefreshed(slot, got), None);
        }
    }
}
