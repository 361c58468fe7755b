// The views' look, for the end-to-end views test in three engines (and screenshots): mounts the
// modal (`?mode=modal`, the default) or the window-mode panel (`?mode=window`) with no page
// styles, under the demo's strict CSP, and publishes in window.__views what the test measures:
// the viewport, the view's box, its scroll width against its width, computed styles, the hooks,
// and every CSP violation. `?override=1` adds the page's own stylesheet on the hooks first.
import init, { mount } from "/pkg/gu1_kyc_web.js";

const q = new URLSearchParams(location.search);
const violations = [];
document.addEventListener("securitypolicyviolation", (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));

const box = (e) => {
  const r = e.getBoundingClientRect();
  return { left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height };
};

try {
  if (q.get("override")) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = "/views-override.css";
    await new Promise((r) => ((link.onload = r), document.head.appendChild(link)));
  }
  await init();
  const s = await (await fetch("/demo/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })).json();
  const el = document.getElementById("kyc");
  mount({ container: el, statusUrl: "/kyc/status", token: s.token, sessionUrl: s.sessionUrl, mode: q.get("mode") || "modal" });
  const view = el.querySelector("[data-gu1-kyc=dialog], [data-gu1-kyc=panel]");
  const button = el.querySelector("[data-gu1-kyc=close], [data-gu1-kyc=button]");
  const iframe = el.querySelector("iframe");
  // Let the iframe load and the layout settle.
  await new Promise((r) => setTimeout(r, 500));
  const cs = getComputedStyle(view);
  const bs = getComputedStyle(button);
  window.__views = {
    vw: document.documentElement.clientWidth,
    vh: innerHeight,
    pageScrollW: document.documentElement.scrollWidth,
    view: box(view),
    scrollW: view.scrollWidth,
    clientW: view.clientWidth,
    open: view.localName === "dialog" ? view.open && view.matches(":modal") : null,
    radius: cs.borderTopLeftRadius,
    padding: cs.paddingTop,
    buttonBg: bs.backgroundColor,
    buttonColor: bs.color,
    buttonRadius: bs.borderTopLeftRadius,
    iframe: iframe ? box(iframe) : null,
    hooks: [...el.querySelectorAll("[data-gu1-kyc]")].map((e) => `${e.localName}=${e.getAttribute("data-gu1-kyc")}`),
    violations,
  };
} catch (e) {
  window.__views = { error: String(e && e.message), violations };
}
