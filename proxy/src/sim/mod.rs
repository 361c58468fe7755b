//! Everything that exists only in simulate mode: the in-memory gu1 (`model`), the control API
//! for tests (`control`), faults and the request log as a layer around the browser endpoints
//! (`layer`), gu1's REST API played over HTTP (`gu1_api`), the hosted capture page on a second
//! origin (`hosted`), gu1's webhooks (`outbox`) and the demo pages (`demo`). Production modules never import this one.

mod control;
mod demo;
mod gu1_api;
mod hosted;
mod layer;
pub mod model;
pub mod outbox;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use serde_json::Value;

use crate::gu1::{Call, Gu1, Session};
use crate::routes;
use crate::serve::Connections;
use crate::state::App;
use crate::token::{Claims, Kind, Tokens};

pub use demo::{demo_csp, Demo};
pub use gu1_api::SIM_API_KEY;
pub use model::{Fault, LogEntry, Record, Simulator, Stats, Step};

/// The in-memory gu1 behind a simulate-mode proxy.
#[derive(Debug)]
pub struct InMemory {
    sim: Arc<Simulator>,
    session_ttl: Duration,
}

impl Gu1 for InMemory {
    fn get<'a>(&'a self, kind: Kind, id: &'a str) -> Call<'a, Option<Session>> {
        let found = self.sim.get_gu1(kind, id);
        Box::pin(async move { Ok(found) })
    }

    fn current<'a>(&'a self, kind: Kind, entity: &'a str) -> Call<'a, Option<Session>> {
        let found = self.sim.current_gu1(entity, kind);
        Box::pin(async move { Ok(found) })
    }

    fn create<'a>(&'a self, kind: Kind, entity: &'a str) -> Call<'a, Value> {
        let created = self.sim.create(kind, entity, self.session_ttl);
        Box::pin(async move { created.map(|r| r.to_gu1()) })
    }

    fn cancel<'a>(&'a self, kind: Kind, id: &'a str) -> Call<'a, Value> {
        let cancelled = gu1_api::cancel(&self.sim, kind, id);
        Box::pin(async move { cancelled.map(|r| r.to_gu1()) })
    }
}

/// How the simulator sends gu1's webhooks.
#[derive(Clone, Debug)]
pub struct Webhooks {
    /// Where to (default: this proxy's own `/webhooks/gu1`).
    pub url: Option<String>,
    /// Time between a change of status and its webhook.
    pub delay: Duration,
}

/// A simulate-mode proxy: the production proxy in front of the in-memory gu1, plus what tests
/// and the demo need.
#[derive(Debug)]
pub struct Simulate {
    /// The in-memory gu1.
    pub sim: Arc<Simulator>,
    /// The proxy in front of it.
    pub app: Arc<App>,
    /// Origin of the hosted capture pages, e.g. `http://127.0.0.1:8788`.
    pub hosted_origin: String,
    /// Public origin of the proxy itself, for the URLs the control API hands out.
    pub proxy_origin: String,
    /// Lifetime of new sessions.
    pub session_ttl: Duration,
    /// Lifetime of tokens minted by the control API and the demo.
    pub token_ttl: Duration,
    /// Demo pages (`www/`) and the package (`pkg/`) to serve on the proxy's origin.
    pub demo: Option<Demo>,
    /// When set, the simulated gu1 REST API requires `X-Organization-ID` to name it.
    pub organization_id: Option<String>,
    /// gu1's webhooks: sent by [`serve`] for every change of status when set and the proxy has
    /// a webhook secret.
    pub webhooks: Option<Webhooks>,
    outage: tokio::sync::Notify,
    outage_ms: AtomicU64,
}

