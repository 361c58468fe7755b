// Used by the end-to-end pre-flight test: preflight() on this page, published in window.__result
// and, when the page is framed, posted to the parent (framed-check.html).
import init, { preflight } from "/pkg/gu1_kyc_web.js";

let result;
try {
  await init();
  result = await preflight({ sessionUrl: "https://hosted.example/session/check" });
} catch (e) {
  result = { error: String(e && e.message) };
}
result.framed = self !== top;
window.__result = result;
document.getElementById("out").textContent = JSON.stringify(result, null, 2);
if (result.framed) parent.postMessage({ preflight: result }, "*");
