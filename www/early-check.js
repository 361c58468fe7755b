// Used by the end-to-end suite: creates a <gu1-kyc> with a session-url, the way a server-rendered
// page would, and records every gu1kyc:* event in window.__events. `?unsafe=1` gives it a URL the
// library must refuse; `?server=1` puts a marked iframe the loader did not place inside it.
const s = await (await fetch("/demo/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })).json();
const query = new URLSearchParams(location.search);
const unsafe = query.has("unsafe");
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
if (query.has("server")) {
  const f = document.createElement("iframe");
  f.setAttribute("allow", "camera; microphone; fullscreen; autoplay; encrypted-media");
  f.setAttribute("referrerpolicy", "strict-origin-when-cross-origin");
  f.setAttribute("data-gu1-kyc", "");
  f.src = s.sessionUrl;
  f.__server = true;
  el.appendChild(f);
}
document.getElementById("slot").appendChild(el);
window.__sessionUrl = unsafe ? null : s.sessionUrl;
