// The drop-in page's own code: reads the <gu1-kyc> element's events into the UI. "Start over"
// cancels the session and reloads, so the server renders the page with a new session.
import { bindUi } from "/ui.js";

const el = document.getElementById("kyc");
const params = new URLSearchParams(location.search);
bindUi(el, {
  restart: async () => {
    if (el.verification) await el.cancel().catch(() => {});
    params.set("n", String(Date.now()));
    location.assign("/?" + params.toString());
  },
});
