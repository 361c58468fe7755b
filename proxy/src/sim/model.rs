//! An in-memory gu1: biometric sessions and KYC validations following the documented
//! lifecycle, plus what tests need to script it (next statuses, faults, a request log).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::gu1::{is_active, Gu1Error};
use crate::token::Kind;

/// The permissions gu1 documents for the hosted capture iframe.
pub const IFRAME_ALLOW: &str = "camera; microphone; fullscreen; autoplay; encrypted-media";

/// One biometric session or KYC validation, in gu1's shape.
#[derive(Clone, Debug)]
pub struct Record {
    /// Biometric session or KYC validation.
    pub kind: Kind,
    /// gu1's id of it.
    pub id: String,
    /// The entity it belongs to.
    pub entity_id: String,
    /// gu1's status (`pending`, `in_progress`, `approved`, ...).
    pub status: String,
    /// The hosted capture page's URL (on the hosted origin).
    pub hosted_url: String,
    /// gu1's rejection code, once rejected.
    pub rejection_code: Option<String>,
    /// gu1's rejection message, once rejected.
    pub rejection_message: Option<String>,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Time of the last change, RFC 3339.
    pub updated_at: String,
    /// When it reached a terminal status, RFC 3339.
    pub completed_at: Option<String>,
    /// When it expires, on the simulator's clock.
    pub expires: Instant,
    /// When it expires, RFC 3339.
    pub expires_at: String,
    /// Whether it is the entity's current validation (KYC).
    pub is_current: bool,
}

impl Record {
    /// Whether `v`, made by [`Record::to_gu1`] for this record, still says what it says now.
    fn is_as(&self, v: &Value) -> bool {
        let text = |k: &str| v.get(k).and_then(Value::as_str);
        let url = match self.kind {
            Kind::Biometric => "sessionUrl",
            Kind::Kyc => "providerSessionUrl",
        };
        let active = is_active(self.kind, &self.status);
        text("status") == Some(self.status.as_str())
            && text("updatedAt") == Some(self.updated_at.as_str())
            && text("completedAt") == self.completed_at.as_deref()
            && text("rejectionCode") == self.rejection_code.as_deref()
            && text("rejectionMessage") == self.rejection_message.as_deref()
            && text(url) == active.then_some(self.hosted_url.as_str())
            && (self.kind == Kind::Biometric
                || (v.get("isCurrent") == Some(&Value::Bool(self.is_current))
                    && text("expiresAt") == Some(self.expires_at.as_str())))
    }

    /// The full object as gu1 returns it (including fields the proxy never forwards).
    pub fn to_gu1(&self) -> Value {
        let active = is_active(self.kind, &self.status);
        match self.kind {
            Kind::Biometric => json!({
                "id": self.id, "entityId": self.entity_id, "organizationId": "org_sim",
                "status": self.status, "mode": "face_match",
                "sessionUrl": if active { Some(&self.hosted_url) } else { None },
                "hostedSessionId": format!("hosted_{}", self.id), "iframeAllow": IFRAME_ALLOW,
                "rejectionCode": self.rejection_code, "rejectionMessage": self.rejection_message,
                "decision": {"faceMatch": {"score": 0.97}},
                "createdAt": self.created_at, "updatedAt": self.updated_at, "completedAt": self.completed_at,
            }),
            Kind::Kyc => json!({
                "id": self.id, "entityId": self.entity_id, "organizationId": "org_sim",
                "sessionId": format!("prov_{}", self.id), "status": self.status, "provider": "sim",
                "providerSessionUrl": if active { Some(&self.hosted_url) } else { None },
                "isCurrent": self.is_current, "iframeAllow": IFRAME_ALLOW,
                "rejectionCode": self.rejection_code, "rejectionMessage": self.rejection_message,
                "extractedData": {"firstName": "Ada", "lastName": "Lovelace", "documentNumber": "X1234567"},
                "decision": {"idVerification": {"status": "Approved"}},
                "createdAt": self.created_at, "updatedAt": self.updated_at,
                "completedAt": self.completed_at, "expiresAt": self.expires_at,
            }),
        }
    }
}

