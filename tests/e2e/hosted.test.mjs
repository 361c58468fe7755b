// The simulator's hosted capture page, framed by www/hosted-check.html on the demo proxy (second
// origin) in headless Chromium: what it posts at load, through its flow and its buttons, under
// each test knob, with the personal data the real page's payloads carry; and ?frame=deny, which
// the browser must refuse to frame. Other suites (the client's browser tests, the demo) build on
// these messages, so their shapes are pinned here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch } from "./chromium.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

// The personal data the page puts in its payloads (proxy/src/sim/hosted/page.js, PERSON).
const PII = ["Ana María Testperson", "+34 612 345 678", "ESP", "passport", "P1234567Z", "https://bank.example/"];
// The vocabulary of gu1-api.md §5.3, in the order ?vocab=1 posts it.
const VOCABULARY = [
  "ready", "started", "step_started", "step_completed", "step_changed", "media_started", "media_captured",
  "document_selected", "verification_submitted", "code_sent", "code_verified", "status_updated", "completed",
  "cancelled", "error", "close_request",
].map((n) => `didit:${n}`);

/** Opens the check page framing a new session's hosted page with `query`. */
async function open(query = "") {
  const context = await browser.newContext({ viewport: { width: 900, height: 1000 } });
  // In every frame, the hosted page's too: CSP violations are kept in window.__csp.
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${BASE}/hosted-check.html?hosted=${encodeURIComponent(query)}`);
  await page.waitForFunction(() => window.__loaded >= 1, null, { timeout: 10_000 });
  const session = await page.evaluate(() => window.__session);
  const hosted = page.frames().find((f) => f.url().startsWith(session.sessionUrl));
  return { page, context, errors, session, hosted, frame: page.frameLocator("#frame") };
}

const messages = (page) => page.evaluate(() => window.__msgs);
const types = async (page) => (await messages(page)).map((m) => m.data.type);
const layouts = async (page) => (await messages(page)).filter((m) => m.data.type === "didit:layout").map((m) => m.data.data);
async function until(page, what, fn, ms = 10_000) {
  for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 30))) {
    const v = await fn(await messages(page));
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify((await types(page)))}`);
  }
}

async function close({ page, context, errors, hosted }) {
  assert.deepEqual(await page.evaluate(() => window.__csp), [], "no CSP violation on the embedding page");
  if (hosted) assert.deepEqual(await hosted.evaluate(() => window.__csp), [], "no CSP violation on the hosted page");
  assert.deepEqual(errors, [], "no page error");
  await context.close();
}

/** Every one of the personal-data markers appears in `msgs`' payloads. */
function assertCarriesPii(msgs) {
  const text = JSON.stringify(msgs.map((m) => m.data));
  for (const p of PII) assert.ok(text.includes(p), `the payloads carry ${p}`);
}

test("at load: didit:ready, then didit:layout with the content's height, again when it changes", async () => {
  const o = await open();
  const { page, hosted, frame, session } = o;
  await until(page, "the first layout", (m) => m.some((x) => x.data.type === "didit:layout"));
  const first = await messages(page);
  assert.equal(first[0].data.type, "didit:ready");
  assert.equal(first[0].data.data.sessionId, session.id);
  assert.equal(first[0].origin, new URL(session.sessionUrl).origin);
  const [l0] = await layouts(page);
  const content = () => hosted.evaluate(() => Math.ceil(document.getElementById("content").getBoundingClientRect().height));
  assert.equal(l0.contentHeight, await content());
  assert.equal(l0.colorScheme, "light");
  assert.equal(l0.dir, "ltr");
  // Content smaller than the frame's viewport: the content's height, not the viewport's.
  assert.ok(l0.contentHeight > 200 && l0.contentHeight < 700, `${l0.contentHeight}`);

  await frame.locator("#more").click();
  await until(page, "a second layout", async () => (await layouts(page)).length === 2);
  const [, l1] = await layouts(page);
  assert.equal(l1.contentHeight, await content());
  assert.ok(l1.contentHeight > l0.contentHeight + 100, `more content: ${l0.contentHeight} → ${l1.contentHeight}`);
  assert.equal(await frame.locator("#more").getAttribute("aria-expanded"), "true");

  await frame.locator("#more").click();
  await until(page, "a third layout", async () => (await layouts(page)).length === 3);
  assert.equal((await layouts(page))[2].contentHeight, l0.contentHeight);
  assert.deepEqual(await types(page), ["didit:ready", "didit:layout", "didit:layout", "didit:layout"]);
  await close(o);
});

