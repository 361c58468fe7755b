// Used by the end-to-end test of the simulated hosted page (tests/e2e/hosted.test.mjs): starts a
// session as the demo does, frames its hosted page with the query given in `?hosted=`, and keeps
// every message the frame posts, as received, in window.__msgs (window.__session: the session).
const q = new URLSearchParams(location.search);
const frame = document.getElementById("frame");
const out = document.getElementById("out");
window.__msgs = [];
addEventListener("message", (e) => {
  if (e.source !== frame.contentWindow) return;
  window.__msgs.push({ origin: e.origin, data: e.data, at: performance.now() });
  const li = document.createElement("li");
  li.textContent = typeof e.data === "string" ? e.data.slice(0, 120) : String(e.data && e.data.type);
  out.appendChild(li);
});
frame.addEventListener("load", () => (window.__loaded = (window.__loaded || 0) + 1));
const r = await fetch("/demo/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
window.__session = await r.json();
frame.src = window.__session.sessionUrl + (q.get("hosted") || "");
