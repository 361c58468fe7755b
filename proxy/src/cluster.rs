//! What several proxy instances share through Redis (`--redis-url`): a webhook received by any
//! instance wakes the requests held on every instance (pub/sub), the webhook's terminal state
//! is kept for all of them with a time to live, a webhook seen by one is a duplicate for all,
//! and the per-token rate limit and the per-entity cap on sessions created are one bucket each.
//!
//! Redis is a help, never a dependency: while it cannot be reached every instance carries on
//! alone (its own wake-ups, webhook states and buckets), logs one warning for the outage, and
//! takes Redis up again as soon as its health check (a `PING` every second) is answered, after
//! an outage or a stall of any length. No browser answer waits on an outage: Redis is not asked
//! while it is known to be down.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::{json, Value};

use crate::token::Kind;

/// A webhook another instance received, as it reaches this one: what to keep and whom to wake.
#[derive(Clone, Debug, PartialEq)]
pub struct Shared {
    /// The kind of session it is about.
    pub kind: Kind,
    /// The browser's view of its terminal state, when it carried one.
    pub view: Option<Value>,
    /// The entity it names.
    pub entity: Option<String>,
    /// The session it names.
    pub session: Option<String>,
    /// The envelope's timestamp, nanoseconds since the epoch.
    pub sent: Option<i128>,
}

/// What an instance does with the other instances' webhooks.
pub type OnShared = Arc<dyn Fn(Shared) + Send + Sync>;

/// The pub/sub channel of webhooks.
const CHANNEL: &str = "gu1-kyc-proxy:webhooks";

/// A token bucket in one Redis hash: `tokens` and `at` (server time, seconds), refilled at
/// `rate` per second up to `burst`; answers `{allowed, seconds to wait}`.
const BUCKET: &str = r"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(wait)}
";

/// One request given back to a bucket of [`BUCKET`], up to `burst`.
const REFUND: &str = r"
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if tokens then
  redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(tonumber(ARGV[1]), tokens + 1)))
end
return 1
";

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// The link to Redis.
pub struct Cluster {
    client: redis::Client,
    conn: OnceLock<ConnectionManager>,
    state: AtomicU8,
    /// Tells this instance's own messages apart from the others'.
    instance: String,
    bucket: redis::Script,
    refund: redis::Script,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("instance", &self.instance)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A link to the Redis at `url` (`redis://host:port/db`); nothing is connected until
    /// [`Cluster::start`].
    pub fn new(url: &str) -> Result<Cluster, String> {
        let client =
            redis::Client::open(url).map_err(|e| format!("the Redis URL is not valid: {e}"))?;
        let mut id = [0u8; 8];
        let _ = getrandom::fill(&mut id);
        Ok(Cluster {
            client,
            conn: OnceLock::new(),
            state: AtomicU8::new(UNKNOWN),
            instance: id.iter().map(|b| format!("{b:02x}")).collect(),
            bucket: redis::Script::new(BUCKET),
            refund: redis::Script::new(REFUND),
        })
    }

    /// Whether Redis answered last time it was asked.
    pub fn is_up(&self) -> bool {
        self.state.load(Ordering::Relaxed) == UP
    }

    fn went_down(&self, why: &str) {
        crate::telemetry::redis_up(false);
        if self.state.swap(DOWN, Ordering::Relaxed) != DOWN {
            tracing::warn!(
                event = "redis_unavailable",
                why,
                "Redis cannot be reached: carrying on alone until it is back"
            );
        }
    }

    fn came_up(&self) {
        crate::telemetry::redis_up(true);
        if self.state.swap(UP, Ordering::Relaxed) == DOWN {
            tracing::info!(
                event = "redis_back",
                "Redis is reachable again: sharing resumed"
            );
        }
    }

    /// A connection for a command, while Redis is up.
    fn conn(&self) -> Option<ConnectionManager> {
        self.is_up().then(|| self.conn.get().cloned()).flatten()
    }

    /// Connects (in the background), checks Redis every second, and subscribes to the other
    /// instances' webhooks, handing each to `on_shared`, for as long as the runtime runs; call
    /// once, inside the runtime.
    pub fn start(self: &Arc<Self>, on_shared: OnShared) {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1);
        match ConnectionManager::new_lazy_with_config(self.client.clone(), config) {
            Ok(conn) => {
                let _ = self.conn.set(conn);
            }
            Err(e) => self.went_down(&e.to_string()),
        }
        let this = self.clone();
        tokio::spawn(async move { this.watch().await });
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                // A subscription that was up and ended says Redis went away; one that cannot be
                // made yet says nothing new (the health check tells up from down).
                if this.listen(&on_shared).await.is_ok() {
                    this.went_down("the subscription ended");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// The health check, the one place Redis is taken up again: a command that timed out or
    /// failed marks it down at once (so browser requests stop asking), and a `PING` every second
    /// marks it up as soon as Redis answers, whatever became of the subscription meanwhile (a
    /// stall leaves it open and silent). Being the first command after an outage, the `PING`
    /// is also the one that finds a broken connection, never a browser request's command.
    async fn watch(&self) {
        let Some(conn) = self.conn.get().cloned() else {
            return;
        };
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let mut conn = conn.clone();
            let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
            match pong {
                Ok(_) => self.came_up(),
                Err(e) => self.went_down(&e.to_string()),
            }
        }
    }