test("Approve: the whole capture flow, each payload with personal data, paced", async () => {
  const o = await open();
  const { page, frame, session } = o;
  await until(page, "ready", (m) => m.length > 0);
  await frame.locator("#approve").click();
  await until(page, "completed", (m) => m.some((x) => x.data.type === "didit:completed"));
  const msgs = (await messages(page)).filter((m) => m.data.type !== "didit:layout");
  assert.deepEqual(
    msgs.map((m) => m.data.type),
    [
      "ready", "started", "step_started", "document_selected", "step_completed", "step_changed", "media_started",
      "media_captured", "step_completed", "step_changed", "media_started", "media_captured", "step_completed",
      "step_started", "code_sent", "code_verified", "step_completed", "verification_submitted", "status_updated", "completed",
    ].map((n) => `didit:${n}`),
  );
  for (const m of msgs) {
    assert.equal(m.data.data.sessionId, session.id, `${m.data.type} carries the session id`);
    assert.equal(typeof m.data.timestamp, "number");
  }
  const data = (t) => msgs.filter((m) => m.data.type === `didit:${t}`).map((m) => m.data.data);
  assert.deepEqual(data("step_started").map((d) => d.step), ["document_selection", "phone"]);
  assert.deepEqual(data("step_changed").map((d) => [d.previousStep, d.step]), [["document_selection", "document_front"], ["document_front", "face"]]);
  assert.deepEqual(data("media_started").map((d) => [d.step, d.mediaType]), [["document_front", "image"], ["face", "video"]]);
  assert.deepEqual(data("media_captured").map((d) => d.isAuto), [true, false]);
  assert.deepEqual(data("code_sent").map((d) => [d.channel, d.codeSize]), [["sms", 6]]);
  assert.deepEqual(data("status_updated").map((d) => d.status), ["approved"]);
  assert.deepEqual(data("completed").map((d) => d.status), ["Approved"]);
  assertCarriesPii(msgs);
  // Paced as a person's flow is (and well under a flood budget of 20 a second): the capture
  // steps, from the first step_started to the submission, posted at least 55 ms apart (their
  // timestamps, whole milliseconds of the hosted page's clock).
  const at = msgs.slice(2, 18).map((m) => m.data.timestamp);
  for (let i = 1; i < at.length; i++) assert.ok(at[i] - at[i - 1] >= 55, `${msgs[i + 2].data.type} ${at[i] - at[i - 1]} ms after the one before`);
  await frame.locator("#state", { hasText: "Submitted: approved." }).waitFor();
  assert.equal(await frame.locator("#approve").isDisabled(), true);
  await close(o);
});

test("Abandon: started, a step, the submission and cancelled", async () => {
  const o = await open();
  const { page, frame } = o;
  await until(page, "ready", (m) => m.length > 0);
  await frame.locator("#abandon").click();
  await until(page, "cancelled", (m) => m.some((x) => x.data.type === "didit:cancelled"));
  assert.deepEqual(
    (await types(page)).filter((t) => t !== "didit:layout"),
    ["ready", "started", "step_started", "verification_submitted", "status_updated", "cancelled"].map((n) => `didit:${n}`),
  );
  await close(o);
});

test("the camera-failure and close buttons post didit:error (cameraAccessDenied, free text) and didit:close_request", async () => {
  const o = await open();
  const { page, frame } = o;
  await until(page, "ready", (m) => m.length > 0);
  await frame.locator("#camera-fail").click();
  await frame.locator("#close-request").click();
  const [err, req] = await until(page, "both", (m) => {
    const e = m.find((x) => x.data.type === "didit:error");
    const c = m.find((x) => x.data.type === "didit:close_request");
    return e && c && [e.data.data, c.data.data];
  });
  assert.equal(err.error.type, "cameraAccessDenied");
  assert.equal(err.step, "face");
  assert.match(err.error.message, /Ana María Testperson.*could not be opened/);
  assert.ok(req.sessionUrl.startsWith(o.session.sessionUrl));
  await close(o);
});

