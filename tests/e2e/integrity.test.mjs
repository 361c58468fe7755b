// Integrity end to end, in Chromium, Firefox and WebKit (through their WebDriver servers): an
// integrator's page on one loopback origin loads the package from a CDN on another (cdn.mjs),
// under a strict CSP, and talks to the simulator (GU1_DEMO_URL). The page pins gu1-kyc.js with
// the package's integrity.json; the loader pins the wasm with the hash it was built with, and so
// does the glue's init(). Then the CDN changes one byte: of the loader (the browser refuses to
// run it), or of the wasm (the loader and init() refuse it: nothing mounts, the proxy hears
// nothing, and the next element, once the CDN serves the right file, loads it again and works).
// Ports: GU1_CDN_PORT (default 27940) and the one after it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Browser, portBlock, sleep } from "./webdriver.mjs";
import { start, changedByOneByte, integrity } from "./cdn.mjs";

portBlock(4);

const SIM = process.env.GU1_DEMO_URL || "http://127.0.0.1:27881";
const PORT = Number(process.env.GU1_CDN_PORT || 27940);
const WASM = "gu1_kyc_web_bg.wasm";

let cdn;
before(async () => {
  cdn = await start(PORT);
});
after(async () => {
  await cdn?.close();
});

/** A new entity with a session and a token, as the integrator's backend makes them. */
async function session() {
  const r = await fetch(`${SIM}/__control/sessions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  return r.json();
}

/** How many requests for this entity reached the proxy. */
async function proxyRequests(s) {
  return (await (await fetch(`${SIM}/__control/entities/${s.entityId}/log`)).json()).requests.length;
}

/** The demo's strict CSP, with the CDN and the proxy the page uses. */
const csp = (s) =>
  `default-src 'none'; script-src 'self' ${new URL(cdn.cdn).origin} 'wasm-unsafe-eval'; ` +
  `connect-src ${new URL(cdn.cdn).origin} ${new URL(s.statusUrl).origin}; frame-src ${s.hostedOrigin}; ` +
  `style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'`;

const attr = (v) => String(v).replace(/&/g, "&amp;").replace(/"/g, "&quot;");
const auto = (s) => `${s.sessionUrl}?auto=approve&delay=300`;

/** The drop-in pinned as the README shows it, one element (with `session-url` when `early`). */
function dropinPage(s, { early = true } = {}) {
  const session = early ? ` session-url="${attr(auto(s))}"` : "";
  cdn.setPage(
    `<!doctype html><html><head><meta charset="utf-8"><title>drop-in, pinned</title>
<script src="/integrity-check.js"></script>
<script src="${cdn.cdn}gu1-kyc.js" integrity="${integrity()["gu1-kyc.js"]}" crossorigin="anonymous" async></script>
</head><body>
<gu1-kyc id="kyc" status-url="${attr(s.statusUrl)}" token="${attr(s.token)}" poll-interval-ms="300"${session}></gu1-kyc>
</body></html>`,
    csp(s),
  );
}

/** The npm import with no bundler: index.js and the glue from the CDN, init() with its default. */
function npmPage(s) {
  cdn.setPage(
    `<!doctype html><html data-pkg="${cdn.cdn}" data-status-url="${attr(s.statusUrl)}" data-token="${attr(s.token)}" data-session-url="${attr(auto(s))}">
<head><meta charset="utf-8"><title>npm import</title>
<script src="/integrity-check.js"></script>
<script type="module" src="/integrity-npm.js"></script>
</head><body><div id="kyc"></div></body></html>`,
    csp(s),
  );
}

const check = (b) => b.exec("return window.__check || null;");
/** Waits for the npm page's outcome; returns the page's record. */
const result = (b) =>
  b.until(
    "the npm page's result",
    async () => {
      const c = await check(b);
      return c?.result ? c : null;
    },
    20_000,
  );

/** Waits for the element `id` to fail for good or to reach one of `types`; returns the page's record. */
async function settled(b, id = "kyc", types = ["gu1kyc:complete"]) {
  return b.until(
    `#${id}: ${types.join(", ")} or a final error`,
    async () => {
      const c = await check(b);
      return c && c.events.some((e) => e.el === id && (types.includes(e.type) || (e.type === "gu1kyc:error" && !e.retrying))) && c;
    },
    20_000,
  );
}

for (const engine of ["chromium", "firefox", "webkit"]) {
  test(`${engine}: the pinned page works; a changed loader or wasm is refused`, async (t) => {
    const b = await Browser.open(engine);
    try {
      await t.test("the drop-in pinned with integrity completes, strict CSP, no violation", async () => {
        const s = await session();
        dropinPage(s);
        const wasm = cdn.cdnHits(WASM);
        await b.go(`${cdn.page}/page`);
        const c = await settled(b);
        assert.deepEqual(c.events.filter((e) => e.type === "gu1kyc:error"), [], "no error");
        assert.deepEqual(c.events.filter((e) => e.type === "gu1kyc:complete").map((e) => e.status), ["approved"]);
        assert.deepEqual(c.refusedScripts, []);
        assert.deepEqual(c.violations, []);
        assert.deepEqual(c.errors, []);
        assert.equal(cdn.cdnHits(WASM) - wasm, 1, "the wasm downloaded once");
        assert.ok((await proxyRequests(s)) > 0, "the proxy was asked");
      });

      await t.test("the npm import's init() fetches the pinned wasm and completes", async () => {
        const s = await session();
        npmPage(s);
        await b.go(`${cdn.page}/page`);
        const c = await result(b);
        assert.deepEqual(c.result, { status: "approved" });
        assert.deepEqual(c.violations, []);
        assert.deepEqual(c.errors, []);
      });

      await t.test("a loader changed by one byte on the CDN is refused by the browser", async () => {
        const s = await session();
        // Still a working loader (one letter of a message): without the page's integrity it runs.
        cdn.replace("gu1-kyc.js", changedByOneByte("gu1-kyc.js", "could not be loaded"));
        dropinPage(s);
        const wasm = cdn.cdnHits(WASM);
        try {
          await b.go(`${cdn.page}/page`);
          const c = await b.until("the refused script", async () => {
            const r = await check(b);
            return r?.refusedScripts.length ? r : null;
          });
          assert.deepEqual(c.refusedScripts, [`${cdn.cdn}gu1-kyc.js`]);
          await sleep(1000); // what would have run has had its time
          assert.equal(await b.exec(`return customElements.get("gu1-kyc") === undefined;`), true, "<gu1-kyc> not defined");
          const after = await check(b);
          assert.deepEqual(after.events, []);
          assert.equal(after.iframes, 0);
          assert.deepEqual(after.violations, []);
          assert.deepEqual(after.errors, []);
          assert.equal(cdn.cdnHits(WASM) - wasm, 0, "no wasm requested");
          assert.equal(await proxyRequests(s), 0, "no request reached the proxy");
        } finally {
          cdn.replace("gu1-kyc.js", null);
        }
      });

      await t.test("a wasm changed by one byte is refused by the loader; the next element loads it again", async () => {
        const s = await session();
        // Still a valid module (one letter of the default iframe title): without the loader's
        // integrity it compiles and mounts.
        cdn.replace(WASM, changedByOneByte(WASM, "Identity verification"));
        dropinPage(s, { early: false });
        const wasm = cdn.cdnHits(WASM);
        try {
          await b.go(`${cdn.page}/page`);
          let c = await settled(b, "kyc", ["gu1kyc:mounted"]);
          const errors = c.events.filter((e) => e.type === "gu1kyc:error");
          assert.equal(errors.length, 1, JSON.stringify(c.events));
          assert.equal(errors[0].code, "NETWORK");
          assert.equal(errors[0].retrying, false);
          assert.ok(errors[0].message.includes(`is not the one ${integrity()[WASM]}`), errors[0].message);
          console.log(`${engine}: the element's error: ${errors[0].message}`);
          await sleep(1000);
          c = await check(b);
          assert.deepEqual(c.events.map((e) => e.type), ["gu1kyc:error"], "nothing mounted");
          assert.equal(c.iframes, 0, "no iframe, ever");
          assert.equal(await b.exec(`return document.getElementById("kyc").verification;`), null);
          assert.equal(await proxyRequests(s), 0, "no request reached the proxy");
          assert.equal(cdn.cdnHits(WASM) - wasm, 1);
        } finally {
          cdn.replace(WASM, null);
        }
        // The CDN serves the right wasm again: a new element downloads it, mounts and completes.
        const s2 = await session();
        await b.exec(
          `const el = document.createElement("gu1-kyc");
           el.id = "kyc2";
           el.setAttribute("status-url", arguments[0]);
           el.setAttribute("token", arguments[1]);
           el.setAttribute("session-url", arguments[2]);
           el.setAttribute("poll-interval-ms", "300");
           document.body.append(el);`,
          s2.statusUrl,
          s2.token,
          auto(s2),
        );
        const c = await settled(b, "kyc2");
        assert.deepEqual(c.events.filter((e) => e.el === "kyc2" && e.type === "gu1kyc:complete").map((e) => e.status), ["approved"]);
        assert.deepEqual(c.events.filter((e) => e.el === "kyc").map((e) => e.type), ["gu1kyc:error"], "the first element did nothing more");
        assert.equal(cdn.cdnHits(WASM) - wasm, 2, "downloaded again, once");
        assert.deepEqual(c.violations, []);
        assert.deepEqual(c.errors, [], "no uncaught error or rejection");
        assert.equal(await proxyRequests(s), 0);
      });

      await t.test("a wasm changed by one byte is refused by the npm import's init()", async () => {
        const s = await session();
        cdn.replace(WASM, changedByOneByte(WASM, "Identity verification"));
        npmPage(s);
        try {
          await b.go(`${cdn.page}/page`);
          const c = await result(b);
          assert.equal(c.result.name, "TypeError", JSON.stringify(c.result));
          console.log(`${engine}: init() rejected: ${c.result.name}: ${c.result.error}`);
          await sleep(500);
          assert.equal((await check(b)).iframes, 0);
          assert.equal(await proxyRequests(s), 0, "no request reached the proxy");
          assert.deepEqual(c.violations, []);
          assert.deepEqual(c.errors, []);
        } finally {
          cdn.replace(WASM, null);
        }
      });
    } finally {
      await b.close();
    }
  });
}