    /// Subscribes and applies the other instances' webhooks until the subscription ends
    /// (`Ok`); `Err` when it could not be made.
    async fn listen(&self, on_shared: &OnShared) -> redis::RedisResult<()> {
        let mut pubsub =
            tokio::time::timeout(Duration::from_secs(2), self.client.get_async_pubsub())
                .await
                .map_err(|_| {
                    redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut))
                })??;
        pubsub.subscribe(CHANNEL).await?;
        let mut messages = pubsub.on_message();
        while let Some(msg) = messages.next().await {
            let Ok(text) = msg.get_payload::<String>() else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if v["from"].as_str() == Some(self.instance.as_str()) {
                continue;
            }
            if let Some(shared) = parse(&v) {
                on_shared(shared);
            }
        }
        Ok(())
    }

    /// Shares a webhook this instance received: its terminal state (the browser's view of it
    /// only) for `ttl`, and a message that wakes the other instances' held requests.
    pub async fn webhook(&self, shared: &Shared, ttl: Duration) {
        let Some(mut conn) = self.conn() else {
            return;
        };
        let sent = shared.sent.map(|t| t.to_string());
        let message = json!({
            "from": self.instance, "kind": shared.kind.as_str(), "entityId": shared.entity,
            "id": shared.session, "view": shared.view, "sent": sent,
        });
        let mut pipe = redis::pipe();
        if let (Some(view), Some(id)) = (&shared.view, &shared.session) {
            let kept = json!({"view": view, "sent": sent});
            pipe.set_ex(
                fresh_key(shared.kind, id),
                kept.to_string(),
                ttl.as_secs().max(1),
            )
            .ignore();
        }
        pipe.publish(CHANNEL, message.to_string()).ignore();
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            self.went_down(&e.to_string());
        }
    }

    /// The shared terminal state of session `id`, when another instance received its webhook.
    pub async fn fresh(&self, kind: Kind, id: &str) -> Option<(Value, Option<i128>)> {
        let mut conn = self.conn()?;
        let got: redis::RedisResult<Option<String>> = redis::cmd("GET")
            .arg(fresh_key(kind, id))
            .query_async(&mut conn)
            .await;
        match got {
            Ok(text) => {
                let v: Value = serde_json::from_str(&text?).ok()?;
                let sent = v["sent"].as_str().and_then(|s| s.parse().ok());
                Some((v["view"].clone(), sent))
            }
            Err(e) => {
                self.went_down(&e.to_string());
                None
            }
        }
    }

    /// Records a webhook body by its digest for `window`: `Some(true)` when no instance saw it
    /// within the window, `Some(false)` when one did, `None` when Redis cannot say (the caller
    /// uses its own record).
    pub async fn first_seen(&self, digest: &[u8; 32], window: Duration) -> Option<bool> {
        let mut conn = self.conn()?;
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let set: redis::RedisResult<Option<String>> = redis::cmd("SET")
            .arg(format!("gu1-kyc-proxy:seen:{hex}"))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(window.as_millis().max(1) as u64)
            .query_async(&mut conn)
            .await;
        match set {
            Ok(done) => Some(done.is_some()),
            Err(e) => {
                self.went_down(&e.to_string());
                None
            }
        }
    }

    /// Gives back one request taken from the shared bucket `key` (it turned out to cost
    /// nothing), up to `burst`.
    pub async fn refund(&self, key: &str, burst: f64) {
        let Some(mut conn) = self.conn() else {
            return;
        };
        let given: redis::RedisResult<i64> = self
            .refund
            .key(format!("gu1-kyc-proxy:rate:{key}"))
            .arg(burst)
            .invoke_async(&mut conn)
            .await;
        if let Err(e) = given {
            self.went_down(&e.to_string());
        }
    }

    /// Takes one request from the shared bucket `key`: `Some(Ok)` when allowed, `Some(Err(wait))`
    /// when not, `None` when Redis cannot say (the caller uses its own bucket).
    pub async fn take(&self, key: &str, rate: f64, burst: f64) -> Option<Result<(), Duration>> {
        let mut conn = self.conn()?;
        let answer: redis::RedisResult<(i64, String)> = self
            .bucket
            .key(format!("gu1-kyc-proxy:rate:{key}"))
            .arg(rate)
            .arg(burst)
            .invoke_async(&mut conn)
            .await;
        match answer {
            Ok((1, _)) => Some(Ok(())),
            Ok((_, wait)) => Some(Err(Duration::from_secs_f64(
                wait.parse::<f64>().unwrap_or(1.0).clamp(0.0, 3600.0),
            ))),
            Err(e) => {
                self.went_down(&e.to_string());
                None
            }
        }
    }
}

fn fresh_key(kind: Kind, id: &str) -> String {
    format!("gu1-kyc-proxy:fresh:{}:{id}", kind.as_str())
}

/// Another instance's webhook message.
fn parse(v: &Value) -> Option<Shared> {
    let kind = match v["kind"].as_str() {
        Some("biometric") => Kind::Biometric,
        Some("kyc") => Kind::Kyc,
        _ => return None,
    };
    let text = |k: &str| v[k].as_str().map(str::to_owned);
    Some(Shared {
        kind,
        view: v["view"].is_object().then(|| v["view"].clone()),
        entity: text("entityId"),
        session: text("id"),
        sent: v["sent"].as_str().and_then(|s| s.parse().ok()),
    })
}