/// A scripted change, applied to the entity's current record on its next status read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// The new status.
    pub status: Option<String>,
    /// gu1's rejection code to set with it.
    pub rejection_code: Option<String>,
    /// gu1's rejection message to set with it.
    pub rejection_message: Option<String>,
    /// Replaces the hosted URL (tests of a URL changing mid-flow).
    pub session_url: Option<String>,
    /// Whether gu1 sends a webhook for this change of status (default true; false: the proxy
    /// learns it only by reading, as when a webhook is lost).
    pub webhook: Option<bool>,
}

/// A fault served instead of (or before) the real answer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// Which endpoint it applies to: `"status"` (default), `"cancel"`, `"start"`.
    pub endpoint: Option<String>,
    /// Wait this long before answering.
    pub delay_ms: Option<u64>,
    /// Answer with this HTTP status (default: the real answer, after the delay).
    pub status: Option<u16>,
    /// `Retry-After` header value.
    pub retry_after: Option<String>,
    /// Raw body to send instead of the real one.
    pub body: Option<String>,
    /// A body of this many bytes (a JSON string padded with `a`).
    pub body_size: Option<usize>,
    /// Send the body in 64 KiB chunks without `Content-Length` (chunked transfer encoding).
    pub chunked: Option<bool>,
    /// `Content-Type` of the raw body (default `application/json`).
    pub content_type: Option<String>,
    /// How many requests this fault applies to (default 1).
    pub count: Option<u32>,
    /// Headers added to the answer (the fault's, or the real one when the fault sets no
    /// status or body), e.g. `ETag` or `Preference-Applied`.
    pub headers: Option<BTreeMap<String, String>>,
}

/// One proxy request, as tests read it back.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// `status`, `start` or `cancel`.
    pub endpoint: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// Milliseconds since the simulator started.
    pub at_ms: u64,
    /// Whether its token was accepted.
    pub authorized: bool,
    /// The answer's HTTP status.
    pub status: u16,
    /// The raw query string; the token must never appear in it.
    pub query: String,
    /// The client went away before the answer was ready (an aborted `fetch` closes its
    /// connection): nothing was sent, `status` is 0 and `at_ms` is when the proxy noticed.
    pub aborted: bool,
    /// The request asked to be held (`Prefer: wait` with `If-None-Match`).
    pub wait: bool,
    /// Milliseconds between its arrival and its answer (or abort).
    pub held_ms: u64,
}

#[derive(Debug, Default)]
struct Entity {
    kind: Option<Kind>,
    records: Vec<String>,
    /// gu1's answer to every create for this entity, instead of a new session.
    refusal: Option<Gu1Error>,
    script: VecDeque<Step>,
    faults: VecDeque<Fault>,
    log: Vec<LogEntry>,
    /// The browser's requests for this entity are served as by a proxy that does not know
    /// held requests: no `ETag`, `If-None-Match` and `Prefer` unseen.
    ignore_wait: bool,
    /// Reads of this entity's sessions at gu1 (by id or "current").
    gu1_reads: u64,
    /// Webhooks about this entity's sessions that the proxy accepted.
    webhooks: u64,
}

/// What `GET /__control/entities/{e}/stats` tells about an entity.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Reads of the entity's sessions at gu1: by the proxy in front of the simulator, and over
    /// the simulated REST API by upstream-mode proxies.
    pub gu1_reads: u64,
    /// Requests to the proxy's browser endpoints made with the entity's tokens.
    pub requests: usize,
    /// gu1's webhooks about the entity's sessions that the proxy accepted.
    pub webhooks_sent: u64,
}

