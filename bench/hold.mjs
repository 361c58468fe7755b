// Held status requests at scale, against a running simulate-mode proxy (it starts nothing):
// opens N concurrent held `GET /kyc/status` requests (If-None-Match + Prefer: wait), one session
// and one raw socket each, reads the proxy's RSS from /proc/<pid>/status before and while they
// are held (memory per waiting request), then has gu1 decide every session quietly and posts
// its signed webhook, and measures each request's wake-up from its webhook's post to the first
// byte of its answer. Prints one JSON line.
//
// Usage (raise the open-file limit first, the proxy's too):
//   ulimit -n 20000
//   gu1-kyc-proxy simulate --listen 127.0.0.1:P --hosted-listen 127.0.0.1:H --webhook-secret S \
//     --max-connections 12000 --max-wait-secs 300 --webhook-concurrency 64 --sim-webhooks off \
//     --max-connections-per-client 0 &     (every socket here comes from 127.0.0.1)
//   node bench/hold.mjs --proxy http://127.0.0.1:P --pid <proxy pid> --webhook-secret S \
//     [--control URL (default: --proxy)] [--waiters 10000] [--wait 300] [--concurrency 64]
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => {
    if (a.startsWith("--")) pairs.push([a.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);
const PROXY = new URL(args.proxy || process.env.GU1_HOLD_PROXY || "http://127.0.0.1:8787");
const CONTROL = new URL(args.control || PROXY.href);
const PID = Number(args.pid || process.env.GU1_HOLD_PID);
const SECRET = args["webhook-secret"] || process.env.GU1_WEBHOOK_SECRET;
const WAITERS = Number(args.waiters || 10000);
const WAIT = Number(args.wait || 300);
const CONCURRENCY = Number(args.concurrency || 64);
if (!PID || !SECRET) {
  console.error("usage: node bench/hold.mjs --proxy URL --pid PROXY_PID --webhook-secret S [--waiters N]");
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${PID}/status`, "utf8"))[1]);

/** One HTTP exchange over the keep-alive agent: {status, headers, body}. */
function call(base, method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: base.hostname, port: base.port, method, path, agent, headers },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}
const json = (v) => ({ headers: { "content-type": "application/json" }, body: JSON.stringify(v) });

/** Runs `task(i)` for i in 0..n, `limit` at a time. */
async function pool(n, limit, task) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/** A held request on a raw socket; resolves with the answer's status and first-byte time. */
function hold(s) {
  return new Promise((resolve) => {
    const sock = connect({ host: PROXY.hostname, port: Number(PROXY.port) });
    sock.setNoDelay(true);
    let head = "";
    const done = (status) => {
      s.answeredAt ??= performance.now();
      s.status = status;
      sock.destroy();
      s.answered();
    };
    sock.on("connect", () => {
      sock.write(
        `GET /kyc/status HTTP/1.1\r\nHost: ${PROXY.host}\r\nAuthorization: Bearer ${s.token}\r\n` +
          `If-None-Match: ${s.etag}\r\nPrefer: wait=${WAIT}\r\n\r\n`,
        () => resolve(),
      );
    });
    sock.on("data", (c) => {
      s.answeredAt ??= performance.now();
      head += c.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (m) done(Number(m[1]));
    });
    sock.on("error", () => {
      resolve();
      done(0);
    });
  });
}

const started = performance.now();
// 1. One session per waiter, as pages would have, and each one's current ETag.
const sessions = new Array(WAITERS);
await pool(WAITERS, CONCURRENCY, async (i) => {
  const r = await call(CONTROL, "POST", "/__control/sessions", json({}));
  const v = JSON.parse(r.body);
  const st = await call(PROXY, "GET", "/kyc/status", { headers: { authorization: `Bearer ${v.token}` } });
  sessions[i] = { entityId: v.entityId, id: v.id, token: v.token, etag: st.headers.etag };
});
const setupSecs = (performance.now() - started) / 1000;
await sleep(1000);
const rssBefore = rssKiB();

// 2. Every one held at once.
let answered = 0;
let allAnswered;
const everyAnswer = new Promise((r) => (allAnswered = r));
for (const s of sessions) {
  s.answered = () => {
    answered++;
    if (answered === WAITERS) allAnswered();
  };
}
const opening = performance.now();
await pool(WAITERS, 256, (i) => hold(sessions[i]));
const openSecs = (performance.now() - opening) / 1000;
await sleep(3000);
const rssHeld = rssKiB();
const earlyAnswers = answered;

// 3. gu1 decides each session (quietly), then its signed webhook goes to the proxy.
const sign = (body) => createHmac("sha256", SECRET).update(body).digest("hex");
await pool(WAITERS, CONCURRENCY, async (i) => {
  const s = sessions[i];
  await call(CONTROL, "POST", `/__control/entities/${s.entityId}/set`, json({ status: "approved", webhook: false }));
  const now = new Date().toISOString();
  const body = JSON.stringify({
    event: "biometric.session_approved",
    timestamp: now,
    organizationId: "org_sim",
    payload: { id: s.id, entityId: s.entityId, status: "approved", updatedAt: now, completedAt: now },
  });
  for (;;) {
    s.postedAt = performance.now();
    const r = await call(PROXY, "POST", "/webhooks/gu1", {
      headers: { "content-type": "application/json", "x-webhook-signature": sign(body) },
      body,
    });
    if (r.status !== 503) break;
    await sleep(50);
  }
});
await Promise.race([everyAnswer, sleep(60_000)]);

// 4. Figures.
const latencies = sessions
  .filter((s) => s.status === 200 && s.postedAt !== undefined)
  .map((s) => Math.max(0, s.answeredAt - s.postedAt))
  .sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : null);
const sample = sessions.slice(0, Math.min(200, WAITERS));
let reads = 0;
for (const s of sample) {
  const r = await call(CONTROL, "GET", `/__control/entities/${s.entityId}/stats`);
  reads += JSON.parse(r.body).gu1Reads;
}
const round = (x, d = 1) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);
console.log(
  JSON.stringify({
    waiters: WAITERS,
    held: WAITERS - earlyAnswers,
    answered200: latencies.length,
    failed: sessions.filter((s) => s.status !== 200).length,
    setupSecs: round(setupSecs),
    openSecs: round(openSecs),
    rssBeforeKiB: rssBefore,
    rssHeldKiB: rssHeld,
    bytesPerWaiter: Math.round(((rssHeld - rssBefore) * 1024) / WAITERS),
    wakeP50Ms: round(pct(50)),
    wakeP99Ms: round(pct(99)),
    wakeMaxMs: round(latencies.at(-1) ?? null),
    gu1ReadsPerVerification: round(reads / sample.length, 2),
  }),
);
agent.destroy();
process.exit(0);
