// The drop-in puts the hosted iframe in place as soon as <gu1-kyc session-url> connects, before
// the wasm has arrived (held back here), and mount() adopts that iframe: one iframe, one load of
// the hosted page, one ready, and the verification completes. An unsafe session-url never gets
// an iframe. Headless Chromium against the demo proxy with its strict CSP.
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

/** Opens the page with the wasm download held until `release()` is called. */
async function openHeld(path) {
  const context = await browser.newContext();
  const page = await context.newPage();
  let release;
  const held = new Promise((r) => (release = r));
  await page.route("**/pkg/gu1_kyc_web_bg.wasm", async (route) => {
    await held;
    await route.continue();
  });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const hostedLoads = [];
  page.on("request", (r) => r.isNavigationRequest() && r.frame() !== page.mainFrame() && hostedLoads.push(r.url()));
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(BASE + path);
  return { page, context, release, hostedLoads, errors };
}

test("drop-in: the iframe is in place before the wasm, and mount adopts it", async () => {
  const { page, context, release, hostedLoads, errors } = await openHeld("/early-check.html");
  try {
    const iframe = page.locator("gu1-kyc > iframe[data-gu1-kyc]");
    await iframe.waitFor({ state: "attached", timeout: 10_000 });
    const url = await page.evaluate(() => window.__sessionUrl);
    assert.equal(await iframe.getAttribute("src"), url);
    assert.equal(await iframe.getAttribute("allow"), "camera; microphone; fullscreen; autoplay; encrypted-media");
    assert.equal(await iframe.getAttribute("referrerpolicy"), "strict-origin-when-cross-origin");
    assert.deepEqual(await page.evaluate(() => window.__events.map((e) => e.type)), [], "nothing mounted yet: the wasm is held");
    await page.evaluate(() => (document.querySelector("iframe[data-gu1-kyc]").__early = true));
    await page.frameLocator("iframe[data-gu1-kyc]").locator("#approve").waitFor({ timeout: 10_000 });

    release();
    await page.waitForFunction(() => window.__events.some((e) => e.type === "gu1kyc:ready"), null, { timeout: 10_000 });
    assert.equal(await page.locator("iframe").count(), 1, "one iframe");
    assert.equal(await page.evaluate(() => document.querySelector("iframe[data-gu1-kyc]").__early), true, "the same element");

    await page.frameLocator("iframe[data-gu1-kyc]").locator("#approve").click();
    await page.waitForFunction(() => window.__events.some((e) => e.type === "gu1kyc:complete"), null, { timeout: 15_000 });
    const events = await page.evaluate(() => window.__events);
    assert.equal(events.filter((e) => e.type === "gu1kyc:ready").length, 1, "ready once");
    assert.equal(events.filter((e) => e.type === "gu1kyc:complete").length, 1);
    assert.equal(events.find((e) => e.type === "gu1kyc:complete").status, "approved");
    assert.equal(hostedLoads.length, 1, `the hosted page loaded once: ${hostedLoads.join(", ")}`);
    assert.deepEqual(await page.evaluate(() => window.__csp), []);
    assert.deepEqual(errors, []);
  } finally {
    release();
    await context.close();
  }
});

test("drop-in: a marked iframe the loader did not place is replaced, never doubled", async () => {
  const { page, context, release, hostedLoads, errors } = await openHeld("/early-check.html?server=1");
  try {
    await page.locator("gu1-kyc > iframe[data-gu1-kyc]").waitFor({ state: "attached", timeout: 10_000 });
    await page.waitForTimeout(300);
    assert.equal(await page.locator("iframe").count(), 1, "the element adds none of its own");
    release();
    await page.waitForFunction(() => window.__events.some((e) => e.type === "gu1kyc:ready"), null, { timeout: 10_000 });
    assert.equal(await page.locator("iframe").count(), 1);
    assert.equal(await page.evaluate(() => document.querySelector("iframe[data-gu1-kyc]").__server), undefined, "mount's own iframe");
    assert.equal(hostedLoads.length, 2, "the stray one loaded, then mount's");
    const events = await page.evaluate(() => window.__events);
    assert.equal(events.filter((e) => e.type === "gu1kyc:ready").length, 1);
    assert.deepEqual(errors, []);
  } finally {
    release();
    await context.close();
  }
});

test("drop-in: an unsafe session-url never gets an iframe", async () => {
  const { page, context, release, hostedLoads } = await openHeld("/early-check.html?unsafe=1");
  try {
    await page.waitForFunction(() => window.__events !== undefined && document.querySelector("gu1-kyc"), null, { timeout: 10_000 });
    await page.waitForTimeout(300);
    assert.equal(await page.locator("iframe").count(), 0, "nothing before the wasm");
    release();
    await page.waitForFunction(() => window.__events.some((e) => e.type === "gu1kyc:error"), null, { timeout: 10_000 });
    const events = await page.evaluate(() => window.__events);
    assert.equal(events.find((e) => e.type === "gu1kyc:error").code, "UNSAFE_SESSION_URL");
    assert.equal(await page.locator("iframe").count(), 0, "nothing after");
    assert.equal(hostedLoads.length, 0);
  } finally {
    release();
    await context.close();
  }
});
