// Used by the end-to-end suite (Chromium started with --expose-gc): a page that mounts and
// destroys verifications and drops them must get every handle collected, so the Rust side is
// freed by wasm-bindgen's finalizer and WebAssembly memory stays flat. Publishes window.__gc.
import init, { mount } from "/pkg/gu1_kyc_web.js";

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const counts = { destroyed: 0, completed: 0 };
const registry = new FinalizationRegistry((kind) => counts[kind]++);

const wasm = await init();
const s = await (await fetch("/demo/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })).json();
const options = { container: "#kyc", statusUrl: "/kyc/status", token: s.token, sessionUrl: s.sessionUrl };
const collect = async () => {
  for (let i = 0; i < 4; i++) {
    window.gc();
    await tick(50);
  }
};
function cycle() {
  const v = mount(options);
  registry.register(v, "destroyed");
  v.completed.catch(() => {});
  v.destroy();
}
for (let i = 0; i < 100; i++) cycle();
await collect();
const warm = wasm.memory.buffer.byteLength;
for (let round = 0; round < 9; round++) {
  for (let i = 0; i < 100; i++) cycle();
  await collect();
}
window.__gc = { finalized: counts.destroyed, of: 1000, wasmWarm: warm, wasmAfter: wasm.memory.buffer.byteLength };
document.getElementById("out").textContent = JSON.stringify(window.__gc);
