// End-to-end (Playwright, Chromium): the camera pre-flight's fallback window, the window mode and
// the modal, on the drop-in demo page served by the proxy with the strict CSP. Every state is
// checked with axe-core (0 violations) and no CSP violation. Events are recorded from the
// document by an init script, before the drop-in can announce anything.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { BASE, launch } from "./chromium.mjs";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("../../tools/node_modules/axe-core/axe.min.js"), "utf8");

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function open(path) {
  const context = await browser.newContext({ viewport: { width: 900, height: 1000 } });
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.__csp = [];
    window.__events = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    for (const t of ["ready", "status", "complete", "error", "fallback", "close"]) {
      document.addEventListener("gu1kyc:" + t, (e) => window.__events.push(t + (e.detail && (e.detail.reason || e.detail.view || (t === "complete" && e.detail.status)) ? " " + (e.detail.reason || e.detail.view || e.detail.status) : "")), true);
    }
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(BASE + path);
  return { page, context, errors };
}

const events = (page) => page.evaluate(() => window.__events.slice());

/** axe-core on the page (the hosted page's frame is not ours): its violations, by rule. */
async function axe(page, state) {
  // Evaluated through the DevTools protocol, so the page's CSP (script-src 'self') allows it.
  await page.evaluate(AXE + ";0");
  const r = await page.evaluate(() => window.axe.run(document, { iframes: false }));
  const found = r.violations.map((v) => `${v.id} (${v.nodes.length})`);
  assert.deepEqual(found, [], `axe violations with ${state}`);
  return r.passes.length;
}

async function finish(page, context, errors) {
  assert.deepEqual(await page.evaluate(() => window.__csp), [], "no CSP violation");
  assert.deepEqual(errors, [], "no page error");
  await context.close();
}

/** Waits until the library has closed `popup`. */
async function closed(popup) {
  for (let t = 0; !popup.isClosed(); t += 50) {
    assert.ok(t < 5_000, "the hosted window was closed at the end");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function approveIn(popup) {
  await popup.locator("#approve").click({ timeout: 10_000 });
}

test("blocked camera: the explanation and button, a window, approve, complete once, window closed", async () => {
  const { page, context, errors } = await open("/?camera=blocked");
  const button = page.locator("gu1-kyc button", { hasText: "Continue in a new window" });
  await button.waitFor({ timeout: 10_000 });
  assert.match(await page.locator("gu1-kyc p").textContent(), /camera cannot be used/);
  assert.equal(await page.locator("gu1-kyc iframe").count(), 0, "no broken iframe");
  assert.ok((await events(page)).includes("fallback CAMERA_BLOCKED_BY_POLICY"), (await events(page)).join(", "));
  await axe(page, "the fallback button");
  const [popup] = await Promise.all([context.waitForEvent("page"), button.click()]);
  await approveIn(popup);
  await page.locator("#result:not([hidden])").waitFor({ timeout: 10_000 });
  assert.equal(await page.textContent("#result-title"), "You're verified");
  await closed(popup);
  const ev = await events(page);
  assert.equal(ev.filter((e) => e.startsWith("complete")).length, 1, ev.join(", "));
  assert.equal(ev.filter((e) => e.startsWith("fallback")).length, 1);
  assert.equal(await page.locator("gu1-kyc button").count(), 0, "the panel goes at the end");
  await axe(page, "the result");
  await finish(page, context, errors);
});

test("window mode: a window closed early is reported once, reopened, completes once", async () => {
  const { page, context, errors } = await open("/?mode=window");
  const button = page.locator("gu1-kyc button");
  await button.waitFor({ timeout: 10_000 });
  assert.equal(await page.locator("gu1-kyc p").count(), 0, "no explanation: nothing failed");
  await axe(page, "the window button");
  const [first] = await Promise.all([context.waitForEvent("page"), button.click()]);
  await first.locator("#approve").waitFor({ timeout: 10_000 });
  await first.close();
  await page.waitForFunction(() => window.__events.includes("close window"), null, { timeout: 5_000 });
  const [second] = await Promise.all([context.waitForEvent("page"), button.click()]);
  await approveIn(second);
  await page.locator("#result:not([hidden])").waitFor({ timeout: 10_000 });
  await closed(second);
  const ev = await events(page);
  assert.equal(ev.filter((e) => e === "close window").length, 1, ev.join(", "));
  assert.equal(ev.filter((e) => e.startsWith("complete")).length, 1, ev.join(", "));
  assert.equal(ev.filter((e) => e.startsWith("fallback")).length, 0);
  await finish(page, context, errors);
});

test("modal: opened modal, Tab stays inside, Esc closes, open() reopens the same page, focus returns", async () => {
  const { page, context, errors } = await open("/?mode=modal");
  const dialog = page.locator("gu1-kyc dialog");
  await dialog.waitFor({ timeout: 10_000 });
  assert.equal(await dialog.evaluate((d) => d.open && d.matches(":modal")), true, "opened with showModal");
  assert.equal(await dialog.getAttribute("aria-label"), "Identity verification");
  const frame = page.frameLocator("gu1-kyc dialog iframe");
  await frame.locator("#approve").waitFor({ timeout: 10_000 });
  await axe(page, "the modal open");
  const seen = new Set();
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press("Tab");
    // Inside the dialog, or past its last control in the browser's own UI (then `body`): never
    // on the inert page behind it.
    const where = await page.evaluate(() => {
      const a = document.activeElement;
      return a.closest("dialog") ? "dialog" : a === document.body ? "browser" : a.outerHTML.slice(0, 60);
    });
    assert.ok(where === "dialog" || where === "browser", `focus on the page behind the dialog after ${i + 1} Tab presses: ${where}`);
    seen.add(where);
  }
  assert.ok(seen.has("dialog"), "Tab reaches the dialog's controls");
  // A mark in the hosted document: reopening must show the same document.
  const hosted = page.frames().find((f) => f.url().includes("/session/"));
  await hosted.evaluate(() => (window.__mark = 42));
  // Esc from the dialog's own controls (a key pressed inside the cross-origin hosted page stays
  // in that page).
  await dialog.locator("button").focus();
  await page.keyboard.press("Escape");
  await page.waitForFunction(() => window.__events.includes("close modal"), null, { timeout: 5_000 });
  assert.equal(await dialog.evaluate((d) => d.open), false, "Esc closed it");
  const reopen = page.locator("#reopen");
  await reopen.waitFor({ state: "visible" });
  await axe(page, "the modal closed");
  await reopen.click();
  assert.equal(await dialog.evaluate((d) => d.open && d.matches(":modal")), true, "open() reopened it");
  assert.equal(await hosted.evaluate(() => window.__mark), 42, "the hosted page's state is intact");
  await page.keyboard.press("Escape");
  await page.waitForFunction(() => window.__events.filter((e) => e === "close modal").length === 2, null, { timeout: 5_000 });
  assert.equal(await page.evaluate(() => document.activeElement.id), "reopen", "focus returned to the opener");
  await reopen.click();
  await frame.locator("#approve").click();
  await page.locator("#result:not([hidden])").waitFor({ timeout: 10_000 });
  assert.equal(await page.locator("gu1-kyc dialog").count(), 0, "the dialog goes at the end");
  const ev = await events(page);
  assert.equal(ev.filter((e) => e.startsWith("complete")).length, 1, ev.join(", "));
  assert.equal(ev.filter((e) => e === "close modal").length, 2, ev.join(", "));
  await finish(page, context, errors);
});
