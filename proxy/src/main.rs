//! `gu1-kyc-proxy`: the token-scoped proxy in front of gu1 (`upstream`) or of the built-in
//! simulator (`simulate`, the default), and `token` to mint a token for a page.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use gu1_kyc_proxy::check;
use gu1_kyc_proxy::cluster::Cluster;
use gu1_kyc_proxy::limit::Limiter;
use gu1_kyc_proxy::logs;
use gu1_kyc_proxy::middleware::Origins;
use gu1_kyc_proxy::serve::{self, Connections, FileBudget};
use gu1_kyc_proxy::sim::{self, Demo, Simulate};
use gu1_kyc_proxy::state::{self, App};
use gu1_kyc_proxy::token::{self, Claims, Kind, Tokens};
use gu1_kyc_proxy::upstream::{Gu1Limits, Upstream};
use gu1_kyc_proxy::{routes, telemetry, webhooks};
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::atomic::Ordering;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(
    name = "gu1-kyc-proxy",
    version,
    about = "Token-scoped proxy for gu1-kyc-web: GET /kyc/status, POST /kyc/start, POST /kyc/cancel, POST /webhooks/gu1",
    long_about = "Token-scoped proxy for gu1-kyc-web.\n\n\
        The page polls GET /kyc/status with `Authorization: Bearer <token>`; tokens are JWTs \
        minted by the integrator's backend (any JWT library, the `token` subcommand or \
        gu1_kyc_proxy::token::mint) with claims sub (entity), kind (biometric|kyc), sid \
        (optional session), exp, iat and aud, signed HS256 with GU1_PROXY_SECRET or EdDSA/ES256 \
        with a private key whose public half (PEM or JWKS) the proxy holds. \
        `upstream` forwards to the gu1 API with GU1_API_KEY; `simulate` (the default) runs an \
        in-memory gu1 with hosted capture pages on a second origin and a control API for tests."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Log lines on stdout as JSON objects (the default) or as text for a terminal.
    #[arg(long, global = true, env = "GU1_LOG_FORMAT", default_value = "json")]
    log_format: logs::Format,
    /// Which events are logged: a level (error, warn, info, debug, trace) or tracing's
    /// filter syntax (`info,tower_http=debug`).
    #[arg(long, global = true, env = "GU1_LOG", default_value = "info")]
    log_level: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the proxy in front of an in-memory gu1, with hosted pages on a second origin and a
    /// control API for tests (the default).
    Simulate(SimulateArgs),
    /// Serve the proxy in front of the real gu1 API.
    Upstream(UpstreamArgs),
    /// Check an implementation of the browser endpoints (proxy/openapi.yaml) from outside, the
    /// way the page's client uses it; prints a pass/fail table, exits 1 on any failure.
    Check(CheckArgs),
    /// Print a token for one entity, signed HS256 with GU1_PROXY_SECRET or EdDSA/ES256 with a
    /// private key.
    Token(TokenArgs),
}

