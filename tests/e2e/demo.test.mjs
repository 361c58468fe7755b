// End-to-end: both demo pages (drop-in script tag, npm import built by Vite) driven in headless
// Chromium against the real gu1-kyc-proxy process in simulate mode, served with the strict CSP:
// the outcomes, the funnel of step events, the iframe following the hosted page's height, the
// fallbacks for a frame that never answers (?frame=deny) and a camera failing inside it.
// Run by scripts/test.sh with GU1_DEMO_URL set; screenshots go to test-results/e2e/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { BASE, launch } from "./chromium.mjs";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("../../tools/node_modules/axe-core/axe.min.js"), "utf8");

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

/** axe-core's violations on the page (not the hosted page's frame), by rule. */
async function axe(page) {
  // Evaluated through the DevTools protocol, so the page's CSP (script-src 'self') allows it.
  await page.evaluate(AXE + ";0");
  const r = await page.evaluate(() => window.axe.run(document, { iframes: false }));
  return r.violations.map((v) => `${v.id} (${v.nodes.length})`);
}

/** WCAG contrast of an element's text against its own background (both computed colours). */
function contrast(el) {
  const lum = (c) => {
    const [r, g, b] = c.match(/\d+(\.\d+)?/g).slice(0, 3).map((x) => {
      const v = Number(x) / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const s = getComputedStyle(el);
  const [a, b] = [lum(s.color), lum(s.backgroundColor)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}

async function events(page) {
  return page.$$eval("#events li", (lis) => lis.map((li) => li.textContent));
}

/** The funnel as shown: each line's step name and text. */
async function funnel(page) {
  return page.$$eval("#funnel li", (lis) => lis.map((li) => ({ name: li.dataset.name, text: li.textContent })));
}

// What the simulator's hosted page reports through Approve (proxy/src/sim/hosted/page.js), as
// step names; and the personal data its payloads carry, which the page must never show.
const APPROVE_FUNNEL = [
  "ready", "started", "step_started", "document_selected", "step_completed", "step_changed", "media_started",
  "media_captured", "step_completed", "step_changed", "media_started", "media_captured", "step_completed",
  "step_started", "code_sent", "code_verified", "step_completed", "submitted", "status_updated", "completed",
];
const PII = ["Ana María Testperson", "+34 612 345 678", "ESP", "passport", "P1234567Z", "bank.example"];

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
  if (expect.funnel) {
    // The funnel, live: one line per step event, in order, each with its time and sequence number.
    await page.locator("#funnel li[data-name=completed]").waitFor({ state: "attached", timeout: 5_000 });
    const f = await funnel(page);
    assert.deepEqual(f.map((x) => x.name), expect.funnel);
    f.forEach((x, i) => assert.match(x.text, new RegExp(`^\\+\\d+\\.\\d s #${i + 1} ${x.name}`), x.text));
    assert.match(f.find((x) => x.name === "media_started").text, /document_front · image$/);
    assert.match(f.find((x) => x.name === "code_sent").text, /phone · sms$/);
    assert.equal(await page.locator("#funnel-empty").isHidden(), true);
    const shown = await page.textContent("main");
    for (const p of PII) assert.ok(!shown.includes(p), `no ${p} on the page`);
  }
  await finish(page, context, errors, `${kind}-${expect.status}`);
}

for (const [kind, path] of PAGES) {
  test(`${kind}: approve, the funnel shown live`, () => runOutcome(kind, path, "approve", { status: "approved", title: "You're verified", funnel: APPROVE_FUNNEL }));

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

  test(`${kind}: the iframe follows the hosted page's height`, async () => {
    const { page, context, errors } = await open(path);
    const { frame } = await hostedFrame(page);
    const iframe = page.locator("iframe[data-gu1-kyc]");
    const hosted = page.frames().find((f) => f.url().includes("/session/"));
    const content = () => hosted.evaluate(() => Math.ceil(document.getElementById("content").getBoundingClientRect().height));
    const height = () => iframe.evaluate((f) => f.getBoundingClientRect().height);
    const follows = async (what) => {
      for (let t = 0; Math.abs((await height()) - (await content())) > 1; t += 50) {
        assert.ok(t < 5_000, `${what}: iframe ${await height()} px, content ${await content()} px`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await follows("at load");
    const before = await height();
    await frame.locator("#more").click();
    await follows("with the capture tips");
    assert.ok((await height()) > before + 100, `taller: ${before} → ${await height()}`);
    // No inner scroll bar: the hosted document fits its frame.
    assert.equal(await hosted.evaluate(() => document.documentElement.scrollHeight <= innerHeight), true);
    await finish(page, context, errors, `${kind}-height-auto`);
  });

  test(`${kind}: a capture page that refuses to be framed gives the window button (FRAME_NOT_RESPONDING), said on the status line`, async () => {
    const { page, context, errors } = await open(`${path}?frame=deny`);
    const iframe = page.locator("iframe[data-gu1-kyc]");
    await iframe.waitFor({ state: "attached", timeout: 10_000 });
    const src = await iframe.getAttribute("src");
    assert.match(src, /\/session\/[^?]+\?frame=deny$/);
    await page.locator("#events li", { hasText: "gu1kyc:fallback · FRAME_NOT_RESPONDING" }).waitFor({ state: "attached", timeout: 15_000 });
    assert.equal(await page.locator("iframe").count(), 0, "the panel replaced the iframe");
    const button = page.locator('[data-gu1-kyc="button"]');
    await button.waitFor();
    const line = /camera can't be used on this page, so the verification continues in a new window.*did not respond \(FRAME_NOT_RESPONDING\)/;
    assert.match(await page.textContent("#status-text"), line);
    assert.equal(await page.getAttribute("#status", "data-state"), "fallback");
    // The library's button keeps its look beside the page's own buttons: legible (axe-core only
    // lists a white-on-white button as "incomplete", so the contrast is computed here).
    const ratio = await button.evaluate(contrast);
    assert.ok(ratio >= 4.5, `the window button's text contrast is ${ratio.toFixed(2)}`);
    assert.deepEqual(await axe(page), [], "axe-core on the fallback state");
    // The session moves on (started elsewhere): the status line still says what to do.
    const id = new URL(src).pathname.split("/").pop();
    await fetch(new URL(`/hosted/${id}/decide`, src), { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"decision":"start"}' });
    await page.locator("#events li", { hasText: "gu1kyc:status · in_progress" }).waitFor({ state: "attached", timeout: 10_000 });
    assert.match(await page.textContent("#status-text"), line);
    // The window works: approved there, complete here once.
    const [popup] = await Promise.all([page.waitForEvent("popup"), button.click()]);
    await popup.locator("#approve").click({ timeout: 10_000 });
    await page.locator("#result:not([hidden])").waitFor({ timeout: 10_000 });
    assert.equal(await page.textContent("#result-title"), "You're verified");
    assert.equal((await events(page)).filter((e) => e.startsWith("gu1kyc:fallback")).length, 1);
    await finish(page, context, errors, `${kind}-frame-deny`);
  });

  test(`${kind}: the camera failing inside the frame gives the window button (CAMERA_FAILED_IN_FRAME)`, async () => {
    const { page, context, errors } = await open(path);
    const { frame } = await hostedFrame(page);
    await page.locator("#funnel li[data-name=ready]").waitFor({ state: "attached", timeout: 5_000 });
    await frame.locator("#camera-fail").click();
    await page.locator("#events li", { hasText: "gu1kyc:fallback · CAMERA_FAILED_IN_FRAME" }).waitFor({ state: "attached", timeout: 5_000 });
    await page.locator('[data-gu1-kyc="button"]').waitFor();
    assert.match(await page.textContent("#status-text"), /continues in a new window.*failed inside the embedded capture \(CAMERA_FAILED_IN_FRAME\)/);
    const f = await funnel(page);
    assert.match(f.at(-1).text, / error face · cameraAccessDenied$/);
    assert.deepEqual(await axe(page), [], "axe-core on the fallback state and the funnel");
    assert.ok(!(await page.textContent("main")).includes("Ana María"), "the error's free text is not shown");
    await finish(page, context, errors, `${kind}-camera-failed`);
  });
}

test("dropin: the hosted page's close request closes the dialog (modal mode), and it opens again", async () => {
  const { page, context, errors } = await open("/?mode=modal");
  const frame = page.frameLocator("gu1-kyc dialog iframe");
  await frame.locator("#close-request").click({ timeout: 10_000 });
  await page.locator("#events li", { hasText: "gu1kyc:close · modal" }).waitFor({ state: "attached", timeout: 5_000 });
  assert.equal(await page.locator("gu1-kyc dialog[open]").count(), 0, "the dialog closed");
  assert.equal((await funnel(page)).at(-1).name, "close_request");
  await page.click("#reopen");
  await page.locator("gu1-kyc dialog[open]").waitFor();
  await frame.locator("#approve").click();
  await page.locator("#result:not([hidden])").waitFor({ timeout: 10_000 });
  assert.equal(await page.textContent("#result-title"), "You're verified");
  await finish(page, context, errors, "dropin-close-request");
});
