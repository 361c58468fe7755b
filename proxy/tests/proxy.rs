//! The proxy over real HTTP on 127.0.0.1: simulate mode, and upstream mode in front of the
//! simulator's gu1 API (and in front of servers that hang or are gone).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gu1_kyc_proxy::limit::Limiter;
use gu1_kyc_proxy::middleware::Origins;
use gu1_kyc_proxy::routes;
use gu1_kyc_proxy::sim::{self, Simulate, SIM_API_KEY};
use gu1_kyc_proxy::state::App;
use gu1_kyc_proxy::token::{self, Claims, Kind, Tokens};
use gu1_kyc_proxy::upstream::Upstream;
use serde_json::{json, Value};

mod contract;

const SECRET: &[u8] = b"proxy-test-secret-0123456789";
const WEBHOOK_SECRET: &[u8] = b"whsec-test";

/// The simulator (playing gu1) and an upstream-mode proxy in front of it.
struct Rig {
    gu1: String,
    proxy: String,
    http: reqwest::Client,
}

/// The simulator's router, playing gu1 (its REST API) and serving the control API.
fn simulated_gu1() -> axum::Router {
    let s = Simulate::new(
        "http://127.0.0.1:9",
        Tokens::shared_secret(b"sim-secret"),
        Duration::from_secs(1800),
        |_| {},
    );
    sim::router(Arc::new(s))
}

async fn rig_with(configure: impl FnOnce(&mut App)) -> Rig {
    let gu1 = serve(simulated_gu1()).await;
    let upstream = Upstream::new(
        &format!("http://{gu1}"),
        SIM_API_KEY.into(),
        Duration::from_secs(2),
    )
    .unwrap();
    let mut app = App::new(Arc::new(upstream), Tokens::shared_secret(SECRET));
    app.origins = Origins::List(vec!["https://shop.example".into()]);
    app.webhook_secret = Some(WEBHOOK_SECRET.to_vec());
    configure(&mut app);
    let proxy = serve(routes::router(Arc::new(app))).await;
    Rig {
        gu1: format!("http://{gu1}"),
        proxy: format!("http://{proxy}"),
        http: reqwest::Client::new(),
    }
}

async fn rig() -> Rig {
    rig_with(|_| {}).await
}

fn mint(entity: &str, kind: Kind, session: Option<&str>, ttl: i64) -> String {
    let expires = (token::unix_now() as i64 + ttl).max(0) as u64;
    token::mint(
        &Claims {
            entity_id: entity.into(),
            kind,
            session_id: session.map(Into::into),
            expires,
        },
        token::DEFAULT_AUDIENCE,
        SECRET,
    )
}

impl Rig {
    /// A simulated entity (and session unless `start` is false) at "gu1".
    async fn entity(&self, kind: &str, start: bool) -> Value {
        self.http
            .post(format!("{}/__control/sessions", self.gu1))
            .json(&json!({"kind": kind, "start": start}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn set(&self, entity: &str, step: Value) {
        let r = self
            .http
            .post(format!("{}/__control/entities/{entity}/set", self.gu1))
            .json(&step)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    async fn call(&self, method: reqwest::Method, path: &str, token: &str) -> (u16, Value, String) {
        let r = self
            .http
            .request(method.clone(), format!("{}{path}", self.proxy))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        contract::assert(method.as_str(), path, status, &headers, &text);
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        )
    }

    async fn status(&self, token: &str) -> (u16, Value, String) {
        self.call(reqwest::Method::GET, "/kyc/status", token).await
    }
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn upstream_status_is_trimmed_and_never_carries_the_key() {
    let rig = rig().await;
    let e = rig.entity("kyc", true).await;
    let tok = mint(&s(&e, "entityId"), Kind::Kyc, None, 60);
    let (code, body, text) = rig.status(&tok).await;
    assert_eq!(code, 200, "{text}");
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "completedAt",
            "createdAt",
            "entityId",
            "expiresAt",
            "id",
            "iframeAllow",
            "kind",
            "providerSessionUrl",
            "rejectionCode",
            "rejectionMessage",
            "status",
            "updatedAt"
        ]
    );
    assert_eq!(s(&body, "status"), "pending");
    assert!(s(&body, "providerSessionUrl").contains("/session/"));
    for secret in [
        "extractedData",
        "decision",
        "Lovelace",
        "X1234567",
        SIM_API_KEY,
        "organizationId",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[tokio::test]
async fn biometric_current_null_then_start_then_resume_on_409() {
    let rig = rig().await;
    let e = rig.entity("biometric", false).await;
    let tok = mint(&s(&e, "entityId"), Kind::Biometric, None, 60);
    let (code, body, _) = rig.status(&tok).await;
    assert_eq!(
        (code, body),
        (200, Value::Null),
        "no session yet is 200 null"
    );
    let (code, first, _) = rig.call(reqwest::Method::POST, "/kyc/start", &tok).await;
    assert_eq!(code, 201);
    let (code, again, _) = rig.call(reqwest::Method::POST, "/kyc/start", &tok).await;
    assert_eq!(
        code, 200,
        "gu1's 409 ACTIVE_SESSION_EXISTS is resumed, not an error"
    );
    assert_eq!(s(&again, "id"), s(&first, "id"));
    assert!(s(&again, "sessionUrl").contains(&s(&first, "id")));
}

#[tokio::test]
async fn kyc_current_404_is_not_found_and_start_resumes_the_current_validation() {
    let rig = rig().await;
    let e = rig.entity("kyc", false).await;
    let tok = mint(&s(&e, "entityId"), Kind::Kyc, None, 60);
    let (code, body, _) = rig.status(&tok).await;
    assert_eq!(code, 404);
    assert_eq!(s(&body, "code"), "NOT_FOUND");
    let (code, first, _) = rig.call(reqwest::Method::POST, "/kyc/start", &tok).await;
    assert_eq!(code, 201);
    let (_, again, _) = rig.call(reqwest::Method::POST, "/kyc/start", &tok).await;
    assert_eq!(s(&again, "id"), s(&first, "id"));
}

#[tokio::test]
async fn cancel_works_while_active_and_is_refused_for_a_terminal_session() {
    let rig = rig().await;
    let e = rig.entity("biometric", true).await;
    let tok = mint(&s(&e, "entityId"), Kind::Biometric, None, 60);
    let (code, body, _) = rig.call(reqwest::Method::POST, "/kyc/cancel", &tok).await;
    assert_eq!(code, 200);
    assert_eq!(s(&body, "status"), "cancelled");
    assert!(body["sessionUrl"].is_null(), "no URL once terminal");
    let (code, body, _) = rig.call(reqwest::Method::POST, "/kyc/cancel", &tok).await;
    assert_eq!(code, 409);
    assert_eq!(s(&body, "code"), "SESSION_TERMINAL");

    let e = rig.entity("kyc", true).await;
    rig.set(&s(&e, "entityId"), json!({"status": "approved"}))
        .await;
    let tok = mint(&s(&e, "entityId"), Kind::Kyc, None, 60);
    let (code, body, _) = rig.call(reqwest::Method::POST, "/kyc/cancel", &tok).await;
    assert_eq!(
        (code, s(&body, "code")),
        (409, "SESSION_TERMINAL".to_owned())
    );
}

#[tokio::test]
async fn forged_expired_and_cross_entity_tokens_are_refused() {
    let rig = rig().await;
    let mine = rig.entity("biometric", true).await;
    let theirs = rig.entity("biometric", true).await;
    let me = s(&mine, "entityId");

    let forged = token::mint(
        &Claims {
            entity_id: me.clone(),
            kind: Kind::Biometric,
            session_id: None,
            expires: token::unix_now() + 60,
        },
        token::DEFAULT_AUDIENCE,
        b"another-secret",
    );
    for (tok, why) in [
        (forged.as_str(), "signature"),
        ("eyJhbGciOiJIUzI1NiJ9.e30.AAAA", "signature"),
        ("not-a-token", "malformed"),
        ("", "required"),
    ] {
        let (code, body, _) = rig.status(tok).await;
        assert_eq!(code, 401, "{why}");
        assert_eq!(s(&body, "code"), "UNAUTHORIZED");
    }
    let expired = mint(&me, Kind::Biometric, None, -30);
    let (code, body, _) = rig.status(&expired).await;
    assert_eq!(
        (code, s(&body, "message")),
        (401, "the token has expired".to_owned())
    );

    // A valid token for my entity, pinned to their session: never visible.
    let cross = mint(&me, Kind::Biometric, Some(&s(&theirs, "id")), 60);
    let (code, body, text) = rig.status(&cross).await;
    assert_eq!(code, 404, "{text}");
    assert_eq!(s(&body, "code"), "NOT_FOUND");
    assert!(!text.contains(&s(&theirs, "entityId")));
    let (code, _, _) = rig.call(reqwest::Method::POST, "/kyc/cancel", &cross).await;
    assert_eq!(code, 404, "nor cancellable");
    let (_, theirs_now, _) = rig
        .status(&mint(&s(&theirs, "entityId"), Kind::Biometric, None, 60))
        .await;
    assert_eq!(s(&theirs_now, "status"), "pending");
}

/// Now plus `offset` seconds, as gu1 writes times (RFC 3339, UTC).
fn iso(offset: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn sign_hex(body: &[u8]) -> String {
    gu1_kyc_proxy::sim::outbox::sign(WEBHOOK_SECRET, body)
}

#[tokio::test]
async fn signed_webhook_makes_the_next_answer_fresh_and_bad_signatures_are_refused() {
    let rig = rig().await;
    let e = rig.entity("biometric", true).await;
    let (entity, id) = (s(&e, "entityId"), s(&e, "id"));
    let body = serde_json::to_vec(&json!({
        "event": "biometric.session_approved", "timestamp": iso(0), "organizationId": "o",
        "payload": {"id": id, "entityId": entity, "status": "approved", "completedAt": iso(0)}
    }))
    .unwrap();
    let post = |sig: String, body: Vec<u8>| {
        rig.http
            .post(format!("{}/webhooks/gu1", rig.proxy))
            .header("X-Webhook-Signature", sig)
            .body(body)
            .send()
    };
    let mut tampered = body.clone();
    *tampered.last_mut().unwrap() = b' ';
    for (sig, b) in [
        (sign_hex(&body), tampered),
        ("00".repeat(32), body.clone()),
        (String::new(), body.clone()),
    ] {
        let r = post(sig, b).await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    let tok = mint(&entity, Kind::Biometric, None, 60);
    assert_eq!(
        s(&rig.status(&tok).await.1, "status"),
        "pending",
        "gu1 itself still says pending"
    );
    let r = post(format!("sha256={}", sign_hex(&body)), body.clone())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, now, _) = rig.status(&tok).await;
    assert_eq!(
        s(&now, "status"),
        "approved",
        "the signed webhook's terminal status is served at once"
    );
}

#[tokio::test]
async fn upstream_that_hangs_is_504_and_one_that_is_gone_is_502() {
    // A server that accepts connections and never answers.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_addr = hang.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = hang.accept().await {
            held.push(sock);
        }
    });
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    for (addr, expect, code) in [
        (hang_addr, 504, "UPSTREAM_TIMEOUT"),
        (gone, 502, "UPSTREAM_ERROR"),
    ] {
        let up = Upstream::new(
            &format!("http://{addr}"),
            "sk_test_key_never_shown".into(),
            Duration::from_millis(300),
        )
        .unwrap();
        let proxy = serve(routes::router(Arc::new(App::new(
            Arc::new(up),
            Tokens::shared_secret(SECRET),
        ))))
        .await;
        let r = reqwest::Client::new()
            .get(format!("http://{proxy}/kyc/status"))
            .bearer_auth(mint("ent", Kind::Biometric, None, 60))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), expect);
        let text = r.text().await.unwrap();
        assert!(text.contains(code), "{text}");
        assert!(!text.contains("sk_test_key_never_shown"));
    }
}

