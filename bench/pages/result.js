// Time-to-result page logic: records when gu1kyc:complete fires (epoch ms) and the timestamp of
// the hosted page's status_updated message (posted right after its decision). ?wait=0 turns the
// blocking requests off (polling only).
import init, { mount } from "/pkg/gu1_kyc_web.js";
const cfg = JSON.parse(document.getElementById("cfg").textContent);
const q = new URLSearchParams(location.search);
window.addEventListener("message", (e) => {
  const t = e.data && e.data.type;
  if (t === "didit:status_updated" && !window.__decidedAt) window.__decidedAt = e.data.timestamp;
});
await init();
const el = document.getElementById("kyc");
el.addEventListener("gu1kyc:ready", () => (window.__readyAt = Date.now()));
el.addEventListener("gu1kyc:complete", () => (window.__doneAt = Date.now()));
mount({ container: el, statusUrl: cfg.statusUrl, token: cfg.token, sessionUrl: cfg.sessionUrl + (q.get("hosted") || ""), pollIntervalMs: Number(q.get("poll") || 2000), waitSeconds: Number(q.get("wait") || 25) });
