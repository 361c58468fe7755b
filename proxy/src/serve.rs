//! How the proxy holds connections: a header-read timeout that also ends idle keep-alive
//! connections, a cap on connections served at once and one per client address, both refusing
//! at once (503) rather than queueing, and a budget of open files that counts the proxy's own
//! sockets to gu1 as well as the browsers'. Without these, about 1,100 idle or half-sent
//! connections held a proxy under a 1,024 open-file limit until nothing else could connect, a
//! client reopening its connections as they were cut kept every slot, and slow gu1 calls ran
//! the process out of file descriptors.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// File descriptors kept for everything but connections: the listeners, the runtime, standard
/// streams, Redis, the metrics listener and its scrapers.
pub const RESERVED_FILES: u64 = 32;

/// Connection limits.
#[derive(Clone, Debug)]
pub struct Connections {
    /// The listener's name in the metrics: `proxy`, `hosted`, `metrics`.
    pub name: &'static str,
    /// Time a client has to send a request's headers, and to start the next request on an idle
    /// keep-alive connection; past it the connection is closed.
    pub header_timeout: Duration,
    /// Connections served at once; past it a new one is answered 503 and closed at once.
    pub max: usize,
    /// Connections one client address may hold at once (0: no cap); past it, 503 at once.
    pub max_per_client: usize,
    /// Connections being refused at once (each waits a moment for its request to answer it
    /// 503); past it a refused connection whose request has not arrived is just closed.
    pub refusing: usize,
    /// Time connections get to finish at shutdown.
    pub drain: Duration,
}

impl Default for Connections {
    /// 10 s for headers and idle keep-alive, 1,024 connections at once, 64 per client address,
    /// 64 being refused at once.
    fn default() -> Self {
        Connections {
            name: "proxy",
            header_timeout: Duration::from_secs(10),
            max: 1024,
            max_per_client: 64,
            refusing: 64,
            drain: Duration::from_secs(5),
        }
    }
}

/// What the proxy's open files go to: browser connections, connections being refused, gu1
/// calls in flight and idle sockets kept for gu1, within the open-file limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileBudget {
    /// The open-file limit in force.
    pub limit: u64,
    /// Browser connections served at once.
    pub connections: usize,
    /// Browser connections being refused at once.
    pub refusing: usize,
    /// gu1 calls in flight at once (each holds a socket).
    pub gu1_calls: usize,
    /// Idle sockets kept open to gu1 for the next calls.
    pub gu1_idle: usize,
}

impl FileBudget {
    /// The wanted figures, lowered to fit under `limit` with [`RESERVED_FILES`] kept aside:
    /// the gu1 side first (at most a quarter of the room for calls, a sixteenth for idle
    /// sockets), then refusals (a sixteenth), and browser connections get the rest.
    pub fn within(limit: u64, wanted: &FileBudget) -> FileBudget {
        let room = usize::try_from(limit.saturating_sub(RESERVED_FILES))
            .unwrap_or(usize::MAX)
            .max(8);
        let gu1_calls = wanted.gu1_calls.min(room / 4).max(1);
        let gu1_idle = wanted.gu1_idle.min(room / 16);
        let refusing = wanted.refusing.min(room / 16).max(1);
        let left = room.saturating_sub(gu1_calls + gu1_idle + refusing).max(1);
        FileBudget {
            limit,
            connections: wanted.connections.min(left).max(1),
            refusing,
            gu1_calls,
            gu1_idle,
        }
    }

    /// Files this budget may hold open at once, reserve included.
    pub fn total(&self) -> u64 {
        (self.connections + self.refusing + self.gu1_calls + self.gu1_idle) as u64 + RESERVED_FILES
    }
}

/// Raises the soft open-file limit to the hard one where the system allows it and returns the
/// limit in force (the budget must then fit under it; the caller logs when it does not).
pub fn raise_open_file_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or_else(|e| {
        tracing::warn!(
            event = "open_file_limit",
            error = %e,
            "could not raise the open-file limit"
        );
        rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
    })
}

