//! `gu1-kyc-proxy`: run the proxy (with the simulator), or mint a token.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use gu1_kyc_proxy::server::{self, App, Demo, Origins};
use gu1_kyc_proxy::sim::Simulator;
use gu1_kyc_proxy::token::{self, Claims, Kind};

#[derive(Debug, Parser)]
#[command(name = "gu1-kyc-proxy", version, about = "Token-scoped proxy for gu1-kyc-web, with a built-in gu1 simulator")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the proxy in front of an in-memory gu1, with hosted pages on a second origin and a
    /// control API for tests (the default).
    Simulate(SimulateArgs),
    /// Print a token for one entity, signed with GU1_PROXY_SECRET.
    Token(TokenArgs),
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
    /// Origins allowed by CORS (comma-separated); any loopback origin when absent.
    #[arg(long, env = "GU1_ALLOW_ORIGINS", value_delimiter = ',')]
    allow_origin: Vec<String>,
    /// Lifetime of new sessions, seconds.
    #[arg(long, default_value_t = 1800)]
    session_ttl: u64,
    /// Lifetime of tokens minted by the control API, seconds.
    #[arg(long, default_value_t = 900)]
    token_ttl: u64,
    /// Serve the demo pages from this directory on the proxy's origin (with --pkg).
    #[arg(long)]
    www: Option<std::path::PathBuf>,
    /// The built npm package to serve at /pkg/.
    #[arg(long, default_value = "pkg")]
    pkg: std::path::PathBuf,
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
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf)).is_err() {
        use std::hash::{BuildHasher, Hasher};
        for chunk in buf.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u8(1);
            chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
        }
    }
    buf
}

fn main() {
    let cli = Cli::parse();
    let command = match cli.command {
        Some(c) => c,
        None => Cli::parse_from(["gu1-kyc-proxy", "simulate"]).command.expect("simulate parses"),
    };
    match command {
        Command::Token(t) => {
            let kind = match t.kind.as_str() {
                "kyc" => Kind::Kyc,
                "biometric" => Kind::Biometric,
                _ => {
                    eprintln!("--kind must be biometric or kyc");
                    std::process::exit(2);
                }
            };
            let claims = Claims { entity_id: t.entity, kind, session_id: t.session, expires: token::unix_now() + t.ttl };
            println!("{}", token::mint(&claims, t.secret.as_bytes()));
        }
        Command::Simulate(a) => {
            let hosted_origin = format!("http://{}", a.hosted_listen);
            let app = Arc::new(App {
                sim: Simulator::new(hosted_origin.clone()),
                secret: a.secret.map(String::into_bytes).unwrap_or_else(random_secret),
                hosted_origin,
                proxy_origin: format!("http://{}", a.listen),
                origins: if a.allow_origin.is_empty() { Origins::Loopback } else { Origins::List(a.allow_origin) },
                session_ttl: Duration::from_secs(a.session_ttl),
                token_ttl: Duration::from_secs(a.token_ttl),
                control: true,
                demo: a.www.map(|www| Demo { www, pkg: a.pkg }),
            });
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            println!(
                "{{\"event\":\"listening\",\"proxy\":\"http://{}\",\"hosted\":\"http://{}\",\"mode\":\"simulate\"}}",
                a.listen, a.hosted_listen
            );
            if let Err(e) = rt.block_on(server::serve(app, a.listen, a.hosted_listen)) {
                eprintln!("{{\"event\":\"error\",\"message\":\"{e}\"}}");
                std::process::exit(1);
            }
        }
    }
}
