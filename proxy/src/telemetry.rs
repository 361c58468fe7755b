//! What operators watch besides the log: Prometheus metrics (the `metrics` facade, rendered by
//! `metrics-exporter-prometheus` in the text exposition format), served on a listener of their
//! own (`--metrics-listen`, off by default; the scrape route is in `routes`).
//!
//! Without `--metrics-listen` no recorder is installed and every call here is a no-op. The
//! status path's own figures (requests by route and status class, their durations) go through
//! handles made once, so a request costs a few atomic additions.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use metrics::{describe_counter, describe_gauge, describe_histogram, Counter, Histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::Value;

use crate::gu1::{Call, Gu1, Gu1Error, Session, PROXY_BUSY};
use crate::token::Kind;

/// Requests answered, by route and status class.
pub const REQUESTS: &str = "gu1_kyc_proxy_requests_total";
/// Time to answer a request, by route (held status requests included).
pub const REQUEST_SECONDS: &str = "gu1_kyc_proxy_request_duration_seconds";
/// Calls to gu1, by call and outcome.
pub const GU1_CALLS: &str = "gu1_kyc_proxy_gu1_calls_total";
/// Time a gu1 call took, by call.
pub const GU1_SECONDS: &str = "gu1_kyc_proxy_gu1_call_duration_seconds";
/// Status requests held right now.
pub const HELD: &str = "gu1_kyc_proxy_held_requests";
/// Held status requests by how they ended, and requests not held for the scope's cap.
pub const HELD_ENDED: &str = "gu1_kyc_proxy_held_total";
/// Wake-ups of held requests by a webhook, received here or by another instance.
pub const WAKEUPS: &str = "gu1_kyc_proxy_wakeups_total";
/// gu1 reads made for held requests when no webhook came.
pub const REFRESH_READS: &str = "gu1_kyc_proxy_refresh_reads_total";
/// Webhooks by outcome.
pub const WEBHOOKS: &str = "gu1_kyc_proxy_webhooks_total";
/// Requests refused 429 by a budget: a token's rate, an entity's sessions created.
pub const RATE_LIMITED: &str = "gu1_kyc_proxy_rate_limited_total";
/// Requests and connections shed for lack of room, by what was full.
pub const SHED: &str = "gu1_kyc_proxy_shed_total";
/// Connections open, by listener.
pub const CONNECTIONS: &str = "gu1_kyc_proxy_connections";
/// The cap on connections served at once, by listener.
pub const CONNECTIONS_MAX: &str = "gu1_kyc_proxy_connections_max";
/// Whether Redis answers (1) or not (0), when it is configured.
pub const REDIS_UP: &str = "gu1_kyc_proxy_redis_up";
/// Always 1, labelled with the version and the mode.
pub const BUILD_INFO: &str = "gu1_kyc_proxy_build_info";

/// The routes requests are counted by; every other path counts as `other`.
const ROUTES: [&str; 7] = [
    "/kyc/status",
    "/kyc/start",
    "/kyc/cancel",
    "/webhooks/gu1",
    "/health",
    "/ready",
    "other",
];

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The handles of the status path's figures, made once the recorder is installed.
struct Hot {
    requests: Vec<[Counter; 5]>,
    seconds: Vec<Histogram>,
}

static HOT: OnceLock<Hot> = OnceLock::new();

/// Installs the Prometheus recorder for the whole process (once), with histogram buckets
/// from 1 ms to 30 s, every metric described, and `build_info` set for `mode`.
pub fn install(mode: &'static str) -> Result<PrometheusHandle, String> {
    let buckets = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| format!("could not start the metrics: {e}"))?;
    describe();
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "mode" => mode).set(1.0);
    let _ = HOT.set(Hot {
        requests: ROUTES
            .iter()
            .map(|route| {
                CLASSES
                    .map(|class| metrics::counter!(REQUESTS, "route" => *route, "status" => class))
            })
            .collect(),
        seconds: ROUTES
            .iter()
            .map(|route| metrics::histogram!(REQUEST_SECONDS, "route" => *route))
            .collect(),
    });
    Ok(handle)
}

fn describe() {
    describe_counter!(REQUESTS, "Requests answered, by route and status class.");
    describe_histogram!(
        REQUEST_SECONDS,
        Unit::Seconds,
        "Time to answer a request, by route (held status requests included)."
    );
    describe_counter!(GU1_CALLS, "Calls to gu1, by call and outcome.");
    describe_histogram!(GU1_SECONDS, Unit::Seconds, "Time a gu1 call took, by call.");
    describe_gauge!(HELD, "Status requests held right now.");
    describe_counter!(
        HELD_ENDED,
        "Held status requests by how they ended (changed, unchanged), and requests not held because their token scope had its cap (capped)."
    );
    describe_counter!(
        WAKEUPS,
        "Wake-ups of held requests by a webhook received here (webhook) or by another instance (peer)."
    );
    describe_counter!(
        REFRESH_READS,
        "gu1 reads made for held requests when no webhook came."
    );
    describe_counter!(WEBHOOKS, "Webhooks by outcome.");
    describe_counter!(
        RATE_LIMITED,
        "Requests refused 429 by a budget: a token's rate (token), an entity's sessions created (starts)."
    );
    describe_counter!(
        SHED,
        "Requests and connections shed for lack of room, by what was full."
    );
    describe_gauge!(CONNECTIONS, "Connections open, by listener.");
    describe_gauge!(
        CONNECTIONS_MAX,
        "The cap on connections served at once, by listener."
    );
    describe_gauge!(
        REDIS_UP,
        "Whether Redis answers (1) or not (0), when it is configured."
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1, labelled with the version and the mode."
    );
}