/// Connections held per client address.
#[derive(Debug, Default)]
struct Clients {
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection's place: a global permit and its client's count, both given back on drop.
#[derive(Debug)]
struct Slot {
    _permit: OwnedSemaphorePermit,
    client: Option<(Arc<Clients>, IpAddr)>,
    listener: &'static str,
}

impl Drop for Slot {
    fn drop(&mut self) {
        crate::telemetry::connections(self.listener, -1.0);
        if let Some((clients, ip)) = &self.client {
            let mut held = clients.held.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = held.get_mut(ip) {
                *n -= 1;
                if *n == 0 {
                    held.remove(ip);
                }
            }
        }
    }
}

/// The places of `conns`: global and per client.
#[derive(Debug)]
struct Places {
    listener: &'static str,
    permits: Arc<Semaphore>,
    clients: Arc<Clients>,
    per_client: usize,
    refusals: Arc<Semaphore>,
}

impl Places {
    fn new(conns: &Connections) -> Places {
        Places {
            listener: conns.name,
            permits: Arc::new(Semaphore::new(conns.max.max(1))),
            clients: Arc::new(Clients::default()),
            per_client: conns.max_per_client,
            refusals: Arc::new(Semaphore::new(conns.refusing.max(1))),
        }
    }

    /// A place for a connection from `ip`, or what is full: the proxy (`connections`) or that
    /// client's share (`client_connections`).
    fn admit(&self, ip: IpAddr) -> Result<Slot, &'static str> {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            return Err("connections");
        };
        let client = if self.per_client == 0 {
            None
        } else {
            let ip = ip.to_canonical();
            let mut held = self.clients.held.lock().unwrap_or_else(|p| p.into_inner());
            let n = held.entry(ip).or_insert(0);
            if *n >= self.per_client {
                return Err("client_connections");
            }
            *n += 1;
            Some((self.clients.clone(), ip))
        };
        crate::telemetry::connections(self.listener, 1.0);
        Ok(Slot {
            _permit: permit,
            client,
            listener: self.listener,
        })
    }
}

/// The answer to a connection refused for lack of room: 503 with `Retry-After: 1`, then the
/// connection is closed. Written as soon as the request starts to arrive, without parsing it:
/// a refusal must cost next to nothing.
fn busy() -> &'static [u8] {
    static BUSY: LazyLock<Vec<u8>> = LazyLock::new(|| {
        let body = json!({"code": "UPSTREAM_BUSY",
            "message": "the proxy is at its connection limit, try again"})
        .to_string();
        format!(
            "HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncache-control: no-store\r\n\
             content-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
    &BUSY
}

/// Refuses `stream` with [`busy`]: at once when its request has arrived, else when it starts
/// to (a quarter of a second at most, while few refusals are under way; past that the
/// connection is just closed). What the client sent is read before the close, so the close
/// does not turn into a reset that loses the answer.
fn refuse(stream: TcpStream, refusals: &Arc<Semaphore>) {
    let mut sink = [0u8; 2048];
    let arrived = matches!(stream.try_read(&mut sink), Ok(n) if n > 0);
    let permit = refusals.clone().try_acquire_owned().ok();
    if arrived {
        // A fresh socket's send buffer is empty: this small write completes at once.
        let _ = stream.try_write(busy());
    }
    let Some(permit) = permit else {
        return;
    };
    tokio::spawn(async move {
        let mut stream = stream;
        if !arrived {
            let started = tokio::time::timeout(Duration::from_millis(250), stream.readable()).await;
            if !matches!(started, Ok(Ok(()))) {
                return;
            }
            let _ = stream.try_read(&mut sink);
            let _ = stream.write_all(busy()).await;
        }
        let _ = stream.shutdown().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
            if n == 0 {
                break;
            }
        }
        drop(permit);
    });
}

/// A listener on `addr` with a backlog of 4,096 connections not yet accepted (tokio's `bind`
/// gives 1,024), so bursts of connections, refused ones included, do not overflow it and make
/// other clients' connection attempts wait a retransmission (a second).
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Serves `router` on `listener` with the limits of `conns` until `shutdown` completes, then
/// stops accepting and gives open connections `conns.drain` to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    conns: Connections,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let places = Places::new(&conns);
    crate::telemetry::connections_max(conns.name, conns.max);
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(conns.header_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // A connection reset before accept; out of file descriptors should not
                    // happen within the budget, but must not spin.
                    tracing::error!(event = "accept_error", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Past either cap the client hears so at once, instead of waiting in the backlog
        // behind connections that may never finish.
        let slot = match places.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(full) => {
                crate::telemetry::shed(full);
                refuse(stream, &places.refusals);
                continue;
            }
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
            drop(slot);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(conns.drain, graceful.shutdown()).await;
    Ok(())
}
