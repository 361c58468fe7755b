//! Blocking status requests, as Consul and Nomad offer them: every status answer carries an
//! `ETag`; a request with `If-None-Match` naming the current one and `Prefer: wait=N` (RFC 7240)
//! is held until the state changes or the wait is over.
//!
//! Held requests on the same token scope (kind, entity, pinned session) share one `Topic`: a
//! `watch` channel and one refresher task that reads gu1 once per refresh interval, or at once
//! when a webhook names the entity ([`Hub::wake`]), however many requests wait on it. The task
//! ends when its last waiter has gone. A waiter holds a receiver and its timer, nothing more.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use futures_util::future::BoxFuture;
use tokio::sync::{watch, Notify};

use crate::token::{Claims, Kind};

/// Where a topic's refresher reads the state it publishes (in the proxy: the same session
/// look-up as the requests themselves, `session`).
pub trait Reader: Send + Sync + 'static {
    /// The current answer for `claims`' scope, or `None` when it cannot be read now (the
    /// refresher tries again at its next interval).
    fn read<'a>(&'a self, claims: &'a Claims) -> BoxFuture<'a, Option<Answer>>;
}

/// What `GET /kyc/status` answers with 200: the exact body bytes and their entity tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// A strong entity tag, quotes included: `"` + 16 hex digits + `"`.
    pub etag: String,
    /// The JSON body the page gets.
    pub body: axum::body::Bytes,
}

impl Answer {
    /// The answer whose body is `body`, tagged with a hash of its bytes: any change the page
    /// could see changes the tag; the same state gives the same tag on every instance.
    pub fn new(body: Vec<u8>) -> Answer {
        Answer {
            etag: etag_of(&body),
            body: body.into(),
        }
    }
}

/// The strong entity tag of a body: its XXH3 64-bit hash, 16 hex digits, quoted. A tag only
/// has to change with the bytes and agree across instances (the algorithm is specified, the
/// seed fixed); a cryptographic hash cost a twentieth of a status answer's time.
pub fn etag_of(body: &[u8]) -> String {
    format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(body))
}

/// Whether `If-None-Match` names `etag` (weak comparison, RFC 9110 13.1.2; `*` matches any).
pub fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    Conditions::read(headers).none_match(etag)
}

/// What a status request asks of its answer: the tags it already has (`If-None-Match`) and
/// how long it would wait for another (`Prefer: wait`). Copied out of the request, so a held
/// request keeps nothing of its headers (they share the connection's read buffer, which hyper
/// would otherwise have to replace with a second one while the request is held).
#[derive(Clone, Debug, Default)]
pub struct Conditions {
    /// The tags of `If-None-Match`, `W/` removed (`*` kept as is).
    tags: Vec<Box<str>>,
    /// The seconds of `Prefer: wait`, if any.
    pub wait: Option<u64>,
}

impl Conditions {
    /// The conditions of a request's headers.
    pub fn read(headers: &HeaderMap) -> Conditions {
        let tags = headers
            .get_all(axum::http::header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| {
                let t = t.trim();
                t.strip_prefix("W/").unwrap_or(t).into()
            })
            .collect();
        Conditions {
            tags,
            wait: wait_preference(headers),
        }
    }

    /// Whether the request has a tag at all.
    pub fn conditional(&self) -> bool {
        !self.tags.is_empty()
    }

    /// Whether the request's tags name `etag` (or are `*`).
    pub fn none_match(&self, etag: &str) -> bool {
        self.tags.iter().any(|t| &**t == "*" || &**t == etag)
    }
}

/// The seconds of `Prefer: wait=N` (RFC 7240): preferences are comma-separated, possibly over
/// several header fields, names case-insensitive, values possibly quoted, parameters after `;`
/// ignored; only the first `wait` counts. A malformed or zero wait is `None` (answer at once).
pub fn wait_preference(headers: &HeaderMap) -> Option<u64> {
    let first = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(split_outside_quotes)
        .find_map(|pref| {
            let pref = pref.split(';').next().unwrap_or("");
            let (name, value) = match pref.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (pref.trim(), None),
            };
            name.eq_ignore_ascii_case("wait").then_some(value)
        })?;
    let value = first?;
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Digits beyond u64 are still a (very long) wait: the cap applies.
    let secs = value.parse::<u64>().unwrap_or(u64::MAX);
    (secs > 0).then_some(secs)
}

/// A header value split at commas that are not inside a quoted string.
fn split_outside_quotes(v: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in v.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&v[start..]);
    parts
}

/// `Preference-Applied: wait=N`.
pub fn applied(secs: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("wait={secs}")).unwrap_or(HeaderValue::from_static("wait"))
}

/// A state of a topic: the answer and the number of the read it came from.
#[derive(Clone, Debug)]
struct Published {
    read: u64,
    answer: Arc<Answer>,
}

/// The requests held on one token scope: the latest answer read for it, one refresher.
#[derive(Debug)]
struct Topic {
    state: watch::Sender<Option<Published>>,
    /// Numbers reads as they start: a read that started later saw a newer (or the same) state.
    reads: AtomicU64,
    /// When the last read started, so the refresher never reads twice within an interval.
    last_read: Mutex<Instant>,
    poke: Notify,
}