/// Drains the histograms' samples into their buckets every few seconds, for as long as the
/// runtime runs (the exporter leaves this to its user when it serves no HTTP itself).
pub fn keep_up(handle: PrometheusHandle) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    });
}

/// A request answered on `route` (its pattern) with `status` after `took`.
pub fn request(route: Option<&str>, status: u16, took: Duration) {
    let Some(hot) = HOT.get() else {
        return;
    };
    let i = route
        .and_then(|r| ROUTES.iter().position(|known| *known == r))
        .unwrap_or(ROUTES.len() - 1);
    let class = usize::from(status / 100).clamp(1, 5) - 1;
    hot.requests[i][class].increment(1);
    hot.seconds[i].record(took.as_secs_f64());
}

/// Something shed for lack of room: `connections`, `client_connections`, `gu1_calls`,
/// `gu1_answers`, `webhook_slots`, `webhook_bytes`.
pub fn shed(reason: &'static str) {
    metrics::counter!(SHED, "reason" => reason).increment(1);
}

/// A request refused 429 by the `token` or `starts` budget.
pub fn rate_limited(limit: &'static str) {
    metrics::counter!(RATE_LIMITED, "limit" => limit).increment(1);
}

/// A webhook's outcome.
pub fn webhook(outcome: &'static str) {
    metrics::counter!(WEBHOOKS, "outcome" => outcome).increment(1);
}

/// A held request's end (`changed`, `unchanged`), or a request not held (`capped`).
pub fn held(outcome: &'static str) {
    metrics::counter!(HELD_ENDED, "outcome" => outcome).increment(1);
}

/// Held requests woken by a webhook from `source` (`webhook`, `peer`).
pub fn wakeup(source: &'static str) {
    metrics::counter!(WAKEUPS, "source" => source).increment(1);
}

/// A connection opened (+1) or closed (-1) on `listener`.
pub fn connections(listener: &'static str, delta: f64) {
    metrics::gauge!(CONNECTIONS, "listener" => listener).increment(delta);
}

/// The connection cap of `listener`.
pub fn connections_max(listener: &'static str, max: usize) {
    metrics::gauge!(CONNECTIONS_MAX, "listener" => listener).set(max as f64);
}

/// Whether Redis answers.
pub fn redis_up(up: bool) {
    metrics::gauge!(REDIS_UP).set(if up { 1.0 } else { 0.0 });
}

/// The figures read at each scrape: held requests, refresh reads.
pub fn scraped(held: usize, refresh_reads: u64) {
    metrics::gauge!(HELD).set(held as f64);
    metrics::counter!(REFRESH_READS).absolute(refresh_reads);
}

/// A gu1 client whose calls are timed and counted by outcome (`ok`, `shed`, `timeout`, or gu1's
/// status class, `4xx`, `5xx`, or `error` for an exchange that failed).
#[derive(Debug)]
pub struct Timed(pub Arc<dyn Gu1>);

fn outcome(e: &Gu1Error) -> &'static str {
    match (e.code.as_str(), e.http) {
        (PROXY_BUSY, _) => "shed",
        ("UPSTREAM_TIMEOUT", _) => "timeout",
        ("UPSTREAM_ERROR" | "UPSTREAM_BAD_RESPONSE" | "UPSTREAM_TOO_LARGE", _) => "error",
        (_, 400..=499) => "4xx",
        _ => "5xx",
    }
}

async fn timed<T>(call: &'static str, fut: Call<'_, T>) -> Result<T, Gu1Error> {
    let started = Instant::now();
    let result = fut.await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => outcome(e),
    };
    metrics::histogram!(GU1_SECONDS, "call" => call).record(started.elapsed().as_secs_f64());
    metrics::counter!(GU1_CALLS, "call" => call, "outcome" => outcome).increment(1);
    result
}

impl Gu1 for Timed {
    fn get<'a>(&'a self, kind: Kind, id: &'a str) -> Call<'a, Option<Session>> {
        Box::pin(timed("get", self.0.get(kind, id)))
    }

    fn current<'a>(&'a self, kind: Kind, entity: &'a str) -> Call<'a, Option<Session>> {
        Box::pin(timed("current", self.0.current(kind, entity)))
    }

    fn create<'a>(&'a self, kind: Kind, entity: &'a str) -> Call<'a, Value> {
        Box::pin(timed("create", self.0.create(kind, entity)))
    }

    fn cancel<'a>(&'a self, kind: Kind, id: &'a str) -> Call<'a, Value> {
        Box::pin(timed("cancel", self.0.cancel(kind, id)))
    }
}
