// What a bundler emits for `import init, { mount } from "gu1-kyc-web"`: the glue module and
// the wasm beside it.
import init, { mount } from "/pkg/gu1_kyc_web.js";
const cfg = JSON.parse(document.getElementById("cfg").textContent);
await init();
window.__v = mount({ container: "#kyc", ...cfg, pollIntervalMs: Number(new URLSearchParams(location.search).get("poll") || 2000) });
