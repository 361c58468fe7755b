// Strict CSP in both browsers: the bare ES-module page, served by the proxy with the demo's CSP,
// completes a verification with no securitypolicyviolation. Drives Chromium and Firefox through
// their WebDriver servers (chromedriver, geckodriver), since Playwright cannot drive Debian's
// Firefox.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { execSync } from "node:child_process";

const BASE = process.env.GU1_DEMO_URL || "http://127.0.0.1:47881";

const which = (cmd) => {
  try {
    return execSync(`command -v ${cmd}`, { encoding: "utf8" }).trim();
  } catch {
    return "";
  }
};

const BROWSERS = [
  {
    name: "chromium",
    driver: [which("chromedriver") || "/usr/bin/chromedriver", (p) => [`--port=${p}`]],
    caps: {
      browserName: "chrome",
      "goog:chromeOptions": {
        binary: "/usr/bin/chromium",
        args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
      },
    },
  },
  {
    name: "firefox",
    driver: [which("geckodriver"), (p) => ["--port", String(p)]],
    caps: { browserName: "firefox", "moz:firefoxOptions": { binary: which("firefox-esr") || which("firefox"), args: ["-headless"] } },
  },
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function wd(port, method, path, body) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${JSON.stringify(j.value)}`);
  return j.value;
}

let nextPort = 47950;
for (const b of BROWSERS) {
  test(`${b.name}: strict CSP page completes with no violation`, async () => {
    const [bin, args] = b.driver;
    assert.ok(bin, `${b.name} driver installed`);
    const port = nextPort++;
    const driver = spawn(bin, args(port), { stdio: "ignore" });
    try {
      for (let i = 0; i < 100; i++) {
        try {
          await wd(port, "GET", "/status");
          break;
        } catch {
          await sleep(100);
        }
      }
      const session = await wd(port, "POST", "/session", { capabilities: { alwaysMatch: b.caps } });
      const id = session.sessionId;
      try {
        await wd(port, "POST", `/session/${id}/url`, { url: `${BASE}/csp-check.html` });
        let result = null;
        for (let i = 0; i < 150 && !result; i++) {
          result = await wd(port, "POST", `/session/${id}/execute/sync`, { script: "return window.__result || null;", args: [] });
          if (!result) await sleep(100);
        }
        assert.ok(result, "the page finished");
        assert.equal(result.error, undefined, result.error);
        assert.equal(result.status, "approved");
        assert.deepEqual(result.violations, []);
        assert.equal(result.iframes, 0);
        assert.deepEqual(result.events.filter((e) => e === "gu1kyc:complete"), ["gu1kyc:complete"]);
      } finally {
        await wd(port, "DELETE", `/session/${id}`).catch(() => {});
      }
    } finally {
      driver.kill();
    }
  });
}
