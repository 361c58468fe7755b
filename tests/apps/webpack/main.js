// A fresh webpack 5 app: the package from npm (webpack emits the wasm as an asset from the glue's
// `new URL(..., import.meta.url)`), the verification the simulator's hosted page approves.
import init, { mount } from "gu1-kyc-web";

async function main() {
  const s = await (await fetch("/session")).json();
  await init();
  const v = mount({ container: document.getElementById("kyc"), statusUrl: s.statusUrl, token: s.token, sessionUrl: `${s.sessionUrl}?auto=approve&delay=300`, pollIntervalMs: 300 });
  const r = await v.completed;
  window.__result = { status: r.status, iframes: document.querySelectorAll("iframe").length };
}
main().catch((e) => (window.__result = { error: String(e && e.message) }));
