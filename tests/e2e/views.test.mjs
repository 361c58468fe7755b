// The views as people see them, in Chromium, Firefox and WebKit, under the demo's strict CSP
// (www/views-check.html: the library's defaults, no page styles): on a phone-sized viewport the
// modal fills the screen with nothing cut at its right edge; at 1,100 px it sits centred, 720 px
// wide; the panel's text does not touch its border; every element the library makes carries its
// hook; a rule of the page's own on a hook wins with no !important; no CSP violation. The
// WebDriver windows cannot be narrower than 447 (WebKit) or 500 px (Chromium, Firefox), both
// below the 540 px where the full-screen layout starts; Chromium is also checked at exactly 390
// px through Playwright's viewport. Screenshots go to test-results/views/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { Browser, portBlock } from "./webdriver.mjs";
import { launch } from "./chromium.mjs";

portBlock(5);

const BASE = process.env.GU1_DEMO_URL || "http://127.0.0.1:27881";
const SHOTS = new URL("../../test-results/views/", import.meta.url);
mkdirSync(SHOTS, { recursive: true });

async function views(b, query, width, height, shot) {
  const got = await b.viewport(width, height);
  await b.go(`${BASE}/views-check.html${query}`);
  const v = await b.until("the views' figures", () => b.exec("return window.__views || null;"), 15_000);
  assert.equal(v.error, undefined, v.error);
  assert.deepEqual(v.violations, [], "no CSP violation");
  if (shot) writeFileSync(new URL(shot, SHOTS), await b.screenshot());
  return { ...v, got };
}

const near = (a, b, what, d = 2) => assert.ok(Math.abs(a - b) <= d, `${what}: ${a} vs ${b}`);

for (const engine of ["chromium", "firefox", "webkit"]) {
  test(`${engine}: the modal fills a phone and sits centred on a desktop; the page's rules win`, async () => {
    const b = await Browser.open(engine);
    try {
      const phone = await views(b, "?mode=modal", 390, 844, `${engine}-modal-narrow.png`);
      assert.ok(phone.vw <= 540, `a phone-sized viewport (${phone.got})`);
      assert.equal(phone.open, true, "shown with showModal");
      assert.deepEqual(phone.hooks, ["dialog=dialog", "button=close", "iframe="]);
      near(phone.view.left, 0, "full width: left edge");
      near(phone.view.width, phone.vw, "full width");
      near(phone.view.height, phone.vh, "full height");
      assert.ok(phone.scrollW <= phone.clientW, `nothing cut at the right edge (${phone.scrollW} > ${phone.clientW})`);
      assert.ok(phone.iframe.right <= phone.vw + 0.5, `the hosted page within the screen (${phone.iframe.right})`);
      assert.ok(phone.pageScrollW <= phone.vw, "no horizontal scroll");

      const desk = await views(b, "?mode=modal", 1100, 800, `${engine}-modal-1100.png`);
      assert.equal(desk.vw, 1100);
      near(desk.view.width, 720, "720 px wide");
      near(desk.view.left, (desk.vw - desk.view.width) / 2, "centred");
      assert.equal(desk.radius, "12px", "rounded");
      assert.equal(desk.buttonBg, "rgb(29, 78, 216)", "the close button styled");
      assert.equal(desk.buttonRadius, "8px");

      const own = await views(b, "?mode=modal&override=1", 1100, 800);
      assert.equal(own.radius, "3px", "the page's rule on the dialog wins");
      assert.equal(own.buttonBg, "rgb(1, 2, 3)", "the page's rule on the close button wins");
    } finally {
      await b.close();
    }
  });

  test(`${engine}: the window button's panel has room and its hooks`, async () => {
    const b = await Browser.open(engine);
    try {
      for (const [width, height] of [[390, 844], [1100, 800]]) {
        const p = await views(b, "?mode=window", width, height, `${engine}-panel-${width === 390 ? "narrow" : width}.png`);
        assert.deepEqual(p.hooks, ["div=panel", "button=button"]);
        assert.equal(p.padding, "24px", "the text and button do not touch the border");
        assert.equal(p.radius, "12px");
        assert.equal(p.buttonBg, "rgb(29, 78, 216)");
        assert.ok(p.view.right <= p.vw && p.pageScrollW <= p.vw, "within the screen");
      }
      const own = await views(b, "?mode=window&override=1", 390, 844);
      assert.equal(own.buttonBg, "rgb(1, 2, 3)", "the page's rule on the button wins");
    } finally {
      await b.close();
    }
  });
}

test("chromium at exactly 390 px: the modal is the whole screen, the panel fits", async () => {
  const browser = await launch();
  try {
    const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
    for (const mode of ["modal", "window"]) {
      await page.goto(`${BASE}/views-check.html?mode=${mode}`);
      await page.waitForFunction(() => window.__views);
      const v = await page.evaluate(() => window.__views);
      assert.equal(v.error, undefined, v.error);
      assert.deepEqual(v.violations, []);
      assert.equal(v.vw, 390);
      if (mode === "modal") {
        near(v.view.left, 0, "left edge");
        near(v.view.width, 390, "full width");
        near(v.view.height, 844, "full height");
        assert.ok(v.scrollW <= v.clientW && v.iframe.right <= 390.5, "nothing cut at the right edge");
      } else {
        assert.ok(v.view.right <= 390 && v.pageScrollW <= 390, "the panel within the screen");
      }
      await page.screenshot({ path: new URL(`chromium-${mode}-390.png`, SHOTS).pathname });
    }
    await page.setViewportSize({ width: 1100, height: 800 });
    for (const mode of ["modal", "window"]) {
      await page.goto(`${BASE}/views-check.html?mode=${mode}`);
      await page.waitForFunction(() => window.__views);
      await page.screenshot({ path: new URL(`chromium-${mode}-1100.png`, SHOTS).pathname });
    }
  } finally {
    await browser.close();
  }
});