/// The simulator's state.
#[derive(Debug)]
pub struct Simulator {
    started: Instant,
    hosted_origin: String,
    inner: Mutex<Inner>,
    /// Where changes of status go to become gu1's webhooks (`outbox`), when they are sent.
    changes: Mutex<Option<tokio::sync::mpsc::UnboundedSender<Record>>>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    records: HashMap<String, Record>,
    entities: HashMap<String, Entity>,
    /// The last gu1 answer made for each record read (see `Simulator::answer`).
    gu1_answers: HashMap<String, Arc<Value>>,
}

/// Now plus `offset`, as gu1 writes times (RFC 3339, UTC, whole seconds).
fn timestamp(offset: Duration) -> String {
    let t = time::OffsetDateTime::now_utc() + offset;
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Simulator {
    /// A simulator whose hosted capture pages live at `hosted_origin`.
    pub fn new(hosted_origin: impl Into<String>) -> Self {
        Simulator {
            started: Instant::now(),
            hosted_origin: hosted_origin.into(),
            inner: Mutex::new(Inner::default()),
            changes: Mutex::new(None),
        }
    }

    /// From now on every change of a session's status (a scripted or `set` step, the hosted
    /// page's decision, a cancel) is sent on the returned channel, for gu1's webhooks.
    pub fn changes(&self) -> tokio::sync::mpsc::UnboundedReceiver<Record> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        *self.changes.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        rx
    }

    fn changed(&self, r: &Record) {
        if let Some(tx) = &*self.changes.lock().unwrap_or_else(|p| p.into_inner()) {
            let _ = tx.send(r.clone());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates an entity (a person with approved KYC) and returns its id.
    pub fn create_entity(&self, kind: Kind) -> String {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = format!("ent_{:06}_{}", inner.next_id, nonce());
        inner.entities.insert(
            id.clone(),
            Entity {
                kind: Some(kind),
                ..Entity::default()
            },
        );
        id
    }

    /// Whether the entity exists.
    pub fn has_entity(&self, entity_id: &str) -> bool {
        self.lock().entities.contains_key(entity_id)
    }

    /// `POST /api/kyc/biometric/sessions` or `POST /api/kyc/validations`: one active session per
    /// entity; another create while one is active is 409 `ACTIVE_SESSION_EXISTS` (biometric).
    pub fn create(&self, kind: Kind, entity_id: &str, ttl: Duration) -> Result<Record, Gu1Error> {
        let mut inner = self.lock();
        let Inner {
            next_id,
            records,
            entities,
            ..
        } = &mut *inner;
        let Some(entity) = entities.get_mut(entity_id) else {
            return Err(Gu1Error::new(404, "ENTITY_NOT_FOUND", "entity not found"));
        };
        if let Some(refusal) = &entity.refusal {
            return Err(refusal.clone());
        }
        let active = entity
            .records
            .iter()
            .rev()
            .filter_map(|id| records.get(id))
            .find(|r| r.kind == kind && is_active(kind, &r.status))
            .map(|r| r.id.clone());
        if let (Kind::Biometric, Some(active)) = (kind, active) {
            let mut e = Gu1Error::new(
                409,
                "ACTIVE_SESSION_EXISTS",
                "an active session exists for this entity",
            );
            e.active_session_id = Some(active);
            return Err(e);
        }
        // A new validation demotes the previous current one.
        for id in &entity.records {
            if let Some(r) = records.get_mut(id) {
                if r.kind == kind {
                    r.is_current = false;
                }
            }
        }
        *next_id += 1;
        let prefix = if kind == Kind::Biometric {
            "bio"
        } else {
            "kyc"
        };
        let id = format!("{prefix}_{:06}_{}", next_id, nonce());
        let now = timestamp(Duration::ZERO);
        let record = Record {
            kind,
            id: id.clone(),
            entity_id: entity_id.to_owned(),
            status: "pending".into(),
            hosted_url: format!("{}/session/{id}", self.hosted_origin),
            rejection_code: None,
            rejection_message: None,
            created_at: now.clone(),
            updated_at: now,
            completed_at: None,
            expires: Instant::now() + ttl,
            expires_at: timestamp(ttl),
            is_current: true,
        };
        entity.records.push(id.clone());
        records.insert(id, record.clone());
        Ok(record)
    }

    fn expire(record: &mut Record) {
        if is_active(record.kind, &record.status) && Instant::now() >= record.expires {
            Self::set_status(record, "expired");
        }
    }

    fn set_status(record: &mut Record, status: &str) {
        record.status = status.to_owned();
        record.updated_at = timestamp(Duration::ZERO);
        if !is_active(record.kind, status) && record.completed_at.is_none() {
            record.completed_at = Some(record.updated_at.clone());
        }
    }

    /// The entity's record `id`, brought up to date (expiry); another entity's is "not found".
    fn owned<'a>(
        inner: &'a mut Inner,
        entity_id: &str,
        id: &str,
    ) -> Result<&'a mut Record, Gu1Error> {
        let r = inner
            .records
            .get_mut(id)
            .filter(|r| r.entity_id == entity_id)
            .ok_or_else(|| Gu1Error::new(404, "NOT_FOUND", "session not found"))?;
        Self::expire(r);
        Ok(r)
    }

    /// The session by id, for its entity only.
    pub fn get(&self, entity_id: &str, id: &str) -> Result<Record, Gu1Error> {
        Self::owned(&mut self.lock(), entity_id, id).map(|r| r.clone())
    }

    /// The entity's current session of `kind`: the latest created one (biometric) or the one
    /// marked current (KYC).
    pub fn current(&self, entity_id: &str, kind: Kind) -> Option<Record> {
        self.with_current(entity_id, kind, false, |r, _| r.clone())
    }

    /// The entity's current record as gu1 returns it, its read counted: one lock, no copy of
    /// the record (the simulated gu1's answer to every status read).
    pub fn current_gu1(&self, entity_id: &str, kind: Kind) -> Option<Arc<Value>> {
        self.with_current(entity_id, kind, true, |r, answers| Self::answer(answers, r))
    }

    /// Session `id` of `kind` as gu1 returns it, its read counted.
    pub fn get_gu1(&self, kind: Kind, id: &str) -> Option<Arc<Value>> {
        let mut inner = self.lock();
        let Inner {
            records,
            entities,
            gu1_answers,
            ..
        } = &mut *inner;
        let r = records.get_mut(id).filter(|r| r.kind == kind)?;
        Self::expire(r);
        if let Some(e) = entities.get_mut(&r.entity_id) {
            e.gu1_reads += 1;
        }
        Some(Self::answer(gu1_answers, r))
    }

    /// `r` as gu1 returns it: the answer made for it last time while it still says the same,
    /// else a new one (the simulated gu1 is read on every status request).
    fn answer(answers: &mut HashMap<String, Arc<Value>>, r: &Record) -> Arc<Value> {
        if let Some(v) = answers.get(&r.id).filter(|v| r.is_as(v)) {
            return v.clone();
        }
        let v = Arc::new(r.to_gu1());
        answers.insert(r.id.clone(), v.clone());
        v
    }

    /// `f` on the entity's current record of `kind` (expired first if its time is up) and the
    /// answers made for records; `read`: a read of gu1's, counted.
    fn with_current<T>(
        &self,
        entity_id: &str,
        kind: Kind,
        read: bool,
        f: impl FnOnce(&Record, &mut HashMap<String, Arc<Value>>) -> T,
    ) -> Option<T> {
        let mut inner = self.lock();
        let Inner {
            records,
            entities,
            gu1_answers,
            ..
        } = &mut *inner;
        let entity = entities.get_mut(entity_id)?;
        if read {
            entity.gu1_reads += 1;
        }
        let id = entity.records.iter().rev().find(|id| {
            records
                .get(*id)
                .is_some_and(|r| r.kind == kind && (kind == Kind::Biometric || r.is_current))
        })?;
        let r = records.get_mut(id)?;
        Self::expire(r);
        Some(f(r, gu1_answers))
    }

    /// Applies the next scripted step, if any, to the entity's current record.
    pub fn advance(&self, entity_id: &str, kind: Kind) {
        let step = {
            let mut inner = self.lock();
            let Some(entity) = inner.entities.get_mut(entity_id) else {
                return;
            };
            // The last step sticks: it is applied again on later reads (a no-op).
            if entity.script.len() > 1 {
                entity.script.pop_front()
            } else {
                entity.script.front().cloned()
            }
        };
        if let Some(step) = step {
            let _ = self.apply(entity_id, kind, &step);
        }
    }

    /// Applies a step now to the entity's current record.
    pub fn apply(&self, entity_id: &str, kind: Kind, step: &Step) -> Option<Record> {
        let current = self.current(entity_id, kind)?;
        let mut inner = self.lock();
        let r = inner.records.get_mut(&current.id)?;
        let mut changed = false;
        if let Some(s) = &step.status {
            if s != &r.status {
                Self::set_status(r, s);
                changed = step.webhook != Some(false);
            }
        }
        if step.rejection_code.is_some() {
            r.rejection_code = step.rejection_code.clone();
        }
        if step.rejection_message.is_some() {
            r.rejection_message = step.rejection_message.clone();
        }
        if let Some(u) = &step.session_url {
            r.hosted_url = u.clone();
        }
        let r = r.clone();
        if changed {
            self.changed(&r);
        }
        Some(r)
    }

    /// The hosted page's decision (Approve / Reject / Abandon) for session `id`.
    pub fn decide(&self, id: &str, decision: &str) -> Option<Record> {
        let mut inner = self.lock();
        let r = inner.records.get_mut(id)?;
        Self::expire(r);
        if !is_active(r.kind, &r.status) {
            return Some(r.clone());
        }
        let before = r.status.clone();
        match decision {
            "start" => {
                if r.status == "pending" {
                    Self::set_status(r, "in_progress");
                }
            }
            "approve" => Self::set_status(r, "approved"),
            "reject" => {
                r.rejection_code = Some("FACE_MATCH_SCORE_LOW".into());
                r.rejection_message = Some("The face did not match the reference portrait.".into());
                Self::set_status(r, "rejected");
            }
            "abandon" => Self::set_status(r, "abandoned"),
            _ => return None,
        }
        let r = r.clone();
        if r.status != before {
            self.changed(&r);
        }
        Some(r)
    }

    /// Cancels an active session; terminal sessions are refused.
    pub fn cancel(&self, entity_id: &str, id: &str) -> Result<Record, Gu1Error> {
        let mut inner = self.lock();
        let r = Self::owned(&mut inner, entity_id, id)?;
        if !is_active(r.kind, &r.status) {
            return Err(Gu1Error::new(
                409,
                "SESSION_TERMINAL",
                format!("the session is already {}", r.status),
            ));
        }
        Self::set_status(r, "cancelled");
        r.is_current = r.kind == Kind::Biometric;
        let r = r.clone();
        self.changed(&r);
        Ok(r)
    }

    /// A record by id alone (gu1's own API, which the secret key may read in full).
    pub fn lookup(&self, id: &str) -> Option<Record> {
        let mut inner = self.lock();
        let r = inner.records.get_mut(id)?;
        Self::expire(r);
        Some(r.clone())
    }

    /// The record's hosted URL for a session id (hosted pages look themselves up).
    pub fn record(&self, id: &str) -> Option<Record> {
        self.lock().records.get(id).cloned()
    }

    /// Replaces the script of an entity.
    pub fn script(&self, entity_id: &str, steps: Vec<Step>) -> bool {
        let mut inner = self.lock();
        let Some(e) = inner.entities.get_mut(entity_id) else {
            return false;
        };
        e.script = steps.into();
        true
    }

    /// Makes gu1 answer every create for the entity with `refusal` (`None`: create again).
    pub fn refuse_create(&self, entity_id: &str, refusal: Option<Gu1Error>) -> bool {
        let mut inner = self.lock();
        let Some(e) = inner.entities.get_mut(entity_id) else {
            return false;
        };
        e.refusal = refusal;
        true
    }

    /// Appends faults for an entity.
    pub fn faults(&self, entity_id: &str, faults: Vec<Fault>) -> bool {
        let mut inner = self.lock();
        let Some(e) = inner.entities.get_mut(entity_id) else {
            return false;
        };
        for f in faults {
            for _ in 0..f.count.unwrap_or(1).clamp(1, 10_000) {
                e.faults.push_back(f.clone());
            }
        }
        true
    }

    /// Takes the next fault for `endpoint`, if the first queued one applies to it.
    pub fn take_fault(&self, entity_id: &str, endpoint: &str) -> Option<Fault> {
        let mut inner = self.lock();
        let e = inner.entities.get_mut(entity_id)?;
        let pos = e
            .faults
            .iter()
            .position(|f| f.endpoint.as_deref().unwrap_or("status") == endpoint)?;
        e.faults.remove(pos)
    }

    /// Records a proxy request (its `at_ms` is set here).
    pub fn log(&self, entity_id: &str, mut entry: LogEntry) {
        entry.at_ms = self.started.elapsed().as_millis() as u64;
        let mut inner = self.lock();
        if let Some(e) = inner.entities.get_mut(entity_id) {
            if e.log.len() < 100_000 {
                e.log.push(entry);
            }
        }
    }

    /// The request log of an entity.
    pub fn requests(&self, entity_id: &str) -> Option<Vec<LogEntry>> {
        self.lock().entities.get(entity_id).map(|e| e.log.clone())
    }

    /// Counts a read of the entity's sessions at gu1.
    pub fn count_read(&self, entity_id: &str) {
        if let Some(e) = self.lock().entities.get_mut(entity_id) {
            e.gu1_reads += 1;
        }
    }

    /// Counts a webhook about the entity's sessions that the proxy accepted.
    pub fn count_webhook(&self, entity_id: &str) {
        if let Some(e) = self.lock().entities.get_mut(entity_id) {
            e.webhooks += 1;
        }
    }

    /// Serves the entity's browser requests as a proxy that ignores `If-None-Match` and
    /// `Prefer` and sends no `ETag` (`ignore`), or as this one (the default).
    pub fn ignore_wait(&self, entity_id: &str, ignore: bool) -> bool {
        let mut inner = self.lock();
        let Some(e) = inner.entities.get_mut(entity_id) else {
            return false;
        };
        e.ignore_wait = ignore;
        true
    }

    /// Whether the entity's requests are served as by a proxy that ignores held requests.
    pub fn ignores_wait(&self, entity_id: &str) -> bool {
        self.lock()
            .entities
            .get(entity_id)
            .is_some_and(|e| e.ignore_wait)
    }

    /// Counts about the entity.
    pub fn stats(&self, entity_id: &str) -> Option<Stats> {
        self.lock().entities.get(entity_id).map(|e| Stats {
            gu1_reads: e.gu1_reads,
            requests: e.log.len(),
            webhooks_sent: e.webhooks,
        })
    }

    /// The kind an entity was created for.
    pub fn entity_kind(&self, entity_id: &str) -> Option<Kind> {
        self.lock().entities.get(entity_id).and_then(|e| e.kind)
    }

    /// Milliseconds since start (the log's clock).
    pub fn clock_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// A short random suffix so ids from two simulator runs never collide.
fn nonce() -> String {
    let n = getrandom::u32().unwrap_or_else(|_| {
        // Without the OS's randomness, the clock still tells two runs apart.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    });
    format!("{n:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_active_biometric_session_per_entity() {
        let sim = Simulator::new("http://127.0.0.1:1");
        let e = sim.create_entity(Kind::Biometric);
        let first = sim
            .create(Kind::Biometric, &e, Duration::from_secs(60))
            .unwrap();
        let err = sim
            .create(Kind::Biometric, &e, Duration::from_secs(60))
            .unwrap_err();
        assert_eq!(
            (err.http, err.code.as_str()),
            (409, "ACTIVE_SESSION_EXISTS")
        );
        assert_eq!(err.active_session_id.as_deref(), Some(first.id.as_str()));
        sim.cancel(&e, &first.id).unwrap();
        assert_eq!(sim.cancel(&e, &first.id).unwrap_err().http, 409);
        let second = sim
            .create(Kind::Biometric, &e, Duration::from_secs(60))
            .unwrap();
        assert_eq!(sim.current(&e, Kind::Biometric).unwrap().id, second.id);
    }

    #[test]
    fn gu1_answers_are_shared_until_the_record_changes() {
        let sim = Simulator::new("http://127.0.0.1:1");
        let e = sim.create_entity(Kind::Kyc);
        let r = sim.create(Kind::Kyc, &e, Duration::from_secs(60)).unwrap();
        let first = sim.current_gu1(&e, Kind::Kyc).unwrap();
        let again = sim.current_gu1(&e, Kind::Kyc).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "unchanged: the same answer");
        assert_eq!(*first, r.to_gu1());
        let step = Step {
            status: Some("approved".into()),
            ..Step::default()
        };
        sim.apply(&e, Kind::Kyc, &step);
        let after = sim.current_gu1(&e, Kind::Kyc).unwrap();
        assert_eq!(after["status"], "approved");
        assert_eq!(after["providerSessionUrl"], Value::Null);
        assert_eq!(*after, sim.current(&e, Kind::Kyc).unwrap().to_gu1());
        assert_eq!(sim.get_gu1(Kind::Kyc, &r.id).unwrap(), after);
        assert!(
            sim.get_gu1(Kind::Biometric, &r.id).is_none(),
            "another kind"
        );
        assert_eq!(sim.stats(&e).unwrap().gu1_reads, 4);
    }

    #[test]
    fn lifecycle_and_expiry() {
        let sim = Simulator::new("http://127.0.0.1:1");
        let e = sim.create_entity(Kind::Kyc);
        assert!(sim.current(&e, Kind::Kyc).is_none());
        let r = sim.create(Kind::Kyc, &e, Duration::ZERO).unwrap();
        assert_eq!(sim.get(&e, &r.id).unwrap().status, "expired");
        assert!(sim.get("other", &r.id).is_err());
        let r = sim.create(Kind::Kyc, &e, Duration::from_secs(60)).unwrap();
        assert_eq!(
            sim.decide(&r.id, "reject")
                .unwrap()
                .rejection_code
                .as_deref(),
            Some("FACE_MATCH_SCORE_LOW")
        );
        let v = sim.get(&e, &r.id).unwrap().to_gu1();
        assert_eq!(v["status"], "rejected");
        assert!(v["providerSessionUrl"].is_null());
        assert!(v["completedAt"].is_string());
    }

    #[test]
    fn script_steps_apply_in_order_and_the_last_sticks() {
        let sim = Simulator::new("http://127.0.0.1:1");
        let e = sim.create_entity(Kind::Biometric);
        sim.create(Kind::Biometric, &e, Duration::from_secs(60))
            .unwrap();
        let step = |s: &str| Step {
            status: Some(s.into()),
            ..Step::default()
        };
        sim.script(&e, vec![step("in_progress"), step("approved")]);
        sim.advance(&e, Kind::Biometric);
        assert_eq!(
            sim.current(&e, Kind::Biometric).unwrap().status,
            "in_progress"
        );
        sim.advance(&e, Kind::Biometric);
        sim.advance(&e, Kind::Biometric);
        assert_eq!(sim.current(&e, Kind::Biometric).unwrap().status, "approved");
    }

    #[test]
    fn timestamps_are_iso() {
        let t = timestamp(Duration::ZERO);
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z') && t.as_bytes()[10] == b'T');
        assert_ne!(nonce(), nonce());
    }
}