#[tokio::test]
async fn per_token_rate_limit_answers_429_with_retry_after() {
    let rig = rig_with(|app| app.limiter = Limiter::new(1.0, 2.0)).await;
    let e = rig.entity("biometric", true).await;
    let tok = mint(&s(&e, "entityId"), Kind::Biometric, None, 60);
    assert_eq!(rig.status(&tok).await.0, 200);
    assert_eq!(rig.status(&tok).await.0, 200);
    let r = rig
        .http
        .get(format!("{}/kyc/status", rig.proxy))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry));
    // Another token is not affected.
    let other = rig.entity("biometric", true).await;
    assert_eq!(
        rig.status(&mint(&s(&other, "entityId"), Kind::Biometric, None, 60))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn cors_allow_list_and_request_size_limit() {
    let rig = rig().await;
    let ok = rig
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/kyc/status", rig.proxy),
        )
        .header("Origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert!(ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase()
        .contains("authorization"));
    let evil = rig
        .http
        .get(format!("{}/kyc/status", rig.proxy))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    let big = rig
        .http
        .post(format!("{}/kyc/cancel", rig.proxy))
        .bearer_auth(mint("e", Kind::Biometric, None, 60))
        .body(vec![b'x'; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status().as_u16(), 413);
}

/// A status request whose client hangs up before the (delayed) answer is logged as aborted,
/// when the proxy notices, not when the answer would have been ready; an answered one is not.
#[tokio::test]
async fn a_request_the_client_abandons_is_logged_as_aborted() {
    use tokio::io::AsyncWriteExt;
    let s = Arc::new(Simulate::new(
        "http://127.0.0.1:9",
        Tokens::shared_secret(b"log-test-secret"),
        Duration::from_secs(1800),
        |_| {},
    ));
    let addr = serve(sim::router(s.clone())).await;
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("http://{addr}/__control/sessions"))
        .json(&json!({"faults": [{"delayMs": 3000}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (entity, token) = (
        created["entityId"].as_str().unwrap(),
        created["token"].as_str().unwrap(),
    );
    let log = || s.sim.requests(entity).unwrap();

    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /kyc/status HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        log().is_empty(),
        "nothing logged while the answer is pending"
    );
    let hung_up = s.sim.clock_ms();
    drop(conn);
    let mut waited = 0;
    while log().is_empty() && waited < 1_000 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 20;
    }
    let entries = log();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert!(
        e.aborted && e.status == 0 && e.endpoint == "status",
        "{e:?}"
    );
    assert!(
        e.at_ms - hung_up < 1_000,
        "logged when the client left: {e:?}"
    );

    let r = http
        .get(format!("http://{addr}/kyc/status"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let entries = log();
    assert_eq!(entries.len(), 2);
    assert!(
        !entries[1].aborted && entries[1].status == 200,
        "{:?}",
        entries[1]
    );
    // A refused token is logged under the entity it names, as not authorized.
    let r = http
        .get(format!("http://{addr}/kyc/status"))
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let entries = log();
    assert_eq!(entries.len(), 3);
    assert!(
        !entries[2].authorized && entries[2].status == 401,
        "{:?}",
        entries[2]
    );
}

/// A stand-in gu1 that records every path it is asked for and answers 404 `NOT_FOUND`.
async fn recording_gu1() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let router = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(uri.path().to_owned());
            (
                axum::http::StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "NOT_FOUND", "message": "not found"})),
            )
        }
    });
    (format!("http://{}", serve(router).await), seen)
}

