// Destroyed verifications are collected: 1,000 handles mounted, destroyed and dropped by a page
// are finalized after garbage collection and WebAssembly memory does not grow. (A rejected
// `completed` once kept its Verification alive through the error's unformatted stack.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch } from "./chromium.mjs";

test("chromium: destroyed verifications are garbage-collected, memory flat", async () => {
  const browser = await launch(["--js-flags=--expose-gc"]);
  try {
    const page = await browser.newPage();
    await page.goto(`${BASE}/gc-check.html`);
    await page.waitForFunction(() => window.__gc, null, { timeout: 60_000 });
    const r = await page.evaluate(() => window.__gc);
    console.log(`gc: ${r.finalized} of ${r.of} destroyed handles finalized; wasm memory ${r.wasmWarm} B after 100, ${r.wasmAfter} B after 1000`);
    assert.ok(r.finalized >= 990, `only ${r.finalized} of 1000 handles were collected`);
    assert.equal(r.wasmAfter, r.wasmWarm, "WebAssembly memory flat after warm-up");
  } finally {
    await browser.close();
  }
});
