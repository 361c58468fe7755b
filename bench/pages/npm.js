// The npm import as an application ships it: this module and the package's glue bundled into one
// file by esbuild (run.mjs serves the bundle as /npm.js), the wasm fetched beside it.
import init, { mount } from "../../pkg/gu1_kyc_web.js";
const cfg = JSON.parse(document.getElementById("cfg").textContent);
await init({ module_or_path: "/pkg/gu1_kyc_web_bg.wasm" });
window.__v = mount({ container: "#kyc", ...cfg, pollIntervalMs: Number(new URLSearchParams(location.search).get("poll") || 2000) });