#[tokio::test]
async fn dot_segments_in_token_ids_never_walk_to_another_gu1_route() {
    let (gu1, seen) = recording_gu1().await;
    let up = Upstream::new(&gu1, SIM_API_KEY.into(), Duration::from_secs(2)).unwrap();
    let proxy = serve(routes::router(Arc::new(App::new(
        Arc::new(up),
        Tokens::shared_secret(SECRET),
    ))))
    .await;
    let http = reqwest::Client::new();
    for (entity, session) in [
        ("..", None),
        (".", None),
        ("ent", Some("..")),
        ("ent", Some(".")),
    ] {
        for kind in [Kind::Biometric, Kind::Kyc] {
            for (method, path) in [("GET", "/kyc/status"), ("POST", "/kyc/cancel")] {
                let r = http
                    .request(method.parse().unwrap(), format!("http://{proxy}{path}"))
                    .bearer_auth(mint(entity, kind, session, 60))
                    .send()
                    .await
                    .unwrap();
                assert!(
                    r.status().is_client_error(),
                    "{entity} {session:?} {path}: {}",
                    r.status()
                );
            }
        }
    }
    // Every path gu1 was asked for is one of its documented routes with a real id in it.
    let documented = [
        "/api/kyc/biometric/sessions/",
        "/api/kyc/biometric/entities/",
        "/api/kyc/validations/",
        "/api/kyc/entities/",
    ];
    for path in seen.lock().unwrap().iter() {
        assert!(
            documented
                .iter()
                .any(|p| path.starts_with(p) && !path[p.len()..].starts_with('/'))
                && !path.contains("/./")
                && !path.ends_with('/'),
            "the proxy asked gu1 for {path}"
        );
    }
}

#[tokio::test]
async fn a_webhook_status_is_served_only_for_its_time_to_live() {
    use gu1_kyc_proxy::fresh::Fresh;
    let rig = rig_with(|app| app.fresh = Fresh::new(Duration::from_millis(400), 100)).await;
    let e = rig.entity("biometric", true).await;
    let (entity, id) = (s(&e, "entityId"), s(&e, "id"));
    let body = serde_json::to_vec(&json!({
        "event": "biometric.session_approved", "timestamp": iso(0),
        "payload": {"id": id, "entityId": entity, "status": "approved"}
    }))
    .unwrap();
    let r = rig
        .http
        .post(format!("{}/webhooks/gu1", rig.proxy))
        .header("X-Webhook-Signature", sign_hex(&body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let tok = mint(&entity, Kind::Biometric, None, 60);
    assert_eq!(s(&rig.status(&tok).await.1, "status"), "approved");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        s(&rig.status(&tok).await.1, "status"),
        "pending",
        "after its time to live the webhook's payload is gone and gu1's read is served"
    );
}

#[tokio::test]
async fn every_status_answer_says_no_store() {
    let rig = rig_with(|app| app.limiter = Limiter::new(0.5, 1.0)).await;
    let bio = rig.entity("biometric", false).await;
    let kyc = rig.entity("kyc", false).await;
    let with_session = rig.entity("biometric", true).await;
    let get = |tok: String, origin: bool| {
        let mut r = rig
            .http
            .get(format!("{}/kyc/status", rig.proxy))
            .bearer_auth(tok);
        if origin {
            r = r.header("Origin", "https://shop.example");
        }
        r.send()
    };
    let answers = [
        (
            "200 session",
            get(
                mint(&s(&with_session, "entityId"), Kind::Biometric, None, 60),
                true,
            )
            .await,
        ),
        (
            "200 null",
            get(mint(&s(&bio, "entityId"), Kind::Biometric, None, 60), false).await,
        ),
        (
            "404",
            get(mint(&s(&kyc, "entityId"), Kind::Kyc, None, 60), true).await,
        ),
        ("401", get("forged".into(), true).await),
        (
            "429",
            get(mint(&s(&kyc, "entityId"), Kind::Kyc, None, 60), true).await,
        ),
        (
            "preflight",
            rig.http
                .request(
                    reqwest::Method::OPTIONS,
                    format!("{}/kyc/status", rig.proxy),
                )
                .header("Origin", "https://shop.example")
                .header("Access-Control-Request-Method", "GET")
                .send()
                .await,
        ),
    ];
    let mut statuses = Vec::new();
    for (what, r) in answers {
        let r = r.unwrap();
        statuses.push(r.status().as_u16());
        let method = if what == "preflight" {
            "OPTIONS"
        } else {
            "GET"
        };
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        contract::assert(
            method,
            "/kyc/status",
            status,
            &headers,
            &r.text().await.unwrap(),
        );
        assert_eq!(
            headers.get("cache-control").map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{what}"
        );
    }
    assert_eq!(statuses, [200, 200, 404, 401, 429, 200]);
}

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Signs arbitrary claims with `alg`, `key` and an optional `kid`.
fn sign(
    alg: jsonwebtoken::Algorithm,
    key: &jsonwebtoken::EncodingKey,
    kid: Option<&str>,
    claims: &Value,
) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = kid.map(Into::into);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn claims_for(entity: &str, aud: &str, exp_in: i64) -> Value {
    let now = token::unix_now() as i64;
    json!({"sub": entity, "kind": "biometric", "exp": now + exp_in, "iat": now, "aud": aud})
}

#[tokio::test]
async fn public_key_tokens_eddsa_pem_and_es256_jwks() {
    use jsonwebtoken::{Algorithm, EncodingKey};
    let ed_private = EncodingKey::from_ed_pem(&key_file("ed25519-private.pem")).unwrap();
    let es1 = EncodingKey::from_ec_pem(&key_file("es256-1-private.pem")).unwrap();
    let es2 = EncodingKey::from_ec_pem(&key_file("es256-2-private.pem")).unwrap();
    let ed_public = key_file("ed25519-public.pem");
    let ed_tokens = Tokens::public_key_pem(Algorithm::EdDSA, &ed_public).unwrap();
    let jwks = String::from_utf8(key_file("es256.jwks.json")).unwrap();
    let es_tokens = Tokens::jwks(Algorithm::ES256, &jwks)
        .unwrap()
        .with_audience("shop-proxy");
    assert!(
        ed_tokens
            .mint(&Claims {
                entity_id: "e".into(),
                kind: Kind::Biometric,
                session_id: None,
                expires: token::unix_now() + 60
            })
            .is_none(),
        "a proxy holding a public key cannot mint"
    );

    let ed = rig_with(|app| app.tokens = ed_tokens).await;
    let es = rig_with(|app| app.tokens = es_tokens).await;
    let e = ed.entity("biometric", true).await;
    let entity = s(&e, "entityId");
    let on_ed = |c: &Value| sign(Algorithm::EdDSA, &ed_private, None, c);
    let aud = token::DEFAULT_AUDIENCE;
    let (code, body, _) = ed.status(&on_ed(&claims_for(&entity, aud, 60))).await;
    assert_eq!(
        (code, s(&body, "id")),
        (200, s(&e, "id")),
        "EdDSA with the PEM public key"
    );
    // Algorithm confusion: HS256 signed with the public key's PEM text as the secret.
    let confused = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(&ed_public),
        None,
        &claims_for(&entity, aud, 60),
    );
    // An ES256 token to an EdDSA proxy, and EdDSA tokens that are expired or for another audience.
    for (why, tok) in [
        ("HS256 with the public key as secret", confused),
        (
            "ES256 to an EdDSA proxy",
            sign(Algorithm::ES256, &es1, None, &claims_for(&entity, aud, 60)),
        ),
        ("expired", on_ed(&claims_for(&entity, aud, -60))),
        (
            "another audience",
            on_ed(&claims_for(&entity, "another-proxy", 60)),
        ),
    ] {
        assert_eq!(ed.status(&tok).await.0, 401, "{why}");
    }

    let e = es.entity("biometric", true).await;
    let entity = s(&e, "entityId");
    for (kid, key) in [("es256-1", &es1), ("es256-2", &es2)] {
        let tok = sign(
            Algorithm::ES256,
            key,
            Some(kid),
            &claims_for(&entity, "shop-proxy", 60),
        );
        assert_eq!(es.status(&tok).await.0, 200, "JWKS key {kid}");
    }
    for (why, tok) in [
        (
            "key 1 named as key 2",
            sign(
                Algorithm::ES256,
                &es1,
                Some("es256-2"),
                &claims_for(&entity, "shop-proxy", 60),
            ),
        ),
        (
            "unknown kid",
            sign(
                Algorithm::ES256,
                &es1,
                Some("es256-9"),
                &claims_for(&entity, "shop-proxy", 60),
            ),
        ),
        (
            "no kid with two keys",
            sign(
                Algorithm::ES256,
                &es1,
                None,
                &claims_for(&entity, "shop-proxy", 60),
            ),
        ),
        (
            "default audience",
            sign(
                Algorithm::ES256,
                &es1,
                Some("es256-1"),
                &claims_for(&entity, aud, 60),
            ),
        ),
    ] {
        assert_eq!(es.status(&tok).await.0, 401, "{why}");
    }
    // A JWKS of another key type is refused when it is read.
    let ed_jwks = String::from_utf8(key_file("ed25519.jwks.json")).unwrap();
    assert!(Tokens::jwks(Algorithm::ES256, &ed_jwks).is_err());
    assert!(Tokens::jwks(Algorithm::EdDSA, &ed_jwks).is_ok());
}

