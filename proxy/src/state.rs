//! The proxy's shared state: what every handler reads, and nothing that reads it back. The
//! modules whose types it holds (`limit`, `fresh`, `wait`, `cluster`, ...) never import it, so the
//! module graph has no circle; the router is assembled in `routes`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::Cluster;
use crate::fresh::{Fresh, Seen};
use crate::gu1::Gu1;
use crate::limit::{ByteBudget, Limiter};
use crate::middleware::Origins;
use crate::token::Tokens;
use crate::wait::Hub;

/// The longest a status request is held unless configured otherwise, seconds.
pub const DEFAULT_MAX_WAIT_SECS: u64 = 25;

/// How often held requests' state is read from gu1 unless configured otherwise, seconds.
pub const DEFAULT_WAIT_REFRESH_SECS: u64 = 5;

/// Status requests held at once on one token scope unless configured otherwise.
pub const DEFAULT_MAX_HELD_PER_SCOPE: usize = 8;

/// Everything the handlers share.
#[derive(Debug)]
pub struct App {
    /// Where sessions come from: the gu1 API, or the simulator.
    pub gu1: Arc<dyn Gu1>,
    /// How page tokens are checked.
    pub tokens: Tokens,
    /// Secret of gu1's webhook signatures; webhooks are refused without it.
    pub webhook_secret: Option<Vec<u8>>,
    /// CORS policy.
    pub origins: Origins,
    /// Per-token request budget.
    pub limiter: Limiter,
    /// Terminal answers received by signed webhook: they win over a stale read for a while.
    pub fresh: Fresh,
    /// Webhooks whose envelope `timestamp` is older than this, or that were seen before within
    /// it, are refused.
    pub webhook_window: Duration,
    /// Webhooks received within `webhook_window`, to refuse a replay.
    pub seen: Seen,
    /// Webhooks handled at once, once their bodies are read; more are shed (503).
    pub webhook_concurrency: usize,
    /// Time a webhook's body has to arrive, before it takes one of those slots (else 408).
    pub webhook_body_timeout: Duration,
    /// Bytes all webhook bodies being read may hold at once (past it, 503).
    pub webhook_bytes: ByteBudget,
    /// Sessions `POST /kyc/start` may create per entity: a bucket per entity and kind.
    pub starts: Limiter,
    /// Held status requests (`If-None-Match` + `Prefer: wait`), by token scope.
    pub hub: Hub,
    /// The longest a status request is held, whatever its `Prefer: wait` asks.
    pub max_wait: Duration,
    /// How often gu1 is read for the requests held on one scope when no webhook comes.
    pub wait_refresh: Duration,
    /// Status requests held at once on one token scope (kind, entity, pinned session); more
    /// are answered at once.
    pub max_held_per_scope: usize,
    /// Redis, shared with the other instances, when configured.
    pub cluster: Option<Arc<Cluster>>,
    /// Set at shutdown: `/ready` answers 503 from then on.
    pub draining: AtomicBool,
}

impl App {
    /// An app in front of `gu1` with defaults for everything else: loopback origins, no rate
    /// limit, no webhooks (when configured: a 5-minute replay window, bodies read within 2 s and
    /// 4 MiB of them at once, 4 handled at once, payloads kept 10 minutes, at most 10 000), 5 sessions created per entity per 10 minutes, status
    /// requests held at most 25 s (8 at once per token scope) with gu1 read every 5 s meanwhile.
    pub fn new(gu1: Arc<dyn Gu1>, tokens: Tokens) -> App {
        App {
            gu1,
            tokens,
            webhook_secret: None,
            origins: Origins::Loopback,
            limiter: Limiter::new(0.0, 0.0),
            fresh: Fresh::new(Duration::from_secs(600), 10_000),
            webhook_window: Duration::from_secs(300),
            seen: Seen::new(100_000),
            webhook_concurrency: 4,
            webhook_body_timeout: Duration::from_secs(2),
            webhook_bytes: ByteBudget::new(4 * 1024 * 1024),
            starts: Limiter::per_window(5, Duration::from_secs(600)),
            hub: Hub::default(),
            max_wait: Duration::from_secs(DEFAULT_MAX_WAIT_SECS),
            wait_refresh: Duration::from_secs(DEFAULT_WAIT_REFRESH_SECS),
            max_held_per_scope: DEFAULT_MAX_HELD_PER_SCOPE,
            cluster: None,
            draining: AtomicBool::new(false),
        }
    }
}
