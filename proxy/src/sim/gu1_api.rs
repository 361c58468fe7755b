//! gu1's REST API played by the simulator over HTTP (the routes `upstream` mode calls, with
//! gu1's documented error bodies), so an upstream-mode proxy can be tested against it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::{Record, Simulate, Simulator};
use crate::auth::bearer;
use crate::gu1::Gu1Error;
use crate::token::Kind;

/// The API key the simulated gu1 API accepts.
pub const SIM_API_KEY: &str = "sk_test_simulator";

fn answer(e: &Gu1Error) -> Response {
    let status = StatusCode::from_u16(e.http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(e.body())).into_response()
}

fn not_found() -> Response {
    answer(&Gu1Error::new(404, "NOT_FOUND", "not found"))
}

/// Cancels session `id` of `kind` as gu1 does: unknown is 404 `NOT_FOUND`, terminal is 400
/// `INVALID_STATUS`.
pub fn cancel(sim: &Simulator, kind: Kind, id: &str) -> Result<Record, Gu1Error> {
    let Some(r) = sim.lookup(id).filter(|r| r.kind == kind) else {
        return Err(Gu1Error::new(404, "NOT_FOUND", "not found"));
    };
    sim.cancel(&r.entity_id, id).map_err(|e| {
        if e.http == 409 {
            Gu1Error::new(400, "INVALID_STATUS", e.message)
        } else {
            e
        }
    })
}

/// gu1's 401 when the API key is not the simulator's, or (when the simulator names its
/// organization) `X-Organization-ID` is not that organization.
fn unkeyed(s: &Simulate, headers: &HeaderMap) -> Option<Response> {
    if bearer(headers) != Some(SIM_API_KEY) {
        return Some(answer(&Gu1Error::new(
            401,
            "UNAUTHORIZED",
            "invalid API key",
        )));
    }
    let org = headers
        .get("x-organization-id")
        .and_then(|v| v.to_str().ok());
    match &s.organization_id {
        Some(want) if org != Some(want.as_str()) => Some(answer(&Gu1Error::new(
            403,
            "FORBIDDEN",
            "X-Organization-ID does not name an organization of this key",
        ))),
        _ => None,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CreateBody {
    entity_id: String,
}

fn create(s: &Simulate, headers: &HeaderMap, kind: Kind, body: CreateBody) -> Response {
    if let Some(r) = unkeyed(s, headers) {
        return r;
    }
    match s.sim.create(kind, &body.entity_id, s.session_ttl) {
        Ok(r) => (StatusCode::CREATED, Json(r.to_gu1())).into_response(),
        Err(e) => answer(&e),
    }
}

fn read(s: &Simulate, headers: &HeaderMap, kind: Kind, id: &str) -> Response {
    if let Some(r) = unkeyed(s, headers) {
        return r;
    }
    match s.sim.lookup(id).filter(|r| r.kind == kind) {
        Some(r) => {
            s.sim.count_read(&r.entity_id);
            Json(r.to_gu1()).into_response()
        }
        None => not_found(),
    }
}

fn current(s: &Simulate, headers: &HeaderMap, kind: Kind, entity: &str) -> Response {
    if let Some(r) = unkeyed(s, headers) {
        return r;
    }
    s.sim.count_read(entity);
    match (s.sim.current(entity, kind), kind) {
        (Some(r), _) => Json(r.to_gu1()).into_response(),
        (None, Kind::Biometric) => Json(Value::Null).into_response(),
        (None, Kind::Kyc) => not_found(),
    }
}

fn cancel_route(s: &Simulate, headers: &HeaderMap, kind: Kind, id: &str) -> Response {
    if let Some(r) = unkeyed(s, headers) {
        return r;
    }
    match cancel(&s.sim, kind, id) {
        Ok(r) => Json(r.to_gu1()).into_response(),
        Err(e) => answer(&e),
    }
}

type S = State<Arc<Simulate>>;

/// The simulated gu1 REST API, guarded by `SIM_API_KEY`.
pub fn routes() -> Router<Arc<Simulate>> {
    use Kind::{Biometric as B, Kyc as K};
    Router::new()
        .route(
            "/api/kyc/biometric/sessions",
            post(|State(s): S, h: HeaderMap, Json(b): Json<CreateBody>| async move { create(&s, &h, B, b) }),
        )
        .route(
            "/api/kyc/biometric/sessions/{id}",
            get(|State(s): S, h: HeaderMap, Path(id): Path<String>| async move { read(&s, &h, B, &id) }),
        )
        .route(
            "/api/kyc/biometric/sessions/{id}/cancel",
            post(|State(s): S, h: HeaderMap, Path(id): Path<String>| async move { cancel_route(&s, &h, B, &id) }),
        )
        .route(
            "/api/kyc/biometric/entities/{e}/current",
            get(|State(s): S, h: HeaderMap, Path(e): Path<String>| async move { current(&s, &h, B, &e) }),
        )
        .route(
            "/api/kyc/validations",
            post(|State(s): S, h: HeaderMap, Json(b): Json<CreateBody>| async move { create(&s, &h, K, b) }),
        )
        .route(
            "/api/kyc/validations/{id}",
            get(|State(s): S, h: HeaderMap, Path(id): Path<String>| async move { read(&s, &h, K, &id) }),
        )
        .route(
            "/api/kyc/validations/{id}/cancel",
            delete(|State(s): S, h: HeaderMap, Path(id): Path<String>| async move { cancel_route(&s, &h, K, &id) }),
        )
        .route(
            "/api/kyc/entities/{e}/current",
            get(|State(s): S, h: HeaderMap, Path(e): Path<String>| async move { current(&s, &h, K, &e) }),
        )
}
