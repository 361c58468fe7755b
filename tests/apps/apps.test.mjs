// Fresh applications that install the package's tarball and complete a verification
// in the browser against the simulator (GU1_SIM_URL): Vite, webpack 5, Next.js with the App Router
// (its server render imports the package), and the drop-in served from another origin as a CDN
// serving npm packages does. Each app is built once, with its tool's defaults. scripts/test.sh
// installs the tarball into tests/apps/ (as an application's `npm install gu1-kyc-web` would).
// Ports: GU1_APPS_PORT and the four after it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { launch } from "../e2e/chromium.mjs";
import { Browser, portBlock } from "../e2e/webdriver.mjs";
import { serve } from "./server.mjs";

portBlock(2);

const here = new URL(".", import.meta.url).pathname;
const SIM = process.env.GU1_SIM_URL || "http://127.0.0.1:27871";
const PORT = Number(process.env.GU1_APPS_PORT || 27960);
const APP = `http://127.0.0.1:${PORT}`;
const CDN = `http://127.0.0.1:${PORT + 1}`;
const NOCORS = `http://127.0.0.1:${PORT + 2}`;
const NEXT = `http://127.0.0.1:${PORT + 3}`;
const OCTET = `http://127.0.0.1:${PORT + 4}`;
const pkgDir = join(here, "node_modules/gu1-kyc-web");
const bin = (name) => join(here, "node_modules/.bin", name);
const sh = (cmd, args, cwd = here) => execFileSync(cmd, args, { cwd, stdio: "pipe", env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });

/** The drop-in page an integrator's server renders: the script from `cdn`, one element. */
async function dropinPage(cdn) {
  const s = await (await fetch(`${SIM}/__control/sessions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })).json();
  return `<!doctype html><html><head><meta charset="utf-8"><title>drop-in from a CDN</title>
<script src="${cdn}/gu1-kyc-web@0.1.0/gu1-kyc.js" async></script></head><body>
<gu1-kyc id="kyc" status-url="${s.statusUrl}" token="${s.token}" session-url="${s.sessionUrl}?auto=approve&amp;delay=300" poll-interval-ms="300"></gu1-kyc>
<script>
  const kyc = document.getElementById("kyc");
  kyc.addEventListener("gu1kyc:complete", (e) => (window.__result = { status: e.detail.status, iframes: document.querySelectorAll("iframe").length }));
  kyc.addEventListener("gu1kyc:error", (e) => { if (!e.detail.retrying) window.__result = { error: e.detail.code, message: e.detail.message }; });
</script></body></html>`;
}

/** A page that sets the element's properties before the drop-in has loaded, as a framework that
 *  binds properties (Angular, Lit, Preact) renders before an async script arrives. */
async function earlyPropsPage(cdn) {
  const s = await (await fetch(`${SIM}/__control/sessions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ tokenTtlSecs: 0 }) })).json();
  const fresh = await (await fetch(`${SIM}/__control/entities/${s.entityId}/token`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })).json();
  return `<!doctype html><html><head><meta charset="utf-8"><title>properties before the drop-in</title></head><body>
<script type="module">
  const kyc = document.createElement("gu1-kyc");
  kyc.setAttribute("status-url", ${JSON.stringify(s.statusUrl)});
  kyc.setAttribute("session-url", ${JSON.stringify(`${s.sessionUrl}?auto=approve&delay=300`)});
  kyc.setAttribute("poll-interval-ms", "300");
  kyc.token = ${JSON.stringify(s.token)}; // already expired: the first answer is a 401
  kyc.refreshToken = async () => ${JSON.stringify(fresh.token)};
  kyc.addEventListener("gu1kyc:complete", (e) => (window.__result = { status: e.detail.status, iframes: document.querySelectorAll("iframe").length }));
  kyc.addEventListener("gu1kyc:error", (e) => { if (!e.detail.retrying) window.__result = { error: e.detail.code }; });
  document.body.append(kyc);
  const script = document.createElement("script");
  script.src = "${cdn}/gu1-kyc-web@0.1.0/gu1-kyc.js";
  document.head.append(script);
</script></body></html>`;
}

