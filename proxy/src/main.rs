//! `gu1-kyc-proxy`: the token-scoped proxy in front of gu1 (`upstream`) or of the built-in
//! simulator (`simulate`, the default), and `token` to mint a token for a page.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use gu1_kyc_proxy::app::{self, App};
use gu1_kyc_proxy::auth::Limiter;
use gu1_kyc_proxy::middleware::Origins;
use gu1_kyc_proxy::sim::{self, Demo, Simulate};
use gu1_kyc_proxy::token::{self, Claims, Kind, Tokens};
use gu1_kyc_proxy::upstream::Upstream;

#[derive(Debug, Parser)]
#[command(
    name = "gu1-kyc-proxy",
    version,
    about = "Token-scoped proxy for gu1-kyc-web: GET /kyc/status, POST /kyc/start, POST /kyc/cancel, POST /webhooks/gu1",
    long_about = "Token-scoped proxy for gu1-kyc-web.\n\n\
        The page polls GET /kyc/status with `Authorization: Bearer <token>`; tokens are minted by \
        the integrator's backend (the `token` subcommand or gu1_kyc_proxy::token::mint) with the \
        shared GU1_PROXY_SECRET and are bound to one entity (and optionally one session). \
        `upstream` forwards to the gu1 API with GU1_API_KEY; `simulate` (the default) runs an \
        in-memory gu1 with hosted capture pages on a second origin and a control API for tests."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the proxy in front of an in-memory gu1, with hosted pages on a second origin and a
    /// control API for tests (the default).
    Simulate(SimulateArgs),
    /// Serve the proxy in front of the real gu1 API.
    Upstream(UpstreamArgs),
    /// Print a token for one entity, signed with GU1_PROXY_SECRET.
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
}

#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// Address of the proxy (and control API).
    #[arg(long, env = "GU1_PROXY_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Address of the simulated hosted capture pages (a second origin).
    #[arg(long, env = "GU1_HOSTED_LISTEN", default_value = "127.0.0.1:8788")]
    hosted_listen: SocketAddr,
    /// HMAC secret for tokens; random when absent.
    #[arg(long, env = "GU1_PROXY_SECRET", hide_env_values = true)]
    secret: Option<String>,
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
    #[command(flatten)]
    limits: Limits,
}

#[derive(Debug, clap::Args)]
struct UpstreamArgs {
    /// Address to listen on.
    #[arg(long, env = "GU1_PROXY_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// gu1 API base URL.
    #[arg(long, env = "GU1_API_BASE", default_value = "https://api.gu1.ai")]
    api_base: String,
    /// gu1 API key (sk_live_… / sk_test_…). Only ever sent to gu1.
    #[arg(long, env = "GU1_API_KEY", hide_env_values = true)]
    api_key: String,
    /// HMAC secret shared with the backend that mints tokens.
    #[arg(long, env = "GU1_PROXY_SECRET", hide_env_values = true)]
    secret: String,
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
    /// HMAC secret shared with the proxy.
    #[arg(long, env = "GU1_PROXY_SECRET", hide_env_values = true)]
    secret: String,
}

fn random_secret() -> Vec<u8> {
    let mut buf = vec![0u8; 32];
    if getrandom::fill(&mut buf).is_err() {
        fail("no randomness available for a secret; pass --secret");
    }
    buf
}

fn fail(message: &str) -> ! {
    eprintln!(
        "{}",
        serde_json::json!({"event": "error", "message": message})
    );
    std::process::exit(2);
}

/// Where the proxy runs: in front of gu1, or of the simulator with its hosted pages.
enum Mode {
    Upstream(Arc<App>),
    Simulate(Arc<Simulate>, SocketAddr),
}

fn run(mode: Mode, listen: SocketAddr) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (name, hosted) = match &mode {
        Mode::Simulate(_, h) => ("simulate", Some(format!("http://{h}"))),
        Mode::Upstream(_) => ("upstream", None),
    };
    println!(
        "{}",
        serde_json::json!({"event": "listening", "mode": name, "proxy": format!("http://{listen}"),
            "hosted": hosted})
    );
    let served = rt.block_on(async move {
        match mode {
            Mode::Simulate(s, h) => sim::serve(s, listen, h).await,
            Mode::Upstream(app) => {
                let l = tokio::net::TcpListener::bind(listen).await?;
                axum::serve(l, app::router(app)).await
            }
        }
    });
    if let Err(e) = served {
        fail(&e.to_string());
    }
}

fn main() {
    let cli = Cli::parse();
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
                entity_id: t.entity,
                kind,
                session_id: t.session,
                expires: token::unix_now() + t.ttl,
            };
            println!("{}", token::mint(&claims, t.secret.as_bytes()));
        }
        Command::Simulate(a) => {
            let hosted_origin = format!("http://{}", a.hosted_listen);
            let secret = a
                .secret
                .map(String::into_bytes)
                .unwrap_or_else(random_secret);
            let limits = a.limits;
            let mut s = Simulate::new(
                &hosted_origin,
                Tokens::shared_secret(&secret),
                Duration::from_secs(a.session_ttl),
                |app| {
                    app.origins = if limits.allow_origin.is_empty() {
                        Origins::Loopback
                    } else {
                        Origins::List(limits.allow_origin)
                    };
                    app.limiter = Limiter::new(limits.rate.unwrap_or(0.0), limits.burst);
                    app.webhook_secret = limits.webhook_secret.map(String::into_bytes);
                },
            );
            s.proxy_origin = format!("http://{}", a.listen);
            s.token_ttl = Duration::from_secs(a.token_ttl);
            s.demo = a.www.map(|www| Demo { www, pkg: a.pkg });
            run(Mode::Simulate(Arc::new(s), a.hosted_listen), a.listen);
        }
        Command::Upstream(a) => {
            if a.secret.len() < 16 {
                fail("GU1_PROXY_SECRET must be at least 16 characters");
            }
            let upstream = Upstream::new(
                &a.api_base,
                a.api_key,
                Duration::from_millis(a.upstream_timeout_ms),
            )
            .unwrap_or_else(|e| fail(&e));
            let mut app = App::new(
                Arc::new(upstream),
                Tokens::shared_secret(a.secret.as_bytes()),
            );
            app.origins = Origins::List(a.limits.allow_origin);
            app.limiter = Limiter::new(a.limits.rate.unwrap_or(5.0), a.limits.burst);
            app.webhook_secret = a.limits.webhook_secret.map(String::into_bytes);
            run(Mode::Upstream(Arc::new(app)), a.listen);
        }
    }
}