impl Topic {
    fn new() -> Topic {
        Topic {
            state: watch::Sender::new(None),
            reads: AtomicU64::new(0),
            last_read: Mutex::new(Instant::now()),
            poke: Notify::new(),
        }
    }

    fn start_read(&self) -> u64 {
        *self.last_read.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.reads.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn since_last_read(&self) -> Duration {
        self.last_read
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }

    /// Publishes `answer` from read `read`, unless a later read was already published or the
    /// answer is unchanged (waiters are woken only by a change).
    fn publish(&self, read: u64, answer: Answer) {
        self.state.send_if_modified(|cur| match cur {
            Some(p) if p.read > read => false,
            Some(p) if p.answer.etag == answer.etag => {
                p.read = read;
                false
            }
            _ => {
                *cur = Some(Published {
                    read,
                    answer: Arc::new(answer),
                });
                true
            }
        });
    }
}

/// The topics of one kind and entity, by pinned session (`None`: the current one).
type Topics = HashMap<(Kind, String), HashMap<Option<String>, Arc<Topic>>>;

/// Where held requests wait, by token scope, and the switch that answers them all at shutdown.
/// Cloning it gives another handle to the same hub.
#[derive(Clone, Debug, Default)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    topics: Mutex<Topics>,
    closing: watch::Sender<bool>,
    /// Reads made by refreshers (not by the requests themselves), for tests and the log.
    refresh_reads: AtomicU64,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            topics: Mutex::new(HashMap::new()),
            closing: watch::Sender::new(false),
            refresh_reads: AtomicU64::new(0),
        }
    }
}

/// A request about to be held: its topic, its receiver and the read it made on arrival.
#[derive(Debug)]
pub struct Waiter {
    topic: Arc<Topic>,
    rx: watch::Receiver<Option<Published>>,
    closing: watch::Receiver<bool>,
    read: u64,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Topics> {
        self.inner.topics.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins the topic of `claims`' scope (starting its refresher, which reads through `reader`
    /// once per `refresh`, if it has none) and numbers the read the request is about to make:
    /// call before reading, then [`Waiter::arrived`]. `None` when `cap` requests are already
    /// held on the scope: this one is answered at once instead.
    pub fn join(
        &self,
        reader: Arc<dyn Reader>,
        claims: &Claims,
        refresh: Duration,
        cap: usize,
    ) -> Option<Waiter> {
        let (topic, rx) = {
            let mut topics = self.lock();
            let sessions = topics
                .entry((claims.kind, claims.entity_id.clone()))
                .or_default();
            let topic = sessions
                .entry(claims.session_id.clone())
                .or_insert_with(|| {
                    let topic = Arc::new(Topic::new());
                    let hub = self.clone();
                    tokio::spawn(refresher(
                        hub,
                        reader,
                        claims.clone(),
                        topic.clone(),
                        refresh,
                    ));
                    topic
                })
                .clone();
            // One token must not hold connections without bound: past the cap, no hold.
            if topic.state.receiver_count() >= cap.max(1) {
                return None;
            }
            // Under the lock: the refresher retires a topic only under it, when no one is
            // subscribed, so it cannot retire this one between its creation and this line.
            let rx = topic.state.subscribe();
            (topic, rx)
        };
        let read = topic.start_read();
        Some(Waiter {
            topic,
            rx,
            closing: self.inner.closing.subscribe(),
            read,
        })
    }

    /// A webhook named this entity: every topic on it reads gu1 now (once per topic).
    pub fn wake(&self, kind: Kind, entity: &str) {
        if let Some(sessions) = self.lock().get(&(kind, entity.to_owned())) {
            for topic in sessions.values() {
                topic.poke.notify_one();
            }
        }
    }

    /// A webhook named a session but no entity: wakes the topics pinned to it.
    pub fn wake_session(&self, kind: Kind, session: &str) {
        for ((k, _), sessions) in self.lock().iter() {
            if *k == kind {
                if let Some(topic) = sessions.get(&Some(session.to_owned())) {
                    topic.poke.notify_one();
                }
            }
        }
    }

    /// Answers every held request now (shutdown): they get 304 with what they waited.
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Requests held right now.
    pub fn waiting(&self) -> usize {
        self.lock()
            .values()
            .flat_map(HashMap::values)
            .map(|t| t.state.receiver_count())
            .sum()
    }

    /// Reads made by refreshers since start.
    pub fn refresh_reads(&self) -> u64 {
        self.inner.refresh_reads.load(Ordering::Relaxed)
    }

    /// Removes `topic` when nobody waits on it any more; true when it is gone.
    fn retire(&self, claims: &Claims, topic: &Arc<Topic>) -> bool {
        let mut topics = self.lock();
        if topic.state.receiver_count() > 0 {
            return false;
        }
        let key = (claims.kind, claims.entity_id.clone());
        if let Some(sessions) = topics.get_mut(&key) {
            if sessions
                .get(&claims.session_id)
                .is_some_and(|t| Arc::ptr_eq(t, topic))
            {
                sessions.remove(&claims.session_id);
            }
            if sessions.is_empty() {
                topics.remove(&key);
            }
        }
        true
    }
}

/// Reads gu1 for a topic once per refresh interval, or when poked by a webhook, while anyone
/// waits on it.
async fn refresher(
    hub: Hub,
    reader: Arc<dyn Reader>,
    claims: Claims,
    topic: Arc<Topic>,
    every: Duration,
) {
    let every = every.max(Duration::from_millis(10));
    loop {
        let due = every.saturating_sub(topic.since_last_read());
        let poked = tokio::select! {
            () = tokio::time::sleep(due) => false,
            () = topic.poke.notified() => true,
            () = topic.state.closed() => false,
        };
        if hub.retire(&claims, &topic) {
            return;
        }
        if !poked && topic.since_last_read() < every {
            // A request's own read came in meanwhile: it counts as this interval's read.
            continue;
        }
        let read = topic.start_read();
        hub.inner.refresh_reads.fetch_add(1, Ordering::Relaxed);
        if let Some(answer) = reader.read(&claims).await {
            topic.publish(read, answer);
        }
    }
}

/// How a held request ended.
#[derive(Debug)]
pub enum Held {
    /// The state changed: the new answer.
    Changed(Arc<Answer>),
    /// The wait ran out, or the proxy is shutting down.
    Unchanged,
}

impl Waiter {
    /// Publishes the request's own read (`answer`, made after [`Hub::join`]) to its topic.
    pub fn arrived(&self, answer: &Answer) {
        self.topic.publish(self.read, answer.clone());
    }

