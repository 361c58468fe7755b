// Time from a hosted page's message to the page's gu1kyc:step event. The hosted page posts its
// whole vocabulary once (?vocab=1, 16 messages, each stamped with Date.now() when posted). This
// page's own message listener, added before mount() adds the library's, sees each message first;
// its gu1kyc:step listener sees each event. window.__steps: both lists, for run.mjs to pair.
import init, { mount } from "/pkg/gu1_kyc_web.js";
const cfg = JSON.parse(document.getElementById("cfg").textContent);
const hosted = new URL(cfg.sessionUrl).origin;
const now = () => performance.timeOrigin + performance.now();
const seen = { messages: [], steps: [] };
window.__steps = seen;
addEventListener("message", (e) => {
  const d = e.data;
  if (e.origin !== hosted || !d || typeof d.type !== "string" || d.type === "didit:layout") return;
  seen.messages.push({ type: d.type, posted: d.timestamp, at: now() });
});
await init();
const el = document.getElementById("kyc");
el.addEventListener("gu1kyc:step", (e) => seen.steps.push({ name: e.detail.name, seq: e.detail.seq, at: now() }));
mount({ container: el, statusUrl: cfg.statusUrl, token: cfg.token, sessionUrl: `${cfg.sessionUrl}?vocab=1&delay=300`, pollIntervalMs: 60000 });
