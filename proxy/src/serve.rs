//! How the proxy holds connections: a header-read timeout that also ends idle keep-alive
//! connections, a global cap on connections served at once, and the open-file limit raised at
//! start so the cap fits under it. Without these, about 1,100 idle or half-sent connections
//! held a proxy under a 1,024 open-file limit until nothing else could connect.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// File descriptors kept for everything but client connections: the listener, calls to gu1,
/// logs, the runtime.
pub const RESERVED_FILES: u64 = 64;

/// Connection limits.
#[derive(Clone, Debug)]
pub struct Connections {
    /// Time a client has to send a request's headers, and to start the next request on an idle
    /// keep-alive connection; past it the connection is closed.
    pub header_timeout: Duration,
    /// Connections served at once; further clients wait in the listen backlog until one ends.
    pub max: usize,
    /// Time connections get to finish at shutdown.
    pub drain: Duration,
}

impl Default for Connections {
    /// 10 s for headers and idle keep-alive, 1,024 connections at once.
    fn default() -> Self {
        Connections {
            header_timeout: Duration::from_secs(10),
            max: 1024,
            drain: Duration::from_secs(5),
        }
    }
}

impl Connections {
    /// These limits with `max` lowered to fit under an open-file limit of `open_files`.
    pub fn within(mut self, open_files: u64) -> Connections {
        let room = open_files.saturating_sub(RESERVED_FILES).max(1);
        self.max = self
            .max
            .min(usize::try_from(room).unwrap_or(usize::MAX))
            .max(1);
        self
    }
}

/// Raises the soft open-file limit to the hard one where the system allows it and returns the
/// limit in force (the connection cap must then fit under it; the caller logs when it does not).
pub fn raise_open_file_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or_else(|e| {
        eprintln!(
            "{}",
            json!({"event": "open_file_limit", "message": format!("could not raise the open-file limit: {e}")})
        );
        rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
    })
}

/// Serves `router` on `listener` with the limits of `conns` until `shutdown` completes, then
/// stops accepting and gives open connections `conns.drain` to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    conns: Connections,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(conns.max.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(conns.header_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: wait a little.
                    eprintln!("{}", json!({"event": "accept_error", "message": e.to_string()}));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                crate::middleware::log_rejected(&e);
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(conns.drain, graceful.shutdown()).await;
    Ok(())
}
