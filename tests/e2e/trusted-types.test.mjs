// Trusted Types: a page that enforces `require-trusted-types-for 'script'` (and allows no policy
// at all, `trusted-types 'none'`) on top of the demo's strict CSP. The drop-in (pinned, from a
// CDN origin) and the npm import (index.js as an ES module, init() with its default wasm URL)
// each mount and complete a verification with zero securitypolicyviolation events and no page
// error: nothing in the library writes a string into an HTML, script or script-URL sink.
// Chromium (Playwright), the engine that enforces Trusted Types. Ports: GU1_CDN_PORT + 2, + 3.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch } from "./chromium.mjs";
import { start, integrity } from "./cdn.mjs";

const SIM = process.env.GU1_DEMO_URL || "http://127.0.0.1:27881";
const PORT = Number(process.env.GU1_CDN_PORT || 27940) + 2;

let browser, cdn;
before(async () => {
  browser = await launch();
  cdn = await start(PORT);
});
after(async () => {
  await browser?.close();
  await cdn?.close();
});

async function session() {
  const r = await fetch(`${SIM}/__control/sessions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  return r.json();
}

const attr = (v) => String(v).replace(/&/g, "&amp;").replace(/"/g, "&quot;");

/** The demo's strict CSP with the CDN and the proxy, and Trusted Types enforced with no policy. */
const csp = (s) =>
  `default-src 'none'; script-src 'self' ${new URL(cdn.cdn).origin} 'wasm-unsafe-eval'; ` +
  `connect-src 'self' ${new URL(cdn.cdn).origin} ${new URL(s.statusUrl).origin}; frame-src ${s.hostedOrigin}; ` +
  `style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; ` +
  `require-trusted-types-for 'script'; trusted-types 'none'`;

/**
 * Opens the page and waits for a violation or the end: the npm page's `result`, or the drop-in's
 * completion or final error (`until` says which). Returns the page's record and errors.
 */
async function run(until) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${cdn.page}/page`);
    // The policy is the one the page runs under (not a test artefact).
    assert.equal(await page.evaluate(() => typeof trustedTypes === "object"), true, "Trusted Types available");
    await page.waitForFunction(
      (kind) => {
        const c = window.__check;
        const end = kind === "result" ? !!c.result : c.events.some((e) => e.type === "gu1kyc:complete" || (e.type === "gu1kyc:error" && !e.retrying));
        return c.violations.length > 0 || end;
      },
      until,
      { timeout: 20_000 },
    );
    return { check: await page.evaluate(() => window.__check), errors };
  } finally {
    await context.close();
  }
}

test("trusted types: the drop-in mounts and completes with zero violations", async () => {
  const s = await session();
  cdn.setPage(
    `<!doctype html><html><head><meta charset="utf-8"><title>drop-in under Trusted Types</title>
<script src="/integrity-check.js"></script>
<script src="${cdn.cdn}gu1-kyc.js" integrity="${integrity()["gu1-kyc.js"]}" crossorigin="anonymous" async></script>
</head><body>
<gu1-kyc id="kyc" status-url="${attr(s.statusUrl)}" token="${attr(s.token)}" poll-interval-ms="300" session-url="${attr(s.sessionUrl)}?auto=approve&amp;delay=300"></gu1-kyc>
</body></html>`,
    csp(s),
  );
  const { check, errors } = await run("complete");
  assert.deepEqual(check.violations, []);
  assert.deepEqual(errors, []);
  assert.deepEqual(check.events.filter((e) => e.type === "gu1kyc:error"), [], "no error");
  assert.deepEqual(check.events.map((e) => e.type).filter((t) => t !== "gu1kyc:status"), ["gu1kyc:mounted", "gu1kyc:ready", "gu1kyc:complete"]);
  assert.equal(check.events.find((e) => e.type === "gu1kyc:complete").status, "approved");
});

test("trusted types: the npm import mounts and completes with zero violations", async () => {
  const s = await session();
  cdn.setPage(
    `<!doctype html><html data-pkg="${cdn.cdn}" data-status-url="${attr(s.statusUrl)}" data-token="${attr(s.token)}" data-session-url="${attr(s.sessionUrl)}?auto=approve&amp;delay=300">
<head><meta charset="utf-8"><title>npm import under Trusted Types</title>
<script src="/integrity-check.js"></script>
<script type="module" src="/integrity-npm.js"></script>
</head><body><div id="kyc"></div></body></html>`,
    csp(s),
  );
  const { check, errors } = await run("result");
  assert.deepEqual(check.violations, []);
  assert.deepEqual(errors, []);
  assert.deepEqual(check.result, { status: "approved" });
  assert.deepEqual(check.events.map((e) => e.type).filter((t) => t !== "gu1kyc:status"), ["gu1kyc:ready", "gu1kyc:complete"]);
});
