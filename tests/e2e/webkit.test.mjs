// Both demo pages (drop-in script tag, npm import built by Vite) in WebKit, Safari's engine and
// the one every browser on iOS uses: approve, reject, abandon, expiry and cancel-and-start-over
// against the real proxy process, through WebKitWebDriver (a plain W3C WebDriver client;
// Playwright's WebKit is its own download and cannot be used). demo.test.mjs runs the same flows
// in Chromium with screenshots.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Browser, portBlock } from "./webdriver.mjs";

portBlock(1);

const BASE = process.env.GU1_DEMO_URL || "http://127.0.0.1:27881";
const PAGES = [
  ["dropin", "/"],
  ["npm", "/npm/"],
];

const events = (b) => b.exec(`return [...document.querySelectorAll("#events li")].map((li) => li.textContent);`);

/** Waits for the hosted iframe, checks it, and returns it with its src. */
async function hostedFrame(b) {
  const iframe = await b.until("the hosted iframe", () => b.find("iframe[data-gu1-kyc]"));
  assert.equal(await b.attr(iframe, "allow"), "camera; microphone; fullscreen; autoplay; encrypted-media");
  assert.equal(await b.attr(iframe, "title"), "Identity verification");
  const src = await b.attr(iframe, "src");
  assert.match(src, /^http:\/\/127\.0\.0\.1:\d+\/session\//);
  assert.notEqual(new URL(src).origin, new URL(BASE).origin, "the hosted page is on a second origin");
  await b.until("gu1kyc:ready", async () => (await events(b)).includes("gu1kyc:ready"));
  return { iframe, src };
}

/** Clicks a button of the hosted page inside the iframe, as a person would. */
async function clickInFrame(b, iframe, id) {
  await b.enterFrame(iframe);
  try {
    await b.click(await b.until(`#${id} in the hosted page`, () => b.find(`#${id}`)));
  } finally {
    await b.leaveFrame();
  }
}

const resultTitle = (b) => b.exec(`return document.getElementById("result").hidden ? null : document.getElementById("result-title").textContent;`);

async function runOutcome(path, button, expect) {
  const b = await Browser.open("webkit");
  try {
    await b.go(BASE + path);
    const { iframe } = await hostedFrame(b);
    assert.ok(!/eyJ[\w-]+\.[\w-]+\.[\w-]+/.test(await b.exec("return document.documentElement.outerHTML;")), "no token (a JWT) in the DOM");
    if (button) await clickInFrame(b, iframe, button);
    assert.equal(await b.until("the result", () => resultTitle(b), 15_000), expect.title);
    if (expect.text) assert.match(await b.exec(`return document.getElementById("result-text").textContent;`), expect.text);
    assert.equal(await b.exec(`return document.querySelectorAll("iframe").length;`), 0, "no iframe left after completion");
    const ev = await events(b);
    assert.equal(ev.filter((e) => e.startsWith("gu1kyc:complete")).length, 1, "complete exactly once");
    assert.equal(ev.filter((e) => e === "gu1kyc:ready").length, 1);
    assert.ok(ev.includes(`gu1kyc:complete · ${expect.status}`), ev.join(", "));
    assert.ok(ev.some((e) => e.startsWith("gu1kyc:status")), "status events seen");
    assert.deepEqual(ev.filter((e) => e.startsWith("gu1kyc:error")), [], "no error event");
  } finally {
    await b.close();
  }
}

for (const [kind, path] of PAGES) {
  test(`webkit: ${kind}: approve`, () => runOutcome(path, "approve", { status: "approved", title: "You're verified" }));

  test(`webkit: ${kind}: reject shows the reason`, () =>
    runOutcome(path, "reject", { status: "rejected", title: "We couldn't verify you", text: /face did not match.*FACE_MATCH_SCORE_LOW/ }));

  test(`webkit: ${kind}: abandon`, () => runOutcome(path, "abandon", { status: "abandoned", title: "Verification not finished" }));

  test(`webkit: ${kind}: expiry`, () => runOutcome(`${path}?ttl=2`, null, { status: "expired", title: "The session expired" }));

  test(`webkit: ${kind}: cancel and start over`, async () => {
    const b = await Browser.open("webkit");
    try {
      await b.go(BASE + path);
      const first = await hostedFrame(b);
      await b.click(await b.find("#restart"));
      await b.until("the new page", async () => /n=\d+/.test(await b.url()));
      const second = await b.until("a new session's iframe", async () => {
        const f = await hostedFrame(b);
        return f.src !== first.src && f;
      });
      assert.notEqual(second.src, first.src, "a new session after start over");
      // The first session was cancelled at gu1: its hosted page now reports it terminal.
      const r = await fetch(new URL(`/hosted/${first.src.split("/session/")[1]}/decide`, first.src), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ decision: "approve" }),
      }).then((x) => x.json());
      assert.equal(r.status, "cancelled");
      assert.equal(await b.exec(`return document.querySelectorAll("iframe[data-gu1-kyc]").length;`), 1);
      // The new session completes too.
      await clickInFrame(b, second.iframe, "approve");
      assert.equal(await b.until("the result", () => resultTitle(b)), "You're verified");
    } finally {
      await b.close();
    }
  });
}
