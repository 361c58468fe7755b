// A fresh Vite app: the package from npm, the verification the simulator's hosted page approves.
import init, { mount } from "gu1-kyc-web";

const s = await (await fetch("/session")).json();
await init();
const v = mount({ container: "#kyc", statusUrl: s.statusUrl, token: s.token, sessionUrl: `${s.sessionUrl}?auto=approve&delay=300`, pollIntervalMs: 300 });
const r = await v.completed;
window.__result = { status: r.status, iframes: document.querySelectorAll("iframe").length };
