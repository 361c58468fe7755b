//! What an operator watches besides the log (issue 28, items 13 and 14): Prometheus metrics on
//! their own listener, checked with `promtool check metrics` (Debian's `prometheus` package;
//! scripts/setup.sh installs it) and moving as the traffic does; `/health` and `/ready`, which
//! answers 503 while the proxy drains at shutdown.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod support;
use support::{free_port, listening, Proc};

/// The binary in simulate mode with `extra` flags: the proxy's URL and the process.
fn simulator(extra: &[&str]) -> (String, Proc) {
    let (port, hosted) = (free_port(), free_port());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_gu1-kyc-proxy"))
        .args(["simulate", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--hosted-listen", &format!("127.0.0.1:{hosted}")])
        .args([
            "--sim-webhooks",
            "off",
            "--webhook-secret",
            "whsec-operations",
        ])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let child = Proc(Some(child));
    let addr = listening(port, "the simulator");
    (format!("http://{addr}"), child)
}

/// A new simulated session (its token and ids) from the simulator's control API.
async fn new_session(http: &reqwest::Client, base: &str) -> Value {
    http.post(format!("{base}/__control/sessions"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The samples of a Prometheus text exposition, by series (`name{labels}` as written).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// `promtool check metrics` on `text`: its verdict and what it said.
fn promtool(text: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is not installed (Debian's prometheus package; scripts/setup.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

async fn scrape(http: &reqwest::Client, metrics: &str) -> (String, BTreeMap<String, f64>) {
    let r = http.get(format!("{metrics}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    let s = samples(&text);
    (text, s)
}

fn at(s: &BTreeMap<String, f64>, series: &str) -> f64 {
    s.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_on_their_own_listener_pass_promtool_and_move_with_the_traffic() {
    let mport = free_port();
    let metrics = format!("http://127.0.0.1:{mport}");
    let (base, _child) = simulator(&["--metrics-listen", &format!("127.0.0.1:{mport}")]);
    let http = reqwest::Client::new();
    let (text, before) = scrape(&http, &metrics).await;
    let (ok, said) = promtool(&text);
    assert!(ok, "promtool: {said}\n{text}");
    assert_eq!(
        at(
            &before,
            r#"gu1_kyc_proxy_build_info{version="0.1.0",mode="simulate"}"#
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        at(
            &before,
            r#"gu1_kyc_proxy_connections_max{listener="proxy"}"#
        ),
        1024.0
    );
    // Never on the public port.
    let public = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);

    let s = new_session(&http, &base).await;
    let tok = s["token"].as_str().unwrap();
    let status = |bearer: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.get(format!("{base}/kyc/status"))
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..5 {
        assert_eq!(status(tok.to_owned()).await.status(), 200);
    }
    assert_eq!(status("forged".into()).await.status(), 401);
    let hook = http
        .post(format!("{base}/webhooks/gu1"))
        .header("X-Webhook-Signature", "ab".repeat(32))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 401);
    // A held request, seen while it is held, then ending unchanged.
    let tag = status(tok.to_owned()).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let held = {
        let (http, base, tok, tag) = (http.clone(), base.clone(), tok.to_owned(), tag.clone());
        tokio::spawn(async move {
            http.get(format!("{base}/kyc/status"))
                .bearer_auth(tok)
                .header("If-None-Match", tag)
                .header("Prefer", "wait=1")
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, during) = scrape(&http, &metrics).await;
    assert_eq!(at(&during, "gu1_kyc_proxy_held_requests"), 1.0);
    assert_eq!(held.await.unwrap(), 304);
    let (text, after) = scrape(&http, &metrics).await;
    let (ok, said) = promtool(&text);
    assert!(ok, "promtool: {said}\n{text}");
    let moved = |series: &str| at(&after, series) - at(&before, series);
    assert_eq!(
        moved(r#"gu1_kyc_proxy_requests_total{route="/kyc/status",status="2xx"}"#),
        6.0,
        "{text}"
    );
    assert_eq!(
        moved(r#"gu1_kyc_proxy_requests_total{route="/kyc/status",status="4xx"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"gu1_kyc_proxy_requests_total{route="/kyc/status",status="3xx"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"gu1_kyc_proxy_request_duration_seconds_count{route="/kyc/status"}"#),
        8.0
    );
    assert!(moved(r#"gu1_kyc_proxy_request_duration_seconds_sum{route="/kyc/status"}"#) >= 1.0);
    assert_eq!(
        moved(r#"gu1_kyc_proxy_webhooks_total{outcome="invalid_signature"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"gu1_kyc_proxy_gu1_calls_total{call="current",outcome="ok"}"#),
        7.0,
        "one gu1 read per authorized status request"
    );
    assert_eq!(
        moved(r#"gu1_kyc_proxy_held_total{outcome="unchanged"}"#),
        1.0
    );
    assert_eq!(at(&after, "gu1_kyc_proxy_held_requests"), 0.0);
    assert!(
        at(
            &after,
            r#"gu1_kyc_proxy_request_duration_seconds_bucket{route="/kyc/status",le="+Inf"}"#
        ) >= 8.0
    );
}

#[tokio::test]
async fn ready_answers_503_while_draining_and_health_stays_cheap() {
    let (base, mut child) = simulator(&["--shutdown-grace-secs", "2"]);
    let http = reqwest::Client::new();
    let get = |path: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let r = http.get(format!("{base}{path}")).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(get("/ready").await, (200, json!({"ready": true})));
    assert_eq!(get("/health").await, (200, json!({"ok": true})));
    let s = new_session(&http, &base).await;
    let tok = s["token"].as_str().unwrap().to_owned();
    let tag = http
        .get(format!("{base}/kyc/status"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let held = {
        let (http, base, tok, tag) = (http.clone(), base.clone(), tok.clone(), tag.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let r = http
                .get(format!("{base}/kyc/status"))
                .bearer_auth(tok)
                .header("If-None-Match", tag)
                .header("Prefer", "wait=20")
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), started)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.0.as_ref().unwrap().id();
    let term = Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let (code, _) = held.await.unwrap();
    assert_eq!(code, 304);
    assert!(
        term.elapsed() < Duration::from_millis(800),
        "held answered at once"
    );
    // Draining: not ready, still alive and still serving.
    assert_eq!(
        get("/ready").await,
        (503, json!({"ready": false, "draining": true}))
    );
    assert_eq!(get("/health").await, (200, json!({"ok": true})));
    let r = http
        .get(format!("{base}/kyc/status"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "requests are still answered during the grace"
    );
    // The grace served, the process stops.
    let exited = child.exited().await;
    let status = exited.expect("stopped after the grace");
    assert!(status.success(), "{status:?}");
    let took = term.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(5),
        "{took:?}"
    );
}
