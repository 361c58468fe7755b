//! `gu1-kyc-proxy`: the token-scoped proxy in front of gu1 (`upstream`) or of the built-in
//! simulator (`simulate`, the default), and `token` to mint a token for a page.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use gu1_kyc_proxy::server::{self, App, Backend, Demo, Limiter, Origins};
use gu1_kyc_proxy::sim::Simulator;
use gu1_kyc_proxy::token::{self, Claims, Kind};
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
    use std::io::Read;
    let mut buf = vec![0u8; 32];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .is_err()
    {
        eprintln!(
            "{{\"event\":\"error\",\"message\":\"/dev/urandom unavailable; pass --secret\"}}"
        );
        std::process::exit(2);
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

fn run(app: App, listen: SocketAddr, hosted: Option<SocketAddr>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mode = if hosted.is_some() {
        "simulate"
    } else {
        "upstream"
    };
    println!(
        "{}",
        serde_json::json!({"event": "listening", "mode": mode, "proxy": format!("http://{listen}"),
            "hosted": hosted.map(|h| format!("http://{h}"))})
    );
    let app = Arc::new(app);
    let served = rt.block_on(async move {
        match hosted {
            Some(h) => server::serve(app, listen, h).await,
            None => {
                let l = tokio::net::TcpListener::bind(listen).await?;
                axum::serve(l, server::proxy_router(app)).await
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
            let mut app = App::new(
                Backend::Sim(Simulator::new(hosted_origin.clone())),
                a.secret
                    .map(String::into_bytes)
                    .unwrap_or_else(random_secret),
            );
            app.hosted_origin = hosted_origin;
            app.proxy_origin = format!("http://{}", a.listen);
            app.origins = if a.limits.allow_origin.is_empty() {
                Origins::Loopback
            } else {
                Origins::List(a.limits.allow_origin)
            };
            app.session_ttl = Duration::from_secs(a.session_ttl);
            app.token_ttl = Duration::from_secs(a.token_ttl);
            app.control = true;
            app.demo = a.www.map(|www| Demo { www, pkg: a.pkg });
            app.limiter = Limiter::new(a.limits.rate.unwrap_or(0.0), a.limits.burst);
            app.webhook_secret = a.limits.webhook_secret.map(String::into_bytes);
            run(app, a.listen, Some(a.hosted_listen));
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
            let mut app = App::new(Backend::Upstream(upstream), a.secret.into_bytes());
            app.proxy_origin = format!("http://{}", a.listen);
            app.origins = Origins::List(a.limits.allow_origin);
            app.limiter = Limiter::new(a.limits.rate.unwrap_or(5.0), a.limits.burst);
            app.webhook_secret = a.limits.webhook_secret.map(String::into_bytes);
            run(app, a.listen, None);
        }
    }
}