impl Simulate {
    /// A simulator whose hosted pages live at `hosted_origin`, sessions lasting `session_ttl`,
    /// and the proxy in front of it, which `configure` may adjust (origins, limits, webhooks).
    pub fn new(
        hosted_origin: &str,
        tokens: Tokens,
        session_ttl: Duration,
        configure: impl FnOnce(&mut App),
    ) -> Simulate {
        let sim = Arc::new(Simulator::new(hosted_origin));
        let gu1 = InMemory {
            sim: sim.clone(),
            session_ttl,
        };
        let mut app = App::new(Arc::new(gu1), tokens);
        configure(&mut app);
        Simulate {
            sim,
            app: Arc::new(app),
            hosted_origin: hosted_origin.to_owned(),
            proxy_origin: String::new(),
            session_ttl,
            token_ttl: Duration::from_secs(900),
            demo: None,
            organization_id: None,
            webhooks: None,
            outage: tokio::sync::Notify::new(),
            outage_ms: AtomicU64::new(0),
        }
    }

    /// A token for the entity, valid for `ttl_secs` (default: `token_ttl`; 0: already expired,
    /// past the leeway).
    fn mint(
        &self,
        entity: &str,
        kind: Kind,
        session: Option<String>,
        ttl_secs: Option<u64>,
    ) -> String {
        let now = crate::token::unix_now();
        let expires = match ttl_secs.unwrap_or(self.token_ttl.as_secs()) {
            0 => now.saturating_sub(self.app.tokens.leeway() + 1),
            ttl => now + ttl,
        };
        let claims = Claims {
            entity_id: entity.to_owned(),
            kind,
            session_id: session,
            expires,
        };
        self.app.tokens.mint(&claims).unwrap_or_default()
    }
}

/// The proxy's router in simulate mode: the production routes with the fault and request-log
/// layers around the browser endpoints, the control API, the simulated gu1 REST API, and the
/// demo pages when configured.
pub fn router(s: Arc<Simulate>) -> Router {
    let app = s.app.clone();
    let handlers = routes::endpoints().layer(layer::faults(s.clone()));
    let browser = routes::browser_with(app.clone(), handlers).layer(layer::record(s.clone()));
    let extra = control::routes()
        .merge(gu1_api::routes())
        .with_state(s.clone());
    let outside = match &s.demo {
        Some(d) => demo::router(s.clone(), d.clone()),
        None => Router::new(),
    };
    routes::assemble(app, browser, Router::new().merge(extra), outside)
}

/// Binds the proxy and the hosted pages and serves until `stopping` turns true, both with the
/// connection limits of `conns`.
pub async fn serve(
    s: Arc<Simulate>,
    proxy: SocketAddr,
    hosted: SocketAddr,
    conns: Connections,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    if let (Some(w), Some(secret)) = (&s.webhooks, &s.app.webhook_secret) {
        let host = if proxy.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], proxy.port()))
        } else {
            proxy
        };
        let url = w
            .url
            .clone()
            .unwrap_or_else(|| format!("http://{host}/webhooks/gu1"));
        outbox::start(
            s.sim.clone(),
            outbox::Outbox {
                url,
                secret: secret.clone(),
                delay: w.delay,
            },
        );
    }
    let h = crate::serve::bind(hosted)?;
    let hosted_conns = Connections {
        name: "hosted",
        ..conns.clone()
    };
    let hr = crate::serve::serve(
        h,
        hosted::router(s.clone()),
        hosted_conns,
        stopped(stopping.clone()),
    );
    let router = router(s.clone());
    let pr = async move {
        // The proxy's listener is closed for an outage (control API) and bound again after it,
        // so clients see real refused connections, as when a proxy restarts.
        loop {
            let p = crate::serve::bind(proxy)?;
            let down = s.clone();
            let stop = stopped(stopping.clone());
            crate::serve::serve(p, router.clone(), conns.clone(), async move {
                tokio::select! {
                    () = down.outage.notified() => {}
                    () = stop => {}
                }
            })
            .await?;
            if *stopping.borrow() {
                return Ok::<(), std::io::Error>(());
            }
            let ms = s.outage_ms.load(Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    };
    tokio::try_join!(pr, hr)?;
    Ok(())
}
