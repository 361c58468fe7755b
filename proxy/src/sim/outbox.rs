//! gu1's webhooks, as the simulator sends them: every change of a session's status (gu1's
//! organization webhooks cover all transitions) is posted after a short delay to the proxy's
//! `POST /webhooks/gu1`, in gu1's envelope and signed as gu1 signs (`X-Webhook-Signature`:
//! HMAC-SHA256 of the raw body, hex). A webhook the proxy sheds (503, 429) is sent again after
//! its `Retry-After`; one it refuses is logged and dropped, as gu1 would give up.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

use super::{Record, Simulator};
use crate::token::Kind;

/// Where and how the simulator sends its webhooks.
#[derive(Clone, Debug)]
pub struct Outbox {
    /// The proxy's webhook endpoint, e.g. `http://127.0.0.1:8787/webhooks/gu1`.
    pub url: String,
    /// The webhook secret the proxy verifies with.
    pub secret: Vec<u8>,
    /// Time between a change and its webhook.
    pub delay: Duration,
}

/// gu1's event name for a record's status: `biometric.session_<status>` or
/// `kyc.validation_<status>`.
pub fn event(r: &Record) -> String {
    match r.kind {
        Kind::Biometric => format!("biometric.session_{}", r.status),
        Kind::Kyc => format!("kyc.validation_{}", r.status),
    }
}

/// The webhook body for a record as it is now: gu1's envelope around its session object.
pub fn envelope(r: &Record) -> Vec<u8> {
    let now = time::OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    let body: Value = json!({
        "event": event(r), "timestamp": now, "organizationId": "org_sim", "payload": r.to_gu1(),
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `X-Webhook-Signature` for `body`: HMAC-SHA256 with `secret`, hex.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Sends a webhook for every change of status in `sim` from now on, until the runtime ends.
pub fn start(sim: Arc<Simulator>, outbox: Outbox) {
    let mut changes = sim.changes();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();
    let outbox = Arc::new(outbox);
    tokio::spawn(async move {
        while let Some(record) = changes.recv().await {
            tokio::spawn(deliver(sim.clone(), http.clone(), outbox.clone(), record));
        }
    });
}

fn log(r: &Record, why: &str) {
    tracing::warn!(
        event = "sim_webhook_failed",
        webhook = %event(r),
        entity_id = %r.entity_id,
        why,
        "the simulated gu1 gave up a webhook"
    );
}

async fn deliver(sim: Arc<Simulator>, http: reqwest::Client, outbox: Arc<Outbox>, r: Record) {
    tokio::time::sleep(outbox.delay).await;
    let body = envelope(&r);
    let signature = sign(&outbox.secret, &body);
    for attempt in 0..6u32 {
        let sent = http
            .post(&outbox.url)
            .header("Content-Type", "application/json")
            .header("X-Webhook-Signature", &signature)
            .body(body.clone())
            .send()
            .await;
        let backoff = Duration::from_millis(100 << attempt);
        match sent {
            Ok(resp) if resp.status().is_success() => {
                sim.count_webhook(&r.entity_id);
                return;
            }
            Ok(resp) if matches!(resp.status().as_u16(), 429 | 503) => {
                let after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map_or(backoff, |s| Duration::from_secs(s).min(backoff * 4));
                tokio::time::sleep(after).await;
            }
            Ok(resp) => {
                log(&r, &format!("the proxy answered {}", resp.status()));
                return;
            }
            Err(e) => {
                if attempt == 5 {
                    log(&r, &format!("could not reach the proxy: {e}"));
                }
                tokio::time::sleep(backoff).await;
            }
        }
    }
}
