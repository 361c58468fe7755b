// Test-side helpers for the browser suites: talk to the simulator's control API, create
// containers, record every DOM event and callback, and wait with deadlines. The library under
// test is called from Rust; nothing here imitates it.

let SIM = "";

export function setSim(url) {
  SIM = url;
}

export async function control(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined && body !== null) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(SIM + path, init);
  const text = await r.text();
  if (!r.ok) throw new Error(`control ${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** A new entity and session. The proxy holds this entity's waiting requests only when the body
 *  says `honourWait: true`: the suites written for polling (intervals, backoff, hints, scripted
 *  steps applied per request) run against a proxy that knows nothing of held requests, and the
 *  blocking-request tests ask for one that does. */
export async function newSession(body) {
  const s = await control("POST", "/__control/sessions", { honourWait: false, ...(body || {}) });
  tokens.add(s.token);
  return s;
}

/** The simulator's request log of an entity: `{now, requests}` (its clock, ms). */
export async function requestLog(entityId) {
  return control("GET", `/__control/entities/${entityId}/log`);
}

/** Requests the proxy answered. One whose client went away first is logged with
 *  `aborted: true` and is not counted here (see `abortedRequests`). */
export async function requests(entityId, endpoint) {
  const log = await requestLog(entityId);
  return log.requests.filter((r) => !r.aborted && (!endpoint || r.endpoint === endpoint));
}

/** Requests whose client closed the connection before the proxy answered. */
export async function abortedRequests(entityId, endpoint) {
  const log = await requestLog(entityId);
  return log.requests.filter((r) => r.aborted && (!endpoint || r.endpoint === endpoint));
}

export async function requestCount(entityId, endpoint) {
  return (await requests(entityId, endpoint)).length;
}

/** Gaps in ms between consecutive requests to an endpoint. */
export async function requestGaps(entityId, endpoint) {
  const at = (await requests(entityId, endpoint)).map((r) => r.atMs);
  return at.slice(1).map((t, i) => t - at[i]);
}

const TYPES = ["gu1kyc:ready", "gu1kyc:status", "gu1kyc:complete", "gu1kyc:error", "gu1kyc:fallback", "gu1kyc:close"];

export function recorder() {
  // A dialog a failed modal test left open would make the rest of the page inert.
  for (const d of document.querySelectorAll("dialog")) d.remove();
  const el = document.createElement("div");
  el.className = "kyc-test";
  document.body.appendChild(el);
  const rec = { el, events: [], calls: [], bodyEvents: 0, refreshCalls: 0, extra: {} };
  for (const t of TYPES) {
    el.addEventListener(t, (e) =>
      rec.events.push({ type: t, detail: e.detail, bubbles: e.bubbles, composed: e.composed, at: performance.now() }),
    );
  }
  rec.onBody = () => rec.bodyEvents++;
  document.body.addEventListener("gu1kyc:complete", rec.onBody);
  rec.callbacks = {
    onReady: (d) => rec.calls.push(["ready", d]),
    onStatus: (s) => rec.calls.push(["status", s]),
    onComplete: (r) => rec.calls.push(["complete", r]),
    onError: (e) => rec.calls.push(["error", e]),
  };
  return rec;
}

/** Options for `mount`: the session's URLs and token, recording callbacks, then `extra`. */
export function options(rec, s, extra) {
  return Object.assign(
    { container: rec.el, statusUrl: s.statusUrl, token: s.token, cancelUrl: s.cancelUrl, pollIntervalMs: 100 },
    rec.callbacks,
    rec.extra,
    extra || {},
  );
}

/** Adds a `refreshToken` of the given behaviour: works | bad | throws | hangs | rejects. */
export function withRefresh(rec, s, mode) {
  rec.extra.refreshToken = () => {
    rec.refreshCalls++;
    rec.refreshAt = performance.now();
    switch (mode) {
      case "works":
        return control("POST", `/__control/entities/${s.entityId}/token`, {}).then((t) => {
          tokens.add(t.token);
          return t.token;
        });
      case "bad":
        return Promise.resolve("v1.forged.token");
      case "throws":
        throw new Error("refresh failed");
      case "rejects":
        return Promise.reject(new Error("refresh rejected"));
      case "hangs":
        return new Promise(() => {});
      default:
        return 42;
    }
  };
}

/** Makes a callback throw (isolation tests). */
export function throwing(rec, name) {
  const orig = rec.callbacks[name];
  rec.extra[name] = (x) => {
    orig(x);
    throw new Error(name + " blew up");
  };
}

export function count(rec, type) {
  return rec.events.filter((e) => e.type === type).length;
}

export function callCount(rec, name) {
  return rec.calls.filter((c) => c[0] === name).length;
}

export function statuses(rec) {
  return rec.events.filter((e) => e.type === "gu1kyc:status").map((e) => e.detail.status);
}

export function errorCodes(rec, retrying) {
  return rec.events
    .filter((e) => e.type === "gu1kyc:error" && (retrying === undefined || e.detail.retrying === retrying))
    .map((e) => e.detail.code);
}

export function lastEvent(rec, type) {
  const e = rec.events.filter((x) => x.type === type).pop();
  return e ? e : null;
}

export function calls(rec) {
  return rec.calls;
}

export function iframes(rec) {
  return rec.el.querySelectorAll("iframe").length;
}

export function iframe(rec) {
  return rec.el.querySelector("iframe");
}

export function allIframes() {
  return document.querySelectorAll("iframe[data-gu1-kyc]").length;
}

export function cleanup(rec) {
  document.body.removeEventListener("gu1kyc:complete", rec.onBody);
  rec.el.remove();
}

export function sleep(ms) {
  return new Promise((r) => origSetTimeout(r, ms));
}

/** Settles `p` or reports it pending after `ms`: {state, value}. */
export function settle(p, ms) {
  return Promise.race([
    p.then(
      (value) => ({ state: "resolved", value }),
      (value) => ({ state: "rejected", value }),
    ),
    sleep(ms).then(() => ({ state: "pending", value: null })),
  ]);
}

/** Waits until `rec` has `n` events of `type`; returns whether it happened in `ms`. */
export async function waitEvents(rec, type, n, ms) {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (count(rec, type) >= n) return true;
    await sleep(20);
  }
  return count(rec, type) >= n;
}

/** Waits for an element's next `load` event; false after `ms`. */
export function waitLoad(el, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    el.addEventListener("load", () => resolve(clearTimeout(timer) === undefined), { once: true });
  });
}

/** Waits until the entity has `n` requests to `endpoint`. */
export async function waitRequests(entityId, endpoint, n, ms) {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if ((await requestCount(entityId, endpoint)) >= n) return true;
    await sleep(40);
  }
  return false;
}

/** Pretends the page is hidden (or visible again) and tells listeners, as a tab switch does. */
export function setHidden(hidden) {
  if (hidden) {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  } else {
    delete document.hidden;
    delete document.visibilityState;
  }
  document.dispatchEvent(new Event("visibilitychange"));
}

/** A second iframe of the hosted origin (same origin as the session, another window). */
export function foreignFrame(url) {
  const f = document.createElement("iframe");
  f.src = url;
  document.body.appendChild(f);
  return f;
}

/** An element of an XML document: no HTML iframe can be created in it. */
export function xmlContainer() {
  return document.implementation.createDocument(null, "root", null).documentElement;
}

export function postToSelf(message) {
  window.postMessage(message, "*");
}

export function get(obj, key) {
  return obj == null ? undefined : obj[key];
}

export function keys(obj) {
  return Object.keys(obj).sort().join(",");
}

export function isError(e) {
  return e instanceof Error;
}

export function pageText() {
  return document.documentElement.outerHTML;
}

export const seen = [];
const received = [];
window.addEventListener("message", (e) => {
  if (forging) return; // hostile data made by forgeFromFrame below
  seen.push(e.origin + " " + JSON.stringify(e.data).slice(0, 60));
  // The iframe whose window sent it, held weakly so removed iframes are not kept for the run.
  const frame = [...document.querySelectorAll("iframe")].find((f) => e.source && f.contentWindow === e.source);
  const type = e.data && typeof e.data === "object" ? e.data.type : undefined;
  received.push({ origin: e.origin, frame: frame ? new WeakRef(frame) : null, type });
});
let forging = false;

/** Page code dispatching MessageEvents of its own making that pass the source and origin checks
 *  (source: the iframe's window, origin: its URL's), with data that throws when read: proxies
 *  whose traps throw, and a revoked proxy. Returns how many were dispatched. */
export function forgeFromFrame(frame) {
  const boom = () => {
    throw new Error("forged data");
  };
  const revocable = Proxy.revocable({}, {});
  revocable.revoke();
  const data = [
    new Proxy({}, { getOwnPropertyDescriptor: boom, get: boom, has: boom, ownKeys: boom }),
    new Proxy({ type: "didit:status_updated" }, { get: boom }),
    revocable.proxy,
  ];
  forging = true;
  try {
    for (const d of data) {
      const e = new MessageEvent("message", { data: d, origin: new URL(frame.src).origin });
      // Firefox refuses another origin's window as `source` in the constructor; an own property
      // reads the same to the client.
      Object.defineProperty(e, "source", { value: frame.contentWindow });
      window.dispatchEvent(e);
    }
  } finally {
    forging = false;
  }
  return data.length;
}
export function seenMessages() {
  return seen.join("\n");
}

/** Messages this window received from the window of the iframe `frame`, of `origin` and (object) `type`. */
export function seenFrom(frame, origin, type) {
  return received.filter((m) => m.frame && m.frame.deref() === frame && m.origin === origin && m.type === type).length;
}

// ---------------------------------------------------------------------------------------------
// Hygiene and leak instruments, installed when the harness loads (before any mount).

/** Every token the simulator handed out in this run, and everything printed to the console. */
export const tokens = new Set();
const printed = [];
for (const level of ["log", "info", "warn", "error", "debug"]) {
  const orig = console[level].bind(console);
  console[level] = (...args) => {
    try {
      printed.push(args.map((a) => (a instanceof Error ? `${a.name} ${a.message} ${a.stack}` : typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    } catch (_) {
      printed.push(String(args[0]));
    }
    return orig(...args);
  };
}

/** Where a token must never be: the DOM, console output, error messages seen by callbacks or
 *  events, and the URLs of requests (as the simulator logged them). Returns the first leak. */
export function tokenLeak(rec) {
  const places = [
    ["DOM", document.documentElement.outerHTML],
    ["console", printed.join("\n")],
    ["events", JSON.stringify(rec ? rec.events.map((e) => e.detail) : [])],
    ["callbacks", rec ? rec.calls.map((c) => (c[1] instanceof Error ? c[1].message : JSON.stringify(c[1]))).join("\n") : ""],
  ];
  for (const t of tokens) {
    for (const [where, text] of places) if (text && text.includes(t)) return where;
  }
  return "";
}

/** Live event listeners and pending timers created through the platform APIs. */
const listeners = new Map();
let listenerKey = 0;
const origAdd = EventTarget.prototype.addEventListener;
const origRemove = EventTarget.prototype.removeEventListener;
const ids = new WeakMap();
const idOf = (o) => {
  if (o === null || (typeof o !== "object" && typeof o !== "function")) return String(o);
  if (!ids.has(o)) ids.set(o, ++listenerKey);
  return ids.get(o);
};
EventTarget.prototype.addEventListener = function (type, fn, opts) {
  const capture = typeof opts === "boolean" ? opts : !!(opts && opts.capture);
  listeners.set(`${idOf(this)}|${type}|${idOf(fn)}|${capture}`, type);
  return origAdd.call(this, type, fn, opts);
};
EventTarget.prototype.removeEventListener = function (type, fn, opts) {
  const capture = typeof opts === "boolean" ? opts : !!(opts && opts.capture);
  listeners.delete(`${idOf(this)}|${type}|${idOf(fn)}|${capture}`);
  return origRemove.call(this, type, fn, opts);
};
export function listenerCount(type) {
  let n = 0;
  for (const t of listeners.values()) if (t === type) n++;
  return n;
}

const pendingTimers = new Set();
const origSetTimeout = window.setTimeout.bind(window);
const origClearTimeout = window.clearTimeout.bind(window);
window.setTimeout = function (fn, ms, ...rest) {
  const id = origSetTimeout(
    (...a) => {
      pendingTimers.delete(id);
      if (typeof fn === "function") fn(...a);
    },
    ms,
    ...rest,
  );
  pendingTimers.add(id);
  return id;
};
window.clearTimeout = function (id) {
  pendingTimers.delete(id);
  return origClearTimeout(id);
};
/** Pending timers, minus the harness's own sleeps. */
export function timerCount() {
  return pendingTimers.size;
}

export function remember(token) {
  tokens.add(token);
}

export function print(line) {
  console.log(line);
}

const realAgent = Object.getOwnPropertyDescriptor(Navigator.prototype, "userAgent");

/** Makes `navigator.userAgent` read `ua` (the browser's own again with null). */
export function setUserAgent(ua) {
  if (ua === null) delete navigator.userAgent;
  else Object.defineProperty(navigator, "userAgent", { get: () => ua, configurable: true });
  return realAgent.get.call(navigator) !== navigator.userAgent || ua === null;
}

/** The pre-flight's verdict on this page, read here independently of the library. */
export async function expectedPreflight() {
  const n = navigator, p = document.permissionsPolicy || document.featurePolicy;
  if (!isSecureContext) return "INSECURE_CONTEXT";
  if (!(n.mediaDevices && n.mediaDevices.getUserMedia)) return "NO_MEDIA_DEVICES";
  if (p && !p.allowsFeature("camera")) return "CAMERA_BLOCKED_BY_POLICY";
  if (/Instagram|FBAN\/|FBAV\/|FB_IAB|musical_ly|BytedanceWebview|LinkedInApp|MicroMessenger|Snapchat| Line\/|; wv\)/.test(n.userAgent)) return "IN_APP_BROWSER";
  if (/iPhone|iPad|iPod/.test(n.userAgent) && !/Safari\//.test(n.userAgent)) return "IN_APP_BROWSER";
  let state = null;
  try {
    state = (await n.permissions.query({ name: "camera" })).state;
  } catch (e) {}
  return state === "denied" ? "CAMERA_DENIED" : null;
}

/** What the container shows: "iframe", "dialog", "panel" (with its texts) or "". */
export function view(el) {
  const c = el.firstElementChild;
  if (!c) return "";
  if (c.localName !== "div") return c.localName + (c.localName === "dialog" && c.open ? ":open" : "");
  return "panel:" + [...c.children].map((x) => x.localName + (x.type ? "[" + x.type + "]" : "") + "=" + x.textContent).join("|");
}

/** Clicks the panel's button. */
export function clickButton(el) {
  el.querySelector("button").click();
}