const servers = [];
let browser;
before(async () => {
  const pages = { "/dropin-cdn": () => dropinPage(CDN), "/dropin-nocors": () => dropinPage(NOCORS), "/dropin-octet": () => dropinPage(OCTET), "/early-props": () => earlyPropsPage(CDN) };
  servers.push(await serve(PORT, { "/vite/": join(here, "vite/dist"), "/webpack/": join(here, "webpack/dist") }, { sim: SIM, pages }));
  servers.push(await serve(PORT + 1, { "/gu1-kyc-web@0.1.0/": pkgDir }, { cors: true }));
  servers.push(await serve(PORT + 2, { "/gu1-kyc-web@0.1.0/": pkgDir }, { cors: false }));
  // A CDN that does not know the wasm's type.
  servers.push(await serve(PORT + 4, { "/gu1-kyc-web@0.1.0/": pkgDir }, { cors: true, wasmType: "application/octet-stream" }));
  browser = await launch();
});
after(async () => {
  await browser?.close();
  for (const s of servers) s.close();
});

/** Opens `url` in Chromium and waits for the page's `window.__result`. */
async function result(url) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => window.__result, null, { timeout: 20_000 });
    const r = await page.evaluate(() => window.__result);
    assert.deepEqual(errors, [], "no page error");
    return r;
  } finally {
    await context.close();
  }
}

const wasmFiles = (dir) => readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(".wasm"));

test("vite: a fresh app bundles the package and completes a verification", async () => {
  sh(bin("vite"), ["build", "--base", "/vite/", "--logLevel", "warn"], join(here, "vite"));
  assert.equal(wasmFiles(join(here, "vite/dist")).length, 1, "Vite emitted the wasm as an asset");
  assert.deepEqual(await result(`${APP}/vite/`), { status: "approved", iframes: 0 });
});

test("webpack 5: a fresh app bundles the package and completes a verification", async () => {
  sh(process.execPath, [join(here, "webpack/build.mjs")]);
  assert.equal(wasmFiles(join(here, "webpack/dist")).length, 1, "webpack emitted the wasm as an asset");
  assert.deepEqual(await result(`${APP}/webpack/`), { status: "approved", iframes: 0 });
});

test("next.js (App Router): the server render imports the package, the client component completes", async () => {
  const dir = join(here, "next");
  sh(bin("next"), ["build"], dir);
  const server = spawn(bin("next"), ["start", "-p", String(PORT + 3), "-H", "127.0.0.1"], {
    cwd: dir,
    detached: true,
    stdio: "ignore",
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", GU1_SIM_URL: SIM },
  });
  try {
    let html = "";
    for (let i = 0; i < 100 && !html; i++) {
      html = await fetch(NEXT).then((r) => (r.ok ? r.text() : ""), () => "");
      if (!html) await new Promise((r) => setTimeout(r, 200));
    }
    // Rendered on the server: the import worked there and mount() refused with a clear error.
    assert.match(html, /server render: mount is a <!-- -->function<!-- -->; mount\(\) here: <!-- -->KycError CONTAINER_NOT_FOUND/);
    assert.match(html, /<div id="kyc"><\/div>/, "the client component rendered on the server too");
    assert.deepEqual(await result(NEXT), { status: "approved", iframes: 0 });
  } finally {
    try {
      process.kill(-server.pid, "SIGTERM");
    } catch {}
  }
});

test("drop-in from another origin with CORS (a CDN serving npm packages) completes", async () => {
  assert.deepEqual(await result(`${APP}/dropin-cdn`), { status: "approved", iframes: 0 });
});

test("webkit: drop-in from another origin with CORS completes", async () => {
  const b = await Browser.open("webkit");
  try {
    await b.go(`${APP}/dropin-cdn`);
    const r = await b.until("the result", () => b.exec("return window.__result || null;"), 20_000);
    assert.deepEqual(r, { status: "approved", iframes: 0 });
  } finally {
    await b.close();
  }
});

test("drop-in from another origin without CORS: the element reports NETWORK", async () => {
  const r = await result(`${APP}/dropin-nocors`);
  assert.equal(r.error, "NETWORK", JSON.stringify(r));
});

test("drop-in whose CDN serves the wasm without application/wasm: completes", async () => {
  // The loader reads the body that streaming compilation refused and compiles it: no second
  // request, no warning.
  assert.deepEqual(await result(`${APP}/dropin-octet`), { status: "approved", iframes: 0 });
});

test("drop-in: token and refreshToken set as properties before the script loaded are used", async () => {
  assert.deepEqual(await result(`${APP}/early-props`), { status: "approved", iframes: 0 });
});