#[derive(Debug, clap::Args)]
struct Limits {
    /// Requests per second allowed per token (0: no limit); excess answers 429 with Retry-After.
    #[arg(long, env = "GU1_RATE_PER_TOKEN")]
    rate: Option<f64>,
    /// Requests a token may make at once before the rate applies.
    #[arg(long, env = "GU1_BURST_PER_TOKEN", default_value_t = 20.0)]
    burst: f64,
    /// Secret of gu1's webhook signatures (X-Webhook-Signature); /webhooks/gu1 is off without it.
    #[arg(long, env = "GU1_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// Origins allowed by CORS, comma-separated (simulate: any loopback origin when absent).
    #[arg(long, env = "GU1_ALLOW_ORIGINS", value_delimiter = ',')]
    allow_origin: Vec<String>,
    /// Signed webhooks older than this (their envelope's `timestamp`), or seen before within
    /// it, are refused; seconds.
    #[arg(long, env = "GU1_WEBHOOK_WINDOW_SECS", default_value_t = 300)]
    webhook_window_secs: u64,
    /// Webhooks handled at once once their bodies are read; more are answered 503 with
    /// Retry-After at once, so a flood of them cannot slow status answers.
    #[arg(long, env = "GU1_WEBHOOK_CONCURRENCY", default_value_t = 4)]
    webhook_concurrency: usize,
    /// Time a webhook's body has to arrive (else 408), before the webhook takes one of the
    /// --webhook-concurrency slots, ms.
    #[arg(long, env = "GU1_WEBHOOK_BODY_TIMEOUT_MS", default_value_t = 2000)]
    webhook_body_timeout_ms: u64,
    /// Sessions `POST /kyc/start` may create per entity within --start-window-secs (0: no
    /// cap); past it, 429 RATE_LIMITED with Retry-After.
    #[arg(long, env = "GU1_STARTS_PER_ENTITY", default_value_t = 5)]
    starts_per_entity: u32,
    /// The window of --starts-per-entity, seconds.
    #[arg(long, env = "GU1_START_WINDOW_SECS", default_value_t = 600)]
    start_window_secs: u64,
    /// Time a client has to send a request's headers, and to start its next request on an
    /// idle keep-alive connection, seconds.
    #[arg(long, env = "GU1_HEADER_TIMEOUT_SECS", default_value_t = 10.0)]
    header_timeout_secs: f64,
    /// Connections served at once (lowered to fit under the open-file limit with the gu1
    /// side's sockets); past it a new connection is answered 503 at once. Each held status
    /// request keeps its connection.
    #[arg(long, env = "GU1_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Connections one client address may hold at once (0: no cap); past it, 503 at once.
    /// Behind a load balancer every connection comes from the balancer: raise it or set 0 there.
    #[arg(long, env = "GU1_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 64)]
    max_connections_per_client: usize,
    /// gu1 calls in flight at once (each holds a socket); past it a call waits up to 1 s for a
    /// slot, then the browser gets 503 UPSTREAM_BUSY with Retry-After.
    #[arg(long, env = "GU1_MAX_GU1_CALLS", default_value_t = 128)]
    max_gu1_calls: usize,
    /// Idle sockets kept open to gu1 for the next calls (30 s each).
    #[arg(long, env = "GU1_GU1_IDLE_SOCKETS", default_value_t = 16)]
    gu1_idle_sockets: usize,
    /// MiB of gu1's answers buffered at once beyond the first 64 KiB of each (gu1's session
    /// objects are a few KiB); an answer that does not fit gets the browser 503 UPSTREAM_BUSY.
    #[arg(long, env = "GU1_GU1_ANSWERS_MIB", default_value_t = 16)]
    gu1_answers_mib: usize,
    /// The longest a status request with `If-None-Match` and `Prefer: wait=N` is held, seconds
    /// (0: never held, answered 304 at once).
    #[arg(long, env = "GU1_MAX_WAIT_SECS", default_value_t = state::DEFAULT_MAX_WAIT_SECS)]
    max_wait_secs: u64,
    /// Status requests held at once on one token scope (kind, entity, pinned session); past
    /// it a request is answered at once (304 without Preference-Applied), not held.
    #[arg(long, env = "GU1_MAX_HELD_PER_SCOPE", default_value_t = state::DEFAULT_MAX_HELD_PER_SCOPE)]
    max_held_per_scope: usize,
    /// While status requests are held on a session and no webhook comes, gu1 is read once per
    /// this interval for all of them, seconds.
    #[arg(long, env = "GU1_WAIT_REFRESH_SECS", default_value_t = state::DEFAULT_WAIT_REFRESH_SECS as f64)]
    wait_refresh_secs: f64,
    /// Serve Prometheus metrics (GET /metrics) on this address, never on the public one; off
    /// when absent.
    #[arg(long, env = "GU1_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// At SIGTERM, how long to go on serving while /ready answers 503, so a load balancer
    /// probing it stops sending new requests, before the listeners close; seconds. Held
    /// requests are answered at once either way.
    #[arg(long, env = "GU1_SHUTDOWN_GRACE_SECS", default_value_t = 0.0)]
    shutdown_grace_secs: f64,
    /// Redis shared by several instances (redis://host:port): a webhook to any of them wakes
    /// held requests on all, webhook states and per-token rate limits are shared. Without it,
    /// or while it is down, each instance works alone.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,
}

