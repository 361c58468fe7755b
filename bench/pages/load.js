// Backend-load page: ?client=ours mounts the library; ?client=naive polls every `poll` ms with a
// plain fetch loop until the status is terminal. ?hide=a,b pretends the tab is hidden from a to
// b ms after load (as a tab switch does: document.hidden + visibilitychange).
import init, { mount } from "/pkg/gu1_kyc_web.js";
const cfg = JSON.parse(document.getElementById("cfg").textContent);
const q = new URLSearchParams(location.search);
const poll = Number(q.get("poll") || 2000);
const [hideFrom, hideTo] = (q.get("hide") || "").split(",").map(Number);
if (hideTo) {
  setTimeout(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    window.__hiddenAt = Date.now();
    document.dispatchEvent(new Event("visibilitychange"));
  }, hideFrom);
  setTimeout(() => {
    delete document.hidden;
    window.__shownAt = Date.now();
    document.dispatchEvent(new Event("visibilitychange"));
  }, hideTo);
}
if (q.get("client") === "naive") {
  const timer = setInterval(async () => {
    const r = await fetch(cfg.statusUrl, { headers: { Authorization: `Bearer ${cfg.token}` } });
    const s = await r.json();
    if (s && ["approved", "rejected", "cancelled", "expired", "abandoned"].includes(s.status)) {
      clearInterval(timer);
      window.__doneAt = Date.now();
    }
  }, poll);
} else {
  await init();
  const el = document.getElementById("kyc");
  el.addEventListener("gu1kyc:complete", () => (window.__doneAt = Date.now()));
  mount({ container: el, statusUrl: cfg.statusUrl, token: cfg.token, sessionUrl: cfg.sessionUrl, pollIntervalMs: poll, waitSeconds: Number(q.get("wait") || 25) });
}
