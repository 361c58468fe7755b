//! What the proxy's test files share: free ports, servers on them, child processes that end with
//! the test. Each test file is its own crate and uses part of it.
#![allow(dead_code)]

use std::net::SocketAddr;

/// A loopback port nobody listens on (just now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `router` served on a free loopback port, in a task of the test's runtime; its address.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A child process, killed when the test ends, also when it fails.
pub struct Proc(pub Option<std::process::Child>);

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Proc {
    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, std::process::Child::id)
    }

    /// Waits for it to end by itself.
    pub fn wait_with_output(mut self) -> std::io::Result<std::process::Output> {
        self.0.take().expect("running").wait_with_output()
    }

    /// Stops it; what it wrote on stdout and stderr.
    pub fn output(mut self) -> String {
        let mut c = self.0.take().expect("running");
        let _ = c.kill();
        let out = c.wait_with_output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

/// Waits (up to 5 s) until something listens on loopback `port`; its address. `what` names it
/// in the failure.
pub fn listening(port: u16, what: &str) -> SocketAddr {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let up = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpStream::connect(addr).is_ok()
    });
    assert!(up, "{what} did not start");
    addr
}

impl Proc {
    /// Waits up to 5 s for it to end by itself: its exit status, or `None` while it still runs.
    pub async fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let c = self.0.as_mut().expect("running");
        for _ in 0..100 {
            if let Some(status) = c.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }
}
