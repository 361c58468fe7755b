// gu1-kyc-react (packages/react) as integrators get it: its tarball (GU1_REACT_TARBALL) checked by
// publint and attw, and a fresh React app bundled by Vite driving the hook and the component in
// Chromium against the simulator (GU1_SIM_URL): StrictMode's double mount, option changes,
// unmount mid-request, the hook's state. scripts/test.sh installs both tarballs into tests/apps.
// Port: GU1_APPS_PORT + 5.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { launch } from "../e2e/chromium.mjs";
import { serve } from "./server.mjs";

const here = new URL(".", import.meta.url).pathname;
const root = join(here, "../..");
const SIM = process.env.GU1_SIM_URL || "http://127.0.0.1:27871";
const TARBALL = process.env.GU1_REACT_TARBALL || join(root, "target/pack/gu1-kyc-react.tgz");
const PORT = Number(process.env.GU1_APPS_PORT || 27960) + 5;
const tool = (name) => join(root, "tools/node_modules/.bin", name);

const log = async (entity) => (await (await fetch(`${SIM}/__control/entities/${entity}/log`)).json()).requests.filter((r) => r.endpoint === "status");

test("gu1-kyc-react: publint and attw report nothing on its tarball", () => {
  const p = spawnSync(tool("publint"), ["--strict", TARBALL], { encoding: "utf8" });
  assert.equal(p.status, 0, p.stdout + p.stderr);
  assert.match(p.stdout, /All good!/);
  const a = spawnSync(tool("attw"), [TARBALL, "--profile", "esm-only", "--format", "json"], { encoding: "utf8" });
  assert.equal(a.status, 0, a.stdout + a.stderr);
  assert.deepEqual(JSON.parse(a.stdout).analysis.problems.filter((x) => x.kind !== "CJSResolvesToESM"), []);
});

let server, browser, page, errors;
before(async () => {
  execFileSync(join(here, "node_modules/.bin/vite"), ["build", "--base", "/react/", "--logLevel", "warn"], { cwd: join(here, "react"), stdio: "pipe" });
  server = await serve(PORT, { "/react/": join(here, "react/dist") }, { sim: SIM });
  browser = await launch();
  page = await browser.newPage();
  errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // Network failures the browser logs (the refused token's 401, a favicon) are not the page's errors.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && errors.push(m.text()));
  await page.goto(`http://127.0.0.1:${PORT}/react/`);
  await page.waitForFunction(() => window.ready);
});
after(async () => {
  await browser?.close();
  server?.close();
});

const run = async (name) => {
  const r = await page.evaluate((n) => window.scenarios[n](), name);
  assert.deepEqual(errors.splice(0), [], "no page error, nothing on console.error");
  return r;
};

test("react: StrictMode's double mount shows one iframe and completes once", async () => {
  const r = await run("strictMode");
  assert.equal(r.maxIframes, 1, "one iframe at any time");
  assert.equal(r.onComplete, 1, "onComplete once");
  assert.equal(r.completeEvents, 1, "gu1kyc:complete once");
  assert.equal(r.readyEvents, 1, "the hosted page loaded once");
});

test("react: a new callback keeps the verification; new options replace it", async () => {
  const r = await run("optionChange");
  assert.ok(r.keptOnNewCallbacks, "the same iframe after a render with new callbacks");
  assert.deepEqual(r.completed, [r.bId], "only the second session completes");
  assert.equal(r.iframesAfter, 0);
  // The first verification stopped polling when it was replaced.
  const n = (await log(r.a)).length;
  await new Promise((res) => setTimeout(res, 600));
  assert.equal((await log(r.a)).length, n, "no request for the replaced verification");
});

test("react: unmounting mid-request aborts the request and nothing runs afterwards", async () => {
  const r = await run("unmountMidRequest");
  assert.deepEqual(r.calls, [], "no callback after unmount");
  assert.equal(r.iframes, 0);
  const requests = (await (await fetch(`${SIM}/__control/entities/${r.entityId}/log`)).json()).requests.filter((q) => q.endpoint === "status");
  assert.equal(requests.length, 1, JSON.stringify(requests));
  assert.equal(requests[0].aborted, true, "the in-flight request was aborted");
});

test("react: useVerification gives the snapshot while running, then the result; a refused token is the error", async () => {
  const r = await run("hookState");
  assert.ok(r.sawRunning, "a snapshot while the verification ran");
  assert.deepEqual(r.ok, { snapshot: "approved", result: "approved", error: null, running: false });
  assert.equal(r.refused.error, "UNAUTHORIZED");
  assert.equal(r.refused.result, null);
});

test("react: onStep gets every step event (the latest callback), the hook's step is the latest, none of the hosted page's personal data", async () => {
  const r = await run("steps");
  assert.equal(r.first.length, 0, "the replaced callback was not called");
  assert.deepEqual(
    r.second.map((d) => d.name),
    ["ready", "started", "step_started", "step_completed", "step_changed", "media_started", "media_captured", "document_selected", "submitted", "code_sent", "code_verified", "status_updated", "completed", "cancelled", "error", "close_request"],
  );
  assert.deepEqual(r.second.map((d) => d.seq), Array.from({ length: 16 }, (_, i) => i + 1));
  assert.equal(new Set(r.second.map((d) => d.attempt)).size, 1, "one attempt id");
  assert.ok(r.second.every((d) => d.v === 1));
  assert.deepEqual(r.latest, r.second[15], "the hook's step is the latest event");
  assert.equal(r.afterSwitch.at(-1), null, "a new verification starts with no step");
  // The simulator's payloads carry these (proxy/src/sim/hosted/page.js, PERSON); no detail does.
  for (const pii of ["Ana María Testperson", "+34 612 345 678", "ESP", "passport", "P1234567Z", "bank.example", "http"]) {
    assert.ok(!r.detailText.includes(pii), `no ${pii} in a step detail`);
  }
});
