// Used by the end-to-end suite: creates a <gu1-kyc> with a session-url, the way a server-rendered
// page would, and records every gu1kyc:* event in window.__events. `?unsafe=1` gives it a URL the
// library must refuse.
const s = await (await fetch("/demo/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })).json();
const unsafe = new URLSearchParams(location.search).has("unsafe");
window.__events = [];
const el = document.createElement("gu1-kyc");
for (const t of ["gu1kyc:mounted", "gu1kyc:ready", "gu1kyc:status", "gu1kyc:complete", "gu1kyc:error"]) {
  el.addEventListener(t, (e) => window.__events.push({ type: t, code: e.detail && e.detail.code, status: e.detail && e.detail.status }));
}
el.setAttribute("status-url", "/kyc/status");
el.setAttribute("poll-interval-ms", "500");
el.setAttribute("height", "360px");
el.setAttribute("session-url", unsafe ? "http://203.0.113.9/session/x" : s.sessionUrl);
el.setAttribute("token", s.token);
document.getElementById("slot").appendChild(el);
window.__sessionUrl = unsafe ? null : s.sessionUrl;
