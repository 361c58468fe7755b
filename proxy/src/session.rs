//! The session look-ups every endpoint shares: the token's session (pinned) or the entity's
//! current one, only ever the token's own entity's, with a terminal state received by webhook
//! winning over a stale read; and the status answer built from it.

use std::borrow::Borrow;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::errors::{from_gu1, refuse};
use crate::gu1::{is_active_value, Gu1Error, Session};
use crate::state::App;
use crate::token::{Claims, Kind};
use crate::view::View;
use crate::wait::{Answer, Reader};

/// Only the token's entity's sessions are ever visible; anything else is "not found".
pub fn owned<V: Borrow<Value>>(claims: &Claims, v: Option<V>) -> Option<V> {
    v.filter(|v| {
        v.borrow().get("entityId").and_then(Value::as_str) == Some(claims.entity_id.as_str())
    })
}

/// The token's session (pinned) or the entity's current one, as gu1 returns it.
pub async fn lookup(app: &App, claims: &Claims) -> Result<Option<Session>, Gu1Error> {
    let found = match &claims.session_id {
        Some(id) => app.gu1.get(claims.kind, id).await?,
        None => app.gu1.current(claims.kind, &claims.entity_id).await?,
    };
    let found = owned(claims, found);
    // A terminal status delivered by a signed webhook (here, or to another instance and shared
    // through Redis) wins over a stale read of the same session (same kind, id and entity),
    // unless gu1's read is newer.
    Ok(match found {
        Some(v) if is_active_value(claims.kind, &v) => {
            let mut kept = app.fresh.newer_than(claims.kind, &v);
            if let (None, Some(cluster), Some(id)) =
                (&kept, &app.cluster, v.get("id").and_then(Value::as_str))
            {
                if let Some((view, sent)) = cluster.fresh(claims.kind, id).await {
                    app.fresh.insert(claims.kind, &view, sent);
                    kept = app.fresh.newer_than(claims.kind, &v);
                }
            }
            Some(
                kept.filter(|f| !is_active_value(claims.kind, f))
                    .map_or(v, Arc::new),
            )
        }
        other => other,
    })
}

/// The status answer for `claims` as the page gets it (200: the trimmed session, or `null` for
/// a biometric entity without one), or the refusal (404, gu1's errors).
pub async fn read_state(app: &App, claims: &Claims) -> Result<Answer, Response> {
    let body = match lookup(app, claims).await {
        Ok(Some(v)) => serde_json::to_vec(&View::of(claims.kind, &v)),
        // Biometric "current" answers 200 null; KYC "current" answers 404 NOT_FOUND.
        Ok(None) if claims.kind == Kind::Biometric && claims.session_id.is_none() => {
            Ok(b"null".to_vec())
        }
        Ok(None) => {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "no session for this token",
            ))
        }
        Err(e) => return Err(from_gu1(&e)),
    };
    Ok(Answer::new(body.unwrap_or_default()))
}

/// Held requests' refreshers read through the same look-up as the requests themselves.
impl Reader for App {
    fn read<'a>(&'a self, claims: &'a Claims) -> BoxFuture<'a, Option<Answer>> {
        Box::pin(async move { read_state(self, claims).await.ok() })
    }
}