#[tokio::test]
async fn x_organization_id_goes_on_every_gu1_call() {
    let mut simulated = Simulate::new(
        "http://127.0.0.1:9",
        Tokens::shared_secret(b"sim-secret"),
        Duration::from_secs(1800),
        |_| {},
    );
    simulated.organization_id = Some("org_42".into());
    let gu1 = format!("http://{}", serve(sim::router(Arc::new(simulated))).await);
    let proxy_for = |org: Option<&str>| {
        let up = Upstream::new(&gu1, SIM_API_KEY.into(), Duration::from_secs(2))
            .unwrap()
            .with_organization(org.map(Into::into));
        serve(routes::router(Arc::new(App::new(
            Arc::new(up),
            Tokens::shared_secret(SECRET),
        ))))
    };
    let with = proxy_for(Some("org_42")).await;
    let without = proxy_for(None).await;
    let wrong = proxy_for(Some("org_7")).await;
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{gu1}/__control/sessions"))
        .json(&json!({"kind": "kyc", "start": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tok = mint(&s(&created, "entityId"), Kind::Kyc, None, 60);
    let call = |proxy: SocketAddr, method: &str, path: &str| {
        http.request(method.parse().unwrap(), format!("http://{proxy}{path}"))
            .bearer_auth(&tok)
            .send()
    };
    // current (404: none yet), create, current, get (pinned), cancel: every one needs the header.
    assert_eq!(
        call(with, "GET", "/kyc/status").await.unwrap().status(),
        404
    );
    let started: Value = call(with, "POST", "/kyc/start")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s(&started, "status"), "pending");
    assert_eq!(
        call(with, "GET", "/kyc/status").await.unwrap().status(),
        200
    );
    let pinned = mint(
        &s(&created, "entityId"),
        Kind::Kyc,
        Some(&s(&started, "id")),
        60,
    );
    let r = http
        .get(format!("http://{with}/kyc/status"))
        .bearer_auth(&pinned)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r: Value = call(with, "POST", "/kyc/cancel")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s(&r, "status"), "cancelled");
    for proxy in [without, wrong] {
        let r = call(proxy, "GET", "/kyc/status").await.unwrap();
        assert_eq!(r.status(), 502);
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            s(&body, "code"),
            "UPSTREAM_AUTH",
            "a missing or wrong organization is the server's fault"
        );
    }
}

#[tokio::test]
async fn gu1_errors_map_to_the_proxys_stable_codes_and_nothing_of_theirs_is_relayed() {
    let rig = rig().await;
    let detail = "gu1 internal detail 7781";
    let cases = [
        (
            json!({"status": 403, "error": "NOT_ENABLED"}),
            502,
            "VERIFICATION_NOT_ENABLED",
        ),
        (
            json!({"status": 400, "error": "BIOMETRIC_WORKFLOW_NOT_CONFIGURED"}),
            502,
            "VERIFICATION_NOT_CONFIGURED",
        ),
        (
            json!({"status": 400, "error": "NO_PORTRAIT"}),
            422,
            "NO_REFERENCE_PORTRAIT",
        ),
        (
            json!({"status": 404, "error": "ENTITY_NOT_FOUND"}),
            404,
            "ENTITY_NOT_FOUND",
        ),
        (
            json!({"status": 409, "error": "ACTIVE_SESSION_EXISTS", "activeSessionId": "bio_gone"}),
            409,
            "ACTIVE_SESSION_EXISTS",
        ),
        (
            json!({"status": 401, "error": "UNAUTHORIZED"}),
            502,
            "UPSTREAM_AUTH",
        ),
        (
            json!({"status": 429, "error": "RATE_LIMITED"}),
            503,
            "UPSTREAM_BUSY",
        ),
        (
            json!({"status": 500, "error": "INTERNAL_ERROR"}),
            502,
            "UPSTREAM_ERROR",
        ),
        (
            json!({"status": 418, "error": "SOMETHING_NEW"}),
            502,
            "UPSTREAM_REJECTED",
        ),
    ];
    for (mut refusal, http, code) in cases {
        let e = rig.entity("biometric", false).await;
        refusal["message"] = json!(detail);
        let r = rig
            .http
            .post(format!(
                "{}/__control/entities/{}/refuse",
                rig.gu1,
                s(&e, "entityId")
            ))
            .json(&refusal)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let tok = mint(&s(&e, "entityId"), Kind::Biometric, None, 60);
        let (status, body, text) = rig.call(reqwest::Method::POST, "/kyc/start", &tok).await;
        assert_eq!(
            (status, s(&body, "code").as_str()),
            (http, code),
            "{refusal}"
        );
        assert!(
            !text.contains(detail) && !text.contains("bio_gone"),
            "{text}"
        );
        let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["code", "message"], "{text}");
    }
    // The real paths: an entity gu1 does not know, a pinned session it does not have.
    let (status, body, _) = rig
        .call(
            reqwest::Method::POST,
            "/kyc/start",
            &mint("ent_unknown", Kind::Kyc, None, 60),
        )
        .await;
    assert_eq!(
        (status, s(&body, "code").as_str()),
        (404, "ENTITY_NOT_FOUND")
    );
    let e = rig.entity("biometric", true).await;
    let (status, body, _) = rig
        .status(&mint(
            &s(&e, "entityId"),
            Kind::Biometric,
            Some("bio_unknown"),
            60,
        ))
        .await;
    assert_eq!((status, s(&body, "code").as_str()), (404, "NOT_FOUND"));
}

