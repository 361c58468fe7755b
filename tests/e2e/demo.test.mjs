// End-to-end: both demo pages (drop-in script tag, npm import built by Vite) driven in headless
// Chromium against the real gu1-kyc-proxy process in simulate mode, served with the strict CSP.
// Run by scripts/test.sh with GU1_DEMO_URL set; screenshots go to test-results/e2e/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { BASE, launch } from "./chromium.mjs";

const SHOTS = new URL("../../test-results/e2e/", import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const PAGES = [
  ["dropin", "/"],
  ["npm", "/npm/"],
];

async function open(path) {
  const context = await browser.newContext({ viewport: { width: 900, height: 1000 } });
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(BASE + path);
  return { page, context, errors };
}

/** Waits for the hosted iframe and checks its permissions; returns the frame. */
async function hostedFrame(page) {
  const iframe = page.locator("iframe[data-gu1-kyc]");
  await iframe.waitFor({ state: "attached", timeout: 10_000 });
  assert.equal(await iframe.getAttribute("allow"), "camera; microphone; fullscreen; autoplay; encrypted-media");
  assert.equal(await iframe.getAttribute("title"), "Identity verification");
  const src = await iframe.getAttribute("src");
  assert.match(src, /^http:\/\/127\.0\.0\.1:\d+\/session\//);
  assert.notEqual(new URL(src).origin, new URL(BASE).origin, "the hosted page is on a second origin");
  const frame = page.frameLocator("iframe[data-gu1-kyc]");
  await frame.locator("#approve").waitFor({ timeout: 10_000 });
  return { frame, src };
}

async function events(page) {
  return page.$$eval("#events li", (lis) => lis.map((li) => li.textContent));
}

async function finish(page, context, errors, name) {
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
  assert.deepEqual(await page.evaluate(() => window.__csp), [], "no CSP violation");
  assert.deepEqual(errors, [], "no page error");
  await context.close();
}

async function runOutcome(kind, path, button, expect) {
  const { page, context, errors } = await open(path);
  const { frame } = await hostedFrame(page);
  await page.locator("#events li", { hasText: "gu1kyc:ready" }).waitFor({ state: "attached" });
  assert.ok(!/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/.test(await page.content()), "no token (a JWT) in the DOM");
  await frame.locator(`#${button}`).click();
  await page.locator("#result:not([hidden])").waitFor({ timeout: 10_000 });
  assert.equal(await page.textContent("#result-title"), expect.title);
  if (expect.text) assert.match(await page.textContent("#result-text"), expect.text);
  assert.equal(await page.locator("iframe").count(), 0, "no iframe left after completion");
  const ev = await events(page);
  assert.equal(ev.filter((e) => e.startsWith("gu1kyc:complete")).length, 1, "complete exactly once");
  assert.equal(ev.filter((e) => e === "gu1kyc:ready").length, 1);
  assert.ok(ev.includes(`gu1kyc:complete · ${expect.status}`), ev.join(", "));
  assert.ok(ev.some((e) => e.startsWith("gu1kyc:status")), "status events seen");
  await finish(page, context, errors, `${kind}-${expect.status}`);
}

for (const [kind, path] of PAGES) {
  test(`${kind}: approve`, () => runOutcome(kind, path, "approve", { status: "approved", title: "You're verified" }));

  test(`${kind}: reject shows the reason`, () =>
    runOutcome(kind, path, "reject", {
      status: "rejected",
      title: "We couldn't verify you",
      text: /face did not match.*FACE_MATCH_SCORE_LOW/,
    }));

  test(`${kind}: abandon`, () => runOutcome(kind, path, "abandon", { status: "abandoned", title: "Verification not finished" }));

  test(`${kind}: cancel and start over`, async () => {
    const { page, context, errors } = await open(path);
    const first = await hostedFrame(page);
    await page.click("#restart");
    await page.waitForURL(/n=\d+/);
    const second = await hostedFrame(page);
    assert.notEqual(second.src, first.src, "a new session after start over");
    // The first session was cancelled at gu1: its hosted page now reports it terminal.
    const r = await fetch(new URL(`/hosted/${first.src.split("/session/")[1]}/decide`, first.src), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ decision: "approve" }),
    }).then((x) => x.json());
    assert.equal(r.status, "cancelled");
    assert.equal(await page.locator("iframe[data-gu1-kyc]").count(), 1);
    await finish(page, context, errors, `${kind}-restarted`);
  });

  test(`${kind}: expiry`, async () => {
    const { page, context, errors } = await open(`${path}?ttl=2`);
    await hostedFrame(page);
    await page.locator("#result:not([hidden])").waitFor({ timeout: 15_000 });
    assert.equal(await page.textContent("#result-title"), "The session expired");
    assert.equal(await page.locator("iframe").count(), 0);
    assert.ok((await events(page)).includes("gu1kyc:complete · expired"));
    await finish(page, context, errors, `${kind}-expired`);
  });
}
