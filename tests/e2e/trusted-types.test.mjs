// Trusted Types: a page that enforces `require-trusted-types-for 'script'` (and allows no policy
// at all, `trusted-types 'none'`) on top of the demo's strict CSP. The drop-in (pinned, from a
// CDN origin) and the npm import (index.js as an ES module, init() with its default wasm URL)
// each mount and complete a verification with zero securitypolicyviolation events and no
// uncaught error: nothing in the library writes a string into an HTML, script or script-URL
// sink. Chromium, Firefox and WebKit through their WebDriver servers (all three enforce Trusted
// Types in the versions the README lists). Ports: GU1_CDN_PORT + 2 and + 3.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Browser, portBlock } from "./webdriver.mjs";
import { start, integrity } from "./cdn.mjs";

portBlock(5);

const SIM = process.env.GU1_DEMO_URL || "http://127.0.0.1:27881";
const PORT = Number(process.env.GU1_CDN_PORT || 27940) + 2;

let cdn;
before(async () => {
  cdn = await start(PORT);
});
after(async () => {
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
  `connect-src ${new URL(cdn.cdn).origin} ${new URL(s.statusUrl).origin}; frame-src ${s.hostedOrigin}; ` +
  `style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; ` +
  `require-trusted-types-for 'script'; trusted-types 'none'`;

const PAGES = {
  "the drop-in": (s) =>
    `<!doctype html><html data-tt-probe><head><meta charset="utf-8"><title>drop-in under Trusted Types</title>
<script src="/integrity-check.js"></script>
<script src="${cdn.cdn}gu1-kyc.js" integrity="${integrity()["gu1-kyc.js"]}" crossorigin="anonymous" async></script>
</head><body>
<gu1-kyc id="kyc" status-url="${attr(s.statusUrl)}" token="${attr(s.token)}" poll-interval-ms="300" session-url="${attr(s.sessionUrl)}?auto=approve&amp;delay=300"></gu1-kyc>
</body></html>`,
  "the npm import": (s) =>
    `<!doctype html><html data-tt-probe data-pkg="${cdn.cdn}" data-status-url="${attr(s.statusUrl)}" data-token="${attr(s.token)}" data-session-url="${attr(s.sessionUrl)}?auto=approve&amp;delay=300">
<head><meta charset="utf-8"><title>npm import under Trusted Types</title>
<script src="/integrity-check.js"></script>
<script type="module" src="/integrity-npm.js"></script>
</head><body><div id="kyc"></div></body></html>`,
};

for (const engine of ["chromium", "firefox", "webkit"]) {
  test(`${engine}: under require-trusted-types-for 'script', the drop-in and the npm import complete with zero violations`, async (t) => {
    const b = await Browser.open(engine);
    try {
      for (const [name, page] of Object.entries(PAGES)) {
        await t.test(name, async () => {
          const s = await session();
          cdn.setPage(page(s), csp(s));
          await b.go(`${cdn.page}/page`);
          const c = await b.until(
            "a violation or the end",
            async () => {
              const r = await b.exec("return window.__check || null;");
              const end = r && (r.result || r.events.some((e) => e.type === "gu1kyc:complete" || (e.type === "gu1kyc:error" && !e.retrying)));
              return r && (r.violations.length > 1 || end) ? r : null;
            },
            20_000,
          );
          // The engine enforces the page's policy: integrity-check.js's probe was refused, and
          // that is the one violation.
          assert.equal(c.trustedTypes, true, "Trusted Types enforced");
          assert.deepEqual(c.violations, ["require-trusted-types-for trusted-types-sink"]);
          assert.deepEqual(c.errors, []);
          assert.deepEqual(c.events.filter((e) => e.type === "gu1kyc:error"), [], "no error event");
          if (c.result) assert.deepEqual(c.result, { status: "approved" });
          const types = c.events.map((e) => e.type).filter((type) => type !== "gu1kyc:status");
          assert.deepEqual(types, name === "the drop-in" ? ["gu1kyc:mounted", "gu1kyc:ready", "gu1kyc:complete"] : ["gu1kyc:ready", "gu1kyc:complete"]);
          assert.equal(c.events.find((e) => e.type === "gu1kyc:complete").status, "approved");
        });
      }
    } finally {
      await b.close();
    }
  });
}
