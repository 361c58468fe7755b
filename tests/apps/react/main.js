// A fresh React app with gu1-kyc-react from its tarball. Each scenario renders, drives and
// unmounts its own root and returns what it saw; tests/apps/react.test.mjs calls them.
import { createElement as h, StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { flushSync } from "react-dom";
import { Gu1Kyc, useVerification } from "gu1-kyc-react";

const session = async (body = {}) => (await fetch("/session", { method: "POST", body: JSON.stringify(body) })).json();
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 10_000) {
  for (const end = Date.now() + ms; !fn(); await tick(20)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}
function newRoot() {
  const el = document.createElement("div");
  document.body.append(el);
  const root = createRoot(el);
  return { el, render: (node) => flushSync(() => root.render(h(StrictMode, null, node))), unmount: () => (root.unmount(), el.remove()) };
}
const approve = (s, delay = 300) => `${s.sessionUrl}?auto=approve&delay=${delay}`;

window.scenarios = {
  // StrictMode mounts, unmounts and mounts again: one iframe at any time, one completion.
  async strictMode() {
    const s = await session();
    const r = newRoot();
    const seen = { onComplete: 0, completeEvents: 0, readyEvents: 0, maxIframes: 0 };
    r.el.addEventListener("gu1kyc:complete", () => seen.completeEvents++);
    r.el.addEventListener("gu1kyc:ready", () => seen.readyEvents++);
    const watch = new MutationObserver(() => (seen.maxIframes = Math.max(seen.maxIframes, r.el.querySelectorAll("iframe").length)));
    watch.observe(r.el, { subtree: true, childList: true });
    r.render(h(Gu1Kyc, { statusUrl: s.statusUrl, token: s.token, sessionUrl: approve(s, 600), pollIntervalMs: 200, onComplete: () => seen.onComplete++ }));
    await until("completion", () => seen.onComplete > 0);
    await tick(600);
    watch.disconnect();
    r.unmount();
    return { ...seen, entityId: s.entityId };
  },

  // A new callback on every render keeps the verification; a new token and session replace it.
  async optionChange() {
    const a = await session();
    const b = await session();
    const completed = [];
    const r = newRoot();
    const props = (s, url) => ({ statusUrl: s.statusUrl, token: s.token, sessionUrl: url, pollIntervalMs: 200, onComplete: (x) => completed.push(x.id), onStatus: () => {} });
    r.render(h(Gu1Kyc, props(a, a.sessionUrl)));
    await until("A's iframe", () => r.el.querySelector("iframe")?.src.startsWith(a.sessionUrl));
    const first = r.el.querySelector("iframe");
    r.render(h(Gu1Kyc, props(a, a.sessionUrl))); // new function props, same options
    await tick(300);
    const keptOnNewCallbacks = r.el.querySelector("iframe") === first && first.isConnected;
    const switchedAt = Date.now();
    r.render(h(Gu1Kyc, props(b, approve(b))));
    await until("B's completion", () => completed.length > 0);
    await tick(300);
    const iframesAfter = r.el.querySelectorAll("iframe").length;
    r.unmount();
    return { keptOnNewCallbacks, completed, a: a.entityId, aId: a.id, bId: b.id, iframesAfter, switchedAt };
  },

  // Unmounting while a status request is in flight aborts it; nothing runs afterwards.
  async unmountMidRequest() {
    const s = await session({ faults: [{ endpoint: "status", delayMs: 3000, count: 10 }] });
    const r = newRoot();
    const calls = [];
    r.render(h(Gu1Kyc, { statusUrl: s.statusUrl, token: s.token, sessionUrl: s.sessionUrl, onStatus: () => calls.push("status"), onError: (e) => calls.push(e.code), onComplete: () => calls.push("complete") }));
    await until("the iframe", () => r.el.querySelector("iframe"));
    await tick(500); // the first poll is out, held by the simulator for 3 s
    r.unmount();
    await tick(3500);
    return { calls, iframes: document.querySelectorAll("iframe").length, entityId: s.entityId };
  },

  // The hook's state: snapshots while it runs, then the result; a refused token is the error.
  async hookState() {
    const ok = await session();
    const refused = await session({ tokenTtlSecs: 0 });
    const states = { ok: [], refused: [] };
    function Probe({ s, url, log }) {
      const v = useVerification({ statusUrl: s.statusUrl, token: s.token, sessionUrl: url, pollIntervalMs: 200 });
      log.push({ snapshot: v.snapshot?.status ?? null, result: v.result?.status ?? null, error: v.error?.code ?? null, running: v.verification !== null });
      return h("div", { ref: v.ref });
    }
    const r1 = newRoot();
    const r2 = newRoot();
    r1.render(h(Probe, { s: ok, url: approve(ok, 800), log: states.ok }));
    r2.render(h(Probe, { s: refused, url: refused.sessionUrl, log: states.refused }));
    await until("the result", () => states.ok.at(-1).result);
    await until("the error", () => states.refused.at(-1).error);
    r1.unmount();
    r2.unmount();
    return { ok: states.ok.at(-1), sawRunning: states.ok.some((x) => x.running && x.snapshot && !x.result), refused: states.refused.at(-1) };
  },

  // Step events: onStep gets each one and the hook's `step` is the latest; a new callback on a
  // later render is the one called; a new verification starts with no step.
  async steps() {
    const s = await session();
    const next = await session();
    const calls = { first: [], second: [] };
    const states = [];
    function Probe({ sess, url, onStep }) {
      const v = useVerification({ statusUrl: sess.statusUrl, token: sess.token, sessionUrl: url, pollIntervalMs: 60000, onStep });
      states.push({ step: v.step, session: sess.id });
      return h("div", { ref: v.ref });
    }
    const r = newRoot();
    const vocab = `${s.sessionUrl}?vocab=1&delay=600`;
    r.render(h(Probe, { sess: s, url: vocab, onStep: (d) => calls.first.push(d) }));
    // A new callback before the hosted page posts anything: the later one gets the events.
    await until("the iframe", () => r.el.querySelector("iframe"));
    r.render(h(Probe, { sess: s, url: vocab, onStep: (d) => calls.second.push(d) }));
    await until("16 steps", () => calls.second.length >= 16);
    await tick(300);
    const latest = states.at(-1).step;
    // The next hosted page posts nothing (?silent=1): its verification has no step to show.
    r.render(h(Probe, { sess: next, url: `${next.sessionUrl}?silent=1`, onStep: () => {} }));
    await tick(300);
    const afterSwitch = states.filter((x) => x.session === next.id).map((x) => x.step);
    r.unmount();
    return { first: calls.first, second: calls.second, latest, afterSwitch, detailText: JSON.stringify(calls.second) };
  },
};
window.ready = true;