    /// Holds until the topic publishes a state other than `etag` from a read no older than the
    /// request's own, for at most `wait`, or until shutdown.
    pub async fn hold(mut self, etag: &str, wait: Duration) -> Held {
        let deadline = tokio::time::sleep(wait);
        tokio::pin!(deadline);
        loop {
            if let Some(p) = &*self.rx.borrow_and_update() {
                if p.read >= self.read && p.answer.etag != etag {
                    return Held::Changed(p.answer.clone());
                }
            }
            tokio::select! {
                changed = self.rx.changed() => if changed.is_err() { return Held::Unchanged },
                () = &mut deadline => return Held::Unchanged,
                _ = self.closing.wait_for(|c| *c) => return Held::Unchanged,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefer(values: &[&str]) -> Option<u64> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("prefer", HeaderValue::from_str(v).unwrap());
        }
        wait_preference(&h)
    }

    #[test]
    fn prefer_wait_is_read_as_rfc_7240_writes_it() {
        assert_eq!(prefer(&["wait=10"]), Some(10));
        assert_eq!(prefer(&["WAIT = 7"]), Some(7));
        assert_eq!(prefer(&["respond-async, wait=5"]), Some(5));
        assert_eq!(
            prefer(&["handling=lenient; x=\"a,b\", wait=\"3\""]),
            Some(3)
        );
        assert_eq!(prefer(&["return=minimal", "wait=4"]), Some(4));
        assert_eq!(prefer(&["wait=4;foo=bar"]), Some(4));
        assert_eq!(prefer(&["wait=2, wait=9"]), Some(2), "the first one counts");
        assert_eq!(prefer(&["wait=99999999999999999999999"]), Some(u64::MAX));
        for bad in [
            "wait",
            "wait=",
            "wait=-1",
            "wait=1.5",
            "wait=abc",
            "wait=0",
            "wait=\"\"",
            "waiting=5",
            "",
        ] {
            assert_eq!(prefer(&[bad]), None, "{bad:?}");
        }
        assert_eq!(
            prefer(&["wait=x, wait=5"]),
            None,
            "a malformed first wait means none"
        );
        assert_eq!(prefer(&[]), None);
    }

    #[test]
    fn etags_are_strong_stable_and_follow_the_bytes() {
        let a = etag_of(br#"{"status":"pending"}"#);
        assert_eq!(a, etag_of(br#"{"status":"pending"}"#));
        assert_ne!(a, etag_of(br#"{"status":"approved"}"#));
        assert_eq!(a.len(), 18);
        assert!(a.starts_with('"') && a.ends_with('"'));
        assert_eq!(etag_of(b"null"), etag_of(b"null"));
    }

    #[test]
    fn if_none_match_lists_weak_tags_and_star() {
        let mut h = HeaderMap::new();
        h.insert(
            "if-none-match",
            HeaderValue::from_static("\"x\", W/\"abc\""),
        );
        assert!(none_match(&h, "\"abc\""));
        assert!(none_match(&h, "\"x\""));
        assert!(!none_match(&h, "\"y\""));
        h.insert("if-none-match", HeaderValue::from_static("*"));
        assert!(none_match(&h, "\"anything\""));
        assert!(!none_match(&HeaderMap::new(), "\"abc\""));
    }
}
