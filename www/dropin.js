// The drop-in page's own code: reads the <gu1-kyc> element's events into the UI (the funnel
// from gu1kyc:step). "Start over" cancels the session and reloads, so the server renders the
// page with a new session.
import { bindUi } from "/ui.js";

const el = document.getElementById("kyc");
const params = new URLSearchParams(location.search);
const ui = bindUi(el, {
  restart: async () => {
    if (el.verification) await el.cancel().catch(() => {});
    params.set("n", String(Date.now()));
    location.assign("/?" + params.toString());
  },
});
el.addEventListener("gu1kyc:step", (e) => ui.step(e.detail));