impl Limits {
    /// Puts the limits that live in the app into `app`.
    fn apply(self, app: &mut App, default_rate: f64) {
        if self.metrics_listen.is_some() {
            app.gu1 = Arc::new(telemetry::Timed(app.gu1.clone()));
        }
        app.limiter = Limiter::new(self.rate.unwrap_or(default_rate), self.burst);
        app.webhook_secret = self.webhook_secret.map(String::into_bytes);
        app.webhook_window = Duration::from_secs(self.webhook_window_secs);
        app.webhook_concurrency = self.webhook_concurrency.max(1);
        app.webhook_body_timeout = Duration::from_millis(self.webhook_body_timeout_ms.max(1));
        app.starts = Limiter::per_window(
            self.starts_per_entity,
            Duration::from_secs(self.start_window_secs),
        );
        if let Some(url) = self.redis_url.as_deref().filter(|u| !u.is_empty()) {
            app.cluster = Some(Arc::new(Cluster::new(url).unwrap_or_else(|e| fail(&e))));
        }
        app.max_wait = Duration::from_secs(self.max_wait_secs);
        app.max_held_per_scope = self.max_held_per_scope.max(1);
        app.wait_refresh = Duration::from_secs_f64(self.wait_refresh_secs.clamp(0.05, 3600.0));
    }

    /// What operators get besides the proxy: the metrics listener (its recorder installed) and
    /// the shutdown grace.
    fn operations(&self, listen: SocketAddr, mode: &'static str) -> Operations {
        let metrics = self.metrics_listen.map(|addr| {
            if addr == listen {
                fail("--metrics-listen must not be the proxy's own address");
            }
            (addr, telemetry::install(mode).unwrap_or_else(|e| fail(&e)))
        });
        Operations {
            metrics,
            grace: Duration::from_secs_f64(self.shutdown_grace_secs.clamp(0.0, 3600.0)),
        }
    }

    /// The connection limits and the gu1 side's, fitted together under the open-file limit
    /// (raised first where allowed).
    fn budget(&self) -> (Connections, Gu1Limits) {
        let open_files = serve::raise_open_file_limit();
        let defaults = Connections::default();
        let wanted = FileBudget {
            limit: open_files,
            connections: self.max_connections.max(1),
            refusing: defaults.refusing,
            gu1_calls: self.max_gu1_calls.max(1),
            gu1_idle: self.gu1_idle_sockets,
        };
        let budget = FileBudget::within(open_files, &wanted);
        if budget != wanted {
            tracing::warn!(
                event = "open_file_limit",
                limit = open_files,
                max_connections = budget.connections,
                gu1_calls = budget.gu1_calls,
                gu1_idle_sockets = budget.gu1_idle,
                "the open-file limit cannot be raised further: fewer connections and gu1 calls \
                 at once than asked"
            );
        }
        let conns = Connections {
            header_timeout: Duration::from_secs_f64(self.header_timeout_secs.max(0.1)),
            max: budget.connections,
            max_per_client: self.max_connections_per_client,
            refusing: budget.refusing,
            ..defaults
        };
        let gu1 = Gu1Limits {
            calls: budget.gu1_calls,
            idle: budget.gu1_idle,
            answer_bytes: self.gu1_answers_mib.max(1).saturating_mul(1024 * 1024),
            ..Gu1Limits::default()
        };
        (conns, gu1)
    }
}

#[derive(Debug, clap::Args)]
struct Audience {
    /// The audience (`aud`) tokens must name.
    #[arg(long, env = "GU1_TOKEN_AUDIENCE", default_value = token::DEFAULT_AUDIENCE)]
    audience: String,
    /// Clock difference allowed on a token's `exp`, `iat` and `nbf`, seconds.
    #[arg(long, env = "GU1_TOKEN_LEEWAY_SECS", default_value_t = token::DEFAULT_LEEWAY_SECS)]
    leeway_secs: u64,
    /// The longest a token may live: its `exp` at most this long after its `iat`, seconds.
    #[arg(long, env = "GU1_MAX_TOKEN_LIFETIME_SECS", default_value_t = token::DEFAULT_MAX_LIFETIME_SECS)]
    max_token_lifetime_secs: u64,
}

