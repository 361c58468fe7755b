// The camera pre-flight's verdict as each engine gives it (Chromium, Firefox, WebKit through their
// WebDriver servers) on four pages served by the demo proxy: a plain page, the same page served
// with `Permissions-Policy: camera=()`, and that page framed from a second origin (the server's
// other loopback name) without and with `allow="camera"`. The expected verdicts are the ones
// measured; where an engine exposes no policy object it cannot tell, and the verdict is `ok`
// (unknown is not failure; README, "When the camera cannot work in the iframe").
import { test } from "node:test";
import assert from "node:assert/strict";
import { Browser, portBlock } from "./webdriver.mjs";

portBlock(3);

const BASE = process.env.GU1_DEMO_URL || "http://127.0.0.1:27881";

const PAGES = [
  ["plain page", "/preflight-check.html"],
  ["camera=()", "/preflight-check.html?camera=blocked"],
  ["framed, no delegation", "/framed-check.html"],
  ["framed, allow=camera", "/framed-check.html?allow=camera"],
];

// `null`: ok. Measured on this machine's engines (README lists them).
const EXPECTED = {
  chromium: [null, "CAMERA_BLOCKED_BY_POLICY", "CAMERA_BLOCKED_BY_POLICY", null],
  firefox: [null, null, "CAMERA_DENIED", null],
  webkit: [null, null, "CAMERA_DENIED", null],
};

for (const engine of Object.keys(EXPECTED)) {
  test(`${engine}: the pre-flight's verdict on a plain, a camera=(), and framed pages`, async () => {
    const b = await Browser.open(engine);
    const seen = [];
    try {
      for (const [name, path] of PAGES) {
        await b.go(BASE + path);
        const r = await b.until(`${name}: the page's result`, () => b.exec("return window.__result || null;"), 15_000);
        assert.equal(r.error, undefined, `${name}: ${r.error}`);
        assert.equal(r.framed, path.startsWith("/framed"), `${name}: framed`);
        assert.equal(r.ok, r.reason === null, `${name}: ok agrees with reason`);
        seen.push(r.reason);
      }
      console.log(`${engine}: ${PAGES.map(([n], i) => `${n} → ${seen[i] || "ok"}`).join("; ")}`);
      assert.deepEqual(seen, EXPECTED[engine]);
    } finally {
      await b.close();
    }
  });
}