/// The contract check is not a formality: answers that break the contract are caught.
#[test]
fn the_contract_check_refuses_what_the_contract_does_not_allow() {
    use reqwest::header::{HeaderMap, HeaderValue};
    let mut h = HeaderMap::new();
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    let session = json!({"kind": "biometric", "id": "b1", "entityId": "e1", "status": "pending",
        "sessionUrl": "https://hosted.example/s/b1"});
    assert!(contract::check("GET", "/kyc/status", 200, &h, &session.to_string()).is_ok());
    assert!(contract::check("GET", "/kyc/status", 200, &h, "null").is_ok());
    let mut leaky = session.clone();
    leaky["extractedData"] = json!({"firstName": "Ada"});
    for (status, body, why) in [
        (200, leaky.to_string(), "personal data"),
        (
            200,
            json!({"kind": "biometric", "id": "b1"}).to_string(),
            "no status",
        ),
        (200, "<html>".to_string(), "not JSON"),
        (
            401,
            json!({"error": "UNAUTHORIZED"}).to_string(),
            "gu1's error shape",
        ),
        (
            404,
            json!({"code": "GONE", "message": "x"}).to_string(),
            "an undocumented code",
        ),
        (
            403,
            json!({"code": "UNAUTHORIZED", "message": "x"}).to_string(),
            "an undocumented status",
        ),
        (
            429,
            json!({"code": "RATE_LIMITED", "message": "x"}).to_string(),
            "429 without Retry-After",
        ),
    ] {
        assert!(
            contract::check("GET", "/kyc/status", status, &h, &body).is_err(),
            "{why}"
        );
    }
    assert!(
        contract::check("GET", "/kyc/status", 200, &HeaderMap::new(), "null").is_err(),
        "no Cache-Control"
    );
    h.insert("retry-after", HeaderValue::from_static("soon"));
    let limited = json!({"code": "RATE_LIMITED", "message": "x"}).to_string();
    assert!(
        contract::check("GET", "/kyc/status", 429, &h, &limited).is_err(),
        "Retry-After not a number or date"
    );
    h.insert("retry-after", HeaderValue::from_static("3"));
    assert!(contract::check("GET", "/kyc/status", 429, &h, &limited).is_ok());
}

/// The `token` subcommand mints what the proxy accepts, with the shared secret or a private key.
#[test]
fn the_token_subcommand_mints_tokens_the_proxy_accepts() {
    let bin = env!("CARGO_BIN_EXE_gu1-kyc-proxy");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .arg("token")
            .args(args)
            .env_remove("GU1_PROXY_SECRET")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let secret = std::str::from_utf8(SECRET).unwrap();
    let hs = run(&[
        "--entity",
        "ent_1",
        "--kind",
        "kyc",
        "--session",
        "kyc_1",
        "--secret",
        secret,
    ]);
    let claims = Tokens::shared_secret(SECRET).verify(&hs).unwrap();
    assert_eq!(
        (
            claims.entity_id.as_str(),
            claims.kind,
            claims.session_id.as_deref()
        ),
        ("ent_1", Kind::Kyc, Some("kyc_1"))
    );
    assert!(
        claims.expires > token::unix_now() + 800,
        "15 minutes by default"
    );
    let key = format!(
        "{}/tests/keys/ed25519-private.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let ed = run(&[
        "--entity",
        "ent_2",
        "--private-key",
        &key,
        "--audience",
        "shop-proxy",
    ]);
    let verifier = Tokens::public_key_pem(
        jsonwebtoken::Algorithm::EdDSA,
        &key_file("ed25519-public.pem"),
    )
    .unwrap()
    .with_audience("shop-proxy");
    let claims = verifier.verify(&ed).unwrap();
    assert_eq!(
        (claims.entity_id.as_str(), claims.kind, claims.session_id),
        ("ent_2", Kind::Biometric, None)
    );
    assert!(Tokens::shared_secret(SECRET).verify(&ed).is_err());
}

