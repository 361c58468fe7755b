// Strict CSP in all three engines: the bare ES-module page, served by the proxy with the demo's
// CSP, completes a verification with no securitypolicyviolation. Drives Chromium, Firefox and
// WebKit through their WebDriver servers (chromedriver, geckodriver, WebKitWebDriver), since
// Playwright cannot drive Debian's Firefox or WebKitGTK.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Browser, portBlock } from "./webdriver.mjs";

portBlock(0);

const BASE = process.env.GU1_DEMO_URL || "http://127.0.0.1:27881";

for (const engine of ["chromium", "firefox", "webkit"]) {
  test(`${engine}: strict CSP page completes with no violation`, async () => {
    const b = await Browser.open(engine);
    try {
      await b.go(`${BASE}/csp-check.html`);
      const result = await b.until("the page's result", () => b.exec("return window.__result || null;"), 15_000);
      assert.equal(result.error, undefined, result.error);
      assert.equal(result.status, "approved");
      assert.deepEqual(result.violations, []);
      assert.equal(result.iframes, 0);
      assert.deepEqual(result.events.filter((e) => e === "gu1kyc:complete"), ["gu1kyc:complete"]);
    } finally {
      await b.close();
    }
  });
}