#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// Address of the proxy (and control API).
    #[arg(long, env = "GU1_PROXY_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Address of the simulated hosted capture pages (a second origin).
    #[arg(long, env = "GU1_HOSTED_LISTEN", default_value = "127.0.0.1:8788")]
    hosted_listen: SocketAddr,
    /// HS256 secret of the tokens (the control API and the demo mint with it); random when
    /// absent.
    #[arg(long, env = "GU1_PROXY_SECRET", hide_env_values = true)]
    secret: Option<String>,
    #[command(flatten)]
    audience: Audience,
    /// Lifetime of new sessions, seconds.
    #[arg(long, default_value_t = 1800)]
    session_ttl: u64,
    /// Lifetime of tokens minted by the control API and the demo, seconds.
    #[arg(long, default_value_t = 900)]
    token_ttl: u64,
    /// Serve the demo pages from this directory on the proxy's origin (with --pkg).
    #[arg(long)]
    www: Option<std::path::PathBuf>,
    /// The built npm package to serve at /pkg/.
    #[arg(long, default_value = "pkg")]
    pkg: std::path::PathBuf,
    /// Whether the simulated gu1 sends signed webhooks for every change of status (on: to
    /// this proxy's /webhooks/gu1, or --sim-webhook-url; signed with --webhook-secret, or a
    /// random secret the proxy is given).
    #[arg(long, env = "GU1_SIM_WEBHOOKS", default_value = "on", value_parser = ["on", "off"])]
    sim_webhooks: String,
    /// Time between a change of status and the simulated gu1's webhook, ms.
    #[arg(long, env = "GU1_SIM_WEBHOOK_DELAY_MS", default_value_t = 50)]
    sim_webhook_delay_ms: u64,
    /// Where the simulated gu1 posts its webhooks instead of this proxy (e.g. upstream-mode
    /// proxies in front of this simulator's gu1 API).
    #[arg(long, env = "GU1_SIM_WEBHOOK_URL")]
    sim_webhook_url: Option<String>,
    #[command(flatten)]
    limits: Limits,
}

#[derive(Debug, clap::Args)]
struct UpstreamArgs {
    /// Address to listen on.
    #[arg(long, env = "GU1_PROXY_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// gu1 API base URL (a tenant's own, e.g. https://api.<tenant>.gu1.ai, where gu1 gave one).
    #[arg(long, env = "GU1_API_BASE", default_value = "https://api.gu1.ai")]
    api_base: String,
    /// gu1 API key (sk_live_… / sk_test_…). Only ever sent to gu1.
    #[arg(long, env = "GU1_API_KEY", hide_env_values = true)]
    api_key: String,
    /// Sent as X-Organization-ID on every gu1 call (for keys that reach several organizations).
    #[arg(long, env = "GU1_ORGANIZATION_ID")]
    organization_id: Option<String>,
    /// Token algorithm: HS256 (with --secret), EdDSA or ES256 (with --public-key or --jwks).
    #[arg(long, env = "GU1_TOKEN_ALGORITHM", default_value = "HS256")]
    algorithm: String,
    /// HS256 secret shared with the backend that mints tokens (at least 16 characters).
    #[arg(long, env = "GU1_PROXY_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// PEM file of the public key that verifies EdDSA or ES256 tokens.
    #[arg(long, env = "GU1_TOKEN_PUBLIC_KEY")]
    public_key: Option<std::path::PathBuf>,
    /// JWKS file of the public keys that verify EdDSA or ES256 tokens (chosen by `kid`).
    #[arg(long, env = "GU1_TOKEN_JWKS")]
    jwks: Option<std::path::PathBuf>,
    #[command(flatten)]
    audience: Audience,
    /// Time allowed for one gu1 call, ms; past it the browser gets 504 UPSTREAM_TIMEOUT.
    #[arg(long, env = "GU1_UPSTREAM_TIMEOUT_MS", default_value_t = 10_000)]
    upstream_timeout_ms: u64,
    #[command(flatten)]
    limits: Limits,
}