/// `upstream` refuses a token configuration that does not hold together, before it listens.
#[test]
fn upstream_refuses_an_inconsistent_token_configuration() {
    let pem = format!(
        "{}/tests/keys/ed25519-public.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let jwks = format!(
        "{}/tests/keys/ed25519.jwks.json",
        env!("CARGO_MANIFEST_DIR")
    );
    for (args, says) in [
        (vec!["--secret", "short"], "at least 16"),
        (
            vec!["--algorithm", "EdDSA", "--secret", "a-long-enough-secret"],
            "exactly one of",
        ),
        (
            vec![
                "--algorithm",
                "EdDSA",
                "--public-key",
                &pem,
                "--jwks",
                &jwks,
            ],
            "exactly one of",
        ),
        (
            vec!["--algorithm", "ES256", "--jwks", &jwks],
            "not an ES256 public key",
        ),
        (
            vec!["--algorithm", "ES256", "--public-key", &pem],
            "not a ES256 PEM key",
        ),
        (
            vec!["--algorithm", "HS512", "--secret", "a-long-enough-secret"],
            "unsupported token algorithm",
        ),
        (
            vec!["--algorithm", "none", "--secret", "a-long-enough-secret"],
            "unsupported token algorithm",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gu1-kyc-proxy"))
            .args([
                "upstream",
                "--listen",
                "127.0.0.1:0",
                "--api-key",
                "sk_test_x",
            ])
            .args(&args)
            .env_remove("GU1_PROXY_SECRET")
            .output()
            .unwrap();
        // The log is one stream, stdout: the error is an `error` event there.
        let log = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {log}");
        assert!(
            log.lines()
                .any(|l| l.contains("\"event\":\"error\"") && l.contains(says)),
            "{args:?}: {log}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The proxy under attack (issue 14): each test below failed on the proxy before the fix.

use gu1_kyc_proxy::serve::{self as server, Connections};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;
use support::{listening, serve};

/// `router` served with the production connection limits `conns`.
async fn serve_limited(router: axum::Router, conns: Connections) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(
        listener,
        router,
        conns,
        std::future::pending(),
    ));
    addr
}

/// Whether the server closes `sock` within `within` (reads end or fail); answers are skipped.
async fn closed_within(sock: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, sock.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// One `GET path` on a fresh connection, answered within `within`; the status code.
async fn get_within(addr: SocketAddr, path: &str, within: Duration) -> Option<u16> {
    let url = format!("http://{addr}{path}");
    let r = tokio::time::timeout(within, reqwest::Client::new().get(url).send()).await;
    r.ok().and_then(Result::ok).map(|r| r.status().as_u16())
}

/// Item 1: idle, half-sent and idle keep-alive connections are closed after the header
/// timeout, and no more than the cap are served at once; past it a client is refused at once.
#[tokio::test]
async fn idle_and_half_sent_connections_are_closed_and_capped() {
    let app = App::new(
        Arc::new(Upstream::new("http://127.0.0.1:9", "k".into(), Duration::from_secs(1)).unwrap()),
        Tokens::shared_secret(SECRET),
    );
    let conns = Connections {
        header_timeout: Duration::from_millis(600),
        max: 4,
        ..Connections::default()
    };
    let addr = serve_limited(routes::router(Arc::new(app)), conns).await;
    // One keep-alive connection after a full exchange, one that sends nothing, two that
    // trickle a request's headers one byte at a time and never finish.
    let mut kept = tokio::net::TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    kept.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    let trickle = {
        let mut slow = std::mem::take(&mut slow);
        tokio::spawn(async move {
            for _ in 0..40 {
                for s in &mut slow {
                    let _ = s.write_all(b"a").await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            slow
        })
    };
    // The cap: while the four are held, a fifth client is refused at once (503, Retry-After)
    // rather than left waiting in the backlog (issue 28).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let refused = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(refused.status().as_u16(), 503, "served beyond the cap of 4");
    assert_eq!(refused.headers()["retry-after"], "1");
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    // The header timeout frees the slots: a client after it is answered.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        get_within(addr, "/health", Duration::from_secs(2)).await,
        Some(200),
        "the header timeout did not free the slots"
    );
    let mut slow = trickle.await.unwrap();
    let mut silent = silent;
    for (name, sock) in [("keep-alive", &mut kept), ("silent", &mut silent)]
        .into_iter()
        .chain(slow.iter_mut().map(|s| ("trickling", s)))
    {
        assert!(
            closed_within(sock, Duration::from_secs(2)).await,
            "the {name} connection is still open"
        );
    }
}

/// Item 1 end to end: the binary under a 128 open-file limit it cannot raise, 200 idle
/// connections at once: the budget fits under the limit (logged), clients past the cap are
/// refused at once, the header timeout frees the slots, and `/health` is answered.
#[test]
fn a_proxy_under_a_low_open_file_limit_keeps_answering() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = env!("CARGO_BIN_EXE_gu1-kyc-proxy");
    let mut child = std::process::Command::new("bash")
        .args(["-c", "ulimit -n 128 && exec \"$0\" \"$@\"", bin])
        .args(["upstream", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--api-base", "http://127.0.0.1:9", "--api-key", "sk_test_x"])
        .args([
            "--secret",
            "a-long-enough-secret",
            "--header-timeout-secs",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = listening(port, "the proxy");
    let held: Vec<_> = (0..200)
        .filter_map(|_| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok())
        .collect();
    assert!(held.len() > 128, "only {} connections opened", held.len());
    // Past the cap a client is refused at once (503, or a plain close while the few refusals
    // the budget allows are under way); once the header timeout has freed the slots it is
    // served. No attempt waits.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let started = std::time::Instant::now();
    let mut answers = Vec::new();
    while started.elapsed() < Duration::from_secs(12) && answers.last() != Some(&Some(200)) {
        let attempt = std::time::Instant::now();
        let answer = rt.block_on(get_within(addr, "/health", Duration::from_secs(1)));
        answers.push(answer);
        assert!(
            attempt.elapsed() < Duration::from_millis(900),
            "an attempt waited: {answers:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    drop(held);
    let log = String::from_utf8_lossy(&out.stdout);
    assert_eq!(answers.last(), Some(&Some(200)), "{answers:?}: {log}");
    assert!(
        answers.iter().all(|a| matches!(a, None | Some(200 | 503))),
        "{answers:?}"
    );
    // The budget fits under the limit: browser connections, refusals, gu1 calls and idle gu1
    // sockets, with files kept for the rest.
    let line = log
        .lines()
        .find(|l| l.contains("\"open_file_limit\""))
        .unwrap_or_else(|| panic!("{log}"));
    let v: Value = serde_json::from_str(line).unwrap();
    let conns = v["max_connections"].as_u64().unwrap();
    let gu1 = v["gu1_calls"].as_u64().unwrap() + v["gu1_idle_sockets"].as_u64().unwrap();
    assert!(conns >= 32 && gu1 >= 1 && conns + gu1 + 32 <= 128, "{line}");
    assert!(
        !log.contains("accept_error"),
        "the proxy ran out of file descriptors: {log}"
    );
}

/// Item 1: a flood of webhooks with forged signatures is refused or shed, and status answers
/// stay fast meanwhile; an unsigned webhook is refused before its body is read.
#[tokio::test]
async fn a_webhook_flood_is_shed_and_status_answers_stay_fast() {
    let rig = rig_with(|app| app.webhook_concurrency = 1).await;
    let e = rig.entity("biometric", true).await;
    let tok = mint(&s(&e, "entityId"), Kind::Biometric, None, 60);
    let addr: SocketAddr = rig.proxy.trim_start_matches("http://").parse().unwrap();
    // Well-formed (wrong) signatures: each body is read and its HMAC computed, one at a time;
    // the others are shed meanwhile. (A malformed signature is refused before the body.)
    let forged = "ab".repeat(32);
    let flood = (0..20).map(|_| {
        rig.http
            .post(format!("{}/webhooks/gu1", rig.proxy))
            .header("X-Webhook-Signature", &forged)
            .body(vec![b'x'; 1024 * 1024 - 100])
            .send()
    });
    let (answers, (code, ..)) = tokio::join!(futures_util::future::join_all(flood), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let r = rig.status(&tok).await;
        let took = started.elapsed();
        println!("status during the flood: {took:?}");
        assert!(took < Duration::from_millis(500), "{took:?}");
        r
    });
    assert_eq!(code, 200);
    let mut shed = 0;
    for r in answers {
        let r = r.unwrap();
        match r.status().as_u16() {
            401 => {}
            503 => {
                assert_eq!(r.headers()["retry-after"], "1");
                shed += 1;
            }
            other => panic!("a flood webhook got {other}"),
        }
    }
    assert!(
        shed > 0,
        "none of 20 at once was shed at a concurrency of 1"
    );
    // An unsigned webhook is refused before its body is read: the answer comes without it.
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(b"POST /webhooks/gu1 HTTP/1.1\r\nHost: x\r\nX-Webhook-Signature: 00\r\nContent-Length: 1048000\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    let read = tokio::time::timeout(Duration::from_secs(2), sock.read_exact(&mut head)).await;
    assert!(
        read.is_ok(),
        "the proxy waited for an unsigned webhook's body"
    );
    assert_eq!(&head, b"HTTP/1.1 401");
}

/// Issue 28, item 5: webhooks whose bodies trickle in at a byte per 100 ms (more of them than
/// there are slots) are cut at the body deadline (408) without ever taking a slot, and gu1's
/// real webhooks meanwhile are all accepted at once. (Before: the slot was taken before the
/// body was read and kept up to 10 s: 4 such sockets made 10 of 10 real webhooks get 503.)
#[tokio::test]
async fn webhooks_trickling_their_bodies_never_take_the_slots() {
    let rig = rig_with(|app| {
        app.webhook_concurrency = 2;
        app.webhook_body_timeout = Duration::from_millis(800);
        app.webhook_bytes = gu1_kyc_proxy::limit::ByteBudget::new(2 * 1024 * 1024);
    })
    .await;
    let addr: SocketAddr = rig.proxy.trim_start_matches("http://").parse().unwrap();
    let sig = "ab".repeat(32);
    // Half of them announce a body of nearly 1 MiB: only what arrives counts against the
    // budget of bodies being read.
    let slow: Vec<_> = (0..6)
        .map(|i| {
            let sig = sig.clone();
            let length = if i % 2 == 0 { 100 } else { 1_000_000 };
            tokio::spawn(async move {
                let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
                let head = format!("POST /webhooks/gu1 HTTP/1.1\r\nHost: x\r\nX-Webhook-Signature: {sig}\r\nContent-Length: {length}\r\n\r\n");
                sock.write_all(head.as_bytes()).await.unwrap();
                let started = std::time::Instant::now();
                for _ in 0..100 {
                    if sock.write_all(b"x").await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if started.elapsed() > Duration::from_secs(3) {
                        break;
                    }
                }
                let mut answer = String::new();
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    sock.read_to_string(&mut answer),
                )
                .await;
                (answer, started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..10 {
        let e = rig.entity("biometric", true).await;
        let body = serde_json::to_vec(&json!({
            "event": "biometric.session_approved", "timestamp": iso(0), "organizationId": "o",
            "payload": {"id": s(&e, "id"), "entityId": s(&e, "entityId"), "status": "approved",
                "updatedAt": iso(0), "n": i}
        }))
        .unwrap();
        let started = std::time::Instant::now();
        let r = rig
            .http
            .post(format!("{}/webhooks/gu1", rig.proxy))
            .header("X-Webhook-Signature", sign_hex(&body))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "real webhook {i}");
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
    }
    for h in slow {
        let (answer, took) = h.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
        assert!(took < Duration::from_millis(1500), "{took:?}");
    }
}

/// A stand-in gu1 that answers every call with `answer(path)`; it records the paths.
async fn stand_in<F>(answer: F) -> (String, Arc<std::sync::Mutex<Vec<String>>>)
where
    F: Fn(&str) -> axum::response::Response + Clone + Send + Sync + 'static,
{
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let router = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (log, answer) = (log.clone(), answer.clone());
        async move {
            log.lock().unwrap().push(uri.path().to_owned());
            answer(uri.path())
        }
    });
    (format!("http://{}", serve(router).await), seen)
}

fn answer(status: u16, body: Value, headers: &[(&'static str, &str)]) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut r = (
        axum::http::StatusCode::from_u16(status).unwrap(),
        axum::Json(body),
    )
        .into_response();
    for (k, v) in headers {
        r.headers_mut().insert(*k, v.parse().unwrap());
    }
    r
}

/// A proxy in front of `gu1`.
async fn proxy_before(gu1: &str) -> String {
    let up = Upstream::new(gu1, "sk_live_standin_key".into(), Duration::from_secs(5)).unwrap();
    let app = App::new(Arc::new(up), Tokens::shared_secret(SECRET));
    format!("http://{}", serve(routes::router(Arc::new(app))).await)
}

/// Item 2: whatever gu1's error says, the browser gets the proxy's code and fixed message;
/// gu1's auth failures are 502 `UPSTREAM_AUTH`; gu1's `Retry-After` passes through.
#[tokio::test]
async fn gu1_errors_reach_the_browser_only_as_the_proxys_codes_with_retry_after() {
    let pii = "Ada Lovelace, born 1815-12-10, passport X1234567";
    let (gu1, _) = stand_in(move |path| {
        let entity = path.split('/').nth(5).unwrap_or_default();
        match entity {
            "e401" => answer(
                401,
                json!({"error": "Invalid API key: Bearer sk_live_standin_key", "message": "Bearer sk_live_standin_key"}),
                &[],
            ),
            "e403" => answer(403, json!({"error": "FORBIDDEN", "message": pii}), &[]),
            "e429" => answer(429, json!({"error": "RATE_LIMITED", "message": pii}), &[("retry-after", "7")]),
            "e503" => answer(
                503,
                json!({"message": pii}),
                &[("retry-after", "Wed, 21 Oct 2099 07:28:00 GMT")],
            ),
            "e409" if path.ends_with("/current") => answer(200, Value::Null, &[]),
            _ if path.contains("bio_of_another") => answer(
                200,
                json!({"id": "bio_of_another", "entityId": "someone_else", "status": "pending"}),
                &[],
            ),
            "e500" => answer(500, json!({"error": pii, "message": pii}), &[]),
            _ => answer(
                409,
                json!({"error": "ACTIVE_SESSION_EXISTS", "message": pii, "activeSessionId": "bio_of_another"}),
                &[],
            ),
        }
    })
    .await;
    let proxy = proxy_before(&gu1).await;
    let http = reqwest::Client::new();
    for (entity, method, expect, code, retry) in [
        ("e401", "GET", 502, "UPSTREAM_AUTH", None),
        ("e403", "GET", 502, "UPSTREAM_AUTH", None),
        ("e429", "GET", 503, "UPSTREAM_BUSY", Some("7")),
        ("e503", "GET", 502, "UPSTREAM_ERROR", Some("3600")),
        ("e500", "GET", 502, "UPSTREAM_ERROR", None),
        ("e409", "POST", 409, "ACTIVE_SESSION_EXISTS", None),
    ] {
        let path = if method == "GET" {
            "/kyc/status"
        } else {
            "/kyc/start"
        };
        let r = http
            .request(method.parse().unwrap(), format!("{proxy}{path}"))
            .bearer_auth(mint(entity, Kind::Biometric, None, 60))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = r.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (status, s(&body, "code").as_str()),
            (expect, code),
            "{entity}: {text}"
        );
        assert_eq!(retry_after.as_deref(), retry, "{entity}: Retry-After");
        for leak in [
            "sk_live",
            "Lovelace",
            "X1234567",
            "bio_of_another",
            "Invalid API key",
        ] {
            assert!(
                !text.contains(leak),
                "{entity}: {leak} reached the page: {text}"
            );
        }
        let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["code", "message"], "{entity}: {text}");
    }
}

/// Item 3: a redirect from gu1 is not followed, an answer over 1 MiB is cut off unread, and
/// the API key never goes to an `http:` URL off loopback.
#[tokio::test]
async fn gu1_redirects_huge_answers_and_clear_text_urls_are_refused() {
    let (elsewhere, asked) = stand_in(|path| {
        let entity = path.split('/').nth(5).unwrap_or_default();
        answer(
            200,
            json!({"id": "bio_x", "entityId": entity, "status": "approved"}),
            &[],
        )
    })
    .await;
    let to = elsewhere.clone();
    let (redirecting, _) =
        stand_in(move |path| answer(302, Value::Null, &[("location", &format!("{to}{path}"))]))
            .await;
    let proxy = proxy_before(&redirecting).await;
    let tok = mint("ent_r", Kind::Biometric, None, 60);
    let r = reqwest::Client::new()
        .get(format!("{proxy}/kyc/status"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
    assert!(r.text().await.unwrap().contains("UPSTREAM_BAD_RESPONSE"));
    assert!(
        asked.lock().unwrap().is_empty(),
        "the redirect was followed"
    );

    // A valid session padded to 100 MiB, streamed; the stand-in counts what it got to send.
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let huge = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let counter = counter.clone();
        async move {
            let entity = uri.path().split('/').nth(5).unwrap_or_default().to_owned();
            let head =
                format!(r#"{{"id":"bio_h","entityId":"{entity}","status":"pending","pad":""#);
            let chunks = std::iter::once(head.into_bytes())
                .chain(std::iter::repeat_n(vec![b'a'; 64 * 1024], 1600))
                .chain(std::iter::once(b"\"}".to_vec()))
                .map(move |c| {
                    counter.fetch_add(c.len(), std::sync::atomic::Ordering::Relaxed);
                    Ok::<_, std::io::Error>(c)
                });
            axum::body::Body::from_stream(futures_util::stream::iter(chunks))
        }
    });
    let huge = format!("http://{}", serve(huge).await);
    let proxy = proxy_before(&huge).await;
    let r = reqwest::Client::new()
        .get(format!("{proxy}/kyc/status"))
        .bearer_auth(mint("ent_h", Kind::Biometric, None, 60))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
    assert!(r.text().await.unwrap().contains("UPSTREAM_BAD_RESPONSE"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        sent < 16 * 1024 * 1024,
        "the proxy read {sent} bytes of gu1's answer"
    );

    for clear in [
        "http://api.gu1.ai",
        "http://10.0.0.7:8080",
        "http://127.0.0.1.example",
    ] {
        let refused = Upstream::new(clear, "sk_live_x".into(), Duration::from_secs(1));
        assert!(refused.is_err(), "{clear} accepted");
    }
    for fine in [
        "https://api.gu1.ai",
        "http://127.0.0.1:1",
        "http://localhost:1",
    ] {
        assert!(
            Upstream::new(fine, "k".into(), Duration::from_secs(1)).is_ok(),
            "{fine}"
        );
    }
}

/// Item 4: a signed webhook outside the replay window, a replay within it, one naming another
/// entity or the other kind, and one older than gu1's own read are never served.
#[tokio::test]
async fn replayed_stale_and_misbound_webhooks_are_never_served() {
    use gu1_kyc_proxy::fresh::Fresh;
    let rig = rig_with(|app| app.fresh = Fresh::new(Duration::from_millis(400), 100)).await;
    let (a, b) = (
        rig.entity("biometric", true).await,
        rig.entity("biometric", true).await,
    );
    let k = rig.entity("kyc", true).await;
    let post = |envelope: Value| {
        let body = serde_json::to_vec(&envelope).unwrap();
        rig.http
            .post(format!("{}/webhooks/gu1", rig.proxy))
            .header("X-Webhook-Signature", sign_hex(&body))
            .body(body)
            .send()
    };
    let approved = |event: &str, id: &str, entity: &str, sent: i64, updated: i64| {
        json!({"event": event, "timestamp": iso(sent),
            "payload": {"id": id, "entityId": entity, "status": "approved", "updatedAt": iso(updated),
                "extractedData": {"firstName": "Ada"}}})
    };
    let rig = &rig;
    let status_of = |e: &Value, kind: Kind| {
        let tok = mint(&s(e, "entityId"), kind, None, 60);
        async move { s(&rig.status(&tok).await.1, "status") }
    };
    let (a_id, a_ent, b_ent) = (s(&a, "id"), s(&a, "entityId"), s(&b, "entityId"));

    // Older than the window (5 minutes by default): refused.
    let r = post(approved(
        "biometric.session_approved",
        &a_id,
        &a_ent,
        -600,
        -600,
    ))
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("WEBHOOK_EXPIRED"));
    assert_eq!(status_of(&a, Kind::Biometric).await, "pending");

    // A's session with B's entity, and a biometric event naming the KYC validation.
    for envelope in [
        approved("biometric.session_approved", &a_id, &b_ent, 0, 1),
        approved(
            "biometric.session_approved",
            &s(&k, "id"),
            &s(&k, "entityId"),
            0,
            1,
        ),
    ] {
        assert_eq!(post(envelope).await.unwrap().status().as_u16(), 200);
    }
    assert_eq!(
        status_of(&a, Kind::Biometric).await,
        "pending",
        "bound to B, served for A"
    );
    assert_eq!(status_of(&b, Kind::Biometric).await, "pending");
    assert_eq!(
        status_of(&k, Kind::Kyc).await,
        "pending",
        "a biometric event for a KYC session"
    );

    // A genuine one is served; replayed within the window, once it has expired, it is not.
    let genuine = approved("biometric.session_approved", &a_id, &a_ent, 0, 1);
    assert_eq!(post(genuine.clone()).await.unwrap().status().as_u16(), 200);
    assert_eq!(status_of(&a, Kind::Biometric).await, "approved");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status_of(&a, Kind::Biometric).await, "pending");
    let r = post(genuine).await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "a duplicate is acknowledged");
    assert_eq!(
        status_of(&a, Kind::Biometric).await,
        "pending",
        "the replay was used"
    );

    // Never backwards: a state older than gu1's own read of the session is not served.
    rig.set(&b_ent, json!({"status": "in_progress"})).await;
    let stale = approved("biometric.session_rejected", &s(&b, "id"), &b_ent, 0, -120);
    assert_eq!(post(stale).await.unwrap().status().as_u16(), 200);
    assert_eq!(status_of(&b, Kind::Biometric).await, "in_progress");
}

/// Item 5: one token cannot create sessions in a loop: past the per-entity cap, 429 with
/// Retry-After; resuming an active session costs nothing.
#[tokio::test]
async fn a_start_cancel_loop_is_capped_per_entity() {
    let rig = rig_with(|app| app.starts = Limiter::per_window(3, Duration::from_secs(600))).await;
    let e = rig.entity("kyc", false).await;
    let tok = mint(&s(&e, "entityId"), Kind::Kyc, None, 60);
    let mut created = 0;
    let mut refused = None;
    for _ in 0..10 {
        let r = rig
            .http
            .post(format!("{}/kyc/start", rig.proxy))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            201 => created += 1,
            429 => {
                let retry: u64 = r.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                refused = Some((retry, r.text().await.unwrap()));
                break;
            }
            other => panic!("start answered {other}"),
        }
        let (code, ..) = rig.call(reqwest::Method::POST, "/kyc/cancel", &tok).await;
        assert_eq!(code, 200);
    }
    assert_eq!(created, 3, "validations created before the cap");
    let (retry, text) = refused.expect("the loop was never refused");
    assert!((1..=600).contains(&retry), "{retry}");
    assert!(text.contains("RATE_LIMITED"), "{text}");
    // Another entity is not affected, and resuming does not count.
    let other = rig.entity("biometric", false).await;
    let tok = mint(&s(&other, "entityId"), Kind::Biometric, None, 60);
    let (code, ..) = rig.call(reqwest::Method::POST, "/kyc/start", &tok).await;
    assert_eq!(code, 201);
    for _ in 0..5 {
        let (code, ..) = rig.call(reqwest::Method::POST, "/kyc/start", &tok).await;
        assert_eq!(code, 200, "a resume is not a creation");
    }
}

/// Item 6: the `Bearer` scheme in any case.
#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let rig = rig().await;
    let e = rig.entity("biometric", true).await;
    let tok = mint(&s(&e, "entityId"), Kind::Biometric, None, 60);
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let r = rig
            .http
            .get(format!("{}/kyc/status", rig.proxy))
            .header("Authorization", format!("{scheme} {tok}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{scheme}");
    }
    for bad in [
        format!("Basic {tok}"),
        format!("Bearer{tok}"),
        "Bearer ".into(),
    ] {
        let r = rig
            .http
            .get(format!("{}/kyc/status", rig.proxy))
            .header("Authorization", bad.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{bad}");
    }
}

/// Item 6: requests hyper refuses before any route (malformed: 400; too many headers: 431)
/// are in the access log like every other request.
#[test]
fn requests_refused_before_routing_are_in_the_access_log() {
    use std::io::{Read, Write};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gu1-kyc-proxy"))
        .args(["upstream", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--api-base", "http://127.0.0.1:9", "--api-key", "sk_test_x"])
        .args(["--secret", "a-long-enough-secret"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = listening(port, "the proxy");
    let flood: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    for (request, status) in [
        (
            "GET /kyc/status HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_owned(),
            "400",
        ),
        (
            format!("GET /kyc/status HTTP/1.1\r\nHost: x\r\n{flood}\r\n"),
            "431",
        ),
    ] {
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        sock.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = sock.read_to_string(&mut answer);
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
    }
    std::thread::sleep(Duration::from_millis(200));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    for status in ["400", "431"] {
        assert!(
            log.lines().any(|l| l.contains("\"event\":\"request\"")
                && l.contains(&format!("\"status\":{status}"))),
            "no access-log line for the {status}: {log}"
        );
    }
}

/// Issue 28, item 8: gu1's answer to `POST /kyc/start` (and to a cancel) is shown only when it
/// is a session of the token's entity, as status answers are; otherwise the browser gets 502
/// `UPSTREAM_BAD_RESPONSE` and nothing of that session (its id, its URL).
#[tokio::test]
async fn start_and_cancel_show_only_the_tokens_own_entitys_session() {
    let other = json!({"id": "bio_of_another", "entityId": "someone_else", "status": "pending",
        "sessionUrl": "https://hosted.example/session/of-another"});
    let (gu1, _) = stand_in(move |path| match path {
        "/api/kyc/biometric/sessions" => answer(201, other.clone(), &[]),
        p if p.ends_with("/cancel") => answer(200, other.clone(), &[]),
        p if p.ends_with("/current") => answer(
            200,
            json!({"id": "bio_own", "entityId": "e_own", "status": "pending"}),
            &[],
        ),
        _ => answer(404, json!({"error": "NOT_FOUND"}), &[]),
    })
    .await;
    let proxy = proxy_before(&gu1).await;
    let tok = mint("e_own", Kind::Biometric, None, 60);
    let http = reqwest::Client::new();
    for path in ["/kyc/start", "/kyc/cancel"] {
        let r = http
            .post(format!("{proxy}{path}"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        contract::assert("POST", path, status, &headers, &text);
        assert_eq!(status, 502, "{path}: {text}");
        assert!(text.contains("UPSTREAM_BAD_RESPONSE"), "{path}: {text}");
        assert!(
            !text.contains("of_another")
                && !text.contains("of-another")
                && !text.contains("someone_else"),
            "{path}: {text}"
        );
    }
}
