// A bare ES-module page used by the end-to-end CSP test (and a handy smoke test): it mounts the
// package straight from /pkg/, lets the simulated hosted page approve, and publishes the outcome
// and every CSP violation in window.__result.
import init, { mount } from "/pkg/gu1_kyc_web.js";

const violations = [];
document.addEventListener("securitypolicyviolation", (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));
const out = document.getElementById("out");

try {
  await init();
  const s = await (await fetch("/demo/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })).json();
  const events = [];
  const el = document.getElementById("kyc");
  for (const t of ["gu1kyc:ready", "gu1kyc:status", "gu1kyc:complete", "gu1kyc:error"]) el.addEventListener(t, () => events.push(t));
  const v = mount({
    container: el,
    statusUrl: "/kyc/status",
    token: s.token,
    sessionUrl: s.sessionUrl + "?auto=approve&delay=300",
    pollIntervalMs: 500,
    height: 300,
  });
  const r = await v.completed;
  window.__result = { status: r.status, events, violations, iframes: document.querySelectorAll("iframe").length };
} catch (e) {
  window.__result = { error: String(e && e.message), violations };
}
out.textContent = JSON.stringify(window.__result, null, 2);