#[derive(Debug, clap::Args)]
struct TokenArgs {
    /// The entity the token may read.
    #[arg(long)]
    entity: String,
    /// biometric or kyc.
    #[arg(long, default_value = "biometric")]
    kind: String,
    /// Pin the token to one session.
    #[arg(long)]
    session: Option<String>,
    /// Lifetime, seconds.
    #[arg(long, default_value_t = 900)]
    ttl: u64,
    /// The proxy's audience (`aud`).
    #[arg(long, env = "GU1_TOKEN_AUDIENCE", default_value = token::DEFAULT_AUDIENCE)]
    audience: String,
    /// HS256 secret shared with the proxy.
    #[arg(long, env = "GU1_PROXY_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// PEM private key to sign with instead (EdDSA or ES256, per --algorithm).
    #[arg(long)]
    private_key: Option<std::path::PathBuf>,
    /// Algorithm of --private-key: EdDSA or ES256.
    #[arg(long, default_value = "EdDSA")]
    algorithm: String,
    /// Key id (`kid`) to name in the header, for proxies that verify with a JWKS file.
    #[arg(long)]
    kid: Option<String>,
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The status endpoint (GET).
    #[arg(long)]
    status_url: String,
    /// A valid page token for it (mint one for a test entity).
    #[arg(long, env = "GU1_CHECK_TOKEN", hide_env_values = true)]
    token: String,
    /// The cancel endpoint (POST); only its refusals and preflight are checked, nothing is
    /// cancelled.
    #[arg(long)]
    cancel_url: Option<String>,
    /// The page origin whose CORS access to check.
    #[arg(long)]
    origin: Option<String>,
    /// Requests sent at once to see the rate limit (0: skip).
    #[arg(long, default_value_t = 40)]
    burst: usize,
}

/// How the upstream proxy verifies tokens, from its flags.
fn upstream_tokens(a: &UpstreamArgs) -> Result<Tokens, String> {
    let algorithm = token::parse_algorithm(&a.algorithm)?;
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let tokens = match (algorithm, &a.secret, &a.public_key, &a.jwks) {
        (jsonwebtoken::Algorithm::HS256, Some(secret), None, None) => {
            if secret.len() < 16 {
                return Err("GU1_PROXY_SECRET must be at least 16 characters".into());
            }
            Tokens::shared_secret(secret.as_bytes())
        }
        (jsonwebtoken::Algorithm::HS256, ..) => {
            return Err("HS256 takes --secret (GU1_PROXY_SECRET) and no public key".into())
        }
        (alg, None, Some(pem), None) => Tokens::public_key_pem(alg, &read(pem)?)?,
        (alg, None, None, Some(jwks)) => {
            let text = String::from_utf8(read(jwks)?).map_err(|_| "the JWKS file is not UTF-8")?;
            Tokens::jwks(alg, &text)?
        }
        _ => {
            return Err(format!(
                "{} takes exactly one of --public-key or --jwks, and no --secret",
                a.algorithm
            ))
        }
    };
    Ok(tokens
        .with_audience(&a.audience.audience)
        .with_leeway(a.audience.leeway_secs)
        .with_max_lifetime(a.audience.max_token_lifetime_secs))
}

/// Signs the token the `token` subcommand prints.
fn sign(t: &TokenArgs, claims: &Claims) -> Result<String, String> {
    use jsonwebtoken::{EncodingKey, Header};
    match (&t.secret, &t.private_key) {
        (Some(secret), None) => Ok(token::mint(claims, &t.audience, secret.as_bytes())),
        (None, Some(path)) => {
            let pem =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let algorithm = token::parse_algorithm(&t.algorithm)?;
            let key = match algorithm {
                jsonwebtoken::Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
                jsonwebtoken::Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
                _ => return Err("--private-key signs EdDSA or ES256".into()),
            }
            .map_err(|e| format!("the private key is not a {algorithm:?} PEM key: {e}"))?;
            let mut header = Header::new(algorithm);
            header.kid = t.kid.clone();
            let wire = serde_json::json!({
                "sub": claims.entity_id, "kind": claims.kind, "sid": claims.session_id,
                "exp": claims.expires, "iat": token::unix_now(), "aud": t.audience,
            });
            let mut wire = wire;
            if claims.session_id.is_none() {
                wire.as_object_mut().map(|o| o.remove("sid"));
            }
            jsonwebtoken::encode(&header, &wire, &key).map_err(|e| e.to_string())
        }
        _ => Err("pass --secret (GU1_PROXY_SECRET) or --private-key".into()),
    }
}

