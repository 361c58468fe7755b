//! What a callback is for, packed into the second number the browser hands back.
//!
//! Every callback the browser makes carries two numbers: the verification's key (0 for
//! `preflight()`'s answers) and a `Route` packed into 32 bits, `id << 5 | step << 1 | slot`:
//! bit 0 the request slot, bits 1..5 the `Step`, the 27 bits above the id of the flight, alarm
//! or view it belongs to. `Route::pack` and `Route::unpack` are the only places that know it.

use crate::machine::{Slot, Timer};

/// What a callback is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// A request of the slot's flight was answered (or failed).
    Answer,
    /// `refreshToken()` for the slot's flight settled.
    Token,
    /// The iframe fired `load`.
    Loaded,
    /// A `message` event on the page's window.
    Message,
    /// `visibilitychange`.
    Visible,
    /// The machine's timers, in `Timer` order (`Step::alarm`).
    Poll,
    Deadline,
    StatusRequest,
    CancelRequest,
    /// The camera permission's state arrived (the view's id).
    Camera,
    /// The panel's button was clicked.
    Open,
    /// Time to look whether the hosted window was closed (the view's id).
    Watch,
    /// The dialog was closed.
    Closed,
    /// `preflight()`'s answer (verification key 0; the id: the reason found before the
    /// permission state, plus one, or 0).
    Preflight,
}

/// Every step, by its number.
const STEPS: [Step; 14] = [
    Step::Answer,
    Step::Token,
    Step::Loaded,
    Step::Message,
    Step::Visible,
    Step::Poll,
    Step::Deadline,
    Step::StatusRequest,
    Step::CancelRequest,
    Step::Camera,
    Step::Open,
    Step::Watch,
    Step::Closed,
    Step::Preflight,
];

impl Step {
    /// The step that tells timer `t` came due.
    pub(super) fn alarm(t: Timer) -> Step {
        STEPS[Step::Poll as usize + t as usize]
    }
}

/// Where a callback goes: its step, the id of the flight, alarm or view it belongs to, and the
/// request slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Route {
    /// The flight, alarm or view (27 bits).
    pub id: u32,
    pub step: Step,
    pub slot: Slot,
}

/// The ids `Route` can carry.
pub(super) const MAX_ID: u32 = u32::MAX >> 5;

impl Route {
    /// A route with no id, for the status slot.
    pub(super) fn to(step: Step) -> Route {
        Route::of(step, 0)
    }

    /// A route for the flight, alarm or view `id`, for the status slot.
    pub(super) fn of(step: Step, id: u32) -> Route {
        Route {
            id,
            step,
            slot: Slot::Status,
        }
    }

    /// The callback's second number.
    pub(super) fn pack(self) -> u32 {
        self.id << 5 | (self.step as u32) << 1 | self.slot as u32
    }

    /// The route a callback's second number carries.
    pub(super) fn unpack(b: u32) -> Option<Route> {
        Some(Route {
            id: b >> 5,
            step: *STEPS.get((b >> 1 & 15) as usize)?,
            slot: if b & 1 == 0 {
                Slot::Status
            } else {
                Slot::Cancel
            },
        })
    }
}