test("?vocab=1: the whole vocabulary once, in order, with personal data; no separate ready", async () => {
  const o = await open("?vocab=1");
  const { page } = o;
  await until(page, "16 messages", async (m) => m.filter((x) => x.data.type !== "didit:layout").length >= 16);
  await new Promise((r) => setTimeout(r, 300));
  const msgs = (await messages(page)).filter((m) => m.data.type !== "didit:layout");
  assert.deepEqual(msgs.map((m) => m.data.type), VOCABULARY);
  assert.equal(msgs.find((m) => m.data.type === "didit:error").data.data.error.type, "networkError", "not a camera failure");
  assertCarriesPii(msgs);
  await close(o);
});

test("?flood=50: fifty step messages at once", async () => {
  const o = await open("?flood=50");
  await until(o.page, "the flood", async () => (await types(o.page)).filter((t) => t === "didit:step_started").length === 50);
  await close(o);
});

test("?layout=1234: one layout message with that height, and none of its own", async () => {
  const o = await open("?layout=1234");
  const { page, frame } = o;
  await until(page, "the layout", async () => (await layouts(page)).length === 1);
  await frame.locator("#more").click();
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual((await layouts(page)).map((l) => l.contentHeight), [1234]);
  await close(o);
});

test("?silent=1: nothing at all, whatever the buttons", async () => {
  const o = await open("?silent=1&vocab=1&flood=5&error=cameraAccessDenied&close=1");
  const { page, frame } = o;
  await frame.locator("#more").click();
  await frame.locator("#camera-fail").click();
  await frame.locator("#close-request").click();
  await frame.locator("#approve").click();
  await frame.locator("#state", { hasText: "Submitted: approved." }).waitFor();
  assert.deepEqual(await messages(page), []);
  await close(o);
});

test("?error=<kind> and ?close=1 post them after the delay", async () => {
  const o = await open("?error=cameraNotReadable&close=1&delay=200");
  const { page } = o;
  await until(page, "both", async () => (await types(page)).includes("didit:close_request") && (await types(page)).includes("didit:error"));
  const msgs = await messages(page);
  const ready = msgs.find((m) => m.data.type === "didit:ready").at;
  const err = msgs.find((m) => m.data.type === "didit:error");
  assert.ok(err.at - ready >= 150, `after the delay: ${err.at - ready} ms`);
  assert.equal(err.data.data.error.type, "cameraNotReadable");
  await close(o);
});

test("the existing knobs: format=string, post with repeat, auto with delay", async () => {
  const o = await open("?format=string&post=didit:status_updated&repeat=3&auto=approve&delay=100");
  const { page } = o;
  await until(page, "completed", (m) => m.some((x) => typeof x.data === "string" && x.data.includes('"didit:completed"')));
  const msgs = await messages(page);
  assert.ok(msgs.every((m) => typeof m.data === "string"), "all posted as JSON strings");
  const parsed = msgs.map((m) => JSON.parse(m.data));
  const posted = parsed.filter((m) => m.type === "didit:status_updated" && m.data.status === "Approved");
  assert.equal(posted.length, 3, "post × repeat");
  assert.equal(parsed[0].type, "didit:ready");
  assert.ok(parsed.some((m) => m.type === "didit:status_updated" && m.data.status === "approved"), "auto decided");
  await close(o);
});

test("?frame=deny: sent with X-Frame-Options DENY and frame-ancestors 'none', and the browser refuses to frame it", async () => {
  const o = await open("?frame=deny&vocab=1");
  const { page, session } = o;
  // The frame loaded (an error page) and the hosted page never ran: no message, no buttons.
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(await messages(page), []);
  assert.equal(o.hosted, undefined, "no frame holds the hosted page");
  const r = await fetch(`${session.sessionUrl}?frame=deny`);
  assert.equal(r.headers.get("x-frame-options"), "DENY");
  assert.match(r.headers.get("content-security-policy"), /frame-ancestors 'none'/);
  const plain = await fetch(session.sessionUrl);
  assert.equal(plain.headers.get("x-frame-options"), null);
  await close(o);
});