fn random_secret() -> Vec<u8> {
    let mut buf = vec![0u8; 32];
    if getrandom::fill(&mut buf).is_err() {
        fail("no randomness available for a secret; pass --secret");
    }
    buf
}

/// A command's output (the token, the check's table) on stdout; a closed stdout is not worth a
/// panic.
fn out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(text.as_bytes());
}

fn fail(message: &str) -> ! {
    tracing::error!(event = "error", "{message}");
    std::process::exit(2);
}

/// The metrics listener and the shutdown grace.
struct Operations {
    metrics: Option<(SocketAddr, PrometheusHandle)>,
    grace: Duration,
}

/// Where the proxy runs: in front of gu1, or of the simulator with its hosted pages.
enum Mode {
    Upstream(Arc<App>),
    Simulate(Arc<Simulate>, SocketAddr),
}

/// Resolves on SIGTERM or Ctrl-C.
async fn terminated() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn run(mode: Mode, listen: SocketAddr, conns: Connections, ops: Operations) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (name, hosted) = match &mode {
        Mode::Simulate(_, h) => ("simulate", Some(format!("http://{h}"))),
        Mode::Upstream(_) => ("upstream", None),
    };
    tracing::info!(
        event = "listening",
        mode = name,
        proxy = %format!("http://{listen}"),
        hosted = hosted.as_deref().unwrap_or("-"),
        max_connections = conns.max,
        max_connections_per_client = conns.max_per_client,
        header_timeout_ms = conns.header_timeout.as_millis() as u64,
        version = env!("CARGO_PKG_VERSION"),
    );
    let app = match &mode {
        Mode::Simulate(s, _) => s.app.clone(),
        Mode::Upstream(app) => app.clone(),
    };
    let served = rt.block_on(async move {
        // On SIGTERM or Ctrl-C: held requests are answered (304) first, then the listeners
        // close and in-flight requests get `conns.drain` to finish.
        if let Some(cluster) = &app.cluster {
            let shared_to = app.clone();
            cluster.start(Arc::new(move |shared| {
                webhooks::apply(&shared_to, &shared, "peer")
            }));
        }
        let (stop, stopping) = tokio::sync::watch::channel(false);
        if let Some((addr, handle)) = ops.metrics {
            telemetry::keep_up(handle.clone());
            let l = serve::bind(addr)?;
            let metrics = routes::metrics(handle, app.clone());
            let conns = Connections {
                name: "metrics",
                max: 16,
                max_per_client: 0,
                ..Connections::default()
            };
            let mut stopping = stopping.clone();
            tokio::spawn(serve::serve(l, metrics, conns, async move {
                let _ = stopping.wait_for(|s| *s).await;
            }));
            tracing::info!(event = "metrics_listening", metrics = %format!("http://{addr}/metrics"));
        }
        tokio::spawn(async move {
            terminated().await;
            // Not ready any more (a balancer stops sending), held requests answered now, the
            // grace served, then the listeners close.
            app.draining.store(true, Ordering::Relaxed);
            let held = app.hub.waiting();
            app.hub.close();
            tracing::info!(
                event = "shutting_down",
                held,
                grace_ms = ops.grace.as_millis() as u64
            );
            tokio::time::sleep(ops.grace).await;
            stop.send_replace(true);
        });
        match mode {
            Mode::Simulate(s, h) => sim::serve(s, listen, h, conns, stopping).await,
            Mode::Upstream(app) => {
                let l = serve::bind(listen)?;
                let mut stopping = stopping;
                serve::serve(l, routes::router(app), conns, async move {
                    let _ = stopping.wait_for(|s| *s).await;
                })
                .await
            }
        }
    });
    match served {
        Ok(()) => tracing::info!(event = "stopped"),
        Err(e) => fail(&e.to_string()),
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = logs::init(cli.log_format, &cli.log_level) {
        // There is no log yet to say it in.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{e}");
        std::process::exit(2);
    }
    let command = match cli.command {
        Some(c) => c,
        None => Cli::parse_from(["gu1-kyc-proxy", "simulate"])
            .command
            .expect("simulate parses"),
    };
    match command {
        Command::Token(t) => {
            let kind = match t.kind.as_str() {
                "kyc" => Kind::Kyc,
                "biometric" => Kind::Biometric,
                _ => fail("--kind must be biometric or kyc"),
            };
            let claims = Claims {
                entity_id: t.entity.clone(),
                kind,
                session_id: t.session.clone(),
                expires: token::unix_now() + t.ttl,
            };
            match sign(&t, &claims) {
                Ok(token) => out(&format!("{token}\n")),
                Err(e) => fail(&e),
            }
        }
        Command::Check(c) => {
            let target = check::Target {
                status_url: c.status_url,
                token: c.token,
                cancel_url: c.cancel_url,
                origin: c.origin,
                burst: c.burst,
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let outcomes = rt.block_on(check::run(&target));
            out(&check::table(&outcomes));
            std::process::exit(if check::all_passed(&outcomes) { 0 } else { 1 });
        }
        Command::Simulate(a) => {
            let hosted_origin = format!("http://{}", a.hosted_listen);
            let secret = a
                .secret
                .map(String::into_bytes)
                .unwrap_or_else(random_secret);
            let sim_webhooks = a.sim_webhooks == "on";
            let mut limits = a.limits;
            if sim_webhooks && limits.webhook_secret.is_none() {
                // The simulator is gu1 here: it knows the secret it signs with.
                let random: String = random_secret().iter().map(|b| format!("{b:02x}")).collect();
                limits.webhook_secret = Some(random);
            }
            let (conns, _) = limits.budget();
            let ops = limits.operations(a.listen, "simulate");
            let tokens = Tokens::shared_secret(&secret)
                .with_audience(&a.audience.audience)
                .with_leeway(a.audience.leeway_secs)
                .with_max_lifetime(a.audience.max_token_lifetime_secs.max(a.token_ttl));
            let mut s = Simulate::new(
                &hosted_origin,
                tokens,
                Duration::from_secs(a.session_ttl),
                |app| {
                    app.origins = if limits.allow_origin.is_empty() {
                        Origins::Loopback
                    } else {
                        Origins::List(limits.allow_origin.clone())
                    };
                    limits.apply(app, 0.0);
                },
            );
            s.proxy_origin = format!("http://{}", a.listen);
            s.token_ttl = Duration::from_secs(a.token_ttl);
            s.demo = a.www.map(|www| Demo { www, pkg: a.pkg });
            s.webhooks = sim_webhooks.then(|| sim::Webhooks {
                url: a.sim_webhook_url,
                delay: Duration::from_millis(a.sim_webhook_delay_ms),
            });
            run(
                Mode::Simulate(Arc::new(s), a.hosted_listen),
                a.listen,
                conns,
                ops,
            );
        }
        Command::Upstream(a) => {
            let tokens = upstream_tokens(&a).unwrap_or_else(|e| fail(&e));
            let (conns, gu1_limits) = a.limits.budget();
            let ops = a.limits.operations(a.listen, "upstream");
            let upstream = Upstream::with_limits(
                &a.api_base,
                a.api_key,
                Duration::from_millis(a.upstream_timeout_ms),
                &gu1_limits,
            )
            .unwrap_or_else(|e| fail(&e))
            .with_organization(a.organization_id);
            let mut app = App::new(Arc::new(upstream), tokens);
            app.origins = Origins::List(a.limits.allow_origin.clone());
            a.limits.apply(&mut app, 5.0);
            run(Mode::Upstream(Arc::new(app)), a.listen, conns, ops);
        }
    }
}
