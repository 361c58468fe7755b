// A failed wasm download is not kept: the drop-in reports it on the element that was waiting
// (NETWORK, its early iframe removed) and the next connect — a new <gu1-kyc>, the same one
// re-inserted, or the first one after a failure with no element on the page — downloads again,
// mounts and completes. Headless Chromium against the demo proxy with its strict CSP; the first
// request for the wasm is aborted, later ones go through.
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

const WASM = "**/pkg/gu1_kyc_web_bg.wasm";

/**
 * Opens /early-check.html with the first wasm request aborted once `fail()` is called (at once if
 * `failAtOnce`); later wasm requests go through. `holdSession` holds the page's /demo/session
 * request (so its element connects late) until `connect()` is called.
 */
async function open({ failAtOnce = false, holdSession = false } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  let fail, connect;
  const failing = failAtOnce ? Promise.resolve() : new Promise((r) => (fail = r));
  const connecting = holdSession ? new Promise((r) => (connect = r)) : Promise.resolve();
  const wasm = [];
  await page.route(WASM, async (route) => {
    wasm.push(route.request().url());
    if (wasm.length > 1) return route.continue();
    await failing;
    await route.abort("internetdisconnected");
  });
  await page.route("**/demo/session", async (route) => {
    await connecting;
    await route.continue();
  });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(BASE + "/early-check.html");
  return { page, context, wasm, errors, fail: () => fail?.(), connect: () => connect?.() };
}

/** The gu1kyc:* events recorded in window[key] (type, code, status). */
const eventsOf = (page, key = "__events") => page.evaluate((k) => window[k] || [], key);

/** Waits until the element recording in `key` is ready or reports one error more than `errorsBefore`. */
async function settle(page, key, errorsBefore) {
  await page.waitForFunction(
    ([k, n]) => (window[k] || []).some((e) => e.type === "gu1kyc:ready") || (window[k] || []).filter((e) => e.type === "gu1kyc:error").length > n,
    [key, errorsBefore],
    { timeout: 15_000 },
  );
  return eventsOf(page, key);
}

/** Approves in the hosted iframe and checks the element's verification completes approved. */
async function approve(page, key) {
  await page.frameLocator("iframe[data-gu1-kyc]").locator("#approve").click();
  await page.waitForFunction((k) => window[k].some((e) => e.type === "gu1kyc:complete"), key, { timeout: 15_000 });
  const events = await eventsOf(page, key);
  assert.equal(events.filter((e) => e.type === "gu1kyc:complete").length, 1);
  assert.equal(events.find((e) => e.type === "gu1kyc:complete").status, "approved");
}

/** Waits for the first element's NETWORK error and checks its early iframe is gone. */
async function firstFails(page) {
  await page.waitForFunction(() => window.__events?.some((e) => e.type === "gu1kyc:error"), null, { timeout: 10_000 });
  const events = await eventsOf(page);
  assert.deepEqual(events.map((e) => e.type), ["gu1kyc:error"], "the error only");
  assert.equal(events[0].code, "NETWORK");
  assert.equal(await page.locator("iframe").count(), 0, "its early iframe removed");
}

/** Ready once, no further error, exactly one iframe on the page. */
async function mountedOnce(page, key, errorsBefore) {
  const events = await settle(page, key, errorsBefore);
  const extra = events.filter((e) => e.type === "gu1kyc:error").slice(errorsBefore);
  assert.deepEqual(extra, [], `no error on the next connect: ${JSON.stringify(events)}`);
  assert.equal(events.filter((e) => e.type === "gu1kyc:ready").length, 1, "ready once");
  assert.ok(events.some((e) => e.type === "gu1kyc:mounted"));
  assert.equal(await page.locator("iframe").count(), 1, "one iframe");
}

async function done(page, wasm, errors) {
  assert.equal(wasm.length, 2, `the wasm was requested again once: ${wasm.join(", ")}`);
  assert.deepEqual(await page.evaluate(() => window.__csp), [], "no CSP violation");
  // The aborted wasm fetch has no handler until the glue has loaded; when it fails first, Chromium
  // reports that rejection ("Failed to fetch") as uncaught. Nothing else may be.
  assert.deepEqual(errors.filter((m) => m !== "Failed to fetch"), [], "no other page error");
}

test("drop-in: after a failed wasm download, a new element loads it again and completes", async () => {
  const { page, context, wasm, errors, fail } = await open();
  try {
    await page.locator("gu1-kyc > iframe[data-gu1-kyc]").waitFor({ state: "attached", timeout: 10_000 });
    fail();
    await firstFails(page);
    await page.evaluate(async () => {
      window.__events2 = [];
      const s = await (await fetch("/demo/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })).json();
      const el = document.createElement("gu1-kyc");
      for (const t of ["gu1kyc:mounted", "gu1kyc:ready", "gu1kyc:status", "gu1kyc:complete", "gu1kyc:error"]) {
        el.addEventListener(t, (e) => window.__events2.push({ type: t, code: e.detail && e.detail.code, status: e.detail && e.detail.status }));
      }
      el.setAttribute("status-url", "/kyc/status");
      el.setAttribute("poll-interval-ms", "500");
      el.setAttribute("session-url", s.sessionUrl);
      el.setAttribute("token", s.token);
      document.getElementById("slot").appendChild(el);
    });
    await mountedOnce(page, "__events2", 0);
    await approve(page, "__events2");
    assert.deepEqual((await eventsOf(page)).map((e) => e.type), ["gu1kyc:error"], "the first element did nothing more");
    await done(page, wasm, errors);
  } finally {
    fail();
    await context.close();
  }
});

test("drop-in: after a failed wasm download, the same element re-inserted mounts and completes", async () => {
  const { page, context, wasm, errors, fail } = await open();
  try {
    await page.locator("gu1-kyc > iframe[data-gu1-kyc]").waitFor({ state: "attached", timeout: 10_000 });
    fail();
    await firstFails(page);
    await page.evaluate(() => {
      const el = document.querySelector("gu1-kyc");
      el.remove();
      document.getElementById("slot").appendChild(el);
    });
    await mountedOnce(page, "__events", 1);
    await approve(page, "__events");
    await done(page, wasm, errors);
  } finally {
    fail();
    await context.close();
  }
});

test("drop-in: a wasm download that failed before any element connected is not reused", async () => {
  const { page, context, wasm, errors, connect } = await open({ failAtOnce: true, holdSession: true });
  try {
    // The loader's own download has failed and settled (its glue evaluated, then a task later)
    // before the page's element connects.
    await page.evaluate(async () => {
      await import("/pkg/gu1_kyc_web.js");
      await new Promise((r) => setTimeout(r, 100));
    });
    assert.equal(wasm.length, 1, "the loader's download, aborted");
    connect();
    await mountedOnce(page, "__events", 0);
    await approve(page, "__events");
    await done(page, wasm, errors);
  } finally {
    connect();
    await context.close();
  }
});

test("drop-in: a wasm served without the application/wasm type is read whole and works", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    const served = [];
    // Streaming compilation refuses this type; the loader then reads the body and compiles it.
    await page.route(WASM, async (route) => {
      const response = await route.fetch();
      served.push(response.status());
      await route.fulfill({ response, headers: { ...response.headers(), "content-type": "application/octet-stream" } });
    });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(BASE + "/early-check.html");
    await mountedOnce(page, "__events", 0);
    await approve(page, "__events");
    assert.deepEqual(served, [200], "one request for the wasm");
    assert.deepEqual(errors, [], "no page error");
  } finally {
    await context.close();
  }
});
